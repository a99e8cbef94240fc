//! The kernel's random choices and the boot option that makes them repeat
//! (`seed=N`), for labs and bug reports: a student and the grader booting
//! with the same seed see the same run.
//!
//! The kernel chooses at random in two places: which calls fault
//! injection fails (`kernel::fault_inject`, `failslab=` and
//! `fail_page_alloc=`), and the 16 `AT_RANDOM` bytes every program gets
//! (`process::exec`, glibc's stack-protector and pointer-guard seed).
//! Without `seed=` fault injection uses its fixed seed and `AT_RANDOM`
//! comes from the time stamp counter, as before. With it, each consumer
//! draws from its own stream, derived from the boot seed and the
//! consumer's name ([`stream_seed`]), so adding a draw to one consumer
//! leaves the others' sequences as they were.
//!
//! Linux has no such option (its `get_random_bytes` is meant not to
//! repeat); the closest are fault injection's debugfs `random` seeds and
//! `randomize_va_space=0`. The generators are not cryptographic, and need
//! not be: nothing here protects anything.

#![forbid(unsafe_code)]

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static SEEDED: AtomicBool = AtomicBool::new(false);
static SEED: AtomicU64 = AtomicU64::new(0);

/// Record the boot option `seed=` (once, at boot, before any program
/// runs or any allocation may be failed on purpose).
pub fn set_boot_seed(seed: u64) {
    SEED.store(seed, Ordering::Relaxed);
    SEEDED.store(true, Ordering::Release);
}

/// The `seed=` given at boot, if any.
pub fn boot_seed() -> Option<u64> {
    SEEDED.load(Ordering::Acquire).then(|| SEED.load(Ordering::Relaxed))
}

/// SplitMix64's output function (Steele, Lea and Flood, 2014): a
/// bijection that spreads every input bit over the whole word, so that
/// seeds 1 and 2 give unrelated streams.
pub const fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a of a stream's name: its number.
const fn name_hash(name: &str) -> u64 {
    let b = name.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < b.len() {
        h = (h ^ b[i] as u64).wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// The starting state of stream `name` under boot seed `seed`: never 0,
/// which xorshift would keep forever.
pub const fn stream_seed(seed: u64, name: &str) -> u64 {
    let s = splitmix64(seed ^ splitmix64(name_hash(name)));
    if s == 0 {
        1
    } else {
        s
    }
}

/// xorshift64* (Vigna, 2016): small, fast, and the same sequence for the
/// same state on every run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XorShift64Star(u64);

impl XorShift64Star {
    /// A generator at `state` (0 is replaced by 1: xorshift stays at 0).
    pub const fn new(state: u64) -> XorShift64Star {
        XorShift64Star(if state == 0 { 1 } else { state })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Fill `out` with the next bytes of the sequence.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let w = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_name_and_seed_and_repeat() {
        assert_eq!(stream_seed(42, "failslab"), stream_seed(42, "failslab"));
        assert_ne!(stream_seed(42, "failslab"), stream_seed(42, "fail_page_alloc"));
        assert_ne!(stream_seed(42, "failslab"), stream_seed(43, "failslab"));
        assert_ne!(stream_seed(0, "at_random"), 0);
    }

    #[test]
    fn xorshift_never_sticks_at_zero() {
        let mut g = XorShift64Star::new(0);
        assert_ne!(g.next_u64(), 0);
    }

    #[test]
    fn fill_takes_whole_and_partial_words() {
        let mut a = [0u8; 16];
        let mut b = [0u8; 13];
        XorShift64Star::new(7).fill(&mut a);
        XorShift64Star::new(7).fill(&mut b);
        assert_eq!(a[..13], b[..]);
        assert_ne!(a, [0; 16]);
    }

    #[test]
    fn the_boot_seed_is_remembered() {
        // The only test touching the global: no other test sets it.
        set_boot_seed(0x1234);
        assert_eq!(boot_seed(), Some(0x1234));
    }
}
