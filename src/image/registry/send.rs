//! One request to the registry: the cached Authorization for its scope (only ever sent to
//! the registry's own origin), and the answer to a 401 — acted on only when the response
//! itself comes from that origin, so a redirect or an upload Location elsewhere never
//! draws the registry's credentials or replaces its tokens.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{anyhow, Context as _};
use ureq::http::Response;
use ureq::ResponseExt as _;

use super::{header, path_of, Client};
use crate::net::{origin, Attempt, Failure};

pub(super) enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    File {
        path: &'a Path,
        offset: u64,
        len: u64,
    },
}

impl Client {
    /// Whether `url` is on the registry's own origin (scheme, host and port).
    fn own_origin(&self, url: &str) -> bool {
        origin(url).is_some_and(|o| origin(&self.base) == Some(o))
    }

    /// One request, authenticating once when the registry answers 401.
    pub(super) fn send(
        &self,
        method: &str,
        url: &str,
        scope: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Attempt<Response<ureq::Body>> {
        let mut authenticated = false;
        loop {
            let resp = self.send_once(method, url, scope, headers, &body)?;
            let status = resp.status().as_u16();
            if status == 401 && !authenticated {
                let answered_by = resp.get_uri().to_string();
                if !self.own_origin(&answered_by) {
                    return Err(Failure::Fatal(anyhow!(
                        "{}: {method} {} was answered 401 by another origin ({}); not sending the registry's credentials there",
                        self.host,
                        path_of(url),
                        origin(&answered_by).unwrap_or_else(|| path_of(&answered_by).to_string())
                    )));
                }
                let challenge = header(&resp, "www-authenticate").unwrap_or_default();
                self.authenticate(&challenge, scope)?;
                authenticated = true;
                continue;
            }
            if status == 401 {
                return Err(Failure::Fatal(anyhow!(
                    "{}: access denied (401) for {scope}; log in with `docker login {}` or check the credentials in ~/.docker/config.json",
                    self.host,
                    self.host
                )));
            }
            if status >= 500 || status == 429 {
                return Err(Failure::Retry(anyhow!(
                    "{method} {}: HTTP {status}",
                    path_of(url)
                )));
            }
            return Ok(resp);
        }
    }

    fn send_once(
        &self,
        method: &str,
        url: &str,
        scope: &str,
        headers: &[(&str, &str)],
        body: &Body,
    ) -> Attempt<Response<ureq::Body>> {
        let mut request = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        // Credentials and tokens go to this registry only, never to a host an upload
        // Location names (and ureq drops them on every redirect).
        if self.own_origin(url) {
            if let Some(auth) = self.cached_authorization(scope) {
                request = request.header("Authorization", auth);
            }
        }
        let agent = self.http.agent();
        let transport =
            |e: ureq::Error| Failure::Retry(anyhow!("{method} {}: {}", path_of(url), e));
        let bad = |e: ureq::http::Error| Failure::Fatal(anyhow!("bad request: {e}"));
        let result = match body {
            Body::Empty => agent.run(request.body(()).map_err(bad)?),
            Body::Bytes(b) => agent.run(request.body(*b).map_err(bad)?),
            Body::File { path, offset, len } => {
                // The file was verified by path: reopened the same safe way (no link, no
                // FIFO), and it must still hold the bytes promised.
                let mut file = crate::fsutil::open_regular(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let have = file
                    .metadata()
                    .with_context(|| format!("cannot read {}", path.display()))?
                    .len();
                if have < offset.saturating_add(*len) {
                    return Err(Failure::Fatal(anyhow!(
                        "{} changed after it was verified ({have} bytes)",
                        path.display()
                    )));
                }
                file.seek(SeekFrom::Start(*offset))
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let mut reader = Counted {
                    inner: file.take(*len),
                    transfer: crate::progress::transfer(),
                };
                let body = ureq::SendBody::from_reader(&mut reader);
                agent.run(request.body(body).map_err(bad)?)
            }
        };
        result.map_err(transport)
    }
}

/// An upload body that reports its bytes to the progress line.
struct Counted<R> {
    inner: R,
    transfer: crate::progress::Transfer,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.transfer.moved(n as u64);
        Ok(n)
    }
}
