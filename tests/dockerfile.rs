//! Dockerfile.example built for real: buildah (`--isolation chroot`, no daemon, no
//! binfmt) runs its cross stages on the build machine for three platforms, from an xx
//! image holding this build's binary and a local Debian base image
//! (scripts/make-test-base-image). apt inside the build reads the loopback archive of
//! real .debs; the manifest list goes to the loopback registry; each platform is then
//! inspected and run under qemu by xx. The xx and base images reach buildah through
//! that registry too, pushed there by `xx image create`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::deb_archive::{signer, Archive, Server};
use crate::util::{hermetic, require_tools, skip, Checked, Registry};

const PLATFORMS: [(&str, &str); 3] = [
    ("linux/amd64", "x86_64"),
    ("linux/arm64", "aarch64"),
    ("linux/arm/v7", "armv7l"),
];

/// The cached base image's layout, if scripts/make-test-base-image made it.
fn base_layout() -> Option<PathBuf> {
    let base = std::env::var("XX_TEST_BASE").unwrap_or_else(|_| "/var/cache/xx-test-base".into());
    let dir = Path::new(&base);
    if dir.join(".complete").is_file() {
        return Some(dir.join("oci"));
    }
    skip(&format!(
        "no Debian base image in {} (run scripts/make-test-base-image)",
        dir.display()
    ));
    None
}

fn host_codename() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .unwrap_or("bookworm")
        .trim_matches('"')
        .to_string()
}

fn xx(args: &[&str]) -> Checked {
    let out = hermetic(
        Path::new(env!("CARGO_BIN_EXE_xx")),
        crate::util::empty_home(),
    )
    .args(args)
    .env("SOURCE_DATE_EPOCH", "1700000000")
    .output()
    .expect("run xx");
    Checked::from(out)
}

fn ok(out: Checked, what: &str) -> Checked {
    assert_eq!(out.code, 0, "{what}:\n{}\n{}", out.stdout, out.stderr);
    out
}

/// The xx image the Dockerfile copies from, pushed to the registry: the one
/// `scripts/build-xx-image` made (XX_TEST_XX_IMAGE, set by scripts/test: xx built by xx
/// build for three platforms, twice, one digest), else one made here from this build's
/// binary for the build machine only, and the skip says so.
fn xx_image(dir: &Path, registry: &Registry) -> String {
    let reference = format!("{}/xx:latest", registry.addr);
    if let Ok(built) = std::env::var("XX_TEST_XX_IMAGE") {
        ok(
            xx(&["image", "copy", "-q", "--all", &built, &reference]),
            "xx image copy (the xx image)",
        );
        let inspect = ok(
            xx(&["image", "inspect", &reference]),
            "inspect the xx image",
        );
        for (platform, _) in PLATFORMS {
            assert!(inspect.stdout.contains(platform), "{}", inspect.stdout);
        }
        return reference;
    }
    skip(
        "XX_TEST_XX_IMAGE is not set (scripts/test builds it): the xx image is made \
         from the test binary, for the build machine only",
    );
    let bin = dir.join("xx-stage/usr/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_xx"), bin.join("xx")).unwrap();
    ok(
        xx(&["install-links", "--relative", bin.to_str().unwrap()]),
        "install-links",
    );
    let stage = format!("linux/amd64={}", dir.join("xx-stage").display());
    ok(
        xx(&[
            "image",
            "create",
            "-q",
            "--platform",
            &stage,
            "-o",
            &reference,
        ]),
        "xx image create (xx image)",
    );
    reference
}

/// The cached Debian image with one more layer: apt's sources pointing at the loopback
/// archive, and its key.
fn base_image(
    dir: &Path,
    layout: &Path,
    server: &Server,
    suite: &str,
    registry: &Registry,
) -> String {
    let overlay = dir.join("base-stage");
    std::fs::create_dir_all(overlay.join("etc/apt/keyrings")).unwrap();
    std::fs::copy(
        &signer(true).keyring,
        overlay.join("etc/apt/keyrings/xx-test.gpg"),
    )
    .unwrap();
    std::fs::write(
        overlay.join("etc/apt/sources.list"),
        format!(
            "deb [signed-by=/etc/apt/keyrings/xx-test.gpg] {}/ {suite} main\n",
            server.url
        ),
    )
    .unwrap();
    let reference = format!("{}/debian:{suite}", registry.addr);
    let base = format!("oci:{}:{}", layout.display(), host_codename());
    let stage = format!("linux/amd64={}", overlay.display());
    ok(
        xx(&[
            "image",
            "create",
            "-q",
            "--base",
            &base,
            "--platform",
            &stage,
            "-o",
            &reference,
        ]),
        "xx image create (base image)",
    );
    reference
}

/// The build context: the examples, with the Rust one's crates vendored (the build
/// reads no network but the loopback archive).
fn context(dir: &Path) -> PathBuf {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let ctx = dir.join("context");
    for (name, entries) in [
        ("hello-c", &["CMakeLists.txt", "main.c"][..]),
        (
            "hello-rs",
            &["Cargo.toml", "Cargo.lock", "build.rs", "src"][..],
        ),
    ] {
        std::fs::create_dir_all(ctx.join(name)).unwrap();
        for entry in entries {
            let status = Command::new("cp")
                .arg("-r")
                .arg(examples.join(name).join(entry))
                .arg(ctx.join(name))
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
    let rs = ctx.join("hello-rs");
    let vendor = Command::new("cargo")
        .args(["vendor", "--locked", "vendor"])
        .current_dir(&rs)
        .output()
        .expect("cargo vendor");
    assert!(vendor.status.success(), "{vendor:?}");
    std::fs::create_dir_all(rs.join(".cargo")).unwrap();
    std::fs::write(rs.join(".cargo/config.toml"), &vendor.stdout).unwrap();
    ctx
}

/// `buildah ARGS` with a private store, so runs never meet each other's images.
fn buildah(dir: &Path, args: &[&str]) -> Checked {
    let out = Command::new("buildah")
        .arg("--root")
        .arg(dir.join("storage"))
        .arg("--runroot")
        .arg(dir.join("run"))
        .args(args)
        .env("BUILDAH_ISOLATION", "chroot")
        .output()
        .expect("run buildah");
    Checked::from(out)
}

#[test]
fn dockerfile_example_builds_three_platforms_with_buildah() {
    if !require_tools(&["buildah", "cargo", "qemu-aarch64", "qemu-arm"]) {
        return;
    }
    let Some(layout) = base_layout() else { return };
    let Some(mut archive) = Archive::with_real(&["amd64", "arm64", "armhf"]) else {
        return;
    };
    let Some(registry) = Registry::start(None) else {
        return;
    };
    archive.suite = host_codename();
    archive.publish();
    let server = Server::start(archive.dir.path());
    let dir = tempfile::tempdir().unwrap();
    let xx_ref = xx_image(dir.path(), &registry);
    let base_ref = base_image(dir.path(), &layout, &server, &archive.suite, &registry);
    let ctx = context(dir.path());
    let dockerfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile.example");
    let platforms: Vec<&str> = PLATFORMS.iter().map(|(p, _)| *p).collect();
    let built = buildah(
        dir.path(),
        &[
            "build",
            "--isolation",
            "chroot",
            "--tls-verify=false",
            "--build-arg",
            "BUILDPLATFORM=linux/amd64",
            "--build-arg",
            &format!("XX_IMAGE={xx_ref}"),
            "--build-arg",
            &format!("BASE_IMAGE={base_ref}"),
            "--platform",
            &platforms.join(","),
            "--manifest",
            "hello",
            "-f",
            dockerfile.to_str().unwrap(),
            ctx.to_str().unwrap(),
        ],
    );
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("dockerfile-build.log"),
        format!("{}\n{}", built.stdout, built.stderr),
    );
    let tail: Vec<&str> = built.stdout.lines().rev().take(60).collect();
    assert_eq!(
        built.code,
        0,
        "buildah build:\n{}\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        built.stderr
    );
    let pushed = registry.url("hello:latest");
    let push = buildah(
        dir.path(),
        &[
            "manifest",
            "push",
            "--all",
            "--tls-verify=false",
            "hello",
            &pushed,
        ],
    );
    assert_eq!(push.code, 0, "buildah manifest push: {}", push.stderr);

    let reference = pushed.trim_start_matches("docker://");
    let inspect = ok(xx(&["image", "inspect", reference]), "xx image inspect");
    for (platform, machine) in PLATFORMS {
        assert!(inspect.stdout.contains(platform), "{}", inspect.stdout);
        // The entrypoint (the Rust program), then the C one with an exit code.
        let ran = ok(
            xx(&["image", "run", "-q", "--platform", platform, reference]),
            "xx image run",
        );
        assert_eq!(ran.stdout.trim(), format!("hello-rs on {machine}"));
        let c = xx(&[
            "image",
            "run",
            "-q",
            "--platform",
            platform,
            "--entrypoint",
            "/usr/local/bin/hello-c",
            reference,
            "--",
            "5",
        ]);
        assert_eq!(c.code, 5, "{platform}: {}", c.stderr);
        assert_eq!(c.stdout.trim(), format!("hello-c on {machine}"));
    }
}
