//! xx: a cross-compilation toolchain manager compatible with tonistiigi/xx.
//! One multi-call binary: `xx NAME …` and `xx-NAME …` (a link to it) are the same.
//! The personality is picked from argv[0] before any other work: xx-info runs dozens of
//! times per Dockerfile, so nothing here may cost more than a few microseconds.

pub mod apk;
pub mod apt;
pub mod build;
pub mod cargo;
mod cas;
pub mod cc;
mod cli;
pub mod context;
pub mod debian;
pub mod doctor;
pub mod env_vars;
mod fsutil;
pub mod go;
pub mod image;
pub mod info;
mod jobs;
mod links;
pub mod net;
mod output;
pub mod platform;
mod proc;
mod progress;
pub mod run;
mod scratch;
pub mod sysroot;
pub mod toolchain;
pub mod verify;
pub mod windres;

use std::process::ExitCode;

use context::Context;

/// The `xx-NAME` personalities; `xx install-links` creates one link per name.
pub const PERSONALITIES: &[&str] = &[
    "info", "verify", "cc", "c++", "clang", "clang++", "apt", "apt-get", "cargo", "go", "windres",
    "apk",
];

/// Dispatches one process: picks the personality from argv[0] (or `xx NAME`) and runs it.
pub fn run_multicall() -> ExitCode {
    // Compilers get their arguments byte for byte (file names need not be UTF-8); the
    // other personalities read them as text.
    let mut args_os: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let argv0 = if args_os.is_empty() {
        "xx".to_string()
    } else {
        args_os.remove(0).to_string_lossy().into_owned()
    };
    let mut args: Vec<String> = args_os
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let stem = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    let (name, prog) = match stem.strip_prefix("xx-") {
        Some(name) => (name.to_string(), stem.clone()),
        // `clang` linked to xx by `xx-clang --wrap`.
        None if stem == "clang" || stem == "clang++" => (stem.clone(), stem.clone()),
        None if stem != "xx" => {
            let ctx = Context::from_process();
            if let Some(triple) = stem.strip_suffix("-windres") {
                // `<triple>-windres`, which xx-cc makes for Windows targets.
                // Its usage names xx-windres, which xx's alias runs.
                return report(&stem, windres::run(&ctx, "xx-windres", Some(triple), &args));
            }
            match cc::run_alias(&ctx, &argv0, &stem, &args_os) {
                Some(result) => return report(&stem, result),
                None => return report("xx", cli::run(&argv0, args)),
            }
        }
        None => match args.first() {
            Some(first) if PERSONALITIES.contains(&first.as_str()) => {
                args_os.remove(0);
                let name = args.remove(0);
                let prog = format!("xx {name}");
                (name, prog)
            }
            _ => return report("xx", cli::run(&argv0, args)),
        },
    };
    let mut ctx = Context::from_process();
    let result = match name.as_str() {
        "info" => info::run(&mut ctx, &prog, &args),
        "verify" => verify::run(&ctx, &prog, &args),
        "cc" | "c++" | "clang" | "clang++" => cc::run_personality(&ctx, &name, &args_os),
        "apt" | "apt-get" => apt::run(&ctx, &name, &args),
        "cargo" => cargo::run(&ctx, &args_os),
        "go" => go::run(&ctx, &args_os),
        "windres" => windres::run(&ctx, &prog, None, &args),
        "apk" => apk::run(&ctx, &args),
        other => Err(anyhow::anyhow!(
            "unknown personality xx-{other}; known: {}",
            PERSONALITIES.join(", ")
        )),
    };
    report(&prog, result)
}

/// The one place an error becomes a message and an exit code.
fn report(prog: &str, result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        // Verbatim only when nothing wrapped it: context added on the way keeps its say.
        Err(err) if err.chain().count() == 1 && err.is::<output::AsXx>() => {
            output::err_line(&err);
            ExitCode::FAILURE
        }
        Err(err) => {
            output::err_line(format!("{prog}: {err:#}"));
            ExitCode::FAILURE
        }
    }
}
