//! `xx image create --base REF`: every platform of the output is appended to the same
//! platform of a base image (an index or a single manifest, from a layout, archive or
//! registry), keeping its layers, diff_ids, history, settings and platform fields.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use serde_json::Value;

use super::config::ImageConfig;
use super::copy::{self, Endpoint, Transport};
use super::oci::{self, Descriptor};
use super::reference::Reference;
use super::store::Store;

pub struct Base {
    endpoint: Endpoint,
    images: HashMap<String, BaseImage>,
}

/// One platform of the base.
pub struct BaseImage {
    pub config: ImageConfig,
    pub layers: Vec<Descriptor>,
    /// The base index's platform object (os.version, features…), when it had one.
    platform: Option<Value>,
}

impl Base {
    /// Opens the base and reads the manifests and configs of the `wanted` platforms.
    pub fn open(reference: &str, wanted: &[String], t: Transport<'_>) -> Result<Base> {
        let parsed = Reference::parse(reference).map_err(|e| anyhow!("--base {e}"))?;
        let endpoint = Endpoint::source(&parsed, t)?;
        let (root, bytes) = endpoint.store.resolve(&endpoint.target)?;
        let mut found: Vec<(String, Descriptor, Vec<u8>)> = Vec::new();
        if oci::is_index(&root.media_type) {
            for child in oci::children(&bytes)? {
                let Some(p) = child.platform() else { continue };
                // The first entry for a platform, as containerd picks it: later ones
                // (however many a hostile index repeats) are not read.
                if wanted.contains(&p) && !found.iter().any(|(q, ..)| *q == p) {
                    let b = endpoint.store.manifest(&child)?;
                    found.push((p, child, b));
                }
            }
        } else {
            let config = endpoint.store.config(&bytes)?;
            let p = oci::platform_text(&config)
                .ok_or_else(|| anyhow!("--base {reference}: its config names no platform"))?;
            found.push((p, root, bytes));
        }
        let mut images = HashMap::new();
        for (p, desc, manifest) in found {
            let blobs = oci::children(&manifest)?;
            let layers = blobs.get(1..).unwrap_or_default().to_vec();
            let config = ImageConfig::from_json(endpoint.store.config(&manifest)?, &desc.digest)
                .map_err(|e| anyhow!("--base {reference}: {e}"))?;
            let platform = desc.extra.get("platform").cloned();
            images.insert(
                p,
                BaseImage {
                    config,
                    layers,
                    platform,
                },
            );
        }
        for w in wanted {
            if !images.contains_key(w) {
                bail!(
                    "--base {reference} has no {w}; build only the platforms it has, or pick a base with {w}"
                );
            }
        }
        Ok(Base { endpoint, images })
    }

    pub fn image(&self, platform: &str) -> Result<&BaseImage> {
        self.images
            .get(platform)
            .ok_or_else(|| anyhow!("the base has no {platform}"))
    }

    pub fn platform_field(&self, platform: &str) -> Option<Value> {
        self.images.get(platform)?.platform.clone()
    }

    /// The base layers into the destination (skipped when there, mounted when the
    /// registry allows).
    pub fn copy_blobs(&self, dst: &Store, scratch: &Path, t: Transport<'_>) -> Result<()> {
        let mut layers: Vec<Descriptor> = Vec::new();
        for image in self.images.values() {
            for l in &image.layers {
                if !layers.iter().any(|d| d.digest == l.digest) {
                    layers.push(l.clone());
                }
            }
        }
        layers.sort_by(|a, b| a.digest.cmp(&b.digest));
        copy::copy_blobs(&self.endpoint.store, dst, &layers, scratch, t)
    }
}
