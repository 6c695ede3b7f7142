//! A Packages index: the packages of one architecture (with `Architecture: all`),
//! by name and by what they provide; dependency fields parsed when a package is
//! visited, not for all sixty thousand.

use std::collections::HashMap;

use anyhow::{anyhow, Result};

use super::control;
use super::version::{Op, Version};

#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: Version,
    pub arch: String,
    pub multi_arch: String,
    pub essential: bool,
    pub depends: String,
    pub pre_depends: String,
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    /// Which source (archive) of the plan listed it.
    pub source: usize,
}

/// `name[:arch] [(op version)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub name: String,
    pub arch: Option<String>,
    pub constraint: Option<(Op, Version)>,
}

impl std::fmt::Display for Relation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if let Some(arch) = &self.arch {
            write!(f, ":{arch}")?;
        }
        if let Some((op, v)) = &self.constraint {
            write!(f, " ({} {v})", op.as_str())?;
        }
        Ok(())
    }
}

/// A Depends-style field: groups of alternatives (`a | b, c`).
pub fn parse_relations(field: &str) -> Result<Vec<Vec<Relation>>> {
    let mut groups = Vec::new();
    for group in field.split(',').map(str::trim).filter(|g| !g.is_empty()) {
        let alternatives = group
            .split('|')
            .map(|alt| parse_relation(alt.trim()))
            .collect::<Result<Vec<_>>>()?;
        groups.push(alternatives);
    }
    Ok(groups)
}

fn parse_relation(text: &str) -> Result<Relation> {
    // Build profiles and arch restrictions (`<!nocheck>`, `[amd64]`) only appear in
    // source relations; a binary index with them is read as if they were absent.
    let text = text[..restrictions_start(text)].trim();
    let (head, constraint) = match text.split_once('(') {
        Some((head, rest)) => {
            let inner = rest
                .trim_end()
                .strip_suffix(')')
                .ok_or_else(|| anyhow!("unbalanced relation {text:?}"))?;
            let inner = inner.trim();
            let split = inner
                .find(|c: char| !"<>=".contains(c))
                .unwrap_or(inner.len());
            let op = Op::parse(&inner[..split])
                .ok_or_else(|| anyhow!("bad operator in relation {text:?}"))?;
            let version = inner[split..].trim();
            if version.is_empty() {
                return Err(anyhow!("relation {text:?} has no version"));
            }
            (head.trim(), Some((op, Version::new(version))))
        }
        None => (text, None),
    };
    let (name, arch) = match head.split_once(':') {
        Some((n, a)) => (n, Some(a.to_string())),
        None => (head, None),
    };
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return Err(anyhow!("bad package name in relation {text:?}"));
    }
    Ok(Relation {
        name: name.to_string(),
        arch,
        constraint,
    })
}

/// Where `[arch…]` or `<profile…>` begins, outside the version constraint's parentheses.
fn restrictions_start(text: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            '[' | '<' if depth == 0 => return i,
            _ => {}
        }
    }
    text.len()
}

#[derive(Default)]
pub struct Index {
    pub packages: Vec<Package>,
    by_name: HashMap<String, Vec<usize>>,
    /// Virtual name → (provider, provided version).
    providers: HashMap<String, Vec<(usize, Option<Version>)>>,
}

impl Index {
    /// Adds the paragraphs of a Packages file from `source`, keeping those of `arch`
    /// and `all`. Paragraphs missing what a download needs are an error: the index
    /// verified against the Release, so a broken one is the archive's fault.
    pub fn add(&mut self, text: &str, arch: &str, source: usize) -> Result<()> {
        for p in control::paragraphs(text) {
            let field = |name| p.get(name).unwrap_or("");
            let pkg_arch = field("Architecture");
            if pkg_arch != arch && pkg_arch != "all" {
                continue;
            }
            let name = field("Package");
            let sha256 = field("SHA256");
            if name.is_empty() || sha256.len() != 64 || field("Filename").is_empty() {
                return Err(anyhow!("the Packages index has an entry without Package, Filename or SHA256 ({name:?})"));
            }
            let size = field("Size")
                .parse()
                .map_err(|_| anyhow!("{name}: bad Size in the Packages index"))?;
            let filename = field("Filename");
            if filename.starts_with('/') || filename.split('/').any(|c| c == ".." || c.is_empty()) {
                return Err(anyhow!(
                    "{name}: refusing the Packages index's Filename {filename:?}"
                ));
            }
            let id = self.packages.len();
            for provided in parse_relations(field("Provides"))
                .unwrap_or_default()
                .into_iter()
                .flatten()
            {
                let version = provided
                    .constraint
                    .filter(|(op, _)| *op == Op::Eq)
                    .map(|(_, v)| v);
                self.providers
                    .entry(provided.name)
                    .or_default()
                    .push((id, version));
            }
            self.by_name.entry(name.to_string()).or_default().push(id);
            self.packages.push(Package {
                name: name.to_string(),
                version: Version::new(field("Version")),
                arch: pkg_arch.to_string(),
                multi_arch: field("Multi-Arch").to_string(),
                essential: field("Essential") == "yes",
                depends: field("Depends").to_string(),
                pre_depends: field("Pre-Depends").to_string(),
                filename: filename.to_string(),
                size,
                sha256: sha256.to_ascii_lowercase(),
                source,
            });
        }
        Ok(())
    }

    /// The versions of real package `name`, newest first.
    pub fn versions(&self, name: &str) -> Vec<&Package> {
        let mut found: Vec<&Package> = self
            .by_name
            .get(name)
            .into_iter()
            .flatten()
            .map(|&i| &self.packages[i])
            .collect();
        found.sort_by(|a, b| b.version.cmp(&a.version).then(a.source.cmp(&b.source)));
        found
    }

    /// The packages that provide `name` and satisfy `rel`'s constraint (a versioned
    /// relation is met only by a versioned Provides), by name then newest.
    pub fn providers(&self, rel: &Relation) -> Vec<&Package> {
        let mut found: Vec<&Package> = self
            .providers
            .get(&rel.name)
            .into_iter()
            .flatten()
            .filter(|(_, provided)| match (&rel.constraint, provided) {
                (None, _) => true,
                (Some((op, want)), Some(have)) => op.holds(have, want),
                (Some(_), None) => false,
            })
            .map(|(i, _)| &self.packages[*i])
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name).then(b.version.cmp(&a.version)));
        found
    }

    pub fn newest_with_prefix(&self, prefix: &str, suffix: &str) -> Option<&str> {
        self.by_name
            .keys()
            .filter_map(|n| {
                let middle = n.strip_prefix(prefix)?.strip_suffix(suffix)?;
                Some((middle.parse::<u32>().ok()?, n.as_str()))
            })
            .max()
            .map(|(_, n)| n)
    }
}

/// Does `pkg` satisfy `rel` by itself (name and version)?
pub fn satisfies(pkg: &Package, rel: &Relation) -> bool {
    pkg.name == rel.name
        && rel
            .constraint
            .as_ref()
            .is_none_or(|(op, want)| op.holds(&pkg.version, want))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations() {
        let groups = parse_relations(
            "libc6 (>= 2.14), debconf (>= 0.5) | debconf-2.0, python3:any, x (<< 1:2~)",
        )
        .unwrap();
        assert_eq!(groups.len(), 4);
        assert_eq!(groups[0][0].to_string(), "libc6 (>= 2.14)");
        assert_eq!(groups[1].len(), 2);
        assert_eq!(groups[1][1].name, "debconf-2.0");
        assert_eq!(groups[2][0].arch.as_deref(), Some("any"));
        assert_eq!(
            groups[3][0].constraint,
            Some((Op::Lt, Version::new("1:2~")))
        );
        let restricted = parse_relations("a (>= 1) [amd64] <!nocheck>").unwrap();
        assert_eq!(restricted[0][0].to_string(), "a (>= 1)");
        assert!(parse_relations("a (>= )").is_err());
        assert!(parse_relations("../x").is_err());
    }

    #[test]
    fn index_by_name_and_provides() {
        let text = format!(
            "Package: a\nVersion: 1\nArchitecture: arm64\nProvides: v (= 2), w\nFilename: pool/a.deb\nSize: 1\nSHA256: {h}\n\n\
             Package: a\nVersion: 2\nArchitecture: arm64\nFilename: pool/a2.deb\nSize: 1\nSHA256: {h}\n\n\
             Package: b\nVersion: 1\nArchitecture: amd64\nFilename: pool/b.deb\nSize: 1\nSHA256: {h}\n",
            h = "0".repeat(64)
        );
        let mut index = Index::default();
        index.add(&text, "arm64", 0).unwrap();
        assert_eq!(index.versions("a")[0].version.as_str(), "2");
        assert!(index.versions("b").is_empty(), "other arches are left out");
        let v = parse_relations("v (>= 2)").unwrap().remove(0).remove(0);
        assert_eq!(index.providers(&v).len(), 1);
        let w = parse_relations("w (>= 1)").unwrap().remove(0).remove(0);
        assert!(
            index.providers(&w).is_empty(),
            "an unversioned Provides meets no versioned relation"
        );
        let bad = text.replace("pool/a.deb", "../../etc/passwd");
        assert!(Index::default().add(&bad, "arm64", 0).is_err());
    }
}
