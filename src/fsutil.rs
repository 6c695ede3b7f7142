//! Small file-system steps done the safe way: write to a fresh temp name in the same
//! directory, then rename, so readers never see half a file; replace only links that are
//! ours; locks that survive `exec`.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::scratch::TempFile;

/// Writes `path` atomically: a temp file beside it (random name, created exclusively, so
/// a planted symlink or file is never followed), flushed to disk, renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let (dir, prefix) = temp_place(path);
    let mut tmp = TempFile::new_in(dir, &prefix)?;
    tmp.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
}

/// The directory a temp file for `path` goes in (the same, so a rename finishes it), and
/// the prefix of its name.
fn temp_place(path: &Path) -> (&Path, String) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (dir, format!(".{name}."))
}

/// Makes `at` a symlink to `to`, replacing what is there in one rename (a concurrent
/// reader never sees it missing). The link is made under a random temp name first.
/// Writes `bytes` to `path` (atomically) unless it already holds exactly them: generated
/// files that most runs would rewrite unchanged keep their mtime.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    write_atomic(path, bytes)
}

pub fn symlink_atomic(at: &Path, to: &Path) -> Result<()> {
    let (dir, prefix) = temp_place(at);
    crate::scratch::remove_stale(dir, &prefix);
    let tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(crate::scratch::TEMP_SUFFIX)
        .make_in(dir, |p| std::os::unix::fs::symlink(to, p))
        .with_context(|| format!("cannot create {}", at.display()))?;
    tmp.persist(at)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot create {}", at.display()))?;
    Ok(())
}

/// Opens an existing regular file to read, never through a symlink and never blocking on
/// a FIFO or device (`O_NOFOLLOW|O_NONBLOCK`); what was opened is checked to be a regular
/// file, so a path swapped between a check and the open cannot pass something else off.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => std::io::Error::other("is a symlink, not a regular file"),
            _ => e,
        })?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("is not a regular file"));
    }
    Ok(file)
}

/// Reads a whole regular file (see [`open_regular`]) of at most `max` bytes.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let file = open_regular(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > max {
        anyhow::bail!("{} is larger than {max} bytes: refusing it", path.display());
    }
    Ok(bytes)
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
    symlink_atomic(at, to)
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
    // Never through a symlink: a planted `.xx-cc.lock -> /elsewhere` would create (or
    // lock) a file of someone else's choosing.
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => anyhow::anyhow!(
                "{} is a symlink: refusing to lock through it; remove it",
                path.display()
            ),
            _ => anyhow::Error::new(e).context(format!("cannot open lock {}", path.display())),
        })?;
    if file.try_lock().is_err() {
        crate::progress::note(&format!("{who}: waiting for lock on {}", path.display()));
        file.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
    }
    Ok(file)
}

/// xx's per-tool lock, `/var/lock/xx-<tool>` (under XX_HOST_ROOT), unless the tool's
/// `XX_<TOOL>_NOLOCK` is set (a nested call of a tool that already holds it).
pub fn tool_lock(ctx: &crate::context::Context, tool: &str, nolock: &str) -> Result<Option<File>> {
    if ctx.var(nolock).is_some() {
        return Ok(None);
    }
    let who = format!("xx-{tool}");
    lock(&ctx.host_path(&format!("/var/lock/{who}")), &who).map(Some)
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
