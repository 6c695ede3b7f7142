//! `xx image merge -t REF SRC…`: one index from per-platform images or other indexes,
//! in the order given (what `docker manifest create` and `buildx imagetools create`
//! do, without reordering), copying what the target lacks.

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};

use super::copy::{self, Endpoint, Transport};
use super::oci::{self, Descriptor};
use super::reference::Reference;

pub struct MergeArgs {
    pub targets: Vec<String>,
    pub sources: Vec<String>,
    pub append: bool,
    pub platforms: Vec<String>,
    pub annotations: Vec<String>,
}

/// A platform's manifest and where it comes from.
struct Entry {
    platform: String,
    desc: Descriptor,
    bytes: Vec<u8>,
    source: usize,
}

/// Returns the new index's digest.
pub fn merge(args: &MergeArgs, t: Transport<'_>) -> Result<String> {
    if args.targets.is_empty() {
        bail!("no target: name one with -t REF");
    }
    if args.sources.is_empty() && !args.append {
        bail!("no source images: xx image merge -t REF SRC...");
    }
    let wanted = args
        .platforms
        .iter()
        .map(|p| crate::platform::Platform::parse_flag(p).map(|p| p.to_string()))
        .collect::<Result<Vec<_>>>()?;
    let sources = args
        .sources
        .iter()
        .map(|s| Endpoint::source(&Reference::parse(s)?, t))
        .collect::<Result<Vec<_>>>()?;
    let mut entries: Vec<Entry> = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        for e in platform_entries(src, i)? {
            if !wanted.is_empty() && !wanted.contains(&e.platform) {
                continue;
            }
            if let Some(other) = entries.iter().find(|o| o.platform == e.platform) {
                bail!(
                    "{} comes from both {} and {}; keep one (or filter with --platform)",
                    e.platform,
                    args.sources[other.source],
                    args.sources[i]
                );
            }
            entries.push(e);
        }
    }
    let mut digest = String::new();
    for target in &args.targets {
        let target_ref = Reference::parse(target)?;
        if args.append
            && matches!(
                target_ref,
                Reference::OciArchive { .. } | Reference::DockerArchive { .. }
            )
        {
            bail!("--append -t {target}: archives are written whole; merge into oci:DIR or a registry, then copy");
        }
        let dst = Endpoint::destination(&target_ref, t)?;
        let mut children: Vec<(String, Descriptor)> = Vec::new();
        let mut kept_annotations = serde_json::Map::new();
        if args.append && dst.store.exists(&dst.target)? {
            let existing = Endpoint::source(&dst.reference, t)?;
            let (root, bytes) = existing.store.resolve(&existing.target)?;
            if !oci::is_index(&root.media_type) {
                bail!("{target} is a single manifest, not an index: --append needs an index");
            }
            for child in oci::children(&bytes)? {
                children.push((child.platform().unwrap_or_default(), child));
            }
            let old: Value = serde_json::from_slice(&bytes)?;
            if let Some(a) = old["annotations"].as_object() {
                kept_annotations = a.clone();
            }
        }
        for e in &entries {
            copy::copy_tree(
                &sources[e.source].store,
                &dst.store,
                &e.desc,
                &e.bytes,
                dst.scratch(),
                t,
            )?;
            match children.iter().position(|(p, _)| *p == e.platform) {
                Some(i) => {
                    let replaced = std::mem::replace(&mut children[i].1, e.desc.clone());
                    // Attestations of the replaced manifest describe nothing here any more.
                    children.retain(|(_, d)| {
                        d.extra
                            .get("annotations")
                            .and_then(|a| a.get("vnd.docker.reference.digest"))
                            != Some(&json!(replaced.digest))
                    });
                }
                None => children.push((e.platform.clone(), e.desc.clone())),
            }
        }
        if children.is_empty() {
            bail!("no platform left to put in the index (check --platform)");
        }
        let (index, bytes) = index_of(&children, kept_annotations, &args.annotations)?;
        dst.store.put_manifest(&index, &bytes)?;
        dst.finish(&index, &bytes)?;
        digest = index.digest;
    }
    Ok(digest)
}

/// The platforms a source offers: its index entries, or its one manifest with the
/// platform from its config.
fn platform_entries(src: &Endpoint, source: usize) -> Result<Vec<Entry>> {
    let (root, bytes) = src.store.resolve(&src.target)?;
    if oci::is_index(&root.media_type) {
        let mut out = Vec::new();
        for child in oci::children(&bytes)? {
            // Attestations and other unknown/unknown entries are not platforms.
            let Some(platform) = child.platform().filter(|p| !p.starts_with("unknown/")) else {
                continue;
            };
            // A platform listed again in the same index: the first entry, as containerd
            // picks it (the others are not read).
            if out.iter().any(|e: &Entry| e.platform == platform) {
                continue;
            }
            let child_bytes = src.store.manifest(&child)?;
            out.push(Entry {
                platform,
                desc: child,
                bytes: child_bytes,
                source,
            });
        }
        return Ok(out);
    }
    let config = src
        .store
        .config(&bytes)
        .with_context(|| src.reference.to_string())?;
    let platform = oci::platform_text(&config)
        .ok_or_else(|| anyhow!("{}: its config names no platform", src.reference))?;
    let mut field = json!({ "architecture": config["architecture"], "os": config["os"] });
    for key in ["variant", "os.version", "os.features"] {
        if !config[key].is_null() {
            field[key] = config[key].clone();
        }
    }
    let mut desc = root;
    desc.extra.insert("platform".into(), field);
    Ok(vec![Entry {
        platform,
        desc,
        bytes,
        source,
    }])
}

/// An OCI index, or a Docker manifest list when every child is a Docker manifest (as
/// `docker manifest create` makes for them).
fn index_of(
    children: &[(String, Descriptor)],
    mut kept: serde_json::Map<String, Value>,
    annotations: &[String],
) -> Result<(Descriptor, Vec<u8>)> {
    let docker = children
        .iter()
        .all(|(_, d)| d.media_type == oci::DOCKER_MANIFEST);
    let media_type = if docker { oci::DOCKER_LIST } else { oci::INDEX };
    let manifests: Vec<Value> = children
        .iter()
        .map(|(_, d)| {
            let mut d = d.clone();
            if docker {
                d.extra.retain(|k, _| k == "platform");
            }
            d.json()
        })
        .collect();
    let mut index = json!({ "schemaVersion": 2, "mediaType": media_type, "manifests": manifests });
    if !annotations.is_empty() && docker {
        bail!("--annotation: a Docker manifest list has no annotations (its children are Docker manifests)");
    }
    // The appended-to index's annotations stay, the new ones win.
    if let Value::Object(new) = super::create::key_values(annotations) {
        kept.extend(new);
    }
    if !kept.is_empty() && !docker {
        index["annotations"] = Value::Object(kept);
    }
    let bytes = serde_json::to_vec(&index)?;
    Ok((Descriptor::of(media_type, &bytes), bytes))
}
