//! TLB flushes for one address space (Linux's arch/x86/mm/tlb.c and the
//! i386 `flush_tlb_*` of include/asm-x86/tlbflush_32.h).
//!
//! An address space is named by its page directory's physical address,
//! the value CR3 holds (Linux compares `mm` with `cpu_tlbstate.active_mm`;
//! on one CPU that is the same as comparing with CR3). Only the loaded one
//! can have entries in the TLB: loading CR3 dropped every non-global entry
//! of the one before, and user mappings are never global. So a flush for
//! an address space not loaded has nothing to do.
//!
//! A range is flushed one `invlpg` per page up to
//! `tlb_single_page_flush_ceiling` pages (33, Linux 3.13's value: past it
//! refilling the whole TLB costs less than the `invlpg`s), and with one
//! CR3 reload beyond.

pub use super::super::cpu::flush_tlb_all;
use super::super::cpu::{flush_tlb_local, flush_tlb_one, read_cr3};
use crate::layout::{PAGE_SIZE, TASK_SIZE};
use core::sync::atomic::{AtomicUsize, Ordering};

/// Pages a range may have and still be flushed page by page (Linux's
/// `tlb_single_page_flush_ceiling`, tunable there through debugfs).
pub static TLB_SINGLE_PAGE_FLUSH_CEILING: AtomicUsize = AtomicUsize::new(33);

/// Linux's vmstat TLB events: pages flushed one by one, and whole-TLB
/// flushes, by the calls below.
pub static NR_TLB_LOCAL_FLUSH_ONE: AtomicUsize = AtomicUsize::new(0);
pub static NR_TLB_LOCAL_FLUSH_ALL: AtomicUsize = AtomicUsize::new(0);
/// Flushes asked for an address space that is not loaded: nothing done.
pub static NR_TLB_FLUSH_NOT_LOADED: AtomicUsize = AtomicUsize::new(0);
/// Ranges refused (not in user space, or reversed): reported, and the
/// whole TLB flushed instead.
pub static NR_TLB_BAD_RANGES: AtomicUsize = AtomicUsize::new(0);

/// Whether the address space of directory `pgd_phys` is the one in CR3.
#[inline]
fn loaded(pgd_phys: usize) -> bool {
    if (read_cr3() as usize & !(PAGE_SIZE - 1)) == pgd_phys {
        return true;
    }
    NR_TLB_FLUSH_NOT_LOADED.fetch_add(1, Ordering::Relaxed);
    false
}

/// Every user mapping of the address space (Linux's `flush_tlb_mm`).
pub fn flush_tlb_mm(pgd_phys: usize) {
    if loaded(pgd_phys) {
        NR_TLB_LOCAL_FLUSH_ALL.fetch_add(1, Ordering::Relaxed);
        flush_tlb_local();
    }
}

/// The mapping of one user page (Linux's `flush_tlb_page`).
pub fn flush_tlb_page(pgd_phys: usize, addr: usize) {
    if loaded(pgd_phys) {
        NR_TLB_LOCAL_FLUSH_ONE.fetch_add(1, Ordering::Relaxed);
        flush_tlb_one(addr);
    }
}

/// The user mappings in `[start, end)` (Linux's `flush_tlb_range`, with
/// the ceiling of `flush_tlb_mm_range`). A range that is not in user space
/// is a caller's bug: reported, and the whole TLB, global entries too, is
/// flushed instead so that nothing stale survives.
pub fn flush_tlb_range(pgd_phys: usize, start: usize, end: usize) {
    if start > end || end > TASK_SIZE {
        return bad_range(start, end);
    }
    if loaded(pgd_phys) {
        flush_pages(start, end, flush_tlb_local);
    }
}

/// Kernel mappings in `[start, end)`, which every address space shares and
/// which may be global (Linux's `flush_tlb_kernel_range`): past the ceiling
/// the full flush must drop global entries too.
pub fn flush_tlb_kernel_range(start: usize, end: usize) {
    if start > end || start < TASK_SIZE {
        return bad_range(start, end);
    }
    flush_pages(start, end, flush_tlb_all);
}

/// One `invlpg` per page up to the ceiling, else `full`.
fn flush_pages(start: usize, end: usize, full: fn()) {
    if start == end {
        return;
    }
    let first = start & !(PAGE_SIZE - 1);
    let pages = (end - first).div_ceil(PAGE_SIZE);
    if pages > TLB_SINGLE_PAGE_FLUSH_CEILING.load(Ordering::Relaxed) {
        NR_TLB_LOCAL_FLUSH_ALL.fetch_add(1, Ordering::Relaxed);
        full();
        return;
    }
    NR_TLB_LOCAL_FLUSH_ONE.fetch_add(pages, Ordering::Relaxed);
    for i in 0..pages {
        flush_tlb_one(first + i * PAGE_SIZE);
    }
}

#[cold]
#[inline(never)]
fn bad_range(start: usize, end: usize) {
    NR_TLB_BAD_RANGES.fetch_add(1, Ordering::Relaxed);
    crate::kernel::panic::warn(format_args!(
        "BUG: TLB flush of range {:#010x}-{:#010x} on the wrong side of TASK_SIZE {:#010x} (or reversed); flushing the whole TLB instead",
        start, end, TASK_SIZE
    ));
    flush_tlb_all();
}
