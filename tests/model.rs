//! Model-based tests: random operation sequences run against an oracle, step by step.
//!
//! 1. First fit against `ReferenceAllocator` (`memalloc_models`' port of docs/REFERENCE-ALGORITHM.md):
//!    identical addresses and errors at every step, identical free lists and counters.
//! 2. Every policy against its naive model (`memalloc_models::Model`): first fit (with
//!    aligned allocations) and best fit exactly, TLSF and buddy by their rules; the whole
//!    map and every counter compared after every call.
//! 3. `reallocate`, `free_at`, `size_of` and `reset` with a random `min_alignment`, every
//!    policy, against the same models.
//!
//! Every step also runs `check_invariants()` and checks that a rejected call changed
//! neither `blocks()` nor `stats()`. Capacities range from 1 to `usize::MAX`; sizes are
//! mostly small, sometimes a fraction of the capacity, sometimes huge (`usize::MAX`).

mod support;

use std::fmt::Debug;

use memalloc::{BlockKind, Error, MemoryAllocator, Options, Policy};
use memalloc_models::{self as models, Model, ReferenceAllocator};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

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

    /// Takes note of what a call did.
    fn record(&mut self, call: Call, result: Result<usize, Error>) {
        match (call, result) {
            (Call::Allocate(size) | Call::AllocateAligned(size, _), Ok(addr)) => self.live.push((addr, size)),
            (Call::Free(addr, size), Ok(_)) => {
                self.live.retain(|&live| live != (addr, size));
                self.freed.push((addr, size));
            }
            _ => {}
        }
    }
}

/// A call to make on both allocators.
#[derive(Debug, Clone, Copy)]
enum Call {
    Allocate(usize),
    AllocateAligned(usize, usize),
    Free(usize, usize),
}

impl Call {
    /// Makes the call on the allocator under test (a free answers with its address).
    fn on_heap(self, heap: &mut MemoryAllocator) -> Result<usize, Error> {
        match self {
            Call::Allocate(size) => heap.allocate(size),
            Call::AllocateAligned(size, alignment) => heap.allocate_aligned(size, alignment),
            Call::Free(addr, size) => heap.free(addr, size).map(|()| addr),
        }
    }

    /// Makes the call on the model, which sees the heap's address `got`.
    fn on_model(self, model: &mut Model, got: Option<usize>) -> Result<usize, models::Error> {
        match self {
            Call::Allocate(size) => model.allocate(size, 1, got),
            Call::AllocateAligned(size, alignment) => model.allocate(size, alignment, got),
            Call::Free(addr, size) => model.free(addr, size).map(|()| addr),
        }
    }
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
fn run_checked<T>(
    heap: &mut MemoryAllocator,
    what: &dyn Debug,
    call: impl FnOnce(&mut MemoryAllocator) -> Result<T, Error>,
) -> Result<Result<T, Error>, TestCaseError> {
    let (blocks, stats) = (heap.blocks(), heap.stats());
    let result = call(heap);
    if result.is_err() {
        prop_assert_eq!(heap.blocks(), blocks, "{:?} was rejected but changed the map", what);
        prop_assert_eq!(heap.stats(), stats, "{:?} was rejected but changed the stats", what);
    }
    invariants(heap)?;
    Ok(result)
}

/// Runs `call` on the heap (checked as by [`run_checked`]) and `expect` on the model, which
/// sees the heap's answer for the choices TLSF and buddy leave open: the results must agree,
/// and afterwards the map and the counters too.
fn run_against_model<T: Copy + PartialEq + Debug>(
    heap: &mut MemoryAllocator,
    model: &mut Model,
    what: &dyn Debug,
    call: impl FnOnce(&mut MemoryAllocator) -> Result<T, Error>,
    expect: impl FnOnce(&mut Model, Option<T>) -> Result<T, models::Error>,
) -> Result<Result<T, Error>, TestCaseError> {
    let got = run_checked(heap, what, call)?;
    prop_assert_eq!(got, support::result(expect(model, got.ok())), "{:?}", what);
    prop_assert_eq!(heap.blocks(), support::blocks(model), "the map differs from the model after {:?}", what);
    prop_assert_eq!(heap.stats(), support::stats(model), "the counters differ from the model after {:?}", what);
    Ok(got)
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
            let got = run_checked(&mut heap, &call, |h| call.on_heap(h))?;
            let expected = support::result(match call {
                Call::Allocate(size) => oracle.allocate(size),
                Call::Free(addr, size) => oracle.free(addr, size).map(|()| addr),
                Call::AllocateAligned(..) => unreachable!("the reference has no aligned allocation"),
            });
            prop_assert_eq!(got, expected, "step {}: {:?} -> {:?}", step, op, call);
            history.record(call, got);
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
        policy_matches_its_model(Policy::BestFit, capacity, &ops)?;
    }

    #[test]
    fn buddy_matches_its_model_under_churn(capacity in 64usize..=1024, ops in churn_ops(true)) {
        policy_matches_its_model(Policy::Buddy, capacity, &ops)?;
    }
}

// ---------------------------------------------------------------------------------------
// 2. Every policy against its naive model
// ---------------------------------------------------------------------------------------

fn policy_matches_its_model(policy: Policy, capacity: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut heap = MemoryAllocator::with_options(Options::new(capacity).policy(policy)).unwrap();
    let mut model = support::model(policy, capacity, 1);
    let mut history = History::default();
    for (step, op) in ops.iter().enumerate() {
        for call in resolve(op, capacity, &history) {
            let what = (policy, step, op, call);
            let got =
                run_against_model(&mut heap, &mut model, &what, |h| call.on_heap(h), |m, got| call.on_model(m, got))?;
            history.record(call, got);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn best_fit_matches_a_naive_model(capacity in capacity(), ops in ops(true, 80)) {
        policy_matches_its_model(Policy::BestFit, capacity, &ops)?;
    }

    #[test]
    fn aligned_first_fit_matches_a_naive_model(capacity in capacity(), ops in ops(true, 80)) {
        policy_matches_its_model(Policy::FirstFit, capacity, &ops)?;
    }

    #[test]
    fn tlsf_matches_its_model(capacity in capacity(), ops in ops(true, 80)) {
        policy_matches_its_model(Policy::Tlsf, capacity, &ops)?;
    }

    #[test]
    fn buddy_matches_its_model(capacity in capacity(), ops in ops(true, 80)) {
        policy_matches_its_model(Policy::Buddy, capacity, &ops)?;
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

/// An allocator and the model of its policy, stepped together.
struct Resizer {
    heap: MemoryAllocator,
    model: Model,
}

impl Resizer {
    fn new(policy: Policy, capacity: usize, m: usize) -> Self {
        let heap = MemoryAllocator::with_options(Options::new(capacity).policy(policy).min_alignment(m)).unwrap();
        Resizer { heap, model: support::model(policy, capacity, m) }
    }

    fn pick(&self, selector: usize) -> Option<(usize, usize)> {
        let live = self.model.live();
        live.iter().nth(selector.checked_rem(live.len())?).map(|(&addr, &size)| (addr, size))
    }

    /// Runs `call` on the heap and `expect` on the model, as [`run_against_model`] does.
    fn call<T: Copy + PartialEq + Debug>(
        &mut self,
        what: String,
        call: impl FnOnce(&mut MemoryAllocator) -> Result<T, Error>,
        expect: impl FnOnce(&mut Model, Option<T>) -> Result<T, models::Error>,
    ) -> Result<(), TestCaseError> {
        run_against_model(&mut self.heap, &mut self.model, &what, call, expect).map(drop)
    }

    /// What holds whatever the model says: every address and free extent on the alignment.
    fn check_alignment(&self) -> Result<(), TestCaseError> {
        let m = self.model.min_alignment();
        for b in self.heap.blocks().iter().filter(|b| b.kind == BlockKind::Free) {
            prop_assert_eq!((b.start % m, b.size % m), (0, 0), "free extent off the alignment: {}", b);
        }
        for &addr in self.model.live().keys() {
            prop_assert_eq!(addr % m, 0);
        }
        Ok(())
    }

    fn step(&mut self, op: &ResizeOp) -> Result<(), TestCaseError> {
        let capacity = self.model.capacity();
        let raw = |selector: usize| (selector % capacity.saturating_add(2), 1);
        match *op {
            ResizeOp::Allocate(size) => {
                let size = size.resolve(capacity);
                self.call(format!("allocate({size})"), |h| h.allocate(size), |m, got| m.allocate(size, 1, got))?;
            }
            ResizeOp::AllocateAligned(size, align) => {
                let size = size.resolve(capacity);
                self.call(
                    format!("allocate_aligned({size}, {align})"),
                    |h| h.allocate_aligned(size, align),
                    |m, got| m.allocate(size, align, got),
                )?;
            }
            ResizeOp::Free(s) => {
                let (addr, size) = self.pick(s).unwrap_or(raw(s));
                self.call(format!("free({addr}, {size})"), |h| h.free(addr, size), |m, _| m.free(addr, size))?;
            }
            ResizeOp::FreeAt(s) => self.free_at(self.pick(s).map_or(raw(s).0, |(addr, _)| addr))?,
            ResizeOp::FreeAtRaw(addr) => self.free_at(addr)?,
            ResizeOp::SizeOf(s) => self.size_of(self.pick(s).map_or(raw(s).0, |(addr, _)| addr))?,
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
                let reset = |h: &mut MemoryAllocator| {
                    h.reset();
                    Ok(())
                };
                self.call("reset()".into(), reset, |m, _| {
                    m.reset();
                    Ok(())
                })?;
            }
        }
        self.check_alignment()
    }

    fn free_at(&mut self, addr: usize) -> Result<(), TestCaseError> {
        self.call(format!("free_at({addr})"), |h| h.free_at(addr), |m, _| m.free_at(addr))
    }

    fn size_of(&mut self, addr: usize) -> Result<(), TestCaseError> {
        self.call(format!("size_of({addr})"), |h| h.size_of(addr), |m, _| m.size_of(addr))
    }

    fn realloc(&mut self, addr: usize, old: usize, new: usize) -> Result<(), TestCaseError> {
        self.call(
            format!("reallocate({addr}, {old}, {new})"),
            |h| h.reallocate(addr, old, new),
            |m, got| m.reallocate(addr, old, new, got),
        )
    }
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
        policy in prop::sample::select(Policy::ALL.as_slice()),
        m in min_alignment(),
        capacity in resize_capacity(),
        ops in resize_ops(),
    ) {
        let mut resizer = Resizer::new(policy, capacity, m);
        resizer.check_alignment()?;
        for (step, op) in ops.iter().enumerate() {
            resizer.step(op).map_err(|e| TestCaseError::fail(format!("{policy}, step {step}: {op:?}: {e}")))?;
        }
    }
}
