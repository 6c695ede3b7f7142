//! A registry's answers that are not what was asked: its refusals as one line (its own
//! error codes and messages), and the upload Location it must send.

use anyhow::anyhow;
use ureq::http::Response;

use super::{header, Client};
use crate::net::{Attempt, Failure};

impl Client {
    pub(super) fn location(&self, resp: &Response<ureq::Body>) -> Attempt<String> {
        let loc = header(resp, "location")
            .ok_or_else(|| anyhow!("{}: upload answered without a Location header", self.host))?;
        Ok(resolve_location(&self.base, &loc))
    }

    /// A registry refusal as one line: the registry's own error codes and messages.
    pub(super) fn refused(&self, mut resp: Response<ureq::Body>, what: &str) -> Failure {
        let status = resp.status().as_u16();
        let body = self
            .http
            .body_to_vec(&mut resp, 64 << 10)
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

/// An upload Location as a URL: absolute as given, `//host/…` with our scheme, `/path`
/// on our origin, anything else relative to the uploads directory (RFC 3986 in short).
pub(super) fn resolve_location(base: &str, loc: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
