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
    let workspace = cargo_workspace(ctx, args)?;
    let dir = cargo_out_dir(args, target, &workspace.target_directory)?;
    let wanted: Vec<String> = match values_of(args, "--bin") {
        bins if !bins.is_empty() => bins,
        _ => workspace.bins(),
    };
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
        // The workspace's binaries only: an executable of another (stale) target stays.
        let name = entry.file_name().to_string_lossy().into_owned();
        if !wanted.contains(&name) {
            continue;
        }
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

/// What `cargo metadata` says of the workspace: where it builds (CARGO_TARGET_DIR,
/// build.target-dir and the workspace root counted) and its binary targets.
#[derive(serde::Deserialize)]
struct Workspace {
    target_directory: PathBuf,
    packages: Vec<Package>,
}

#[derive(serde::Deserialize)]
struct Package {
    targets: Vec<CargoTarget>,
}

#[derive(serde::Deserialize)]
struct CargoTarget {
    name: String,
    kind: Vec<String>,
}

impl Workspace {
    fn bins(&self) -> Vec<String> {
        self.packages
            .iter()
            .flat_map(|p| &p.targets)
            .filter(|t| t.kind.iter().any(|k| k == "bin"))
            .map(|t| t.name.clone())
            .collect()
    }
}

fn cargo_workspace(ctx: &Context, args: &[String]) -> Result<Workspace> {
    let cargo = crate::cc::find_tool(ctx, "cargo").unwrap_or_else(|| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args([
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--offline",
    ]);
    if let Some(manifest) = value_of(args, "--manifest-path") {
        cmd.args(["--manifest-path", &manifest]);
    }
    let out = crate::proc::run_captured(&mut cmd)?;
    serde_json::from_slice(&out.stdout).context("cannot read cargo metadata's answer")
}

/// `FLAG VALUE` or `FLAG=VALUE` before `--`, the last one given.
fn value_of(args: &[String], flag: &str) -> Option<String> {
    values_of(args, flag).pop()
}

fn values_of(args: &[String], flag: &str) -> Vec<String> {
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let prefix = format!("{flag}=");
    let mut out = Vec::new();
    let mut iter = args[..end].iter();
    while let Some(a) = iter.next() {
        if a == flag {
            out.extend(iter.next().cloned());
        } else if let Some(v) = a.strip_prefix(&prefix) {
            out.push(v.to_string());
        }
    }
    out
}

/// `<target dir>/<rust triple>/<profile dir>`: `--target-dir` over cargo metadata's
/// answer, the profile from `--release`/`-r`/`--profile`.
fn cargo_out_dir(args: &[String], target: &Resolved, target_directory: &Path) -> Result<PathBuf> {
    let base = value_of(args, "--target-dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_directory.to_path_buf());
    let profile = match value_of(args, "--profile") {
        Some(p) if p == "dev" || p == "test" => "debug".to_string(),
        Some(p) if p == "bench" => "release".to_string(),
        Some(p) => p,
        None if args
            .iter()
            .take_while(|a| *a != "--")
            .any(|a| a == "--release" || a == "-r") =>
        {
            "release".into()
        }
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
    let mut names = std::collections::HashSet::new();
    for path in &verified.paths {
        let name = path
            .file_name()
            .ok_or_else(|| anyhow!("artifact {} has no name", path.display()))?;
        if !names.insert(name) {
            bail!(
                "two artifacts are named {} in the image: give them different names, or one \
                 --artifact for their directory",
                name.to_string_lossy()
            );
        }
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
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        // Never onto a path already staged: a copy would write through its link into
        // the user's own file.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("{} is staged twice", to.display())
        }
        Err(_) => copy_new(from, to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display())),
    }
}

/// A copy into a file that must not exist yet (another filesystem: no hard link).
fn copy_new(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut src = crate::fsutil::open_regular(from)?;
    let mode = src.metadata()?.permissions();
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(to)?;
    std::io::copy(&mut src, &mut dst)?;
    dst.set_permissions(mode)
}
