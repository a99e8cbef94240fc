//! In-kernel tests of HIGHPTE (`mm::highpte`): an address space's user page
//! tables are highmem frames (lowmem under `nohighpte`), every `MmStruct`
//! walk works through them with one `kmap_atomic` per table, a walk nested
//! in another takes the second pte slot, the oops walk reads or names a
//! highmem PTE, and `NR_PAGETABLE`/`NR_KERNEL_STACK` go up and come back.
//!
//! Every test holds what it takes in guards that give it back on drop, and
//! compares the free page count (after `shrink` and `drain`) once they are
//! gone.

use super::{skip, TestResult};
use crate::arch::x86::mm::highmem::MISUSES;
use crate::arch::x86::mm::init::page_tables_in_use;
use crate::arch::x86::pgtable_types::PteFlags;
use crate::layout::TASK_SIZE;
use crate::mm::gfp::{Gfp, GFP_KERNEL};
use crate::mm::highpte::{highpte, pte_kmaps, pte_slots_held, show_pte};
use crate::mm::mm_types::{mm_alloc, MmRef, MmStruct};
use crate::mm::mmzone::{max_low_pfn, max_pfn};
use crate::mm::page_alloc::{self, drain_all_pages, nr_free_pages, Pages};
use crate::mm::pgtable::{Pfn, Pte, VirtAddr};
use crate::mm::vmstat::{NR_KERNEL_STACK, NR_PAGETABLE};
use crate::pr_info;
use ::alloc::format;
use ::alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::Ordering;

/// Text written where nothing may allocate (under a page-table lock):
/// what does not fit is cut.
struct Line {
    buf: [u8; 160],
    len: usize,
}

impl Line {
    fn new() -> Line {
        Line { buf: [0; 160], len: 0 }
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("(not utf-8)")
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

fn settled() -> u64 {
    crate::mm::slab_common::shrink_all();
    drain_all_pages();
    nr_free_pages()
}

fn nr_pagetable() -> usize {
    NR_PAGETABLE.load(Ordering::Relaxed)
}

/// Whether a page table made now would come from highmem: there is a
/// HighMem zone with a page free for `pte_alloc_one` (not with `highmem=4K`,
/// nor when `kernelcore=` gave highmem to ZONE_MOVABLE, which unmovable
/// page tables may not use: they fall back to lowmem, as in Linux).
fn highmem_for_tables() -> bool {
    if max_pfn() <= max_low_pfn() {
        return false;
    }
    // pte_alloc_one's flags under HIGHPTE.
    page_alloc::alloc_pages(GFP_KERNEL | Gfp::HIGHMEM, 0).is_some_and(|p| {
        let high = p.is_highmem();
        page_alloc::__free_pages(p);
        high
    })
}

/// Run `body`; then the free page count and `NR_PAGETABLE` must be back
/// (less the kernel page tables made meanwhile: vmalloc's, for a thread
/// stack, kept for good).
fn counts_come_back(body: impl FnOnce() -> TestResult) -> TestResult {
    let (before, tables, kernel_tables) = (settled(), nr_pagetable(), page_tables_in_use());
    let r = body();
    let (after, tables_after) = (settled(), nr_pagetable());
    let new_kernel_tables = (page_tables_in_use() - kernel_tables) as u64;
    if after + new_kernel_tables != before || tables_after != tables {
        pr_info!(
            "ktest: free pages {} -> {} ({} new kernel page tables), NR_PAGETABLE {} -> {}",
            before,
            after,
            new_kernel_tables,
            tables,
            tables_after
        );
        return r.and(Err("free pages or NR_PAGETABLE not back after the test"));
    }
    if pte_slots_held() != 0 {
        return r.and(Err("a pte kmap_atomic slot is still held"));
    }
    r
}

/// Frames the test owns (lowmem: highmem is left to the page tables,
/// which `highmem=4K` makes scarce); freed on drop.
struct Frames(Vec<Pages>);

impl Frames {
    fn alloc(n: usize) -> Result<Frames, &'static str> {
        let mut f = Frames(Vec::new());
        f.0.try_reserve_exact(n).map_err(|_| "no memory for the list")?;
        for _ in 0..n {
            f.0.push(page_alloc::alloc_pages(GFP_KERNEL, 0).ok_or("no page")?);
        }
        Ok(f)
    }

    fn pfn(&self, i: usize) -> Pfn {
        Pfn(self.0[i].pfn())
    }
}

impl Drop for Frames {
    fn drop(&mut self) {
        for p in self.0.drain(..) {
            page_alloc::__free_pages(p);
        }
    }
}

/// Pages mapped in `mm`; unmapped on drop (before the frames go: declare
/// the frames first).
struct Mapped<'a> {
    mm: &'a MmStruct,
    vas: Vec<VirtAddr>,
}

impl<'a> Mapped<'a> {
    fn new(mm: &'a MmStruct) -> Mapped<'a> {
        Mapped { mm, vas: Vec::new() }
    }

    fn map(&mut self, va: usize, pfn: Pfn) -> TestResult {
        self.vas.try_reserve(1).map_err(|_| "no memory for the list")?;
        let va = VirtAddr::new(va);
        // SAFETY: the frame is the test's (Frames, declared before this
        // guard) and stays until the guard unmaps it.
        unsafe { self.mm.map_page(va, pfn, PteFlags::RW) }.map_err(|_| "map_page failed")?;
        self.vas.push(va);
        Ok(())
    }
}

impl Drop for Mapped<'_> {
    fn drop(&mut self) {
        for va in self.vas.drain(..) {
            let _ = self.mm.unmap_page(va);
        }
    }
}

/// Two pages in one page table, one each in two more.
const VAS: [usize; 4] = [0x0804_8000, 0x0804_9000, 0x0840_0000, 0xbfff_f000];
const TABLES: usize = 3;

/// With highmem present, an address space's user page tables are highmem
/// frames; map_page, translate, pte, for_each_pte (one kmap_atomic per
/// table walked), update_pte, unmap_page and free_pgtables work through
/// them; NR_PAGETABLE and nr_ptes count the tables and come back, with the
/// free pages, once they are freed and the mm dropped.
pub fn user_page_tables_are_highmem_and_walked_through_kmap() -> TestResult {
    if !highpte() {
        return Err(skip("nohighpte on this boot"));
    }
    if !highmem_for_tables() {
        return Err(skip("no HighMem page for a page table on this boot"));
    }
    counts_come_back(|| {
        let frames = Frames::alloc(VAS.len())?;
        let tables0 = nr_pagetable();
        let mm: MmRef = mm_alloc().map_err(|_| "mm_alloc failed")?;
        let mut mapped = Mapped::new(&mm);
        for (i, &va) in VAS.iter().enumerate() {
            mapped.map(va, frames.pfn(i))?;
        }
        if nr_pagetable() - tables0 != TABLES || mm.nr_ptes() != TABLES {
            pr_info!("ktest: NR_PAGETABLE +{}, nr_ptes {}", nr_pagetable() - tables0, mm.nr_ptes());
            return Err("NR_PAGETABLE or nr_ptes does not count the three tables made");
        }
        for &va in &VAS {
            let pfn = mm.pgtable_pfn(VirtAddr::new(va).pgd_index()).ok_or("no page table under a mapped page")?;
            if (pfn.0 as usize) < max_low_pfn() {
                pr_info!("ktest: page table for {:#x} at pfn {:#x}, max_low_pfn {:#x}", va, pfn.0, max_low_pfn());
                return Err("a user page table is in lowmem with highmem present");
            }
        }
        for (i, &va) in VAS.iter().enumerate() {
            let want = Some((frames.pfn(i), true));
            let got =
                mm.translate(VirtAddr::new(va)).map(|(p, f)| (p.pfn(), f.contains(PteFlags::USER | PteFlags::RW)));
            if got != want || mm.pte(VirtAddr::new(va)).map(|p| p.pfn()) != Some(frames.pfn(i)) {
                return Err("a user page does not translate to its frame through a highmem table");
            }
        }
        // Two tables' worth from 0x08000000: the first two pages of VAS
        // in the first table, the third in the second. One kmap_atomic
        // per table entered, whatever the number of entries read.
        let (start, npages) = (VirtAddr::new(0x0800_0000), 2 * 1024);
        let kmaps0 = pte_kmaps();
        let mut seen = 0;
        // SAFETY: the entries written map the same frames, read-only.
        let changed = unsafe {
            mm.for_each_pte(start, npages, |_, pte| {
                seen += 1;
                Some(Pte(pte.0 & !PteFlags::RW.bits()))
            })
        };
        let kmaps = pte_kmaps() - kmaps0;
        pr_info!(
            "ktest: for_each_pte over {} pages: {} entries, {} changed, {} kmap_atomic",
            npages,
            seen,
            changed,
            kmaps
        );
        if seen != 3 || changed != 3 {
            return Err("for_each_pte did not find and change the three entries");
        }
        if kmaps != 2 {
            return Err("for_each_pte over two page tables did not take exactly two kmap_atomic");
        }
        if mm.translate(VirtAddr::new(VAS[0])).is_none_or(|(_, f)| f.contains(PteFlags::RW)) {
            return Err("an entry for_each_pte wrote reads back unchanged");
        }
        let last = VirtAddr::new(VAS[3]);
        // SAFETY: the same frame, made writable again.
        let old = unsafe { mm.update_pte(last, |p| Some(Pte(p.0 & !PteFlags::RW.bits()))) };
        if old.map(|p| p.pfn()) != Some(frames.pfn(3)) || mm.pte(last).is_none_or(|p| p.flags().contains(PteFlags::RW))
        {
            return Err("update_pte through a highmem table");
        }
        for (i, va) in mapped.vas.drain(..).enumerate() {
            match mm.unmap_page(va) {
                Ok(old) if old.pfn() == frames.pfn(i) => {}
                _ => return Err("unmap_page did not hand back the entry"),
            }
            if mm.translate(va).is_some() {
                return Err("an unmapped page still translates");
            }
        }
        let freed = mm.free_pgtables(VirtAddr::new(0), VirtAddr::new(TASK_SIZE));
        if freed != TABLES || nr_pagetable() != tables0 || mm.nr_ptes() != 0 {
            return Err("free_pgtables did not free the three empty tables and uncount them");
        }
        // A table left for Drop to free.
        mapped.map(VAS[0], frames.pfn(0))?;
        if nr_pagetable() != tables0 + 1 {
            return Err("a table made again is not counted");
        }
        drop(mapped);
        drop(mm);
        if nr_pagetable() != tables0 {
            return Err("dropping the mm did not uncount its page table");
        }
        Ok(())
    })
}

/// A walk inside another (a for_each_pte callback looking at a second mm,
/// as fork's copy does) takes the second pte slot and reads right; with
/// both slots held the oops walk names a highmem PTE instead of mapping it,
/// and with them free it reads it. No kmap_atomic misuse is reported.
pub fn nested_walks_take_the_second_slot_and_the_oops_walk_copes() -> TestResult {
    if !highpte() {
        return Err(skip("nohighpte on this boot"));
    }
    if !highmem_for_tables() {
        return Err(skip("no HighMem page for a page table on this boot"));
    }
    counts_come_back(|| {
        let frames = Frames::alloc(3)?;
        let mms = [mm_alloc(), mm_alloc(), mm_alloc()];
        let [Ok(a), Ok(b), Ok(c)] = &mms else { return Err("mm_alloc failed") };
        let (mut ma, mut mb, mut mc) = (Mapped::new(a), Mapped::new(b), Mapped::new(c));
        ma.map(VAS[0], frames.pfn(0))?;
        mb.map(VAS[2], frames.pfn(1))?;
        mc.map(VAS[3], frames.pfn(2))?;
        let misuses0 = MISUSES.load(Ordering::Relaxed);
        let pte_c = c.pte(VirtAddr::new(VAS[3])).ok_or("no pte in c")?;
        let table_c = c.pgtable_pfn(VirtAddr::new(VAS[3]).pgd_index()).ok_or("no table in c")?;
        let (mut inner_ok, mut oops_nested, mut slots) = (false, Line::new(), (0, 0));
        // SAFETY: every callback returns None: nothing is written; show_pte
        // reads c's directory, alive (c is held).
        unsafe {
            a.for_each_pte(VirtAddr::new(VAS[0]), 1, |_, _| {
                slots.0 = pte_slots_held();
                inner_ok = b.translate(VirtAddr::new(VAS[2])).map(|(p, _)| p.pfn()) == Some(frames.pfn(1));
                b.for_each_pte(VirtAddr::new(VAS[2]), 1, |_, _| {
                    slots.1 = pte_slots_held();
                    let _ = write!(oops_nested, "{}", show_pte(c.pgd_phys() as u32, VAS[3]));
                    None
                });
                None
            });
        }
        // SAFETY: c's directory, alive (c is held); reads only.
        let oops_free = format!("{}", unsafe { show_pte(c.pgd_phys() as u32, VAS[3]) });
        let oops_nested = oops_nested.as_str();
        pr_info!("ktest: oops walk inside two walks: {}", oops_nested);
        pr_info!("ktest: oops walk outside: {}", oops_free);
        if !inner_ok {
            return Err("a walk nested in another read a wrong entry");
        }
        if slots != (0b01, 0b11) {
            pr_info!("ktest: slots held {:?}", slots);
            return Err("the outer walk did not hold Pte0 and the nested one Pte1");
        }
        let named = format!("*pte in highmem at phys {:#010x} (not mapped: no pte kmap slot free)", table_c.0 << 12);
        if !oops_nested.ends_with(&named) {
            return Err("with both pte slots held the oops walk did not name the highmem table");
        }
        if !oops_free.ends_with(&format!("*pte = {:08x}", pte_c.0)) {
            return Err("the oops walk did not read the PTE from the highmem table");
        }
        if MISUSES.load(Ordering::Relaxed) != misuses0 {
            return Err("a kmap_atomic misuse was reported");
        }
        drop((ma, mb, mc));
        drop(mms);
        Ok(())
    })
}

/// The page table of a new mapping is in highmem with HIGHPTE (when there
/// is highmem) and in lowmem under `nohighpte`: the test the QEMU boot with
/// `nohighpte` runs.
pub fn user_page_tables_follow_the_boot_option() -> TestResult {
    counts_come_back(|| {
        let high_possible = highmem_for_tables();
        let frames = Frames::alloc(1)?;
        let mm = mm_alloc().map_err(|_| "mm_alloc failed")?;
        let mut m = Mapped::new(&mm);
        m.map(VAS[0], frames.pfn(0))?;
        let pfn = mm.pgtable_pfn(VirtAddr::new(VAS[0]).pgd_index()).ok_or("no page table")?;
        let low = (pfn.0 as usize) < max_low_pfn();
        pr_info!(
            "ktest: user page table at pfn {:#x}: {} (highpte {})",
            pfn.0,
            if low { "lowmem" } else { "highmem" },
            if highpte() { "on" } else { "off" }
        );
        if !highpte() && !low {
            return Err("nohighpte, yet a user page table is in highmem");
        }
        if highpte() && high_possible && low {
            return Err("HIGHPTE with highmem present, yet a user page table is in lowmem");
        }
        Ok(())
    })
}

/// NR_KERNEL_STACK counts a thread's stack from kthread_run until its
/// stack is freed after exit.
pub fn kernel_stacks_are_counted() -> TestResult {
    fn nothing(_: usize) {}
    counts_come_back(|| {
        crate::process::kthread::reap_dead();
        let before = NR_KERNEL_STACK.load(Ordering::Relaxed);
        let pid = crate::process::kthread::kthread_run("ktest-stack", nothing, 0).map_err(|_| "no thread")?;
        let during = NR_KERNEL_STACK.load(Ordering::Relaxed);
        crate::process::kthread::kthread_wait(pid);
        let after = NR_KERNEL_STACK.load(Ordering::Relaxed);
        pr_info!(
            "ktest: NR_KERNEL_STACK {} -> {} -> {} ({} kB each)",
            before,
            during,
            after,
            crate::kernel::sched::THREAD_SIZE / 1024
        );
        if during != before + 1 || after != before {
            return Err("NR_KERNEL_STACK did not count the thread's stack and give it back");
        }
        Ok(())
    })
}
