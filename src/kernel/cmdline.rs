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

/// Split a command line into parameters as Linux's `next_arg()` does:
/// spaces outside double quotes separate words; `key="a b"` gives the value
/// `a b`, and a word quoted whole, `"key=a b"` (the form GRUB writes for a
/// word holding a space), gives the same.
pub fn params(cmdline: &str) -> Params<'_> {
    Params { rest: cmdline }
}

pub struct Params<'a> {
    rest: &'a str,
}

/// Linux's `isspace()` on the command line: space, \t, \n, \v, \f, \r.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let s = self.rest.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8));
        if s.is_empty() {
            self.rest = s;
            return None;
        }
        let b = s.as_bytes();
        // Linux: a leading quote opens a quote and is not part of the word.
        let quoted = b[0] == b'"';
        let start = usize::from(quoted);
        let mut in_quote = quoted;
        let mut equals = None;
        let mut end = b.len();
        for (i, &c) in b.iter().enumerate().skip(start) {
            if is_space(c) && !in_quote {
                end = i;
                break;
            }
            if equals.is_none() && c == b'=' {
                equals = Some(i);
            }
            if c == b'"' {
                in_quote = !in_quote;
            }
        }
        self.rest = &s[end..];
        // Every index used below is that of an ASCII byte (or the ends), so
        // each slice falls on a character boundary.
        let mut word_end = end;
        let strip_last = |from: usize, to: usize| if to > from && b[to - 1] == b'"' { to - 1 } else { to };
        let param = match equals {
            None => {
                if quoted {
                    word_end = strip_last(start, word_end);
                }
                Param { key: &s[start..word_end], val: None }
            }
            Some(eq) => {
                let mut v = eq + 1;
                // Don't include quotes in the value (next_arg strips the
                // opening quote and, if the word ends with one, the last).
                if v < end && b[v] == b'"' {
                    v += 1;
                    word_end = strip_last(v, word_end);
                } else if quoted {
                    word_end = strip_last(v, word_end);
                }
                Param { key: &s[start..eq], val: Some(&s[v..word_end]) }
            }
        };
        Some(param)
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

/// A size with an optional K, M, G, T, P or E suffix (Linux's `memparse`):
/// `512M`, `2G`, `1T`, `0x1000`.
pub fn memparse(s: &str) -> Result<u64, NumError> {
    let hex = s.starts_with("0x") || s.starts_with("0X");
    let shift = match s.as_bytes().last() {
        // Linux reads the number first: in `0x1E` the E is a hex digit.
        Some(c) if hex && c.is_ascii_hexdigit() => 0,
        Some(b'k' | b'K') => 10,
        Some(b'm' | b'M') => 20,
        Some(b'g' | b'G') => 30,
        Some(b't' | b'T') => 40,
        Some(b'p' | b'P') => 50,
        Some(b'e' | b'E') => 60,
        _ => 0,
    };
    let num = if shift == 0 { s } else { &s[..s.len() - 1] };
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
    /// The TSC counts instructions (`bench_icount`: `make bench` runs QEMU
    /// with `-icount shift=0`, which the kernel cannot detect by itself).
    pub bench_icount: bool,
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
    /// `compaction=off`: no direct compaction (A/B comparisons; Linux
    /// decides it at build time, `CONFIG_COMPACTION`).
    pub compaction: bool,
    /// `failslab=`: make slab allocations fail on purpose.
    pub failslab: Option<crate::kernel::fault_inject::FaultAttr>,
    /// `fail_page_alloc=`: make page allocations fail on purpose.
    pub fail_page_alloc: Option<crate::kernel::fault_inject::FaultAttr>,
    /// `slab_debug=`: red zones and poisoning for every cache (`slab_debug=on`).
    pub slab_debug: bool,
    /// `memlock=`: the `RLIMIT_MEMLOCK` programs start with (bytes; Linux
    /// sets it at build time: 8 MB since 5.16, 64 KB in 2.6.24).
    pub memlock: Option<u64>,
    /// `nohighpte`: user page tables from lowmem rather than highmem
    /// (Linux's `CONFIG_HIGHPTE` off), for comparisons.
    pub nohighpte: bool,
    /// `cma=SIZE[@START]`: reserve a Contiguous Memory Allocator region
    /// (Linux's syntax; placement and its checks are `mm::cma`'s).
    pub cma: Option<CmaOption>,
    /// `noswap`: do not turn on the swap areas found at boot (Linux's
    /// `noswap`-less world does it from userspace with `swapon -a`; `swapon`
    /// in the shell still can).
    pub noswap: bool,
    /// `seed=N`: seed every random choice of the kernel (fault injection,
    /// `AT_RANDOM`), so that a run repeats (`kernel::random`). The fault
    /// injection options parsed here already draw from it.
    pub seed: Option<u64>,
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
            bench_icount: false,
            no_color: false,
            mem: None,
            highmem: None,
            kernelcore: None,
            vmalloc: None,
            grouping: true,
            compaction: true,
            failslab: None,
            fail_page_alloc: None,
            slab_debug: false,
            memlock: None,
            nohighpte: false,
            noswap: false,
            cma: None,
            seed: None,
        }
    }
}

/// `cma=SIZE[@START]`, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmaOption {
    pub size: u64,
    /// Where the region must start; `None`: at the top of lowmem.
    pub base: Option<u64>,
}

impl CmaOption {
    /// Linux's `early_cma`: `SIZE[@START]`, both with `memparse` suffixes.
    /// (Linux also takes `@START-END`, a range to place it in; not here.)
    pub fn parse(v: &str) -> Result<CmaOption, &'static str> {
        let (size, base) = match v.split_once('@') {
            Some((size, base)) => (size, Some(base)),
            None => (v, None),
        };
        let size = memparse(size).map_err(|e| match e {
            NumError::Empty => "no SIZE before @",
            e => num_why(e),
        })?;
        let base = match base {
            None => None,
            Some(b) if b.contains('-') => return Err("START-END ranges are not supported: give SIZE[@START]"),
            Some(b) => Some(memparse(b).map_err(|e| match e {
                NumError::Empty => "no START after @",
                e => num_why(e),
            })?),
        };
        Ok(CmaOption { size, base })
    }
}

/// Something wrong with the command line; the option keeps its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warning<'a> {
    Unknown(Param<'a>),
    BadValue {
        key: &'a str,
        val: &'a str,
        why: &'static str,
    },
    MissingValue {
        key: &'a str,
    },
    UnexpectedValue {
        key: &'a str,
        val: &'a str,
    },
    /// `ktest` and `bench` both power off when done: one boot runs one.
    KtestAndBench,
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
            Warning::KtestAndBench => {
                f.write_str("ktest and bench cannot run in one boot (each powers off when done); running ktest only")
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
                "bench_icount" => flag(&mut o.bench_icount, &mut warn),
                "mem" | "highmem" | "kernelcore" | "vmalloc" | "memlock" => {
                    let slot = match p.key {
                        "mem" => &mut o.mem,
                        "memlock" => &mut o.memlock,
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
                    Some(v) => match crate::kernel::fault_inject::FaultAttr::parse(v) {
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
                "compaction" => match p.val {
                    Some("on") => o.compaction = true,
                    Some("off") => o.compaction = false,
                    Some(v) => warn(Warning::BadValue { key: p.key, val: v, why: "must be on or off" }),
                    None => warn(Warning::MissingValue { key: p.key }),
                },
                // Read by `bench::selected` (which knows the section names)
                // from the raw command line; here only checked for a value.
                "bench_only" => {
                    if p.val.is_none_or(str::is_empty) {
                        warn(Warning::MissingValue { key: p.key })
                    }
                }
                "cma" => match p.val {
                    None => warn(Warning::MissingValue { key: p.key }),
                    Some(v) => match CmaOption::parse(v) {
                        Ok(c) => o.cma = Some(c),
                        Err(why) => warn(Warning::BadValue { key: p.key, val: v, why }),
                    },
                },
                "seed" => match p.val {
                    None => warn(Warning::MissingValue { key: p.key }),
                    Some(v) => match parse_u64(v) {
                        Ok(n) => o.seed = Some(n),
                        Err(e) => warn(Warning::BadValue {
                            key: p.key,
                            val: v,
                            why: match e {
                                NumError::Overflow => "too large: at most 64 bits, 18446744073709551615",
                                _ => "not a number: give it in decimal or 0x hex",
                            },
                        }),
                    },
                },
                "NO_COLOR" => flag(&mut o.no_color, &mut warn),
                "nohighpte" => flag(&mut o.nohighpte, &mut warn),
                "noswap" => flag(&mut o.noswap, &mut warn),
                _ => warn(Warning::Unknown(p)),
            }
        }
        if o.ktest && o.bench {
            warn(Warning::KtestAndBench);
            o.bench = false;
        }
        // After the loop: `seed=` may come after the options it seeds.
        if let Some(seed) = o.seed {
            use crate::kernel::random::stream_seed;
            o.failslab = o.failslab.map(|a| a.seeded(stream_seed(seed, "failslab")));
            o.fail_page_alloc = o.fail_page_alloc.map(|a| a.seeded(stream_seed(seed, "fail_page_alloc")));
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
    fn quoted_values_as_linux_next_arg() {
        let p = |k, v| Param { key: k, val: v };
        // GRUB hands a word with a space over quoted whole.
        assert_eq!(collect("\"msg=a b\" y"), vec![p("msg", Some("a b")), p("y", None)]);
        assert_eq!(collect("\"a flag\""), vec![p("a flag", None)]);
        assert_eq!(collect("k=\"\" z=\"1\""), vec![p("k", Some("")), p("z", Some("1"))]);
        // Only a leading quote is taken off a value, and only a last one with it.
        assert_eq!(collect("a=\"b\"c"), vec![p("a", Some("b\"c"))]);
        assert_eq!(collect("a=b\"c d\""), vec![p("a", Some("b\"c d\""))]);
        // An unclosed quote runs to the end of the line, as in Linux.
        assert_eq!(collect("x=\"a b"), vec![p("x", Some("a b"))]);
        assert_eq!(collect("\""), vec![p("", None)]);
        // Every character passes: the shell's and sed's specials included.
        assert_eq!(collect("s=a|b&c;d#e'f"), vec![p("s", Some("a|b&c;d#e'f"))]);
        assert_eq!(collect("\r\x0bk=v\x0c"), vec![p("k", Some("v"))]);
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
    fn memparse_takes_t_p_e_as_linux() {
        assert_eq!(memparse("1T"), Ok(1 << 40));
        assert_eq!(memparse("2p"), Ok(2 << 50));
        assert_eq!(memparse("15E"), Ok(15 << 60));
        assert_eq!(memparse("16E"), Err(NumError::Overflow));
        // In a hex number the last letter is a digit, not a suffix.
        assert_eq!(memparse("0x1E"), Ok(0x1e));
        assert_eq!(memparse("0x1M"), Ok(1 << 20));
        let o = BootOptions::parse("mem=1T", |w| panic!("{w}"));
        assert_eq!(o.mem, Some(1 << 40), "mem=1T must parse, for mm to refuse it by name");
    }

    #[test]
    fn ktest_and_bench_together_run_ktest_and_say_so() {
        let mut w = Vec::new();
        let o = BootOptions::parse("bench ktest bench_icount", |x| w.push(x.to_string()));
        assert!(o.ktest && !o.bench && o.bench_icount);
        assert_eq!(w, vec!["ktest and bench cannot run in one boot (each powers off when done); running ktest only"]);
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
    fn compaction_and_bench_only_options() {
        let mut w = Vec::new();
        let o = BootOptions::parse("compaction=off bench_only=frag", |x| w.push(x.to_string()));
        assert!(w.is_empty(), "{w:?}");
        assert!(!o.compaction && BootOptions::default().compaction);
        let o = BootOptions::parse("compaction=maybe compaction bench_only bench_only=", |x| w.push(x.to_string()));
        assert!(o.compaction);
        assert_eq!(
            w,
            vec![
                "bad value \"maybe\" for compaction= (must be on or off); default kept",
                "boot option compaction= needs a value; default kept",
                "boot option bench_only= needs a value; default kept",
                "boot option bench_only= needs a value; default kept",
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
    fn cma_option() {
        let mut w = Vec::new();
        let mut parse = |s| BootOptions::parse(s, |x| w.push(x.to_string())).cma;
        assert_eq!(parse("cma=64M"), Some(CmaOption { size: 64 << 20, base: None }));
        assert_eq!(parse("cma=16m@0x20000000"), Some(CmaOption { size: 16 << 20, base: Some(0x2000_0000) }));
        assert_eq!(parse("cma=8M@512M"), Some(CmaOption { size: 8 << 20, base: Some(512 << 20) }));
        for bad in ["cma=lots", "cma=64M@", "cma=@1G", "cma=64M@1G-2G", "cma"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(
            w,
            vec![
                "bad value \"lots\" for cma= (not a number); default kept",
                "bad value \"64M@\" for cma= (no START after @); default kept",
                "bad value \"@1G\" for cma= (no SIZE before @); default kept",
                "bad value \"64M@1G-2G\" for cma= (START-END ranges are not supported: give SIZE[@START]); default kept",
                "boot option cma= needs a value; default kept",
            ]
        );
    }

    #[test]
    fn memlock_option() {
        let mut w = Vec::new();
        assert_eq!(BootOptions::parse("memlock=8M", |x| w.push(x.to_string())).memlock, Some(8 << 20));
        assert_eq!(BootOptions::parse("memlock=x", |x| w.push(x.to_string())).memlock, None);
        assert_eq!(w, vec!["bad value \"x\" for memlock= (not a number); default kept"]);
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
    fn seed_option_seeds_fault_injection_wherever_it_stands() {
        let mut w = Vec::new();
        let a = BootOptions::parse("failslab=1,50,0,-1 seed=12345", |x| w.push(x.to_string()));
        let b = BootOptions::parse("seed=0x3039 failslab=1,50,0,-1", |x| w.push(x.to_string()));
        let none = BootOptions::parse("failslab=1,50,0,-1", |x| w.push(x.to_string()));
        let other = BootOptions::parse("failslab=1,50,0,-1 seed=12346", |x| w.push(x.to_string()));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(a.seed, Some(12345));
        assert_eq!(a, b, "decimal and hex, before or after failslab=: the same");
        assert_ne!(a.failslab, none.failslab);
        assert_ne!(a.failslab, other.failslab);
        assert_eq!(none.seed, None);
        let both = BootOptions::parse("seed=1 failslab=1,50,0,-1 fail_page_alloc=1,50,0,-1", |x| w.push(x.to_string()));
        let (mut s, mut p) = (both.failslab.unwrap(), both.fail_page_alloc.unwrap());
        let fs: Vec<bool> = (0..64).map(|_| s.should_fail(1)).collect();
        let fp: Vec<bool> = (0..64).map(|_| p.should_fail(1)).collect();
        assert_ne!(fs, fp, "each option draws from its own stream");
    }

    #[test]
    fn bad_seed_is_named_and_leaves_no_seed() {
        let mut w = Vec::new();
        for bad in ["seed=12x", "seed=0x", "seed=-1", "seed=18446744073709551616", "seed"] {
            assert_eq!(BootOptions::parse(bad, |x| w.push(x.to_string())).seed, None, "{bad}");
        }
        assert_eq!(
            w,
            vec![
                "bad value \"12x\" for seed= (not a number: give it in decimal or 0x hex); default kept",
                "bad value \"0x\" for seed= (not a number: give it in decimal or 0x hex); default kept",
                "bad value \"-1\" for seed= (not a number: give it in decimal or 0x hex); default kept",
                "bad value \"18446744073709551616\" for seed= (too large: at most 64 bits, 18446744073709551615); default kept",
                "boot option seed= needs a value; default kept",
            ]
        );
        assert_eq!(BootOptions::parse("seed=18446744073709551615", |x| panic!("{x}")).seed, Some(u64::MAX));
        assert_eq!(BootOptions::parse("seed=0", |x| panic!("{x}")).seed, Some(0));
    }

    #[test]
    fn noswap_is_a_flag() {
        assert!(BootOptions::parse("noswap", |w| panic!("{w}")).noswap);
        assert!(!BootOptions::default().noswap);
    }

    #[test]
    fn nohighpte_is_a_flag() {
        let o = BootOptions::parse("nohighpte", |w| panic!("{w}"));
        assert!(o.nohighpte);
        assert!(!BootOptions::default().nohighpte);
        let mut w = Vec::new();
        let o = BootOptions::parse("nohighpte=1", |x| w.push(x.to_string()));
        assert!(!o.nohighpte);
        assert_eq!(w, vec!["boot option nohighpte takes no value (got \"1\"); ignored"]);
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
