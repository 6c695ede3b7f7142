//! The `xx image` command line.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::context::Context;

use super::copy::{CopyArgs, Transport};
use super::merge::MergeArgs;
use super::CreateArgs;

const REFS: &str = "References: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], \
docker://HOST[:PORT]/REPO[:TAG|@DIGEST] (docker:// may be left out). Loopback registries use plain HTTP.";

fn transport_args(cmd: Command) -> Command {
    cmd.arg(
        Arg::new("insecure")
            .long("insecure")
            .action(ArgAction::SetTrue)
            .help("Plain HTTP to the registry (loopback registries always use it)"),
    )
    .arg(
        Arg::new("quiet")
            .long("quiet")
            .short('q')
            .action(ArgAction::SetTrue)
            .help("No progress lines on stderr"),
    )
    .arg(
        Arg::new("jobs")
            .long("jobs")
            .short('j')
            .value_parser(clap::value_parser!(usize))
            .help("Platforms built or blobs moved at once (default: the number of CPUs)"),
    )
    .after_help(REFS)
}

/// An option that may be given many times.
pub fn repeated(name: &'static str) -> Arg {
    Arg::new(name).long(name).action(ArgAction::Append)
}

/// What goes into an image besides its per-platform trees, and how it is encoded:
/// `xx image create`'s options, which `xx build` takes as well.
pub fn image_options(cmd: Command) -> Command {
    cmd.arg(Arg::new("base").long("base").value_name("REF").help("Append to every platform of this image"))
        .arg(
            Arg::new("with-deps")
                .long("with-deps")
                .action(ArgAction::SetTrue)
                .help("Add the shared libraries and loader dynamic ELF inputs need, from the target sysroot"),
        )
        .arg(repeated("entrypoint"))
        .arg(repeated("env").value_name("KEY=VALUE"))
        .arg(repeated("label").value_name("KEY=VALUE"))
        .arg(repeated("annotation").value_name("KEY=VALUE").help("On the index and every manifest"))
        .arg(
            Arg::new("compression")
                .long("compression")
                .default_value("gzip")
                .value_parser(["gzip", "zstd", "none"]),
        )
        .arg(
            Arg::new("level")
                .long("level")
                .value_parser(clap::value_parser!(u32))
                .help("Compression level (default: gzip 6, zstd 3)"),
        )
        .arg(
            Arg::new("format")
                .long("format")
                .default_value("oci")
                .value_parser(["oci", "docker"])
                .help("docker: Docker v2 schema 2 list, manifests, configs and gzip layers"),
        )
}

/// The [`image_options`] given, for `platforms` into `output` (no `--shared` layer).
pub fn create_args(m: &ArgMatches, platforms: Vec<String>, output: String) -> CreateArgs {
    let strings = |name: &str| -> Vec<String> {
        m.get_many::<String>(name)
            .map(|v| v.cloned().collect())
            .unwrap_or_default()
    };
    let string = |name: &str| m.get_one::<String>(name).cloned();
    let compression = string("compression").unwrap_or_default();
    CreateArgs {
        platforms,
        output,
        base: string("base"),
        shared: None,
        with_deps: m.get_flag("with-deps"),
        entrypoint: strings("entrypoint"),
        env: strings("env"),
        labels: strings("label"),
        annotations: strings("annotation"),
        level: m
            .get_one::<u32>("level")
            .copied()
            .unwrap_or(if compression == "zstd" { 3 } else { 6 }),
        compression,
        format: string("format").unwrap_or_default(),
    }
}

pub fn command() -> Command {
    let copy_like = |name: &'static str, about: &'static str| {
        transport_args(
            Command::new(name)
                .about(about)
                .arg(Arg::new("source").required(true).value_name("SRC"))
                .arg(Arg::new("destination").required(true).value_name("DST")),
        )
    };
    Command::new("image")
        .about("Multi-arch OCI images from per-platform outputs; inspect, merge, copy")
        .subcommand_required(true)
        .subcommand(transport_args(image_options(
            Command::new("create")
                .about("One layer per platform into one image index; prints the index digest")
                .arg(
                    repeated("platform")
                        .required(true)
                        .value_name("OS/ARCH[/VARIANT]=PATH")
                        .help("A platform and its output: a directory (its contents) or a file (at /)"),
                )
                .arg(Arg::new("output").long("output").short('o').required(true).value_name("REF"))
                .arg(
                    Arg::new("shared")
                        .long("shared")
                        .value_name("DIR")
                        .value_parser(clap::value_parser!(std::path::PathBuf))
                        .help("One layer for every platform (files identical across them), below theirs"),
                ),
        )))
        .subcommand(transport_args(
            Command::new("inspect")
                .about("Platforms, digests and sizes of an image")
                .arg(Arg::new("reference").required(true).value_name("REF"))
                .arg(Arg::new("raw").long("raw").action(ArgAction::SetTrue).help("The index or manifest bytes as stored"))
                .arg(Arg::new("json").long("json").action(ArgAction::SetTrue)),
        ))
        .subcommand(transport_args(
            Command::new("run")
                .about("Run one platform of an image under qemu-user, rootless (its entrypoint and cmd, or CMD)")
                .arg(Arg::new("platform").long("platform").value_name("OS/ARCH[/VARIANT]").help("Default: the build machine's, else the first"))
                .arg(Arg::new("entrypoint").long("entrypoint").value_name("PROGRAM").help("Instead of the image's entrypoint (and its CMD), as docker run --entrypoint"))
                .arg(Arg::new("reference").required(true).value_name("REF"))
                .arg(Arg::new("command").value_name("CMD").num_args(1..).last(true)),
        ))
        .subcommand(transport_args(
            Command::new("merge")
                .about("One index from per-platform images or indexes, in the order given")
                .arg(
                    Arg::new("tag")
                        .short('t')
                        .long("tag")
                        .required(true)
                        .action(ArgAction::Append)
                        .value_name("REF"),
                )
                .arg(Arg::new("sources").action(ArgAction::Append).value_name("SRC"))
                .arg(Arg::new("append").long("append").action(ArgAction::SetTrue).help("Add to (or replace platforms of) the index the target names"))
                .arg(repeated("platform").value_name("OS/ARCH[/VARIANT]").help("Only these platforms of the sources"))
                .arg(repeated("annotation").value_name("KEY=VALUE")),
        ))
        .subcommand(
            copy_like("copy", "Copy an image between layouts, archives and registries, digests preserved")
                .arg(Arg::new("all").long("all").short('a').action(ArgAction::SetTrue).help("Every platform (the index itself)"))
                .arg(Arg::new("platform").long("platform").value_name("OS/ARCH[/VARIANT]").help("Without --all: this platform (default: the build machine's)")),
        )
        .subcommand(copy_like("push", "copy --all from a local layout or archive to a registry"))
        .subcommand(copy_like("pull", "copy --all from a registry to a local layout or archive"))
}

pub fn run(ctx: &Context, m: &ArgMatches) -> Result<ExitCode> {
    // Before any thread starts: an interrupted command leaves no scratch behind.
    crate::scratch::clean_up_on_signals();
    let Some((name, c)) = m.subcommand() else {
        unreachable!("clap requires a subcommand");
    };
    let strings = |name: &str| -> Vec<String> {
        c.get_many::<String>(name)
            .map(|v| v.cloned().collect())
            .unwrap_or_default()
    };
    let string = |name: &str| c.get_one::<String>(name).cloned();
    let t = Transport {
        insecure: c.get_flag("insecure"),
        jobs: c
            .get_one::<usize>("jobs")
            .copied()
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        ctx,
    };
    crate::progress::set_quiet(c.get_flag("quiet"));
    let digest = match name {
        "create" => {
            super::create(
                &CreateArgs {
                    shared: c.get_one::<std::path::PathBuf>("shared").cloned(),
                    ..create_args(c, strings("platform"), string("output").unwrap_or_default())
                },
                t,
            )?
            .index
        }
        "run" => {
            return super::run::run(
                &string("reference").unwrap_or_default(),
                string("platform").as_deref(),
                string("entrypoint").as_deref(),
                &strings("command"),
                t,
            )
        }
        "inspect" => {
            let raw = c.get_flag("raw");
            let text = super::inspect(
                &string("reference").unwrap_or_default(),
                raw,
                c.get_flag("json"),
                t,
            )?;
            // --raw: the stored bytes exactly (what digests are of), as skopeo prints them.
            if raw {
                crate::output::text(&text)?;
            } else {
                crate::output::line(&text)?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        "merge" => super::merge::merge(
            &MergeArgs {
                targets: strings("tag"),
                sources: strings("sources"),
                append: c.get_flag("append"),
                platforms: strings("platform"),
                annotations: strings("annotation"),
            },
            t,
        )?,
        _ => super::copy::copy(
            &CopyArgs {
                source: string("source").unwrap_or_default(),
                destination: string("destination").unwrap_or_default(),
                all: name != "copy" || c.get_flag("all"),
                platform: if name == "copy" {
                    string("platform")
                } else {
                    None
                },
            },
            t,
        )?,
    };
    crate::output::line(&digest)?;
    Ok(ExitCode::SUCCESS)
}
