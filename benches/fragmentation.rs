//! Fragmentation (not timed): how full can each allocator get before its first failed
//! allocation, under a workload that frees at random and fills ever higher?
//!
//! Capacity 2^26 units, sizes log-uniform in `[1, 65536]` (`support/trace.rs`). Round k
//! allocates random sizes until the live sizes add up to `min(0.50 + 0.02 k, 1)` of the
//! capacity, then frees a random quarter of the live blocks; rounds repeat until an
//! allocation fails. The result is the fill at that moment: the sum of the live sizes
//! (as requested, so rounding such as buddy's counts against the allocator) divided by the
//! capacity. The random stream depends only on sizes and counts, never on addresses, so
//! every allocator sees exactly the same requests and frees up to its own first failure.
//! One run per seed (1..=9); the table gives the median and the range.
//!
//! Allocators: every policy in `Policy::ALL` (Rust API), the reference O(n) first fit
//! (which must agree with first fit exactly; checked), `offset-allocator` and `range-alloc`.
//!
//! Run: `cargo bench -p memalloc --bench fragmentation`; it prints a markdown table.
//! Under `cargo test` (no `--bench` argument) it runs one seed as a smoke test.

#[path = "support/subjects.rs"]
mod subjects;
#[path = "support/trace.rs"]
mod trace;

use memalloc::Policy;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use subjects::{OffsetAlloc, RangeAlloc, Reference, RustApi, Subject};
use trace::log_uniform;

/// The managed range is `[0, CAPACITY)`.
const CAPACITY: usize = 1 << 26;

/// The fill target of the first round.
const START_FILL: f64 = 0.50;

/// How much the fill target rises per round.
const FILL_STEP: f64 = 0.02;

/// The fraction of live blocks freed (at random) after each round.
const FREE_FRACTION: f64 = 0.25;

/// The seeds of the runs; the table reports their median.
const SEEDS: std::ops::RangeInclusive<u64> = 1..=9;

/// Runs the rising-fill workload from `seed` on `subject`; returns the fill (live sizes /
/// capacity) when the first allocation fails.
fn fill_at_first_failure<S: Subject>(mut subject: S, seed: u64) -> f64 {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut live: Vec<(S::Handle, u32)> = Vec::new();
    let mut allocated = 0u64;
    let mut target = START_FILL;
    loop {
        while (allocated as f64) < target * CAPACITY as f64 {
            let size = log_uniform(&mut rng);
            match subject.allocate(size) {
                Some(handle) => {
                    live.push((handle, size));
                    allocated += u64::from(size);
                }
                None => return allocated as f64 / CAPACITY as f64,
            }
        }
        for _ in 0..(live.len() as f64 * FREE_FRACTION) as usize {
            let (handle, size) = live.swap_remove(rng.random_range(0..live.len()));
            subject.free(handle);
            allocated -= u64::from(size);
        }
        target = (target + FILL_STEP).min(1.0);
    }
}

/// One allocator's results over the seeds.
struct Row {
    name: String,
    fills: Vec<f64>,
}

impl Row {
    fn run<S: Subject>(name: &str, seeds: &[u64], make: impl Fn() -> S) -> Row {
        Row { name: name.to_owned(), fills: seeds.iter().map(|&seed| fill_at_first_failure(make(), seed)).collect() }
    }

    fn median(&self) -> f64 {
        let mut sorted = self.fills.clone();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 }
    }

    fn min(&self) -> f64 {
        self.fills.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn max(&self) -> f64 {
        self.fills.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--test");
    let seeds: Vec<u64> = if smoke { vec![*SEEDS.start()] } else { SEEDS.collect() };

    let mut rows: Vec<Row> = Policy::ALL
        .into_iter()
        .map(|policy| Row::run(policy.name(), &seeds, || RustApi::new(CAPACITY, policy)))
        .collect();
    let reference = Row::run("reference", &seeds, || Reference::new(CAPACITY));
    if let Some(first_fit) = rows.iter().find(|r| r.name == Policy::FirstFit.name()) {
        assert_eq!(first_fit.fills, reference.fills, "first fit must fail exactly where the reference does");
    }
    rows.push(reference);
    rows.push(Row::run("offset-allocator", &seeds, || {
        OffsetAlloc::new(CAPACITY, 1 << 20).expect("2^26 units fit in u32")
    }));
    rows.push(Row::run("range-alloc", &seeds, || RangeAlloc::new(CAPACITY)));

    println!(
        "Fill (live sizes / capacity) at the first failed allocation; capacity 2^26, sizes log-uniform in [1, 65536], \
         fill target {START_FILL} rising by {FILL_STEP} per round, {:.0}% of live blocks freed at random between \
         rounds; seeds {}..={}.\n",
        FREE_FRACTION * 100.0,
        seeds[0],
        seeds[seeds.len() - 1],
    );
    println!("| allocator | median fill at first failure | min | max |");
    println!("|---|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {:.1}% | {:.1}% | {:.1}% |",
            row.name,
            row.median() * 100.0,
            row.min() * 100.0,
            row.max() * 100.0
        );
    }
}
