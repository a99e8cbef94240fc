//! The end of the road: Rust panics and fatal oopses print a report
//! (message, registers, call trace) and stop the machine; under QEMU the
//! debug-exit device turns that into a failing exit status, so a crashed
//! kernel never hangs a test run.

use super::ksyms::write_symbol;
use super::printk::{oops_begin, OopsWriter};
use crate::arch::x86::{cpu, qemu};
use core::arch::asm;
use core::fmt::Write;

/// Most frames a backtrace prints.
const MAX_FRAMES: usize = 32;

extern "C" {
    static _text: u8;
    static _etext: u8;
}

fn kernel_text(addr: usize) -> bool {
    // Addresses only (addr_of!: no reference to what the symbols name).
    let (lo, hi) = (core::ptr::addr_of!(_text) as usize, core::ptr::addr_of!(_etext) as usize);
    (lo..hi).contains(&addr)
}

/// The saved (frame pointer, return address) pair at `ebp`, if `ebp` is an
/// aligned frame on a mapped kernel stack: a corrupt chain ends the walk,
/// not the report.
fn read_frame(ebp: usize) -> Option<(usize, usize)> {
    if ebp == 0 || !ebp.is_multiple_of(4) || !super::sched::on_kernel_stack(ebp, 8) {
        return None;
    }
    // SAFETY: `ebp` is aligned and its 8 bytes lie on a mapped kernel stack.
    Some(unsafe { (*(ebp as *const usize), *((ebp + 4) as *const usize)) })
}

/// One ` symbol+off/size` line per frame of the chain that starts at `ebp`:
/// each is a return address, printed as Linux's `%pB` does.
pub fn write_call_trace(out: &mut impl Write, ebp: usize) {
    for ret in super::ksyms::frame_chain(ebp, MAX_FRAMES, read_frame, kernel_text) {
        let _ = write!(out, " ");
        super::ksyms::write_return_address(out, ret);
        let _ = writeln!(out);
    }
}

/// The trace of an interrupted context: `eip` itself (the faulting
/// instruction, `%pS`), then the frames of the chain at `ebp`.
pub fn write_backtrace(out: &mut impl Write, eip: usize, ebp: usize) {
    let _ = write!(out, " ");
    write_symbol(out, eip);
    let _ = writeln!(out);
    write_call_trace(out, ebp);
}

/// Finish an oops: the panic line, then leave QEMU with a failing status.
pub fn oops_end(out: &mut OopsWriter, why: &str) -> ! {
    let _ = writeln!(out, "Kernel panic - not syncing: {}", why);
    let _ = writeln!(out, "---[ end Kernel panic - not syncing: {} ]---", why);
    qemu::exit_failure(qemu::EXIT_CRASH)
}

/// A snapshot of the registers at the point of a panic.
#[derive(Default)]
struct Regs {
    eax: u32,
    ebx: u32,
    ecx: u32,
    edx: u32,
    esi: u32,
    edi: u32,
    ebp: u32,
    esp: u32,
}

#[inline(always)]
fn snapshot() -> Regs {
    let mut r = Regs::default();
    // SAFETY: plain register moves into locals.
    unsafe {
        asm!("mov {}, eax", out(reg) r.eax, options(nomem, nostack, preserves_flags));
        asm!("mov {}, ebx", out(reg) r.ebx, options(nomem, nostack, preserves_flags));
        asm!("mov {}, ecx", out(reg) r.ecx, options(nomem, nostack, preserves_flags));
        asm!("mov {}, edx", out(reg) r.edx, options(nomem, nostack, preserves_flags));
        asm!("mov {}, esi", out(reg) r.esi, options(nomem, nostack, preserves_flags));
        asm!("mov {}, edi", out(reg) r.edi, options(nomem, nostack, preserves_flags));
        asm!("mov {}, ebp", out(reg) r.ebp, options(nomem, nostack, preserves_flags));
        asm!("mov {}, esp", out(reg) r.esp, options(nomem, nostack, preserves_flags));
    }
    r
}

/// Where the caller is executing (not its start, which would print `+0x0`).
#[inline(always)]
fn current_eip() -> usize {
    let eip: usize;
    // SAFETY: a call to the next instruction pushes its address, popped at once.
    unsafe { asm!("call 2f", "2:", "pop {}", out(reg) eip, options(preserves_flags)) };
    eip
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let regs = snapshot();
    let mut out = oops_begin();
    let _ = write!(out, "Kernel panic - not syncing: {}", info.message());
    if let Some(loc) = info.location() {
        let _ = write!(out, " at {}:{}", loc.file(), loc.line());
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "CPU: 0 PID: {} Comm: {}", super::sched::current_pid(), super::sched::current_name());
    let _ = writeln!(out, "EAX: {:08x} EBX: {:08x} ECX: {:08x} EDX: {:08x}", regs.eax, regs.ebx, regs.ecx, regs.edx);
    let _ = writeln!(out, "ESI: {:08x} EDI: {:08x} EBP: {:08x} ESP: {:08x}", regs.esi, regs.edi, regs.ebp, regs.esp);
    let _ = writeln!(
        out,
        "CR0: {:08x} CR2: {:08x} CR3: {:08x} CR4: {:08x} EFLAGS: {:08x}",
        cpu::read_cr0(),
        cpu::read_cr2(),
        cpu::read_cr3(),
        cpu::read_cr4(),
        cpu::read_eflags()
    );
    let _ = writeln!(out, "Call Trace:");
    write_backtrace(&mut out, current_eip(), regs.ebp as usize);
    let _ = writeln!(out, "---[ end Kernel panic - not syncing: {} ]---", info.message());
    qemu::exit_failure(qemu::EXIT_CRASH)
}

/// A non-fatal report of a kernel bug (Linux's `WARN`): message, call trace, go on.
#[inline(never)]
pub fn warn(args: core::fmt::Arguments) {
    crate::pr_warn!("------------[ cut here ]------------");
    crate::pr_warn!("{}", args);
    crate::pr_warn!("CPU: 0 PID: {} Comm: {}", super::sched::current_pid(), super::sched::current_name());
    let mut trace = super::printk::log_writer(super::printk::KERN_WARNING);
    let _ = writeln!(trace, "Call Trace:");
    // The chain from our own frame starts at our caller, at the return
    // address: not at `warn` itself, and with Linux's offset.
    write_call_trace(&mut trace, cpu::read_ebp());
    crate::pr_warn!("---[ end trace ]---");
}
