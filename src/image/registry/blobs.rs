//! Blobs: HEAD, GET (streamed through the content-addressed writer, checked against
//! the descriptor, restarted on a dropped or too slow connection), mount from another
//! repository, and upload: POST then a monolithic PUT, chunked PATCHes above the chunk
//! size or when a registry refuses the single PUT.

use std::path::Path;

use anyhow::{anyhow, Result};

use super::send::Body;
use super::{pull, push, with_query, Client, Uploaded, ACCEPT};
use crate::cas::{Blob, CasWriter, Expect};
use crate::image::oci::{self, Descriptor};
use crate::net::{download::copy_body, Attempt, Failure};

impl Client {
    /// Whether the repository has this blob (HEAD).
    pub fn has_blob(&self, repo: &str, digest: &str) -> Result<bool> {
        self.exists(repo, "blobs", digest, &[])
    }

    /// Whether the repository has this manifest (HEAD by digest or tag).
    pub fn has_manifest(&self, repo: &str, digest: &str) -> Result<bool> {
        self.exists(repo, "manifests", digest, &[("Accept", ACCEPT)])
    }

    /// HEAD of `/v2/<repo>/<kind>/<target>`: 200 yes, 404 no, anything else an error.
    fn exists(
        &self,
        repo: &str,
        kind: &str,
        target: &str,
        headers: &[(&str, &str)],
    ) -> Result<bool> {
        let url = format!("{}/v2/{repo}/{kind}/{target}", self.base);
        self.retrying(&format!("HEAD {target}"), || {
            let resp = self.send("HEAD", &url, &pull(repo), headers, Body::Empty)?;
            match resp.status().as_u16() {
                200 => Ok(true),
                404 => Ok(false),
                _ => Err(self.refused(
                    resp,
                    &format!("HEAD of {} {target} in {repo}", kind.trim_end_matches('s')),
                )),
            }
        })
    }

    /// Streams a blob into a writer `new_writer` makes for each attempt, committed only
    /// when its size and digest are the descriptor's (at most `size + 1` bytes are read).
    pub fn get_blob(
        &self,
        repo: &str,
        desc: &Descriptor,
        new_writer: &dyn Fn() -> Result<CasWriter>,
    ) -> Result<Blob> {
        let url = format!("{}/v2/{repo}/blobs/{}", self.base, desc.digest);
        self.retrying(&format!("GET {}", desc.digest), || {
            let mut resp = self.send("GET", &url, &pull(repo), &[], Body::Empty)?;
            if resp.status().as_u16() != 200 {
                return Err(self.refused(resp, &format!("blob {} of {repo}", desc.digest)));
            }
            let mut out = new_writer()?;
            let mut body = self.http.body(&mut resp, desc.size.saturating_add(1));
            copy_body(&mut body, &mut out, &desc.digest)?;
            out.commit(Expect::Exactly {
                digest: &desc.digest,
                size: desc.size,
            })
            .map_err(|e| {
                Failure::Fatal(anyhow!(
                    "blob {} from {}/{repo}: {e}: refusing it",
                    desc.digest,
                    self.host
                ))
            })
        })
    }

    /// A small blob (a config) into memory, checked against its descriptor.
    pub fn get_small_blob(&self, repo: &str, desc: &Descriptor) -> Result<Vec<u8>> {
        let url = format!("{}/v2/{repo}/blobs/{}", self.base, desc.digest);
        let bytes = self.retrying(&format!("GET {}", desc.digest), || {
            let mut resp = self.send("GET", &url, &pull(repo), &[], Body::Empty)?;
            if resp.status().as_u16() != 200 {
                return Err(self.refused(resp, &format!("blob {} of {repo}", desc.digest)));
            }
            self.http
                .body_to_vec(&mut resp, desc.size.saturating_add(1))
                .map_err(|e| Failure::Retry(anyhow!("download of {} broke: {e}", desc.digest)))
        })?;
        let digest = oci::sha256_digest(&bytes);
        if bytes.len() as u64 != desc.size || digest != desc.digest {
            anyhow::bail!(
                "blob {} from {}/{repo} is {} bytes with digest {digest}: refusing it",
                desc.digest,
                self.host,
                bytes.len()
            );
        }
        Ok(bytes)
    }

    /// Mounts a blob from another repository of the same registry; false when the
    /// registry declines (the upload session it opened instead is cancelled).
    pub fn mount_blob(&self, repo: &str, desc: &Descriptor, from: &str) -> Result<bool> {
        let scope = format!("{} {}", push(repo), pull(from));
        let url = format!(
            "{}/v2/{repo}/blobs/uploads/?mount={}&from={from}",
            self.base, desc.digest
        );
        self.retrying(&format!("mount of {}", desc.digest), || {
            let resp = self.send(
                "POST",
                &url,
                &scope,
                &[("Content-Length", "0")],
                Body::Empty,
            )?;
            match resp.status().as_u16() {
                201 => Ok(true),
                202 => {
                    let location = self.location(&resp)?;
                    self.cancel(&location, &scope);
                    Ok(false)
                }
                _ => Err(self.refused(resp, &format!("mount into {repo}"))),
            }
        })
    }

    /// Opens an upload session; returns its location.
    fn start_upload(&self, repo: &str, scope: &str) -> Attempt<String> {
        let url = format!("{}/v2/{repo}/blobs/uploads/", self.base);
        let resp = self.send("POST", &url, scope, &[("Content-Length", "0")], Body::Empty)?;
        match resp.status().as_u16() {
            202 => self.location(&resp),
            _ => Err(self.refused(resp, &format!("upload to {repo}"))),
        }
    }

    /// Uploads a blob from `path` (callers HEAD first: `has_blob`).
    pub fn put_blob(&self, repo: &str, desc: &Descriptor, path: &Path) -> Result<Uploaded> {
        let up = Upload {
            repo,
            desc,
            path,
            scope: push(repo),
        };
        self.retrying(&format!("upload of {}", desc.digest), || {
            let location = self.start_upload(repo, &up.scope)?;
            let sent = if desc.size > self.chunk_size {
                self.upload_chunked(&up, &location)
            } else {
                self.upload_whole(&up, &location)
            };
            // The next attempt opens a new session: release this one.
            if let Err(Failure::Retry(_)) = &sent {
                self.cancel(&location, &up.scope);
            }
            sent.map(|()| Uploaded::Pushed)
        })
    }

    fn upload_whole(&self, up: &Upload, location: &str) -> Attempt<()> {
        let Upload {
            repo, desc, path, ..
        } = *up;
        let url = with_query(location, "digest", &desc.digest);
        let len = desc.size.to_string();
        let headers = [
            ("Content-Type", "application/octet-stream"),
            ("Content-Length", len.as_str()),
        ];
        let body = Body::File {
            path,
            offset: 0,
            len: desc.size,
        };
        let resp = self.send("PUT", &url, &up.scope, &headers, body)?;
        match resp.status().as_u16() {
            201 | 204 => Ok(()),
            // Some registries take blobs only in chunks.
            405 | 413 | 416 => {
                drop(resp);
                self.cancel(location, &up.scope);
                let location = self.start_upload(repo, &up.scope)?;
                self.upload_chunked(up, &location)
            }
            _ => Err(self.refused(resp, &format!("upload of {} to {repo}", desc.digest))),
        }
    }

    fn upload_chunked(&self, up: &Upload, location: &str) -> Attempt<()> {
        let Upload {
            repo, desc, path, ..
        } = *up;
        let mut location = location.to_string();
        let mut offset = 0;
        let chunk = self.chunk_size.max(1);
        while offset < desc.size {
            let len = chunk.min(desc.size - offset);
            let range = format!("{offset}-{}", offset + len - 1);
            let length = len.to_string();
            let headers = [
                ("Content-Type", "application/octet-stream"),
                ("Content-Range", range.as_str()),
                ("Content-Length", length.as_str()),
            ];
            let body = Body::File { path, offset, len };
            let resp = self.send("PATCH", &location, &up.scope, &headers, body)?;
            if resp.status().as_u16() != 202 {
                return Err(
                    self.refused(resp, &format!("chunk {range} of {} to {repo}", desc.digest))
                );
            }
            location = self.location(&resp)?;
            offset += len;
        }
        let url = with_query(&location, "digest", &desc.digest);
        let resp = self.send(
            "PUT",
            &url,
            &up.scope,
            &[("Content-Length", "0")],
            Body::Empty,
        )?;
        match resp.status().as_u16() {
            201 | 204 => Ok(()),
            _ => Err(self.refused(resp, &format!("upload of {} to {repo}", desc.digest))),
        }
    }

    /// Best effort: a refused upload session is released.
    fn cancel(&self, location: &str, scope: &str) {
        let _ = self.send("DELETE", location, scope, &[], Body::Empty);
    }
}

/// One blob on its way up.
pub(super) struct Upload<'a> {
    repo: &'a str,
    desc: &'a Descriptor,
    path: &'a Path,
    scope: String,
}
