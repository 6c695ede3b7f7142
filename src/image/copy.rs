//! Moving images between references: `xx image copy`, `push`, `pull`, and the last step
//! of `create` and `merge`. Bytes are never re-serialised or recompressed, so digests are
//! preserved; children go before the manifests and indexes that name them.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};

use super::archive;
use super::oci::{self, Descriptor};
use super::progress;
use super::reference::{Reference, Target};
use super::registry::Uploaded;
use super::store::{Layout, Remote, Store};

/// Options every command that reads or writes references shares.
#[derive(Clone, Copy)]
pub struct Transport {
    pub insecure: bool,
    pub jobs: usize,
}

/// A directory removed when dropped (downloads in transit, archive layouts).
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(near: Option<&Path>) -> Result<Scratch> {
        // Several endpoints of one process each have their own.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = match near {
            Some(file) => archive::sibling(file, &format!("layout{n}")),
            None => std::env::temp_dir().join(format!("xx-image.{}.{n}", std::process::id())),
        };
        fs::create_dir_all(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Scratch(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// An opened reference: its store, the tag or digest it names, and for archives the
/// file the store is packed into or unpacked from.
pub struct Endpoint {
    pub store: Store,
    pub target: Target,
    pub reference: Reference,
    scratch: Scratch,
}

impl Endpoint {
    pub fn source(reference: &Reference, t: Transport) -> Result<Endpoint> {
        let scratch = Scratch::new(None)?;
        let (store, target) = match reference {
            Reference::Layout { dir, tag } => {
                (Store::Layout(Layout::open(dir)?), Target::Tag(tag.clone()))
            }
            Reference::OciArchive { file, tag } => {
                archive::unpack(file, scratch.path())?;
                (
                    Store::Layout(Layout::open(scratch.path())?),
                    Target::Tag(tag.clone()),
                )
            }
            Reference::DockerArchive { file, name } => {
                archive::unpack(file, scratch.path())?;
                let layout = Layout::open(scratch.path())?;
                let tag = docker_archive_tag(&layout, name.as_deref())?;
                (Store::Layout(layout), Target::Tag(tag))
            }
            Reference::Registry(r) => (
                Store::Remote(Box::new(Remote::new(r, t.insecure))),
                r.target.clone(),
            ),
        };
        Ok(Endpoint {
            store,
            target,
            reference: reference.clone(),
            scratch,
        })
    }

    pub fn destination(reference: &Reference, t: Transport) -> Result<Endpoint> {
        let (store, target, scratch) = match reference {
            Reference::Layout { dir, tag } => (
                Store::Layout(Layout::create(dir)?),
                Target::Tag(tag.clone()),
                Scratch::new(None)?,
            ),
            Reference::OciArchive { file, .. } | Reference::DockerArchive { file, .. } => {
                let scratch = Scratch::new(Some(file))?;
                let layout = Layout::create(scratch.path())?;
                let tag = reference.tag().unwrap_or("latest").to_string();
                (Store::Layout(layout), Target::Tag(tag), scratch)
            }
            Reference::Registry(r) => (
                Store::Remote(Box::new(Remote::new(r, t.insecure))),
                r.target.clone(),
                Scratch::new(None)?,
            ),
        };
        Ok(Endpoint {
            store,
            target,
            reference: reference.clone(),
            scratch,
        })
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
                let manifest = one_platform(&self.store, root, bytes, None, self.scratch())?.1;
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

/// The manifest for one platform of an index (`want`, else the host's, else the first);
/// a manifest is returned as is.
pub fn one_platform(
    store: &Store,
    root: &Descriptor,
    bytes: &[u8],
    want: Option<&str>,
    scratch: &Path,
) -> Result<(Descriptor, Vec<u8>)> {
    if !oci::is_index(&root.media_type) {
        if let Some(p) = want {
            let config = store
                .config(bytes, scratch)
                .with_context(|| root.digest.clone())?;
            let have = oci::platform_text(&config).unwrap_or_default();
            if have != p {
                bail!("the image is {have}, not {p} (a single-platform image)");
            }
        }
        return Ok((root.clone(), bytes.to_vec()));
    }
    let children = oci::children(bytes)?;
    let chosen = match want {
        Some(p) => children
            .iter()
            .find(|c| c.platform().as_deref() == Some(p))
            .ok_or_else(|| {
                let have: Vec<String> = children.iter().filter_map(Descriptor::platform).collect();
                anyhow!(
                    "no {p} in the image (it has {}); name one with --platform, or copy all with --all",
                    have.join(", ")
                )
            })?,
        None => {
            let host = super::host_platform();
            children
                .iter()
                .find(|c| c.platform().as_deref() == Some(host.as_str()))
                .or_else(|| children.first())
                .ok_or_else(|| anyhow!("{} is an empty index", root.digest))?
        }
    };
    let child_bytes = store.manifest(chosen)?;
    one_platform(store, chosen, &child_bytes, want, scratch)
}

/// Copies `root` and everything it names from `src` to `dst`. A registry that already
/// has a manifest has everything below it (it refuses manifests with missing children),
/// so that subtree is skipped with one HEAD.
pub fn copy_tree(
    src: &Store,
    dst: &Store,
    root: &Descriptor,
    bytes: &[u8],
    scratch: &Path,
    t: Transport,
) -> Result<()> {
    if matches!(dst, Store::Remote(_)) && dst.has_manifest(root)? {
        progress::step("exists", &root.digest, root.size, &label(root));
        return Ok(());
    }
    let children = oci::children(bytes)?;
    if oci::is_index(&root.media_type) {
        for child in &children {
            let child_bytes = src
                .manifest(child)
                .with_context(|| format!("{} names {}", root.digest, child.digest))?;
            copy_tree(src, dst, child, &child_bytes, scratch, t)?;
        }
    } else {
        copy_blobs(src, dst, &children, scratch, t)?;
    }
    dst.put_manifest(root, bytes)?;
    progress::step("manifest", &root.digest, root.size, &label(root));
    Ok(())
}

fn label(d: &Descriptor) -> String {
    d.platform().unwrap_or_else(|| {
        if oci::is_index(&d.media_type) {
            "index".into()
        } else {
            String::new()
        }
    })
}

/// Blobs `jobs` at a time.
pub fn copy_blobs(
    src: &Store,
    dst: &Store,
    blobs: &[Descriptor],
    scratch: &Path,
    t: Transport,
) -> Result<()> {
    // A manifest may name one blob twice: one copy of it, not two racing.
    let mut unique: Vec<Descriptor> = Vec::new();
    for b in blobs {
        if !unique.iter().any(|u| u.digest == b.digest) {
            unique.push(b.clone());
        }
    }
    let jobs = t.jobs.max(1);
    for chunk in unique.chunks(jobs) {
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|d| {
                    s.spawn(move || {
                        let how = dst.copy_blob(src, d, scratch)?;
                        let verb = match how {
                            Uploaded::Exists => "exists",
                            Uploaded::Mounted => "mounted",
                            Uploaded::Pushed => "copied",
                        };
                        progress::step(verb, &d.digest, d.size, "");
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow!("a copy thread panicked")))
                })
                .collect()
        });
        results.into_iter().collect::<Result<Vec<()>>>()?;
    }
    Ok(())
}

pub struct CopyArgs {
    pub source: String,
    pub destination: String,
    pub all: bool,
    pub platform: Option<String>,
}

/// `xx image copy [--all] SRC DST`; returns the digest of what DST now names.
pub fn copy(args: &CopyArgs, t: Transport) -> Result<String> {
    let src_ref = Reference::parse(&args.source)?;
    let dst_ref = Reference::parse(&args.destination)?;
    let src = Endpoint::source(&src_ref, t)?;
    let (root, bytes) = src.store.resolve(&src.target)?;
    let want = match &args.platform {
        Some(p) => Some(super::parse_platform(p)?),
        None => None,
    };
    let (root, bytes) = if args.all {
        if want.is_some() {
            bail!("--all copies every platform; drop --platform, or drop --all to copy one");
        }
        (root, bytes)
    } else {
        // Like skopeo: from an index without --platform, the build machine's platform
        // (or an error); a single manifest is what it is.
        let want = want.or_else(|| oci::is_index(&root.media_type).then(super::host_platform));
        one_platform(&src.store, &root, &bytes, want.as_deref(), src.scratch())?
    };
    let dst = Endpoint::destination(&dst_ref, t)?;
    copy_tree(&src.store, &dst.store, &root, &bytes, dst.scratch(), t)?;
    dst.finish(&root, &bytes)?;
    Ok(root.digest)
}
