//! Every environment variable xx reads, in one place, with its documentation.
//! `xx env-vars` prints this table; the README's table is `xx env-vars --markdown`
//! (scripts/gen-docs writes it; a test fails when the README is stale).

pub struct EnvVar {
    pub name: &'static str,
    pub used_by: &'static str,
    pub doc: &'static str,
}

macro_rules! env_vars {
    ($($name:ident, $used_by:literal, $doc:literal;)*) => {
        // Some exist only to be documented (read by xx's scripts, accepted by ours).
        $(#[allow(dead_code)] pub const $name: &str = stringify!($name);)*
        pub static ALL: &[EnvVar] = &[$(EnvVar { name: stringify!($name), used_by: $used_by, doc: $doc },)*];
    };
}

env_vars! {
    TARGETPLATFORM, "info verify", "Target as os/arch[/variant] (BuildKit sets it), e.g. linux/arm/v7.";
    TARGETPAIR, "info verify", "Target as os-arch[variant], e.g. linux-armv7; TARGETPLATFORM wins.";
    TARGETOS, "info verify", "Target os when TARGETPLATFORM is unset (default linux).";
    TARGETARCH, "info verify", "Target arch when TARGETPLATFORM is unset (default: the host's).";
    TARGETVARIANT, "info verify", "Target variant when TARGETPLATFORM does not give one.";
    XX_VENDOR, "info", "Vendor part of the triple; default the os-release ID (apple for darwin).";
    XX_LIBC, "info", "libc part of the triple: gnu, musl (default musl on Alpine, mingw32 on windows).";
    ARM_TARGET_ARCH, "info", "Replaces the arch of the arm/v7 triple (e.g. armv7).";
    RISCV64_TARGET_ARCH, "info", "Replaces the arch of the riscv64 triple (e.g. riscv64gc).";
    MACOSX_VERSION_MIN, "info", "Deployment target in darwin triples (default 10.6 amd64, 11.0 arm64).";
    XX_MARCH, "info", "march for an arch xx does not know (escape hatch; known arches ignore it).";
    XX_TRIPLE, "info", "Triple for an arch xx does not know.";
    XX_DEBIAN_ARCH, "info", "Debian arch for an arch xx does not know.";
    XX_ALPINE_ARCH, "info", "Alpine arch for an arch xx does not know.";
    XX_RHEL_ARCH, "info", "RPM arch for an arch xx does not know.";
    XX_OS_VERSION, "info", "os-version when there is no /etc/os-release.";
    XX_GLIBC_VERSION, "info", "glibc version appended to `xx info zig-target` (e.g. 2.17).";
    XX_PREFIX, "cc", "Directory for <triple>.cfg and the <triple>-* aliases (default /usr/bin as root in a container, else ~/.local/share/xx/bin).";
    XX_CC_COMPILER, "cc", "Backend: clang (the default, as xx), gcc (Debian's <triple>-gcc) or zig.";
    XX_CC_DEPTH, "cc", "Set by xx-cc for the compiler it runs; a loop back into xx stops at 3.";
    XX_CC_PREFER_LINKER, "cc", "lld (default), ld or gold.";
    XX_GO_PREFER_C_COMPILER, "go", "cgo's compiler: clang (default: xx-clang's aliases) or zig (`zig cc -target …`); the target's gcc when neither is found.";
    XX_WINDRES_DRYRUN, "windres", "Set: xx-windres prints its commands (preprocessor, llvm-rc, llvm-cvtres) instead of running them.";
    XX_TMP_FILE_FIXED, "windres", "With XX_WINDRES_DRYRUN: the temporary names printed (NAME, NAME_, …), as xx's tests use.";
    CC, "windres", "xx-windres's preprocessor when --preprocessor is not given (else clang, else gcc).";
    GOARM, "go", "Kept when set; else xx-go sets it from the arm variant (5, 6, else 7).";
    GOAMD64, "go", "Kept when set; else xx-go sets it from the amd64 variant (v2-v4).";
    GOMIPS, "go", "Kept when set; else the mips/mipsle variant (hardfloat, softfloat).";
    GOMIPS64, "go", "Kept when set; else the mips64/mips64le variant.";
    GOBIN, "go", "Set: xx-go leaves PATH alone; unset: $GOPATH/bin/<GOOS>_<GOARCH> goes first on PATH.";
    GOPATH, "go", "Where `go install` puts cross-built commands (bin/<GOOS>_<GOARCH>).";
    XX_CC_PREFER_STATIC_LINKER, "cc", "Set: bfd ld where lld's static output is not trusted (386, ppc64le).";
    XX_APK_NOLOCK, "apk", "Set: xx-apk takes no lock (/var/lock/xx-apk); xx-apk sets it for the apk it runs.";
    XX_APK_KEEP_BINARIES, "apk", "Accepted as xx: xx's removal of the target root's usr/bin never matches anything (a quoted glob), so binaries are always kept.";
    XX_APT_PREFER_CROSS, "apt", "Prefer Debian's <pkg>-<arch>-cross packages over <pkg>:<arch>.";
    XX_APT_FORCE_RISCV64, "apt", "Install riscv64 packages even where the distribution release has none.";
    XX_APT_NOLOCK, "apt", "Do not take /var/lock/xx-apt (set for nested calls).";
    XX_APT_DRY_RUN, "apt", "Print the dpkg/apt commands instead of running them (source files are still written).";
    XX_APT_PRIMARY_MIRROR, "apt", "URL of the main archive for arches it serves, when the host's sources name only a ports mirror.";
    XX_APT_PORTS_MIRROR, "apt", "URL of the ports mirror for arches the distribution serves there (Ubuntu arm64, …).";
    XX_RUSTFLAGS, "cargo", "RUSTFLAGS for the target only (CARGO_TARGET_<T>_RUSTFLAGS).";
    RUSTFLAGS, "cargo", "Kept; cargo reads it before CARGO_TARGET_<T>_RUSTFLAGS, so xx-cargo appends its --sysroot (a managed std) to it.";
    CARGO_ENCODED_RUSTFLAGS, "cargo", "As RUSTFLAGS (cargo reads it first).";
    XX_CARGO_NOLOCK, "cargo", "Do not take the setup lock.";
    XX_CARGO_TOOLCHAIN, "cargo", "rustup or distro: which cargo/rustc builds (default: the cargo on PATH).";
    XX_VERIFY_STATIC, "verify", "1: every file must be statically linked (like --static).";
    XX_VERIFY_FILE_CMD_OUTPUT, "verify", "Check this text as if file(1) had printed it, instead of reading the file.";
    XX_VERIFY_NOLOCK, "verify", "Accepted for compatibility; xx-verify takes no lock.";
    SOURCE_DATE_EPOCH, "image windres", "Seconds since 1970: every layer entry's mtime and the config's `created` (default 0); the timestamp of xx-windres's objects.";
    XX_REGISTRY_CHUNK_SIZE, "image", "Blobs larger than this many bytes are uploaded in chunks of this size (default 67108864).";
    XX_REGISTRY_ENDPOINTS, "image", "NAME=HOST[:PORT],…: connect to HOST for references naming registry NAME (a mirror, or where NAME's API lives); credentials stay NAME's.";
    XX_NET_MIN_RATE, "image", "Bytes per second a download must average over each window (default 1024); a slower one is dropped and retried.";
    XX_NET_RATE_WINDOW, "image", "Seconds of the window XX_NET_MIN_RATE is checked over (default 30).";
    SSL_CERT_FILE, "image", "PEM bundle of the CAs registries are checked against (default /etc/ssl/certs/ca-certificates.crt, else Mozilla's roots).";
    DOCKER_CONFIG, "image", "Directory of the docker config.json with registry credentials (default ~/.docker).";
    REGISTRY_AUTH_FILE, "image", "Podman/skopeo auth.json, read when the docker config has nothing for the registry.";
    XX_HOME, "sysroot toolchain", "Where managed sysroots and toolchains live, with the download cache in XX_HOME/cache (default ~/.local/share/xx and ~/.cache/xx; /usr/local/share/xx as root in a container).";
    XX_DEBIAN_MIRROR, "sysroot", "Archive URL for `xx sysroot` when --mirror is not given (default: the host's apt sources).";
    XX_DEBIAN_SUITE, "sysroot", "Suite for `xx sysroot` when --suite is not given (default: the host's).";
    XX_DEBIAN_KEYRING, "sysroot", "Keyring file for `xx sysroot` when --keyring is not given (default: the source's Signed-By, else the host's keyrings).";
    XX_NO_DOWNLOAD, "cc cargo", "1: never fetch a sysroot on first use; fail naming the command that would.";
    XX_HOST_ROOT, "all", "Read /etc/os-release, /etc/alpine-release and /xx-sdk under this directory (tests).";
    XX_HOST_MARCH, "all", "Use this as the host's `uname -m` (tests, personality-changed hosts).";
}

/// The README's table of variables.
pub fn markdown() -> String {
    let mut out = String::from("| variable | used by | meaning |\n|---|---|---|\n");
    for v in ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            v.name,
            v.used_by,
            v.doc.replace('|', "\\|")
        ));
    }
    out
}
