//! Registry authentication: the `WWW-Authenticate` challenge, Basic credentials, and
//! the Bearer token flow, with credentials from the Docker and Podman configuration.
//!
//! Credentials never reach a message: errors name the host and the fix, not the secret.

use anyhow::{anyhow, bail, Result};
use base64::Engine as _;

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

impl Challenge {
    pub fn parse(header: &str) -> Option<Challenge> {
        let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        let params = parse_params(params);
        let get = |k: &str| {
            params
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            return Some(Challenge::Bearer {
                realm: get("realm")?,
                service: get("service"),
                scope: get("scope"),
            });
        }
        None
    }
}

/// `k="v", k2=v2`: quoted values may hold commas (scopes do: `pull,push`).
fn parse_params(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end.min(quoted.len())..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        out.push((key, value));
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// What the user's configuration holds for a registry host.
#[derive(Clone)]
pub enum Credential {
    Basic {
        username: String,
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken` in config.json).
    Identity(String),
}

impl Credential {
    /// `~/.docker/config.json` / `$DOCKER_CONFIG` (auths, credsStore, credHelpers), then
    /// podman's auth.json (`$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers`,
    /// `~/.config/containers`). None when nothing is configured for the host.
    pub fn lookup(host: &str) -> Option<Credential> {
        let found = docker_credential::get_credential(host)
            .or_else(|_| docker_credential::get_podman_credential(host))
            .ok()?;
        Some(match found {
            docker_credential::DockerCredential::UsernamePassword(username, password) => {
                Credential::Basic { username, password }
            }
            docker_credential::DockerCredential::IdentityToken(token) => {
                Credential::Identity(token)
            }
        })
    }

    pub fn basic_header(&self) -> Option<String> {
        match self {
            Credential::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
            Credential::Identity(_) => None,
        }
    }
}

/// The token endpoint's answer: `token` or `access_token`.
pub fn token_from_response(body: &[u8]) -> Result<String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| anyhow!("token endpoint answered non-JSON"))?;
    for key in ["token", "access_token"] {
        if let Some(t) = v[key].as_str().filter(|t| !t.is_empty()) {
            return Ok(t.to_string());
        }
    }
    bail!("token endpoint answered without a token")
}

/// Percent-encoding for query values (RFC 3986 unreserved characters kept).
pub fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            Challenge::parse(
                r#"Bearer realm="https://auth.example/token",service="reg.example",scope="repository:a/b:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("reg.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(
            Challenge::parse("Bearer realm=http://127.0.0.1:1/t"),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/t".into(),
                service: None,
                scope: None
            })
        );
        assert_eq!(Challenge::parse("Negotiate"), None);
    }

    #[test]
    fn tokens_and_escapes() {
        assert_eq!(token_from_response(br#"{"token":"t1"}"#).unwrap(), "t1");
        assert_eq!(
            token_from_response(br#"{"access_token":"t2","expires_in":60}"#).unwrap(),
            "t2"
        );
        assert!(token_from_response(b"{}").is_err());
        assert_eq!(
            query_escape("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
    }
}
