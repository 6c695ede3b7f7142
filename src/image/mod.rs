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
pub mod endpoint;
mod inspect;
pub mod layer;
mod layer_cache;
pub mod merge;
pub mod oci;
pub mod pgzip;
pub mod reference;
pub mod registry;
mod rootfs;
pub mod run;
pub mod store;

pub use create::{create, CreateArgs, Created};
pub use inspect::inspect;
