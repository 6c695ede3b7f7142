//! `xx doctor [--platform P…] [--json]`: what each target needs (C compiler, linker,
//! libc, C++ library, Rust std, qemu) and, for each piece missing, the one command that
//! fixes it. Exits 1 when something is missing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::cc::{self, Target};
use crate::context::Context;
use crate::env_vars as ev;
use crate::platform::{Platform, TARGETS};
use crate::sysroot::managed;

pub fn command() -> Command {
    Command::new("doctor")
        .about("Check what each target needs and print the command that fixes each gap")
        .arg(
            Arg::new("platform")
                .long("platform")
                .value_name("OS/ARCH[/VARIANT]")
                .action(ArgAction::Append)
                .value_delimiter(',')
                .help("Targets to check (default: every linux target of the table)"),
        )
        .arg(
            Arg::new("json")
                .long("json")
                .action(ArgAction::SetTrue)
                .help("Print JSON"),
        )
}

/// One cell: what was found, or the command that would provide it.
enum Check {
    Ok(String),
    Missing(String),
    NotApplicable,
}

const COLUMNS: [&str; 6] = ["cc", "linker", "libc", "c++", "rust-std", "qemu"];

pub fn run(ctx: &Context, m: &ArgMatches) -> Result<ExitCode> {
    let platforms: Vec<String> = match m.get_many::<String>("platform") {
        Some(list) => list
            .map(|p| Platform::parse_flag(p).map(|p| p.to_string()))
            .collect::<Result<_>>()?,
        None => TARGETS
            .iter()
            .filter(|t| t.os == "linux" && t.default)
            .map(|t| Platform::of_row(t).to_string())
            .collect(),
    };
    let rust = crate::cargo::rust_sysroot(ctx).ok();
    let mut rows = Vec::new();
    for platform in &platforms {
        let mut scoped = ctx.clone_vars();
        scoped.set_var(ev::TARGETPAIR, "");
        scoped.set_var(ev::TARGETPLATFORM, platform);
        let target = Target::new(&scoped, None)?;
        rows.push((platform.clone(), checks(&scoped, &target, rust.as_ref())));
    }
    if m.get_flag("json") {
        print_json(&rows)?;
    } else {
        print_table(&rows)?;
    }
    let missing = rows
        .iter()
        .any(|(_, cells)| cells.iter().any(|c| matches!(c, Check::Missing(_))));
    Ok(if missing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn checks(ctx: &Context, t: &Target, rust: Option<&(PathBuf, bool)>) -> [Check; 6] {
    let platform = t.resolved.platform();
    let native = !t.resolved.is_cross(&ctx.host_march());
    let gnu_linux = t.resolved.os == "linux" && t.resolved.libc == "gnu";
    let compiler = cc::find_tool(ctx, "clang")
        .map(|_| "clang".to_string())
        .or_else(|| cc::find_tool(ctx, &format!("{}-gcc", t.gnu)).map(|_| "gcc".into()));
    let cc = match compiler {
        Some(c) => Check::Ok(c),
        None => Check::Missing("xx toolchain install llvm".into()),
    };
    let linker = match cc::linker(ctx, t) {
        Ok(linker) => Check::Ok(linker.arg),
        Err(e) => Check::Missing(help_of(&e).unwrap_or_else(|| "xx toolchain install llvm".into())),
    };
    let sysroot = managed::existing(ctx, &t.resolved);
    let libc = if native {
        Check::Ok("this machine".into())
    } else if !gnu_linux {
        Check::NotApplicable
    } else if managed::host_has_libc(&t.resolved) {
        Check::Ok("installed".into())
    } else if let Some(dir) = &sysroot {
        Check::Ok(format!("sysroot {}", dir.display()))
    } else {
        Check::Missing(format!("xx sysroot --platform {platform}"))
    };
    let cxx = if !gnu_linux {
        Check::NotApplicable
    } else if libstdcxx(t, sysroot.as_deref()) {
        Check::Ok("libstdc++".into())
    } else {
        Check::Missing(format!("xx sysroot --platform {platform}"))
    };
    let rust_std = match (crate::info::rust_triple(&t.resolved), rust) {
        (Err(_), _) => Check::NotApplicable,
        (Ok(_), None) => {
            Check::Missing("install Rust: rustup, or apt-get install rustc-web cargo-web".into())
        }
        (Ok(triple), Some((root, _))) if crate::cargo::has_std(root, triple) => {
            Check::Ok(triple.into())
        }
        (Ok(triple), Some((_, true))) => Check::Missing(format!("rustup target add {triple}")),
        (Ok(_), Some((_, false))) => Check::Missing(format!(
            "TARGETPLATFORM={platform} xx-cargo build (installs the distribution's std)"
        )),
    };
    let qemu = match t.row.qemu {
        _ if native => Check::Ok("native".into()),
        None => Check::NotApplicable,
        Some(name) => match crate::run::find_qemu(ctx, name) {
            Some(p) => Check::Ok(p.display().to_string()),
            None => Check::Missing("xx toolchain install qemu".into()),
        },
    };
    [cc, linker, libc, cxx, rust_std, qemu]
}

/// The `help:` line of an error, which names its fix.
fn help_of(e: &anyhow::Error) -> Option<String> {
    format!("{e:#}")
        .lines()
        .find_map(|l| l.strip_prefix("help: ").map(str::to_string))
}

/// libstdc++'s link library where the compilers look: the host's gcc dirs or the sysroot's.
fn libstdcxx(t: &Target, sysroot: Option<&Path>) -> bool {
    let mut dirs = vec![
        PathBuf::from(format!("/usr/lib/gcc-cross/{}", t.gnu)),
        PathBuf::from(format!("/usr/lib/gcc/{}", t.gnu)),
    ];
    if let Some(root) = sysroot {
        dirs.push(root.join(format!("usr/lib/gcc/{}", t.gnu)));
    }
    dirs.iter().any(|dir| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|v| v.path().join("libstdc++.so").exists())
    })
}

fn print_table(rows: &[(String, [Check; 6])]) -> Result<()> {
    let mut out = format!("{:<18}", "PLATFORM");
    for c in COLUMNS {
        out.push_str(&format!(" {c:<9}"));
    }
    crate::output::line(out.trim_end())?;
    let mut fixes = Vec::new();
    for (platform, cells) in rows {
        let mut line = format!("{platform:<18}");
        for (name, cell) in COLUMNS.iter().zip(cells) {
            let mark = match cell {
                Check::Ok(_) => "✓",
                Check::Missing(fix) => {
                    fixes.push(format!("{platform} {name}: {fix}"));
                    "✗"
                }
                Check::NotApplicable => "-",
            };
            line.push_str(&format!(" {mark:<9}"));
        }
        crate::output::line(line.trim_end())?;
    }
    if !fixes.is_empty() {
        crate::output::line("")?;
        fixes.dedup();
        for fix in fixes {
            crate::output::line(format!("✗ {fix}"))?;
        }
    }
    Ok(())
}

fn print_json(rows: &[(String, [Check; 6])]) -> Result<()> {
    let list: Vec<serde_json::Value> = rows
        .iter()
        .map(|(platform, cells)| {
            let mut obj = serde_json::Map::new();
            obj.insert("platform".into(), platform.clone().into());
            for (name, cell) in COLUMNS.iter().zip(cells) {
                let value = match cell {
                    Check::Ok(found) => serde_json::json!({"ok": true, "found": found}),
                    Check::Missing(fix) => serde_json::json!({"ok": false, "fix": fix}),
                    Check::NotApplicable => serde_json::Value::Null,
                };
                obj.insert((*name).into(), value);
            }
            serde_json::Value::Object(obj)
        })
        .collect();
    crate::output::line(serde_json::to_string_pretty(&list)?)?;
    Ok(())
}
