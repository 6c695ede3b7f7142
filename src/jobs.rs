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
    each_sharing(items, jobs, |item, _| f(item))
}

/// As [`each`], and each item gets its share of the budget for threads of its own
/// (`f(item, share)`): the budget split over the items running at that moment, so the
/// last, smaller group gets more each and the total stays within `-j`.
pub fn each_sharing<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T, usize) -> Result<R> + Sync,
) -> Vec<Result<R>> {
    let jobs = budget(jobs);
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(jobs) {
        let share = (jobs / chunk.len()).max(1);
        let f = &f;
        std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|item| std::thread::Builder::new().spawn_scoped(s, move || f(item, share)))
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
        let shares: Vec<usize> = each_sharing(&[1, 2, 3], 4, |_, share| Ok(share))
            .into_iter()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(shares, [1, 1, 1]);
        let shares: Vec<usize> = each_sharing(&[1, 2, 3], 2, |_, share| Ok(share))
            .into_iter()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(
            shares,
            [1, 1, 2],
            "the last platform alone gets the whole budget"
        );
    }
}
