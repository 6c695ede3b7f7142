//! Writing package contents into a root directory without ever leaving it.
//!
//! Every path is taken apart into components and walked from the root's descriptor
//! with `O_NOFOLLOW|O_DIRECTORY`: a symlink on the way — planted by an earlier entry
//! or an earlier package — is refused, never followed; the merged-/usr links (`lib ->
//! usr/lib` …) are applied to the names instead. Files are written under a temp name
//! and renamed into place; symlinks are checked to resolve inside the root, absolute
//! ones rewritten relative (lld links `libm.a` instead of `libm.so.6` through a
//! dangling absolute link, silently); hardlinks must name a regular file inside the
//! root. Modes keep only the permission bits (no setuid, setgid or sticky), owners are
//! the caller's.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{anyhow, bail, Context as _, Result};

/// Top-level names that are links into `usr/` in a merged-/usr tree.
pub const MERGED: &[&str] = &["bin", "lib", "lib64", "sbin"];

pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Root {
    /// Opens an existing directory (which must not be a symlink) as a root.
    pub fn open(path: &Path) -> Result<Root> {
        let c = cstr(path.as_os_str().as_encoded_bytes())?;
        // SAFETY: open(2) on a NUL-terminated path; the result is checked.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error())
                .with_context(|| format!("cannot open {}", path.display()));
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(Root {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            path: path.to_path_buf(),
        })
    }

    /// `usr/{bin,lib,lib64,sbin}` and the top-level links to them, before any package.
    pub fn merge_usr(&self) -> Result<()> {
        let usr = self.dir(&["usr".to_string()])?;
        for name in MERGED {
            mkdir_at(&usr, name)?;
            let target = format!("usr/{name}");
            match symlink_at(&target, &self.fd, name) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => return Err(e).with_context(|| format!("cannot link {name} -> {target}")),
            }
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A directory (and its parents), created 0755 where missing.
    pub fn make_dir(&self, name: &str) -> Result<()> {
        let comps = physical(name)?;
        if !comps.is_empty() {
            self.dir(&comps)?;
        }
        Ok(())
    }

    /// A regular file from `content`, mode `mode & 0o777`, mtime `mtime`.
    pub fn write_file(
        &self,
        name: &str,
        mode: u32,
        mtime: i64,
        content: &mut dyn Read,
    ) -> Result<()> {
        let (parent, leaf) = self.parent_of(name)?;
        // The tree is ours alone, so a new name is created in place; only a name some
        // entry already holds goes through a temporary file and a rename, which
        // replaces that entry instead of writing through it.
        let (tmp, mut file) = match create_new(&parent, &leaf)? {
            Some(file) => (None, file),
            None => {
                let (tmp, file) = create_temp(&parent)?;
                (Some(tmp), file)
            }
        };
        let result = (|| {
            io::copy(content, &mut file).with_context(|| format!("cannot write {name}"))?;
            set_mode_and_mtime(&file, mode, mtime)?;
            match &tmp {
                Some(tmp) => rename_at(&parent, tmp, &leaf).map_err(|e| replace_error(name, e)),
                None => Ok(()),
            }
        })();
        if result.is_err() {
            unlink_at(&parent, tmp.as_deref().unwrap_or(&leaf));
        }
        result
    }

    /// A symlink `name -> target`; absolute targets are rewritten relative to `name`'s
    /// place, and a target that would resolve outside the root is refused.
    pub fn symlink(&self, name: &str, target: &str) -> Result<()> {
        if is_merged_usr_link(name, target) {
            // A merged-/usr tree's own `bin -> usr/bin` (every current Debian image
            // has them): merge_usr made it already.
            return Ok(());
        }
        let comps = physical(name)?;
        let Some((leaf, parent_comps)) = comps.split_last() else {
            bail!("refusing a symlink at the root itself");
        };
        let relative = relative_target(parent_comps, target).ok_or_else(|| {
            anyhow!("refusing symlink {name} -> {target}: it points outside the sysroot")
        })?;
        let parent = self.dir(parent_comps)?;
        let tmp = temp_name();
        symlink_at(&relative, &parent, &tmp)
            .with_context(|| format!("cannot create symlink {name}"))?;
        rename_at(&parent, &tmp, leaf).map_err(|e| {
            unlink_at(&parent, &tmp);
            replace_error(name, e)
        })
    }

    /// A hardlink `name` to the regular file `target` (a path inside the root).
    pub fn hardlink(&self, name: &str, target: &str) -> Result<()> {
        let (from_dir, from_leaf) = self
            .existing_parent_of(target)
            .with_context(|| format!("refusing hardlink {name} -> {target}"))?;
        let st = stat_at(&from_dir, &from_leaf).with_context(|| {
            format!("refusing hardlink {name} -> {target}: no such file in the sysroot")
        })?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            bail!("refusing hardlink {name} -> {target}: not a regular file");
        }
        let (parent, leaf) = self.parent_of(name)?;
        let tmp = temp_name();
        let (from_c, tmp_c) = (cstr(from_leaf.as_bytes())?, cstr(tmp.as_bytes())?);
        // SAFETY: linkat on descriptors we own and NUL-terminated names; flags 0 never
        // follows a symlink.
        if unsafe {
            libc::linkat(
                from_dir.as_raw_fd(),
                from_c.as_ptr(),
                parent.as_raw_fd(),
                tmp_c.as_ptr(),
                0,
            )
        } != 0
        {
            return Err(io::Error::last_os_error())
                .with_context(|| format!("cannot hardlink {name}"));
        }
        rename_at(&parent, &tmp, &leaf).map_err(|e| {
            unlink_at(&parent, &tmp);
            replace_error(name, e)
        })
    }

    /// Flushes everything written under the root to disk (once, before it is published).
    pub fn sync(&self) -> Result<()> {
        // SAFETY: syncfs on a descriptor we own.
        if unsafe { libc::syncfs(self.fd.as_raw_fd()) } != 0 {
            return Err(io::Error::last_os_error()).context("cannot sync the sysroot to disk");
        }
        Ok(())
    }

    fn parent_of(&self, name: &str) -> Result<(OwnedFd, String)> {
        let mut comps = physical(name)?;
        let leaf = comps
            .pop()
            .ok_or_else(|| anyhow!("refusing an entry for the root itself"))?;
        Ok((self.dir(&comps)?, leaf))
    }

    fn existing_parent_of(&self, name: &str) -> Result<(OwnedFd, String)> {
        let mut comps = physical(name)?;
        let leaf = comps
            .pop()
            .ok_or_else(|| anyhow!("names the root itself"))?;
        let mut fd = dup(&self.fd)?;
        for comp in &comps {
            fd = open_dir_at(&fd, comp).map_err(|e| walk_error(name, comp, e))?;
        }
        Ok((fd, leaf))
    }

    /// Walks (creating) `comps` from the root, never through a symlink.
    fn dir(&self, comps: &[String]) -> Result<OwnedFd> {
        let mut fd = dup(&self.fd)?;
        for comp in comps {
            fd = match open_dir_at(&fd, comp) {
                Ok(next) => next,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    mkdir_at(&fd, comp)?;
                    open_dir_at(&fd, comp).map_err(|e| walk_error(&comps.join("/"), comp, e))?
                }
                Err(e) => return Err(walk_error(&comps.join("/"), comp, e)),
            };
        }
        Ok(fd)
    }
}

fn walk_error(name: &str, comp: &str, e: io::Error) -> anyhow::Error {
    match e.raw_os_error() {
        Some(libc::ELOOP) | Some(libc::ENOTDIR) => anyhow!(
            "refusing {name}: its directory {comp} is a symlink or a file (planted by an earlier entry or package), and nothing is written through one"
        ),
        _ => anyhow!("cannot open {comp} on the way to {name}: {e}"),
    }
}

fn replace_error(name: &str, e: io::Error) -> anyhow::Error {
    match e.raw_os_error() {
        Some(libc::EISDIR) | Some(libc::ENOTEMPTY) | Some(libc::EEXIST) => {
            anyhow!("refusing {name}: a directory of that name is already there")
        }
        _ => anyhow!("cannot put {name} in place: {e}"),
    }
}

/// `bin -> usr/bin` and the like, at the top of the tree.
fn is_merged_usr_link(name: &str, target: &str) -> bool {
    let name = name.trim_start_matches("./").trim_end_matches('/');
    MERGED.contains(&name)
        && relative_target(&[], target)
            .is_some_and(|t| t.trim_end_matches('/') == format!("usr/{name}"))
}

/// An archive member name as components inside the root: `./` and empty parts
/// dropped; `..`, absolute names and NULs refused; the first component moved under
/// `usr/` where it is a merged-/usr link.
pub fn physical(name: &str) -> Result<Vec<String>> {
    if name.starts_with('/') {
        bail!("refusing {name:?}: an absolute name in a package");
    }
    let mut comps = Vec::new();
    for comp in name.split('/') {
        match comp {
            "" | "." => {}
            ".." => bail!("refusing {name:?}: a name with `..` in a package"),
            c if c.contains('\0') => bail!("refusing {name:?}: a name with a NUL"),
            c => comps.push(c.to_string()),
        }
    }
    if comps.first().is_some_and(|c| MERGED.contains(&c.as_str())) {
        comps.insert(0, "usr".to_string());
    }
    Ok(comps)
}

/// The target a symlink at `parent` gets: absolute targets become relative (merged
/// names mapped); relative targets must be `../` runs then plain names, and must not
/// climb above the root. None when it would leave the root.
pub fn relative_target(parent: &[String], target: &str) -> Option<String> {
    if target.is_empty() || target.contains('\0') {
        return None;
    }
    if let Some(absolute) = target.strip_prefix('/') {
        // Inside the root an absolute target means the root's own path; `..` at the
        // root stays there, as in a chroot.
        let mut comps: Vec<String> = Vec::new();
        for comp in absolute.split('/') {
            match comp {
                "" | "." => {}
                ".." => {
                    comps.pop();
                }
                c => comps.push(c.to_string()),
            }
        }
        if comps.first().is_some_and(|c| MERGED.contains(&c.as_str())) {
            comps.insert(0, "usr".to_string());
        }
        let common = parent
            .iter()
            .zip(&comps)
            .take_while(|(a, b)| a == b)
            .count();
        let mut parts: Vec<&str> = vec![".."; parent.len() - common];
        parts.extend(comps[common..].iter().map(String::as_str));
        return Some(if parts.is_empty() {
            ".".to_string()
        } else {
            parts.join("/")
        });
    }
    let comps: Vec<&str> = target
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let ups = comps.iter().take_while(|c| **c == "..").count();
    if ups > parent.len() || comps[ups..].contains(&"..") {
        return None;
    }
    Some(target.to_string())
}

fn cstr(bytes: &[u8]) -> Result<CString> {
    CString::new(bytes).map_err(|_| anyhow!("a name with a NUL byte"))
}

fn temp_name() -> String {
    format!(
        ".xx-tmp.{}.{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn dup(fd: &OwnedFd) -> Result<OwnedFd> {
    fd.try_clone().context("cannot duplicate a descriptor")
}

fn open_dir_at(dir: &OwnedFd, name: &str) -> io::Result<OwnedFd> {
    let c = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: openat on a descriptor we own; the result is checked.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn mkdir_at(dir: &OwnedFd, name: &str) -> Result<()> {
    let c = cstr(name.as_bytes())?;
    // SAFETY: mkdirat on a descriptor we own and a NUL-terminated name.
    if unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), 0o755) } != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return Err(e).with_context(|| format!("cannot create directory {name}"));
        }
    }
    Ok(())
}

fn symlink_at(target: &str, dir: &OwnedFd, name: &str) -> io::Result<()> {
    let (t, n) = (
        CString::new(target).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
        CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
    );
    // SAFETY: symlinkat with NUL-terminated strings on a descriptor we own.
    if unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), n.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn rename_at(dir: &OwnedFd, from: &str, to: &str) -> io::Result<()> {
    let (f, t) = (
        CString::new(from).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
        CString::new(to).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
    );
    // SAFETY: renameat within one directory we own; rename never follows the last
    // component, so a symlink there is replaced, not written through.
    if unsafe { libc::renameat(dir.as_raw_fd(), f.as_ptr(), dir.as_raw_fd(), t.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn unlink_at(dir: &OwnedFd, name: &str) {
    if let Ok(c) = CString::new(name) {
        // SAFETY: unlinkat on a descriptor we own.
        unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) };
    }
}

fn stat_at(dir: &OwnedFd, name: &str) -> io::Result<libc::stat> {
    let c = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a zeroed stat is a valid out-parameter; AT_SYMLINK_NOFOLLOW stats the link.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstatat(
            dir.as_raw_fd(),
            c.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(st)
    }
}

fn create_temp(dir: &OwnedFd) -> Result<(String, File)> {
    loop {
        let name = temp_name();
        if let Some(file) = create_new(dir, &name)? {
            return Ok((name, file));
        }
    }
}

/// `name` in `dir` created exclusively (never through a symlink); `None` when the name
/// is taken.
fn create_new(dir: &OwnedFd, name: &str) -> Result<Option<File>> {
    let c = cstr(name.as_bytes())?;
    // SAFETY: openat with O_EXCL|O_NOFOLLOW on a descriptor we own.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o600,
        )
    };
    if fd >= 0 {
        // SAFETY: fd is a fresh descriptor we own.
        return Ok(Some(unsafe { File::from_raw_fd(fd) }));
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EEXIST) {
        return Ok(None);
    }
    Err(e).with_context(|| format!("cannot create {name} in the sysroot"))
}

fn set_mode_and_mtime(file: &File, mode: u32, mtime: i64) -> Result<()> {
    let fd = file.as_raw_fd();
    // time_t is 32 bits on some targets (arm, i386): a later time is the latest it holds.
    let seconds = libc::time_t::try_from(mtime).unwrap_or(if mtime < 0 {
        libc::time_t::MIN
    } else {
        libc::time_t::MAX
    });
    let times = [
        libc::timespec {
            tv_sec: seconds,
            tv_nsec: 0,
        },
        libc::timespec {
            tv_sec: seconds,
            tv_nsec: 0,
        },
    ];
    // SAFETY: fchmod/futimens on a descriptor we own; `times` outlives the call.
    unsafe {
        if libc::fchmod(fd, (mode & 0o777) as libc::mode_t) != 0
            || libc::futimens(fd, times.as_ptr()) != 0
        {
            return Err(io::Error::last_os_error()).context("cannot set a file's mode");
        }
    }
    Ok(())
}

/// Writes `bytes` as a new file in the root (xx's own files: the pkg-config wrapper).
pub fn write_own(root: &Root, name: &str, mode: u32, bytes: &[u8]) -> Result<()> {
    root.write_file(name, mode, 0, &mut &bytes[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comps(path: &str) -> Vec<String> {
        physical(path).unwrap()
    }

    #[test]
    fn names_map_into_the_root() {
        assert_eq!(
            comps("./lib/aarch64-linux-gnu/libc.so.6"),
            ["usr", "lib", "aarch64-linux-gnu", "libc.so.6"]
        );
        assert_eq!(comps("./usr/include/zlib.h"), ["usr", "include", "zlib.h"]);
        assert!(physical("../evil").is_err());
        assert!(physical("./usr/../../evil").is_err());
        assert!(physical("/etc/passwd").is_err());
    }

    #[test]
    fn an_images_own_merged_usr_links_are_already_there() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        root.merge_usr().unwrap();
        root.symlink("bin", "usr/bin").unwrap();
        root.symlink("./lib/", "/usr/lib").unwrap();
        assert!(root.symlink("sbin", "usr/bin").is_err());
        assert_eq!(
            std::fs::read_link(dir.path().join("bin")).unwrap(),
            Path::new("usr/bin")
        );
    }

    #[test]
    fn symlink_targets_stay_inside() {
        let parent = comps("usr/lib/aarch64-linux-gnu");
        assert_eq!(
            relative_target(&parent, "/lib/aarch64-linux-gnu/libm.so.6").unwrap(),
            "libm.so.6"
        );
        assert_eq!(
            relative_target(&parent, "/usr/include/x.h").unwrap(),
            "../../include/x.h"
        );
        assert_eq!(relative_target(&parent, "/").unwrap(), "../../..");
        assert_eq!(
            relative_target(&parent, "/../../etc").unwrap(),
            "../../../etc"
        );
        assert_eq!(
            relative_target(&parent, "libz.so.1.2.13").unwrap(),
            "libz.so.1.2.13"
        );
        assert_eq!(
            relative_target(&parent, "../../../x").unwrap(),
            "../../../x"
        );
        assert_eq!(relative_target(&parent, "../../../../x"), None);
        assert_eq!(relative_target(&parent, "a/../../../../x"), None);
        assert_eq!(relative_target(&[], ".."), None);
    }
}
