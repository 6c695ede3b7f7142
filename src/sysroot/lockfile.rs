//! `xx-sysroot.lock`: per platform, the exact packages a sysroot holds (name, version,
//! arch, SHA256, size, archive path) and the archives they came from (URI, suite, the
//! Release's date). `--locked` rebuilds exactly that set, or names what drifted. The
//! same record, inside a sysroot (`.xx/sysroot.json`), tells a rerun nothing changed.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context as _, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedSource {
    pub uri: String,
    pub suite: String,
    #[serde(default)]
    pub components: Vec<String>,
    pub date: String,
    /// The source's Signed-By on the machine that wrote the lock, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub sha256: String,
    pub size: u64,
    pub filename: String,
    /// Index into the platform's `sources`.
    pub source: usize,
}

/// One platform's set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locked {
    pub requested: Vec<String>,
    pub sources: Vec<LockedSource>,
    pub packages: Vec<LockedPackage>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LockFile {
    pub version: u32,
    pub platforms: BTreeMap<String, Locked>,
}

/// What a finished sysroot records about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub platform: String,
    /// The packages named on the command line (the defaults are implied).
    pub asked: Vec<String>,
    pub set: Locked,
    /// sha256 of each source's Release as last checked (a rerun with the same ones
    /// and the same request has nothing to do).
    pub releases: Vec<String>,
}

const LOCK_LIMIT: u64 = 64 << 20;

impl LockFile {
    pub fn read(path: &Path) -> Result<Option<LockFile>> {
        if !path.exists() {
            return Ok(None);
        }
        let bytes = crate::fsutil::read_bounded(path, LOCK_LIMIT)?;
        let lock: LockFile = serde_json::from_slice(&bytes)
            .map_err(|e| anyhow!("{}: not an xx sysroot lock file ({e})", path.display()))?;
        if lock.version != 1 {
            bail!(
                "{}: lock file version {} (this xx reads version 1)",
                path.display(),
                lock.version
            );
        }
        for locked in lock.platforms.values() {
            locked
                .check()
                .with_context(|| format!("{}", path.display()))?;
        }
        Ok(Some(lock))
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| anyhow!("{e}"))?;
        text.push('\n');
        crate::fsutil::write_atomic(path, text.as_bytes())
    }
}

impl Locked {
    /// A lock is input too: hashes must be hashes, paths must stay in the archive.
    pub fn check(&self) -> Result<()> {
        for p in &self.packages {
            let hex_ok = p.sha256.len() == 64 && p.sha256.bytes().all(|b| b.is_ascii_hexdigit());
            let path_ok = !p.filename.starts_with('/')
                && !p.filename.split('/').any(|c| c == ".." || c.is_empty());
            if !hex_ok || !path_ok || p.source >= self.sources.len() {
                bail!("the locked entry for {:?} is malformed", p.name);
            }
        }
        Ok(())
    }
}

impl Stamp {
    pub fn read(path: &Path) -> Option<Stamp> {
        let bytes = crate::fsutil::read_bounded(path, LOCK_LIMIT).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}
