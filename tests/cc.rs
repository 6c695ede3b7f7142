//! xx-cc family on real code: hello C and C++ (dynamic and static) for seven Linux
//! targets with each backend the machine has, verified by xx-verify and run under qemu;
//! xx's flags; concurrent setup; a real C library (zlib, fetched from the crates
//! registry) built with the generated CMake toolchain file and tested under qemu.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{
    bin_dir, has_zig, require_tool, require_tools, run, which, Checked, Run, CROSS_TARGETS,
};

const HELLO_C: &str = "#include <stdio.h>\n#include <sys/utsname.h>\n\
    int main(void) { struct utsname u; uname(&u); printf(\"c %s\\n\", u.machine); return 0; }\n";
const HELLO_CXX: &str = "#include <iostream>\n#include <sys/utsname.h>\n\
    int main() { struct utsname u; uname(&u); std::cout << \"c++ \" << u.machine << std::endl; }\n";

/// A workspace with sources and a private prefix (never /usr/bin).
struct Work {
    dir: tempfile::TempDir,
    /// `uname -m` as xx sees it, for tests whose expectations name the host (amd64).
    host_march: Option<&'static str>,
}

impl Work {
    fn new() -> Work {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("hello.c"), HELLO_C).unwrap();
        std::fs::write(dir.path().join("hello.cc"), HELLO_CXX).unwrap();
        Work {
            dir,
            host_march: None,
        }
    }

    /// A workspace where xx takes the machine for x86_64, whatever it is.
    fn on_amd64() -> Work {
        Work {
            host_march: Some("x86_64"),
            ..Work::new()
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn prefix(&self) -> PathBuf {
        self.path("prefix")
    }

    /// `xx-NAME args` for a platform, with the prefix on PATH (as `--print-env` says).
    fn run(&self, name: &str, platform: &str, args: &[&str], env: &[(&str, &str)]) -> Checked {
        let prefix = self.prefix().to_string_lossy().into_owned();
        let path = format!(
            "{prefix}:{}:{}",
            bin_dir().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut r = Run::new(name, args)
            .env("TARGETPLATFORM", platform)
            .env("XX_PREFIX", &prefix)
            .env("PATH", &path)
            .envs(env);
        if let Some(march) = self.host_march {
            r = r.env("XX_HOST_MARCH", march);
        }
        r.cwd = Some(self.dir.path().to_path_buf());
        run(&r)
    }
}

fn have_cross_toolchains(tool: &str) -> bool {
    require_tool(tool)
        && require_tool("ld.lld")
        && CROSS_TARGETS.iter().all(|(_, gnu, qemu, _)| {
            require_tool(&format!("{gnu}-gcc"))
                && require_tool(&format!("{gnu}-g++"))
                && require_tool(qemu)
        })
}

/// Runs a target binary under qemu with the Debian cross libc as its root.
fn qemu_output(qemu: &str, gnu: &str, binary: &Path) -> String {
    let out = Command::new(qemu)
        .arg("-L")
        .arg(format!("/usr/{gnu}"))
        .arg(binary)
        .output()
        .expect("run qemu");
    assert!(out.status.success(), "{qemu} {}: {out:?}", binary.display());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn hello_everywhere(backend: &str) {
    let w = Work::new();
    for (platform, gnu, qemu, uname) in CROSS_TARGETS {
        for (lang, source, compiler, label) in [
            ("c", "hello.c", "xx-clang", "c"),
            ("cxx", "hello.cc", "xx-clang++", "c++"),
        ] {
            for link in ["dynamic", "static"] {
                let out = w.path(&format!("{backend}-{lang}-{link}-{}", gnu));
                let out_s = out.to_string_lossy().into_owned();
                let mut args = vec!["-O2", "-o", &out_s, source];
                if link == "static" {
                    args.push("-static");
                }
                let r = w.run(compiler, platform, &args, &[("XX_CC_COMPILER", backend)]);
                assert_eq!(
                    r.code, 0,
                    "{backend} {compiler} {platform} {link}: {}",
                    r.stderr
                );
                let mut verify = vec!["--strict", out_s.as_str()];
                if link == "static" {
                    verify.insert(0, "--static");
                }
                let v = w.run("xx-verify", platform, &verify, &[]);
                assert_eq!(
                    v.code, 0,
                    "{backend} {platform} {link} {lang}: {}",
                    v.stderr
                );
                assert_eq!(
                    qemu_output(qemu, gnu, &out),
                    format!("{label} {uname}"),
                    "{backend} {platform} {link}"
                );
            }
        }
    }
}

#[test]
fn clang_backend_hello_c_and_cxx_for_seven_targets() {
    if have_cross_toolchains("clang") {
        hello_everywhere("clang");
    }
}

#[test]
fn gcc_backend_hello_c_and_cxx_for_seven_targets() {
    if have_cross_toolchains("gcc") {
        hello_everywhere("gcc");
    }
}

/// The zig backend for every target (dynamic glibc: zig cannot link glibc statically,
/// which is one clear error), verified strictly and run under qemu; on arm64 it pins
/// glibc 2.17, and xx-verify --max-glibc proves it.
#[test]
fn zig_backend_for_seven_targets_and_glibc_pinning() {
    if !has_zig() || !require_tools(&["qemu-aarch64", "qemu-arm", "qemu-riscv64"]) {
        return;
    }
    let w = Work::new();
    for (platform, gnu, qemu, uname) in CROSS_TARGETS {
        let out = w.path(&format!("zig-{gnu}")).to_string_lossy().into_owned();
        let r = w.run(
            "xx-clang",
            platform,
            &["-O2", "-o", &out, "hello.c"],
            &[("XX_CC_COMPILER", "zig")],
        );
        assert_eq!(r.code, 0, "zig {platform}: {}", r.stderr);
        let v = w.run("xx-verify", platform, &["--strict", &out], &[]);
        assert_eq!(v.code, 0, "zig {platform}: {}", v.stderr);
        assert_eq!(
            qemu_output(qemu, gnu, Path::new(&out)),
            format!("c {uname}"),
            "zig {platform}"
        );
    }
    let out = w.path("zig-217").to_string_lossy().into_owned();
    let env = [("XX_CC_COMPILER", "zig"), ("XX_GLIBC_VERSION", "2.17")];
    let r = w.run(
        "xx-clang",
        "linux/arm64",
        &["-O2", "-o", &out, "hello.c"],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = w.run(
        "xx-verify",
        "linux/arm64",
        &["--max-glibc", "2.17", &out],
        &[],
    );
    assert_eq!(v.code, 0, "{}", v.stderr);
    let too_old = w.run(
        "xx-verify",
        "linux/arm64",
        &["--max-glibc", "2.16", &out],
        &[],
    );
    assert_eq!(too_old.code, 1, "a zig 2.17 build needs GLIBC_2.17");
    assert_eq!(
        qemu_output("qemu-aarch64", "aarch64-linux-gnu", Path::new(&out)),
        "c aarch64"
    );
    let r = w.run(
        "xx-clang",
        "linux/arm64",
        &["-static", "-o", &out, "hello.c"],
        &env,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("xx-clang: zig links glibc only dynamically\nhelp:"),
        "{}",
        r.stderr
    );
}

#[test]
fn xx_flags() {
    if !require_tools(&[
        "clang",
        "ld.lld",
        "riscv64-linux-gnu-ld",
        "powerpc64le-linux-gnu-ld",
        "aarch64-linux-gnu-ld",
        "arm-linux-gnueabihf-ld",
    ]) {
        return;
    }
    let w = Work::on_amd64();
    let prefix = w.prefix();
    let triple = w.run("xx-clang", "linux/arm64", &["--print-target-triple"], &[]);
    assert_eq!(
        (triple.stdout.as_str(), triple.code),
        ("aarch64-linux-gnu\n", 0),
        "{}",
        triple.stderr
    );
    // The files users `cat`, byte for byte as xx writes them: one line each.
    let cfg = |name: &str| std::fs::read_to_string(prefix.join(name)).unwrap();
    assert_eq!(
        cfg("aarch64-linux-gnu.cfg"),
        "--target=aarch64-linux-gnu -fuse-ld=lld\n"
    );
    // riscv64 and s390x link with bfd ld (lld 14 cannot), named by its path.
    let bfd = |gnu: &str| which(&format!("{gnu}-ld")).unwrap().display().to_string();
    let rv = w.run("xx-clang", "linux/riscv64", &["--setup-target-triple"], &[]);
    assert_eq!(rv.code, 0, "{}", rv.stderr);
    assert_eq!(
        cfg("riscv64-linux-gnu.cfg"),
        format!(
            "--target=riscv64-linux-gnu -fuse-ld={}\n",
            bfd("riscv64-linux-gnu")
        )
    );
    // XX_CC_PREFER_STATIC_LINKER moves ppc64le to bfd; XX_CC_PREFER_LINKER=ld does for any.
    let env = [("XX_CC_PREFER_STATIC_LINKER", "1")];
    w.run(
        "xx-clang",
        "linux/ppc64le",
        &["--setup-target-triple"],
        &env,
    );
    assert_eq!(
        cfg("powerpc64le-linux-gnu.cfg"),
        format!(
            "--target=powerpc64le-linux-gnu -fuse-ld={}\n",
            bfd("powerpc64le-linux-gnu")
        )
    );
    let env = [("XX_CC_PREFER_LINKER", "ld")];
    w.run("xx-clang", "linux/arm/v7", &["--setup-target-triple"], &env);
    assert_eq!(
        cfg("arm-linux-gnueabihf.cfg"),
        format!(
            "--target=arm-linux-gnueabihf -fuse-ld={}\n",
            bfd("arm-linux-gnueabihf")
        )
    );
    // Once written, a target's config stays (as xx's): a call preferring another linker
    // gets it on its own command line, and compiles that do not link get nothing.
    let r = w.run(
        "xx-clang",
        "linux/arm64",
        &["-###", "-o", "x", "hello.c"],
        &env,
    );
    assert_eq!(
        cfg("aarch64-linux-gnu.cfg"),
        "--target=aarch64-linux-gnu -fuse-ld=lld\n"
    );
    let ld = bfd("aarch64-linux-gnu");
    assert!(
        r.stderr.contains(&format!("\"{ld}\"")) && !r.stderr.contains("ld.lld\""),
        "{}",
        r.stderr
    );
    let r = w.run("xx-clang", "linux/arm64", &["-###", "-c", "hello.c"], &env);
    assert!(
        !r.stderr.contains(&format!("-fuse-ld={ld}")),
        "{}",
        r.stderr
    );
    // The machine's own target: xx-default.cfg beside it (/etc/llvm when the prefix is
    // /usr/bin), written once.
    let native = w.run("xx-clang", "linux/amd64", &["--setup-target-triple"], &[]);
    assert_eq!(native.code, 0, "{}", native.stderr);
    assert_eq!(
        cfg("x86_64-linux-gnu.cfg"),
        "--target=x86_64-linux-gnu -fuse-ld=lld\n"
    );
    assert_eq!(cfg("xx-default.cfg"), "-fuse-ld=lld\n");
    // darwin: ld64 and the SDK xx-info's sysroot names; windows: mingw's directories.
    w.run("xx-clang", "darwin/arm64", &["--setup-target-triple"], &[]);
    assert_eq!(
        cfg("arm64-apple-macos11.0.cfg"),
        "--target=arm64-apple-macos11.0 -fuse-ld=ld64 -isysroot /xx-sdk/MacOSX11.1.sdk -stdlib=libc++\n"
    );
    w.run("xx-clang", "windows/amd64", &["--setup-target-triple"], &[]);
    assert_eq!(
        cfg("x86_64-w64-mingw32.cfg"),
        "--target=x86_64-w64-mingw32 -fuse-ld=lld -I/usr/x86_64-w64-mingw32/include -L/usr/x86_64-w64-mingw32/lib\n"
    );
    // Alpine (a fake root): xx's sysroot `/<triple>/`, where xx-apk installs.
    let alpine = w.path("alpine-root");
    std::fs::create_dir_all(alpine.join("etc")).unwrap();
    std::fs::write(
        alpine.join("etc/os-release"),
        "ID=alpine\nVERSION_ID=3.19.1\n",
    )
    .unwrap();
    std::fs::write(alpine.join("etc/alpine-release"), "3.19.1\n").unwrap();
    let env = [
        ("XX_HOST_ROOT", alpine.to_str().unwrap()),
        ("XX_NO_DOWNLOAD", "1"),
    ];
    let r = w.run("xx-clang", "linux/arm64", &["--setup-target-triple"], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        cfg("aarch64-alpine-linux-musl.cfg"),
        "--target=aarch64-alpine-linux-musl -fuse-ld=lld --sysroot=/aarch64-alpine-linux-musl/\n"
    );
    // Cargo-style triples (xx-cargo's XX_VENDOR=unknown, riscv64gc) keep clang's spelling.
    let env = [
        ("XX_VENDOR", "unknown"),
        ("RISCV64_TARGET_ARCH", "riscv64gc"),
    ];
    let r = w.run(
        "xx-clang",
        "linux/riscv64",
        &["--print-target-triple"],
        &env,
    );
    assert_eq!(r.stdout, "riscv64-unknown-linux-gnu\n", "{}", r.stderr);
    assert!(prefix.join("riscv64gc-unknown-linux-gnu-clang").exists());
    // --target= and -target pick the target over the environment.
    let r = w.run(
        "xx-clang",
        "linux/arm64",
        &["--target=s390x-linux-gnu", "--print-target-triple"],
        &[],
    );
    assert_eq!(r.stdout, "s390x-linux-gnu\n", "{}", r.stderr);
    let defines = w.run("xx-clang", "linux/arm64", &["--print-cmake-defines"], &[]);
    assert_eq!(
        defines.stdout.trim_end(),
        format!(
            "-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_ASM_COMPILER=clang \
             -DPKG_CONFIG_EXECUTABLE={}/aarch64-linux-gnu-pkg-config -DCMAKE_C_COMPILER_TARGET=aarch64-linux-gnu \
             -DCMAKE_CXX_COMPILER_TARGET=aarch64-linux-gnu -DCMAKE_ASM_COMPILER_TARGET=aarch64-linux-gnu",
            prefix.display()
        )
    );
    assert_eq!(
        w.run("xx-clang", "linux/arm64", &["--print-sysroot"], &[])
            .stdout,
        "/\n"
    );
    // darwin: the SDK path as xx-cc prints it, without xx-info's trailing `/`.
    assert_eq!(
        w.run("xx-clang", "darwin/arm64", &["--print-sysroot"], &[])
            .stdout,
        "/xx-sdk/MacOSX11.1.sdk\n"
    );
    let ar = w.run("xx-clang", "linux/arm64", &["-print-prog-name=ar"], &[]);
    assert_eq!(
        ar.stdout.trim_end(),
        prefix.join("aarch64-linux-gnu-ar").display().to_string()
    );
    let autotools = w.run("xx-clang", "linux/arm64", &["--print-autotools-env"], &[]);
    assert!(
        autotools.stdout.starts_with("--host=aarch64-linux-gnu CC="),
        "{}",
        autotools.stdout
    );
    let env_line = w.run("xx-clang", "linux/arm64", &["--print-env"], &[]);
    assert_eq!(
        env_line.stdout.trim_end(),
        format!("export PATH=\"{}:$PATH\"", prefix.display())
    );
    // The aliases work on their own, as autotools and cmake call them.
    let out = w.path("alias-out").to_string_lossy().into_owned();
    let alias = Command::new(prefix.join("aarch64-linux-gnu-clang"))
        .args(["-o", &out, "hello.c"])
        .current_dir(w.dir.path())
        .output()
        .unwrap();
    assert!(alias.status.success(), "{alias:?}");
    assert_eq!(w.run("xx-verify", "linux/arm64", &[&out], &[]).code, 0);
    // … with no XX_PREFIX at all (make/cmake call them so): the alias's own directory is
    // the prefix, and nothing is written to the default prefix (/usr/bin as root in a
    // container).
    let default_cfg = Path::new("/usr/bin/riscv64-linux-gnu.cfg");
    let existed = default_cfg.exists();
    let alias = Command::new(prefix.join("riscv64gc-unknown-linux-gnu-clang"))
        .args(["-c", "-o", "rv.o", "hello.c"])
        .current_dir(w.dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(
        alias.status.success(),
        "explicit riscv64gc is spelled riscv64 for clang: {alias:?}"
    );
    assert_eq!(
        default_cfg.exists(),
        existed,
        "an alias wrote into the default prefix"
    );
    // A --target that is not a triple never names a file.
    let bad = w.run(
        "xx-clang",
        "linux/arm64",
        &["--target=../arm64", "--print-target-triple"],
        &[],
    );
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("not a target triple"), "{}", bad.stderr);
    // A loop back into xx stops.
    let deep = w.run(
        "xx-clang",
        "linux/arm64",
        &["-c", "hello.c"],
        &[("XX_CC_DEPTH", "3")],
    );
    assert_eq!(deep.code, 1);
    assert!(deep.stderr.contains("leads back to xx"), "{}", deep.stderr);
    // --config is passed to clang untouched (no --target of ours).
    let cfg_file = w.path("my.cfg");
    std::fs::write(&cfg_file, "--target=s390x-linux-gnu\n").unwrap();
    let r = w.run(
        "xx-clang",
        "linux/arm64",
        &[
            "--config",
            cfg_file.to_str().unwrap(),
            "-print-effective-triple",
        ],
        &[],
    );
    assert_eq!(
        r.stdout.trim_end(),
        "s390x-unknown-linux-gnu",
        "{}",
        r.stderr
    );
    // --wrap makes plain `clang` in the prefix xx-clang; --unwrap removes it.
    assert_eq!(w.run("xx-clang", "linux/arm64", &["--wrap"], &[]).code, 0);
    let wrapped = Command::new(prefix.join("clang"))
        .arg("-print-effective-triple")
        .env("TARGETPLATFORM", "linux/arm64")
        .env("XX_PREFIX", &prefix)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&wrapped.stdout).trim(),
        "aarch64-unknown-linux-gnu"
    );
    assert_eq!(w.run("xx-clang", "linux/arm64", &["--unwrap"], &[]).code, 0);
    assert!(!prefix.join("clang").exists());
    // A clang that is not ours is never replaced, nor removed.
    std::os::unix::fs::symlink("/bin/true", prefix.join("clang")).unwrap();
    let refused = w.run("xx-clang", "linux/arm64", &["--wrap"], &[]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("is not xx's"), "{}", refused.stderr);
    assert_eq!(w.run("xx-clang", "linux/arm64", &["--unwrap"], &[]).code, 0);
    assert_eq!(
        std::fs::read_link(prefix.join("clang")).unwrap(),
        Path::new("/bin/true")
    );
}

#[test]
fn unsupported_target_and_missing_linker_are_one_clear_line() {
    if !require_tool("clang") {
        return;
    }
    let w = Work::new();
    let r = w.run("xx-clang", "linux/ppc64", &["-c", "hello.c"], &[]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "unsupported target: os=linux arch=ppc64 variant=\n"
    );
    // No ld.lld and no loongarch64-linux-gnu-ld here: xx's message, then the fix.
    let empty = w.path("emptybin");
    std::fs::create_dir_all(&empty).unwrap();
    let clang_dir = Path::new("/usr/bin").to_string_lossy().into_owned();
    let only_clang = w.path("onlyclang");
    std::fs::create_dir_all(&only_clang).unwrap();
    std::os::unix::fs::symlink(format!("{clang_dir}/clang"), only_clang.join("clang")).unwrap();
    let path = format!("{}:{}", bin_dir().display(), only_clang.display());
    let r = w.run(
        "xx-clang",
        "linux/loong64",
        &["--setup-target-triple"],
        &[("PATH", &path)],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with(
            "no suitable linker found for loongarch64-linux-gnu. Please install lld or ld for your target\nhelp: apt-get install binutils-loongarch64-linux-gnu"
        ),
        "{}",
        r.stderr
    );
}

/// Without clang, xx-clang fails as xx does (its line, unprefixed), then names the fix;
/// the gcc backend still works when chosen.
#[test]
fn without_clang_xx_clang_fails_as_xx_and_gcc_is_chosen_explicitly() {
    if !require_tools(&["aarch64-linux-gnu-gcc", "ld.lld"]) {
        return;
    }
    let w = Work::new();
    let no_clang = w.path("noclang");
    std::fs::create_dir_all(&no_clang).unwrap();
    for tool in [
        "aarch64-linux-gnu-gcc",
        "aarch64-linux-gnu-ld",
        "ld.lld",
        "as",
    ] {
        if let Some(found) = which(tool) {
            std::os::unix::fs::symlink(found, no_clang.join(tool)).unwrap();
        }
    }
    let path = format!("{}:{}", bin_dir().display(), no_clang.display());
    let out = w.path("hello").to_string_lossy().into_owned();
    let args = ["-o", out.as_str(), "hello.c"];
    let r = w.run("xx-clang", "linux/arm64", &args, &[("PATH", &path)]);
    assert_eq!((r.stdout.as_str(), r.code), ("", 1));
    let mut lines = r.stderr.lines();
    assert_eq!(lines.next(), Some("/usr/bin/clang not found"));
    let help = lines.next().unwrap_or_default();
    assert!(
        help.starts_with("help: ")
            && help.contains("XX_CC_COMPILER=gcc")
            && help.contains("xx toolchain install llvm"),
        "{}",
        r.stderr
    );
    let gcc = w.run(
        "xx-clang",
        "linux/arm64",
        &args,
        &[("PATH", &path), ("XX_CC_COMPILER", "gcc")],
    );
    assert_eq!(gcc.code, 0, "{}", gcc.stderr);
    assert_eq!(w.run("xx-verify", "linux/arm64", &[&out], &[]).code, 0);
}

/// Issue 9 §1.14: a lock file planted as a dangling symlink is not created through.
#[test]
fn a_symlinked_lock_file_is_refused() {
    if !require_tool("clang") || !require_tool("ld.lld") {
        return;
    }
    let w = Work::new();
    std::fs::create_dir_all(w.prefix()).unwrap();
    let elsewhere = w.path("elsewhere-created");
    std::os::unix::fs::symlink(&elsewhere, w.prefix().join(".xx-cc.lock")).unwrap();
    let r = w.run("xx-clang", "linux/arm64", &["--setup-target-triple"], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(".xx-cc.lock is a symlink: refusing to lock through it"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(!elsewhere.exists(), "the lock was created through the link");
}

#[test]
fn concurrent_setups_leave_a_consistent_prefix() {
    if !require_tool("clang") || !require_tool("ld.lld") {
        return;
    }
    let w = Work::new();
    let prefix = w.prefix().to_string_lossy().into_owned();
    let platforms = ["linux/arm64", "linux/arm/v7", "linux/386", "linux/ppc64le"];
    for round in 0..3 {
        let children: Vec<_> = platforms
            .iter()
            .map(|p| {
                Command::new(bin_dir().join("xx-clang"))
                    .arg("--setup-target-triple")
                    .env("TARGETPLATFORM", p)
                    .env("XX_PREFIX", &prefix)
                    .spawn()
                    .expect("spawn xx-clang")
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success(), "round {round}");
        }
    }
    let names: Vec<String> = std::fs::read_dir(&prefix)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with(".tmp") || n.ends_with(".xx-tmp")),
        "temp files left: {names:?}"
    );
    for triple in [
        "aarch64-linux-gnu",
        "arm-linux-gnueabihf",
        "i686-linux-gnu",
        "powerpc64le-linux-gnu",
    ] {
        let cfg =
            std::fs::read_to_string(Path::new(&prefix).join(format!("{triple}.cfg"))).unwrap();
        assert!(cfg == format!("--target={triple} -fuse-ld=lld\n"), "{cfg}");
        for alias in ["clang", "clang++", "pkg-config", "ar"] {
            assert!(
                names.contains(&format!("{triple}-{alias}")),
                "{triple}-{alias} missing"
            );
        }
    }
}

/// C sources as `-sys` crates carry them, fetched with cargo from the crates registry at
/// test time (not vendored here): returns the crate's directory.
fn crate_sources(work: &Path, name: &str, version: &str) -> PathBuf {
    let dir = work.join(format!("fetch-{name}"));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             [dependencies]\n{name} = {{ version = \"={version}\", default-features = false }}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
    let out = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pkg = meta["packages"]
        .as_array()
        .and_then(|pkgs| pkgs.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("{name} in cargo metadata"));
    let manifest = Path::new(pkg["manifest_path"].as_str().expect("manifest_path"));
    manifest.parent().expect("crate dir").to_path_buf()
}

/// Copies a source tree so builds never write into cargo's registry cache.
fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(status.success());
}

/// bzip2 1.0.8 (from the bzip2-sys crate), built by its own Makefile with the compiler,
/// archiver and ranlib that `--print-autotools-env` names; then its own `make test`
/// steps (compress/decompress the sample files, compare) run under qemu.
#[test]
fn real_c_library_bzip2_with_autotools_env_and_its_tests_under_qemu() {
    if !require_tools(&["make", "clang", "qemu-aarch64", "qemu-riscv64"]) {
        return;
    }
    let w = Work::new();
    let crate_dir = crate_sources(w.dir.path(), "bzip2-sys", "0.1.13+1.0.8");
    for (platform, gnu, qemu) in [
        ("linux/arm64", "aarch64-linux-gnu", "qemu-aarch64"),
        ("linux/riscv64", "riscv64-linux-gnu", "qemu-riscv64"),
    ] {
        let src = w.path(&format!("bzip2-{gnu}"));
        copy_tree(&crate_dir.join("bzip2-1.0.8"), &src);
        let env_line = w.run("xx-clang", platform, &["--print-autotools-env"], &[]);
        assert_eq!(env_line.code, 0, "{}", env_line.stderr);
        // Make takes the VAR=value words; --host is for configure scripts.
        let vars: Vec<&str> = env_line
            .stdout
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        let make = Command::new("make")
            .arg("-j2")
            .arg("bzip2")
            .args(&vars)
            .current_dir(&src)
            .output()
            .expect("run make");
        assert!(
            make.status.success(),
            "make for {platform}: {}",
            String::from_utf8_lossy(&make.stderr)
        );
        let bzip2 = src.join("bzip2");
        let v = w.run(
            "xx-verify",
            platform,
            &["--strict", bzip2.to_str().unwrap()],
            &[],
        );
        assert_eq!(v.code, 0, "{}", v.stderr);
        for (n, level) in [(1, "-1"), (2, "-2"), (3, "-3")] {
            let reference = std::fs::read(src.join(format!("sample{n}.ref"))).unwrap();
            let compressed = std::fs::read(src.join(format!("sample{n}.bz2"))).unwrap();
            let run_bzip2 = |flag: &str, input: &[u8]| -> Vec<u8> {
                use std::io::Write;
                let mut child = Command::new(qemu)
                    .arg("-L")
                    .arg(format!("/usr/{gnu}"))
                    .arg(&bzip2)
                    .arg(flag)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .expect("run bzip2 under qemu");
                let mut stdin = child.stdin.take().unwrap();
                let input = input.to_vec();
                let writer = std::thread::spawn(move || stdin.write_all(&input));
                let out = child.wait_with_output().unwrap();
                writer.join().unwrap().unwrap();
                assert!(out.status.success(), "bzip2 {flag} under {qemu}");
                out.stdout
            };
            assert!(
                run_bzip2(level, &reference) == compressed,
                "{platform}: bzip2 {level} sample{n}.ref != sample{n}.bz2"
            );
            assert!(
                run_bzip2("-d", &compressed) == reference,
                "{platform}: bzip2 -d sample{n}.bz2 != sample{n}.ref"
            );
        }
    }
}

/// zlib-ng (from the libz-sys crate) built by its own CMakeLists.txt through the
/// toolchain file, inside a small CMake project whose test links it; ctest runs that
/// test through the toolchain's CMAKE_CROSSCOMPILING_EMULATOR (qemu), big-endian included.
#[test]
fn real_c_library_zlib_ng_with_the_cmake_toolchain_file() {
    if !require_tools(&["cmake", "clang", "qemu-aarch64", "qemu-s390x"]) {
        return;
    }
    let w = Work::new();
    let crate_dir = crate_sources(w.dir.path(), "libz-sys", "1.1.31");
    let project = w.path("zproject");
    std::fs::create_dir_all(&project).unwrap();
    copy_tree(&crate_dir.join("src/zlib-ng"), &project.join("zlib-ng"));
    std::fs::write(
        project.join("CMakeLists.txt"),
        "cmake_minimum_required(VERSION 3.16)\nproject(zproject C)\n\
         set(ZLIB_COMPAT ON CACHE BOOL \"\")\nset(ZLIB_ENABLE_TESTS OFF CACHE BOOL \"\")\n\
         set(ZLIBNG_ENABLE_TESTS OFF CACHE BOOL \"\")\nset(WITH_GTEST OFF CACHE BOOL \"\")\n\
         set(BUILD_SHARED_LIBS OFF CACHE BOOL \"\")\nadd_subdirectory(zlib-ng)\n\
         add_executable(roundtrip roundtrip.c)\ntarget_link_libraries(roundtrip zlib)\n\
         enable_testing()\nadd_test(NAME roundtrip COMMAND roundtrip)\n",
    )
    .unwrap();
    std::fs::write(
        project.join("roundtrip.c"),
        "#include <stdio.h>\n#include <string.h>\n#include \"zlib.h\"\n\
         int main(void) {\n  static unsigned char in[100000], packed[120000], out[100000];\n\
         for (unsigned i = 0; i < sizeof in; i++) in[i] = (unsigned char)(i * 7 % 251);\n\
         uLongf plen = sizeof packed, olen = sizeof out;\n\
         if (compress2(packed, &plen, in, sizeof in, 9) != Z_OK) return 1;\n\
         if (uncompress(out, &olen, packed, plen) != Z_OK) return 2;\n\
         if (olen != sizeof in || memcmp(in, out, olen)) return 3;\n\
         printf(\"zlib %s: %lu -> %lu bytes\\n\", zlibVersion(), (unsigned long)sizeof in, (unsigned long)plen);\n\
         return 0;\n}\n",
    )
    .unwrap();
    for (platform, gnu) in [
        ("linux/arm64", "aarch64-linux-gnu"),
        ("linux/s390x", "s390x-linux-gnu"),
    ] {
        let toolchain = w.run("xx-clang", platform, &["--print-cmake-toolchain-file"], &[]);
        assert_eq!(toolchain.code, 0, "{}", toolchain.stderr);
        let toolchain = toolchain.stdout.trim().to_string();
        let build = w.path(&format!("zbuild-{gnu}"));
        let cmake = |program: &str, args: &[&str], cwd: &Path| {
            let out = Command::new(program)
                .args(args)
                .current_dir(cwd)
                .output()
                .expect("run cmake");
            assert!(
                out.status.success(),
                "{program} {args:?} for {platform}: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        cmake(
            "cmake",
            &[
                "-S",
                project.to_str().unwrap(),
                "-B",
                build.to_str().unwrap(),
                &format!("-DCMAKE_TOOLCHAIN_FILE={toolchain}"),
                "-DCMAKE_BUILD_TYPE=Release",
            ],
            w.dir.path(),
        );
        cmake(
            "cmake",
            &["--build", build.to_str().unwrap(), "--parallel", "2"],
            w.dir.path(),
        );
        let v = w.run(
            "xx-verify",
            platform,
            &["--strict", build.join("roundtrip").to_str().unwrap()],
            &[],
        );
        assert_eq!(v.code, 0, "{}", v.stderr);
        cmake("ctest", &["--output-on-failure"], &build);
    }
}

/// A Meson project cross-built with `--print-meson-cross-file`; `meson test` runs its
/// test program through the cross file's exe_wrapper (qemu).
#[test]
fn meson_cross_file_builds_and_tests_under_qemu() {
    if !require_tools(&["meson", "ninja", "clang", "qemu-riscv64"]) {
        return;
    }
    let w = Work::new();
    let project = w.path("mproject");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("meson.build"),
        "project('hello', 'c')\nexe = executable('hello', 'hello.c')\ntest('runs', exe)\n",
    )
    .unwrap();
    std::fs::write(project.join("hello.c"), HELLO_C).unwrap();
    let cross = w.run(
        "xx-clang",
        "linux/riscv64",
        &["--print-meson-cross-file"],
        &[],
    );
    assert_eq!(cross.code, 0, "{}", cross.stderr);
    let build = w.path("mbuild");
    let meson = |args: &[&str], cwd: &Path| {
        let out = Command::new("meson")
            .args(args)
            .current_dir(cwd)
            .output()
            .expect("run meson");
        assert!(
            out.status.success(),
            "meson {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    meson(
        &[
            "setup",
            "--cross-file",
            cross.stdout.trim(),
            build.to_str().unwrap(),
            project.to_str().unwrap(),
        ],
        w.dir.path(),
    );
    meson(&["compile", "-C", build.to_str().unwrap()], w.dir.path());
    let v = w.run(
        "xx-verify",
        "linux/riscv64",
        &["--strict", build.join("hello").to_str().unwrap()],
        &[],
    );
    assert_eq!(v.code, 0, "{}", v.stderr);
    let tested = meson(&["test", "-C", build.to_str().unwrap()], w.dir.path());
    assert!(
        tested.contains("Ok:                 1") || tested.contains("OK"),
        "{tested}"
    );
}
