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
//! The Rust API is the pure core, `memalloc-core`, re-exported whole: [`MemoryAllocator`]
//! (validation, live allocations, counters) delegates placement to a free-space index, one
//! per [`Policy`]. This crate adds the C layer, [`ffi`], which wraps the core in a lock
//! behind an opaque handle and maps [`Error`] to `ma_status` codes, and builds
//! `libmemalloc.so` and `libmemalloc.a`. See `docs/ARCHITECTURE.md`.

pub mod ffi;

pub use memalloc_core::*;

/// This crate's version, `"MAJOR.MINOR.PATCH"`: the same string as `ma_version()` and the
/// header's `MA_VERSION_STRING`.
///
/// ```
/// // SAFETY: ma_version returns a static, NUL-terminated string.
/// let c = unsafe { std::ffi::CStr::from_ptr(memalloc::ffi::ma_version()) };
/// assert_eq!(c.to_str(), Ok(memalloc::VERSION));
/// ```
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
