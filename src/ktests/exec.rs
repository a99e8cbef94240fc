//! exec's address space, built and not run (`exec::load`): the program's
//! pages where its ELF says, with its permissions, user frames from
//! ZONE_HIGHMEM while it has pages to spare, the first stack as `create_elf_tables` laid it
//! out; and every page back when the process is dropped.

use super::{skip, TestResult};
use crate::arch::x86::pgtable_types::PteFlags;
use crate::kernel::bootinfo;
use crate::kernel::fault_inject::FaultAttr;
use crate::mm::highmem::memcpy_from_page;
use crate::mm::mmzone::{max_low_pfn, with_node_mem_map, Watermark, ZoneType};
use crate::mm::page_alloc::{drain_all_pages, nr_free_pages, set_fail_page_alloc};
use crate::mm::pgtable::VirtAddr;
use crate::pr_info;
use crate::process::binfmt_elf::{self, SegFlags, STACK_TOP};
use crate::process::exec;

const PAGE: u32 = crate::layout::PAGE_SIZE as u32;

fn hello() -> Result<&'static [u8], &'static str> {
    let m = bootinfo::get().module("hello").ok_or_else(|| skip("no module 'hello' on this boot (make user)"))?;
    crate::arch::x86::mm::init::module_bytes(m).ok_or_else(|| skip("module 'hello' is beyond the direct map"))
}

/// The 32-bit word at user address `va` of a loaded process.
fn word(p: &exec::Process, va: u32) -> Option<u32> {
    let pfn = p.frame(va & !(PAGE - 1))?;
    let mut b = [0u8; 4];
    // SAFETY: the frame is the process's, which is not running: nothing
    // writes it meanwhile. (`va` is 4-aligned: the word is in the page.)
    unsafe { memcpy_from_page(&mut b, pfn, (va % PAGE) as usize) };
    Some(u32::from_le_bytes(b))
}

fn check_layout(file: &[u8]) -> TestResult {
    let plan = binfmt_elf::parse(file).map_err(|_| "hello does not parse")?;
    // ZONE_HIGHMEM (GFP_HIGHUSER's first zone; not ZONE_MOVABLE) with room
    // above its low mark for the whole program (a few dozen pages).
    let highmem_to_spare = with_node_mem_map(|node, _| {
        let z = &node.zones[ZoneType::HighMem as usize];
        z.is_populated() && z.nr_free_pages() > z.watermark[Watermark::Low as usize] + 256
    });
    let loaded = exec::load(file, &[b"hello", b"x"]).map_err(|_| "exec::load of hello failed")?;
    let p = &loaded.process;
    if loaded.eip != plan.entry {
        return Err("the start address is not e_entry");
    }
    for seg in &plan.segments {
        for va in (seg.page_start()..seg.page_end()).step_by(PAGE as usize) {
            let (_, flags) = p.mm().translate(VirtAddr::new(va as usize)).ok_or("a segment page is not mapped")?;
            if !flags.contains(PteFlags::USER | PteFlags::PRESENT) {
                return Err("a segment page is not a present user page");
            }
            if flags.contains(PteFlags::RW) != seg.flags.contains(SegFlags::W) {
                pr_info!("ktest: page {:#010x} of a {} segment mapped {:?}", va, seg.flags, flags);
                return Err("a segment page is writable when its segment is not, or the other way");
            }
        }
        // The first bytes of the segment are the file's.
        if seg.filesz >= 4 && seg.vaddr % 4 == 0 {
            let off = seg.offset as usize;
            let want = u32::from_le_bytes([file[off], file[off + 1], file[off + 2], file[off + 3]]);
            if word(p, seg.vaddr) != Some(want) {
                return Err("a segment's first word is not the file's");
            }
        }
    }
    // argc, argv[0] -> "hello", argv[1], NULL.
    let esp = loaded.esp;
    if word(p, esp) != Some(2) || word(p, esp + 12) != Some(0) {
        return Err("the stack does not start with argc 2 and a NULL after argv");
    }
    let argv0 = word(p, esp + 4).ok_or("argv[0] is not on a stack page")?;
    if !(esp..STACK_TOP).contains(&argv0) || word(p, argv0 & !3).is_none() {
        return Err("argv[0] does not point into the stack");
    }
    if highmem_to_spare && p.frames().any(|(_, pfn)| (pfn as usize) < max_low_pfn()) {
        pr_info!("ktest: {} frames, max_low_pfn {:#x}", p.nr_pages(), max_low_pfn());
        return Err("a user frame came from lowmem while highmem had free pages");
    }
    Ok(())
}

/// hello's address space as Linux's binfmt_elf would build it, and not a
/// page kept after it is dropped (measured around a second load: the first
/// gives the kmalloc caches it uses their first slabs).
pub fn load_lays_out_hello_and_gives_every_page_back() -> TestResult {
    let file = hello()?;
    check_layout(file)?;
    drain_all_pages();
    let before = nr_free_pages();
    let r = check_layout(file);
    drain_all_pages();
    let after = nr_free_pages();
    if after != before {
        pr_info!("ktest: free pages {} -> {}", before, after);
        return r.and(Err("free pages not back where they were after the process was dropped"));
    }
    r
}

/// Puts the fault-injection settings back, on every path.
struct Restore(FaultAttr);

impl Drop for Restore {
    fn drop(&mut self) {
        set_fail_page_alloc(self.0);
    }
}

/// A load that runs out of memory at any of its page allocations (the
/// directory, a page table, a user frame: the n-th fails, for every n)
/// says so and leaves every page where it was.
pub fn load_out_of_memory_anywhere_leaves_nothing() -> TestResult {
    let file = hello()?;
    // Warm the caches (see above), then count.
    drop(exec::load(file, &[b"hello"]).map_err(|_| "exec::load of hello failed")?);
    for n in 1.. {
        drain_all_pages();
        let before = nr_free_pages();
        let restore = Restore(set_fail_page_alloc(FaultAttr::new(n, 100, 0, 1)));
        let r = exec::load(file, &[b"hello"]);
        let failed = set_fail_page_alloc(restore.0).failed;
        drop(restore);
        let loaded_ok = r.is_ok();
        match r {
            Err(exec::ExecError::NoMemory) if failed == 1 => {}
            Ok(_) if failed == 0 => {}
            Ok(_) => return Err("a load succeeded although a page allocation failed"),
            Err(_) => return Err("a failed page allocation did not give ExecError::NoMemory"),
        }
        drop(r);
        drain_all_pages();
        let after = nr_free_pages();
        if after != before {
            pr_info!("ktest: failing allocation {}: free pages {} -> {}", n, before, after);
            return Err("free pages not back after a load that ran out of memory");
        }
        if loaded_ok {
            pr_info!("ktest: exec::load failed cleanly at each of its {} page allocations", n - 1);
            return Ok(());
        }
    }
    unreachable!("the loop returns")
}

/// `brk` on a loaded hello: grows page by page (zeroed, writable user
/// pages), shrinks giving the pages back, refuses below the start and into
/// the stack's gap (returning the break unchanged), and 0 asks for it.
/// Every page comes back (counted around a second run, as above).
pub fn brk_grows_shrinks_and_refuses() -> TestResult {
    let file = hello()?;
    brk_checks(file)?;
    drain_all_pages();
    let before = nr_free_pages();
    let r = brk_checks(file);
    drain_all_pages();
    if nr_free_pages() != before {
        return r.and(Err("free pages not back after the process with a heap was dropped"));
    }
    r
}

fn brk_checks(file: &[u8]) -> TestResult {
    let mut loaded = exec::load(file, &[b"hello"]).map_err(|_| "exec::load of hello failed")?;
    let p = &mut loaded.process;
    let start = p.brk(0);
    let pages = p.nr_pages();
    if start == 0 || start % PAGE != 0 {
        return Err("the initial break is not a page-aligned address");
    }
    if p.brk(start + 3 * PAGE + 1) != start + 3 * PAGE + 1 || p.nr_pages() != pages + 4 {
        return Err("brk up by 3 pages and a byte did not map 4 pages");
    }
    for va in (start..start + 4 * PAGE).step_by(PAGE as usize) {
        let (_, flags) = p.mm().translate(VirtAddr::new(va as usize)).ok_or("a heap page is not mapped")?;
        if !flags.contains(PteFlags::USER | PteFlags::RW) || word(p, va) != Some(0) {
            return Err("a heap page is not a zeroed, writable user page");
        }
    }
    if p.brk(start - 1) != start + 3 * PAGE + 1 || p.brk(STACK_TOP - PAGE) != start + 3 * PAGE + 1 {
        return Err("a refused brk did not return the break unchanged");
    }
    if p.brk(start + PAGE) != start + PAGE || p.nr_pages() != pages + 1 {
        return Err("brk down to one page did not unmap the other 3");
    }
    if p.mm().translate(VirtAddr::new((start + PAGE) as usize)).is_some() {
        return Err("a page above the lowered break is still mapped");
    }
    if p.brk(start) != start || p.nr_pages() != pages {
        return Err("brk back to the start did not give every heap page back");
    }
    Ok(())
}
