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
/// address order, by `ma_alloc_at` (buddy re-tiles its top-level blocks so).
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
        unsafe { handle(a) }?.inner.lock().free_at(addr)
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
