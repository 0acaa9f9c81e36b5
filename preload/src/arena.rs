//! Arenas: the back end. Each arena is a memalloc core allocator (the policy of
//! `MEMALLOC_POLICY`) over its own span of the window, with its own lock, chunk counters
//! (`chunks.rs`), mapped part (`region.rs`) and slab lists (`small.rs`). A thread uses the
//! arena it was given at its first call (round robin); a block goes back to the arena whose
//! span holds it, whoever frees it.
//!
//! Offsets here are window offsets (the trace's addresses); the core of arena `i` sees
//! them less `i * span`.
//!
//! An arena starts at its first use. Its chunk counters are published in [`TABLES`], so
//! that `free` can tell a small block from a large one without the lock.

use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use memalloc_core::{MemoryAllocator, Options};

use crate::chunks::{self, CHUNK, Chunks};
use crate::diag;
use crate::lock::{Lock, LockGuard};
use crate::meta;
use crate::prim;
use crate::region::{MAX_ARENAS, Stepper};
use crate::setup::{MIN_ALIGN, Setup, usable};
use crate::small::SlabLists;

/// Large blocks of at least this many bytes are page-aligned in the fast mode, so that
/// `realloc` can move their pages with `mremap` instead of copying them.
const MOVE_PAGES_MIN: usize = 1 << 20;

/// One arena's state.
pub(crate) struct Arena {
    /// The window offset of the arena's first byte.
    start: usize,
    core: MemoryAllocator,
    pub(crate) chunks: Chunks,
    stepper: Stepper,
    pub(crate) slabs: SlabLists,
}

/// The arenas; `None` until first used.
static ARENAS: [Lock<Option<Arena>>; MAX_ARENAS] = [const { Lock::new(None) }; MAX_ARENAS];
/// Each started arena's chunk counters (null before it started).
static TABLES: [AtomicPtr<AtomicU32>; MAX_ARENAS] = [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_ARENAS];

/// An arena, locked; dereferences to [`Arena`]. Dropping it puts back the `errno` the
/// program had when it was locked: the work inside (`mmap`, `madvise`) may change it, and
/// a call that succeeds must not. A call that fails sets its `errno` after dropping it.
pub(crate) struct ArenaGuard {
    guard: LockGuard<'static, Option<Arena>>,
    errno: libc::c_int,
}

impl Drop for ArenaGuard {
    fn drop(&mut self) {
        prim::set_errno(self.errno);
    }
}

impl Deref for ArenaGuard {
    type Target = Arena;

    fn deref(&self) -> &Arena {
        match &*self.guard {
            Some(arena) => arena,
            None => unreachable!("an ArenaGuard is only made for a started arena"),
        }
    }
}

impl DerefMut for ArenaGuard {
    fn deref_mut(&mut self) -> &mut Arena {
        match &mut *self.guard {
            Some(arena) => arena,
            None => unreachable!("an ArenaGuard is only made for a started arena"),
        }
    }
}

/// Locks arena `i`, starting it if it never was; arena 0 when `i` cannot start (its
/// counters cannot be mapped: the address space may be capped); `None` when neither can.
pub(crate) fn lock(setup: &Setup, i: usize) -> Option<ArenaGuard> {
    let errno = prim::errno();
    let mut guard = ARENAS[i].lock();
    if guard.is_none() {
        match Arena::new(setup, i) {
            Some(arena) => *guard = Some(arena),
            None if i != 0 => {
                drop(guard);
                return lock(setup, 0);
            }
            None => return None,
        }
    }
    Some(ArenaGuard { guard, errno })
}

/// Runs `f` on arena `first` (the calling thread's); when it finds no room there, on every
/// other started arena in turn: the first result. An arena's span grows in steps that may
/// fail (a capped address space) while another arena's mapped span has room; every block
/// and slab records its arena by address, so its free finds it wherever it was placed.
pub(crate) fn with_room<T>(setup: &Setup, first: usize, mut f: impl FnMut(&mut Arena) -> Option<T>) -> Option<T> {
    if let Some(found) = lock(setup, first).and_then(|mut arena| f(&mut arena)) {
        return Some(found);
    }
    (0..setup.window.arenas).filter(|&i| i != first).find_map(|i| lock_started(i).and_then(|mut arena| f(&mut arena)))
}

/// Whether an allocating call may go on: the metadata is whole (see `meta.rs`) or can be
/// made whole again, if need be after the cached small blocks went back to their slabs
/// and the arenas gave back the address space they hold above their heap tops. Called
/// with no arena lock held.
#[inline]
pub(crate) fn metadata_ready(setup: &Setup) -> bool {
    #[cold]
    fn recover(setup: &Setup) -> bool {
        if meta::recover() {
            return true;
        }
        // Free blocks waiting in caches keep their slabs, which may lie at a heap top.
        crate::cache::give_back_everything(setup);
        trim_all(setup) && meta::recover()
    }
    !meta::short() || recover(setup)
}

/// [`Arena::trim`] on every started arena; whether any address space went back.
pub(crate) fn trim_all(setup: &Setup) -> bool {
    let mut trimmed = false;
    for i in 0..setup.window.arenas {
        if let Some(mut arena) = lock_started(i) {
            trimmed |= arena.trim();
        }
    }
    trimmed
}

/// Locks arena `i` if it was ever started (a pointer into a span no arena used is no
/// block).
pub(crate) fn lock_started(i: usize) -> Option<ArenaGuard> {
    let errno = prim::errno();
    let guard = ARENAS[i].lock();
    guard.is_some().then_some(ArenaGuard { guard, errno })
}

/// Whether window offset `off`, in arena `i`, lies in a slab; without the lock.
#[inline]
pub(crate) fn in_slab(setup: &Setup, i: usize, off: usize) -> bool {
    let table = TABLES[i].load(Ordering::Acquire);
    // SAFETY: a non-null table is arena `i`'s, and `off - i * span` lies inside its span.
    !table.is_null() && unsafe { chunks::is_slab(table, off & (setup.window.span - 1)) }
}

/// Locks every arena for `fork`, in index order, except one the calling thread holds
/// (it forks from a signal handler that interrupted it); returns the mask of those taken.
pub(crate) fn lock_all_for_fork() -> u32 {
    let mut taken = 0;
    for (i, arena) in ARENAS.iter().enumerate() {
        if arena.lock_for_fork() {
            taken |= 1 << i;
        }
    }
    taken
}

/// Unlocks the arenas [`lock_all_for_fork`] took.
///
/// # Safety
/// `taken` is what `lock_all_for_fork` returned in this thread (in a child: in the thread
/// that forked), and the locks were not released since.
pub(crate) unsafe fn unlock_all_after_fork(taken: u32) {
    for (i, arena) in ARENAS.iter().enumerate() {
        if taken & (1 << i) != 0 {
            // SAFETY: forwarded from the caller.
            unsafe { arena.unlock_raw() };
        }
    }
}

/// Calls `f` on every started arena, each locked in turn (for the exit summary).
pub(crate) fn for_each_started(mut f: impl FnMut(&Arena)) {
    for arena in &ARENAS {
        if let Some(arena) = &*arena.lock() {
            f(arena);
        }
    }
}

impl Arena {
    fn new(setup: &Setup, i: usize) -> Option<Arena> {
        let window = setup.window;
        let start = i * window.span;
        let options = Options::new(window.span).policy(setup.policy).min_alignment(MIN_ALIGN);
        let core = match MemoryAllocator::with_options(options) {
            Ok(core) => core,
            Err(e) => diag::fatal(format_args!("cannot create the allocator: {e}")),
        };
        let chunks = Chunks::new(window.addr(start), window.span, setup.page)?;
        TABLES[i].store(chunks.table().cast_mut(), Ordering::Release);
        Some(Arena {
            start,
            core,
            chunks,
            stepper: Stepper::new(window.addr(start), window.span, window.stepped),
            slabs: SlabLists::new(),
        })
    }

    /// Places `units` bytes at a multiple of `align` in the core and makes sure the block
    /// is mapped: the block's offset in the arena, or `None` (nothing changed).
    fn place(&mut self, units: usize, align: usize) -> Option<usize> {
        let placed =
            if align <= MIN_ALIGN { self.core.allocate(units) } else { self.core.allocate_aligned(units, align) };
        let rel = placed.ok()?;
        if !self.stepper.cover(rel + usable(units)) {
            let _ = self.core.free(rel, units);
            return None;
        }
        Some(rel)
    }

    /// Allocates a large block of `size` bytes (0 counts as 1) at a multiple of `align`
    /// (a power of two); zeroes its usable size if `zero`. Its window offset, or `None`.
    pub(crate) fn allocate(&mut self, setup: &Setup, size: usize, align: usize, zero: bool) -> Option<usize> {
        let units = size.max(1);
        if units > setup.max_request || align > setup.window.align {
            return None;
        }
        let align = if setup.front && units >= MOVE_PAGES_MIN { align.max(setup.page) } else { align };
        let rel = self.place(units, align)?;
        let usable = usable(units);
        if zero {
            self.chunks.zero(rel, usable);
        }
        self.chunks.add(rel, usable);
        Some(self.start + rel)
    }

    /// The requested size of the live large block at window offset `off`, if there is one.
    pub(crate) fn size_of(&self, off: usize) -> Option<usize> {
        self.core.size_of(off - self.start).ok()
    }

    /// Frees the live large block at `off`: the size it had, or `None` when no live
    /// block starts there (nothing changes).
    pub(crate) fn free_at(&mut self, off: usize) -> Option<usize> {
        let rel = off - self.start;
        let size = self.core.free_at(rel).ok()?;
        self.chunks.remove(rel, usable(size));
        self.chunks.maybe_flush();
        Some(size)
    }

    /// Resizes the live large block `(off, old)` to `new` (> 0) bytes, moving the contents
    /// if it moves. The new window offset, or `None` when there is no room (the old block
    /// is unchanged).
    pub(crate) fn reallocate(&mut self, setup: &Setup, off: usize, old: usize, new: usize) -> Option<usize> {
        if new > setup.max_request {
            return None;
        }
        let rel = off - self.start;
        let new_rel = self.core.reallocate(rel, old, new).ok()?;
        let (old_usable, new_usable) = (usable(old), usable(new));
        if !self.stepper.cover(new_rel + new_usable) {
            // Back to where it was: the old place is free (or still the block's).
            if new_rel == rel {
                let _ = self.core.reallocate(rel, new, old);
            } else {
                let _ = self.core.free(new_rel, new);
                let _ = self.core.allocate_at(rel, old);
            }
            return None;
        }
        if new_rel == rel {
            if new_usable > old_usable {
                self.chunks.add(rel + old_usable, new_usable - old_usable);
            } else if new_usable < old_usable {
                self.chunks.remove(rel + new_usable, old_usable - new_usable);
            }
        } else {
            self.chunks.add(new_rel, new_usable);
            self.move_contents(setup, rel, new_rel, old_usable.min(new_usable));
            self.chunks.remove(rel, old_usable);
        }
        self.chunks.maybe_flush();
        Some(self.start + new_rel)
    }

    /// Moves `len` bytes from arena offset `from` to `to` (distinct blocks): whole pages by
    /// `mremap` when both are page-aligned and `len` is large, the rest by copying.
    fn move_contents(&mut self, setup: &Setup, from: usize, to: usize, len: usize) {
        let (src, dst) = (setup.window.addr(self.start + from), setup.window.addr(self.start + to));
        let mut done = 0;
        if len >= MOVE_PAGES_MIN && src % setup.page == 0 && dst % setup.page == 0 {
            let pages = len / setup.page * setup.page;
            // SAFETY: both ranges are page-aligned parts of this arena's mapped span: the
            // source is the old block (freed in the core, not yet reusable: the lock is
            // held), the destination the new block, which nobody uses yet; they do not
            // overlap (the core placed the new block while the old one was live).
            if unsafe { prim::move_pages(src, pages, dst) } {
                // SAFETY: the source pages were moved away; the hole is refilled with zero
                // pages at once, so the span stays mapped.
                if !unsafe { prim::map_over(src, pages) } {
                    diag::fatal(format_args!("cannot map the heap again after mremap (errno {})", prim::errno()));
                }
                self.chunks.mark_zeroed(from, pages);
                done = pages;
            }
        }
        // SAFETY: as above, the rest of both blocks lies in the mapped span, and they do
        // not overlap.
        unsafe { core::ptr::copy_nonoverlapping((src + done) as *const u8, (dst + done) as *mut u8, len - done) };
    }

    /// A fresh 64 KiB chunk for a slab (aligned to its size): its window offset, counted
    /// live and marked a slab; `None` when there is no room.
    pub(crate) fn take_chunk(&mut self) -> Option<usize> {
        let rel = self.place(CHUNK, CHUNK)?;
        self.chunks.add(rel, CHUNK);
        self.chunks.set_slab(rel, true);
        Some(self.start + rel)
    }

    /// Gives back a slab's chunk taken with [`Arena::take_chunk`].
    pub(crate) fn give_chunk(&mut self, off: usize) {
        let rel = off - self.start;
        self.chunks.set_slab(rel, false);
        if self.free_at(off) != Some(CHUNK) {
            diag::fatal(format_args!("internal error: a slab's chunk was not live"));
        }
    }

    /// The core allocator (for the exit summary).
    pub(crate) fn core(&self) -> &MemoryAllocator {
        &self.core
    }

    /// Gives back the address space of the span above the heap top (free, mapped in an
    /// earlier step): a program whose address space is capped may need it for anything
    /// else, the metadata's reserve first. Whether any went back.
    pub(crate) fn trim(&mut self) -> bool {
        let top = self.core.fragmentation().top;
        let Some((start, len)) = self.stepper.trim(top) else { return false };
        // The unmapped chunks held no live byte; mapped again, they are zero pages.
        self.chunks.mark_zeroed(start, len);
        true
    }

    /// Bytes of the span mapped.
    pub(crate) fn mapped_span(&self) -> usize {
        self.stepper.mapped()
    }
}
