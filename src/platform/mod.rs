//! The target model: one table (`toolchains/targets.toml`) and the rules that read a
//! platform from the environment or the command line into one of its rows.

mod parse;
mod resolve;
mod table;

pub use parse::{normalize_alias, parse_cli_platform, CliPlatform};
pub use resolve::Resolved;
pub use table::{
    arch_default, by_march, find, os_info, vendor_info, BinaryInfo, Endian, Format, OsInfo,
    PkgArch, Target, TARGETS,
};
