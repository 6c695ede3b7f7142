//! `xx image create --with-deps`: the shared-library closure of a platform's dynamic ELF
//! files, taken from the target's sysroot, so a minimal image runs without hand-written
//! `COPY /usr/lib/<triple>/libz*` lines.
//!
//! The sysroot is the one qemu-user reads for the target (`/` when the target's loader
//! is installed there by multiarch packages, else Debian's `/usr/<triple>` from the
//! `-cross` packages): never a mix, for the reason `cc::Target::qemu_root` gives. In the
//! image the loader goes where PT_INTERP says and libraries into `/lib/<multiarch>`,
//! a directory every glibc loader of a Debian-style build searches.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};

use crate::context::Context;
use crate::env_vars as ev;
use crate::verify::inspect::{inspect_file, Facts};

/// Files to add: path inside the layer (relative) → file on this machine.
pub type Extra = BTreeMap<PathBuf, PathBuf>;

/// The closure for the ELF files among `files` (layer path, host path).
pub fn closure(ctx: &Context, platform: &str, files: &[(PathBuf, PathBuf)]) -> Result<Extra> {
    if files.is_empty() {
        bail!("--with-deps {platform}: the input has no files to look at");
    }
    let mut ctx = ctx.clone_vars();
    ctx.set_var(ev::TARGETPAIR, "");
    ctx.set_var(ev::TARGETPLATFORM, platform);
    let target = crate::cc::Target::new(&ctx, None)?;
    let root = target.qemu_root(&ctx);
    let multiarch = target.multiarch().to_string();
    let search: Vec<PathBuf> = if root == Path::new("/") {
        [
            format!("/lib/{multiarch}"),
            format!("/usr/lib/{multiarch}"),
            "/lib".into(),
            "/usr/lib".into(),
        ]
        .iter()
        .map(PathBuf::from)
        .collect()
    } else {
        vec![root.join("lib"), root.join("lib64"), root.join("usr/lib")]
    };
    let in_layer: BTreeSet<&Path> = files.iter().map(|(inside, _)| inside.as_path()).collect();
    let mut extra = Extra::new();
    let mut queue: VecDeque<(PathBuf, PathBuf)> = files.iter().cloned().collect();
    let mut provided: BTreeSet<String> = BTreeSet::new();
    while let Some((inside, host)) = queue.pop_front() {
        let Some(facts) = elf_facts(&host) else {
            continue;
        };
        if let Some(interp) = &facts.interpreter {
            let at = library_path(interp).ok_or_else(|| {
                anyhow!(
                    "--with-deps {platform}: /{} names the interpreter {interp:?}, not a loader under /lib or /usr/lib: refusing it",
                    inside.display()
                )
            })?;
            let name = file_name(interp);
            provided.insert(name.clone());
            if !in_layer.contains(at.as_path()) && !extra.contains_key(&at) {
                let found = root.join(&at);
                let found = if found.is_file() {
                    found
                        .canonicalize()
                        .with_context(|| format!("cannot read {}", found.display()))?
                } else {
                    find(&search, &name)
                        .ok_or_else(|| missing(platform, &inside, interp, &search))?
                };
                check_inside(&root, &found, platform, interp)?;
                extra.insert(at.clone(), found.clone());
                queue.push_back((at, found));
            }
        }
        for lib in &facts.needed {
            if provided.contains(lib) || in_runpath(&facts, &inside, lib, &in_layer) {
                continue;
            }
            // A path (linked without a SONAME) is loaded from exactly there.
            if lib.contains('/') {
                if in_layer.contains(Path::new(lib.trim_start_matches('/'))) {
                    continue;
                }
                return Err(missing(platform, &inside, lib, &search));
            }
            if lib.is_empty() || lib == "." || lib == ".." {
                bail!(
                    "--with-deps {platform}: /{} needs a library named {lib:?}: refusing it",
                    inside.display()
                );
            }
            let found =
                find(&search, lib).ok_or_else(|| missing(platform, &inside, lib, &search))?;
            check_inside(&root, &found, platform, lib)?;
            let at = PathBuf::from(format!("lib/{multiarch}/{lib}"));
            provided.insert(lib.clone());
            extra.insert(at.clone(), found.clone());
            queue.push_back((at, found));
        }
    }
    Ok(extra)
}

/// An interpreter path as the relative path of a library in the layer: absolute, plain
/// components only (no `.` or `..`), under a library directory (`/lib*`, `/usr/lib*`).
/// None for anything else (`/etc/shadow`, `/lib/../etc/shadow`, `lib/ld.so`).
fn library_path(interp: &str) -> Option<PathBuf> {
    let rest = interp.strip_prefix('/')?;
    let parts: Vec<&str> = rest.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return None;
    }
    is_library_dir(&parts[..parts.len().saturating_sub(1)]).then(|| PathBuf::from(rest))
}

/// `lib…/…` or `usr/lib…/…`: where loaders and shared libraries live.
fn is_library_dir(dirs: &[&str]) -> bool {
    match dirs {
        [first, ..] if first.starts_with("lib") => true,
        ["usr", second, ..] => second.starts_with("lib"),
        _ => false,
    }
}

/// A file taken from the sysroot (links resolved) must still be a library there: a
/// link planted in the sysroot cannot pull `/etc/shadow` into the layer.
fn check_inside(root: &Path, found: &Path, platform: &str, what: &str) -> Result<()> {
    let inside = found.strip_prefix(root).ok().and_then(|rel| {
        let parts: Vec<&str> = rel.iter().filter_map(|c| c.to_str()).collect();
        parts.split_last().map(|(_, dirs)| is_library_dir(dirs))
    });
    if inside != Some(true) {
        bail!(
            "--with-deps {platform}: {what} resolves to {}, outside the sysroot's library directories: refusing it",
            found.display()
        );
    }
    Ok(())
}

/// Facts of a dynamic ELF file; None for anything else (scripts, data, static binaries).
fn elf_facts(host: &Path) -> Option<Facts> {
    let file = crate::fsutil::open_regular(host).ok()?;
    let facts = inspect_file(&file).ok()?;
    (!facts.is_static).then_some(facts)
}

/// A library the input itself carries where its RUNPATH points (`$ORIGIN/../lib`…).
fn in_runpath(facts: &Facts, inside: &Path, lib: &str, in_layer: &BTreeSet<&Path>) -> bool {
    let origin = inside.parent().unwrap_or(Path::new(""));
    facts.runpath.iter().any(|dir| {
        let dir = match dir
            .strip_prefix("$ORIGIN")
            .or_else(|| dir.strip_prefix("${ORIGIN}"))
        {
            Some(rest) => origin.join(rest.trim_start_matches('/')),
            None => PathBuf::from(dir.trim_start_matches('/')),
        };
        in_layer.contains(normalize(&dir.join(lib)).as_path())
    })
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

fn find(search: &[PathBuf], name: &str) -> Option<PathBuf> {
    search
        .iter()
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
}

fn file_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

fn missing(platform: &str, inside: &Path, lib: &str, search: &[PathBuf]) -> anyhow::Error {
    let dirs: Vec<String> = search.iter().map(|d| d.display().to_string()).collect();
    anyhow!(
        "--with-deps {platform}: /{} needs {lib}, found in none of {}; install it for the target \
         (TARGETPLATFORM={platform} xx-apt install <its package>) or put it in the input",
        inside.display(),
        dirs.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreters_must_be_loader_paths() {
        for good in [
            "/lib/ld-linux-aarch64.so.1",
            "/lib64/ld-linux-x86-64.so.2",
            "/usr/lib/ld.so",
            "/lib/aarch64-linux-gnu/ld.so",
        ] {
            assert!(library_path(good).is_some(), "{good}");
        }
        for bad in [
            "/etc/shadow",
            "/../../../../etc/shadow",
            "/lib/../etc/shadow",
            "lib/ld.so",
            "/lib//ld.so",
            "/ld.so",
            "/lib/./ld.so",
            "/usr/bin/ld.so",
        ] {
            assert!(library_path(bad).is_none(), "{bad}");
        }
    }
}
