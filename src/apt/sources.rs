//! apt sources files: which one is the main file, restricting entries to one arch
//! (one-line and deb822 formats), and the Ubuntu ports entries for a foreign arch.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::context::Context;

/// The main sources file, as xx picks it: deb822 for Debian 12+/Ubuntu 24.04+, else
/// the classic one-line file.
pub fn main_file(ctx: &Context) -> PathBuf {
    for candidate in [
        "/etc/apt/sources.list.d/debian.sources",
        "/etc/apt/sources.list.d/ubuntu.sources",
    ] {
        if ctx.host_path(candidate).is_file() {
            return PathBuf::from(candidate);
        }
    }
    PathBuf::from("/etc/apt/sources.list")
}

pub fn is_deb822(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "sources")
}

/// Restricts every entry without an arch to `arch`. Idempotent.
pub fn restrict_to_arch(text: &str, deb822: bool, arch: &str) -> String {
    if deb822 {
        restrict_deb822(text, arch)
    } else {
        text.lines()
            .map(|l| restrict_line(l, arch) + "\n")
            .collect()
    }
}

/// `deb URL suite` → `deb [arch=A] URL suite`; options already there are kept in the
/// same brackets (xx adds a second bracket, which apt rejects).
fn restrict_line(line: &str, arch: &str) -> String {
    let (comment, rest) = match line.strip_prefix("# ") {
        Some(rest) => ("# ", rest),
        None => ("", line),
    };
    let Some((kind, after)) = rest.split_once(' ') else {
        return line.to_string();
    };
    if !(kind == "deb" || kind == "deb-src") || line.contains("arch=") {
        return line.to_string();
    }
    let after = after.trim_start();
    match after.strip_prefix('[') {
        Some(options) => format!("{comment}{kind} [arch={arch} {}", options.trim_start()),
        None => format!("{comment}{kind} [arch={arch}] {after}"),
    }
}

/// Adds `Architectures: A` after `Types:` in every stanza that has none.
fn restrict_deb822(text: &str, arch: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for stanza in split_stanzas(text) {
        let has_arch = stanza.lines().any(|l| l.starts_with("Architectures:"));
        for line in stanza.lines() {
            out.push_str(line);
            out.push('\n');
            if !has_arch && line.starts_with("Types:") {
                out.push_str(&format!("Architectures: {arch}\n"));
            }
        }
    }
    out
}

/// Stanzas with their trailing blank line kept, so the text round-trips.
fn split_stanzas(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    while let Some(pos) = text[start..].find("\n\n") {
        let end = start + pos + 2;
        parts.push(&text[start..end]);
        start = end;
    }
    if start < text.len() {
        parts.push(&text[start..]);
    }
    parts
}

/// `--fix-source-file FILE ARCH`.
pub fn fix_file(path: &Path, arch: &str) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let fixed = restrict_to_arch(&text, is_deb822(path), arch);
    if fixed != text {
        crate::fsutil::write_atomic(path, fixed.as_bytes())?;
    }
    Ok(())
}

/// The URIs of the main file's entries (for the suites a foreign-arch entry repeats).
pub fn uris(text: &str, deb822: bool) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if deb822 {
            if let Some(v) = line.strip_prefix("URIs:") {
                out.extend(v.split_whitespace().map(str::to_string));
            }
        } else if line.starts_with("deb ") || line.starts_with("deb-src ") {
            let words: Vec<&str> = line.split_whitespace().collect();
            let after_options = words
                .iter()
                .skip(1)
                .skip_while(|w| w.starts_with('[') || !w.contains(':'));
            if let Some(uri) = after_options.clone().next() {
                out.push(uri.to_string());
            }
        }
    }
    out
}

/// One `deb` entry of a sources file (one-line or a deb822 stanza).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub uri: String,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    /// `Architectures:` / `[arch=…]`; empty: every arch.
    pub archs: Vec<String>,
    pub signed_by: Option<String>,
}

/// The binary (`deb`) entries of a sources file, one per URI.
pub fn entries(text: &str, deb822: bool) -> Vec<Entry> {
    if deb822 {
        return split_stanzas(text)
            .into_iter()
            .flat_map(deb822_entries)
            .collect();
    }
    text.lines().filter_map(one_line_entry).collect()
}

fn deb822_entries(stanza: &str) -> Vec<Entry> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in stanza.lines() {
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
    let words = |k: &str| {
        get(k)
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    if !words("types").iter().any(|t| t == "deb") || get("enabled").is_some_and(|e| e == "no") {
        return Vec::new();
    }
    words("uris")
        .into_iter()
        .map(|uri| Entry {
            uri,
            suites: words("suites"),
            components: words("components"),
            archs: words("architectures"),
            signed_by: get("signed-by").map(str::to_string),
        })
        .collect()
}

fn one_line_entry(line: &str) -> Option<Entry> {
    let rest = line.trim().strip_prefix("deb ")?.trim_start();
    let (options, rest) = match rest.strip_prefix('[') {
        Some(r) => r.split_once(']')?,
        None => ("", rest),
    };
    let mut words = rest.split_whitespace();
    let uri = words.next()?.to_string();
    let suite = words.next()?.to_string();
    let mut entry = Entry {
        uri,
        suites: vec![suite],
        components: words.map(str::to_string).collect(),
        archs: Vec::new(),
        signed_by: None,
    };
    for option in options.split_whitespace() {
        match option.split_once('=') {
            Some(("arch", v)) => entry.archs = v.split(',').map(str::to_string).collect(),
            Some(("signed-by", v)) => entry.signed_by = Some(v.to_string()),
            _ => {}
        }
    }
    Some(entry)
}

/// The entries an Ubuntu host needs for a foreign arch served from the ports mirror.
pub fn ubuntu_ports_entry(
    deb822: bool,
    arch: &str,
    mirror: &str,
    codename: &str,
    keyring: &str,
) -> String {
    let mirror = mirror.trim_end_matches('/');
    let suites = [
        codename.to_string(),
        format!("{codename}-updates"),
        format!("{codename}-backports"),
        format!("{codename}-security"),
    ];
    if deb822 {
        format!(
            "Types: deb\nArchitectures: {arch}\nURIs: {mirror}/\nSuites: {}\n\
             Components: main universe restricted multiverse\nSigned-By: {keyring}\n",
            suites.join(" ")
        )
    } else {
        suites
            .iter()
            .map(|s| {
                format!("deb [arch={arch}] {mirror}/ {s} main restricted universe multiverse\n")
            })
            .collect()
    }
}

/// The main archive's mirror (for amd64/i386 on Ubuntu): `XX_APT_PRIMARY_MIRROR`, else a
/// configured URI that is not a ports mirror (an arm64 host has only ports URIs).
pub fn primary_mirror(ctx: &Context, configured: &[String]) -> Result<String> {
    if let Some(m) = ctx.var(crate::env_vars::XX_APT_PRIMARY_MIRROR) {
        return checked_mirror(crate::env_vars::XX_APT_PRIMARY_MIRROR, m);
    }
    match configured.iter().find(|u| !u.trim_end_matches('/').ends_with("-ports")) {
        Some(u) => Ok(u.clone()),
        None => bail!(
            "this arch is served from the distribution's main archive, and only a ports mirror is configured\n\
             help: set XX_APT_PRIMARY_MIRROR to the main archive's URL"
        ),
    }
}

/// A mirror URL from the environment goes into a sources file as one token: a newline
/// or space in it would add entries (`deb [trusted=yes] …`) of the caller's choosing.
fn checked_mirror(var: &str, url: &str) -> Result<String> {
    let scheme_ok = ["http://", "https://", "file:/"]
        .iter()
        .any(|s| url.starts_with(s));
    let clean = url
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '[' | ']' | '"' | '\''));
    if !scheme_ok || !clean {
        bail!(
            "{var}={:?}: not a mirror URL (one http://, https:// or file:/ URL, no spaces or brackets)",
            url.chars().take(80).collect::<String>()
        );
    }
    Ok(url.to_string())
}

/// The ports mirror: `XX_APT_PORTS_MIRROR`, else a ports URI already configured.
pub fn ports_mirror(ctx: &Context, configured: &[String]) -> Result<String> {
    if let Some(m) = ctx.var(crate::env_vars::XX_APT_PORTS_MIRROR) {
        return checked_mirror(crate::env_vars::XX_APT_PORTS_MIRROR, m);
    }
    match configured
        .iter()
        .find(|u| u.trim_end_matches('/').ends_with("-ports"))
    {
        Some(u) => Ok(u.clone()),
        None => bail!(
            "this arch is served from the distribution's ports mirror, and none is configured\n\
             help: set XX_APT_PORTS_MIRROR to the ports mirror's URL (as in your apt sources)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_files() {
        let text = "deb http://m/debian bookworm main\n# deb-src http://m/debian bookworm main\n\
                    deb [signed-by=/k.gpg] http://m/x bookworm main\ndeb [arch=amd64] http://m/y b main\n";
        let fixed = restrict_to_arch(text, false, "amd64");
        assert_eq!(
            fixed,
            "deb [arch=amd64] http://m/debian bookworm main\n# deb-src [arch=amd64] http://m/debian bookworm main\n\
             deb [arch=amd64 signed-by=/k.gpg] http://m/x bookworm main\ndeb [arch=amd64] http://m/y b main\n"
        );
        assert_eq!(
            restrict_to_arch(&fixed, false, "amd64"),
            fixed,
            "idempotent"
        );
    }

    #[test]
    fn deb822_files() {
        let text = "Types: deb\nURIs: http://m/debian\nSuites: bookworm\n\nTypes: deb\nArchitectures: arm64\nURIs: http://p/\n";
        let fixed = restrict_to_arch(text, true, "amd64");
        assert_eq!(
            fixed,
            "Types: deb\nArchitectures: amd64\nURIs: http://m/debian\nSuites: bookworm\n\nTypes: deb\nArchitectures: arm64\nURIs: http://p/\n"
        );
        assert_eq!(restrict_to_arch(&fixed, true, "amd64"), fixed, "idempotent");
        assert_eq!(uris(text, true), ["http://m/debian", "http://p/"]);
    }

    #[test]
    fn entries_of_both_formats() {
        let deb822 = "Types: deb deb-src\nURIs: http://m/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\
                      Signed-By: /usr/share/keyrings/k.gpg\n\nTypes: deb-src\nURIs: http://src/\nSuites: x\n";
        let all = entries(deb822, true);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].suites, ["bookworm", "bookworm-updates"]);
        assert_eq!(
            all[0].signed_by.as_deref(),
            Some("/usr/share/keyrings/k.gpg")
        );
        let line = "deb [arch=amd64,arm64 signed-by=/k.gpg] http://m/ubuntu jammy main universe\n# deb http://x y z\ndeb-src http://s a b\n";
        let all = entries(line, false);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].archs, ["amd64", "arm64"]);
        assert_eq!(all[0].components, ["main", "universe"]);
    }
}
