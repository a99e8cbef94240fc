//! The node and its zones (Linux's include/linux/mmzone.h): `Node` is
//! `pg_data_t`, `Zone` is `struct zone`, `ZoneType` the zone ids, the
//! watermarks and their test (`zone_watermark_ok`), the per-CPU page
//! lists; and, in the kernel, the one node (`NODE_DATA(0)`), `mem_map`,
//! `max_pfn` and `max_low_pfn`, which boot (`mm_init`) publishes once. What
//! the allocator does with them is `page_alloc`'s.
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
//! off nothing can preempt or sleep-check the holder). Nothing else is
//! locked: the watermark test of the fast path reads each zone's free count
//! from atomics the lock holders leave behind (Linux's `NR_FREE_PAGES`), and
//! the free path reads the pageblock type from a copy kept beside the lock
//! (Linux reads `pageblock_flags` without `zone->lock`). Work under a lock
//! is bounded: one allocation, or a batch of `pcp.batch` pages moved between
//! a pcp list and the buddy lists.
//!
//! `mem_map` is shared too: its descriptors are atomics, so
//! [`pfn_to_page`] reads and changes a page without any lock, as Linux's
//! does; a zone's lock keeps the free lists threaded through them
//! consistent. On the host the locks are plain spinlocks and there is no
//! `NODE`: tests build their own `Node` over a `Vec` of pages.

use super::buddy::{BuddyZone, MigrateType, MAX_ORDER, MAX_PAGEBLOCKS, PAGEBLOCK_ORDER};
use super::lru::LruLists;
use super::page::Page;
use super::page_alloc::pcp::{PcpList, PcpRing, PcpRoute, ROUTES};
use core::ops::{Deref, DerefMut};
use core::sync::atomic::Ordering::Relaxed;
use core::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize};
#[cfg(target_os = "none")]
use {
    crate::layout::{PAGE_OFFSET, PAGE_SHIFT},
    core::sync::atomic::Ordering,
};

// The kernel's locks mask interrupts; the host has none to mask.
#[cfg(target_os = "none")]
use crate::kernel::sync::{IrqLock as Lock, IrqLockGuard as LockGuard};
#[cfg(not(target_os = "none"))]
use spin::{Mutex as Lock, MutexGuard as LockGuard};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneType {
    Dma,
    Normal,
    HighMem,
    Movable,
}

pub const MAX_NR_ZONES: usize = 4;

impl ZoneType {
    pub const ALL: [ZoneType; MAX_NR_ZONES] = {
        use ZoneType::*;
        [Dma, Normal, HighMem, Movable]
    };

    /// Linux's `zone_names`.
    pub fn name(self) -> &'static str {
        match self {
            ZoneType::Dma => "DMA",
            ZoneType::Normal => "Normal",
            ZoneType::HighMem => "HighMem",
            ZoneType::Movable => "Movable",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Watermark {
    Min = 0,
    Low = 1,
    High = 2,
}

/// pcp lists per migrate type: Unmovable, Reclaimable, Movable.
pub(super) const PCP_TYPES: usize = 3;

/// The per-CPU order-0 page cache of a zone (one CPU here). Each list is
/// a ring of PFNs ([`PcpRing`]) rather than Linux's `list_head` through
/// the page descriptors: a push or a pop touches one word of the zone, not
/// the links of two descriptors.
pub struct PerCpuPages {
    pub lists: [PcpRing; PCP_TYPES],
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
    /// Of `managed`, the pages of the CMA region (Linux's `zone->cma_pages`).
    pub cma_pages: u64,
    /// min, low, high, in pages ([`Zone::watermark`]). Atomics because
    /// `vm.min_free_kbytes` rewrites them at run time (under the zone's
    /// lock, as Linux's `__setup_per_zone_wmarks`) while the fast path
    /// reads them without it, as Linux's does.
    pub(super) watermark: [AtomicUsize; 3],
    /// Pages kept free against allocations that could use zone `j` instead
    /// ([`Zone::lowmem_reserve`]); rewritten by `vm.lowmem_reserve_ratio`.
    pub(super) lowmem_reserve: [AtomicUsize; MAX_NR_ZONES],
    /// The span, copied out of the buddy allocator so that `contains`
    /// needs no lock (it never changes after boot).
    pub(super) start_pfn: u32,
    pub(super) nr_pfns: u32,
    /// Linux's `zone->lock`: the free lists.
    pub(super) lock: Lock<BuddyZone>,
    /// The per-CPU lists; taken before `lock` when both are held, with
    /// interrupts masked by [`Zone::pcp`] (the lock word catches re-entry).
    pub(super) pcp: spin::Mutex<PerCpuPages>,
    /// Free pages in the buddy lists and on the pcp lists, as each lock's
    /// last holder left them (Linux's `NR_FREE_PAGES`): read without locks.
    pub(super) buddy_free: AtomicUsize,
    pub(super) pcp_free: AtomicUsize,
    /// The pageblock types for the lock-free free path, by pageblock number
    /// (4 GB holds `MAX_PAGEBLOCKS`), refreshed from the buddy allocator's
    /// when its retag count moves.
    pub(super) pageblock_types: [AtomicU8; MAX_PAGEBLOCKS],
    pub(super) pageblock_retags: AtomicU32,
    /// Allocations served by the zonelist walk, for reports.
    pub alloc_count: AtomicUsize,
    /// Times an allocation found the zone below `low` and would have woken
    /// kswapd (see [`Node::wakeup_kswapd`]).
    pub kswapd_wakeups: AtomicUsize,
    /// Pages on each of the zone's LRU lists (Linux's `NR_INACTIVE_ANON`,
    /// `NR_ACTIVE_ANON`, `NR_UNEVICTABLE` zone counters), indexed by
    /// [`LruList`]; written under `lru`, read without it.
    pub nr_lru: [AtomicUsize; NR_LRU_LISTS],
    /// Linux's `zone->lru_lock` and the lists it guards (`mm::lru`).
    pub(super) lru: Lock<LruLists>,
}

/// Linux's `enum lru_list`, the anonymous half (there is no page cache
/// here, so no file lists) and the unevictable list of 2.6.28.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LruList {
    InactiveAnon = 0,
    ActiveAnon = 1,
    Unevictable = 2,
}

pub const NR_LRU_LISTS: usize = 3;

impl Zone {
    /// Watermark `w` in pages (Linux's `min_wmark_pages` and friends).
    #[inline(always)]
    pub fn watermark(&self, w: Watermark) -> u64 {
        self.watermark[w as usize].load(Relaxed) as u64
    }

    /// Pages this zone keeps free against an allocation whose highest
    /// allowed zone is `classzone` (Linux's `zone->lowmem_reserve[j]`).
    #[inline(always)]
    pub fn lowmem_reserve(&self, classzone: usize) -> u64 {
        self.lowmem_reserve[classzone].load(Relaxed) as u64
    }

    /// Set the three watermarks; the caller holds the zone's lock (see
    /// `Node::setup_per_zone_wmarks`), so an allocation that took it sees
    /// either the old marks or the new ones.
    pub(super) fn set_watermarks(&self, _locked: &BuddyZone, marks: [u64; 3]) {
        for (w, m) in self.watermark.iter().zip(marks) {
            w.store(m as usize, Relaxed);
        }
    }

    /// Pages on LRU list `l` of this zone now.
    pub fn lru_pages(&self, l: LruList) -> usize {
        self.nr_lru[l as usize].load(core::sync::atomic::Ordering::Relaxed)
    }
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
        self.zone.buddy_free.store(self.buddy.free_area_pages(), Relaxed);
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
    pub(super) const fn empty(kind: ZoneType) -> Zone {
        Zone {
            kind,
            spanned: 0,
            present: 0,
            managed: 0,
            cma_pages: 0,
            watermark: [const { AtomicUsize::new(0) }; 3],
            lowmem_reserve: [const { AtomicUsize::new(0) }; MAX_NR_ZONES],
            start_pfn: 0,
            nr_pfns: 0,
            lock: Lock::new(BuddyZone::new(0, 0)),
            pcp: spin::Mutex::new(PerCpuPages { lists: [PcpRing::EMPTY; PCP_TYPES], count: 0, high: 0, batch: 1 }),
            buddy_free: AtomicUsize::new(0),
            pcp_free: AtomicUsize::new(0),
            pageblock_types: [const { AtomicU8::new(MigrateType::Movable as u8) }; MAX_PAGEBLOCKS],
            pageblock_retags: AtomicU32::new(0),
            alloc_count: AtomicUsize::new(0),
            kswapd_wakeups: AtomicUsize::new(0),
            nr_lru: [AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)],
            lru: Lock::new(LruLists::new()),
        }
    }

    /// Take the zone's lock (Linux's `spin_lock_irqsave(&zone->lock)`).
    #[inline]
    pub fn lock(&self) -> ZoneGuard<'_> {
        ZoneGuard { zone: self, buddy: self.lock.lock() }
    }

    /// The LRU lists, locked (Linux's `spin_lock_irq(&zone->lru_lock)`);
    /// every operation under it is O(1) per page, a batch at most
    /// [`SWAP_CLUSTER_MAX`](super::lru::SWAP_CLUSTER_MAX) pages.
    #[inline]
    pub fn lru_lock(&self) -> LockGuard<'_, LruLists> {
        self.lru.lock()
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
        // Indexed by the pageblock's own number (`pfn >> PAGEBLOCK_ORDER`),
        // not from the zone's start: the free path then skips a subtraction.
        let first = (buddy.start_pfn() >> PAGEBLOCK_ORDER) as usize;
        for (i, mt) in buddy.pageblock_types().iter().enumerate() {
            self.pageblock_types[(first + i) & (MAX_PAGEBLOCKS - 1)].store(*mt as u8, Relaxed);
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
    pub(super) fn pageblock_type_raw(&self, pfn: u32) -> u8 {
        // The mask only spares a bounds check: a pfn is below 2^20, so its
        // pageblock number is below MAX_PAGEBLOCKS already.
        self.pageblock_types[(pfn >> PAGEBLOCK_ORDER) as usize & (MAX_PAGEBLOCKS - 1)].load(Relaxed)
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

    /// Free pages, those cached on the pcp lists included (unlike Linux,
    /// whose `NR_FREE_PAGES` counts pcp pages as allocated); no lock.
    #[inline]
    pub fn nr_free_pages(&self) -> u64 {
        self.free_now() as u64
    }

    #[inline]
    pub(super) fn free_now(&self) -> usize {
        self.buddy_free.load(Relaxed) + self.pcp_free.load(Relaxed)
    }

    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Free pages of the CMA pageblocks (Linux's `NR_FREE_CMA_PAGES`): the
    /// CMA free lists, and, since this kernel counts pcp pages as free, the
    /// CMA pages cached on the Movable pcp list (at most `pcp.high`).
    pub fn nr_free_cma(&self, mem_map: &[Page]) -> u64 {
        if self.cma_pages == 0 {
            return 0;
        }
        let pcp = self.pcp();
        let cached = pcp.lists.iter().flat_map(|l| l.iter(mem_map));
        let on_pcp = cached.filter(|&pfn| self.pageblock_type(pfn) == MigrateType::Cma).count();
        let listed = self.lock().cma_free();
        (listed + on_pcp) as u64
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
    pub(super) fn watermark_ok_locked(
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
        let buddy_free = buddy.map_or(self.buddy_free.load(Relaxed), |b| b.free_area_pages()) as isize;
        let mut free = buddy_free + self.pcp_free.load(Relaxed) as isize - (1isize << order) + 1;
        if free <= min + self.lowmem_reserve[classzone].load(Relaxed) as isize {
            return false;
        }
        let Some(buddy) = buddy else {
            debug_assert_eq!(order, 0, "watermark_ok_locked above order 0 without the lock");
            return true;
        };
        // Pcp pages are order 0: only buddy blocks count at higher orders.
        free = buddy_free - (1isize << order) + 1;
        // Fast path for high orders (it stands for the loop below, which
        // is Linux's zone_watermark_ok and decides whenever this does not):
        // each step of the loop compares the pages free in blocks above the
        // orders struck off so far with a mark no higher than `min`. Blocks
        // of `order` and above are never struck off, so if they alone clear
        // `min`, every step passes. Above MAX_ORDER / 2 they are fewer
        // terms to add than the loop has steps.
        if order > MAX_ORDER / 2 {
            let mut big = 0;
            let mut pages = 1 << order;
            for area in buddy.free_areas_from(order) {
                big += area.nr_free * pages;
                pages <<= 1;
            }
            if big as isize - (1isize << order) + 1 > min {
                return true;
            }
        }
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
    /// Linux's `min_free_kbytes` ([`Node::min_free_kbytes`]), which
    /// `vm.min_free_kbytes` changes at run time.
    pub(super) min_free_kbytes: AtomicUsize,
    /// Boot option: mobility grouping (on by default).
    pub grouping: bool,
    /// `classzone` and the pcp list of an order-0 allocation, per value of
    /// the GFP bits that choose them ([`route_index`]), decided once in
    /// `init` so the fast path does not decode flags (Linux's
    /// `GFP_ZONE_TABLE` plays the same trick for the zone).
    pub(super) pcp_route: [PcpRoute; ROUTES],
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
        min_free_kbytes: AtomicUsize::new(0),
        grouping: true,
        pcp_route: [PcpRoute { zone: 0, list: PcpList::Unmovable, classzone: None }; ROUTES],
    };

    /// HighMem, or a ZONE_MOVABLE carved out of highmem (Linux's
    /// `zone_movable_is_highmem`).
    pub(super) fn is_highmem_zone(&self, z: &Zone) -> bool {
        z.kind == ZoneType::HighMem || (z.kind == ZoneType::Movable && z.start_pfn() as u64 >= self.max_low_pfn)
    }

    /// The zone holding `pfn`.
    pub fn zone_of(&self, pfn: u32) -> Option<usize> {
        self.zones.iter().position(|z| z.is_populated() && z.contains(pfn))
    }

    /// Free pages of every zone, the pcp lists included (`nr_free_pages`).
    pub fn nr_free_pages(&self) -> u64 {
        self.zones.iter().map(|z| z.nr_free_pages()).sum()
    }

    /// Pages the allocator keeps back from user space (Linux's
    /// `calculate_totalreserve_pages`): per zone, its largest
    /// `lowmem_reserve` plus its `high` mark, but never more than the zone
    /// manages, so an empty zone reserves nothing.
    pub fn totalreserve_pages(&self) -> u64 {
        self.zones
            .iter()
            .map(|z| {
                let reserve = (0..MAX_NR_ZONES).map(|j| z.lowmem_reserve(j)).max().unwrap_or(0);
                (reserve + z.watermark(Watermark::High)).min(z.managed)
            })
            .sum()
    }

    /// Linux's `min_free_kbytes`: the kB every lowmem zone's `min` marks
    /// add up to.
    pub fn min_free_kbytes(&self) -> u64 {
        self.min_free_kbytes.load(Relaxed) as u64
    }

    pub fn managed_total(&self) -> u64 {
        self.zones.iter().map(|z| z.managed).sum()
    }

    /// Pages of the CMA region (Linux's `totalcma_pages`).
    pub fn cma_total(&self) -> u64 {
        self.zones.iter().map(|z| z.cma_pages).sum()
    }

    /// Free pages of the CMA region ([`Zone::nr_free_cma`] of every zone).
    pub fn nr_free_cma(&self, mem_map: &[Page]) -> u64 {
        self.zones.iter().map(|z| z.nr_free_cma(mem_map)).sum()
    }

    /// (managed, free) of HIGHMEM and MOVABLE-in-highmem zones.
    pub fn high_totals(&self) -> (u64, u64) {
        self.zones
            .iter()
            .filter(|z| z.start_pfn() as u64 >= self.max_low_pfn && z.is_populated())
            .fold((0, 0), |(m, f), z| (m + z.managed, f + z.nr_free_pages()))
    }
}

// The kernel's one node and its `mem_map`, published once by `mm_init`.

/// Linux's `contig_page_data`, set once by `mm_init`.
#[cfg(target_os = "none")]
pub(in crate::mm) static NODE: spin::Once<Node> = spin::Once::new();
/// The array's address; before mm_init an aligned dangling one, which
/// with a length of 0 is a valid empty slice (so `mem_map()` needs no
/// branch).
#[cfg(target_os = "none")]
static MEM_MAP: AtomicUsize = AtomicUsize::new(core::mem::align_of::<Page>());
#[cfg(target_os = "none")]
static MEM_MAP_LEN: AtomicUsize = AtomicUsize::new(0);
#[cfg(target_os = "none")]
static MAX_LOW_PFN: AtomicUsize = AtomicUsize::new(0);

/// Publish `mem_map` (boot, once).
///
/// # Safety
/// `ptr` is a lowmem array of `len` initialised `Page`s that stays
/// allocated and is never mutably borrowed for the rest of the kernel's
/// life.
#[cfg(target_os = "none")]
pub(in crate::mm) unsafe fn set_mem_map(ptr: *const Page, len: usize) {
    MEM_MAP.store(ptr as usize, Ordering::Relaxed);
    MEM_MAP_LEN.store(len, Ordering::Release);
}

/// Linux's `max_pfn`: one past the last frame with a page descriptor (0
/// before mm_init has built `mem_map`).
#[cfg(target_os = "none")]
pub fn max_pfn() -> usize {
    MEM_MAP_LEN.load(Ordering::Acquire)
}

/// Linux's `max_low_pfn`: one past the last frame of the direct map.
#[cfg(target_os = "none")]
pub fn max_low_pfn() -> usize {
    MAX_LOW_PFN.load(Ordering::Relaxed)
}

#[cfg(target_os = "none")]
pub(in crate::mm) fn set_max_low_pfn(pfn: usize) {
    MAX_LOW_PFN.store(pfn, Ordering::Relaxed);
}

/// Start of the vmalloc area, 8 MB above the end of the direct map
/// (Linux i386's `VMALLOC_START`, which is computed from `high_memory`
/// the same way).
#[cfg(target_os = "none")]
pub fn vmalloc_start() -> usize {
    PAGE_OFFSET + (max_low_pfn() << PAGE_SHIFT) + crate::layout::VMALLOC_OFFSET
}

/// All of `mem_map` (empty before mm_init has built it).
#[cfg(target_os = "none")]
#[inline]
pub fn mem_map() -> &'static [Page] {
    let len = MEM_MAP_LEN.load(Ordering::Acquire);
    let ptr = MEM_MAP.load(Ordering::Relaxed) as *const Page;
    // SAFETY: either len is 0 and ptr is the initial aligned non-null
    // dangling address (a valid empty slice), or `set_mem_map` stored a
    // lowmem array of `len` initialised Pages, kept for the kernel's
    // life, before publishing `len` with Release (read above with
    // Acquire). Nothing ever takes a `&mut` to it afterwards: every word
    // of a Page is an atomic, changed through shared references.
    unsafe { core::slice::from_raw_parts(ptr, len) }
}

/// The descriptor of frame `pfn` (Linux's `pfn_to_page`), without a
/// lock; `None` past `mem_map`.
#[cfg(target_os = "none")]
#[inline]
pub fn pfn_to_page(pfn: usize) -> Option<&'static Page> {
    mem_map().get(pfn)
}

/// The memory node (Linux's `NODE_DATA(0)`), once mm_init has built it.
#[cfg(target_os = "none")]
#[inline]
pub fn node() -> &'static Node {
    // Before mm_init nothing may allocate: a bug, and `expect` says so.
    NODE.get().expect("the page allocator is used before mm_init")
}

/// Proof that mm_init has built the node (`NODE` is set, and it is never
/// unset), for the free path. Zero-sized: a `Pages` carries one at no
/// cost. Made only by [`node_and_proof`], after `NODE` was found set, and
/// by [`NodeBuilt::new_unchecked`], whose caller promises it; the field is
/// private, so nothing else in the crate can make one.
#[cfg(target_os = "none")]
#[derive(Clone, Copy, Debug)]
pub(in crate::mm) struct NodeBuilt(());

#[cfg(target_os = "none")]
impl NodeBuilt {
    /// The proof without looking at `NODE`.
    ///
    /// # Safety
    /// mm_init has built the node: the caller holds what only an
    /// allocation could give it (as the `unsafe` `Pages::from_raw` and
    /// `free_pages` do by their own contracts).
    #[inline(always)]
    pub(in crate::mm) unsafe fn new_unchecked() -> NodeBuilt {
        NodeBuilt(())
    }
}

/// `node()`, and the proof that it is built, for the allocator to put in
/// the `Pages` it hands out.
#[cfg(target_os = "none")]
#[inline]
pub(in crate::mm) fn node_and_proof() -> (&'static Node, NodeBuilt) {
    (node(), NodeBuilt(()))
}

/// `node()` without its test, for a caller that holds what only an
/// allocation could give it (a `Pages`, with its `NodeBuilt`): one load
/// and a branch less on every free.
#[cfg(target_os = "none")]
#[inline(always)]
pub(in crate::mm) fn node_built(_: NodeBuilt) -> &'static Node {
    // SAFETY: a `NodeBuilt` exists only once `NODE` was seen set
    // (`node_and_proof`) or an `unsafe` caller promised it was
    // (`NodeBuilt::new_unchecked`); `NODE` is never unset.
    unsafe { NODE.get_unchecked() }
}

/// Run `f` with the node and `mem_map` (the node's `node_mem_map`). No
/// lock: `f` takes the zone locks it needs (the node's methods do).
#[cfg(target_os = "none")]
#[inline(always)]
pub fn with_node_mem_map<R>(f: impl FnOnce(&'static Node, &'static [Page]) -> R) -> R {
    f(node(), mem_map())
}
