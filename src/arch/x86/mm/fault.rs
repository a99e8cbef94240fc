//! The page-fault handler (Linux's arch/x86/mm/fault.c).
//!
//! In Linux 2.6.24's order: the faulting address is read from CR2 first,
//! with interrupts still off (an interrupt handler that faulted would
//! overwrite it). A kernel fault on a vmalloc address may only mean this
//! page directory lacks a PDE the reference one has (`vmalloc_fault` copies
//! it and the access is retried); that is done with interrupts still off.
//! Any other fault on a kernel address goes straight to `no_context`. For
//! a user address, interrupts come back on if the faulting context had
//! them (the handler may then run long, and will sleep once demand paging
//! exists); a fault taken where faults must not be handled
//! (`pagefault_disable`, interrupt context, interrupts off) goes straight
//! to `no_context`, and so does every other for now: demand paging comes
//! with processes. `no_context` resumes an instruction listed in the
//! exception table at its fixup (a user copy returning `-EFAULT`); every
//! other kernel fault is a bug and ends in an oops.

use super::super::cpu::{irqs_enabled, local_irq_disable, local_irq_enable, read_cr2, EFLAGS_IF};
use super::super::lib::{
    extable::{fixup_exception, search_exception_tables},
    uaccess::pagefault_disabled,
};
use crate::arch::x86::kernel::traps::{self, oops_body_cr2, TrapFrame};
use crate::mm::memory::{handle_user_fault, Access, FaultError};
use crate::mm::mm_types::current_mm;
use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Faults whose handler turned interrupts back on (the faulting context had
/// them on): for tests.
pub static FAULTS_WITH_IRQS_ON: AtomicUsize = AtomicUsize::new(0);
/// Faults on user addresses taken while faults must not be handled
/// (`faulthandler_disabled`): sent to the fixup without a try.
pub static FAULTS_IN_ATOMIC: AtomicUsize = AtomicUsize::new(0);

/// Error-code bits pushed by the CPU with #PF.
pub const PF_PROT: u32 = 1 << 0; // 0: page not present, 1: protection violation
pub const PF_WRITE: u32 = 1 << 1;
pub const PF_USER: u32 = 1 << 2;
pub const PF_RSVD: u32 = 1 << 3;
pub const PF_INSTR: u32 = 1 << 4;

/// Hand #PF to `do_page_fault`, and #GP/#NP in the kernel to the exception
/// table (the trap code, a layer below, only dispatches). Called at boot,
/// right after the IDT is loaded.
pub fn init() {
    traps::set_page_fault_handler(do_page_fault);
    traps::set_exception_fixup(fixup_exception);
}

/// Whether a fault on a user address must not be handled, only fixed up
/// (Linux's `faulthandler_disabled()`): faults disabled by `kmap_atomic` and
/// friends, or a context that may not sleep.
#[inline]
pub fn faulthandler_disabled() -> bool {
    pagefault_disabled() || crate::kernel::preempt::in_atomic()
}

pub fn do_page_fault(frame: &mut TrapFrame) {
    // First, before anything can fault or interrupts come back on.
    let address = read_cr2() as usize;
    if address >= crate::layout::TASK_SIZE && frame.from_user() {
        // Ring 3 reaching for the kernel's half: a bad access, nothing
        // to look up (Linux's bad_area_nosemaphore).
        if frame.eflags & EFLAGS_IF != 0 {
            local_irq_enable();
        }
        return bad_area(frame, address, FaultError::NoVma);
    }
    if address >= crate::layout::TASK_SIZE {
        // A kernel access to vmalloc space through a page directory that
        // has not seen the area's page table yet: copy the PDE and retry.
        // Done with interrupts off, so the PDE copy is not interrupted.
        let vmalloc_space = (crate::mm::mmzone::vmalloc_start()..crate::layout::VMALLOC_END).contains(&address);
        if vmalloc_space
            && frame.error_code & (PF_USER | PF_PROT | PF_RSVD) == 0
            && crate::mm::vmalloc::vmalloc_fault(address)
        {
            return;
        }
        // Linux's bad_area_nosemaphore: nothing to handle for a kernel address.
        return no_context(frame, address);
    }
    // CR2 is saved: an interrupt may come now, if the faulting code took them.
    if frame.eflags & EFLAGS_IF != 0 {
        local_irq_enable();
        if irqs_enabled() {
            FAULTS_WITH_IRQS_ON.fetch_add(1, Ordering::Relaxed);
        }
    }
    if faulthandler_disabled() {
        FAULTS_IN_ATOMIC.fetch_add(1, Ordering::Relaxed);
        return no_context(frame, address);
    }
    // A kernel thread has no user address space to fault into.
    let Some(mm) = current_mm() else { return no_context(frame, address) };
    let access = Access {
        write: frame.error_code & PF_WRITE != 0,
        user_esp: frame.from_user().then_some(frame.user_esp as usize),
    };
    let result = {
        // `mmap_sem`, taken as Linux's do_page_fault takes it: a try first
        // (`mmap_read_trylock`), which in the usual case skips
        // `Mutex::lock`'s might_sleep check (the test of
        // `faulthandler_disabled` above has just made it). When the try
        // fails, a kernel-mode fault at an instruction with no exception
        // table entry is a kernel bug, not a user copy: it may be this
        // thread that holds the lock, so it oopses at once instead of
        // sleeping on it for ever (Linux: `!user_mode(regs) &&
        // !search_exception_tables(regs->ip)` -> `bad_area_nosemaphore`).
        let mut ctx = match mm.mmap.try_lock() {
            Some(ctx) => ctx,
            None => {
                if !frame.from_user() && search_exception_tables(frame.eip as usize).is_none() {
                    return no_context(frame, address);
                }
                mm.mmap.lock()
            }
        };
        // A count the area list keeps: no walk of the areas here.
        mm.total_vm_at_fault.store(ctx.vmas.total_vm(), Ordering::Relaxed);
        handle_user_fault(&mm, &mut ctx, address, access, frame.error_code & PF_PROT == 0)
    };
    match result {
        Ok(()) => {}
        Err(e) => bad_area(frame, address, e),
    }
}

/// Faults that ended in a signal (for tests and reports).
pub static USER_SEGVS: AtomicUsize = AtomicUsize::new(0);

/// A fault that cannot be served: from ring 3, the process gets SIGSEGV
/// (when it was memory that ran out, the OOM killer chooses a victim and
/// the fault is taken again), with Linux's line in the log
/// (`show_signal_msg`); from the kernel (a user copy), the exception
/// table's fixup, or an oops.
fn bad_area(frame: &mut TrapFrame, address: usize, why: FaultError) {
    if !frame.from_user() {
        return no_context(frame, address);
    }
    let pid = crate::kernel::sched::current_pid();
    let name = crate::kernel::sched::current_name();
    if why == FaultError::Oom {
        // Linux's pagefault_out_of_memory: kill something, take the fault
        // again. Only when nothing could be killed does the faulting
        // process go itself.
        if crate::mm::oom_kill::pagefault_out_of_memory() {
            return;
        }
        crate::pr_err!("Out of memory: killed process {} ({}): no page for a fault at {:x}", pid, name, address);
        let _ = crate::kernel::sched::send_signal(pid, crate::kernel::sched::SIGKILL);
        return;
    }
    if why == FaultError::Sigbus {
        // The page's data is on a swap disk that failed to read it back.
        crate::pr_err!("{}[{}]: bus error (swap read failed) at {:x} ip {:08x}", name, pid, address, frame.eip);
        let _ = crate::kernel::sched::send_signal(pid, crate::kernel::signal_names::SIGBUS);
        return;
    }
    USER_SEGVS.fetch_add(1, Ordering::Relaxed);
    crate::pr_info!(
        "{}[{}]: segfault at {:x} ip {:08x} sp {:08x} error {:x}",
        name,
        pid,
        address,
        frame.eip,
        frame.user_esp,
        frame.error_code
    );
    let _ = crate::kernel::sched::send_signal(pid, crate::kernel::signal_names::SIGSEGV);
}

/// A fault the kernel will not handle (Linux's `no_context`): a kernel-mode
/// access listed in the exception table resumes at its fixup; anything else
/// is an oops. `address` is the CR2 saved on entry (an interrupt taken since
/// may have faulted and changed CR2).
fn no_context(frame: &mut TrapFrame, address: usize) {
    if !frame.from_user() && fixup_exception(frame) {
        return;
    }
    local_irq_disable();
    let vmalloc_space = (crate::mm::mmzone::vmalloc_start()..crate::layout::VMALLOC_END).contains(&address);
    let mut out = crate::kernel::printk::oops_begin();
    let _ = writeln!(out, "BUG: unable to handle page fault for address: {:08x}", address);
    describe_error_code(&mut out, frame.error_code);
    if vmalloc_space {
        crate::mm::vmalloc::describe(address, &mut out);
    }
    write_pte_walk(&mut out, address);
    let _ = writeln!(out, "Oops: {:04x} [#1]", frame.error_code);
    oops_body_cr2(&mut out, frame, address as u32);
    crate::kernel::panic::oops_end(&mut out, "Fatal exception")
}

/// `#PF: supervisor write access in kernel mode` and `#PF: error_code(...)`.
pub fn describe_error_code(out: &mut impl Write, code: u32) {
    let who = if code & PF_USER != 0 { "user" } else { "supervisor" };
    let access = if code & PF_INSTR != 0 {
        "instruction fetch"
    } else if code & PF_WRITE != 0 {
        "write access"
    } else {
        "read access"
    };
    let mode = if code & PF_USER != 0 { "user" } else { "kernel" };
    let _ = writeln!(out, "#PF: {} {} in {} mode", who, access, mode);
    let why = if code & PF_RSVD != 0 {
        "reserved bit violation"
    } else if code & PF_PROT != 0 {
        "permissions violation"
    } else {
        "not-present page"
    };
    let _ = writeln!(out, "#PF: error_code(0x{:04x}) - {}", code, why);
}

/// `*pde = ...` and, when there is a page table, `*pte = ...`, read from the
/// current page directory; a user page table in highmem (HIGHPTE) is read
/// through a free pte `kmap_atomic` slot, or named by its physical address
/// when mapping it could be what failed (`mm::highpte::show_pte` says when).
fn write_pte_walk(out: &mut impl Write, address: usize) {
    // SAFETY: CR3 holds the running page directory (in lowmem), whose page
    // tables are page tables; the walk only reads entries.
    let shown = unsafe { crate::mm::highpte::show_pte(super::super::cpu::read_cr3() & !0xfff, address) };
    let _ = writeln!(out, "{}", shown);
}
