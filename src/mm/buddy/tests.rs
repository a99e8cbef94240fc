//! Host tests of `mm::buddy`.

use super::MigrateType::*;
use super::*;
use proptest::prelude::*;

fn mem_map(pages: usize) -> Vec<Page> {
    vec![Page::RESERVED; pages]
}

/// A zone over `[start, end)` with all of it freed.
fn zone(mm: &[Page], start: u32, end: u32) -> BuddyZone {
    let mut z = BuddyZone::new(start, end - start);
    z.free_range(mm, start, end);
    z.check_invariants(mm).unwrap();
    z
}

/// Drop the caller's reference and free, as `__free_pages` does.
fn release(z: &mut BuddyZone, mm: &[Page], pfn: u32, order: usize) {
    assert!(mm[pfn as usize].put_testzero());
    z.free(mm, pfn, order);
}

/// Every free block as (pfn, order), sorted.
fn free_blocks(z: &BuddyZone, mm: &[Page]) -> Vec<(u32, usize)> {
    let mut v: Vec<_> = (0..MAX_ORDER)
        .flat_map(|o| z.free_area(o).free_list.iter().flat_map(move |l| l.iter(mm).map(move |p| (p, o))))
        .collect();
    v.sort();
    v
}

fn nr_free_all(z: &BuddyZone) -> Vec<usize> {
    (0..MAX_ORDER).map(|o| z.nr_free(o)).collect()
}

#[test]
fn split_and_merge_back() {
    let mm = mem_map(1024);
    let mut z = zone(&mm, 0, 1024);
    assert_eq!(free_blocks(&z, &mm), [(0, 10)]);
    let pfn = z.alloc(&mm, 0, Movable).unwrap();
    assert_eq!((pfn, z.free_area_pages(), mm[0].page_count()), (0, 1023, 1));
    // One buddy left over at each order 0..9: pfn 1, 2, 4, ... 512.
    assert_eq!(free_blocks(&z, &mm), (0..10).map(|o| (1 << o, o)).collect::<Vec<_>>());
    z.check_invariants(&mm).unwrap();
    release(&mut z, &mm, pfn, 0);
    assert_eq!((free_blocks(&z, &mm), z.free_area_pages()), (vec![(0, 10)], 1024));
    z.check_invariants(&mm).unwrap();
}

#[test]
fn boot_free_uses_largest_aligned_blocks() {
    let mm = mem_map(2048);
    let z = zone(&mm, 3, 1030);
    let want: Vec<_> = [(3, 0), (4, 2), (1024, 2), (1028, 1)].into_iter().chain((3..10).map(|o| (1 << o, o))).collect();
    let mut want = want;
    want.sort();
    assert_eq!(free_blocks(&z, &mm), want);
    assert!(!mm[3].is_reserved() && mm[2].is_reserved() && mm[1030].is_reserved());
}

#[test]
fn ranges_freed_in_pieces_merge() {
    let mm = mem_map(1024);
    let mut z = BuddyZone::new(0, 1024);
    z.free_range(&mm, 700, 1024);
    z.free_range(&mm, 0, 333);
    z.free_range(&mm, 333, 700);
    assert_eq!(free_blocks(&z, &mm), [(0, 10)]);
}

#[test]
fn no_merge_across_zone_boundary() {
    let mm = mem_map(1024);
    let a = zone(&mm, 0, 512);
    let b = zone(&mm, 512, 1024);
    assert_eq!((free_blocks(&a, &mm), free_blocks(&b, &mm)), (vec![(0, 9)], vec![(512, 9)]));
}

#[test]
fn exhaustion_returns_none_and_nothing_leaks() {
    let mm = mem_map(4096);
    let mut z = zone(&mm, 1000, 3000);
    let before = free_blocks(&z, &mm);
    let mut got = Vec::new();
    while let Some(pfn) = z.alloc(&mm, 2, Unmovable) {
        assert_eq!(pfn % 4, 0);
        got.push((pfn, 2));
    }
    while let Some(pfn) = z.alloc(&mm, 0, Movable) {
        got.push((pfn, 0));
    }
    assert_eq!(got.len(), 500);
    assert_eq!((z.free_area_pages(), z.alloc(&mm, 0, Reclaimable)), (0, None));
    z.check_invariants(&mm).unwrap();
    for (pfn, order) in got {
        release(&mut z, &mm, pfn, order);
    }
    assert_eq!(free_blocks(&z, &mm), before);
}

#[test]
fn fallback_steals_whole_pageblock() {
    let mm = mem_map(4096);
    let mut z = zone(&mm, 0, 4096);
    assert_eq!(z.pageblock_counts(), [0, 0, 4, 0, 0, 0]);
    let a = z.alloc(&mm, 0, Unmovable).unwrap();
    // The largest Movable block (a whole pageblock) was taken and retagged.
    assert_eq!(z.pageblock_type(a), Unmovable);
    assert_eq!(z.pageblock_counts(), [1, 0, 3, 0, 0, 0]);
    assert_eq!((z.nr_free_by_type(9, Unmovable), z.nr_free_by_type(10, Movable)), (1, 3));
    // Later unmovable requests come from the same pageblock.
    let b = z.alloc(&mm, 3, Unmovable).unwrap();
    assert_eq!(a >> PAGEBLOCK_ORDER, b >> PAGEBLOCK_ORDER);
    release(&mut z, &mm, a, 0);
    release(&mut z, &mm, b, 3);
    assert_eq!((z.nr_free_by_type(10, Unmovable), z.nr_free(10)), (1, 4));
    z.check_invariants(&mm).unwrap();
}

/// A Movable zone of `pages` whose first-used pageblock is filled with
/// order-4 blocks but one; returns the zone and that free block.
fn fragmented(mm: &[Page], pages: u32) -> (BuddyZone, u32) {
    let mut z = zone(mm, 0, pages);
    let blocks: Vec<u32> = (0..64).map(|_| z.alloc(mm, 4, Movable).unwrap()).collect();
    assert!(blocks.iter().all(|b| b >> PAGEBLOCK_ORDER == blocks[0] >> PAGEBLOCK_ORDER));
    release(&mut z, mm, blocks[7], 4);
    (z, blocks[7])
}

#[test]
fn fallback_takes_largest_block_first() {
    let mm = mem_map(2048);
    let (mut z, small) = fragmented(&mm, 2048);
    let pfn = z.alloc(&mm, 0, Unmovable).unwrap();
    assert_ne!(pfn >> PAGEBLOCK_ORDER, small >> PAGEBLOCK_ORDER);
    assert_eq!((z.pageblock_type(pfn), z.pageblock_type(small)), (Unmovable, Movable));
    assert_eq!(z.nr_free_by_type(4, Movable), 1);
}

#[test]
fn large_fallback_claims_pageblock_only_if_half_free() {
    // Half the pageblock free, in one order-9 block: claimed.
    let mm = mem_map(1024);
    let mut z = zone(&mm, 0, 1024);
    assert_eq!(z.alloc(&mm, 9, Movable), Some(0));
    assert_eq!(z.alloc(&mm, 0, Unmovable), Some(512));
    assert_eq!(z.pageblock_type(0), Unmovable);
    // A quarter free, in one order-8 block: its pages move, the tag stays.
    let mm = mem_map(1024);
    let mut z = zone(&mm, 0, 1024);
    assert_eq!(z.alloc(&mm, 9, Movable), Some(0));
    assert_eq!(z.alloc(&mm, 8, Movable), Some(512));
    assert_eq!(z.alloc(&mm, 0, Unmovable), Some(768));
    assert_eq!(z.pageblock_type(0), Movable);
    assert_eq!((z.nr_free_by_type(7, Unmovable), z.nr_free_by_type(7, Movable)), (1, 0));
    z.check_invariants(&mm).unwrap();
}

#[test]
fn small_fallback_leaves_pageblock_alone() {
    let mm = mem_map(1024);
    let (mut z, _) = fragmented(&mm, 1024);
    z.alloc(&mm, 0, Unmovable).unwrap();
    assert_eq!(z.pageblock_type(0), Movable);
    assert_eq!((0..MAX_ORDER).map(|o| z.nr_free_by_type(o, Unmovable)).sum::<usize>(), 0);
    assert_eq!(z.nr_free_by_type(0, Movable), 1);
    z.check_invariants(&mm).unwrap();
}

#[test]
fn reclaimable_fallback_claims_free_pages_not_pageblock() {
    let mm = mem_map(1024);
    let (mut z, _) = fragmented(&mm, 1024);
    z.alloc(&mm, 0, Reclaimable).unwrap();
    // 16 free pages are far below half a pageblock: moved, not retagged.
    assert_eq!(z.pageblock_type(0), Movable);
    assert_eq!((z.nr_free_by_type(0, Reclaimable), z.nr_free_by_type(3, Reclaimable)), (1, 1));
    z.check_invariants(&mm).unwrap();
}

#[test]
fn reserve_is_used_last() {
    let mm = mem_map(2048);
    let mut z = zone(&mm, 0, 2048);
    z.set_pageblock_type(0, Reserve);
    assert_eq!(z.move_freepages_block(&mm, 0, Reserve), 1024);
    for _ in 0..1024 {
        assert!(z.alloc(&mm, 0, Unmovable).unwrap() >= 1024);
    }
    assert!(z.alloc(&mm, 0, Movable).unwrap() < 1024);
    assert_eq!(z.pageblock_counts(), [1, 0, 0, 1, 0, 0]);
    z.check_invariants(&mm).unwrap();
}

#[test]
fn isolated_pageblock_is_never_allocated() {
    let mm = mem_map(2048);
    let mut z = zone(&mm, 0, 2048);
    z.set_pageblock_type(1024, Isolate);
    z.move_freepages_block(&mm, 1024, Isolate);
    assert_eq!(z.alloc(&mm, 10, Movable), Some(0));
    assert_eq!(z.alloc(&mm, 0, Unmovable), None);
    assert_eq!(z.alloc(&mm, 0, Isolate), None);
    assert_eq!(z.nr_free_by_type(10, Isolate), 1);
}

/// A zone of four pageblocks whose last two are CMA, all free.
fn cma_zone(mm: &[Page]) -> BuddyZone {
    let mut z = BuddyZone::new(0, 4096);
    z.set_pageblock_type(2048, Cma);
    z.set_pageblock_type(3072, Cma);
    z.free_range(mm, 0, 4096);
    z.check_invariants(mm).unwrap();
    z
}

fn free_of_type(z: &BuddyZone, mt: MigrateType) -> usize {
    (0..MAX_ORDER).map(|o| z.nr_free_by_type(o, mt) << o).sum()
}

/// Linux 3.5's rule: unmovable and reclaimable allocations never get a CMA
/// page, not even when nothing else is free; they fail instead.
#[test]
fn only_movable_allocations_take_cma_pages() {
    let mm = mem_map(4096);
    let mut z = cma_zone(&mm);
    assert_eq!((free_of_type(&z, Cma), z.nr_free_by_type(10, Cma)), (2048, 2));
    let mut taken = Vec::new();
    for mt in [Unmovable, Reclaimable] {
        while let Some(pfn) = z.alloc(&mm, 0, mt) {
            assert!(pfn < 2048, "{mt} allocation got CMA pfn {pfn:#x}");
            taken.push(pfn);
        }
    }
    assert_eq!((taken.len(), free_of_type(&z, Cma), z.free_area_pages()), (2048, 2048, 2048));
    assert_eq!(z.pageblock_counts()[Cma as usize], 2, "a fallback retagged a CMA block");
    // Movable may borrow them, and leaves the blocks CMA.
    let pfn = z.alloc(&mm, 3, Movable).unwrap();
    assert!(pfn >= 2048);
    assert_eq!(free_of_type(&z, Cma), 2048 - 8, "the split block's rest went back to the CMA lists");
    assert_eq!(z.pageblock_counts(), [2, 0, 0, 0, 2, 0]);
    z.check_invariants(&mm).unwrap();
    release(&mut z, &mm, pfn, 3);
    for pfn in taken {
        release(&mut z, &mm, pfn, 0);
    }
    assert_eq!((z.free_area_pages(), free_of_type(&z, Cma), z.nr_free_by_type(10, Cma)), (4096, 2048, 2));
    z.check_invariants(&mm).unwrap();
}

/// Movable takes from its own lists first, then from CMA before stealing
/// another type's pageblock; a large movable allocation never retags a CMA
/// block; frees into a CMA block go back to the CMA lists.
#[test]
fn movable_borrows_cma_before_stealing_and_never_retags_it() {
    let mm = mem_map(4096);
    let mut z = cma_zone(&mm);
    z.set_pageblock_type(0, Unmovable);
    z.move_freepages_block(&mm, 0, Unmovable);
    let own = z.alloc(&mm, 10, Movable).unwrap();
    assert_eq!(own, 1024, "movable did not take its own block first");
    let a = z.alloc(&mm, 10, Movable).unwrap();
    let b = z.alloc(&mm, 10, Movable).unwrap();
    assert!(a >= 2048 && b >= 2048, "CMA not used before stealing the unmovable block");
    assert_eq!(z.pageblock_counts(), [1, 0, 1, 0, 2, 0]);
    assert_eq!(z.alloc(&mm, 10, Movable), Some(0), "then it steals the unmovable block");
    assert_eq!(z.pageblock_counts(), [0, 0, 2, 0, 2, 0]);
    for pfn in [a, b] {
        release(&mut z, &mm, pfn, 10);
    }
    assert_eq!(z.nr_free_by_type(10, Cma), 2);
    z.check_invariants(&mm).unwrap();
}

/// Linux 5.x's balance: a movable request takes CMA pages first once the
/// CMA lists hold over half of the free pages, its own lists before that.
#[test]
fn movable_prefers_cma_when_it_holds_over_half_the_free_pages() {
    let mm = mem_map(4096);
    let mut z = BuddyZone::new(0, 4096);
    z.set_pageblock_type(3072, Cma);
    z.free_range(&mm, 0, 4096);
    assert_eq!((z.cma_free(), z.free_area_pages()), (1024, 4096));
    let own = z.alloc(&mm, 10, Movable).unwrap();
    assert!(own < 3072, "a quarter of the free pages in CMA: its own lists first");
    let own2 = z.alloc(&mm, 10, Movable).unwrap();
    assert!(own2 < 3072, "a third: still its own lists");
    // 1024 of 2048 free pages are CMA: exactly half, not over.
    let page = z.alloc(&mm, 0, Movable).unwrap();
    assert!(page < 3072);
    // Now over half: CMA first.
    let cma = z.alloc(&mm, 0, Movable).unwrap();
    assert!(cma >= 3072, "CMA holds {} of {} free pages", z.cma_free(), z.free_area_pages());
    assert_eq!(z.alloc(&mm, 0, Unmovable).map(|p| p < 3072), Some(true));
    z.check_invariants(&mm).unwrap();
}

#[test]
fn grouping_off_keeps_cma_blocks() {
    let mm = mem_map(2048);
    let mut z = BuddyZone::new(0, 2048);
    z.set_grouping(false);
    z.set_pageblock_type(1024, Cma);
    z.free_range(&mm, 0, 2048);
    assert_eq!(z.pageblock_counts(), [1, 0, 0, 0, 1, 0]);
    assert_eq!(z.alloc(&mm, 10, Movable), Some(0));
    assert_eq!(z.alloc(&mm, 0, Unmovable), None, "with grouping off nobody is movable: CMA stays free");
}

/// What `alloc_contig_range` does to one pageblock: isolate, take a range
/// out of the middle of free blocks, give it back, undo: the zone is as it
/// was. A frame in use or not on the Isolate lists makes it take nothing.
#[test]
fn take_isolated_range_takes_exactly_the_range() {
    let mm = mem_map(4096);
    let mut z = cma_zone(&mm);
    let before = (free_blocks(&z, &mm), z.free_area_pages());
    let used = z.alloc(&mm, 0, Movable).unwrap();
    assert!(used < 2048);
    assert_eq!(z.take_isolated_range(&mm, 2100, 2200), Err(2100), "CMA-list pages are not isolated");
    z.set_pageblock_type(2048, Isolate);
    assert_eq!(z.move_freepages_block(&mm, 2048, Isolate), 1024);
    let taken = z.free_area_pages();
    assert_eq!(z.take_isolated_range(&mm, 2100, 2200), Ok(()));
    assert_eq!(z.free_area_pages(), taken - 100);
    assert!((2100..2200).all(|p| mm[p].page_count() == 1 && !mm[p].is_buddy()));
    assert_eq!(z.free_block_containing(&mm, 2099), Some((2096, 2)), "the block's rest went back");
    assert_eq!(z.free_block_containing(&mm, 2150), None);
    assert_eq!(z.take_isolated_range(&mm, 2190, 2300), Err(2190), "taken frames are not free");
    z.check_invariants(&mm).unwrap();
    for p in 2100..2200 {
        release(&mut z, &mm, p, 0);
    }
    assert_eq!(z.nr_free_by_type(10, Isolate), 1, "the pageblock merged back whole");
    z.set_pageblock_type(2048, Cma);
    z.move_freepages_block(&mm, 2048, Cma);
    release(&mut z, &mm, used, 0);
    assert_eq!((free_blocks(&z, &mm), z.free_area_pages()), before);
    z.check_invariants(&mm).unwrap();
}

#[test]
fn grouping_off_uses_one_list() {
    let mm = mem_map(4096);
    let mut z = BuddyZone::new(0, 4096);
    z.set_grouping(false);
    z.free_range(&mm, 0, 4096);
    for (i, mt) in [Movable, Reclaimable, Unmovable].into_iter().cycle().take(30).enumerate() {
        z.alloc(&mm, i % 5, mt).unwrap();
    }
    assert_eq!(z.pageblock_counts(), [4, 0, 0, 0, 0, 0]);
    for o in 0..MAX_ORDER {
        assert_eq!(z.nr_free_by_type(o, Unmovable), z.nr_free(o));
    }
    z.check_invariants(&mm).unwrap();
}

#[test]
#[should_panic(expected = "double free")]
fn double_free_panics() {
    let mm = mem_map(1024);
    let mut z = zone(&mm, 0, 1024);
    let pfn = z.alloc(&mm, 1, Movable).unwrap();
    release(&mut z, &mm, pfn, 1);
    z.free(&mm, pfn, 1);
}

#[test]
fn migrate_type_names_match_pagetypeinfo() {
    let names: Vec<_> = MigrateType::ALL.iter().map(|m| m.to_string()).collect();
    assert_eq!(names, ["Unmovable", "Reclaimable", "Movable", "Reserve", "CMA", "Isolate"]);
}

const HOLE: u8 = 0;
const FREE: u8 = 1;
const USED: u8 = 2;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random allocations and frees on a zone with holes and an unaligned
    /// start: after every step the allocator's free blocks and the live
    /// allocations partition the usable pages exactly, the invariants
    /// hold, and freeing everything restores the boot-time free lists.
    #[test]
    fn random_alloc_free_conserves_pages(
        start in 1u32..3000,
        spanned in 4096u32..16384,
        holes in proptest::collection::vec((0.0f64..1.0, 1u32..700), 1..3),
        grouping in proptest::bool::weighted(0.8),
        ops in proptest::collection::vec((0u8..3, 0usize..MAX_ORDER, 0usize..3, any::<proptest::sample::Index>()), 1..120),
    ) {
        let end = start + spanned;
        let mm = mem_map(end as usize + 100);
        let mut state = vec![FREE; end as usize];
        state[..start as usize].fill(HOLE);
        for (at, len) in holes {
            let s = start + (at * spanned as f64) as u32;
            state[s as usize..(s + len).min(end) as usize].fill(HOLE);
        }
        let mut z = BuddyZone::new(start, spanned);
        z.set_grouping(grouping);
        // Free the usable runs last to first, so merging meets both orders.
        let mut runs = Vec::new();
        let mut p = start;
        while p < end {
            let q = (p..end).find(|&q| state[q as usize] != state[p as usize]).unwrap_or(end);
            if state[p as usize] == FREE { runs.push((p, q)) }
            p = q;
        }
        for &(s, e) in runs.iter().rev() {
            z.free_range(&mm, s, e);
        }
        let total = state.iter().filter(|&&s| s == FREE).count();
        prop_assert_eq!(z.free_area_pages(), total);
        let (boot_blocks, boot_nr_free) = (free_blocks(&z, &mm), nr_free_all(&z));
        let mut live: Vec<(u32, usize)> = Vec::new();

        for (op, order, mt, pick) in ops {
            if op < 2 || live.is_empty() {
                match z.alloc(&mm, order, MigrateType::ALL[mt]) {
                    Some(pfn) => {
                        prop_assert_eq!(pfn % (1 << order), 0);
                        for s in &mut state[pfn as usize..(pfn + (1 << order)) as usize] {
                            prop_assert_eq!(*s, FREE, "handed out a hole or a used page");
                            *s = USED;
                        }
                        live.push((pfn, order));
                    }
                    // Every type falls back on every other: None means nothing fits.
                    None => prop_assert!((order..MAX_ORDER).all(|o| z.nr_free(o) == 0)),
                }
            } else {
                let (pfn, order) = live.swap_remove(pick.index(live.len()));
                release(&mut z, &mm, pfn, order);
                state[pfn as usize..(pfn + (1 << order)) as usize].fill(FREE);
            }
            prop_assert_eq!(z.check_invariants(&mm), Ok(()));
            let mut seen = vec![false; end as usize];
            for (pfn, order) in free_blocks(&z, &mm) {
                for p in pfn..pfn + (1 << order) {
                    prop_assert!(state[p as usize] == FREE && !seen[p as usize], "pfn {} wrongly free", p);
                    seen[p as usize] = true;
                }
            }
            let used: usize = live.iter().map(|&(_, o)| 1 << o).sum();
            prop_assert_eq!(z.free_area_pages() + used, total);
            prop_assert_eq!(z.pageblock_counts().iter().sum::<usize>(), z.nr_pageblocks());
        }

        for (pfn, order) in live {
            release(&mut z, &mm, pfn, order);
        }
        prop_assert_eq!(z.check_invariants(&mm), Ok(()));
        prop_assert_eq!(nr_free_all(&z), boot_nr_free);
        prop_assert_eq!(free_blocks(&z, &mm), boot_blocks);
    }
}

/// Free blocks per (order, list type), and the type of every pageblock.
fn type_snapshot(z: &BuddyZone) -> (Vec<Vec<usize>>, Vec<MigrateType>) {
    let per_type =
        (0..MAX_ORDER).map(|o| MigrateType::ALL.iter().map(|&mt| z.nr_free_by_type(o, mt)).collect()).collect();
    let blocks =
        (0..z.nr_pageblocks() as u32).map(|b| z.pageblock_type(z.start_pfn().max(b << PAGEBLOCK_ORDER))).collect();
    (per_type, blocks)
}

/// A zone after the kernel's boot: pageblocks of each type, some pages in use.
fn mixed_zone(mm: &[Page]) -> (BuddyZone, Vec<u32>) {
    let mut z = zone(mm, 0, 4 * PAGEBLOCK_PAGES);
    let mut used = Vec::new();
    // Unmovable steals block 0 (and retags it), Reclaimable claims block 1.
    for _ in 0..600 {
        used.push(z.alloc(mm, 0, Unmovable).unwrap());
    }
    for _ in 0..300 {
        used.push(z.alloc(mm, 0, Reclaimable).unwrap());
    }
    used.retain(|&p| {
        p % 3 != 0 || {
            release(&mut z, mm, p, 0);
            false
        }
    });
    z.check_invariants(mm).unwrap();
    (z, used)
}

/// Taking every free page list by list and freeing them all leaves the
/// free lists and the pageblock types exactly as they were.
#[test]
fn taking_each_list_as_its_own_type_round_trips_pageblock_types() {
    let mm = mem_map(4 * PAGEBLOCK_PAGES as usize);
    let (mut z, used) = mixed_zone(&mm);
    let before = type_snapshot(&z);
    assert!(before.1.contains(&Unmovable) && before.1.contains(&Movable), "{:?}", before.1);
    let mut taken = Vec::new();
    for mt in MigrateType::ALL {
        while let Some(pfn) = z.alloc_from_own_lists(&mm, 0, mt) {
            taken.push(pfn);
        }
    }
    assert_eq!(z.free_area_pages(), 0);
    for pfn in taken {
        release(&mut z, &mm, pfn, 0);
    }
    z.check_invariants(&mm).unwrap();
    assert_eq!(type_snapshot(&z), before);
    for pfn in used {
        release(&mut z, &mm, pfn, 0);
    }
}

/// What the old test helper did, and Linux does for a real Movable
/// allocation: taking everything as Movable steals and retags the
/// Unmovable pageblock, so such a round trip cannot leave types alone.
#[test]
fn taking_everything_as_movable_retags_unmovable_blocks() {
    let mm = mem_map(4 * PAGEBLOCK_PAGES as usize);
    let (mut z, _used) = mixed_zone(&mm);
    let before = type_snapshot(&z);
    let mut taken = Vec::new();
    while let Some(pfn) = z.alloc(&mm, 0, Movable) {
        taken.push(pfn);
    }
    for pfn in taken {
        release(&mut z, &mm, pfn, 0);
    }
    assert_ne!(type_snapshot(&z).1, before.1, "a Movable steal of a half-free block retags it");
}

/// Retagging a pageblock to the type it has changes nothing, so the
/// lock-free copy is not refreshed (a table copy with interrupts off).
#[test]
fn retag_to_the_same_type_is_not_a_retag() {
    let mut z = BuddyZone::new(0, 2048);
    let before = z.retags();
    z.set_pageblock_type(0, MigrateType::Movable);
    assert_eq!(z.retags(), before, "Movable to Movable");
    z.set_pageblock_type(0, MigrateType::Unmovable);
    assert_eq!(z.retags(), before.wrapping_add(1));
    assert_eq!(z.pageblock_type(0), MigrateType::Unmovable);
}

/// Every list of every order in list order, with the counters and the
/// pageblock types: two zones that compare equal here hand out the same
/// pages from now on.
fn full_state(z: &BuddyZone, mm: &[Page]) -> (Vec<Vec<u32>>, usize, usize, Vec<MigrateType>) {
    let lists = (0..MAX_ORDER).flat_map(|o| z.free_area(o).free_list.iter().map(|l| l.iter(mm).collect())).collect();
    (lists, z.free_area_pages(), z.cma_free(), z.pageblock_types().to_vec())
}

/// A zone with a CMA pageblock, taken from and given back to at random by
/// `ops` (the same ops give the same zone).
fn churned_zone(mm: &[Page], grouping: bool, ops: &[(u8, usize, usize)]) -> BuddyZone {
    let mut z = BuddyZone::new(0, 4096);
    z.set_grouping(grouping);
    z.set_pageblock_type(3072, Cma);
    z.free_range(mm, 0, 4096);
    let mut live = Vec::new();
    for &(op, order, mt) in ops {
        if op < 2 || live.is_empty() {
            if let Some(pfn) = z.alloc(mm, order % 4, MigrateType::ALL[mt % 3]) {
                live.push((pfn, order % 4));
            }
        } else {
            let (pfn, order) = live.swap_remove(mt % live.len());
            release(&mut z, mm, pfn, order);
        }
    }
    z
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// The pcp refill's bulk path is as many order-0 `alloc` calls as it
    /// took pages: the same pages in the same order, the same page
    /// descriptors, the same free lists left (list order included),
    /// counters and pageblock types, whatever the lists held (split blocks,
    /// fallbacks, the CMA balance, grouping off, a zone running dry). It
    /// takes `n` pages, or all there are, and past `n` only the rest of the
    /// block it was taking, up to `max`.
    #[test]
    fn alloc_bulk_is_n_order0_allocs(
        grouping in proptest::bool::weighted(0.8),
        ops in proptest::collection::vec((0u8..3, 0usize..8, 0usize..64), 0..200),
        rounds in proptest::collection::vec((1usize..64, 0usize..3, 0usize..40), 1..40),
    ) {
        let (mm_a, mm_b) = (mem_map(4096), mem_map(4096));
        let mut a = churned_zone(&mm_a, grouping, &ops);
        let mut b = churned_zone(&mm_b, grouping, &ops);
        for (n, mt, extra) in rounds {
            let mt = MigrateType::ALL[mt];
            let max = n + extra;
            let mut bulk = Vec::new();
            let taken = b.alloc_bulk(&mm_b, mt, n, max, |pfn, m| bulk.extend(pfn..pfn + m));
            prop_assert_eq!(taken, bulk.len());
            prop_assert!(taken <= max);
            let mut one_by_one = Vec::new();
            // One call more than it took when it took fewer than `n`: that
            // call must find the zone dry.
            let calls = if taken < n { taken + 1 } else { taken };
            for _ in 0..calls {
                let Some(pfn) = a.alloc(&mm_a, 0, mt) else { break };
                mm_a[pfn as usize].set_page_count(0);
                one_by_one.push(pfn);
            }
            prop_assert_eq!(&bulk, &one_by_one);
            for i in n..taken {
                prop_assert_eq!(bulk[i], bulk[i - 1] + 1, "past n, only the block being taken");
            }
            prop_assert_eq!(full_state(&b, &mm_b), full_state(&a, &mm_a));
            for (pa, pb) in mm_a.iter().zip(&mm_b) {
                prop_assert_eq!(pa.snapshot(), pb.snapshot());
            }
            prop_assert_eq!(b.check_invariants(&mm_b), Ok(()));
        }
    }
}

/// `free_pcp_run` of each run of consecutive ascending frames in `pfns`,
/// as the pcp drain (`free_pcppages_bulk`) cuts them.
fn free_in_runs(z: &mut BuddyZone, mm: &[Page], pfns: &[u32]) {
    let (mut start, mut len) = (0u32, 0u32);
    for &pfn in pfns {
        if len != 0 && pfn == start + len {
            len += 1;
        } else {
            z.free_pcp_run(mm, start, len);
            (start, len) = (pfn, 1);
        }
    }
    z.free_pcp_run(mm, start, len);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// The pcp drain's runs are `free` at order 0 page by page (every
    /// check made): the same free
    /// lists (list order included), counters and pageblock types, whatever
    /// the zone held and in whatever order the pages come back (runs cut
    /// up, reversed, interleaved).
    #[test]
    fn free_pcp_run_is_page_by_page_frees(
        grouping in proptest::bool::weighted(0.8),
        ops in proptest::collection::vec((0u8..3, 0usize..8, 0usize..64), 0..200),
        rounds in proptest::collection::vec((1usize..200, 0usize..3, 1usize..40, any::<u64>()), 1..12),
    ) {
        let (mm_a, mm_b) = (mem_map(4096), mem_map(4096));
        let mut a = churned_zone(&mm_a, grouping, &ops);
        let mut b = churned_zone(&mm_b, grouping, &ops);
        for (n, mt, chunk, seed) in rounds {
            let mt = MigrateType::ALL[mt];
            let mut pfns = Vec::new();
            a.alloc_bulk(&mm_a, mt, n, n, |pfn, m| pfns.extend(pfn..pfn + m));
            let mut same = Vec::new();
            b.alloc_bulk(&mm_b, mt, n, n, |pfn, m| same.extend(pfn..pfn + m));
            prop_assert_eq!(&pfns, &same);
            // Cut into chunks; shuffle the chunks and reverse some, by `seed`.
            let mut chunks: Vec<Vec<u32>> = pfns.chunks(chunk).map(|c| c.to_vec()).collect();
            let mut r = seed | 1;
            for i in (1..chunks.len()).rev() {
                r ^= r << 13; r ^= r >> 7; r ^= r << 17;
                chunks.swap(i, (r % (i as u64 + 1)) as usize);
                if r & 0x100 != 0 { chunks[i].reverse(); }
            }
            let order: Vec<u32> = chunks.concat();
            for &pfn in &order {
                a.free(&mm_a, pfn, 0);
            }
            free_in_runs(&mut b, &mm_b, &order);
            prop_assert_eq!(full_state(&b, &mm_b), full_state(&a, &mm_a));
            prop_assert_eq!(b.check_invariants(&mm_b), Ok(()));
        }
    }
}
