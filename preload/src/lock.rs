//! A spin lock that never allocates: the heap and the metadata heap are guarded by one each.
//!
//! A lock inside `malloc` may not call `malloc` (parking_lot can, when a thread parks) and
//! must work before `main`, in a freshly forked child and from any thread. This one is an
//! `AtomicBool`: test-and-test-and-set with exponential backoff, then `sched_yield` so that
//! a waiter gives its core to the holder (the machines this runs on may have 2 cores and
//! many threads). Fork safety comes from the `pthread_atfork` handlers in `heap.rs`, which
//! take every lock before `fork` and release them in both processes after it.

use core::cell::UnsafeCell;
use core::hint::spin_loop;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// Rounds of doubling busy-waits (1, 2, 4, ... pause instructions) before yielding.
const SPIN_ROUNDS: u32 = 7;

/// A value guarded by a spin lock.
pub(crate) struct SpinLock<T> {
    /// True while some thread holds the lock.
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands the value to one thread at a time (`acquire` is an Acquire swap,
// `release` a Release store), so sharing the lock is sharing a `T` that is only ever sent.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// An unlocked lock around `value`; usable in a `static`.
    pub(crate) const fn new(value: T) -> Self {
        SpinLock { locked: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    /// Waits for the lock and returns a guard that releases it when dropped.
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        self.acquire();
        SpinGuard { lock: self }
    }

    /// Waits for the lock without a guard (for the `pthread_atfork` prepare handler).
    pub(crate) fn acquire(&self) {
        loop {
            if !self.locked.swap(true, Ordering::Acquire) {
                return;
            }
            let mut round = 0;
            while self.locked.load(Ordering::Relaxed) {
                if round < SPIN_ROUNDS {
                    for _ in 0..1u32 << round {
                        spin_loop();
                    }
                    round += 1;
                } else {
                    // SAFETY: sched_yield has no preconditions and does not allocate.
                    unsafe { libc::sched_yield() };
                }
            }
        }
    }

    /// Releases a lock taken with [`SpinLock::acquire`].
    ///
    /// # Safety
    /// The calling thread took the lock with `acquire` (in a forked child: the parent's
    /// thread that forked did) and holds no guard for it.
    pub(crate) unsafe fn release(&self) {
        self.locked.store(false, Ordering::Release);
    }

    /// The guarded value, for a thread that holds the lock without a guard.
    ///
    /// # Safety
    /// The calling thread holds the lock (taken with `acquire`) and keeps it while the
    /// reference lives; no other reference to the value exists meanwhile.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn value_while_held(&self) -> &mut T {
        // SAFETY: the caller holds the lock, so this is the only access (see above).
        unsafe { &mut *self.value.get() }
    }
}

/// Holds a [`SpinLock`] until dropped.
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while its thread holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while its thread holds the lock, and `&mut self`
        // makes this the only reference made through it.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}
