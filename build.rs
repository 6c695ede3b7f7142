//! Embeds `toolchains/targets.toml` as static Rust data, so the helpers start without
//! parsing anything. The table is validated here: a bad row fails the build, not a user.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    os: BTreeMap<String, Os>,
    vendor: BTreeMap<String, Vendor>,
    target: Vec<Row>,
    verify_only: Vec<VerifyOnly>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyOnly {
    arch: String,
    bin: Bin,
    file: FilePatterns,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Os {
    /// CMake's CMAKE_SYSTEM_NAME.
    cmake: String,
    triple: Option<String>,
    vendor: Option<String>,
    libc: Option<String>,
    macos_min: Option<String>,
    format: String,
    file: Vec<String>,
    #[serde(default)]
    file_reject: Vec<String>,
    #[serde(default)]
    static_check: bool,
    #[serde(default)]
    cc_linkers: Vec<String>,
    cc_cross_flags: Option<String>,
    cc_gcc_dir: Option<String>,
    cargo_linker: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vendor {
    pkg_arch: String,
    libc: Option<String>,
    #[serde(default)]
    omit_from_triple: bool,
    #[serde(default)]
    primary_arches: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    platform: String,
    #[serde(default)]
    default: bool,
    platform_variant: Option<String>,
    #[serde(default)]
    extra_variants: Vec<String>,
    #[serde(default)]
    aliases: Vec<String>,
    march: String,
    deb: String,
    apk: String,
    rpm: String,
    triple: Triple,
    #[serde(default)]
    rust: BTreeMap<String, String>,
    #[serde(default)]
    zig: BTreeMap<String, String>,
    zig_cpu: Option<String>,
    go: BTreeMap<String, String>,
    go_variant: Option<String>,
    qemu: Option<String>,
    meson: String,
    #[serde(default)]
    cc: CcFacts,
    multiarch: Option<String>,
    apt_suffix: Option<String>,
    #[serde(default)]
    apt: AptFacts,
    macos_min: Option<String>,
    windres: Option<Windres>,
    apk_since: Option<String>,
    bin: Bin,
    file: FilePatterns,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Windres {
    machine: String,
    targets: Vec<String>,
    rank: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Triple {
    arch: String,
    #[serde(default)]
    abi: String,
    arch_env: Option<String>,
    alpine_arch: Option<String>,
    alpine_abi: Option<String>,
    clang_arch: Option<String>,
    cargo_arch: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct AptFacts {
    skip: bool,
    debian_ports_before: Option<u32>,
    force_env: Option<String>,
    ubuntu_since: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct CcFacts {
    lld: bool,
    lld_static: bool,
}

impl Default for CcFacts {
    fn default() -> Self {
        CcFacts {
            lld: true,
            lld_static: true,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Bin {
    machine: u32,
    bits: u8,
    endian: String,
    float_abi: Option<String>,
    float_abi_musl: Option<String>,
    arm_arch: Option<u8>,
    loader_gnu: Option<String>,
    loader_musl: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePatterns {
    arch: Vec<String>,
}

fn main() {
    let src = Path::new("toolchains/targets.toml");
    println!("cargo:rerun-if-changed={}", src.display());
    let text = std::fs::read_to_string(src).expect("read toolchains/targets.toml");
    let table: Table = toml::from_str(&text).unwrap_or_else(|e| panic!("targets.toml: {e}"));
    validate(&table);
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("targets.rs"), generate(&table)).expect("write targets.rs");
    codec_versions();
}

/// The compressor versions from Cargo.lock, recorded in every layer's annotation: a
/// digest says exactly which code made its bytes.
fn codec_versions() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    for (krate, var) in [
        ("zlib-rs", "XX_ZLIB_RS_VERSION"),
        ("zstd-sys", "XX_ZSTD_SYS_VERSION"),
    ] {
        let needle = format!("name = \"{krate}\"\nversion = \"");
        let version = lock
            .find(&needle)
            .map(|i| &lock[i + needle.len()..])
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("unknown");
        println!("cargo:rustc-env={var}={version}");
    }
}

fn validate(table: &Table) {
    let mut seen = std::collections::BTreeSet::new();
    let mut defaults = std::collections::BTreeSet::new();
    for row in &table.target {
        let parts: Vec<&str> = row.platform.split('/').collect();
        assert!(
            (2..=3).contains(&parts.len()),
            "targets.toml: bad platform {}",
            row.platform
        );
        assert!(seen.insert(&row.platform), "duplicate row {}", row.platform);
        assert!(
            table.os.contains_key(parts[0]),
            "{}: os {} has no [os] entry",
            row.platform,
            parts[0]
        );
        if row.default {
            let key = format!("{}/{}", parts[0], parts[1]);
            assert!(defaults.insert(key), "{}: second default row", row.platform);
        }
        assert!(
            ["little", "big"].contains(&row.bin.endian.as_str()),
            "{}: endian",
            row.platform
        );
        if let Some(pv) = &row.platform_variant {
            assert!(
                ["known", "known_or_default", "verbatim"].contains(&pv.as_str()),
                "{}: platform_variant {pv}",
                row.platform
            );
        }
    }
    for row in &table.target {
        let parts: Vec<&str> = row.platform.split('/').collect();
        let key = format!("{}/{}", parts[0], parts[1]);
        assert!(defaults.contains(&key), "{key} has no default row");
    }
    for (name, os) in &table.os {
        assert!(
            ["elf", "macho", "pe"].contains(&os.format.as_str()),
            "os {name}: format"
        );
    }
    for (name, v) in &table.vendor {
        assert!(
            ["deb", "apk", "rpm"].contains(&v.pkg_arch.as_str()),
            "vendor {name}: pkg_arch"
        );
    }
}

fn opt(v: &Option<String>) -> String {
    match v {
        Some(s) => format!("Some({s:?})"),
        None => "None".into(),
    }
}

fn opt_num(v: Option<u32>) -> String {
    match v {
        Some(n) => format!("Some({n})"),
        None => "None".into(),
    }
}

fn strs(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
    format!("&[{}]", items.join(", "))
}

fn pairs(m: &BTreeMap<String, String>) -> String {
    let items: Vec<String> = m.iter().map(|(k, v)| format!("({k:?}, {v:?})")).collect();
    format!("&[{}]", items.join(", "))
}

fn generate(table: &Table) -> String {
    let mut s =
        String::from("// Generated by build.rs from toolchains/targets.toml. Do not edit.\n");
    s.push_str("pub static OSES: &[OsInfo] = &[\n");
    for (name, os) in &table.os {
        let format = match os.format.as_str() {
            "elf" => "Format::Elf",
            "macho" => "Format::MachO",
            _ => "Format::Pe",
        };
        let _ = writeln!(
            s,
            "    OsInfo {{ name: {name:?}, cmake: {:?}, triple: {}, vendor: {}, libc: {}, macos_min: {}, format: {format}, file: {}, file_reject: {}, static_check: {}, cc_linkers: {}, cc_cross_flags: {}, cc_gcc_dir: {}, cargo_linker: {} }},",
            os.cmake,
            opt(&os.triple),
            opt(&os.vendor),
            opt(&os.libc),
            opt(&os.macos_min),
            strs(&os.file),
            strs(&os.file_reject),
            os.static_check,
            strs(&os.cc_linkers),
            opt(&os.cc_cross_flags),
            opt(&os.cc_gcc_dir),
            opt(&os.cargo_linker),
        );
    }
    s.push_str("];\n\npub static VENDORS: &[VendorInfo] = &[\n");
    for (name, v) in &table.vendor {
        let pkg = match v.pkg_arch.as_str() {
            "deb" => "PkgArch::Deb",
            "apk" => "PkgArch::Apk",
            _ => "PkgArch::Rpm",
        };
        let _ = writeln!(
            s,
            "    VendorInfo {{ name: {name:?}, pkg_arch: {pkg}, libc: {}, omit_from_triple: {}, primary_arches: {} }},",
            opt(&v.libc),
            v.omit_from_triple,
            strs(&v.primary_arches)
        );
    }
    s.push_str("];\n\npub static TARGETS: &[Target] = &[\n");
    for row in &table.target {
        let mut parts = row.platform.split('/');
        let os = parts.next().unwrap_or_default();
        let arch = parts.next().unwrap_or_default();
        let variant = parts.next().unwrap_or_default();
        let platform_variant = match row.platform_variant.as_deref() {
            Some("known") => "PlatformVariant::Known",
            Some("known_or_default") => "PlatformVariant::KnownOrDefault",
            Some(_) => "PlatformVariant::Verbatim",
            None => "PlatformVariant::Ignored",
        };
        let t = &row.triple;
        let b = &row.bin;
        let endian = if b.endian == "big" {
            "Endian::Big"
        } else {
            "Endian::Little"
        };
        let arm_arch = match b.arm_arch {
            Some(v) => format!("Some({v})"),
            None => "None".into(),
        };
        let _ = writeln!(
            s,
            "    Target {{ platform: {:?}, os: {os:?}, arch: {arch:?}, variant: {variant:?}, default: {}, \
             platform_variant: {platform_variant}, extra_variants: {}, aliases: {}, march: {:?}, deb: {:?}, apk: {:?}, rpm: {:?}, \
             triple: TripleParts {{ arch: {:?}, abi: {:?}, arch_env: {}, alpine_arch: {}, alpine_abi: {}, clang_arch: {}, cargo_arch: {} }}, \
             rust: {}, zig: {}, zig_cpu: {}, go: {}, go_variant: {}, qemu: {}, meson: {:?}, lld: {}, lld_static: {}, multiarch: {}, apt_suffix: {}, apt: AptFacts {{ skip: {}, debian_ports_before: {}, force_env: {}, ubuntu_since: {} }}, macos_min: {}, windres_machine: {}, windres_targets: {}, windres_rank: {}, apk_since: {}, \
             bin: BinaryInfo {{ machine: {}, bits: {}, endian: {endian}, float_abi: {}, float_abi_musl: {}, arm_arch: {arm_arch}, loader_gnu: {}, loader_musl: {} }}, \
             file_arch: {} }},",
            row.platform,
            row.default,
            strs(&row.extra_variants),
            strs(&row.aliases),
            row.march,
            row.deb,
            row.apk,
            row.rpm,
            t.arch,
            t.abi,
            opt(&t.arch_env),
            opt(&t.alpine_arch),
            opt(&t.alpine_abi),
            opt(&t.clang_arch),
            opt(&t.cargo_arch),
            pairs(&row.rust),
            pairs(&row.zig),
            opt(&row.zig_cpu),
            pairs(&row.go),
            opt(&row.go_variant),
            opt(&row.qemu),
            row.meson,
            row.cc.lld,
            row.cc.lld_static,
            opt(&row.multiarch),
            opt(&row.apt_suffix),
            row.apt.skip,
            opt_num(row.apt.debian_ports_before),
            opt(&row.apt.force_env),
            opt_num(row.apt.ubuntu_since),
            opt(&row.macos_min),
            opt(&row.windres.as_ref().map(|w| w.machine.clone())),
            strs(row.windres.as_ref().map(|w| w.targets.as_slice()).unwrap_or_default()),
            row.windres.as_ref().map_or(0, |w| w.rank),
            opt(&row.apk_since),
            b.machine,
            b.bits,
            opt(&b.float_abi),
            opt(&b.float_abi_musl),
            opt(&b.loader_gnu),
            opt(&b.loader_musl),
            strs(&row.file.arch),
        );
    }
    s.push_str("];\n\npub static VERIFY_ONLY: &[VerifyOnly] = &[\n");
    for v in &table.verify_only {
        let endian = if v.bin.endian == "big" {
            "Endian::Big"
        } else {
            "Endian::Little"
        };
        let _ = writeln!(
            s,
            "    VerifyOnly {{ arch: {:?}, machine: {}, bits: {}, endian: {endian}, file_arch: {} }},",
            v.arch,
            v.bin.machine,
            v.bin.bits,
            strs(&v.file.arch)
        );
    }
    s.push_str("];\n");
    s
}
