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

/// Runs `work` on every item, at most `jobs` at a time, taken in the items' order by
/// whichever thread is free, and hands each result to `then` on the calling thread in
/// the items' order as soon as it and all before it are done: later items keep working
/// while `then` is busy with earlier ones, at most `4 × jobs` items ahead of it (each
/// result may hold a file open). The first error, from `work` or `then`, stops new items
/// from starting and is returned once the running ones end.
pub fn pipeline<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> Result<R> + Sync,
    mut then: impl FnMut(&T, R) -> Result<()>,
) -> Result<()> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let jobs = budget(jobs);
    let ahead = 4 * jobs;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // How many results `then` has taken, and the wake-up for workers waiting on it.
    let handed = (std::sync::Mutex::new(0usize), std::sync::Condvar::new());
    let halt = || {
        stop.store(true, Ordering::SeqCst);
        handed.1.notify_all();
    };
    let (send, done) = std::sync::mpsc::channel::<(usize, Result<R>)>();
    std::thread::scope(|s| {
        for _ in 0..jobs.min(items.len()) {
            let send = send.clone();
            let (next, stop, work, handed) = (&next, &stop, &work, &handed);
            let worker = move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= items.len() || stop.load(Ordering::SeqCst) {
                    break;
                }
                let mut taken = handed.0.lock().unwrap_or_else(|e| e.into_inner());
                while i >= *taken + ahead && !stop.load(Ordering::SeqCst) {
                    taken = handed.1.wait(taken).unwrap_or_else(|e| e.into_inner());
                }
                drop(taken);
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let result =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&items[i])))
                        .unwrap_or_else(|_| Err(anyhow!("a worker thread panicked")));
                if send.send((i, result)).is_err() {
                    break;
                }
            };
            if let Err(e) = std::thread::Builder::new().spawn_scoped(s, worker) {
                halt();
                return Err(anyhow!("cannot start a thread ({e}); use a smaller -j"));
            }
        }
        drop(send);
        let mut ready = std::collections::BTreeMap::new();
        for (wanted, item) in items.iter().enumerate() {
            let result = loop {
                if let Some(r) = ready.remove(&wanted) {
                    break r;
                }
                match done.recv() {
                    Ok((i, r)) => {
                        ready.insert(i, r);
                    }
                    Err(_) => break Err(anyhow!("a worker thread ended without its result")),
                }
            };
            if let Err(e) = result.and_then(|r| then(item, r)) {
                halt();
                return Err(e);
            }
            *handed.0.lock().unwrap_or_else(|e| e.into_inner()) = wanted + 1;
            handed.1.notify_all();
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::bail;
    use std::sync::atomic::{AtomicUsize, Ordering};

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

    #[test]
    fn a_pipeline_hands_results_on_in_order_and_stops_at_the_first_error() {
        let items: Vec<u64> = (0..20).collect();
        let mut seen = Vec::new();
        // Later items finish first; `then` still sees them in order.
        pipeline(
            &items,
            4,
            |&i| {
                std::thread::sleep(std::time::Duration::from_millis(20 - i));
                Ok(i * 10)
            },
            |&i, r| {
                assert_eq!(r, i * 10);
                seen.push(i);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, items);
        // Workers never run more than 4 × jobs ahead of `then`.
        let furthest = AtomicUsize::new(0);
        let mut taken = 0;
        pipeline(
            &items,
            1,
            |&i| {
                furthest.fetch_max(i as usize, Ordering::SeqCst);
                Ok(())
            },
            |&i, ()| {
                std::thread::sleep(std::time::Duration::from_millis(5));
                assert!(
                    furthest.load(Ordering::SeqCst) < taken + 4 + 1,
                    "ran ahead at {i}"
                );
                taken += 1;
                Ok(())
            },
        )
        .unwrap();
        let started = AtomicUsize::new(0);
        let err = pipeline(
            &items,
            1,
            |&i| {
                started.fetch_add(1, Ordering::SeqCst);
                if i == 3 {
                    bail!("item 3 failed")
                }
                std::thread::sleep(std::time::Duration::from_millis(if i > 3 { 50 } else { 0 }));
                Ok(())
            },
            |_, _| Ok(()),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "item 3 failed");
        assert!(
            started.load(Ordering::SeqCst) < items.len(),
            "no new work after the error"
        );
        let err = pipeline(
            &items,
            2,
            |_| -> Result<()> { panic!("boom") },
            |_, _| Ok(()),
        );
        assert!(err.is_err());
        let err = pipeline(
            &items,
            2,
            |_| Ok(()),
            |&i, _| if i == 5 { bail!("then failed") } else { Ok(()) },
        );
        assert_eq!(err.unwrap_err().to_string(), "then failed");
    }
}
