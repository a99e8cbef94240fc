//! The shell's job commands, as words in and requests out: `run PROG [ARG...]
//! [&]`, `$!`, `wait [PID...]`, `kill [-SIGNAL] PID...`, `sleep SECONDS...`,
//! and the line `wait` prints for a process that ended. They read and answer
//! as bash 5.2's builtins and coreutils' `sleep` do (messages without the
//! leading `bash: `: the shell prints `NAME: ` before a command's error).
//! Nothing here touches a process; the commands act on what these return.
//!
//! Pure and host-tested.

#![forbid(unsafe_code)]

use crate::kernel::signal_names::{
    self, decode_signal, legal_number, signal_name, StrSignal, NSIG, SIGINT, SIGPIPE, SIGTERM,
};
use crate::kernel::wait_status::WaitStatus;
use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

/// A command's error: the message the shell prints after `NAME: `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobError(pub String);

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! job_err {
    ($($arg:tt)*) => { JobError(alloc::format!($($arg)*)) };
}

/// `$!` in every word replaced by the last background pid, as bash expands
/// it, also inside a word (`x$!` gives `x42`). Before any background job
/// `$!` is empty, as in bash, and a word left empty is dropped, as bash's
/// word splitting drops an unquoted empty expansion (`wait $!` is `wait`).
///
/// ```text
/// expand_last_bg(&["maps", "$!"], Some(42)) == ["maps", "42"]
/// expand_last_bg(&["kill", "$!"], None)    == ["kill"]
/// ```
pub fn expand_last_bg<'a>(words: &[&'a str], last_bg: Option<u32>) -> Vec<Cow<'a, str>> {
    let mut pid = String::new();
    if let Some(p) = last_bg {
        pid = alloc::format!("{}", p);
    }
    words
        .iter()
        .map(|&w| if w.contains("$!") { Cow::Owned(w.replace("$!", &pid)) } else { Cow::Borrowed(w) })
        .filter(|w| !w.is_empty())
        .collect()
}

/// What `run` was asked: the program, its argv (program name first, as
/// `exec` takes it), and whether to return at once (`&`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRequest<'a> {
    pub argv: Vec<&'a str>,
    pub background: bool,
}

impl RunRequest<'_> {
    pub fn prog(&self) -> &str {
        self.argv[0]
    }
}

/// `run PROG [ARG...] [&]`: `&` as the last word or glued to it (`hog 1M&`),
/// as bash reads a trailing `&`. An `&` anywhere else would start a second
/// command in bash (`a & b`, `a&b`), a second `&` is bash's syntax error,
/// and `&&` is a list bash would wait to complete: the shell runs one
/// command per line, so these are refused, naming the word.
///
/// ```text
/// parse_run(&["hog", "256M", "touch", "&"]) -> argv [hog, 256M, touch], background
/// parse_run(&["hello&"])                    -> argv [hello], background
/// ```
pub fn parse_run<'a>(args: &[&'a str]) -> Result<RunRequest<'a>, JobError> {
    let mut argv: Vec<&'a str> = args.to_vec();
    let mut background = false;
    if let Some(last) = argv.last_mut() {
        if last.ends_with("&&") {
            return Err(job_err!("'{}': '&&' lists are not supported (one command per line); nothing run", last));
        }
        if let Some(w) = last.strip_suffix('&') {
            background = true;
            *last = w;
            if w.is_empty() {
                argv.pop();
            }
        }
    }
    if let Some(w) = argv.iter().find(|w| w.contains('&')) {
        return Err(job_err!("syntax error near '{}': '&' goes only at the end of the line; nothing run", w));
    }
    if argv.is_empty() {
        return Err(job_err!("missing PROG (usage: run PROG [ARG...] [&]); nothing run"));
    }
    Ok(RunRequest { argv, background })
}

/// The line `run ... &` prints, bash's: `[1] 42`, the job number then the
/// pid. The number is the caller's to keep; bash gives one more than the
/// highest job it still lists, 1 when there is none.
pub struct Started {
    pub job: u32,
    pub pid: u32,
}

impl fmt::Display for Started {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.job, self.pid)
    }
}

/// What `wait` was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitRequest {
    /// `wait`: every child of the shell.
    All,
    /// `wait PID...`: these, in order.
    Pids(Vec<u32>),
}

const WAIT_USAGE: &str = "wait: usage: wait [id ...]";

/// `wait [PID...]`, as bash's `wait`: a PID is decimal digits only; any
/// other word is refused (`` `abc': not a pid or valid job spec ``), an
/// option too (the shell has no `-n`, `-f`, `-p`). bash reports each bad
/// word and goes on; here the first one stops the command before it waits.
pub fn parse_wait(args: &[&str]) -> Result<WaitRequest, JobError> {
    let mut words = args;
    if let Some((&first, rest)) = words.split_first() {
        if first == "--" {
            words = rest;
        } else if first.starts_with('-') && first.len() > 1 {
            return Err(job_err!("{}: invalid option\n{}", first, WAIT_USAGE));
        }
    }
    if words.is_empty() {
        return Ok(WaitRequest::All);
    }
    let mut pids = Vec::with_capacity(words.len());
    for &w in words {
        if w.starts_with('%') {
            return Err(job_err!("{}: no such job", w));
        }
        match w.parse::<u32>() {
            Ok(p) if w.bytes().all(|b| b.is_ascii_digit()) && p <= i32::MAX as u32 => pids.push(p),
            _ => return Err(job_err!("`{}': not a pid or valid job spec", w)),
        }
    }
    Ok(WaitRequest::Pids(pids))
}

/// `wait PID` for a process that is not the shell's child.
pub fn not_a_child(pid: u32) -> JobError {
    job_err!("pid {} is not a child of this shell", pid)
}

/// bash's `printable_job_status` for a process that ended or changed:
/// `Done`, `Exit 3`, `Killed`, `Segmentation fault`, `Stopped (signal)`,
/// `Running` (continued).
pub struct JobStatus(pub WaitStatus);

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            WaitStatus::Exited(0) => f.write_str("Done"),
            WaitStatus::Exited(code) => write!(f, "Exit {}", code),
            WaitStatus::Signaled { sig, .. } | WaitStatus::Stopped(sig) => write!(f, "{}", StrSignal(sig as u32)),
            WaitStatus::Continued => f.write_str("Running"),
        }
    }
}

/// The line `wait` prints for each process it reaped: bash's long job
/// format (`print_pipeline` with `JLIST_LONG`, what `jobs -l` shows and a
/// non-interactive bash prints for a killed background job): the pid in 5
/// columns, the status padded to 24 (`LONGEST_SIGNAL_DESC`, no space when
/// it fills them), `(core dumped) ` when it did, then the command as typed.
///
/// ```text
///    42 Done                    hog 256M touch
///    43 Exit 3                  hog
///    44 Killed                  hog 1500M touch hold
///    45 Segmentation fault      (core dumped) segv null
///    46 File size limit exceededhog
/// ```
pub struct WaitReport<'a> {
    pub pid: u32,
    pub status: WaitStatus,
    pub command: &'a str,
}

impl fmt::Display for WaitReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        fmt::Write::write_fmt(&mut text, format_args!("{}", JobStatus(self.status)))?;
        write!(f, "{:5} {:<24}", self.pid, text)?;
        if let WaitStatus::Signaled { core: true, .. } = self.status {
            f.write_str("(core dumped) ")?;
        }
        f.write_str(self.command)
    }
}

/// What an interactive bash prints when a foreground job ends by a signal
/// (`wait_for` in jobs.c): the signal's text, ` (core dumped)` when it
/// did, on a line of its own; nothing for an exit, for SIGINT (the user
/// typed Ctrl-C and saw it) and for SIGPIPE. For `run` without `&`:
///
/// ```text
/// foreground_report(Signaled { sig: 9, .. })             -> Some("Killed")
/// foreground_report(Signaled { sig: 11, core: true })    -> Some("Segmentation fault (core dumped)")
/// foreground_report(Exited(3))                           -> None
/// ```
pub fn foreground_report(status: WaitStatus) -> Option<impl fmt::Display> {
    struct Report(u32, bool);
    impl fmt::Display for Report {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{}{}", StrSignal(self.0), if self.1 { " (core dumped)" } else { "" })
        }
    }
    match status {
        WaitStatus::Signaled { sig, core } if ![SIGINT, SIGPIPE].contains(&(sig as u32)) => {
            Some(Report(sig as u32, core))
        }
        _ => None,
    }
}

/// What `kill` was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KillRequest<'a> {
    /// `kill -l [WORD...]`: with no word, print `signal_names::SignalList`;
    /// else each word through [`kill_list_item`].
    List(Vec<&'a str>),
    /// Send `sig` (0 only checks that the process exists) to each target.
    Send { sig: u32, sigspec: &'a str, targets: Vec<KillTarget<'a>> },
}

/// One `kill` operand: a pid (negative for a process group, as `kill(2)`
/// takes it), or a word bash refuses, with its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KillTarget<'a> {
    Pid(i32),
    Bad(&'a str, JobError),
}

pub const KILL_USAGE: &str = "usage: kill [-s sigspec | -n signum | -sigspec] pid | jobspec ... or kill -l [sigspec]";

fn invalid_signal(spec: &str) -> JobError {
    job_err!("{}: invalid signal specification", spec)
}

/// `kill`'s words as bash 5.2's `kill_builtin` reads them: `-l`/`-L`
/// (list), `-s SPEC`, `-n NUM`, `-sSPEC`, `-nNUM`, `-SPEC` (the first one
/// only: later `-N` words are process groups), `--`; SPEC as
/// [`decode_signal`] reads it (`9`, `KILL`, `kill`, `SIGKILL`); SIGTERM
/// when none is given. bash's quirks come along: `-sigkill` is `-s igkill`
/// (an invalid signal), as bash reads it.
///
/// ```text
/// parse_kill(&["-9", "42"])          -> Send { sig: 9, targets: [Pid(42)] }
/// parse_kill(&["-s", "STOP", "42"])  -> Send { sig: 19, .. }
/// parse_kill(&["-l"])                -> List([])
/// ```
pub fn parse_kill<'a>(args: &[&'a str]) -> Result<KillRequest<'a>, JobError> {
    if args.is_empty() {
        return Err(JobError(KILL_USAGE.into()));
    }
    let (mut sig, mut sigspec) = (Some(SIGTERM), "TERM");
    let (mut listing, mut saw_signal) = (false, false);
    let mut i = 0;
    while let Some(&word) = args.get(i) {
        let w = word.as_bytes();
        let spec = match word {
            "-l" | "-L" => {
                listing = true;
                i += 1;
                continue;
            }
            "-s" | "-n" => {
                i += 1;
                let Some(&spec) = args.get(i) else { return Err(job_err!("{}: option requires an argument", word)) };
                spec
            }
            "--" => {
                i += 1;
                break;
            }
            _ if w.len() > 2 && w[0] == b'-' && w[1] == b's' && w[2].is_ascii_alphabetic() => &word[2..],
            _ if w.len() > 2 && w[0] == b'-' && w[1] == b'n' && w[2].is_ascii_digit() => &word[2..],
            _ if w.first() == Some(&b'-') && !saw_signal => &word[1..],
            _ => break,
        };
        sigspec = spec;
        sig = if spec == "0" { Some(0) } else { decode_signal(spec) };
        saw_signal = true;
        i += 1;
    }
    let rest = &args[i..];
    if listing {
        return Ok(KillRequest::List(rest.to_vec()));
    }
    let Some(sig) = sig else { return Err(invalid_signal(sigspec)) };
    if rest.is_empty() {
        return Err(JobError(KILL_USAGE.into()));
    }
    let targets = rest
        .iter()
        .map(|&w| {
            let digits = w.strip_prefix('-').unwrap_or(w);
            match legal_number(w) {
                Some(n) if !digits.is_empty() && i32::try_from(n).is_ok() => KillTarget::Pid(n as i32),
                _ if w.starts_with('%') => KillTarget::Bad(w, job_err!("{}: no such job", w)),
                _ => KillTarget::Bad(w, job_err!("{}: arguments must be process or job IDs", w)),
            }
        })
        .collect();
    Ok(KillRequest::Send { sig, sigspec, targets })
}

/// What `kill -l WORD` prints for one word: a number (an exit status above
/// 128 counts as 128 + signal) gives the name without `SIG`, a name gives
/// its number; 32 and 33 give nothing (`Ok(None)`), as bash.
///
/// ```text
/// kill_list_item("9")    -> KILL
/// kill_list_item("137")  -> KILL
/// kill_list_item("kill") -> 9
/// kill_list_item("0")    -> EXIT
/// ```
pub fn kill_list_item(word: &str) -> Result<Option<KillListed>, JobError> {
    if let Some(mut n) = legal_number(word) {
        if n > 128 {
            n -= 128;
        }
        if !(0..NSIG as i64).contains(&n) {
            return Err(invalid_signal(word));
        }
        return Ok(signal_name(n as u32).map(KillListed::Name));
    }
    decode_signal(word).map(|s| Some(KillListed::Number(s))).ok_or_else(|| invalid_signal(word))
}

/// One answer of `kill -l WORD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillListed {
    Name(signal_names::SigName),
    Number(u32),
}

impl fmt::Display for KillListed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KillListed::Name(n) => write!(f, "{:#}", n),
            KillListed::Number(n) => write!(f, "{}", n),
        }
    }
}

/// bash's `kill_error`: `(42) - No such process`; an invalid signal is
/// reported as its spec. `errno` is Linux's positive number.
pub fn kill_error(pid: i32, errno: i32, sigspec: &str) -> JobError {
    const EPERM: i32 = 1;
    const ESRCH: i32 = 3;
    const EINVAL: i32 = 22;
    match errno {
        EINVAL => invalid_signal(sigspec),
        ESRCH => job_err!("({}) - No such process", pid),
        EPERM => job_err!("({}) - Operation not permitted", pid),
        e => job_err!("({}) - error {}", pid, e),
    }
}

/// `sleep NUMBER[SUFFIX]...` as coreutils' `sleep` reads it: each operand a
/// non-negative decimal number (`strtod`'s forms: `5`, `0.5`, `.5`, `5.`,
/// `1e-2`, a leading `+`, `inf`, `infinity`) with an optional `s`, `m`, `h`
/// or `d`; the operands add up. The time is rounded up to the nanosecond
/// (coreutils' `dtotimespec`); `inf` or a sum past `Duration::MAX` is
/// `Duration::MAX`, forever. Errors are coreutils' (C locale quotes):
/// `invalid time interval 'x'`, one line per bad operand, `missing
/// operand`, `invalid option -- '1'` for `-1`. Hexadecimal floats
/// (`0x1p3`), which `strtod` also takes, are refused as invalid.
///
/// ```text
/// parse_sleep(&["0.5"])        -> 500 ms
/// parse_sleep(&["1m", "30"])   -> 90 s
/// parse_sleep(&["x"])          -> Err("invalid time interval 'x'")
/// ```
pub fn parse_sleep(args: &[&str]) -> Result<Duration, JobError> {
    let mut words = args;
    if let Some((&first, rest)) = words.split_first() {
        if first == "--" {
            words = rest;
        } else if let Some(long) = first.strip_prefix("--") {
            return Err(job_err!("unrecognized option '--{}'", long));
        } else if let Some(c) = first.strip_prefix('-').and_then(|s| s.chars().next()) {
            return Err(job_err!("invalid option -- '{}'", c));
        }
    }
    if words.is_empty() {
        return Err(job_err!("missing operand"));
    }
    let mut total = Duration::ZERO;
    let mut bad = String::new();
    for &w in words {
        match parse_interval(w) {
            Some(d) => total = total.saturating_add(d),
            None => {
                if !bad.is_empty() {
                    bad.push_str("\nsleep: ");
                }
                fmt::Write::write_fmt(&mut bad, format_args!("invalid time interval '{}'", w))?;
            }
        }
    }
    if !bad.is_empty() {
        return Err(JobError(bad));
    }
    Ok(total)
}

impl From<fmt::Error> for JobError {
    fn from(_: fmt::Error) -> JobError {
        JobError("out of memory formatting a message".into())
    }
}

/// One `sleep` operand, or `None` when coreutils would call it invalid.
fn parse_interval(word: &str) -> Option<Duration> {
    // strtod skips leading white space (isspace); the suffix must end it.
    let s = word.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (num, mult) = match s.as_bytes().last() {
        Some(b's') => (&s[..s.len() - 1], 1),
        Some(b'm') => (&s[..s.len() - 1], 60),
        Some(b'h') => (&s[..s.len() - 1], 3600),
        Some(b'd') => (&s[..s.len() - 1], 86400),
        _ => (s, 1),
    };
    let num = num.strip_prefix('+').unwrap_or(num);
    if is_inf(num) {
        return Some(Duration::MAX);
    }
    let nanos = decimal_nanos(num)?;
    let secs = nanos / 1_000_000_000 * mult as u128 + (nanos % 1_000_000_000) * mult as u128 / 1_000_000_000;
    let sub = (nanos % 1_000_000_000) * mult as u128 % 1_000_000_000;
    match u64::try_from(secs) {
        Ok(secs) => Some(Duration::new(secs, sub as u32)),
        Err(_) => Some(Duration::MAX),
    }
}

fn is_inf(s: &str) -> bool {
    s.eq_ignore_ascii_case("inf") || s.eq_ignore_ascii_case("infinity")
}

/// `DIGITS[.DIGITS][e[+-]DIGITS]` (at least one digit before the exponent)
/// in nanoseconds, rounded up; saturates at `u128::MAX`.
fn decimal_nanos(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut mant: u128 = 0;
    let mut scale: i64 = 9; // power of ten to apply to `mant` for nanoseconds
    let mut digits = 0;
    let mut sticky = false; // a non-zero digit was dropped
    let mut seen_point = false;
    while i < b.len() {
        match b[i] {
            b'.' if !seen_point => seen_point = true,
            d @ b'0'..=b'9' => {
                digits += 1;
                if mant < 10u128.pow(30) {
                    mant = mant * 10 + (d - b'0') as u128;
                    if seen_point {
                        scale -= 1;
                    }
                } else {
                    sticky |= d != b'0';
                    if !seen_point {
                        scale += 1;
                    }
                }
            }
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let exp = &s[i + 1..];
        let body = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let e: i64 = body.parse().unwrap_or(i64::MAX / 2).min(1 << 20);
        scale += if exp.starts_with('-') { -e } else { e };
        i = b.len();
    }
    if i != b.len() {
        return None;
    }
    if mant == 0 {
        return Some(0);
    }
    if scale >= 0 {
        Some(10u128.checked_pow(scale as u32).and_then(|p| mant.checked_mul(p)).unwrap_or(u128::MAX))
    } else {
        let p = 10u128.checked_pow((-scale) as u32);
        Some(match p {
            Some(p) => mant / p + (!mant.is_multiple_of(p) || sticky) as u128,
            None => 1, // a positive value below a nanosecond rounds up to one
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::signal_names::{SIGKILL, SIGSEGV, SIGSTOP};

    #[test]
    fn dollar_bang_expands_like_bash() {
        let w = expand_last_bg(&["maps", "$!", "x$!y", "$!$!"], Some(42));
        assert_eq!(w, ["maps", "42", "x42y", "4242"]);
        assert_eq!(expand_last_bg(&["kill", "-9", "$!"], None), ["kill", "-9"]);
        assert_eq!(expand_last_bg(&["echo", "[$!]"], None), ["echo", "[]"]);
        assert!(matches!(expand_last_bg(&["ps"], Some(1))[0], Cow::Borrowed(_)));
    }

    #[test]
    fn run_takes_a_trailing_ampersand_as_bash() {
        let r = parse_run(&["hog", "256M", "touch", "&"]).unwrap();
        assert_eq!((r.argv.as_slice(), r.background), (&["hog", "256M", "touch"][..], true));
        assert_eq!(r.prog(), "hog");
        let r = parse_run(&["hello&"]).unwrap();
        assert_eq!((r.argv.as_slice(), r.background), (&["hello"][..], true));
        let r = parse_run(&["hog", "1M"]).unwrap();
        assert_eq!((r.argv.as_slice(), r.background), (&["hog", "1M"][..], false));
    }

    #[test]
    fn run_refuses_ampersands_it_cannot_honour() {
        let e = |a: &[&str]| parse_run(a).unwrap_err().0;
        assert_eq!(e(&[]), "missing PROG (usage: run PROG [ARG...] [&]); nothing run");
        assert_eq!(e(&["&"]), "missing PROG (usage: run PROG [ARG...] [&]); nothing run");
        assert!(e(&["a&b"]).contains("'a&b'"));
        assert!(e(&["a", "&", "b"]).contains("near '&'"));
        assert!(e(&["a", "&", "&"]).contains("near '&'"));
        assert!(e(&["a", "&&"]).contains("'&&'"));
        assert!(e(&["a&&"]).contains("'a&&'"));
    }

    #[test]
    fn started_line() {
        assert_eq!(Started { job: 1, pid: 42 }.to_string(), "[1] 42");
    }

    /// Messages as bash 5.2's `wait` prints them (less `bash: wait: `).
    #[test]
    fn wait_reads_pids_as_bash() {
        assert_eq!(parse_wait(&[]), Ok(WaitRequest::All));
        assert_eq!(parse_wait(&["--"]), Ok(WaitRequest::All));
        assert_eq!(parse_wait(&["42", "007"]), Ok(WaitRequest::Pids(vec![42, 7])));
        let e = |a: &[&str]| parse_wait(a).unwrap_err().0;
        assert_eq!(e(&["abc"]), "`abc': not a pid or valid job spec");
        assert_eq!(e(&["+1"]), "`+1': not a pid or valid job spec");
        assert_eq!(e(&[" 1"]), "` 1': not a pid or valid job spec");
        assert_eq!(e(&[""]), "`': not a pid or valid job spec");
        assert_eq!(e(&["99999999999"]), "`99999999999': not a pid or valid job spec");
        assert_eq!(e(&["%1"]), "%1: no such job");
        assert_eq!(e(&["-5"]), "-5: invalid option\nwait: usage: wait [id ...]");
        assert_eq!(not_a_child(99999).0, "pid 99999 is not a child of this shell");
    }

    /// Lines as bash 5.2 prints them (`jobs -l`; a killed background job).
    #[test]
    fn wait_report_is_bashs_long_job_line() {
        let r = |pid, status, command| WaitReport { pid, status, command }.to_string();
        assert_eq!(r(42, WaitStatus::Exited(0), "hog 256M touch"), "   42 Done                    hog 256M touch");
        assert_eq!(r(43, WaitStatus::Exited(3), "hog"), "   43 Exit 3                  hog");
        let killed = WaitStatus::Signaled { sig: SIGKILL as u8, core: false };
        assert_eq!(r(24070, killed, "sleep 100"), "24070 Killed                  sleep 100");
        let segv = WaitStatus::Signaled { sig: SIGSEGV as u8, core: false };
        assert_eq!(r(24072, segv, "sleep 100"), "24072 Segmentation fault      sleep 100");
        let core = WaitStatus::Signaled { sig: SIGSEGV as u8, core: true };
        assert_eq!(r(24319, core, "sleep 100"), "24319 Segmentation fault      (core dumped) sleep 100");
        let xfsz = WaitStatus::Signaled { sig: 25, core: false };
        assert_eq!(r(24313, xfsz, "sleep 100"), "24313 File size limit exceededsleep 100");
        let rt = WaitStatus::Signaled { sig: 40, core: false };
        assert_eq!(r(24317, rt, "sleep 100"), "24317 Real-time signal 6      sleep 100");
        assert_eq!(r(7, WaitStatus::Stopped(SIGSTOP as u8), "hog"), "    7 Stopped (signal)        hog");
        assert_eq!(r(7, WaitStatus::Continued, "hog"), "    7 Running                 hog");
        assert_eq!(r(123456, WaitStatus::Exited(0), "x"), "123456 Done                    x");
    }

    #[test]
    fn foreground_report_is_interactive_bashs() {
        let r = |s| foreground_report(s).map(|d| d.to_string());
        assert_eq!(r(WaitStatus::Signaled { sig: 9, core: false }), Some("Killed".into()));
        assert_eq!(r(WaitStatus::Signaled { sig: 11, core: true }), Some("Segmentation fault (core dumped)".into()));
        assert_eq!(r(WaitStatus::Signaled { sig: 15, core: false }), Some("Terminated".into()));
        assert_eq!(r(WaitStatus::Signaled { sig: 2, core: false }), None);
        assert_eq!(r(WaitStatus::Signaled { sig: 13, core: false }), None);
        assert_eq!(r(WaitStatus::Exited(3)), None);
        assert_eq!(r(WaitStatus::Exited(0)), None);
    }

    fn send<'a>(sig: u32, sigspec: &'a str, pids: &[i32]) -> KillRequest<'a> {
        KillRequest::Send { sig, sigspec, targets: pids.iter().map(|&p| KillTarget::Pid(p)).collect() }
    }

    /// Each form checked against bash 5.2's `kill` on Linux.
    #[test]
    fn kill_reads_signal_forms_as_bash() {
        assert_eq!(parse_kill(&["42"]), Ok(send(15, "TERM", &[42])));
        assert_eq!(parse_kill(&["-9", "42"]), Ok(send(9, "9", &[42])));
        assert_eq!(parse_kill(&["-KILL", "42", "43"]), Ok(send(9, "KILL", &[42, 43])));
        assert_eq!(parse_kill(&["-SIGKILL", "42"]), Ok(send(9, "SIGKILL", &[42])));
        assert_eq!(parse_kill(&["-kill", "42"]), Ok(send(9, "kill", &[42])));
        assert_eq!(parse_kill(&["-s", "STOP", "42"]), Ok(send(19, "STOP", &[42])));
        assert_eq!(parse_kill(&["-s", "0", "42"]), Ok(send(0, "0", &[42])));
        assert_eq!(parse_kill(&["-0", "42"]), Ok(send(0, "0", &[42])));
        assert_eq!(parse_kill(&["-EXIT", "42"]), Ok(send(0, "EXIT", &[42])));
        assert_eq!(parse_kill(&["-n", "9", "42"]), Ok(send(9, "9", &[42])));
        assert_eq!(parse_kill(&["-n9", "42"]), Ok(send(9, "9", &[42])));
        assert_eq!(parse_kill(&["-skill", "42"]), Ok(send(9, "kill", &[42])));
        assert_eq!(parse_kill(&["-s", "sigkill", "42"]), Ok(send(9, "sigkill", &[42])));
        assert_eq!(parse_kill(&["--", "42"]), Ok(send(15, "TERM", &[42])));
        assert_eq!(parse_kill(&["--", "-9", "42"]), Ok(send(15, "TERM", &[-9, 42])));
        assert_eq!(parse_kill(&["-9", "-9", "42"]), Ok(send(9, "9", &[-9, 42])));
        assert_eq!(parse_kill(&["-CONT", " 42 "]), Ok(send(18, "CONT", &[42])));
    }

    #[test]
    fn kill_errors_are_bashs() {
        let e = |a: &[&str]| parse_kill(a).unwrap_err().0;
        assert_eq!(e(&[]), KILL_USAGE);
        assert_eq!(e(&["-9"]), KILL_USAGE);
        assert_eq!(e(&["-s", "KILL"]), KILL_USAGE);
        assert_eq!(e(&["-FOO", "1"]), "FOO: invalid signal specification");
        assert_eq!(e(&["-s", "FOO", "1"]), "FOO: invalid signal specification");
        assert_eq!(e(&["-sigkill", "1"]), "igkill: invalid signal specification");
        assert_eq!(e(&["-nKILL", "1"]), "nKILL: invalid signal specification");
        assert_eq!(e(&["-65", "1"]), "65: invalid signal specification");
        assert_eq!(e(&["-s", "99999"]), "99999: invalid signal specification");
        assert_eq!(e(&["-s"]), "-s: option requires an argument");
        assert_eq!(e(&["-l", "-s"]), "-s: option requires an argument");
        let Ok(KillRequest::Send { targets, .. }) = parse_kill(&["1", "abc", "-", "%1", "99999999999", "-9"]) else {
            panic!()
        };
        let msgs: Vec<_> = targets
            .iter()
            .map(|t| match t {
                KillTarget::Pid(p) => alloc::format!("pid {}", p),
                KillTarget::Bad(_, e) => e.0.clone(),
            })
            .collect();
        assert_eq!(
            msgs,
            [
                "pid 1",
                "abc: arguments must be process or job IDs",
                "-: arguments must be process or job IDs",
                "%1: no such job",
                "99999999999: arguments must be process or job IDs",
                "pid -9"
            ]
        );
        assert_eq!(kill_error(99999, 3, "9").0, "(99999) - No such process");
        assert_eq!(kill_error(1, 1, "9").0, "(1) - Operation not permitted");
        assert_eq!(kill_error(1, 22, "40").0, "40: invalid signal specification");
    }

    #[test]
    fn kill_l_words_as_bash() {
        assert_eq!(parse_kill(&["-l"]), Ok(KillRequest::List(vec![])));
        assert_eq!(parse_kill(&["-l", "9", "FOO"]), Ok(KillRequest::List(vec!["9", "FOO"])));
        assert_eq!(parse_kill(&["-l", "-1"]), Ok(KillRequest::List(vec![])), "bash reads -1 as a signal and lists all");
        let l = |w| kill_list_item(w).map(|o| o.map(|x| x.to_string()));
        assert_eq!(l("9"), Ok(Some("KILL".into())));
        assert_eq!(l("137"), Ok(Some("KILL".into())));
        assert_eq!(l("192"), Ok(Some("RTMAX".into())));
        assert_eq!(l("0"), Ok(Some("EXIT".into())));
        assert_eq!(l("+3"), Ok(Some("QUIT".into())));
        assert_eq!(l("32"), Ok(None));
        assert_eq!(l("KILL"), Ok(Some("9".into())));
        assert_eq!(l("sigrtmin+1"), Ok(Some("35".into())));
        assert_eq!(l("128"), Err(invalid_signal("128")));
        assert_eq!(l("193"), Err(invalid_signal("193")));
        assert_eq!(l("FOO"), Err(invalid_signal("FOO")));
    }

    /// Each case checked against coreutils 9.1's `sleep` (valid or not).
    #[test]
    fn sleep_reads_intervals_as_coreutils() {
        let ok = |a: &[&str]| parse_sleep(a).unwrap();
        assert_eq!(ok(&["0.5"]), Duration::from_millis(500));
        assert_eq!(ok(&[".01"]), Duration::from_millis(10));
        assert_eq!(ok(&["5."]), Duration::from_secs(5));
        assert_eq!(ok(&["0.01s"]), Duration::from_millis(10));
        assert_eq!(ok(&["1e-2"]), Duration::from_millis(10));
        assert_eq!(ok(&["+0.01"]), Duration::from_millis(10));
        assert_eq!(ok(&[" .01"]), Duration::from_millis(10));
        assert_eq!(ok(&["1m", "30"]), Duration::from_secs(90));
        assert_eq!(ok(&["1.5h"]), Duration::from_secs(5400));
        assert_eq!(ok(&["2d"]), Duration::from_secs(172800));
        assert_eq!(ok(&["0.0000001d"]), Duration::from_nanos(8_640_000));
        assert_eq!(ok(&["1.0000000001"]), Duration::new(1, 1), "rounded up to the nanosecond");
        assert_eq!(ok(&["1e-400"]), Duration::from_nanos(1));
        assert_eq!(ok(&["0e5"]), Duration::ZERO);
        assert_eq!(ok(&["1.5E3"]), Duration::from_secs(1500));
        assert_eq!(ok(&["inf"]), Duration::MAX);
        assert_eq!(ok(&["Infinity"]), Duration::MAX);
        assert_eq!(ok(&["infs"]), Duration::MAX);
        assert_eq!(ok(&["1e999"]), Duration::MAX);
        assert_eq!(ok(&["--", "1"]), Duration::from_secs(1));
        assert_eq!(ok(&["99999999999999999999d", "1"]), Duration::MAX);
    }

    #[test]
    fn sleep_errors_are_coreutils() {
        let e = |a: &[&str]| parse_sleep(a).unwrap_err().0;
        for bad in ["", "x", "1x", "0.01ss", "0.01m,", "nan", "1,5", "1 ", ".", "e5", "1e", "1e+", "-"] {
            assert_eq!(e(&[bad]), alloc::format!("invalid time interval '{}'", bad));
        }
        assert_eq!(e(&["x", "1", "y"]), "invalid time interval 'x'\nsleep: invalid time interval 'y'");
        assert_eq!(e(&[]), "missing operand");
        assert_eq!(e(&["--"]), "missing operand");
        assert_eq!(e(&["-1"]), "invalid option -- '1'");
        assert_eq!(e(&["--foo"]), "unrecognized option '--foo'");
        // coreutils takes strtod's hexadecimal floats; this sleep does not.
        assert_eq!(e(&["0x10"]), "invalid time interval '0x10'");
    }
}
