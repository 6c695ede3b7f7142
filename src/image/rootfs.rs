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
        } else if layer.media_type.ends_with("tar") || layer.media_type.ends_with(".tar") {
            Box::new(reader)
        } else {
            bail!("{what}: unsupported layer type {}", layer.media_type);
        };
        entries(decoded, &what, root)?;
    }
    Ok(())
}

fn entries(reader: impl Read, what: &str, root: &Root) -> Result<()> {
    let mut tar = tar::Archive::new(reader);
    for entry in tar.entries().map_err(|e| anyhow!("{what}: bad tar: {e}"))? {
        let mut entry = entry.map_err(|e| anyhow!("{what}: bad tar: {e}"))?;
        let name = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|_| anyhow!("{what}: a name that is not UTF-8"))?;
        let leaf = name.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        if leaf.starts_with(".wh.") {
            bail!("{what}: {name} is a whiteout (a file deleted by a later layer); xx image run does not apply whiteouts yet");
        }
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644);
        let mtime = header.mtime().unwrap_or(0) as i64;
        let link = entry
            .link_name_bytes()
            .map(|l| {
                String::from_utf8(l.into_owned())
                    .map_err(|_| anyhow!("{what}: a link target that is not UTF-8"))
            })
            .transpose()?
            .unwrap_or_default();
        let written = match kind {
            tar::EntryType::Directory => root.make_dir(&name),
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                root.write_file(&name, mode, mtime, &mut entry)
            }
            tar::EntryType::Symlink => root.symlink(&name, &link),
            tar::EntryType::Link => root.hardlink(&name, &link),
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => continue,
            tar::EntryType::XHeader
            | tar::EntryType::XGlobalHeader
            | tar::EntryType::GNULongName
            | tar::EntryType::GNULongLink => continue,
            other => Err(anyhow!(
                "refusing {name}: unsupported tar entry type {other:?}"
            )),
        };
        written.map_err(|e| anyhow!("{what}: {e:#}"))?;
    }
    Ok(())
}

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
