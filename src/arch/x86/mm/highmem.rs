//! `kmap_atomic`: a highmem page mapped for a moment, in a fixmap slot of
//! its own type (Linux 2.6.24's arch/x86/mm/highmem_32.c). No lock, no
//! sleeping: the slot belongs to this CPU and this use, preemption and page
//! faults are off while it is held (`pagefault_disable`, as Linux's: a user
//! copy under it gets `-EFAULT` at once instead of a fault handled, which
//! could sleep), and unmapping costs one `invlpg`.
//!
//! The guard enforces Linux's rules in the type system where it can: it is
//! not `Send` (the mapping exists on this CPU only), it unmaps on drop, it
//! derefs to exactly one page. What types cannot enforce is checked: a slot
//! type already in use is refused, and guards must be dropped in the reverse
//! order of taking them; a violation is reported (never silent), and the
//! mappings stay correct because every type has a slot of its own.

use super::init::fixmap::{clear_fixmap, fix_to_virt, set_fixmap, FIX_KMAP_BEGIN};
use crate::arch::x86::lib::uaccess::{pagefault_disable, pagefault_enable};
use crate::kernel::preempt::{preempt_disable, preempt_enable};
use crate::layout::{phys_to_virt, FIXADDR_START, PAGE_SHIFT, PAGE_SIZE};
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

/// The types held now (one CPU), in two words (an interrupt handler that
/// takes a slot gives it back before it returns, so it finds them whole and
/// leaves them so):
///
/// - `USED`: one bit per type, for the "already in use" check;
/// - `STACK`: the types in the order taken, `type + 1` per nibble, the last
///   taken in the low nibble (0 = empty). A type is held at most once, so
///   at most `KM_TYPE_NR` = 7 nibbles are ever in use.
///
/// Taking a slot is then a bit test and a shift; releasing one compares the
/// low nibble with its type.
static USED: AtomicU32 = AtomicU32::new(0);
static STACK: AtomicU32 = AtomicU32::new(0);
const _: () = assert!(KM_TYPE_NR * 4 <= 32, "the slot stack holds one nibble per type");
/// Misuses caught (out-of-order release, slot type reused): for tests.
pub static MISUSES: AtomicUsize = AtomicUsize::new(0);

/// One page mapped by `kmap_atomic`; unmapped when dropped.
///
/// Whether it holds a fixmap slot is read from the address, not stored:
/// a lowmem page is used at its direct-map address, which is below
/// `FIXADDR_START` (2.6.24's `kunmap_atomic` compares the address with its
/// slot's; from 2.6.37 `__kunmap_atomic` tests `vaddr < FIXADDR_START`, as
/// here).
pub struct KmapAtomic {
    vaddr: usize,
    km_type: KmType,
    _not_send: PhantomData<*const ()>,
}
const _: () = assert!(crate::layout::HIGH_MEMORY_MAX <= FIXADDR_START, "a direct-map address would look like a slot");

#[inline(always)]
fn slot_index(t: KmType) -> usize {
    FIX_KMAP_BEGIN + t as usize
}

/// The fixmap address of a slot type (what `kmaps` and tests print).
pub fn kmap_atomic_vaddr(t: KmType) -> usize {
    fix_to_virt(slot_index(t))
}

/// Map frame `pfn` for a short, non-sleeping use. The kernel's own
/// `max_low_pfn` decides whether the direct map already covers it; a frame
/// at or beyond `max_pfn` (no RAM the kernel manages, or not even
/// expressible in a PTE) is refused and reported.
///
/// Inline: the slot type is a constant at every call site, so the fixmap
/// PTE and address are constants too; the slow paths (misuse reports) are
/// out of line.
#[inline(always)]
pub fn kmap_atomic(pfn: u32, t: KmType) -> Result<KmapAtomic, KmapAtomicError> {
    if pfn as usize >= crate::mm::mmzone::max_pfn() {
        return Err(bad_pfn("kmap_atomic", pfn));
    }
    preempt_disable();
    pagefault_disable();
    // The slot words are shared with interrupt handlers (the Irq slots),
    // yet plain loads and stores suffice, as for Linux's per-CPU counters:
    // a handler releases every slot it takes before it returns, so one
    // that runs between a load and its store leaves both words as it found
    // them.
    let bit = 1u32 << t as u32;
    let used = USED.load(Ordering::Relaxed);
    if used & bit != 0 {
        return Err(slot_in_use(t));
    }
    USED.store(used | bit, Ordering::Relaxed);
    STACK.store((STACK.load(Ordering::Relaxed) << 4) | (t as u32 + 1), Ordering::Relaxed);
    if (pfn as usize) < crate::mm::mmzone::max_low_pfn() {
        let vaddr = phys_to_virt((pfn as usize) << PAGE_SHIFT);
        return Ok(KmapAtomic { vaddr, km_type: t, _not_send: PhantomData });
    }
    // SAFETY: the slot of type `t` was just taken for this guard (USED), so
    // it is this caller's until the guard drops; pfn < max_pfn is RAM.
    match unsafe { set_fixmap(slot_index(t), pfn as usize) } {
        Ok(vaddr) => Ok(KmapAtomic { vaddr, km_type: t, _not_send: PhantomData }),
        // Unreachable while max_pfn <= 2^20; kept so the guard is given back.
        Err(_) => {
            drop(KmapAtomic { vaddr: 0, km_type: t, _not_send: PhantomData });
            Err(bad_pfn("kmap_atomic", pfn))
        }
    }
}

/// A frame nobody may map (at or beyond `max_pfn`): report it, naming it,
/// and refuse. Shared with `kmap`.
#[cold]
#[inline(never)]
pub fn bad_pfn(what: &str, pfn: u32) -> KmapAtomicError {
    MISUSES.fetch_add(1, Ordering::Relaxed);
    crate::kernel::panic::warn(format_args!(
        "BUG: {}: pfn {:#x} is not below max_pfn {:#x} (no RAM there); refused",
        what,
        pfn,
        crate::mm::mmzone::max_pfn()
    ));
    KmapAtomicError::BadPfn(pfn)
}

/// A slot type taken twice: refused and reported. Nothing was taken, so
/// page faults and preemption come back on.
#[cold]
#[inline(never)]
fn slot_in_use(t: KmType) -> KmapAtomicError {
    pagefault_enable();
    preempt_enable();
    MISUSES.fetch_add(1, Ordering::Relaxed);
    crate::kernel::panic::warn(format_args!("BUG: kmap_atomic: slot type {:?} is already in use", t));
    KmapAtomicError::SlotInUse(t)
}

/// `t` released while it is not the last taken: take
/// it out of the middle of the stack and report the caller's bug. Its
/// mapping is still undone by the caller: its slot is its own.
#[cold]
#[inline(never)]
fn release_out_of_order(t: KmType) {
    MISUSES.fetch_add(1, Ordering::Relaxed);
    crate::kernel::panic::warn(format_args!(
        "BUG: kunmap_atomic({:?}) out of order: the last kmap_atomic taken must be released first",
        t
    ));
    let stack = STACK.load(Ordering::Relaxed);
    if let Some(pos) = (0..KM_TYPE_NR as u32).find(|&i| (stack >> (4 * i)) & 0xf == t as u32 + 1) {
        let below = stack & ((1 << (4 * pos)) - 1);
        let above = (stack >> (4 * (pos + 1))) << (4 * pos);
        STACK.store(above | below, Ordering::Relaxed);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KmapAtomicError {
    SlotInUse(KmType),
    /// The frame is at or beyond `max_pfn`: nothing to map.
    BadPfn(u32),
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
    #[inline(always)]
    fn drop(&mut self) {
        let t = self.km_type;
        // Plain loads and stores: see `kmap_atomic`.
        // XOR clears the low nibble exactly when `t` is on top; the rest
        // of the word is the stack below it either way.
        let stack = STACK.load(Ordering::Relaxed) ^ (t as u32 + 1);
        if stack & 0xf == 0 {
            STACK.store(stack >> 4, Ordering::Relaxed);
        } else {
            release_out_of_order(t);
        }
        USED.store(USED.load(Ordering::Relaxed) & !(1u32 << t as u32), Ordering::Relaxed);
        if self.vaddr >= FIXADDR_START {
            // SAFETY: the slot was this guard's, and the guard is going.
            unsafe { clear_fixmap(slot_index(t)) };
        }
        pagefault_enable();
        preempt_enable();
    }
}
