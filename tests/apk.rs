//! xx-apk against a recording `apk` stand-in on PATH: no Alpine repository is reachable
//! from these machines, so the commands xx-apk runs and the files it writes are checked
//! exactly, in a fake Alpine host root (XX_HOST_ROOT).

use std::path::{Path, PathBuf};

use crate::util::{bin_dir, run, Checked, Run};

/// Records each call's arguments; `add --initdb -p ROOT` makes ROOT's database, a
/// `rust-stdlib` install the target's rustlib, `info -qL` lists compiler-rt's files,
/// no arguments print apk's banner and fail (as apk does).
const STAND_IN: &str = r#"#!/bin/sh
printf '%s\n' "$*" >> "$APK_LOG"
[ -n "$XX_APK_NOLOCK" ] || echo "XX_APK_NOLOCK not set" >> "$APK_LOG"
if [ $# = 0 ]; then echo "apk-tools 2.14.4, compiled for x86_64."; exit 1; fi
if [ "$1" = add ] && [ "$3" = --initdb ]; then mkdir -p "$5/lib/apk/db"; fi
case "$*" in
  *"info -qL compiler-rt"*)
    echo "usr/lib/llvm17/lib/clang/17/lib/linux/libclang_rt.builtins-$APK_ARCH.a"
    echo "usr/lib/llvm17/lib/clang/17/lib/linux/README" ;;
  *" rust-stdlib"*) mkdir -p "$2/usr/lib/rustlib/$APK_TRIPLE" ;;
esac
exit "${APK_EXIT:-0}"
"#;

struct Alpine {
    dir: tempfile::TempDir,
    /// The target for cross cases: arm64 (xx takes the machine for x86_64).
    arch: &'static str,
    triple: &'static str,
    apk_arch: &'static str,
}

impl Alpine {
    fn new(version: &str) -> Alpine {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["etc/apk/cache", "usr/lib/rustlib", "stand-in"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let os_release = format!("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID={version}\n");
        std::fs::write(root.join("etc/os-release"), os_release).unwrap();
        std::fs::write(root.join("etc/alpine-release"), format!("{version}\n")).unwrap();
        let repos = "https://mirror.test/alpine/v3.19/main\n\
                     https://mirror.test/alpine/v3.19/community\n";
        std::fs::write(root.join("etc/apk/repositories"), repos).unwrap();
        let apk = root.join("stand-in/apk");
        std::fs::write(&apk, STAND_IN).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&apk, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (arch, triple, apk_arch) = ("arm64", "aarch64-alpine-linux-musl", "aarch64");
        Alpine {
            dir,
            arch,
            triple,
            apk_arch,
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    fn xx_apk(&self, platform: &str, args: &[&str], env: &[(&str, &str)]) -> Checked {
        let path = format!(
            "{}:{}:/usr/bin:/bin",
            self.path("stand-in").display(),
            bin_dir().display()
        );
        run(&Run::new("xx-apk", args)
            .env("TARGETPLATFORM", platform)
            .env("XX_HOST_ROOT", &self.root().to_string_lossy())
            .env("XX_HOST_MARCH", "x86_64")
            .env("APK_LOG", &self.path("apk.log").to_string_lossy())
            .env("APK_ARCH", self.apk_arch)
            .env("APK_TRIPLE", self.triple)
            .env("PATH", &path)
            .envs(env))
    }

    fn cross(&self) -> String {
        format!("linux/{}", self.arch)
    }

    /// The calls apk got, one line each, since the last look.
    fn calls(&self) -> String {
        let log = self.path("apk.log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text
    }

    fn target_root(&self) -> String {
        self.path(self.triple).display().to_string()
    }
}

#[test]
fn cross_root_is_set_up_once_with_the_hosts_repositories_and_the_targets_arch() {
    let a = Alpine::new("3.19.1");
    let root = a.target_root();
    // xx's own case: `xx-apk add --no-cache zlib`, here with the C essentials too.
    let r = a.xx_apk(
        &a.cross(),
        &["add", "--no-cache", "zlib", "xx-c-essentials"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        format!("+ apk  --root {root} add --no-cache zlib musl-dev gcc\n")
    );
    assert_eq!(
        a.calls(),
        format!(
            "add --no-cache --initdb -p {root} --allow-untrusted alpine-keys\n\
             --root {root} add --no-cache zlib musl-dev gcc\n"
        )
    );
    let read = |rel: &str| std::fs::read_to_string(Path::new(&root).join(rel)).unwrap();
    assert_eq!(
        read("etc/apk/repositories"),
        read_host(&a, "etc/apk/repositories")
    );
    assert_eq!(read("etc/apk/arch"), format!("{}\n", a.apk_arch));
    for dir in ["etc/apk/keys", "etc/apk/protected_paths.d", "lib/apk/db"] {
        assert!(Path::new(&root).join(dir).is_dir(), "{dir}");
    }
    assert!(Path::new(&root).join(".xx-setup").is_file());
    assert_eq!(
        std::fs::read_link(Path::new(&root).join("etc/apk/cache")).unwrap(),
        a.path(&format!("etc/apk/cache/_{}", a.apk_arch))
    );
    assert!(a.path(&format!("etc/apk/cache/_{}", a.apk_arch)).is_dir());
    assert!(a.path("var/lock/xx-apk").is_file(), "xx-apk's lock");

    // Set up once: the next call runs only the user's command.
    let r = a.xx_apk(
        &a.cross(),
        &["list", "xx-c-essentials", "xx-cxx-essentials"],
        &[],
    );
    assert_eq!(
        r.stdout,
        format!("+ apk  --root {root} list musl-dev gcc g++\n")
    );
    assert_eq!(a.calls(), format!("--root {root} list musl-dev gcc g++\n"));

    // `setup` alone, then `clean` removes the whole target root.
    assert_eq!(a.xx_apk(&a.cross(), &["setup"], &[]).code, 0);
    assert_eq!(a.calls(), "", "already set up");
    assert_eq!(a.xx_apk(&a.cross(), &["clean"], &[]).code, 0);
    assert!(!Path::new(&root).exists());
    assert_eq!(a.xx_apk(&a.cross(), &["setup"], &[]).code, 0);
    assert!(
        a.calls().contains("alpine-keys"),
        "set up again after clean"
    );
}

fn read_host(a: &Alpine, rel: &str) -> String {
    std::fs::read_to_string(a.path(rel)).unwrap()
}

#[test]
fn native_target_uses_the_real_root_and_no_setup() {
    let a = Alpine::new("3.19.1");
    let native = if a.arch == "arm64" {
        "linux/amd64"
    } else {
        "linux/arm64"
    };
    let r = a.xx_apk(native, &["list", "--installed"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let root = a.root().join("").display().to_string();
    assert_eq!(r.stdout, format!("+ apk  --root {root} list --installed\n"));
    assert_eq!(a.calls(), format!("--root {root} list --installed\n"));
    // No arguments: apk's own banner and status, nothing echoed (xx's "no_cmd").
    let r = a.xx_apk(native, &[], &[]);
    assert_eq!(
        (r.stdout.as_str(), r.code),
        ("apk-tools 2.14.4, compiled for x86_64.\n", 1)
    );
    // apk's failure is xx-apk's, with its code.
    let r = a.xx_apk(native, &["add", "nosuch"], &[("APK_EXIT", "3")]);
    assert_eq!(r.code, 3);
}

#[test]
fn riscv64_and_loong64_fall_back_to_the_first_release_with_them_on_the_hosts_mirror() {
    for (version, platform, expected) in [
        ("3.19.1", "linux/riscv64", Some("3.20")),
        ("3.19.1", "linux/loong64", Some("3.21")),
        ("3.20.3", "linux/riscv64", None),
        ("3.20.3", "linux/loong64", Some("3.21")),
        ("3.21.0", "linux/loong64", None),
        // edge: VERSION_ID 3.21_alpha…
        ("3.21_alpha20240807", "linux/loong64", None),
        ("3.20_alpha20240329", "linux/loong64", Some("3.21")),
    ] {
        let a = Alpine::new(version);
        let r = a.xx_apk(platform, &["setup"], &[]);
        assert_eq!(r.code, 0, "{platform}: {}", r.stderr);
        let triple = run(&Run::new("xx-info", &["triple"])
            .env("TARGETPLATFORM", platform)
            .env("XX_HOST_MARCH", "x86_64")
            .env("XX_HOST_ROOT", &a.root().to_string_lossy()))
        .stdout;
        let repos = a.path(&format!("{}/etc/apk/repositories", triple.trim()));
        let text = std::fs::read_to_string(&repos).unwrap();
        match expected {
            Some(v) => assert_eq!(
                text,
                format!(
                    "https://mirror.test/alpine/v{v}/main\nhttps://mirror.test/alpine/v{v}/community\n"
                ),
                "{platform} on {version}"
            ),
            None => assert_eq!(text, read_host(&a, "etc/apk/repositories"), "{platform} on {version}"),
        }
    }
}

#[test]
fn compiler_rt_and_rust_stdlib_are_linked_into_the_real_root() {
    let a = Alpine::new("3.19.1");
    let root = a.target_root();
    let r = a.xx_apk(&a.cross(), &["add", "compiler-rt", "rust-stdlib"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let calls = a.calls();
    assert!(
        calls.ends_with(&format!("--root {root} info -qL compiler-rt\n")),
        "{calls}"
    );
    let lib = format!(
        "usr/lib/llvm17/lib/clang/17/lib/linux/libclang_rt.builtins-{}.a",
        a.apk_arch
    );
    assert_eq!(
        std::fs::read_link(a.path(&lib)).unwrap(),
        Path::new("/").join(a.triple).join(&lib)
    );
    assert!(!a
        .path("usr/lib/llvm17/lib/clang/17/lib/linux/README")
        .exists());
    let rustlib = format!("usr/lib/rustlib/{}", a.triple);
    assert_eq!(
        std::fs::read_link(a.path(&rustlib)).unwrap(),
        Path::new(&root).join(&rustlib)
    );
}

#[test]
fn non_linux_and_mips_targets_are_skipped_as_xx_does() {
    let a = Alpine::new("3.19.1");
    for (platform, message) in [
        ("darwin/amd64", "skipping packages installation on darwin\n"),
        (
            "windows/amd64",
            "skipping packages installation on windows\n",
        ),
        (
            "linux/mips64le",
            "skipping packages installation on mips64le\n",
        ),
    ] {
        let r = a.xx_apk(platform, &["add", "foo"], &[]);
        assert_eq!(
            (r.stdout.as_str(), r.stderr.as_str(), r.code),
            ("", message, 0)
        );
    }
    assert_eq!(a.calls(), "", "apk never ran");
    // A target xx-info does not know: its message, then xx's skip line, and success.
    let r = a.xx_apk("linux/ppc64", &["add", "foo"], &[]);
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str(), r.code),
        (
            "",
            "unsupported target: os=linux arch=ppc64 variant=\n\
             skipping packages installation on \n",
            0
        )
    );
    assert_eq!(a.calls(), "", "apk never ran");
}

/// A fallback release needs a mirror to take it from: without one in the host's
/// repositories, one line naming the fix, and no target root half set up.
#[test]
fn a_fallback_without_a_mirror_is_one_line_and_writes_nothing() {
    let a = Alpine::new("3.19.1");
    std::fs::write(a.path("etc/apk/repositories"), "/local/packages\n").unwrap();
    let r = a.xx_apk("linux/riscv64", &["add", "foo"], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("names no mirror") && r.stderr.contains("v3.20"),
        "{}",
        r.stderr
    );
    assert!(
        !a.path("riscv64-alpine-linux-musl").exists(),
        "a target root was half set up"
    );
    assert_eq!(a.calls(), "", "apk never ran");
}
