//! The pure core of memalloc: a manager for one contiguous range `[0, capacity)`.
//!
//! `allocate(size) -> address` and `free(address, size)`, like `malloc` and `free`, over
//! abstract units (bytes, pages, descriptor slots: the caller decides), with first-fit
//! placement in O(log n), merging of adjacent free blocks, and a precise error for every
//! illegal call. A rejected call changes nothing.
//!
//! This crate has no FFI and no `unsafe`. The `memalloc` crate re-exports all of it and
//! adds the C ABI; the preload library builds its heap on it directly.
//!
//! ```
//! use memalloc_core::{Error, MemoryAllocator};
//!
//! let mut heap = MemoryAllocator::new(100)?;
//! let a = heap.allocate(20)?;
//! let b = heap.allocate(30)?;
//! assert_eq!((a, b), (0, 20));
//! assert_eq!(heap.free(b, 29), Err(Error::SizeMismatch));
//! heap.free(b, 30)?;
//! assert_eq!(heap.to_string(), "[Allocated(0-19)] [Free(20-99)]");
//! # Ok::<(), Error>(())
//! ```
//!
//! The parts: [`MemoryAllocator`] (validation, live allocations, counters) delegates
//! placement to a free-space index, one per [`Policy`] (`index/`); [`trace`] reads the
//! heap traces that the preload library writes. See `docs/ARCHITECTURE.md`.

#![forbid(unsafe_code)]

mod allocator;
mod attributes;
mod blocks;
mod error;
mod extent;
mod heap;
mod index;
mod live;
mod report;
mod slab;
mod snapshot;
pub mod trace;

pub use allocator::{Block, BlockKind, MemoryAllocator, Move, Options, Policy, Request, Stats};
pub use error::Error;
pub use report::Fragmentation;
