//! xx-apt: name mapping from apt's lists (plain, .gz and .lz4, as Debian images keep
//! them) under a fake root in dry-run mode, source files, Ubuntu ports entries. The real
//! multiarch install is in tests/multiarch.rs.

use crate::util::{run, Checked, HostRoot, Run};
use std::io::Write;

const AMD64_LIST: &str = "Package: gcc-aarch64-linux-gnu\nArchitecture: amd64\n\n\
    Package: libc6-dev-arm64-cross\nArchitecture: all\n\n\
    Package: python3-jsonschema\nArchitecture: all\n\n\
    Package: gcc-x86-64-linux-gnu\nArchitecture: arm64\n\n\
    Package: libssl-dev\nArchitecture: amd64\n\n\
    Package: libgcc-12-dev\nArchitecture: amd64\n\n\
    Package: gcc-mingw-w64-x86-64\nArchitecture: amd64\n\n\
    Package: libgcc-13-dev-arm64-cross\nArchitecture: all\n";
const ARM64_LIST: &str = "Package: libssl-dev\nArchitecture: arm64\n\n\
    Package: libc6-dev\nArchitecture: arm64\n\n\
    Package: libgcc-12-dev\nArchitecture: arm64\n\n\
    Package: libgcc-13-dev\nArchitecture: arm64\n\n\
    Package: libstdc++-13-dev\nArchitecture: arm64\n\n\
    Package: python3-jsonschema\nArchitecture: all\n";

/// A Debian 12 root with amd64 (.lz4) and arm64 (.gz) lists, arm64 already foreign.
fn debian_root() -> HostRoot {
    let root = HostRoot::new(Some(
        "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
    ));
    let p = root.path();
    std::fs::create_dir_all(p.join("etc/apt/sources.list.d")).unwrap();
    std::fs::write(
        p.join("etc/apt/sources.list.d/debian.sources"),
        "Types: deb\nURIs: http://127.0.0.1:9/debian\nSuites: bookworm\nComponents: main\n",
    )
    .unwrap();
    let lists = p.join("var/lib/apt/lists");
    std::fs::create_dir_all(&lists).unwrap();
    let mut lz4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
    lz4.write_all(AMD64_LIST.as_bytes()).unwrap();
    std::fs::write(
        lists.join("m_debian_dists_bookworm_main_binary-amd64_Packages.lz4"),
        lz4.finish().unwrap(),
    )
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(ARM64_LIST.as_bytes()).unwrap();
    std::fs::write(
        lists.join("m_debian_dists_bookworm_main_binary-arm64_Packages.gz"),
        gz.finish().unwrap(),
    )
    .unwrap();
    std::fs::create_dir_all(p.join("var/lib/dpkg")).unwrap();
    std::fs::write(p.join("var/lib/dpkg/arch"), "amd64\narm64\n").unwrap();
    root
}

fn apt(
    root: &HostRoot,
    name: &str,
    platform: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Checked {
    run(&Run::new(name, args)
        .root(root)
        .env("XX_HOST_MARCH", "x86_64")
        .env("XX_APT_DRY_RUN", "1")
        .env("TARGETPLATFORM", platform)
        .envs(env))
}

#[test]
fn names_are_mapped_from_one_read_of_the_lists() {
    let root = debian_root();
    let r = apt(
        &root,
        "xx-apt-get",
        "linux/arm64",
        &[
            "install",
            "-y",
            "libssl-dev",
            "gcc",
            "python3-jsonschema",
            "xx-c-essentials",
            "xx-cxx-essentials",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // arm64 is foreign already and its lists are newer than the sources: no update.
    assert_eq!(
        r.stderr,
        "+ apt-get  install -y libssl-dev:arm64 gcc-aarch64-linux-gnu python3-jsonschema \
         libc6-dev:arm64 libgcc-13-dev:arm64 libstdc++-13-dev:arm64\n"
    );
    // xx-apt (not -get) runs apt; XX_APT_PREFER_CROSS picks the -cross packages.
    let r = apt(
        &root,
        "xx-apt",
        "linux/arm64",
        &["install", "libc6-dev"],
        &[("XX_APT_PREFER_CROSS", "1")],
    );
    assert_eq!(r.stderr, "+ apt  install libc6-dev-arm64-cross\n");
    // Options with a value stay options (xx takes the value for a package name).
    let r = apt(
        &root,
        "xx-apt-get",
        "linux/arm64",
        &[
            "-o",
            "Dpkg::Options::=--force-confnew",
            "install",
            "libssl-dev",
        ],
        &[],
    );
    assert_eq!(
        r.stderr,
        "+ apt-get  -o Dpkg::Options::=--force-confnew install libssl-dev:arm64\n"
    );
    // Native: names unchanged, meta names resolved from the native lists.
    let r = apt(
        &root,
        "xx-apt-get",
        "linux/amd64",
        &["install", "-y", "xx-c-essentials"],
        &[],
    );
    assert_eq!(r.stderr, "+ apt-get  install -y libc6-dev libgcc-12-dev\n");
    // x86_64 cross packages are spelled x86-64 (Debian names have no underscore).
    let r = run(&Run::new("xx-apt-get", &["install", "gcc"])
        .root(&root)
        .env("XX_HOST_MARCH", "aarch64")
        .env("XX_APT_DRY_RUN", "1")
        .env("TARGETPLATFORM", "linux/amd64"));
    assert!(
        r.stderr
            .ends_with("+ apt-get  install gcc-x86-64-linux-gnu\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn new_arch_is_added_and_stale_lists_refreshed() {
    let root = debian_root();
    std::fs::write(root.path().join("var/lib/dpkg/arch"), "amd64\n").unwrap();
    let r = apt(
        &root,
        "xx-apt-get",
        "linux/arm64",
        &["install", "libssl-dev"],
        &[],
    );
    assert_eq!(
        r.stderr,
        "+ dpkg --add-architecture arm64\n+ apt-get update\n+ apt-get  install libssl-dev:arm64\n"
    );
    // Sources edited after the last update: refresh once.
    std::fs::write(root.path().join("var/lib/dpkg/arch"), "amd64\narm64\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(
        root.path().join("etc/apt/sources.list.d/extra.list"),
        "deb http://127.0.0.1:9/x y z\n",
    )
    .unwrap();
    let r = apt(
        &root,
        "xx-apt-get",
        "linux/arm64",
        &["install", "libssl-dev"],
        &[],
    );
    assert_eq!(
        r.stderr,
        "+ apt-get update\n+ apt-get  install libssl-dev:arm64\n"
    );
}

#[test]
fn skips_as_xx_does() {
    let root = debian_root();
    for (platform, message) in [
        ("darwin/arm64", "skipping packages installation on darwin\n"),
        ("linux/mips64le", "skipping packages installation on mips64le\n"),
        (
            "linux/riscv64",
            "skipping packages installation on riscv64. riscv64 requires Debian 13+ (set XX_APT_FORCE_RISCV64=1 to use debian-ports)\n",
        ),
    ] {
        let r = apt(&root, "xx-apt-get", platform, &["install", "-y", "libssl-dev"], &[]);
        assert_eq!((r.stderr.as_str(), r.code), (message, 0), "{platform}");
    }
    // Windows maps to the mingw cross packages and installs those; names without one
    // are skipped.
    let r = apt(
        &root,
        "xx-apt-get",
        "windows/amd64",
        &["install", "gcc"],
        &[],
    );
    assert_eq!(r.stderr, "+ apt-get  install gcc-mingw-w64-x86-64\n");
    let r = apt(
        &root,
        "xx-apt-get",
        "windows/amd64",
        &["install", "libssl-dev"],
        &[],
    );
    assert_eq!(
        (r.stderr.as_str(), r.code),
        ("skipping packages installation on windows\n", 0)
    );
}

/// riscv64 on Debian 12 with XX_APT_FORCE_RISCV64: debian-ports from the configured
/// mirror, its keyring, then the usual add-architecture/update/install.
#[test]
fn forced_riscv64_uses_debian_ports() {
    let root = debian_root();
    let env = [("XX_APT_FORCE_RISCV64", "1")];
    let r = apt(
        &root,
        "xx-apt-get",
        "linux/riscv64",
        &["install", "libssl-dev"],
        &env,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("help: set XX_APT_PORTS_MIRROR"),
        "{}",
        r.stderr
    );
    let env = [
        ("XX_APT_FORCE_RISCV64", "1"),
        ("XX_APT_PORTS_MIRROR", "http://127.0.0.1:9/debian-ports/"),
    ];
    let r = apt(
        &root,
        "xx-apt-get",
        "linux/riscv64",
        &["install", "libssl-dev"],
        &env,
    );
    assert_eq!(
        r.stderr,
        "+ apt-get install -y debian-ports-archive-keyring\n+ dpkg --add-architecture riscv64\n\
         + apt-get update\n+ apt-get  install libssl-dev:riscv64\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/apt/sources.list.d/riscv64-sid.list"))
            .unwrap(),
        "deb [arch=riscv64] http://127.0.0.1:9/debian-ports sid main\n"
    );
}

#[test]
fn source_files() {
    let root = debian_root();
    let r = apt(
        &root,
        "xx-apt",
        "linux/arm64",
        &["--print-source-file"],
        &[],
    );
    assert_eq!(r.stdout, "/etc/apt/sources.list.d/debian.sources\n");
    let r = apt(
        &root,
        "xx-apt",
        "linux/arm64",
        &[
            "--fix-source-file",
            "/etc/apt/sources.list.d/debian.sources",
            "amd64",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let fixed =
        std::fs::read_to_string(root.path().join("etc/apt/sources.list.d/debian.sources")).unwrap();
    assert_eq!(fixed, "Types: deb\nArchitectures: amd64\nURIs: http://127.0.0.1:9/debian\nSuites: bookworm\nComponents: main\n");
    // One-line format, and idempotent.
    let list = root.path().join("etc/apt/sources.list");
    std::fs::write(&list, "deb http://127.0.0.1:9/debian bookworm main\n# deb-src http://127.0.0.1:9/debian bookworm main\n").unwrap();
    for _ in 0..2 {
        let r = apt(
            &root,
            "xx-apt",
            "linux/arm64",
            &["--fix-source-file", "/etc/apt/sources.list", "amd64"],
            &[],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    assert_eq!(
        std::fs::read_to_string(&list).unwrap(),
        "deb [arch=amd64] http://127.0.0.1:9/debian bookworm main\n# deb-src [arch=amd64] http://127.0.0.1:9/debian bookworm main\n"
    );
    // A relative path is the caller's, not under the host root.
    let mut r = Run::new("xx-apt", &["--fix-source-file", "my.list", "arm64"]).root(&root);
    std::fs::write(
        root.path().join("my.list"),
        "deb http://127.0.0.1:9/d b main\n",
    )
    .unwrap();
    r.cwd = Some(root.path().to_path_buf());
    assert_eq!(run(&r).code, 0);
    assert_eq!(
        std::fs::read_to_string(root.path().join("my.list")).unwrap(),
        "deb [arch=arm64] http://127.0.0.1:9/d b main\n"
    );
}

#[test]
fn ubuntu_foreign_arch_gets_a_ports_entry_in_the_main_files_format() {
    let root = HostRoot::new(Some("ID=ubuntu\nVERSION_ID=\"24.04\"\nVERSION=\"24.04 LTS (Noble Numbat)\"\nVERSION_CODENAME=noble\n"));
    let p = root.path();
    std::fs::create_dir_all(p.join("etc/apt/sources.list.d")).unwrap();
    let main = p.join("etc/apt/sources.list.d/ubuntu.sources");
    std::fs::write(&main, "Types: deb\nURIs: http://127.0.0.1:9/ubuntu/\nSuites: noble noble-updates\nComponents: main\n").unwrap();
    std::fs::create_dir_all(p.join("var/lib/dpkg")).unwrap();
    std::fs::write(p.join("var/lib/dpkg/arch"), "amd64\n").unwrap();
    // No ports mirror configured: one clear error naming the fix.
    let r = apt(
        &root,
        "xx-apt-get",
        "linux/arm64",
        &["install", "libssl-dev"],
        &[],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("help: set XX_APT_PORTS_MIRROR"),
        "{}",
        r.stderr
    );
    let env = [("XX_APT_PORTS_MIRROR", "http://127.0.0.1:9/ubuntu-ports")];
    let r = apt(
        &root,
        "xx-apt-get",
        "linux/arm64",
        &["install", "libssl-dev"],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read_to_string(&main)
        .unwrap()
        .contains("Architectures: amd64\n"));
    assert_eq!(
        std::fs::read_to_string(p.join("etc/apt/sources.list.d/xx-arm64.sources")).unwrap(),
        "Types: deb\nArchitectures: arm64\nURIs: http://127.0.0.1:9/ubuntu-ports/\n\
         Suites: noble noble-updates noble-backports noble-security\n\
         Components: main universe restricted multiverse\nSigned-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n"
    );
}

/// Issue 9 §1.13: a TARGETPLATFORM xx-info rejects is rejected by xx-apt too, before
/// dpkg or a sources file hears of it (it ran `dpkg --add-architecture unknown`).
#[test]
fn unresolvable_targets_run_nothing() {
    let root = debian_root();
    let long = format!("linux/{}", "a".repeat(100_000));
    for platform in [
        "linux/arm64;id",
        "linux/arm64\nid",
        long.as_str(),
        "linux/nonesuch",
    ] {
        let r = apt(
            &root,
            "xx-apt-get",
            platform,
            &["install", "-y", "libssl-dev"],
            &[],
        );
        assert_eq!(r.code, 1, "{platform:.40}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{platform:.40}: {}", r.stderr);
        assert!(
            r.stderr.contains("unsupported target") || r.stderr.contains("is not a platform"),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("+ "), "ran something: {}", r.stderr);
        assert!(
            r.stderr.len() < 300,
            "the whole value echoed back: {}",
            r.stderr.len()
        );
    }
    // An escape-hatch arch must look like a Debian arch name.
    let r = apt(
        &root,
        "xx-apt-get",
        "linux/weird",
        &["install", "libssl-dev"],
        &[
            ("XX_MARCH", "weird"),
            ("XX_TRIPLE", "weird-linux-gnu"),
            ("XX_DEBIAN_ARCH", "x;rm"),
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("not a Debian architecture name"),
        "{}",
        r.stderr
    );
    let arches = std::fs::read_to_string(root.path().join("var/lib/dpkg/arch")).unwrap();
    assert_eq!(arches, "amd64\narm64\n");
}

/// Issue 9 §1.13: a newline in XX_APT_PORTS_MIRROR wrote an extra `deb [trusted=yes]`
/// line; now the value is refused and no sources file is touched.
#[test]
fn mirror_values_are_one_url() {
    let root = HostRoot::new(Some(
        "ID=ubuntu\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\n",
    ));
    let p = root.path();
    std::fs::create_dir_all(p.join("etc/apt/sources.list.d")).unwrap();
    let main = p.join("etc/apt/sources.list.d/ubuntu.sources");
    let original =
        "Types: deb\nURIs: http://127.0.0.1:9/ubuntu/\nSuites: noble\nComponents: main\n";
    std::fs::write(&main, original).unwrap();
    std::fs::create_dir_all(p.join("var/lib/dpkg")).unwrap();
    std::fs::write(p.join("var/lib/dpkg/arch"), "amd64\n").unwrap();
    for bad in [
        "http://127.0.0.1:9/ports noble main\ndeb [trusted=yes] http://127.0.0.1:9/evil",
        "http://127.0.0.1:9/a b",
        "ftp://127.0.0.1/x",
    ] {
        let r = apt(
            &root,
            "xx-apt-get",
            "linux/arm64",
            &["install", "libssl-dev"],
            &[("XX_APT_PORTS_MIRROR", bad)],
        );
        assert_eq!(r.code, 1, "{bad:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("XX_APT_PORTS_MIRROR=") && r.stderr.contains("not a mirror URL"),
            "{}",
            r.stderr
        );
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert_eq!(std::fs::read_to_string(&main).unwrap(), original);
        assert!(!p.join("etc/apt/sources.list.d/xx-arm64.sources").exists());
    }
}

/// The echoed apt line can be pasted back into a shell: odd arguments are quoted.
#[test]
fn the_echo_is_shell_quoted() {
    let root = debian_root();
    let r = apt(
        &root,
        "xx-apt-get",
        "linux/arm64",
        &["install", "-y", "-o", "APT::Get::Comment=a b", "libssl-dev"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("+ apt-get  install -y -o 'APT::Get::Comment=a b' libssl-dev:arm64"),
        "{}",
        r.stderr
    );
}
