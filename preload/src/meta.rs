//! The library's own Rust heap (`#[global_allocator]`): where the core's trees and tables
//! live. It gets memory from `mmap` only, so the Rust code never calls the `malloc` this
//! library exports (which would re-enter the heap lock and deadlock).
//!
//! - Small requests (up to [`MAX_SMALL`] bytes, alignment included) are rounded up to a
//!   power of two of at least 16 bytes, one free list per size class. A block is carved at
//!   a multiple of its own size from [`REFILL`]-byte `mmap` chunks, so it is aligned to
//!   every alignment up to its size. Freed blocks go back to their list (an intrusive
//!   singly linked list through the block's first word) and are never unmapped.
//! - Large requests are their own `mmap`, unmapped on free and grown with `mremap`, so a
//!   `Vec` that doubles costs no copy.
//!
//! One [`Lock`] guards the lists; it is taken after the arena locks when both are held
//! (lock order: arenas, trace, then metadata), including by the fork handlers.
//!
//! **Running out.** A program may cap its address space (`RLIMIT_AS`) at any time, and
//! then `mmap` fails. The heap's own calls fail with `ENOMEM` then, but Rust aborts when
//! its allocator returns null. So a [`RESERVE`] is mapped at the first use, before any
//! limit: when `mmap` refuses, blocks are carved from it, and the heap is told
//! ([`short`]) to fail every allocating call with `ENOMEM` until a new reserve can be
//! mapped ([`recover`]). The unused reserve is kept at twice the largest large block (or
//! half of [`RESERVE`] if more), so that the next doubling of the largest table fits in
//! it: a call in progress finishes on the reserve. Only a call that grows several large
//! tables at once could still abort; then, as when any metadata allocation fails, the
//! process ends with one line on stderr (Rust's own out-of-memory report would print a
//! backtrace, which allocates, inside the heap's locks).

use core::alloc::{GlobalAlloc, Layout};
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::lock::Lock;
use crate::prim;

/// The smallest size class, in bytes: room for the free-list link, and malloc's alignment.
const MIN_CLASS_SHIFT: u32 = 4;
/// The largest size class served from the free lists; larger requests are mapped directly.
const MAX_SMALL: usize = 1 << 15;
/// The number of size classes: 16 B, 32 B, ..., [`MAX_SMALL`].
const CLASSES: usize = (MAX_SMALL.trailing_zeros() - MIN_CLASS_SHIFT + 1) as usize;
/// Bytes mapped at a time for small blocks.
const REFILL: usize = 1 << 20;
/// The reserve for when `mmap` fails (see the module comment).
const RESERVE: usize = 8 << 20;

/// The metadata heap, registered as this library's global allocator.
pub(crate) struct MetaHeap;

#[global_allocator]
static GLOBAL: MetaHeap = MetaHeap;

/// Free lists and the bump range that small blocks are carved from.
struct Pools {
    /// Per class, the address of the first free block (0: empty); each free block's first
    /// word holds the next one's address.
    free: [usize; CLASSES],
    /// The unused part of the last [`REFILL`] chunk: `[bump, end)`.
    bump: usize,
    end: usize,
}

static POOLS: Lock<Pools> = Lock::new(Pools { free: [0; CLASSES], bump: 0, end: 0 });

/// The unused part of the reserve, `(start, end)`; `(0, 0)` before the first use. Its lock
/// is taken after [`POOLS`]'s when both are held.
static RESERVE_LEFT: Lock<(usize, usize)> = Lock::new((0, 0));

/// Whether the unused reserve is smaller than [`TARGET`]: a block came from it, or a large
/// block grew the target.
static SHORT: AtomicBool = AtomicBool::new(false);

/// The size the unused reserve should have: twice the largest block mapped so far (a table
/// that doubles needs its new size while its old one is still mapped, and the reserve
/// must hold that when `mmap` and `mremap` refuse), and at least half of [`RESERVE`] (what
/// a call that grows no large table may carve).
static TARGET: AtomicUsize = AtomicUsize::new(RESERVE / 2);

/// Whether the metadata's reserve is too small for what it may next need: the heap then
/// refuses new allocations (see [`recover`]).
pub(crate) fn short() -> bool {
    SHORT.load(Ordering::Relaxed)
}

/// Makes the reserve whole again after [`short`]: whether it is. It is when its unused
/// part still holds [`TARGET`] bytes, or when a fresh reserve can be mapped: [`RESERVE`]
/// bytes or the target if more, else the target exactly (the unused rest of the old one
/// is unmapped then; blocks carved from it may be live).
pub(crate) fn recover() -> bool {
    let target = TARGET.load(Ordering::Relaxed);
    let mut left = RESERVE_LEFT.lock();
    let unused = if left.0 == 0 { 0 } else { left.1 - left.0 };
    if unused >= target {
        SHORT.store(false, Ordering::Relaxed);
        return true;
    }
    let fresh =
        [target.max(RESERVE), target].into_iter().find_map(|len| prim::map_anywhere(len, true).map(|p| (p, len)));
    let Some((fresh, len)) = fresh else { return false };
    let unused = left.0.next_multiple_of(page_size());
    if left.0 != 0 && unused < left.1 {
        prim::unmap(unused, left.1 - unused);
    }
    *left = (fresh, fresh + len);
    SHORT.store(false, Ordering::Relaxed);
    true
}

/// A block of `len` bytes was mapped: raises [`TARGET`] to twice that if lower, and
/// marks the reserve short until it has grown to match.
fn note_large(len: usize) {
    let want = len.saturating_mul(2);
    if want > TARGET.fetch_max(want, Ordering::Relaxed) {
        SHORT.store(true, Ordering::Relaxed);
    }
}

/// Bytes mapped by this module now: the metadata's cost, for the exit summary.
static MAPPED: AtomicUsize = AtomicUsize::new(0);

/// Bytes mapped for the library's own data (the core's tables and trees).
pub(crate) fn mapped_bytes() -> usize {
    MAPPED.load(Ordering::Relaxed)
}

/// Takes the metadata locks before `fork` (after the arenas and the trace), unless the
/// calling thread holds one (it forks from a signal handler): whether it took them.
pub(crate) fn lock_for_fork() -> bool {
    if !POOLS.lock_for_fork() {
        return false;
    }
    if !RESERVE_LEFT.lock_for_fork() {
        // SAFETY: taken just above by this thread, without a guard.
        unsafe { POOLS.unlock_raw() };
        return false;
    }
    true
}

/// Releases the metadata lock after `fork`, in the parent and in the child.
///
/// # Safety
/// Only after [`lock_for_fork`], by the thread that forked.
pub(crate) unsafe fn unlock_after_fork() {
    // SAFETY: the prepare handler took the locks with `lock_raw` (forwarded contract).
    unsafe {
        RESERVE_LEFT.unlock_raw();
        POOLS.unlock_raw();
    }
}

/// The size class of `layout`, or `None` when it is mapped directly.
fn class_of(layout: Layout) -> Option<usize> {
    let need = layout.size().max(layout.align()).max(1 << MIN_CLASS_SHIFT);
    (need <= MAX_SMALL).then(|| (need.next_power_of_two().trailing_zeros() - MIN_CLASS_SHIFT) as usize)
}

/// The system's page size.
pub(crate) fn page_size() -> usize {
    prim::page_size()
}

/// Maps `len` bytes of fresh zeroed memory; from the reserve when the system refuses
/// (null when that is too small too).
fn map(len: usize) -> *mut u8 {
    ensure_reserve();
    match prim::map_anywhere(len, false) {
        Some(p) => {
            MAPPED.fetch_add(len, Ordering::Relaxed);
            note_large(len);
            p as *mut u8
        }
        None => from_reserve(len),
    }
}

/// Maps the reserve at the first use.
fn ensure_reserve() {
    static MADE: AtomicBool = AtomicBool::new(false);
    if !MADE.swap(true, Ordering::Relaxed) {
        // Without a reserve (refused already) the first refusal makes the heap short.
        if let Some(p) = prim::map_anywhere(RESERVE, true) {
            *RESERVE_LEFT.lock() = (p, p + RESERVE);
        }
    }
}

/// `len` bytes (a multiple of the page size or of a size class) carved from the reserve,
/// page-aligned when `len` is a page or more; null when it has no room.
fn from_reserve(len: usize) -> *mut u8 {
    SHORT.store(true, Ordering::Relaxed);
    let mut left = RESERVE_LEFT.lock();
    let align = if len >= page_size() { page_size() } else { 16 };
    let start = left.0.next_multiple_of(align);
    if left.0 == 0 || start + len > left.1 {
        return ptr::null_mut();
    }
    left.0 = start + len;
    MAPPED.fetch_add(len, Ordering::Relaxed);
    start as *mut u8
}

/// Unmaps `[p, p + len)`, a range this module mapped or carved from the reserve (whose
/// pages nobody else uses either).
fn unmap(p: *mut u8, len: usize) {
    if len > 0 {
        prim::unmap(p as usize, len);
        MAPPED.fetch_sub(len, Ordering::Relaxed);
    }
}

impl Pools {
    fn take(&mut self, class: usize) -> *mut u8 {
        let head = self.free[class];
        if head != 0 {
            // SAFETY: `head` is a free block of this class; its first word is the link
            // written by `give`.
            self.free[class] = unsafe { *(head as *const usize) };
            return head as *mut u8;
        }
        let size = 1usize << (class as u32 + MIN_CLASS_SHIFT);
        let mut start = self.bump.next_multiple_of(size);
        if self.end == 0 || start + size > self.end {
            let chunk = map(REFILL);
            if chunk.is_null() {
                return ptr::null_mut();
            }
            self.bump = chunk as usize;
            self.end = self.bump + REFILL;
            start = self.bump.next_multiple_of(size);
        }
        self.bump = start + size;
        start as *mut u8
    }

    fn give(&mut self, class: usize, block: *mut u8) {
        // SAFETY: `block` is a block of this class that the caller no longer uses; it is
        // at least 16 bytes and aligned to 16, room for the link.
        unsafe { *(block as *mut usize) = self.free[class] };
        self.free[class] = block as usize;
    }
}

/// Maps a large block for `layout`, aligned to `layout.align()`.
fn map_large(layout: Layout) -> *mut u8 {
    let page = page_size();
    let Some(len) = layout.size().checked_next_multiple_of(page) else { return ptr::null_mut() };
    if layout.align() <= page {
        return map(len);
    }
    // Over-map by the alignment and trim both ends.
    let Some(over) = len.checked_add(layout.align()) else { return ptr::null_mut() };
    let p = map(over);
    if p.is_null() {
        return p;
    }
    let start = (p as usize).next_multiple_of(layout.align());
    let head = start - p as usize;
    unmap(p, head);
    // SAFETY: `start + len` is inside the mapping of `over` bytes.
    unmap(unsafe { p.add(head + len) }, over - head - len);
    start as *mut u8
}

/// Ends the process when even the reserve cannot hold a metadata block: one line on
/// stderr, no allocation (Rust's own report would print a backtrace, which allocates,
/// inside the heap's locks, and deadlock).
#[cold]
fn out_of_memory(size: usize) -> ! {
    crate::diag::fatal(format_args!(
        "cannot allocate {size} bytes for the heap's own tables (the address space is full); aborting"
    ))
}

// SAFETY: every block handed out is exclusively the caller's until it is given back: small
// blocks come from a free list or a fresh carve under the lock, large ones are their own
// mapping; alignment is as documented in the module comment.
unsafe impl GlobalAlloc for MetaHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = match class_of(layout) {
            Some(class) => POOLS.lock().take(class),
            None => map_large(layout),
        };
        if block.is_null() {
            out_of_memory(layout.size());
        }
        block
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match class_of(layout) {
            Some(class) => POOLS.lock().give(class, ptr),
            None => unmap(ptr, layout.size().next_multiple_of(page_size())),
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: GlobalAlloc::realloc's contract: the new size, rounded up to the
        // alignment, does not overflow isize.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let page = page_size();
        match (class_of(layout), class_of(new_layout)) {
            (Some(old), Some(new)) if old == new => return ptr,
            (None, None) if layout.align() <= page => {
                let old_len = layout.size().next_multiple_of(page);
                let new_len = new_size.next_multiple_of(page);
                // SAFETY: `[ptr, ptr + old_len)` is one mapping made by `map_large` (or a
                // range of the reserve that only this block uses).
                // When the kernel refuses (a capped address space), the block moves by copy
                // below, into the reserve if need be.
                if let Some(p) = unsafe { prim::remap(ptr as usize, old_len, new_len) } {
                    MAPPED.fetch_add(new_len, Ordering::Relaxed);
                    MAPPED.fetch_sub(old_len, Ordering::Relaxed);
                    note_large(new_len);
                    return p as *mut u8;
                }
            }
            _ => {}
        }
        // SAFETY: `new_layout` has a non-zero size (GlobalAlloc::realloc's contract). The
        // block is never null: `alloc` ends the process instead.
        let new = unsafe { self.alloc(new_layout) };
        // SAFETY: both blocks are live, distinct, and at least this long.
        unsafe { ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        // SAFETY: `ptr` was allocated with `layout` and is not used again.
        unsafe { self.dealloc(ptr, layout) };
        new
    }
}
