//! One integration-test binary (faster to link than one per file).

mod info;
mod util;
mod verify;
