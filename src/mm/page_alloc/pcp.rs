//! The per-CPU page lists (the pcp part of Linux's mm/page_alloc.c): the
//! fast path of order-0 allocations and frees, and the batches that move
//! pages between a pcp list and the buddy lists.
//!
//! Each trick here stands for a piece of Linux that a student can map it
//! back to: the route table is `GFP_ZONE_TABLE` (zone and list decided once
//! per GFP value, not decoded per allocation); `alloc_pcp_fast` is the pcp
//! branch of `buffered_rmqueue` for the first zone of the zonelist
//! (`__rmqueue_pcplist` in later Linux), with `zone_watermark_ok` at order 0
//! reduced to one compare of an atomic count (an empty zone fails it, which
//! spares the table an "is there a zone" test); `free_hot_page` is
//! `free_hot_cold_page`; `rmqueue_bulk` and `free_pcppages_bulk` are
//! Linux's own. The kernel's `alloc_pages` calls `alloc_pcp_fast` first
//! and returns its page at once (Linux's `get_page_from_freelist` on the
//! first zone before anything else).

#![forbid(unsafe_code)]

use super::super::buddy::MigrateType;
use super::super::gfp::Gfp;
use super::super::list::NIL;
use super::super::mmzone::{Node, PerCpuPages, Watermark, Zone, MAX_NR_ZONES, PCP_TYPES};
use super::super::page::Page;

/// The GFP bits that decide an allocation's zone and migrate type, packed
/// into 4 bits: DMA and HIGHMEM are bits 0 and 1 already; RECLAIMABLE
/// (0x80000) and MOVABLE (0x100000) shift down to bits 2 and 3.
#[inline(always)]
pub(in crate::mm) const fn route_index(bits: u32) -> usize {
    ((bits & 0x3) | ((bits >> ROUTE_SHIFT) & 0xc)) as usize
}

const ROUTE_SHIFT: u32 = 17;

pub(in crate::mm) const ROUTES: usize = 16;

const _: () = assert!(Gfp::DMA.bits() | Gfp::HIGHMEM.bits() == 0x3);

const _: () = assert!(Gfp::RECLAIMABLE.bits() >> ROUTE_SHIFT == 0x4 && Gfp::MOVABLE.bits() >> ROUTE_SHIFT == 0x8);

/// The GFP flags a route index stands for (the inverse of [`route_index`]).
pub(in crate::mm) const fn route_gfp(index: usize) -> Gfp {
    let i = index as u32;
    Gfp::from_bits_truncate((i & 0x3) | ((i & 0xc) << ROUTE_SHIFT))
}

/// Where an allocation looks first: `classzone`, the zonelist's start
/// (`None` when no zone at or below the highest allowed one is populated),
/// and for the order-0 fast path `zone`, the same zone as a plain index
/// (zone 0 when there is none: then zone 0 is empty, its free count and
/// marks are 0, and the fast path's watermark test sends the allocation to
/// the slow path without a test of its own). Four bytes, so the fast path
/// indexes the table with a scaled address rather than a multiply.
#[derive(Clone, Copy)]
#[repr(C, align(4))]
pub(in crate::mm) struct PcpRoute {
    pub(in crate::mm) zone: u8,
    pub(in crate::mm) list: PcpList,
    pub(in crate::mm) classzone: Option<u8>,
}

/// A zone's pcp list, as the route table keeps it: an enum, whose range the
/// compiler knows, so the fast path indexes `lists` without a bounds check.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(in crate::mm) enum PcpList {
    Unmovable = 0,
    Reclaimable = 1,
    Movable = 2,
}

impl PerCpuPages {
    /// The list `l`: a match, so no bounds check whatever the compiler
    /// makes of the enum's range once it has spilled it to the stack.
    #[inline(always)]
    fn list(&mut self, l: PcpList) -> &mut PcpRing {
        match l {
            PcpList::Unmovable => &mut self.lists[0],
            PcpList::Reclaimable => &mut self.lists[1],
            PcpList::Movable => &mut self.lists[2],
        }
    }
}

/// Room of one pcp list. A list holds at most `high` pages plus a refill
/// (a refill of an empty list may come on top of `high` pages on the other
/// lists), a refill being a batch rounded up to a power of two: 218 with
/// 2.6.24's largest batch (31, `zone_batchsize`); a free into a full list
/// goes straight to the buddy allocator.
pub const PCP_RING: usize = 256;

/// One pcp list: the PFNs of its pages in a ring, cold end at `head`, hot
/// end `len - 1` places after it (Linux threads `pcp->lists[]` through
/// `page->lru`; an array of PFNs does what the list does with one word
/// written per push or pop, and the page descriptors are not touched while
/// a page sits here). The hot end is the one that moves on the fast path,
/// so a push or a pop there changes `len` alone, not `head`.
#[derive(Clone)]
pub struct PcpRing {
    head: u32,
    len: u32,
    pfns: [u32; PCP_RING],
}

impl PcpRing {
    pub const EMPTY: PcpRing = PcpRing { head: 0, len: 0, pfns: [0; PCP_RING] };

    /// The slot `i` places after the cold end; the mask keeps every index
    /// in the array, so no bounds check is needed.
    #[inline(always)]
    fn slot(&self, i: u32) -> usize {
        (self.head.wrapping_add(i) as usize) & (PCP_RING - 1)
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    pub fn is_full(&self) -> bool {
        self.len as usize == PCP_RING
    }

    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// A page freed hot: the next allocation takes it (the caller has
    /// checked `is_full`).
    #[inline(always)]
    pub fn push_front(&mut self, pfn: u32) {
        debug_assert!(!self.is_full());
        let s = self.slot(self.len);
        self.pfns[s] = pfn;
        self.len += 1;
    }

    /// A page behind the ones already there (the coldest now).
    #[inline(always)]
    pub fn push_back(&mut self, pfn: u32) {
        debug_assert!(!self.is_full());
        self.head = self.head.wrapping_sub(1);
        let s = self.slot(0);
        self.pfns[s] = pfn;
        self.len += 1;
    }

    /// Fill an empty list with the pages `fill` puts through the
    /// [`RingFill`] it is given, each behind the ones before (what
    /// `push_back` of each does), at most `PCP_RING` of them; `fill`
    /// returns how many it put. The pages go straight into their slots,
    /// with no `head` or `len` to update per page: the refill of
    /// `rmqueue_bulk`.
    #[inline(always)]
    pub fn refill(&mut self, fill: impl FnOnce(&mut RingFill) -> usize) -> usize {
        debug_assert!(self.is_empty());
        // From the top slot down: the first page ends up at the hot end.
        let mut f = RingFill { pfns: &mut self.pfns, next: PCP_RING };
        let n = fill(&mut f);
        debug_assert!(n <= PCP_RING && f.next == PCP_RING - n);
        self.head = (PCP_RING - n) as u32;
        self.len = n as u32;
        n
    }

    /// The hottest page.
    #[inline(always)]
    pub fn pop_front(&mut self) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        Some(self.pfns[self.slot(self.len)])
    }

    /// The coldest page, which a drain gives back first.
    #[inline(always)]
    pub fn pop_back(&mut self) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let pfn = self.pfns[self.slot(0)];
        self.head = self.head.wrapping_add(1);
        self.len -= 1;
        Some(pfn)
    }

    /// The `n` coldest pages, coldest first, to `f` (`n` is at most `len`):
    /// a drain's share of this list, with one update of `head` and `len`.
    #[inline(always)]
    pub fn pop_back_n(&mut self, n: usize, mut f: impl FnMut(u32)) {
        debug_assert!(n <= self.len());
        for i in 0..n as u32 {
            f(self.pfns[self.slot(i)]);
        }
        self.head = self.head.wrapping_add(n as u32);
        self.len -= n as u32;
    }

    /// The pages from hot to cold; `mem_map` is not needed, but taken so
    /// that the call reads as a page list's does.
    pub fn iter<'a>(&'a self, _mem_map: &[Page]) -> impl Iterator<Item = u32> + 'a {
        (0..self.len).rev().map(move |i| self.pfns[self.slot(i)])
    }
}

/// The slots of an empty [`PcpRing`] being refilled, filled from the top.
pub struct RingFill<'a> {
    pfns: &'a mut [u32; PCP_RING],
    next: usize,
}

impl RingFill<'_> {
    /// The next pages of the refill, `pfn .. pfn + n` in that order, each
    /// behind the one before: a run of consecutive pages, as the buddy
    /// allocator's bulk path hands them over, in a loop of its own that
    /// keeps its slot in a register.
    #[inline(always)]
    pub fn put_run(&mut self, pfn: u32, n: u32) {
        let mut next = self.next;
        for p in pfn..pfn + n {
            next = next.wrapping_sub(1);
            self.pfns[next & (PCP_RING - 1)] = p;
        }
        self.next = next;
    }
}

impl PcpList {
    /// The free lists a refill of this list takes from: an allocation's
    /// migrate type is one of these three, and its list is the type's own.
    #[inline(always)]
    pub(in crate::mm) fn migratetype(self) -> MigrateType {
        match self {
            PcpList::Unmovable => MigrateType::Unmovable,
            PcpList::Reclaimable => MigrateType::Reclaimable,
            PcpList::Movable => MigrateType::Movable,
        }
    }

    /// The pcp list of a migrate type ([`pcp_index`] as an enum).
    pub(in crate::mm) fn of(mt: MigrateType) -> PcpList {
        [PcpList::Unmovable, PcpList::Reclaimable, PcpList::Movable][pcp_index(mt)]
    }
}

/// The pcp list of a migrate type: Unmovable 0, Reclaimable 1, the rest 2
/// (Linux's `free_hot_cold_page`: `if (migratetype >= MIGRATE_PCPTYPES)`
/// the page goes on the Movable list, an isolated one excepted, which the
/// caller sends to the buddy allocator first). A freed CMA page goes to the
/// Movable list, as in Linux, so only a movable allocation can take it
/// again; draining it to the buddy allocator puts it back on the CMA lists
/// by its pageblock's type.
#[inline]
pub(in crate::mm) const fn pcp_index(mt: MigrateType) -> usize {
    const _: () = assert!(MigrateType::Unmovable as usize == 0 && MigrateType::Reclaimable as usize == 1);
    const _: () = assert!(MigrateType::Movable as usize == PCP_TYPES - 1, "the pcp types come first");
    let i = mt as usize;
    if i < PCP_TYPES {
        i
    } else {
        PCP_TYPES - 1
    }
}

/// [`pcp_index`] by table, for the free path, which has the pageblock type
/// as its `u8`: one load where `min` is a compare and a move on i386. An
/// entry for every `u8`, so that the index needs neither a mask nor a
/// bounds check; made from `pcp_index` itself, so the two cannot disagree.
pub(super) const PCP_LIST_OF: [u8; 256] = {
    let mut t = [(PCP_TYPES - 1) as u8; 256];
    let mut i = 0;
    while i < MigrateType::ALL.len() {
        let mt = MigrateType::ALL[i];
        t[mt as usize] = pcp_index(mt) as u8;
        i += 1;
    }
    t
};

impl Zone {
    /// An order-0 page off the pcp list of `mt`, refilled by a batch from
    /// the buddy lists when it is empty (Linux: the pcp branch of
    /// `buffered_rmqueue`, `__rmqueue_pcplist` later); the caller has
    /// checked the watermark.
    #[inline(always)]
    pub(super) fn rmqueue_pcplist(&self, mem_map: &[Page], mt: MigrateType) -> Option<u32> {
        let list = pcp_index(mt);
        let mut pcp = self.pcp();
        if pcp.lists[list].is_empty() {
            self.rmqueue_bulk(&mut pcp, mem_map, mt, list);
        }
        let pfn = pcp.lists[list].pop_front()?;
        pcp.count -= 1;
        drop(pcp);
        mem_map[pfn as usize].set_page_count(1);
        Some(pfn)
    }

    /// Push a freed order-0 page onto the pcp list of its pageblock type
    /// `mt`, and give a batch back to the buddy lists past `high` (Linux's
    /// `free_hot_cold_page`).
    #[inline(always)]
    pub(super) fn free_hot_page(&self, mem_map: &[Page], pfn: u32, mt: u8) {
        let mut pcp = self.pcp();
        let list = PCP_LIST_OF[mt as usize] as usize;
        if pcp.lists[list].is_full() {
            drop(pcp);
            return self.free_pcp_overflow(mem_map, pfn);
        }
        pcp.lists[list].push_front(pfn);
        pcp.count += 1;
        if pcp.count > pcp.high {
            let batch = pcp.batch;
            self.free_pcppages_bulk(&mut pcp, mem_map, batch);
        }
    }

    /// A pcp list is full (only with a `high` far above 2.6.24's): the page
    /// goes straight to the buddy allocator.
    #[cold]
    #[inline(never)]
    fn free_pcp_overflow(&self, mem_map: &[Page], pfn: u32) {
        self.lock().free(mem_map, pfn, 0);
    }

    /// Refill pcp list `list` with a batch from the buddy allocator
    /// (2.6.24's `rmqueue_bulk`): one hold of the zone's lock, and the
    /// buddy allocator's bulk path, which takes the pages the batch's
    /// `__rmqueue` calls would, a split block at a time.
    #[inline(never)]
    fn rmqueue_bulk(&self, pcp: &mut PerCpuPages, mem_map: &[Page], mt: MigrateType, list: usize) {
        // The list is empty: a whole batch fits, and the rest of the block
        // the batch ends in, up to the next power of two (`alloc_bulk`).
        let n = pcp.batch.min(PCP_RING);
        let max = n.next_power_of_two().min(PCP_RING);
        let mut buddy = self.lock();
        let taken = pcp.lists[list].refill(|ring| buddy.alloc_bulk(mem_map, mt, n, max, |pfn, m| ring.put_run(pfn, m)));
        pcp.count += taken;
    }

    /// The fast path found its list empty: refill it and take its hottest
    /// page (Linux's `__rmqueue_pcplist` calling `rmqueue_bulk`). Out of
    /// line, so that the fast path keeps its registers for the common case.
    #[cold]
    #[inline(never)]
    fn rmqueue_bulk_and_pop(&self, pcp: &mut PerCpuPages, mem_map: &[Page], list: PcpList) -> Option<u32> {
        self.rmqueue_bulk(pcp, mem_map, list.migratetype(), list as usize);
        pcp.list(list).pop_front()
    }

    /// Give up to `n` pcp pages back to the buddy allocator, oldest first,
    /// in one hold of the zone's lock (`n` is at most a batch). The lists
    /// take turns as in Linux 2.6.34 and later (`free_pcppages_bulk`): each
    /// empty list passed over lets the next one give a page more, and a
    /// list found alone gives all it has, so a drain does not walk empty
    /// lists once per page (2.6.24 had one list and took its tail). The
    /// buddy free is inlined here: this is where most order-0 pages reach
    /// the buddy allocator. Pages that come off the lists as a run of
    /// consecutive frames (as a refill took them) go back a block at a
    /// time, which leaves the free lists as the page-by-page frees would
    /// (`BuddyZone::free_pcp_run` says why).
    #[inline(never)]
    fn free_pcppages_bulk(&self, pcp: &mut PerCpuPages, mem_map: &[Page], n: usize) {
        // The lists themselves bound the loop below, whatever `count` says.
        let cached: usize = pcp.lists.iter().map(|l| l.len()).sum();
        let mut to_free = n.min(cached);
        let mut buddy = self.lock();
        let (mut list, mut batch_free) = (0, 0);
        // The run of consecutive frames taken so far and not yet freed,
        // `[run_start, run_end)`; empty at NIL, which no pfn equals.
        let (mut run_start, mut run_end) = (NIL, NIL);
        pcp.count -= to_free;
        while to_free > 0 {
            loop {
                batch_free += 1;
                // No `%`: a division on i386.
                list = if list + 1 == PCP_TYPES { 0 } else { list + 1 };
                if !pcp.lists[list].is_empty() {
                    break;
                }
            }
            if batch_free == PCP_TYPES {
                batch_free = to_free;
            }
            // This list's turn: `batch_free` pages, or all it has (the rest
            // of its turn passes to the next list), or what is left to free.
            let ring = &mut pcp.lists[list];
            let take = batch_free.min(to_free).min(ring.len());
            to_free -= take;
            batch_free -= take;
            ring.pop_back_n(take, |pfn| {
                if pfn == run_end {
                    run_end += 1;
                } else {
                    buddy.free_pcp_run(mem_map, run_start, run_end - run_start);
                    (run_start, run_end) = (pfn, pfn + 1);
                }
            });
        }
        buddy.free_pcp_run(mem_map, run_start, run_end - run_start);
    }
}

impl Node {
    /// Fast path (Linux: the pcp branch of `buffered_rmqueue` for the first
    /// zone of the zonelist): an order-0 page from the preferred zone's pcp
    /// list, the zone comfortably above its low mark; an empty list is
    /// refilled here, in the same interrupts-off section, as Linux's
    /// `__rmqueue_pcplist` does. `None` (the zone low, or its buddy lists
    /// empty too) sends the caller to the full zonelist walk, which
    /// repeats this test first.
    ///
    /// The page's count is the caller's to set (to 1). `mem_map` is called
    /// only for a refill: the kernel's `alloc_pages` looks it up once it
    /// has the page.
    #[inline(always)]
    pub(super) fn alloc_pcp_fast<'m>(&self, mem_map: impl FnOnce() -> &'m [Page], gfp: Gfp) -> Option<u32> {
        let route = self.pcp_route[route_index(gfp.bits())];
        // The mask only spares a bounds check: `init` stores zone indices.
        let classzone = route.zone as usize & (MAX_NR_ZONES - 1);
        let list = route.list;
        debug_assert_eq!(self.classzone[gfp.zone() as usize].unwrap_or(0), classzone);
        // (Before `init` builds the table, every entry says zone 0, empty.)
        debug_assert!(route.classzone.is_none() || list.migratetype() == self.alloc_type(gfp));
        let zone = &self.zones[classzone];
        // watermark_ok at order 0 and `low`; lowmem_reserve[classzone] of
        // the classzone itself is always 0 (it keeps pages against zones
        // above), so the mark is the zone's own.
        let mark = zone.watermark(Watermark::Low) as usize;
        debug_assert_eq!(zone.lowmem_reserve(classzone), 0);
        if zone.free_now() <= mark {
            return None;
        }
        let mut pcp = zone.pcp();
        let pfn = match pcp.list(list).pop_front() {
            Some(pfn) => pfn,
            None => zone.rmqueue_bulk_and_pop(&mut pcp, mem_map(), list)?,
        };
        pcp.count -= 1;
        Some(pfn)
    }

    /// Give one batch of zone `zone`'s pcp pages back to the buddy allocator
    /// (`batch` pages per lock hold, as Linux's `free_pcppages_bulk`);
    /// returns the pages still cached, so that a caller emptying the lists
    /// lets interrupts in between batches.
    pub fn drain_pcp_batch(&self, mem_map: &[Page], zone: usize) -> usize {
        let z = &self.zones[zone];
        let mut pcp = z.pcp();
        let batch = pcp.batch;
        z.free_pcppages_bulk(&mut pcp, mem_map, batch);
        pcp.count
    }

    /// Empty every pcp list (Linux's `drain_all_pages`), batch by batch:
    /// reports and tests that compare free lists call this first.
    pub fn drain_all(&self, mem_map: &[Page]) {
        for zone in 0..MAX_NR_ZONES {
            while self.drain_pcp_batch(mem_map, zone) > 0 {}
        }
    }
}
