//! Model-based tests: random operation sequences run against an oracle, step by step.
//!
//! 1. First fit against `ReferenceAllocator` (the O(n) port of REFERENCE.md): identical
//!    addresses and errors at every step, identical free lists and counters.
//! 2. Best fit (and aligned first fit) against a naive model written here: a sorted free
//!    list scanned in full, the smallest block that fits, ties to the lowest address.
//! 3. `reallocate`, `free_at`, `size_of` and `reset` with a random `min_alignment`: every
//!    result predicted from the map before the call, the map always exactly the live
//!    allocations, and `capacity == allocated + free + padding`.
//!
//! Every step also runs `check_invariants()` and checks that a rejected call changed
//! neither `blocks()` nor `stats()`. Capacities range from 1 to `usize::MAX`; sizes are
//! mostly small, sometimes a fraction of the capacity, sometimes huge (`usize::MAX`).

#[path = "support/reference.rs"]
mod reference;

use std::collections::BTreeMap;

use memalloc::{Block, BlockKind, Error, MemoryAllocator, Options, Policy};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use reference::ReferenceAllocator;

// ---------------------------------------------------------------------------------------
// Generated operations
// ---------------------------------------------------------------------------------------

/// A requested size, resolved against the capacity when the sequence runs.
#[derive(Debug, Clone, Copy)]
enum Size {
    /// Exactly this many units (mostly small, sometimes huge).
    Units(usize),
    /// `n/16` of the capacity (at least 1): what makes huge capacities fill up.
    Sixteenths(u8),
}

impl Size {
    fn resolve(self, capacity: usize) -> usize {
        match self {
            Size::Units(units) => units,
            Size::Sixteenths(n) => (capacity / 16 * usize::from(n)).max(1),
        }
    }
}

/// One step. Selectors (`usize`) pick from the live or freed allocations at run time,
/// so a sequence stays meaningful while proptest shrinks it.
#[derive(Debug, Clone)]
enum Op {
    Allocate(Size),
    AllocateAligned(Size, usize),
    /// Free a live allocation with its exact arguments.
    Free(usize),
    /// Free a live allocation twice in a row.
    DoubleFree(usize),
    /// Free an allocation freed earlier (its range may be live again by now).
    FreeStale(usize),
    /// A live allocation's address moved by a small amount, with its size.
    FreeShifted(usize, i8),
    /// A live allocation's address, a size off by a small amount (0 and overflow included).
    FreeWrongSize(usize, i8),
    /// An address inside a live allocation (after its first unit).
    FreeInterior(usize, usize),
    /// A live allocation's address with size 0.
    FreeZero(usize),
    /// An address at or past the capacity.
    FreeOutOfRange(usize, usize),
    /// Whatever arguments.
    FreeRaw(usize, usize),
}

fn units() -> impl Strategy<Value = usize> {
    prop_oneof![
        12 => 1usize..=8,
        4 => 1usize..=64,
        1 => Just(0usize),
        1 => (0u32..64).prop_map(|k| 1usize << k),
        1 => (0usize..4).prop_map(|k| usize::MAX - k),
        1 => (2usize..=4).prop_map(|d| usize::MAX / d),
        1 => any::<usize>(),
    ]
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![4 => units().prop_map(Size::Units), 1 => (1u8..=16).prop_map(Size::Sixteenths)]
}

fn alignment() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => (0u32..=6).prop_map(|k| 1usize << k),
        2 => (7u32..64).prop_map(|k| 1usize << k),
        1 => prop_oneof![Just(0usize), Just(3), Just(6), Just(usize::MAX)],
    ]
}

fn capacity() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 1usize..=8,
        2 => 9usize..=300,
        1 => (0usize..4).prop_map(|k| usize::MAX - k),
        1 => (32u32..64).prop_map(|k| 1usize << k),
        1 => (1usize << 40)..=usize::MAX,
    ]
}

fn free_op() -> impl Strategy<Value = Op> {
    let delta = any::<i8>().prop_filter("a shift", |d| *d != 0);
    prop_oneof![
        8 => any::<usize>().prop_map(Op::Free),
        1 => any::<usize>().prop_map(Op::DoubleFree),
        2 => any::<usize>().prop_map(Op::FreeStale),
        1 => (any::<usize>(), delta.clone()).prop_map(|(s, d)| Op::FreeShifted(s, d)),
        1 => (any::<usize>(), delta).prop_map(|(s, d)| Op::FreeWrongSize(s, d)),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(s, k)| Op::FreeInterior(s, k)),
        1 => any::<usize>().prop_map(Op::FreeZero),
        1 => (0usize..3, units()).prop_map(|(o, n)| Op::FreeOutOfRange(o, n)),
        1 => (units(), units()).prop_map(|(a, n)| Op::FreeRaw(a, n)),
    ]
}

fn ops(aligned: bool, max_len: usize) -> impl Strategy<Value = Vec<Op>> {
    let align_weight = if aligned { 3 } else { 0 };
    let op = prop_oneof![
        10 => size().prop_map(Op::Allocate),
        align_weight => (size(), alignment()).prop_map(|(s, a)| Op::AllocateAligned(s, a)),
        9 => free_op(),
    ];
    prop::collection::vec(op, 1..=max_len)
}

/// Long runs of small allocations and frees on a medium capacity: many free blocks at
/// once, so the first-fit tree grows deep and rebalances, and best fit has real choices.
fn churn_ops(aligned: bool) -> impl Strategy<Value = Vec<Op>> {
    let align_weight = if aligned { 2 } else { 0 };
    let op = prop_oneof![
        12 => (1usize..=16).prop_map(|n| Op::Allocate(Size::Units(n))),
        align_weight => (1usize..=16, (0u32..=5).prop_map(|k| 1usize << k))
            .prop_map(|(n, a)| Op::AllocateAligned(Size::Units(n), a)),
        9 => any::<usize>().prop_map(Op::Free),
        1 => free_op(),
    ];
    prop::collection::vec(op, 100..=400)
}

/// The sequence count per property: smaller under Miri, where every step is slow.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases: if cfg!(miri) { 4 } else { cases }, ..ProptestConfig::default() }
}

// ---------------------------------------------------------------------------------------
// Running a sequence: live and freed allocations, resolved arguments
// ---------------------------------------------------------------------------------------

/// What the test itself knows: live allocations (in the order made) and freed ones.
#[derive(Default)]
struct History {
    live: Vec<(usize, usize)>,
    freed: Vec<(usize, usize)>,
}

impl History {
    fn pick(&self, selector: usize) -> Option<(usize, usize)> {
        (!self.live.is_empty()).then(|| self.live[selector % self.live.len()])
    }

    fn allocated(&mut self, addr: usize, size: usize) {
        self.live.push((addr, size));
    }

    fn freed(&mut self, addr: usize, size: usize) {
        self.live.retain(|&live| live != (addr, size));
        self.freed.push((addr, size));
    }
}

/// A call to make on both allocators.
#[derive(Debug, Clone, Copy)]
enum Call {
    Allocate(usize),
    AllocateAligned(usize, usize),
    Free(usize, usize),
}

/// The calls one operation stands for, given the history (a double free is two calls).
fn resolve(op: &Op, capacity: usize, history: &History) -> Vec<Call> {
    // Without a live allocation, the free-shaped operations still run, on raw arguments.
    let live = |selector: usize| history.pick(selector).unwrap_or((selector % capacity.saturating_add(1), 1));
    match *op {
        Op::Allocate(size) => vec![Call::Allocate(size.resolve(capacity))],
        Op::AllocateAligned(size, alignment) => vec![Call::AllocateAligned(size.resolve(capacity), alignment)],
        Op::Free(s) => {
            let (addr, size) = live(s);
            vec![Call::Free(addr, size)]
        }
        Op::DoubleFree(s) => {
            let (addr, size) = live(s);
            vec![Call::Free(addr, size), Call::Free(addr, size)]
        }
        Op::FreeStale(s) => {
            let (addr, size) = if history.freed.is_empty() { live(s) } else { history.freed[s % history.freed.len()] };
            vec![Call::Free(addr, size)]
        }
        Op::FreeShifted(s, d) => {
            let (addr, size) = live(s);
            vec![Call::Free(addr.wrapping_add_signed(d.into()), size)]
        }
        Op::FreeWrongSize(s, d) => {
            let (addr, size) = live(s);
            vec![Call::Free(addr, size.wrapping_add_signed(d.into()))]
        }
        Op::FreeInterior(s, k) => {
            let (addr, size) = live(s);
            let offset = if size > 1 { 1 + k % (size - 1) } else { 1 };
            vec![Call::Free(addr.wrapping_add(offset), size.saturating_sub(offset).max(1))]
        }
        Op::FreeZero(s) => vec![Call::Free(live(s).0, 0)],
        Op::FreeOutOfRange(offset, size) => vec![Call::Free(capacity.saturating_add(offset), size)],
        Op::FreeRaw(addr, size) => vec![Call::Free(addr, size)],
    }
}

fn free_list(heap: &MemoryAllocator) -> Vec<(usize, usize)> {
    heap.blocks().iter().filter(|b| b.kind == BlockKind::Free).map(|b| (b.start, b.size)).collect()
}

fn invariants(heap: &MemoryAllocator) -> Result<(), TestCaseError> {
    heap.check_invariants().map_err(|violation| TestCaseError::fail(format!("{violation}\nmap: {heap}")))?;
    let s = heap.stats();
    prop_assert_eq!(s.capacity, s.allocated + s.free + s.padding, "{:?}", s);
    prop_assert_eq!(s.free, heap.free_memory());
    prop_assert_eq!(s.largest_free, heap.largest_free_block());
    Ok(())
}

/// Runs `call` on the allocator under test; when it fails, checks that it changed nothing.
fn run_checked(heap: &mut MemoryAllocator, call: Call) -> Result<Result<usize, Error>, TestCaseError> {
    let (blocks, stats) = (heap.blocks(), heap.stats());
    let result = match call {
        Call::Allocate(size) => heap.allocate(size),
        Call::AllocateAligned(size, alignment) => heap.allocate_aligned(size, alignment),
        Call::Free(addr, size) => heap.free(addr, size).map(|()| addr),
    };
    if result.is_err() {
        prop_assert_eq!(heap.blocks(), blocks, "{:?} was rejected but changed the map", call);
        prop_assert_eq!(heap.stats(), stats, "{:?} was rejected but changed the stats", call);
    }
    invariants(heap)?;
    Ok(result)
}

// ---------------------------------------------------------------------------------------
// 1. First fit against the reference
// ---------------------------------------------------------------------------------------

fn first_fit_matches_reference(capacity: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut heap = MemoryAllocator::new(capacity).unwrap();
    let mut oracle = ReferenceAllocator::new(capacity).unwrap();
    let mut history = History::default();
    for (step, op) in ops.iter().enumerate() {
        for call in resolve(op, capacity, &history) {
            let got = run_checked(&mut heap, call)?;
            let expected = match call {
                Call::Allocate(size) => oracle.allocate(size),
                Call::Free(addr, size) => oracle.free(addr, size).map(|()| addr),
                Call::AllocateAligned(..) => unreachable!("the reference has no aligned allocation"),
            };
            prop_assert_eq!(got, expected, "step {}: {:?} -> {:?}", step, op, call);
            match (call, got) {
                (Call::Allocate(size), Ok(addr)) => history.allocated(addr, size),
                (Call::Free(addr, size), Ok(_)) => history.freed(addr, size),
                _ => {}
            }
            prop_assert_eq!(free_list(&heap), oracle.free_blocks(), "free lists differ after step {}", step);
            prop_assert_eq!(heap.free_memory(), oracle.free_memory());
            prop_assert_eq!(heap.largest_free_block(), oracle.largest_free_block());
            let stats = heap.stats();
            prop_assert_eq!(stats.allocations, oracle.live_count());
            prop_assert_eq!(stats.free_blocks, oracle.free_blocks().len());
            prop_assert_eq!(stats.padding, 0);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn first_fit_matches_the_reference(capacity in capacity(), ops in ops(false, 80)) {
        first_fit_matches_reference(capacity, &ops)?;
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn first_fit_matches_the_reference_under_churn(capacity in 64usize..=1024, ops in churn_ops(false)) {
        first_fit_matches_reference(capacity, &ops)?;
    }

    #[test]
    fn best_fit_matches_a_naive_model_under_churn(capacity in 64usize..=1024, ops in churn_ops(true)) {
        policy_matches_naive_model(Policy::BestFit, capacity, &ops)?;
    }
}

// ---------------------------------------------------------------------------------------
// 2. Best fit (and aligned first fit) against a naive model
// ---------------------------------------------------------------------------------------

/// A full scan of a sorted free list: what the O(log n) indexes must agree with.
#[derive(Debug)]
struct NaiveModel {
    capacity: usize,
    best_fit: bool,
    /// (start, size), sorted by start, never adjacent.
    free: Vec<(usize, usize)>,
    live: BTreeMap<usize, usize>,
}

/// Where `size` units aligned to `align` start inside the free block `(start, block)`.
fn fit(start: usize, block: usize, size: usize, align: usize) -> Option<usize> {
    let at = start.checked_add(align - 1)? & !(align - 1);
    let used = (at - start).checked_add(size)?;
    (used <= block).then_some(at)
}

impl NaiveModel {
    fn new(capacity: usize, best_fit: bool) -> Self {
        NaiveModel { capacity, best_fit, free: vec![(0, capacity)], live: BTreeMap::new() }
    }

    fn allocate(&mut self, size: usize, align: usize) -> Result<usize, Error> {
        if !align.is_power_of_two() {
            return Err(Error::InvalidAlignment);
        }
        if size == 0 {
            return Err(Error::InvalidSize);
        }
        let candidates =
            self.free.iter().enumerate().filter_map(|(i, &(start, block))| Some((i, fit(start, block, size, align)?)));
        let chosen = if self.best_fit {
            candidates.min_by_key(|&(i, _)| (self.free[i].1, self.free[i].0))
        } else {
            candidates.min_by_key(|&(_, at)| at)
        };
        let (i, at) = chosen.ok_or(Error::OutOfMemory)?;
        let (start, block) = self.free.remove(i);
        let mut pieces = Vec::new();
        if at > start {
            pieces.push((start, at - start));
        }
        if start + block > at + size {
            pieces.push((at + size, start + block - at - size));
        }
        self.free.splice(i..i, pieces);
        self.live.insert(at, size);
        Ok(at)
    }

    fn free(&mut self, addr: usize, size: usize) -> Result<(), Error> {
        if addr >= self.capacity {
            return Err(Error::InvalidAddress);
        }
        if size == 0 || addr.checked_add(size).is_none_or(|end| end > self.capacity) {
            return Err(Error::InvalidSize);
        }
        match self.live.get(&addr) {
            None => return Err(Error::NotAllocated),
            Some(&live) if live != size => return Err(Error::SizeMismatch),
            Some(_) => {}
        }
        self.live.remove(&addr);
        self.free.push((addr, size));
        self.free.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.free.len());
        for &(start, size) in &self.free {
            match merged.last_mut() {
                Some(last) if last.0 + last.1 == start => last.1 += size,
                _ => merged.push((start, size)),
            }
        }
        self.free = merged;
        Ok(())
    }
}

fn policy_matches_naive_model(policy: Policy, capacity: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut heap = MemoryAllocator::with_options(Options::new(capacity).policy(policy)).unwrap();
    let mut model = NaiveModel::new(capacity, policy == Policy::BestFit);
    let mut history = History::default();
    for (step, op) in ops.iter().enumerate() {
        for call in resolve(op, capacity, &history) {
            let got = run_checked(&mut heap, call)?;
            let expected = match call {
                Call::Allocate(size) => model.allocate(size, 1),
                Call::AllocateAligned(size, alignment) => model.allocate(size, alignment),
                Call::Free(addr, size) => model.free(addr, size).map(|()| addr),
            };
            prop_assert_eq!(got, expected, "{:?}, step {}: {:?} -> {:?}", policy, step, op, call);
            match (call, got) {
                (Call::Allocate(size) | Call::AllocateAligned(size, _), Ok(addr)) => history.allocated(addr, size),
                (Call::Free(addr, size), Ok(_)) => history.freed(addr, size),
                _ => {}
            }
            prop_assert_eq!(free_list(&heap), &model.free[..], "free lists differ after step {}", step);
            let stats = heap.stats();
            prop_assert_eq!(stats.allocations, model.live.len());
            prop_assert_eq!(stats.largest_free, model.free.iter().map(|b| b.1).max().unwrap_or(0));
            prop_assert_eq!(stats.padding, 0);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn best_fit_matches_a_naive_model(capacity in capacity(), ops in ops(true, 80)) {
        policy_matches_naive_model(Policy::BestFit, capacity, &ops)?;
    }

    #[test]
    fn aligned_first_fit_matches_a_naive_model(capacity in capacity(), ops in ops(true, 80)) {
        policy_matches_naive_model(Policy::FirstFit, capacity, &ops)?;
    }
}

// ---------------------------------------------------------------------------------------
// 3. reallocate, free_at, size_of, reset with a minimum alignment
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum ResizeOp {
    Allocate(Size),
    AllocateAligned(Size, usize),
    Free(usize),
    FreeAt(usize),
    /// `free_at` on an address that may not start a live allocation.
    FreeAtRaw(usize),
    SizeOf(usize),
    SizeOfRaw(usize),
    Realloc(usize, Size),
    /// A realloc whose old size is off by `delta` (so it should be rejected as free would).
    ReallocWrongSize(usize, i8, Size),
    Reset,
}

fn resize_ops() -> impl Strategy<Value = Vec<ResizeOp>> {
    let op = prop_oneof![
        10 => size().prop_map(ResizeOp::Allocate),
        3 => (size(), alignment()).prop_map(|(s, a)| ResizeOp::AllocateAligned(s, a)),
        4 => any::<usize>().prop_map(ResizeOp::Free),
        3 => any::<usize>().prop_map(ResizeOp::FreeAt),
        1 => units().prop_map(ResizeOp::FreeAtRaw),
        2 => any::<usize>().prop_map(ResizeOp::SizeOf),
        1 => units().prop_map(ResizeOp::SizeOfRaw),
        8 => (any::<usize>(), size()).prop_map(|(s, n)| ResizeOp::Realloc(s, n)),
        1 => (any::<usize>(), any::<i8>(), size()).prop_map(|(s, d, n)| ResizeOp::ReallocWrongSize(s, d, n)),
        1 => Just(ResizeOp::Reset),
    ];
    prop::collection::vec(op, 1..=60)
}

fn align_up(value: usize, align: usize) -> Option<usize> {
    value.checked_add(align - 1).map(|v| v & !(align - 1))
}

/// Where the policy places a footprint of `footprint` units aligned to `align`, read off
/// the map before the call.
fn predicted_placement(policy: Policy, blocks: &[Block], footprint: usize, align: usize) -> Option<usize> {
    let fits = blocks
        .iter()
        .filter(|b| b.kind == BlockKind::Free)
        .filter_map(|b| fit(b.start, b.size, footprint, align).map(|at| (b.size, b.start, at)));
    match policy {
        Policy::BestFit => fits.min_by_key(|&(size, start, _)| (size, start)).map(|(.., at)| at),
        _ => fits.map(|(.., at)| at).next(),
    }
}

struct Resizer {
    policy: Policy,
    capacity: usize,
    m: usize,
    heap: MemoryAllocator,
    /// The live allocations as the test knows them: address -> size.
    live: BTreeMap<usize, usize>,
}

impl Resizer {
    fn pick(&self, selector: usize) -> Option<(usize, usize)> {
        (!self.live.is_empty()).then(|| {
            let (&addr, &size) = self.live.iter().nth(selector % self.live.len()).unwrap();
            (addr, size)
        })
    }

    /// The whole state must be exactly what the test expects.
    fn check(&self) -> Result<(), TestCaseError> {
        let heap = &self.heap;
        invariants(heap)?;
        let blocks = heap.blocks();
        let allocated: BTreeMap<usize, usize> =
            blocks.iter().filter(|b| b.kind == BlockKind::Allocated).map(|b| (b.start, b.size)).collect();
        prop_assert_eq!(&allocated, &self.live, "the map's allocations are not the live ones");
        let stats = heap.stats();
        prop_assert_eq!(stats.allocations, self.live.len());
        prop_assert_eq!(stats.allocated, self.live.values().sum::<usize>());
        let rounding: usize = self.live.values().map(|&size| align_up(size, self.m).unwrap() - size).sum();
        prop_assert_eq!(stats.padding, rounding + self.capacity % self.m, "padding: rounding plus the tail");
        for b in blocks.iter().filter(|b| b.kind == BlockKind::Free) {
            prop_assert_eq!((b.start % self.m, b.size % self.m), (0, 0), "free extent off the alignment: {}", b);
        }
        for &addr in self.live.keys() {
            prop_assert_eq!(addr % self.m, 0);
        }
        Ok(())
    }

    fn expect_unchanged<T: std::fmt::Debug>(
        &mut self,
        expected: Error,
        what: &str,
        call: impl FnOnce(&mut MemoryAllocator) -> Result<T, Error>,
    ) -> Result<(), TestCaseError> {
        let (blocks, stats) = (self.heap.blocks(), self.heap.stats());
        let got = call(&mut self.heap).map(|v| format!("{v:?}"));
        prop_assert_eq!(got, Err(expected), "{}", what);
        prop_assert_eq!(self.heap.blocks(), blocks, "{} was rejected but changed the map", what);
        prop_assert_eq!(self.heap.stats(), stats, "{} was rejected but changed the stats", what);
        Ok(())
    }

    /// `allocate(size)` when `alignment` is `None`, else `allocate_aligned(size, alignment)`.
    fn allocate(&mut self, size: usize, alignment: Option<usize>) -> Result<(), TestCaseError> {
        let what = format!("allocate({size}) aligned to {alignment:?}");
        let call = |h: &mut MemoryAllocator| match alignment {
            None => h.allocate(size),
            Some(alignment) => h.allocate_aligned(size, alignment),
        };
        let alignment = alignment.unwrap_or(1);
        if !alignment.is_power_of_two() {
            return self.expect_unchanged(Error::InvalidAlignment, &what, call);
        }
        if size == 0 {
            return self.expect_unchanged(Error::InvalidSize, &what, call);
        }
        let align = alignment.max(self.m);
        let predicted = align_up(size, self.m)
            .and_then(|footprint| predicted_placement(self.policy, &self.heap.blocks(), footprint, align));
        let Some(at) = predicted else {
            return self.expect_unchanged(Error::OutOfMemory, &what, call);
        };
        prop_assert_eq!(call(&mut self.heap), Ok(at), "{}", what);
        self.live.insert(at, size);
        Ok(())
    }

    /// The error `free(addr, size)` must give, in check order; `None` when it succeeds.
    fn free_error(&self, addr: usize, size: usize) -> Option<Error> {
        let live = self.live.get(&addr).copied();
        if addr >= self.capacity {
            Some(Error::InvalidAddress)
        } else if size == 0 || addr.checked_add(size).is_none_or(|end| end > self.capacity) {
            Some(Error::InvalidSize)
        } else if live.is_none() {
            Some(Error::NotAllocated)
        } else if live != Some(size) {
            Some(Error::SizeMismatch)
        } else {
            None
        }
    }

    fn realloc(&mut self, addr: usize, old: usize, new: usize) -> Result<(), TestCaseError> {
        let what = format!("reallocate({addr}, {old}, {new})");
        let error = self.free_error(addr, old).or((new == 0).then_some(Error::InvalidSize));
        if let Some(error) = error {
            return self.expect_unchanged(error, &what, |h| h.reallocate(addr, old, new));
        }
        let blocks = self.heap.blocks();
        let old_footprint = align_up(old, self.m).unwrap();
        let predicted = align_up(new, self.m).and_then(|new_footprint| {
            if new_footprint <= old_footprint {
                return Some(addr);
            }
            let growth = new_footprint - old_footprint;
            let next = blocks.iter().find(|b| b.start == addr + old_footprint);
            if next.is_some_and(|b| b.kind == BlockKind::Free && b.size >= growth) {
                return Some(addr);
            }
            predicted_placement(self.policy, &blocks, new_footprint, self.m)
        });
        let Some(at) = predicted else {
            return self.expect_unchanged(Error::OutOfMemory, &what, |h| h.reallocate(addr, old, new));
        };
        prop_assert_eq!(self.heap.reallocate(addr, old, new), Ok(at), "{}", what);
        self.live.remove(&addr);
        self.live.insert(at, new);
        Ok(())
    }

    fn step(&mut self, op: &ResizeOp) -> Result<(), TestCaseError> {
        let capacity = self.capacity;
        let raw = |selector: usize| (selector % capacity.saturating_add(2), 1);
        match *op {
            ResizeOp::Allocate(size) => self.allocate(size.resolve(capacity), None)?,
            ResizeOp::AllocateAligned(size, alignment) => self.allocate(size.resolve(capacity), Some(alignment))?,
            ResizeOp::Free(s) => {
                let (addr, size) = self.pick(s).unwrap_or(raw(s));
                match self.free_error(addr, size) {
                    None => {
                        prop_assert_eq!(self.heap.free(addr, size), Ok(()));
                        self.live.remove(&addr);
                    }
                    Some(error) => self.expect_unchanged(error, "free", |h| h.free(addr, size))?,
                }
            }
            ResizeOp::FreeAt(s) => {
                let addr = self.pick(s).map_or(raw(s).0, |(addr, _)| addr);
                self.free_at(addr)?;
            }
            ResizeOp::FreeAtRaw(addr) => self.free_at(addr)?,
            ResizeOp::SizeOf(s) => {
                let addr = self.pick(s).map_or(raw(s).0, |(addr, _)| addr);
                self.size_of(addr)?;
            }
            ResizeOp::SizeOfRaw(addr) => self.size_of(addr)?,
            ResizeOp::Realloc(s, new) => {
                let (addr, old) = self.pick(s).unwrap_or(raw(s));
                self.realloc(addr, old, new.resolve(capacity))?;
            }
            ResizeOp::ReallocWrongSize(s, d, new) => {
                let (addr, old) = self.pick(s).unwrap_or(raw(s));
                self.realloc(addr, old.wrapping_add_signed(d.into()), new.resolve(capacity))?;
            }
            ResizeOp::Reset => {
                self.heap.reset();
                self.live.clear();
                let fresh =
                    MemoryAllocator::with_options(Options::new(capacity).policy(self.policy).min_alignment(self.m))
                        .unwrap();
                prop_assert_eq!(self.heap.blocks(), fresh.blocks());
                prop_assert_eq!(self.heap.stats(), fresh.stats());
            }
        }
        self.check()
    }

    fn free_at(&mut self, addr: usize) -> Result<(), TestCaseError> {
        if addr >= self.capacity {
            return self.expect_unchanged(Error::InvalidAddress, "free_at", |h| h.free_at(addr));
        }
        if self.live.remove(&addr).is_none() {
            return self.expect_unchanged(Error::NotAllocated, "free_at", |h| h.free_at(addr));
        }
        prop_assert_eq!(self.heap.free_at(addr), Ok(()));
        Ok(())
    }

    fn size_of(&mut self, addr: usize) -> Result<(), TestCaseError> {
        let expected = if addr >= self.capacity {
            Err(Error::InvalidAddress)
        } else {
            self.live.get(&addr).copied().ok_or(Error::NotAllocated)
        };
        prop_assert_eq!(self.heap.size_of(addr), expected, "size_of({})", addr);
        Ok(())
    }
}

fn policy() -> impl Strategy<Value = Policy> {
    prop_oneof![Just(Policy::FirstFit), Just(Policy::BestFit)]
}

fn min_alignment() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), Just(2), Just(4), Just(16), Just(64)]
}

fn resize_capacity() -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => 1usize..=300,
        1 => 300usize..=5000,
        1 => (0usize..4).prop_map(|k| usize::MAX - k),
        1 => (1usize << 40)..=usize::MAX,
    ]
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn resizing_keeps_the_map_and_the_counters_exact(
        policy in policy(),
        m in min_alignment(),
        capacity in resize_capacity(),
        ops in resize_ops(),
    ) {
        let heap = MemoryAllocator::with_options(Options::new(capacity).policy(policy).min_alignment(m)).unwrap();
        let mut resizer = Resizer { policy, capacity, m, heap, live: BTreeMap::new() };
        resizer.check()?;
        for (step, op) in ops.iter().enumerate() {
            resizer.step(op).map_err(|e| TestCaseError::fail(format!("step {step}: {op:?}: {e}")))?;
        }
    }
}
