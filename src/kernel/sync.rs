//! Spinlocks, as Linux's: [`SpinLock`] (`spin_lock`) disables preemption
//! while held, and [`IrqLock`] (`spin_lock_irqsave`) also masks interrupts.
//! `spin::Mutex` alone never masks interrupts, so data shared with an
//! interrupt handler would deadlock the one CPU the first time the handler
//! interrupted a holder; and it never raises the preempt count, so a holder
//! could be preempted (another thread then spins on the one CPU until the
//! next tick) or call something that sleeps without `might_sleep` noticing.
//! Both locks count in the preempt count, so `might_sleep` reports a holder
//! that calls a sleeping function ("BUG: sleeping function called from
//! invalid context", with `preempt_count` in the line): a `SpinLock` adds one
//! to it; the `IrqLock`s held are counted by their nesting depth, which the
//! count includes (Linux's `preempt_count` is a sum of fields too), so the
//! hottest locks pay no extra store for it.
//!
//! Linux's `spin_unlock_irqrestore` puts back the flags its own lock saved,
//! which is right only when locks are released in the reverse order of
//! taking them (C code always does). Rust guards may be dropped in any
//! order: dropping an outer guard first would turn interrupts back on while
//! the inner lock is still held. So the CPU counts the guards it holds;
//! interrupts come back (if they were on) only when the last guard goes,
//! whatever the order. The in-order case costs one count: the outermost
//! guard is the only one that saw interrupts on, so its own saved flags
//! say it is the one to restore them.

use super::preempt::{preempt_disable, preempt_enable};
use crate::arch::x86::cpu::local_irq_save;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// `IrqLock` guards held on this (the one) CPU. Changed with interrupts off
/// only, so plain loads and stores suffice.
static IRQ_LOCK_DEPTH: AtomicU32 = AtomicU32::new(0);
/// The outermost guard went first, with interrupts on before it: the last
/// guard to go turns them back on (rare: Rust drops in reverse order unless
/// told otherwise).
static IRQ_LOCK_DEFERRED_ENABLE: AtomicBool = AtomicBool::new(false);

/// Mask interrupts for one more guard; returns the flags before this one.
/// Only the outermost guard can see interrupts on (every holder keeps them
/// off), so the guard's own flags say whether it is the one to restore them.
#[inline(always)]
fn irq_nest_enter() -> u32 {
    let flags = local_irq_save();
    IRQ_LOCK_DEPTH.store(IRQ_LOCK_DEPTH.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    flags
}

/// One guard fewer, `flags` being what it saved (Linux's
/// `local_irq_restore` for the in-order case: the outermost guard, the one
/// that saw interrupts on, is the last to go and turns them back on).
#[inline(always)]
fn irq_nest_exit(flags: u32) {
    let depth = IRQ_LOCK_DEPTH.load(Ordering::Relaxed);
    debug_assert!(depth > 0, "IrqLock guard released twice");
    let depth = depth.wrapping_sub(1);
    IRQ_LOCK_DEPTH.store(depth, Ordering::Relaxed);
    let was_on = flags & crate::arch::x86::cpu::EFLAGS_IF != 0;
    if depth == 0 {
        if was_on {
            crate::arch::x86::cpu::local_irq_enable();
        } else if IRQ_LOCK_DEFERRED_ENABLE.load(Ordering::Relaxed) {
            irq_nest_deferred_enable();
        }
    } else if was_on {
        irq_nest_defer_enable();
    }
}

/// The outermost guard goes while inner ones are held: interrupts stay off
/// until the last of them goes.
#[cold]
#[inline(never)]
fn irq_nest_defer_enable() {
    IRQ_LOCK_DEFERRED_ENABLE.store(true, Ordering::Relaxed);
}

/// The last guard goes after the outermost one: interrupts come back now.
#[cold]
#[inline(never)]
fn irq_nest_deferred_enable() {
    IRQ_LOCK_DEFERRED_ENABLE.store(false, Ordering::Relaxed);
    crate::arch::x86::cpu::local_irq_enable();
}

/// `IrqLock` guards held now: their part of the preempt count.
pub fn irq_lock_depth() -> u32 {
    IRQ_LOCK_DEPTH.load(Ordering::Relaxed)
}

pub struct IrqLock<T> {
    inner: spin::Mutex<T>,
}

pub struct IrqLockGuard<'a, T> {
    /// Dropped by hand in `Drop`, before the interrupt flag comes back.
    guard: ManuallyDrop<spin::MutexGuard<'a, T>>,
    flags: u32,
}

impl<T> IrqLock<T> {
    pub const fn new(value: T) -> Self {
        IrqLock { inner: spin::Mutex::new(value) }
    }

    /// Take the lock. On this one CPU, with interrupts masked, a lock found
    /// held is held by this CPU in a frame below (every holder keeps
    /// interrupts off until it lets go): a closure under the lock that
    /// takes it again. Spinning would never end, so it is reported instead.
    #[inline]
    #[track_caller]
    pub fn lock(&self) -> IrqLockGuard<'_, T> {
        let flags = irq_nest_enter();
        match self.inner.try_lock() {
            Some(g) => IrqLockGuard { guard: ManuallyDrop::new(g), flags },
            None => spin_bug_recursion("IrqLock", self as *const Self as usize, core::any::type_name::<T>()),
        }
    }

    /// For crash paths: never spins.
    pub fn try_lock(&self) -> Option<IrqLockGuard<'_, T>> {
        let flags = irq_nest_enter();
        match self.inner.try_lock() {
            Some(g) => Some(IrqLockGuard { guard: ManuallyDrop::new(g), flags }),
            None => {
                irq_nest_exit(flags);
                None
            }
        }
    }

    /// Whether some holder has the lock now. On this one CPU, with interrupts
    /// masked for as long as any holder keeps it, a caller that sees it held
    /// is running inside that holder's critical section.
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }
}

impl<T> IrqLockGuard<'_, T> {
    /// Whether interrupts were enabled when the lock was taken (and will be
    /// again when it is dropped): `might_sleep` without reading EFLAGS.
    #[inline]
    pub fn irqs_were_enabled(&self) -> bool {
        self.flags & crate::arch::x86::cpu::EFLAGS_IF != 0
    }
}

impl<T> Deref for IrqLockGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for IrqLockGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for IrqLockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Unlock first, then let interrupts back in if this was the last
        // guard held (in whatever order the guards go).
        // SAFETY: `guard` is dropped here only, once, and never used again.
        unsafe { ManuallyDrop::drop(&mut self.guard) };
        irq_nest_exit(self.flags);
    }
}

/// A report is being written (a lock the report needs may be the one).
static SPIN_BUG_REPORTING: AtomicBool = AtomicBool::new(false);

/// An `IrqLock` taken again by the CPU that holds it (Linux's spinlock
/// debugging, `spin_bug(lock, "recursion")`): report the lock, where it was
/// taken again and the call trace, then panic rather than spin for ever.
#[cold]
#[inline(never)]
#[track_caller]
fn spin_bug_recursion(kind: &str, lock: usize, type_name: &str) -> ! {
    use core::fmt::Write;
    let at = core::panic::Location::caller();
    if !SPIN_BUG_REPORTING.swap(true, Ordering::SeqCst) {
        // Oops mode: the report waits for no lock (it may hold the console's).
        let mut out = super::printk::oops_begin();
        let _ = writeln!(
            out,
            "BUG: spinlock recursion on CPU#0, {}/{}: {}<{}> at {:#010x} taken again at {}:{}",
            super::sched::current_name(),
            super::sched::current_pid(),
            kind,
            type_name,
            lock,
            at.file(),
            at.line()
        );
        let _ = writeln!(out, "the lock is held on this one CPU, whose holder cannot run again: nobody can release it");
        let _ = writeln!(out, "Call Trace:");
        super::panic::write_call_trace(&mut out, crate::arch::x86::cpu::read_ebp());
    }
    // The panic names the place again (this function tracks its caller).
    panic!("spinlock recursion: {}<{}> at {:#010x}", kind, type_name, lock)
}

/// Linux's `spinlock_t` taken with `spin_lock`: preemption is off while it
/// is held, interrupts are not masked (never take it from an interrupt
/// handler: use [`IrqLock`]). With one CPU, preemption off is what makes it
/// a lock at all: no other thread runs until it is released, so nobody
/// spins on it. A holder that calls something that may sleep is reported
/// by `might_sleep`, and must not sleep: the next thread to take the lock
/// would spin forever on the one CPU.
pub struct SpinLock<T> {
    inner: spin::Mutex<T>,
}

pub struct SpinLockGuard<'a, T> {
    /// Dropped by hand in `Drop`, before preemption comes back.
    guard: ManuallyDrop<spin::MutexGuard<'a, T>>,
}

impl<T> SpinLock<T> {
    pub const fn new(value: T) -> Self {
        SpinLock { inner: spin::Mutex::new(value) }
    }

    #[inline]
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        preempt_disable();
        // One CPU and preemption off: a holder found here is this thread (or
        // the thread an interrupt handler interrupted), and it can never run
        // to release the lock. Say so instead of spinning for ever.
        match self.inner.try_lock() {
            Some(g) => SpinLockGuard { guard: ManuallyDrop::new(g) },
            None => spin_bug_recursion("SpinLock", self as *const Self as usize, core::any::type_name::<T>()),
        }
    }

    /// For fault and crash paths: never spins.
    pub fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        preempt_disable();
        match self.inner.try_lock() {
            Some(g) => Some(SpinLockGuard { guard: ManuallyDrop::new(g) }),
            None => {
                preempt_enable();
                None
            }
        }
    }
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `guard` is dropped here only, once, and never used again.
        unsafe { ManuallyDrop::drop(&mut self.guard) };
        preempt_enable();
    }
}
