//! The allocators under test behind one small interface, [`Subject`], so that every one of
//! them replays the same pre-generated trace through the same driver code:
//!
//! - memalloc through the Rust API, one per [`Policy`] ([`RustApi`]);
//! - memalloc through `allocate_with`, every request ranged or top-down ([`RustApiPlaced`]);
//! - memalloc first fit through the C functions `ma_alloc`/`ma_free` ([`CApi`]), which add
//!   the NULL checks, the lock and the panic boundary;
//! - the reference O(n) first fit, `memalloc_models::ReferenceAllocator` ([`Reference`]);
//! - `offset-allocator` (Bevy's port of Sebastian Aaltonen's O(1) bin allocator: 32-bit
//!   sizes, a fixed node budget) ([`OffsetAlloc`]);
//! - `xalloc`'s TLSF (`xalloc::SysTlsf<u32>`: two-level segregated fit over external
//!   memory, region handles, block structures in a pooled arena) ([`XallocTlsf`]);
//! - `range-alloc` (wgpu's: a sorted `Vec` of free ranges, best fit by linear scan)
//!   ([`RangeAlloc`]);
//! - no allocator at all ([`HarnessOnly`]): what the driver itself costs per step.
//!
//! Included by `#[path]` into several binaries, each of which uses part of it.

#![allow(dead_code)]

use std::ops::Range;

use memalloc::ffi::{MA_ERR_OUT_OF_MEMORY, MA_OK, ma_alloc, ma_allocator, ma_create, ma_destroy, ma_free};
use memalloc::{Error, MemoryAllocator, Options, Policy, Request};
use memalloc_models::ReferenceAllocator;

use crate::trace::{ChurnTrace, Op};

/// An allocator as the benchmarks see it: allocate a size, free what was allocated.
///
/// `allocate` returns `None` only when the request does not fit (out of memory); any
/// other failure is a bug in the harness or the allocator and panics.
pub trait Subject {
    /// What `free` needs to release a block.
    type Handle;

    /// Allocates `size` units (1..=65536).
    fn allocate(&mut self, size: u32) -> Option<Self::Handle>;

    /// Frees a block returned by `allocate`.
    fn free(&mut self, handle: Self::Handle);
}

/// memalloc through its Rust API.
pub struct RustApi(pub MemoryAllocator);

impl RustApi {
    /// A `policy` allocator over `[0, capacity)`.
    pub fn new(capacity: usize, policy: Policy) -> Self {
        RustApi(MemoryAllocator::with_options(Options::new(capacity).policy(policy)).expect("valid options"))
    }
}

impl Subject for RustApi {
    type Handle = (usize, usize);

    #[inline]
    fn allocate(&mut self, size: u32) -> Option<(usize, usize)> {
        let size = size as usize;
        match self.0.allocate(size) {
            Ok(addr) => Some((addr, size)),
            Err(Error::OutOfMemory) => None,
            Err(e) => panic!("allocate({size}) failed: {e}"),
        }
    }

    #[inline]
    fn free(&mut self, (addr, size): (usize, usize)) {
        self.0.free(addr, size).expect("freeing a live block succeeds");
    }
}

/// Where [`RustApiPlaced`] asks for its blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// In one half of the heap, the lower and the upper in turn (`allocate_with` with a
    /// range).
    Halves,
    /// Anywhere, the highest address that fits (`allocate_with` top-down).
    TopDown,
}

/// memalloc through `MemoryAllocator::allocate_with`, every request ranged or top-down.
pub struct RustApiPlaced {
    heap: MemoryAllocator,
    placement: Placement,
    /// Requests so far, for [`Placement::Halves`] to alternate.
    count: usize,
}

impl RustApiPlaced {
    /// A `policy` allocator over `[0, capacity)` placing every request as `placement` says.
    pub fn new(capacity: usize, policy: Policy, placement: Placement) -> Self {
        let heap = MemoryAllocator::with_options(Options::new(capacity).policy(policy)).expect("valid options");
        RustApiPlaced { heap, placement, count: 0 }
    }
}

impl Subject for RustApiPlaced {
    type Handle = (usize, usize);

    #[inline]
    fn allocate(&mut self, size: u32) -> Option<(usize, usize)> {
        let size = size as usize;
        let capacity = self.heap.capacity();
        let request = match self.placement {
            Placement::Halves if self.count.is_multiple_of(2) => Request::new(size).within(0..capacity / 2),
            Placement::Halves => Request::new(size).within(capacity / 2..capacity),
            Placement::TopDown => Request::new(size).top_down(),
        };
        self.count += 1;
        match self.heap.allocate_with(&request) {
            Ok(addr) => Some((addr, size)),
            Err(Error::OutOfMemory) => None,
            Err(e) => panic!("allocate_with({request:?}) failed: {e}"),
        }
    }

    #[inline]
    fn free(&mut self, (addr, size): (usize, usize)) {
        self.heap.free(addr, size).expect("freeing a live block succeeds");
    }
}

/// memalloc first fit through the C entry points (`ma_create`, `ma_alloc`, `ma_free`).
pub struct CApi(*mut ma_allocator);

impl CApi {
    /// A first-fit allocator over `[0, capacity)` from `ma_create`.
    pub fn new(capacity: usize) -> Self {
        let handle = ma_create(capacity);
        assert!(!handle.is_null(), "ma_create({capacity}) failed");
        CApi(handle)
    }
}

impl Drop for CApi {
    fn drop(&mut self) {
        // SAFETY: the handle came from `ma_create`, is live, and is never used again.
        unsafe { ma_destroy(self.0) };
    }
}

impl Subject for CApi {
    type Handle = (usize, usize);

    #[inline]
    fn allocate(&mut self, size: u32) -> Option<(usize, usize)> {
        let size = size as usize;
        let mut addr = 0usize;
        // SAFETY: the handle is live (owned by `self`) and `addr` is a valid out-pointer.
        match unsafe { ma_alloc(self.0, size, &mut addr) } {
            MA_OK => Some((addr, size)),
            MA_ERR_OUT_OF_MEMORY => None,
            status => panic!("ma_alloc({size}) returned {status}"),
        }
    }

    #[inline]
    fn free(&mut self, (addr, size): (usize, usize)) {
        // SAFETY: the handle is live (owned by `self`).
        let status = unsafe { ma_free(self.0, addr, size) };
        assert_eq!(status, MA_OK, "ma_free({addr}, {size})");
    }
}

/// The reference O(n) first fit.
pub struct Reference(pub ReferenceAllocator);

impl Reference {
    /// A reference allocator over `[0, capacity)`.
    pub fn new(capacity: usize) -> Self {
        Reference(ReferenceAllocator::new(capacity).expect("capacity > 0"))
    }
}

impl Subject for Reference {
    type Handle = (usize, usize);

    #[inline]
    fn allocate(&mut self, size: u32) -> Option<(usize, usize)> {
        let size = size as usize;
        match self.0.allocate(size) {
            Ok(addr) => Some((addr, size)),
            Err(memalloc_models::Error::OutOfMemory) => None,
            Err(e) => panic!("allocate({size}) failed: {e}"),
        }
    }

    #[inline]
    fn free(&mut self, (addr, size): (usize, usize)) {
        self.0.free(addr, size).expect("freeing a live block succeeds");
    }
}

/// `offset_allocator::Allocator<u32>`.
pub struct OffsetAlloc(offset_allocator::Allocator<u32>);

impl OffsetAlloc {
    /// An allocator over `[0, capacity)` with room for `max_live` live blocks, or `None`
    /// when that does not fit its 32-bit limits. Its node budget counts free regions as
    /// well as allocations, and there are never more free regions than allocations plus
    /// one, so it gets `2 * max_live + 2` nodes.
    pub fn new(capacity: usize, max_live: usize) -> Option<Self> {
        let size = u32::try_from(capacity).ok()?;
        let nodes = u32::try_from(max_live.checked_mul(2)?.checked_add(2)?).ok().filter(|&n| n < u32::MAX - 1)?;
        Some(OffsetAlloc(offset_allocator::Allocator::with_max_allocs(size, nodes)))
    }
}

impl Subject for OffsetAlloc {
    type Handle = offset_allocator::Allocation<u32>;

    #[inline]
    fn allocate(&mut self, size: u32) -> Option<Self::Handle> {
        self.0.allocate(size)
    }

    #[inline]
    fn free(&mut self, handle: Self::Handle) {
        self.0.free(handle);
    }
}

/// `xalloc::SysTlsf<u32>`: xalloc's TLSF over `[0, capacity)`.
pub struct XallocTlsf(xalloc::SysTlsf<u32>);

impl XallocTlsf {
    /// An allocator over `[0, capacity)` with room for `max_live` live blocks reserved in
    /// its arena, or `None` when the capacity does not fit its 32-bit sizes.
    pub fn new(capacity: usize, max_live: usize) -> Option<Self> {
        let size = u32::try_from(capacity).ok()?;
        Some(XallocTlsf(xalloc::SysTlsf::with_capacity(size, 2 * max_live + 2)))
    }
}

impl Subject for XallocTlsf {
    type Handle = xalloc::tlsf::SysTlsfRegion;

    #[inline]
    fn allocate(&mut self, size: u32) -> Option<Self::Handle> {
        self.0.alloc(size).map(|(region, _offset)| region)
    }

    #[inline]
    fn free(&mut self, handle: Self::Handle) {
        // SAFETY: every handle the driver frees came from this allocator's `alloc` and is
        // freed once (the driver takes it out of its slot).
        unsafe { self.0.dealloc_unchecked(handle) };
    }
}

/// `range_alloc::RangeAllocator<u64>`.
pub struct RangeAlloc(range_alloc::RangeAllocator<u64>);

impl RangeAlloc {
    /// An allocator over `[0, capacity)`.
    pub fn new(capacity: usize) -> Self {
        RangeAlloc(range_alloc::RangeAllocator::new(0..capacity as u64))
    }
}

impl Subject for RangeAlloc {
    type Handle = Range<u64>;

    #[inline]
    fn allocate(&mut self, size: u32) -> Option<Range<u64>> {
        self.0.allocate_range(u64::from(size)).ok()
    }

    #[inline]
    fn free(&mut self, handle: Range<u64>) {
        self.0.free_range(handle);
    }
}

/// No allocator: `allocate` hands back a handle of the same shape as memalloc's without
/// deciding anything, `free` only looks at it. Replayed like the others, it measures the
/// driver alone: reading the next step and the random slot it names (a cache miss once the
/// slots outgrow the caches), and writing the slot back.
pub struct HarnessOnly;

impl Subject for HarnessOnly {
    type Handle = (usize, usize);

    #[inline]
    fn allocate(&mut self, size: u32) -> Option<(usize, usize)> {
        Some(std::hint::black_box((0, size as usize)))
    }

    #[inline]
    fn free(&mut self, handle: (usize, usize)) {
        std::hint::black_box(handle);
    }
}

/// A subject at steady state: `n` slots, each holding one live block (or none after a
/// failed allocation), replaying a [`ChurnTrace`]'s steps.
pub struct Churn<S: Subject> {
    /// The allocator under test.
    pub subject: S,
    slots: Vec<Option<S::Handle>>,
    cursor: usize,
    /// Allocations that failed (out of memory), pre-fill included.
    pub failures: u64,
    /// Churn steps run so far (free + allocate pairs), pre-fill not included.
    pub steps: u64,
}

impl<S: Subject> Churn<S> {
    /// Allocates the trace's pre-fill sizes into slots `0..n`.
    pub fn prefill(mut subject: S, trace: &ChurnTrace) -> Self {
        let mut failures = 0;
        let slots = trace
            .prefill
            .iter()
            .map(|&size| {
                let handle = subject.allocate(size);
                failures += u64::from(handle.is_none());
                handle
            })
            .collect();
        Churn { subject, slots, cursor: 0, failures, steps: 0 }
    }

    /// Frees the block in `op.slot`, if there is one, then allocates `op.size` into it.
    #[inline]
    pub fn step(&mut self, op: Op) {
        let slot = &mut self.slots[op.slot as usize];
        if let Some(handle) = slot.take() {
            self.subject.free(handle);
        }
        *slot = self.subject.allocate(op.size);
        self.failures += u64::from(slot.is_none());
    }

    /// Runs the next `count` steps of `ops`, from where the last call stopped, wrapping
    /// around at the end.
    #[inline]
    pub fn run(&mut self, ops: &[Op], count: u64) {
        for _ in 0..count {
            self.step(ops[self.cursor]);
            self.cursor += 1;
            if self.cursor == ops.len() {
                self.cursor = 0;
            }
        }
        self.steps += count;
    }
}
