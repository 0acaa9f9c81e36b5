//! The heap: one large reserved region of real memory whose offsets a memalloc
//! [`MemoryAllocator`] manages, behind one [`Lock`]; its start, fork handlers, and the
//! exit summary.
//!
//! - **Region.** One `mmap` of 64 GiB (`PROT_READ | PROT_WRITE`, private, anonymous,
//!   `MAP_NORESERVE`; smaller sizes are tried if that is refused), aligned to 1 GiB (or to
//!   its size, if smaller) so that an offset aligned to `a` is an address aligned to `a`
//!   for every alignment up to that. Pages cost nothing until touched.
//! - **Placement.** The core, with `min_alignment(16)` and the policy of `MEMALLOC_POLICY`,
//!   hands out offsets; its live table (`size_of`) is how `free` learns a block's size and
//!   how a bad pointer is recognised. `malloc(n)` asks for `max(n, 1)` units; the usable
//!   size is that rounded up to 16.
//! - **Release.** Chunks left without live bytes are given back with `madvise`
//!   (`release.rs`).
//! - **Start.** Lazily, on the first call, which may come before `main` (from the dynamic
//!   loader or a constructor), or from the library's own constructor, whichever is first.
//!   The state is an `Option` in a `static` (no allocation to initialise it); the first
//!   caller fills it under the lock. Starting allocates only from the metadata heap.
//!   Afterwards, outside the lock, the panic hook and the `pthread_atfork` handlers are
//!   installed once (registering may itself call `malloc`).
//! - **Fork.** The prepare handler takes the heap lock, then the metadata lock; the parent
//!   and child handlers release them. Registered at the first call, ours are the last
//!   prepare handlers to run and the first parent and child handlers, so other libraries'
//!   handlers may use `malloc`.
//! - **Exit.** A destructor (`.fini_array`) prints the `MEMALLOC_STATS` summary and flushes
//!   the trace.

use core::fmt::Write;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

use memalloc_core::{Error, MemoryAllocator, Options, Policy};

use crate::config::Config;
use crate::diag::{self, StackText};
use crate::lock::{Lock, LockGuard};
use crate::meta;
use crate::release::Release;
use crate::trace::{Field, Trace};

/// malloc's alignment: every block starts at a multiple of it and spans a multiple of it.
pub(crate) const MIN_ALIGN: usize = 16;
/// The region alignment asked for (1 GiB), or the region size if smaller.
const REGION_ALIGN: usize = 1 << 30;
/// Region sizes tried in turn (as powers of two): 64 GiB down to 64 MiB.
const REGION_SHIFTS: [u32; 6] = [36, 34, 32, 30, 28, 26];

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

/// Why a pointer given to `free`, `realloc` or `malloc_usable_size` is not a block.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BadPointer {
    /// Not inside the heap region.
    Foreign,
    /// Inside the region, but no live allocation starts there (never allocated, already
    /// freed, or inside a block).
    NotLive,
}

/// The heap's state; one per process, in [`HEAP`].
pub(crate) struct Heap {
    /// The region `[base, base + capacity)`; offsets in the core are relative to `base`.
    base: usize,
    capacity: usize,
    /// `base` is a multiple of this power of two: the largest alignment that can be served.
    base_align: usize,
    policy: Policy,
    core: MemoryAllocator,
    release: Release,
    trace: Option<Trace>,
    /// `MEMALLOC_STATS=1`: where the summary goes.
    stats: Option<diag::SummaryOut>,
    /// Calls per [`Call`].
    calls: [u64; CALL_NAMES.len()],
    /// Allocating calls that returned NULL (out of memory or bad arguments).
    failed: u64,
    /// Bytes requested by live allocations (`malloc(0)` counts 1), and its peak.
    in_use: usize,
    peak_in_use: usize,
    /// The largest request served: the machine's RAM plus swap. The region is reserved
    /// without backing (`MAP_NORESERVE`), so without this limit a request that glibc's
    /// `mmap` would see refused (Linux's default overcommit heuristic refuses one mapping
    /// larger than RAM plus swap) would succeed here, and fail later, when touched.
    max_request: usize,
}

/// The heap; `None` until the first call.
static HEAP: Lock<Option<Heap>> = Lock::new(None);
/// Whether the panic hook was installed.
static HOOKED: AtomicBool = AtomicBool::new(false);
/// Whether the fork handlers were registered.
static FORK_HANDLERS: AtomicBool = AtomicBool::new(false);

/// The heap, locked; dereferences to [`Heap`]. Dropping it puts back the `errno` that the
/// program had when [`heap`] was called: the work inside (starting, `madvise`, writing
/// the trace) may change `errno`, and a call that succeeds must not. A call that fails
/// sets its `errno` after dropping the guard.
pub(crate) struct HeapGuard {
    guard: LockGuard<'static, Option<Heap>>,
    errno: libc::c_int,
}

impl Drop for HeapGuard {
    fn drop(&mut self) {
        diag::set_errno(self.errno);
    }
}

impl Deref for HeapGuard {
    type Target = Heap;

    fn deref(&self) -> &Heap {
        match &*self.guard {
            Some(heap) => heap,
            None => unreachable!("a HeapGuard is only made for a started heap"),
        }
    }
}

impl DerefMut for HeapGuard {
    fn deref_mut(&mut self) -> &mut Heap {
        match &mut *self.guard {
            Some(heap) => heap,
            None => unreachable!("a HeapGuard is only made for a started heap"),
        }
    }
}

impl HeapGuard {
    /// Reports a bad pointer given to `func` and aborts: the trace is flushed, the lock
    /// released (a SIGABRT handler may call malloc), then one line goes to stderr.
    pub(crate) fn bad_pointer(mut self, func: &str, ptr: *mut libc::c_void, why: BadPointer) -> ! {
        if let Some(trace) = &mut self.trace {
            trace.flush();
        }
        drop(self);
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
}

/// Locks the heap, starting it first if this is the first call.
pub(crate) fn heap() -> HeapGuard {
    let errno = diag::errno();
    let guard = HEAP.lock();
    if guard.is_some() {
        return HeapGuard { guard, errno };
    }
    drop(guard);
    start();
    HeapGuard { guard: HEAP.lock(), errno }
}

/// Starts the heap (if no other thread did) and installs the process-wide hooks once.
fn start() {
    if !HOOKED.swap(true, Ordering::AcqRel) {
        diag::install_panic_hook();
    }
    {
        let mut guard = HEAP.lock();
        if guard.is_none() {
            *guard = Some(Heap::new(Config::from_env()));
        }
    }
    if !FORK_HANDLERS.swap(true, Ordering::AcqRel) {
        // SAFETY: the handlers are plain functions that live as long as the process (this
        // library is never unloaded: LD_PRELOAD objects stay). pthread_atfork may call
        // malloc, which is why no lock is held here.
        let rc = unsafe { libc::pthread_atfork(Some(before_fork), Some(after_fork_parent), Some(after_fork_child)) };
        if rc != 0 {
            diag::fatal(format_args!("pthread_atfork failed ({rc})"));
        }
    }
}

/// Reserves the region: `(base, capacity, base_align)`.
fn reserve() -> (usize, usize, usize) {
    for shift in REGION_SHIFTS {
        let Some(capacity) = 1usize.checked_shl(shift) else { continue };
        let align = capacity.min(REGION_ALIGN);
        let Some(len) = capacity.checked_add(align) else { continue };
        // SAFETY: an anonymous private mapping at an address of the kernel's choice.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            continue;
        }
        let start = (p as usize).next_multiple_of(align);
        let head = start - p as usize;
        let tail = len - head - capacity;
        // SAFETY: both ranges are parts of the mapping just made, outside the region kept.
        unsafe {
            if head > 0 {
                libc::munmap(p, head);
            }
            if tail > 0 {
                libc::munmap((start + capacity) as *mut libc::c_void, tail);
            }
        }
        return (start, capacity, align);
    }
    diag::fatal(format_args!("cannot reserve a heap region (mmap refused 64 MiB)"))
}

/// Total RAM plus swap, in bytes (`usize::MAX` if the kernel does not say).
fn ram_and_swap() -> usize {
    // SAFETY: sysinfo is plain data, valid when zeroed; the call fills it.
    let mut info: libc::sysinfo = unsafe { core::mem::zeroed() };
    // SAFETY: `info` is a valid out-pointer.
    if unsafe { libc::sysinfo(&mut info) } != 0 {
        return usize::MAX;
    }
    let unit = (info.mem_unit as usize).max(1);
    (info.totalram as usize).saturating_add(info.totalswap as usize).saturating_mul(unit)
}

/// The usable size of a block of `units` (> 0) requested bytes.
pub(crate) fn usable(units: usize) -> usize {
    units.next_multiple_of(MIN_ALIGN)
}

impl Heap {
    fn new(config: Config) -> Heap {
        let (base, capacity, base_align) = reserve();
        let options = Options::new(capacity).policy(config.policy).min_alignment(MIN_ALIGN);
        let core = match MemoryAllocator::with_options(options) {
            Ok(core) => core,
            Err(e) => diag::fatal(format_args!("cannot create the allocator: {e}")),
        };
        Heap {
            base,
            capacity,
            base_align,
            policy: config.policy,
            core,
            release: Release::new(base, capacity, meta::page_size()),
            trace: config.trace.and_then(Trace::open),
            stats: config.stats.then(diag::SummaryOut::save),
            calls: [0; CALL_NAMES.len()],
            failed: 0,
            in_use: 0,
            peak_in_use: 0,
            max_request: ram_and_swap(),
        }
    }

    /// Counts a call.
    pub(crate) fn count(&mut self, call: Call) {
        self.calls[call as usize] += 1;
    }

    /// Counts a call that returned NULL.
    pub(crate) fn count_failure(&mut self) {
        self.failed += 1;
    }

    /// The address of offset `off`.
    pub(crate) fn ptr(&self, off: usize) -> *mut libc::c_void {
        (self.base + off) as *mut libc::c_void
    }

    /// Allocates `size` bytes (0 counts as 1) at a multiple of `align` (a power of two);
    /// zeroes the usable size if `zero`. Returns the offset, or `None` when there is no
    /// room (the failure is counted).
    pub(crate) fn allocate(&mut self, size: usize, align: usize, zero: bool) -> Option<usize> {
        let units = size.max(1);
        let placed = if units > self.max_request {
            Err(Error::OutOfMemory)
        } else if align <= MIN_ALIGN {
            self.core.allocate(units)
        } else if align <= self.base_align {
            self.core.allocate_aligned(units, align)
        } else {
            Err(Error::OutOfMemory)
        };
        let Ok(off) = placed else {
            self.failed += 1;
            return None;
        };
        let usable = usable(units);
        if zero {
            self.release.zero(off, usable);
        }
        self.release.add(off, usable);
        self.in_use += units;
        self.peak_in_use = self.peak_in_use.max(self.in_use);
        Some(off)
    }

    /// The live allocation at `ptr` (not NULL): its offset and requested size.
    pub(crate) fn find(&self, ptr: *mut libc::c_void) -> Result<(usize, usize), BadPointer> {
        let addr = ptr as usize;
        if addr < self.base || addr - self.base >= self.capacity {
            return Err(BadPointer::Foreign);
        }
        let off = addr - self.base;
        self.core.size_of(off).map(|size| (off, size)).map_err(|_| BadPointer::NotLive)
    }

    /// Frees the live allocation `(off, size)` found by [`Heap::find`].
    pub(crate) fn free(&mut self, off: usize, size: usize) {
        if let Err(e) = self.core.free(off, size) {
            diag::fatal(format_args!("internal error: freeing a live block failed: {e}"));
        }
        self.release.remove(off, usable(size));
        self.in_use -= size;
        self.release.maybe_flush();
    }

    /// Resizes the live allocation `(off, old)` to `new` (> 0) bytes, moving the contents
    /// if it moves. Returns the new offset, or `None` when there is no room (the old block
    /// is unchanged; the failure is counted).
    pub(crate) fn reallocate(&mut self, off: usize, old: usize, new: usize) -> Option<usize> {
        let resized =
            if new > self.max_request { Err(Error::OutOfMemory) } else { self.core.reallocate(off, old, new) };
        let Ok(new_off) = resized else {
            self.failed += 1;
            return None;
        };
        let (old_usable, new_usable) = (usable(old), usable(new));
        if new_off == off {
            if new_usable > old_usable {
                self.release.add(off + old_usable, new_usable - old_usable);
            } else if new_usable < old_usable {
                self.release.remove(off + new_usable, old_usable - new_usable);
            }
        } else {
            self.release.add(new_off, new_usable);
            // SAFETY: both blocks lie in the region; the core chose the new one while the
            // old one was still held, so they do not overlap, and the heap lock keeps
            // every other thread from reusing the old one before the copy is done.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    self.ptr(off).cast::<u8>(),
                    self.ptr(new_off).cast::<u8>(),
                    old_usable.min(new_usable),
                )
            };
            self.release.remove(off, old_usable);
        }
        self.in_use = self.in_use - old + new;
        self.peak_in_use = self.peak_in_use.max(self.in_use);
        self.release.maybe_flush();
        Some(new_off)
    }

    /// Records a call in the trace, if tracing.
    pub(crate) fn trace(&mut self, op: u8, fields: &[Field]) {
        if let Some(trace) = &mut self.trace {
            trace.record(op, fields);
        }
    }

    /// The `MEMALLOC_STATS` summary: four lines, written to `fd` with one write.
    fn print_summary(&self, fd: libc::c_int) {
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        let mut text = StackText::<2048>::new();
        let _ = write!(text, "memalloc[{pid}]: policy {}; calls:", self.policy);
        for (i, (name, n)) in CALL_NAMES.iter().zip(self.calls).enumerate() {
            let _ = write!(text, "{} {name} {n}", if i == 0 { "" } else { "," });
        }
        let _ = writeln!(text, "; {} failed", self.failed);
        let stats = self.core.stats();
        let _ = writeln!(
            text,
            "memalloc[{pid}]: in use now {} B in {} blocks; peak in use {} B",
            stats.allocated, stats.allocations, self.peak_in_use
        );
        // SAFETY: rusage is plain data, valid when zeroed; getrusage fills it.
        let mut usage: libc::rusage = unsafe { core::mem::zeroed() };
        // SAFETY: `usage` is a valid out-pointer.
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        let _ = writeln!(
            text,
            "memalloc[{pid}]: mapped now {} B, peak mapped {} B; returned to the system {} B; metadata {} B; \
             peak RSS {} KiB",
            self.release.mapped_bytes(),
            self.release.peak_mapped_bytes(),
            self.release.released_bytes(),
            meta::mapped_bytes(),
            usage.ru_maxrss
        );
        // Free space below the top of the heap: above it lies the untouched rest of the
        // region, which would make every ratio near 0 (the core's one definition).
        let f = self.core.fragmentation();
        let _ = writeln!(
            text,
            "memalloc[{pid}]: heap top {} B; free below it {} B in {} blocks, largest {} B; fragmentation {:.3}",
            f.top,
            f.free,
            f.holes,
            f.largest,
            f.ratio()
        );
        diag::write_all(fd, text.as_bytes());
    }
}

/// `pthread_atfork` prepare: take every lock (heap, then metadata) so that the child gets
/// consistent structures; mark the fork point in the trace.
extern "C" fn before_fork() {
    let errno = diag::errno();
    HEAP.lock_raw();
    meta::lock_for_fork();
    // SAFETY: this thread holds the heap lock, until the parent or child handler runs.
    if let Some(heap) = unsafe { HEAP.value_while_held() }
        && let Some(trace) = &mut heap.trace
    {
        // Written now, so that nothing buffered is lost if the parent then calls `exec`
        // (which runs no exit handler), and so that the child inherits an empty buffer.
        trace.record(b'F', &[]);
        trace.flush();
    }
    diag::set_errno(errno);
}

/// `pthread_atfork` parent: release the locks taken by [`before_fork`].
extern "C" fn after_fork_parent() {
    // SAFETY: before_fork took both locks in this thread, and no guard exists for them.
    unsafe {
        meta::unlock_after_fork();
        HEAP.unlock_raw();
    }
}

/// `pthread_atfork` child: the child's trace starts its own block; release the locks.
extern "C" fn after_fork_child() {
    // SAFETY: before_fork took the heap lock in the thread that forked, which is this
    // child's only thread.
    if let Some(heap) = unsafe { HEAP.value_while_held() }
        && let Some(trace) = &mut heap.trace
    {
        trace.after_fork_in_child();
    }
    // SAFETY: as above, both locks are held by this thread with no guard.
    unsafe {
        meta::unlock_after_fork();
        HEAP.unlock_raw();
    }
}

/// Runs when the library is loaded: start the heap now if no call did yet, so that the
/// environment is read at a well-defined point.
extern "C" fn on_load() {
    drop(heap());
}

/// Runs at exit (after `atexit` handlers): the summary, then the trace's last block.
extern "C" fn on_exit() {
    let mut guard = HEAP.lock();
    if let Some(heap) = &mut *guard {
        if let Some(out) = &heap.stats {
            heap.print_summary(out.fd());
        }
        if let Some(trace) = &mut heap.trace {
            trace.finish();
        }
    }
}

#[used]
#[unsafe(link_section = ".init_array")]
static ON_LOAD: extern "C" fn() = on_load;

#[used]
#[unsafe(link_section = ".fini_array")]
static ON_EXIT: extern "C" fn() = on_exit;
