//! vmalloc (Linux's mm/vmalloc.c): virtually contiguous kernel memory made
//! of frames from anywhere (highmem first), mapped between `VMALLOC_START`
//! and `VMALLOC_END` in the reference page directory `swapper_pg_dir`, and
//! copied lazily into another directory when a fault finds its PDE missing.
//!
//! `vmalloc` follows 2.6.24's `__vmalloc_node`: first the address range
//! (`__get_vm_area_node`: a request that cannot fit costs nothing, not even
//! one frame), then the frames, then the page tables
//! (`__vmalloc_area_node`, `map_vm_area`); every failure gives back what
//! was taken and says why. `vfree` unmaps with one TLB flush and frees the
//! frames, but keeps the area's record where it was, as `VmKind::Freed`:
//! first fit counts it as free room, and a vmalloc of the size just freed
//! takes that very record back, so a vfree+vmalloc pair moves no record.
//! `vmap`/`vunmap` map frames the caller keeps.
//!
//! The area records and their first-fit search are `mm::vmap_area` (pure,
//! host-tested); this file holds the lock over them and does what they ask
//! of the machine.

use super::vmap_area::{
    vmallocinfo_line, Lookup, PageList, Reserved, VmArea, VmKind, VmallocError, VmapAreas, INLINE_PAGES,
};
use crate::arch::x86::cpu::{flush_tlb_all, read_cr3, read_ebp};
use crate::arch::x86::mm::init::swapper_pg_dir_phys;
use crate::arch::x86::pgtable_types::PteFlags;
use crate::kernel::sync::{IrqLock, SpinLock, SpinLockGuard};
use crate::layout::{phys_to_virt, PAGE_SHIFT, PAGE_SIZE, PGDIR_SHIFT, PTRS_PER_PTE, VMALLOC_END};
use crate::mm::gfp::{Gfp, GFP_KERNEL};
use crate::mm::page_alloc::{self, Pages};
use crate::mm::pgtable::{PageTables, Pfn, Pte, TableMemory, VirtAddr, MAX_PFN};
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
/// Serialises the making of page tables in the reference directory (a PDE
/// written, a table allocated): Linux's `init_mm.page_table_lock`, which
/// `pte_alloc_kernel` takes. Writing the PTEs of a range needs no lock
/// once its table exists: the range belongs to one area, whose owner alone
/// writes them (Linux's `vmap_pte_range` and `vunmap_pte_range` take none),
/// and kernel page tables are never freed, nor their PDEs changed again.
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
#[cfg(feature = "ktest")]
pub fn preempt_count_under_vmap_lock() -> u32 {
    let _g = VMAP.lock();
    crate::kernel::preempt::preempt_count()
}

/// Grow the record vector to hold at least `n` records, as
/// [`vmap_lock_with_room`] grows it (outside the lock), for tests that count
/// free pages: the vector keeps its capacity, so growing inside the count
/// would look like a leak.
#[cfg(feature = "ktest")]
pub fn reserve_records(n: usize) {
    loop {
        let cap = VMAP.lock().capacity();
        if cap >= n {
            return;
        }
        let bigger = ::alloc::vec::Vec::with_capacity(n.max(2 * cap));
        let unused = VMAP.lock().grow(bigger);
        drop(unused);
    }
}

/// The lock that serialises changes to the reference directory, for a
/// caller that changes vmalloc PTEs itself (tests).
#[cfg(feature = "ktest")]
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
    /// caller may change: in the kernel's reference directory, a PDE (a
    /// new page table) only with `PGTABLE_LOCK` held, and a PTE only in a
    /// range the caller owns; mapping only frames the caller owns, and
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

/// Word `index` of the page table at `table_phys`, reached through the
/// direct map: one volatile access each (the MMU reads these words behind
/// the compiler's back).
///
/// # Safety
/// `table_phys` is a page table in lowmem and `index < 1024`; a write must
/// be one the caller may make (see [`DirectMapTables::new`]).
unsafe fn table_word<'a>(table_phys: u32, index: usize) -> volatile::VolatilePtr<'a, u32> {
    let p = (phys_to_virt(table_phys as usize) as *mut u32).wrapping_add(index);
    // SAFETY: the caller's contract: a lowmem address, never null.
    unsafe { volatile::VolatilePtr::new(core::ptr::NonNull::new_unchecked(p)) }
}

impl TableMemory for DirectMapTables {
    fn read_entry(&self, table_phys: u32, index: usize) -> u32 {
        assert!(index < 1024);
        // SAFETY: page tables are lowmem pages, mapped at __va; index < 1024,
        // so the word lies inside the table and is aligned.
        unsafe { table_word(table_phys, index) }.read()
    }

    fn write_entry(&mut self, table_phys: u32, index: usize, val: u32) {
        assert!(index < 1024);
        // SAFETY: as above; the caller holds PGTABLE_LOCK, or owns the
        // range the entry maps (see `DirectMapTables::new`).
        unsafe { table_word(table_phys, index) }.write(val)
    }

    fn alloc_table(&mut self) -> Option<u32> {
        // Under PGTABLE_LOCK: the allocator does not sleep.
        // Without HIGHMEM: page tables are reached through the direct map.
        let low = page_alloc::alloc_pages_nosleep((self.table_gfp - Gfp::HIGHMEM) | Gfp::ZERO, 0)?.lowmem().ok()?;
        Some(low.pfn() << PAGE_SHIFT)
    }

    fn free_table(&mut self, phys: u32) {
        // SAFETY: page tables come from alloc_table (order 0) and are given back once.
        page_alloc::__free_pages(unsafe { Pages::from_raw(phys >> PAGE_SHIFT, 0) });
    }
}

fn reference() -> PageTables {
    // SAFETY: swapper_pg_dir is the kernel's page directory, in the
    // kernel image (lowmem); this file changes it only in the vmalloc
    // range: its PDEs under PGTABLE_LOCK, the PTEs of an area by its owner.
    unsafe { PageTables::from_phys(swapper_pg_dir_phys() as u32) }
}

/// Set the area's bounds once `high_memory` is known.
pub fn vmalloc_init() {
    *VMAP.lock() = VmapAreas::new(crate::mm::mmzone::vmalloc_start(), VMALLOC_END);
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
    crate::kernel::preempt::might_sleep("vmalloc");
    if size == 0 {
        return Err(VmallocError::ZeroSize);
    }
    let pages = size.div_ceil(PAGE_SIZE);
    // The record goes in with no pages: the range is ours from here on,
    // and the frames are allocated outside the lock (that may sleep).
    let Reserved { addr, index, .. } = reserve(pages, VmKind::Vmalloc, caller)?;
    let fail = |what: &'static str, pfns: &[u32]| vmalloc_fail(addr, size, pages, what, pfns);
    // The list is made whole first (zeros), then filled: the frames of a
    // small area go straight into the record's own slots. The page array
    // may be large (4 bytes a page): a failure to get it is an answer, not
    // a panic (Linux kmallocs or vmallocs it, and checks).
    let mut pfns = if pages <= INLINE_PAGES {
        PageList::Inline { len: pages as u8, pfns: [0; INLINE_PAGES] }
    } else {
        let Some(mut v) = pfn_array(pages) else {
            return fail("memory for the page array", &[]);
        };
        v.resize(pages, 0); // within its capacity: no allocation
        PageList::from(v)
    };
    let frames = pfns.as_mut_slice();
    for i in 0..pages {
        // No __GFP_NOWARN: as in 2.6.24's __vmalloc_area_node, the page
        // allocator reports its failure, then vmalloc says what it gave up.
        let Some(p) = page_alloc::alloc_pages((gfp - Gfp::ZERO) | Gfp::HIGHMEM, 0) else {
            return fail("free page", &frames[..i]);
        };
        // The frame is owned by the area from here on (`pfns`), and
        // freed through it.
        let pfn = p.into_raw();
        if zero {
            // SAFETY: a frame just allocated for this area.
            unsafe { crate::mm::highmem::clear_highpage(pfn) };
        }
        frames[i] = pfn;
    }
    if !map_pages(addr, &pfns, gfp) {
        return fail("page for a page table", &pfns);
    }
    let mut v = VMAP.lock();
    match v.get_mut_at(index, addr) {
        Some(a) => a.pages = pfns,
        None => {
            // A vfree of an address vmalloc had not returned yet: the
            // caller's bug. The record is gone; undo the rest.
            drop(v);
            let a = VmArea { addr, size: (pages + 1) * PAGE_SIZE, kind: VmKind::Vmalloc, caller, pages: pfns };
            unmap_area(a.addr, a.pages.len());
            free_frames(&a.pages);
            vfree_bug(addr as *const u8, "freed before vmalloc returned it");
            return Err(VmallocError::NoSpace { size, largest_free: 0 });
        }
    }
    drop(v);
    NonNull::new(addr as *mut u8).ok_or(VmallocError::ZeroSize)
}

/// A vmalloc that got its range but not all it needs: give back the
/// frames and the range, and say why. Out of line: the success path
/// builds nothing for it.
#[cold]
#[inline(never)]
fn vmalloc_fail(
    addr: usize,
    size: usize,
    pages: usize,
    what: &'static str,
    pfns: &[u32],
) -> Result<NonNull<u8>, VmallocError> {
    free_frames(pfns);
    let gone = VMAP.lock().remove(addr);
    drop(gone);
    let e = VmallocError::NoMemory { size, what, got: pfns.len(), pages };
    crate::pr_warn!("vmalloc: allocation failure: {}", e);
    Err(e)
}

/// Room for `pages` pages and a guard page; freed records are taken back.
fn reserve(pages: usize, kind: VmKind, caller: usize) -> Result<Reserved, VmallocError> {
    vmap_lock_with_room().reserve_reusing(pages, kind, caller)
}

/// The one batched flush of an unmapping.
fn flush_unmapped() {
    flush_tlb_all();
    VUNMAP_FLUSHES.fetch_add(1, Ordering::Relaxed);
}

/// An empty vector with room for exactly `n` frame numbers, or `None`
/// when kmalloc has no memory for it (Linux's `__vmalloc_area_node`
/// kmallocs `area->pages` and checks). The same as `try_reserve_exact`
/// on an empty vector, without its generic grow path (about 50
/// instructions more per vmalloc).
fn pfn_array(n: usize) -> Option<::alloc::vec::Vec<u32>> {
    let layout = core::alloc::Layout::array::<u32>(n).ok()?;
    if layout.size() == 0 {
        return Some(::alloc::vec::Vec::new());
    }
    // SAFETY: the layout's size is not zero.
    let p = unsafe { ::alloc::alloc::alloc(layout) } as *mut u32;
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` comes from the global allocator with the layout of
    // `n` u32s, the one a `Vec<u32>` of capacity `n` has; length 0 is
    // within the capacity and no element needs to be initialised.
    Some(unsafe { ::alloc::vec::Vec::from_raw_parts(p, 0, n) })
}

fn free_frames(pfns: &[u32]) {
    for &pfn in pfns {
        // SAFETY: the area's frames were allocated (order 0) for it and
        // are unmapped now.
        page_alloc::__free_pages(unsafe { Pages::from_raw(pfn, 0) });
    }
}

/// Map `pfns` at `addr` in the reference directory. Entries were not
/// present, so no flush is needed.
///
/// Linux's `vmap_page_range`: the PTEs are written a page table at a time
/// ([`vmap_pte_range`]). What that loop does not do (make a page table, or
/// name the bad entry or frame it stopped at) the generic
/// `PageTables::map_range` does for the rest of the range, and a failure
/// there undoes the whole range.
fn map_pages(addr: usize, pfns: &[u32], gfp: Gfp) -> bool {
    // SAFETY: `addr` is a range reserved in VMAP for this caller, and the
    // frames are the caller's; `vmap_pte_range` writes PTEs only, in
    // tables that exist; a table is made below, under PGTABLE_LOCK.
    let mut mem = unsafe { DirectMapTables::new() }.with_table_gfp(gfp - Gfp::ZERO);
    let pgd = reference();
    // SAFETY: as above.
    let done = unsafe { vmap_pte_range(&pgd, &mem, addr, pfns) };
    if done == pfns.len() {
        return true;
    }
    let _g = PGTABLE_LOCK.lock();
    let rest = pfns[done..].iter().map(|&p| Pfn(p));
    let r = pgd.map_range(&mut mem, VirtAddr::new(addr + done * PAGE_SIZE), rest, PteFlags::KERNEL);
    if r.is_err() {
        // map_range undid what it wrote; the fast loop's pages go too. Entries
        // were briefly present.
        // SAFETY: as above: these are the entries written just now.
        unsafe { vunmap_pte_range(&pgd, &mut mem, addr, done) };
        flush_tlb_all();
    }
    r.is_ok()
}

/// Linux's `vmap_pte_range`: write the PTEs of `pfns` from `addr` while
/// their page tables exist (kernel page tables are never freed, so after
/// the first area in a 4 MB range they do) and each entry is empty;
/// returns how many were written.
///
/// # Safety
/// `[addr, addr + pfns.len() pages)` is a vmalloc range the caller
/// reserved (nobody else writes its entries), and the frames are the
/// caller's to map. No lock: only PTEs are written, in tables that exist.
unsafe fn vmap_pte_range(pgd: &PageTables, mem: &DirectMapTables, addr: usize, pfns: &[u32]) -> usize {
    let mut done = 0;
    while done < pfns.len() {
        let va = addr + done * PAGE_SIZE;
        let Some(table) = pgd.pde(mem, va >> PGDIR_SHIFT).table() else { return done };
        let first = (va >> PAGE_SHIFT) & (PTRS_PER_PTE - 1);
        let run = (PTRS_PER_PTE - first).min(pfns.len() - done);
        for (i, &pfn) in pfns[done..done + run].iter().enumerate() {
            // SAFETY: `table` is a page table of the reference directory (a
            // lowmem page), `first + i < 1024`; the entry is in the caller's
            // range, which only the caller writes.
            let entry = unsafe { table_word(table, first + i) };
            if entry.read() != 0 || pfn >= MAX_PFN {
                return done + i;
            }
            entry.write(Pte::new(Pfn(pfn), PteFlags::KERNEL | PteFlags::PRESENT).0);
        }
        done += run;
    }
    done
}

/// Linux's `vunmap_pte_range`: clear `npages` entries from `addr`, a page
/// table at a time, skipping a 4 MB range without a table; returns how many
/// were present (the caller flushes when any were). A 4 MB page in the
/// vmalloc range (a kernel bug) is left alone and counted as present, so
/// the caller flushes anyway.
///
/// # Safety
/// The range is one the caller mapped and owns (its record is out of
/// VMAP, or marked freed under the VMAP lock the caller holds, or was
/// never handed out); only its PTEs are written, so no lock is needed.
unsafe fn vunmap_pte_range(pgd: &PageTables, mem: &mut DirectMapTables, addr: usize, npages: usize) -> usize {
    let mut present = 0;
    let mut done = 0;
    while done < npages {
        let va = addr + done * PAGE_SIZE;
        let pde = pgd.pde(mem, va >> PGDIR_SHIFT);
        let first = (va >> PAGE_SHIFT) & (PTRS_PER_PTE - 1);
        let run = (PTRS_PER_PTE - first).min(npages - done);
        if pde.is_large() {
            present += 1;
        } else if let Some(table) = pde.table() {
            for idx in first..first + run {
                // SAFETY: as in `vmap_pte_range`; the entries are the caller's.
                let entry = unsafe { table_word(table, idx) };
                let old = Pte(entry.read());
                if !old.is_none() {
                    present += old.is_present() as usize;
                    entry.write(0);
                }
            }
        }
        done += run;
    }
    present
}

/// Unmap the `npages` pages of the area at `addr` with ONE batched TLB
/// flush.
fn unmap_area(addr: usize, npages: usize) {
    if clear_ptes(addr, npages) > 0 {
        flush_unmapped();
    }
}

/// Clear the PTEs of the `npages` pages at `addr`, without a flush;
/// returns how many were present.
fn clear_ptes(addr: usize, npages: usize) -> usize {
    // SAFETY: the range is the caller's: its record was removed from VMAP
    // by this caller, or marked freed by it under the VMAP lock it still
    // holds (so no vmalloc can take the range before the entries are
    // clear), or never handed out. Only PTEs are written.
    let mut mem = unsafe { DirectMapTables::new() };
    // SAFETY: as above.
    unsafe { vunmap_pte_range(&reference(), &mut mem, addr, npages) }
}

/// `vfree`: unmap (one flush) and free the frames; the record stays, freed
/// (see the module docs). A pointer that is not the start of a vmalloc area is
/// reported and left alone.
///
/// # Safety
/// If `addr` starts a vmalloc area, the caller owns that area (it came
/// from `vmalloc` and was not freed since) and nothing touches it after
/// this call: its frames go back to the page allocator. Freeing an area
/// somebody else still uses (another thread's kernel stack, say) would be
/// a use after free.
pub unsafe fn vfree(addr: *const u8) {
    if addr.is_null() {
        return;
    }
    // Linux BUG()s here: unmapping flushes the TLB and may wait, and the
    // record lock is not interrupt safe (an interrupted holder would be
    // spun on forever). Refused and reported; the area stays.
    if crate::kernel::preempt::in_interrupt() {
        vfree_bug(addr, "called in interrupt context; the area is kept");
        return;
    }
    // Decide under one hold of the lock, so no vmalloc can take the
    // range between a check and a removal; and clear the PTEs under it
    // too, before a vmalloc may take the range again (2.6.24's
    // __remove_vm_area unmaps under vmlist_lock as well).
    let mut v = VMAP.lock();
    match v.free_in_place(addr as usize) {
        Ok(pages) => {
            if clear_ptes(addr as usize, pages.len()) > 0 {
                flush_unmapped();
            }
            // Freed under the lock, from the record itself (the page
            // allocator does not sleep), so the list is not copied.
            free_frames(pages);
            let heap = pages.clear();
            if v.freed_over_limit() {
                v.purge_freed();
            }
            drop(v);
            drop(heap);
        }
        Err(other) => {
            drop(v);
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
    crate::kernel::preempt::might_sleep("vmap");
    let who = caller();
    // The record's page list is made before the lock is taken.
    let list = PageList::from(pfns);
    let addr = reserve(pfns.len(), VmKind::Vmap, who).ok()?.addr;
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
///
/// # Safety
/// If `addr` starts a vmap area, the caller made it with `vmap` and
/// nothing reads or writes through it after this call.
pub unsafe fn vunmap(addr: *const u8) {
    if crate::kernel::preempt::in_interrupt() {
        VFREE_BUGS.fetch_add(1, Ordering::Relaxed);
        crate::kernel::panic::warn(format_args!(
            "BUG: vunmap({:#010x}): called in interrupt context; the area is kept",
            addr as usize
        ));
        return;
    }
    let area = {
        let mut v = VMAP.lock();
        match v.get(addr as usize).map(|a| (a.kind, a.pages.len())) {
            Some((VmKind::Vmap, n)) => {
                // Unmapped (one flush) before the range is free again, as
                // 2.6.24's __remove_vm_area does under vmlist_lock: a
                // vmalloc that takes it next must not find our PTEs.
                unmap_area(addr as usize, n);
                Ok(v.remove(addr as usize))
            }
            Some((VmKind::Vmalloc, _)) => Err("of a vmalloc area: use vfree"),
            Some((VmKind::Freed, _)) | None => Err("not a vmap area"),
        }
    };
    match area {
        Ok(_) => {}
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
    // LAB 5: BEGIN copy the PDE the running directory lacks from the reference directory
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
    // LAB 5: STUB
    // let _ = (address, read_cr3 as fn() -> u32);
    // false // nothing copied: the fault is not handled, and the kernel oopses
    // LAB 5: END
}

/// Copy into directory `pgd_phys` the kernel PDEs that cover `[lo, hi)`
/// and that it lacks (the eager form of `vmalloc_fault`), for memory
/// that must be reachable without a fault: the scheduler's kernel
/// stacks, before CR3 switches to `pgd_phys`. A no-op for
/// `swapper_pg_dir` itself and for addresses below `PAGE_OFFSET`.
/// Interrupts off (the scheduler calls it between its lock and the switch).
///
/// # Safety
/// `pgd_phys` is a page directory in lowmem that stays allocated during
/// the call (the PDEs written are the reference's, into empty slots).
pub unsafe fn sync_kernel_range(pgd_phys: usize, lo: usize, hi: usize) {
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
        Lookup::Mapped(a) => {
            writeln!(out, "vmalloc: {:#010x} is inside the area {:#010x}-{:#010x}", address, a.addr, a.addr + a.size)
        }
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
        vmallocinfo_line(out, &a, name)?;
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
#[cfg(feature = "ktest")]
pub fn highmem_pages(addr: usize) -> Option<(usize, usize)> {
    let v = VMAP.lock();
    let a = v.get(addr)?;
    Some((a.pages.iter().filter(|&&p| p as usize >= crate::mm::mmzone::max_low_pfn()).count(), a.pages.len()))
}
