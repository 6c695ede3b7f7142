//! `xx-info` / `xx info`: the target's names. Compatible with tonistiigi/xx's `xx-info`
//! (same stdout, stderr, exit codes), plus `--json`, `--platform` and a few new commands.

use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::context::Context;
use crate::env_vars as ev;
use crate::platform::{self, Resolved, Target};

const USAGE_COMMANDS: &str = "\
Commands:
  alpine-arch    Print target architecture for Alpine package repositories
  arch           Print target architecture for Docker
  debian-arch    Print target architecture for Debian/Ubuntu package repositories
  env            Print XX_* variables defining target environment
  is-cross       Exit cleanly if target is not native architecture
  libc           Print used libc (musl or gnu)
  march          Print target machine architecture, uname -m
  os             Print target operating system (linux,darwin,windows,wasi)
  os-version     Print operating system version
  pkg-arch       Print either alpine-arch or debian-arch
  rhel-arch      Print target architecture for RPM package repositories
  sysroot        Print sysroot directory for target architecture
  triple         Print target triple in arch[-vendor]-os-abi form
  vendor         Print vendor part of target triple
  variant        Print target variant if architecture is arm (eg. v7)

";

const USAGE_EXTENSIONS: &str = "\
Commands added by this xx (not in tonistiigi/xx):
  rust-triple    Print the Rust target triple
  go-env         Print GOOS/GOARCH/GOARM/GOAMD64 lines
  zig-target     Print the zig -target (with XX_GLIBC_VERSION appended for gnu)
  qemu           Print the qemu-user binary that runs target binaries
  list           Print the table of supported targets

Options added by this xx:
  --platform P   Target to describe (os/arch[/variant], an arch, or a triple) instead of TARGETPLATFORM
  --json         Print every field as one JSON object

";

/// Commands that answer for any target, as in xx; every other one, an unknown command
/// included, fails first with the unsupported-target message (nothing on stdout).
const ANY_TARGET: &[&str] = &["arch", "variant", "os", "os-version", "vendor", "libc"];

struct Args {
    command: String,
    json: bool,
}

pub fn run(ctx: &mut Context, prog: &str, args: &[String]) -> Result<ExitCode> {
    let args = parse_args(ctx, args)?;
    if args.command == "--help" {
        eprint!("Usage: {prog} [COMMAND]\n\n{USAGE_COMMANDS}{USAGE_EXTENSIONS}");
        return Ok(ExitCode::SUCCESS);
    }
    if args.command == "list" {
        return print(&list());
    }
    let r = Resolved::from_context(ctx);
    if args.json {
        return print_json(ctx, &r);
    }
    if !ANY_TARGET.contains(&args.command.as_str()) && !r.is_supported() {
        crate::output::err_line(r.unsupported_message());
        return Ok(ExitCode::FAILURE);
    }
    let out = match args.command.as_str() {
        "" | "triple" => r.triple.clone(),
        "is-cross" => {
            let cross = r.is_cross(&ctx.host_march());
            return Ok(if cross {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        "arch" => r.arch.clone(),
        "variant" => r.variant.clone(),
        "os" => r.os.clone(),
        "os-version" => r.os_version.clone(),
        "march" => r.march.clone(),
        "debian-arch" => r.deb.clone(),
        "alpine-arch" => r.apk.clone(),
        "rhel-arch" => r.rpm.clone(),
        "pkg-arch" => r.pkg_arch.clone(),
        "vendor" => r.vendor.clone(),
        "libc" => r.libc.clone(),
        "env" => env_lines(&r),
        "sysroot" => sysroot(ctx, &r),
        "rust-triple" => rust_triple(&r)?.to_string(),
        "go-env" => go_env(&r)?,
        "zig-target" => zig_target(ctx, &r)?,
        "qemu" => qemu(&r)?.to_string(),
        other => {
            // xx prints this on stdout, and exits 1 whether or not anyone reads it.
            let _ = crate::output::line(format!("unknown command {other}"));
            return Ok(ExitCode::FAILURE);
        }
    };
    print(&out)
}

/// xx reads only `$1`; our options may stand anywhere and are taken out first.
fn parse_args(ctx: &mut Context, args: &[String]) -> Result<Args> {
    let mut command = None;
    let mut json = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let platform = if arg == "--platform" {
            match iter.next() {
                Some(p) => Some(p.as_str()),
                None => bail!("--platform needs a value, e.g. --platform linux/arm64"),
            }
        } else {
            arg.strip_prefix("--platform=")
        };
        if let Some(p) = platform {
            set_platform(ctx, p)?;
        } else if arg == "--json" {
            json = true;
        } else if command.is_none() {
            command = Some(arg.clone());
        }
    }
    Ok(Args {
        command: command.unwrap_or_default(),
        json,
    })
}

/// `--platform` stands in for TARGETPLATFORM (and clears what would override it).
fn set_platform(ctx: &mut Context, text: &str) -> Result<()> {
    let p = platform::parse_cli_platform(text).map_err(anyhow::Error::msg)?;
    ctx.set_var(ev::TARGETPAIR, "");
    ctx.set_var(ev::TARGETPLATFORM, &p.platform);
    ctx.set_var(ev::TARGETVARIANT, "");
    if let Some(libc) = p.libc {
        ctx.set_var(ev::XX_LIBC, &libc);
    }
    Ok(())
}

fn env_lines(r: &Resolved) -> String {
    let mut lines = vec![
        format!("XX_OS={}", r.os),
        format!("XX_OS_VERSION={}", r.os_version),
        format!("XX_ARCH={}", r.arch),
        format!("XX_MARCH={}", r.march),
        format!("XX_VENDOR={}", r.vendor),
    ];
    if r.os == "linux" {
        lines.push(format!("XX_PKG_ARCH={}", r.pkg_arch));
    }
    lines.extend([
        format!("XX_TRIPLE={}", r.triple),
        format!("XX_LIBC={}", r.libc),
        format!("TARGETOS={}", r.os),
        format!("TARGETARCH={}", r.arch),
        format!("TARGETVARIANT={}", r.variant),
    ]);
    lines.join("\n")
}

/// `/`, `/<triple>/` for Alpine cross sysroots, the macOS SDK for darwin.
pub(crate) fn sysroot(ctx: &Context, r: &Resolved) -> String {
    let mut sysroot = "/".to_string();
    let alpine = ctx.host_path("/etc/alpine-release").is_file();
    if alpine && r.march != ctx.host_march() && r.os == "linux" {
        sysroot = format!("/{}/", r.triple);
    }
    if r.os == "darwin" {
        sysroot = format!("{}/", macos_sdk(ctx));
    }
    sysroot
}

/// The first `/xx-sdk/MacOSX*.sdk` (by name, as the shell's glob sorts). Like xx, an
/// existing `/xx-sdk` without a match gives the unexpanded pattern.
fn macos_sdk(ctx: &Context) -> String {
    let dir = ctx.host_path("/xx-sdk");
    if !dir.is_dir() {
        return "/xx-sdk/MacOSX11.1.sdk".to_string();
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("MacOSX") && n.ends_with(".sdk"))
        .collect();
    names.sort();
    match names.first() {
        Some(n) => format!("/xx-sdk/{n}"),
        None => "/xx-sdk/MacOSX*.sdk".to_string(),
    }
}

fn row(r: &Resolved) -> Result<&'static Target> {
    r.target
        .ok_or_else(|| anyhow::anyhow!("{}", r.unsupported_message()))
}

pub(crate) fn rust_triple(r: &Resolved) -> Result<&'static str> {
    let t = row(r)?;
    Target::by_libc(t.rust, &r.libc).ok_or_else(|| {
        anyhow::anyhow!(
            "no Rust target for {} with libc {}; see `xx info list`",
            r.platform(),
            r.libc
        )
    })
}

fn go_env(r: &Resolved) -> Result<String> {
    let t = row(r)?;
    let mut lines = vec![format!("GOOS={}", r.os)];
    lines.extend(t.go.iter().map(|(k, v)| format!("{k}={v}")));
    if let Some(var) = t.go_variant.filter(|_| !r.variant.is_empty()) {
        lines.push(format!("{var}={}", r.variant));
    }
    Ok(lines.join("\n"))
}

pub fn zig_target(ctx: &Context, r: &Resolved) -> Result<String> {
    let t = row(r)?;
    let zig = Target::by_libc(t.zig, &r.libc).ok_or_else(|| {
        anyhow::anyhow!("no zig target for {} with libc {}", r.platform(), r.libc)
    })?;
    Ok(match ctx.var(ev::XX_GLIBC_VERSION) {
        Some(v) if r.libc == "gnu" => format!("{zig}.{v}"),
        _ => zig.to_string(),
    })
}

fn qemu(r: &Resolved) -> Result<&'static str> {
    let t = row(r)?;
    t.qemu
        .ok_or_else(|| anyhow::anyhow!("qemu-user does not run {} binaries", r.os))
}

fn list() -> String {
    let mut rows = vec![["PLATFORM", "MARCH", "DEBIAN", "ALPINE", "RPM", "QEMU"]
        .map(String::from)
        .to_vec()];
    rows[0].push("RUST (gnu | musl)".to_string());
    for t in platform::TARGETS {
        let rust: Vec<&str> = t.rust.iter().map(|(_, v)| *v).collect();
        let mut row: Vec<String> = [
            t.platform,
            t.march,
            t.deb,
            t.apk,
            t.rpm,
            t.qemu.unwrap_or("-"),
        ]
        .map(String::from)
        .to_vec();
        row.push(if rust.is_empty() {
            "-".to_string()
        } else {
            rust.join(" | ")
        });
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let lines: Vec<String> = rows
        .iter()
        .map(|r| {
            let cells: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect();
    lines.join("\n")
}

fn print_json(ctx: &Context, r: &Resolved) -> Result<ExitCode> {
    let t = r.target;
    let value = serde_json::json!({
        "platform": r.platform(),
        "os": r.os,
        "arch": r.arch,
        "variant": r.variant,
        "supported": r.is_supported(),
        "os_version": r.os_version,
        "vendor": r.vendor,
        "distro": r.distro,
        "libc": r.libc,
        "march": r.march,
        "debian_arch": r.deb,
        "alpine_arch": r.apk,
        "rhel_arch": r.rpm,
        "pkg_arch": r.pkg_arch,
        "triple": r.triple,
        "rust_triple": rust_triple(r).ok(),
        "zig_target": zig_target(ctx, r).ok(),
        "go_env": t.map(|_| go_env(r).unwrap_or_default()),
        "qemu": t.and_then(|t| t.qemu),
        "is_cross": r.is_cross(&ctx.host_march()),
        "sysroot": sysroot(ctx, r),
        "elf": t.map(|t| serde_json::json!({
            "machine": t.bin.machine,
            "bits": t.bin.bits,
            "endian": format!("{:?}", t.bin.endian).to_lowercase(),
            "float_abi": t.float_abi(&r.libc),
            "loader": t.loader(&r.libc),
        })),
    });
    let text = serde_json::to_string_pretty(&value)?;
    print(&text)
}

/// One line to stdout (a closed pipe ends the command quietly: see `output`).
fn print(text: &str) -> Result<ExitCode> {
    crate::output::line(text)?;
    Ok(ExitCode::SUCCESS)
}
