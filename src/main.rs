//! The kernel binary: the multiboot2 entry code, and the library linked behind it.
//! Everything else is in the library (`src/lib.rs`), so host tests can reach it.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate kernel;

// boot.S calls `kmain` (src/init.rs) once paging is on.
#[cfg(target_os = "none")]
core::arch::global_asm!(include_str!("arch/x86/boot.S"), options(att_syntax));

/// On the host there is nothing to run: the kernel only boots under QEMU.
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this is the kernel binary: build it with `make` and boot it with `make run`");
}
