//! Coherent DMA memory (`dma_alloc_coherent`/`dma_free_coherent`; Linux
//! 2.6.24 has them in `arch/x86/kernel/pci-dma_32.c`, later kernels in
//! `kernel/dma/`). Here in `mm`: they are page allocations in ZONE_DMA, and
//! `kernel/` sits below `mm` in this kernel's layers, so it may not call
//! the page allocator.

use super::gfp::{Gfp, GFP_DMA};
use super::page_alloc;
use crate::layout::virt_to_phys;
use core::ptr::NonNull;

/// Physically contiguous memory in ZONE_DMA with its bus address
/// (`dma_alloc_coherent`; on a PC the bus address is the physical one).
/// Exact pages (the unused tail of the power-of-two block goes back), zeroed.
pub fn dma_alloc_coherent(size: usize) -> Option<(NonNull<u8>, u32)> {
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
    // SAFETY: the caller gives back what dma_alloc_coherent(size) returned.
    unsafe { page_alloc::free_pages_exact(vaddr.as_ptr() as usize, size) };
}
