//! Assembling a sysroot: every `.deb` of the set downloaded (a few at a time, checked
//! against its SHA256, cached by it), unpacked in name order into a scratch tree next
//! to the destination while the later ones still download, xx's own files added, then
//! swapped into place in one step.

use std::path::Path;

use anyhow::{anyhow, Context as _, Result};

use super::lockfile::LockedPackage;
use super::tree::Root;
use super::{Stamp, OWN_DIR, STAMP};
use crate::context::Context;
use crate::net::Http;
use crate::platform::Resolved;
use crate::toolchain::home::Home;

/// Parallel downloads per run: a few connections per mirror, as apt opens.
const DOWNLOADS: usize = 4;

#[allow(clippy::too_many_arguments)]
pub fn assemble(
    ctx: &Context,
    http: &Http,
    dest: &Path,
    parent: &Path,
    name: &str,
    target: &Resolved,
    stamp: &Stamp,
    jobs: usize,
) -> Result<()> {
    let cache = Home::of(ctx)?.cache_for("debs")?;
    let scratch = crate::scratch::ScratchDir::new_in(parent, &format!(".{name}."))?;
    let root = Root::open(scratch.path())?;
    root.merge_usr()?;
    // Workers download and decompress (user time, the network); this thread writes
    // the tree in name order (kernel time) meanwhile.
    let fetch = |p: &LockedPackage| {
        let what = format!("{} {}", p.name, p.version);
        let source = &stamp.set.sources[p.source];
        let url = format!("{}/{}", source.uri.trim_end_matches('/'), p.filename);
        let deb = crate::net::download(http, &url, &p.sha256, p.size, &cache)
            .map_err(|e| anyhow!("{what}: {e:#}"))?;
        crate::debian::deb::data_tar(&deb, &what, &cache)
    };
    let unpack = |p: &LockedPackage, data: std::fs::File| {
        let what = format!("{} {}", p.name, p.version);
        let reader = std::io::BufReader::with_capacity(256 << 10, data);
        crate::debian::deb::unpack(reader, &what, &root).map(drop)
    };
    crate::jobs::pipeline(&stamp.set.packages, jobs.clamp(1, DOWNLOADS), fetch, unpack)?;
    let wrapper = pkg_config_wrapper(target.multiarch());
    let own = format!("{OWN_DIR}/bin/{}-pkg-config", target.gnu_triple);
    root.write_file(&own, 0o755, 0, &mut wrapper.as_bytes())?;
    root.write_file(STAMP, 0o644, 0, &mut stamp.to_bytes().as_slice())?;
    root.sync()?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot set the mode of {}", scratch.path().display()))?;
    scratch.publish(dest)?;
    let bytes: u64 = stamp.set.packages.iter().map(|p| p.size).sum();
    crate::progress::note(&format!(
        "sysroot {}: {} packages ({} of .debs) in {}",
        stamp.platform,
        stamp.set.packages.len(),
        crate::progress::human(bytes),
        dest.display()
    ));
    Ok(())
}

/// `<triple>-pkg-config` for this sysroot: finds the tree from its own place, so the
/// sysroot can move.
fn pkg_config_wrapper(multiarch: &str) -> String {
    format!(
        "#!/bin/sh\n\
         # Written by xx sysroot: pkg-config for the target libraries of this sysroot.\n\
         sysroot=$(cd \"${{0%/*}}/../..\" && pwd -P) || exit 1\n\
         export PKG_CONFIG_SYSROOT_DIR=\"$sysroot\"\n\
         export PKG_CONFIG_LIBDIR=\"{dirs}\"\n\
         unset PKG_CONFIG_PATH\n\
         exec pkg-config \"$@\"\n",
        dirs = super::pkg_config_libdir("$sysroot", multiarch)
    )
}
