//! apt's package lists (`/var/lib/apt/lists/*_Packages[.lz4|.gz]`), read once per call
//! instead of one `apt show` process per name (tonistiigi/xx#69).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, Result};

/// The list files of one Debian architecture (`binary-<arch>`).
pub fn files_for_arch(lists: &Path, arch: &str) -> Vec<PathBuf> {
    let marker = format!("_binary-{arch}_Packages");
    let mut files: Vec<PathBuf> = fs::read_dir(lists)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(&marker))
        })
        .collect();
    files.sort();
    files
}

/// The newest modification time among files.
pub fn newest(files: &[PathBuf]) -> Option<SystemTime> {
    files
        .iter()
        .filter_map(|f| f.metadata().ok()?.modified().ok())
        .max()
}

/// What the lists say about the names asked for.
#[derive(Debug, Default)]
pub struct Index {
    /// name → architectures it is listed for (`arm64`, `all`, …).
    pub arches: BTreeMap<String, BTreeSet<String>>,
    /// Every `libgcc-N-dev` / `libstdc++-N-dev` version seen for the target arch.
    pub gcc_versions: BTreeMap<&'static str, BTreeSet<u32>>,
}

impl Index {
    pub fn exists(&self, name: &str) -> bool {
        self.arches.contains_key(name)
    }

    /// Listed only as `Architecture: all` (installed without `:arch`, tonistiigi/xx#221).
    pub fn is_arch_all(&self, name: &str) -> bool {
        self.arches
            .get(name)
            .is_some_and(|a| a.len() == 1 && a.contains("all"))
    }

    /// The newest N of `<stem>-N-dev` listed for the target arch.
    pub fn newest_gcc(&self, stem: &'static str) -> Option<u32> {
        self.gcc_versions.get(stem).and_then(|v| v.last().copied())
    }
}

pub const GCC_STEMS: &[&str] = &["libgcc", "libstdc++"];

/// Scans the files once, keeping the names in `wanted`, every name starting with one of
/// `stems`, and the gcc dev package versions of `target_arch`.
pub fn read(
    files: &[PathBuf],
    wanted: &BTreeSet<String>,
    stems: &[&str],
    target_arch: &str,
) -> Result<Index> {
    let mut index = Index::default();
    for file in files {
        let reader =
            open(file).with_context(|| format!("cannot read apt list {}", file.display()))?;
        scan(reader, wanted, stems, target_arch, &mut index)
            .with_context(|| format!("cannot read apt list {}", file.display()))?;
    }
    Ok(index)
}

fn open(path: &Path) -> Result<Box<dyn BufRead>> {
    let file = fs::File::open(path)?;
    let name = path.to_string_lossy();
    let inner: Box<dyn Read> = if name.ends_with(".lz4") {
        Box::new(lz4_flex::frame::FrameDecoder::new(file))
    } else if name.ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 16, inner)))
}

fn scan(
    reader: Box<dyn BufRead>,
    wanted: &BTreeSet<String>,
    stems: &[&str],
    target_arch: &str,
    index: &mut Index,
) -> Result<()> {
    let mut package: Option<String> = None;
    for line in reader.split(b'\n') {
        let line = line?;
        if let Some(name) = line.strip_prefix(b"Package: ") {
            package = Some(String::from_utf8_lossy(name).trim().to_string());
        } else if let Some(arch) = line.strip_prefix(b"Architecture: ") {
            let Some(name) = package.take() else { continue };
            let arch = String::from_utf8_lossy(arch).trim().to_string();
            if arch == target_arch {
                note_gcc(&name, index);
            }
            if wanted.contains(&name) || stems.iter().any(|s| name.starts_with(s)) {
                index.arches.entry(name).or_default().insert(arch);
            }
        }
    }
    Ok(())
}

/// `libgcc-12-dev` → ("libgcc", 12).
fn note_gcc(name: &str, index: &mut Index) {
    for stem in GCC_STEMS {
        let version = name
            .strip_prefix(stem)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|rest| rest.strip_suffix("-dev"))
            .and_then(|v| v.parse::<u32>().ok());
        if let Some(v) = version {
            index.gcc_versions.entry(stem).or_default().insert(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stanzas() {
        let text = "Package: libssl-dev\nVersion: 3\nArchitecture: arm64\n\n\
                    Package: python3-jsonschema\nArchitecture: all\n\n\
                    Package: libgcc-12-dev\nArchitecture: arm64\n\n\
                    Package: libgcc-13-dev\nArchitecture: amd64\n\n\
                    Package: libstdc++-12-dev\nArchitecture: arm64\n";
        let wanted: BTreeSet<String> = ["libssl-dev", "python3-jsonschema", "absent"]
            .map(String::from)
            .into();
        let mut index = Index::default();
        scan(Box::new(text.as_bytes()), &wanted, &[], "arm64", &mut index).unwrap();
        assert!(index.exists("libssl-dev"));
        assert!(!index.exists("absent"));
        assert!(index.is_arch_all("python3-jsonschema"));
        assert!(!index.is_arch_all("libssl-dev"));
        assert_eq!(index.newest_gcc("libgcc"), Some(12));
        assert_eq!(index.newest_gcc("libstdc++"), Some(12));
    }
}
