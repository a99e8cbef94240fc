//! The page descriptor (Linux's `struct page`): one per 4 KB frame.
//!
//! Every physical frame the kernel knows about has a `Page` in `mem_map`,
//! indexed by its page frame number (PFN), so `mem_map[pfn]` is that frame's
//! descriptor. With 4 GB of RAM that is a million descriptors, which is why
//! Linux fights for every byte of `struct page` and why ours is held to 32
//! bytes (32 MB per 4 GB, under 1% of memory) by a compile-time check.
//!
//! The words mean different things depending on who owns the frame, as in
//! Linux:
//!
//! | owner            | `private`          | `index`                  | `mapping`             | `lru`      |
//! |------------------|--------------------|--------------------------|-----------------------|------------|
//! | buddy (free)     | order of the block | free list's migrate type | -                     | free list  |
//! | slab             | management address | -                        | cache id (Linux: `slab`) | -       |
//! | kmalloc'd block  | order              | -                        | -                     | -          |
//! | user / page cache| swap entry         | offset in the mapping    | `anon_vma`/`address_space` | LRU list |
//!
//! **Atomic state.** Fault and reclaim paths will change a page's count,
//! map count and flags while others look at it, so those are atomics, as
//! Linux's `atomic_t _count`, `_mapcount` and `set_bit`/`test_and_set_bit`
//! on `flags`. That also lets `mem_map` be shared (`&[Page]`) rather than
//! lent out `&mut` under one lock: [`pfn_to_page`] needs no lock at all.
//! Code that owns a page outright (the allocator under its zone's lock, a
//! page just allocated) uses the non-atomic `__set_flag`/`__clear_flag`,
//! as Linux's `__SetPageBuddy`; plain loads and stores of an atomic are as
//! cheap as a normal access on x86.
//!
//! The frames a descriptor's owner keeps on a list are linked through its
//! `lru` words (`mm::list`).

#![forbid(unsafe_code)]

use super::list::{Links, ListLinks};
use bitflags::bitflags;
use core::sync::atomic::Ordering::{AcqRel, Relaxed, Release};
use core::sync::atomic::{AtomicI32, AtomicU32};

/// Bits 30..31 of `flags` hold the zone index (see `Page::zone_id`).
pub const ZONE_SHIFT: u32 = 30;
/// Bits 28..29 hold the node id (`Page::node_id`): 0 on this one-node
/// machine, kept so that `page_to_nid` reads as Linux's does.
pub const NODE_SHIFT: u32 = 28;

/// `_mapcount` of the head of a free block in the buddy allocator (Linux
/// 2.6.38+'s `PAGE_BUDDY_MAPCOUNT_VALUE`; 2.6.24 used a `PG_buddy` flag):
/// one store marks or clears it, where a flag bit needs a read-modify-write
/// of the flags word, and a mapped page can never have this count.
pub const PAGE_BUDDY_MAPCOUNT_VALUE: i32 = -128;

/// `mapping`'s low bit set: the word points at an `anon_vma`, not an
/// `address_space` (Linux's `PAGE_MAPPING_ANON`).
pub const PAGE_MAPPING_ANON: u32 = 1;

bitflags! {
    /// Page flags, after Linux's `PG_*` bits.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct PageFlags: u32 {
        /// Never handed to the page allocator: firmware, kernel image, holes.
        const RESERVED = 1 << 0;
        // Bit 1 was PG_buddy: a free block's head is marked in `_mapcount`
        // instead (see `Page::is_buddy`).
        /// Owned by the slab allocator.
        const SLAB = 1 << 2;
        /// Above the direct map: must be kmapped before the kernel touches it.
        const HIGHMEM = 1 << 3;
        /// On one of the LRU lists.
        const LRU = 1 << 4;
        /// On the active (rather than inactive) LRU list.
        const ACTIVE = 1 << 5;
        /// Recently referenced: second-chance bit for reclaim.
        const REFERENCED = 1 << 6;
        /// Must not be reclaimed (mlocked, ramfs...).
        const UNEVICTABLE = 1 << 7;
        /// Mapped by an `mlock`ed VMA.
        const MLOCKED = 1 << 8;
        /// Contents newer than the backing store: write back before reuse.
        const DIRTY = 1 << 9;
        /// Backed by swap (anonymous memory) rather than a file.
        const SWAPBACKED = 1 << 10;
        /// Being written to swap.
        const WRITEBACK = 1 << 11;
        /// Locked for I/O.
        const LOCKED = 1 << 12;
        /// First page of a compound (multi-page) allocation.
        const HEAD = 1 << 13;
        /// Any other page of a compound allocation.
        const TAIL = 1 << 14;
        /// In the swap cache: `private` holds its swap entry (Linux's
        /// `PG_swapcache`).
        const SWAPCACHE = 1 << 15;
    }
}

/// The descriptor of one 4 KB frame: eight 32-bit words.
#[repr(C)]
pub struct Page {
    /// `PageFlags`, the node id (bits 28..29) and the zone id (30..31).
    flags: AtomicU32,
    /// Users of the frame (Linux's `_count`); 0 when free.
    count: AtomicI32,
    /// Page-table entries mapping the frame, minus one (Linux's
    /// `_mapcount`: -1 means unmapped, so the first mapper sees 0).
    mapcount: AtomicI32,
    /// Owner's word: the block order while the frame is free in the buddy.
    private: AtomicU32,
    /// Links for whichever list the owner keeps the frame on.
    pub lru: Links,
    /// Linux's `mapping`: an `anon_vma` (with [`PAGE_MAPPING_ANON`]) or an
    /// `address_space` for a user page; while `SLAB` is set the same word
    /// names the slab cache (Linux 2.6.24 keeps `slab` in a union with
    /// `mapping`). A kernel pointer is 32 bits on i386.
    mapping: AtomicU32,
    /// Owner's second word: the free list's migrate type while in the
    /// buddy, the offset in the mapping for a user page.
    index: AtomicU32,
}

const _: () = assert!(core::mem::size_of::<Page>() <= 32, "struct page must stay small");

impl Page {
    /// A descriptor owned by nobody, on no list.
    #[allow(clippy::declare_interior_mutable_const)]
    pub const EMPTY: Page = Page::with_flags(PageFlags::empty());

    /// A descriptor for a frame the allocator must never hand out; boot marks
    /// every frame so and then frees the usable ones (as Linux's
    /// `memmap_init_zone` sets `PG_reserved` on all of `mem_map`).
    #[allow(clippy::declare_interior_mutable_const)]
    pub const RESERVED: Page = Page::with_flags(PageFlags::RESERVED);

    const fn with_flags(flags: PageFlags) -> Page {
        Page::with_flags_word(flags.bits())
    }

    /// A descriptor as boot writes it (see `page_alloc::memmap_runs`): the
    /// flags word given (flags, node and zone), the rest unowned and unlinked.
    #[inline(always)]
    pub const fn with_flags_word(word: u32) -> Page {
        Page {
            flags: AtomicU32::new(word),
            count: AtomicI32::new(0),
            mapcount: AtomicI32::new(-1),
            private: AtomicU32::new(0),
            lru: Links::UNLINKED,
            mapping: AtomicU32::new(0),
            index: AtomicU32::new(0),
        }
    }

    pub const fn new() -> Page {
        Page::EMPTY
    }

    #[inline]
    pub fn flags(&self) -> PageFlags {
        PageFlags::from_bits_truncate(self.flags.load(Relaxed))
    }

    /// Linux's `SetPageX`: atomic, safe against others changing other bits.
    #[inline]
    pub fn set_flag(&self, f: PageFlags) {
        self.flags.fetch_or(f.bits(), Relaxed);
    }

    /// Linux's `ClearPageX`.
    #[inline]
    pub fn clear_flag(&self, f: PageFlags) {
        self.flags.fetch_and(!f.bits(), Relaxed);
    }

    /// Linux's `TestSetPageX`: sets the bits; true if any was set already.
    #[inline]
    pub fn test_and_set_flag(&self, f: PageFlags) -> bool {
        self.flags.fetch_or(f.bits(), AcqRel) & f.bits() != 0
    }

    /// Linux's `TestClearPageX`: clears the bits; true if any was set.
    #[inline]
    pub fn test_and_clear_flag(&self, f: PageFlags) -> bool {
        self.flags.fetch_and(!f.bits(), AcqRel) & f.bits() != 0
    }

    /// Linux's `__SetPageX`: not atomic, for a page nobody else can reach
    /// (free in the buddy under its zone's lock, or just allocated).
    #[inline]
    pub fn __set_flag(&self, f: PageFlags) {
        self.flags.store(self.flags.load(Relaxed) | f.bits(), Relaxed);
    }

    /// Linux's `__ClearPageX`; the same rule as [`__set_flag`](Self::__set_flag).
    #[inline]
    pub fn __clear_flag(&self, f: PageFlags) {
        self.flags.store(self.flags.load(Relaxed) & !f.bits(), Relaxed);
    }

    /// The whole flags word: `PageFlags`, node and zone bits (for the free
    /// path, which checks the flags and finds the zone with one load).
    #[inline]
    pub fn flags_word(&self) -> u32 {
        self.flags.load(Relaxed)
    }

    /// Store a whole flags word read by [`flags_word`](Self::flags_word) and
    /// changed: owner-only, the same rule as [`__set_flag`](Self::__set_flag).
    #[inline]
    pub fn __set_flags_word(&self, word: u32) {
        self.flags.store(word, Relaxed)
    }

    pub fn is_reserved(&self) -> bool {
        self.flags().contains(PageFlags::RESERVED)
    }

    /// Head of a free block in the buddy allocator; `private` is its order
    /// (Linux's `PageBuddy`).
    #[inline]
    pub fn is_buddy(&self) -> bool {
        self.mapcount.load(Relaxed) == PAGE_BUDDY_MAPCOUNT_VALUE
    }

    /// Mark the head of a free block (Linux's `__SetPageBuddy`): the
    /// allocator, under the zone's lock, on a page nobody maps.
    #[inline]
    pub fn __set_page_buddy(&self) {
        self.mapcount.store(PAGE_BUDDY_MAPCOUNT_VALUE, Relaxed)
    }

    /// Unmark it (Linux's `__ClearPageBuddy`): back to "unmapped".
    #[inline]
    pub fn __clear_page_buddy(&self) {
        self.mapcount.store(-1, Relaxed)
    }

    pub fn is_highmem(&self) -> bool {
        self.flags().contains(PageFlags::HIGHMEM)
    }

    pub fn is_slab(&self) -> bool {
        self.flags().contains(PageFlags::SLAB)
    }

    /// The zone of the frame, kept in the top bits of `flags` as Linux's
    /// `page_zonenum()` does, so freeing finds the zone without a search.
    #[inline]
    pub fn zone_id(&self) -> usize {
        (self.flags.load(Relaxed) >> ZONE_SHIFT) as usize
    }

    /// The node of the frame (Linux's `page_to_nid`).
    #[inline]
    pub fn node_id(&self) -> usize {
        ((self.flags.load(Relaxed) >> NODE_SHIFT) & 3) as usize
    }

    /// Set the zone and node bits (Linux's `set_page_links`), at boot.
    pub fn set_page_links(&self, zone: usize, node: usize) {
        let keep = self.flags.load(Relaxed) & !(0xf << NODE_SHIFT);
        self.flags.store(keep | ((zone as u32 & 3) << ZONE_SHIFT) | ((node as u32 & 3) << NODE_SHIFT), Relaxed);
    }

    pub fn set_zone_id(&self, zone: usize) {
        self.set_page_links(zone, self.node_id());
    }

    /// Whether the frame is on some list (a cheap check that catches adding a
    /// page to a second list; a lone member has both links `NIL` too, so lists
    /// also check their own head).
    #[inline]
    pub fn is_linked(&self) -> bool {
        self.lru.get() != ListLinks::UNLINKED
    }

    /// Order of the free block this frame heads (meaningful while `BUDDY`).
    #[inline]
    pub fn order(&self) -> usize {
        self.private() as usize
    }

    #[inline]
    pub fn private(&self) -> u32 {
        self.private.load(Relaxed)
    }

    #[inline]
    pub fn set_private(&self, v: u32) {
        self.private.store(v, Relaxed)
    }

    #[inline]
    pub fn index(&self) -> u32 {
        self.index.load(Relaxed)
    }

    #[inline]
    pub fn set_index(&self, v: u32) {
        self.index.store(v, Relaxed)
    }

    /// The `mapping` word (see the field).
    #[inline]
    pub fn mapping(&self) -> u32 {
        self.mapping.load(Relaxed)
    }

    #[inline]
    pub fn set_mapping(&self, v: u32) {
        self.mapping.store(v, Release)
    }

    /// Linux's `PageAnon`: `mapping` points at an `anon_vma`.
    pub fn is_anon(&self) -> bool {
        !self.is_slab() && self.mapping() & PAGE_MAPPING_ANON != 0
    }

    /// The slab cache id, stored in `mapping` while `SLAB` is set.
    #[inline]
    pub fn slab_cache(&self) -> u32 {
        self.mapping()
    }

    /// Linux's `page_count`.
    #[inline]
    pub fn page_count(&self) -> i32 {
        self.count.load(Relaxed)
    }

    /// Linux's `set_page_count`: for the allocator, which owns the page.
    #[inline]
    pub fn set_page_count(&self, v: i32) {
        self.count.store(v, Relaxed)
    }

    /// Take a reference (Linux's `get_page`).
    pub fn get(&self) {
        let old = self.count.fetch_add(1, Relaxed);
        debug_assert!(old > 0, "get on a free page");
    }

    /// Take a reference unless the count is already 0, the page on its way
    /// to the allocator (Linux's `get_page_unless_zero`, which reclaim
    /// uses to isolate a page it found on an LRU list).
    pub fn get_unless_zero(&self) -> bool {
        self.count.fetch_update(AcqRel, Relaxed, |c| (c > 0).then_some(c + 1)).is_ok()
    }

    /// Drop a reference; true when it was the last one and the frame may be
    /// freed (Linux's `put_page_testzero`).
    pub fn put_testzero(&self) -> bool {
        let old = self.count.fetch_sub(1, AcqRel);
        debug_assert!(old > 0, "put on a free page");
        old == 1
    }

    /// Page-table entries mapping the frame (Linux's `page_mapcount`).
    #[inline]
    pub fn page_mapcount(&self) -> i32 {
        self.mapcount.load(Relaxed) + 1
    }

    /// One more mapping; true for the first (Linux's
    /// `atomic_inc_and_test(&page->_mapcount)` in `page_add_*_rmap`).
    pub fn inc_mapcount(&self) -> bool {
        self.mapcount.fetch_add(1, AcqRel) == -1
    }

    /// One mapping fewer; true for the last (Linux's
    /// `atomic_add_negative(-1, &page->_mapcount)` in `page_remove_rmap`).
    pub fn dec_mapcount(&self) -> bool {
        self.mapcount.fetch_sub(1, AcqRel) == 0
    }

    /// Reset to "unmapped" (Linux's `reset_page_mapcount`).
    pub fn reset_mapcount(&self) {
        self.mapcount.store(-1, Relaxed)
    }

    /// A plain copy of every word, for reports, tests and comparisons.
    pub fn snapshot(&self) -> PageSnapshot {
        PageSnapshot {
            flags: self.flags(),
            zone: self.zone_id(),
            count: self.page_count(),
            mapcount: self.page_mapcount(),
            private: self.private(),
            lru: self.lru.get(),
            mapping: self.mapping(),
            index: self.index(),
        }
    }
}

/// The words of a [`Page`] read at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageSnapshot {
    pub flags: PageFlags,
    pub zone: usize,
    pub count: i32,
    pub mapcount: i32,
    pub private: u32,
    pub lru: ListLinks,
    pub mapping: u32,
    pub index: u32,
}

impl Clone for Page {
    fn clone(&self) -> Page {
        Page {
            flags: AtomicU32::new(self.flags.load(Relaxed)),
            count: AtomicI32::new(self.page_count()),
            mapcount: AtomicI32::new(self.mapcount.load(Relaxed)),
            private: AtomicU32::new(self.private()),
            lru: Links::new(self.lru.get()),
            mapping: AtomicU32::new(self.mapping()),
            index: AtomicU32::new(self.index()),
        }
    }
}

impl PartialEq for Page {
    fn eq(&self, other: &Page) -> bool {
        self.snapshot() == other.snapshot()
    }
}

impl core::fmt::Debug for Page {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.snapshot().fmt(f)
    }
}

impl Default for Page {
    fn default() -> Page {
        Page::EMPTY
    }
}

#[cfg(test)]
mod tests;
