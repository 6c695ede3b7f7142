//! `xx build`: one build command run once per platform with that target's environment
//! (xx-cc's and xx-cargo's machinery, not a copy of it), natively — no emulation —, in
//! parallel within `-j`, a log per platform; every artifact checked by xx-verify's
//! rules; then all of them packed by `xx image create`'s code into one index.
//!
//! `cargo …` runs as xx-cargo, one platform at a time in one shared target directory:
//! cargo locks that directory for a whole run, so parallel runs would only queue on the
//! lock, while one after another they share the host's build scripts and proc macros
//! (built once), and each run keeps every core busy through cargo's own jobserver.

mod artifacts;
pub mod command;
mod live;
mod report;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{anyhow, bail, Context as _, Result};

use crate::context::Context;
use crate::env_vars as ev;
use crate::image::CreateArgs;
use crate::platform::Resolved;

pub use command::command;

/// `xx build`'s options, parsed.
pub struct BuildArgs {
    pub platforms: Vec<String>,
    pub jobs: Option<usize>,
    pub artifacts: Vec<String>,
    pub output: Option<String>,
    pub check: crate::verify::Check,
    pub log_dir: PathBuf,
    pub command: Vec<String>,
    pub insecure: bool,
    /// The image options, passed on to `xx image create` (platforms and output filled in
    /// after the builds).
    pub image: CreateArgs,
}

/// How one platform went.
pub struct Outcome {
    pub target: Resolved,
    pub log: PathBuf,
    pub seconds: f64,
    pub result: std::result::Result<artifacts::Verified, String>,
}

pub fn run(ctx: &Context, m: &clap::ArgMatches) -> Result<ExitCode> {
    crate::scratch::clean_up_on_signals();
    crate::progress::set_quiet(m.get_flag("quiet"));
    let args = command::args(m)?;
    let targets = resolve_all(ctx, &args.platforms)?;
    let mut ctx = ctx.clone_vars();
    if ctx.var(ev::SOURCE_DATE_EPOCH).is_none() {
        if let Some(epoch) = last_commit_time() {
            ctx.set_var(ev::SOURCE_DATE_EPOCH, &epoch);
        }
    }
    let bin = crate::scratch::ScratchDir::new_in(&ctx.temp_dir(), "xx-build-bin.")?;
    crate::links::install(
        bin.path(),
        crate::PERSONALITIES,
        crate::fsutil::this_exe()?,
        true,
    )?;
    std::fs::create_dir_all(&args.log_dir)
        .with_context(|| format!("cannot create the log directory {}", args.log_dir.display()))?;
    let cargo = args.command.first().is_some_and(|c| c == "cargo");
    let setup = Setup {
        bin: bin.path(),
        cargo,
        host_linker: shared_host_linker(&ctx, &targets),
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = if cargo { 1 } else { args.jobs.unwrap_or(cpus) };
    let live = live::Live::new(
        targets
            .iter()
            .map(|t| (t.platform(), log_path(&args, t)))
            .collect(),
    );
    // A queue, not batches: a slow platform never holds a free slot back.
    let mut outcomes: Vec<Outcome> = Vec::new();
    std::thread::scope(|s| {
        s.spawn(|| live.run_ticker());
        let built = crate::jobs::pipeline(
            &targets,
            jobs,
            |t| {
                let i = targets.iter().position(|x| std::ptr::eq(x, t));
                Ok(build_one(&ctx, &args, t, &setup, &live, i))
            },
            |_, outcome| {
                outcomes.push(outcome);
                Ok(())
            },
        );
        live.end();
        built
    })?;
    drop(live);
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    let packed = match (&args.output, failed.is_empty()) {
        (Some(output), true) => Some(pack(&ctx, &args, &outcomes, output, cpus)),
        _ => None,
    };
    let (image, pack_error) = match packed {
        Some(Ok(created)) => (Some(created), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    // The table first, whatever failed; its own failure (a closed stdout) never turns
    // a failed build into success.
    let printed = report::print(&outcomes, image.as_ref());
    if let Some(e) = pack_error {
        return Err(e);
    }
    if failed.is_empty() {
        printed?;
        return Ok(ExitCode::SUCCESS);
    }
    for o in &failed {
        report::tail_of_log(o);
    }
    let names: Vec<String> = failed.iter().map(|o| o.target.platform()).collect();
    bail!(
        "{} of {} platforms failed: {} (logs in {})",
        failed.len(),
        outcomes.len(),
        names.join(", "),
        args.log_dir.display()
    )
}

fn resolve_all(ctx: &Context, platforms: &[String]) -> Result<Vec<Resolved>> {
    let mut targets: Vec<Resolved> = Vec::new();
    for p in platforms {
        let parsed =
            crate::platform::parse_cli_platform(p).map_err(|e| anyhow!("--platform {p}: {e}"))?;
        let t = Resolved::for_platform(ctx, &parsed.platform);
        if !t.is_supported() {
            bail!("--platform {p}: {}", t.unsupported_message());
        }
        if targets.iter().any(|q| q.platform() == t.platform()) {
            bail!("--platform {} is given twice", t.platform());
        }
        targets.push(t);
    }
    Ok(targets)
}

/// What every platform's run shares.
struct Setup<'a> {
    /// xx's helpers under their names, first on PATH.
    bin: &'a Path,
    /// The cargo shorthand: the command runs as xx-cargo.
    cargo: bool,
    /// The native platform's cargo linker variable, given to every platform's run.
    host_linker: Option<(String, PathBuf)>,
}

/// With the native platform among several, cargo's host units (build scripts, proc
/// macros) link with the native target's linker in its run; the other runs get the same
/// variable, or cargo would fingerprint their host units apart and build them (and all
/// that depends on a proc macro) again in every run that follows another. Set for any
/// command: a script may run xx-cargo or cargo.
fn shared_host_linker(ctx: &Context, targets: &[Resolved]) -> Option<(String, PathBuf)> {
    let host = crate::platform::Platform::host(ctx)?;
    let native = Resolved::for_platform(ctx, &host.to_string()).platform();
    if targets.len() < 2 || !targets.iter().any(|t| t.platform() == native) {
        return None;
    }
    let mut scoped = ctx.clone_vars();
    scoped.set_var(ev::TARGETPAIR, "");
    scoped.set_var(ev::TARGETPLATFORM, &native);
    // On failure the native platform's own run reports it; the others build as alone.
    crate::cargo::target_linker(&scoped).ok().flatten()
}

fn build_one(
    ctx: &Context,
    args: &BuildArgs,
    target: &Resolved,
    setup: &Setup,
    live: &live::Live,
    row: Option<usize>,
) -> Outcome {
    let start = Instant::now();
    let log = log_path(args, target);
    let row = row.unwrap_or(usize::MAX);
    live.started(row);
    let result = build_and_verify(ctx, args, target, setup, &log).map_err(|e| format!("{e:#}"));
    let seconds = start.elapsed().as_secs_f64();
    let status = match &result {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("failed: {e}"),
    };
    live.finished(row, format!("{status} in {seconds:.1}s"));
    Outcome {
        target: target.clone(),
        log,
        seconds,
        result,
    }
}

fn log_path(args: &BuildArgs, target: &Resolved) -> PathBuf {
    args.log_dir
        .join(format!("{}.log", artifacts::slug(target)))
}

fn build_and_verify(
    ctx: &Context,
    args: &BuildArgs,
    target: &Resolved,
    setup: &Setup,
    log: &Path,
) -> Result<artifacts::Verified> {
    let mut note = None;
    let mut cmd = target_command(ctx, args, target, setup, &mut note)?;
    let mut file =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    if let Some(note) = note {
        std::io::Write::write_all(&mut file, note.as_bytes())
            .with_context(|| format!("cannot write {}", log.display()))?;
    }
    cmd.stdin(Stdio::null())
        .stdout(file.try_clone().context("cannot share the log")?)
        .stderr(file);
    let program = &args.command[0];
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {program} (is it installed and on PATH?)"))?;
    if !status.success() {
        bail!("{program} {status}");
    }
    let cargo_args = setup.cargo.then(|| &args.command[1..]);
    let found = artifacts::locate(ctx, &args.artifacts, target, cargo_args)?;
    if found.is_empty() && args.output.is_some() {
        bail!("nothing to pack: name the outputs with --artifact");
    }
    artifacts::verify(found, target, args.check)
}

/// The command for one platform: TARGETPLATFORM and its parts, xx's helpers first on
/// PATH, and (not for cargo, whose host build scripts must keep the host compiler) the
/// C toolchain variables a build system reads.
fn target_command(
    ctx: &Context,
    args: &BuildArgs,
    target: &Resolved,
    setup: &Setup,
    note: &mut Option<String>,
) -> Result<Command> {
    let (bin, cargo) = (setup.bin, setup.cargo);
    let mut scoped = ctx.clone_vars();
    scoped.set_var(ev::TARGETPAIR, "");
    scoped.set_var(ev::TARGETPLATFORM, &target.platform());
    let mut cmd = if cargo {
        Command::new(bin.join("xx-cargo"))
    } else {
        Command::new(&args.command[0])
    };
    cmd.args(&args.command[1..]);
    let prefix = crate::cc::prefix_dir(&scoped);
    // xx's links first (their names are xx's own), the target aliases last: a prefix
    // such as /usr/bin must not put the distribution's cargo before the user's.
    let path = std::env::join_paths(
        std::iter::once(bin.to_path_buf())
            .chain(std::env::split_paths(
                ctx.var("PATH").unwrap_or("/usr/bin:/bin"),
            ))
            .chain(std::iter::once(prefix.clone())),
    )
    .map_err(|e| anyhow!("cannot build PATH: {e}"))?;
    cmd.env_remove(ev::TARGETPAIR)
        .env(ev::TARGETPLATFORM, target.platform())
        .env(ev::TARGETOS, &target.os)
        .env(ev::TARGETARCH, &target.arch)
        .env(ev::TARGETVARIANT, &target.variant)
        .env("PATH", path);
    if let Some(epoch) = ctx.var(ev::SOURCE_DATE_EPOCH) {
        cmd.env(ev::SOURCE_DATE_EPOCH, epoch);
    }
    if let Some((name, linker)) = &setup.host_linker {
        // The native run too: it is the value its xx-cargo would set.
        cmd.env(name, linker);
    }
    if !cargo {
        // A build that needs no C compiler (Go, a copy) still runs where there is none;
        // one that does meets the reason in its log's first line.
        match c_toolchain_env(&scoped, &prefix) {
            Ok(env) => {
                cmd.envs(env);
            }
            Err(e) => {
                *note = Some(format!(
                    "xx build: no C toolchain variables for {}: {e:#}\n",
                    target.platform()
                ))
            }
        }
    }
    Ok(cmd)
}

fn c_toolchain_env(scoped: &Context, prefix: &Path) -> Result<Vec<(String, String)>> {
    let t = crate::cc::Target::new(scoped, None)?;
    crate::cc::ensure(scoped, &t)?;
    crate::cc::build_env(scoped, &t, prefix)
}

fn pack(
    ctx: &Context,
    args: &BuildArgs,
    outcomes: &[Outcome],
    output: &str,
    jobs: usize,
) -> Result<crate::image::Created> {
    let stage_root = crate::scratch::ScratchDir::new_in(&ctx.temp_dir(), "xx-build-stage.")?;
    let mut platforms = Vec::new();
    for o in outcomes {
        let Ok(verified) = &o.result else { continue };
        let dir = artifacts::stage(
            verified,
            &stage_root.path().join(artifacts::slug(&o.target)),
        )?;
        platforms.push(format!("{}={}", o.target.platform(), dir.display()));
    }
    let create = CreateArgs {
        platforms,
        output: output.to_string(),
        ..args.image.clone()
    };
    let t = crate::image::endpoint::Transport {
        insecure: args.insecure,
        jobs,
        ctx,
    };
    crate::image::create(&create, t)
}

/// The last commit's time in a git checkout: reproducible images by default.
fn last_commit_time() -> Option<String> {
    let out = Command::new("git")
        .args(["log", "-1", "--format=%ct"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let epoch = text.trim();
    (out.status.success() && !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()))
        .then(|| epoch.to_string())
}
