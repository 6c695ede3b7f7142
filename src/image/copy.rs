//! Moving images between references: `xx image copy`, `push`, `pull`, and the last step
//! of `create` and `merge`. Bytes are never re-serialised or recompressed, so digests are
//! preserved; children go before the manifests and indexes that name them.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{anyhow, bail, Context as _, Result};

use super::archive;
use super::oci::{self, Descriptor};
use super::reference::{Reference, Target};
use super::registry::Uploaded;
use super::store::{Layout, Remote, Store};
use crate::platform::Platform;
use crate::progress;
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
    pub fn source(reference: &Reference, t: Transport<'_>) -> Result<Endpoint> {
        let scratch = scratch(t, None)?;
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
            Reference::Registry(r) => {
                (Store::Remote(Box::new(Remote::new(r, t))), r.target.clone())
            }
        };
        Ok(Endpoint {
            store,
            target,
            reference: reference.clone(),
            host_platform: host_platform(t),
            scratch,
        })
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
                let layout = Layout::create(scratch.path())?;
                let tag = reference.tag().unwrap_or("latest").to_string();
                (Store::Layout(layout), Target::Tag(tag), scratch)
            }
            Reference::Registry(r) => (
                Store::Remote(Box::new(Remote::new(r, t))),
                r.target.clone(),
                scratch(t, None)?,
            ),
        };
        Ok(Endpoint {
            store,
            target,
            reference: reference.clone(),
            host_platform: host_platform(t),
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
                let manifest = one_platform(
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

/// How deep indexes may nest (index → index → manifest is the deepest seen in use):
/// deeper input is refused, never followed (each level is a request or a file).
pub const MAX_NESTING: usize = 16;

fn too_deep(digest: &str) -> anyhow::Error {
    anyhow!("{digest}: indexes nested more than {MAX_NESTING} deep: refusing the image")
}

/// The manifest for one platform of an index (`want`, else the host's, else the first);
/// a manifest is returned as is. Nested indexes are followed down to a manifest.
pub fn one_platform(
    store: &Store,
    root: &Descriptor,
    bytes: &[u8],
    want: Option<&str>,
    host: Option<&str>,
) -> Result<(Descriptor, Vec<u8>)> {
    let (mut desc, mut bytes) = (root.clone(), bytes.to_vec());
    for _ in 0..MAX_NESTING {
        if !oci::is_index(&desc.media_type) {
            if let Some(p) = want {
                let config = store.config(&bytes).with_context(|| desc.digest.clone())?;
                let have = oci::platform_text(&config).unwrap_or_default();
                if have != p {
                    bail!("the image is {have}, not {p} (a single-platform image)");
                }
            }
            return Ok((desc, bytes));
        }
        let children = oci::children(&bytes)?;
        let chosen = match want {
            Some(p) => children
                .iter()
                .find(|c| c.platform().as_deref() == Some(p))
                .ok_or_else(|| {
                    let have: Vec<String> =
                        children.iter().filter_map(Descriptor::platform).collect();
                    anyhow!(
                        "no {p} in the image (it has {}); name one with --platform, or copy all with --all",
                        have.join(", ")
                    )
                })?,
            None => children
                .iter()
                .find(|c| host.is_some() && c.platform().as_deref() == host)
                .or_else(|| children.first())
                .ok_or_else(|| anyhow!("{} is an empty index", desc.digest))?,
        }
        .clone();
        bytes = store.manifest(&chosen)?;
        desc = chosen;
    }
    Err(too_deep(&root.digest))
}

/// A manifest or index on its way: its children, and how many of them are done.
struct Pending {
    desc: Descriptor,
    bytes: Vec<u8>,
    children: Vec<Descriptor>,
    next: usize,
    /// 1 for the root.
    depth: usize,
}

/// Copies `root` and everything it names from `src` to `dst`, children before the
/// manifests and indexes that name them, each digest once (an index may name a child
/// twice, at every level), without recursion (nesting is capped at `MAX_NESTING`). A
/// registry that already has a manifest has everything below it (it refuses manifests
/// with missing children), so that subtree is skipped with one HEAD.
pub fn copy_tree(
    src: &Store,
    dst: &Store,
    root: &Descriptor,
    bytes: &[u8],
    scratch: &Path,
    t: Transport<'_>,
) -> Result<()> {
    if dst.is_remote() && dst.has_manifest(root)? {
        progress::step("exists", &root.digest, root.size, &label(root));
        return Ok(());
    }
    let mut seen = HashSet::from([root.digest.clone()]);
    let mut stack = vec![pending(root, bytes.to_vec(), 1)?];
    while let Some(top) = stack.last_mut() {
        if oci::is_index(&top.desc.media_type) && top.next < top.children.len() {
            let child = top.children[top.next].clone();
            top.next += 1;
            if !seen.insert(child.digest.clone()) {
                continue;
            }
            let depth = top.depth + 1;
            if depth > MAX_NESTING {
                return Err(too_deep(&root.digest));
            }
            let parent = top.desc.digest.clone();
            if dst.is_remote() && dst.has_manifest(&child)? {
                progress::step("exists", &child.digest, child.size, &label(&child));
                continue;
            }
            let child_bytes = src
                .manifest(&child)
                .with_context(|| format!("{parent} names {}", child.digest))?;
            stack.push(pending(&child, child_bytes, depth)?);
            continue;
        }
        let Some(done) = stack.pop() else { break };
        if !oci::is_index(&done.desc.media_type) {
            copy_blobs(src, dst, &done.children, scratch, t)?;
        }
        dst.put_manifest(&done.desc, &done.bytes)?;
        progress::step(
            "manifest",
            &done.desc.digest,
            done.desc.size,
            &label(&done.desc),
        );
    }
    Ok(())
}

fn pending(desc: &Descriptor, bytes: Vec<u8>, depth: usize) -> Result<Pending> {
    let children = oci::children(&bytes)?;
    Ok(Pending {
        desc: desc.clone(),
        bytes,
        children,
        next: 0,
        depth,
    })
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
    t: Transport<'_>,
) -> Result<()> {
    // A manifest may name one blob twice: one copy of it, not two racing.
    let mut unique: Vec<Descriptor> = Vec::new();
    for b in blobs {
        if !unique.iter().any(|u| u.digest == b.digest) {
            unique.push(b.clone());
        }
    }
    let results = crate::jobs::each(&unique, t.jobs, |d| {
        let how = dst.copy_blob(src, d, scratch)?;
        let verb = match how {
            Uploaded::Exists => "exists",
            Uploaded::Mounted => "mounted",
            Uploaded::Pushed => "copied",
        };
        progress::step(verb, &d.digest, d.size, "");
        Ok(())
    });
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(())
}

pub struct CopyArgs {
    pub source: String,
    pub destination: String,
    pub all: bool,
    pub platform: Option<String>,
}

/// `xx image copy [--all] SRC DST`; returns the digest of what DST now names.
pub fn copy(args: &CopyArgs, t: Transport<'_>) -> Result<String> {
    let src_ref = Reference::parse(&args.source)?;
    let dst_ref = Reference::parse(&args.destination)?;
    let src = Endpoint::source(&src_ref, t)?;
    let (root, bytes) = src.store.resolve(&src.target)?;
    let want = match &args.platform {
        Some(p) => Some(Platform::parse_flag(p)?.to_string()),
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
        let host = src.host_platform.as_deref();
        let want = match want {
            Some(p) => Some(p),
            None if oci::is_index(&root.media_type) => Some(host.map(str::to_string).ok_or_else(|| {
                anyhow!("this machine's platform is not in xx's table: name one with --platform, or copy all with --all")
            })?),
            None => None,
        };
        one_platform(&src.store, &root, &bytes, want.as_deref(), host)?
    };
    let dst = Endpoint::destination(&dst_ref, t)?;
    copy_tree(&src.store, &dst.store, &root, &bytes, dst.scratch(), t)?;
    dst.finish(&root, &bytes)?;
    Ok(root.digest)
}
