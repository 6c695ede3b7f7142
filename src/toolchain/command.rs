//! `xx toolchain list | install NAME… | remove NAME… | path NAME | prune`.

use std::process::ExitCode;

use anyhow::{anyhow, Context as _, Result};
use clap::{Arg, ArgAction, ArgMatches, Command};

use super::home::Home;
use super::manifest::{self, Manifest};
use crate::context::Context;
use crate::platform::Platform;

pub fn command() -> Command {
    let names = || {
        Arg::new("names")
            .value_name("NAME")
            .num_args(1..)
            .required(true)
    };
    let platform = || {
        Arg::new("platform")
            .long("platform")
            .value_name("OS/ARCH[/VARIANT]")
            .help("Target, for toolchains built per target")
    };
    Command::new("toolchain")
        .about(
            "Install, find and remove managed toolchains (qemu, llvm) from Debian/Ubuntu archives",
        )
        .subcommand_required(true)
        .subcommand(Command::new("list").about("The toolchains xx knows, and which are installed"))
        .subcommand(
            Command::new("install")
                .about("Install or bring up to date; prints each tree's path")
                .arg(names())
                .arg(platform())
                .arg(
                    Arg::new("quiet")
                        .short('q')
                        .long("quiet")
                        .action(ArgAction::SetTrue),
                ),
        )
        .subcommand(
            Command::new("remove")
                .about("Remove installed toolchains")
                .arg(names())
                .arg(platform()),
        )
        .subcommand(
            Command::new("path")
                .about("Print where a toolchain is installed")
                .arg(names())
                .arg(platform()),
        )
        .subcommand(
            Command::new("prune")
                .about("Remove cached downloads no installed sysroot or toolchain uses"),
        )
}

pub fn run(ctx: &Context, m: &ArgMatches) -> Result<ExitCode> {
    match m.subcommand() {
        Some(("list", _)) => list(ctx),
        Some(("install", m)) => {
            crate::progress::set_quiet(m.get_flag("quiet"));
            crate::scratch::clean_up_on_signals();
            for (manifest, platform) in selected(ctx, m)? {
                let tree = super::install(ctx, &manifest, platform)?;
                crate::output::line(tree.display())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(("remove", m)) => {
            for (manifest, platform) in selected(ctx, m)? {
                let tree = tree_of(ctx, &manifest, &platform)?;
                remove_tree(&tree)?;
                crate::output::line(format!("removed {}", tree.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(("path", m)) => {
            for (manifest, platform) in selected(ctx, m)? {
                let tree = tree_of(ctx, &manifest, &platform)?;
                if !tree.join(crate::sysroot::STAMP).is_file() {
                    anyhow::bail!(
                        "{} is not installed for {platform}\nhelp: xx toolchain install {}",
                        manifest.name,
                        manifest.name
                    );
                }
                crate::output::line(tree.display())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(("prune", _)) => prune(ctx),
        _ => unreachable!("clap requires a subcommand"),
    }
}

fn selected(ctx: &Context, m: &ArgMatches) -> Result<Vec<(Manifest, Platform)>> {
    let asked = m
        .get_one::<String>("platform")
        .map(|p| Platform::parse_flag(p))
        .transpose()?;
    m.get_many::<String>("names")
        .into_iter()
        .flatten()
        .map(|name| {
            let manifest = manifest::find(name).ok_or_else(|| {
                let known: Vec<String> = manifest::all().into_iter().map(|m| m.name).collect();
                anyhow!(
                    "no toolchain named {name:?}\nhelp: one of {}",
                    known.join(", ")
                )
            })?;
            let platform = super::platform_for(ctx, &manifest, asked.clone())?;
            Ok((manifest, platform))
        })
        .collect()
}

fn tree_of(ctx: &Context, m: &Manifest, platform: &Platform) -> Result<std::path::PathBuf> {
    let target = crate::sysroot::target_of(ctx, platform)?;
    super::dir(ctx, m, &target)
}

/// Removed under the tree's lock, so a concurrent install never sees half a tree.
fn remove_tree(tree: &std::path::Path) -> Result<()> {
    let (Some(parent), Some(name)) = (tree.parent(), tree.file_name()) else {
        return Ok(());
    };
    if !tree.exists() {
        return Ok(());
    }
    let _lock = crate::fsutil::lock(
        &parent.join(format!(".{}.lock", name.to_string_lossy())),
        "xx toolchain",
    )?;
    std::fs::remove_dir_all(tree).with_context(|| format!("cannot remove {}", tree.display()))
}

fn list(ctx: &Context) -> Result<ExitCode> {
    let home = Home::of(ctx)?;
    crate::output::line(format!("{:<8} {:<28} DESCRIPTION", "NAME", "INSTALLED"))?;
    for m in manifest::all() {
        let dir = home.data.join("toolchains").join(&m.name);
        let mut arches: Vec<String> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(crate::sysroot::STAMP).is_file())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        arches.sort();
        let installed = if arches.is_empty() {
            "-".to_string()
        } else {
            arches.join(",")
        };
        crate::output::line(format!("{:<8} {:<28} {}", m.name, installed, m.description))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Cached `.deb` files that no installed sysroot or toolchain's stamp lists.
fn prune(ctx: &Context) -> Result<ExitCode> {
    let home = Home::of(ctx)?;
    let mut keep = std::collections::HashSet::new();
    let mut stamps = Vec::new();
    for kind in ["sysroots", "toolchains"] {
        collect_stamps(&home.data.join(kind), 2, &mut stamps);
    }
    for stamp in stamps {
        if let Some(s) = crate::sysroot::Stamp::read(&stamp) {
            keep.extend(s.set.packages.into_iter().map(|p| p.sha256));
        }
    }
    let cache = home.cache.join("debs").join("sha256");
    let (mut removed, mut freed) = (0usize, 0u64);
    for entry in std::fs::read_dir(&cache).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if keep.contains(&name) {
            continue;
        }
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        if std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
            freed += size;
        }
    }
    crate::output::line(format!(
        "removed {removed} cached packages ({})",
        crate::progress::human(freed)
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `.xx/sysroot.json` files at most `depth` directories below `dir`.
fn collect_stamps(dir: &std::path::Path, depth: usize, out: &mut Vec<std::path::PathBuf>) {
    let stamp = dir.join(crate::sysroot::STAMP);
    if stamp.is_file() {
        out.push(stamp);
        return;
    }
    if depth == 0 {
        return;
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_stamps(&entry.path(), depth - 1, out);
        }
    }
}
