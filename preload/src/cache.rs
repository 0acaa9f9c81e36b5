//! Thread caches: per thread, per size class, a bounded list of free small blocks, so that
//! most `malloc` and `free` calls of small sizes take no lock (glibc's tcache is the
//! model).
//!
//! - `malloc` pops the class's list; an empty list is refilled with half its limit of
//!   blocks from the thread's arena, under its lock, in one go.
//! - `free` pushes the block on the freeing thread's list, whichever thread allocated it;
//!   a list over its limit gives half its blocks back to their slabs, each under its owning
//!   arena's lock (taken once per run of blocks of one arena). A block freed by another
//!   thread than its owner's thus goes back in a batch, without a lock per block.
//! - A thread's cache goes back when the thread exits: a `pthread` key's destructor,
//!   registered at the thread's first small call, gives every list back. Until it is
//!   registered (glibc may call `calloc` while registering) and after it ran (other
//!   destructors may still call `malloc`), the thread's calls go straight to its arena.
//!
//! A cache is a `thread_local` without a destructor (plain data), so it costs no
//! allocation and no registration with Rust's runtime.

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::arena::{self, ArenaGuard};
use crate::prim;
use crate::setup::{Setup, setup_if_started};
use crate::small::{CLASSES, owner};

/// A thread's cache's life.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// No small call yet.
    New,
    /// Registering the exit destructor: calls bypass the cache.
    Registering,
    /// In use.
    Active,
    /// The thread is exiting (its cache went back), or no key could be had.
    Gone,
}

/// A list of free blocks of one class, through their first words.
#[derive(Clone, Copy)]
struct Bin {
    head: usize,
    count: u32,
}

struct ThreadCache {
    state: State,
    /// The thread's arena (`usize::MAX` until its first call that needs one).
    arena: usize,
    bins: [Bin; CLASSES],
}

thread_local! {
    static CACHE: UnsafeCell<ThreadCache> = const {
        UnsafeCell::new(ThreadCache { state: State::New, arena: usize::MAX, bins: [Bin { head: 0, count: 0 }; CLASSES] })
    };
}

/// The arena the next thread gets.
static NEXT_ARENA: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` on the calling thread's cache. `f` must not call back into the allocator
/// (that would make a second reference to the cache).
#[inline(always)]
fn with<R>(f: impl FnOnce(&mut ThreadCache) -> R) -> R {
    let cache = CACHE.with(UnsafeCell::get);
    // SAFETY: the cache is this thread's own; `with` is never nested (no `f` calls into
    // the allocator), so this is the only reference to it. (A signal handler that calls
    // `malloc` while its thread is inside `malloc` is outside the C contract.)
    f(unsafe { &mut *cache })
}

/// The most blocks of class `c` a thread keeps: 16 KiB worth, between 4 and 64.
#[inline]
fn limit(c: usize) -> u32 {
    LIMITS[c]
}

static LIMITS: [u32; CLASSES] = {
    let mut table = [0; CLASSES];
    let mut c = 0;
    while c < CLASSES {
        let n = 16 * 1024 / crate::small::size_of_class(c);
        table[c] = if n < 4 {
            4
        } else if n > 64 {
            64
        } else {
            n as u32
        };
        c += 1;
    }
    table
};

/// The calling thread's arena, given round robin at its first call.
pub(crate) fn arena_index(setup: &Setup) -> usize {
    with(|c| {
        if c.arena == usize::MAX {
            c.arena = NEXT_ARENA.fetch_add(1, Ordering::Relaxed) % setup.window.arenas;
        }
        c.arena
    })
}

/// Registers the calling thread's exit destructor, at its first small call; whether the
/// cache is usable.
fn register(setup: &Setup) -> bool {
    let state = with(|c| {
        let state = c.state;
        if state == State::New {
            c.state = State::Registering;
        }
        state
    });
    match state {
        State::Active => true,
        State::New => {
            // The value only has to be non-null for the destructor to run.
            let ok = setup.exit_key.is_some_and(|key| prim::set_thread_value(key, core::ptr::dangling_mut::<c_void>()));
            with(|c| c.state = if ok { State::Active } else { State::Gone });
            ok
        }
        State::Registering | State::Gone => false,
    }
}

/// A free block of `class` for `malloc` (its live bit still clear), or `None` when there
/// is no room.
#[inline]
pub(crate) fn take(setup: &Setup, class: usize) -> Option<usize> {
    let popped = with(|c| {
        if c.state != State::Active {
            return None;
        }
        let bin = &mut c.bins[class];
        if bin.head == 0 {
            return Some(0);
        }
        let block = bin.head;
        // SAFETY: a block on a cache list is free and owned by this thread; its first word
        // is the link.
        bin.head = unsafe { *(block as *const usize) };
        bin.count -= 1;
        Some(block)
    });
    match popped {
        Some(0) => refill(setup, class),
        Some(block) => Some(block),
        None if register(setup) => take(setup, class),
        None => take_direct(setup, class),
    }
}

#[cold]
/// Refills the calling thread's empty list of `class` from its arena; one block of them.
fn refill(setup: &Setup, class: usize) -> Option<usize> {
    // A new slab may need metadata, which may have run short (see `meta.rs`).
    if !arena::metadata_ready(setup) {
        return None;
    }
    let want = (limit(class) / 2).max(1) as usize;
    let list = take_blocks(setup, class, want)?;
    let block = list.0;
    // SAFETY: the blocks on `list` were just taken for this thread; the first word of each
    // links to the next.
    let rest = unsafe { *(block as *const usize) };
    with(|c| c.bins[class] = Bin { head: rest, count: list.1 - 1 });
    Some(block)
}

/// One block of `class` straight from the calling thread's arena.
fn take_direct(setup: &Setup, class: usize) -> Option<usize> {
    if !arena::metadata_ready(setup) {
        return None;
    }
    take_blocks(setup, class, 1).map(|list| list.0)
}

/// Up to `want` blocks of `class` from the calling thread's arena (or, when it has no
/// room, another): the list's first block and length; `None` when no arena has room.
fn take_blocks(setup: &Setup, class: usize, want: usize) -> Option<(usize, u32)> {
    arena::with_room(setup, arena_index(setup), |arena| {
        let mut list = (0, 0);
        arena.take_blocks(setup.window.base, class, want, &mut list);
        (list.0 != 0).then_some(list)
    })
}

/// Takes the small block at `addr` of `class`, just freed (its live bit cleared), into the
/// calling thread's cache, or back to its slab.
#[inline]
pub(crate) fn put(setup: &Setup, addr: usize, class: usize) {
    let overflow = with(|c| {
        if c.state != State::Active {
            return None;
        }
        let bin = &mut c.bins[class];
        // SAFETY: the block is free and now this thread's; its first word holds the link.
        unsafe { *(addr as *mut usize) = bin.head };
        bin.head = addr;
        bin.count += 1;
        if bin.count <= limit(class) {
            return Some(0);
        }
        // Keep the most recently freed half (at the head, likely in the processor's
        // cache) and detach the rest.
        let keep = limit(class) / 2;
        let mut last_kept = bin.head;
        for _ in 1..keep {
            // SAFETY: as above, each block's first word links to the next one on the list.
            last_kept = unsafe { *(last_kept as *const usize) };
        }
        // SAFETY: as above; the kept run now ends at `last_kept`.
        let detached = unsafe { core::mem::replace(&mut *(last_kept as *mut usize), 0) };
        bin.count = keep;
        Some(detached)
    });
    match overflow {
        Some(0) => {}
        Some(list) => give_back(setup, list),
        None => give_back_one(setup, addr),
    }
}

/// Gives the blocks of the 0-terminated `list` back to their slabs.
fn give_back(setup: &Setup, mut list: usize) {
    let mut held: Option<(usize, ArenaGuard)> = None;
    while list != 0 {
        let block = list;
        // SAFETY: `list` is a run of free blocks owned by this thread, linked through their
        // first words.
        list = unsafe { *(block as *const usize) };
        let i = owner(block);
        let guard = match &mut held {
            Some((j, guard)) if *j == i => guard,
            _ => {
                held = None;
                let Some(guard) = arena::lock_started(i) else { continue };
                &mut held.insert((i, guard)).1
            }
        };
        guard.give_block(setup.window.base, block);
    }
}

/// Gives one free small block back to its slab.
fn give_back_one(setup: &Setup, addr: usize) {
    // SAFETY: a lone block: the list it starts ends here.
    unsafe { *(addr as *mut usize) = 0 };
    give_back(setup, addr);
}

/// The destructor of the threads' exit key: the exiting thread's cache goes back.
pub(crate) unsafe extern "C" fn thread_exit(_: *mut c_void) {
    let Some(setup) = setup_if_started() else { return };
    let errno = prim::errno();
    let lists = with(|c| {
        c.state = State::Gone;
        let lists = c.bins.map(|bin| bin.head);
        c.bins = [Bin { head: 0, count: 0 }; CLASSES];
        lists
    });
    for list in lists {
        give_back(setup, list);
    }
    if setup.stats.is_some() {
        crate::summary::add_up();
    }
    prim::set_errno(errno);
}
