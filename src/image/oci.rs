//! OCI and Docker media types, descriptors, and digests of exact bytes.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub use crate::cas::{hex, Hashing};

pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

pub fn is_index(media_type: &str) -> bool {
    media_type == INDEX || media_type == DOCKER_LIST
}

pub fn is_manifest(media_type: &str) -> bool {
    media_type == MANIFEST || media_type == DOCKER_MANIFEST
}

/// A content descriptor; `extra` keeps fields this code does not interpret (platform,
/// annotations, artifactType…) so copies carry them unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub extra: serde_json::Map<String, Value>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: &str, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: digest.to_string(),
            size,
            extra: serde_json::Map::new(),
        }
    }

    /// Of exactly these bytes.
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor::new(media_type, &sha256_digest(bytes), bytes.len() as u64)
    }

    pub fn from_json(v: &Value) -> Option<Descriptor> {
        let mut extra = v.as_object()?.clone();
        let media_type = extra.remove("mediaType")?.as_str()?.to_string();
        let digest = extra.remove("digest")?.as_str()?.to_string();
        let size = extra.remove("size")?.as_u64()?;
        Some(Descriptor {
            media_type,
            digest,
            size,
            extra,
        })
    }

    pub fn json(&self) -> Value {
        let mut v =
            json!({ "mediaType": self.media_type, "digest": self.digest, "size": self.size });
        if let Some(map) = v.as_object_mut() {
            map.extend(self.extra.clone());
        }
        v
    }

    /// The 64 hex digits of a sha256 digest (None for other algorithms or bad text).
    pub fn hex(&self) -> Option<&str> {
        digest_hex(&self.digest)
    }

    /// `os/arch[/variant]` from the descriptor's platform field.
    pub fn platform(&self) -> Option<String> {
        let p = self.extra.get("platform")?;
        platform_text(p)
    }
}

/// `os/arch[/variant]` of a platform object (or an image config), normalised through
/// the target table as `--platform` values are (`arm64/v8` is `arm64`), so images from
/// any builder compare equal to what the user names.
pub fn platform_text(p: &Value) -> Option<String> {
    let os = p["os"].as_str()?;
    let arch = p["architecture"].as_str()?;
    let variant = p["variant"].as_str().unwrap_or_default();
    Some(crate::platform::Platform::from_image(os, arch, variant).to_string())
}

pub fn digest_hex(digest: &str) -> Option<&str> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// The `mediaType` a manifest or index declares in its own body.
pub fn media_type_of(bytes: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    if let Some(mt) = v["mediaType"].as_str() {
        return Some(mt.to_string());
    }
    // OCI allows leaving it out; the shape tells.
    if v["manifests"].is_array() {
        Some(INDEX.to_string())
    } else if v["layers"].is_array() {
        Some(MANIFEST.to_string())
    } else {
        None
    }
}

/// The descriptors a manifest or index points to: children of an index, or config and
/// layers of a manifest. Digests are checked here, as they come from outside: they end
/// up in URLs and file names.
pub fn children(bytes: &[u8]) -> anyhow::Result<Vec<Descriptor>> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|_| anyhow::anyhow!("a manifest or index that is not JSON"))?;
    let listed: Vec<&Value> = match v["manifests"].as_array() {
        Some(manifests) => manifests.iter().collect(),
        None => std::iter::once(&v["config"])
            .filter(|c| !c.is_null())
            .chain(v["layers"].as_array().into_iter().flatten())
            .collect(),
    };
    listed
        .into_iter()
        .map(|d| {
            let desc = Descriptor::from_json(d)
                .ok_or_else(|| anyhow::anyhow!("malformed descriptor {d}"))?;
            if desc.hex().is_none() {
                anyhow::bail!(
                    "unsupported digest {:?} (xx reads sha256 only)",
                    desc.digest
                );
            }
            Ok(desc)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_compare_as_the_table_names_them() {
        let p = |v: Value| platform_text(&v).unwrap();
        assert_eq!(
            p(json!({"os": "linux", "architecture": "arm64", "variant": "v8"})),
            "linux/arm64"
        );
        assert_eq!(
            p(json!({"os": "linux", "architecture": "arm", "variant": "v7"})),
            "linux/arm/v7"
        );
        assert_eq!(
            p(json!({"os": "linux", "architecture": "amd64"})),
            "linux/amd64"
        );
        // Unknown to the table: kept as written.
        assert_eq!(
            p(json!({"os": "plan9", "architecture": "mips"})),
            "plan9/mips"
        );
    }
}
