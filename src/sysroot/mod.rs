//! `xx sysroot`: a target's sysroot from Debian/Ubuntu archives, as the calling user —
//! signed indexes, resolved dependencies, verified cached downloads, extraction that
//! never leaves the tree, built next to its place and swapped in atomically, under a
//! lock, recorded in a lock file when asked.

mod build;
pub mod command;
mod lockfile;
pub mod managed;
mod sources;
pub mod tree;
pub mod untar;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};

use crate::context::Context;
use crate::debian::archive::{Fetched, Source, Trust};
use crate::debian::packages::Index;
use crate::debian::resolve::{self, Plan};
use crate::net::Http;
use crate::platform::{Platform, Resolved};
use crate::toolchain::home::Home;
pub use lockfile::{LockFile, Locked, LockedPackage, LockedSource, Stamp};

/// Where a sysroot keeps what xx writes about it (never a package path).
pub const OWN_DIR: &str = ".xx";
pub const STAMP: &str = ".xx/sysroot.json";

pub struct Request {
    pub platform: Platform,
    /// Named on the command line, beside the C and C++ essentials.
    pub packages: Vec<String>,
    pub dir: Option<PathBuf>,
    pub mirror: Option<String>,
    pub suite: Option<String>,
    pub keyring: Option<PathBuf>,
    pub allow_unsigned: bool,
    pub ignore_valid_until: bool,
    pub lock: Option<PathBuf>,
    pub locked: bool,
    pub jobs: usize,
    /// Add the C and C++ essentials (a sysroot; a toolchain says no).
    pub essentials: bool,
    /// Dependencies the build machine serves (see `resolve_leaving`).
    pub leave_out: Vec<String>,
}

impl Request {
    /// The essentials only, with every choice left to the environment's defaults.
    pub fn essentials(platform: Platform) -> Request {
        Request {
            platform,
            packages: Vec::new(),
            dir: None,
            mirror: None,
            suite: None,
            keyring: None,
            allow_unsigned: false,
            ignore_valid_until: false,
            lock: None,
            locked: false,
            jobs: 4,
            essentials: true,
            leave_out: Vec::new(),
        }
    }
}

pub struct Outcome {
    pub path: PathBuf,
    pub pkg_config: PathBuf,
    pub set: Locked,
    pub changed: bool,
}

/// What `--print-plan` shows.
pub struct Planned {
    pub plan: Plan,
    pub sources: Vec<Source>,
}

/// The sysroot's directory for a target: `--dir`, else `XX_HOME`'s `sysroots/<multiarch>`.
pub fn default_dir(ctx: &Context, target: &Resolved) -> Result<PathBuf> {
    Ok(Home::of(ctx)?
        .data
        .join("sysroots")
        .join(target.multiarch()))
}

/// The target's names, for a Debian sysroot (linux, glibc).
pub fn target_of(ctx: &Context, platform: &Platform) -> Result<Resolved> {
    let r = Resolved::for_platform(ctx, &platform.to_string());
    if r.os != "linux" || r.libc != "gnu" || r.target.is_none() {
        bail!("{platform}: xx sysroot builds Debian/Ubuntu sysroots for linux glibc targets only");
    }
    Ok(r)
}

/// Only the plan: what the sysroot would hold and why.
pub fn plan(ctx: &Context, req: &Request) -> Result<Planned> {
    let target = target_of(ctx, &req.platform)?;
    let http = Http::new(ctx);
    let sources = sources::select(ctx, &target, req.mirror.as_deref(), req.suite.as_deref())?;
    let fetched = fetch_releases(ctx, &http, req, &sources)?;
    let index = read_indexes(ctx, &http, &sources, &fetched, &target.deb)?;
    let plan = resolve::resolve_leaving(&index, &wanted(&index, req), &req.leave_out)?;
    Ok(Planned { plan, sources })
}

/// Builds the sysroot, or finds it up to date.
pub fn ensure(ctx: &Context, req: &Request) -> Result<Outcome> {
    let target = target_of(ctx, &req.platform)?;
    let dir = match &req.dir {
        Some(d) => absolute(d)?,
        None => default_dir(ctx, &target)?,
    };
    let (parent, name) = match (dir.parent(), dir.file_name()) {
        (Some(p), Some(n)) => (p.to_path_buf(), n.to_string_lossy().to_string()),
        _ => bail!("{}: not a directory a sysroot can go in", dir.display()),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let _lock = crate::fsutil::lock(&parent.join(format!(".{name}.lock")), "xx sysroot")?;
    let stamp = Stamp::read(&dir.join(STAMP));
    let pkg_config = dir
        .join(OWN_DIR)
        .join("bin")
        .join(format!("{}-pkg-config", target.gnu_triple));
    let mut asked = req.packages.clone();
    asked.sort();
    asked.dedup();
    let platform = req.platform.to_string();
    let http = Http::new(ctx);

    let (set, releases) = if req.locked {
        let lock_path = req
            .lock
            .clone()
            .unwrap_or_else(|| PathBuf::from("xx-sysroot.lock"));
        let lock = LockFile::read(&lock_path)?.ok_or_else(|| {
            anyhow!(
                "--locked: no lock file at {}\nhelp: run once with --lock {} to write it",
                lock_path.display(),
                lock_path.display()
            )
        })?;
        let locked = lock.platforms.get(&platform).cloned().ok_or_else(|| {
            anyhow!("--locked: {} has no entry for {platform}\nhelp: run without --locked (with --lock) to add it", lock_path.display())
        })?;
        if stamp
            .as_ref()
            .is_some_and(|s| s.set == locked && s.platform == platform)
        {
            return Ok(Outcome {
                path: dir,
                pkg_config,
                set: locked,
                changed: false,
            });
        }
        let sources: Vec<Source> = locked
            .sources
            .iter()
            .map(|s| Source {
                uri: s.uri.clone(),
                suite: s.suite.clone(),
                components: s.components.clone(),
                signed_by: s.signed_by.clone(),
            })
            .collect();
        let fetched = fetch_releases(ctx, &http, req, &sources)?;
        check_drift(ctx, &http, &locked, &sources, &fetched, &target.deb)?;
        (locked, fetched.into_iter().map(|f| f.digest).collect())
    } else {
        let sources = sources::select(ctx, &target, req.mirror.as_deref(), req.suite.as_deref())?;
        let fetched = fetch_releases(ctx, &http, req, &sources)?;
        let releases: Vec<String> = fetched.iter().map(|f| f.digest.clone()).collect();
        let same_sources = |s: &Stamp| {
            s.set
                .sources
                .iter()
                .map(|l| (&l.uri, &l.suite))
                .eq(sources.iter().map(|s| (&s.uri, &s.suite)))
        };
        if let Some(s) = stamp.as_ref().filter(|s| {
            s.platform == platform && s.asked == asked && s.releases == releases && same_sources(s)
        }) {
            write_lock(req, &platform, &s.set)?;
            return Ok(Outcome {
                path: dir,
                pkg_config,
                set: s.set.clone(),
                changed: false,
            });
        }
        let index = read_indexes(ctx, &http, &sources, &fetched, &target.deb)?;
        let wanted = wanted(&index, req);
        let plan = resolve::resolve_leaving(&index, &wanted, &req.leave_out)?;
        (locked_set(&plan, wanted, &sources, &fetched), releases)
    };
    let new_stamp = Stamp {
        platform: platform.clone(),
        asked,
        set: set.clone(),
        releases,
    };
    let changed = match &stamp {
        Some(old) if old.set == set && old.platform == platform => {
            crate::fsutil::write_atomic(&dir.join(STAMP), &new_stamp.to_bytes())?;
            false
        }
        _ => {
            build::assemble(
                ctx, &http, &dir, &parent, &name, &target, &new_stamp, req.jobs,
            )?;
            true
        }
    };
    write_lock(req, &platform, &set)?;
    Ok(Outcome {
        path: dir,
        pkg_config,
        set,
        changed,
    })
}

/// `PKG_CONFIG_LIBDIR` for a sysroot at `root` (a path, or a shell variable).
pub fn pkg_config_libdir(root: &str, multiarch: &str) -> String {
    format!(
        "{root}/usr/lib/{multiarch}/pkgconfig:{root}/usr/share/pkgconfig:{root}/usr/lib/pkgconfig"
    )
}

/// pkg-config's variables for the target libraries of the sysroot at `root`.
pub fn pkg_config_env(root: &Path, multiarch: &str) -> [(&'static str, String); 2] {
    let root = root.display().to_string();
    [
        ("PKG_CONFIG_LIBDIR", pkg_config_libdir(&root, multiarch)),
        ("PKG_CONFIG_SYSROOT_DIR", root),
    ]
}

fn absolute(dir: &Path) -> Result<PathBuf> {
    if dir.is_absolute() {
        return Ok(dir.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("cannot tell the current directory")?
        .join(dir))
}

/// The C and C++ essentials (the newest gcc's) if asked, then the named packages.
fn wanted(index: &Index, req: &Request) -> Vec<String> {
    let mut out = Vec::new();
    if req.essentials {
        out.extend(["libc6-dev".to_string(), "linux-libc-dev".to_string()]);
        for (prefix, suffix) in [("libgcc-", "-dev"), ("libstdc++-", "-dev")] {
            if let Some(name) = index.newest_with_prefix(prefix, suffix) {
                out.push(name.to_string());
            }
        }
    }
    for n in &req.packages {
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}

fn fetch_releases(
    ctx: &Context,
    http: &Http,
    req: &Request,
    sources: &[Source],
) -> Result<Vec<Fetched>> {
    let env_keyring = ctx
        .var(crate::env_vars::XX_DEBIAN_KEYRING)
        .filter(|k| !k.is_empty())
        .map(PathBuf::from);
    let trust = Trust {
        ctx,
        keyring: req.keyring.as_deref().or(env_keyring.as_deref()),
        allow_unsigned: req.allow_unsigned,
        ignore_valid_until: req.ignore_valid_until,
    };
    crate::jobs::each(sources, 4, |s| s.fetch_release(http, &trust))
        .into_iter()
        .collect()
}

fn read_indexes(
    ctx: &Context,
    http: &Http,
    sources: &[Source],
    fetched: &[Fetched],
    arch: &str,
) -> Result<Index> {
    let cache = Home::of(ctx)?.cache_for("indexes")?;
    let mut jobs = Vec::new();
    for (i, (source, f)) in sources.iter().zip(fetched).enumerate() {
        let components = if source.components.is_empty() {
            f.release.components.clone()
        } else {
            source.components.clone()
        };
        for c in components {
            jobs.push((i, c));
        }
    }
    // Each index downloads and decompresses on a thread of its own; this one reads
    // them as the pieces come, in the sources' order (so the same inputs make the same
    // index).
    let mut index = Index::default();
    std::thread::scope(|s| {
        let mut streams = Vec::new();
        for (i, component) in &jobs {
            let (send, pieces) = std::sync::mpsc::channel::<Result<String>>();
            let cache = &cache;
            let reading = move || {
                let mut forward = |piece: &str| {
                    send.send(Ok(piece.to_string()))
                        .map_err(|_| anyhow!("the index reader stopped"))
                };
                if let Err(e) =
                    sources[*i].packages(http, &fetched[*i], component, arch, cache, &mut forward)
                {
                    let _ = send.send(Err(e));
                }
            };
            std::thread::Builder::new()
                .spawn_scoped(s, reading)
                .map_err(|e| anyhow!("cannot start a thread: {e}"))?;
            streams.push((*i, pieces));
        }
        for (i, pieces) in streams {
            for piece in pieces {
                index.add(&piece?, arch, i)?;
            }
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(index)
}

fn locked_set(
    plan: &Plan,
    requested: Vec<String>,
    sources: &[Source],
    fetched: &[Fetched],
) -> Locked {
    Locked {
        requested,
        sources: sources
            .iter()
            .zip(fetched)
            .map(|(s, f)| LockedSource {
                uri: s.uri.clone(),
                suite: s.suite.clone(),
                components: s.components.clone(),
                date: f.release.date.clone(),
                signed_by: s.signed_by.clone(),
            })
            .collect(),
        packages: plan
            .packages
            .iter()
            .map(|(p, _)| LockedPackage {
                name: p.name.clone(),
                version: p.version.to_string(),
                arch: p.arch.clone(),
                sha256: p.sha256.clone(),
                size: p.size,
                filename: p.filename.clone(),
                source: p.source,
            })
            .collect(),
    }
}

/// Every locked package must still be served, byte for byte, by its archive.
fn check_drift(
    ctx: &Context,
    http: &Http,
    locked: &Locked,
    sources: &[Source],
    fetched: &[Fetched],
    arch: &str,
) -> Result<()> {
    let index = read_indexes(ctx, http, sources, fetched, arch)?;
    for p in &locked.packages {
        let versions = index.versions(&p.name);
        if versions
            .iter()
            .any(|have| have.version.as_str() == p.version && have.sha256 == p.sha256)
        {
            continue;
        }
        let now = versions
            .first()
            .map(|v| format!("it now has {} {}", v.name, v.version))
            .unwrap_or_else(|| "it no longer has the package".into());
        bail!(
            "--locked: {} {} {} drifted: the archive does not serve the locked file (sha256 {}…) any more; {now}\n\
             help: run without --locked to update the lock, or point --mirror at a snapshot of the locked date",
            p.name,
            p.version,
            p.arch,
            &p.sha256[..12]
        );
    }
    Ok(())
}

fn write_lock(req: &Request, platform: &str, set: &Locked) -> Result<()> {
    let Some(path) = req.lock.as_ref().filter(|_| !req.locked) else {
        return Ok(());
    };
    let mut lock = LockFile::read(path)?.unwrap_or(LockFile {
        version: 1,
        ..Default::default()
    });
    if lock.platforms.get(platform) == Some(set) {
        return Ok(());
    }
    lock.platforms.insert(platform.to_string(), set.clone());
    lock.write(path)
}
