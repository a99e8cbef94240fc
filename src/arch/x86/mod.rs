//! Everything that touches the hardware: CPU instructions, descriptor tables,
//! traps, the interrupt controller, the timer, the UART, early paging.

pub mod cpu;
pub mod gdt;
pub mod lib;
pub mod mm;
pub mod pic;
pub mod pit;
pub mod qemu;
pub mod serial;
pub mod traps;

core::arch::global_asm!(include_str!("entry.S"), options(att_syntax));

extern "C" {
    /// Switch kernel stacks (entry.S). See `kernel::sched`.
    pub fn switch_to(prev_esp: *mut usize, next_esp: usize);
    pub fn kthread_trampoline();
    pub static boot_stack: u8;
    pub static boot_stack_top: u8;
    pub static boot_stack_guard: u8;
    pub static df_stack_guard: u8;
}

/// Bring up the CPU tables and devices, in dependency order; interrupts stay off.
pub fn init() {
    serial::init();
    gdt::init();
    traps::init();
    // SAFETY: once, at boot, interrupts off, running at PAGE_OFFSET.
    unsafe { mm::init::zap_low_mappings() };
    pic::init();
    pit::init();
}
