//! Page references and the LRU's entry points (Linux's mm/swap.c).
//!
//! A user page's count holds one reference for all of its page-table
//! mappings together (taken when it is allocated, dropped when its
//! `_mapcount` falls to -1), one for the swap cache while it is there, and
//! one for each holder of the moment (reclaim's isolation, a fault that
//! found it in the swap cache). Linux takes one reference per mapping; one
//! for the lot is enough here, since nothing but the mappings themselves
//! looks at the count of a mapped page. When the count reaches 0 the page
//! leaves its LRU list and goes back to the allocator (`put_page`).

use super::lru::page_lru;
use super::mmzone::{with_node_mem_map, LruList, Zone};
use super::page::{Page, PageFlags};
use super::page_alloc::{self, Pages};

fn zone_of(node: &'static super::mmzone::Node, page: &Page) -> &'static Zone {
    &node.zones[page.zone_id()]
}

/// Drop a reference on user page `pfn`; the last one takes it off its LRU
/// list and frees it (Linux's `put_page` and `__page_cache_release`).
pub fn put_page(pfn: u32) {
    with_node_mem_map(|node, mem_map| {
        let page = &mem_map[pfn as usize];
        if !page.put_testzero() {
            return;
        }
        if page.flags().contains(PageFlags::LRU) {
            let zone = zone_of(node, page);
            zone.lru_lock().del(mem_map, &zone.nr_lru, pfn);
        }
        page.clear_flag(
            PageFlags::ACTIVE
                | PageFlags::UNEVICTABLE
                | PageFlags::REFERENCED
                | PageFlags::DIRTY
                | PageFlags::SWAPBACKED
                | PageFlags::MLOCKED,
        );
        page.set_mapping(0);
        page.set_index(0);
        // The allocator's free check wants the last reference in hand.
        page.set_page_count(1);
        // SAFETY: the count fell to 0: no mapping, cache or holder is
        // left, and user pages are single frames (`alloc_user_page`).
        page_alloc::__free_pages(unsafe { Pages::from_raw(pfn, 0) });
    });
}

/// The list a page not yet on one belongs on: unevictable when mlocked
/// (2.6.28), else active (2.6.24's `lru_cache_add_active` for new
/// anonymous pages: they are in use right now).
fn target_list(page: &Page) -> LruList {
    if page.flags().contains(PageFlags::MLOCKED) {
        LruList::Unevictable
    } else {
        LruList::ActiveAnon
    }
}

/// A new user page goes on its zone's LRU (Linux's `lru_cache_add_active`,
/// without the per-CPU pagevec: one lock round trip per page).
pub fn lru_cache_add(pfn: u32) {
    with_node_mem_map(|node, mem_map| {
        let page = &mem_map[pfn as usize];
        page.set_flag(PageFlags::SWAPBACKED);
        let zone = zone_of(node, page);
        let mut lru = zone.lru_lock();
        if !page.flags().contains(PageFlags::LRU) {
            lru.add(mem_map, &zone.nr_lru, pfn, target_list(page));
        }
    });
}

/// After `mlock` or `munlock` changed `PG_mlocked`: a page on an LRU list
/// moves to the one it belongs on now (2.6.28's `mlock_vma_page` culls to
/// the unevictable list, `munlock_vma_page` puts back on the inactive
/// one). A page isolated by reclaim is left to reclaim, which looks at the
/// flag itself.
pub fn lru_relocate(pfn: u32) {
    with_node_mem_map(|node, mem_map| {
        let page = &mem_map[pfn as usize];
        let zone = zone_of(node, page);
        let mut lru = zone.lru_lock();
        if !page.flags().contains(PageFlags::LRU) {
            return;
        }
        let now = page_lru(page);
        let want = if page.flags().contains(PageFlags::MLOCKED) {
            LruList::Unevictable
        } else if now == LruList::Unevictable {
            LruList::InactiveAnon
        } else {
            now
        };
        if want != now {
            lru.move_to(mem_map, &zone.nr_lru, pfn, want);
            drop(lru);
            super::vmstat::count_vm_event(if want == LruList::Unevictable {
                super::vmstat::VmEvent::UnevictablePgsMlocked
            } else {
                super::vmstat::VmEvent::UnevictablePgsMunlocked
            });
        }
    });
}

/// Put isolated page `pfn` back on list `l` and drop the isolation's
/// reference (Linux's `putback_lru_page`); if that was the last reference,
/// the page is freed instead.
pub fn putback_lru_page(pfn: u32, l: LruList) {
    with_node_mem_map(|node, mem_map| {
        let page = &mem_map[pfn as usize];
        let zone = zone_of(node, page);
        zone.lru_lock().putback(mem_map, &zone.nr_lru, pfn, l);
    });
    put_page(pfn);
}
