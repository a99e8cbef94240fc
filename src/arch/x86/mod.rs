//! Everything that touches the hardware: CPU instructions, descriptor tables,
//! the interrupt controller, the timer, the UART, page-table entry bits.
//!
//! The files directly here are the machine layer (layer 1): they import only
//! `layout`. `kernel/` (traps, entry code) is core kernel code, and `mm/` and
//! `lib/` are memory management; each imports from this layer, never the
//! other way.

pub mod cpu;
pub mod gdt;
pub mod kernel;
pub mod lib;
pub mod mm;
pub mod pic;
pub mod pit;
pub mod qemu;
pub mod serial;

extern "C" {
    /// The boot stack and the guard pages around the boot and double-fault
    /// stacks (boot.S).
    pub static boot_stack: u8;
    pub static boot_stack_top: u8;
    pub static boot_stack_guard: u8;
    pub static df_stack_guard: u8;
}
