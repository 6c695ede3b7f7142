//! Image references: where an image is read from or written to.
//!
//! `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:NAME[:TAG]]` and
//! `docker://HOST/REPO[:TAG|@DIGEST]` (the `docker://` prefix may be left out when the
//! first component names a host). xx has no default registry: a reference names its host.

use std::fmt;
use std::path::PathBuf;

use anyhow::{bail, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Layout { dir: PathBuf, tag: String },
    OciArchive { file: PathBuf, tag: String },
    DockerArchive { file: PathBuf, name: Option<String> },
    Registry(RegistryRef),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRef {
    /// `host[:port]`, as written.
    pub host: String,
    pub repo: String,
    /// A tag or a `sha256:` digest.
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tag(String),
    Digest(String),
}

impl Target {
    pub fn as_str(&self) -> &str {
        match self {
            Target::Tag(t) | Target::Digest(t) => t,
        }
    }
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Tag(t) => write!(f, "{}/{}:{t}", self.host, self.repo),
            Target::Digest(d) => write!(f, "{}/{}@{d}", self.host, self.repo),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Layout { dir, tag } => write!(f, "oci:{}:{tag}", dir.display()),
            Reference::OciArchive { file, tag } => {
                write!(f, "oci-archive:{}:{tag}", file.display())
            }
            Reference::DockerArchive { file, .. } => {
                write!(f, "docker-archive:{}", file.display())
            }
            Reference::Registry(r) => write!(f, "docker://{r}"),
        }
    }
}

impl Reference {
    pub fn parse(text: &str) -> Result<Reference> {
        if let Some(rest) = text.strip_prefix("oci:") {
            let (dir, tag) = path_and_tag(text, rest)?;
            return Ok(Reference::Layout { dir, tag });
        }
        if let Some(rest) = text.strip_prefix("oci-archive:") {
            let (file, tag) = path_and_tag(text, rest)?;
            return Ok(Reference::OciArchive { file, tag });
        }
        if let Some(rest) = text.strip_prefix("docker-archive:") {
            // skopeo's shape: FILE, then an optional docker reference after the first ':'.
            let (file, name) = match rest.split_once(':') {
                Some((f, n)) if !n.is_empty() => (f, Some(n.to_string())),
                _ => (rest.trim_end_matches(':'), None),
            };
            if file.is_empty() {
                bail!("{text}: expected docker-archive:FILE[:NAME:TAG]");
            }
            return Ok(Reference::DockerArchive {
                file: PathBuf::from(file),
                name,
            });
        }
        let rest = text.strip_prefix("docker://").unwrap_or(text);
        RegistryRef::parse(rest)
            .map(Reference::Registry)
            .map_err(|e| anyhow::anyhow!("{text}: {e}"))
    }

    /// The tag a layout or registry reference names, if any.
    pub fn tag(&self) -> Option<&str> {
        match self {
            Reference::Layout { tag, .. } | Reference::OciArchive { tag, .. } => Some(tag),
            Reference::Registry(RegistryRef {
                target: Target::Tag(t),
                ..
            }) => Some(t),
            _ => None,
        }
    }
}

/// `PATH[:TAG]`, the tag being what follows the last ':' when it holds no '/'.
fn path_and_tag(text: &str, rest: &str) -> Result<(PathBuf, String)> {
    let (path, tag) = match rest.rsplit_once(':') {
        Some((p, t)) if !t.contains('/') => (p, t),
        _ => (rest, "latest"),
    };
    if path.is_empty() || tag.is_empty() {
        let kind = text.split(':').next().unwrap_or_default();
        bail!("{text}: expected {kind}:PATH[:TAG]");
    }
    Ok((PathBuf::from(path), tag.to_string()))
}

impl RegistryRef {
    pub fn parse(text: &str) -> Result<RegistryRef> {
        let (name, target) = if let Some((n, d)) = text.split_once('@') {
            if super::oci::digest_hex(d).is_none() {
                bail!("{d:?} is not a sha256:<64 hex> digest");
            }
            (n, Target::Digest(d.to_string()))
        } else {
            match text.rsplit_once(':') {
                Some((n, t)) if !t.contains('/') => (n, Target::Tag(t.to_string())),
                _ => (text, Target::Tag("latest".to_string())),
            }
        };
        let (host, repo) = name.split_once('/').unwrap_or(("", name));
        if !looks_like_host(host) {
            bail!(
                "not an image reference; name the registry host, e.g. docker://HOST[:PORT]/REPO:TAG, \
                 or use oci:DIR[:TAG] (xx has no default registry)"
            );
        }
        let valid_component = |c: &str| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        };
        if !repo.split('/').all(valid_component) {
            bail!("repository {repo:?}: use lowercase letters, digits, '.', '_', '-' and '/'");
        }
        if let Target::Tag(t) = &target {
            let ok = t.len() <= 128
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                && !t.starts_with(['.', '-']);
            if !ok {
                bail!("tag {t:?}: use up to 128 letters, digits, '.', '_', '-'");
            }
        }
        Ok(RegistryRef {
            host: host.to_string(),
            repo: repo.to_string(),
            target,
        })
    }

    /// Loopback registries speak plain HTTP, as docker and skopeo allow for them.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }

    pub fn with_target(&self, target: Target) -> RegistryRef {
        RegistryRef {
            target,
            ..self.clone()
        }
    }
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
pub fn is_loopback_host(host: &str) -> bool {
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where to connect for a registry name: `XX_REGISTRY_ENDPOINTS` (`NAME=HOST[:PORT]`,
/// comma-separated) maps names to the hosts that serve them (a mirror, a name whose API
/// lives elsewhere); credentials stay keyed by the name.
pub fn endpoint_for(name: &str, config: Option<&str>) -> String {
    config
        .unwrap_or_default()
        .split(',')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| n.trim() == name)
        .map(|(_, endpoint)| endpoint.trim().to_string())
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| name.to_string())
}

fn looks_like_host(host: &str) -> bool {
    !host.is_empty() && (host.contains('.') || host.contains(':') || host == "localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(text: &str) -> RegistryRef {
        match Reference::parse(text).unwrap() {
            Reference::Registry(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn layouts_and_archives() {
        assert_eq!(
            Reference::parse("oci:out:v1").unwrap(),
            Reference::Layout {
                dir: "out".into(),
                tag: "v1".into()
            }
        );
        assert_eq!(Reference::parse("oci:a/b").unwrap().tag(), Some("latest"));
        assert_eq!(
            Reference::parse("oci-archive:x.tar").unwrap(),
            Reference::OciArchive {
                file: "x.tar".into(),
                tag: "latest".into()
            }
        );
        assert_eq!(
            Reference::parse("docker-archive:x.tar:app:1").unwrap(),
            Reference::DockerArchive {
                file: "x.tar".into(),
                name: Some("app:1".into())
            }
        );
        assert!(Reference::parse("oci:").is_err());
    }

    #[test]
    fn registries() {
        let r = reg("docker://127.0.0.1:5000/team/app:v1");
        assert_eq!(
            (r.host.as_str(), r.repo.as_str()),
            ("127.0.0.1:5000", "team/app")
        );
        assert_eq!(r.target, Target::Tag("v1".into()));
        assert!(r.is_loopback());
        assert_eq!(reg("localhost/app").target, Target::Tag("latest".into()));
        assert!(reg("[::1]:5000/app:x").is_loopback());
        assert!(!reg("registry.example/app").is_loopback());
        let map = Some("a.test=127.0.0.1:5000, b.test = c.test:443");
        assert_eq!(endpoint_for("a.test", map), "127.0.0.1:5000");
        assert_eq!(endpoint_for("b.test", map), "c.test:443");
        assert_eq!(endpoint_for("d.test", map), "d.test");
        assert_eq!(endpoint_for("d.test", None), "d.test");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(reg(&format!("h.example/app@{d}")).target, Target::Digest(d));
        for bad in [
            "app:latest",
            "library/app",
            "h.example/App",
            "h.example/app@sha256:xyz",
            "h.example/app:-x",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }
}
