//! Conversions between memalloc's types and those of `memalloc_models`, whose oracles
//! ([`Model`], `ReferenceAllocator`) have no dependency on memalloc and so their own
//! `Policy`, `Error` and `Extent`. The integration tests include it as `mod support;`, the
//! fuzz crate by `#[path]`.

// Each test crate uses part of it.
#![allow(dead_code)]

use memalloc::{Block, BlockKind, Error, Policy, Stats};
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
    model.blocks().into_iter().map(|e| Block { start: e.start, size: e.size, kind: kind(e.kind) }).collect()
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
