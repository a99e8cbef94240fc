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
//! type already in use is refused, and guards of highmem pages must be
//! dropped in the reverse order of taking them; for highmem pages a
//! violation is reported (never silent), and the mappings stay correct
//! because every type has a slot of its own. A guard of a lowmem page holds
//! no slot, so it is in no order and nothing about it is checked (as in
//! Linux, whose `debug_kmap_atomic` runs after the `PageHighMem` test).
//!
//! A lowmem page takes no slot: it is used at its direct-map address, and
//! only page faults and preemption go off (Linux: `if (!PageHighMem(page))
//! return page_address(page)`, and `kunmap_atomic` of an address below
//! `FIXADDR_START` only enables them again).

use super::init::fixmap::{self, clear_fixmap_at, fix_to_virt, set_fixmap_prechecked, FIX_KMAP_BEGIN, PTE_PFN_LIMIT};
use crate::arch::x86::lib::uaccess::{pagefault_disable, pagefault_enable};
use crate::kernel::preempt::{preempt_disable, preempt_enable};
use crate::layout::{phys_to_virt, FIXADDR_START, PAGE_SHIFT, PAGE_SIZE};
use core::marker::PhantomData;
use core::sync::atomic::{AtomicUsize, Ordering};

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

impl KmType {
    /// Every type, in slot order.
    pub const ALL: [KmType; KM_TYPE_NR] =
        [KmType::User0, KmType::User1, KmType::Pte0, KmType::Pte1, KmType::Irq0, KmType::Irq1, KmType::Bounce];
}

pub use crate::layout::KM_TYPE_NR;
const _: () = assert!(KmType::Bounce as usize + 1 == KM_TYPE_NR);

/// The slots held now (one CPU), as a stack threaded through the slots and
/// named by their addresses, which is what a guard keeps (an interrupt
/// handler that takes a slot gives it back before it returns, so it finds
/// the stack whole and leaves it so):
///
/// - `TOP`: the address of the slot taken last; `NONE` when none is held;
/// - `BELOW[i]`, for the slot at `KMAP_LOW + i` pages: 0 while it is free;
///   while it is held, the `TOP` it covered (never 0).
///
/// Taking a slot is then a test and two stores; giving back the last one
/// taken one compare (which also tells a lowmem address, never a `TOP`)
/// and two stores, the page number of the address indexing both `BELOW`
/// and the fixmap page table (later Linux's `kmap_atomic_idx_push` and
/// `_pop`, which keep a depth, are as cheap, but choose the slot by depth
/// and cannot tell a type taken twice).
static TOP: AtomicUsize = AtomicUsize::new(NONE);
static BELOW: [AtomicUsize; KM_TYPE_NR] = [const { AtomicUsize::new(0) }; KM_TYPE_NR];
/// Not 0 (a free `BELOW`) and not a page address (a guard's).
const NONE: usize = 1;

/// The lowest slot address: type `KM_TYPE_NR - 1`'s (fixmap indexes count
/// down from `FIXADDR_TOP`), so `BELOW` is in reverse type order.
const KMAP_LOW: usize = fix_to_virt(FIX_KMAP_BEGIN + KM_TYPE_NR - 1);

#[inline(always)]
const fn below_index(t: KmType) -> usize {
    KM_TYPE_NR - 1 - t as usize
}

/// `BELOW` of the slot at `vaddr`.
///
/// # Safety
/// `vaddr` is a kmap_atomic slot's address.
#[inline(always)]
unsafe fn below_at(vaddr: usize) -> &'static AtomicUsize {
    // Page numbers, not (vaddr - KMAP_LOW) >> PAGE_SHIFT: the subtraction
    // then folds into the address (one shift, no range check).
    // SAFETY: a slot address is KMAP_LOW plus i < KM_TYPE_NR pages.
    unsafe { &*BELOW.as_ptr().add((vaddr >> PAGE_SHIFT) - (KMAP_LOW >> PAGE_SHIFT)) }
}

/// The frames `kmap_atomic` maps without further checks: lowmem below
/// `HIGH_BASE` (`max_low_pfn`), highmem from there up to `HIGH_END`
/// (`max_pfn`, no larger than a PTE can name). Both 0 until the first call
/// that finds paging_init done and the frame counts known
/// (`kmap_atomic_slow`) sets them, so the fast path tells lowmem, then "a
/// highmem frame it may map", with one compare each, where it made four
/// (`max_pfn`, the PTE limit, the fixmap being ready, `max_low_pfn`);
/// neither bound changes once set, but `max_pfn` may grow (then set again).
static HIGH_BASE: AtomicUsize = AtomicUsize::new(0);
static HIGH_END: AtomicUsize = AtomicUsize::new(0);

/// The address of the slot taken last, `None` when no slot is held (for
/// tests: a lowmem guard leaves it alone).
pub fn kmap_atomic_top() -> Option<usize> {
    let top = TOP.load(Ordering::Relaxed);
    (top != NONE).then_some(top)
}

/// Misuses caught (out-of-order release, slot type reused): for tests.
pub static MISUSES: AtomicUsize = AtomicUsize::new(0);

/// One page mapped by `kmap_atomic`; unmapped when dropped.
///
/// One word, the address: a slot's address names the slot (its type, its
/// `BELOW` and its PTE all follow from it), and a lowmem page's direct-map
/// address is below `FIXADDR_START` (2.6.24's `kunmap_atomic` compares the
/// address with its slot's; from 2.6.37 `__kunmap_atomic` tests
/// `vaddr < FIXADDR_START`, as here).
pub struct KmapAtomic {
    vaddr: usize,
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
/// PTE, the address and the slot's `BELOW` are constants too; the slow
/// paths (the first call, and misuse reports) are out of line. Linux:
/// `kmap_atomic_prot` (a `pagefault_disable`, a slot, `set_pte`).
#[inline(always)]
pub fn kmap_atomic(pfn: u32, t: KmType) -> Result<KmapAtomic, KmapAtomicError> {
    // Linux: `if (!PageHighMem(page)) return page_address(page)`.
    if (pfn as usize) < HIGH_BASE.load(Ordering::Relaxed) {
        return Ok(kmap_atomic_lowmem(pfn));
    }
    if (pfn as usize) < HIGH_END.load(Ordering::Relaxed) {
        preempt_disable();
        pagefault_disable();
        let below = &BELOW[below_index(t)];
        if below.load(Ordering::Relaxed) != 0 {
            return Err(slot_in_use(t));
        }
        let vaddr = fix_to_virt(slot_index(t));
        kmap_atomic_idx_push(below, vaddr);
        // SAFETY: the slot of type `t` was just taken for this guard, so it
        // is this caller's until the guard drops; the frame is in
        // [max_low_pfn, max_pfn): RAM, a PTE can name it, and the fixmap is
        // installed (HIGH_END is 0 until then).
        unsafe { set_fixmap_prechecked(slot_index(t), pfn as usize) };
        return Ok(KmapAtomic { vaddr, _not_send: PhantomData });
    }
    kmap_atomic_slow(pfn, t)
}

/// Take the free slot at `vaddr`, whose `BELOW` is `below`: it covers the
/// slot taken last and becomes `TOP` (later Linux's `kmap_atomic_idx_push`).
///
/// The slot words are shared with interrupt handlers (the Irq slots), yet
/// plain loads and stores suffice, as for Linux's per-CPU counters: a
/// handler releases every slot it takes before it returns, so one that
/// runs between a load and its store leaves the words as it found them.
#[inline(always)]
fn kmap_atomic_idx_push(below: &AtomicUsize, vaddr: usize) {
    below.store(TOP.load(Ordering::Relaxed), Ordering::Relaxed);
    TOP.store(vaddr, Ordering::Relaxed);
}

/// Give back the slot at `vaddr`, which is `TOP`: what it covered is `TOP`
/// again, and its `BELOW` is free (later Linux's `kmap_atomic_idx_pop`).
///
/// # Safety
/// `vaddr` is `TOP` and not `NONE`: a held slot's address.
#[inline(always)]
unsafe fn kmap_atomic_idx_pop(vaddr: usize) {
    // SAFETY: a slot's address, by the caller's contract.
    let below = unsafe { below_at(vaddr) };
    TOP.store(below.load(Ordering::Relaxed), Ordering::Relaxed);
    below.store(0, Ordering::Relaxed);
}

/// A lowmem frame: no slot, only faults and preemption off.
#[inline(always)]
fn kmap_atomic_lowmem(pfn: u32) -> KmapAtomic {
    preempt_disable();
    pagefault_disable();
    KmapAtomic { vaddr: phys_to_virt((pfn as usize) << PAGE_SHIFT), _not_send: PhantomData }
}

/// `kmap_atomic` of a frame at or beyond `HIGH_END`, and not lowmem below
/// a `HIGH_BASE` already set: a frame beyond RAM
/// (refused), or the bounds not set yet (set now if the fixmap is
/// installed and `mm_init` has counted the frames; before paging_init
/// only lowmem can be mapped).
#[cold]
#[inline(never)]
fn kmap_atomic_slow(pfn: u32, t: KmType) -> Result<KmapAtomic, KmapAtomicError> {
    let max_pfn = crate::mm::mmzone::max_pfn();
    let max_low_pfn = crate::mm::mmzone::max_low_pfn();
    let mappable = max_pfn.min(PTE_PFN_LIMIT);
    if pfn as usize >= mappable {
        return Err(bad_pfn("kmap_atomic", pfn));
    }
    if fixmap::ready() && max_low_pfn != 0 {
        // Base first: an interrupt between the two stores finds lowmem
        // right, and the end still 0 sends the rest here too.
        HIGH_BASE.store(max_low_pfn, Ordering::Relaxed);
        HIGH_END.store(mappable, Ordering::Relaxed);
        // pfn < mappable: the fast path takes it now, never this path again.
        return kmap_atomic(pfn, t);
    }
    if (pfn as usize) >= max_low_pfn {
        panic!("kmap_atomic of highmem pfn {:#x} before paging_init installed the fixmap", pfn);
    }
    Ok(kmap_atomic_lowmem(pfn))
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

/// The slot at `vaddr` released while it is not the last taken: unmap it
/// (its slot is its own, so the other mappings stay right), take it out of
/// the middle of the stack (the slot taken just after it now covers what it
/// covered) and report the caller's bug, naming the slot type.
///
/// # Safety
/// `vaddr` is the address of a slot held by the guard being dropped.
#[cold]
#[inline(never)]
unsafe fn release_out_of_order(vaddr: usize) {
    MISUSES.fetch_add(1, Ordering::Relaxed);
    // As `Drop`: the address is dead before the stack words are moved.
    // SAFETY: the slot was the guard's, and the guard is going.
    unsafe { clear_fixmap_at(vaddr) };
    // SAFETY: a held slot's address, by the caller's contract.
    let below = unsafe { below_at(vaddr) };
    let covered = below.load(Ordering::Relaxed);
    if let Some(above) = BELOW.iter().find(|b| b.load(Ordering::Relaxed) == vaddr) {
        above.store(covered, Ordering::Relaxed);
    }
    below.store(0, Ordering::Relaxed);
    let t = KmType::ALL.into_iter().find(|&t| kmap_atomic_vaddr(t) == vaddr);
    crate::kernel::panic::warn(format_args!(
        "BUG: kunmap_atomic({:?} at {:#x}) out of order: the last kmap_atomic taken must be released first",
        t.expect("a held slot's address is a slot type's"),
        vaddr
    ));
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
        let vaddr = self.vaddr;
        // Plain loads and stores: see `kmap_atomic_idx_push`. TOP is NONE or a slot
        // address: equal to this guard's address only if it holds the slot
        // taken last (a lowmem address is never a TOP).
        if TOP.load(Ordering::Relaxed) == vaddr {
            // Unmap first, then give the slot back (no handler can take it
            // meanwhile: it is still held), so that the address is dead
            // before the stack words are moved.
            // LAB 4: BEGIN kunmap_atomic: clear the slot's PTE and its TLB entry (kpte_clear_flush)
            // SAFETY: the slot was this guard's, and the guard is going.
            unsafe { clear_fixmap_at(vaddr) };
            // LAB 4: STUB
            // let _ = clear_fixmap_at as unsafe fn(usize);
            // LAB 4: END
            // SAFETY: vaddr equals TOP and is not NONE: a slot's address.
            unsafe { kmap_atomic_idx_pop(vaddr) };
        } else if vaddr >= FIXADDR_START {
            // SAFETY: a guard at a fixmap address holds that slot.
            unsafe { release_out_of_order(vaddr) };
        }
        pagefault_enable();
        preempt_enable();
    }
}
