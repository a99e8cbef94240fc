//! A spinlock that also masks interrupts while held (Linux's
//! `spin_lock_irqsave`). `spin::Mutex` alone never masks interrupts, so data
//! shared with an interrupt handler would deadlock the one CPU the first time
//! the handler interrupted a holder.

use crate::arch::x86::cpu::{local_irq_restore, local_irq_save};
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};

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

    #[inline]
    pub fn lock(&self) -> IrqLockGuard<'_, T> {
        let flags = local_irq_save();
        IrqLockGuard { guard: ManuallyDrop::new(self.inner.lock()), flags }
    }

    /// For crash paths: never spins.
    pub fn try_lock(&self) -> Option<IrqLockGuard<'_, T>> {
        let flags = local_irq_save();
        match self.inner.try_lock() {
            Some(g) => Some(IrqLockGuard { guard: ManuallyDrop::new(g), flags }),
            None => {
                local_irq_restore(flags);
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
        // Unlock first, then let interrupts back in.
        // SAFETY: `guard` is dropped here only, once, and never used again.
        unsafe { ManuallyDrop::drop(&mut self.guard) };
        local_irq_restore(self.flags);
    }
}
