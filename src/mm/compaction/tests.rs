//! Host tests of `mm::compaction`: the scanners on a node over a `Vec` of
//! pages, with a migrator that moves a tag from frame to frame as the
//! kernel's moves the contents.

use super::*;
use crate::kernel::e820::{MemMap, MemType, Region};
use crate::mm::gfp::GFP_HIGHUSER_MOVABLE;
use crate::mm::zones::{size_zones, MemOptions};
use std::collections::BTreeMap;

const HIGH: usize = 2;

/// 128 MB with 32 MB (8 pageblocks) of highmem, every page free.
fn machine() -> (Node, Vec<Page>) {
    machine_of(128 << 20, 32 << 20)
}

fn machine_of(ram: u64, highmem: u64) -> (Node, Vec<Page>) {
    let map = MemMap::sanitize(&[
        Region::new(0, 0x9fc00, MemType::Usable),
        Region::new(0x100000, ram - 0x100000, MemType::Usable),
    ]);
    let (layout, _) = size_zones(&map, &MemOptions { highmem: Some(highmem), ..MemOptions::default() });
    let mut node = Node::EMPTY;
    node.init(&layout, true);
    let mm = vec![Page::RESERVED; layout.max_pfn as usize];
    node.free_range(&mm, 0x100, layout.max_pfn as u32);
    node.setup_watermarks(None);
    (node, mm)
}

fn drain(node: &Node, mm: &[Page]) {
    for z in 0..node.zones.len() {
        while node.drain_pcp_batch(mm, z) > 0 {}
    }
}

/// User pages as the migrator sees them: each in-use frame's tag (its
/// "contents"), and which frames are mlocked where compaction may not move
/// them.
struct Users<'a> {
    node: &'a Node,
    mm: &'a [Page],
    /// frame -> tag
    tags: BTreeMap<u32, u32>,
    moves: usize,
}

impl Migrator for Users<'_> {
    fn isolate(&mut self, pfn: u32) -> Result<(), Skip> {
        let page = &self.mm[pfn as usize];
        if page.flags().contains(PageFlags::MLOCKED) {
            return Err(Skip::Mlocked);
        }
        assert!(self.tags.contains_key(&pfn), "isolating {pfn:#x}, which holds no user page");
        assert!(page.test_and_clear_flag(PageFlags::LRU));
        Ok(())
    }

    fn putback(&mut self, pfn: u32) {
        self.mm[pfn as usize].set_flag(PageFlags::LRU);
    }

    fn migrate(&mut self, pfn: u32, new: u32) -> Result<u32, Skip> {
        let (old, page) = (&self.mm[pfn as usize], &self.mm[new as usize]);
        assert_eq!((page.page_count(), page.is_buddy(), page.flags().contains(PageFlags::LRU)), (1, false, false));
        assert!(!self.tags.contains_key(&new), "target {new:#x} is in use");
        let tag = self.tags.remove(&pfn).unwrap();
        self.tags.insert(new, tag);
        page.set_flag(PageFlags::LRU);
        assert!(!old.flags().contains(PageFlags::LRU), "moving a page that was not isolated");
        self.node.__free_pages(self.mm, pfn, 0);
        self.moves += 1;
        Ok(new)
    }

    fn release_free(&mut self, pfn: u32) {
        assert!(!self.tags.contains_key(&pfn));
        self.node.__free_pages(self.mm, pfn, 0);
    }
}

impl Users<'_> {
    /// Free every user page, as the processes exiting would.
    fn free_all(&mut self) {
        for &pfn in self.tags.keys() {
            let page = &self.mm[pfn as usize];
            page.__clear_flag(PageFlags::LRU | PageFlags::MLOCKED);
            self.node.__free_pages(self.mm, pfn, 0);
        }
        self.tags.clear();
    }
}

/// Fill highmem with user pages, then free every other one (by pfn), as
/// `frag` does: half the zone free, in no block above order 0.
fn fragment<'a>(node: &'a Node, mm: &'a [Page]) -> Users<'a> {
    let mut u = Users { node, mm, tags: BTreeMap::new(), moves: 0 };
    let zone = &node.zones[HIGH];
    let mut all = Vec::new();
    while zone.nr_free_pages() > zone.watermark(Watermark::Low) + 1 {
        let pfn = node.alloc_pages(mm, GFP_HIGHUSER_MOVABLE, 0).unwrap();
        assert!(zone.contains(pfn));
        all.push(pfn);
    }
    for pfn in all {
        if pfn % 2 == 1 {
            node.__free_pages(mm, pfn, 0);
        } else {
            mm[pfn as usize].set_flag(PageFlags::LRU);
            u.tags.insert(pfn, pfn ^ 0x5eed);
        }
    }
    drain(node, mm);
    u
}

fn nr_free(node: &Node, order: usize) -> usize {
    node.zones[HIGH].lock().nr_free(order)
}

fn check(node: &Node, mm: &[Page]) {
    for z in node.zones.iter().filter(|z| z.is_populated()) {
        z.lock().check_invariants(mm).unwrap();
    }
}

#[test]
fn fragmentation_index_is_linux_s() {
    let mm = vec![Page::RESERVED; 2048];
    let mut z = BuddyZone::new(0, 2048);
    assert_eq!(fragmentation_index(&z, 3), 0, "nothing free");
    z.free_range(&mm, 0, 1024);
    assert_eq!(fragmentation_index(&z, 10), -1000, "a block of the order is free");
    assert_eq!(fragmentation_index(&z, 3), -1000, "a larger block is as good");
    let used: Vec<u32> = (0..1024).map(|_| z.alloc(&mm, 0, MigrateType::Movable).unwrap()).collect();
    for &pfn in used.iter().filter(|&&p| p % 2 == 1) {
        assert!(mm[pfn as usize].put_testzero());
        z.free(&mm, pfn, 0);
    }
    // 512 single pages free: 1000 - (1000 + 512 * 1000 / 2^order) / 512.
    assert_eq!(fragmentation_index(&z, 10), 1000 - (1000 + 500) / 512);
    assert_eq!(fragmentation_index(&z, 1), 1000 - (1000 + 256_000) / 512);
    assert_eq!(fragmentation_index(&z, 1), 499, "an order-1 failure here is as much lack of memory as fragmentation");
    assert_eq!(fragmentation_index(&z, 10), 998, "an order-10 failure here is fragmentation");
    assert_eq!(fragmentation_index(&z, 0), -1000);
    // One block of 512 for a request of 1024: Linux's formula goes below 0.
    let mut y = BuddyZone::new(0, 2048);
    y.free_range(&mm, 0, 512);
    assert_eq!(fragmentation_index(&y, 10), -500);
}

#[test]
fn compact_finished_is_linux_s() {
    let mm = vec![Page::RESERVED; 2048];
    let mut z = BuddyZone::new(0, 2048);
    z.free_range(&mm, 0, 2048);
    let cc = |order, mt| CompactControl::new(0, 2048, order, mt);
    let mut c = cc(Some(3), MigrateType::Unmovable);
    assert_eq!((c.migrate_pfn, c.free_pfn), (0, 1024), "the free scanner starts at the last pageblock");
    assert_eq!(compact_finished(&c, &z, true, true), CompactResult::Partial, "a fatal signal stops it");
    assert_eq!(compact_finished(&c, &z, false, false), CompactResult::Continue, "below the watermark");
    // Only order-10 Movable blocks are free: an Unmovable order-3 request
    // would take one whole and is done; so is any order-10 request.
    assert_eq!(compact_finished(&c, &z, true, false), CompactResult::Partial);
    let order3: Vec<u32> = (0..2).map(|_| z.alloc(&mm, 10, MigrateType::Movable).unwrap()).collect();
    z.free(&mm, 1024 + 8, 3);
    assert_eq!(compact_finished(&c, &z, true, false), CompactResult::Continue, "order 3 free, but on Movable's list");
    c.migratetype = MigrateType::Movable;
    assert_eq!(compact_finished(&c, &z, true, false), CompactResult::Partial);
    c.order = Some(4);
    assert_eq!(compact_finished(&c, &z, true, false), CompactResult::Continue);
    c.order = None;
    assert_eq!(compact_finished(&c, &z, true, false), CompactResult::Continue, "compact_memory runs to the end");
    c.migrate_pfn = 1024;
    assert_eq!(compact_finished(&c, &z, true, false), CompactResult::Complete, "the scanners met");
    assert_eq!(order3.len(), 2);
}

#[test]
fn compaction_frees_whole_pageblocks_and_keeps_every_page() {
    let (node, mm) = machine();
    let total = node.nr_free_pages();
    let mut users = fragment(&node, &mm);
    let before = users.tags.clone();
    let blocks = node.zones[HIGH].nr_pfns as usize / PAGEBLOCK_PAGES as usize;
    assert_eq!(nr_free(&node, 10), 0, "fragmented: no free pageblock");
    assert!(nr_free(&node, 0) > 3 * PAGEBLOCK_PAGES as usize / 2);
    let zone = &node.zones[HIGH];
    let mut cc = CompactControl::new(zone.start_pfn(), zone.end_pfn(), None, MigrateType::Movable);
    assert_eq!(compact_zone(zone, &mm, &mut cc, &mut users), CompactResult::Complete);
    drain(&node, &mm);
    check(&node, &mm);
    let s = cc.stats;
    assert_eq!(s.moved, users.moves);
    assert!(s.moved > 0 && s.failed_total() == 0 && s.skipped_total() == 0, "{s}");
    assert!(s.isolated >= s.moved, "{s}");
    // Half the zone is in use, packed at the top: about half the pageblocks
    // come free (one less when the scanners meet mid-block).
    assert!(nr_free(&node, 10) >= blocks / 2 - 1, "{} free pageblocks of {}: {s}", nr_free(&node, 10), blocks);
    // Every page kept its tag, and only its frame changed.
    let mut got: Vec<u32> = users.tags.values().copied().collect();
    let mut want: Vec<u32> = before.values().copied().collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    for &pfn in users.tags.keys() {
        let page = &mm[pfn as usize];
        assert!(page.flags().contains(PageFlags::LRU) && page.page_count() == 1 && zone.contains(pfn));
    }
    users.free_all();
    drain(&node, &mm);
    assert_eq!(node.nr_free_pages(), total, "every page came back");
    check(&node, &mm);
}

#[test]
fn mlocked_pages_are_skipped_and_counted() {
    let (node, mm) = machine();
    let total = node.nr_free_pages();
    let mut users = fragment(&node, &mm);
    let locked: Vec<u32> = users.tags.keys().copied().step_by(3).collect();
    for &pfn in &locked {
        mm[pfn as usize].set_flag(PageFlags::MLOCKED);
    }
    let zone = &node.zones[HIGH];
    let mut cc = CompactControl::new(zone.start_pfn(), zone.end_pfn(), None, MigrateType::Movable);
    compact_zone(zone, &mm, &mut cc, &mut users);
    let scanned_locked = locked.iter().filter(|&&p| p < cc.migrate_pfn).count();
    assert!(scanned_locked > 0);
    assert_eq!(cc.stats.skipped[Skip::Mlocked as usize], scanned_locked, "{}", cc.stats);
    for &pfn in &locked {
        assert!(users.tags.contains_key(&pfn), "mlocked page {pfn:#x} moved");
    }
    assert!(format!("{}", cc.stats).contains(&format!("(mlocked {scanned_locked})")), "{}", cc.stats);
    drain(&node, &mm);
    check(&node, &mm);
    users.free_all();
    drain(&node, &mm);
    assert_eq!(node.nr_free_pages(), total);
}

#[test]
fn free_scanner_leaves_reserve_and_isolated_pageblocks_alone() {
    let (node, mm) = machine();
    let mut users = fragment(&node, &mm);
    let zone = &node.zones[HIGH];
    let top = (zone.end_pfn() - 1) & !(PAGEBLOCK_PAGES - 1);
    let next = top - PAGEBLOCK_PAGES;
    zone.lock().set_pageblock_type(top, MigrateType::Isolate);
    zone.lock().set_pageblock_type(next, MigrateType::Reserve);
    let users_in = |u: &Users, b: u32| u.tags.keys().filter(|&&p| p >> PAGEBLOCK_ORDER == b >> PAGEBLOCK_ORDER).count();
    let (in_top, in_next) = (users_in(&users, top), users_in(&users, next));
    let mut cc = CompactControl::new(zone.start_pfn(), zone.end_pfn(), None, MigrateType::Movable);
    compact_zone(zone, &mm, &mut cc, &mut users);
    assert!(cc.stats.moved > 0);
    assert_eq!((users_in(&users, top), users_in(&users, next)), (in_top, in_next), "pages moved into them");
    zone.lock().set_pageblock_type(top, MigrateType::Movable);
    zone.lock().set_pageblock_type(next, MigrateType::Movable);
    users.free_all();
    drain(&node, &mm);
    check(&node, &mm);
}

/// Take every free block above order 0 out of the lowmem zones, so that
/// they cannot serve a high-order allocation either; returns them.
fn take_lowmem_blocks(node: &Node, mm: &[Page]) -> Vec<(usize, u32, usize)> {
    let mut taken = Vec::new();
    for z in 0..HIGH {
        let mut buddy = node.zones[z].lock();
        for order in (1..MAX_ORDER).rev() {
            for mt in MigrateType::ALL.into_iter().filter(|&mt| mt != MigrateType::Isolate) {
                while buddy.nr_free_by_type(order, mt) != 0 {
                    taken.push((z, buddy.alloc_from_own_lists(mm, order, mt).unwrap(), order));
                }
            }
        }
    }
    taken
}

#[test]
fn direct_compaction_runs_only_when_fragmentation_is_the_cause() {
    let (node, mm) = machine();
    let total = node.nr_free_pages();
    let mut users = fragment(&node, &mm);
    let lowmem = take_lowmem_blocks(&node, &mm);
    let classzone = HIGH;
    let index = fragmentation_index(&node.zones[HIGH].lock(), 10);
    assert!(index > 900, "{index}");
    let rc = try_to_compact_pages(&node, &mm, classzone, 10, MigrateType::Movable, 1000, &mut users);
    assert_eq!((rc, users.moves), (CompactResult::Skipped, 0), "vm.extfrag_threshold 1000: never worth it");
    let rc = try_to_compact_pages(&node, &mm, classzone, 10, MigrateType::Movable, 500, &mut users);
    assert!(rc >= CompactResult::Partial && users.moves > 0, "{rc:?}");
    drain(&node, &mm);
    let moves = users.moves;
    assert!(nr_free(&node, 10) >= 1);
    let block = node.zones[HIGH].lock().alloc_from_own_lists(&mm, 10, MigrateType::Movable);
    let pfn = block.expect("an order-10 block after direct compaction");
    assert!(moves < users.tags.len(), "stopped once a block was free: {moves} moves");
    assert!(mm[pfn as usize].put_testzero());
    node.zones[HIGH].lock().free(&mm, pfn, 10);
    for (z, pfn, order) in lowmem {
        assert!(mm[pfn as usize].put_testzero());
        node.zones[z].lock().free(&mm, pfn, order);
    }
    users.free_all();
    drain(&node, &mm);
    assert_eq!(node.nr_free_pages(), total);
    check(&node, &mm);
}

#[test]
fn a_zone_ending_mid_pageblock_is_compacted_to_its_end() {
    // Highmem from 96 MB to 126.5 MB: its last pageblock is cut short.
    let (node, mm) = machine_of((126 << 20) + (512 << 10), (30 << 20) + (512 << 10));
    let zone = &node.zones[HIGH];
    assert_ne!(zone.end_pfn() % PAGEBLOCK_PAGES, 0);
    let total = node.nr_free_pages();
    let mut users = fragment(&node, &mm);
    let mut cc = CompactControl::new(zone.start_pfn(), zone.end_pfn(), None, MigrateType::Movable);
    assert_eq!(compact_zone(zone, &mm, &mut cc, &mut users), CompactResult::Complete);
    assert!(cc.stats.moved > 0 && cc.migrate_pfn <= zone.end_pfn().next_multiple_of(PAGEBLOCK_PAGES));
    // Again, with nothing left to move: the scanners meet at once.
    let mut again = CompactControl::new(zone.start_pfn(), zone.end_pfn(), None, MigrateType::Movable);
    assert_eq!(compact_zone(zone, &mm, &mut again, &mut users), CompactResult::Complete);
    users.free_all();
    drain(&node, &mm);
    assert_eq!(node.nr_free_pages(), total);
    check(&node, &mm);
}

#[test]
fn compacting_a_zone_with_no_user_pages_moves_nothing_and_ends() {
    let (node, mm) = machine_of((126 << 20) + (512 << 10), (30 << 20) + (512 << 10));
    let total = node.nr_free_pages();
    let mut users = Users { node: &node, mm: &mm, tags: BTreeMap::new(), moves: 0 };
    let stats = compact_node(&node, &mm, &mut users);
    assert!(stats[3].is_none(), "no ZONE_MOVABLE here");
    for (z, s) in stats[..3].iter().enumerate() {
        let s = s.expect("DMA, Normal and HighMem are populated");
        assert_eq!((s.moved, s.isolated), (0, 0), "zone {z}: {s}");
    }
    drain(&node, &mm);
    assert_eq!(node.nr_free_pages(), total, "free pages taken were all given back");
    check(&node, &mm);
}

#[test]
fn a_free_cma_block_finishes_a_movable_request_only() {
    let mm = vec![Page::RESERVED; 2048];
    let mut z = BuddyZone::new(0, 2048);
    z.set_pageblock_type(1024, MigrateType::Cma);
    z.free_range(&mm, 0, 2048);
    let taken: Vec<u32> =
        [MigrateType::Movable, MigrateType::Movable].iter().map(|&mt| z.alloc(&mm, 10, mt).unwrap()).collect();
    assert_eq!(taken.len(), 2, "both pageblocks taken, the CMA one by a movable allocation");
    // An order-3 block comes free in the CMA pageblock.
    z.free(&mm, 1024 + 8, 3);
    assert_eq!(z.nr_free_by_type(3, MigrateType::Cma), 1);
    let mut c = CompactControl::new(0, 2048, Some(3), MigrateType::Movable);
    assert_eq!(compact_finished(&c, &z, true, false), CompactResult::Partial, "movable may use the CMA block");
    c.migratetype = MigrateType::Unmovable;
    assert_eq!(compact_finished(&c, &z, true, false), CompactResult::Continue, "unmovable may not");
}
