//! Steady-state churn: the time of one "free a random live block, allocate a new one"
//! pair, at N = 1k, 10k, 100k and 1M live blocks, every allocator side by side.
//!
//! For each N one trace is generated before anything is timed (`support/trace.rs`, fixed
//! seed): N pre-fill sizes, log-uniform in `[1, 65536]` (in `[1, 4096]` at N = 1M, so that
//! the heap fits the 32-bit offsets of the O(1) crates); the capacity
//! `ceil(sum(pre-fill sizes) / 0.75)`, so that the heap is 75% full at N live blocks (set
//! `MEMALLOC_BENCH_FILL` to change the fraction); and 2^20 steps (slot to free, uniform;
//! size to allocate, log-uniform), replayed cyclically. Every variant starts from the
//! pre-fill, runs N untimed steps to settle into its steady state, and then criterion
//! times runs of consecutive steps with `iter_custom`: the timed loop only reads the next
//! step and calls the allocator. A failed allocation (out of memory) leaves its slot empty
//! and is counted; the counts are printed at the end. They are 0 from N = 10k on, except
//! for buddy, whose power-of-two rounding takes a 75%-full heap to about 104% of its
//! footprint (0.5-3% of its requests fail); at N = 1k the heap is only about 120 times the
//! largest request and every allocator fails about 1% of requests.
//!
//! Variants, in one criterion group per N (`churn-1k` ... `churn-1M`):
//! - every policy in `Policy::ALL`, through the Rust API (named by the policy);
//! - `first-fit-c-api`: first fit through `ma_alloc`/`ma_free` (NULL checks, lock, panic
//!   boundary), to show what the C layer costs;
//! - `reference`: the O(n) first-fit port of `memalloc_models::reference`, and
//!   `range-alloc` (wgpu; a sorted `Vec`, best fit by linear scan): both O(n), run up to
//!   N = 100k only (about 20-50 µs a step there; at 1M the N settling steps alone would
//!   take minutes);
//! - `offset-allocator` (Bevy's O(1) bins; exact sizes are rounded to 256 bin classes when
//!   searching) and `xalloc-tlsf` (`xalloc::SysTlsf<u32>`, a TLSF with region handles):
//!   the O(1) range allocators that memalloc's TLSF and buddy are measured against; both
//!   check nothing on free (they take back a handle, not an address and size);
//! - `harness-only`: the same steps with no allocator behind them, so that the driver's
//!   own share of every other variant's time is visible (at 1M its slot array alone is
//!   24 MB, and each step reads a random slot of it).
//!
//! A second group, `placement-100k`, times first fit and best fit with every request
//! restricted to one half of the heap (`allocate_with` with a range, the lower and the
//! upper half in turn) and with every request top-down, beside the same policy placing
//! plainly, on the same trace.
//!
//! The clock is the wall clock; with `MEMALLOC_BENCH_CLOCK=cpu` it is the thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), which leaves out the time spent waiting for a core: use it
//! on a machine shared with other work, and say so when quoting its numbers.
//!
//! Run: `cargo bench -p memalloc --bench churn` (criterion options after `--`, e.g.
//! `-- --warm-up-time 1 --measurement-time 3 --sample-size 10`), then
//! `python3 benches/summarize.py` for the markdown table and ratios. Under `cargo test`
//! (no `--bench` argument) it runs once at N = 1k as a smoke test.

#[path = "support/subjects.rs"]
mod subjects;
#[path = "support/trace.rs"]
mod trace;

use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use memalloc::Policy;

use subjects::{
    CApi, Churn, HarnessOnly, OffsetAlloc, Placement, RangeAlloc, Reference, RustApi, RustApiPlaced, Subject,
    XallocTlsf,
};
use trace::{CHURN_SEED, ChurnTrace, fill_from_env, label};

/// The numbers of live blocks benchmarked.
const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// The O(n) allocators (reference, range-alloc) run up to this many live blocks.
const LINEAR_MAX_N: usize = 100_000;

/// The number of live blocks of the placement group.
const PLACEMENT_N: usize = 100_000;

/// Steps per trace, replayed cyclically.
const OPS_LEN: usize = 1 << 20;

/// What times a run of steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clock {
    /// `Instant`: elapsed real time.
    Wall,
    /// The calling thread's CPU time (Unix only).
    ThreadCpu,
}

impl Clock {
    /// `MEMALLOC_BENCH_CLOCK=cpu` selects [`Clock::ThreadCpu`] where it exists.
    fn from_env() -> Clock {
        match std::env::var("MEMALLOC_BENCH_CLOCK").as_deref() {
            Ok("cpu") if cfg!(unix) => Clock::ThreadCpu,
            _ => Clock::Wall,
        }
    }

    /// Runs `f` and returns the time it took on this clock.
    fn time(self, f: impl FnOnce()) -> Duration {
        match self {
            Clock::Wall => {
                let start = Instant::now();
                f();
                start.elapsed()
            }
            Clock::ThreadCpu => {
                let start = thread_cpu_time();
                f();
                thread_cpu_time().saturating_sub(start)
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            Clock::Wall => "wall clock",
            Clock::ThreadCpu => "thread CPU time",
        }
    }
}

/// The CPU time this thread has used.
#[cfg(unix)]
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable `timespec`, and CLOCK_THREAD_CPUTIME_ID is a clock
    // that every supported Unix provides.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(not(unix))]
fn thread_cpu_time() -> Duration {
    unreachable!("Clock::from_env selects the thread CPU clock on Unix only")
}

/// What one variant did, for the summary printed at the end.
struct Outcome {
    group: String,
    variant: String,
    steps: u64,
    failures: u64,
}

/// Registers one variant in `group`: the allocator from `make`, pre-filled and settled
/// on first use (untimed), then timed over consecutive steps of `trace`.
fn bench_variant<S: Subject>(
    (group, group_name): (&mut BenchmarkGroup<'_, WallTime>, &str),
    name: &str,
    trace: &ChurnTrace,
    make: impl Fn() -> S,
    clock: Clock,
    outcomes: &mut Vec<Outcome>,
) {
    let mut state: Option<Churn<S>> = None;
    group.bench_function(name, |b| {
        let churn = state.get_or_insert_with(|| {
            let mut churn = Churn::prefill(make(), trace);
            churn.run(&trace.ops, trace.n as u64);
            churn
        });
        b.iter_custom(|iters| clock.time(|| churn.run(&trace.ops, iters)));
    });
    if let Some(churn) = state {
        outcomes.push(Outcome {
            group: group_name.to_owned(),
            variant: name.to_owned(),
            steps: churn.steps,
            failures: churn.failures,
        });
    }
}

/// One criterion group: every variant at `n` live blocks.
fn bench_n(c: &mut Criterion, n: usize, fill: f64, clock: Clock, outcomes: &mut Vec<Outcome>) {
    let trace = ChurnTrace::new(n, OPS_LEN, fill, CHURN_SEED);
    let capacity = trace.capacity;
    let group_name = format!("churn-{}", label(n));
    let mut group = c.benchmark_group(&group_name);
    for policy in Policy::ALL {
        bench_variant(
            (&mut group, &group_name),
            policy.name(),
            &trace,
            || RustApi::new(capacity, policy),
            clock,
            outcomes,
        );
    }
    bench_variant((&mut group, &group_name), "first-fit-c-api", &trace, || CApi::new(capacity), clock, outcomes);
    if n <= LINEAR_MAX_N {
        bench_variant((&mut group, &group_name), "reference", &trace, || Reference::new(capacity), clock, outcomes);
    }
    if OffsetAlloc::new(capacity, n).is_some() {
        let make = || OffsetAlloc::new(capacity, n).expect("fits, checked above");
        bench_variant((&mut group, &group_name), "offset-allocator", &trace, make, clock, outcomes);
    } else {
        println!("churn-{}/offset-allocator: skipped, capacity {capacity} does not fit in u32", label(n));
    }
    if XallocTlsf::new(capacity, n).is_some() {
        let make = || XallocTlsf::new(capacity, n).expect("fits, checked above");
        bench_variant((&mut group, &group_name), "xalloc-tlsf", &trace, make, clock, outcomes);
    } else {
        println!("churn-{}/xalloc-tlsf: skipped, capacity {capacity} does not fit in u32", label(n));
    }
    if n <= LINEAR_MAX_N {
        bench_variant((&mut group, &group_name), "range-alloc", &trace, || RangeAlloc::new(capacity), clock, outcomes);
    }
    bench_variant((&mut group, &group_name), "harness-only", &trace, || HarnessOnly, clock, outcomes);
    group.finish();
}

/// The placement group at `n` live blocks: first fit and best fit with every request in
/// one half of the heap (the lower and the upper in turn) or top-down, beside the same
/// policy placing plainly (`<policy>/plain`, the same trace as in `churn-<n>`).
fn bench_placement(c: &mut Criterion, n: usize, fill: f64, clock: Clock, outcomes: &mut Vec<Outcome>) {
    let trace = ChurnTrace::new(n, OPS_LEN, fill, CHURN_SEED);
    let capacity = trace.capacity;
    let group_name = format!("placement-{}", label(n));
    let mut group = c.benchmark_group(&group_name);
    for policy in [Policy::FirstFit, Policy::BestFit] {
        let name = |variant: &str| format!("{policy}/{variant}");
        bench_variant(
            (&mut group, &group_name),
            &name("plain"),
            &trace,
            || RustApi::new(capacity, policy),
            clock,
            outcomes,
        );
        for (variant, placement) in [("halves", Placement::Halves), ("top-down", Placement::TopDown)] {
            let make = || RustApiPlaced::new(capacity, policy, placement);
            bench_variant((&mut group, &group_name), &name(variant), &trace, make, clock, outcomes);
        }
    }
    group.finish();
}

fn main() {
    // Like criterion: without `--bench` (under `cargo test`), or with `--test`, only check
    // that everything runs.
    let args: Vec<String> = std::env::args().collect();
    let smoke = !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--test");
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let fill = fill_from_env();
    let clock = Clock::from_env();
    println!("churn: {:.0}% fill, timed by the {}", fill * 100.0, clock.name());
    let mut outcomes = Vec::new();
    for n in SIZES {
        if smoke && n > SIZES[0] {
            break;
        }
        bench_n(&mut c, n, fill, clock, &mut outcomes);
    }
    bench_placement(&mut c, if smoke { SIZES[0] } else { PLACEMENT_N }, fill, clock, &mut outcomes);
    c.final_summary();

    if !outcomes.is_empty() {
        println!("\nFailed allocations (out of memory) at {:.0}% fill, settling and warm-up included:\n", fill * 100.0);
        println!("| group | variant | steps | failed allocations |");
        println!("|---|---|---:|---:|");
        for o in &outcomes {
            println!("| {} | {} | {} | {} |", o.group, o.variant, o.steps, o.failures);
        }
    }
}
