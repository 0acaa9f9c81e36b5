//! The C layer: an opaque, lock-guarded handle over [`MemoryAllocator`], status codes
//! instead of `Result`, and a panic boundary. Nothing else lives here: every rule about
//! sizes and addresses is the core's.
//!
//! Each entry point checks its pointers (NULL -> `MA_ERR_NULL_POINTER`), takes the lock,
//! calls the core, and writes its out-parameter only on success, all inside
//! `boundary`, which turns a panic into `MA_ERR_INTERNAL`.

#![allow(non_camel_case_types)]

mod types;

use std::alloc::{Layout, alloc, dealloc};
use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use parking_lot::Mutex;

pub use types::*;

use crate::{Error, MemoryAllocator, Options, Policy, Request};

/// An allocator over `[0, capacity)`, guarded by a lock. Opaque to C: create it with
/// `ma_create` or `ma_create_with`, release it with `ma_destroy`.
pub struct ma_allocator {
    inner: Mutex<MemoryAllocator>,
}

/// Runs `body` and maps its result to a status; a panic becomes `MA_ERR_INTERNAL`
/// instead of unwinding into C. Every fallible entry point goes through here.
fn boundary(body: impl FnOnce() -> Result<(), Error>) -> ma_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => MA_OK,
        Ok(Err(error)) => error.code(),
        Err(_) => MA_ERR_INTERNAL,
    }
}

/// The handle behind `a`, or `NullPointer`.
///
/// # Safety
/// `a` is NULL or a live handle from `ma_create`/`ma_create_with`.
unsafe fn handle<'a>(a: *const ma_allocator) -> Result<&'a ma_allocator, Error> {
    // SAFETY: the caller guarantees that a non-NULL `a` points to a live handle, and a
    // handle is only ever shared (`&`): all mutation goes through its lock.
    unsafe { a.as_ref() }.ok_or(Error::NullPointer)
}

/// `out`, checked for NULL before any work is done.
fn out_param<T>(out: *mut T) -> Result<*mut T, Error> {
    if out.is_null() { Err(Error::NullPointer) } else { Ok(out) }
}

/// Writes the result of a successful call to its out-parameter.
///
/// # Safety
/// `out` is non-NULL (checked by [`out_param`]), aligned and valid for a write of `T`.
unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: guaranteed by the caller, as the C contract requires of every out-pointer.
    unsafe { out.write(value) }
}

/// Moves `allocator` into a new handle; NULL when host memory is exhausted.
fn new_handle(allocator: MemoryAllocator) -> *mut ma_allocator {
    let layout = Layout::new::<ma_allocator>();
    // SAFETY: `ma_allocator` is not zero-sized, so `layout` has a non-zero size.
    let raw = unsafe { alloc(layout) }.cast::<ma_allocator>();
    if !raw.is_null() {
        // SAFETY: `raw` is freshly allocated with the layout of `ma_allocator`.
        unsafe { raw.write(ma_allocator { inner: Mutex::new(allocator) }) };
    }
    raw
}

/// Creates an allocator over `[0, capacity)`, all free, with the first-fit policy.
///
/// Returns NULL when `capacity` is 0 or host memory is exhausted. Release the handle
/// with `ma_destroy`. Every function but `ma_destroy` may be called on the handle from
/// many threads at once.
#[unsafe(no_mangle)]
pub extern "C" fn ma_create(capacity: usize) -> *mut ma_allocator {
    catch_unwind(|| MemoryAllocator::new(capacity).map_or(ptr::null_mut(), new_handle)).unwrap_or(ptr::null_mut())
}

/// Creates an allocator from `opts` (start from `ma_options_init`) and writes the handle
/// to `*out` on success. Release it with `ma_destroy`.
///
/// Checks, first failing wins: `opts` or `out` NULL -> `MA_ERR_NULL_POINTER`;
/// `struct_size` smaller than this version's `ma_options` -> `MA_ERR_INVALID_ARGUMENT`;
/// capacity 0 -> `MA_ERR_INVALID_ARGUMENT`; unknown policy -> `MA_ERR_INVALID_ARGUMENT`;
/// `min_alignment` 0 or not a power of two -> `MA_ERR_INVALID_ALIGNMENT`.
///
/// # Safety
/// `opts` is NULL or points to an `ma_options` of at least `opts->struct_size` bytes;
/// `out` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_create_with(opts: *const ma_options, out: *mut *mut ma_allocator) -> ma_status {
    boundary(|| {
        if opts.is_null() {
            return Err(Error::NullPointer);
        }
        let out = out_param(out)?;
        // SAFETY: `opts` is non-NULL and the caller guarantees it points to at least
        // `struct_size` bytes of `ma_options`, so its first field is readable.
        if unsafe { ptr::addr_of!((*opts).struct_size).read() } < size_of::<ma_options>() {
            return Err(Error::InvalidArgument);
        }
        // SAFETY: the caller's struct is at least as large as this version's.
        let opts = unsafe { &*opts };
        if opts.capacity == 0 {
            return Err(Error::InvalidArgument);
        }
        let policy = Policy::from_code(opts.policy).ok_or(Error::InvalidArgument)?;
        let options = Options::new(opts.capacity).policy(policy).min_alignment(opts.min_alignment);
        let handle = new_handle(MemoryAllocator::with_options(options)?);
        if handle.is_null() {
            return Err(Error::OutOfMemory);
        }
        // SAFETY: `out` was checked for NULL; the caller guarantees it is writable.
        unsafe { write_out(out, handle) };
        Ok(())
    })
}

/// Fills `*opts` with the defaults: `struct_size` set, capacity 0, first fit,
/// `min_alignment` 1. NULL is a no-op.
///
/// # Safety
/// `opts` is NULL or valid for a write of `ma_options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_options_init(opts: *mut ma_options) {
    if !opts.is_null() {
        // SAFETY: `opts` is non-NULL and the caller guarantees it is writable.
        unsafe { write_out(opts, ma_options::default()) };
    }
}

/// Releases the allocator. NULL is a no-op. No other call on `a` may run concurrently
/// with it or follow it.
///
/// # Safety
/// `a` is NULL or a live handle, not used again afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_destroy(a: *mut ma_allocator) {
    if a.is_null() {
        return;
    }
    // A panic while dropping would be a bug in the allocator's memory; keep it in Rust.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `a` came from `new_handle` (the caller's guarantee), so it holds an
        // initialised `ma_allocator` allocated with this layout, dropped exactly once here.
        unsafe {
            ptr::drop_in_place(a);
            dealloc(a.cast(), Layout::new::<ma_allocator>());
        }
    }));
}

/// Allocates `size` units with the allocator's policy and writes the address to
/// `*out_addr`.
///
/// Checks, first failing wins: `a` or `out_addr` NULL -> `MA_ERR_NULL_POINTER`;
/// `size` 0 -> `MA_ERR_INVALID_SIZE`; no free block fits -> `MA_ERR_OUT_OF_MEMORY`.
/// First fit takes the low end of the lowest-addressed free block that can hold `size`.
/// `*out_addr` is written only on success. Thread-safe.
///
/// # Safety
/// `a` is NULL or a live handle; `out_addr` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_alloc(a: *mut ma_allocator, size: usize, out_addr: *mut usize) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        let a = unsafe { handle(a) }?;
        let out = out_param(out_addr)?;
        let addr = a.inner.lock().allocate(size)?;
        // SAFETY: checked for NULL; the caller guarantees it is writable.
        unsafe { write_out(out, addr) };
        Ok(())
    })
}

/// Allocates `size` units at a multiple of `alignment` (at least the allocator's
/// `min_alignment`) and writes the address to `*out_addr`. The gap before the block
/// stays free.
///
/// Checks, first failing wins: `a` or `out_addr` NULL -> `MA_ERR_NULL_POINTER`;
/// `alignment` 0 or not a power of two -> `MA_ERR_INVALID_ALIGNMENT`; `size` 0 ->
/// `MA_ERR_INVALID_SIZE`; no fit -> `MA_ERR_OUT_OF_MEMORY`.
///
/// # Safety
/// `a` is NULL or a live handle; `out_addr` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_alloc_aligned(
    a: *mut ma_allocator,
    size: usize,
    alignment: usize,
    out_addr: *mut usize,
) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        let a = unsafe { handle(a) }?;
        let out = out_param(out_addr)?;
        let addr = a.inner.lock().allocate_aligned(size, alignment)?;
        // SAFETY: checked for NULL; the caller guarantees it is writable.
        unsafe { write_out(out, addr) };
        Ok(())
    })
}

/// Fills `*r` with the defaults for a request of `size` units: `struct_size` set,
/// alignment 1, `lo` 0, `hi` `SIZE_MAX`, no flags, tag 0. NULL is a no-op.
///
/// # Safety
/// `r` is NULL or valid for a write of `ma_request`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_request_init(r: *mut ma_request, size: usize) {
    if !r.is_null() {
        // SAFETY: `r` is non-NULL and the caller guarantees it is writable.
        unsafe { write_out(r, ma_request::new(size)) };
    }
}

/// Allocates as `*r` says and writes the address to `*out_addr`: `size` units at a
/// multiple of `alignment` (and of `min_alignment`), the whole footprint inside
/// `[lo, hi)` (`hi` clamped to the capacity), at the lowest address the policy picks
/// there, or the highest with `MA_REQ_TOP_DOWN`; `tag` and `MA_REQ_PINNED` are recorded
/// with the allocation. With the defaults it is `ma_alloc` (or `ma_alloc_aligned`),
/// address for address.
///
/// First fit: the lowest (top-down: highest) aligned address in the range where the
/// block fits. Best fit: the smallest free block whose part in the range holds the
/// request, ties to the lowest (top-down: highest) address, at that part's lowest
/// (highest) aligned address. Both stay O(log n). TLSF and buddy: the first block of
/// their size classes (orders) whose part in the range holds it, at that part's low
/// (high) end; they scan their lists.
///
/// Checks, first failing wins: `a`, `r` or `out_addr` NULL -> `MA_ERR_NULL_POINTER`;
/// `struct_size` smaller than this version's `ma_request` -> `MA_ERR_INVALID_ARGUMENT`;
/// a flag bit not defined -> `MA_ERR_INVALID_ARGUMENT`; `alignment` 0 or not a power of
/// two -> `MA_ERR_INVALID_ALIGNMENT`; `size` 0 -> `MA_ERR_INVALID_SIZE`;
/// `lo >= min(hi, capacity)` -> `MA_ERR_INVALID_ARGUMENT`; no fit inside the range ->
/// `MA_ERR_OUT_OF_MEMORY`.
///
/// # Safety
/// `a` is NULL or a live handle; `r` is NULL or points to at least `r->struct_size`
/// bytes of `ma_request`; `out_addr` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_alloc_ex(a: *mut ma_allocator, r: *const ma_request, out_addr: *mut usize) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        let a = unsafe { handle(a) }?;
        if r.is_null() {
            return Err(Error::NullPointer);
        }
        let out = out_param(out_addr)?;
        // SAFETY: `r` is non-NULL and the caller guarantees it points to at least
        // `struct_size` bytes of `ma_request`, so its first field is readable.
        if unsafe { ptr::addr_of!((*r).struct_size).read() } < size_of::<ma_request>() {
            return Err(Error::InvalidArgument);
        }
        // SAFETY: the caller's struct is at least as large as this version's.
        let r = unsafe { &*r };
        if r.flags & !MA_REQ_KNOWN != 0 {
            return Err(Error::InvalidArgument);
        }
        let mut request = Request::new(r.size).align(r.alignment).within(r.lo..r.hi).tag(r.tag);
        request.top_down = r.flags & MA_REQ_TOP_DOWN != 0;
        request.pinned = r.flags & MA_REQ_PINNED != 0;
        let addr = a.inner.lock().allocate_with(&request)?;
        // SAFETY: checked for NULL; the caller guarantees it is writable.
        unsafe { write_out(out, addr) };
        Ok(())
    })
}

/// Reserves exactly `[addr, addr + size)` (its footprint: the size rounded up to
/// `min_alignment`, and under buddy to a power of two), like a fixed allocation; it is
/// then freed as any other. O(log n) under first fit; the other policies walk the block
/// list to `addr`.
///
/// Checks, first failing wins: `a` NULL -> `MA_ERR_NULL_POINTER`; `addr >= capacity` ->
/// `MA_ERR_INVALID_ADDRESS`; `size` 0, or `addr + size` past the capacity (overflow
/// included) -> `MA_ERR_INVALID_SIZE`; `addr` not a multiple of `min_alignment` (buddy:
/// of the footprint) -> `MA_ERR_INVALID_ALIGNMENT`; any unit of the footprint not free ->
/// `MA_ERR_OCCUPIED`.
///
/// # Safety
/// `a` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_alloc_at(a: *mut ma_allocator, addr: usize, size: usize) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        let a = unsafe { handle(a) }?;
        a.inner.lock().allocate_at(addr, size)
    })
}

/// Grows or shrinks the managed range to `[0, new_capacity)` with the live allocations
/// where they are: growing adds free space (merged with a free block at the old end),
/// shrinking removes free space. Afterwards the map, the stats and every later call are
/// those of an allocator created with `new_capacity` and given the same allocations, in
/// address order, by `ma_alloc_at`, each keeping its tag, pin and requested alignment (buddy
/// re-tiles its top-level blocks so).
///
/// Checks, first failing wins: `a` NULL -> `MA_ERR_NULL_POINTER`; `new_capacity` 0 ->
/// `MA_ERR_INVALID_ARGUMENT`; a live allocation's footprint ends beyond `new_capacity`
/// -> `MA_ERR_OCCUPIED`.
///
/// # Safety
/// `a` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_set_capacity(a: *mut ma_allocator, new_capacity: usize) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        let a = unsafe { handle(a) }?;
        a.inner.lock().set_capacity(new_capacity)
    })
}

/// Gives the live allocation at `addr` the tag `tag` (0: untagged), for `ma_free_tagged`.
///
/// Checks, first failing wins: `a` NULL -> `MA_ERR_NULL_POINTER`; `addr >= capacity` ->
/// `MA_ERR_INVALID_ADDRESS`; no live allocation starts at `addr` -> `MA_ERR_NOT_ALLOCATED`.
///
/// # Safety
/// `a` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_set_tag(a: *mut ma_allocator, addr: usize, tag: u64) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        unsafe { handle(a) }?.inner.lock().set_tag(addr, tag)
    })
}

/// Writes the tag of the live allocation at `addr` (0 unless it was given one) to
/// `*out_tag`.
///
/// Checks, first failing wins: `a` or `out_tag` NULL -> `MA_ERR_NULL_POINTER`;
/// `addr >= capacity` -> `MA_ERR_INVALID_ADDRESS`; no live allocation starts at `addr`
/// -> `MA_ERR_NOT_ALLOCATED`.
///
/// # Safety
/// `a` is NULL or a live handle; `out_tag` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_tag_of(a: *const ma_allocator, addr: usize, out_tag: *mut u64) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        let a = unsafe { handle(a) }?;
        let out = out_param(out_tag)?;
        let tag = a.inner.lock().tag_of(addr)?;
        // SAFETY: checked for NULL; the caller guarantees it is writable.
        unsafe { write_out(out, tag) };
        Ok(())
    })
}

/// Frees every live allocation tagged `tag` (tag 0: every untagged one) and writes how
/// many to `*out_count`. O(k log n) for k allocations of a non-zero tag (tags are
/// indexed); tag 0 walks the map. `a` or `out_count` NULL -> `MA_ERR_NULL_POINTER`.
///
/// # Safety
/// `a` is NULL or a live handle; `out_count` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_free_tagged(a: *mut ma_allocator, tag: u64, out_count: *mut usize) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        let a = unsafe { handle(a) }?;
        let out = out_param(out_count)?;
        let count = a.inner.lock().free_tagged(tag);
        // SAFETY: checked for NULL; the caller guarantees it is writable.
        unsafe { write_out(out, count) };
        Ok(())
    })
}

/// Slides unpinned live allocations toward address 0, in address order, within a budget
/// of `max_units` moved units and `max_moves` moves; writes the moves to `moves[0..n]`
/// and `n` to `*out_count` (0: nothing left to move within the budget, or at all).
///
/// The allocator is updated at once; the caller then performs the moves in the order
/// given with `memmove` (each `to < from`; a destination overlaps only its own source or
/// space already vacated). Each allocation keeps its alignment, size, tag and flags;
/// pinned ones stay. Calling again continues where the budget stopped.
///
/// Checks: `a` or `out_count` NULL, or `moves` NULL with `max_moves > 0` ->
/// `MA_ERR_NULL_POINTER`.
///
/// # Safety
/// `a` is NULL or a live handle; `moves` is NULL or valid for writes of `max_moves`
/// elements; `out_count` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_compact(
    a: *mut ma_allocator,
    max_units: usize,
    moves: *mut ma_move,
    max_moves: usize,
    out_count: *mut usize,
) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        let a = unsafe { handle(a) }?;
        let out = out_param(out_count)?;
        if moves.is_null() && max_moves > 0 {
            return Err(Error::NullPointer);
        }
        let plan = a.inner.lock().compact(max_units, max_moves);
        for (k, step) in plan.iter().enumerate() {
            // SAFETY: `plan` has at most `max_moves` steps and the caller guarantees that
            // `moves` (non-NULL when `max_moves > 0`) holds that many.
            unsafe { write_out(moves.add(k), ma_move::from(*step)) };
        }
        // SAFETY: checked for NULL; the caller guarantees it is writable.
        unsafe { write_out(out, plan.len()) };
        Ok(())
    })
}

/// Writes a snapshot of the whole allocator to `buf` (see `docs/SNAPSHOT.md`) and its
/// length to `*out_len`; `ma_load` reopens it exactly.
///
/// Checks, first failing wins: `a` or `out_len` NULL, or `buf` NULL with `buf_len > 0`
/// -> `MA_ERR_NULL_POINTER`; `buf_len` below the snapshot's length ->
/// `MA_ERR_BUFFER_TOO_SMALL`, with the length written to `*out_len` and `buf` untouched.
/// `ma_save(a, NULL, 0, &n)` asks for the length.
///
/// # Safety
/// `a` is NULL or a live handle; `buf` is NULL or valid for writes of `buf_len` bytes;
/// `out_len` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_save(
    a: *const ma_allocator,
    buf: *mut c_void,
    buf_len: usize,
    out_len: *mut usize,
) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        let a = unsafe { handle(a) }?;
        let out = out_param(out_len)?;
        if buf.is_null() && buf_len > 0 {
            return Err(Error::NullPointer);
        }
        let allocator = a.inner.lock();
        let length = allocator.snapshot_len();
        // SAFETY: checked for NULL; the caller guarantees it is writable.
        unsafe { write_out(out, length) };
        if buf_len < length {
            return Err(Error::BufferTooSmall);
        }
        let bytes = allocator.save();
        debug_assert_eq!(bytes.len(), length);
        // SAFETY: `buf` is non-NULL (`buf_len >= length > 0`) and the caller guarantees
        // `buf_len` writable bytes; a Vec of ours cannot overlap the caller's buffer.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), bytes.len()) };
        Ok(())
    })
}

/// Creates an allocator from a snapshot written by `ma_save` and writes the handle to
/// `*out`. Release it with `ma_destroy`.
///
/// Checks: `buf` or `out` NULL -> `MA_ERR_NULL_POINTER`; anything that is not a snapshot
/// this version wrote (wrong magic, unknown version, truncated, trailing bytes, checksum
/// mismatch, inconsistent content under a valid checksum) -> `MA_ERR_BAD_SNAPSHOT`.
/// `*out` is untouched on error, and no input makes it allocate more than a small
/// multiple of `len`.
///
/// # Safety
/// `buf` is NULL or valid for reads of `len` bytes; `out` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_load(buf: *const c_void, len: usize, out: *mut *mut ma_allocator) -> ma_status {
    boundary(|| {
        if buf.is_null() {
            return Err(Error::NullPointer);
        }
        let out = out_param(out)?;
        // SAFETY: `buf` is non-NULL and the caller guarantees `len` readable bytes.
        let bytes = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) };
        let handle = new_handle(MemoryAllocator::load(bytes)?);
        if handle.is_null() {
            return Err(Error::OutOfMemory);
        }
        // SAFETY: `out` was checked for NULL; the caller guarantees it is writable.
        unsafe { write_out(out, handle) };
        Ok(())
    })
}

/// Frees the allocation of `size` units at `addr`; the range is merged with its free
/// neighbours on both sides.
///
/// Checks, first failing wins: `a` NULL -> `MA_ERR_NULL_POINTER`; `addr >= capacity` ->
/// `MA_ERR_INVALID_ADDRESS`; `size` 0 -> `MA_ERR_INVALID_SIZE`; `addr + size > capacity`
/// (or overflows) -> `MA_ERR_INVALID_SIZE`; no live allocation starts at `addr` ->
/// `MA_ERR_NOT_ALLOCATED`; the live allocation at `addr` has another size ->
/// `MA_ERR_SIZE_MISMATCH`.
///
/// # Safety
/// `a` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_free(a: *mut ma_allocator, addr: usize, size: usize) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        unsafe { handle(a) }?.inner.lock().free(addr, size)
    })
}

/// Frees the live allocation at `addr` without repeating its size.
///
/// Checks, first failing wins: `a` NULL -> `MA_ERR_NULL_POINTER`; `addr >= capacity` ->
/// `MA_ERR_INVALID_ADDRESS`; no live allocation starts at `addr` -> `MA_ERR_NOT_ALLOCATED`.
///
/// # Safety
/// `a` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_free_at(a: *mut ma_allocator, addr: usize) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        unsafe { handle(a) }?.inner.lock().free_at(addr).map(drop)
    })
}

/// Writes the size of the live allocation at `addr` (as allocated, without padding) to
/// `*out_size`.
///
/// Checks, first failing wins: `a` or `out_size` NULL -> `MA_ERR_NULL_POINTER`;
/// `addr >= capacity` -> `MA_ERR_INVALID_ADDRESS`; no live allocation starts at `addr`
/// -> `MA_ERR_NOT_ALLOCATED`.
///
/// # Safety
/// `a` is NULL or a live handle; `out_size` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_size_of(a: *const ma_allocator, addr: usize, out_size: *mut usize) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        let a = unsafe { handle(a) }?;
        let out = out_param(out_size)?;
        let size = a.inner.lock().size_of(addr)?;
        // SAFETY: checked for NULL; the caller guarantees it is writable.
        unsafe { write_out(out, size) };
        Ok(())
    })
}

/// Resizes the allocation `(addr, old_size)` to `new_size` and writes its address (the
/// same or a new one) to `*out_addr`.
///
/// Checks, first failing wins: `a` or `out_addr` NULL -> `MA_ERR_NULL_POINTER`;
/// `(addr, old_size)` checked exactly as `ma_free` checks them; `new_size` 0 ->
/// `MA_ERR_INVALID_SIZE`; no room -> `MA_ERR_OUT_OF_MEMORY` (the old allocation stays).
/// Shrinks in place; grows in place when the free space right after the block holds the
/// growth; else moves, choosing the new block while the old one is still held, so the
/// caller can copy from old to new. Only addresses are managed: the caller copies.
///
/// # Safety
/// `a` is NULL or a live handle; `out_addr` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_realloc(
    a: *mut ma_allocator,
    addr: usize,
    old_size: usize,
    new_size: usize,
    out_addr: *mut usize,
) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        let a = unsafe { handle(a) }?;
        let out = out_param(out_addr)?;
        let new_addr = a.inner.lock().reallocate(addr, old_size, new_size)?;
        // SAFETY: checked for NULL; the caller guarantees it is writable.
        unsafe { write_out(out, new_addr) };
        Ok(())
    })
}

/// Frees every allocation at once: the map is as after creation.
///
/// # Safety
/// `a` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_reset(a: *mut ma_allocator) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        unsafe { handle(a) }?.inner.lock().reset();
        Ok(())
    })
}

/// Writes the allocator's counters to `*out`. `a` or `out` NULL -> `MA_ERR_NULL_POINTER`.
///
/// # Safety
/// `a` is NULL or a live handle; `out` is NULL or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_get_stats(a: *const ma_allocator, out: *mut ma_stats) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        let a = unsafe { handle(a) }?;
        let out = out_param(out)?;
        let stats = a.inner.lock().stats();
        // SAFETY: checked for NULL; the caller guarantees it is writable.
        unsafe { write_out(out, stats.into()) };
        Ok(())
    })
}

/// Calls `fn(ctx, start, size, kind)` once per extent of the memory map, in ascending
/// address order; the extents tile `[0, capacity)` exactly. A non-zero return from `fn`
/// stops the walk (`ma_walk` still returns `MA_OK`).
///
/// `fn` sees a snapshot taken when `ma_walk` was called and runs without the lock held,
/// so it may call any `ma_` function, on this allocator too. `a` or `fn` NULL ->
/// `MA_ERR_NULL_POINTER`; `ctx` is passed through and may be NULL.
///
/// # Safety
/// `a` is NULL or a live handle; `fn` is NULL or safe to call with `ctx`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ma_walk(a: *const ma_allocator, r#fn: ma_walk_fn, ctx: *mut c_void) -> ma_status {
    boundary(|| {
        // SAFETY: the caller's guarantee on `a`.
        let a = unsafe { handle(a) }?;
        let callback = r#fn.ok_or(Error::NullPointer)?;
        let snapshot = a.inner.lock().blocks();
        for block in snapshot {
            // SAFETY: the caller guarantees `fn` may be called with `ctx`.
            if unsafe { callback(ctx, block.start, block.size, block.kind.into()) } != 0 {
                break;
            }
        }
        Ok(())
    })
}

/// A static description of `s`; never NULL, also for unknown values.
#[unsafe(no_mangle)]
pub extern "C" fn ma_status_str(s: ma_status) -> *const c_char {
    let text = match s {
        MA_OK => c"success",
        _ => Error::from_code(s).map_or(c"unknown status code", Error::c_message),
    };
    text.as_ptr()
}

/// The library's version as `"MAJOR.MINOR.PATCH"`, equal to the header's `MA_VERSION_*`.
#[unsafe(no_mangle)]
pub extern "C" fn ma_version() -> *const c_char {
    const VERSION: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => panic!("the crate version contains a NUL byte"),
    };
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests;
