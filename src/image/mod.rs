//! `xx image create`: per-platform layers into one multi-arch OCI image index, written
//! as an OCI layout (`oci:DIR[:TAG]`), reproducibly: same inputs and SOURCE_DATE_EPOCH,
//! same bytes and digests, whatever the time or the parallelism.
//!
//! The first part of issue 5; registries, merge, copy and the other references are not
//! here yet.

pub mod layer;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};

use crate::fsutil::write_atomic;
use crate::platform;
use layer::{Compression, Source};

const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG: &str = "application/vnd.oci.image.config.v1+json";

pub struct CreateArgs {
    /// `os/arch[/variant]=PATH`, in the user's order.
    pub platforms: Vec<String>,
    pub output: String,
    pub entrypoint: Vec<String>,
    pub env: Vec<String>,
    pub labels: Vec<String>,
    pub compression: String,
    pub level: u32,
    pub jobs: usize,
}

struct PlatformInput {
    os: String,
    arch: String,
    variant: String,
    source: Source,
}

/// A blob written to the layout: media type, digest, size.
#[derive(Clone)]
struct Descriptor {
    media_type: &'static str,
    digest: String,
    size: u64,
}

impl Descriptor {
    fn json(&self) -> Value {
        json!({ "mediaType": self.media_type, "digest": self.digest, "size": self.size })
    }
}

/// Creates the image; returns the index digest.
pub fn create(args: &CreateArgs) -> Result<String> {
    let (dir, tag) = parse_oci_output(&args.output)?;
    let inputs = args
        .platforms
        .iter()
        .map(|p| parse_platform_input(p))
        .collect::<Result<Vec<_>>>()?;
    if inputs.is_empty() {
        bail!("no --platform given, e.g. --platform linux/arm64=./out/arm64");
    }
    for (i, p) in inputs.iter().enumerate() {
        let same = |q: &PlatformInput| (&q.os, &q.arch, &q.variant) == (&p.os, &p.arch, &p.variant);
        if inputs[..i].iter().any(same) {
            bail!(
                "--platform {}/{} is given twice: an index holds one manifest per platform",
                p.os,
                p.arch
            );
        }
    }
    let compression = match args.compression.as_str() {
        "gzip" => Compression::Gzip { level: args.level },
        "none" => Compression::None,
        other => bail!("--compression {other}: use gzip or none (zstd is not supported yet)"),
    };
    let mtime = source_date_epoch()?;
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).with_context(|| format!("cannot create {}", blobs.display()))?;
    let tmp_dir = dir.join(".xx-tmp");
    fs::create_dir_all(&tmp_dir).with_context(|| format!("cannot create {}", tmp_dir.display()))?;
    // One writer per layout: index.json is read, changed and written back.
    let _lock = crate::fsutil::lock(&tmp_dir.join("lock"), "xx image")?;
    write_atomic(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;

    let job = Job {
        blobs: &blobs,
        tmp_dir: &tmp_dir,
        layout: &dir,
        compression,
        mtime,
        args,
    };
    let manifests = build_all(&inputs, &job)?;
    let entries: Vec<Value> = inputs
        .iter()
        .zip(&manifests)
        .map(|(p, m)| {
            let mut platform = json!({ "architecture": p.arch, "os": p.os });
            if !p.variant.is_empty() {
                platform["variant"] = json!(p.variant);
            }
            let mut d = m.json();
            d["platform"] = platform;
            d
        })
        .collect();
    let index = json!({ "schemaVersion": 2, "mediaType": INDEX, "manifests": entries });
    let index = write_json(&blobs, INDEX, &index)?;
    write_top_index(&dir, &tag, &index)?;
    Ok(index.digest)
}

/// `oci:DIR[:TAG]` (TAG defaults to `latest`).
fn parse_oci_output(output: &str) -> Result<(PathBuf, String)> {
    let rest = output
        .strip_prefix("oci:")
        .ok_or_else(|| anyhow!("--output {output}: only oci:DIR[:TAG] is supported yet"))?;
    let (dir, tag) = match rest.rsplit_once(':') {
        Some((d, t)) if !t.contains('/') => (d, t),
        _ => (rest, "latest"),
    };
    if dir.is_empty() || tag.is_empty() {
        bail!("--output {output}: expected oci:DIR[:TAG]");
    }
    Ok((PathBuf::from(dir), tag.to_string()))
}

/// `linux/arm/v7=PATH`: the platform through the table (aliases included), then a
/// directory (its contents) or a file (at the root).
fn parse_platform_input(text: &str) -> Result<PlatformInput> {
    let (platform, path) = text
        .split_once('=')
        .ok_or_else(|| anyhow!("--platform {text}: expected os/arch[/variant]=PATH"))?;
    let p = platform::parse_cli_platform(platform)
        .map_err(|e| anyhow!("--platform {platform}: {e}"))?;
    let mut parts = p.platform.split('/');
    let os = parts.next().unwrap_or_default().to_string();
    let arch = parts.next().unwrap_or_default().to_string();
    let row = platform::find(&os, &arch, parts.next().unwrap_or_default())
        .ok_or_else(|| anyhow!("--platform {platform}: unknown platform; see `xx info list`"))?;
    if row.os != "linux" {
        bail!("--platform {platform}: only linux images are written yet (Windows layers need another layout)");
    }
    let path = PathBuf::from(path);
    let meta = fs::metadata(&path)
        .with_context(|| format!("--platform {text}: cannot read {}", path.display()))?;
    let source = if meta.is_dir() {
        Source::Dir(path)
    } else {
        Source::File(path)
    };
    Ok(PlatformInput {
        os: row.os.to_string(),
        arch: row.arch.to_string(),
        variant: row.variant.to_string(),
        source,
    })
}

/// SOURCE_DATE_EPOCH sets every mtime and the config's `created` (0 when unset).
fn source_date_epoch() -> Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => v
            .parse()
            .map_err(|_| anyhow!("SOURCE_DATE_EPOCH={v}: expected seconds since 1970")),
        _ => Ok(0),
    }
}

/// Where and how every platform's blobs are written.
struct Job<'a> {
    blobs: &'a Path,
    tmp_dir: &'a Path,
    layout: &'a Path,
    compression: Compression,
    mtime: u64,
    args: &'a CreateArgs,
}

/// One manifest per platform, `jobs` platforms at a time; results in input order.
fn build_all(inputs: &[PlatformInput], job: &Job) -> Result<Vec<Descriptor>> {
    let jobs = job.args.jobs.max(1);
    let mut out: Vec<Option<Result<Descriptor>>> = (0..inputs.len()).map(|_| None).collect();
    for (chunk_inputs, chunk_out) in inputs.chunks(jobs).zip(out.chunks_mut(jobs)) {
        std::thread::scope(|s| {
            let handles: Vec<_> = chunk_inputs
                .iter()
                .map(|p| s.spawn(move || build_one(p, job)))
                .collect();
            for (slot, h) in chunk_out.iter_mut().zip(handles) {
                *slot = Some(
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow!("a layer thread panicked"))),
                );
            }
        });
    }
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow!("platform not built"))))
        .collect()
}

fn build_one(p: &PlatformInput, job: &Job) -> Result<Descriptor> {
    let Job {
        blobs,
        tmp_dir,
        layout,
        compression,
        mtime,
        args,
    } = *job;
    let layer = layer::write(&p.source, blobs, tmp_dir, layout, compression, mtime)
        .with_context(|| format!("layer for {}/{}", p.os, p.arch))?;
    let created = rfc3339(mtime);
    let mut config = json!({
        "created": created,
        "architecture": p.arch,
        "os": p.os,
        "config": {},
        "rootfs": { "type": "layers", "diff_ids": [layer.diff_id] },
        "history": [{ "created": created, "created_by": "xx image create" }],
    });
    if !p.variant.is_empty() {
        config["variant"] = json!(p.variant);
    }
    if !args.entrypoint.is_empty() {
        config["config"]["Entrypoint"] = json!(args.entrypoint);
    }
    if !args.env.is_empty() {
        config["config"]["Env"] = json!(args.env);
    }
    if !args.labels.is_empty() {
        let labels: serde_json::Map<String, Value> = args
            .labels
            .iter()
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap_or((l, ""));
                (k.to_string(), json!(v))
            })
            .collect();
        config["config"]["Labels"] = Value::Object(labels);
    }
    let config = write_json(blobs, CONFIG, &config)?;
    let layer_desc = Descriptor {
        media_type: compression.media_type(),
        digest: layer.digest,
        size: layer.size,
    };
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": config.json(),
        "layers": [layer_desc.json()],
        "annotations": { "dev.xx.layer.compression": compression.describe() },
    });
    write_json(blobs, MANIFEST, &manifest)
}

/// JSON serialised once (keys sorted: serde_json's map is ordered), written under its
/// digest; the same bytes are what the digest names.
fn write_json(blobs: &Path, media_type: &'static str, value: &Value) -> Result<Descriptor> {
    use sha2::{Digest, Sha256};
    let bytes = serde_json::to_vec(value)?;
    let hex = layer::hex(&Sha256::digest(&bytes));
    let path = blobs.join(&hex);
    if !path.exists() {
        write_atomic(&path, &bytes)?;
    }
    Ok(Descriptor {
        media_type,
        digest: format!("sha256:{hex}"),
        size: bytes.len() as u64,
    })
}

/// `index.json` with one image-index descriptor per tag (`oci:DIR:TAG`, as
/// `skopeo copy --all` writes it); other tags already there are kept.
fn write_top_index(dir: &Path, tag: &str, index: &Descriptor) -> Result<()> {
    const REF: &str = "org.opencontainers.image.ref.name";
    let path = dir.join("index.json");
    let mut manifests: Vec<Value> = match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<Value>(&bytes)
            .with_context(|| format!("{} is not JSON", path.display()))?["manifests"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    manifests.retain(|m| m["annotations"][REF] != json!(tag));
    let mut d = index.json();
    d["annotations"] = json!({ REF: tag });
    manifests.push(d);
    let top = json!({ "schemaVersion": 2, "mediaType": INDEX, "manifests": manifests });
    write_atomic(&path, &serde_json::to_vec(&top)?)
}

/// Seconds since 1970 as RFC 3339 UTC (no dependency for one format).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// What `xx image inspect` shows of one platform's manifest.
struct PlatformSummary {
    platform: String,
    digest: String,
    layers: usize,
    size: u64,
}

/// `xx image inspect oci:DIR[:TAG]`: the index's platforms, digests and sizes (`--raw`:
/// the index bytes as stored; `--json`: the summary as JSON).
pub fn inspect(reference: &str, raw: bool, as_json: bool) -> Result<String> {
    let (dir, tag) = parse_oci_output(reference)?;
    let top: Value = serde_json::from_slice(
        &fs::read(dir.join("index.json"))
            .with_context(|| format!("{reference}: no index.json in {}", dir.display()))?,
    )
    .with_context(|| format!("{reference}: index.json is not JSON"))?;
    let entry = top["manifests"]
        .as_array()
        .and_then(|m| {
            m.iter()
                .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == json!(tag))
        })
        .ok_or_else(|| {
            anyhow!(
                "{reference}: no tag {tag} in {}",
                dir.join("index.json").display()
            )
        })?;
    let digest = entry["digest"].as_str().unwrap_or_default().to_string();
    let bytes = read_blob(&dir, &digest)?;
    if raw {
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    let index: Value =
        serde_json::from_slice(&bytes).with_context(|| format!("{digest} is not JSON"))?;
    let mut rows = Vec::new();
    for m in index["manifests"].as_array().into_iter().flatten() {
        let p = &m["platform"];
        let variant = p["variant"]
            .as_str()
            .map(|v| format!("/{v}"))
            .unwrap_or_default();
        let m_digest = m["digest"].as_str().unwrap_or_default().to_string();
        let manifest: Value = serde_json::from_slice(&read_blob(&dir, &m_digest)?)
            .with_context(|| format!("{m_digest} is not JSON"))?;
        let layers = manifest["layers"].as_array().map_or(0, Vec::len);
        let size: u64 = manifest["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(std::iter::once(&manifest["config"]))
            .filter_map(|d| d["size"].as_u64())
            .sum();
        rows.push(PlatformSummary {
            platform: format!(
                "{}/{}{variant}",
                p["os"].as_str().unwrap_or("?"),
                p["architecture"].as_str().unwrap_or("?")
            ),
            digest: m_digest,
            layers,
            size,
        });
    }
    if as_json {
        let platforms: Vec<Value> = rows
            .iter()
            .map(|r| json!({ "platform": r.platform, "digest": r.digest, "layers": r.layers, "size": r.size }))
            .collect();
        return Ok(serde_json::to_string_pretty(
            &json!({ "index": digest, "platforms": platforms }),
        )?);
    }
    let mut out = format!(
        "{reference}  {digest}\n{:<16} {:<73} {:>6} {:>12}",
        "PLATFORM", "MANIFEST", "LAYERS", "SIZE"
    );
    for r in rows {
        out.push_str(&format!(
            "\n{:<16} {:<73} {:>6} {:>12}",
            r.platform, r.digest, r.layers, r.size
        ));
    }
    Ok(out)
}

/// A blob, checked against its digest before use.
fn read_blob(dir: &Path, digest: &str) -> Result<Vec<u8>> {
    use sha2::{Digest, Sha256};
    let hex = digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| anyhow!("unsupported digest {digest:?}"))?;
    let path = dir.join("blobs/sha256").join(hex);
    let bytes =
        fs::read(&path).with_context(|| format!("missing blob {digest} ({})", path.display()))?;
    if layer::hex(&Sha256::digest(&bytes)) != hex {
        bail!("blob {digest} is corrupt: its content does not hash to its name");
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn outputs() {
        assert_eq!(
            parse_oci_output("oci:out:v1").unwrap(),
            (PathBuf::from("out"), "v1".into())
        );
        assert_eq!(
            parse_oci_output("oci:out").unwrap(),
            (PathBuf::from("out"), "latest".into())
        );
        assert!(parse_oci_output("docker://x").is_err());
    }
}
