//! The `xx sysroot` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Arg, ArgAction, ArgMatches, Command};

use super::{ensure, plan, Request};
use crate::context::Context;
use crate::output;
use crate::platform::Platform;

pub fn command() -> Command {
    let path = |name: &'static str, value: &'static str, help: &'static str| {
        Arg::new(name)
            .long(name)
            .value_name(value)
            .value_parser(clap::value_parser!(PathBuf))
            .help(help)
    };
    let flag = |name: &'static str, help: &'static str| {
        Arg::new(name)
            .long(name)
            .action(ArgAction::SetTrue)
            .help(help)
    };
    Command::new("sysroot")
        .about("Build (or bring up to date) a target's sysroot from Debian/Ubuntu archives, without root; prints its path")
        .arg(Arg::new("platform").long("platform").value_name("OS/ARCH[/VARIANT]").help("Target (default: TARGETPLATFORM, else the host)"))
        .arg(Arg::new("packages").value_name("PKG").num_args(0..).help("Packages beside libc6-dev, libgcc-N-dev, libstdc++-N-dev, linux-libc-dev"))
        .arg(path("dir", "DIR", "Where the sysroot goes (default: XX_HOME's sysroots/<multiarch>)"))
        .arg(Arg::new("suite").long("suite").value_name("SUITE").help("Suite or codename (default: the host's)"))
        .arg(Arg::new("mirror").long("mirror").value_name("URL").help("Archive URL (default: XX_DEBIAN_MIRROR, else the host's apt sources)"))
        .arg(path("keyring", "FILE", "Trust only the keys in FILE (default: the source's Signed-By, else the host's keyrings)"))
        .arg(path("lock", "FILE", "Record the exact set in FILE (with --locked: read it)"))
        .arg(flag("locked", "Build exactly the set in the lock file (default xx-sysroot.lock); fail naming what drifted"))
        .arg(flag("print-plan", "Show what would be fetched and why; change nothing"))
        .arg(flag("json", "Print the result as JSON"))
        .arg(flag("allow-unsigned", "Accept a Release without a valid signature (only for archives trusted by other means)"))
        .arg(flag("ignore-valid-until", "Accept an expired Release (snapshot archives)"))
        .arg(flag("quiet", "No progress lines on stderr").short('q'))
        .arg(Arg::new("jobs").long("jobs").short('j').value_parser(clap::value_parser!(usize)).help("Downloads at once (at most 4)"))
}

pub fn run(ctx: &Context, m: &ArgMatches) -> Result<ExitCode> {
    crate::progress::set_quiet(m.get_flag("quiet"));
    let platform = match m.get_one::<String>("platform") {
        Some(p) => Platform::parse_flag(p)?,
        None => target_platform(ctx)?,
    };
    let req = Request {
        platform,
        packages: m
            .get_many::<String>("packages")
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
        dir: m.get_one::<PathBuf>("dir").cloned(),
        mirror: m.get_one::<String>("mirror").cloned(),
        suite: m.get_one::<String>("suite").cloned(),
        keyring: m.get_one::<PathBuf>("keyring").cloned(),
        allow_unsigned: m.get_flag("allow-unsigned"),
        ignore_valid_until: m.get_flag("ignore-valid-until"),
        lock: m.get_one::<PathBuf>("lock").cloned(),
        locked: m.get_flag("locked"),
        jobs: m.get_one::<usize>("jobs").copied().unwrap_or(4),
        essentials: true,
        leave_out: Vec::new(),
    };
    if m.get_flag("print-plan") {
        return print_plan(ctx, &req, m.get_flag("json"));
    }
    crate::scratch::clean_up_on_signals();
    let out = ensure(ctx, &req)?;
    if m.get_flag("json") {
        let packages: Vec<_> = out
            .set
            .packages
            .iter()
            .map(|p| serde_json::json!({"name": p.name, "version": p.version, "arch": p.arch}))
            .collect();
        let doc = serde_json::json!({
            "platform": req.platform.to_string(),
            "path": out.path,
            "pkg_config": out.pkg_config,
            "changed": out.changed,
            "packages": packages,
        });
        output::line(serde_json::to_string_pretty(&doc)?)?;
    } else {
        output::line(out.path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_plan(ctx: &Context, req: &Request, json: bool) -> Result<ExitCode> {
    let planned = plan(ctx, req)?;
    if json {
        let packages: Vec<_> = planned
            .plan
            .packages
            .iter()
            .map(|(p, why)| serde_json::json!({"name": p.name, "version": p.version.as_str(), "arch": p.arch, "size": p.size, "why": why}))
            .collect();
        let left: Vec<_> = planned
            .plan
            .left_out
            .iter()
            .map(|(n, why)| serde_json::json!({"name": n, "why": why}))
            .collect();
        output::line(serde_json::to_string_pretty(
            &serde_json::json!({"packages": packages, "left_to_build_machine": left}),
        )?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut total = 0;
    for (p, why) in &planned.plan.packages {
        total += p.size;
        output::line(format!(
            "{:<28} {:<24} {:<6} {:>10}  {why}",
            p.name,
            p.version,
            p.arch,
            crate::progress::human(p.size)
        ))?;
    }
    for (name, why) in &planned.plan.left_out {
        output::line(format!("{name:<28} (left to the build machine: {why})"))?;
    }
    output::line(format!(
        "{} packages, {} to fetch, from {}",
        planned.plan.packages.len(),
        crate::progress::human(total),
        planned
            .sources
            .iter()
            .map(|s| format!("{} {}", s.uri, s.suite))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// TARGETPLATFORM (BuildKit's), else the build machine.
pub fn target_platform(ctx: &Context) -> Result<Platform> {
    if let Some(p) = ctx
        .var(crate::env_vars::TARGETPLATFORM)
        .filter(|p| !p.is_empty())
    {
        return Platform::parse(p).map_err(|e| anyhow::anyhow!("TARGETPLATFORM={p}: {e}"));
    }
    Platform::host(ctx)
        .ok_or_else(|| anyhow::anyhow!("cannot tell this machine's platform; pass --platform"))
}
