//! In-kernel tests of `mm::cma` (a boot with `cma=`; skipped without).

use super::{skip, TestResult};
use crate::mm::buddy::{MigrateType, PAGEBLOCK_ORDER, PAGEBLOCK_PAGES};
use crate::mm::cma::{cma_alloc, cma_region, cma_release, CmaRegion};
use crate::mm::mmzone::with_node_mem_map;
use crate::mm::page_alloc::{self, drain_all_pages};
use crate::mm::vmstat::{vm_event, VmEvent};

/// A kernel page (on no LRU list, so it cannot move) taken from the CMA
/// lists at the region's first frame, freed on drop. The allocator never
/// puts one there; the test does, as a driver's stray reference would.
struct KernelPageInCma(u32);

impl KernelPageInCma {
    /// Take the lowest free pageblock of the CMA lists whole, keep its first
    /// frame and free the rest; `None` if that is not the region's first
    /// pageblock (the region is not idle).
    fn at_region_start(region: CmaRegion) -> Option<KernelPageInCma> {
        with_node_mem_map(|node, mm| {
            let z = node.zone_of(region.base_pfn())?;
            // On the stack, not the heap: a slab page the test grew would
            // stay behind and spoil the free page count.
            let mut taken = [0u32; 128];
            let mut n = 0;
            while n < taken.len() {
                let pfn = node.zones[z].lock().alloc_from_own_lists(mm, PAGEBLOCK_ORDER, MigrateType::Cma);
                let Some(pfn) = pfn else { break };
                taken[n] = pfn;
                n += 1;
            }
            let blocks = &mut taken[..n];
            blocks.sort_unstable();
            let first = blocks.first().copied();
            for &pfn in blocks.iter().skip(1) {
                node.__free_pages(mm, pfn, PAGEBLOCK_ORDER);
            }
            let first = first?;
            // split_page: every frame its own order-0 page; all but the
            // first go back.
            for pfn in first + 1..first + PAGEBLOCK_PAGES {
                mm[pfn as usize].set_page_count(1);
                node.__free_pages(mm, pfn, 0);
            }
            if first != region.base_pfn() {
                node.__free_pages(mm, first, 0);
                return None;
            }
            Some(KernelPageInCma(first))
        })
    }
}

impl Drop for KernelPageInCma {
    fn drop(&mut self) {
        with_node_mem_map(|node, mm| node.__free_pages(mm, self.0, 0));
    }
}

/// A page `alloc_contig_range` cannot move (kernel memory) makes the first
/// run fail; `cma_alloc` says which page and goes on from the next aligned
/// position past it, and gets a run there. Counts come back after release.
pub fn busy_page_is_reported_and_skipped() -> TestResult {
    let region = cma_region().ok_or_else(|| skip("no CMA area: boot with cma=SIZE"))?;
    if region.pages() < 3 * PAGEBLOCK_PAGES {
        return Err(skip("the CMA area is smaller than three pageblocks"));
    }
    // Warm-up: the region's list of allocations grows on its first one.
    let warm = cma_alloc(1, 0).map_err(|_| "warm-up cma_alloc of one page failed")?;
    if !cma_release(warm) {
        return Err("cma_release refused the warm-up page");
    }
    drain_all_pages();
    let before = page_alloc::nr_free_pages();
    let (ok0, fail0) = (vm_event(VmEvent::CmaAllocSuccess), vm_event(VmEvent::CmaAllocFail));
    let result = (|| {
        let pinned = KernelPageInCma::at_region_start(region)
            .ok_or_else(|| skip("the CMA area's first pageblock is in use: the region is not idle"))?;
        let block = cma_alloc(2 * PAGEBLOCK_PAGES as usize, PAGEBLOCK_ORDER).map_err(|_| "cma_alloc failed")?;
        let got = block.pfn();
        let released = cma_release(block);
        drop(pinned);
        if got != region.base_pfn() + PAGEBLOCK_PAGES {
            return Err("the run after the busy page is not the next aligned position past it");
        }
        if !released {
            return Err("cma_release refused a live allocation");
        }
        Ok(())
    })();
    drain_all_pages();
    let after = page_alloc::nr_free_pages();
    result?;
    if after != before {
        return Err("free pages not back where they were");
    }
    if (vm_event(VmEvent::CmaAllocSuccess) - ok0, vm_event(VmEvent::CmaAllocFail) - fail0) != (1, 0) {
        return Err("cma_alloc_success/cma_alloc_fail did not count one success");
    }
    Ok(())
}
