//! In-kernel tests of user pages at the address-space level (`mm::memory`,
//! with `fork::dup_mm` and the memory system calls), run on address spaces
//! that no user code runs in: demand-zero faults from highmem,
//! copy-on-write after `dup_mm` (shared read-only with two mappers, a
//! write copies, the last mapper's write reuses), `mprotect(PROT_NONE)`
//! keeping the frame, `mlock` faulting pages in and marking them, and
//! every page, page table and count given back when the address spaces go.
//!
//! The system calls are made as `int $0x80` makes them (`dispatch`), by
//! the test thread after it adopted the address space (`use_mm`, undone by
//! a guard on every path). Address spaces are `Arc`s: dropping the last
//! one unmaps and frees everything in it, so an early return leaves
//! nothing behind either.

use super::{skip, TestResult};
use crate::arch::x86::lib::uaccess::{copy_from_user, copy_to_user};
use crate::arch::x86::mm::fault::USER_SEGVS;
use crate::arch::x86::mm::init::page_tables_in_use;
use crate::arch::x86::pgtable_types::PteFlags;
use crate::kernel::fault_inject::FaultAttr;
use crate::kernel::sched;
use crate::layout::PAGE_SIZE;
use crate::mm::failslab::set_failslab;
use crate::mm::highmem::{memcpy_from_page, memcpy_to_page};
use crate::mm::memory::{self, handle_mm_fault, Access, FaultError, COW_COPIES, COW_REUSES};
use crate::mm::mm_types::{mm_alloc, MmRef, MmStruct};
use crate::mm::mmap::{nr_vm_areas, VmFlags, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE};
use crate::mm::mmzone::{max_low_pfn, pfn_to_page, with_node_mem_map, Watermark, ZoneType};
use crate::mm::page::PageFlags;
use crate::mm::page_alloc::{drain_all_pages, nr_free_pages, set_fail_page_alloc};
use crate::mm::pgtable::VirtAddr;
use crate::mm::vmstat::{NR_ANON_PAGES, NR_MLOCK};
use crate::pr_info;
use crate::process::fork::{dup_mm, ForkError};
use crate::process::mman::{NR_BRK, NR_MADVISE, NR_MLOCK as SYS_MLOCK, NR_MMAP2, NR_MPROTECT, NR_MUNLOCK, NR_MUNMAP};
use crate::process::syscalls::dispatch;
use ::alloc::vec;
use core::sync::atomic::Ordering::Relaxed;

const PAGE: usize = PAGE_SIZE;
const READ: Access = Access { write: false, user_esp: None };
const WRITE: Access = Access { write: true, user_esp: None };

/// Free pages once the empty slabs and the per-CPU lists are given back.
pub(super) fn settled() -> u64 {
    crate::mm::slab_common::shrink_all();
    drain_all_pages();
    nr_free_pages()
}

/// Run `body`; then the free page count must be back (less the kernel
/// page tables made meanwhile, vmalloc's, kept for good), and so must the
/// user page counters (`AnonPages`, `Mlocked`).
pub(super) fn counts_come_back(body: impl FnOnce() -> TestResult) -> TestResult {
    let (tables, anon, mlock, before) =
        (page_tables_in_use(), NR_ANON_PAGES.load(Relaxed), NR_MLOCK.load(Relaxed), settled());
    let r = body();
    let after = settled();
    let new_tables = (page_tables_in_use() - tables) as u64;
    if after + new_tables != before {
        pr_info!("ktest: free pages {} -> {} ({} new kernel page tables)", before, after, new_tables);
        return r.and(Err("free pages not back after the test"));
    }
    if NR_ANON_PAGES.load(Relaxed) != anon || NR_MLOCK.load(Relaxed) != mlock {
        pr_info!(
            "ktest: AnonPages {} -> {}, Mlocked {} -> {}",
            anon,
            NR_ANON_PAGES.load(Relaxed),
            mlock,
            NR_MLOCK.load(Relaxed)
        );
        return r.and(Err("AnonPages or Mlocked not back after the test"));
    }
    r
}

/// Whether ZONE_HIGHMEM (GFP_HIGHUSER_MOVABLE's first choice here) has
/// room above its low mark for what a test maps (a few hundred pages):
/// then every user frame must come from it.
pub(super) fn highmem_to_spare() -> bool {
    with_node_mem_map(|node, _| {
        let z = &node.zones[ZoneType::HighMem as usize];
        z.is_populated() && z.nr_free_pages() > z.watermark(Watermark::Low) + 1024
    })
}

/// The test thread runs in an address space while this lives (Linux's
/// `use_mm`): the system calls it makes act on that one. Undone on drop,
/// on every path; declare it after the `Arc` it uses, so it goes first.
pub(super) struct UseMm(());

impl UseMm {
    pub(super) fn new(mm: &MmRef) -> UseMm {
        crate::mm::mm_types::use_mm(mm);
        UseMm(())
    }
}

impl Drop for UseMm {
    fn drop(&mut self) {
        sched::unuse_mm();
    }
}

/// The bytes of user page `va` of `mm` (`None`: not mapped).
pub(super) fn read_page(mm: &MmStruct, va: usize) -> Option<vec::Vec<u8>> {
    let pfn = memory::user_frame(mm, va)?;
    let mut buf = vec![0u8; PAGE];
    // SAFETY: the frame is mapped in `mm`, which no user code runs in and
    // which the test holds: it is neither written nor freed meanwhile.
    unsafe { memcpy_from_page(&mut buf, pfn, 0) };
    Some(buf)
}

/// Fill user page `va` of `mm` with `byte`, as a user write would after
/// its fault (the frame must be mapped writable: the test checks first).
fn fill_page(mm: &MmStruct, va: usize, byte: u8) -> TestResult {
    let pfn = memory::user_frame(mm, va).ok_or("a page to fill is not mapped")?;
    let buf = vec![byte; PAGE];
    // SAFETY: a frame of `mm` mapped writable at `va`, so this mapping is
    // its only one (copy-on-write gave it a frame of its own); no user
    // code runs in `mm`.
    unsafe { memcpy_to_page(pfn, 0, &buf) };
    Ok(())
}

fn page_is(mm: &MmStruct, va: usize, byte: u8) -> bool {
    read_page(mm, va).is_some_and(|b| b.iter().all(|&x| x == byte))
}

fn mapcount(pfn: u32) -> i32 {
    pfn_to_page(pfn as usize).map_or(-99, |p| p.page_mapcount())
}

fn writable(mm: &MmStruct, va: usize) -> Option<bool> {
    let pte = mm.pte(VirtAddr::new(va)).filter(|p| p.is_present())?;
    Some(pte.flags().contains(PteFlags::RW | PteFlags::USER))
}

/// `n` private anonymous read-write pages mapped in `mm` (not faulted).
fn map_anon(mm: &MmStruct, n: usize) -> Result<usize, &'static str> {
    let mut ctx = mm.mmap.lock();
    let rlim = ctx.rlim;
    ctx.vmas
        .mmap(0, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, None, 0, &rlim)
        .map_err(|_| "VmaSet::mmap of an anonymous area failed")
}

fn fault(mm: &MmStruct, va: usize, access: Access) -> Result<(), FaultError> {
    let mut ctx = mm.mmap.lock();
    handle_mm_fault(mm, &mut ctx, va, access)
}

const COW_PAGES: usize = 4;

/// Fork's copy writes the child's entries under one page table in one
/// trip (`MmStruct::fill_ptes`), the table mapped once, where a
/// `map_page` per entry mapped it once per entry: 64 pages cost at most 3
/// page-table mappings per table (the parent's walk, the first entry's
/// map, the rest). Every page is then the parent's frame, read-only in
/// the child, with two mappers.
pub fn fork_maps_the_childs_table_once_not_per_entry() -> TestResult {
    counts_come_back(|| {
        const N: usize = 64;
        let parent = mm_alloc().map_err(|_| "mm_alloc failed")?;
        let at = map_anon(&parent, N)?;
        for i in 0..N {
            fault(&parent, at + i * PAGE, WRITE).map_err(|_| "a write fault on a writable anonymous area failed")?;
        }
        let (first, last) = (at >> 22, (at + (N - 1) * PAGE) >> 22);
        if (first..=last).any(|i| parent.pgtable_pfn(i).is_none_or(|t| (t.0 as usize) < max_low_pfn())) {
            return Err(skip("the page tables are in lowmem (nohighpte, or no highmem): no kmap to count"));
        }
        let kmaps = crate::mm::highpte::pte_kmaps();
        let child = dup_mm(&parent).map_err(|_| "dup_mm failed")?;
        let kmaps = crate::mm::highpte::pte_kmaps() - kmaps;
        for i in 0..N {
            let va = at + i * PAGE;
            let pfn = memory::user_frame(&parent, va);
            if pfn.is_none() || memory::user_frame(&child, va) != pfn || writable(&child, va) != Some(false) {
                return Err("after dup_mm the child does not map the parent's frame read-only");
            }
            if pfn.map(mapcount) != Some(2) {
                return Err("after dup_mm a shared page does not count two mappers");
            }
        }
        if kmaps > 3 * (last - first + 1) {
            pr_info!(
                "ktest: dup_mm of {} pages under {} tables mapped page tables {} times",
                N,
                last - first + 1,
                kmaps
            );
            return Err("fork mapped the child's page table once per entry");
        }
        Ok(())
    })
}

/// Copy-on-write as fork sets it up (`dup_mm`): every page of a private
/// writable area is mapped in both address spaces, read-only in both, one
/// frame with two mappers, its bytes the same; a write fault in the child
/// copies it (`COW_COPIES` + 1) into a frame of its own, leaving the
/// parent's bytes alone; the parent's write then finds itself the only
/// mapper and just makes its entry writable (`COW_REUSES` + 1). Unmapping
/// the child's pages gives the parent sole ownership back; dropping both
/// gives every page, table and count back.
pub fn fork_shares_pages_until_a_write_copies_them() -> TestResult {
    counts_come_back(cow_checks)
}

fn cow_checks() -> TestResult {
    let spare = highmem_to_spare();
    let anon0 = NR_ANON_PAGES.load(Relaxed);
    let parent = mm_alloc().map_err(|_| "mm_alloc failed")?;
    let at = map_anon(&parent, COW_PAGES)?;
    for i in 0..COW_PAGES {
        let va = at + i * PAGE;
        if read_page(&parent, va).is_some() {
            return Err("a page of a fresh area is mapped before its first fault");
        }
        fault(&parent, va, WRITE).map_err(|_| "a write fault on a writable anonymous area failed")?;
        if !page_is(&parent, va, 0) || writable(&parent, va) != Some(true) {
            return Err("a demand-zero page is not zeroed, present and writable after a write fault");
        }
        let pfn = memory::user_frame(&parent, va).ok_or("no frame after the fault")?;
        if spare && (pfn as usize) < max_low_pfn() {
            return Err("a user page came from lowmem while highmem had pages to spare");
        }
        if mapcount(pfn) != 1 {
            return Err("a new user page does not have exactly one mapper");
        }
        fill_page(&parent, va, 0xa0 + i as u8)?;
    }
    if parent.rss.load(Relaxed) != COW_PAGES || NR_ANON_PAGES.load(Relaxed) != anon0 + COW_PAGES {
        return Err("rss or AnonPages do not count the pages faulted in");
    }

    let child = dup_mm(&parent).map_err(|_| "dup_mm failed")?;
    {
        let (p, c) = (parent.mmap.lock(), child.mmap.lock());
        if !p.vmas.iter().eq(c.vmas.iter()) {
            return Err("the child's areas are not the parent's");
        }
    }
    for i in 0..COW_PAGES {
        let va = at + i * PAGE;
        let pfn = memory::user_frame(&parent, va);
        if pfn.is_none() || memory::user_frame(&child, va) != pfn {
            return Err("after dup_mm the child does not map the parent's frame");
        }
        if writable(&parent, va) != Some(false) || writable(&child, va) != Some(false) {
            return Err("after dup_mm a shared page is not read-only in both");
        }
        if pfn.map(mapcount) != Some(2) {
            return Err("after dup_mm a shared page does not count two mappers");
        }
        if !page_is(&child, va, 0xa0 + i as u8) {
            return Err("the child does not read the parent's bytes");
        }
    }
    if child.rss.load(Relaxed) != COW_PAGES || NR_ANON_PAGES.load(Relaxed) != anon0 + COW_PAGES {
        return Err("after dup_mm the child's rss is not the parent's, or AnonPages counts the shared pages twice");
    }

    // A read fault on a shared page changes nothing.
    let (copies, reuses) = (COW_COPIES.load(Relaxed), COW_REUSES.load(Relaxed));
    fault(&child, at, READ).map_err(|_| "a read fault on a shared page failed")?;
    if writable(&child, at) != Some(false) || COW_COPIES.load(Relaxed) != copies {
        return Err("a read fault on a shared page copied it or made it writable");
    }

    // The child writes page 0: a copy of its own.
    let shared = memory::user_frame(&parent, at).ok_or("no frame")?;
    fault(&child, at, WRITE).map_err(|_| "a write fault on a shared page failed")?;
    let copy = memory::user_frame(&child, at).ok_or("the child lost its page on a write fault")?;
    if COW_COPIES.load(Relaxed) != copies + 1 || COW_REUSES.load(Relaxed) != reuses {
        return Err("a write to a page with two mappers did not count exactly one copy");
    }
    if copy == shared || writable(&child, at) != Some(true) || mapcount(copy) != 1 || mapcount(shared) != 1 {
        return Err("the copy is not a new writable frame with one mapper, the original left with one");
    }
    if spare && (copy as usize) < max_low_pfn() {
        return Err("a copy-on-write copy came from lowmem while highmem had pages to spare");
    }
    if !page_is(&child, at, 0xa0) {
        return Err("the copy does not hold the original's bytes");
    }
    if NR_ANON_PAGES.load(Relaxed) != anon0 + COW_PAGES + 1 || child.rss.load(Relaxed) != COW_PAGES {
        return Err("AnonPages does not count the copy, or the child's rss changed");
    }
    fill_page(&child, at, 0x55)?;
    if !page_is(&parent, at, 0xa0) {
        return Err("the child's write reached the parent's page");
    }

    // The parent writes page 0: it is the only mapper left, no copy.
    fault(&parent, at, WRITE).map_err(|_| "the parent's write fault failed")?;
    if COW_REUSES.load(Relaxed) != reuses + 1 || COW_COPIES.load(Relaxed) != copies + 1 {
        return Err("the last mapper's write did not reuse its page");
    }
    if memory::user_frame(&parent, at) != Some(shared) || writable(&parent, at) != Some(true) {
        return Err("the reused page is not the same frame, writable");
    }

    // The child unmaps the rest: the parent owns them alone again.
    let zapped = memory::zap_page_range(&child, at + PAGE, at + COW_PAGES * PAGE);
    if zapped != COW_PAGES - 1 || child.rss.load(Relaxed) != 1 {
        return Err("zap_page_range did not unmap the child's shared pages");
    }
    for i in 1..COW_PAGES {
        let va = at + i * PAGE;
        if memory::user_frame(&child, va).is_some() || memory::user_frame(&parent, va).map(mapcount) != Some(1) {
            return Err("after the child's zap a page is still in the child or counts two mappers");
        }
        if !page_is(&parent, va, 0xa0 + i as u8) {
            return Err("the child's zap changed the parent's page");
        }
    }
    if NR_ANON_PAGES.load(Relaxed) != anon0 + COW_PAGES + 1 {
        return Err("a zap of shared pages changed AnonPages (the parent still maps them)");
    }
    fault(&parent, at + PAGE, WRITE).map_err(|_| "the parent's write fault failed")?;
    if COW_REUSES.load(Relaxed) != reuses + 2 || COW_COPIES.load(Relaxed) != copies + 1 {
        return Err("a page the child unmapped was copied on the parent's write");
    }

    drop(child);
    if NR_ANON_PAGES.load(Relaxed) != anon0 + COW_PAGES {
        return Err("dropping the child did not give back its copy");
    }
    drop(parent);
    if NR_ANON_PAGES.load(Relaxed) != anon0 {
        return Err("dropping the parent did not give back its pages");
    }
    Ok(())
}

/// A system call made by the test thread (as `int $0x80` would).
fn sys(nr: u32, a: [u32; 3]) -> i32 {
    dispatch(nr, &[a[0], a[1], a[2], 0, 0, 0])
}

/// `mmap2(0, n pages, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)`.
fn sys_map_anon(n: usize) -> Result<usize, &'static str> {
    let r =
        dispatch(NR_MMAP2, &[0, (n * PAGE) as u32, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, u32::MAX, 0]);
    if r < 0 && r > -4096 {
        pr_info!("ktest: mmap2 of {} pages gave {}", n, r);
        return Err("mmap2 of an anonymous area failed");
    }
    Ok(r as u32 as usize)
}

/// `mprotect(PROT_NONE)` on a faulted page keeps its frame in a not-present
/// entry (`_PAGE_PROTNONE`): rss unchanged, any access refused as an access
/// error; `PROT_READ` brings the same frame back read-only with its bytes,
/// and `PROT_READ | PROT_WRITE` lets a write fault make it writable again
/// without a copy (its only mapper), the areas merged back into one.
pub fn mprotect_none_keeps_the_frame_and_gives_it_back() -> TestResult {
    counts_come_back(|| {
        let mm = mm_alloc().map_err(|_| "mm_alloc failed")?;
        let _use = UseMm::new(&mm);
        let at = sys_map_anon(2)?;
        for i in 0..2 {
            fault(&mm, at + i * PAGE, WRITE).map_err(|_| "a write fault on a fresh area failed")?;
            fill_page(&mm, at + i * PAGE, 0x3c + i as u8)?;
        }
        let pfn = memory::user_frame(&mm, at).ok_or("no frame")?;
        if sys(NR_MPROTECT, [at as u32, PAGE as u32, 0]) != 0 {
            return Err("mprotect(PROT_NONE) of a mapped page failed");
        }
        let pte = mm.pte(VirtAddr::new(at)).ok_or("no page table after mprotect")?;
        if pte.is_present() || !pte.is_protnone() || pte.pfn().0 != pfn || mm.rss.load(Relaxed) != 2 {
            return Err("PROT_NONE did not keep the frame in a not-present protnone entry");
        }
        if mm.mmap.lock().vmas.len() != 2 {
            return Err("mprotect of one page of two did not split the area");
        }
        if fault(&mm, at, READ) != Err(FaultError::Access) || fault(&mm, at, WRITE) != Err(FaultError::Access) {
            return Err("an access to a PROT_NONE page was not refused as an access error");
        }
        if writable(&mm, at + PAGE) != Some(true) {
            return Err("mprotect of one page changed its neighbour");
        }
        if sys(NR_MPROTECT, [at as u32, PAGE as u32, PROT_READ]) != 0 {
            return Err("mprotect(PROT_READ) of a PROT_NONE page failed");
        }
        if memory::user_frame(&mm, at) != Some(pfn) || writable(&mm, at) != Some(false) || !page_is(&mm, at, 0x3c) {
            return Err("PROT_READ did not bring the same frame back read-only with its bytes");
        }
        if fault(&mm, at, WRITE) != Err(FaultError::Access) {
            return Err("a write to a PROT_READ page was not refused");
        }
        let reuses = COW_REUSES.load(Relaxed);
        if sys(NR_MPROTECT, [at as u32, PAGE as u32, PROT_READ | PROT_WRITE]) != 0 {
            return Err("mprotect(PROT_READ | PROT_WRITE) failed");
        }
        if mm.mmap.lock().vmas.len() != 1 {
            return Err("the areas were not merged back when their rights matched again");
        }
        fault(&mm, at, WRITE).map_err(|_| "a write fault after PROT_WRITE came back failed")?;
        if memory::user_frame(&mm, at) != Some(pfn) || writable(&mm, at) != Some(true) {
            return Err("the write fault did not make the same frame writable");
        }
        if COW_REUSES.load(Relaxed) != reuses + 1 || mapcount(pfn) != 1 {
            return Err("the write fault on its only mapper was not a reuse");
        }
        if sys(NR_MUNMAP, [at as u32, (2 * PAGE) as u32, 0]) != 0 || mm.rss.load(Relaxed) != 0 {
            return Err("munmap did not unmap both pages");
        }
        Ok(())
    })
}

/// `mlock` faults every page of the range in (write faults in a writable
/// area), marks each `PG_mlocked` and counts it in `Mlocked`; `munlock` of
/// part clears those marks only; unmapping a locked page clears its mark
/// with it. A range beyond `RLIMIT_MEMLOCK` is refused (`ENOMEM`) and
/// faults nothing in.
pub fn mlock_faults_in_and_marks_pages_munlock_clears() -> TestResult {
    const N: usize = 4;
    counts_come_back(|| {
        let mm = mm_alloc().map_err(|_| "mm_alloc failed")?;
        let _use = UseMm::new(&mm);
        let memlock = mm.mmap.lock().rlim.memlock;
        if memlock < N * PAGE {
            return Err(skip("RLIMIT_MEMLOCK is below 4 pages on this boot"));
        }
        let at = sys_map_anon(N)?;
        fault(&mm, at, WRITE).map_err(|_| "a write fault on a fresh area failed")?;
        let mlocked = NR_MLOCK.load(Relaxed);
        if sys(SYS_MLOCK, [at as u32, (N * PAGE) as u32, 0]) != 0 {
            return Err("mlock of 4 pages within RLIMIT_MEMLOCK failed");
        }
        let locked = |va: usize| {
            memory::user_frame(&mm, va)
                .and_then(|p| pfn_to_page(p as usize))
                .map(|p| p.flags().contains(PageFlags::MLOCKED))
        };
        for i in 0..N {
            let va = at + i * PAGE;
            if locked(va) != Some(true) || writable(&mm, va) != Some(true) {
                return Err("mlock did not fault in every page writable and mark it PG_mlocked");
            }
        }
        {
            let ctx = mm.mmap.lock();
            if ctx.vmas.locked_vm() != N || !ctx.vmas.find_vma(at).is_some_and(|v| v.flags.contains(VmFlags::LOCKED)) {
                return Err("the locked area is not VM_LOCKED, or locked_vm does not count it");
            }
        }
        if NR_MLOCK.load(Relaxed) != mlocked + N || mm.rss.load(Relaxed) != N {
            return Err("Mlocked does not count the locked pages, or rss the faulted ones");
        }
        if sys(NR_MUNLOCK, [at as u32, (2 * PAGE) as u32, 0]) != 0 {
            return Err("munlock of the first 2 pages failed");
        }
        if locked(at) != Some(false) || locked(at + PAGE) != Some(false) || locked(at + 2 * PAGE) != Some(true) {
            return Err("munlock did not clear exactly its pages' marks");
        }
        if NR_MLOCK.load(Relaxed) != mlocked + N - 2 || mm.mmap.lock().vmas.locked_vm() != N - 2 {
            return Err("Mlocked or locked_vm not down by the 2 unlocked pages");
        }
        if sys(NR_MUNMAP, [(at + 2 * PAGE) as u32, (2 * PAGE) as u32, 0]) != 0 {
            return Err("munmap of the locked pages failed");
        }
        if NR_MLOCK.load(Relaxed) != mlocked || mm.rss.load(Relaxed) != 2 {
            return Err("unmapping locked pages did not clear their marks");
        }
        // Beyond the limit: refused, nothing faulted in.
        let big = memlock / PAGE + 1;
        let far = sys_map_anon(big)?;
        if sys(SYS_MLOCK, [far as u32, (big * PAGE) as u32, 0]) != -12 {
            return Err("mlock beyond RLIMIT_MEMLOCK did not give -ENOMEM");
        }
        if mm.rss.load(Relaxed) != 2 || NR_MLOCK.load(Relaxed) != mlocked {
            return Err("a refused mlock faulted pages in or marked them");
        }
        Ok(())
    })
}

/// `brk` down (`sys_brk` shrinking the heap) gives the pages above the new
/// break back at once: rss, AnonPages and free pages; `munmap` of areas in
/// 4 MB regions it covers wholly frees their page tables too (counted by the guard).
pub fn brk_and_munmap_give_pages_and_tables_back() -> TestResult {
    // Its 12 MB mapping is more than RAM at -m 16M, which the overcommit
    // heuristic refuses; this test is about pages, not commitments.
    let _always = super::overcommit::OvercommitAlways::new();
    counts_come_back(|| {
        let mm = mm_alloc().map_err(|_| "mm_alloc failed")?;
        let _use = UseMm::new(&mm);
        // A heap needs a break to start from: as exec sets one.
        const START_BRK: usize = 0x0804_c000;
        {
            let mut ctx = mm.mmap.lock();
            ctx.vmas.start_brk = START_BRK;
            ctx.vmas.brk = START_BRK;
        }
        let anon0 = NR_ANON_PAGES.load(Relaxed);
        let top = START_BRK + 8 * PAGE;
        if sys(NR_BRK, [top as u32, 0, 0]) != top as i32 {
            return Err("brk up by 8 pages failed");
        }
        if mm.rss.load(Relaxed) != 0 {
            return Err("brk mapped pages before they were touched");
        }
        for va in (START_BRK..top).step_by(PAGE) {
            fault(&mm, va, WRITE).map_err(|_| "a write fault in the heap failed")?;
            fill_page(&mm, va, 0x77)?;
        }
        let free = settled();
        if sys(NR_BRK, [(START_BRK + 2 * PAGE) as u32, 0, 0]) != (START_BRK + 2 * PAGE) as i32 {
            return Err("brk down by 6 pages failed");
        }
        if mm.rss.load(Relaxed) != 2 || NR_ANON_PAGES.load(Relaxed) != anon0 + 2 {
            return Err("brk down did not unmap the 6 pages above the new break");
        }
        if (START_BRK + 2 * PAGE..top).step_by(PAGE).any(|va| memory::user_frame(&mm, va).is_some()) {
            return Err("a page above the lowered break is still mapped");
        }
        if settled() < free + 6 {
            return Err("brk down did not give the 6 frames back to the allocator");
        }
        if !page_is(&mm, START_BRK + PAGE, 0x77) {
            return Err("brk down changed a page below the new break");
        }
        // Touching above the break again is no longer a heap access.
        if fault(&mm, START_BRK + 3 * PAGE, READ) != Err(FaultError::NoVma) {
            return Err("a fault above the lowered break was not refused as unmapped");
        }
        // One page in each of three 4 MB regions: a page table each,
        // all three freed by munmap (the area covers them wholly).
        const REGION: usize = 1024 * PAGE;
        let at = 0x4000_0000;
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
        if dispatch(NR_MMAP2, &[at as u32, (3 * REGION) as u32, PROT_READ | PROT_WRITE, flags, u32::MAX, 0])
            != at as i32
        {
            return Err("mmap2 of 12 MB at 1 GB, MAP_FIXED, failed");
        }
        let tables = settled();
        for va in [at, at + REGION + 5 * PAGE, at + 3 * REGION - PAGE] {
            fault(&mm, va, WRITE).map_err(|_| "a write fault failed")?;
        }
        let used = tables - settled();
        if used != 6 {
            pr_info!("ktest: 3 pages in 3 regions took {} pages", used);
            return Err("three pages in three 4 MB regions did not take three frames and three page tables");
        }
        if sys(NR_MUNMAP, [at as u32, (3 * REGION) as u32, 0]) != 0 {
            return Err("munmap failed");
        }
        if settled() != tables {
            return Err("munmap did not give back the pages and the page tables of the area");
        }
        Ok(())
    })
}

/// `madvise(MADV_DONTNEED)` drops the pages of a private anonymous area
/// (rss, AnonPages and the frames back at once); their next touch reads
/// zero; a locked area refuses it (`EINVAL`) and keeps its pages.
pub fn madvise_dontneed_drops_pages_that_then_read_zero() -> TestResult {
    const MADV_DONTNEED: u32 = 4;
    counts_come_back(|| {
        let mm = mm_alloc().map_err(|_| "mm_alloc failed")?;
        let _use = UseMm::new(&mm);
        let at = sys_map_anon(3)?;
        for i in 0..3 {
            fault(&mm, at + i * PAGE, WRITE).map_err(|_| "a write fault on a fresh area failed")?;
            fill_page(&mm, at + i * PAGE, 0xee)?;
        }
        let anon = NR_ANON_PAGES.load(Relaxed);
        let free = settled();
        if sys(NR_MADVISE, [at as u32, (2 * PAGE) as u32, MADV_DONTNEED]) != 0 {
            return Err("madvise(MADV_DONTNEED) of 2 mapped pages failed");
        }
        if mm.rss.load(Relaxed) != 1 || NR_ANON_PAGES.load(Relaxed) != anon - 2 || settled() != free + 2 {
            return Err("MADV_DONTNEED did not give the 2 pages back at once");
        }
        if memory::user_frame(&mm, at).is_some() || !page_is(&mm, at + 2 * PAGE, 0xee) {
            return Err("MADV_DONTNEED left a page mapped, or dropped one outside its range");
        }
        fault(&mm, at, READ).map_err(|_| "a fault after MADV_DONTNEED failed")?;
        if !page_is(&mm, at, 0) {
            return Err("a page dropped by MADV_DONTNEED does not read zero at its next touch");
        }
        if sys(SYS_MLOCK, [(at + 2 * PAGE) as u32, PAGE as u32, 0]) != 0 {
            return Err("mlock of one page failed");
        }
        if sys(NR_MADVISE, [(at + 2 * PAGE) as u32, PAGE as u32, MADV_DONTNEED]) != -22 {
            return Err("MADV_DONTNEED on a locked area did not give -EINVAL");
        }
        if !page_is(&mm, at + 2 * PAGE, 0xee) {
            return Err("a refused MADV_DONTNEED dropped the locked page");
        }
        Ok(())
    })
}

/// Sets fault-injection attributes and returns the ones it replaced.
pub(super) type Inject = fn(FaultAttr) -> FaultAttr;

/// Where the out-of-memory tests make the n-th allocation fail: the page
/// allocator (`fail_page_alloc`) or the slab allocator (`failslab`: the
/// `mm_struct` and `vm_area_struct` objects; Rust's collections are
/// `__GFP_NOFAIL` and left alone).
pub(super) const INJECTIONS: [(&str, Inject); 2] = [("page", set_fail_page_alloc), ("slab", set_failslab)];

/// Puts the fault-injection settings back with the setter that changed
/// them, on every path.
pub(super) struct Restore(pub Inject, pub FaultAttr);

impl Drop for Restore {
    fn drop(&mut self) {
        (self.0)(self.1);
    }
}

/// `dup_mm` (fork's copy of the address space) that runs out of memory at
/// any of its page allocations (the directory, a page table) or slab
/// allocations (the `mm_struct`, each area's copy): the n-th fails, for
/// every n, and it gives `ENOMEM` and leaves the parent whole: its areas,
/// its pages, their bytes, one mapper each, so its next write reuses the
/// page rather than copying it; the free page count and the live
/// `vm_area_struct` objects come back each time.
pub fn dup_mm_out_of_memory_anywhere_leaves_the_parent_whole() -> TestResult {
    const REGION: usize = 1024 * PAGE;
    // The 8 MB copy is more than RAM at -m 16M (see above).
    let _always = super::overcommit::OvercommitAlways::new();
    counts_come_back(|| {
        let parent = mm_alloc().map_err(|_| "mm_alloc failed")?;
        // Pages in two 4 MB regions: the copy needs two page tables.
        let at = map_anon(&parent, 2 * REGION / PAGE)?;
        let pages = [at, at + REGION + PAGE];
        for (i, &va) in pages.iter().enumerate() {
            fault(&parent, va, WRITE).map_err(|_| "a write fault failed")?;
            fill_page(&parent, va, 0x10 + i as u8)?;
        }
        // Warm the caches dup_mm allocates from, then count.
        drop(dup_mm(&parent).map_err(|_| "dup_mm failed")?);
        // A second area, with other rights: the copy makes two objects.
        let areas = {
            let mut ctx = parent.mmap.lock();
            let rlim = ctx.rlim;
            ctx.vmas
                .mmap(0, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, None, 0, &rlim)
                .map_err(|_| "VmaSet::mmap of a read-only area failed")?;
            ctx.vmas.iter().copied().collect::<vec::Vec<_>>()
        };
        for (what, inject) in INJECTIONS {
            for n in 1.. {
                drain_all_pages();
                let (before, anon, vmas) = (nr_free_pages(), NR_ANON_PAGES.load(Relaxed), nr_vm_areas());
                let restore = Restore(inject, inject(FaultAttr::new(n, 100, 0, 1)));
                let r = dup_mm(&parent);
                let failed = inject(restore.1).failed;
                drop(restore);
                let copied = r.is_ok();
                match r {
                    Err(ForkError::NoMemory) if failed == 1 => {}
                    Ok(_) if failed == 0 => {}
                    Ok(_) => return Err("dup_mm succeeded although an allocation failed"),
                    Err(_) => return Err("a failed allocation did not give ForkError::NoMemory"),
                }
                drop(r);
                drain_all_pages();
                if nr_free_pages() != before || NR_ANON_PAGES.load(Relaxed) != anon || nr_vm_areas() != vmas {
                    pr_info!(
                        "ktest: dup_mm failing {} allocation {}: free pages {} -> {}, areas {} -> {}",
                        what,
                        n,
                        before,
                        nr_free_pages(),
                        vmas,
                        nr_vm_areas()
                    );
                    return Err("free pages, AnonPages or VMA objects not back after a dup_mm that ran out of memory");
                }
                if !parent.mmap.lock().vmas.iter().eq(areas.iter()) {
                    return Err("a dup_mm that ran out of memory changed the parent's areas");
                }
                for (i, &va) in pages.iter().enumerate() {
                    if memory::user_frame(&parent, va).map(mapcount) != Some(1) || !page_is(&parent, va, 0x10 + i as u8)
                    {
                        return Err(
                            "after a dropped copy a parent page lost its bytes or counts other than one mapper",
                        );
                    }
                }
                if copied {
                    pr_info!("ktest: dup_mm failed cleanly at each of its {} {} allocations", n - 1, what);
                    break;
                }
            }
        }
        let (copies, reuses) = (COW_COPIES.load(Relaxed), COW_REUSES.load(Relaxed));
        for &va in &pages {
            fault(&parent, va, WRITE).map_err(|_| "the parent's write fault failed")?;
        }
        // Both were write-protected by the copies (as Linux leaves them).
        if COW_COPIES.load(Relaxed) != copies || COW_REUSES.load(Relaxed) != reuses + 2 {
            return Err("the parent's write after the copies were dropped copied its page");
        }
        if pages.iter().any(|&va| writable(&parent, va) != Some(true)) {
            return Err("the parent's write fault did not make its page writable");
        }
        Ok(())
    })
}

/// A `MAP_FIXED` mapping replaces the pages under it (the new area reads
/// zero), but one that is refused before anything is unmapped
/// (`MAP_SHARED | MAP_ANONYMOUS`: `EINVAL`; `MAP_LOCKED` past
/// `RLIMIT_MEMLOCK`: `EAGAIN`) leaves the old area and its bytes alone, as
/// Linux's `do_mmap_pgoff` refuses before `mmap_region` unmaps.
pub fn map_fixed_replaces_pages_and_a_refused_one_keeps_them() -> TestResult {
    const MAP_SHARED: u32 = 0x01;
    const MAP_LOCKED: u32 = 0x2000;
    counts_come_back(|| {
        let mm = mm_alloc().map_err(|_| "mm_alloc failed")?;
        let _use = UseMm::new(&mm);
        let at = sys_map_anon(2)?;
        for i in 0..2 {
            fault(&mm, at + i * PAGE, WRITE).map_err(|_| "a write fault on a fresh area failed")?;
            fill_page(&mm, at + i * PAGE, 0x5a)?;
        }
        let rw = PROT_READ | PROT_WRITE;
        let mmap2 =
            |flags: u32, pages: usize| dispatch(NR_MMAP2, &[at as u32, (pages * PAGE) as u32, rw, flags, u32::MAX, 0]);
        if mmap2(MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, 1) != -22 {
            return Err("a shared anonymous MAP_FIXED mapping did not give -EINVAL");
        }
        let memlock = mm.mmap.lock().rlim.memlock;
        if mmap2(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_LOCKED, memlock / PAGE + 1) != -11 {
            return Err("a MAP_LOCKED MAP_FIXED mapping past RLIMIT_MEMLOCK did not give -EAGAIN");
        }
        if !page_is(&mm, at, 0x5a) || !page_is(&mm, at + PAGE, 0x5a) || mm.rss.load(Relaxed) != 2 {
            return Err("a refused MAP_FIXED mapping dropped the pages of the area it would have replaced");
        }
        if mmap2(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 1) != at as i32 {
            return Err("a MAP_FIXED mapping over a mapped page failed");
        }
        if memory::user_frame(&mm, at).is_some() || !page_is(&mm, at + PAGE, 0x5a) || mm.rss.load(Relaxed) != 1 {
            return Err("MAP_FIXED did not drop exactly the page it replaced");
        }
        fault(&mm, at, READ).map_err(|_| "a fault in the new mapping failed")?;
        if !page_is(&mm, at, 0) {
            return Err("the new MAP_FIXED mapping does not read zero");
        }
        Ok(())
    })
}

/// The kernel's user copies in an address space (what a system call does
/// for a process): a copy into a page not yet touched faults it in
/// through the page-fault handler (`do_page_fault` -> `handle_mm_fault`)
/// and lands; a copy into a read-only area, into no area, or running from
/// a writable page into a read-only one gives `EFAULT` and sends no
/// signal (the kernel, not the process, took the fault).
pub fn user_copies_fault_pages_in_and_refuse_bad_areas() -> TestResult {
    counts_come_back(|| {
        let mm = mm_alloc().map_err(|_| "mm_alloc failed")?;
        let _use = UseMm::new(&mm);
        // A read-only page right above two writable ones.
        let ro = dispatch(NR_MMAP2, &[0, PAGE as u32, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, u32::MAX, 0]);
        let ro = ro as u32 as usize;
        let rw = ro - 2 * PAGE;
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
        if !ro.is_multiple_of(PAGE)
            || dispatch(NR_MMAP2, &[rw as u32, (2 * PAGE) as u32, PROT_READ | PROT_WRITE, flags, u32::MAX, 0])
                != rw as i32
        {
            return Err("mmap2 of the test areas failed");
        }
        let segvs = USER_SEGVS.load(Relaxed);
        let data = [0x42u8; 64];
        copy_to_user(rw + 100, &data).map_err(|_| "copy_to_user into an untouched writable page failed")?;
        let page = read_page(&mm, rw).ok_or("copy_to_user did not fault the page in")?;
        if page[100..164] != data || page[..100].iter().any(|&b| b != 0) || writable(&mm, rw) != Some(true) {
            return Err("the page copy_to_user faulted in is not zeroed, writable, with the copy's bytes");
        }
        let mut back = [0xffu8; 16];
        copy_from_user(&mut back, rw + PAGE).map_err(|_| "copy_from_user from an untouched page failed")?;
        if back != [0; 16] || memory::user_frame(&mm, rw + PAGE).is_none() {
            return Err("copy_from_user of an untouched page did not fault in a zero page");
        }
        if copy_to_user(ro, &data).is_ok() {
            return Err("copy_to_user into a read-only area did not give EFAULT");
        }
        if copy_from_user(&mut back, ro).is_err() || back != [0; 16] {
            return Err("copy_from_user from a read-only area failed");
        }
        if copy_to_user(ro - 8, &data).is_ok() {
            return Err("copy_to_user running from a writable page into a read-only one did not give EFAULT");
        }
        if copy_to_user(ro + PAGE + 64 * PAGE, &data).is_ok() || copy_from_user(&mut back, 0x1000).is_ok() {
            return Err("a user copy to or from no area did not give EFAULT");
        }
        if USER_SEGVS.load(Relaxed) != segvs {
            return Err("a kernel fault on a user address counted a user segfault");
        }
        if mm.rss.load(Relaxed) != 3 {
            return Err("the copies did not fault in exactly the three pages they touched");
        }
        Ok(())
    })
}

/// `munlock` over two locked areas with a hole between them unlocks the
/// first and stops at the hole (`ENOMEM`), as Linux's `do_mlock`: the
/// second stays `VM_LOCKED`, and its pages stay `PG_mlocked` and counted.
pub fn munlock_stopped_by_a_hole_keeps_the_pages_beyond_it_locked() -> TestResult {
    const A: usize = 0x4000_0000;
    const B: usize = A + 3 * PAGE;
    counts_come_back(|| {
        let mm = mm_alloc().map_err(|_| "mm_alloc failed")?;
        let _use = UseMm::new(&mm);
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
        for at in [A, B] {
            if dispatch(NR_MMAP2, &[at as u32, (2 * PAGE) as u32, PROT_READ | PROT_WRITE, flags, u32::MAX, 0])
                != at as i32
            {
                return Err("mmap2 of a 2-page area, MAP_FIXED, failed");
            }
        }
        let mlocked = NR_MLOCK.load(Relaxed);
        for at in [A, B] {
            if sys(SYS_MLOCK, [at as u32, (2 * PAGE) as u32, 0]) != 0 {
                return Err("mlock of a 2-page area failed");
            }
        }
        if NR_MLOCK.load(Relaxed) != mlocked + 4 {
            return Err("mlock of two 2-page areas did not mark 4 pages");
        }
        if sys(NR_MUNLOCK, [A as u32, (5 * PAGE) as u32, 0]) != -12 {
            return Err("munlock over a hole did not give -ENOMEM");
        }
        let locked = |va: usize| {
            memory::user_frame(&mm, va)
                .and_then(|p| pfn_to_page(p as usize))
                .map(|p| p.flags().contains(PageFlags::MLOCKED))
        };
        if locked(A) != Some(false) || locked(A + PAGE) != Some(false) {
            return Err("munlock did not unlock the pages of the area before the hole");
        }
        let b_locked =
            mm.mmap.lock().vmas.find_vma(B).is_some_and(|v| v.start == B && v.flags.contains(VmFlags::LOCKED));
        if !b_locked {
            return Err("the area beyond the hole lost VM_LOCKED");
        }
        if locked(B) != Some(true) || locked(B + PAGE) != Some(true) || NR_MLOCK.load(Relaxed) != mlocked + 2 {
            return Err("the pages of the area beyond the hole, still VM_LOCKED, lost PG_mlocked");
        }
        Ok(())
    })
}
