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
        .map_err(|e| Failure::Retry(anyhow!("{e}")))?;
    let status = resp.status().as_u16();
    if status >= 500 || status == 429 {
        return Err(Failure::Retry(anyhow!("HTTP {status}")));
    }
    if status != 200 {
        return Err(Failure::Fatal(anyhow!("{}: HTTP {status}", short(url))));
    }
    let mut out = CasWriter::new(tmp, blobs)?;
    // One byte past the promise is read and refused by the size check below (final):
    // a longer body is a wrong answer, not a broken connection to retry.
    copy_body(
        &mut io::Read::take(
            http.body(&mut resp, size.saturating_add(2)),
            size.saturating_add(1),
        ),
        &mut out,
        "the body",
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

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::context::Context;

    /// A loopback server answering the n-th request with `answers[n]` (the last one
    /// repeats): a status line and a body, or a body cut short.
    fn serve(answers: Vec<(&'static str, Vec<u8>, bool)>) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/pool/f.deb", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let (status, body, cut) = answers[n.min(answers.len() - 1)].clone();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let mut out = stream;
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = out.write_all(head.as_bytes());
                let sent = if cut {
                    &body[..body.len() / 2]
                } else {
                    &body[..]
                };
                let _ = out.write_all(sent);
            }
        });
        (url, count)
    }

    fn sha(bytes: &[u8]) -> String {
        crate::image::oci::sha256_digest(bytes)[7..].to_string()
    }

    #[test]
    fn downloads_verify_retry_and_hit_the_cache() {
        let body = b"a .deb's bytes".to_vec();
        let (url, count) = serve(vec![
            ("500 Internal Server Error", b"busy".to_vec(), false),
            ("200 OK", body.clone(), true),
            ("200 OK", body.clone(), false),
        ]);
        let http = Http::new(&Context::new(Default::default()));
        let cache = tempfile::tempdir().unwrap();
        let path = download(&http, &url, &sha(&body), body.len() as u64, cache.path()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), body);
        assert_eq!(
            count.load(Ordering::SeqCst),
            3,
            "a 500 and a cut body are retried"
        );
        // A second request for the same content is a cache hit: no request.
        let again = download(&http, &url, &sha(&body), body.len() as u64, cache.path()).unwrap();
        assert_eq!(again, path);
        assert_eq!(count.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_wrong_checksum_is_refused_and_nothing_is_cached() {
        let (url, count) = serve(vec![("200 OK", b"evil".to_vec(), false)]);
        let http = Http::new(&Context::new(Default::default()));
        let cache = tempfile::tempdir().unwrap();
        let want = sha(b"good");
        let err = download(&http, &url, &want, 4, cache.path()).unwrap_err();
        assert!(
            format!("{err:#}").contains("refusing the download"),
            "{err:#}"
        );
        assert_eq!(
            count.load(Ordering::SeqCst),
            1,
            "a checksum mismatch is final"
        );
        assert_eq!(
            std::fs::read_dir(cache.path().join("sha256"))
                .unwrap()
                .count(),
            0
        );
        assert_eq!(
            std::fs::read_dir(cache.path().join("tmp")).unwrap().count(),
            0
        );
        let err = download(&http, &url, "not-hex", 4, cache.path()).unwrap_err();
        assert!(err.to_string().contains("not a sha256"), "{err}");
    }
}
