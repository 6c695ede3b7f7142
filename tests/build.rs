//! `xx build`: the repository's examples built for several platforms with real cmake,
//! clang and cargo, every output verified, packed into one OCI layout that `xx image
//! inspect` reads, each binary run under qemu; failures isolated to their platform.

use std::path::{Path, PathBuf};

use crate::util::{hermetic, require_tools, Checked, Project};

const THREE: &str = "linux/amd64,linux/arm64,linux/arm/v7";

/// A copy of `examples/NAME` in a temp dir, with a private xx prefix beside it.
struct Example {
    copy: Project,
}

impl Example {
    fn new(name: &str) -> Example {
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name);
        Example {
            copy: Project::copy_of(&from),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.copy.path().join(rel)
    }

    /// `xx ARGS` in the example, with the real HOME (rustup, cargo's registry cache).
    fn xx(&self, args: &[&str]) -> Checked {
        let home = PathBuf::from(std::env::var("HOME").unwrap_or_default());
        let out = hermetic(Path::new(env!("CARGO_BIN_EXE_xx")), &home)
            .args(args)
            .current_dir(self.copy.path())
            .env("XX_PREFIX", self.path("xx-prefix"))
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .expect("run xx");
        Checked::from(out)
    }
}

const CMAKE: &str = "cmake -S . -B build/$TARGETARCH$TARGETVARIANT >/dev/null && cmake --build build/$TARGETARCH$TARGETVARIANT";

/// The report table's row for `platform`.
fn row<'a>(stdout: &'a str, platform: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| {
            l.strip_prefix(platform)
                .is_some_and(|rest| rest.starts_with(' '))
        })
        .unwrap_or_else(|| panic!("no row for {platform}:\n{stdout}"))
}

fn index_digest(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("index "))
        .unwrap_or_else(|| panic!("no index line in:\n{stdout}"))
        .to_string()
}

#[test]
fn cmake_c_for_three_platforms_packs_one_verified_image() {
    if !require_tools(&["cmake", "clang", "ld.lld", "qemu-aarch64", "qemu-arm"]) {
        return;
    }
    let ex = Example::new("hello-c");
    let image = format!("oci:{}:latest", ex.path("image").display());
    let args = [
        "build",
        "--platform",
        THREE,
        "--artifact",
        "build/{arch}{variant}/hello-c",
        "-o",
        &image,
        "--entrypoint",
        "/hello-c",
        "--with-deps",
        "-q",
        "--",
        "sh",
        "-c",
        CMAKE,
    ];
    let out = ex.xx(&args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for platform in THREE.split(',') {
        let row = row(&out.stdout, platform);
        assert!(row.contains(" ok "), "{row}");
        assert!(row.contains("2."), "the newest glibc it needs: {row}");
        assert!(row.contains(" sha256:"), "its manifest's digest: {row}");
        assert!(ex
            .path(&format!(
                "target/xx-build/{}.log",
                platform.replace('/', "-")
            ))
            .is_file());
    }
    let inspect = ex.xx(&["image", "inspect", &image]);
    assert_eq!(inspect.code, 0, "{}", inspect.stderr);
    for platform in THREE.split(',') {
        assert!(inspect.stdout.contains(platform), "{}", inspect.stdout);
    }
    for (dir, machine) in [
        ("amd64", "x86_64"),
        ("arm64", "aarch64"),
        ("armv7", "armv7l"),
    ] {
        let bin = ex.path(&format!("build/{dir}/hello-c"));
        let ran = ex.xx(&["run", bin.to_str().unwrap()]);
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        assert_eq!(ran.stdout.trim(), format!("hello-c on {machine}"));
    }
    // Each platform of the image runs under qemu, rootless: its entrypoint, then with
    // a CMD (the entrypoint kept, as Docker does) whose exit code is passed on.
    for (platform, machine) in [
        ("linux/amd64", "x86_64"),
        ("linux/arm64", "aarch64"),
        ("linux/arm/v7", "armv7l"),
    ] {
        let ran = ex.xx(&["image", "run", "-q", "--platform", platform, &image]);
        assert_eq!(ran.code, 0, "{platform}: {}", ran.stderr);
        assert_eq!(ran.stdout.trim(), format!("hello-c on {machine}"));
    }
    let code = ex.xx(&[
        "image",
        "run",
        "-q",
        "--platform",
        "linux/arm/v7",
        &image,
        "--",
        "7",
    ]);
    assert_eq!(code.code, 7, "{}", code.stderr);
    let missing = ex.xx(&["image", "run", "-q", "--platform", "linux/s390x", &image]);
    assert_ne!(missing.code, 0);
    assert!(
        missing
            .stderr
            .starts_with("xx: no linux/s390x in the image"),
        "{}",
        missing.stderr
    );
    // Same sources, same SOURCE_DATE_EPOCH: the same index, byte for byte.
    let again = ex.xx(&args);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(index_digest(&again.stdout), index_digest(&out.stdout));
}

#[test]
fn one_failing_platform_does_not_stop_the_others_and_nothing_is_packed() {
    if !require_tools(&["clang", "ld.lld"]) {
        return;
    }
    let ex = Example::new("hello-c");
    let image = ex.path("image");
    // A byte that is not UTF-8 before the last line: the tail still reaches it.
    let script = "if [ \"$TARGETARCH\" = arm64 ]; then printf 'bin\\377ary\\n' >&2; echo 'boom: no arm64 today' >&2; exit 3; fi; \
                  mkdir -p out/$TARGETARCH$TARGETVARIANT && $CC -o out/$TARGETARCH$TARGETVARIANT/hello-c main.c";
    let out = ex.xx(&[
        "build",
        "--platform",
        THREE,
        "--artifact",
        "out/{arch}{variant}/hello-c",
        "-o",
        &format!("oci:{}", image.display()),
        "-q",
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert_ne!(out.code, 0);
    let first = out.stderr.lines().next().unwrap_or("");
    assert!(
        first.starts_with("xx: linux/arm64 failed: sh "),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("| boom: no arm64 today"),
        "the log's tail: {}",
        out.stderr
    );
    assert!(
        out.stderr
            .lines()
            .last()
            .unwrap_or("")
            .starts_with("xx: 1 of 3 platforms failed: linux/arm64"),
        "{}",
        out.stderr
    );
    assert!(row(&out.stdout, "linux/arm64").contains("FAILED"));
    assert!(row(&out.stdout, "linux/arm/v7").contains(" ok "));
    assert!(ex.path("out/armv7/hello-c").is_file() && ex.path("out/amd64/hello-c").is_file());
    assert!(!image.exists(), "no image from a partial build");
}

/// A failed build fails even when nobody reads the table (`xx build … | head`).
#[test]
fn a_failed_build_fails_with_stdout_closed() {
    let ex = Example::new("hello-c");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let home = PathBuf::from(std::env::var("HOME").unwrap_or_default());
    let out = hermetic(Path::new(env!("CARGO_BIN_EXE_xx")), &home)
        .args([
            "build",
            "-q",
            "--platform",
            "linux/amd64",
            "--",
            "sh",
            "-c",
            "exit 3",
        ])
        .current_dir(ex.path(""))
        .env("XX_PREFIX", ex.path("xx-prefix"))
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("linux/amd64 failed"), "{stderr}");
}

/// Two artifacts that would land at one name in the image are refused, and neither
/// of the user's files is touched (staging links them; a copy would write through).
#[test]
fn two_artifacts_of_one_name_are_refused_and_left_as_they_are() {
    let ex = Example::new("hello-c");
    let script = "for d in a b; do mkdir -p $d/$TARGETARCH && cp /bin/true $d/$TARGETARCH/app && \
                  echo $d >> $d/$TARGETARCH/app; done";
    let out = ex.xx(&[
        "build",
        "-q",
        "--platform",
        "linux/amd64",
        "--artifact",
        "a/{arch}/app",
        "--artifact",
        "b/{arch}/app",
        "-o",
        &format!("oci:{}", ex.path("image").display()),
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr.contains("two artifacts are named app"),
        "{}",
        out.stderr
    );
    let a = std::fs::read(ex.path("a/amd64/app")).unwrap();
    let b = std::fs::read(ex.path("b/amd64/app")).unwrap();
    assert!(
        a.ends_with(b"a\n") && b.ends_with(b"b\n"),
        "the user's files changed"
    );
}

/// The cargo shorthand in a workspace member: cargo builds into the workspace's
/// target directory, and only the workspace's binaries are the outputs.
#[test]
fn cargo_shorthand_finds_a_workspace_members_binaries() {
    if !require_tools(&["cargo", "clang", "ld.lld"]) {
        return;
    }
    let ex = Example::new("hello-c");
    let root = ex.path("ws");
    std::fs::create_dir_all(root.join("member/src")).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"member\"]\nresolver = \"2\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("member/Cargo.toml"),
        "[package]\nname = \"member\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("member/src/main.rs"),
        "fn main() { println!(\"member\"); }\n",
    )
    .unwrap();
    // A stale executable of no workspace target, where cargo puts binaries: an amd64
    // file that would fail the arm64 check if it were taken as an output.
    let stale = root.join("target/aarch64-unknown-linux-gnu/debug");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::copy("/bin/true", stale.join("old-tool")).unwrap();
    let image = format!("oci:{}:latest", ex.path("image").display());
    let out = ex.xx(&[
        "build",
        "-q",
        "--platform",
        "linux/arm64",
        "-o",
        &image,
        "--",
        "sh",
        "-c",
        "cd ws/member && exec xx-cargo build",
    ]);
    assert_ne!(
        out.code, 0,
        "a script is not the shorthand: no outputs named"
    );
    let member = ex.path("ws/member");
    let home = PathBuf::from(std::env::var("HOME").unwrap_or_default());
    let out = hermetic(Path::new(env!("CARGO_BIN_EXE_xx")), &home)
        .args([
            "build",
            "-q",
            "--platform",
            "linux/arm64",
            // Its libc too: `xx image run` must not borrow the machine's (there may be
            // an arm64 one in /lib, or not).
            "--with-deps",
            "-o",
            &image,
            "--",
            "cargo",
            "build",
        ])
        .current_dir(&member)
        .env("XX_PREFIX", ex.path("xx-prefix"))
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    let out = Checked::from(out);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let inspect = ex.xx(&["image", "inspect", &image]);
    assert!(inspect.stdout.contains("linux/arm64"), "{}", inspect.stdout);
    let listed = ex.xx(&[
        "image",
        "run",
        "--platform",
        "linux/arm64",
        &image,
        "--",
        "/member",
    ]);
    assert_eq!(listed.stdout.trim(), "member", "{}", listed.stderr);
}

#[test]
fn an_output_built_for_the_wrong_target_is_refused() {
    let ex = Example::new("hello-c");
    // The build machine's own /bin/true, claimed as the arm64 output.
    let out = ex.xx(&[
        "build",
        "--platform",
        "linux/arm64",
        "--artifact",
        "out/{arch}/true",
        "-q",
        "--",
        "sh",
        "-c",
        "mkdir -p out/$TARGETARCH && cp /bin/true out/$TARGETARCH/",
    ]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("does not match expected target architecture"),
        "xx-verify's message: {}",
        out.stderr
    );
    let out = ex.xx(&["build", "--platform", "linux/bogus", "--", "true"]);
    assert_ne!(out.code, 0);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("xx: --platform linux/bogus"),
        "{}",
        out.stderr
    );
}

#[test]
fn cargo_shorthand_builds_the_rust_example_with_its_c_part() {
    if !require_tools(&["cargo", "clang", "ld.lld", "qemu-aarch64"]) {
        return;
    }
    let ex = Example::new("hello-rs");
    let image = format!("oci:{}:latest", ex.path("image").display());
    let out = ex.xx(&[
        "build",
        "--platform",
        "linux/amd64,linux/arm64",
        "-o",
        &image,
        "-q",
        "--",
        "cargo",
        "build",
        "--release",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let inspect = ex.xx(&["image", "inspect", &image]);
    assert!(inspect.stdout.contains("linux/arm64"), "{}", inspect.stdout);
    for (triple, machine) in [
        ("x86_64-unknown-linux-gnu", "x86_64"),
        ("aarch64-unknown-linux-gnu", "aarch64"),
    ] {
        let bin = ex.path(&format!("target/{triple}/release/hello-rs"));
        let ran = ex.xx(&["run", bin.to_str().unwrap()]);
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        assert_eq!(ran.stdout.trim(), format!("hello-rs on {machine}"));
    }
    // The build script's crates (host units) are built in the first run only: the
    // second gets the native run's linker variable, so cargo finds them fresh.
    let logs: Vec<String> = ["linux-amd64.log", "linux-arm64.log"]
        .iter()
        .map(|l| std::fs::read_to_string(ex.path(&format!("target/xx-build/{l}"))).unwrap())
        .collect();
    let built_cc = |log: &str| log.contains("Compiling cc v");
    assert!(built_cc(&logs[0]), "{}", logs[0]);
    assert!(!built_cc(&logs[1]), "{}", logs[1]);
}

/// An image's /usr/bin: `xx-NAME -> xx` links beside the binary, which run as their
/// personality once the binary is there.
#[test]
fn relative_links_point_at_the_binary_beside_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xx"))
        .args(["install-links", "--relative"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_link(dir.path().join("xx-info")).unwrap(),
        Path::new("xx")
    );
    std::fs::copy(env!("CARGO_BIN_EXE_xx"), dir.path().join("xx")).unwrap();
    let info = std::process::Command::new(dir.path().join("xx-info"))
        .arg("arch")
        .env("TARGETPLATFORM", "linux/arm/v7")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&info.stdout).trim(), "arm");
}

/// On a terminal: one line per platform, redrawn in place (what it is doing and the
/// last line of its log), the outcome left standing; no per-step lines in between.
#[test]
fn a_terminal_gets_one_live_line_per_platform() {
    if !require_tools(&["script"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let transcript = dir.path().join("tty");
    let xx = env!("CARGO_BIN_EXE_xx");
    let command = format!(
        "{xx} build --platform linux/amd64,linux/arm64 -j2 --log-dir {} -- \
         sh -c 'echo compiling $TARGETARCH; sleep 1'",
        dir.path().join("logs").display()
    );
    let status = hermetic(Path::new("script"), dir.path())
        .args(["-q", "-e", "-c", &command])
        .arg(&transcript)
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run script");
    assert!(status.success());
    let screen = String::from_utf8_lossy(&std::fs::read(&transcript).unwrap()).into_owned();
    assert!(screen.contains("\x1b[2A"), "redrawn in place:\n{screen}");
    for arch in ["amd64", "arm64"] {
        let platform = format!("linux/{arch}");
        assert!(
            screen.contains(&format!("{platform:<16} building")),
            "{screen}"
        );
        assert!(screen.contains(&format!("compiling {arch}")), "{screen}");
        assert!(
            screen.contains(&format!("{platform:<16} ok in")),
            "{screen}"
        );
    }
    assert!(!screen.contains("building (log:"), "{screen}");
}
