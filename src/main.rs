//! The `xx` binary; everything is in the library (`src/lib.rs`).

fn main() -> std::process::ExitCode {
    xx::run_multicall()
}
