//! A lock that never allocates and sleeps when contended: the heap and the metadata heap
//! are guarded by one each.
//!
//! A lock inside `malloc` may not call `malloc` (parking_lot can, when a thread parks) and
//! must work before `main`, in a freshly forked child and from any thread. This one is a
//! futex word with three states (Drepper, "Futexes Are Tricky", mutex 2): 0 unlocked, 1
//! locked, 2 locked with possible sleepers. Taking a free lock is one compare-and-swap;
//! a contended lock is spun on briefly (the holder of a heap lock keeps it for well under
//! a microsecond), then the waiter sleeps in `futex(FUTEX_WAIT)` until the holder's
//! unlock wakes one sleeper. A waiter that sleeps gives its core to the holder: the spin
//! lock this replaces spun and yielded, and a preempted holder left every other thread
//! burning its time slice (35x glibc's time on a server benchmark with 2 threads). While
//! the process has one thread, the lock is taken and released with plain stores, as
//! glibc's `malloc` skips its arena lock then: taking the lock was 9% of a single-threaded
//! malloc/free loop's time in the exact mode.
//!
//! Fork safety comes from the `pthread_atfork` handlers in `fork.rs`, which take every
//! lock before `fork` and unlock them in both processes after it. Each lock remembers its
//! holder, and each thread which lock it is taking or releasing, so that a `fork` from a
//! signal handler that interrupted a holder (glibc's `tst-mallocfork2`) does not wait for
//! itself, and waits for every other thread.

use core::cell::UnsafeCell;
use core::hint::spin_loop;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering, compiler_fence};

use crate::prim::{futex_wait, futex_wake_one, single_threaded};

/// The lock word's states.
const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
/// Locked, and some thread may be asleep waiting for it: unlocking must wake one.
const CONTENDED: u32 = 2;

/// Spins (pause instructions, in doubling rounds) before a waiter goes to sleep.
const SPIN_ROUNDS: u32 = 6;

/// A value guarded by a futex lock.
pub(crate) struct Lock<T> {
    state: AtomicU32,
    /// The holder's [`thread_id`], 0 when unlocked (written by the holder only).
    holder: AtomicUsize,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands the value to one thread at a time (taking it is an Acquire
// exchange, giving it back a Release one), so sharing the lock is sharing a `T` that is
// only ever sent.
unsafe impl<T: Send> Sync for Lock<T> {}

impl<T> Lock<T> {
    /// An unlocked lock around `value`; usable in a `static`.
    pub(crate) const fn new(value: T) -> Self {
        Lock { state: AtomicU32::new(UNLOCKED), holder: AtomicUsize::new(0), value: UnsafeCell::new(value) }
    }

    /// Waits for the lock and returns a guard that unlocks it when dropped.
    pub(crate) fn lock(&self) -> LockGuard<'_, T> {
        self.lock_raw();
        LockGuard { lock: self }
    }

    /// Waits for the lock without a guard (for the `pthread_atfork` prepare handler).
    pub(crate) fn lock_raw(&self) {
        // Marked from before any attempt to take the lock until its holder is written
        // (but not while asleep, when this thread holds nothing).
        let outer = begin_change(self.id());
        self.acquire(outer);
        self.holder.store(thread_id(), Ordering::Relaxed);
        end_change(outer);
    }

    /// The lock's address, what [`changing`] holds while this thread changes it.
    fn id(&self) -> usize {
        self as *const Self as usize
    }

    /// Takes the lock for `fork`'s prepare handler, unless the calling thread holds it
    /// already (the handler runs in a signal handler that interrupted the allocator):
    /// whether it took it.
    ///
    /// The holder is written just after the lock is taken and cleared just before it is
    /// released; a thread marks the lock it is trying to take or releasing meanwhile (its
    /// [`changing`] word; not while it sleeps waiting), so a lock held while no holder is
    /// written is this thread's when its mark names the lock. Any other lock is waited for.
    /// (Only a signal landing between this thread's failed attempt and its next, while
    /// another thread is between taking the lock and writing its name, is misread.)
    pub(crate) fn lock_for_fork(&self) -> bool {
        // Nothing here takes the lock before `lock_raw` has marked it: a fork handler nested
        // in this one (a signal landing after the lock is taken, before its holder is
        // written) must see the mark.
        let holder = self.holder.load(Ordering::Relaxed);
        // SAFETY: the calling thread's own word (see `changing`).
        let marked = unsafe { *changing() } == self.id();
        let mine = self.state.load(Ordering::Relaxed) != UNLOCKED && (holder == thread_id() || (holder == 0 && marked));
        if mine {
            return false;
        }
        self.lock_raw();
        true
    }

    /// Takes the lock; `outer` is the mark to put back while asleep (see `lock_raw`).
    fn acquire(&self, outer: usize) {
        if single_threaded() && self.state.load(Ordering::Relaxed) == UNLOCKED {
            // No other thread exists to race with: a plain store takes the lock (a signal
            // handler of this thread that takes it meanwhile releases it before returning).
            // The fence keeps the guarded accesses after the store, for such a handler.
            self.state.store(LOCKED, Ordering::Relaxed);
            compiler_fence(Ordering::SeqCst);
            return;
        }
        if self.state.compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            return;
        }
        for round in 0..SPIN_ROUNDS {
            for _ in 0..1u32 << round {
                spin_loop();
            }
            if self.state.load(Ordering::Relaxed) == UNLOCKED
                && self.state.compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                return;
            }
        }
        // Mark the lock contended; whoever held it wakes a sleeper when it unlocks. Taking
        // it here as CONTENDED (not LOCKED) is conservative: this thread cannot know
        // whether others sleep, so its own unlock wakes one, which at worst finds the lock
        // free and takes it.
        while self.state.swap(CONTENDED, Ordering::Acquire) != UNLOCKED {
            end_change(outer);
            futex_wait(&self.state, CONTENDED);
            begin_change(self.id());
        }
    }

    /// Unlocks a lock taken with [`Lock::lock_raw`].
    ///
    /// # Safety
    /// The calling thread took the lock with `lock_raw` (in a forked child: the parent's
    /// thread that forked did) and holds no guard for it.
    pub(crate) unsafe fn unlock_raw(&self) {
        self.unlock();
    }

    fn unlock(&self) {
        let outer = begin_change(self.id());
        self.holder.store(0, Ordering::Relaxed);
        let was = if single_threaded() {
            // As in `acquire`: no other thread, so no read-modify-write (and no sleeper,
            // unless threads came and went: the wake below stays).
            compiler_fence(Ordering::SeqCst);
            let was = self.state.load(Ordering::Relaxed);
            self.state.store(UNLOCKED, Ordering::Relaxed);
            was
        } else {
            self.state.swap(UNLOCKED, Ordering::Release)
        };
        if was == CONTENDED {
            futex_wake_one(&self.state);
        }
        end_change(outer);
    }

    /// The guarded value, for a thread that holds the lock without a guard.
    ///
    /// # Safety
    /// The calling thread holds the lock (taken with `lock_raw`) and keeps it while the
    /// reference lives; no other reference to the value exists meanwhile.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn value_while_held(&self) -> &mut T {
        // SAFETY: the caller holds the lock, so this is the only access (see above).
        unsafe { &mut *self.value.get() }
    }
}

crate::tls::zeroed_thread_local! {
    /// The lock (its address) the calling thread is taking or releasing, 0 when none: a
    /// signal handler that interrupted it there knows the lock is its own thread's.
    fn changing() -> *mut usize = "memalloc_preload_lock_changing";
}

/// An identity of the calling thread, unique among live threads: the address of its
/// [`changing`] word (no call, unlike `pthread_self`).
#[inline(always)]
fn thread_id() -> usize {
    changing() as usize
}

/// Marks the lock `id` as being changed by this thread; returns the mark it replaces (a
/// signal handler may take a lock while its thread was changing another).
#[inline(always)]
fn begin_change(id: usize) -> usize {
    // SAFETY: the calling thread's own word; only this thread (and its signal handlers,
    // which restore it before returning) writes it.
    unsafe { core::mem::replace(&mut *changing(), id) }
}

/// Puts back the mark [`begin_change`] replaced.
#[inline(always)]
fn end_change(outer: usize) {
    // SAFETY: as in `begin_change`.
    unsafe { *changing() = outer };
}

/// Holds a [`Lock`] until dropped.
pub(crate) struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while its thread holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while its thread holds the lock, and `&mut self`
        // makes this the only reference made through it.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for LockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.unlock();
    }
}
