//! The managed sysroot as compilers and runners see it: used when the machine has no
//! libc for the target (neither multiarch `libc6-dev:<arch>` nor Debian's `-cross`
//! packages), built on first use unless `XX_NO_DOWNLOAD=1`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::{default_dir, ensure, Request, STAMP};
use crate::context::Context;
use crate::env_vars as ev;
use crate::platform::{Platform, Resolved};

/// Whether a Debian sysroot could serve this target at all (linux, glibc, cross).
fn applies(ctx: &Context, target: &Resolved) -> bool {
    target.os == "linux"
        && target.libc == "gnu"
        && target.target.is_some()
        && target.is_cross(&ctx.host_march())
}

/// The target's C library as the machine's compilers find it: multiarch or `-cross`.
/// Real paths, never `XX_HOST_ROOT`: this is about the files clang will read.
pub fn host_has_libc(target: &Resolved) -> bool {
    [
        format!("/usr/lib/{}/libc.so", target.multiarch()),
        format!("/usr/{}/lib/libc.so", target.gnu_triple),
    ]
    .iter()
    .any(|p| Path::new(p).exists())
}

/// The managed sysroot for the target if one has been built.
pub fn existing(ctx: &Context, target: &Resolved) -> Option<PathBuf> {
    if !applies(ctx, target) {
        return None;
    }
    let dir = default_dir(ctx, target).ok()?;
    dir.join(STAMP).is_file().then_some(dir)
}

/// The sysroot compilers should use: None when the machine has the target's libc (or
/// no Debian sysroot applies); else the managed one, built now if missing.
pub fn for_compilers(ctx: &Context, target: &Resolved, who: &str) -> Result<Option<PathBuf>> {
    if !applies(ctx, target) || host_has_libc(target) {
        return Ok(None);
    }
    if let Some(dir) = existing(ctx, target) {
        return Ok(Some(dir));
    }
    let platform = target.platform();
    if ctx.var(ev::XX_NO_DOWNLOAD) == Some("1") {
        bail!(
            "{who}: no {platform} libc on this machine, and XX_NO_DOWNLOAD=1 forbids fetching a sysroot\n\
             help: xx sysroot --platform {platform}"
        );
    }
    let dir = default_dir(ctx, target)?;
    crate::progress::note(&format!(
        "{who}: no {platform} libc on this machine; building a sysroot in {} (once)",
        dir.display()
    ));
    let was_quiet = crate::progress::is_quiet();
    crate::progress::set_quiet(true);
    let built = Platform::parse_flag(&platform).and_then(|p| ensure(ctx, &Request::essentials(p)));
    crate::progress::set_quiet(was_quiet);
    Ok(Some(built?.path))
}
