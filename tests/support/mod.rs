//! Conversions between memalloc's types and those of `memalloc_models`, whose oracles
//! ([`Model`], `ReferenceAllocator`) have no dependency on memalloc and so their own
//! `Policy`, `Error` and `Extent`; and the checks the named-case suites run after every
//! call ([`check`], [`assert_rejected`]). The integration tests include it as
//! `mod support;`, the fuzz crate by `#[path]`.

// Each test crate uses part of it.
#![allow(dead_code)]

use std::fmt::Debug;

use memalloc::{Block, BlockKind, Error, MemoryAllocator, Policy, Request, Stats};
use memalloc_models::{self as models, Model};

/// The model's name for `policy`; panics for a policy the models do not know yet.
pub fn policy(policy: Policy) -> models::Policy {
    match policy {
        Policy::FirstFit => models::Policy::FirstFit,
        Policy::BestFit => models::Policy::BestFit,
        Policy::Tlsf => models::Policy::Tlsf,
        Policy::Buddy => models::Policy::Buddy,
        other => panic!("no model for policy {other:?}"),
    }
}

/// memalloc's name for a model's error.
pub fn error(error: models::Error) -> Error {
    match error {
        models::Error::InvalidSize => Error::InvalidSize,
        models::Error::OutOfMemory => Error::OutOfMemory,
        models::Error::InvalidAddress => Error::InvalidAddress,
        models::Error::NotAllocated => Error::NotAllocated,
        models::Error::SizeMismatch => Error::SizeMismatch,
        models::Error::InvalidAlignment => Error::InvalidAlignment,
        models::Error::InvalidArgument => Error::InvalidArgument,
        models::Error::Occupied => Error::Occupied,
    }
}

/// A model's result with memalloc's error, to compare with the library's.
pub fn result<T>(result: Result<T, models::Error>) -> Result<T, Error> {
    result.map_err(error)
}

/// The model's form of a request for `allocate_with`.
pub fn request(request: &Request) -> models::Request {
    models::Request {
        size: request.size,
        alignment: request.alignment,
        lo: request.range.start,
        hi: request.range.end,
        top_down: request.top_down,
        tag: request.tag,
        pinned: request.pinned,
    }
}

/// The model of a `policy` allocator with these options (which the library accepted).
pub fn model(policy: Policy, capacity: usize, min_alignment: usize) -> Model {
    Model::new(self::policy(policy), capacity, min_alignment)
        .unwrap_or_else(|e| panic!("{policy:?}: capacity {capacity}, min_alignment {min_alignment}: {e:?}"))
}

/// The memory map the model predicts, as memalloc's blocks.
pub fn blocks(model: &Model) -> Vec<Block> {
    let kind = |kind| match kind {
        models::ExtentKind::Free => BlockKind::Free,
        models::ExtentKind::Allocated => BlockKind::Allocated,
        models::ExtentKind::Padding => BlockKind::Padding,
    };
    model
        .blocks()
        .into_iter()
        .map(|e| {
            let tag = if e.kind == models::ExtentKind::Allocated { model.attrs(e.start).tag } else { 0 };
            Block { start: e.start, size: e.size, kind: kind(e.kind), tag }
        })
        .collect()
}

/// The counters the model predicts.
pub fn stats(model: &Model) -> Stats {
    Stats {
        capacity: model.capacity(),
        allocated: model.allocated(),
        free: model.free_units(),
        largest_free: model.largest_free(),
        free_blocks: model.free_blocks().len(),
        allocations: model.live().len(),
        padding: model.padding(),
    }
}

/// A free extent of the map.
pub fn free_block(start: usize, size: usize) -> Block {
    Block { start, size, kind: BlockKind::Free, tag: 0 }
}

/// An allocated extent of the map.
pub fn allocated(start: usize, size: usize) -> Block {
    Block { start, size, kind: BlockKind::Allocated, tag: 0 }
}

/// A padding extent of the map.
pub fn padding(start: usize, size: usize) -> Block {
    Block { start, size, kind: BlockKind::Padding, tag: 0 }
}

/// Panics with the map when an invariant is broken; also checks the stats identity.
#[track_caller]
pub fn check(heap: &MemoryAllocator) {
    if let Err(violation) = heap.check_invariants() {
        panic!("{:?}: invariant broken: {violation}\nmap: {heap}", heap.policy());
    }
    let s = heap.stats();
    assert_eq!(s.capacity, s.allocated + s.free + s.padding, "{:?}: {s:?}", heap.policy());
    assert_eq!(s.capacity, heap.capacity(), "{:?}: {s:?}", heap.policy());
    assert_eq!(s.free, heap.free_memory());
    assert_eq!(s.largest_free, heap.largest_free_block());
}

/// Runs a call that must fail with `expected` and checks that it changed nothing: the
/// map and the stats are exactly as before.
#[track_caller]
pub fn assert_rejected<T: Debug>(
    heap: &mut MemoryAllocator,
    expected: Error,
    call: impl FnOnce(&mut MemoryAllocator) -> Result<T, Error>,
) {
    let (blocks, stats, text) = (heap.blocks(), heap.stats(), heap.to_string());
    // The success value shown as text, so that a wrong success reads well.
    let result = call(heap).map(|value| format!("{value:?}"));
    assert_eq!(result, Err(expected), "{}: map {text}", heap.policy());
    assert_eq!(heap.blocks(), blocks, "{}: a rejected call changed the map", heap.policy());
    assert_eq!(heap.stats(), stats, "{}: a rejected call changed the stats", heap.policy());
    check(heap);
}
