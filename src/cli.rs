//! The `xx` front end (clap) for the commands that are not xx-compatible personalities.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Arg, ArgAction, Command};

use crate::{env_vars, links, PERSONALITIES};

fn command() -> Command {
    Command::new("xx")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Cross-compilation toolchain manager, compatible with the tonistiigi/xx helpers")
        .after_help(
            "Helpers (also as xx-NAME links, see install-links):\n  \
             xx info [COMMAND]       target names: triple, arch, march, debian-arch, env, …\n  \
             xx verify [--static] FILE…  check binaries were built for the target",
        )
        .subcommand_required(true)
        .subcommand(
            Command::new("install-links")
                .about("Create the xx-NAME links (xx-info, xx-verify, …) to this binary in DIR")
                .arg(
                    Arg::new("dir")
                        .required(true)
                        .value_parser(clap::value_parser!(PathBuf)),
                )
                .arg(
                    Arg::new("force")
                        .long("force")
                        .action(ArgAction::SetTrue)
                        .help("Replace existing files of those names"),
                )
                .arg(
                    Arg::new("relative")
                        .long("relative")
                        .action(ArgAction::SetTrue)
                        .help("Links to `xx` beside them (DIR/xx), as in an image's /usr/bin"),
                ),
        )
        .subcommand(crate::build::command())
        .subcommand(crate::image::command::command())
        .subcommand(crate::sysroot::command::command())
        .subcommand(crate::toolchain::command::command())
        .subcommand(crate::run::command())
        .subcommand(crate::doctor::command())
        .subcommand(
            Command::new("env-vars")
                .about("List the environment variables xx reads")
                .arg(
                    Arg::new("markdown")
                        .long("markdown")
                        .action(ArgAction::SetTrue)
                        .help("As the README's markdown table"),
                ),
        )
}

pub fn run(argv0: &str, args: Vec<String>) -> Result<ExitCode> {
    let matches =
        match command().try_get_matches_from(std::iter::once(argv0.to_string()).chain(args)) {
            Ok(m) => m,
            Err(e) => {
                let code = if e.use_stderr() {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
                let _ = e.print();
                return Ok(code);
            }
        };
    match matches.subcommand() {
        Some(("install-links", m)) => {
            let dir = m.get_one::<PathBuf>("dir").expect("required by clap");
            let to = if m.get_flag("relative") {
                PathBuf::from("xx")
            } else {
                crate::fsutil::this_exe()?.to_path_buf()
            };
            for link in links::install(dir, PERSONALITIES, &to, m.get_flag("force"))? {
                crate::output::line(link.display())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(("build", m)) => crate::build::run(&crate::context::Context::from_process(), m),
        Some(("image", m)) => {
            crate::image::command::run(&crate::context::Context::from_process(), m)
        }
        Some(("sysroot", m)) => {
            crate::sysroot::command::run(&crate::context::Context::from_process(), m)
        }
        Some(("toolchain", m)) => {
            crate::toolchain::command::run(&crate::context::Context::from_process(), m)
        }
        Some(("doctor", m)) => crate::doctor::run(&crate::context::Context::from_process(), m),
        Some(("run", m)) => crate::run::run(&crate::context::Context::from_process(), m),
        Some(("env-vars", m)) => {
            if m.get_flag("markdown") {
                crate::output::text(env_vars::markdown())?;
            } else {
                for v in env_vars::ALL {
                    crate::output::line(format!("{:<28} {:<12} {}", v.name, v.used_by, v.doc))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => unreachable!("clap requires a subcommand"),
    }
}
