//! `MEMALLOC_STATS=1`: call counters, kept only when asked for, and the four-line summary
//! printed at exit, with the trace's last block.
//!
//! Each thread counts in its own counters and adds them to the process's every
//! [`BATCH`] calls, when it exits (the thread cache's destructor) and at exit: atomic
//! counters shared by all threads, updated on every call, made a `malloc`/`free` pair
//! twice as slow with two threads (the cache line went from core to core). So in the fast
//! mode the peak in use is the peak of what was added up (within [`BATCH`] calls per
//! thread of the true one), and a thread that never made a small call and is still running
//! at exit has up to [`BATCH`] calls uncounted. The exact mode adds up after every call:
//! its figures are exact.

use core::cell::UnsafeCell;
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use memalloc_core::Fragmentation;

use crate::arena;
use crate::diag::StackText;
use crate::meta;
use crate::prim;
use crate::setup::{Setup, TRACE, setup_if_started};

/// The exported functions, for the call counters.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Call {
    Malloc,
    Free,
    Calloc,
    Realloc,
    ReallocArray,
    PosixMemalign,
    AlignedAlloc,
    Memalign,
    Valloc,
    Pvalloc,
    UsableSize,
}

/// The names of [`Call`]'s variants, in order.
const CALL_NAMES: [&str; 11] = [
    "malloc",
    "free",
    "calloc",
    "realloc",
    "reallocarray",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
    "valloc",
    "pvalloc",
    "malloc_usable_size",
];

static CALLS: [AtomicU64; CALL_NAMES.len()] = [const { AtomicU64::new(0) }; CALL_NAMES.len()];
/// Allocating calls that returned NULL (out of memory or bad arguments).
static FAILED: AtomicU64 = AtomicU64::new(0);
/// Live blocks, their usable bytes, and the peak of those bytes.
static LIVE_BLOCKS: AtomicUsize = AtomicUsize::new(0);
static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK_IN_USE: AtomicUsize = AtomicUsize::new(0);

/// Calls a thread counts before adding its counters to the process's, in the fast mode.
const BATCH: u32 = 256;

/// A thread's counters since it last added them up.
struct Local {
    calls: [u64; CALL_NAMES.len()],
    failed: u64,
    /// Blocks and usable bytes handed out less those given back.
    blocks: isize,
    bytes: isize,
    /// Calls counted since the last adding up.
    pending: u32,
}

impl Local {
    const ZERO: Local = Local { calls: [0; CALL_NAMES.len()], failed: 0, blocks: 0, bytes: 0, pending: 0 };
}

thread_local! {
    static LOCAL: UnsafeCell<Local> = const { UnsafeCell::new(Local::ZERO) };
}

/// Runs `f` on the calling thread's counters (`f` does not call back into the allocator).
fn with_local<R>(f: impl FnOnce(&mut Local) -> R) -> R {
    let local = LOCAL.with(UnsafeCell::get);
    // SAFETY: the counters are this thread's own and `with_local` is never nested, so this
    // is the only reference to them.
    f(unsafe { &mut *local })
}

/// Counts a call.
#[inline]
pub(crate) fn count(setup: &Setup, call: Call) {
    if setup.stats.is_some() {
        let batch = if setup.front { BATCH } else { 1 };
        let full = with_local(|local| {
            local.calls[call as usize] += 1;
            local.pending += 1;
            local.pending >= batch
        });
        if full {
            add_up();
        }
    }
}

/// Counts a call that returned NULL.
pub(crate) fn count_failure(setup: &Setup) {
    if setup.stats.is_some() {
        with_local(|local| local.failed += 1);
        if !setup.front {
            add_up();
        }
    }
}

/// Counts a block of `usable` bytes handed out.
#[inline]
pub(crate) fn count_live(setup: &Setup, usable: usize) {
    if setup.stats.is_some() {
        with_local(|local| {
            local.blocks += 1;
            local.bytes += usable as isize;
        });
        if !setup.front {
            add_up();
        }
    }
}

/// Counts a block of `usable` bytes given back.
#[inline]
pub(crate) fn count_freed(setup: &Setup, usable: usize) {
    if setup.stats.is_some() {
        with_local(|local| {
            local.blocks -= 1;
            local.bytes -= usable as isize;
        });
        if !setup.front {
            add_up();
        }
    }
}

/// Adds the calling thread's counters to the process's (when it exits, and every
/// [`BATCH`] calls).
#[cold]
pub(crate) fn add_up() {
    let local = with_local(|local| core::mem::replace(local, Local::ZERO));
    for (total, n) in CALLS.iter().zip(local.calls) {
        if n != 0 {
            total.fetch_add(n, Relaxed);
        }
    }
    FAILED.fetch_add(local.failed, Relaxed);
    LIVE_BLOCKS.fetch_add(local.blocks as usize, Relaxed);
    let now = IN_USE.fetch_add(local.bytes as usize, Relaxed).wrapping_add(local.bytes as usize);
    PEAK_IN_USE.fetch_max(now, Relaxed);
}

/// The summary: four lines, written to `fd` with one write.
fn print_summary(setup: &Setup, fd: libc::c_int) {
    let (pid, _) = prim::pid_and_ppid();
    let mut text = StackText::<2048>::new();
    let _ = write!(
        text,
        "memalloc[{pid}]: policy {}; mode {}, {} arena(s); calls:",
        setup.policy,
        setup.mode(),
        setup.window.arenas
    );
    for (i, (name, n)) in CALL_NAMES.iter().zip(&CALLS).enumerate() {
        let _ = write!(text, "{} {name} {}", if i == 0 { "" } else { "," }, n.load(Relaxed));
    }
    let _ = writeln!(text, "; {} failed", FAILED.load(Relaxed));
    let _ = writeln!(
        text,
        "memalloc[{pid}]: in use now {} B in {} blocks; peak in use {} B",
        IN_USE.load(Relaxed),
        LIVE_BLOCKS.load(Relaxed),
        PEAK_IN_USE.load(Relaxed)
    );
    // Free space below each arena's heap top (above it lies the untouched rest of the
    // span, which would make every ratio near 0: the core's one definition), summed.
    let (mut mapped, mut peak_mapped, mut returned, mut spans) = (0, 0, 0, 0);
    let mut f = Fragmentation { top: 0, free: 0, holes: 0, largest: 0 };
    arena::for_each_started(|arena| {
        mapped += arena.chunks.mapped_bytes();
        peak_mapped += arena.chunks.peak_mapped_bytes();
        returned += arena.chunks.released_bytes();
        spans += arena.mapped_span();
        let g = arena.core().fragmentation();
        f.top += g.top;
        f.free += g.free;
        f.holes += g.holes;
        f.largest = f.largest.max(g.largest);
    });
    let _ = writeln!(
        text,
        "memalloc[{pid}]: mapped now {mapped} B, peak mapped {peak_mapped} B; returned to the system {returned} B; \
         address space {spans} B; metadata {} B; peak RSS {} KiB",
        meta::mapped_bytes(),
        prim::peak_rss_kib()
    );
    let _ = writeln!(
        text,
        "memalloc[{pid}]: heap top {} B; free below it {} B in {} blocks, largest {} B; fragmentation {:.3}",
        f.top,
        f.free,
        f.holes,
        f.largest,
        f.ratio()
    );
    prim::write_all(fd, text.as_bytes());
}

/// Runs at exit (after `atexit` handlers): the summary, then the trace's last block.
extern "C" fn on_exit() {
    let Some(setup) = setup_if_started() else { return };
    if let Some(out) = &setup.stats {
        add_up();
        print_summary(setup, out.fd());
    }
    if let Some(trace) = &mut *TRACE.lock() {
        trace.finish();
    }
}

#[used]
#[unsafe(link_section = ".fini_array")]
static ON_EXIT: extern "C" fn() = on_exit;
