//! The system calls as a kernel thread makes them (`syscalls::dispatch`,
//! what `int $0x80` reaches): every bad pointer is `-EFAULT`, every bad fd
//! `-EBADF`, every unknown number `-ENOSYS`, and the machine goes on. A
//! kernel thread runs on `swapper_pg_dir`, whose user half is empty: every
//! user address is unmapped there.

use super::TestResult;
use crate::arch::x86::lib::uaccess::EFAULT;
use crate::kernel::sched;
use crate::layout::PAGE_OFFSET;
use crate::process::syscalls::{
    dispatch, EBADF, ENOSYS, NR_BRK, NR_GETPID, NR_GET_THREAD_AREA, NR_SET_THREAD_AREA, NR_WRITE, NR_WRITEV,
};

/// Bad buffers for `write`: the kernel (a real kernel address, and the
/// last user byte running into the kernel), an unmapped user page, NULL
/// and the top of the address space (the end would wrap).
pub fn write_with_bad_pointers_gives_efault() -> TestResult {
    let kernel = b"kernel bytes must not reach the console\n";
    let cases: [(u32, u32); 6] = [
        (kernel.as_ptr() as u32, kernel.len() as u32),
        (PAGE_OFFSET as u32 - 1, 2),
        (0x0804_8000, 16),
        (0, 1),
        (u32::MAX - 3, 8),
        (0x1000, 1 << 20),
    ];
    for (buf, len) in cases {
        for fd in [1, 2] {
            if dispatch(NR_WRITE, &[fd, buf, len, 0, 0, 0]) != -EFAULT {
                crate::pr_info!("ktest: write({}, {:#010x}, {}) did not give -EFAULT", fd, buf, len);
                return Err("a write from a bad pointer did not give -EFAULT");
            }
        }
    }
    // The other calls that read user memory.
    for (buf, len) in cases {
        if dispatch(NR_WRITEV, &[1, buf, len.min(1024), 0, 0, 0]) != -EFAULT {
            return Err("a writev with a bad iovec pointer did not give -EFAULT");
        }
        if dispatch(NR_SET_THREAD_AREA, &[buf, 0, 0, 0, 0, 0]) != -EFAULT {
            return Err("set_thread_area from a bad pointer did not give -EFAULT");
        }
        if dispatch(NR_GET_THREAD_AREA, &[buf, 0, 0, 0, 0, 0]) != -EFAULT {
            return Err("get_thread_area into a bad pointer did not give -EFAULT");
        }
    }
    if sched::current_tls() != [0; 3] {
        return Err("a refused set_thread_area changed the thread's TLS");
    }
    // Nothing to copy: nothing is read, and 0 bytes were written.
    if dispatch(NR_WRITE, &[1, 0, 0, 0, 0, 0]) != 0 {
        return Err("write of 0 bytes did not return 0");
    }
    for fd in [0, 3, u32::MAX] {
        if dispatch(NR_WRITE, &[fd, kernel.as_ptr() as u32, 1, 0, 0, 0]) != -EBADF {
            return Err("write to an fd other than 1 and 2 did not give -EBADF");
        }
    }
    Ok(())
}

/// Unknown numbers (an unbuilt one, past the table, the top value) are
/// `-ENOSYS`; `getpid` is the caller's pid; `brk` of a thread without a
/// process is 0 (no break).
pub fn unknown_numbers_give_enosys() -> TestResult {
    // 17 (`break`) is in Linux's table and built nowhere; 2 (`fork`) is
    // taken before `dispatch`, which needs the caller's registers.
    for nr in [2, 17, 511, 512, 100_000, u32::MAX] {
        if dispatch(nr, &[0; 6]) != -ENOSYS {
            return Err("an unbuilt system call did not give -ENOSYS");
        }
    }
    if dispatch(NR_GETPID, &[0; 6]) != sched::current_pid() as i32 {
        return Err("getpid is not the caller's pid");
    }
    if dispatch(NR_BRK, &[0x1000_0000, 0, 0, 0, 0, 0]) != 0 {
        return Err("brk of a kernel thread is not 0");
    }
    Ok(())
}
