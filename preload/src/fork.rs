//! `fork`: every lock is taken before it and released after it in both processes, so that
//! the child (which has only the thread that forked) finds the arenas, the trace and the
//! metadata consistent. The forking thread's cache goes with it; other threads' caches are
//! lost to the child, as glibc's tcaches are.
//!
//! - **Order.** stdio's list lock first, then the arenas (in index order), the trace, the
//!   metadata. glibc's `fork` takes the stdio list lock after the prepare handlers ran;
//!   taking it first here keeps the order every other path has (a thread in `fflush`
//!   holds the list lock and waits for a `FILE` lock, whose holder may be in `realloc`
//!   waiting for an arena: glibc's `tst-malloc-fork-deadlock`, bug 19431).
//! - **From a signal handler.** A lock the forking thread already holds (the handler
//!   interrupted it inside the allocator: glibc's `tst-mallocfork2`) is not waited for;
//!   the child gets that structure as it was, as glibc's single-threaded `fork` does.
//!   Such a `fork` may land while another runs its handlers, so each prepare handler
//!   keeps what it took in a slot of its own, by nesting depth.
//! - Registered at the first call, ours are the last prepare handlers to run and the first
//!   parent and child handlers, so other libraries' handlers may use `malloc`.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::arena;
use crate::diag;
use crate::meta;
use crate::prim;
use crate::region::MAX_ARENAS;
use crate::setup::TRACE;

/// What one prepare handler took: a mask of arenas, and these two bits.
const TRACE_TAKEN: u32 = 1 << MAX_ARENAS;
const META_TAKEN: u32 = 1 << (MAX_ARENAS + 1);
const _: () = assert!(MAX_ARENAS + 2 <= 32, "the arena mask and two bits fit a u32");

/// How deeply forks nest: a `fork` in a signal handler that interrupted another `fork`'s
/// handlers runs its own handlers in between, so each prepare handler keeps what it took
/// in its own slot, which its parent or child handler reads back.
const MAX_NESTING: usize = 8;
static DEPTH: AtomicUsize = AtomicUsize::new(0);
static TAKEN: [AtomicU32; MAX_NESTING] = [const { AtomicU32::new(0) }; MAX_NESTING];

/// Registers the handlers (once, at start).
pub(crate) fn install() {
    if !prim::at_fork(before_fork, after_fork_parent, after_fork_child) {
        diag::fatal(format_args!("pthread_atfork failed"));
    }
}

/// `pthread_atfork` prepare: take every lock; mark the fork point in the trace.
extern "C" fn before_fork() {
    let errno = prim::errno();
    // The slot is claimed before any lock is taken: a handler nested in this one (a signal
    // landing from here on) uses the next slot, and one that ran before the claim has
    // given its slot back.
    let depth = DEPTH.fetch_add(1, Ordering::Relaxed);
    if depth >= MAX_NESTING {
        diag::fatal(format_args!("fork nested more than {MAX_NESTING} deep in signal handlers"));
    }
    prim::stdio_lock();
    let mut taken = arena::lock_all_for_fork();
    if TRACE.lock_for_fork() {
        taken |= TRACE_TAKEN;
        // SAFETY: this thread holds the trace lock, until the parent or child handler runs.
        if let Some(trace) = unsafe { TRACE.value_while_held() } {
            // Written now, so that nothing buffered is lost if the parent then calls
            // `exec` (which runs no exit handler), and so that the child inherits an
            // empty buffer.
            trace.record(b'F', &[]);
            trace.flush();
        }
    }
    if meta::lock_for_fork() {
        taken |= META_TAKEN;
    }
    TAKEN[depth].store(taken, Ordering::Relaxed);
    prim::set_errno(errno);
}

/// What the innermost prepare handler took (its slot stays claimed until [`unlock_all`]).
fn taken() -> u32 {
    TAKEN[DEPTH.load(Ordering::Relaxed) - 1].load(Ordering::Relaxed)
}

/// Releases what the innermost [`before_fork`] took (but stdio's lock) and gives back its
/// slot.
fn unlock_all() {
    let taken = taken();
    // SAFETY: before_fork took these locks in this thread (in a child: in the thread that
    // forked, which is this one), without guards; the mask says which.
    unsafe {
        if taken & META_TAKEN != 0 {
            meta::unlock_after_fork();
        }
        if taken & TRACE_TAKEN != 0 {
            TRACE.unlock_raw();
        }
        arena::unlock_all_after_fork(taken & (TRACE_TAKEN - 1));
    }
    DEPTH.fetch_sub(1, Ordering::Relaxed);
}

/// `pthread_atfork` parent: release the locks.
extern "C" fn after_fork_parent() {
    unlock_all();
    prim::stdio_unlock();
}

/// `pthread_atfork` child: the child's trace starts its own block; release the locks.
extern "C" fn after_fork_child() {
    if taken() & TRACE_TAKEN != 0 {
        // SAFETY: before_fork took the trace lock in the thread that forked, which is this
        // child's only thread.
        if let Some(trace) = unsafe { TRACE.value_while_held() } {
            trace.after_fork_in_child();
        }
    }
    unlock_all();
    // glibc's multi-threaded `fork` resets the list lock in the child already; resetting
    // again is harmless, and after a single-threaded `fork` it releases ours.
    prim::stdio_reset();
}
