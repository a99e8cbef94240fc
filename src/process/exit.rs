//! A process's end and its parent's wait (Linux's kernel/exit.c).
//!
//! `do_exit` gives everything back at once: the address space (every
//! page, page table and area, when this was its last user), the FPU state
//! and, through the scheduler, the thread; its children go to init. What
//! remains is the table entry with the wait status (a zombie) until the
//! parent's `wait4` collects it, which also waits for the thread's stack
//! to be freed: when `wait4` returns, the child's memory is all back.
//!
//! Wait statuses are Linux's: `(code & 0xff) << 8` for an exit, the signal
//! number for a kill (bit 7 would say "core dumped": no core files here),
//! `(sig << 8) | 0x7f` for a stop, `0xffff` for a continue.

use super::kthread;
use super::task::{self, child_event, INIT_PID, PROCS};
use crate::kernel::sched;
use crate::kernel::wait::Interrupted;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

pub const WNOHANG: u32 = 1;
pub const WUNTRACED: u32 = 2;
pub const WCONTINUED: u32 = 8;
/// `__WALL` and `__WCLONE`, accepted (threads are not built).
pub const WALL_WCLONE: u32 = 0x4000_0000 | 0x8000_0000;
/// `__WNOTHREAD`.
pub const WNOTHREAD: u32 = 0x2000_0000;

/// The wait status of an exit with `code`.
pub const fn exit_status(code: u32) -> u32 {
    (code & 0xff) << 8
}

/// End the calling process with wait status `status` (Linux's `do_exit`).
/// Never returns.
pub fn do_exit(status: u32) -> ! {
    let pid = sched::current_pid();
    let me = task::find(pid);
    if let Some(me) = &me {
        let (ctid, mm) = {
            let mut inner = me.inner.lock();
            (core::mem::take(&mut inner.clear_child_tid), inner.mm.take())
        };
        if ctid != 0 {
            // Linux's mm_release: a bad address is ignored (no futex to wake).
            let _ = crate::arch::x86::lib::uaccess::put_user(0u32, ctid as usize);
        }
        // The thread's reference first (CR3 leaves the directory), then
        // ours: the last one gives back every page, table and area.
        sched::unuse_mm();
        drop(mm);
        let mut gone: Vec<task::ProcRef> = Vec::new();
        {
            let mut table = PROCS.lock();
            // Orphans go to init, which reaps them: a zombie one now,
            // the others when they exit.
            for child in table.iter().filter(|c| c.ppid() == pid) {
                child.reparent(INIT_PID);
            }
            table.retain(|p| {
                let reap = p.is_zombie() && p.inner.lock().reap_on_exit;
                if reap {
                    gone.push(p.clone());
                }
                !reap
            });
            let mut inner = me.inner.lock();
            inner.exit_status = Some(status);
            if inner.reap_on_exit {
                drop(inner);
                if let Some(i) = table.iter().position(|p| p.pid() == pid) {
                    gone.push(table.remove(i));
                }
            }
            release_if_empty(&mut table);
        }
        drop(gone);
        child_event();
    }
    drop(me);
    sched::do_exit()
}

/// An empty process table gives its memory back, so the slab counts after
/// a workload are what they were before it.
fn release_if_empty(table: &mut Vec<task::ProcRef>) {
    if table.is_empty() {
        *table = Vec::new();
    }
}

/// Which children a wait is for (`wait4`'s `pid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitFor {
    /// `-1`, and `0` or `< -1` (process groups: there are none, every
    /// child is in the caller's).
    Any,
    Pid(u32),
}

/// Why a wait returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitError {
    /// No child matches (`ECHILD`).
    NoChild,
    /// A signal came (`EINTR`).
    Interrupted,
}

/// Linux's `do_wait` for the calling task's children: the pid and wait
/// status of one that exited (collected: it leaves the table, its thread's
/// stack freed), or stopped or continued (reported once, with `WUNTRACED`
/// or `WCONTINUED`). `Ok(None)` with `WNOHANG` when none has. Sleeps
/// otherwise, until a child changes or a signal comes.
pub fn do_wait(which: WaitFor, options: u32) -> Result<Option<(u32, u32)>, WaitError> {
    let me = sched::current_pid();
    loop {
        let seen = task::CHILD_EVENTS.load(Ordering::Relaxed);
        {
            let mut table = PROCS.lock();
            let mine = |p: &task::Process| p.ppid() == me && (which == WaitFor::Any || which == WaitFor::Pid(p.pid()));
            if !table.iter().any(|p| mine(p)) {
                return Err(WaitError::NoChild);
            }
            let mut found = None;
            for (i, p) in table.iter().enumerate().filter(|(_, p)| mine(p)) {
                let mut inner = p.inner.lock();
                if let Some(status) = inner.exit_status {
                    found = Some((Some(i), p.pid(), status));
                    break;
                }
                if options & WUNTRACED != 0 {
                    if let Some(sig) = inner.stop_report.take() {
                        found = Some((None, p.pid(), (sig << 8) | 0x7f));
                        break;
                    }
                }
                if options & WCONTINUED != 0 && core::mem::take(&mut inner.cont_report) {
                    found = Some((None, p.pid(), 0xffff));
                    break;
                }
            }
            if let Some((reap, pid, status)) = found {
                let gone = reap.map(|i| table.remove(i));
                release_if_empty(&mut table);
                drop(table);
                if gone.is_some() {
                    // The zombie's thread is exiting or gone: wait for it,
                    // so its stack is back too when wait returns.
                    kthread::kthread_wait(pid);
                }
                drop(gone);
                return Ok(Some((pid, status)));
            }
        }
        if options & WNOHANG != 0 {
            return Ok(None);
        }
        task::CHILD_WQ
            .wait_event_interruptible(|| task::CHILD_EVENTS.load(Ordering::Relaxed) != seen)
            .map_err(|Interrupted| WaitError::Interrupted)?;
    }
}

/// Wait for child `pid` of the calling (kernel) thread to end, and
/// collect it: its wait status, `None` if it is not a child.
pub fn wait_pid(pid: u32) -> Option<u32> {
    loop {
        match do_wait(WaitFor::Pid(pid), 0) {
            Ok(Some((_, status))) => return Some(status),
            Ok(None) => {}
            Err(WaitError::NoChild) => return None,
            // A kernel thread takes no signals; should one come, wait on.
            Err(WaitError::Interrupted) => {}
        }
    }
}
