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
//! [`TableMemory`], which the kernel implements with the direct map (page
//! tables live in lowmem) and the tests with a `HashMap`. Nor does it flush
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

#![forbid(unsafe_code)]

use crate::layout::{
    KERNEL_PGD_FIRST, PAGE_OFFSET, PAGE_SHIFT, PAGE_SIZE, PGDIR_SHIFT, PTRS_PER_PGD, PTRS_PER_PTE,
    TASK_SIZE,
};
use bitflags::bitflags;
use core::fmt;
use core::ops::Range;

bitflags! {
    /// Entry bits of i386 PDEs and PTEs (Linux's `_PAGE_*`), bits 0..11.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct PteFlags: u32 {
        /// The entry is valid; otherwise the CPU ignores the other 31 bits
        /// (and Linux keeps a swap entry there).
        const PRESENT = 1 << 0;
        /// Writable. Ring 0 ignores it unless CR0.WP is set.
        const RW = 1 << 1;
        /// Ring 3 may use it (needed in both the PDE and the PTE).
        const USER = 1 << 2;
        /// Write-through caching.
        const PWT = 1 << 3;
        /// Caching disabled (device memory).
        const PCD = 1 << 4;
        /// Set by the CPU on every use: the reclaim code's "referenced" bit.
        const ACCESSED = 1 << 5;
        /// Set by the CPU on a write (PTEs and 4 MB PDEs only).
        const DIRTY = 1 << 6;
        /// In a PDE: this entry maps a 4 MB page, not a page table. In a
        /// PTE the same bit means PAT, which this kernel leaves clear.
        const PSE = 1 << 7;
        /// Survives CR3 reloads (with CR4.PGE): for kernel mappings only.
        const GLOBAL = 1 << 8;
        /// Software bit 9 (Linux's `_PAGE_SPECIAL`): no `struct page`
        /// stands behind this frame (device memory), so reclaim and
        /// reference counting must leave it alone.
        const SPECIAL = 1 << 9;
    }
}

impl PteFlags {
    /// Linux's `_KERNPG_TABLE`: how a PDE points at a kernel page table.
    pub const KERNEL_TABLE: PteFlags = PteFlags::PRESENT
        .union(PteFlags::RW)
        .union(PteFlags::ACCESSED)
        .union(PteFlags::DIRTY);
    /// Linux's `_PAGE_TABLE`: a user page table; the PTEs decide the rights.
    pub const USER_TABLE: PteFlags = PteFlags::KERNEL_TABLE.union(PteFlags::USER);
    /// Linux's `PAGE_KERNEL`: a present, writable kernel page.
    pub const KERNEL: PteFlags = PteFlags::PRESENT
        .union(PteFlags::RW)
        .union(PteFlags::ACCESSED)
        .union(PteFlags::DIRTY);
}

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
        assert!(
            va <= u32::MAX as usize,
            "virtual address wider than 32 bits"
        );
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
}

/// A page-directory entry: a page table, or (with PSE) a 4 MB page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pde(pub u32);

impl Pde {
    pub const NONE: Pde = Pde(0);

    /// A PDE naming frame `pfn`: a page table, or with `PSE` in `flags` a
    /// 4 MB page, whose `pfn` must then be 4 MB aligned (panics otherwise).
    pub const fn new(pfn: Pfn, flags: PteFlags) -> Pde {
        assert!(pfn.0 < MAX_PFN, "pfn beyond 4 GB in a non-PAE entry");
        assert!(
            !flags.contains(PteFlags::PSE) || pfn.0.is_multiple_of(PAGES_PER_PDE),
            "4 MB page not 4 MB aligned"
        );
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
/// kernel implements it through the direct map (tables are in lowmem); the
/// tests with a map from address to a 1024-entry array.
pub trait TableMemory {
    /// Entry `index` (0..1024) of the table at physical address `table_phys`.
    fn read_entry(&self, table_phys: u32, index: usize) -> u32;
    fn write_entry(&mut self, table_phys: u32, index: usize, val: u32);
    /// A zeroed page for a table: its physical address, or `None` when out of memory.
    fn alloc_table(&mut self) -> Option<u32>;
    fn free_table(&mut self, phys: u32);
}

/// Why a page-table operation refused. Nothing was changed when it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// A present entry is already there.
    AlreadyMapped(VirtAddr),
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
    /// Both directories have the kernel PDE but name different tables: the
    /// shared kernel half has been corrupted (Linux BUGs here).
    PdeMismatch(VirtAddr),
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MapError::AlreadyMapped(va) => write!(f, "{va} is already mapped"),
            MapError::NotMapped(va) => write!(f, "{va} is not mapped"),
            MapError::NoMemory => f.write_str("no memory for a page table"),
            MapError::LargePage(va) => write!(f, "{va} is inside a 4 MB page"),
            MapError::Misaligned(va) => write!(f, "{va} is not page aligned"),
            MapError::BadPfn(pfn) => write!(f, "pfn {:#x} is beyond 4 GB", pfn.0),
            MapError::OutOfRange(va) => write!(f, "range from {va} runs past 4 GB"),
            MapError::NotKernel(va) => write!(f, "{va} is not a kernel address"),
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
/// CR3 holds). Cheap to copy; the tables themselves live in [`TableMemory`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    pub const fn from_phys(pgd_phys: u32) -> PageTables {
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
    pub fn clone_kernel_pdes<M: TableMemory + ?Sized>(
        &self,
        mem: &mut M,
        reference: &PageTables,
    ) -> usize {
        let mut present = 0;
        for i in KERNEL_PGD_FIRST..PTRS_PER_PGD {
            let pde = reference.pde(mem, i);
            present += pde.is_present() as usize;
            mem.write_entry(self.pgd_phys, i, pde.0);
        }
        present
    }

    /// Map the 4 KB page at `va` to frame `pfn` (`PRESENT` is implied). An
    /// empty PDE gets a fresh page table first (kept even if this fails
    /// later: Linux never frees a page table on a failed map either). No TLB
    /// flush is needed: the entry was not present.
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
        if old.is_present() {
            return Err(MapError::AlreadyMapped(va));
        }
        // A non-present, non-empty entry is a swap entry: mapping the page
        // back in (swap-in) replaces it.
        let new = Pte::new(pfn, flags | PteFlags::PRESENT);
        mem.write_entry(table, va.pte_index(), new.0);
        Ok(())
    }

    /// Clear the entry at `va` and return the old one. If it was present the
    /// caller must `invlpg(va)` before the frame is reused; if it was a swap
    /// entry the caller owns that swap slot now.
    pub fn unmap<M: TableMemory + ?Sized>(
        &self,
        mem: &mut M,
        va: VirtAddr,
    ) -> Result<Pte, MapError> {
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
    pub fn translate<M: TableMemory + ?Sized>(
        &self,
        mem: &M,
        va: VirtAddr,
    ) -> Option<(PhysAddr, PteFlags)> {
        let pde = self.pde(mem, va.pgd_index());
        if pde.is_large() {
            let offset = va.0 & !LARGE_FRAME_MASK;
            return Some((PhysAddr(pde.pfn().phys().0 | offset), pde.flags()));
        }
        let pte = Pte(mem.read_entry(pde.table()?, va.pte_index()));
        pte.is_present()
            .then(|| (PhysAddr(pte.pfn().phys().0 | va.page_offset()), pte.flags()))
    }

    /// The PDE for `va` and, when it points to a page table, the PTE.
    pub fn walk<M: TableMemory + ?Sized>(&self, mem: &M, va: VirtAddr) -> Walk {
        let pde = self.pde(mem, va.pgd_index());
        let pte = pde.table().map(|t| Pte(mem.read_entry(t, va.pte_index())));
        Walk { va, pde, pte }
    }

    /// Map consecutive pages from `va` to the given frames (vmalloc's pages
    /// need not be contiguous). All or nothing: on an error the entries this
    /// call wrote are cleared again. They were present for a moment, so the
    /// caller flushes the range before reusing those addresses, as Linux's
    /// `vmap` does by calling `vunmap` on failure. Returns the pages mapped.
    pub fn map_range<M, I>(
        &self,
        mem: &mut M,
        va: VirtAddr,
        pfns: I,
        flags: PteFlags,
    ) -> Result<usize, MapError>
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
        if old.is_present() {
            return Err(MapError::AlreadyMapped(va));
        }
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
        let last = u32::try_from(npages - 1)
            .ok()
            .and_then(|n| va.add_pages(n))
            .ok_or(MapError::OutOfRange(va))?;
        for i in va.pgd_index()..=last.pgd_index() {
            if self.pde(mem, i).is_large() {
                let at = VirtAddr((i << PGDIR_SHIFT) as u32).max(va);
                return Err(MapError::LargePage(at));
            }
        }
        Ok(self.clear_range(mem, va, npages))
    }

    /// Clear entries of a range already checked; returns the present ones.
    fn clear_range<M: TableMemory + ?Sized>(
        &self,
        mem: &mut M,
        va: VirtAddr,
        npages: usize,
    ) -> usize {
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
    pub fn free_page_tables<M: TableMemory + ?Sized>(
        &self,
        mem: &mut M,
        pgds: Range<usize>,
    ) -> usize {
        let mut leaked = 0;
        for i in pgds {
            let pde = self.pde(mem, i);
            if let Some(table) = pde.table() {
                leaked += (0..PTRS_PER_PTE)
                    .filter(|&k| Pte(mem.read_entry(table, k)).is_present())
                    .count();
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

    /// The page table covering `va`, made on demand when `alloc`.
    fn table_for<M: TableMemory + ?Sized>(
        &self,
        mem: &mut M,
        va: VirtAddr,
        alloc: bool,
    ) -> Result<u32, MapError> {
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
        let flags = if va.as_usize() < TASK_SIZE {
            PteFlags::USER_TABLE
        } else {
            PteFlags::KERNEL_TABLE
        };
        mem.write_entry(
            self.pgd_phys,
            va.pgd_index(),
            Pde::new(PhysAddr(table).pfn(), flags).0,
        );
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
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
            SimMem {
                tables: HashMap::new(),
                next: 0x0010_0000,
                budget,
                allocs: 0,
                frees: 0,
            }
        }

        fn live(&self) -> usize {
            self.allocs - self.frees
        }
    }

    impl TableMemory for SimMem {
        fn read_entry(&self, table_phys: u32, index: usize) -> u32 {
            self.tables
                .get(&table_phys)
                .expect("read of a page that is not a table")[index]
        }

        fn write_entry(&mut self, table_phys: u32, index: usize, val: u32) {
            self.tables
                .get_mut(&table_phys)
                .expect("write to a page that is not a table")[index] = val;
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
            assert!(
                self.tables.remove(&phys).is_some(),
                "double free of table {phys:#x}"
            );
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
        assert_eq!(
            VirtAddr(0xFFFF_E000).add_pages(1),
            Some(VirtAddr(0xFFFF_F000))
        );
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
        pt.map(&mut mem, a, Pfn(0x1234), PteFlags::USER | PteFlags::RW)
            .unwrap();
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
        pt.map(&mut mem, va(0x1000), Pfn(1), PteFlags::USER)
            .unwrap();
        pt.map(&mut mem, va(0x3F_F000), Pfn(2), PteFlags::USER)
            .unwrap();
        assert_eq!(mem.live(), 2, "same 4 MB: one page table");
        pt.map(&mut mem, va(0x40_0000), Pfn(3), PteFlags::USER)
            .unwrap();
        assert_eq!(mem.live(), 3, "next 4 MB: a second one");
        assert_eq!(pt.pde(&mem, 0).flags(), PteFlags::USER_TABLE);
        pt.map(&mut mem, va(VMALLOC_START_MIN), Pfn(4), PteFlags::KERNEL)
            .unwrap();
        assert_eq!(
            pt.pde(&mem, VMALLOC_START_MIN >> PGDIR_SHIFT).flags(),
            PteFlags::KERNEL_TABLE
        );
        // Unmapping keeps page tables (Linux frees them only at exit).
        pt.unmap(&mut mem, va(0x1000)).unwrap();
        assert_eq!(mem.live(), 4);
        assert_eq!(
            pt.free_page_tables(&mut mem, 0..PTRS_PER_PGD),
            3,
            "three pages still mapped"
        );
        pt.free_directory(&mut mem);
        assert_eq!(mem.live(), 0);
    }

    #[test]
    fn translate_follows_4mb_pages() {
        let mut mem = SimMem::new(4);
        let pt = PageTables::new(&mut mem).unwrap();
        let i = PAGE_OFFSET >> PGDIR_SHIFT;
        let pde = Pde::large(Pfn(0), PteFlags::KERNEL | PteFlags::GLOBAL);
        mem.write_entry(
            pt.pgd_phys(),
            i + 1,
            Pde::large(Pfn(0x400), PteFlags::KERNEL).0,
        );
        mem.write_entry(pt.pgd_phys(), i, pde.0);
        let (phys, flags) = pt.translate(&mem, va(PAGE_OFFSET + 0x12_3456)).unwrap();
        assert_eq!(phys, PhysAddr(0x12_3456));
        assert!(flags.contains(PteFlags::PSE | PteFlags::GLOBAL));
        assert_eq!(
            pt.translate(&mem, va(PAGE_OFFSET + 0x7F_FFFF)).unwrap().0,
            PhysAddr(0x7F_FFFF)
        );
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
        mem.write_entry(
            pt.pgd_phys(),
            big.pgd_index(),
            Pde::large(Pfn(0), PteFlags::KERNEL).0,
        );
        assert_eq!(
            pt.map(&mut mem, big, Pfn(5), PteFlags::KERNEL),
            Err(MapError::LargePage(big))
        );
        assert_eq!(pt.unmap(&mut mem, big), Err(MapError::LargePage(big)));
        assert_eq!(
            pt.map(&mut mem, va(0x1234), Pfn(5), PteFlags::KERNEL),
            Err(MapError::Misaligned(va(0x1234)))
        );
        assert_eq!(
            pt.map(&mut mem, va(0x1000), Pfn(MAX_PFN), PteFlags::KERNEL),
            Err(MapError::BadPfn(Pfn(MAX_PFN)))
        );
        pt.map(&mut mem, va(0x1000), Pfn(5), PteFlags::KERNEL)
            .unwrap();
        assert_eq!(
            pt.map(&mut mem, va(0x1000), Pfn(6), PteFlags::KERNEL),
            Err(MapError::AlreadyMapped(va(0x1000)))
        );
        assert_eq!(
            pt.translate(&mem, va(0x1000)).unwrap().0,
            Pfn(5).phys(),
            "first mapping kept"
        );
        // Budget spent (directory + one table): a new 4 MB region fails.
        assert_eq!(
            pt.map(&mut mem, va(0x40_0000), Pfn(7), PteFlags::KERNEL),
            Err(MapError::NoMemory)
        );
        assert!(!pt.pde(&mem, 1).is_present());
        assert_eq!(
            format!("{}", MapError::LargePage(big)),
            "0xc0000000 is inside a 4 MB page"
        );
        pt.unmap(&mut mem, va(0x1000)).unwrap();
        mem.write_entry(pt.pgd_phys(), big.pgd_index(), 0);
        teardown(pt, &mut mem);
    }

    #[test]
    fn swap_entry_is_returned_and_replaced() {
        let mut mem = SimMem::new(2);
        let pt = PageTables::new(&mut mem).unwrap();
        let a = va(0x5000);
        pt.map(&mut mem, a, Pfn(9), PteFlags::USER).unwrap();
        let table = pt.pde(&mem, 0).table().unwrap();
        mem.write_entry(table, a.pte_index(), 0x0004_2000); // a swap entry
        assert_eq!(pt.translate(&mem, a), None);
        pt.map(&mut mem, a, Pfn(10), PteFlags::USER).unwrap();
        mem.write_entry(table, a.pte_index(), 0x0004_2000);
        let old = pt.unmap(&mut mem, a).unwrap();
        assert!(
            !old.is_present() && !old.is_none(),
            "swap entry handed back, no flush needed"
        );
        teardown(pt, &mut mem);
    }

    #[test]
    fn walk_prints_like_an_oops() {
        let mut mem = SimMem::new(2);
        let pt = PageTables::new(&mut mem).unwrap();
        let a = va(0x0040_2000);
        assert_eq!(format!("{}", pt.walk(&mem, a)), "*pde = 00000000");
        pt.map(&mut mem, a, Pfn(0x3F8F9), PteFlags::USER | PteFlags::RW)
            .unwrap();
        let w = pt.walk(&mem, a);
        let table = w.pde.table().unwrap();
        assert_eq!(
            format!("{w}"),
            format!("*pde = {:08x} *pte = 3f8f9007", table | 0x67)
        );
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
        assert_eq!(
            pt.map_range(&mut mem, start, pfns.iter().copied(), PteFlags::KERNEL),
            Ok(1500)
        );
        assert_eq!(mem.live(), 1 + 3);
        for (i, pfn) in pfns.iter().enumerate() {
            assert_eq!(
                pt.translate(&mem, start.add_pages(i as u32).unwrap())
                    .unwrap()
                    .0,
                pfn.phys()
            );
        }
        // Unmap a larger window (with the guard page and a hole): only the
        // 1500 present entries count.
        assert_eq!(
            pt.unmap_range(&mut mem, va(VMALLOC_START_MIN), 1022 + 1500 + 600),
            Ok(1500)
        );
        assert_eq!(
            pt.unmap_range(&mut mem, start, 1500),
            Ok(0),
            "second time: nothing to flush"
        );
        assert_eq!(pt.unmap_range(&mut mem, start, 0), Ok(0));
        assert_eq!(mem.live(), 4, "vunmap keeps kernel page tables");
        teardown(pt, &mut mem);
    }

    #[test]
    fn map_range_is_all_or_nothing() {
        let mut mem = SimMem::new(8);
        let pt = PageTables::new(&mut mem).unwrap();
        let start = va(0x0100_0000);
        pt.map(&mut mem, va(0x0100_5000), Pfn(99), PteFlags::KERNEL)
            .unwrap();
        let r = pt.map_range(
            &mut mem,
            start,
            (0..8).map(|i| Pfn(200 + i)),
            PteFlags::KERNEL,
        );
        assert_eq!(r, Err(MapError::AlreadyMapped(va(0x0100_5000))));
        for i in 0..8 {
            let at = start.add_pages(i).unwrap();
            let want = (i == 5).then(|| Pfn(99).phys());
            assert_eq!(pt.translate(&mem, at).map(|t| t.0), want);
        }
        // Running off the top of the address space.
        let top = va(0xFFFF_E000);
        assert_eq!(
            pt.map_range(&mut mem, top, (0..3).map(Pfn), PteFlags::KERNEL),
            Err(MapError::OutOfRange(top))
        );
        assert_eq!(pt.translate(&mem, top), None);
        assert_eq!(
            pt.unmap_range(&mut mem, top, 3),
            Err(MapError::OutOfRange(top))
        );
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
        pt.map_range(&mut mem, a, [Pfn(1), Pfn(2)], PteFlags::KERNEL)
            .unwrap();
        mem.write_entry(pt.pgd_phys(), 2, Pde::large(Pfn(0x800), PteFlags::KERNEL).0);
        assert_eq!(
            pt.unmap_range(&mut mem, a, 4),
            Err(MapError::LargePage(va(0x0080_0000)))
        );
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
        mem.write_entry(
            kernel.pgd_phys(),
            direct.pgd_index(),
            Pde::large(Pfn(0), PteFlags::KERNEL).0,
        );
        kernel
            .map(&mut mem, va(PKMAP_BASE), Pfn(0x50000), PteFlags::KERNEL)
            .unwrap();

        // A process directory made now shares what exists now...
        let process = PageTables::new(&mut mem).unwrap();
        assert_eq!(process.clone_kernel_pdes(&mut mem, &kernel), 2);
        // ...but not a vmalloc area made later in the reference directory.
        let vm = va(VMALLOC_END - 4 * PAGE_SIZE);
        kernel
            .map_range(&mut mem, vm, [Pfn(0x60000), Pfn(0x60001)], PteFlags::KERNEL)
            .unwrap();
        assert_eq!(
            process.translate(&mem, vm),
            None,
            "the fault the kernel will take"
        );
        let before: Vec<u32> = (0..PTRS_PER_PGD).map(|i| process.pde(&mem, i).0).collect();

        assert_eq!(process.sync_kernel_pde(&mut mem, &kernel, vm), Ok(true));
        for (i, old) in before.iter().enumerate() {
            let want = if i == vm.pgd_index() {
                kernel.pde(&mem, i).0
            } else {
                *old
            };
            assert_eq!(process.pde(&mem, i).0, want, "PDE {i}");
        }
        assert_eq!(process.translate(&mem, vm).unwrap().0, Pfn(0x60000).phys());
        // The second page is in the same table: no second sync needed.
        assert_eq!(
            process.sync_kernel_pde(&mut mem, &kernel, VirtAddr(vm.0 + 0x1000)),
            Ok(false)
        );
        // The CPU setting ACCESSED in one copy is not a mismatch.
        let i = vm.pgd_index();
        mem.write_entry(
            process.pgd_phys(),
            i,
            process.pde(&mem, i).0 | PteFlags::ACCESSED.bits(),
        );
        assert_eq!(process.sync_kernel_pde(&mut mem, &kernel, vm), Ok(false));

        let unmapped = va(VMALLOC_START_MIN);
        assert_eq!(
            process.sync_kernel_pde(&mut mem, &kernel, unmapped),
            Err(MapError::NotMapped(unmapped))
        );
        assert_eq!(
            process.sync_kernel_pde(&mut mem, &kernel, va(0x1000)),
            Err(MapError::NotKernel(va(0x1000)))
        );
        mem.write_entry(
            process.pgd_phys(),
            i,
            Pde::new(Pfn(0x777), PteFlags::KERNEL_TABLE).0,
        );
        assert_eq!(
            process.sync_kernel_pde(&mut mem, &kernel, vm),
            Err(MapError::PdeMismatch(vm))
        );

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
                            Entry::Occupied(_) => {
                                prop_assert_eq!(r, Err(MapError::AlreadyMapped(at(p))))
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
}
