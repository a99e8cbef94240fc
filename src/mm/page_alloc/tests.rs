//! Host tests of `mm::page_alloc`.
//!
//! Past 600 lines because it is a list of independent tests (each builds
//! its own node), read one at a time.

use super::pcp::{pcp_index, route_index};
use super::*;
use crate::kernel::e820::{MemMap, MemType, Region};
use crate::mm::buddy;
use crate::mm::gfp::{GFP_ATOMIC, GFP_DMA, GFP_HIGHUSER, GFP_HIGHUSER_MOVABLE, GFP_KERNEL};
use crate::mm::mm_init::{
    int_sqrt, memmap_page, memmap_runs, mobility_grouping, zone_batchsize, ZonelistsLine, GROUPING_MIN_PAGES,
};
use crate::mm::mmzone::{Node, Watermark, Zone, ZoneType, MAX_NR_ZONES};
use crate::mm::zones::{size_zones, MemOptions};

/// A small machine: 128 MB of RAM made to have `highmem_mb` of highmem.
fn machine(highmem_mb: u64) -> (Node, Vec<Page>) {
    let map = MemMap::sanitize(&[
        Region::new(0, 0x9fc00, MemType::Usable),
        Region::new(0x100000, (128 << 20) - 0x100000, MemType::Usable),
    ]);
    let opts = MemOptions { highmem: Some(highmem_mb << 20), ..MemOptions::default() };
    let (layout, _) = size_zones(&map, &opts);
    let mut node = Node::EMPTY;
    node.init(&layout, true);
    let mem_map = vec![Page::RESERVED; layout.max_pfn as usize];
    for r in map.entries() {
        let (s, e) = (r.start.div_ceil(4096).max(1) as u32, (r.end / 4096) as u32);
        node.free_range(&mem_map, s, e);
    }
    node.setup_watermarks(None);
    (node, mem_map)
}

fn buddyinfo(node: &Node) -> Vec<Vec<usize>> {
    node.zones.iter().map(|z| (0..MAX_ORDER).map(|o| z.lock().nr_free(o)).collect()).collect()
}

#[test]
fn watermarks_and_reserves_follow_linux() {
    let (node, _) = machine(32);
    assert_eq!(node.zones[2].managed, 32 << 8, "32 MB of highmem");
    let dma = &node.zones[0];
    let normal = &node.zones[1];
    let high = &node.zones[2];
    assert!(
        dma.watermark(Watermark::Min) < dma.watermark(Watermark::Low)
            && dma.watermark(Watermark::Low) < dma.watermark(Watermark::High)
    );
    assert_eq!(high.watermark(Watermark::Min), 32, "highmem min is clamped to 32..128 pages");
    assert_eq!(dma.lowmem_reserve(0), 0);
    assert_eq!(dma.lowmem_reserve(1), normal.managed / 256);
    assert_eq!(dma.lowmem_reserve(2), (normal.managed + high.managed) / 256);
    assert_eq!(normal.lowmem_reserve(2), high.managed / 32);
    // 2.6.24: sqrt(16 * lowmem KB).
    let low_kb = (dma.managed + normal.managed) * 4;
    assert_eq!(node.min_free_kbytes(), int_sqrt(16 * low_kb).clamp(128, 65536));
}

#[test]
fn highuser_drains_highmem_before_lowmem() {
    let (node, mm) = machine(32);
    let low_before = node.zones[0].nr_free_pages() + node.zones[1].nr_free_pages();
    let mut got = Vec::new();
    // HighMem serves everything until it reaches its `low` mark (where
    // Linux would wake kswapd); only then does the zonelist fall back.
    while node.zones[2].nr_free_pages() > node.zones[2].watermark(Watermark::Low) + 1 {
        let pfn = node.alloc_pages(&mm, GFP_HIGHUSER, 0).unwrap();
        assert!(pfn as u64 >= node.max_low_pfn, "lowmem used while highmem had room");
        got.push(pfn);
    }
    assert_eq!(node.zones[0].nr_free_pages() + node.zones[1].nr_free_pages(), low_before);
    // Now highmem is at its watermark: the next ones fall back to Normal.
    let pfn = node.alloc_pages(&mm, GFP_HIGHUSER, 0).unwrap();
    got.push(pfn);
    let pfn = node.alloc_pages(&mm, GFP_HIGHUSER, 0).unwrap();
    assert!((pfn as u64) < node.max_low_pfn);
    got.push(pfn);
    for pfn in got {
        node.__free_pages(&mm, pfn, 0);
    }
}

#[test]
fn kernel_allocations_never_touch_highmem() {
    let (node, mm) = machine(32);
    let high_free = node.zones[2].nr_free_pages();
    let mut got = Vec::new();
    while let Some(pfn) = node.alloc_pages(&mm, GFP_KERNEL, 0) {
        assert!((pfn as u64) < node.max_low_pfn);
        got.push(pfn);
    }
    assert_eq!(node.zones[2].nr_free_pages(), high_free);
    // The reserve below `min` is left for atomic allocations.
    assert!(node.alloc_pages(&mm, GFP_ATOMIC, 0).is_some());
    for pfn in got {
        node.__free_pages(&mm, pfn, 0);
    }
}

#[test]
fn dma_allocations_stay_below_16m() {
    let (node, mm) = machine(32);
    let pfn = node.alloc_pages(&mm, GFP_DMA, 3).unwrap();
    assert!(pfn < 4096 && pfn % 8 == 0);
    node.__free_pages(&mm, pfn, 3);
}

#[test]
fn everything_freed_merges_back_exactly() {
    let (node, mm) = machine(32);
    let before = buddyinfo(&node);
    let free_before = node.nr_free_pages();
    let mut got = Vec::new();
    for gfp in [GFP_HIGHUSER_MOVABLE, GFP_KERNEL, GFP_ATOMIC] {
        while let Some(pfn) = node.alloc_pages(&mm, gfp, 0) {
            got.push(pfn);
        }
    }
    assert!(node.nr_free_pages() < free_before / 20);
    for pfn in got {
        node.__free_pages(&mm, pfn, 0);
    }
    node.drain_all(&mm);
    assert_eq!(node.nr_free_pages(), free_before);
    assert_eq!(buddyinfo(&node), before);
}

#[test]
fn pcp_list_stays_bounded() {
    let (node, mm) = machine(32);
    let got: Vec<u32> = (0..500).map(|_| node.alloc_pages(&mm, GFP_KERNEL, 0).unwrap()).collect();
    for pfn in got {
        node.__free_pages(&mm, pfn, 0);
        let pcp = node.zones[1].pcp();
        assert!(pcp.count <= pcp.high);
    }
}

#[test]
fn pcp_is_lifo_with_and_without_grouping() {
    for grouping in [true, false] {
        let (mut node, mut mm) = machine(32);
        if !grouping {
            let map = MemMap::sanitize(&[Region::new(0x100000, (128 << 20) - 0x100000, MemType::Usable)]);
            let (layout, _) = size_zones(&map, &MemOptions { highmem: Some(32 << 20), ..MemOptions::default() });
            node = Node::EMPTY;
            node.init(&layout, false);
            mm = vec![Page::RESERVED; layout.max_pfn as usize];
            node.free_range(&mm, 0x100, layout.max_pfn as u32);
            node.setup_watermarks(None);
        }
        let a = node.alloc_pages(&mm, GFP_HIGHUSER_MOVABLE, 0).unwrap();
        node.__free_pages(&mm, a, 0);
        let b = node.alloc_pages(&mm, GFP_HIGHUSER_MOVABLE, 0).unwrap();
        assert_eq!(a, b, "grouping {grouping}: pcp did not hand the same frame back");
        node.__free_pages(&mm, b, 0);
    }
}

#[test]
#[should_panic(expected = "Bad page state")]
fn double_free_is_caught() {
    let (node, mm) = machine(32);
    let pfn = node.alloc_pages(&mm, GFP_KERNEL, 0).unwrap();
    node.__free_pages(&mm, pfn, 0);
    node.__free_pages(&mm, pfn, 0);
}

#[test]
fn batch_sizes_match_linux() {
    assert_eq!(zone_batchsize(220158), 31);
    assert_eq!(zone_batchsize(3998), 0);
}

proptest::proptest! {
    #[test]
    fn random_alloc_free_conserves_pages(ops in proptest::collection::vec((0usize..4, 0usize..6, proptest::bool::ANY), 1..300)) {
        let (node, mm) = machine(32);
        let before = buddyinfo(&node);
        let total = node.nr_free_pages();
        let mut live: Vec<(u32, usize)> = Vec::new();
        for (g, order, free) in ops {
            if free && !live.is_empty() {
                let (pfn, order) = live.swap_remove(order % live.len());
                node.__free_pages(&mm, pfn, order);
            } else {
                let gfp = [GFP_KERNEL, GFP_HIGHUSER_MOVABLE, GFP_ATOMIC, GFP_DMA][g];
                if let Some(pfn) = node.alloc_pages(&mm, gfp, order) {
                    if gfp == GFP_DMA { proptest::prop_assert!(pfn < 4096); }
                    if !gfp.contains(Gfp::HIGHMEM) { proptest::prop_assert!((pfn as u64) < node.max_low_pfn); }
                    live.push((pfn, order));
                }
            }
            let used: u64 = live.iter().map(|&(_, o)| 1u64 << o).sum();
            proptest::prop_assert_eq!(node.nr_free_pages() + used, total);
        }
        for (pfn, order) in live {
            node.__free_pages(&mm, pfn, order);
        }
        node.drain_all(&mm);
        proptest::prop_assert_eq!(buddyinfo(&node), before);
    }
}

#[test]
fn migrate_reserve_covers_the_min_watermark() {
    let (node, mm) = machine(32);
    let free = node.nr_free_pages();
    let n = node.setup_migrate_reserve(&mm);
    assert!(n > 0, "no pageblock reserved");
    let reserved: usize = node.zones.iter().map(|z| z.lock().pageblock_counts()[MigrateType::Reserve as usize]).sum();
    assert_eq!(reserved, n);
    assert_eq!(node.nr_free_pages(), free, "reserving moves pages, frees none");
    for z in node.zones.iter().filter(|z| z.is_populated()) {
        let blocks = z.lock().pageblock_counts()[MigrateType::Reserve as usize] as u64;
        assert!(blocks * 1024 >= z.watermark(Watermark::Min).min(z.managed) || z.managed < 1024);
    }
    // Everything can still be allocated: reserve blocks are the last resort.
    let mut got = Vec::new();
    while let Some(pfn) = node.alloc_pages(&mm, GFP_ATOMIC, 0) {
        got.push(pfn);
    }
    for pfn in got {
        node.__free_pages(&mm, pfn, 0);
    }
    node.drain_all(&mm);
    assert_eq!(node.nr_free_pages(), free);
}

/// The packed route table agrees with the zonelist and the migrate type for
/// every combination of the routing bits, whatever other bits ride along.
#[test]
fn pcp_route_matches_gfp_decoding() {
    let (node, _) = machine(32);
    let routing = [Gfp::DMA, Gfp::HIGHMEM, Gfp::RECLAIMABLE, Gfp::MOVABLE];
    for mask in 0..16u32 {
        let mut gfp = Gfp::empty();
        for (i, bit) in routing.iter().enumerate() {
            if mask & (1 << i) != 0 {
                gfp |= *bit;
            }
        }
        for extra in [Gfp::empty(), GFP_KERNEL, Gfp::ZERO | Gfp::NOFAIL | Gfp::NOWARN, GFP_ATOMIC | Gfp::HARDWALL] {
            let g = gfp | extra;
            let route = node.pcp_route[route_index(g.bits())];
            assert_eq!(route.classzone.map(|z| z as usize), node.classzone[g.zone() as usize], "{g:?}");
            // No zone to start from: the fast path's index names an empty
            // zone, whose watermark test fails.
            assert_eq!(route.zone as usize, route.classzone.unwrap_or(0) as usize, "{g:?}");
            if route.classzone.is_none() {
                assert!(!node.zones[0].is_populated(), "{g:?}");
            }
            assert_eq!(route.list as usize, pcp_index(node.alloc_type(g)), "{g:?}");
        }
    }
}

/// A machine whose mem_map starts as the kernel's does (`memmap_page`),
/// with `[hole_start, hole_end)` kept back as if the kernel image sat there.
fn machine_with_reserved(hole_start: u32, hole_end: u32) -> (Node, Vec<Page>) {
    let map = MemMap::sanitize(&[
        Region::new(0, 0x9fc00, MemType::Usable),
        Region::new(0x100000, (128 << 20) - 0x100000, MemType::Usable),
    ]);
    let (layout, _) = size_zones(&map, &MemOptions { highmem: Some(32 << 20), ..MemOptions::default() });
    let mut node = Node::EMPTY;
    node.init(&layout, true);
    let mm: Vec<Page> = (0..layout.max_pfn).map(|pfn| memmap_page(&layout, pfn)).collect();
    node.free_range(&mm, 1, 0x9f);
    node.free_range(&mm, 0x100, hole_start);
    node.free_range(&mm, hole_end, layout.max_pfn as u32);
    node.setup_watermarks(None);
    (node, mm)
}

/// Every descriptor knows its zone, reserved frames and holes too, as
/// Linux's memmap_init_zone writes it for all pages.
#[test]
fn every_descriptor_has_its_zone() {
    let (node, mm) = machine_with_reserved(0x1000, 0x1100);
    for (pfn, page) in mm.iter().enumerate() {
        let want = if pfn < 0x1000 {
            0
        } else if (pfn as u64) < node.max_low_pfn {
            1
        } else {
            2
        };
        assert_eq!(page.zone_id(), want, "pfn {pfn:#x} (reserved: {})", page.is_reserved());
        assert_eq!(page.is_highmem(), pfn as u64 >= node.max_low_pfn);
    }
    assert!(mm[0x1000].is_reserved() && mm[0xa0].is_reserved(), "the holes stay reserved");
}

/// MIGRATE_RESERVE goes to pageblocks that can become free as a whole: not
/// the first Normal pageblock when part of it is reserved (Linux skips
/// blocks with reserved pages).
#[test]
fn migrate_reserve_skips_blocks_with_reserved_frames() {
    let (node, mm) = machine_with_reserved(0x1000, 0x1100);
    let n = node.setup_migrate_reserve(&mm);
    assert!(n > 0);
    let normal = node.zones[1].lock();
    assert_eq!(normal.pageblock_type(0x1000), MigrateType::Movable, "the block holding reserved frames");
    assert_eq!(normal.pageblock_type(0x1400), MigrateType::Reserve, "the next, wholly free block");
    for z in node.zones.iter().filter(|z| z.is_populated()) {
        let mut pfn = z.start_pfn();
        while pfn < z.end_pfn() {
            if z.pageblock_type(pfn) == MigrateType::Reserve {
                let block = pfn & !(buddy::PAGEBLOCK_PAGES - 1);
                assert!(mm[block as usize..(block + buddy::PAGEBLOCK_PAGES) as usize].iter().all(|p| !p.is_reserved()));
            }
            pfn = (pfn | (buddy::PAGEBLOCK_PAGES - 1)) + 1;
        }
    }
}

/// A page freed into an isolated pageblock lands on the buddy's Isolate
/// list, not on a pcp list from which the next allocation would take it.
#[test]
fn isolated_pageblock_frees_bypass_the_pcp_lists() {
    let (node, mm) = machine(32);
    let pfn = node.alloc_pages(&mm, GFP_HIGHUSER_MOVABLE, 0).unwrap();
    let z = node.zone_of(pfn).unwrap();
    node.drain_all(&mm);
    {
        let mut buddy = node.zones[z].lock();
        buddy.set_pageblock_type(pfn, MigrateType::Isolate);
        buddy.move_freepages_block(&mm, pfn, MigrateType::Isolate);
    }
    assert_eq!(node.zones[z].pageblock_type(pfn), MigrateType::Isolate, "the lock-free copy follows the retag");
    let pcp_before = node.zones[z].pcp().count;
    node.__free_pages(&mm, pfn, 0);
    assert_eq!(node.zones[z].pcp().count, pcp_before, "the page went to a pcp list");
    let isolated: usize = (0..MAX_ORDER).map(|o| node.zones[z].lock().nr_free_by_type(o, MigrateType::Isolate)).sum();
    assert!(isolated > 0);
    let again = node.alloc_pages(&mm, GFP_HIGHUSER_MOVABLE, 0).unwrap();
    assert_ne!(again, pfn, "an isolated page was handed out again");
    node.__free_pages(&mm, again, 0);
    node.zones[z].lock().check_invariants(&mm).unwrap();
}

/// free_pages_check as Linux's: a page still mapped, on the LRU, or part of
/// a compound page is a bad page, not a free one.
#[test]
fn free_pages_check_sees_lru_head_and_mapcount() {
    type Spoil = fn(&Page);
    let spoils: [(&str, Spoil); 4] = [
        ("lru", |p| p.set_flag(PageFlags::LRU)),
        ("head", |p| p.set_flag(PageFlags::HEAD)),
        ("tail", |p| p.set_flag(PageFlags::TAIL)),
        ("mapcount", |p| {
            p.inc_mapcount();
        }),
    ];
    for (what, spoil) in spoils {
        let caught = std::panic::catch_unwind(|| {
            let (node, mm) = machine(32);
            let pfn = node.alloc_pages(&mm, GFP_KERNEL, 0).unwrap();
            spoil(&mm[pfn as usize]);
            node.__free_pages(&mm, pfn, 0);
        });
        let msg = caught.expect_err(what);
        let msg = msg.downcast_ref::<String>().unwrap();
        assert!(msg.contains("Bad page state"), "{what}: {msg}");
    }
}

/// totalreserve_pages as Linux computes it: max lowmem_reserve + high per
/// zone, capped at what the zone manages; empty zones reserve nothing.
#[test]
fn totalreserve_caps_each_zone_at_its_pages() {
    let (node, _) = machine(32);
    let movable = &node.zones[3];
    assert_eq!(movable.managed, 0);
    let want: u64 = node
        .zones
        .iter()
        .map(|z| ((0..4).map(|j| z.lowmem_reserve(j)).max().unwrap() + z.watermark(Watermark::High)).min(z.managed))
        .sum();
    assert_eq!(node.totalreserve_pages(), want);
    // The DMA zone keeps its reserve against Normal and HighMem as well.
    let dma = &node.zones[0];
    assert!(node.totalreserve_pages() >= dma.lowmem_reserve(2) + dma.watermark(Watermark::High));
    // 512 MB with no highmem: the empty HighMem zone's high mark (it gets
    // min 32 from the clamp) must not count.
    let map = MemMap::sanitize(&[Region::new(0x100000, (512 << 20) - 0x100000, MemType::Usable)]);
    let (layout, _) = size_zones(&map, &MemOptions::default());
    let mut node = Node::EMPTY;
    node.init(&layout, true);
    let mm = vec![Page::RESERVED; layout.max_pfn as usize];
    node.free_range(&mm, 0x100, layout.max_pfn as u32);
    node.setup_watermarks(None);
    assert_eq!(node.zones[2].managed, 0);
    assert!(node.zones[2].watermark(Watermark::High) > 0, "the empty zone has a high mark");
    let low: u64 = node.zones[..2]
        .iter()
        .map(|z| (0..4).map(|j| z.lowmem_reserve(j)).max().unwrap() + z.watermark(Watermark::High))
        .sum();
    assert_eq!(node.totalreserve_pages(), low);
}

/// 2.6.24 turns grouping off below pageblock_nr_pages * MIGRATE_TYPES
/// pages (20 MB here) and says so in its own words.
#[test]
fn small_machines_turn_mobility_grouping_off() {
    assert_eq!(GROUPING_MIN_PAGES, 5120);
    assert!(!mobility_grouping(true, 5119));
    assert!(mobility_grouping(true, 5120));
    assert!(!mobility_grouping(false, 1 << 20));
    // mem=16M: 4096 frames less frame 0 and the 0x9f..0x100 hole.
    let map = MemMap::sanitize(&[
        Region::new(0, 0x9fc00, MemType::Usable),
        Region::new(0x100000, (16 << 20) - 0x100000, MemType::Usable),
    ]);
    let (layout, _) = size_zones(&map, &MemOptions::default());
    let total: u64 = layout.zones.iter().map(|z| z.present_pages).sum();
    assert_eq!(total, 4096 - 1 - 0x61);
    let grouping = mobility_grouping(true, total);
    assert_eq!(
        ZonelistsLine { grouping, total_pages: total }.to_string(),
        "Built 1 zonelists in Zone order, mobility grouping off.  Total pages: 3998"
    );
}

#[test]
fn falling_below_low_wakes_kswapd() {
    let (node, mm) = machine(32);
    let wakeups = |node: &Node| node.zones.iter().map(|z| z.kswapd_wakeups.load(Relaxed)).collect::<Vec<_>>();
    let mut got = Vec::new();
    // Kernel allocations take Normal, then DMA, down to their `low` marks
    // without waking anybody...
    while wakeups(&node).iter().all(|&w| w == 0) {
        got.push(node.alloc_pages(&mm, GFP_KERNEL, 0).expect("the min pass still serves it"));
    }
    // ...and the first one that finds no zone above `low` wakes kswapd for
    // Normal and is served from the reserve between min and low. DMA was
    // skipped only for the `lowmem_reserve` it keeps against Normal's
    // callers; above its own `low` it needs no kswapd (Linux's
    // wakeup_kswapd checks the mark with classzone 0).
    let normal = &node.zones[1];
    assert!(normal.nr_free_pages() <= normal.watermark(Watermark::Low));
    assert!(normal.nr_free_pages() > normal.watermark(Watermark::Min));
    assert_eq!(wakeups(&node), [0, 1, 0, 0], "Normal woken once, HighMem not looked at");
    for pfn in got.drain(..) {
        node.__free_pages(&mm, pfn, 0);
    }
    let pfn = node.alloc_pages(&mm, GFP_KERNEL, 0).unwrap();
    node.__free_pages(&mm, pfn, 0);
    assert_eq!(wakeups(&node), [0, 1, 0, 0], "above low again: nobody woken");
}

#[test]
fn retry_after_reclaim_follows_2_6_24() {
    use crate::mm::gfp::{Gfp, PAGE_ALLOC_COSTLY_ORDER};
    let costly = PAGE_ALLOC_COSTLY_ORDER;
    assert!(should_alloc_retry(GFP_KERNEL, 0, true));
    assert!(should_alloc_retry(GFP_KERNEL, costly, true), "order 3 still retries");
    assert!(!should_alloc_retry(GFP_KERNEL, costly + 1, true), "costly orders do not");
    assert!(should_alloc_retry(GFP_KERNEL | Gfp::REPEAT, costly + 1, true));
    assert!(should_alloc_retry(GFP_KERNEL | Gfp::NOFAIL, 10, true));
    assert!(!should_alloc_retry(GFP_KERNEL | Gfp::NORETRY, 0, true), "NORETRY never loops");
    assert!(!should_alloc_retry(GFP_KERNEL | Gfp::NORETRY | Gfp::NOFAIL, 0, true));
    assert!(!should_alloc_retry(GFP_KERNEL, 0, false), "no progress, no retry");
    assert!(!should_alloc_retry(GFP_KERNEL | Gfp::NOFAIL, 0, false), "no OOM killer to loop through yet");
}

#[test]
fn drain_pcp_batch_takes_one_batch_at_a_time() {
    let (node, mm) = machine(32);
    let got: Vec<u32> = (0..40).map(|_| node.alloc_pages(&mm, GFP_KERNEL, 0).unwrap()).collect();
    for pfn in got {
        node.__free_pages(&mm, pfn, 0);
    }
    let (cached, batch) = {
        let pcp = node.zones[1].pcp();
        (pcp.count, pcp.batch)
    };
    assert!(cached > batch, "{cached} pages cached, batch {batch}: more than one batch to drain");
    let free = node.nr_free_pages();
    assert_eq!(node.drain_pcp_batch(&mm, 1), cached - batch);
    assert_eq!(node.nr_free_pages(), free, "draining moves pages, frees none");
    while node.drain_pcp_batch(&mm, 1) > 0 {}
    assert_eq!(node.zones[1].pcp().count, 0);
    node.zones[1].lock().check_invariants(&mm).unwrap();
}

/// Each zone has its own lock, and the pcp fast path takes none of them:
/// with HighMem's free lists locked a kernel allocation still gets Normal's
/// pages, and with Normal's locked too a page already on its pcp list still
/// comes off it. Under one lock over every zone (before issue 9) the first
/// allocation here would spin for ever.
#[test]
fn zones_lock_apart_and_the_pcp_path_takes_no_zone_lock() {
    let (node, mm) = machine(32);
    // Put pages on Normal's pcp list.
    let warm = node.alloc_pages(&mm, GFP_KERNEL, 0).unwrap();
    node.__free_pages(&mm, warm, 0);
    let _highmem = node.zones[2].lock();
    let a = node.alloc_pages(&mm, GFP_KERNEL, 0).expect("Normal serves while HighMem is locked");
    let _normal = node.zones[1].lock();
    let b = node.alloc_pages(&mm, GFP_KERNEL, 0).expect("the pcp list serves while Normal is locked");
    node.__free_pages(&mm, b, 0);
    drop(_normal);
    drop(_highmem);
    node.__free_pages(&mm, a, 0);
    node.drain_all(&mm);
    node.zones[1].lock().check_invariants(&mm).unwrap();
}

/// The lock-free copies beside each zone's lock follow what the lock
/// holders did: free counts after allocations and frees, pageblock types
/// after a retag.
#[test]
fn lock_free_counters_follow_the_locked_state() {
    let (node, mm) = machine(32);
    let z = &node.zones[1];
    let buddy_and_pcp = |z: &Zone| {
        let pcp = z.pcp().count;
        (z.lock().free_area_pages() + pcp) as u64
    };
    assert_eq!(z.nr_free_pages(), buddy_and_pcp(z));
    let block = node.alloc_pages(&mm, GFP_KERNEL, 3).unwrap();
    let pages: Vec<u32> = (0..10).map(|_| node.alloc_pages(&mm, GFP_KERNEL, 0).unwrap()).collect();
    assert_eq!(z.nr_free_pages(), buddy_and_pcp(z));
    for pfn in pages {
        node.__free_pages(&mm, pfn, 0);
    }
    node.__free_pages(&mm, block, 3);
    assert_eq!(z.nr_free_pages(), buddy_and_pcp(z));
    let pfn = z.start_pfn().next_multiple_of(buddy::PAGEBLOCK_PAGES);
    let before = z.pageblock_type(pfn);
    z.lock().set_pageblock_type(pfn, MigrateType::Reclaimable);
    assert_ne!(before, MigrateType::Reclaimable);
    assert_eq!(z.pageblock_type(pfn), MigrateType::Reclaimable);
}

/// Boot writes mem_map run by run (`memmap_runs`); the runs must tile
/// [0, max_pfn) and give every frame what `memmap_page` gives it, on
/// machines with and without highmem, with ZONE_MOVABLE, and with a
/// lowmem-only `mem=`.
#[test]
fn memmap_runs_match_memmap_page() {
    let map = MemMap::sanitize(&[
        Region::new(0, 0x9fc00, MemType::Usable),
        Region::new(0x100000, (128 << 20) - 0x100000, MemType::Usable),
    ]);
    let options = [
        MemOptions { highmem: Some(32 << 20), ..MemOptions::default() },
        MemOptions { highmem: Some(32 << 20), kernelcore: Some(64 << 20), ..MemOptions::default() },
        MemOptions { kernelcore: Some(64 << 20), ..MemOptions::default() },
        MemOptions::default(),
        MemOptions { mem_limit: Some(8 << 20), ..MemOptions::default() },
    ];
    for opts in &options {
        let (layout, _) = size_zones(&map, opts);
        let mut next = 0;
        let mut runs = 0;
        for (start, end, word) in memmap_runs(&layout) {
            assert_eq!(start, next, "runs leave a gap or overlap at pfn {next:#x} ({opts:?})");
            assert!(start < end, "empty run at {start:#x} ({opts:?})");
            for pfn in start..end {
                assert_eq!(word, memmap_page(&layout, pfn).flags_word(), "pfn {pfn:#x} ({opts:?})");
            }
            next = end;
            runs += 1;
        }
        assert_eq!(next, layout.max_pfn, "runs stop short of max_pfn ({opts:?})");
        // One run per populated zone, at most one more where highmem starts.
        assert!(runs <= MAX_NR_ZONES + 1, "{runs} runs ({opts:?})");
    }
}

/// The pcp lists are guarded by masking interrupts and a lock word that
/// only catches re-entry: taking them again while held is reported, not a
/// spin for ever.
#[test]
#[should_panic(expected = "pcp lists of zone Normal taken again")]
fn pcp_taken_twice_is_reported() {
    let (node, _mm) = machine(0);
    let _held = node.zones[1].pcp();
    let _again = node.zones[1].pcp();
}

/// Linux 2.6.24's `zone_watermark_ok`, word for word (pcp pages count at
/// order 0 only, as here): what the high-order fast path must agree with.
#[allow(clippy::int_plus_one)] // Linux's arithmetic as written
fn linux_watermark_ok(z: &Zone, order: usize, mark: u64, classzone: usize, high: bool, harder: bool) -> bool {
    let total = z.nr_free_pages() as i64;
    let buddy = z.lock();
    let mut min = mark as i64;
    if high {
        min -= min / 2;
    }
    if harder {
        min -= min / 4;
    }
    if total - (1 << order) + 1 <= min + z.lowmem_reserve(classzone) as i64 {
        return false;
    }
    let mut free = buddy.free_area_pages() as i64 - (1 << order) + 1;
    for o in 0..order {
        free -= (buddy.nr_free(o) as i64) << o;
        min >>= 1;
        if free <= min {
            return false;
        }
    }
    true
}

proptest::proptest! {
    #[test]
    fn watermark_ok_agrees_with_linux_at_every_order(
        orders in proptest::collection::vec(0usize..MAX_ORDER, 1..400),
        keep_every in 2usize..5,
    ) {
        let (node, mm) = machine(32);
        let free0 = node.nr_free_pages();
        // Fragment the zones: allocate, then give back all but every
        // `keep_every`-th block, so free blocks of many orders remain.
        let mut live = Vec::new();
        for (i, &order) in orders.iter().enumerate() {
            if let Some(pfn) = node.alloc_pages(&mm, [GFP_KERNEL, GFP_HIGHUSER_MOVABLE][i % 2], order) {
                live.push((pfn, order));
            }
        }
        let mut kept = Vec::new();
        for (i, (pfn, order)) in live.into_iter().enumerate() {
            if i % keep_every == 0 { kept.push((pfn, order)) } else { node.__free_pages(&mm, pfn, order) }
        }
        for (classzone, z) in node.zones.iter().enumerate().filter(|(_, z)| z.is_populated()) {
            let free = z.nr_free_pages();
            for order in 0..MAX_ORDER {
                for mark in [0, 1, 32, free / 4, free / 2, free.saturating_sub(1024), free, free + 1] {
                    for (high, harder) in [(false, false), (true, false), (false, true), (true, true)] {
                        proptest::prop_assert_eq!(
                            z.watermark_ok(order, mark, classzone, high, harder),
                            linux_watermark_ok(z, order, mark, classzone, high, harder),
                            "zone {} order {} mark {} high {} harder {}", z.name(), order, mark, high, harder
                        );
                    }
                }
            }
        }
        for (pfn, order) in kept {
            node.__free_pages(&mm, pfn, order);
        }
        proptest::prop_assert_eq!(node.nr_free_pages(), free0);
    }
}

/// The high-order fast path of `watermark_ok` against Linux's loop where
/// they could part: most free pages are order-0 fragments, a few whole
/// order-10 blocks are free, and the mark sweeps through every level.
#[test]
fn watermark_ok_agrees_with_linux_on_fragments() {
    let (node, mm) = machine(32);
    let free0 = node.nr_free_pages();
    let z = &node.zones[ZoneType::HighMem as usize];
    let mut taken = Vec::new();
    while let Some(pfn) = z.lock().alloc(&mm, 0, MigrateType::Movable) {
        taken.push(pfn);
    }
    let give = |pfn: u32| {
        mm[pfn as usize].set_page_count(0);
        z.lock().free(&mm, pfn, 0);
    };
    let first_block = z.start_pfn().next_multiple_of(1024);
    for whole_blocks in 0..3u32 {
        // Odd pages alone stay order-0 fragments; the pages of
        // `whole_blocks` aligned 1024-blocks merge into order-10 blocks.
        let in_whole = |pfn: u32| pfn >= first_block && pfn < first_block + whole_blocks * 1024;
        let (back, kept): (Vec<u32>, Vec<u32>) = taken.iter().partition(|&&p| p % 2 == 1 || in_whole(p));
        for &pfn in &back {
            give(pfn);
        }
        assert_eq!(z.lock().nr_free(10), whole_blocks as usize);
        let free = z.nr_free_pages();
        for mark in (0..=free + 1).step_by(5) {
            for order in 0..MAX_ORDER {
                for (high, harder) in [(false, false), (true, false), (false, true), (true, true)] {
                    assert_eq!(
                        z.watermark_ok(order, mark, 2, high, harder),
                        linux_watermark_ok(z, order, mark, 2, high, harder),
                        "{whole_blocks} order-10 blocks free, order {order} mark {mark} high {high} harder {harder}"
                    );
                }
            }
        }
        // Take the pages back for the next round.
        taken = kept;
        for _ in 0..back.len() {
            let pfn = z.lock().alloc(&mm, 0, MigrateType::Movable).expect("a page given back");
            taken.push(pfn);
        }
    }
    for pfn in taken {
        give(pfn);
    }
    assert_eq!(node.nr_free_pages(), free0);
}

/// A node with no zones (the kernel's before mm_init) hands out nothing,
/// whatever the flags: the fast path's index then names zone 0, empty, and
/// its watermark test fails on a free count of 0 rather than on a test of
/// its own; the slow path finds no zonelist.
#[test]
fn empty_node_allocates_nothing() {
    let node = Node::EMPTY;
    let mm: Vec<Page> = Vec::new();
    for mask in 0..16usize {
        let gfp = super::pcp::route_gfp(mask) | GFP_KERNEL;
        for order in [0, 1, 10] {
            assert_eq!(node.alloc_pages(&mm, gfp, order), None, "{gfp:?} order {order}");
        }
    }
    assert_eq!(node.nr_free_pages(), 0);
}

#[test]
fn nofail_page_allocations_never_fail() {
    let mut a = crate::kernel::fault_inject::FaultAttr::new(1, 100, 0, -1);
    assert!(!should_fail_alloc_page(&mut a, Gfp::NOFAIL | Gfp::WAIT, 0));
    assert_eq!(a.count, 0, "a NOFAIL call is not even counted");
    assert!(should_fail_alloc_page(&mut a, Gfp::WAIT, 0));
}

/// A 64 MB machine, no highmem, whose last two lowmem pageblocks are a CMA
/// region handed over as `init_cma_reserved_pageblock` does at boot.
fn machine_with_cma() -> (Node, Vec<Page>, core::ops::Range<u32>) {
    let map = MemMap::sanitize(&[
        Region::new(0, 0x9fc00, MemType::Usable),
        Region::new(0x100000, (64 << 20) - 0x100000, MemType::Usable),
    ]);
    let (layout, _) = size_zones(&map, &MemOptions::default());
    let mut node = Node::EMPTY;
    node.init(&layout, true);
    let mm = vec![Page::RESERVED; layout.max_pfn as usize];
    let cma = (layout.max_low_pfn as u32 - 2 * buddy::PAGEBLOCK_PAGES)..layout.max_low_pfn as u32;
    node.free_range(&mm, 1, 0x9f);
    node.free_range(&mm, 0x100, cma.start);
    for pfn in cma.clone().step_by(buddy::PAGEBLOCK_PAGES as usize) {
        node.init_cma_reserved_pageblock(&mm, pfn);
    }
    node.setup_watermarks(None);
    (node, mm, cma)
}

/// Unmovable allocations never get a CMA page, not even with nothing else
/// free and not through a pcp list: a CMA page freed goes to the Movable
/// pcp list (Linux's free path by pageblock type), and from there back to
/// the CMA lists. Counts come back exactly.
#[test]
fn cma_pages_reach_only_movable_allocations() {
    let (node, mm, cma) = machine_with_cma();
    let z = node.zone_of(cma.start).unwrap();
    assert_eq!(node.zones[z].managed, node.zones[z].lock().free_area_pages() as u64);
    assert_eq!(node.zones[z].pageblock_type(cma.start), MigrateType::Cma);
    let free_before = node.nr_free_pages();
    let mut kernel = Vec::new();
    while let Some(pfn) = node.alloc_pages(&mm, GFP_KERNEL, 0) {
        assert!(!cma.contains(&pfn), "GFP_KERNEL got CMA pfn {pfn:#x}");
        kernel.push(pfn);
    }
    for order in [0, 3, 9] {
        assert_eq!(node.alloc_pages(&mm, GFP_KERNEL | Gfp::RECLAIMABLE, order), None);
    }
    let cma_free = |node: &Node| {
        (0..MAX_ORDER).map(|o| node.zones[z].lock().nr_free_by_type(o, MigrateType::Cma) << o).sum::<usize>()
    };
    assert!(cma_free(&node) > 2000, "the CMA lists were touched");
    let movable = node.alloc_pages(&mm, GFP_KERNEL | Gfp::MOVABLE, 0).expect("movable may borrow CMA");
    assert!(cma.contains(&movable));
    node.__free_pages(&mm, movable, 0);
    {
        let pcp = node.zones[z].pcp();
        assert!(pcp.lists[pcp_index(MigrateType::Movable)].iter(&mm).any(|p| p == movable));
        assert!(!pcp.lists[pcp_index(MigrateType::Unmovable)].iter(&mm).any(|p| cma.contains(&p)));
    }
    assert_eq!(node.alloc_pages(&mm, GFP_KERNEL, 0), None, "the freed CMA page reached an unmovable allocation");
    for pfn in kernel {
        node.__free_pages(&mm, pfn, 0);
    }
    node.drain_all(&mm);
    assert_eq!(node.nr_free_pages(), free_before);
    assert_eq!(cma_free(&node), cma.len());
    for zone in node.zones.iter() {
        zone.lock().check_invariants(&mm).unwrap();
    }
}

/// meminfo's CmaTotal and CmaFree, vmstat's nr_free_cma: the region's
/// pages, and its free ones wherever they sit (buddy lists or pcp list).
#[test]
fn cma_counts_in_meminfo_and_vmstat() {
    use crate::mm::vmstat::{meminfo, vmstat, MemExtra, NodeStats, VmEvent};
    let (node, mm, cma) = machine_with_cma();
    let kb = |node: &Node| {
        let mut s = String::new();
        meminfo(node, &mm, &MemExtra::default(), &mut s).unwrap();
        let get = |k: &str| s.lines().find(|l| l.starts_with(k)).unwrap()[16..24].trim().parse::<u64>().unwrap();
        let mut v = String::new();
        vmstat(node, &mm, &NodeStats::default(), &[0; VmEvent::COUNT], &mut v).unwrap();
        let nr = v.lines().find_map(|l| l.strip_prefix("nr_free_cma ")).unwrap().parse::<u64>().unwrap();
        (get("CmaTotal:"), get("CmaFree:"), nr)
    };
    assert_eq!(kb(&node), (8192, 8192, 2048));
    let z = node.zone_of(cma.start).unwrap();
    let pfn = node.zones[z].lock().alloc(&mm, 2, MigrateType::Cma).unwrap();
    assert!(cma.contains(&pfn));
    assert_eq!(kb(&node), (8192, 8192 - 16, 2044));
    node.__free_pages(&mm, pfn, 2);
    let page = node.zones[z].lock().alloc(&mm, 0, MigrateType::Cma).unwrap();
    node.__free_pages(&mm, page, 0);
    assert!(node.zones[z].pcp().lists[pcp_index(MigrateType::Movable)].iter(&mm).any(|p| p == page));
    assert_eq!(kb(&node), (8192, 8192, 2048), "a CMA page on the pcp list is free");
}

/// A `high` above what a pcp ring holds (no kernel setting makes one, but
/// the fields are public): frees past a full ring go straight to the buddy
/// allocator, and no page is lost or handed out twice.
#[test]
fn full_pcp_ring_frees_to_the_buddy_allocator() {
    let (node, mm) = machine(32);
    let free_before = node.nr_free_pages();
    node.zones[1].pcp().high = 10 * super::pcp::PCP_RING;
    let n = super::pcp::PCP_RING + 40;
    let got: Vec<u32> = (0..n).map(|_| node.alloc_pages(&mm, GFP_KERNEL, 0).unwrap()).collect();
    let mut unique = got.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), n, "a page handed out twice");
    for &pfn in &got {
        node.__free_pages(&mm, pfn, 0);
    }
    {
        let pcp = node.zones[1].pcp();
        let cached: usize = pcp.lists.iter().map(|l| l.len()).sum();
        assert_eq!(cached, pcp.count);
        assert!(pcp.lists.iter().all(|l| l.len() <= super::pcp::PCP_RING));
    }
    assert_eq!(node.nr_free_pages(), free_before);
    node.drain_all(&mm);
    assert_eq!(node.nr_free_pages(), free_before);
    node.zones[1].lock().check_invariants(&mm).unwrap();
}

/// The drain takes the coldest pages first, the lists in turn as Linux's
/// `free_pcppages_bulk` (2.6.34+): with one list it is a plain
/// oldest-first drain; with two, a list passed over empty lets the next
/// give one page more.
#[test]
fn drain_takes_oldest_first_with_linux_turns() {
    let (node, mm) = machine(32);
    let z = &node.zones[1];
    let batch = z.pcp().batch;
    // Fill Unmovable (GFP_KERNEL) and Movable (user) lists by freeing.
    let k: Vec<u32> = (0..batch).map(|_| node.alloc_pages(&mm, GFP_KERNEL, 0).unwrap()).collect();
    let u: Vec<u32> =
        (0..batch).map(|_| node.alloc_pages(&mm, GFP_HIGHUSER_MOVABLE & !Gfp::HIGHMEM, 0).unwrap()).collect();
    node.drain_all(&mm);
    for &pfn in k.iter().chain(&u) {
        node.__free_pages(&mm, pfn, 0);
    }
    let lists_before: Vec<Vec<u32>> = z.pcp().lists.iter().map(|l| l.iter(&mm).collect()).collect();
    let (kl, ul) = (pcp_index(MigrateType::Unmovable), pcp_index(MigrateType::Movable));
    // Hot end first: the last page freed.
    assert_eq!(lists_before[kl].first(), k.last());
    let remaining = node.drain_pcp_batch(&mm, 1);
    let lists_after: Vec<Vec<u32>> = z.pcp().lists.iter().map(|l| l.iter(&mm).collect()).collect();
    let gone = |l: usize| lists_before[l].len() - lists_after[l].len();
    assert_eq!(remaining, 2 * batch - batch);
    // Turns start after list 0: list 1 (Reclaimable) is empty, so Movable
    // (list 2) gives two, then Unmovable one, and again: M M U M M U ...
    // (2.6.32's one page per list in turn would give U M U M ...).
    assert_eq!((gone(kl), gone(ul)), (batch / 3, batch - batch / 3), "{lists_before:?} -> {lists_after:?}");
    // What is left of each list is its hot end, in order.
    for l in [kl, ul] {
        assert_eq!(lists_after[l][..], lists_before[l][..lists_after[l].len()]);
    }
}

proptest::proptest! {
    /// A pcp ring is a double-ended queue, hot end at the front: pushes and
    /// pops at either end, a drain's share from the cold end, and a refill
    /// of an empty ring, against a `VecDeque`, wrapping round the array.
    #[test]
    fn pcp_ring_is_a_deque(ops in proptest::collection::vec((0u8..6, 0usize..40), 1..400)) {
        use super::pcp::{PcpRing, PCP_RING};
        let mut ring = PcpRing::EMPTY;
        let mut model = std::collections::VecDeque::new();
        let mut next = 0u32;
        for (op, n) in ops {
            match op {
                0 if !ring.is_full() => { ring.push_front(next); model.push_front(next); next += 1 }
                1 if !ring.is_full() => { ring.push_back(next); model.push_back(next); next += 1 }
                2 => proptest::prop_assert_eq!(ring.pop_front(), model.pop_front()),
                3 => proptest::prop_assert_eq!(ring.pop_back(), model.pop_back()),
                4 => {
                    let n = n.min(ring.len());
                    let mut got = Vec::new();
                    ring.pop_back_n(n, |pfn| got.push(pfn));
                    let want: Vec<u32> = (0..n).map(|_| model.pop_back().unwrap()).collect();
                    proptest::prop_assert_eq!(got, want);
                }
                5 if ring.is_empty() => {
                    let n = (n * 7).min(PCP_RING);
                    // In runs of 1 to 5 pages, as a refill hands them over.
                    let taken = ring.refill(|f| {
                        let mut i = 0;
                        while i < n {
                            let k = (n - i).min(1 + i % 5);
                            f.put_run(next + i as u32, k as u32);
                            i += k;
                        }
                        n
                    });
                    proptest::prop_assert_eq!(taken, n);
                    for i in 0..n as u32 { model.push_back(next + i) }
                    next += n as u32;
                }
                _ => {}
            }
            proptest::prop_assert_eq!(ring.len(), model.len());
            proptest::prop_assert_eq!(ring.iter(&[]).collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
        }
    }
}
