//! The target of this invocation, resolved from the environment by tonistiigi/xx's rules
//! (TARGETPAIR, then TARGETPLATFORM, then TARGETOS/ARCH/VARIANT, then `uname -m`), and
//! every name of it, taken from the table.

use super::parse::{cut_field, normalize_alias};
use super::table::{self, PlatformVariant, Target};
use crate::context::{Context, OsRelease};
use crate::env_vars as ev;

/// The vendors' and the target's names, as `xx-info env` prints them.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub os: String,
    pub arch: String,
    pub variant: String,
    /// The table row, if the arch is known.
    pub target: Option<&'static Target>,
    pub distro: String,
    pub vendor: String,
    pub libc: String,
    pub os_version: String,
    pub march: String,
    pub deb: String,
    pub apk: String,
    pub rpm: String,
    pub pkg_arch: String,
    pub triple: String,
    /// `--target` for clang (the triple, with arches clang knows).
    pub clang_triple: String,
    /// The Debian/GNU triple: cross gcc and binutils names (`aarch64-linux-gnu`).
    pub gnu_triple: String,
    pub macos_min: String,
}

impl Resolved {
    pub fn from_context(ctx: &Context) -> Resolved {
        let (os, arch, variant) = requested(ctx);
        let os_release = OsRelease::read(ctx);
        resolve(ctx, os, arch, variant, os_release)
    }

    /// Every name of `platform` (`os/arch[/variant]`), as if TARGETPLATFORM said it.
    pub fn for_platform(ctx: &Context, platform: &str) -> Resolved {
        let mut scoped = ctx.clone_vars();
        scoped.set_var(ev::TARGETPAIR, "");
        scoped.set_var(ev::TARGETPLATFORM, platform);
        Resolved::from_context(&scoped)
    }

    /// Debian's multiarch tuple (`/usr/lib/<multiarch>`).
    pub fn multiarch(&self) -> &str {
        self.target
            .and_then(|t| t.multiarch)
            .unwrap_or(&self.gnu_triple)
    }

    /// xx's failure rule: no arch, an arch without march, or no triple.
    pub fn is_supported(&self) -> bool {
        !self.arch.is_empty() && self.march != "unknown" && self.triple != "unknown-unknown-none"
    }

    pub fn unsupported_message(&self) -> String {
        let arch = if self.arch.is_empty() {
            "unknown"
        } else {
            &self.arch
        };
        format!(
            "unsupported target: os={} arch={arch} variant={}",
            self.os, self.variant
        )
    }

    /// `os/arch[/variant]` of the resolved target.
    pub fn platform(&self) -> String {
        if self.variant.is_empty() {
            format!("{}/{}", self.os, self.arch)
        } else {
            format!("{}/{}/{}", self.os, self.arch, self.variant)
        }
    }

    /// Target and host differ (xx's `is-cross`: same march on linux is native).
    pub fn is_cross(&self, host_march: &str) -> bool {
        !(self.march == host_march && self.os == "linux")
    }
}

/// TARGETPAIR, then TARGETPLATFORM, over TARGETOS/TARGETARCH/TARGETVARIANT.
fn requested(ctx: &Context) -> (String, String, String) {
    let env = |name| ctx.var(name).unwrap_or("").to_string();
    let (mut os, mut arch, mut variant) = (
        env(ev::TARGETOS),
        env(ev::TARGETARCH),
        env(ev::TARGETVARIANT),
    );

    if let Some(pair) = ctx.var(ev::TARGETPAIR) {
        let p_os = cut_field(pair, '-', 1);
        let mut p_arch = cut_field(pair, '-', 2);
        let mut p_variant = "";
        if let Some(rest) = p_arch.strip_prefix("arm").filter(|r| r.starts_with('v')) {
            p_variant = rest;
            p_arch = "arm";
        }
        if !p_os.is_empty() && !p_arch.is_empty() {
            os = p_os.to_string();
            arch = p_arch.to_string();
            if !p_variant.is_empty() {
                variant = p_variant.to_string();
            }
        }
    }

    if let Some(platform) = ctx.var(ev::TARGETPLATFORM) {
        let p_os = cut_field(platform, '/', 1);
        let p_arch = cut_field(platform, '/', 2);
        if !p_os.is_empty() && !p_arch.is_empty() {
            os = p_os.to_string();
            arch = p_arch.to_string();
            let p_variant = cut_field(platform, '/', 3);
            if let Some(v) = platform_variant(&arch, p_variant) {
                variant = v;
            }
        }
    }

    if let Some((alias_arch, alias_variant)) = normalize_alias(&arch, &variant) {
        arch = alias_arch.to_string();
        variant = alias_variant;
    }
    (os, arch, variant)
}

/// The variant the third part of TARGETPLATFORM gives for this arch, by the arch's rule.
fn platform_variant(arch: &str, given: &str) -> Option<String> {
    let default = table::arch_default(arch)?;
    let known = || {
        table::TARGETS
            .iter()
            .any(|t| t.arch == arch && !t.variant.is_empty() && t.variant == given)
            || default.extra_variants.contains(&given)
    };
    match default.platform_variant {
        PlatformVariant::Ignored => None,
        PlatformVariant::Known => known().then(|| given.to_string()),
        PlatformVariant::KnownOrDefault if known() => Some(given.to_string()),
        PlatformVariant::KnownOrDefault => Some(default.variant.to_string()),
        PlatformVariant::Verbatim => Some(given.to_string()),
    }
}

fn resolve(
    ctx: &Context,
    mut os: String,
    mut arch: String,
    mut variant: String,
    os_release: Option<OsRelease>,
) -> Resolved {
    let env = |name| ctx.var(name).unwrap_or("").to_string();
    let distro = os_release
        .as_ref()
        .map(|r| r.id.clone())
        .unwrap_or_default();
    // xx sources os-release: when it exists, its VERSION_ID (even empty) replaces the env.
    let os_version = match &os_release {
        Some(r) => r.version_id.clone(),
        None => env(ev::XX_OS_VERSION),
    };

    let vendor = ctx
        .var(ev::XX_VENDOR)
        .map(str::to_string)
        .unwrap_or_else(|| {
            let os_vendor = table::os_info(&os).and_then(|o| o.vendor);
            match (os_vendor, distro.as_str()) {
                (Some(v), _) => v.to_string(),
                (None, "") => "unknown".to_string(),
                (None, d) => d.to_string(),
            }
        });

    let libc = ctx.var(ev::XX_LIBC).map(str::to_string).unwrap_or_else(|| {
        let os_libc = table::os_info(&os).and_then(|o| o.libc);
        let distro_libc = table::vendor_info(&distro).and_then(|v| v.libc);
        os_libc.or(distro_libc).unwrap_or("gnu").to_string()
    });

    if arch.is_empty() {
        if let Some(host) = table::by_march(&ctx.host_march()) {
            arch = host.arch.to_string();
            if !host.variant.is_empty() {
                variant = host.variant.to_string();
            }
        }
    }
    if os.is_empty() {
        os = "linux".to_string();
    }
    if variant.is_empty() {
        if let Some(default) = table::arch_default(&arch) {
            variant = default.variant.to_string();
        }
    }

    // Oses without rows of their own (freebsd, …) use linux's, as xx does.
    let target =
        table::find(&os, &arch, &variant).or_else(|| table::find("linux", &arch, &variant));
    let macos_min = match ctx.var(ev::MACOSX_VERSION_MIN) {
        Some(v) => v.to_string(),
        None => table::os_info(&os)
            .and_then(|o| o.macos_min)
            .map(|os_default| {
                let row = table::find(&os, &arch, "").and_then(|t| t.macos_min);
                row.unwrap_or(os_default).to_string()
            })
            .unwrap_or_default(),
    };
    let vendor_info = table::vendor_info(&vendor);
    let mut r = Resolved {
        os,
        arch,
        variant,
        target,
        distro,
        vendor,
        libc,
        os_version,
        march: env_or(ctx, ev::XX_MARCH, "unknown"),
        deb: env_or(ctx, ev::XX_DEBIAN_ARCH, "unknown"),
        apk: env_or(ctx, ev::XX_ALPINE_ARCH, "unknown"),
        rpm: env_or(ctx, ev::XX_RHEL_ARCH, "unknown"),
        pkg_arch: String::new(),
        triple: env_or(ctx, ev::XX_TRIPLE, "unknown-unknown-none"),
        clang_triple: String::new(),
        gnu_triple: String::new(),
        macos_min,
    };
    if let Some(t) = target {
        r.march = t.march.to_string();
        r.deb = t.deb.to_string();
        r.apk = t.apk.to_string();
        r.rpm = t.rpm.to_string();
        r.triple = triple(ctx, t, &r, TripleStyle::Xx);
        r.clang_triple = triple(ctx, t, &r, TripleStyle::Clang);
        r.gnu_triple = triple(ctx, t, &r, TripleStyle::Gnu);
    }
    r.pkg_arch = match vendor_info {
        Some(v) => match v.pkg_arch {
            table::PkgArch::Deb => r.deb.clone(),
            table::PkgArch::Apk => r.apk.clone(),
            table::PkgArch::Rpm => r.rpm.clone(),
        },
        None => r.arch.clone(),
    };
    r
}

fn env_or(ctx: &Context, name: &str, default: &str) -> String {
    ctx.var(name).unwrap_or(default).to_string()
}

/// Which of a target's triples to spell.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TripleStyle {
    /// `xx-info triple`: vendor, Alpine spellings and the *_TARGET_ARCH overrides, as xx.
    Xx,
    /// What clang accepts as `--target`: as Xx, but arches clang does not know
    /// (`riscv64gc`) fall back to the row's `clang_arch`.
    Clang,
    /// The GNU/Debian triple of binutils and cross gcc: no vendor, no overrides.
    Gnu,
}

/// A triple from the row's parts and its os's template.
fn triple(ctx: &Context, t: &Target, r: &Resolved, style: TripleStyle) -> String {
    let alpine = r.vendor == "alpine" && style != TripleStyle::Gnu;
    let parts = &t.triple;
    let overridden = parts
        .arch_env
        .filter(|_| style != TripleStyle::Gnu)
        .and_then(|name| ctx.var(name));
    let arch = match (style, overridden, parts.clang_arch) {
        (TripleStyle::Clang, Some(_), Some(clang_arch)) => Some(clang_arch),
        (_, over, _) => over,
    }
    .or(if alpine { parts.alpine_arch } else { None })
    .unwrap_or(parts.arch);
    let abi = if alpine { parts.alpine_abi } else { None }.unwrap_or(parts.abi);
    let omit = style == TripleStyle::Gnu
        || table::vendor_info(&r.vendor).is_some_and(|v| v.omit_from_triple);
    let vendor = if omit {
        String::new()
    } else {
        format!("-{}", r.vendor)
    };
    let libc = if style == TripleStyle::Gnu && r.libc != "musl" {
        "gnu"
    } else {
        &r.libc
    };
    let template = t
        .os_info()
        .triple
        .unwrap_or("{arch}{vendor}-linux-{libc}{abi}");
    template
        .replace("{arch}", arch)
        .replace("{vendor}", &vendor)
        .replace("{libc}", libc)
        .replace("{abi}", abi)
        .replace("{macos}", &r.macos_min)
}
