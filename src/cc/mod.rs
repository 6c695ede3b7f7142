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

pub use files::{build_env, cmake_twin, write_cmake};
pub use prefix::{dir as prefix_dir, find_tool, on_path};
pub use setup::{ensure, ensure_aliases, linker};

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
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
        if let Some(t) = explicit.filter(|t| !is_triple_shaped(t)) {
            bail!("--target={t}: not a target triple (letters, digits, '.', '_', '-')");
        }
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
            _ => return Err(crate::output::as_xx(resolved.unsupported_message())),
        };
        let name = explicit
            .map(str::to_string)
            .unwrap_or_else(|| resolved.triple.clone());
        let clang_target = match explicit {
            Some(t) => clang_spelling(t, row),
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

    /// The root qemu-user should read the target's libraries from (`-L`): `/` when the
    /// target's loader is installed there (multiarch), else Debian's `/usr/<triple>`
    /// (`-cross` packages), else the managed sysroot. Never a mix: a cross ld.so with a
    /// multiarch libc of another build hangs in pthread_create.
    pub fn qemu_root(&self, ctx: &Context) -> PathBuf {
        let loader = self.row.loader(&self.resolved.libc);
        let has_loader =
            |root: &Path| loader.is_some_and(|l| root.join(l.trim_start_matches('/')).exists());
        let cross = PathBuf::from(format!("/usr/{}", self.gnu));
        if has_loader(Path::new("/")) {
            return PathBuf::from("/");
        }
        if has_loader(&cross) {
            return cross;
        }
        if let Some(managed) = crate::sysroot::managed::existing(ctx, &self.resolved) {
            return managed;
        }
        if loader.is_none() && cross.is_dir() {
            cross
        } else {
            PathBuf::from("/")
        }
    }
}

/// Triples name files in the prefix: nothing that could be a path.
fn is_triple_shaped(t: &str) -> bool {
    !t.is_empty()
        && !t.starts_with('.')
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
}

/// An explicit triple as clang takes it: `riscv64gc-…` → `riscv64-…` (the row's
/// `clang_arch`), as xx does.
fn clang_spelling(triple: &str, row: &platform::Target) -> String {
    match (row.triple.clang_arch, triple.split_once('-')) {
        (Some(clang_arch), Some((arch, rest))) if arch != clang_arch => {
            format!("{clang_arch}-{rest}")
        }
        _ => triple.to_string(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    C,
    Cxx,
}

/// `xx-cc` / `xx-clang` (C) and `xx-c++` / `xx-clang++` (C++).
pub fn run_personality(ctx: &Context, name: &str, args: &[OsString]) -> Result<ExitCode> {
    let lang = if name.ends_with("++") {
        Lang::Cxx
    } else {
        Lang::C
    };
    compile(ctx, lang, None, args)
}

/// `<triple>-clang`, `<triple>-clang++`, `<triple>-pkg-config` (links to xx in the prefix).
/// The prefix is the alias's own directory unless XX_PREFIX says otherwise, so a build
/// system calling the alias by path needs no environment.
pub fn run_alias(
    ctx: &Context,
    argv0: &str,
    stem: &str,
    args: &[OsString],
) -> Option<Result<ExitCode>> {
    let (kind, triple) = [("-clang++", Lang::Cxx), ("-clang", Lang::C)]
        .into_iter()
        .find_map(|(suffix, lang)| stem.strip_suffix(suffix).map(|t| (Some(lang), t)))
        .or_else(|| stem.strip_suffix("-pkg-config").map(|t| (None, t)))?;
    let mut scoped = ctx.clone_vars();
    // `<triple>.2.17-clang`: zig with glibc 2.17 (zig's own spelling), the linker name
    // xx-cargo --glibc uses so cargo relinks when the version changes.
    let triple = match split_glibc(triple) {
        Some((triple, version)) => {
            scoped.set_var(ev::XX_GLIBC_VERSION, version);
            scoped.set_var(ev::XX_CC_COMPILER, "zig");
            triple
        }
        None => triple,
    };
    if ctx.var(ev::XX_PREFIX).is_none() {
        if let Some(dir) = alias_dir(ctx, argv0, stem) {
            scoped.set_var(ev::XX_PREFIX, &dir.to_string_lossy());
        }
    }
    Some(match kind {
        Some(lang) => compile(&scoped, lang, Some(triple), args),
        None => pkg_config(&scoped, triple, args),
    })
}

/// `aarch64-linux-gnu.2.17` → (`aarch64-linux-gnu`, `2.17`).
pub fn split_glibc(triple: &str) -> Option<(&str, &str)> {
    let (rest, minor) = triple.rsplit_once('.')?;
    let (base, major) = rest.rsplit_once('.')?;
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (numeric(major) && numeric(minor)).then(|| (base, &triple[base.len() + 1..]))
}

/// Where the alias that started us lives: argv[0]'s directory, or the PATH entry that
/// holds it when the shell passed a bare name.
fn alias_dir(ctx: &Context, argv0: &str, stem: &str) -> Option<PathBuf> {
    if argv0.contains('/') {
        let path = Path::new(argv0);
        let dir = path.parent()?;
        return Some(if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir().ok()?.join(dir)
        });
    }
    std::env::split_paths(ctx.var("PATH")?).find(|dir| dir.join(stem).symlink_metadata().is_ok())
}

/// What the arguments ask of the wrapper itself.
struct Parsed {
    target: Option<String>,
    action: Option<String>,
    rest: Vec<OsString>,
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

fn parse(args: &[OsString]) -> Parsed {
    let mut parsed = Parsed {
        target: None,
        action: None,
        rest: Vec::new(),
    };
    let mut iter = args.iter();
    while let Some(os_arg) = iter.next() {
        let Some(arg) = os_arg.to_str() else {
            parsed.rest.push(os_arg.clone());
            continue;
        };
        let flag = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'));
        if let Some(t) = arg
            .strip_prefix("--target=")
            .or_else(|| arg.strip_prefix("-target="))
        {
            parsed.target = Some(t.to_string());
        } else if arg == "-target" || arg == "--target" {
            parsed.target = iter.next().map(|t| t.to_string_lossy().into_owned());
        } else if let Some(action) = flag.filter(|f| ACTIONS.contains(f)) {
            parsed.action = Some(action.to_string());
        } else {
            parsed.rest.push(os_arg.clone());
        }
    }
    parsed
}

fn compile(ctx: &Context, lang: Lang, alias: Option<&str>, args: &[OsString]) -> Result<ExitCode> {
    let depth = crate::proc::depth(ctx);
    if depth >= crate::proc::MAX_DEPTH {
        bail!(
            "xx-cc called itself {depth} times: the `clang` on PATH leads back to xx\n\
             help: xx-clang --unwrap, or put the real clang first on PATH"
        );
    }
    let compiler = if lang == Lang::Cxx {
        "clang++"
    } else {
        "clang"
    };
    if args.iter().any(|a| a == "--config") {
        // xx's rule: a caller with its own config gets clang untouched.
        let real = prefix::find_tool(ctx, compiler).ok_or_else(|| missing(compiler))?;
        return Err(crate::proc::exec_nested(ctx, Command::new(real).args(args)));
    }
    let parsed = parse(args);
    let target = Target::new(ctx, parsed.target.as_deref().or(alias))?;
    if let Some(action) = parsed.action.as_deref() {
        return act(ctx, &target, action);
    }
    if let Some(prog) = parsed
        .rest
        .iter()
        .find_map(|a| a.to_str()?.strip_prefix("-print-prog-name="))
    {
        let ours = prefix::dir(ctx).join(format!("{}-{prog}", target.name));
        if ours.exists() {
            crate::output::line(ours.display())?;
            return Ok(ExitCode::SUCCESS);
        }
    }
    match ctx.var(ev::XX_CC_COMPILER) {
        None | Some("clang") => clang(ctx, compiler, &target, &parsed.rest),
        Some("gcc") => gcc(ctx, lang, &target, &parsed.rest),
        Some("zig") => zig(ctx, lang, &target, &parsed.rest),
        Some(other) => {
            bail!("XX_CC_COMPILER={other}: not a compiler xx-cc drives (clang, gcc or zig)")
        }
    }
}

/// The clang backend: the default (as xx), unless XX_CC_COMPILER picks gcc or zig.
pub(crate) fn uses_clang(ctx: &Context) -> bool {
    matches!(ctx.var(ev::XX_CC_COMPILER), None | Some("clang"))
}

fn clang(ctx: &Context, compiler: &str, t: &Target, args: &[OsString]) -> Result<ExitCode> {
    let real = prefix::find_tool(ctx, compiler).ok_or_else(|| clang_not_found(compiler))?;
    let ready = setup::ensure(ctx, t)?;
    let links = links(args);
    let link_args = ready.link_args.iter().filter(|_| links);
    Err(crate::proc::exec_nested(
        ctx,
        Command::new(real)
            .arg("--config")
            .arg(&ready.cfg)
            .args(setup::driver_args(ctx, t, compiler == "clang++", links))
            .args(link_args)
            .args(args),
    ))
}

/// Whether a compiler call links (no `-c`, `-S`, `-E`, or dependency-only `-M`/`-MM`).
/// Response files (`@file`, as rustc and ninja pass long command lines) are looked into.
fn links(args: &[OsString]) -> bool {
    let stops = |a: &str| {
        matches!(
            a.trim_matches(|c| c == '"' || c == '\''),
            "-c" | "-S" | "-E" | "-M" | "-MM" | "-fsyntax-only"
        )
    };
    !args.iter().filter_map(|a| a.to_str()).any(|a| {
        stops(a)
            || a.strip_prefix('@')
                .and_then(|file| read_response_file(Path::new(file)))
                .is_some_and(|text| text.split_whitespace().any(stops))
    })
}

/// A response file's text, if it is a readable regular file of a sane size.
fn read_response_file(path: &Path) -> Option<String> {
    const MAX: u64 = 16 << 20;
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

fn gcc(ctx: &Context, lang: Lang, t: &Target, args: &[OsString]) -> Result<ExitCode> {
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
    Err(crate::proc::exec_nested(ctx, Command::new(real).args(args)))
}

fn zig(ctx: &Context, lang: Lang, t: &Target, args: &[OsString]) -> Result<ExitCode> {
    let mut target = platform::Target::by_libc(t.row.zig, &t.resolved.libc)
        .ok_or_else(|| anyhow!("zig has no target for {}", t.resolved.platform()))?
        .to_string();
    if let Some(glibc) = ctx
        .var(ev::XX_GLIBC_VERSION)
        .filter(|_| t.resolved.libc == "gnu")
    {
        target = format!("{target}.{glibc}");
    }
    if t.resolved.libc == "gnu" && args.iter().any(|a| a == OsStr::new("-static")) {
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
    Err(crate::proc::exec_nested(ctx, &mut cmd))
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
        "print-sysroot" => {
            // xx-info's darwin sysroot ends in `/`; xx-cc prints the SDK path bare.
            let sysroot = crate::info::sysroot(ctx, &t.resolved);
            match sysroot.strip_suffix(".sdk/") {
                Some(sdk) => format!("{sdk}.sdk"),
                None => sysroot,
            }
        }
        "print-cmake-defines" => {
            setup::ensure(ctx, t)?;
            files::cmake_defines(t, &dir)
        }
        "print-cmake-toolchain-file" => {
            setup::ensure(ctx, t)?;
            files::write_cmake(ctx, t, &dir)?.display().to_string()
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
        "wrap" | "unwrap" => return wrap(&dir, action == "wrap"),
        other => bail!("unknown action {other}"),
    };
    crate::output::line(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// `--wrap`: plain `clang`/`clang++` become xx-clang for builds that hard-code them:
/// links in /usr/local/bin when the prefix is /usr/bin (as xx), else in the prefix.
/// Only our own links are ever replaced or removed, never the real clang.
fn wrap(dir: &Path, on: bool) -> Result<ExitCode> {
    let dir = if dir == Path::new("/usr/bin") {
        // xx's own marker too, for scripts that look for it (the links do the work).
        let marker = Path::new("/.xx-cc-autowrap");
        if on {
            crate::fsutil::write_atomic(marker, b"")?;
        } else if marker.symlink_metadata().is_ok_and(|m| m.is_file()) {
            std::fs::remove_file(marker)
                .with_context(|| format!("cannot remove {}", marker.display()))?;
        }
        Path::new("/usr/local/bin")
    } else {
        dir
    };
    let exe = crate::fsutil::this_exe()?;
    for name in ["clang", "clang++"] {
        let at = dir.join(name);
        if on {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            if at.symlink_metadata().is_ok() && !crate::fsutil::points_to_this_exe(&at) {
                bail!("{} exists and is not xx's; not replacing it", at.display());
            }
            crate::fsutil::link(&at, exe)?;
        } else if crate::fsutil::points_to_this_exe(&at) {
            std::fs::remove_file(&at).with_context(|| format!("cannot remove {}", at.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `<triple>-pkg-config`: pkg-config that finds the target's libraries, not the host's.
fn pkg_config(ctx: &Context, triple: &str, args: &[OsString]) -> Result<ExitCode> {
    let t = Target::new(ctx, Some(triple))?;
    let real = prefix::find_tool(ctx, "pkg-config")
        .or_else(|| prefix::find_tool(ctx, "pkgconf"))
        .ok_or_else(|| anyhow!("pkg-config not found\nhelp: apt-get install pkg-config"))?;
    let mut cmd = Command::new(real);
    cmd.args(args);
    if let Some(root) = crate::sysroot::managed::for_compilers(ctx, &t.resolved, "xx-cc")? {
        for (name, value) in crate::sysroot::pkg_config_env(&root, t.multiarch()) {
            if ctx.var(name).is_none() {
                cmd.env(name, value);
            }
        }
        cmd.env_remove("PKG_CONFIG_PATH");
    } else if t.resolved.is_cross(&ctx.host_march()) {
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
    Err(crate::proc::exec_nested(ctx, &mut cmd))
}

/// xx's message (it only ever looks in /usr/bin), then where to get one.
fn clang_not_found(compiler: &str) -> anyhow::Error {
    crate::output::as_xx(format!(
        "/usr/bin/{compiler} not found\n\
         help: apt-get install clang lld, or xx toolchain install llvm; \
         or build with Debian's cross gcc: XX_CC_COMPILER=gcc (or zig: XX_CC_COMPILER=zig)"
    ))
}

fn missing(tool: &str) -> anyhow::Error {
    let package = match tool {
        "clang" | "clang++" => "clang lld",
        "zig" => "ziglang (pip install ziglang)",
        other => other,
    };
    anyhow!("{tool} not found on PATH\nhelp: install {package}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn which_calls_link() {
        assert!(links(&os(&["-o", "x", "a.c"])));
        for stop in ["-c", "-S", "-E", "-M", "-MM", "-fsyntax-only"] {
            assert!(!links(&os(&[stop, "a.c"])), "{stop}");
        }
        let dir = tempfile::tempdir().unwrap();
        let compile = dir.path().join("compile.rsp");
        std::fs::write(&compile, "-O2 \"-c\" a.c\n").unwrap();
        let link = dir.path().join("link.rsp");
        std::fs::write(&link, "a.o b.o -o prog\n").unwrap();
        let at = |p: &Path| format!("@{}", p.display());
        assert!(!links(&os(&[&at(&compile)])));
        assert!(links(&os(&[&at(&link)])));
        assert!(links(&os(&["@/nonexistent.rsp"])));
    }
}
