//! One Debian/Ubuntu archive source (`URI SUITE COMPONENTS`, its keyring): the signed
//! Release fetched and checked, then the Packages index of an architecture, verified
//! against the Release's SHA256 and cached by that hash.

use std::io::Read as _;
use std::path::Path;

use anyhow::{anyhow, bail, Context as _, Result};

use super::release::{self, Keyring, Release};
use crate::net::{self, Http};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub uri: String,
    pub suite: String,
    pub components: Vec<String>,
    /// The source's `Signed-By` (key files or an inline key); None: the host's keyrings.
    pub signed_by: Option<String>,
}

pub struct Trust<'a> {
    pub ctx: &'a crate::context::Context,
    pub keyring: Option<&'a Path>,
    pub allow_unsigned: bool,
    pub ignore_valid_until: bool,
}

/// A source's verified Release.
pub struct Fetched {
    pub release: Release,
    /// sha256 of the Release text as served (InRelease or Release), for "nothing changed".
    pub digest: String,
}

const RELEASE_LIMIT: u64 = 32 << 20;
/// Decompressed indexes larger than this are refused (bookworm's largest is ~70 MB).
const INDEX_LIMIT: u64 = 2 << 30;

impl Source {
    fn dists(&self) -> String {
        format!("{}/dists/{}", self.uri.trim_end_matches('/'), self.suite)
    }

    pub fn pool_url(&self, filename: &str) -> String {
        format!("{}/{filename}", self.uri.trim_end_matches('/'))
    }

    /// InRelease, else Release + Release.gpg; an unsigned Release only when allowed.
    pub fn fetch_release(&self, http: &Http, trust: &Trust) -> Result<Fetched> {
        let dists = self.dists();
        let keys = || -> Result<Keyring> {
            let keys = release::keyring_for(trust.ctx, self.signed_by.as_deref(), trust.keyring)?;
            if keys.is_empty() {
                bail!("{}: no usable key in {}\nhelp: pass --keyring FILE with the archive's signing key", self.uri, keys.origin);
            }
            Ok(keys)
        };
        let (text, raw) = if let Some(raw) =
            net::get_small(http, &format!("{dists}/InRelease"), RELEASE_LIMIT)?
        {
            let text = if trust.allow_unsigned {
                release::verify_inline(&raw, &keys()?)
                    .or_else(|_| release::signed_text_unverified(&raw))?
            } else {
                release::verify_inline(&raw, &keys()?)
                    .with_context(|| format!("{dists}: refusing the archive's InRelease"))?
            };
            (text, raw)
        } else {
            let raw = net::get_small(http, &format!("{dists}/Release"), RELEASE_LIMIT)?
                .ok_or_else(|| {
                    anyhow!(
                        "{dists}: no InRelease or Release file (is the suite {:?} right?)",
                        self.suite
                    )
                })?;
            let text = match net::get_small(http, &format!("{dists}/Release.gpg"), 1 << 20)? {
                Some(sig) => release::verify_detached(&raw, &sig, &keys()?).with_context(|| format!("{dists}: refusing the archive's Release"))?,
                None if trust.allow_unsigned => String::from_utf8(raw.clone()).map_err(|_| anyhow!("Release is not text"))?,
                None => bail!(
                    "{dists}: the Release file is not signed (no InRelease, no Release.gpg): refusing it\n\
                     help: pass --allow-unsigned only for an archive you trust by other means"
                ),
            };
            (text, raw)
        };
        let release = Release::parse(&text).with_context(|| dists.to_string())?;
        release
            .check(&self.suite, release::now(), trust.ignore_valid_until)
            .with_context(|| dists.to_string())?;
        Ok(Fetched {
            release,
            digest: crate::image::oci::sha256_digest(&raw),
        })
    }

    /// The Packages index of `component`/`arch` as text: the best compression the
    /// Release lists, downloaded into `cache` by its hash, checked on the way.
    pub fn packages(
        &self,
        http: &Http,
        fetched: &Fetched,
        component: &str,
        arch: &str,
        cache: &Path,
        each: &mut dyn FnMut(&str) -> Result<()>,
    ) -> Result<()> {
        let base = format!("{component}/binary-{arch}/Packages");
        for ext in [".xz", ".gz", ""] {
            let path = format!("{base}{ext}");
            let Some((sha, size)) = fetched.release.sha256.get(&path) else {
                continue;
            };
            let url = format!("{}/{path}", self.dists());
            let file = net::download(http, &url, sha, *size, cache).with_context(|| {
                format!("{path}: the signed Release lists {size} bytes, sha256:{sha}")
            })?;
            return decompress(&file, ext, each).with_context(|| url.to_string());
        }
        bail!(
            "{}: the Release of {} lists no {base} (is {arch} served by this archive, in {component}?)",
            self.uri,
            self.suite
        )
    }
}

/// The index in `file` decompressed, handed to `each` a piece at a time, every piece
/// whole paragraphs (cut after an empty line), so reading it overlaps decompressing it
/// and the whole text is never held at once.
fn decompress(file: &Path, ext: &str, each: &mut dyn FnMut(&str) -> Result<()>) -> Result<()> {
    const PIECE: usize = 1 << 20;
    let mut f = crate::fsutil::open_regular(file)?;
    let mut reader = super::deb::decoder(ext, &mut f)?.take(INDEX_LIMIT + 1);
    let mut pending: Vec<u8> = Vec::with_capacity(2 * PIECE);
    let mut total = 0u64;
    loop {
        let start = pending.len();
        pending.resize(start + PIECE, 0);
        let n = loop {
            match reader.read(&mut pending[start..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other.map_err(|e| anyhow!("cannot read the index: {e}"))?,
            }
        };
        pending.truncate(start + n);
        total += n as u64;
        if total > INDEX_LIMIT {
            bail!("the index is larger than {INDEX_LIMIT} bytes: refusing it");
        }
        let cut = if n == 0 {
            pending.len()
        } else {
            match pending.windows(2).rposition(|w| w == b"\n\n") {
                Some(at) => at + 2,
                None => continue,
            }
        };
        let piece = std::str::from_utf8(&pending[..cut])
            .map_err(|_| anyhow!("cannot read the index: it is not UTF-8"))?;
        each(piece)?;
        pending.drain(..cut);
        if n == 0 {
            return Ok(());
        }
    }
}
