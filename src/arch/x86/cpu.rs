//! Privileged instructions: port I/O, control registers, interrupt flag, TLB.
//! Everything in the kernel that executes one of these goes through here.
//!
//! Port I/O, the control registers, `invlpg` and the decoding of CPUID are
//! the `x86` crate's; these functions keep the kernel's names (Linux's
//! `outb`, `read_cr3`, `__flush_tlb_one`...) over it. Written by hand, each
//! saying why: the interrupt flag (`cli`/`sti` stay `nomem` and inlined into
//! the allocator's per-CPU fast path, and `sti; hlt` must be one asm block),
//! the frame pointer and the TSC (no crate function), and the CPUID
//! instruction itself (see `cpuid`).

use core::arch::asm;
use core::sync::atomic::{AtomicU32, Ordering};
use x86::controlregs::{self, Cr4};

/// EFLAGS.IF: interrupts enabled.
pub const EFLAGS_IF: u32 = 1 << 9;

#[inline]
pub fn outb(port: u16, val: u8) {
    // SAFETY: port I/O has no memory effects; callers own the device they drive.
    unsafe { x86::io::outb(port, val) }
}

#[inline]
pub fn inb(port: u16) -> u8 {
    // SAFETY: as for outb.
    unsafe { x86::io::inb(port) }
}

#[inline]
pub fn outw(port: u16, val: u16) {
    // SAFETY: as for outb.
    unsafe { x86::io::outw(port, val) }
}

#[inline]
pub fn inw(port: u16) -> u16 {
    // SAFETY: as for outb.
    unsafe { x86::io::inw(port) }
}

/// `rep insd`: fill `buf` (a multiple of 4 bytes) with 32-bit reads of
/// `port`, as a PIO disk's data port is read (Linux's `insl`). One string
/// instruction: an emulator serves it far faster than a loop of `inw`.
#[inline]
pub fn insl(port: u16, buf: &mut [u8]) {
    assert!(buf.len() % 4 == 0, "insl of {} bytes", buf.len());
    // SAFETY: writes exactly buf.len() bytes at buf's start (ECX dwords
    // from EDI upward: the direction flag is clear, as the ABI keeps it);
    // the port read has no effect on memory, as for outb.
    unsafe {
        core::arch::asm!("rep insd", inout("ecx") buf.len() / 4 => _, inout("edi") buf.as_mut_ptr() => _,
                         in("dx") port, options(nostack, preserves_flags));
    }
}

/// `rep outsd`: write `buf` (a multiple of 4 bytes) to `port` as 32-bit
/// words (Linux's `outsl`).
#[inline]
pub fn outsl(port: u16, buf: &[u8]) {
    assert!(buf.len() % 4 == 0, "outsl of {} bytes", buf.len());
    // SAFETY: reads exactly buf.len() bytes from buf's start (ECX dwords
    // from ESI upward; ESI, which LLVM keeps for itself, is saved around
    // it); as for outb.
    unsafe {
        core::arch::asm!("push esi", "mov esi, {p}", "rep outsd", "pop esi", p = in(reg) buf.as_ptr(),
                         inout("ecx") buf.len() / 4 => _, in("dx") port, options(preserves_flags, readonly));
    }
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

// The crate's control-register functions are `unsafe` because they fault
// outside ring 0; the kernel always runs in ring 0. They return `usize` (or
// `u64` for CR3, its x86-64 width): on i686 both hold the 32-bit register.

#[inline]
pub fn read_cr0() -> u32 {
    // SAFETY: ring 0; reading a control register has no side effect.
    unsafe { controlregs::cr0() }.bits() as u32
}

#[inline]
pub fn read_cr2() -> u32 {
    // SAFETY: as above.
    unsafe { controlregs::cr2() as u32 }
}

#[inline]
pub fn read_cr3() -> u32 {
    // SAFETY: as above.
    unsafe { controlregs::cr3() as u32 }
}

#[inline]
pub fn read_cr4() -> u32 {
    // SAFETY: as above.
    unsafe { controlregs::cr4() }.bits() as u32
}

/// CR4 as `enable_global_pages` left it (Linux's `cpu_tlbstate.cr4`, the
/// CR4 shadow): `flush_tlb_all` reads it instead of CR4. 0 before, which
/// is right for what it is asked: boot.S sets only CR4.PSE, and PGE is off
/// until `enable_global_pages` sets it.
static CR4_SHADOW: AtomicU32 = AtomicU32::new(0);

/// Write CR4 (the caller keeps the paging mode: only PGE is ever toggled).
#[inline]
fn write_cr4(v: u32) {
    // SAFETY: ring 0; every caller writes CR4's own value with at most PGE
    // changed, which changes only how long global TLB entries live. The
    // bits are CR4's own, so none is unknown to the crate's `Cr4`.
    unsafe { controlregs::cr4_write(Cr4::from_bits_unchecked(v as usize)) }
}

/// Counts of TLB work, so tests and benchmarks can see what an operation cost.
pub static TLB_SINGLE_FLUSHES: AtomicU32 = AtomicU32::new(0);
pub static TLB_FULL_FLUSHES: AtomicU32 = AtomicU32::new(0);
/// Page-directory switches (`load_cr3`, each also a full flush above).
pub static CR3_LOADS: AtomicU32 = AtomicU32::new(0);
/// Pages the page allocator zeroed (`__GFP_ZERO`: demand-zero user pages,
/// page tables, ...), so benchmarks can show a fault's clear.
pub static PAGES_ZEROED: AtomicU32 = AtomicU32::new(0);

/// Drop the TLB entry of one page (`invlpg`).
#[inline]
pub fn flush_tlb_one(vaddr: usize) {
    TLB_SINGLE_FLUSHES.fetch_add(1, Ordering::Relaxed);
    // SAFETY: invalidating a TLB entry only makes the CPU re-walk the tables.
    unsafe { x86::tlb::flush(vaddr) }
}

/// CR4.PGE: TLB entries of pages marked global survive CR3 reloads.
pub const X86_CR4_PGE: u32 = Cr4::CR4_ENABLE_GLOBAL_PAGES.bits() as u32;

/// Full TLB flushes that cleared global entries too (CR4.PGE toggled).
pub static TLB_GLOBAL_FLUSHES: AtomicU32 = AtomicU32::new(0);

/// CPUID leaf `leaf`: (eax, ebx, ecx, edx). The kernel requires an i686
/// (CPUID present; boot.S checked).
pub fn cpuid(leaf: u32) -> (u32, u32, u32, u32) {
    let r = cpuid_count(leaf, 0);
    (r.eax, r.ebx, r.ecx, r.edx)
}

/// The CPUID instruction, for the `x86` crate's decoder (`CpuId`). Not the
/// crate's own: on 32-bit x86, raw-cpuid (which `x86::cpuid` re-exports)
/// provides `native_cpuid`, `CpuId::new` and `cpuid!` only with
/// `target_feature = "sse"`, and this target is soft-float without SSE.
fn cpuid_count(leaf: u32, subleaf: u32) -> x86::cpuid::CpuIdResult {
    let r = core::arch::x86::__cpuid_count(leaf, subleaf);
    x86::cpuid::CpuIdResult { eax: r.eax, ebx: r.ebx, ecx: r.ecx, edx: r.edx }
}

/// The CPU's features, decoded by the `x86` crate.
pub fn cpu_features() -> x86::cpuid::CpuId {
    x86::cpuid::CpuId::with_cpuid_fn(cpuid_count)
}

/// Turn on global pages (CR4.PGE) when the CPU has them, as Linux does at
/// boot: kernel mappings marked `_PAGE_GLOBAL` then survive the CR3 reload
/// of every process switch. Returns whether PGE is on.
pub fn enable_global_pages() -> bool {
    if !cpu_features().get_feature_info().is_some_and(|f| f.has_pge()) {
        return false;
    }
    // Setting PGE only lets global TLB entries outlive CR3 loads; no entry
    // is global before some code marks one so.
    let cr4 = read_cr4() | X86_CR4_PGE;
    CR4_SHADOW.store(cr4, Ordering::Relaxed);
    write_cr4(cr4);
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
    // The shadow, as Linux's __flush_tlb_global reads it: a load, where the
    // crate's CR4 read is an asm block the compiler must treat as touching
    // memory.
    let cr4 = CR4_SHADOW.load(Ordering::Relaxed);
    if cr4 & X86_CR4_PGE != 0 {
        TLB_GLOBAL_FLUSHES.fetch_add(1, Ordering::Relaxed);
        // CR4 with its own value minus PGE, then its own value: same paging
        // mode, every TLB entry dropped.
        write_cr4(cr4 & !X86_CR4_PGE);
        write_cr4(cr4);
    } else {
        // SAFETY: CR3 is reloaded with its own value: same tables, fresh TLB.
        unsafe { x86::tlb::flush_all() }
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
    unsafe { x86::tlb::flush_all() }
}

/// Zero a page a 32-bit word at a time with `rep stosd`, as i386 Linux's
/// `clear_page` (a `memset` by string instructions) does. The `memset` of
/// `compiler_builtins` stores a byte at a time here: 4,096 instructions
/// under icount, and four times the stores, where this is 1,024.
pub fn clear_page(page: &mut [u8; 4096]) {
    // SAFETY: writes exactly the 4,096 bytes of `page` (ecx words from
    // edi upwards: the ABI keeps the direction flag clear).
    unsafe {
        asm!("rep stosd", inout("ecx") 1024usize => _, inout("edi") page.as_mut_ptr() => _, in("eax") 0u32,
             options(nostack, preserves_flags))
    }
}

/// Copy a page a 32-bit word at a time with `rep movsd` (i386 Linux's
/// `copy_page`), for the same reason as [`clear_page`].
pub fn copy_page(to: &mut [u8; 4096], from: &[u8; 4096]) {
    // SAFETY: reads the 4,096 bytes of `from` and writes those of `to`,
    // which cannot overlap (a shared and an exclusive borrow). esi is
    // LLVM's base pointer on x86-32 and cannot be an operand: it is swapped
    // in and restored by hand.
    unsafe {
        asm!("xchg {src}, esi", "rep movsd", "mov esi, {src}",
             src = inout(reg) from.as_ptr() => _, inout("ecx") 1024usize => _, inout("edi") to.as_mut_ptr() => _,
             options(nostack, preserves_flags))
    }
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
    CR3_LOADS.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the caller guarantees the directory maps the kernel.
    unsafe { controlregs::cr3_write(phys as u64) }
}

const X86_CR0_MP: u32 = 1 << 1;
const X86_CR0_EM: u32 = 1 << 2;
const X86_CR0_TS: u32 = 1 << 3;
const X86_CR0_NE: u32 = 1 << 5;
const X86_CR4_OSFXSR: u32 = 1 << 9;
const X86_CR4_OSXMMEXCPT: u32 = 1 << 10;

/// Whether `fpu_init` turned the FPU and SSE on (then `FxState` works).
static FPU_ON: AtomicU32 = AtomicU32::new(0);

/// Let ring 3 use the x87 FPU and SSE (Linux's `fpu_init`): no emulation,
/// native error reporting, `fxsave`/`fxrstor` and SSE enabled in CR4.
/// glibc's string functions use SSE2 on any CPU that has it. The kernel is
/// built soft-float (i686-target.json: no x87, MMX or SSE code), so these
/// registers only ever hold user state, which the scheduler saves and
/// restores for the threads that have some (`FxState`). Returns false, and
/// changes nothing, on a CPU without FXSR or SSE (user code using them
/// then takes #UD).
pub fn fpu_init() -> bool {
    if !cpu_features().get_feature_info().is_some_and(|f| f.has_fxsave_fxstor() && f.has_sse()) {
        return false;
    }
    let cr0 = (read_cr0() & !(X86_CR0_EM | X86_CR0_TS)) | X86_CR0_MP | X86_CR0_NE;
    let cr4 = read_cr4() | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
    if CR4_SHADOW.load(Ordering::Relaxed) != 0 {
        CR4_SHADOW.store(cr4, Ordering::Relaxed);
    }
    // SAFETY: ring 0; the bits changed only decide whether FPU and SSE
    // instructions trap (the kernel executes none) and how they report
    // errors; paging and protection bits are written back as they were.
    unsafe {
        controlregs::cr0_write(controlregs::Cr0::from_bits_unchecked(cr0 as usize));
        controlregs::cr4_write(Cr4::from_bits_unchecked(cr4 as usize));
        asm!("fninit", options(nomem, nostack));
    }
    FPU_ON.store(1, Ordering::Relaxed);
    true
}

/// The x87 and SSE registers of one thread, as `fxsave` stores them (512
/// bytes, 16-aligned). Only `new` and `save` write it, so `restore` always
/// loads a valid image (a reserved MXCSR bit would make `fxrstor` fault).
#[repr(C, align(16))]
pub struct FxState([u8; 512]);

impl FxState {
    /// The state of a new program (Linux's `fpstate_init`): `fninit`'s
    /// control word 0x037f, MXCSR 0x1f80 (every exception masked), every
    /// register zero.
    pub fn new() -> FxState {
        let mut b = [0u8; 512];
        b[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
        b[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        FxState(b)
    }

    /// Store the CPU's registers here (nothing without `fpu_init`).
    pub fn save(&mut self) {
        if FPU_ON.load(Ordering::Relaxed) != 0 {
            // SAFETY: fxsave writes exactly 512 bytes at a 16-aligned
            // address: this array.
            unsafe { asm!("fxsave [{}]", in(reg) self.0.as_mut_ptr(), options(nostack)) };
        }
    }

    /// Load the registers from here (nothing without `fpu_init`).
    pub fn restore(&self) {
        if FPU_ON.load(Ordering::Relaxed) != 0 {
            // SAFETY: fxrstor reads 512 bytes at a 16-aligned address: this
            // array, which holds an image `new` or `fxsave` made (valid
            // MXCSR); it changes only FPU/SSE registers.
            unsafe { asm!("fxrstor [{}]", in(reg) self.0.as_ptr(), options(nostack, readonly)) };
        }
    }
}

impl Default for FxState {
    fn default() -> Self {
        FxState::new()
    }
}
