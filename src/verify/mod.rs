//! `xx-verify` / `xx verify`: checks that binaries were built for the target. Compatible
//! with tonistiigi/xx's `xx-verify` (messages, exit codes, XX_VERIFY_* variables), but
//! reads the headers itself instead of running `file(1)`, and can check more:
//! `--max-glibc`, `--strict` (float ABI, ARM level, loader) and a `--json` report.

mod expect;
pub mod inspect;

use std::fs::File;
use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::context::Context;
use crate::env_vars as ev;
use crate::platform::Resolved;
use expect::{describe, Evidence, Expected, Unsupported};
pub use inspect::{inspect, Facts, InspectError};

struct Options {
    is_static: bool,
    strict: bool,
    json: bool,
    max_glibc: Option<(u32, u32)>,
    files: Vec<String>,
}

/// What `xx build` asks of each artifact, as xx-verify's flags would.
#[derive(Clone, Copy, Default)]
pub struct Check {
    pub is_static: bool,
    pub strict: bool,
    pub max_glibc: Option<(u32, u32)>,
}

/// Verifies `file` for `target` exactly as `xx-verify` does: the newest glibc symbol
/// version it needs, or xx-verify's message.
pub fn verify_file(
    target: &Resolved,
    check: Check,
    file: &str,
) -> Result<Option<(u32, u32)>, String> {
    let expected = Expected::for_target(target).map_err(|e| match e {
        Unsupported::Os(os) => format!("unsupported target os {os}"),
        Unsupported::Arch(arch) => format!("unsupported target architecture {arch} for xx-verify"),
    })?;
    let opts = Options {
        is_static: check.is_static,
        strict: check.strict,
        json: false,
        max_glibc: check.max_glibc,
        files: Vec::new(),
    };
    let report = verify_one(&opts, &expected, file, None);
    report
        .result
        .map(|()| report.facts.and_then(|f| f.max_glibc))
}

/// `2.31` as (2, 31), as `--max-glibc` takes it.
pub fn parse_max_glibc(text: &str) -> Result<(u32, u32)> {
    parse_glibc(text)
}

enum Parsed {
    Run(Options),
    Exit(ExitCode),
}

pub fn run(ctx: &Context, prog: &str, args: &[String]) -> Result<ExitCode> {
    let opts = match parse_args(ctx, prog, args)? {
        Parsed::Run(opts) => opts,
        Parsed::Exit(code) => return Ok(code),
    };
    let target = Resolved::from_context(ctx);
    let expected = match Expected::for_target(&target) {
        Ok(e) => e,
        Err(Unsupported::Os(os)) => return fail(format!("unsupported target os {os}")),
        Err(Unsupported::Arch(arch)) => {
            return fail(format!(
                "unsupported target architecture {arch} for xx-verify"
            ))
        }
    };
    let file_text = ctx.var(ev::XX_VERIFY_FILE_CMD_OUTPUT);
    let mut reports = Vec::new();
    let mut ok = true;
    for file in &opts.files {
        let report = verify_one(&opts, &expected, file, file_text);
        if let Err(msg) = &report.result {
            ok = false;
            if !opts.json {
                crate::output::err_line(msg);
                return Ok(ExitCode::FAILURE);
            }
        }
        reports.push(report);
    }
    if opts.json {
        print_json(&target, &reports)?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// xx's rules: flags anywhere, first decisive argument wins, `-x` is an invalid flag.
fn parse_args(ctx: &Context, prog: &str, args: &[String]) -> Result<Parsed> {
    let usage = || {
        crate::output::err_line(format!("Usage: {prog} [--static] FILE [FILE]...\n"));
        Ok(Parsed::Exit(ExitCode::FAILURE))
    };
    let mut opts = Options {
        is_static: ctx.var(ev::XX_VERIFY_STATIC) == Some("1"),
        strict: false,
        json: false,
        max_glibc: None,
        files: Vec::new(),
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            // xx installs file(1) here; we need nothing.
            "--setup" if args.len() == 1 => return Ok(Parsed::Exit(ExitCode::SUCCESS)),
            "--setup" => {}
            "--static" => opts.is_static = true,
            "--strict" => opts.strict = true,
            "--json" => opts.json = true,
            "--help" => return usage(),
            "--max-glibc" => match iter.next() {
                Some(v) => opts.max_glibc = Some(parse_glibc(v)?),
                None => bail!("--max-glibc needs a version, e.g. --max-glibc 2.31"),
            },
            a if a.starts_with("--max-glibc=") => {
                opts.max_glibc = Some(parse_glibc(&a["--max-glibc=".len()..])?)
            }
            a if a.starts_with('-') => return fail(format!("invalid flag {a}")).map(Parsed::Exit),
            file => opts.files.push(file.to_string()),
        }
    }
    if opts.files.is_empty() {
        return usage();
    }
    Ok(Parsed::Run(opts))
}

fn parse_glibc(text: &str) -> Result<(u32, u32)> {
    let (major, minor) = text.split_once('.').unwrap_or((text, "0"));
    match (major.parse(), minor.parse()) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        _ => bail!("--max-glibc: {text:?} is not a version like 2.31"),
    }
}

fn fail(msg: String) -> Result<ExitCode> {
    crate::output::err_line(&msg);
    Ok(ExitCode::FAILURE)
}

struct Report {
    file: String,
    facts: Option<Facts>,
    result: Result<(), String>,
}

fn verify_one(opts: &Options, e: &Expected, file: &str, file_text: Option<&str>) -> Report {
    let mut report = Report {
        file: file.to_string(),
        facts: None,
        result: Ok(()),
    };
    if let Some(text) = file_text {
        report.result = check(opts, e, file, &Evidence::FileText(text), text);
        return report;
    }
    // Like xx's `[ -f F ]`: only regular files (after symlinks). Checked before opening,
    // so a FIFO never blocks us.
    let regular = std::fs::metadata(file).is_ok_and(|m| m.is_file());
    let Some(handle) = regular.then(|| File::open(file).ok()).flatten() else {
        report.result = Err(format!("file not found: {file}"));
        return report;
    };
    match inspect::inspect_file(&handle) {
        Ok(facts) => {
            let out = describe(&facts);
            report.result = check(opts, e, file, &Evidence::Parsed(&facts), &out)
                .and_then(|()| check_beyond(opts, e, file, &facts, &out));
            report.facts = Some(facts);
        }
        // What `file` would call "ASCII text" or "data" fails the OS check, as in xx.
        Err(err) => {
            report.result = Err(format!(
                "file {file} does not match expected target OS {}: {err}",
                e.os_name
            ))
        }
    }
    report
}

/// The checks of xx, in its order: OS, architecture, endianness, static.
fn check(opts: &Options, e: &Expected, file: &str, ev: &Evidence, out: &str) -> Result<(), String> {
    if !ev.os_matches(e) {
        return Err(format!(
            "file {file} does not match expected target OS {}: {out}",
            e.os_name
        ));
    }
    if !ev.arch_matches(e) {
        return Err(format!(
            "file {file} does not match expected target architecture {}: {out}",
            e.arch_name
        ));
    }
    if !ev.endian_matches(e) {
        return Err(format!(
            "file {file} does not match expected endianness for {}: {out}",
            e.arch_name
        ));
    }
    if opts.is_static && e.os.static_check && !ev.is_static() {
        return Err(format!("file {file} is not statically linked: {out}"));
    }
    Ok(())
}

/// Checks `file(1)` cannot make: glibc symbol versions, float ABI, ARM level, loader.
fn check_beyond(
    opts: &Options,
    e: &Expected,
    file: &str,
    f: &Facts,
    out: &str,
) -> Result<(), String> {
    if let (Some(max), Some(needed)) = (opts.max_glibc, f.max_glibc) {
        if needed > max {
            return Err(format!(
                "file {file} needs glibc {}.{}, newer than --max-glibc {}.{}: {out}",
                needed.0, needed.1, max.0, max.1
            ));
        }
    }
    if !opts.strict {
        return Ok(());
    }
    if let (Some(want), Some(have)) = (e.arm_arch, f.arm_arch) {
        if have > want {
            return Err(format!(
                "file {file} needs ARMv{have}, newer than the target's ARMv{want}: {out}"
            ));
        }
    }
    if let (Some(want), Some(have)) = (e.float_abi, f.float_abi.as_deref()) {
        if want != have {
            return Err(format!(
                "file {file} uses the {have}-float ABI, expected {want} for {}/{}: {out}",
                e.os_name, e.arch_name
            ));
        }
    }
    if let (Some(want), Some(have)) = (e.loader, f.interpreter.as_deref()) {
        if want != have {
            return Err(format!(
                "file {file} asks for the loader {have}, the target's is {want}: {out}"
            ));
        }
    }
    Ok(())
}

fn print_json(target: &Resolved, reports: &[Report]) -> Result<()> {
    let files: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            serde_json::json!({
                "file": r.file,
                "ok": r.result.is_ok(),
                "error": r.result.as_ref().err(),
                "facts": r.facts,
                "max_glibc": r.facts.as_ref().and_then(|f| f.max_glibc).map(|(a, b)| format!("{a}.{b}")),
            })
        })
        .collect();
    let value = serde_json::json!({ "target": target.platform(), "files": files });
    crate::output::line(serde_json::to_string_pretty(&value)?)?;
    Ok(())
}
