//! `xx image`: per-platform layers into one multi-arch OCI image index, reproducibly
//! (same inputs and SOURCE_DATE_EPOCH, same bytes and digests, whatever the time or the
//! parallelism), written to a layout, an archive or a registry; and the chores around
//! multi-arch images: inspect, merge, copy.

pub mod archive;
pub mod base;
pub mod command;
pub mod config;
pub mod copy;
mod create;
pub mod deps;
mod inspect;
pub mod layer;
pub mod merge;
pub mod oci;
pub mod pgzip;
pub mod reference;
pub mod registry;
pub mod store;

use anyhow::{anyhow, Result};

use crate::platform;
pub use create::{create, CreateArgs};
pub use inspect::inspect;

/// `os/arch[/variant]` through the table (aliases such as `arm64` or `armhf` accepted),
/// normalised as images name platforms.
pub fn parse_platform(text: &str) -> Result<String> {
    let p = platform::parse_cli_platform(text).map_err(|e| anyhow!("--platform {text}: {e}"))?;
    let mut parts = p.platform.split('/');
    let os = parts.next().unwrap_or_default();
    let arch = parts.next().unwrap_or_default();
    let row = platform::find(os, arch, parts.next().unwrap_or_default())
        .ok_or_else(|| anyhow!("--platform {text}: unknown platform; see `xx info list`"))?;
    Ok(platform_name(row.os, row.arch, row.variant))
}

/// The build machine's platform, as images name it.
pub fn host_platform(ctx: &crate::context::Context) -> String {
    platform::by_march(&ctx.host_march())
        .map(|row| platform_name(row.os, row.arch, row.variant))
        .unwrap_or_else(|| format!("linux/{}", std::env::consts::ARCH))
}

pub(crate) fn platform_name(os: &str, arch: &str, variant: &str) -> String {
    if variant.is_empty() {
        format!("{os}/{arch}")
    } else {
        format!("{os}/{arch}/{variant}")
    }
}
