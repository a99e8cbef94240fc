//! In-kernel tests of vmalloc: 64 MB filled and verified, backed by
//! highmem, freed with one batched flush and free pages back exactly; an
//! area made after a second page directory was cloned is used from that
//! directory through the lazy PDE sync; a request bigger than the area
//! takes nothing; a full TLB flush drops global entries; interrupt-masking
//! locks released out of order keep interrupts off until the last one.
//!
//! Every test holds what it takes in guards that give it back on drop, so
//! a failing test leaves the machine as it found it, and proves it: the
//! free page count (after `shrink` and `drain`) is compared once every
//! guard is gone. A test that needs what this configuration lacks (vmalloc
//! room taken by a shell `vmalloc`, highmem, 64 MB of free RAM) is skipped
//! with the reason.

use super::{skip, TestResult};
use crate::arch::x86::cpu::{self, load_cr3, TLB_FULL_FLUSHES, TLB_GLOBAL_FLUSHES};
use crate::arch::x86::mm::init::{page_tables_in_use, swapper_pg_dir_phys};
use crate::arch::x86::pgtable_types::PteFlags;
use crate::kernel::preempt::{preempt_disable, preempt_enable};
use crate::mm::page_alloc::{drain_all_pages, nr_free_pages};
use crate::mm::pgtable::{PageTables, Pfn, VirtAddr};
use crate::mm::vmalloc::{self, vfree, vmalloc, vzalloc, DirectMapTables, VFREE_BUGS, VMALLOC_SYNCS, VUNMAP_FLUSHES};
use crate::mm::vmap_area::VmallocError;
use crate::pr_info;
use core::ptr::NonNull;
use core::sync::atomic::Ordering;

fn settled() -> u64 {
    crate::mm::slab_common::shrink_all();
    drain_all_pages();
    nr_free_pages()
}

/// A vmalloc area the test owns; vfree'd on drop.
struct Area(NonNull<u8>);

impl Area {
    fn ptr(&self) -> *mut u8 {
        self.0.as_ptr()
    }
}

impl Drop for Area {
    fn drop(&mut self) {
        // SAFETY: the area is this guard's own, freed once, on drop.
        unsafe { vfree(self.0.as_ptr()) };
    }
}

/// `vmalloc`, owned; a lack of address space (taken by someone else, e.g. a
/// shell `vmalloc 100M`) is a reason to skip, not a failure, and so is a
/// lack of frames on a machine that never had them to spare (64 MB at
/// `-m 64M` or less): free pages short of the request plus what the
/// allocator keeps back (`totalreserve_pages`, which covers every zone's
/// `min` mark and `lowmem_reserve`). With that much free, a failure is one.
fn area(size: usize) -> Result<Area, &'static str> {
    let spare =
        nr_free_pages().saturating_sub(crate::mm::mmzone::with_node_mem_map(|node, _| node.totalreserve_pages()));
    match vmalloc(size) {
        Ok(p) => Ok(Area(p)),
        Err(VmallocError::NoSpace { .. }) => Err(skip("the vmalloc area has no room left for the test")),
        Err(VmallocError::NoMemory { pages, .. }) if spare < pages as u64 => {
            Err(skip("not enough free memory for the test's vmalloc (boot with more RAM)"))
        }
        Err(_) => Err("vmalloc failed"),
    }
}

/// Run `body`, then prove the free page count (shrunk and drained) came
/// back, `new_tables` aside: vmalloc page tables are kept for good, as in
/// Linux, and counted by the caller. Every guard of the body is dropped
/// before the count.
fn counts_come_back(body: impl FnOnce() -> TestResult) -> TestResult {
    // The area records live in a vector that keeps its capacity once grown,
    // even when empty again: make it before counting, big enough for the
    // most areas a test holds at once (the lazy-sync test's 32 spacers).
    drop(area(4096));
    vmalloc::reserve_records(64);
    let (before, tables) = (settled(), page_tables_in_use());
    let r = body();
    let new_tables = (page_tables_in_use() - tables) as u64;
    let after = settled();
    if after + new_tables != before {
        pr_info!("ktest: free pages {} -> {} ({} new kernel page tables)", before, after, new_tables);
        return r.and(Err("free pages not back after the test"));
    }
    r
}

const SIZE: usize = 64 << 20;

fn fill_and_check(p: *mut u32, words: usize, seed: u32) -> usize {
    for i in 0..words {
        // SAFETY: p has `words` words (a live vmalloc area).
        unsafe { p.add(i).write_volatile(seed ^ (i as u32).wrapping_mul(0x9e37_79b9)) };
    }
    (0..words)
        // SAFETY: as above.
        .filter(|&i| unsafe { p.add(i).read_volatile() } != seed ^ (i as u32).wrapping_mul(0x9e37_79b9))
        .count()
}

pub fn vmalloc_64m_fill_verify_free() -> TestResult {
    counts_come_back(|| {
        let flushes0 = (VUNMAP_FLUSHES.load(Ordering::Relaxed), TLB_FULL_FLUSHES.load(Ordering::Relaxed));
        let p = area(SIZE)?;
        let (high, total) = vmalloc::highmem_pages(p.ptr() as usize).ok_or("area not recorded")?;
        let bad = fill_and_check(p.ptr() as *mut u32, SIZE / 4, 0x5eed);
        drop(p);
        let vflushes = VUNMAP_FLUSHES.load(Ordering::Relaxed) - flushes0.0;
        let full = TLB_FULL_FLUSHES.load(Ordering::Relaxed) - flushes0.1;
        pr_info!(
            "ktest: vmalloc(64M): {} pages, {} from highmem, {} bad words; vfree: {} batched flush(es)",
            total,
            high,
            bad,
            vflushes
        );
        if bad != 0 {
            return Err("vmalloc memory lost data");
        }
        // Highmem first, when it has free pages above its high watermark.
        if high == 0 && has_free_highmem() {
            return Err("vmalloc used no highmem although it had pages above its watermark");
        }
        if vflushes != 1 || full != 1 {
            return Err("vfree did not do exactly one batched TLB flush");
        }
        Ok(())
    })
}

/// Whether HighMem has free pages above its high watermark (the allocator
/// serves from it without falling back).
fn has_free_highmem() -> bool {
    crate::mm::mmzone::with_node_mem_map(|node, _| {
        node.zones.iter().any(|z| {
            z.kind == crate::mm::mmzone::ZoneType::HighMem
                && z.nr_free_pages() > z.watermark(crate::mm::mmzone::Watermark::High)
        })
    })
}

pub fn vzalloc_is_zeroed() -> TestResult {
    counts_come_back(|| {
        // Dirty 4 pages, give them back, and hope to get them again: a
        // vzalloc that forgot to zero would show the pattern.
        let dirty = area(4 * 4096)?;
        // SAFETY: 4 pages are ours.
        unsafe { core::ptr::write_bytes(dirty.ptr(), 0xa5, 4 * 4096) };
        drop(dirty);
        let p = match vzalloc(3 * 4096 + 100) {
            Ok(p) => Area(p),
            Err(VmallocError::NoSpace { .. }) => return Err(skip("the vmalloc area has no room left for the test")),
            Err(_) => return Err("vzalloc failed"),
        };
        // SAFETY: 4 pages are ours.
        let zero = unsafe { core::slice::from_raw_parts(p.ptr(), 4 * 4096) }.iter().all(|&b| b == 0);
        if !zero {
            return Err("vzalloc memory not zero");
        }
        Ok(())
    })
}

/// CR3 switched to another directory with preemption off; back on drop.
struct OnPgd;

impl OnPgd {
    /// # Safety
    /// `pgd` carries every kernel PDE the running code needs.
    unsafe fn enter(pgd_phys: usize) -> OnPgd {
        preempt_disable();
        // SAFETY: by the contract.
        unsafe { load_cr3(pgd_phys) };
        OnPgd
    }
}

impl Drop for OnPgd {
    fn drop(&mut self) {
        // SAFETY: back to the kernel's own directory.
        unsafe { load_cr3(swapper_pg_dir_phys()) };
        preempt_enable();
    }
}

/// A second page directory cloned from the kernel's, then an area created
/// in the reference directory only: touching it through the clone faults,
/// the PDE is copied (counted), and the data is right. The page tables the
/// areas needed are the only pages not back (counted).
pub fn vmalloc_area_reaches_another_pgd_lazily() -> TestResult {
    counts_come_back(|| {
        // An address space of its own: the kernel PDEs copied (pgd_alloc),
        // all freed when it drops.
        let clone = crate::mm::mm_types::mm_alloc().map_err(|_| "no page for a directory")?;
        // An area in a 4 MB region whose PDE the clone has never seen: earlier
        // tests left page tables behind in low vmalloc space, so step past
        // them with spacer areas (all vfree'd when the guards drop).
        let mut spacers: [Option<Area>; 32] = [const { None }; 32];
        let mut p = None;
        for spacer in spacers.iter_mut() {
            let a = area(4 << 20)?;
            let end = a.ptr() as usize + (4 << 20) - 1;
            if clone.pde(end >> 22) & PteFlags::PRESENT.bits() != 0 {
                *spacer = Some(a);
            } else {
                p = Some(a);
                break;
            }
        }
        let p = p.ok_or_else(|| skip("no vmalloc space the cloned directory has not seen"))?;
        let syncs0 = VMALLOC_SYNCS.load(Ordering::Relaxed);
        // SAFETY: the clone carries every kernel PDE that existed when it was
        // made, so the running code, stacks and direct map stay mapped.
        let on = unsafe { OnPgd::enter(clone.pgd_phys()) };
        let bad = fill_and_check(p.ptr() as *mut u32, (4 << 20) / 4, 0xc10e);
        drop(on);
        let syncs = VMALLOC_SYNCS.load(Ordering::Relaxed) - syncs0;
        pr_info!("ktest: vmalloc area used from a second page directory: {} lazy PDE syncs, {} bad words", syncs, bad);
        if syncs == 0 {
            return Err("no lazy sync happened");
        }
        if syncs > 3 {
            return Err("more syncs than the area has page tables");
        }
        if bad != 0 {
            return Err("data wrong through the second directory");
        }
        Ok(())
    })
}

pub fn vfree_of_a_bad_pointer_is_reported() -> TestResult {
    counts_come_back(|| {
        let p = area(8192)?;
        let used0 = vmalloc::usage().0;
        let bugs0 = VFREE_BUGS.load(Ordering::Relaxed);
        // Middle of the area: reported, the area survives.
        // SAFETY: not the start of an area: refused and reported, nothing freed.
        unsafe { vfree(p.ptr().wrapping_add(4096)) };
        let reports = VFREE_BUGS.load(Ordering::Relaxed) - bugs0;
        let survived = vmalloc::usage().0 == used0;
        // SAFETY: the area is still mapped after the refused vfree.
        unsafe { p.ptr().write_volatile(7) };
        drop(p);
        if reports != 1 {
            return Err("the bad vfree was not reported exactly once");
        }
        if !survived || vmalloc::usage().0 != used0 - 8192 {
            return Err("a bad vfree changed the areas");
        }
        Ok(())
    })
}

/// A text sink that hashes what is written (FNV-1a): compares reports
/// without allocating under the allocator's lock.
struct Hash(u64);

impl core::fmt::Write for Hash {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        Ok(())
    }
}

/// `buddyinfo` and `pagetypeinfo` after `drain`, as one hash.
fn free_lists_hash() -> u64 {
    crate::mm::slab_common::shrink_all();
    crate::mm::mmzone::with_node_mem_map(|node, mm| {
        node.drain_all(mm);
        let mut h = Hash(0xcbf2_9ce4_8422_2325);
        let _ = crate::mm::vmstat::buddyinfo(node, &mut h);
        let _ = crate::mm::vmstat::pagetypeinfo(node, &mut h);
        h.0
    })
}

/// More than the whole area: refused at once, with the sizes, before a
/// single frame is taken (the free lists, per order and migrate type, are
/// exactly as before).
pub fn vmalloc_too_big_takes_nothing() -> TestResult {
    let (start, end) = (crate::mm::mmzone::vmalloc_start(), crate::layout::VMALLOC_END);
    let before = free_lists_hash();
    let free0 = nr_free_pages();
    let r = vmalloc(end - start);
    let r2 = vmalloc(usize::MAX);
    let same = free_lists_hash() == before && nr_free_pages() == free0;
    for p in [r, r2].into_iter().flatten() {
        // SAFETY: an area made just above (should the refusal fail), freed once.
        unsafe { vfree(p.as_ptr()) };
    }
    match r {
        Err(VmallocError::TooBig { size, area }) if size == end - start && area == end - start => {}
        _ => return Err("vmalloc of the whole area was not refused as too big"),
    }
    if !matches!(r2, Err(VmallocError::TooBig { .. })) {
        return Err("vmalloc(usize::MAX) was not refused as too big");
    }
    if !same {
        return Err("a refused vmalloc changed buddyinfo or pagetypeinfo");
    }
    Ok(())
}

/// `flush_tlb_all` drops global TLB entries too (Linux's `__flush_tlb_all`
/// toggles CR4.PGE; a CR3 reload keeps them). A vmalloc page is made
/// global, read (its translation cached), pointed at another frame without
/// a flush, and read after `flush_tlb_all`: the new frame must show.
///
/// Under QEMU's TCG, a CR3 load drops global entries as well, so the data
/// check alone passes there either way; the count of PGE toggles shows
/// which flush ran. With KVM (real TLB) the data check is the proof.
pub fn flush_tlb_all_drops_global_entries() -> TestResult {
    if cpu::read_cr4() & cpu::X86_CR4_PGE == 0 {
        return Err(skip("the CPU has no global pages (CPUID PGE)"));
    }
    counts_come_back(|| {
        let a = area(4096)?;
        let b = area(4096)?;
        // SAFETY: both pages are ours.
        unsafe {
            a.ptr().cast::<u32>().write_volatile(0xaaaa_aaaa);
            b.ptr().cast::<u32>().write_volatile(0xbbbb_bbbb);
        }
        // SAFETY: the PTEs of the test's own two areas are changed (under
        // the page-table lock), and restored before the areas are freed.
        let (reference, mut mem) =
            unsafe { (PageTables::from_phys(swapper_pg_dir_phys() as u32), DirectMapTables::new()) };
        let (va, vb) = (VirtAddr::new(a.ptr() as usize), VirtAddr::new(b.ptr() as usize));
        let frame = |v| reference.translate(&mem, v).map(|(phys, _)| phys.pfn());
        let (Some(fa), Some(fb)) = (frame(va), frame(vb)) else { return Err("areas not mapped") };
        let remap = |mem: &mut DirectMapTables, pfn: Pfn, flags: PteFlags| {
            let _g = vmalloc::pgtable_lock();
            reference.unmap(mem, va).and_then(|_| reference.map(mem, va, pfn, flags))
        };
        let flags = PteFlags::KERNEL | PteFlags::GLOBAL;
        remap(&mut mem, fa, flags).map_err(|_| "cannot make the page global")?;
        cpu::flush_tlb_one(va.as_usize());
        let g0 = TLB_GLOBAL_FLUSHES.load(Ordering::Relaxed);
        // SAFETY: a's page, mapped (globally) to its own frame.
        let first = unsafe { a.ptr().cast::<u32>().read_volatile() };
        // Now b's frame under a's address, with no invlpg: only a full
        // flush that drops global entries makes the CPU see it.
        remap(&mut mem, fb, flags).map_err(|_| "cannot remap")?;
        cpu::flush_tlb_all();
        // SAFETY: a's address maps b's frame, which the test owns.
        let second = unsafe { a.ptr().cast::<u32>().read_volatile() };
        let toggles = TLB_GLOBAL_FLUSHES.load(Ordering::Relaxed) - g0;
        // Put a's own frame back (not global) before the areas go.
        remap(&mut mem, fa, PteFlags::KERNEL).map_err(|_| "cannot restore the mapping")?;
        cpu::flush_tlb_all();
        pr_info!("ktest: global page read {:#x} then {:#x}; {} PGE toggles", first, second, toggles);
        if first != 0xaaaa_aaaa {
            return Err("the global mapping did not read its own frame");
        }
        if second != 0xbbbb_bbbb {
            return Err("flush_tlb_all kept a global TLB entry");
        }
        if toggles != 1 {
            return Err("flush_tlb_all did not toggle CR4.PGE");
        }
        Ok(())
    })
}

/// Two interrupt-masking locks, the outer guard dropped first: interrupts
/// stay off while the inner lock is held, and come back (they were on)
/// only when the last guard goes, whatever the order.
pub fn irq_lock_guards_dropped_out_of_order() -> TestResult {
    use crate::kernel::sync::{irq_lock_depth, IrqLock};
    static A: IrqLock<u32> = IrqLock::new(0);
    static B: IrqLock<u32> = IrqLock::new(0);
    if !cpu::irqs_enabled() {
        return Err("interrupts are off in the test thread");
    }
    let depth0 = irq_lock_depth();
    let outer = A.lock();
    let inner = B.lock();
    drop(outer);
    let off_while_inner_held = !cpu::irqs_enabled();
    drop(inner);
    let on_after = cpu::irqs_enabled();
    // Strict order still works.
    let outer = A.lock();
    let inner = B.lock();
    drop(inner);
    let off_in_order = !cpu::irqs_enabled();
    drop(outer);
    let on_in_order = cpu::irqs_enabled();
    if !off_while_inner_held {
        return Err("dropping the outer guard first turned interrupts on under the inner lock");
    }
    if !on_after || !on_in_order || !off_in_order {
        return Err("interrupts not restored after the last guard");
    }
    if irq_lock_depth() != depth0 {
        return Err("the guard count did not come back");
    }
    Ok(())
}

/// Interrupt context for the length of a call, as the entry code makes it:
/// interrupts off, the interrupt depth raised (what `in_interrupt` reads).
fn as_if_in_interrupt(f: impl FnOnce()) {
    let flags = cpu::local_irq_save();
    crate::kernel::preempt::irq_enter();
    f();
    crate::kernel::preempt::irq_exit();
    cpu::local_irq_restore(flags);
}

/// vfree and vunmap from interrupt context are refused and reported
/// (Linux BUG()s); the area stays mapped and is freed normally afterwards.
pub fn vfree_in_interrupt_context_is_refused() -> TestResult {
    counts_come_back(|| {
        let p = area(8192)?;
        let used0 = vmalloc::usage().0;
        let bugs0 = VFREE_BUGS.load(Ordering::Relaxed);
        // SAFETY: refused in interrupt context (what the test checks): the
        // guard `p` still owns the area and frees it on drop.
        as_if_in_interrupt(|| unsafe { vfree(p.ptr()) });
        // SAFETY: as above; `p` is a vmalloc area, so vunmap refuses it anyway.
        as_if_in_interrupt(|| unsafe { vmalloc::vunmap(p.ptr()) });
        let reports = VFREE_BUGS.load(Ordering::Relaxed) - bugs0;
        let survived = vmalloc::usage().0 == used0;
        // SAFETY: the area is still mapped after the refused calls.
        unsafe { p.ptr().add(4096).write_volatile(7) };
        drop(p);
        if reports != 2 {
            return Err("vfree/vunmap in interrupt context not reported once each");
        }
        if !survived || vmalloc::usage().0 != used0 - 8192 {
            return Err("a refused vfree changed the areas");
        }
        Ok(())
    })
}

/// Spinlocks raise the preempt count, the vmalloc record lock among them,
/// so `might_sleep` reports a holder ("BUG: sleeping function called from
/// invalid context"), with interrupts on or off.
pub fn spinlock_holders_are_atomic_for_might_sleep() -> TestResult {
    use crate::kernel::preempt::{might_sleep, preempt_count, MIGHT_SLEEP_BUGS};
    use crate::kernel::sync::{IrqLock, SpinLock};
    static S: SpinLock<u32> = SpinLock::new(0);
    static I: IrqLock<u32> = IrqLock::new(0);
    let base = preempt_count();
    if base != 0 || crate::kernel::preempt::in_atomic() {
        return Err("the test thread is atomic already");
    }
    if vmalloc::preempt_count_under_vmap_lock() != base + 1 {
        return Err("the vmalloc lock does not disable preemption");
    }
    let bugs0 = MIGHT_SLEEP_BUGS.load(Ordering::Relaxed);
    {
        let _g = S.lock();
        if preempt_count() != base + 1 || !cpu::irqs_enabled() {
            return Err("SpinLock: preempt count not raised, or interrupts masked");
        }
        might_sleep("ktest under a SpinLock");
    }
    {
        let _g = I.lock();
        if preempt_count() != base + 1 {
            return Err("IrqLock: preempt count not raised");
        }
        might_sleep("ktest under an IrqLock");
    }
    let reports = MIGHT_SLEEP_BUGS.load(Ordering::Relaxed) - bugs0;
    if preempt_count() != base {
        return Err("preempt count not back after the locks");
    }
    might_sleep("ktest with no lock held");
    if MIGHT_SLEEP_BUGS.load(Ordering::Relaxed) - bugs0 != reports {
        return Err("might_sleep reported a caller that may sleep");
    }
    if reports != 2 {
        return Err("a lock holder calling might_sleep was not reported");
    }
    Ok(())
}
