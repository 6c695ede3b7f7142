//! `xx image run [--platform P] REF [-- CMD…]`: a per-platform smoke test without
//! Docker or binfmt: that platform's filesystem unpacked (rootless) into a scratch
//! directory, its entrypoint and command (or CMD) run under the target's qemu-user with
//! the image as the root its loader and libraries come from; the exit code passed on.

use std::process::{Command, ExitCode};

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::Value;

use super::copy;
use super::endpoint::{Endpoint, Transport};
use super::oci;
use super::reference::Reference;
use super::store::{Layout, Store};
use crate::platform::Platform;

/// A shell's PATH for images whose config sets none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub fn run(
    reference: &str,
    platform: Option<&str>,
    entrypoint: Option<&str>,
    command: &[String],
    t: Transport<'_>,
) -> Result<ExitCode> {
    let parsed = Reference::parse(reference)?;
    let src = Endpoint::source(&parsed, t)?;
    let want = platform
        .map(|p| Platform::parse_flag(p).map(|p| p.to_string()))
        .transpose()?;
    let (root, bytes) = src.store.resolve(&src.target)?;
    let (desc, manifest) = copy::one_platform(
        &src.store,
        &root,
        &bytes,
        want.as_deref(),
        src.host_platform.as_deref(),
    )?;
    let config = src.store.config(&manifest)?;
    let image_platform = oci::platform_text(&config)
        .ok_or_else(|| anyhow!("{reference}: its config names no platform"))?;
    let layers = oci::children(&manifest)?.split_off(1);
    // A registry's blobs are copied next to the scratch tree first, to read as files.
    let fetched;
    let blobs = match &src.store {
        Store::Layout(layout) => layout,
        Store::Remote(_) => {
            fetched = Store::Layout(Layout::create(&src.scratch().join("blobs"))?);
            copy::copy_blobs(&src.store, &fetched, &layers, src.scratch(), t)?;
            let Store::Layout(layout) = &fetched else {
                bail!("the blobs were to be copied into a layout")
            };
            layout
        }
    };
    let rootfs = crate::scratch::ScratchDir::new_in(src.scratch(), "rootfs.")?;
    let tree = crate::sysroot::tree::Root::open(rootfs.path())?;
    // The tree writer files /lib, /bin, … under /usr (merged /usr); the links make
    // both spellings work, as on Debian.
    tree.merge_usr()?;
    super::rootfs::unpack(blobs, &layers, &tree)
        .with_context(|| format!("{reference} ({image_platform}, {})", desc.digest))?;

    let settings = &config["config"];
    let argv = argv(settings, entrypoint, command)?;
    let env = strings(&settings["Env"]);
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH)
        .to_string();
    let program = super::rootfs::find_program(rootfs.path(), &argv[0], &path)
        .ok_or_else(|| anyhow!("{}: not found in the image's PATH ({path})", argv[0]))?;
    let qemu = crate::run::qemu_for(t.ctx, &image_platform)?;
    let workdir = settings["WorkingDir"].as_str().unwrap_or("/");
    let mut cmd = Command::new(qemu);
    cmd.arg("-L")
        .arg(rootfs.path())
        .arg("-0")
        .arg(&argv[0])
        .arg(&program)
        .args(&argv[1..])
        .current_dir(rootfs.path().join(workdir.trim_start_matches('/')))
        .env_clear()
        .env("PATH", &path);
    for e in &env {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    let status = cmd.status().context("cannot start qemu")?;
    // The scratch tree goes when this returns; the program's code is passed on.
    Ok(ExitCode::from(crate::proc::exit_code(status)))
}

/// CMD given after `--`, else the image's Entrypoint + Cmd (Docker's rule: a CMD given
/// replaces Cmd and keeps the Entrypoint). `--entrypoint` replaces the Entrypoint and
/// drops the image's Cmd, as `docker run --entrypoint` does ("" leaves none).
fn argv(settings: &Value, entrypoint: Option<&str>, command: &[String]) -> Result<Vec<String>> {
    let mut argv = match entrypoint {
        Some("") => Vec::new(),
        Some(program) => vec![program.to_string()],
        None => strings(&settings["Entrypoint"]),
    };
    if command.is_empty() && entrypoint.is_none() {
        argv.extend(strings(&settings["Cmd"]));
    } else {
        argv.extend(command.iter().cloned());
    }
    if argv.is_empty() {
        bail!("the image has no Entrypoint or Cmd: name a command after --, e.g. xx image run REF -- /bin/sh -c 'echo hi'");
    }
    Ok(argv)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}
