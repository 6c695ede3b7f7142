//! The distribution's Rust std for a target without `dpkg --add-architecture`: the
//! `rust-std` toolchain (the target's `libstd-rust*-dev` at the build machine's rustc
//! version) extracted into a private tree, used as the target's `--sysroot`.

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::context::Context;
use crate::platform::{Platform, Resolved};

/// The Rust sysroot holding `rust_triple`'s std, installed if needed.
pub fn ensure(ctx: &Context, target: &Resolved, rust_triple: &str) -> Result<PathBuf> {
    let Some(m) = super::manifest::find("rust-std") else {
        bail!("no rust-std manifest in toolchains/tools.control");
    };
    let platform = Platform::parse_flag(&target.platform())?;
    let was_quiet = crate::progress::is_quiet();
    crate::progress::set_quiet(true);
    let tree = super::install(ctx, &m, platform);
    crate::progress::set_quiet(was_quiet);
    let root = tree?.join("usr");
    if !crate::cargo::has_std(&root, rust_triple) {
        bail!(
            "the distribution's std package has no lib/rustlib/{rust_triple} in {}",
            root.display()
        );
    }
    Ok(root)
}
