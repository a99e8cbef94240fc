//! The shell's OOM-killer knobs: `oom_score PID` (reads as
//! `/proc/PID/oom_score`), `oom_score_adj PID [VALUE]` (as
//! `/proc/PID/oom_score_adj`, read or written) and `choom` as util-linux
//! 2.38 has it (`choom -p PID`, `choom -p PID -n ADJ`, `choom -n ADJ
//! [--] PROG [ARGS] [&]`), with its words and errors.
//!
//! The words are read here (pure, tested on the host); the values come
//! from `process::oom` and the process table.

// A command's error is a fixed buffer on purpose (see `commands`).
#![allow(clippy::result_large_err)]

/// What a `choom` command line asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choom<'a> {
    /// `-p PID`: show its score and adjust value.
    Show(i32),
    /// `-p PID -n ADJ`.
    Set(i32, i32),
    /// `-n ADJ PROG [ARGS]`: run it with that value.
    Run(i32, &'a [&'a str]),
}

const TRY: &str = "\nTry 'choom --help' for more information.";

/// util-linux's `strtos32_or_err`: a decimal `int` (strtol's leading white
/// space and sign allowed), or its error words.
fn strtos32(s: &str, what: &str) -> Result<i32, ChoomError> {
    let t = s.trim_start();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ChoomError::Msg(format_msg(format_args!("{}: '{}'", what, s))));
    }
    t.parse::<i32>()
        .map_err(|_| ChoomError::Msg(format_msg(format_args!("{}: '{}': Numerical result out of range", what, s))))
}

/// Why a `choom` line was refused: the message after `choom: `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChoomError {
    Msg(heapless_msg::Msg),
}

/// A short message without the heap (the shell reports failures when
/// memory is gone).
pub mod heapless_msg {
    #[derive(Clone, PartialEq, Eq)]
    pub struct Msg {
        buf: [u8; 150],
        len: usize,
    }

    impl Msg {
        pub const fn new() -> Msg {
            Msg { buf: [0; 150], len: 0 }
        }
        pub fn as_str(&self) -> &str {
            core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
        }
    }

    impl Default for Msg {
        fn default() -> Self {
            Self::new()
        }
    }

    impl core::fmt::Write for Msg {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            // Cut at a char boundary when full.
            for c in s.chars() {
                let mut b = [0u8; 4];
                let e = c.encode_utf8(&mut b).as_bytes();
                if self.len + e.len() > self.buf.len() {
                    break;
                }
                self.buf[self.len..self.len + e.len()].copy_from_slice(e);
                self.len += e.len();
            }
            Ok(())
        }
    }

    impl core::fmt::Debug for Msg {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            write!(f, "{:?}", self.as_str())
        }
    }
}

fn format_msg(args: core::fmt::Arguments) -> heapless_msg::Msg {
    let mut m = heapless_msg::Msg::new();
    let _ = core::fmt::Write::write_fmt(&mut m, args);
    m
}

fn msg(args: core::fmt::Arguments) -> ChoomError {
    ChoomError::Msg(format_msg(args))
}

impl ChoomError {
    pub fn as_str(&self) -> &str {
        match self {
            ChoomError::Msg(m) => m.as_str(),
        }
    }
}

/// util-linux 2.38's choom: GNU getopt over `hn:p:V` (options anywhere
/// before `--`, the other words kept in order), then its checks in its
/// order. `-p 0` is no pid, as there.
pub fn parse_choom<'a>(args: &'a [&'a str], rest_buf: &'a mut [&'a str]) -> Result<Choom<'a>, ChoomError> {
    let mut pid = 0;
    let mut adj = None;
    let mut n_rest = 0;
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        i += 1;
        if a == "--" {
            for &w in &args[i..] {
                *rest_buf.get_mut(n_rest).ok_or(msg(format_args!("too many words")))? = w;
                n_rest += 1;
            }
            break;
        }
        if a.len() < 2 || !a.starts_with('-') {
            *rest_buf.get_mut(n_rest).ok_or(msg(format_args!("too many words")))? = a;
            n_rest += 1;
            continue;
        }
        let opt = a.as_bytes()[1] as char;
        match opt {
            'p' | 'n' => {
                let val = if a.len() > 2 {
                    &a[2..]
                } else if i < args.len() {
                    i += 1;
                    args[i - 1]
                } else {
                    return Err(msg(format_args!("option requires an argument -- '{}'{}", opt, TRY)));
                };
                if opt == 'p' {
                    pid = strtos32(val, "invalid PID argument")?;
                } else {
                    adj = Some(strtos32(val, "invalid adjust argument")?);
                }
            }
            c => return Err(msg(format_args!("invalid option -- '{}'{}", c, TRY))),
        }
    }
    let rest = &rest_buf[..n_rest];
    if !rest.is_empty() && pid != 0 {
        return Err(msg(format_args!("invalid argument: {}{}", rest[0], TRY)));
    }
    if pid == 0 && rest.is_empty() {
        return Err(msg(format_args!("no PID or COMMAND specified{}", TRY)));
    }
    if !rest.is_empty() && adj.is_none() {
        return Err(msg(format_args!("no OOM score adjust value specified{}", TRY)));
    }
    Ok(match adj {
        None => Choom::Show(pid),
        Some(a) if pid != 0 => Choom::Set(pid, a),
        Some(a) => Choom::Run(a, rest),
    })
}

/// `oom_score_adj PID [VALUE]`'s value, as a write to the file reads it
/// (`kstrtoint`, -1000..=1000); the message names the bad value.
pub fn parse_adj_value(s: &str) -> Result<i16, heapless_msg::Msg> {
    crate::process::procfs_fd::parse_oom_score_adj(s.as_bytes()).map_err(|e| {
        format_msg(format_args!(
            "'{}' is not an oom_score_adj ({}; it takes -1000..1000); nothing changed",
            s,
            if e == crate::process::procfs_fd::ERANGE { "out of range" } else { "write error: Invalid argument" }
        ))
    })
}

#[cfg(target_os = "none")]
pub use kernel::{cmd_choom, cmd_oom_score, cmd_oom_score_adj};

#[cfg(target_os = "none")]
mod kernel {
    use super::*;
    use crate::bail;
    use crate::println;
    use crate::process::task;
    use crate::shell::commands::{CmdError, CmdResult};

    fn one_process(arg: &str) -> Result<task::ProcRef, CmdError> {
        let Ok(pid) = arg.parse::<u32>() else { bail!("'{}' is not a pid; nothing done", arg) };
        match task::find(pid) {
            Some(p) => Ok(p),
            None => bail!("no process {} (ps lists them); nothing done", pid),
        }
    }

    /// `oom_score PID`.
    pub fn cmd_oom_score(args: &[&str]) -> CmdResult {
        let [arg] = args else { bail!("wants one PID (got {} words); nothing done", args.len()) };
        let p = one_process(arg)?;
        println!("{}", crate::process::oom::oom_score(&p));
        Ok(())
    }

    /// `oom_score_adj PID [VALUE]`.
    pub fn cmd_oom_score_adj(args: &[&str]) -> CmdResult {
        let (pid, value) = match args {
            [pid] => (pid, None),
            [pid, v] => (pid, Some(v)),
            _ => bail!("wants PID [VALUE] (got {} words); nothing done", args.len()),
        };
        let p = one_process(pid)?;
        match value {
            None => println!("{}", p.oom_score_adj()),
            Some(v) => match parse_adj_value(v) {
                Ok(adj) => {
                    p.set_oom_score_adj(adj);
                }
                Err(m) => bail!("{}", m.as_str()),
            },
        }
        Ok(())
    }

    /// The adjust value, as a write to the file takes it (`EINVAL` past
    /// -1000..1000).
    fn valid_adj(adj: i32) -> Result<i16, CmdError> {
        match i16::try_from(adj) {
            Ok(a) if (-1000..=1000).contains(&a) => Ok(a),
            _ => bail!("failed to set score adjust value: Invalid argument"),
        }
    }

    /// `choom`.
    pub fn cmd_choom(args: &[&str]) -> CmdResult {
        let mut rest = [""; 16];
        let req = match parse_choom(args, &mut rest) {
            Ok(r) => r,
            Err(e) => bail!("{}", e.as_str()),
        };
        match req {
            Choom::Show(pid) => {
                let Some(p) = u32::try_from(pid).ok().and_then(task::find) else {
                    bail!("failed to read OOM score value: No such file or directory")
                };
                println!("pid {}'s current OOM score: {}", pid, crate::process::oom::oom_score(&p));
                println!("pid {}'s current OOM score adjust value: {}", pid, p.oom_score_adj());
            }
            Choom::Set(pid, adj) => {
                let Some(p) = u32::try_from(pid).ok().and_then(task::find) else {
                    bail!("failed to read OOM score adjust value: No such file or directory")
                };
                let adj = valid_adj(adj)?;
                let old = p.set_oom_score_adj(adj);
                println!("pid {}'s OOM score adjust value changed from {} to {}", pid, old, adj);
            }
            Choom::Run(adj, prog) => {
                let adj = valid_adj(adj)?;
                task::set_child_oom_score_adj(Some(adj));
                let r = crate::shell::process_cmds::cmd_run(prog);
                task::set_child_oom_score_adj(None);
                r?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<'a>(args: &'a [&'a str], buf: &'a mut [&'a str; 16]) -> Result<Choom<'a>, String> {
        parse_choom(args, buf).map_err(|e| e.as_str().to_string())
    }

    /// The words util-linux 2.38.1's choom says (checked on the host).
    #[test]
    fn choom_reads_words_as_util_linux() {
        let mut b = [""; 16];
        assert_eq!(parse(&["-p", "12"], &mut b), Ok(Choom::Show(12)));
        let mut b = [""; 16];
        assert_eq!(parse(&["-p", "12", "-n", "-5"], &mut b), Ok(Choom::Set(12, -5)));
        let mut b = [""; 16];
        assert_eq!(parse(&["-n", "500", "--", "hog", "1M", "&"], &mut b), Ok(Choom::Run(500, &["hog", "1M", "&"])));
        let mut b = [""; 16];
        assert_eq!(parse(&["-n1000", "hog", "1M"], &mut b), Ok(Choom::Run(1000, &["hog", "1M"])));
        let mut b = [""; 16];
        assert_eq!(
            parse(&["-n", "1001", "--", "true"], &mut b),
            Ok(Choom::Run(1001, &["true"])),
            "range: at the write"
        );
        let try_ = "\nTry 'choom --help' for more information.";
        for (args, want) in [
            (&["-p", "1", "--", "ls"][..], format!("invalid argument: ls{}", try_)),
            (&["-p", "1", "ls"][..], format!("invalid argument: ls{}", try_)),
            (&["-n", "5"][..], format!("no PID or COMMAND specified{}", try_)),
            (&[][..], format!("no PID or COMMAND specified{}", try_)),
            (&["-p", "0"][..], format!("no PID or COMMAND specified{}", try_)),
            (&["-n"][..], format!("option requires an argument -- 'n'{}", try_)),
            (&["-x"][..], format!("invalid option -- 'x'{}", try_)),
            (&["-n", "5", "echo", "-x"][..], format!("invalid option -- 'x'{}", try_)),
            (&["-n", "abc", "--", "true"][..], "invalid adjust argument: 'abc'".to_string()),
            (&["-n", "--", "true"][..], "invalid adjust argument: '--'".to_string()),
            (&["-p", "1x"][..], "invalid PID argument: '1x'".to_string()),
            (&["-p", "abc"][..], "invalid PID argument: 'abc'".to_string()),
            (
                &["-p", "1", "-n", "99999999999"][..],
                "invalid adjust argument: '99999999999': Numerical result out of range".to_string(),
            ),
            (&["--", "true"][..], format!("no OOM score adjust value specified{}", try_)),
        ] {
            let mut b = [""; 16];
            assert_eq!(parse(args, &mut b), Err(want), "{:?}", args);
        }
    }

    #[test]
    fn adj_values_as_the_file_takes_them() {
        assert_eq!(parse_adj_value("-1000"), Ok(-1000));
        assert_eq!(parse_adj_value("1000"), Ok(1000));
        assert_eq!(
            parse_adj_value("1001").unwrap_err().as_str(),
            "'1001' is not an oom_score_adj (write error: Invalid argument; it takes -1000..1000); nothing changed"
        );
        assert!(parse_adj_value("x").is_err());
    }
}
