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
                ),
        )
        .subcommand(
            Command::new("image")
                .about("Multi-arch OCI images from per-platform outputs")
                .subcommand_required(true)
                .subcommand(
                    Command::new("inspect")
                        .about("Platforms, digests and sizes of an image (oci:DIR[:TAG])")
                        .arg(Arg::new("reference").required(true).value_name("oci:DIR[:TAG]"))
                        .arg(Arg::new("raw").long("raw").action(ArgAction::SetTrue).help("The index as stored"))
                        .arg(Arg::new("json").long("json").action(ArgAction::SetTrue)),
                )
                .subcommand(
                    Command::new("create")
                        .about("One layer per platform into one OCI image index (oci:DIR[:TAG]); prints the index digest")
                        .arg(
                            Arg::new("platform")
                                .long("platform")
                                .required(true)
                                .action(ArgAction::Append)
                                .value_name("OS/ARCH[/VARIANT]=PATH")
                                .help("A platform and its output: a directory (its contents) or a file (at /)"),
                        )
                        .arg(Arg::new("output").long("output").short('o').required(true).value_name("oci:DIR[:TAG]"))
                        .arg(Arg::new("entrypoint").long("entrypoint").action(ArgAction::Append))
                        .arg(Arg::new("env").long("env").action(ArgAction::Append).value_name("KEY=VALUE"))
                        .arg(Arg::new("label").long("label").action(ArgAction::Append).value_name("KEY=VALUE"))
                        .arg(
                            Arg::new("compression")
                                .long("compression")
                                .default_value("gzip")
                                .value_parser(["gzip", "none"]),
                        )
                        .arg(
                            Arg::new("level")
                                .long("level")
                                .default_value("6")
                                .value_parser(clap::value_parser!(u32).range(0..=9)),
                        )
                        .arg(
                            Arg::new("jobs")
                                .long("jobs")
                                .short('j')
                                .value_parser(clap::value_parser!(usize))
                                .help("Platforms built at once (default: the number of CPUs)"),
                        ),
                ),
        )
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
            for link in links::install(dir, PERSONALITIES, m.get_flag("force"))? {
                println!("{}", link.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(("image", m)) => match m.subcommand() {
            Some(("create", c)) => {
                let strings = |name: &str| -> Vec<String> {
                    c.get_many::<String>(name)
                        .map(|v| v.cloned().collect())
                        .unwrap_or_default()
                };
                let args = crate::image::CreateArgs {
                    platforms: strings("platform"),
                    output: c.get_one::<String>("output").cloned().unwrap_or_default(),
                    entrypoint: strings("entrypoint"),
                    env: strings("env"),
                    labels: strings("label"),
                    compression: c
                        .get_one::<String>("compression")
                        .cloned()
                        .unwrap_or_default(),
                    level: c.get_one::<u32>("level").copied().unwrap_or(6),
                    jobs: c.get_one::<usize>("jobs").copied().unwrap_or_else(|| {
                        std::thread::available_parallelism().map_or(1, |n| n.get())
                    }),
                };
                println!("{}", crate::image::create(&args)?);
                Ok(ExitCode::SUCCESS)
            }
            Some(("inspect", c)) => {
                let reference = c
                    .get_one::<String>("reference")
                    .cloned()
                    .unwrap_or_default();
                let raw = c.get_flag("raw");
                let text = crate::image::inspect(&reference, raw, c.get_flag("json"))?;
                // --raw: the stored bytes exactly (what digests are of), as skopeo prints them.
                if raw {
                    print!("{text}");
                } else {
                    println!("{text}");
                }
                Ok(ExitCode::SUCCESS)
            }
            _ => unreachable!("clap requires a subcommand"),
        },
        Some(("env-vars", m)) => {
            if m.get_flag("markdown") {
                print!("{}", env_vars::markdown());
            } else {
                for v in env_vars::ALL {
                    println!("{:<28} {:<12} {}", v.name, v.used_by, v.doc);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => unreachable!("clap requires a subcommand"),
    }
}
