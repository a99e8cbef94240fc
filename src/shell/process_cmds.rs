//! The shell's process commands: `run PROG [ARGS] [&]`, `wait [PID...]`,
//! `kill [-SIGNAL] PID...`, `ps`, `maps PID` and `status PID`. The words
//! are read by `jobs` (pure, as bash and coreutils read them) and the
//! reports printed by `process::procfs` (Linux's and procps' formats);
//! this file asks the process table.
//!
//! Processes started here are the shell's children: `wait` collects them
//! (a background one stays a zombie until then, as under bash without job
//! control); the shell remembers each background job's command line for
//! the report and the last pid for `$!`.

// A command's error is a fixed buffer on purpose (`CmdError`): reporting a
// failure allocates nothing, so it works when memory is exhausted. That
// makes the `Err` variant large, which clippy's `result_large_err` flags.
#![allow(clippy::result_large_err)]

use super::commands::{CmdError, CmdResult};
use super::jobs::{self, KillRequest, KillTarget, Started, WaitReport, WaitRequest};
use crate::bail;
use crate::kernel::bootinfo;
use crate::kernel::mutex::Mutex;
use crate::kernel::sched;
use crate::kernel::wait_status::WaitStatus;
use crate::mm::mmap::FileRef;
use crate::process::exit::{self, WaitError, WaitFor};
use crate::process::procfs::{ProcState, Ps, TaskInfo};
use crate::process::signal::{self, KillError};
use crate::process::task;
use crate::{print, println};
use alloc::string::String;
use alloc::vec::Vec;

/// Background jobs not yet waited for: job number, pid, command line.
struct Jobs {
    list: Vec<(u32, u32, String)>,
    last_bg: Option<u32>,
}

static JOBS: Mutex<Jobs> = Mutex::new(Jobs { list: Vec::new(), last_bg: None });

/// The last background pid, for `$!`.
pub fn last_bg() -> Option<u32> {
    JOBS.lock().last_bg
}

/// `run PROG [ARG...] [&]`.
pub fn cmd_run(args: &[&str]) -> CmdResult {
    let req = match jobs::parse_run(args) {
        Ok(r) => r,
        Err(e) => bail!("{}", e),
    };
    let prog = req.prog();
    let Some(module) = bootinfo::get().module(prog) else { bail!("no program '{}' (bootmap lists the modules)", prog) };
    let Some(file) = crate::arch::x86::mm::init::module_bytes(module) else {
        bail!("module '{}' lies beyond the kernel's direct map; nothing run", prog)
    };
    let fref = FileRef { id: (module.phys_range().0 >> 12) as u32, name: module.name(), writable: false };
    let argv: Vec<&[u8]> = req.argv.iter().map(|a| a.as_bytes()).collect();
    let pid = match crate::process::exec::exec(file, fref, &argv) {
        Ok(pid) => pid,
        Err(e) => bail!("{}: {}", prog, e),
    };
    if req.background {
        let mut j = JOBS.lock();
        let job = j.list.iter().map(|&(n, _, _)| n).max().unwrap_or(0) + 1;
        j.list.push((job, pid, req.argv.join(" ")));
        j.last_bg = Some(pid);
        drop(j);
        println!("{}", Started { job, pid });
        return Ok(());
    }
    match exit::wait_pid(pid) {
        Some(status) => match WaitStatus::decode(status) {
            WaitStatus::Exited(0) => {}
            WaitStatus::Exited(code) => println!("{}: exit status {}", prog, code),
            s => {
                if let Some(line) = jobs::foreground_report(s) {
                    println!("{}", line);
                }
            }
        },
        None => println!("{}: ended without an exit status", prog),
    }
    Ok(())
}

/// Print how child `pid` ended (`wait`'s line) and forget its job.
fn report(pid: u32, status: u32) {
    let command = {
        let mut j = JOBS.lock();
        let at = j.list.iter().position(|&(_, p, _)| p == pid);
        let command = at.map(|i| j.list.remove(i).2);
        if j.list.is_empty() {
            // No job left: the list's memory goes back too, so the slab
            // counts after a workload are what they were before it.
            j.list = Vec::new();
        }
        command
    };
    let command = command.unwrap_or_default();
    println!("{}", WaitReport { pid, status: WaitStatus::decode(status), command: &command });
}

/// `wait [PID...]`: each named child, or every child, collected and its
/// end reported.
pub fn cmd_wait(args: &[&str]) -> CmdResult {
    match jobs::parse_wait(args) {
        Err(e) => bail!("{}", e),
        Ok(WaitRequest::All) => loop {
            match exit::do_wait(WaitFor::Any, 0) {
                Ok(Some((pid, status))) => report(pid, status),
                Ok(None) | Err(WaitError::NoChild) => break,
                // The shell takes no signals; should one come, wait on.
                Err(WaitError::Interrupted) => {}
            }
        },
        Ok(WaitRequest::Pids(pids)) => {
            for pid in pids {
                match exit::wait_pid(pid) {
                    Some(status) => report(pid, status),
                    None => println!("wait: {}", jobs::not_a_child(pid)),
                }
            }
        }
    }
    Ok(())
}

/// `kill [-SIGNAL] PID...` (and `kill -l`, answered by `commands`).
pub fn cmd_kill_send(req: KillRequest<'_>) -> CmdResult {
    let KillRequest::Send { sig, sigspec, targets } = req else { return Ok(()) };
    let mut failed = false;
    for t in targets {
        let errno = match t {
            KillTarget::Bad(_, e) => {
                println!("kill: {}", e);
                failed = true;
                continue;
            }
            // Process groups: there are none.
            KillTarget::Pid(p) if p <= 0 => 3,
            KillTarget::Pid(p) => match signal::kill(p as u32, sig) {
                Ok(()) => continue,
                Err(KillError::NoProcess) => 3,
                Err(KillError::BadSignal) => 22,
            },
        };
        let pid = match t {
            KillTarget::Pid(p) => p,
            KillTarget::Bad(..) => 0,
        };
        println!("kill: {}", jobs::kill_error(pid, errno, sigspec));
        failed = true;
    }
    let _ = failed;
    // Let the targets run now, so a stop or a kill has been acted on when
    // the next command looks (the shell would otherwise go on first).
    sched::yield_now();
    Ok(())
}

/// `ps`: every task, kernel threads and processes (zombies included), in
/// pid order, as `ps -e -o pid,ppid,stat,vsz,rss,comm`.
pub fn cmd_ps(args: &[&str]) -> CmdResult {
    if let Some(a) = args.first() {
        bail!("takes no arguments (got '{}'); nothing done", a);
    }
    let procs = task::all();
    let mut threads: Vec<(u32, char, sched::TaskName)> = Vec::new();
    sched::for_each_task(|pid, state, _, name| threads.push((pid, state, name)));
    let mut names: Vec<(u32, String)> = Vec::new();
    for &(pid, _, name) in &threads {
        if !procs.iter().any(|p| p.pid() == pid) {
            names.push((pid, alloc::format!("{}", name)));
        }
    }
    let mut rows: Vec<TaskInfo<'_>> = Vec::new();
    for &(pid, state, _) in &threads {
        if let Some((_, name)) = names.iter().find(|(p, _)| *p == pid) {
            let state = ProcState::from_letter(state).unwrap_or(ProcState::Running);
            rows.push(TaskInfo { name, state, pid, ppid: 0, mm: None });
        }
    }
    for p in &procs {
        let state = ProcState::from_letter(p.state()).unwrap_or(ProcState::Dead);
        rows.push(TaskInfo { name: p.comm(), state, pid: p.pid(), ppid: p.ppid(), mm: p.mm_counters() });
    }
    rows.sort_by_key(|r| r.pid);
    print!("{}", Ps(&rows));
    Ok(())
}

fn one_pid(args: &[&str]) -> Result<task::ProcRef, CmdError> {
    let [arg] = args else { bail!("wants one PID (got {} words); nothing done", args.len()) };
    let Ok(pid) = arg.parse::<u32>() else { bail!("'{}' is not a pid; nothing done", arg) };
    match task::find(pid) {
        Some(p) => Ok(p),
        None => bail!("no process {} (ps lists them); nothing done", pid),
    }
}

/// `maps PID`: `/proc/PID/maps`.
pub fn cmd_maps(args: &[&str]) -> CmdResult {
    let p = one_pid(args)?;
    let Some(mm) = p.mm() else { return Ok(()) };
    let mut text = String::new();
    {
        let ctx = mm.mmap.lock();
        let _ = core::fmt::Write::write_fmt(&mut text, format_args!("{}", ctx.vmas.maps()));
    }
    print!("{}", text);
    Ok(())
}

/// `migrate PID`: move every page of a process to other frames while it
/// runs (Linux's `migratepages PID` between nodes; here there is one
/// node, so the point is the move itself: `mm::migrate`).
pub fn cmd_migrate(args: &[&str]) -> CmdResult {
    let p = one_pid(args)?;
    let Some(mm) = p.mm() else { bail!("process {} has no address space (a kernel thread); nothing done", p.pid()) };
    // The areas now, and the lock let go: the process's own faults must
    // be able to run (and meet the migration entries) meanwhile.
    let areas: Vec<(usize, usize)> = {
        let ctx = mm.mmap.lock();
        let mut v = Vec::new();
        if v.try_reserve_exact(ctx.vmas.len()).is_err() {
            bail!("out of memory for the list of areas; nothing done");
        }
        v.extend(ctx.vmas.iter().map(|a| (a.start, a.end)));
        v
    };
    let (moved, failed, first) = crate::mm::migrate::migrate_mm(&mm, &areas);
    println!("migrate: pid {}: {} pages moved, {} not moved", p.pid(), moved, failed);
    if let Some((pfn, why)) = first {
        println!("migrate: the first not moved: pfn {:#x}: {}", pfn, why);
    }
    Ok(())
}

/// `status PID`: `/proc/PID/status`.
pub fn cmd_status(args: &[&str]) -> CmdResult {
    let p = one_pid(args)?;
    let state = ProcState::from_letter(p.state()).unwrap_or(ProcState::Dead);
    let info = TaskInfo { name: p.comm(), state, pid: p.pid(), ppid: p.ppid(), mm: p.mm_counters() };
    print!("{}", info.status());
    Ok(())
}
