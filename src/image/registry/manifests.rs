//! Manifests and indexes: GET by tag or digest (the digest of exactly the bytes served;
//! a digest reference must match them), PUT of exact bytes.

use anyhow::{anyhow, bail, Result};

use super::send::Body;
use super::{header, pull, push, Client, ACCEPT, MAX_MANIFEST};
use crate::image::oci::{self, Descriptor};
use crate::net::Failure;

impl Client {
    /// A manifest or index by tag or digest: its bytes as served, and its descriptor
    /// (digest of exactly those bytes; a digest reference must match them).
    pub fn get_manifest(&self, repo: &str, target: &str) -> Result<(Descriptor, Vec<u8>)> {
        let url = format!("{}/v2/{repo}/manifests/{target}", self.base);
        let (media_type, bytes) = self.retrying(&format!("GET {repo}:{target}"), || {
            let mut resp =
                self.send("GET", &url, &pull(repo), &[("Accept", ACCEPT)], Body::Empty)?;
            match resp.status().as_u16() {
                200 => {}
                404 => {
                    return Err(Failure::Fatal(anyhow!(
                        "{}/{repo}: no manifest {target} (not pushed, or deleted)",
                        self.host
                    )))
                }
                _ => return Err(self.refused(resp, &format!("manifest {target} of {repo}"))),
            }
            let media_type = header(&resp, "content-type").unwrap_or_default();
            let bytes = self
                .http
                .body_to_vec(&mut resp, MAX_MANIFEST)
                .map_err(|e| Failure::Retry(anyhow!("reading manifest {target}: {e}")))?;
            Ok((media_type, bytes))
        })?;
        let digest = oci::sha256_digest(&bytes);
        if target.starts_with("sha256:") && digest != target {
            bail!(
                "{}/{repo}@{target}: the registry served bytes with digest {digest}",
                self.host
            );
        }
        let media_type = oci::media_type_of(&bytes).unwrap_or(media_type);
        Ok((
            Descriptor::new(&media_type, &digest, bytes.len() as u64),
            bytes,
        ))
    }

    /// PUT of a manifest under a digest or tag, with exactly these bytes.
    pub fn put_manifest(
        &self,
        repo: &str,
        target: &str,
        desc: &Descriptor,
        bytes: &[u8],
    ) -> Result<()> {
        let url = format!("{}/v2/{repo}/manifests/{target}", self.base);
        self.retrying(&format!("PUT {repo}:{target}"), || {
            let len = bytes.len().to_string();
            let headers = [
                ("Content-Type", desc.media_type.as_str()),
                ("Content-Length", len.as_str()),
            ];
            let resp = self.send("PUT", &url, &push(repo), &headers, Body::Bytes(bytes))?;
            match resp.status().as_u16() {
                200 | 201 | 204 => {}
                _ => return Err(self.refused(resp, &format!("manifest {target} for {repo}"))),
            }
            if let Some(d) = header(&resp, "docker-content-digest") {
                if d != desc.digest {
                    return Err(Failure::Fatal(anyhow!(
                        "{}/{repo}: the registry stored manifest {target} as {d}, not {}",
                        self.host,
                        desc.digest
                    )));
                }
            }
            Ok(())
        })
    }
}
