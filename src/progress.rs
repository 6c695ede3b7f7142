//! What long commands (`xx image`, downloads) tell the user while they work, on stderr:
//! one line per step (layer, blob, manifest, file); on a terminal also a live status line of the bytes moving (redrawn at
//! most ten times a second, cleared before each line); nothing with `--quiet`.

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

static QUIET: AtomicBool = AtomicBool::new(false);
static STEPS: AtomicUsize = AtomicUsize::new(0);
static MOVED: AtomicU64 = AtomicU64::new(0);
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static LAST_DRAW_MS: AtomicU64 = AtomicU64::new(0);

pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn is_quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

fn live() -> bool {
    static TTY: OnceLock<bool> = OnceLock::new();
    !QUIET.load(Ordering::Relaxed) && *TTY.get_or_init(|| std::io::stderr().is_terminal())
}

fn elapsed_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// A line about work in progress (retries, waits).
pub fn note(line: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        print_line(line);
    }
}

/// A finished step: `copied sha256:… 12.3 MiB linux/arm64`.
pub fn step(verb: &str, digest: &str, size: u64, what: &str) {
    if QUIET.load(Ordering::Relaxed) {
        return;
    }
    let n = STEPS.fetch_add(1, Ordering::Relaxed) + 1;
    let short = digest.get(..19).unwrap_or(digest);
    let line = format!("{verb:<8} {short} {:>10}  {what}", human(size));
    if live() {
        print_line(&format!("[{n:>3}] {line}"));
    } else {
        print_line(&line);
    }
}

fn print_line(line: &str) {
    let mut err = std::io::stderr().lock();
    if live() {
        let _ = write!(err, "\r\x1b[K");
    }
    let _ = writeln!(err, "{line}");
    if live() && ACTIVE.load(Ordering::Relaxed) > 0 {
        draw(&mut err);
    }
}

/// A blob transfer starts; `Transfer` counts its bytes until dropped.
pub fn transfer() -> Transfer {
    ACTIVE.fetch_add(1, Ordering::Relaxed);
    Transfer
}

pub struct Transfer;

impl Transfer {
    pub fn moved(&self, bytes: u64) {
        MOVED.fetch_add(bytes, Ordering::Relaxed);
        if !live() {
            return;
        }
        let now = elapsed_ms();
        let last = LAST_DRAW_MS.load(Ordering::Relaxed);
        if now >= last + 100
            && LAST_DRAW_MS
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            draw(&mut std::io::stderr().lock());
        }
    }
}

impl Drop for Transfer {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

fn draw(err: &mut impl std::io::Write) {
    let moved = MOVED.load(Ordering::Relaxed);
    let secs = (elapsed_ms() as f64 / 1000.0).max(0.001);
    let _ = write!(
        err,
        "\r\x1b[K{} blob(s) moving, {} so far ({}/s)",
        ACTIVE.load(Ordering::Relaxed),
        human(moved),
        human((moved as f64 / secs) as u64)
    );
    let _ = err.flush();
}

pub fn human(size: u64) -> String {
    match size {
        s if s >= 1 << 30 => format!("{:.1} GiB", s as f64 / (1u64 << 30) as f64),
        s if s >= 1 << 20 => format!("{:.1} MiB", s as f64 / (1u64 << 20) as f64),
        s if s >= 1 << 10 => format!("{:.1} KiB", s as f64 / 1024.0),
        s => format!("{s} B"),
    }
}
