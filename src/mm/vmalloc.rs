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
    pub(crate) areas: BTreeMap<usize, VmArea>,
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
        let (addr, size) = self.find_room(pages)?;
        self.areas.insert(addr, VmArea { addr, size, kind, caller, pages: Vec::new() });
        Some(addr)
    }

    /// Where `pages` pages plus a guard page fit (first fit), and the size
    /// to record; nothing is reserved yet. A caller that holds the lock
    /// from here to [`insert`](Self::insert) records the area in one step
    /// with its pages, instead of reserving and then updating it.
    pub fn find_room(&self, pages: usize) -> Option<(usize, usize)> {
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
        Some((candidate, size))
    }

    /// Record an area at the room `find_room` gave (the lock held since).
    pub fn insert(&mut self, area: VmArea) {
        let prev = self.areas.insert(area.addr, area);
        debug_assert!(prev.is_none(), "vmalloc area recorded twice");
    }

    /// Remove the area that starts exactly at `addr` if it is of `kind`
    /// (one search): `Err(Some(other kind))` or `Err(None)` when there is
    /// no such area.
    pub fn remove_kind(&mut self, addr: usize, kind: VmKind) -> Result<VmArea, Option<VmKind>> {
        match self.areas.entry(addr) {
            alloc::collections::btree_map::Entry::Occupied(e) if e.get().kind == kind => Ok(e.remove()),
            alloc::collections::btree_map::Entry::Occupied(e) => Err(Some(e.get().kind)),
            alloc::collections::btree_map::Entry::Vacant(_) => Err(None),
        }
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
    if a.kind == VmKind::Vmalloc {
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

#[cfg(target_os = "none")]
pub use kernel_side::*;

/// vmalloc in the running kernel: frames from the page allocator (highmem
/// first), page tables in the reference directory `swapper_pg_dir`, and the
/// lazy copy of a missing PDE into another directory on a fault.
#[cfg(target_os = "none")]
mod kernel_side {
    use super::{Lookup, VmArea, VmKind, VmapAreas};
    use crate::arch::x86::cpu::{flush_tlb_all, read_cr3, read_ebp};
    use crate::arch::x86::mm::init::swapper_pg_dir_phys;
    use crate::kernel::sync::IrqLock;
    use crate::layout::{phys_to_virt, PAGE_SHIFT, PAGE_SIZE, VMALLOC_END};
    use crate::mm::alloc::{self, Pages};
    use crate::mm::gfp::{Gfp, GFP_KERNEL};
    use crate::mm::pgtable::{PageTables, Pfn, PteFlags, TableMemory, VirtAddr};
    use core::fmt::Write;
    use core::ptr::NonNull;
    use core::sync::atomic::{AtomicUsize, Ordering};

    /// The area records. A plain spinlock, not an interrupt-masking one:
    /// vmalloc is never called from interrupts (the fault path only
    /// `try_lock`s it), and records are kmalloc'd under it, which must be
    /// allowed to sleep. Linux uses a spinlock around a tree of records
    /// allocated beforehand; with one CPU, a holder that is preempted only
    /// delays the next locker.
    static VMAP: spin::Mutex<VmapAreas> = spin::Mutex::new(VmapAreas::new(0, 0));
    /// Serialises page-table changes in the reference directory.
    static PGTABLE_LOCK: IrqLock<()> = IrqLock::new(());
    /// PDEs copied by `vmalloc_fault` (the lazy sync), for tests and reports.
    pub static VMALLOC_SYNCS: AtomicUsize = AtomicUsize::new(0);
    /// Full TLB flushes done by vfree/vunmap.
    pub static VUNMAP_FLUSHES: AtomicUsize = AtomicUsize::new(0);

    /// Page tables reached through the direct map (they live in lowmem).
    pub struct DirectMapTables;

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
            let low = alloc::__alloc_pages(GFP_KERNEL | Gfp::ZERO, 0)?.lowmem().ok()?;
            Some((low.pfn() << PAGE_SHIFT) as u32)
        }

        fn free_table(&mut self, phys: u32) {
            // SAFETY: page tables come from alloc_table (order 0) and are given back once.
            alloc::free_pages_block(unsafe { Pages::from_raw(phys >> PAGE_SHIFT, 0) });
        }
    }

    fn reference() -> PageTables {
        PageTables::from_phys(swapper_pg_dir_phys() as u32)
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
    pub fn vmalloc(size: usize) -> Option<NonNull<u8>> {
        vmalloc_caller(size, false, caller())
    }

    /// `vzalloc`: the same, zeroed.
    #[inline(never)]
    pub fn vzalloc(size: usize) -> Option<NonNull<u8>> {
        vmalloc_caller(size, true, caller())
    }

    pub fn vmalloc_caller(size: usize, zero: bool, caller: usize) -> Option<NonNull<u8>> {
        crate::kernel::sched::might_sleep("vmalloc");
        if size == 0 {
            return None;
        }
        let pages = size.div_ceil(PAGE_SIZE);
        // The frames first (this may sleep, so not under VMAP); then room,
        // mapping and record under one hold of VMAP: one search for room,
        // one insert of the finished record.
        let mut pfns = ::alloc::vec::Vec::with_capacity(pages);
        for _ in 0..pages {
            match alloc::alloc_pages(GFP_KERNEL | Gfp::HIGHMEM | Gfp::NOWARN, 0) {
                Some(p) => {
                    let pfn = p.pfn();
                    core::mem::forget(p);
                    if zero {
                        // SAFETY: a frame just allocated for this area.
                        unsafe { crate::mm::highmem::clear_highpage(pfn) };
                    }
                    pfns.push(pfn);
                }
                None => {
                    free_frames(&pfns);
                    crate::pr_warn!("vmalloc: allocation failure: {} bytes", size);
                    return None;
                }
            }
        }
        let mut v = VMAP.lock();
        let Some((addr, area_size)) = v.find_room(pages) else {
            drop(v);
            free_frames(&pfns);
            return None;
        };
        if !map_pages(addr, &pfns) {
            drop(v);
            free_frames(&pfns);
            return None;
        }
        v.insert(VmArea { addr, size: area_size, kind: VmKind::Vmalloc, caller, pages: pfns });
        drop(v);
        NonNull::new(addr as *mut u8)
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
    fn map_pages(addr: usize, pfns: &[u32]) -> bool {
        let _g = PGTABLE_LOCK.lock();
        let r = reference().map_range(
            &mut DirectMapTables,
            VirtAddr::new(addr),
            pfns.iter().map(|&p| Pfn(p)),
            PteFlags::KERNEL,
        );
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
        let present = reference().unmap_range(&mut DirectMapTables, VirtAddr::new(a.addr), a.pages.len()).unwrap_or(1);
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
        // Decide under one hold of the lock, so no vmalloc can take the
        // range between a check and a removal.
        let area = VMAP.lock().remove_kind(addr as usize, VmKind::Vmalloc);
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
        crate::kernel::panic::warn(format_args!("BUG: vfree({:#010x}): {}", addr as usize, why));
    }

    /// `vmap`: map frames the caller owns into one virtual range.
    #[inline(never)]
    pub fn vmap(pfns: &[u32]) -> Option<NonNull<u8>> {
        let who = caller();
        let addr = VMAP.lock().reserve(pfns.len(), VmKind::Vmap, who)?;
        if !map_pages(addr, pfns) {
            VMAP.lock().remove(addr);
            return None;
        }
        if let Some(a) = VMAP.lock().get_mut(addr) {
            a.pages = pfns.to_vec();
        }
        NonNull::new(addr as *mut u8)
    }

    /// `vunmap`: unmap a vmap area; the frames stay the caller's.
    pub fn vunmap(addr: *const u8) {
        let area = {
            let mut v = VMAP.lock();
            match v.areas.get(&(addr as usize)).map(|a| a.kind) {
                Some(VmKind::Vmap) => Ok(v.remove(addr as usize)),
                Some(VmKind::Vmalloc) => Err("of a vmalloc area: use vfree"),
                None => Err("not a vmap area"),
            }
        };
        match area {
            Ok(Some(a)) => unmap_area(&a),
            Ok(None) => {}
            Err(why) => crate::kernel::panic::warn(format_args!("BUG: vunmap({:#010x}): {}", addr as usize, why)),
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
        let current = PageTables::from_phys(cr3 as u32);
        match current.sync_kernel_pde(&mut DirectMapTables, &reference(), VirtAddr::new(address)) {
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

    /// For the oops report: what the faulting vmalloc address is.
    pub fn describe(address: usize, out: &mut impl Write) {
        let Some(v) = VMAP.try_lock() else { return };
        let _ = match v.lookup(address) {
            Lookup::Guard(a) => writeln!(
                out,
                "vmalloc: {:#010x} is the guard page of the area {:#010x}-{:#010x} ({} pages)",
                address,
                a.addr,
                a.addr + a.size,
                a.pages.len()
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
        // Snapshot first: formatting allocates, and must not hold the lock.
        let areas: ::alloc::vec::Vec<(VmArea, usize)> = VMAP.lock().iter().map(|a| (a.clone(), a.caller)).collect();
        for (a, caller) in &areas {
            let mut name = ::alloc::string::String::new();
            crate::kernel::ksyms::write_return_address(&mut name, *caller);
            super::vmallocinfo_line(out, a, name)?;
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
        let a = v.areas.get(&addr)?;
        Some((a.pages.iter().filter(|&&p| p as usize >= alloc::max_low_pfn()).count(), a.pages.len()))
    }
}
