//! In-kernel tests of the VMA set's objects (`mm::mmap`): every area of
//! every address space is one object of the `vm_area_struct` slab cache,
//! as `slabinfo` shows; a split makes objects, a merge or an unmap frees
//! them, a fork copies each, and an injected slab failure (`failslab`) is
//! an `ENOMEM` that changes nothing.

use super::memory::{counts_come_back, settled};
use super::TestResult;
use crate::kernel::fault_inject::FaultAttr;
use crate::layout::PAGE_SIZE;
use crate::mm::failslab::set_failslab;
use crate::mm::mm_types::{mm_alloc, MmStruct};
use crate::mm::mmap::{nr_vm_areas, Errno, Vma, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE};
use crate::pr_info;
use crate::process::fork::dup_mm;
use ::alloc::string::String;
use ::alloc::vec::Vec;

const PAGE: usize = PAGE_SIZE;
const RW: u32 = PROT_READ | PROT_WRITE;

/// `slabinfo`'s active objects of `vm_area_struct` (0 when the cache is
/// not made yet), read after `shrink_all` has emptied the per-CPU arrays,
/// whose free objects it counts as active too.
fn slabinfo_active() -> Result<usize, &'static str> {
    settled();
    let mut text = String::new();
    crate::mm::slab_common::slabinfo(&mut text).map_err(|_| "slabinfo could not be written")?;
    let Some(line) = text.lines().find(|l| l.split_whitespace().next() == Some("vm_area_struct")) else {
        return Ok(0);
    };
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).ok_or("slabinfo's vm_area_struct line has no count")
}

fn areas(mm: &MmStruct) -> Vec<Vma> {
    mm.mmap.lock().vmas.iter().copied().collect()
}

/// The live objects must be `base` plus the areas of `mms`, and so must
/// `slabinfo` say.
fn objects_are(base: usize, mms: &[&MmStruct], when: &'static str) -> TestResult {
    let want = base + mms.iter().map(|mm| mm.mmap.lock().vmas.len()).sum::<usize>();
    let (live, shown) = (nr_vm_areas(), slabinfo_active()?);
    if live != want || shown != want {
        pr_info!("ktest: {}: {} areas, {} live vm_area_struct objects, slabinfo shows {}", when, want, live, shown);
        return Err("vm_area_struct objects are not one per area");
    }
    Ok(())
}

/// failslab settings, restored on drop.
struct Failslab(FaultAttr);

impl Drop for Failslab {
    fn drop(&mut self) {
        set_failslab(self.0);
    }
}

/// Splits and merges by `mprotect`, a new mapping and an unmap, a fork's
/// copy and the address spaces' end: the `vm_area_struct` objects (live,
/// and active in `slabinfo`) follow the areas exactly; an injected slab
/// failure on a split gives `ENOMEM` and leaves areas and objects alone.
pub fn each_area_is_one_vm_area_struct_object() -> TestResult {
    counts_come_back(|| {
        let base = nr_vm_areas();
        if slabinfo_active()? != base {
            return Err("slabinfo's vm_area_struct count differs from the live objects before the test");
        }
        let mm = mm_alloc().map_err(|_| "mm_alloc failed")?;
        let at = {
            let mut ctx = mm.mmap.lock();
            let rlim = ctx.rlim;
            ctx.vmas.mmap(0, 8 * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS, None, 0, &rlim).map_err(|_| "mmap failed")?
        };
        objects_are(base, &[&mm], "one mapping")?;
        mm.mmap.lock().vmas.mprotect(at + 2 * PAGE, 2 * PAGE, PROT_READ).map_err(|_| "mprotect failed")?;
        if mm.mmap.lock().vmas.len() != 3 {
            return Err("mprotect inside an area did not split it in three");
        }
        objects_are(base, &[&mm], "split by mprotect")?;
        // The next split, with its first slab allocation failing.
        let before = areas(&mm);
        let restore = Failslab(set_failslab(FaultAttr::new(1, 100, 0, 1)));
        let r = mm.mmap.lock().vmas.mprotect(at + 5 * PAGE, PAGE, PROT_READ);
        let failed = set_failslab(restore.0).failed;
        drop(restore);
        if (r, failed) != (Err(Errno::ENOMEM), 1) || areas(&mm) != before {
            pr_info!("ktest: mprotect under failslab: {:?}, {} failed", r, failed);
            return Err("a split whose object could not be had did not fail with ENOMEM leaving the areas alone");
        }
        objects_are(base, &[&mm], "a failed split")?;
        let child = dup_mm(&mm).map_err(|_| "dup_mm failed")?;
        if areas(&child) != before {
            return Err("the child's areas differ from the parent's");
        }
        objects_are(base, &[&mm, &child], "forked")?;
        drop(child);
        objects_are(base, &[&mm], "the child's mm dropped")?;
        mm.mmap.lock().vmas.mprotect(at, 8 * PAGE, RW).map_err(|_| "mprotect back failed")?;
        if mm.mmap.lock().vmas.len() != 1 {
            return Err("mprotect back to the same rights did not merge the three areas");
        }
        objects_are(base, &[&mm], "merged back")?;
        mm.mmap.lock().vmas.munmap(at, 8 * PAGE).map_err(|_| "munmap failed")?;
        objects_are(base, &[&mm], "unmapped")?;
        drop(mm);
        objects_are(base, &[], "the mm dropped")
    })
}
