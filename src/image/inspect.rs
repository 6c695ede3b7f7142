//! `xx image inspect`: an image's platforms, digests and sizes, or its bytes as stored.

use std::collections::HashMap;

use anyhow::{anyhow, Result};
use serde_json::{json, Value};

use super::copy::{Endpoint, Transport};
use super::oci::{self, Descriptor};
use super::reference::Reference;

/// What `xx image inspect` shows of one platform's manifest.
struct PlatformSummary {
    platform: String,
    digest: String,
    layers: usize,
    size: u64,
}

/// A manifest's layer count and the sum of its blob sizes (checked for overflow).
fn layers_and_size(desc: &Descriptor, manifest: &[u8]) -> Result<(usize, u64)> {
    let blobs = oci::children(manifest)?;
    let size = blobs
        .iter()
        .try_fold(0u64, |sum, b| sum.checked_add(b.size))
        .ok_or_else(|| {
            anyhow!(
                "{}: its blob sizes add up to more than 2^64 bytes: a corrupt or hostile manifest",
                desc.digest
            )
        })?;
    Ok((blobs.len().saturating_sub(1), size))
}

/// `xx image inspect REF`: the index's platforms, digests and sizes (`--raw`: the bytes
/// as stored or served; `--json`: the summary as JSON).
pub fn inspect(reference: &str, raw: bool, as_json: bool, t: Transport<'_>) -> Result<String> {
    let parsed = Reference::parse(reference)?;
    let src = Endpoint::source(&parsed, t)?;
    let (root, bytes) = src.store.resolve(&src.target)?;
    if raw {
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    let entries: Vec<Descriptor> = if oci::is_index(&root.media_type) {
        oci::children(&bytes)?
    } else {
        vec![root.clone()]
    };
    // Each digest is read and summed once, however often the index names it.
    let mut counted: HashMap<String, (usize, u64)> = HashMap::new();
    let mut rows = Vec::new();
    for desc in entries {
        let (layers, size) = match counted.get(&desc.digest) {
            Some(&known) => known,
            None => {
                let manifest = if desc.digest == root.digest {
                    bytes.clone()
                } else {
                    src.store.manifest(&desc)?
                };
                let known = layers_and_size(&desc, &manifest)?;
                counted.insert(desc.digest.clone(), known);
                known
            }
        };
        // A lone manifest has no platform in its descriptor: its config names it.
        let platform = desc.platform().or_else(|| {
            (desc.digest == root.digest)
                .then(|| src.store.config(&bytes).ok())
                .flatten()
                .and_then(|config| oci::platform_text(&config))
        });
        rows.push(PlatformSummary {
            platform: platform.unwrap_or_else(|| "-".into()),
            digest: desc.digest.clone(),
            layers,
            size,
        });
    }
    if as_json {
        let platforms: Vec<Value> = rows
            .iter()
            .map(|r| json!({ "platform": r.platform, "digest": r.digest, "layers": r.layers, "size": r.size }))
            .collect();
        return Ok(serde_json::to_string_pretty(&json!({
            "reference": reference,
            "mediaType": root.media_type,
            "digest": root.digest,
            "platforms": platforms,
        }))?);
    }
    let mut out = format!(
        "{reference}  {}\n{:<16} {:<73} {:>6} {:>12}",
        root.digest, "PLATFORM", "MANIFEST", "LAYERS", "SIZE"
    );
    for r in rows {
        out.push_str(&format!(
            "\n{:<16} {:<73} {:>6} {:>12}",
            r.platform, r.digest, r.layers, r.size
        ));
    }
    Ok(out)
}
