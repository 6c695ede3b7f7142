//! Work in parallel within one bounded budget: `-j` says how many threads a command may
//! keep busy, capped at `MAX_JOBS` however large the number asked, and shared between
//! levels (platforms at once × compression threads per layer stays within it).

use anyhow::{anyhow, Result};

/// The most threads a command starts for itself, whatever `-j` says.
pub const MAX_JOBS: usize = 64;

/// `-j N` as a budget: 1 to `MAX_JOBS`.
pub fn budget(asked: usize) -> usize {
    asked.clamp(1, MAX_JOBS)
}

/// Runs `f` on every item, at most `jobs` at a time, each in its own scoped thread;
/// results in the items' order. A thread that cannot start or that panics is an error
/// for its item, never a panic here.
pub fn each<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Vec<Result<R>> {
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(budget(jobs)) {
        std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|item| std::thread::Builder::new().spawn_scoped(s, || f(item)))
                .collect();
            for h in handles {
                out.push(match h {
                    Ok(h) => h
                        .join()
                        .unwrap_or_else(|_| Err(anyhow!("a worker thread panicked"))),
                    Err(e) => Err(anyhow!("cannot start a thread ({e}); use a smaller -j")),
                });
            }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_in_order_and_budget_capped() {
        let items: Vec<u32> = (0..10).collect();
        let out: Vec<u32> = each(&items, 3, |i| Ok(i * 2))
            .into_iter()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(out, (0..10).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(budget(0), 1);
        assert_eq!(budget(1_000_000), MAX_JOBS);
        let failed = each(&[1], 1, |_| -> Result<()> { panic!("boom") });
        assert!(failed[0].is_err());
    }
}
