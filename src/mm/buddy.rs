//! The binary buddy allocator of one zone (Linux 2.6.24's `mm/page_alloc.c`).
//!
//! Free memory is kept as naturally aligned blocks of 2^order frames, order
//! 0 to `MAX_ORDER - 1` (4 KB to 4 MB), one set of free lists per order. To
//! allocate, take a block of the smallest order that fits and split it,
//! putting the unused halves back one order lower each (`expand`). To free,
//! look at the block's buddy, the other half of the block one order up (its
//! PFN differs in exactly bit `order`): if it is free and whole, take it off
//! its list, merge, and repeat one order up. Both ways cost O(log n), since
//! the free lists are doubly linked through the page descriptors and any
//! block can be unlinked in O(1).
//!
//! A free block is marked on its first page only: `is_buddy` (its
//! `_mapcount` set to `PAGE_BUDDY_MAPCOUNT_VALUE`), `private` =
//! order, `index` = the migrate type of the list it sits on (kept so that a
//! merge can unlink the buddy from whichever list holds it). The other pages
//! of a free block carry no mark, which is why "is my buddy free?" must check
//! both the flag and the order.
//!
//! **Mobility grouping.** Merging only works if frees leave whole blocks, and
//! one pinned kernel page in every 4 MB leaves none. So, as in 2.6.24, memory
//! is cut into pageblocks of 2^`PAGEBLOCK_ORDER` frames, each tagged with the
//! kind of allocation it serves ([`MigrateType`]), and each order has one
//! free list per type. Requests are served from their own type first; only
//! when that fails does `rmqueue_fallback` take from another type, the
//! largest block first, and if the block is big it steals the whole
//! pageblock (moves its free pages to the requester's lists, and retags it if
//! at least half was free), so unmovable allocations clump together instead
//! of spreading. The `Reserve` pageblocks are used only when all else fails.
//! [`BuddyZone::set_grouping`]`(false)` turns this off the way Linux's
//! `page_group_by_mobility_disabled` does: every request and every pageblock
//! becomes `Unmovable`, leaving a single list per order for A/B comparison.
//!
//! **Where the pageblock types live.** In the zone, one byte per pageblock
//! in a fixed array (Linux keeps a bitmap `zone->pageblock_flags`), indexed
//! from the zone's start rounded down to a pageblock. Without PAE the
//! physical address space is 4 GB, 1024 pageblocks of 4 MB, so a
//! `[MigrateType; 1024]` covers any zone without a heap.
//!
//! **Reference counts.** `alloc` returns the head with `refcount` = 1
//! (Linux's `set_page_refcounted`); `free` expects the caller to have
//! dropped it to 0 already, as `__free_pages` does with `put_page_testzero`
//! before calling into the buddy, and panics on a double free.

#![forbid(unsafe_code)]

use super::list::{List, ListLinks, NIL};
use super::page::{Page, PageFlags};
use core::fmt;

/// Orders 0..=10: blocks from 4 KB to 4 MB.
pub const MAX_ORDER: usize = 11;
/// A pageblock is 4 MB, one large page on i386 without PAE (Linux's
/// `pageblock_order = HUGETLB_PAGE_ORDER`).
pub const PAGEBLOCK_ORDER: usize = 10;
pub const PAGEBLOCK_PAGES: u32 = 1 << PAGEBLOCK_ORDER;
/// Pageblocks in 4 GB: the most any zone can span.
pub const MAX_PAGEBLOCKS: usize = (1 << 20) >> PAGEBLOCK_ORDER;

// A free block never spans two pageblocks, so merging never has to ask which
// of two types the merged block belongs to.
const _: () = assert!(PAGEBLOCK_ORDER == MAX_ORDER - 1);

/// What a pageblock is used for, as 2.6.24 names it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum MigrateType {
    /// Kernel memory that can never move: page tables, slab, kernel stacks.
    Unmovable,
    /// Kernel memory that can be freed on demand: reclaimable slab caches.
    Reclaimable,
    /// User pages and page cache: can be migrated or swapped.
    Movable,
    /// Kept back for emergencies; allocated from only when all else fails.
    Reserve,
    /// The Contiguous Memory Allocator's region (Linux 3.5's `MIGRATE_CMA`,
    /// placed before `Isolate` as in Linux): only movable allocations may
    /// borrow its pages, so `cma_alloc` can always move them out again. Set
    /// at boot, never stolen or retagged by a fallback.
    Cma,
    /// Being taken out of service (memory hot-remove); never allocated from.
    Isolate,
}

pub const MIGRATE_TYPES: usize = 6;

impl MigrateType {
    pub const ALL: [MigrateType; MIGRATE_TYPES] = [
        MigrateType::Unmovable,
        MigrateType::Reclaimable,
        MigrateType::Movable,
        MigrateType::Reserve,
        MigrateType::Cma,
        MigrateType::Isolate,
    ];

    /// The name `/proc/pagetypeinfo` prints.
    pub fn name(self) -> &'static str {
        ["Unmovable", "Reclaimable", "Movable", "Reserve", "CMA", "Isolate"][self as usize]
    }

    /// The types to steal from when this one has no free block, in order
    /// (2.6.24's `fallbacks[]`; `Reserve` is tried separately, last, and
    /// `Cma`, which only `Movable` may use and never steals, first).
    fn fallbacks(self) -> &'static [MigrateType] {
        use MigrateType::*;
        match self {
            Unmovable => &[Reclaimable, Movable],
            Reclaimable => &[Unmovable, Movable],
            Movable => &[Reclaimable, Unmovable],
            Reserve | Cma | Isolate => &[],
        }
    }

    /// Whether grouping may fold this type into `Unmovable` when it is off;
    /// `Reserve`, `Cma` and `Isolate` are decided by the kernel and must stick.
    fn is_mobility_class(self) -> bool {
        (self as usize) < MigrateType::Reserve as usize
    }
}

impl fmt::Display for MigrateType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The free blocks of one order.
#[derive(Clone, Copy, Debug)]
pub struct FreeArea {
    pub free_list: [List; MIGRATE_TYPES],
    /// Blocks of this order on all the lists together.
    pub nr_free: usize,
}

impl FreeArea {
    pub const EMPTY: FreeArea = FreeArea { free_list: [List::EMPTY; MIGRATE_TYPES], nr_free: 0 };
}

/// A broken invariant found by [`BuddyZone::check_invariants`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvariantError {
    pub pfn: u32,
    pub what: &'static str,
}

impl fmt::Display for InvariantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "buddy: pfn {:#x}: {}", self.pfn, self.what)
    }
}

/// The buddy allocator of one zone, covering PFNs `[start_pfn, start_pfn + spanned)`.
pub struct BuddyZone {
    start_pfn: u32,
    spanned: u32,
    free_area: [FreeArea; MAX_ORDER],
    /// Pages on the free lists, all orders (Linux's `NR_FREE_PAGES`).
    free_area_pages: usize,
    /// Of those, the pages on the CMA lists (Linux's `NR_FREE_CMA_PAGES`).
    cma_free: usize,
    /// One per pageblock, from `start_pfn` rounded down to a pageblock.
    pageblock_types: [MigrateType; MAX_PAGEBLOCKS],
    grouping: bool,
    /// Bumped whenever a pageblock changes type, so that a copy kept for
    /// lock-free readers (the page allocator's free path) knows to refresh.
    retags: u32,
}

/// Drop the free-block marks of a block leaving the free lists (Linux's
/// `rmv_page_order`: `BUDDY` and `private`; `index` is the next owner's to
/// set, as in Linux).
#[inline]
fn clear_buddy(page: &Page) {
    page.__clear_page_buddy();
    page.set_private(0);
}

impl BuddyZone {
    /// An empty zone; every pageblock starts `Movable`, as Linux's
    /// `memmap_init_zone` tags them, and is adjusted when the kernel reserves
    /// blocks or allocations steal them.
    pub const fn new(start_pfn: u32, spanned: u32) -> BuddyZone {
        assert!(start_pfn as u64 + spanned as u64 <= 1 << 20, "zone beyond 4 GB");
        BuddyZone {
            start_pfn,
            spanned,
            free_area: [FreeArea::EMPTY; MAX_ORDER],
            free_area_pages: 0,
            cma_free: 0,
            pageblock_types: [MigrateType::Movable; MAX_PAGEBLOCKS],
            grouping: true,
            retags: 0,
        }
    }

    #[inline]
    pub fn start_pfn(&self) -> u32 {
        self.start_pfn
    }

    pub fn spanned(&self) -> u32 {
        self.spanned
    }

    #[inline]
    pub fn end_pfn(&self) -> u32 {
        self.start_pfn + self.spanned
    }

    #[inline]
    pub fn contains(&self, pfn: u32) -> bool {
        // One compare: below the start wraps to a huge offset. The zone
        // ends at or below 2^20 (checked in `new`), so nothing else wraps.
        pfn.wrapping_sub(self.start_pfn) < self.spanned
    }

    #[inline]
    pub fn free_area_pages(&self) -> usize {
        self.free_area_pages
    }

    /// Pages on the CMA free lists.
    #[inline]
    pub fn cma_free(&self) -> usize {
        self.cma_free
    }

    pub fn grouping(&self) -> bool {
        self.grouping
    }

    pub fn free_area(&self, order: usize) -> &FreeArea {
        &self.free_area[order]
    }

    /// Free blocks of `order` (a `/proc/buddyinfo` column).
    #[inline]
    pub fn nr_free(&self, order: usize) -> usize {
        self.free_area[order].nr_free
    }

    /// The free areas of the orders below `order` (the watermark check's
    /// walk); all of them from `MAX_ORDER` up.
    #[inline]
    pub fn free_areas_below(&self, order: usize) -> &[FreeArea] {
        &self.free_area[..order.min(MAX_ORDER)]
    }

    /// The free areas of `order` and above (the watermark check's fast
    /// path for high orders); none from `MAX_ORDER` up.
    #[inline]
    pub fn free_areas_from(&self, order: usize) -> &[FreeArea] {
        &self.free_area[order.min(MAX_ORDER)..]
    }

    /// Free blocks of `order` on the `mt` list (a `/proc/pagetypeinfo` cell).
    pub fn nr_free_by_type(&self, order: usize, mt: MigrateType) -> usize {
        self.free_area[order].free_list[mt as usize].len()
    }

    #[inline]
    fn pageblock_index(&self, pfn: u32) -> usize {
        debug_assert!(self.contains(pfn), "pfn {pfn:#x} outside the zone");
        ((pfn >> PAGEBLOCK_ORDER) - (self.start_pfn >> PAGEBLOCK_ORDER)) as usize
    }

    /// Number of pageblocks the zone touches, partial ones at the ends included.
    pub fn nr_pageblocks(&self) -> usize {
        if self.spanned == 0 {
            return 0;
        }
        self.pageblock_index(self.end_pfn() - 1) + 1
    }

    #[inline]
    pub fn pageblock_type(&self, pfn: u32) -> MigrateType {
        self.pageblock_types[self.pageblock_index(pfn)]
    }

    /// Changes of pageblock type so far (see the field).
    #[inline]
    pub fn retags(&self) -> u32 {
        self.retags
    }

    /// The type of every pageblock the zone touches, first to last.
    pub fn pageblock_types(&self) -> &[MigrateType] {
        &self.pageblock_types[..self.nr_pageblocks()]
    }

    /// How many pageblocks have each type ("Number of blocks type" in
    /// `/proc/pagetypeinfo`), indexed by `MigrateType as usize`.
    pub fn pageblock_counts(&self) -> [usize; MIGRATE_TYPES] {
        let mut counts = [0; MIGRATE_TYPES];
        for mt in &self.pageblock_types[..self.nr_pageblocks()] {
            counts[*mt as usize] += 1;
        }
        counts
    }

    /// Retag the pageblock holding `pfn` without touching its free pages
    /// (Linux's `set_pageblock_migratetype`); pair it with
    /// [`move_freepages_block`](Self::move_freepages_block) to move them too.
    pub fn set_pageblock_type(&mut self, pfn: u32, mt: MigrateType) {
        let i = self.pageblock_index(pfn);
        let mt = self.grouped(mt);
        if self.pageblock_types[i] == mt {
            // No change: the lock-free copy need not be refreshed (its
            // refresh copies the whole table with interrupts off).
            return;
        }
        self.pageblock_types[i] = mt;
        self.retags = self.retags.wrapping_add(1);
    }

    /// The type `mt` really gets: with grouping off, the three mobility
    /// classes fold into one (2.6.24's `allocflags_to_migratetype`).
    #[inline]
    fn grouped(&self, mt: MigrateType) -> MigrateType {
        if !self.grouping && mt.is_mobility_class() {
            MigrateType::Unmovable
        } else {
            mt
        }
    }

    /// Switch mobility grouping on or off. A boot-time choice, as in Linux:
    /// it must come before any page is freed into the zone.
    pub fn set_grouping(&mut self, enabled: bool) {
        assert!(self.free_area_pages == 0, "set_grouping after pages were freed");
        self.grouping = enabled;
        let mt = if enabled { MigrateType::Movable } else { MigrateType::Unmovable };
        let n = self.nr_pageblocks();
        self.retags = self.retags.wrapping_add(1);
        for t in &mut self.pageblock_types[..n] {
            if t.is_mobility_class() {
                *t = mt;
            }
        }
    }

    #[inline]
    fn add_to_free_list(&mut self, mem_map: &[Page], pfn: u32, order: usize, mt: MigrateType) {
        let page = &mem_map[pfn as usize];
        page.__set_page_buddy();
        page.set_private(order as u32);
        page.set_index(mt as u32);
        self.free_area[order].free_list[mt as usize].push_front(mem_map, pfn);
        self.free_area[order].nr_free += 1;
        if mt == MigrateType::Cma {
            self.cma_free += 1 << order;
        }
    }

    /// Unlink a free block from whichever list holds it (Linux's `list_del`
    /// plus `rmv_page_order`).
    #[inline]
    fn del_from_free_list(&mut self, mem_map: &[Page], pfn: u32) {
        let page = &mem_map[pfn as usize];
        debug_assert!(page.is_buddy());
        let (order, mt) = (page.order(), page.index() as usize);
        clear_buddy(page);
        self.free_area[order].free_list[mt].remove(mem_map, pfn);
        self.free_area[order].nr_free -= 1;
        if mt == MigrateType::Cma as usize {
            self.cma_free -= 1 << order;
        }
    }

    /// `del_from_free_list` of a block whose order the caller knows (the
    /// merge loop has just checked it): only the list's type is read back.
    #[inline(always)]
    fn del_free_block(&mut self, mem_map: &[Page], pfn: u32, order: usize) {
        let page = &mem_map[pfn as usize];
        debug_assert!(page.is_buddy() && page.order() == order);
        let mt = page.index() as usize;
        clear_buddy(page);
        // The type's last use before the unlink, so that it need not be
        // kept across it.
        if mt == MigrateType::Cma as usize {
            self.cma_free -= 1 << order;
        }
        let area = &mut self.free_area[order];
        area.free_list[mt].remove(mem_map, pfn);
        area.nr_free -= 1;
    }

    /// Take the first block off the `mt` list of `order`: what
    /// `del_from_free_list` does, without reading back the order and type
    /// the caller already knows.
    #[inline]
    fn pop_free_block(&mut self, mem_map: &[Page], order: usize, mt: MigrateType) -> Option<u32> {
        let area = &mut self.free_area[order];
        let pfn = area.free_list[mt as usize].pop_front(mem_map)?;
        area.nr_free -= 1;
        if mt == MigrateType::Cma {
            self.cma_free -= 1 << order;
        }
        let page = &mem_map[pfn as usize];
        debug_assert!(page.is_buddy() && page.order() == order && page.index() == mt as u32);
        clear_buddy(page);
        Some(pfn)
    }

    /// Hand frames `[start, end)` to the zone at boot, in the largest
    /// naturally aligned blocks that fit (as memblock's `__free_pages_memory`
    /// does), clearing `RESERVED`. Blocks merge with free neighbours, so
    /// ranges may be given in any order and in pieces.
    pub fn free_range(&mut self, mem_map: &[Page], start: u32, end: u32) {
        assert!(start >= self.start_pfn && end <= self.end_pfn(), "range outside the zone");
        let mut pfn = start;
        while pfn < end {
            let mut order = (pfn.trailing_zeros() as usize).min(MAX_ORDER - 1);
            while pfn + (1 << order) > end {
                order -= 1;
            }
            for page in &mem_map[pfn as usize..(pfn + (1 << order)) as usize] {
                page.__clear_flag(PageFlags::RESERVED);
                page.set_page_count(0);
            }
            self.free(mem_map, pfn, order);
            pfn += 1 << order;
        }
    }

    /// Allocate 2^`order` contiguous frames for an allocation of type `mt`;
    /// returns the first PFN, naturally aligned, or `None` if no free block is
    /// large enough. Always inline: the page allocator's pcp refill calls
    /// it once per page at order 0, where its checks fold away.
    #[inline(always)]
    pub fn alloc(&mut self, mem_map: &[Page], order: usize, mt: MigrateType) -> Option<u32> {
        assert!(order < MAX_ORDER, "order {order} too large");
        let mt = self.grouped(mt);
        if mt == MigrateType::Isolate {
            return None;
        }
        // Linux 5.x's balance (in `__rmqueue`): when the CMA lists hold over
        // half of the zone's free pages, a movable request takes from them
        // first, so that movable users do not eat the memory only the
        // kernel's own allocations can use while the region sits idle.
        let cma_first = mt == MigrateType::Movable && self.cma_free * 2 > self.free_area_pages;
        let cma = if cma_first { self.rmqueue_smallest(mem_map, order, MigrateType::Cma) } else { None };
        let pfn = match cma.or_else(|| self.rmqueue_smallest(mem_map, order, mt)) {
            Some(pfn) => pfn,
            None => self.rmqueue_fallback(mem_map, order, mt)?,
        };
        self.free_area_pages -= 1 << order;
        mem_map[pfn as usize].set_page_count(1);
        Some(pfn)
    }

    /// At least `n` and at most `max` order-0 pages for a pcp list, handed
    /// to `take` a run of consecutive pages at a time (first pfn, count),
    /// in their order: the pages, in the order, and the free lists
    /// left behind, of as many calls of `alloc(mem_map, 0, mt)` (2.6.24's
    /// `rmqueue_bulk` loop of `__rmqueue`), except that the pages have a
    /// count of 0, as the pcp lists keep them. Returns how many were taken
    /// (fewer than `n` when the zone runs out).
    ///
    /// Past `n` it only goes on with the block it is taking, up to `max`:
    /// with Linux's batch of 31 and `max` 32, a refill takes a whole
    /// order-5 block, or the first 32 pages of a larger one, rather than
    /// leaving a one-page crumb that the next refill must take off its own
    /// list before it starts on the next block (and that the drain gives
    /// back as a piece of its own). The calls it stands for are the same
    /// calls, one more of them.
    ///
    /// Where those calls would split a block of order k off `mt`'s own
    /// lists and then take its pages one by one (every list below k is
    /// empty, so each next call finds the smallest piece left of the same
    /// block: the block goes in address order), this takes the block whole
    /// and puts back at once what the calls would leave of it. Anything
    /// else (a fallback to another type, the CMA lists first) goes through
    /// `alloc` a page at a time.
    pub fn alloc_bulk(
        &mut self,
        mem_map: &[Page],
        mt: MigrateType,
        n: usize,
        max: usize,
        mut take: impl FnMut(u32, u32),
    ) -> usize {
        debug_assert!(n <= max);
        let mt = self.grouped(mt);
        if mt == MigrateType::Isolate {
            return 0;
        }
        let mut done = 0;
        while done < n {
            // Pages `alloc` takes before its CMA balance (see there) turns
            // to the CMA lists: each page taken lowers `free_area_pages`.
            let run = if mt == MigrateType::Movable {
                (self.free_area_pages + 1).saturating_sub(self.cma_free * 2)
            } else {
                usize::MAX
            };
            let own = (0..MAX_ORDER).find(|&o| !self.free_area[o].free_list[mt as usize].is_empty());
            let (Some(order), true) = (own, run > 0) else {
                let Some(pfn) = self.alloc(mem_map, 0, mt) else { break };
                mem_map[pfn as usize].set_page_count(0);
                take(pfn, 1);
                done += 1;
                continue;
            };
            let Some(pfn) = self.pop_free_block(mem_map, order, mt) else { break };
            let m = (1usize << order).min(max - done).min(run);
            // One bounds check for the run, not one per page.
            for page in &mem_map[pfn as usize..pfn as usize + m] {
                // As each page leaves `alloc`: no buddy mark, `private` 0,
                // `index` the list's type, unlinked, and the pcp's count 0.
                clear_buddy(page);
                page.set_index(mt as u32);
                page.lru.set(ListLinks::UNLINKED);
                page.set_page_count(0);
            }
            take(pfn, m as u32);
            self.free_area_pages -= m;
            // What the calls leave of the block: the rest in naturally
            // aligned pieces, the smallest first, as `expand` made them.
            let mut off = m;
            while off < 1 << order {
                let o = off.trailing_zeros() as usize;
                self.add_to_free_list(mem_map, pfn + off as u32, o, mt);
                off += 1 << o;
            }
            done += m;
        }
        done
    }

    /// Allocate from `mt`'s own free lists only, never stealing from
    /// another type (Linux's `__rmqueue_smallest` on its own): the pageblock
    /// types stay as they are. For callers that empty a zone list by list,
    /// as the in-kernel round-trip tests do, and must leave it as found.
    pub fn alloc_from_own_lists(&mut self, mem_map: &[Page], order: usize, mt: MigrateType) -> Option<u32> {
        assert!(order < MAX_ORDER, "order {order} too large");
        let mt = self.grouped(mt);
        if mt == MigrateType::Isolate {
            return None;
        }
        let pfn = self.rmqueue_smallest(mem_map, order, mt)?;
        self.free_area_pages -= 1 << order;
        mem_map[pfn as usize].set_page_count(1);
        Some(pfn)
    }

    /// The smallest free block of type `mt` that fits, split down to `order`.
    #[inline]
    fn rmqueue_smallest(&mut self, mem_map: &[Page], order: usize, mt: MigrateType) -> Option<u32> {
        for current in order..MAX_ORDER {
            if let Some(pfn) = self.pop_free_block(mem_map, current, mt) {
                self.expand(mem_map, pfn, order, current, mt);
                return Some(pfn);
            }
        }
        None
    }

    /// Split the block of order `high` at `pfn` down to order `low`, keeping
    /// the lower half each time and freeing the upper half onto `mt`'s lists.
    #[inline]
    fn expand(&mut self, mem_map: &[Page], pfn: u32, low: usize, high: usize, mt: MigrateType) {
        // LAB 2: BEGIN split: give back the upper half, one order lower each time
        let mut high = high;
        while high > low {
            high -= 1;
            self.add_to_free_list(mem_map, pfn + (1 << high), high, mt);
        }
        // LAB 2: STUB
        // // Not split in halves: every page past the first 2^low goes back alone.
        // for p in pfn + (1 << low)..pfn + (1 << high) {
        //     self.add_to_free_list(mem_map, p, 0, mt);
        // }
        // LAB 2: END
    }

    /// No block of the wanted type: borrow from another type, largest block
    /// first, so that one steal satisfies many later requests of the same
    /// type and the types stay apart (2.6.24's `__rmqueue_fallback`).
    ///
    /// A movable request first borrows from the CMA pageblocks (Linux 3.5's
    /// `fallbacks[MIGRATE_MOVABLE] = { MIGRATE_CMA, ... }`), without
    /// stealing: the block stays CMA and the rest of a split block goes back
    /// to the CMA lists, so the region never holds a page that cannot move.
    #[inline(never)]
    fn rmqueue_fallback(&mut self, mem_map: &[Page], order: usize, start_mt: MigrateType) -> Option<u32> {
        if start_mt == MigrateType::Movable {
            if let Some(pfn) = self.rmqueue_smallest(mem_map, order, MigrateType::Cma) {
                return Some(pfn);
            }
        }
        for current in (order..MAX_ORDER).rev() {
            for &mt in start_mt.fallbacks() {
                let Some(pfn) = self.free_area[current].free_list[mt as usize].first() else {
                    continue;
                };
                let mut list_mt = mt;
                // Breaking a large block would scatter this type into the
                // pageblock anyway: claim its free pages now. Reclaimable
                // requests claim eagerly since they are short-lived.
                if current >= PAGEBLOCK_ORDER / 2 || start_mt == MigrateType::Reclaimable {
                    let moved = self.move_freepages_block(mem_map, pfn, start_mt);
                    if moved >= 1 << (PAGEBLOCK_ORDER - 1) {
                        self.set_pageblock_type(pfn, start_mt);
                    }
                    list_mt = start_mt;
                }
                self.del_from_free_list(mem_map, pfn);
                if current == PAGEBLOCK_ORDER {
                    self.set_pageblock_type(pfn, start_mt);
                }
                self.expand(mem_map, pfn, order, current, list_mt);
                return Some(pfn);
            }
        }
        self.rmqueue_smallest(mem_map, order, MigrateType::Reserve)
    }

    /// Move every free block of the pageblock holding `pfn` onto `mt`'s
    /// lists and return how many pages moved. A pageblock cut off by the end
    /// of the zone is left alone, as in Linux; one cut off by the start is
    /// scanned from the zone's start.
    pub fn move_freepages_block(&mut self, mem_map: &[Page], pfn: u32, mt: MigrateType) -> usize {
        let block_start = pfn & !(PAGEBLOCK_PAGES - 1);
        if block_start + PAGEBLOCK_PAGES > self.end_pfn() {
            return 0;
        }
        let mut p = block_start.max(self.start_pfn);
        let mut moved = 0;
        while p < block_start + PAGEBLOCK_PAGES {
            let page = &mem_map[p as usize];
            if !page.is_buddy() {
                p += 1;
                continue;
            }
            let order = page.order();
            self.del_from_free_list(mem_map, p);
            self.add_to_free_list(mem_map, p, order, mt);
            moved += 1 << order;
            p += 1 << order;
        }
        moved
    }

    /// The free block holding `pfn`, as (head, order), if `pfn` is free:
    /// free blocks are naturally aligned and only their heads are marked,
    /// so the head is `pfn` with its low bits cleared for some order.
    pub fn free_block_containing(&self, mem_map: &[Page], pfn: u32) -> Option<(u32, usize)> {
        (0..MAX_ORDER).find_map(|order| {
            let head = pfn & !((1 << order) - 1);
            let page = &mem_map[head as usize];
            (self.contains(head) && page.is_buddy() && page.order() >= order).then(|| (head, page.order()))
        })
    }

    /// The first frame of `[start, end)` (inside one pageblock) that is not
    /// free on the Isolate lists (Linux's `test_pages_isolated`).
    pub fn first_not_isolated_free(&self, mem_map: &[Page], start: u32, end: u32) -> Option<u32> {
        assert!(start < end && (start ^ (end - 1)) >> PAGEBLOCK_ORDER == 0, "range not in one pageblock");
        let mut pfn = start;
        while pfn < end {
            match self.free_block_containing(mem_map, pfn) {
                Some((head, order)) if mem_map[head as usize].index() == MigrateType::Isolate as u32 => {
                    pfn = head + (1 << order);
                }
                _ => return Some(pfn),
            }
        }
        None
    }

    /// `alloc_contig_range`'s last step on one isolated pageblock: take the
    /// frames `[start, end)`, all of them free on the Isolate lists, off the
    /// free lists as order-0 pages with a count of 1 each (Linux's
    /// `isolate_freepages_range` and `split_page`); the rest of a free block
    /// that sticks out of the range goes back. Takes nothing and returns the
    /// first frame that is not free on the Isolate lists if there is one.
    /// O(frames of the range): callers go one pageblock per lock hold.
    pub fn take_isolated_range(&mut self, mem_map: &[Page], start: u32, end: u32) -> Result<(), u32> {
        if let Some(busy) = self.first_not_isolated_free(mem_map, start, end) {
            return Err(busy);
        }
        let mut pfn = start;
        while pfn < end {
            let (head, order) = self.free_block_containing(mem_map, pfn).expect("checked free above");
            self.del_from_free_list(mem_map, head);
            self.free_area_pages -= 1 << order;
            for p in head..head + (1 << order) {
                if (start..end).contains(&p) {
                    mem_map[p as usize].set_page_count(1);
                } else {
                    // Back one page at a time: `free` merges them again.
                    self.free(mem_map, p, 0);
                }
            }
            pfn = head + (1 << order);
        }
        Ok(())
    }

    /// Whether `buddy` heads a free block of exactly `order` in this zone.
    #[inline]
    fn is_free_buddy(&self, mem_map: &[Page], buddy: u32, order: usize) -> bool {
        // LAB 2: BEGIN is the buddy free, whole, and in this zone?
        self.contains(buddy) && {
            let page = &mem_map[buddy as usize];
            page.is_buddy() && page.order() == order
        }
        // LAB 2: STUB
        // let _ = (mem_map, buddy, order);
        // false
        // LAB 2: END
    }

    /// Return the block of 2^`order` frames at `pfn` to the zone, merging it
    /// with its buddy for as long as the buddy is free (`__free_one_page`).
    /// The head's refcount must already be 0. Always inline: the page
    /// allocator's pcp drain calls it once per page at order 0.
    #[inline(always)]
    pub fn free(&mut self, mem_map: &[Page], pfn: u32, order: usize) {
        assert!(order < MAX_ORDER, "order {order} too large");
        assert!(pfn & ((1 << order) - 1) == 0, "pfn {pfn:#x} not aligned to order {order}");
        assert!(self.contains(pfn) && pfn + (1 << order) <= self.end_pfn(), "pfn {pfn:#x} outside the zone");
        let head = &mem_map[pfn as usize];
        assert!(!head.is_buddy(), "double free of pfn {pfn:#x}");
        assert!(head.page_count() == 0, "freeing pfn {pfn:#x} with refcount {}", head.page_count());
        self.__free_one_page(mem_map, pfn, order);
    }

    /// `free` of a block whose head the page allocator has just checked:
    /// only its `free_one_page` may call this. `free` itself asserts that
    /// the head is in this zone, that it heads no free block and that its
    /// count is 0; here those are debug assertions only, because the one
    /// caller has seen each of them already (`free_pages_check` in its
    /// `__free_pages`: the zone of the page is this one, its count went from
    /// 1 to 0 there, and its `_mapcount` was -1, so it heads no free block).
    /// A caller without those checks would let a double free merge a block
    /// twice, hence the visibility: nothing outside `mm` can reach it, and
    /// in `mm` it is for `free_one_page` alone. The order, the alignment and
    /// the end of the block are what that check did not see: asserted here.
    #[inline(always)]
    pub(in crate::mm) fn free_checked(&mut self, mem_map: &[Page], pfn: u32, order: usize) {
        assert!(order < MAX_ORDER, "order {order} too large");
        assert!(pfn & ((1 << order) - 1) == 0, "pfn {pfn:#x} not aligned to order {order}");
        assert!(pfn + (1 << order) <= self.end_pfn(), "pfn {pfn:#x} order {order} past the zone's end");
        debug_assert!(self.contains(pfn), "pfn {pfn:#x} outside the zone");
        debug_assert!(!mem_map[pfn as usize].is_buddy() && mem_map[pfn as usize].page_count() == 0);
        self.__free_one_page(mem_map, pfn, order);
    }

    /// `free` at order 0 of the pcp pages `start`, `start + 1`, ... `start +
    /// len - 1`, in that order, which a drain takes one after the other:
    /// the pcp refill hands out runs of consecutive pages (`alloc_bulk`),
    /// and a drain often gives them back the same way. The free lists and
    /// counters left behind are those of the page-by-page frees, but each
    /// naturally aligned block of the run goes back whole and merges once.
    ///
    /// Why the same: the pages of an aligned block `B` of the run have
    /// their buddies inside `B` until `B` is whole, so freed one by one they
    /// merge only with each other, and the pieces they leave on the lists
    /// on the way are taken off again by the last page of `B`, which puts
    /// `B` on its list and merges it on up exactly as one free of `B` at its
    /// order does (removing a piece leaves every other list in its order).
    /// The run is cut into the largest aligned blocks, first to last, so
    /// the blocks reach the lists in the order their last pages would.
    /// Only the block heads are marked, as always; the other pages keep
    /// what they had on the pcp list (no free block's tail has a mark).
    #[inline(always)]
    pub(in crate::mm) fn free_pcp_run(&mut self, mem_map: &[Page], start: u32, len: u32) {
        let end = start + len;
        let mut pfn = start;
        while pfn < end {
            // The largest block that starts at `pfn` and ends by `end`.
            let fits = (end - pfn).ilog2();
            let order = pfn.trailing_zeros().min(fits).min(MAX_ORDER as u32 - 1) as usize;
            debug_assert!(self.contains(pfn) && pfn + (1 << order) <= self.end_pfn());
            debug_assert!(!mem_map[pfn as usize].is_buddy() && mem_map[pfn as usize].page_count() == 0);
            self.__free_one_page(mem_map, pfn, order);
            pfn += 1 << order;
        }
    }

    /// The merge loop of `free` (Linux's `__free_one_page`), for a block
    /// already checked.
    #[inline(always)]
    fn __free_one_page(&mut self, mem_map: &[Page], pfn: u32, order: usize) {
        // The whole block, merged or not, stays inside this pageblock.
        let mt = self.pageblock_type(pfn);
        self.free_area_pages += 1 << order;
        // LAB 2: BEGIN merge with the buddy while it is free, one order up each time
        let (mut pfn, mut order) = (pfn, order);
        while order < MAX_ORDER - 1 {
            let buddy = pfn ^ (1 << order);
            if !self.is_free_buddy(mem_map, buddy, order) {
                break;
            }
            self.del_free_block(mem_map, buddy, order);
            pfn &= buddy;
            order += 1;
        }
        // LAB 2: STUB
        // // Not merged: the block goes on its list at the order it came with.
        // let _ = Self::del_free_block; // unlinks a free buddy: yours to call
        // LAB 2: END
        self.add_to_free_list(mem_map, pfn, order, mt);
    }

    /// Check the free lists against `mem_map` (for tests and a debug shell
    /// command; O(pages in the zone)): every listed block is a marked,
    /// aligned, in-zone head on the list its `index` names; no unlisted page
    /// is marked; no two free buddies are left unmerged; the counters match.
    pub fn check_invariants(&self, mem_map: &[Page]) -> Result<(), InvariantError> {
        let err = |pfn, what| Err(InvariantError { pfn, what });
        let (mut blocks, mut pages) = (0usize, 0usize);
        for (order, area) in self.free_area.iter().enumerate() {
            let mut in_area = 0;
            for (mt, list) in area.free_list.iter().enumerate() {
                let mut prev = NIL;
                let mut walked = 0;
                for pfn in list.iter(mem_map) {
                    let page = &mem_map[pfn as usize];
                    if !self.contains(pfn) || pfn + (1 << order) > self.end_pfn() {
                        return err(pfn, "free block outside the zone");
                    }
                    if pfn & ((1 << order) - 1) != 0 {
                        return err(pfn, "free block not naturally aligned");
                    }
                    if !page.is_buddy() || page.order() != order || page.index() as usize != mt {
                        return err(pfn, "listed block has wrong BUDDY/order/type mark");
                    }
                    if page.page_count() != 0 {
                        return err(pfn, "free block with a reference");
                    }
                    if page.lru.prev() != prev {
                        return err(pfn, "broken back link");
                    }
                    prev = pfn;
                    walked += 1;
                }
                if walked != list.len() || list.last().unwrap_or(NIL) != prev {
                    return err(prev, "list length or tail does not match its links");
                }
                in_area += walked;
                pages += walked << order;
            }
            if in_area != area.nr_free {
                return err(self.start_pfn, "nr_free does not match the lists");
            }
            blocks += in_area;
        }
        if pages != self.free_area_pages {
            return err(self.start_pfn, "free_area_pages does not match the lists");
        }
        let cma: usize =
            (0..MAX_ORDER).map(|o| self.free_area[o].free_list[MigrateType::Cma as usize].len() << o).sum();
        if cma != self.cma_free {
            return err(self.start_pfn, "cma_free does not match the CMA lists");
        }
        let mut marked = 0;
        for pfn in self.start_pfn..self.end_pfn() {
            let page = &mem_map[pfn as usize];
            if !page.is_buddy() {
                continue;
            }
            marked += 1;
            let order = page.order();
            if order < MAX_ORDER - 1 && self.is_free_buddy(mem_map, pfn ^ (1 << order), order) {
                return err(pfn, "free buddies left unmerged");
            }
        }
        if marked != blocks {
            return err(self.start_pfn, "BUDDY marks do not match the listed blocks");
        }
        Ok(())
    }

    /// Take the free block headed by `pfn` off the free lists, whole, and
    /// return its order; `None` if no free block starts there. Its pages are
    /// left with no reference and no mark, for the caller to split (Linux
    /// 2.6.35's `split_free_page` up to `split_page`: compaction's free
    /// scanner takes the free pages of a target pageblock this way).
    pub fn take_free_block(&mut self, mem_map: &[Page], pfn: u32) -> Option<usize> {
        if !self.contains(pfn) || !mem_map[pfn as usize].is_buddy() {
            return None;
        }
        let order = mem_map[pfn as usize].order();
        self.del_from_free_list(mem_map, pfn);
        self.free_area_pages -= 1 << order;
        Some(order)
    }
}

#[cfg(test)]
mod tests;
