//! `kmap_atomic`: a highmem page mapped for a moment, in a fixmap slot of
//! its own type (Linux 2.6.24's arch/x86/mm/highmem_32.c). No lock, no
//! sleeping: the slot belongs to this CPU and this use, preemption is off
//! while it is held, and unmapping costs one `invlpg`.
//!
//! The guard enforces Linux's rules in the type system where it can: it is
//! not `Send` (the mapping exists on this CPU only), it unmaps on drop, it
//! derefs to exactly one page. What types cannot enforce is checked: a slot
//! type already in use is refused, and guards must be dropped in the reverse
//! order of taking them; a violation is reported (never silent), and the
//! mappings stay correct because every type has a slot of its own.

use super::init::fixmap::{clear_fixmap, fix_to_virt, set_fixmap, FIX_KMAP_BEGIN};
use crate::kernel::sched::{preempt_disable, preempt_enable};
use crate::layout::{phys_to_virt, PAGE_SHIFT, PAGE_SIZE};
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// kmap_atomic slot types (2.6.24's `enum km_type`, the ones this kernel uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum KmType {
    /// Source and destination of a page copy.
    User0 = 0,
    User1 = 1,
    /// Reading a page table that lives in highmem.
    Pte0 = 2,
    Pte1 = 3,
    /// Interrupt handlers.
    Irq0 = 4,
    Irq1 = 5,
    /// Zeroing/copying helpers (`clear_highpage`, `memcpy_to_page`).
    Bounce = 6,
}

pub use crate::layout::KM_TYPE_NR;
const _: () = assert!(KmType::Bounce as usize + 1 == KM_TYPE_NR);

/// Depth-ordered stack of the types held now (one CPU).
static HELD: [AtomicU32; KM_TYPE_NR] = [const { AtomicU32::new(0) }; KM_TYPE_NR];
static DEPTH: AtomicUsize = AtomicUsize::new(0);
/// Misuses caught (out-of-order release, slot type reused): for tests.
pub static MISUSES: AtomicUsize = AtomicUsize::new(0);

/// One page mapped by `kmap_atomic`; unmapped when dropped.
pub struct KmapAtomic {
    vaddr: usize,
    km_type: KmType,
    /// Lowmem pages need no slot: their direct-map address is used.
    slot: bool,
    _not_send: PhantomData<*const ()>,
}

fn slot_index(t: KmType) -> usize {
    FIX_KMAP_BEGIN + t as usize
}

/// The fixmap address of a slot type (what `kmaps` and tests print).
pub fn kmap_atomic_vaddr(t: KmType) -> usize {
    fix_to_virt(slot_index(t))
}

/// Map frame `pfn` for a short, non-sleeping use. `max_low_pfn` decides
/// whether the direct map already covers it.
pub fn kmap_atomic(pfn: u32, t: KmType, max_low_pfn: usize) -> Result<KmapAtomic, KmapAtomicError> {
    preempt_disable();
    // The slot stack is shared with interrupt handlers (the Irq slots):
    // update it with interrupts off.
    let flags = crate::arch::x86::cpu::local_irq_save();
    let depth = DEPTH.load(Ordering::Relaxed);
    let in_use = (0..depth).any(|i| HELD[i].load(Ordering::Relaxed) == t as u32);
    if in_use || depth == KM_TYPE_NR {
        crate::arch::x86::cpu::local_irq_restore(flags);
        preempt_enable();
        MISUSES.fetch_add(1, Ordering::Relaxed);
        crate::kernel::panic::warn(format_args!("BUG: kmap_atomic: slot type {:?} is already in use", t));
        return Err(KmapAtomicError::SlotInUse(t));
    }
    HELD[depth].store(t as u32, Ordering::Relaxed);
    DEPTH.store(depth + 1, Ordering::Relaxed);
    crate::arch::x86::cpu::local_irq_restore(flags);
    if (pfn as usize) < max_low_pfn {
        let vaddr = phys_to_virt((pfn as usize) << PAGE_SHIFT);
        return Ok(KmapAtomic { vaddr, km_type: t, slot: false, _not_send: PhantomData });
    }
    let vaddr = set_fixmap(slot_index(t), pfn as usize);
    Ok(KmapAtomic { vaddr, km_type: t, slot: true, _not_send: PhantomData })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KmapAtomicError {
    SlotInUse(KmType),
}

impl KmapAtomic {
    pub fn vaddr(&self) -> usize {
        self.vaddr
    }
    pub fn km_type(&self) -> KmType {
        self.km_type
    }
    /// The page's bytes.
    ///
    /// # Safety
    /// The caller owns the frame (it allocated it) and nobody writes it
    /// through another mapping while the slice lives.
    pub unsafe fn as_slice(&self) -> &[u8; PAGE_SIZE] {
        // SAFETY: vaddr maps one whole page while the guard lives; the
        // caller promises no concurrent writer.
        unsafe { &*(self.vaddr as *const [u8; PAGE_SIZE]) }
    }

    /// The page's bytes, writable.
    ///
    /// # Safety
    /// The caller owns the frame and no other reference to its bytes (through
    /// any mapping) exists while the slice lives.
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8; PAGE_SIZE] {
        // SAFETY: as above, with exclusivity promised by the caller.
        unsafe { &mut *(self.vaddr as *mut [u8; PAGE_SIZE]) }
    }
}

impl Drop for KmapAtomic {
    fn drop(&mut self) {
        let flags = crate::arch::x86::cpu::local_irq_save();
        let depth = DEPTH.load(Ordering::Relaxed);
        let top = depth.checked_sub(1).map(|d| HELD[d].load(Ordering::Relaxed));
        if top != Some(self.km_type as u32) {
            // Out of order: still unmap this one (its slot is its own), drop
            // it from the stack, and report the caller's bug.
            MISUSES.fetch_add(1, Ordering::Relaxed);
            crate::kernel::panic::warn(format_args!(
                "BUG: kunmap_atomic({:?}) out of order: the last kmap_atomic taken must be released first",
                self.km_type
            ));
            if let Some(pos) = (0..depth).find(|&i| HELD[i].load(Ordering::Relaxed) == self.km_type as u32) {
                for i in pos..depth - 1 {
                    HELD[i].store(HELD[i + 1].load(Ordering::Relaxed), Ordering::Relaxed);
                }
            }
        }
        DEPTH.store(depth.saturating_sub(1), Ordering::Relaxed);
        crate::arch::x86::cpu::local_irq_restore(flags);
        if self.slot {
            clear_fixmap(slot_index(self.km_type));
        }
        preempt_enable();
    }
}
