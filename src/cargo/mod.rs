//! `xx-cargo`: cargo for the target. Compatible with tonistiigi/xx's `xx-cargo`
//! (`--print-target-triple`, `--setup-target-triple`, `XX_RUSTFLAGS`, the armv7/riscv64gc
//! defaults), with xx's defects fixed: `--target` goes before `--`, setup is per target,
//! Rust triples are real ones for every os (darwin, windows), every variable name is one
//! cargo accepts, and CXX/AR/pkg-config/CMake are set for `-sys` crates on Debian too.
//! Beyond xx: a qemu runner for `test`/`run`, either cargo (rustup's, or Debian's
//! rustc-web with its own target std), `-Zbuild-std` when no std can be installed, and
//! glibc version targeting through the zig backend (`--glibc 2.17`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{anyhow, bail, Result};

use crate::cc;
use crate::context::{Context, OsRelease};
use crate::env_vars as ev;
use crate::platform::Target as Row;

mod rust_toolchain;

use rust_toolchain::{choose_toolchain, ensure_std, Std, Toolchain};
pub use rust_toolchain::{has_std, rust_sysroot};

/// Cargo subcommands that run target binaries (and so need the qemu runner).
const RUNS_BINARIES: &[&str] = &["test", "t", "run", "r", "bench"];

struct Plan {
    rust_triple: String,
    cc_target: cc::Target,
    toolchain: Toolchain,
    std: Std,
}

pub fn run(ctx: &Context, args: &[OsString]) -> Result<ExitCode> {
    let (mut args, glibc) = take_glibc(args)?;
    let mut ctx = with_cargo_defaults(ctx);
    if let Some(v) = glibc
        .as_deref()
        .or(ctx.var(ev::XX_GLIBC_VERSION))
        .map(str::to_string)
    {
        // It names files (`<triple>.<V>-clang`): a version, nothing else.
        if !is_glibc_version(&v) {
            bail!("XX_GLIBC_VERSION={v}: expected a version like 2.17");
        }
        // glibc targeting is the zig backend's job (cargo-zigbuild's approach).
        ctx.set_var(ev::XX_GLIBC_VERSION, &v);
        ctx.set_var(ev::XX_CC_COMPILER, "zig");
    }
    let print = take_flag(&mut args, "--print-target-triple");
    let setup_only = take_flag(&mut args, "--setup-target-triple");
    let cc_target = cc::Target::new(&ctx, None)?;
    let rust_triple = Row::by_libc(cc_target.row.rust, &cc_target.resolved.libc)
        .ok_or_else(|| anyhow!("Rust has no target for {}", cc_target.resolved.platform()))?
        .to_string();
    if print {
        crate::output::line(&rust_triple)?;
        return Ok(ExitCode::SUCCESS);
    }
    // `xx-cargo +nightly build`: cargo's proxy takes it; the std is that toolchain's.
    let channel = args
        .first()
        .and_then(|a| a.to_str()?.strip_prefix('+'))
        .map(String::from);
    if channel.as_deref() == Some("") {
        bail!("`+` names no toolchain: use e.g. xx-cargo +nightly build");
    }
    let plan = setup(&ctx, cc_target, rust_triple, channel)?;
    if setup_only {
        return Ok(ExitCode::SUCCESS);
    }
    let mut cmd = cargo_command(&ctx, &plan, &args)?;
    Err(crate::proc::exec(&mut cmd))
}

/// The Rust target triple xx-cargo builds for `target` (`xx-cargo --print-target-triple`).
pub fn rust_triple(target: &crate::platform::Resolved) -> Option<&'static str> {
    Row::by_libc(target.target?.rust, &target.libc)
}

/// xx-cargo's view of the target: Rust-style triples (`armv7`, `riscv64gc`, vendor
/// `unknown`) for the C side too, unless the user chose otherwise.
fn with_cargo_defaults(ctx: &Context) -> Context {
    let mut c = ctx.clone_vars();
    let defaults = crate::platform::TARGETS
        .iter()
        .filter_map(|t| Some((t.triple.arch_env?, t.triple.cargo_arch?)));
    for (name, default) in defaults {
        if c.var(name).is_none() {
            c.set_var(name, default);
        }
    }
    let alpine = OsRelease::read(ctx).is_some_and(|r| r.id == "alpine");
    if c.var(ev::XX_VENDOR).is_none() && (!alpine || cc::find_tool(ctx, "rustup").is_some()) {
        c.set_var(ev::XX_VENDOR, "unknown");
    }
    c
}

/// Removes our flag from the arguments before `--` (after it, they are the program's).
fn take_flag(args: &mut Vec<OsString>, flag: &str) -> bool {
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    match args[..end].iter().position(|a| a == flag) {
        Some(i) => {
            args.remove(i);
            true
        }
        None => false,
    }
}

/// `--glibc 2.17` / `--glibc=2.17` (ours, not cargo's) is taken out of the arguments.
fn take_glibc(args: &[OsString]) -> Result<(Vec<OsString>, Option<String>)> {
    let mut out = Vec::with_capacity(args.len());
    let mut glibc = None;
    let mut iter = args.iter();
    while let Some(a) = iter.next() {
        if a == "--" {
            out.push(a.clone());
            out.extend(iter.cloned());
            break;
        }
        match a.to_str() {
            Some("--glibc") => {
                let v = iter
                    .next()
                    .ok_or_else(|| anyhow!("--glibc needs a version, e.g. --glibc 2.17"))?;
                glibc = Some(v.to_string_lossy().into_owned());
            }
            Some(s) if s.starts_with("--glibc=") => glibc = Some(s["--glibc=".len()..].to_string()),
            _ => out.push(a.clone()),
        }
    }
    if let Some(v) = glibc.as_deref().filter(|v| !is_glibc_version(v)) {
        bail!("--glibc {v}: expected a version like 2.17");
    }
    Ok((out, glibc))
}

fn is_glibc_version(v: &str) -> bool {
    v.split('.').count() == 2
        && v.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The C toolchain for the target, and its std: checked on every run (one `rustc
/// --print sysroot`), installed when missing, locked so parallel builds for different
/// targets do not collide.
fn setup(
    ctx: &Context,
    cc_target: cc::Target,
    rust_triple: String,
    channel: Option<String>,
) -> Result<Plan> {
    let toolchain = choose_toolchain(ctx, channel)?;
    cc::ensure(ctx, &cc_target)?;
    let prefix = cc::prefix_dir(ctx);
    let _lock = if ctx.var(ev::XX_CARGO_NOLOCK).is_none() {
        Some(crate::fsutil::lock(
            &prefix.join(".xx-cargo.lock"),
            "xx-cargo",
        )?)
    } else {
        None
    };
    let (toolchain, std) = ensure_std(ctx, toolchain, &cc_target, &rust_triple)?;
    if let Some(v) = ctx.var(ev::XX_GLIBC_VERSION) {
        let exe = crate::fsutil::this_exe()?;
        for tool in ["clang", "clang++"] {
            crate::fsutil::link(&prefix.join(format!("{}.{v}-{tool}", cc_target.name)), exe)?;
        }
    }
    Ok(Plan {
        rust_triple,
        cc_target,
        toolchain,
        std,
    })
}

/// The linker variable xx-cargo sets for `ctx`'s target and its value, the xx-cc alias
/// made ready; None where the user set that variable or chose a glibc (a zig alias).
/// `xx build` gives it to the other platforms' runs too: cargo fingerprints the host
/// units' linker, and the same value lets every platform share the host build scripts.
pub fn target_linker(ctx: &Context) -> Result<Option<(String, PathBuf)>> {
    let ctx = with_cargo_defaults(ctx);
    if ctx.var(ev::XX_GLIBC_VERSION).is_some() {
        return Ok(None);
    }
    let cc_target = cc::Target::new(&ctx, None)?;
    let triple = Row::by_libc(cc_target.row.rust, &cc_target.resolved.libc)
        .ok_or_else(|| anyhow!("Rust has no target for {}", cc_target.resolved.platform()))?;
    let name = linker_var(triple);
    if ctx.var(&name).is_some() {
        return Ok(None);
    }
    cc::ensure(&ctx, &cc_target)?;
    let linker = cc::prefix_dir(&ctx).join(format!("{}-clang", cc_target.name));
    Ok(Some((name, linker)))
}

fn linker_var(rust_triple: &str) -> String {
    format!("CARGO_TARGET_{}_LINKER", cargo_env_name(rust_triple))
}

/// `CARGO_TARGET_<T>_…`: cargo's spelling of a triple in variable names.
fn cargo_env_name(triple: &str) -> String {
    triple.to_ascii_uppercase().replace(['-', '.'], "_")
}

fn cargo_command(ctx: &Context, plan: &Plan, args: &[OsString]) -> Result<Command> {
    let t = &plan.cc_target;
    let prefix = cc::prefix_dir(ctx);
    let alias = |tool: &str| prefix.join(format!("{}-{tool}", t.name));
    // With --glibc the compilers are `<triple>.<version>-clang[++]` (zig), so the linker
    // path, which cargo fingerprints, changes with the version.
    let compiler = |tool: &str| match ctx.var(ev::XX_GLIBC_VERSION) {
        Some(v) => prefix.join(format!("{}.{v}-{tool}", t.name)),
        None => alias(tool),
    };
    let upper = cargo_env_name(&plan.rust_triple);
    let lower = plan.rust_triple.replace(['-', '.'], "_");
    let (program, rustc) = match &plan.toolchain {
        Toolchain::Rustup { cargo, .. } => (cargo.clone(), None),
        Toolchain::Distro { cargo, rustc } => (cargo.clone(), Some(rustc.clone())),
    };
    let mut cmd = Command::new(program);
    cmd.args(target_args(args, &plan.rust_triple, &plan.std));
    if let Some(rustc) = rustc {
        // rustdoc too: doctests with rustup's rustdoc and Debian's std fail (E0514).
        cmd.env("RUSTDOC", rustc.with_file_name("rustdoc"));
        cmd.env("RUSTC", rustc);
    }
    // Set only what the user has not: their settings win (cargo-zigbuild's rule), also
    // the TARGET_X spelling that cc-rs, pkg-config and cmake read after X_<t>.
    let mut set = |name: String, value: OsString| {
        let generic = name
            .rsplit_once(&format!("_{lower}"))
            .map(|(x, _)| format!("TARGET_{x}"));
        let user_set = ctx.var(&name).is_some() || generic.is_some_and(|g| ctx.var(&g).is_some());
        if !user_set {
            cmd.env(name, value);
        }
    };
    set(linker_var(&plan.rust_triple), compiler("clang").into());
    set(format!("CC_{lower}"), compiler("clang").into());
    set(format!("CXX_{lower}"), compiler("clang++").into());
    if alias("ar").exists() {
        set(format!("AR_{lower}"), alias("ar").into());
    }
    // Empty, so the host's CFLAGS (-march=native…) never reach target objects.
    set(format!("CFLAGS_{lower}"), OsString::new());
    set(format!("CXXFLAGS_{lower}"), OsString::new());
    let cmake_file = match ctx.var(ev::XX_GLIBC_VERSION) {
        Some(v) => {
            let pinned = format!("{}.{v}", t.name);
            cc::cmake_twin(ctx, t, &prefix, &pinned, &pinned)?
        }
        None if zig_for_std(ctx, plan) => {
            cc::cmake_twin(ctx, t, &prefix, &format!("{}.zig", t.name), &t.name)?
        }
        None => cc::write_cmake(ctx, t, &prefix)?,
    };
    set(format!("CMAKE_TOOLCHAIN_FILE_{lower}"), cmake_file.into());
    // pkg-config for the target only: host build scripts keep the host's (xx#94).
    set(format!("PKG_CONFIG_{lower}"), alias("pkg-config").into());
    set(format!("PKG_CONFIG_ALLOW_CROSS_{lower}"), "1".into());
    let target_rustflags = format!("CARGO_TARGET_{upper}_RUSTFLAGS");
    let forced = forced_rustflags(&plan.std, &t.resolved.libc);
    if forced.is_empty() {
        if let Some(flags) = ctx.var(ev::XX_RUSTFLAGS) {
            set(target_rustflags.clone(), flags.into());
        }
    }
    if let Some(runner) = runner(ctx, t, args)? {
        set(format!("CARGO_TARGET_{upper}_RUNNER"), runner.into());
    }
    if !forced.is_empty() {
        // Set even over the user's (theirs are kept): without them the build cannot
        // link. cargo takes the first of CARGO_ENCODED_RUSTFLAGS, RUSTFLAGS and the
        // target's flags, so they go into the one it reads; with --target, the first
        // two reach target crates only, as the third does.
        if let Some(encoded) = ctx.var(ev::CARGO_ENCODED_RUSTFLAGS) {
            let mut all = vec![encoded.to_string()];
            all.extend(forced);
            cmd.env(ev::CARGO_ENCODED_RUSTFLAGS, all.join("\x1f"));
        } else if let Some(user) = ctx.var(ev::RUSTFLAGS) {
            cmd.env(ev::RUSTFLAGS, format!("{user} {}", forced.join(" ")));
        } else {
            let flags: Vec<String> = [ctx.var(&target_rustflags), ctx.var(ev::XX_RUSTFLAGS)]
                .into_iter()
                .flatten()
                .map(String::from)
                .chain(forced)
                .collect();
            cmd.env(&target_rustflags, flags.join(" "));
        }
    }
    if zig_for_std(ctx, plan) {
        cmd.env(ev::XX_CC_COMPILER, "zig");
    }
    if plan.std == Std::FromSource {
        cmd.env("RUSTC_BOOTSTRAP", "1");
    }
    for name in [
        ev::XX_CC_COMPILER,
        ev::XX_GLIBC_VERSION,
        ev::XX_VENDOR,
        ev::ARM_TARGET_ARCH,
        ev::RISCV64_TARGET_ARCH,
    ] {
        if let Some(v) = ctx.var(name) {
            cmd.env(name, v);
        }
    }
    if let Some(linker) = t.row.os_info().cargo_linker {
        if ctx.var(ev::XX_CC_PREFER_LINKER).is_none() {
            cmd.env(ev::XX_CC_PREFER_LINKER, linker);
        }
    }
    cmd.env(ev::XX_PREFIX, &prefix);
    Ok(cmd)
}

/// A musl std built from source has no self-contained musl (crt1.o, libc.a): zig
/// brings its own, so it links, unless the user chose the C compiler.
fn zig_for_std(ctx: &Context, plan: &Plan) -> bool {
    plan.std == Std::FromSource
        && plan.cc_target.resolved.libc == "musl"
        && ctx.var(ev::XX_CC_COMPILER).is_none()
}

/// Target rustflags a build cannot do without: the managed std's sysroot (target crates
/// only: host build scripts keep rustc's own std), and for a musl std built from source
/// the C toolchain's libc instead of rustup's self-contained one, which it lacks.
fn forced_rustflags(std: &Std, libc: &str) -> Vec<String> {
    match std {
        Std::Managed(root) => vec![format!("--sysroot={}", root.display())],
        Std::FromSource if libc == "musl" => vec!["-Clink-self-contained=no".into()],
        _ => Vec::new(),
    }
}

/// `--target T` before any `--` (xx appends it last, after `--`: tonistiigi/xx's
/// `xx-cargo test -- --nocapture` bug), unless the user gave one; plus `-Zbuild-std`.
fn target_args(args: &[OsString], triple: &str, std: &Std) -> Vec<OsString> {
    let has_target = args
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--target" || a.to_string_lossy().starts_with("--target="));
    let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let mut out: Vec<OsString> = args[..split].to_vec();
    if !args.is_empty() && !has_target {
        out.push(format!("--target={triple}").into());
    }
    if *std == Std::FromSource && !args.is_empty() {
        out.push("-Zbuild-std=std,panic_abort".into());
    }
    out.extend_from_slice(&args[split..]);
    out
}

/// qemu-user for foreign targets: `qemu-<arch> -L <target libc root>`. Missing qemu is an
/// error only for subcommands that run target binaries.
fn runner(ctx: &Context, t: &cc::Target, args: &[OsString]) -> Result<Option<String>> {
    if !t.resolved.is_cross(&ctx.host_march()) {
        return Ok(None);
    }
    let Some(qemu_name) = t.row.qemu else {
        return Ok(None);
    };
    let subcommand = args
        .iter()
        .filter_map(|a| a.to_str())
        .find(|a| !a.starts_with('-') && !a.starts_with('+'));
    match crate::run::find_qemu(ctx, qemu_name) {
        Some(qemu) => {
            let root = t.qemu_root(ctx);
            Ok(Some(format!("{} -L {}", qemu.display(), root.display())))
        }
        None if subcommand.is_some_and(|s| RUNS_BINARIES.contains(&s)) => bail!(
            "{qemu_name} not found: xx-cargo runs {} binaries under qemu-user\nhelp: apt-get install qemu-user",
            t.resolved.platform()
        ),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn target_goes_before_double_dash() {
        let t = "aarch64-unknown-linux-gnu";
        assert_eq!(
            target_args(
                &os(&["test", "--release", "--", "--nocapture"]),
                t,
                &Std::Installed
            ),
            os(&[
                "test",
                "--release",
                "--target=aarch64-unknown-linux-gnu",
                "--",
                "--nocapture"
            ])
        );
        assert_eq!(
            target_args(&os(&["build", "--target", "x"]), t, &Std::Installed),
            os(&["build", "--target", "x"])
        );
        assert_eq!(
            target_args(&os(&["build"]), t, &Std::FromSource),
            os(&[
                "build",
                "--target=aarch64-unknown-linux-gnu",
                "-Zbuild-std=std,panic_abort"
            ])
        );
    }

    #[test]
    fn variable_names_cargo_accepts() {
        assert_eq!(
            cargo_env_name("aarch64-apple-darwin"),
            "AARCH64_APPLE_DARWIN"
        );
        assert_eq!(
            cargo_env_name("armv7-unknown-linux-gnueabihf"),
            "ARMV7_UNKNOWN_LINUX_GNUEABIHF"
        );
    }

    #[test]
    fn glibc_flag() {
        let (rest, v) = take_glibc(&os(&["build", "--glibc", "2.17", "--", "--glibc"])).unwrap();
        assert_eq!(v.as_deref(), Some("2.17"));
        assert_eq!(rest, os(&["build", "--", "--glibc"]));
        assert!(take_glibc(&os(&["build", "--glibc=2"])).is_err());
    }
}
