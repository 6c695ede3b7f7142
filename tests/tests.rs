//! One integration-test binary (faster to link than one per file).

mod apt;
mod cargo;
mod cc;
mod docs;
mod fault_proxy;
mod image;
mod info;
mod registry;
mod util;
mod verify;
