//! The OOM killer's hands (Linux's mm/oom_kill.c `out_of_memory`,
//! `oom_kill_process`, `dump_header`, `dump_tasks`): the walk over the
//! process table, the report, the SIGKILL, and the wait for the victim's
//! memory. The policy and the report's lines are `mm::oom_kill`'s (pure);
//! this file registers itself there at boot, since mm, a layer below, cannot
//! name processes.
//!
//! Nothing here allocates: it runs when memory is gone, maybe inside the
//! allocator on behalf of a Rust collection. Locks: Linux's `oom_lock`
//! ([`OOM_LOCK`]) makes one task at a time choose; the others sleep a tick
//! and retry their allocation. The table lock and each mm's `mmap` lock are
//! only tried, never waited for: the allocating task may hold them itself
//! (a fork filing its child, a fault in progress).
//!
//! After a kill the allocating task sleeps until the victim has exited (its
//! pages are back), in 10 ms steps, and retries; the victim wakes from an
//! interruptible sleep or a stop to take its SIGKILL (`sched::send_signal`),
//! and an allocation of its own fails at once (`fatal_signal_pending`), so
//! it gets to `do_exit`. Linux 6.1 adds the OOM reaper, which frees a stuck
//! victim's anonymous memory from outside; there is none here.

use super::task::{self, ProcRef, PROCS};
use crate::kernel::printk::{log_writer, LineBuf, KERN_INFO, KERN_WARNING};
use crate::kernel::sched;
use crate::layout::PAGE_SIZE;
use crate::mm::oom_kill::{
    oom_badness, oom_policy, proc_oom_score, select_bad_process, write_killed, write_oom_summary, write_task_row,
    Chosen, InvokedLine, OomControl, OomMm, OomOutcome, OomTask, Policy, SYSCTL_OOM_DUMP_TASKS, TASKS_HEADER,
    TASKS_TITLE,
};
use crate::mm::vmstat::{count_vm_event, VmEvent, TOTAL_SWAP_PAGES};
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Linux's `oom_lock`.
static OOM_LOCK: AtomicBool = AtomicBool::new(false);
/// Processes killed by the OOM killer (for tests; `oom_kill` in vmstat
/// counts the same).
pub static OOM_KILLS: AtomicUsize = AtomicUsize::new(0);

/// Register with mm (boot, before the shell).
pub fn init() {
    crate::mm::oom_kill::set_oom_handler(out_of_memory);
}

/// Linux's `totalram_pages() + total_swap_pages`.
fn totalpages() -> u64 {
    crate::mm::mmzone::node().managed_total() + TOTAL_SWAP_PAGES.load(Ordering::Relaxed) as u64
}

/// What the OOM killer sees of process `p`. Its mm's area list is only
/// tried: a fault in progress holds it (perhaps the caller's own), and then
/// the size that fault found is used.
fn view(p: &ProcRef) -> OomTask<'_> {
    let (mm, exited) = {
        let inner = p.inner.lock();
        (inner.mm.clone(), inner.exit_status.is_some())
    };
    let mm = mm.map(|mm| OomMm {
        // A task in its own fault: the size the fault found.
        total_vm: mm.mmap.try_lock().map(|ctx| ctx.vmas.total_vm()).or_else(|| {
            let at_fault = mm.total_vm_at_fault.load(Ordering::Relaxed);
            (at_fault != 0).then_some(at_fault)
        }),
        anon_rss: mm.rss.load(Ordering::Relaxed),
        file_rss: 0,
        shmem_rss: 0,
        swapents: mm.swapents.load(Ordering::Relaxed),
        pgtables_bytes: mm.nr_ptes() * PAGE_SIZE,
    });
    OomTask {
        pid: p.pid(),
        uid: 0,
        comm: p.comm(),
        mm,
        oom_score_adj: p.oom_score_adj(),
        oom_victim: p.is_oom_victim(),
        exited,
    }
}

/// `/proc/PID/oom_score` of `p`.
pub fn oom_score(p: &ProcRef) -> u64 {
    let total = totalpages();
    proc_oom_score(oom_badness(&view(p), total), total)
}

/// One decision of the walk `out_of_memory` makes, over the whole process
/// table, without the kill: the lock, `totalpages` and
/// `select_bad_process` (for `make bench`). `None` when the table is busy.
pub fn select_bad_process_now() -> Option<Chosen> {
    let table = PROCS.try_lock()?;
    Some(select_bad_process(table.iter().map(view), totalpages()))
}

/// Releases `OOM_LOCK` on every way out.
struct OomLockGuard;

impl Drop for OomLockGuard {
    fn drop(&mut self) {
        OOM_LOCK.store(false, Ordering::Release);
    }
}

/// The hook mm calls (`mm::oom_kill::out_of_memory`).
fn out_of_memory(oc: &OomControl) -> OomOutcome {
    // Linux's __alloc_pages_may_oom: someone else is choosing; let them,
    // and retry the allocation after a tick.
    if OOM_LOCK.swap(true, Ordering::Acquire) {
        sched::msleep(1);
        return OomOutcome::Progress;
    }
    let guard = OomLockGuard;
    let (outcome, wait_for) = out_of_memory_locked(oc);
    drop(guard);
    if let Some(pid) = wait_for {
        wait_for_victim(pid);
    }
    outcome
}

/// Up to 20 ticks (200 ms at HZ=100) for the table lock, which the
/// allocating task may hold itself (`task::spawn` makes the thread under
/// it): then the allocation fails rather than deadlock.
fn lock_table() -> Option<crate::kernel::mutex::MutexGuard<'static, alloc::vec::Vec<ProcRef>>> {
    for _ in 0..20 {
        if let Some(t) = PROCS.try_lock() {
            return Some(t);
        }
        sched::msleep(1);
    }
    None
}

/// Linux 6.1's `out_of_memory` under `oom_lock`: the outcome, and the
/// victim to wait for (not the caller itself).
fn out_of_memory_locked(oc: &OomControl) -> (OomOutcome, Option<u32>) {
    let Some(table) = lock_table() else { return (OomOutcome::TableBusy, None) };
    if table.is_empty() {
        return (OomOutcome::NoProcesses, None);
    }
    let me = sched::current_pid();
    let current = table.iter().find(|p| p.pid() == me);
    let current_view = current.map(view);
    let dying = sched::fatal_signal_pending();
    let policy = oom_policy(
        current_view.as_ref().map(|t| (t, dying)),
        crate::mm::sysctl::PANIC_ON_OOM.load(Ordering::Relaxed) as u32,
        (crate::mm::sysctl::OOM_KILL_ALLOCATING_TASK.load(Ordering::Relaxed) != 0) as u32,
    );
    let total = totalpages();
    match policy {
        Policy::CurrentDying => {
            if let Some(p) = current {
                p.mark_oom_victim();
            }
            (OomOutcome::Progress, None)
        }
        Policy::Panic(how) => {
            dump_header(oc, &table, None);
            panic!("Out of memory: {} panic_on_oom is enabled", how);
        }
        Policy::KillCurrent => {
            let (Some(p), Some(v)) = (current, current_view) else { unreachable!("policy needs a current process") };
            oom_kill_process(oc, &table, p, &v, "Out of memory (oom_kill_allocating_task)");
            (OomOutcome::Progress, None)
        }
        Policy::Select => match select_bad_process(table.iter().map(view), total) {
            Chosen::Abort => {
                // The dying victim: wait for it as its killer does.
                let victim = table.iter().find(|p| p.is_oom_victim() && !p.is_zombie()).map(|p| p.pid());
                (OomOutcome::Progress, victim.filter(|&v| v != me))
            }
            Chosen::Nothing => {
                dump_header(oc, &table, None);
                crate::pr_warn!("Out of memory and no killable processes...");
                panic!("System is deadlocked on memory");
            }
            Chosen::Victim { pid, .. } => {
                let Some(p) = table.iter().find(|p| p.pid() == pid) else {
                    unreachable!("the victim came from this table")
                };
                let v = view(p);
                oom_kill_process(oc, &table, p, &v, "Out of memory");
                (OomOutcome::Progress, (pid != me).then_some(pid))
            }
        },
    }
}

/// Linux's `oom_kill_process` and `__oom_kill_process`: a victim on its
/// way out already is only marked; any other gets the report, SIGKILL,
/// and the `Killed process` line.
fn oom_kill_process(oc: &OomControl, table: &[ProcRef], p: &ProcRef, v: &OomTask<'_>, message: &str) {
    if sched::sigkill_pending(p.pid()) {
        // task_will_free_mem: no alarm, it is dying anyway.
        p.mark_oom_victim();
        return;
    }
    dump_header(oc, table, Some(v));
    // Marked first, so a concurrent OOM waits for it rather than kill
    // another; the signal wakes it from an interruptible sleep or a stop.
    p.mark_oom_victim();
    let _ = sched::send_signal(p.pid(), sched::SIGKILL);
    count_vm_event(VmEvent::OomKill);
    OOM_KILLS.fetch_add(1, Ordering::Relaxed);
    let mut out = log_writer(crate::kernel::printk::KERN_ERR);
    let _ = write_killed(&mut out, message, v);
}

/// Linux 6.1's `dump_header`: who invoked it and with what, where from
/// (this kernel's frame-pointer backtrace of the allocating task, as
/// `dump_stack` prints; no registers: the allocation is a call, not a
/// trap), the memory, the task table, and the summary line for a victim.
fn dump_header(oc: &OomControl, table: &[ProcRef], victim: Option<&OomTask<'_>>) {
    let me = sched::current_pid();
    let current = table.iter().find(|p| p.pid() == me);
    let mut name = LineBuf::<16>::new();
    let _ = write!(name, "{}", sched::current_name());
    let comm = core::str::from_utf8(name.as_bytes()).unwrap_or("?");
    let adj = current.map_or(0, |p| p.oom_score_adj());
    crate::pr_warn!("{}", InvokedLine { comm, gfp: oc.gfp, order: oc.order, oom_score_adj: adj });
    let uts = crate::process::sys::uts::UTSNAME;
    crate::pr_warn!("CPU: 0 PID: {} Comm: {} Not tainted {} {}", me, comm, uts[2], uts[3]);
    {
        let mut out = log_writer(KERN_WARNING);
        let _ = writeln!(out, "Call Trace:");
        crate::kernel::panic::write_call_trace(&mut out, crate::arch::x86::cpu::read_ebp());
    }
    {
        let mut out = log_writer(KERN_WARNING);
        let _ = crate::mm::show_mem::snapshot(oc.gfp.zone() as usize).write(&mut out);
    }
    if SYSCTL_OOM_DUMP_TASKS.load(Ordering::Relaxed) != 0 {
        let mut out = log_writer(KERN_INFO);
        let _ = writeln!(out, "{}", TASKS_TITLE);
        let _ = writeln!(out, "{}", TASKS_HEADER);
        for p in table {
            let _ = write_task_row(&mut out, &view(p));
        }
    }
    if let Some(v) = victim {
        let _ = write_oom_summary(&mut log_writer(KERN_INFO), v);
    }
}

/// Sleep until `pid` has exited (or gone, or we are killed ourselves),
/// at most 10 s: then the caller retries, and a victim still there makes
/// the next OOM call wait again.
fn wait_for_victim(pid: u32) {
    for _ in 0..1000 {
        if sched::fatal_signal_pending() {
            return;
        }
        match task::find(pid) {
            None => return,
            Some(p) if p.is_zombie() => return,
            Some(_) => {}
        }
        sched::msleep(10);
    }
}
