//! The status word `wait4` stores, as Linux encodes it (`kernel/exit.c`:
//! `do_exit((code & 0xff) << 8)` from `sys_exit`, a signal's number as the
//! exit code of a killed task, `(sig << 8) | 0x7f` for a stopped one,
//! `0xffff` for one continued) and as glibc's `<bits/waitstatus.h>` reads it
//! (`WIFEXITED`, `WEXITSTATUS`, `WIFSIGNALED`, `WTERMSIG`, `WCOREDUMP`,
//! `WIFSTOPPED`, `WSTOPSIG`, `WIFCONTINUED`).
//!
//! Pure and host-tested.

#![forbid(unsafe_code)]

/// How a child ended or changed state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    /// `exit(code)`: only the low 8 bits survive, as in Linux.
    Exited(u8),
    /// Killed by a signal; `core` when it dumped core (`WCOREDUMP`).
    Signaled { sig: u8, core: bool },
    /// Stopped by a signal (`WUNTRACED`).
    Stopped(u8),
    /// Continued by `SIGCONT` (`WCONTINUED`).
    Continued,
}

impl WaitStatus {
    /// `exit(code)` and `exit_group(code)`: `(code & 0xff) << 8`.
    pub fn exited(code: i32) -> WaitStatus {
        WaitStatus::Exited(code as u8)
    }

    /// The `int` `wait4` stores at `*stat_addr`.
    pub fn encode(self) -> u32 {
        match self {
            WaitStatus::Exited(code) => (code as u32) << 8,
            WaitStatus::Signaled { sig, core } => (sig as u32 & 0x7f) | if core { 0x80 } else { 0 },
            WaitStatus::Stopped(sig) => ((sig as u32) << 8) | 0x7f,
            WaitStatus::Continued => 0xffff,
        }
    }

    /// Read a status word as glibc's macros do, in the order that makes
    /// them exclusive: `WIFCONTINUED` (0xffff), `WIFEXITED` (low 7 bits
    /// zero), `WIFSTOPPED` (low byte 0x7f), else `WIFSIGNALED`. The bits
    /// above 16 (ptrace events) are ignored, as the macros ignore them.
    pub fn decode(status: u32) -> WaitStatus {
        let status = status & 0xffff;
        if status == 0xffff {
            WaitStatus::Continued
        } else if status & 0x7f == 0 {
            WaitStatus::Exited((status >> 8) as u8)
        } else if status & 0xff == 0x7f {
            WaitStatus::Stopped((status >> 8) as u8)
        } else {
            WaitStatus::Signaled { sig: (status & 0x7f) as u8, core: status & 0x80 != 0 }
        }
    }

    /// The shell's `$?` for it: the exit code, or 128 + the signal's number.
    pub fn shell_status(self) -> u32 {
        match self {
            WaitStatus::Exited(code) => code as u32,
            WaitStatus::Signaled { sig, .. } | WaitStatus::Stopped(sig) => 128 + sig as u32,
            WaitStatus::Continued => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// glibc's macros, written out as `<bits/waitstatus.h>` has them, to
    /// check the encoding against.
    fn wifexited(s: u32) -> bool {
        s & 0x7f == 0
    }
    fn wexitstatus(s: u32) -> u32 {
        (s & 0xff00) >> 8
    }
    fn wifsignaled(s: u32) -> bool {
        (((s & 0x7f) + 1) as u8 as i8 >> 1) > 0
    }
    fn wtermsig(s: u32) -> u32 {
        s & 0x7f
    }
    fn wifstopped(s: u32) -> bool {
        s & 0xff == 0x7f
    }
    fn wifcontinued(s: u32) -> bool {
        s == 0xffff
    }

    #[test]
    fn encodings_are_linuxs() {
        assert_eq!(WaitStatus::exited(0).encode(), 0);
        assert_eq!(WaitStatus::exited(3).encode(), 0x300);
        assert_eq!(WaitStatus::exited(256 + 7).encode(), 0x700, "only the low byte of the code");
        assert_eq!(WaitStatus::exited(-1).encode(), 0xff00);
        assert_eq!(WaitStatus::Signaled { sig: 9, core: false }.encode(), 9);
        assert_eq!(WaitStatus::Signaled { sig: 11, core: true }.encode(), 0x8b);
        assert_eq!(WaitStatus::Stopped(19).encode(), 0x137f);
        assert_eq!(WaitStatus::Continued.encode(), 0xffff);
    }

    /// Every status the kernel can make reads back as itself, and glibc's
    /// macros agree on which kind it is.
    #[test]
    fn every_status_round_trips_and_glibc_agrees() {
        let mut all = vec![WaitStatus::Continued];
        for v in 0..=255u8 {
            all.push(WaitStatus::Exited(v));
        }
        for sig in 1..=64u8 {
            all.push(WaitStatus::Signaled { sig, core: false });
            all.push(WaitStatus::Signaled { sig, core: true });
            all.push(WaitStatus::Stopped(sig));
        }
        for w in all {
            let s = w.encode();
            assert_eq!(WaitStatus::decode(s), w, "{:#x}", s);
            assert_eq!(WaitStatus::decode(s | 0x3_0000), w, "ptrace event bits ignored");
            match w {
                WaitStatus::Exited(c) => assert!(wifexited(s) && wexitstatus(s) == c as u32 && !wifsignaled(s)),
                WaitStatus::Signaled { sig, .. } => {
                    assert!(wifsignaled(s) && wtermsig(s) == sig as u32 && !wifexited(s) && !wifstopped(s))
                }
                WaitStatus::Stopped(sig) => assert!(wifstopped(s) && wexitstatus(s) == sig as u32 && !wifsignaled(s)),
                WaitStatus::Continued => assert!(wifcontinued(s) && !wifexited(s) && !wifsignaled(s)),
            }
        }
    }

    #[test]
    fn shell_status_is_bashs_dollar_question() {
        assert_eq!(WaitStatus::Exited(3).shell_status(), 3);
        assert_eq!(WaitStatus::Signaled { sig: 9, core: false }.shell_status(), 137);
        assert_eq!(WaitStatus::Signaled { sig: 11, core: true }.shell_status(), 139);
    }
}
