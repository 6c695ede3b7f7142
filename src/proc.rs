//! Spawning tools, in one place: `exec` (become the tool; with the `XX_CC_DEPTH` guard
//! for compilers, which may lead back to xx), `run_captured` (a failure shows the
//! command line and the child's output verbatim), `echo_and_run` (`+ cmd` first, as xx
//! prints its steps) and `tee_stderr` (the child's stderr shown and kept).

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::process::{Command, ExitStatus, Output, Stdio};

use anyhow::{bail, Context as _, Result};

use crate::context::Context;
use crate::env_vars as ev;

/// How deep xx-cc may call itself before a loop is assumed (a `clang` on PATH that is xx).
pub const MAX_DEPTH: u32 = 3;

/// This process's depth in a chain of xx-cc calls.
pub fn depth(ctx: &Context) -> u32 {
    ctx.var(ev::XX_CC_DEPTH)
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

/// Replaces this process with `cmd`; returns only the error when that fails.
pub fn exec(cmd: &mut Command) -> anyhow::Error {
    let program = cmd.get_program().to_string_lossy().into_owned();
    anyhow::Error::new(cmd.exec()).context(format!("cannot run {program}"))
}

/// [`exec`] one level deeper in the xx-cc loop guard.
pub fn exec_nested(ctx: &Context, cmd: &mut Command) -> anyhow::Error {
    cmd.env(ev::XX_CC_DEPTH, (depth(ctx) + 1).to_string());
    exec(cmd)
}

/// The command as a line (for messages).
pub fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `cmd` with its output captured; a failure is one error holding the command
/// line, the exit status and what the child printed.
pub fn run_captured(cmd: &mut Command) -> Result<Output> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", cmd.get_program().to_string_lossy()))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}):\n{}{}",
            command_line(cmd),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

/// Prints `+ ARGV` on stderr, then runs it (its output goes where ours goes) unless
/// `dry_run`; a failure names the command and its status.
pub fn echo_and_run(argv: &[&str], echoed: &str, dry_run: bool) -> Result<()> {
    crate::output::err_line(format!("+ {echoed}"));
    if dry_run {
        return Ok(());
    }
    let Some((program, args)) = argv.split_first() else {
        bail!("no command to run");
    };
    let status = Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    if !status.success() {
        bail!("{} failed ({status})", argv.join(" "));
    }
    Ok(())
}

/// A finished child's status as a shell's `$?`: its exit code, or 128 + the signal
/// that killed it.
pub fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(255),
        (None, None) => 1,
    }
}

/// Runs `cmd` with its stderr shown line by line as it comes and also returned.
pub fn tee_stderr(cmd: &mut Command) -> Result<(ExitStatus, Vec<String>)> {
    let name = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {name}"))?;
    let mut lines = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            crate::output::err_line(&line);
            lines.push(line);
        }
    }
    let status = child.wait().with_context(|| format!("cannot run {name}"))?;
    Ok((status, lines))
}
