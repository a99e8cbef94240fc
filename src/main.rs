//! The kernel binary: the multiboot2 entry code, and the library linked behind it.
//! Everything else is in the library (`src/lib.rs`), so host tests can reach it.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate kernel;

// boot.S calls `kmain` (src/init.rs) once paging is on. Its numbers are
// these operands (see boot.S's header): each is defined once, in Rust.
#[cfg(target_os = "none")]
core::arch::global_asm!(
    include_str!("arch/x86/boot.S"),
    PAGE_OFFSET = const kernel::layout::PAGE_OFFSET,
    PAGE_SHIFT = const kernel::layout::PAGE_SHIFT,
    PAGE_SIZE = const kernel::layout::PAGE_SIZE,
    PGDIR_SHIFT = const kernel::layout::PGDIR_SHIFT,
    KERNEL_PGD_FIRST = const kernel::layout::KERNEL_PGD_FIRST,
    EARLY_PDES = const kernel::layout::EARLY_PDES,
    EARLY_PT_PAGES = const kernel::layout::EARLY_PT_BYTES >> kernel::layout::PAGE_SHIFT,
    MAXMEM_PDES = const kernel::layout::MAXMEM_PDES,
    BOOT_STACK_SIZE = const kernel::layout::BOOT_STACK_SIZE,
    DF_STACK_SIZE = const kernel::layout::DF_STACK_SIZE,
    PTE_PRESENT_RW = const kernel::arch::x86::pgtable_types::PteFlags::PRESENT_RW.bits(),
    PDE_4M_RW = const kernel::arch::x86::pgtable_types::PteFlags::PRESENT_RW_LARGE.bits(),
    X86_CR4_PSE = const x86::controlregs::Cr4::CR4_ENABLE_PSE.bits(),
    X86_CR0_PG_WP = const x86::controlregs::Cr0::CR0_ENABLE_PAGING.bits()
        | x86::controlregs::Cr0::CR0_WRITE_PROTECT.bits(),
    EFLAGS_ID = const x86::bits32::eflags::EFlags::FLAGS_ID.bits(),
    options(att_syntax)
);

/// On the host there is nothing to run: the kernel only boots under QEMU.
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this is the kernel binary: build it with `make` and boot it with `make run`");
}
