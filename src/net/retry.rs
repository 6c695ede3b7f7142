//! Retries with backoff: an attempt fails for good (`Fatal`) or is worth another try
//! (`Retry`: 5xx, 429, a dropped or too slow connection).

use std::time::Duration;

use anyhow::anyhow;

/// An error worth another attempt or not.
pub enum Failure {
    Retry(anyhow::Error),
    Fatal(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Fatal(e)
    }
}

pub type Attempt<T> = std::result::Result<T, Failure>;

pub const ATTEMPTS: u32 = 5;

/// Runs `attempt` until it succeeds, fails for good, or runs out of attempts (backoff
/// 0.25 s, 0.5 s, 1 s, 2 s). The last error says `WHAT on WHERE failed 5 times (HINT)`.
pub fn retrying<T>(
    what: &str,
    place: &str,
    hint: &str,
    mut attempt: impl FnMut() -> Attempt<T>,
) -> anyhow::Result<T> {
    let mut delay = Duration::from_millis(250);
    for n in 1..=ATTEMPTS {
        match attempt() {
            Ok(v) => return Ok(v),
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Retry(e)) if n == ATTEMPTS => {
                return Err(e.context(format!(
                    "{what} on {place} failed {ATTEMPTS} times ({hint})"
                )));
            }
            Err(Failure::Retry(e)) => {
                crate::progress::note(&format!("{what}: {e:#}; retrying in {delay:?}"));
                std::thread::sleep(delay);
                delay *= 2;
            }
        }
    }
    Err(anyhow!("{what}: no attempt made"))
}
