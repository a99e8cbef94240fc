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
//! | owner            | `private`          | `index`                  | `slab_cache` | `lru`            |
//! |------------------|--------------------|--------------------------|--------------|------------------|
//! | buddy (free)     | order of the block | free list's migrate type | -            | free list        |
//! | slab             | -                  | -                        | cache id     | slab list        |
//! | user / page cache| swap entry         | offset in the mapping    | -            | LRU list         |
//!
//! Lists are intrusive and doubly linked, like Linux's `list_head`, but the
//! links are PFNs rather than pointers: a `u32` instead of two pointers keeps
//! the descriptor small, and the same list code then runs on a host `Vec` in
//! `cargo test` and on the kernel's `mem_map` array. A [`List`] head holds
//! the first and last PFN, so insertion at either end and removal of any
//! member are O(1) given the member's PFN.

#![forbid(unsafe_code)]

use bitflags::bitflags;

/// Bits 30..31 of `flags` hold the zone index (see `Page::zone_id`).
pub const ZONE_SHIFT: u32 = 30;

/// The "no page" PFN that ends a list (PFNs on i386 without PAE stop at 2^20).
pub const NIL: u32 = u32::MAX;

bitflags! {
    /// Page flags, after Linux's `PG_*` bits.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct PageFlags: u32 {
        /// Never handed to the page allocator: firmware, kernel image, holes.
        const RESERVED = 1 << 0;
        /// Head of a free block in the buddy allocator; `private` is its order.
        const BUDDY = 1 << 1;
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
    }
}

/// Links of an intrusive list, as PFNs; [`NIL`] when there is no neighbour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListLinks {
    pub prev: u32,
    pub next: u32,
}

impl ListLinks {
    pub const UNLINKED: ListLinks = ListLinks { prev: NIL, next: NIL };
}

/// The descriptor of one 4 KB frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Page {
    pub flags: PageFlags,
    /// Users of the frame (Linux's `_count`); 0 when free.
    pub refcount: i32,
    /// Page-table entries mapping the frame. Linux stores this biased by -1
    /// (`_mapcount`); here 0 simply means "not mapped".
    pub mapcount: i32,
    /// Owner's word: the block order while the frame is free in the buddy.
    pub private: u32,
    /// Links for whichever list the owner keeps the frame on.
    pub lru: ListLinks,
    /// The slab cache that owns the frame, while `SLAB` is set.
    pub slab_cache: u32,
    /// Owner's second word: the free list's migrate type while in the buddy.
    pub index: u32,
}

const _: () = assert!(core::mem::size_of::<Page>() <= 32, "struct page must stay small");

impl Page {
    /// A descriptor owned by nobody, on no list.
    pub const EMPTY: Page = Page {
        flags: PageFlags::empty(),
        refcount: 0,
        mapcount: 0,
        private: 0,
        lru: ListLinks::UNLINKED,
        slab_cache: 0,
        index: 0,
    };

    pub const fn new() -> Page {
        Page::EMPTY
    }

    /// A descriptor for a frame the allocator must never hand out; boot marks
    /// every frame so and then frees the usable ones (as Linux's
    /// `memmap_init_zone` sets `PG_reserved` on all of `mem_map`).
    pub const RESERVED: Page = Page { flags: PageFlags::RESERVED, ..Page::EMPTY };

    pub fn is_reserved(&self) -> bool {
        self.flags.contains(PageFlags::RESERVED)
    }

    #[inline]
    pub fn is_buddy(&self) -> bool {
        self.flags.contains(PageFlags::BUDDY)
    }

    pub fn is_highmem(&self) -> bool {
        self.flags.contains(PageFlags::HIGHMEM)
    }

    pub fn is_slab(&self) -> bool {
        self.flags.contains(PageFlags::SLAB)
    }

    /// The zone of the frame, kept in the top bits of `flags` as Linux's
    /// `page_zonenum()` does, so freeing finds the zone without a search.
    #[inline]
    pub fn zone_id(&self) -> usize {
        (self.flags.bits() >> ZONE_SHIFT) as usize
    }

    pub fn set_zone_id(&mut self, zone: usize) {
        let bits = (self.flags.bits() & !(3 << ZONE_SHIFT)) | ((zone as u32 & 3) << ZONE_SHIFT);
        self.flags = PageFlags::from_bits_retain(bits);
    }

    /// Whether the frame is on some list (a cheap check that catches adding a
    /// page to a second list; a lone member has both links `NIL` too, so lists
    /// also check their own head).
    #[inline]
    pub fn is_linked(&self) -> bool {
        self.lru != ListLinks::UNLINKED
    }

    /// Order of the free block this frame heads (meaningful while `BUDDY`).
    #[inline]
    pub fn order(&self) -> usize {
        self.private as usize
    }

    /// Take a reference (Linux's `get_page`).
    pub fn get(&mut self) {
        debug_assert!(self.refcount > 0, "get on a free page");
        self.refcount += 1;
    }

    /// Drop a reference; true when it was the last one and the frame may be
    /// freed (Linux's `put_page_testzero`).
    pub fn put_testzero(&mut self) -> bool {
        debug_assert!(self.refcount > 0, "put on a free page");
        self.refcount -= 1;
        self.refcount == 0
    }
}

impl Default for Page {
    fn default() -> Page {
        Page::EMPTY
    }
}

/// Head of an intrusive list of pages. It does not own the pages: every
/// operation takes `mem_map`, indexed by PFN, where the links live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct List {
    head: u32,
    tail: u32,
    len: u32,
}

impl List {
    pub const EMPTY: List = List { head: NIL, tail: NIL, len: 0 };

    pub const fn new() -> List {
        List::EMPTY
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head == NIL
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    #[inline]
    pub fn first(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    #[inline]
    pub fn last(&self) -> Option<u32> {
        (self.tail != NIL).then_some(self.tail)
    }

    /// Whether `pfn` is this list's lone member or has neighbours; enough to
    /// catch a double insertion in debug builds.
    fn may_contain(&self, mem_map: &[Page], pfn: u32) -> bool {
        mem_map[pfn as usize].is_linked() || self.head == pfn
    }

    #[inline]
    pub fn push_front(&mut self, mem_map: &mut [Page], pfn: u32) {
        debug_assert!(!self.may_contain(mem_map, pfn), "page {pfn:#x} already on a list");
        let old = self.head;
        mem_map[pfn as usize].lru = ListLinks { prev: NIL, next: old };
        if old == NIL {
            self.tail = pfn;
        } else {
            mem_map[old as usize].lru.prev = pfn;
        }
        self.head = pfn;
        self.len += 1;
    }

    #[inline]
    pub fn push_back(&mut self, mem_map: &mut [Page], pfn: u32) {
        debug_assert!(!self.may_contain(mem_map, pfn), "page {pfn:#x} already on a list");
        let old = self.tail;
        mem_map[pfn as usize].lru = ListLinks { prev: old, next: NIL };
        if old == NIL {
            self.head = pfn;
        } else {
            mem_map[old as usize].lru.next = pfn;
        }
        self.tail = pfn;
        self.len += 1;
    }

    /// Unlink `pfn`, which must be on this list, and leave it unlinked.
    #[inline]
    pub fn remove(&mut self, mem_map: &mut [Page], pfn: u32) {
        let ListLinks { prev, next } = mem_map[pfn as usize].lru;
        debug_assert!(prev != NIL || self.head == pfn, "page {pfn:#x} not on this list");
        debug_assert!(next != NIL || self.tail == pfn, "page {pfn:#x} not on this list");
        if prev == NIL {
            self.head = next;
        } else {
            mem_map[prev as usize].lru.next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            mem_map[next as usize].lru.prev = prev;
        }
        mem_map[pfn as usize].lru = ListLinks::UNLINKED;
        self.len -= 1;
    }

    /// `remove` of the head, which has no `prev` to patch: the page
    /// allocator's pcp and free lists pop on every allocation.
    #[inline]
    pub fn pop_front(&mut self, mem_map: &mut [Page]) -> Option<u32> {
        let pfn = self.first()?;
        let page = &mut mem_map[pfn as usize];
        debug_assert!(page.lru.prev == NIL, "head {pfn:#x} has a prev link");
        let next = page.lru.next;
        page.lru = ListLinks::UNLINKED;
        if next == NIL {
            self.tail = NIL;
        } else {
            mem_map[next as usize].lru.prev = NIL;
        }
        self.head = next;
        self.len -= 1;
        Some(pfn)
    }

    /// LRU reclaim takes the coldest page from the tail.
    #[inline]
    pub fn pop_back(&mut self, mem_map: &mut [Page]) -> Option<u32> {
        let pfn = self.last()?;
        let page = &mut mem_map[pfn as usize];
        debug_assert!(page.lru.next == NIL, "tail {pfn:#x} has a next link");
        let prev = page.lru.prev;
        page.lru = ListLinks::UNLINKED;
        if prev == NIL {
            self.head = NIL;
        } else {
            mem_map[prev as usize].lru.next = NIL;
        }
        self.tail = prev;
        self.len -= 1;
        Some(pfn)
    }

    /// The members from head to tail.
    pub fn iter<'a>(&self, mem_map: &'a [Page]) -> Iter<'a> {
        Iter { mem_map, next: self.head, left: self.len }
    }
}

impl Default for List {
    fn default() -> List {
        List::EMPTY
    }
}

/// Iterator over a [`List`]; stops after `len` members even if the links
/// are corrupt, so a checker walking a broken list cannot loop forever.
pub struct Iter<'a> {
    mem_map: &'a [Page],
    next: u32,
    left: u32,
}

impl Iterator for Iter<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.next == NIL || self.left == 0 {
            return None;
        }
        let pfn = self.next;
        self.next = self.mem_map.get(pfn as usize)?.lru.next;
        self.left -= 1;
        Some(pfn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn descriptor_fits_in_32_bytes() {
        assert_eq!(core::mem::size_of::<Page>(), 32);
    }

    #[test]
    fn push_pop_remove_keep_order() {
        let mut mm = vec![Page::EMPTY; 16];
        let mut l = List::new();
        l.push_back(&mut mm, 3);
        l.push_back(&mut mm, 5);
        l.push_front(&mut mm, 7);
        assert_eq!(l.iter(&mm).collect::<Vec<_>>(), [7, 3, 5]);
        l.remove(&mut mm, 3);
        assert!(!mm[3].is_linked());
        assert_eq!(l.iter(&mm).collect::<Vec<_>>(), [7, 5]);
        assert_eq!(l.pop_back(&mut mm), Some(5));
        assert_eq!(l.pop_front(&mut mm), Some(7));
        assert_eq!(l.pop_front(&mut mm), None);
        assert!(l.is_empty() && l.first().is_none() && l.last().is_none());
        assert!(mm.iter().all(|p| *p == Page::EMPTY), "every page left unlinked");
    }

    #[test]
    fn two_lists_share_one_mem_map() {
        let mut mm = vec![Page::EMPTY; 8];
        let (mut a, mut b) = (List::new(), List::new());
        for pfn in 0..8 {
            if pfn % 2 == 0 {
                a.push_back(&mut mm, pfn)
            } else {
                b.push_front(&mut mm, pfn)
            }
        }
        assert_eq!(a.iter(&mm).collect::<Vec<_>>(), [0, 2, 4, 6]);
        assert_eq!(b.iter(&mm).collect::<Vec<_>>(), [7, 5, 3, 1]);
    }

    #[test]
    fn refcount_helpers() {
        let mut p = Page { refcount: 1, ..Page::EMPTY };
        p.get();
        assert!(!p.put_testzero());
        assert!(p.put_testzero());
        assert!(Page::RESERVED.is_reserved() && !Page::EMPTY.is_reserved());
    }

    proptest! {
        /// The intrusive list behaves like a VecDeque under any operations.
        #[test]
        fn list_matches_a_deque(ops in proptest::collection::vec((0u8..4, 0u32..32), 0..200)) {
            let mut mm = vec![Page::EMPTY; 32];
            let mut l = List::new();
            let mut model = std::collections::VecDeque::new();
            for (op, pfn) in ops {
                match op {
                    0 if !model.contains(&pfn) => { l.push_front(&mut mm, pfn); model.push_front(pfn) }
                    1 if !model.contains(&pfn) => { l.push_back(&mut mm, pfn); model.push_back(pfn) }
                    2 if model.contains(&pfn) => {
                        l.remove(&mut mm, pfn);
                        model.retain(|&x| x != pfn);
                    }
                    3 => prop_assert_eq!(l.pop_front(&mut mm), model.pop_front()),
                    _ => {}
                }
                prop_assert_eq!(l.iter(&mm).collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
                prop_assert_eq!(l.len(), model.len());
                prop_assert_eq!(l.last(), model.back().copied());
            }
        }
    }
}
