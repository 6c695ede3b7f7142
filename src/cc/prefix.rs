//! Where xx-cc puts its per-target files, and how it finds the real tools.

use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::env_vars as ev;

/// The directory for `<triple>.cfg`, `<triple>-clang`, … : `XX_PREFIX`, else `/usr/bin`
/// as root in a container (what tonistiigi/xx does), else a per-user data dir (no root).
pub fn dir(ctx: &Context) -> PathBuf {
    if let Some(p) = ctx.var(ev::XX_PREFIX) {
        return PathBuf::from(p);
    }
    if ctx.root_in_container() {
        return PathBuf::from("/usr/bin");
    }
    // Never a shared directory such as /tmp: another user could plant configs there.
    ctx.var("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| ctx.var("HOME").map(|h| Path::new(h).join(".local/share")))
        .map(|data| data.join("xx/bin"))
        .unwrap_or_else(|| PathBuf::from("/nonexistent/set-XX_PREFIX"))
}

/// The first `name` on PATH that is not this executable (so a `clang` link to xx, made
/// by `--wrap`, still finds the real clang); else the one of an installed toolchain
/// (`xx toolchain install llvm`).
pub fn find_tool(ctx: &Context, name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    let me = crate::fsutil::this_exe().ok();
    let on_path = ctx.var("PATH").and_then(|path| {
        std::env::split_paths(path)
            .map(|dir| dir.join(name))
            .filter(|p| is_executable(p))
            .find(|p| me.is_none() || p.canonicalize().ok().as_deref() != me)
    });
    on_path.or_else(|| crate::toolchain::installed_tool(ctx, name))
}

/// `command -v NAME`: the first executable `name` on PATH, links to xx included (the
/// target aliases are such links).
pub fn on_path(ctx: &Context, name: &str) -> Option<PathBuf> {
    std::env::split_paths(ctx.var("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
