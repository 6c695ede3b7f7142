//! `xx image create`: a 3-platform OCI layout from cross-built binaries, read back by
//! skopeo and umoci, run under qemu; every blob re-hashes to its name; reproducible
//! across time and parallelism; bad input gives one line and leaves no temp files.

use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::util::{require_tools, xx_within, Checked};

/// `xx ARGS` (the front end, not a personality), hermetic (see `util::xx_within`); a
/// run longer than ten minutes is a hang.
pub fn xx(args: &[&str], env: &[(&str, &str)]) -> Checked {
    let (checked, timed_out) = xx_within(args, env, std::time::Duration::from_secs(600));
    assert!(!timed_out, "xx {args:?} hung");
    checked
}

/// Static hello binaries: (platform, file, qemu, what it prints).
pub fn binaries(dir: &Path) -> Vec<(&'static str, String, &'static str, &'static str)> {
    let src = dir.join("hello.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include <sys/utsname.h>\n\
         int main(void) { struct utsname u; uname(&u); printf(\"%s\\n\", u.machine); return 0; }\n",
    )
    .unwrap();
    let mut out = Vec::new();
    for (platform, gcc, qemu, uname) in [
        (
            "linux/amd64",
            "x86_64-linux-gnu-gcc",
            "qemu-x86_64",
            "x86_64",
        ),
        (
            "linux/arm64",
            "aarch64-linux-gnu-gcc",
            "qemu-aarch64",
            "aarch64",
        ),
        (
            "linux/arm/v7",
            "arm-linux-gnueabihf-gcc",
            "qemu-arm",
            "armv7l",
        ),
    ] {
        let root = dir.join(platform.replace('/', "-"));
        std::fs::create_dir_all(root.join("bin")).unwrap();
        let status = Command::new(gcc)
            .args(["-static", "-O2", "-o"])
            .arg(root.join("bin/hello"))
            .arg(&src)
            .status()
            .unwrap();
        assert!(status.success(), "{gcc}");
        std::os::unix::fs::symlink("hello", root.join("bin/hi")).unwrap();
        out.push((platform, root.to_string_lossy().into_owned(), qemu, uname));
    }
    out
}

pub fn create(
    bins: &[(&str, String, &str, &str)],
    output: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Checked {
    let mut args = vec!["image".to_string(), "create".to_string()];
    for (platform, dir, ..) in bins {
        args.push("--platform".into());
        args.push(format!("{platform}={dir}"));
    }
    args.extend([
        "--entrypoint".to_string(),
        "/bin/hello".to_string(),
        "--output".to_string(),
        output.to_string(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    xx(&refs, env)
}

/// Every blob named in the layout exists, has the size its descriptor says, and hashes
/// to its name.
pub fn check_blobs(layout: &Path, digest: &str, size: Option<u64>) -> serde_json::Value {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    let bytes = std::fs::read(layout.join("blobs/sha256").join(hex)).expect("blob exists");
    let actual: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(actual, hex, "blob re-hashes to its name");
    if let Some(size) = size {
        assert_eq!(bytes.len() as u64, size, "descriptor size of {digest}");
    }
    serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
}

/// A one-file image (`f` holding `content`, for linux/arm64) written to `output` by
/// `xx image create`; returns the index digest.
pub fn one_file_image(work: &Path, content: &str, output: &str) -> String {
    let file = work.join("f");
    std::fs::write(&file, content).unwrap();
    let made = xx(
        &[
            "image",
            "create",
            "--platform",
            &format!("linux/arm64={}", file.display()),
            "-o",
            output,
        ],
        &[],
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    made.stdout.trim().to_string()
}

/// A layout holds no temp file: nothing but the writer's lock in `.xx-tmp` (where temp
/// files are made), and only digest names among the blobs.
pub fn assert_no_temp_files(layout: &Path) {
    let names = |dir: &Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let tmp: Vec<String> = names(&layout.join(".xx-tmp"))
        .into_iter()
        .filter(|n| n != "lock")
        .collect();
    assert!(tmp.is_empty(), "temp files left in .xx-tmp: {tmp:?}");
    let odd: Vec<String> = names(&layout.join("blobs/sha256"))
        .into_iter()
        .filter(|n| n.len() != 64 || !n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    assert!(odd.is_empty(), "non-digest names among the blobs: {odd:?}");
}

/// `os/arch[/variant]` of an index entry.
pub fn platform_of(entry: &serde_json::Value) -> String {
    let p = &entry["platform"];
    let v = p["variant"]
        .as_str()
        .map(|v| format!("/{v}"))
        .unwrap_or_default();
    format!(
        "{}/{}{v}",
        p["os"].as_str().unwrap(),
        p["architecture"].as_str().unwrap()
    )
}

/// `umoci unpack --rootless` of `LAYOUT:TAG` into `bundle`; the rootfs path.
pub fn umoci_unpack(image: &str, bundle: &Path) -> std::path::PathBuf {
    let unpack = Command::new("umoci")
        .args(["unpack", "--rootless", "--image", image])
        .arg(bundle)
        .output()
        .unwrap();
    assert!(
        unpack.status.success(),
        "umoci {image}: {}",
        String::from_utf8_lossy(&unpack.stderr)
    );
    bundle.join("rootfs")
}

#[test]
fn three_platform_layout_read_by_skopeo_and_umoci() {
    if !require_tools(&[
        "skopeo",
        "umoci",
        "x86_64-linux-gnu-gcc",
        "aarch64-linux-gnu-gcc",
        "arm-linux-gnueabihf-gcc",
        "qemu-aarch64",
        "qemu-arm",
    ]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let bins = binaries(work.path());
    let layout = work.path().join("layout");
    let env = [("SOURCE_DATE_EPOCH", "1700000000")];
    let r = create(&bins, &format!("oci:{}:v1", layout.display()), &[], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let digest = r.stdout.trim().to_string();

    // The nested shape: index.json → one image index tagged v1 → one manifest per platform.
    let top: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        top["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "v1"
    );
    assert_eq!(top["manifests"][0]["digest"], digest.as_str());
    let index = check_blobs(&layout, &digest, top["manifests"][0]["size"].as_u64());
    let entries = index["manifests"].as_array().unwrap();
    let platforms: Vec<String> = entries.iter().map(platform_of).collect();
    assert_eq!(
        platforms,
        ["linux/amd64", "linux/arm64", "linux/arm/v7"],
        "the user's order"
    );
    for m in entries {
        let manifest = check_blobs(&layout, m["digest"].as_str().unwrap(), m["size"].as_u64());
        let config = check_blobs(
            &layout,
            manifest["config"]["digest"].as_str().unwrap(),
            manifest["config"]["size"].as_u64(),
        );
        assert_eq!(config["created"], "2023-11-14T22:13:20Z");
        assert_eq!(config["config"]["Entrypoint"][0], "/bin/hello");
        for l in manifest["layers"].as_array().unwrap() {
            check_blobs(&layout, l["digest"].as_str().unwrap(), l["size"].as_u64());
        }
    }

    // The layout validates against the image-spec JSON schemas.
    let validate = Command::new("/usr/bin/python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/validate-oci-layout"
        ))
        .arg(&layout)
        .output()
        .expect("run scripts/validate-oci-layout");
    assert!(
        validate.status.success(),
        "{}{}",
        String::from_utf8_lossy(&validate.stdout),
        String::from_utf8_lossy(&validate.stderr)
    );
    assert!(String::from_utf8_lossy(&validate.stdout).starts_with("valid: 9 documents"));

    // xx image inspect: the platforms in order; --raw is the stored index.
    let reference = format!("oci:{}:v1", layout.display());
    let table = xx(&["image", "inspect", &reference], &[]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    let listed: Vec<&str> = table
        .stdout
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(listed, ["linux/amd64", "linux/arm64", "linux/arm/v7"]);
    let raw_inspect = xx(&["image", "inspect", "--raw", &reference], &[]);
    let hex = digest.strip_prefix("sha256:").unwrap();
    assert_eq!(
        raw_inspect.stdout.as_bytes(),
        std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()
    );

    // skopeo reads the index exactly; each platform copies out, umoci unpacks it, and the
    // binary runs (under qemu for the foreign ones).
    let raw = Command::new("skopeo")
        .args(["inspect", "--raw", &format!("oci:{}:v1", layout.display())])
        .output()
        .unwrap();
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    let hex = digest.strip_prefix("sha256:").unwrap();
    assert_eq!(
        raw.stdout,
        std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()
    );
    run_every_platform(work.path(), &format!("oci:{}:v1", layout.display()), &bins);
}

/// Each platform of `source` copied out by skopeo (--override-arch/--override-variant),
/// unpacked by umoci, and its binary run (under qemu for the foreign ones).
pub fn run_every_platform(work: &Path, source: &str, bins: &[(&str, String, &str, &str)]) {
    for (platform, _, qemu, uname) in bins {
        let mut parts = platform.split('/').skip(1);
        let arch = parts.next().unwrap();
        let single = work.join(format!(
            "single-{arch}{}",
            parts.clone().next().unwrap_or("")
        ));
        let mut copy = Command::new("skopeo");
        copy.args([
            "copy",
            "-q",
            "--src-tls-verify=false",
            "--override-arch",
            arch,
        ]);
        if let Some(variant) = parts.next() {
            copy.args(["--override-variant", variant]);
        }
        let copy = copy
            .arg(source)
            .arg(format!("oci:{}:x", single.display()))
            .output()
            .unwrap();
        assert!(
            copy.status.success(),
            "skopeo copy {platform}: {}",
            String::from_utf8_lossy(&copy.stderr)
        );
        let bundle = work.join(format!("bundle-{}", platform.replace('/', "-")));
        umoci_unpack(&format!("{}:x", single.display()), &bundle);
        let hi = bundle.join("rootfs/bin/hi");
        assert_eq!(
            std::fs::read_link(&hi).unwrap(),
            Path::new("hello"),
            "symlinks stay links"
        );
        let ran = Command::new(qemu)
            .arg(bundle.join("rootfs/bin/hello"))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ran.stdout).trim(),
            *uname,
            "{platform}"
        );
    }
}

/// The layout may be written inside its own source: it is not walked into, so the digest
/// does not change from run to run; non-UTF-8 names are kept byte for byte.
#[test]
fn layout_inside_the_source_and_odd_names() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("app"), "binary").unwrap();
    use std::os::unix::ffi::OsStrExt;
    std::fs::write(src.join(std::ffi::OsStr::from_bytes(b"bad\xffname")), "x").unwrap();
    let out = format!("oci:{}", src.join("img").display());
    let arg = format!("linux/arm64={}", src.display());
    let a = xx(
        &["image", "create", "--platform", &arg, "--output", &out],
        &[],
    );
    let b = xx(
        &["image", "create", "--platform", &arg, "--output", &out],
        &[],
    );
    assert_eq!((a.code, b.code), (0, 0), "{} {}", a.stderr, b.stderr);
    assert_eq!(
        a.stdout, b.stdout,
        "the layout's own blobs are not part of the layer"
    );
    if require_tools(&["tar"]) {
        let index: serde_json::Value = serde_json::from_slice(
            &std::fs::read(
                src.join("img/blobs/sha256")
                    .join(a.stdout.trim().strip_prefix("sha256:").unwrap()),
            )
            .unwrap(),
        )
        .unwrap();
        let manifest_hex = index["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .strip_prefix("sha256:")
            .unwrap()
            .to_string();
        let manifest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(src.join("img/blobs/sha256").join(manifest_hex)).unwrap(),
        )
        .unwrap();
        let layer = src.join("img/blobs/sha256").join(
            manifest["layers"][0]["digest"]
                .as_str()
                .unwrap()
                .strip_prefix("sha256:")
                .unwrap(),
        );
        let listed = Command::new("tar")
            .args(["--quoting-style=literal", "-tzf"])
            .arg(&layer)
            .output()
            .unwrap();
        assert!(listed.status.success());
        assert_eq!(
            listed.stdout, b"app\nbad\xffname\n",
            "sorted, raw bytes, no img/"
        );
    }
}

#[test]
fn reproducible_across_time_and_parallelism() {
    if !require_tools(&[
        "aarch64-linux-gnu-gcc",
        "x86_64-linux-gnu-gcc",
        "arm-linux-gnueabihf-gcc",
    ]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let bins = binaries(work.path());
    let env = [("SOURCE_DATE_EPOCH", "1700000000")];
    let one = create(
        &bins,
        &format!("oci:{}", work.path().join("a").display()),
        &["-j1"],
        &env,
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for (_, dir, ..) in &bins {
        // New mtimes and atimes on the inputs must not matter.
        let status = Command::new("touch")
            .arg(format!("{dir}/bin/hello"))
            .status()
            .unwrap();
        assert!(status.success());
    }
    let two = create(
        &bins,
        &format!("oci:{}", work.path().join("b").display()),
        &["-j2"],
        &env,
    );
    assert_eq!(
        (one.code, two.code),
        (0, 0),
        "{} {}",
        one.stderr,
        two.stderr
    );
    assert_eq!(one.stdout, two.stdout, "same inputs, same index digest");
    let other = create(
        &bins,
        &format!("oci:{}", work.path().join("c").display()),
        &[],
        &[("SOURCE_DATE_EPOCH", "1")],
    );
    assert_ne!(
        one.stdout, other.stdout,
        "SOURCE_DATE_EPOCH is in the layers and configs"
    );
    let plain = create(
        &bins,
        &format!("oci:{}", work.path().join("d").display()),
        &["--compression", "none"],
        &env,
    );
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert_ne!(one.stdout, plain.stdout);
}

/// A corrupt blob is refused when read, in one line.
#[test]
fn inspect_refuses_a_corrupt_blob() {
    let work = tempfile::tempdir().unwrap();
    let out = format!("oci:{}", work.path().join("l").display());
    let digest = one_file_image(work.path(), "payload", &out);
    let index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            work.path()
                .join("l/blobs/sha256")
                .join(digest.strip_prefix("sha256:").unwrap()),
        )
        .unwrap(),
    )
    .unwrap();
    let manifest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap()
        .to_string();
    std::fs::write(work.path().join("l/blobs/sha256").join(&manifest), b"{}").unwrap();
    let r = xx(&["image", "inspect", &out], &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is corrupt"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1);
}

#[test]
fn bad_input_is_one_line_and_leaves_no_temp_files() {
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let out = format!("oci:{}", layout.display());
    let file = work.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let f = file.to_string_lossy().into_owned();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--platform".into(),
                format!("linux/ppc64={f}"),
                "--output".into(),
                out.clone(),
            ],
            "unknown platform",
        ),
        (
            vec![
                "--platform".into(),
                "linux/arm64=/nonexistent".into(),
                "--output".into(),
                out.clone(),
            ],
            "cannot read /nonexistent",
        ),
        (
            vec![
                "--platform".into(),
                format!("linux/arm64{f}"),
                "--output".into(),
                out.clone(),
            ],
            "expected os/arch[/variant]=PATH",
        ),
        (
            vec![
                "--platform".into(),
                format!("linux/arm64={f}"),
                "--output".into(),
                "app:latest".into(),
            ],
            "name the registry host",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["image".to_string(), "create".to_string()];
        all.extend(args);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let r = xx(&refs, &[]);
        assert_eq!(r.code, 1, "{refs:?}");
        assert!(r.stderr.contains(want), "{refs:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
    // A layer that cannot be read (a FIFO) fails the build and leaves no temp blob.
    let dir = work.path().join("withfifo");
    std::fs::create_dir_all(&dir).unwrap();
    assert!(Command::new("mkfifo")
        .arg(dir.join("pipe"))
        .status()
        .unwrap()
        .success());
    let r = xx(
        &[
            "image",
            "create",
            "--platform",
            &format!("linux/arm64={}", dir.display()),
            "--output",
            &out,
        ],
        &[],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("only files, directories and symlinks"),
        "{}",
        r.stderr
    );
    assert_no_temp_files(&layout);
}

/// zstd layers: the same digest at -j1 and -j2, the codec and its version in the
/// manifest annotation, and containers/image (skopeo) decodes them back to the files.
#[test]
fn zstd_layers_are_reproducible_and_readable() {
    if !require_tools(&["skopeo", "umoci"]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/ls", root.join("bin/ls")).unwrap();
    let mut digests = Vec::new();
    for jobs in ["1", "2"] {
        let out = format!("oci:{}", work.path().join(format!("l{jobs}")).display());
        let r = xx(
            &[
                "image",
                "create",
                "-q",
                "-j",
                jobs,
                "--compression",
                "zstd",
                "--platform",
                &format!("linux/amd64={}", root.display()),
                "--platform",
                &format!("linux/arm64={}", root.display()),
                "-o",
                &out,
            ],
            &[],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        digests.push(r.stdout.trim().to_string());
    }
    assert_eq!(digests[0], digests[1], "-j1 and -j2");
    let layout = work.path().join("l1");
    let index = check_blobs(&layout, &digests[0], None);
    let manifest = check_blobs(
        &layout,
        index["manifests"][0]["digest"].as_str().unwrap(),
        None,
    );
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    let codec = manifest["annotations"]["dev.xx.layer.compression"]
        .as_str()
        .unwrap();
    assert!(codec.starts_with("zstd level 3 (zstd-sys 2."), "{codec}");

    let gz = work.path().join("gz");
    let copy = Command::new("skopeo")
        .args(["copy", "-q", "--dest-compress-format", "gzip"])
        .arg(format!("oci:{}:latest", layout.display()))
        .arg(format!("oci:{}:x", gz.display()))
        .output()
        .unwrap();
    assert!(
        copy.status.success(),
        "{}",
        String::from_utf8_lossy(&copy.stderr)
    );
    let bundle = work.path().join("bundle");
    umoci_unpack(&format!("{}:x", gz.display()), &bundle);
    assert_eq!(
        std::fs::read(bundle.join("rootfs/bin/ls")).unwrap(),
        std::fs::read("/bin/ls").unwrap()
    );
}

/// A 3-platform base image (a file in /etc, PATH and A set) in a layout, and an app
/// file to put on it: (work dir, base reference, app).
fn base_and_app() -> Option<(tempfile::TempDir, String, std::path::PathBuf)> {
    if !require_tools(&["skopeo", "umoci"]) {
        return None;
    }
    let work = tempfile::tempdir().unwrap();
    let base_root = work.path().join("base");
    std::fs::create_dir_all(base_root.join("etc")).unwrap();
    std::fs::write(base_root.join("etc/base-release"), "base\n").unwrap();
    let base = format!("oci:{}:v1", work.path().join("base-layout").display());
    let platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"];
    let mut args: Vec<String> = [
        "image",
        "create",
        "-q",
        "--env",
        "PATH=/bin",
        "--env",
        "A=1",
    ]
    .map(String::from)
    .to_vec();
    for p in platforms {
        args.extend(["--platform".into(), format!("{p}={}", base_root.display())]);
    }
    args.extend(["-o".into(), base.clone()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(xx(&refs, &[]).code, 0);

    let app = work.path().join("app");
    std::fs::write(&app, "#!/bin/sh\necho app\n").unwrap();
    Some((work, base, app))
}

/// `--base` with `--format docker` to a docker-archive: every platform appended to the
/// same platform of the base (layers, diff_ids, history, settings kept), Docker v2s2
/// types, the OCI layout plus Docker's manifest.json, read by skopeo.
#[test]
fn docker_archive_of_an_image_on_a_base() {
    let Some((work, base, app)) = base_and_app() else {
        return;
    };
    let out = work.path().join("app.tar");
    let r = xx(
        &[
            "image",
            "create",
            "-q",
            "--base",
            &base,
            "--env",
            "A=2",
            "--format",
            "docker",
            "--platform",
            &format!("linux/arm64={}", app.display()),
            "--platform",
            &format!("linux/arm/v7={}", app.display()),
            "-o",
            &format!("docker-archive:{}:app:v2", out.display()),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let digest = r.stdout.trim().to_string();

    // skopeo reads the archive as a docker archive (manifest.json) and as an OCI layout.
    let inspect = Command::new("skopeo")
        .args(["inspect", "--config"])
        .arg(format!("docker-archive:{}", out.display()))
        .output()
        .unwrap();
    assert!(
        inspect.status.success(),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let config: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    assert_eq!(config["history"].as_array().unwrap().len(), 2);
    assert_eq!(
        config["config"]["Env"],
        serde_json::json!(["PATH=/bin", "A=2"])
    );

    let unpacked = work.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let tar = Command::new("tar")
        .arg("-xf")
        .arg(&out)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap();
    assert!(tar.success());
    let top: serde_json::Value =
        serde_json::from_slice(&std::fs::read(unpacked.join("index.json")).unwrap()).unwrap();
    assert_eq!(top["manifests"][0]["digest"], digest.as_str());
    let index = check_blobs(&unpacked, &digest, None);
    assert_eq!(
        index["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    for m in index["manifests"].as_array().unwrap() {
        let manifest = check_blobs(&unpacked, m["digest"].as_str().unwrap(), None);
        assert_eq!(
            manifest["mediaType"],
            "application/vnd.docker.distribution.manifest.v2+json"
        );
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 2, "base layer + ours");
        for l in layers {
            assert_eq!(
                l["mediaType"],
                "application/vnd.docker.image.rootfs.diff.tar.gzip"
            );
            check_blobs(&unpacked, l["digest"].as_str().unwrap(), l["size"].as_u64());
        }
    }
}

/// `--base` in OCI format: one platform copied out unpacks (umoci) with the base's files
/// and ours.
#[test]
fn oci_image_on_a_base_unpacks_with_both() {
    let Some((work, base, app)) = base_and_app() else {
        return;
    };
    // The OCI-format variant unpacks (umoci) with the base's files and ours.
    let layout = work.path().join("app-layout");
    let r = xx(
        &[
            "image",
            "create",
            "-q",
            "--base",
            &base,
            "--platform",
            &format!("linux/arm64={}", app.display()),
            "-o",
            &format!("oci:{}:v2", layout.display()),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let single = work.path().join("single");
    let copy = xx(
        &[
            "image",
            "copy",
            "-q",
            "--platform",
            "linux/arm64",
            &format!("oci:{}:v2", layout.display()),
            &format!("oci:{}:x", single.display()),
        ],
        &[],
    );
    assert_eq!(copy.code, 0, "{}", copy.stderr);
    let bundle = work.path().join("bundle");
    umoci_unpack(&format!("{}:x", single.display()), &bundle);
    assert!(bundle.join("rootfs/etc/base-release").is_file());
    assert!(bundle.join("rootfs/app").is_file());
}

/// A platform the base lacks is refused in one line.
#[test]
fn base_without_the_platform_is_refused() {
    let Some((work, base, app)) = base_and_app() else {
        return;
    };
    let r = xx(
        &[
            "image",
            "create",
            "--base",
            &base,
            "--platform",
            &format!("linux/s390x={}", app.display()),
            "-o",
            &format!("oci:{}", work.path().join("x").display()),
        ],
        &[],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("has no linux/s390x"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
}

/// `--with-deps` adds the loader and the shared-library closure from the target sysroot
/// (the dynamic binary runs from the unpacked image alone); `--shared` is one layer
/// under every platform's, stored once.
#[test]
fn with_deps_and_shared_layer() {
    if !require_tools(&[
        "umoci",
        "aarch64-linux-gnu-gcc",
        "arm-linux-gnueabihf-gcc",
        "qemu-aarch64",
        "qemu-arm",
    ]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("m.c");
    std::fs::write(
        &src,
        "#include <math.h>\n#include <stdio.h>\nvolatile double x = 0.0;\n\
         int main(void) { printf(\"cos %.1f\\n\", cos(x)); return 0; }\n",
    )
    .unwrap();
    let shared = work.path().join("shared");
    std::fs::create_dir_all(shared.join("etc")).unwrap();
    std::fs::write(shared.join("etc/motd"), "same everywhere\n").unwrap();
    let mut args: Vec<String> = ["image", "create", "-q", "--with-deps", "--shared"]
        .map(String::from)
        .to_vec();
    args.push(shared.to_string_lossy().into_owned());
    let targets = [
        (
            "linux/arm64",
            "aarch64-linux-gnu-gcc",
            "qemu-aarch64",
            "aarch64-linux-gnu",
        ),
        (
            "linux/arm/v7",
            "arm-linux-gnueabihf-gcc",
            "qemu-arm",
            "arm-linux-gnueabihf",
        ),
    ];
    for (platform, gcc, ..) in targets {
        let root = work.path().join(platform.replace('/', "-"));
        std::fs::create_dir_all(root.join("bin")).unwrap();
        let ok = Command::new(gcc)
            .args(["-O2", "-o"])
            .arg(root.join("bin/m"))
            .arg(&src)
            .arg("-lm")
            .status()
            .unwrap();
        assert!(ok.success(), "{gcc}");
        args.extend([
            "--platform".into(),
            format!("{platform}={}", root.display()),
        ]);
    }
    let layout = work.path().join("layout");
    args.extend(["-o".into(), format!("oci:{}:v1", layout.display())]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = xx(&refs, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let index = check_blobs(&layout, r.stdout.trim(), None);
    let mut shared_layers = Vec::new();
    for (platform, _, qemu, multiarch) in targets {
        let manifest = check_blobs(
            &layout,
            index["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| platform_of(m) == platform)
                .unwrap()["digest"]
                .as_str()
                .unwrap(),
            None,
        );
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 2, "shared + own");
        shared_layers.push(layers[0]["digest"].clone());

        let single = work.path().join(format!("single-{multiarch}"));
        let copy = xx(
            &[
                "image",
                "copy",
                "-q",
                "--platform",
                platform,
                &format!("oci:{}:v1", layout.display()),
                &format!("oci:{}:x", single.display()),
            ],
            &[],
        );
        assert_eq!(copy.code, 0, "{}", copy.stderr);
        let bundle = work.path().join(format!("bundle-{multiarch}"));
        umoci_unpack(&format!("{}:x", single.display()), &bundle);
        let rootfs = bundle.join("rootfs");
        assert!(rootfs.join("etc/motd").is_file());
        for lib in ["libc.so.6", "libm.so.6"] {
            assert!(
                rootfs.join("lib").join(multiarch).join(lib).is_file(),
                "{platform} {lib}"
            );
        }
        let ran = Command::new(qemu)
            .arg("-L")
            .arg(&rootfs)
            .arg(rootfs.join("bin/m"))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ran.stdout).trim(),
            "cos 1.0",
            "{platform}: {}",
            String::from_utf8_lossy(&ran.stderr)
        );
    }
    assert_eq!(shared_layers[0], shared_layers[1], "one shared blob");

    // A library the sysroot lacks is named, with the fix.
    let lonely = work.path().join("needs-missing");
    std::fs::create_dir_all(&lonely).unwrap();
    let so = work.path().join("libnowhere.so");
    let so_src = work.path().join("n.c");
    std::fs::write(&so_src, "int nowhere(void) { return 1; }\n").unwrap();
    let ok = Command::new("aarch64-linux-gnu-gcc")
        .args(["-shared", "-fPIC", "-Wl,-soname,libnowhere.so", "-o"])
        .arg(&so)
        .arg(&so_src)
        .status()
        .unwrap();
    assert!(ok.success());
    let ok = Command::new("aarch64-linux-gnu-gcc")
        .arg("-o")
        .arg(lonely.join("app"))
        .arg(&src)
        .arg("-lm")
        .arg("-Wl,--no-as-needed")
        .arg(&so)
        .status()
        .unwrap();
    assert!(ok.success());
    let r = xx(
        &[
            "image",
            "create",
            "--with-deps",
            "--platform",
            &format!("linux/arm64={}", lonely.display()),
            "-o",
            &format!("oci:{}", work.path().join("x").display()),
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("needs libnowhere.so") && r.stderr.contains("xx-apt install"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1);
}

/// Names and link targets longer than ustar holds go in PAX records (POSIX), not GNU
/// LongLink entries; GNU tar reads the full names back.
#[test]
fn long_names_are_pax() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    let deep = root.join("d".repeat(120)).join("e".repeat(120));
    std::fs::create_dir_all(&deep).unwrap();
    let long_file = deep.join("f".repeat(150));
    std::fs::write(&long_file, "long\n").unwrap();
    let target = format!("{}/{}", "d".repeat(120), "x".repeat(110));
    std::os::unix::fs::symlink(&target, root.join("link")).unwrap();
    let layout = work.path().join("layout");
    let r = xx(
        &[
            "image",
            "create",
            "-q",
            "--compression",
            "none",
            "--platform",
            &format!("linux/amd64={}", root.display()),
            "-o",
            &format!("oci:{}", layout.display()),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let index = check_blobs(&layout, r.stdout.trim(), None);
    let manifest = check_blobs(
        &layout,
        index["manifests"][0]["digest"].as_str().unwrap(),
        None,
    );
    let layer = layout.join("blobs/sha256").join(
        manifest["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:"),
    );
    let bytes = std::fs::read(&layer).unwrap();
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"././@LongLink"), "no GNU long-name entries");
    assert!(has(b" path=") && has(b" linkpath="), "PAX records");
    let listed = Command::new("tar")
        .arg("-tvf")
        .arg(&layer)
        .output()
        .unwrap();
    assert!(listed.status.success());
    let listing = String::from_utf8_lossy(&listed.stdout);
    let inside = long_file
        .strip_prefix(&root)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(listing.contains(&inside), "{listing}");
    assert!(listing.contains(&format!("link -> {target}")), "{listing}");
}

/// The layer cache: an unchanged rebuild into the same layout compresses nothing and
/// makes the same index; a corrupt blob, a changed file or another level is compressed
/// again.
#[test]
fn an_unchanged_rebuild_reuses_its_layer_and_a_changed_one_does_not() {
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    std::fs::create_dir_all(tree.join("etc")).unwrap();
    std::fs::write(tree.join("etc/app.conf"), "one\n").unwrap();
    let home = work.path().join("home").display().to_string();
    let env = [("XX_HOME", home.as_str()), ("SOURCE_DATE_EPOCH", "0")];
    let out = format!("oci:{}:v1", work.path().join("l").display());
    let platform = format!("linux/arm64={}", tree.display());
    let create = |extra: &[&str]| {
        let mut args = vec!["image", "create", "--platform", &platform, "-o", &out];
        args.extend_from_slice(extra);
        let r = xx(&args, &env);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let reused = r.stderr.lines().any(|l| l.starts_with("reused "));
        (r.stdout.trim().to_string(), reused)
    };
    let (first, reused) = create(&[]);
    assert!(!reused, "nothing to reuse yet");
    let (again, reused) = create(&[]);
    assert!(reused, "the unchanged layer is reused");
    assert_eq!(again, first, "the same index");
    // A blob that no longer hashes to its name is never reused.
    let index = check_blobs(&work.path().join("l"), &first, None);
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest = check_blobs(&work.path().join("l"), &manifest_digest, None);
    let layer = manifest["layers"][0]["digest"].as_str().unwrap()[7..].to_string();
    std::fs::write(work.path().join("l/blobs/sha256").join(&layer), b"broken").unwrap();
    let (repaired, reused) = create(&[]);
    assert!(!reused);
    assert_eq!(repaired, first);
    check_blobs(&work.path().join("l"), &format!("sha256:{layer}"), None);
    let (other_level, reused) = create(&["--level", "1"]);
    assert!(!reused, "another level is another blob");
    assert_ne!(other_level, first);
    std::fs::write(tree.join("etc/app.conf"), "two\n").unwrap();
    let (changed, reused) = create(&[]);
    assert!(!reused);
    assert_ne!(changed, first);
}
