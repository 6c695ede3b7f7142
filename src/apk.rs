//! `xx-apk`: apk for the target, as tonistiigi/xx's xx-apk. A cross target gets its own
//! root `/<triple>` with its own `etc/apk` (the host's repositories, the target's arch,
//! `alpine-keys`), set up once; `xx-c-essentials`/`xx-cxx-essentials` name the C and C++
//! toolchain packages; `compiler-rt` and `rust-stdlib` are linked where clang and rustc
//! look. The vendor is always alpine. Repository fallbacks (riscv64 before Alpine 3.20,
//! loong64 before 3.21, the table's `apk_since`) keep the host's mirrors: only the
//! release in their URLs changes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context as _, Result};

use crate::context::{Context, OsRelease};
use crate::env_vars as ev;
use crate::fsutil::write_atomic;
use crate::platform::Resolved;

pub fn run(ctx: &Context, args: &[String]) -> Result<ExitCode> {
    let _lock = crate::fsutil::tool_lock(ctx, "apk", ev::XX_APK_NOLOCK)?;
    let mut alpine = ctx.clone_vars();
    alpine.set_var(ev::XX_VENDOR, "");
    let r = Resolved::from_context(&alpine);
    if r.os != "linux" {
        crate::output::err_line(format!("skipping packages installation on {}", r.os));
        return Ok(ExitCode::SUCCESS);
    }
    if r.target.is_some_and(|row| row.apt.skip) {
        crate::output::err_line(format!("skipping packages installation on {}", r.arch));
        return Ok(ExitCode::SUCCESS);
    }
    if !r.is_supported() {
        // xx's lines: `xx-info env` fails, leaving XX_OS empty in its skip line; the run
        // succeeds, installing nothing.
        crate::output::err_line(r.unsupported_message());
        crate::output::err_line("skipping packages installation on ");
        return Ok(ExitCode::SUCCESS);
    }
    let target = Apk::new(ctx, r);
    match args.first().map(String::as_str) {
        Some("setup") => target.setup().map(|()| ExitCode::SUCCESS),
        Some("clean") => target.clean().map(|()| ExitCode::SUCCESS),
        _ => target.apk(args),
    }
}

struct Apk<'a> {
    ctx: &'a Context,
    r: Resolved,
    cross: bool,
    /// `/<triple>` for a cross target, else `/` (under XX_HOST_ROOT).
    root: PathBuf,
}

impl<'a> Apk<'a> {
    fn new(ctx: &'a Context, r: Resolved) -> Apk<'a> {
        let cross = r.is_cross(&ctx.host_march());
        let root = if cross {
            ctx.host_path(&format!("/{}", r.triple))
        } else {
            ctx.host_path("/")
        };
        Apk {
            ctx,
            r,
            cross,
            root,
        }
    }

    /// The target root's `etc/apk`, once (marked by `/<triple>/.xx-setup`).
    fn setup(&self) -> Result<()> {
        let done = self.root.join(".xx-setup");
        if !self.cross || done.is_file() {
            return Ok(());
        }
        let host_repos = self.ctx.host_path("/etc/apk/repositories");
        let repos = fs::read_to_string(&host_repos)
            .with_context(|| format!("cannot read {}", host_repos.display()))?;
        let repos = self.repositories(&repos, &host_repos)?;
        let apk_dir = self.root.join("etc/apk");
        for dir in ["keys", "protected_paths.d"] {
            let dir = apk_dir.join(dir);
            fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        write_atomic(&apk_dir.join("repositories"), repos.as_bytes())?;
        write_atomic(
            &apk_dir.join("arch"),
            format!("{}\n", self.r.pkg_arch).as_bytes(),
        )?;
        let root = self.root.display().to_string();
        let keys = [
            "add",
            "--no-cache",
            "--initdb",
            "-p",
            &root,
            "--allow-untrusted",
            "alpine-keys",
        ];
        let status = apk_command(self.ctx)
            .args(keys)
            .status()
            .context("cannot run apk")?;
        if !status.success() {
            bail!("apk add alpine-keys for {root} failed ({status})");
        }
        let cache = self.ctx.host_path("/etc/apk/cache");
        if cache.is_dir() {
            let arch_cache = cache.join(format!("_{}", self.r.pkg_arch));
            fs::create_dir_all(&arch_cache)
                .with_context(|| format!("cannot create {}", arch_cache.display()))?;
            crate::fsutil::link(&apk_dir.join("cache"), &arch_cache)?;
        }
        write_atomic(&done, b"")
    }

    /// The host's repositories, or for an arch newer than the host's release the same
    /// mirrors at the first release that has it (main and community, as xx).
    fn repositories(&self, host: &str, host_file: &Path) -> Result<String> {
        let since = self.r.target.and_then(|row| row.apk_since);
        let release = OsRelease::read(self.ctx).unwrap_or_default();
        let Some(since) = since.filter(|s| version_lt(&release.version_id, s)) else {
            return Ok(host.to_string());
        };
        let mut mirrors: Vec<&str> = host
            .lines()
            .filter_map(|line| mirror_of(line.trim()))
            .collect();
        mirrors.dedup();
        if mirrors.is_empty() {
            bail!(
                "{} is older than Alpine {since}, the first with {}, and {} names no mirror to take v{since} from: add one (https://MIRROR/alpine/v{since}/main)",
                release.version_id,
                self.r.arch,
                host_file.display()
            );
        }
        Ok(mirrors
            .iter()
            .flat_map(|m| ["main", "community"].map(|repo| format!("{m}/v{since}/{repo}\n")))
            .collect())
    }

    fn clean(&self) -> Result<()> {
        if !self.cross {
            return Ok(());
        }
        if self.r.triple.is_empty() {
            bail!("invalid triple root {}", self.r.triple);
        }
        match fs::remove_dir_all(&self.root) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove {}", self.root.display()))
            }
            _ => Ok(()),
        }
    }

    /// `apk --root <root> ARGS` (echoed as xx echoes it), then the links for compiler-rt
    /// and rust-stdlib.
    fn apk(&self, args: &[String]) -> Result<ExitCode> {
        self.setup()?;
        let mut packages = Vec::new();
        let mut compiler_rt = None;
        let mut rust_stdlib = false;
        for a in args {
            match a.as_str() {
                "xx-c-essentials" => packages.extend(["musl-dev".into(), "gcc".into()]),
                "xx-cxx-essentials" => packages.push("g++".into()),
                "compiler-rt" | "compiler-rt-static" => {
                    compiler_rt = Some(a.clone());
                    packages.push(a.clone());
                }
                "rust-stdlib" => {
                    rust_stdlib = true;
                    packages.push(a.clone());
                }
                _ => packages.push(a.clone()),
            }
        }
        let mut argv = Vec::new();
        if !packages.is_empty() {
            argv.extend(["--root".to_string(), self.root.display().to_string()]);
            argv.extend(packages);
            // xx's `echo "+ apk " "$@"`: two spaces.
            crate::output::line(format!("+ apk  {}", argv.join(" ")))?;
        }
        let status = apk_command(self.ctx)
            .args(&argv)
            .status()
            .context("cannot run apk")?;
        if !status.success() {
            return Ok(ExitCode::from(crate::proc::exit_code(status)));
        }
        if self.cross {
            if let Some(package) = compiler_rt {
                self.link_compiler_rt(&package)?;
            }
            if rust_stdlib {
                self.link_rust_stdlib();
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    /// clang looks for its runtime in the real root: each `clang_rt.*` file of the
    /// package gets a link there, unless a file is in the way.
    fn link_compiler_rt(&self, package: &str) -> Result<()> {
        let root = self.root.display().to_string();
        let out = apk_command(self.ctx)
            .args(["--root", &root, "info", "-qL", package])
            .output()
            .context("cannot run apk info")?;
        for file in String::from_utf8_lossy(&out.stdout).lines() {
            let file = file.trim().trim_start_matches('/');
            // Only a runtime in clang's resource tree gets a link in the real root.
            let in_clang_tree = file.starts_with("usr/lib/") && file.contains("/lib/clang/");
            if !file.contains("clang_rt.")
                || !in_clang_tree
                || file
                    .split('/')
                    .any(|c| c == ".." || c == "." || c.is_empty())
            {
                continue;
            }
            let at = self.ctx.host_path(&format!("/{file}"));
            if at.symlink_metadata().is_ok() {
                continue;
            }
            if let Some(dir) = at.parent() {
                fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let to = Path::new("/").join(&self.r.triple).join(file);
            std::os::unix::fs::symlink(&to, &at)
                .with_context(|| format!("cannot link {}", at.display()))?;
        }
        Ok(())
    }

    /// rustc finds a target's std under its own sysroot: the target root's copy is
    /// linked there (as xx: an existing one is left alone).
    fn link_rust_stdlib(&self) {
        let rel = format!("usr/lib/rustlib/{}", self.r.triple);
        let installed = self.root.join(&rel);
        if installed.is_dir() {
            let _ = std::os::unix::fs::symlink(&installed, self.ctx.host_path(&format!("/{rel}")));
        }
    }
}

fn apk_command(ctx: &Context) -> Command {
    let mut cmd = Command::new(crate::cc::find_tool(ctx, "apk").unwrap_or_else(|| "apk".into()));
    cmd.env(ev::XX_APK_NOLOCK, "1");
    cmd
}

/// `https://mirror/alpine/v3.19/main` → `https://mirror/alpine` (also `edge`); comments
/// and local repositories (`/path`, `@tag`) have none.
fn mirror_of(line: &str) -> Option<&str> {
    if line.starts_with('#') || line.starts_with('@') || !line.contains("://") {
        return None;
    }
    let (rest, _repo) = line.rsplit_once('/')?;
    let (base, release) = rest.rsplit_once('/')?;
    (release == "edge" || release.starts_with('v')).then_some(base)
}

/// Release `a` is older than `b` (`3.19.1` < `3.20`), comparing major.minor by their
/// leading digits (edge's `3.21_alpha20240807` is 3.21).
fn version_lt(a: &str, b: &str) -> bool {
    let parts = |v: &str| -> Vec<u32> {
        v.split('.')
            .take(2)
            .map(|p| {
                let digits = p.len() - p.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                p[..digits].parse().unwrap_or(0)
            })
            .collect()
    };
    !a.is_empty() && parts(a) < parts(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_keep_their_host_and_path() {
        assert_eq!(
            mirror_of("https://mirror.test/alpine/v3.19/main"),
            Some("https://mirror.test/alpine")
        );
        assert_eq!(mirror_of("http://m/x/edge/testing"), Some("http://m/x"));
        assert_eq!(mirror_of("# https://m/alpine/v3.19/main"), None);
        assert_eq!(mirror_of("/local/repo"), None);
    }

    #[test]
    fn releases_compare_by_major_and_minor() {
        assert!(version_lt("3.19.1", "3.20"));
        assert!(!version_lt("3.20.3", "3.20"));
        assert!(!version_lt("3.21.0", "3.20"));
        assert!(!version_lt("", "3.20"));
        assert!(!version_lt("3.21_alpha20240807", "3.21"));
        assert!(version_lt("3.20_alpha20240329", "3.21"));
    }
}
