//! `xx-apt` / `xx-apt-get`: apt for the target arch. Compatible with tonistiigi/xx's
//! `xx-apt` (argument passthrough, name mapping, meta packages, skip messages, the `+ apt`
//! echo), but it reads apt's lists once instead of running `apt show` per name, runs
//! `apt-get update` only when the target's lists are missing or stale, installs
//! `Architecture: all` packages without `:arch`, and reports a broken index in one line.

mod lists;
pub mod sources;

use std::collections::BTreeSet;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{anyhow, bail, Context as _, Result};

use crate::context::{Context, OsRelease};
use crate::env_vars as ev;
use crate::platform::{self, Resolved};

/// Subcommands after which arguments are package names.
const PACKAGE_COMMANDS: &[&str] = &["install", "remove", "search", "show", "list", "info"];
/// apt options that take the next argument as their value (xx treats it as a package).
const OPTIONS_WITH_VALUE: &[&str] = &[
    "-o",
    "-c",
    "-t",
    "-a",
    "--option",
    "--config-file",
    "--target-release",
];

pub fn run(ctx: &Context, name: &str, args: &[String]) -> Result<ExitCode> {
    let apt = if name == "apt-get" { "apt-get" } else { "apt" };
    if let Some(code) = special_flags(ctx, args)? {
        return Ok(code);
    }
    let r = Resolved::from_context(ctx);
    let release = OsRelease::read(ctx).unwrap_or_default();
    let ports = match availability(ctx, &r, &release) {
        Availability::Skip(reason) => {
            crate::output::err_line(format!(
                "skipping packages installation on {}{reason}",
                r.arch
            ));
            return Ok(ExitCode::SUCCESS);
        }
        Availability::Archive => false,
        Availability::DebianPorts => true,
    };
    let (options, packages, parsed) = split_args(args);
    if !parsed {
        if r.os != "linux" {
            crate::output::err_line(format!("skipping packages installation on {}", r.os));
            return Ok(ExitCode::SUCCESS);
        }
        // Like xx: without a package command, plain `apt`, untouched and unechoed.
        return Err(crate::proc::exec(Command::new("apt").args(&options)));
    }
    if r.os == "linux" {
        check_target(&r)?;
    }
    let lock = lock(ctx)?;
    let cross = r.is_cross(&ctx.host_march());
    if r.os == "linux" {
        prepare_arch(ctx, &r, cross, ports)?;
    }
    let mapped = map_names(ctx, &r, cross, &packages)?;
    if mapped.is_empty() && r.os != "linux" {
        crate::output::err_line(format!("skipping packages installation on {}", r.os));
        return Ok(ExitCode::SUCCESS);
    }
    let mut argv = options;
    argv.extend(mapped);
    if let Some(file) = &lock {
        crate::fsutil::keep_across_exec(file);
    }
    run_apt(ctx, apt, &argv)
}

/// The target must be one apt can name before dpkg or a sources file hears of it:
/// `TARGETPLATFORM=linux/arm64;id` (or a newline, or 100 KB of text) is refused as
/// xx-info refuses it, and an escape-hatch Debian arch must look like one.
fn check_target(r: &Resolved) -> Result<()> {
    let printable = |s: &str| s.chars().all(|c| c.is_ascii_graphic());
    let too_long = r.platform().len() > 128;
    if too_long || !printable(&r.os) || !printable(&r.arch) || !printable(&r.variant) {
        let shown: String = r.platform().chars().take(64).collect();
        bail!("TARGETPLATFORM {shown:?} is not a platform: expected os/arch[/variant], e.g. linux/arm64");
    }
    if !r.is_supported() {
        bail!("{}", r.unsupported_message());
    }
    let debian_name = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !debian_name(&r.pkg_arch) {
        bail!(
            "{:?} is not a Debian architecture name (lowercase letters, digits, '-'); check XX_DEBIAN_ARCH",
            r.pkg_arch
        );
    }
    Ok(())
}

/// `--print-source-file`, `--fix-source-file FILE ARCH`.
fn special_flags(ctx: &Context, args: &[String]) -> Result<Option<ExitCode>> {
    if args.iter().any(|a| a == "--print-source-file") {
        crate::output::line(sources::main_file(ctx).display())?;
        return Ok(Some(ExitCode::SUCCESS));
    }
    if let Some(i) = args.iter().position(|a| a == "--fix-source-file") {
        let (Some(file), Some(arch)) = (args.get(i + 1), args.get(i + 2)) else {
            bail!("usage: --fix-source-file FILE ARCH, e.g. --fix-source-file /etc/apt/sources.list amd64");
        };
        // XX_HOST_ROOT applies to absolute paths; a relative one is the caller's.
        let path = if file.starts_with('/') {
            ctx.host_path(file)
        } else {
            PathBuf::from(file)
        };
        sources::fix_file(&path, arch)?;
        return Ok(Some(ExitCode::SUCCESS));
    }
    Ok(None)
}

enum Availability {
    /// In the distribution's archive.
    Archive,
    /// Only in debian-ports for this Debian release (and allowed).
    DebianPorts,
    /// Not installed; the text follows xx's "skipping packages installation on <arch>".
    Skip(String),
}

/// Whether the release has packages for the arch, by the table's apt facts (riscv64:
/// Debian 13+ or debian-ports with XX_APT_FORCE_RISCV64, Ubuntu 20.04+; mips: never).
fn availability(ctx: &Context, r: &Resolved, release: &OsRelease) -> Availability {
    let Some(apt) = r.target.map(|t| &t.apt) else {
        return Availability::Archive;
    };
    if apt.skip {
        return Availability::Skip(String::new());
    }
    // No VERSION_ID (Debian testing/sid) is the newest release there is.
    let major = |v: &str| {
        if v.is_empty() {
            return u32::MAX;
        }
        v.split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            .unwrap_or(0)
    };
    match r.vendor.as_str() {
        "debian"
            if apt
                .debian_ports_before
                .is_some_and(|n| major(&release.version_id) < n) =>
        {
            match apt.force_env {
                Some(env) if ctx.var(env).is_none() => Availability::Skip(format!(
                    ". {} requires Debian {}+ (set {env}=1 to use debian-ports)",
                    r.arch,
                    apt.debian_ports_before.unwrap_or_default()
                )),
                _ => Availability::DebianPorts,
            }
        }
        "ubuntu"
            if apt
                .ubuntu_since
                .is_some_and(|n| major(&release.version_id) < n) =>
        {
            Availability::Skip(format!(
                ". {} requires {}.04+",
                r.arch,
                apt.ubuntu_since.unwrap_or_default()
            ))
        }
        _ => Availability::Archive,
    }
}

/// Options stay in order; package names (after install/remove/…) go last, as in xx.
fn split_args(args: &[String]) -> (Vec<String>, Vec<String>, bool) {
    let (mut options, mut packages, mut parsed) = (Vec::new(), Vec::new(), false);
    let mut iter = args.iter();
    while let Some(a) = iter.next() {
        if OPTIONS_WITH_VALUE.contains(&a.as_str()) {
            options.push(a.clone());
            options.extend(iter.next().cloned());
        } else if a.starts_with('-') {
            options.push(a.clone());
        } else if PACKAGE_COMMANDS.contains(&a.as_str()) && !parsed {
            parsed = true;
            options.push(a.clone());
        } else if parsed {
            packages.push(a.clone());
        } else {
            options.push(a.clone());
        }
    }
    (options, packages, parsed)
}

fn lock(ctx: &Context) -> Result<Option<File>> {
    crate::fsutil::tool_lock(ctx, "apt", ev::XX_APT_NOLOCK)
}

fn lists_dir(ctx: &Context) -> PathBuf {
    ctx.host_path("/var/lib/apt/lists")
}

/// Adds the foreign arch (with Ubuntu's ports entries) and refreshes its lists when they
/// are missing or older than the sources. The native arch is never refreshed per call.
fn prepare_arch(ctx: &Context, r: &Resolved, cross: bool, ports: bool) -> Result<()> {
    let lists = lists_dir(ctx);
    if !cross {
        if lists::files_for_arch(&lists, &r.pkg_arch).is_empty() {
            command(ctx, &["apt-get", "update"])?;
        }
        return Ok(());
    }
    let foreign = foreign_arches(ctx);
    let mut changed = false;
    if ports {
        changed |= debian_ports_sources(ctx, r)?;
    }
    if !foreign.iter().any(|a| a == &r.pkg_arch) {
        if r.vendor == "ubuntu" {
            ubuntu_sources(ctx, r)?;
        }
        command(ctx, &["dpkg", "--add-architecture", &r.pkg_arch])?;
        changed = true;
    }
    let files = lists::files_for_arch(&lists, &r.pkg_arch);
    let stale = match (lists::newest(&files), newest_source(ctx)) {
        (None, _) => true,
        (Some(list), Some(source)) => source > list,
        (Some(_), None) => false,
    };
    if changed || stale {
        update(ctx, &r.pkg_arch)?;
    }
    Ok(())
}

/// `/var/lib/dpkg/arch` lists the foreign architectures (what `dpkg
/// --print-foreign-architectures` prints), read without a process.
fn foreign_arches(ctx: &Context) -> Vec<String> {
    std::fs::read_to_string(ctx.host_path("/var/lib/dpkg/arch"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn newest_source(ctx: &Context) -> Option<std::time::SystemTime> {
    let mut files = vec![ctx.host_path("/etc/apt/sources.list")];
    if let Ok(dir) = std::fs::read_dir(ctx.host_path("/etc/apt/sources.list.d")) {
        files.extend(dir.filter_map(|e| e.ok().map(|e| e.path())));
    }
    lists::newest(&files)
}

/// Ubuntu serves non-x86 arches from a ports mirror: the main file is restricted to the
/// native arch and the target gets its own file, in the main file's format.
fn ubuntu_sources(ctx: &Context, r: &Resolved) -> Result<()> {
    let main = sources::main_file(ctx);
    let deb822 = sources::is_deb822(&main);
    let main_path = ctx.host_path(&main.to_string_lossy());
    let text = std::fs::read_to_string(&main_path)
        .with_context(|| format!("cannot read {}", main.display()))?;
    let march = ctx.host_march();
    let native = platform::by_march(&march).map(|t| t.deb).ok_or_else(|| {
        anyhow!("cannot tell this machine's Debian architecture (uname -m {march:?} is not in xx's table); set XX_HOST_MARCH")
    })?;
    let ext = if deb822 { "sources" } else { "list" };
    let target_file = ctx.host_path(&format!("/etc/apt/sources.list.d/xx-{}.{ext}", r.deb));
    // Everything that can fail (the mirror above all) before any file is written.
    let entry = if target_file.exists() {
        None
    } else {
        let uris = sources::uris(&text, deb822);
        let primary = platform::vendor_info(&r.vendor)
            .is_some_and(|v| v.primary_arches.contains(&r.deb.as_str()));
        let mirror = if primary {
            sources::primary_mirror(ctx, &uris)?
        } else {
            sources::ports_mirror(ctx, &uris)?
        };
        let release = OsRelease::read(ctx).unwrap_or_default();
        Some(sources::ubuntu_ports_entry(
            deb822,
            &r.deb,
            &mirror,
            &release.codename,
            "/usr/share/keyrings/ubuntu-archive-keyring.gpg",
        ))
    };
    let fixed = sources::restrict_to_arch(&text, deb822, native);
    if fixed != text {
        crate::fsutil::write_atomic(&main_path, fixed.as_bytes())?;
    }
    match entry {
        Some(entry) => crate::fsutil::write_atomic(&target_file, entry.as_bytes()),
        None => Ok(()),
    }
}

/// The debian-ports entry for an arch this Debian release lacks (riscv64 before 13,
/// loong64): its keyring, and `deb [arch=A] <mirror> sid main`. The mirror comes from
/// XX_APT_PORTS_MIRROR or a debian-ports URI already configured. Returns whether it
/// changed anything.
fn debian_ports_sources(ctx: &Context, r: &Resolved) -> Result<bool> {
    let list = ctx.host_path(&format!("/etc/apt/sources.list.d/{}-sid.list", r.deb));
    if list.exists() {
        return Ok(false);
    }
    let main = sources::main_file(ctx);
    let text = std::fs::read_to_string(ctx.host_path(&main.to_string_lossy())).unwrap_or_default();
    let mirror = sources::ports_mirror(ctx, &sources::uris(&text, sources::is_deb822(&main)))?;
    if !ctx
        .host_path("/usr/share/keyrings/debian-ports-archive-keyring.gpg")
        .exists()
    {
        command(
            ctx,
            &["apt-get", "install", "-y", "debian-ports-archive-keyring"],
        )?;
    }
    let entry = format!(
        "deb [arch={}] {} sid main\n",
        r.deb,
        mirror.trim_end_matches('/')
    );
    crate::fsutil::write_atomic(&list, entry.as_bytes())?;
    Ok(true)
}

/// `apt-get update`, with a broken index for the target arch reported in one line.
fn update(ctx: &Context, arch: &str) -> Result<()> {
    if dry_run(ctx) {
        return command(ctx, &["apt-get", "update"]);
    }
    crate::output::err_line("+ apt-get update");
    let (status, lines) = crate::proc::tee_stderr(Command::new("apt-get").arg("update"))?;
    if status.success() {
        return Ok(());
    }
    let errors: Vec<String> = lines
        .into_iter()
        .filter(|l| l.starts_with("E:") || l.starts_with("W:"))
        .collect();
    Err(broken_index_error(&errors, arch))
}

/// Names the suite and arch of a broken index (seen: armhf on a security suite during a
/// mirror sync), and the fix.
pub fn broken_index_error(errors: &[String], arch: &str) -> anyhow::Error {
    let marker = format!("binary-{arch}/");
    let line = errors
        .iter()
        .find(|l| l.contains(&marker))
        .or_else(|| errors.iter().find(|l| l.starts_with("E:")));
    let Some(line) = line else {
        return anyhow!("apt-get update failed");
    };
    let suite = line
        .split("/dists/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("?");
    let reason = line.rsplit("  ").next().unwrap_or(line).trim();
    if line.contains(&marker) {
        anyhow!(
            "apt index of suite {suite} for {arch} is broken: {reason}\n\
             help: retry later (the mirror may be syncing), or undo with: dpkg --remove-architecture {arch}"
        )
    } else {
        anyhow!("apt-get update failed: {line}")
    }
}

/// xx's name mapping over one read of the lists.
fn map_names(ctx: &Context, r: &Resolved, cross: bool, packages: &[String]) -> Result<Vec<String>> {
    let suffix = r
        .target
        .and_then(|t| t.apt_suffix)
        .map(str::to_string)
        .unwrap_or_else(|| r.triple.replace('_', "-"));
    let cross_suffix = format!("{}-cross", r.pkg_arch);
    // The meta names' gcc version is only known after reading, so every spelling of
    // their packages is looked up (`libgcc-12-dev-arm64-cross` for XX_APT_PREFER_CROSS).
    let mut wanted = BTreeSet::new();
    let bases = packages.iter().flat_map(|p| match p.as_str() {
        "xx-c-essentials" => vec!["libc6-dev".to_string()],
        "xx-cxx-essentials" => vec![],
        _ => vec![p.clone()],
    });
    for p in bases {
        wanted.insert(format!("{p}-{suffix}"));
        wanted.insert(format!("{p}-{cross_suffix}"));
        wanted.insert(p);
    }
    let lists = lists_dir(ctx);
    let mut files = lists::files_for_arch(&lists, &r.pkg_arch);
    if let Some(native) = platform::by_march(&ctx.host_march()) {
        files.extend(lists::files_for_arch(&lists, native.deb));
    }
    files.extend(lists::files_for_arch(&lists, "all"));
    let index = lists::read(&files, &wanted, lists::GCC_STEMS, &r.pkg_arch)?;
    let mut out = Vec::new();
    for p in packages {
        let names: Vec<String> = match p.as_str() {
            "xx-c-essentials" => vec![
                "libc6-dev".into(),
                format!("libgcc-{}-dev", index.newest_gcc("libgcc").unwrap_or(8)),
            ],
            "xx-cxx-essentials" => vec![format!(
                "libstdc++-{}-dev",
                index.newest_gcc("libstdc++").unwrap_or(8)
            )],
            _ => vec![p.clone()],
        };
        for name in names {
            if !cross {
                out.push(name);
                continue;
            }
            let cross_name = format!("{name}-{suffix}");
            let prefer_cross = format!("{name}-{cross_suffix}");
            if index.exists(&cross_name) {
                out.push(cross_name);
            } else if r.os == "linux"
                && ctx.var(ev::XX_APT_PREFER_CROSS).is_some()
                && index.exists(&prefer_cross)
            {
                out.push(prefer_cross);
            } else if r.os == "linux" && index.is_arch_all(&name) {
                out.push(name);
            } else if r.os == "linux" {
                out.push(format!("{name}:{}", r.pkg_arch));
            }
        }
    }
    Ok(out)
}

fn dry_run(ctx: &Context) -> bool {
    ctx.var(ev::XX_APT_DRY_RUN).is_some()
}

/// Runs a preparatory command (echoed as `+ …`); in dry-run mode only echoes it.
fn command(ctx: &Context, argv: &[&str]) -> Result<()> {
    crate::proc::echo_and_run(argv, &shell_words(argv), dry_run(ctx))
}

/// The final apt call, echoed exactly as xx does (`+ apt-get  install …`), then exec'd.
fn run_apt(ctx: &Context, apt: &str, argv: &[String]) -> Result<ExitCode> {
    crate::output::err_line(format!("+ {apt}  {}", shell_words(argv)));
    if dry_run(ctx) {
        return Ok(ExitCode::SUCCESS);
    }
    // The lock's descriptor stays open in apt; nested xx-apt calls must not wait for it.
    Err(crate::proc::exec(
        Command::new(apt).args(argv).env(ev::XX_APT_NOLOCK, "1"),
    ))
}

/// Arguments as a shell line that can be pasted back: words the shell takes as they are
/// stay so (xx's echo, byte for byte: `pkg=1.2-1~deb12u1`, `-o`, `:arm64`), anything
/// the shell would split, expand or interpret is single-quoted.
fn shell_words<S: AsRef<str>>(argv: &[S]) -> String {
    let quote = |a: &str| {
        let special =
            |c: char| c.is_whitespace() || c.is_control() || "'\"$`\\;&|<>(){}*?[]!".contains(c);
        let plain = !a.is_empty() && !a.contains(special) && !a.starts_with(['~', '#']);
        if plain {
            a.to_string()
        } else {
            format!("'{}'", a.replace('\'', "'\\''"))
        }
    };
    argv.iter()
        .map(|a| quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_commands_paste_back() {
        assert_eq!(
            shell_words(&[
                "install",
                "-y",
                "libssl-dev:arm64",
                "-o",
                "Dpkg::Options::=--force-confnew"
            ]),
            "install -y libssl-dev:arm64 -o Dpkg::Options::=--force-confnew"
        );
        assert_eq!(shell_words(&["a b", "it's", ""]), "'a b' 'it'\\''s' ''");
        assert_eq!(
            shell_words(&[
                "libssl-dev=3.0.11-1~deb12u2",
                "libstdc++-12-dev^",
                "x$y",
                "~root"
            ]),
            "libssl-dev=3.0.11-1~deb12u2 libstdc++-12-dev^ 'x$y' '~root'"
        );
    }

    #[test]
    fn broken_index_names_suite_and_arch() {
        let errors = vec![
            "W: Some index files failed to download. They have been ignored, or old ones used instead.".to_string(),
            "E: Failed to fetch http://127.0.0.1:9/debian-security/dists/bookworm-security/main/binary-armhf/Packages.xz  \
             File has unexpected size (123 != 456). Mirror sync in progress? [IP: 127.0.0.1 9]"
                .to_string(),
        ];
        let msg = format!("{:#}", broken_index_error(&errors, "armhf"));
        assert!(
            msg.starts_with("apt index of suite bookworm-security for armhf is broken: File has unexpected size"),
            "{msg}"
        );
        assert!(msg.contains("dpkg --remove-architecture armhf"), "{msg}");
        assert_eq!(msg.lines().count(), 2);
    }

    #[test]
    fn package_names_go_last_and_option_values_stay() {
        let args: Vec<String> = ["install", "foo", "-y", "-o", "A=B", "bar"]
            .map(String::from)
            .into();
        let (options, packages, parsed) = split_args(&args);
        assert!(parsed);
        assert_eq!(options, ["install", "-y", "-o", "A=B"]);
        assert_eq!(packages, ["foo", "bar"]);
    }
}
