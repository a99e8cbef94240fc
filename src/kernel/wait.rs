//! Wait queues: a thread sleeps until a condition holds; whoever makes it
//! hold calls `wake_up_all`. With one CPU, checking the condition and going
//! to sleep with interrupts off is enough to never miss a wake-up.

use super::sched;
use crate::arch::x86::cpu::{local_irq_restore, local_irq_save};
use core::sync::atomic::{AtomicU32, Ordering};

const _: () = assert!(sched::NR_TASKS <= 32, "waiters are a bitmask of task slots");

pub struct WaitQueue {
    /// Bit i set: task slot i sleeps here.
    waiters: AtomicU32,
}

impl WaitQueue {
    pub const fn new() -> Self {
        WaitQueue { waiters: AtomicU32::new(0) }
    }

    /// Sleep until `cond()` is true (Linux's `wait_event`).
    #[track_caller]
    pub fn wait_event(&self, cond: impl Fn() -> bool) {
        sched::might_sleep("wait_event");
        loop {
            let flags = local_irq_save();
            if cond() {
                local_irq_restore(flags);
                return;
            }
            self.waiters.fetch_or(1 << sched::current_slot(), Ordering::Relaxed);
            sched::set_current_sleeping(0);
            sched::schedule();
            local_irq_restore(flags);
        }
    }

    /// Sleep until `cond()` is true or `timeout` jiffies have passed
    /// (Linux's `wait_event_timeout`); returns whether `cond()` held.
    #[track_caller]
    pub fn wait_event_timeout(&self, cond: impl Fn() -> bool, timeout: u64) -> bool {
        sched::might_sleep("wait_event_timeout");
        let deadline = crate::arch::x86::pit::jiffies() + timeout.max(1);
        loop {
            let flags = local_irq_save();
            if cond() {
                local_irq_restore(flags);
                return true;
            }
            if crate::arch::x86::pit::jiffies() >= deadline {
                local_irq_restore(flags);
                return false;
            }
            self.waiters.fetch_or(1 << sched::current_slot(), Ordering::Relaxed);
            sched::set_current_sleeping(deadline);
            sched::schedule();
            local_irq_restore(flags);
        }
    }

    /// Wake every sleeper; each re-checks its condition.
    pub fn wake_up_all(&self) {
        let mut mask = self.waiters.swap(0, Ordering::Relaxed);
        while mask != 0 {
            let slot = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            sched::wake_up_slot(slot);
        }
    }

    pub fn has_sleepers(&self) -> bool {
        self.waiters.load(Ordering::Relaxed) != 0
    }
}

impl Default for WaitQueue {
    fn default() -> Self {
        Self::new()
    }
}
