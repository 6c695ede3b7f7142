//! A blocking OCI distribution client: HEAD before upload, cross-repository mount,
//! monolithic upload (POST then PUT) with chunked PATCH for large blobs or when a
//! registry refuses the single PUT, manifests by digest then tag, Basic and Bearer auth,
//! and retries with backoff on 5xx, 429 and dropped connections.
//!
//! Blocking (ureq) rather than `oci-client`: that crate is async (a tokio runtime in a
//! multi-call binary whose other personalities start thousands of times per build), holds
//! blobs in memory and does not retry; here blobs stream from and to files, and every
//! step retries on its own.

pub mod auth;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use ureq::http::Response;

use super::oci::{self, Descriptor, Hashing};
use super::progress;
use super::reference::RegistryRef;
use auth::{Challenge, Credential};

/// Media types a pull accepts: OCI and Docker, indexes and manifests.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Manifests above this are refused, as registries do (4 MiB).
const MAX_MANIFEST: u64 = 4 << 20;

const ATTEMPTS: u32 = 5;

pub struct Client {
    agent: ureq::Agent,
    base: String,
    host: String,
    /// Authorization header per scope (Bearer tokens are scoped; Basic is per host).
    authorization: Mutex<HashMap<String, String>>,
    /// Looked up at the first 401 (a credsStore helper is a process; anonymous pulls
    /// need none).
    credential: OnceLock<Option<Credential>>,
    chunk_size: u64,
}

/// An error worth another attempt (5xx, 429, connection) or not.
enum Failure {
    Retry(anyhow::Error),
    Fatal(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Fatal(e)
    }
}

type Attempt<T> = std::result::Result<T, Failure>;

/// What an upload did, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploaded {
    Exists,
    Mounted,
    Pushed,
}

impl Client {
    /// A client for one registry host; plain HTTP for loopback or when asked.
    pub fn new(reference: &RegistryRef, insecure: bool) -> Client {
        let endpoint = super::reference::endpoint_for(
            &reference.host,
            std::env::var(crate::env_vars::XX_REGISTRY_ENDPOINTS)
                .ok()
                .as_deref(),
        );
        let scheme = if insecure || super::reference::is_loopback_host(&endpoint) {
            "http"
        } else {
            "https"
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("xx/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(30)))
            // A peer that goes silent mid-blob is a dropped connection (retried), not a
            // hang; the answer to a final PUT may take a while (the registry hashes).
            .timeout_per_read(Some(Duration::from_secs(60)))
            .timeout_per_write(Some(Duration::from_secs(60)))
            .timeout_recv_response(Some(Duration::from_secs(600)))
            .tls_config(tls_config())
            .build()
            .new_agent();
        let chunk_size = std::env::var(crate::env_vars::XX_REGISTRY_CHUNK_SIZE)
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n: &u64| n > 0)
            .unwrap_or(64 << 20);
        Client {
            agent,
            base: format!("{scheme}://{endpoint}"),
            host: reference.host.clone(),
            authorization: Mutex::new(HashMap::new()),
            credential: OnceLock::new(),
            chunk_size,
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

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
            let bytes = resp
                .body_mut()
                .with_config()
                .limit(MAX_MANIFEST)
                .read_to_vec()
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

    /// Streams a blob into `dest` (created or truncated), checking its size and digest;
    /// a dropped connection starts the blob again.
    pub fn get_blob(&self, repo: &str, desc: &Descriptor, dest: &Path) -> Result<()> {
        let url = format!("{}/v2/{repo}/blobs/{}", self.base, desc.digest);
        self.retrying(&format!("GET {}", desc.digest), || {
            let mut resp = self.send("GET", &url, &pull(repo), &[], Body::Empty)?;
            if resp.status().as_u16() != 200 {
                return Err(self.refused(resp, &format!("blob {} of {repo}", desc.digest)));
            }
            let file =
                File::create(dest).with_context(|| format!("cannot write {}", dest.display()))?;
            let mut out = io::BufWriter::with_capacity(1 << 20, Hashing::new(file));
            let mut reader = resp
                .body_mut()
                .with_config()
                .limit(desc.size.saturating_add(1))
                .reader();
            copy_reporting(&mut reader, &mut out, &desc.digest, dest)?;
            let (file, hex, size) = out
                .into_inner()
                .map_err(|e| anyhow!("cannot write {}: {}", dest.display(), e.error()))?
                .finish();
            // A crash after the rename must not leave a short blob under a digest name.
            file.sync_all()
                .with_context(|| format!("cannot write {}", dest.display()))?;
            let digest = format!("sha256:{hex}");
            if size != desc.size || digest != desc.digest {
                return Err(Failure::Fatal(anyhow!(
                    "blob {} from {}/{repo} is {size} bytes with digest {digest}: refusing it",
                    desc.digest,
                    self.host
                )));
            }
            Ok(())
        })
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

    /// Runs `attempt` until it succeeds, fails for good, or runs out of attempts
    /// (backoff 0.25 s, 0.5 s, 1 s, 2 s).
    fn retrying<T>(&self, what: &str, mut attempt: impl FnMut() -> Attempt<T>) -> Result<T> {
        let mut delay = Duration::from_millis(250);
        for n in 1..=ATTEMPTS {
            match attempt() {
                Ok(v) => return Ok(v),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry(e)) if n == ATTEMPTS => {
                    let hint = if self.base.starts_with("https://") {
                        "is the registry up? a plain-HTTP one needs --insecure"
                    } else {
                        "is the registry up?"
                    };
                    return Err(e.context(format!(
                        "{what} on {} failed {ATTEMPTS} times ({hint})",
                        self.host
                    )));
                }
                Err(Failure::Retry(e)) => {
                    progress::note(&format!("{what}: {e:#}; retrying in {delay:?}"));
                    std::thread::sleep(delay);
                    delay *= 2;
                }
            }
        }
        unreachable!("the last attempt returns")
    }

    /// One request, authenticating once when the registry answers 401.
    fn send(
        &self,
        method: &str,
        url: &str,
        scope: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Attempt<Response<ureq::Body>> {
        let mut authenticated = false;
        loop {
            let resp = self.send_once(method, url, scope, headers, &body)?;
            if resp.status().as_u16() != 401 || authenticated {
                if resp.status().as_u16() == 401 {
                    return Err(Failure::Fatal(anyhow!(
                        "{}: access denied (401) for {scope}; log in with `docker login {}` or check the credentials in ~/.docker/config.json",
                        self.host,
                        self.host
                    )));
                }
                let status = resp.status().as_u16();
                if status >= 500 || status == 429 {
                    return Err(Failure::Retry(anyhow!(
                        "{method} {}: HTTP {status}",
                        path_of(url)
                    )));
                }
                return Ok(resp);
            }
            let challenge = header(&resp, "www-authenticate").unwrap_or_default();
            self.authenticate(&challenge, scope)?;
            authenticated = true;
        }
    }

    fn send_once(
        &self,
        method: &str,
        url: &str,
        scope: &str,
        headers: &[(&str, &str)],
        body: &Body,
    ) -> Attempt<Response<ureq::Body>> {
        let mut request = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        // Credentials and tokens go to this registry only, never to a host an upload
        // Location names.
        let own_origin = url.starts_with(&format!("{}/", self.base));
        if let Some(auth) = self.cached_authorization(scope).filter(|_| own_origin) {
            request = request.header("Authorization", auth);
        }
        let transport =
            |e: ureq::Error| Failure::Retry(anyhow!("{method} {}: {}", path_of(url), e));
        let result = match body {
            Body::Empty => {
                let request = request.body(()).map_err(|e| anyhow!("bad request: {e}"))?;
                self.agent.run(request)
            }
            Body::Bytes(b) => {
                let request = request.body(*b).map_err(|e| anyhow!("bad request: {e}"))?;
                self.agent.run(request)
            }
            Body::File { path, offset, len } => {
                let mut file =
                    File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
                file.seek(SeekFrom::Start(*offset))
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let mut reader = Counted {
                    inner: file.take(*len),
                    transfer: progress::transfer(),
                };
                let body = ureq::SendBody::from_reader(&mut reader);
                let request = request
                    .body(body)
                    .map_err(|e| anyhow!("bad request: {e}"))?;
                self.agent.run(request)
            }
        };
        result.map_err(transport)
    }

    fn credential(&self) -> Option<&Credential> {
        self.credential
            .get_or_init(|| Credential::lookup(&self.host))
            .as_ref()
    }

    fn cached_authorization(&self, scope: &str) -> Option<String> {
        let map = self.authorization.lock().ok()?;
        map.get(scope).or_else(|| map.get("")).cloned()
    }

    /// Answers a 401: Basic from the configured credential, or a Bearer token from the
    /// realm (with the credential, if any, as Basic auth to the token endpoint).
    fn authenticate(&self, challenge: &str, scope: &str) -> Attempt<()> {
        let parsed = Challenge::parse(challenge).ok_or_else(|| {
            anyhow!(
                "{}: access denied (401) without a usable WWW-Authenticate challenge",
                self.host
            )
        })?;
        let (key, value) = match parsed {
            Challenge::Basic => {
                let basic = self
                    .credential()
                    .and_then(Credential::basic_header)
                    .ok_or_else(|| {
                        anyhow!(
                            "{}: the registry wants a user name and password; log in with `docker login {}` (or podman login)",
                            self.host,
                            self.host
                        )
                    })?;
                (String::new(), basic)
            }
            Challenge::Bearer {
                realm,
                service,
                scope: wanted,
            } => {
                let token = self.fetch_token(
                    &realm,
                    service.as_deref(),
                    wanted.as_deref().unwrap_or(scope),
                    scope,
                )?;
                (scope.to_string(), format!("Bearer {token}"))
            }
        };
        if let Ok(mut map) = self.authorization.lock() {
            map.insert(key, value);
        }
        Ok(())
    }

    fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        wanted: &str,
        ours: &str,
    ) -> Attempt<String> {
        let mut query = Vec::new();
        if let Some(s) = service {
            query.push(format!("service={}", auth::query_escape(s)));
        }
        // Our scopes and the challenge's, each as its own parameter.
        let mut scopes: Vec<&str> = Vec::new();
        for s in ours.split(' ').chain(wanted.split(' ')) {
            if !s.is_empty() && !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        let service = query.clone();
        for s in &scopes {
            query.push(format!("scope={}", auth::query_escape(s)));
        }
        if realm.starts_with("http://") && self.base.starts_with("https://") {
            return Err(Failure::Fatal(anyhow!(
                "{}: the registry sends credentials to a plain-HTTP token service ({}); refusing",
                self.host,
                path_of(realm)
            )));
        }
        let failed = |what: String| {
            Failure::Fatal(anyhow!(
                "{}: token request to {} failed: {what}; check `docker login {}`",
                self.host,
                path_of(realm),
                self.host
            ))
        };
        let mut resp = match self.credential() {
            Some(Credential::Identity(refresh)) => {
                // OAuth2 refresh grant (docker's identity tokens).
                // OAuth2 takes one space-separated scope.
                let mut form = service;
                form.push(format!("scope={}", auth::query_escape(&scopes.join(" "))));
                form.push("grant_type=refresh_token".into());
                form.push("client_id=xx".into());
                form.push(format!("refresh_token={}", auth::query_escape(refresh)));
                self.agent
                    .post(realm)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .send(form.join("&").as_bytes())
                    .map_err(|e| Failure::Retry(anyhow!("token endpoint: {e}")))?
            }
            other => {
                let sep = if realm.contains('?') { '&' } else { '?' };
                let url = format!("{realm}{sep}{}", query.join("&"));
                let mut req = self.agent.get(&url);
                if let Some(basic) = other.and_then(Credential::basic_header) {
                    req = req.header("Authorization", basic);
                }
                req.call()
                    .map_err(|e| Failure::Retry(anyhow!("token endpoint: {e}")))?
            }
        };
        let status = resp.status().as_u16();
        if status >= 500 {
            return Err(Failure::Retry(anyhow!("token endpoint: HTTP {status}")));
        }
        if status != 200 {
            return Err(failed(format!("HTTP {status}")));
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .map_err(|e| Failure::Retry(anyhow!("token endpoint: {e}")))?;
        auth::token_from_response(&body).map_err(|e| failed(e.to_string()))
    }

    fn location(&self, resp: &Response<ureq::Body>) -> Attempt<String> {
        let loc = header(resp, "location")
            .ok_or_else(|| anyhow!("{}: upload answered without a Location header", self.host))?;
        Ok(resolve_location(&self.base, &loc))
    }

    /// A registry refusal as one line: the registry's own error codes and messages.
    fn refused(&self, mut resp: Response<ureq::Body>, what: &str) -> Failure {
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 << 10)
            .read_to_vec()
            .unwrap_or_default();
        let detail = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                let errors = v["errors"].as_array()?;
                let parts: Vec<String> = errors
                    .iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e["code"].as_str().unwrap_or("?"),
                            e["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                Some(parts.join("; "))
            })
            .unwrap_or_else(|| format!("HTTP {status}"));
        Failure::Fatal(anyhow!("{} refused {what}: {detail}", self.host))
    }
}

/// One blob on its way up.
struct Upload<'a> {
    repo: &'a str,
    desc: &'a Descriptor,
    path: &'a Path,
    scope: String,
}

enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    File {
        path: &'a Path,
        offset: u64,
        len: u64,
    },
}

/// The system's CA bundle (`SSL_CERT_FILE`, else Debian's ca-certificates file), so a
/// registry signed by a CA added with update-ca-certificates is trusted; the bundled
/// Mozilla roots when neither is there.
fn tls_config() -> ureq::tls::TlsConfig {
    let file = std::env::var_os(crate::env_vars::SSL_CERT_FILE)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
    tls_config_from(&file)
}

fn tls_config_from(file: &Path) -> ureq::tls::TlsConfig {
    use ureq::tls::{parse_pem, PemItem, RootCerts, TlsConfig};
    let certs: Vec<_> = std::fs::read(file)
        .map(|pem| {
            parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(PemItem::Certificate(c)) => Some(c.to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let roots = if certs.is_empty() {
        RootCerts::WebPki
    } else {
        RootCerts::from(certs)
    };
    TlsConfig::builder().root_certs(roots).build()
}

/// An upload Location as a URL: absolute as given, `//host/…` with our scheme, `/path`
/// on our origin, anything else relative to the uploads directory (RFC 3986 in short).
fn resolve_location(base: &str, loc: &str) -> String {
    if loc.starts_with("http://") || loc.starts_with("https://") {
        loc.to_string()
    } else if let Some(rest) = loc.strip_prefix("//") {
        let scheme = base.split("://").next().unwrap_or("https");
        format!("{scheme}://{rest}")
    } else if loc.starts_with('/') {
        format!("{base}{loc}")
    } else {
        format!("{base}/v2/{loc}")
    }
}

/// Copies a download: a broken read is a dropped connection (retried), a failed write
/// is local (disk full…) and final.
fn copy_reporting(
    reader: &mut impl Read,
    out: &mut impl io::Write,
    digest: &str,
    dest: &Path,
) -> Attempt<()> {
    let mut buf = vec![0; 256 << 10];
    let transfer = progress::transfer();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Retry(anyhow!("download of {digest} broke: {e}"))),
        };
        out.write_all(&buf[..n])
            .map_err(|e| Failure::Fatal(anyhow!("cannot write {}: {e}", dest.display())))?;
        transfer.moved(n as u64);
    }
}

/// An upload body that reports its bytes to the progress line.
struct Counted<R> {
    inner: R,
    transfer: progress::Transfer,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.transfer.moved(n as u64);
        Ok(n)
    }
}

fn pull(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

fn push(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

fn header(resp: &Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn with_query(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={}", auth::query_escape(value))
}

/// A URL without its query (upload session state and tokens stay out of messages).
fn path_of(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_from_a_pem_bundle_else_mozilla() {
        use ureq::tls::RootCerts;
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("bundle.pem");
        std::fs::write(
            &pem,
            "junk\n-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n\
             -----BEGIN CERTIFICATE-----\nAwQF\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        match tls_config_from(&pem).root_certs() {
            RootCerts::Specific(certs) => assert_eq!(certs.len(), 2),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            tls_config_from(&dir.path().join("missing")).root_certs(),
            RootCerts::WebPki
        ));
    }

    #[test]
    fn locations_resolve_against_the_registry() {
        let base = "https://reg.test:5000";
        assert_eq!(
            resolve_location(base, "/v2/a/blobs/uploads/u1?_state=x"),
            "https://reg.test:5000/v2/a/blobs/uploads/u1?_state=x"
        );
        assert_eq!(
            resolve_location(base, "//storage.test/up/1"),
            "https://storage.test/up/1"
        );
        assert_eq!(
            resolve_location(base, "http://other.test/up"),
            "http://other.test/up"
        );
        assert_eq!(
            resolve_location(base, "a/blobs/uploads/u2"),
            "https://reg.test:5000/v2/a/blobs/uploads/u2"
        );
    }
}
