//! The oracles of memalloc's tests and fuzzers: naive, obviously right allocators that say,
//! call by call, what the real one must answer. Written for clarity, not speed: free blocks
//! in a sorted `Vec` scanned in full, every check of docs/CONTRACT.md in its order.
//!
//! - [`ReferenceAllocator`] is a direct port of the reference algorithm (docs/REFERENCE-ALGORITHM.md):
//!   a free list sorted by address, scanned linearly, O(n) per call. It is *the* first-fit
//!   oracle: first fit must give exactly its addresses, errors and free list. It knows
//!   `allocate` and `free` only, as the reference does. [`check_free`] is its validation of
//!   `free`, which every model shares.
//! - [`Model`] is one naive model per [`Policy`], for the whole API (aligned allocation,
//!   `min_alignment`, `reallocate`, `free_at`, `size_of`, `reset`, placement requests,
//!   `allocate_at`, `set_capacity`, tags, `free_tagged` and `compact`) and the memory map. What
//!   each promises (the rules are in [`model`]):
//!   - first fit and best fit: exact. Every address, error, map and counter is predicted;
//!   - TLSF: relaxed. The contract pins no address down, so the model accepts the library's
//!     answer when the footprint lies, aligned, inside one free block, and expects out of
//!     memory exactly when no free block can hold the request; after that, exact;
//!   - buddy: relaxed the same way. It accepts any free block of the smallest fitting size
//!     (the library's free lists are LIFO, so which one is its choice); splits, merges and
//!     the map are exact.
//!
//! The crate has no dependencies, so it defines its own small [`Policy`], [`Error`] and
//! [`Extent`] types, named after memalloc's; each consumer converts in one place.
//!
//! ```
//! use memalloc_models::{Error, Model, Policy};
//!
//! let mut model = Model::new(Policy::BestFit, 100, 1).unwrap();
//! assert_eq!(model.allocate(30, 1, None), Ok(0));
//! assert_eq!(model.free(0, 20), Err(Error::SizeMismatch));
//! assert_eq!(model.free_blocks(), [(30, 70)]);
//! ```

#![forbid(unsafe_code)]

use std::fmt;

pub mod model;
pub mod reference;

pub use model::{Attrs, Model, Request};
pub use reference::{ReferenceAllocator, check_free};

/// A placement policy; memalloc's `Policy` has the same variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// The lowest-addressed place that fits.
    FirstFit,
    /// The smallest free block that fits, ties to the lowest address.
    BestFit,
    /// Two-level segregated fit: any place that fits, never out of memory while one exists.
    Tlsf,
    /// Binary buddy: power-of-two blocks aligned to their size.
    Buddy,
}

impl Policy {
    /// Every policy, in memalloc's order.
    pub const ALL: [Policy; 4] = [Policy::FirstFit, Policy::BestFit, Policy::Tlsf, Policy::Buddy];
}

/// Why a call is rejected: the failures the models report, named after memalloc's `Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The size is 0, or a freed range runs past the capacity.
    InvalidSize,
    /// No free block can hold the request.
    OutOfMemory,
    /// The address is not below the capacity.
    InvalidAddress,
    /// No live allocation starts at this address.
    NotAllocated,
    /// A live allocation starts at this address, with another size.
    SizeMismatch,
    /// The alignment (or `min_alignment`) is not a power of two.
    InvalidAlignment,
    /// Any other bad argument: capacity 0, an empty range.
    InvalidArgument,
    /// A range that must be free is not.
    Occupied,
}

/// The variant's name, e.g. `OutOfMemory`.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Error {}

/// What an extent of the memory map holds; memalloc's `BlockKind` has the same variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtentKind {
    /// Free space.
    Free,
    /// A live allocation, exactly its requested size.
    Allocated,
    /// Units held beyond the allocation just before (rounding), or the unusable tail.
    Padding,
}

/// One extent of the memory map, `[start, start + size)`; memalloc's `Block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Extent {
    /// The first unit.
    pub start: usize,
    /// The number of units, never 0.
    pub size: usize,
    /// What the extent holds.
    pub kind: ExtentKind,
}
