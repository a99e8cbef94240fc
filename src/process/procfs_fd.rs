//! The two `/proc` files a Linux program uses to read and set its OOM
//! killer score, as real files behind `open`/`openat`, `read`, `write` and
//! `close` (Linux's fs/proc/base.c: `oom_score_adj` read-write,
//! `oom_score` read-only): `/proc/self/oom_score_adj`,
//! `/proc/PID/oom_score_adj` and `/proc/PID/oom_score`. There is no file
//! system: every other path is `ENOENT`, as before, and fds 0, 1 and 2 stay
//! the console (their `read`/`write` go on to the console calls).
//!
//! An open file remembers the pid it names and its read offset; its text
//! is made at each read, as Linux's `simple_read_from_buffer` and seq_file
//! do. Open files are not inherited by fork (nothing here needs it).
//!
//! The path and number parsing are pure and tested on the host.

use crate::mm::oom_kill::{OOM_SCORE_ADJ_MAX, OOM_SCORE_ADJ_MIN};

/// Which file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcFileKind {
    OomScoreAdj,
    OomScore,
}

/// Whose file a path names: the caller's (`self`) or a pid's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    Current,
    Pid(u32),
}

/// `/proc/self/oom_score_adj`, `/proc/PID/oom_score` and the like; `None`
/// for any other path (Linux's pid directory takes a decimal pid without
/// sign or leading zeros, `name_to_int`).
pub fn parse_path(path: &[u8]) -> Option<(Who, ProcFileKind)> {
    let rest = path.strip_prefix(b"/proc/")?;
    let slash = rest.iter().position(|&b| b == b'/')?;
    let (dir, file) = (&rest[..slash], &rest[slash + 1..]);
    let who = if dir == b"self" {
        Who::Current
    } else {
        if dir.is_empty() || dir.len() > 10 || !dir.iter().all(u8::is_ascii_digit) || (dir[0] == b'0' && dir.len() > 1)
        {
            return None;
        }
        let n = core::str::from_utf8(dir).ok()?.parse::<u32>().ok()?;
        if n == 0 || n > i32::MAX as u32 {
            return None;
        }
        Who::Pid(n)
    };
    let kind = match file {
        b"oom_score_adj" => ProcFileKind::OomScoreAdj,
        b"oom_score" => ProcFileKind::OomScore,
        _ => return None,
    };
    Some((who, kind))
}

/// Linux's errno values used here.
pub const ENOENT: i32 = 2;
pub const EBADF: i32 = 9;
pub const EACCES: i32 = 13;
pub const EFAULT: i32 = 14;
pub const EINVAL: i32 = 22;
pub const EMFILE: i32 = 24;
pub const ERANGE: i32 = 34;

/// What `proc_oom_score_adj_write` takes of a write: at most
/// `PROC_NUMBUF - 1` bytes (12); the rest is ignored and the write still
/// returns that count.
pub const PROC_NUMBUF: usize = 13;

/// Linux's `strstrip` then `kstrtoint(s, 0, ...)`: surrounding white space
/// dropped, a sign, then decimal, `0x` hex or `0` octal; one trailing
/// newline is allowed (strstrip has taken it already). `EINVAL` for
/// anything else, `ERANGE` past an `int`.
pub fn kstrtoint(s: &[u8]) -> Result<i32, i32> {
    let s = s.trim_ascii();
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if s.len() > 2 && s[0] == b'0' && (s[1] | 0x20) == b'x' {
        (16, &s[2..])
    } else if s.len() > 1 && s[0] == b'0' {
        (8, &s[1..])
    } else {
        (10, s)
    };
    if digits.is_empty() {
        return Err(EINVAL);
    }
    let mut v: i64 = 0;
    for &c in digits {
        let d = (c as char).to_digit(radix).ok_or(EINVAL)? as i64;
        v = v * radix as i64 + d;
        if v > i32::MAX as i64 + 1 {
            return Err(ERANGE);
        }
    }
    let v = if neg { -v } else { v };
    i32::try_from(v).map_err(|_| ERANGE)
}

/// The value a write to `oom_score_adj` sets (`proc_oom_score_adj_write`):
/// the first `PROC_NUMBUF - 1` bytes parsed, `EINVAL` outside -1000..=1000.
pub fn parse_oom_score_adj(written: &[u8]) -> Result<i16, i32> {
    let n = written.len().min(PROC_NUMBUF - 1);
    let v = kstrtoint(&written[..n])?;
    if !(OOM_SCORE_ADJ_MIN as i32..=OOM_SCORE_ADJ_MAX as i32).contains(&v) {
        return Err(EINVAL);
    }
    Ok(v as i16)
}

/// One open `/proc` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcFile {
    pub pid: u32,
    pub kind: ProcFileKind,
    pub readable: bool,
    pub writable: bool,
    pub pos: usize,
}

/// Fds 3 and up of a process.
pub const MAX_PROC_FDS: usize = 16;
pub const FIRST_FD: usize = 3;

#[derive(Clone, Copy, Debug, Default)]
pub struct FdTable([Option<ProcFile>; MAX_PROC_FDS]);

impl FdTable {
    pub const fn new() -> FdTable {
        FdTable([None; MAX_PROC_FDS])
    }

    /// File it under the lowest free fd (Linux's `get_unused_fd_flags`).
    pub fn install(&mut self, f: ProcFile) -> Result<i32, i32> {
        let i = self.0.iter().position(Option::is_none).ok_or(EMFILE)?;
        self.0[i] = Some(f);
        Ok((i + FIRST_FD) as i32)
    }

    pub fn get_mut(&mut self, fd: i32) -> Option<&mut ProcFile> {
        let i = usize::try_from(fd).ok()?.checked_sub(FIRST_FD)?;
        self.0.get_mut(i)?.as_mut()
    }

    pub fn close(&mut self, fd: i32) -> Result<(), i32> {
        let i = usize::try_from(fd).ok().and_then(|f| f.checked_sub(FIRST_FD)).ok_or(EBADF)?;
        match self.0.get_mut(i) {
            Some(slot @ Some(_)) => {
                *slot = None;
                Ok(())
            }
            _ => Err(EBADF),
        }
    }
}

#[cfg(target_os = "none")]
pub use kernel::TABLE;

#[cfg(target_os = "none")]
mod kernel {
    use super::*;
    use crate::arch::x86::lib::uaccess::{copy_from_user, copy_to_user};
    use crate::kernel::printk::LineBuf;
    use crate::kernel::sched;
    use crate::process::sys::{getname, lookup, NAME_PREFIX};
    use crate::process::syscalls::{dispatch_console, Args, SysCall};
    use crate::process::task;
    use core::fmt::Write;

    pub const NR_READ: u32 = 3;
    pub const NR_WRITE: u32 = 4;
    pub const NR_OPEN: u32 = 5;
    pub const NR_CLOSE: u32 = 6;
    pub const NR_OPENAT: u32 = 295;

    /// Searched before every other table: these calls reach the console
    /// calls for fds 0, 1 and 2.
    pub const TABLE: &[(u32, SysCall)] = &[
        (NR_READ, sys_read),
        (NR_WRITE, sys_write),
        (NR_OPEN, sys_open),
        (NR_CLOSE, sys_close),
        (NR_OPENAT, sys_openat),
    ];

    const O_ACCMODE: u32 = 3;
    const O_WRONLY: u32 = 1;
    const O_RDWR: u32 = 2;

    fn sys_open(a: &Args) -> i32 {
        do_open(crate::process::sys::AT_FDCWD, a[0] as usize, a[1])
    }

    fn sys_openat(a: &Args) -> i32 {
        do_open(a[0] as i32, a[1] as usize, a[2])
    }

    /// Linux's `do_sys_open` over the files above.
    fn do_open(dirfd: i32, path: usize, flags: u32) -> i32 {
        let mut buf = [0u8; NAME_PREFIX];
        let path = match getname(path, &mut buf) {
            Ok(p) => p,
            Err(e) => return -e,
        };
        // A path of NAME_PREFIX bytes or more was cut by getname; none of
        // the files' paths is that long (the longest, with pid 2^31-1, has 30).
        let parsed = if path.len() < NAME_PREFIX { parse_path(path) } else { None };
        let Some((who, kind)) = parsed else {
            return match lookup(dirfd, path, false) {
                Ok(_) => -ENOENT,
                Err(e) => -e,
            };
        };
        let pid = match who {
            Who::Current => sched::current_pid(),
            Who::Pid(p) => p,
        };
        if task::find(pid).is_none() {
            return -ENOENT;
        }
        let mode = flags & O_ACCMODE;
        let writable = mode == O_WRONLY || mode == O_RDWR;
        // oom_score is 0444 (S_IRUGO).
        if writable && kind == ProcFileKind::OomScore {
            return -EACCES;
        }
        let file = ProcFile { pid, kind, readable: mode != O_WRONLY, writable, pos: 0 };
        let Some(me) = task::current() else { return -EBADF };
        let r = me.inner.lock().files.install(file);
        match r {
            Ok(fd) => fd,
            Err(e) => -e,
        }
    }

    fn sys_close(a: &Args) -> i32 {
        let fd = a[0] as i32;
        if crate::process::sys::is_console_fd(fd) {
            // The console stays open: nothing here could open it again.
            return 0;
        }
        let Some(me) = task::current() else { return -EBADF };
        let r = me.inner.lock().files.close(fd);
        match r {
            Ok(()) => 0,
            Err(e) => -e,
        }
    }

    /// The open file `fd` of the caller, copied out (the lock is not held
    /// across user copies, which may fault and sleep).
    fn file(fd: i32) -> Result<ProcFile, i32> {
        let me = task::current().ok_or(EBADF)?;
        let mut inner = me.inner.lock();
        inner.files.get_mut(fd).copied().ok_or(EBADF)
    }

    fn set_pos(fd: i32, pos: usize) {
        if let Some(me) = task::current() {
            if let Some(f) = me.inner.lock().files.get_mut(fd) {
                f.pos = pos;
            }
        }
    }

    /// The file's text now: `N\n`.
    fn contents(f: &ProcFile) -> Result<LineBuf<16>, i32> {
        let p = task::find(f.pid).ok_or(ESRCH_AS_READ)?;
        let mut out = LineBuf::<16>::new();
        let v: i64 = match f.kind {
            ProcFileKind::OomScoreAdj => p.oom_score_adj() as i64,
            ProcFileKind::OomScore => crate::process::oom::oom_score(&p) as i64,
        };
        let _ = writeln!(out, "{}", v);
        Ok(out)
    }

    /// A read of a file whose process has been reaped: Linux's pid
    /// directory is gone and its files read `ESRCH`.
    const ESRCH_AS_READ: i32 = 3;

    fn sys_read(a: &Args) -> i32 {
        let (fd, buf, count) = (a[0] as i32, a[1] as usize, a[2] as usize);
        if crate::process::sys::is_console_fd(fd) {
            return dispatch_console(NR_READ, a);
        }
        let f = match file(fd) {
            Ok(f) => f,
            Err(e) => return -e,
        };
        if !f.readable {
            return -EBADF;
        }
        let text = match contents(&f) {
            Ok(t) => t,
            Err(e) => return -e,
        };
        let bytes = text.as_bytes();
        let from = f.pos.min(bytes.len());
        let n = (bytes.len() - from).min(count);
        if n == 0 {
            return 0;
        }
        if copy_to_user(buf, &bytes[from..from + n]).is_err() {
            return -EFAULT;
        }
        set_pos(fd, from + n);
        n as i32
    }

    fn sys_write(a: &Args) -> i32 {
        let (fd, buf, count) = (a[0] as i32, a[1] as usize, a[2] as usize);
        if crate::process::sys::is_console_fd(fd) {
            return dispatch_console(NR_WRITE, a);
        }
        let f = match file(fd) {
            Ok(f) => f,
            Err(e) => return -e,
        };
        if !f.writable {
            return -EBADF;
        }
        let n = count.min(PROC_NUMBUF - 1);
        let mut bytes = [0u8; PROC_NUMBUF - 1];
        if copy_from_user(&mut bytes[..n], buf).is_err() {
            return -EFAULT;
        }
        let adj = match parse_oom_score_adj(&bytes[..n]) {
            Ok(v) => v,
            Err(e) => return -e,
        };
        let Some(p) = task::find(f.pid) else { return -ESRCH_AS_READ };
        p.set_oom_score_adj(adj);
        n as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_two_files_only() {
        assert_eq!(parse_path(b"/proc/self/oom_score_adj"), Some((Who::Current, ProcFileKind::OomScoreAdj)));
        assert_eq!(parse_path(b"/proc/42/oom_score"), Some((Who::Pid(42), ProcFileKind::OomScore)));
        for bad in [
            &b"/proc/self/oom_adj"[..],
            b"/proc/042/oom_score",
            b"/proc/0/oom_score",
            b"/proc/+4/oom_score",
            b"/proc//oom_score",
            b"/proc/self/oom_score_adj/",
            b"proc/self/oom_score",
            b"/proc/99999999999/oom_score",
            b"/proc/self",
            b"/dev/console",
        ] {
            assert_eq!(parse_path(bad), None, "{:?}", core::str::from_utf8(bad));
        }
    }

    #[test]
    fn writes_parse_as_kstrtoint() {
        assert_eq!(parse_oom_score_adj(b"500\n"), Ok(500));
        assert_eq!(parse_oom_score_adj(b"  -1000 \n"), Ok(-1000));
        assert_eq!(parse_oom_score_adj(b"+7"), Ok(7));
        assert_eq!(parse_oom_score_adj(b"0x10"), Ok(16));
        assert_eq!(parse_oom_score_adj(b"010"), Ok(8));
        assert_eq!(parse_oom_score_adj(b"0"), Ok(0));
        assert_eq!(parse_oom_score_adj(b"1001"), Err(EINVAL));
        assert_eq!(parse_oom_score_adj(b"-1001"), Err(EINVAL));
        assert_eq!(parse_oom_score_adj(b"abc"), Err(EINVAL));
        assert_eq!(parse_oom_score_adj(b""), Err(EINVAL));
        assert_eq!(parse_oom_score_adj(b"5 5"), Err(EINVAL));
        assert_eq!(parse_oom_score_adj(b"99999999999"), Err(ERANGE));
        // Only 12 bytes are read: "100" then 9 spaces, the rest ignored.
        assert_eq!(parse_oom_score_adj(b"100         garbage"), Ok(100));
        assert_eq!(kstrtoint(b"-2147483648"), Ok(i32::MIN));
        assert_eq!(kstrtoint(b"2147483648"), Err(ERANGE));
        assert_eq!(kstrtoint(b"08"), Err(EINVAL));
    }

    #[test]
    fn fds_are_the_lowest_free_from_3() {
        let f = ProcFile { pid: 1, kind: ProcFileKind::OomScore, readable: true, writable: false, pos: 0 };
        let mut t = FdTable::new();
        assert_eq!(t.install(f), Ok(3));
        assert_eq!(t.install(f), Ok(4));
        assert_eq!(t.close(3), Ok(()));
        assert_eq!(t.close(3), Err(EBADF));
        assert_eq!(t.close(2), Err(EBADF));
        assert_eq!(t.close(-1), Err(EBADF));
        assert_eq!(t.install(f), Ok(3));
        assert!(t.get_mut(4).is_some() && t.get_mut(5).is_none() && t.get_mut(0).is_none());
        for _ in 2..MAX_PROC_FDS {
            t.install(f).unwrap();
        }
        assert_eq!(t.install(f), Err(EMFILE));
    }
}
