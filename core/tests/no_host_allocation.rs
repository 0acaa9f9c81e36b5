//! No host allocation in steady state: once its tables have reached their peak, an
//! allocator serves a million free + allocate steps without a single call to the global
//! allocator, under every policy (no temporary buffers in tree splits and joins, no
//! per-node boxes, tables that keep their memory).
//!
//! How: this test binary's `#[global_allocator]` counts the calls made on the current
//! thread. A churn trace (10,000 live blocks, sizes log-uniform in [1, 65536], the heap 75%
//! full) is run once to warm up; `reset` then frees everything, keeping the memory, and the
//! same trace from the same start runs again, reaching the same peak: the second run must
//! make no call at all. (A second run of the same trace, rather than a longer first one,
//! because a random walk of free-block counts would now and then pass its earlier peak and
//! rightly grow a table.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use memalloc_core::{MemoryAllocator, Options, Policy};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// `System`, counting the calls made on each thread.
struct Counting;

thread_local! {
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: a thread being torn down has no counter, and needs none.
    let _ = CALLS.try_with(|calls| calls.set(calls.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees hold; the counter is only bookkeeping on the side (a const
// thread-local, which never allocates).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count();
        // SAFETY: `ptr` was allocated by this allocator, that is by `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller upholds the
        // rest of `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn calls() -> usize {
    CALLS.with(Cell::get)
}

/// One size, log-uniform in `[1, 65536]`.
fn log_uniform(rng: &mut SmallRng) -> usize {
    let ln_max = 65537f64.ln();
    ((rng.random::<f64>() * ln_max).exp() as usize).clamp(1, 65536)
}

/// Pre-fills `slots` and runs `steps` (slot to free, size to allocate) on `heap`.
fn run(heap: &mut MemoryAllocator, prefill: &[usize], steps: &[(usize, usize)], slots: &mut [Option<(usize, usize)>]) {
    for (slot, &size) in slots.iter_mut().zip(prefill) {
        *slot = heap.allocate(size).ok().map(|addr| (addr, size));
    }
    for &(slot, size) in steps {
        if let Some((addr, old)) = slots[slot].take() {
            heap.free(addr, old).expect("freeing a live block succeeds");
        }
        slots[slot] = heap.allocate(size).ok().map(|addr| (addr, size));
    }
}

#[test]
// The full invariant check after every call walks the whole heap and builds sets: it
// allocates, and a million of them would take CI's time for nothing this test asks.
#[cfg_attr(feature = "expensive-checks", ignore = "check_invariants allocates on every call")]
fn a_million_steps_after_warm_up_make_no_host_allocation() {
    let (n, steps) = (10_000, if cfg!(miri) { 1_000 } else { 1_000_000 });
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    let prefill: Vec<usize> = (0..n).map(|_| log_uniform(&mut rng)).collect();
    let trace: Vec<(usize, usize)> = (0..steps).map(|_| (rng.random_range(0..n), log_uniform(&mut rng))).collect();
    let capacity = prefill.iter().sum::<usize>() * 4 / 3;
    let mut slots: Vec<Option<(usize, usize)>> = vec![None; n];
    for policy in Policy::ALL {
        let mut heap = MemoryAllocator::with_options(Options::new(capacity).policy(policy)).expect("valid options");
        run(&mut heap, &prefill, &trace, &mut slots);
        heap.reset();
        slots.fill(None);
        let before = calls();
        run(&mut heap, &prefill, &trace, &mut slots);
        let made = calls() - before;
        assert_eq!(made, 0, "{policy}: {made} calls to the global allocator in the second run");
        heap.check_invariants().unwrap();
    }
}

#[test]
fn the_counter_sees_an_allocation() {
    // The test above would pass with a counter that never counts: show that it counts.
    let before = calls();
    let boxed = std::hint::black_box(Box::new(7u64));
    drop(boxed);
    assert_eq!(calls() - before, 2);
}

#[test]
fn the_trace_writer_makes_no_host_allocation() {
    // The preload library writes its trace inside `malloc`: a line costs no allocation.
    use memalloc_core::trace::{Event, MAX_EVENT_LINE, write_comment, write_event};
    let events = [
        Event::Process { pid: u64::MAX, ppid: 1 },
        Event::Start,
        Event::Malloc { size: 24, addr: Some(0) },
        Event::Calloc { count: usize::MAX, size: usize::MAX, addr: None },
        Event::Realloc { old: 0, size: 100, addr: Some(32) },
        Event::Aligned { align: 4096, size: 10, addr: Some(8192) },
        Event::Free { addr: 32 },
        Event::Fork,
    ];
    let mut line = [0u8; MAX_EVENT_LINE];
    let before = calls();
    let mut written = 0;
    for event in &events {
        written += write_event(std::hint::black_box(event), &mut line);
    }
    written += write_comment(std::hint::black_box(b"memalloc mode fast"), &mut line);
    assert_eq!(calls() - before, 0);
    assert!(written > events.len());
}
