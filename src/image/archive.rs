//! `oci-archive:` and `docker-archive:` files: an OCI layout in one tar. Writing packs a
//! finished layout (sorted, fixed headers: same layout, same bytes); reading takes only
//! the layout's own files out of the tar, so hostile member names or links go nowhere.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Component, Path};

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};

use super::layer;
use super::oci::{self, Descriptor};
use super::store::Layout;
use crate::scratch::TempFile;

/// Packs `layout` into `file` through a temp file next to it (all or nothing).
pub fn pack(layout: &Path, file: &Path) -> Result<()> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "archive".into());
    let tmp = TempFile::new_in(parent_dir(file), &format!(".{name}."))?;
    let skip = layout.join(".xx-tmp");
    let out = layer::tar_dir(
        layout,
        Some(&skip),
        BufWriter::with_capacity(1 << 20, tmp),
        0,
    )?;
    let tmp = out
        .into_inner()
        .map_err(|e| anyhow!("cannot write {}: {}", file.display(), e.error()))?;
    tmp.persist(file)
}

/// The directory a file is in (`.` for a bare name).
pub fn parent_dir(file: &Path) -> &Path {
    match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Extracts the layout files (`oci-layout`, `index.json`, `blobs/sha256/<hex>`) of an
/// archive into `dir`; anything else in the tar is ignored.
pub fn unpack(file: &Path, dir: &Path) -> Result<()> {
    let input = File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut archive = tar::Archive::new(io::BufReader::with_capacity(1 << 20, input));
    fs::create_dir_all(dir.join("blobs/sha256"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let bad = |e: io::Error| anyhow!("{}: not a readable tar archive ({e})", file.display());
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path().map_err(bad)?.into_owned();
        let parts: Vec<&str> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => s.to_str(),
                _ => None,
            })
            .collect();
        let wanted = match parts.as_slice() {
            ["oci-layout"] | ["index.json"] | ["manifest.json"] => true,
            ["blobs", "sha256", hex] => oci::digest_hex(&format!("sha256:{hex}")).is_some(),
            _ => false,
        };
        if !wanted || path.components().any(|c| matches!(c, Component::ParentDir)) {
            continue;
        }
        let dest = dir.join(parts.join("/"));
        // `dir` is a fresh private scratch dir: nothing in it is a link, and none is made.
        let mut out = File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&dest)
            .with_context(|| format!("cannot write {}", dest.display()))?;
        io::copy(&mut entry, &mut out).map_err(bad)?;
        out.flush()?;
    }
    if !dir.join("index.json").is_file() {
        bail!(
            "{}: no index.json inside; only OCI-layout archives are read (docker save ≥ 25, skopeo, xx)",
            file.display()
        );
    }
    Ok(())
}

/// Docker's `manifest.json` for one platform of the image, beside the OCI layout, so
/// `docker load` takes the archive.
pub fn docker_manifest(layout: &Layout, manifest: &[u8], name: Option<&str>) -> Result<()> {
    let children = oci::children(manifest)?;
    let (config, layers) = children
        .split_first()
        .ok_or_else(|| anyhow!("manifest without a config"))?;
    let path_of = |d: &Descriptor| -> Result<String> {
        let hex = d
            .hex()
            .ok_or_else(|| anyhow!("unsupported digest {}", d.digest))?;
        Ok(format!("blobs/sha256/{hex}"))
    };
    let tags: Vec<String> = name
        .map(|n| {
            if n.rsplit_once(':').is_some_and(|(_, t)| !t.contains('/')) {
                n.to_string()
            } else {
                format!("{n}:latest")
            }
        })
        .into_iter()
        .collect();
    let entry = json!([{
        "Config": path_of(config)?,
        "RepoTags": tags,
        "Layers": layers.iter().map(path_of).collect::<Result<Vec<_>>>()?,
    }]);
    crate::fsutil::write_atomic(
        &layout.dir.join("manifest.json"),
        &serde_json::to_vec(&entry as &Value)?,
    )
}
