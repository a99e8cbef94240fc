//! `fstat64`, `newfstat` (i386's `fstat`), `statx`, `readlink` and
//! `readlinkat` (Linux's fs/stat.c) over what there is: the console on
//! fds 0, 1 and 2, and no file system.
//!
//! The console is shown as Linux shows `/dev/console` to the programs that
//! `init/main.c` starts on it (its fds 0-2): a character device 5:1, mode
//! `crw-------` owned by root, on devtmpfs (block size 4096, one link,
//! size 0). glibc's stdio looks at `st_mode` (a character device, then
//! `TCGETS` to be sure it is a terminal: line buffering) and takes
//! `st_blksize` as its buffer size. The device it lies on (0:5) and its
//! inode (1) are made up: there is no file system to number them; its
//! times are the boot time, when devtmpfs would have made the node.

use super::EINVAL;

pub const S_IFCHR: u32 = 0o020000;

/// Linux's `struct kstat`, as much of it as is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kstat {
    pub dev: (u32, u32),
    pub ino: u64,
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: (u32, u32),
    pub size: i64,
    pub blksize: u32,
    pub blocks: u64,
    /// atime, mtime and ctime: (seconds, nanoseconds).
    pub time: (u32, u32),
}

/// The console's `kstat`, its times at `boot_secs`/`boot_nsec`.
pub fn console_kstat(boot_secs: u32, boot_nsec: u32) -> Kstat {
    Kstat {
        dev: (0, 5),
        ino: 1,
        mode: S_IFCHR | 0o600,
        nlink: 1,
        uid: 0,
        gid: 0,
        rdev: (5, 1),
        size: 0,
        blksize: 4096,
        blocks: 0,
        time: (boot_secs, boot_nsec),
    }
}

/// Linux's `new_encode_dev`: 12 bits of major, 20 of minor, the low byte
/// of the minor where the old 8:8 encoding had it.
pub fn new_encode_dev((major, minor): (u32, u32)) -> u32 {
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

fn put_times(b: &mut [u8], at: usize, s: &Kstat) {
    for i in 0..3 {
        put(b, at + i * 8, &s.time.0.to_le_bytes());
        put(b, at + i * 8 + 4, &s.time.1.to_le_bytes());
    }
}

/// i386's `struct stat64` (96 bytes, `cp_new_stat64`); the inode number is
/// there twice, cut to 32 bits in `__st_ino` and whole in `st_ino`.
pub fn stat64(s: &Kstat) -> [u8; 96] {
    let mut b = [0u8; 96];
    put(&mut b, 0, &(new_encode_dev(s.dev) as u64).to_le_bytes());
    put(&mut b, 12, &(s.ino as u32).to_le_bytes());
    put(&mut b, 16, &s.mode.to_le_bytes());
    put(&mut b, 20, &s.nlink.to_le_bytes());
    put(&mut b, 24, &s.uid.to_le_bytes());
    put(&mut b, 28, &s.gid.to_le_bytes());
    put(&mut b, 32, &(new_encode_dev(s.rdev) as u64).to_le_bytes());
    put(&mut b, 44, &s.size.to_le_bytes());
    put(&mut b, 52, &s.blksize.to_le_bytes());
    put(&mut b, 56, &s.blocks.to_le_bytes());
    put_times(&mut b, 64, s);
    put(&mut b, 88, &s.ino.to_le_bytes());
    b
}

/// i386's `struct stat` (64 bytes, `cp_new_stat`), 16-bit mode, links and
/// ids. Linux's `EOVERFLOW` for values that do not fit cannot happen for
/// the console's.
pub fn stat(s: &Kstat) -> [u8; 64] {
    let mut b = [0u8; 64];
    put(&mut b, 0, &new_encode_dev(s.dev).to_le_bytes());
    put(&mut b, 4, &(s.ino as u32).to_le_bytes());
    put(&mut b, 8, &(s.mode as u16).to_le_bytes());
    put(&mut b, 10, &(s.nlink as u16).to_le_bytes());
    put(&mut b, 12, &(s.uid as u16).to_le_bytes());
    put(&mut b, 14, &(s.gid as u16).to_le_bytes());
    put(&mut b, 16, &new_encode_dev(s.rdev).to_le_bytes());
    put(&mut b, 20, &(s.size as u32).to_le_bytes());
    put(&mut b, 24, &s.blksize.to_le_bytes());
    put(&mut b, 28, &(s.blocks as u32).to_le_bytes());
    put_times(&mut b, 32, s);
    b
}

/// `STATX_BASIC_STATS`: type, mode, nlink, uid, gid, atime, mtime, ctime,
/// ino, size, blocks: what is filled (no birth time, no mount id).
pub const STATX_BASIC_STATS: u32 = 0x7ff;
pub const STATX_RESERVED: u32 = 0x8000_0000;
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
pub const AT_NO_AUTOMOUNT: u32 = 0x800;
pub const AT_EMPTY_PATH: u32 = 0x1000;
pub const AT_STATX_SYNC_TYPE: u32 = 0x6000;

/// `struct statx` (256 bytes, `cp_statx`).
pub fn statx(s: &Kstat) -> [u8; 256] {
    let mut b = [0u8; 256];
    put(&mut b, 0, &STATX_BASIC_STATS.to_le_bytes());
    put(&mut b, 4, &s.blksize.to_le_bytes());
    put(&mut b, 16, &s.nlink.to_le_bytes());
    put(&mut b, 20, &s.uid.to_le_bytes());
    put(&mut b, 24, &s.gid.to_le_bytes());
    put(&mut b, 28, &(s.mode as u16).to_le_bytes());
    put(&mut b, 32, &s.ino.to_le_bytes());
    put(&mut b, 40, &s.size.to_le_bytes());
    put(&mut b, 48, &s.blocks.to_le_bytes());
    // atime at 64, btime at 80 (not filled), ctime at 96, mtime at 112.
    for at in [64, 96, 112] {
        put(&mut b, at, &(s.time.0 as i64).to_le_bytes());
        put(&mut b, at + 8, &s.time.1.to_le_bytes());
    }
    put(&mut b, 128, &s.rdev.0.to_le_bytes());
    put(&mut b, 132, &s.rdev.1.to_le_bytes());
    put(&mut b, 136, &s.dev.0.to_le_bytes());
    put(&mut b, 140, &s.dev.1.to_le_bytes());
    b
}

/// `statx`'s checks of `flags` and `mask` (Linux's `do_statx` and
/// `vfs_statx`): `EINVAL` for a reserved mask bit, both sync types at
/// once, or a flag it does not know.
pub fn statx_check(flags: u32, mask: u32) -> Result<(), i32> {
    if mask & STATX_RESERVED != 0 || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE {
        return Err(EINVAL);
    }
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE) != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

/// `readlinkat`'s answer once the path is read: `EINVAL` for a size not
/// positive (checked first, as Linux), else what the lookup says; the
/// empty path names `dirfd`'s file (Linux looks it up with `LOOKUP_EMPTY`)
/// which, the console, is no link: `ENOENT`, Linux's answer for an empty
/// path naming no link. Nothing here is a symbolic link: there are none
/// (and no `/proc`: glibc's static startup reads `/proc/self/exe` only to
/// know its `$ORIGIN` for `dlopen`, and takes a failure as "unknown").
pub fn readlink_result(dirfd: i32, path: &[u8], bufsiz: i32) -> i32 {
    if bufsiz <= 0 {
        return -EINVAL;
    }
    match super::lookup(dirfd, path, true) {
        Ok(_) => -super::ENOENT,
        Err(e) => -e,
    }
}

#[cfg(target_os = "none")]
pub use calls::TABLE;

#[cfg(target_os = "none")]
mod calls {
    use super::*;
    use crate::arch::x86::lib::uaccess::copy_to_user;
    use crate::process::sys::{getname, is_console_fd, lookup, time, EBADF, NAME_PREFIX};
    use crate::process::syscalls::{Args, SysCall};

    pub const TABLE: &[(u32, SysCall)] =
        &[(85, sys_readlink), (108, sys_newfstat), (197, sys_fstat64), (305, sys_readlinkat), (383, sys_statx)];

    fn kstat() -> Kstat {
        let boot = time::realtime_offset();
        console_kstat((boot / time::NSEC_PER_SEC) as u32, (boot % time::NSEC_PER_SEC) as u32)
    }

    fn fstat_into(a: &Args, encode: impl Fn(&Kstat) -> i32) -> i32 {
        if !is_console_fd(a[0] as i32) {
            return -EBADF;
        }
        encode(&kstat())
    }

    fn put(ptr: usize, bytes: &[u8]) -> i32 {
        match copy_to_user(ptr, bytes) {
            Ok(()) => 0,
            Err(e) => e.errno(),
        }
    }

    /// `fstat64(fd, struct stat64 *)`.
    fn sys_fstat64(a: &Args) -> i32 {
        fstat_into(a, |s| put(a[1] as usize, &stat64(s)))
    }

    /// `fstat(fd, struct stat *)`, Linux i386's `sys_newfstat`.
    fn sys_newfstat(a: &Args) -> i32 {
        fstat_into(a, |s| put(a[1] as usize, &stat(s)))
    }

    /// `statx(dirfd, path, flags, mask, buf)`. A NULL path with
    /// `AT_EMPTY_PATH` is the empty path, as Linux allows since 6.11.
    fn sys_statx(a: &Args) -> i32 {
        let (dirfd, flags, mask) = (a[0] as i32, a[2], a[3]);
        let mut buf = [0u8; NAME_PREFIX];
        let path = if a[1] == 0 && flags & AT_EMPTY_PATH != 0 {
            &[][..]
        } else {
            match getname(a[1] as usize, &mut buf) {
                Ok(p) => p,
                Err(e) => return -e,
            }
        };
        if let Err(e) = statx_check(flags, mask) {
            return -e;
        }
        match lookup(dirfd, path, flags & AT_EMPTY_PATH != 0) {
            Ok(_) => put(a[4] as usize, &statx(&kstat())),
            Err(e) => -e,
        }
    }

    fn readlinkat(dirfd: i32, path: usize, bufsiz: i32) -> i32 {
        if bufsiz <= 0 {
            return -EINVAL;
        }
        let mut buf = [0u8; NAME_PREFIX];
        match getname(path, &mut buf) {
            Ok(p) => readlink_result(dirfd, p, bufsiz),
            Err(e) => -e,
        }
    }

    /// `readlink(path, buf, bufsiz)`: `readlinkat(AT_FDCWD, ...)`.
    fn sys_readlink(a: &Args) -> i32 {
        readlinkat(crate::process::sys::AT_FDCWD, a[0] as usize, a[2] as i32)
    }

    fn sys_readlinkat(a: &Args) -> i32 {
        readlinkat(a[0] as i32, a[1] as usize, a[3] as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::sys::{AT_FDCWD, EBADF, ENOENT, ENOTDIR};

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }
    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    #[test]
    fn devices_encode_as_linux_new_encode_dev() {
        assert_eq!(new_encode_dev((5, 1)), 0x501);
        assert_eq!(new_encode_dev((136, 0)), 0x8800);
        assert_eq!(new_encode_dev((4, 64)), 0x440);
        assert_eq!(new_encode_dev((259, 0x12345)), 0x12310345);
    }

    #[test]
    fn stat64_of_the_console() {
        let s = console_kstat(1_700_000_000, 5);
        let b = stat64(&s);
        assert_eq!(u64_at(&b, 0), 5);
        assert_eq!(u32_at(&b, 12), 1);
        assert_eq!(u32_at(&b, 16), 0o020600);
        assert_eq!(u32_at(&b, 20), 1);
        assert_eq!((u32_at(&b, 24), u32_at(&b, 28)), (0, 0));
        assert_eq!(u64_at(&b, 32), 0x501);
        assert_eq!(u64_at(&b, 44), 0);
        assert_eq!(u32_at(&b, 52), 4096);
        assert_eq!(u64_at(&b, 56), 0);
        for t in [64, 72, 80] {
            assert_eq!((u32_at(&b, t), u32_at(&b, t + 4)), (1_700_000_000, 5));
        }
        assert_eq!(u64_at(&b, 88), 1);
    }

    #[test]
    fn old_stat_of_the_console() {
        let b = stat(&console_kstat(7, 8));
        assert_eq!(u32_at(&b, 0), 5);
        assert_eq!(u32_at(&b, 4), 1);
        assert_eq!(u32_at(&b, 8), 0o020600 | (1 << 16), "mode then nlink, 16 bits each");
        assert_eq!(u32_at(&b, 12), 0);
        assert_eq!(u32_at(&b, 16), 0x501);
        assert_eq!(u32_at(&b, 24), 4096);
        assert_eq!((u32_at(&b, 32), u32_at(&b, 52)), (7, 8));
        assert_eq!((u32_at(&b, 56), u32_at(&b, 60)), (0, 0));
    }

    #[test]
    fn statx_of_the_console() {
        let b = statx(&console_kstat(7, 8));
        assert_eq!(u32_at(&b, 0), STATX_BASIC_STATS);
        assert_eq!(u32_at(&b, 4), 4096);
        assert_eq!(u32_at(&b, 16), 1);
        assert_eq!(u32_at(&b, 28) & 0xffff, 0o020600);
        assert_eq!(u64_at(&b, 32), 1);
        assert_eq!((u64_at(&b, 64), u32_at(&b, 72)), (7, 8));
        assert_eq!(u64_at(&b, 80), 0, "no birth time");
        assert_eq!((u64_at(&b, 112), u32_at(&b, 120)), (7, 8));
        assert_eq!((u32_at(&b, 128), u32_at(&b, 132)), (5, 1));
        assert_eq!((u32_at(&b, 136), u32_at(&b, 140)), (0, 5));
    }

    #[test]
    fn statx_refuses_what_linux_refuses() {
        assert_eq!(statx_check(AT_EMPTY_PATH, STATX_BASIC_STATS), Ok(()));
        assert_eq!(statx_check(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | 0x2000, 0xfff), Ok(()));
        assert_eq!(statx_check(0x6000, 0), Err(EINVAL));
        assert_eq!(statx_check(0x8000_0000, 0), Err(EINVAL));
        assert_eq!(statx_check(0x1, 0), Err(EINVAL));
        assert_eq!(statx_check(0, STATX_RESERVED), Err(EINVAL));
    }

    #[test]
    fn readlink_answers_as_linux_with_no_links() {
        assert_eq!(readlink_result(AT_FDCWD, b"/proc/self/exe", 4096), -ENOENT);
        assert_eq!(readlink_result(AT_FDCWD, b"x", 0), -EINVAL);
        assert_eq!(readlink_result(AT_FDCWD, b"x", -1), -EINVAL);
        assert_eq!(readlink_result(AT_FDCWD, b"", 100), -ENOENT);
        assert_eq!(readlink_result(5, b"/x", 100), -ENOENT);
        assert_eq!(readlink_result(5, b"x", 100), -EBADF);
        assert_eq!(readlink_result(1, b"x", 100), -ENOTDIR);
        assert_eq!(readlink_result(1, b"", 100), -ENOENT);
    }
}
