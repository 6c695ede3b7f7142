//! The `xx build` command line.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Arg, ArgAction, ArgMatches, Command};

use super::BuildArgs;

use crate::image::command::{create_args, image_options, repeated};

pub fn command() -> Command {
    image_options(Command::new("build"))
        .about("Run a build once per platform (natively, no emulation), verify the outputs, pack one multi-arch image")
        .arg(
            repeated("platform")
                .required(true)
                .value_name("OS/ARCH[/VARIANT][,…]")
                .help("Platforms to build for (comma-separated or repeated)"),
        )
        .arg(
            Arg::new("jobs")
                .long("jobs")
                .short('j')
                .value_parser(clap::value_parser!(usize))
                .help("Platforms built at once (default: the number of CPUs; cargo: one at a time)"),
        )
        .arg(repeated("artifact").value_name("TEMPLATE").help(
            "An output per platform: {os} {arch} {variant} {platform} {triple} are filled in \
             (e.g. out/{os}/{arch}{variant}/app); a file or a directory; repeatable",
        ))
        .arg(Arg::new("output").long("output").short('o').value_name("REF").help("Pack the artifacts into this image (oci:DIR[:TAG], oci-archive:FILE, docker://REF)"))
        .arg(Arg::new("static").long("static").action(ArgAction::SetTrue).help("Artifacts must be statically linked"))
        .arg(Arg::new("strict").long("strict").action(ArgAction::SetTrue).help("xx-verify --strict on every artifact"))
        .arg(Arg::new("max-glibc").long("max-glibc").value_name("VERSION").help("Artifacts may need no newer glibc"))
        .arg(
            Arg::new("log-dir")
                .long("log-dir")
                .value_name("DIR")
                .value_parser(clap::value_parser!(PathBuf))
                .default_value("target/xx-build")
                .help("Where each platform's log goes (PLATFORM.log)"),
        )
        .arg(Arg::new("insecure").long("insecure").action(ArgAction::SetTrue).help("Plain HTTP to the registry"))
        .arg(Arg::new("quiet").long("quiet").short('q').action(ArgAction::SetTrue).help("No progress lines on stderr"))
        .arg(
            Arg::new("command")
                .value_name("CMD")
                .num_args(1..)
                .last(true)
                .required(true)
                .help("The build, after --; `cargo …` runs as xx-cargo"),
        )
        .after_help(
            "Examples:\n  xx build --platform linux/amd64,linux/arm64 -o oci:out/image -- cargo build --release\n  \
             xx build --platform linux/arm64,linux/arm/v7 --artifact 'build/{arch}{variant}/app' -- sh -c 'cmake -B build/$TARGETARCH$TARGETVARIANT && cmake --build build/$TARGETARCH$TARGETVARIANT'",
        )
}

pub fn args(m: &ArgMatches) -> Result<BuildArgs> {
    let strings = |name: &str| -> Vec<String> {
        m.get_many::<String>(name)
            .map(|v| v.cloned().collect())
            .unwrap_or_default()
    };
    let string = |name: &str| m.get_one::<String>(name).cloned();
    let platforms: Vec<String> = strings("platform")
        .iter()
        .flat_map(|p| p.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if platforms.is_empty() {
        bail!("--platform names no platform, e.g. --platform linux/amd64,linux/arm64");
    }
    let max_glibc = match string("max-glibc") {
        Some(v) => Some(crate::verify::parse_max_glibc(&v)?),
        None => None,
    };
    Ok(BuildArgs {
        platforms,
        jobs: m.get_one::<usize>("jobs").copied(),
        artifacts: strings("artifact"),
        output: string("output"),
        check: crate::verify::Check {
            is_static: m.get_flag("static"),
            strict: m.get_flag("strict"),
            max_glibc,
        },
        log_dir: m
            .get_one::<PathBuf>("log-dir")
            .cloned()
            .unwrap_or_else(|| PathBuf::from("target/xx-build")),
        command: strings("command"),
        insecure: m.get_flag("insecure"),
        image: create_args(m, Vec::new(), String::new()),
    })
}
