//! `xx run [--platform P] BINARY [ARGS…]`: a target binary under the right qemu-user,
//! with the root its loader and libraries come from (the rule xx-cargo's runner uses:
//! `/`, `/usr/<triple>`, or the managed sysroot). The exit code is the program's.

use std::path::{Path, PathBuf};
use std::process::{Command as Process, ExitCode};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Arg, ArgMatches, Command};

use crate::context::Context;
use crate::env_vars as ev;
use crate::platform::{Platform, TARGETS};

pub fn command() -> Command {
    Command::new("run")
        .about("Run a target binary under qemu-user with its libraries' root")
        .arg(
            Arg::new("platform")
                .long("platform")
                .value_name("OS/ARCH[/VARIANT]")
                .help("Target (default: TARGETPLATFORM, else read from the binary)"),
        )
        .arg(Arg::new("binary").value_name("BINARY").required(true))
        .arg(
            Arg::new("args")
                .value_name("ARGS")
                .num_args(0..)
                .trailing_var_arg(true)
                .allow_hyphen_values(true),
        )
}

pub fn run(ctx: &Context, m: &ArgMatches) -> Result<ExitCode> {
    let binary = PathBuf::from(m.get_one::<String>("binary").expect("required by clap"));
    let args: Vec<&String> = m.get_many::<String>("args").into_iter().flatten().collect();
    let platform = match m.get_one::<String>("platform") {
        Some(p) => Platform::parse_flag(p)?.to_string(),
        None => match ctx.var(ev::TARGETPLATFORM).filter(|p| !p.is_empty()) {
            Some(p) => p.to_string(),
            None => platform_of(&binary)?,
        },
    };
    let mut scoped = ctx.clone_vars();
    scoped.set_var(ev::TARGETPAIR, "");
    scoped.set_var(ev::TARGETPLATFORM, &platform);
    let target = crate::cc::Target::new(&scoped, None)?;
    if !target.resolved.is_cross(&ctx.host_march()) {
        return Err(crate::proc::exec(Process::new(&binary).args(&args)));
    }
    let qemu = qemu_for(ctx, &platform)?;
    let root = target.qemu_root(&scoped);
    Err(crate::proc::exec(
        Process::new(qemu)
            .arg("-L")
            .arg(root)
            .arg(&binary)
            .args(&args),
    ))
}

/// The qemu-user that runs `platform`'s binaries, or the error naming how to get it.
pub fn qemu_for(ctx: &Context, platform: &str) -> Result<PathBuf> {
    let row = crate::platform::Resolved::for_platform(ctx, platform)
        .target
        .ok_or_else(|| anyhow!("{platform}: not a platform xx knows"))?;
    let qemu_name = row
        .qemu
        .ok_or_else(|| anyhow!("{platform}: no qemu-user emulates this target"))?;
    find_qemu(ctx, qemu_name).ok_or_else(|| {
        anyhow!(
            "{qemu_name} not found: xx run needs qemu-user to run {platform} binaries\n\
             help: apt-get install qemu-user (or: xx toolchain install qemu)"
        )
    })
}

/// `qemu-<arch>` or its `-static` build, on PATH or from `xx toolchain install qemu`.
pub fn find_qemu(ctx: &Context, name: &str) -> Option<PathBuf> {
    crate::cc::find_tool(ctx, name).or_else(|| crate::cc::find_tool(ctx, &format!("{name}-static")))
}

/// The linux platform a binary was built for: the row whose loader it asks for, else
/// the default row of its machine.
fn platform_of(binary: &Path) -> Result<String> {
    let file = crate::fsutil::open_regular(binary)
        .with_context(|| format!("cannot open {}", binary.display()))?;
    let facts = crate::verify::inspect::inspect_file(&file).map_err(|e| {
        anyhow!(
            "{}: cannot tell its platform ({e})\nhelp: pass --platform",
            binary.display()
        )
    })?;
    let linux = || TARGETS.iter().filter(|t| t.os == "linux");
    let by_loader = facts.interpreter.as_deref().and_then(|i| {
        linux().find(|t| t.bin.loader_gnu == Some(i) || t.bin.loader_musl == Some(i))
    });
    let row = by_loader.or_else(|| {
        linux().find(|t| {
            t.default
                && t.bin.machine == facts.machine
                && t.bin.bits == facts.bits
                && t.bin.endian == facts.endian
        })
    });
    match row {
        Some(t) => Ok(Platform::of_row(t).to_string()),
        None => bail!(
            "{}: no linux target in xx's table matches this binary\nhelp: pass --platform",
            binary.display()
        ),
    }
}
