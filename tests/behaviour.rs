//! The behaviour of `MemoryAllocator`, one named case per rule of docs/CONTRACT.md and docs/REFERENCE-ALGORITHM.md:
//! construction, allocation, every free error in check order, merging, boundaries,
//! exhaustion, fragmentation, huge capacities, the map notation, errors, realloc,
//! size_of, free_at, reset, minimum alignment and aligned allocation.
//!
//! Every case runs under each policy it applies to, checks `check_invariants()` after
//! every step, and checks that every rejected call leaves `blocks()` and `stats()` exactly
//! as they were.

mod support;

use memalloc::{BlockKind, Error, MemoryAllocator, Options, Policy, Stats};
use support::{allocated, assert_rejected, check, free_block, padding};

/// The policies whose addresses are exact (no rounding): every case here applies to them.
const POLICIES: [Policy; 2] = [Policy::FirstFit, Policy::BestFit];

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn heap(policy: Policy, capacity: usize) -> MemoryAllocator {
    aligned_heap(policy, capacity, 1)
}

fn aligned_heap(policy: Policy, capacity: usize, min_alignment: usize) -> MemoryAllocator {
    let heap = MemoryAllocator::with_options(Options::new(capacity).policy(policy).min_alignment(min_alignment))
        .unwrap_or_else(|e| panic!("{policy}: capacity {capacity}, min_alignment {min_alignment}: {e}"));
    check(&heap);
    heap
}

#[track_caller]
fn alloc(heap: &mut MemoryAllocator, size: usize) -> usize {
    let addr = heap.allocate(size).unwrap_or_else(|e| panic!("{}: allocate({size}): {e}\nmap: {heap}", heap.policy()));
    check(heap);
    addr
}

#[track_caller]
fn alloc_aligned(heap: &mut MemoryAllocator, size: usize, alignment: usize) -> usize {
    let addr = heap
        .allocate_aligned(size, alignment)
        .unwrap_or_else(|e| panic!("{}: allocate_aligned({size}, {alignment}): {e}\nmap: {heap}", heap.policy()));
    assert_eq!(addr % alignment, 0, "{}: misaligned address {addr}", heap.policy());
    check(heap);
    addr
}

#[track_caller]
fn free(heap: &mut MemoryAllocator, addr: usize, size: usize) {
    heap.free(addr, size).unwrap_or_else(|e| panic!("{}: free({addr}, {size}): {e}\nmap: {heap}", heap.policy()));
    check(heap);
}

#[track_caller]
fn realloc(heap: &mut MemoryAllocator, addr: usize, old: usize, new: usize) -> usize {
    let at = heap
        .reallocate(addr, old, new)
        .unwrap_or_else(|e| panic!("{}: reallocate({addr}, {old}, {new}): {e}\nmap: {heap}", heap.policy()));
    check(heap);
    at
}

/// A heap of `capacity` whose free space is exactly `holes` (sorted by address, with
/// allocated space between any two): everything else stays allocated.
fn heap_with_holes(policy: Policy, capacity: usize, holes: &[(usize, usize)]) -> MemoryAllocator {
    let mut heap = heap(policy, capacity);
    let mut at = 0;
    let mut segments = Vec::new();
    for &(start, size) in holes {
        if start > at {
            segments.push((at, start - at, false));
        }
        segments.push((start, size, true));
        at = start + size;
    }
    if at < capacity {
        segments.push((at, capacity - at, false));
    }
    for &(start, size, _) in &segments {
        assert_eq!(alloc(&mut heap, size), start, "{policy}: building the heap");
    }
    for &(start, size, hole) in &segments {
        if hole {
            free(&mut heap, start, size);
        }
    }
    let free_list: Vec<(usize, usize)> =
        heap.blocks().iter().filter(|b| b.kind == BlockKind::Free).map(|b| (b.start, b.size)).collect();
    assert_eq!(free_list, holes, "{policy}: building the heap");
    heap
}

// ---------------------------------------------------------------------------------------
// Construction
// ---------------------------------------------------------------------------------------

#[test]
fn new_rejects_capacity_zero() {
    assert_eq!(MemoryAllocator::new(0).err(), Some(Error::InvalidArgument));
    for policy in POLICIES {
        assert_eq!(MemoryAllocator::with_options(Options::new(0).policy(policy)).err(), Some(Error::InvalidArgument));
    }
}

#[test]
fn with_options_rejects_min_alignment_zero_or_not_a_power_of_two() {
    for policy in POLICIES {
        for bad in [0, 3, 6, 12, 24, usize::MAX, (1 << 40) + 1] {
            let options = Options::new(100).policy(policy).min_alignment(bad);
            assert_eq!(MemoryAllocator::with_options(options).err(), Some(Error::InvalidAlignment), "{policy} {bad}");
        }
    }
}

#[test]
fn with_options_checks_capacity_before_alignment() {
    for policy in POLICIES {
        let options = Options::new(0).policy(policy).min_alignment(3);
        assert_eq!(MemoryAllocator::with_options(options).err(), Some(Error::InvalidArgument), "{policy}");
    }
}

#[test]
fn options_default_to_first_fit_and_alignment_one() {
    let options = Options::new(64);
    assert_eq!((options.capacity, options.policy, options.min_alignment), (64, Policy::FirstFit, 1));
    let heap = MemoryAllocator::new(64).unwrap();
    assert_eq!((heap.capacity(), heap.policy(), heap.min_alignment()), (64, Policy::FirstFit, 1));
}

#[test]
fn new_heap_is_one_free_block_of_the_whole_capacity() {
    for policy in POLICIES {
        for capacity in [1, 2, 100, usize::MAX] {
            let heap = heap(policy, capacity);
            assert_eq!(heap.policy(), policy);
            assert_eq!(heap.capacity(), capacity);
            assert_eq!(heap.blocks(), [free_block(0, capacity)]);
            assert_eq!(
                heap.stats(),
                Stats {
                    capacity,
                    allocated: 0,
                    free: capacity,
                    largest_free: capacity,
                    free_blocks: 1,
                    allocations: 0,
                    padding: 0
                }
            );
        }
    }
}

#[test]
fn policy_names_and_codes_round_trip() {
    for (code, policy) in POLICIES.into_iter().enumerate() {
        assert_eq!(Policy::from_code(code as u32), Some(policy));
        assert_eq!(policy.name().parse::<Policy>(), Ok(policy));
        assert_eq!(policy.to_string(), policy.name());
    }
    assert_eq!(Policy::FirstFit.name(), "first-fit");
    assert_eq!(Policy::BestFit.name(), "best-fit");
    assert_eq!(Policy::default(), Policy::FirstFit);
    assert_eq!(Policy::from_code(u32::MAX), None);
    assert_eq!("worst-fit".parse::<Policy>(), Err(Error::InvalidArgument));
}

// ---------------------------------------------------------------------------------------
// Allocation
// ---------------------------------------------------------------------------------------

#[test]
fn allocate_zero_is_invalid_size() {
    for policy in POLICIES {
        let mut heap = heap(policy, 100);
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.allocate(0));
        alloc(&mut heap, 10);
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.allocate(0));
    }
}

#[test]
fn allocate_more_than_capacity_is_out_of_memory() {
    for policy in POLICIES {
        let mut heap = heap(policy, 100);
        for size in [101, 1000, usize::MAX / 2, usize::MAX - 1, usize::MAX] {
            assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(size));
        }
    }
}

#[test]
fn allocate_takes_the_low_end_of_the_block() {
    for policy in POLICIES {
        let mut heap = heap(policy, 100);
        assert_eq!(alloc(&mut heap, 20), 0);
        assert_eq!(heap.blocks(), [allocated(0, 20), free_block(20, 80)]);
        assert_eq!(alloc(&mut heap, 30), 20);
        assert_eq!(heap.blocks(), [allocated(0, 20), allocated(20, 30), free_block(50, 50)]);
        let s = heap.stats();
        assert_eq!((s.allocated, s.free, s.largest_free, s.free_blocks, s.allocations), (50, 50, 50, 1, 2));
    }
}

#[test]
fn allocate_the_whole_capacity_at_once() {
    for policy in POLICIES {
        let mut heap = heap(policy, 100);
        assert_eq!(alloc(&mut heap, 100), 0);
        assert_eq!(heap.blocks(), [allocated(0, 100)]);
        assert_eq!((heap.free_memory(), heap.largest_free_block(), heap.stats().free_blocks), (0, 0, 0));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(1));
        free(&mut heap, 0, 100);
        assert_eq!(heap.blocks(), [free_block(0, 100)]);
    }
}

#[test]
fn first_fit_takes_the_lowest_block_that_fits() {
    // Holes of 10 at 10, 30 at 30 and 15 at 70.
    let mut heap = heap_with_holes(Policy::FirstFit, 100, &[(10, 10), (30, 30), (70, 15)]);
    assert_eq!(alloc(&mut heap, 12), 30);
    assert_eq!(alloc(&mut heap, 10), 10);
    assert_eq!(alloc(&mut heap, 15), 42);
    assert_eq!(alloc(&mut heap, 4), 70, "the 3 units left at 57 are too small");
    assert_eq!(alloc(&mut heap, 3), 57);
}

#[test]
fn best_fit_takes_the_smallest_block_that_fits_ties_to_the_lowest_address() {
    // Holes of 30 at 10, 12 at 50, 20 at 70 and 12 at 95.
    let mut heap = heap_with_holes(Policy::BestFit, 120, &[(10, 30), (50, 12), (70, 20), (95, 12)]);
    assert_eq!(alloc(&mut heap, 11), 50, "the two 12-unit holes tie: the lower one");
    assert_eq!(alloc(&mut heap, 12), 95, "exact fit");
    assert_eq!(alloc(&mut heap, 13), 70);
    assert_eq!(alloc(&mut heap, 7), 83, "the rest of the 20-unit hole is now the smallest");
    assert_eq!(alloc(&mut heap, 1), 61, "the 1-unit rest of the first 12-unit hole");
    assert_eq!(alloc(&mut heap, 25), 10);
    assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(6));
}

#[test]
fn exhaustion_by_unit_allocations_then_out_of_memory() {
    for policy in POLICIES {
        let mut heap = heap(policy, 16);
        for expected in 0..16 {
            assert_eq!(alloc(&mut heap, 1), expected, "{policy}");
        }
        assert_eq!(heap.free_memory(), 0);
        assert_eq!(heap.largest_free_block(), 0);
        assert_eq!(heap.stats().free_blocks, 0);
        assert_eq!(heap.stats().allocations, 16);
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(1));
        free(&mut heap, 7, 1);
        assert_eq!(heap.blocks()[7], free_block(7, 1));
        assert_eq!(alloc(&mut heap, 1), 7, "{policy}: the only free unit");
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(1));
        for addr in 0..16 {
            free(&mut heap, addr, 1);
        }
        assert_eq!(heap.blocks(), [free_block(0, 16)]);
    }
}

// ---------------------------------------------------------------------------------------
// Free: every error, in check order
// ---------------------------------------------------------------------------------------

/// A heap of 100 with live allocations (0, 20), (20, 30), (50, 40) and (90, 10).
fn four_blocks(policy: Policy) -> MemoryAllocator {
    let mut heap = heap(policy, 100);
    for (addr, size) in [(0, 20), (20, 30), (50, 40), (90, 10)] {
        assert_eq!(alloc(&mut heap, size), addr);
    }
    heap
}

#[test]
fn free_address_at_or_past_capacity_is_invalid_address() {
    for policy in POLICIES {
        let mut heap = four_blocks(policy);
        for addr in [100, 101, usize::MAX] {
            assert_rejected(&mut heap, Error::InvalidAddress, |h| h.free(addr, 1));
        }
    }
}

#[test]
fn free_invalid_address_beats_size_zero() {
    for policy in POLICIES {
        let mut heap = four_blocks(policy);
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.free(100, 0));
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.free(usize::MAX, 0));
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.free(usize::MAX, usize::MAX));
    }
}

#[test]
fn free_size_zero_is_invalid_size_and_beats_every_later_check() {
    for policy in POLICIES {
        let mut heap = four_blocks(policy);
        // On a live allocation (not SizeMismatch), inside one (not NotAllocated), at the last unit.
        for addr in [0, 20, 5, 99] {
            assert_rejected(&mut heap, Error::InvalidSize, |h| h.free(addr, 0));
        }
        free(&mut heap, 20, 30);
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.free(20, 0));
    }
}

#[test]
fn free_range_past_capacity_is_invalid_size() {
    for policy in POLICIES {
        let mut heap = four_blocks(policy);
        // (90, 10) is live: a size that runs past the end is InvalidSize, not SizeMismatch.
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.free(90, 11));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.free(99, 2));
        // Not allocated at 95 either: the range check comes first.
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.free(95, 6));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.free(0, 101));
    }
}

#[test]
fn free_range_that_overflows_is_invalid_size() {
    for policy in POLICIES {
        let mut heap = four_blocks(policy);
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.free(0, usize::MAX));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.free(1, usize::MAX));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.free(90, usize::MAX));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.free(99, usize::MAX - 98));
    }
    // Also when the capacity itself is usize::MAX.
    for policy in POLICIES {
        let mut heap = heap(policy, usize::MAX);
        let a = alloc(&mut heap, 10);
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.free(a + 1, usize::MAX));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.free(usize::MAX - 1, 2));
    }
}

#[test]
fn free_never_allocated_address_is_not_allocated() {
    for policy in POLICIES {
        let mut heap = heap(policy, 100);
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free(0, 10));
        alloc(&mut heap, 10);
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free(10, 10));
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free(99, 1));
    }
}

#[test]
fn free_interior_address_is_not_allocated() {
    for policy in POLICIES {
        let mut heap = four_blocks(policy);
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free(5, 15));
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free(5, 10));
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free(21, 29));
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free(99, 1));
        // Spanning two allocations from the inside of the first.
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free(10, 20));
    }
}

#[test]
fn double_free_is_not_allocated() {
    for policy in POLICIES {
        let mut heap = four_blocks(policy);
        free(&mut heap, 20, 30);
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free(20, 30));
        free(&mut heap, 0, 20);
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free(0, 20));
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free(20, 30));
    }
}

#[test]
fn free_with_another_size_is_size_mismatch() {
    for policy in POLICIES {
        let mut heap = four_blocks(policy);
        for (addr, size) in [(0, 19), (0, 21), (0, 1), (20, 29), (20, 31), (20, 80), (50, 50), (90, 9)] {
            assert_rejected(&mut heap, Error::SizeMismatch, |h| h.free(addr, size));
        }
        free(&mut heap, 0, 20);
        free(&mut heap, 20, 30);
    }
}

#[test]
fn every_rejected_call_changes_nothing() {
    for policy in POLICIES {
        let mut heap = four_blocks(policy);
        free(&mut heap, 20, 30);
        let bad_frees: [(usize, usize, Error); 11] = [
            (100, 1, Error::InvalidAddress),
            (usize::MAX, 0, Error::InvalidAddress),
            (0, 0, Error::InvalidSize),
            (90, 11, Error::InvalidSize),
            (1, usize::MAX, Error::InvalidSize),
            (20, 30, Error::NotAllocated),
            (25, 5, Error::NotAllocated),
            (60, 10, Error::NotAllocated),
            (0, 10, Error::SizeMismatch),
            (50, 41, Error::SizeMismatch),
            (90, 1, Error::SizeMismatch),
        ];
        for (addr, size, expected) in bad_frees {
            assert_rejected(&mut heap, expected, |h| h.free(addr, size));
        }
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.allocate(0));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(31));
        assert_rejected(&mut heap, Error::InvalidAlignment, |h| h.allocate_aligned(1, 0));
        assert_rejected(&mut heap, Error::InvalidAlignment, |h| h.allocate_aligned(1, 6));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate_aligned(30, 16));
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.free_at(100));
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free_at(20));
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.size_of(100));
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.size_of(55));
        assert_rejected(&mut heap, Error::SizeMismatch, |h| h.reallocate(0, 21, 5));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.reallocate(0, 20, 0));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.reallocate(0, 20, 51));
        assert_eq!(heap.to_string(), "[Allocated(0-19)] [Free(20-49)] [Allocated(50-89)] [Allocated(90-99)]");
    }
}

// ---------------------------------------------------------------------------------------
// Merging: the four cases
// ---------------------------------------------------------------------------------------

/// A heap of 100 with (0, 20), (20, 20), (40, 20), (60, 20) allocated and (80, 20) free.
fn five_slots(policy: Policy) -> MemoryAllocator {
    let mut heap = heap(policy, 100);
    for addr in [0, 20, 40, 60] {
        assert_eq!(alloc(&mut heap, 20), addr);
    }
    heap
}

#[test]
fn free_between_allocations_makes_an_isolated_block() {
    for policy in POLICIES {
        let mut heap = five_slots(policy);
        free(&mut heap, 20, 20);
        assert_eq!(
            heap.to_string(),
            "[Allocated(0-19)] [Free(20-39)] [Allocated(40-59)] [Allocated(60-79)] [Free(80-99)]"
        );
        assert_eq!(heap.stats().free_blocks, 2);
        assert_eq!(heap.largest_free_block(), 20);
    }
}

#[test]
fn free_after_a_free_block_extends_it() {
    for policy in POLICIES {
        let mut heap = five_slots(policy);
        free(&mut heap, 20, 20);
        free(&mut heap, 40, 20);
        assert_eq!(heap.to_string(), "[Allocated(0-19)] [Free(20-59)] [Allocated(60-79)] [Free(80-99)]");
        assert_eq!(heap.stats().free_blocks, 2);
        assert_eq!(heap.largest_free_block(), 40);
    }
}

#[test]
fn free_before_a_free_block_grows_it_downward() {
    for policy in POLICIES {
        let mut heap = five_slots(policy);
        free(&mut heap, 40, 20);
        free(&mut heap, 20, 20);
        assert_eq!(heap.to_string(), "[Allocated(0-19)] [Free(20-59)] [Allocated(60-79)] [Free(80-99)]");
        // Merging with the free tail of the range, too.
        free(&mut heap, 60, 20);
        assert_eq!(heap.to_string(), "[Allocated(0-19)] [Free(20-99)]");
        assert_eq!(heap.stats().free_blocks, 1);
    }
}

#[test]
fn free_between_two_free_blocks_merges_all_three() {
    for policy in POLICIES {
        let mut heap = five_slots(policy);
        free(&mut heap, 20, 20);
        free(&mut heap, 60, 20);
        assert_eq!(heap.stats().free_blocks, 2);
        free(&mut heap, 40, 20);
        assert_eq!(heap.to_string(), "[Allocated(0-19)] [Free(20-99)]");
        assert_eq!(heap.stats().free_blocks, 1);
        assert_eq!(heap.largest_free_block(), 80);
        free(&mut heap, 0, 20);
        assert_eq!(heap.blocks(), [free_block(0, 100)]);
    }
}

#[test]
fn merged_space_is_reused_as_one_block() {
    for policy in POLICIES {
        let mut heap = five_slots(policy);
        free(&mut heap, 20, 20);
        free(&mut heap, 40, 20);
        assert_eq!(alloc(&mut heap, 40), 20, "{policy}: the merged 40-unit block");
    }
}

// ---------------------------------------------------------------------------------------
// Boundaries
// ---------------------------------------------------------------------------------------

#[test]
fn boundary_address_zero() {
    for policy in POLICIES {
        let mut heap = heap(policy, 100);
        assert_eq!(alloc(&mut heap, 1), 0);
        assert_eq!(heap.size_of(0), Ok(1));
        assert_eq!(heap.to_string(), "[Allocated(0-0)] [Free(1-99)]");
        assert_rejected(&mut heap, Error::SizeMismatch, |h| h.free(0, 2));
        free(&mut heap, 0, 1);
        assert_eq!(heap.blocks(), [free_block(0, 100)]);
        // Freeing at 0 merges with the free block after it.
        let a = alloc(&mut heap, 10);
        let b = alloc(&mut heap, 10);
        free(&mut heap, b, 10);
        free(&mut heap, a, 10);
        assert_eq!(heap.blocks(), [free_block(0, 100)]);
    }
}

#[test]
fn boundary_last_unit() {
    for policy in POLICIES {
        let mut heap = heap(policy, 100);
        assert_eq!(alloc(&mut heap, 99), 0);
        assert_eq!(alloc(&mut heap, 1), 99);
        assert_eq!(heap.to_string(), "[Allocated(0-98)] [Allocated(99-99)]");
        assert_eq!(heap.size_of(99), Ok(1));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.free(99, 2));
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.free(100, 1));
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.size_of(100));
        free(&mut heap, 99, 1);
        assert_eq!(heap.to_string(), "[Allocated(0-98)] [Free(99-99)]");
        // Freeing the block before the last unit merges with it.
        free(&mut heap, 0, 99);
        assert_eq!(heap.blocks(), [free_block(0, 100)]);
    }
}

#[test]
fn capacity_one() {
    for policy in POLICIES {
        let mut heap = heap(policy, 1);
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(2));
        assert_eq!(alloc(&mut heap, 1), 0);
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(1));
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.free(1, 1));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.free(0, 2));
        free(&mut heap, 0, 1);
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free(0, 1));
        assert_eq!(heap.to_string(), "[Free(0-0)]");
    }
}

// ---------------------------------------------------------------------------------------
// Fragmentation
// ---------------------------------------------------------------------------------------

#[test]
fn fragmentation_six_holes_of_ten_cannot_hold_fifty() {
    for policy in POLICIES {
        let mut heap = heap(policy, 120);
        for i in 0..12 {
            assert_eq!(alloc(&mut heap, 10), 10 * i);
        }
        for i in (0..12).step_by(2) {
            free(&mut heap, 10 * i, 10);
        }
        assert_eq!(heap.free_memory(), 60);
        assert_eq!(heap.largest_free_block(), 10);
        assert_eq!(heap.stats().free_blocks, 6);
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(50));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(11));
        assert_eq!(heap.free_memory(), 60);
        // A hole still takes a request of its size: the lowest one, under both policies.
        assert_eq!(alloc(&mut heap, 10), 0);
        // Freeing one allocation between two holes merges them into 30.
        free(&mut heap, 30, 10);
        assert_eq!(heap.largest_free_block(), 30);
        assert_eq!(alloc(&mut heap, 25), 20, "{policy}");
    }
}

// ---------------------------------------------------------------------------------------
// Huge capacities and sizes
// ---------------------------------------------------------------------------------------

#[test]
fn capacity_usize_max_with_huge_sizes() {
    const MAX: usize = usize::MAX;
    for policy in POLICIES {
        let mut heap = heap(policy, MAX);
        assert_eq!(alloc(&mut heap, MAX), 0);
        assert_eq!(heap.to_string(), format!("[Allocated(0-{})]", MAX - 1));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(1));
        free(&mut heap, 0, MAX);

        assert_eq!(alloc(&mut heap, MAX / 2), 0);
        assert_eq!(alloc(&mut heap, MAX / 2), MAX / 2);
        assert_eq!(heap.free_memory(), 1);
        assert_eq!(alloc(&mut heap, 1), MAX - 1);
        assert_eq!(
            heap.to_string(),
            format!(
                "[Allocated(0-{})] [Allocated({}-{})] [Allocated({}-{})]",
                MAX / 2 - 1,
                MAX / 2,
                MAX - 2,
                MAX - 1,
                MAX - 1
            )
        );
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.free(MAX, 1));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.free(MAX - 1, 2));
        assert_rejected(&mut heap, Error::SizeMismatch, |h| h.free(0, MAX / 2 + 1));
        free(&mut heap, MAX - 1, 1);
        assert_eq!(
            heap.to_string(),
            format!(
                "[Allocated(0-{})] [Allocated({}-{})] [Free({}-{})]",
                MAX / 2 - 1,
                MAX / 2,
                MAX - 2,
                MAX - 1,
                MAX - 1
            )
        );
        free(&mut heap, MAX / 2, MAX / 2);
        assert_eq!(heap.largest_free_block(), MAX / 2 + 1);
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(MAX / 2 + 2));
        free(&mut heap, 0, MAX / 2);
        assert_eq!(heap.blocks(), [free_block(0, MAX)]);
        assert_eq!(heap.stats().free, MAX);
    }
}

#[test]
fn huge_sizes_on_a_small_heap_are_out_of_memory() {
    for policy in POLICIES {
        for min_alignment in [1, 16] {
            let mut heap = aligned_heap(policy, 1000, min_alignment);
            for size in [usize::MAX, usize::MAX - 1, usize::MAX - 15, 1 << 63] {
                assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(size));
                assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate_aligned(size, 64));
            }
        }
    }
}

#[test]
fn min_alignment_rounding_of_a_huge_size_is_out_of_memory_not_overflow() {
    for policy in POLICIES {
        let mut heap = aligned_heap(policy, usize::MAX, 16);
        // usize::MAX rounded up to 16 overflows; the usable part is usize::MAX - 15.
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(usize::MAX));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(usize::MAX - 14));
        assert_eq!(alloc(&mut heap, usize::MAX - 16), 0);
        assert_eq!(heap.stats().padding, 1 + 15, "{policy}: rounding plus the unusable tail");
    }
}

// ---------------------------------------------------------------------------------------
// The map notation
// ---------------------------------------------------------------------------------------

#[test]
fn display_uses_the_reference_notation_with_inclusive_ends() {
    for policy in POLICIES {
        let mut heap = heap(policy, 100);
        assert_eq!(heap.to_string(), "[Free(0-99)]");
        alloc(&mut heap, 20);
        assert_eq!(heap.to_string(), "[Allocated(0-19)] [Free(20-99)]");
        alloc(&mut heap, 80);
        assert_eq!(heap.to_string(), "[Allocated(0-19)] [Allocated(20-99)]");
        free(&mut heap, 0, 20);
        assert_eq!(heap.to_string(), "[Free(0-19)] [Allocated(20-99)]");
    }
}

#[test]
fn display_of_a_block_and_of_padding() {
    assert_eq!(allocated(0, 20).to_string(), "[Allocated(0-19)]");
    assert_eq!(free_block(5, 1).to_string(), "[Free(5-5)]");
    assert_eq!(padding(3, 1).to_string(), "[Padding(3-3)]");
    assert_eq!(free_block(1, usize::MAX - 1).to_string(), format!("[Free(1-{})]", usize::MAX - 1));
    for policy in POLICIES {
        let mut heap = aligned_heap(policy, 18, 4);
        alloc(&mut heap, 3);
        assert_eq!(heap.to_string(), "[Allocated(0-2)] [Padding(3-3)] [Free(4-15)] [Padding(16-17)]");
    }
}

#[test]
fn blocks_tile_the_range_in_address_order() {
    for policy in POLICIES {
        let mut heap = four_blocks(policy);
        free(&mut heap, 20, 30);
        assert_eq!(heap.blocks(), [allocated(0, 20), free_block(20, 30), allocated(50, 40), allocated(90, 10)]);
        let text: Vec<String> = heap.blocks().iter().map(ToString::to_string).collect();
        assert_eq!(text.join(" "), heap.to_string());
    }
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

#[test]
fn error_codes_are_the_status_codes_and_round_trip() {
    let expected = [
        (Error::NullPointer, 1),
        (Error::InvalidSize, 2),
        (Error::OutOfMemory, 3),
        (Error::InvalidAddress, 4),
        (Error::NotAllocated, 5),
        (Error::SizeMismatch, 6),
        (Error::InvalidAlignment, 7),
        (Error::InvalidArgument, 8),
        (Error::Internal, 9),
        (Error::Occupied, 10),
        (Error::BufferTooSmall, 11),
        (Error::BadSnapshot, 12),
    ];
    assert_eq!(Error::ALL.len(), expected.len());
    for (error, code) in expected {
        assert_eq!(error.code(), code, "{error:?}");
        assert_eq!(Error::from_code(code), Some(error));
    }
    for error in Error::ALL {
        assert_eq!(Error::from_code(error.code()), Some(error));
    }
    for unknown in [0, 13, 14, 12345, -1, i32::MIN, i32::MAX] {
        assert_eq!(Error::from_code(unknown), None, "{unknown}");
    }
}

#[test]
fn error_display_is_its_message() {
    let mut seen = std::collections::HashSet::new();
    for error in Error::ALL {
        let text = error.to_string();
        assert_eq!(text, error.message());
        assert!(!text.is_empty() && text.is_ascii(), "{error:?}: {text:?}");
        assert!(seen.insert(text), "{error:?}: message shared with another variant");
    }
    assert_eq!(Error::NotAllocated.to_string(), "no live allocation starts at this address");
}

#[test]
fn error_is_a_std_error() {
    fn as_std_error(error: Error) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        Box::new(error)
    }
    for error in Error::ALL {
        let boxed = as_std_error(error);
        assert_eq!(boxed.to_string(), error.message());
        assert!(boxed.source().is_none());
        assert_eq!(boxed.downcast_ref::<Error>(), Some(&error));
    }
    // `?` converts it into Box<dyn Error>.
    fn fails() -> Result<(), Box<dyn std::error::Error>> {
        MemoryAllocator::new(0)?;
        Ok(())
    }
    assert_eq!(fails().unwrap_err().to_string(), Error::InvalidArgument.message());
}

// ---------------------------------------------------------------------------------------
// Reallocation
// ---------------------------------------------------------------------------------------

#[test]
fn realloc_shrinks_in_place_and_merges_the_tail() {
    for policy in POLICIES {
        let mut heap = heap(policy, 100);
        let a = alloc(&mut heap, 50);
        assert_eq!(realloc(&mut heap, a, 50, 20), a);
        assert_eq!(heap.to_string(), "[Allocated(0-19)] [Free(20-99)]");
        assert_eq!(heap.size_of(a), Ok(20));
        // Before another allocation: the tail becomes a free block of its own.
        let b = alloc(&mut heap, 30);
        let _c = alloc(&mut heap, 10);
        assert_eq!(realloc(&mut heap, b, 30, 5), b);
        assert_eq!(
            heap.to_string(),
            "[Allocated(0-19)] [Allocated(20-24)] [Free(25-49)] [Allocated(50-59)] [Free(60-99)]"
        );
        assert_rejected(&mut heap, Error::SizeMismatch, |h| h.free(b, 30));
        free(&mut heap, b, 5);
    }
}

#[test]
fn realloc_grows_in_place_into_the_free_space_after() {
    for policy in POLICIES {
        let mut heap = heap(policy, 100);
        let a = alloc(&mut heap, 20);
        assert_eq!(realloc(&mut heap, a, 20, 60), a);
        assert_eq!(heap.to_string(), "[Allocated(0-59)] [Free(60-99)]");
        // Exactly filling the hole up to the next allocation.
        let b = alloc(&mut heap, 10);
        let c = alloc(&mut heap, 10);
        free(&mut heap, b, 10);
        assert_eq!(realloc(&mut heap, a, 60, 70), a);
        assert_eq!(heap.to_string(), format!("[Allocated(0-69)] [Allocated({c}-79)] [Free(80-99)]"));
        // Up to the last unit.
        free(&mut heap, c, 10);
        assert_eq!(realloc(&mut heap, a, 70, 100), a);
        assert_eq!(heap.blocks(), [allocated(0, 100)]);
    }
}

#[test]
fn realloc_to_the_same_size_changes_nothing() {
    for policy in POLICIES {
        let mut heap = four_blocks(policy);
        let before = heap.blocks();
        assert_eq!(realloc(&mut heap, 20, 30, 30), 20);
        assert_eq!(heap.blocks(), before);
    }
}

#[test]
fn realloc_moves_when_the_next_block_is_taken_choosing_while_the_old_is_held() {
    for policy in POLICIES {
        // [Free(0-9)] [A(10-19)] [B(20-29)] [Free(30-59)]: if A were released first, 15
        // units would fit at 0, overlapping A. It must go to 30.
        let mut heap = heap(policy, 60);
        let hole = alloc(&mut heap, 10);
        let a = alloc(&mut heap, 10);
        let _b = alloc(&mut heap, 10);
        free(&mut heap, hole, 10);
        assert_eq!(realloc(&mut heap, a, 10, 15), 30, "{policy}");
        assert_eq!(heap.to_string(), "[Free(0-19)] [Allocated(20-29)] [Allocated(30-44)] [Free(45-59)]");
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free(a, 10));
        assert_eq!(heap.size_of(30), Ok(15));
    }
}

#[test]
fn realloc_moves_by_the_policy() {
    // [A(0-9)] [Free(10-39)] [B(40-44)] [C(45-59)] [Free(60-71)] [D(72-99)]: B cannot grow
    // in place (C is live), so it moves: first fit to the lowest hole, best fit to the
    // smallest one that holds 11.
    let cases = [
        (
            Policy::FirstFit,
            10,
            "[Allocated(0-9)] [Allocated(10-20)] [Free(21-44)] [Allocated(45-59)] [Free(60-71)] [Allocated(72-99)]",
        ),
        (
            Policy::BestFit,
            60,
            "[Allocated(0-9)] [Free(10-44)] [Allocated(45-59)] [Allocated(60-70)] [Free(71-71)] [Allocated(72-99)]",
        ),
    ];
    for (policy, expected, map) in cases {
        let mut heap = heap(policy, 100);
        for (addr, size) in [(0, 10), (10, 30), (40, 5), (45, 15), (60, 12), (72, 28)] {
            assert_eq!(alloc(&mut heap, size), addr);
        }
        free(&mut heap, 10, 30);
        free(&mut heap, 60, 12);
        assert_eq!(realloc(&mut heap, 40, 5, 11), expected, "{policy}");
        assert_eq!(heap.size_of(expected), Ok(11));
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.size_of(40));
        assert_eq!(heap.to_string(), map, "{policy}: the old block is freed and merged");
    }
}

#[test]
fn realloc_out_of_memory_leaves_the_allocation_as_it_was() {
    for policy in POLICIES {
        let mut heap = heap(policy, 100);
        let a = alloc(&mut heap, 50);
        let _b = alloc(&mut heap, 40);
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.reallocate(a, 50, 61));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.reallocate(a, 50, 101));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.reallocate(a, 50, usize::MAX));
        assert_eq!(heap.size_of(a), Ok(50));
        free(&mut heap, a, 50);
    }
}

#[test]
fn realloc_cannot_grow_an_allocation_that_ends_at_capacity_usize_max() {
    // Growing in place asks the index about the address usize::MAX itself. With dozens of
    // free blocks (first fit's B+ tree has inner nodes then) that once walked off the tree.
    for policy in [Policy::FirstFit, Policy::BestFit, Policy::Tlsf] {
        let mut heap = heap(policy, usize::MAX);
        alloc(&mut heap, usize::MAX - 100);
        let singles: Vec<usize> = (0..100).map(|_| alloc(&mut heap, 1)).collect();
        assert_eq!(singles.last(), Some(&(usize::MAX - 1)), "{policy}");
        for &addr in singles.iter().step_by(2).take(49) {
            free(&mut heap, addr, 1);
        }
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.reallocate(usize::MAX - 1, 1, 2));
    }
}

#[test]
fn realloc_checks_the_old_block_like_free_then_the_new_size() {
    for policy in POLICIES {
        let mut heap = four_blocks(policy);
        free(&mut heap, 20, 30);
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.reallocate(100, 1, 0));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.reallocate(0, 0, 0));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.reallocate(90, 11, 0));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.reallocate(1, usize::MAX, 5));
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.reallocate(20, 30, 0));
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.reallocate(5, 5, 5));
        assert_rejected(&mut heap, Error::SizeMismatch, |h| h.reallocate(0, 10, 0));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.reallocate(0, 20, 0));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.reallocate(0, 20, 51));
    }
}

// ---------------------------------------------------------------------------------------
// size_of, free_at, reset
// ---------------------------------------------------------------------------------------

#[test]
fn size_of_gives_the_live_size() {
    for policy in POLICIES {
        let mut heap = four_blocks(policy);
        for (addr, size) in [(0, 20), (20, 30), (50, 40), (90, 10)] {
            assert_eq!(heap.size_of(addr), Ok(size));
        }
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.size_of(100));
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.size_of(usize::MAX));
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.size_of(1));
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.size_of(99));
        free(&mut heap, 20, 30);
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.size_of(20));
    }
}

#[test]
fn free_at_frees_without_the_size_and_merges() {
    for policy in POLICIES {
        let mut heap = four_blocks(policy);
        assert_eq!(heap.free_at(20), Ok(30), "returns the size it freed");
        check(&heap);
        assert_eq!(heap.free_at(50), Ok(40));
        check(&heap);
        assert_eq!(heap.to_string(), "[Allocated(0-19)] [Free(20-89)] [Allocated(90-99)]");
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free_at(20));
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free_at(5));
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.free_at(100));
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.free_at(usize::MAX));
        assert_eq!(heap.free_at(0), Ok(20));
        assert_eq!(heap.free_at(90), Ok(10));
        check(&heap);
        assert_eq!(heap.blocks(), [free_block(0, 100)]);
    }
}

#[test]
fn reset_frees_everything_at_once() {
    for policy in POLICIES {
        for (capacity, min_alignment) in [(100, 1), (100, 8), (3, 4)] {
            let fresh = aligned_heap(policy, capacity, min_alignment);
            let mut heap = aligned_heap(policy, capacity, min_alignment);
            while heap.allocate(3).is_ok() {
                check(&heap);
            }
            if let Some(first) = heap.blocks().iter().find(|b| b.kind == BlockKind::Allocated) {
                free(&mut heap, first.start, first.size);
            }
            heap.reset();
            check(&heap);
            assert_eq!(heap.blocks(), fresh.blocks(), "{policy} {capacity} {min_alignment}");
            assert_eq!(heap.stats(), fresh.stats());
            assert_eq!(heap.to_string(), fresh.to_string());
            if capacity >= min_alignment {
                assert_eq!(alloc(&mut heap, 1), 0);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Minimum alignment
// ---------------------------------------------------------------------------------------

#[test]
fn min_alignment_rounds_footprints_up_and_shows_padding() {
    for policy in POLICIES {
        let mut heap = aligned_heap(policy, 64, 8);
        assert_eq!(heap.min_alignment(), 8);
        assert_eq!(alloc(&mut heap, 3), 0);
        assert_eq!(alloc(&mut heap, 8), 8);
        assert_eq!(alloc(&mut heap, 9), 16);
        assert_eq!(
            heap.blocks(),
            [allocated(0, 3), padding(3, 5), allocated(8, 8), allocated(16, 9), padding(25, 7), free_block(32, 32)]
        );
        let s = heap.stats();
        assert_eq!((s.allocated, s.padding, s.free, s.allocations), (20, 12, 32, 3));
        // The size as allocated, without padding; freeing needs exactly that size.
        assert_eq!(heap.size_of(0), Ok(3));
        assert_rejected(&mut heap, Error::SizeMismatch, |h| h.free(0, 8));
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free(3, 5));
        free(&mut heap, 0, 3);
        free(&mut heap, 16, 9);
        assert_eq!(heap.blocks(), [free_block(0, 8), allocated(8, 8), free_block(16, 48)]);
        assert_eq!(heap.stats().padding, 0);
    }
}

#[test]
fn min_alignment_every_address_and_free_extent_is_a_multiple() {
    for policy in POLICIES {
        for m in [2, 4, 16, 64] {
            let mut heap = aligned_heap(policy, 1000, m);
            let mut live = Vec::new();
            for size in [1, 5, m, m + 1, 3 * m - 1, 7] {
                let addr = alloc(&mut heap, size);
                assert_eq!(addr % m, 0, "{policy} m={m} size={size}");
                live.push((addr, size));
            }
            for &(addr, size) in live.iter().step_by(2) {
                free(&mut heap, addr, size);
            }
            for block in heap.blocks().iter().filter(|b| b.kind == BlockKind::Free) {
                assert_eq!((block.start % m, block.size % m), (0, 0), "{policy} m={m}: {block}");
            }
        }
    }
}

#[test]
fn min_alignment_with_a_capacity_not_a_multiple_leaves_the_tail_unusable() {
    for policy in POLICIES {
        let mut heap = aligned_heap(policy, 10, 4);
        assert_eq!(heap.blocks(), [free_block(0, 8), padding(8, 2)]);
        let s = heap.stats();
        assert_eq!((s.free, s.largest_free, s.padding, s.free_blocks), (8, 8, 2, 1));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(9));
        assert_eq!(alloc(&mut heap, 5), 0);
        // The allocation's rounding, then the unusable tail: two padding extents.
        assert_eq!(heap.blocks(), [allocated(0, 5), padding(5, 3), padding(8, 2)]);
        assert_eq!(heap.stats().padding, 5);
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(1));
        // The tail is in range: addresses there are not allocated, and a free may not run into it.
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free(8, 2));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.free(8, 3));
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.size_of(9));
        free(&mut heap, 0, 5);
        assert_eq!(heap.blocks(), [free_block(0, 8), padding(8, 2)]);
    }
}

#[test]
fn min_alignment_larger_than_the_capacity_leaves_nothing_usable() {
    for policy in POLICIES {
        let mut heap = aligned_heap(policy, 3, 4);
        assert_eq!(heap.blocks(), [padding(0, 3)]);
        let s = heap.stats();
        assert_eq!((s.free, s.largest_free, s.padding, s.free_blocks, s.allocated), (0, 0, 3, 0, 0));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(1));
        assert_rejected(&mut heap, Error::NotAllocated, |h| h.free(0, 1));
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.free(3, 1));
    }
}

#[test]
fn min_alignment_realloc_within_the_footprint_stays_in_place() {
    for policy in POLICIES {
        let mut heap = aligned_heap(policy, 64, 16);
        let a = alloc(&mut heap, 3);
        let _b = alloc(&mut heap, 16);
        assert_eq!(realloc(&mut heap, a, 3, 16), a, "{policy}: same footprint");
        assert_eq!(heap.blocks()[0], allocated(0, 16));
        assert_eq!(realloc(&mut heap, a, 16, 1), a);
        assert_eq!(heap.blocks()[..2], [allocated(0, 1), padding(1, 15)]);
        assert_eq!(realloc(&mut heap, a, 1, 17), 32, "{policy}: a second 16 does not fit before b");
        assert_eq!(heap.blocks()[0], free_block(0, 16));
    }
}

// ---------------------------------------------------------------------------------------
// Aligned allocation
// ---------------------------------------------------------------------------------------

#[test]
fn allocate_aligned_rejects_a_bad_alignment_before_the_size() {
    for policy in POLICIES {
        let mut heap = heap(policy, 100);
        for alignment in [0, 3, 6, 100, usize::MAX] {
            assert_rejected(&mut heap, Error::InvalidAlignment, |h| h.allocate_aligned(1, alignment));
            assert_rejected(&mut heap, Error::InvalidAlignment, |h| h.allocate_aligned(0, alignment));
            assert_rejected(&mut heap, Error::InvalidAlignment, |h| h.allocate_aligned(usize::MAX, alignment));
        }
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.allocate_aligned(0, 8));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate_aligned(101, 1));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate_aligned(usize::MAX, 1 << 63));
    }
}

#[test]
fn allocate_aligned_leaves_the_gap_before_free() {
    for policy in POLICIES {
        let mut heap = heap(policy, 100);
        assert_eq!(alloc(&mut heap, 3), 0);
        assert_eq!(alloc_aligned(&mut heap, 4, 8), 8);
        assert_eq!(heap.to_string(), "[Allocated(0-2)] [Free(3-7)] [Allocated(8-11)] [Free(12-99)]");
        assert_eq!(heap.stats().padding, 0);
        // The gap is ordinary free space.
        assert_eq!(alloc(&mut heap, 5), 3);
        assert_eq!(alloc_aligned(&mut heap, 1, 1), 12);
        free(&mut heap, 8, 4);
        assert_eq!(heap.to_string(), "[Allocated(0-2)] [Allocated(3-7)] [Free(8-11)] [Allocated(12-12)] [Free(13-99)]");
    }
}

#[test]
fn allocate_aligned_already_aligned_block_has_no_gap() {
    for policy in POLICIES {
        let mut heap = heap(policy, 100);
        assert_eq!(alloc_aligned(&mut heap, 10, 64), 0);
        assert_eq!(alloc_aligned(&mut heap, 10, 2), 10);
        assert_eq!(alloc_aligned(&mut heap, 10, 64), 64);
        assert_eq!(
            heap.to_string(),
            "[Allocated(0-9)] [Allocated(10-19)] [Free(20-63)] [Allocated(64-73)] [Free(74-99)]"
        );
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate_aligned(1, 128));
    }
}

#[test]
fn first_fit_aligned_gives_the_lowest_aligned_address_that_fits() {
    // Holes (1, 10), (20, 30) and (60, 8); everything else is allocated.
    let mut heap = heap_with_holes(Policy::FirstFit, 100, &[(1, 10), (20, 30), (60, 8)]);
    assert_eq!(alloc_aligned(&mut heap, 4, 8), 24, "4 units at 8 would pass the end of the first hole");
    assert_eq!(heap.blocks()[3..6], [free_block(20, 4), allocated(24, 4), free_block(28, 22)]);
    assert_eq!(alloc_aligned(&mut heap, 3, 8), 8, "3 units fit at the aligned end of the first hole");
    assert_eq!(heap.blocks()[..3], [allocated(0, 1), free_block(1, 7), allocated(8, 3)]);
    assert_eq!(alloc_aligned(&mut heap, 8, 4), 28);
    assert_eq!(alloc_aligned(&mut heap, 4, 16), 64, "48 is in (36, 14) but 4 units there pass 50");
    assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate_aligned(4, 16));
}

#[test]
fn best_fit_aligned_gives_the_smallest_block_it_fits_in() {
    // Holes by size: (90, 6), (3, 9), (60, 10), (20, 24).
    let holes = [(3, 9), (20, 24), (60, 10), (90, 6)];
    let mut heap = heap_with_holes(Policy::BestFit, 100, &holes);
    assert_eq!(alloc_aligned(&mut heap, 4, 8), 8, "(90, 6) is large enough but not once aligned; (3, 9) is next");
    assert_eq!(heap.blocks()[..3], [allocated(0, 3), free_block(3, 5), allocated(8, 4)]);
    let mut heap = heap_with_holes(Policy::BestFit, 100, &holes);
    assert_eq!(alloc_aligned(&mut heap, 6, 8), 64, "the 10-unit hole, at its lowest multiple of 8");
    assert_eq!(heap.blocks()[5..8], [free_block(60, 4), allocated(64, 6), allocated(70, 20)]);
    let mut heap = heap_with_holes(Policy::BestFit, 100, &holes);
    assert_eq!(alloc_aligned(&mut heap, 7, 8), 24, "only the 24-unit hole holds 7 at a multiple of 8");
    assert_eq!(heap.blocks()[3..6], [free_block(20, 4), allocated(24, 7), free_block(31, 13)]);
    let mut heap = heap_with_holes(Policy::BestFit, 100, &holes);
    assert_eq!(alloc_aligned(&mut heap, 2, 4), 92, "the smallest hole, at its lowest multiple of 4");
    assert_eq!(alloc_aligned(&mut heap, 2, 4), 4, "its two 2-unit rests are misaligned: then the 9-unit hole");
}

#[test]
fn best_fit_aligned_ties_go_to_the_lowest_address() {
    let mut heap = heap_with_holes(Policy::BestFit, 100, &[(10, 12), (40, 12), (70, 12)]);
    assert_eq!(alloc_aligned(&mut heap, 4, 8), 16);
    assert_eq!(alloc_aligned(&mut heap, 4, 8), 40);
}

#[test]
fn allocate_aligned_uses_the_larger_of_alignment_and_min_alignment() {
    for policy in POLICIES {
        let mut heap = aligned_heap(policy, 256, 16);
        assert_eq!(alloc(&mut heap, 1), 0);
        assert_eq!(alloc_aligned(&mut heap, 1, 2), 16);
        assert_eq!(alloc_aligned(&mut heap, 1, 64), 64);
        assert_eq!(
            heap.blocks()[..5],
            [allocated(0, 1), padding(1, 15), allocated(16, 1), padding(17, 15), free_block(32, 32)]
        );
        assert_eq!(heap.stats().padding, 45);
    }
}

#[test]
fn allocate_aligned_with_a_huge_alignment_on_a_huge_capacity() {
    for policy in POLICIES {
        let mut heap = heap(policy, usize::MAX);
        assert_eq!(alloc(&mut heap, 1), 0);
        assert_eq!(alloc_aligned(&mut heap, 1, 1 << 63), 1 << 63);
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate_aligned(1, 1 << 63));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate_aligned(1 << 63, 1 << 62));
        assert_eq!(alloc_aligned(&mut heap, 1 << 62, 1 << 62), 1 << 62);
        assert_eq!(heap.free_memory(), usize::MAX - 2 - (1 << 62));
    }
}

#[test]
fn debug_output_names_the_policy_and_the_counters() {
    let mut heap = MemoryAllocator::new(100).unwrap();
    heap.allocate(20).unwrap();
    let debug = format!("{heap:?}");
    assert!(debug.starts_with("MemoryAllocator {"), "{debug}");
    assert!(debug.contains("FirstFit") && debug.contains("allocated: 20"), "{debug}");
}
