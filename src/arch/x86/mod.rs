//! Everything that touches the hardware: CPU instructions, descriptor tables,
//! the interrupt controller, the timer, the UART, page-table entry bits.
//!
//! The files directly here are the machine layer (layer 1): they import only
//! `layout`. `kernel/` (traps, entry code) is core kernel code, and `mm/` and
//! `lib/` are memory management; each imports from this layer, never the
//! other way.

// Only the entry bits, the TLS descriptors, the RTC's decoding and the ATA
// disks' (IDENTIFY, names, errors) build on the host (`cargo test`); the
// rest is the kernel target's.
pub mod ata;
pub mod pgtable_types;
pub mod rtc;
pub mod tls;

#[cfg(target_os = "none")]
pub mod cpu;
#[cfg(target_os = "none")]
pub mod gdt;
#[cfg(target_os = "none")]
pub mod kernel;
#[cfg(target_os = "none")]
pub mod lib;
#[cfg(target_os = "none")]
pub mod mm;
#[cfg(target_os = "none")]
pub mod pic;
#[cfg(target_os = "none")]
pub mod pit;
#[cfg(target_os = "none")]
pub mod qemu;
#[cfg(target_os = "none")]
pub mod serial;

#[cfg(target_os = "none")]
extern "C" {
    /// The boot stack and the guard pages around the boot and double-fault
    /// stacks (boot.S).
    pub static boot_stack: u8;
    pub static boot_stack_top: u8;
    pub static boot_stack_guard: u8;
    pub static df_stack_guard: u8;
}
