//! A sleeping lock (Linux's `struct mutex`, and what `mmap_sem` is used as
//! here): the holder may sleep (allocate, fault, wait for I/O), and a thread
//! that finds it taken sleeps on its wait queue instead of spinning. Only
//! threads may take it, never interrupt handlers.
//!
//! With one CPU the fast path is one atomic swap; a contended unlock wakes
//! every sleeper and one of them wins the swap (Linux hands the lock to the
//! first waiter; for the few threads that ever meet here, waking all is the
//! simpler rule and costs nothing measurable).

use super::wait::WaitQueue;
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

pub struct Mutex<T> {
    locked: AtomicBool,
    wq: WaitQueue,
    data: UnsafeCell<T>,
}

// SAFETY: the data is reached only through a guard, and one guard exists at
// a time (the `locked` swap); T moves between threads with the guard.
unsafe impl<T: Send> Sync for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Mutex<T> {}

pub struct MutexGuard<'a, T> {
    lock: &'a Mutex<T>,
}

impl<T> Mutex<T> {
    pub const fn new(data: T) -> Mutex<T> {
        Mutex { locked: AtomicBool::new(false), wq: WaitQueue::new(), data: UnsafeCell::new(data) }
    }

    /// Take the lock, sleeping while another thread holds it.
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        super::preempt::might_sleep("Mutex::lock");
        loop {
            if let Some(g) = self.try_lock() {
                return g;
            }
            self.wq.wait_event(|| !self.locked.load(Ordering::Relaxed));
        }
    }

    /// Take the lock if it is free. (The guard is made only on success:
    /// one made and dropped on failure would unlock the holder's lock.)
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        (!self.locked.swap(true, Ordering::Acquire)).then(|| MutexGuard { lock: self })
    }

    /// Whether some thread holds it (for assertions).
    pub fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Relaxed)
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard is the one holder (see `Sync` above).
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and the guard is borrowed mutably.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
        self.lock.wq.wake_up_all();
    }
}
