//! gzip compressed in parallel, in pigz's scheme: the input is cut into fixed 1 MiB
//! blocks, each block is raw deflate primed with the previous block's last 32 KiB (so
//! matches reach back as in one stream) and ended by a sync flush; the blocks are
//! written in order between one gzip header and one trailer.
//!
//! The bytes depend only on the input, the level and the block size: never on how many
//! threads compress, so `-j1` and `-jN` give the same digest. One layer uses every core
//! instead of one, which is what makes a single large platform as fast as several.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, FlushCompress, Status};

pub const BLOCK: usize = 1 << 20;
const WINDOW: usize = 32 << 10;

/// gzip header: no name, no mtime, no extra flags, OS "unknown" (255).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

struct Job {
    index: usize,
    data: Vec<u8>,
    dictionary: Vec<u8>,
    last: bool,
}

type Done = (usize, io::Result<Vec<u8>>);

pub struct ParallelGzip<W: Write> {
    out: W,
    level: u32,
    block: Vec<u8>,
    dictionary: Vec<u8>,
    crc: crc32fast::Hasher,
    size: u64,
    submitted: usize,
    written: usize,
    ready: BTreeMap<usize, io::Result<Vec<u8>>>,
    pool: Option<Pool>,
}

struct Pool {
    jobs: mpsc::SyncSender<Job>,
    done: mpsc::Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    in_flight_max: usize,
}

impl<W: Write> ParallelGzip<W> {
    /// `threads` compress at once (1: all in the calling thread).
    pub fn new(mut out: W, level: u32, threads: usize) -> io::Result<Self> {
        out.write_all(&HEADER)?;
        let pool = (threads > 1)
            .then(|| Pool::start(threads, level))
            .transpose()?;
        Ok(ParallelGzip {
            out,
            level,
            block: Vec::with_capacity(BLOCK),
            dictionary: Vec::new(),
            crc: crc32fast::Hasher::new(),
            size: 0,
            submitted: 0,
            written: 0,
            ready: BTreeMap::new(),
            pool,
        })
    }

    /// Compresses what is left, writes the trailer, and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.submit(true)?;
        while self.written < self.submitted {
            self.write_next()?;
        }
        if let Some(pool) = self.pool.take() {
            drop(pool.jobs);
            for w in pool.workers {
                let _ = w.join();
            }
        }
        let crc = self.crc.clone().finalize();
        self.out.write_all(&crc.to_le_bytes())?;
        // ISIZE is the size modulo 2^32, as the format defines it.
        self.out.write_all(&(self.size as u32).to_le_bytes())?;
        Ok(self.out)
    }

    fn submit(&mut self, last: bool) -> io::Result<()> {
        let data = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK));
        let tail = data.len().saturating_sub(WINDOW);
        let dictionary = std::mem::replace(&mut self.dictionary, data[tail..].to_vec());
        let job = Job {
            index: self.submitted,
            data,
            dictionary,
            last,
        };
        self.submitted += 1;
        match &self.pool {
            None => {
                let compressed = compress(&job, self.level);
                self.ready.insert(job.index, compressed);
                self.write_next()
            }
            Some(pool) => {
                let in_flight_max = pool.in_flight_max;
                pool.jobs
                    .send(job)
                    .map_err(|_| io::Error::other("a compression thread stopped"))?;
                while self.submitted - self.written > in_flight_max {
                    self.write_next()?;
                }
                Ok(())
            }
        }
    }

    /// Writes the next block in order, waiting for it if needed.
    fn write_next(&mut self) -> io::Result<()> {
        while !self.ready.contains_key(&self.written) {
            let pool = self
                .pool
                .as_ref()
                .ok_or_else(|| io::Error::other("block lost"))?;
            let (index, result) = pool
                .done
                .recv()
                .map_err(|_| io::Error::other("a compression thread stopped"))?;
            self.ready.insert(index, result);
        }
        if let Some(result) = self.ready.remove(&self.written) {
            self.out.write_all(&result?)?;
        }
        self.written += 1;
        Ok(())
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let take = (BLOCK - self.block.len()).min(buf.len());
        self.block.extend_from_slice(&buf[..take]);
        self.crc.update(&buf[..take]);
        self.size += take as u64;
        if self.block.len() == BLOCK {
            self.submit(false)?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Pool {
    fn start(threads: usize, level: u32) -> io::Result<Pool> {
        let (jobs, job_rx) = mpsc::sync_channel::<Job>(threads);
        let (done_tx, done) = mpsc::channel::<Done>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let workers = (0..threads)
            .map(|_| {
                let job_rx = job_rx.clone();
                let done_tx = done_tx.clone();
                std::thread::Builder::new().spawn(move || loop {
                    let job = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    // A panic must not lose a block: the writer would wait for it forever.
                    let result = std::panic::catch_unwind(|| compress(&job, level))
                        .unwrap_or_else(|_| Err(io::Error::other("a compression thread panicked")));
                    if done_tx.send((job.index, result)).is_err() {
                        return;
                    }
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Pool {
            jobs,
            done,
            workers,
            in_flight_max: threads * 2,
        })
    }
}

/// One block as raw deflate: primed with the dictionary, ended by a sync flush (byte
/// aligned, so blocks concatenate) or, for the last, by the final block.
fn compress(job: &Job, level: u32) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(Compression::new(level), false);
    if !job.dictionary.is_empty() {
        c.set_dictionary(&job.dictionary)
            .map_err(io::Error::other)?;
    }
    let flush = if job.last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(job.data.len() / 2 + 1024);
    loop {
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&job.data[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = c.total_in() as usize == job.data.len();
        let room_left = out.len() < out.capacity();
        match status {
            Status::StreamEnd => return Ok(out),
            _ if !job.last && all_in && room_left => return Ok(out),
            _ => out.reserve(out.capacity().max(64 << 10)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(len: usize) -> Vec<u8> {
        let mut seed = 1u64;
        (0..len)
            .map(|i| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Half text-like, half noise: both paths of the matcher.
                if (i / 70_000) % 2 == 0 {
                    b"abcdefgh"[(seed >> 61) as usize]
                } else {
                    (seed >> 56) as u8
                }
            })
            .collect()
    }

    fn gzip(data: &[u8], threads: usize, chunk: usize) -> Vec<u8> {
        let mut z = ParallelGzip::new(Vec::new(), 6, threads).unwrap();
        for piece in data.chunks(chunk.max(1)) {
            z.write_all(piece).unwrap();
        }
        z.finish().unwrap()
    }

    #[test]
    fn same_bytes_for_any_thread_count_and_a_valid_gzip() {
        for len in [0, 1, BLOCK - 1, BLOCK, 3 * BLOCK + 12_345] {
            let data = sample(len);
            let one = gzip(&data, 1, 4096);
            assert_eq!(one, gzip(&data, 3, 100_000), "len {len}");
            assert_eq!(one, gzip(&data, 2, 7), "len {len}");
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&one[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "len {len}");
        }
    }
}
