//! A spinlock that also masks interrupts while held (Linux's
//! `spin_lock_irqsave`). `spin::Mutex` alone never masks interrupts, so data
//! shared with an interrupt handler would deadlock the one CPU the first time
//! the handler interrupted a holder.

use crate::arch::x86::cpu::{local_irq_restore, local_irq_save};
use core::ops::{Deref, DerefMut};

pub struct IrqLock<T> {
    inner: spin::Mutex<T>,
}

pub struct IrqLockGuard<'a, T> {
    guard: Option<spin::MutexGuard<'a, T>>,
    flags: u32,
}

impl<T> IrqLock<T> {
    pub const fn new(value: T) -> Self {
        IrqLock { inner: spin::Mutex::new(value) }
    }

    pub fn lock(&self) -> IrqLockGuard<'_, T> {
        let flags = local_irq_save();
        IrqLockGuard { guard: Some(self.inner.lock()), flags }
    }

    /// For crash paths: never spins.
    pub fn try_lock(&self) -> Option<IrqLockGuard<'_, T>> {
        let flags = local_irq_save();
        match self.inner.try_lock() {
            Some(g) => Some(IrqLockGuard { guard: Some(g), flags }),
            None => {
                local_irq_restore(flags);
                None
            }
        }
    }
}

impl<T> Deref for IrqLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().expect("guard present until drop")
    }
}

impl<T> DerefMut for IrqLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().expect("guard present until drop")
    }
}

impl<T> Drop for IrqLockGuard<'_, T> {
    fn drop(&mut self) {
        // Unlock first, then let interrupts back in.
        drop(self.guard.take());
        local_irq_restore(self.flags);
    }
}
