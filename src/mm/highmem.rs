//! Persistent kmaps (Linux 2.6.24's mm/highmem.c): a highmem page gets a
//! kernel address in one of `LAST_PKMAP` slots of the pkmap page table for
//! as long as its users need it, and may sleep to get one.
//!
//! The slot bookkeeping is `mm::pkmap` (pure, host-tested); this file does
//! what it asks of the machine: write a PTE for a new slot, clear the stale
//! PTEs and do ONE full TLB flush when the round-robin search wraps, and
//! sleep on a wait queue while every slot is in use. Unmapping writes no PTE
//! at all: the slot becomes "free but stale" until the next wrap, which is
//! why kmap/kunmap of a hot page costs no TLB flush.
//!
//! Also the page helpers built on `kmap_atomic`: `clear_highpage`,
//! `copy_highpage`, `memcpy_to_page`, `memcpy_from_page`.

use super::mmzone::max_low_pfn;
use super::pkmap::{self, KmapResult, Pkmap, PkmapStats, PkmapTotals, SlotInfo};
use crate::arch::x86::cpu::flush_tlb_all;
use crate::arch::x86::mm::highmem::{bad_pfn, kmap_atomic, KmType, KmapAtomic};
use crate::arch::x86::mm::init::set_pkmap_pte;
use crate::kernel::preempt::might_sleep;
use crate::kernel::sync::{SpinLock, SpinLockGuard};
use crate::kernel::wait::WaitQueue;
use crate::layout::{phys_to_virt, PAGE_SHIFT, PAGE_SIZE};
use core::marker::PhantomData;
use core::num::NonZeroUsize;

/// Linux's `kmap_lock`, which `kmap_high` takes with a plain `spin_lock`:
/// preemption off, interrupts not masked. Nothing touches the table from an
/// interrupt handler (`kmap` may sleep, and `page_address` is asked from
/// thread context only); a handler that breaks this rule while a holder is
/// interrupted finds the lock held and panics with a "spinlock recursion"
/// report, where Linux would deadlock. Masking interrupts as well (as an
/// `IrqLock` does) cost about 20 instructions a kmap+kunmap pair.
static PKMAP: SpinLock<Pkmap> = SpinLock::new(Pkmap::new());
static PKMAP_WAIT: WaitQueue = WaitQueue::new();

/// A page mapped by `kmap`; `kunmap` happens on drop.
///
/// Two words: whether the page is highmem is not stored but read from the
/// address (a pkmap address, or a direct-map one, which is never inside the
/// pkmap area), as Linux's `kunmap` asks `PageHighMem` and `kunmap_high`
/// takes `PKMAP_NR(vaddr)`.
pub struct Kmap {
    pfn: u32,
    /// Never 0 (a kernel address): `Result<Kmap, KmapError>` then fits
    /// two registers.
    vaddr: NonZeroUsize,
    _not_send: PhantomData<*const ()>,
}
const _: () = assert!(core::mem::size_of::<Result<Kmap, KmapError>>() == 8, "kmap's result must fit two registers");
const _: () =
    assert!(crate::layout::HIGH_MEMORY_MAX <= crate::layout::PKMAP_BASE, "a direct-map address would look like a slot");

impl Kmap {
    /// # Safety
    /// `vaddr` is a kernel address (so not 0) that maps frame `pfn` while
    /// the guard lives: the direct map, or a pkmap slot whose count took
    /// the guard as one user.
    #[inline(always)]
    unsafe fn new(pfn: u32, vaddr: usize) -> Kmap {
        // SAFETY: a kernel address is at least PAGE_OFFSET.
        Kmap { pfn, vaddr: unsafe { NonZeroUsize::new_unchecked(vaddr) }, _not_send: PhantomData }
    }
    pub fn vaddr(&self) -> usize {
        self.vaddr.get()
    }
    pub fn pfn(&self) -> u32 {
        self.pfn
    }
    /// The page's bytes.
    ///
    /// # Safety
    /// The caller owns the frame and nobody writes it through another
    /// mapping (another `Kmap` of the same page included) meanwhile.
    pub unsafe fn as_slice(&self) -> &[u8; PAGE_SIZE] {
        // SAFETY: vaddr maps the whole page while the guard lives (the slot
        // keeps a user count, so it is not reused); no writer, by contract.
        unsafe { &*(self.vaddr() as *const [u8; PAGE_SIZE]) }
    }

    /// The page's bytes, writable.
    ///
    /// # Safety
    /// The caller owns the frame and holds no other reference to its bytes
    /// (two `Kmap`s of one page map the same bytes).
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8; PAGE_SIZE] {
        // SAFETY: as above, exclusivity by contract.
        unsafe { &mut *(self.vaddr() as *mut [u8; PAGE_SIZE]) }
    }
}

/// Why `kmap` mapped nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KmapError {
    /// The frame is at or beyond `max_pfn`: no RAM the kernel manages (and
    /// from 2^20 on, not even a frame a PTE can name). Reported when refused.
    BadPfn(u32),
}

impl core::fmt::Display for KmapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            KmapError::BadPfn(pfn) => write!(f, "pfn {:#x} is beyond max_pfn; nothing mapped", pfn),
        }
    }
}

/// Map frame `pfn` into the kernel: its direct-map address for lowmem, a
/// pkmap slot for highmem. May sleep (when every slot is in use): calling it
/// where sleeping is not allowed is reported as a bug. A frame at or beyond
/// `max_pfn` is refused and reported.
///
/// Inline for the common cases: lowmem, and a page that already has a slot
/// (one hash probe and a count under the lock; no PTE, no flush). A page
/// that needs a new slot goes to `kmap_new`, with the lock still held.
#[track_caller]
#[inline(always)]
pub fn kmap(pfn: u32) -> Result<Kmap, KmapError> {
    // LAB 4: BEGIN a lowmem page needs no slot: it is always in the direct map
    if (pfn as usize) < max_low_pfn() {
        might_sleep("kmap");
        // SAFETY: the direct map covers every lowmem frame, always.
        return Ok(unsafe { Kmap::new(pfn, phys_to_virt((pfn as usize) << PAGE_SHIFT)) });
    }
    // LAB 4: STUB
    // let _ = might_sleep as fn(&str); // every page, lowmem too, takes a pkmap slot
    // LAB 4: END
    // Linux's kmap: might_sleep() first, then kmap_high takes kmap_lock.
    might_sleep("kmap");
    let mut pk = PKMAP.lock();
    // A page found in a slot passed the max_pfn check when it got the slot:
    // only a page without one is checked (Linux's kmap_high: the hit is a
    // lookup and a count).
    Ok(match pk.kmap_mapped(pfn) {
        // SAFETY: the slot maps the page, and its count took this user.
        Some(slot) => unsafe { Kmap::new(pfn, pkmap::vaddr(slot)) },
        None if pfn as usize >= super::mmzone::max_pfn() => return Err(kmap_bad_pfn(pk, pfn)),
        None => kmap_new(pk, pfn),
    })
}

/// A frame at or beyond `max_pfn` (no RAM the kernel manages): refused,
/// reported, nothing mapped.
#[cold]
#[inline(never)]
fn kmap_bad_pfn(pk: SpinLockGuard<'static, Pkmap>, pfn: u32) -> KmapError {
    drop(pk);
    bad_pfn("kmap", pfn);
    KmapError::BadPfn(pfn)
}

/// `kmap` of a highmem page that `kmap_mapped` found without a slot (RAM:
/// checked against `max_pfn`), called with the pkmap lock still held: take
/// a slot (the PTEs of the stale ones cleared and the TLB flushed once if
/// the search wraps), or sleep until one is free. Out of line, so that
/// `kmap` inlines only the lookup. `might_sleep` has already checked
/// that sleeping is allowed (Linux's `kmap_high` checks nothing more).
#[inline(never)]
fn kmap_new(mut pk: SpinLockGuard<'static, Pkmap>, pfn: u32) -> Kmap {
    // The page was just looked up under this hold of the lock: no second
    // lookup. After a sleep it is looked up again (another kmap may have
    // given it a slot meanwhile).
    let mut r = pk.kmap_new(pfn, clear_pkmap_pte);
    loop {
        if let KmapResult::Mapped { vaddr, slot, new, flushed } = r {
            if flushed {
                flush_tlb_all();
            }
            if new {
                // The slot was count 0: no TLB entry can exist for it.
                set_pkmap_pte(slot, Some(pfn));
            }
            // SAFETY: the slot maps the page (its PTE written above, or
            // already there), and its count took this user.
            return unsafe { Kmap::new(pfn, vaddr) };
        }
        drop(pk);
        // Every slot has users: sleep until a kunmap frees one.
        PKMAP_WAIT.wait_event(|| PKMAP.lock().totals().in_use < crate::layout::LAST_PKMAP);
        pk = PKMAP.lock();
        r = pk.kmap(pfn, clear_pkmap_pte);
    }
}

/// Clear the PTE of a slot a wrap-around freed (Linux's `pte_clear` in
/// `flush_all_zero_pkmaps`); the TLB is flushed once after all of them.
fn clear_pkmap_pte(slot: usize) {
    set_pkmap_pte(slot, None);
}

impl Drop for Kmap {
    #[inline(always)]
    fn drop(&mut self) {
        // A guard's address is a direct-map one, below PKMAP_BASE (lowmem:
        // nothing to do), or a slot's. The slot comes from the address, as
        // Linux's PKMAP_NR(vaddr): no hash lookup (kunmap_busy checks it
        // against the page anyway); the mask keeps the page number within
        // the table, where it is (the area is aligned to its size).
        let vaddr = self.vaddr();
        if vaddr < crate::layout::PKMAP_BASE {
            return;
        }
        let slot = (vaddr >> PAGE_SHIFT) & (crate::layout::LAST_PKMAP - 1);
        let mut pk = PKMAP.lock();
        // Inline only the common case, a slot that keeps other users: the
        // last user (a wake-up to consider) and a mismatch go out of line.
        if !pk.kunmap_busy(slot, self.pfn) {
            kunmap_last(pk, slot, self.pfn);
        }
    }
}

/// `kunmap` that `kunmap_busy` left: the last user of the slot leaving (a
/// `kmap` sleeping for a free slot may go on now: Linux's `kunmap_high`
/// wakes `pkmap_map_wait`), or a page not held in the slot its address
/// names (the checked `kunmap` names the caller's bug; never ignored).
#[inline(never)]
fn kunmap_last(mut pk: SpinLockGuard<'static, Pkmap>, slot: usize, pfn: u32) {
    match pk.kunmap_slot(slot, pfn) {
        Some(false) => {}
        Some(true) => {
            drop(pk);
            PKMAP_WAIT.wake_up_all();
        }
        None => kunmap_checked(pk, pfn),
    }
}

/// The page is not held in the slot its address names: let the checked
/// `kunmap` decide (a caller's bug is reported, never ignored).
#[cold]
#[inline(never)]
fn kunmap_checked(mut pk: SpinLockGuard<'static, Pkmap>, pfn: u32) {
    let result = pk.kunmap(pfn);
    drop(pk);
    match result {
        Ok(r) if r.wake => PKMAP_WAIT.wake_up_all(),
        Ok(_) => {}
        Err(e) => crate::kernel::panic::warn(format_args!("BUG: {}", e)),
    }
}

/// The pkmap address of a highmem page, if it has one now (`page_address`).
/// Thread context only: the pkmap lock does not mask interrupts (Linux's
/// `page_address` has interrupt-safe bucket locks of its own).
pub fn page_address(pfn: u32) -> Option<usize> {
    if (pfn as usize) < max_low_pfn() {
        return Some(phys_to_virt((pfn as usize) << PAGE_SHIFT));
    }
    PKMAP.lock().page_address(pfn)
}

/// A snapshot for the `kmaps` report (occupied slots, totals, stats).
pub fn with_pkmap<R>(f: impl FnOnce(&mut dyn Iterator<Item = SlotInfo>, PkmapTotals, PkmapStats) -> R) -> R {
    let pk = PKMAP.lock();
    let (totals, stats) = (pk.totals(), pk.stats());
    let r = f(&mut pk.slots(), totals, stats);
    drop(pk);
    r
}

/// `#[inline]` so that whether the benchmarks' kmap rows get it inlined
/// does not depend on how rustc splits the crate into codegen units (out of
/// line, the rows around it measured one instruction more).
#[inline]
pub fn pkmap_stats() -> PkmapStats {
    PKMAP.lock().stats()
}

fn atomic(pfn: u32, t: KmType) -> KmapAtomic {
    kmap_atomic(pfn, t).unwrap_or_else(|e| panic!("kmap_atomic: {:?}", e))
}

/// The slot for the one-page helpers: `Bounce` in thread context, `Irq0`
/// in an interrupt handler (which may interrupt a thread holding `Bounce`;
/// handlers do not nest), as Linux picks KM_USER0 or KM_IRQ0.
fn helper_slot() -> KmType {
    if crate::kernel::preempt::in_interrupt() {
        KmType::Irq0
    } else {
        KmType::Bounce
    }
}

/// Zero a frame (Linux's `clear_highpage`).
///
/// # Safety
/// The caller owns frame `pfn` and nothing else uses its bytes meanwhile.
pub unsafe fn clear_highpage(pfn: u32) {
    // SAFETY: the caller owns the frame.
    crate::arch::x86::cpu::clear_page(unsafe { atomic(pfn, helper_slot()).as_mut_slice() });
}

/// Copy frame `from` to frame `to`, two atomic slots at once (`copy_highpage`).
///
/// # Safety
/// The caller owns both frames, they are distinct, and nothing else uses
/// them meanwhile.
pub unsafe fn copy_highpage(to: u32, from: u32) {
    assert_ne!(to, from, "copy_highpage onto itself");
    let src = atomic(from, KmType::User0);
    let mut dst = atomic(to, KmType::User1);
    // SAFETY: two distinct frames the caller owns.
    crate::arch::x86::cpu::copy_page(unsafe { dst.as_mut_slice() }, unsafe { src.as_slice() });
    drop(dst); // stack order: the last taken goes first
    drop(src);
}

/// Copy `data` into frame `pfn` at `offset` (`memcpy_to_page`).
///
/// # Safety
/// The caller owns frame `pfn`, and `data` does not live in it.
pub unsafe fn memcpy_to_page(pfn: u32, offset: usize, data: &[u8]) {
    assert!(offset + data.len() <= PAGE_SIZE, "memcpy_to_page: {} bytes at {} cross the page", data.len(), offset);
    // SAFETY: the caller owns the frame; `data` is elsewhere.
    unsafe { atomic(pfn, helper_slot()).as_mut_slice()[offset..offset + data.len()].copy_from_slice(data) };
}

/// Copy out of frame `pfn` at `offset` (`memcpy_from_page`).
///
/// # Safety
/// The caller owns frame `pfn`, and `out` does not live in it.
pub unsafe fn memcpy_from_page(out: &mut [u8], pfn: u32, offset: usize) {
    assert!(offset + out.len() <= PAGE_SIZE, "memcpy_from_page: {} bytes at {} cross the page", out.len(), offset);
    // SAFETY: the caller owns the frame; `out` is elsewhere.
    out.copy_from_slice(unsafe { &atomic(pfn, helper_slot()).as_slice()[offset..offset + out.len()] });
}
