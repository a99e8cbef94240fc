//! Intrusive doubly linked lists of pages, like Linux's `list_head`
//! (include/linux/list.h), but the links are PFNs rather than pointers: a
//! `u32` instead of two pointers keeps the descriptor small, and the same
//! list code then runs on a host `Vec` in `cargo test` and on the kernel's
//! `mem_map` array. A [`List`] head holds the first and last PFN, so
//! insertion at either end and removal of any member are O(1) given the
//! member's PFN. The links live in each descriptor's `lru` words.

#![forbid(unsafe_code)]

use super::page::Page;
use core::sync::atomic::AtomicU32;
use core::sync::atomic::Ordering::Relaxed;

/// The "no page" PFN that ends a list (PFNs on i386 without PAE stop at 2^20).
pub const NIL: u32 = u32::MAX;

/// Links of an intrusive list, as PFNs; [`NIL`] when there is no neighbour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListLinks {
    pub prev: u32,
    pub next: u32,
}

impl ListLinks {
    pub const UNLINKED: ListLinks = ListLinks { prev: NIL, next: NIL };
}

/// The link words of a descriptor (Linux's `page->lru`). Written by the
/// list's owner under its lock; atomics only so that `mem_map` can be shared.
#[repr(C)]
pub struct Links {
    prev: AtomicU32,
    next: AtomicU32,
}

impl Links {
    #[allow(clippy::declare_interior_mutable_const)]
    pub const UNLINKED: Links = Links::new(ListLinks::UNLINKED);

    pub const fn new(l: ListLinks) -> Links {
        Links { prev: AtomicU32::new(l.prev), next: AtomicU32::new(l.next) }
    }

    #[inline]
    pub fn get(&self) -> ListLinks {
        ListLinks { prev: self.prev.load(Relaxed), next: self.next.load(Relaxed) }
    }
    #[inline]
    pub fn set(&self, l: ListLinks) {
        self.prev.store(l.prev, Relaxed);
        self.next.store(l.next, Relaxed);
    }
    #[inline]
    pub fn prev(&self) -> u32 {
        self.prev.load(Relaxed)
    }
    #[inline]
    pub fn next(&self) -> u32 {
        self.next.load(Relaxed)
    }
    #[inline]
    fn set_prev(&self, pfn: u32) {
        self.prev.store(pfn, Relaxed)
    }
    #[inline]
    fn set_next(&self, pfn: u32) {
        self.next.store(pfn, Relaxed)
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
    pub fn push_front(&mut self, mem_map: &[Page], pfn: u32) {
        debug_assert!(!self.may_contain(mem_map, pfn), "page {pfn:#x} already on a list");
        let old = self.head;
        mem_map[pfn as usize].lru.set(ListLinks { prev: NIL, next: old });
        if old == NIL {
            self.tail = pfn;
        } else {
            mem_map[old as usize].lru.set_prev(pfn);
        }
        self.head = pfn;
        self.len += 1;
    }

    #[inline]
    pub fn push_back(&mut self, mem_map: &[Page], pfn: u32) {
        debug_assert!(!self.may_contain(mem_map, pfn), "page {pfn:#x} already on a list");
        let old = self.tail;
        mem_map[pfn as usize].lru.set(ListLinks { prev: old, next: NIL });
        if old == NIL {
            self.head = pfn;
        } else {
            mem_map[old as usize].lru.set_next(pfn);
        }
        self.tail = pfn;
        self.len += 1;
    }

    /// Unlink `pfn`, which must be on this list, and leave it unlinked
    /// (Linux's `list_del_init`: `__list_del` patches the neighbours' links,
    /// then the entry's own are reset).
    #[inline]
    pub fn remove(&mut self, mem_map: &[Page], pfn: u32) {
        let ListLinks { prev, next } = mem_map[pfn as usize].lru.get();
        debug_assert!(prev != NIL || self.head == pfn, "page {pfn:#x} not on this list");
        debug_assert!(next != NIL || self.tail == pfn, "page {pfn:#x} not on this list");
        if prev == NIL && next == NIL {
            // The only member, as a free block often is on its list (the
            // buddy allocator's merges): no neighbour to patch, and the
            // page's links are already `UNLINKED`, so nothing is stored in
            // its descriptor.
            debug_assert_eq!(self.len, 1, "list of one page with len {}", self.len);
            *self = List { head: NIL, tail: NIL, len: 0 };
            return;
        }
        // `__list_del`: the neighbours (or the list's ends) skip the page.
        if prev == NIL {
            self.head = next;
        } else {
            mem_map[prev as usize].lru.set_next(next);
        }
        if next == NIL {
            self.tail = prev;
        } else {
            mem_map[next as usize].lru.set_prev(prev);
        }
        mem_map[pfn as usize].lru.set(ListLinks::UNLINKED);
        self.len -= 1;
    }

    /// `remove` of the head, which has no `prev` to patch: the page
    /// allocator's pcp and free lists pop on every allocation.
    #[inline]
    pub fn pop_front(&mut self, mem_map: &[Page]) -> Option<u32> {
        let pfn = self.first()?;
        let page = &mem_map[pfn as usize];
        debug_assert!(page.lru.prev() == NIL, "head {pfn:#x} has a prev link");
        let next = page.lru.next();
        page.lru.set(ListLinks::UNLINKED);
        if next == NIL {
            self.tail = NIL;
        } else {
            mem_map[next as usize].lru.set_prev(NIL);
        }
        self.head = next;
        self.len -= 1;
        Some(pfn)
    }

    /// LRU reclaim takes the coldest page from the tail.
    #[inline]
    pub fn pop_back(&mut self, mem_map: &[Page]) -> Option<u32> {
        let pfn = self.last()?;
        let page = &mem_map[pfn as usize];
        debug_assert!(page.lru.next() == NIL, "tail {pfn:#x} has a next link");
        let prev = page.lru.prev();
        page.lru.set(ListLinks::UNLINKED);
        if prev == NIL {
            self.head = NIL;
        } else {
            mem_map[prev as usize].lru.set_next(NIL);
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
        self.next = self.mem_map.get(pfn as usize)?.lru.next();
        self.left -= 1;
        Some(pfn)
    }
}
