//! In-kernel tests of vmalloc: 64 MB filled and verified, backed by
//! highmem, freed with one batched flush and free pages back exactly; an
//! area made after a second page directory was cloned is used from that
//! directory through the lazy PDE sync.

use super::alloc::{drain_all_pages, nr_free_pages};
use super::vmalloc::{self, vfree, vmalloc, vzalloc, DirectMapTables, VMALLOC_SYNCS, VUNMAP_FLUSHES};
use crate::arch::x86::cpu::{load_cr3, TLB_FULL_FLUSHES};
use crate::arch::x86::mm::init::swapper_pg_dir_phys;
use crate::kernel::ktest::TestResult;
use crate::kernel::sched::{preempt_disable, preempt_enable};
use crate::mm::pgtable::PageTables;
use crate::pr_info;
use core::sync::atomic::Ordering;

fn settled() -> u64 {
    super::kmalloc::shrink_all();
    drain_all_pages();
    nr_free_pages()
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
    // Kernel page tables made for vmalloc space are kept for good (as in
    // Linux): a first round creates them, the second is measured exactly.
    warm_up(SIZE)?;
    let before = settled();
    let flushes0 = (VUNMAP_FLUSHES.load(Ordering::Relaxed), TLB_FULL_FLUSHES.load(Ordering::Relaxed));
    let p = vmalloc(SIZE).ok_or("vmalloc(64M) failed")?;
    let (high, total) = vmalloc::highmem_pages(p.as_ptr() as usize).ok_or("area not recorded")?;
    let bad = fill_and_check(p.as_ptr() as *mut u32, SIZE / 4, 0x5eed);
    vfree(p.as_ptr());
    let vflushes = VUNMAP_FLUSHES.load(Ordering::Relaxed) - flushes0.0;
    let full = TLB_FULL_FLUSHES.load(Ordering::Relaxed) - flushes0.1;
    let after = settled();
    pr_info!(
        "ktest: vmalloc(64M): {} pages, {} from highmem, {} bad words; vfree: {} batched flush(es); free pages {} -> {}",
        total, high, bad, vflushes, before, after
    );
    if bad != 0 {
        return Err("vmalloc memory lost data");
    }
    if high == 0 {
        return Err("vmalloc used no highmem");
    }
    if vflushes != 1 || full != 1 {
        return Err("vfree did not do exactly one batched TLB flush");
    }
    if after != before {
        return Err("free pages not back after vfree");
    }
    Ok(())
}

/// A first area of `size` bytes made and freed, so the vmalloc page tables
/// its range needs exist (they are kept for good) before a test counts pages.
fn warm_up(size: usize) -> Result<(), &'static str> {
    let p = vmalloc(size).ok_or("vmalloc failed")?;
    vfree(p.as_ptr());
    Ok(())
}

pub fn vzalloc_is_zeroed() -> TestResult {
    warm_up(4 * 4096)?;
    let before = settled();
    let p = vzalloc(3 * 4096 + 100).ok_or("vzalloc failed")?;
    // SAFETY: 4 pages are ours.
    let zero = unsafe { core::slice::from_raw_parts(p.as_ptr(), 4 * 4096) }.iter().all(|&b| b == 0);
    vfree(p.as_ptr());
    if !zero {
        return Err("vzalloc memory not zero");
    }
    if settled() != before {
        return Err("free pages not back after vfree");
    }
    Ok(())
}

/// A second page directory cloned from the kernel's, then an area created
/// in the reference directory only: touching it through the clone faults,
/// the PDE is copied (counted), and the data is right.
pub fn vmalloc_area_reaches_another_pgd_lazily() -> TestResult {
    let mut mem = DirectMapTables;
    let reference = PageTables::from_phys(swapper_pg_dir_phys() as u32);
    let clone = PageTables::new(&mut mem).map_err(|_| "no page for a directory")?;
    clone.clone_kernel_pdes(&mut mem, &reference);
    // An area in a 4 MB region whose PDE the clone has never seen: earlier
    // tests left page tables behind in low vmalloc space, so step past
    // them with spacer areas.
    let mut spacers: [Option<core::ptr::NonNull<u8>>; 32] = [None; 32];
    let mut p = None;
    for spacer in spacers.iter_mut() {
        let a = vmalloc(4 << 20).ok_or("vmalloc(4M) failed")?;
        let end = a.as_ptr() as usize + (4 << 20) - 1;
        if clone.pde(&mem, end >> 22).is_present() {
            *spacer = Some(a);
        } else {
            p = Some(a);
            break;
        }
    }
    let p = p.ok_or("no vmalloc space the clone has not seen")?;
    let syncs0 = VMALLOC_SYNCS.load(Ordering::Relaxed);
    preempt_disable();
    // SAFETY: the clone carries every kernel PDE that existed when it was
    // made, so the running code, stacks and direct map stay mapped.
    unsafe { load_cr3(clone.pgd_phys() as usize) };
    let bad = fill_and_check(p.as_ptr() as *mut u32, (4 << 20) / 4, 0xc10e);
    // SAFETY: back to the kernel's own directory.
    unsafe { load_cr3(swapper_pg_dir_phys()) };
    preempt_enable();
    let syncs = VMALLOC_SYNCS.load(Ordering::Relaxed) - syncs0;
    vfree(p.as_ptr());
    for s in spacers.into_iter().flatten() {
        vfree(s.as_ptr());
    }
    // The clone's kernel PDEs point at shared page tables: free only the directory page.
    clone.free_directory(&mut mem);
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
}

pub fn vfree_of_a_bad_pointer_is_reported() -> TestResult {
    warm_up(8192)?;
    let before = settled();
    let p = vmalloc(8192).ok_or("vmalloc failed")?;
    let used0 = vmalloc::usage().0;
    // Middle of the area: reported, the area survives.
    vfree(p.as_ptr().wrapping_add(4096));
    let survived = vmalloc::usage().0 == used0;
    // SAFETY: the area is still mapped after the refused vfree.
    unsafe { p.as_ptr().write_volatile(7) };
    vfree(p.as_ptr());
    if !survived || vmalloc::usage().0 != used0 - 8192 {
        return Err("a bad vfree changed the areas");
    }
    if settled() != before {
        return Err("free pages not back after vfree");
    }
    Ok(())
}
