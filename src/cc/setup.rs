//! Per-target setup: linker choice, the clang config file, the `<triple>-*` aliases and
//! the CMake/Meson files. Idempotent, atomic (temp + rename) and locked, so parallel
//! BuildKit stages setting up different targets leave a consistent prefix.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::prefix;
use super::Target;
use crate::context::Context;
use crate::env_vars as ev;
use crate::fsutil::{link, write_atomic};

/// LLVM tools that stand in for binutils under `<triple>-NAME`.
const LLVM_TOOLS: &[&str] = &[
    "ar",
    "ranlib",
    "nm",
    "strip",
    "readelf",
    "objcopy",
    "objdump",
    "addr2line",
    "size",
    "strings",
    "profdata",
    "dlltool",
];

/// The linker of a target's config: what `-fuse-ld=` takes.
pub struct Linker {
    /// `lld`, a bare name (`ld64`), or a path (bfd or gold ld, `ld64.signed`).
    pub arg: String,
    /// GNU ld, which needs `-rpath-link` to find a sysroot's indirect libraries.
    pub bfd: bool,
}

/// The target's linker by xx's preference order: the os's own (darwin), lld, gold when
/// asked for, the target's bfd ld, lld again when nothing else is there.
pub fn linker(ctx: &Context, t: &Target) -> Result<Linker> {
    let path = |name: &str| prefix::find_tool(ctx, name).map(|p| p.display().to_string());
    let found = |arg: String, bfd: bool| Ok(Linker { arg, bfd });
    let own = t.row.os_info().cc_linkers;
    if let Some((last, preferred)) = own.split_last() {
        let arg = preferred.iter().find_map(|name| path(name));
        return found(arg.unwrap_or_else(|| last.to_string()), false);
    }
    let prefer = ctx.var(ev::XX_CC_PREFER_LINKER).unwrap_or("lld");
    let static_pref = ctx.var(ev::XX_CC_PREFER_STATIC_LINKER).is_some();
    let lld_ok = t.row.lld && (t.row.lld_static || !static_pref);
    let lld = || prefix::find_tool(ctx, "ld.lld").filter(|_| lld_ok);
    if prefer == "lld" && lld().is_some() {
        return found("lld".into(), false);
    }
    if prefer == "gold" {
        let gold = [
            format!("{}-gold", t.name),
            format!("{}-ld.gold", t.gnu),
            format!("/{}/bin/gold", t.name),
        ];
        if let Some(gold) = gold.iter().find_map(|name| path(name)) {
            return found(gold, false);
        }
    }
    let bfd = [
        format!("{}-ld", t.name),
        format!("{}-ld", t.gnu),
        format!("/{}/bin/ld", t.name),
    ];
    if let Some(ld) = bfd.iter().find_map(|name| path(name)) {
        return found(ld, true);
    }
    if lld().is_some() {
        return found("lld".into(), false);
    }
    Err(crate::output::as_xx(format!(
        "no suitable linker found for {}. Please install lld or ld for your target\n\
         help: apt-get install binutils-{}{}",
        t.name,
        t.gnu.replace('_', "-"),
        if t.row.lld { " (or lld)" } else { "" }
    )))
}

/// The clang config file: xx's one line (`--target=… -fuse-ld=…` and what the os adds
/// for a cross target), plus the managed sysroot when the machine has no libc for it.
fn config_text(ctx: &Context, t: &Target, linker: &Linker) -> Result<String> {
    let mut line = format!("--target={} -fuse-ld={}", t.clang_target, linker.arg);
    if t.resolved.is_cross(&ctx.host_march()) {
        line.push_str(&cross_flags(ctx, t, linker.bfd));
    }
    if let Some(root) = crate::sysroot::managed::for_compilers(ctx, &t.resolved, "xx-cc")? {
        let root = root.display();
        line.push_str(&format!(" --sysroot={root} --gcc-toolchain={root}/usr"));
    }
    line.push('\n');
    Ok(line)
}

/// xx's additions for a cross target: the os's flags (darwin's SDK, mingw's include and
/// lib dirs), else the sysroot xx-info names (Alpine's `/<triple>/`).
fn cross_flags(ctx: &Context, t: &Target, bfd: bool) -> String {
    let sysroot = crate::info::sysroot(ctx, &t.resolved);
    if let Some(flags) = t.row.os_info().cc_cross_flags {
        let sdk = sysroot.trim_end_matches('/');
        return format!(
            " {}",
            flags.replace("{triple}", &t.name).replace("{sdk}", sdk)
        );
    }
    if sysroot == "/" {
        return String::new();
    }
    let mut flags = format!(" --sysroot={sysroot}");
    if bfd {
        flags.push_str(&format!(
            " -Wl,-rpath-link,{}/usr/lib",
            sysroot.trim_end_matches('/')
        ));
    }
    flags
}

/// What a compile adds after the config, kept out of it so the file stays xx's: the
/// cross gcc's directory where clang does not find it (the os's `cc_gcc_dir`), for its
/// libgcc when linking and, in C++, its libstdc++ headers (only what the call uses:
/// clang warns of the rest).
pub fn driver_args(ctx: &Context, t: &Target, cxx: bool, links: bool) -> Vec<String> {
    let Some(dir) = gcc_dir(ctx, t) else {
        return Vec::new();
    };
    let mut args = Vec::new();
    if links {
        args.push(format!("-L{}", dir.display()));
    }
    if cxx {
        let headers = dir.join("include/c++");
        for include in [headers.clone(), headers.join(&t.gnu)] {
            args.push("-stdlib++-isystem".into());
            args.push(include.display().to_string());
        }
    }
    args
}

/// The cross gcc's directory, for targets whose os names one (`cc_gcc_dir`).
pub fn gcc_dir(ctx: &Context, t: &Target) -> Option<PathBuf> {
    let base = t.row.os_info().cc_gcc_dir?;
    gcc_version_dir(ctx, t, Path::new(&base.replace("{triple}", &t.gnu)))
}

/// The versioned directory (`12-win32`) with a libgcc: the one `<triple>-gcc` is set to
/// (Debian's alternatives end in `-win32` or `-posix`), else the newest.
fn gcc_version_dir(ctx: &Context, t: &Target, base: &Path) -> Option<PathBuf> {
    let chosen = prefix::find_tool(ctx, &format!("{}-gcc", t.gnu))
        .and_then(|gcc| gcc.canonicalize().ok())
        .and_then(|gcc| {
            Some(
                gcc.file_name()?
                    .to_string_lossy()
                    .rsplit('-')
                    .next()?
                    .to_string(),
            )
        });
    let version = |name: &str| -> u32 {
        name.split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    fs::read_dir(base)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|dir| dir.join("libgcc.a").is_file())
        .max_by_key(|dir| {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let matches = chosen
                .as_deref()
                .is_some_and(|c| name.ends_with(&format!("-{c}")));
            (matches, version(&name), name)
        })
}

/// `xx-default.cfg`, which xx writes once when setting up the machine's own target:
/// `/etc/llvm` beside a `/usr/bin` prefix, else the prefix.
fn write_default_config(ctx: &Context, t: &Target, dir: &Path) -> Result<()> {
    if t.resolved.is_cross(&ctx.host_march()) {
        return Ok(());
    }
    let path = default_config_path(dir);
    if path.exists() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let text = format!("-fuse-ld={}\n", linker(ctx, t)?.arg);
    write_atomic(&path, text.as_bytes())
}

pub fn default_config_path(dir: &Path) -> PathBuf {
    if dir == Path::new("/usr/bin") {
        PathBuf::from("/etc/llvm/xx-default.cfg")
    } else {
        dir.join("xx-default.cfg")
    }
}

pub fn config_path(ctx: &Context, t: &Target) -> PathBuf {
    prefix::dir(ctx).join(format!("{}.cfg", t.name))
}

/// A target set up: its config file, and what a linking call adds after it.
pub struct Ready {
    pub cfg: PathBuf,
    /// The linker this call asks for (`XX_CC_PREFER_LINKER`, …) where it differs from
    /// the config's: set per call, so the file stays as first written (as xx keeps it)
    /// and callers wanting different linkers at once never rewrite it under each other.
    pub link_args: Vec<String>,
}

/// Makes sure the target's files exist and are current. The common case (already set
/// up) reads one small file and takes no lock.
pub fn ensure(ctx: &Context, t: &Target) -> Result<Ready> {
    let cfg = config_path(ctx, t);
    let wanted = linker(ctx, t)?;
    let text = config_text(ctx, t, &wanted)?;
    if let Some(ready) = already_set_up(ctx, t, &cfg, &text, &wanted)? {
        return Ok(ready);
    }
    let dir = prefix::dir(ctx);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let _lock = lock(&dir)?;
    // Another process may have set it up while we waited (as xx checks after flock).
    if let Some(ready) = already_set_up(ctx, t, &cfg, &text, &wanted)? {
        return Ok(ready);
    }
    if !wanted.arg.contains('/') && prefix::find_tool(ctx, linker_program(&wanted.arg)).is_none() {
        // xx's warning as it sets up (darwin's ld64, named though not installed).
        crate::output::err_line(format!(
            "error: building for {} requires {} linker",
            t.resolved.os, wanted.arg
        ));
    }
    write_aliases(ctx, t, &dir)?;
    write_toolchain_files(ctx, t, &dir)?;
    write_default_config(ctx, t, &dir)?;
    // The config goes last: its presence with this content means "set up".
    write_atomic(&cfg, text.as_bytes())?;
    Ok(Ready {
        cfg,
        link_args: Vec::new(),
    })
}

/// The target as set up, if its config is current: as this call would write it, or
/// differing only in the linker (which the call then gets on its command line).
fn already_set_up(
    ctx: &Context,
    t: &Target,
    cfg: &Path,
    text: &str,
    wanted: &Linker,
) -> Result<Option<Ready>> {
    let Ok(current) = fs::read_to_string(cfg) else {
        return Ok(None);
    };
    let link_args = if current == text {
        Vec::new()
    } else if only_linker_differs(ctx, t, &current)? {
        linker_args(ctx, t, wanted)
    } else {
        return Ok(None);
    };
    Ok(Some(Ready {
        cfg: cfg.to_path_buf(),
        link_args,
    }))
}

/// The program `-fuse-ld=NAME` runs: `ld.lld` for `lld`, else the name.
fn linker_program(name: &str) -> &str {
    if name == "lld" {
        "ld.lld"
    } else {
        name
    }
}

/// Whether `current` is the config this machine would write with the linker it names.
fn only_linker_differs(ctx: &Context, t: &Target, current: &str) -> Result<bool> {
    let Some(arg) = current
        .split_whitespace()
        .find_map(|word| word.strip_prefix("-fuse-ld="))
    else {
        return Ok(false);
    };
    for bfd in [false, true] {
        let named = Linker {
            arg: arg.to_string(),
            bfd,
        };
        if config_text(ctx, t, &named)? == current {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The flags that pick `linker` on a call's command line, where they beat the config's.
fn linker_args(ctx: &Context, t: &Target, linker: &Linker) -> Vec<String> {
    let mut args = vec![format!("-fuse-ld={}", linker.arg)];
    if linker.bfd && t.resolved.is_cross(&ctx.host_march()) {
        let flags = cross_flags(ctx, t, true);
        args.extend(
            flags
                .split_whitespace()
                .filter(|f| f.starts_with("-Wl,-rpath-link,"))
                .map(String::from),
        );
    }
    args
}

/// The `<triple>-*` aliases only: each compile through them sets up the rest (the
/// sysroot included) as any xx-clang call does, so a caller that may never compile
/// (xx-go for a pure-Go build) fetches nothing.
pub fn ensure_aliases(ctx: &Context, t: &Target) -> Result<()> {
    let dir = prefix::dir(ctx);
    if dir.join(format!("{}-clang++", t.name)).is_file() {
        return Ok(());
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let _lock = lock(&dir)?;
    write_aliases(ctx, t, &dir)
}

fn lock(dir: &Path) -> Result<File> {
    crate::fsutil::lock(&dir.join(".xx-cc.lock"), "xx-cc")
}

fn write_aliases(ctx: &Context, t: &Target, dir: &Path) -> Result<()> {
    let exe = crate::fsutil::this_exe()?;
    for suffix in ["clang", "clang++", "pkg-config"] {
        link(&dir.join(format!("{}-{suffix}", t.name)), exe)?;
    }
    for tool in LLVM_TOOLS {
        if let Some(llvm) = prefix::find_tool(ctx, &format!("llvm-{tool}")) {
            link(&dir.join(format!("{}-{tool}", t.name)), &llvm)?;
        }
    }
    if t.row.windres_machine.is_some() && prefix::find_tool(ctx, "llvm-rc").is_some() {
        link(&dir.join(format!("{}-windres", t.name)), exe)?;
    }
    let ld = dir.join(format!("{}-ld", t.name));
    if prefix::find_tool(ctx, &format!("{}-ld", t.name)).is_none() && t.row.lld {
        if let Some(lld) = prefix::find_tool(ctx, "ld.lld") {
            link(&ld, &lld)?;
        }
    }
    Ok(())
}

fn write_toolchain_files(ctx: &Context, t: &Target, dir: &Path) -> Result<()> {
    super::files::write_cmake(ctx, t, dir)?;
    crate::fsutil::write_if_changed(
        &dir.join(format!("{}.meson", t.name)),
        super::files::meson(ctx, t, dir).as_bytes(),
    )
}
