//! The interrupt descriptor table, the common trap dispatcher, and `die()`:
//! the oops report for a fault the kernel cannot handle (Linux's
//! arch/x86/kernel/traps.c and dumpstack.c). Layer 2: it prints and asks
//! the scheduler who was running; the machine's part (descriptor formats,
//! `lidt`) is the `x86` crate's.

use crate::arch::x86::cpu::{local_irq_disable, read_cr0, read_cr2, read_cr3, read_cr4};
use crate::arch::x86::gdt::{self, DF_TSS_SEL, KERNEL_CS};
use crate::arch::x86::pic::{self, IRQ_BASE, NR_IRQS};
use core::fmt::Write;
use core::ptr::{addr_of, addr_of_mut};
use core::sync::atomic::{AtomicUsize, Ordering};
use x86::dtables::{lidt, DescriptorTablePointer};
use x86::segmentation::{
    BuildDescriptor, Descriptor, DescriptorBuilder, GateDescriptorBuilder, SegmentSelector, TaskGateDescriptorBuilder,
};
use x86::Ring;

/// What `trap_common` (entry.S) pushes, lowest address first.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TrapFrame {
    pub gs: u32,
    pub fs: u32,
    pub es: u32,
    pub ds: u32,
    pub edi: u32,
    pub esi: u32,
    pub ebp: u32,
    pub esp_at_pusha: u32,
    pub ebx: u32,
    pub edx: u32,
    pub ecx: u32,
    pub eax: u32,
    pub vector: u32,
    pub error_code: u32,
    pub eip: u32,
    pub cs: u32,
    pub eflags: u32,
    /// Only present when the trap came from ring 3.
    pub user_esp: u32,
    pub user_ss: u32,
}

impl TrapFrame {
    pub fn from_user(&self) -> bool {
        self.cs & 3 == 3
    }

    /// The stack pointer of the interrupted code: a trap from ring 0 does not
    /// push ESP/SS, so it is just above the frame's EFLAGS.
    pub fn interrupted_esp(&self) -> u32 {
        if self.from_user() {
            self.user_esp
        } else {
            (addr_of!(self.eflags) as usize + 4) as u32
        }
    }
}

/// Exception names, as Linux prints them in an oops.
const EXCEPTION_NAMES: [&str; 32] = [
    "divide error",
    "debug",
    "nmi",
    "int3",
    "overflow",
    "bounds",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack segment",
    "general protection fault",
    "page fault",
    "spurious interrupt bug",
    "coprocessor error",
    "alignment check",
    "machine check",
    "simd exception",
    "virtualization exception",
    "control protection",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "vmm communication",
    "security exception",
    "reserved",
];

static mut IDT: [Descriptor; 256] = [Descriptor::NULL; 256];

extern "C" {
    static trap_vectors: [usize; 48];
    static trap_syscall_vector: usize;
}

/// A 32-bit interrupt gate (IF cleared on entry) at privilege `dpl`.
fn interrupt_gate(handler: usize, dpl: Ring) -> Descriptor {
    <DescriptorBuilder as GateDescriptorBuilder<u32>>::interrupt_descriptor(
        SegmentSelector::from_raw(KERNEL_CS),
        handler as u32,
    )
    .present()
    .dpl(dpl)
    .finish()
}

/// A task gate: the CPU switches to the TSS named by `selector`.
fn task_gate(selector: u16) -> Descriptor {
    DescriptorBuilder::task_gate_descriptor(SegmentSelector::from_raw(selector)).present().finish()
}

pub const SYSCALL_VECTOR: usize = 0x80;

pub fn init() {
    // SAFETY: runs once, before interrupts are enabled; the stubs in entry.S
    // stay valid for the kernel's life.
    unsafe {
        let idt = &mut *addr_of_mut!(IDT);
        for (vector, &handler) in trap_vectors.iter().enumerate() {
            idt[vector] = interrupt_gate(handler, Ring::Ring0);
        }
        idt[3] = interrupt_gate(trap_vectors[3], Ring::Ring3); // int3 allowed from user mode
        idt[8] = task_gate(DF_TSS_SEL);
        idt[SYSCALL_VECTOR] = interrupt_gate(trap_syscall_vector, Ring::Ring3);
        lidt(&DescriptorTablePointer::new(&*addr_of!(IDT)));
    }
}

/// Gate `vector` of the IDT as loaded, raw (for the test that holds the
/// gates to the values Linux's i386 IDT has).
pub fn idt_raw(vector: usize) -> u64 {
    // SAFETY: written once by `init`, before anyone can call this.
    unsafe { (*addr_of!(IDT))[vector].as_u64() }
}

/// The page-fault handler: memory management's (`arch::x86::mm::fault`, a
/// layer above), which registers it at boot (`set_page_fault_handler`);
/// traps only dispatch. Linux wires vector 14 to `do_page_fault` directly
/// (`trap_init`); registering it is this kernel's device to keep traps
/// below mm, as IRQ handlers are registered with `request_irq`. Until then
/// a page fault is an oops like any other exception.
pub type PageFaultHandler = fn(&mut TrapFrame);

static PAGE_FAULT_HANDLER: spin::Once<PageFaultHandler> = spin::Once::new();

pub fn set_page_fault_handler(handler: PageFaultHandler) {
    PAGE_FAULT_HANDLER.call_once(|| handler);
}

/// The exception table's lookup (`arch::x86::lib::extable`'s
/// `fixup_exception`, a layer above), registered with the page-fault
/// handler: a #GP or #NP in ring 0 at a listed instruction (restore_all's
/// pops of user segment selectors) resumes at its fixup, as Linux's
/// `do_general_protection` tries `fixup_exception` before it oopses.
pub type FixupHandler = fn(&mut TrapFrame) -> bool;

static FIXUP_HANDLER: spin::Once<FixupHandler> = spin::Once::new();

pub fn set_exception_fixup(handler: FixupHandler) {
    FIXUP_HANDLER.call_once(|| handler);
}

/// The system-call handler (`int $0x80`): the process layer's
/// `sys_call_table` dispatch, registered at boot (`set_syscall_handler`),
/// as the page-fault handler is, so that traps stay below the layers that
/// implement system calls. It reads the number and arguments from the frame
/// and writes the result into its `eax`. Until one is registered, `int
/// $0x80` returns `-ENOSYS`.
pub type SyscallHandler = fn(&mut TrapFrame);

static SYSCALL_HANDLER: spin::Once<SyscallHandler> = spin::Once::new();

pub fn set_syscall_handler(handler: SyscallHandler) {
    SYSCALL_HANDLER.call_once(|| handler);
}

/// What runs on every way back to ring 3 (Linux's `exit_to_user_mode` /
/// `do_notify_resume`): the process layer's signal delivery, registered
/// with the system calls. Called with interrupts off and must return
/// with them off; it may turn them on for its work, sleep (a stopped
/// process) or never return (a killed one).
pub type ResumeUserHandler = fn(&mut TrapFrame);

static RESUME_USER_HANDLER: spin::Once<ResumeUserHandler> = spin::Once::new();

pub fn set_resume_user_handler(handler: ResumeUserHandler) {
    RESUME_USER_HANDLER.call_once(|| handler);
}

/// A CPU exception raised by ring-3 code (not a page fault, which has its
/// own handler): the process layer turns it into a signal (Linux's
/// `do_trap` with `force_sig`), so the kernel goes on. Until one is
/// registered such an exception is an oops.
pub type UserTrapHandler = fn(&mut TrapFrame, &'static str);

static USER_TRAP_HANDLER: spin::Once<UserTrapHandler> = spin::Once::new();

pub fn set_user_trap_handler(handler: UserTrapHandler) {
    USER_TRAP_HANDLER.call_once(|| handler);
}

/// Linux's errno for a system call that does not exist.
const ENOSYS: i32 = 38;

/// A driver's interrupt handler, run with interrupts off.
pub type IrqHandler = fn();

static IRQ_HANDLERS: [AtomicUsize; NR_IRQS] = [const { AtomicUsize::new(0) }; NR_IRQS];
/// Interrupts taken per IRQ line (for `interrupts`-style reports and tests).
pub static IRQ_COUNTS: [AtomicUsize; NR_IRQS] = [const { AtomicUsize::new(0) }; NR_IRQS];

pub fn request_irq(irq: u8, handler: IrqHandler) {
    IRQ_HANDLERS[irq as usize].store(handler as usize, Ordering::Release);
    pic::unmask(irq);
}

/// `int3` traps taken (they return to the next instruction).
pub static BREAKPOINTS: AtomicUsize = AtomicUsize::new(0);

/// Called by `trap_common` for every vector, with interrupts off (the
/// page-fault handler turns them back on when the faulting code had them).
#[no_mangle]
extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    let vector = frame.vector as usize;
    match vector {
        // restore_all's segment pops (entry.S) are in the exception table.
        11 | 13 if !frame.from_user() && FIXUP_HANDLER.get().is_some_and(|fixup| fixup(frame)) => {}
        14 => match PAGE_FAULT_HANDLER.get() {
            None => die(EXCEPTION_NAMES[vector], frame),
            Some(handler) => handler(frame),
        },
        3 if !frame.from_user() => {
            BREAKPOINTS.fetch_add(1, Ordering::Relaxed);
            crate::pr_info!("int3 at {:#010x}", frame.eip);
        }
        0..=31 => match USER_TRAP_HANDLER.get() {
            Some(handler) if frame.from_user() => handler(frame, EXCEPTION_NAMES[vector]),
            _ => die(EXCEPTION_NAMES[vector], frame),
        },
        32..=47 => handle_irq((vector - IRQ_BASE as usize) as u8),
        SYSCALL_VECTOR => match SYSCALL_HANDLER.get() {
            None => frame.eax = (-ENOSYS) as u32,
            Some(handler) => handler(frame),
        },
        _ => die("unexpected interrupt vector", frame),
    }
    if frame.from_user() {
        // A page fault or system call may have turned interrupts on; the
        // test for work before ring 3 is made with them off (Linux's
        // ret_from_exception: DISABLE_INTERRUPTS before the TIF_WORK
        // test), so a signal an interrupt sends after it cannot be missed
        // until the next trap: restore_all returns with them off.
        local_irq_disable();
        if let Some(handler) = RESUME_USER_HANDLER.get() {
            handler(frame);
        }
    }
}

fn handle_irq(irq: u8) {
    // A spurious IRQ 7/15 (the line dropped before the CPU acknowledged it)
    // has no in-service bit; it must not be acknowledged as a real one.
    if (irq == 7 || irq == 15) && !pic::in_service(irq) {
        if irq == 15 {
            pic::eoi(2);
        }
        return;
    }
    IRQ_COUNTS[irq as usize].fetch_add(1, Ordering::Relaxed);
    crate::kernel::preempt::irq_enter();
    let handler = IRQ_HANDLERS[irq as usize].load(Ordering::Acquire);
    if handler != 0 {
        // SAFETY: only `request_irq` stores here, and it stores an IrqHandler.
        let handler: IrqHandler = unsafe { core::mem::transmute::<usize, IrqHandler>(handler) };
        handler();
    }
    pic::eoi(irq);
    crate::kernel::preempt::irq_exit();
    crate::kernel::sched::preempt_schedule_irq();
}

/// The oops report: what happened, the registers, the call trace; then the
/// machine stops and QEMU exits with a failing status. Never returns.
pub fn die(what: &str, frame: &TrapFrame) -> ! {
    let mut out = crate::kernel::printk::oops_begin();
    let _ = writeln!(out, "{}: {:04x} [#1]", what, frame.error_code);
    oops_body(&mut out, frame);
    crate::kernel::panic::oops_end(&mut out, "Fatal exception")
}

/// Registers and call trace of a trap frame, in Linux's layout.
pub fn oops_body(out: &mut impl Write, f: &TrapFrame) {
    oops_body_at(out, f, f.interrupted_esp(), read_cr2());
}

/// `oops_body` for a page fault: CR2 as the handler saved it on entry.
pub fn oops_body_cr2(out: &mut impl Write, f: &TrapFrame, cr2: u32) {
    oops_body_at(out, f, f.interrupted_esp(), cr2);
}

/// `oops_body` for a frame whose stack pointer is known otherwise (the
/// double-fault task reads it from the TSS).
fn oops_body_at(out: &mut impl Write, f: &TrapFrame, esp: u32, cr2: u32) {
    let _ = writeln!(
        out,
        "CPU: 0 PID: {} Comm: {}",
        crate::kernel::sched::current_pid(),
        crate::kernel::sched::current_name()
    );
    let _ = write!(out, "EIP: ");
    crate::kernel::ksyms::write_symbol(out, f.eip as usize);
    let _ = writeln!(out);
    let _ = writeln!(out, "EAX: {:08x} EBX: {:08x} ECX: {:08x} EDX: {:08x}", f.eax, f.ebx, f.ecx, f.edx);
    let _ = writeln!(out, "ESI: {:08x} EDI: {:08x} EBP: {:08x} ESP: {:08x}", f.esi, f.edi, f.ebp, esp);
    let ss = if f.from_user() { f.user_ss } else { u32::from(gdt::KERNEL_DS) };
    let _ = writeln!(
        out,
        "DS: {:04x} ES: {:04x} FS: {:04x} GS: {:04x} SS: {:04x} EFLAGS: {:08x}",
        f.ds & 0xffff,
        f.es & 0xffff,
        f.fs & 0xffff,
        f.gs & 0xffff,
        ss,
        f.eflags
    );
    let _ = writeln!(out, "CR0: {:08x} CR2: {:08x} CR3: {:08x} CR4: {:08x}", read_cr0(), cr2, read_cr3(), read_cr4());
    let _ = writeln!(out, "Call Trace:");
    crate::kernel::panic::write_backtrace(out, f.eip as usize, f.ebp as usize);
}

/// #DF, reached through the task gate on its own stack (entry.S). The state of
/// the task that faulted was saved by the CPU in the main TSS.
#[no_mangle]
extern "C" fn double_fault_handler() -> ! {
    // SAFETY: the CPU finished writing the main TSS before switching here, and
    // nothing else runs: interrupts are off in this task.
    let tss = unsafe { gdt::interrupted_task_state() };
    let mut out = crate::kernel::printk::oops_begin();
    let esp = tss.esp as usize;
    if let Some((lo, hi)) = crate::kernel::sched::stack_guard_hit(esp) {
        let _ = writeln!(out, "BUG: stack guard page was hit at {:#010x} (stack is {:#010x}..{:#010x})", esp, lo, hi);
        let _ = writeln!(out, "kernel stack overflow (double-fault): 0000 [#1]");
    } else {
        let _ = writeln!(out, "double fault: 0000 [#1]");
    }
    let frame = TrapFrame {
        gs: u32::from(tss.gs),
        fs: u32::from(tss.fs),
        es: u32::from(tss.es),
        ds: u32::from(tss.ds),
        edi: tss.edi,
        esi: tss.esi,
        ebp: tss.ebp,
        esp_at_pusha: 0,
        ebx: tss.ebx,
        edx: tss.edx,
        ecx: tss.ecx,
        eax: tss.eax,
        vector: 8,
        error_code: 0,
        eip: tss.eip,
        cs: u32::from(tss.cs),
        eflags: tss.eflags,
        user_esp: tss.esp,
        user_ss: u32::from(tss.ss),
    };
    // The frames above the overflow are intact; the walk reads only words
    // that lie on a mapped kernel stack.
    oops_body_at(&mut out, &frame, tss.esp, read_cr2());
    crate::kernel::panic::oops_end(&mut out, "Fatal exception")
}

/// Faults on purpose, for the `crash` command and the tests that check the
/// reports. Each never returns: the oops ends the machine.
pub mod provoke {
    use core::arch::asm;

    pub fn page_fault() -> ! {
        // SAFETY: deliberately unsound: a write to an unmapped user address
        // from kernel mode, to show the page-fault oops.
        unsafe { core::ptr::write_volatile(0x0000_0010 as *mut u32, 0xdead_beef) };
        unreachable!("write to an unmapped page did not fault")
    }

    pub fn divide_error() -> ! {
        // SAFETY: `div` by zero raises #DE before it changes anything.
        unsafe { asm!("xor edx, edx", "div ecx", in("eax") 1, in("ecx") 0, out("edx") _) };
        unreachable!("division by zero did not trap")
    }

    pub fn invalid_opcode() -> ! {
        // SAFETY: `ud2` raises #UD and changes nothing.
        unsafe { asm!("ud2") };
        unreachable!("ud2 did not trap")
    }

    pub fn general_protection() -> ! {
        // SAFETY: loading a selector beyond the GDT limit raises #GP before
        // DS changes.
        unsafe { asm!("mov ds, {0:x}", in(reg) 0x1238u32) };
        unreachable!("bad selector did not trap")
    }

    /// An interrupt-masking lock taken again under itself (what an
    /// allocation inside `with_node_mem_map` did): reported as spinlock recursion
    /// and a panic, not a silent hang.
    pub fn lock_recursion() -> ! {
        static LOCK: crate::kernel::sync::IrqLock<u32> = crate::kernel::sync::IrqLock::new(0);
        let outer = LOCK.lock();
        let inner = LOCK.lock();
        unreachable!("IrqLock taken twice: {} {}", *outer, *inner)
    }
}
