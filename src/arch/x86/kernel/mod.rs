//! The x86 code that belongs to the core kernel (layer 2, Linux's
//! arch/x86/kernel/): the trap entry stubs and the context switch
//! (`entry.S`), the IDT, the trap dispatcher and the oops report
//! (`traps`). It prints and asks the scheduler who runs, so it sits above
//! the machine layer (`arch::x86`), which imports only `layout`.

pub mod traps;

core::arch::global_asm!(include_str!("entry.S"), options(att_syntax));

extern "C" {
    /// Switch kernel stacks (entry.S). See `kernel::sched`.
    pub fn switch_to(prev_esp: *mut usize, next_esp: usize);
    pub fn kthread_trampoline();
    /// Where the double-fault task starts (entry.S): calls the #DF report.
    fn double_fault_task() -> !;
}

/// Bring up the CPU tables and devices, in dependency order (Linux's
/// `setup_arch` and `trap_init`); interrupts stay off. The boot identity
/// mapping is dropped by the caller next (`arch::x86::mm::init`, a layer
/// above this one).
pub fn setup_arch() {
    use crate::arch::x86::{gdt, pic, pit, serial};
    serial::init();
    gdt::init(double_fault_task);
    traps::init();
    pic::init();
    pit::init();
}
