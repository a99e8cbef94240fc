//! The slots of one swap area (Linux's `swap_info_struct` without the
//! device): `swap_map`, a use count per page of the area, and the swap
//! cache's page for each slot.
//!
//! Page 0 holds the swap header and is never handed out, nor are the bad
//! pages `mkswap` listed (both marked [`SWAP_MAP_BAD`]). A slot's count is
//! the number of swap entries in page tables naming it, plus one while a
//! page sits in the swap cache for it; the slot is free when the count is
//! 0. Linux 2.6.24 keeps the swap cache in a radix tree (`swapper_space`)
//! keyed by the entry; one flat array indexed by the slot is the same map
//! for an area of this size (4 bytes a slot, 256 KB for 256 MB of swap).
//!
//! Slots are handed out next-fit from where the last one was, so that the
//! pages reclaim writes one after another land next to each other on the
//! disk (2.6.24's `scan_swap_map` does the same with 256-page clusters;
//! this one keeps the cursor and skips the cluster bookkeeping).
//!
//! Pure: `mm::swapfile` keeps one per active area under `swap_lock`; the
//! host tests drive it directly.

#![forbid(unsafe_code)]

use alloc::collections::TryReserveError;
use alloc::vec::Vec;

/// A slot that is never used: the header, or a bad page (Linux's
/// `SWAP_MAP_BAD`).
pub const SWAP_MAP_BAD: u16 = 0x8000;
/// The highest use count a slot may reach (Linux 2.6.24's `SWAP_MAP_MAX`);
/// more sharers than that and fork refuses to duplicate the entry.
pub const SWAP_MAP_MAX: u16 = 0x7fff;

pub struct SwapMap {
    map: Vec<u16>,
    /// The swap cache: the PFN plus one of the page cached for each slot,
    /// 0 for none.
    cache: Vec<u32>,
    /// Slots that can be used (all but the header and the bad ones).
    pages: u32,
    /// Slots in use (count > 0).
    inuse: u32,
    /// Slots with a page in the swap cache.
    cached: u32,
    /// Where the next search starts.
    next: u32,
}

impl SwapMap {
    /// The map of an area whose last usable page is `last_page` (the
    /// header's `last_page`), with `bad` pages never to be used. Refused
    /// only when the arrays cannot be allocated.
    pub fn new(last_page: u32, bad: &[u32]) -> Result<SwapMap, TryReserveError> {
        let n = last_page as usize + 1;
        let mut map = Vec::new();
        map.try_reserve_exact(n)?;
        map.resize(n, 0);
        let mut cache = Vec::new();
        cache.try_reserve_exact(n)?;
        cache.resize(n, 0);
        map[0] = SWAP_MAP_BAD;
        for &b in bad {
            if let Some(slot) = map.get_mut(b as usize) {
                *slot = SWAP_MAP_BAD;
            }
        }
        let pages = map.iter().filter(|&&c| c == 0).count() as u32;
        Ok(SwapMap { map, cache, pages, inuse: 0, cached: 0, next: 1 })
    }

    /// Usable slots (Linux's `si->pages`).
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// Slots in use (`si->inuse_pages`).
    pub fn inuse(&self) -> u32 {
        self.inuse
    }

    /// Slots whose page is in the swap cache too.
    pub fn nr_cached(&self) -> u32 {
        self.cached
    }

    /// Slots in the map, header included (`si->max`).
    pub fn max(&self) -> u32 {
        self.map.len() as u32
    }

    /// The use count of slot `off` (`SWAP_MAP_BAD` for a bad one, 0 when
    /// free or outside the map).
    pub fn count(&self, off: u32) -> u16 {
        self.map.get(off as usize).copied().unwrap_or(0)
    }

    /// Whether `off` names a slot in use.
    pub fn in_use(&self, off: u32) -> bool {
        matches!(self.count(off), 1..=SWAP_MAP_MAX)
    }

    /// A free slot with its count set to 1 (Linux's `scan_swap_map`);
    /// `None` when the area is full.
    pub fn alloc(&mut self) -> Option<u32> {
        if self.inuse == self.pages {
            return None;
        }
        let n = self.max();
        for i in 0..n {
            let off = (self.next + i) % n;
            if self.map[off as usize] == 0 {
                self.map[off as usize] = 1;
                self.inuse += 1;
                self.next = off + 1;
                return Some(off);
            }
        }
        None
    }

    /// One more user of slot `off` (Linux's `swap_duplicate`); false when
    /// the slot is not in use or already at `SWAP_MAP_MAX`.
    pub fn dup(&mut self, off: u32) -> bool {
        match self.map.get_mut(off as usize) {
            Some(c) if (1..SWAP_MAP_MAX).contains(c) => {
                *c += 1;
                true
            }
            _ => false,
        }
    }

    /// One user of slot `off` fewer (Linux's `swap_entry_free`); returns
    /// the count left, 0 when the slot is free again. A slot not in use
    /// is left alone (`None`): the caller reports the bad entry.
    pub fn free(&mut self, off: u32) -> Option<u16> {
        let c = self.map.get_mut(off as usize).filter(|c| (1..=SWAP_MAP_MAX).contains(*c))?;
        *c -= 1;
        let left = *c;
        if left == 0 {
            debug_assert_eq!(self.cache[off as usize], 0, "slot {off} freed with a page in the swap cache");
            self.inuse -= 1;
        }
        Some(left)
    }

    /// The swap cache's page for slot `off`.
    pub fn cached(&self, off: u32) -> Option<u32> {
        self.cache.get(off as usize).and_then(|&p| p.checked_sub(1))
    }

    /// Put `pfn` in the swap cache for slot `off` (in use, nothing cached
    /// there yet: false otherwise).
    pub fn set_cached(&mut self, off: u32, pfn: u32) -> bool {
        if !self.in_use(off) || self.cached(off).is_some() {
            return false;
        }
        self.cache[off as usize] = pfn + 1;
        self.cached += 1;
        true
    }

    /// Take slot `off`'s page out of the swap cache; returns it.
    pub fn clear_cached(&mut self, off: u32) -> Option<u32> {
        let pfn = self.cached(off)?;
        self.cache[off as usize] = 0;
        self.cached -= 1;
        Some(pfn)
    }

    /// The slots in use from `from` on, in order (for `swapoff`).
    pub fn used_from(&self, from: u32) -> impl Iterator<Item = u32> + '_ {
        (from..self.max()).filter(move |&o| self.in_use(o))
    }
}

#[cfg(test)]
mod tests;
