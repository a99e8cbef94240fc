//! The vmalloc address space (Linux's mm/vmalloc.c): virtually contiguous
//! kernel memory made of frames from anywhere (highmem included), mapped
//! between `VMALLOC_START` and `VMALLOC_END`.
//!
//! This file keeps the areas: where each one starts, how big it is (one
//! unmapped guard page included, so running off the end faults), which
//! frames back it, and who asked for it. The records live in kmalloc'd
//! memory (a `BTreeMap` keyed by address), as Linux keeps its `vm_struct`s
//! in slab memory. Finding room is first fit in address order.
//!
//! The kernel side (`vmalloc`, `vfree`, `vmap`, the lazy page-directory sync
//! on a fault) is in `kernel_side` below; the bookkeeping is pure and tested
//! on the host.

use crate::layout::PAGE_SIZE;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmKind {
    /// Pages allocated by vmalloc, freed by vfree.
    Vmalloc,
    /// Pages the caller owns, only mapped here (`vmap`).
    Vmap,
}

/// One area (Linux's `struct vm_struct`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmArea {
    pub addr: usize,
    /// Bytes reserved, guard page included.
    pub size: usize,
    pub kind: VmKind,
    /// Return address of the caller, for `/proc/vmallocinfo`.
    pub caller: usize,
    /// The frames mapped, in order.
    pub pages: Vec<u32>,
}

impl VmArea {
    /// Bytes usable (without the guard page).
    pub fn usable(&self) -> usize {
        self.size - PAGE_SIZE
    }

    pub fn guard_page(&self) -> usize {
        self.addr + self.size - PAGE_SIZE
    }
}

pub struct VmapAreas {
    start: usize,
    end: usize,
    areas: BTreeMap<usize, VmArea>,
}

/// Where an address falls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    Mapped(&'a VmArea),
    Guard(&'a VmArea),
    Unallocated,
    Outside,
}

impl VmapAreas {
    pub const fn new(start: usize, end: usize) -> VmapAreas {
        VmapAreas { start, end, areas: BTreeMap::new() }
    }

    pub fn range(&self) -> (usize, usize) {
        (self.start, self.end)
    }

    /// Reserve room for `pages` pages plus a guard page: first fit.
    pub fn reserve(&mut self, pages: usize, kind: VmKind, caller: usize) -> Option<usize> {
        let size = pages.checked_add(1)?.checked_mul(PAGE_SIZE)?;
        let mut candidate = self.start;
        for a in self.areas.values() {
            if a.addr >= candidate + size {
                break;
            }
            candidate = candidate.max(a.addr + a.size);
        }
        if candidate.checked_add(size)? > self.end {
            return None;
        }
        self.areas.insert(candidate, VmArea { addr: candidate, size, kind, caller, pages: Vec::with_capacity(pages) });
        Some(candidate)
    }

    pub fn get_mut(&mut self, addr: usize) -> Option<&mut VmArea> {
        self.areas.get_mut(&addr)
    }

    /// Remove the area that starts exactly at `addr`.
    pub fn remove(&mut self, addr: usize) -> Option<VmArea> {
        self.areas.remove(&addr)
    }

    /// What `addr` is: in an area's pages, its guard page, a hole, or
    /// outside the vmalloc range altogether.
    pub fn lookup(&self, addr: usize) -> Lookup<'_> {
        if addr < self.start || addr >= self.end {
            return Lookup::Outside;
        }
        match self.areas.range(..=addr).next_back() {
            Some((_, a)) if addr < a.guard_page() => Lookup::Mapped(a),
            Some((_, a)) if addr < a.addr + a.size => Lookup::Guard(a),
            _ => Lookup::Unallocated,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &VmArea> {
        self.areas.values()
    }

    /// Bytes mapped by areas (`VmallocUsed`).
    pub fn used(&self) -> usize {
        self.areas.values().map(|a| a.pages.len() * PAGE_SIZE).sum()
    }

    /// The largest free gap (`VmallocChunk`).
    pub fn largest_free(&self) -> usize {
        let mut prev = self.start;
        let mut best = 0;
        for a in self.areas.values() {
            best = best.max(a.addr - prev);
            prev = a.addr + a.size;
        }
        best.max(self.end - prev)
    }
}

/// One line of `/proc/vmallocinfo`:
/// `0xf7405000-0xf7407000    8192 caller+0x2b/0x1b0 pages=1 vmalloc`.
pub fn vmallocinfo_line(out: &mut impl fmt::Write, a: &VmArea, caller: impl fmt::Display) -> fmt::Result {
    write!(out, "{:#010x}-{:#010x} {:>7} {}", a.addr, a.addr + a.size, a.size, caller)?;
    if !a.pages.is_empty() {
        write!(out, " pages={}", a.pages.len())?;
    }
    writeln!(
        out,
        " {}",
        match a.kind {
            VmKind::Vmalloc => "vmalloc",
            VmKind::Vmap => "vmap",
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: usize = 0xf880_0000;
    const E: usize = 0xff7f_e000;

    #[test]
    fn first_fit_with_guard_pages() {
        let mut v = VmapAreas::new(S, E);
        let a = v.reserve(1, VmKind::Vmalloc, 1).unwrap();
        let b = v.reserve(4, VmKind::Vmalloc, 2).unwrap();
        assert_eq!(a, S);
        assert_eq!(b, S + 2 * PAGE_SIZE, "one page plus its guard page");
        v.remove(a).unwrap();
        // A one-page hole (plus guard) is reused first.
        assert_eq!(v.reserve(1, VmKind::Vmap, 3), Some(S));
        assert_eq!(v.reserve(2, VmKind::Vmap, 3), Some(b + 5 * PAGE_SIZE));
    }

    #[test]
    fn lookup_names_guard_and_holes() {
        let mut v = VmapAreas::new(S, E);
        let a = v.reserve(2, VmKind::Vmalloc, 1).unwrap();
        assert!(matches!(v.lookup(a), Lookup::Mapped(_)));
        assert!(matches!(v.lookup(a + 2 * PAGE_SIZE - 1), Lookup::Mapped(_)));
        assert!(matches!(v.lookup(a + 2 * PAGE_SIZE), Lookup::Guard(_)));
        assert_eq!(v.lookup(a + 3 * PAGE_SIZE), Lookup::Unallocated);
        assert_eq!(v.lookup(S - 1), Lookup::Outside);
        assert_eq!(v.lookup(E), Lookup::Outside);
    }

    #[test]
    fn exhaustion_and_sizes() {
        let mut v = VmapAreas::new(S, S + 10 * PAGE_SIZE);
        assert!(v.reserve(10, VmKind::Vmalloc, 0).is_none(), "no room for the guard page");
        let a = v.reserve(9, VmKind::Vmalloc, 0).unwrap();
        assert_eq!(v.largest_free(), 0);
        v.remove(a);
        assert_eq!(v.largest_free(), 10 * PAGE_SIZE);
        assert!(v.reserve(usize::MAX / PAGE_SIZE, VmKind::Vmalloc, 0).is_none());
    }

    #[test]
    fn vmallocinfo_format() {
        let mut v = VmapAreas::new(0xf7405000, E);
        let a = v.reserve(1, VmKind::Vmalloc, 0).unwrap();
        v.get_mut(a).unwrap().pages.push(0x1234);
        let mut s = String::new();
        vmallocinfo_line(&mut s, v.iter().next().unwrap(), "bpf_prog_alloc_no_stats+0x2b/0x1b0").unwrap();
        assert_eq!(s, "0xf7405000-0xf7407000    8192 bpf_prog_alloc_no_stats+0x2b/0x1b0 pages=1 vmalloc\n");
    }

    proptest::proptest! {
        #[test]
        fn areas_never_overlap(ops in proptest::collection::vec((1usize..40, proptest::bool::ANY), 1..200)) {
            let mut v = VmapAreas::new(S, S + 512 * PAGE_SIZE);
            let mut live: Vec<usize> = Vec::new();
            for (n, free) in ops {
                if free && !live.is_empty() {
                    let a = live.swap_remove(n % live.len());
                    proptest::prop_assert!(v.remove(a).is_some());
                } else if let Some(a) = v.reserve(n, VmKind::Vmalloc, 0) {
                    live.push(a);
                }
                let mut prev_end = S;
                for a in v.iter() {
                    proptest::prop_assert!(a.addr >= prev_end && a.addr + a.size <= S + 512 * PAGE_SIZE);
                    prev_end = a.addr + a.size;
                }
            }
        }
    }
}
