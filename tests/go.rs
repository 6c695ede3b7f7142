//! `xx-go` against Debian's golang-go: the environment for every platform of the
//! table, `--wrap`/`--unwrap` of go's env file, and real pure-Go and cgo builds checked
//! with xx-verify and run under qemu.

use std::path::Path;

use crate::util::{hermetic, require_tools, run, Checked, Run};

/// Go's own state (build cache, GOPATH, env file) and xx-cc's prefix, in one temp dir.
struct GoHome {
    dir: tempfile::TempDir,
}

impl GoHome {
    fn new() -> GoHome {
        GoHome {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }

    fn go(&self, platform: &str, args: &[&str], env: &[(&str, &str)]) -> Checked {
        self.go_in(self.dir.path(), platform, args, env)
    }

    fn go_in(&self, cwd: &Path, platform: &str, args: &[&str], env: &[(&str, &str)]) -> Checked {
        let mut r = Run::new("xx-go", args)
            .env("XX_PREFIX", &self.path("prefix"))
            .env("GOCACHE", &self.path("cache"))
            .env("GOPATH", &self.path("gopath"))
            .env("GOENV", &self.path("config/go/env"))
            .envs(env);
        if !platform.is_empty() {
            r = r.env("TARGETPLATFORM", platform);
        }
        r.cwd = Some(cwd.to_path_buf());
        run(&r)
    }

    fn go_env(&self, platform: &str, names: &[&str], env: &[(&str, &str)]) -> Vec<String> {
        let args: Vec<&str> = std::iter::once("env")
            .chain(names.iter().copied())
            .collect();
        let out = self.go(platform, &args, env);
        assert_eq!(out.code, 0, "{platform}: {}", out.stderr);
        out.stdout.lines().map(str::to_string).collect()
    }
}

fn info(platform: &str, what: &str) -> String {
    let out = run(&Run::new("xx-info", &[what]).env("TARGETPLATFORM", platform));
    out.stdout.trim().to_string()
}

#[test]
fn every_platform_gets_goos_and_goarch_as_xx_info_names_them() {
    if !require_tools(&["go"]) {
        return;
    }
    let home = GoHome::new();
    let list = run(&Run::new("xx-info", &["list"]));
    let platforms: Vec<&str> = list
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(platforms.len() > 15, "{}", list.stdout);
    for p in platforms {
        // A platform go does not know still gets xx's variables; `go env` then fails.
        let out = home.go(
            p,
            &["env", "GOOS", "GOARCH"],
            &[("XX_GO_PREFER_C_COMPILER", "none")],
        );
        if out.code != 0 {
            assert!(
                out.stderr.contains("unsupported GOOS/GOARCH"),
                "{p}: {}",
                out.stderr
            );
            continue;
        }
        let got: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(got, [info(p, "os"), info(p, "arch")], "{p}");
    }
}

#[test]
fn variants_become_goarm_goamd64_gomips_unless_set() {
    if !require_tools(&["go"]) {
        return;
    }
    let home = GoHome::new();
    let none = [("XX_GO_PREFER_C_COMPILER", "none")];
    for (platform, name, want) in [
        ("linux/arm/v5", "GOARM", "5"),
        ("linux/arm/v6", "GOARM", "6"),
        ("linux/arm/v7", "GOARM", "7"),
        ("linux/arm", "GOARM", "7"),
        ("linux/amd64/v2", "GOAMD64", "v2"),
        ("linux/amd64/v3", "GOAMD64", "v3"),
        ("linux/mips/softfloat", "GOMIPS", "softfloat"),
        ("linux/mipsle/hardfloat", "GOMIPS", "hardfloat"),
        ("linux/mips64le/softfloat", "GOMIPS64", "softfloat"),
    ] {
        assert_eq!(home.go_env(platform, &[name], &none), [want], "{platform}");
    }
    // The user's variant variables win; GOOS and GOARCH never do (xx exports them).
    let kept = home.go_env(
        "linux/arm/v7",
        &["GOARM", "GOOS", "GOARCH"],
        &[
            ("GOARM", "6"),
            ("GOOS", "windows"),
            ("GOARCH", "amd64"),
            none[0],
        ],
    );
    assert_eq!(kept, ["6", "linux", "arm"]);
}

#[test]
fn cgo_gets_the_targets_clang_aliases_ar_and_pkg_config() {
    if !require_tools(&["go", "clang"]) {
        return;
    }
    let home = GoHome::new();
    let prefix = home.path("prefix");
    let got = home.go_env("linux/arm64", &["CC", "CXX", "AR", "PKG_CONFIG"], &[]);
    let alias = |tool: &str| format!("{prefix}/aarch64-linux-gnu-{tool}");
    assert_eq!(
        got,
        [
            alias("clang"),
            alias("clang++"),
            alias("ar"),
            alias("pkg-config")
        ]
    );
    // With the prefix on PATH, the bare names, as xx writes them.
    let path = format!("{prefix}:{}", std::env::var("PATH").unwrap_or_default());
    let got = home.go_env("linux/arm64", &["CC"], &[("PATH", &path)]);
    assert_eq!(got, ["aarch64-linux-gnu-clang"]);
}

#[test]
fn wrap_writes_gos_env_file_and_unwrap_removes_it() {
    if !require_tools(&["go", "clang"]) {
        return;
    }
    let home = GoHome::new();
    let out = home.go("linux/arm/v6", &["--wrap"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let file = home.path("config/go/env");
    let prefix = home.path("prefix");
    let alias = |tool: &str| format!("{prefix}/arm-linux-gnueabi-{tool}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!(
            "GOOS=linux\nGOARCH=arm\nGOARM=6\nCC={}\nCXX={}\nAR={}\nPKG_CONFIG={}\n",
            alias("clang"),
            alias("clang++"),
            alias("ar"),
            alias("pkg-config")
        )
    );
    // Plain go now builds for the target.
    let go = std::process::Command::new("go")
        .args(["env", "GOARCH", "GOARM"])
        .env("GOENV", &file)
        .env("GOCACHE", home.path("cache"))
        .env_remove("GOARCH")
        .env_remove("GOARM")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&go.stdout), "arm\n6\n");
    let out = home.go("linux/arm/v6", &["--unwrap"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!Path::new(&file).exists());
}

#[test]
fn without_go_the_shells_message_and_127() {
    let home = GoHome::new();
    let out = home.go("linux/arm64", &["version"], &[("PATH", "/nonexistent")]);
    assert_eq!(out.code, 127);
    assert!(
        out.stderr.starts_with("xx-go: go: not found\n"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
}

const HELLO: &str = "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"go hello\") }\n";
const CGO_HELLO: &str = "package main\n\n/*\nstatic int twice(int x) { return 2 * x; }\n*/\nimport \"C\"\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"cgo hello\", int(C.twice(21))) }\n";

fn module(home: &GoHome, name: &str, source: &str) -> String {
    let dir = home.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("go.mod"),
        format!("module example.com/{name}\n\ngo 1.19\n"),
    )
    .unwrap();
    std::fs::write(dir.join("main.go"), source).unwrap();
    dir.display().to_string()
}

fn build_and_verify(home: &GoHome, platform: &str, dir: &str, cgo: bool) -> String {
    let out_file = format!("{dir}/out-{}", platform.replace('/', "-"));
    let cgo = if cgo { "1" } else { "0" };
    let out = home.go_in(
        Path::new(dir),
        platform,
        &["build", "-o", &out_file, "."],
        &[("CGO_ENABLED", cgo)],
    );
    assert_eq!(out.code, 0, "{platform}: {}", out.stderr);
    let verified = run(&Run::new("xx-verify", &[&out_file]).env("TARGETPLATFORM", platform));
    assert_eq!(verified.code, 0, "{platform}: {}", verified.stderr);
    out_file
}

/// cgo with the target's libc from Debian's cross packages, run under qemu. linux/386
/// is built and verified only: qemu-i386 7.2 cannot run Go's 386 binaries ("bad g in
/// signal handler", pure Go too).
#[test]
fn cgo_hello_builds_verifies_and_runs_for_linux_targets() {
    if !require_tools(&[
        "go",
        "clang",
        "ld.lld",
        "qemu-aarch64",
        "qemu-arm",
        "qemu-s390x",
        "qemu-ppc64le",
        "qemu-riscv64",
    ]) {
        return;
    }
    let home = GoHome::new();
    let dir = module(&home, "cgohello", CGO_HELLO);
    for platform in [
        "linux/arm64",
        "linux/arm/v7",
        "linux/arm/v6",
        "linux/s390x",
        "linux/ppc64le",
        "linux/riscv64",
        "linux/386",
    ] {
        let bin = build_and_verify(&home, platform, &dir, true);
        if platform == "linux/386" {
            continue;
        }
        let out = hermetic(
            Path::new(env!("CARGO_BIN_EXE_xx")),
            crate::util::empty_home(),
        )
        .args(["run", "--platform", platform, &bin])
        .output()
        .unwrap();
        let ran = Checked::from(out);
        assert_eq!(ran.stdout, "cgo hello 42\n", "{platform}: {}", ran.stderr);
    }
}

#[test]
fn pure_go_for_windows_and_darwin_passes_xx_verify() {
    if !require_tools(&["go"]) {
        return;
    }
    let home = GoHome::new();
    let dir = module(&home, "hello", HELLO);
    for platform in ["windows/amd64", "darwin/arm64", "linux/arm64"] {
        build_and_verify(&home, platform, &dir, false);
    }
}
