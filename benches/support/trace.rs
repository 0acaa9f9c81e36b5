//! Seeded random workloads shared by the benchmarks and `examples/metadata.rs`.
//!
//! Sizes are log-uniform in `[1, max]`: `floor(exp(u * ln(max + 1)))` with `u` uniform in
//! `[0, 1)`, so every power-of-two octave is equally likely. `max` is [`MAX_SIZE`] (65536:
//! mean about 5,900 units, median 256) up to 100k live blocks, and [`MAX_SIZE_1M`] (4096)
//! from a million on ([`max_size_for`]), so that the heap stays below 2^32 units and the
//! O(1) crates with 32-bit offsets run there too. A [`ChurnTrace`] is everything random
//! about a steady-state churn run, generated before any timing starts: the `n` pre-fill
//! sizes, the capacity that makes them a given fraction of the heap, and a stream of (slot
//! to free, size to allocate) pairs.
//!
//! Included by `#[path]` into several binaries, each of which uses part of it.

#![allow(dead_code)]

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The largest size drawn, up to 100k live blocks.
pub const MAX_SIZE: u32 = 65536;

/// The largest size drawn from a million live blocks on: 1M blocks of up to 65536 units
/// need a heap of about 2^33 units, past the 32-bit offsets of `offset-allocator` and
/// `xalloc::SysTlsf<u32>`; up to 4096 they need about 2^29.6.
pub const MAX_SIZE_1M: u32 = 4096;

/// The largest size drawn at `n` live blocks.
pub fn max_size_for(n: usize) -> u32 {
    if n >= 1_000_000 { MAX_SIZE_1M } else { MAX_SIZE }
}

/// The seed of every churn trace, so that runs are repeatable.
pub const CHURN_SEED: u64 = 0x6d65_6d61_6c6c_6f63;

/// The fraction of the capacity that the `n` pre-filled blocks occupy, unless
/// `MEMALLOC_BENCH_FILL` (a number in `(0, 1)`) says otherwise.
pub const DEFAULT_FILL: f64 = 0.75;

/// The fill fraction to use: `MEMALLOC_BENCH_FILL` if set and valid, else [`DEFAULT_FILL`].
pub fn fill_from_env() -> f64 {
    std::env::var("MEMALLOC_BENCH_FILL")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|f| *f > 0.0 && *f < 1.0)
        .unwrap_or(DEFAULT_FILL)
}

/// One log-uniform size in `[1, MAX_SIZE]`.
pub fn log_uniform(rng: &mut SmallRng) -> u32 {
    log_uniform_up_to(rng, MAX_SIZE)
}

/// One log-uniform size in `[1, max]`.
pub fn log_uniform_up_to(rng: &mut SmallRng, max: u32) -> u32 {
    let ln_max = f64::from(max + 1).ln();
    // exp of [0, ln(max + 1)) is in [1, max + 1): the floor is in [1, max].
    (rng.random::<f64>() * ln_max).exp().clamp(1.0, f64::from(max)) as u32
}

/// One churn step: free the block held in `slot` (if any), then allocate `size` into it.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    /// Index into the `n` live slots, uniform.
    pub slot: u32,
    /// The size of the new block, log-uniform.
    pub size: u32,
}

/// A pre-generated steady-state churn workload at `n` live blocks.
#[derive(Debug, Clone)]
pub struct ChurnTrace {
    /// The number of live blocks (slots).
    pub n: usize,
    /// `ceil(sum(prefill) / fill)`: after the pre-fill the heap is `fill` full.
    pub capacity: usize,
    /// The sizes allocated into slots `0..n` before the churn starts.
    pub prefill: Vec<u32>,
    /// The churn steps, replayed cyclically.
    pub ops: Vec<Op>,
}

impl ChurnTrace {
    /// `n` pre-fill sizes and `ops_len` churn steps from `seed`, sizes up to
    /// [`max_size_for`]`(n)`, capacity sized for `fill`.
    pub fn new(n: usize, ops_len: usize, fill: f64, seed: u64) -> Self {
        let max = max_size_for(n);
        let mut rng = SmallRng::seed_from_u64(seed ^ n as u64);
        let prefill: Vec<u32> = (0..n).map(|_| log_uniform_up_to(&mut rng, max)).collect();
        let slots = u32::try_from(n).expect("slot indices fit in u32");
        let ops = (0..ops_len)
            .map(|_| Op { slot: rng.random_range(0..slots), size: log_uniform_up_to(&mut rng, max) })
            .collect();
        let live: u64 = prefill.iter().map(|&s| u64::from(s)).sum();
        let capacity = (live as f64 / fill).ceil() as usize;
        ChurnTrace { n, capacity, prefill, ops }
    }
}

/// A short label for a block count: `1k`, `10k`, `100k`, `1M`.
pub fn label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}
