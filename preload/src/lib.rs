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
//! | `setup.rs` | start, the modes (fast, exact), what every call needs to know |
//! | `region.rs` | the address window, one span per arena, mapped in steps |
//! | `arena.rs` | arenas: a core allocator each, with its lock; large blocks |
//! | `small.rs` | size classes and slabs of small blocks; the free mark that catches bad frees |
//! | `cache.rs` | per-thread caches of small blocks, returned stacks; their return at thread exit |
//! | `chunks.rs` | per 64 KiB chunk: live bytes, slab bit; `madvise` of empty chunks |
//! | `fork.rs` | the `pthread_atfork` handlers |
//! | `summary.rs` | `MEMALLOC_STATS` counters and the exit summary |
//! | `trace.rs` | `MEMALLOC_TRACE` (format: `memalloc_core::trace`) |
//! | `meta.rs` | the `#[global_allocator]` for the library's own Rust heap (mmap only) |
//! | `lock.rs` | the futex lock that never allocates, sleeps when contended, knows its holder |
//! | `tls.rs` | thread-local variables in the initial-exec model (no `__tls_get_addr`) |
//! | `config.rs` | the environment variables |
//! | `diag.rs` | stderr lines without allocation, the panic hook |
//! | `prim.rs` | every system call, behind small safe functions |
//!
//! A call is traced in causal order: an allocation is recorded after its block is taken, a
//! free before its block is given back, a `realloc` that the core performs inside its
//! arena's lock. None can unwind: the library never panics by design, and the panic hook
//! aborts with one line if it ever did. A pointer given to `free`, `realloc` or
//! `malloc_usable_size` must be one this library returned: with `LD_PRELOAD` these symbols
//! are bound before the program's first allocation (the dynamic loader's own early blocks
//! are never passed to `free`), so any other pointer is a bug, reported on one line before
//! `abort`.

mod arena;
mod cache;
mod chunks;
mod config;
mod diag;
mod fork;
mod lock;
mod meta;
mod prim;
mod region;
mod setup;
mod small;
mod summary;
mod tls;
mod trace;

use core::ffi::{c_int, c_void};
use core::ptr;

use setup::{MIN_ALIGN, Setup, TRACE, record, setup, usable};
use small::{SMALL_MAX, class_of, class_size};
use summary::{Call, count, count_failure, count_freed, count_live};
use trace::Field;

/// Why a pointer given to `free`, `realloc` or `malloc_usable_size` is not a block.
#[derive(Debug, Clone, Copy)]
enum BadPointer {
    /// Not inside the heap's window.
    Foreign,
    /// Inside the window, but no live allocation starts there (never allocated, already
    /// freed, or inside a block).
    NotLive,
}

/// Reports a bad pointer given to `func` and aborts: the trace is flushed (no lock may be
/// held: a SIGABRT handler may call malloc), then one line goes to stderr.
#[cold]
fn bad_pointer(func: &str, ptr: *mut c_void, why: BadPointer) -> ! {
    if let Some(trace) = &mut *TRACE.lock() {
        trace.flush();
    }
    match why {
        BadPointer::Foreign => {
            diag::fatal(format_args!("{func}(): invalid pointer {ptr:p} (not from this heap); aborting"))
        }
        BadPointer::NotLive if func == "free" => diag::fatal(format_args!(
            "free(): invalid or double free of {ptr:p} (no live block starts there); aborting"
        )),
        BadPointer::NotLive => diag::fatal(format_args!(
            "{func}(): invalid pointer {ptr:p} (no live block starts there: freed, or inside a block); aborting"
        )),
    }
}

/// A live block, found from a pointer given to the library.
enum Found {
    /// A block of a slab (the fast mode's small blocks).
    Small { class: usize },
    /// A block of an arena's core, of `size` requested bytes.
    Large { size: usize },
}

/// The window offset of `ptr` and its arena, or the abort for a foreign pointer.
fn locate(setup: &Setup, func: &str, ptr: *mut c_void) -> (usize, usize) {
    setup.window.locate(ptr as usize).unwrap_or_else(|| bad_pointer(func, ptr, BadPointer::Foreign))
}

/// The live block at `ptr` (not NULL), or the abort for a bad pointer.
#[inline(always)]
fn find(setup: &Setup, func: &str, ptr: *mut c_void) -> Found {
    let (off, i) = locate(setup, func, ptr);
    if setup.front && arena::in_slab(setup, i, off) {
        return match small::live_class(ptr as usize) {
            Some(class) => Found::Small { class },
            None => bad_pointer(func, ptr, BadPointer::NotLive),
        };
    }
    find_large(func, ptr, (off, i))
}

/// [`find`] of a block of arena `i`'s policy at window offset `off`.
#[inline(never)]
fn find_large(func: &str, ptr: *mut c_void, (off, i): (usize, usize)) -> Found {
    match arena::lock_started(i).and_then(|arena| arena.size_of(off)) {
        Some(size) => Found::Large { size },
        None => bad_pointer(func, ptr, BadPointer::NotLive),
    }
}

/// Allocates `size` bytes (0 counts as 1) at a multiple of `align` (a power of two),
/// zeroed if `zero`: the block's address, or `None` when there is no room.
#[inline(always)]
fn allocate(setup: &Setup, size: usize, align: usize, zero: bool) -> Option<usize> {
    if setup.front && size <= SMALL_MAX && align <= MIN_ALIGN {
        let class = class_of(size);
        let block = cache::take(setup, class)?;
        small::make_live(block);
        if zero {
            // SAFETY: the block is the caller's now, `class_size(class)` bytes of a slab.
            unsafe { ptr::write_bytes(block as *mut u8, 0, class_size(class)) };
        }
        count_live(setup, class_size(class));
        return Some(block);
    }
    allocate_large(setup, size, align, zero)
}

/// [`allocate`] from the thread's arena's policy.
#[inline(never)]
fn allocate_large(setup: &Setup, size: usize, align: usize, zero: bool) -> Option<usize> {
    if !arena::metadata_ready(setup) {
        return None;
    }
    let off = arena::with_room(setup, cache::arena_index(setup), |arena| arena.allocate(setup, size, align, zero))?;
    count_live(setup, usable(size.max(1)));
    Some(setup.window.addr(off))
}

/// The trace field of a call's result address.
fn result(setup: &Setup, addr: Option<usize>) -> Field {
    Field::Addr(addr.map(|a| a - setup.window.base))
}

/// The pointer for `addr`, or NULL with `errno = ENOMEM` (the failure counted).
fn finish(setup: &Setup, addr: Option<usize>) -> *mut c_void {
    match addr {
        Some(addr) => addr as *mut c_void,
        None => fail(setup, libc::ENOMEM),
    }
}

/// A failed call: counted, NULL with `errno` set to `errno`.
fn fail(setup: &Setup, errno: c_int) -> *mut c_void {
    count_failure(setup);
    prim::set_errno(errno);
    ptr::null_mut()
}

/// `malloc(size)`: a block of at least `size` bytes aligned to 16, or NULL with
/// `errno = ENOMEM`. `malloc(0)` is a unique pointer.
#[cfg_attr(not(feature = "tsan"), unsafe(no_mangle))]
#[cfg_attr(feature = "tsan", unsafe(export_name = "memalloc_preload_malloc"))]
pub extern "C" fn malloc(size: usize) -> *mut c_void {
    let setup = setup();
    count(setup, Call::Malloc);
    let addr = allocate(setup, size, MIN_ALIGN, false);
    record(setup, b'm', &[Field::Num(size), result(setup, addr)]);
    finish(setup, addr)
}

/// `free(ptr)`: releases a block; NULL is a no-op; `errno` is kept. A pointer that is not
/// a live block (double free, foreign or interior pointer) prints one line and aborts.
///
/// # Safety
/// `ptr` is NULL or a block from this library that the caller no longer uses.
#[cfg_attr(not(feature = "tsan"), unsafe(no_mangle))]
#[cfg_attr(feature = "tsan", unsafe(export_name = "memalloc_preload_free"))]
pub unsafe extern "C" fn free(ptr: *mut c_void) {
    if ptr.is_null() {
        return;
    }
    let setup = setup();
    count(setup, Call::Free);
    free_block(setup, "free", ptr, true);
}

/// Frees the block at `ptr` (not NULL) for `func`, recording it if `traced` (a `realloc`
/// that moved the block recorded the move instead); aborts on a bad pointer.
#[inline(always)]
fn free_block(setup: &Setup, func: &str, ptr: *mut c_void, traced: bool) {
    let (off, i) = locate(setup, func, ptr);
    if setup.front && arena::in_slab(setup, i, off) {
        let Ok(class) = small::take_live(ptr as usize) else { bad_pointer(func, ptr, BadPointer::NotLive) };
        if traced {
            record(setup, b'f', &[Field::Num(off)]);
        }
        count_freed(setup, class_size(class));
        cache::put(setup, ptr as usize, class);
        return;
    }
    free_large(setup, func, ptr, (off, i), traced);
}

/// [`free_block`] of a block of arena `i`'s policy at window offset `off`.
#[inline(never)]
fn free_large(setup: &Setup, func: &str, ptr: *mut c_void, (off, i): (usize, usize), traced: bool) {
    let Some(mut arena) = arena::lock_started(i) else { bad_pointer(func, ptr, BadPointer::NotLive) };
    // One lookup finds and frees the block; the trace line is written under the same hold
    // of the lock, so the trace keeps the order in which the arena saw the calls.
    let Some(size) = arena.free_at(off) else {
        drop(arena);
        bad_pointer(func, ptr, BadPointer::NotLive)
    };
    if traced {
        record(setup, b'f', &[Field::Num(off)]);
    }
    drop(arena);
    count_freed(setup, usable(size.max(1)));
}

/// `calloc(n, size)`: a zeroed block of `n * size` bytes; NULL with `errno = ENOMEM` when
/// the product overflows or there is no room.
#[cfg_attr(not(feature = "tsan"), unsafe(no_mangle))]
#[cfg_attr(feature = "tsan", unsafe(export_name = "memalloc_preload_calloc"))]
pub extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    let setup = setup();
    count(setup, Call::Calloc);
    let addr = n.checked_mul(size).and_then(|total| allocate(setup, total, MIN_ALIGN, true));
    record(setup, b'c', &[Field::Num(n), Field::Num(size), result(setup, addr)]);
    finish(setup, addr)
}

/// The body of `realloc` and `reallocarray`: `ptr` NULL is `malloc(size)`; `size` 0 frees
/// `ptr` and returns NULL; else the block is resized, moved (contents copied) if needed,
/// or left as it was with NULL and `errno = ENOMEM` when there is no room.
fn resize(setup: &Setup, func: &str, ptr: *mut c_void, size: usize) -> *mut c_void {
    if ptr.is_null() {
        let addr = allocate(setup, size, MIN_ALIGN, false);
        record(setup, b'm', &[Field::Num(size), result(setup, addr)]);
        return finish(setup, addr);
    }
    if size == 0 {
        free_block(setup, func, ptr, true);
        return ptr::null_mut();
    }
    let (off, i) = locate(setup, func, ptr);
    // Large stays large: the policy resizes it, in one hold of the arena's lock.
    let small_now = setup.front && arena::in_slab(setup, i, off);
    let small_after = setup.front && size <= SMALL_MAX;
    if !small_now && !small_after {
        // The core resizes in place or moves the block.
        let Some(mut guard) = arena::lock_started(i) else { bad_pointer(func, ptr, BadPointer::NotLive) };
        let Some(old) = guard.size_of(off) else {
            drop(guard);
            bad_pointer(func, ptr, BadPointer::NotLive)
        };
        let new = guard.reallocate(setup, off, old, size).map(|new| setup.window.addr(new));
        record(setup, b'r', &[Field::Num(off), Field::Num(size), result(setup, new)]);
        drop(guard);
        if new.is_some() {
            count_freed(setup, usable(old));
            count_live(setup, usable(size));
        }
        return finish(setup, new);
    }
    let old_usable = match find(setup, func, ptr) {
        Found::Small { class } if size <= SMALL_MAX && class_of(size) == class => {
            record(setup, b'r', &[Field::Num(off), Field::Num(size), Field::Addr(Some(off))]);
            return ptr;
        }
        Found::Small { class } => class_size(class),
        Found::Large { size: old } => usable(old),
    };
    // Moved between a slab and the core, or between slabs: a new block, a copy, a free.
    let Some(new) = allocate(setup, size, MIN_ALIGN, false) else {
        record(setup, b'r', &[Field::Num(off), Field::Num(size), Field::Addr(None)]);
        return fail(setup, libc::ENOMEM);
    };
    // SAFETY: both blocks are live and distinct; the old one holds `old_usable` bytes and
    // the new one at least `size`.
    unsafe { ptr::copy_nonoverlapping(ptr as *const u8, new as *mut u8, old_usable.min(size)) };
    record(setup, b'r', &[Field::Num(off), Field::Num(size), result(setup, Some(new))]);
    free_block(setup, func, ptr, false);
    new as *mut c_void
}

/// `realloc(ptr, size)`: see `resize` above (glibc semantics: `realloc(p, 0)` frees `p`
/// and returns NULL; `realloc(NULL, n)` is `malloc(n)`).
///
/// # Safety
/// `ptr` is NULL or a live block from this library; on success the caller uses only the
/// returned pointer.
#[cfg_attr(not(feature = "tsan"), unsafe(no_mangle))]
#[cfg_attr(feature = "tsan", unsafe(export_name = "memalloc_preload_realloc"))]
pub unsafe extern "C" fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    let setup = setup();
    count(setup, Call::Realloc);
    resize(setup, "realloc", ptr, size)
}

/// `reallocarray(ptr, n, size)`: `realloc(ptr, n * size)`, except that an overflowing
/// product fails with `errno = ENOMEM` and leaves `ptr` as it was.
///
/// # Safety
/// As [`realloc`].
#[cfg_attr(not(feature = "tsan"), unsafe(no_mangle))]
#[cfg_attr(feature = "tsan", unsafe(export_name = "memalloc_preload_reallocarray"))]
pub unsafe extern "C" fn reallocarray(ptr: *mut c_void, n: usize, size: usize) -> *mut c_void {
    let setup = setup();
    count(setup, Call::ReallocArray);
    match n.checked_mul(size) {
        Some(total) => resize(setup, "reallocarray", ptr, total),
        None => fail(setup, libc::ENOMEM),
    }
}

/// An aligned allocation for the `memalign` family: `align` is a power of two. On
/// failure `errno` is as it was and the failure is counted; the caller sets `errno`.
fn aligned(setup: &Setup, align: usize, size: usize) -> Option<*mut c_void> {
    let align = align.max(MIN_ALIGN);
    let addr = allocate(setup, size, align, false);
    record(setup, b'a', &[Field::Num(align), Field::Num(size), result(setup, addr)]);
    if addr.is_none() {
        count_failure(setup);
    }
    addr.map(|addr| addr as *mut c_void)
}

/// `aligned`, with NULL and `errno = ENOMEM` on failure.
fn aligned_or_enomem(setup: &Setup, align: usize, size: usize) -> *mut c_void {
    aligned(setup, align, size).unwrap_or_else(|| {
        prim::set_errno(libc::ENOMEM);
        ptr::null_mut()
    })
}

/// `posix_memalign(out, align, size)`: 0 and `*out` a block aligned to `align`; `EINVAL`
/// when `align` is not a power of two multiple of `sizeof(void *)`; `ENOMEM` when there is
/// no room. On failure `*out` is not written. `errno` is not changed.
///
/// # Safety
/// `out` is valid for a write of one pointer.
#[cfg_attr(not(feature = "tsan"), unsafe(no_mangle))]
#[cfg_attr(feature = "tsan", unsafe(export_name = "memalloc_preload_posix_memalign"))]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    let setup = setup();
    count(setup, Call::PosixMemalign);
    if !align.is_power_of_two() || !align.is_multiple_of(size_of::<*mut c_void>()) {
        count_failure(setup);
        return libc::EINVAL;
    }
    match aligned(setup, align, size) {
        Some(p) => {
            // SAFETY: the caller passes a writable out-pointer.
            unsafe { *out = p };
            0
        }
        None => libc::ENOMEM,
    }
}

/// `aligned_alloc(align, size)`: a block aligned to `align`; NULL with `errno = EINVAL`
/// when `align` is not a power of two (0 included, as glibc 2.38 and later), `ENOMEM` when
/// there is no room. `size` need not be a multiple of `align`.
#[cfg_attr(not(feature = "tsan"), unsafe(no_mangle))]
#[cfg_attr(feature = "tsan", unsafe(export_name = "memalloc_preload_aligned_alloc"))]
pub extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    let setup = setup();
    count(setup, Call::AlignedAlloc);
    if !align.is_power_of_two() {
        return fail(setup, libc::EINVAL);
    }
    aligned_or_enomem(setup, align, size)
}

/// `memalign(align, size)`: a block aligned to `align` rounded up to a power of two; NULL
/// with `errno = EINVAL` when `align` is above `SIZE_MAX / 2 + 1`, `ENOMEM` when there is
/// no room.
#[cfg_attr(not(feature = "tsan"), unsafe(no_mangle))]
#[cfg_attr(feature = "tsan", unsafe(export_name = "memalloc_preload_memalign"))]
pub extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    let setup = setup();
    count(setup, Call::Memalign);
    if align > usize::MAX / 2 + 1 {
        return fail(setup, libc::EINVAL);
    }
    aligned_or_enomem(setup, align.max(1).next_power_of_two(), size)
}

/// `valloc(size)`: a block aligned to the page size.
#[cfg_attr(not(feature = "tsan"), unsafe(no_mangle))]
#[cfg_attr(feature = "tsan", unsafe(export_name = "memalloc_preload_valloc"))]
pub extern "C" fn valloc(size: usize) -> *mut c_void {
    let setup = setup();
    count(setup, Call::Valloc);
    aligned_or_enomem(setup, setup.page, size)
}

/// `pvalloc(size)`: a page-aligned block of `size` rounded up to whole pages (at least
/// one); NULL with `errno = ENOMEM` when the rounding overflows or there is no room.
#[cfg_attr(not(feature = "tsan"), unsafe(no_mangle))]
#[cfg_attr(feature = "tsan", unsafe(export_name = "memalloc_preload_pvalloc"))]
pub extern "C" fn pvalloc(size: usize) -> *mut c_void {
    let setup = setup();
    count(setup, Call::Pvalloc);
    match size.max(1).checked_next_multiple_of(setup.page) {
        Some(rounded) => aligned_or_enomem(setup, setup.page, rounded),
        None => fail(setup, libc::ENOMEM),
    }
}

/// `malloc_usable_size(ptr)`: the bytes the block can hold (a small block's class size,
/// a large block's size rounded up to 16); 0 for NULL. A pointer that is not a live block
/// prints one line and aborts.
///
/// # Safety
/// `ptr` is NULL or a live block from this library.
#[cfg_attr(not(feature = "tsan"), unsafe(no_mangle))]
#[cfg_attr(feature = "tsan", unsafe(export_name = "memalloc_preload_malloc_usable_size"))]
pub unsafe extern "C" fn malloc_usable_size(ptr: *mut c_void) -> usize {
    if ptr.is_null() {
        return 0;
    }
    let setup = setup();
    count(setup, Call::UsableSize);
    match find(setup, "malloc_usable_size", ptr) {
        Found::Small { class } => class_size(class),
        Found::Large { size } => usable(size.max(1)),
    }
}
