//! The system calls (Linux's arch/x86/kernel/syscall_table_32.S and the
//! `sys_*` functions it names): `int $0x80` with the number in EAX, the
//! arguments in EBX, ECX, EDX, ESI, EDI, EBP, and the result, or `-errno`,
//! back in EAX. Numbers are Linux i386's.
//!
//! Built so far: `exit`, `exit_group`, `write` (fds 1 and 2, to the
//! console), `writev`, `getpid`, `brk`, `mprotect` (of the pages exec and
//! brk mapped), `set_thread_area` and `set_tid_address`. Every other number returns `-ENOSYS`, and
//! is logged the first time it is seen. Every user pointer goes through
//! `copy_from_user`: a bad one is `-EFAULT`, never an oops.

use super::exec;
use super::sys;
use crate::arch::x86::cpu::{local_irq_disable, local_irq_enable};
use crate::arch::x86::kernel::traps::TrapFrame;
use crate::arch::x86::lib::uaccess::{copy_from_user, put_user};
use crate::arch::x86::tls::{UserDesc, GDT_ENTRY_TLS_MAX, GDT_ENTRY_TLS_MIN};
use crate::kernel::printk::console_write;
use crate::kernel::sched;
use core::sync::atomic::{AtomicU32, Ordering};

pub const EBADF: i32 = 9;
pub const ESRCH: i32 = 3;
pub const EINVAL: i32 = 22;
pub const ENOMEM: i32 = 12;
pub const ENOSYS: i32 = 38;

pub const NR_EXIT: u32 = 1;
pub const NR_WRITE: u32 = 4;
pub const NR_GETPID: u32 = 20;
pub const NR_BRK: u32 = 45;
pub const NR_MPROTECT: u32 = 125;
pub const NR_WRITEV: u32 = 146;
pub const NR_SET_THREAD_AREA: u32 = 243;
pub const NR_EXIT_GROUP: u32 = 252;
pub const NR_SET_TID_ADDRESS: u32 = 258;

/// The six argument registers, in Linux's order.
pub type Args = [u32; 6];
pub type SysCall = fn(&Args) -> i32;

/// Linux's `sys_call_table`, for the numbers built.
const SYS_CALL_TABLE: &[(u32, SysCall)] = &[
    (NR_EXIT, sys_exit),
    (NR_WRITE, sys_write),
    (NR_GETPID, sys_getpid),
    (NR_BRK, sys_brk),
    (NR_MPROTECT, sys_mprotect),
    (NR_WRITEV, sys_writev),
    (NR_SET_THREAD_AREA, sys_set_thread_area),
    (NR_EXIT_GROUP, sys_exit),
    (NR_SET_TID_ADDRESS, sys_set_tid_address),
];

/// The handler `int $0x80` reaches (registered with traps by `exec`).
/// Runs with interrupts on, as Linux's system calls do: they may sleep
/// and fault on user memory.
pub fn do_syscall(frame: &mut TrapFrame) {
    let args = [frame.ebx, frame.ecx, frame.edx, frame.esi, frame.edi, frame.ebp];
    local_irq_enable();
    frame.eax = dispatch(frame.eax, &args) as u32;
    // The way back to ring 3 (trap_common's pops and iret) runs with
    // interrupts off, as it came in.
    local_irq_disable();
}

/// The tables searched, in order: this file's (the process and memory
/// calls) and those of the files that own the other calls.
const TABLES: &[&[(u32, SysCall)]] =
    &[SYS_CALL_TABLE, sys::uts::TABLE, sys::time::TABLE, sys::stat::TABLE, sys::tty::TABLE];

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

fn sys_exit(a: &Args) -> i32 {
    // Only the low 8 bits reach the parent (Linux's `(code & 0xff) << 8`).
    exec::exit_process((a[0] & 0xff) as i32)
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

/// `mprotect(start, len, prot)` on the pages the process has.
fn sys_mprotect(a: &Args) -> i32 {
    match exec::with_current(|p| p.mprotect(a[0], a[1], a[2])) {
        Some(Ok(())) => 0,
        Some(Err(e)) => e.errno(),
        None => -ENOMEM,
    }
}

fn sys_getpid(_: &Args) -> i32 {
    sched::current_pid() as i32
}

/// `brk(addr)`: the new break, or the old one when refused (0 asks for
/// the current one).
fn sys_brk(a: &Args) -> i32 {
    exec::with_current(|p| p.brk(a[0])).unwrap_or(0) as i32
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
