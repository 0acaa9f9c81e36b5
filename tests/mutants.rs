//! Tests that kill mutants the rest of the suite let survive (see `docs/MUTANTS.md`): each
//! names the mutant it was written for. Behaviour that no other test pins down, through
//! the public API only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use memalloc::{MemoryAllocator, Options, Policy};

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

/// xorshift64: deterministic steps.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// `steps` random allocations, frees and reallocations with at most 64 live blocks, then
/// everything freed: the allocator is back to one free block.
fn churn(heap: &mut MemoryAllocator, rng: &mut Rng, steps: usize) {
    let mut live: Vec<(usize, usize)> = Vec::with_capacity(64);
    for _ in 0..steps {
        let size = 1 + rng.below(200);
        match rng.below(3) {
            0 | 1 if live.len() < 64 => {
                if let Ok(addr) = heap.allocate(size) {
                    live.push((addr, size));
                }
            }
            2 if !live.is_empty() => {
                let k = rng.below(live.len());
                let (addr, old) = live[k];
                if let Ok(addr) = heap.reallocate(addr, old, size) {
                    live[k] = (addr, size);
                }
            }
            _ if !live.is_empty() => {
                let (addr, size) = live.swap_remove(rng.below(live.len()));
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
        let mut heap = MemoryAllocator::with_options(Options::new(1 << 16).policy(policy)).unwrap();
        let mut rng = Rng(0x5EED ^ policy as u64);
        // Warm up: every structure reaches its working size.
        churn(&mut heap, &mut rng, 5_000);
        let warm = net_bytes();
        churn(&mut heap, &mut rng, 50_000);
        let grown = net_bytes() - warm;
        // A leaked 32-byte node per removal would be hundreds of kilobytes here.
        assert!(grown < 16 * 1024, "{policy}: the heap grew by {grown} bytes over 50 000 steps of churn");
        heap.check_invariants().unwrap();
    }
}
