//! Where images live: an OCI layout directory or a registry repository, behind one set
//! of operations (blobs by digest, manifests by digest, tags). Archives are layouts
//! packed or unpacked around these (see `archive`).

use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};

use super::copy::Transport;
use super::oci::{self, Descriptor, Hashing};
use super::reference::{RegistryRef, Target};
use super::registry::{Client, Uploaded};
use crate::cas::{CasWriter, Expect};
use crate::fsutil::write_atomic;
use crate::scratch::TEMP_SUFFIX;

/// Configs and manifests are small; a descriptor claiming more is refused unread.
const MAX_SMALL_BLOB: u64 = 16 << 20;

/// The layout's own directory for temp files and its writer lock.
const TMP_DIR: &str = ".xx-tmp";

pub enum Store {
    Layout(Layout),
    Remote(Box<Remote>),
}

pub struct Layout {
    pub dir: PathBuf,
    /// Held while writing: index.json is read, changed and written back.
    _lock: Option<File>,
}

pub struct Remote {
    pub client: Client,
    pub reference: RegistryRef,
}

impl Layout {
    /// A layout to read (it must exist).
    pub fn open(dir: &Path) -> Result<Layout> {
        if !fs::symlink_metadata(dir.join("index.json")).is_ok_and(|m| m.is_file()) {
            bail!("{}: not an OCI layout (no index.json)", dir.display());
        }
        Ok(Layout {
            dir: dir.to_path_buf(),
            _lock: None,
        })
    }

    /// A layout to write: created if missing, locked against other writers.
    pub fn create(dir: &Path) -> Result<Layout> {
        let blobs = dir.join("blobs/sha256");
        fs::create_dir_all(&blobs).with_context(|| format!("cannot create {}", blobs.display()))?;
        let tmp = dir.join(TMP_DIR);
        fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        // What xx writes and cleans in must be the layout's own directories: a planted
        // `.xx-tmp -> ~/work` would have xx lock and clean in ~/work.
        for sub in [dir.join("blobs"), blobs.clone(), tmp.clone()] {
            if !fs::symlink_metadata(&sub).is_ok_and(|m| m.is_dir()) {
                bail!(
                    "{} is not a directory of the layout (a symlink?): refusing to write there",
                    sub.display()
                );
            }
        }
        let lock = crate::fsutil::lock(&tmp.join("lock"), "xx image")?;
        let layout = Layout {
            dir: dir.to_path_buf(),
            _lock: Some(lock),
        };
        layout.remove_leftovers();
        write_atomic(
            &dir.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )?;
        Ok(layout)
    }

    /// Under the writer's lock, every temp file is left over from an interrupted run:
    /// xx's temp names in `.xx-tmp` (and older versions' `*.tmp` there), and the hidden
    /// temp names older versions wrote among the blobs. Nothing else is touched.
    fn remove_leftovers(&self) {
        let temp_name = |name: &str| name.ends_with(".tmp") || name.ends_with(TEMP_SUFFIX);
        for (dir, hidden_only) in [(self.tmp_dir(), false), (self.blobs(), true)] {
            for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let ours = temp_name(&name) && (!hidden_only || name.starts_with('.'));
                if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
    }

    /// Whether any blob is stored yet.
    pub fn holds_blobs(&self) -> bool {
        fs::read_dir(self.blobs()).is_ok_and(|mut d| d.next().is_some())
    }

    pub fn blobs(&self) -> PathBuf {
        self.dir.join("blobs/sha256")
    }

    /// Temp files live here, outside `blobs`: a crash leaves no non-digest name there.
    pub fn tmp_dir(&self) -> PathBuf {
        self.dir.join(TMP_DIR)
    }

    pub fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        let hex =
            oci::digest_hex(digest).ok_or_else(|| anyhow!("unsupported digest {digest:?}"))?;
        Ok(self.blobs().join(hex))
    }

    /// Whether the layout holds this blob (a regular file under its digest).
    pub fn has(&self, digest: &str) -> Result<bool> {
        Ok(fs::symlink_metadata(self.blob_path(digest)?).is_ok_and(|m| m.is_file()))
    }

    /// A writer whose `commit` puts the bytes under their digest among the blobs.
    pub fn writer(&self) -> Result<CasWriter> {
        CasWriter::new(&self.tmp_dir(), &self.blobs())
    }

    /// A blob's file opened to read: a regular file (never a symlink, FIFO or device).
    fn open_blob(&self, digest: &str) -> Result<(File, PathBuf)> {
        let path = self.blob_path(digest)?;
        let file = crate::fsutil::open_regular(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => anyhow!("missing blob {digest} ({})", path.display()),
            _ => anyhow!("blob {digest} ({}) {e}", path.display()),
        })?;
        Ok((file, path))
    }

    /// A blob's bytes, at most `desc.size` of them read, checked against digest and size.
    pub fn read(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        let (file, path) = self.open_blob(&desc.digest)?;
        let mut bytes = Vec::new();
        file.take(desc.size.saturating_add(1))
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", path.display()))?;
        check(desc, &bytes, &path)?;
        Ok(bytes)
    }

    /// A manifest or index named by digest alone (no size known): at most `MAX_SMALL_BLOB`.
    fn read_by_digest(&self, digest: &str) -> Result<Vec<u8>> {
        let (file, path) = self.open_blob(digest)?;
        let mut bytes = Vec::new();
        file.take(MAX_SMALL_BLOB + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if bytes.len() as u64 > MAX_SMALL_BLOB {
            bail!("{digest} is larger than 16 MiB: not a manifest");
        }
        check_digest(digest, &bytes, &path)?;
        Ok(bytes)
    }

    /// Refuses a blob file whose content is not what its descriptor says (at most
    /// `size + 1` bytes are read); returns its path.
    pub fn verify(&self, desc: &Descriptor) -> Result<PathBuf> {
        let (file, path) = self.open_blob(&desc.digest)?;
        let (_, hex, size) = hash_reader(file.take(desc.size.saturating_add(1)))?;
        if format!("sha256:{hex}") != desc.digest || size != desc.size {
            bail!(
                "blob {} is corrupt ({size} bytes hashing to sha256:{hex}, {} expected): refusing to use it; rebuild the layout",
                desc.digest,
                desc.size
            );
        }
        Ok(path)
    }

    /// Writes a blob (bytes) under its digest, once.
    pub fn write_bytes(&self, desc: &Descriptor, bytes: &[u8]) -> Result<()> {
        if self.has(&desc.digest)? {
            return Ok(());
        }
        let mut w = self.writer()?;
        w.write_all(bytes)
            .with_context(|| format!("cannot write blob {}", desc.digest))?;
        w.commit(expect(desc))
            .with_context(|| format!("blob {}", desc.digest))?;
        Ok(())
    }

    /// Copies another layout's blob in, checking digest and size on the way (at most
    /// `size + 1` bytes are read from the source).
    pub fn ingest(&self, desc: &Descriptor, from: &Layout) -> Result<()> {
        if self.has(&desc.digest)? {
            return Ok(());
        }
        let (file, path) = from.open_blob(&desc.digest)?;
        let mut w = self.writer()?;
        io::copy(&mut file.take(desc.size.saturating_add(1)), &mut w)
            .with_context(|| format!("cannot copy {}", path.display()))?;
        w.commit(expect(desc)).map_err(|e| {
            anyhow!(
                "blob {} is corrupt ({e}): refusing it ({})",
                desc.digest,
                path.display()
            )
        })?;
        Ok(())
    }

    fn top_index(&self) -> Result<Vec<Value>> {
        let path = self.dir.join("index.json");
        if fs::symlink_metadata(&path).is_err() {
            return Ok(Vec::new());
        }
        let bytes = crate::fsutil::read_bounded(&path, MAX_SMALL_BLOB)?;
        Ok(serde_json::from_slice::<Value>(&bytes)
            .with_context(|| format!("{} is not JSON", path.display()))?["manifests"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// The descriptor `index.json` holds for a tag.
    pub fn resolve(&self, tag: &str) -> Result<Descriptor> {
        let entries = self.top_index()?;
        let found = entries
            .iter()
            .find(|d| d["annotations"][oci::REF_NAME] == json!(tag))
            .or_else(|| {
                // A layout with one untagged image (umoci, buildah) answers for any tag.
                (entries.len() == 1 && entries[0]["annotations"][oci::REF_NAME].is_null())
                    .then(|| &entries[0])
            })
            .ok_or_else(|| {
                let tags: Vec<&str> = entries
                    .iter()
                    .filter_map(|d| d["annotations"][oci::REF_NAME].as_str())
                    .collect();
                anyhow!(
                    "{}: no tag {tag} in index.json (tags: {})",
                    self.dir.display(),
                    if tags.is_empty() {
                        "none".to_string()
                    } else {
                        tags.join(", ")
                    }
                )
            })?;
        let mut desc = Descriptor::from_json(found).ok_or_else(|| {
            anyhow!(
                "{}/index.json: malformed descriptor for {tag}",
                self.dir.display()
            )
        })?;
        desc.extra.remove("annotations");
        Ok(desc)
    }

    /// `index.json` with one descriptor per tag (the nested shape `skopeo copy --all`
    /// writes); other tags are kept.
    pub fn tag(&self, tag: &str, desc: &Descriptor) -> Result<()> {
        let mut manifests = self.top_index()?;
        manifests.retain(|m| m["annotations"][oci::REF_NAME] != json!(tag));
        let mut d = Descriptor::new(&desc.media_type, &desc.digest, desc.size).json();
        if let Some(p) = desc.extra.get("platform") {
            d["platform"] = p.clone();
        }
        d["annotations"] = json!({ oci::REF_NAME: tag });
        manifests.push(d);
        let top = json!({ "schemaVersion": 2, "mediaType": oci::INDEX, "manifests": manifests });
        write_atomic(&self.dir.join("index.json"), &serde_json::to_vec(&top)?)
    }
}

/// A manifest or config, refused unread when its descriptor claims more than
/// `MAX_SMALL_BLOB`, and checked against the descriptor's size once read.
fn small(what: &str, desc: &Descriptor, read: impl FnOnce() -> Result<Vec<u8>>) -> Result<Vec<u8>> {
    if desc.size > MAX_SMALL_BLOB {
        bail!(
            "{what} {} claims {} bytes: refusing (more than 16 MiB)",
            desc.digest,
            desc.size
        );
    }
    let bytes = read()?;
    if bytes.len() as u64 != desc.size {
        bail!(
            "{what} {} is {} bytes, its descriptor says {}",
            desc.digest,
            bytes.len(),
            desc.size
        );
    }
    Ok(bytes)
}

/// Reads to the end, hashing: (reader, hex, size).
pub fn hash_reader<R: io::Read>(mut r: R) -> Result<(R, String, u64)> {
    let mut w = Hashing::new(io::sink());
    io::copy(&mut r, &mut w).context("cannot read blob")?;
    let (_, hex, size) = w.finish();
    Ok((r, hex, size))
}

/// What a descriptor promises, for a writer's commit.
fn expect(desc: &Descriptor) -> Expect<'_> {
    Expect::Exactly {
        digest: &desc.digest,
        size: desc.size,
    }
}

/// Refuses bytes read from `path` that are not what `desc` names.
fn check(desc: &Descriptor, bytes: &[u8], path: &Path) -> Result<()> {
    if bytes.len() as u64 != desc.size {
        bail!(
            "blob {} is corrupt: {} bytes where its descriptor says {} ({})",
            desc.digest,
            bytes.len(),
            desc.size,
            path.display()
        );
    }
    check_digest(&desc.digest, bytes, path)
}

fn check_digest(digest: &str, bytes: &[u8], path: &Path) -> Result<()> {
    if oci::sha256_digest(bytes) != digest {
        bail!(
            "blob {digest} is corrupt: its content does not hash to its name ({})",
            path.display()
        );
    }
    Ok(())
}

impl Remote {
    pub fn new(reference: &RegistryRef, t: Transport<'_>) -> Remote {
        Remote {
            client: Client::new(reference, t),
            reference: reference.clone(),
        }
    }

    fn repo(&self) -> &str {
        &self.reference.repo
    }
}

impl Store {
    pub fn is_remote(&self) -> bool {
        matches!(self, Store::Remote(_))
    }

    pub fn describe(&self) -> String {
        match self {
            Store::Layout(l) => format!("oci:{}", l.dir.display()),
            Store::Remote(r) => format!("{}/{}", r.reference.host, r.reference.repo),
        }
    }

    /// The root descriptor and bytes for a tag or digest.
    pub fn resolve(&self, target: &Target) -> Result<(Descriptor, Vec<u8>)> {
        match (self, target) {
            (Store::Remote(r), t) => r.client.get_manifest(r.repo(), t.as_str()),
            (Store::Layout(l), Target::Tag(tag)) => {
                let desc = l.resolve(tag)?;
                let bytes = small("manifest", &desc, || l.read(&desc))?;
                Ok((desc, bytes))
            }
            (Store::Layout(l), Target::Digest(d)) => {
                let bytes = l.read_by_digest(d)?;
                let mt = oci::media_type_of(&bytes)
                    .ok_or_else(|| anyhow!("{d} in {} is not a manifest", l.dir.display()))?;
                Ok((Descriptor::of(&mt, &bytes), bytes))
            }
        }
    }

    /// A manifest's bytes, checked against the descriptor.
    pub fn manifest(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        small("manifest", desc, || match self {
            Store::Layout(l) => l.read(desc),
            Store::Remote(r) => Ok(r.client.get_manifest(r.repo(), &desc.digest)?.1),
        })
    }

    /// A config or other small blob's bytes, checked against its descriptor.
    pub fn read_small_blob(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        small("config", desc, || match self {
            Store::Layout(l) => l.read(desc),
            Store::Remote(r) => r.client.get_small_blob(r.repo(), desc),
        })
    }

    /// The config a manifest names, as JSON.
    pub fn config(&self, manifest: &[u8]) -> Result<serde_json::Value> {
        let config = oci::children(manifest)?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("a manifest without a config"))?;
        serde_json::from_slice(&self.read_small_blob(&config)?)
            .map_err(|_| anyhow!("config {} is not JSON", config.digest))
    }

    /// Whether a tag or digest names something here.
    pub fn exists(&self, target: &Target) -> Result<bool> {
        match self {
            Store::Layout(l) => match target {
                Target::Tag(t) => Ok(l.resolve(t).is_ok()),
                Target::Digest(d) => l.has(d),
            },
            Store::Remote(r) => r.client.has_manifest(r.repo(), target.as_str()),
        }
    }

    pub fn has_manifest(&self, desc: &Descriptor) -> Result<bool> {
        match self {
            Store::Layout(l) => l.has(&desc.digest),
            Store::Remote(r) => r.client.has_manifest(r.repo(), &desc.digest),
        }
    }

    pub fn put_manifest(&self, desc: &Descriptor, bytes: &[u8]) -> Result<()> {
        match self {
            Store::Layout(l) => l.write_bytes(desc, bytes),
            Store::Remote(r) => r.client.put_manifest(r.repo(), &desc.digest, desc, bytes),
        }
    }

    /// Points a tag at a root manifest or index (registries: a PUT under the tag of the
    /// same bytes).
    pub fn tag(&self, tag: &str, desc: &Descriptor, bytes: &[u8]) -> Result<()> {
        match self {
            Store::Layout(l) => l.tag(tag, desc),
            Store::Remote(r) => r.client.put_manifest(r.repo(), tag, desc, bytes),
        }
    }

    /// Copies one blob from `src` into this store; `scratch` holds downloads on their way
    /// to another registry.
    pub fn copy_blob(&self, src: &Store, desc: &Descriptor, scratch: &Path) -> Result<Uploaded> {
        match (src, self) {
            (Store::Layout(s), Store::Layout(d)) => {
                if d.has(&desc.digest)? {
                    return Ok(Uploaded::Exists);
                }
                // ingest checks digest and size as it copies: no hashing pass before.
                d.ingest(desc, s)?;
                Ok(Uploaded::Pushed)
            }
            (Store::Layout(s), Store::Remote(d)) => {
                if d.client.has_blob(d.repo(), &desc.digest)? {
                    return Ok(Uploaded::Exists);
                }
                let path = s.verify(desc)?;
                d.client.put_blob(d.repo(), desc, &path)
            }
            (Store::Remote(s), Store::Layout(d)) => {
                if d.has(&desc.digest)? {
                    return Ok(Uploaded::Exists);
                }
                s.client.get_blob(s.repo(), desc, &|| d.writer())?;
                Ok(Uploaded::Pushed)
            }
            (Store::Remote(s), Store::Remote(d)) => {
                if d.client.has_blob(d.repo(), &desc.digest)? {
                    return Ok(Uploaded::Exists);
                }
                if s.client.host() == d.client.host()
                    && d.client.mount_blob(d.repo(), desc, s.repo())?
                {
                    return Ok(Uploaded::Mounted);
                }
                // Through the scratch dir (temp file, then its digest): one file per blob,
                // removed once uploaded.
                let blob = s
                    .client
                    .get_blob(s.repo(), desc, &|| CasWriter::new(scratch, scratch))?;
                let result = d.client.put_blob(d.repo(), desc, &blob.path);
                let _ = fs::remove_file(&blob.path);
                result
            }
        }
    }
}
