//! The small system calls, those that touch neither a process's memory
//! map nor the process table, each file named after the Linux file that
//! holds them: `uts` (kernel/sys.c's `uname`, the user and thread ids,
//! `sched_yield`, and futex's `set_robust_list`), `time` (kernel/time/:
//! the clocks, their resolutions and sleeping), `stat` (fs/stat.c: stat of
//! the console, `readlink`), `tty` (drivers/tty/: `ioctl` and `read` on
//! the console).
//!
//! Each file has its pure part (the layouts user space sees, the argument
//! checks), tested on the host, and its `TABLE` of handlers, which
//! `syscalls::dispatch` searches.
//!
//! There is no file system: fds 0, 1 and 2 are the console, as the fds
//! Linux's `init` gets (init/main.c opens `/dev/console` for them), and
//! every path names nothing (`-ENOENT`).

pub mod stat;
pub mod time;
pub mod tty;
pub mod uts;

/// Linux's errno values used here (include/asm-generic/errno-base.h,
/// errno.h), as positive numbers: handlers return their negation.
pub const EPERM: i32 = 1;
pub const ENOENT: i32 = 2;
pub const EINTR: i32 = 4;
pub const EBADF: i32 = 9;
pub const EFAULT: i32 = 14;
pub const ENOTDIR: i32 = 20;
pub const EINVAL: i32 = 22;
pub const ENOTTY: i32 = 25;
pub const ENAMETOOLONG: i32 = 36;
pub const EOPNOTSUPP: i32 = 95;

/// The fds a process has: 0, 1 and 2, all the console.
pub const fn is_console_fd(fd: i32) -> bool {
    0 <= fd && fd <= 2
}

/// `AT_FDCWD`: a path relative to the working directory.
pub const AT_FDCWD: i32 = -100;

/// Linux's `PATH_MAX`, the trailing NUL included.
pub const PATH_MAX: usize = 4096;

/// What a path names here, Linux's `filename_lookup` over no file system:
/// the file of `dirfd` for an empty path allowed (`AT_EMPTY_PATH`, or
/// readlink's own rule), else nothing. The errors come in Linux's order: an
/// empty path not allowed is `ENOENT`; a relative path needs `dirfd` to be
/// `AT_FDCWD` or an open directory (the console is not one: `ENOTDIR`;
/// any other number is not open: `EBADF`); an absolute path ignores
/// `dirfd`. `Ok(fd)` is the console fd the empty path names.
pub fn lookup(dirfd: i32, path: &[u8], empty_ok: bool) -> Result<i32, i32> {
    if path.is_empty() {
        if !empty_ok {
            return Err(ENOENT);
        }
        return match dirfd {
            fd if is_console_fd(fd) => Ok(fd),
            // The working directory: there is none to name.
            AT_FDCWD => Err(ENOENT),
            _ => Err(EBADF),
        };
    }
    if path[0] == b'/' || dirfd == AT_FDCWD {
        return Err(ENOENT);
    }
    Err(if is_console_fd(dirfd) { ENOTDIR } else { EBADF })
}

/// Bytes of a path kept by `getname`: all `lookup` looks at.
pub const NAME_PREFIX: usize = 32;

/// Read the NUL-terminated path at user `ptr` (Linux's `getname`, which
/// copies it all; here no path names anything, so only its first
/// `NAME_PREFIX` bytes are kept in `buf`, and the rest is scanned in
/// small steps rather than copied to a `PATH_MAX` buffer on the kernel
/// stack). `EFAULT` for a bad pointer, `ENAMETOOLONG` when there is no NUL
/// in `PATH_MAX` bytes.
#[cfg(target_os = "none")]
pub fn getname(ptr: usize, buf: &mut [u8; NAME_PREFIX]) -> Result<&[u8], i32> {
    use crate::arch::x86::lib::uaccess::strncpy_from_user;
    let first = strncpy_from_user(buf, ptr).map_err(|_| EFAULT)?;
    if first < NAME_PREFIX {
        return Ok(&buf[..first]);
    }
    let mut chunk = [0u8; 128];
    let mut len = NAME_PREFIX;
    while len < PATH_MAX {
        let n = strncpy_from_user(&mut chunk, ptr + len).map_err(|_| EFAULT)?;
        len += n;
        if n < chunk.len() {
            break;
        }
    }
    if len >= PATH_MAX {
        return Err(ENAMETOOLONG);
    }
    Ok(&buf[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_follows_linux_order() {
        assert_eq!(lookup(1, b"", true), Ok(1));
        assert_eq!(lookup(1, b"", false), Err(ENOENT));
        assert_eq!(lookup(AT_FDCWD, b"", true), Err(ENOENT));
        assert_eq!(lookup(5, b"", true), Err(EBADF));
        assert_eq!(lookup(5, b"/x", false), Err(ENOENT));
        assert_eq!(lookup(5, b"x", false), Err(EBADF));
        assert_eq!(lookup(-1, b"x", false), Err(EBADF));
        assert_eq!(lookup(2, b"x", false), Err(ENOTDIR));
        assert_eq!(lookup(AT_FDCWD, b"x", false), Err(ENOENT));
        assert_eq!(lookup(AT_FDCWD, b"/proc/self/exe", false), Err(ENOENT));
    }
}
