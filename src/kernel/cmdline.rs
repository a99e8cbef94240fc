//! The kernel command line: `key=value` words and bare flags, as Linux's
//! `parse_args()` reads them, and the boot options this kernel knows.
//!
//! Parsing is pure and host-tested. A bad option is never fatal: it yields a
//! [`Warning`] naming the value, and the option keeps its default.

#![forbid(unsafe_code)]

use core::fmt;

/// One word of the command line: `key`, or `key=value` (value may be quoted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    pub key: &'a str,
    pub val: Option<&'a str>,
}

/// Split a command line into parameters. Double quotes group spaces:
/// `key="a b"` gives the value `a b`.
pub fn params(cmdline: &str) -> Params<'_> {
    Params { rest: cmdline }
}

pub struct Params<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let s = self.rest.trim_start_matches([' ', '\t', '\n']);
        if s.is_empty() {
            self.rest = s;
            return None;
        }
        let mut in_quote = false;
        let mut end = s.len();
        for (i, c) in s.char_indices() {
            match c {
                '"' => in_quote = !in_quote,
                ' ' | '\t' | '\n' if !in_quote => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let word = &s[..end];
        self.rest = &s[end..];
        Some(match word.split_once('=') {
            Some((k, v)) => Param { key: k, val: Some(v.trim_matches('"')) },
            None => Param { key: word.trim_matches('"'), val: None },
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumError {
    Empty,
    Invalid,
    Overflow,
}

impl fmt::Display for NumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumError::Empty => "empty value",
            NumError::Invalid => "not a number",
            NumError::Overflow => "too large",
        })
    }
}

/// An unsigned integer, decimal or `0x` hexadecimal.
pub fn parse_u64(s: &str) -> Result<u64, NumError> {
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (s, 10),
    };
    if digits.is_empty() {
        return Err(if s.is_empty() { NumError::Empty } else { NumError::Invalid });
    }
    let mut v: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix).ok_or(NumError::Invalid)? as u64;
        v = v.checked_mul(radix as u64).and_then(|v| v.checked_add(d)).ok_or(NumError::Overflow)?;
    }
    Ok(v)
}

/// A size with an optional K, M or G suffix (Linux's `memparse`): `512M`, `2G`, `0x1000`.
pub fn memparse(s: &str) -> Result<u64, NumError> {
    let (num, shift) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 10),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 20),
        Some(b'g' | b'G') => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let v = parse_u64(num)?;
    v.checked_mul(1u64 << shift).ok_or(NumError::Overflow)
}

/// Options the kernel understands, with their defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootOptions {
    /// Messages with a level below this reach the console (Linux's `loglevel=`).
    pub console_loglevel: u8,
    /// Run the in-kernel tests at boot, then power off (`ktest`).
    pub ktest: bool,
    /// Run the benchmarks at boot, then power off (`bench`; `make bench`).
    pub bench: bool,
    /// Plain reports without ANSI colour (`NO_COLOR`).
    pub no_color: bool,
    /// `mem=`: use no RAM at or above this address (bytes).
    pub mem: Option<u64>,
    /// `highmem=`: size of ZONE_HIGHMEM, even on a small machine (bytes).
    pub highmem: Option<u64>,
    /// `kernelcore=`: memory for unmovable allocations; the rest is ZONE_MOVABLE.
    pub kernelcore: Option<u64>,
    /// `vmalloc=`: size of the vmalloc area (bytes).
    pub vmalloc: Option<u64>,
    /// `mobility_grouping=off`: one free list per order (A/B comparisons).
    pub grouping: bool,
    /// `failslab=`: make slab allocations fail on purpose.
    pub failslab: Option<crate::mm::fault_inject::FaultAttr>,
    /// `fail_page_alloc=`: make page allocations fail on purpose.
    pub fail_page_alloc: Option<crate::mm::fault_inject::FaultAttr>,
    /// `slab_debug=`: red zones and poisoning for every cache (`slab_debug=on`).
    pub slab_debug: bool,
}

pub const DEFAULT_CONSOLE_LOGLEVEL: u8 = 7;
/// `quiet`: only warnings and worse, as Linux.
pub const QUIET_CONSOLE_LOGLEVEL: u8 = 4;

impl Default for BootOptions {
    fn default() -> Self {
        BootOptions {
            console_loglevel: DEFAULT_CONSOLE_LOGLEVEL,
            ktest: false,
            bench: false,
            no_color: false,
            mem: None,
            highmem: None,
            kernelcore: None,
            vmalloc: None,
            grouping: true,
            failslab: None,
            fail_page_alloc: None,
            slab_debug: false,
        }
    }
}

/// Something wrong with the command line; the option keeps its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warning<'a> {
    Unknown(Param<'a>),
    BadValue { key: &'a str, val: &'a str, why: &'static str },
    MissingValue { key: &'a str },
    UnexpectedValue { key: &'a str, val: &'a str },
}

impl fmt::Display for Warning<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Unknown(Param { key, val: Some(v) }) => write!(f, "unknown boot option \"{key}={v}\" ignored"),
            Warning::Unknown(Param { key, val: None }) => write!(f, "unknown boot option \"{key}\" ignored"),
            Warning::BadValue { key, val, why } => write!(f, "bad value \"{val}\" for {key}= ({why}); default kept"),
            Warning::MissingValue { key } => write!(f, "boot option {key}= needs a value; default kept"),
            Warning::UnexpectedValue { key, val } => {
                write!(f, "boot option {key} takes no value (got \"{val}\"); ignored")
            }
        }
    }
}

impl BootOptions {
    /// Parse `cmdline`, calling `warn` for every word that is not understood.
    pub fn parse<'a>(cmdline: &'a str, mut warn: impl FnMut(Warning<'a>)) -> BootOptions {
        let mut o = BootOptions::default();
        for p in params(cmdline) {
            let flag = |set: &mut bool, warn: &mut dyn FnMut(Warning<'a>)| match p.val {
                None => *set = true,
                Some(v) => warn(Warning::UnexpectedValue { key: p.key, val: v }),
            };
            match p.key {
                "loglevel" => match p.val {
                    None => warn(Warning::MissingValue { key: p.key }),
                    Some(v) => match parse_u64(v) {
                        Ok(n) if n <= 15 => o.console_loglevel = n as u8,
                        Ok(_) => warn(Warning::BadValue { key: p.key, val: v, why: "must be 0..15" }),
                        Err(e) => warn(Warning::BadValue { key: p.key, val: v, why: num_why(e) }),
                    },
                },
                "quiet" => {
                    let mut q = false;
                    flag(&mut q, &mut warn);
                    if q {
                        o.console_loglevel = QUIET_CONSOLE_LOGLEVEL;
                    }
                }
                "ktest" => flag(&mut o.ktest, &mut warn),
                "bench" => flag(&mut o.bench, &mut warn),
                "mem" | "highmem" | "kernelcore" | "vmalloc" => {
                    let slot = match p.key {
                        "mem" => &mut o.mem,
                        "highmem" => &mut o.highmem,
                        "vmalloc" => &mut o.vmalloc,
                        _ => &mut o.kernelcore,
                    };
                    match p.val {
                        None => warn(Warning::MissingValue { key: p.key }),
                        Some(v) => match memparse(v) {
                            Ok(n) => *slot = Some(n),
                            Err(e) => warn(Warning::BadValue { key: p.key, val: v, why: num_why(e) }),
                        },
                    }
                }
                "failslab" | "fail_page_alloc" => match p.val {
                    None => warn(Warning::MissingValue { key: p.key }),
                    Some(v) => match crate::mm::fault_inject::FaultAttr::parse(v) {
                        Ok(a) if p.key == "failslab" => o.failslab = Some(a),
                        Ok(a) => o.fail_page_alloc = Some(a),
                        Err(why) => warn(Warning::BadValue { key: p.key, val: v, why }),
                    },
                },
                "slab_debug" => match p.val {
                    None | Some("on") | Some("1") => o.slab_debug = true,
                    Some("off") | Some("0") => o.slab_debug = false,
                    Some(v) => warn(Warning::BadValue { key: p.key, val: v, why: "must be on or off" }),
                },
                "mobility_grouping" => match p.val {
                    Some("on") => o.grouping = true,
                    Some("off") => o.grouping = false,
                    Some(v) => warn(Warning::BadValue { key: p.key, val: v, why: "must be on or off" }),
                    None => warn(Warning::MissingValue { key: p.key }),
                },
                "NO_COLOR" => flag(&mut o.no_color, &mut warn),
                _ => warn(Warning::Unknown(p)),
            }
        }
        o
    }
}

/// `NO_COLOR` was given at boot (set once by `kmain`).
static NO_COLOR: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

pub fn set_no_color(v: bool) {
    NO_COLOR.store(v, core::sync::atomic::Ordering::Relaxed);
}

pub fn no_color() -> bool {
    NO_COLOR.load(core::sync::atomic::Ordering::Relaxed)
}

fn num_why(e: NumError) -> &'static str {
    match e {
        NumError::Empty => "empty value",
        NumError::Invalid => "not a number",
        NumError::Overflow => "too large",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(s: &str) -> Vec<Param<'_>> {
        params(s).collect()
    }

    #[test]
    fn splits_words_and_values() {
        assert_eq!(
            collect("  quiet loglevel=3\tmem=512M  "),
            vec![
                Param { key: "quiet", val: None },
                Param { key: "loglevel", val: Some("3") },
                Param { key: "mem", val: Some("512M") }
            ]
        );
        assert_eq!(collect(""), vec![]);
        assert_eq!(collect("   "), vec![]);
    }

    #[test]
    fn quotes_group_spaces() {
        assert_eq!(
            collect("msg=\"a b\" x"),
            vec![Param { key: "msg", val: Some("a b") }, Param { key: "x", val: None }]
        );
    }

    #[test]
    fn value_may_contain_equals() {
        assert_eq!(collect("a=b=c"), vec![Param { key: "a", val: Some("b=c") }]);
    }

    #[test]
    fn memparse_suffixes() {
        assert_eq!(memparse("512M"), Ok(512 << 20));
        assert_eq!(memparse("2G"), Ok(2 << 30));
        assert_eq!(memparse("64k"), Ok(64 << 10));
        assert_eq!(memparse("0x1000"), Ok(0x1000));
        assert_eq!(memparse("123"), Ok(123));
        assert_eq!(memparse(""), Err(NumError::Empty));
        assert_eq!(memparse("M"), Err(NumError::Empty));
        assert_eq!(memparse("12X"), Err(NumError::Invalid));
        assert_eq!(memparse("0x"), Err(NumError::Invalid));
        assert_eq!(memparse("99999999999999999999"), Err(NumError::Overflow));
        assert_eq!(memparse("17179869184G"), Err(NumError::Overflow));
    }

    #[test]
    fn options_and_warnings() {
        let mut w = Vec::new();
        let o = BootOptions::parse("loglevel=3 ktest bogus NO_COLOR", |x| w.push(x.to_string()));
        assert_eq!(o, BootOptions { console_loglevel: 3, ktest: true, no_color: true, ..BootOptions::default() });
        assert_eq!(w, vec!["unknown boot option \"bogus\" ignored".to_string()]);
    }

    #[test]
    fn bad_values_keep_defaults() {
        let mut w = Vec::new();
        let o = BootOptions::parse("loglevel=abc loglevel=99 loglevel ktest=1", |x| w.push(x.to_string()));
        assert_eq!(o, BootOptions::default());
        assert_eq!(
            w,
            vec![
                "bad value \"abc\" for loglevel= (not a number); default kept",
                "bad value \"99\" for loglevel= (must be 0..15); default kept",
                "boot option loglevel= needs a value; default kept",
                "boot option ktest takes no value (got \"1\"); ignored",
            ]
        );
    }

    #[test]
    fn memory_options() {
        let mut w = Vec::new();
        let o = BootOptions::parse("mem=1G highmem=256M kernelcore=0x10000000 mobility_grouping=off", |x| {
            w.push(x.to_string())
        });
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            (o.mem, o.highmem, o.kernelcore, o.grouping),
            (Some(1 << 30), Some(256 << 20), Some(256 << 20), false)
        );
        let o = BootOptions::parse("mem=lots highmem mobility_grouping=maybe", |x| w.push(x.to_string()));
        assert_eq!(o, BootOptions::default());
        assert_eq!(
            w,
            vec![
                "bad value \"lots\" for mem= (not a number); default kept",
                "boot option highmem= needs a value; default kept",
                "bad value \"maybe\" for mobility_grouping= (must be on or off); default kept",
            ]
        );
    }

    #[test]
    fn fault_injection_options() {
        let mut w = Vec::new();
        let o =
            BootOptions::parse("failslab=1,100,0,5 fail_page_alloc=2,50,0,-1 slab_debug", |x| w.push(x.to_string()));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(o.failslab.unwrap().times, 5);
        assert_eq!(o.fail_page_alloc.unwrap().interval, 2);
        assert!(o.slab_debug);
        BootOptions::parse("failslab=1,200,0,1", |x| w.push(x.to_string()));
        assert_eq!(
            w,
            vec!["bad value \"1,200,0,1\" for failslab= (probability is a percentage (0..100)); default kept"]
        );
    }

    #[test]
    fn quiet_lowers_loglevel() {
        let o = BootOptions::parse("quiet", |_| panic!("no warning expected"));
        assert_eq!(o.console_loglevel, QUIET_CONSOLE_LOGLEVEL);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,200}") {
            let _ = BootOptions::parse(&s, |_| {});
            let _ = memparse(&s);
        }
    }
}
