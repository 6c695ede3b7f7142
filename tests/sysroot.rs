//! `xx sysroot`, `xx run` and the managed sysroot in xx-clang / xx-cargo, against a real
//! signed archive on 127.0.0.1 (tests/deb_archive.rs) and, once, the host's own apt
//! sources.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::deb_archive::{deb_with, tar_entry, Archive, Server, Signing};
use crate::util::{bin_dir, hermetic, require_tools, skip, Checked};

const LIMIT: Duration = Duration::from_secs(300);
const NOBODY: u32 = 65534;

/// One scratch area: XX_HOME, the xx-cc prefix and the place sysroots go.
struct Area {
    dir: tempfile::TempDir,
}

impl Area {
    fn new() -> Area {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["home", "prefix", "out", "outside"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Area { dir }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("XX_HOME".into(), self.path("home").display().to_string()),
            (
                "XX_PREFIX".into(),
                self.path("prefix").display().to_string(),
            ),
        ]
    }

    /// Everything under the area, for "nothing outside changed" checks.
    fn outside_entries(&self) -> Vec<String> {
        walk(&self.path("outside"))
    }

    /// Hands the whole area to `uid` (the unprivileged runs write into it).
    fn give_to(&self, uid: u32) {
        let status = Command::new("chown")
            .arg("-R")
            .arg(format!("{uid}:{uid}"))
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        out.push(entry.path().display().to_string());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&entry.path()));
        }
    }
    out.sort();
    out
}

/// How a command runs: as the test's user, or as `nobody` in a private mount namespace
/// where the host's foreign-arch libraries are hidden under empty tmpfs mounts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum As {
    Me,
    NobodyHidden,
}

/// The directories that would give the host's own target libraries away.
fn foreign_lib_dirs() -> Vec<String> {
    let mut out = Vec::new();
    // The distribution's Rust std for other arches (libstd-rust-*-dev:<arch>).
    for entry in std::fs::read_dir("/usr/lib/rustlib")
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.contains("-linux-") && !name.starts_with(std::env::consts::ARCH) {
            out.push(entry.path().display().to_string());
        }
    }
    for (_, triple, _, _) in crate::util::CROSS_TARGETS {
        for d in [
            format!("/usr/lib/{triple}"),
            format!("/lib/{triple}"),
            format!("/usr/{triple}"),
            format!("/usr/include/{triple}"),
            format!("/usr/lib/gcc-cross/{triple}"),
        ] {
            if Path::new(&d).is_dir() && !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

/// Runs `program args` (a name in the test bin dir, or a path) with `env`.
fn run_as(
    who: As,
    program: &str,
    args: &[&str],
    env: &[(String, String)],
    binds: &[(PathBuf, PathBuf)],
) -> Checked {
    let program = if program.contains('/') {
        PathBuf::from(program)
    } else {
        bin_dir().join(program)
    };
    let home = std::env::temp_dir();
    let mut cmd = match who {
        As::Me => {
            let mut c = hermetic(&program, &home);
            c.args(args);
            c
        }
        As::NobodyHidden => {
            // By full path: the command's own PATH may hold almost nothing.
            let (mount, setpriv) = (tool_path("mount"), tool_path("setpriv"));
            let mut script = String::from("set -e\n");
            for d in foreign_lib_dirs() {
                script.push_str(&format!("{mount} -t tmpfs -o ro,size=4k xx-hidden {d}\n"));
            }
            for (from, to) in binds {
                script.push_str(&format!(
                    "{mount} --bind {} {}\n",
                    from.display(),
                    to.display()
                ));
            }
            script.push_str(&format!(
                "exec {setpriv} --reuid={NOBODY} --regid={NOBODY} --clear-groups -- \"$@\"\n"
            ));
            let mut c = hermetic(Path::new(&tool_path("unshare")), &home);
            c.args([
                "-m",
                "--propagation",
                "private",
                "/bin/sh",
                "-c",
                &script,
                "sh",
            ])
            .arg(&program)
            .args(args);
            c
        }
    };
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    run_limited(&mut cmd)
}

/// A tool's full path on the test's own PATH.
fn tool_path(name: &str) -> String {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not on PATH"))
        .display()
        .to_string()
}

fn run_limited(cmd: &mut Command) -> Checked {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Checked::from(out)
}

fn xx() -> String {
    env!("CARGO_BIN_EXE_xx").to_string()
}

fn sysroot(area: &Area, archive: &Archive, server: &Server, extra: &[&str]) -> Checked {
    let mut args: Vec<String> = vec![
        "sysroot".into(),
        "--platform".into(),
        "linux/arm64".into(),
        "-q".into(),
    ];
    args.extend(archive.args(server));
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_as(As::Me, &xx(), &args, &area.env(), &[])
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

const ZLIB_PROGRAM: &str = r#"#include <zlib.h>
#include <math.h>
#include <stdio.h>
int main(int argc, char **argv) { printf("zlib %s %.1f\n", zlibVersion(), sqrt(16.0 * argc)); return 3; }
"#;

#[test]
fn unprivileged_sysroots_link_target_libraries_and_run() {
    if !is_root() {
        skip("needs root to drop to nobody and hide the host's foreign libraries");
        return;
    }
    if !require_tools(&[
        "clang",
        "ld.lld",
        "readelf",
        "qemu-aarch64",
        "qemu-arm",
        "setpriv",
        "unshare",
    ]) {
        return;
    }
    let Some(archive) = Archive::with_real(&["arm64", "armhf"]) else {
        return;
    };
    archive.publish();
    let server = Server::start(archive.dir.path());
    let area = Area::new();
    std::fs::write(area.path("out/z.c"), ZLIB_PROGRAM).unwrap();
    area.give_to(NOBODY);
    for (platform, triple) in [
        ("linux/arm64", "aarch64-linux-gnu"),
        ("linux/arm/v7", "arm-linux-gnueabihf"),
    ] {
        let mut args = vec!["sysroot", "--platform", platform, "zlib1g-dev", "-q"];
        let archive_args = archive.args(&server);
        args.extend(archive_args.iter().map(String::as_str));
        let built = run_as(As::NobodyHidden, &xx(), &args, &area.env(), &[]);
        assert_eq!(built.code, 0, "{platform}: {}", built.stderr);
        let root = PathBuf::from(built.stdout.trim());
        assert!(root.starts_with(area.path("home")), "{root:?}");
        let meta = std::fs::metadata(root.join("usr/include/zlib.h")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(meta.uid(), NOBODY, "files are owned by the caller");

        let bin = area.path(&format!("out/z-{triple}"));
        let mut env = area.env();
        env.push(("TARGETPLATFORM".into(), platform.into()));
        let cc = run_as(
            As::NobodyHidden,
            "xx-clang",
            &[
                "-o",
                bin.to_str().unwrap(),
                area.path("out/z.c").to_str().unwrap(),
                "-lz",
                "-lm",
            ],
            &env,
            &[],
        );
        assert_eq!(cc.code, 0, "{platform}: xx-clang: {}", cc.stderr);
        let dynamic = Command::new("readelf")
            .arg("-d")
            .arg(&bin)
            .output()
            .unwrap();
        let dynamic = String::from_utf8_lossy(&dynamic.stdout);
        for lib in ["libz.so.1", "libm.so.6"] {
            assert!(
                dynamic.contains(&format!("[{lib}]")),
                "{platform}: no NEEDED {lib}:\n{dynamic}"
            );
        }
        let ran = run_as(
            As::NobodyHidden,
            &xx(),
            &["run", "--platform", platform, bin.to_str().unwrap(), "x"],
            &area.env(),
            &[],
        );
        assert_eq!(
            ran.code, 3,
            "{platform}: exit code passed through: {}",
            ran.stderr
        );
        assert!(
            ran.stdout.starts_with("zlib 1.") && ran.stdout.contains(" 5.7"),
            "{}",
            ran.stdout
        );
        // Read from the binary when no platform is given.
        let guessed = run_as(
            As::NobodyHidden,
            &xx(),
            &["run", bin.to_str().unwrap()],
            &area.env(),
            &[],
        );
        assert_eq!(guessed.code, 3, "{platform}: {}", guessed.stderr);
    }
}

#[test]
fn unprivileged_xx_cargo_links_a_sys_crate_against_the_managed_sysroot() {
    if !is_root() {
        skip("needs root to drop to nobody and hide the host's foreign libraries");
        return;
    }
    if !require_tools(&[
        "clang",
        "ld.lld",
        "readelf",
        "qemu-aarch64",
        "setpriv",
        "unshare",
        "rustup",
    ]) {
        return;
    }
    let Some(archive) = Archive::with_real(&["arm64"]) else {
        return;
    };
    archive.publish();
    let server = Server::start(archive.dir.path());
    let area = Area::new();
    // The machine's rustup, reachable for nobody through bind mounts (its home is 0700);
    // the arm64 std installed first, as xx-cargo would do it for root.
    let rustup_home = PathBuf::from(
        std::env::var("RUSTUP_HOME")
            .unwrap_or_else(|_| format!("{}/.rustup", std::env::var("HOME").unwrap())),
    );
    let cargo_bin = PathBuf::from(
        std::env::var("CARGO_HOME")
            .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap())),
    )
    .join("bin");
    let added = Command::new("rustup")
        .args(["target", "add", "aarch64-unknown-linux-gnu"])
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    for sub in ["rustup", "cargo-bin", "cargo-home"] {
        std::fs::create_dir_all(area.path(sub)).unwrap();
    }
    let project = area.path("out/zcrate");
    let copy = Command::new("cp")
        .arg("-a")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zlib-crate"))
        .arg(&project)
        .status()
        .unwrap();
    assert!(copy.success());
    area.give_to(NOBODY);
    let binds = [
        (rustup_home, area.path("rustup")),
        (cargo_bin, area.path("cargo-bin")),
    ];
    let mut env = area.env();
    let path = format!(
        "{}:{}:{}",
        bin_dir().display(),
        area.path("cargo-bin").display(),
        std::env::var("PATH").unwrap()
    );
    env.extend([
        ("PATH".to_string(), path),
        (
            "RUSTUP_HOME".into(),
            area.path("rustup").display().to_string(),
        ),
        (
            "CARGO_HOME".into(),
            area.path("cargo-home").display().to_string(),
        ),
        (
            "CARGO_TARGET_DIR".into(),
            project.join("target").display().to_string(),
        ),
        ("TARGETPLATFORM".into(), "linux/arm64".into()),
    ]);
    let mut args = vec!["sysroot", "--platform", "linux/arm64", "zlib1g-dev", "-q"];
    let archive_args = archive.args(&server);
    args.extend(archive_args.iter().map(String::as_str));
    let built = run_as(As::NobodyHidden, &xx(), &args, &env, &binds);
    assert_eq!(built.code, 0, "{}", built.stderr);
    let manifest = project.join("Cargo.toml");
    let cargo = run_as(
        As::NobodyHidden,
        "xx-cargo",
        &["build", "--manifest-path", manifest.to_str().unwrap()],
        &env,
        &binds,
    );
    assert_eq!(cargo.code, 0, "xx-cargo build: {}", cargo.stderr);
    let bin = project.join("target/aarch64-unknown-linux-gnu/debug/zlib-crate");
    let dynamic = Command::new("readelf")
        .arg("-d")
        .arg(&bin)
        .output()
        .unwrap();
    let dynamic = String::from_utf8_lossy(&dynamic.stdout);
    assert!(
        dynamic.contains("[libz.so.1]"),
        "libz-sys linked the sysroot's zlib, not its own copy:\n{dynamic}"
    );
    assert_runs_zlib(&bin, &env, &binds);

    // The distribution's Rust: its arm64 std from the archive into a private sysroot
    // (rust-std), never through dpkg.
    if !Path::new("/usr/bin/cargo").exists() || !require_tools(&["dpkg-query"]) {
        skip("no distribution cargo in /usr/bin (scripts/setup-test-deps installs cargo-web)");
        return;
    }
    env.extend([
        ("XX_CARGO_TOOLCHAIN".to_string(), "distro".to_string()),
        (
            "CARGO_TARGET_DIR".into(),
            project.join("target-distro").display().to_string(),
        ),
        ("XX_DEBIAN_MIRROR".into(), server.url.clone()),
        ("XX_DEBIAN_SUITE".into(), archive.suite.clone()),
        (
            "XX_DEBIAN_KEYRING".into(),
            crate::deb_archive::signer(true)
                .keyring
                .display()
                .to_string(),
        ),
        // A user's RUSTFLAGS, which cargo reads before the target's flags: the managed
        // std must still be found.
        ("RUSTFLAGS".into(), "-C debuginfo=1".into()),
    ]);
    let distro = run_as(
        As::NobodyHidden,
        "xx-cargo",
        &["build", "--manifest-path", manifest.to_str().unwrap()],
        &env,
        &binds,
    );
    assert_eq!(
        distro.code, 0,
        "xx-cargo build with the distribution's Rust: {}",
        distro.stderr
    );
    assert!(
        !distro.stderr.contains("trying xx-apt"),
        "{}",
        distro.stderr
    );
    let bin = project.join("target-distro/aarch64-unknown-linux-gnu/debug/zlib-crate");
    assert_runs_zlib(&bin, &env, &binds);
    let home = area.path("home/toolchains/rust-std/arm64");
    assert!(
        home.join(".xx/sysroot.json").is_file(),
        "the std is a managed toolchain"
    );
}

#[test]
fn unprivileged_toolchain_install_then_a_build_with_no_clang_or_qemu_on_path() {
    if !is_root() {
        skip("needs root to drop to nobody and hide the host's foreign libraries");
        return;
    }
    if !require_tools(&["readelf", "setpriv", "unshare"]) {
        return;
    }
    let Some(archive) = Archive::with_real(&["arm64", "amd64"]) else {
        return;
    };
    archive.publish();
    let server = Server::start(archive.dir.path());
    let area = Area::new();
    std::fs::create_dir_all(area.path("empty-bin")).unwrap();
    std::fs::write(area.path("out/z.c"), ZLIB_PROGRAM).unwrap();
    area.give_to(NOBODY);
    let mut env = area.env();
    env.extend([
        (
            "PATH".to_string(),
            format!(
                "{}:{}",
                bin_dir().display(),
                area.path("empty-bin").display()
            ),
        ),
        ("XX_DEBIAN_MIRROR".into(), server.url.clone()),
        ("XX_DEBIAN_SUITE".into(), archive.suite.clone()),
        (
            "XX_DEBIAN_KEYRING".into(),
            crate::deb_archive::signer(true)
                .keyring
                .display()
                .to_string(),
        ),
    ]);
    let nobody = |program: &str, args: &[&str], extra: &[(&str, &str)]| {
        let mut env = env.clone();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        run_as(As::NobodyHidden, program, args, &env, &[])
    };
    let installed = nobody(&xx(), &["toolchain", "install", "llvm", "qemu", "-q"], &[]);
    assert_eq!(installed.code, 0, "{}", installed.stderr);
    assert_eq!(installed.stdout.lines().count(), 2, "{}", installed.stdout);
    let listed = nobody(&xx(), &["toolchain", "list"], &[]);
    assert!(
        listed
            .stdout
            .lines()
            .any(|l| l.starts_with("llvm") && l.contains("amd64")),
        "{}",
        listed.stdout
    );
    let path = nobody(&xx(), &["toolchain", "path", "qemu"], &[]);
    assert!(
        Path::new(path.stdout.trim())
            .join("usr/bin/qemu-aarch64-static")
            .is_file(),
        "{}",
        path.stdout
    );

    let built = nobody(
        &xx(),
        &["sysroot", "--platform", "linux/arm64", "zlib1g-dev", "-q"],
        &[],
    );
    assert_eq!(built.code, 0, "{}", built.stderr);
    let bin = area.path("out/z");
    let cc = nobody(
        "xx-clang",
        &[
            "-o",
            bin.to_str().unwrap(),
            area.path("out/z.c").to_str().unwrap(),
            "-lz",
            "-lm",
        ],
        &[("TARGETPLATFORM", "linux/arm64")],
    );
    assert_eq!(cc.code, 0, "xx-clang with the managed llvm: {}", cc.stderr);
    let dynamic = Command::new("readelf")
        .arg("-d")
        .arg(&bin)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&dynamic.stdout).contains("[libz.so.1]"));
    let ran = nobody(&xx(), &["run", bin.to_str().unwrap(), "x"], &[]);
    assert_eq!(ran.code, 3, "{}", ran.stderr);
    assert!(ran.stdout.starts_with("zlib 1."), "{}", ran.stdout);

    let doctor = nobody(&xx(), &["doctor", "--platform", "linux/arm64"], &[]);
    let row = doctor
        .stdout
        .lines()
        .find(|l| l.starts_with("linux/arm64"))
        .unwrap_or("");
    assert_eq!(
        row.matches('✓').count(),
        5,
        "all but rust-std found:\n{}",
        doctor.stdout
    );

    let removed = nobody(&xx(), &["toolchain", "remove", "qemu"], &[]);
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    let no_qemu = nobody(&xx(), &["run", bin.to_str().unwrap()], &[]);
    assert_ne!(no_qemu.code, 0);
    assert!(
        no_qemu.stderr.contains("xx toolchain install qemu"),
        "{}",
        no_qemu.stderr
    );
}

#[test]
fn doctor_names_the_fix_for_each_gap() {
    let area = Area::new();
    let mut env = area.env();
    env.push(("PATH".into(), area.path("out").display().to_string()));
    let out = run_as(
        As::Me,
        &xx(),
        &["doctor", "--platform", "linux/mips64le", "--json"],
        &env,
        &[],
    );
    assert_eq!(out.code, 1, "something is missing: {}", out.stderr);
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let row = &rows[0];
    assert_eq!(row["platform"], "linux/mips64le");
    assert_eq!(row["cc"]["fix"], "xx toolchain install llvm");
    assert_eq!(row["libc"]["fix"], "xx sysroot --platform linux/mips64le");
    assert_eq!(row["qemu"]["fix"], "xx toolchain install qemu");
    let table = run_as(
        As::Me,
        &xx(),
        &["doctor", "--platform", "linux/mips64le"],
        &env,
        &[],
    );
    assert!(
        table
            .stdout
            .contains("✗ linux/mips64le libc: xx sysroot --platform linux/mips64le"),
        "{}",
        table.stdout
    );
}

/// An archive with the real arm64 packages, published, served, and a scratch area.
fn setup() -> Option<(Archive, Area)> {
    let archive = Archive::with_real(&["arm64"])?;
    archive.publish();
    Some((archive, Area::new()))
}

/// The refusal: one `xx: ` error line naming `needle`, a non-zero exit, no sysroot, nothing
/// under `outside`, no scratch left next to the sysroot.
fn assert_refused(area: &Area, out: &Checked, needle: &str) {
    assert_ne!(out.code, 0, "accepted: {}", out.stderr);
    let first = out.stderr.lines().next().unwrap_or("");
    assert!(
        first.starts_with("xx: ") && out.stderr.contains(needle),
        "wanted an error naming {needle:?}, got:\n{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(
        area.outside_entries(),
        Vec::<String>::new(),
        "something was written outside"
    );
    let left: Vec<String> = walk(&area.path("out"))
        .into_iter()
        .filter(|p| !p.ends_with(".lock"))
        .collect();
    assert_eq!(
        left,
        Vec::<String>::new(),
        "half a sysroot or scratch left behind"
    );
}

/// `xx run BIN` as the unprivileged user prints the zlib version it linked.
fn assert_runs_zlib(bin: &Path, env: &[(String, String)], binds: &[(PathBuf, PathBuf)]) {
    let ran = run_as(
        As::NobodyHidden,
        &xx(),
        &["run", bin.to_str().unwrap()],
        env,
        binds,
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout.starts_with("zlib 1."), "{}", ran.stdout);
}

/// A proxy in front of the test archive whose first answer for zlib1g-dev's `.deb`
/// gets `kind`.
fn faulty_mirror(
    server: &Server,
    kind: crate::fault_proxy::FaultKind,
) -> crate::fault_proxy::FaultProxy {
    crate::fault_proxy::FaultProxy::start(
        &server.addr,
        false,
        vec![crate::fault_proxy::Fault {
            method: "GET",
            path_contains: "zlib1g-dev_",
            kind,
            times: 1,
        }],
    )
}

/// `xx sysroot … zlib1g-dev` into the area's sysroot, from the archive through `proxy`.
fn zlib_through(proxy: &crate::fault_proxy::FaultProxy, area: &Area) -> Vec<String> {
    let keyring = crate::deb_archive::signer(true)
        .keyring
        .display()
        .to_string();
    [
        "sysroot",
        "--platform",
        "linux/arm64",
        "-q",
        "zlib1g-dev",
        "--suite",
        "xx-test",
        "--keyring",
        &keyring,
        "--mirror",
        &format!("http://{}", proxy.addr),
        "--dir",
        &dir_arg(area),
    ]
    .map(String::from)
    .to_vec()
}

fn dir_arg(area: &Area) -> String {
    area.path("out/sysroot").display().to_string()
}

#[test]
fn a_tampered_deb_is_refused_by_its_hash() {
    let Some((archive, area)) = setup() else {
        return;
    };
    let pool = archive.pool_file("arm64", "zlib1g-dev");
    let mut bytes = std::fs::read(&pool).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::remove_file(&pool).unwrap();
    std::fs::write(&pool, bytes).unwrap();
    let server = Server::start(archive.dir.path());
    let out = sysroot(
        &area,
        &archive,
        &server,
        &["--dir", &dir_arg(&area), "zlib1g-dev"],
    );
    assert_refused(&area, &out, "zlib1g-dev");
    assert!(
        out.stderr.contains("sha256") || out.stderr.contains("SHA256"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_tampered_packages_index_is_refused_by_the_release_hash() {
    let Some((archive, area)) = setup() else {
        return;
    };
    let index = archive
        .dir
        .path()
        .join("dists/xx-test/main/binary-arm64/Packages");
    let text = std::fs::read_to_string(&index)
        .unwrap()
        .replace("Package: zlib1g-dev", "Package: zlib1g-dev\nX-Evil: 1");
    std::fs::write(&index, text).unwrap();
    let xz = Command::new("xz")
        .args(["-k", "-f"])
        .arg(&index)
        .status()
        .unwrap();
    assert!(xz.success());
    let server = Server::start(archive.dir.path());
    let out = sysroot(&area, &archive, &server, &["--dir", &dir_arg(&area)]);
    assert_refused(&area, &out, "Packages");
}

#[test]
fn signatures_fail_closed() {
    let Some((archive, area)) = setup() else {
        return;
    };
    let server = Server::start(archive.dir.path());
    archive.publish_as(Signing::OtherKey, "xx-test");
    let out = sysroot(&area, &archive, &server, &["--dir", &dir_arg(&area)]);
    assert_refused(&area, &out, "signature");

    archive.publish_as(Signing::Unsigned, "xx-test");
    let out = sysroot(&area, &archive, &server, &["--dir", &dir_arg(&area)]);
    assert_refused(&area, &out, "--allow-unsigned");
    let out = sysroot(
        &area,
        &archive,
        &server,
        &["--dir", &dir_arg(&area), "--allow-unsigned"],
    );
    assert_eq!(
        out.code, 0,
        "--allow-unsigned takes an unsigned Release: {}",
        out.stderr
    );

    std::fs::remove_dir_all(area.path("out/sysroot")).unwrap();
    archive.publish_as(Signing::Good, "elsewhere");
    let out = sysroot(&area, &archive, &server, &["--dir", &dir_arg(&area)]);
    assert_refused(&area, &out, "elsewhere");
}

/// Requests the real set plus one crafted package (`aaa-evil`, extracted first).
fn crafted(entries: &[Vec<u8>], needle: &str) {
    let Some((mut archive, area)) = setup() else {
        return;
    };
    archive.add("arm64", "aaa-evil", "1.0", "", &deb_with(entries));
    archive.publish();
    let server = Server::start(archive.dir.path());
    let out = sysroot(
        &area,
        &archive,
        &server,
        &["--dir", &dir_arg(&area), "aaa-evil"],
    );
    assert_refused(&area, &out, needle);
}

/// The outside dir of an area made for a crafted case (one per test process is enough:
/// every crafted test checks its own area, and this path is under none of them).
fn outside_path() -> String {
    let dir = std::env::temp_dir().join(format!("xx-test-outside-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.display().to_string()
}

fn assert_outside_untouched() {
    let dir = outside_path();
    assert_eq!(
        walk(Path::new(&dir)),
        Vec::<String>::new(),
        "written through into {dir}"
    );
}

#[test]
fn a_data_tar_climbing_out_is_refused() {
    crafted(
        &[tar_entry("./../../../evil", b'0', "", b"x", 0o644)],
        "aaa-evil",
    );
}

#[test]
fn an_absolute_name_is_refused() {
    let target = format!("{}/abs", outside_path());
    crafted(&[tar_entry(&target, b'0', "", b"x", 0o644)], "aaa-evil");
    assert_outside_untouched();
}

#[test]
fn a_file_through_a_planted_symlink_is_refused() {
    // Absolute and relative escapes, then a file written through the link.
    let outside = outside_path();
    crafted(
        &[
            tar_entry("./usr/", b'5', "", b"", 0o755),
            tar_entry("./usr/esc", b'2', &outside, b"", 0o777),
            tar_entry("./usr/esc/pwned", b'0', "", b"x", 0o644),
        ],
        "aaa-evil",
    );
    crafted(
        &[
            tar_entry("./usr/", b'5', "", b"", 0o755),
            tar_entry(
                "./usr/up",
                b'2',
                "../../../../../../../../../..",
                b"",
                0o777,
            ),
            tar_entry(&format!("./usr/up{outside}/pwned"), b'0', "", b"x", 0o644),
        ],
        "aaa-evil",
    );
    assert_outside_untouched();
}

#[test]
fn a_symlink_from_one_package_and_a_file_from_another_is_refused() {
    let Some((mut archive, area)) = setup() else {
        return;
    };
    let outside = outside_path();
    archive.add(
        "arm64",
        "aaa-link",
        "1.0",
        "",
        &deb_with(&[tar_entry("./usr/share/esc", b'2', &outside, b"", 0o777)]),
    );
    archive.add(
        "arm64",
        "aab-write",
        "1.0",
        "aaa-link",
        &deb_with(&[tar_entry("./usr/share/esc/pwned", b'0', "", b"x", 0o644)]),
    );
    archive.publish();
    let server = Server::start(archive.dir.path());
    let out = sysroot(
        &area,
        &archive,
        &server,
        &["--dir", &dir_arg(&area), "aab-write"],
    );
    assert_refused(&area, &out, "aab-write");
    assert_outside_untouched();
}

#[test]
fn a_hardlink_to_outside_and_a_device_node_are_refused() {
    crafted(
        &[tar_entry("./usr/passwd", b'1', "/etc/passwd", b"", 0o644)],
        "aaa-evil",
    );
    crafted(
        &[tar_entry(
            "./usr/passwd",
            b'1',
            "../../etc/passwd",
            b"",
            0o644,
        )],
        "aaa-evil",
    );
    crafted(&[tar_entry("./dev/mem2", b'3', "", b"", 0o666)], "aaa-evil");
}

#[test]
fn setuid_bits_are_dropped_and_absolute_symlinks_made_relative() {
    let Some((mut archive, area)) = setup() else {
        return;
    };
    archive.add(
        "arm64",
        "aaa-modes",
        "1.0",
        "",
        &deb_with(&[
            tar_entry("./usr/", b'5', "", b"", 0o755),
            tar_entry("./usr/bin/", b'5', "", b"", 0o755),
            tar_entry("./usr/bin/su2", b'0', "", b"#!/bin/sh\n", 0o4755),
        ]),
    );
    archive.publish();
    let server = Server::start(archive.dir.path());
    let out = sysroot(
        &area,
        &archive,
        &server,
        &["--dir", &dir_arg(&area), "aaa-modes"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    use std::os::unix::fs::PermissionsExt;
    let root = area.path("out/sysroot");
    let mode = std::fs::metadata(root.join("usr/bin/su2"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o755, "setuid dropped");
    // libc6-dev ships libm.so as an absolute link; lld must find libm.so.6 through it.
    let libm = std::fs::read_link(root.join("usr/lib/aarch64-linux-gnu/libm.so")).unwrap();
    assert!(libm.is_relative(), "{libm:?}");
    assert!(root.join("usr/lib/aarch64-linux-gnu/libm.so").exists());
    for link in ["lib", "bin", "sbin"] {
        assert_eq!(
            std::fs::read_link(root.join(link)).unwrap(),
            Path::new("usr").join(link)
        );
    }
}

#[test]
fn a_download_cut_midway_is_retried() {
    let Some((archive, area)) = setup() else {
        return;
    };
    let server = Server::start(archive.dir.path());
    let proxy = faulty_mirror(&server, crate::fault_proxy::FaultKind::DropMidBody);
    let args = zlib_through(&proxy, &area);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_as(As::Me, &xx(), &args, &area.env(), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        proxy.log.lock().unwrap().injected.len(),
        1,
        "the cut happened"
    );
    assert!(area.path("out/sysroot/usr/include/zlib.h").is_file());
}

#[test]
fn a_run_killed_mid_extraction_leaves_the_old_sysroot_and_the_next_run_completes() {
    let Some((archive, area)) = setup() else {
        return;
    };
    let server = Server::start(archive.dir.path());
    let first = sysroot(&area, &archive, &server, &["--dir", &dir_arg(&area)]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let stamp = std::fs::read(area.path("out/sysroot/.xx/sysroot.json")).unwrap();
    // zlib1g-dev, last in name order, stalls halfway: the run cannot end before the
    // packages before it are unpacked and it is caught mid-extraction.
    let proxy = faulty_mirror(&server, crate::fault_proxy::FaultKind::StallMidBody);
    let args = zlib_through(&proxy, &area);
    let mut child = hermetic(Path::new(&xx()), &std::env::temp_dir())
        .args(&args)
        .envs(area.env())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed as soon as its scratch tree holds files.
    let start = std::time::Instant::now();
    let mut killed = false;
    while start.elapsed() < LIMIT && child.try_wait().unwrap().is_none() {
        let scratch = std::fs::read_dir(area.path("out"))
            .unwrap()
            .flatten()
            // The scratch tree, not the sysroot's lock file beside it.
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .find(|e| e.file_name().to_string_lossy().starts_with(".sysroot."));
        if scratch.is_some_and(|s| s.path().join("usr/include").exists()) {
            child.kill().unwrap();
            killed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.wait();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    assert!(
        killed,
        "the run ended before it could be killed mid-extraction: {stderr}"
    );
    assert_eq!(
        std::fs::read(area.path("out/sysroot/.xx/sysroot.json")).unwrap(),
        stamp,
        "the old sysroot is intact"
    );
    let again = sysroot(
        &area,
        &archive,
        &server,
        &["--dir", &dir_arg(&area), "zlib1g-dev"],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(area.path("out/sysroot/usr/include/zlib.h").is_file());
    let names: Vec<String> = std::fs::read_dir(area.path("out"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert_eq!(
        names,
        vec!["sysroot".to_string()],
        "the killed run's scratch is cleaned up"
    );
}

#[test]
fn eight_concurrent_runs_end_with_one_consistent_sysroot() {
    let Some((archive, area)) = setup() else {
        return;
    };
    let server = Server::start(archive.dir.path());
    let mut args: Vec<String> = vec![
        "sysroot".into(),
        "--platform".into(),
        "linux/arm64".into(),
        "zlib1g-dev".into(),
    ];
    args.extend(archive.args(&server));
    args.extend(["--dir".into(), dir_arg(&area)]);
    let children: Vec<_> = (0..8)
        .map(|_| {
            hermetic(Path::new(&xx()), &std::env::temp_dir())
                .args(&args)
                .envs(area.env())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for out in &outs {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), dir_arg(&area));
    }
    let waited = outs
        .iter()
        .filter(|o| String::from_utf8_lossy(&o.stderr).contains("waiting for"))
        .count();
    assert!(waited >= 1, "the others said what they waited for");
    assert!(area.path("out/sysroot/usr/include/zlib.h").is_file());
    let names: Vec<String> = std::fs::read_dir(area.path("out"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert_eq!(names, vec!["sysroot".to_string()]);
}

/// Every path, mode, size and content hash (symlink targets for links) under `root`.
fn tree_digest(root: &Path) -> Vec<String> {
    use sha2::Digest as _;
    use std::os::unix::fs::PermissionsExt;
    // xx's stamp says how the tree was asked for (named packages or --locked).
    walk(root)
        .into_iter()
        .filter(|p| !p.ends_with(".xx/sysroot.json"))
        .map(|p| {
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let rel = p
                .strip_prefix(&root.display().to_string())
                .unwrap_or(&p)
                .to_string();
            let what = if meta.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else if meta.is_file() {
                crate::deb_archive::hex(&sha2::Sha256::digest(std::fs::read(&p).unwrap()))
            } else {
                String::new()
            };
            format!("{rel} {:o} {what}", meta.permissions().mode())
        })
        .collect()
}

#[test]
fn a_lock_rebuilds_the_same_tree_and_drift_is_named() {
    let Some((mut archive, area)) = setup() else {
        return;
    };
    let server = Server::start(archive.dir.path());
    let lock = area.path("xx-sysroot.lock").display().to_string();
    let a = area.path("out/a").display().to_string();
    let b = area.path("out/b").display().to_string();
    let c = area.path("out/c").display().to_string();
    let first = sysroot(
        &area,
        &archive,
        &server,
        &["--dir", &a, "--lock", &lock, "zlib1g-dev"],
    );
    assert_eq!(first.code, 0, "{}", first.stderr);
    let text = std::fs::read_to_string(&lock).unwrap();
    assert!(
        text.contains("\"zlib1g-dev\"")
            && text.contains("\"sha256\"")
            && text.contains("Sat, 01 Jan 2022"),
        "{text}"
    );
    let second = sysroot(
        &area,
        &archive,
        &server,
        &["--dir", &b, "--lock", &lock, "--locked"],
    );
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(
        tree_digest(Path::new(&a)),
        tree_digest(Path::new(&b)),
        "same lock, same tree"
    );

    let version = archive.field("arm64", "zlib1g-dev", "Version");
    archive.set_field(
        "arm64",
        "zlib1g-dev",
        "Version",
        &format!("{version}+drift1"),
    );
    archive.publish();
    let drifted = sysroot(
        &area,
        &archive,
        &server,
        &["--dir", &c, "--lock", &lock, "--locked"],
    );
    assert_ne!(drifted.code, 0);
    assert!(
        drifted.stderr.starts_with("xx: ")
            && drifted.stderr.contains("zlib1g-dev")
            && drifted.stderr.contains("drifted"),
        "{}",
        drifted.stderr
    );
    assert!(!Path::new(&c).exists());
}

#[test]
fn print_plan_says_what_and_why_from_the_hosts_apt_sources() {
    if !Path::new("/etc/apt").is_dir() {
        skip("no apt configuration on this machine");
        return;
    }
    let area = Area::new();
    let out = run_as(
        As::Me,
        &xx(),
        &[
            "sysroot",
            "--platform",
            "linux/arm64",
            "--print-plan",
            "zlib1g-dev",
        ],
        &area.env(),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    for name in ["libc6-dev", "linux-libc-dev", "zlib1g-dev", "zlib1g "] {
        assert!(
            out.stdout.contains(name),
            "plan lacks {name}:\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout.contains("requested") && out.stdout.contains("Depends"),
        "{}",
        out.stdout
    );
}

#[test]
fn no_download_makes_xx_clang_name_the_command_and_run_names_qemu() {
    let area = Area::new();
    std::fs::write(area.path("out/x.c"), "int main(void) { return 0; }\n").unwrap();
    let mut env = area.env();
    env.extend([
        ("TARGETPLATFORM".to_string(), "linux/mips64le".to_string()),
        ("XX_NO_DOWNLOAD".into(), "1".into()),
    ]);
    let out = run_as(
        As::Me,
        "xx-clang",
        &["-c", area.path("out/x.c").to_str().unwrap()],
        &env,
        &[],
    );
    if require_tools(&["clang"]) {
        assert_ne!(out.code, 0);
        assert!(
            out.stderr.contains("XX_NO_DOWNLOAD=1")
                && out.stderr.contains("xx sysroot --platform linux/mips64le"),
            "{}",
            out.stderr
        );
    }
    let mut env = area.env();
    env.push(("PATH".into(), area.path("out").display().to_string()));
    let out = run_as(
        As::Me,
        &xx(),
        &["run", "--platform", "linux/riscv64", "/bin/true"],
        &env,
        &[],
    );
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("qemu-riscv64 not found") && out.stderr.contains("help:"),
        "{}",
        out.stderr
    );
}
