//! Opened references: the store an image is read from or written to, the tag or
//! digest it names, the scratch directory that goes with it (an archive's unpacked or
//! to-be-packed layout, downloads in transit), and the options every transfer shares.

use std::path::Path;

use anyhow::{bail, Result};

use super::archive;
use super::oci::Descriptor;
use super::reference::{Reference, Target};
use super::store::{Layout, Remote, Store};
use crate::platform::Platform;
use crate::scratch::ScratchDir;

/// Options every command that reads or writes references shares.
#[derive(Clone, Copy)]
pub struct Transport<'a> {
    pub insecure: bool,
    pub jobs: usize,
    /// Environment and host paths (TMPDIR, registry settings, SOURCE_DATE_EPOCH).
    pub ctx: &'a crate::context::Context,
}

/// A scratch directory for one endpoint (downloads in transit, archive layouts): in
/// TMPDIR, or beside an archive being written (same file system, so a rename finishes
/// it); removed when dropped.
pub fn scratch(t: Transport<'_>, near: Option<&Path>) -> Result<ScratchDir> {
    match near {
        Some(file) => {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "archive".into());
            ScratchDir::new_in(archive::parent_dir(file), &format!(".{name}."))
        }
        None => ScratchDir::new_in(&t.ctx.temp_dir(), ""),
    }
}

/// An opened reference: its store, the tag or digest it names, and for archives the
/// file the store is packed into or unpacked from.
pub struct Endpoint {
    pub store: Store,
    pub target: Target,
    pub reference: Reference,
    /// The build machine's platform: the one picked from an index when none is named.
    pub host_platform: Option<String>,
    scratch: ScratchDir,
}

impl Endpoint {
    fn new(
        store: Store,
        target: Target,
        reference: &Reference,
        scratch: ScratchDir,
        t: Transport<'_>,
    ) -> Endpoint {
        Endpoint {
            store,
            target,
            reference: reference.clone(),
            host_platform: host_platform(t),
            scratch,
        }
    }

    pub fn source(reference: &Reference, t: Transport<'_>) -> Result<Endpoint> {
        let scratch = scratch(t, None)?;
        let (store, target) = match reference {
            Reference::Layout { dir, tag } => {
                (Store::Layout(Layout::open(dir)?), Target::Tag(tag.clone()))
            }
            Reference::OciArchive { file, tag } => {
                let dir = scratch.path().join("layout");
                archive::unpack(file, &dir)?;
                (Store::Layout(Layout::open(&dir)?), Target::Tag(tag.clone()))
            }
            Reference::DockerArchive { file, name } => {
                let dir = scratch.path().join("layout");
                archive::unpack(file, &dir)?;
                let layout = Layout::open(&dir)?;
                let tag = docker_archive_tag(&layout, name.as_deref())?;
                (Store::Layout(layout), Target::Tag(tag))
            }
            Reference::Registry(r) => {
                (Store::Remote(Box::new(Remote::new(r, t))), r.target.clone())
            }
        };
        Ok(Endpoint::new(store, target, reference, scratch, t))
    }

    pub fn destination(reference: &Reference, t: Transport<'_>) -> Result<Endpoint> {
        let (store, target, scratch) = match reference {
            Reference::Layout { dir, tag } => (
                Store::Layout(Layout::create(dir)?),
                Target::Tag(tag.clone()),
                scratch(t, None)?,
            ),
            Reference::OciArchive { file, .. } | Reference::DockerArchive { file, .. } => {
                let scratch = scratch(t, Some(file))?;
                // In the scratch dir, not it: its lock file is no part of the archive.
                let layout = Layout::create(&scratch.path().join("layout"))?;
                let tag = reference.tag().unwrap_or("latest").to_string();
                (Store::Layout(layout), Target::Tag(tag), scratch)
            }
            Reference::Registry(r) => (
                Store::Remote(Box::new(Remote::new(r, t))),
                r.target.clone(),
                scratch(t, None)?,
            ),
        };
        Ok(Endpoint::new(store, target, reference, scratch, t))
    }

    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// Tags the root (or checks a digest reference names it) and packs archives.
    pub fn finish(&self, root: &Descriptor, bytes: &[u8]) -> Result<()> {
        match &self.target {
            Target::Tag(tag) => self.store.tag(tag, root, bytes)?,
            Target::Digest(d) if *d != root.digest => {
                bail!("{}: the image is {}, not {d}", self.reference, root.digest)
            }
            Target::Digest(_) => {}
        }
        let Store::Layout(layout) = &self.store else {
            return Ok(());
        };
        match &self.reference {
            Reference::OciArchive { file, .. } => archive::pack(&layout.dir, file),
            Reference::DockerArchive { file, name } => {
                let manifest = super::copy::one_platform(
                    &self.store,
                    root,
                    bytes,
                    None,
                    self.host_platform.as_deref(),
                )?
                .1;
                archive::docker_manifest(layout, &manifest, name.as_deref())?;
                archive::pack(&layout.dir, file)
            }
            _ => Ok(()),
        }
    }
}

/// The tag a docker archive's image has in its layout (the one named, or the only one).
fn docker_archive_tag(layout: &Layout, name: Option<&str>) -> Result<String> {
    let tag = name
        .and_then(|n| n.rsplit_once(':'))
        .filter(|(_, t)| !t.contains('/'))
        .map_or("latest", |(_, t)| t);
    layout.resolve(tag)?;
    Ok(tag.to_string())
}

/// The build machine's platform as images name it (None where the table lacks it).
fn host_platform(t: Transport<'_>) -> Option<String> {
    Platform::host(t.ctx).map(|p| p.to_string())
}
