//! Wait queues: a thread sleeps until a condition holds; whoever makes it
//! hold calls `wake_up_all`. With one CPU, checking the condition and going
//! to sleep with interrupts off is enough to never miss a wake-up.
//!
//! As Linux's `wait_queue_head_t`, a queue is a lock and a list of waiters,
//! and each waiter's entry (`wait_queue_t`) lives on the sleeping thread's
//! own stack, linked in while it sleeps: any number of threads can wait on
//! one queue, and a queue costs no allocation.

use super::sched;
use super::sync::IrqLock;
use crate::arch::x86::cpu::{local_irq_restore, local_irq_save};
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

/// One sleeping thread's entry (Linux's `wait_queue_t`), on its stack.
struct Waiter {
    /// The sleeper's task slot.
    slot: usize,
    next: *mut Waiter,
    prev: *mut Waiter,
    /// Linked into a queue's list now.
    queued: bool,
}

/// The list of a queue: first and last waiter, or null.
struct WaitList {
    first: *mut Waiter,
    last: *mut Waiter,
}

// SAFETY: the pointers name `Waiter`s on sleeping threads' stacks; they are
// followed and changed only under the queue's lock, and each waiter unlinks
// itself (under the lock) before its stack frame goes away.
unsafe impl Send for WaitList {}

impl WaitList {
    /// Append `w` (Linux's `add_wait_queue_tail`).
    ///
    /// # Safety
    /// `w` is not linked and stays where it is until `unlink` (or a wake-up)
    /// takes it out.
    unsafe fn push(&mut self, w: *mut Waiter) {
        // SAFETY: by the contract `w` is valid; `self.last`, when not null,
        // is a linked waiter, valid while linked.
        unsafe {
            (*w).next = ptr::null_mut();
            (*w).prev = self.last;
            (*w).queued = true;
            if self.last.is_null() {
                self.first = w;
            } else {
                (*self.last).next = w;
            }
        }
        self.last = w;
    }

    /// Take `w` out if it is still linked (Linux's `finish_wait`).
    ///
    /// # Safety
    /// `w` is valid, and linked in this list if `queued`.
    unsafe fn unlink(&mut self, w: *mut Waiter) {
        // SAFETY: by the contract; its neighbours are linked waiters.
        unsafe {
            if !(*w).queued {
                return;
            }
            let (prev, next) = ((*w).prev, (*w).next);
            if prev.is_null() {
                self.first = next;
            } else {
                (*prev).next = next;
            }
            if next.is_null() {
                self.last = prev;
            } else {
                (*next).prev = prev;
            }
            (*w).queued = false;
        }
    }
}

/// A sleep ended by a signal (Linux's `-ERESTARTSYS` from a wait).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted;

pub struct WaitQueue {
    list: IrqLock<WaitList>,
    /// Waiters linked now; changed under the lock, read without it by
    /// `wake_up_all`'s fast path (Linux's `waitqueue_active`).
    nr: AtomicUsize,
}

impl WaitQueue {
    pub const fn new() -> Self {
        WaitQueue {
            list: IrqLock::new(WaitList { first: ptr::null_mut(), last: ptr::null_mut() }),
            nr: AtomicUsize::new(0),
        }
    }

    /// Sleep until `cond()` is true (Linux's `wait_event`).
    #[track_caller]
    pub fn wait_event(&self, cond: impl Fn() -> bool) {
        crate::kernel::preempt::might_sleep("wait_event");
        while !self.sleep_unless(&cond, 0) {}
    }

    /// Sleep until `cond()` is true or `timeout` jiffies have passed
    /// (Linux's `wait_event_timeout`); returns whether `cond()` held.
    #[track_caller]
    pub fn wait_event_timeout(&self, cond: impl Fn() -> bool, timeout: u64) -> bool {
        crate::kernel::preempt::might_sleep("wait_event_timeout");
        let deadline = crate::arch::x86::pit::jiffies() + timeout.max(1);
        loop {
            if self.sleep_unless(&cond, deadline) {
                return true;
            }
            if crate::arch::x86::pit::jiffies() >= deadline {
                return cond();
            }
        }
    }

    /// Sleep until `cond()` is true or a signal comes for the sleeper
    /// (Linux's `wait_event_interruptible`): `Err(Interrupted)` then, and
    /// the caller returns `-EINTR` (or `-ERESTARTSYS`) to user mode, where
    /// the signal is taken.
    #[track_caller]
    pub fn wait_event_interruptible(&self, cond: impl Fn() -> bool) -> Result<(), Interrupted> {
        crate::kernel::preempt::might_sleep("wait_event_interruptible");
        loop {
            match self.sleep_inner(&cond, 0, true) {
                Some(true) => return Ok(()),
                Some(false) => {}
                None => return Err(Interrupted),
            }
        }
    }

    /// One round: `true` if `cond()` holds; otherwise sleep on the queue
    /// once (until a wake-up, or jiffies `deadline` when non-zero) and
    /// return `false`. The condition is checked and the sleeper queued with
    /// interrupts off: a wake-up cannot fall between them.
    fn sleep_unless(&self, cond: &impl Fn() -> bool, deadline: u64) -> bool {
        self.sleep_inner(cond, deadline, false) == Some(true)
    }

    /// `sleep_unless`, interruptible when asked: `None` when a signal is
    /// pending (checked with interrupts off, before sleeping and after).
    fn sleep_inner(&self, cond: &impl Fn() -> bool, deadline: u64, interruptible: bool) -> Option<bool> {
        let flags = local_irq_save();
        if cond() {
            local_irq_restore(flags);
            return Some(true);
        }
        if interruptible && sched::signal_pending() {
            local_irq_restore(flags);
            return None;
        }
        let mut w = Waiter { slot: sched::current_slot(), next: ptr::null_mut(), prev: ptr::null_mut(), queued: false };
        // `w` is not moved or touched by name again in this frame: the list
        // and this function reach it through `wp` only.
        let wp: *mut Waiter = ptr::addr_of_mut!(w);
        {
            let mut list = self.list.lock();
            // SAFETY: `w` stays in this frame until the unlink below, which
            // runs whatever woke us (a wake-up already unlinked it; a
            // timeout did not).
            unsafe { list.push(wp) };
            self.nr.fetch_add(1, Ordering::Relaxed);
        }
        if interruptible {
            // A signal sent since the check above is seen here (the
            // interrupt that sent it cannot come with interrupts off, and
            // another thread cannot run): then no sleep.
            if sched::set_current_sleeping_interruptible(deadline) {
                sched::schedule();
            }
        } else {
            sched::set_current_sleeping(deadline);
            sched::schedule();
        }
        {
            let mut list = self.list.lock();
            // SAFETY: as above; `queued` says whether it is still linked.
            if unsafe { (*wp).queued } {
                // SAFETY: linked in this list, as just checked.
                unsafe { list.unlink(wp) };
                self.nr.fetch_sub(1, Ordering::Relaxed);
            }
        }
        local_irq_restore(flags);
        Some(false)
    }

    /// Wake every sleeper; each re-checks its condition (Linux's
    /// `wake_up_all` with `autoremove_wake_function`: woken entries leave
    /// the list at once, so a waker never sees a sleeper twice).
    pub fn wake_up_all(&self) {
        // Nobody waits: done without the lock. With one CPU this cannot miss
        // a sleeper: one checks its condition and queues itself with
        // interrupts off, so a waker (thread or interrupt) runs either
        // before the check (the sleeper then sees the condition hold) or
        // after the queueing (and sees it here).
        if self.nr.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut list = self.list.lock();
        while !list.first.is_null() {
            let w = list.first;
            // SAFETY: `w` is linked, so its sleeper is still in
            // `sleep_unless` (it unlinks itself before returning), and we
            // hold the lock.
            let slot = unsafe {
                list.unlink(w);
                (*w).slot
            };
            self.nr.fetch_sub(1, Ordering::Relaxed);
            sched::wake_up_slot(slot);
        }
    }

    pub fn has_sleepers(&self) -> bool {
        self.nr.load(Ordering::Relaxed) != 0
    }

    /// Threads sleeping here now (for tests).
    #[cfg(feature = "ktest")]
    pub fn nr_sleepers(&self) -> usize {
        let list = self.list.lock();
        let mut n = 0;
        let mut w = list.first;
        while !w.is_null() {
            n += 1;
            // SAFETY: linked waiters are valid while we hold the lock.
            w = unsafe { (*w).next };
        }
        n
    }
}

impl Default for WaitQueue {
    fn default() -> Self {
        Self::new()
    }
}
