//! Signals with their default actions only (Linux's kernel/signal.c
//! without handlers): a signal is made pending on the target's thread
//! (`sched::send_signal`, which also wakes an interruptible sleep and
//! resumes a stopped process for SIGCONT and SIGKILL), and is acted on when
//! the thread next returns to ring 3 (`do_signal`): most end the process,
//! the stop signals stop it until SIGCONT, SIGCHLD, SIGCONT, SIGURG and
//! SIGWINCH are ignored.
//!
//! CPU exceptions in ring 3 become signals too (`user_trap`, Linux's
//! `do_trap`): a divide error SIGFPE, an invalid opcode SIGILL, a general
//! protection fault SIGSEGV, with Linux's line in the log. Bad page
//! faults are sent SIGSEGV by the fault handler (`arch::x86::mm::fault`).
//!
//! SIGCHLD is not sent to the parent: its default action is to ignore it,
//! and Linux drops an ignored signal when it is sent.

use super::exit;
use super::task;
use crate::arch::x86::cpu::{irqs_enabled, local_irq_disable, local_irq_enable};
use crate::arch::x86::kernel::traps::TrapFrame;
use crate::kernel::sched::{self, SignalError, IGNORED_SIGNALS, STOP_SIGNALS};
use crate::kernel::signal_names::{
    SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGQUIT, SIGSEGV, SIGSYS, SIGTRAP, SIGXCPU, SIGXFSZ,
};

/// What a signal does when nobody handles it (Linux's `sig_kernel_*`
/// sets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    /// Terminate, with a core dump where core files are made (none here:
    /// the wait status has no core bit).
    Core,
    Ignore,
    Stop,
}

pub fn default_action(sig: u32) -> DefaultAction {
    match sig {
        s if IGNORED_SIGNALS & (1 << s) != 0 => DefaultAction::Ignore,
        s if STOP_SIGNALS & (1 << s) != 0 => DefaultAction::Stop,
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGXCPU | SIGXFSZ | SIGSYS => {
            DefaultAction::Core
        }
        _ => DefaultAction::Terminate,
    }
}

/// Why `kill` refused (Linux's errno).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillError {
    /// Not a signal number (`EINVAL`).
    BadSignal,
    /// No such process (`ESRCH`).
    NoProcess,
}

/// Send `sig` to process `pid` (Linux's `kill_pid_info`); signal 0 only
/// checks that it exists. A zombie exists but takes no signal; a kernel
/// thread's pid is accepted and nothing happens (Linux's kernel threads
/// ignore signals).
pub fn kill(pid: u32, sig: u32) -> Result<(), KillError> {
    if sig > 31 {
        return Err(KillError::BadSignal);
    }
    let target = task::find(pid);
    let Some(target) = target else {
        return if sched::pid_alive(pid) { Ok(()) } else { Err(KillError::NoProcess) };
    };
    if sig == 0 || target.is_zombie() {
        return Ok(());
    }
    match sched::send_signal(pid, sig) {
        Ok(()) => Ok(()),
        Err(SignalError::BadSignal) => Err(KillError::BadSignal),
        // Exiting right now: as good as gone.
        Err(SignalError::NoSuchTask) => Ok(()),
    }
}

/// What a system call interrupted by a signal returns inside the kernel
/// (Linux's include/linux/errno.h): never seen by user space. With no
/// handlers, every interrupted call is restarted once the signal is dealt
/// with (a stop, then SIGCONT): `do_signal` backs EIP up over `int $0x80`
/// and puts the call's number back in EAX, or `restart_syscall`'s (0) for a
/// call that resumes from saved state (`nanosleep` to its deadline).
pub const ERESTARTSYS: i32 = 512;
pub const ERESTARTNOINTR: i32 = 513;
pub const ERESTARTNOHAND: i32 = 514;
pub const ERESTART_RESTARTBLOCK: i32 = 516;
/// `restart_syscall`'s number.
pub const NR_RESTART_SYSCALL: u32 = 0;

/// On the way back to ring 3 (registered with traps): act on the pending
/// signals, then restart the system call they interrupted. Interrupts
/// come in off and are off when this returns, so a signal sent after the
/// test below is seen by it or sent before the next one (Linux's
/// `exit_to_user_mode_prepare`, which tests `TIF_SIGPENDING` with
/// interrupts off).
pub fn do_signal(frame: &mut TrapFrame) {
    debug_assert!(!irqs_enabled(), "the return-to-user test runs with interrupts off");
    // Every return to ring 3 asks; almost none has a signal to act on.
    if sched::signal_pending() {
        handle_signals(frame);
    }
}

/// `do_signal`'s work when a signal is pending (out of line: the test
/// above is every trap's, this is rare). Linux's `exit_to_user_mode_loop`:
/// the work is done with interrupts on (a stop sleeps, an exit takes
/// locks), then they go off and the test is made again, until it finds
/// nothing; a signal sent while the work ran is taken before ring 3.
#[inline(never)]
fn handle_signals(frame: &mut TrapFrame) {
    loop {
        local_irq_enable();
        while let Some(sig) = sched::dequeue_signal() {
            match default_action(sig) {
                DefaultAction::Ignore => {}
                DefaultAction::Stop => do_signal_stop(sig),
                DefaultAction::Terminate | DefaultAction::Core => exit::do_exit(sig),
            }
        }
        restart_interrupted_syscall(frame);
        local_irq_disable();
        if !sched::signal_pending() {
            return;
        }
    }
}

/// Back `frame` up over the system call a signal interrupted, so it runs
/// again (Linux's no-handler case of `arch_do_signal_or_restart`). A frame
/// already backed up holds the call's number, not an -ERESTART* code, so
/// a second pass of the loop leaves it alone.
fn restart_interrupted_syscall(frame: &mut TrapFrame) {
    if frame.vector as usize == crate::arch::x86::kernel::traps::SYSCALL_VECTOR {
        // `int $0x80` is two bytes; the call's number was kept in the
        // frame's error code (Linux's `orig_eax`).
        match -(frame.eax as i32) {
            ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND => {
                frame.eax = frame.error_code;
                frame.eip = frame.eip.wrapping_sub(2);
            }
            ERESTART_RESTARTBLOCK => {
                frame.eax = NR_RESTART_SYSCALL;
                frame.eip = frame.eip.wrapping_sub(2);
            }
            _ => {}
        }
    }
}

/// Stop until SIGCONT (or SIGKILL), telling the parent both ways.
fn do_signal_stop(sig: u32) {
    let me = task::current();
    if let Some(p) = &me {
        p.inner.lock().stop_report = Some(sig);
    }
    task::child_event();
    sched::stop_current();
    if let Some(p) = &me {
        let mut inner = p.inner.lock();
        inner.stop_report = None;
        inner.cont_report = true;
    }
    task::child_event();
}

/// A CPU exception in ring 3 (registered with traps): the signal Linux's
/// `do_trap` sends, and its line in the log (`traps: NAME[PID] ...`).
pub fn user_trap(frame: &mut TrapFrame, what: &'static str) {
    let sig = match frame.vector {
        0 | 16 | 19 => SIGFPE,
        1 | 3 => SIGTRAP,
        6 => SIGILL,
        17 => SIGBUS,
        _ => SIGSEGV,
    };
    let pid = sched::current_pid();
    let name = sched::current_name();
    if sig == SIGSEGV && frame.vector == 13 {
        crate::pr_info!(
            "traps: {}[{}] general protection fault ip:{:x} sp:{:x} error:{:x}",
            name,
            pid,
            frame.eip,
            frame.user_esp,
            frame.error_code
        );
    } else if sig != SIGTRAP {
        crate::pr_info!(
            "traps: {}[{}] trap {} ip:{:x} sp:{:x} error:{:x}",
            name,
            pid,
            what,
            frame.eip,
            frame.user_esp,
            frame.error_code
        );
    }
    let _ = sched::send_signal(pid, sig);
}
