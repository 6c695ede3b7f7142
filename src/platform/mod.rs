//! The target model: one table (`toolchains/targets.toml`) and the rules that read a
//! platform from the environment or the command line into one of its rows.

mod parse;
mod resolve;
mod table;
mod value;

pub use parse::parse_cli_platform;
pub use resolve::Resolved;
pub use table::{
    by_march, find, os_info, vendor_info, Endian, Format, OsInfo, Target, TARGETS, VERIFY_ONLY,
};
pub use value::{Libc, Os, Platform};
