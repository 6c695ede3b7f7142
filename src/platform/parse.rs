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

fn from_triple(text: &str) -> Result<CliPlatform, String> {
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
    }
}
