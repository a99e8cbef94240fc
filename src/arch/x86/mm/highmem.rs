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

use super::init::fixmap::{self, clear_fixmap, fix_to_virt, set_fixmap_prechecked, FIX_KMAP_BEGIN, PTE_PFN_LIMIT};
use crate::arch::x86::lib::uaccess::{pagefault_disable, pagefault_enable};
use crate::kernel::preempt::{preempt_disable, preempt_enable};
use crate::layout::{phys_to_virt, FIXADDR_START, PAGE_SHIFT, PAGE_SIZE};
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

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

/// The types held now (one CPU), as a stack threaded through the types
/// (an interrupt handler that takes a slot gives it back before it
/// returns, so it finds the stack whole and leaves it so):
///
/// - `TOP`: the type taken last, as `HELD | type`; `HELD | NONE` when
///   none is held;
/// - `BELOW[t]`: 0 while `t` is free; while it is held, the `TOP` it
///   covered (never 0: `HELD` is set in every `TOP`).
///
/// Taking a slot is then a test and two stores; giving back the last one
/// taken a compare and two stores (later Linux's `kmap_atomic_idx_push`
/// and `_pop`, which keep a depth, are as cheap, but choose the slot by
/// depth and cannot tell a type taken twice).
static TOP: AtomicU8 = AtomicU8::new(HELD | NONE);
static BELOW: [AtomicU8; KM_TYPE_NR] = [const { AtomicU8::new(0) }; KM_TYPE_NR];
const HELD: u8 = 0x80;
const NONE: u8 = 0x7f;
const _: () = assert!(KM_TYPE_NR < NONE as usize, "a TOP value holds a type below NONE");

/// `HELD | t`: one `or` from the type, which the drop has at hand.
#[inline(always)]
const fn top_of(t: KmType) -> u8 {
    HELD | t as u8
}

/// The highmem frames `kmap_atomic` maps without further checks: from
/// `HIGH_BASE` (`max_low_pfn`) up to `HIGH_BASE + HIGH_SPAN` (`max_pfn`,
/// no larger than a PTE can name). Both 0 until the first call that finds
/// paging_init done and the frame counts known (`kmap_atomic_slow`) sets
/// them, so the fast path tells "a highmem frame it may map" with one
/// subtraction and one unsigned compare, where it made four (`max_pfn`,
/// the PTE limit, the fixmap being ready, `max_low_pfn`); neither bound
/// changes once set, but `max_pfn` may grow (then set again).
static HIGH_BASE: AtomicUsize = AtomicUsize::new(0);
static HIGH_SPAN: AtomicUsize = AtomicUsize::new(0);

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
/// PTE and address are constants too; the slow paths (the first call, and
/// misuse reports) are out of line. Linux: `kmap_atomic_prot` (a
/// `pagefault_disable`, a slot, `set_pte`).
#[inline(always)]
pub fn kmap_atomic(pfn: u32, t: KmType) -> Result<KmapAtomic, KmapAtomicError> {
    // One compare for "highmem, and mappable": below HIGH_BASE the
    // subtraction wraps to a huge number.
    if (pfn as usize).wrapping_sub(HIGH_BASE.load(Ordering::Relaxed)) < HIGH_SPAN.load(Ordering::Relaxed) {
        take_slot(t)?;
        // SAFETY: the slot of type `t` was just taken for this guard, so it
        // is this caller's until the guard drops; the frame is in
        // [max_low_pfn, max_pfn): RAM, a PTE can name it, and the fixmap is
        // installed (HIGH_SPAN is 0 until then).
        let vaddr = unsafe { set_fixmap_prechecked(slot_index(t), pfn as usize) };
        return Ok(KmapAtomic { vaddr, km_type: t, _not_send: PhantomData });
    }
    // Linux: `if (!PageHighMem(page)) return page_address(page)`.
    if (pfn as usize) < HIGH_BASE.load(Ordering::Relaxed) {
        take_slot(t)?;
        let vaddr = phys_to_virt((pfn as usize) << PAGE_SHIFT);
        return Ok(KmapAtomic { vaddr, km_type: t, _not_send: PhantomData });
    }
    kmap_atomic_slow(pfn, t)
}

/// Turn page faults and preemption off and take the slot of type `t`, or
/// refuse (and report) a type already held.
#[inline(always)]
fn take_slot(t: KmType) -> Result<(), KmapAtomicError> {
    preempt_disable();
    pagefault_disable();
    // The slot words are shared with interrupt handlers (the Irq slots),
    // yet plain loads and stores suffice, as for Linux's per-CPU counters:
    // a handler releases every slot it takes before it returns, so one
    // that runs between a load and its store leaves the words as it found
    // them.
    let below = &BELOW[t as usize];
    if below.load(Ordering::Relaxed) != 0 {
        return Err(slot_in_use(t));
    }
    below.store(TOP.load(Ordering::Relaxed), Ordering::Relaxed);
    TOP.store(top_of(t), Ordering::Relaxed);
    Ok(())
}

/// `kmap_atomic` of a frame outside `[HIGH_BASE, HIGH_BASE + HIGH_SPAN)`
/// and not lowmem below a `HIGH_BASE` already set: a frame beyond RAM
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
        // Base first: an interrupt between the two stores sees the span
        // still 0 and comes here too.
        HIGH_BASE.store(max_low_pfn, Ordering::Relaxed);
        HIGH_SPAN.store(mappable.saturating_sub(max_low_pfn), Ordering::Relaxed);
        // pfn < mappable: the fast path takes it now, never this path again.
        return kmap_atomic(pfn, t);
    }
    if (pfn as usize) >= max_low_pfn {
        panic!("kmap_atomic of highmem pfn {:#x} before paging_init installed the fixmap", pfn);
    }
    take_slot(t)?;
    let vaddr = phys_to_virt((pfn as usize) << PAGE_SHIFT);
    Ok(KmapAtomic { vaddr, km_type: t, _not_send: PhantomData })
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

/// `t` released while it is not the last taken: take it out of the
/// middle of the stack (the type taken just after it now covers what `t`
/// covered) and report the caller's bug. Its mapping is still undone by
/// the caller: its slot is its own.
#[cold]
#[inline(never)]
fn release_out_of_order(t: KmType) {
    MISUSES.fetch_add(1, Ordering::Relaxed);
    crate::kernel::panic::warn(format_args!(
        "BUG: kunmap_atomic({:?}) out of order: the last kmap_atomic taken must be released first",
        t
    ));
    let covered = BELOW[t as usize].load(Ordering::Relaxed);
    if let Some(above) = BELOW.iter().find(|b| b.load(Ordering::Relaxed) == top_of(t)) {
        above.store(covered, Ordering::Relaxed);
    }
    BELOW[t as usize].store(0, Ordering::Relaxed);
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
        // Plain loads and stores: see `take_slot`.
        if TOP.load(Ordering::Relaxed) == top_of(t) {
            let below = &BELOW[t as usize];
            TOP.store(below.load(Ordering::Relaxed), Ordering::Relaxed);
            below.store(0, Ordering::Relaxed);
        } else {
            release_out_of_order(t);
        }
        // LAB 4: BEGIN kunmap_atomic: clear the slot's PTE and its TLB entry (kpte_clear_flush)
        if self.vaddr >= FIXADDR_START {
            // SAFETY: the slot was this guard's, and the guard is going.
            unsafe { clear_fixmap(slot_index(t)) };
        }
        // LAB 4: STUB
        // let _ = clear_fixmap as unsafe fn(usize);
        // LAB 4: END
        pagefault_enable();
        preempt_enable();
    }
}
