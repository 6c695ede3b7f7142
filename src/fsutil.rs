//! Small file-system steps done the safe way: write to a fresh temp name in the same
//! directory, then rename, so readers never see half a file; replace only links that are
//! ours; locks that survive `exec`.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

/// Writes `path` atomically. The temp file is created exclusively (a planted symlink or
/// file of that name is not followed) and removed if anything fails.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_name(path);
    let result = File::options()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// Points `at` to `to`. An existing entry is replaced only when it is ours: a link to
/// this executable, or a dangling link (a removed build). Real files and other packages'
/// links (dpkg's `x86_64-linux-gnu-pkg-config`, say) are left alone.
pub fn link(at: &Path, to: &Path) -> Result<()> {
    if let Ok(meta) = fs::symlink_metadata(at) {
        if !meta.file_type().is_symlink() || fs::read_link(at).ok().as_deref() == Some(to) {
            return Ok(());
        }
        if !points_to_this_exe(at) && at.exists() {
            return Ok(());
        }
    }
    let tmp = temp_name(at);
    let result = std::os::unix::fs::symlink(to, &tmp).and_then(|()| fs::rename(&tmp, at));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot create {}", at.display()))
}

/// The running xx binary, resolved once per process (xx-cc looks itself up several
/// times per compile).
pub fn this_exe() -> Result<&'static Path> {
    static EXE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    EXE.get_or_init(|| {
        let exe = std::env::current_exe().ok()?;
        Some(exe.canonicalize().unwrap_or(exe))
    })
    .as_deref()
    .ok_or_else(|| anyhow::anyhow!("cannot find the path of this executable"))
}

/// Whether `path` resolves to the running xx binary.
pub fn points_to_this_exe(path: &Path) -> bool {
    match (this_exe(), path.canonicalize()) {
        (Ok(me), Ok(target)) => me == target,
        _ => false,
    }
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.{nanos}.tmp", std::process::id()))
}

/// An exclusive lock on `path`, held while the File lives (and across `exec` when
/// [`keep_across_exec`] is called). Tries first; when another process holds it, says
/// so once and waits. Creates the directory, including the target of a dangling
/// `/var/lock -> /run/lock` link.
pub fn lock(path: &Path, who: &str) -> Result<File> {
    if let Some(dir) = path.parent() {
        let dir = fs::read_link(dir)
            .ok()
            .filter(|_| !dir.exists())
            .map(|target| dir.parent().unwrap_or(Path::new("/")).join(target))
            .unwrap_or_else(|| dir.to_path_buf());
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
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

/// Lets the lock's descriptor survive `exec`, so the tool we become keeps holding it
/// (xx holds fd 9 through apt).
pub fn keep_across_exec(file: &File) {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own; only the FD_CLOEXEC flag is changed.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
        }
    }
}
