//! The system calls (Linux's arch/x86/kernel/syscall_table_32.S and the
//! `sys_*` functions it names): `int $0x80` with the number in EAX, the
//! arguments in EBX, ECX, EDX, ESI, EDI, EBP, and the result, or `-errno`,
//! back in EAX. Numbers are Linux i386's.
//!
//! This file holds the process calls (`exit`, `fork`/`clone`/`vfork`,
//! `wait4`/`waitpid`, `kill`/`tkill`/`tgkill`, `pause`, the ids, the
//! resource limits, `write`/`writev` to the console, TLS); `mman` the
//! memory calls; `sys/` the clocks, `uname`, `stat`, `ioctl` and `read` of
//! the console. Every other number returns `-ENOSYS`, and is logged the
//! first time it is seen. Every user pointer goes through `copy_from_user`
//! and friends: a bad one is `-EFAULT`, never an oops.

use super::exit::{self, WaitError, WaitFor};
use super::rlimit::{self, Rlimit, RlimitError, RLIM64_INFINITY};
use super::signal::{self, KillError};
use super::sys;
use super::task;
use crate::arch::x86::cpu::local_irq_enable;
use crate::arch::x86::kernel::traps::TrapFrame;
use crate::arch::x86::lib::uaccess::{copy_from_user, copy_to_user, get_user, put_user};
use crate::arch::x86::tls::{UserDesc, GDT_ENTRY_TLS_MAX, GDT_ENTRY_TLS_MIN};
use crate::kernel::printk::console_write;
use crate::kernel::sched;
use core::sync::atomic::{AtomicU32, Ordering};

pub const EPERM: i32 = 1;
pub const ESRCH: i32 = 3;
pub const EINTR: i32 = 4;
pub const EBADF: i32 = 9;
pub const ECHILD: i32 = 10;
pub const EAGAIN: i32 = 11;
pub const ENOMEM: i32 = 12;
pub const EINVAL: i32 = 22;
pub const ENOSYS: i32 = 38;

pub const NR_EXIT: u32 = 1;
pub const NR_FORK: u32 = 2;
pub const NR_WRITE: u32 = 4;
pub const NR_WAITPID: u32 = 7;
pub const NR_GETPID: u32 = 20;
pub const NR_PAUSE: u32 = 29;
pub const NR_KILL: u32 = 37;
pub const NR_BRK: u32 = 45;
pub const NR_GETPPID: u32 = 64;
pub const NR_SETRLIMIT: u32 = 75;
pub const NR_GETRLIMIT: u32 = 76;
pub const NR_WAIT4: u32 = 114;
pub const NR_CLONE: u32 = 120;
pub const NR_WRITEV: u32 = 146;
pub const NR_VFORK: u32 = 190;
pub const NR_UGETRLIMIT: u32 = 191;
pub const NR_SET_THREAD_AREA: u32 = 243;
pub const NR_GET_THREAD_AREA: u32 = 244;
pub const NR_EXIT_GROUP: u32 = 252;
pub const NR_SET_TID_ADDRESS: u32 = 258;
pub const NR_TKILL: u32 = 238;
pub const NR_TGKILL: u32 = 270;
pub const NR_PRLIMIT64: u32 = 340;

/// The six argument registers, in Linux's order.
pub type Args = [u32; 6];
pub type SysCall = fn(&Args) -> i32;

/// Linux's `sys_call_table`, for the process calls built here (fork and
/// clone, which need the caller's registers, are dispatched before it).
const SYS_CALL_TABLE: &[(u32, SysCall)] = &[
    (NR_EXIT, sys_exit),
    (NR_WRITE, sys_write),
    (NR_WAITPID, sys_waitpid),
    (NR_GETPID, sys_getpid),
    (NR_PAUSE, sys_pause),
    (NR_KILL, sys_kill),
    (NR_GETPPID, sys_getppid),
    (NR_SETRLIMIT, sys_setrlimit),
    (NR_GETRLIMIT, sys_old_getrlimit),
    (NR_WAIT4, sys_wait4),
    (NR_WRITEV, sys_writev),
    (NR_UGETRLIMIT, sys_getrlimit),
    (NR_TKILL, sys_tkill),
    (NR_SET_THREAD_AREA, sys_set_thread_area),
    (NR_GET_THREAD_AREA, sys_get_thread_area),
    (NR_EXIT_GROUP, sys_exit),
    (NR_SET_TID_ADDRESS, sys_set_tid_address),
    (NR_TGKILL, sys_tgkill),
    (NR_PRLIMIT64, sys_prlimit64),
];

/// Register the system calls, the signal delivery on the way back to ring
/// 3 and the user trap handler with traps (the first exec does; before it
/// nothing runs in ring 3).
pub fn install() {
    use crate::arch::x86::kernel::traps;
    traps::set_syscall_handler(do_syscall);
    traps::set_resume_user_handler(super::signal::do_signal);
    traps::set_user_trap_handler(super::signal::user_trap);
}

/// The handler `int $0x80` reaches (registered with traps by `exec`).
/// Runs with interrupts on, as Linux's system calls do: they may sleep
/// and fault on user memory. `int $0x80` comes from ring 3 only, so
/// trap_dispatch's way back to the user turns them off again.
pub fn do_syscall(frame: &mut TrapFrame) {
    let args = [frame.ebx, frame.ecx, frame.edx, frame.esi, frame.edi, frame.ebp];
    // The number, kept for a restart after a signal (Linux's `orig_eax`;
    // `int $0x80` pushes no error code, the stub a 0 in its place).
    frame.error_code = frame.eax;
    local_irq_enable();
    frame.eax = match frame.eax {
        NR_FORK | NR_VFORK => fork_result(super::fork::do_fork(frame, SIGCHLD, 0, 0, 0)),
        NR_CLONE => fork_result(super::fork::do_fork(frame, args[0], args[1], args[2], args[4])),
        nr => dispatch(nr, &args),
    } as u32;
    // trap_dispatch turns interrupts off again for the way back to ring 3.
}

/// The tables searched, in order: this file's (the process and memory
/// calls) and those of the files that own the other calls.
/// `procfs_fd` comes first: it has `read` and `write` of its files, and
/// hands those of the console on (`dispatch_console`).
const TABLES: &[&[(u32, SysCall)]] = &[
    super::procfs_fd::TABLE,
    SYS_CALL_TABLE,
    super::mman::TABLE,
    sys::uts::TABLE,
    sys::time::TABLE,
    sys::stat::TABLE,
    sys::tty::TABLE,
];

/// System call `nr` as the tables after `procfs_fd`'s have it: the
/// console's `read` and `write`, for fds 0, 1 and 2.
pub fn dispatch_console(nr: u32, args: &[u32; 6]) -> i32 {
    match TABLES[1..].iter().flat_map(|t| t.iter()).find(|(n, _)| *n == nr) {
        Some((_, f)) => f(args),
        None => sys_ni_syscall(nr),
    }
}

/// Run system call `nr` with `args`: its result or `-errno`. Process
/// context, interrupts on.
pub fn dispatch(nr: u32, args: &[u32; 6]) -> i32 {
    match TABLES.iter().flat_map(|t| t.iter()).find(|(n, _)| *n == nr) {
        Some((_, f)) => f(args),
        None => sys_ni_syscall(nr),
    }
}

/// Numbers 0..MAX_LOGGED already reported, one bit each; past that, one
/// report for all.
const MAX_LOGGED: usize = 512;
static NI_LOGGED: [AtomicU32; MAX_LOGGED / 32 + 1] = [const { AtomicU32::new(0) }; MAX_LOGGED / 32 + 1];

/// Linux's `sys_ni_syscall`: `-ENOSYS`, said once per number.
fn sys_ni_syscall(nr: u32) -> i32 {
    let bit = (nr as usize).min(MAX_LOGGED);
    let mask = 1 << (bit % 32);
    if NI_LOGGED[bit / 32].fetch_or(mask, Ordering::Relaxed) & mask == 0 {
        crate::pr_warn!(
            "{}[{}]: system call {} is not implemented; it returns -ENOSYS (said once{})",
            sched::current_name(),
            sched::current_pid(),
            nr,
            if bit == MAX_LOGGED { " for every number past 511" } else { " per number" }
        );
    }
    -ENOSYS
}

fn fork_result(r: Result<u32, super::fork::ForkError>) -> i32 {
    match r {
        Ok(pid) => pid as i32,
        Err(e) => e.errno(),
    }
}

use crate::kernel::signal_names::SIGCHLD;

fn sys_exit(a: &Args) -> i32 {
    // Only the low 8 bits reach the parent (Linux's `(code & 0xff) << 8`).
    exit::do_exit(exit::exit_status(a[0]))
}

/// Bytes copied from user space per step: a bounded stack buffer, and a
/// long write does not hold the console for its whole length.
const WRITE_CHUNK: usize = 256;

/// `write(fd, buf, count)`: fds 1 and 2 go to the console. A bad pointer
/// gives `-EFAULT` if nothing was written yet, else the count written so
/// far (as Linux's partial writes).
fn sys_write(a: &Args) -> i32 {
    let (fd, buf, count) = (a[0], a[1] as usize, a[2] as usize);
    if fd != 1 && fd != 2 {
        return -EBADF;
    }
    write_console(buf, count)
}

/// Copy `count` bytes from user `buf` to the console, in chunks.
fn write_console(buf: usize, count: usize) -> i32 {
    // Linux caps a write at MAX_RW_COUNT; the result must fit the sign.
    let count = count.min(i32::MAX as usize & !(crate::layout::PAGE_SIZE - 1));
    let mut chunk = [0u8; WRITE_CHUNK];
    let mut done = 0;
    while done < count {
        let n = (count - done).min(WRITE_CHUNK);
        let Some(from) = buf.checked_add(done) else { break };
        if let Err(e) = copy_from_user(&mut chunk[..n], from) {
            return if done == 0 { e.errno() } else { done as i32 };
        }
        console_write(&chunk[..n]);
        done += n;
    }
    done as i32
}

/// Linux's `UIO_MAXIOV`.
const IOV_MAX: u32 = 1024;

/// `writev(fd, iov, iovcnt)`: each `struct iovec { base, len }` in turn,
/// as `write` does them; a fault after some bytes ends it with that count.
fn sys_writev(a: &Args) -> i32 {
    let (fd, iov, cnt) = (a[0], a[1] as usize, a[2]);
    if fd != 1 && fd != 2 {
        return -EBADF;
    }
    if cnt > IOV_MAX {
        return -EINVAL;
    }
    let mut total: i32 = 0;
    for i in 0..cnt as usize {
        let mut v = [0u8; 8];
        let Some(at) = iov.checked_add(i * 8) else { return -crate::arch::x86::lib::uaccess::EFAULT };
        if let Err(e) = copy_from_user(&mut v, at) {
            return if total == 0 { e.errno() } else { total };
        }
        let base = u32::from_le_bytes([v[0], v[1], v[2], v[3]]) as usize;
        let len = u32::from_le_bytes([v[4], v[5], v[6], v[7]]) as usize;
        // Linux refuses a total past ssize_t's range before writing.
        if len > i32::MAX as usize - total as usize {
            return if total == 0 { -EINVAL } else { total };
        }
        let r = write_console(base, len);
        if r < 0 {
            return if total == 0 { r } else { total };
        }
        total += r;
        if (r as usize) < len {
            break;
        }
    }
    total
}

/// `set_tid_address(tidptr)`: returns the caller's thread id. The pointer
/// (cleared and futex-woken at a thread's exit) matters only to threads,
/// which there are none of yet: it is not kept.
fn sys_set_tid_address(_: &Args) -> i32 {
    sched::current_pid() as i32
}

fn sys_getpid(_: &Args) -> i32 {
    sched::current_pid() as i32
}

/// `set_thread_area(struct user_desc *)` (Linux's arch/x86/kernel/tls.c):
/// put a TLS descriptor in one of the thread's GDT slots; `entry_number`
/// -1 takes the first free one and writes its number back.
fn sys_set_thread_area(a: &Args) -> i32 {
    let ptr = a[0] as usize;
    let mut bytes = [0u8; UserDesc::SIZE];
    if let Err(e) = copy_from_user(&mut bytes, ptr) {
        return e.errno();
    }
    let info = UserDesc::from_bytes(&bytes);
    if !info.is_okay() {
        return -EINVAL;
    }
    let mut idx = info.entry_number;
    if idx == u32::MAX {
        let Some(free) = sched::current_tls().iter().position(|&d| d == 0) else { return -ESRCH };
        idx = GDT_ENTRY_TLS_MIN + free as u32;
        if let Err(e) = put_user(idx, ptr) {
            return e.errno();
        }
    }
    if !(GDT_ENTRY_TLS_MIN..=GDT_ENTRY_TLS_MAX).contains(&idx) {
        return -EINVAL;
    }
    sched::set_tls((idx - GDT_ENTRY_TLS_MIN) as usize, info.descriptor());
    0
}

/// `get_thread_area(struct user_desc *)`: the TLS slot named by the
/// struct's `entry_number`, read back into the struct (Linux's
/// `do_get_thread_area` and `fill_user_desc`).
fn sys_get_thread_area(a: &Args) -> i32 {
    let ptr = a[0] as usize;
    let idx = match get_user::<u32>(ptr) {
        Ok(idx) => idx,
        Err(e) => return e.errno(),
    };
    if !(GDT_ENTRY_TLS_MIN..=GDT_ENTRY_TLS_MAX).contains(&idx) {
        return -EINVAL;
    }
    let desc = sched::current_tls()[(idx - GDT_ENTRY_TLS_MIN) as usize];
    match copy_to_user(ptr, &UserDesc::from_descriptor(idx, desc).to_bytes()) {
        Ok(()) => 0,
        Err(e) => e.errno(),
    }
}

fn sys_getppid(_: &Args) -> i32 {
    task::current().map_or(0, |p| p.ppid()) as i32
}

/// `pause()`: sleep until a signal comes. With default actions only, the
/// signal ends the process, or stops it and the pause goes on after
/// SIGCONT (`-ERESTARTNOHAND`: restarted, as Linux restarts it when no
/// handler ran); an ignored signal does not wake it.
fn sys_pause(_: &Args) -> i32 {
    while crate::kernel::sched::sleep_until_interruptible(u64::MAX) {}
    -signal::ERESTARTNOHAND
}

fn kill_errno(e: KillError) -> i32 {
    match e {
        KillError::BadSignal => -EINVAL,
        KillError::NoProcess => -ESRCH,
    }
}

/// `kill(pid, sig)`: `pid > 0` one process; `0` and `-1` (the caller's
/// group, everyone it may signal) and `< -1` (a group) are refused with
/// `-ESRCH` but for the caller itself: there are no process groups.
fn sys_kill(a: &Args) -> i32 {
    let (pid, sig) = (a[0] as i32, a[1]);
    if sig > 31 {
        return -EINVAL;
    }
    let target = match pid {
        p if p > 0 => p as u32,
        0 => sched::current_pid(),
        _ => return -ESRCH,
    };
    match signal::kill(target, sig) {
        Ok(()) => 0,
        Err(e) => kill_errno(e),
    }
}

/// `tkill(tid, sig)` and `tgkill(tgid, tid, sig)` (glibc's `raise` and
/// `abort`): one thread per process, so a thread id is a pid.
fn sys_tkill(a: &Args) -> i32 {
    if a[0] as i32 <= 0 {
        return -EINVAL;
    }
    match signal::kill(a[0], a[1]) {
        Ok(()) => 0,
        Err(e) => kill_errno(e),
    }
}

fn sys_tgkill(a: &Args) -> i32 {
    if a[0] as i32 <= 0 || a[1] as i32 <= 0 {
        return -EINVAL;
    }
    if a[0] != a[1] {
        return -ESRCH;
    }
    sys_tkill(&[a[1], a[2], 0, 0, 0, 0])
}

/// `wait4(pid, status, options, rusage)`.
fn sys_wait4(a: &Args) -> i32 {
    let (pid, status_ptr, options, rusage) = (a[0] as i32, a[1] as usize, a[2], a[3] as usize);
    if options & !(exit::WNOHANG | exit::WUNTRACED | exit::WCONTINUED | exit::WALL_WCLONE | exit::WNOTHREAD) != 0 {
        return -EINVAL;
    }
    let which = match pid {
        p if p > 0 => WaitFor::Pid(p as u32),
        // -1: any child; 0 and < -1 name process groups, of which the
        // caller's holds every child.
        _ => WaitFor::Any,
    };
    match exit::do_wait(which, options) {
        Ok(None) => 0,
        Ok(Some((pid, status))) => {
            if status_ptr != 0 {
                if let Err(e) = put_user(status, status_ptr) {
                    return e.errno();
                }
            }
            if rusage != 0 {
                // struct rusage: 18 longs; no accounting kept yet.
                if let Err(e) = copy_to_user(rusage, &[0u8; 72]) {
                    return e.errno();
                }
            }
            pid as i32
        }
        Err(WaitError::NoChild) => -ECHILD,
        Err(WaitError::Interrupted) => -signal::ERESTARTSYS,
    }
}

/// `waitpid(pid, status, options)`: `wait4` without the usage.
fn sys_waitpid(a: &Args) -> i32 {
    sys_wait4(&[a[0], a[1], a[2], 0, 0, 0])
}

/// The calling process's limits, and a way to change them that keeps the
/// mm's copy (what the memory calls obey) in step.
fn with_rlimits<R>(pid: u32, f: impl FnOnce(&mut rlimit::RlimitTable) -> R) -> Option<R> {
    let p = task::find(pid).filter(|p| !p.is_zombie())?;
    let (r, limits) = {
        let mut inner = p.inner.lock();
        let r = f(&mut inner.rlim);
        (r, inner.rlim.mm_limits())
    };
    if let Some(mm) = p.mm() {
        mm.mmap.lock().rlim = limits;
    }
    Some(r)
}

fn rlimit_errno(e: RlimitError) -> i32 {
    match e {
        RlimitError::BadResource | RlimitError::CurAboveMax => -EINVAL,
        RlimitError::RaiseMax => -EPERM,
    }
}

/// `ugetrlimit(resource, struct rlimit *)`: 32-bit values, `~0` infinity.
fn sys_getrlimit(a: &Args) -> i32 {
    getrlimit32(a, false)
}

/// The old `getrlimit` (76): infinity reads `0x7fffffff`.
fn sys_old_getrlimit(a: &Args) -> i32 {
    getrlimit32(a, true)
}

fn getrlimit32(a: &Args, old_abi: bool) -> i32 {
    let r = match with_rlimits(sched::current_pid(), |t| t.get(a[0] as usize)) {
        Some(Ok(r)) => r,
        Some(Err(e)) => return rlimit_errno(e),
        None => return -ESRCH,
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&rlimit::to_user32(r.cur, old_abi).to_le_bytes());
    out[4..].copy_from_slice(&rlimit::to_user32(r.max, old_abi).to_le_bytes());
    match copy_to_user(a[1] as usize, &out) {
        Ok(()) => 0,
        Err(e) => e.errno(),
    }
}

/// `setrlimit(resource, const struct rlimit *)`.
fn sys_setrlimit(a: &Args) -> i32 {
    if a[0] as usize >= rlimit::RLIM_NLIMITS {
        return -EINVAL;
    }
    let mut b = [0u8; 8];
    if let Err(e) = copy_from_user(&mut b, a[1] as usize) {
        return e.errno();
    }
    let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let new = Rlimit { cur: rlimit::from_user32(word(0)), max: rlimit::from_user32(word(4)) };
    match with_rlimits(sched::current_pid(), |t| t.set(a[0] as usize, new)) {
        Some(Ok(_)) => 0,
        Some(Err(e)) => rlimit_errno(e),
        None => -ESRCH,
    }
}

/// `prlimit64(pid, resource, const struct rlimit64 *new, struct rlimit64
/// *old)`: pid 0 is the caller.
fn sys_prlimit64(a: &Args) -> i32 {
    let (pid, resource, new_ptr, old_ptr) = (a[0], a[1] as usize, a[2] as usize, a[3] as usize);
    if resource >= rlimit::RLIM_NLIMITS {
        return -EINVAL;
    }
    let pid = if pid == 0 { sched::current_pid() } else { pid };
    let new = if new_ptr != 0 {
        let mut b = [0u8; 16];
        if let Err(e) = copy_from_user(&mut b, new_ptr) {
            return e.errno();
        }
        let q = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        Some(Rlimit { cur: q(0), max: q(8) })
    } else {
        None
    };
    let r = with_rlimits(pid, |t| {
        let old = t.get(resource)?;
        if let Some(n) = new {
            t.set(resource, n)?;
        }
        Ok(old)
    });
    let old = match r {
        Some(Ok(old)) => old,
        Some(Err(e)) => return rlimit_errno(e),
        None => return -ESRCH,
    };
    if old_ptr != 0 {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&old.cur.to_le_bytes());
        out[8..].copy_from_slice(&old.max.to_le_bytes());
        if let Err(e) = copy_to_user(old_ptr, &out) {
            return e.errno();
        }
    }
    let _ = RLIM64_INFINITY;
    0
}
