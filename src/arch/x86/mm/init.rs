//! Early paging (Linux's arch/x86/mm/init_32.c, the part before the page
//! allocator). boot.S built `swapper_pg_dir`: the first 8 MB through two 4 KB
//! page tables (`early_pt`) and the rest of lowmem with 4 MB pages, plus an
//! identity mapping of the first 8 MB for the jump to the higher half.

use super::super::cpu::{flush_tlb_all, flush_tlb_one};
use crate::layout::{virt_to_phys, EARLY_PT_BYTES, KERNEL_PGD_FIRST, PAGE_OFFSET, PAGE_SHIFT};
use core::ptr::addr_of_mut;

extern "C" {
    static mut swapper_pg_dir: [u32; 1024];
    static mut early_pt: [u32; 2048];
}

/// Remove the identity mapping now that we run in the higher half: a stray
/// user-space pointer in the kernel must fault, not hit low physical memory.
pub fn zap_low_mappings() {
    // SAFETY: the kernel runs at PAGE_OFFSET and no code or data is reached
    // through the identity entries any more; single CPU, interrupts off.
    unsafe {
        let pgd = &mut *addr_of_mut!(swapper_pg_dir);
        for entry in pgd.iter_mut().take(KERNEL_PGD_FIRST) {
            *entry = 0;
        }
    }
    flush_tlb_all();
}

/// Physical address of the kernel's page directory.
pub fn swapper_pg_dir_phys() -> usize {
    virt_to_phys(addr_of_mut!(swapper_pg_dir) as usize)
}

/// Make one page of the early 4 KB-mapped region absent or present again
/// (guard pages under kernel-thread stacks). Returns false when `vaddr` is
/// not in that region.
pub fn set_early_page_present(vaddr: usize, present: bool) -> bool {
    if vaddr < PAGE_OFFSET || vaddr >= PAGE_OFFSET + EARLY_PT_BYTES || vaddr % 4096 != 0 {
        return false;
    }
    let index = (vaddr - PAGE_OFFSET) >> PAGE_SHIFT;
    // SAFETY: the index is inside early_pt; the entry maps the kernel's own
    // bss page `vaddr`, which the caller owns; single writer with interrupts
    // handled by the caller.
    unsafe {
        let pt = &mut *addr_of_mut!(early_pt);
        pt[index] = if present { ((index << PAGE_SHIFT) | 0x3) as u32 } else { 0 };
    }
    flush_tlb_one(vaddr);
    true
}

/// Whether a kernel virtual address in the early 4 KB region is mapped.
pub fn early_page_present(vaddr: usize) -> bool {
    if vaddr < PAGE_OFFSET || vaddr >= PAGE_OFFSET + EARLY_PT_BYTES {
        return true;
    }
    // SAFETY: read of an in-bounds page-table entry.
    unsafe { (*addr_of_mut!(early_pt))[(vaddr - PAGE_OFFSET) >> PAGE_SHIFT] & 1 != 0 }
}
