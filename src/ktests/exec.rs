//! exec's address space, laid out and not run (`exec::load`): the areas
//! the program's ELF asks for (each `PT_LOAD` segment's file pages as a
//! private mapping of the program with the segment's rights, its `.bss`
//! pages anonymous, the stack with `EXTRA_STACK_VM_PAGES` below the
//! arguments), the break after the highest segment, and no page mapped
//! but the first stack's (and the page `padzero` cleared); every other
//! page is made at its first fault, from highmem while it has pages to
//! spare, with the file's bytes and the area's rights. Dropping the
//! address space gives every page and table back, also when `load` ran
//! out of memory at any of its allocations.
//!
//! The programs are the boot modules `hello` (Rust, no `.bss` page of its
//! own) and `chello` (glibc static: `.data`, then `.bss` pages), handed to
//! `load` as the shell's `run` hands them.

use super::memory::{counts_come_back, highmem_to_spare, read_page, Restore, UseMm, INJECTIONS};
use super::{skip, TestResult};
use crate::arch::x86::pgtable_types::PteFlags;
use crate::kernel::bootinfo;
use crate::kernel::fault_inject::FaultAttr;
use crate::layout::PAGE_SIZE;
use crate::mm::memory::{self, handle_mm_fault, Access, FaultError};
use crate::mm::mm_types::MmStruct;
use crate::mm::mmap::{nr_vm_areas, FileRef, VmFlags, Vma, VmaKind};
use crate::mm::mmzone::max_low_pfn;
use crate::mm::page_alloc::{drain_all_pages, nr_free_pages};
use crate::mm::pgtable::VirtAddr;
use crate::mm::vmstat::NR_ANON_PAGES;
use crate::pr_info;
use crate::process::binfmt_elf::{self, ElfPlan, LoadSegment, SegFlags, STACK_TOP};
use crate::process::exec::{self, ExecError, EXTRA_STACK_VM_PAGES};
use crate::process::mman::NR_BRK;
use crate::process::syscalls::dispatch;
use ::alloc::vec::Vec;
use core::sync::atomic::Ordering::Relaxed;

const PAGE: usize = PAGE_SIZE;
const STACK_END: usize = STACK_TOP as usize;

/// A program module and the file reference exec gets for it (as the
/// shell's `run` makes it).
struct Program {
    name: &'static str,
    file: &'static [u8],
    fref: FileRef,
}

fn program(name: &'static str) -> Result<Program, &'static str> {
    let m = bootinfo::get().module(name).ok_or_else(|| skip("a user program is not on this boot (make user)"))?;
    let file = crate::arch::x86::mm::init::module_bytes(m)
        .ok_or_else(|| skip("a user program lies beyond the kernel's direct map"))?;
    let fref = FileRef { id: (m.phys_range().0 >> 12) as u32, name: m.name(), writable: false };
    Ok(Program { name, file, fref })
}

fn programs() -> Result<[Program; 2], &'static str> {
    Ok([program("hello")?, program("chello")?])
}

fn load(p: &Program, argv: &[&[u8]]) -> Result<exec::Loaded, ExecError> {
    exec::load(p.file, p.fref, argv, &exec::default_rlimits())
}

/// The 32-bit word at user address `va` (4-aligned) of `mm`.
fn word(mm: &MmStruct, va: usize) -> Option<u32> {
    let b = read_page(mm, va & !(PAGE - 1))?;
    let o = va % PAGE;
    Some(u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]))
}

/// The `VM_READ | VM_WRITE | VM_EXEC` a segment's `PF_*` flags ask for.
fn rights(seg: &LoadSegment) -> VmFlags {
    let mut f = VmFlags::empty();
    for (pf, vm) in [(SegFlags::R, VmFlags::READ), (SegFlags::W, VmFlags::WRITE), (SegFlags::X, VmFlags::EXEC)] {
        if seg.flags.contains(pf) {
            f |= vm;
        }
    }
    f
}

const RWX: VmFlags = VmFlags::READ.union(VmFlags::WRITE).union(VmFlags::EXEC);

/// The page `padzero` clears at load, if `seg` has one: the last file page
/// of a writable segment whose `.bss` starts inside it.
fn padzero_page(seg: &LoadSegment) -> Option<usize> {
    let file_end = (seg.vaddr + seg.filesz) as usize;
    let cleared = seg.flags.contains(SegFlags::W) && seg.memsz > seg.filesz && !file_end.is_multiple_of(PAGE);
    cleared.then_some(file_end & !(PAGE - 1))
}

/// The areas: one per segment's file pages, one per `.bss` beyond them,
/// the stack; nothing else.
fn check_areas(p: &Program, plan: &ElfPlan, vmas: &[Vma], esp: usize) -> TestResult {
    let find = |start: usize, end: usize| vmas.iter().find(|v| v.start == start && v.end == end);
    let mut want = 1;
    for seg in &plan.segments {
        let start = seg.page_start() as usize;
        let file_top = ((seg.vaddr + seg.filesz) as usize).next_multiple_of(PAGE);
        if file_top > start {
            want += 1;
            let v = find(start, file_top).ok_or("a segment's file pages are not one area")?;
            let pgoff = (seg.offset as usize - (seg.vaddr as usize - start)) / PAGE;
            if v.kind != VmaKind::File(p.fref) || v.pgoff != pgoff {
                return Err("a segment's area is not the program file from the segment's page");
            }
            if v.flags & RWX != rights(seg) {
                pr_info!("ktest: {}: area {:#x} has {:?} for a {} segment", p.name, v.start, v.flags, seg.flags);
                return Err("a segment's area does not have the segment's rights");
            }
        }
        let end = seg.page_end() as usize;
        if end > file_top {
            want += 1;
            let v = find(file_top, end).ok_or("a segment's .bss pages are not one area")?;
            if v.kind != VmaKind::Anonymous || v.flags & RWX != rights(seg) {
                return Err("a .bss area is not anonymous with its segment's rights");
            }
        }
    }
    let low = esp & !(PAGE - 1);
    let stack = find(low - EXTRA_STACK_VM_PAGES * PAGE, STACK_END)
        .ok_or("the stack area is not EXTRA_STACK_VM_PAGES below the arguments' lowest page up to STACK_TOP")?;
    if stack.kind != VmaKind::Anonymous || !stack.flags.contains(VmFlags::GROWSDOWN | VmFlags::READ | VmFlags::WRITE) {
        return Err("the stack area is not anonymous, read-write and growing down");
    }
    if vmas.len() != want {
        pr_info!("ktest: {}: {} areas, {} expected", p.name, vmas.len(), want);
        return Err("areas other than the segments' and the stack's");
    }
    Ok(())
}

/// The bytes of every page of every segment: the file's where the segment
/// has file bytes, zero in its `.bss`.
fn check_bytes(p: &Program, plan: &ElfPlan, mm: &MmStruct) -> TestResult {
    for seg in &plan.segments {
        let (vaddr, file_end, mem_end) =
            (seg.vaddr as usize, (seg.vaddr + seg.filesz) as usize, (seg.vaddr + seg.memsz) as usize);
        for va in (seg.page_start() as usize..seg.page_end() as usize).step_by(PAGE) {
            let b = read_page(mm, va).ok_or("a segment page is not mapped after its fault")?;
            let (lo, hi) = (va.max(vaddr), (va + PAGE).min(file_end));
            let off = seg.offset as usize + lo.saturating_sub(vaddr);
            if lo < hi && b[lo - va..hi - va] != p.file[off..off + (hi - lo)] {
                pr_info!("ktest: {}: page {:#010x} differs from the file", p.name, va);
                return Err("a page does not hold the program file's bytes");
            }
            let (lo, hi) = (va.max(file_end), (va + PAGE).min(mem_end));
            if lo < hi && b[lo - va..hi - va].iter().any(|&x| x != 0) {
                pr_info!("ktest: {}: .bss in page {:#010x} is not zero", p.name, va);
                return Err("a .bss byte is not zero");
            }
        }
    }
    Ok(())
}

fn check_layout(p: &Program) -> TestResult {
    let plan = binfmt_elf::parse(p.file).map_err(|_| "a user program does not parse")?;
    let spare = highmem_to_spare();
    let anon0 = NR_ANON_PAGES.load(Relaxed);
    let loaded = load(p, &[p.name.as_bytes(), b"x"]).map_err(|_| "exec::load of a user program failed")?;
    let mm = &loaded.mm;
    if loaded.eip != plan.entry {
        return Err("the start address is not e_entry");
    }
    if loaded.code != (plan.start_code, plan.end_code) || loaded.data != (plan.start_data, plan.end_data) {
        return Err("start_code, end_code, start_data or end_data is not the ELF's");
    }
    let esp = loaded.esp as usize;
    let low = esp & !(PAGE - 1);
    let mut ctx = mm.mmap.lock();
    let vmas: Vec<Vma> = ctx.vmas.iter().copied().collect();
    check_areas(p, &plan, &vmas, esp)?;
    for v in &vmas {
        let name = ctx.vmas.vma_name(v);
        let want = match v.kind {
            VmaKind::File(_) => Some(p.fref.name),
            VmaKind::Anonymous if v.end == STACK_END => Some("[stack]"),
            VmaKind::Anonymous => Some("[heap]"),
        };
        if name != want {
            return Err("an area is not named as /proc/PID/maps names it (the file, [heap], [stack])");
        }
    }
    if (ctx.vmas.start_brk, ctx.vmas.brk) != (plan.brk as usize, plan.brk as usize) || ctx.vmas.start_stack != esp {
        return Err("start_brk and brk are not the end of the highest segment, or start_stack is not the first esp");
    }

    // Nothing is mapped but the first stack's pages and padzero's.
    let mut mapped = 0;
    for v in &vmas {
        for va in (v.start..v.end).step_by(PAGE) {
            let want = (low..STACK_END).contains(&va) || plan.segments.iter().any(|s| padzero_page(s) == Some(va));
            if memory::user_frame(mm, va).is_some() != want {
                pr_info!("ktest: {}: page {:#010x} mapped: {}, expected {}", p.name, va, !want, want);
                return Err("after load a page other than the first stack's is mapped, or a stack page is not");
            }
            mapped += want as usize;
        }
    }
    if mm.rss.load(Relaxed) != mapped || NR_ANON_PAGES.load(Relaxed) != anon0 + mapped {
        return Err("rss or AnonPages do not count exactly the pages mapped at load");
    }
    // argc 2, argv[0] -> the name, argv[1], NULL.
    if word(mm, esp) != Some(2) || word(mm, esp + 12) != Some(0) {
        return Err("the stack does not start with argc 2 and a NULL after argv");
    }
    let argv0 = word(mm, esp + 4).ok_or("no argv[0]")? as usize;
    let name = read_page(mm, argv0 & !(PAGE - 1)).ok_or("argv[0] is not on a stack page")?;
    let o = argv0 % PAGE;
    if !(esp..STACK_END).contains(&argv0) || name.get(o..o + p.name.len()) != Some(p.name.as_bytes()) {
        return Err("argv[0] does not point to the program's name on the stack");
    }

    // Every page comes at its first (read) fault, with its area's rights.
    for v in &vmas {
        for va in (v.start..v.end).step_by(PAGE) {
            handle_mm_fault(mm, &mut ctx, va, Access { write: false, user_esp: None })
                .map_err(|_| "a read fault in a readable area failed")?;
            let pte = mm.pte(VirtAddr::new(va)).ok_or("no page table after a fault")?;
            let flags = pte.flags();
            if !pte.is_present() || !flags.contains(PteFlags::USER) {
                return Err("a faulted page is not a present user page");
            }
            if flags.contains(PteFlags::RW) != v.flags.contains(VmFlags::WRITE) {
                pr_info!("ktest: {}: page {:#010x} of area {:?} mapped {:?}", p.name, va, v.flags, flags);
                return Err("a page is writable when its area is not, or the other way");
            }
            if spare && (pte.pfn().0 as usize) < max_low_pfn() {
                return Err("a user page came from lowmem while highmem had pages to spare");
            }
        }
        if !v.flags.contains(VmFlags::WRITE)
            && handle_mm_fault(mm, &mut ctx, v.start, Access { write: true, user_esp: None }) != Err(FaultError::Access)
        {
            return Err("a write fault in a read-only area was not refused as an access error");
        }
    }
    let total: usize = vmas.iter().map(Vma::pages).sum();
    if mm.rss.load(Relaxed) != total || NR_ANON_PAGES.load(Relaxed) != anon0 + total {
        return Err("rss or AnonPages do not count every page after every page was touched");
    }
    check_bytes(p, &plan, mm)?;

    // The stack grows on a fault just below it, not on one far below the
    // stack pointer (the 64 KB rule), nor into kernel space.
    let below = low - EXTRA_STACK_VM_PAGES * PAGE - PAGE;
    if handle_mm_fault(mm, &mut ctx, below, Access { write: true, user_esp: Some(below) }).is_err()
        || ctx.vmas.find_vma(below).map(|v| v.start) != Some(below)
    {
        return Err("a fault just below the stack at the stack pointer did not grow it by a page");
    }
    let far = below - 32 * PAGE;
    if handle_mm_fault(mm, &mut ctx, far, Access { write: true, user_esp: Some(esp) }) != Err(FaultError::NoVma) {
        return Err("a fault 32 pages below the stack and far below esp grew the stack");
    }
    if handle_mm_fault(mm, &mut ctx, STACK_END, Access { write: false, user_esp: None }) != Err(FaultError::NoVma) {
        return Err("a fault at TASK_SIZE was not refused");
    }
    drop(ctx);
    drop(loaded);
    if NR_ANON_PAGES.load(Relaxed) != anon0 {
        return Err("AnonPages not back after the address space was dropped");
    }
    Ok(())
}

/// hello's and chello's address spaces as Linux's binfmt_elf lays them
/// out, demand paged from highmem, and not a page kept after they are
/// dropped (measured around a second load: the first gives the caches
/// their first slabs).
pub fn load_lays_out_programs_and_gives_every_page_back() -> TestResult {
    let progs = programs()?;
    for p in &progs {
        check_layout(p)?;
        counts_come_back(|| check_layout(p))?;
    }
    Ok(())
}

/// A load that runs out of memory at any of its page allocations (the
/// directory, a page table, a stack page, the page `padzero` clears) or
/// slab allocations (the `mm_struct`, each `vm_area_struct`): the n-th
/// fails, for every n, and the load says so and leaves every page and every
/// area object where it was.
pub fn load_out_of_memory_anywhere_leaves_nothing() -> TestResult {
    for p in &programs()? {
        let argv: [&[u8]; 1] = [p.name.as_bytes()];
        // Warm the caches (see above), then count.
        drop(load(p, &argv).map_err(|_| "exec::load of a user program failed")?);
        for (what, inject) in INJECTIONS {
            for n in 1.. {
                drain_all_pages();
                let (before, anon, vmas) = (nr_free_pages(), NR_ANON_PAGES.load(Relaxed), nr_vm_areas());
                let restore = Restore(inject, inject(FaultAttr::new(n, 100, 0, 1)));
                let r = load(p, &argv);
                let failed = inject(restore.1).failed;
                drop(restore);
                let loaded_ok = r.is_ok();
                match r {
                    Err(ExecError::NoMemory) if failed == 1 => {}
                    Ok(_) if failed == 0 => {}
                    Ok(_) => {
                        pr_info!("ktest: {}: failing {} allocation {}: load succeeded", p.name, what, n);
                        return Err("a load succeeded although an allocation failed");
                    }
                    Err(_) => return Err("a failed allocation did not give ExecError::NoMemory"),
                }
                drop(r);
                drain_all_pages();
                let after = nr_free_pages();
                if after != before || NR_ANON_PAGES.load(Relaxed) != anon || nr_vm_areas() != vmas {
                    pr_info!(
                        "ktest: {}: failing {} allocation {}: free pages {} -> {}, areas {} -> {}",
                        p.name,
                        what,
                        n,
                        before,
                        after,
                        vmas,
                        nr_vm_areas()
                    );
                    return Err("free pages, AnonPages or VMA objects not back after a load that ran out of memory");
                }
                if loaded_ok {
                    pr_info!(
                        "ktest: exec::load of {} failed cleanly at each of its {} {} allocations",
                        p.name,
                        n - 1,
                        what
                    );
                    break;
                }
            }
        }
    }
    Ok(())
}

/// `brk` (the system call, on a loaded hello's address space): the heap
/// grows as an area named `[heap]` without a page mapped until touched,
/// then zeroed writable pages; a refused move (below the start, into the
/// stack) returns the break unchanged; shrinking unmaps and frees the
/// pages above the new break; 0 asks for the break.
pub fn brk_grows_lazily_shrinks_and_refuses() -> TestResult {
    let p = program("hello")?;
    counts_come_back(|| {
        let loaded = load(&p, &[b"hello"]).map_err(|_| "exec::load of hello failed")?;
        let mm = &loaded.mm;
        let _use = UseMm::new(mm);
        let brk = |v: usize| dispatch(NR_BRK, &[v as u32, 0, 0, 0, 0, 0]) as u32 as usize;
        let start = brk(0);
        if start != mm.mmap.lock().vmas.start_brk || start == 0 || !start.is_multiple_of(PAGE) {
            return Err("brk(0) is not the initial, page-aligned break");
        }
        let rss = mm.rss.load(Relaxed);
        let top = start + 3 * PAGE + 1;
        if brk(top) != top {
            return Err("brk up by 3 pages and a byte failed");
        }
        {
            let ctx = mm.mmap.lock();
            let heap = ctx.vmas.find_vma(start).filter(|v| v.start <= start && v.end == start + 4 * PAGE);
            if heap.is_none_or(|v| ctx.vmas.vma_name(v) != Some("[heap]") || v.kind != VmaKind::Anonymous) {
                return Err("the heap is not an anonymous area [heap] up to the break's page");
            }
        }
        if mm.rss.load(Relaxed) != rss {
            return Err("brk mapped heap pages before they were touched");
        }
        for va in (start..start + 4 * PAGE).step_by(PAGE) {
            handle_mm_fault(mm, &mut mm.mmap.lock(), va, Access { write: true, user_esp: None })
                .map_err(|_| "a write fault in the heap failed")?;
            let writable = mm.translate(VirtAddr::new(va)).is_some_and(|(_, f)| f.contains(PteFlags::RW));
            if !writable || read_page(mm, va).is_none_or(|b| b.iter().any(|&x| x != 0)) {
                return Err("a heap page is not a zeroed, writable user page");
            }
        }
        if brk(start - 1) != top || brk(STACK_END - PAGE) != top {
            return Err("a refused brk did not return the break unchanged");
        }
        if brk(start + PAGE) != start + PAGE || mm.rss.load(Relaxed) != rss + 1 {
            return Err("brk down to one page did not unmap the other 3");
        }
        if memory::user_frame(mm, start + PAGE).is_some() {
            return Err("a page above the lowered break is still mapped");
        }
        if brk(start) != start || mm.rss.load(Relaxed) != rss {
            return Err("brk back to the start did not unmap every heap page");
        }
        Ok(())
    })
}

/// Arguments that fill several stack pages: `load` makes and fills each
/// page of the first stack (the strings cross page boundaries), the
/// stack area starts `EXTRA_STACK_VM_PAGES` below the lowest, and every
/// page goes back with the address space.
pub fn load_puts_long_arguments_on_a_multi_page_stack() -> TestResult {
    const LEN: usize = 3000;
    let p = program("hello")?;
    let mut args: Vec<Vec<u8>> = Vec::new();
    for &c in b"abc" {
        args.push((0..LEN).map(|i| c + (i % 7) as u8).collect());
    }
    counts_come_back(|| {
        let argv: [&[u8]; 4] = [b"hello", &args[0], &args[1], &args[2]];
        let loaded = load(&p, &argv).map_err(|_| "exec::load with 9 KB of arguments failed")?;
        let mm = &loaded.mm;
        let esp = loaded.esp as usize;
        let low = esp & !(PAGE - 1);
        if STACK_END - low < 3 * PAGE {
            return Err("9 KB of arguments did not take at least 3 stack pages");
        }
        if mm.rss.load(Relaxed) < (STACK_END - low) / PAGE {
            return Err("a page of the first stack is not mapped");
        }
        let stack = mm.mmap.lock().vmas.find_vma(low).copied().ok_or("no stack area")?;
        if stack.start != low - EXTRA_STACK_VM_PAGES * PAGE || stack.end != STACK_END {
            return Err("the stack area does not reach EXTRA_STACK_VM_PAGES below the lowest argument page");
        }
        if word(mm, esp) != Some(4) {
            return Err("argc is not 4");
        }
        for (i, want) in argv.iter().enumerate() {
            let at = word(mm, esp + 4 + 4 * i).ok_or("an argv pointer is not on a stack page")? as usize;
            if !(esp..STACK_END).contains(&at) {
                return Err("an argv pointer does not point into the stack");
            }
            // Byte by byte: the string may cross a page boundary.
            for (k, &b) in want.iter().chain(&[0u8]).enumerate() {
                let va = at + k;
                let page = read_page(mm, va & !(PAGE - 1)).ok_or("an argument's page is not mapped")?;
                if page[va % PAGE] != b {
                    pr_info!("ktest: argv[{}] byte {} at {:#010x} is {:#x}, not {:#x}", i, k, va, page[va % PAGE], b);
                    return Err("an argument string on the stack is not the one given");
                }
            }
        }
        Ok(())
    })
}
