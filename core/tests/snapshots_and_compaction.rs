//! Tags, compaction plans and snapshots through the public API, under every policy:
//! random histories, then the properties the contract promises.
//!
//! - A snapshot reopens the allocator exactly: saving the loaded one gives the same bytes,
//!   and the same random calls afterwards give the same results and maps on both; the same
//!   history gives the same bytes.
//! - Hostile snapshots (every truncation, bit flips, trailing bytes, inconsistent content
//!   under a valid checksum) are rejected with `BadSnapshot`.
//! - A compaction plan, executed with `memmove` on simulated memory in the order given,
//!   keeps every allocation's contents; allocations keep their alignment; pinned ones stay;
//!   repeated small budgets reach the map of one unlimited call; without pins, first fit,
//!   best fit and TLSF end with their free space in one block at the top (alignment gaps
//!   aside).
//! - `free_tagged` frees exactly the allocations of a tag.

use memalloc_core::{BlockKind, Error, MemoryAllocator, Options, Policy, Request};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// A live allocation as the test keeps it: address, size, tag, pinned, alignment.
#[derive(Debug, Clone, Copy)]
struct Live {
    addr: usize,
    size: usize,
    tag: u64,
    pinned: bool,
    alignment: usize,
}

/// Random calls on `heap`, keeping `live` up to date.
fn churn(heap: &mut MemoryAllocator, live: &mut Vec<Live>, rng: &mut SmallRng, steps: usize) {
    let capacity = heap.capacity();
    for _ in 0..steps {
        match rng.random_range(0..8) {
            0..=3 => {
                let bound = rng.random_range(1..64);
                let size = 1 + rng.random_range(0..bound);
                let alignment = if rng.random_range(0..3) == 0 { 1 << rng.random_range(0..5) } else { 1 };
                let tag = rng.random_range(0..4);
                let pinned = rng.random_range(0..8) == 0;
                let mut request = Request::new(size).align(alignment).tag(tag);
                request.pinned = pinned;
                if rng.random_range(0..4) == 0 {
                    request = request.top_down();
                }
                if let Ok(addr) = heap.allocate_with(&request) {
                    live.push(Live { addr, size, tag, pinned, alignment });
                }
            }
            4 => {
                let addr = rng.random_range(0..capacity) & !7;
                let size = 1 + rng.random_range(0..16);
                if heap.allocate_at(addr, size).is_ok() {
                    live.push(Live { addr, size, tag: 0, pinned: false, alignment: 1 });
                }
            }
            5 if !live.is_empty() => {
                let k = rng.random_range(0..live.len());
                let new = 1 + rng.random_range(0..64);
                if let Ok(addr) = heap.reallocate(live[k].addr, live[k].size, new) {
                    (live[k].addr, live[k].size) = (addr, new);
                }
            }
            _ if !live.is_empty() => {
                let gone = live.swap_remove(rng.random_range(0..live.len()));
                heap.free(gone.addr, gone.size).unwrap();
            }
            _ => {}
        }
    }
}

fn heap(policy: Policy, capacity: usize, min_alignment: usize) -> MemoryAllocator {
    MemoryAllocator::with_options(Options::new(capacity).policy(policy).min_alignment(min_alignment)).unwrap()
}

#[test]
fn a_snapshot_reopens_the_allocator_exactly() {
    for policy in Policy::ALL {
        for (seed, (capacity, min_alignment)) in [(1 << 12, 1), (3000, 8), (1 << 16, 1)].into_iter().enumerate() {
            let mut rng = SmallRng::seed_from_u64(seed as u64);
            let mut original = heap(policy, capacity, min_alignment);
            let mut live = Vec::new();
            churn(&mut original, &mut live, &mut rng, 400);
            let bytes = original.save();
            assert_eq!(bytes.len(), original.snapshot_len());
            let mut loaded = MemoryAllocator::load(&bytes).unwrap_or_else(|e| panic!("{policy}: {e}"));
            loaded.check_invariants().unwrap();
            assert_eq!(loaded.save(), bytes, "{policy}: saving the loaded allocator gives other bytes");
            assert_eq!(loaded.blocks(), original.blocks());
            assert_eq!(loaded.stats(), original.stats());
            for one in &live {
                assert_eq!(loaded.tag_of(one.addr), Ok(one.tag));
            }
            // The same calls afterwards: the same answers.
            let (mut a, mut b) = (SmallRng::seed_from_u64(99), SmallRng::seed_from_u64(99));
            let (mut live_a, mut live_b) = (live.clone(), live.clone());
            churn(&mut original, &mut live_a, &mut a, 400);
            churn(&mut loaded, &mut live_b, &mut b, 400);
            assert_eq!(loaded.blocks(), original.blocks(), "{policy}: the histories diverged after loading");
            assert_eq!(loaded.save(), original.save());
        }
    }
}

#[test]
fn the_same_history_gives_the_same_bytes() {
    for policy in Policy::ALL {
        let run = || {
            let mut heap = heap(policy, 5000, 4);
            churn(&mut heap, &mut Vec::new(), &mut SmallRng::seed_from_u64(7), 500);
            heap.save()
        };
        assert_eq!(run(), run());
    }
}

#[test]
fn hostile_snapshots_are_rejected() {
    let mut rng = SmallRng::seed_from_u64(3);
    for policy in Policy::ALL {
        let mut original = heap(policy, 2048, 1);
        churn(&mut original, &mut Vec::new(), &mut rng, 200);
        let bytes = original.save();
        for len in 0..bytes.len() {
            assert_eq!(
                MemoryAllocator::load(&bytes[..len]).err(),
                Some(Error::BadSnapshot),
                "{policy}: truncated to {len}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(MemoryAllocator::load(&longer).err(), Some(Error::BadSnapshot));
        for _ in 0..200 {
            let mut flipped = bytes.clone();
            let bit = rng.random_range(0..8 * flipped.len());
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(MemoryAllocator::load(&flipped).err(), Some(Error::BadSnapshot), "{policy}: bit {bit} flipped");
        }
        for _ in 0..200 {
            let noise: Vec<u8> = (0..rng.random_range(0..200)).map(|_| rng.random()).collect();
            assert!(MemoryAllocator::load(&noise).is_err());
        }
    }
}

/// `bytes` with its checksum made right again (FNV-1a 64 over everything before it).
fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    let body = bytes.len() - 8;
    let hash = bytes[..body]
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    bytes[body..].copy_from_slice(&hash.to_le_bytes());
    bytes
}

#[test]
fn inconsistent_content_under_a_valid_checksum_is_rejected() {
    let mut heap = heap(Policy::FirstFit, 1000, 1);
    let a = heap.allocate(100).unwrap();
    heap.allocate(100).unwrap();
    heap.free(a, 100).unwrap();
    let bytes = heap.save();
    assert!(MemoryAllocator::load(&reseal(bytes.clone())).is_ok(), "resealing alone changes nothing");
    // Field offsets: header 48 bytes, then 40-byte live records, then 16-byte free records.
    let live = 48;
    let cases: [(&str, usize, u64); 6] = [
        ("the allocation moved onto the free block's start", live, 0),
        ("the allocation runs past the capacity", live + 8, 950),
        ("an unknown policy", 12, 9),
        ("the free block starts elsewhere", live + 40, 1),
        ("an alignment that is no power of two", live + 24, 3),
        ("a capacity of 0", 24, 0),
    ];
    for (what, offset, value) in cases {
        let mut bad = bytes.clone();
        let width = if offset == 12 { 4 } else { 8 };
        bad[offset..offset + width].copy_from_slice(&value.to_le_bytes()[..width]);
        assert_eq!(MemoryAllocator::load(&reseal(bad)).err(), Some(Error::BadSnapshot), "{what}");
    }
    let mut huge = bytes.clone();
    huge[40..48].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(MemoryAllocator::load(&reseal(huge)).err(), Some(Error::BadSnapshot), "a huge count");
}

#[test]
fn compaction_plans_keep_contents_alignment_and_pins() {
    for policy in Policy::ALL {
        for seed in 0..20 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let capacity = 1 << 11;
            let mut heap = heap(policy, capacity, if seed % 3 == 0 { 4 } else { 1 });
            let mut live = Vec::new();
            churn(&mut heap, &mut live, &mut rng, 300);
            // Simulated memory: every unit of an allocation holds its index in `live`.
            let mut memory = vec![u32::MAX; capacity];
            for (k, one) in live.iter().enumerate() {
                memory[one.addr..one.addr + one.size].fill(k as u32);
            }
            let unlimited = {
                let mut copy = heap.clone();
                copy.compact(usize::MAX, usize::MAX);
                copy.blocks()
            };
            // Small budgets, repeatedly, until nothing moves (each budget admits the
            // largest allocation, so that an empty plan means done).
            loop {
                let moves = heap.compact(rng.random_range(64..200), rng.random_range(1..4));
                heap.check_invariants().unwrap();
                if moves.is_empty() {
                    break;
                }
                for m in moves {
                    assert!(m.to < m.from);
                    memory.copy_within(m.from..m.from + m.size, m.to);
                    let one = live.iter_mut().find(|l| l.addr == m.from).expect("a live allocation moved");
                    assert!(!one.pinned, "{policy}: a pinned allocation moved");
                    one.addr = m.to;
                }
            }
            assert_eq!(heap.blocks(), unlimited, "{policy}, seed {seed}: small budgets end elsewhere");
            for (k, one) in live.iter().enumerate() {
                assert!(
                    memory[one.addr..one.addr + one.size].iter().all(|&v| v == k as u32),
                    "{policy}: contents lost"
                );
                assert!(one.addr.is_multiple_of(one.alignment.max(heap.min_alignment())), "{policy}: alignment lost");
                assert_eq!(heap.size_of(one.addr), Ok(one.size));
                assert_eq!(heap.tag_of(one.addr), Ok(one.tag));
            }
            if policy != Policy::Buddy && live.iter().all(|l| !l.pinned && l.alignment <= heap.min_alignment()) {
                let free: Vec<_> = heap.blocks().into_iter().filter(|b| b.kind == BlockKind::Free).collect();
                assert!(free.len() <= 1, "{policy}: free space not in one block: {free:?}");
            }
        }
    }
}

#[test]
fn free_tagged_frees_exactly_one_tag() {
    for policy in Policy::ALL {
        let mut rng = SmallRng::seed_from_u64(11);
        let mut heap = heap(policy, 1 << 12, 1);
        let mut live = Vec::new();
        churn(&mut heap, &mut live, &mut rng, 300);
        for tag in [2, 0] {
            let expected = live.iter().filter(|l| l.tag == tag).count();
            assert_eq!(heap.free_tagged(tag), expected, "{policy}: tag {tag}");
            live.retain(|l| l.tag != tag);
            heap.check_invariants().unwrap();
            for one in &live {
                assert_eq!(heap.size_of(one.addr), Ok(one.size));
            }
        }
        assert_eq!(heap.free_tagged(2), 0);
    }
}

#[test]
fn a_budget_below_the_next_move_moves_nothing() {
    for policy in Policy::ALL {
        let mut heap = heap(policy, 1 << 10, 1);
        let a = heap.allocate(64).unwrap();
        let b = heap.allocate(64).unwrap();
        heap.free(a, 64).unwrap();
        let before = heap.blocks();
        assert_eq!(heap.compact(63, usize::MAX), Vec::new(), "{policy}: 63 units cannot move 64");
        assert_eq!(heap.compact(usize::MAX, 0), Vec::new(), "{policy}: no moves allowed");
        assert_eq!(heap.blocks(), before, "{policy}: an empty plan changes nothing");
        let moves = heap.compact(64, 1);
        assert_eq!(moves.len(), 1, "{policy}");
        assert_eq!((moves[0].from, moves[0].size), (b, 64), "{policy}");
        assert!(moves[0].to < b, "{policy}");
    }
}

/// A snapshot written field by field (see docs/SNAPSHOT.md), sealed with its checksum.
fn handmade(policy: u32, capacity: u64, live: &[(u64, u64)], free: &[(u64, u64)]) -> Vec<u8> {
    let mut bytes = b"MEMALLOC".to_vec();
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&policy.to_le_bytes());
    for word in [1, capacity, live.len() as u64, free.len() as u64] {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    for &(start, size) in live {
        // start, size, tag 0, alignment 1, then flags and reserved (two u32 zeros).
        for word in [start, size, 0, 1, 0] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
    }
    for &(start, size) in free {
        bytes.extend_from_slice(&start.to_le_bytes());
        bytes.extend_from_slice(&size.to_le_bytes());
    }
    bytes.extend_from_slice(&[0; 8]);
    reseal(bytes)
}

#[test]
fn a_handmade_snapshot_loads_and_counts_that_disagree_stop_early() {
    // One allocation of 10 at 0 in 100 under first fit: free [10, 100).
    let good = handmade(0, 100, &[(0, 10)], &[(10, 90)]);
    let heap = MemoryAllocator::load(&good).expect("a valid snapshot");
    assert_eq!(heap.to_string(), "[Allocated(0-9)] [Free(10-99)]");
    assert_eq!(heap.save(), good, "the library writes the same bytes");
    // Buddy over 2^60 units with a thousand 1-unit allocations 2^40 apart: 40 free blocks
    // each, but the snapshot claims none. Rejected after the first few, not after building
    // 40 000 blocks from 40 kB of input.
    let live: Vec<(u64, u64)> = (0..1000).map(|k| (k << 40, 1)).collect();
    let hostile = handmade(3, 1 << 60, &live, &[]);
    assert_eq!(MemoryAllocator::load(&hostile).err(), Some(Error::BadSnapshot));
}

#[test]
fn fragmentation_agrees_with_the_map_and_compaction_lowers_it() {
    for policy in Policy::ALL {
        for seed in 0..10 {
            let mut rng = SmallRng::seed_from_u64(100 + seed);
            let mut heap = heap(policy, 1 << 12, if seed % 2 == 0 { 1 } else { 8 });
            let mut live = Vec::new();
            churn(&mut heap, &mut live, &mut rng, 400);
            let naive = |heap: &MemoryAllocator| {
                let map = heap.blocks();
                let top = map.iter().rposition(|b| b.kind == BlockKind::Allocated).map_or(0, |k| {
                    map[k + 1..]
                        .iter()
                        .take_while(|b| b.kind == BlockKind::Padding)
                        .fold(map[k].start + map[k].size, |end, b| end.max(b.start + b.size))
                });
                let holes: Vec<usize> =
                    map.iter().filter(|b| b.kind == BlockKind::Free && b.start < top).map(|b| b.size).collect();
                (top, holes.iter().sum::<usize>(), holes.len(), holes.iter().copied().max().unwrap_or(0))
            };
            let f = heap.fragmentation();
            assert_eq!((f.top, f.free, f.holes, f.largest), naive(&heap), "{policy}, seed {seed}");
            let before = f.ratio();
            heap.compact(usize::MAX, usize::MAX);
            let after = heap.fragmentation();
            assert_eq!((after.top, after.free, after.holes, after.largest), naive(&heap), "{policy}, seed {seed}");
            assert!(after.top <= f.top, "{policy}: compaction never raises the top");
            if policy != Policy::Buddy && live.iter().all(|l| !l.pinned && l.alignment <= heap.min_alignment()) {
                assert_eq!(after.ratio(), 0.0, "{policy}: packed, nothing free below the top (was {before})");
            }
        }
    }
}

#[test]
fn without_pins_or_alignment_compaction_packs_everything_below_one_free_block() {
    for policy in [Policy::FirstFit, Policy::BestFit, Policy::Tlsf] {
        let mut rng = SmallRng::seed_from_u64(5);
        let mut heap = heap(policy, 1 << 12, 1);
        let mut live: Vec<(usize, usize)> = Vec::new();
        for _ in 0..2000 {
            if live.is_empty() || rng.random_range(0..3) != 0 {
                let size = rng.random_range(1..40);
                if let Ok(addr) = heap.allocate(size) {
                    live.push((addr, size));
                }
            } else {
                let (addr, size) = live.swap_remove(rng.random_range(0..live.len()));
                heap.free(addr, size).unwrap();
            }
        }
        assert!(heap.fragmentation().ratio() > 0.0, "{policy}: the history fragments the heap");
        heap.compact(usize::MAX, usize::MAX);
        let packed: usize = live.iter().map(|&(_, size)| size).sum();
        let f = heap.fragmentation();
        assert_eq!((f.top, f.free, f.ratio()), (packed, 0, 0.0), "{policy}");
        assert_eq!(heap.stats().free_blocks, usize::from(packed < heap.capacity()), "{policy}");
    }
}
