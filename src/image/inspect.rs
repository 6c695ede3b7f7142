//! `xx image inspect`: an image's platforms, digests and sizes, or its bytes as stored.

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

/// `xx image inspect REF`: the index's platforms, digests and sizes (`--raw`: the bytes
/// as stored or served; `--json`: the summary as JSON).
pub fn inspect(reference: &str, raw: bool, as_json: bool, t: Transport<'_>) -> Result<String> {
    let parsed = Reference::parse(reference)?;
    let src = Endpoint::source(&parsed, t)?;
    let (root, bytes) = src.store.resolve(&src.target)?;
    if raw {
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    let manifests: Vec<(Descriptor, Vec<u8>)> = if oci::is_index(&root.media_type) {
        // Each digest is read once, however often the index names it.
        let mut read: std::collections::HashMap<String, Vec<u8>> = Default::default();
        let mut out = Vec::new();
        for d in oci::children(&bytes)? {
            let b = match read.get(&d.digest) {
                Some(b) => b.clone(),
                None => src.store.manifest(&d)?,
            };
            read.insert(d.digest.clone(), b.clone());
            out.push((d, b));
        }
        out
    } else {
        vec![(root.clone(), bytes.clone())]
    };
    let mut rows = Vec::new();
    for (desc, manifest) in &manifests {
        let blobs = oci::children(manifest)?;
        rows.push(PlatformSummary {
            platform: desc.platform().unwrap_or_else(|| "-".into()),
            digest: desc.digest.clone(),
            layers: blobs.len().saturating_sub(1),
            size: blobs
                .iter()
                .try_fold(0u64, |sum, b| sum.checked_add(b.size))
                .ok_or_else(|| {
                    anyhow!(
                        "{}: its blob sizes add up to more than 2^64 bytes: a corrupt or hostile manifest",
                        desc.digest
                    )
                })?,
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
