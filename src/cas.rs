//! The one content-addressed writer: bytes go to a temp file (see `scratch`), counted and
//! hashed (sha256) on the way; `commit` flushes them to disk and renames the file to its
//! hex digest in the destination directory, or refuses with one mismatch error when the
//! caller expected other content. Dropped uncommitted, the temp file is removed. Layers,
//! layout ingests, registry downloads and the download cache all write through it.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use sha2::{Digest, Sha256};

use crate::scratch::TempFile;

/// What a writer must have received to be committed.
#[derive(Debug, Clone, Copy)]
pub enum Expect<'a> {
    /// Whatever came (a layer being made: its digest is what it is).
    Any,
    /// A `sha256:<hex>` digest and a size promised by a descriptor or an index.
    Exactly { digest: &'a str, size: u64 },
}

/// A committed blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// `sha256:<hex>`.
    pub digest: String,
    pub size: u64,
    pub path: PathBuf,
}

pub struct CasWriter {
    out: Hashing<BufWriter<TempFile>>,
    dest_dir: PathBuf,
}

impl CasWriter {
    /// Writes through a temp file in `tmp_dir` into `dest_dir/<hex>` (same file system).
    pub fn new(tmp_dir: &Path, dest_dir: &Path) -> Result<CasWriter> {
        let tmp = TempFile::new_in(tmp_dir, ".blob.")?;
        Ok(CasWriter {
            out: Hashing::new(BufWriter::with_capacity(1 << 20, tmp)),
            dest_dir: dest_dir.to_path_buf(),
        })
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.out.size
    }

    /// The hex sha256 of what was written so far.
    pub fn hex_so_far(&self) -> String {
        self.out.hex_so_far()
    }

    /// Renames the file to its digest, once its content is what `expect` says. A blob
    /// already there under that digest is kept (same name, same bytes).
    pub fn commit(self, expect: Expect) -> Result<Blob> {
        let CasWriter { out, dest_dir } = self;
        let (out, hex, size) = out.finish();
        let digest = format!("sha256:{hex}");
        if let Expect::Exactly {
            digest: want,
            size: want_size,
        } = expect
        {
            if want != digest || want_size != size {
                bail!(
                    "{size} bytes hashing to {digest}, {want_size} bytes hashing to {want} expected"
                );
            }
        }
        let tmp = out
            .into_inner()
            .map_err(|e| anyhow!("cannot write {}: {}", dest_dir.display(), e.error()))?;
        let path = dest_dir.join(&hex);
        tmp.persist(&path)?;
        Ok(Blob { digest, size, path })
    }
}

impl Write for CasWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Counts and hashes (sha256) what passes through to `inner`.
pub struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// The hex sha256 of what passed so far.
    pub fn hex_so_far(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }

    /// The writer, the hex sha256 and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex(&self.hasher.finalize()), self.size)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_under_its_digest_or_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, dest) = (dir.path().join("tmp"), dir.path().join("blobs"));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::create_dir_all(&dest).unwrap();
        let hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let mut w = CasWriter::new(&tmp, &dest).unwrap();
        w.write_all(b"hello").unwrap();
        assert_eq!(w.hex_so_far(), hello);
        let blob = w.commit(Expect::Any).unwrap();
        assert_eq!(blob.digest, format!("sha256:{hello}"));
        assert_eq!(std::fs::read(dest.join(hello)).unwrap(), b"hello");

        let mut w = CasWriter::new(&tmp, &dest).unwrap();
        w.write_all(b"hellO").unwrap();
        let want = format!("sha256:{hello}");
        let err = w
            .commit(Expect::Exactly {
                digest: &want,
                size: 5,
            })
            .unwrap_err();
        assert!(err.to_string().contains("expected"), "{err}");
        // Refused: nothing left in tmp, nothing new among the blobs.
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
        assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 1);
    }
}
