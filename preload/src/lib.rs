//! `libmemalloc_preload.so`: every C heap call of a program served by memalloc.
//!
//! ```sh
//! LD_PRELOAD=target/release/libmemalloc_preload.so MEMALLOC_POLICY=best-fit MEMALLOC_STATS=1 python3 script.py
//! ```
//!
//! This file holds the exported functions (`malloc`, `free`, `calloc`, `realloc`,
//! `reallocarray`, `posix_memalign`, `aligned_alloc`, `memalign`, `valloc`, `pvalloc`,
//! `malloc_usable_size`) with glibc's semantics as docs/CONTRACT.md lists them. The parts:
//!
//! | file | holds |
//! |---|---|
//! | `heap.rs` | the region, the core allocator over it, start, fork handlers, exit summary |
//! | `release.rs` | live bytes per 64 KiB chunk; `madvise(MADV_DONTNEED)` of empty chunks |
//! | `meta.rs` | the `#[global_allocator]` for the library's own Rust heap (mmap only) |
//! | `lock.rs` | the futex lock that never allocates and sleeps when contended |
//! | `trace.rs` | `MEMALLOC_TRACE` (format: `docs/PRELOAD.md`) |
//! | `config.rs` | the environment variables |
//! | `diag.rs` | stderr lines without allocation, the panic hook |
//!
//! Every exported function locks the heap once, so calls are serialised and traced in
//! order. None can unwind: the library never panics by design, and the panic hook aborts
//! with one line if it ever did. A pointer given to `free`, `realloc` or
//! `malloc_usable_size` must be one this library returned: with `LD_PRELOAD` these symbols
//! are bound before the program's first allocation (the dynamic loader's own early blocks
//! are never passed to `free`), so any other pointer is a bug, reported on one line before
//! `abort`.

mod config;
mod diag;
mod heap;
mod lock;
mod meta;
mod release;
mod trace;

use core::ffi::{c_int, c_void};
use core::ptr;

use heap::{Call, HeapGuard, MIN_ALIGN, heap, usable};
use trace::Field;

/// The offset-or-failure field of a trace line.
fn addr(off: Option<usize>) -> Field {
    Field::Addr(off)
}

/// `malloc(size)`: a block of at least `size` bytes aligned to 16, or NULL with
/// `errno = ENOMEM`. `malloc(0)` is a unique pointer.
#[unsafe(no_mangle)]
pub extern "C" fn malloc(size: usize) -> *mut c_void {
    let mut heap = heap();
    heap.count(Call::Malloc);
    let off = heap.allocate(size, MIN_ALIGN, false);
    heap.trace(b'm', &[Field::Num(size), addr(off)]);
    finish(heap, off)
}

/// Unlocks the heap and returns the pointer for `off`, or NULL with `errno = ENOMEM`.
fn finish(heap: HeapGuard, off: Option<usize>) -> *mut c_void {
    let p = off.map(|off| heap.ptr(off));
    drop(heap);
    p.unwrap_or_else(|| {
        diag::set_errno(libc::ENOMEM);
        ptr::null_mut()
    })
}

/// `free(ptr)`: releases a block; NULL is a no-op; `errno` is kept. A pointer that is not
/// a live block (double free, foreign or interior pointer) prints one line and aborts.
///
/// # Safety
/// `ptr` is NULL or a block from this library that the caller no longer uses.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn free(ptr: *mut c_void) {
    if ptr.is_null() {
        return;
    }
    let mut heap = heap();
    heap.count(Call::Free);
    let (off, size) = match heap.find(ptr) {
        Ok(found) => found,
        Err(why) => heap.bad_pointer("free", ptr, why),
    };
    heap.free(off, size);
    heap.trace(b'f', &[Field::Num(off)]);
}

/// `calloc(n, size)`: a zeroed block of `n * size` bytes; NULL with `errno = ENOMEM` when
/// the product overflows or there is no room.
#[unsafe(no_mangle)]
pub extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    let mut heap = heap();
    heap.count(Call::Calloc);
    let off = match n.checked_mul(size) {
        Some(total) => heap.allocate(total, MIN_ALIGN, true),
        None => {
            heap.count_failure();
            None
        }
    };
    heap.trace(b'c', &[Field::Num(n), Field::Num(size), addr(off)]);
    finish(heap, off)
}

/// The body of `realloc` and `reallocarray`: `ptr` NULL is `malloc(size)`; `size` 0 frees
/// `ptr` and returns NULL; else the block is resized, moved (contents copied) if needed,
/// or left as it was with NULL and `errno = ENOMEM` when there is no room.
fn resize(call: Call, func: &str, ptr: *mut c_void, size: usize) -> *mut c_void {
    let mut heap = heap();
    heap.count(call);
    if ptr.is_null() {
        let off = heap.allocate(size, MIN_ALIGN, false);
        heap.trace(b'm', &[Field::Num(size), addr(off)]);
        return finish(heap, off);
    }
    let (off, old) = match heap.find(ptr) {
        Ok(found) => found,
        Err(why) => heap.bad_pointer(func, ptr, why),
    };
    if size == 0 {
        heap.free(off, old);
        heap.trace(b'f', &[Field::Num(off)]);
        return ptr::null_mut();
    }
    let new = heap.reallocate(off, old, size);
    heap.trace(b'r', &[Field::Num(off), Field::Num(size), addr(new)]);
    finish(heap, new)
}

/// `realloc(ptr, size)`: see `resize` above (glibc semantics: `realloc(p, 0)` frees `p`
/// and returns NULL; `realloc(NULL, n)` is `malloc(n)`).
///
/// # Safety
/// `ptr` is NULL or a live block from this library; on success the caller uses only the
/// returned pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    resize(Call::Realloc, "realloc", ptr, size)
}

/// `reallocarray(ptr, n, size)`: `realloc(ptr, n * size)`, except that an overflowing
/// product fails with `errno = ENOMEM` and leaves `ptr` as it was.
///
/// # Safety
/// As [`realloc`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn reallocarray(ptr: *mut c_void, n: usize, size: usize) -> *mut c_void {
    match n.checked_mul(size) {
        Some(total) => resize(Call::ReallocArray, "reallocarray", ptr, total),
        None => {
            let mut heap = heap();
            heap.count(Call::ReallocArray);
            heap.count_failure();
            drop(heap);
            diag::set_errno(libc::ENOMEM);
            ptr::null_mut()
        }
    }
}

/// An aligned allocation for the `memalign` family: `align` is a power of two. On
/// failure `errno` is as it was; the caller sets it.
fn aligned(call: Call, align: usize, size: usize) -> Option<*mut c_void> {
    let mut heap = heap();
    heap.count(call);
    let off = heap.allocate(size, align.max(MIN_ALIGN), false);
    heap.trace(b'a', &[Field::Num(align.max(MIN_ALIGN)), Field::Num(size), addr(off)]);
    off.map(|off| heap.ptr(off))
}

/// `aligned`, with NULL and `errno = ENOMEM` on failure.
fn aligned_or_enomem(call: Call, align: usize, size: usize) -> *mut c_void {
    aligned(call, align, size).unwrap_or_else(|| {
        diag::set_errno(libc::ENOMEM);
        ptr::null_mut()
    })
}

/// A call rejected for a bad argument: counted, NULL with `errno = EINVAL`.
fn invalid(call: Call) -> *mut c_void {
    let mut heap = heap();
    heap.count(call);
    heap.count_failure();
    drop(heap);
    diag::set_errno(libc::EINVAL);
    ptr::null_mut()
}

/// `posix_memalign(out, align, size)`: 0 and `*out` a block aligned to `align`; `EINVAL`
/// when `align` is not a power of two multiple of `sizeof(void *)`; `ENOMEM` when there is
/// no room. On failure `*out` is not written. `errno` is not changed.
///
/// # Safety
/// `out` is valid for a write of one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    if !align.is_power_of_two() || !align.is_multiple_of(size_of::<*mut c_void>()) {
        invalid_keep_errno(Call::PosixMemalign);
        return libc::EINVAL;
    }
    match aligned(Call::PosixMemalign, align, size) {
        Some(p) => {
            // SAFETY: the caller passes a writable out-pointer.
            unsafe { *out = p };
            0
        }
        None => libc::ENOMEM,
    }
}

/// Counts a rejected `posix_memalign` (which reports through its return value).
fn invalid_keep_errno(call: Call) {
    let mut heap = heap();
    heap.count(call);
    heap.count_failure();
}

/// `aligned_alloc(align, size)`: a block aligned to `align`; NULL with `errno = EINVAL`
/// when `align` is not a power of two (0 included, as glibc 2.38 and later), `ENOMEM` when
/// there is no room. `size` need not be a multiple of `align`.
#[unsafe(no_mangle)]
pub extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    if !align.is_power_of_two() {
        return invalid(Call::AlignedAlloc);
    }
    aligned_or_enomem(Call::AlignedAlloc, align, size)
}

/// `memalign(align, size)`: a block aligned to `align` rounded up to a power of two; NULL
/// with `errno = EINVAL` when `align` is above `SIZE_MAX / 2 + 1`, `ENOMEM` when there is
/// no room.
#[unsafe(no_mangle)]
pub extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    if align > usize::MAX / 2 + 1 {
        return invalid(Call::Memalign);
    }
    aligned_or_enomem(Call::Memalign, align.max(1).next_power_of_two(), size)
}

/// `valloc(size)`: a block aligned to the page size.
#[unsafe(no_mangle)]
pub extern "C" fn valloc(size: usize) -> *mut c_void {
    let page = meta::page_size();
    aligned_or_enomem(Call::Valloc, page, size)
}

/// `pvalloc(size)`: a page-aligned block of `size` rounded up to whole pages (at least
/// one); NULL with `errno = ENOMEM` when the rounding overflows or there is no room.
#[unsafe(no_mangle)]
pub extern "C" fn pvalloc(size: usize) -> *mut c_void {
    let page = meta::page_size();
    match size.max(1).checked_next_multiple_of(page) {
        Some(rounded) => aligned_or_enomem(Call::Pvalloc, page, rounded),
        None => {
            let mut heap = heap();
            heap.count(Call::Pvalloc);
            heap.count_failure();
            drop(heap);
            diag::set_errno(libc::ENOMEM);
            ptr::null_mut()
        }
    }
}

/// `malloc_usable_size(ptr)`: the bytes the block can hold (its size rounded up to 16);
/// 0 for NULL. A pointer that is not a live block prints one line and aborts.
///
/// # Safety
/// `ptr` is NULL or a live block from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc_usable_size(ptr: *mut c_void) -> usize {
    if ptr.is_null() {
        return 0;
    }
    let mut heap = heap();
    heap.count(Call::UsableSize);
    match heap.find(ptr) {
        Ok((_, size)) => usable(size.max(1)),
        Err(why) => heap.bad_pointer("malloc_usable_size", ptr, why),
    }
}
