//! Moving images between references: `xx image copy`, `push`, `pull`, and the last step
//! of `create` and `merge`. Bytes are never re-serialised or recompressed, so digests are
//! preserved; children go before the manifests and indexes that name them.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{anyhow, bail, Context as _, Result};

pub use super::endpoint::{scratch, Endpoint, Transport};
use super::oci::{self, Descriptor};
use super::reference::Reference;
use super::registry::Uploaded;
use super::store::Store;
use crate::platform::Platform;
use crate::progress;

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
    if registry_has(dst, root)? {
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
            if registry_has(dst, &child)? {
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

/// Whether `dst` is a registry that has this manifest (and so everything below it).
fn registry_has(dst: &Store, desc: &Descriptor) -> Result<bool> {
    let has = dst.is_remote() && dst.has_manifest(desc)?;
    if has {
        progress::step("exists", &desc.digest, desc.size, &label(desc));
    }
    Ok(has)
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
