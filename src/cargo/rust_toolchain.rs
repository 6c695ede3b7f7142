//! Which Rust builds for xx-cargo (rustup's proxies, a `+toolchain`, or the
//! distribution's rustc/cargo) and how the target's std gets there: already installed,
//! `rustup target add`, the distribution's package (managed or through xx-apt), or
//! `-Zbuild-std` from rust-src.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context as _, Result};

use crate::cc;
use crate::context::Context;
use crate::env_vars as ev;

/// Which Rust toolchain builds: rustup's proxies, or the distribution's rustc/cargo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Toolchain {
    /// `channel`: the `+toolchain` the command line names (rustup's default otherwise).
    Rustup {
        cargo: PathBuf,
        channel: Option<String>,
    },
    Distro {
        cargo: PathBuf,
        rustc: PathBuf,
    },
}

/// How the target's std is provided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Std {
    Installed,
    /// Built from rust-src by cargo (`-Zbuild-std`, RUSTC_BOOTSTRAP=1 for this build only).
    FromSource,
    /// The distribution's std in a private Rust sysroot (`xx toolchain install rust-std`).
    Managed(PathBuf),
}

/// rustup's cargo when the `cargo` on PATH is its proxy, else the distribution's
/// (`/usr/bin/cargo` with `/usr/bin/rustc`, never mixed with rustup's rustc).
/// XX_CARGO_TOOLCHAIN=rustup|distro chooses; a `+toolchain` is rustup's.
pub(super) fn choose_toolchain(ctx: &Context, channel: Option<String>) -> Result<Toolchain> {
    if let Some(name) = &channel {
        let cargo = cc::find_tool(ctx, "cargo")
            .filter(|c| is_rustup_proxy(c) && ctx.var(ev::XX_CARGO_TOOLCHAIN) != Some("distro"))
            .ok_or_else(|| {
                anyhow!(
                    "+{name}: toolchains by name are rustup's, and the cargo here is not its proxy\n\
                     help: install rustup, or drop +{name} (XX_CARGO_TOOLCHAIN=distro uses the distribution's Rust)"
                )
            })?;
        return Ok(Toolchain::Rustup { cargo, channel });
    }
    let distro = || -> Result<Toolchain> {
        let cargo = PathBuf::from("/usr/bin/cargo");
        let rustc = PathBuf::from("/usr/bin/rustc");
        if !cargo.exists() || !rustc.exists() {
            bail!("no distribution cargo in /usr/bin\nhelp: apt-get install rustc-web cargo-web (Debian 12) or rustc cargo");
        }
        Ok(Toolchain::Distro { cargo, rustc })
    };
    match ctx.var(ev::XX_CARGO_TOOLCHAIN) {
        Some("distro") => return distro(),
        Some("rustup") => {
            let cargo =
                cc::find_tool(ctx, "cargo").ok_or_else(|| anyhow!("cargo not found on PATH"))?;
            return Ok(Toolchain::Rustup {
                cargo,
                channel: None,
            });
        }
        Some(other) => bail!("XX_CARGO_TOOLCHAIN={other}: expected rustup or distro"),
        None => {}
    }
    let cargo = cc::find_tool(ctx, "cargo").ok_or_else(|| {
        anyhow!(
            "cargo not found\nhelp: install Rust (rustup), or apt-get install rustc-web cargo-web"
        )
    })?;
    let is_rustup_proxy = is_rustup_proxy(&cargo);
    if is_rustup_proxy {
        Ok(Toolchain::Rustup {
            cargo,
            channel: None,
        })
    } else {
        distro().or(Ok(Toolchain::Distro {
            rustc: cc::find_tool(ctx, "rustc").unwrap_or_else(|| PathBuf::from("rustc")),
            cargo,
        }))
    }
}

/// rustup's proxies are symlinks to `rustup` (rustup's own layout) or hard links to it
/// (rustup-init, as in the `rust:` images).
fn is_rustup_proxy(cargo: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let by_name = cargo
        .canonicalize()
        .ok()
        .and_then(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().starts_with("rustup"))
        })
        .unwrap_or(false);
    let same_file = |a: &Path, b: &Path| match (a.metadata(), b.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    };
    by_name || same_file(cargo, &cargo.with_file_name("rustup"))
}

fn rustc_of(toolchain: &Toolchain) -> PathBuf {
    match toolchain {
        Toolchain::Rustup { cargo, .. } => cargo.with_file_name("rustc"),
        Toolchain::Distro { rustc, .. } => rustc.clone(),
    }
}

/// `+channel` for rustup's proxies, when one was named.
fn channel_arg(toolchain: &Toolchain) -> Option<String> {
    match toolchain {
        Toolchain::Rustup {
            channel: Some(c), ..
        } => Some(format!("+{c}")),
        _ => None,
    }
}

fn sysroot(toolchain: &Toolchain) -> Result<PathBuf> {
    let rustc = rustc_of(toolchain);
    let mut cmd = Command::new(&rustc);
    cmd.args(channel_arg(toolchain))
        .args(["--print", "sysroot"]);
    let out = crate::proc::run_captured(&mut cmd)?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; access(2) only reads it.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// The Rust sysroot xx-cargo would build with, and whether it is rustup's (for `xx doctor`).
pub fn rust_sysroot(ctx: &Context) -> Result<(PathBuf, bool)> {
    let toolchain = choose_toolchain(ctx, None)?;
    let rustup = matches!(toolchain, Toolchain::Rustup { .. });
    Ok((sysroot(&toolchain)?, rustup))
}

pub fn has_std(sysroot: &Path, triple: &str) -> bool {
    sysroot
        .join("lib/rustlib")
        .join(triple)
        .join("lib")
        .is_dir()
}

/// The std for the target: already there, `rustup target add`, the distribution's
/// `libstd-rust*-dev:<arch>` through xx-apt (also when rustup cannot download: then the
/// distribution's cargo and rustc build, never rustup's rustc with Debian's std), or
/// else `-Zbuild-std` from rust-src.
pub(super) fn ensure_std(
    ctx: &Context,
    toolchain: Toolchain,
    t: &cc::Target,
    triple: &str,
) -> Result<(Toolchain, Std)> {
    let sysroot = sysroot(&toolchain)?;
    if has_std(&sysroot, triple) {
        return Ok((toolchain, Std::Installed));
    }
    // One installer per toolchain at a time: rustup is not safe against itself (two
    // `rustup target add` of one target fail with "detected conflict").
    // A sysroot the caller cannot write (the distribution's, as a user) takes no
    // installer but the managed one, whose tree has its own lock.
    let rustlib = sysroot.join("lib/rustlib");
    let lock_dir = if writable(&rustlib) {
        rustlib
    } else {
        cc::prefix_dir(ctx)
    };
    std::fs::create_dir_all(&lock_dir)
        .with_context(|| format!("cannot create {}", lock_dir.display()))?;
    let _lock = crate::fsutil::lock(&lock_dir.join(".xx-cargo-std.lock"), "xx-cargo")?;
    if has_std(&sysroot, triple) {
        return Ok((toolchain, Std::Installed));
    }
    let installed = match &toolchain {
        Toolchain::Rustup { cargo, channel } => {
            let mut add = Command::new(cargo.with_file_name("rustup"));
            add.args(["target", "add"]);
            if let Some(c) = channel {
                add.args(["--toolchain", c]);
            }
            crate::proc::run_captured(add.arg(triple)).map(drop)
        }
        // Debian ships std only for linux-gnu targets. Rootless and without a foreign
        // dpkg architecture first; xx-apt (xx's way) when the archive cannot serve it.
        Toolchain::Distro { rustc, .. } if t.resolved.os == "linux" && t.resolved.libc == "gnu" => {
            if ctx.var(ev::XX_NO_DOWNLOAD) != Some("1") {
                match crate::toolchain::rust_std::ensure(ctx, &t.resolved, triple) {
                    Ok(root) => return Ok((toolchain, Std::Managed(root))),
                    Err(e) => crate::output::err_line(format!(
                        "xx-cargo: no managed std for {triple} ({e:#}); trying xx-apt"
                    )),
                }
            }
            install_distro_std(ctx, rustc, t)
        }
        Toolchain::Distro { .. } => Err(anyhow!("the distribution has no std for {triple}")),
    };
    if installed.is_ok() && has_std(&sysroot, triple) {
        return Ok((toolchain, Std::Installed));
    }
    let distro = (Path::new("/usr/bin/cargo").exists() && Path::new("/usr/bin/rustc").exists())
        .then(|| Toolchain::Distro {
            cargo: PathBuf::from("/usr/bin/cargo"),
            rustc: PathBuf::from("/usr/bin/rustc"),
        });
    if let (Toolchain::Rustup { channel: None, .. }, None, Some(distro)) =
        (&toolchain, ctx.var(ev::XX_CARGO_TOOLCHAIN), distro)
    {
        crate::output::err_line(format!(
            "xx-cargo: rustup target add {triple} failed; trying the distribution's Rust"
        ));
        return ensure_std(ctx, distro, t, triple);
    }
    if sysroot.join("lib/rustlib/src/rust/library").is_dir() {
        crate::output::err_line(format!(
            "xx-cargo: no std for {triple} ({}); building it from rust-src with -Zbuild-std (RUSTC_BOOTSTRAP=1 for this build)",
            installed
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_else(|| "not installed".into())
        ));
        return Ok((toolchain, Std::FromSource));
    }
    Err(installed
        .err()
        .unwrap_or_else(|| anyhow!("the std for {triple} did not install"))
        .context(format!(
            "no Rust std for {triple}\nhelp: rustup target add {triple}, or install rust-src \
             (rustup component add rust-src / apt-get install rust-web-src) for -Zbuild-std"
        )))
}

/// Debian's std for the target arch, matching the distribution rustc (rustc-web's or
/// rustc's), installed by xx-apt.
fn install_distro_std(ctx: &Context, rustc: &Path, t: &cc::Target) -> Result<()> {
    let web = rustc
        .canonicalize()
        .map(|p| p.to_string_lossy().contains("web"))
        .unwrap_or(false)
        || Path::new("/usr/share/doc/rustc-web").exists();
    let package = if web {
        "libstd-rust-web-dev"
    } else {
        "libstd-rust-dev"
    };
    let exe = crate::fsutil::this_exe()?;
    let mut cmd = Command::new(exe);
    cmd.args(["apt-get", "install", "-y", "-q", package])
        .env(ev::TARGETPLATFORM, t.resolved.platform())
        .env("DEBIAN_FRONTEND", "noninteractive");
    if let Some(nolock) = ctx.var(ev::XX_APT_NOLOCK) {
        cmd.env(ev::XX_APT_NOLOCK, nolock);
    }
    // Its output is shown only if it fails (as xx does).
    crate::proc::run_captured(&mut cmd).map(drop)
}
