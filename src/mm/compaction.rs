//! Memory compaction (Linux 2.6.35's mm/compaction.c): move the movable
//! pages of a zone together so that the free pages between them merge into
//! large blocks again.
//!
//! Two scanners walk the zone a pageblock at a time towards each other. The
//! migrate scanner goes up from the start and takes in-use pages off their
//! LRU lists (`isolate_migratepages`), up to [`COMPACT_CLUSTER_MAX`] at a
//! time; the free scanner goes down from the end and takes the free pages of
//! pageblocks that may receive movable pages (`isolate_freepages`), split to
//! order 0 (`split_free_page`). Each isolated page is then migrated into one
//! of the free pages, so the bottom of the zone empties and the top fills.
//! The run ends when the scanners meet, or, for an allocation that is
//! waiting (direct compaction), as soon as a free block of its order exists
//! (`compact_finished`). Free pages taken and not used go back at the end.
//!
//! **When it is worth it.** A failed high-order allocation is either short
//! of memory (reclaim helps) or short of contiguity (compaction helps). The
//! fragmentation index (`fragmentation_index`, 2.6.35) tells which: towards
//! 0 lack of memory, towards 1000 fragmentation; direct compaction runs only
//! above `vm.extfrag_threshold` (500).
//!
//! **What it may move.** The moving itself is `mm::migrate`'s; compaction
//! reaches it through [`Migrator`] so that the scanners and their
//! bookkeeping run in host tests on a `Vec` of pages. A page that cannot
//! move (mlocked while `vm.compact_unevictable_allowed` is 0, pinned by a
//! reference) stays where it is and is counted by reason.
//!
//! **Locks.** The free scanner holds the zone's lock for one pageblock at a
//! time (2.6.35 held it for the whole scan); the migrate scanner takes no
//! lock of its own (the migrator takes the LRU lock per page), and reads
//! free-block marks without the zone lock as Linux's does, trusting an
//! order only when it is a real one.

use super::buddy::{BuddyZone, MigrateType, MAX_ORDER, PAGEBLOCK_ORDER, PAGEBLOCK_PAGES};
use super::list::List;
use super::mmzone::{Node, Watermark, Zone};
use super::page::{Page, PageFlags};
use super::vmstat::{count_vm_event, count_vm_events, VmEvent};
use core::fmt;

/// Pages isolated for migration at a time (Linux's `COMPACT_CLUSTER_MAX`,
/// which is `SWAP_CLUSTER_MAX`).
pub const COMPACT_CLUSTER_MAX: usize = 32;

/// Where a run stands (Linux's `COMPACT_*`), in Linux's order: a later one
/// means more was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CompactResult {
    /// Not worth running (the fragmentation index said lack of memory).
    Skipped,
    /// Keep going.
    Continue,
    /// Stopped early: a free block of the wanted order exists.
    Partial,
    /// The scanners met: the whole zone was compacted.
    Complete,
}

/// Why a page the migrate scanner found on an LRU list stayed where it was
/// (what `mm::migrate::MigrateError` says, as counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Mlocked, and `vm.compact_unevictable_allowed` is 0.
    Mlocked,
    /// Someone else holds a reference.
    Pinned,
    /// Not an LRU page after all (it left its list meanwhile).
    NotLru,
    /// No frame to move it to.
    NoMemory,
    /// Its mappings changed while it was being moved.
    Again,
}

pub const NR_SKIP: usize = 5;

impl Skip {
    pub const ALL: [Skip; NR_SKIP] = [Skip::Mlocked, Skip::Pinned, Skip::NotLru, Skip::NoMemory, Skip::Again];

    pub fn name(self) -> &'static str {
        ["mlocked", "pinned", "not on an LRU list", "no memory", "busy (mappings changed)"][self as usize]
    }
}

/// How compaction moves a page; the kernel's is `mm::migrate`, the host
/// tests' moves a tag in a `Vec`.
pub trait Migrator {
    /// Take in-use page `pfn` off its LRU list (Linux's `isolate_lru_page`).
    fn isolate(&mut self, pfn: u32) -> Result<(), Skip>;
    /// Give back a page `isolate` took and that will not move.
    fn putback(&mut self, pfn: u32);
    /// Move isolated page `pfn` into `new`, an order-0 page with a count of
    /// 1 taken by the free scanner. On success the old frame is freed; on
    /// failure the page is back on its list and `new` is freed.
    fn migrate(&mut self, pfn: u32, new: u32) -> Result<u32, Skip>;
    /// Free an order-0 page the free scanner took and did not use.
    fn release_free(&mut self, pfn: u32);
    /// Give up now (Linux's `fatal_signal_pending` check).
    fn should_stop(&self) -> bool {
        false
    }
}

/// What one run did (the per-zone line of the `compact` command).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompactStats {
    /// Pages the migrate scanner looked at.
    pub migrate_scanned: usize,
    /// Pages the free scanner looked at.
    pub free_scanned: usize,
    /// Pages taken off their LRU lists to move.
    pub isolated: usize,
    /// Free pages taken as targets.
    pub free_isolated: usize,
    /// Pages moved.
    pub moved: usize,
    /// Pages isolated whose move failed, by reason.
    pub failed: [usize; NR_SKIP],
    /// Pages on an LRU list that could not be isolated, by reason.
    pub skipped: [usize; NR_SKIP],
}

impl CompactStats {
    pub fn failed_total(&self) -> usize {
        self.failed.iter().sum()
    }

    pub fn skipped_total(&self) -> usize {
        self.skipped.iter().sum()
    }
}

impl fmt::Display for CompactStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "scanned {} pages (migrate) {} (free), moved {}, failed {}, skipped {}",
            self.migrate_scanned,
            self.free_scanned,
            self.moved,
            self.failed_total(),
            self.skipped_total()
        )?;
        let mut first = true;
        for s in Skip::ALL {
            let (skip, fail) = (self.skipped[s as usize], self.failed[s as usize]);
            if skip + fail != 0 {
                write!(f, "{}{} {}", if first { " (" } else { ", " }, s.name(), skip + fail)?;
                first = false;
            }
        }
        if !first {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// One run over one zone (Linux's `struct compact_control`).
#[derive(Clone, Copy, Debug)]
pub struct CompactControl {
    /// The order a waiting allocation wants; `None` compacts the whole zone
    /// (Linux's order -1, `/proc/sys/vm/compact_memory`).
    pub order: Option<usize>,
    /// The free lists the allocation takes from.
    pub migratetype: MigrateType,
    /// Where the migrate scanner goes on from (up).
    pub migrate_pfn: u32,
    /// The pageblock the free scanner goes on from (down).
    pub free_pfn: u32,
    pub stats: CompactStats,
}

impl CompactControl {
    /// A run over `zone`'s span `[start, end)`: the migrate scanner at the
    /// start, the free scanner at the last pageblock that starts in it.
    pub fn new(start: u32, end: u32, order: Option<usize>, migratetype: MigrateType) -> CompactControl {
        CompactControl {
            order,
            migratetype,
            migrate_pfn: start,
            free_pfn: (end - 1) & !(PAGEBLOCK_PAGES - 1),
            stats: CompactStats::default(),
        }
    }
}

/// Linux 2.6.35's `fragmentation_index` of `order` over a zone's free
/// lists: -1000 when a block of `order` is free (the allocation would not
/// fail), 0 when nothing is free; otherwise 0..1000, towards 0 when a
/// failure is from lack of memory, towards 1000 when from fragmentation:
/// `1000 - (1000 + free_pages * 1000 / requested) / free_blocks`.
pub fn fragmentation_index(buddy: &BuddyZone, order: usize) -> i32 {
    let (mut free_pages, mut free_blocks, mut suitable) = (0u64, 0u64, 0u64);
    for o in 0..MAX_ORDER {
        let n = buddy.nr_free(o) as u64;
        free_blocks += n;
        free_pages += n << o;
        if o >= order {
            suitable += n << (o - order);
        }
    }
    if free_blocks == 0 {
        return 0;
    }
    if suitable != 0 {
        return -1000;
    }
    // Below 0 when fewer blocks than the request would need are free
    // (one block of 512 pages for 1024: -500), as Linux's is.
    let requested = 1u64 << order;
    (1000 - ((1000 + free_pages * 1000 / requested) / free_blocks) as i64) as i32
}

/// Whether the run is over (Linux 2.6.35's `compact_finished`): the
/// scanners met, or a waiting allocation of `cc.order` can now be served
/// from `cc.migratetype`'s lists, or would take a whole pageblock.
/// `watermark_ok`: the zone is above `low` plus the request at that order.
pub fn compact_finished(cc: &CompactControl, buddy: &BuddyZone, watermark_ok: bool, stop: bool) -> CompactResult {
    if stop {
        return CompactResult::Partial;
    }
    if cc.free_pfn <= cc.migrate_pfn {
        return CompactResult::Complete;
    }
    let Some(order) = cc.order else {
        return CompactResult::Continue;
    };
    if !watermark_ok {
        return CompactResult::Continue;
    }
    for o in order..MAX_ORDER {
        if buddy.nr_free_by_type(o, cc.migratetype) != 0 {
            return CompactResult::Partial;
        }
        // A movable request may be served from the CMA lists too (Linux's
        // compact_finished with ALLOC_CMA).
        if cc.migratetype == MigrateType::Movable && buddy.nr_free_by_type(o, MigrateType::Cma) != 0 {
            return CompactResult::Partial;
        }
        if o >= PAGEBLOCK_ORDER && buddy.nr_free(o) != 0 {
            return CompactResult::Partial;
        }
    }
    CompactResult::Continue
}

/// Whether the pageblock at `pfn` may receive moved pages (Linux's
/// `suitable_migration_target`): a Movable block, or one wholly free of a
/// mobility type; never the reserve, an isolated block, nor any type a
/// later change adds (CMA keeps its own pages).
fn suitable_migration_target(buddy: &BuddyZone, mem_map: &[Page], pfn: u32) -> bool {
    match buddy.pageblock_type(pfn) {
        MigrateType::Movable => true,
        MigrateType::Unmovable | MigrateType::Reclaimable => {
            let head = &mem_map[pfn as usize];
            head.is_buddy() && head.order() >= PAGEBLOCK_ORDER
        }
        _ => false,
    }
}

/// The migrate scanner (Linux's `isolate_migratepages`): from
/// `cc.migrate_pfn` to the end of its pageblock, isolate in-use LRU pages
/// into `out`, at most [`COMPACT_CLUSTER_MAX`]; returns how many. Stops at
/// the free scanner: a pageblock it has reached is left to it.
fn isolate_migratepages(
    zone: &Zone,
    mem_map: &[Page],
    cc: &mut CompactControl,
    m: &mut impl Migrator,
    out: &mut [u32; COMPACT_CLUSTER_MAX],
) -> usize {
    let low = cc.migrate_pfn.max(zone.start_pfn());
    let end = ((low | (PAGEBLOCK_PAGES - 1)) + 1).min(zone.end_pfn());
    // At the free scanner, or past the zone's end (the free scanner's
    // mark can lie beyond a zone that ends mid-pageblock): the scanners met.
    if end > cc.free_pfn || low >= zone.end_pfn() {
        cc.migrate_pfn = end.max(cc.free_pfn);
        return 0;
    }
    let (mut n, mut pfn, mut scanned) = (0, low, 0);
    while pfn < end {
        let page = &mem_map[pfn as usize];
        scanned += 1;
        if page.is_buddy() {
            // Read without the zone's lock: a block merging meanwhile can
            // show a stale order; only a real one is trusted to skip by.
            let order = page.order();
            pfn += if order < MAX_ORDER { 1 << order } else { 1 };
            continue;
        }
        if !page.flags().contains(PageFlags::LRU) {
            pfn += 1;
            continue;
        }
        match m.isolate(pfn) {
            Ok(()) => {
                out[n] = pfn;
                n += 1;
            }
            Err(why) => cc.stats.skipped[why as usize] += 1,
        }
        pfn += 1;
        if n == COMPACT_CLUSTER_MAX {
            break;
        }
    }
    cc.migrate_pfn = pfn;
    cc.stats.migrate_scanned += scanned;
    cc.stats.isolated += n;
    count_vm_events(VmEvent::CompactMigrateScanned, scanned);
    count_vm_events(VmEvent::CompactIsolated, n);
    n
}

/// Take the free blocks of one pageblock `[block, end)` as order-0 pages
/// with a count of 1 onto `freelist` (Linux's `isolate_freepages_block`
/// and `split_free_page`, under the zone's lock). Stops when taking more
/// would put the zone below its `low` mark, as an allocation would.
fn isolate_freepages_block(
    zone: &Zone,
    buddy: &mut BuddyZone,
    mem_map: &[Page],
    block: u32,
    end: u32,
    freelist: &mut List,
) -> (usize, usize) {
    let (mut isolated, mut scanned, mut pfn) = (0, 0, block);
    while pfn < end {
        scanned += 1;
        let page = &mem_map[pfn as usize];
        if !page.is_buddy() {
            pfn += 1;
            continue;
        }
        let order = page.order();
        let mark = zone.watermark(Watermark::Low) + (1 << order);
        if !zone.watermark_ok_locked(Some(buddy), 0, mark, 0, false, false) {
            break;
        }
        let Some(order) = buddy.take_free_block(mem_map, pfn) else { break };
        // split_page: every page an order-0 page of its own.
        for p in pfn..pfn + (1 << order) {
            mem_map[p as usize].set_page_count(1);
            freelist.push_back(mem_map, p);
        }
        if order >= PAGEBLOCK_ORDER - 1 {
            buddy.set_pageblock_type(pfn, MigrateType::Movable);
        }
        isolated += 1 << order;
        pfn += 1 << order;
    }
    (isolated, scanned)
}

/// The free scanner (Linux's `isolate_freepages`): from `cc.free_pfn`
/// down, above the migrate scanner's pageblock, take free pages from
/// suitable pageblocks until `freelist` holds `want`. The next scan starts
/// again at the highest pageblock that gave pages, as migration may have
/// freed more there.
fn isolate_freepages(zone: &Zone, mem_map: &[Page], cc: &mut CompactControl, freelist: &mut List, want: usize) {
    let low = cc.migrate_pfn.saturating_add(PAGEBLOCK_PAGES);
    let mut high = low;
    let mut pfn = cc.free_pfn;
    let (mut isolated, mut scanned) = (0, 0);
    while pfn > low && freelist.len() < want {
        let start = pfn.max(zone.start_pfn());
        if start < zone.end_pfn() {
            let mut buddy = zone.lock();
            if suitable_migration_target(&buddy, mem_map, start) {
                let end = (pfn + PAGEBLOCK_PAGES).min(zone.end_pfn());
                let (i, s) = isolate_freepages_block(zone, &mut buddy, mem_map, start, end, freelist);
                isolated += i;
                scanned += s;
                if i != 0 {
                    high = high.max(pfn);
                }
            }
        }
        pfn -= PAGEBLOCK_PAGES;
    }
    cc.free_pfn = high;
    cc.stats.free_scanned += scanned;
    cc.stats.free_isolated += isolated;
    count_vm_events(VmEvent::CompactFreeScanned, scanned);
    count_vm_events(VmEvent::CompactIsolated, isolated);
}

/// Compact one zone (Linux's `compact_zone`) until `compact_finished`
/// says so. Every page isolated is moved or put back, every free page
/// taken is used or released, before it returns.
pub fn compact_zone(zone: &Zone, mem_map: &[Page], cc: &mut CompactControl, m: &mut impl Migrator) -> CompactResult {
    let mut freelist = List::new();
    let mut batch = [0u32; COMPACT_CLUSTER_MAX];
    let result = loop {
        let finished = {
            let watermark_ok = match cc.order {
                Some(order) => zone.watermark_ok(order, zone.watermark(Watermark::Low) + (1 << order), 0, false, false),
                None => true,
            };
            compact_finished(cc, &zone.lock(), watermark_ok, m.should_stop())
        };
        if finished != CompactResult::Continue {
            break finished;
        }
        let n = isolate_migratepages(zone, mem_map, cc, m, &mut batch);
        for (i, &pfn) in batch[..n].iter().enumerate() {
            if freelist.is_empty() {
                isolate_freepages(zone, mem_map, cc, &mut freelist, n - i);
            }
            // Linux's compaction_alloc: the next free page. None left
            // above the migrate scanner: the scanners have met, and the
            // rest of the batch stays where it is (Linux 3.x ends the run
            // here too, where 2.6.35 went on isolating pages in vain).
            let Some(new) = freelist.pop_front(mem_map) else {
                m.putback(pfn);
                cc.free_pfn = cc.migrate_pfn;
                continue;
            };
            match m.migrate(pfn, new) {
                Ok(_) => cc.stats.moved += 1,
                Err(why) => cc.stats.failed[why as usize] += 1,
            }
        }
    };
    while let Some(pfn) = freelist.pop_front(mem_map) {
        m.release_free(pfn);
    }
    result
}

/// Compact every populated zone whole (Linux's `compact_nodes`, what a
/// write to `/proc/sys/vm/compact_memory` does); the stats of each zone,
/// by zone index.
pub fn compact_node(node: &Node, mem_map: &[Page], m: &mut impl Migrator) -> [Option<CompactStats>; 4] {
    core::array::from_fn(|i| {
        let zone = &node.zones[i];
        if !zone.is_populated() {
            return None;
        }
        let mut cc = CompactControl::new(zone.start_pfn(), zone.end_pfn(), None, MigrateType::Movable);
        compact_zone(zone, mem_map, &mut cc, m);
        Some(cc.stats)
    })
}

/// Compact the zones an allocation of `order` may use, from its highest
/// down, for as long as that allocation would still fail (Linux 2.6.35's
/// `try_to_compact_pages`). A zone is left alone when it is too low on
/// order-0 pages to hold the copies, or when its fragmentation index says
/// the failure is from lack of memory (at most `extfrag_threshold`).
pub fn try_to_compact_pages(
    node: &Node,
    mem_map: &[Page],
    classzone: usize,
    order: usize,
    migratetype: MigrateType,
    extfrag_threshold: i32,
    m: &mut impl Migrator,
) -> CompactResult {
    let mut rc = CompactResult::Skipped;
    for zone in node.zones[..=classzone].iter().rev().filter(|z| z.is_populated()) {
        // 2UL << order: while a page moves, both copies exist.
        let mark = zone.watermark(Watermark::Low) + (2 << order);
        if !zone.watermark_ok(0, mark, 0, false, false) {
            continue;
        }
        let index = fragmentation_index(&zone.lock(), order);
        if (0..=extfrag_threshold).contains(&index) {
            continue;
        }
        if index == -1000 && zone.watermark_ok(order, mark, 0, false, false) {
            rc = CompactResult::Partial;
            break;
        }
        let mut cc = CompactControl::new(zone.start_pfn(), zone.end_pfn(), Some(order), migratetype);
        rc = rc.max(compact_zone(zone, mem_map, &mut cc, m));
        if zone.watermark_ok(order, mark, 0, false, false) {
            break;
        }
    }
    rc
}

/// Count a direct compaction's outcome as Linux does: a stall when it ran,
/// then a success if the allocation got its block afterwards, else a fail.
pub fn count_direct_compaction(rc: CompactResult, allocated: bool) {
    if rc == CompactResult::Skipped {
        return;
    }
    count_vm_event(VmEvent::CompactStall);
    count_vm_event(if allocated { VmEvent::CompactSuccess } else { VmEvent::CompactFail });
}

/// `vm.compact_memory` written (Linux's `sysctl_compaction_handler`):
/// compact every zone. The host has no migration: there it does nothing.
pub fn compact_memory_sysctl() {
    #[cfg(target_os = "none")]
    let _ = kernel::compact_memory();
}

#[cfg(target_os = "none")]
pub use kernel::*;

/// The kernel's side: pages move through `mm::migrate`.
#[cfg(target_os = "none")]
mod kernel {
    use super::*;
    use crate::mm::gfp::Gfp;
    use crate::mm::migrate::{isolate_lru_page, migrate_page, putback_isolated, MigrateError, MigrateMode};
    use crate::mm::mmzone::with_node_mem_map;
    use crate::mm::page_alloc::{self, Pages};
    use crate::mm::sysctl::EXTFRAG_THRESHOLD;
    use core::sync::atomic::Ordering::Relaxed;

    fn skip(e: MigrateError) -> Skip {
        match e {
            MigrateError::NotLru => Skip::NotLru,
            MigrateError::Mlocked => Skip::Mlocked,
            MigrateError::Pinned { .. } => Skip::Pinned,
            MigrateError::NoMemory => Skip::NoMemory,
            MigrateError::Again => Skip::Again,
        }
    }

    /// The page a free scanner took, as the handle `migrate_page` and
    /// `__free_pages` take.
    fn handle(pfn: u32) -> Pages {
        // SAFETY: `pfn` is an order-0 page the free scanner took off the
        // free lists and gave a count of 1, as `alloc_pages` hands one out;
        // the scanner passes each such page on exactly once (to be moved
        // into, or released), so this is its only handle.
        unsafe { Pages::from_raw(pfn, 0) }
    }

    struct Kernel {
        /// Direct compaction: a task being killed stops waiting for it.
        direct: bool,
    }

    impl Migrator for Kernel {
        fn isolate(&mut self, pfn: u32) -> Result<(), Skip> {
            isolate_lru_page(pfn, MigrateMode::Compaction).map_err(skip)
        }

        fn putback(&mut self, pfn: u32) {
            putback_isolated(pfn);
        }

        fn migrate(&mut self, pfn: u32, new: u32) -> Result<u32, Skip> {
            migrate_page(pfn, handle(new), MigrateMode::Compaction).map_err(skip)
        }

        fn release_free(&mut self, pfn: u32) {
            page_alloc::__free_pages(handle(pfn));
        }

        fn should_stop(&self) -> bool {
            self.direct && crate::kernel::sched::fatal_signal_pending()
        }
    }

    /// Compact every zone whole (`/proc/sys/vm/compact_memory`, the
    /// `compact` command); what each zone saw, by zone index. The pcp
    /// lists are drained before, so that the free scanner sees their pages,
    /// and after, so that the moved pages' old frames merge.
    pub fn compact_memory() -> [Option<CompactStats>; 4] {
        page_alloc::drain_all_pages();
        let stats = with_node_mem_map(|node, mm| compact_node(node, mm, &mut Kernel { direct: false }));
        page_alloc::drain_all_pages();
        stats
    }

    /// Direct compaction on (the default) or off (boot option
    /// `compaction=off`, this kernel's stand-in for a Linux built without
    /// `CONFIG_COMPACTION`, which has no runtime switch): for A/B runs such
    /// as the bench's fragmentation study. The `compact` command (an
    /// explicit request) compacts either way.
    static DIRECT_COMPACTION: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(true);

    /// Turn direct compaction on or off; returns what it was.
    pub fn set_direct_compaction(on: bool) -> bool {
        DIRECT_COMPACTION.swap(on, Relaxed)
    }

    pub fn direct_compaction() -> bool {
        DIRECT_COMPACTION.load(Relaxed)
    }

    /// An allocation of `order` that failed (Linux 2.6.35's
    /// `__alloc_pages_direct_compact`, called by the page allocator before
    /// direct reclaim): compact the zones it may use, then try it again;
    /// the frame it got, with a count of 1. Only for orders above 0 and
    /// callers that may sleep and do I/O (2.6.35 also left out orders up to
    /// `PAGE_ALLOC_COSTLY_ORDER`; later kernels compact for them too).
    pub fn alloc_pages_direct_compact(gfp: Gfp, order: usize) -> Option<u32> {
        if order == 0 || !gfp.contains(Gfp::WAIT | Gfp::IO | Gfp::FS) || !direct_compaction() {
            return None;
        }
        let threshold = EXTFRAG_THRESHOLD.load(Relaxed) as i32;
        let rc = with_node_mem_map(|node, mm| {
            let classzone = node.classzone[gfp.zone() as usize]?;
            let mt = if node.grouping { gfp.migratetype() } else { MigrateType::Unmovable };
            Some(try_to_compact_pages(node, mm, classzone, order, mt, threshold, &mut Kernel { direct: true }))
        })?;
        if rc == CompactResult::Skipped {
            return None;
        }
        // Migration frees the old frames to the pcp lists; merging needs
        // them in the buddy allocator (Linux drains here too).
        page_alloc::drain_all_pages();
        let pfn = with_node_mem_map(|node, mm| node.alloc_pages(mm, gfp, order));
        count_direct_compaction(rc, pfn.is_some());
        pfn
    }
}

#[cfg(test)]
mod tests;
