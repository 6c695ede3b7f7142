//! The HTTP layer every download and registry call goes through: one agent (the system's
//! CA roots, connect/read/write timeouts), retries with backoff, a progress-based
//! deadline on response bodies (a peer dripping bytes is dropped, not waited on
//! forever), and verified downloads into a content-addressed cache.
//!
//! Blocking (ureq): the helpers that share this binary start thousands of times per
//! build, and no async runtime is worth that.

pub mod download;
mod rate;
mod resolve;
mod retry;
mod tls;

use std::io::{self, Read};
use std::time::Duration;

use ureq::http::Response;

use crate::context::Context;
pub use download::download;
pub use rate::Floor;
pub use retry::{retrying, Attempt, Failure};

/// An HTTP client with xx's settings.
pub struct Http {
    agent: ureq::Agent,
    floor: Floor,
}

impl Http {
    pub fn new(ctx: &Context) -> Http {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("xx/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(30)))
            // A peer that goes silent mid-body is a dropped connection (retried), not a
            // hang; the answer to a final PUT may take a while (the registry hashes).
            .timeout_per_read(Some(Duration::from_secs(60)))
            .timeout_per_write(Some(Duration::from_secs(60)))
            .timeout_recv_response(Some(Duration::from_secs(600)))
            .tls_config(tls::config(ctx))
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::default(),
            resolve::CachingResolver::default(),
        );
        Http {
            agent,
            floor: Floor::from_context(ctx),
        }
    }

    pub fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    /// A response body as a reader of at most `limit` bytes that fails when the peer
    /// sends slower than the floor allows.
    pub fn body<'a>(&self, resp: &'a mut Response<ureq::Body>, limit: u64) -> impl Read + 'a {
        let reader = resp.body_mut().with_config().limit(limit).reader();
        self.floor.watch(reader)
    }

    /// A whole (small) response body: at most `limit` bytes, watched like [`Http::body`].
    pub fn body_to_vec(&self, resp: &mut Response<ureq::Body>, limit: u64) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.body(resp, limit).read_to_end(&mut out)?;
        Ok(out)
    }
}

/// A small document (an index's Release file): at most `limit` bytes, retried like
/// every download; `None` when the server says it has no such file (404/410).
pub fn get_small(http: &Http, url: &str, limit: u64) -> anyhow::Result<Option<Vec<u8>>> {
    let place = origin(url).unwrap_or_else(|| url.to_string());
    retrying(&format!("GET {url}"), &place, "is the mirror up?", || {
        let mut resp = http
            .agent()
            .get(url)
            .call()
            .map_err(|e| Failure::Retry(anyhow::anyhow!("{e}")))?;
        match resp.status().as_u16() {
            200 => http
                .body_to_vec(&mut resp, limit)
                .map(Some)
                .map_err(|e| Failure::Retry(anyhow::anyhow!("{url}: {e}"))),
            404 | 410 => Ok(None),
            s if s >= 500 || s == 429 => Err(Failure::Retry(anyhow::anyhow!("HTTP {s}"))),
            s => Err(Failure::Fatal(anyhow::anyhow!("{url}: HTTP {s}"))),
        }
    })
}

/// `scheme://host:port` of a URL, lowercased, with the scheme's default port filled in,
/// so two spellings of one origin compare equal. None for anything but http(s).
pub fn origin(url: &str) -> Option<String> {
    let uri: ureq::http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let host = uri.host()?.to_ascii_lowercase();
    Some(format!(
        "{scheme}://{host}:{}",
        uri.port_u16().unwrap_or(default)
    ))
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn origins_compare_by_scheme_host_and_port() {
        assert_eq!(
            origin("http://127.0.0.1:5000/v2/a"),
            origin("HTTP://127.0.0.1:5000/x?y")
        );
        assert_eq!(
            origin("https://Reg.Test/v2/"),
            origin("https://reg.test:443/")
        );
        assert_ne!(
            origin("http://127.0.0.1:5000/"),
            origin("http://127.0.0.1:5001/")
        );
        assert_ne!(origin("http://reg.test/"), origin("https://reg.test/"));
        assert_eq!(
            origin("http://a@reg.test:1/").as_deref(),
            Some("http://reg.test:1")
        );
        assert_eq!(origin("ftp://reg.test/"), None);
        assert_eq!(origin("/v2/relative"), None);
    }
}
