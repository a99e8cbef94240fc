//! In-kernel tests of the page allocator on the real machine: every free
//! frame, the zonelist order, exact allocations, zeroing, fault injection,
//! the page descriptors, the retired boot allocator.
//!
//! Every test ends with the free page count exactly where it started, on
//! its failure path too: what a test takes is held by a guard that gives it
//! back on drop, so an early `?` or `Err` cannot leak memory into the next
//! test. A test that needs what this machine lacks (highmem with room in
//! it, say) says why and is skipped, not failed.
//!
//! Past 600 lines because it is a list of independent tests of one area,
//! each with its own guard; nothing in it is read as one piece.

use super::{skip, TestResult};
use crate::kernel::fault_inject::FaultAttr;
use crate::layout::{PAGE_OFFSET, PAGE_SIZE};
use crate::mm::buddy::{MigrateType, MAX_ORDER, MIGRATE_TYPES, PAGEBLOCK_ORDER};
use crate::mm::gfp::{Gfp, GFP_DMA, GFP_HIGHUSER, GFP_HIGHUSER_MOVABLE, GFP_KERNEL};
use crate::mm::highmem::kmap;
use crate::mm::list::List;
use crate::mm::memblock::memblock_alloc;
use crate::mm::mmzone::with_node_mem_map;
use crate::mm::mmzone::Watermark;
use crate::mm::mmzone::{ZoneType, MAX_NR_ZONES};
use crate::mm::page_alloc::{self, __free_pages, __get_free_pages, alloc_pages, Pages};
use crate::pr_info;
use core::ops::{Deref, DerefMut};

/// Run `body`, then check that the free page count came back, whatever
/// `body` returned. Its guards are dropped before the count is read.
fn counted(body: impl FnOnce() -> TestResult) -> TestResult {
    // Empty slabs are given back on both sides: the body's reports (Vecs)
    // may leave one cached, which is not a page lost (seen at mem=5M).
    crate::mm::slab_common::shrink_all();
    let before = page_alloc::nr_free_pages();
    let result = body();
    crate::mm::slab_common::shrink_all();
    let after = page_alloc::nr_free_pages();
    result?;
    if after != before {
        return Err("free pages not back where they were");
    }
    Ok(())
}

/// One block from `alloc_pages`, freed on drop.
struct Block(Option<Pages>);

impl Block {
    fn new(gfp: Gfp, order: usize) -> Option<Block> {
        alloc_pages(gfp, order).map(|p| Block(Some(p)))
    }
    fn pages(&self) -> &Pages {
        self.0.as_ref().expect("a block until dropped")
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            __free_pages(p);
        }
    }
}

/// Lowmem from `__get_free_pages`, freed on drop.
struct LowBlock {
    addr: usize,
    order: usize,
}

impl LowBlock {
    fn new(gfp: Gfp, order: usize) -> Option<LowBlock> {
        __get_free_pages(gfp, order).map(|addr| LowBlock { addr, order })
    }
    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the block is this guard's, in lowmem, until it drops; the
        // slice holds the guard mutably borrowed, so it is the only one.
        unsafe { core::slice::from_raw_parts_mut(self.addr as *mut u8, PAGE_SIZE << self.order) }
    }
}

impl Drop for LowBlock {
    fn drop(&mut self) {
        // SAFETY: __get_free_pages gave this block at this order to the guard,
        // and nothing uses it after the guard.
        unsafe { page_alloc::free_pages(self.addr, self.order) };
    }
}

/// What `alloc_pages_exact` returned, freed on drop.
struct ExactBlock {
    addr: usize,
    size: usize,
}

impl Drop for ExactBlock {
    fn drop(&mut self) {
        // SAFETY: alloc_pages_exact(size) gave this block to the guard, and
        // nothing uses it after the guard.
        unsafe { page_alloc::free_pages_exact(self.addr, self.size) };
    }
}

/// Order-0 frames chained through their descriptors' list links (as Linux
/// lets a page's owner use `page->lru`), all freed on drop.
pub(super) struct FreeChain(List);

impl FreeChain {
    fn new() -> FreeChain {
        FreeChain(List::new())
    }

    /// Keep an order-0 block on the chain: the chain frees it.
    fn push(&mut self, p: Pages) {
        assert_eq!(p.order(), 0, "the chain holds order-0 pages");
        let pfn = p.pfn();
        with_node_mem_map(|_, mm| self.0.push_back(mm, pfn));
    }
}

impl Deref for FreeChain {
    type Target = List;
    fn deref(&self) -> &List {
        &self.0
    }
}

impl DerefMut for FreeChain {
    fn deref_mut(&mut self) -> &mut List {
        &mut self.0
    }
}

impl Drop for FreeChain {
    fn drop(&mut self) {
        give_back(&mut self.0);
    }
}

/// Frames moved per lock hold by `take_all_free` and `give_back`: the lock
/// masks interrupts, so a walk over every free frame goes in bounded steps.
const WALK_BATCH: usize = 256;

/// Take every free frame, order 0, of the zones starting at or above pfn
/// `from`, past all watermarks (the test owns the machine meanwhile).
/// Each free list is emptied as its own migrate type, so nothing is stolen
/// and no pageblock changes type: a round trip leaves them as they were.
pub(super) fn take_all_free(from: u64) -> FreeChain {
    page_alloc::drain_all_pages();
    let mut chain = FreeChain::new();
    for z in 0..MAX_NR_ZONES {
        for mt in MigrateType::ALL {
            while with_node_mem_map(|node, mm| {
                let zone = &node.zones[z];
                if !zone.is_populated() || (zone.start_pfn() as u64) < from {
                    return 0;
                }
                let mut buddy = zone.lock();
                let mut n = 0;
                while n < WALK_BATCH {
                    let Some(pfn) = buddy.alloc_from_own_lists(mm, 0, mt) else { break };
                    chain.0.push_back(mm, pfn);
                    n += 1;
                }
                n
            }) == WALK_BATCH
            {}
        }
    }
    chain
}

/// Free every frame on `chain` (a `FreeChain` also does this when dropped).
pub(super) fn give_back(chain: &mut List) {
    while with_node_mem_map(|node, mm| {
        for _ in 0..WALK_BATCH {
            let Some(pfn) = chain.pop_front(mm) else { return false };
            node.__free_pages(mm, pfn, 0);
        }
        true
    }) {}
}

type BuddyInfo = [[usize; MAX_ORDER]; MAX_NR_ZONES];

fn buddyinfo() -> BuddyInfo {
    with_node_mem_map(|node, mm| {
        node.drain_all(mm);
        let mut b = [[0; MAX_ORDER]; MAX_NR_ZONES];
        for (z, zone) in node.zones.iter().enumerate() {
            let buddy = zone.lock();
            for (o, slot) in b[z].iter_mut().enumerate() {
                *slot = buddy.nr_free(o);
            }
        }
        b
    })
}

/// What `/proc/pagetypeinfo` shows: free blocks per zone, order and migrate
/// type, pageblocks per type, and a fingerprint of which pageblock has
/// which type (two blocks swapping types keep the counts).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct PageTypeInfo {
    free: [[[usize; MIGRATE_TYPES]; MAX_ORDER]; MAX_NR_ZONES],
    blocks: [[usize; MIGRATE_TYPES]; MAX_NR_ZONES],
    block_types: [u64; MAX_NR_ZONES],
}

/// `(as the lists are now, as a round trip must leave them)`. Freeing puts
/// a block on its pageblock's list, and merging gives back the same blocks,
/// so after a round trip every free block is on the list of its pageblock's
/// type. A block a large fallback moved to another type's lists without
/// retagging its pageblock (2.6.24 does this when less than half of the
/// pageblock was free) returns to its pageblock's type, in Linux as here.
fn pagetypeinfo() -> (PageTypeInfo, PageTypeInfo) {
    with_node_mem_map(|node, mm| {
        node.drain_all(mm);
        let empty = [[[0; MIGRATE_TYPES]; MAX_ORDER]; MAX_NR_ZONES];
        let mut now = PageTypeInfo { free: empty, blocks: [[0; MIGRATE_TYPES]; MAX_NR_ZONES], block_types: [0; 4] };
        let mut after = now;
        for (z, zone) in node.zones.iter().enumerate().filter(|(_, z)| z.is_populated()) {
            let buddy = zone.lock();
            for order in 0..MAX_ORDER {
                for mt in MigrateType::ALL {
                    for pfn in buddy.free_area(order).free_list[mt as usize].iter(mm) {
                        now.free[z][order][mt as usize] += 1;
                        after.free[z][order][buddy.pageblock_type(pfn) as usize] += 1;
                    }
                }
            }
            now.blocks[z] = buddy.pageblock_counts();
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in 0..buddy.nr_pageblocks() as u32 {
                let pfn = ((buddy.start_pfn() >> PAGEBLOCK_ORDER) + b) << PAGEBLOCK_ORDER;
                h = (h ^ buddy.pageblock_type(pfn.max(buddy.start_pfn())) as u64).wrapping_mul(0x100_0000_01b3);
            }
            now.block_types[z] = h;
        }
        after.blocks = now.blocks;
        after.block_types = now.block_types;
        (now, after)
    })
}

/// Take every free frame of every zone, then free them all: buddyinfo
/// comes back exactly, and so does pagetypeinfo: the same pageblock types,
/// each free block on its pageblock's list.
pub fn every_free_page_round_trips() -> TestResult {
    counted(round_trip_with_an_unmovable_block)
}

fn round_trip_with_an_unmovable_block() -> TestResult {
    // Half an Unmovable pageblock held through the round trip: an order-9
    // kernel allocation claims a free 4 MB Movable block and retags it, so
    // there is a free half of an Unmovable block that taking everything as
    // Movable would steal and retag back (what this test must not miss).
    let _unmovable = Block::new(GFP_KERNEL | Gfp::NOWARN, MAX_ORDER - 2);
    let before = buddyinfo();
    let (types_now, types_after) = pagetypeinfo();
    let free_before = page_alloc::nr_free_pages();
    let mut chain = take_all_free(0);
    let taken = chain.len();
    let empty = page_alloc::nr_free_pages() == 0;
    give_back(&mut chain);
    drop(chain);
    if !empty {
        return Err("free pages left after taking all of them");
    }
    if taken as u64 != free_before {
        return Err("took a different number of frames than were free");
    }
    if buddyinfo() != before || page_alloc::nr_free_pages() != free_before {
        return Err("buddyinfo differs after freeing everything");
    }
    let (types, _) = pagetypeinfo();
    if types.blocks != types_now.blocks || types.block_types != types_now.block_types {
        return Err("pageblock types changed: taking all memory retagged pageblocks");
    }
    if types.free != types_after.free {
        return Err("pagetypeinfo free counts differ from what the round trip must leave");
    }
    let moved = types_now.free != types_after.free;
    pr_info!(
        "ktest: allocated and freed all {} free frames, order 0; pageblock types unchanged{}",
        taken,
        if moved { "; blocks moved by a fallback went back to their pageblock's type" } else { "" }
    );
    Ok(())
}

/// GFP_HIGHUSER fills HighMem down to its `low` mark before it takes a
/// single lowmem frame.
pub fn highuser_fills_highmem_first() -> TestResult {
    let (low_mark, free, populated) = with_node_mem_map(|node, _| {
        let z = &node.zones[ZoneType::HighMem as usize];
        (z.watermark(Watermark::Low), z.nr_free_pages(), z.is_populated())
    });
    if !populated {
        // No HighMem zone: the zonelist must fall straight through to lowmem.
        return counted(|| {
            let p = Block::new(GFP_HIGHUSER, 0).ok_or("GFP_HIGHUSER failed without HighMem")?;
            if p.pages().is_highmem() {
                return Err("a highmem page without a HighMem zone");
            }
            Ok(())
        });
    }
    if free <= low_mark + 1 {
        return Err(skip("HighMem is at or below its low mark already (a tiny highmem=?): nothing to fill first"));
    }
    counted(|| {
        let mut chain = FreeChain::new();
        let mut first_low_at_high_free = None;
        while let Some(p) = alloc_pages(GFP_HIGHUSER | Gfp::NOWARN, 0) {
            let low = !p.is_highmem();
            chain.push(p);
            if low {
                first_low_at_high_free =
                    Some(with_node_mem_map(|node, _| node.zones[ZoneType::HighMem as usize].nr_free_pages()));
                break;
            }
        }
        match first_low_at_high_free {
            None => Err("never fell back to lowmem"),
            Some(f) if f > low_mark + 1 => Err("lowmem used while HighMem was above its low mark"),
            Some(f) => {
                pr_info!(
                    "ktest: {} GFP_HIGHUSER pages; first lowmem page when HighMem had {} free (low mark {})",
                    chain.len(),
                    f,
                    low_mark
                );
                Ok(())
            }
        }
    })
}

/// alloc_pages_exact(132K): an order-6 block (256K) whose 31-page tail goes
/// straight back, saving 124K of internal fragmentation.
pub fn alloc_pages_exact_returns_the_tail() -> TestResult {
    counted(|| {
        let size = 132 << 10;
        let free_before = page_alloc::nr_free_pages();
        let addr = page_alloc::alloc_pages_exact(size, GFP_KERNEL).ok_or("allocation failed")?;
        let block = ExactBlock { addr, size };
        let used = free_before - page_alloc::nr_free_pages();
        let order = page_alloc::get_order(size);
        pr_info!(
            "ktest: alloc_pages_exact({}K): order-{} block of {}K, {} pages kept, {}K of tail returned",
            size >> 10,
            order,
            (PAGE_SIZE << order) >> 10,
            used,
            ((PAGE_SIZE << order) - used as usize * PAGE_SIZE) >> 10
        );
        // SAFETY: the 33 pages at addr are the guard's, in lowmem.
        unsafe { core::ptr::write_bytes(block.addr as *mut u8, 0x5a, size) };
        if used != 33 {
            return Err("did not keep exactly 33 pages");
        }
        Ok(())
    })
}

/// alloc_pages_exact(0) and dma_alloc_coherent(0) return nothing, with a
/// warning, instead of a page that is already free (Linux returns NULL).
pub fn alloc_pages_exact_refuses_size_0() -> TestResult {
    counted(|| {
        if let Some(addr) = page_alloc::alloc_pages_exact(0, GFP_KERNEL) {
            drop(ExactBlock { addr, size: 0 });
            return Err("alloc_pages_exact(0) returned an address");
        }
        // The caller's place (`#[track_caller]`), which is this file.
        if !crate::kernel::printk::log_contains(concat!("alloc_pages_exact: size 0 at ", file!(), ":").as_bytes()) {
            return Err("no warning for alloc_pages_exact(0)");
        }
        if let Some((ptr, bus)) = crate::mm::dma::dma_alloc_coherent(0) {
            // SAFETY: what dma_alloc_coherent(0) returned, unused.
            unsafe { crate::mm::dma::dma_free_coherent(ptr, 0, bus) };
            return Err("dma_alloc_coherent(0) returned memory");
        }
        Ok(())
    })
}

/// __GFP_ZERO clears a highmem frame: dirty a frame, free it, and the pcp
/// list hands the same frame back, zeroed.
pub fn highmem_pages_come_back_zeroed() -> TestResult {
    let room = with_node_mem_map(|node, _| {
        node.zones[ZoneType::HighMem as usize..]
            .iter()
            .any(|z| z.is_populated() && z.nr_free_pages() > z.watermark(Watermark::Low) + 1)
    });
    if !room {
        return Err(skip("no highmem zone above its low mark (no highmem, or a tiny highmem=)"));
    }
    counted(|| {
        // Movable: the frame goes back to the pcp list of its (Movable)
        // pageblock, the same list the next Movable allocation pops.
        let p = Block::new(GFP_HIGHUSER_MOVABLE, 0).ok_or("no highmem page")?;
        if !p.pages().is_highmem() {
            return Err("GFP_HIGHUSER_MOVABLE gave a lowmem page while highmem has room");
        }
        let pfn = p.pages().pfn();
        fill(pfn, 0xa5);
        drop(p);
        let q = Block::new(GFP_HIGHUSER_MOVABLE | Gfp::ZERO, 0).ok_or("no highmem page")?;
        if q.pages().pfn() != pfn {
            return Err("the pcp list did not hand the same frame back (LIFO)");
        }
        if !is_zero(pfn) {
            return Err("__GFP_ZERO page not zero");
        }
        Ok(())
    })
}

fn fill(pfn: u32, byte: u8) {
    let mut k = kmap(pfn).expect("a frame below max_pfn");
    // SAFETY: the test owns the frame.
    unsafe { k.as_mut_slice() }.fill(byte);
}

fn is_zero(pfn: u32) -> bool {
    let k = kmap(pfn).expect("a frame below max_pfn");
    // SAFETY: the test owns the frame.
    unsafe { k.as_slice() }.iter().all(|&b| b == 0)
}

pub fn dma_and_kernel_pages_stay_low() -> TestResult {
    counted(|| {
        let d = Block::new(GFP_DMA, 2).ok_or("no DMA pages")?;
        if d.pages().phys() + (4 * PAGE_SIZE as u64) > 16 << 20 || d.pages().pfn() % 4 != 0 {
            return Err("GFP_DMA block not below 16 MB or misaligned");
        }
        let k = LowBlock::new(GFP_KERNEL, 3).ok_or("no kernel pages")?;
        if k.addr < PAGE_OFFSET || k.addr >= PAGE_OFFSET + (crate::mm::mmzone::max_low_pfn() << 12) {
            return Err("GFP_KERNEL block not in lowmem");
        }
        Ok(())
    })
}

/// get_zeroed_page really clears: a page is dirtied, freed, and comes back
/// from get_zeroed_page zeroed. The allocation asks for the migrate type of
/// the page's pageblock, so it pops the pcp list the free pushed onto. A
/// zone under 32 MB has no pcp list to speak of (`high` 0, batch 1, as
/// Linux's zone_batchsize gives): the free goes on to the buddy lists,
/// where the page may merge and another be handed out, so the dirtied page
/// cannot be caught coming back; that configuration is skipped.
pub fn get_zeroed_page_clears_a_dirty_page() -> TestResult {
    counted(|| {
        for _ in 0..8 {
            let mut dirty = LowBlock::new(GFP_KERNEL, 0).ok_or("no kernel page")?;
            dirty.bytes().fill(0xa5);
            let addr = dirty.addr;
            let pfn = ((addr - PAGE_OFFSET) / PAGE_SIZE) as u32;
            let (mt, pcp_high) = with_node_mem_map(|node, _| {
                let z = node.zone_of(pfn).expect("an allocated page is in a zone");
                (node.zones[z].pageblock_type(pfn), node.zones[z].pcp().high)
            });
            if pcp_high == 0 {
                return Err(skip("the page's zone keeps no pcp list (pcp high 0, a zone under 32 MB)"));
            }
            let gfp = match mt {
                MigrateType::Reclaimable => GFP_KERNEL | Gfp::RECLAIMABLE,
                MigrateType::Movable | MigrateType::Reserve => GFP_KERNEL | Gfp::MOVABLE,
                _ => GFP_KERNEL,
            };
            drop(dirty);
            let mut z = LowBlock::new(gfp | Gfp::ZERO, 0).ok_or("no zeroed page")?;
            if z.addr != addr {
                continue; // a pcp drain took it; try again with another page
            }
            if !z.bytes().iter().all(|&b| b == 0) {
                return Err("get_zeroed_page returned a dirty page");
            }
            return Ok(());
        }
        Err("the dirtied page never came back to check it (pcp lists drained each time)")
    })
}

pub fn highmem_get_free_pages_is_refused() -> TestResult {
    counted(|| match LowBlock::new(GFP_HIGHUSER, 0) {
        Some(_) => Err("__get_free_pages gave an address for a highmem request"),
        None => Ok(()),
    })
}

/// Restores the `fail_page_alloc` settings it replaced when dropped.
struct FailPageAlloc(FaultAttr);

impl Drop for FailPageAlloc {
    fn drop(&mut self) {
        page_alloc::set_fail_page_alloc(self.0);
    }
}

/// fail_page_alloc never fails a __GFP_NOFAIL allocation (Linux's
/// should_fail_alloc_page), and still fails the others.
pub fn fail_page_alloc_spares_nofail() -> TestResult {
    counted(|| {
        let _restore = FailPageAlloc(page_alloc::set_fail_page_alloc(FaultAttr::new(1, 100, 0, -1)));
        let nofail = Block::new(GFP_KERNEL | Gfp::NOFAIL, 0);
        let plain = Block::new(GFP_KERNEL | Gfp::NOWARN, 0);
        if nofail.is_none() {
            return Err("a __GFP_NOFAIL allocation was failed on purpose");
        }
        if plain.is_some() {
            return Err("fail_page_alloc=1,100,0,-1 did not fail a plain allocation");
        }
        Ok(())
    })
}

/// Every page descriptor names the zone whose span holds it: reserved
/// frames (the kernel image, mem_map, firmware) too, not only the pages
/// the boot allocator handed over (Linux's memmap_init_zone).
pub fn every_descriptor_knows_its_zone() -> TestResult {
    let mut reserved_checked = 0usize;
    // One pageblock of descriptors per lock hold: interrupts come back
    // between them.
    for start in (0..crate::mm::mmzone::max_pfn()).step_by(1 << PAGEBLOCK_ORDER) {
        reserved_checked += with_node_mem_map(|node, mm| {
            let mut reserved = 0;
            for (pfn, page) in mm.iter().enumerate().skip(start).take(1 << PAGEBLOCK_ORDER) {
                let Some(z) = node.zones.iter().position(|z| z.spanned != 0 && z.contains(pfn as u32)) else {
                    continue;
                };
                if page.zone_id() != z {
                    return Err("a page descriptor names the wrong zone");
                }
                if page.node_id() != 0 {
                    return Err("a page descriptor names a node other than 0");
                }
                reserved += page.is_reserved() as usize;
            }
            Ok(reserved)
        })?;
    }
    if reserved_checked == 0 {
        return Err("no reserved frame inside a zone to check");
    }
    pr_info!("ktest: every descriptor names its zone, {} reserved frames included", reserved_checked);
    Ok(())
}

pub fn retired_memblock_refuses() -> TestResult {
    if memblock_alloc(PAGE_SIZE as u64, PAGE_SIZE as u64, u64::MAX).is_some() {
        return Err("memblock allocated after retirement");
    }
    Ok(())
}

/// Rounds of [`allocator_stress_keeps_the_clock`]: enough work for about
/// three seconds of host time on a 2 GB QEMU machine (150 rounds were,
/// until issue 13's faster allocators made them 0.9 s).
const STRESS_ROUNDS: usize = 500;

/// Allocator and slab stress for a few seconds: every free frame taken and
/// given back, order-0 and order-3 churn, kmalloc churn, pcp drains and the
/// reports that walk the zones and `mem_map`. Interrupts must stay on for
/// all but bounded batches of it, so the timer keeps ticking: the test
/// prints the guest's uptime before and after, and tests/qemu.py
/// (`qemu::mm::allocator_stress_keeps_guest_time`) compares the difference
/// with the host's clock. On its own it checks that the work leaks nothing.
pub fn allocator_stress_keeps_the_clock() -> TestResult {
    use crate::mm::slab_common::kmalloc::{kfree, kmalloc};
    use crate::mm::slab_common::shrink_all;
    let settle = || {
        shrink_all();
        page_alloc::drain_all_pages();
    };
    settle();
    let before = page_alloc::nr_free_pages();
    let (t0, j0) = (crate::arch::x86::pit::clock_us(), crate::arch::x86::pit::jiffies());
    pr_info!("ktest: stress start, guest uptime {} us", t0);
    let mut result = Ok(());
    for round in 0..STRESS_ROUNDS {
        if round % 50 == 0 {
            // The O(n) walk of the issue: every free frame, one by one.
            let mut chain = take_all_free(0);
            give_back(&mut chain);
        }
        let mut held: [Option<Block>; 64] = [const { None }; 64];
        for i in 0..4096 {
            let order = if i % 16 == 0 { 3 } else { 0 };
            held[i % 64] = Block::new(GFP_KERNEL | Gfp::NOWARN, order);
        }
        drop(held);
        let mut objs = [core::ptr::null_mut::<u8>(); 128];
        for i in 0..4096 {
            let slot = &mut objs[i % 128];
            if !slot.is_null() {
                // SAFETY: allocated below by kmalloc and not freed since.
                unsafe { kfree(*slot) };
            }
            *slot = kmalloc(8 << (i % 8), GFP_KERNEL | Gfp::NOWARN).map_or(core::ptr::null_mut(), |p| p.as_ptr());
        }
        for p in objs.into_iter().filter(|p| !p.is_null()) {
            // SAFETY: as above; each pointer is freed once.
            unsafe { kfree(p) };
        }
        page_alloc::drain_all_pages();
        let mut sink = Discard(0);
        let counts = crate::mm::vmstat::memmap_counts();
        let _ = with_node_mem_map(|node, _| {
            crate::mm::vmstat::buddyinfo(node, &mut sink)?;
            crate::mm::vmstat::zoneinfo(node, &mut sink)?;
            crate::mm::vmstat::memmap_print(node, &counts, false, &mut sink)
        });
        if sink.0 == 0 {
            result = Err("the reports wrote nothing");
        }
    }
    let (t1, j1) = (crate::arch::x86::pit::clock_us(), crate::arch::x86::pit::jiffies());
    pr_info!(
        "ktest: stress end, guest uptime {} us ({} us, {} ticks, for {} rounds)",
        t1,
        t1 - t0,
        j1 - j0,
        STRESS_ROUNDS
    );
    settle();
    result?;
    if page_alloc::nr_free_pages() != before {
        return Err("free pages not back where they were");
    }
    Ok(())
}

/// A `fmt::Write` that counts the bytes it is given and keeps none.
struct Discard(usize);

impl core::fmt::Write for Discard {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}
