//! The page-fault handler (Linux's arch/x86/mm/fault.c). A kernel fault on
//! a vmalloc address may only mean this page directory lacks a PDE the
//! reference one has (`vmalloc_fault` copies it and the access is retried);
//! every other kernel fault is a bug and ends in an oops. Demand paging for
//! processes comes with them.

use super::super::cpu::read_cr2;
use super::super::traps::{oops_body, TrapFrame};
use core::fmt::Write;

/// Error-code bits pushed by the CPU with #PF.
pub const PF_PROT: u32 = 1 << 0; // 0: page not present, 1: protection violation
pub const PF_WRITE: u32 = 1 << 1;
pub const PF_USER: u32 = 1 << 2;
pub const PF_RSVD: u32 = 1 << 3;
pub const PF_INSTR: u32 = 1 << 4;

pub fn do_page_fault(frame: &mut TrapFrame) {
    let address = read_cr2() as usize;
    // A kernel access to vmalloc space through a page directory that has
    // not seen the area's page table yet: copy the PDE and retry.
    let vmalloc_space = (crate::mm::alloc::vmalloc_start()..crate::layout::VMALLOC_END).contains(&address);
    if vmalloc_space && frame.error_code & (PF_USER | PF_PROT) == 0 && crate::mm::vmalloc::vmalloc_fault(address) {
        return;
    }
    let mut out = crate::kernel::printk::oops_begin();
    let _ = writeln!(out, "BUG: unable to handle page fault for address: {:08x}", address);
    describe_error_code(&mut out, frame.error_code);
    if vmalloc_space {
        crate::mm::vmalloc::describe(address, &mut out);
    }
    write_pte_walk(&mut out, address);
    let _ = writeln!(out, "Oops: {:04x} [#1]", frame.error_code);
    oops_body(&mut out, frame);
    crate::kernel::panic::oops_end(&mut out, "Fatal exception")
}

/// `#PF: supervisor write access in kernel mode` and `#PF: error_code(...)`.
pub fn describe_error_code(out: &mut impl Write, code: u32) {
    let who = if code & PF_USER != 0 { "user" } else { "supervisor" };
    let access = if code & PF_INSTR != 0 {
        "instruction fetch"
    } else if code & PF_WRITE != 0 {
        "write access"
    } else {
        "read access"
    };
    let mode = if code & PF_USER != 0 { "user" } else { "kernel" };
    let _ = writeln!(out, "#PF: {} {} in {} mode", who, access, mode);
    let why = if code & PF_RSVD != 0 {
        "reserved bit violation"
    } else if code & PF_PROT != 0 {
        "permissions violation"
    } else {
        "not-present page"
    };
    let _ = writeln!(out, "#PF: error_code(0x{:04x}) - {}", code, why);
}

/// `*pde = ...` and, when there is a page table, `*pte = ...`, read from the
/// current page directory through the typed page-table API.
fn write_pte_walk(out: &mut impl Write, address: usize) {
    use crate::mm::pgtable::{PageTables, VirtAddr};
    // SAFETY: CR3 holds the running page directory (in lowmem), and the
    // walk only reads entries.
    let (current, mem) = unsafe {
        (PageTables::from_phys(super::super::cpu::read_cr3() & !0xfff), crate::mm::vmalloc::DirectMapTables::new())
    };
    let walk = current.walk(&mem, VirtAddr::new(address));
    let _ = writeln!(out, "{}", walk);
}
