//! Placement control and a resizable range, one named case per rule of docs/CONTRACT.md and
//! the doc comments of `MemoryAllocator::allocate_with`, `allocate_at` and `set_capacity`:
//! their check orders ("first failing wins"), ranged and top-down placement under each
//! policy on small hand-made maps, fixed reservations, growing and shrinking the range,
//! the equivalence of a resized allocator with a fresh one given the same allocations, and
//! the attributes an allocation keeps when it moves or the range changes (its alignment,
//! its tag as `tag_of` reads it, its pin as `compact` respects it).
//!
//! Every step runs `check_invariants()`; every rejected call must leave `blocks()` and
//! `stats()` exactly as they were (`support::assert_rejected`).

mod support;

use memalloc::{Block, BlockKind, Error, MemoryAllocator, Options, Policy, Request};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use support::{allocated, assert_rejected, check, free_block, padding};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn create(policy: Policy, capacity: usize, min_alignment: usize) -> MemoryAllocator {
    let heap = MemoryAllocator::with_options(Options::new(capacity).policy(policy).min_alignment(min_alignment))
        .unwrap_or_else(|e| panic!("{policy}: capacity {capacity}, min_alignment {min_alignment}: {e}"));
    check(&heap);
    heap
}

/// The units an allocation of `size` occupies under the options of `heap`.
fn footprint(heap: &MemoryAllocator, size: usize) -> usize {
    let rounded = size.next_multiple_of(heap.min_alignment());
    if heap.policy() == Policy::Buddy { rounded.next_power_of_two() } else { rounded }
}

/// The free extents `(start, size)`, by address.
fn free_list(heap: &MemoryAllocator) -> Vec<(usize, usize)> {
    heap.blocks().iter().filter(|b| b.kind == BlockKind::Free).map(|b| (b.start, b.size)).collect()
}

/// The live allocations `(start, size)`, by address.
fn live(heap: &MemoryAllocator) -> Vec<(usize, usize)> {
    heap.blocks().iter().filter(|b| b.kind == BlockKind::Allocated).map(|b| (b.start, b.size)).collect()
}

/// `allocate_with(request)` succeeds; what holds for every policy is checked: the address
/// is a multiple of the effective alignment, the footprint lies inside the range (clamped
/// to the capacity) and was free, and exactly the footprint left free space.
#[track_caller]
fn with(heap: &mut MemoryAllocator, request: &Request) -> usize {
    let free_before = free_list(heap);
    let free_units = heap.free_memory();
    let addr = heap
        .allocate_with(request)
        .unwrap_or_else(|e| panic!("{}: allocate_with({request:?}): {e}\nmap: {heap}", heap.policy()));
    check(heap);
    let fp = footprint(heap, request.size);
    let effective = request.alignment.max(heap.min_alignment());
    let what = format!("{}: allocate_with({request:?}) gave {addr}", heap.policy());
    assert_eq!(addr % effective, 0, "{what}: misaligned");
    assert!(addr >= request.range.start && addr + fp <= request.range.end.min(heap.capacity()), "{what}: out of range");
    assert!(free_before.iter().any(|&(s, n)| s <= addr && addr + fp <= s + n), "{what}: not inside a free block");
    assert_eq!(free_units - heap.free_memory(), fp, "{what}: took other than its footprint");
    assert_eq!(heap.size_of(addr), Ok(request.size), "{what}");
    addr
}

/// `allocate_at(addr, size)` succeeds, and the allocation is live with its size.
#[track_caller]
fn at(heap: &mut MemoryAllocator, addr: usize, size: usize) {
    heap.allocate_at(addr, size)
        .unwrap_or_else(|e| panic!("{}: allocate_at({addr}, {size}): {e}\nmap: {heap}", heap.policy()));
    check(heap);
    assert_eq!(heap.size_of(addr), Ok(size), "{}: allocate_at({addr}, {size})", heap.policy());
}

/// `set_capacity(n)` succeeds; the live allocations stay where they were.
#[track_caller]
fn resize(heap: &mut MemoryAllocator, n: usize) {
    let before = live(heap);
    heap.set_capacity(n).unwrap_or_else(|e| panic!("{}: set_capacity({n}): {e}\nmap: {heap}", heap.policy()));
    check(heap);
    assert_eq!(heap.capacity(), n, "{}: set_capacity({n})", heap.policy());
    assert_eq!(live(heap), before, "{}: set_capacity({n}) moved an allocation", heap.policy());
}

/// A heap of `capacity` (any policy but buddy) whose allocations are exactly `used`
/// (reserved with `allocate_at`), so that its free blocks are the gaps between them.
fn layout(policy: Policy, capacity: usize, used: &[(usize, usize)]) -> MemoryAllocator {
    let mut heap = create(policy, capacity, 1);
    for &(addr, size) in used {
        at(&mut heap, addr, size);
    }
    heap
}

/// The map in the reference notation.
fn show(blocks: &[Block]) -> String {
    blocks.iter().map(Block::to_string).collect::<Vec<_>>().join(" ")
}

/// What `allocate_with` is asked in the placement tables: size, range, top-down,
/// alignment.
fn request(size: usize, range: std::ops::Range<usize>, top_down: bool, alignment: usize) -> Request {
    let request = Request::new(size).within(range).align(alignment);
    if top_down { request.top_down() } else { request }
}

/// A placement case: `(size, range, top_down, alignment, expected)`.
type Case = (usize, std::ops::Range<usize>, bool, usize, Result<usize, Error>);

/// Runs each case on a copy of `base`.
#[track_caller]
fn placements(base: &MemoryAllocator, cases: &[Case]) {
    for (size, range, top_down, alignment, expected) in cases.iter().cloned() {
        let mut heap = base.clone();
        let r = request(size, range, top_down, alignment);
        match expected {
            Ok(want) => assert_eq!(with(&mut heap, &r), want, "{}: {r:?}\nmap: {base}", base.policy()),
            Err(error) => assert_rejected(&mut heap, error, |h| h.allocate_with(&r)),
        }
    }
}

/// Whether some free block of `free` has `fp` units on a multiple of `align` inside
/// `[lo, hi)`; under buddy, as a buddy block (a multiple of `fp` too).
fn fit_exists(free: &[(usize, usize)], fp: usize, align: usize, lo: usize, hi: usize) -> bool {
    free.iter().any(|&(start, size)| {
        let (from, to) = (start.max(lo), (start + size).min(hi));
        from.checked_next_multiple_of(align).is_some_and(|at| at.checked_add(fp).is_some_and(|end| end <= to))
    })
}

// ---------------------------------------------------------------------------------------
// allocate_with: check order
// ---------------------------------------------------------------------------------------

/// A heap of 200 with live allocations of 20 and 30 units and the rest free.
fn busy(policy: Policy, min_alignment: usize) -> MemoryAllocator {
    let mut heap = create(policy, 200, min_alignment);
    heap.allocate(20).unwrap();
    heap.allocate(30).unwrap();
    check(&heap);
    heap
}

#[test]
fn allocate_with_rejects_a_bad_alignment_first() {
    for policy in Policy::ALL {
        for min_alignment in [1, 8] {
            let mut heap = busy(policy, min_alignment);
            for align in [0, 3, 6, 12, usize::MAX, (1 << 40) + 1, (usize::MAX >> 1) + 2] {
                // Beats size 0, an empty range and out of memory.
                let bad = Request::new(0).align(align).within(5..5);
                assert_rejected(&mut heap, Error::InvalidAlignment, |h| h.allocate_with(&bad));
                let bad = Request::new(usize::MAX).align(align).top_down().tag(9).pinned();
                assert_rejected(&mut heap, Error::InvalidAlignment, |h| h.allocate_with(&bad));
                assert_rejected(&mut heap, Error::InvalidAlignment, |h| h.allocate_with(&Request::new(5).align(align)));
            }
        }
    }
}

#[test]
#[expect(clippy::reversed_empty_ranges, reason = "reversed ranges are rejected as empty")]
fn allocate_with_rejects_size_zero_before_the_range() {
    for policy in Policy::ALL {
        for min_alignment in [1, 8] {
            let mut heap = busy(policy, min_alignment);
            for range in [5..5, 10..5, 0..0, 200..usize::MAX, usize::MAX..usize::MAX, 0..usize::MAX, 30..40] {
                let bad = Request::new(0).within(range.clone());
                assert_rejected(&mut heap, Error::InvalidSize, |h| h.allocate_with(&bad));
                assert_rejected(&mut heap, Error::InvalidSize, |h| h.allocate_with(&bad.clone().align(64).top_down()));
            }
        }
    }
}

#[test]
#[expect(clippy::reversed_empty_ranges, reason = "reversed ranges are rejected as empty")]
fn allocate_with_rejects_a_range_empty_once_clamped_before_out_of_memory() {
    for policy in Policy::ALL {
        for min_alignment in [1, 8] {
            let mut heap = busy(policy, min_alignment);
            // lo >= min(hi, capacity): empty, reversed, at or past the capacity.
            for range in [5..5, 10..5, 0..0, 199..199, 200..201, 200..usize::MAX, 300..100, usize::MAX..usize::MAX] {
                for size in [1, 10, usize::MAX] {
                    let bad = Request::new(size).within(range.clone());
                    assert_rejected(&mut heap, Error::InvalidArgument, |h| h.allocate_with(&bad));
                    let bad = bad.align(1 << 20).top_down();
                    assert_rejected(&mut heap, Error::InvalidArgument, |h| h.allocate_with(&bad));
                }
            }
            // The last unit alone is a range; too small for 2 units.
            assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate_with(&Request::new(2).within(199..200)));
            assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate_with(&Request::new(2).within(199..1000)));
        }
    }
}

#[test]
fn allocate_with_out_of_memory_only_when_nothing_fits_in_the_range() {
    for policy in Policy::ALL {
        for min_alignment in [1, 8] {
            let mut heap = busy(policy, min_alignment);
            let oom = |heap: &mut MemoryAllocator, request: Request| {
                assert_rejected(heap, Error::OutOfMemory, |h| h.allocate_with(&request));
                assert_rejected(heap, Error::OutOfMemory, |h| h.allocate_with(&request.top_down()));
            };
            for size in [201, 1000, usize::MAX >> 1, usize::MAX - 1, usize::MAX] {
                oom(&mut heap, Request::new(size));
                oom(&mut heap, Request::new(size).within(0..usize::MAX));
            }
            // No multiple of 256 (or of 2^63) in [1, 200).
            oom(&mut heap, Request::new(1).align(256).within(1..200));
            oom(&mut heap, Request::new(1).align((usize::MAX >> 1) + 1).within(1..usize::MAX));
            // A range inside a live allocation.
            let (addr, size) = live(&heap)[0];
            oom(&mut heap, Request::new(1).within(addr..addr + size));
            // Every free unit is reachable: the largest free block fits, one more does not.
            let largest = heap.largest_free_block();
            oom(&mut heap, Request::new(largest + 1));
            let mut copy = heap.clone();
            with(&mut copy, &Request::new(largest).top_down());
        }
        // A range in the tail past the last multiple of min_alignment: not empty, but no
        // footprint can use it.
        let mut heap = create(policy, 100, 8);
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate_with(&Request::new(1).within(97..100)));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate_with(&Request::new(1).within(96..1000)));
        assert_eq!(with(&mut heap, &Request::new(1).within(88..1000)), 88, "{policy}");
    }
}

// ---------------------------------------------------------------------------------------
// allocate_with: the defaults are allocate and allocate_aligned
// ---------------------------------------------------------------------------------------

#[test]
fn allocate_with_the_defaults_is_allocate_address_for_address() {
    for policy in Policy::ALL {
        for min_alignment in [1, 4] {
            let mut plain = create(policy, 4096, min_alignment);
            let mut requested = plain.clone();
            let mut rng = SmallRng::seed_from_u64(policy as u64 * 10 + min_alignment as u64);
            let mut addrs: Vec<(usize, usize)> = Vec::new();
            for step in 0..600 {
                if addrs.is_empty() || rng.random_bool(0.6) {
                    let size = rng.random_range(1..=80);
                    let align = if rng.random_bool(0.3) { 1 << rng.random_range(0..8) } else { 1 };
                    // A tag or a pin changes no address.
                    let request = Request::new(size).align(align).tag(rng.random());
                    let request = if rng.random_bool(0.5) { request.pinned() } else { request };
                    let want = if align == 1 { plain.allocate(size) } else { plain.allocate_aligned(size, align) };
                    let got = requested.allocate_with(&request);
                    assert_eq!(got, want, "{policy}, step {step}: {request:?}");
                    addrs.extend(got.ok().map(|addr| (addr, size)));
                } else {
                    let (addr, size) = addrs.swap_remove(rng.random_range(0..addrs.len()));
                    plain.free(addr, size).unwrap();
                    requested.free(addr, size).unwrap();
                }
                check(&requested);
                // The same extents; only the tags (shown in the map) differ.
                let untagged: Vec<_> =
                    requested.blocks().into_iter().map(|b| memalloc::Block { tag: 0, ..b }).collect();
                assert_eq!(untagged, plain.blocks(), "{policy}, step {step}");
                assert_eq!(requested.stats(), plain.stats(), "{policy}, step {step}");
            }
        }
    }
}

#[test]
fn allocate_with_the_whole_range_is_allocate_for_first_fit_and_best_fit() {
    // For these two the rule fixes the address: "the lowest aligned address in [lo, hi)"
    // and "the smallest free block whose part in the range holds it".
    for policy in [Policy::FirstFit, Policy::BestFit] {
        let base = layout(policy, 120, &[(0, 10), (40, 10), (62, 8), (90, 5), (107, 13)]);
        for size in [1, 5, 12, 13, 30] {
            for range in [0..120, 0..usize::MAX, 0..1000] {
                let mut plain = base.clone();
                let mut ranged = base.clone();
                let want = plain.allocate(size);
                assert_eq!(ranged.allocate_with(&Request::new(size).within(range)), want, "{policy} {size}");
                assert_eq!(ranged.blocks(), plain.blocks());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// allocate_with: ranged and top-down placement, per policy
// ---------------------------------------------------------------------------------------

#[test]
fn first_fit_takes_the_lowest_aligned_place_in_the_range_top_down_the_highest() {
    // [Used(0-9)] [Free(10-19)] [Used(20-29)] [Free(30-59)] [Used(60-69)] [Free(70-84)] [Used(85-99)]
    let base = layout(Policy::FirstFit, 100, &[(0, 10), (20, 10), (60, 10), (85, 15)]);
    assert_eq!(free_list(&base), [(10, 10), (30, 30), (70, 15)]);
    let oom = Err(Error::OutOfMemory);
    placements(
        &base,
        &[
            (12, 0..100, false, 1, Ok(30)),
            (12, 0..100, true, 1, Ok(73)),
            (12, 35..100, false, 1, Ok(35)),
            (12, 35..100, true, 1, Ok(73)),
            (12, 0..60, true, 1, Ok(48)),
            (12, 0..59, true, 1, Ok(47)),
            (16, 0..100, true, 1, Ok(44)),
            (10, 0..100, true, 1, Ok(75)),
            (10, 0..100, false, 1, Ok(10)),
            // Exactly the range's 6 units of the first hole; one more fits nowhere.
            (6, 12..18, false, 1, Ok(12)),
            (6, 12..18, true, 1, Ok(12)),
            (7, 12..18, false, 1, oom),
            // Two holes, 5 units of each in the range.
            (5, 15..35, false, 1, Ok(15)),
            (5, 15..35, true, 1, Ok(30)),
            (6, 15..35, false, 1, oom),
            (6, 15..35, true, 1, oom),
            // Aligned: the lowest (highest) multiple of 8 with room.
            (8, 31..100, false, 8, Ok(32)),
            (8, 0..100, true, 8, Ok(72)),
            (8, 0..70, true, 8, Ok(48)),
            (1, 0..100, false, 32, Ok(32)),
            (1, 0..100, true, 32, Ok(32)),
            (1, 0..100, true, 64, oom),
            // hi is clamped to the capacity.
            (5, 80..usize::MAX, true, 1, Ok(80)),
            (5, 80..usize::MAX, false, 1, Ok(80)),
            (15, 0..usize::MAX, true, 1, Ok(70)),
            (31, 0..100, false, 1, oom),
            (31, 0..100, true, 1, oom),
            // A range entirely inside an allocation.
            (1, 20..30, false, 1, oom),
        ],
    );
    // The map after a top-down placement: the block's low part stays free.
    let mut heap = base.clone();
    assert_eq!(with(&mut heap, &Request::new(12).within(0..60).top_down()), 48);
    assert_eq!(
        heap.blocks(),
        [
            allocated(0, 10),
            free_block(10, 10),
            allocated(20, 10),
            free_block(30, 18),
            allocated(48, 12),
            allocated(60, 10),
            free_block(70, 15),
            allocated(85, 15)
        ]
    );
    // A gap before an aligned block and the rest after it both stay free.
    let mut heap = base.clone();
    assert_eq!(with(&mut heap, &Request::new(8).within(31..50).align(8)), 32);
    assert_eq!(show(&heap.blocks()[2..6]), "[Allocated(20-29)] [Free(30-31)] [Allocated(32-39)] [Free(40-59)]");
}

#[test]
fn first_fit_top_down_on_the_whole_of_usize() {
    let mut heap = create(Policy::FirstFit, usize::MAX, 1);
    assert_eq!(with(&mut heap, &Request::new(10).top_down()), usize::MAX - 10);
    assert_eq!(with(&mut heap, &Request::new(5).within(usize::MAX - 20..usize::MAX).top_down()), usize::MAX - 15);
    assert_eq!(with(&mut heap, &Request::new(1).align((usize::MAX >> 1) + 1).top_down()), (usize::MAX >> 1) + 1);
    // The highest place is in the block above 2^63.
    assert_eq!(with(&mut heap, &Request::new(usize::MAX >> 2).top_down()), usize::MAX - 15 - (usize::MAX >> 2));
    assert_eq!(with(&mut heap, &Request::new(3)), 0);
    assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate_with(&Request::new(usize::MAX >> 1).top_down()));
}

#[test]
fn best_fit_takes_the_smallest_block_whose_part_in_the_range_fits() {
    // Free: 30 at 10, 12 at 50, 20 at 70, 12 at 95.
    let base = layout(Policy::BestFit, 120, &[(0, 10), (40, 10), (62, 8), (90, 5), (107, 13)]);
    assert_eq!(free_list(&base), [(10, 30), (50, 12), (70, 20), (95, 12)]);
    let oom = Err(Error::OutOfMemory);
    placements(
        &base,
        &[
            // The two 12-unit blocks tie: the lowest, top-down the highest, at that block's
            // lowest (highest) address.
            (11, 0..120, false, 1, Ok(50)),
            (11, 0..120, true, 1, Ok(96)),
            (5, 55..120, false, 1, Ok(55)),
            (5, 55..120, true, 1, Ok(102)),
            // By the block's whole size, not its part's: in [0, 78) the 20-unit block has
            // only 8 units, fewer than the 12-unit block at 50; the 12-unit block wins.
            (8, 0..78, false, 1, Ok(50)),
            (8, 0..78, true, 1, Ok(54)),
            // The part of the block at 50 in [0, 60) is too small: the 30-unit block.
            (12, 0..60, false, 1, Ok(10)),
            (12, 0..60, true, 1, Ok(28)),
            (13, 0..120, false, 1, Ok(70)),
            (13, 0..120, true, 1, Ok(77)),
            (21, 0..120, false, 1, Ok(10)),
            (21, 0..120, true, 1, Ok(19)),
            // Aligned: only the blocks with room on a multiple of 16 count (not 50-61).
            (4, 0..120, false, 16, Ok(96)),
            (4, 0..120, true, 16, Ok(96)),
            (4, 0..95, false, 16, Ok(80)),
            (4, 0..95, true, 16, Ok(80)),
            (4, 0..80, false, 16, Ok(16)),
            (4, 0..80, true, 16, Ok(32)),
            (12, 96..120, false, 1, oom),
            (11, 96..120, false, 1, Ok(96)),
            (31, 0..120, false, 1, oom),
            (31, 0..120, true, 1, oom),
        ],
    );
}

#[test]
fn tlsf_places_at_the_low_or_high_end_of_the_only_part_that_fits() {
    // Free: 79 at 1, 60 at 130, 15 at 300, 27 at 500.
    let base = layout(Policy::Tlsf, 1000, &[(0, 1), (80, 50), (190, 110), (315, 185), (527, 473)]);
    assert_eq!(free_list(&base), [(1, 79), (130, 60), (300, 15), (500, 27)]);
    let oom = Err(Error::OutOfMemory);
    placements(
        &base,
        &[
            (50, 100..400, false, 1, Ok(130)),
            (50, 100..400, true, 1, Ok(140)),
            (49, 0..50, false, 1, Ok(1)),
            (49, 0..50, true, 1, Ok(1)),
            (50, 0..50, false, 1, oom),
            (15, 290..320, false, 1, Ok(300)),
            (15, 290..320, true, 1, Ok(300)),
            (16, 290..320, false, 1, oom),
            (10, 505..600, false, 1, Ok(505)),
            (10, 505..600, true, 1, Ok(517)),
            // Only 64 has 16 units on a multiple of 64.
            (16, 0..1000, false, 64, Ok(64)),
            (16, 0..1000, true, 64, Ok(64)),
            (17, 0..1000, true, 64, oom),
            (61, 0..1000, false, 1, Ok(1)),
            (61, 0..1000, true, 1, Ok(19)),
            (80, 0..1000, false, 1, oom),
        ],
    );
}

#[test]
fn buddy_splits_down_to_the_lowest_or_highest_buddy_block_in_the_range() {
    let base = create(Policy::Buddy, 256, 1);
    let oom = Err(Error::OutOfMemory);
    placements(
        &base,
        &[
            (10, 100..200, false, 1, Ok(112)),
            (10, 100..200, true, 1, Ok(176)),
            // The 16-unit blocks at 96 and 112 start or end outside [100, 120).
            (10, 100..120, false, 1, oom),
            (10, 96..112, false, 1, Ok(96)),
            (10, 96..112, true, 1, Ok(96)),
            (100, 1..256, false, 1, Ok(128)),
            (100, 0..255, true, 1, Ok(0)),
            (129, 0..256, false, 1, Ok(0)),
            (129, 1..256, false, 1, oom),
            (1, 0..256, true, 32, Ok(224)),
            (1, 0..256, true, 1, Ok(255)),
        ],
    );
    let mut heap = base.clone();
    assert_eq!(with(&mut heap, &Request::new(10).within(100..200)), 112);
    assert_eq!(
        show(&heap.blocks()),
        "[Free(0-63)] [Free(64-95)] [Free(96-111)] [Allocated(112-121)] [Padding(122-127)] [Free(128-255)]"
    );
    // The smallest free block whose part holds a 16-unit buddy block: 96 (16 units) for the
    // whole range; in [0, 100) the 32-unit block at 64, whose low (high) half is taken.
    placements(
        &heap,
        &[
            (10, 0..256, false, 1, Ok(96)),
            (10, 0..100, false, 1, Ok(64)),
            (10, 0..100, true, 1, Ok(80)),
            // On a multiple of 32 from 100 on: only inside the 128-unit block.
            (1, 100..256, false, 32, Ok(128)),
            (1, 100..256, true, 32, Ok(224)),
            (64, 0..128, false, 1, Ok(0)),
            (65, 0..128, false, 1, oom),
        ],
    );
    let mut top = base.clone();
    assert_eq!(with(&mut top, &Request::new(10).within(100..200).top_down()), 176);
    assert_eq!(
        show(&top.blocks()),
        "[Free(0-127)] [Free(128-159)] [Free(160-175)] [Allocated(176-185)] [Padding(186-191)] [Free(192-255)]"
    );
}

/// TLSF and buddy leave the block to the policy: on random maps and random requests,
/// every answer lies, aligned, in a free block's part inside the range, at that part's
/// low (top-down: high) end (buddy: a buddy block of a free block), and out of memory
/// comes exactly when no such place exists.
#[test]
fn tlsf_and_buddy_place_inside_the_range_and_fail_only_when_nothing_fits() {
    for policy in [Policy::Tlsf, Policy::Buddy] {
        for min_alignment in [1, 4] {
            let mut heap = create(policy, 2000, min_alignment);
            let mut rng = SmallRng::seed_from_u64(17 + policy as u64 + min_alignment as u64);
            // Full, then every other allocation freed: free blocks of all sizes up to 80.
            while heap.allocate(rng.random_range(1..=40)).is_ok() {}
            for (addr, size) in live(&heap).into_iter().step_by(2) {
                heap.free(addr, size).unwrap();
            }
            check(&heap);
            let free = free_list(&heap);
            let (mut fits, mut misses) = (0, 0);
            for _ in 0..800 {
                let (a, b) = (rng.random_range(0..2100), rng.random_range(0..2100));
                let (lo, hi) = (a.min(b), a.max(b) + 1);
                let size = rng.random_range(1..=80);
                let align = 1 << rng.random_range(0..7);
                let r = request(size, lo..hi, rng.random_bool(0.5), align);
                let mut copy = heap.clone();
                let fp = footprint(&heap, size);
                let effective = align.max(min_alignment);
                let hi = hi.min(heap.capacity());
                let placement = if policy == Policy::Buddy { effective.max(fp) } else { effective };
                if lo >= hi {
                    assert_rejected(&mut copy, Error::InvalidArgument, |h| h.allocate_with(&r));
                } else if fit_exists(&free, fp, placement, lo, hi) {
                    let addr = with(&mut copy, &r);
                    // At the low (high) end of the part of the block that holds it.
                    let (start, size) = *free.iter().find(|&&(s, n)| s <= addr && addr + fp <= s + n).unwrap();
                    let (from, to) = (start.max(lo), (start + size).min(hi));
                    let end = if r.top_down { (to - fp) & !(placement - 1) } else { from.next_multiple_of(placement) };
                    assert_eq!(addr, end, "{policy}: {r:?} in the free block ({start}, {size})");
                    fits += 1;
                } else {
                    assert_rejected(&mut copy, Error::OutOfMemory, |h| h.allocate_with(&r));
                    misses += 1;
                }
            }
            assert!(fits > 100 && misses > 100, "{policy}: {fits} fits, {misses} misses: tune the test");
        }
    }
}

// ---------------------------------------------------------------------------------------
// allocate_at
// ---------------------------------------------------------------------------------------

/// A heap of 128 with live allocations of 20 units at 0 and 16 at 64; their footprints
/// are aligned for every policy and both minimum alignments used here.
fn two_reserved(policy: Policy, min_alignment: usize) -> MemoryAllocator {
    let mut heap = create(policy, 128, min_alignment);
    at(&mut heap, 0, 20);
    at(&mut heap, 64, 16);
    heap
}

#[test]
fn allocate_at_checks_in_order() {
    for policy in Policy::ALL {
        for min_alignment in [1, 8] {
            let mut heap = two_reserved(policy, min_alignment);
            let mut rejected = |expected: Error, addr: usize, size: usize| {
                assert_rejected(&mut heap, expected, |h| h.allocate_at(addr, size));
            };
            // addr >= capacity beats size 0 and overflow.
            for (addr, size) in [(128, 1), (128, 0), (200, 5), (usize::MAX, usize::MAX), (usize::MAX, 0)] {
                rejected(Error::InvalidAddress, addr, size);
            }
            // Size 0, past the capacity or overflowing: beats misalignment and occupancy.
            for (addr, size) in [(0, 0), (5, 0), (100, 0), (127, 2), (1, usize::MAX), (64, usize::MAX), (0, 129)] {
                rejected(Error::InvalidSize, addr, size);
            }
            rejected(Error::InvalidSize, 96, 33);
            // Not a multiple of min_alignment (buddy: of the footprint): beats occupancy.
            if min_alignment > 1 {
                for (addr, size) in [(4, 4), (1, 1), (100, 3), (65, 1), (127, 1)] {
                    rejected(Error::InvalidAlignment, addr, size);
                }
            }
            if policy == Policy::Buddy {
                // Footprints 16, 32, 64 and 128, on addresses that are not multiples.
                for (addr, size) in [(8, 16), (16, 20), (32, 33), (32, 65), (80, 17), (104, 9)] {
                    rejected(Error::InvalidAlignment, addr, size);
                }
            }
            // Some unit of the footprint is not free.
            for (addr, size) in [(0, 1), (0, 20), (0, 128), (64, 16), (64, 1), (64, 64)] {
                rejected(Error::Occupied, addr, size);
            }
            if policy != Policy::Buddy {
                // Inside, overlapping either end, covering a live allocation whole.
                for (addr, size) in [(8, 8), (16, 8), (56, 16), (72, 8), (48, 40), (16, 64)] {
                    rejected(Error::Occupied, addr, size);
                }
            }
        }
    }
}

#[test]
fn allocate_at_reserves_exactly_the_range() {
    for policy in [Policy::FirstFit, Policy::BestFit, Policy::Tlsf] {
        let mut heap = create(policy, 100, 1);
        at(&mut heap, 30, 10);
        assert_eq!(heap.blocks(), [free_block(0, 30), allocated(30, 10), free_block(40, 60)], "{policy}");
        at(&mut heap, 0, 30);
        assert_eq!(heap.blocks(), [allocated(0, 30), allocated(30, 10), free_block(40, 60)], "{policy}");
        // At the capacity's end.
        at(&mut heap, 90, 10);
        assert_eq!(heap.blocks()[2..], [free_block(40, 50), allocated(90, 10)], "{policy}");
        assert_rejected(&mut heap, Error::Occupied, |h| h.allocate_at(99, 1));
        assert_rejected(&mut heap, Error::Occupied, |h| h.allocate_at(39, 2));
        assert_rejected(&mut heap, Error::Occupied, |h| h.allocate_at(89, 2));
        // Exactly the whole of a free block.
        at(&mut heap, 40, 50);
        assert_eq!(heap.stats().free, 0);
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(1));
        // A reservation is freed like any allocation, and merges back.
        heap.free(30, 10).unwrap();
        assert_rejected(&mut heap, Error::SizeMismatch, |h| h.free(40, 49));
        heap.free_at(40).unwrap();
        assert_eq!(heap.blocks(), [allocated(0, 30), free_block(30, 60), allocated(90, 10)]);
        at(&mut heap, 31, 58);
        assert_eq!(show(&heap.blocks()[1..4]), "[Free(30-30)] [Allocated(31-88)] [Free(89-89)]", "{policy}");
        heap.free(0, 30).unwrap();
        heap.free(31, 58).unwrap();
        heap.free(90, 10).unwrap();
        check(&heap);
        assert_eq!(heap.blocks(), [free_block(0, 100)]);
    }
}

#[test]
fn allocate_at_with_min_alignment_reserves_the_footprint() {
    for policy in [Policy::FirstFit, Policy::BestFit, Policy::Tlsf] {
        // 100 units on multiples of 8: 96 usable, the last 4 padding for good.
        let mut heap = create(policy, 100, 8);
        at(&mut heap, 8, 3);
        assert_eq!(
            heap.blocks(),
            [free_block(0, 8), allocated(8, 3), padding(11, 5), free_block(16, 80), padding(96, 4)],
            "{policy}"
        );
        // Its padding is taken: occupied, once aligned.
        assert_rejected(&mut heap, Error::InvalidAlignment, |h| h.allocate_at(11, 1));
        assert_rejected(&mut heap, Error::Occupied, |h| h.allocate_at(8, 1));
        assert_rejected(&mut heap, Error::Occupied, |h| h.allocate_at(0, 9));
        // The tail: in the capacity, but no footprint can use it.
        assert_rejected(&mut heap, Error::Occupied, |h| h.allocate_at(96, 4));
        assert_rejected(&mut heap, Error::Occupied, |h| h.allocate_at(96, 1));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.allocate_at(96, 5));
        assert_rejected(&mut heap, Error::Occupied, |h| h.allocate_at(88, 9));
        at(&mut heap, 88, 8);
        at(&mut heap, 0, 8);
        assert_eq!(heap.stats().padding, 5 + 4);
    }
}

#[test]
fn allocate_at_under_buddy_takes_a_buddy_block_of_a_free_block() {
    let mut heap = create(Policy::Buddy, 64, 1);
    at(&mut heap, 32, 16);
    assert_eq!(show(&heap.blocks()), "[Free(0-31)] [Allocated(32-47)] [Free(48-63)]");
    at(&mut heap, 16, 9);
    assert_eq!(
        show(&heap.blocks()),
        "[Free(0-15)] [Allocated(16-24)] [Padding(25-31)] [Allocated(32-47)] [Free(48-63)]"
    );
    assert_rejected(&mut heap, Error::InvalidAlignment, |h| h.allocate_at(8, 16));
    assert_rejected(&mut heap, Error::InvalidAlignment, |h| h.allocate_at(40, 17));
    assert_rejected(&mut heap, Error::Occupied, |h| h.allocate_at(0, 17));
    assert_rejected(&mut heap, Error::Occupied, |h| h.allocate_at(24, 8));
    at(&mut heap, 56, 1);
    assert_eq!(show(&heap.blocks()[4..]), "[Free(48-55)] [Allocated(56-56)] [Free(57-57)] [Free(58-59)] [Free(60-63)]");
    // Freed, everything merges back.
    for addr in [56, 16, 32] {
        heap.free_at(addr).unwrap();
        check(&heap);
    }
    assert_eq!(heap.blocks(), [free_block(0, 64)]);

    // 100 = 64 + 32 + 4: a footprint may not reach past the usable range, even where the
    // units inside the capacity are free.
    let mut heap = create(Policy::Buddy, 100, 1);
    assert_rejected(&mut heap, Error::Occupied, |h| h.allocate_at(64, 33));
    at(&mut heap, 98, 2);
    assert_eq!(show(&heap.blocks()[2..]), "[Free(96-97)] [Allocated(98-99)]");
    at(&mut heap, 64, 32);
    at(&mut heap, 0, 33);
    assert_eq!(heap.stats().free, 2);
}

#[test]
fn allocate_at_on_the_whole_of_usize() {
    for policy in Policy::ALL {
        let mut heap = create(policy, usize::MAX, 1);
        // The last unit (under buddy: the last top-level block, of one unit).
        at(&mut heap, usize::MAX - 1, 1);
        assert_rejected(&mut heap, Error::Occupied, |h| h.allocate_at(usize::MAX - 1, 1));
        assert_rejected(&mut heap, Error::InvalidSize, |h| h.allocate_at(usize::MAX - 1, 2));
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.allocate_at(usize::MAX, 1));
        at(&mut heap, 0, 1 << 40);
        assert_rejected(&mut heap, Error::Occupied, |h| h.allocate_at(1 << 39, 1 << 39));
    }
}

// ---------------------------------------------------------------------------------------
// set_capacity
// ---------------------------------------------------------------------------------------

#[test]
fn set_capacity_checks_zero_then_the_live_footprints() {
    for policy in Policy::ALL {
        for min_alignment in [1, 8] {
            let mut heap = two_reserved(policy, min_alignment);
            let end = 64 + footprint(&heap, 16);
            assert_rejected(&mut heap, Error::InvalidArgument, |h| h.set_capacity(0));
            for n in [1, 20, 63, 64, end - 1] {
                assert_rejected(&mut heap, Error::Occupied, |h| h.set_capacity(n));
            }
            resize(&mut heap, end);
            assert_rejected(&mut heap, Error::InvalidArgument, |h| h.set_capacity(0));
            assert_rejected(&mut heap, Error::Occupied, |h| h.set_capacity(end - 1));
            // Empty: any positive capacity.
            let mut empty = create(policy, 100, min_alignment);
            assert_rejected(&mut empty, Error::InvalidArgument, |h| h.set_capacity(0));
            resize(&mut empty, 1);
            resize(&mut empty, usize::MAX);
        }
    }
}

#[test]
fn set_capacity_checks_the_footprint_not_the_size() {
    for policy in Policy::ALL {
        // 3 units: footprint 8 with min_alignment 8 (and under buddy 4 with 1).
        let mut heap = create(policy, 100, 8);
        at(&mut heap, 0, 3);
        for n in [3, 4, 7] {
            assert_rejected(&mut heap, Error::Occupied, |h| h.set_capacity(n));
        }
        resize(&mut heap, 8);
        assert_eq!(heap.blocks(), [allocated(0, 3), padding(3, 5)], "{policy}");
        resize(&mut heap, 13);
        assert_eq!(heap.blocks(), [allocated(0, 3), padding(3, 5), padding(8, 5)], "{policy}: an unusable tail");
        resize(&mut heap, 20);
        assert_eq!(heap.blocks(), [allocated(0, 3), padding(3, 5), free_block(8, 8), padding(16, 4)], "{policy}");
    }
    let mut heap = create(Policy::Buddy, 100, 1);
    at(&mut heap, 0, 17);
    assert_rejected(&mut heap, Error::Occupied, |h| h.set_capacity(20));
    assert_rejected(&mut heap, Error::Occupied, |h| h.set_capacity(31));
    resize(&mut heap, 32);
    assert_eq!(heap.blocks(), [allocated(0, 17), padding(17, 15)]);
    resize(&mut heap, 40);
    assert_eq!(heap.blocks(), [allocated(0, 17), padding(17, 15), free_block(32, 8)]);
}

#[test]
fn set_capacity_grows_merging_with_a_free_tail_and_shrinks_free_space() {
    for policy in [Policy::FirstFit, Policy::BestFit, Policy::Tlsf] {
        let mut heap = create(policy, 100, 1);
        at(&mut heap, 0, 20);
        resize(&mut heap, 150);
        assert_eq!(heap.blocks(), [allocated(0, 20), free_block(20, 130)], "{policy}: one free block, merged");
        let s = heap.stats();
        assert_eq!(
            (s.capacity, s.allocated, s.free, s.largest_free, s.free_blocks, s.allocations, s.padding),
            (150, 20, 130, 130, 1, 1, 0)
        );
        assert_eq!(with(&mut heap, &Request::new(130).top_down()), 20, "{policy}: the whole merged block");
        heap.free(20, 130).unwrap();
        resize(&mut heap, 50);
        assert_eq!(heap.blocks(), [allocated(0, 20), free_block(20, 30)], "{policy}");
        // Exactly to the end of the last footprint: no free space left.
        resize(&mut heap, 20);
        assert_eq!(heap.blocks(), [allocated(0, 20)], "{policy}");
        let s = heap.stats();
        assert_eq!((s.free, s.largest_free, s.free_blocks), (0, 0, 0));
        assert_rejected(&mut heap, Error::Occupied, |h| h.set_capacity(19));
        assert_rejected(&mut heap, Error::OutOfMemory, |h| h.allocate(1));
        // Growing after an allocated last block: a new free block.
        resize(&mut heap, 30);
        assert_eq!(heap.blocks(), [allocated(0, 20), free_block(20, 10)], "{policy}");
        assert_rejected(&mut heap, Error::InvalidAddress, |h| h.free(30, 1));
        // The same capacity: nothing changes.
        let before = heap.blocks();
        resize(&mut heap, 30);
        assert_eq!(heap.blocks(), before);
    }
    // A hole below the last allocation stays; the free tail goes.
    for policy in [Policy::FirstFit, Policy::BestFit, Policy::Tlsf] {
        let mut heap = layout(policy, 100, &[(0, 20), (50, 10)]);
        for n in [1, 50, 55, 59] {
            assert_rejected(&mut heap, Error::Occupied, |h| h.set_capacity(n));
        }
        resize(&mut heap, 60);
        assert_eq!(heap.blocks(), [allocated(0, 20), free_block(20, 30), allocated(50, 10)], "{policy}");
        resize(&mut heap, usize::MAX);
        assert_eq!(heap.blocks()[3], free_block(60, usize::MAX - 60), "{policy}");
        assert_eq!(with(&mut heap, &Request::new(10).within(100..usize::MAX).top_down()), usize::MAX - 10);
        assert_rejected(&mut heap, Error::Occupied, |h| h.set_capacity(100));
    }
}

#[test]
fn set_capacity_under_buddy_retiles_the_top_level_blocks() {
    // 100 = 64 + 32 + 4, the 4-unit block taken; at 128 one top-level block, split around it.
    let mut heap = create(Policy::Buddy, 100, 1);
    at(&mut heap, 96, 4);
    assert_rejected(&mut heap, Error::Occupied, |h| h.set_capacity(99));
    resize(&mut heap, 128);
    assert_eq!(
        show(&heap.blocks()),
        "[Free(0-63)] [Free(64-95)] [Allocated(96-99)] [Free(100-103)] [Free(104-111)] [Free(112-127)]"
    );
    heap.free(96, 4).unwrap();
    check(&heap);
    assert_eq!(heap.blocks(), [free_block(0, 128)], "the buddies merge up to the new top-level block");
    resize(&mut heap, 100);
    assert_eq!(show(&heap.blocks()), "[Free(0-63)] [Free(64-95)] [Free(96-99)]");
}

/// A fresh allocator with the options of `heap` but capacity `n`, given the live
/// allocations of `heap` with `allocate_at`, in address order.
fn rebuilt(heap: &MemoryAllocator, n: usize) -> MemoryAllocator {
    let mut fresh = create(heap.policy(), n, heap.min_alignment());
    for (addr, size) in live(heap) {
        at(&mut fresh, addr, size);
    }
    fresh
}

/// One random call, the same on both heaps: the same result, map and stats.
#[track_caller]
fn same_call(rng: &mut SmallRng, a: &mut MemoryAllocator, b: &mut MemoryAllocator, what: &str) {
    let capacity = a.capacity();
    let pick = |rng: &mut SmallRng, heap: &MemoryAllocator| {
        let live = live(heap);
        live.get(rng.random_range(0..live.len().max(1))).copied().unwrap_or((0, 1))
    };
    let (call, got, want) = match rng.random_range(0..7) {
        0 => {
            let size = rng.random_range(1..=64);
            (format!("allocate({size})"), a.allocate(size), b.allocate(size))
        }
        1 => {
            let (x, y) = (rng.random_range(0..capacity), rng.random_range(0..capacity));
            let r =
                request(rng.random_range(1..=64), x.min(y)..x.max(y) + 1, rng.random(), 1 << rng.random_range(0..5));
            (format!("allocate_with({r:?})"), a.allocate_with(&r), b.allocate_with(&r))
        }
        2 => {
            let (addr, size) = (rng.random_range(0..capacity) & !15, rng.random_range(1..=16));
            (
                format!("allocate_at({addr}, {size})"),
                a.allocate_at(addr, size).map(|()| 0),
                b.allocate_at(addr, size).map(|()| 0),
            )
        }
        3 | 4 => {
            let (addr, size) = pick(rng, a);
            (format!("free({addr}, {size})"), a.free(addr, size).map(|()| 0), b.free(addr, size).map(|()| 0))
        }
        5 => {
            let (addr, size) = pick(rng, a);
            let new = rng.random_range(1..=96);
            (format!("reallocate({addr}, {size}, {new})"), a.reallocate(addr, size, new), b.reallocate(addr, size, new))
        }
        _ => {
            let n = rng.random_range(1..=capacity + 64);
            (format!("set_capacity({n})"), a.set_capacity(n).map(|()| 0), b.set_capacity(n).map(|()| 0))
        }
    };
    check(a);
    let context = format!("{}: {what}: {call}", a.policy());
    assert_eq!(got, want, "{context}");
    assert_eq!(show(&a.blocks()), show(&b.blocks()), "{context}");
    assert_eq!(a.stats(), b.stats(), "{context}");
}

#[test]
fn set_capacity_is_a_fresh_allocator_given_the_same_allocations() {
    for policy in Policy::ALL {
        for min_alignment in [1, 8] {
            let mut rng = SmallRng::seed_from_u64(policy as u64 * 7 + min_alignment as u64);
            let mut heap = create(policy, 1000, min_alignment);
            // Allocations without a requested alignment, which allocate_at cannot record.
            for _ in 0..200 {
                match rng.random_range(0..5) {
                    0 | 1 => {
                        let _ = heap.allocate(rng.random_range(1..=40));
                    }
                    2 => {
                        let lo = rng.random_range(0..900);
                        let r = Request::new(rng.random_range(1..=40)).within(lo..lo + 100).tag(3).top_down();
                        let _ = heap.allocate_with(&r);
                    }
                    3 => {
                        let _ = heap.allocate_at(rng.random_range(0..1000) & !31, rng.random_range(1..=32));
                    }
                    _ => {
                        if let Some(&(addr, size)) = live(&heap).get(rng.random_range(0..live(&heap).len().max(1))) {
                            heap.free(addr, size).unwrap();
                        }
                    }
                }
            }
            check(&heap);
            let end = live(&heap).last().map_or(1, |&(addr, size)| addr + footprint(&heap, size));
            for n in [end, end + 1, end + 7, 999, 1000, 1001, 1024, 4096 + 3] {
                if n < end {
                    continue;
                }
                let mut resized = heap.clone();
                resize(&mut resized, n);
                let mut fresh = rebuilt(&heap, n);
                let what = format!("min_alignment {min_alignment}, set_capacity({n})");
                assert_eq!(show(&resized.blocks()), show(&fresh.blocks()), "{policy}: {what}");
                assert_eq!(resized.stats(), fresh.stats(), "{policy}: {what}");
                // Every later call, too.
                for _ in 0..150 {
                    same_call(&mut rng, &mut resized, &mut fresh, &what);
                }
            }
            if end > 1 {
                assert_rejected(&mut heap, Error::Occupied, |h| h.set_capacity(end - 1));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// What an allocation keeps: its alignment across moves and capacity changes
// ---------------------------------------------------------------------------------------

/// Moves the allocation `(addr, size)` by growing it to `new` with an obstacle reserved
/// right after its footprint (so it cannot grow in place); returns the new address.
#[track_caller]
fn move_by_growing(heap: &mut MemoryAllocator, addr: usize, size: usize, new: usize) -> usize {
    let end = addr + footprint(heap, size);
    if end < heap.capacity() && heap.allocate_at(end, 1).is_ok() {
        check(heap);
    }
    let moved = heap.reallocate(addr, size, new).unwrap_or_else(|e| panic!("{}: {e}\nmap: {heap}", heap.policy()));
    check(heap);
    assert_ne!(moved, addr, "{}: reallocate({addr}, {size}, {new}) did not move\nmap: {heap}", heap.policy());
    assert_eq!(heap.size_of(moved), Ok(new));
    moved
}

#[test]
fn a_moved_allocation_keeps_its_requested_alignment() {
    for policy in Policy::ALL {
        for min_alignment in [1, 4] {
            let mut heap = create(policy, 4096, min_alignment);
            // An obstacle at 0, so that a move ignoring the alignment would go to a low
            // address that is not a multiple of 64.
            at(&mut heap, 0, 1);
            let a = with(&mut heap, &Request::new(10).align(64).tag(7).pinned());
            let b = heap.allocate_aligned(10, 128).unwrap();
            let moved = move_by_growing(&mut heap, a, 10, 20);
            assert_eq!(moved % 64, 0, "{policy}: moved from {a} to {moved}\nmap: {heap}");
            assert_eq!(heap.tag_of(moved), Ok(7), "{policy}: the tag came along");
            if policy == Policy::FirstFit {
                // 1-63 is free, but 192 is the lowest multiple of 64 with room (b is at 128).
                assert_eq!((a, b, moved), (64, 128, 192), "first fit: the lowest multiple of 64 with room");
            }
            // Moved again, still aligned; so is the one made by allocate_aligned.
            let again = move_by_growing(&mut heap, moved, 20, 100);
            assert_eq!(again % 64, 0, "{policy}: moved from {moved} to {again}\nmap: {heap}");
            let b_moved = move_by_growing(&mut heap, b, 10, 300);
            assert_eq!(b_moved % 128, 0, "{policy}: moved from {b} to {b_moved}\nmap: {heap}");
        }
    }
    // A reservation has no requested alignment: it moves to the lowest place with room.
    let mut heap = create(Policy::FirstFit, 4096, 1);
    at(&mut heap, 0, 1);
    at(&mut heap, 64, 10);
    assert_eq!(move_by_growing(&mut heap, 64, 10, 20), 1);
}

#[test]
fn alignment_survives_set_capacity() {
    for policy in Policy::ALL {
        let mut heap = create(policy, 1000, 1);
        at(&mut heap, 0, 1);
        let a = with(&mut heap, &Request::new(10).align(256).tag(1).pinned().within(0..600));
        let b = heap.allocate_aligned(5, 32).unwrap();
        let c = with(&mut heap, &Request::new(6).top_down().align(16));
        assert_eq!(c % 16, 0);
        // Grow, then shrink to the last footprint's end.
        resize(&mut heap, 5000);
        let end = live(&heap).last().map(|&(addr, size)| addr + footprint(&heap, size)).unwrap();
        resize(&mut heap, end);
        resize(&mut heap, end + 3000);
        let a = move_by_growing(&mut heap, a, 10, 40);
        assert_eq!(a % 256, 0, "{policy}: {heap}");
        assert_eq!(heap.tag_of(a), Ok(1), "{policy}: the tag came along");
        let b = move_by_growing(&mut heap, b, 5, 50);
        assert_eq!(b % 32, 0, "{policy}: {heap}");
        let c = move_by_growing(&mut heap, c, 6, 60);
        assert_eq!(c % 16, 0, "{policy}: {heap}");
        // And after one more change of capacity, they move aligned again.
        let capacity = heap.capacity();
        resize(&mut heap, capacity + 1);
        assert_eq!(move_by_growing(&mut heap, a, 40, 200) % 256, 0, "{policy}: {heap}");
    }
}

#[test]
fn tags_and_pins_survive_set_capacity_and_moves() {
    for policy in Policy::ALL {
        let mut heap = create(policy, 1000, 1);
        at(&mut heap, 0, 10);
        let pinned = with(&mut heap, &Request::new(10).tag(5).pinned().within(500..600));
        let loose = with(&mut heap, &Request::new(10).tag(6).within(300..400));
        resize(&mut heap, 2000);
        resize(&mut heap, 1000);
        assert_eq!((heap.tag_of(pinned), heap.tag_of(loose), heap.tag_of(0)), (Ok(5), Ok(6), Ok(0)), "{policy}");
        // Compaction moves the loose one down and leaves the pinned one where it is.
        let moves = heap.compact(usize::MAX, usize::MAX);
        check(&heap);
        assert!(moves.iter().all(|m| m.from != pinned), "{policy}: the pinned allocation moved: {moves:?}");
        let loose = moves.iter().find(|m| m.from == loose).map(|m| m.to).expect("the loose allocation moves down");
        assert!(loose < 300, "{policy}: {heap}");
        assert_eq!((heap.tag_of(pinned), heap.tag_of(loose)), (Ok(5), Ok(6)), "{policy}: {heap}");
        // A reallocate that moves keeps the tag and the pin.
        let moved = move_by_growing(&mut heap, pinned, 10, 40);
        assert_eq!(heap.tag_of(moved), Ok(5), "{policy}: {heap}");
        resize(&mut heap, 4000);
        let moves = heap.compact(usize::MAX, usize::MAX);
        check(&heap);
        assert!(moves.iter().all(|m| m.from != moved), "{policy}: the moved pinned allocation moved: {moves:?}");
        assert_eq!((heap.tag_of(moved), heap.size_of(moved)), (Ok(5), Ok(40)), "{policy}: {heap}");
    }
}
