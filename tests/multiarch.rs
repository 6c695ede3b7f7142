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

use util::{bin_dir, require_tool, run, Run};

/// As root on Debian: arm64 zlib through xx-apt (multiarch), linked by a program via the
/// `<triple>-pkg-config` wrapper, run under qemu. Adds arm64 to dpkg (allowed on CI:
/// arm64's indexes are sound); a second run neither adds nor updates again.
#[test]
fn real_multiarch_install_and_pkg_config_link() {
    // SAFETY: geteuid has no preconditions.
    let root_user = unsafe { libc::geteuid() } == 0;
    if !root_user || !Path::new("/etc/debian_version").exists() {
        if std::env::var("XX_TEST_STRICT").as_deref() == Ok("1") {
            panic!("the real xx-apt test needs root on Debian (CI runs as root)");
        }
        eprintln!("SKIPPED: real xx-apt test needs root on Debian");
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
