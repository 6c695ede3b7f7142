//! Small file-system steps done the safe way: write to a temp name in the same
//! directory, then rename, so readers never see half a file.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_name(path);
    let mut f = File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// A symlink at `at` to `to`, replacing only a symlink (ours), never a real file.
pub fn link(at: &Path, to: &Path) -> Result<()> {
    match fs::symlink_metadata(at) {
        Ok(m) if !m.file_type().is_symlink() => return Ok(()),
        Ok(_) if fs::read_link(at).ok().as_deref() == Some(to) => return Ok(()),
        _ => {}
    }
    let tmp = temp_name(at);
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(to, &tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    fs::rename(&tmp, at).with_context(|| format!("cannot create {}", at.display()))
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// An exclusive lock on `path` (created with its directory), held while the File lives.
/// Tries first; when another process holds it, says so once and waits.
pub fn lock(path: &Path, who: &str) -> Result<File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open lock {}", path.display()))?;
    if file.try_lock().is_err() {
        eprintln!("{who}: waiting for lock on {}", path.display());
        file.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
    }
    Ok(file)
}
