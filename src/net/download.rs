//! Verified downloads into a content-addressed cache: `CACHE/sha256/<hex>`, written
//! through the one content-addressed writer (temp file in `CACHE/tmp`, hashed while it
//! streams, renamed only when digest and size are the ones promised). A second request
//! for the same content is a cache hit; a dropped, too slow or 5xx answer is retried.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _, Result};

use super::{retrying, Attempt, Failure, Http};
use crate::cas::{CasWriter, Expect};

/// Downloads `url` into the cache unless it holds `sha256` already; returns its path.
/// `sha256` is the hex digest and `size` the byte count an index promised.
pub fn download(http: &Http, url: &str, sha256: &str, size: u64, cache: &Path) -> Result<PathBuf> {
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!("{url}: {sha256:?} is not a sha256 digest");
    }
    let sha256 = sha256.to_ascii_lowercase();
    let blobs = cache.join("sha256");
    let tmp = cache.join("tmp");
    for dir in [&blobs, &tmp] {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let path = blobs.join(&sha256);
    if fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() == size) {
        return Ok(path);
    }
    crate::scratch::remove_stale(&tmp, ".blob.");
    let digest = format!("sha256:{sha256}");
    let place = super::origin(url).unwrap_or_else(|| url.to_string());
    retrying(
        &format!("GET {}", short(url)),
        &place,
        "is the server up?",
        || fetch(http, url, &digest, size, &tmp, &blobs),
    )?;
    Ok(path)
}

fn fetch(http: &Http, url: &str, digest: &str, size: u64, tmp: &Path, blobs: &Path) -> Attempt<()> {
    let mut resp = http
        .agent()
        .get(url)
        .call()
        .map_err(|e| Failure::Retry(anyhow!("{}: {e}", short(url))))?;
    let status = resp.status().as_u16();
    if status >= 500 || status == 429 {
        return Err(Failure::Retry(anyhow!("{}: HTTP {status}", short(url))));
    }
    if status != 200 {
        return Err(Failure::Fatal(anyhow!("{}: HTTP {status}", short(url))));
    }
    let mut out = CasWriter::new(tmp, blobs)?;
    copy_body(
        &mut http.body(&mut resp, size.saturating_add(1)),
        &mut out,
        url,
    )?;
    out.commit(Expect::Exactly { digest, size })
        .map_err(|e| Failure::Fatal(anyhow!("{}: refusing the download: {e}", short(url))))?;
    crate::progress::step("fetched", digest, size, short(url));
    Ok(())
}

/// Copies a body: a broken read is a dropped connection (retried), a failed write is
/// local (disk full…) and final.
pub fn copy_body(reader: &mut impl io::Read, out: &mut impl io::Write, what: &str) -> Attempt<()> {
    let mut buf = vec![0; 256 << 10];
    let transfer = crate::progress::transfer();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Retry(anyhow!("download of {what} broke: {e}"))),
        };
        out.write_all(&buf[..n])
            .map_err(|e| Failure::Fatal(anyhow!("cannot write {what}: {e}")))?;
        transfer.moved(n as u64);
    }
}

/// A URL without its query (tokens and session state stay out of messages).
fn short(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}
