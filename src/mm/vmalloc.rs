//! The vmalloc address space (Linux's mm/vmalloc.c): virtually contiguous
//! kernel memory made of frames from anywhere (highmem included), mapped
//! between `VMALLOC_START` and `VMALLOC_END`.
//!
//! This file keeps the areas: where each one starts, how big it is (one
//! unmapped guard page included, so running off the end faults), which
//! frames back it, and who asked for it. The records are a vector sorted
//! by address in kmalloc'd memory, as Linux 2.6.24 keeps its `vm_struct`s
//! in a sorted list (`vmlist`). Finding room is first fit in address order.
//! The lock over them disables preemption (Linux's `vmlist_lock`), so
//! nothing under it may sleep: the vector grows outside the lock
//! ([`VmapAreas::has_room`], [`VmapAreas::grow`]), as Linux kmallocs a
//! `vm_struct` before taking `vmlist_lock`.
//!
//! The kernel side (`vmalloc`, `vfree`, `vmap`, the lazy page-directory sync
//! on a fault) is in `kernel_side` below; the bookkeeping is pure and tested
//! on the host.

use crate::layout::PAGE_SIZE;
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

/// What `/proc/vmallocinfo` shows of an area (its page list left out: a
/// copy that needs no allocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmAreaInfo {
    pub addr: usize,
    pub size: usize,
    pub kind: VmKind,
    pub caller: usize,
    pub nr_pages: usize,
}

impl VmArea {
    pub fn info(&self) -> VmAreaInfo {
        VmAreaInfo {
            addr: self.addr,
            size: self.size,
            kind: self.kind,
            caller: self.caller,
            nr_pages: self.pages.len(),
        }
    }

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
    /// Sorted by address; areas never overlap.
    areas: Vec<VmArea>,
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
        VmapAreas { start, end, areas: Vec::new() }
    }

    /// Whether one more record fits without allocating.
    pub fn has_room(&self) -> bool {
        self.areas.len() < self.areas.capacity()
    }

    /// Move the records into `bigger` (allocated by the caller, outside the
    /// lock) if it holds more than they do; returns the vector no longer
    /// used, for the caller to drop outside the lock.
    pub fn grow(&mut self, mut bigger: Vec<VmArea>) -> Vec<VmArea> {
        if bigger.capacity() <= self.areas.len() || !bigger.is_empty() {
            return bigger;
        }
        bigger.append(&mut self.areas);
        core::mem::replace(&mut self.areas, bigger)
    }

    /// Records the vector can hold now (for growing it).
    pub fn capacity(&self) -> usize {
        self.areas.capacity()
    }

    /// Index of the area starting at `addr`, or where it would go.
    fn index_of(&self, addr: usize) -> Result<usize, usize> {
        self.areas.binary_search_by_key(&addr, |a| a.addr)
    }

    /// The area that starts exactly at `addr`.
    pub fn get(&self, addr: usize) -> Option<&VmArea> {
        self.index_of(addr).ok().map(|i| &self.areas[i])
    }

    pub fn range(&self) -> (usize, usize) {
        (self.start, self.end)
    }

    /// Reserve room for `pages` pages plus a guard page: first fit.
    pub fn reserve(&mut self, pages: usize, kind: VmKind, caller: usize) -> Option<usize> {
        self.reserve_checked(pages, kind, caller).ok()
    }

    /// `reserve`, saying why it failed (Linux's `__get_vm_area_node`): the
    /// request is bigger than the whole area, or no gap is big enough.
    /// Nothing else is taken first, so a request that cannot fit costs
    /// nothing.
    pub fn reserve_checked(&mut self, pages: usize, kind: VmKind, caller: usize) -> Result<usize, VmallocError> {
        // The first-fit walk already knows the record's place: no second
        // search to insert it.
        let (i, addr, size) = self.room_at(pages)?;
        self.areas.insert(i, VmArea { addr, size, kind, caller, pages: Vec::new() });
        Ok(addr)
    }

    /// Where `pages` pages plus a guard page fit, or why they do not.
    pub fn room_for(&self, pages: usize) -> Result<(usize, usize), VmallocError> {
        self.room_at(pages).map(|(_, addr, size)| (addr, size))
    }

    /// `room_for`, with the index the record would take in `areas`.
    fn room_at(&self, pages: usize) -> Result<(usize, usize, usize), VmallocError> {
        let area = self.end - self.start;
        let requested = pages.saturating_mul(PAGE_SIZE);
        match pages.checked_add(1).and_then(|n| n.checked_mul(PAGE_SIZE)) {
            Some(size) if size <= area => {}
            _ => return Err(VmallocError::TooBig { size: requested, area }),
        }
        self.find_room_at(pages).ok_or(VmallocError::NoSpace { size: requested, largest_free: self.largest_free() })
    }

    /// Where `pages` pages plus a guard page fit (first fit), and the size
    /// to record; nothing is reserved yet. A caller that holds the lock
    /// from here to [`insert`](Self::insert) records the area in one step
    /// with its pages, instead of reserving and then updating it.
    pub fn find_room(&self, pages: usize) -> Option<(usize, usize)> {
        self.find_room_at(pages).map(|(_, addr, size)| (addr, size))
    }

    /// `find_room`, with the index the record would take in `areas` (the
    /// first area past the room, or the end).
    fn find_room_at(&self, pages: usize) -> Option<(usize, usize, usize)> {
        let size = pages.checked_add(1)?.checked_mul(PAGE_SIZE)?;
        let mut candidate = self.start;
        let mut index = self.areas.len();
        for (i, a) in self.areas.iter().enumerate() {
            if a.addr >= candidate + size {
                index = i;
                break;
            }
            candidate = candidate.max(a.addr + a.size);
        }
        if candidate.checked_add(size)? > self.end {
            return None;
        }
        Some((index, candidate, size))
    }

    /// Record an area at the room `find_room` gave (the lock held since).
    /// Without allocating when [`has_room`](Self::has_room) said so.
    pub fn insert(&mut self, area: VmArea) {
        match self.index_of(area.addr) {
            Ok(_) => debug_assert!(false, "vmalloc area recorded twice"),
            Err(i) => self.areas.insert(i, area),
        }
    }

    /// Remove the area that starts exactly at `addr` if it is of `kind`
    /// (one search): `Err(Some(other kind))` or `Err(None)` when there is
    /// no such area.
    pub fn remove_kind(&mut self, addr: usize, kind: VmKind) -> Result<VmArea, Option<VmKind>> {
        match self.index_of(addr) {
            Ok(i) if self.areas[i].kind == kind => Ok(self.areas.remove(i)),
            Ok(i) => Err(Some(self.areas[i].kind)),
            Err(_) => Err(None),
        }
    }

    /// vfree's removal, in one search: the vmalloc area that starts at
    /// `addr` and has its frames; `Err(Some(kind))` for another kind of
    /// area, `Err(None)` for no area there or one reserved whose frames are
    /// not there yet (not vmalloc's answer yet).
    pub fn remove_vmalloc(&mut self, addr: usize) -> Result<VmArea, Option<VmKind>> {
        match self.index_of(addr) {
            Ok(i) => match &self.areas[i] {
                a if a.kind != VmKind::Vmalloc => Err(Some(a.kind)),
                a if a.pages.is_empty() => Err(None),
                _ => Ok(self.areas.remove(i)),
            },
            Err(_) => Err(None),
        }
    }

    pub fn get_mut(&mut self, addr: usize) -> Option<&mut VmArea> {
        self.index_of(addr).ok().map(|i| &mut self.areas[i])
    }

    /// Remove the area that starts exactly at `addr`.
    pub fn remove(&mut self, addr: usize) -> Option<VmArea> {
        self.index_of(addr).ok().map(|i| self.areas.remove(i))
    }

    /// What `addr` is: in an area's pages, its guard page, a hole, or
    /// outside the vmalloc range altogether.
    pub fn lookup(&self, addr: usize) -> Lookup<'_> {
        if addr < self.start || addr >= self.end {
            return Lookup::Outside;
        }
        // The last area starting at or below addr.
        let below = self.areas.partition_point(|a| a.addr <= addr);
        match below.checked_sub(1).map(|i| &self.areas[i]) {
            Some(a) if addr < a.guard_page() => Lookup::Mapped(a),
            Some(a) if addr < a.addr + a.size => Lookup::Guard(a),
            _ => Lookup::Unallocated,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &VmArea> {
        self.areas.iter()
    }

    /// Bytes mapped by areas (`VmallocUsed`).
    pub fn used(&self) -> usize {
        self.areas.iter().map(|a| a.pages.len() * PAGE_SIZE).sum()
    }

    /// The largest free gap (`VmallocChunk`).
    pub fn largest_free(&self) -> usize {
        let mut prev = self.start;
        let mut best = 0;
        for a in self.areas.iter() {
            best = best.max(a.addr - prev);
            prev = a.addr + a.size;
        }
        best.max(self.end - prev)
    }
}

/// Why `vmalloc` gave no memory. Nothing is left allocated when it fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmallocError {
    /// `vmalloc(0)`.
    ZeroSize,
    /// `size` bytes (plus the guard page) are more than the whole vmalloc
    /// area of `area` bytes: no amount of freeing would make room.
    TooBig { size: usize, area: usize },
    /// The area has no gap for `size` bytes plus a guard page (full, or
    /// fragmented): its largest gap is `largest_free` bytes.
    NoSpace { size: usize, largest_free: usize },
    /// Address space was found, but not memory: `got` of the `pages`
    /// frames, the array that lists them, or a page table (`what`).
    NoMemory { size: usize, what: &'static str, got: usize, pages: usize },
}

impl fmt::Display for VmallocError {
    /// Short enough for one shell line (the shell's buffer is 160 bytes).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VmallocError::ZeroSize => f.write_str("size 0: nothing to allocate"),
            VmallocError::TooBig { size, area } => write!(
                f,
                "too big: {} bytes ({}K) and a guard page exceed the whole vmalloc area of {} bytes ({}K)",
                size,
                size / 1024,
                area,
                area / 1024
            ),
            VmallocError::NoSpace { size, largest_free } => write!(
                f,
                "no room: the vmalloc area is full or fragmented (largest gap {}K) for {}K and a guard page",
                largest_free / 1024,
                size / 1024
            ),
            VmallocError::NoMemory { size, what, got, pages } => {
                write!(
                    f,
                    "out of memory: no {} (got {} of {} pages) for {}K; all given back",
                    what,
                    got,
                    pages,
                    size / 1024
                )
            }
        }
    }
}

/// One line of `/proc/vmallocinfo`:
/// `0xf7405000-0xf7407000    8192 caller+0x2b/0x1b0 pages=1 vmalloc`.
pub fn vmallocinfo_line(out: &mut impl fmt::Write, a: &VmAreaInfo, caller: impl fmt::Display) -> fmt::Result {
    write!(out, "{:#010x}-{:#010x} {:>7} {}", a.addr, a.addr + a.size, a.size, caller)?;
    if a.kind == VmKind::Vmalloc {
        write!(out, " pages={}", a.nr_pages)?;
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
    fn too_big_and_full_are_told_apart_before_anything_is_taken() {
        let mut v = VmapAreas::new(S, S + 10 * PAGE_SIZE);
        let area = 10 * PAGE_SIZE;
        assert_eq!(
            v.reserve_checked(10, VmKind::Vmalloc, 0),
            Err(VmallocError::TooBig { size: 10 * PAGE_SIZE, area }),
            "10 pages and a guard page exceed 10 pages of area"
        );
        assert_eq!(
            v.reserve_checked(usize::MAX, VmKind::Vmalloc, 0),
            Err(VmallocError::TooBig { size: usize::MAX, area })
        );
        assert_eq!(v.iter().count(), 0, "a refused request records nothing");
        let a = v.reserve_checked(4, VmKind::Vmalloc, 0).unwrap();
        let _b = v.reserve_checked(3, VmKind::Vmalloc, 0).unwrap();
        // 5 + 4 pages taken, one page left: fits as a size, not as a gap.
        assert_eq!(
            v.reserve_checked(2, VmKind::Vmalloc, 0),
            Err(VmallocError::NoSpace { size: 2 * PAGE_SIZE, largest_free: PAGE_SIZE })
        );
        v.remove(a);
        assert_eq!(v.reserve_checked(2, VmKind::Vmalloc, 0), Ok(S));
        let msg = VmallocError::TooBig { size: 200 << 20, area: 111 << 20 }.to_string();
        assert!(msg.starts_with("too big: 209715200 bytes (204800K)"), "{msg}");
        assert!(msg.contains("area of 116391936 bytes (113664K)") && msg.len() < 140, "{msg}");
        let msg = VmallocError::NoSpace { size: 4 << 20, largest_free: 8192 }.to_string();
        assert!(msg.contains("full or fragmented (largest gap 8K) for 4096K"), "{msg}");
    }

    #[test]
    fn find_room_then_insert_is_reserve() {
        let mut v = VmapAreas::new(S, E);
        let a = v.reserve(1, VmKind::Vmalloc, 1).unwrap();
        let (b, size) = v.find_room(3).unwrap();
        assert_eq!((b, size), (a + 2 * PAGE_SIZE, 4 * PAGE_SIZE));
        assert_eq!(v.find_room(3), Some((b, size)), "find_room reserves nothing");
        v.insert(VmArea { addr: b, size, kind: VmKind::Vmap, caller: 2, pages: vec![7, 8, 9] });
        assert_eq!(v.reserve(1, VmKind::Vmalloc, 3), Some(b + size));
        assert_eq!(v.remove_kind(b, VmKind::Vmalloc), Err(Some(VmKind::Vmap)), "wrong kind: kept");
        assert_eq!(v.remove_kind(b + 1, VmKind::Vmap), Err(None));
        assert_eq!(v.remove_kind(b, VmKind::Vmap).unwrap().pages, vec![7, 8, 9]);
        assert_eq!(v.lookup(b), Lookup::Unallocated);
    }

    #[test]
    fn reserve_into_a_hole_keeps_the_records_sorted_and_vfree_removes_only_a_filled_vmalloc_area() {
        let mut v = VmapAreas::new(S, E);
        let a = v.reserve(1, VmKind::Vmalloc, 1).unwrap();
        let b = v.reserve(1, VmKind::Vmap, 2).unwrap();
        let c = v.reserve(1, VmKind::Vmalloc, 3).unwrap();
        v.remove(b);
        // First fit: the hole between a and c, recorded between them.
        assert_eq!(v.reserve(1, VmKind::Vmalloc, 4), Some(b));
        let addrs: Vec<usize> = v.iter().map(|r| r.addr).collect();
        assert_eq!(addrs, vec![a, b, c]);
        assert_eq!(v.get(b).map(|r| r.caller), Some(4), "the record found at its address");
        // Reserved but without frames yet: not vmalloc's answer, kept.
        assert_eq!(v.remove_vmalloc(b).map(|r| r.addr), Err(None));
        v.get_mut(b).unwrap().pages.push(5);
        let m = v.reserve(1, VmKind::Vmap, 5).unwrap();
        v.get_mut(m).unwrap().pages.push(6);
        assert_eq!(v.remove_vmalloc(m).map(|r| r.addr), Err(Some(VmKind::Vmap)), "a vmap area: kept");
        assert_eq!(v.remove_vmalloc(b + 1).map(|r| r.addr), Err(None));
        assert_eq!(v.remove_vmalloc(b).map(|r| r.pages), Ok(vec![5]));
        assert!(v.get(b).is_none() && v.get(m).is_some());
    }

    #[test]
    fn vmallocinfo_format() {
        let mut v = VmapAreas::new(0xf7405000, E);
        let a = v.reserve(1, VmKind::Vmalloc, 0).unwrap();
        v.get_mut(a).unwrap().pages.push(0x1234);
        let mut s = String::new();
        vmallocinfo_line(&mut s, &v.iter().next().unwrap().info(), "bpf_prog_alloc_no_stats+0x2b/0x1b0").unwrap();
        assert_eq!(s, "0xf7405000-0xf7407000    8192 bpf_prog_alloc_no_stats+0x2b/0x1b0 pages=1 vmalloc\n");
    }

    #[test]
    fn records_grow_outside_the_lock_and_insert_without_allocating() {
        let mut v = VmapAreas::new(S, E);
        assert!(!v.has_room(), "an empty vector has no room yet");
        // Too small, or not empty: handed back untouched.
        let back = v.grow(Vec::with_capacity(0));
        assert_eq!(back.capacity(), 0);
        let back = v.grow(Vec::with_capacity(4));
        assert!(back.capacity() == 0 && v.has_room() && v.capacity() >= 4);
        let a = v.reserve(1, VmKind::Vmalloc, 1).unwrap();
        let b = v.reserve(2, VmKind::Vmap, 2).unwrap();
        let cap = v.capacity();
        while v.has_room() {
            v.reserve(1, VmKind::Vmalloc, 3).unwrap();
        }
        assert_eq!(v.capacity(), cap, "inserts within room never reallocate");
        let full = v.iter().count();
        let old = v.grow(Vec::with_capacity(2 * cap));
        assert_eq!(old.capacity(), cap, "the old vector is returned, to be freed outside the lock");
        assert!(old.is_empty() && v.has_room() && v.iter().count() == full);
        assert_eq!(v.get(b).map(|x| x.kind), Some(VmKind::Vmap), "records kept across the move");
        assert_eq!(v.remove(a).map(|x| x.caller), Some(1));
        assert!(v.get(a).is_none());
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

#[cfg(target_os = "none")]
pub use kernel_side::*;

/// vmalloc in the running kernel: frames from the page allocator (highmem
/// first), page tables in the reference directory `swapper_pg_dir`, and the
/// lazy copy of a missing PDE into another directory on a fault.
#[cfg(target_os = "none")]
mod kernel_side {
    use super::{Lookup, VmArea, VmKind, VmallocError, VmapAreas};
    use crate::arch::x86::cpu::{flush_tlb_all, read_cr3, read_ebp};
    use crate::arch::x86::mm::init::swapper_pg_dir_phys;
    use crate::arch::x86::pgtable_types::PteFlags;
    use crate::kernel::sync::{IrqLock, SpinLock, SpinLockGuard};
    use crate::layout::{phys_to_virt, PAGE_SHIFT, PAGE_SIZE, VMALLOC_END};
    use crate::mm::alloc::{self, Pages};
    use crate::mm::gfp::{Gfp, GFP_KERNEL};
    use crate::mm::pgtable::{PageTables, Pfn, TableMemory, VirtAddr};
    use core::fmt::Write;
    use core::ptr::NonNull;
    use core::sync::atomic::{AtomicUsize, Ordering};

    /// The area records, under Linux's `vmlist_lock`: a spinlock that
    /// disables preemption, not an interrupt-masking one (vmalloc and vfree
    /// are never called from interrupts; the fault path only `try_lock`s
    /// it). Nothing under it allocates or sleeps: the record vector grows
    /// before it is taken ([`vmap_lock_with_room`]), and records leave it
    /// to be freed after.
    static VMAP: SpinLock<VmapAreas> = SpinLock::new(VmapAreas::new(0, 0));
    /// Serialises page-table changes in the reference directory.
    static PGTABLE_LOCK: IrqLock<()> = IrqLock::new(());
    /// PDEs copied by `vmalloc_fault` (the lazy sync), for tests and reports.
    pub static VMALLOC_SYNCS: AtomicUsize = AtomicUsize::new(0);
    /// Full TLB flushes done by vfree/vunmap.
    pub static VUNMAP_FLUSHES: AtomicUsize = AtomicUsize::new(0);
    /// Bad `vfree`/`vunmap` calls reported (for tests).
    pub static VFREE_BUGS: AtomicUsize = AtomicUsize::new(0);

    /// The record lock, with room for one more record: the vector grows
    /// with the lock dropped (allocating may sleep) and is swapped in under
    /// it.
    fn vmap_lock_with_room() -> SpinLockGuard<'static, VmapAreas> {
        loop {
            let want = {
                let v = VMAP.lock();
                if v.has_room() {
                    return v;
                }
                (2 * v.capacity()).max(16)
            };
            let bigger = ::alloc::vec::Vec::with_capacity(want);
            let unused = VMAP.lock().grow(bigger);
            drop(unused);
        }
    }

    /// The preempt count seen while holding the record lock (for tests:
    /// it must be raised).
    pub fn preempt_count_under_vmap_lock() -> u32 {
        let _g = VMAP.lock();
        crate::kernel::sched::preempt_count()
    }

    /// The lock that serialises changes to the reference directory, for a
    /// caller that changes vmalloc PTEs itself (tests).
    pub fn pgtable_lock() -> crate::kernel::sync::IrqLockGuard<'static, ()> {
        PGTABLE_LOCK.lock()
    }

    /// Page tables reached through the direct map (they live in lowmem).
    /// Whoever holds one can write any word of lowmem (`write_entry` takes a
    /// physical address), so only `unsafe` code can make one.
    pub struct DirectMapTables {
        /// Flags for the pages of new page tables (`ZERO` is added).
        table_gfp: Gfp,
    }

    impl DirectMapTables {
        /// # Safety
        /// Every call made through the value names a page directory or page
        /// table in lowmem (`table_phys`), and changes only entries the
        /// caller may change: with `PGTABLE_LOCK` held for the kernel's
        /// reference directory, mapping only frames the caller owns, and
        /// unmapping only what it mapped. Reads have no further condition.
        pub unsafe fn new() -> DirectMapTables {
            DirectMapTables { table_gfp: GFP_KERNEL }
        }

        /// New page tables with the caller's flags (a caller that cannot
        /// handle a failure passes `__GFP_NOFAIL` on).
        fn with_table_gfp(self, gfp: Gfp) -> DirectMapTables {
            DirectMapTables { table_gfp: gfp }
        }
    }

    impl TableMemory for DirectMapTables {
        fn read_entry(&self, table_phys: u32, index: usize) -> u32 {
            assert!(index < 1024);
            // SAFETY: page tables are lowmem pages, mapped at __va; index < 1024.
            unsafe { (phys_to_virt(table_phys as usize) as *const u32).add(index).read_volatile() }
        }

        fn write_entry(&mut self, table_phys: u32, index: usize, val: u32) {
            assert!(index < 1024);
            // SAFETY: as above; the caller holds PGTABLE_LOCK (or owns the table).
            unsafe { (phys_to_virt(table_phys as usize) as *mut u32).add(index).write_volatile(val) }
        }

        fn alloc_table(&mut self) -> Option<u32> {
            // Under PGTABLE_LOCK: the allocator does not sleep.
            // Without HIGHMEM: page tables are reached through the direct map.
            let low = alloc::__alloc_pages((self.table_gfp - Gfp::HIGHMEM) | Gfp::ZERO, 0)?.lowmem().ok()?;
            Some((low.pfn() << PAGE_SHIFT) as u32)
        }

        fn free_table(&mut self, phys: u32) {
            // SAFETY: page tables come from alloc_table (order 0) and are given back once.
            alloc::free_pages_block(unsafe { Pages::from_raw(phys >> PAGE_SHIFT, 0) });
        }
    }

    fn reference() -> PageTables {
        // SAFETY: swapper_pg_dir is the kernel's page directory, in the
        // kernel image (lowmem); this file changes it only under
        // PGTABLE_LOCK and only in the vmalloc range.
        unsafe { PageTables::from_phys(swapper_pg_dir_phys() as u32) }
    }

    /// Set the area's bounds once `high_memory` is known.
    pub fn vmalloc_init() {
        *VMAP.lock() = VmapAreas::new(alloc::vmalloc_start(), VMALLOC_END);
    }

    /// The return address of our caller's caller (frame pointers are on).
    #[inline(always)]
    fn caller() -> usize {
        let ebp = read_ebp();
        // SAFETY: with frame pointers, [ebp + 4] is this frame's return
        // address, on the current (mapped) stack.
        unsafe { *((ebp + 4) as *const usize) }
    }

    /// `vmalloc`: `size` bytes, virtually contiguous, from any frames
    /// (highmem first). May sleep.
    #[inline(never)]
    pub fn vmalloc(size: usize) -> Result<NonNull<u8>, VmallocError> {
        vmalloc_caller(size, GFP_KERNEL, false, caller())
    }

    /// Linux's `__vmalloc`: `vmalloc` with the caller's flags for the frames
    /// (`HIGHMEM` is added: the frames are only ever reached through the
    /// area). May sleep.
    #[inline(never)]
    pub fn __vmalloc(size: usize, gfp: Gfp) -> Result<NonNull<u8>, VmallocError> {
        vmalloc_caller(size, gfp, gfp.contains(Gfp::ZERO), caller())
    }

    /// `vzalloc`: the same, zeroed.
    #[inline(never)]
    pub fn vzalloc(size: usize) -> Result<NonNull<u8>, VmallocError> {
        vmalloc_caller(size, GFP_KERNEL, true, caller())
    }

    /// Linux's `__vmalloc_node`: first the address range (`__get_vm_area_node`:
    /// a request that cannot fit costs nothing, not even one frame), then
    /// the frames and the mapping (`__vmalloc_area_node`). Every failure
    /// gives back what was taken and says why.
    pub fn vmalloc_caller(size: usize, gfp: Gfp, zero: bool, caller: usize) -> Result<NonNull<u8>, VmallocError> {
        crate::kernel::sched::might_sleep("vmalloc");
        if size == 0 {
            return Err(VmallocError::ZeroSize);
        }
        let pages = size.div_ceil(PAGE_SIZE);
        // The record goes in with no pages: the range is ours from here on,
        // and the frames are allocated outside the lock (that may sleep).
        let addr = vmap_lock_with_room().reserve_checked(pages, VmKind::Vmalloc, caller)?;
        let fail = |what: &'static str, pfns: &[u32]| {
            free_frames(pfns);
            let gone = VMAP.lock().remove(addr);
            drop(gone);
            let e = VmallocError::NoMemory { size, what, got: pfns.len(), pages };
            crate::pr_warn!("vmalloc: allocation failure: {}", e);
            Err(e)
        };
        // The page array may be large (4 bytes a page): a failure to get it
        // is an answer, not a panic (Linux kmallocs or vmallocs it, and
        // checks).
        let mut pfns: ::alloc::vec::Vec<u32> = ::alloc::vec::Vec::new();
        if pfns.try_reserve_exact(pages).is_err() {
            return fail("memory for the page array", &pfns);
        }
        for _ in 0..pages {
            // No __GFP_NOWARN: as in 2.6.24's __vmalloc_area_node, the page
            // allocator reports its failure, then vmalloc says what it gave up.
            let Some(p) = alloc::alloc_pages((gfp - Gfp::ZERO) | Gfp::HIGHMEM, 0) else {
                return fail("free page", &pfns);
            };
            let pfn = p.pfn();
            // The frame is owned by the area from here on (`pfns`), and
            // freed through it.
            core::mem::forget(p);
            if zero {
                // SAFETY: a frame just allocated for this area.
                unsafe { crate::mm::highmem::clear_highpage(pfn) };
            }
            pfns.push(pfn);
        }
        if !map_pages(addr, &pfns, gfp) {
            return fail("page for a page table", &pfns);
        }
        let mut v = VMAP.lock();
        match v.get_mut(addr) {
            Some(a) => a.pages = pfns,
            None => {
                // A vfree of an address vmalloc had not returned yet: the
                // caller's bug. The record is gone; undo the rest.
                drop(v);
                let a = VmArea { addr, size: (pages + 1) * PAGE_SIZE, kind: VmKind::Vmalloc, caller, pages: pfns };
                unmap_area(&a);
                free_frames(&a.pages);
                vfree_bug(addr as *const u8, "freed before vmalloc returned it");
                return Err(VmallocError::NoSpace { size, largest_free: 0 });
            }
        }
        drop(v);
        NonNull::new(addr as *mut u8).ok_or(VmallocError::ZeroSize)
    }

    fn free_frames(pfns: &[u32]) {
        for &pfn in pfns {
            // SAFETY: the area's frames were allocated (order 0) for it and
            // are unmapped now.
            alloc::free_pages_block(unsafe { Pages::from_raw(pfn, 0) });
        }
    }

    /// Map `pfns` at `addr` in the reference directory. Entries were not
    /// present, so no flush is needed.
    fn map_pages(addr: usize, pfns: &[u32], gfp: Gfp) -> bool {
        let _g = PGTABLE_LOCK.lock();
        // SAFETY: PGTABLE_LOCK is held; `addr` is a range reserved in VMAP
        // for this caller, and the frames are the caller's.
        let mut mem = unsafe { DirectMapTables::new() }.with_table_gfp(gfp - Gfp::ZERO);
        let r = reference().map_range(&mut mem, VirtAddr::new(addr), pfns.iter().map(|&p| Pfn(p)), PteFlags::KERNEL);
        if r.is_err() {
            // map_range undid what it wrote, but entries were briefly present.
            flush_tlb_all();
        }
        r.is_ok()
    }

    /// Unmap an area's pages with ONE batched TLB flush.
    fn unmap_area(a: &VmArea) {
        let _g = PGTABLE_LOCK.lock();
        // On an error (a 4 MB page in vmalloc space would be a kernel bug)
        // flush anyway: the frames are about to be freed.
        // SAFETY: PGTABLE_LOCK is held; the area's record was removed from
        // VMAP by this caller (or never handed out), so the range is its own.
        let mut mem = unsafe { DirectMapTables::new() };
        let present = reference().unmap_range(&mut mem, VirtAddr::new(a.addr), a.pages.len()).unwrap_or(1);
        if present > 0 {
            flush_tlb_all();
            VUNMAP_FLUSHES.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `vfree`: unmap (one flush) and free the frames. A pointer that is not
    /// the start of a vmalloc area is reported and left alone.
    pub fn vfree(addr: *const u8) {
        if addr.is_null() {
            return;
        }
        // Linux BUG()s here: unmapping flushes the TLB and may wait, and the
        // record lock is not interrupt safe (an interrupted holder would be
        // spun on forever). Refused and reported; the area stays.
        if crate::kernel::sched::in_interrupt() {
            vfree_bug(addr, "called in interrupt context; the area is kept");
            return;
        }
        // Decide under one hold of the lock, so no vmalloc can take the
        // range between a check and a removal.
        let area = VMAP.lock().remove_vmalloc(addr as usize);
        match area {
            Ok(a) => {
                unmap_area(&a);
                free_frames(&a.pages);
            }
            Err(other) => {
                let why = match other {
                    Some(_) => "of a vmap area: use vunmap",
                    None => "not the start of a vmalloc area",
                };
                vfree_bug(addr, why);
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn vfree_bug(addr: *const u8, why: &str) {
        VFREE_BUGS.fetch_add(1, Ordering::Relaxed);
        crate::kernel::panic::warn(format_args!("BUG: vfree({:#010x}): {}", addr as usize, why));
    }

    /// `vmap`: map frames the caller owns into one virtual range.
    #[inline(never)]
    pub fn vmap(pfns: &[u32]) -> Option<NonNull<u8>> {
        crate::kernel::sched::might_sleep("vmap");
        let who = caller();
        // The record's page list is made before the lock is taken.
        let list = pfns.to_vec();
        let addr = vmap_lock_with_room().reserve(pfns.len(), VmKind::Vmap, who)?;
        if !map_pages(addr, pfns, GFP_KERNEL) {
            let gone = VMAP.lock().remove(addr);
            drop(gone);
            return None;
        }
        if let Some(a) = VMAP.lock().get_mut(addr) {
            a.pages = list;
        }
        NonNull::new(addr as *mut u8)
    }

    /// `vunmap`: unmap a vmap area; the frames stay the caller's.
    pub fn vunmap(addr: *const u8) {
        if crate::kernel::sched::in_interrupt() {
            VFREE_BUGS.fetch_add(1, Ordering::Relaxed);
            crate::kernel::panic::warn(format_args!(
                "BUG: vunmap({:#010x}): called in interrupt context; the area is kept",
                addr as usize
            ));
            return;
        }
        let area = {
            let mut v = VMAP.lock();
            match v.get(addr as usize).map(|a| a.kind) {
                Some(VmKind::Vmap) => Ok(v.remove(addr as usize)),
                Some(VmKind::Vmalloc) => Err("of a vmalloc area: use vfree"),
                None => Err("not a vmap area"),
            }
        };
        match area {
            Ok(Some(a)) => unmap_area(&a),
            Ok(None) => {}
            Err(why) => {
                VFREE_BUGS.fetch_add(1, Ordering::Relaxed);
                crate::kernel::panic::warn(format_args!("BUG: vunmap({:#010x}): {}", addr as usize, why))
            }
        }
    }

    /// A kernel-mode fault at a vmalloc address (Linux's `vmalloc_fault`):
    /// if the running page directory lacks a PDE that the reference one
    /// has, copy it and retry. Called with interrupts off, from the fault
    /// handler; takes no lock (reading the reference directory is safe:
    /// kernel PDEs only ever go from empty to present).
    pub fn vmalloc_fault(address: usize) -> bool {
        let cr3 = (read_cr3() & !0xfff) as usize;
        if cr3 == swapper_pg_dir_phys() {
            return false;
        }
        // SAFETY: CR3 holds the running page directory, a lowmem page; the
        // only write below copies a kernel PDE from the reference directory
        // into an empty slot of it (what every directory is meant to have),
        // with interrupts off on the one CPU.
        let (current, mut mem) = unsafe { (PageTables::from_phys(cr3 as u32), DirectMapTables::new()) };
        match current.sync_kernel_pde(&mut mem, &reference(), VirtAddr::new(address)) {
            Ok(true) => {
                VMALLOC_SYNCS.fetch_add(1, Ordering::Relaxed);
                true
            }
            Ok(false) => false,
            // Both directories map this 4 MB, differently: the kernel half
            // is corrupt. Say so before the oops.
            Err(e) => {
                crate::pr_emerg!("vmalloc_fault({:#010x}): {}", address, e);
                false
            }
        }
    }

    /// Copy into directory `pgd_phys` the kernel PDEs that cover `[lo, hi)`
    /// and that it lacks (the eager form of `vmalloc_fault`), for memory
    /// that must be reachable without a fault: the scheduler's kernel
    /// stacks, before CR3 switches to `pgd_phys`. A no-op for
    /// `swapper_pg_dir` itself and for addresses below `PAGE_OFFSET`.
    /// Interrupts off (the scheduler calls it between its lock and the switch).
    pub fn sync_kernel_range(pgd_phys: usize, lo: usize, hi: usize) {
        if pgd_phys == swapper_pg_dir_phys() || lo < crate::layout::PAGE_OFFSET || hi <= lo {
            return;
        }
        // SAFETY: `pgd_phys` is a page directory (the scheduler passes the
        // directory of an mm it holds); the only writes copy kernel PDEs
        // from the reference into empty slots, what every directory is
        // meant to have.
        let (pgd, mut mem) = unsafe { (PageTables::from_phys(pgd_phys as u32), DirectMapTables::new()) };
        let mut at = lo & !((1 << crate::layout::PGDIR_SHIFT) - 1);
        while at < hi {
            if let Ok(true) = pgd.sync_kernel_pde(&mut mem, &reference(), VirtAddr::new(at)) {
                VMALLOC_SYNCS.fetch_add(1, Ordering::Relaxed);
            }
            match at.checked_add(1 << crate::layout::PGDIR_SHIFT) {
                Some(next) => at = next,
                None => break,
            }
        }
    }

    /// Whether the kernel page at `addr` is present in `swapper_pg_dir`
    /// (for tests of guard pages).
    pub fn kernel_page_present(addr: usize) -> bool {
        // SAFETY: reads only.
        let mem = unsafe { DirectMapTables::new() };
        reference().translate(&mem, VirtAddr::new(addr & !(PAGE_SIZE - 1))).is_some()
    }

    /// For the oops report: what the faulting vmalloc address is.
    pub fn describe(address: usize, out: &mut impl Write) {
        let Some(v) = VMAP.try_lock() else { return };
        let _ = match v.lookup(address) {
            Lookup::Guard(a) => writeln!(
                out,
                "vmalloc: {:#010x} is the guard page of the area {:#010x}-{:#010x} ({} page{})",
                address,
                a.addr,
                a.addr + a.size,
                a.pages.len(),
                if a.pages.len() == 1 { "" } else { "s" }
            ),
            Lookup::Unallocated => writeln!(out, "vmalloc: {:#010x} is in no vmalloc area", address),
            Lookup::Mapped(a) => writeln!(
                out,
                "vmalloc: {:#010x} is inside the area {:#010x}-{:#010x}",
                address,
                a.addr,
                a.addr + a.size
            ),
            Lookup::Outside => Ok(()),
        };
    }

    /// `/proc/vmallocinfo`.
    pub fn vmallocinfo(out: &mut impl Write) -> core::fmt::Result {
        // One record at a time, copied out (without its page list): nothing
        // allocates under the lock, and formatting runs outside it.
        let mut i = 0;
        loop {
            // Its own statement: the guard goes before the body runs (a
            // `while let` would hold it across the body).
            let a = VMAP.lock().iter().nth(i).map(VmArea::info);
            let Some(a) = a else { break };
            let mut name = ::alloc::string::String::new();
            crate::kernel::ksyms::write_return_address(&mut name, a.caller);
            super::vmallocinfo_line(out, &a, name)?;
            i += 1;
        }
        Ok(())
    }

    /// (VmallocUsed, VmallocChunk) in bytes, for meminfo.
    pub fn usage() -> (usize, usize) {
        let v = VMAP.lock();
        (v.used(), v.largest_free())
    }

    /// Frames of an area that are in highmem (for tests).
    pub fn highmem_pages(addr: usize) -> Option<(usize, usize)> {
        let v = VMAP.lock();
        let a = v.get(addr)?;
        Some((a.pages.iter().filter(|&&p| p as usize >= alloc::max_low_pfn()).count(), a.pages.len()))
    }
}
