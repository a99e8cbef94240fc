//! HIGHPTE (Linux's `CONFIG_HIGHPTE`): the page tables of user address
//! spaces come from highmem first, and the kernel reaches them only through
//! a `kmap_atomic` slot, as Linux's `pte_offset_map`/`pte_unmap` do. On a
//! 32-bit machine lowmem (the direct map, under 896 MB) is the scarce zone:
//! a process with 1 GB touched needs 256 page tables, 1 MB that would
//! otherwise crowd the kernel's own memory. The page directory stays in
//! lowmem (the kernel half is copied into it and synced through the direct
//! map, as Linux's i386 `pgd_alloc` keeps it there), and so do the kernel's
//! own page tables.
//!
//! The boot option `nohighpte` takes user page tables from lowmem instead
//! (Linux's pte_alloc_one without `__GFP_HIGHMEM`), for comparisons.
//!
//! [`HighPteTables`] is the `TableMemory` of an `MmStruct`: the directory
//! and any lowmem table through the direct map, a highmem table through a
//! slot it keeps while consecutive accesses hit the same table, so a walk
//! over one table costs one `kmap_atomic`, as `pte_offset_map` once per
//! `zap_pte_range`. The slot is `Pte0`; a walk nested inside another on the
//! same CPU (fork copies one mm's tables into another's, Linux's
//! `pte_offset_map_nested`) gets `Pte1`. Holding a slot keeps preemption
//! off, so the slots held at any moment are this thread's nesting.

use crate::arch::x86::mm::highmem::{kmap_atomic, KmType, KmapAtomic};
use crate::layout::{phys_to_virt, FIXADDR_START, FIXADDR_TOP, PAGE_SHIFT, PTRS_PER_PTE};
use crate::mm::gfp::{Gfp, GFP_KERNEL};
use crate::mm::mmzone::max_low_pfn;
use crate::mm::page_alloc::{self, Pages};
use crate::mm::pgtable::{PageTables, Pde, Pte, TableMemory, VirtAddr};
use crate::mm::vmalloc::DirectMapTables;
use crate::mm::vmstat::NR_PAGETABLE;
use core::cell::RefCell;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

/// User page tables from highmem (cleared by `nohighpte` at boot).
static HIGHPTE: AtomicBool = AtomicBool::new(true);

/// `Pte0`/`Pte1` held by a `HighPteTables` now: bit 0 and bit 1. Plain
/// loads and stores: a holder has preemption off, and an exception that
/// reads it (the oops path) leaves it as it found it.
static PTE_SLOTS: AtomicU8 = AtomicU8::new(0);

const SLOTS: [KmType; 2] = [KmType::Pte0, KmType::Pte1];

/// `kmap_atomic`s of user page tables made so far (one per table a walk
/// enters; for tests and the curious).
static PTE_KMAPS: AtomicUsize = AtomicUsize::new(0);

pub fn pte_kmaps() -> usize {
    PTE_KMAPS.load(Ordering::Relaxed)
}

/// Which of `Pte0` (bit 0) and `Pte1` (bit 1) a walk holds now (for tests:
/// 0 once every walk is over).
pub fn pte_slots_held() -> u8 {
    PTE_SLOTS.load(Ordering::Relaxed)
}

/// Set once at boot from the command line (`nohighpte` passes false).
pub fn set_highpte(on: bool) {
    HIGHPTE.store(on, Ordering::Relaxed);
}

/// Whether new user page tables come from highmem.
pub fn highpte() -> bool {
    HIGHPTE.load(Ordering::Relaxed)
}

/// Linux's `pte_alloc_one`: a zeroed page for a user page table,
/// `GFP_KERNEL | __GFP_HIGHMEM | __GFP_ZERO` (without `__GFP_HIGHMEM`
/// under `nohighpte`): highmem first, lowmem when highmem is used up or
/// absent. May sleep. Not counted in `NR_PAGETABLE` until it becomes a
/// table (`HighPteTables::alloc_table`), as `__pte_alloc` counts it only
/// when it populates the PDE.
pub fn pte_alloc_one() -> Option<Pages> {
    let gfp = GFP_KERNEL | Gfp::ZERO | if highpte() { Gfp::HIGHMEM } else { Gfp::empty() };
    page_alloc::alloc_pages(gfp, 0)
}

fn is_lowmem(phys: u32) -> bool {
    ((phys >> PAGE_SHIFT) as usize) < max_low_pfn()
}

/// The `TableMemory` of one user address space (see the module docs).
/// Dropped before the page-table lock it is used under (declare it after
/// the guard): its slot keeps preemption off until then.
pub struct HighPteTables<'a> {
    pgd_phys: u32,
    /// The highmem page table mapped now, its mapping, and which of
    /// `SLOTS` it holds.
    mapped: RefCell<Option<(u32, KmapAtomic, usize)>>,
    /// A page from `pte_alloc_one`, taken outside the lock, for the one
    /// table a `map` may need.
    spare: Option<Pages>,
    /// The mm's count of its page tables (Linux's `mm->nr_ptes`).
    nr_ptes: &'a AtomicUsize,
}

impl<'a> HighPteTables<'a> {
    /// # Safety
    /// `pgd_phys` is a user address space's page directory (in lowmem) whose
    /// user page tables are either in lowmem or highmem frames used only as
    /// its page tables; calls change only entries the caller may change
    /// (under the mm's page-table lock, or with the mm unreachable by
    /// anyone else), mapping only frames the caller owns.
    pub unsafe fn new(pgd_phys: u32, nr_ptes: &'a AtomicUsize) -> HighPteTables<'a> {
        HighPteTables { pgd_phys, mapped: RefCell::new(None), spare: None, nr_ptes }
    }

    /// A pointer to word `index` of the directory or a lowmem table, in
    /// the direct map (not through `DirectMapTables`, whose methods are
    /// left to vmalloc's walks to inline as before).
    fn direct_word(table_phys: u32, index: usize) -> *mut u32 {
        assert!(index < PTRS_PER_PTE);
        (phys_to_virt(table_phys as usize) as *mut u32).wrapping_add(index)
    }

    /// Give `map` a page for a new table (from [`pte_alloc_one`]).
    pub fn with_spare(mut self, spare: Option<Pages>) -> Self {
        self.spare = spare;
        self
    }

    /// The spare `map` did not use (another mapper made the table, or the
    /// map was refused), for the caller to free after the lock.
    pub fn take_spare(&mut self) -> Option<Pages> {
        self.spare.take()
    }

    /// A pointer to word `index` of highmem table `table`, mapping it if
    /// another table (or none) is mapped now.
    fn highmem_word(&self, table: u32, index: usize) -> *mut u32 {
        let mut m = self.mapped.borrow_mut();
        if let Some((t, ref k, _)) = *m {
            if t == table {
                return (k.vaddr() as *mut u32).wrapping_add(index);
            }
        }
        // Unmap the old table first (stack order: it is the last slot
        // taken), and pick a slot again: preemption may come back in
        // between (outside a lock), and `PTE_SLOTS` must say what is
        // held at every moment another walk may look.
        if let Some((_, k, slot)) = m.take() {
            drop(k);
            PTE_SLOTS.store(PTE_SLOTS.load(Ordering::Relaxed) & !(1 << slot), Ordering::Relaxed);
        }
        let slot = free_slot().unwrap_or_else(|| {
            panic!("HIGHPTE: both pte kmap_atomic slots in use (user page-table walks nested three deep)")
        });
        let k = kmap_atomic(table >> PAGE_SHIFT, SLOTS[slot])
            .unwrap_or_else(|e| panic!("HIGHPTE: kmap_atomic of page table {:#x}: {:?}", table, e));
        PTE_SLOTS.store(PTE_SLOTS.load(Ordering::Relaxed) | 1 << slot, Ordering::Relaxed);
        PTE_KMAPS.fetch_add(1, Ordering::Relaxed);
        let p = (k.vaddr() as *mut u32).wrapping_add(index);
        *m = Some((table, k, slot));
        p
    }

    /// Drop the mapping (`pte_unmap`), if any.
    fn unmap(&self) {
        if let Some((_, k, slot)) = self.mapped.borrow_mut().take() {
            drop(k);
            PTE_SLOTS.store(PTE_SLOTS.load(Ordering::Relaxed) & !(1 << slot), Ordering::Relaxed);
        }
    }
}

/// The first of `SLOTS` no `HighPteTables` holds.
#[inline]
fn free_slot() -> Option<usize> {
    // The lowest clear bit (Linux's `ffz`): a NOT and a bit scan, not a
    // loop over the slots.
    let slot = (!PTE_SLOTS.load(Ordering::Relaxed)).trailing_zeros() as usize;
    (slot < SLOTS.len()).then_some(slot)
}

impl Drop for HighPteTables<'_> {
    fn drop(&mut self) {
        self.unmap();
        if let Some(p) = self.spare.take() {
            page_alloc::__free_pages(p);
        }
    }
}

impl TableMemory for HighPteTables<'_> {
    fn read_entry(&self, table_phys: u32, index: usize) -> u32 {
        if table_phys == self.pgd_phys || is_lowmem(table_phys) {
            // SAFETY: the directory and lowmem tables are in the direct map
            // (the contract of `new`); index < 1024 (checked), so the word
            // lies inside the page and is aligned.
            return unsafe { Self::direct_word(table_phys, index).read_volatile() };
        }
        assert!(index < PTRS_PER_PTE);
        let p = self.highmem_word(table_phys, index);
        // SAFETY: `p` lies in the page `mapped` maps (index < 1024), which
        // stays mapped until the next call; volatile, as the MMU reads and
        // sets bits in these words behind the compiler's back.
        unsafe { p.read_volatile() }
    }

    fn write_entry(&mut self, table_phys: u32, index: usize, val: u32) {
        if table_phys == self.pgd_phys || is_lowmem(table_phys) {
            // SAFETY: as in read_entry; the write is the caller's to make
            // (the contract of `new`).
            return unsafe { Self::direct_word(table_phys, index).write_volatile(val) };
        }
        assert!(index < PTRS_PER_PTE);
        let p = self.highmem_word(table_phys, index);
        // SAFETY: as in read_entry; the write is the caller's to make (the
        // contract of `new`).
        unsafe { p.write_volatile(val) }
    }

    fn table_is_empty(&self, table_phys: u32) -> bool {
        let base = if table_phys == self.pgd_phys || is_lowmem(table_phys) {
            Self::direct_word(table_phys, 0)
        } else {
            self.highmem_word(table_phys, 0)
        };
        // SAFETY: `base` is word 0 of the table's page, in the direct map
        // or in the mapping `highmem_word` keeps until the next call on
        // `self` (none is made here); the 1024 words lie in that page.
        (0..PTRS_PER_PTE).all(|k| unsafe { base.add(k).read_volatile() } == 0)
    }

    fn alloc_table(&mut self) -> Option<u32> {
        let p = self.spare.take()?;
        NR_PAGETABLE.fetch_add(1, Ordering::Relaxed);
        self.nr_ptes.fetch_add(1, Ordering::Relaxed);
        // A page table from here on: freed by free_table, not as a Pages.
        Some(p.into_raw() << PAGE_SHIFT)
    }

    fn free_table(&mut self, phys: u32) {
        if phys != self.pgd_phys {
            if matches!(*self.mapped.borrow(), Some((t, _, _)) if t == phys) {
                self.unmap();
            }
            NR_PAGETABLE.fetch_sub(1, Ordering::Relaxed);
            self.nr_ptes.fetch_sub(1, Ordering::Relaxed);
        }
        // SAFETY: user page tables come from alloc_table (order 0, one
        // page of pte_alloc_one), the directory from mm_alloc (order 0,
        // one lowmem page); each is given back once.
        page_alloc::__free_pages(unsafe { Pages::from_raw(phys >> PAGE_SHIFT, 0) });
    }
}

/// One user page-table entry, its table mapped (Linux's `pte_offset_map`
/// for the one entry a fault looks at and writes): the directory entry is
/// read once, the table mapped once, and the entry read and written in
/// place, where a [`HighPteTables`] walk would go through `TableMemory`'s
/// checks for each access. Like a walk, it holds a `Pte` slot (preemption
/// off) until dropped, so it is made under the mm's page-table lock and
/// dropped before it.
pub struct PteMap {
    /// The table, in the slot's mapping (a table in lowmem is mapped there
    /// too: `kmap_atomic` hands back its direct-map address).
    table: *mut u32,
    /// The index of `va`'s entry in it.
    index: usize,
    /// The mapping and which of `SLOTS` it holds.
    map: Option<(KmapAtomic, usize)>,
}

impl PteMap {
    /// The entry for user page `va` in directory `pgd_phys`, or `None`
    /// when no page table covers it (Linux's `pmd_none`).
    ///
    /// # Safety
    /// As for [`HighPteTables::new`]: `pgd_phys` is a user address space's
    /// directory in lowmem whose user tables are page tables only, the
    /// caller holds its page-table lock while the value lives, and writes
    /// only entries that lock lets it write. `va` is a user address.
    pub unsafe fn new(pgd_phys: u32, va: VirtAddr) -> Option<PteMap> {
        let pde = Pde(
            // SAFETY: the directory is in the direct map (the contract);
            // pgd_index < 1024, so the word lies in its page, aligned.
            unsafe { HighPteTables::direct_word(pgd_phys, va.pgd_index()).read_volatile() },
        );
        let table = pde.table()?;
        let slot = free_slot().unwrap_or_else(|| {
            panic!("HIGHPTE: both pte kmap_atomic slots in use (user page-table walks nested three deep)")
        });
        let k = kmap_atomic(table >> PAGE_SHIFT, SLOTS[slot])
            .unwrap_or_else(|e| panic!("HIGHPTE: kmap_atomic of page table {:#x}: {:?}", table, e));
        PTE_SLOTS.store(PTE_SLOTS.load(Ordering::Relaxed) | 1 << slot, Ordering::Relaxed);
        if !is_lowmem(table) {
            PTE_KMAPS.fetch_add(1, Ordering::Relaxed);
        }
        Some(PteMap { table: k.vaddr() as *mut u32, index: va.pte_index(), map: Some((k, slot)) })
    }

    /// The entry now.
    #[inline]
    pub fn get(&self) -> Pte {
        self.get_at(self.index)
    }

    /// Write the entry (the caller flushes the TLB for a present entry it
    /// changed, after the drop or before).
    #[inline]
    pub fn set(&mut self, pte: Pte) {
        self.set_at(self.index, pte)
    }

    /// Entry `index` of the same table (the page `va` of `new` with
    /// `index` as its `pte_index`): a walk over one table maps it once, as
    /// `zap_pte_range` and `copy_pte_range` do.
    #[inline]
    pub fn get_at(&self, index: usize) -> Pte {
        assert!(index < PTRS_PER_PTE);
        // SAFETY: word `index` < 1024 of the page mapped by `map`, which
        // stays mapped while `self` lives; volatile, as the MMU sets bits
        // in these words behind the compiler's back.
        Pte(unsafe { self.table.add(index).read_volatile() })
    }

    /// Write entry `index` of the same table (see `set`).
    #[inline]
    pub fn set_at(&mut self, index: usize, pte: Pte) {
        assert!(index < PTRS_PER_PTE);
        // SAFETY: as in `get_at`; the write is the caller's to make (the
        // contract of `new`).
        unsafe { self.table.add(index).write_volatile(pte.0) }
    }
}

impl Drop for PteMap {
    #[inline]
    fn drop(&mut self) {
        if let Some((k, slot)) = self.map.take() {
            drop(k);
            PTE_SLOTS.store(PTE_SLOTS.load(Ordering::Relaxed) & !(1 << slot), Ordering::Relaxed);
        }
    }
}

/// What an oops prints of the walk to `address` on directory `pgd_phys`
/// (Linux's `dump_pagetable`): `*pde = ... *pte = ...`, the PTE read
/// through a free `Pte` kmap_atomic slot when the table is in highmem.
/// Linux (2.6.24's `dump_fault_path`, later `dump_pagetable`) does not map
/// a highmem table at all, "just in case it's allocated already"; here the
/// slots HIGHPTE holds are known (`PTE_SLOTS`), so a free one is used, and
/// the table is named instead of mapped only when mapping could itself be
/// what failed: the fault is in the fixmap, or both slots are held (a
/// fault inside a nested walk).
pub struct ShowPte {
    pde: Pde,
    pte: PteShown,
}

enum PteShown {
    None,
    Read(Pte),
    InHighmem { table: u32, why: &'static str },
}

/// # Safety
/// `pgd_phys` is a page directory in lowmem (CR3's) whose page tables are
/// page tables, in lowmem or highmem.
pub unsafe fn show_pte(pgd_phys: u32, address: usize) -> ShowPte {
    let va = VirtAddr::new(address);
    // SAFETY: reads only, of the tables the caller vouches for.
    let (pgd, direct) = unsafe { (PageTables::from_phys(pgd_phys), DirectMapTables::new()) };
    let pde = pgd.pde(&direct, va.pgd_index());
    let pte = match pde.table() {
        None => PteShown::None,
        Some(t) if is_lowmem(t) => PteShown::Read(Pte(direct.read_entry(t, va.pte_index()))),
        Some(t) if (FIXADDR_START..FIXADDR_TOP).contains(&address) => {
            PteShown::InHighmem { table: t, why: "fault in the fixmap" }
        }
        Some(t) => match free_slot() {
            None => PteShown::InHighmem { table: t, why: "no pte kmap slot free" },
            Some(slot) => match kmap_atomic(t >> PAGE_SHIFT, SLOTS[slot]) {
                Err(_) => PteShown::InHighmem { table: t, why: "kmap_atomic refused" },
                Ok(k) => {
                    let p = (k.vaddr() as *const u32).wrapping_add(va.pte_index());
                    // SAFETY: inside the page just mapped; read once.
                    PteShown::Read(Pte(unsafe { p.read_volatile() }))
                }
            },
        },
    };
    ShowPte { pde, pte }
}

impl fmt::Display for ShowPte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "*pde = {:08x}", self.pde.0)?;
        match self.pte {
            PteShown::None => Ok(()),
            PteShown::Read(pte) => write!(f, " *pte = {:08x}", pte.0),
            PteShown::InHighmem { table, why } => {
                write!(f, " *pte in highmem at phys {:#010x} (not mapped: {})", table, why)
            }
        }
    }
}
