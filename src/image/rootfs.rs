//! One platform's filesystem unpacked from its layers, rootless, through the same
//! guarded tree writer sysroots use: nothing lands outside the root, no symlink is
//! followed while writing, absolute links become relative. Device nodes and FIFOs are
//! skipped (an unprivileged user cannot make them, and a smoke test needs none);
//! whiteouts are refused for now (`xx build` images have none).

use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Result};

use super::oci::Descriptor;
use super::store::Layout;
use crate::sysroot::tree::Root;

/// Layers in order, bottom first, each read from `layout` (its digest checked first).
pub fn unpack(layout: &Layout, layers: &[Descriptor], root: &Root) -> Result<()> {
    for layer in layers {
        let path = layout.verify(layer)?;
        let file = crate::fsutil::open_regular(&path)?;
        let reader = std::io::BufReader::with_capacity(256 << 10, file);
        let what = format!("layer {}", layer.digest);
        let decoded: Box<dyn Read> = if layer.media_type.contains("gzip") {
            Box::new(flate2::read::GzDecoder::new(reader))
        } else if layer.media_type.contains("zstd") {
            Box::new(zstd::stream::read::Decoder::new(reader).map_err(|e| anyhow!("{what}: {e}"))?)
        } else if layer.media_type.ends_with("tar") {
            Box::new(reader)
        } else {
            bail!("{what}: unsupported layer type {}", layer.media_type);
        };
        crate::sysroot::untar::unpack(decoded, &what, root, IMAGE_ROOT)?;
    }
    Ok(())
}

const IMAGE_ROOT: crate::sysroot::untar::Policy = crate::sysroot::untar::Policy {
    place: "an image root",
    skip_devices: true,
    refuse_whiteouts: true,
};

/// `program` as a path inside `root`: as given when it has a slash, else the first
/// `PATH` directory (the image's) that holds it, like a shell's lookup.
pub fn find_program(root: &Path, program: &str, path: &str) -> Option<std::path::PathBuf> {
    if program.contains('/') {
        return Some(root.join(program.trim_start_matches('/')));
    }
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| root.join(d.trim_start_matches('/')).join(program))
        .find(|p| p.exists())
}
