//! Fault injection (Linux's lib/fault-inject.c): make chosen allocations
//! fail on purpose, deterministically, so failure paths are tested instead
//! of trusted. Boot options as in Linux:
//!
//! `failslab=<interval>,<probability>,<space>,<times>` and
//! `fail_page_alloc=<interval>,<probability>,<space>,<times>`
//!
//! - `interval`: only every interval-th eligible call may fail (1: any);
//! - `probability`: percent chance that an eligible call fails, drawn from a
//!   generator with a fixed seed, so a run repeats exactly;
//! - `space`: the first `space` bytes requested pass untouched (Linux's
//!   "size budget" before failures start);
//! - `times`: how many failures at most (-1: no limit).

#![forbid(unsafe_code)]

use crate::kernel::cmdline::parse_u64;

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
    rng: u64,
}

/// The fixed seed: every run fails the same calls.
const SEED: u64 = 0x2545_f491_4f6c_dd1d;

impl FaultAttr {
    /// Never fails (the default).
    pub const DISABLED: FaultAttr =
        FaultAttr { interval: 1, probability: 0, space: 0, times: 0, count: 0, failed: 0, rng: SEED };

    pub const fn new(interval: u64, probability: u64, space: u64, times: i64) -> FaultAttr {
        FaultAttr { interval, probability, space, times, count: 0, failed: 0, rng: SEED }
    }

    /// Parse `interval,probability,space,times`; the error names what is wrong.
    pub fn parse(s: &str) -> Result<FaultAttr, &'static str> {
        let mut parts = s.split(',');
        let mut next = |what: &'static str| parts.next().ok_or(what);
        let interval = parse_u64(next("missing interval")?).map_err(|_| "interval is not a number")?;
        let probability = parse_u64(next("missing probability")?).map_err(|_| "probability is not a number")?;
        let space = parse_u64(next("missing space")?).map_err(|_| "space is not a number")?;
        let times_s = next("missing times")?;
        let times = if times_s == "-1" { -1 } else { parse_u64(times_s).map_err(|_| "times is not a number")? as i64 };
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

    fn next_random(&mut self) -> u64 {
        // xorshift64*: small, fast, and the same sequence on every run.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Whether this call of `size` bytes should fail (Linux's `should_fail`).
    pub fn should_fail(&mut self, size: u64) -> bool {
        if !self.enabled() {
            return false;
        }
        if self.space > 0 {
            if self.space >= size {
                self.space -= size;
                return false;
            }
            self.space = 0;
        }
        self.count += 1;
        if self.count % self.interval != 0 {
            return false;
        }
        if self.next_random() % 100 >= self.probability {
            return false;
        }
        if self.times > 0 {
            self.times -= 1;
        }
        self.failed += 1;
        true
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
        // 16 bytes of budget pass: two 8-byte calls, then every third call fails.
        let fails: Vec<bool> = (0..8).map(|_| a.should_fail(8)).collect();
        assert_eq!(fails, vec![false, false, false, false, true, false, false, true]);
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
    fn disabled_never_fails() {
        let mut a = FaultAttr::DISABLED;
        assert!((0..1000).all(|_| !a.should_fail(64)));
    }
}
