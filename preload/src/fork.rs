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
//! - Registered at the first call, ours are the last prepare handlers to run and the first
//!   parent and child handlers, so other libraries' handlers may use `malloc`.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::arena;
use crate::diag;
use crate::meta;
use crate::prim;
use crate::setup::TRACE;

/// The arenas the prepare handler took (a mask), and whether it took the trace and the
/// metadata locks.
static ARENAS_TAKEN: AtomicU32 = AtomicU32::new(0);
static TRACE_TAKEN: AtomicBool = AtomicBool::new(false);
static META_TAKEN: AtomicBool = AtomicBool::new(false);

/// Registers the handlers (once, at start).
pub(crate) fn install() {
    if !prim::at_fork(before_fork, after_fork_parent, after_fork_child) {
        diag::fatal(format_args!("pthread_atfork failed"));
    }
}

/// `pthread_atfork` prepare: take every lock; mark the fork point in the trace.
extern "C" fn before_fork() {
    let errno = prim::errno();
    prim::stdio_lock();
    ARENAS_TAKEN.store(arena::lock_all_for_fork(), Ordering::Relaxed);
    let trace = TRACE.lock_for_fork();
    if trace {
        // SAFETY: this thread holds the trace lock, until the parent or child handler runs.
        if let Some(trace) = unsafe { TRACE.value_while_held() } {
            // Written now, so that nothing buffered is lost if the parent then calls
            // `exec` (which runs no exit handler), and so that the child inherits an
            // empty buffer.
            trace.record(b'F', &[]);
            trace.flush();
        }
    }
    TRACE_TAKEN.store(trace, Ordering::Relaxed);
    META_TAKEN.store(meta::lock_for_fork(), Ordering::Relaxed);
    prim::set_errno(errno);
}

/// Releases what [`before_fork`] took (but stdio's lock).
fn unlock_all() {
    // SAFETY: before_fork took these locks in this thread (in a child: in the thread that
    // forked, which is this one), without guards; the masks say which.
    unsafe {
        if META_TAKEN.load(Ordering::Relaxed) {
            meta::unlock_after_fork();
        }
        if TRACE_TAKEN.load(Ordering::Relaxed) {
            TRACE.unlock_raw();
        }
        arena::unlock_all_after_fork(ARENAS_TAKEN.load(Ordering::Relaxed));
    }
}

/// `pthread_atfork` parent: release the locks.
extern "C" fn after_fork_parent() {
    unlock_all();
    prim::stdio_unlock();
}

/// `pthread_atfork` child: the child's trace starts its own block; release the locks.
extern "C" fn after_fork_child() {
    if TRACE_TAKEN.load(Ordering::Relaxed) {
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
