//! The clocks and sleeping (Linux's kernel/time/time.c, posix-timers.c,
//! posix-stubs and hrtimer.c's `nanosleep`): `clock_gettime` (and the
//! 64-bit `clock_gettime64` that glibc tries first), `gettimeofday`,
//! `time`, `nanosleep`, `clock_nanosleep` (and its `_time64`).
//!
//! `clock_getres` and its `_time64` say how fine each clock is.
//!
//! What the clocks are made of: the PIT's count since the timer started
//! (`pit::clock_us`, microseconds) is `CLOCK_MONOTONIC`; as nothing
//! suspends, `BOOTTIME` and `MONOTONIC_RAW` are the same count. The
//! coarse clocks are the tick (`jiffies`, 10 ms). `CLOCK_REALTIME` is the
//! CMOS clock's time (`arch::x86::rtc`, read once, at the first call that
//! needs it) plus the monotonic time since then; `TAI` is REALTIME, the
//! TAI offset being 0 until someone sets it, as in Linux. The CPU-time
//! clocks are the ticks the scheduler charged to the process. The alarm
//! clocks (8 and 9) need an RTC that can wake the machine: `EINVAL`, as
//! Linux without one.
//!
//! Sleeping goes to a deadline on the monotonic clock and checks, before
//! each sleep, whether a signal is pending (`signal_pending`, in `calls`,
//! below); the sleep is interruptible, so a signal sent meanwhile wakes it.

use super::{EFAULT, EINVAL, EOPNOTSUPP};

pub const NSEC_PER_SEC: u64 = 1_000_000_000;

pub const CLOCK_REALTIME: i32 = 0;
pub const CLOCK_MONOTONIC: i32 = 1;
pub const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
pub const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
pub const CLOCK_MONOTONIC_RAW: i32 = 4;
pub const CLOCK_REALTIME_COARSE: i32 = 5;
pub const CLOCK_MONOTONIC_COARSE: i32 = 6;
pub const CLOCK_BOOTTIME: i32 = 7;
pub const CLOCK_TAI: i32 = 11;
pub const TIMER_ABSTIME: u32 = 1;

/// What a clock id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    Realtime,
    Monotonic,
    /// `REALTIME_COARSE`, `MONOTONIC_COARSE`: the last tick.
    RealtimeCoarse,
    MonotonicCoarse,
    /// `MONOTONIC_RAW`: the monotonic count (no NTP slews it).
    MonotonicRaw,
    /// The calling process's (or thread's: one thread per process) CPU time.
    ProcessCpu,
    ThreadCpu,
}

/// The clock `id` names for the process `self_pid` (Linux's
/// `clockid_to_kclock` and, for negative ids, posix-cpu-timers'
/// `CPUCLOCK_PID`/`CPUCLOCK_WHICH` encoding). `EINVAL` for ids with no
/// clock: the alarm clocks (no wake-capable RTC), the removed 10, ids past
/// `CLOCK_TAI`, a CPU clock of an invalid kind, or of another process
/// (there is no process table to look it up in here; Linux's lookup
/// failure is `EINVAL` too).
pub fn clock_from_id(id: i32, self_pid: u32) -> Result<Clock, i32> {
    if id < 0 {
        // `~(id >> 3)` is the pid (0: the caller), bit 2 per-thread, bits
        // 0-1 the kind (PROF, VIRT, SCHED; 3 is invalid).
        let pid = !(id >> 3);
        if id & 3 == 3 || (pid != 0 && pid as u32 != self_pid) {
            return Err(EINVAL);
        }
        return Ok(if id & 4 != 0 { Clock::ThreadCpu } else { Clock::ProcessCpu });
    }
    Ok(match id {
        CLOCK_REALTIME | CLOCK_TAI => Clock::Realtime,
        CLOCK_MONOTONIC | CLOCK_BOOTTIME => Clock::Monotonic,
        CLOCK_PROCESS_CPUTIME_ID => Clock::ProcessCpu,
        CLOCK_THREAD_CPUTIME_ID => Clock::ThreadCpu,
        CLOCK_MONOTONIC_RAW => Clock::MonotonicRaw,
        CLOCK_REALTIME_COARSE => Clock::RealtimeCoarse,
        CLOCK_MONOTONIC_COARSE => Clock::MonotonicCoarse,
        _ => return Err(EINVAL),
    })
}

/// Whether `clock_nanosleep` can sleep on `c`: `EOPNOTSUPP` for the coarse
/// and raw clocks (Linux's have no `nsleep`) and for the thread CPU clock
/// (likewise); the process CPU clock, which Linux sleeps on with CPU
/// timers, is `EOPNOTSUPP` here too: there are no CPU timers.
pub fn can_sleep_on(c: Clock) -> Result<(), i32> {
    match c {
        Clock::Realtime | Clock::Monotonic => Ok(()),
        _ => Err(EOPNOTSUPP),
    }
}

/// What `clock_getres` says of `c`, in ns, where a tick is `tick_ns`: the
/// step in which the clock moves. The fine clocks count the PIT in
/// microseconds (Linux with high-resolution timers says 1 ns); the coarse
/// ones and the CPU-time clocks move by whole ticks.
pub fn resolution_ns(c: Clock, tick_ns: u64) -> u64 {
    match c {
        Clock::Realtime | Clock::Monotonic | Clock::MonotonicRaw => 1000,
        Clock::RealtimeCoarse | Clock::MonotonicCoarse | Clock::ProcessCpu | Clock::ThreadCpu => tick_ns,
    }
}

/// A `struct timespec` as read: seconds and nanoseconds, signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

impl Timespec {
    /// i386's `struct old_timespec32` (two 32-bit longs).
    pub fn from_bytes32(b: [u8; 8]) -> Self {
        let sec = i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64;
        let nsec = i32::from_le_bytes([b[4], b[5], b[6], b[7]]) as i64;
        Timespec { sec, nsec }
    }

    /// `struct __kernel_timespec` (two 64-bit fields). Only the low 32
    /// bits of `tv_nsec` count, as in Linux for 32-bit callers (glibc may
    /// leave padding there).
    pub fn from_bytes64(b: [u8; 16]) -> Self {
        let sec = i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        let nsec = i32::from_le_bytes([b[8], b[9], b[10], b[11]]) as i64;
        Timespec { sec, nsec }
    }

    /// Nanoseconds, if valid (Linux's `timespec64_valid`: seconds not
    /// negative, nanoseconds in `0..1e9`), else `EINVAL`; a time past
    /// `u64`'s range saturates (Linux's `KTIME_MAX`).
    pub fn to_ns(self) -> Result<u64, i32> {
        if self.sec < 0 || !(0..NSEC_PER_SEC as i64).contains(&self.nsec) {
            return Err(EINVAL);
        }
        Ok((self.sec as u64).saturating_mul(NSEC_PER_SEC).saturating_add(self.nsec as u64))
    }
}

/// `ns` as i386's `struct old_timespec32` (the seconds cut to 32 bits: the
/// year-2038 limit of the 32-bit calls).
pub fn timespec32(ns: u64) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&((ns / NSEC_PER_SEC) as u32).to_le_bytes());
    b[4..].copy_from_slice(&((ns % NSEC_PER_SEC) as u32).to_le_bytes());
    b
}

/// `ns` as `struct __kernel_timespec`.
pub fn timespec64(ns: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(ns / NSEC_PER_SEC).to_le_bytes());
    b[8..].copy_from_slice(&(ns % NSEC_PER_SEC).to_le_bytes());
    b
}

/// `ns` as i386's `struct timeval` (seconds, microseconds).
pub fn timeval32(ns: u64) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&((ns / NSEC_PER_SEC) as u32).to_le_bytes());
    b[4..].copy_from_slice(&((ns % NSEC_PER_SEC / 1000) as u32).to_le_bytes());
    b
}

/// Seconds since 1970-01-01 00:00:00 UTC for a Gregorian date and time
/// (Linux's `mktime64`, kernel/time/time.c: Gauss's algorithm with March
/// as the first month, so that the leap day ends the year).
pub fn mktime64(year: u32, mon: u32, day: u32, hour: u32, min: u32, sec: u32) -> i64 {
    let (mut year, mut mon) = (year as i64, mon as i64);
    mon -= 2;
    if mon <= 0 {
        mon += 12;
        year -= 1;
    }
    let days = year / 4 - year / 100 + year / 400 + 367 * mon / 12 + day as i64 + year * 365 - 719499;
    ((days * 24 + hour as i64) * 60 + min as i64) * 60 + sec as i64
}

/// Why a sleep ended early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted {
    /// Nanoseconds that were left to the deadline.
    pub remaining: u64,
}

/// Sleep until `now()` reaches `deadline` (the loop of Linux's
/// `do_nanosleep`): before each sleep, `pending()` says whether a signal
/// waits, and then the sleep ends early with the time left; `sleep(left)`
/// sleeps at most about `left` ns, and may come back sooner (a wake-up, a
/// tick before the deadline): the loop looks again.
pub fn sleep_until(
    deadline: u64,
    mut now: impl FnMut() -> u64,
    mut pending: impl FnMut() -> bool,
    mut sleep: impl FnMut(u64),
) -> Result<(), Interrupted> {
    loop {
        let t = now();
        if t >= deadline {
            return Ok(());
        }
        if pending() {
            return Err(Interrupted { remaining: deadline - t });
        }
        sleep(deadline - t);
    }
}

/// What an interrupted sleep returns (Linux's `-ERESTART_RESTARTBLOCK`
/// seen by user space without restart: `-EINTR`), after `put_rem` wrote
/// the time left for a relative sleep with a `rem` pointer; an absolute
/// sleep leaves `rem` alone. A fault writing `rem` is `-EFAULT`.
pub fn interrupted_result(abs: bool, rem: usize, left: u64, put_rem: impl FnOnce(usize, u64) -> bool) -> i32 {
    if !abs && rem != 0 && !put_rem(rem, left) {
        return -EFAULT;
    }
    -super::EINTR
}

#[cfg(target_os = "none")]
pub use calls::{realtime_offset, TABLE};

#[cfg(target_os = "none")]
mod calls {
    use super::*;
    use crate::arch::x86::cpu::{local_irq_restore, local_irq_save};
    use crate::arch::x86::lib::uaccess::{copy_from_user, copy_to_user, put_user};
    use crate::arch::x86::{pit, rtc};
    use crate::kernel::sched;
    use crate::process::signal::ERESTART_RESTARTBLOCK;
    use crate::process::sys::EINTR;
    use crate::process::syscalls::{Args, SysCall};
    use crate::process::task::{self, RestartBlock};
    use core::sync::atomic::{AtomicU64, Ordering};

    pub const TABLE: &[(u32, SysCall)] = &[
        (0, sys_restart_syscall),
        (13, sys_time),
        (78, sys_gettimeofday),
        (162, sys_nanosleep),
        (265, sys_clock_gettime),
        (266, sys_clock_getres),
        (267, sys_clock_nanosleep),
        (403, sys_clock_gettime64),
        (406, sys_clock_getres_time64),
        (407, sys_clock_nanosleep_time64),
    ];

    /// THE place where sleeping asks whether a signal is pending (Linux's
    /// `signal_pending(current)`): then `nanosleep`/`clock_nanosleep`
    /// return with `rem` filled (restarted after a stop; see `sleep_or_restart`).
    fn signal_pending() -> bool {
        sched::signal_pending()
    }

    const TICK_NS: u64 = NSEC_PER_SEC / pit::HZ;

    fn monotonic_ns() -> u64 {
        pit::clock_us() * 1000
    }

    fn coarse_ns() -> u64 {
        pit::jiffies() * TICK_NS
    }

    /// REALTIME minus MONOTONIC, in ns, once the RTC has been read (0
    /// means not yet: the RTC never says 1970-01-01 00:00:00 at boot).
    static REALTIME_OFFSET: AtomicU64 = AtomicU64::new(0);

    /// CLOCK_REALTIME at boot (monotonic 0), in ns since the epoch.
    pub fn realtime_offset() -> u64 {
        let off = REALTIME_OFFSET.load(Ordering::Relaxed);
        if off != 0 {
            return off;
        }
        let secs = match rtc::read() {
            Some(t) => mktime64(t.year, t.mon, t.day, t.hour, t.min, t.sec).max(0) as u64,
            None => {
                crate::pr_warn!("rtc: the CMOS clock holds no valid time; CLOCK_REALTIME counts from 1970-01-01");
                0
            }
        };
        // The RTC's second began up to 1 s before now: taking its start
        // keeps REALTIME from running ahead of the RTC.
        let off = (secs * NSEC_PER_SEC).saturating_sub(monotonic_ns()).max(1);
        // A racing first caller computed the same within a second: keep one.
        match REALTIME_OFFSET.compare_exchange(0, off, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => off,
            Err(first) => first,
        }
    }

    /// The CPU time charged to the calling process (its ticks).
    fn cpu_ns() -> u64 {
        let me = sched::current_pid();
        let mut ticks = 0;
        sched::for_each_task(|pid, _, runtime, _| {
            if pid == me {
                ticks = runtime;
            }
        });
        ticks * TICK_NS
    }

    fn read_clock(c: Clock) -> u64 {
        match c {
            Clock::Realtime => realtime_offset() + monotonic_ns(),
            Clock::Monotonic | Clock::MonotonicRaw => monotonic_ns(),
            Clock::RealtimeCoarse => realtime_offset() + coarse_ns(),
            Clock::MonotonicCoarse => coarse_ns(),
            Clock::ProcessCpu | Clock::ThreadCpu => cpu_ns(),
        }
    }

    fn clock_gettime(a: &Args, encode: impl Fn(u64, usize) -> i32) -> i32 {
        match clock_from_id(a[0] as i32, sched::current_pid()) {
            Ok(c) => encode(read_clock(c), a[1] as usize),
            Err(e) => -e,
        }
    }

    fn put(ptr: usize, bytes: &[u8]) -> i32 {
        match copy_to_user(ptr, bytes) {
            Ok(()) => 0,
            Err(e) => e.errno(),
        }
    }

    /// `clock_gettime(id, struct old_timespec32 *)`.
    fn sys_clock_gettime(a: &Args) -> i32 {
        clock_gettime(a, |ns, p| put(p, &timespec32(ns)))
    }

    /// `clock_gettime64(id, struct __kernel_timespec *)`.
    fn sys_clock_gettime64(a: &Args) -> i32 {
        clock_gettime(a, |ns, p| put(p, &timespec64(ns)))
    }

    /// `clock_getres(id, res)` and its `_time64`: a NULL `res` only asks
    /// whether the clock exists.
    fn clock_getres(a: &Args, encode: impl Fn(u64, usize) -> i32) -> i32 {
        match clock_from_id(a[0] as i32, sched::current_pid()) {
            Ok(_) if a[1] == 0 => 0,
            Ok(c) => encode(resolution_ns(c, TICK_NS), a[1] as usize),
            Err(e) => -e,
        }
    }

    fn sys_clock_getres(a: &Args) -> i32 {
        clock_getres(a, |ns, p| put(p, &timespec32(ns)))
    }

    fn sys_clock_getres_time64(a: &Args) -> i32 {
        clock_getres(a, |ns, p| put(p, &timespec64(ns)))
    }

    /// `gettimeofday(tv, tz)`: either may be NULL; the time zone is
    /// Linux's `sys_tz` as nobody set it: 0 minutes west, no DST.
    fn sys_gettimeofday(a: &Args) -> i32 {
        let (tv, tz) = (a[0] as usize, a[1] as usize);
        if tv != 0 && copy_to_user(tv, &timeval32(read_clock(Clock::Realtime))).is_err() {
            return -EFAULT;
        }
        if tz != 0 && copy_to_user(tz, &[0u8; 8]).is_err() {
            return -EFAULT;
        }
        0
    }

    /// `time(tloc)`: seconds of REALTIME, also stored at `tloc` if not NULL.
    fn sys_time(a: &Args) -> i32 {
        let secs = (read_clock(Clock::Realtime) / NSEC_PER_SEC) as u32;
        if a[0] != 0 {
            if let Err(e) = put_user(secs, a[0] as usize) {
                return e.errno();
            }
        }
        secs as i32
    }

    /// Sleep on the tick until monotonic `deadline` ns; the scheduler's
    /// timed sleep wakes at a jiffy, so a sleep ends at the first tick at
    /// or after the deadline.
    fn sleep_to(deadline: u64) -> Result<(), Interrupted> {
        crate::kernel::preempt::might_sleep("nanosleep");
        sleep_until(deadline, monotonic_ns, signal_pending, |left| {
            // An interruptible sleep: a signal wakes it, and the loop
            // then sees it pending.
            let ticks = left.div_ceil(TICK_NS).max(1);
            let flags = local_irq_save();
            if sched::set_current_sleeping_interruptible(pit::jiffies() + ticks) {
                sched::schedule();
            }
            local_irq_restore(flags);
        })
    }

    /// Read the timespec at `ptr` (32- or 64-bit layout): its ns, or
    /// `-EFAULT`/`-EINVAL`.
    fn get_timespec(ptr: usize, is64: bool) -> Result<u64, i32> {
        let ts = if is64 {
            let mut b = [0u8; 16];
            copy_from_user(&mut b, ptr).map_err(|e| e.errno())?;
            Timespec::from_bytes64(b)
        } else {
            let mut b = [0u8; 8];
            copy_from_user(&mut b, ptr).map_err(|e| e.errno())?;
            Timespec::from_bytes32(b)
        };
        ts.to_ns().map_err(|e| -e)
    }

    /// The common part of the sleeps: `clock` (REALTIME or MONOTONIC),
    /// `abs` for a deadline on it, else an interval.
    fn nanosleep(clock: Clock, abs: bool, req: usize, rem: usize, is64: bool) -> i32 {
        let t = match get_timespec(req, is64) {
            Ok(t) => t,
            Err(e) => return e,
        };
        let now = monotonic_ns();
        let deadline = match (abs, clock) {
            (false, _) => now.saturating_add(t),
            (true, Clock::Realtime) => t.saturating_sub(realtime_offset()),
            (true, _) => t,
        };
        sleep_or_restart(RestartBlock { deadline, rem, is64, abs })
    }

    /// Sleep to `r.deadline`. Interrupted, the time left is written as
    /// Linux writes it, and the call returns `-ERESTART_RESTARTBLOCK` with
    /// `r` kept: after the signal (a stop, then SIGCONT) `restart_syscall`
    /// sleeps on to the same deadline. A fatal signal ends the process
    /// before user space sees anything.
    fn sleep_or_restart(r: RestartBlock) -> i32 {
        match sleep_to(r.deadline) {
            Ok(()) => 0,
            Err(i) => {
                let res = interrupted_result(r.abs, r.rem, i.remaining, |p, left| {
                    if r.is64 {
                        copy_to_user(p, &timespec64(left)).is_ok()
                    } else {
                        copy_to_user(p, &timespec32(left)).is_ok()
                    }
                });
                if res != -EINTR {
                    return res;
                }
                match task::current() {
                    Some(p) => {
                        p.inner.lock().restart = Some(r);
                        -ERESTART_RESTARTBLOCK
                    }
                    None => res,
                }
            }
        }
    }

    /// `restart_syscall()` (0): go on with the call a signal interrupted;
    /// `-EINTR` when there is none (Linux's `do_no_restart_syscall`).
    fn sys_restart_syscall(_: &Args) -> i32 {
        let r = task::current().and_then(|p| p.inner.lock().restart.take());
        match r {
            Some(r) => sleep_or_restart(r),
            None => -EINTR,
        }
    }

    /// `nanosleep(req, rem)`: an interval on CLOCK_MONOTONIC.
    fn sys_nanosleep(a: &Args) -> i32 {
        nanosleep(Clock::Monotonic, false, a[0] as usize, a[1] as usize, false)
    }

    fn clock_nanosleep(a: &Args, is64: bool) -> i32 {
        let clock = match clock_from_id(a[0] as i32, sched::current_pid()) {
            Ok(c) => c,
            Err(e) => return -e,
        };
        if let Err(e) = can_sleep_on(clock) {
            return -e;
        }
        nanosleep(clock, a[1] & TIMER_ABSTIME != 0, a[2] as usize, a[3] as usize, is64)
    }

    /// `clock_nanosleep(id, flags, req, rem)`: only `TIMER_ABSTIME` in
    /// `flags` means anything (Linux ignores the other bits).
    fn sys_clock_nanosleep(a: &Args) -> i32 {
        clock_nanosleep(a, false)
    }

    fn sys_clock_nanosleep_time64(a: &Args) -> i32 {
        clock_nanosleep(a, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn clock_ids_as_linux_names_them() {
        assert_eq!(clock_from_id(0, 7), Ok(Clock::Realtime));
        assert_eq!(clock_from_id(11, 7), Ok(Clock::Realtime));
        assert_eq!(clock_from_id(1, 7), Ok(Clock::Monotonic));
        assert_eq!(clock_from_id(7, 7), Ok(Clock::Monotonic));
        assert_eq!(clock_from_id(4, 7), Ok(Clock::MonotonicRaw));
        assert_eq!(clock_from_id(5, 7), Ok(Clock::RealtimeCoarse));
        assert_eq!(clock_from_id(6, 7), Ok(Clock::MonotonicCoarse));
        assert_eq!(clock_from_id(2, 7), Ok(Clock::ProcessCpu));
        assert_eq!(clock_from_id(3, 7), Ok(Clock::ThreadCpu));
        for bad in [8, 9, 10, 12, 16, 100, i32::MAX] {
            assert_eq!(clock_from_id(bad, 7), Err(EINVAL), "id {}", bad);
        }
    }

    #[test]
    fn cpu_clock_ids_of_self_only() {
        // glibc's clock_getcpuclockid(0): MAKE_PROCESS_CPUCLOCK(0, SCHED).
        let make = |pid: i32, which: i32| (!pid << 3) | which;
        assert_eq!(clock_from_id(make(0, 2), 7), Ok(Clock::ProcessCpu));
        assert_eq!(clock_from_id(make(7, 2), 7), Ok(Clock::ProcessCpu));
        assert_eq!(clock_from_id(make(0, 2 | 4), 7), Ok(Clock::ThreadCpu));
        assert_eq!(clock_from_id(make(8, 2), 7), Err(EINVAL));
        assert_eq!(clock_from_id(make(0, 3), 7), Err(EINVAL));
        assert_eq!(clock_from_id(-1, 7), Err(EINVAL));
    }

    #[test]
    fn only_realtime_and_monotonic_clocks_sleep() {
        assert_eq!(can_sleep_on(Clock::Realtime), Ok(()));
        assert_eq!(can_sleep_on(Clock::Monotonic), Ok(()));
        for c in
            [Clock::MonotonicRaw, Clock::RealtimeCoarse, Clock::MonotonicCoarse, Clock::ThreadCpu, Clock::ProcessCpu]
        {
            assert_eq!(can_sleep_on(c), Err(EOPNOTSUPP));
        }
    }

    #[test]
    fn resolutions_are_the_steps_the_clocks_move_in() {
        assert_eq!(resolution_ns(Clock::Monotonic, 10_000_000), 1000);
        assert_eq!(resolution_ns(Clock::Realtime, 10_000_000), 1000);
        assert_eq!(resolution_ns(Clock::MonotonicCoarse, 10_000_000), 10_000_000);
        assert_eq!(resolution_ns(Clock::ProcessCpu, 10_000_000), 10_000_000);
    }

    #[test]
    fn timespec_validity_is_linux_timespec64_valid() {
        let ts = |sec, nsec| Timespec { sec, nsec }.to_ns();
        assert_eq!(ts(0, 0), Ok(0));
        assert_eq!(ts(1, 999_999_999), Ok(1_999_999_999));
        assert_eq!(ts(0, 1_000_000_000), Err(EINVAL));
        assert_eq!(ts(-1, 0), Err(EINVAL));
        assert_eq!(ts(0, -1), Err(EINVAL));
        assert_eq!(ts(i64::MAX, 0), Ok(u64::MAX), "saturates");
    }

    #[test]
    fn timespec_layouts() {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&(-1i32).to_le_bytes());
        b[4..].copy_from_slice(&5i32.to_le_bytes());
        assert_eq!(Timespec::from_bytes32(b), Timespec { sec: -1, nsec: 5 });
        // The 64-bit form: the high half of tv_nsec is padding to a 32-bit caller.
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&(1i64 << 40).to_le_bytes());
        b[8..].copy_from_slice(&(0xdead_beef_0000_0007u64).to_le_bytes());
        assert_eq!(Timespec::from_bytes64(b), Timespec { sec: 1 << 40, nsec: 7 });
        assert_eq!(timespec32(3_000_000_005), [3, 0, 0, 0, 5, 0, 0, 0]);
        assert_eq!(timespec64(3_000_000_005)[..8], 3u64.to_le_bytes());
        assert_eq!(timespec64(3_000_000_005)[8..], 5u64.to_le_bytes());
        assert_eq!(timeval32(3_000_005_999), [3, 0, 0, 0, 5, 0, 0, 0]);
    }

    #[test]
    fn mktime64_matches_known_dates() {
        assert_eq!(mktime64(1970, 1, 1, 0, 0, 0), 0);
        assert_eq!(mktime64(2000, 3, 1, 0, 0, 0), 951_868_800);
        assert_eq!(mktime64(2024, 2, 29, 12, 34, 56), 1_709_210_096);
        assert_eq!(mktime64(2038, 1, 19, 3, 14, 8), 1 << 31);
        assert_eq!(mktime64(2069, 12, 31, 23, 59, 59), 3_155_759_999);
    }

    #[test]
    fn sleep_runs_to_the_deadline_through_early_wakeups() {
        let t = Cell::new(100);
        let naps = Cell::new(0);
        // Each nap advances at most 30 ns, whatever was asked.
        let r = sleep_until(
            200,
            || t.get(),
            || false,
            |left| {
                naps.set(naps.get() + 1);
                t.set(t.get() + left.min(30));
            },
        );
        assert_eq!(r, Ok(()));
        assert!(t.get() >= 200);
        assert_eq!(naps.get(), 4);
        // A deadline already past: no nap at all.
        assert_eq!(sleep_until(50, || 100, || true, |_| panic!("slept")), Ok(()));
    }

    #[test]
    fn a_pending_signal_ends_the_sleep_with_the_time_left() {
        let t = Cell::new(0);
        let r = sleep_until(1000, || t.get(), || t.get() >= 300, |_| t.set(t.get() + 300));
        assert_eq!(r, Err(Interrupted { remaining: 700 }));
    }

    #[test]
    fn interrupted_sleeps_fill_rem_only_when_relative() {
        let wrote = Cell::new(None);
        let put = |p: usize, left: u64| {
            wrote.set(Some((p, left)));
            true
        };
        assert_eq!(interrupted_result(false, 0x1000, 700, put), -crate::process::sys::EINTR);
        assert_eq!(wrote.get(), Some((0x1000, 700)));
        wrote.set(None);
        assert_eq!(interrupted_result(true, 0x1000, 700, put), -crate::process::sys::EINTR);
        assert_eq!(interrupted_result(false, 0, 700, put), -crate::process::sys::EINTR);
        assert_eq!(wrote.get(), None);
        assert_eq!(interrupted_result(false, 0x1000, 700, |_, _| false), -EFAULT);
    }
}
