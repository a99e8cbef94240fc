//! A zone's LRU lists (Linux 2.6.24's `zone->active_list` and
//! `zone->inactive_list`, with 2.6.28's unevictable list): the pages user
//! processes map, in the order reclaim should look at them. New pages go on
//! the head of the active list; reclaim takes from the tails, ages active
//! pages onto the inactive list and evicts inactive ones
//! (`mm::vmscan`). Only anonymous pages exist here (no page cache), so there
//! is one pair of lists where Linux 2.6.28 has an anon and a file pair.
//!
//! A page's flags say where it is: `PG_lru` while on any list, with
//! `PG_active` on the active one and `PG_unevictable` on the unevictable
//! one. The lists do not hold a reference on their pages (as in Linux): a
//! page whose count falls to 0 is taken off its list by whoever freed it,
//! and [`LruLists::isolate`] takes a reference on each page it takes off, so
//! a page being reclaimed cannot be freed under the reclaimer's feet.
//!
//! Pure: the lists link `mem_map`'s descriptors by PFN ([`List`]), the
//! caller holds the zone's LRU lock, and the host tests drive them on a
//! `Vec` of descriptors.

#![forbid(unsafe_code)]

use super::list::List;
use super::mmzone::{LruList, NR_LRU_LISTS};
use super::page::{Page, PageFlags};
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Pages reclaim handles in one batch (Linux's `SWAP_CLUSTER_MAX`).
pub const SWAP_CLUSTER_MAX: usize = 32;

/// A batch of pages taken off the lists, by PFN (Linux's `pagevec`, sized
/// as a reclaim batch).
#[derive(Clone, Debug, Default)]
pub struct PageBatch {
    pfns: [u32; SWAP_CLUSTER_MAX],
    n: usize,
}

impl PageBatch {
    pub const fn new() -> PageBatch {
        PageBatch { pfns: [0; SWAP_CLUSTER_MAX], n: 0 }
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn is_full(&self) -> bool {
        self.n == SWAP_CLUSTER_MAX
    }

    /// Add `pfn`; false (and nothing added) when the batch is full.
    pub fn push(&mut self, pfn: u32) -> bool {
        if self.is_full() {
            return false;
        }
        self.pfns[self.n] = pfn;
        self.n += 1;
        true
    }

    pub fn as_slice(&self) -> &[u32] {
        &self.pfns[..self.n]
    }

    pub fn clear(&mut self) {
        self.n = 0;
    }
}

/// Which list a page on the LRU is on, from its flags (Linux's
/// `page_lru`).
pub fn page_lru(page: &Page) -> LruList {
    let f = page.flags();
    if f.contains(PageFlags::UNEVICTABLE) {
        LruList::Unevictable
    } else if f.contains(PageFlags::ACTIVE) {
        LruList::ActiveAnon
    } else {
        LruList::InactiveAnon
    }
}

/// The flags that say a page is on list `l`.
fn list_flags(l: LruList) -> PageFlags {
    match l {
        LruList::InactiveAnon => PageFlags::LRU,
        LruList::ActiveAnon => PageFlags::LRU | PageFlags::ACTIVE,
        LruList::Unevictable => PageFlags::LRU | PageFlags::UNEVICTABLE,
    }
}

const LRU_FLAGS: PageFlags = PageFlags::LRU.union(PageFlags::ACTIVE).union(PageFlags::UNEVICTABLE);

/// The three lists of one zone. `nr` is the zone's `nr_lru` counters, kept
/// here so that a list's length can be read without its lock.
pub struct LruLists {
    lists: [List; NR_LRU_LISTS],
}

impl Default for LruLists {
    fn default() -> Self {
        Self::new()
    }
}

impl LruLists {
    pub const fn new() -> LruLists {
        LruLists { lists: [List::new(), List::new(), List::new()] }
    }

    pub fn len(&self, l: LruList) -> usize {
        self.lists[l as usize].len()
    }

    /// Put `pfn`, on no list now, at the head of list `l` (Linux's
    /// `add_page_to_active_list` and friends).
    pub fn add(&mut self, mem_map: &[Page], nr: &[AtomicUsize; NR_LRU_LISTS], pfn: u32, l: LruList) {
        let page = &mem_map[pfn as usize];
        debug_assert!(!page.flags().contains(PageFlags::LRU), "pfn {pfn:#x} is on an LRU list already");
        page.clear_flag(LRU_FLAGS);
        page.set_flag(list_flags(l));
        self.lists[l as usize].push_front(mem_map, pfn);
        nr[l as usize].fetch_add(1, Relaxed);
    }

    /// Take `pfn` off whichever list it is on; `None` when it is on none
    /// (isolated by reclaim, or never added).
    pub fn del(&mut self, mem_map: &[Page], nr: &[AtomicUsize; NR_LRU_LISTS], pfn: u32) -> Option<LruList> {
        let page = &mem_map[pfn as usize];
        if !page.flags().contains(PageFlags::LRU) {
            return None;
        }
        let l = page_lru(page);
        self.lists[l as usize].remove(mem_map, pfn);
        nr[l as usize].fetch_sub(1, Relaxed);
        page.clear_flag(LRU_FLAGS);
        Some(l)
    }

    /// Move `pfn` (on a list) to the head of list `l` (Linux's
    /// `activate_page`, `deactivate`, culling to the unevictable list).
    pub fn move_to(&mut self, mem_map: &[Page], nr: &[AtomicUsize; NR_LRU_LISTS], pfn: u32, l: LruList) {
        if self.del(mem_map, nr, pfn).is_some() {
            self.add(mem_map, nr, pfn, l);
        }
    }

    /// Take up to `batch`'s room of pages from the tail of list `l` for
    /// reclaim (Linux's `isolate_lru_pages`): each taken page gets a
    /// reference and loses `PG_lru` (its `PG_active`/`PG_unevictable`
    /// stay, saying where it came from). A page whose count is already 0
    /// is being freed: it is left where it is, for its freer to take off.
    /// Returns the pages scanned (taken or not), at most `max`.
    pub fn isolate(
        &mut self,
        mem_map: &[Page],
        nr: &[AtomicUsize; NR_LRU_LISTS],
        l: LruList,
        max: usize,
        batch: &mut PageBatch,
    ) -> usize {
        let list = &mut self.lists[l as usize];
        let mut scanned = 0;
        let mut skipped = List::new();
        while scanned < max && !batch.is_full() {
            let Some(pfn) = list.pop_back(mem_map) else { break };
            scanned += 1;
            let page = &mem_map[pfn as usize];
            if page.get_unless_zero() {
                page.clear_flag(PageFlags::LRU);
                nr[l as usize].fetch_sub(1, Relaxed);
                batch.push(pfn);
            } else {
                skipped.push_front(mem_map, pfn);
            }
        }
        // Pages being freed go back where they were, at the tail.
        while let Some(pfn) = skipped.pop_front(mem_map) {
            list.push_back(mem_map, pfn);
        }
        scanned
    }

    /// Put an isolated page (one `isolate` took, its reference still held
    /// by the caller) back at the head of list `l` (Linux's
    /// `putback_lru_page` without the reference drop, which the caller
    /// makes after the lock).
    pub fn putback(&mut self, mem_map: &[Page], nr: &[AtomicUsize; NR_LRU_LISTS], pfn: u32, l: LruList) {
        self.add(mem_map, nr, pfn, l);
    }

    /// The PFNs on list `l`, head first (for tests and reports).
    pub fn iter<'a>(&self, mem_map: &'a [Page], l: LruList) -> impl Iterator<Item = u32> + 'a {
        self.lists[l as usize].iter(mem_map)
    }
}

#[cfg(test)]
mod tests;
