//! A blocking OCI distribution client, split by job: `send` (one request, the 401 flow
//! on the registry's own origin), `auth` (challenges, credentials, tokens), `blobs`
//! (HEAD, GET, mount, monolithic and chunked upload), `manifests`, `errors` (the
//! registry's refusals as one line). HTTP, retries and the body deadline are `net`'s.
//!
//! Blocking (ureq) rather than `oci-client`: that crate is async (a tokio runtime in a
//! multi-call binary whose other personalities start thousands of times per build), holds
//! blobs in memory and does not retry; here blobs stream from and to files, and every
//! step retries on its own.

pub mod auth;
mod blobs;
mod errors;
mod manifests;
mod send;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::copy::Transport;
use super::reference::RegistryRef;
use crate::env_vars as ev;
use crate::net::{Attempt, Http};
use auth::Credential;

/// Media types a pull accepts: OCI and Docker, indexes and manifests.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Manifests above this are refused, as registries do (4 MiB).
const MAX_MANIFEST: u64 = 4 << 20;

pub struct Client {
    http: Http,
    /// `scheme://endpoint`: where requests go.
    base: String,
    /// The registry's name (credentials are looked up by it).
    host: String,
    /// Authorization header per scope (Bearer tokens are scoped; Basic is per host).
    authorization: Mutex<HashMap<String, String>>,
    /// Looked up at the first 401 (a credsStore helper is a process; anonymous pulls
    /// need none).
    credential: OnceLock<Option<Credential>>,
    chunk_size: u64,
}

/// What an upload did, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploaded {
    Exists,
    Mounted,
    Pushed,
}

impl Client {
    /// A client for one registry host; plain HTTP for loopback or when asked.
    pub fn new(reference: &RegistryRef, t: Transport) -> Client {
        let ctx = t.ctx;
        let endpoint =
            super::reference::endpoint_for(&reference.host, ctx.var(ev::XX_REGISTRY_ENDPOINTS));
        let scheme = if t.insecure || super::reference::is_loopback_host(&endpoint) {
            "http"
        } else {
            "https"
        };
        let chunk_size = ctx
            .var(ev::XX_REGISTRY_CHUNK_SIZE)
            .and_then(|v| v.parse().ok())
            .filter(|&n: &u64| n > 0)
            .unwrap_or(64 << 20);
        Client {
            http: Http::new(ctx),
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

    /// Runs `attempt` with retries; the last error asks whether the registry is up.
    fn retrying<T>(&self, what: &str, attempt: impl FnMut() -> Attempt<T>) -> anyhow::Result<T> {
        let hint = if self.base.starts_with("https://") {
            "is the registry up? a plain-HTTP one needs --insecure"
        } else {
            "is the registry up?"
        };
        crate::net::retrying(what, &self.host, hint, attempt)
    }
}

fn pull(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

fn push(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
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
