//! Coherent DMA memory (`dma_alloc_coherent`/`dma_free_coherent`; Linux
//! 2.6.24 has them in `arch/x86/kernel/pci-dma_32.c`, later kernels in
//! `kernel/dma/`). Here in `mm`: they are page allocations in ZONE_DMA, and
//! `kernel/` sits below `mm` in this kernel's layers, so it may not call
//! the page allocator.

use super::cma;
use super::gfp::{Gfp, GFP_DMA, PAGE_ALLOC_COSTLY_ORDER};
use super::page_alloc;
use crate::layout::{virt_to_phys, PAGE_SHIFT, PAGE_SIZE};
use core::ptr::NonNull;

/// Physically contiguous memory with its bus address, zeroed
/// (`dma_alloc_coherent`; on a PC the bus address is the physical one).
/// More than `2^PAGE_ALLOC_COSTLY_ORDER` pages come from the CMA region
/// when there is one (Linux's `dma_alloc_contiguous`; the devices here
/// address 32 bits, and the region is in lowmem), which can give blocks no
/// buddy list holds (8 MB and more); otherwise, or if CMA has no run free,
/// exact pages of ZONE_DMA (the unused tail of the power-of-two block goes
/// back), as Linux falls back to the page allocator. Sleeps.
pub fn dma_alloc_coherent(size: usize) -> Option<(NonNull<u8>, u32)> {
    let pages = size.div_ceil(PAGE_SIZE);
    if pages > 1 << PAGE_ALLOC_COSTLY_ORDER && cma::cma_region().is_some() {
        if let Ok(block) = cma::cma_alloc(pages, cma::dma_align_order(pages)) {
            let addr = block.addr();
            let _ = block.into_raw();
            // SAFETY: the block is `pages` lowmem frames cma_alloc just
            // handed over; nothing else refers to them.
            unsafe { core::ptr::write_bytes(addr as *mut u8, 0, pages * PAGE_SIZE) };
            return Some((NonNull::new(addr as *mut u8)?, virt_to_phys(addr) as u32));
        }
    }
    let addr = page_alloc::alloc_pages_exact(size, GFP_DMA | Gfp::ZERO)?;
    Some((NonNull::new(addr as *mut u8)?, virt_to_phys(addr) as u32))
}

/// # Safety
/// `vaddr`, `size` and `bus` are those `dma_alloc_coherent` returned, and
/// neither the CPU nor the device uses the memory afterwards.
pub unsafe fn dma_free_coherent(vaddr: NonNull<u8>, size: usize, bus: u32) {
    assert_eq!(
        virt_to_phys(vaddr.as_ptr() as usize) as u32,
        bus,
        "dma_free_coherent: address and bus address disagree"
    );
    let pfn = bus >> PAGE_SHIFT;
    let pages = size.div_ceil(PAGE_SIZE);
    // Linux's dma_free_contiguous: cma_release says whether it was CMA's.
    if pages > 1 << PAGE_ALLOC_COSTLY_ORDER && cma::cma_contains(pfn) {
        // SAFETY: dma_alloc_coherent(size) gave the caller this block from
        // cma_alloc (a block of this size in the region can only come from
        // there) and gave up its handle; it is rebuilt once, here.
        let block = unsafe { cma::CmaPages::from_raw(pfn, pages as u32) };
        assert!(cma::cma_release(block), "dma_free_coherent: {:#x} is no CMA allocation of {} pages", bus, pages);
        return;
    }
    // SAFETY: the caller gives back what dma_alloc_coherent(size) returned.
    unsafe { page_alloc::free_pages_exact(vaddr.as_ptr() as usize, size) };
}
