//! From package names to the set a sysroot needs: Pre-Depends and Depends followed
//! once per package, alternatives tried in order, a real package before a virtual
//! provider, the newest version that meets the constraint.
//!
//! What a sysroot leaves out (the policy, as apt does for a cross install where the
//! build machine satisfies these): `Multi-Arch: foreign` packages (tools that run on
//! the build machine: libc-dev-bin, debconf, rpcsvc-proto) and `Essential` ones (the
//! target's base system), with their own dependencies, unless named. No maintainer
//! script ever runs.

use std::collections::{BTreeMap, HashMap, VecDeque};

use anyhow::{bail, Result};

use super::packages::{parse_relations, satisfies, Index, Package, Relation};

/// What a sysroot will hold, sorted by name, and why each package is in it.
#[derive(Debug)]
pub struct Plan {
    pub packages: Vec<(Package, String)>,
    /// Dependencies left to the build machine by the policy above: name → why.
    pub left_out: BTreeMap<String, String>,
}

/// Resolves `requested` (`name` or `name=version`) against `index`.
pub fn resolve(index: &Index, requested: &[String]) -> Result<Plan> {
    resolve_leaving(index, requested, &[])
}

/// `resolve`, with `leave_out` also left to the build machine (a host tool's C library).
pub fn resolve_leaving(index: &Index, requested: &[String], leave_out: &[String]) -> Result<Plan> {
    let mut chosen: HashMap<String, (Package, String)> = HashMap::new();
    let mut left_out = BTreeMap::new();
    let mut queue = VecDeque::new();
    for request in requested {
        let pkg = pick_requested(index, request)?;
        if !chosen.contains_key(&pkg.name) {
            chosen.insert(pkg.name.clone(), (pkg.clone(), "requested".into()));
            queue.push_back(pkg);
        }
    }
    while let Some(pkg) = queue.pop_front() {
        let fields = [("Pre-Depends", &pkg.pre_depends), ("Depends", &pkg.depends)];
        for (field, text) in fields {
            let groups = parse_relations(text)
                .map_err(|e| anyhow::anyhow!("{} {}: bad {field}: {e}", pkg.name, pkg.version))?;
            for group in groups {
                if group.iter().any(|rel| met_by_chosen(index, &chosen, rel)) {
                    continue;
                }
                if let Some(rel) = group
                    .iter()
                    .find(|rel| leave_out.contains(&rel.name) || left_to_build_machine(index, rel))
                {
                    left_out
                        .entry(rel.name.clone())
                        .or_insert_with(|| format!("{} {field} {rel}", pkg.name));
                    continue;
                }
                let Some(next) = group.iter().find_map(|rel| candidate(index, rel)) else {
                    bail!(
                        "cannot resolve: {} {} {field} {}, and no package in the index satisfies it{}",
                        pkg.name,
                        pkg.version,
                        show_group(&group),
                        conflict_hint(&chosen, &group)
                    );
                };
                let why = format!("{} {field} {}", pkg.name, show_group(&group));
                chosen.insert(next.name.clone(), (next.clone(), why));
                queue.push_back(next.clone());
            }
        }
    }
    let mut packages: Vec<(Package, String)> = chosen.into_values().collect();
    packages.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    Ok(Plan { packages, left_out })
}

fn pick_requested(index: &Index, request: &str) -> Result<Package> {
    let (name, version) = match request.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (request, None),
    };
    let versions = index.versions(name);
    let found = match version {
        Some(v) => versions.into_iter().find(|p| p.version.as_str() == v),
        None => versions.into_iter().next(),
    };
    if let Some(pkg) = found {
        return Ok(pkg.clone());
    }
    let rel = Relation {
        name: name.to_string(),
        arch: None,
        constraint: None,
    };
    match (version, index.providers(&rel).first()) {
        (None, Some(provider)) => Ok((*provider).clone()),
        (Some(v), _) => bail!("{name}={v}: the index has no such version of {name}"),
        (None, None) => bail!("{name}: no such package in the index for this architecture"),
    }
}

fn met_by_chosen(
    index: &Index,
    chosen: &HashMap<String, (Package, String)>,
    rel: &Relation,
) -> bool {
    if chosen
        .get(&rel.name)
        .is_some_and(|(p, _)| satisfies(p, rel))
    {
        return true;
    }
    index.providers(rel).iter().any(|p| {
        chosen
            .get(&p.name)
            .is_some_and(|(c, _)| c.version == p.version)
    })
}

/// The relation names a tool of the build machine: its best candidate is
/// `Multi-Arch: foreign` or Essential, or it asks for another architecture.
fn left_to_build_machine(index: &Index, rel: &Relation) -> bool {
    if rel
        .arch
        .as_deref()
        .is_some_and(|a| a != "any" && a != "native")
    {
        return true;
    }
    candidate(index, rel).is_some_and(|p| p.multi_arch == "foreign" || p.essential)
}

fn candidate<'a>(index: &'a Index, rel: &Relation) -> Option<&'a Package> {
    index
        .versions(&rel.name)
        .into_iter()
        .find(|p| satisfies(p, rel))
        .or_else(|| index.providers(rel).into_iter().next())
}

fn show_group(group: &[Relation]) -> String {
    group
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn conflict_hint(chosen: &HashMap<String, (Package, String)>, group: &[Relation]) -> String {
    group
        .iter()
        .find_map(|rel| chosen.get(&rel.name))
        .map(|(p, why)| format!(" (the plan already has {} {}: {why})", p.name, p.version))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(entries: &[(&str, &str, &str)]) -> Index {
        let mut text = String::new();
        for (name, version, extra) in entries {
            text.push_str(&format!(
                "Package: {name}\nVersion: {version}\nArchitecture: arm64\n{extra}Filename: pool/{name}_{version}.deb\nSize: 1\nSHA256: {}\n\n",
                "0".repeat(64)
            ));
        }
        let mut index = Index::default();
        index.add(&text, "arm64", 0).unwrap();
        index
    }

    fn names(plan: &Plan) -> Vec<String> {
        plan.packages
            .iter()
            .map(|(p, _)| format!("{}={}", p.name, p.version))
            .collect()
    }

    #[test]
    fn follows_depends_alternatives_and_versions() {
        let idx = index(&[
            (
                "app",
                "1",
                "Depends: libz (>= 1.2), debconf | debconf-2.0, libv\nPre-Depends: libc\n",
            ),
            ("libz", "1.1", ""),
            ("libz", "1.3", "Depends: libc (>= 2)\n"),
            ("libc", "2.36", ""),
            ("debconf", "1.5", "Multi-Arch: foreign\n"),
            ("real-v", "1", "Provides: libv\n"),
        ]);
        let plan = resolve(&idx, &["app".into()]).unwrap();
        assert_eq!(names(&plan), ["app=1", "libc=2.36", "libz=1.3", "real-v=1"]);
        assert!(plan.left_out.contains_key("debconf"));
    }

    #[test]
    fn a_real_package_beats_a_provider_and_unmet_relations_are_named() {
        let idx = index(&[
            ("app", "1", "Depends: libv, missing (>= 2) | gone\n"),
            ("libv", "1", ""),
            ("other", "1", "Provides: libv\n"),
        ]);
        let err = resolve(&idx, &["app".into()]).unwrap_err().to_string();
        assert!(err.contains("app 1 Depends missing (>= 2) | gone"), "{err}");
        let idx = index(&[
            ("app", "1", "Depends: libv\n"),
            ("libv", "1", ""),
            ("other", "1", "Provides: libv\n"),
        ]);
        assert_eq!(
            names(&resolve(&idx, &["app".into()]).unwrap()),
            ["app=1", "libv=1"]
        );
        let err = resolve(&idx, &["nope".into()]).unwrap_err().to_string();
        assert!(err.contains("nope: no such package"), "{err}");
    }

    #[test]
    fn cycles_are_walked_once() {
        let idx = index(&[("a", "1", "Depends: b\n"), ("b", "1", "Depends: a (= 1)\n")]);
        assert_eq!(
            names(&resolve(&idx, &["a".into(), "b".into()]).unwrap()),
            ["a=1", "b=1"]
        );
    }
}
