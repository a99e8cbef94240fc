//! Page reclaim (Linux 2.6.24's mm/vmscan.c, with 2.6.28's unevictable
//! list): when a zone runs short, user pages that have not been used lately
//! are written to swap and their frames freed.
//!
//! Each zone keeps its user pages on two lists (`mm::lru`). New pages start
//! on the active list. Reclaim scans from the tails: `shrink_active_list`
//! moves pages not referenced since the last look (their page-table
//! entries' accessed bits, read and cleared through the reverse map,
//! `mm::rmap`) to the inactive list, and `shrink_inactive_list` evicts
//! inactive pages: each gets a swap slot and enters the swap cache, every
//! entry mapping it becomes the swap entry (`try_to_unmap`), the page is
//! written (`mm::page_io`) and freed. A page referenced again on the way is
//! put back on the active list; an mlocked one goes to the unevictable
//! list and is never looked at again until it is unlocked.
//!
//! How hard to scan is the priority, 12 down to 0: each pass looks at
//! `list >> priority` pages of a zone. `swappiness` (0..200, default 60)
//! weighs in as in 2.6.24: mapped pages are deactivated only when
//! `swap_tendency = mapped_ratio / 2 + distress + swappiness` reaches 100
//! (`distress` grows as the priority falls), so a low value keeps
//! processes' pages in memory longer. With no page cache here every page
//! on the lists is mapped anonymous memory, so without swap there is
//! nothing reclaim can free but the slab caches.
//!
//! Two callers: `kswapd`, a kernel thread woken when an allocation finds a
//! zone below its `low` mark, which works until every zone is above `high`;
//! and direct reclaim, in the allocating task when even `min` is reached
//! (`try_to_free_pages`, from the page allocator's slow path).

use super::gfp::Gfp;
use super::lru::{PageBatch, SWAP_CLUSTER_MAX};
use super::mmzone::{node, pfn_to_page, with_node_mem_map, LruList, Watermark, Zone};
use super::page::{Page, PageFlags};
use super::page_io::swap_writepage;
use super::rmap::{page_referenced, try_to_unmap, Unmap};
use super::swap::{put_page, putback_lru_page};
use super::swapfile::{add_to_swap, nr_swap_pages, remove_mapping, unlock_page};
use super::sysctl::SWAPPINESS;
use super::vmstat::{count_vm_event, count_vm_events, VmEvent, NR_ANON_PAGES};
use crate::kernel::wait::WaitQueue;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// The first (gentlest) scanning priority (Linux's `DEF_PRIORITY`).
pub const DEF_PRIORITY: usize = 12;

/// What one reclaim run asks and has done (Linux's `scan_control`).
struct ScanControl {
    /// kswapd, or a task in direct reclaim: which counters to bump.
    kswapd: bool,
    /// Pages to free before a direct reclaimer may stop.
    goal: usize,
    nr_scanned: usize,
    nr_reclaimed: usize,
}

impl ScanControl {
    fn count_scan(&self, n: usize) {
        count_vm_events(if self.kswapd { VmEvent::PgScanKswapd } else { VmEvent::PgScanDirect }, n);
    }

    fn count_steal(&self, n: usize) {
        count_vm_events(if self.kswapd { VmEvent::PgStealKswapd } else { VmEvent::PgStealDirect }, n);
    }
}

fn page(pfn: u32) -> &'static Page {
    pfn_to_page(pfn as usize).expect("an LRU page outside mem_map")
}

/// Take up to `max` pages off the tail of `zone`'s list `l`.
fn isolate(zone: &Zone, l: LruList, max: usize, batch: &mut PageBatch) -> usize {
    with_node_mem_map(|_, mem_map| zone.lru_lock().isolate(mem_map, &zone.nr_lru, l, max, batch))
}

/// What to do with a page `shrink_page_list` looked at.
enum Verdict {
    /// Freed (its frame is back in the allocator).
    Freed,
    /// Back on a list.
    Keep(LruList),
}

/// Try to free one isolated page (the body of Linux's
/// `shrink_page_list`). The caller holds the isolation's reference; the
/// page is marked `PG_locked` meanwhile, which keeps the swap code from
/// taking it out of the swap cache under us.
/// `ignore_references` (Linux's parameter of that name, set by
/// `reclaim_pages`) evicts a page whatever its accessed bits say.
fn shrink_page(pfn: u32, ignore_references: bool) -> Verdict {
    let p = page(pfn);
    if p.flags().contains(PageFlags::MLOCKED) {
        count_vm_event(VmEvent::UnevictablePgsCulled);
        return Verdict::Keep(LruList::Unevictable);
    }
    // Referenced since the last look (an accessed bit in an entry, or a
    // busy reverse map): it is in use, back to the active list.
    // LAB 7: BEGIN second chance: a page used since the last look is not evicted
    let referenced = if ignore_references { 0 } else { page_referenced(pfn, p).unwrap_or(1) };
    if referenced > 0 && p.page_mapcount() > 0 {
        count_vm_event(VmEvent::PgActivate);
        return Verdict::Keep(LruList::ActiveAnon);
    }
    // LAB 7: STUB
    // let _ = ignore_references;
    // LAB 7: END
    if !p.flags().contains(PageFlags::SWAPCACHE)
        && p.page_mapcount() > 0
        && (nr_swap_pages() == 0 || add_to_swap(pfn).is_none())
    {
        // No slot: nothing to do with an anonymous page but keep it.
        return Verdict::Keep(LruList::ActiveAnon);
    }
    if !p.flags().contains(PageFlags::SWAPCACHE) {
        // Mapped nowhere and in no cache: its last user is dropping it;
        // our reference is all that keeps it. Let it go.
        return Verdict::Freed;
    }
    let entry = super::pgtable::SwpEntry(p.private());
    if p.page_mapcount() > 0 {
        match try_to_unmap(pfn, p, entry) {
            Unmap::Success => {}
            Unmap::Again => return Verdict::Keep(LruList::InactiveAnon),
            Unmap::Mlock => {
                count_vm_event(VmEvent::UnevictablePgsCulled);
                return Verdict::Keep(LruList::Unevictable);
            }
        }
    }
    if p.flags().contains(PageFlags::DIRTY) {
        if let Err(e) = swap_writepage(entry, pfn) {
            crate::pr_err!("Write-error on swap-device: {} (entry {:08x})", e, entry.0);
            return Verdict::Keep(LruList::ActiveAnon);
        }
        p.clear_flag(PageFlags::DIRTY);
    }
    // Written and mapped nowhere: out of the cache and freed, unless a
    // fault took it from the cache meanwhile (Linux's `__remove_mapping`).
    if remove_mapping(pfn) {
        Verdict::Freed
    } else {
        Verdict::Keep(LruList::ActiveAnon)
    }
}

/// Evict what can be evicted of an isolated batch; the rest goes back.
/// Returns the pages freed.
fn shrink_page_list(batch: &PageBatch, ignore_references: bool) -> usize {
    let mut freed = 0;
    for &pfn in batch.as_slice() {
        let p = page(pfn);
        p.set_flag(PageFlags::LOCKED);
        let v = shrink_page(pfn, ignore_references);
        unlock_page(pfn);
        match v {
            Verdict::Freed => {
                freed += 1;
                put_page(pfn);
            }
            Verdict::Keep(l) => putback_lru_page(pfn, l),
        }
    }
    freed
}

/// Evict the user pages `pfns` now, however recently used (Linux 5.4's
/// `reclaim_pages`, what `madvise(MADV_PAGEOUT)` calls; `make bench`
/// measures swap-out with it): each page still on an LRU list is taken
/// off it and goes through reclaim's own `shrink_page_list`, its accessed
/// bits ignored; a page reclaim cannot evict goes back on its list.
/// Returns the pages freed. May sleep (the swap writes).
pub fn reclaim_pages(pfns: &[u32]) -> usize {
    let mut freed = 0;
    let mut batch = PageBatch::new();
    for &pfn in pfns {
        let taken = with_node_mem_map(|node, mem_map| {
            let p = mem_map.get(pfn as usize)?;
            let zone = &node.zones[p.zone_id()];
            let mut lru = zone.lru_lock();
            // A count of 0: on its way to the allocator, not ours to take.
            if !p.flags().contains(PageFlags::LRU) || !p.get_unless_zero() {
                return None;
            }
            lru.del(mem_map, &zone.nr_lru, pfn).expect("PG_lru checked under the lock");
            Some(())
        });
        if taken.is_none() {
            continue;
        }
        batch.push(pfn);
        if batch.is_full() {
            freed += shrink_page_list(&batch, true);
            batch = PageBatch::new();
        }
    }
    freed + shrink_page_list(&batch, true)
}

/// Linux's `shrink_inactive_list`: up to `nr` pages from the inactive
/// tail, in batches.
fn shrink_inactive_list(zone: &Zone, nr: usize, sc: &mut ScanControl) {
    let mut left = nr;
    // A direct reclaimer stops once it has its batch (later kernels'
    // `nr_to_reclaim`): the allocation waiting on it is all it is for.
    while left > 0 && sc.nr_reclaimed < sc.goal {
        let mut batch = PageBatch::new();
        let scanned = isolate(zone, LruList::InactiveAnon, left.min(SWAP_CLUSTER_MAX), &mut batch);
        if scanned == 0 {
            break;
        }
        left = left.saturating_sub(scanned);
        sc.nr_scanned += scanned;
        sc.count_scan(scanned);
        let freed = shrink_page_list(&batch, false);
        sc.nr_reclaimed += freed;
        sc.count_steal(freed);
    }
}

/// Linux 2.6.24's `reclaim_mapped` decision (see the module comment).
fn reclaim_mapped(priority: usize) -> bool {
    let distress = 100 >> priority.min(DEF_PRIORITY);
    let total = node().managed_total().max(1) as usize;
    let mapped_ratio = NR_ANON_PAGES.load(Relaxed) * 100 / total;
    mapped_ratio / 2 + distress + SWAPPINESS.load(Relaxed) >= 100
}

/// Linux's `shrink_active_list`: age up to `nr` pages from the active
/// tail; those not referenced since the last look move to the inactive
/// list.
fn shrink_active_list(zone: &Zone, nr: usize, priority: usize, sc: &mut ScanControl) {
    let deactivate_mapped = reclaim_mapped(priority) && nr_swap_pages() > 0;
    let mut left = nr;
    while left > 0 {
        let mut batch = PageBatch::new();
        let scanned = isolate(zone, LruList::ActiveAnon, left.min(SWAP_CLUSTER_MAX), &mut batch);
        if scanned == 0 {
            break;
        }
        left = left.saturating_sub(scanned);
        sc.nr_scanned += scanned;
        for &pfn in batch.as_slice() {
            let p = page(pfn);
            // LAB 7: BEGIN age one active page: which list does it go back to?
            let l = if p.flags().contains(PageFlags::MLOCKED) {
                count_vm_event(VmEvent::UnevictablePgsCulled);
                LruList::Unevictable
            } else if p.page_mapcount() > 0 && (!deactivate_mapped || page_referenced(pfn, p).unwrap_or(1) > 0) {
                LruList::ActiveAnon
            } else {
                count_vm_event(VmEvent::PgDeactivate);
                LruList::InactiveAnon
            };
            // LAB 7: STUB
            // let _ = (p, deactivate_mapped, page_referenced);
            // let l = LruList::ActiveAnon;
            // LAB 7: END
            putback_lru_page(pfn, l);
        }
    }
}

/// Linux's `shrink_zone`: one pass over `zone` at `priority`.
fn shrink_zone(zone: &Zone, priority: usize, sc: &mut ScanControl) {
    // No free swap slot: an anonymous page cannot go anywhere, so its
    // lists are not scanned at all (2.6.28's `get_scan_ratio`; 2.6.24
    // scanned them in vain).
    if nr_swap_pages() == 0 {
        return;
    }
    // Age the active list first, so that what it gives up can be evicted
    // in the same pass (new pages all start active: the inactive list is
    // empty until aging fills it).
    let nr_active = (zone.lru_pages(LruList::ActiveAnon) >> priority) + 1;
    shrink_active_list(zone, nr_active.max(SWAP_CLUSTER_MAX), priority, sc);
    let nr_inactive = (zone.lru_pages(LruList::InactiveAnon) >> priority) + 1;
    shrink_inactive_list(zone, nr_inactive, sc);
}

/// Zones an allocation with `gfp` may use, highest first.
fn zones_for(gfp: Gfp) -> impl Iterator<Item = &'static Zone> {
    let top = gfp.zone() as usize;
    node().zones[..=top.min(node().zones.len() - 1)].iter().rev().filter(|z| z.is_populated())
}

/// Direct reclaim (Linux's `try_to_free_pages`): the allocating task
/// frees pages itself, a batch at a time, from gentle to desperate
/// priority, slab caches included. Returns the pages freed.
pub fn try_to_free_pages(gfp: Gfp) -> usize {
    count_vm_event(VmEvent::AllocStall);
    let mut sc = ScanControl { kswapd: false, goal: SWAP_CLUSTER_MAX, nr_scanned: 0, nr_reclaimed: 0 };
    for priority in (0..=DEF_PRIORITY).rev() {
        for zone in zones_for(gfp) {
            if sc.nr_reclaimed < sc.goal {
                shrink_zone(zone, priority, &mut sc);
            }
        }
        sc.nr_reclaimed += super::shrinker::shrink_slab();
        if sc.nr_reclaimed >= sc.goal {
            break;
        }
    }
    sc.nr_reclaimed
}

/// kswapd sleeps here; `wakeup_kswapd` wakes it.
static KSWAPD_WAIT: WaitQueue = WaitQueue::new();
/// A wake-up not yet served.
static KSWAPD_PENDING: AtomicBool = AtomicBool::new(false);
/// Whether the thread runs (it is started by `kmain`).
static KSWAPD_RUNNING: AtomicBool = AtomicBool::new(false);

/// Linux's `wakeup_kswapd`: a zone fell below `low`. Safe from any
/// context (the queue's lock masks interrupts).
pub fn wakeup_kswapd() {
    if KSWAPD_RUNNING.load(Relaxed) && !KSWAPD_PENDING.swap(true, Relaxed) {
        KSWAPD_WAIT.wake_up_all();
    }
}

/// Whether every populated zone has at least `mark` free.
fn zones_ok(mark: Watermark) -> bool {
    node().zones.iter().filter(|z| z.is_populated()).all(|z| z.watermark_ok(0, z.watermark(mark), 0, false, false))
}

/// Linux's `balance_pgdat`: reclaim from every zone below `high`, priority
/// by priority, until all are above it or nothing more can be done.
fn balance_pgdat() -> usize {
    count_vm_event(VmEvent::PageOutRun);
    let mut sc = ScanControl { kswapd: true, goal: usize::MAX, nr_scanned: 0, nr_reclaimed: 0 };
    for priority in (0..=DEF_PRIORITY).rev() {
        let mut all_ok = true;
        for zone in node().zones.iter().filter(|z| z.is_populated()) {
            if zone.watermark_ok(0, zone.watermark(Watermark::High), 0, false, false) {
                continue;
            }
            all_ok = false;
            shrink_zone(zone, priority, &mut sc);
        }
        sc.nr_reclaimed += super::shrinker::shrink_slab();
        if all_ok {
            break;
        }
        // Give the CPU to others between passes (Linux's cond_resched).
        crate::kernel::sched::yield_now();
    }
    sc.nr_reclaimed
}

/// The kswapd thread (Linux's `kswapd`): sleeps until woken, then
/// balances the node; goes back to sleep when every zone is above `high`
/// or a whole run freed nothing.
pub fn kswapd(_arg: usize) {
    KSWAPD_RUNNING.store(true, Relaxed);
    loop {
        KSWAPD_WAIT.wait_event(|| KSWAPD_PENDING.load(Relaxed));
        KSWAPD_PENDING.store(false, Relaxed);
        while !zones_ok(Watermark::High) {
            if balance_pgdat() == 0 {
                break;
            }
        }
    }
}
