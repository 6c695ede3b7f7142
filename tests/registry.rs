//! `xx image` against Debian's docker-registry on 127.0.0.1: push from create, skopeo,
//! umoci and the docker CLI read what was pushed, pull and copy preserve digests, merge
//! matches `docker manifest create`, Basic auth from the docker config, and faults (401
//! token flow, 500, dropped connections, missing children, corrupt local blobs).

use std::path::Path;
use std::process::Command;

use crate::fault_proxy::{Fault, FaultKind, FaultProxy};
use crate::image::{binaries, check_blobs, create, platform_of, run_every_platform, xx};
use crate::util::{require_tools, Registry};

const SDE: [(&str, &str); 1] = [("SOURCE_DATE_EPOCH", "1700000000")];

fn cross_tools() -> bool {
    require_tools(&[
        "skopeo",
        "umoci",
        "x86_64-linux-gnu-gcc",
        "aarch64-linux-gnu-gcc",
        "arm-linux-gnueabihf-gcc",
        "qemu-aarch64",
        "qemu-arm",
    ])
}

/// Every blob under the index re-hashes to its digest and size, and the layout validates
/// against the image-spec schemas.
fn check_layout(layout: &Path, digest: &str) {
    let index = check_blobs(layout, digest, None);
    for m in index["manifests"].as_array().expect("an index") {
        let manifest = check_blobs(layout, m["digest"].as_str().unwrap(), m["size"].as_u64());
        for d in std::iter::once(&manifest["config"]).chain(manifest["layers"].as_array().unwrap())
        {
            check_blobs(layout, d["digest"].as_str().unwrap(), d["size"].as_u64());
        }
    }
    let validate = Command::new("/usr/bin/python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/validate-oci-layout"
        ))
        .arg(layout)
        .output()
        .expect("run scripts/validate-oci-layout");
    assert!(
        validate.status.success(),
        "{}{}",
        String::from_utf8_lossy(&validate.stdout),
        String::from_utf8_lossy(&validate.stderr)
    );
}

fn skopeo(args: &[&str]) -> std::process::Output {
    Command::new("skopeo")
        .args(args)
        .output()
        .expect("run skopeo")
}

/// The docker CLI with a private config dir (no daemon needed for manifest commands).
fn docker(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .env("DOCKER_CONFIG", config)
        .args(args)
        .output()
        .expect("run docker")
}

fn digests_of(index: &serde_json::Value) -> Vec<(String, String)> {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (platform_of(m), m["digest"].as_str().unwrap().to_string()))
        .collect()
}

/// A 3-platform image pushed by `xx image create` (and the same written to a layout):
/// what the tests below read back in their own ways.
struct Pushed {
    registry: Registry,
    work: tempfile::TempDir,
    bins: Vec<(&'static str, String, &'static str, &'static str)>,
    image: String,
    digest: String,
    layout: std::path::PathBuf,
}

fn pushed(repo: &str) -> Option<Pushed> {
    if !cross_tools() || !require_tools(&["docker"]) {
        return None;
    }
    let registry = Registry::start(None)?;
    let work = tempfile::tempdir().unwrap();
    let bins = binaries(work.path());
    let image = format!("{}:v1", registry.url(repo));
    let pushed = create(&bins, &image, &[], &SDE);
    assert_eq!(pushed.code, 0, "{}", pushed.stderr);
    let digest = pushed.stdout.trim().to_string();
    // The same inputs written to a layout give the same index.
    let layout = work.path().join("layout");
    let local = create(&bins, &format!("oci:{}:v1", layout.display()), &[], &SDE);
    assert_eq!(local.stdout.trim(), digest, "{}", local.stderr);
    Some(Pushed {
        registry,
        work,
        bins,
        image,
        digest,
        layout,
    })
}

impl Pushed {
    /// The pushed index as skopeo reads it, checked to be our bytes.
    fn raw(&self) -> Vec<u8> {
        let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &self.image]);
        assert!(
            raw.status.success(),
            "{}",
            String::from_utf8_lossy(&raw.stderr)
        );
        let hex = self.digest.strip_prefix("sha256:").unwrap();
        assert_eq!(
            raw.stdout,
            std::fs::read(self.layout.join("blobs/sha256").join(hex)).unwrap()
        );
        raw.stdout
    }
}

/// skopeo and xx read the pushed index byte for byte, also through a registry name mapped to
/// the endpoint that serves it.
#[test]
fn pushed_index_is_read_byte_for_byte() {
    let Some(f) = pushed("xx/hello") else {
        return;
    };
    let raw = f.raw();
    let ours = xx(&["image", "inspect", "--raw", &f.image], &[]);
    assert_eq!(ours.stdout.as_bytes(), raw.as_slice());
    let table = xx(&["image", "inspect", &f.image], &[]);
    let listed: Vec<&str> = table
        .stdout
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        listed,
        ["linux/amd64", "linux/arm64", "linux/arm/v7"],
        "{}",
        table.stderr
    );

    // A registry name mapped to the endpoint that serves it (XX_REGISTRY_ENDPOINTS).
    let endpoints = format!("mirror-of-nothing.test={}", f.registry.addr);
    let aliased = xx(
        &[
            "image",
            "inspect",
            "--raw",
            "mirror-of-nothing.test/xx/hello:v1",
        ],
        &[("XX_REGISTRY_ENDPOINTS", endpoints.as_str())],
    );
    assert_eq!(
        aliased.stdout.as_bytes(),
        raw.as_slice(),
        "{}",
        aliased.stderr
    );
}

/// skopeo copy --all back to a layout keeps the digest; each platform runs under qemu.
#[test]
fn skopeo_copies_it_back_and_every_platform_runs() {
    let Some(f) = pushed("xx/hello") else {
        return;
    };
    // skopeo copy --all back to a layout keeps the digest; the layout is valid.
    let copied = f.work.path().join("skopeo-copy");
    let c = skopeo(&[
        "copy",
        "-q",
        "--all",
        "--src-tls-verify=false",
        &f.image,
        &format!("oci:{}:v1", copied.display()),
    ]);
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    check_layout(&copied, &f.digest);

    // Each platform: skopeo --override-arch/--override-variant, umoci, qemu.
    run_every_platform(f.work.path(), &f.image, &f.bins);
}

/// The docker CLI reads the index without a daemon.
#[test]
fn docker_cli_lists_the_same_digests() {
    let Some(f) = pushed("xx/hello") else {
        return;
    };
    let hex = f.digest.strip_prefix("sha256:").unwrap();
    // The docker CLI reads the index without a daemon.
    let config = f.work.path().join("docker-config");
    std::fs::create_dir_all(&config).unwrap();
    let dm = docker(
        &config,
        &[
            "manifest",
            "inspect",
            "--insecure",
            f.image.trim_start_matches("docker://"),
        ],
    );
    assert!(
        dm.status.success(),
        "{}",
        String::from_utf8_lossy(&dm.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&dm.stdout).unwrap();
    let local_index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.layout.join("blobs/sha256").join(hex)).unwrap())
            .unwrap();
    assert_eq!(digests_of(&listed), digests_of(&local_index));
}

/// Pull into a layout and into an oci-archive: same digest, valid, every blob checked.
#[test]
fn pull_to_a_layout_and_an_archive() {
    let Some(f) = pushed("xx/hello") else {
        return;
    };
    let raw = f.raw();
    // Pull into a layout and into an oci-archive: same digest, valid, every blob checked.
    let pulled = f.work.path().join("pulled");
    let p = xx(
        &[
            "image",
            "pull",
            &f.image,
            &format!("oci:{}:v1", pulled.display()),
        ],
        &[],
    );
    assert_eq!(
        (p.code, p.stdout.trim()),
        (0, f.digest.as_str()),
        "{}",
        p.stderr
    );
    check_layout(&pulled, &f.digest);
    let archive = f.work.path().join("img.tar");
    let a = xx(
        &[
            "image",
            "copy",
            "--all",
            &f.image,
            &format!("oci-archive:{}:v1", archive.display()),
        ],
        &[],
    );
    assert_eq!(a.code, 0, "{}", a.stderr);
    let from_archive = skopeo(&[
        "inspect",
        "--raw",
        &format!("oci-archive:{}:v1", archive.display()),
    ]);
    assert_eq!(
        from_archive.stdout,
        raw,
        "{}",
        String::from_utf8_lossy(&from_archive.stderr)
    );
}

/// A re-push of the unchanged layout uploads nothing.
#[test]
fn an_unchanged_repush_uploads_nothing() {
    let Some(f) = pushed("xx/hello") else {
        return;
    };
    // A re-push of the unchanged layout uploads nothing: the index is already there.
    let again = xx(
        &[
            "image",
            "push",
            &format!("oci:{}:v1", f.layout.display()),
            &f.image,
        ],
        &[],
    );
    assert_eq!(
        (again.code, again.stdout.trim()),
        (0, f.digest.as_str()),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("exists"), "{}", again.stderr);
    assert!(!again.stderr.contains("copied"), "{}", again.stderr);
}

/// --base from the registry into another repository mounts the base layers.
#[test]
fn base_from_the_registry_mounts_its_layers() {
    let Some(f) = pushed("xx/hello") else {
        return;
    };
    // --base from the registry, output to another repository of it: the base layers are
    // mounted, not downloaded and uploaded again; each platform gets one more layer.
    let extra = f.work.path().join("extra");
    std::fs::write(&extra, "extra\n").unwrap();
    let based = format!("{}:v2", f.registry.url("xx/based"));
    let b = xx(
        &[
            "image",
            "create",
            "--base",
            &f.image,
            "--platform",
            &format!("linux/arm64={}", extra.display()),
            "--platform",
            &format!("linux/arm/v7={}", extra.display()),
            "-o",
            &based,
        ],
        &[],
    );
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert!(b.stderr.contains("mounted"), "{}", b.stderr);
    let table = xx(&["image", "inspect", "--json", &based], &[]);
    let summary: serde_json::Value = serde_json::from_str(&table.stdout).unwrap();
    let platforms = summary["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 2);
    assert!(
        platforms.iter().all(|p| p["layers"] == 2),
        "{}",
        table.stdout
    );
}

#[test]
fn merge_matches_docker_manifest_create_and_copy_keeps_digests() {
    if !cross_tools() || !require_tools(&["docker"]) {
        return;
    }
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let bins = binaries(work.path());
    let layout = format!("oci:{}:v1", work.path().join("layout").display());
    assert_eq!(create(&bins, &layout, &[], &SDE).code, 0);

    // Three single-platform images, pushed separately.
    let mut singles = Vec::new();
    for (platform, ..) in &bins {
        let name = format!(
            "{}:{}",
            registry.url("xx/single"),
            platform.replace('/', "-")
        );
        let r = xx(
            &["image", "copy", "--platform", platform, &layout, &name],
            &[],
        );
        assert_eq!(r.code, 0, "{platform}: {}", r.stderr);
        singles.push(name);
    }
    // The user's order: arm/v7, amd64, arm64.
    let order = [&singles[2], &singles[0], &singles[1]];
    let merged = format!("{}:v1", registry.url("xx/merged"));
    let mut args = vec!["image", "merge", "-t", merged.as_str()];
    args.extend(order.iter().map(|s| s.as_str()));
    let m = xx(&args, &[]);
    assert_eq!(m.code, 0, "{}", m.stderr);
    let ours: serde_json::Value =
        serde_json::from_str(&xx(&["image", "inspect", "--raw", &merged], &[]).stdout).unwrap();
    let ours = digests_of(&ours);
    assert_eq!(
        ours.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        ["linux/arm/v7", "linux/amd64", "linux/arm64"]
    );

    let config = work.path().join("docker-config");
    std::fs::create_dir_all(&config).unwrap();
    let dm_ref = format!("{}/xx/merged:docker", registry.addr);
    let mut create_args = vec!["manifest", "create", "--insecure", dm_ref.as_str()];
    let plain: Vec<String> = order
        .iter()
        .map(|s| s.trim_start_matches("docker://").to_string())
        .collect();
    create_args.extend(plain.iter().map(String::as_str));
    let c = docker(&config, &create_args);
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    let p = docker(&config, &["manifest", "push", "--insecure", &dm_ref]);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    let theirs: serde_json::Value = serde_json::from_str(
        &xx(
            &["image", "inspect", "--raw", &format!("docker://{dm_ref}")],
            &[],
        )
        .stdout,
    )
    .unwrap();
    let mut theirs = digests_of(&theirs);
    let mut sorted = ours.clone();
    sorted.sort();
    theirs.sort();
    assert_eq!(
        sorted, theirs,
        "same platforms and manifest digests as docker manifest create"
    );

    // copy --all to another repository of the same registry: blobs mounted, digest kept.
    let index_digest = m.stdout.trim();
    let dst = format!("{}:v1", registry.url("promoted/app"));
    let c = xx(&["image", "copy", "--all", &merged, &dst], &[]);
    assert_eq!((c.code, c.stdout.trim()), (0, index_digest), "{}", c.stderr);
    assert!(c.stderr.contains("mounted"), "{}", c.stderr);
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &dst]);
    assert_eq!(
        format!("sha256:{}", sha256_hex(&raw.stdout)),
        index_digest,
        "the index bytes are the same"
    );

    // --append replaces a platform in place and keeps the others.
    let again = xx(
        &["image", "merge", "--append", "-t", &merged, &singles[0]],
        &[],
    );
    assert_eq!(
        (again.code, again.stdout.trim()),
        (0, index_digest),
        "{}",
        again.stderr
    );
}

/// The status code curl gets for one request (a real client, not ours).
fn http_status(method: &str, url: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method])
        .args(if method == "HEAD" {
            &["-I"][..]
        } else {
            &[][..]
        })
        .arg(url)
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn basic_auth_from_the_docker_config_never_printed() {
    let Some(registry) = Registry::start(Some(("xxuser", "s3cret-pass"))) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("hello");
    std::fs::write(&file, "hello").unwrap();
    let image = format!("{}:v1", registry.url("private/app"));
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let home_s = home.to_string_lossy().into_owned();
    let isolated = [
        ("HOME", home_s.as_str()),
        ("DOCKER_CONFIG", home_s.as_str()),
        ("XDG_RUNTIME_DIR", home_s.as_str()),
        ("REGISTRY_AUTH_FILE", "/nonexistent/auth.json"),
    ];
    let args = [
        "image",
        "create",
        "-q",
        "--platform",
        &format!("linux/arm64={}", file.display()),
        "-o",
        &image,
    ];
    let denied = xx(&args, &isolated);
    assert_eq!(denied.code, 1, "{}", denied.stderr);
    assert!(denied.stderr.contains("docker login"), "{}", denied.stderr);
    assert_eq!(denied.stderr.lines().count(), 1, "{}", denied.stderr);

    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode("xxuser:s3cret-pass");
    std::fs::write(
        home.join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.addr),
    )
    .unwrap();
    let ok = xx(&args, &isolated);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        !ok.stderr.contains("s3cret") && !ok.stderr.contains(&auth),
        "{}",
        ok.stderr
    );
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        "xxuser:s3cret-pass",
        &image,
    ]);
    assert_eq!(
        format!("sha256:{}", sha256_hex(&raw.stdout)),
        ok.stdout.trim(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );

    // A credential helper named in credHelpers answers instead (docker's protocol: the
    // server on stdin, JSON on stdout).
    let helpers = work.path().join("helpers");
    std::fs::create_dir_all(&helpers).unwrap();
    let helper = helpers.join("docker-credential-xxtest");
    std::fs::write(
        &helper,
        "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\n\
         printf '{\"ServerURL\":\"%s\",\"Username\":\"xxuser\",\"Secret\":\"s3cret-pass\"}' \"$server\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        home.join("config.json"),
        format!(r#"{{"credHelpers":{{"{}":"xxtest"}}}}"#, registry.addr),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        helpers.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut with_helper = isolated.to_vec();
    with_helper.push(("PATH", path.as_str()));
    let inspect = xx(&["image", "inspect", &image], &with_helper);
    assert_eq!(inspect.code, 0, "{}", inspect.stderr);
    assert!(inspect.stdout.contains("linux/arm64"), "{}", inspect.stdout);

    // Nothing in the docker config: podman's auth.json ($REGISTRY_AUTH_FILE) answers.
    std::fs::remove_file(home.join("config.json")).unwrap();
    let auth_file = work.path().join("auth.json");
    std::fs::write(
        &auth_file,
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.addr),
    )
    .unwrap();
    let auth_file = auth_file.to_string_lossy().into_owned();
    let mut podman = isolated.to_vec();
    podman.retain(|(k, _)| *k != "REGISTRY_AUTH_FILE");
    podman.push(("REGISTRY_AUTH_FILE", auth_file.as_str()));
    let inspect = xx(&["image", "inspect", &image], &podman);
    assert_eq!(inspect.code, 0, "{}", inspect.stderr);
}

/// A small image in a layout: (layout reference, index digest).
fn small_layout(work: &Path, platforms: &[&str]) -> (String, String) {
    let mut args: Vec<String> = vec!["image".into(), "create".into()];
    for p in platforms {
        let dir = work.join(p.replace('/', "-"));
        std::fs::create_dir_all(&dir).unwrap();
        // Incompressible, so blobs are big enough to be chunked and cut mid-body.
        let mut seed = p
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        let data: Vec<u8> = (0..300_000)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 56) as u8
            })
            .collect();
        std::fs::write(dir.join("data.bin"), data).unwrap();
        args.push("--platform".into());
        args.push(format!("{p}={}", dir.display()));
    }
    let layout = format!("oci:{}:v1", work.join("layout").display());
    args.extend(["-o".into(), layout.clone()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = xx(&refs, &SDE);
    assert_eq!(r.code, 0, "{}", r.stderr);
    (layout, r.stdout.trim().to_string())
}

#[test]
fn token_flow_retries_and_chunked_upload_through_faults() {
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (layout, digest) = small_layout(work.path(), &["linux/amd64", "linux/arm64"]);
    let faults = vec![
        Fault {
            method: "POST",
            path_contains: "/blobs/uploads/",
            kind: FaultKind::ServerError,
            times: 1,
        },
        Fault {
            method: "PUT",
            path_contains: "/manifests/",
            kind: FaultKind::ServerError,
            times: 1,
        },
        Fault {
            method: "GET",
            path_contains: "/blobs/sha256:",
            kind: FaultKind::DropMidBody,
            times: 2,
        },
    ];
    let proxy = FaultProxy::start(&registry.addr, true, faults);
    let image = format!("{}:v1", proxy.url("faulty/app"));
    let home = work.path().to_string_lossy().into_owned();
    let env = [
        ("XX_REGISTRY_CHUNK_SIZE", "65536"),
        ("DOCKER_CONFIG", home.as_str()),
        ("REGISTRY_AUTH_FILE", "/nonexistent/auth.json"),
    ];
    let push = xx(&["image", "push", "-j1", &layout, &image], &env);
    assert_eq!(
        (push.code, push.stdout.trim()),
        (0, digest.as_str()),
        "{}",
        push.stderr
    );
    assert!(push.stderr.contains("retrying"), "{}", push.stderr);
    {
        let log = proxy.log.lock().unwrap();
        assert!(log.tokens_issued >= 1, "the 401 led to the token flow");
        let patches = log
            .requests
            .iter()
            .filter(|r| r.starts_with("PATCH "))
            .count();
        assert!(
            patches >= 10,
            "300 kB blobs in 64 KiB chunks: {patches} PATCH requests"
        );
        assert_eq!(log.injected.len(), 2, "{:?}", log.injected);
    }

    // Pull through the proxy: two downloads are cut mid-body, retried, verified.
    let pulled = work.path().join("pulled");
    let pull = xx(
        &[
            "image",
            "pull",
            &image,
            &format!("oci:{}:v1", pulled.display()),
        ],
        &env,
    );
    assert_eq!(
        (pull.code, pull.stdout.trim()),
        (0, digest.as_str()),
        "{}",
        pull.stderr
    );
    assert_eq!(proxy.log.lock().unwrap().injected.len(), 4);
    check_layout(&pulled, &digest);
}

#[test]
fn missing_children_and_corrupt_blobs_are_refused() {
    if !require_tools(&["skopeo"]) {
        return;
    }
    let Some(registry) = Registry::start(None) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (layout, _) = small_layout(work.path(), &["linux/amd64", "linux/arm64"]);
    let layout_dir = work.path().join("layout");

    // A corrupt layer is refused before it is uploaded; the tag is never written.
    let broken = work.path().join("broken");
    let cp = Command::new("cp")
        .arg("-a")
        .arg(&layout_dir)
        .arg(&broken)
        .status()
        .unwrap();
    assert!(cp.success());
    let mut largest = None;
    for e in std::fs::read_dir(broken.join("blobs/sha256"))
        .unwrap()
        .flatten()
    {
        let len = e.metadata().unwrap().len();
        if largest.as_ref().is_none_or(|(l, _)| len > *l) {
            largest = Some((len, e.path()));
        }
    }
    let (_, layer) = largest.unwrap();
    let mut bytes = std::fs::read(&layer).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&layer, bytes).unwrap();
    let image = format!("{}:v1", registry.url("corrupt/app"));
    let r = xx(
        &[
            "image",
            "push",
            "-q",
            &format!("oci:{}:v1", broken.display()),
            &image,
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("is corrupt"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let hex = layer.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        http_status(
            "HEAD",
            &format!("http://{}/v2/corrupt/app/blobs/sha256:{hex}", registry.addr)
        ),
        "404",
        "the corrupt blob was not uploaded"
    );
    assert!(!skopeo(&["inspect", "--raw", "--tls-verify=false", &image])
        .status
        .success());

    // A child manifest deleted from the registry: the pull names it, in one line.
    let good = format!("{}:v1", registry.url("gone/app"));
    assert_eq!(xx(&["image", "push", "-q", &layout, &good], &[]).code, 0);
    let index: serde_json::Value =
        serde_json::from_str(&xx(&["image", "inspect", "--raw", &good], &[]).stdout).unwrap();
    let child = index["manifests"][1]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        http_status(
            "DELETE",
            &format!("http://{}/v2/gone/app/manifests/{child}", registry.addr)
        ),
        "202"
    );
    let pulled = work.path().join("pulled");
    let r = xx(
        &[
            "image",
            "pull",
            "-q",
            &good,
            &format!("oci:{}:v1", pulled.display()),
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&child) && r.stderr.contains("not pushed, or deleted"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    // Nothing half-written: no tag for the failed pull.
    let top = std::fs::read_to_string(pulled.join("index.json")).unwrap_or_default();
    assert!(!top.contains("\"v1\""), "{top}");
}
