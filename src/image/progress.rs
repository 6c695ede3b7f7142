//! What `xx image` tells the user while it works: one line per blob and manifest on
//! stderr (a counter in front on a terminal), nothing with `--quiet`.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);
static DONE: AtomicUsize = AtomicUsize::new(0);

pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// A line about work in progress (retries, waits).
pub fn note(line: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        eprintln!("{line}");
    }
}

/// A finished step: `pushed sha256:… (12.3 MB) linux/arm64`.
pub fn step(verb: &str, digest: &str, size: u64, what: &str) {
    if QUIET.load(Ordering::Relaxed) {
        return;
    }
    let n = DONE.fetch_add(1, Ordering::Relaxed) + 1;
    let short = digest.get(..19).unwrap_or(digest);
    let line = format!("{verb:<8} {short} {:>10}  {what}", human(size));
    if std::io::stderr().is_terminal() {
        eprintln!("[{n:>3}] {line}");
    } else {
        eprintln!("{line}");
    }
}

fn human(size: u64) -> String {
    match size {
        s if s >= 1 << 30 => format!("{:.1} GiB", s as f64 / (1u64 << 30) as f64),
        s if s >= 1 << 20 => format!("{:.1} MiB", s as f64 / (1u64 << 20) as f64),
        s if s >= 1 << 10 => format!("{:.1} KiB", s as f64 / 1024.0),
        s => format!("{s} B"),
    }
}
