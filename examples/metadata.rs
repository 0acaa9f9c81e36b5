//! How much host memory memalloc's bookkeeping takes, per free block and per live
//! allocation, at the churn benchmark's steady state; prints a markdown table.
//!
//! How it is measured: this program's `#[global_allocator]` wraps `std::alloc::System` and
//! keeps a running total of the bytes requested and not yet freed (`Layout::size`; the
//! system allocator's own per-chunk overhead is not included). For each N (1k ... 1M) and
//! each policy in `Policy::ALL`, the churn trace of `benches/churn.rs` (same seed, 75% fill
//! unless `MEMALLOC_BENCH_FILL` says otherwise) is generated and the slot table allocated
//! first; then the total is read, a `MemoryAllocator` is built, pre-filled with N blocks
//! and run for N churn steps, and the total is read again. The difference, plus the inline
//! size of `MemoryAllocator`, is the allocator's memory: its free-space index and its
//! live-allocation table, including any spare capacity they hold (vacant tree slots left
//! from an earlier, larger number of free blocks; `Vec` growth slack; B-tree node slack).
//!
//! The target is at most 64 bytes per free block plus 32 per live allocation; the
//! `vs target` column is `bytes / (64 * free blocks + 32 * allocations)`, so 1.00 or less
//! meets it.
//!
//! A second table sweeps N over 40 geometric steps from 1k to 200k and gives, per policy,
//! the worst and the best ratio to the target and the N where each occurred: tables that
//! grow in steps (node arrays, hash tables) are fullest just before they grow and emptiest
//! just after, so the four sizes above alone could miss the worst case.
//!
//! Run: `cargo run --release --example metadata`.

#[path = "../benches/support/trace.rs"]
mod trace;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use memalloc::{MemoryAllocator, Options, Policy};

use trace::{CHURN_SEED, ChurnTrace, fill_from_env, label};

/// `System`, counting the bytes currently allocated through it.
struct Counting;

/// Bytes requested from [`Counting`] and not yet freed.
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees hold; the counter is only bookkeeping on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, that is by `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller upholds the
        // rest of `GlobalAlloc::realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The numbers of live blocks measured, as in `benches/churn.rs`.
const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// The sweep: this many geometric steps from the first N to the last.
const SWEEP: (usize, usize, usize) = (1_000, 200_000, 40);

/// One measurement.
struct Row {
    n: usize,
    policy: Policy,
    allocations: usize,
    free_blocks: usize,
    bytes: usize,
}

/// Builds a `policy` allocator at the churn steady state for `trace` and returns the
/// bytes it holds, with its counts.
fn measure(trace: &ChurnTrace, policy: Policy) -> Row {
    // Everything the harness needs is allocated before the baseline is read.
    let mut slots: Vec<Option<(usize, usize)>> = vec![None; trace.n];
    let options = Options::new(trace.capacity).policy(policy);
    let before = LIVE_BYTES.load(Ordering::Relaxed);

    let mut heap = MemoryAllocator::with_options(options).expect("valid options");
    for (slot, &size) in slots.iter_mut().zip(&trace.prefill) {
        *slot = heap.allocate(size as usize).ok().map(|addr| (addr, size as usize));
    }
    for op in &trace.ops {
        let slot = &mut slots[op.slot as usize];
        if let Some((addr, size)) = slot.take() {
            heap.free(addr, size).expect("freeing a live block succeeds");
        }
        *slot = heap.allocate(op.size as usize).ok().map(|addr| (addr, op.size as usize));
    }

    let bytes = LIVE_BYTES.load(Ordering::Relaxed) - before + size_of::<MemoryAllocator>();
    let stats = heap.stats();
    drop(heap);
    Row { n: trace.n, policy, allocations: stats.allocations, free_blocks: stats.free_blocks, bytes }
}

impl Row {
    /// Bytes held over the budget of 64 per free block and 32 per allocation.
    fn vs_target(&self) -> f64 {
        self.bytes as f64 / (64 * self.free_blocks + 32 * self.allocations) as f64
    }
}

fn main() {
    let fill = fill_from_env();
    println!(
        "Host memory held by a MemoryAllocator after N log-uniform blocks and N churn steps at {:.0}% fill.\n",
        fill * 100.0
    );
    println!(
        "| N | policy | live allocations | free blocks | bytes | bytes per (free block + allocation) \
         | vs target (64/free block + 32/allocation) |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for n in SIZES {
        // The first N steps of the churn benchmark's trace: same seed, same order.
        let trace = ChurnTrace::new(n, n, fill, CHURN_SEED);
        for policy in Policy::ALL {
            let row = measure(&trace, policy);
            let per_entry = row.bytes as f64 / (row.free_blocks + row.allocations) as f64;
            println!(
                "| {} | {} | {} | {} | {} | {:.1} | {:.2} |",
                label(row.n),
                row.policy,
                row.allocations,
                row.free_blocks,
                row.bytes,
                per_entry,
                row.vs_target(),
            );
        }
    }

    let (first, last, steps) = SWEEP;
    println!("\nSweep: N from {} to {} in {steps} geometric steps.\n", label(first), label(last));
    println!("| policy | worst vs target | at N | best vs target | at N |");
    println!("|---|---:|---:|---:|---:|");
    let sweep: Vec<usize> = (0..steps)
        .map(|i| (first as f64 * (last as f64 / first as f64).powf(i as f64 / (steps - 1) as f64)).round() as usize)
        .collect();
    let traces: Vec<ChurnTrace> = sweep.iter().map(|&n| ChurnTrace::new(n, n, fill, CHURN_SEED)).collect();
    for policy in Policy::ALL {
        let rows: Vec<Row> = traces.iter().map(|trace| measure(trace, policy)).collect();
        let by_ratio = |a: &&Row, b: &&Row| a.vs_target().total_cmp(&b.vs_target());
        let worst = rows.iter().max_by(by_ratio).expect("the sweep is not empty");
        let best = rows.iter().min_by(by_ratio).expect("the sweep is not empty");
        println!("| {policy} | {:.2} | {} | {:.2} | {} |", worst.vs_target(), worst.n, best.vs_target(), best.n);
    }
}
