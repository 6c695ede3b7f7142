//! Reading a platform from the forms users write: `os/arch[/variant]` (TARGETPLATFORM),
//! `os-arch[variant]` (TARGETPAIR), containerd-style arch aliases and target triples.

use std::str::FromStr;

use super::table;

/// One field of `echo "$s" | cut -d"$delim" -f"$n"`: without the delimiter, every field
/// is the whole string (cut's rule, which xx inherits).
pub fn cut_field(s: &str, delim: char, n: usize) -> &str {
    if !s.contains(delim) {
        return s;
    }
    s.split(delim).nth(n - 1).unwrap_or("")
}

/// containerd-style arch aliases (the table's `aliases` column), applied only to names no
/// row has, so xx's own names keep xx's meaning: aarch64 → arm64, armhf → arm/v7, …
pub fn normalize_alias(arch: &str, variant: &str) -> Option<(&'static str, String)> {
    if table::TARGETS.iter().any(|t| t.arch == arch) {
        return None;
    }
    let lower = arch.to_ascii_lowercase();
    let row = table::TARGETS
        .iter()
        .find(|t| t.aliases.contains(&lower.as_str()))?;
    let variant = if row.variant.is_empty() {
        variant
    } else {
        row.variant
    };
    Some((row.arch, variant.to_string()))
}

/// A platform given on the command line (`--platform`): `os/arch[/variant]`, a bare arch
/// (`arm64`, `aarch64`), or a target triple (`aarch64-unknown-linux-musl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliPlatform {
    /// In TARGETPLATFORM form, resolved by the same rules as the environment.
    pub platform: String,
    /// The libc a triple names (`musl`), to be used as XX_LIBC.
    pub libc: Option<String>,
}

pub fn parse_cli_platform(text: &str) -> Result<CliPlatform, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty platform".into());
    }
    if text.contains('/') {
        return Ok(CliPlatform {
            platform: text.to_string(),
            libc: None,
        });
    }
    if !text.contains('-') {
        return Ok(CliPlatform {
            platform: format!("linux/{text}"),
            libc: None,
        });
    }
    from_triple(text)
}

/// A GNU, clang, xx or Rust triple: first by the table's own spellings (what xx-info and
/// xx-cc write, e.g. `riscv64gc-unknown-linux-gnu`, `armv6-alpine-linux-musleabihf`),
/// then by target-lexicon's parse of Rust triples.
fn from_triple(text: &str) -> Result<CliPlatform, String> {
    from_spellings(text).map_or_else(|| from_lexicon(text), Ok)
}

fn from_spellings(text: &str) -> Option<CliPlatform> {
    let parts: Vec<&str> = text.split('-').collect();
    let (arch, last) = (*parts.first()?, *parts.last()?);
    let os = if parts.contains(&"linux") {
        "linux"
    } else if last.starts_with("macos") || last == "darwin" {
        "darwin"
    } else if last == "mingw32" || parts.contains(&"windows") {
        "windows"
    } else {
        return None;
    };
    let (libc, abi) = ["gnu", "musl"]
        .iter()
        .find_map(|libc| last.strip_prefix(libc).map(|abi| (*libc, abi)))
        .unwrap_or(("", ""));
    let row = table::TARGETS.iter().filter(|t| t.os == os).find(|t| {
        let p = &t.triple;
        let rust_arches = t.rust.iter().filter_map(|(_, r)| r.split('-').next());
        let arch_ok = [Some(p.arch), p.alpine_arch, p.clang_arch]
            .into_iter()
            .flatten()
            .chain(rust_arches)
            .chain(t.aliases.iter().copied())
            .any(|a| a == arch);
        let rust_abis = t.rust.iter().filter_map(|(_, r)| r.rsplit('-').next());
        let abi_ok =
            os != "linux"
                || [Some(p.abi), p.alpine_abi]
                    .into_iter()
                    .flatten()
                    .chain(rust_abis.filter_map(|env| {
                        env.strip_prefix("gnu").or_else(|| env.strip_prefix("musl"))
                    }))
                    .any(|a| a == abi);
        arch_ok && abi_ok
    })?;
    Some(CliPlatform {
        platform: row.platform.to_string(),
        libc: (libc == "musl").then(|| "musl".to_string()),
    })
}

fn from_lexicon(text: &str) -> Result<CliPlatform, String> {
    use target_lexicon::{Environment, OperatingSystem, Triple};
    let unknown =
        || format!("unknown platform {text:?}: expected os/arch[/variant] or a target triple");
    let triple = Triple::from_str(text).map_err(|_| unknown())?;
    let arch = triple.architecture;
    let os = match triple.operating_system {
        OperatingSystem::Linux => "linux",
        OperatingSystem::Darwin(_) | OperatingSystem::MacOSX(_) => "darwin",
        OperatingSystem::Windows => "windows",
        _ => return Err(unknown()),
    };
    let musl = matches!(
        triple.environment,
        Environment::Musl
            | Environment::Musleabi
            | Environment::Musleabihf
            | Environment::Muslabi64
    );
    let soft_float = matches!(
        triple.environment,
        Environment::Gnueabi | Environment::Musleabi
    );
    // The row whose Rust triple has this architecture (and float ABI, for arm) wins.
    let row = table::TARGETS
        .iter()
        .filter(|t| t.os == os)
        .find(|t| {
            t.rust.iter().any(|(_, rust)| {
                Triple::from_str(rust).is_ok_and(|r| {
                    r.architecture == arch
                        && matches!(r.environment, Environment::Gnueabi | Environment::Musleabi)
                            == soft_float
                })
            })
        })
        .ok_or_else(unknown)?;
    Ok(CliPlatform {
        platform: row.platform.to_string(),
        libc: musl.then(|| "musl".to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_semantics() {
        assert_eq!(cut_field("linux/arm/v7", '/', 3), "v7");
        assert_eq!(cut_field("linux/arm", '/', 3), "");
        assert_eq!(cut_field("amd64", '/', 2), "amd64");
    }

    #[test]
    fn aliases() {
        let alias = |a: &str| normalize_alias(a, "").map(|(a, v)| format!("{a}/{v}"));
        assert_eq!(alias("aarch64").as_deref(), Some("arm64/"));
        assert_eq!(alias("armhf").as_deref(), Some("arm/v7"));
        assert_eq!(alias("armel").as_deref(), Some("arm/v6"));
        assert_eq!(alias("X86_64").as_deref(), Some("amd64/"));
        assert_eq!(normalize_alias("arm64", ""), None);
        assert_eq!(normalize_alias("ppc64", ""), None);
    }

    #[test]
    fn triples() {
        let p = parse_cli_platform("aarch64-unknown-linux-musl").unwrap();
        assert_eq!(p.platform, "linux/arm64");
        assert_eq!(p.libc.as_deref(), Some("musl"));
        assert_eq!(
            parse_cli_platform("armv7-unknown-linux-gnueabihf")
                .unwrap()
                .platform,
            "linux/arm/v7"
        );
        assert_eq!(
            parse_cli_platform("arm-unknown-linux-gnueabi")
                .unwrap()
                .platform,
            "linux/arm/v6"
        );
        assert_eq!(
            parse_cli_platform("x86_64-apple-darwin").unwrap().platform,
            "darwin/amd64"
        );
        assert_eq!(
            parse_cli_platform("riscv64gc-unknown-linux-gnu")
                .unwrap()
                .platform,
            "linux/riscv64"
        );
        assert!(parse_cli_platform("wasm32-unknown-unknown").is_err());
        // What xx-info and xx-cc write as alias names.
        for (triple, platform) in [
            ("riscv64-linux-gnu", "linux/riscv64"),
            ("riscv64gc-unknown-linux-gnu", "linux/riscv64"),
            ("arm-linux-gnueabihf", "linux/arm/v7"),
            ("armv7-unknown-linux-gnueabihf", "linux/arm/v7"),
            ("arm-linux-gnueabi", "linux/arm/v6"),
            ("armv6-alpine-linux-musleabihf", "linux/arm/v6"),
            ("armv5-alpine-linux-musleabi", "linux/arm/v5"),
            ("i686-linux-gnu", "linux/386"),
            ("i586-alpine-linux-musl", "linux/386"),
            ("powerpc64le-linux-gnu", "linux/ppc64le"),
            ("mips64el-linux-gnuabi64", "linux/mips64le"),
            ("loongarch64-linux-gnu", "linux/loong64"),
            ("x86_64-alpine-linux-musl", "linux/amd64"),
            ("arm64-apple-macos11.0", "darwin/arm64"),
            ("x86_64-w64-mingw32", "windows/amd64"),
            ("aarch64-w64-mingw32", "windows/arm64"),
        ] {
            assert_eq!(
                parse_cli_platform(triple).map(|p| p.platform).as_deref(),
                Ok(platform),
                "{triple}"
            );
        }
    }
}
