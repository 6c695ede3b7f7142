//! Managed toolchains: where they live (`XX_HOME`), and the commands around them.

pub mod home;
