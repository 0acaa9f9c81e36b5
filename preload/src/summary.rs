//! `MEMALLOC_STATS=1`: call counters, kept only when asked for (relaxed atomic counters,
//! shared by all threads), and the four-line summary printed at exit, with the trace's
//! last block.

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

/// Counts a call.
pub(crate) fn count(setup: &Setup, call: Call) {
    if setup.stats.is_some() {
        CALLS[call as usize].fetch_add(1, Relaxed);
    }
}

/// Counts a call that returned NULL.
pub(crate) fn count_failure(setup: &Setup) {
    if setup.stats.is_some() {
        FAILED.fetch_add(1, Relaxed);
    }
}

/// Counts a block of `usable` bytes handed out.
pub(crate) fn count_live(setup: &Setup, usable: usize) {
    if setup.stats.is_some() {
        LIVE_BLOCKS.fetch_add(1, Relaxed);
        let now = IN_USE.fetch_add(usable, Relaxed) + usable;
        PEAK_IN_USE.fetch_max(now, Relaxed);
    }
}

/// Counts a block of `usable` bytes given back.
pub(crate) fn count_freed(setup: &Setup, usable: usize) {
    if setup.stats.is_some() {
        LIVE_BLOCKS.fetch_sub(1, Relaxed);
        IN_USE.fetch_sub(usable, Relaxed);
    }
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
        print_summary(setup, out.fd());
    }
    if let Some(trace) = &mut *TRACE.lock() {
        trace.finish();
    }
}

#[used]
#[unsafe(link_section = ".fini_array")]
static ON_EXIT: extern "C" fn() = on_exit;
