//! The zoned page allocator (Linux's mm/page_alloc.c, 2.6.24 era), without
//! the machine: one node, up to four zones, each a buddy allocator with
//! watermarks, `lowmem_reserve`, and a per-CPU list of order-0 pages.
//!
//! An allocation names, through its GFP flags, the highest zone it may use;
//! the zonelist then falls back towards DMA (HIGHMEM -> NORMAL -> DMA). A
//! zone is used only while its free pages stay above a watermark plus the
//! reserve it keeps against allocations that could have been served higher
//! up (`lowmem_reserve`), so a highmem-capable allocation does not eat the
//! lowmem that only the kernel can use. The first pass uses the `low` mark;
//! the second `min`, lowered for `__GFP_HIGH` and for callers that cannot
//! sleep (GFP_ATOMIC), which is what the reserve below `min` is for.
//!
//! Order-0 pages go through a per-CPU list (`pcp`): frees push a page,
//! allocations pop one, and only every `batch` pages does the buddy allocator
//! see a bulk refill or drain. Pages on the pcp lists are counted as free.
//!
//! **Locks, as Linux's.** Each zone has its own lock over its free lists
//! (`zone->lock`); in the kernel it masks interrupts, since pages are freed
//! from interrupt handlers. The per-CPU lists have a lock of their own,
//! taken before the zone's when both are needed: on this one CPU what
//! protects them is that interrupts are masked while they are touched (Linux
//! 2.6.24's `local_irq_save` in `free_hot_cold_page`), and that is all the
//! pcp lock does: `local_irq_save`, plus a lock word that only catches
//! re-entry (not an `IrqLock`, whose nesting count for the preempt count
//! would double the cost of the hottest path for nothing: with interrupts
//! off nothing can preempt or sleep-check the holder). Nothing else is locked: the watermark test of the fast
//! path reads each zone's free count from atomics the lock holders leave
//! behind (Linux's `NR_FREE_PAGES`), and the free path reads the pageblock
//! type from a copy kept beside the lock (Linux reads `pageblock_flags`
//! without `zone->lock`). Work under a lock is bounded: one allocation, or a
//! batch of `pcp.batch` pages moved between a pcp list and the buddy lists.
//!
//! Everything takes the frame descriptors as `&[Page]` indexed by PFN (their
//! words are atomics), so the same code runs on the kernel's `mem_map` and on
//! a `Vec` in host tests; on the host the locks are plain spinlocks.

#![forbid(unsafe_code)]

use super::buddy::{BuddyZone, MigrateType, MAX_ORDER, MAX_PAGEBLOCKS, PAGEBLOCK_ORDER};
use super::gfp::Gfp;
use super::page::{List, Page, PageFlags};
use super::zones::{ZoneLayout, ZoneType, MAX_NR_ZONES};
use core::ops::{Deref, DerefMut};
use core::sync::atomic::Ordering::Relaxed;
use core::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize};

// The kernel's locks mask interrupts; the host has none to mask.
#[cfg(target_os = "none")]
use crate::kernel::sync::{IrqLock as Lock, IrqLockGuard as LockGuard};
#[cfg(not(target_os = "none"))]
use spin::{Mutex as Lock, MutexGuard as LockGuard};

/// Linux 2.6.24's `sysctl_lowmem_reserve_ratio` for DMA, NORMAL, HIGHMEM.
pub const LOWMEM_RESERVE_RATIO: [u64; MAX_NR_ZONES - 1] = [256, 32, 32];
/// pcp lists per migrate type: Unmovable, Reclaimable, Movable.
const PCP_TYPES: usize = 3;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Watermark {
    Min = 0,
    Low = 1,
    High = 2,
}

/// The per-CPU order-0 page cache of a zone (one CPU here).
pub struct PerCpuPages {
    pub lists: [List; PCP_TYPES],
    pub count: usize,
    /// Drain `batch` pages when more than `high` are cached.
    pub high: usize,
    pub batch: usize,
}

pub struct Zone {
    pub kind: ZoneType,
    pub spanned: u64,
    pub present: u64,
    /// Pages handed to the buddy allocator at boot (present minus reserved).
    pub managed: u64,
    /// min, low, high, in pages.
    pub watermark: [u64; 3],
    /// Pages kept free against allocations that could use zone `j` instead.
    pub lowmem_reserve: [u64; MAX_NR_ZONES],
    /// The span, copied out of the buddy allocator so that `contains`
    /// needs no lock (it never changes after boot).
    start_pfn: u32,
    nr_pfns: u32,
    /// Linux's `zone->lock`: the free lists.
    lock: Lock<BuddyZone>,
    /// The per-CPU lists; taken before `lock` when both are held, with
    /// interrupts masked by [`Zone::pcp`] (the lock word catches re-entry).
    pcp: spin::Mutex<PerCpuPages>,
    /// Free pages in the buddy lists and on the pcp lists, as each lock's
    /// last holder left them (Linux's `NR_FREE_PAGES`): read without locks.
    buddy_free: AtomicUsize,
    pcp_free: AtomicUsize,
    /// The pageblock types for the lock-free free path, refreshed from the
    /// buddy allocator's when its retag count moves.
    pageblock_types: [AtomicU8; MAX_PAGEBLOCKS],
    pageblock_retags: AtomicU32,
    /// Allocations served by the zonelist walk, for reports.
    pub alloc_count: AtomicUsize,
    /// Times an allocation found the zone below `low` and would have woken
    /// kswapd (see [`Node::wakeup_kswapd`]).
    pub kswapd_wakeups: AtomicUsize,
}

/// The zone's free lists, locked; dropping it publishes the free count and
/// any pageblock retag to the lock-free readers, still under the lock.
pub struct ZoneGuard<'a> {
    zone: &'a Zone,
    buddy: LockGuard<'a, BuddyZone>,
}

impl Deref for ZoneGuard<'_> {
    type Target = BuddyZone;
    #[inline]
    fn deref(&self) -> &BuddyZone {
        &self.buddy
    }
}

impl DerefMut for ZoneGuard<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut BuddyZone {
        &mut self.buddy
    }
}

impl Drop for ZoneGuard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.zone.buddy_free.store(self.buddy.free_pages(), Relaxed);
        if self.buddy.retags() != self.zone.pageblock_retags.load(Relaxed) {
            self.zone.copy_pageblock_types(&self.buddy);
        }
    }
}

/// The zone's pcp lists, interrupts masked; dropping it publishes the count.
///
/// Drop it before any `IrqLock` guard taken before it (guards go in the
/// reverse order of taking, as locals do): it lets interrupts back in if
/// they were on when it was taken.
pub struct PcpGuard<'a> {
    zone: &'a Zone,
    pcp: spin::MutexGuard<'a, PerCpuPages>,
    /// Declared after `pcp`: dropped after it, so interrupts come back only
    /// once the lists are unlocked.
    _irq: IrqSave,
}

impl Deref for PcpGuard<'_> {
    type Target = PerCpuPages;
    #[inline]
    fn deref(&self) -> &PerCpuPages {
        &self.pcp
    }
}

impl DerefMut for PcpGuard<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut PerCpuPages {
        &mut self.pcp
    }
}

impl Drop for PcpGuard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.zone.pcp_free.store(self.pcp.count, Relaxed);
        // Then the fields go in their order: the lock word, and only after
        // it the interrupt flag.
    }
}

/// Linux's `local_irq_save`/`local_irq_restore` pair as a guard: masks
/// interrupts when made, restores the flag saved when dropped. The host has
/// no interrupts to mask.
struct IrqSave {
    #[cfg(target_os = "none")]
    flags: u32,
}

impl IrqSave {
    #[inline(always)]
    fn new() -> IrqSave {
        IrqSave {
            #[cfg(target_os = "none")]
            flags: crate::arch::x86::cpu::local_irq_save(),
        }
    }
}

impl Drop for IrqSave {
    #[inline(always)]
    fn drop(&mut self) {
        #[cfg(target_os = "none")]
        crate::arch::x86::cpu::local_irq_restore(self.flags);
    }
}

/// The pcp lock taken again by its holder: nothing else can hold it, with
/// interrupts masked on this one CPU (Linux's `spin_bug(lock, "recursion")`).
#[cold]
#[inline(never)]
fn pcp_recursion(zone: &Zone) -> ! {
    panic!("BUG: pcp lists of zone {} taken again by their holder (recursion)", zone.name());
}

impl Zone {
    const fn empty(kind: ZoneType) -> Zone {
        Zone {
            kind,
            spanned: 0,
            present: 0,
            managed: 0,
            watermark: [0; 3],
            lowmem_reserve: [0; MAX_NR_ZONES],
            start_pfn: 0,
            nr_pfns: 0,
            lock: Lock::new(BuddyZone::new(0, 0)),
            pcp: spin::Mutex::new(PerCpuPages { lists: [List::EMPTY; PCP_TYPES], count: 0, high: 0, batch: 1 }),
            buddy_free: AtomicUsize::new(0),
            pcp_free: AtomicUsize::new(0),
            pageblock_types: [const { AtomicU8::new(MigrateType::Movable as u8) }; MAX_PAGEBLOCKS],
            pageblock_retags: AtomicU32::new(0),
            alloc_count: AtomicUsize::new(0),
            kswapd_wakeups: AtomicUsize::new(0),
        }
    }

    /// Take the zone's lock (Linux's `spin_lock_irqsave(&zone->lock)`).
    #[inline]
    pub fn lock(&self) -> ZoneGuard<'_> {
        ZoneGuard { zone: self, buddy: self.lock.lock() }
    }

    /// The pcp lists, with interrupts masked (Linux's `local_irq_save`).
    #[inline]
    pub fn pcp(&self) -> PcpGuard<'_> {
        let irq = IrqSave::new();
        match self.pcp.try_lock() {
            Some(pcp) => PcpGuard { zone: self, pcp, _irq: irq },
            None => pcp_recursion(self),
        }
    }

    /// Rare (a pageblock changed type): out of the guards' inline drop.
    #[cold]
    #[inline(never)]
    fn copy_pageblock_types(&self, buddy: &BuddyZone) {
        for (copy, mt) in self.pageblock_types.iter().zip(buddy.pageblock_types()) {
            copy.store(*mt as u8, Relaxed);
        }
        self.pageblock_retags.store(buddy.retags(), Relaxed);
    }

    /// The type of the pageblock holding `pfn`, without the lock: a retag
    /// under way may not be seen yet, as in Linux, which costs at most a
    /// page freed to the list of the block's old type.
    #[inline]
    pub fn pageblock_type(&self, pfn: u32) -> MigrateType {
        MigrateType::ALL[self.pageblock_type_raw(pfn) as usize]
    }

    /// `pageblock_type` as its `u8`, for the free path.
    #[inline(always)]
    fn pageblock_type_raw(&self, pfn: u32) -> u8 {
        // The mask only spares a bounds check: a pfn of the zone is below
        // 2^20, so the index is below MAX_PAGEBLOCKS already.
        let i = ((pfn >> PAGEBLOCK_ORDER).wrapping_sub(self.start_pfn >> PAGEBLOCK_ORDER)) as usize;
        self.pageblock_types[i & (MAX_PAGEBLOCKS - 1)].load(Relaxed)
    }

    #[inline]
    pub fn is_populated(&self) -> bool {
        self.present != 0
    }

    #[inline]
    pub fn start_pfn(&self) -> u32 {
        self.start_pfn
    }

    #[inline]
    pub fn end_pfn(&self) -> u32 {
        self.start_pfn + self.nr_pfns
    }

    #[inline]
    pub fn contains(&self, pfn: u32) -> bool {
        // One compare: below the start wraps to a huge offset.
        pfn.wrapping_sub(self.start_pfn) < self.nr_pfns
    }

    /// Free pages, including those cached on the pcp list; no lock.
    #[inline]
    pub fn free_pages(&self) -> u64 {
        self.free_now() as u64
    }

    #[inline]
    fn free_now(&self) -> usize {
        self.buddy_free.load(Relaxed) + self.pcp_free.load(Relaxed)
    }

    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Whether taking 2^order pages leaves the zone above `mark` (lowered by
    /// `harder`/`high`), keeping `lowmem_reserve[classzone]`, with enough
    /// free at order or above (Linux's `zone_watermark_ok`). Takes the
    /// zone's lock for orders above 0, which look at the free lists.
    pub fn watermark_ok(&self, order: usize, mark: u64, classzone: usize, high: bool, harder: bool) -> bool {
        if order == 0 {
            self.watermark_ok_locked(None, 0, mark, classzone, high, harder)
        } else {
            let buddy = self.lock();
            self.watermark_ok_locked(Some(&buddy), order, mark, classzone, high, harder)
        }
    }

    /// `watermark_ok` with the free lists already locked (`buddy`), which
    /// orders above 0 need.
    #[inline(always)]
    fn watermark_ok_locked(
        &self,
        buddy: Option<&BuddyZone>,
        order: usize,
        mark: u64,
        classzone: usize,
        high: bool,
        harder: bool,
    ) -> bool {
        // Native-width arithmetic: page counts fit a 32-bit word on i386,
        // and this runs on every allocation.
        let mut min = mark as isize;
        if high {
            min -= min / 2;
        }
        if harder {
            min -= min / 4;
        }
        let buddy_free = buddy.map_or(self.buddy_free.load(Relaxed), |b| b.free_pages()) as isize;
        let mut free = buddy_free + self.pcp_free.load(Relaxed) as isize - (1isize << order) + 1;
        if free <= min + self.lowmem_reserve[classzone] as isize {
            return false;
        }
        let Some(buddy) = buddy else {
            debug_assert_eq!(order, 0, "watermark_ok_locked above order 0 without the lock");
            return true;
        };
        // Pcp pages are order 0: only buddy blocks count at higher orders.
        free = buddy_free - (1isize << order) + 1;
        // Linux's loop over the orders below, counting pages up: no index
        // to bounds-check, the shift kept in step with the page count.
        let mut pages = 1;
        for area in buddy.free_areas_below(order) {
            free -= (area.nr_free * pages) as isize;
            pages <<= 1;
            min >>= 1;
            if free <= min {
                return false;
            }
        }
        true
    }

    /// Take a block for the zonelist walk, if the zone stays above `mark`
    /// (2.6.24's `buffered_rmqueue` behind its `zone_watermark_ok`): order 0
    /// from the pcp list, refilled by a batch from the buddy lists when it
    /// is empty; larger orders from the buddy lists under the zone's lock.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn buffered_rmqueue(
        &self,
        mem_map: &[Page],
        order: usize,
        mt: MigrateType,
        mark: u64,
        classzone: usize,
        high: bool,
        harder: bool,
    ) -> Option<u32> {
        if order != 0 {
            let mut buddy = self.lock();
            if !self.watermark_ok_locked(Some(&buddy), order, mark, classzone, high, harder) {
                return None;
            }
            return buddy.alloc(mem_map, order, mt);
        }
        if !self.watermark_ok_locked(None, 0, mark, classzone, high, harder) {
            return None;
        }
        let list = pcp_index(mt);
        let mut pcp = self.pcp();
        if pcp.lists[list].is_empty() {
            self.rmqueue_bulk(&mut pcp, mem_map, mt, list);
        }
        let pfn = pcp.lists[list].pop_front(mem_map)?;
        pcp.count -= 1;
        drop(pcp);
        mem_map[pfn as usize].set_page_count(1);
        Some(pfn)
    }

    /// Refill pcp list `list` with a batch from the buddy allocator
    /// (2.6.24's `rmqueue_bulk`): one hold of the zone's lock.
    #[inline(never)]
    fn rmqueue_bulk(&self, pcp: &mut PerCpuPages, mem_map: &[Page], mt: MigrateType, list: usize) {
        let mut buddy = self.lock();
        for _ in 0..pcp.batch {
            match buddy.alloc(mem_map, 0, mt) {
                Some(pfn) => {
                    mem_map[pfn as usize].set_page_count(0);
                    pcp.lists[list].push_back(mem_map, pfn);
                    pcp.count += 1;
                }
                None => break,
            }
        }
    }

    /// Give up to `n` pcp pages back to the buddy allocator, oldest first,
    /// taking one page from each list in turn and skipping empty lists, in
    /// one hold of the zone's lock (2.6.24's `free_pages_bulk`; `n` is at
    /// most a batch). The buddy free is inlined here: this is where most
    /// order-0 pages reach the buddy allocator.
    #[inline(never)]
    fn free_pcppages_bulk(&self, pcp: &mut PerCpuPages, mem_map: &[Page], mut n: usize) {
        let mut buddy = self.lock();
        let mut list = 0;
        let mut empty = 0;
        while n > 0 && pcp.count > 0 && empty < PCP_TYPES {
            match pcp.lists[list].pop_back(mem_map) {
                Some(pfn) => {
                    pcp.count -= 1;
                    buddy.free(mem_map, pfn, 0);
                    n -= 1;
                    empty = 0;
                }
                None => empty += 1,
            }
            // No `%`: a division on i386, and this runs once per page.
            list = if list + 1 == PCP_TYPES { 0 } else { list + 1 };
        }
    }
}

/// One memory node (Linux's `pg_data_t`): UMA machines have just node 0;
/// NUMA would give each memory controller one, each with its own zones.
pub struct Node {
    pub node_id: u32,
    pub node_start_pfn: u64,
    /// Frames from the first to the last of the node, holes included.
    pub node_spanned_pages: u64,
    /// Frames of RAM in the node.
    pub node_present_pages: u64,
    pub zones: [Zone; MAX_NR_ZONES],
    /// For each highest-allowed zone, the first populated zone at or below
    /// it: where the zonelist really starts (`None`: nothing below).
    pub classzone: [Option<usize>; MAX_NR_ZONES],
    pub max_low_pfn: u64,
    pub max_pfn: u64,
    pub min_free_kbytes: u64,
    /// Boot option: mobility grouping (on by default).
    pub grouping: bool,
    /// `classzone` and the pcp list of an order-0 allocation, per value of
    /// the GFP bits that choose them ([`route_index`]), decided once in
    /// `init` so the fast path does not decode flags (Linux's
    /// `GFP_ZONE_TABLE` plays the same trick for the zone).
    pcp_route: [PcpRoute; ROUTES],
}

/// The GFP bits that decide an allocation's zone and migrate type, packed
/// into 4 bits: DMA and HIGHMEM are bits 0 and 1 already; RECLAIMABLE
/// (0x80000) and MOVABLE (0x100000) shift down to bits 2 and 3.
#[inline(always)]
const fn route_index(bits: u32) -> usize {
    ((bits & 0x3) | ((bits >> ROUTE_SHIFT) & 0xc)) as usize
}
const ROUTE_SHIFT: u32 = 17;
const ROUTES: usize = 16;
const _: () = assert!(Gfp::DMA.bits() | Gfp::HIGHMEM.bits() == 0x3);
const _: () = assert!(Gfp::RECLAIMABLE.bits() >> ROUTE_SHIFT == 0x4 && Gfp::MOVABLE.bits() >> ROUTE_SHIFT == 0x8);

/// The GFP flags a route index stands for (the inverse of [`route_index`]).
const fn route_gfp(index: usize) -> Gfp {
    let i = index as u32;
    Gfp::from_bits_truncate((i & 0x3) | ((i & 0xc) << ROUTE_SHIFT))
}

/// Where an order-0 allocation looks first; `zone: None` when no zone at or
/// below its highest allowed one is populated. Four bytes, so the fast
/// path indexes the table with a scaled address rather than a multiply.
#[derive(Clone, Copy)]
#[repr(C, align(4))]
struct PcpRoute {
    zone: Option<u8>,
    list: u8,
}

/// The pcp list of a migrate type: Unmovable 0, Reclaimable 1, the rest 2.
#[inline]
fn pcp_index(mt: MigrateType) -> usize {
    const _: () = assert!(MigrateType::Unmovable as usize == 0 && MigrateType::Reclaimable as usize == 1);
    (mt as usize).min(PCP_TYPES - 1)
}

/// [`pcp_index`] by table, for the free path, which has the pageblock type
/// as its `u8`: one load where `min` is a compare and a move on i386. Eight
/// entries so that the index is masked rather than bounds-checked.
const PCP_LIST_OF: [u8; 8] = [0, 1, 2, 2, 2, 2, 2, 2];

#[cold]
#[inline(never)]
fn bad_zone(pfn: u32) -> ! {
    panic!("freeing pfn {:#x} outside its zone", pfn);
}

/// Flags a page may not carry when it is freed (Linux 2.6.24's
/// `free_pages_check`): still owned by the slab, the LRU or I/O, never
/// allocatable, or part of a compound page whose owner did not take it
/// apart.
///
/// A free block's head (`is_buddy`) is caught by the count and map-count
/// checks: its count is 0 and its `_mapcount` is the buddy mark.
const FREE_CHECK_FLAGS: PageFlags = PageFlags::RESERVED
    .union(PageFlags::SLAB)
    .union(PageFlags::LRU)
    .union(PageFlags::ACTIVE)
    .union(PageFlags::LOCKED)
    .union(PageFlags::WRITEBACK)
    .union(PageFlags::HEAD)
    .union(PageFlags::TAIL);

#[cold]
#[inline(never)]
fn bad_page(pfn: u32, page: &Page) -> ! {
    panic!(
        "BUG: Bad page state: pfn {:#x} freed with flags:{:?} mapcount:{} count:{} (freed twice, or still in use)",
        pfn,
        page.flags() & FREE_CHECK_FLAGS,
        page.page_mapcount(),
        page.page_count()
    );
}

/// Whether an allocation that failed after reclaim goes round again
/// (2.6.24's `__alloc_pages` after `try_to_free_pages`): only if reclaim
/// freed something, never with `__GFP_NORETRY`, and above
/// `PAGE_ALLOC_COSTLY_ORDER` only when the caller insists (`__GFP_REPEAT`,
/// `__GFP_NOFAIL`): large contiguous blocks rarely come back from reclaim.
/// Linux also loops for `__GFP_NOFAIL` when reclaim made no progress,
/// through the OOM killer; with no OOM killer yet that would hang, so here
/// it gives up and the failure is reported.
pub fn should_alloc_retry(gfp: Gfp, order: usize, did_some_progress: bool) -> bool {
    use super::gfp::PAGE_ALLOC_COSTLY_ORDER;
    if !did_some_progress || gfp.contains(Gfp::NORETRY) {
        return false;
    }
    order <= PAGE_ALLOC_COSTLY_ORDER || gfp.intersects(Gfp::REPEAT | Gfp::NOFAIL)
}

/// Below this many pages mobility grouping cannot pay (each migrate type
/// would not get one pageblock), so 2.6.24's `build_all_zonelists` turns it
/// off: `pageblock_nr_pages * MIGRATE_TYPES`.
pub const GROUPING_MIN_PAGES: u64 = (super::buddy::PAGEBLOCK_PAGES as u64) * super::buddy::MIGRATE_TYPES as u64;

/// Whether mobility grouping is on: asked for (the default) and enough
/// pages for it. `total_pages` is Linux's `vm_total_pages` at that point of
/// boot: the zones' present pages (no watermark is set yet).
pub fn mobility_grouping(requested: bool, total_pages: u64) -> bool {
    requested && total_pages >= GROUPING_MIN_PAGES
}

/// Linux's boot line about the zonelists, word for word.
pub struct ZonelistsLine {
    pub grouping: bool,
    pub total_pages: u64,
}

impl core::fmt::Display for ZonelistsLine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Built 1 zonelists in Zone order, mobility grouping {}.  Total pages: {}",
            if self.grouping { "on" } else { "off" },
            self.total_pages
        )
    }
}

/// The descriptor a frame starts with (Linux's `memmap_init_zone`, run over
/// every zone): reserved until the boot allocator hands it over, HIGHMEM
/// above the direct map, and the zone whose span holds it, written into
/// every descriptor, reserved ones and holes included, so `page_zone` is
/// right for any frame. The node is node 0, the only one, and needs no bits.
pub fn memmap_page(layout: &ZoneLayout, pfn: u64) -> Page {
    let page = Page::RESERVED;
    if pfn >= layout.max_low_pfn {
        page.__set_flag(PageFlags::HIGHMEM);
    }
    page.set_page_links(layout.zone_at(pfn) as usize, 0);
    page
}

/// The runs of frames whose descriptors start alike, for boot (Linux's
/// `memmap_init` calls `memmap_init_zone` once per zone, the zone fixed,
/// rather than looking the zone up per frame): `(start, end, flags word)`
/// with every frame of `[start, end)` starting as
/// `Page::with_flags_word(word)`, the same as [`memmap_page`] for it. The
/// runs tile `[0, max_pfn)` in order. A descriptor changes only where a
/// zone starts (holes go to the zone below) and at `max_low_pfn` (HIGHMEM),
/// so those points cut the runs.
pub fn memmap_runs(layout: &ZoneLayout) -> impl Iterator<Item = (u64, u64, u32)> + '_ {
    let end = layout.max_pfn;
    let mut cuts = [end; MAX_NR_ZONES + 2];
    cuts[0] = 0;
    cuts[1] = layout.max_low_pfn.min(end);
    for (cut, z) in cuts[2..].iter_mut().zip(&layout.zones) {
        if z.spanned_pages != 0 {
            *cut = z.start_pfn.min(end);
        }
    }
    cuts.sort_unstable();
    (1..cuts.len())
        .map(move |i| (cuts[i - 1], cuts[i]))
        .filter(|(start, end)| start < end)
        .map(|(start, end)| (start, end, memmap_page(layout, start).flags_word()))
}

/// Integer square root by bisection (no floating point in the kernel).
fn int_sqrt(x: u64) -> u64 {
    let (mut lo, mut hi) = (0u64, 1u64 << 32);
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if mid * mid <= x {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Linux 2.6.24's `zone_batchsize`.
fn zone_batchsize(present: u64) -> usize {
    let mut batch = present / 1024;
    batch = batch.min(512 * 1024 / 4096);
    batch /= 4;
    batch = batch.max(1);
    let v = batch + batch / 2;
    ((1u64 << (63 - v.leading_zeros())) - 1) as usize
}

impl Node {
    #[allow(clippy::declare_interior_mutable_const)]
    pub const EMPTY: Node = Node {
        node_id: 0,
        node_start_pfn: 0,
        node_spanned_pages: 0,
        node_present_pages: 0,
        zones: [
            Zone::empty(ZoneType::Dma),
            Zone::empty(ZoneType::Normal),
            Zone::empty(ZoneType::HighMem),
            Zone::empty(ZoneType::Movable),
        ],
        classzone: [None; MAX_NR_ZONES],
        max_low_pfn: 0,
        max_pfn: 0,
        min_free_kbytes: 0,
        grouping: true,
        pcp_route: [PcpRoute { zone: None, list: 0 }; ROUTES],
    };

    /// Set up the zones of `layout`; no page is free until `free_range`.
    pub fn init(&mut self, layout: &ZoneLayout, grouping: bool) {
        for (zone, z) in self.zones.iter_mut().zip(layout.zones.iter()) {
            *zone = Zone::empty(z.kind);
            let mut buddy = BuddyZone::new(z.start_pfn as u32, z.spanned_pages as u32);
            buddy.set_grouping(grouping);
            *zone.lock() = buddy;
            zone.start_pfn = z.start_pfn as u32;
            zone.nr_pfns = z.spanned_pages as u32;
            zone.spanned = z.spanned_pages;
            zone.present = z.present_pages;
        }
        for top in 0..MAX_NR_ZONES {
            self.classzone[top] = (0..=top).rev().find(|&i| self.zones[i].present != 0);
        }
        self.max_low_pfn = layout.max_low_pfn;
        self.max_pfn = layout.max_pfn;
        self.node_start_pfn = layout.min_pfn;
        self.node_spanned_pages = layout.max_pfn - layout.min_pfn;
        self.node_present_pages = layout.zones.iter().map(|z| z.present_pages).sum();
        self.grouping = grouping;
        for (index, route) in self.pcp_route.iter_mut().enumerate() {
            let gfp = route_gfp(index);
            debug_assert_eq!(route_index(gfp.bits()), index);
            let zone = self.classzone[gfp.zone() as usize].map(|z| z as u8);
            let list = pcp_index(if grouping { gfp.migratetype() } else { MigrateType::Unmovable }) as u8;
            *route = PcpRoute { zone, list };
        }
    }

    /// HighMem, or a ZONE_MOVABLE carved out of highmem (Linux's
    /// `zone_movable_is_highmem`).
    fn is_highmem_zone(&self, z: &Zone) -> bool {
        z.kind == ZoneType::HighMem || (z.kind == ZoneType::Movable && z.start_pfn() as u64 >= self.max_low_pfn)
    }

    /// The zone holding `pfn`.
    pub fn zone_of(&self, pfn: u32) -> Option<usize> {
        self.zones.iter().position(|z| z.is_populated() && z.contains(pfn))
    }

    /// Give free frames `[start, end)` to their zones (memblock's hand-over).
    pub fn free_range(&mut self, mem_map: &[Page], start: u32, end: u32) {
        for (id, zone) in self.zones.iter_mut().enumerate().filter(|(_, z)| z.spanned != 0) {
            let (lo, hi) = (start.max(zone.start_pfn()), end.min(zone.end_pfn()));
            if lo < hi {
                for page in &mem_map[lo as usize..hi as usize] {
                    page.set_zone_id(id);
                }
                zone.lock().free_range(mem_map, lo, hi);
                zone.managed += (hi - lo) as u64;
            }
        }
    }

    /// Watermarks, reserves and pcp sizes, once every free page is handed
    /// over (Linux's `init_per_zone_pages_min` and friends). `min_free_kbytes`
    /// of `None` uses 2.6.24's formula: sqrt(16 * lowmem KB), 128..65536.
    pub fn setup_watermarks(&mut self, min_free_kbytes: Option<u64>) {
        let lowmem_pages: u64 = self.zones.iter().filter(|z| !self.is_highmem_zone(z)).map(|z| z.managed).sum();
        self.min_free_kbytes = min_free_kbytes.unwrap_or_else(|| int_sqrt(lowmem_pages * 4 * 16).clamp(128, 65536));
        let pages_min = self.min_free_kbytes / 4;
        let max_low = self.max_low_pfn;
        for zone in self.zones.iter_mut() {
            let tmp = if lowmem_pages == 0 { 0 } else { pages_min * zone.managed / lowmem_pages };
            let min = if zone.kind == ZoneType::HighMem
                || (zone.kind == ZoneType::Movable && zone.start_pfn() as u64 >= max_low)
            {
                // Highmem needs little reserve: nobody but user pages uses it.
                (zone.managed / 1024).clamp(32, 128)
            } else {
                tmp
            };
            zone.watermark = [min, min + tmp / 4, min + tmp / 2];
            let mut pcp = zone.pcp();
            pcp.batch = zone_batchsize(zone.present).max(1);
            pcp.high = 6 * zone_batchsize(zone.present);
        }
        // lowmem_reserve[j] of zone i: pages of zones i+1..=j over ratio[i].
        for i in 0..MAX_NR_ZONES {
            for j in 0..MAX_NR_ZONES {
                self.zones[i].lowmem_reserve[j] = if j <= i {
                    0
                } else {
                    let above: u64 = self.zones[i + 1..=j].iter().map(|z| z.managed).sum();
                    above / LOWMEM_RESERVE_RATIO[i.min(MAX_NR_ZONES - 2)]
                };
            }
        }
    }

    /// Keep the first pageblocks of each zone as MIGRATE_RESERVE, enough to
    /// cover its `min` watermark (2.6.24's `setup_zone_migrate_reserve`):
    /// the allocator takes from them last, so high-order atomic allocations
    /// near the watermark still find contiguous blocks. Call after
    /// `setup_watermarks`. Returns the pageblocks reserved.
    pub fn setup_migrate_reserve(&mut self, mem_map: &[Page]) -> usize {
        use super::buddy::PAGEBLOCK_PAGES;
        let mut total = 0;
        for zone in self.zones.iter_mut().filter(|z| z.is_populated()) {
            let pb = PAGEBLOCK_PAGES as u64;
            let mut reserve = zone.watermark[0].div_ceil(pb) as usize;
            let (start, end) = (zone.start_pfn(), zone.end_pfn());
            let zone_id = zone.kind as usize;
            let mut buddy = zone.lock();
            let mut pfn = start & !(PAGEBLOCK_PAGES - 1);
            while pfn < end && reserve > 0 {
                // Only whole pageblocks inside the zone, only movable ones,
                // and only blocks whose every frame is RAM the allocator
                // manages: a block holding reserved frames (firmware, the
                // kernel image, mem_map) never becomes free as a whole
                // (Linux skips PageReserved blocks and checks the zone).
                let whole = pfn >= start && pfn + PAGEBLOCK_PAGES <= end;
                let usable = whole
                    && mem_map[pfn as usize..(pfn + PAGEBLOCK_PAGES) as usize]
                        .iter()
                        .all(|p| !p.is_reserved() && p.zone_id() == zone_id);
                if usable && buddy.pageblock_type(pfn) == MigrateType::Movable {
                    buddy.set_pageblock_type(pfn, MigrateType::Reserve);
                    buddy.move_freepages_block(mem_map, pfn, MigrateType::Reserve);
                    reserve -= 1;
                    total += 1;
                }
                pfn += PAGEBLOCK_PAGES;
            }
        }
        total
    }

    /// Allocate 2^order frames; returns the first PFN. The head page gets a
    /// reference count of 1. `None` when every allowed zone is at its
    /// watermark (reclaim is the caller's, in `mm::alloc`).
    ///
    /// Inline so that the common case, an order-0 page off the preferred
    /// zone's pcp list, costs the caller no call at all; everything else
    /// goes to [`alloc_pages_slow`](Self::alloc_pages_slow).
    #[inline(always)]
    pub fn alloc_pages(&self, mem_map: &[Page], gfp: Gfp, order: usize) -> Option<u32> {
        if order == 0 {
            if let Some(pfn) = self.alloc_pcp_fast(mem_map, gfp) {
                return Some(pfn);
            }
        }
        self.alloc_pages_slow(mem_map, gfp, order)
    }

    /// Fast path (Linux: the pcp branch of `buffered_rmqueue` for the first
    /// zone of the zonelist): an order-0 page from the preferred zone's pcp
    /// list, the zone comfortably above its low mark. `None` sends the
    /// caller to the full zonelist walk, which repeats this test first.
    #[inline(always)]
    fn alloc_pcp_fast(&self, mem_map: &[Page], gfp: Gfp) -> Option<u32> {
        let route = self.pcp_route[route_index(gfp.bits())];
        // The mask only spares a bounds check: `init` stores zone indices.
        let classzone = route.zone? as usize & (MAX_NR_ZONES - 1);
        let list = route.list as usize;
        debug_assert_eq!(Some(classzone), self.classzone[gfp.zone() as usize]);
        debug_assert_eq!(list, pcp_index(self.alloc_type(gfp)));
        let zone = &self.zones[classzone];
        // watermark_ok at order 0 and `low`; lowmem_reserve[classzone] of
        // the classzone itself is always 0 (it keeps pages against zones
        // above), so the mark is the zone's own.
        let mark = zone.watermark[Watermark::Low as usize] as usize;
        debug_assert_eq!(zone.lowmem_reserve[classzone], 0);
        if zone.free_now() <= mark {
            return None;
        }
        let mut pcp = zone.pcp();
        let pfn = pcp.lists[list].pop_front(mem_map)?;
        pcp.count -= 1;
        drop(pcp);
        mem_map[pfn as usize].set_page_count(1);
        Some(pfn)
    }

    /// The free lists an allocation uses. Without grouping every page lives
    /// on the Unmovable lists (as the buddy zones do), so the pcp list of an
    /// allocation matches its free.
    #[inline]
    fn alloc_type(&self, gfp: Gfp) -> MigrateType {
        if self.grouping {
            gfp.migratetype()
        } else {
            MigrateType::Unmovable
        }
    }

    /// The zonelist walk of 2.6.24's `__alloc_pages` up to reclaim:
    /// `get_page_from_freelist` at the `low` mark; failing that, wake kswapd
    /// for every zone of the zonelist that is below `low`; then again at
    /// `min`, lowered for high-priority and atomic callers. Reclaim and its
    /// retries are the caller's (`mm::alloc`), which may sleep.
    #[inline(never)]
    fn alloc_pages_slow(&self, mem_map: &[Page], gfp: Gfp, order: usize) -> Option<u32> {
        if order >= MAX_ORDER {
            return None;
        }
        // The order-0 route table knows the zonelist's start already
        // (Linux's GFP_ZONE_TABLE): no zone bits to decode here either.
        let classzone = self.pcp_route[route_index(gfp.bits())].zone? as usize & (MAX_NR_ZONES - 1);
        debug_assert_eq!(Some(classzone), self.classzone[gfp.zone() as usize]);
        let mt = self.alloc_type(gfp);
        if let Some(pfn) = self.get_page_from_freelist(mem_map, order, mt, classzone, Watermark::Low, false, false) {
            return Some(pfn);
        }
        for i in (0..=classzone).rev() {
            self.wakeup_kswapd(i, order);
        }
        let (high, harder) = (gfp.contains(Gfp::HIGH), !gfp.may_sleep());
        self.get_page_from_freelist(mem_map, order, mt, classzone, Watermark::Min, high, harder)
    }

    /// The first zone of the zonelist, from `classzone` down, that stays
    /// above `mark` after the allocation, and a block from it. Each zone is
    /// locked in turn, never two at once.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn get_page_from_freelist(
        &self,
        mem_map: &[Page],
        order: usize,
        mt: MigrateType,
        classzone: usize,
        mark: Watermark,
        high: bool,
        harder: bool,
    ) -> Option<u32> {
        for zone in self.zones[..=classzone].iter().rev().filter(|z| z.is_populated()) {
            let wmark = zone.watermark[mark as usize];
            if let Some(pfn) = zone.buffered_rmqueue(mem_map, order, mt, wmark, classzone, high, harder) {
                zone.alloc_count.fetch_add(1, Relaxed);
                return Some(pfn);
            }
        }
        None
    }

    /// Linux's `wakeup_kswapd`: a zone below its `low` mark asks the
    /// background reclaimer to bring it back up to `high`. There is no
    /// kswapd thread yet, so the wake-up is only counted (per zone, shown
    /// by `zoneinfo`); reclaim happens in the allocating caller for now.
    fn wakeup_kswapd(&self, zone: usize, order: usize) {
        let z = &self.zones[zone];
        if !z.is_populated() || z.watermark_ok(order, z.watermark[Watermark::Low as usize], 0, false, false) {
            return;
        }
        z.kswapd_wakeups.fetch_add(1, Relaxed);
    }

    /// Free 2^order frames at `pfn` whose last reference is gone. Inline:
    /// an order-0 free is a push onto a pcp list behind two cheap checks
    /// (Linux's `free_hot_cold_page`).
    #[inline(always)]
    pub fn free_pages(&self, mem_map: &[Page], pfn: u32, order: usize) {
        let page = &mem_map[pfn as usize];
        // One load of the flags word gives the zone and the flags to check.
        let word = page.flags_word();
        let zone = &self.zones[(word >> super::page::ZONE_SHIFT) as usize];
        if !zone.contains(pfn) {
            bad_zone(pfn);
        }
        // Linux's free_pages_check: a page freed twice (refcount already 0:
        // it sits on a pcp list or in the buddy allocator) or still owned
        // by the slab allocator would later be handed to two owners.
        if page.page_count() != 1 || page.page_mapcount() != 0 || word & FREE_CHECK_FLAGS.bits() != 0 {
            bad_page(pfn, page);
        }
        page.set_page_count(0);
        // The page is the freeing caller's alone until it is on a list.
        page.__set_flags_word(word & !(PageFlags::DIRTY | PageFlags::REFERENCED).bits());
        let mt = zone.pageblock_type_raw(pfn);
        // A page of an isolated pageblock must not be handed out again from
        // a pcp list: it goes straight to the buddy's Isolate list (Linux's
        // free_hot_cold_page / free_pcppages_bulk check MIGRATE_ISOLATE).
        if order != 0 || mt == MigrateType::Isolate as u8 {
            Self::free_one_page(zone, mem_map, pfn, order);
            return;
        }
        let mut pcp = zone.pcp();
        let list = PCP_LIST_OF[mt as usize & 7] as usize;
        pcp.lists[list].push_front(mem_map, pfn);
        pcp.count += 1;
        if pcp.count > pcp.high {
            let batch = pcp.batch;
            zone.free_pcppages_bulk(&mut pcp, mem_map, batch);
        }
    }

    /// A block of order 1 or more goes straight to the buddy allocator
    /// (Linux's `free_one_page`).
    #[inline(never)]
    fn free_one_page(zone: &Zone, mem_map: &[Page], pfn: u32, order: usize) {
        zone.lock().free(mem_map, pfn, order);
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

    pub fn free_pages_total(&self) -> u64 {
        self.zones.iter().map(|z| z.free_pages()).sum()
    }

    /// Pages the allocator keeps back from user space (Linux's
    /// `calculate_totalreserve_pages`): per zone, its largest
    /// `lowmem_reserve` plus its `high` mark, but never more than the zone
    /// manages, so an empty zone reserves nothing.
    pub fn totalreserve_pages(&self) -> u64 {
        self.zones
            .iter()
            .map(|z| {
                (z.lowmem_reserve.iter().copied().max().unwrap_or(0) + z.watermark[Watermark::High as usize])
                    .min(z.managed)
            })
            .sum()
    }

    pub fn managed_total(&self) -> u64 {
        self.zones.iter().map(|z| z.managed).sum()
    }

    /// (managed, free) of HIGHMEM and MOVABLE-in-highmem zones.
    pub fn high_totals(&self) -> (u64, u64) {
        self.zones
            .iter()
            .filter(|z| z.start_pfn() as u64 >= self.max_low_pfn && z.is_populated())
            .fold((0, 0), |(m, f), z| (m + z.managed, f + z.free_pages()))
    }
}

#[cfg(test)]
mod tests;
