//! A platform's outputs: `--artifact` templates filled in for it (or, for the cargo
//! shorthand, the executables cargo left in its target directory), each file checked
//! with xx-verify's rules, and staged as one tree for the image layer.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};

use crate::context::Context;
use crate::platform::Resolved;
use crate::verify::Check;

/// What one platform produced, verified.
pub struct Verified {
    pub paths: Vec<PathBuf>,
    pub bytes: u64,
    /// The newest glibc symbol version any of them needs.
    pub glibc: Option<(u32, u32)>,
}

/// `template` for `target`: `{os}`, `{arch}`, `{variant}`, `{platform}` (slashes as
/// `-`), `{triple}` (xx-info triple).
pub fn fill(template: &str, target: &Resolved) -> String {
    template
        .replace("{os}", &target.os)
        .replace("{arch}", &target.arch)
        .replace("{variant}", &target.variant)
        .replace("{platform}", &slug(target))
        .replace("{triple}", &target.triple)
}

/// `linux-arm-v7`: the platform as one path component (log names, `{platform}`).
pub fn slug(target: &Resolved) -> String {
    target.platform().replace('/', "-")
}

/// The artifacts of `target`: the filled templates, or with none given and cargo the
/// build, the executables directly in cargo's output directory for the target.
pub fn locate(
    ctx: &Context,
    templates: &[String],
    target: &Resolved,
    cargo_args: Option<&[String]>,
) -> Result<Vec<PathBuf>> {
    if !templates.is_empty() {
        return Ok(templates
            .iter()
            .map(|t| PathBuf::from(fill(t, target)))
            .collect());
    }
    let Some(args) = cargo_args else {
        return Ok(Vec::new());
    };
    let dir = cargo_out_dir(ctx, args, target)?;
    let mut found = Vec::new();
    let entries = std::fs::read_dir(&dir).with_context(|| {
        format!(
            "cargo left no {} (name the outputs with --artifact)",
            dir.display()
        )
    })?;
    for entry in entries.flatten() {
        use std::os::unix::fs::PermissionsExt as _;
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
            found.push(entry.path());
        }
    }
    found.sort();
    if found.is_empty() {
        bail!(
            "cargo built no executable in {} (name the outputs with --artifact)",
            dir.display()
        );
    }
    Ok(found)
}

/// `target/<rust triple>/<profile dir>`: CARGO_TARGET_DIR or `--target-dir`, the
/// profile from `--release`/`-r`/`--profile`.
fn cargo_out_dir(ctx: &Context, args: &[String], target: &Resolved) -> Result<PathBuf> {
    let value_of = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
            .or_else(|| {
                args.iter()
                    .find_map(|a| a.strip_prefix(&format!("{flag}=")).map(str::to_string))
            })
    };
    let base = value_of("--target-dir")
        .or_else(|| ctx.var("CARGO_TARGET_DIR").map(str::to_string))
        .unwrap_or_else(|| "target".into());
    let profile = match value_of("--profile") {
        Some(p) if p == "dev" || p == "test" => "debug".to_string(),
        Some(p) if p == "bench" => "release".to_string(),
        Some(p) => p,
        None if args.iter().any(|a| a == "--release" || a == "-r") => "release".into(),
        None => "debug".into(),
    };
    let triple = crate::cargo::rust_triple(target)
        .ok_or_else(|| anyhow!("Rust has no target for {}", target.platform()))?;
    Ok(Path::new(&base).join(triple).join(profile))
}

/// Every artifact checked for `target`: a file as xx-verify checks it, a directory's
/// ELF, Mach-O and PE files likewise (its other files are data).
pub fn verify(paths: Vec<PathBuf>, target: &Resolved, check: Check) -> Result<Verified> {
    let mut out = Verified {
        paths: Vec::new(),
        bytes: 0,
        glibc: None,
    };
    for path in paths {
        let meta =
            std::fs::metadata(&path).map_err(|e| anyhow!("artifact {}: {e}", path.display()))?;
        let files = if meta.is_dir() {
            binaries_under(&path)?
        } else {
            vec![path.clone()]
        };
        for file in files {
            let glibc = crate::verify::verify_file(target, check, &file.display().to_string())
                .map_err(|msg| anyhow!("{msg}"))?;
            out.glibc = out.glibc.max(glibc);
        }
        out.bytes += size_of(&path)?;
        out.paths.push(path);
    }
    Ok(out)
}

fn binaries_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).with_context(|| format!("cannot read {}", d.display()))?;
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() && looks_executable(&entry.path()) {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// ELF, Mach-O or PE by their first bytes.
fn looks_executable(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    if std::io::Read::read_exact(&mut f, &mut magic).is_err() {
        return false;
    }
    magic == *b"\x7fELF"
        || magic[..2] == *b"MZ"
        || matches!(
            u32::from_le_bytes(magic),
            0xfeed_face | 0xfeed_facf | 0xcefa_edfe | 0xcffa_edfe
        )
}

fn size_of(path: &Path) -> Result<u64> {
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_dir() {
        return Ok(meta.len());
    }
    let mut total = 0;
    for entry in std::fs::read_dir(path)?.flatten() {
        total += size_of(&entry.path())?;
    }
    Ok(total)
}

/// The one tree a platform's layer is made of: a single artifact as it is (a directory
/// gives its contents, a file lands at `/NAME`), several hard-linked (or copied) under
/// `stage` by their names.
pub fn stage(verified: &Verified, stage: &Path) -> Result<PathBuf> {
    if let [only] = verified.paths.as_slice() {
        return Ok(only.clone());
    }
    std::fs::create_dir_all(stage).with_context(|| format!("cannot create {}", stage.display()))?;
    for path in &verified.paths {
        let name = path
            .file_name()
            .ok_or_else(|| anyhow!("artifact {} has no name", path.display()))?;
        copy_tree(path, &stage.join(name))?;
    }
    Ok(stage.to_path_buf())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(from)
        .with_context(|| format!("cannot read {}", from.display()))?;
    if meta.is_dir() {
        std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
        for entry in std::fs::read_dir(from)?.flatten() {
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        return Ok(());
    }
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(from)?;
        return std::os::unix::fs::symlink(target, to)
            .with_context(|| format!("cannot link {}", to.display()));
    }
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}
