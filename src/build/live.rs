//! What `xx build` shows while it works: on a terminal one line per platform, redrawn
//! in place (waiting, building for how long and the last line of its log, the outcome);
//! elsewhere a line when a platform starts and one when it ends.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::progress::Board;

/// How often a terminal's lines are redrawn.
const TICK: Duration = Duration::from_millis(250);
/// The bytes of a log read for its last line.
const LOG_TAIL: u64 = 512;

enum State {
    Waiting,
    Building(Instant),
    Done,
}

struct Row {
    platform: String,
    log: PathBuf,
    state: State,
}

pub struct Live {
    board: Option<Board>,
    rows: Mutex<Vec<Row>>,
    stop: AtomicBool,
}

impl Live {
    /// `platforms` with their log files, in the order shown.
    pub fn new(platforms: Vec<(String, PathBuf)>) -> Live {
        let board = crate::progress::board(
            platforms
                .iter()
                .map(|(p, _)| format!("{p:<16} waiting"))
                .collect(),
        );
        let rows = platforms
            .into_iter()
            .map(|(platform, log)| Row {
                platform,
                log,
                state: State::Waiting,
            })
            .collect();
        Live {
            board,
            rows: Mutex::new(rows),
            stop: AtomicBool::new(false),
        }
    }

    pub fn started(&self, i: usize) {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        let Some(row) = rows.get_mut(i) else { return };
        row.state = State::Building(Instant::now());
        if self.board.is_none() {
            crate::progress::note(&format!(
                "{}: building (log: {})",
                row.platform,
                row.log.display()
            ));
        }
    }

    pub fn finished(&self, i: usize, summary: String) {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        let Some(row) = rows.get_mut(i) else { return };
        match &self.board {
            Some(board) => board.set(i, format!("{:<16} {summary}", row.platform)),
            None => crate::progress::note(&format!("{}: {summary}", row.platform)),
        }
        row.state = State::Done;
    }

    /// Redraws the building rows until `end` is called (a terminal only).
    pub fn run_ticker(&self) {
        let Some(board) = &self.board else { return };
        while !self.stop.load(Ordering::Relaxed) {
            let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
            for (i, row) in rows.iter().enumerate() {
                if let State::Building(since) = row.state {
                    let last = last_line(&row.log).unwrap_or_default();
                    let secs = since.elapsed().as_secs();
                    board.set(
                        i,
                        format!("{:<16} building {secs:>4}s  {last}", row.platform),
                    );
                }
            }
            drop(rows);
            std::thread::sleep(TICK);
        }
    }

    pub fn end(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The last `max` bytes of a log as text (any bytes: a build prints what it likes).
pub fn log_tail(log: &Path, max: u64) -> Option<String> {
    let mut file = std::fs::File::open(log).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(max))).ok()?;
    let mut tail = Vec::new();
    file.take(max).read_to_end(&mut tail).ok()?;
    Some(String::from_utf8_lossy(&tail).into_owned())
}

/// The last non-empty line of a log, from its last bytes only.
fn last_line(log: &Path) -> Option<String> {
    let text = log_tail(log, LOG_TAIL)?;
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}
