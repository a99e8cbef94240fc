//! Signal numbers, names and descriptions: Linux i386's numbers
//! (`arch/x86/include/asm/signal.h`), the names bash's `kill -l` prints and
//! `kill` reads (bash `siglist.c`, `decode_signal` in `builtins/common.c`),
//! and the texts glibc's `strsignal` gives (`sysdeps/generic/siglist.h`).
//!
//! Real-time signals are numbered as a glibc program sees them: the C
//! library keeps 32 and 33 for its threads, so `SIGRTMIN` is 34 and bash
//! lists neither 32 nor 33 (`kill -l` goes from `31) SIGSYS` to
//! `34) SIGRTMIN`). The kernel itself accepts all of 1..=64.
//!
//! Pure and host-tested; `shell::jobs` builds `kill` and `wait` on it.

#![forbid(unsafe_code)]

use core::fmt;

pub const SIGHUP: u32 = 1;
pub const SIGINT: u32 = 2;
pub const SIGQUIT: u32 = 3;
pub const SIGILL: u32 = 4;
pub const SIGTRAP: u32 = 5;
pub const SIGABRT: u32 = 6;
pub const SIGBUS: u32 = 7;
pub const SIGFPE: u32 = 8;
pub const SIGKILL: u32 = 9;
pub const SIGUSR1: u32 = 10;
pub const SIGSEGV: u32 = 11;
pub const SIGUSR2: u32 = 12;
pub const SIGPIPE: u32 = 13;
pub const SIGALRM: u32 = 14;
pub const SIGTERM: u32 = 15;
pub const SIGSTKFLT: u32 = 16;
pub const SIGCHLD: u32 = 17;
pub const SIGCONT: u32 = 18;
pub const SIGSTOP: u32 = 19;
pub const SIGTSTP: u32 = 20;
pub const SIGTTIN: u32 = 21;
pub const SIGTTOU: u32 = 22;
pub const SIGURG: u32 = 23;
pub const SIGXCPU: u32 = 24;
pub const SIGXFSZ: u32 = 25;
pub const SIGVTALRM: u32 = 26;
pub const SIGPROF: u32 = 27;
pub const SIGWINCH: u32 = 28;
pub const SIGIO: u32 = 29;
pub const SIGPWR: u32 = 30;
pub const SIGSYS: u32 = 31;
/// The kernel's `_NSIG`: signals are 1..=64.
pub const _NSIG: u32 = 64;
/// glibc's `NSIG` (`_NSIG + 1`): bash accepts numbers below it.
pub const NSIG: u32 = _NSIG + 1;
/// glibc's `SIGRTMIN` (`__libc_current_sigrtmin()`): 32 and 33 are its own.
pub const SIGRTMIN: u32 = 34;
pub const SIGRTMAX: u32 = _NSIG;

/// Names 1..=31 without `SIG`, index = number - 1.
const NAMES: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM",
    "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO",
    "PWR", "SYS",
];

/// glibc's `strsignal` texts for 1..=31, index = number - 1.
const DESCRIPTIONS: [&str; 31] = [
    "Hangup",
    "Interrupt",
    "Quit",
    "Illegal instruction",
    "Trace/breakpoint trap",
    "Aborted",
    "Bus error",
    "Floating point exception",
    "Killed",
    "User defined signal 1",
    "Segmentation fault",
    "User defined signal 2",
    "Broken pipe",
    "Alarm clock",
    "Terminated",
    "Stack fault",
    "Child exited",
    "Continued",
    "Stopped (signal)",
    "Stopped",
    "Stopped (tty input)",
    "Stopped (tty output)",
    "Urgent I/O condition",
    "CPU time limit exceeded",
    "File size limit exceeded",
    "Virtual timer expired",
    "Profiling timer expired",
    "Window changed",
    "I/O possible",
    "Power failure",
    "Bad system call",
];

/// A signal's name as bash spells it: `SIGKILL`, `SIGRTMIN+3`, `SIGRTMAX-1`,
/// and `EXIT` for 0. `{:#}` leaves out the `SIG` prefix (`KILL`), as
/// `kill -l 9` prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigName(u32);

/// The name of `sig`, or `None` for the numbers bash has no name for (32,
/// 33 and anything from 65 on).
pub fn signal_name(sig: u32) -> Option<SigName> {
    (sig <= 31 || (SIGRTMIN..=SIGRTMAX).contains(&sig)).then_some(SigName(sig))
}

impl SigName {
    pub fn number(self) -> u32 {
        self.0
    }
}

impl fmt::Display for SigName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sig = self.0;
        if sig == 0 {
            return f.write_str("EXIT");
        }
        if !f.alternate() {
            f.write_str("SIG")?;
        }
        // bash's siglist: the first half counts up from RTMIN, the rest down
        // from RTMAX (`rtmin + (rtmax - rtmin) / 2` is the last RTMIN+n).
        let half = SIGRTMIN + (SIGRTMAX - SIGRTMIN) / 2;
        match sig {
            1..=31 => f.write_str(NAMES[sig as usize - 1]),
            SIGRTMIN => f.write_str("RTMIN"),
            SIGRTMAX => f.write_str("RTMAX"),
            _ if sig <= half => write!(f, "RTMIN+{}", sig - SIGRTMIN),
            _ => write!(f, "RTMAX-{}", SIGRTMAX - sig),
        }
    }
}

/// glibc's `strsignal(sig)`: `Killed`, `Segmentation fault`, `Real-time
/// signal 3`, `Unknown signal 32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrSignal(pub u32);

impl fmt::Display for StrSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            sig @ 1..=31 => f.write_str(DESCRIPTIONS[sig as usize - 1]),
            sig @ SIGRTMIN..=SIGRTMAX => write!(f, "Real-time signal {}", sig - SIGRTMIN),
            sig => write!(f, "Unknown signal {}", sig),
        }
    }
}

/// bash's `legal_number`: `strtoimax` in base 10 (blanks and a sign before
/// it), blanks after, nothing else, no overflow.
pub fn legal_number(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']).trim_end_matches([' ', '\t']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: i64 = 0;
    for b in digits.bytes() {
        v = v.checked_mul(10)?.checked_sub((b - b'0') as i64)?;
    }
    if neg {
        Some(v)
    } else {
        v.checked_neg()
    }
}

/// bash's `decode_signal(string, DSIG_NOCASE | DSIG_SIGPREFIX)`, as `kill`
/// calls it: a number below `NSIG` (0 included: it only checks that the
/// process exists), or a name in any case with or without `SIG`
/// (`kill`, `SIGKILL`, `Kill`), or `RTMIN+n` / `SIGRTMIN+n` for n in
/// 0..=30. `None` is bash's `NO_SIG`: "invalid signal specification".
pub fn decode_signal(s: &str) -> Option<u32> {
    if let Some(n) = legal_number(s) {
        return (0..NSIG as i64).contains(&n).then_some(n as u32);
    }
    let prefix = |p: &str| s.get(..p.len()).filter(|h| h.eq_ignore_ascii_case(p)).map(|_| &s[p.len()..]);
    if let Some(n) = prefix("SIGRTMIN+").or_else(|| prefix("RTMIN+")) {
        return legal_number(n)
            .filter(|&n| (0..=(SIGRTMAX - SIGRTMIN) as i64).contains(&n))
            .map(|n| SIGRTMIN + n as u32);
    }
    let mut name = [0u8; 12];
    (0..NSIG)
        .filter_map(signal_name)
        .find(|&sig| {
            let mut w = Buf { buf: &mut name, len: 0 };
            let _ = fmt::Write::write_fmt(&mut w, format_args!("{}", sig));
            let full = &w.buf[..w.len];
            // "EXIT" has no SIG prefix: only its whole name matches.
            full.eq_ignore_ascii_case(s.as_bytes())
                || (full.starts_with(b"SIG") && full[3..].eq_ignore_ascii_case(s.as_bytes()))
        })
        .map(SigName::number)
}

/// A fixed buffer for one name (the longest, `SIGRTMAX-14`, is 11 bytes).
struct Buf<'a> {
    buf: &'a mut [u8; 12],
    len: usize,
}

impl fmt::Write for Buf<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.buf.get_mut(self.len..end).ok_or(fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `kill -l` with no argument: bash's `display_signal_list`, `%2d) %s`,
/// five to a line separated by tabs (a tab after each but the fifth), the
/// last line ended by a newline (tabs shown as `\t`):
///
/// ```text
///  1) SIGHUP\t 2) SIGINT\t 3) SIGQUIT\t 4) SIGILL\t 5) SIGTRAP
/// ...
/// 63) SIGRTMAX-1\t64) SIGRTMAX\t
/// ```
pub struct SignalList;

impl fmt::Display for SignalList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut column = 0;
        for name in (1..NSIG).filter_map(signal_name) {
            write!(f, "{:2}) {}", name.number(), name)?;
            column += 1;
            if column < 5 {
                f.write_str("\t")?;
            } else {
                f.write_str("\n")?;
                column = 0;
            }
        }
        if column != 0 {
            f.write_str("\n")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_are_linux_i386() {
        assert_eq!(signal_name(SIGKILL).unwrap().to_string(), "SIGKILL");
        assert_eq!(format!("{:#}", signal_name(SIGSEGV).unwrap()), "SEGV");
        assert_eq!((SIGSEGV, SIGTERM, SIGCHLD, SIGCONT, SIGSTOP, SIGSYS), (11, 15, 17, 18, 19, 31));
        assert_eq!(signal_name(0).unwrap().to_string(), "EXIT");
        assert_eq!(format!("{:#}", signal_name(0).unwrap()), "EXIT");
        assert_eq!(signal_name(34).unwrap().to_string(), "SIGRTMIN");
        assert_eq!(signal_name(49).unwrap().to_string(), "SIGRTMIN+15");
        assert_eq!(signal_name(50).unwrap().to_string(), "SIGRTMAX-14");
        assert_eq!(format!("{:#}", signal_name(64).unwrap()), "RTMAX");
        assert_eq!(signal_name(32), None);
        assert_eq!(signal_name(33), None);
        assert_eq!(signal_name(65), None);
    }

    #[test]
    fn strsignal_is_glibcs() {
        let s = |n| StrSignal(n).to_string();
        assert_eq!(s(9), "Killed");
        assert_eq!(s(11), "Segmentation fault");
        assert_eq!(s(15), "Terminated");
        assert_eq!(s(19), "Stopped (signal)");
        assert_eq!(s(20), "Stopped");
        assert_eq!(s(25), "File size limit exceeded");
        assert_eq!(s(31), "Bad system call");
        assert_eq!(s(0), "Unknown signal 0");
        assert_eq!(s(32), "Unknown signal 32");
        assert_eq!(s(34), "Real-time signal 0");
        assert_eq!(s(64), "Real-time signal 30");
        assert_eq!(s(65), "Unknown signal 65");
    }

    /// Each case checked against bash 5.2's `kill -l WORD` on Linux.
    #[test]
    fn decode_signal_reads_what_bash_reads() {
        for (word, sig) in [
            ("9", Some(9)),
            (" 9", Some(9)),
            ("9 ", Some(9)),
            ("09", Some(9)),
            ("+3", Some(3)),
            ("0", Some(0)),
            ("64", Some(64)),
            ("65", None),
            ("-1", None),
            ("KILL", Some(9)),
            ("kill", Some(9)),
            ("SIGKILL", Some(9)),
            ("sigKill", Some(9)),
            ("EXIT", Some(0)),
            ("exit", Some(0)),
            ("sigexit", None),
            ("IOT", None),
            ("CLD", None),
            ("POLL", None),
            ("RTMIN", Some(34)),
            ("rtmin", Some(34)),
            ("RTMIN+0", Some(34)),
            ("RTMIN+16", Some(50)),
            ("RTMIN+30", Some(64)),
            ("RTMIN+31", None),
            ("rtmin+x", None),
            ("sigRTMIN+02", Some(36)),
            ("RTMIN+ 3", Some(37)),
            ("SIGRTMIN+-1", None),
            ("RTMAX-14", Some(50)),
            ("SIGRTMAX-14", Some(50)),
            ("SIGRTMAX-15", None),
            ("rtmax-0", None),
            ("FOO", None),
            ("", None),
            ("igkill", None),
        ] {
            assert_eq!(decode_signal(word), sig, "{:?}", word);
        }
    }

    #[test]
    fn legal_number_is_strtoimax_whole() {
        assert_eq!(legal_number("-9"), Some(-9));
        assert_eq!(legal_number("9223372036854775807"), Some(i64::MAX));
        assert_eq!(legal_number("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(legal_number("9223372036854775808"), None);
        assert_eq!(legal_number("1x"), None);
        assert_eq!(legal_number("-"), None);
        assert_eq!(legal_number(" "), None);
    }

    /// Byte for byte what bash 5.2 prints for `kill -l` on Linux (glibc).
    #[test]
    fn kill_l_lists_as_bash() {
        let expected = [
            " 1) SIGHUP\t 2) SIGINT\t 3) SIGQUIT\t 4) SIGILL\t 5) SIGTRAP",
            " 6) SIGABRT\t 7) SIGBUS\t 8) SIGFPE\t 9) SIGKILL\t10) SIGUSR1",
            "11) SIGSEGV\t12) SIGUSR2\t13) SIGPIPE\t14) SIGALRM\t15) SIGTERM",
            "16) SIGSTKFLT\t17) SIGCHLD\t18) SIGCONT\t19) SIGSTOP\t20) SIGTSTP",
            "21) SIGTTIN\t22) SIGTTOU\t23) SIGURG\t24) SIGXCPU\t25) SIGXFSZ",
            "26) SIGVTALRM\t27) SIGPROF\t28) SIGWINCH\t29) SIGIO\t30) SIGPWR",
            "31) SIGSYS\t34) SIGRTMIN\t35) SIGRTMIN+1\t36) SIGRTMIN+2\t37) SIGRTMIN+3",
            "38) SIGRTMIN+4\t39) SIGRTMIN+5\t40) SIGRTMIN+6\t41) SIGRTMIN+7\t42) SIGRTMIN+8",
            "43) SIGRTMIN+9\t44) SIGRTMIN+10\t45) SIGRTMIN+11\t46) SIGRTMIN+12\t47) SIGRTMIN+13",
            "48) SIGRTMIN+14\t49) SIGRTMIN+15\t50) SIGRTMAX-14\t51) SIGRTMAX-13\t52) SIGRTMAX-12",
            "53) SIGRTMAX-11\t54) SIGRTMAX-10\t55) SIGRTMAX-9\t56) SIGRTMAX-8\t57) SIGRTMAX-7",
            "58) SIGRTMAX-6\t59) SIGRTMAX-5\t60) SIGRTMAX-4\t61) SIGRTMAX-3\t62) SIGRTMAX-2",
            "63) SIGRTMAX-1\t64) SIGRTMAX\t",
        ];
        assert_eq!(SignalList.to_string(), expected.join("\n") + "\n");
    }
}
