//! Thread caches: per thread, per size class, a bounded list of free small blocks, so that
//! most `malloc` and `free` calls of small sizes take no lock (glibc's tcache is the
//! model).
//!
//! - `malloc` pops the class's list; an empty list is refilled with half its limit of
//!   blocks from the thread's arena, under its lock, in one go.
//! - `free` pushes the block on the freeing thread's list, whichever thread allocated it;
//!   a list over its limit gives half its blocks back to their arenas, in runs of blocks of
//!   one arena, without a lock: each run is pushed on the arena's *returned* stack of its
//!   class, a lock-free stack of runs (mimalloc's delayed-free lists are the model). A
//!   refill takes the whole stack first, and only when it is empty the arena's lock and
//!   its slabs. So blocks that one thread allocates and another frees (a producer and its
//!   consumers) go round without a lock and without touching their slabs. A stack holds at
//!   most [`RETURNED_MAX`] lists' worth; past that, runs go back to their slabs under the
//!   arena's lock, so that a class nobody allocates any more gives its slabs back.
//! - A thread's cache goes back when the thread exits: a `pthread` key's destructor,
//!   registered at the thread's first small call, gives every list back. Until it is
//!   registered (glibc may call `calloc` while registering) and after it ran (other
//!   destructors may still call `malloc`), the thread's calls go straight to its arena.
//!
//! A cache is a thread-local variable that starts as zero bytes (`tls.rs`), without a
//! destructor, so it costs no allocation and no registration with Rust's runtime.

use core::ffi::c_void;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::arena;
use crate::prim;
use crate::region::MAX_ARENAS;
use crate::setup::{Setup, setup_if_started};
use crate::small::CLASSES;

/// A thread's cache's life.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum State {
    /// No small call yet (0: a thread's cache starts as zero bytes).
    New = 0,
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

/// A thread's cache. All zero bytes is a new thread's cache.
#[repr(C)]
struct ThreadCache {
    state: State,
    /// The thread's arena plus one (0 until its first call that needs one).
    arena: usize,
    bins: [Bin; CLASSES],
}

crate::tls::zeroed_thread_local! {
    /// The calling thread's cache.
    fn cache() -> *mut ThreadCache = "memalloc_preload_thread_cache";
}

/// The arena the next thread gets.
static NEXT_ARENA: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` on the calling thread's cache. `f` must not call back into the allocator
/// (that would make a second reference to the cache).
#[inline(always)]
fn with<R>(f: impl FnOnce(&mut ThreadCache) -> R) -> R {
    let cache = cache();
    // SAFETY: the cache is this thread's own, valid for the thread's life (zero bytes or a
    // cache written by this thread: a valid `ThreadCache`); `with` is never nested (no `f`
    // calls into the allocator), so this is the only reference to it. (A signal handler
    // that calls `malloc` while its thread is inside `malloc` is outside the C contract.)
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

/// An arena's free blocks of one class that threads gave back without its lock: a stack
/// of runs linked through the blocks' first words. Runs are pushed with a
/// compare-and-swap and the stack is only ever emptied whole (a swap), so a stale head
/// cannot be popped twice (no ABA). `count` is a rough count (pushes that race with an
/// emptying may be missed) that only bounds the stack.
struct Returned {
    head: AtomicUsize,
    count: AtomicU32,
}

impl Returned {
    /// Empties the stack whole: its list of blocks, linked and 0-terminated (0 if empty),
    /// now the calling thread's.
    fn take_all(&self) -> usize {
        let first = self.head.swap(0, Ordering::Acquire);
        self.count.store(0, Ordering::Relaxed);
        first
    }
}

static RETURNED: [[Returned; CLASSES]; MAX_ARENAS] =
    [const { [const { Returned { head: AtomicUsize::new(0), count: AtomicU32::new(0) } }; CLASSES] }; MAX_ARENAS];

/// The most blocks a returned stack holds, in lists' worth ([`limit`]).
const RETURNED_MAX: u32 = 16;

/// Pushes the run `first..=last` of `n` free blocks of `class` (linked, all of arena `i`)
/// on the arena's returned stack; `false` (nothing done) when the stack is full.
fn push_returned(i: usize, class: usize, first: usize, last: usize, n: u32) -> bool {
    let stack = &RETURNED[i][class];
    if stack.count.load(Ordering::Relaxed) + n > RETURNED_MAX * limit(class) {
        return false;
    }
    stack.count.fetch_add(n, Ordering::Relaxed);
    let mut head = stack.head.load(Ordering::Relaxed);
    loop {
        // SAFETY: `last` is a free block this thread holds; its first word is the link.
        unsafe { *(last as *mut usize) = head };
        match stack.head.compare_exchange_weak(head, first, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(now) => head = now,
        }
    }
}

/// Empties arena `i`'s returned stack of `class`: the list's first block and length (at
/// most about [`RETURNED_MAX`] lists; a bin may hold more than its limit until its next
/// overflow).
fn pop_returned(i: usize, class: usize) -> Option<(usize, u32)> {
    let stack = &RETURNED[i][class];
    if stack.head.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let first = stack.take_all();
    if first == 0 {
        return None;
    }
    let (mut last, mut n) = (first, 1);
    // SAFETY: the stack's blocks are free and, once swapped out, this thread's alone; the
    // Acquire swap makes their links (written before each Release push) visible.
    unsafe {
        while *(last as *const usize) != 0 {
            last = *(last as *const usize);
            n += 1;
        }
    }
    Some((first, n))
}

/// The calling thread's arena, given round robin at its first call.
pub(crate) fn arena_index(setup: &Setup) -> usize {
    with(|c| {
        if c.arena == 0 {
            c.arena = NEXT_ARENA.fetch_add(1, Ordering::Relaxed) % setup.window.arenas + 1;
        }
        c.arena - 1
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

/// A free block of `class` for `malloc` (still marked free), or `None` when there
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
    let list = match pop_returned(arena_index(setup), class) {
        Some(list) => list,
        // A new slab may need metadata, which may have run short (see `meta.rs`).
        None if !arena::metadata_ready(setup) => return None,
        None => take_blocks(setup, class, (limit(class) / 2).max(1) as usize)?,
    };
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

/// Takes the small block at `addr` of `class`, just freed (marked free), into the
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
        Some(list) => give_back(setup, list, class),
        // A thread's first small call may be a `free` (a consumer that never allocates).
        None if register(setup) => put(setup, addr, class),
        None => give_back_one(setup, addr),
    }
}

/// Gives the blocks of the 0-terminated `list`, all of `class`, back to their arenas: each
/// run of one arena's blocks onto its returned stack, or to its slabs when that is full.
fn give_back(setup: &Setup, list: usize, class: usize) {
    for_each_run(setup, list, |i, first, last, n| {
        if !push_returned(i, class, first, last, n) {
            end_run(last);
            give_to_slabs(setup, i, first);
        }
    });
}

/// Cuts the 0-terminated `list` of free blocks this thread holds into runs of blocks of
/// one arena and calls `f(arena, first, last, length)` on each, in order. A run's last
/// block still links to the next run when `f` gets it: `f` may relink it.
fn for_each_run(setup: &Setup, mut list: usize, mut f: impl FnMut(usize, usize, usize, u32)) {
    let window = setup.window;
    // Every slab lies in the window, so every block has an arena.
    let owner = |block: usize| window.locate(block).map_or(usize::MAX, |(_, i)| i);
    while list != 0 {
        let (first, i) = (list, owner(list));
        let (mut last, mut n) = (first, 1);
        // SAFETY: `list` is a run of free blocks this thread holds, linked through their
        // first words.
        unsafe {
            loop {
                list = *(last as *const usize);
                if list == 0 || owner(list) != i {
                    break;
                }
                last = list;
                n += 1;
            }
        }
        f(i, first, last, n);
    }
}

/// Ends a run at its block `last` (a free block this thread holds).
fn end_run(last: usize) {
    // SAFETY: the block is free and this thread's; its first word is the link.
    unsafe { *(last as *mut usize) = 0 };
}

/// Gives the 0-terminated run `list` of arena `i`'s free blocks back to their slabs, under
/// the arena's lock.
fn give_to_slabs(setup: &Setup, i: usize, mut list: usize) {
    let Some(mut arena) = arena::lock_started(i) else { return };
    while list != 0 {
        let block = list;
        // SAFETY: `list` is a run of free blocks this thread holds, linked through their
        // first words.
        list = unsafe { *(block as *const usize) };
        arena.give_block(setup.window.base, block);
    }
}

/// Gives one free small block back to its slab.
fn give_back_one(setup: &Setup, addr: usize) {
    end_run(addr);
    if let Some((_, i)) = setup.window.locate(addr) {
        give_to_slabs(setup, i, addr);
    }
}

/// Gives every block this thread's cache holds, and every arena's returned stacks, back
/// to their slabs (slabs left empty go back to their arenas' policies): for when the
/// address space runs short, so that the arenas can give back what lies above their heap
/// tops.
pub(crate) fn give_back_everything(setup: &Setup) {
    let to_slabs = |list| {
        for_each_run(setup, list, |i, first, last, _| {
            end_run(last);
            give_to_slabs(setup, i, first);
        })
    };
    take_bins().into_iter().for_each(to_slabs);
    for stacks in RETURNED.iter().take(setup.window.arenas) {
        for stack in stacks {
            to_slabs(stack.take_all());
        }
    }
}

/// Empties the calling thread's bins: their lists, by class.
fn take_bins() -> [usize; CLASSES] {
    with(|c| {
        let lists = c.bins.map(|bin| bin.head);
        c.bins = [Bin { head: 0, count: 0 }; CLASSES];
        lists
    })
}

/// The destructor of the threads' exit key: the exiting thread's cache goes back.
pub(crate) unsafe extern "C" fn thread_exit(_: *mut c_void) {
    let Some(setup) = setup_if_started() else { return };
    let errno = prim::errno();
    with(|c| c.state = State::Gone);
    for (class, list) in take_bins().into_iter().enumerate() {
        give_back(setup, list, class);
    }
    if setup.stats.is_some() {
        crate::summary::add_up();
    }
    prim::set_errno(errno);
}
