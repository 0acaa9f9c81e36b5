//! Unit tests of the C layer, calling the `extern "C"` functions directly as C would:
//! NULL handles and out-pointers, out-parameters left alone on error, status texts, the
//! version, `ma_create_with`'s check order, `ma_walk` (collecting, stopping early,
//! re-entering the allocator from the callback) and many threads on one handle.
//!
//! Iteration counts shrink under Miri.

use std::collections::BTreeSet;
use std::ffi::{CStr, c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::BlockKind;

/// A value no successful call would write: out-parameters must still hold it after an error.
const SENTINEL: usize = 0xA5A5_A5A5;

/// An owned handle, destroyed on drop.
struct Handle(*mut ma_allocator);

impl Handle {
    fn new(capacity: usize) -> Handle {
        let raw = ma_create(capacity);
        assert!(!raw.is_null(), "ma_create({capacity}) failed");
        Handle(raw)
    }

    fn with(capacity: usize, policy: u32, min_alignment: usize) -> Handle {
        let opts = ma_options { capacity, policy, min_alignment, ..ma_options::default() };
        let mut raw = ptr::null_mut();
        // SAFETY: `opts` is a complete `ma_options` and `raw` a writable out-pointer.
        let status = unsafe { ma_create_with(&opts, &mut raw) };
        assert_eq!(status, MA_OK);
        assert!(!raw.is_null());
        Handle(raw)
    }

    fn ptr(&self) -> *mut ma_allocator {
        self.0
    }

    fn stats(&self) -> ma_stats {
        let mut stats = ma_stats::default();
        // SAFETY: the handle is live and `stats` writable.
        assert_eq!(unsafe { ma_get_stats(self.0, &mut stats) }, MA_OK);
        assert_eq!(stats.capacity, stats.allocated + stats.free + stats.padding, "{stats:?}");
        stats
    }

    /// The allocator itself, to check its invariants and compare maps.
    fn check(&self) {
        // SAFETY: the handle is live; only shared access, through its lock.
        let inner = unsafe { &*self.0 }.inner.lock();
        inner.check_invariants().unwrap_or_else(|violation| panic!("{violation}\nmap: {inner}"));
    }

    fn walk(&self) -> Vec<(usize, usize, ma_block_kind)> {
        let mut extents = Vec::new();
        // SAFETY: the handle is live; `collect` expects a `Vec<Extent>` as `ctx`, which
        // `extents` is, and outlives the call.
        let status = unsafe { ma_walk(self.0, Some(collect), ptr::from_mut(&mut extents).cast()) };
        assert_eq!(status, MA_OK);
        extents
    }

    fn alloc(&self, size: usize) -> Result<usize, ma_status> {
        let mut addr = SENTINEL;
        // SAFETY: the handle is live and `addr` writable.
        match unsafe { ma_alloc(self.0, size, &mut addr) } {
            MA_OK => Ok(addr),
            status => {
                assert_eq!(addr, SENTINEL, "out_addr written on error {status}");
                Err(status)
            }
        }
    }

    fn free(&self, addr: usize, size: usize) -> ma_status {
        // SAFETY: the handle is live.
        unsafe { ma_free(self.0, addr, size) }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from `ma_create`/`ma_create_with` and is not used again.
        unsafe { ma_destroy(self.0) };
    }
}

type Extent = (usize, usize, ma_block_kind);

/// `ma_walk` callback: appends each extent to the `Vec<Extent>` behind `ctx`.
unsafe extern "C" fn collect(ctx: *mut c_void, start: usize, size: usize, kind: ma_block_kind) -> c_int {
    // SAFETY: every caller passes a live, exclusive `Vec<Extent>` as `ctx`.
    let extents = unsafe { &mut *ctx.cast::<Vec<Extent>>() };
    extents.push((start, size, kind));
    0
}

/// The map and counters, to show that a call changed nothing.
fn state(h: &Handle) -> (Vec<Extent>, ma_stats) {
    (h.walk(), h.stats())
}

fn text(s: *const std::ffi::c_char) -> &'static str {
    assert!(!s.is_null());
    // SAFETY: the library returns pointers to static NUL-terminated strings.
    unsafe { CStr::from_ptr(s) }.to_str().expect("ASCII text")
}

// ---------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------

#[test]
fn status_constants_are_the_error_codes() {
    assert_eq!(MA_OK, 0);
    let pairs = [
        (MA_ERR_NULL_POINTER, Error::NullPointer),
        (MA_ERR_INVALID_SIZE, Error::InvalidSize),
        (MA_ERR_OUT_OF_MEMORY, Error::OutOfMemory),
        (MA_ERR_INVALID_ADDRESS, Error::InvalidAddress),
        (MA_ERR_NOT_ALLOCATED, Error::NotAllocated),
        (MA_ERR_SIZE_MISMATCH, Error::SizeMismatch),
        (MA_ERR_INVALID_ALIGNMENT, Error::InvalidAlignment),
        (MA_ERR_INVALID_ARGUMENT, Error::InvalidArgument),
        (MA_ERR_INTERNAL, Error::Internal),
    ];
    for (i, (status, error)) in pairs.into_iter().enumerate() {
        assert_eq!(status, i as ma_status + 1);
        assert_eq!(status, error.code());
    }
    assert_eq!(ma_block_kind::MA_BLOCK_FREE as i32, 0);
    assert_eq!(ma_block_kind::MA_BLOCK_ALLOCATED as i32, 1);
    assert_eq!(ma_block_kind::MA_BLOCK_PADDING as i32, 2);
    assert_eq!(ma_block_kind::from(BlockKind::Padding), ma_block_kind::MA_BLOCK_PADDING);
    assert_eq!(ma_policy::MA_POLICY_FIRST_FIT as u32, 0);
    assert_eq!(ma_policy::MA_POLICY_BEST_FIT as u32, 1);
    assert_eq!(ma_policy::MA_POLICY_TLSF as u32, 2);
    assert_eq!(ma_policy::MA_POLICY_BUDDY as u32, 3);
}

#[test]
fn status_str_for_every_code() {
    assert_eq!(text(ma_status_str(MA_OK)), "success");
    let mut seen = BTreeSet::new();
    for error in Error::ALL {
        let message = text(ma_status_str(error.code()));
        assert_eq!(message, error.message());
        assert!(!message.is_empty());
        assert!(seen.insert(message), "{error:?} shares its text");
    }
}

#[test]
fn status_str_for_unknown_values_is_static_text() {
    let unknown = text(ma_status_str(12345));
    assert!(!unknown.is_empty());
    assert_ne!(unknown, "success");
    assert!(Error::ALL.iter().all(|e| e.message() != unknown));
    for s in [-1, 13, 14, 100, i32::MIN, i32::MIN + 1, i32::MAX] {
        assert_eq!(text(ma_status_str(s)), unknown, "{s}");
    }
}

#[test]
fn version_is_the_crate_version() {
    let version = text(ma_version());
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let parts: Vec<&str> = version.split('.').collect();
    assert_eq!(parts.len(), 3, "{version}");
    assert!(parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())), "{version}");
    assert_eq!(ma_version(), ma_version(), "static text");
}

// ---------------------------------------------------------------------------------------
// Creation and destruction
// ---------------------------------------------------------------------------------------

#[test]
fn create_returns_null_for_capacity_zero() {
    assert!(ma_create(0).is_null());
    let h = Handle::new(1);
    assert_eq!(h.stats(), ma_stats { capacity: 1, free: 1, largest_free: 1, free_blocks: 1, ..ma_stats::default() });
    let h = Handle::new(usize::MAX);
    assert_eq!(h.stats().largest_free, usize::MAX);
}

#[test]
fn destroy_null_is_a_no_op() {
    // SAFETY: NULL is explicitly allowed.
    unsafe { ma_destroy(ptr::null_mut()) };
}

#[test]
fn options_init_sets_the_defaults_and_ignores_null() {
    let mut opts = ma_options { struct_size: 1, capacity: 7, policy: 9, min_alignment: 3 };
    // SAFETY: `opts` is writable; NULL is explicitly allowed.
    unsafe {
        ma_options_init(&mut opts);
        ma_options_init(ptr::null_mut());
    }
    assert_eq!(opts, ma_options { struct_size: size_of::<ma_options>(), capacity: 0, policy: 0, min_alignment: 1 });
}

/// `ma_create_with` on `opts`; checks that `*out` is written exactly on success.
fn create_with(opts: &ma_options) -> ma_status {
    let sentinel = ptr::dangling_mut::<ma_allocator>();
    let mut out = sentinel;
    // SAFETY: `opts` is a complete `ma_options` (struct_size never claims more), `out` writable.
    let status = unsafe { ma_create_with(opts, &mut out) };
    if status == MA_OK {
        assert!(!out.is_null() && out != sentinel);
        drop(Handle(out));
    } else {
        assert_eq!(out, sentinel, "out written on error {status}");
    }
    status
}

#[test]
fn create_with_checks_null_pointers_first() {
    let opts = ma_options { capacity: 0, policy: u32::MAX, min_alignment: 0, struct_size: 0 };
    let mut out = ptr::dangling_mut::<ma_allocator>();
    // SAFETY: NULL pointers are what is being tested; the other pointer is valid.
    unsafe {
        assert_eq!(ma_create_with(ptr::null(), &mut out), MA_ERR_NULL_POINTER);
        assert_eq!(ma_create_with(&opts, ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_create_with(ptr::null(), ptr::null_mut()), MA_ERR_NULL_POINTER);
    }
    assert_eq!(out, ptr::dangling_mut());
}

#[test]
fn create_with_check_order() {
    let good = ma_options { capacity: 100, ..ma_options::default() };
    assert_eq!(create_with(&good), MA_OK);
    // struct_size too small (0 included), before everything else.
    for struct_size in [0, 1, size_of::<ma_options>() - 1] {
        assert_eq!(create_with(&ma_options { struct_size, ..good }), MA_ERR_INVALID_ARGUMENT);
        let all_bad = ma_options { struct_size, capacity: 0, policy: u32::MAX, min_alignment: 3 };
        assert_eq!(create_with(&all_bad), MA_ERR_INVALID_ARGUMENT);
    }
    // Capacity 0, before the policy and the alignment.
    assert_eq!(create_with(&ma_options { capacity: 0, ..good }), MA_ERR_INVALID_ARGUMENT);
    assert_eq!(create_with(&ma_options { capacity: 0, min_alignment: 0, ..good }), MA_ERR_INVALID_ARGUMENT);
    // Unknown policy, before the alignment.
    for policy in [4, 5, u32::MAX] {
        assert_eq!(create_with(&ma_options { policy, ..good }), MA_ERR_INVALID_ARGUMENT, "{policy}");
        assert_eq!(create_with(&ma_options { policy, min_alignment: 3, ..good }), MA_ERR_INVALID_ARGUMENT);
    }
    // Alignment last.
    for min_alignment in [0, 3, 6, 12, usize::MAX] {
        assert_eq!(create_with(&ma_options { min_alignment, ..good }), MA_ERR_INVALID_ALIGNMENT, "{min_alignment}");
    }
    for min_alignment in [1, 2, 64, 1 << 20] {
        assert_eq!(create_with(&ma_options { min_alignment, ..good }), MA_OK, "{min_alignment}");
    }
    assert_eq!(create_with(&ma_options { policy: ma_policy::MA_POLICY_BEST_FIT as u32, ..good }), MA_OK);
}

#[test]
fn create_with_accepts_a_larger_struct_from_a_newer_caller() {
    #[repr(C)]
    struct Newer {
        base: ma_options,
        extra: u64,
    }
    let newer = Newer {
        base: ma_options { struct_size: size_of::<Newer>(), capacity: 64, ..ma_options::default() },
        extra: u64::MAX,
    };
    assert!(newer.extra != 0);
    let mut out = ptr::null_mut();
    // SAFETY: `opts` points to `size_of::<Newer>()` readable bytes, as struct_size says.
    assert_eq!(unsafe { ma_create_with(&newer.base, &mut out) }, MA_OK);
    let h = Handle(out);
    assert_eq!(h.stats().capacity, 64);
}

#[test]
fn create_with_honours_policy_and_min_alignment() {
    let h = Handle::with(100, ma_policy::MA_POLICY_BEST_FIT as u32, 1);
    // SAFETY: the handle is live.
    assert_eq!(unsafe { &*h.ptr() }.inner.lock().policy(), Policy::BestFit);
    let h = Handle::with(100, ma_policy::MA_POLICY_FIRST_FIT as u32, 16);
    assert_eq!(h.alloc(3), Ok(0));
    assert_eq!(h.alloc(1), Ok(16));
    let s = h.stats();
    // Rounding 13 + 15, and the 4-unit tail that no 16-unit footprint can use.
    assert_eq!((s.allocated, s.padding, s.free), (4, 13 + 15 + 4, 64));
    use ma_block_kind::*;
    assert_eq!(
        h.walk(),
        [
            (0, 3, MA_BLOCK_ALLOCATED),
            (3, 13, MA_BLOCK_PADDING),
            (16, 1, MA_BLOCK_ALLOCATED),
            (17, 15, MA_BLOCK_PADDING),
            (32, 64, MA_BLOCK_FREE),
            (96, 4, MA_BLOCK_PADDING)
        ]
    );
}

// ---------------------------------------------------------------------------------------
// NULL handles and out-pointers
// ---------------------------------------------------------------------------------------

/// A walk callback that must never run.
unsafe extern "C" fn never(_: *mut c_void, _: usize, _: usize, _: ma_block_kind) -> c_int {
    std::process::abort()
}

#[test]
fn null_handle_is_rejected_by_every_function() {
    let null = ptr::null_mut::<ma_allocator>();
    let mut out = SENTINEL;
    let sentinel_stats = ma_stats { capacity: 1, allocated: 2, free: 3, largest_free: 4, ..ma_stats::default() };
    let mut stats = sentinel_stats;
    // SAFETY: a NULL handle is what is being tested; every out-pointer is valid.
    unsafe {
        assert_eq!(ma_alloc(null, 1, &mut out), MA_ERR_NULL_POINTER);
        assert_eq!(ma_alloc_aligned(null, 1, 8, &mut out), MA_ERR_NULL_POINTER);
        assert_eq!(ma_free(null, 0, 1), MA_ERR_NULL_POINTER);
        assert_eq!(ma_free_at(null, 0), MA_ERR_NULL_POINTER);
        assert_eq!(ma_size_of(null, 0, &mut out), MA_ERR_NULL_POINTER);
        assert_eq!(ma_realloc(null, 0, 1, 2, &mut out), MA_ERR_NULL_POINTER);
        assert_eq!(ma_reset(null), MA_ERR_NULL_POINTER);
        assert_eq!(ma_get_stats(null, &mut stats), MA_ERR_NULL_POINTER);
        assert_eq!(ma_walk(null, Some(never), ptr::null_mut()), MA_ERR_NULL_POINTER);
        // NULL beats every other bad argument.
        assert_eq!(ma_alloc(null, 0, &mut out), MA_ERR_NULL_POINTER);
        assert_eq!(ma_alloc_aligned(null, 0, 3, &mut out), MA_ERR_NULL_POINTER);
        assert_eq!(ma_free(null, usize::MAX, 0), MA_ERR_NULL_POINTER);
        assert_eq!(ma_free_at(null, usize::MAX), MA_ERR_NULL_POINTER);
        assert_eq!(ma_realloc(null, usize::MAX, 0, 0, &mut out), MA_ERR_NULL_POINTER);
        // Both NULL.
        assert_eq!(ma_alloc(null, 1, ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_alloc_aligned(null, 1, 1, ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_size_of(null, 0, ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_realloc(null, 0, 1, 1, ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_get_stats(null, ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_walk(null, None, ptr::null_mut()), MA_ERR_NULL_POINTER);
    }
    assert_eq!(out, SENTINEL);
    assert_eq!(stats, sentinel_stats);
}

#[test]
fn null_out_pointer_is_rejected_and_changes_nothing() {
    let h = Handle::new(100);
    let a = h.alloc(10).unwrap();
    let before = state(&h);
    // SAFETY: the handle is live; NULL out-pointers are what is being tested.
    unsafe {
        assert_eq!(ma_alloc(h.ptr(), 1, ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_alloc_aligned(h.ptr(), 1, 8, ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_size_of(h.ptr(), a, ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_realloc(h.ptr(), a, 10, 20, ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_realloc(h.ptr(), a, 10, 5, ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_get_stats(h.ptr(), ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_walk(h.ptr(), None, ptr::null_mut()), MA_ERR_NULL_POINTER);
        // NULL beats the other checks.
        assert_eq!(ma_alloc(h.ptr(), 0, ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_alloc(h.ptr(), 1000, ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_alloc_aligned(h.ptr(), 1, 3, ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_alloc_aligned(h.ptr(), 0, 0, ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_size_of(h.ptr(), usize::MAX, ptr::null_mut()), MA_ERR_NULL_POINTER);
        assert_eq!(ma_realloc(h.ptr(), usize::MAX, 0, 0, ptr::null_mut()), MA_ERR_NULL_POINTER);
    }
    assert_eq!(state(&h), before);
    h.check();
}

// ---------------------------------------------------------------------------------------
// Status codes and out-parameters through the C layer
// ---------------------------------------------------------------------------------------

#[test]
fn alloc_errors_leave_out_addr_untouched() {
    let h = Handle::new(100);
    assert_eq!(h.alloc(0), Err(MA_ERR_INVALID_SIZE));
    assert_eq!(h.alloc(101), Err(MA_ERR_OUT_OF_MEMORY));
    assert_eq!(h.alloc(usize::MAX), Err(MA_ERR_OUT_OF_MEMORY));
    assert_eq!(h.alloc(100), Ok(0));
    assert_eq!(h.alloc(1), Err(MA_ERR_OUT_OF_MEMORY));
    let mut out = SENTINEL;
    // SAFETY: the handle is live and `out` writable.
    unsafe {
        assert_eq!(ma_alloc_aligned(h.ptr(), 1, 0, &mut out), MA_ERR_INVALID_ALIGNMENT);
        assert_eq!(ma_alloc_aligned(h.ptr(), 0, 3, &mut out), MA_ERR_INVALID_ALIGNMENT);
        assert_eq!(ma_alloc_aligned(h.ptr(), 0, 8, &mut out), MA_ERR_INVALID_SIZE);
        assert_eq!(ma_alloc_aligned(h.ptr(), 1, 8, &mut out), MA_ERR_OUT_OF_MEMORY);
        assert_eq!(ma_size_of(h.ptr(), 100, &mut out), MA_ERR_INVALID_ADDRESS);
        assert_eq!(ma_size_of(h.ptr(), 5, &mut out), MA_ERR_NOT_ALLOCATED);
        assert_eq!(ma_realloc(h.ptr(), 0, 100, 101, &mut out), MA_ERR_OUT_OF_MEMORY);
        assert_eq!(ma_realloc(h.ptr(), 0, 100, 0, &mut out), MA_ERR_INVALID_SIZE);
        assert_eq!(ma_realloc(h.ptr(), 0, 99, 10, &mut out), MA_ERR_SIZE_MISMATCH);
        assert_eq!(ma_realloc(h.ptr(), 1, 1, 10, &mut out), MA_ERR_NOT_ALLOCATED);
        assert_eq!(ma_realloc(h.ptr(), 100, 1, 10, &mut out), MA_ERR_INVALID_ADDRESS);
    }
    assert_eq!(out, SENTINEL);
    assert_eq!(h.stats().allocations, 1);
}

#[test]
fn free_errors_in_check_order() {
    let h = Handle::new(100);
    for (addr, size) in [(0, 20), (20, 30), (50, 50)] {
        assert_eq!(h.alloc(size), Ok(addr));
    }
    let before = state(&h);
    let cases = [
        (100, 0, MA_ERR_INVALID_ADDRESS),
        (usize::MAX, usize::MAX, MA_ERR_INVALID_ADDRESS),
        (0, 0, MA_ERR_INVALID_SIZE),
        (1, 0, MA_ERR_INVALID_SIZE),
        (50, 51, MA_ERR_INVALID_SIZE),
        (1, usize::MAX, MA_ERR_INVALID_SIZE),
        (5, 10, MA_ERR_NOT_ALLOCATED),
        (0, 21, MA_ERR_SIZE_MISMATCH),
        (20, 1, MA_ERR_SIZE_MISMATCH),
    ];
    for (addr, size, expected) in cases {
        assert_eq!(h.free(addr, size), expected, "ma_free({addr}, {size})");
        assert_eq!(state(&h), before, "ma_free({addr}, {size}) changed the state");
    }
    // SAFETY: the handle is live.
    unsafe {
        assert_eq!(ma_free_at(h.ptr(), 100), MA_ERR_INVALID_ADDRESS);
        assert_eq!(ma_free_at(h.ptr(), 21), MA_ERR_NOT_ALLOCATED);
    }
    assert_eq!(state(&h), before);
    assert_eq!(h.free(20, 30), MA_OK);
    assert_eq!(h.free(20, 30), MA_ERR_NOT_ALLOCATED, "double free");
    h.check();
}

#[test]
fn realloc_size_of_free_at_and_reset() {
    let h = Handle::with(100, ma_policy::MA_POLICY_FIRST_FIT as u32, 1);
    let a = h.alloc(20).unwrap();
    let b = h.alloc(10).unwrap();
    let mut out = SENTINEL;
    // SAFETY: the handle is live and `out` writable.
    unsafe {
        assert_eq!(ma_realloc(h.ptr(), a, 20, 10, &mut out), MA_OK);
        assert_eq!(out, a, "shrinks in place");
        assert_eq!(ma_realloc(h.ptr(), b, 10, 40, &mut out), MA_OK);
        assert_eq!(out, b, "grows in place");
        assert_eq!(ma_realloc(h.ptr(), a, 10, 15, &mut out), MA_OK);
        assert_eq!(out, a, "grows in place into the 10 units its shrinking freed");
        assert_eq!(ma_realloc(h.ptr(), a, 15, 25, &mut out), MA_OK);
        assert_eq!(out, 60, "moves: b is in the way");
        assert_eq!(ma_size_of(h.ptr(), 60, &mut out), MA_OK);
        assert_eq!(out, 25);
        assert_eq!(ma_size_of(h.ptr(), a, &mut out), MA_ERR_NOT_ALLOCATED);
        assert_eq!(out, 25);
        assert_eq!(ma_free_at(h.ptr(), b), MA_OK);
        assert_eq!(ma_free_at(h.ptr(), b), MA_ERR_NOT_ALLOCATED);
    }
    use ma_block_kind::*;
    assert_eq!(h.walk(), [(0, 60, MA_BLOCK_FREE), (60, 25, MA_BLOCK_ALLOCATED), (85, 15, MA_BLOCK_FREE)]);
    h.alloc(5).unwrap();
    // SAFETY: the handle is live.
    assert_eq!(unsafe { ma_reset(h.ptr()) }, MA_OK);
    assert_eq!(h.walk(), [(0, 100, MA_BLOCK_FREE)]);
    assert_eq!(
        h.stats(),
        ma_stats { capacity: 100, free: 100, largest_free: 100, free_blocks: 1, ..Default::default() }
    );
    h.check();
}

#[test]
fn get_stats_mirrors_the_allocator() {
    let h = Handle::new(100);
    h.alloc(10).unwrap();
    let b = h.alloc(20).unwrap();
    h.alloc(30).unwrap();
    assert_eq!(h.free(b, 20), MA_OK);
    let expected = ma_stats {
        capacity: 100,
        allocated: 40,
        free: 60,
        largest_free: 40,
        free_blocks: 2,
        allocations: 2,
        padding: 0,
    };
    assert_eq!(h.stats(), expected);
    // SAFETY: the handle is live.
    assert_eq!(ma_stats::from(unsafe { &*h.ptr() }.inner.lock().stats()), expected);
}

// ---------------------------------------------------------------------------------------
// ma_walk
// ---------------------------------------------------------------------------------------

#[test]
fn walk_reports_every_extent_in_order() {
    let h = Handle::new(100);
    assert_eq!(h.walk(), [(0, 100, ma_block_kind::MA_BLOCK_FREE)]);
    for size in [10, 20, 30] {
        h.alloc(size).unwrap();
    }
    assert_eq!(h.free(10, 20), MA_OK);
    use ma_block_kind::*;
    let extents = h.walk();
    assert_eq!(
        extents,
        [(0, 10, MA_BLOCK_ALLOCATED), (10, 20, MA_BLOCK_FREE), (30, 30, MA_BLOCK_ALLOCATED), (60, 40, MA_BLOCK_FREE)]
    );
    // SAFETY: the handle is live.
    let blocks = unsafe { &*h.ptr() }.inner.lock().blocks();
    let expected: Vec<Extent> = blocks.iter().map(|b| (b.start, b.size, b.kind.into())).collect();
    assert_eq!(extents, expected);
}

/// Context of `stop_after`: how many extents to accept, and how many were seen.
struct Stop {
    limit: usize,
    seen: usize,
}

unsafe extern "C" fn stop_after(ctx: *mut c_void, _: usize, _: usize, _: ma_block_kind) -> c_int {
    // SAFETY: every caller passes a live, exclusive `Stop` as `ctx`.
    let stop = unsafe { &mut *ctx.cast::<Stop>() };
    stop.seen += 1;
    c_int::from(stop.seen >= stop.limit)
}

#[test]
fn walk_stops_when_the_callback_returns_non_zero() {
    let h = Handle::new(100);
    for _ in 0..5 {
        h.alloc(10).unwrap();
    }
    assert_eq!(h.walk().len(), 6);
    for limit in [1, 2, 5] {
        let mut stop = Stop { limit, seen: 0 };
        // SAFETY: the handle is live; `stop_after` expects a `Stop` as `ctx`.
        let status = unsafe { ma_walk(h.ptr(), Some(stop_after), ptr::from_mut(&mut stop).cast()) };
        assert_eq!(status, MA_OK, "a stopped walk still succeeds");
        assert_eq!(stop.seen, limit);
    }
}

/// Context of `reenter`: the handle the walk runs on, and what the callback saw and did.
struct Reenter {
    handle: *mut ma_allocator,
    extents: Vec<Extent>,
    allocated: Vec<usize>,
    nested_walk: Vec<Extent>,
    statuses: Vec<ma_status>,
}

/// On every free extent: allocates one unit on the same handle and walks it again.
unsafe extern "C" fn reenter(ctx: *mut c_void, start: usize, size: usize, kind: ma_block_kind) -> c_int {
    // SAFETY: every caller passes a live, exclusive `Reenter` as `ctx`.
    let ctx = unsafe { &mut *ctx.cast::<Reenter>() };
    ctx.extents.push((start, size, kind));
    if kind == ma_block_kind::MA_BLOCK_FREE {
        let mut addr = SENTINEL;
        // SAFETY: `ctx.handle` is the live handle being walked; the walk holds no lock
        // while it calls back, and `addr` and `nested_walk` are valid for the calls.
        unsafe {
            ctx.statuses.push(ma_alloc(ctx.handle, 1, &mut addr));
            ctx.nested_walk.clear();
            ctx.statuses.push(ma_walk(ctx.handle, Some(collect), ptr::from_mut(&mut ctx.nested_walk).cast()));
        }
        ctx.allocated.push(addr);
    }
    0
}

#[test]
fn walk_callback_may_reenter_the_same_handle() {
    let h = Handle::new(100);
    for size in [10, 10, 10] {
        h.alloc(size).unwrap();
    }
    assert_eq!(h.free(10, 10), MA_OK);
    let snapshot = h.walk();
    let mut ctx = Reenter {
        handle: h.ptr(),
        extents: Vec::new(),
        allocated: Vec::new(),
        nested_walk: Vec::new(),
        statuses: Vec::new(),
    };
    // SAFETY: the handle is live; `reenter` expects a `Reenter` as `ctx`.
    let status = unsafe { ma_walk(h.ptr(), Some(reenter), ptr::from_mut(&mut ctx).cast()) };
    assert_eq!(status, MA_OK);
    assert!(ctx.statuses.iter().all(|&s| s == MA_OK), "{:?}", ctx.statuses);
    assert_eq!(ctx.extents, snapshot, "the walk shows the snapshot taken when it started");
    assert_eq!(ctx.allocated, [10, 11], "first fit inside the callback sees the earlier allocation");
    use ma_block_kind::*;
    let after = [
        (0, 10, MA_BLOCK_ALLOCATED),
        (10, 1, MA_BLOCK_ALLOCATED),
        (11, 1, MA_BLOCK_ALLOCATED),
        (12, 8, MA_BLOCK_FREE),
        (20, 10, MA_BLOCK_ALLOCATED),
        (30, 70, MA_BLOCK_FREE),
    ];
    assert_eq!(ctx.nested_walk, after, "the nested walk sees the changes");
    assert_eq!(h.walk(), after);
    h.check();
}

// ---------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------

/// The handle, shared by reference between threads.
struct Shared(*mut ma_allocator);

// SAFETY: every `ma_` function but `ma_destroy` may run on one handle from many threads
// at once (the handle guards itself with a lock); `ma_destroy` runs after the threads join.
unsafe impl Sync for Shared {}

impl Shared {
    fn get(&self) -> *mut ma_allocator {
        self.0
    }
}

/// A tiny xorshift generator: deterministic per thread, no dependencies.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn eight_threads_hammer_one_handle() {
    const THREADS: usize = 8;
    let (steps, capacity) = if cfg!(miri) { (24, 512) } else { (20_000, 1 << 14) };
    let h = Handle::new(capacity);
    let shared = Shared(h.ptr());
    // One flag per unit: set while some thread owns the unit, so an overlap is caught.
    let owned: Vec<AtomicBool> = (0..capacity).map(|_| AtomicBool::new(false)).collect();
    let claim = |addr: usize, size: usize| {
        for unit in &owned[addr..addr + size] {
            assert!(!unit.swap(true, Ordering::Relaxed), "unit handed out twice");
        }
    };
    let release = |addr: usize, size: usize| {
        for unit in &owned[addr..addr + size] {
            assert!(unit.swap(false, Ordering::Relaxed), "unit released twice");
        }
    };
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (shared, claim, release) = (&shared, &claim, &release);
            scope.spawn(move || {
                let a = shared.get();
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
                let mut live: Vec<(usize, usize)> = Vec::new();
                for _ in 0..steps {
                    let mut out = SENTINEL;
                    match rng.below(10) {
                        0..=4 if live.len() < 32 => {
                            let size = 1 + rng.below(48);
                            // SAFETY: `a` is live for the whole scope; `out` is writable.
                            match unsafe { ma_alloc(a, size, &mut out) } {
                                MA_OK => {
                                    claim(out, size);
                                    live.push((out, size));
                                }
                                status => assert_eq!((status, out), (MA_ERR_OUT_OF_MEMORY, SENTINEL)),
                            }
                        }
                        5 if !live.is_empty() => {
                            let i = rng.below(live.len());
                            let (addr, size) = live[i];
                            let new_size = 1 + rng.below(64);
                            // Released first: once the realloc returns, the old units may
                            // already belong to another thread. No one can take them before.
                            release(addr, size);
                            // SAFETY: as above.
                            match unsafe { ma_realloc(a, addr, size, new_size, &mut out) } {
                                MA_OK => {
                                    claim(out, new_size);
                                    live[i] = (out, new_size);
                                }
                                status => {
                                    assert_eq!((status, out), (MA_ERR_OUT_OF_MEMORY, SENTINEL));
                                    claim(addr, size);
                                }
                            }
                        }
                        6 if !live.is_empty() => {
                            let (addr, size) = live[rng.below(live.len())];
                            // SAFETY: as above.
                            assert_eq!(unsafe { ma_size_of(a, addr, &mut out) }, MA_OK);
                            assert_eq!(out, size);
                            let mut stats = ma_stats::default();
                            // SAFETY: as above; `stats` is writable.
                            assert_eq!(unsafe { ma_get_stats(a, &mut stats) }, MA_OK);
                            assert_eq!(stats.capacity, stats.allocated + stats.free);
                        }
                        _ if !live.is_empty() => {
                            let (addr, size) = live.swap_remove(rng.below(live.len()));
                            release(addr, size);
                            // SAFETY: as above.
                            let status =
                                unsafe { if rng.below(2) == 0 { ma_free(a, addr, size) } else { ma_free_at(a, addr) } };
                            assert_eq!(status, MA_OK);
                        }
                        _ => {}
                    }
                }
                for (addr, size) in live {
                    release(addr, size);
                    // SAFETY: as above.
                    assert_eq!(unsafe { ma_free(a, addr, size) }, MA_OK);
                }
            });
        }
    });
    h.check();
    assert_eq!(
        h.stats(),
        ma_stats { capacity, free: capacity, largest_free: capacity, free_blocks: 1, ..ma_stats::default() }
    );
    assert_eq!(h.walk(), [(0, capacity, ma_block_kind::MA_BLOCK_FREE)]);
    assert!(owned.iter().all(|unit| !unit.load(Ordering::Relaxed)));
}
