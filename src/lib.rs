//! memalloc: a manager for one contiguous range of memory `[0, capacity)`.
//!
//! `allocate(size) -> address` and `free(address, size)`, like `malloc` and `free`, over
//! abstract units (bytes, pages, descriptor slots: the caller decides), with first-fit
//! placement in O(log n), merging of adjacent free blocks, and a precise error for every
//! illegal call. A rejected call changes nothing.
//!
//! ```
//! use memalloc::{Error, MemoryAllocator};
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
//! placement to a free-space index, one per [`Policy`]; the C layer (`ffi`) wraps it in a
//! lock behind an opaque handle and maps [`Error`] to `ma_status` codes. See
//! `docs/ARCHITECTURE.md`.

mod allocator;
mod error;
pub mod ffi;
mod index;
mod report;
pub mod trace;

pub use allocator::{Block, BlockKind, MemoryAllocator, Options, Policy, Stats};
pub use error::Error;

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
