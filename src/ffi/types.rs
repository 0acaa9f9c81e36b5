//! The C types of `memalloc.h`: status codes, stats, options, block kinds, policies.
//!
//! Values that C hands in (statuses, policies) are plain integers, never Rust enums: an
//! unknown value is rejected instead of being undefined behaviour.

use std::ffi::{c_int, c_void};

use crate::{BlockKind, Stats};

/// The result of every fallible `ma_` function: `MA_OK` (0) or an `MA_ERR_*` code.
/// A call that returns an error changes nothing, out-parameters included.
pub type ma_status = i32;

/// Success.
pub const MA_OK: ma_status = 0;
/// The handle, an out-pointer or a callback argument is NULL.
pub const MA_ERR_NULL_POINTER: ma_status = 1;
/// The size is 0; or, for a free, `addr + size` passes the capacity (overflow included).
pub const MA_ERR_INVALID_SIZE: ma_status = 2;
/// No free contiguous block can hold the request (also: size > capacity).
pub const MA_ERR_OUT_OF_MEMORY: ma_status = 3;
/// The address is not below the capacity.
pub const MA_ERR_INVALID_ADDRESS: ma_status = 4;
/// No live allocation starts at that address: never allocated, already freed (double
/// free), or inside another block.
pub const MA_ERR_NOT_ALLOCATED: ma_status = 5;
/// A live allocation starts at that address, with another size.
pub const MA_ERR_SIZE_MISMATCH: ma_status = 6;
/// The alignment is 0 or not a power of two.
pub const MA_ERR_INVALID_ALIGNMENT: ma_status = 7;
/// Any other bad argument (unknown policy, bad options).
pub const MA_ERR_INVALID_ARGUMENT: ma_status = 8;
/// An internal invariant failed or a panic was caught; never expected.
pub const MA_ERR_INTERNAL: ma_status = 9;
/// A range that must be free is not: a unit of an `ma_alloc_at` reservation is taken,
/// or a live allocation lies beyond the capacity given to `ma_set_capacity`.
pub const MA_ERR_OCCUPIED: ma_status = 10;
/// `ma_save`'s buffer cannot hold the snapshot (the needed length is still written).
pub const MA_ERR_BUFFER_TOO_SMALL: ma_status = 11;
/// `ma_load` was given bytes that are not a valid snapshot.
pub const MA_ERR_BAD_SNAPSHOT: ma_status = 12;

/// The allocator's counters, filled by `ma_get_stats`.
/// Always `capacity == allocated + free + padding`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ma_stats {
    /// The managed range is `[0, capacity)`.
    pub capacity: usize,
    /// Sum of the sizes of live allocations.
    pub allocated: usize,
    /// Units in free blocks: what can still be handed out.
    pub free: usize,
    /// Size of the largest free block (0 when none): the largest size that `ma_alloc`
    /// would succeed with right now.
    pub largest_free: usize,
    /// Number of free blocks, as `ma_walk` reports them: adjacent free space is always
    /// merged, except under buddy, which keeps its free blocks as they are.
    pub free_blocks: usize,
    /// Number of live allocations.
    pub allocations: usize,
    /// Units that belong to allocations beyond their sizes (`min_alignment` rounding,
    /// buddy rounding); 0 for first fit, best fit and TLSF with `min_alignment` 1. When
    /// the capacity is not a multiple of `min_alignment`, it also counts the last
    /// `capacity % min_alignment` units, which no aligned footprint can use (`ma_walk`
    /// reports them as one `MA_BLOCK_PADDING` extent at the end).
    pub padding: usize,
}

impl From<Stats> for ma_stats {
    fn from(s: Stats) -> Self {
        ma_stats {
            capacity: s.capacity,
            allocated: s.allocated,
            free: s.free,
            largest_free: s.largest_free,
            free_blocks: s.free_blocks,
            allocations: s.allocations,
            padding: s.padding,
        }
    }
}

/// What an extent reported by `ma_walk` holds.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ma_block_kind {
    /// Free space.
    MA_BLOCK_FREE = 0,
    /// A live allocation, exactly its size.
    MA_BLOCK_ALLOCATED = 1,
    /// Units of the allocation just before, beyond its size.
    MA_BLOCK_PADDING = 2,
}

impl From<BlockKind> for ma_block_kind {
    fn from(kind: BlockKind) -> Self {
        match kind {
            BlockKind::Free => ma_block_kind::MA_BLOCK_FREE,
            BlockKind::Allocated => ma_block_kind::MA_BLOCK_ALLOCATED,
            BlockKind::Padding => ma_block_kind::MA_BLOCK_PADDING,
        }
    }
}

/// The callback of `ma_walk`: called once per extent, in ascending address order.
/// Returning non-zero stops the walk.
pub type ma_walk_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, start: usize, size: usize, kind: ma_block_kind) -> c_int>;

/// Placement policies, for `ma_options.policy` (which is a `uint32_t`: any other value
/// is rejected with `MA_ERR_INVALID_ARGUMENT`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ma_policy {
    /// Lowest-addressed fit; exactly the reference's addresses. O(log n).
    MA_POLICY_FIRST_FIT = 0,
    /// Smallest fitting block, ties to the lowest address. O(log n).
    MA_POLICY_BEST_FIT = 1,
    /// Two-level segregated fit: O(1) good fit; exact sizes, and never out of memory
    /// while some free block can hold the request.
    MA_POLICY_TLSF = 2,
    /// Binary buddy: power-of-two blocks, rounding shows as padding.
    MA_POLICY_BUDDY = 3,
}

/// Creation options for `ma_create_with`. The struct only grows at its end: always start
/// from `ma_options_init`, which sets `struct_size`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ma_options {
    /// Set by `ma_options_init`: the size of the struct the caller was compiled with.
    pub struct_size: usize,
    /// The managed range is `[0, capacity)`; must be positive.
    pub capacity: usize,
    /// An `ma_policy` value.
    pub policy: u32,
    /// Every address is a multiple of it; a power of two; default 1.
    pub min_alignment: usize,
}

/// `ma_request.flags`: take the highest address that fits, not the lowest.
pub const MA_REQ_TOP_DOWN: u32 = 1;
/// `ma_request.flags`: compaction never moves this allocation.
pub const MA_REQ_PINNED: u32 = 2;
/// Every flag bit this version knows; any other is rejected.
pub(crate) const MA_REQ_KNOWN: u32 = MA_REQ_TOP_DOWN | MA_REQ_PINNED;

/// A request for `ma_alloc_ex`. The struct only grows at its end: always start from
/// `ma_request_init`, which sets `struct_size` and the defaults.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ma_request {
    /// Set by `ma_request_init`: the size of the struct the caller was compiled with.
    pub struct_size: usize,
    /// Units to allocate; must be positive.
    pub size: usize,
    /// The address is a multiple of it (and of `min_alignment`); a power of two, default 1.
    pub alignment: usize,
    /// The allocation's whole footprint lies in `[lo, hi)`; default 0.
    pub lo: usize,
    /// See `lo`; default `SIZE_MAX`, and clamped to the capacity.
    pub hi: usize,
    /// `MA_REQ_*` bits; default 0.
    pub flags: u32,
    /// The allocation's tag; default 0.
    pub tag: u64,
}

impl ma_request {
    /// The defaults for `size` units: alignment 1, anywhere, lowest first, no flag, tag 0.
    pub(crate) fn new(size: usize) -> Self {
        ma_request { struct_size: size_of::<ma_request>(), size, alignment: 1, lo: 0, hi: usize::MAX, flags: 0, tag: 0 }
    }
}

impl Default for ma_options {
    fn default() -> Self {
        ma_options {
            struct_size: size_of::<ma_options>(),
            capacity: 0,
            policy: ma_policy::MA_POLICY_FIRST_FIT as u32,
            min_alignment: 1,
        }
    }
}

/// One step of a compaction plan from `ma_compact`: the allocation of `size` units that
/// was at `from` is now at `to` (`to < from`); move its bytes with `memmove`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ma_move {
    /// Where the allocation was.
    pub from: usize,
    /// Where it is now.
    pub to: usize,
    /// Its size as allocated (without padding): the units to move.
    pub size: usize,
}

impl From<crate::Move> for ma_move {
    fn from(m: crate::Move) -> Self {
        ma_move { from: m.from, to: m.to, size: m.size }
    }
}
