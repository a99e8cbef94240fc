//! A cache slot's lock, and the lock-free way in for the fast path.
//!
//! Linux's SLAB (2.6.24 `mm/slab.c`) takes no lock on its hit paths:
//! `__cache_alloc` and `kfree` only disable interrupts (`local_irq_save`)
//! around the per-CPU `array_cache`, because nothing else on that CPU can
//! reach it then; `cachep->nodelists[node]->list_lock` is taken only by
//! the refill and the flush. This kernel runs on one CPU, so the same
//! holds for the whole slot: with interrupts off, and the slot's lock not
//! held by a frame below us, nobody else can be touching it.
//!
//! [`SlotLock::lock`] is the slow path's `spin_lock_irqsave` (an
//! [`IrqLock`], so it counts in the preempt count and reports recursion).
//! The fast path runs inside [`irqs_off`] (`local_irq_save`) and reaches
//! the slot with [`SlotLock::with_cpu`]: one compare of the slot's gate to
//! see that no holder of the lock is below us, then the slot. A fast path
//! that finds the lock held (a constructor allocating from its own cache,
//! say) gets `None`, takes the slow path, and so meets the lock's
//! recursion report, as it did before there was a fast path. The same
//! compare keeps the hits out while `failslab=` is on
//! ([`SlotLock::close_hits`]), so that every allocation meets
//! `should_failslab` on the slow path and the hit tests nothing for it.

use super::Slot;
use crate::arch::x86::cpu::{local_irq_restore, local_irq_save, EFLAGS_IF};
use crate::kernel::sync::{IrqLock, IrqLockGuard};
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};

/// A slot and its lock (Linux's `struct kmem_cache` and its
/// `list_lock`; the per-CPU array inside is covered by disabling
/// interrupts alone).
pub(super) struct SlotLock {
    lock: IrqLock<()>,
    /// Why the hit paths must stay out: [`GATE_HELD`] exactly while a
    /// [`SlotGuard`] lives, [`GATE_CLOSED`] while failslab is on. A plain
    /// byte rather than the lock's own word, so that `with_cpu` tests it
    /// with one compare; read and written with interrupts off only.
    gate: UnsafeCell<u8>,
    slot: UnsafeCell<Slot>,
}

/// A [`SlotGuard`] holds the lock.
const GATE_HELD: u8 = 1;
/// The hit paths are closed ([`SlotLock::close_hits`]).
const GATE_CLOSED: u8 = 2;

// SAFETY: the slot is reached only through `lock` (exclusive by the
// IrqLock) or `with_cpu` (exclusive because interrupts are off on the one
// CPU and no holder of the lock is running), never both at once: see
// `with_cpu`. The gate is touched only with interrupts off (under the
// lock, or in `with_cpu`) on the one CPU, so never by two at once.
unsafe impl Sync for SlotLock {}

/// The slot, held under its lock (interrupts off until dropped).
pub(super) struct SlotGuard {
    guard: IrqLockGuard<'static, ()>,
    cell: &'static SlotLock,
}

impl SlotLock {
    pub(super) const fn new(slot: Slot) -> SlotLock {
        SlotLock { lock: IrqLock::new(()), gate: UnsafeCell::new(0), slot: UnsafeCell::new(slot) }
    }

    /// The slow path's lock (`spin_lock_irqsave`).
    #[inline]
    #[track_caller]
    pub(super) fn lock(&'static self) -> SlotGuard {
        let guard = self.lock.lock();
        // SAFETY: under the lock, interrupts off: nobody else touches the
        // gate (see `Sync`). Set before any code of ours runs under it.
        unsafe { *self.gate.get() |= GATE_HELD };
        SlotGuard { guard, cell: self }
    }

    /// Close the hit paths (`closed`) or open them again: failslab's
    /// switch, so that every allocation takes the slow path, where
    /// `should_failslab` is asked.
    pub(super) fn close_hits(&'static self, closed: bool) {
        let g = self.lock();
        // SAFETY: as in `lock`.
        unsafe {
            let gate = &mut *g.cell.gate.get();
            *gate = if closed { *gate | GATE_CLOSED } else { *gate & !GATE_CLOSED };
        }
    }

    /// Run `f` on the slot without taking the lock, interrupts being off
    /// (Linux's `____cache_alloc`/`__cache_free` inside `local_irq_save`);
    /// `None` if the gate is shut: the lock is held, by a frame below us on
    /// this one CPU, whose `&mut` must not be aliased, or failslab closed
    /// the hits ([`close_hits`](Self::close_hits)). The caller then takes
    /// the slow path.
    ///
    /// # Safety
    ///
    /// `f` must not reach this slot again, through its lock or this
    /// function (it would find the lock free and alias the `&mut` it was
    /// given): the hit paths of the array cache, which call nothing that
    /// allocates or frees.
    #[inline(always)]
    pub(super) unsafe fn with_cpu<R>(&'static self, _off: &IrqsOff, f: impl FnOnce(&mut Slot) -> R) -> Option<R> {
        // SAFETY: interrupts are off (`_off`): nobody else touches the gate.
        if unsafe { *self.gate.get() } != 0 {
            return None;
        }
        debug_assert!(!self.lock.is_locked());
        // SAFETY: interrupts are off (`_off`) and this is the only CPU, so
        // no other code runs until they come back; the gate is not
        // GATE_HELD, so no frame below holds a `SlotGuard` (a guard sets it
        // as soon as it has the lock and clears it just before letting go,
        // interrupts off all along); and `f` does not reach the slot again
        // (the caller's contract). This is the only reference to the slot
        // while f runs.
        Some(f(unsafe { &mut *self.slot.get() }))
    }
}

/// Proof that interrupts are off: only [`irqs_off`] makes one, and lends
/// it to its closure, which cannot keep it.
pub(super) struct IrqsOff {
    flags: u32,
}

impl IrqsOff {
    /// Whether interrupts were enabled before (for `might_sleep`).
    #[inline(always)]
    pub(super) fn were_enabled(&self) -> bool {
        self.flags & EFLAGS_IF != 0
    }
}

/// Run `f` with interrupts off (Linux's `local_irq_save` ...
/// `local_irq_restore` around the slab's hit paths). `f` must be short.
///
/// `f` is inlined twice, once for each state the flags were found in, so
/// that neither copy keeps the flags in a register to the end: found on,
/// they come back with a bare `sti`; found off, there is nothing to restore.
#[inline(always)]
pub(super) fn irqs_off<R>(f: impl FnOnce(&IrqsOff) -> R) -> R {
    let flags = local_irq_save();
    if flags & EFLAGS_IF != 0 {
        let r = f(&IrqsOff { flags: EFLAGS_IF });
        local_irq_restore(EFLAGS_IF);
        r
    } else {
        f(&IrqsOff { flags: 0 })
    }
}

impl SlotGuard {
    /// Whether interrupts were enabled when the lock was taken.
    #[inline]
    pub(super) fn irqs_were_enabled(&self) -> bool {
        self.guard.irqs_were_enabled()
    }
}

impl Drop for SlotGuard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: still under the lock (the IrqLock guard, a field, goes
        // after this), interrupts off: nobody else touches the gate.
        unsafe { *self.cell.gate.get() &= !GATE_HELD };
    }
}

impl Deref for SlotGuard {
    type Target = Slot;
    #[inline]
    fn deref(&self) -> &Slot {
        // SAFETY: the lock is held for the guard's life: no other reference
        // to the slot exists (`with_cpu` stays out while it is held).
        unsafe { &*self.cell.slot.get() }
    }
}

impl DerefMut for SlotGuard {
    #[inline]
    fn deref_mut(&mut self) -> &mut Slot {
        // SAFETY: as in `deref`, and `&mut self` makes this the only one.
        unsafe { &mut *self.cell.slot.get() }
    }
}
