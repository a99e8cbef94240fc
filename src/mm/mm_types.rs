//! Address spaces: Linux's `struct mm_struct` (include/linux/mm_types.h),
//! made by `mm_alloc` (kernel/fork.c) and freed when the last user drops it
//! (`mmput`).
//!
//! An `MmStruct` owns its page directory and the page tables of its user
//! half (PDEs 0..768). Its kernel half (768..1024) is a copy of
//! `swapper_pg_dir`'s, made by `pgd_alloc`: those PDEs point at the
//! kernel's own page tables, shared by every address space and never freed
//! here (a vmalloc PDE made later reaches it through the lazy sync of
//! `vmalloc_fault`). Dropping the last reference frees the user page tables
//! and the directory; the frames mapped in it are their owners' to free, and
//! a drop that finds some still mapped says so.
//!
//! Tasks hold an `MmRef` (an `Arc` in the `mm_struct` slab cache; the
//! count is Linux's `mm_users`); the scheduler loads its directory into
//! CR3 when it switches to such a task. The scheduler, a layer below,
//! holds its reference as a `dyn AddressSpace` of its own (`use_mm`).
//!
//! The user page tables come from highmem first and are reached through
//! `kmap_atomic` (`mm::highpte`, Linux's `CONFIG_HIGHPTE`): every method
//! walks them through a [`HighPteTables`] made under the page-table lock
//! and dropped before it (declared after the guard), so its slot is given
//! back before preemption can come back.

use crate::arch::x86::cpu::{flush_tlb_all, flush_tlb_one, load_cr3, read_cr3};
use crate::arch::x86::mm::init::swapper_pg_dir_phys;
use crate::arch::x86::pgtable_types::PteFlags;
use crate::kernel::mutex::Mutex;
use crate::kernel::sync::{SpinLock, SpinLockGuard};
use crate::layout::{PAGE_SIZE, TASK_SIZE};
use crate::mm::highpte::{pte_alloc_one, HighPteTables, PteMap};
use crate::mm::kmem_alloc::{KmemCacheAlloc, NamedCache};
use crate::mm::mmap::{FileRef, Rlimits, VmaSet};
use crate::mm::page_alloc;
use crate::mm::pgtable::{MapError, PageTables, Pfn, PhysAddr, Pte, TableMemory, VirtAddr};
use crate::mm::vmalloc::DirectMapTables;
use ::alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Pages in one walk's range above which one full TLB flush beats an
/// `invlpg` per page (Linux's
/// `tlb_single_page_flush_ceiling`, 33).
const FLUSH_ALL_THRESHOLD: usize = 33;

pub struct MmStruct {
    /// The areas and what goes with them, under Linux's `mmap_sem` (a
    /// sleeping lock: a fault holds it while it allocates and copies).
    pub mmap: Mutex<MmContext>,
    /// Pages mapped in this address space now (Linux's `MM_ANONPAGES`
    /// rss counter: every user page here is anonymous or a private copy).
    pub rss: AtomicUsize,
    /// The highest `rss` seen (`hiwater_rss`, `VmHWM`).
    pub hiwater_rss: AtomicUsize,
    /// The directory, under Linux's `mm->page_table_lock`. `None` only
    /// while `Drop` frees it.
    page_table_lock: SpinLock<Option<PageTables>>,
    /// What CR3 holds while a task of this mm runs (a copy, readable
    /// without the lock by the scheduler).
    pgd_phys: u32,
    /// User page tables in the directory (Linux's `mm->nr_ptes`, which
    /// `VmPTE` reports). Changed under the lock.
    nr_ptes: AtomicUsize,
    /// Swap entries in this address space's page tables (Linux's
    /// `MM_SWAPENTS`, `VmSwap`).
    pub swapents: AtomicUsize,
    /// The area pages (`total_vm`) as the last page fault found them, for
    /// the OOM report of a task killed inside its own fault, whose
    /// `mmap` lock the fault holds.
    pub total_vm_at_fault: AtomicUsize,
    /// The reverse map's family this address space belongs to
    /// (`mm::rmap`; Linux's pages point at an `anon_vma` instead).
    pub anon_family: AtomicU32,
}

/// Linux's `mm_alloc`: a new, empty user address space sharing the kernel's
/// half, in a reverse-map family of its own (exec). May sleep (it
/// allocates the directory).
pub fn mm_alloc() -> Result<MmRef, MapError> {
    mm_alloc_in(None)
}

/// A new, empty address space for a child of `parent` (fork): in
/// `parent`'s reverse-map family, since it will share its pages.
pub fn mm_alloc_forked(parent: &MmStruct) -> Result<MmRef, MapError> {
    mm_alloc_in(Some(parent))
}

fn mm_alloc_in(parent: Option<&MmStruct>) -> Result<MmRef, MapError> {
    crate::kernel::preempt::might_sleep("mm_alloc");
    // SAFETY: the calls below read swapper_pg_dir (the kernel's directory,
    // in lowmem; kernel PDEs only ever go from empty to present, so a read
    // racing with vmalloc sees either, and the lazy sync covers the other)
    // and write only the new directory, which is ours.
    let mut mem = unsafe { DirectMapTables::new() };
    // SAFETY: swapper_pg_dir is a page directory for the kernel's lifetime;
    // only read through this handle.
    let swapper = unsafe { PageTables::from_phys(swapper_pg_dir_phys() as u32) };
    let pgd = PageTables::pgd_alloc(&mut mem, &swapper)?;
    let pgd_phys = pgd.pgd_phys();
    let mm = MmStruct {
        mmap: Mutex::new(MmContext::new()),
        rss: AtomicUsize::new(0),
        hiwater_rss: AtomicUsize::new(0),
        page_table_lock: SpinLock::new(Some(pgd)),
        pgd_phys,
        nr_ptes: AtomicUsize::new(0),
        swapents: AtomicUsize::new(0),
        total_vm_at_fault: AtomicUsize::new(0),
        anon_family: AtomicU32::new(NO_FAMILY),
    };
    // No memory for it: `mm` is dropped, and with it the directory.
    let mm = Arc::try_new_in(mm, KmemCacheAlloc(&MM_STRUCT_CACHE)).map_err(|_| MapError::NoMemory)?;
    crate::mm::rmap::anon_link(&mm, parent).map_err(|_| MapError::NoMemory)?;
    Ok(mm)
}

/// `anon_family` before `anon_link` put the address space in one.
const NO_FAMILY: u32 = u32::MAX;

/// Address spaces live in the `mm_struct` cache, as Linux's do.
static MM_STRUCT_CACHE: NamedCache = NamedCache::new("mm_struct");

/// A reference to an address space (Linux's `mm_users` is its count).
pub type MmRef = Arc<MmStruct, KmemCacheAlloc>;

/// What the scheduler holds: a reference to the mm, in an `Arc` of the
/// global allocator (the scheduler, below mm, cannot name the cache's
/// allocator type; this small handle is the price).
struct MmHandle(MmRef);

// SAFETY: as `MmStruct`'s directory: made by `mm_alloc` with the kernel
// half copied from swapper_pg_dir, freed only when the last `MmRef` goes,
// and the handle holds one. `sync_kernel_range` copies PDEs, never sleeps.
unsafe impl crate::kernel::sched::AddressSpace for MmHandle {
    fn pgd_phys(&self) -> usize {
        self.0.pgd_phys as usize
    }

    fn sync_kernel_range(&self, lo: usize, hi: usize) {
        // SAFETY: our directory, alive while the handle is (see above).
        unsafe { crate::mm::vmalloc::sync_kernel_range(self.0.pgd_phys as usize, lo, hi) };
    }
}

/// Linux's `use_mm`: the calling thread adopts `mm` (see `sched::use_mm`).
pub fn use_mm(mm: &MmRef) {
    crate::kernel::sched::use_mm(Arc::new(MmHandle(mm.clone())));
}

/// What `mmap_sem` guards: the areas (with `brk` and the stack's start),
/// the resource limits the calls obey, the program file and the peak size.
pub struct MmContext {
    pub vmas: VmaSet,
    /// The limits of the process that owns this mm (Linux reads them from
    /// `current->signal->rlim`; one process per mm here, so they are kept
    /// where the calls that obey them can see them).
    pub rlim: Rlimits,
    /// The program's file (Linux's `exe_file`): where a fault on a
    /// `VmaKind::File` area reads its page.
    pub exe: Option<(FileRef, &'static [u8])>,
    /// The highest `total_vm` seen, in pages (`hiwater_vm`, `VmPeak`).
    pub hiwater_vm: usize,
    /// This space's charge in `Committed_AS` (`mm::util`), given back
    /// when the space goes.
    pub committed: crate::mm::util::VmCommitted,
}

impl MmContext {
    fn new() -> MmContext {
        MmContext {
            vmas: VmaSet::new(Rlimits::DEFAULT.stack),
            rlim: Rlimits::DEFAULT,
            exe: None,
            hiwater_vm: 0,
            committed: crate::mm::util::VmCommitted::new(),
        }
    }

    /// Note a new size for `VmPeak`.
    pub fn update_hiwater_vm(&mut self) {
        self.hiwater_vm = self.hiwater_vm.max(self.vmas.total_vm());
    }
}

/// Raise `mm`'s peak resident set (`VmHWM`) to `rss`, the count it just
/// reached (Linux's `update_hiwater_rss`). The peak moves only when the
/// count passes it: a load, not a compare-exchange loop, on most faults.
#[inline]
pub fn update_hiwater_rss(mm: &MmStruct, rss: usize) {
    if rss > mm.hiwater_rss.load(Ordering::Relaxed) {
        mm.hiwater_rss.fetch_max(rss, Ordering::Relaxed);
    }
}

/// The calling thread's address space (Linux's `current->mm`), `None` for
/// a kernel thread.
pub fn current_mm() -> Option<MmRef> {
    // Borrowed from the scheduler, not cloned: the one reference taken is
    // the `MmRef` returned.
    // SAFETY: the closure only downcasts and clones an `Arc`: it does not
    // sleep, schedule or change the thread's mm.
    unsafe {
        crate::kernel::sched::with_current_mm(|mm| {
            let any: &dyn core::any::Any = mm?;
            any.downcast_ref::<MmHandle>().map(|h| h.0.clone())
        })
    }
}

impl MmStruct {
    /// The table memory of this mm, for one use under its page-table lock
    /// (or by `drop`, when nobody else can reach it).
    ///
    /// # Safety
    /// The caller holds `page_table_lock` (or is `drop`) while it uses the
    /// value, and writes only entries the methods' contracts allow.
    unsafe fn tables(&self) -> HighPteTables<'_> {
        // SAFETY: our directory (lowmem, from mm_alloc) and its user tables
        // (from pte_alloc_one, used only as ours); the rest is the caller's.
        unsafe { HighPteTables::new(self.pgd_phys, &self.nr_ptes) }
    }

    /// User page tables this mm holds (Linux's `mm->nr_ptes`; `VmPTE` is
    /// this times 4 kB).
    pub fn nr_ptes(&self) -> usize {
        self.nr_ptes.load(Ordering::Relaxed)
    }

    /// Where user page table `i` (the one under PDE `i`, `i < 768`) lives:
    /// its frame, or `None` when the PDE is empty (for tests and reports:
    /// HIGHPTE puts these in highmem).
    pub fn pgtable_pfn(&self, i: usize) -> Option<Pfn> {
        if i >= crate::layout::KERNEL_PGD_FIRST {
            return None;
        }
        let g = self.page_table_lock.lock();
        // SAFETY: reads only, under the lock.
        let mem = unsafe { self.tables() };
        g.as_ref()?.pde(&mem, i).table().map(|t| PhysAddr(t).pfn())
    }

    /// What goes into CR3 to run in this address space.
    pub fn pgd_phys(&self) -> usize {
        self.pgd_phys as usize
    }

    /// Whether the CPU is running on this directory now.
    fn is_loaded(&self) -> bool {
        read_cr3() & !0xfff == self.pgd_phys
    }

    /// Map the user page at `va` to frame `pfn` (`USER` is added). Refuses
    /// a kernel address, and an entry that is not empty (present or swap:
    /// `MapError` names it). May sleep: a missing page table is allocated
    /// first.
    ///
    /// # Safety
    /// The caller owns frame `pfn` and keeps it until it unmaps it: code
    /// that reaches the page through `va` (user code, or the kernel on this
    /// directory) must not find a frame that was freed and reused.
    pub unsafe fn map_page(&self, va: VirtAddr, pfn: Pfn, flags: PteFlags) -> Result<(), MapError> {
        crate::kernel::preempt::might_sleep("MmStruct::map_page");
        if va.as_usize() >= TASK_SIZE {
            return Err(MapError::NotUser(va));
        }
        let need_table = {
            let g = self.page_table_lock.lock();
            // SAFETY: reads only, under the lock.
            let mem = unsafe { self.tables() };
            let pgd = g.as_ref().ok_or(MapError::NoMemory)?;
            pgd.pde(&mem, va.pgd_index()).table().is_none()
        };
        // A missing page table comes from a page allocated before the lock
        // is taken (Linux's `__pte_alloc` allocates outside
        // `page_table_lock` too: the allocation may sleep, the lock holder
        // may not); highmem first (`pte_alloc_one`).
        let spare = if need_table { Some(pte_alloc_one().ok_or(MapError::NoMemory)?) } else { None };
        let (r, unused) = {
            let g = self.page_table_lock.lock();
            // SAFETY: the directory and its user tables are this mm's own,
            // changed under its page_table_lock; the frame is the caller's
            // (the contract).
            let mut mem = unsafe { self.tables() }.with_spare(spare);
            let r = match g.as_ref() {
                Some(pgd) => pgd.map(&mut mem, va, pfn, flags | PteFlags::USER),
                None => Err(MapError::NoMemory),
            };
            (r, mem.take_spare())
        };
        // An unused spare (another mapper made the table meanwhile, or the
        // map was refused) goes back, after the lock.
        if let Some(p) = unused {
            page_alloc::__free_pages(p);
        }
        r
    }

    /// Write swap entry `e` at empty user entry `va`, making the page
    /// table if needed (fork copying a swapped-out page; the caller took
    /// the entry's count on its slot). May sleep.
    pub fn set_swap_entry(&self, va: VirtAddr, e: crate::mm::pgtable::SwpEntry) -> Result<(), MapError> {
        crate::kernel::preempt::might_sleep("MmStruct::set_swap_entry");
        if va.as_usize() >= TASK_SIZE {
            return Err(MapError::NotUser(va));
        }
        let need_table = {
            let g = self.page_table_lock.lock();
            // SAFETY: reads only, under the lock.
            let mem = unsafe { self.tables() };
            let pgd = g.as_ref().ok_or(MapError::NoMemory)?;
            pgd.pde(&mem, va.pgd_index()).table().is_none()
        };
        // As in `map_page`: a missing table is allocated before the lock.
        let spare = if need_table { Some(pte_alloc_one().ok_or(MapError::NoMemory)?) } else { None };
        let (r, unused) = {
            let g = self.page_table_lock.lock();
            // SAFETY: this mm's own directory and tables, under its lock; a
            // swap entry maps no frame.
            let mut mem = unsafe { self.tables() }.with_spare(spare);
            let r = match g.as_ref() {
                Some(pgd) => pgd.set_swap_entry(&mut mem, va, e),
                None => Err(MapError::NoMemory),
            };
            (r, mem.take_spare())
        };
        if let Some(p) = unused {
            page_alloc::__free_pages(p);
        }
        r
    }

    /// Unmap the user page at `va` and return the old entry (a present one
    /// has been flushed from the TLB if this directory is loaded).
    pub fn unmap_page(&self, va: VirtAddr) -> Result<Pte, MapError> {
        if va.as_usize() >= TASK_SIZE {
            return Err(MapError::NotUser(va));
        }
        let g = self.page_table_lock.lock();
        // SAFETY: a user entry of this mm's own directory, under its lock.
        let mut mem = unsafe { self.tables() };
        let old = g.as_ref().ok_or(MapError::NotMapped(va))?.unmap(&mut mem, va)?;
        drop(mem);
        // Other directories never hold this mm's user entries, so only the
        // running one can cache it (Linux's flush_tlb_page).
        if old.is_present() && self.is_loaded() {
            flush_tlb_one(va.as_usize());
        }
        Ok(old)
    }

    /// Where `va` leads in this address space, as the MMU would find it.
    pub fn translate(&self, va: VirtAddr) -> Option<(PhysAddr, PteFlags)> {
        let g = self.page_table_lock.lock();
        // SAFETY: reads only, under the lock.
        let mem = unsafe { self.tables() };
        g.as_ref()?.translate(&mem, va)
    }

    /// The PDE and PTE the walk to `va` reads in this address space (the
    /// shell's `vtop PID`); `None` when the directory is already gone.
    pub fn walk(&self, va: VirtAddr) -> Option<crate::mm::pgtable::Walk> {
        let g = self.page_table_lock.lock();
        // SAFETY: reads only, under the lock.
        let mem = unsafe { self.tables() };
        Some(g.as_ref()?.walk(&mem, va))
    }

    /// The entry for user page `va` (`None`: no page table covers it).
    #[inline]
    pub fn pte(&self, va: VirtAddr) -> Option<Pte> {
        if va.as_usize() >= TASK_SIZE {
            return None;
        }
        let g = self.page_table_lock.lock();
        g.as_ref()?;
        // SAFETY: our directory (there while the lock shows it), a user
        // address; reads only, under the lock, the map dropped before it.
        let pte = unsafe { PteMap::new(self.pgd_phys, va) }?;
        Some(pte.get())
    }

    /// Replace the entry for user page `va` with `f(old)` when `f` returns
    /// `Some`, atomically under the page-table lock (the old entry cannot
    /// change between the look and the write); returns the old entry, or
    /// `None` when no page table covers `va` (then `f` is not called). A
    /// present entry that changed is flushed from the TLB.
    ///
    /// # Safety
    /// An entry `f` writes maps a frame the caller owns (or holds a
    /// reference on for this mapping) until it is unmapped again, with
    /// `USER` set; or it is empty, or a swap entry holding its own count
    /// on its slot, or a migration entry (which maps nothing: `mm::migrate`).
    #[inline]
    pub unsafe fn update_pte(&self, va: VirtAddr, f: impl FnOnce(Pte) -> Option<Pte>) -> Option<Pte> {
        if va.as_usize() >= TASK_SIZE {
            return None;
        }
        let g = self.page_table_lock.lock();
        g.as_ref()?;
        // The entry's table mapped once, read and written in place (Linux's
        // `pte_offset_map_lock`), not walked from the directory for the
        // look and again for the write: this is every fault's path.
        // SAFETY: a user entry of this mm's own directory (there while the
        // lock shows it), under its lock; the map is dropped before it.
        let mut pte = unsafe { PteMap::new(self.pgd_phys, va) }?;
        let old = pte.get();
        if let Some(new) = f(old) {
            if new != old {
                pte.set(new);
                drop(pte);
                if old.is_present() && self.is_loaded() {
                    flush_tlb_one(va.as_usize());
                }
            }
        }
        Some(old)
    }

    /// The entry for user page `va` with its table mapped and the
    /// page-table lock held until the value is dropped (Linux's
    /// `pte_offset_map_lock`; the drop is `pte_unmap_unlock`): for a caller
    /// that decides on the entry it looked at without letting go in
    /// between, as `do_wp_page` decides reuse or copy on the entry
    /// `handle_pte_fault` found. `None` when no page table covers `va`.
    /// Nothing that may sleep while it lives.
    #[inline]
    pub fn pte_offset_map_lock(&self, va: VirtAddr) -> Option<PteLocked<'_>> {
        if va.as_usize() >= TASK_SIZE {
            return None;
        }
        let lock = self.page_table_lock.lock();
        lock.as_ref()?;
        // SAFETY: a user entry of this mm's own directory (there while the
        // lock shows it), under its lock, which `PteLocked` holds until
        // after it has dropped the map; it writes only through `set`, whose
        // contract is `update_pte`'s.
        let map = unsafe { PteMap::new(self.pgd_phys, va) }?;
        Some(PteLocked { map: Some(map), mm: self, va, flush: false, _lock: lock })
    }

    /// Write `f(pte)` for each `(va, pte)` of `entries`, user pages under
    /// one page table that exists, where the entry is empty: one trip
    /// under the page-table lock with the table mapped once (fork's copy,
    /// as Linux's `copy_pte_range` holds the child's table across its
    /// loop). Returns how many were written: it stops at the first that
    /// cannot be (no table, or an entry there already). No flush: no
    /// present entry changes.
    ///
    /// # Safety
    /// As for [`update_pte`](Self::update_pte), for every entry written.
    pub unsafe fn fill_ptes(&self, entries: &[(VirtAddr, Pte)], f: impl Fn(Pte) -> Pte) -> usize {
        let Some(&(first, _)) = entries.first() else { return 0 };
        if first.as_usize() >= TASK_SIZE {
            return 0;
        }
        let g = self.page_table_lock.lock();
        if g.is_none() {
            return 0;
        }
        // SAFETY: user entries of this mm's own directory (there while the
        // lock shows it), under its lock; the map is dropped before it.
        let Some(mut table) = (unsafe { PteMap::new(self.pgd_phys, first) }) else { return 0 };
        let mut written = 0;
        for &(va, pte) in entries {
            // Only the entries under the table mapped: a fork chunk lies
            // under one.
            if va.as_usize() >= TASK_SIZE
                || va.pgd_index() != first.pgd_index()
                || !table.get_at(va.pte_index()).is_none()
            {
                break;
            }
            table.set_at(va.pte_index(), f(pte));
            written += 1;
        }
        written
    }

    /// Walk the entries of the `npages` user pages from `va` that are not
    /// empty, under the page-table lock, replacing each with what `f`
    /// returns (`Pte::walk`'s rules); the TLB is flushed after if a present
    /// entry changed and this directory is loaded. `f` must not sleep.
    /// Returns the present entries changed.
    ///
    /// # Safety
    /// As for [`update_pte`](Self::update_pte), for every entry written.
    pub unsafe fn for_each_pte(
        &self,
        va: VirtAddr,
        npages: usize,
        f: impl FnMut(VirtAddr, Pte) -> Option<Pte>,
    ) -> usize {
        let end = va.as_usize().saturating_add(npages.saturating_mul(PAGE_SIZE)).min(TASK_SIZE);
        let npages = end.saturating_sub(va.as_usize()) / PAGE_SIZE;
        let g = self.page_table_lock.lock();
        if g.is_none() {
            return 0;
        }
        let changed = self.walk_ptes(va, npages, f);
        if changed != 0 && self.is_loaded() {
            if npages <= FLUSH_ALL_THRESHOLD {
                for i in 0..npages {
                    flush_tlb_one(va.as_usize() + i * PAGE_SIZE);
                }
            } else {
                flush_tlb_all();
            }
        }
        changed
    }

    /// `PageTables::for_each_pte`'s walk (its rules), each page table
    /// mapped once and its entries read and written in place (Linux's
    /// `pte_offset_map` per `zap_pte_range`), not through `TableMemory`
    /// per entry: fork's and exit's walks over every page. The caller
    /// holds the page-table lock and has seen the directory there; `va`
    /// and the `npages` after it are user pages.
    fn walk_ptes(&self, va: VirtAddr, npages: usize, mut f: impl FnMut(VirtAddr, Pte) -> Option<Pte>) -> usize {
        let mut changed = 0;
        let mut page = 0;
        while page < npages {
            let at = VirtAddr::new(va.as_usize() + page * PAGE_SIZE);
            let run = (crate::layout::PTRS_PER_PTE - at.pte_index()).min(npages - page);
            // SAFETY: user entries of this mm's own directory, under its
            // lock (the caller's); the map is dropped at the end of this
            // table's run, before the lock.
            if let Some(mut table) = unsafe { PteMap::new(self.pgd_phys, at) } {
                for i in 0..run {
                    let idx = at.pte_index() + i;
                    let old = table.get_at(idx);
                    if old.is_none() {
                        continue;
                    }
                    if let Some(new) = f(VirtAddr::new(at.as_usize() + i * PAGE_SIZE), old) {
                        if new != old {
                            changed += old.is_present() as usize;
                            table.set_at(idx, new);
                        }
                    }
                }
            }
            page += run;
        }
        changed
    }

    /// Exit's teardown of the user half in one pass (Linux's `unmap_vmas`
    /// then `free_pgtables` over the whole address space): each user PDE
    /// is read once, an empty one skipped without mapping anything; under
    /// a present one, every entry that is not empty is passed to `f` and
    /// cleared, with the table mapped once, and the table is then freed
    /// and its PDE cleared, as nothing can be left in it. The TLB is
    /// flushed after if this directory is loaded. `f` must not sleep.
    /// Returns the page tables freed.
    ///
    /// # Safety
    /// `f` gives back what each entry held (its frame's mapping, its count
    /// on a swap slot): the entry is gone when it returns.
    pub unsafe fn unmap_and_free_tables(&self, mut f: impl FnMut(VirtAddr, Pte)) -> usize {
        let g = self.page_table_lock.lock();
        let Some(pgd) = g.as_ref() else { return 0 };
        // SAFETY: user tables of this mm's own directory, under its lock.
        let mut mem = unsafe { self.tables() };
        let mut freed = 0;
        for i in 0..crate::layout::KERNEL_PGD_FIRST {
            let pde = pgd.pde(&mem, i);
            let Some(table) = pde.table() else { continue };
            if pde.is_large() {
                continue;
            }
            let at = VirtAddr::new(i << crate::layout::PGDIR_SHIFT);
            // SAFETY: a user entry of this mm's own directory, under its
            // lock; the map is dropped before the table is freed.
            if let Some(mut map) = unsafe { PteMap::new(self.pgd_phys, at) } {
                for idx in 0..crate::layout::PTRS_PER_PTE {
                    let old = map.get_at(idx);
                    if !old.is_none() {
                        f(VirtAddr::new(at.as_usize() + idx * PAGE_SIZE), old);
                        map.set_at(idx, Pte::NONE);
                    }
                }
            }
            mem.write_entry(self.pgd_phys, i, 0);
            mem.free_table(table);
            freed += 1;
        }
        drop(mem);
        if freed != 0 && self.is_loaded() {
            flush_tlb_all();
        }
        freed
    }

    /// Free the page tables left empty inside `[start, end)` (after an
    /// `munmap`; Linux's `free_pgtables`). Returns how many.
    pub fn free_pgtables(&self, start: VirtAddr, end: VirtAddr) -> usize {
        let end = VirtAddr::new(end.as_usize().min(TASK_SIZE));
        let g = self.page_table_lock.lock();
        // SAFETY: user tables of this mm's own directory, under its lock.
        let mut mem = unsafe { self.tables() };
        let Some(pgd) = g.as_ref() else { return 0 };
        let freed = pgd.free_empty_tables(&mut mem, start, end);
        drop(mem);
        if freed != 0 && self.is_loaded() {
            flush_tlb_all();
        }
        freed
    }

    /// Kernel PDE `i` as this directory has it (for tests).
    pub fn pde(&self, i: usize) -> u32 {
        let g = self.page_table_lock.lock();
        // SAFETY: reads only, under the lock.
        let mem = unsafe { self.tables() };
        g.as_ref().map_or(0, |p| p.pde(&mem, i).0)
    }
}

/// Linux's `mmput` reaching zero users (`exit_mmap`, `free_pgtables`,
/// `pgd_free`).
impl Drop for MmStruct {
    fn drop(&mut self) {
        if self.is_loaded() {
            // The scheduler never leaves CR3 on a directory whose last
            // reference is gone; freeing the one we run on would pull the
            // ground away. Say so, and step onto the kernel's.
            crate::kernel::panic::warn(format_args!(
                "BUG: mm with pgd {:#010x} freed while loaded in CR3; switching to swapper_pg_dir",
                self.pgd_phys
            ));
            // SAFETY: swapper_pg_dir maps the whole kernel.
            unsafe { load_cr3(swapper_pg_dir_phys()) };
        }
        // Linux's exit_mmap: every page mapped here is unmapped and, if
        // this was its last mapping, freed.
        crate::mm::memory::exit_mmap(self);
        let Some(pgd) = self.page_table_lock.lock().take() else {
            self.leave_family();
            return;
        };
        // SAFETY: the directory and its user tables are this mm's own, and
        // nothing else holds a reference to it any more.
        let mut mem = unsafe { self.tables() };
        let leaked = pgd.pgd_free(&mut mem);
        drop(mem);
        if leaked != 0 {
            crate::kernel::panic::warn(format_args!(
                "BUG: mm with pgd {:#010x} freed with {} user pages still mapped (their frames are not freed here)",
                self.pgd_phys, leaked
            ));
        }
        self.leave_family();
    }
}

impl MmStruct {
    /// Out of the reverse map, last (see `mm::rmap`: a walk may look at
    /// this address space until then).
    fn leave_family(&self) {
        if self.anon_family.load(Ordering::Relaxed) != NO_FAMILY {
            crate::mm::rmap::anon_unlink(self);
        }
    }
}

/// One user page-table entry, mapped, under its mm's page-table lock (see
/// [`MmStruct::pte_offset_map_lock`]). The drop unmaps the table, flushes
/// the entry from the TLB if `set` changed a present one (still under
/// the lock, as `update_pte` does), then lets the lock go.
pub struct PteLocked<'a> {
    /// Taken in `drop`, before `_lock` is released (field order alone
    /// would do; the flush must come between the two).
    map: Option<PteMap>,
    mm: &'a MmStruct,
    va: VirtAddr,
    /// A present entry was changed: flush it on the way out.
    flush: bool,
    _lock: SpinLockGuard<'a, Option<PageTables>>,
}

impl PteLocked<'_> {
    /// The entry now.
    #[inline]
    pub fn get(&self) -> Pte {
        self.map.as_ref().map_or(Pte::NONE, |m| m.get())
    }

    /// Write the entry (flushed from the TLB at the drop when the old one
    /// was present).
    ///
    /// # Safety
    /// As for [`MmStruct::update_pte`]'s `f`: the entry written maps a
    /// frame the caller owns (or holds a reference on for this mapping)
    /// until it is unmapped again, with `USER` set; or it is empty, or a
    /// swap entry holding its own count on its slot, or a migration entry.
    #[inline]
    pub unsafe fn set(&mut self, new: Pte) {
        if let Some(m) = self.map.as_mut() {
            let old = m.get();
            if new != old {
                m.set(new);
                self.flush |= old.is_present();
            }
        }
    }
}

impl Drop for PteLocked<'_> {
    #[inline]
    fn drop(&mut self) {
        drop(self.map.take());
        if self.flush && self.mm.is_loaded() {
            flush_tlb_one(self.va.as_usize());
        }
        // `_lock` is released after this.
    }
}
