//! Temporary files and directories: one scheme for the whole crate.
//!
//! Names are random and created exclusively (`O_CREAT|O_EXCL`, by `tempfile`), so a file
//! or symlink planted under a name xx might use is never followed or reused; directories
//! are 0700. Each one holds an advisory lock while its process lives (a directory on its
//! `.xx-lock`, a file on itself), so the next run can tell what a `kill -9` left behind
//! from what another live process is using, and removes only the former. Dropping one
//! removes it; long commands also remove the live ones on SIGINT/SIGTERM/SIGHUP
//! ([`clean_up_on_signals`]).

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context as _, Result};

/// What every temp file's name ends with, so cleanups can find them.
pub const TEMP_SUFFIX: &str = ".xx-tmp";
/// The lock file inside every scratch directory.
const DIR_LOCK: &str = ".xx-lock";
/// What every scratch directory's name holds (after the caller's prefix).
const DIR_MARK: &str = "xx-scratch.";
/// A temp file (or link) younger than this is never taken for stale: its creator may
/// be between creating it and locking it.
const FRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// A file with no name in `dir` (`O_TMPFILE` where the file system has it, else a
/// random name unlinked at once): room for bytes that never outlive the process.
pub fn spool_in(dir: &Path) -> Result<File> {
    tempfile::tempfile_in(dir)
        .with_context(|| format!("cannot create a temp file in {}", dir.display()))
}

/// A temp file, removed when dropped unless persisted.
pub struct TempFile {
    inner: tempfile::NamedTempFile,
    _live: Live,
}

impl TempFile {
    /// A new file `PREFIX<random>.xx-tmp` in `dir`, mode 0666 less the umask (it becomes
    /// a blob or a config others read), locked while it lives.
    pub fn new_in(dir: &Path, prefix: &str) -> Result<TempFile> {
        remove_stale(dir, prefix);
        let inner = tempfile::Builder::new()
            .prefix(prefix)
            .suffix(TEMP_SUFFIX)
            .permissions(fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temp file in {}", dir.display()))?;
        // Nobody else locks a file this fresh (cleanups skip them), so this holds.
        inner
            .as_file()
            .try_lock()
            .map_err(|e| anyhow::anyhow!("cannot lock {}: {e}", inner.path().display()))?;
        let live = Live::register(inner.path());
        Ok(TempFile { inner, _live: live })
    }

    pub fn path(&self) -> &Path {
        self.inner.path()
    }

    /// Flushes to disk and renames over `to` (same directory tree, same file system).
    pub fn persist(self, to: &Path) -> Result<()> {
        self.inner
            .as_file()
            .sync_all()
            .with_context(|| format!("cannot write {}", self.path().display()))?;
        self.inner
            .persist(to)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", to.display()))?;
        Ok(())
    }
}

impl Write for TempFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A directory removed (with everything in it) when dropped.
pub struct ScratchDir {
    dir: tempfile::TempDir,
    _lock: File,
    _live: Live,
}

impl ScratchDir {
    /// A new 0700 directory `PREFIXxx-scratch.<random>` in `parent`. What a killed run
    /// left there under the same name is removed first.
    pub fn new_in(parent: &Path, prefix: &str) -> Result<ScratchDir> {
        let prefix = format!("{prefix}{DIR_MARK}");
        remove_stale(parent, &prefix);
        let dir = tempfile::Builder::new()
            .prefix(&prefix)
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(parent)
            .with_context(|| format!("cannot create a directory in {}", parent.display()))?;
        // Locked under another name, then published: a cleanup that sees `.xx-lock`
        // always sees it held (a directory without it is never removed).
        let new_lock = dir.path().join(".xx-lock.new");
        let lock = File::options()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&new_lock)
            .with_context(|| format!("cannot create {}", new_lock.display()))?;
        lock.try_lock()
            .map_err(|e| anyhow::anyhow!("cannot lock {}: {e}", new_lock.display()))?;
        fs::rename(&new_lock, dir.path().join(DIR_LOCK))
            .with_context(|| format!("cannot create {}", dir.path().display()))?;
        let live = Live::register(dir.path());
        Ok(ScratchDir {
            dir,
            _lock: lock,
            _live: live,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Puts this directory's contents at `dest` in one atomic step: swapped with the
    /// directory there (`renameat2(RENAME_EXCHANGE)`: readers see the old tree or the
    /// new one, never a mix or nothing), which is then removed; renamed when `dest` is
    /// absent. `dest` must be on the same file system (next to this directory).
    pub fn publish(self, dest: &Path) -> Result<()> {
        let _ = fs::remove_file(self.path().join(DIR_LOCK));
        let exchanged = exchange(self.path(), dest);
        match exchanged {
            // The old tree is now at our path: dropping removes it.
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && !dest.exists() => {
                let ScratchDir { dir, _lock, _live } = self;
                let path = dir.keep();
                fs::rename(&path, dest)
                    .with_context(|| format!("cannot put {} in place", dest.display()))
            }
            Err(e) => Err(e).with_context(|| format!("cannot swap {} into place", dest.display())),
        }
    }
}

fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt as _;
    let ca = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let cb = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: the raw syscall (libc's wrapper is missing on older glibc and musl) with
    // NUL-terminated paths; the result is checked.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Removes, from `dir`, the scratch directories and temp files named `PREFIX…` that
/// belong to this user and whose process is gone: directories with a free `.xx-lock`,
/// files ending in `.xx-tmp` that nobody locks. Best effort: anything else (another
/// owner, a symlink, a live lock, a directory without our lock file) is left alone.
pub fn remove_stale(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(prefix) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.uid() != me {
            continue;
        }
        let temp = name.to_string_lossy().ends_with(TEMP_SUFFIX);
        let fresh = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_none_or(|age| age < FRESH);
        if meta.is_dir() && lock_is_free(&path.join(DIR_LOCK)) {
            let _ = fs::remove_dir_all(&path);
        } else if temp && !fresh && meta.is_file() && lock_is_free(&path) {
            let _ = fs::remove_file(&path);
        } else if temp && !fresh && meta.file_type().is_symlink() {
            // A link made under a temp name and never renamed (symlink_atomic).
            let _ = fs::remove_file(&path);
        }
    }
}

/// Whether no live process holds the lock on this (regular, not symlinked) file.
fn lock_is_free(path: &Path) -> bool {
    let Ok(file) = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    else {
        return false;
    };
    file.metadata().is_ok_and(|m| m.is_file()) && file.try_lock().is_ok()
}

/// The paths of live temp files and directories, for the signal cleanup.
static LIVE: Mutex<Vec<(u64, PathBuf)>> = Mutex::new(Vec::new());

struct Live(u64);

impl Live {
    fn register(path: &Path) -> Live {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut live) = LIVE.lock() {
            live.push((id, path.to_path_buf()));
        }
        Live(id)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|(id, _)| *id != self.0);
        }
    }
}

fn remove_live() {
    let paths: Vec<PathBuf> = match LIVE.lock() {
        Ok(live) => live.iter().map(|(_, p)| p.clone()).collect(),
        Err(_) => return,
    };
    for path in paths {
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => {
                let _ = fs::remove_dir_all(&path);
            }
            Ok(_) => {
                let _ = fs::remove_file(&path);
            }
            Err(_) => {}
        }
    }
}

/// From now on SIGINT, SIGTERM and SIGHUP remove the live temp files and directories,
/// then end the process as the signal would. Call it from the main thread before any
/// other thread starts (they inherit the blocked mask; one thread waits for the signals).
pub fn clean_up_on_signals() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: plain libc signal-set calls on a zeroed sigset_t we own.
        let set = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                libc::sigaddset(&mut set, sig);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            set
        };
        let spawned = std::thread::Builder::new()
            .name("xx-signals".into())
            .spawn(move || {
                let mut sig: libc::c_int = 0;
                // SAFETY: sigwait on the set blocked above; then the default action of
                // the signal that came, unblocked in this thread only.
                unsafe {
                    if libc::sigwait(&set, &mut sig) != 0 {
                        return;
                    }
                    remove_live();
                    libc::signal(sig, libc::SIG_DFL);
                    libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                    libc::raise(sig);
                    // As PID 1 (a container) the default action is to ignore: end anyway,
                    // the scratch the other threads work in is gone.
                    libc::_exit(128 + sig);
                }
            });
        if spawned.is_err() {
            // SAFETY: restores the mask blocked above: signals act as before.
            unsafe {
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_dirs_are_private_fresh_and_removed() {
        let parent = tempfile::tempdir().unwrap();
        let a = ScratchDir::new_in(parent.path(), "").unwrap();
        let b = ScratchDir::new_in(parent.path(), "").unwrap();
        assert_ne!(a.path(), b.path());
        let mode = fs::metadata(a.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // A live one is not stale, even to a cleanup in the same process.
        remove_stale(parent.path(), "xx-scratch.");
        assert!(a.path().is_dir() && b.path().is_dir());
        let kept = a.path().to_path_buf();
        drop(a);
        assert!(!kept.exists());
    }

    #[test]
    fn what_a_dead_process_left_is_removed_and_nothing_else() {
        let parent = tempfile::tempdir().unwrap();
        let p = parent.path();
        // Left by a killed run: a dir with a free lock, a temp file nobody locks (old
        // enough not to be one being made right now).
        fs::create_dir(p.join("xx-scratch.dead")).unwrap();
        File::create(p.join("xx-scratch.dead").join(DIR_LOCK)).unwrap();
        let old = File::create(p.join(format!("xx-scratch.f{TEMP_SUFFIX}"))).unwrap();
        old.set_modified(std::time::SystemTime::now() - 2 * FRESH)
            .unwrap();
        drop(old);
        // A fresh unlocked temp file is someone's being made: kept.
        File::create(p.join(format!("xx-scratch.g{TEMP_SUFFIX}"))).unwrap();
        // Not ours to remove: other names, a directory without our lock file, and a
        // symlink to a directory elsewhere.
        fs::create_dir(p.join("other")).unwrap();
        fs::create_dir(p.join("xx-scratch.nolock")).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), p.join("xx-scratch.link")).unwrap();
        let live = ScratchDir::new_in(p, "").unwrap();
        assert!(!p.join("xx-scratch.dead").exists());
        assert!(!p.join(format!("xx-scratch.f{TEMP_SUFFIX}")).exists());
        assert!(p.join(format!("xx-scratch.g{TEMP_SUFFIX}")).exists());
        assert!(p.join("other").is_dir());
        assert!(p.join("xx-scratch.nolock").is_dir());
        assert!(p.join("xx-scratch.link").symlink_metadata().is_ok());
        assert!(elsewhere.path().is_dir());
        assert!(live.path().is_dir());
    }

    #[test]
    fn temp_files_persist_or_vanish() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = TempFile::new_in(dir.path(), ".x.").unwrap();
        t.write_all(b"hello").unwrap();
        let gone = t.path().to_path_buf();
        drop(t);
        assert!(!gone.exists());
        let mut t = TempFile::new_in(dir.path(), ".x.").unwrap();
        t.write_all(b"hello").unwrap();
        t.persist(&dir.path().join("final")).unwrap();
        assert_eq!(fs::read(dir.path().join("final")).unwrap(), b"hello");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
