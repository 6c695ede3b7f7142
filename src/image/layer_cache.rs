//! Unchanged layers are not compressed again: what a layer's uncompressed tar (its
//! diff_id) became under one codec and level is remembered in `XX_HOME`'s cache, and a
//! rebuild whose tar hashes the same reuses the blob already in the destination layout
//! (its digest checked) instead of compressing it. Hashing the tar costs a small part
//! of compressing it; a rebuild of unchanged outputs skips compression entirely.

use std::path::PathBuf;

use super::layer::{Compression, Written};
use super::oci::{self, Descriptor};
use super::store::Layout;

/// A remembered answer is one line: `sha256:<hex> <size>`.
const LIMIT: u64 = 200;

pub struct LayerCache {
    dir: PathBuf,
}

impl LayerCache {
    /// The cache in `XX_HOME`, or none when there is no home to keep it in.
    pub fn open(ctx: &crate::context::Context) -> Option<LayerCache> {
        let dir = crate::toolchain::home::Home::of(ctx)
            .ok()?
            .cache_for("layers")
            .ok()?;
        Some(LayerCache { dir })
    }

    fn entry(&self, diff_id: &str, how: Compression) -> PathBuf {
        let key = format!("{diff_id} {}", how.describe());
        self.dir
            .join(&oci::sha256_digest(key.as_bytes())["sha256:".len()..])
    }

    /// The blob `diff_id` was compressed to before, if `layout` holds it intact.
    pub fn reuse(&self, layout: &Layout, diff_id: &str, how: Compression) -> Option<Written> {
        let text = crate::fsutil::read_bounded(&self.entry(diff_id, how), LIMIT).ok()?;
        let text = String::from_utf8(text).ok()?;
        let (digest, size) = text.trim().split_once(' ')?;
        oci::digest_hex(digest)?;
        let desc = Descriptor::new(how.media_type(), digest, size.parse().ok()?);
        layout.verify(&desc).ok()?;
        Some(Written {
            digest: desc.digest,
            size: desc.size,
            diff_id: diff_id.to_string(),
            reused: true,
        })
    }

    /// Remembers what `written.diff_id` became; a cache that cannot be written only
    /// means the next build compresses again.
    pub fn remember(&self, how: Compression, written: &Written) {
        let line = format!("{} {}\n", written.digest, written.size);
        let _ = crate::fsutil::write_atomic(&self.entry(&written.diff_id, how), line.as_bytes());
    }
}
