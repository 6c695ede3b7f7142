//! xx-cargo on a real crate: gnu targets and static musl, verified and run through the
//! qemu runner; `test -- --nocapture`; glibc pinning through zig; concurrent builds.
//! (The crate graph with C libraries and the distribution-Rust path need root for
//! xx-apt: tests/multiarch.rs.)

use std::process::Command;

use crate::util::{bin_dir, has_zig, require_tools, run, which, Project, Run};

fn have_rust_and_qemu() -> bool {
    require_tools(&[
        "cargo",
        "clang",
        "ld.lld",
        "qemu-aarch64",
        "qemu-arm",
        "qemu-riscv64",
        "qemu-s390x",
    ])
}

/// Linux gnu targets (the spec's list) and static musl ones: built, verified, and run
/// by `xx-cargo run` (the qemu runner).
#[test]
fn hello_crate_for_gnu_and_static_musl_targets() {
    if !have_rust_and_qemu() {
        return;
    }
    let p = Project::new("hello-crate");
    let cases = [
        ("linux/arm64", "gnu", "aarch64-unknown-linux-gnu", "aarch64"),
        (
            "linux/arm/v7",
            "gnu",
            "armv7-unknown-linux-gnueabihf",
            "arm",
        ),
        (
            "linux/riscv64",
            "gnu",
            "riscv64gc-unknown-linux-gnu",
            "riscv64",
        ),
        (
            "linux/ppc64le",
            "gnu",
            "powerpc64le-unknown-linux-gnu",
            "powerpc64",
        ),
        ("linux/s390x", "gnu", "s390x-unknown-linux-gnu", "s390x"),
        ("linux/386", "gnu", "i686-unknown-linux-gnu", "x86"),
        (
            "linux/arm64",
            "musl",
            "aarch64-unknown-linux-musl",
            "aarch64",
        ),
        ("linux/amd64", "musl", "x86_64-unknown-linux-musl", "x86_64"),
    ];
    for (platform, libc, triple, arch) in cases {
        let env = [("XX_LIBC", libc)];
        let printed = p.cargo(platform, &["--print-target-triple"], &env);
        assert_eq!(printed.stdout.trim(), triple, "{platform} {libc}");
        let build = p.cargo(platform, &["build", "--release", "-q"], &env);
        assert_eq!(build.code, 0, "{platform} {libc}: {}", build.stderr);
        let bin = p.binary(triple, "release", "hello-crate");
        let mut verify = vec!["--strict", bin.to_str().unwrap()];
        if libc == "musl" {
            verify.insert(0, "--static");
        }
        let v = run(&Run::new("xx-verify", &verify)
            .env("TARGETPLATFORM", platform)
            .env("XX_LIBC", libc));
        assert_eq!(v.code, 0, "{platform} {libc}: {}", v.stderr);
        let ran = p.cargo(platform, &["run", "--release", "-q"], &env);
        assert_eq!(ran.code, 0, "{platform} {libc}: {}", ran.stderr);
        assert_eq!(
            ran.stdout.trim(),
            format!("hello from {arch} linux"),
            "{platform} {libc}"
        );
    }
}

/// `--target` goes before `--` (tonistiigi/xx appends it after, so the test binary got
/// it), and the test suite runs under qemu with its threads.
#[test]
fn test_under_qemu_with_arguments_after_double_dash() {
    if !have_rust_and_qemu() {
        return;
    }
    let p = Project::new("hello-crate");
    let r = p.cargo("linux/arm64", &["test", "-q", "--", "--nocapture"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("testing on aarch64"), "{}", r.stdout);
    assert!(r.stdout.contains("1 passed"), "{}", r.stdout);
}

/// xx-cargo's triples: xx's cargo column where it is a real Rust target, the table's
/// Rust triple where xx's is not (darwin, windows: tonistiigi/xx#196; arm v5).
#[test]
fn print_target_triple() {
    for (platform, want) in [
        ("linux/amd64", "x86_64-unknown-linux-gnu"),
        ("linux/arm/v7", "armv7-unknown-linux-gnueabihf"),
        ("linux/arm/v6", "arm-unknown-linux-gnueabi"),
        ("linux/arm/v5", "armv5te-unknown-linux-gnueabi"),
        ("linux/riscv64", "riscv64gc-unknown-linux-gnu"),
        ("linux/mips64le", "mips64el-unknown-linux-gnuabi64"),
        ("darwin/arm64", "aarch64-apple-darwin"),
        ("darwin/amd64", "x86_64-apple-darwin"),
        ("windows/amd64", "x86_64-pc-windows-gnu"),
    ] {
        let r =
            run(&Run::new("xx-cargo", &["--print-target-triple"]).env("TARGETPLATFORM", platform));
        assert_eq!(
            (r.stdout.trim(), r.code),
            (want, 0),
            "{platform}: {}",
            r.stderr
        );
    }
    let r =
        run(&Run::new("xx-cargo", &["--print-target-triple"]).env("TARGETPLATFORM", "windows/arm"));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("Rust has no target for windows/arm/v7"),
        "{}",
        r.stderr
    );
}

/// `--glibc 2.17`: zig links against glibc 2.17 symbols; xx-verify --max-glibc proves it.
#[test]
fn glibc_version_targeting() {
    let zig = has_zig();
    if !zig || !have_rust_and_qemu() {
        return;
    }
    let p = Project::new("hello-crate");
    let r = p.cargo(
        "linux/arm64",
        &["build", "--release", "-q", "--glibc", "2.17"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bin = p.binary("aarch64-unknown-linux-gnu", "release", "hello-crate");
    let v = run(
        &Run::new("xx-verify", &["--max-glibc", "2.17", bin.to_str().unwrap()])
            .env("TARGETPLATFORM", "linux/arm64"),
    );
    assert_eq!(v.code, 0, "{}", v.stderr);
    let ran = p.cargo(
        "linux/arm64",
        &["run", "--release", "-q", "--glibc", "2.17"],
        &[],
    );
    assert_eq!(
        ran.stdout.trim(),
        "hello from aarch64 linux",
        "{}",
        ran.stderr
    );
}

/// BuildKit builds platforms in parallel: two xx-cargo builds at once, one prefix.
#[test]
fn two_builds_for_different_targets_at_once() {
    if !have_rust_and_qemu() {
        return;
    }
    let a = Project::new("hello-crate");
    let b = Project::new("hello-crate");
    let prefix = a.path().join("shared-prefix");
    let spawn = |p: &Project, platform: &str| {
        Command::new(bin_dir().join("xx-cargo"))
            .args(["build", "--release", "-q"])
            .current_dir(p.path())
            .env("TARGETPLATFORM", platform)
            .env("XX_PREFIX", &prefix)
            .spawn()
            .expect("spawn xx-cargo")
    };
    let mut first = spawn(&a, "linux/arm64");
    let mut second = spawn(&b, "linux/s390x");
    assert!(first.wait().unwrap().success());
    assert!(second.wait().unwrap().success());
    for (p, platform, triple) in [
        (&a, "linux/arm64", "aarch64-unknown-linux-gnu"),
        (&b, "linux/s390x", "s390x-unknown-linux-gnu"),
    ] {
        let bin = p
            .path()
            .join("target")
            .join(triple)
            .join("release/hello-crate");
        let v =
            run(&Run::new("xx-verify", &[bin.to_str().unwrap()]).env("TARGETPLATFORM", platform));
        assert_eq!(v.code, 0, "{platform}: {}", v.stderr);
    }
}

/// Without qemu-user, `xx-cargo test` for a foreign target says which package to
/// install, in one line plus the fix; `build` still works.
#[test]
fn missing_qemu_is_named() {
    if !require_tools(&["cargo", "rustc", "rustup", "clang", "ld.lld"]) {
        return;
    }
    // A PATH with the toolchain but no qemu.
    let p = Project::new("hello-crate");
    let bin = p.path().join("no-qemu-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in [
        "cargo", "rustc", "rustup", "clang", "clang++", "ld.lld", "llvm-ar", "cc",
    ] {
        if let Some(found) = which(tool) {
            std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
        }
    }
    for name in ["xx-cargo", "xx-clang", "xx-apt-get"] {
        std::os::unix::fs::symlink(bin_dir().join(name), bin.join(name)).unwrap();
    }
    let path = bin.to_string_lossy().into_owned();
    let r = p.cargo("linux/arm64", &["test", "-q"], &[("PATH", &path)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("qemu-aarch64 not found")
            && r.stderr.contains("help: apt-get install qemu-user"),
        "{}",
        r.stderr
    );
    let build = p.cargo("linux/arm64", &["build", "-q"], &[("PATH", &path)]);
    assert_eq!(build.code, 0, "{}", build.stderr);
}

/// `xx-cargo +toolchain`: the std goes to that toolchain, whatever rustup's default is
/// (here a default that is not even installed).
#[test]
fn a_plus_toolchain_gets_its_own_std() {
    if !have_rust_and_qemu() {
        return;
    }
    let default = Command::new("rustup").arg("default").output().unwrap();
    let name = String::from_utf8_lossy(&default.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    if !default.status.success() || name.is_empty() {
        crate::util::skip("rustup has no default toolchain to name with +");
        return;
    }
    let p = Project::new("hello-crate");
    let plus = format!("+{name}");
    let env = [
        ("RUSTUP_TOOLCHAIN", "xx-test-not-installed"),
        ("RUSTUP_AUTO_INSTALL", "0"),
    ];
    let r = p.cargo("linux/arm64", &[&plus, "build", "-q"], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed", "--toolchain", &name])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&installed.stdout).contains("aarch64-unknown-linux-gnu"));
    assert!(p
        .binary("aarch64-unknown-linux-gnu", "debug", "hello-crate")
        .is_file());
    // Without rustup's cargo a named toolchain is one clear line.
    let r = p.cargo(
        "linux/arm64",
        &[&plus, "build"],
        &[("XX_CARGO_TOOLCHAIN", "distro")],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("toolchains by name are rustup's"),
        "{}",
        r.stderr
    );
}

/// Input that names files is checked first: a bare `+` and an XX_GLIBC_VERSION that is
/// not a version are one line each, before anything is set up.
#[test]
fn a_bare_plus_and_a_bad_glibc_version_are_refused() {
    let p = Project::new("hello-crate");
    let r = p.cargo("linux/arm64", &["+", "build"], &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("`+` names no toolchain"), "{}", r.stderr);
    for v in ["../../x", "2.17/..", "2"] {
        let r = p.cargo("linux/arm64", &["build"], &[("XX_GLIBC_VERSION", v)]);
        assert_eq!(r.code, 1, "{v}");
        assert_eq!(
            r.stderr.lines().count(),
            1,
            "one line for {v}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("expected a version like 2.17"),
            "{}",
            r.stderr
        );
    }
    assert!(!p.path().join("xx-prefix").exists(), "nothing was set up");
}

/// C built by CMake (the cmake crate uses the toolchain file's compilers, and sets
/// CMAKE_C_FLAGS itself): it links for the target, and `--glibc 2.17` reaches it, in a
/// prefix already set up without it. Its `stat()` needs glibc 2.33 otherwise.
#[test]
fn glibc_reaches_c_code_built_through_the_cmake_toolchain_file() {
    if !has_zig() || !have_rust_and_qemu() || !require_tools(&["cmake"]) {
        return;
    }
    let p = Project::new("cmake-crate");
    let bin = |dir: &str| {
        p.path()
            .join(dir)
            .join("aarch64-unknown-linux-gnu/release/cmake-crate")
    };
    let verify = |file: &std::path::Path| {
        run(&Run::new(
            "xx-verify",
            &["--max-glibc", "2.17", file.to_str().unwrap()],
        )
        .env("TARGETPLATFORM", "linux/arm64"))
    };
    let plain = p.cargo("linux/arm64", &["build", "--release", "-q"], &[]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    let v = verify(&bin("target"));
    assert!(
        v.code == 1 && v.stderr.contains("needs glibc 2.3"),
        "{}",
        v.stderr
    );
    let pinned_dir = p.path().join("target-2.17").display().to_string();
    let env = [("CARGO_TARGET_DIR", pinned_dir.as_str())];
    let pinned = p.cargo(
        "linux/arm64",
        &["build", "--release", "-q", "--glibc", "2.17"],
        &env,
    );
    assert_eq!(pinned.code, 0, "{}", pinned.stderr);
    let v = verify(&bin("target-2.17"));
    assert_eq!(v.code, 0, "{}", v.stderr);
    let ran = p.cargo(
        "linux/arm64",
        &["run", "--release", "-q", "--glibc", "2.17"],
        &env,
    );
    assert_eq!(ran.stdout.trim(), "cmake C code says ok", "{}", ran.stderr);
}
