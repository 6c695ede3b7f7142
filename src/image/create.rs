//! `xx image create`: one layer per platform (plus an optional shared one, and a base
//! image's layers under them), a config and a manifest each, and one index over them,
//! written to a layout, an archive or a registry.

use std::fs;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};

use super::config::ImageConfig;
use super::copy::{self, Endpoint, Transport};
use super::layer::{self, Compression, Source};
use super::oci::{self, Descriptor};
use super::reference::Reference;
use super::store::{Layout, Store};
use super::{base, deps};
use crate::platform::{Os, Platform};

#[derive(Clone)]
pub struct CreateArgs {
    /// `os/arch[/variant]=PATH`, in the user's order.
    pub platforms: Vec<String>,
    pub output: String,
    pub base: Option<String>,
    /// One layer shared by every platform (files identical across them), under theirs.
    pub shared: Option<PathBuf>,
    /// Add the shared-library closure of dynamic ELF inputs from the target sysroot.
    pub with_deps: bool,
    pub entrypoint: Vec<String>,
    pub env: Vec<String>,
    pub labels: Vec<String>,
    pub annotations: Vec<String>,
    pub compression: String,
    pub level: u32,
    /// `oci` or `docker` (v2 schema 2 media types).
    pub format: String,
}

struct PlatformInput {
    platform: Platform,
    source: Source,
    extra: deps::Extra,
}

impl PlatformInput {
    fn name(&self) -> String {
        self.platform.to_string()
    }
}

/// The media types one output format uses.
#[derive(Clone, Copy)]
struct Format {
    index: &'static str,
    manifest: &'static str,
    config: &'static str,
    docker: bool,
}

impl Format {
    fn parse(name: &str, compression: Compression) -> Result<Format> {
        match name {
            "oci" => Ok(Format {
                index: oci::INDEX,
                manifest: oci::MANIFEST,
                config: oci::CONFIG,
                docker: false,
            }),
            "docker" if matches!(compression, Compression::Gzip { .. }) => Ok(Format {
                index: oci::DOCKER_LIST,
                manifest: oci::DOCKER_MANIFEST,
                config: oci::DOCKER_CONFIG,
                docker: true,
            }),
            "docker" => bail!("--format docker takes gzip layers only (Docker v2 schema 2 has no other); drop --compression"),
            other => bail!("--format {other}: use oci or docker"),
        }
    }

    /// A base layer's type in this format: the same bytes under the OCI or the Docker
    /// name for gzip tars; other types only where the format has them.
    fn base_layer_type(self, media_type: &str) -> Result<&str> {
        let gzip = media_type == oci::DOCKER_LAYER_GZIP || media_type == oci::LAYER_GZIP;
        match (self.docker, gzip) {
            (true, true) => Ok(oci::DOCKER_LAYER_GZIP),
            (false, true) => Ok(oci::LAYER_GZIP),
            (true, false) => bail!("--format docker: the base has a {media_type} layer, which Docker v2 schema 2 cannot name; use --format oci"),
            (false, false) => Ok(media_type),
        }
    }

    fn layer_type(self, compression: Compression) -> &'static str {
        if self.docker {
            oci::DOCKER_LAYER_GZIP
        } else {
            compression.media_type()
        }
    }
}

/// Creates the image; returns the index digest.
/// What `create` made: the index's digest, and each platform's manifest digest.
pub struct Created {
    pub index: String,
    pub manifests: Vec<(String, String)>,
}

pub fn create(args: &CreateArgs, t: Transport<'_>) -> Result<Created> {
    let out_ref = Reference::parse(&args.output).map_err(|e| anyhow!("--output {e}"))?;
    let mut inputs = args
        .platforms
        .iter()
        .map(|p| parse_platform_input(p))
        .collect::<Result<Vec<_>>>()?;
    if args.with_deps {
        for p in &mut inputs {
            p.extra = deps::closure(t.ctx, &p.name(), &layer::regular_files(&p.source)?)?;
        }
    }
    if inputs.is_empty() {
        bail!("no --platform given, e.g. --platform linux/arm64=./out/arm64");
    }
    for (i, p) in inputs.iter().enumerate() {
        if inputs[..i].iter().any(|q| q.name() == p.name()) {
            bail!(
                "--platform {} is given twice: an index holds one manifest per platform",
                p.name()
            );
        }
    }
    let compression = Compression::parse(&args.compression, args.level)?;
    let format = Format::parse(&args.format, compression)?;
    let mtime = source_date_epoch(t.ctx)?;
    let base = match &args.base {
        Some(b) => Some(base::Base::open(b, &inputs_platforms(&inputs), t)?),
        None => None,
    };

    let dst = Endpoint::destination(&out_ref, t)?;
    // Registries get the image through a staging layout; layouts and archives are
    // written in place.
    let staging = match &dst.store {
        Store::Layout(_) => None,
        Store::Remote(_) => {
            let scratch = copy::scratch(t, None)?;
            let layout = Layout::create(&scratch.path().join("layout"))?;
            Some((scratch, Store::Layout(layout)))
        }
    };
    let build_store = staging.as_ref().map_or(&dst.store, |(_, s)| s);
    let Store::Layout(layout) = build_store else {
        unreachable!("staging is a layout");
    };
    if let Some(base) = &base {
        base.copy_blobs(&dst.store, dst.scratch(), t)?;
    }
    // One budget: platforms at once times compression threads per layer stays within
    // -j (jobs::each_sharing); the shared layer, made alone, has all of it.
    let encoding = layer::Encoding {
        compression,
        mtime,
        threads: crate::jobs::budget(t.jobs),
    };
    let cache = layer::LayerCache::open(t.ctx);
    let shared = match &args.shared {
        Some(dir) => Some(
            layer::write(
                &Source::Dir(dir.clone()),
                &deps::Extra::new(),
                layout,
                encoding,
                cache.as_ref(),
            )
            .with_context(|| format!("--shared {}", dir.display()))?,
        ),
        None => None,
    };
    let job = Job {
        layout,
        encoding,
        shared: shared.as_ref(),
        cache: cache.as_ref(),
        format,
        args,
        base: base.as_ref(),
    };
    // A layer made beside others still gets two compression workers (the walk and the
    // compression then overlap: measured 13% faster at -j2 than one inline thread); the
    // total stays linear in -j (at most 3 threads per platform at once, plus -j).
    let least = if encoding.threads > 1 { 2 } else { 1 };
    let manifests = crate::jobs::each_sharing(&inputs, t.jobs, |p, share| {
        build_one(p, &job, share.max(least))
    })
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    let entries: Vec<Value> = inputs
        .iter()
        .zip(&manifests)
        .map(|(p, m)| {
            let mut d = m.json();
            d["platform"] = match base.as_ref().and_then(|b| b.platform_field(&p.name())) {
                Some(field) => field,
                None => platform_json(p),
            };
            d
        })
        .collect();
    let mut index = json!({ "schemaVersion": 2, "mediaType": format.index, "manifests": entries });
    if !format.docker && !args.annotations.is_empty() {
        index["annotations"] = key_values(&args.annotations);
    }
    let (index, bytes) = write_json(layout, format.index, &index)?;
    if let Some((_, staging)) = &staging {
        copy::copy_tree(staging, &dst.store, &index, &bytes, dst.scratch(), t)?;
    }
    dst.finish(&index, &bytes)?;
    Ok(Created {
        index: index.digest,
        manifests: inputs
            .iter()
            .zip(manifests)
            .map(|(p, m)| (p.name(), m.digest))
            .collect(),
    })
}

fn inputs_platforms(inputs: &[PlatformInput]) -> Vec<String> {
    inputs.iter().map(PlatformInput::name).collect()
}

fn platform_json(p: &PlatformInput) -> Value {
    let p = &p.platform;
    let mut platform = json!({ "architecture": p.arch, "os": p.os.as_str() });
    if !p.variant.is_empty() {
        platform["variant"] = json!(p.variant);
    }
    platform
}

/// `KEY=VALUE` pairs as a JSON object (a bare KEY maps to "").
pub(crate) fn key_values(pairs: &[String]) -> Value {
    let map: serde_json::Map<String, Value> = pairs
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), json!(v))
        })
        .collect();
    Value::Object(map)
}

/// `linux/arm/v7=PATH`: the platform through the table (aliases included), then a
/// directory (its contents) or a file (at the root).
fn parse_platform_input(text: &str) -> Result<PlatformInput> {
    let (platform, path) = text
        .split_once('=')
        .ok_or_else(|| anyhow!("--platform {text}: expected os/arch[/variant]=PATH"))?;
    let parsed = Platform::parse_flag(platform)?;
    if parsed.os != Os::Linux {
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
        platform: parsed,
        source,
        extra: deps::Extra::new(),
    })
}

/// SOURCE_DATE_EPOCH sets every mtime and the config's `created` (0 when unset).
fn source_date_epoch(ctx: &crate::context::Context) -> Result<u64> {
    match ctx.var(crate::env_vars::SOURCE_DATE_EPOCH) {
        Some(v) => v
            .parse()
            .map_err(|_| anyhow!("SOURCE_DATE_EPOCH={v}: expected seconds since 1970")),
        None => Ok(0),
    }
}

/// Where and how every platform's blobs are written.
struct Job<'a> {
    layout: &'a Layout,
    encoding: layer::Encoding,
    shared: Option<&'a layer::Written>,
    cache: Option<&'a layer::LayerCache>,
    format: Format,
    args: &'a CreateArgs,
    base: Option<&'a base::Base>,
}

fn build_one(p: &PlatformInput, job: &Job, threads: usize) -> Result<Descriptor> {
    let Job {
        layout,
        encoding,
        shared,
        cache,
        format,
        args,
        base,
    } = *job;
    let layer::Encoding {
        compression, mtime, ..
    } = encoding;
    let encoding = layer::Encoding {
        threads,
        ..encoding
    };
    let layer = layer::write(&p.source, &p.extra, layout, encoding, cache)
        .with_context(|| format!("layer for {}", p.name()))?;
    let verb = if layer.reused { "reused" } else { "layer" };
    crate::progress::step(verb, &layer.digest, layer.size, &p.name());
    let created = rfc3339(mtime);
    let base_image = base.map(|b| b.image(&p.name())).transpose()?;
    let mut config = match &base_image {
        Some(b) => b.config.clone(),
        None => ImageConfig::new(p.platform.os.as_str(), &p.platform.arch),
    };
    config.created = Some(created.clone());
    if !p.platform.variant.is_empty() {
        config.variant = Some(p.platform.variant.clone());
    }
    for l in shared.into_iter().chain([&layer]) {
        config.rootfs.diff_ids.push(l.diff_id.clone());
    }
    if shared.is_some() {
        config
            .history
            .push(json!({ "created": created, "created_by": "xx image create --shared" }));
    }
    config
        .history
        .push(json!({ "created": created, "created_by": "xx image create" }));
    apply_settings(&mut config.config, args);
    let config = config.to_json()?;
    let (config, _) = write_json(layout, format.config, &config)?;
    let layer_desc = Descriptor::new(format.layer_type(compression), &layer.digest, layer.size);
    let mut layers: Vec<Value> = Vec::new();
    for l in base_image.iter().flat_map(|b| &b.layers) {
        let mut l = l.clone();
        l.media_type = format.base_layer_type(&l.media_type)?.to_string();
        layers.push(l.json());
    }
    if let Some(s) = shared {
        layers.push(Descriptor::new(format.layer_type(compression), &s.digest, s.size).json());
    }
    layers.push(layer_desc.json());
    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": format.manifest,
        "config": config.json(),
        "layers": layers,
    });
    if !format.docker {
        let mut annotations = key_values(&args.annotations);
        annotations["dev.xx.layer.compression"] = json!(compression.describe());
        manifest["annotations"] = annotations;
    }
    Ok(write_json(layout, format.manifest, &manifest)?.0)
}

/// `--entrypoint`, `--env` and `--label` into the config's run settings.
fn apply_settings(map: &mut serde_json::Map<String, Value>, args: &CreateArgs) {
    let mut settings = Value::Object(std::mem::take(map));
    if !args.entrypoint.is_empty() {
        settings["Entrypoint"] = json!(args.entrypoint);
        // As docker does: a new entrypoint drops the base's command.
        if let Some(map) = settings.as_object_mut() {
            map.remove("Cmd");
        }
    }
    for e in &args.env {
        set_env(&mut settings, e);
    }
    if !args.labels.is_empty() {
        if !settings["Labels"].is_object() {
            settings["Labels"] = json!({});
        }
        if let (Some(labels), Value::Object(new)) =
            (settings["Labels"].as_object_mut(), key_values(&args.labels))
        {
            labels.extend(new);
        }
    }
    if let Value::Object(m) = settings {
        *map = m;
    }
}

/// `KEY=VALUE` into a config's Env, replacing the same KEY.
fn set_env(settings: &mut Value, pair: &str) {
    let key = pair.split_once('=').map_or(pair, |(k, _)| k);
    if !settings["Env"].is_array() {
        settings["Env"] = json!([]);
    }
    if let Some(env) = settings["Env"].as_array_mut() {
        env.retain(|e| e.as_str().and_then(|s| s.split_once('=')).map(|(k, _)| k) != Some(key));
        env.push(json!(pair));
    }
}

/// JSON serialised once (keys sorted: serde_json's map is ordered), written under its
/// digest; the same bytes are what the digest names.
fn write_json(layout: &Layout, media_type: &str, value: &Value) -> Result<(Descriptor, Vec<u8>)> {
    let bytes = serde_json::to_vec(value)?;
    let desc = Descriptor::of(media_type, &bytes);
    layout.write_bytes(&desc, &bytes)?;
    Ok((desc, bytes))
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
    fn env_replaces_the_same_key() {
        let mut c = json!({ "Env": ["PATH=/bin", "A=1"] });
        set_env(&mut c, "A=2");
        set_env(&mut c, "B=3");
        assert_eq!(c["Env"], json!(["PATH=/bin", "A=2", "B=3"]));
    }
}
