//! A progress-based deadline: a body must average at least `min_rate` bytes per second
//! over every window of `window`, or its read fails (and the caller retries). The
//! per-read timeout catches a silent peer; this catches one that sends a byte a second.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::env_vars as ev;

#[derive(Debug, Clone, Copy)]
pub struct Floor {
    pub min_rate: u64,
    pub window: Duration,
}

impl Floor {
    pub const DEFAULT: Floor = Floor {
        min_rate: 1024,
        window: Duration::from_secs(30),
    };

    /// `XX_NET_MIN_RATE` (bytes per second) and `XX_NET_RATE_WINDOW` (seconds).
    pub fn from_context(ctx: &Context) -> Floor {
        let number = |name| ctx.var(name).and_then(|v| v.parse::<u64>().ok());
        Floor {
            min_rate: number(ev::XX_NET_MIN_RATE).unwrap_or(Floor::DEFAULT.min_rate),
            window: number(ev::XX_NET_RATE_WINDOW)
                .filter(|&s| s > 0)
                .map_or(Floor::DEFAULT.window, Duration::from_secs),
        }
    }

    pub fn watch<R: Read>(self, inner: R) -> Watched<R> {
        Watched {
            inner,
            floor: self,
            started: Instant::now(),
            in_window: 0,
        }
    }
}

pub struct Watched<R> {
    inner: R,
    floor: Floor,
    started: Instant,
    in_window: u64,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.in_window += n as u64;
        let elapsed = self.started.elapsed();
        if n > 0 && elapsed >= self.floor.window {
            let wanted = self.floor.min_rate.saturating_mul(elapsed.as_secs().max(1));
            if self.in_window < wanted {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "too slow: {} bytes in {} s, under {} bytes/s (XX_NET_MIN_RATE)",
                        self.in_window,
                        elapsed.as_secs(),
                        self.floor.min_rate
                    ),
                ));
            }
            self.started = Instant::now();
            self.in_window = 0;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One byte per read, each after a pause.
    struct Drip(Duration);

    impl Read for Drip {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            std::thread::sleep(self.0);
            buf[0] = b'x';
            Ok(1)
        }
    }

    #[test]
    fn a_dripping_peer_fails_within_about_a_window() {
        let floor = Floor {
            min_rate: 100,
            window: Duration::from_millis(200),
        };
        let start = Instant::now();
        let mut buf = [0u8; 8];
        let mut r = floor.watch(Drip(Duration::from_millis(20)));
        let err = loop {
            if let Err(e) = r.read(&mut buf) {
                break e;
            }
            assert!(start.elapsed() < Duration::from_secs(5), "no deadline");
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.to_string().contains("too slow"), "{err}");
    }

    #[test]
    fn a_fast_body_passes() {
        let mut out = Vec::new();
        Floor::DEFAULT
            .watch(&[7u8; 100_000][..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), 100_000);
    }
}
