//! Hostile layouts, archives and files (issue 9, §1): each is refused in one line, or
//! handled in bounded time and memory, and nothing is written outside the output.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::image::{check_blobs, xx};
use crate::registry::sha256_hex;
use crate::util::{skip, which, xx_within, Checked};

const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// An OCI layout written by hand.
struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            dir: dir.to_path_buf(),
        }
    }

    fn blob_path(&self, desc: &Value) -> PathBuf {
        let digest = desc["digest"].as_str().unwrap();
        self.dir.join("blobs/sha256").join(&digest[7..])
    }

    /// Stores `bytes`; returns their descriptor.
    fn put(&self, media_type: &str, bytes: &[u8]) -> Value {
        let hex = sha256_hex(bytes);
        std::fs::write(self.dir.join("blobs/sha256").join(&hex), bytes).unwrap();
        json!({ "mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len() })
    }

    fn put_json(&self, media_type: &str, value: &Value) -> Value {
        self.put(media_type, &serde_json::to_vec(value).unwrap())
    }

    /// A manifest of one platform: its config and one layer of `layer` bytes.
    fn manifest(&self, config: &Value, layer: &[u8]) -> Value {
        let config = self.put_json(CONFIG, config);
        let layer = self.put(LAYER, layer);
        let m = json!({ "schemaVersion": 2, "mediaType": MANIFEST, "config": config, "layers": [layer] });
        self.put_json(MANIFEST, &m)
    }

    fn index(&self, children: Vec<Value>) -> Value {
        let i = json!({ "schemaVersion": 2, "mediaType": INDEX, "manifests": children });
        self.put_json(INDEX, &i)
    }

    /// `index.json` naming `desc` as tag `latest`.
    fn tag(&self, desc: &Value) {
        let mut d = desc.clone();
        d["annotations"] = json!({ "org.opencontainers.image.ref.name": "latest" });
        let top = json!({ "schemaVersion": 2, "mediaType": INDEX, "manifests": [d] });
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&top).unwrap(),
        )
        .unwrap();
    }

    fn reference(&self) -> String {
        format!("oci:{}:latest", self.dir.display())
    }
}

fn arm64_config() -> Value {
    json!({ "architecture": "arm64", "os": "linux", "rootfs": { "type": "layers", "diff_ids": [] } })
}

fn with_platform(mut desc: Value) -> Value {
    desc["platform"] = json!({ "architecture": "arm64", "os": "linux" });
    desc
}

/// One line on stderr, exit 1, in time.
fn refused(args: &[&str], want: &str) -> Checked {
    let (r, timed_out) = xx_within(args, &[], Duration::from_secs(60));
    assert!(!timed_out, "xx {args:?} hung");
    assert_eq!(r.code, 1, "xx {args:?}: {}", r.stderr);
    assert!(r.stderr.contains(want), "xx {args:?}: {}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "xx {args:?}: {}", r.stderr);
    r
}

/// §1.5: an index naming the same child index three times, 14 levels deep, is copied
/// visiting each digest once (the old walk visited 3^14 nodes and never finished).
#[test]
fn repeated_children_are_visited_once() {
    let work = tempfile::tempdir().unwrap();
    let src = Layout::new(&work.path().join("src"));
    let mut node = with_platform(src.manifest(&arm64_config(), b"layer"));
    for _ in 0..14 {
        node = src.index(vec![node.clone(), node.clone(), node]);
    }
    src.tag(&node);
    let dst = work.path().join("dst");
    let (r, timed_out) = xx_within(
        &[
            "image",
            "copy",
            "--all",
            &src.reference(),
            &format!("oci:{}:v1", dst.display()),
        ],
        &[],
        Duration::from_secs(60),
    );
    assert!(!timed_out, "copy --all of a repeated tree hung");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let top = check_blobs(&dst, r.stdout.trim(), None);
    assert_eq!(top["manifests"].as_array().unwrap().len(), 3);
    assert!(
        r.stderr.lines().count() < 40,
        "each digest once: {}",
        r.stderr
    );
}

/// §1.6: 30,000 nested one-child indexes are refused in one line (the old recursion
/// overflowed the stack and aborted).
#[test]
fn deep_chains_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let src = Layout::new(&work.path().join("src"));
    let mut node = with_platform(src.manifest(&arm64_config(), b"layer"));
    for _ in 0..30_000 {
        node = with_platform(src.index(vec![node]));
    }
    src.tag(&node);
    let dst = format!("oci:{}", work.path().join("dst").display());
    refused(
        &["image", "copy", "--all", &src.reference(), &dst],
        "nested more than 16 deep",
    );
    refused(
        &[
            "image",
            "copy",
            "--platform",
            "linux/arm64",
            &src.reference(),
            &dst,
        ],
        "nested more than 16 deep",
    );
}

/// §1.7: a blob that is a symlink to /dev/zero or a FIFO is refused (the old reads used
/// unbounded memory, hung, or filled the disk).
#[test]
fn blobs_must_be_regular_files() {
    let work = tempfile::tempdir().unwrap();
    let src = Layout::new(&work.path().join("src"));
    let manifest = src.manifest(&arm64_config(), b"layer");
    src.tag(&manifest);
    // The manifest blob as a symlink to /dev/zero, then as a FIFO.
    let blob = src.blob_path(&manifest);
    let saved = std::fs::read(&blob).unwrap();
    std::fs::remove_file(&blob).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &blob).unwrap();
    refused(
        &["image", "inspect", &src.reference()],
        "not a regular file",
    );
    std::fs::remove_file(&blob).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(&blob)
        .status()
        .unwrap()
        .success());
    refused(
        &["image", "inspect", &src.reference()],
        "not a regular file",
    );
    std::fs::remove_file(&blob).unwrap();
    std::fs::write(&blob, saved).unwrap();
    // A layer blob linked to /dev/zero: copy refuses it, the destination gains no blob.
    let m: Value = serde_json::from_slice(&std::fs::read(&blob).unwrap()).unwrap();
    let layer = src.blob_path(&m["layers"][0]);
    std::fs::remove_file(&layer).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &layer).unwrap();
    let dst = work.path().join("dst");
    refused(
        &[
            "image",
            "copy",
            "-q",
            "--all",
            &src.reference(),
            &format!("oci:{}", dst.display()),
        ],
        "not a regular file",
    );
    let blobs: u64 = std::fs::read_dir(dst.join("blobs/sha256"))
        .map(|d| {
            d.flatten()
                .map(|e| e.metadata().map_or(0, |m| m.len()))
                .sum()
        })
        .unwrap_or(0);
    assert!(blobs < 4096, "{blobs} bytes of blobs written");
    crate::image::assert_no_temp_files(&dst);
}

/// §1.12: the size `index.json` gives its top entry is checked against the bytes.
#[test]
fn the_top_entry_size_is_checked() {
    let work = tempfile::tempdir().unwrap();
    let src = Layout::new(&work.path().join("src"));
    let mut manifest = src.manifest(&arm64_config(), b"layer");
    manifest["size"] = json!(manifest["size"].as_u64().unwrap() + 7);
    src.tag(&manifest);
    refused(
        &["image", "inspect", &src.reference()],
        "its descriptor says",
    );
}

/// §1.11: layer sizes that add up past 2^64 are an error, not a wrapped total.
#[test]
fn inspect_sizes_do_not_overflow() {
    let work = tempfile::tempdir().unwrap();
    let src = Layout::new(&work.path().join("src"));
    let config = src.put_json(CONFIG, &arm64_config());
    let huge = |n: u64| json!({ "mediaType": LAYER, "digest": format!("sha256:{}", "a".repeat(64)), "size": n });
    let m = json!({ "schemaVersion": 2, "mediaType": MANIFEST, "config": config,
                    "layers": [huge(1 << 63), huge(1 << 63), huge(5)] });
    let manifest = src.put_json(MANIFEST, &m);
    src.tag(&manifest);
    refused(&["image", "inspect", &src.reference()], "more than 2^64");
}

/// §1.10: temp files a crash left (old names among the blobs, files in `.xx-tmp`) are
/// removed by the next writer.
#[test]
fn crash_leftovers_are_removed_by_the_next_writer() {
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("l");
    let file = work.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let out = format!("oci:{}", layout.display());
    let args = [
        "image",
        "create",
        "--platform",
        &format!("linux/arm64={}", file.display()),
        "-o",
        &out,
    ];
    assert_eq!(xx(&args, &[]).code, 0);
    let hex = "ab".repeat(32);
    std::fs::write(
        layout.join(format!("blobs/sha256/.{hex}.1234.5678.tmp")),
        "half",
    )
    .unwrap();
    std::fs::write(layout.join(".xx-tmp/.blob.XYZ.xx-tmp"), "half").unwrap();
    let r = xx(&args, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    crate::image::assert_no_temp_files(&layout);
}

/// §1.15: a base image whose config is not an object, or whose rootfs is a string, is
/// one line (the old code panicked in serde_json's IndexMut).
#[test]
fn base_configs_of_the_wrong_shape_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("f");
    std::fs::write(&file, "x").unwrap();
    for (i, config) in [
        json!([1, 2]),
        json!({ "os": "linux", "architecture": "arm64", "rootfs": "layers" }),
    ]
    .into_iter()
    .enumerate()
    {
        let base = Layout::new(&work.path().join(format!("base{i}")));
        let manifest = base.manifest(&config, b"layer");
        base.tag(&with_platform(base.index(vec![with_platform(manifest)])));
        let r = refused(
            &[
                "image",
                "create",
                "--base",
                &base.reference(),
                "--platform",
                &format!("linux/arm64={}", file.display()),
                "-o",
                &format!("oci:{}", work.path().join(format!("out{i}")).display()),
            ],
            "not an image config",
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
}

/// §1.15: `-j 100000` is a budget, not that many threads (the old code panicked when
/// thread creation failed); the digest is the one `-j 1` gives.
#[test]
fn a_huge_jobs_count_is_capped() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("f");
    std::fs::write(&file, vec![7u8; 3 << 20]).unwrap();
    let mut digests = Vec::new();
    for jobs in ["1", "100000"] {
        let mut args = vec![
            "image".to_string(),
            "create".into(),
            "-j".into(),
            jobs.into(),
        ];
        for p in ["linux/amd64", "linux/arm64", "linux/arm/v7"] {
            args.extend(["--platform".into(), format!("{p}={}", file.display())]);
        }
        args.extend([
            "-o".into(),
            format!("oci:{}", work.path().join(format!("o{jobs}")).display()),
        ]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = xx(&refs, &[]);
        assert_eq!(r.code, 0, "-j {jobs}: {}", r.stderr);
        digests.push(r.stdout.trim().to_string());
    }
    assert_eq!(digests[0], digests[1]);
}

/// `/bin/true` with its PT_INTERP string replaced (same length, NUL-padded).
fn with_interpreter(dir: &Path, interp: &str) -> Option<PathBuf> {
    let mut bytes = std::fs::read("/bin/true").ok()?;
    let old = b"/lib64/ld-linux-x86-64.so.2\0";
    let at = bytes.windows(old.len()).position(|w| w == old)?;
    let mut new = interp.as_bytes().to_vec();
    assert!(new.len() < old.len());
    new.resize(old.len(), 0);
    bytes[at..at + old.len()].copy_from_slice(&new);
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("app");
    std::fs::write(&path, bytes).unwrap();
    Some(path)
}

/// §1.3: `--with-deps` takes the loader only from the sysroot's library directories: an
/// interpreter of `/etc/shadow` (the old code put the host's into the layer) or with
/// `..` components (a tar-slip layer) is refused in one line.
#[test]
fn hostile_interpreters_are_refused() {
    if std::env::consts::ARCH != "x86_64" {
        skip("the test patches /bin/true's x86_64 interpreter");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    for (i, interp) in ["/etc/shadow", "/../../../../etc/shadow"]
        .iter()
        .enumerate()
    {
        let dir = work.path().join(format!("in{i}"));
        let Some(app) = with_interpreter(&dir, interp) else {
            skip("/bin/true is not a dynamic x86_64 ELF with the usual loader");
            return;
        };
        let out = work.path().join(format!("out{i}"));
        refused(
            &[
                "image",
                "create",
                "--with-deps",
                "--platform",
                &format!("linux/amd64={}", app.display()),
                "-o",
                &format!("oci:{}", out.display()),
            ],
            "not a loader under /lib or /usr/lib",
        );
        let blobs = std::fs::read_dir(out.join("blobs/sha256")).map_or(0, |d| d.count());
        assert_eq!(blobs, 0, "a layer was written for {interp}");
    }
}

/// Whether `unshare` can give xx a PID namespace here (root), else a visible skip.
fn pid_namespaces() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    (root || skip("a PID namespace (unshare --pid) needs root"))
        && crate::util::require_tool("unshare")
}

/// §1.1: scratch directories had predictable names (`$TMPDIR/xx-image.<pid>.<n>`, reused
/// when present) and files were created in them through whatever was there: a planted
/// `index.json` symlink made `xx image inspect oci-archive:…` overwrite its target. Run
/// in a new PID namespace (so the PID is 1), with every such name planted.
#[test]
fn planted_scratch_paths_are_never_written_through() {
    if !pid_namespaces() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("a.tar");
    crate::image::one_file_image(
        work.path(),
        "x",
        &format!("oci-archive:{}", archive.display()),
    );
    let victim = work.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let tmp = work.path().join("tmp");
    for pid in 1..=4 {
        for n in 0..=3 {
            let planted = tmp.join(format!("xx-image.{pid}.{n}"));
            std::fs::create_dir_all(&planted).unwrap();
            std::os::unix::fs::symlink(&victim, planted.join("index.json")).unwrap();
        }
    }
    let unshare = which("unshare").unwrap_or_else(|| PathBuf::from("unshare"));
    let out = crate::util::hermetic(&unshare, crate::util::empty_home())
        .args(["--pid", "--fork"])
        .arg(env!("CARGO_BIN_EXE_xx"))
        .args(["image", "inspect"])
        .arg(format!("oci-archive:{}", archive.display()))
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    // The planted directories are as they were, and nothing of ours is left.
    let names: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 16, "{names:?}");
    assert!(
        names.iter().all(|n| n.starts_with("xx-image.")),
        "{names:?}"
    );
}

/// A `xx image create` that runs a few seconds (64 MiB of noise at gzip -9, one thread)
/// into OUT/out.tar, with TMPDIR under `work`; returns once its scratch dir exists.
fn slow_create(work: &Path, out: &Path) -> std::process::Child {
    let input = work.join("noise");
    if !input.exists() {
        let mut x = 0x2545f4914f6cdd1du64;
        let noise: Vec<u8> = (0..64 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(&input, noise).unwrap();
    }
    std::fs::create_dir_all(out).unwrap();
    std::fs::create_dir_all(work.join("tmp")).unwrap();
    let child = crate::util::hermetic(
        Path::new(env!("CARGO_BIN_EXE_xx")),
        crate::util::empty_home(),
    )
    .args([
        "image",
        "create",
        "-q",
        "-j",
        "1",
        "--level",
        "9",
        "--platform",
    ])
    .arg(format!("linux/arm64={}", input.display()))
    .arg("-o")
    .arg(format!("oci-archive:{}", out.join("out.tar").display()))
    .env("TMPDIR", work.join("tmp"))
    .spawn()
    .unwrap();
    let start = std::time::Instant::now();
    while entries(out).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no scratch dir appeared"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    child
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// §1.1: SIGTERM removes the scratch dir and temp files; what a `kill -9` leaves (its
/// lock is free) is removed by the next run to the same output.
#[test]
fn interrupted_runs_leave_nothing_behind() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let mut child = slow_create(work.path(), &out);
    // SAFETY: kill on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    assert_eq!(
        entries(&out),
        Vec::<String>::new(),
        "left beside the output"
    );
    assert_eq!(
        entries(&work.path().join("tmp")),
        Vec::<String>::new(),
        "left in TMPDIR"
    );

    let mut child = slow_create(work.path(), &out);
    child.kill().unwrap();
    child.wait().unwrap();
    let left = entries(&out);
    assert!(left.iter().any(|n| n.contains("xx-scratch.")), "{left:?}");
    let file = work.path().join("small");
    std::fs::write(&file, "x").unwrap();
    let r = xx(
        &[
            "image",
            "create",
            "--platform",
            &format!("linux/arm64={}", file.display()),
            "-o",
            &format!("oci-archive:{}", out.join("out.tar").display()),
        ],
        &[("TMPDIR", &work.path().join("tmp").to_string_lossy())],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(entries(&out), vec!["out.tar".to_string()]);
}

/// §1.4: a file swapped for a symlink between the walk's lstat and the open: the old
/// code followed the link and put the target (a 0600 secret) into the layer. A thread
/// keeps swapping while `create` runs again and again; no layer may hold the secret.
#[test]
fn a_file_swapped_for_a_link_mid_walk_never_leaks_its_target() {
    let work = tempfile::tempdir().unwrap();
    let secret = work.path().join("secret");
    std::fs::write(&secret, "TOP-SECRET-5c1e").unwrap();
    let input = work.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (input, secret, stop) = (input.clone(), secret.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::write(input.join(".f.file"), "public");
                let _ = std::fs::rename(input.join(".f.file"), input.join("f"));
                let _ = std::os::unix::fs::symlink(&secret, input.join(".f.link"));
                let _ = std::fs::rename(input.join(".f.link"), input.join("f"));
            }
        })
    };
    let leaked = layers_holding(work.path(), &input, b"TOP-SECRET-5c1e");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    swapper.join().unwrap();
    assert_eq!(leaked, 0, "the secret reached {leaked} layer(s)");
}

/// Runs `xx image create` of `input` 150 times (uncompressed layers, so the bytes can be
/// searched) while another thread changes it; returns how many layers hold `needle`.
fn layers_holding(work: &Path, input: &Path, needle: &[u8]) -> usize {
    let mut found = 0;
    for i in 0..150 {
        let out = work.join(format!("o{i}"));
        let r = xx(
            &[
                "image",
                "create",
                "-q",
                "--compression",
                "none",
                "--platform",
                &format!("linux/arm64={}", input.display()),
                "-o",
                &format!("oci:{}", out.display()),
            ],
            &[],
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        for blob in std::fs::read_dir(out.join("blobs/sha256"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let bytes = std::fs::read(blob.path()).unwrap_or_default();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found += 1;
            }
        }
    }
    found
}

/// Review of issue 9: a layout whose `.xx-tmp` is a symlink to another directory was
/// locked and cleaned in that directory (every file in it removed). It is refused.
#[test]
fn a_layout_whose_temp_dir_is_a_link_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let elsewhere = work.path().join("work");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("notes.txt"), "mine").unwrap();
    let layout = work.path().join("l");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, layout.join(".xx-tmp")).unwrap();
    let file = work.path().join("f");
    std::fs::write(&file, "x").unwrap();
    refused(
        &[
            "image",
            "create",
            "--platform",
            &format!("linux/arm64={}", file.display()),
            "-o",
            &format!("oci:{}", layout.display()),
        ],
        "is not a directory of the layout",
    );
    assert_eq!(entries(&elsewhere), vec!["notes.txt".to_string()]);
}

/// An oci-archive holds the layout's own files only (no scratch lock file).
#[test]
fn archives_hold_only_the_layout() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("a.tar");
    crate::image::one_file_image(
        work.path(),
        "x",
        &format!("oci-archive:{}", archive.display()),
    );
    let listing = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&archive)
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&listing.stdout);
    for name in names.lines() {
        let name = name.trim_start_matches("./");
        assert!(
            name.is_empty()
                || ["oci-layout", "index.json", "blobs", "blobs/sha256"]
                    .contains(&name.trim_end_matches('/'))
                || name.starts_with("blobs/sha256/"),
            "unexpected member {name:?} in {names}"
        );
    }
}

/// Review of issue 9 §1.4: a *directory* swapped for a symlink mid-walk must not bring
/// the link target's files into the layer either.
#[test]
fn a_directory_swapped_for_a_link_mid_walk_never_leaks_its_files() {
    let work = tempfile::tempdir().unwrap();
    let secret_dir = work.path().join("secret");
    std::fs::create_dir_all(&secret_dir).unwrap();
    std::fs::write(secret_dir.join("f"), "TOP-SECRET-d1r5").unwrap();
    let input = work.path().join("in");
    let public = work.path().join("public");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::create_dir_all(&public).unwrap();
    std::fs::write(public.join("f"), "public").unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (input, public, secret_dir, stop) = (
            input.clone(),
            public.clone(),
            secret_dir.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // A real directory (renamed in), then a link to the secret one.
                let _ = std::fs::rename(&public, input.join("sub"));
                let _ = std::fs::rename(input.join("sub"), &public);
                let _ = std::os::unix::fs::symlink(&secret_dir, input.join(".sub.link"));
                let _ = std::fs::rename(input.join(".sub.link"), input.join("sub"));
                let _ = std::fs::remove_file(input.join("sub"));
            }
        })
    };
    let leaked = layers_holding(work.path(), &input, b"TOP-SECRET-d1r5");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    swapper.join().unwrap();
    assert_eq!(leaked, 0, "the secret reached {leaked} layer(s)");
}

/// A tar of `entries`: (name, type, link target, contents).
fn crafted_tar(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(0o755);
        h.set_size(data.len() as u64);
        // Raw names: the builder's own checks would refuse the hostile ones.
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if !link.is_empty() {
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// `xx image run` of layers that climb out, write through a planted symlink, or carry
/// a whiteout: one line each, nothing outside the scratch tree, which is gone after.
#[test]
fn hostile_layers_are_refused_by_image_run() {
    let work = tempfile::tempdir().unwrap();
    let outside = work.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let escape = format!("{}", outside.display());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dotdot",
            crafted_tar(&[("../../../../evil", tar::EntryType::Regular, "", b"x")]),
            "evil",
        ),
        (
            "through-link",
            crafted_tar(&[
                ("out", tar::EntryType::Symlink, &escape, b""),
                ("out/evil", tar::EntryType::Regular, "", b"x"),
            ]),
            "out",
        ),
        (
            "whiteout",
            crafted_tar(&[("etc/.wh.passwd", tar::EntryType::Regular, "", b"")]),
            "whiteout",
        ),
    ];
    for (name, layer, want) in cases {
        let layout = Layout::new(&work.path().join(name));
        let config = json!({ "architecture": "arm64", "os": "linux",
            "config": { "Entrypoint": ["/bin/true"] },
            "rootfs": { "type": "layers", "diff_ids": [] } });
        let m = with_platform(layout.manifest(&config, &layer));
        let top = layout.index(vec![m]);
        layout.tag(&top);
        refused(
            &[
                "image",
                "run",
                "--platform",
                "linux/arm64",
                &layout.reference(),
            ],
            want,
        );
        assert_eq!(
            std::fs::read_dir(&outside).unwrap().count(),
            0,
            "{name}: wrote outside"
        );
    }
}
