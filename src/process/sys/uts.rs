//! `uname`, the user and thread ids and `sched_yield` (Linux's
//! kernel/sys.c, kernel/utsname.c, kernel/sched/core.c) and
//! `set_robust_list` (kernel/futex/): what the kernel says about itself
//! and about who runs.

/// Linux's `__NEW_UTS_LEN + 1`: each field of `struct new_utsname`.
pub const UTS_FIELD: usize = 65;
/// `struct new_utsname`: sysname, nodename, release, version, machine,
/// domainname.
pub const NEW_UTSNAME_SIZE: usize = 6 * UTS_FIELD;

/// What `uname` says.
///
/// - `sysname` "Linux": the programs are Linux i386 programs and speak its
///   ABI; a program that asks which system it is on must take this one for
///   Linux to work at all.
/// - `release` "2.6.24-himem": the Linux this kernel follows (2.6.24 i386),
///   and the suffix says it is not that kernel. A glibc may refuse a kernel
///   older than the one it was configured for ("FATAL: kernel too old"):
///   glibc 2.36, the host's, has no such check left (its static programs
///   hold no such message and run under `setarch --uname-2.6`), so the
///   honest number works; a toolchain with an older glibc (before 2.36,
///   mostly built `--enable-kernel=3.2`) would need "3.2.0" here.
/// - `machine` "i686": the CPU the kernel is built for (the target).
/// - `nodename` and `domainname` "(none)": Linux's defaults
///   (`UTS_NODENAME`, `UTS_DOMAINNAME`) before anyone sets them; there is
///   no `sethostname`.
pub const UTSNAME: [&str; 6] = ["Linux", "(none)", "2.6.24-himem", "#1 himem", "i686", "(none)"];

/// `struct new_utsname` with `fields`, each NUL-padded.
pub fn new_utsname(fields: &[&str; 6]) -> [u8; NEW_UTSNAME_SIZE] {
    let mut out = [0u8; NEW_UTSNAME_SIZE];
    for (i, f) in fields.iter().enumerate() {
        let b = f.as_bytes();
        let n = b.len().min(UTS_FIELD - 1);
        out[i * UTS_FIELD..i * UTS_FIELD + n].copy_from_slice(&b[..n]);
    }
    out
}

/// `struct robust_list_head` on i386: three 32-bit words.
pub const ROBUST_LIST_HEAD_SIZE: u32 = 12;

#[cfg(target_os = "none")]
pub use calls::TABLE;

#[cfg(target_os = "none")]
mod calls {
    use super::*;
    use crate::arch::x86::lib::uaccess::copy_to_user;
    use crate::kernel::sched;
    use crate::process::sys::EINVAL;
    use crate::process::syscalls::{Args, SysCall};

    pub const TABLE: &[(u32, SysCall)] = &[
        (24, sys_getuid), // getuid16
        (47, sys_getuid), // getgid16
        (49, sys_getuid), // geteuid16
        (50, sys_getuid), // getegid16
        (122, sys_newuname),
        (158, sys_sched_yield),
        (199, sys_getuid), // getuid32
        (200, sys_getuid), // getgid32
        (201, sys_getuid), // geteuid32
        (202, sys_getuid), // getegid32
        (224, sys_gettid),
        (311, sys_set_robust_list),
    ];

    /// `uname(struct new_utsname *)`.
    fn sys_newuname(a: &Args) -> i32 {
        match copy_to_user(a[0] as usize, &new_utsname(&UTSNAME)) {
            Ok(()) => 0,
            Err(e) => e.errno(),
        }
    }

    /// `getuid`, `geteuid`, `getgid`, `getegid` and their 16-bit forms:
    /// every process runs as root (uid and gid 0). There are no
    /// credentials yet, so there is nothing else they could be; the shell
    /// that starts programs is the machine's only user.
    fn sys_getuid(_: &Args) -> i32 {
        0
    }

    /// `gettid`: a process is one thread, whose id is its pid.
    fn sys_gettid(_: &Args) -> i32 {
        sched::current_pid() as i32
    }

    /// `sched_yield`: let the other runnable tasks go first.
    fn sys_sched_yield(_: &Args) -> i32 {
        sched::yield_now();
        0
    }

    /// `set_robust_list(head, len)`: `EINVAL` unless `len` is the size of
    /// `struct robust_list_head`, as Linux. Linux only records `head` (it
    /// is read at exit to release the futexes a dying thread held); there
    /// are no futexes and no threads here, so there is nothing to release
    /// and the head is not kept. Linux does not check the pointer either.
    fn sys_set_robust_list(a: &Args) -> i32 {
        if a[1] != ROBUST_LIST_HEAD_SIZE {
            return -EINVAL;
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utsname_fields_sit_at_65_byte_steps_nul_terminated() {
        let u = new_utsname(&UTSNAME);
        assert_eq!(u.len(), 390);
        assert_eq!(&u[..6], b"Linux\0");
        assert_eq!(&u[65..72], b"(none)\0");
        assert_eq!(&u[130..143], b"2.6.24-himem\0");
        assert_eq!(&u[260..265], b"i686\0");
        assert_eq!(&u[325..332], b"(none)\0");
        for i in 0..6 {
            assert_eq!(u[i * 65 + 64], 0, "field {} is terminated", i);
        }
    }

    #[test]
    fn a_field_too_long_is_cut_and_still_terminated() {
        let long = "x".repeat(100);
        let u = new_utsname(&[&long, "", "", "", "", ""]);
        assert!(u[..64].iter().all(|&b| b == b'x'));
        assert_eq!(u[64], 0);
        assert_eq!(u[65], 0);
    }
}
