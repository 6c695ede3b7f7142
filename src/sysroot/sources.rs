//! Which archives a sysroot comes from: `--mirror` (or `XX_DEBIAN_MIRROR`) with
//! `--suite` (or `XX_DEBIAN_SUITE`, else the host's codename), else the host's own apt
//! sources — the file xx-apt reads, Ubuntu's ports mirror for the arches served there.
//! Mirrors are never written into xx.

use anyhow::{anyhow, bail, Result};

use crate::apt::sources;
use crate::context::{Context, OsRelease};
use crate::debian::archive::Source;
use crate::env_vars as ev;
use crate::platform::{self, Resolved};

pub fn select(
    ctx: &Context,
    target: &Resolved,
    mirror: Option<&str>,
    suite: Option<&str>,
) -> Result<Vec<Source>> {
    let suite = suite
        .or(ctx.var(ev::XX_DEBIAN_SUITE))
        .filter(|s| !s.is_empty());
    if let Some(uri) = mirror
        .or(ctx.var(ev::XX_DEBIAN_MIRROR))
        .filter(|m| !m.is_empty())
    {
        check_uri(uri)?;
        let suite = match suite {
            Some(s) => s.to_string(),
            None => host_codename(ctx)?,
        };
        return Ok(vec![Source {
            uri: uri.to_string(),
            suite,
            components: vec!["main".into()],
            signed_by: None,
        }]);
    }
    from_host(ctx, target, suite)
}

fn from_host(ctx: &Context, target: &Resolved, suite: Option<&str>) -> Result<Vec<Source>> {
    let main = sources::main_file(ctx);
    let text = std::fs::read_to_string(ctx.host_path(&main.to_string_lossy())).map_err(|e| {
        anyhow!("cannot read the host's apt sources {} ({e})\nhelp: pass --mirror URL --suite SUITE (or set XX_DEBIAN_MIRROR)", main.display())
    })?;
    let entries = sources::entries(&text, sources::is_deb822(&main));
    let wanted = |s: &str| {
        suite.is_none_or(|want| {
            s == want || s.strip_prefix(want).is_some_and(|r| r.starts_with('-'))
        })
    };
    let ubuntu_ports = OsRelease::read(ctx).is_some_and(|r| r.id == "ubuntu")
        && !platform::vendor_info("ubuntu")
            .is_some_and(|v| v.primary_arches.contains(&target.deb.as_str()));
    let uris: Vec<String> = entries.iter().map(|e| e.uri.clone()).collect();
    let ports = if ubuntu_ports {
        Some(sources::ports_mirror(ctx, &uris)?)
    } else {
        None
    };
    let mut out = Vec::new();
    for entry in &entries {
        if !entry.archs.is_empty() && !entry.archs.contains(&target.deb) && ports.is_none() {
            continue;
        }
        let uri = match &ports {
            Some(p) if !entry.uri.trim_end_matches('/').ends_with("-ports") => {
                // Ubuntu's security and main archives have the same layout on ports.
                p.clone()
            }
            _ => entry.uri.clone(),
        };
        for s in entry.suites.iter().filter(|s| wanted(s)) {
            let source = Source {
                uri: uri.clone(),
                suite: s.clone(),
                components: entry.components.clone(),
                signed_by: entry.signed_by.clone(),
            };
            if check_uri(&source.uri).is_ok() && !out.contains(&source) {
                out.push(source);
            }
        }
    }
    if out.is_empty() {
        match (suite, entries.first()) {
            (Some(s), Some(first)) => out.push(Source { uri: first.uri.clone(), suite: s.to_string(), components: vec!["main".into()], signed_by: first.signed_by.clone() }),
            _ => bail!(
                "no usable deb entry in {} for {}\nhelp: pass --mirror URL --suite SUITE (or set XX_DEBIAN_MIRROR)",
                main.display(),
                target.deb
            ),
        }
    }
    Ok(out)
}

fn host_codename(ctx: &Context) -> Result<String> {
    OsRelease::read(ctx)
        .map(|r| r.codename)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| anyhow!("cannot tell the host's suite (no VERSION_CODENAME in /etc/os-release)\nhelp: pass --suite SUITE"))
}

fn check_uri(uri: &str) -> Result<()> {
    let ok = (uri.starts_with("http://") || uri.starts_with("https://"))
        && uri.chars().all(|c| c.is_ascii_graphic());
    if !ok {
        bail!("{uri:?}: xx sysroot reads http:// and https:// archives only");
    }
    Ok(())
}
