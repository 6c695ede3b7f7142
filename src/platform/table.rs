//! The target table's types and the data embedded from `toolchains/targets.toml`.

/// How the variant part of `TARGETPLATFORM` is taken for an arch (xx's per-arch rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformVariant {
    /// The third part is ignored; `TARGETVARIANT` from the environment is kept.
    Ignored,
    /// Only variants that have a row are taken (amd64: v2, v3, v4).
    Known,
    /// Known variants are taken, anything else becomes the default row's (arm: v7).
    KnownOrDefault,
    /// Copied as it is (mips: hardfloat, softfloat).
    Verbatim,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Elf,
    MachO,
    Pe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

/// Which package-arch column a vendor's package manager uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkgArch {
    Deb,
    Apk,
    Rpm,
}

#[derive(Debug)]
pub struct TripleParts {
    pub arch: &'static str,
    pub abi: &'static str,
    /// Environment variable whose value replaces `arch` (`ARM_TARGET_ARCH`).
    pub arch_env: Option<&'static str>,
    pub alpine_arch: Option<&'static str>,
    pub alpine_abi: Option<&'static str>,
    /// xx-cargo's default for `arch_env`: the Rust spelling (`armv7`, `riscv64gc`).
    pub cargo_arch: Option<&'static str>,
    /// The arch clang accepts when `arch_env` names one it does not (`riscv64gc`).
    pub clang_arch: Option<&'static str>,
}

/// What xx-apt needs to know about an arch beyond its names.
#[derive(Debug)]
pub struct AptFacts {
    /// No packages are installed for it (mips, as in xx).
    pub skip: bool,
    /// Debian releases older than this have the arch only in debian-ports.
    pub debian_ports_before: Option<u32>,
    /// The variable that allows debian-ports; without it the arch is skipped there.
    pub force_env: Option<&'static str>,
    /// The first Ubuntu major release with the arch.
    pub ubuntu_since: Option<u32>,
}

#[derive(Debug)]
pub struct BinaryInfo {
    /// ELF `e_machine`, Mach-O CPU type or PE machine, by the os's format.
    pub machine: u32,
    pub bits: u8,
    pub endian: Endian,
    pub float_abi: Option<&'static str>,
    pub float_abi_musl: Option<&'static str>,
    pub arm_arch: Option<u8>,
    pub loader_gnu: Option<&'static str>,
    pub loader_musl: Option<&'static str>,
}

#[derive(Debug)]
pub struct Target {
    pub platform: &'static str,
    pub os: &'static str,
    pub arch: &'static str,
    pub variant: &'static str,
    pub default: bool,
    pub platform_variant: PlatformVariant,
    pub extra_variants: &'static [&'static str],
    pub aliases: &'static [&'static str],
    pub march: &'static str,
    pub deb: &'static str,
    pub apk: &'static str,
    pub rpm: &'static str,
    pub triple: TripleParts,
    pub rust: &'static [(&'static str, &'static str)],
    pub zig: &'static [(&'static str, &'static str)],
    /// zig's `-mcpu` where its default CPU is too new for the platform (armv6, armv5).
    pub zig_cpu: Option<&'static str>,
    pub go: &'static [(&'static str, &'static str)],
    pub go_variant: Option<&'static str>,
    pub qemu: Option<&'static str>,
    /// Meson's `cpu_family`.
    pub meson: &'static str,
    /// lld can link this target (lld 14 cannot link riscv64, s390x, loong64).
    pub lld: bool,
    /// lld's static output is trusted (XX_CC_PREFER_STATIC_LINKER says no for 386, ppc64le).
    pub lld_static: bool,
    /// Debian's multiarch tuple, where it is not the GNU triple.
    pub multiarch: Option<&'static str>,
    /// Suffix of Debian's cross packages where it is not the triple (`mingw-w64-x86-64`).
    pub apt_suffix: Option<&'static str>,
    pub apt: AptFacts,
    pub macos_min: Option<&'static str>,
    /// llvm-cvtres's `-machine:` for xx-windres, and the `--target` spellings (globs with
    /// `*` at either end, xx's) that select it.
    pub windres_machine: Option<&'static str>,
    pub windres_targets: &'static [&'static str],
    /// The order xx-windres tries the rows' globs in (xx's `case`: 386 before amd64).
    pub windres_rank: u8,
    /// First Alpine release with the arch: xx-apk points an older host's repositories
    /// at this release for the target root.
    pub apk_since: Option<&'static str>,
    pub bin: BinaryInfo,
    pub file_arch: &'static [&'static str],
}

#[derive(Debug)]
pub struct OsInfo {
    pub name: &'static str,
    /// CMake's `CMAKE_SYSTEM_NAME`.
    pub cmake: &'static str,
    pub triple: Option<&'static str>,
    pub vendor: Option<&'static str>,
    pub libc: Option<&'static str>,
    /// MACOSX_VERSION_MIN default for rows without their own.
    pub macos_min: Option<&'static str>,
    pub format: Format,
    pub file: &'static [&'static str],
    pub file_reject: &'static [&'static str],
    /// `xx-verify --static` applies (xx checks linking on linux and freebsd only).
    pub static_check: bool,
    /// Linkers xx-cc takes before its usual order, first found on PATH wins (darwin's
    /// ld64.signed, ld64); when none is found, the last one's bare name, as xx.
    pub cc_linkers: &'static [&'static str],
    /// What xx-cc's config adds for a cross target of this os: `{triple}` and `{sdk}`
    /// (xx-info sysroot, without its trailing `/`) are filled in.
    pub cc_cross_flags: Option<&'static str>,
    /// Where the os's cross gcc keeps its libgcc and libstdc++ (`{triple}` filled in) when
    /// clang cannot find it itself: one directory per version, picked by xx-cc.
    pub cc_gcc_dir: Option<&'static str>,
    /// The `XX_CC_PREFER_LINKER` xx-cargo links Rust with, where the usual one cannot.
    pub cargo_linker: Option<&'static str>,
}

/// An arch only xx-verify knows (no triples, no packages): what its binaries look like.
#[derive(Debug)]
pub struct VerifyOnly {
    pub arch: &'static str,
    pub machine: u32,
    pub bits: u8,
    pub endian: Endian,
    pub file_arch: &'static [&'static str],
}

#[derive(Debug)]
pub struct VendorInfo {
    pub name: &'static str,
    pub pkg_arch: PkgArch,
    pub libc: Option<&'static str>,
    pub omit_from_triple: bool,
    /// Arches the main archive serves; the others come from a ports mirror (Ubuntu).
    pub primary_arches: &'static [&'static str],
}

include!(concat!(env!("OUT_DIR"), "/targets.rs"));

impl Target {
    /// A per-libc column (`rust`, `zig`): the libc's entry, else the `any` entry.
    pub fn by_libc(
        column: &'static [(&'static str, &'static str)],
        libc: &str,
    ) -> Option<&'static str> {
        let find = |key: &str| column.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        find(libc).or_else(|| find("any"))
    }

    pub fn loader(&self, libc: &str) -> Option<&'static str> {
        if libc == "musl" {
            self.bin.loader_musl
        } else {
            self.bin.loader_gnu
        }
    }

    pub fn float_abi(&self, libc: &str) -> Option<&'static str> {
        match (libc, self.bin.float_abi_musl) {
            ("musl", Some(abi)) => Some(abi),
            _ => self.bin.float_abi,
        }
    }

    pub fn os_info(&self) -> &'static OsInfo {
        os_info(self.os).expect("build.rs checks every row's os")
    }
}

pub fn os_info(name: &str) -> Option<&'static OsInfo> {
    OSES.iter().find(|o| o.name == name)
}

pub fn vendor_info(name: &str) -> Option<&'static VendorInfo> {
    VENDORS.iter().find(|v| v.name == name)
}

/// The row for os/arch/variant; an unknown or empty variant gets the arch's default row.
pub fn find(os: &str, arch: &str, variant: &str) -> Option<&'static Target> {
    let rows = || TARGETS.iter().filter(|t| t.os == os && t.arch == arch);
    rows()
        .find(|t| t.variant == variant && !variant.is_empty())
        .or_else(|| rows().find(|t| t.default))
}

/// The default row of an arch, any os, linux first (what xx's per-arch rules hang on).
pub fn arch_default(arch: &str) -> Option<&'static Target> {
    find("linux", arch, "").or_else(|| TARGETS.iter().find(|t| t.arch == arch && t.default))
}

/// Reverse lookup of `uname -m`: the first row whose march matches.
pub fn by_march(march: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.march == march)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn every_rust_triple_is_valid() {
        for t in TARGETS {
            for (libc, rust) in t.rust {
                let parsed = target_lexicon::Triple::from_str(rust).unwrap_or_else(|e| {
                    panic!(
                        "{}: rust triple {rust} ({libc}) is invalid: {e}",
                        t.platform
                    )
                });
                assert_eq!(parsed.to_string(), *rust, "{} round trip", t.platform);
            }
        }
    }

    #[test]
    fn march_reverse_lookup_round_trips() {
        // Every linux default row is found again from its own `uname -m`.
        for t in TARGETS.iter().filter(|t| t.os == "linux" && t.default) {
            let back = by_march(t.march).expect("march maps back");
            assert_eq!(
                (back.arch, back.variant),
                (t.arch, t.variant),
                "{}",
                t.platform
            );
        }
    }

    #[test]
    fn every_row_is_found_by_its_platform() {
        for t in TARGETS {
            let found = find(t.os, t.arch, t.variant).expect("row is found");
            assert_eq!(found.platform, t.platform);
        }
    }
}
