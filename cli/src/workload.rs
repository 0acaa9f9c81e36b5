//! Seeded workloads for `memalloc bench`: sizes, the churn (steady state at a number of
//! live blocks) and the rising fill (fragmentation at the first failure).
//!
//! Sizes are log-uniform in `[1, 65536]`: `floor(exp(u * ln 65537))` with `u` uniform in
//! `[0, 1)`, so every power-of-two octave is about equally likely. Randomness comes from
//! SplitMix64, a generator small enough to live here and fixed forever, so that one seed
//! gives the same requests on every machine and every version. What is random never
//! depends on the addresses an allocator returns: every policy sees the same requests.

use std::time::{Duration, Instant};

use memalloc::{Error, MemoryAllocator, Options, Policy};

/// The largest size drawn.
pub const MAX_SIZE: usize = 65536;

/// The fraction of the capacity that a churn's pre-filled blocks occupy: half, which
/// leaves room for buddy's rounding.
pub const CHURN_FILL: f64 = 0.5;

/// The fill target of the rising-fill workload's first round.
pub const START_FILL: f64 = 0.50;
/// How much the fill target rises per round.
pub const FILL_STEP: f64 = 0.02;
/// The fraction of live blocks freed, at random, after each round.
pub const FREE_FRACTION: f64 = 0.25;

/// SplitMix64: a 64-bit state, one add and a mix per number.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, with 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, n)` (`n > 0`), by multiply and shift.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A log-uniform size in `[1, MAX_SIZE]`.
    pub fn size(&mut self) -> usize {
        let ln_top = ((MAX_SIZE + 1) as f64).ln();
        ((self.unit() * ln_top).exp() as usize).clamp(1, MAX_SIZE)
    }
}

/// One churn step: free the block in `slot` (if it holds one), then allocate `size` into it.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// Index into the live slots, uniform.
    pub slot: u32,
    /// The size of the new block, log-uniform.
    pub size: u32,
}

/// A pre-generated steady-state churn: one slot per live block.
#[derive(Debug, Clone)]
pub struct Churn {
    /// `sum(prefill) / CHURN_FILL`, rounded up.
    pub capacity: usize,
    /// The sizes allocated into slots `0..live` before the churn starts.
    pub prefill: Vec<u32>,
    /// The churn steps, in order: a warm-up, then each repetition's steps.
    pub steps: Vec<Step>,
}

impl Churn {
    /// A churn at `live` blocks (at least 1) with `steps` steps, from `seed`.
    pub fn generate(live: usize, steps: usize, seed: u64) -> Churn {
        let live = live.max(1);
        let mut rng = Rng::new(seed ^ (live as u64).rotate_left(32));
        let prefill: Vec<u32> = (0..live).map(|_| rng.size() as u32).collect();
        let total: u64 = prefill.iter().map(|&s| u64::from(s)).sum();
        let capacity = (total as f64 / CHURN_FILL).ceil() as usize;
        let steps = (0..steps).map(|_| Step { slot: rng.below(live) as u32, size: rng.size() as u32 }).collect();
        Churn { capacity, prefill, steps }
    }
}

/// What one churn measured.
#[derive(Debug, Clone)]
pub struct ChurnRun {
    /// Nanoseconds per step, one value per repetition.
    pub ns_per_op: Vec<f64>,
    /// Allocations that failed (out of memory) during the timed steps.
    pub failed: usize,
}

/// Runs `churn` on a fresh `policy` allocator: the pre-fill and `warmup` steps untimed,
/// then `reps` timed repetitions of `ops` steps each (`churn.steps` holds at least
/// `warmup + reps * ops`). `after_rep` runs after each repetition, outside the timing.
pub fn run_churn(
    policy: Policy,
    churn: &Churn,
    warmup: usize,
    reps: usize,
    ops: usize,
    mut after_rep: impl FnMut(),
) -> ChurnRun {
    let mut heap =
        MemoryAllocator::with_options(Options::new(churn.capacity).policy(policy)).expect("a positive capacity");
    let mut slots: Vec<Option<(usize, usize)>> =
        churn.prefill.iter().map(|&size| heap.allocate(size as usize).ok().map(|addr| (addr, size as usize))).collect();
    let mut failed = 0;
    let mut run = |heap: &mut MemoryAllocator, steps: &[Step]| {
        let mut failures = 0;
        for step in steps {
            let slot = &mut slots[step.slot as usize];
            if let Some((addr, size)) = slot.take() {
                heap.free(addr, size).expect("a live block frees");
            }
            let size = step.size as usize;
            match heap.allocate(size) {
                Ok(addr) => *slot = Some((addr, size)),
                Err(Error::OutOfMemory) => failures += 1,
                Err(error) => panic!("allocate({size}) failed: {error}"),
            }
        }
        failures
    };
    run(&mut heap, &churn.steps[..warmup]);
    let mut ns_per_op = Vec::with_capacity(reps);
    for rep in 0..reps {
        let steps = &churn.steps[warmup + rep * ops..warmup + (rep + 1) * ops];
        let start = Instant::now();
        failed += run(&mut heap, steps);
        let elapsed: Duration = start.elapsed();
        ns_per_op.push(elapsed.as_nanos() as f64 / ops.max(1) as f64);
        after_rep();
    }
    ChurnRun { ns_per_op, failed }
}

/// The rising-fill workload on a fresh `policy` allocator over `[0, capacity)`: round k
/// allocates random sizes until the live sizes add up to `min(0.50 + 0.02 k, 1)` of the
/// capacity, then frees a random quarter of the live blocks; rounds repeat until an
/// allocation fails. Returns the fill at that moment: the sum of the live sizes (as
/// requested, so rounding counts against the allocator) divided by the capacity.
pub fn fill_at_first_failure(policy: Policy, capacity: usize, seed: u64) -> f64 {
    let mut heap = MemoryAllocator::with_options(Options::new(capacity).policy(policy)).expect("a positive capacity");
    let mut rng = Rng::new(seed);
    let mut live: Vec<(usize, usize)> = Vec::new();
    let mut allocated = 0usize;
    let mut target = START_FILL;
    loop {
        while (allocated as f64) < target * capacity as f64 {
            let size = rng.size();
            match heap.allocate(size) {
                Ok(addr) => {
                    live.push((addr, size));
                    allocated += size;
                }
                Err(Error::OutOfMemory) => return allocated as f64 / capacity as f64,
                Err(error) => panic!("allocate({size}) failed: {error}"),
            }
        }
        for _ in 0..(live.len() as f64 * FREE_FRACTION) as usize {
            let (addr, size) = live.swap_remove(rng.below(live.len()));
            heap.free(addr, size).expect("a live block frees");
            allocated -= size;
        }
        target = (target + FILL_STEP).min(1.0);
    }
}

/// The median of `values` (the mean of the middle two for an even count); 0 when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_stay_in_range_and_cover_the_octaves() {
        let mut rng = Rng::new(1);
        let sizes: Vec<usize> = (0..20_000).map(|_| rng.size()).collect();
        assert!(sizes.iter().all(|&s| (1..=MAX_SIZE).contains(&s)));
        assert!(sizes.iter().any(|&s| s < 4) && sizes.iter().any(|&s| s > MAX_SIZE / 2));
        let median = median(&sizes.iter().map(|&s| s as f64).collect::<Vec<_>>());
        assert!((128.0..512.0).contains(&median), "log-uniform median near 256, got {median}");
    }

    #[test]
    fn one_seed_gives_one_workload() {
        let (a, b) = (Churn::generate(100, 50, 7), Churn::generate(100, 50, 7));
        assert_eq!(a.prefill, b.prefill);
        assert!(a.steps.iter().zip(&b.steps).all(|(x, y)| x.slot == y.slot && x.size == y.size));
        assert!(a.steps.iter().all(|s| (s.slot as usize) < 100));
        assert_ne!(Churn::generate(100, 50, 8).prefill, a.prefill);
    }

    #[test]
    fn below_is_in_range() {
        let mut rng = Rng::new(3);
        assert!((0..1000).all(|_| rng.below(7) < 7));
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn churn_and_fill_run_under_every_policy() {
        let churn = Churn::generate(50, 10 + 2 * 20, 1);
        for policy in Policy::ALL {
            let mut reps = 0;
            let run = run_churn(policy, &churn, 10, 2, 20, || reps += 1);
            assert_eq!((run.ns_per_op.len(), reps), (2, 2));
            let fill = fill_at_first_failure(policy, 1 << 20, 1);
            assert!(fill > 0.3 && fill <= 1.0, "{policy}: fill {fill}");
        }
    }
}
