//! Per-target setup: linker choice, the clang config file, the `<triple>-*` aliases and
//! the CMake/Meson files. Idempotent, atomic (temp + rename) and locked, so parallel
//! BuildKit stages setting up different targets leave a consistent prefix.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

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

/// The `-fuse-ld`/`--ld-path` argument for the target, by xx's preference order.
pub fn linker_flag(ctx: &Context, t: &Target) -> Result<String> {
    let prefer = ctx.var(ev::XX_CC_PREFER_LINKER).unwrap_or("lld");
    let static_pref = ctx.var(ev::XX_CC_PREFER_STATIC_LINKER).is_some();
    let lld_ok = t.row.lld && (t.row.lld_static || !static_pref);
    let lld = || prefix::find_tool(ctx, "ld.lld").filter(|_| lld_ok);
    if prefer == "lld" && lld().is_some() {
        return Ok("-fuse-ld=lld".into());
    }
    if prefer == "gold" {
        if let Some(gold) = prefix::find_tool(ctx, &format!("{}-ld.gold", t.gnu)) {
            return Ok(format!("--ld-path={}", gold.display()));
        }
    }
    if let Some(bfd) = prefix::find_tool(ctx, &format!("{}-ld", t.gnu)) {
        return Ok(format!("--ld-path={}", bfd.display()));
    }
    if lld().is_some() {
        return Ok("-fuse-ld=lld".into());
    }
    bail!(
        "no suitable linker found for {}. Please install lld or ld for your target\n\
         help: apt-get install binutils-{}{}",
        t.name,
        t.gnu.replace('_', "-"),
        if t.row.lld { " (or lld)" } else { "" }
    )
}

/// The clang config file's text: xx's two lines, plus the managed sysroot's when the
/// machine has no libc for the target.
pub fn config_text(ctx: &Context, t: &Target) -> Result<String> {
    let mut text = format!("--target={}\n{}\n", t.clang_target, linker_flag(ctx, t)?);
    if let Some(root) = crate::sysroot::managed::for_compilers(ctx, &t.resolved, "xx-cc")? {
        let root = root.display();
        text.push_str(&format!("--sysroot={root}\n--gcc-toolchain={root}/usr\n"));
    }
    Ok(text)
}

pub fn config_path(ctx: &Context, t: &Target) -> PathBuf {
    prefix::dir(ctx).join(format!("{}.cfg", t.name))
}

/// Makes sure the target's files exist and are current; returns the config path.
/// The common case (already set up) reads one small file and takes no lock.
pub fn ensure(ctx: &Context, t: &Target) -> Result<PathBuf> {
    let cfg = config_path(ctx, t);
    let text = config_text(ctx, t)?;
    if fs::read_to_string(&cfg).ok().as_deref() == Some(text.as_str()) {
        return Ok(cfg);
    }
    let dir = prefix::dir(ctx);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let _lock = lock(&dir)?;
    write_aliases(ctx, t, &dir)?;
    write_toolchain_files(ctx, t, &dir)?;
    // The config goes last: its presence with this content means "set up".
    write_atomic(&cfg, text.as_bytes())?;
    Ok(cfg)
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
    let ld = dir.join(format!("{}-ld", t.name));
    if prefix::find_tool(ctx, &format!("{}-ld", t.name)).is_none() && t.row.lld {
        if let Some(lld) = prefix::find_tool(ctx, "ld.lld") {
            link(&ld, &lld)?;
        }
    }
    Ok(())
}

fn write_toolchain_files(ctx: &Context, t: &Target, dir: &Path) -> Result<()> {
    write_atomic(
        &dir.join(format!("{}.cmake", t.name)),
        super::files::cmake(ctx, t, dir).as_bytes(),
    )?;
    write_atomic(
        &dir.join(format!("{}.meson", t.name)),
        super::files::meson(ctx, t, dir).as_bytes(),
    )
}
