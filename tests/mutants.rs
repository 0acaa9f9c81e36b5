//! Tests that kill mutants the rest of the suite let survive (see `docs/MUTANTS.md`): each
//! names the mutant it was written for. Behaviour that no other test pins down, through
//! the public API only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use memalloc::{MemoryAllocator, Options, Policy};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The system allocator, counting the bytes each thread holds, so that a test can
/// measure the heap its own allocator uses while other tests run in other threads.
struct Counting;

thread_local! {
    /// Bytes allocated minus bytes freed by this thread.
    static NET: Cell<isize> = const { Cell::new(0) };
}

fn count(bytes: isize) {
    // During thread teardown the counter may be gone: those bytes are not measured.
    let _ = NET.try_with(|net| net.set(net.get() + bytes));
}

fn net_bytes() -> isize {
    NET.with(Cell::get)
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counting touches
// only a const-initialised thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees on `layout` are passed on.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System.alloc` with `layout` (the caller's guarantee).
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The most live blocks during a churn: enough free blocks for first fit's B+ tree to
/// split and join its leaves all the time.
const MAX_LIVE: usize = 2_000;

/// `steps` random allocations, frees and reallocations with at most [`MAX_LIVE`] live
/// blocks, then everything freed: the allocator is back to one free block.
fn churn(heap: &mut MemoryAllocator, rng: &mut SmallRng, steps: usize) {
    let mut live: Vec<(usize, usize)> = Vec::with_capacity(MAX_LIVE);
    for _ in 0..steps {
        let size = 1 + rng.random_range(0..200);
        match rng.random_range(0..3) {
            0 | 1 if live.len() < MAX_LIVE => {
                if let Ok(addr) = heap.allocate(size) {
                    live.push((addr, size));
                }
            }
            2 if !live.is_empty() => {
                let k = rng.random_range(0..live.len());
                let (addr, old) = live[k];
                if let Ok(addr) = heap.reallocate(addr, old, size) {
                    live[k] = (addr, size);
                }
            }
            _ if !live.is_empty() => {
                let (addr, size) = live.swap_remove(rng.random_range(0..live.len()));
                heap.free(addr, size).unwrap();
            }
            _ => {}
        }
    }
    for (addr, size) in live {
        heap.free(addr, size).unwrap();
    }
    assert_eq!(heap.stats().allocations, 0);
}

/// The index's metadata stays bounded under churn: freed nodes are reused, not leaked.
/// Written for mutants that stop recycling vacant node slots (every placement stays
/// correct, only the node arrays grow with every removal), such as first fit's
/// `vacant_leaves.push` removed.
#[test]
fn metadata_stays_bounded_under_churn_for_every_policy() {
    for policy in Policy::ALL {
        let mut heap = MemoryAllocator::with_options(Options::new(1 << 20).policy(policy)).unwrap();
        let mut rng = SmallRng::seed_from_u64(0x5EED ^ policy as u64);
        // Warm up: every structure reaches its working size.
        churn(&mut heap, &mut rng, 50_000);
        let warm = net_bytes();
        churn(&mut heap, &mut rng, 50_000);
        let grown = net_bytes() - warm;
        // A leaf leaked at every join would be tens of kilobytes here; the real growth is 0.
        assert!(grown < 16 * 1024, "{policy}: the heap grew by {grown} bytes over 50 000 steps of churn");
        heap.check_invariants().unwrap();
    }
}
