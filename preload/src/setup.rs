//! Starting the heap, and what every call needs to know about it: the window, the mode, the
//! policy, the trace.
//!
//! The heap starts lazily, on the first call, which may come before `main` (from the
//! dynamic loader or a constructor), or from the library's own constructor, whichever is
//! first. [`Setup`] lives in a `OnceLock` (a futex, no allocation): the first caller fills
//! it, others wait. Starting maps only the metadata heap's memory. Afterwards, outside the
//! lock, the panic hook and the `pthread_atfork` handlers are installed (registering may
//! itself call `malloc`, which then finds the heap started).
//!
//! **Modes.** The fast mode (the default) serves requests up to 4 KiB from slabs through
//! thread caches (`small.rs`, `cache.rs`) and spreads threads over one arena per processor
//! (at most 16). The exact mode, `MEMALLOC_FRONT=off MEMALLOC_ARENAS=1`, sends every call
//! through one arena and the policy, as a trace replays them: policy experiments measure
//! the policy. The exit summary and the trace say which mode ran.

use std::sync::OnceLock;

use memalloc_core::Policy;

use crate::cache;
use crate::config::Config;
use crate::diag::{self, SummaryOut};
use crate::fork;
use crate::lock::Lock;
use crate::prim;
use crate::region::Window;
use crate::trace::{Field, Trace};

/// malloc's alignment: every block starts at a multiple of it and spans a multiple of it.
pub(crate) const MIN_ALIGN: usize = 16;

/// The usable size of a large block of `units` (> 0) requested bytes.
pub(crate) fn usable(units: usize) -> usize {
    units.next_multiple_of(MIN_ALIGN)
}

/// What every call needs to know; fixed when the heap starts.
pub(crate) struct Setup {
    pub(crate) window: Window,
    /// Whether small requests go through slabs and thread caches.
    pub(crate) front: bool,
    pub(crate) policy: Policy,
    pub(crate) page: usize,
    /// The largest request served: the machine's RAM plus swap. The heap is mapped without
    /// backing (`MAP_NORESERVE`), so without this limit a request that glibc's `mmap` would
    /// see refused (Linux's default overcommit heuristic refuses one mapping larger than
    /// RAM plus swap) would succeed here, and fail later, when touched.
    pub(crate) max_request: usize,
    /// `MEMALLOC_STATS=1`: where the summary goes (and the counters are kept).
    pub(crate) stats: Option<SummaryOut>,
    /// Whether `MEMALLOC_TRACE` opened a trace.
    pub(crate) tracing: bool,
    /// The key whose destructor returns an exiting thread's cache.
    pub(crate) exit_key: Option<libc::pthread_key_t>,
}

impl Setup {
    /// The mode's name, for the summary and the trace.
    pub(crate) fn mode(&self) -> &'static str {
        match (self.front, self.window.arenas) {
            (false, 1) => "exact",
            (true, _) => "fast",
            (false, _) => "arenas without front end",
        }
    }
}

static SETUP: OnceLock<Setup> = OnceLock::new();
/// The trace, when tracing; its lock comes after the arenas' and before the metadata's.
pub(crate) static TRACE: Lock<Option<Trace>> = Lock::new(None);

/// The heap's setup, starting it if this is the first call.
#[inline]
pub(crate) fn setup() -> &'static Setup {
    match SETUP.get() {
        Some(setup) => setup,
        None => start(),
    }
}

/// The setup if the heap started (for exit-time work that must not start it).
pub(crate) fn setup_if_started() -> Option<&'static Setup> {
    SETUP.get()
}

/// Starts the heap (if no other thread did) and installs the process-wide hooks once.
#[cold]
fn start() -> &'static Setup {
    let errno = prim::errno();
    let mut first = false;
    let setup = SETUP.get_or_init(|| {
        first = true;
        let config = Config::from_env();
        let page = prim::page_size();
        let arenas = config.arenas.unwrap_or_else(prim::cpu_count).clamp(1, crate::region::MAX_ARENAS);
        let Some(window) = Window::choose(arenas) else {
            diag::fatal(format_args!("cannot reserve a heap region (mmap refused 64 MiB)"))
        };
        crate::small::choose_free_mark();
        let trace = config.trace.and_then(Trace::open);
        let tracing = trace.is_some();
        *TRACE.lock() = trace;
        Setup {
            window,
            // Slabs are one chunk: pages larger than a chunk leave the front end off.
            front: config.front && page <= crate::chunks::CHUNK,
            policy: config.policy,
            page,
            max_request: prim::ram_and_swap(),
            stats: config.stats.then(SummaryOut::save),
            tracing,
            exit_key: prim::thread_exit_key(cache::thread_exit),
        }
    });
    if first {
        diag::install_panic_hook();
        record_mode(setup);
        fork::install();
    }
    prim::set_errno(errno);
    setup
}

/// Writes the mode in the trace, as a comment line.
fn record_mode(setup: &Setup) {
    if let Some(trace) = &mut *TRACE.lock() {
        let mut text = diag::StackText::<128>::new();
        let _ = core::fmt::Write::write_fmt(
            &mut text,
            format_args!("memalloc mode {}, {} arena(s), policy {}", setup.mode(), setup.window.arenas, setup.policy),
        );
        trace.comment(text.as_bytes());
    }
}

/// Records a call in the trace, if tracing. `errno` is kept (a write may change it).
#[inline]
pub(crate) fn record(setup: &Setup, op: u8, fields: &[Field]) {
    if setup.tracing {
        record_now(op, fields);
    }
}

#[cold]
fn record_now(op: u8, fields: &[Field]) {
    let errno = prim::errno();
    if let Some(trace) = &mut *TRACE.lock() {
        trace.record(op, fields);
    }
    prim::set_errno(errno);
}

/// Runs when the library is loaded: start the heap now if no call did yet, so that the
/// environment is read at a well-defined point.
extern "C" fn on_load() {
    setup();
}

#[used]
#[unsafe(link_section = ".init_array")]
static ON_LOAD: extern "C" fn() = on_load;
