//! Conformance: the behaviour every policy shares, run against each of `Policy::ALL`, and
//! each policy's own placement rule checked call by call against its naive model
//! (`memalloc_models::Model`; first fit also against the reference port,
//! `memalloc_models::ReferenceAllocator`).
//!
//! Every behaviour is one function taking the policy; `for_every_policy!` turns each into
//! one `#[test]` per policy, so a failure names both (`buddy::realloc_moves_while_the_old_block_is_held`).
//! Every call goes through [`Run`], which compares its result, the whole map and every
//! counter with the model, runs `check_invariants()` and checks the map's shape after
//! every step, and checks that a rejected call changed nothing.
//!
//! The randomized runs also make the placement calls: `allocate_with` (random ranges,
//! empty or reversed ones included, top-down, any alignment, tags and pins),
//! `allocate_at` (free, live, misaligned and out-of-range places) and `set_capacity`
//! (growing, shrinking, to the last live footprint's end and below it, 0); and the tag,
//! compaction and snapshot calls: `set_tag`, `tag_of`, `free_tagged`, `compact` (random
//! budgets; each plan compared move for move with the model, then executed on the
//! caller's view of where the bytes are, which must end where the allocator says), and a
//! save and load that replaces the heap with its reopened copy for the calls that follow.
//!
//! Interpretations where docs/CONTRACT.md leaves room (see also `memalloc_models::model`):
//! - TLSF: the contract pins no address down. Any address at which the footprint lies
//!   inside one free block (aligned) is accepted; out of memory is expected exactly when
//!   there is none ("never out of memory while some free block can hold the request").
//! - Buddy: `largest_free` is the largest free block, a power of two; the largest size
//!   that `allocate` grants is that block's size (its footprint is the block itself).
//! - Buddy growth in place happens only within the rounded footprint, even when the
//!   buddy after it is free (docs/CONTRACT.md: "buddy: when the block's rounded footprint already
//!   holds new_size"); otherwise the block moves.

mod support;

use std::fmt::Debug;

use memalloc::{Block, BlockKind, Error, MemoryAllocator, Move, Options, Policy, Request};
use memalloc_models::{Model, ReferenceAllocator};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// One `#[test]` per (behaviour, policy): `first_fit::NAME`, `best_fit::NAME`, ...
macro_rules! for_every_policy {
    ($($behaviour:ident),* $(,)?) => {
        mod first_fit {
            $( #[test] fn $behaviour() { super::$behaviour(memalloc::Policy::FirstFit) } )*
        }
        mod best_fit {
            $( #[test] fn $behaviour() { super::$behaviour(memalloc::Policy::BestFit) } )*
        }
        mod tlsf {
            $( #[test] fn $behaviour() { super::$behaviour(memalloc::Policy::Tlsf) } )*
        }
        mod buddy {
            $( #[test] fn $behaviour() { super::$behaviour(memalloc::Policy::Buddy) } )*
        }
    };
}

for_every_policy!(
    creation_and_the_initial_map,
    creation_errors,
    allocate_errors_in_check_order,
    free_errors_in_check_order,
    free_at_and_size_of_errors,
    realloc_errors_in_check_order,
    freeing_everything_merges_back_to_the_initial_map,
    largest_free_is_the_largest_size_allocate_grants,
    every_address_is_aligned_and_the_gap_before_stays_free,
    tiny_and_huge_capacities,
    realloc_shrinks_in_place,
    realloc_grows_in_place_when_it_can,
    realloc_moves_while_the_old_block_is_held,
    realloc_out_of_memory_changes_nothing,
    reset_restores_the_initial_map,
    threads_share_one_handle,
    placement_calls_in_check_order,
    capacity_changes_keep_every_allocation,
    random_calls_match_the_policy_model,
);

#[test]
fn the_suite_covers_every_policy() {
    // A new policy must get a module in `for_every_policy!` and a rule in the model.
    assert_eq!(Policy::ALL, [Policy::FirstFit, Policy::BestFit, Policy::Tlsf, Policy::Buddy]);
    for policy in Policy::ALL {
        support::model(policy, 64, 1);
    }
}

// ---------------------------------------------------------------------------------------
// The harness: an allocator and its model, compared after every call
// ---------------------------------------------------------------------------------------

/// An allocator and the model of its policy, stepped together.
struct Run {
    heap: MemoryAllocator,
    model: Model,
    /// Names the configuration in every failure message.
    name: String,
    /// The calls so far, for failure messages.
    step: usize,
}

impl Run {
    #[track_caller]
    fn new(policy: Policy, capacity: usize, min_alignment: usize) -> Self {
        let options = Options::new(capacity).policy(policy).min_alignment(min_alignment);
        let heap = MemoryAllocator::with_options(options)
            .unwrap_or_else(|e| panic!("{policy}: capacity {capacity}, min_alignment {min_alignment}: {e}"));
        let run = Run {
            heap,
            model: support::model(policy, capacity, min_alignment),
            name: format!("{policy}, capacity {capacity}, min_alignment {min_alignment}"),
            step: 0,
        };
        run.conforms("creation");
        run
    }

    fn policy(&self) -> Policy {
        self.heap.policy()
    }

    fn capacity(&self) -> usize {
        self.heap.capacity()
    }

    fn min_alignment(&self) -> usize {
        self.heap.min_alignment()
    }

    /// Everything the model and docs/CONTRACT.md say about the current state.
    #[track_caller]
    fn conforms(&self, after: &str) {
        let context = format!("{}: step {}, after {after}", self.name, self.step);
        if let Err(violation) = self.heap.check_invariants() {
            panic!("{context}: invariant broken: {violation}\nmap: {}", self.heap);
        }
        let blocks = self.heap.blocks();
        check_shape(self.policy(), self.capacity(), self.min_alignment(), &blocks)
            .unwrap_or_else(|e| panic!("{context}: {e}\nmap: {}", self.heap));
        let want = support::blocks(&self.model);
        if blocks != want {
            panic!("{context}: the map differs from the model\n got: {}\nwant: {}", show(&blocks), show(&want));
        }
        let stats = self.heap.stats();
        assert_eq!(stats, support::stats(&self.model), "{context}: stats");
        assert_eq!(stats.capacity, stats.allocated + stats.free + stats.padding, "{context}: stats identity");
        assert_eq!(self.heap.free_memory(), stats.free, "{context}");
        assert_eq!(self.heap.largest_free_block(), stats.largest_free, "{context}");
        if self.policy() != Policy::Buddy && self.min_alignment() == 1 {
            assert_eq!(stats.padding, 0, "{context}: exact sizes (no padding) with min_alignment 1");
        }
    }

    /// Runs `call` on the heap, gets the expected result from the model (which sees the
    /// heap's answer, for the choices TLSF and buddy leave open), and compares; a rejected
    /// call must change nothing.
    #[track_caller]
    fn step<T: PartialEq + Debug + Copy>(
        &mut self,
        what: String,
        call: impl FnOnce(&mut MemoryAllocator) -> Result<T, Error>,
        expect: impl FnOnce(&mut Model, Option<T>) -> Result<T, memalloc_models::Error>,
    ) -> Result<T, Error> {
        self.step += 1;
        let (blocks, stats) = (self.heap.blocks(), self.heap.stats());
        let got = call(&mut self.heap);
        let want = support::result(expect(&mut self.model, got.ok()));
        assert_eq!(got, want, "{}: step {}: {what}\nmap before: {}", self.name, self.step, show(&blocks));
        if got.is_err() {
            assert_eq!(self.heap.blocks(), blocks, "{}: {what} was rejected but changed the map", self.name);
            assert_eq!(self.heap.stats(), stats, "{}: {what} was rejected but changed the stats", self.name);
        }
        self.conforms(&what);
        got
    }

    #[track_caller]
    fn allocate(&mut self, size: usize) -> Result<usize, Error> {
        let before = self.heap.free_memory();
        let got = self.step(format!("allocate({size})"), |h| h.allocate(size), |m, got| m.allocate(size, 1, got));
        if let Ok(addr) = got {
            self.placed(addr, size, 1, before);
        }
        got
    }

    #[track_caller]
    fn allocate_aligned(&mut self, size: usize, align: usize) -> Result<usize, Error> {
        let before = self.heap.free_memory();
        let got = self.step(
            format!("allocate_aligned({size}, {align})"),
            |h| h.allocate_aligned(size, align),
            |m, got| m.allocate(size, align, got),
        );
        if let Ok(addr) = got {
            self.placed(addr, size, align, before);
        }
        got
    }

    #[track_caller]
    fn allocate_with(&mut self, request: Request) -> Result<usize, Error> {
        let before = self.heap.free_memory();
        let model_request = support::request(&request);
        let got = self.step(
            format!("allocate_with({request:?})"),
            |h| h.allocate_with(&request),
            |m, got| m.allocate_with(model_request, got),
        );
        if let Ok(addr) = got {
            self.placed(addr, request.size, request.alignment, before);
            let end = addr + self.model.footprint(request.size).unwrap();
            assert!(
                request.range.start <= addr && end <= request.range.end.min(self.capacity()),
                "{}: {request:?} placed at {addr}, outside its range",
                self.name
            );
        }
        got
    }

    #[track_caller]
    fn allocate_at(&mut self, addr: usize, size: usize) -> Result<(), Error> {
        let before = self.heap.free_memory();
        let got = self.step(
            format!("allocate_at({addr}, {size})"),
            |h| h.allocate_at(addr, size),
            |m, _| m.allocate_at(addr, size),
        );
        if got.is_ok() {
            self.placed(addr, size, 1, before);
        }
        got
    }

    #[track_caller]
    fn set_capacity(&mut self, new_capacity: usize) -> Result<(), Error> {
        let live = self.model.live().clone();
        let got = self.step(
            format!("set_capacity({new_capacity})"),
            |h| h.set_capacity(new_capacity),
            |m, _| m.set_capacity(new_capacity),
        );
        if got.is_ok() {
            assert_eq!(self.capacity(), new_capacity, "{}", self.name);
            assert_eq!(*self.model.live(), live, "{}: set_capacity({new_capacity}) moved an allocation", self.name);
        }
        got
    }

    /// The end of the last live allocation's footprint (0 when there is none): the least
    /// capacity `set_capacity` accepts.
    fn live_end(&self) -> usize {
        self.model.live().iter().next_back().map_or(0, |(&addr, &size)| addr + self.model.footprint(size).unwrap())
    }

    /// What every successful placement satisfies, whatever the policy: the address is a
    /// multiple of the effective alignment, and exactly the footprint left free space (so
    /// the gap before an aligned block stayed free).
    #[track_caller]
    fn placed(&self, addr: usize, size: usize, align: usize, free_before: usize) {
        let effective = align.max(self.min_alignment());
        assert_eq!(addr % effective, 0, "{}: address {addr} of size {size} is not aligned to {effective}", self.name);
        let footprint = self.model.footprint(size).unwrap();
        assert_eq!(
            free_before - self.heap.free_memory(),
            footprint,
            "{}: allocating {size} at {addr} took other than its footprint from free space",
            self.name
        );
    }

    #[track_caller]
    fn free(&mut self, addr: usize, size: usize) -> Result<(), Error> {
        self.step(format!("free({addr}, {size})"), |h| h.free(addr, size), |m, _| m.free(addr, size))
    }

    #[track_caller]
    fn free_at(&mut self, addr: usize) -> Result<usize, Error> {
        self.step(format!("free_at({addr})"), |h| h.free_at(addr), |m, _| m.free_at(addr))
    }

    #[track_caller]
    fn size_of(&mut self, addr: usize) -> Result<usize, Error> {
        self.step(format!("size_of({addr})"), |h| h.size_of(addr), |m, _| m.size_of(addr))
    }

    #[track_caller]
    fn reallocate(&mut self, addr: usize, old: usize, new: usize) -> Result<usize, Error> {
        let got = self.step(
            format!("reallocate({addr}, {old}, {new})"),
            |h| h.reallocate(addr, old, new),
            |m, got| m.reallocate(addr, old, new, got),
        );
        if let Ok(at) = got
            && at != addr
        {
            // A move: the new block was chosen while the old one was held.
            let (old_fp, new_fp) = (self.model.footprint(old).unwrap(), self.model.footprint(new).unwrap());
            assert!(
                at + new_fp <= addr || addr + old_fp <= at,
                "{}: reallocate({addr}, {old}, {new}) moved to {at}, over the old block",
                self.name
            );
        }
        got
    }

    #[track_caller]
    fn tag_of(&mut self, addr: usize) -> Result<u64, Error> {
        self.step(format!("tag_of({addr})"), |h| h.tag_of(addr), |m, _| m.tag_of(addr))
    }

    #[track_caller]
    fn set_tag(&mut self, addr: usize, tag: u64) -> Result<(), Error> {
        self.step(format!("set_tag({addr}, {tag})"), |h| h.set_tag(addr, tag), |m, _| m.set_tag(addr, tag))
    }

    #[track_caller]
    fn free_tagged(&mut self, tag: u64) -> usize {
        self.step(format!("free_tagged({tag})"), |h| Ok(h.free_tagged(tag)), |m, _| Ok(m.free_tagged(tag)))
            .expect("free_tagged cannot fail")
    }

    /// `compact`, compared move for move with the model; then the plan is executed on the
    /// caller's view (where each allocation's bytes are): each move's destination may
    /// overlap only its own source or space already vacated, and afterwards every
    /// allocation's bytes are where the allocator says it is.
    #[track_caller]
    fn compact(&mut self, max_units: usize, max_moves: usize) -> Vec<Move> {
        let mut view: std::collections::BTreeMap<usize, usize> = self.model.live().clone();
        let pinned: Vec<usize> = view.keys().copied().filter(|&a| self.model.attrs(a).pinned).collect();
        // As `step` does, for a result that is not `Copy`.
        self.step += 1;
        let what = format!("compact({max_units}, {max_moves})");
        let before = self.heap.blocks();
        let moves = self.heap.compact(max_units, max_moves);
        let want: Vec<Move> = self
            .model
            .compact(max_units, max_moves)
            .into_iter()
            .map(|(from, to, size)| Move { from, to, size })
            .collect();
        assert_eq!(moves, want, "{}: step {}: {what}\nmap before: {}", self.name, self.step, show(&before));
        self.conforms(&what);
        assert!(moves.len() <= max_moves, "{}: more moves than allowed", self.name);
        assert!(moves.iter().map(|m| m.size).sum::<usize>() <= max_units, "{}: more units than allowed", self.name);
        for m in &moves {
            assert!(m.to < m.from, "{}: {m:?} does not go down", self.name);
            assert!(!pinned.contains(&m.from), "{}: {m:?} moves a pinned allocation", self.name);
            assert_eq!(view.remove(&m.from), Some(m.size), "{}: {m:?} moves no allocation of that size", self.name);
            let overlaps = view.range(..m.to + m.size).next_back().is_some_and(|(&a, &n)| a + n > m.to);
            assert!(!overlaps, "{}: {m:?} overwrites bytes not yet moved", self.name);
            view.insert(m.to, m.size);
        }
        assert_eq!(view, *self.model.live(), "{}: the caller's view after the moves", self.name);
        moves
    }

    /// Replaces the heap with the allocator its snapshot reopens: the same map and
    /// counters (checked here), and every later call compared with the same model.
    #[track_caller]
    fn save_and_load(&mut self) {
        let bytes = self.heap.save();
        assert_eq!(bytes.len(), self.heap.snapshot_len(), "{}", self.name);
        let loaded = MemoryAllocator::load(&bytes).unwrap_or_else(|e| panic!("{}: load: {e}", self.name));
        assert_eq!(loaded.save(), bytes, "{}: a loaded allocator saves the same bytes", self.name);
        self.heap = loaded;
        self.step += 1;
        self.conforms("save and load");
    }

    #[track_caller]
    fn reset(&mut self) {
        let reset = |h: &mut MemoryAllocator| {
            h.reset();
            Ok(())
        };
        let model_reset = |m: &mut Model, _| {
            m.reset();
            Ok(())
        };
        self.step("reset()".to_string(), reset, model_reset).expect("reset cannot fail");
    }

    /// `stats.largest_free` is the largest size `allocate` grants right now: that size is
    /// granted (and freed again, which restores the map), one more is not.
    #[track_caller]
    fn largest_free_is_exact(&mut self) {
        let largest = self.heap.stats().largest_free;
        let blocks = self.heap.blocks();
        if largest > 0 {
            let addr = self.heap.allocate(largest).unwrap_or_else(|e| {
                panic!(
                    "{}: largest_free is {largest}, but allocate({largest}) gives {e}\nmap: {}",
                    self.name, self.heap
                )
            });
            self.heap.free(addr, largest).unwrap();
            assert_eq!(self.heap.blocks(), blocks, "{}: allocate(largest_free) then free changed the map", self.name);
        }
        if let Some(more) = largest.checked_add(1) {
            assert_eq!(
                self.heap.allocate(more),
                Err(Error::OutOfMemory),
                "{}: largest_free is {largest}, but allocate({more}) succeeds\nmap: {}",
                self.name,
                self.heap
            );
        }
        self.conforms("the largest_free probe");
    }

    /// A live allocation `(addr, size)` of the model, picked by `selector`.
    fn pick(&self, selector: u32) -> Option<(usize, usize)> {
        let live = self.model.live();
        (!live.is_empty()).then(|| live.iter().nth(selector as usize % live.len()).map(|(&a, &s)| (a, s)).unwrap())
    }

    /// A fresh allocator with the same options, for comparing maps and stats.
    fn fresh(&self) -> MemoryAllocator {
        let options = Options::new(self.capacity()).policy(self.policy()).min_alignment(self.min_alignment());
        MemoryAllocator::with_options(options).unwrap()
    }

    #[track_caller]
    fn is_initial(&self) {
        let fresh = self.fresh();
        assert_eq!(show(&self.heap.blocks()), show(&fresh.blocks()), "{}: not the initial map", self.name);
        assert_eq!(self.heap.stats(), fresh.stats(), "{}: not the initial stats", self.name);
    }
}

/// The map in the reference notation.
fn show(blocks: &[Block]) -> String {
    blocks.iter().map(Block::to_string).collect::<Vec<_>>().join(" ")
}

/// The rules of docs/CONTRACT.md for a map, checked on the map alone: the extents tile `[0, capacity)`,
/// none empty; padding follows its allocation (or is the unusable tail); free extents
/// start and end on multiples of `min_alignment`; free extents are never adjacent, except
/// under buddy, whose free extents are powers of two aligned to their size.
fn check_shape(policy: Policy, capacity: usize, min_alignment: usize, blocks: &[Block]) -> Result<(), String> {
    let mut at = 0usize;
    for (i, b) in blocks.iter().enumerate() {
        let previous = i.checked_sub(1).map(|p| blocks[p].kind);
        if b.start != at {
            return Err(format!("extent {i} starts at {}, the previous one ends at {at}", b.start));
        }
        if b.size == 0 {
            return Err(format!("empty extent at {at}"));
        }
        match b.kind {
            BlockKind::Padding if previous != Some(BlockKind::Allocated) && i + 1 != blocks.len() => {
                return Err(format!("padding at {at} follows no allocation"));
            }
            BlockKind::Free => {
                if !b.start.is_multiple_of(min_alignment) || !b.size.is_multiple_of(min_alignment) {
                    return Err(format!("free extent {b} is off the minimum alignment {min_alignment}"));
                }
                if policy == Policy::Buddy {
                    if !b.size.is_power_of_two() || !b.start.is_multiple_of(b.size) {
                        return Err(format!("buddy free extent {b} is not a power of two aligned to its size"));
                    }
                } else if previous == Some(BlockKind::Free) {
                    return Err(format!("adjacent free extents at {at}"));
                }
            }
            _ => {}
        }
        at = b.start.checked_add(b.size).ok_or("the map passes usize::MAX")?;
    }
    if at != capacity {
        return Err(format!("the map ends at {at}, the capacity is {capacity}"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Creation
// ---------------------------------------------------------------------------------------

fn creation_and_the_initial_map(policy: Policy) {
    for capacity in [1, 2, 3, 7, 64, 100, 1000, 1024, (1 << 40) + 12345, usize::MAX - 1, usize::MAX] {
        for min_alignment in [1, 8] {
            let run = Run::new(policy, capacity, min_alignment);
            assert_eq!(run.heap.policy(), policy);
            assert_eq!(run.heap.capacity(), capacity);
            assert_eq!(run.heap.min_alignment(), min_alignment);
            let stats = run.heap.stats();
            assert_eq!((stats.allocated, stats.allocations), (0, 0));
            assert_eq!(stats.free, capacity & !(min_alignment - 1), "{}: every usable unit is free", run.name);
            if policy != Policy::Buddy {
                assert_eq!(stats.free_blocks, usize::from(stats.free > 0), "{}: one free block", run.name);
            }
        }
    }
    // Buddy covers a capacity that is not a power of two with decreasing powers of two.
    if policy == Policy::Buddy {
        let run = Run::new(policy, 100, 1);
        assert_eq!(show(&run.heap.blocks()), "[Free(0-63)] [Free(64-95)] [Free(96-99)]");
    }
}

fn creation_errors(policy: Policy) {
    let create = |capacity: usize, min_alignment: usize| {
        let got =
            MemoryAllocator::with_options(Options::new(capacity).policy(policy).min_alignment(min_alignment)).err();
        let want = Model::new(support::policy(policy), capacity, min_alignment).err().map(support::error);
        assert_eq!(got, want, "the model's creation, capacity {capacity}, min_alignment {min_alignment}");
        got
    };
    assert_eq!(create(0, 1), Some(Error::InvalidArgument));
    assert_eq!(create(0, 3), Some(Error::InvalidArgument), "capacity is checked before min_alignment");
    for bad in [0, 3, 6, 12, 100, usize::MAX, (usize::MAX >> 1) + 2] {
        assert_eq!(create(100, bad), Some(Error::InvalidAlignment), "min_alignment {bad}");
    }
    for good in [1, 2, 64, 4096, (usize::MAX >> 1) + 1] {
        assert_eq!(create(100, good), None, "min_alignment {good}");
    }
}

/// A capacity below min_alignment (nothing usable), capacity 1, and the whole of usize.
fn tiny_and_huge_capacities(policy: Policy) {
    let mut run = Run::new(policy, 5, 8);
    assert_eq!(show(&run.heap.blocks()), "[Padding(0-4)]");
    assert_eq!(run.allocate(1), Err(Error::OutOfMemory));
    run.largest_free_is_exact();

    let mut run = Run::new(policy, 1, 1);
    assert_eq!(run.allocate(2), Err(Error::OutOfMemory));
    assert_eq!(run.allocate(1), Ok(0));
    assert_eq!(run.allocate(1), Err(Error::OutOfMemory));
    assert_eq!(run.free(0, 2), Err(Error::InvalidSize));
    assert_eq!(run.free(1, 1), Err(Error::InvalidAddress));
    run.free(0, 1).unwrap();
    run.is_initial();

    let half = (usize::MAX >> 1) + 1;
    for capacity in [usize::MAX, half] {
        let mut run = Run::new(policy, capacity, 1);
        run.largest_free_is_exact();
        assert_eq!(
            run.allocate(usize::MAX),
            if capacity == usize::MAX && policy != Policy::Buddy { Ok(0) } else { Err(Error::OutOfMemory) }
        );
        run.reset();
        let a = run.allocate((half >> 1) - 1).unwrap();
        let b = run.allocate(3).unwrap();
        let c = run.allocate_aligned(1, half >> 2).unwrap();
        run.largest_free_is_exact();
        run.reallocate(b, 3, 1).unwrap();
        run.free(a, (half >> 1) - 1).unwrap();
        run.free(c, 1).unwrap();
        run.free_at(b).unwrap();
        run.is_initial();
    }
}

// ---------------------------------------------------------------------------------------
// Errors, in check order; a rejected call changes nothing (Run checks that every time)
// ---------------------------------------------------------------------------------------

/// Three live allocations of 20, 30 and 7 units in a heap of 200, the middle one freed
/// and replaced by 25: returns the runs and the addresses `(a20, b25, c7)`.
fn example(policy: Policy, min_alignment: usize) -> (Run, usize, usize, usize) {
    let mut run = Run::new(policy, 200, min_alignment);
    let a = run.allocate(20).unwrap();
    let b = run.allocate(30).unwrap();
    let c = run.allocate(7).unwrap();
    run.free(b, 30).unwrap();
    let b = run.allocate(25).unwrap();
    (run, a, b, c)
}

fn allocate_errors_in_check_order(policy: Policy) {
    for min_alignment in [1, 8] {
        let (mut run, ..) = example(policy, min_alignment);
        assert_eq!(run.allocate(0), Err(Error::InvalidSize));
        for size in [201, 1000, usize::MAX >> 1, usize::MAX - 1, usize::MAX] {
            assert_eq!(run.allocate(size), Err(Error::OutOfMemory));
        }
        // Alignment first, then size, then room.
        assert_eq!(run.allocate_aligned(0, 0), Err(Error::InvalidAlignment));
        assert_eq!(run.allocate_aligned(0, 3), Err(Error::InvalidAlignment));
        assert_eq!(run.allocate_aligned(usize::MAX, 6), Err(Error::InvalidAlignment));
        assert_eq!(run.allocate_aligned(5, usize::MAX), Err(Error::InvalidAlignment));
        assert_eq!(run.allocate_aligned(0, 8), Err(Error::InvalidSize));
        assert_eq!(run.allocate_aligned(usize::MAX, 1), Err(Error::OutOfMemory));
        assert_eq!(run.allocate_aligned(201, 2), Err(Error::OutOfMemory));
        // Address 0 is the only multiple of 2^63 (or of 256) below 200; first fit, best fit
        // and TLSF took it first (buddy took the 64-unit top-level block at 128 for 20).
        let at_zero = if run.model.live().contains_key(&0) { Err(Error::OutOfMemory) } else { Ok(0) };
        assert_eq!(at_zero.is_err(), policy != Policy::Buddy);
        assert_eq!(run.allocate_aligned(1, (usize::MAX >> 1) + 1), at_zero);
        assert_eq!(run.allocate_aligned(1, 256), Err(Error::OutOfMemory));
    }
}

fn free_errors_in_check_order(policy: Policy) {
    for min_alignment in [1, 8] {
        let (mut run, a, b, c) = example(policy, min_alignment);
        let capacity = run.capacity();
        // addr >= capacity beats everything else.
        for (addr, size) in [(capacity, 1), (capacity, 0), (capacity + 1, 20), (usize::MAX, usize::MAX)] {
            assert_eq!(run.free(addr, size), Err(Error::InvalidAddress), "free({addr}, {size})");
        }
        // size 0 and addr + size past the capacity (or overflowing) beat the live checks.
        for (addr, size) in [(a, 0), (b, 0), (1, usize::MAX), (c, usize::MAX), (a, capacity - a + 1), (capacity - 1, 2)]
        {
            assert_eq!(run.free(addr, size), Err(Error::InvalidSize), "free({addr}, {size})");
        }
        // No live allocation starts there: interior, padding, free space, double free.
        let free_start = run.model.free_blocks()[0].0;
        for (addr, size) in [(a + 1, 19), (b + 5, 10), (c + 1, 1), (free_start, 1), (a + 20, 1)] {
            if run.model.live().contains_key(&addr) {
                continue; // (a + 20 is free space or padding, or, packed tight, the next allocation)
            }
            assert_eq!(run.free(addr, size), Err(Error::NotAllocated), "free({addr}, {size})");
        }
        // A live allocation starts there with another size, also its footprint's.
        let fp = run.model.footprint(20).unwrap();
        for (addr, size) in [(a, 19), (a, 21), (b, 30), (c, 6), (c, 8)] {
            assert_eq!(run.free(addr, size), Err(Error::SizeMismatch), "free({addr}, {size})");
        }
        if fp != 20 {
            assert_eq!(run.free(a, fp), Err(Error::SizeMismatch), "the size is the requested one, not the footprint");
        }
        // Double free.
        run.free(b, 25).unwrap();
        assert_eq!(run.free(b, 25), Err(Error::NotAllocated));
        run.free(a, 20).unwrap();
        run.free(c, 7).unwrap();
        run.is_initial();
    }
}

fn free_at_and_size_of_errors(policy: Policy) {
    let (mut run, a, b, c) = example(policy, 1);
    for addr in [200, 201, usize::MAX] {
        assert_eq!(run.free_at(addr), Err(Error::InvalidAddress));
        assert_eq!(run.size_of(addr), Err(Error::InvalidAddress));
    }
    for addr in [a + 1, b + 24, c + 3] {
        assert_eq!(run.free_at(addr), Err(Error::NotAllocated));
        assert_eq!(run.size_of(addr), Err(Error::NotAllocated));
    }
    assert_eq!(run.size_of(a), Ok(20));
    assert_eq!(run.size_of(b), Ok(25), "the size as allocated, without padding");
    assert_eq!(run.size_of(c), Ok(7));
    run.free_at(b).unwrap();
    assert_eq!(run.free_at(b), Err(Error::NotAllocated), "double free");
    assert_eq!(run.size_of(b), Err(Error::NotAllocated));
    run.free_at(a).unwrap();
    run.free_at(c).unwrap();
    run.is_initial();
}

fn realloc_errors_in_check_order(policy: Policy) {
    let (mut run, a, b, _) = example(policy, 1);
    // (addr, old) as free checks them, in the same order; they beat new_size 0.
    assert_eq!(run.reallocate(200, 20, 0), Err(Error::InvalidAddress));
    assert_eq!(run.reallocate(usize::MAX, 0, 0), Err(Error::InvalidAddress));
    assert_eq!(run.reallocate(a, 0, 10), Err(Error::InvalidSize));
    assert_eq!(run.reallocate(a, 0, 0), Err(Error::InvalidSize));
    assert_eq!(run.reallocate(1, usize::MAX, 10), Err(Error::InvalidSize));
    assert_eq!(run.reallocate(a + 1, 5, 0), Err(Error::NotAllocated));
    assert_eq!(run.reallocate(a, 19, 0), Err(Error::SizeMismatch));
    assert_eq!(run.reallocate(b, 30, 25), Err(Error::SizeMismatch));
    // Then new_size 0, then room; out of memory keeps the old allocation.
    assert_eq!(run.reallocate(a, 20, 0), Err(Error::InvalidSize));
    for new in [201, 1000, usize::MAX - 1, usize::MAX] {
        assert_eq!(run.reallocate(a, 20, new), Err(Error::OutOfMemory), "reallocate to {new}");
    }
    assert_eq!(run.size_of(a), Ok(20));
}

// ---------------------------------------------------------------------------------------
// Merging, counters, largest_free
// ---------------------------------------------------------------------------------------

fn freeing_everything_merges_back_to_the_initial_map(policy: Policy) {
    for (capacity, min_alignment) in [(1000, 1), (1024, 1), (777, 4), (4096, 16)] {
        for order in ["ascending", "descending", "random", "free_at", "shrink first"] {
            let mut run = Run::new(policy, capacity, min_alignment);
            let mut rng = SmallRng::seed_from_u64(capacity as u64 * 31 + min_alignment as u64);
            // Fill, punch holes, refill: a fragmented map.
            let mut blocks = Vec::new();
            while let Ok(addr) = run.allocate(rng.random_range(1..=40)) {
                blocks.push(addr);
            }
            for addr in blocks.iter().copied().step_by(3) {
                run.free_at(addr).unwrap();
            }
            while run.allocate(rng.random_range(1..=9)).is_ok() {}
            let mut live: Vec<(usize, usize)> = run.model.live().iter().map(|(&a, &s)| (a, s)).collect();
            match order {
                "descending" => live.reverse(),
                "random" => {
                    for i in (1..live.len()).rev() {
                        live.swap(i, rng.random_range(0..=i));
                    }
                }
                _ => {}
            }
            for (addr, size) in live {
                match order {
                    "free_at" => assert_eq!(run.free_at(addr), Ok(size), "free_at returns the size"),
                    "shrink first" => {
                        let at = run.reallocate(addr, size, size.div_ceil(2)).unwrap();
                        assert_eq!(at, addr, "a shrink stays in place");
                        run.free(addr, size.div_ceil(2)).unwrap();
                    }
                    _ => run.free(addr, size).unwrap(),
                }
            }
            run.is_initial();
        }
    }
}

fn largest_free_is_the_largest_size_allocate_grants(policy: Policy) {
    for (capacity, min_alignment) in [(1000, 1), (1024, 1), (999, 8), (100, 1), ((1 << 30) + 3, 1)] {
        let mut run = Run::new(policy, capacity, min_alignment);
        let mut rng = SmallRng::seed_from_u64(7 + capacity as u64);
        run.largest_free_is_exact();
        for _ in 0..150 {
            if rng.random_bool(0.6) {
                let size =
                    if rng.random_bool(0.8) { rng.random_range(1..=64) } else { rng.random_range(1..=capacity / 4) };
                let _ = run.allocate(size);
            } else if let Some((addr, size)) = run.pick(rng.random()) {
                run.free(addr, size).unwrap();
            }
            run.largest_free_is_exact();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Alignment
// ---------------------------------------------------------------------------------------

fn every_address_is_aligned_and_the_gap_before_stays_free(policy: Policy) {
    for min_alignment in [1, 2, 16] {
        let mut run = Run::new(policy, 1024, min_alignment);
        let first = run.allocate(1).unwrap();
        let addr = run.allocate_aligned(5, 64).unwrap();
        // Every unit between the first block's footprint and the aligned block is free.
        let first_end = first + run.model.footprint(1).unwrap();
        if addr > first_end {
            for b in run.heap.blocks().iter().filter(|b| b.start < addr && b.start + b.size > first_end) {
                assert_eq!(b.kind, BlockKind::Free, "{}: the gap before {addr} holds {b}", run.name);
            }
        }
        let mut rng = SmallRng::seed_from_u64(min_alignment as u64);
        for _ in 0..200 {
            let align = 1 << rng.random_range(0..=9);
            let size = rng.random_range(1..=48);
            if let Ok(addr) = run.allocate_aligned(size, align) {
                assert_eq!(addr % align.max(min_alignment), 0);
            }
            if rng.random_bool(0.4)
                && let Some((addr, size)) = run.pick(rng.random())
            {
                run.free(addr, size).unwrap();
            }
        }
        // An alignment above the capacity: only address 0 qualifies.
        run.reset();
        assert_eq!(run.allocate_aligned(3, 1 << 20), Ok(0));
        assert_eq!(run.allocate_aligned(3, 1 << 20), Err(Error::OutOfMemory));
        // Realloc moves keep the minimum alignment.
        let b = run.allocate(min_alignment + 1).unwrap();
        run.allocate(1).unwrap();
        let moved = run.reallocate(b, min_alignment + 1, 300).unwrap();
        assert_eq!(moved % min_alignment, 0);
    }
}

// ---------------------------------------------------------------------------------------
// Realloc
// ---------------------------------------------------------------------------------------

fn realloc_shrinks_in_place(policy: Policy) {
    for min_alignment in [1, 4] {
        let mut run = Run::new(policy, 256, min_alignment);
        let a = run.allocate(100).unwrap();
        let b = run.allocate(20).unwrap();
        for (old, new) in [(100, 99), (99, 60), (60, 33), (33, 32), (32, 31), (31, 1), (1, 1)] {
            assert_eq!(run.reallocate(a, old, new), Ok(a), "{}: a shrink stays in place", run.name);
        }
        assert_eq!(run.free(a, 31), Err(Error::SizeMismatch), "the old size is gone");
        assert_eq!(run.size_of(a), Ok(1));
        assert_eq!(run.reallocate(b, 20, 20), Ok(b), "the same size changes nothing");
        run.free(a, 1).unwrap();
        run.free(b, 20).unwrap();
        run.is_initial();
    }
}

fn realloc_grows_in_place_when_it_can(policy: Policy) {
    // Within the footprint: every policy grows in place (here min_alignment 8 rounds 5 to 8).
    let mut run = Run::new(policy, 256, 8);
    let a = run.allocate(5).unwrap();
    run.allocate(8).unwrap();
    assert_eq!(run.reallocate(a, 5, 8), Ok(a), "the footprint already holds 8");

    // Into the free space right after: every policy but buddy, whose blocks only grow
    // within their rounded footprint (the model predicts where a buddy block moves).
    let mut run = Run::new(policy, 256, 1);
    let a = run.allocate(10).unwrap();
    let b = run.allocate(10).unwrap();
    run.allocate(10).unwrap();
    run.free(b, 10).unwrap();
    let grown = run.reallocate(a, 10, 16).unwrap();
    if policy == Policy::Buddy {
        assert_eq!(grown, a, "buddy: 16 is still the footprint of 10");
        let moved = run.reallocate(a, 16, 17).unwrap();
        assert_ne!(moved, a, "buddy: 17 needs a footprint of 32");
    } else {
        assert_eq!(grown, a, "{}: the free block after holds the growth", run.name);
        // Exactly up to the next allocation, no further.
        assert_eq!(run.reallocate(a, 16, 20), Ok(a), "{}: 4 free units after", run.name);
        assert_eq!(run.reallocate(a, 20, 21), Ok(30), "{}: then it moves", run.name);
    }
    // Up to the very end of the range.
    let mut run = Run::new(policy, 128, 1);
    let a = run.allocate(64).unwrap();
    let b = run.allocate(40).unwrap();
    let end = run.reallocate(b, 40, 64).unwrap();
    assert_eq!((a, end), (0, 64), "{}: b grows into the rest of the range", run.name);
    assert_eq!(run.heap.free_memory(), 0);
}

fn realloc_moves_while_the_old_block_is_held(policy: Policy) {
    if policy == Policy::Buddy {
        // [a 16][b 16][c 32] of 64, then free a: growing b to 32 needs a 32-unit block.
        // Freed first, b would have merged with a into 0-31 and the new block would sit
        // over the old one; held, there is no room at all.
        let mut run = Run::new(policy, 64, 1);
        let (a, b, c) = (run.allocate(16).unwrap(), run.allocate(16).unwrap(), run.allocate(32).unwrap());
        assert_eq!((a, b, c), (0, 16, 32));
        run.free(a, 16).unwrap();
        assert_eq!(run.reallocate(b, 16, 32), Err(Error::OutOfMemory), "the old block is held while choosing");
        // With room elsewhere (capacity 128: 64-127 is free), it moves there.
        let mut run = Run::new(policy, 128, 1);
        let (a, b) = (run.allocate(16).unwrap(), run.allocate(16).unwrap());
        run.allocate(32).unwrap();
        run.free(a, 16).unwrap();
        assert_eq!(run.reallocate(b, 16, 32), Ok(64));
        assert_eq!(show(&run.heap.blocks()[..2]), "[Free(0-31)] [Allocated(32-63)]", "the old block merged back");
        return;
    }
    // [a 16][b 32][c 16] then free a: growing b has no room after it (c), so b moves; had
    // b been freed first, the merged 0-47 would have taken the new block over the old one.
    let mut run = Run::new(policy, 128, 1);
    let a = run.allocate(16).unwrap();
    let b = run.allocate(32).unwrap();
    let c = run.allocate(16).unwrap();
    assert_eq!((a, b, c), (0, 16, 48), "{}: three blocks from a fresh map", run.name);
    run.free(a, 16).unwrap();
    let moved = run.reallocate(b, 32, 40).unwrap();
    assert!(moved >= 64, "{}: moved to {moved}, not past the old block", run.name);
    assert_eq!(run.size_of(b), Err(Error::NotAllocated), "the old block is released");
    assert_eq!(run.size_of(moved), Ok(40));
    assert_eq!(show(&run.heap.blocks()[..1]), "[Free(0-47)]", "the old block merged with the hole before it");
    run.free(moved, 40).unwrap();
    run.free(c, 16).unwrap();
    run.is_initial();
}

fn realloc_out_of_memory_changes_nothing(policy: Policy) {
    let mut run = Run::new(policy, 256, 1);
    let mut blocks = Vec::new();
    while let Ok(addr) = run.allocate(16) {
        blocks.push(addr);
    }
    let first = blocks[0];
    assert_eq!(run.reallocate(first, 16, 17), Err(Error::OutOfMemory), "full");
    assert_eq!(run.reallocate(first, 16, 256), Err(Error::OutOfMemory));
    run.free(blocks[2], 16).unwrap();
    run.free(blocks[4], 16).unwrap();
    // 32 units free, but in two holes: 33 fits nowhere, with the old block held.
    assert_eq!(run.reallocate(blocks[6], 16, 33), Err(Error::OutOfMemory));
    assert_eq!(run.size_of(blocks[6]), Ok(16));
    assert_eq!(run.size_of(first), Ok(16));
}

fn reset_restores_the_initial_map(policy: Policy) {
    for min_alignment in [1, 8] {
        let mut run = Run::new(policy, 1000, min_alignment);
        let mut rng = SmallRng::seed_from_u64(99);
        let mut addrs = Vec::new();
        for _ in 0..60 {
            if let Ok(addr) = run.allocate(rng.random_range(1..=50)) {
                addrs.push(addr);
            }
        }
        for addr in addrs.iter().copied().step_by(2) {
            run.free_at(addr).unwrap();
        }
        run.reset();
        run.is_initial();
        for addr in addrs {
            assert_eq!(run.free_at(addr), Err(Error::NotAllocated), "nothing survives a reset");
        }
        run.reset();
        run.is_initial();
        run.largest_free_is_exact();
    }
}

// ---------------------------------------------------------------------------------------
// Placement calls and capacity changes, each call checked against the model by Run
// ---------------------------------------------------------------------------------------

#[expect(clippy::reversed_empty_ranges, reason = "a reversed range is rejected as empty")]
fn placement_calls_in_check_order(policy: Policy) {
    for min_alignment in [1, 8] {
        let (mut run, a, b, c) = example(policy, min_alignment);
        let capacity = run.capacity();
        // allocate_with: alignment, then size, then an empty range, then room.
        assert_eq!(run.allocate_with(Request::new(0).align(3).within(5..5)), Err(Error::InvalidAlignment));
        assert_eq!(run.allocate_with(Request::new(0).align(0).top_down()), Err(Error::InvalidAlignment));
        assert_eq!(run.allocate_with(Request::new(0).within(5..5)), Err(Error::InvalidSize));
        for range in [capacity..usize::MAX, 9..3, 7..7, usize::MAX..usize::MAX] {
            let request = Request::new(usize::MAX).within(range).top_down();
            assert_eq!(run.allocate_with(request), Err(Error::InvalidArgument));
        }
        assert_eq!(run.allocate_with(Request::new(usize::MAX).top_down()), Err(Error::OutOfMemory));
        assert_eq!(run.allocate_with(Request::new(capacity + 1)), Err(Error::OutOfMemory));
        assert_eq!(run.allocate_with(Request::new(1).within(a..a + 20)), Err(Error::OutOfMemory), "a live range");
        // allocate_at: address, then size, then alignment, then occupancy.
        assert_eq!(run.allocate_at(capacity, 0), Err(Error::InvalidAddress));
        assert_eq!(run.allocate_at(usize::MAX, usize::MAX), Err(Error::InvalidAddress));
        assert_eq!(run.allocate_at(capacity - 1, 0), Err(Error::InvalidSize));
        assert_eq!(run.allocate_at(1, usize::MAX), Err(Error::InvalidSize));
        assert_eq!(run.allocate_at(c, capacity - c + 1), Err(Error::InvalidSize));
        if min_alignment > 1 {
            assert_eq!(run.allocate_at(a + 1, 1), Err(Error::InvalidAlignment), "beats occupancy");
        }
        assert_eq!(run.allocate_at(a, 1), Err(Error::Occupied));
        assert_eq!(run.allocate_at(b, 25), Err(Error::Occupied));
        assert_eq!(run.allocate_at(c, 7), Err(Error::Occupied));
        // set_capacity: 0, then the live footprints.
        assert_eq!(run.set_capacity(0), Err(Error::InvalidArgument));
        let end = run.live_end();
        assert_eq!(run.set_capacity(end - 1), Err(Error::Occupied));
        assert_eq!(run.set_capacity(1), Err(Error::Occupied));
        run.set_capacity(end).unwrap();
        run.largest_free_is_exact();
        run.set_capacity(capacity).unwrap();
        // Successes at both ends, in a range, aligned: every address the model's.
        let top = run.allocate_with(Request::new(10).top_down().tag(1)).unwrap();
        let _ = run.allocate_with(Request::new(5).within(top.saturating_sub(60)..top).align(4).top_down());
        let _ = run.allocate_with(Request::new(3).within(1..capacity).pinned());
        let free = run.model.free_blocks()[0];
        run.allocate_at(free.0, 1).unwrap();
        for (addr, size) in run.model.live().clone() {
            run.free(addr, size).unwrap();
        }
        run.is_initial();
    }
}

fn capacity_changes_keep_every_allocation(policy: Policy) {
    for min_alignment in [1, 4] {
        let mut run = Run::new(policy, 1000, min_alignment);
        let mut rng = SmallRng::seed_from_u64(41 + min_alignment as u64);
        while run.allocate(rng.random_range(1..=48)).is_ok() {}
        for (addr, size) in run.model.live().clone().into_iter().step_by(3) {
            run.free(addr, size).unwrap();
        }
        for step in 0..8 {
            let end = run.live_end();
            let new_capacity = match step {
                0 | 6 => end,
                1 => end + 1,
                2 => end.max(1500),
                3 => end + 64,
                4 => usize::MAX,
                5 => end.max(4096),
                _ => end.max(1000),
            };
            run.set_capacity(new_capacity).unwrap();
            // The new space is free space like any other.
            let _ = run.allocate_with(Request::new(24).top_down());
            let _ = run.allocate(rng.random_range(1..=48));
            run.largest_free_is_exact();
            if let Some((addr, size)) = run.pick(rng.random()) {
                run.free(addr, size).unwrap();
            }
        }
        assert_eq!(run.set_capacity(run.live_end() - 1), Err(Error::Occupied));
        for (addr, size) in run.model.live().clone() {
            run.free(addr, size).unwrap();
        }
        run.is_initial();
    }
}

// ---------------------------------------------------------------------------------------
// Threads: the C layer's handle, shared by threads
// ---------------------------------------------------------------------------------------

fn threads_share_one_handle(policy: Policy) {
    use std::sync::atomic::{AtomicU8, Ordering};

    use memalloc::ffi::{self, MA_ERR_OUT_OF_MEMORY, MA_OK, ma_allocator, ma_options, ma_stats};

    const THREADS: u8 = 4;
    const CAPACITY: usize = 1 << 12;

    /// A handle pointer that may cross threads: the C API guards it with its lock.
    #[derive(Clone, Copy)]
    struct Handle(*mut ma_allocator);
    // SAFETY: every ma_ function but ma_destroy may be called on one handle from many
    // threads at once (docs/CONTRACT.md); ma_destroy runs after every thread is joined.
    unsafe impl Send for Handle {}
    // SAFETY: as above.
    unsafe impl Sync for Handle {}

    let options = ma_options { capacity: CAPACITY, policy: policy as u32, min_alignment: 1, ..Default::default() };
    let mut raw = std::ptr::null_mut();
    // SAFETY: both pointers are valid for the call.
    assert_eq!(unsafe { ffi::ma_create_with(&options, &mut raw) }, MA_OK);
    let handle = Handle(raw);
    let owner: Vec<AtomicU8> = (0..CAPACITY).map(|_| AtomicU8::new(0)).collect();

    std::thread::scope(|scope| {
        for id in 1..=THREADS {
            let owner = &owner;
            scope.spawn(move || {
                let handle = handle;
                let mut rng = SmallRng::seed_from_u64(u64::from(id) + 1000 * policy as u64);
                let mut live: Vec<(usize, usize)> = Vec::new();
                let claim = |addr: usize, size: usize, from: u8, to: u8| {
                    for unit in &owner[addr..addr + size] {
                        assert_eq!(
                            unit.compare_exchange(from, to, Ordering::SeqCst, Ordering::SeqCst),
                            Ok(from),
                            "{policy}: thread {id}: unit of ({addr}, {size}) held by another thread"
                        );
                    }
                };
                for _ in 0..3000 {
                    let roll = rng.random_range(0..100);
                    if live.is_empty() || (roll < 50 && live.len() < 24) {
                        let (size, align) = (rng.random_range(1..=64), 1 << rng.random_range(0..4));
                        let mut addr = usize::MAX;
                        // SAFETY: a live handle and a valid out-pointer.
                        let status = unsafe { ffi::ma_alloc_aligned(handle.0, size, align, &mut addr) };
                        if status == MA_OK {
                            assert_eq!(addr % align, 0);
                            claim(addr, size, 0, id);
                            live.push((addr, size));
                        } else {
                            assert_eq!((status, addr), (MA_ERR_OUT_OF_MEMORY, usize::MAX));
                        }
                    } else if roll < 85 {
                        let (addr, size) = live.swap_remove(rng.random_range(0..live.len()));
                        claim(addr, size, id, 0);
                        // SAFETY: a live handle.
                        assert_eq!(unsafe { ffi::ma_free(handle.0, addr, size) }, MA_OK);
                    } else {
                        let i = rng.random_range(0..live.len());
                        let (addr, size) = live[i];
                        let new = rng.random_range(1..=96);
                        claim(addr, size, id, 0);
                        let mut at = usize::MAX;
                        // SAFETY: a live handle and a valid out-pointer.
                        let status = unsafe { ffi::ma_realloc(handle.0, addr, size, new, &mut at) };
                        if status == MA_OK {
                            if new <= size {
                                assert_eq!(at, addr, "{policy}: a shrink stays in place");
                            }
                            claim(at, new, 0, id);
                            live[i] = (at, new);
                        } else {
                            assert_eq!(status, MA_ERR_OUT_OF_MEMORY);
                            claim(addr, size, 0, id);
                        }
                    }
                }
                for (addr, size) in live {
                    claim(addr, size, id, 0);
                    // SAFETY: a live handle.
                    assert_eq!(unsafe { ffi::ma_free(handle.0, addr, size) }, MA_OK);
                }
            });
        }
    });

    let mut stats = ma_stats::default();
    // SAFETY: a live handle and a valid out-pointer.
    assert_eq!(unsafe { ffi::ma_get_stats(handle.0, &mut stats) }, MA_OK);
    let fresh = MemoryAllocator::with_options(Options::new(CAPACITY).policy(policy)).unwrap();
    assert_eq!(stats, fresh.stats().into(), "{policy}: everything freed, everything merged");
    // SAFETY: every thread is joined; the handle is not used again.
    unsafe { ffi::ma_destroy(handle.0) };
}

// ---------------------------------------------------------------------------------------
// Each policy's placement rule, against the naive model, on random calls
// ---------------------------------------------------------------------------------------

/// A size for a request: mostly small, sometimes large, now and then 0 or too large.
fn random_size(rng: &mut SmallRng, capacity: usize) -> usize {
    match rng.random_range(0..100) {
        0..=2 => 0,
        3..=4 => capacity.saturating_add(rng.random_range(0..3)),
        5 => usize::MAX - rng.random_range(0..3),
        6..=20 => rng.random_range(1..=(capacity / 4).max(1)),
        _ => rng.random_range(1..=32),
    }
}

fn random_alignment(rng: &mut SmallRng) -> usize {
    const ALIGNMENTS: [usize; 13] = [0, 1, 1, 2, 3, 4, 8, 16, 32, 64, 256, 6, (usize::MAX >> 1) + 1];
    ALIGNMENTS[rng.random_range(0..ALIGNMENTS.len())]
}

/// An address in `[0, capacity]` (the capacity itself out of range), mostly low.
fn random_address(rng: &mut SmallRng, capacity: usize) -> usize {
    match rng.random_range(0..4) {
        0 => rng.random_range(0..=capacity),
        1 => capacity - rng.random_range(0..=capacity.min(64)),
        _ => rng.random_range(0..=capacity.min(4096)),
    }
}

/// A request for `allocate_with`: a range that is mostly valid (empty, reversed, past the
/// capacity or the default now and then), either end, any alignment, a tag, a pin.
fn random_request(rng: &mut SmallRng, capacity: usize) -> Request {
    let (a, b) = (random_address(rng, capacity), random_address(rng, capacity));
    let range = match rng.random_range(0..10) {
        0 => 0..usize::MAX,
        1 => b..a.min(b),
        2 => a..usize::MAX,
        3 => capacity.saturating_add(rng.random_range(0..3))..usize::MAX,
        _ => a.min(b)..a.max(b).saturating_add(rng.random_range(0..3)),
    };
    let span = range.end.min(capacity).saturating_sub(range.start);
    let size =
        if span > 0 && rng.random_bool(0.6) { rng.random_range(1..=span.min(64)) } else { random_size(rng, capacity) };
    let align = if rng.random_bool(0.6) { 1 } else { random_alignment(rng) };
    let request = Request::new(size).within(range).align(align).tag(rng.random_range(0..4));
    let request = if rng.random_bool(0.5) { request.top_down() } else { request };
    if rng.random_bool(0.2) { request.pinned() } else { request }
}

/// A place for `allocate_at`: mostly inside a free block, on the alignment the policy
/// needs (buddy: the footprint); else anywhere, a live allocation included.
fn random_reservation(rng: &mut SmallRng, run: &Run) -> (usize, usize) {
    let free = run.model.free_blocks();
    let size = match rng.random_range(0..10) {
        0 => 0,
        1 => random_size(rng, run.capacity()),
        _ => rng.random_range(1..=32),
    };
    let unit = match run.model.footprint(size) {
        Some(fp) if run.policy() == Policy::Buddy => fp.max(1),
        _ => run.min_alignment(),
    };
    let addr = match free.get(rng.random_range(0..free.len().max(1))) {
        Some(&(start, len)) if rng.random_bool(0.7) => {
            let at = start + rng.random_range(0..len);
            at.checked_next_multiple_of(unit).unwrap_or(at) & !(run.min_alignment() - 1)
        }
        _ => match run.pick(rng.random()) {
            Some((addr, _)) if rng.random_bool(0.5) => addr + rng.random_range(0..2),
            _ => random_address(rng, run.capacity()),
        },
    };
    (addr, size)
}

/// A new capacity: mostly one that holds every live footprint (exactly, more, much
/// more), sometimes one below the last (occupied), 0 or the whole of usize.
fn random_capacity(rng: &mut SmallRng, run: &Run) -> usize {
    let (capacity, end) = (run.capacity(), run.live_end());
    match rng.random_range(0..12) {
        0 => 0,
        1 => end.saturating_sub(rng.random_range(1..=8)),
        2 => end.max(1),
        3 => usize::MAX - rng.random_range(0..2),
        4 => capacity,
        5..=7 => rng.random_range(end.max(1)..=capacity.max(end.max(1))),
        _ => capacity.saturating_add(rng.random_range(0..=capacity.min(4096))),
    }
}

/// `steps` random calls, good and bad, each compared with the model.
fn random_run(policy: Policy, capacity: usize, min_alignment: usize, seed: u64, steps: usize) {
    let mut run = Run::new(policy, capacity, min_alignment);
    run.name = format!("{}, seed {seed}", run.name);
    let mut rng = SmallRng::seed_from_u64(seed);
    for _ in 0..steps {
        // set_capacity changes it.
        let capacity = run.capacity();
        let picked = run.pick(rng.random());
        // A live (addr, size), mostly; else something that is not one.
        let (addr, size) = match picked {
            Some((addr, size)) if rng.random_bool(0.85) => match rng.random_range(0..12) {
                0 => (addr, 0),
                1 => (addr, size + 1),
                2 => (addr + 1, size),
                _ => (addr, size),
            },
            _ => (rng.random_range(0..capacity.saturating_add(2)), rng.random_range(1..=8)),
        };
        match rng.random_range(0..128) {
            0..=29 => {
                let _ = run.allocate(random_size(&mut rng, capacity));
            }
            100..=109 => {
                let _ = run.allocate_with(random_request(&mut rng, capacity));
            }
            110..=115 => {
                let (addr, size) = random_reservation(&mut rng, &run);
                let _ = run.allocate_at(addr, size);
            }
            116..=118 => {
                let new_capacity = random_capacity(&mut rng, &run);
                let _ = run.set_capacity(new_capacity);
            }
            119 => run.largest_free_is_exact(),
            30..=39 => {
                let _ = run.allocate_aligned(random_size(&mut rng, capacity), random_alignment(&mut rng));
            }
            40..=64 => {
                let _ = run.free(addr, size);
            }
            65..=71 => {
                let _ = run.free_at(addr);
            }
            72..=89 => {
                let new = if rng.random_bool(0.1) {
                    random_size(&mut rng, capacity)
                } else {
                    rng.random_range(1..=size.saturating_mul(2).saturating_add(8))
                };
                let _ = run.reallocate(addr, size, new);
            }
            90..=94 => {
                let _ = run.size_of(addr);
            }
            95 => run.reset(),
            120..=122 => {
                let units = if rng.random_bool(0.3) { usize::MAX } else { rng.random_range(0..=256) };
                let _ = run.compact(units, rng.random_range(0..=4));
            }
            123..=124 => {
                let _ = run.set_tag(addr, rng.random_range(0..4));
            }
            125 => {
                let _ = run.free_tagged(rng.random_range(0..4));
            }
            126 => {
                let _ = run.tag_of(addr);
            }
            127 => run.save_and_load(),
            _ => run.largest_free_is_exact(),
        }
    }
}

fn random_calls_match_the_policy_model(policy: Policy) {
    let configs: [(usize, usize, usize); 8] = [
        (1000, 1, 900),
        (64, 1, 400),
        (1024, 8, 700),
        (999, 8, 700),
        (4096, 4, 700),
        (100, 1, 500),
        ((1 << 40) + 12345, 1, 300),
        (usize::MAX, 16, 300),
    ];
    // CONFORMANCE_SEEDS=N runs N seeds per configuration instead of 2 (a longer soak).
    let seeds = std::env::var("CONFORMANCE_SEEDS").ok().and_then(|n| n.parse().ok()).unwrap_or(2u64);
    for (i, &(capacity, min_alignment, steps)) in configs.iter().enumerate() {
        for seed in 0..seeds {
            random_run(policy, capacity, min_alignment, seed * 1_000_003 + i as u64, steps);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Each policy's own rule, on hand-made maps
// ---------------------------------------------------------------------------------------

/// First fit gives exactly the reference's addresses: the worked example of docs/REFERENCE-ALGORITHM.md, then
/// random calls (the reference knows min_alignment 1 only).
#[test]
fn first_fit_is_the_reference() {
    let mut run = Run::new(Policy::FirstFit, 100, 1);
    for (size, want) in [(20, 0), (30, 20), (40, 50)] {
        assert_eq!(run.allocate(size), Ok(want));
    }
    run.free(20, 30).unwrap();
    assert_eq!(run.allocate(25), Ok(20));
    assert_eq!(
        run.heap.to_string(),
        "[Allocated(0-19)] [Allocated(20-44)] [Free(45-49)] [Allocated(50-89)] [Free(90-99)]"
    );
    run.free(0, 20).unwrap();
    run.free(20, 25).unwrap();
    assert_eq!(run.heap.to_string(), "[Free(0-49)] [Allocated(50-89)] [Free(90-99)]");

    // Random allocations and frees, held to the reference's addresses and free list. (The
    // model holds first fit to exact addresses for every other call, and min_alignment.)
    for (seed, capacity) in [100, 1000, 4096, 1 << 40].into_iter().enumerate() {
        let mut heap = MemoryAllocator::new(capacity).unwrap();
        let mut reference = ReferenceAllocator::new(capacity).unwrap();
        let mut rng = SmallRng::seed_from_u64(seed as u64);
        let mut live: Vec<(usize, usize)> = Vec::new();
        for step in 0..800 {
            let context = format!("capacity {capacity}, seed {seed}, step {step}");
            if live.is_empty() || rng.random_bool(0.55) {
                let size = random_size(&mut rng, capacity);
                let got = heap.allocate(size);
                assert_eq!(got, support::result(reference.allocate(size)), "{context}: allocate({size})");
                live.extend(got.ok().map(|addr| (addr, size)));
            } else {
                let (addr, size) = live.swap_remove(rng.random_range(0..live.len()));
                let want = support::result(reference.free(addr, size));
                assert_eq!(heap.free(addr, size), want, "{context}: free({addr}, {size})");
            }
            let free: Vec<(usize, usize)> =
                heap.blocks().iter().filter(|b| b.kind == BlockKind::Free).map(|b| (b.start, b.size)).collect();
            assert_eq!(free, reference.free_blocks(), "{context}: free lists");
            assert_eq!(heap.largest_free_block(), reference.largest_free_block(), "{context}");
        }
    }
}

/// A heap of `capacity` whose free blocks are exactly `holes` (ascending, apart).
fn with_holes(policy: Policy, capacity: usize, holes: &[(usize, usize)]) -> Run {
    let mut run = Run::new(policy, capacity, 1);
    let mut at = 0;
    let mut fill = Vec::new();
    for &(start, size) in holes.iter().chain([&(capacity, 0)]) {
        if start > at {
            fill.push((at, start - at));
        }
        fill.push((start, size));
        at = start + size;
    }
    for &(start, size) in fill.iter().filter(|&&(_, size)| size > 0) {
        assert_eq!(run.allocate(size), Ok(start), "{}: building the map", run.name);
    }
    for &(start, size) in holes {
        run.free(start, size).unwrap();
    }
    assert_eq!(run.model.free_blocks(), holes);
    run
}

#[test]
fn best_fit_takes_the_smallest_block_ties_to_the_lowest_address() {
    let mut run = with_holes(Policy::BestFit, 120, &[(10, 30), (50, 12), (70, 20), (95, 12)]);
    assert_eq!(run.allocate(11), Ok(50), "the two 12-unit holes tie: the lower one");
    assert_eq!(run.allocate(12), Ok(95), "an exact fit");
    assert_eq!(run.allocate(13), Ok(70));
    assert_eq!(run.allocate(7), Ok(83), "the 7-unit rest is now the smallest");
    assert_eq!(run.allocate_aligned(1, 4), Ok(12), "the 30-unit hole is the only one left with room");
    assert_eq!(run.allocate(1), Ok(61), "the 1-unit rest of the first 12-unit hole");
    assert_eq!(run.allocate(27), Ok(13), "an exact fit again");
    assert_eq!(run.allocate(3), Err(Error::OutOfMemory));
}

#[test]
fn tlsf_never_fails_while_a_free_block_holds_the_request() {
    // 129 lies in the class [128, 132), and the only blocks that hold it are in that same
    // class: the good fit (a class whose every block holds 129) finds none, the class
    // itself must be searched.
    let mut run = with_holes(Policy::Tlsf, 1000, &[(0, 128), (200, 130), (400, 100)]);
    assert_eq!(run.allocate(129), Ok(200));
    assert_eq!(run.allocate(129), Err(Error::OutOfMemory));
    assert_eq!(run.allocate(128), Ok(0));
    // Aligned: only one place in the map can hold 16 units on a multiple of 64.
    let mut run = with_holes(Policy::Tlsf, 1000, &[(1, 79), (130, 60), (300, 15), (500, 27)]);
    assert_eq!(run.allocate_aligned(16, 64), Ok(64));
    assert_eq!(run.allocate_aligned(16, 64), Err(Error::OutOfMemory));
    assert_eq!(run.allocate(63), Ok(1), "the gap before the aligned block stayed free");
    // Exact sizes: no padding at all with min_alignment 1.
    let mut run = Run::new(Policy::Tlsf, 1000, 1);
    for size in [1, 3, 7, 33, 65, 129, 257] {
        let addr = run.allocate(size).unwrap();
        assert_eq!(run.heap.size_of(addr), Ok(size));
    }
    assert_eq!(run.heap.stats().padding, 0);
}

#[test]
fn buddy_blocks_are_powers_of_two_split_low_half_first() {
    let mut run = Run::new(Policy::Buddy, 100, 1);
    assert_eq!(show(&run.heap.blocks()), "[Free(0-63)] [Free(64-95)] [Free(96-99)]");
    assert_eq!(run.allocate(3), Ok(96), "the 4-unit top-level block is the smallest that holds 3");
    assert_eq!(run.heap.to_string(), "[Free(0-63)] [Free(64-95)] [Allocated(96-98)] [Padding(99-99)]");
    assert_eq!(run.allocate(20), Ok(64), "a 32-unit block, whole");
    assert_eq!(run.allocate(17), Ok(0), "64 at 0 split: 0-31 taken, 32-63 free");
    assert_eq!(run.allocate(1), Ok(32), "32-63 split down to one unit");
    assert_eq!(
        run.heap.to_string(),
        "[Allocated(0-16)] [Padding(17-31)] [Allocated(32-32)] [Free(33-33)] [Free(34-35)] [Free(36-39)] \
         [Free(40-47)] [Free(48-63)] [Allocated(64-83)] [Padding(84-95)] [Allocated(96-98)] [Padding(99-99)]"
    );
    let s = run.heap.stats();
    assert_eq!((s.allocated, s.free, s.padding, s.free_blocks, s.largest_free), (41, 31, 28, 5, 16));
    assert_eq!(run.allocate(2), Ok(34), "the lowest block of the smallest sufficient order");
    assert_eq!(run.allocate_aligned(1, 8), Ok(40), "on a multiple of 8: the 8-unit block");
    assert_eq!(run.allocate(16), Ok(48));
    assert_eq!(run.allocate(5), Err(Error::OutOfMemory), "12 units free, no 8-unit block");
    // Freeing merges buddies back, up to the top-level blocks, never across them.
    run.free(34, 2).unwrap();
    run.free(48, 16).unwrap();
    run.free(40, 1).unwrap();
    run.free(32, 1).unwrap();
    assert_eq!(
        run.heap.to_string(),
        "[Allocated(0-16)] [Padding(17-31)] [Free(32-63)] [Allocated(64-83)] [Padding(84-95)] [Allocated(96-98)] [Padding(99-99)]"
    );
    run.free(0, 17).unwrap();
    run.free(64, 20).unwrap();
    assert_eq!(run.heap.to_string(), "[Free(0-63)] [Free(64-95)] [Allocated(96-98)] [Padding(99-99)]");
    // Shrinking frees the tail as buddy blocks; growing past the footprint moves.
    let a = run.allocate(60).unwrap();
    assert_eq!(a, 0);
    assert_eq!(run.reallocate(a, 60, 9), Ok(0));
    assert_eq!(
        run.heap.to_string(),
        "[Allocated(0-8)] [Padding(9-15)] [Free(16-31)] [Free(32-63)] [Free(64-95)] [Allocated(96-98)] [Padding(99-99)]"
    );
    assert_eq!(run.reallocate(a, 9, 16), Ok(0), "the footprint of 9 is 16");
    assert_eq!(run.reallocate(a, 16, 17), Ok(32), "the free buddy after it is not used: the block moves");
}
