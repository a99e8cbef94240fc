//! Privileged instructions: port I/O, control registers, interrupt flag, TLB.
//! Everything in the kernel that executes one of these goes through here.

use core::arch::asm;
use core::sync::atomic::{AtomicU32, Ordering};

/// EFLAGS.IF: interrupts enabled.
pub const EFLAGS_IF: u32 = 1 << 9;

#[inline]
pub fn outb(port: u16, val: u8) {
    // SAFETY: port I/O has no memory effects; callers own the device they drive.
    unsafe { asm!("out dx, al", in("dx") port, in("al") val, options(nomem, nostack, preserves_flags)) }
}

#[inline]
pub fn inb(port: u16) -> u8 {
    let val: u8;
    // SAFETY: as for outb.
    unsafe { asm!("in al, dx", out("al") val, in("dx") port, options(nomem, nostack, preserves_flags)) }
    val
}

#[inline]
pub fn outw(port: u16, val: u16) {
    // SAFETY: as for outb.
    unsafe { asm!("out dx, ax", in("dx") port, in("ax") val, options(nomem, nostack, preserves_flags)) }
}

#[inline]
pub fn read_eflags() -> u32 {
    let flags: u32;
    // SAFETY: reading EFLAGS through the stack has no other effect.
    unsafe { asm!("pushfd", "pop {}", out(reg) flags, options(nomem, preserves_flags)) }
    flags
}

#[inline]
pub fn irqs_enabled() -> bool {
    read_eflags() & EFLAGS_IF != 0
}

/// Disable interrupts and return the previous EFLAGS (Linux's `local_irq_save`).
#[inline]
pub fn local_irq_save() -> u32 {
    let flags = read_eflags();
    // SAFETY: masking interrupts cannot break memory safety.
    unsafe { asm!("cli", options(nomem, nostack)) }
    flags
}

/// Restore the interrupt flag saved by `local_irq_save`.
#[inline]
pub fn local_irq_restore(flags: u32) {
    if flags & EFLAGS_IF != 0 {
        // SAFETY: re-enabling interrupts that were enabled before the save.
        unsafe { asm!("sti", options(nomem, nostack)) }
    }
}

#[inline]
pub fn local_irq_enable() {
    // SAFETY: the IDT and PIC are set up before anyone calls this.
    unsafe { asm!("sti", options(nomem, nostack)) }
}

#[inline]
pub fn local_irq_disable() {
    // SAFETY: masking interrupts cannot break memory safety.
    unsafe { asm!("cli", options(nomem, nostack)) }
}

/// Enable interrupts and halt until the next one, atomically (`sti; hlt`
/// cannot lose a wake-up: `sti` takes effect after the following instruction).
#[inline]
pub fn safe_halt() {
    // SAFETY: see above; halting only waits.
    unsafe { asm!("sti; hlt", options(nomem, nostack)) }
}

/// Stop this CPU for good.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: interrupts off and halted: nothing else runs.
        unsafe { asm!("cli; hlt", options(nomem, nostack)) }
    }
}

#[inline]
pub fn read_cr0() -> u32 {
    let v: u32;
    // SAFETY: reading a control register has no side effect.
    unsafe { asm!("mov {}, cr0", out(reg) v, options(nomem, nostack, preserves_flags)) }
    v
}

#[inline]
pub fn read_cr2() -> u32 {
    let v: u32;
    // SAFETY: as above.
    unsafe { asm!("mov {}, cr2", out(reg) v, options(nomem, nostack, preserves_flags)) }
    v
}

#[inline]
pub fn read_cr3() -> u32 {
    let v: u32;
    // SAFETY: as above.
    unsafe { asm!("mov {}, cr3", out(reg) v, options(nomem, nostack, preserves_flags)) }
    v
}

#[inline]
pub fn read_cr4() -> u32 {
    let v: u32;
    // SAFETY: as above.
    unsafe { asm!("mov {}, cr4", out(reg) v, options(nomem, nostack, preserves_flags)) }
    v
}

/// Counts of TLB work, so tests and benchmarks can see what an operation cost.
pub static TLB_SINGLE_FLUSHES: AtomicU32 = AtomicU32::new(0);
pub static TLB_FULL_FLUSHES: AtomicU32 = AtomicU32::new(0);

/// Drop the TLB entry of one page (`invlpg`).
#[inline]
pub fn flush_tlb_one(vaddr: usize) {
    TLB_SINGLE_FLUSHES.fetch_add(1, Ordering::Relaxed);
    // SAFETY: invalidating a TLB entry only makes the CPU re-walk the tables.
    unsafe { asm!("invlpg [{}]", in(reg) vaddr, options(nostack, preserves_flags)) }
}

/// CR4.PGE: TLB entries of pages marked global survive CR3 reloads.
pub const X86_CR4_PGE: u32 = 1 << 7;
/// CPUID.1:EDX.PGE.
const CPUID_1_EDX_PGE: u32 = 1 << 13;

/// Full TLB flushes that cleared global entries too (CR4.PGE toggled).
pub static TLB_GLOBAL_FLUSHES: AtomicU32 = AtomicU32::new(0);

/// CPUID leaf `leaf`: (eax, ebx, ecx, edx). The kernel requires an i686
/// (CPUID present).
pub fn cpuid(leaf: u32) -> (u32, u32, u32, u32) {
    let r = core::arch::x86::__cpuid(leaf);
    (r.eax, r.ebx, r.ecx, r.edx)
}

/// Turn on global pages (CR4.PGE) when the CPU has them, as Linux does at
/// boot: kernel mappings marked `_PAGE_GLOBAL` then survive the CR3 reload
/// of every process switch. Returns whether PGE is on.
pub fn enable_global_pages() -> bool {
    if cpuid(1).3 & CPUID_1_EDX_PGE == 0 {
        return false;
    }
    let cr4 = read_cr4();
    // SAFETY: setting PGE only lets global TLB entries outlive CR3 loads; no
    // entry is global before some code marks one so.
    unsafe { asm!("mov cr4, {}", in(reg) cr4 | X86_CR4_PGE, options(nostack, preserves_flags)) }
    true
}

/// Drop every TLB entry, global ones too (Linux's `__flush_tlb_all`): with
/// CR4.PGE on, a CR3 reload keeps global entries, so PGE is turned off
/// (which flushes everything) and on again; without PGE a CR3 reload
/// flushes all.
#[inline]
pub fn flush_tlb_all() {
    TLB_FULL_FLUSHES.fetch_add(1, Ordering::Relaxed);
    // Interrupts off across the toggle, as Linux's __flush_tlb_global: a
    // handler must not run while PGE is off and then leave it so.
    let flags = local_irq_save();
    let cr4 = read_cr4();
    if cr4 & X86_CR4_PGE != 0 {
        TLB_GLOBAL_FLUSHES.fetch_add(1, Ordering::Relaxed);
        // SAFETY: CR4 is written with its own value minus PGE, then with its
        // own value: same paging mode, every TLB entry dropped.
        unsafe {
            asm!("mov cr4, {0}", "mov cr4, {1}", in(reg) cr4 & !X86_CR4_PGE, in(reg) cr4, options(nostack, preserves_flags))
        }
    } else {
        // SAFETY: CR3 is reloaded with its own value: same tables, fresh TLB.
        unsafe { asm!("mov {0}, cr3", "mov cr3, {0}", out(reg) _, options(nostack, preserves_flags)) }
    }
    local_irq_restore(flags);
}

/// Drop the TLB entries that are not global: those of the address space
/// (Linux's `__flush_tlb`, a CR3 reload). Kernel mappings marked global
/// stay; user mappings never are.
#[inline]
pub fn flush_tlb_local() {
    TLB_FULL_FLUSHES.fetch_add(1, Ordering::Relaxed);
    // SAFETY: CR3 is reloaded with its own value: same tables, fresh TLB.
    unsafe { asm!("mov {0}, cr3", "mov cr3, {0}", out(reg) _, options(nostack, preserves_flags)) }
}

/// Time-stamp counter. Under QEMU `-icount shift=0` it counts instructions.
#[inline]
pub fn rdtsc() -> u64 {
    let lo: u32;
    let hi: u32;
    // SAFETY: rdtsc only reads a counter.
    unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Current frame pointer, for backtraces.
#[inline(always)]
pub fn read_ebp() -> usize {
    let v: usize;
    // SAFETY: reading a register.
    unsafe { asm!("mov {}, ebp", out(reg) v, options(nomem, nostack, preserves_flags)) }
    v
}

/// Switch page directories.
///
/// # Safety
/// `phys` must be the physical address of a page directory that maps the
/// running kernel (PDEs 768..1023 copied from the reference directory).
pub unsafe fn load_cr3(phys: usize) {
    TLB_FULL_FLUSHES.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the caller guarantees the directory maps the kernel.
    unsafe { asm!("mov cr3, {}", in(reg) phys, options(nostack, preserves_flags)) }
}
