//! `xx-cc`, `xx-c++`, `xx-clang`, `xx-clang++` and the `<triple>-clang[++]` /
//! `<triple>-pkg-config` aliases: a C/C++ compiler for the target. Compatible with
//! tonistiigi/xx's `xx-cc` (flags, config file, aliases, linker choice), plus a gcc and a
//! zig backend, CMake/Meson/autotools glue and a pkg-config wrapper on Debian.
//!
//! A compile is one exec of the compiler after microseconds here: the common path reads
//! one small config file and replaces this process.

mod files;
mod prefix;
mod setup;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{anyhow, bail, Context as _, Result};

use crate::context::Context;
use crate::env_vars as ev;
use crate::platform::{self, Resolved};

/// The target of one compiler call.
pub struct Target {
    pub resolved: Resolved,
    pub row: &'static platform::Target,
    /// The name of the files and aliases: `xx-info triple`, or the `--target` given.
    pub name: String,
    pub clang_target: String,
    /// Debian/GNU triple of cross gcc and binutils.
    pub gnu: String,
}

impl Target {
    /// From the environment (TARGETPLATFORM, …), or from an explicit `--target` triple.
    pub fn new(ctx: &Context, explicit: Option<&str>) -> Result<Target> {
        let resolved = match explicit {
            Some(triple) => {
                let p = platform::parse_cli_platform(triple)
                    .map_err(|e| anyhow!("--target={triple}: {e}"))?;
                let mut scoped = ctx.clone_vars();
                scoped.set_var(ev::TARGETPAIR, "");
                scoped.set_var(ev::TARGETPLATFORM, &p.platform);
                if let Some(libc) = &p.libc {
                    scoped.set_var(ev::XX_LIBC, libc);
                }
                Resolved::from_context(&scoped)
            }
            None => Resolved::from_context(ctx),
        };
        let row = match resolved.target {
            Some(row) if resolved.is_supported() => row,
            _ => bail!("{}", resolved.unsupported_message()),
        };
        let name = explicit
            .map(str::to_string)
            .unwrap_or_else(|| resolved.triple.clone());
        let clang_target = match explicit {
            Some(t) => t.to_string(),
            None => resolved.clang_triple.clone(),
        };
        Ok(Target {
            gnu: resolved.gnu_triple.clone(),
            resolved,
            row,
            name,
            clang_target,
        })
    }

    pub fn multiarch(&self) -> &str {
        self.row.multiarch.unwrap_or(&self.gnu)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    C,
    Cxx,
}

/// `xx-cc` / `xx-clang` (C) and `xx-c++` / `xx-clang++` (C++).
pub fn run_personality(ctx: &Context, name: &str, args: &[String]) -> Result<ExitCode> {
    let lang = if name.ends_with("++") {
        Lang::Cxx
    } else {
        Lang::C
    };
    compile(ctx, lang, None, args)
}

/// `<triple>-clang`, `<triple>-clang++`, `<triple>-pkg-config` (links to xx in the prefix).
pub fn run_alias(ctx: &Context, stem: &str, args: &[String]) -> Option<Result<ExitCode>> {
    if let Some(triple) = stem.strip_suffix("-clang++") {
        return Some(compile(ctx, Lang::Cxx, Some(triple), args));
    }
    if let Some(triple) = stem.strip_suffix("-clang") {
        return Some(compile(ctx, Lang::C, Some(triple), args));
    }
    if let Some(triple) = stem.strip_suffix("-pkg-config") {
        return Some(pkg_config(ctx, triple, args));
    }
    None
}

/// What the arguments ask of the wrapper itself.
struct Parsed {
    target: Option<String>,
    action: Option<String>,
    rest: Vec<String>,
}

const ACTIONS: &[&str] = &[
    "setup-target-triple",
    "print-target-triple",
    "print-cmake-defines",
    "print-sysroot",
    "print-cmake-toolchain-file",
    "print-meson-cross-file",
    "print-autotools-env",
    "print-env",
    "wrap",
    "unwrap",
];

fn parse(args: &[String]) -> Parsed {
    let mut parsed = Parsed {
        target: None,
        action: None,
        rest: Vec::new(),
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let flag = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'));
        if let Some(t) = arg
            .strip_prefix("--target=")
            .or_else(|| arg.strip_prefix("-target="))
        {
            parsed.target = Some(t.to_string());
        } else if arg == "-target" || arg == "--target" {
            parsed.target = iter.next().cloned();
        } else if let Some(action) = flag.filter(|f| ACTIONS.contains(f)) {
            parsed.action = Some(action.to_string());
        } else {
            parsed.rest.push(arg.clone());
        }
    }
    parsed
}

fn compile(ctx: &Context, lang: Lang, alias: Option<&str>, args: &[String]) -> Result<ExitCode> {
    let compiler = if lang == Lang::Cxx {
        "clang++"
    } else {
        "clang"
    };
    if args.iter().any(|a| a == "--config") {
        // xx's rule: a caller with its own config gets clang untouched.
        let real = prefix::find_tool(ctx, compiler).ok_or_else(|| missing(compiler))?;
        return Err(exec(Command::new(real).args(args)));
    }
    let parsed = parse(args);
    let target = Target::new(ctx, parsed.target.as_deref().or(alias))?;
    if let Some(action) = parsed.action.as_deref() {
        return act(ctx, &target, action);
    }
    if let Some(prog) = parsed
        .rest
        .iter()
        .find_map(|a| a.strip_prefix("-print-prog-name="))
    {
        let ours = prefix::dir(ctx).join(format!("{}-{prog}", target.name));
        if ours.exists() {
            println!("{}", ours.display());
            return Ok(ExitCode::SUCCESS);
        }
    }
    match ctx.var(ev::XX_CC_COMPILER) {
        Some("gcc") => gcc(ctx, lang, &target, &parsed.rest),
        Some("zig") => zig(ctx, lang, &target, &parsed.rest),
        _ if uses_clang(ctx) => clang(ctx, compiler, &target, &parsed.rest),
        _ => gcc(ctx, lang, &target, &parsed.rest),
    }
}

/// The clang backend: asked for, or the default when clang is installed.
pub(crate) fn uses_clang(ctx: &Context) -> bool {
    match ctx.var(ev::XX_CC_COMPILER) {
        Some("clang") => true,
        Some(_) => false,
        None => prefix::find_tool(ctx, "clang").is_some(),
    }
}

fn clang(ctx: &Context, compiler: &str, t: &Target, args: &[String]) -> Result<ExitCode> {
    let real = prefix::find_tool(ctx, compiler).ok_or_else(|| missing(compiler))?;
    let cfg = setup::ensure(ctx, t)?;
    Err(exec(Command::new(real).arg("--config").arg(cfg).args(args)))
}

fn gcc(ctx: &Context, lang: Lang, t: &Target, args: &[String]) -> Result<ExitCode> {
    let name = format!(
        "{}-{}",
        t.gnu,
        if lang == Lang::Cxx { "g++" } else { "gcc" }
    );
    let real = prefix::find_tool(ctx, &name).ok_or_else(|| {
        anyhow!(
            "{name} not found\nhelp: apt-get install {}-{}",
            if lang == Lang::Cxx { "g++" } else { "gcc" },
            t.gnu.replace('_', "-")
        )
    })?;
    Err(exec(Command::new(real).args(args)))
}

fn zig(ctx: &Context, lang: Lang, t: &Target, args: &[String]) -> Result<ExitCode> {
    let mut target = platform::Target::by_libc(t.row.zig, &t.resolved.libc)
        .ok_or_else(|| anyhow!("zig has no target for {}", t.resolved.platform()))?
        .to_string();
    if let Some(glibc) = ctx
        .var(ev::XX_GLIBC_VERSION)
        .filter(|_| t.resolved.libc == "gnu")
    {
        target = format!("{target}.{glibc}");
    }
    if t.resolved.libc == "gnu" && args.iter().any(|a| a == "-static") {
        bail!(
            "zig links glibc only dynamically\n\
             help: use XX_LIBC=musl for a static binary, or XX_CC_COMPILER=clang (or gcc)"
        );
    }
    let sub = if lang == Lang::Cxx { "c++" } else { "cc" };
    let mut cmd = match prefix::find_tool(ctx, "zig") {
        Some(zig) => Command::new(zig),
        None => {
            let python = prefix::find_tool(ctx, "python3").ok_or_else(|| missing("zig"))?;
            let mut c = Command::new(python);
            c.args(["-m", "ziglang"]);
            c
        }
    };
    cmd.arg(sub).arg("-target").arg(target);
    if let Some(cpu) = t.row.zig_cpu {
        cmd.arg(format!("-mcpu={cpu}"));
    }
    cmd.args(args);
    Err(exec(&mut cmd))
}

fn act(ctx: &Context, t: &Target, action: &str) -> Result<ExitCode> {
    let dir = prefix::dir(ctx);
    let out = match action {
        "setup-target-triple" => {
            setup::ensure(ctx, t)?;
            return Ok(ExitCode::SUCCESS);
        }
        "print-target-triple" => {
            setup::ensure(ctx, t)?;
            t.clang_target.clone()
        }
        "print-sysroot" => "/".to_string(),
        "print-cmake-defines" => {
            setup::ensure(ctx, t)?;
            files::cmake_defines(t, &dir)
        }
        "print-cmake-toolchain-file" => {
            setup::ensure(ctx, t)?;
            // Rewritten each time: the backend (XX_CC_COMPILER) may differ from setup's.
            let path = dir.join(format!("{}.cmake", t.name));
            crate::fsutil::write_atomic(&path, files::cmake(ctx, t, &dir).as_bytes())?;
            path.display().to_string()
        }
        "print-meson-cross-file" => {
            setup::ensure(ctx, t)?;
            dir.join(format!("{}.meson", t.name)).display().to_string()
        }
        "print-autotools-env" => {
            setup::ensure(ctx, t)?;
            files::autotools(t, &dir)
        }
        "print-env" => format!("export PATH=\"{}:$PATH\"", dir.display()),
        "wrap" | "unwrap" => return wrap(ctx, &dir, action == "wrap"),
        other => bail!("unknown action {other}"),
    };
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// `--wrap`: plain `clang`/`clang++` in the prefix become xx-clang (for builds that
/// hard-code `clang`); `--unwrap` removes them.
fn wrap(ctx: &Context, dir: &Path, on: bool) -> Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the path of this executable")?;
    for name in ["clang", "clang++"] {
        let at = dir.join(name);
        if on {
            std::fs::create_dir_all(dir)?;
            let _ = std::fs::remove_file(&at);
            std::os::unix::fs::symlink(&exe, &at)
                .with_context(|| format!("cannot create {}", at.display()))?;
        } else if std::fs::read_link(&at).is_ok() {
            std::fs::remove_file(&at).with_context(|| format!("cannot remove {}", at.display()))?;
        }
    }
    let _ = ctx;
    Ok(ExitCode::SUCCESS)
}

/// `<triple>-pkg-config`: pkg-config that finds the target's libraries, not the host's.
fn pkg_config(ctx: &Context, triple: &str, args: &[String]) -> Result<ExitCode> {
    let t = Target::new(ctx, Some(triple))?;
    let real = prefix::find_tool(ctx, "pkg-config")
        .or_else(|| prefix::find_tool(ctx, "pkgconf"))
        .ok_or_else(|| anyhow!("pkg-config not found\nhelp: apt-get install pkg-config"))?;
    let mut cmd = Command::new(real);
    cmd.args(args);
    if t.resolved.is_cross(&ctx.host_march()) {
        if ctx.var("PKG_CONFIG_LIBDIR").is_none() {
            let dirs = [
                format!("/usr/lib/{}/pkgconfig", t.multiarch()),
                format!("/usr/{}/lib/pkgconfig", t.gnu),
                "/usr/share/pkgconfig".to_string(),
            ];
            cmd.env("PKG_CONFIG_LIBDIR", dirs.join(":"));
        }
        // The host's PKG_CONFIG_PATH would leak host libraries into the target build.
        cmd.env_remove("PKG_CONFIG_PATH");
    }
    Err(exec(&mut cmd))
}

fn missing(tool: &str) -> anyhow::Error {
    let package = match tool {
        "clang" | "clang++" => "clang lld",
        "zig" => "ziglang (pip install ziglang)",
        other => other,
    };
    anyhow!("{tool} not found on PATH\nhelp: install {package}")
}

/// Replaces this process; returns only on failure.
fn exec(cmd: &mut Command) -> anyhow::Error {
    let program = cmd.get_program().to_string_lossy().into_owned();
    anyhow::Error::new(cmd.exec()).context(format!("cannot run {program}"))
}
