//! Host tests of `mm::pgtable`.

use super::*;
use crate::layout::{PKMAP_BASE, VMALLOC_END, VMALLOC_START_MIN};
use proptest::prelude::*;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// Simulated physical memory: tables by address, a page budget, and
/// counts that prove nothing leaked.
struct SimMem {
    tables: HashMap<u32, Box<[u32; PTRS_PER_PTE]>>,
    next: u32,
    budget: usize,
    allocs: usize,
    frees: usize,
}

impl SimMem {
    fn new(budget: usize) -> SimMem {
        SimMem { tables: HashMap::new(), next: 0x0010_0000, budget, allocs: 0, frees: 0 }
    }

    fn live(&self) -> usize {
        self.allocs - self.frees
    }
}

impl TableMemory for SimMem {
    fn read_entry(&self, table_phys: u32, index: usize) -> u32 {
        self.tables.get(&table_phys).expect("read of a page that is not a table")[index]
    }

    fn write_entry(&mut self, table_phys: u32, index: usize, val: u32) {
        self.tables.get_mut(&table_phys).expect("write to a page that is not a table")[index] = val;
    }

    fn alloc_table(&mut self) -> Option<u32> {
        if self.live() == self.budget {
            return None;
        }
        let phys = self.next;
        self.next += PAGE_SIZE as u32;
        self.tables.insert(phys, Box::new([0; PTRS_PER_PTE]));
        self.allocs += 1;
        Some(phys)
    }

    fn free_table(&mut self, phys: u32) {
        assert!(self.tables.remove(&phys).is_some(), "double free of table {phys:#x}");
        self.frees += 1;
    }
}

fn va(a: usize) -> VirtAddr {
    VirtAddr::new(a)
}

/// Free everything and check that every table page came back.
fn teardown(pt: PageTables, mem: &mut SimMem) {
    pt.free_page_tables(mem, 0..PTRS_PER_PGD);
    pt.free_directory(mem);
    assert_eq!(mem.live(), 0, "page tables leaked");
}

#[test]
fn address_splits_10_10_12() {
    let a = VirtAddr(0xFF80_3ABC);
    assert_eq!(a.pgd_index(), 0x3FE);
    assert_eq!(a.pte_index(), 3);
    assert_eq!(a.page_offset(), 0xABC);
    assert_eq!(VirtAddr(0xFFFF_F000).add_pages(1), None);
    assert_eq!(VirtAddr(0xFFFF_E000).add_pages(1), Some(VirtAddr(0xFFFF_F000)));
}

#[test]
fn entries_pack_frame_and_flags() {
    let pte = Pte::new(Pfn(0x7FFDF), PteFlags::KERNEL | PteFlags::GLOBAL);
    assert_eq!(pte.0, 0x7FFD_F163);
    assert_eq!(pte.pfn(), Pfn(0x7FFDF));
    assert!(pte.is_present() && pte.flags().contains(PteFlags::GLOBAL));
    let big = Pde::large(Pfn(0x400), PteFlags::PRESENT | PteFlags::RW);
    assert_eq!(big.0, 0x0040_0083);
    assert!(big.is_large() && big.table().is_none());
    assert_eq!(big.pfn(), Pfn(0x400));
    let table = Pde::new(Pfn(0x123), PteFlags::KERNEL_TABLE);
    assert_eq!(table.table(), Some(0x0012_3000));
    assert!(!table.is_large());
}

#[test]
#[should_panic(expected = "4 MB aligned")]
fn misaligned_large_page_is_a_bug() {
    Pde::large(Pfn(0x401), PteFlags::PRESENT);
}

#[test]
fn map_translate_unmap_round_trip() {
    let mut mem = SimMem::new(8);
    let pt = PageTables::new(&mut mem).unwrap();
    let a = va(0x0804_8000);
    pt.map(&mut mem, a, Pfn(0x1234), PteFlags::USER | PteFlags::RW).unwrap();
    let (phys, flags) = pt.translate(&mem, VirtAddr(a.0 + 0x10)).unwrap();
    assert_eq!(phys, PhysAddr(0x0123_4010));
    assert_eq!(flags, PteFlags::PRESENT | PteFlags::USER | PteFlags::RW);
    let old = pt.unmap(&mut mem, a).unwrap();
    assert!(old.is_present(), "the caller learns that a flush is needed");
    assert_eq!(old.pfn(), Pfn(0x1234));
    assert_eq!(pt.translate(&mem, a), None);
    assert_eq!(pt.unmap(&mut mem, a), Err(MapError::NotMapped(a)));
    teardown(pt, &mut mem);
}

#[test]
fn page_table_is_made_on_demand_with_the_right_pde() {
    let mut mem = SimMem::new(8);
    let pt = PageTables::new(&mut mem).unwrap();
    assert_eq!(mem.live(), 1);
    pt.map(&mut mem, va(0x1000), Pfn(1), PteFlags::USER).unwrap();
    pt.map(&mut mem, va(0x3F_F000), Pfn(2), PteFlags::USER).unwrap();
    assert_eq!(mem.live(), 2, "same 4 MB: one page table");
    pt.map(&mut mem, va(0x40_0000), Pfn(3), PteFlags::USER).unwrap();
    assert_eq!(mem.live(), 3, "next 4 MB: a second one");
    assert_eq!(pt.pde(&mem, 0).flags(), PteFlags::USER_TABLE);
    pt.map(&mut mem, va(VMALLOC_START_MIN), Pfn(4), PteFlags::KERNEL).unwrap();
    assert_eq!(pt.pde(&mem, VMALLOC_START_MIN >> PGDIR_SHIFT).flags(), PteFlags::KERNEL_TABLE);
    // Unmapping keeps page tables (Linux frees them only at exit).
    pt.unmap(&mut mem, va(0x1000)).unwrap();
    assert_eq!(mem.live(), 4);
    assert_eq!(pt.free_page_tables(&mut mem, 0..PTRS_PER_PGD), 3, "three pages still mapped");
    pt.free_directory(&mut mem);
    assert_eq!(mem.live(), 0);
}

#[test]
fn translate_follows_4mb_pages() {
    let mut mem = SimMem::new(4);
    let pt = PageTables::new(&mut mem).unwrap();
    let i = PAGE_OFFSET >> PGDIR_SHIFT;
    let pde = Pde::large(Pfn(0), PteFlags::KERNEL | PteFlags::GLOBAL);
    mem.write_entry(pt.pgd_phys(), i + 1, Pde::large(Pfn(0x400), PteFlags::KERNEL).0);
    mem.write_entry(pt.pgd_phys(), i, pde.0);
    let (phys, flags) = pt.translate(&mem, va(PAGE_OFFSET + 0x12_3456)).unwrap();
    assert_eq!(phys, PhysAddr(0x12_3456));
    assert!(flags.contains(PteFlags::PSE | PteFlags::GLOBAL));
    assert_eq!(pt.translate(&mem, va(PAGE_OFFSET + 0x7F_FFFF)).unwrap().0, PhysAddr(0x7F_FFFF));
    let w = pt.walk(&mem, va(PAGE_OFFSET + 0x1000));
    assert_eq!(w.pte, None, "a 4 MB page has no PTE");
    assert_eq!(format!("{w}"), "*pde = 000001e3");
    teardown(pt, &mut mem);
}

#[test]
fn errors_change_nothing() {
    let mut mem = SimMem::new(2);
    let pt = PageTables::new(&mut mem).unwrap();
    let big = va(PAGE_OFFSET);
    mem.write_entry(pt.pgd_phys(), big.pgd_index(), Pde::large(Pfn(0), PteFlags::KERNEL).0);
    assert_eq!(pt.map(&mut mem, big, Pfn(5), PteFlags::KERNEL), Err(MapError::LargePage(big)));
    assert_eq!(pt.unmap(&mut mem, big), Err(MapError::LargePage(big)));
    assert_eq!(pt.map(&mut mem, va(0x1234), Pfn(5), PteFlags::KERNEL), Err(MapError::Misaligned(va(0x1234))));
    assert_eq!(pt.map(&mut mem, va(0x1000), Pfn(MAX_PFN), PteFlags::KERNEL), Err(MapError::BadPfn(Pfn(MAX_PFN))));
    pt.map(&mut mem, va(0x1000), Pfn(5), PteFlags::KERNEL).unwrap();
    let first = Pte::new(Pfn(5), PteFlags::KERNEL | PteFlags::PRESENT);
    assert_eq!(pt.map(&mut mem, va(0x1000), Pfn(6), PteFlags::KERNEL), Err(MapError::AlreadyMapped(va(0x1000), first)));
    assert_eq!(
        format!("{}", MapError::AlreadyMapped(va(0x1000), first)),
        "0x00001000 is already mapped (pte 00005063)"
    );
    assert_eq!(pt.translate(&mem, va(0x1000)).unwrap().0, Pfn(5).phys(), "first mapping kept");
    // Budget spent (directory + one table): a new 4 MB region fails.
    assert_eq!(pt.map(&mut mem, va(0x40_0000), Pfn(7), PteFlags::KERNEL), Err(MapError::NoMemory));
    assert!(!pt.pde(&mem, 1).is_present());
    assert_eq!(format!("{}", MapError::LargePage(big)), "0xc0000000 is inside a 4 MB page");
    pt.unmap(&mut mem, va(0x1000)).unwrap();
    mem.write_entry(pt.pgd_phys(), big.pgd_index(), 0);
    teardown(pt, &mut mem);
}

#[test]
fn swap_entry_is_refused_by_map_and_handed_back_by_unmap() {
    let mut mem = SimMem::new(2);
    let pt = PageTables::new(&mut mem).unwrap();
    let a = va(0x5000);
    pt.map(&mut mem, a, Pfn(9), PteFlags::USER).unwrap();
    let table = pt.pde(&mem, 0).table().unwrap();
    let swap = Pte(0x0004_2000);
    mem.write_entry(table, a.pte_index(), swap.0);
    assert_eq!(pt.translate(&mem, a), None);
    // Mapping over it would lose where the page's data is on swap.
    assert_eq!(pt.map(&mut mem, a, Pfn(10), PteFlags::USER), Err(MapError::SwapEntry(a, swap)));
    assert_eq!(pt.map_range(&mut mem, a, [Pfn(10)], PteFlags::USER), Err(MapError::SwapEntry(a, swap)));
    assert_eq!(Pte(mem.read_entry(table, a.pte_index())), swap, "the swap entry is kept");
    assert_eq!(format!("{}", MapError::SwapEntry(a, swap)), "0x00005000 holds a swap entry (pte 00042000)");
    // Swap-in's order: take the entry, then map the page.
    let old = pt.unmap(&mut mem, a).unwrap();
    assert_eq!(old, swap, "swap entry handed back, no flush needed");
    pt.map(&mut mem, a, Pfn(10), PteFlags::USER).unwrap();
    assert_eq!(pt.translate(&mem, a).unwrap().0, Pfn(10).phys());
    pt.unmap(&mut mem, a).unwrap();
    teardown(pt, &mut mem);
}

#[test]
fn pgd_alloc_shares_the_kernel_half_and_pgd_free_returns_every_user_table() {
    let mut mem = SimMem::new(16);
    let kernel = PageTables::new(&mut mem).unwrap();
    let direct = va(PAGE_OFFSET);
    mem.write_entry(kernel.pgd_phys(), direct.pgd_index(), Pde::large(Pfn(0), PteFlags::KERNEL).0);
    kernel.map(&mut mem, va(PKMAP_BASE), Pfn(0x50000), PteFlags::KERNEL).unwrap();
    let kernel_pages = mem.live();

    let mm = PageTables::pgd_alloc(&mut mem, &kernel).unwrap();
    for i in KERNEL_PGD_FIRST..PTRS_PER_PGD {
        assert_eq!(mm.pde(&mem, i), kernel.pde(&mem, i), "kernel PDE {i}");
    }
    assert!((0..KERNEL_PGD_FIRST).all(|i| mm.pde(&mem, i) == Pde::NONE), "user half starts empty");
    // User pages in three 4 MB regions: three page tables.
    for (k, at) in [0x0804_8000usize, 0x0840_0000, 0xBFFF_F000].into_iter().enumerate() {
        mm.map(&mut mem, va(at), Pfn(0x100 + k as u32), PteFlags::USER | PteFlags::RW).unwrap();
    }
    assert_eq!(mem.live(), kernel_pages + 1 + 3);
    assert_eq!(kernel.translate(&mem, va(0x0804_8000)), None, "the reference never sees user pages");
    mm.unmap(&mut mem, va(0x0840_0000)).unwrap();
    // Two pages still mapped: reported, and every table comes back anyway.
    assert_eq!(mm.pgd_free(&mut mem), 2);
    assert_eq!(mem.live(), kernel_pages, "directory and user tables freed, kernel tables kept");
    assert!(kernel.translate(&mem, va(PKMAP_BASE)).is_some(), "shared kernel table intact");
    kernel.unmap(&mut mem, va(PKMAP_BASE)).unwrap();
    mem.write_entry(kernel.pgd_phys(), direct.pgd_index(), 0);
    teardown(kernel, &mut mem);
}

#[test]
fn walk_prints_like_an_oops() {
    let mut mem = SimMem::new(2);
    let pt = PageTables::new(&mut mem).unwrap();
    let a = va(0x0040_2000);
    assert_eq!(format!("{}", pt.walk(&mem, a)), "*pde = 00000000");
    pt.map(&mut mem, a, Pfn(0x3F8F9), PteFlags::USER | PteFlags::RW).unwrap();
    let w = pt.walk(&mem, a);
    let table = w.pde.table().unwrap();
    assert_eq!(format!("{w}"), format!("*pde = {:08x} *pte = 3f8f9007", table | 0x67));
    assert_eq!(
        format!("{}", pt.walk(&mem, VirtAddr(a.0 + 0x1000))),
        format!("*pde = {:08x} *pte = 00000000", table | 0x67)
    );
    pt.unmap(&mut mem, a).unwrap();
    teardown(pt, &mut mem);
}

#[test]
fn vmalloc_range_maps_and_unmap_range_counts_for_one_flush() {
    let mut mem = SimMem::new(8);
    let pt = PageTables::new(&mut mem).unwrap();
    // 1500 pages from 8 KB below a 4 MB boundary: three page tables.
    let start = va(VMALLOC_START_MIN + PAGE_SIZE * 1022);
    let pfns: Vec<Pfn> = (0..1500).map(|i| Pfn(0x40000 + 7 * i)).collect();
    assert_eq!(pt.map_range(&mut mem, start, pfns.iter().copied(), PteFlags::KERNEL), Ok(1500));
    assert_eq!(mem.live(), 1 + 3);
    for (i, pfn) in pfns.iter().enumerate() {
        assert_eq!(pt.translate(&mem, start.add_pages(i as u32).unwrap()).unwrap().0, pfn.phys());
    }
    // Unmap a larger window (with the guard page and a hole): only the
    // 1500 present entries count.
    assert_eq!(pt.unmap_range(&mut mem, va(VMALLOC_START_MIN), 1022 + 1500 + 600), Ok(1500));
    assert_eq!(pt.unmap_range(&mut mem, start, 1500), Ok(0), "second time: nothing to flush");
    assert_eq!(pt.unmap_range(&mut mem, start, 0), Ok(0));
    assert_eq!(mem.live(), 4, "vunmap keeps kernel page tables");
    teardown(pt, &mut mem);
}

#[test]
fn map_range_is_all_or_nothing() {
    let mut mem = SimMem::new(8);
    let pt = PageTables::new(&mut mem).unwrap();
    let start = va(0x0100_0000);
    pt.map(&mut mem, va(0x0100_5000), Pfn(99), PteFlags::KERNEL).unwrap();
    let r = pt.map_range(&mut mem, start, (0..8).map(|i| Pfn(200 + i)), PteFlags::KERNEL);
    let there = Pte::new(Pfn(99), PteFlags::KERNEL | PteFlags::PRESENT);
    assert_eq!(r, Err(MapError::AlreadyMapped(va(0x0100_5000), there)));
    for i in 0..8 {
        let at = start.add_pages(i).unwrap();
        let want = (i == 5).then(|| Pfn(99).phys());
        assert_eq!(pt.translate(&mem, at).map(|t| t.0), want);
    }
    // Running off the top of the address space.
    let top = va(0xFFFF_E000);
    assert_eq!(pt.map_range(&mut mem, top, (0..3).map(Pfn), PteFlags::KERNEL), Err(MapError::OutOfRange(top)));
    assert_eq!(pt.translate(&mem, top), None);
    assert_eq!(pt.unmap_range(&mut mem, top, 3), Err(MapError::OutOfRange(top)));
    pt.unmap(&mut mem, va(0x0100_5000)).unwrap();
    assert_eq!(pt.free_page_tables(&mut mem, 0..PTRS_PER_PGD), 0);
    pt.free_directory(&mut mem);
    assert_eq!(mem.live(), 0);
}

#[test]
fn unmap_range_refuses_a_4mb_page_before_touching_anything() {
    let mut mem = SimMem::new(4);
    let pt = PageTables::new(&mut mem).unwrap();
    let a = va(0x0080_0000 - 2 * PAGE_SIZE);
    pt.map_range(&mut mem, a, [Pfn(1), Pfn(2)], PteFlags::KERNEL).unwrap();
    mem.write_entry(pt.pgd_phys(), 2, Pde::large(Pfn(0x800), PteFlags::KERNEL).0);
    assert_eq!(pt.unmap_range(&mut mem, a, 4), Err(MapError::LargePage(va(0x0080_0000))));
    assert!(pt.translate(&mem, a).is_some(), "nothing was cleared");
    mem.write_entry(pt.pgd_phys(), 2, 0);
    assert_eq!(pt.unmap_range(&mut mem, a, 4), Ok(2));
    teardown(pt, &mut mem);
}

#[test]
fn lazy_sync_copies_exactly_the_missing_pde() {
    let mut mem = SimMem::new(16);
    let kernel = PageTables::new(&mut mem).unwrap();
    let direct = va(PAGE_OFFSET);
    mem.write_entry(kernel.pgd_phys(), direct.pgd_index(), Pde::large(Pfn(0), PteFlags::KERNEL).0);
    kernel.map(&mut mem, va(PKMAP_BASE), Pfn(0x50000), PteFlags::KERNEL).unwrap();

    // A process directory made now shares what exists now...
    let process = PageTables::new(&mut mem).unwrap();
    assert_eq!(process.clone_kernel_pdes(&mut mem, &kernel), 2);
    // ...but not a vmalloc area made later in the reference directory.
    let vm = va(VMALLOC_END - 4 * PAGE_SIZE);
    kernel.map_range(&mut mem, vm, [Pfn(0x60000), Pfn(0x60001)], PteFlags::KERNEL).unwrap();
    assert_eq!(process.translate(&mem, vm), None, "the fault the kernel will take");
    let before: Vec<u32> = (0..PTRS_PER_PGD).map(|i| process.pde(&mem, i).0).collect();

    assert_eq!(process.sync_kernel_pde(&mut mem, &kernel, vm), Ok(true));
    for (i, old) in before.iter().enumerate() {
        let want = if i == vm.pgd_index() { kernel.pde(&mem, i).0 } else { *old };
        assert_eq!(process.pde(&mem, i).0, want, "PDE {i}");
    }
    assert_eq!(process.translate(&mem, vm).unwrap().0, Pfn(0x60000).phys());
    // The second page is in the same table: no second sync needed.
    assert_eq!(process.sync_kernel_pde(&mut mem, &kernel, VirtAddr(vm.0 + 0x1000)), Ok(false));
    // The CPU setting ACCESSED in one copy is not a mismatch.
    let i = vm.pgd_index();
    mem.write_entry(process.pgd_phys(), i, process.pde(&mem, i).0 | PteFlags::ACCESSED.bits());
    assert_eq!(process.sync_kernel_pde(&mut mem, &kernel, vm), Ok(false));

    let unmapped = va(VMALLOC_START_MIN);
    assert_eq!(process.sync_kernel_pde(&mut mem, &kernel, unmapped), Err(MapError::NotMapped(unmapped)));
    assert_eq!(process.sync_kernel_pde(&mut mem, &kernel, va(0x1000)), Err(MapError::NotKernel(va(0x1000))));
    mem.write_entry(process.pgd_phys(), i, Pde::new(Pfn(0x777), PteFlags::KERNEL_TABLE).0);
    assert_eq!(process.sync_kernel_pde(&mut mem, &kernel, vm), Err(MapError::PdeMismatch(vm)));

    // The process owns no kernel tables: it frees its directory only.
    assert_eq!(process.free_page_tables(&mut mem, 0..KERNEL_PGD_FIRST), 0);
    process.free_directory(&mut mem);
    assert_eq!(kernel.unmap_range(&mut mem, vm, 2), Ok(2));
    kernel.unmap(&mut mem, va(PKMAP_BASE)).unwrap();
    mem.write_entry(kernel.pgd_phys(), direct.pgd_index(), 0);
    teardown(kernel, &mut mem);
}

#[derive(Clone, Debug)]
enum Op {
    Map(u32, u32, bool),
    Unmap(u32),
    UnmapRange(u32, u32),
}

fn op() -> impl Strategy<Value = Op> {
    // 64 pages spread over three 4 MB regions, so tables come and go.
    let page = (0u32..3, 0u32..64).prop_map(|(r, p)| r * 1024 + 1000 + p);
    prop_oneof![
        4 => (page.clone(), 0u32..MAX_PFN, any::<bool>()).prop_map(|(p, f, w)| Op::Map(p, f, w)),
        2 => page.clone().prop_map(Op::Unmap),
        1 => (page, 0u32..80).prop_map(|(p, n)| Op::UnmapRange(p, n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Random map/unmap/unmap_range sequences agree with a HashMap of
    /// va -> (pfn, flags) at every address touched, the reported counts
    /// match the model, and teardown returns every table page.
    #[test]
    fn page_tables_match_a_hashmap_model(ops in proptest::collection::vec(op(), 1..120)) {
        let mut mem = SimMem::new(16);
        let pt = PageTables::new(&mut mem).unwrap();
        let mut model: HashMap<u32, (u32, PteFlags)> = HashMap::new();
        let base = 0x4000_0000u32;
        let at = |p: u32| VirtAddr(base + (p << PAGE_SHIFT));
        for op in ops {
            match op {
                Op::Map(p, pfn, w) => {
                    let flags = if w { PteFlags::RW } else { PteFlags::empty() };
                    let r = pt.map(&mut mem, at(p), Pfn(pfn), flags);
                    match model.entry(p) {
                        Entry::Occupied(o) => {
                            let &(old, oflags) = o.get();
                            prop_assert_eq!(r, Err(MapError::AlreadyMapped(at(p), Pte::new(Pfn(old), oflags))))
                        }
                        Entry::Vacant(v) => {
                            prop_assert_eq!(r, Ok(()));
                            v.insert((pfn, flags | PteFlags::PRESENT));
                        }
                    }
                }
                Op::Unmap(p) => {
                    match (pt.unmap(&mut mem, at(p)), model.remove(&p)) {
                        (Ok(old), Some((pfn, flags))) => {
                            prop_assert_eq!(old, Pte::new(Pfn(pfn), flags));
                        }
                        (Err(MapError::NotMapped(a)), None) => prop_assert_eq!(a, at(p)),
                        (r, m) => prop_assert!(false, "unmap {:?} vs model {:?}", r, m),
                    }
                }
                Op::UnmapRange(p, n) => {
                    let want = (p..p + n).filter(|q| model.remove(q).is_some()).count();
                    prop_assert_eq!(pt.unmap_range(&mut mem, at(p), n as usize), Ok(want));
                }
            }
            for p in (0..3).flat_map(|r| r * 1024 + 990..r * 1024 + 1080) {
                let want = model.get(&p).map(|&(pfn, f)| (Pfn(pfn).phys(), f));
                prop_assert_eq!(pt.translate(&mem, at(p)), want);
            }
        }
        prop_assert_eq!(pt.free_page_tables(&mut mem, 0..PTRS_PER_PGD), model.len());
        pt.free_directory(&mut mem);
        prop_assert_eq!(mem.live(), 0);
    }
}

/// `for_each_pte` visits exactly the entries that are not empty, across a
/// page-table boundary, and writes what the callback returns; `pte` and
/// `set_pte` read and write one entry; `free_empty_tables` frees only
/// tables left empty inside the range.
#[test]
fn pte_walk_rewrites_and_frees_empty_tables() {
    let mut mem = SimMem::new(8);
    let pt = PageTables::new(&mut mem).unwrap();
    let base = 0x0800_0000usize; // PDE 32
    let rw = PteFlags::PRESENT_RW | PteFlags::USER;
    // Three pages around the 4 MB boundary of PDE 32/33, one far away.
    for (i, a) in [base + 0x3f_e000, base + 0x3f_f000, base + 0x40_0000, base + 0x80_0000].into_iter().enumerate() {
        pt.map(&mut mem, va(a), Pfn(100 + i as u32), rw).unwrap();
    }
    assert_eq!(pt.pte(&mem, va(base + 0x1000)), Some(Pte::NONE));
    assert_eq!(pt.pte(&mem, va(0x4000_0000)), None, "no table there");
    let mut seen = Vec::new();
    // Write-protect what the walk over [base + 4 MB - 8 KB, + 4 pages) sees.
    let changed = pt.for_each_pte(&mut mem, va(base + 0x3f_e000), 4, |at, pte| {
        seen.push(at.as_usize());
        Some(Pte::new(pte.pfn(), pte.flags() - PteFlags::RW))
    });
    assert_eq!(seen, [base + 0x3f_e000, base + 0x3f_f000, base + 0x40_0000]);
    assert_eq!(changed, 3);
    assert!(!pt.pte(&mem, va(base + 0x40_0000)).unwrap().flags().contains(PteFlags::RW));
    assert!(pt.pte(&mem, va(base + 0x80_0000)).unwrap().flags().contains(PteFlags::RW), "outside the range");
    // A callback returning None, or the same entry, changes nothing.
    assert_eq!(pt.for_each_pte(&mut mem, va(base), 4096, |_, p| if p.pfn().0 == 100 { Some(p) } else { None }), 0);
    // set_pte needs the table; returns the old entry.
    assert_eq!(pt.set_pte(&mut mem, va(base + 0x40_0000), Pte::NONE), Ok(Pte::new(Pfn(102), rw - PteFlags::RW)));
    assert_eq!(pt.set_pte(&mut mem, va(0x4000_0000), Pte::NONE), Err(MapError::NotMapped(va(0x4000_0000))));
    // PDE 33's table is empty now, PDE 32's and 34's are not.
    let live = mem.live();
    assert_eq!(pt.free_empty_tables(&mut mem, va(base), va(base + 0xc0_0000)), 1);
    assert_eq!(mem.live(), live - 1);
    assert_eq!(pt.pte(&mem, va(base + 0x40_0000)), None);
    // A range that only partly covers an empty table leaves it.
    pt.for_each_pte(&mut mem, va(base), 1024, |_, _| Some(Pte::NONE));
    assert_eq!(pt.free_empty_tables(&mut mem, va(base + 0x1000), va(base + 0x40_0000)), 0);
    assert_eq!(pt.free_empty_tables(&mut mem, va(base), va(base + 0x40_0000)), 1);
    pt.for_each_pte(&mut mem, va(base + 0x80_0000), 1, |_, _| Some(Pte::NONE));
    teardown(pt, &mut mem);
}

#[test]
fn swap_entries_round_trip_and_stay_apart_from_frames() {
    for (ty, off) in [(0, 1), (1, 0x1234), (31, SwpEntry::MAX_OFFSET), (5, 65535)] {
        let e = SwpEntry::new(ty, off);
        assert_eq!((e.ty(), e.offset()), (ty, off));
        let pte = Pte::from_swp_entry(e);
        assert!(pte.is_swap() && !pte.is_present() && !pte.is_protnone() && !pte.has_frame() && !pte.is_none());
        assert_eq!(pte.swp_entry(), e);
    }
    // A PROT_NONE frame and a present page are not swap entries.
    let frame = Pte::new(Pfn(0x12345), PteFlags::PRESENT | PteFlags::USER);
    assert!(!frame.is_swap() && !frame.to_protnone().is_swap() && !Pte::NONE.is_swap());
}
