//! Early paging (Linux's arch/x86/mm/init_32.c, the part before the page
//! allocator). boot.S built `swapper_pg_dir`: the first 8 MB through two 4 KB
//! page tables (`early_pt`) and the rest of lowmem with 4 MB pages, plus an
//! identity mapping of the first 8 MB for the jump to the higher half.
//!
//! Page-table words are reached through raw pointers and read and written
//! as the MMU sees them: one volatile access each (`volatile` crate,
//! `entry`), never through a reference to a whole table. Their bits come
//! from `PteFlags`.

use super::super::cpu::{flush_tlb_all, flush_tlb_one};
use crate::arch::x86::pgtable_types::PteFlags;
use crate::layout::{
    virt_to_phys, EARLY_PT_BYTES, KERNEL_PGD_FIRST, PAGE_OFFSET, PAGE_SHIFT, PTRS_PER_PGD, PTRS_PER_PTE,
};
use core::ptr::{addr_of_mut, NonNull};
use volatile::VolatilePtr;

extern "C" {
    static mut swapper_pg_dir: [u32; PTRS_PER_PGD];
    static mut early_pt: [u32; EARLY_PT_BYTES >> PAGE_SHIFT];
}

/// The page-table word at `p`, for one volatile read or write.
///
/// # Safety
/// `p` is an aligned, mapped page-table word that the caller may access
/// (it owns the entry, or holds what serialises its writers).
#[inline(always)]
unsafe fn entry<'a>(p: *mut u32) -> VolatilePtr<'a, u32> {
    // SAFETY: non-null and valid by the caller's contract.
    unsafe { VolatilePtr::new(NonNull::new_unchecked(p)) }
}

/// Word `i` of the kernel page directory.
///
/// # Safety
/// As for `entry`; `i < PTRS_PER_PGD`.
#[inline(always)]
unsafe fn pgd_word<'a>(i: usize) -> VolatilePtr<'a, u32> {
    // SAFETY: i indexes swapper_pg_dir (caller), a kernel bss array that is
    // always mapped.
    unsafe { entry((addr_of_mut!(swapper_pg_dir) as *mut u32).add(i)) }
}

/// Word `i` of the early 4 KB page tables.
///
/// # Safety
/// As for `entry`; `i < EARLY_PT_BYTES >> PAGE_SHIFT`.
#[inline(always)]
unsafe fn early_pt_word<'a>(i: usize) -> VolatilePtr<'a, u32> {
    // SAFETY: i indexes early_pt (caller), kernel bss, always mapped.
    unsafe { entry((addr_of_mut!(early_pt) as *mut u32).add(i)) }
}

/// Remove the identity mapping now that we run in the higher half: a stray
/// user-space pointer in the kernel must fault, not hit low physical memory.
///
/// # Safety
/// Called once, at boot, with interrupts off, after the jump to
/// PAGE_OFFSET: nothing (code, stack, data) is reached through the identity
/// entries any more. Later, user mappings may live in those PDEs and this
/// would unmap them under their users.
pub unsafe fn zap_low_mappings() {
    for i in 0..KERNEL_PGD_FIRST {
        // SAFETY: i < KERNEL_PGD_FIRST < PTRS_PER_PGD; by the contract,
        // nothing is reached through the identity entries; single CPU,
        // interrupts off.
        unsafe { pgd_word(i).write(0) };
    }
    flush_tlb_all();
}

/// Physical address of the kernel's page directory.
pub fn swapper_pg_dir_phys() -> usize {
    virt_to_phys(addr_of_mut!(swapper_pg_dir) as usize)
}

/// Make one page of the early 4 KB-mapped region absent or present again
/// (guard pages under kernel-thread stacks). Returns false when `vaddr` is
/// not in that region.
///
/// # Safety
/// The page at `vaddr` belongs to the caller and nothing uses it while it
/// is absent (a stack guard page of a thread the caller manages): the
/// region also holds the kernel image, its data and the boot stack, and
/// unmapping any of those faults the kernel at its next touch. The caller
/// serialises calls (interrupts off or the scheduler's lock).
pub unsafe fn set_early_page_present(vaddr: usize, present: bool) -> bool {
    if !(PAGE_OFFSET..PAGE_OFFSET + EARLY_PT_BYTES).contains(&vaddr) || !vaddr.is_multiple_of(crate::layout::PAGE_SIZE)
    {
        return false;
    }
    let index = (vaddr - PAGE_OFFSET) >> PAGE_SHIFT;
    let pte = if present { (index << PAGE_SHIFT) as u32 | PteFlags::PRESENT_RW.bits() } else { 0 };
    // SAFETY: the index is inside early_pt (vaddr checked above); the
    // entry maps the page `vaddr`, which the caller owns (contract); single
    // writer, by contract.
    unsafe { early_pt_word(index).write(pte) };
    flush_tlb_one(vaddr);
    true
}

/// Whether a kernel virtual address in the early 4 KB region is mapped.
pub fn early_page_present(vaddr: usize) -> bool {
    if !(PAGE_OFFSET..PAGE_OFFSET + EARLY_PT_BYTES).contains(&vaddr) {
        return true;
    }
    // SAFETY: read of an in-bounds page-table entry (vaddr checked above).
    let pte = unsafe { early_pt_word((vaddr - PAGE_OFFSET) >> PAGE_SHIFT).read() };
    PteFlags::from_bits_retain(pte).contains(PteFlags::PRESENT)
}

/// Virtual address of the pkmap page table (set by paging_init).
static PKMAP_PT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// One page table, as the MMU reads it. A static reached by reference, not
/// through a raw pointer, so its words are atomics rather than `volatile`
/// accesses: a Relaxed store is the same single `mov` (the kmap_atomic fast
/// path), and the type says that the MMU shares it.
#[repr(C, align(4096))]
struct PageTable([core::sync::atomic::AtomicU32; PTRS_PER_PTE]);

/// The fixmap page table lives in the kernel's bss (as Linux's does in
/// `swapper_pg_dir`'s neighbourhood): its address is a link-time constant,
/// so `set_fixmap` of a constant slot compiles to one store and an
/// `invlpg`, with no pointer to load and check. paging_init installs it.
static FIXMAP_PT: PageTable = PageTable([const { core::sync::atomic::AtomicU32::new(0) }; PTRS_PER_PTE]);
/// Set once paging_init has installed `FIXMAP_PT` (for the assert in the
/// out-of-line fixmap calls).
static FIXMAP_READY: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// How the direct map was built, for `DirectMap4k`/`DirectMap4M` in meminfo.
#[derive(Clone, Copy, Default)]
pub struct DirectMapStats {
    pub pages_4k: usize,
    pub pages_4m: usize,
}

static DIRECT_MAP: spin::Once<DirectMapStats> = spin::Once::new();

/// Page tables of the kernel page directory (early, tail, pkmap, fixmap,
/// vmalloc).
pub fn page_tables_in_use() -> usize {
    (0..PTRS_PER_PGD)
        .map(|i| PteFlags::from_bits_retain(pgd_entry(i)))
        .filter(|e| e.contains(PteFlags::PRESENT) && !e.contains(PteFlags::PSE))
        .count()
}

/// One entry of the kernel page directory, read as the MMU reads it (one
/// aligned word, volatile: vmalloc may write PDEs concurrently), never
/// through a reference to the whole array.
fn pgd_entry(i: usize) -> u32 {
    assert!(i < PTRS_PER_PGD);
    // SAFETY: i < PTRS_PER_PGD; an aligned u32 read is atomic on x86.
    unsafe { pgd_word(i).read() }
}

pub fn direct_map_stats() -> DirectMapStats {
    DIRECT_MAP.get().copied().unwrap_or_default()
}

/// Turn the boot page directory into the kernel's real one (Linux's
/// `paging_init` / `kernel_physical_mapping_init`), in place:
///
/// - lowmem `0 .. max_low_pfn` stays mapped at PAGE_OFFSET: the first 8 MB
///   through the early 4 KB page tables (they hold the guard pages), the rest
///   with 4 MB PSE pages, and a last partial 4 MB through a page table, so
///   nothing past `max_low_pfn` is mapped; everything above is unmapped;
/// - the pkmap and fixmap page tables are installed (empty).
///
/// `alloc_pt` returns the physical address of a fresh page in lowmem below
/// `max_low_pfn` (from the boot allocator); it is zeroed here.
pub fn paging_init(max_low_pfn: usize, mut alloc_pt: impl FnMut() -> usize) {
    let early_pdes = EARLY_PT_BYTES >> crate::layout::PGDIR_SHIFT;
    let mut stats = DirectMapStats { pages_4k: EARLY_PT_BYTES >> PAGE_SHIFT, pages_4m: 0 };
    let mut new_pt = || {
        let phys = alloc_pt();
        let virt = crate::layout::phys_to_virt(phys);
        // SAFETY: a fresh, unused page of lowmem, mapped by the boot mapping
        // (all 896 MB) that is still live.
        unsafe { core::ptr::write_bytes(virt as *mut u8, 0, crate::layout::PAGE_SIZE) };
        (phys, virt as *mut u32)
    };
    let table = PteFlags::PRESENT_RW.bits();
    let large = PteFlags::PRESENT_RW_LARGE.bits();
    // SAFETY (every block below): single CPU, interrupts off, during boot;
    // each slot < PTRS_PER_PGD, each k < PTRS_PER_PTE of a fresh table.
    // Entries that map the kernel image and its stacks (the first 8 MB)
    // are not touched; the others change only to map the same frames (or
    // nothing) before the flush below.
    for i in early_pdes..(crate::layout::MAXMEM >> crate::layout::PGDIR_SHIFT) {
        let first_pfn = i << (crate::layout::PGDIR_SHIFT - PAGE_SHIFT);
        let slot = KERNEL_PGD_FIRST + i;
        if first_pfn + PTRS_PER_PTE <= max_low_pfn {
            // SAFETY: see above.
            unsafe { pgd_word(slot).write(((first_pfn << PAGE_SHIFT) as u32) | large) };
            stats.pages_4m += 1;
        } else if first_pfn < max_low_pfn {
            let (phys, pt) = new_pt();
            for k in 0..(max_low_pfn - first_pfn) {
                // SAFETY: see above.
                unsafe { entry(pt.add(k)).write((((first_pfn + k) << PAGE_SHIFT) as u32) | table) };
            }
            stats.pages_4k += max_low_pfn - first_pfn;
            // SAFETY: see above.
            unsafe { pgd_word(slot).write(phys as u32 | table) };
        } else {
            // SAFETY: see above.
            unsafe { pgd_word(slot).write(0) };
        }
    }
    let (phys, pt) = new_pt();
    // SAFETY: see above.
    unsafe { pgd_word(crate::layout::PKMAP_BASE >> crate::layout::PGDIR_SHIFT).write(phys as u32 | table) };
    PKMAP_PT.store(pt as usize, core::sync::atomic::Ordering::Relaxed);
    // The fixmap table is a kernel bss page (zero since boot, so empty).
    let fixmap_phys = virt_to_phys(&FIXMAP_PT as *const PageTable as usize);
    // SAFETY: see above.
    unsafe { pgd_word(crate::layout::FIXADDR_TOP >> crate::layout::PGDIR_SHIFT).write(fixmap_phys as u32 | table) };
    FIXMAP_READY.store(true, core::sync::atomic::Ordering::Relaxed);
    crate::arch::x86::cpu::enable_global_pages();
    flush_tlb_all();
    DIRECT_MAP.call_once(|| stats);
    DIRECT_MAP_END.store(max_low_pfn << PAGE_SHIFT, core::sync::atomic::Ordering::Release);
}

/// Physical end of the direct map once paging_init has cut it to
/// `max_low_pfn` (0 before): below it, lowmem stays mapped for good.
static DIRECT_MAP_END: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Whether physical `[start, end)` is mapped by the final direct map, which
/// is never unmapped afterwards (0 before paging_init: the boot map is
/// about to shrink).
pub fn in_final_direct_map(start: usize, end: usize) -> bool {
    start <= end && end <= DIRECT_MAP_END.load(core::sync::atomic::Ordering::Acquire)
}

/// A boot module's bytes through the direct map, once they are sure to stay
/// mapped for the kernel's life: after `paging_init` has cut the direct map
/// to `max_low_pfn` (it never shrinks again), and only when the module lies
/// below that end. `None` before paging_init, or when
/// `mem=`/`highmem=`/`vmalloc=` left the module outside lowmem.
pub fn module_bytes(m: &crate::kernel::bootinfo::Module) -> Option<&'static [u8]> {
    let (start, end) = m.phys_range();
    if !in_final_direct_map(start, end) {
        return None;
    }
    // SAFETY: [start, end) is inside the final direct map (checked just
    // above), which stays mapped; memblock reserved the module, so no
    // allocator hands its frames out, and nothing writes it.
    Some(unsafe { core::slice::from_raw_parts(crate::layout::phys_to_virt(start) as *const u8, end - start) })
}

/// Write (or, with `pfn == None`, clear) the PTE of pkmap slot `slot`. No
/// TLB work here: the pkmap protocol decides when to flush (`mm::highmem`).
///
/// `#[inline]`: kmap writes one per new mapping and a wrap clears up to
/// LAST_PKMAP in a loop; whether a plain `pub fn` is inlined there depends
/// on how rustc splits the crate into codegen units, and out of line it
/// costs the cycling row about 34 instructions a pair. Always: it is a
/// load, a check and a store.
#[inline(always)]
pub fn set_pkmap_pte(slot: usize, pfn: Option<u32>) {
    assert!(slot < crate::layout::LAST_PKMAP, "pkmap slot {} out of range", slot);
    let pt = PKMAP_PT.load(core::sync::atomic::Ordering::Relaxed) as *mut u32;
    assert!(!pt.is_null(), "kmap used before paging_init");
    let val = pfn.map_or(0, |p| (p << PAGE_SHIFT) | PteFlags::PRESENT_RW.bits());
    // SAFETY: slot < LAST_PKMAP indexes the pkmap page table, a page the
    // kernel owns; the caller holds the pkmap lock, so the entry has one
    // writer.
    unsafe { entry(pt.add(slot)).write(val) };
}

/// Fixed mappings below FIXADDR_TOP (Linux's fixmap): each index is one page
/// whose frame can be changed at run time. Index 0 is the highest page.
///
/// `set_fixmap`/`clear_fixmap_at` are inline: called with a constant index
/// (every caller but tests passes one), the range check and the PTE address
/// fold away at compile time.
pub mod fixmap {
    use super::super::super::cpu::flush_tlb_one;
    use crate::arch::x86::pgtable_types::PteFlags;
    use crate::layout::{FIXADDR_START, FIXADDR_TOP, PAGE_SHIFT, PAGE_SIZE};
    pub use crate::layout::{FIX_KMAP_BEGIN, NR_FIX};
    use core::sync::atomic::{AtomicU32, Ordering};

    pub const fn fix_to_virt(idx: usize) -> usize {
        FIXADDR_TOP - (idx + 1) * PAGE_SIZE
    }

    #[inline(always)]
    fn pte(idx: usize) -> &'static AtomicU32 {
        assert!(idx < NR_FIX, "fixmap index {} out of range", idx);
        &super::FIXMAP_PT.0[(fix_to_virt(idx) >> PAGE_SHIFT) & 0x3ff]
    }

    /// Frames a non-PAE PTE can name: `pfn << 12` must fit 32 bits.
    pub const PTE_PFN_LIMIT: usize = 1 << (32 - PAGE_SHIFT);

    /// A frame a PTE cannot hold (`pfn << 12` would wrap past 4 GB and map
    /// some other frame): refused, nothing written.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PfnTooHigh(pub usize);

    /// Map frame `pfn` at fixmap slot `idx`; returns its virtual address.
    /// A frame beyond 4 GB is refused (`PfnTooHigh`). Frames beyond RAM are
    /// allowed here, as in Linux (fixmap maps device memory such as the
    /// APIC); `kmap_atomic` refuses them itself.
    ///
    /// # Safety
    /// The caller owns slot `idx` (nobody else maps or uses it until
    /// `clear_fixmap_at`), and `pfn` is a frame it may access: the mapping
    /// replaces whatever was in the slot.
    #[inline(always)]
    pub unsafe fn set_fixmap(idx: usize, pfn: usize) -> Result<usize, PfnTooHigh> {
        if pfn >= PTE_PFN_LIMIT {
            return Err(PfnTooHigh(pfn));
        }
        // Before paging_init installs the table, the mapping would not exist
        // and the caller's access would fault: say why instead (a load and a
        // branch; `clear_fixmap_at` follows a `set_fixmap`, so needs no check).
        if !ready() {
            fixmap_before_paging_init();
        }
        // SAFETY: the caller's contract, and both conditions were checked.
        Ok(unsafe { set_fixmap_prechecked(idx, pfn) })
    }

    /// `set_fixmap` without its two checks, for a caller that makes them
    /// once for many calls (`kmap_atomic`, as Linux's writes `kmap_pte - idx`
    /// directly): one store and one `invlpg`.
    ///
    /// # Safety
    /// As `set_fixmap`; and `pfn < PTE_PFN_LIMIT`, and [`ready`] said so.
    #[inline(always)]
    pub unsafe fn set_fixmap_prechecked(idx: usize, pfn: usize) -> usize {
        // The store is ordered before the invlpg: its asm may read memory.
        pte(idx).store(((pfn << PAGE_SHIFT) as u32) | PteFlags::PRESENT_RW.bits(), Ordering::Relaxed);
        let va = fix_to_virt(idx);
        flush_tlb_one(va);
        va
    }

    /// Whether paging_init has installed the fixmap page table.
    #[inline]
    pub fn ready() -> bool {
        super::FIXMAP_READY.load(Ordering::Relaxed)
    }

    #[cold]
    #[inline(never)]
    fn fixmap_before_paging_init() -> ! {
        panic!("fixmap used before paging_init");
    }

    /// Unmap the fixmap slot at `vaddr`: the pair of [`set_fixmap`], by
    /// address (`kunmap_atomic` holds the address, as Linux's
    /// `kpte_clear_flush(kmap_pte - idx, vaddr)`; Linux's `clear_fixmap`
    /// takes the index).
    ///
    /// # Safety
    /// `vaddr` is the address of fixmap slot the caller owns (so in
    /// `[FIXADDR_START, FIXADDR_TOP)` and page-aligned), and nothing uses
    /// it any more.
    #[inline(always)]
    pub unsafe fn clear_fixmap_at(vaddr: usize) {
        debug_assert!((FIXADDR_START..FIXADDR_TOP).contains(&vaddr) && vaddr % PAGE_SIZE == 0);
        // The fixmap page table maps the 4 MB that FIXADDR_TOP lies in. The
        // PTE's address is the page number scaled onto a constant base: no
        // mask, no range check (a mask, as `pte`'s, costs kunmap_atomic a
        // register, which i686's six make a spill: 8 instructions a pair).
        const PT_FIRST_PAGE: usize = (FIXADDR_TOP >> PAGE_SHIFT) & !0x3ff;
        // SAFETY: a fixmap address's page number is PT_FIRST_PAGE plus its
        // index in the table (FIXADDR_START and FIXADDR_TOP share one page
        // table, a layout assert): an entry of FIXMAP_PT.
        let pte = unsafe { &*super::FIXMAP_PT.0.as_ptr().add((vaddr >> PAGE_SHIFT) - PT_FIRST_PAGE) };
        pte.store(0, Ordering::Relaxed);
        flush_tlb_one(vaddr);
    }
}
