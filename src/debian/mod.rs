//! Debian/Ubuntu archives as data: Release files and their signatures, Packages
//! indexes, versions, dependency resolution and `.deb` contents. Knows no compiler.

pub mod archive;
pub mod control;
pub mod deb;
pub mod packages;
pub mod release;
pub mod resolve;
pub mod version;
