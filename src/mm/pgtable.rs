//! Two-level i386 page tables (non-PAE), typed, over "physical memory that
//! holds page tables" (Linux's include/asm-x86/pgtable_32.h and the walks of
//! mm/memory.c, mm/vmalloc.c and arch/x86/mm/fault_32.c).
//!
//! A 32-bit virtual address splits 10 / 10 / 12:
//!
//! ```text
//!  31          22 21          12 11            0
//! +--------------+--------------+---------------+
//! |  pgd_index   |  pte_index   |  page_offset  |
//! +--------------+--------------+---------------+
//!   CR3 -> page directory (1024 PDEs, 4 MB each)
//!            PDE -> page table (1024 PTEs, 4 KB each), or, with PSE,
//!                   a whole 4 MB page (the direct map uses those)
//! ```
//!
//! Linux has four levels in its generic code and folds pud and pmd into the
//! pgd on non-PAE i386; here the two real levels are all there is.
//!
//! The module never touches the machine. It reads and writes entries through
//! [`TableMemory`], which the kernel implements with the direct map (its own
//! page tables live in lowmem), with `kmap_atomic` for user page tables in
//! highmem (`mm::highpte`), and the tests with a `HashMap`. Nor does it flush
//! the TLB: it reports what changed (the old entry from `unmap`, how many
//! entries were present from `unmap_range`) and the caller chooses one
//! `invlpg`, one batched flush, or none. The rules behind that choice:
//!
//! - x86 caches only present translations, so making an empty entry present
//!   needs no flush;
//! - a present entry that changes or goes away must be flushed before its old
//!   frame is reused, or a stale TLB entry still reaches it.
//!
//! Kernel PDEs 768..1023 are meant to be the same in every page directory. A
//! new directory copies them from the kernel's reference directory
//! (`swapper_pg_dir`), but vmalloc later creates page tables in the reference
//! only. Another directory learns about them when the kernel faults on a
//! vmalloc address: the fault handler copies the one missing PDE
//! ([`PageTables::sync_kernel_pde`], Linux's `vmalloc_fault`). That is safe
//! because kernel page tables are never freed: a PDE, once copied, stays right.
//!
//! Why this file is past 600 lines: the typed entries, the walk and its
//! errors (each naming the address and the entry found) are one API; the
//! errors are half of what a student learns from it.

// No unsafe code here but one contract: `PageTables::from_phys`.
#![deny(unsafe_code)]

use crate::arch::x86::pgtable_types::PteFlags;
use crate::layout::{
    KERNEL_PGD_FIRST, PAGE_OFFSET, PAGE_SHIFT, PAGE_SIZE, PGDIR_SHIFT, PTRS_PER_PGD, PTRS_PER_PTE, TASK_SIZE,
};
use core::fmt;
use core::ops::Range;

/// The low 12 bits of an entry hold flags; the rest the frame.
const FLAGS_MASK: u32 = (PAGE_SIZE - 1) as u32;
/// A 4 MB page's frame is in bits 22..31 (bits 13..21 are PSE-36, unused).
const LARGE_FRAME_MASK: u32 = !((1u32 << PGDIR_SHIFT) - 1);
/// Pages in one 4 MB page.
const PAGES_PER_PDE: u32 = 1 << (PGDIR_SHIFT - PAGE_SHIFT);
/// Frames a non-PAE entry can name: 4 GB of physical address space.
pub const MAX_PFN: u32 = 1 << (32 - PAGE_SHIFT);

/// A page frame number: physical address >> 12.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pfn(pub u32);

/// A physical address (32 bits without PAE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PhysAddr(pub u32);

/// A virtual address. 32 bits even in host tests, so they wrap like the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VirtAddr(pub u32);

impl Pfn {
    pub const fn phys(self) -> PhysAddr {
        PhysAddr(self.0 << PAGE_SHIFT)
    }
}

impl PhysAddr {
    pub const fn pfn(self) -> Pfn {
        Pfn(self.0 >> PAGE_SHIFT)
    }
}

impl VirtAddr {
    /// From a kernel `usize` address; panics if it does not fit 32 bits
    /// (possible only in host tests: a bug there).
    pub const fn new(va: usize) -> VirtAddr {
        assert!(va <= u32::MAX as usize, "virtual address wider than 32 bits");
        VirtAddr(va as u32)
    }

    pub const fn as_usize(self) -> usize {
        self.0 as usize
    }

    /// Which page-directory entry covers it (bits 22..31).
    pub const fn pgd_index(self) -> usize {
        (self.0 >> PGDIR_SHIFT) as usize
    }

    /// Which entry of that page table (bits 12..21).
    pub const fn pte_index(self) -> usize {
        (self.0 >> PAGE_SHIFT) as usize & (PTRS_PER_PTE - 1)
    }

    /// Offset inside the 4 KB page (bits 0..11).
    pub const fn page_offset(self) -> u32 {
        self.0 & FLAGS_MASK
    }

    pub const fn is_page_aligned(self) -> bool {
        self.page_offset() == 0
    }

    /// The address `pages` pages further on, if that stays below 4 GB.
    pub const fn add_pages(self, pages: u32) -> Option<VirtAddr> {
        let end = self.0 as u64 + ((pages as u64) << PAGE_SHIFT);
        if end <= u32::MAX as u64 {
            Some(VirtAddr(end as u32))
        } else {
            None
        }
    }
}

impl fmt::Display for VirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

/// A page-table entry: a 4 KB frame and its flags, or a swap entry when not
/// present, or nothing (`Pte::NONE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pte(pub u32);

impl Pte {
    pub const NONE: Pte = Pte(0);

    /// Panics on a frame beyond 4 GB: no non-PAE entry can hold it.
    pub const fn new(pfn: Pfn, flags: PteFlags) -> Pte {
        assert!(pfn.0 < MAX_PFN, "pfn beyond 4 GB in a non-PAE entry");
        Pte((pfn.0 << PAGE_SHIFT) | (flags.bits() & FLAGS_MASK))
    }

    pub const fn pfn(self) -> Pfn {
        Pfn(self.0 >> PAGE_SHIFT)
    }

    pub const fn flags(self) -> PteFlags {
        PteFlags::from_bits_retain(self.0 & FLAGS_MASK)
    }

    pub const fn is_present(self) -> bool {
        self.0 & PteFlags::PRESENT.bits() != 0
    }

    /// Linux's `pte_none`: no mapping and no swap entry.
    pub const fn is_none(self) -> bool {
        self.0 == 0
    }

    /// A frame kept but made inaccessible by `mprotect(PROT_NONE)`: not
    /// present, with bit 7 set (2.6.24 i386's `_PAGE_PROTNONE`, which a
    /// present entry uses as PSE; a swap entry keeps it clear).
    pub const fn is_protnone(self) -> bool {
        !self.is_present() && self.0 & PTE_PROTNONE != 0
    }

    /// This entry made inaccessible, its frame kept (see `is_protnone`).
    pub const fn to_protnone(self) -> Pte {
        Pte((self.0 & !PteFlags::PRESENT.bits()) | PTE_PROTNONE)
    }

    /// A `to_protnone` entry made present again, with `flags`.
    pub const fn from_protnone(self, flags: PteFlags) -> Pte {
        Pte::new(self.pfn(), flags)
    }

    /// Whether a frame is behind it: present, or kept under PROT_NONE.
    pub const fn has_frame(self) -> bool {
        self.is_present() || self.is_protnone()
    }
}

/// A place on swap: the device (`type`, 0..32) and the page within it
/// (`offset`), Linux's `swp_entry_t`. Kept in a not-present entry exactly as
/// 2.6.24's i386 does without PAE: type in bits 1..5, offset in bits 8..31
/// (bit 0 is `_PAGE_PRESENT` and bit 7 `_PAGE_PROTNONE`, both clear), so
/// an entry can name 2^24 pages, 64 GB, per device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SwpEntry(pub u32);

impl SwpEntry {
    /// Devices an entry can name (Linux's `MAX_SWAPFILES_SHIFT`, 5).
    pub const MAX_TYPES: usize = 32;
    /// The largest offset an entry can hold.
    pub const MAX_OFFSET: u32 = (1 << 24) - 1;

    pub const fn new(ty: usize, offset: u32) -> SwpEntry {
        assert!(ty < Self::MAX_TYPES && offset <= Self::MAX_OFFSET, "swap entry out of range");
        SwpEntry(((ty as u32) << 1) | (offset << 8))
    }

    /// Linux's `swp_type`.
    pub const fn ty(self) -> usize {
        ((self.0 >> 1) & 0x1f) as usize
    }

    /// Linux's `swp_offset`.
    pub const fn offset(self) -> u32 {
        self.0 >> 8
    }

    /// A migration entry (Linux's `make_migration_entry`): while page
    /// migration moves frame `pfn`, each entry that mapped it holds this
    /// instead, in the last two swap types (which no swap area may use:
    /// `MAX_SWAPFILES` is 30), remembering whether it was writable. A
    /// fault on one waits for the move to end (`mm::migrate`).
    pub const fn migration(pfn: u32, write: bool) -> SwpEntry {
        SwpEntry::new(if write { SWP_MIGRATION_WRITE } else { SWP_MIGRATION_READ }, pfn)
    }

    /// Linux's `is_migration_entry`.
    pub const fn is_migration(self) -> bool {
        self.ty() >= SWP_MIGRATION_READ
    }

    /// Linux's `is_write_migration_entry`.
    pub const fn is_write_migration(self) -> bool {
        self.ty() == SWP_MIGRATION_WRITE
    }

    /// The frame a migration entry names (Linux's `migration_entry_to_page`).
    pub const fn migration_pfn(self) -> u32 {
        self.offset()
    }
}

/// The swap types migration entries use (Linux's `SWP_MIGRATION_READ` and
/// `SWP_MIGRATION_WRITE`, `MAX_SWAPFILES` and `MAX_SWAPFILES + 1`).
pub const SWP_MIGRATION_READ: usize = SwpEntry::MAX_TYPES - 2;
pub const SWP_MIGRATION_WRITE: usize = SwpEntry::MAX_TYPES - 1;

impl Pte {
    /// Linux's `swp_entry_to_pte`.
    pub const fn from_swp_entry(e: SwpEntry) -> Pte {
        Pte(e.0)
    }

    /// Linux's `is_swap_pte`: not empty, not present, not a `PROT_NONE`
    /// frame.
    pub const fn is_swap(self) -> bool {
        !self.is_none() && !self.is_present() && !self.is_protnone()
    }

    /// Linux's `pte_to_swp_entry` (meaningful when `is_swap`).
    pub const fn swp_entry(self) -> SwpEntry {
        SwpEntry(self.0)
    }
}

/// `_PAGE_PROTNONE` of a not-present entry (see `Pte::is_protnone`).
pub const PTE_PROTNONE: u32 = 1 << 7;

/// A page-directory entry: a page table, or (with PSE) a 4 MB page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pde(pub u32);

impl Pde {
    pub const NONE: Pde = Pde(0);

    /// A PDE naming frame `pfn`: a page table, or with `PSE` in `flags` a
    /// 4 MB page, whose `pfn` must then be 4 MB aligned (panics otherwise).
    pub const fn new(pfn: Pfn, flags: PteFlags) -> Pde {
        assert!(pfn.0 < MAX_PFN, "pfn beyond 4 GB in a non-PAE entry");
        assert!(!flags.contains(PteFlags::PSE) || pfn.0.is_multiple_of(PAGES_PER_PDE), "4 MB page not 4 MB aligned");
        Pde((pfn.0 << PAGE_SHIFT) | (flags.bits() & FLAGS_MASK))
    }

    /// A 4 MB page starting at frame `pfn`.
    pub const fn large(pfn: Pfn, flags: PteFlags) -> Pde {
        Pde::new(pfn, flags.union(PteFlags::PSE))
    }

    /// The page table's frame, or the first frame of the 4 MB page.
    pub const fn pfn(self) -> Pfn {
        if self.is_large() {
            Pfn((self.0 & LARGE_FRAME_MASK) >> PAGE_SHIFT)
        } else {
            Pfn(self.0 >> PAGE_SHIFT)
        }
    }

    pub const fn flags(self) -> PteFlags {
        PteFlags::from_bits_retain(self.0 & FLAGS_MASK)
    }

    pub const fn is_present(self) -> bool {
        self.0 & PteFlags::PRESENT.bits() != 0
    }

    /// A present 4 MB page (PSE) rather than a page table.
    pub const fn is_large(self) -> bool {
        self.is_present() && self.0 & PteFlags::PSE.bits() != 0
    }

    /// Physical address of the page table it points to, if it points to one.
    pub const fn table(self) -> Option<u32> {
        if self.is_present() && !self.is_large() {
            Some(self.0 & !FLAGS_MASK)
        } else {
            None
        }
    }
}

/// The physical memory that holds page directories and page tables. The
/// kernel implements it through the direct map for its own tables (in
/// lowmem) and through `kmap_atomic` for user page tables in highmem
/// (`mm::highpte`, HIGHPTE); the tests with a map from address to a
/// 1024-entry array.
pub trait TableMemory {
    /// Entry `index` (0..1024) of the table at physical address `table_phys`.
    fn read_entry(&self, table_phys: u32, index: usize) -> u32;
    fn write_entry(&mut self, table_phys: u32, index: usize, val: u32);
    /// A zeroed page for a table: its physical address, or `None` when out of memory.
    fn alloc_table(&mut self) -> Option<u32>;
    fn free_table(&mut self, phys: u32);
    /// Whether every entry of the table at `table_phys` is 0. Memory that
    /// must map a table to read it overrides this to map it once for the
    /// 1024 reads (an exit frees every table of the process this way).
    fn table_is_empty(&self, table_phys: u32) -> bool {
        (0..PTRS_PER_PTE).all(|k| self.read_entry(table_phys, k) == 0)
    }
}

/// Why a page-table operation refused. Nothing was changed when it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// A present entry is already there (the address and that entry): a
    /// second mapping would leak the first frame and leave a stale TLB entry.
    AlreadyMapped(VirtAddr, Pte),
    /// A swap entry is there (the address and the entry): mapping over it
    /// would lose the only record of where the page's data is on swap.
    /// Swap-in must take the entry first (`unmap` hands it back).
    SwapEntry(VirtAddr, Pte),
    /// Nothing is mapped there (or the reference directory has no PDE for a sync).
    NotMapped(VirtAddr),
    /// No page for a new page table.
    NoMemory,
    /// The PDE maps a 4 MB page; 4 KB operations cannot split it.
    LargePage(VirtAddr),
    /// Not on a 4 KB boundary.
    Misaligned(VirtAddr),
    /// A frame no non-PAE entry can hold (beyond 4 GB).
    BadPfn(Pfn),
    /// The range runs past the top of the address space.
    OutOfRange(VirtAddr),
    /// A kernel-PDE operation on a user address.
    NotKernel(VirtAddr),
    /// A user-address-space operation on a kernel address.
    NotUser(VirtAddr),
    /// Both directories have the kernel PDE but name different tables: the
    /// shared kernel half has been corrupted (Linux BUGs here).
    PdeMismatch(VirtAddr),
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MapError::AlreadyMapped(va, old) => write!(f, "{va} is already mapped (pte {:08x})", old.0),
            MapError::SwapEntry(va, old) => write!(f, "{va} holds a swap entry (pte {:08x})", old.0),
            MapError::NotMapped(va) => write!(f, "{va} is not mapped"),
            MapError::NoMemory => f.write_str("no memory for a page table"),
            MapError::LargePage(va) => write!(f, "{va} is inside a 4 MB page"),
            MapError::Misaligned(va) => write!(f, "{va} is not page aligned"),
            MapError::BadPfn(pfn) => write!(f, "pfn {:#x} is beyond 4 GB", pfn.0),
            MapError::OutOfRange(va) => write!(f, "range from {va} runs past 4 GB"),
            MapError::NotKernel(va) => write!(f, "{va} is not a kernel address"),
            MapError::NotUser(va) => write!(f, "{va} is not a user address"),
            MapError::PdeMismatch(va) => {
                write!(f, "kernel PDE for {va} differs from the reference")
            }
        }
    }
}

/// What the walk to one address found: what an oops prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Walk {
    pub va: VirtAddr,
    pub pde: Pde,
    /// The PTE, when the PDE points to a page table.
    pub pte: Option<Pte>,
}

impl fmt::Display for Walk {
    /// As Linux's `dump_fault_path` prints it: `*pde = 0123f067 *pte = 00000000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "*pde = {:08x}", self.pde.0)?;
        if let Some(pte) = self.pte {
            write!(f, " *pte = {:08x}", pte.0)?;
        }
        Ok(())
    }
}

/// One address space: a page directory, named by its physical address (what
/// CR3 holds); the tables themselves live in [`TableMemory`]. Not `Copy` nor
/// `Clone`: the handle made by [`PageTables::new`] or [`PageTables::pgd_alloc`]
/// is the one owner that frees the directory (`pgd_free`, which consumes it),
/// so a copy cannot outlive the frame it names. (`from_phys` makes other
/// handles, under its contract.)
#[derive(Debug, PartialEq, Eq)]
pub struct PageTables {
    pgd_phys: u32,
}

impl PageTables {
    /// An empty page directory.
    pub fn new<M: TableMemory + ?Sized>(mem: &mut M) -> Result<PageTables, MapError> {
        let pgd_phys = mem.alloc_table().ok_or(MapError::NoMemory)?;
        Ok(PageTables { pgd_phys })
    }

    /// Wrap an existing directory (the kernel's `swapper_pg_dir`, or CR3).
    ///
    /// # Safety
    /// `pgd_phys` is a page directory (not any frame: `map` and `unmap`
    /// write into whatever it names, and the frames its entries point to),
    /// and it stays one while the handle is used. Changes made through the
    /// handle to a directory the CPU uses are the caller's to make (it owns
    /// the range it maps or unmaps). [`PageTables::new`] needs no such
    /// promise: the directory it makes is the caller's own.
    #[allow(unsafe_code)]
    pub const unsafe fn from_phys(pgd_phys: u32) -> PageTables {
        PageTables { pgd_phys }
    }

    /// What goes into CR3.
    pub const fn pgd_phys(&self) -> u32 {
        self.pgd_phys
    }

    pub fn pde<M: TableMemory + ?Sized>(&self, mem: &M, index: usize) -> Pde {
        Pde(mem.read_entry(self.pgd_phys, index))
    }

    /// Linux's `pgd_ctor`: copy the kernel half (PDEs 768..1023) of
    /// `reference` into this directory. Returns how many were present.
    pub fn clone_kernel_pdes<M: TableMemory + ?Sized>(&self, mem: &mut M, reference: &PageTables) -> usize {
        let mut present = 0;
        for i in KERNEL_PGD_FIRST..PTRS_PER_PGD {
            let pde = reference.pde(mem, i);
            present += pde.is_present() as usize;
            mem.write_entry(self.pgd_phys, i, pde.0);
        }
        present
    }

    /// Linux's `pgd_alloc`: the directory of a new address space, with the
    /// kernel half (PDEs 768..1023) copied from `reference` (`swapper_pg_dir`)
    /// so kernel code, stacks and the direct map stay reachable after CR3
    /// switches to it. User PDEs start empty.
    pub fn pgd_alloc<M: TableMemory + ?Sized>(mem: &mut M, reference: &PageTables) -> Result<PageTables, MapError> {
        let pgd = PageTables::new(mem)?;
        pgd.clone_kernel_pdes(mem, reference);
        Ok(pgd)
    }

    /// Linux's `free_pgtables` then `pgd_free`: give back the user page
    /// tables (PDEs 0..768) and the directory. The kernel tables it points to
    /// are shared and stay. Returns how many present user PTEs were left
    /// (pages whose owner forgot to unmap them; 0 when it did its job). The
    /// CPU must not be using this directory (CR3) any more.
    pub fn pgd_free<M: TableMemory + ?Sized>(self, mem: &mut M) -> usize {
        let leaked = self.free_page_tables(mem, 0..KERNEL_PGD_FIRST);
        self.free_directory(mem);
        leaked
    }

    /// Map the 4 KB page at `va` to frame `pfn` (`PRESENT` is implied). An
    /// empty PDE gets a fresh page table first (kept even if this fails
    /// later: Linux never frees a page table on a failed map either). No TLB
    /// flush is needed: the entry was not present. An entry that is not empty
    /// is refused, naming it: a present one (`AlreadyMapped`) or a swap entry
    /// (`SwapEntry`); the caller unmaps first and so takes what was there.
    pub fn map<M: TableMemory + ?Sized>(
        &self,
        mem: &mut M,
        va: VirtAddr,
        pfn: Pfn,
        flags: PteFlags,
    ) -> Result<(), MapError> {
        if pfn.0 >= MAX_PFN {
            return Err(MapError::BadPfn(pfn));
        }
        let table = self.table_for(mem, va, true)?;
        let old = Pte(mem.read_entry(table, va.pte_index()));
        check_empty(va, old)?;
        let new = Pte::new(pfn, flags | PteFlags::PRESENT);
        mem.write_entry(table, va.pte_index(), new.0);
        Ok(())
    }

    /// Write swap entry `e` at `va`, making the page table if needed, where
    /// the entry is empty (fork copying a swapped-out page; `map`'s rules
    /// otherwise). No flush: neither entry is present.
    pub fn set_swap_entry<M: TableMemory + ?Sized>(
        &self,
        mem: &mut M,
        va: VirtAddr,
        e: SwpEntry,
    ) -> Result<(), MapError> {
        let table = self.table_for(mem, va, true)?;
        let old = Pte(mem.read_entry(table, va.pte_index()));
        check_empty(va, old)?;
        mem.write_entry(table, va.pte_index(), Pte::from_swp_entry(e).0);
        Ok(())
    }

    /// Clear the entry at `va` and return the old one. If it was present the
    /// caller must `invlpg(va)` before the frame is reused; if it was a swap
    /// entry the caller owns that swap slot now.
    pub fn unmap<M: TableMemory + ?Sized>(&self, mem: &mut M, va: VirtAddr) -> Result<Pte, MapError> {
        let table = self.table_for(mem, va, false)?;
        let old = Pte(mem.read_entry(table, va.pte_index()));
        if old.is_none() {
            return Err(MapError::NotMapped(va));
        }
        mem.write_entry(table, va.pte_index(), 0);
        Ok(old)
    }

    /// The physical address `va` reaches and the flags of the entry that
    /// maps it (a PTE, or the PDE of a 4 MB page), as the MMU would find it.
    pub fn translate<M: TableMemory + ?Sized>(&self, mem: &M, va: VirtAddr) -> Option<(PhysAddr, PteFlags)> {
        // LAB 1: BEGIN translate: the MMU's two-level walk (a 4 MB page stops at the PDE)
        let pde = self.pde(mem, va.pgd_index());
        if pde.is_large() {
            let offset = va.0 & !LARGE_FRAME_MASK;
            return Some((PhysAddr(pde.pfn().phys().0 | offset), pde.flags()));
        }
        let pte = Pte(mem.read_entry(pde.table()?, va.pte_index()));
        pte.is_present().then(|| (PhysAddr(pte.pfn().phys().0 | va.page_offset()), pte.flags()))
        // LAB 1: STUB
        // let _ = (mem, va);
        // None
        // LAB 1: END
    }

    /// The PDE for `va` and, when it points to a page table, the PTE.
    pub fn walk<M: TableMemory + ?Sized>(&self, mem: &M, va: VirtAddr) -> Walk {
        // LAB 1: BEGIN walk: read the PDE, then the PTE of the table it names
        let pde = self.pde(mem, va.pgd_index());
        let pte = pde.table().map(|t| Pte(mem.read_entry(t, va.pte_index())));
        Walk { va, pde, pte }
        // LAB 1: STUB
        // let _ = mem;
        // Walk { va, pde: Pde::NONE, pte: None }
        // LAB 1: END
    }

    /// Map consecutive pages from `va` to the given frames (vmalloc's pages
    /// need not be contiguous). All or nothing: on an error the entries this
    /// call wrote are cleared again. They were present for a moment, so the
    /// caller flushes the range before reusing those addresses, as Linux's
    /// `vmap` does by calling `vunmap` on failure. Returns the pages mapped.
    pub fn map_range<M, I>(&self, mem: &mut M, va: VirtAddr, pfns: I, flags: PteFlags) -> Result<usize, MapError>
    where
        M: TableMemory + ?Sized,
        I: IntoIterator<Item = Pfn>,
    {
        if !va.is_page_aligned() {
            return Err(MapError::Misaligned(va));
        }
        let mut done = 0usize;
        // The page table of the current 4 MB, looked up (or made) once per
        // table rather than once per page: (PDE index, table).
        let mut cached: Option<(usize, u32)> = None;
        for pfn in pfns {
            let result = match va.add_pages(done as u32) {
                Some(at) => self.map_cached(mem, at, pfn, flags, &mut cached),
                None => Err(MapError::OutOfRange(va)),
            };
            if let Err(e) = result {
                self.clear_range(mem, va, done);
                return Err(e);
            }
            done += 1;
        }
        Ok(done)
    }

    /// `map`, reusing the page table found for the previous page when `va`
    /// is under the same PDE. Only this call writes PTEs in between, never
    /// PDEs, so the cached table is what `table_for` would return again;
    /// the checks and their order are `map`'s.
    #[inline]
    fn map_cached<M: TableMemory + ?Sized>(
        &self,
        mem: &mut M,
        va: VirtAddr,
        pfn: Pfn,
        flags: PteFlags,
        cached: &mut Option<(usize, u32)>,
    ) -> Result<(), MapError> {
        if pfn.0 >= MAX_PFN {
            return Err(MapError::BadPfn(pfn));
        }
        let table = match *cached {
            Some((pgd, table)) if pgd == va.pgd_index() => table,
            _ => {
                let table = self.table_for(mem, va, true)?;
                *cached = Some((va.pgd_index(), table));
                table
            }
        };
        let old = Pte(mem.read_entry(table, va.pte_index()));
        check_empty(va, old)?;
        let new = Pte::new(pfn, flags | PteFlags::PRESENT);
        mem.write_entry(table, va.pte_index(), new.0);
        Ok(())
    }

    /// Clear `npages` entries from `va`, skipping holes (a missing page
    /// table skips its whole 4 MB). Returns how many were present: when
    /// non-zero the caller does ONE batched flush of the range (or a full
    /// flush) instead of an `invlpg` per page. A 4 MB page anywhere in the
    /// range is an error, reported before anything changes.
    pub fn unmap_range<M: TableMemory + ?Sized>(
        &self,
        mem: &mut M,
        va: VirtAddr,
        npages: usize,
    ) -> Result<usize, MapError> {
        if !va.is_page_aligned() {
            return Err(MapError::Misaligned(va));
        }
        if npages == 0 {
            return Ok(0);
        }
        let last = u32::try_from(npages - 1).ok().and_then(|n| va.add_pages(n)).ok_or(MapError::OutOfRange(va))?;
        for i in va.pgd_index()..=last.pgd_index() {
            if self.pde(mem, i).is_large() {
                let at = VirtAddr((i << PGDIR_SHIFT) as u32).max(va);
                return Err(MapError::LargePage(at));
            }
        }
        Ok(self.clear_range(mem, va, npages))
    }

    /// Clear entries of a range already checked; returns the present ones.
    fn clear_range<M: TableMemory + ?Sized>(&self, mem: &mut M, va: VirtAddr, npages: usize) -> usize {
        let mut present = 0;
        let mut page = 0;
        while page < npages {
            let at = VirtAddr(va.0 + (page << PAGE_SHIFT) as u32);
            // Entries left in this page table, and in the range.
            let run = (PTRS_PER_PTE - at.pte_index()).min(npages - page);
            if let Some(table) = self.pde(mem, at.pgd_index()).table() {
                for idx in at.pte_index()..at.pte_index() + run {
                    let old = Pte(mem.read_entry(table, idx));
                    if !old.is_none() {
                        present += old.is_present() as usize;
                        mem.write_entry(table, idx, 0);
                    }
                }
            }
            page += run;
        }
        present
    }

    /// Linux's `vmalloc_sync_one`: copy the kernel PDE covering `va` from the
    /// `reference` directory if this one lacks it. `Ok(true)` when it wrote
    /// the PDE (the faulting access can be retried; no flush: the entry was
    /// not present), `Ok(false)` when it was already there (the fault has
    /// another cause). `NotMapped` when the reference has no PDE either: a
    /// real bad access, an oops.
    pub fn sync_kernel_pde<M: TableMemory + ?Sized>(
        &self,
        mem: &mut M,
        reference: &PageTables,
        va: VirtAddr,
    ) -> Result<bool, MapError> {
        if va.as_usize() < PAGE_OFFSET {
            return Err(MapError::NotKernel(va));
        }
        let i = va.pgd_index();
        let want = reference.pde(mem, i);
        if !want.is_present() {
            return Err(MapError::NotMapped(va));
        }
        let have = self.pde(mem, i);
        if have.is_present() {
            // Flags may differ (the CPU sets ACCESSED); the frame may not.
            return if have.pfn() == want.pfn() && have.is_large() == want.is_large() {
                Ok(false)
            } else {
                Err(MapError::PdeMismatch(va))
            };
        }
        mem.write_entry(self.pgd_phys, i, want.0);
        Ok(true)
    }

    /// Free the page tables under PDEs `pgds` and clear those PDEs (process
    /// exit frees `0..KERNEL_PGD_FIRST`; kernel tables are shared and never
    /// freed). Returns how many present PTEs were still in them: pages the
    /// caller forgot to release (0 when it did its job). The caller must not
    /// run on this directory afterwards without reloading CR3.
    pub fn free_page_tables<M: TableMemory + ?Sized>(&self, mem: &mut M, pgds: Range<usize>) -> usize {
        let mut leaked = 0;
        for i in pgds {
            let pde = self.pde(mem, i);
            if let Some(table) = pde.table() {
                leaked += (0..PTRS_PER_PTE).filter(|&k| Pte(mem.read_entry(table, k)).is_present()).count();
                mem.free_table(table);
            }
            if pde.0 != 0 {
                mem.write_entry(self.pgd_phys, i, 0);
            }
        }
        leaked
    }

    /// Give the directory page back (after `free_page_tables`).
    pub fn free_directory<M: TableMemory + ?Sized>(self, mem: &mut M) {
        mem.free_table(self.pgd_phys);
    }

    /// The entry for the page at `va`; `None` when no page table covers it
    /// (Linux's `pte_offset_map` finding `pmd_none`).
    pub fn pte<M: TableMemory + ?Sized>(&self, mem: &M, va: VirtAddr) -> Option<Pte> {
        let pde = self.pde(mem, va.pgd_index());
        Some(Pte(mem.read_entry(pde.table()?, va.pte_index())))
    }

    /// Write `pte` at `va`, whose page table must exist (`NotMapped` if
    /// not). Returns the old entry: if it was present and differs, the
    /// caller flushes `va` (Linux's `set_pte_at` plus `flush_tlb_page`).
    pub fn set_pte<M: TableMemory + ?Sized>(&self, mem: &mut M, va: VirtAddr, pte: Pte) -> Result<Pte, MapError> {
        let table = self.table_for(mem, va, false)?;
        let old = Pte(mem.read_entry(table, va.pte_index()));
        mem.write_entry(table, va.pte_index(), pte.0);
        Ok(old)
    }

    /// Call `f(va, pte)` for every entry that is not empty in the `npages`
    /// pages from `va` (page tables that do not exist are skipped whole);
    /// when it returns `Some(new)`, `new` replaces the entry. Returns how
    /// many present entries were changed: when non-zero the caller flushes
    /// the range (Linux's `zap_pte_range`, `copy_pte_range`,
    /// `change_pte_range` all walk so).
    pub fn for_each_pte<M, F>(&self, mem: &mut M, va: VirtAddr, npages: usize, mut f: F) -> usize
    where
        M: TableMemory + ?Sized,
        F: FnMut(VirtAddr, Pte) -> Option<Pte>,
    {
        let mut changed = 0;
        let mut page = 0;
        while page < npages {
            let Some(at) = u32::try_from(page).ok().and_then(|p| va.add_pages(p)) else { break };
            let run = (PTRS_PER_PTE - at.pte_index()).min(npages - page);
            let pde = self.pde(mem, at.pgd_index());
            if let (Some(table), false) = (pde.table(), pde.is_large()) {
                for idx in at.pte_index()..at.pte_index() + run {
                    let old = Pte(mem.read_entry(table, idx));
                    if old.is_none() {
                        continue;
                    }
                    let here = VirtAddr(at.0 + ((idx - at.pte_index()) << PAGE_SHIFT) as u32);
                    if let Some(new) = f(here, old) {
                        if new != old {
                            changed += old.is_present() as usize;
                            mem.write_entry(table, idx, new.0);
                        }
                    }
                }
            }
            page += run;
        }
        changed
    }

    /// Free the user page tables lying wholly inside `[start, end)` that
    /// hold no entry, and clear their PDEs (Linux's `free_pgtables` after
    /// an `munmap`). Returns how many were freed. The caller flushes the
    /// TLB if this directory is loaded (the CPU may cache PDEs).
    pub fn free_empty_tables<M: TableMemory + ?Sized>(&self, mem: &mut M, start: VirtAddr, end: VirtAddr) -> usize {
        let first = (start.0 as usize).div_ceil(1 << PGDIR_SHIFT);
        let last = (end.0 as usize >> PGDIR_SHIFT).min(KERNEL_PGD_FIRST);
        let mut freed = 0;
        for i in first..last {
            let pde = self.pde(mem, i);
            let Some(table) = pde.table() else { continue };
            if pde.is_large() || !mem.table_is_empty(table) {
                continue;
            }
            mem.write_entry(self.pgd_phys, i, 0);
            mem.free_table(table);
            freed += 1;
        }
        freed
    }

    /// The page table covering `va`, made on demand when `alloc`.
    fn table_for<M: TableMemory + ?Sized>(&self, mem: &mut M, va: VirtAddr, alloc: bool) -> Result<u32, MapError> {
        if !va.is_page_aligned() {
            return Err(MapError::Misaligned(va));
        }
        let pde = self.pde(mem, va.pgd_index());
        if pde.is_large() {
            return Err(MapError::LargePage(va));
        }
        if let Some(table) = pde.table() {
            return Ok(table);
        }
        if !alloc {
            return Err(MapError::NotMapped(va));
        }
        let table = mem.alloc_table().ok_or(MapError::NoMemory)?;
        let flags = if va.as_usize() < TASK_SIZE { PteFlags::USER_TABLE } else { PteFlags::KERNEL_TABLE };
        mem.write_entry(self.pgd_phys, va.pgd_index(), Pde::new(PhysAddr(table).pfn(), flags).0);
        Ok(table)
    }
}

/// `map`'s rule: only an empty entry (Linux's `pte_none`) is written.
#[inline]
fn check_empty(va: VirtAddr, old: Pte) -> Result<(), MapError> {
    if old.is_present() {
        Err(MapError::AlreadyMapped(va, old))
    } else if !old.is_none() {
        Err(MapError::SwapEntry(va, old))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
