//! The kernel's slab pages (Linux's `kmem_getpages`, `kmem_freepages` and
//! the `page_set_cache`/`page_set_slab` marks of 2.6.24's `mm/slab.c`):
//! [`SlabPages`] on the buddy allocator, in lowmem (ZONE_DMA for the
//! `dma-kmalloc` caches), with off-slab management from kmalloc.

use super::{SlabOwner, SlabPages};
use crate::layout::{virt_to_phys, PAGE_OFFSET, PAGE_SHIFT, PAGE_SIZE};
use crate::mm::gfp::{Gfp, GFP_DMA};
use crate::mm::mmzone::pfn_to_page;
use crate::mm::page::PageFlags;
use crate::mm::page_alloc;
use crate::mm::slab_common::kmalloc::{kfree, kmalloc};

/// Slab pages from the buddy allocator, in lowmem (ZONE_DMA for DMA caches).
pub(in crate::mm) struct KernelPages {
    pub(in crate::mm) dma: bool,
    /// Not under a cache's lock: an allocation that may sleep takes the page
    /// allocator's sleeping path (direct reclaim, which shrinks the caches
    /// and so takes their locks).
    pub(in crate::mm) may_sleep: bool,
}

// SAFETY: blocks from the buddy allocator are naturally aligned to their size
// (order), are lowmem (no __GFP_HIGHMEM), so their direct-map addresses are
// valid, and are ours until given back; management blocks are kmalloc
// objects, word aligned and ours until kfree'd; `readable` accepts only
// direct-map addresses below the end of lowmem; `slab_mgmt` reads what
// `set_slab_owner` wrote in the page descriptors, and only while the pages
// are marked SLAB.
unsafe impl SlabPages for KernelPages {
    fn kmem_getpages(&mut self, order: usize, gfp: Gfp) -> Option<usize> {
        let gfp = if self.dma { gfp | GFP_DMA } else { gfp };
        // Under a cache's lock nothing may sleep: the non-sleeping path,
        // which still uses the reserve for __GFP_HIGH and reports a failure
        // unless __GFP_NOWARN.
        let block = if self.may_sleep && gfp.may_sleep() {
            page_alloc::alloc_pages(gfp, order)?
        } else {
            page_alloc::alloc_pages_nosleep(gfp - Gfp::WAIT, order)?
        };
        match block.lowmem() {
            Ok(low) => Some(low.addr()),
            Err(p) => {
                page_alloc::__free_pages(p);
                None
            }
        }
    }

    fn kmem_freepages(&mut self, addr: usize, order: usize) {
        // SAFETY: the slab allocator gives back the block it got from alloc_pages.
        unsafe { page_alloc::free_pages(addr, order) };
    }

    fn readable(&self, addr: usize, len: usize) -> bool {
        let end = PAGE_OFFSET + (crate::mm::mmzone::max_low_pfn() << PAGE_SHIFT);
        // The direct map covers lowmem, except the unmapped guard pages under
        // the kernel stacks (in the first 8 MB): ask the page tables there,
        // once when both ends are in one page (a slab header, on every free).
        let present = crate::arch::x86::mm::init::early_page_present;
        addr >= PAGE_OFFSET
            && addr.checked_add(len).is_some_and(|e| {
                e <= end && len > 0 && present(addr) && ((addr ^ (e - 1)) < PAGE_SIZE || present(e - 1))
            })
    }

    fn set_slab_owner(&mut self, addr: usize, order: usize, owner: Option<SlabOwner>) {
        // kfree finds the cache of a slab page in the registry slot its id
        // names, without testing that slot's id (an allocated object on the
        // page vouches for it): so only the registry's caches may mark
        // pages, never a `KmemCache` made elsewhere on these pages.
        if let Some(o) = owner {
            assert!(
                crate::mm::slab_common::cache_registered(o.cache),
                "slab: cache #{} marks kernel pages but is not in the registry",
                o.cache
            );
        }
        let pfn = virt_to_phys(addr) >> PAGE_SHIFT;
        // The pages are the slab's alone (just allocated, or about to be
        // freed), so the owner-only `__set_flag` does, as Linux's
        // `__SetPageSlab`.
        for pfn in pfn..pfn + (1 << order) {
            let page = pfn_to_page(pfn).expect("a slab page has a descriptor");
            match owner {
                Some(o) => {
                    // The cache id lives in `mapping`, as Linux 2.6.24's
                    // `page->slab` shares its word.
                    page.set_mapping(o.cache);
                    // Linux keeps the slab in page->lru; a lowmem address fits 32 bits.
                    page.set_private(o.mgmt as u32);
                    page.__set_flag(PageFlags::SLAB);
                }
                None => {
                    page.__clear_flag(PageFlags::SLAB);
                    page.set_mapping(0);
                    page.set_private(0);
                }
            }
        }
    }

    fn slab_mgmt(&self, addr: usize) -> Option<usize> {
        let page = pfn_to_page(virt_to_phys(addr) >> PAGE_SHIFT)?;
        page.is_slab().then_some(page.private() as usize)
    }

    fn alloc_mgmt(&mut self, size: usize, gfp: Gfp) -> Option<usize> {
        // From a smaller kmalloc class (`CacheLayout`'s off-slab bound), so
        // never from the cache that is growing; always normal memory.
        let gfp = if self.may_sleep { gfp } else { gfp - Gfp::WAIT };
        kmalloc(size, gfp - Gfp::DMA).map(|p| p.as_ptr() as usize)
    }

    fn free_mgmt(&mut self, addr: usize, _size: usize) {
        // SAFETY: `addr` came from kmalloc in `alloc_mgmt`, and the slab it
        // managed is gone.
        unsafe { kfree(addr as *mut u8) }
    }
}
