//! The exception table (Linux's `__ex_table` and arch/x86/mm/extable.c).
//!
//! Every instruction that may touch a user address on the kernel's behalf
//! (the copy loops and `get_user`/`put_user` in `uaccess.rs`) is listed
//! here with a fixup: where execution goes on if it faults. The page-fault
//! handler, before it declares a kernel fault an oops, looks the faulting
//! EIP up (`fixup_exception`); when it is listed, the trap returns to the
//! fixup, which makes the access fail with `-EFAULT`.
//!
//! The entries are emitted next to the instructions they name (`.pushsection
//! __ex_table`), and the linker gathers them between `__start___ex_table`
//! and `__stop___ex_table` (linker.ld). Linux sorts the table at boot and
//! bisects it; this one holds a handful of entries and is scanned.

use crate::arch::x86::kernel::traps::TrapFrame;
use core::sync::atomic::{AtomicUsize, Ordering};

/// One (faulting instruction, fixup) pair: Linux 2.6.24's
/// `struct exception_table_entry` with absolute addresses.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExceptionTableEntry {
    pub insn: usize,
    pub fixup: usize,
}

extern "C" {
    static __start___ex_table: ExceptionTableEntry;
    static __stop___ex_table: ExceptionTableEntry;
}

/// Faults that the table turned into an error return (for tests and reports).
pub static FIXUPS: AtomicUsize = AtomicUsize::new(0);

/// The whole table, as the linker laid it out.
pub fn exception_table() -> &'static [ExceptionTableEntry] {
    // Addresses only (addr_of!): the symbols bound the section.
    let start = core::ptr::addr_of!(__start___ex_table);
    let stop = core::ptr::addr_of!(__stop___ex_table);
    let len = (stop as usize - start as usize) / core::mem::size_of::<ExceptionTableEntry>();
    // SAFETY: the linker puts only ExceptionTableEntry pairs (two `.long`s)
    // between the two symbols, in a read-only section that lives for ever.
    unsafe { core::slice::from_raw_parts(start, len) }
}

/// The fixup for a faulting instruction at `eip`, if it has one (Linux's
/// `search_exception_tables`).
pub fn search_exception_tables(eip: usize) -> Option<usize> {
    exception_table().iter().find(|e| e.insn == eip).map(|e| e.fixup)
}

/// Resume a kernel fault at its fixup, if the faulting instruction has one
/// (Linux's `fixup_exception`). The trap then returns there instead of
/// retrying the instruction.
pub fn fixup_exception(frame: &mut TrapFrame) -> bool {
    match search_exception_tables(frame.eip as usize) {
        Some(fixup) => {
            FIXUPS.fetch_add(1, Ordering::Relaxed);
            frame.eip = fixup as u32;
            true
        }
        None => false,
    }
}
