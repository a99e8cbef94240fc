//! In-kernel tests of the page allocator on the real machine: every free
//! frame, the zonelist order, exact allocations, zeroing through the fixmap,
//! the retired boot allocator. Each test checks that the free page count
//! ends exactly where it started.

use super::alloc::{self, alloc_pages, free_pages_block, get_free_pages};
use super::buddy::{MigrateType, MAX_ORDER};
use super::gfp::{Gfp, GFP_DMA, GFP_HIGHUSER, GFP_HIGHUSER_MOVABLE, GFP_KERNEL};
use super::mm_init::{memblock_alloc, with_node};
use super::page::List;
use super::zones::MAX_NR_ZONES;
use crate::arch::x86::mm::highmem::{kmap_atomic, KmType};
use crate::kernel::ktest::TestResult;
use crate::layout::PAGE_SIZE;
use crate::pr_info;

type BuddyInfo = [[usize; MAX_ORDER]; MAX_NR_ZONES];

fn buddyinfo() -> BuddyInfo {
    with_node(|node, mm| {
        node.drain_all(mm);
        let mut b = [[0; MAX_ORDER]; MAX_NR_ZONES];
        for (z, zone) in node.zones.iter().enumerate() {
            for (o, slot) in b[z].iter_mut().enumerate() {
                *slot = zone.buddy.nr_free(o);
            }
        }
        b
    })
}

/// Take every free frame, order 0, of the zones starting at or above pfn
/// `from`, past all watermarks (the test owns the machine meanwhile),
/// chaining them through their descriptors' list links as Linux lets a
/// page's owner do.
pub(super) fn take_all_free(from: u64) -> List {
    with_node(|node, mm| {
        node.drain_all(mm);
        let mut chain = List::new();
        for zone in node.zones.iter_mut().filter(|z| z.is_populated() && z.buddy.start_pfn() as u64 >= from) {
            while let Some(pfn) = zone.buddy.alloc(mm, 0, MigrateType::Movable) {
                chain.push_back(mm, pfn);
            }
        }
        chain
    })
}

/// Free every frame `take_all_free` chained.
pub(super) fn give_back(chain: &mut List) {
    with_node(|node, mm| {
        while let Some(pfn) = chain.pop_front(mm) {
            node.free_pages(mm, pfn, 0);
        }
    });
}

/// Take every free frame of every zone, then free them all: the free lists
/// come back exactly as they were.
pub fn every_free_page_round_trips() -> TestResult {
    let before = buddyinfo();
    let free_before = alloc::nr_free_pages();
    let mut chain = take_all_free(0);
    let taken = chain.len();
    let empty = alloc::nr_free_pages() == 0;
    give_back(&mut chain);
    if !empty {
        return Err("free pages left after taking all of them");
    }
    if taken as u64 != free_before {
        return Err("took a different number of frames than were free");
    }
    if buddyinfo() != before || alloc::nr_free_pages() != free_before {
        return Err("buddyinfo differs after freeing everything");
    }
    pr_info!("ktest: allocated and freed all {} free frames, order 0", taken);
    Ok(())
}

/// GFP_HIGHUSER fills HighMem down to its `low` mark before it takes a
/// single lowmem frame.
pub fn highuser_fills_highmem_first() -> TestResult {
    let free_before = alloc::nr_free_pages();
    let (high_low_mark, high_zone) = with_node(|node, _| (node.zones[2].watermark[1], node.zones[2].is_populated()));
    if !high_zone {
        // No highmem: the zonelist must fall straight through to lowmem.
        let p = alloc_pages(GFP_HIGHUSER, 0).ok_or("GFP_HIGHUSER failed without HighMem")?;
        let low = !p.is_highmem();
        free_pages_block(p);
        return if low && alloc::nr_free_pages() == free_before {
            Ok(())
        } else {
            Err("fallback without HighMem broken")
        };
    }
    let mut chain = List::new();
    let mut first_low_at_high_free = None;
    loop {
        let Some(p) = alloc_pages(GFP_HIGHUSER | Gfp::NOWARN, 0) else { break };
        let pfn = p.pfn();
        let low = !p.is_highmem();
        core::mem::forget(p); // kept on the chain, freed below
        with_node(|_, mm| chain.push_back(mm, pfn));
        if low {
            first_low_at_high_free = Some(with_node(|node, _| node.zones[2].free_pages()));
            break;
        }
    }
    let n = chain.len();
    while let Some(pfn) = with_node(|_, mm| chain.pop_front(mm)) {
        with_node(|node, mm| node.free_pages(mm, pfn, 0));
    }
    if alloc::nr_free_pages() != free_before {
        return Err("free pages not back where they were");
    }
    match first_low_at_high_free {
        None => Err("never fell back to lowmem"),
        Some(f) if f > high_low_mark + 1 => Err("lowmem used while HighMem was above its low mark"),
        Some(f) => {
            pr_info!(
                "ktest: {} GFP_HIGHUSER pages; first lowmem page when HighMem had {} free (low mark {})",
                n,
                f,
                high_low_mark
            );
            Ok(())
        }
    }
}

/// alloc_pages_exact(132K): an order-6 block (256K) whose 31-page tail goes
/// straight back, saving 124K of internal fragmentation.
pub fn alloc_pages_exact_returns_the_tail() -> TestResult {
    let size = 132 << 10;
    let free_before = alloc::nr_free_pages();
    let addr = alloc::alloc_pages_exact(size, GFP_KERNEL).ok_or("allocation failed")?;
    let used = free_before - alloc::nr_free_pages();
    let order = alloc::get_order(size);
    pr_info!(
        "ktest: alloc_pages_exact({}K): order-{} block of {}K, {} pages kept, {}K of tail returned",
        size >> 10,
        order,
        (PAGE_SIZE << order) >> 10,
        used,
        ((PAGE_SIZE << order) - used as usize * PAGE_SIZE) >> 10
    );
    // SAFETY: the 33 pages at addr are ours, in lowmem.
    unsafe { core::ptr::write_bytes(addr as *mut u8, 0x5a, size) };
    // SAFETY: the block allocated above, not used after.
    unsafe { alloc::free_pages_exact(addr, size) };
    if used != 33 {
        return Err("did not keep exactly 33 pages");
    }
    if alloc::nr_free_pages() != free_before {
        return Err("free pages not back where they were");
    }
    Ok(())
}

/// __GFP_ZERO clears a highmem frame through the fixmap: dirty a frame,
/// free it, and the pcp list hands the same frame back, zeroed.
pub fn highmem_pages_come_back_zeroed() -> TestResult {
    let free_before = alloc::nr_free_pages();
    // Movable: the frame goes back to the pcp list of its (Movable)
    // pageblock, the same list the next Movable allocation pops.
    let p = alloc_pages(GFP_HIGHUSER_MOVABLE, 0).ok_or("no highmem page")?;
    let has_high = with_node(|node, _| node.zones[2].is_populated() || node.zones[3].is_populated());
    if has_high && !p.is_highmem() {
        free_pages_block(p);
        return Err("GFP_HIGHUSER gave a lowmem page while HighMem has room");
    }
    let pfn = p.pfn();
    fill(pfn, 0xa5);
    free_pages_block(p);
    let q = alloc_pages(GFP_HIGHUSER_MOVABLE | Gfp::ZERO, 0).ok_or("no highmem page")?;
    let same = q.pfn() == pfn;
    let zero = is_zero(q.pfn());
    free_pages_block(q);
    if !same {
        return Err("the pcp list did not hand the same frame back (LIFO)");
    }
    if !zero {
        return Err("__GFP_ZERO page not zero");
    }
    if alloc::nr_free_pages() != free_before {
        return Err("free pages not back where they were");
    }
    Ok(())
}

fn fill(pfn: u32, byte: u8) {
    let mut m = kmap_atomic(pfn, KmType::User0).expect("a free User0 slot");
    // SAFETY: the test owns the frame.
    unsafe { m.as_mut_slice() }.fill(byte);
}

fn is_zero(pfn: u32) -> bool {
    let m = kmap_atomic(pfn, KmType::User0).expect("a free User0 slot");
    // SAFETY: the test owns the frame.
    unsafe { m.as_slice() }.iter().all(|&b| b == 0)
}

pub fn dma_and_kernel_pages_stay_low() -> TestResult {
    let free_before = alloc::nr_free_pages();
    let d = alloc_pages(GFP_DMA, 2).ok_or("no DMA pages")?;
    let ok_dma = d.phys() + (4 * PAGE_SIZE as u64) <= 16 << 20 && d.pfn() % 4 == 0;
    free_pages_block(d);
    let addr = get_free_pages(GFP_KERNEL, 3).ok_or("no kernel pages")?;
    let ok_low = addr >= crate::layout::PAGE_OFFSET && addr < crate::layout::PAGE_OFFSET + (alloc::max_low_pfn() << 12);
    // SAFETY: allocated above at order 3, not used after.
    unsafe { alloc::free_pages(addr, 3) };
    let z = alloc::get_zeroed_page(GFP_KERNEL).ok_or("no zeroed page")?;
    // SAFETY: our page, in lowmem.
    let zero = unsafe { core::slice::from_raw_parts(z as *const u8, PAGE_SIZE) }.iter().all(|&b| b == 0);
    // SAFETY: allocated above, not used after.
    unsafe { alloc::free_pages(z, 0) };
    if !ok_dma {
        return Err("GFP_DMA block not below 16 MB or misaligned");
    }
    if !ok_low || !zero {
        return Err("GFP_KERNEL page not in lowmem or not zeroed");
    }
    if alloc::nr_free_pages() != free_before {
        return Err("free pages not back where they were");
    }
    Ok(())
}

pub fn highmem_get_free_pages_is_refused() -> TestResult {
    if get_free_pages(GFP_HIGHUSER, 0).is_some() {
        return Err("__get_free_pages gave an address for a highmem request");
    }
    Ok(())
}

pub fn retired_memblock_refuses() -> TestResult {
    if memblock_alloc(PAGE_SIZE as u64, PAGE_SIZE as u64, u64::MAX).is_some() {
        return Err("memblock allocated after retirement");
    }
    Ok(())
}
