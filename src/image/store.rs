//! Where images live: an OCI layout directory or a registry repository, behind one set
//! of operations (blobs by digest, manifests by digest, tags). Archives are layouts
//! packed or unpacked around these (see `archive`).

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};

use super::oci::{self, Descriptor, Hashing};
use super::reference::{RegistryRef, Target};
use super::registry::{Client, Uploaded};
use crate::fsutil::write_atomic;

/// Configs and manifests are small; a descriptor claiming more is refused unread.
const MAX_SMALL_BLOB: u64 = 16 << 20;

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
        if !dir.join("index.json").is_file() {
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
        let lock = crate::fsutil::lock(&dir.join(".xx-tmp/lock"), "xx image")?;
        // Under the lock, temp files are left over from an interrupted run.
        for entry in fs::read_dir(dir.join(".xx-tmp"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.file_name().to_string_lossy().ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
        write_atomic(
            &dir.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )?;
        Ok(Layout {
            dir: dir.to_path_buf(),
            _lock: Some(lock),
        })
    }

    pub fn blobs(&self) -> PathBuf {
        self.dir.join("blobs/sha256")
    }

    /// Temp files live here, outside `blobs`: a crash leaves no non-digest name there.
    pub fn tmp_dir(&self) -> PathBuf {
        self.dir.join(".xx-tmp")
    }

    pub fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        let hex =
            oci::digest_hex(digest).ok_or_else(|| anyhow!("unsupported digest {digest:?}"))?;
        Ok(self.blobs().join(hex))
    }

    /// A blob's bytes, checked against its digest.
    pub fn read(&self, digest: &str) -> Result<Vec<u8>> {
        let path = self.blob_path(digest)?;
        let bytes = fs::read(&path)
            .with_context(|| format!("missing blob {digest} ({})", path.display()))?;
        if oci::sha256_digest(&bytes) != digest {
            bail!(
                "blob {digest} is corrupt: its content does not hash to its name ({})",
                path.display()
            );
        }
        Ok(bytes)
    }

    /// Refuses a blob file whose content is not what its descriptor says.
    pub fn verify(&self, desc: &Descriptor) -> Result<PathBuf> {
        let path = self.blob_path(&desc.digest)?;
        let file = File::open(&path)
            .with_context(|| format!("missing blob {} ({})", desc.digest, path.display()))?;
        let (_, hex, size) = hash_reader(file)?;
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
        let path = self.blob_path(&desc.digest)?;
        if !path.exists() {
            write_atomic(&path, bytes)?;
        }
        Ok(())
    }

    /// Copies a blob file in through a temp file, checking its digest on the way.
    pub fn ingest(&self, desc: &Descriptor, from: &Path) -> Result<()> {
        let dest = self.blob_path(&desc.digest)?;
        if dest.exists() {
            return Ok(());
        }
        let tmp = self.tmp_path("blob");
        let result = (|| {
            let mut src =
                File::open(from).with_context(|| format!("cannot read {}", from.display()))?;
            let out =
                File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
            let mut w = Hashing::new(BufWriter::with_capacity(1 << 20, out));
            io::copy(&mut src, &mut w)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            let (buf, hex, size) = w.finish();
            buf.into_inner()
                .map_err(|e| anyhow!("cannot write {}: {}", tmp.display(), e.error()))?
                .sync_all()?;
            if format!("sha256:{hex}") != desc.digest || size != desc.size {
                bail!(
                    "blob {} is corrupt ({size} bytes hashing to sha256:{hex}, {} expected): refusing it",
                    desc.digest,
                    desc.size
                );
            }
            fs::rename(&tmp, &dest).with_context(|| format!("cannot write {}", dest.display()))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    pub fn tmp_path(&self, what: &str) -> PathBuf {
        self.tmp_dir().join(format!(
            "{what}.{}.{:?}.tmp",
            std::process::id(),
            std::thread::current().id()
        ))
    }

    fn top_index(&self) -> Result<Vec<Value>> {
        let path = self.dir.join("index.json");
        match fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice::<Value>(&bytes)
                .with_context(|| format!("{} is not JSON", path.display()))?["manifests"]
                .as_array()
                .cloned()
                .unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
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

impl Remote {
    pub fn new(reference: &RegistryRef, insecure: bool) -> Remote {
        Remote {
            client: Client::new(reference, insecure),
            reference: reference.clone(),
        }
    }

    fn repo(&self) -> &str {
        &self.reference.repo
    }
}

impl Store {
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
                let bytes = l.read(&desc.digest)?;
                Ok((desc, bytes))
            }
            (Store::Layout(l), Target::Digest(d)) => {
                let bytes = l.read(d)?;
                let mt = oci::media_type_of(&bytes)
                    .ok_or_else(|| anyhow!("{d} in {} is not a manifest", l.dir.display()))?;
                Ok((Descriptor::of(&mt, &bytes), bytes))
            }
        }
    }

    /// A manifest's bytes, checked against the descriptor.
    pub fn manifest(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        small("manifest", desc, || match self {
            Store::Layout(l) => l.read(&desc.digest),
            Store::Remote(r) => Ok(r.client.get_manifest(r.repo(), &desc.digest)?.1),
        })
    }

    /// A config or other small blob's bytes, checked against its descriptor.
    pub fn read_small_blob(&self, desc: &Descriptor, scratch: &Path) -> Result<Vec<u8>> {
        small("config", desc, || match self {
            Store::Layout(l) => l.read(&desc.digest),
            Store::Remote(r) => {
                let path = scratch.join(format!("{}.small", desc.hex().unwrap_or("blob")));
                r.client.get_blob(r.repo(), desc, &path)?;
                let bytes =
                    fs::read(&path).with_context(|| format!("cannot read {}", path.display()));
                let _ = fs::remove_file(&path);
                bytes
            }
        })
    }

    /// The config a manifest names, as JSON.
    pub fn config(&self, manifest: &[u8], scratch: &Path) -> Result<serde_json::Value> {
        let config = oci::children(manifest)?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("a manifest without a config"))?;
        serde_json::from_slice(&self.read_small_blob(&config, scratch)?)
            .map_err(|_| anyhow!("config {} is not JSON", config.digest))
    }

    /// Whether a tag or digest names something here.
    pub fn exists(&self, target: &Target) -> Result<bool> {
        match self {
            Store::Layout(l) => match target {
                Target::Tag(t) => Ok(l.resolve(t).is_ok()),
                Target::Digest(d) => Ok(l.blob_path(d)?.is_file()),
            },
            Store::Remote(r) => r.client.has_manifest(r.repo(), target.as_str()),
        }
    }

    pub fn has_manifest(&self, desc: &Descriptor) -> Result<bool> {
        match self {
            Store::Layout(l) => Ok(l.blob_path(&desc.digest)?.is_file()),
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
                if d.blob_path(&desc.digest)?.exists() {
                    return Ok(Uploaded::Exists);
                }
                // ingest checks digest and size as it copies: no hashing pass before.
                d.ingest(desc, &s.blob_path(&desc.digest)?)?;
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
                let dest = d.blob_path(&desc.digest)?;
                if dest.exists() {
                    return Ok(Uploaded::Exists);
                }
                let tmp = d.tmp_path("download");
                let result = s.client.get_blob(s.repo(), desc, &tmp).and_then(|()| {
                    fs::rename(&tmp, &dest)
                        .with_context(|| format!("cannot write {}", dest.display()))
                });
                if result.is_err() {
                    let _ = fs::remove_file(&tmp);
                }
                result.map(|()| Uploaded::Pushed)
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
                let path = scratch.join(format!(
                    "{}.{:?}.blob",
                    desc.hex().unwrap_or("blob"),
                    std::thread::current().id()
                ));
                let result = s
                    .client
                    .get_blob(s.repo(), desc, &path)
                    .and_then(|()| d.client.put_blob(d.repo(), desc, &path));
                let _ = fs::remove_file(&path);
                result
            }
        }
    }
}
