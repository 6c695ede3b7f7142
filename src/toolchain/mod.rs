//! Managed toolchains: trees assembled from Debian/Ubuntu archives by the sysroot
//! machinery (same verification, cache, lock and atomic swap), under `XX_HOME`'s
//! `toolchains/<name>/<debian arch>`, and the lookup that lets xx use them when PATH has
//! no such program.

pub mod command;
pub mod home;
pub mod manifest;
pub mod rust_std;

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::context::Context;
use crate::platform::{Platform, Resolved};
use crate::sysroot::{self, Request};
use home::Home;
use manifest::{ArchOf, Manifest};

/// Where wrappers for programs that need `Library-Path` go, inside the tree.
const WRAPPERS: &str = ".xx/wrap";

/// The tree of `m` for `target`.
pub fn dir(ctx: &Context, m: &Manifest, target: &Resolved) -> Result<PathBuf> {
    Ok(Home::of(ctx)?
        .data
        .join("toolchains")
        .join(&m.name)
        .join(&target.deb))
}

/// The platform a manifest is installed for: the build machine's, or the one asked.
pub fn platform_for(ctx: &Context, m: &Manifest, asked: Option<Platform>) -> Result<Platform> {
    match (m.arch, asked) {
        (ArchOf::Target, Some(p)) => Ok(p),
        (ArchOf::Target, None) => bail!(
            "{} is built per target\nhelp: xx toolchain install {} --platform OS/ARCH",
            m.name,
            m.name
        ),
        (ArchOf::Build, _) => Platform::host(ctx).ok_or_else(|| {
            anyhow::anyhow!(
                "this machine's architecture is not in xx's table; {} cannot be installed",
                m.name
            )
        }),
    }
}

/// Installs (or brings up to date) `m`; returns its tree.
pub fn install(ctx: &Context, m: &Manifest, platform: Platform) -> Result<PathBuf> {
    let target = sysroot::target_of(ctx, &platform)?;
    let tree = dir(ctx, m, &target)?;
    let mut req = Request::essentials(platform);
    req.essentials = false;
    req.packages = m.packages.clone();
    if !m.host_match.is_empty() {
        req.packages.push(host_match(m)?);
    }
    req.leave_out = m.leave_out.clone();
    req.dir = Some(tree.clone());
    let out = sysroot::ensure(ctx, &req)?;
    if !m.library_path.is_empty() {
        write_wrappers(m, &out.path, target.multiarch())?;
    }
    Ok(out.path)
}

/// `NAME=VERSION` of the first `Host-Match` package the build machine has installed.
fn host_match(m: &Manifest) -> Result<String> {
    for name in &m.host_match {
        let out = std::process::Command::new("dpkg-query")
            .args(["-W", "-f=${Version}\n", name])
            .output();
        // One line per installed arch of the package (multiarch): the versions agree.
        let version = out
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .map(str::to_string)
            })
            .filter(|v| !v.is_empty());
        if let Some(version) = version {
            return Ok(format!("{name}={version}"));
        }
    }
    bail!(
        "{}: the build machine has none of {} installed (the version must match its rustc)\n\
         help: apt-get install rustc-web cargo-web (Debian 12) or rustc cargo",
        m.name,
        m.host_match.join(", ")
    )
}

/// A program of an installed build-machine toolchain (its wrapper if it needs one).
pub fn installed_tool(ctx: &Context, name: &str) -> Option<PathBuf> {
    let host = Resolved::for_platform(ctx, &Platform::host(ctx)?.to_string());
    manifest::all()
        .iter()
        .filter(|m| m.arch == ArchOf::Build)
        .find_map(|m| {
            let tree = dir(ctx, m, &host).ok()?;
            let wrapped = tree.join(WRAPPERS).join(name);
            if wrapped.is_file() {
                return Some(wrapped);
            }
            m.bin
                .iter()
                .map(|b| tree.join(b).join(name))
                .find(|p| is_executable(p))
        })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `Library-Path` entries inside `tree`: `{multiarch}` filled in, one `*` expanded.
fn library_dirs(m: &Manifest, tree: &Path, multiarch: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in &m.library_path {
        let entry = entry.replace("{multiarch}", multiarch);
        match entry.split_once('*') {
            None => out.push(entry),
            Some((head, tail)) => {
                let (parent, stem) = head.rsplit_once('/').unwrap_or(("", head));
                let mut names: Vec<String> = std::fs::read_dir(tree.join(parent))
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n.starts_with(stem))
                    .collect();
                names.sort();
                out.extend(names.iter().map(|n| format!("{parent}/{n}{tail}")));
            }
        }
    }
    out
}

/// A shell wrapper per program in `Bin`, setting LD_LIBRARY_PATH from its own place
/// (the tree can move), then exec'ing the program.
fn write_wrappers(m: &Manifest, tree: &Path, multiarch: &str) -> Result<()> {
    let libs: Vec<String> = library_dirs(m, tree, multiarch)
        .iter()
        .map(|d| format!("$root/{d}"))
        .collect();
    let wrappers = tree.join(WRAPPERS);
    std::fs::create_dir_all(&wrappers)?;
    for bin in &m.bin {
        let Ok(entries) = std::fs::read_dir(tree.join(bin)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if !is_executable(&entry.path()) {
                continue;
            }
            let script = format!(
                "#!/bin/sh\n\
                 # Written by xx toolchain install {}: the tree's libraries first.\n\
                 root=$(cd \"${{0%/*}}/../..\" && pwd -P) || exit 1\n\
                 LD_LIBRARY_PATH=\"{}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}\" exec \"$root/{bin}/{name}\" \"$@\"\n",
                m.name,
                libs.join(":")
            );
            let path = wrappers.join(&name);
            crate::fsutil::write_atomic(&path, script.as_bytes())?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(())
}
