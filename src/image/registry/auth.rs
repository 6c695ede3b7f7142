//! Registry authentication: the `WWW-Authenticate` challenge, Basic credentials, and
//! the Bearer token flow, with credentials from the Docker and Podman configuration.
//! `send` calls it only for a 401 from the registry's own origin.
//!
//! Credentials never reach a message: errors name the host and the fix, not the secret.

use anyhow::{anyhow, bail, Result};
use base64::Engine as _;

use super::{path_of, Client};
use crate::net::{Attempt, Failure};

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

impl Client {
    pub(super) fn credential(&self) -> Option<&Credential> {
        self.credential
            .get_or_init(|| Credential::lookup(&self.host))
            .as_ref()
    }

    pub(super) fn cached_authorization(&self, scope: &str) -> Option<String> {
        let map = self.authorization.lock().ok()?;
        map.get(scope).or_else(|| map.get("")).cloned()
    }

    /// Answers a 401: Basic from the configured credential, or a Bearer token from the
    /// realm (with the credential, if any, as Basic auth to the token endpoint).
    pub(super) fn authenticate(&self, challenge: &str, scope: &str) -> Attempt<()> {
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
            query.push(format!("service={}", query_escape(s)));
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
            query.push(format!("scope={}", query_escape(s)));
        }
        if realm.to_ascii_lowercase().starts_with("http://") && self.base.starts_with("https://") {
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
                form.push(format!("scope={}", query_escape(&scopes.join(" "))));
                form.push("grant_type=refresh_token".into());
                form.push("client_id=xx".into());
                form.push(format!("refresh_token={}", query_escape(refresh)));
                self.http
                    .agent()
                    .post(realm)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .send(form.join("&").as_bytes())
                    .map_err(|e| Failure::Retry(anyhow!("token endpoint: {e}")))?
            }
            other => {
                let sep = if realm.contains('?') { '&' } else { '?' };
                let url = format!("{realm}{sep}{}", query.join("&"));
                let mut req = self.http.agent().get(&url);
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
        let body = self
            .http
            .body_to_vec(&mut resp, 1 << 20)
            .map_err(|e| Failure::Retry(anyhow!("token endpoint: {e}")))?;
        token_from_response(&body).map_err(|e| failed(e.to_string()))
    }
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
