//! What long commands (`xx image`, downloads) tell the user while they work, on stderr:
//! one line per step (layer, blob, manifest, file); on a terminal also a live status line of the bytes moving (redrawn at
//! most ten times a second, cleared before each line) and a board of per-item lines
//! redrawn in place (`xx build`'s platforms); nothing with `--quiet`.

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
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
    let board = BOARD.lock().unwrap_or_else(|e| e.into_inner());
    if live() {
        let _ = write!(err, "\r\x1b[K");
        erase_board(&mut err, &board);
    }
    let _ = writeln!(err, "{line}");
    if live() {
        draw_board(&mut err, &board);
        if ACTIVE.load(Ordering::Relaxed) > 0 {
            draw(&mut err);
        }
    }
}

/// Status lines, one per item (xx build's platforms), redrawn in place on a terminal
/// below the step lines; gone from the screen's bottom when the board ends, the last
/// state left standing.
static BOARD: Mutex<Vec<String>> = Mutex::new(Vec::new());

pub struct Board;

/// A board of `rows`, or None where nothing is drawn live (no terminal, --quiet).
pub fn board(rows: Vec<String>) -> Option<Board> {
    if !live() {
        return None;
    }
    let mut err = std::io::stderr().lock();
    let mut board = BOARD.lock().unwrap_or_else(|e| e.into_inner());
    *board = rows;
    draw_board(&mut err, &board);
    Some(Board)
}

impl Board {
    /// Replaces row `i` and redraws.
    pub fn set(&self, i: usize, text: String) {
        let mut err = std::io::stderr().lock();
        let mut board = BOARD.lock().unwrap_or_else(|e| e.into_inner());
        if i >= board.len() || board[i] == text {
            return;
        }
        let _ = write!(err, "\r\x1b[K");
        erase_board(&mut err, &board);
        board[i] = text;
        draw_board(&mut err, &board);
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        BOARD.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

fn erase_board(err: &mut impl std::io::Write, board: &[String]) {
    if !board.is_empty() {
        let _ = write!(err, "\x1b[{}A\r\x1b[J", board.len());
    }
}

fn draw_board(err: &mut impl std::io::Write, board: &[String]) {
    let width = terminal_width();
    for row in board {
        // A row that wrapped would throw the cursor arithmetic off.
        let shown: String = row
            .chars()
            .filter(|c| !c.is_control())
            .take(width.saturating_sub(1))
            .collect();
        let _ = writeln!(err, "{shown}");
    }
    let _ = err.flush();
}

fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills a winsize; the result is checked.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        80
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
