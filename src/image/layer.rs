//! One reproducible layer in one streaming pass: sorted walk → tar (own headers) →
//! sha256 of the tar (diff_id) → gzip → sha256 of the blob → a temp file in the layout,
//! renamed to `blobs/sha256/<hex>` once its digest is known.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

pub use super::deps::Extra;
pub use super::layer_cache::LayerCache;
use super::oci;
pub use super::oci::{hex, Hashing};
use super::pgzip::{ParallelGzip, BLOCK};
use super::store::Layout;
use crate::cas::{CasWriter, Expect};

/// What goes into a layer: a directory's contents, or one file at the root.
pub enum Source {
    Dir(PathBuf),
    File(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip { level: u32 },
    Zstd { level: i32 },
    None,
}

impl Compression {
    pub fn parse(name: &str, level: u32) -> Result<Compression> {
        match name {
            "gzip" if level <= 9 => Ok(Compression::Gzip { level }),
            "gzip" => bail!("--level {level}: gzip levels are 0 to 9"),
            "zstd" if (1..=22).contains(&level) => Ok(Compression::Zstd {
                level: level as i32,
            }),
            "zstd" => bail!("--level {level}: zstd levels are 1 to 22"),
            "none" => Ok(Compression::None),
            other => bail!("--compression {other}: use gzip, zstd or none"),
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Compression::Gzip { .. } => oci::LAYER_GZIP,
            Compression::Zstd { .. } => oci::LAYER_ZSTD,
            Compression::None => oci::LAYER_TAR,
        }
    }

    /// Recorded in an annotation, so a digest says how it was made.
    pub fn describe(self) -> String {
        match self {
            Compression::Gzip { level } => {
                format!(
                    "gzip level {level}, {} KiB blocks (zlib-rs {})",
                    BLOCK >> 10,
                    env!("XX_ZLIB_RS_VERSION")
                )
            }
            Compression::Zstd { level } => format!(
                "zstd level {level} (zstd-sys {}, multithreaded mode)",
                env!("XX_ZSTD_SYS_VERSION")
            ),
            Compression::None => "none".to_string(),
        }
    }
}

pub struct Written {
    pub digest: String,
    pub size: u64,
    pub diff_id: String,
    /// Taken from the layer cache, not compressed by this run.
    pub reused: bool,
}

/// How layers are encoded: the same for every platform of an image.
#[derive(Clone, Copy)]
pub struct Encoding {
    pub compression: Compression,
    /// Every entry's mtime (SOURCE_DATE_EPOCH).
    pub mtime: u64,
    /// Compression threads; the bytes never depend on it.
    pub threads: usize,
}

/// Writes the layer into the layout's `blobs/sha256` through its content-addressed writer
/// (a temp file in `.xx-tmp`: a crash leaves no non-digest name among the blobs); returns
/// its descriptor data. The layout is never walked into.
/// With a `cache`, the tar is hashed first and a blob made from the same tar before
/// (same codec and level) is reused from the layout instead of compressed again.
pub fn write(
    source: &Source,
    extra: &Extra,
    layout: &Layout,
    how: Encoding,
    cache: Option<&LayerCache>,
) -> Result<Written> {
    let skip = layout.dir.canonicalize().ok();
    let entries = collect(source, extra, skip.as_deref())?;
    // Only a layout that holds blobs can hold the one to reuse: a new one is not
    // read twice.
    let mut hashed = None;
    if let Some(cache) = cache.filter(|_| layout.holds_blobs()) {
        let tar = write_tar(&entries, Hashing::new(io::sink()), how.mtime)?;
        let diff_id = format!("sha256:{}", tar.finish().1);
        if let Some(reused) = cache.reuse(layout, &diff_id, how.compression) {
            return Ok(reused);
        }
        hashed = Some(diff_id);
    }
    let written = stream(&entries, layout.writer()?, how)?;
    // A file that changed between the two reads is not remembered.
    if let Some(cache) = cache.filter(|_| hashed.as_ref().is_none_or(|d| *d == written.diff_id)) {
        cache.remember(how.compression, &written);
    }
    Ok(written)
}

fn stream(entries: &[Entry], blob: CasWriter, how: Encoding) -> Result<Written> {
    let Encoding {
        compression,
        mtime,
        threads,
    } = how;
    let (blob, diff_id) = match compression {
        Compression::Gzip { level } => {
            let gz = ParallelGzip::new(blob, level, threads)?;
            let tar = write_tar(entries, Hashing::new(gz), mtime)?;
            let (gz, diff_id, _) = tar.finish();
            (gz.finish()?, diff_id)
        }
        Compression::Zstd { level } => {
            let mut z = zstd::stream::write::Encoder::new(blob, level)?;
            // Multithreaded mode makes the same bytes for any worker count (and other
            // bytes than single-threaded mode): always on, so -j never changes a digest.
            let workers = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
            z.multithread(workers.max(1))?;
            let tar = write_tar(entries, Hashing::new(z), mtime)?;
            let (z, diff_id, _) = tar.finish();
            (z.finish()?, diff_id)
        }
        Compression::None => {
            // One stream: the blob is the tar, so both digests are the same hash.
            let tar = write_tar(entries, blob, mtime)?;
            let diff_id = tar.hex_so_far();
            (tar, diff_id)
        }
    };
    let committed = blob.commit(Expect::Any)?;
    Ok(Written {
        digest: committed.digest,
        size: committed.size,
        diff_id: format!("sha256:{diff_id}"),
        reused: false,
    })
}

/// A file-system entry with its path inside the layer (bytes as they are: file names
/// need not be UTF-8).
struct Entry {
    path: PathBuf,
    inside: PathBuf,
    /// (dev, inode) the walk saw, not following links: what is opened later must be it.
    seen: Option<(u64, u64)>,
}

/// Sorted, parents before children (a byte-wise sort of full paths does that).
/// `skip`: a directory never to descend into (the layout being written, when it lies
/// inside the source: its blobs would change under the walk).
fn collect(source: &Source, extra: &Extra, skip: Option<&Path>) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    match source {
        Source::File(path) => {
            let name = path
                .file_name()
                .map(PathBuf::from)
                .ok_or_else(|| anyhow::anyhow!("{} has no file name", path.display()))?;
            // A single file given by a link is the file it points to.
            let resolved = fs::canonicalize(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            out.push(Entry {
                path: resolved,
                inside: name,
                seen: None,
            });
        }
        Source::Dir(root) => walk(root, root, skip, &mut out)?,
    }
    add_extra(&mut out, extra)?;
    if let Some(bad) = out.iter().find(|e| !is_plain_relative(&e.inside)) {
        bail!(
            "{}: a layer entry may not be named {:?} (only plain relative names go into a layer)",
            bad.path.display(),
            bad.inside
        );
    }
    // Stable: where an input entry and an added one share a name, the input's is kept.
    out.sort_by(|a, b| {
        a.inside
            .as_os_str()
            .as_bytes()
            .cmp(b.inside.as_os_str().as_bytes())
    });
    out.dedup_by(|later, first| later.inside == first.inside);
    Ok(out)
}

/// `a/b/c`: no root, no `.` or `..` (an entry named so would write outside the
/// directory it is unpacked in).
fn is_plain_relative(path: &Path) -> bool {
    !path.as_os_str().is_empty()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Files added to the input (`--with-deps`), with their parent directories; a parent
/// the input has as a symlink is refused rather than shadowed.
fn add_extra(out: &mut Vec<Entry>, extra: &Extra) -> Result<()> {
    let existing: HashMap<PathBuf, PathBuf> = out
        .iter()
        .map(|e| (e.inside.clone(), e.path.clone()))
        .collect();
    let mut dirs: Vec<PathBuf> = Vec::new();
    for (inside, host) in extra {
        for parent in inside
            .ancestors()
            .skip(1)
            .filter(|p| !p.as_os_str().is_empty())
        {
            match existing.get(parent) {
                Some(path)
                    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) =>
                {
                    bail!(
                        "/{} is a symlink in the input: --with-deps cannot add /{} under it",
                        parent.display(),
                        inside.display()
                    )
                }
                Some(_) => {}
                None if !dirs.iter().any(|d| d == parent) => dirs.push(parent.to_path_buf()),
                None => {}
            }
        }
        out.push(Entry {
            path: host.clone(),
            inside: inside.clone(),
            seen: None,
        });
    }
    // A directory entry needs only a directory to take its (normalised) header from.
    out.extend(dirs.into_iter().map(|inside| Entry {
        path: PathBuf::from("/"),
        inside,
        seen: None,
    }));
    Ok(())
}

fn walk(root: &Path, dir: &Path, skip: Option<&Path>, out: &mut Vec<Entry>) -> Result<()> {
    let reader = fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    walk_entries(root, dir, reader, skip, out)
}

fn walk_entries(
    root: &Path,
    dir: &Path,
    reader: fs::ReadDir,
    skip: Option<&Path>,
    out: &mut Vec<Entry>,
) -> Result<()> {
    for entry in reader {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        // The path as the walk names it; `reader` may read the directory by descriptor.
        let path = dir.join(entry.file_name());
        let meta = entry
            .metadata()
            .with_context(|| format!("cannot read {}", path.display()))?;
        let is_dir = meta.is_dir();
        if is_dir && skip.is_some_and(|s| path.canonicalize().ok().as_deref() == Some(s)) {
            continue;
        }
        let inside = path
            .strip_prefix(root)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let seen = (meta.dev(), meta.ino());
        out.push(Entry {
            path: path.clone(),
            inside,
            seen: Some(seen),
        });
        if is_dir {
            let reader = read_dir_exactly(&path, seen)?;
            walk_entries(root, &path, reader, skip, out)?;
        }
    }
    Ok(())
}

/// Lists the directory the walk saw at `path`, not one swapped in since: opened without
/// following links, checked to be the same inode, then read through that descriptor.
fn read_dir_exactly(path: &Path, seen: (u64, u64)) -> Result<fs::ReadDir> {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let changed = || anyhow::anyhow!("{} changed while it was read", path.display());
    let dir = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY)
        .open(path)
        .map_err(|_| changed())?;
    let meta = dir.metadata()?;
    if (meta.dev(), meta.ino()) != seen {
        return Err(changed());
    }
    let by_fd = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    // Without /proc the path is read, and each file's inode check still stands.
    fs::read_dir(&by_fd)
        .or_else(|_| fs::read_dir(path))
        .with_context(|| format!("cannot read {}", path.display()))
}

/// Our own headers: uid/gid 0, no user names, mtime fixed, modes normalised
/// (0755 for directories and executables, else 0644), symlinks as links, hardlinks kept
/// within the layer, no sparse files, complete end-of-archive marker.
fn write_tar<W: Write>(entries: &[Entry], out: W, mtime: u64) -> Result<W> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    tar.sparse(false);
    let mut seen_inodes: HashMap<(u64, u64), PathBuf> = HashMap::new();
    for e in entries {
        let meta = fs::symlink_metadata(&e.path)
            .with_context(|| format!("cannot read {}", e.path.display()))?;
        let mut header = tar::Header::new_ustar();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        let ft = meta.file_type();
        let name = &e.inside;
        if ft.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            append(&mut tar, &mut header, name, None, io::empty(), mtime)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&e.path)
                .with_context(|| format!("{} changed while it was read", e.path.display()))?;
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            append(
                &mut tar,
                &mut header,
                name,
                Some(&target),
                io::empty(),
                mtime,
            )?;
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            if meta.nlink() > 1 {
                if let Some(first) = seen_inodes.get(&key) {
                    header.set_entry_type(tar::EntryType::Link);
                    header.set_mode(mode(meta.mode()));
                    header.set_size(0);
                    append(&mut tar, &mut header, name, Some(first), io::empty(), mtime)?;
                    continue;
                }
                seen_inodes.insert(key, name.clone());
            }
            // Opened without following links or blocking, and checked to be the same
            // regular file the walk saw: a path swapped for a symlink (or a FIFO) in
            // between is refused, never followed. Size and mode come from the open file,
            // and exactly that many bytes are copied: a file that shrinks meanwhile
            // fails, never the tar; extra bytes are not read.
            let file = crate::fsutil::open_regular(&e.path).map_err(|err| {
                anyhow::anyhow!("{} changed while it was read: {err}", e.path.display())
            })?;
            let opened = file.metadata()?;
            if (opened.dev(), opened.ino()) != e.seen.unwrap_or(key) {
                bail!("{} changed while it was read", e.path.display());
            }
            let len = opened.len();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(mode(opened.mode()));
            header.set_size(len);
            let mut exact = ExactReader {
                inner: io::Read::take(file, len),
                left: len,
                path: &e.path,
            };
            append(&mut tar, &mut header, name, None, &mut exact, mtime)?;
        } else {
            bail!(
                "{}: only files, directories and symlinks go into a layer",
                e.path.display()
            );
        }
    }
    Ok(tar.into_inner()?)
}

/// One entry. Names and link targets that fit the ustar header go there (with its
/// prefix field); longer ones go in a PAX extended header before the entry, as POSIX
/// says (not GNU's LongLink), and the ustar fields keep a truncated copy.
fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    header: &mut tar::Header,
    name: &Path,
    link: Option<&Path>,
    data: impl io::Read,
    mtime: u64,
) -> Result<()> {
    let mut pax = Vec::new();
    if header.set_path(name).is_err() {
        let bytes = name.as_os_str().as_bytes();
        pax_record(&mut pax, "path", bytes);
        set_truncated(&mut header.as_old_mut().name, bytes);
        if let Some(ustar) = header.as_ustar_mut() {
            ustar.prefix = [0; 155];
        }
    }
    if let Some(link) = link {
        if header.set_link_name(link).is_err() {
            let bytes = link.as_os_str().as_bytes();
            pax_record(&mut pax, "linkpath", bytes);
            set_truncated(&mut header.as_old_mut().linkname, bytes);
        }
    }
    if !pax.is_empty() {
        let mut x = tar::Header::new_ustar();
        x.set_entry_type(tar::EntryType::XHeader);
        x.set_path("PaxHeaders/entry")?;
        x.set_mode(0o644);
        x.set_uid(0);
        x.set_gid(0);
        x.set_mtime(mtime);
        x.set_size(pax.len() as u64);
        x.set_cksum();
        tar.append(&x, &pax[..])?;
    }
    header.set_cksum();
    tar.append(header, data)?;
    Ok(())
}

/// `LEN key=value\n`, LEN counting the whole record, its own digits included.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let base = key.len() + value.len() + 3;
    let mut len = base + base.to_string().len();
    if len.to_string().len() != base.to_string().len() {
        len = base + len.to_string().len();
    }
    out.extend_from_slice(format!("{len} {key}=").as_bytes());
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn set_truncated(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field.fill(0);
    field[..n].copy_from_slice(&value[..n]);
}

/// Yields exactly `left` bytes, or an error naming the file that changed size.
struct ExactReader<'a, R> {
    inner: R,
    left: u64,
    path: &'a Path,
}

impl<R: io::Read> io::Read for ExactReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::other(format!(
                "{} shrank while it was read ({} bytes missing)",
                self.path.display(),
                self.left
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn mode(m: u32) -> u32 {
    if m & 0o111 != 0 {
        0o755
    } else {
        0o644
    }
}

/// The regular files of an input, as (path in the layer, path here), in layer order.
pub fn regular_files(source: &Source) -> Result<Vec<(PathBuf, PathBuf)>> {
    Ok(collect(source, &Extra::new(), None)?
        .into_iter()
        .filter(|e| fs::symlink_metadata(&e.path).is_ok_and(|m| m.is_file()))
        .map(|e| (e.inside, e.path))
        .collect())
}

/// A directory's contents as one uncompressed tar (archives of layouts), with the same
/// reproducible headers as layers; `skip` is never descended into.
pub fn tar_dir<W: Write>(dir: &Path, skip: Option<&Path>, out: W, mtime: u64) -> Result<W> {
    let skip = skip.and_then(|s| s.canonicalize().ok());
    let entries = collect(
        &Source::Dir(dir.to_path_buf()),
        &Extra::new(),
        skip.as_deref(),
    )?;
    write_tar(&entries, out, mtime)
}

#[cfg(test)]
mod pax_tests {
    use super::pax_record;

    #[test]
    fn record_lengths_count_themselves() {
        for len in [1, 5, 90, 93, 94, 95, 96, 97, 98, 990, 995, 996, 997] {
            let value = vec![b'a'; len];
            let mut out = Vec::new();
            pax_record(&mut out, "path", &value);
            let text = String::from_utf8(out.clone()).unwrap();
            let (n, _) = text.split_once(' ').unwrap();
            assert_eq!(n.parse::<usize>().unwrap(), out.len(), "value of {len}");
        }
    }
}
