//! One integration-test binary (faster to link than one per file).

mod apt;
mod cargo;
mod cc;
mod docs;
mod image;
mod info;
mod util;
mod verify;
