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
        ("hello-go", &["go.mod", "main.go"][..]),
        ("hello-windows", &["main.c", "app.rc"][..]),
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

/// Everything a Dockerfile test builds from: the loopback registry holding the xx and
/// base images, the archive the build's apt reads, the build context.
struct Setup {
    registry: Registry,
    _server: Server,
    /// Served by `_server`: dropping it would remove the archive's files.
    _archive: Archive,
    dir: tempfile::TempDir,
    xx_ref: String,
    base_ref: String,
    ctx: PathBuf,
}

impl Setup {
    fn new() -> Option<Setup> {
        if !require_tools(&["buildah", "cargo", "qemu-aarch64", "qemu-arm"]) {
            return None;
        }
        let layout = base_layout()?;
        let mut archive = Archive::with_real(&["amd64", "arm64", "armhf"])?;
        let registry = Registry::start(None)?;
        archive.suite = host_codename();
        archive.publish();
        let server = Server::start(archive.dir.path());
        let dir = tempfile::tempdir().unwrap();
        let xx_ref = xx_image(dir.path(), &registry);
        let base_ref = base_image(dir.path(), &layout, &server, &archive.suite, &registry);
        let ctx = context(dir.path());
        Some(Setup {
            registry,
            _server: server,
            _archive: archive,
            dir,
            xx_ref,
            base_ref,
            ctx,
        })
    }

    /// `buildah build` of `dockerfile` for `platforms` into `output` (`--manifest NAME`
    /// or `-t NAME`); fails the test with the build's tail when it fails.
    fn build(&self, dockerfile: &Path, platforms: &[&str], output: [&str; 2]) -> Checked {
        let built = buildah(
            self.dir.path(),
            &[
                "build",
                "--isolation",
                "chroot",
                "--tls-verify=false",
                "--build-arg",
                "BUILDPLATFORM=linux/amd64",
                "--build-arg",
                &format!("XX_IMAGE={}", self.xx_ref),
                "--build-arg",
                &format!("BASE_IMAGE={}", self.base_ref),
                "--platform",
                &platforms.join(","),
                output[0],
                output[1],
                "-f",
                dockerfile.to_str().unwrap(),
                self.ctx.to_str().unwrap(),
            ],
        );
        let name = dockerfile.file_name().unwrap().to_string_lossy();
        let _ = std::fs::write(
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-build.log")),
            format!("{}\n{}", built.stdout, built.stderr),
        );
        let tail: Vec<&str> = built.stdout.lines().rev().take(60).collect();
        assert_eq!(
            built.code,
            0,
            "buildah build {name}:\n{}\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            built.stderr
        );
        built
    }

    /// Pushes a manifest list (or an image) to the loopback registry; its reference.
    fn push(&self, what: &[&str], name: &str) -> String {
        let pushed = self.registry.url(&format!("{name}:latest"));
        let mut args = vec![what[0]];
        args.extend(&what[1..]);
        args.extend(["--tls-verify=false", name, &pushed]);
        let push = buildah(self.dir.path(), &args);
        assert_eq!(push.code, 0, "buildah push {name}: {}", push.stderr);
        pushed.trim_start_matches("docker://").to_string()
    }
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// Go with cgo: xx-go with xx-clang's aliases and the xx-apt-installed target libc,
/// linked statically; each platform's program runs under qemu.
#[test]
fn dockerfile_go_with_cgo_builds_two_platforms_with_buildah() {
    let Some(setup) = Setup::new() else { return };
    let platforms = [("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")];
    let names: Vec<&str> = platforms.iter().map(|(p, _)| *p).collect();
    setup.build(
        &example("Dockerfile.go"),
        &names,
        ["--manifest", "hello-go"],
    );
    let reference = setup.push(&["manifest", "push", "--all"], "hello-go");
    let inspect = ok(xx(&["image", "inspect", &reference]), "xx image inspect");
    for (platform, machine) in platforms {
        assert!(inspect.stdout.contains(platform), "{}", inspect.stdout);
        let ran = ok(
            xx(&["image", "run", "-q", "--platform", platform, &reference]),
            "xx image run",
        );
        assert_eq!(ran.stdout.trim(), format!("hello-go (cgo) on {machine}"));
    }
}

/// xx-apk in an Alpine-style stage, against a recording apk: the commands and the
/// target roots of a native, a cross and a repository-fallback (riscv64) platform.
#[test]
fn dockerfile_apk_dry_run_builds_with_buildah() {
    let Some(setup) = Setup::new() else { return };
    let platforms = ["linux/amd64", "linux/arm64", "linux/riscv64"];
    let built = setup.build(
        &example("Dockerfile.apk"),
        &platforms,
        ["--manifest", "apk"],
    );
    for line in [
        "+ apk  --root / add --no-cache musl-dev gcc zlib-dev",
        "apk --root / add g++",
        "+ apk  --root /aarch64-alpine-linux-musl add --no-cache musl-dev gcc zlib-dev",
        "apk add --no-cache --initdb -p /aarch64-alpine-linux-musl --allow-untrusted alpine-keys",
        "apk --root /aarch64-alpine-linux-musl add g++",
        "aarch64",
        "http://127.0.0.1:9/alpine/v3.19/main",
        "apk add --no-cache --initdb -p /riscv64-alpine-linux-musl --allow-untrusted alpine-keys",
        "http://127.0.0.1:9/alpine/v3.20/main",
        "http://127.0.0.1:9/alpine/v3.20/community",
    ] {
        assert!(
            built.stdout.lines().any(|l| l.trim() == line),
            "no line {line:?} in:\n{}",
            built.stdout
        );
    }
}

/// Windows C with a resource: xx-windres and xx-clang in a Linux stage, a windows/amd64
/// image whose program runs under wine and finds its resource.
#[test]
fn dockerfile_windows_c_builds_with_buildah() {
    let Some(setup) = Setup::new() else { return };
    setup.build(
        &example("Dockerfile.windows"),
        &["windows/amd64"],
        ["-t", "hello-windows"],
    );
    let reference = setup.push(&["push"], "hello-windows");
    let inspect = ok(xx(&["image", "inspect", &reference]), "xx image inspect");
    assert!(
        inspect.stdout.contains("windows/amd64"),
        "{}",
        inspect.stdout
    );
    let container = buildah(setup.dir.path(), &["from", "hello-windows"]);
    assert_eq!(container.code, 0, "{}", container.stderr);
    let mounted = buildah(setup.dir.path(), &["mount", container.stdout.trim()]);
    assert_eq!(mounted.code, 0, "{}", mounted.stderr);
    let exe = Path::new(mounted.stdout.trim()).join("hello-windows.exe");
    let verify = crate::util::run(
        &crate::util::Run::new("xx-verify", &[&exe.to_string_lossy()])
            .env("TARGETPLATFORM", "windows/amd64"),
    );
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    if let Some(wine) = crate::windows::wine() {
        let prefix = setup.dir.path().join("wine");
        let out = crate::windows::under_wine(&wine, &prefix, &exe);
        assert_eq!(out, "hello-windows from a resource\n");
    }
    let _ = buildah(setup.dir.path(), &["umount", container.stdout.trim()]);
}

#[test]
fn dockerfile_example_builds_three_platforms_with_buildah() {
    let Some(setup) = Setup::new() else { return };
    let dockerfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile.example");
    let platforms: Vec<&str> = PLATFORMS.iter().map(|(p, _)| *p).collect();
    setup.build(&dockerfile, &platforms, ["--manifest", "hello"]);
    let reference = setup.push(&["manifest", "push", "--all"], "hello");
    let reference = reference.as_str();
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
