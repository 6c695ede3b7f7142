//! The one test that changes the machine: as root on Debian, xx-apt adds arm64 to dpkg
//! and installs arm64 libraries (multiarch), which a program then links through the
//! `<triple>-pkg-config` wrapper and runs under qemu. arm64's indexes are sound on CI
//! (armhf/armel/ppc64el/i386 are never added: see ENVIRONMENT.md).
//!
//! A test binary of its own, so no compile test of `tests` runs while dpkg is unpacking:
//! cargo runs integration test binaries one after another. It installs the C and C++
//! essentials together, so clang never meets a multiarch libgcc without libstdc++.

#[path = "util.rs"]
#[allow(dead_code)] // shared with tests/tests.rs, which uses all of it
mod util;

use std::path::Path;
use std::process::Command;

use util::{bin_dir, require_tool, require_tools, run, Project, Run};

/// Root on Debian, or (strict) a failure, or a loud skip.
fn root_on_debian(what: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root && Path::new("/etc/debian_version").exists() {
        return true;
    }
    util::skip(&format!("{what} needs root on Debian (CI runs as root)"))
}

/// As root on Debian: arm64 zlib through xx-apt (multiarch), linked by a program via the
/// `<triple>-pkg-config` wrapper, run under qemu. Adds arm64 to dpkg (allowed on CI:
/// arm64's indexes are sound); a second run neither adds nor updates again.
#[test]
fn real_multiarch_install_and_pkg_config_link() {
    if !root_on_debian("the real xx-apt test") {
        return;
    }
    if !require_tool("clang") || !require_tool("qemu-aarch64") || !require_tool("pkg-config") {
        return;
    }
    let install = || {
        Command::new(bin_dir().join("xx-apt-get"))
            .args([
                "install",
                "-y",
                "-q",
                "zlib1g-dev",
                "xx-c-essentials",
                "xx-cxx-essentials",
            ])
            .env("TARGETPLATFORM", "linux/arm64")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .expect("run xx-apt-get")
    };
    let first = install();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "+ apt-get  install -y -q zlib1g-dev:arm64 libc6-dev:arm64 libgcc-12-dev:arm64"
        ),
        "{stderr}"
    );
    let second = install();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{stderr}");
    assert!(
        !stderr.contains("+ apt-get update") && !stderr.contains("--add-architecture"),
        "idempotent: {stderr}"
    );

    let work = tempfile::tempdir().unwrap();
    let prefix = work.path().join("prefix");
    std::fs::write(
        work.path().join("z.c"),
        "#include <stdio.h>\n#include <zlib.h>\nint main(void) { printf(\"zlib %s\\n\", zlibVersion()); return 0; }\n",
    )
    .unwrap();
    let env = |cmd: &mut Command| {
        cmd.env("TARGETPLATFORM", "linux/arm64")
            .env("XX_PREFIX", &prefix)
            .current_dir(work.path());
    };
    let mut setup = Command::new(bin_dir().join("xx-clang"));
    setup.arg("--setup-target-triple");
    env(&mut setup);
    assert!(setup.status().unwrap().success());
    let mut flags = Command::new(prefix.join("aarch64-linux-gnu-pkg-config"));
    flags.args(["--cflags", "--libs", "zlib"]);
    env(&mut flags);
    let flags = flags.output().unwrap();
    let flags = String::from_utf8_lossy(&flags.stdout).to_string();
    assert!(
        flags.contains("-L/usr/lib/aarch64-linux-gnu"),
        "target's libdir, not the host's: {flags}"
    );
    let mut cc = Command::new(bin_dir().join("xx-clang"));
    cc.args(["-o", "z", "z.c"]).args(flags.split_whitespace());
    env(&mut cc);
    let out = cc.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = run(
        &Run::new("xx-verify", &[work.path().join("z").to_str().unwrap()])
            .env("TARGETPLATFORM", "linux/arm64"),
    );
    assert_eq!(v.code, 0, "{}", v.stderr);
    let ran = Command::new("qemu-aarch64")
        .args(["-L", "/"])
        .arg(work.path().join("z"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ran.stdout).starts_with("zlib 1."),
        "{ran:?}"
    );
}

/// A crate graph with C code for arm64: sqlite from the crate's sources (cc), OpenSSL and
/// zlib from the arm64 -dev packages through the pkg-config wrapper; `xx-cargo test` runs
/// its test under qemu. Runs after the install above (same binary, so in file order… not
/// guaranteed: it installs what it needs itself, idempotently).
#[test]
fn crate_graph_with_c_libraries_builds_and_tests_under_qemu() {
    if !root_on_debian("the -sys crate graph test")
        || !require_tools(&["cargo", "clang", "qemu-aarch64"])
    {
        return;
    }
    let install = Command::new(bin_dir().join("xx-apt-get"))
        .args([
            "install",
            "-y",
            "-q",
            "zlib1g-dev",
            "libssl-dev",
            "xx-c-essentials",
            "xx-cxx-essentials",
        ])
        .env("TARGETPLATFORM", "linux/arm64")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .expect("run xx-apt-get");
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let p = Project::new("sys-crate");
    let test = p.cargo("linux/arm64", &["test", "-q", "--", "--nocapture"], &[]);
    assert_eq!(test.code, 0, "{}\n{}", test.stdout, test.stderr);
    assert!(
        test.stdout.contains("on aarch64: sqlite 3."),
        "{}",
        test.stdout
    );
    let build = p.cargo("linux/arm64", &["build", "--release", "-q"], &[]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    let bin = p.binary("aarch64-unknown-linux-gnu", "release", "sys-crate");
    let v = run(
        &Run::new("xx-verify", &["--strict", "--json", bin.to_str().unwrap()])
            .env("TARGETPLATFORM", "linux/arm64"),
    );
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert!(
        v.stdout.contains("libcrypto.so.3") && v.stdout.contains("libz.so.1"),
        "links the arm64 libraries: {}",
        v.stdout
    );
}

/// The distribution's Rust (rustc-web + cargo-web): xx-cargo installs
/// libstd-rust-web-dev:arm64 with xx-apt and builds with /usr/bin/cargo and /usr/bin/rustc
/// (never rustup's rustc with Debian's std).
#[test]
fn distribution_rust_path() {
    if !root_on_debian("the distribution-Rust test") {
        return;
    }
    if !Path::new("/usr/bin/cargo").exists() {
        util::skip("/usr/bin/cargo missing: scripts/setup-test-deps installs rustc-web cargo-web");
        return;
    }
    let p = Project::new("hello-crate");
    // XX_NO_DOWNLOAD=1: xx's way (xx-apt), not the managed rust-std (tests/sysroot.rs).
    let env = [
        ("XX_CARGO_TOOLCHAIN", "distro"),
        ("DEBIAN_FRONTEND", "noninteractive"),
        ("XX_NO_DOWNLOAD", "1"),
    ];
    let build = p.cargo("linux/arm64", &["build", "--release", "-v"], &env);
    assert_eq!(build.code, 0, "{}", build.stderr);
    assert!(
        build.stderr.contains("Running `/usr/bin/rustc"),
        "Debian's rustc builds: {}",
        build.stderr
    );
    assert!(Path::new("/usr/lib/rustlib/aarch64-unknown-linux-gnu/lib").is_dir());
    let ran = p.cargo("linux/arm64", &["run", "--release", "-q"], &env);
    assert_eq!(
        ran.stdout.trim(),
        "hello from aarch64 linux",
        "{}",
        ran.stderr
    );
}

/// No riscv64 std in Debian 12: xx-cargo builds it from rust-web-src with -Zbuild-std
/// (RUSTC_BOOTSTRAP=1 for that build only) and says so.
#[test]
fn build_std_when_no_std_can_be_installed() {
    if !root_on_debian("the -Zbuild-std test") || !require_tools(&["clang", "qemu-riscv64"]) {
        return;
    }
    if !Path::new("/usr/lib/rustlib/src/rust/library").is_dir() {
        util::skip("rust-web-src missing: scripts/setup-test-deps installs it");
        return;
    }
    let p = Project::new("hello-crate");
    let env = [("XX_CARGO_TOOLCHAIN", "distro"), ("XX_NO_DOWNLOAD", "1")];
    let build = p.cargo("linux/riscv64", &["build", "--release"], &env);
    assert_eq!(build.code, 0, "{}", build.stderr);
    assert!(
        build.stderr.contains("-Zbuild-std"),
        "reported on stderr: {}",
        build.stderr
    );
    let bin = p.binary("riscv64gc-unknown-linux-gnu", "release", "hello-crate");
    let v = run(&Run::new("xx-verify", &["--strict", bin.to_str().unwrap()])
        .env("TARGETPLATFORM", "linux/riscv64"));
    assert_eq!(v.code, 0, "{}", v.stderr);
    let ran = p.cargo("linux/riscv64", &["run", "--release", "-q"], &env);
    assert_eq!(
        ran.stdout.trim(),
        "hello from riscv64 linux",
        "{}",
        ran.stderr
    );
}

/// No musl std in Debian: -Zbuild-std builds it, and with no self-contained musl beside
/// it (rustup ships crt1.o and libc.a; a std from source has none) zig's musl links the
/// static program.
#[test]
fn build_std_for_a_musl_target_links_with_zigs_musl() {
    if !root_on_debian("the musl -Zbuild-std test")
        || !util::has_zig()
        || !require_tools(&["qemu-aarch64"])
    {
        return;
    }
    if !Path::new("/usr/lib/rustlib/src/rust/library").is_dir() {
        util::skip("rust-web-src missing: scripts/setup-test-deps installs it");
        return;
    }
    let p = Project::new("hello-crate");
    let env = [
        ("XX_CARGO_TOOLCHAIN", "distro"),
        ("XX_NO_DOWNLOAD", "1"),
        ("XX_LIBC", "musl"),
    ];
    let build = p.cargo("linux/arm64", &["build", "--release"], &env);
    assert_eq!(build.code, 0, "{}", build.stderr);
    assert!(build.stderr.contains("-Zbuild-std"), "{}", build.stderr);
    // cmake-rs crates get a toolchain file of the zig build's own: the target's shared
    // one keeps clang, so other builds never see it flip.
    let prefix = p.path().join("xx-prefix");
    let twin = std::fs::read_dir(&prefix)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".zig.cmake"))
        .expect("a <triple>.zig.cmake in the prefix");
    let twin_text = std::fs::read_to_string(&twin).unwrap();
    let name = twin
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace(".zig.cmake", "");
    assert!(
        twin_text.contains(&format!(
            "set(CMAKE_C_COMPILER \"{}/{name}-clang\")",
            prefix.display()
        )),
        "{twin_text}"
    );
    let bin = p.binary("aarch64-unknown-linux-musl", "release", "hello-crate");
    let v = run(&Run::new("xx-verify", &["--static", bin.to_str().unwrap()])
        .env("TARGETPLATFORM", "linux/arm64"));
    assert_eq!(v.code, 0, "{}", v.stderr);
    let out = Command::new("qemu-aarch64").arg(&bin).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hello from aarch64 linux"
    );
}
