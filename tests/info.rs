//! xx-info against tonistiigi/xx's behaviour: the spec's full target table for every
//! command and distro flavour (fake os-release under XX_HOST_ROOT), plus the cases of
//! xx's own test-info-*.bats.

use crate::util::{run, Env, HostRoot, Run};

/// The spec's table (shared/spec/xx-commands.md §1.2), typed in independently of
/// toolchains/targets.toml: platform, march, deb, apk, rpm, Debian/RHEL triple,
/// cargo-override triple, Alpine triple.
const TABLE: &[[&str; 8]] = &[
    [
        "linux/amd64",
        "x86_64",
        "amd64",
        "x86_64",
        "x86_64",
        "x86_64-linux-gnu",
        "x86_64-unknown-linux-gnu",
        "x86_64-alpine-linux-musl",
    ],
    [
        "linux/amd64/v2",
        "x86_64",
        "amd64",
        "x86_64",
        "x86_64",
        "x86_64-linux-gnu",
        "x86_64-unknown-linux-gnu",
        "x86_64-alpine-linux-musl",
    ],
    [
        "linux/amd64/v3",
        "x86_64",
        "amd64",
        "x86_64",
        "x86_64",
        "x86_64-linux-gnu",
        "x86_64-unknown-linux-gnu",
        "x86_64-alpine-linux-musl",
    ],
    [
        "linux/amd64/v4",
        "x86_64",
        "amd64",
        "x86_64",
        "x86_64",
        "x86_64-linux-gnu",
        "x86_64-unknown-linux-gnu",
        "x86_64-alpine-linux-musl",
    ],
    [
        "linux/arm64",
        "aarch64",
        "arm64",
        "aarch64",
        "aarch64",
        "aarch64-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "aarch64-alpine-linux-musl",
    ],
    [
        "linux/arm/v7",
        "armv7l",
        "armhf",
        "armv7",
        "armv7hl",
        "arm-linux-gnueabihf",
        "armv7-unknown-linux-gnueabihf",
        "armv7-alpine-linux-musleabihf",
    ],
    [
        "linux/arm",
        "armv7l",
        "armhf",
        "armv7",
        "armv7hl",
        "arm-linux-gnueabihf",
        "armv7-unknown-linux-gnueabihf",
        "armv7-alpine-linux-musleabihf",
    ],
    [
        "linux/arm/v8",
        "armv7l",
        "armhf",
        "armv7",
        "armv7hl",
        "arm-linux-gnueabihf",
        "armv7-unknown-linux-gnueabihf",
        "armv7-alpine-linux-musleabihf",
    ],
    [
        "linux/arm/v6",
        "armv6l",
        "armel",
        "armhf",
        "armv6hl",
        "arm-linux-gnueabi",
        "arm-unknown-linux-gnueabi",
        "armv6-alpine-linux-musleabihf",
    ],
    [
        "linux/arm/v5",
        "armv5l",
        "armel",
        "armel",
        "armv5tel",
        "arm-linux-gnueabi",
        "arm-unknown-linux-gnueabi",
        "armv5-alpine-linux-musleabi",
    ],
    [
        "linux/386",
        "i386",
        "i386",
        "x86",
        "i386",
        "i686-linux-gnu",
        "i686-unknown-linux-gnu",
        "i586-alpine-linux-musl",
    ],
    [
        "linux/riscv64",
        "riscv64",
        "riscv64",
        "riscv64",
        "riscv64",
        "riscv64-linux-gnu",
        "riscv64gc-unknown-linux-gnu",
        "riscv64-alpine-linux-musl",
    ],
    [
        "linux/ppc64le",
        "ppc64le",
        "ppc64el",
        "ppc64le",
        "ppc64le",
        "powerpc64le-linux-gnu",
        "powerpc64le-unknown-linux-gnu",
        "powerpc64le-alpine-linux-musl",
    ],
    [
        "linux/s390x",
        "s390x",
        "s390x",
        "s390x",
        "s390x",
        "s390x-linux-gnu",
        "s390x-unknown-linux-gnu",
        "s390x-alpine-linux-musl",
    ],
    [
        "linux/loong64",
        "loongarch64",
        "loong64",
        "loongarch64",
        "loongarch64",
        "loongarch64-linux-gnu",
        "loongarch64-unknown-linux-gnu",
        "loongarch64-alpine-linux-musl",
    ],
    [
        "linux/mips",
        "mips",
        "mips",
        "mips",
        "mips",
        "mips-linux-gnu",
        "mips-unknown-linux-gnu",
        "mips-alpine-linux-musl",
    ],
    [
        "linux/mipsle",
        "mipsle",
        "mipsel",
        "mipsle",
        "mipsel",
        "mipsel-linux-gnu",
        "mipsel-unknown-linux-gnu",
        "mipsel-alpine-linux-musl",
    ],
    [
        "linux/mips64",
        "mips64",
        "mips64",
        "mips64",
        "mips64",
        "mips64-linux-gnuabi64",
        "mips64-unknown-linux-gnuabi64",
        "mips64-alpine-linux-muslabi64",
    ],
    [
        "linux/mips64le",
        "mips64le",
        "mips64el",
        "mips64le",
        "mips64el",
        "mips64el-linux-gnuabi64",
        "mips64el-unknown-linux-gnuabi64",
        "mips64el-alpine-linux-muslabi64",
    ],
    [
        "darwin/amd64",
        "x86_64",
        "amd64",
        "x86_64",
        "x86_64",
        "x86_64-apple-macos10.6",
        "x86_64-unknown-macos10.6",
        "x86_64-apple-macos10.6",
    ],
    [
        "darwin/arm64",
        "arm64",
        "arm64",
        "aarch64",
        "aarch64",
        "arm64-apple-macos11.0",
        "arm64-unknown-macos11.0",
        "arm64-apple-macos11.0",
    ],
    [
        "windows/amd64",
        "x86_64",
        "amd64",
        "x86_64",
        "x86_64",
        "x86_64-w64-mingw32",
        "x86_64-w64-mingw32",
        "x86_64-w64-mingw32",
    ],
    [
        "windows/arm64",
        "aarch64",
        "arm64",
        "aarch64",
        "aarch64",
        "aarch64-w64-mingw32",
        "aarch64-w64-mingw32",
        "aarch64-w64-mingw32",
    ],
    [
        "windows/arm",
        "armv7l",
        "armhf",
        "armv7",
        "armv7hl",
        "armv7-w64-mingw32",
        "armv7-w64-mingw32",
        "armv7-w64-mingw32",
    ],
    [
        "windows/386",
        "i386",
        "i386",
        "x86",
        "i386",
        "i686-w64-mingw32",
        "i686-w64-mingw32",
        "i686-w64-mingw32",
    ],
];

struct Flavour {
    name: &'static str,
    os_release: Option<&'static str>,
    vendor: &'static str,
    version: &'static str,
    /// Which package column pkg-arch prints: 2 deb, 3 apk, 4 rpm, None TARGETARCH.
    pkg_column: Option<usize>,
}

const FLAVOURS: &[Flavour] = &[
    Flavour { name: "debian", os_release: Some("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n"), vendor: "debian", version: "12", pkg_column: Some(2) },
    Flavour { name: "ubuntu", os_release: Some("NAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=noble\n"), vendor: "ubuntu", version: "24.04", pkg_column: Some(2) },
    Flavour { name: "alpine", os_release: Some("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n"), vendor: "alpine", version: "3.20.3", pkg_column: Some(3) },
    Flavour { name: "rhel", os_release: Some("NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nVERSION_ID=\"9.4\"\n"), vendor: "rhel", version: "9.4", pkg_column: Some(4) },
    Flavour { name: "fedora", os_release: Some("NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=41\n"), vendor: "fedora", version: "41", pkg_column: Some(4) },
    Flavour { name: "centos", os_release: Some("ID=\"centos\"\nVERSION_ID=\"7\"\n"), vendor: "centos", version: "7", pkg_column: Some(4) },
    Flavour { name: "rocky", os_release: Some("ID=\"rocky\"\nVERSION_ID=\"9.3\"\n"), vendor: "rocky", version: "9.3", pkg_column: Some(4) },
    Flavour { name: "oracle", os_release: Some("ID=\"ol\"\nVERSION_ID=\"9.3\"\n"), vendor: "ol", version: "9.3", pkg_column: Some(4) },
    Flavour { name: "none", os_release: None, vendor: "unknown", version: "", pkg_column: None },
    Flavour { name: "other", os_release: Some("ID=foo\nVERSION_ID=1\n"), vendor: "foo", version: "1", pkg_column: None },
];

/// The triple a flavour gives: Debian/RHEL omit the vendor, Alpine has its own column,
/// any other vendor is inserted after the arch (linux only; darwin keeps apple).
fn expected_triple(row: &[&str; 8], flavour: &Flavour) -> String {
    let platform = row[0];
    match flavour.vendor {
        "alpine" => row[7].to_string(),
        "debian" | "ubuntu" | "rhel" | "fedora" | "centos" | "rocky" | "ol" => row[5].to_string(),
        vendor if platform.starts_with("linux/") => {
            let (arch, rest) = row[5].split_once('-').expect("triple has a dash");
            format!("{arch}-{vendor}-{rest}")
        }
        _ => row[5].to_string(),
    }
}

fn expected_vendor(row: &[&str; 8], flavour: &Flavour) -> String {
    if row[0].starts_with("darwin/") {
        "apple".to_string()
    } else {
        flavour.vendor.to_string()
    }
}

fn expected_libc(row: &[&str; 8], flavour: &Flavour) -> &'static str {
    if row[0].starts_with("windows/") {
        "mingw32"
    } else if flavour.vendor == "alpine" {
        "musl"
    } else {
        "gnu"
    }
}

fn split_platform(p: &str) -> (&str, &str, &str) {
    let mut parts = p.split('/');
    let os = parts.next().unwrap_or_default();
    let arch = parts.next().unwrap_or_default();
    let variant = parts.next().unwrap_or_default();
    // xx's rules: arm defaults to v7 and takes v8 as given; amd64/vN as given.
    let variant = match (arch, variant) {
        ("arm", "") => "v7",
        (_, v) => v,
    };
    (os, arch, variant)
}

fn info(root: &HostRoot, env: &[(&str, &str)], args: &[&str]) -> (String, i32) {
    let r = run(&Run::new("xx-info", args)
        .root(root)
        .env("XX_HOST_MARCH", "x86_64")
        .envs(env));
    (r.stdout, r.code)
}

#[test]
fn whole_table_every_command_every_flavour() {
    let mut failures = Vec::new();
    for flavour in FLAVOURS {
        let root = HostRoot::new(flavour.os_release);
        for row in TABLE {
            let platform = row[0];
            let (os, arch, variant) = split_platform(platform);
            // darwin's vendor is apple, which has no package arch: pkg-arch is TARGETARCH.
            let pkg_column = flavour.pkg_column.filter(|_| os != "darwin");
            let pkg = pkg_column.map(|c| row[c]).unwrap_or(arch);
            let triple = expected_triple(row, flavour);
            let vendor = expected_vendor(row, flavour);
            let libc = expected_libc(row, flavour);
            let mut env_lines = vec![
                format!("XX_OS={os}"),
                format!("XX_OS_VERSION={}", flavour.version),
                format!("XX_ARCH={arch}"),
                format!("XX_MARCH={}", row[1]),
                format!("XX_VENDOR={vendor}"),
            ];
            if os == "linux" {
                env_lines.push(format!("XX_PKG_ARCH={pkg}"));
            }
            env_lines.extend([
                format!("XX_TRIPLE={triple}"),
                format!("XX_LIBC={libc}"),
                format!("TARGETOS={os}"),
                format!("TARGETARCH={arch}"),
                format!("TARGETVARIANT={variant}"),
            ]);
            let cases: Vec<(&str, String)> = vec![
                ("", triple.clone()),
                ("triple", triple.clone()),
                ("os", os.to_string()),
                ("arch", arch.to_string()),
                ("variant", variant.to_string()),
                ("march", row[1].to_string()),
                ("debian-arch", row[2].to_string()),
                ("alpine-arch", row[3].to_string()),
                ("rhel-arch", row[4].to_string()),
                ("pkg-arch", pkg.to_string()),
                ("vendor", vendor.clone()),
                ("libc", libc.to_string()),
                ("os-version", flavour.version.to_string()),
                ("env", env_lines.join("\n")),
            ];
            for (command, want) in cases {
                let args: Vec<&str> = if command.is_empty() {
                    vec![]
                } else {
                    vec![command]
                };
                let (out, code) = info(&root, &[("TARGETPLATFORM", platform)], &args);
                if out != format!("{want}\n") || code != 0 {
                    failures.push(format!(
                        "[{}] TARGETPLATFORM={platform} xx-info {command}: got {out:?} (exit {code}), want {want:?}",
                        flavour.name
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn cargo_overrides_give_rust_style_triples() {
    // xx-cargo runs xx-info with these overrides; the spec's "cargo triple" column.
    let root = HostRoot::new(Some("ID=debian\nVERSION_ID=12\n"));
    for row in TABLE {
        let (out, code) = info(
            &root,
            &[
                ("TARGETPLATFORM", row[0]),
                ("XX_VENDOR", "unknown"),
                ("ARM_TARGET_ARCH", "armv7"),
                ("RISCV64_TARGET_ARCH", "riscv64gc"),
            ],
            &["triple"],
        );
        assert_eq!(
            (out.trim_end(), code),
            (row[6], 0),
            "cargo triple of {}",
            row[0]
        );
    }
}

#[test]
fn xx_bats_cases() {
    let debian = HostRoot::new(Some("ID=debian\nVERSION_ID=\"12\"\n"));
    let alpine = HostRoot::new(Some("ID=alpine\nVERSION_ID=3.20.3\n"));
    let cases: &[(&HostRoot, Env, &str, &str)] = &[
        // test-info-common.bats
        (&debian, &[("TARGETPLATFORM", "foo/bar")], "os", "foo"),
        (&debian, &[("TARGETPLATFORM", "foo/bar")], "arch", "bar"),
        (&debian, &[("TARGETARCH", "amd64")], "variant", ""),
        (&debian, &[("TARGETARCH", "arm")], "variant", "v7"),
        (&debian, &[("TARGETPAIR", "linux-amd64")], "os", "linux"),
        (&debian, &[("TARGETPAIR", "linux-arm64")], "arch", "arm64"),
        (&debian, &[("TARGETPAIR", "linux-armv7")], "arch", "arm"),
        (
            &debian,
            &[("TARGETPAIR", "linux-armv7")],
            "",
            "arm-linux-gnueabihf",
        ),
        (
            &debian,
            &[("TARGETPAIR", "linux-armv5")],
            "",
            "arm-linux-gnueabi",
        ),
        (
            &debian,
            &[("TARGETPAIR", "linux-ppc64le")],
            "",
            "powerpc64le-linux-gnu",
        ),
        (
            &debian,
            &[("TARGETPAIR", "linux-mips64le")],
            "",
            "mips64el-linux-gnuabi64",
        ),
        (
            &debian,
            &[
                ("TARGETPAIR", "linux-armv7"),
                ("TARGETPLATFORM", "linux/arm64"),
            ],
            "",
            "aarch64-linux-gnu",
        ),
        // test-info-debian.bats
        (&debian, &[("XX_LIBC", "musl")], "libc", "musl"),
        (
            &debian,
            &[
                ("TARGETPLATFORM", "linux/arm"),
                ("ARM_TARGET_ARCH", "armv7"),
            ],
            "triple",
            "armv7-linux-gnueabihf",
        ),
        (
            &debian,
            &[
                ("TARGETPLATFORM", "linux/arm"),
                ("ARM_TARGET_ARCH", "armv7"),
            ],
            "pkg-arch",
            "armhf",
        ),
        (
            &debian,
            &[
                ("TARGETPLATFORM", "linux/arm"),
                ("ARM_TARGET_ARCH", "armv7"),
                ("XX_VENDOR", "unknown"),
            ],
            "triple",
            "armv7-unknown-linux-gnueabihf",
        ),
        (
            &debian,
            &[
                ("TARGETPLATFORM", "linux/riscv64"),
                ("RISCV64_TARGET_ARCH", "riscv64gc"),
            ],
            "triple",
            "riscv64gc-linux-gnu",
        ),
        (
            &debian,
            &[
                ("TARGETPLATFORM", "linux/riscv64"),
                ("RISCV64_TARGET_ARCH", "riscv64gc"),
                ("XX_VENDOR", "unknown"),
            ],
            "triple",
            "riscv64gc-unknown-linux-gnu",
        ),
        (
            &debian,
            &[("TARGETPLATFORM", "linux/arm64")],
            "sysroot",
            "/",
        ),
        (
            &debian,
            &[("TARGETPLATFORM", "linux/riscv64")],
            "sysroot",
            "/",
        ),
        // test-info-alpine.bats
        (&alpine, &[("XX_LIBC", "gnu")], "libc", "gnu"),
        (
            &alpine,
            &[("TARGETPLATFORM", "linux/arm64"), ("XX_LIBC", "gnu")],
            "triple",
            "aarch64-alpine-linux-gnu",
        ),
        (
            &alpine,
            &[("TARGETPLATFORM", "linux/arm"), ("ARM_TARGET_ARCH", "arm")],
            "triple",
            "arm-alpine-linux-musleabihf",
        ),
        (
            &alpine,
            &[
                ("TARGETPLATFORM", "linux/arm/v7"),
                ("ARM_TARGET_ARCH", "arm"),
            ],
            "variant",
            "v7",
        ),
        (
            &alpine,
            &[
                ("TARGETPLATFORM", "linux/riscv64"),
                ("RISCV64_TARGET_ARCH", "riscv64gc"),
            ],
            "triple",
            "riscv64gc-alpine-linux-musl",
        ),
        (
            &alpine,
            &[
                ("TARGETPLATFORM", "linux/riscv64"),
                ("XX_VENDOR", "unknown"),
            ],
            "triple",
            "riscv64-unknown-linux-musl",
        ),
        (
            &alpine,
            &[
                ("TARGETPLATFORM", "darwin/amd64"),
                ("MACOSX_VERSION_MIN", "10.15"),
            ],
            "triple",
            "x86_64-apple-macos10.15",
        ),
        (
            &alpine,
            &[("TARGETPLATFORM", "darwin/amd64")],
            "sysroot",
            "/xx-sdk/MacOSX11.1.sdk/",
        ),
        (
            &alpine,
            &[("TARGETPLATFORM", "darwin/arm64")],
            "sysroot",
            "/xx-sdk/MacOSX11.1.sdk/",
        ),
        // spec §1.1 quirks
        (
            &debian,
            &[("TARGETOS", "freebsd"), ("TARGETARCH", "amd64")],
            "triple",
            "x86_64-linux-gnu",
        ),
        (
            &alpine,
            &[("TARGETOS", "freebsd"), ("TARGETARCH", "amd64")],
            "triple",
            "x86_64-alpine-linux-musl",
        ),
        (
            &debian,
            &[
                ("TARGETARCH", "ppc64"),
                ("XX_MARCH", "ppc64"),
                ("XX_TRIPLE", "powerpc64-linux-gnu"),
            ],
            "triple",
            "powerpc64-linux-gnu",
        ),
        (
            &debian,
            &[("TARGETPLATFORM", "linux/arm64/v8"), ("TARGETVARIANT", "")],
            "variant",
            "",
        ),
        (
            &debian,
            &[("TARGETPLATFORM", "linux/amd64"), ("TARGETVARIANT", "v3")],
            "variant",
            "v3",
        ),
        (
            &debian,
            &[("TARGETPLATFORM", "linux/mips/softfloat")],
            "variant",
            "softfloat",
        ),
        (
            &debian,
            &[("TARGETPLATFORM", "darwin/arm64"), ("XX_VENDOR", "debian")],
            "triple",
            "arm64-macos11.0",
        ),
        (
            &debian,
            &[("TARGETPLATFORM", "windows/amd64"), ("XX_LIBC", "musl")],
            "triple",
            "x86_64-w64-mingw32",
        ),
    ];
    for (root, env, command, want) in cases {
        let args: Vec<&str> = if command.is_empty() {
            vec![]
        } else {
            vec![*command]
        };
        let (out, code) = info(root, env, &args);
        assert_eq!(
            (out.as_str(), code),
            (format!("{want}\n").as_str(), 0),
            "{env:?} xx-info {command}"
        );
    }
}

#[test]
fn host_detection_by_uname() {
    let root = HostRoot::new(Some("ID=debian\nVERSION_ID=12\n"));
    for (uname, triple) in [
        ("x86_64", "x86_64-linux-gnu"),
        ("aarch64", "aarch64-linux-gnu"),
        ("arm64", "aarch64-linux-gnu"),
        ("armv7l", "arm-linux-gnueabihf"),
        ("armv6l", "arm-linux-gnueabi"),
        ("riscv64", "riscv64-linux-gnu"),
        ("loongarch64", "loongarch64-linux-gnu"),
        ("s390x", "s390x-linux-gnu"),
    ] {
        let r = run(&Run::new("xx-info", &[])
            .root(&root)
            .env("XX_HOST_MARCH", uname));
        assert_eq!(
            (r.stdout.trim_end(), r.code),
            (triple, 0),
            "uname -m {uname}"
        );
    }
    // Native is not cross; any other target is.
    let native = run(&Run::new("xx-info", &["is-cross"])
        .root(&root)
        .env("XX_HOST_MARCH", "aarch64"));
    assert_eq!(native.code, 1);
    let same = Run::new("xx-info", &["is-cross"])
        .root(&root)
        .env("XX_HOST_MARCH", "aarch64");
    assert_eq!(run(&same.env("TARGETARCH", "arm64")).code, 1);
    let cross = Run::new("xx-info", &["is-cross"])
        .root(&root)
        .env("XX_HOST_MARCH", "aarch64");
    assert_eq!(run(&cross.env("TARGETARCH", "amd64")).code, 0);
    let darwin = Run::new("xx-info", &["is-cross"])
        .root(&root)
        .env("XX_HOST_MARCH", "x86_64");
    assert_eq!(run(&darwin.env("TARGETPLATFORM", "darwin/amd64")).code, 0);
}

#[test]
fn unsupported_targets_fail_for_mapped_outputs_only() {
    let root = HostRoot::new(Some("ID=debian\nVERSION_ID=12\n"));
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("TARGETPLATFORM", "linux/ppc64")],
            "unsupported target: os=linux arch=ppc64",
        ),
        (
            &[("TARGETPAIR", "linux-amd64v3")],
            "unsupported target: os=linux arch=amd64v3",
        ),
        (
            &[("XX_HOST_MARCH", "not-a-machine")],
            "unsupported target: os=linux arch=unknown",
        ),
        (
            &[("TARGETPLATFORM", "wasi/wasm")],
            "unsupported target: os=wasi arch=wasm",
        ),
    ];
    for (env, message) in cases {
        for command in [
            "",
            "triple",
            "march",
            "debian-arch",
            "pkg-arch",
            "env",
            "sysroot",
            "is-cross",
        ] {
            let args: Vec<&str> = if command.is_empty() {
                vec![]
            } else {
                vec![command]
            };
            let r = run(&Run::new("xx-info", &args)
                .root(&root)
                .env("XX_HOST_MARCH", "x86_64")
                .envs(env));
            assert_eq!(r.code, 1, "{env:?} xx-info {command} must fail");
            assert!(
                r.stderr.starts_with(message),
                "{env:?} {command}: stderr {:?}",
                r.stderr
            );
            assert_eq!(r.stdout, "", "{env:?} {command}");
        }
        for command in ["arch", "os", "variant", "vendor", "libc", "os-version"] {
            let r = run(&Run::new("xx-info", &[command])
                .root(&root)
                .env("XX_HOST_MARCH", "x86_64")
                .envs(env));
            assert_eq!(
                r.code, 0,
                "{env:?} xx-info {command} must work for unknown targets"
            );
        }
    }
}

#[test]
fn help_and_unknown_command() {
    let root = HostRoot::new(None);
    let help = run(&Run::new("xx-info", &["--help"]).root(&root));
    assert_eq!(help.code, 0);
    assert_eq!(help.stdout, "");
    assert!(
        help.stderr
            .starts_with("Usage: xx-info [COMMAND]\n\nCommands:\n  alpine-arch "),
        "{}",
        help.stderr
    );
    let unknown = run(&Run::new("xx-info", &["something"]).root(&root));
    assert_eq!(
        (unknown.stdout.as_str(), unknown.code),
        ("unknown command something\n", 1)
    );
    // For a target the table lacks, xx fails on the target first: the message on
    // stderr, nothing on stdout; the commands that answer for any target still do.
    let unsupported = run(&Run::new("xx-info", &["something"])
        .root(&root)
        .env("TARGETPLATFORM", "linux/ppc64"));
    assert_eq!(
        (
            unsupported.stdout.as_str(),
            unsupported.stderr.as_str(),
            unsupported.code
        ),
        ("", "unsupported target: os=linux arch=ppc64 variant=\n", 1)
    );
    let arch = run(&Run::new("xx-info", &["arch"])
        .root(&root)
        .env("TARGETPLATFORM", "linux/ppc64"));
    assert_eq!((arch.stdout.as_str(), arch.code), ("ppc64\n", 0));
}

#[test]
fn os_release_without_version_and_sdk_glob() {
    // Debian sid has no VERSION_ID: os-version is empty even if the env has one.
    let sid = HostRoot::new(Some(
        "ID=debian\nPRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\n",
    ));
    let r = run(&Run::new("xx-info", &["os-version"])
        .root(&sid)
        .env("XX_OS_VERSION", "99"));
    assert_eq!(r.stdout, "\n");
    // No os-release: the env's XX_OS_VERSION is used.
    let none = HostRoot::new(None);
    let r = run(&Run::new("xx-info", &["os-version"])
        .root(&none)
        .env("XX_OS_VERSION", "99"));
    assert_eq!(r.stdout, "99\n");
    // A /xx-sdk with SDKs gives the first; an empty one gives xx's unexpanded glob.
    let sdk = HostRoot::new(None);
    std::fs::create_dir_all(sdk.path().join("xx-sdk")).unwrap();
    let darwin = || {
        Run::new("xx-info", &["sysroot"])
            .root(&sdk)
            .env("TARGETPLATFORM", "darwin/arm64")
    };
    assert_eq!(run(&darwin()).stdout, "/xx-sdk/MacOSX*.sdk/\n");
    std::fs::create_dir_all(sdk.path().join("xx-sdk/MacOSX14.0.sdk")).unwrap();
    std::fs::create_dir_all(sdk.path().join("xx-sdk/MacOSX13.3.sdk")).unwrap();
    assert_eq!(run(&darwin()).stdout, "/xx-sdk/MacOSX13.3.sdk/\n");
    // Alpine cross sysroot.
    let alpine = HostRoot::new(Some("ID=alpine\nVERSION_ID=3.20.3\n"));
    std::fs::write(alpine.path().join("etc/alpine-release"), "3.20.3\n").unwrap();
    let r = run(&Run::new("xx-info", &["sysroot"])
        .root(&alpine)
        .env("XX_HOST_MARCH", "x86_64")
        .env("TARGETPLATFORM", "linux/arm64"));
    assert_eq!(r.stdout, "/aarch64-alpine-linux-musl/\n");
    let r = run(&Run::new("xx-info", &["sysroot"])
        .root(&alpine)
        .env("XX_HOST_MARCH", "x86_64")
        .env("TARGETPLATFORM", "linux/amd64"));
    assert_eq!(r.stdout, "/\n");
}

#[test]
fn xx_info_and_xx_space_info_are_the_same() {
    let root = HostRoot::new(Some("ID=debian\nVERSION_ID=12\n"));
    let linked = run(&Run::new("xx-info", &["env"])
        .root(&root)
        .env("TARGETPLATFORM", "linux/s390x"));
    let mut spaced = Run::new("xx", &["info", "env"])
        .root(&root)
        .env("TARGETPLATFORM", "linux/s390x");
    spaced.name = "xx".into();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xx"))
        .args(&spaced.args)
        .env_clear()
        .envs(&spaced.env)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), linked.stdout);
    assert_eq!(out.status.code(), Some(linked.code));
}

#[test]
fn beyond_xx_commands() {
    let root = HostRoot::new(Some("ID=debian\nVERSION_ID=12\n"));
    let cases: &[(&[&str], Env, &str)] = &[
        (
            &["rust-triple"],
            &[("TARGETPLATFORM", "linux/arm/v7")],
            "armv7-unknown-linux-gnueabihf",
        ),
        (
            &["rust-triple"],
            &[("TARGETPLATFORM", "linux/arm/v6"), ("XX_LIBC", "musl")],
            "arm-unknown-linux-musleabihf",
        ),
        (
            &["rust-triple"],
            &[("TARGETPLATFORM", "linux/riscv64")],
            "riscv64gc-unknown-linux-gnu",
        ),
        (
            &["rust-triple"],
            &[("TARGETPLATFORM", "darwin/arm64")],
            "aarch64-apple-darwin",
        ),
        (
            &["rust-triple"],
            &[("TARGETPLATFORM", "windows/amd64")],
            "x86_64-pc-windows-gnu",
        ),
        (
            &["go-env"],
            &[("TARGETPLATFORM", "linux/arm/v6")],
            "GOOS=linux\nGOARCH=arm\nGOARM=6",
        ),
        (
            &["go-env"],
            &[("TARGETPLATFORM", "linux/amd64/v3")],
            "GOOS=linux\nGOAMD64=v3\nGOARCH=amd64",
        ),
        (
            &["go-env"],
            &[("TARGETPLATFORM", "linux/mips/softfloat")],
            "GOOS=linux\nGOARCH=mips\nGOMIPS=softfloat",
        ),
        (
            &["zig-target"],
            &[
                ("TARGETPLATFORM", "linux/arm64"),
                ("XX_GLIBC_VERSION", "2.17"),
            ],
            "aarch64-linux-gnu.2.17",
        ),
        (
            &["qemu"],
            &[("TARGETPLATFORM", "linux/ppc64le")],
            "qemu-ppc64le",
        ),
        (
            &["--platform", "linux/s390x", "triple"],
            &[("TARGETPLATFORM", "linux/arm64")],
            "s390x-linux-gnu",
        ),
        (
            &["--platform=aarch64-unknown-linux-musl", "triple"],
            &[],
            "aarch64-linux-musl",
        ),
        (&["--platform", "armhf"], &[], "arm-linux-gnueabihf"),
        (
            &["triple"],
            &[("TARGETPLATFORM", "linux/aarch64")],
            "aarch64-linux-gnu",
        ),
        (
            &["debian-arch"],
            &[("TARGETPLATFORM", "linux/x86_64")],
            "amd64",
        ),
    ];
    for (args, env, want) in cases {
        let r = run(&Run::new("xx-info", args).root(&root).envs(env));
        assert_eq!(
            (r.stdout.trim_end(), r.code),
            (*want, 0),
            "{env:?} xx-info {args:?}: {}",
            r.stderr
        );
    }
    let json = run(&Run::new("xx-info", &["--json", "--platform", "linux/arm/v7"]).root(&root));
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("--json prints JSON");
    assert_eq!(v["triple"], "arm-linux-gnueabihf");
    assert_eq!(v["rust_triple"], "armv7-unknown-linux-gnueabihf");
    assert_eq!(v["elf"]["float_abi"], "hard");
    let list = run(&Run::new("xx-info", &["list"]).root(&root));
    assert!(list.stdout.lines().count() > 20 && list.stdout.contains("linux/riscv64"));
    let bad = run(&Run::new("xx-info", &["--platform", "wasm32-unknown-unknown"]).root(&root));
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.starts_with("xx-info: unknown platform"),
        "{}",
        bad.stderr
    );
}

/// Issue 9 §1.15: a closed stdout ends a command quietly with 0 (as `| head` users
/// expect), never with println!'s panic, whichever command is writing.
#[test]
fn a_closed_stdout_is_exit_0_and_no_panic() {
    let work = tempfile::tempdir().unwrap();
    let layout = format!("oci:{}", work.path().join("l").display());
    crate::image::one_file_image(work.path(), "x", &layout);
    let xx = env!("CARGO_BIN_EXE_xx");
    let cases: Vec<Vec<&str>> = vec![
        vec!["env-vars"],
        vec!["env-vars", "--markdown"],
        vec!["info", "env"],
        vec!["info", "--json"],
        vec!["info", "list"],
        vec!["verify", "--json", xx],
        vec!["image", "inspect", &layout],
        vec!["image", "inspect", "--raw", &layout],
    ];
    for args in cases {
        let (read_end, write_end) = std::io::pipe().unwrap();
        drop(read_end);
        let out = std::process::Command::new(xx)
            .args(&args)
            .env_clear()
            .env("TARGETPLATFORM", "linux/amd64")
            .stdout(write_end)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "xx {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "xx {args:?}: {stderr}");
    }
    // An unknown command is still exit 1, as xx, when nobody reads its message.
    let (read_end, write_end) = std::io::pipe().unwrap();
    drop(read_end);
    let out = std::process::Command::new(xx)
        .args(["info", "nosuchcommand"])
        .env_clear()
        .stdout(write_end)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
