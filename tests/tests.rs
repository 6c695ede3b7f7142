//! One integration-test binary (faster to link than one per file).

mod apk;
mod apt;
mod build;
mod cargo;
mod cc;
mod deb_archive;
mod dockerfile;
mod docs;
mod fault_proxy;
mod go;
mod hostile_files;
mod hostile_net;
mod image;
mod info;
mod registry;
mod sysroot;
mod util;
mod verify;
mod windows;
