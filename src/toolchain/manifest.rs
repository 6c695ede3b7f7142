//! The toolchain manifests: `toolchains/tools.control`, embedded like the target table.

use crate::debian::control;

const TEXT: &str = include_str!("../../toolchains/tools.control");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchOf {
    /// Runs on the machine xx runs on.
    Build,
    /// Built for `--platform`.
    Target,
}

#[derive(Debug, Clone)]
pub struct Manifest {
    pub name: String,
    pub description: String,
    pub packages: Vec<String>,
    /// Installed on the build machine: the first one found is requested at that version.
    pub host_match: Vec<String>,
    pub arch: ArchOf,
    pub leave_out: Vec<String>,
    pub bin: Vec<String>,
    pub library_path: Vec<String>,
}

fn words(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Every manifest, in file order. The file is ours: a malformed one fails the unit test.
pub fn all() -> Vec<Manifest> {
    control::paragraphs(TEXT)
        .filter_map(|p| {
            Some(Manifest {
                name: p.get("Name")?.to_string(),
                description: p.get("Description").unwrap_or("").to_string(),
                packages: words(p.get("Packages")),
                host_match: words(p.get("Host-Match")),
                arch: match p.get("Arch")? {
                    "build" => ArchOf::Build,
                    "target" => ArchOf::Target,
                    _ => return None,
                },
                leave_out: words(p.get("Leave-Out")),
                bin: words(p.get("Bin")),
                library_path: words(p.get("Library-Path")),
            })
        })
        .collect()
}

pub fn find(name: &str) -> Option<Manifest> {
    all().into_iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_paragraph_is_a_manifest() {
        let paragraphs = super::control::paragraphs(super::TEXT).count();
        let all = super::all();
        assert_eq!(all.len(), paragraphs, "a paragraph without Name or Arch");
        for m in &all {
            let what = !m.packages.is_empty() || !m.host_match.is_empty();
            assert!(what, "{}: nothing to install", m.name);
            let bin = m.arch == super::ArchOf::Target || !m.bin.is_empty();
            assert!(bin, "{}: no Bin", m.name);
        }
        assert!(super::find("qemu").is_some() && super::find("llvm").is_some());
    }
}
