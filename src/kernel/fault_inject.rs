//! Fault injection (Linux's lib/fault-inject.c): make chosen allocations
//! fail on purpose, deterministically, so failure paths are tested instead
//! of trusted. Boot options as in Linux:
//!
//! `failslab=<interval>,<probability>,<space>,<times>` and
//! `fail_page_alloc=<interval>,<probability>,<space>,<times>`
//!
//! - `interval`: only every interval-th eligible call may fail (1: any);
//! - `probability`: percent chance that an eligible call fails, drawn from a
//!   generator with a fixed seed, or the boot option `seed=` (each of the
//!   two options its own stream of it: `kernel::random`), so a run repeats
//!   exactly;
//! - `space`: a size budget: a call smaller than what is left of it passes
//!   untouched and spends its size; a call at least as large as the rest is
//!   eligible to fail, and the budget stays (Linux's `space`);
//! - `times`: how many failures at most (-1: no limit).

#![forbid(unsafe_code)]

use super::cmdline::{parse_u64, NumError};
use super::random::XorShift64Star;
use core::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultAttr {
    pub interval: u64,
    pub probability: u64,
    pub space: u64,
    /// Failures left; negative: unlimited.
    pub times: i64,
    /// Eligible calls seen.
    pub count: u64,
    /// Failures injected.
    pub failed: u64,
    rng: XorShift64Star,
}

/// The fixed seed without `seed=`: every run fails the same calls.
const SEED: u64 = 0x2545_f491_4f6c_dd1d;

impl FaultAttr {
    /// Never fails (the default).
    pub const DISABLED: FaultAttr = FaultAttr::new(1, 0, 0, 0);

    pub const fn new(interval: u64, probability: u64, space: u64, times: i64) -> FaultAttr {
        FaultAttr { interval, probability, space, times, count: 0, failed: 0, rng: XorShift64Star::new(SEED) }
    }

    /// The same settings drawing from a generator started at `state` (the
    /// boot option `seed=`'s stream for this option) instead of the fixed seed.
    pub const fn seeded(self, state: u64) -> FaultAttr {
        FaultAttr { rng: XorShift64Star::new(state), ..self }
    }

    /// Parse `interval,probability,space,times`; the error names what is wrong.
    pub fn parse(s: &str) -> Result<FaultAttr, &'static str> {
        let mut parts = s.split(',');
        let mut next = |what: &'static str| parts.next().ok_or(what);
        let number = |v: &str, bad: &'static str, big: &'static str| {
            parse_u64(v).map_err(|e| if e == NumError::Overflow { big } else { bad })
        };
        // The ranges of Linux's own fields on i386: `unsigned long` interval
        // and space (32 bits), `atomic_t` times (an int).
        let interval = number(
            next("missing interval")?,
            "interval is not a number",
            "interval is out of range (at most 4294967295)",
        )?;
        let probability = number(
            next("missing probability")?,
            "probability is not a number",
            "probability is a percentage (0..100)",
        )?;
        let space =
            number(next("missing space")?, "space is not a number", "space is out of range (at most 4294967295)")?;
        let times_s = next("missing times")?;
        const TIMES_RANGE: &str = "times is out of range (-1, or 0 to 2147483647)";
        let times = if times_s == "-1" {
            -1
        } else {
            let n = number(times_s, "times is not a number (-1 for no limit)", TIMES_RANGE)?;
            i64::from(i32::try_from(n).map_err(|_| TIMES_RANGE)?)
        };
        if interval > u64::from(u32::MAX) {
            return Err("interval is out of range (at most 4294967295)");
        }
        if space > u64::from(u32::MAX) {
            return Err("space is out of range (at most 4294967295)");
        }
        if parts.next().is_some() {
            return Err("more than four fields");
        }
        if interval == 0 {
            return Err("interval must be at least 1");
        }
        if probability > 100 {
            return Err("probability is a percentage (0..100)");
        }
        Ok(FaultAttr::new(interval, probability, space, times))
    }

    pub fn enabled(&self) -> bool {
        self.probability > 0 && self.times != 0
    }

    /// Whether this call of `size` bytes should fail (Linux's `should_fail`).
    pub fn should_fail(&mut self, size: u64) -> bool {
        if !self.enabled() {
            return false;
        }
        // Linux: `if (atomic_read(&attr->space) > size)`, and a call at
        // least as large as the budget leaves it as it is.
        if self.space > size {
            self.space -= size;
            return false;
        }
        self.count += 1;
        if !self.count.is_multiple_of(self.interval) {
            return false;
        }
        if self.rng.next_u64() % 100 >= self.probability {
            return false;
        }
        if self.times > 0 {
            self.times -= 1;
        }
        self.failed += 1;
        true
    }
}

/// The settings as a Linux user knows them (the files of
/// `/sys/kernel/debug/fail*/`): `interval 1, probability 100%, space 0, times 1`.
impl fmt::Display for FaultAttr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "interval {}, probability {}%, space {}, times ", self.interval, self.probability, self.space)?;
        if self.times < 0 {
            f.write_str("-1 (no limit)")
        } else {
            write!(f, "{}", self.times)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_linux_syntax() {
        assert_eq!(FaultAttr::parse("1,100,0,-1"), Ok(FaultAttr::new(1, 100, 0, -1)));
        assert_eq!(FaultAttr::parse("10,50,4096,3"), Ok(FaultAttr::new(10, 50, 4096, 3)));
        assert_eq!(FaultAttr::parse("0,10,0,1"), Err("interval must be at least 1"));
        assert_eq!(FaultAttr::parse("1,101,0,1"), Err("probability is a percentage (0..100)"));
        assert_eq!(FaultAttr::parse("1,10"), Err("missing space"));
        assert_eq!(FaultAttr::parse("1,x,0,1"), Err("probability is not a number"));
        assert_eq!(FaultAttr::parse("1,1,1,1,1"), Err("more than four fields"));
    }

    #[test]
    fn always_fail_respects_times() {
        let mut a = FaultAttr::new(1, 100, 0, 3);
        let fails: Vec<bool> = (0..5).map(|_| a.should_fail(8)).collect();
        assert_eq!(fails, vec![true, true, true, false, false]);
        assert_eq!(a.failed, 3);
    }

    #[test]
    fn interval_and_space() {
        let mut a = FaultAttr::new(3, 100, 16, -1);
        // The first 8-byte call spends 8 of the 16; then 8 is not more than
        // 8, so every call is eligible and every third fails.
        let fails: Vec<bool> = (0..8).map(|_| a.should_fail(8)).collect();
        assert_eq!(fails, vec![false, false, false, true, false, false, true, false]);
        assert_eq!(a.space, 8, "an eligible call leaves the budget as it is");
    }

    /// Linux's rule is `space > size`: a call of exactly the budget is
    /// eligible, and smaller calls still pass on the budget afterwards.
    #[test]
    fn space_is_strictly_greater_and_never_zeroed() {
        let mut a = FaultAttr::new(1, 100, 4096, -1);
        assert!(a.should_fail(4096), "4096 is not more than 4096: eligible");
        assert_eq!(a.space, 4096);
        assert!(!a.should_fail(100), "a call below the budget passes");
        assert_eq!(a.space, 3996);
        assert!(a.should_fail(8192));
        assert_eq!(a.space, 3996);
    }

    #[test]
    fn out_of_range_values_are_refused() {
        // Linux's ranges on i386: times is an atomic_t, interval and space unsigned long.
        let too_big = "times is out of range (-1, or 0 to 2147483647)";
        assert_eq!(FaultAttr::parse("1,100,0,18446744073709551615"), Err(too_big));
        assert_eq!(FaultAttr::parse("1,100,0,2147483648"), Err(too_big));
        assert_eq!(FaultAttr::parse("1,100,0,18446744073709551616"), Err(too_big));
        assert_eq!(FaultAttr::parse("1,100,0,2147483647").unwrap().times, i64::from(i32::MAX));
        assert_eq!(FaultAttr::parse("4294967296,1,0,1"), Err("interval is out of range (at most 4294967295)"));
        assert_eq!(FaultAttr::parse("1,1,4294967296,1"), Err("space is out of range (at most 4294967295)"));
        assert_eq!(FaultAttr::parse("4294967295,1,4294967295,1").unwrap().space, 4294967295);
        assert_eq!(FaultAttr::parse("1,100,0,-2"), Err("times is not a number (-1 for no limit)"));
        assert_eq!(
            FaultAttr::parse("99999999999999999999,1,0,1"),
            Err("interval is out of range (at most 4294967295)")
        );
        assert_eq!(FaultAttr::parse("1,99999999999999999999,0,1"), Err("probability is a percentage (0..100)"));
        assert_eq!(FaultAttr::parse("1,1,99999999999999999999,1"), Err("space is out of range (at most 4294967295)"));
    }

    #[test]
    fn boot_line_says_what_users_set() {
        assert_eq!(FaultAttr::new(1, 100, 0, 1).to_string(), "interval 1, probability 100%, space 0, times 1");
        assert_eq!(
            FaultAttr::new(10, 5, 4096, -1).to_string(),
            "interval 10, probability 5%, space 4096, times -1 (no limit)"
        );
    }

    #[test]
    fn probability_is_deterministic_and_roughly_right() {
        let run = || {
            let mut a = FaultAttr::new(1, 25, 0, -1);
            (0..10_000).filter(|_| a.should_fail(1)).count()
        };
        let n = run();
        assert_eq!(n, run(), "same seed, same failures");
        assert!((2000..3000).contains(&n), "25% of 10000, got {n}");
    }

    #[test]
    fn a_seed_changes_which_calls_fail_and_repeats() {
        let run = |attr: FaultAttr| {
            let mut a = attr;
            (0..64).map(|_| a.should_fail(1)).collect::<Vec<bool>>()
        };
        let base = FaultAttr::new(1, 50, 0, -1);
        assert_eq!(run(base.seeded(1)), run(base.seeded(1)), "same seed, same calls fail");
        assert_ne!(run(base.seeded(1)), run(base.seeded(2)), "another seed, other calls");
        assert_ne!(run(base.seeded(1)), run(base), "the fixed seed is not seed 1's stream");
    }

    /// Without `seed=` the calls that fail are those of before the option:
    /// xorshift64* from the fixed seed, drawn as it always was.
    #[test]
    fn without_a_seed_the_fixed_sequence_is_kept() {
        let mut x = SEED;
        let mut old = || {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d) % 100 < 50
        };
        let want: Vec<bool> = (0..64).map(|_| old()).collect();
        let mut a = FaultAttr::new(1, 50, 0, -1);
        assert_eq!((0..64).map(|_| a.should_fail(1)).collect::<Vec<bool>>(), want);
    }

    #[test]
    fn disabled_never_fails() {
        let mut a = FaultAttr::DISABLED;
        assert!((0..1000).all(|_| !a.should_fail(64)));
    }
}
