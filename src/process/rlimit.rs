//! Resource limits (Linux's `struct rlimit` array in `signal_struct`, and
//! the checks of `sys_setrlimit` in kernel/sys.c), pure and tested on the
//! host. Three of them are obeyed here: `RLIMIT_STACK` (how far the stack
//! grows), `RLIMIT_MEMLOCK` (what `mlock` may lock) and `RLIMIT_AS` (all
//! mapped bytes); the others are kept and reported, as a program may read
//! them, and nothing here consumes what they limit.
//!
//! Processes have no capabilities: the lock limit applies to every one
//! (Linux lets `CAP_IPC_LOCK` ignore it, and root has that).

#![forbid(unsafe_code)]

use crate::mm::mmap::{Rlimits as MmLimits, RLIM_INFINITY};

pub const RLIMIT_CPU: usize = 0;
pub const RLIMIT_FSIZE: usize = 1;
pub const RLIMIT_DATA: usize = 2;
pub const RLIMIT_STACK: usize = 3;
pub const RLIMIT_CORE: usize = 4;
pub const RLIMIT_RSS: usize = 5;
pub const RLIMIT_NPROC: usize = 6;
pub const RLIMIT_NOFILE: usize = 7;
pub const RLIMIT_MEMLOCK: usize = 8;
pub const RLIMIT_AS: usize = 9;
pub const RLIMIT_LOCKS: usize = 10;
pub const RLIMIT_SIGPENDING: usize = 11;
pub const RLIMIT_MSGQUEUE: usize = 12;
pub const RLIMIT_NICE: usize = 13;
pub const RLIMIT_RTPRIO: usize = 14;
pub const RLIMIT_RTTIME: usize = 15;
/// i386's `RLIM_NLIMITS`.
pub const RLIM_NLIMITS: usize = 16;

/// One limit: the soft value in force and the hard ceiling (bytes, or
/// the resource's unit), `RLIM_INFINITY` for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub cur: u64,
    pub max: u64,
}

/// `RLIM_INFINITY` as the 64-bit calls (`prlimit64`) carry it.
pub const RLIM64_INFINITY: u64 = u64::MAX;

const INF: Rlimit = Rlimit { cur: RLIM64_INFINITY, max: RLIM64_INFINITY };

/// Why a new limit was refused (`EINVAL`): Linux's two checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RlimitError {
    /// `resource` is not below `RLIM_NLIMITS`.
    BadResource,
    /// The soft limit is above the hard one.
    CurAboveMax,
    /// The hard limit would go up, which needs `CAP_SYS_RESOURCE` (`EPERM`).
    RaiseMax,
}

/// A process's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RlimitTable(pub [Rlimit; RLIM_NLIMITS]);

impl RlimitTable {
    /// Linux's `INIT_RLIMITS` (include/asm-generic/resource.h) with this
    /// kernel's process and signal counts: 8 MB of stack (no hard limit),
    /// no core files, 1024/4096 files, `memlock` bytes lockable (Linux's
    /// `MLOCK_LIMIT`, 8 MB unless the boot option says otherwise), message
    /// queues 800 KB.
    pub const fn new(memlock: u64) -> RlimitTable {
        let mut r = [INF; RLIM_NLIMITS];
        r[RLIMIT_STACK] = Rlimit { cur: 8 << 20, max: RLIM64_INFINITY };
        r[RLIMIT_CORE] = Rlimit { cur: 0, max: RLIM64_INFINITY };
        r[RLIMIT_NPROC] = Rlimit { cur: 4096, max: 4096 };
        r[RLIMIT_NOFILE] = Rlimit { cur: 1024, max: 4096 };
        r[RLIMIT_MEMLOCK] = Rlimit { cur: memlock, max: memlock };
        r[RLIMIT_SIGPENDING] = Rlimit { cur: 4096, max: 4096 };
        r[RLIMIT_MSGQUEUE] = Rlimit { cur: 819_200, max: 819_200 };
        r[RLIMIT_NICE] = Rlimit { cur: 0, max: 0 };
        r[RLIMIT_RTPRIO] = Rlimit { cur: 0, max: 0 };
        RlimitTable(r)
    }

    pub fn get(&self, resource: usize) -> Result<Rlimit, RlimitError> {
        self.0.get(resource).copied().ok_or(RlimitError::BadResource)
    }

    /// Linux's `do_prlimit` checks: the resource exists, `cur <= max`,
    /// and the hard limit does not go up (that needs `CAP_SYS_RESOURCE`,
    /// and processes here have no capabilities).
    pub fn set(&mut self, resource: usize, new: Rlimit) -> Result<Rlimit, RlimitError> {
        let slot = self.0.get_mut(resource).ok_or(RlimitError::BadResource)?;
        if new.cur > new.max {
            return Err(RlimitError::CurAboveMax);
        }
        if new.max > slot.max {
            return Err(RlimitError::RaiseMax);
        }
        Ok(core::mem::replace(slot, new))
    }

    /// What the memory calls obey (`mm::mmap::Rlimits`, in bytes, soft
    /// limits), clamped to 32 bits.
    pub fn mm_limits(&self) -> MmLimits {
        let bytes = |r: usize| {
            let v = self.0[r].cur;
            if v >= RLIM_INFINITY as u64 {
                RLIM_INFINITY
            } else {
                v as usize
            }
        };
        MmLimits { stack: bytes(RLIMIT_STACK), memlock: bytes(RLIMIT_MEMLOCK), as_: bytes(RLIMIT_AS) }
    }
}

/// The value a 32-bit `getrlimit`/`ugetrlimit` returns: `RLIM_INFINITY`
/// (`~0UL`) for anything that does not fit, as Linux's
/// `rlim_to_rlim32`... and the old `getrlimit` clamps to `0x7fffffff`.
pub fn to_user32(v: u64, old_abi: bool) -> u32 {
    match (v > u32::MAX as u64 || v == RLIM64_INFINITY, old_abi) {
        (true, true) => 0x7fff_ffff,
        (true, false) => u32::MAX,
        (false, true) => v.min(0x7fff_ffff) as u32,
        (false, false) => v as u32,
    }
}

/// A 32-bit value from `setrlimit`: `~0` means infinity.
pub fn from_user32(v: u32) -> u64 {
    if v == u32::MAX {
        RLIM64_INFINITY
    } else {
        v as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_linux_init_rlimits() {
        let t = RlimitTable::new(64 << 10);
        assert_eq!(t.get(RLIMIT_STACK), Ok(Rlimit { cur: 8 << 20, max: RLIM64_INFINITY }));
        assert_eq!(t.get(RLIMIT_MEMLOCK), Ok(Rlimit { cur: 65536, max: 65536 }));
        assert_eq!(t.get(RLIMIT_AS), Ok(INF));
        assert_eq!(t.get(RLIM_NLIMITS), Err(RlimitError::BadResource));
        let mm = t.mm_limits();
        assert_eq!((mm.stack, mm.memlock, mm.as_), (8 << 20, 65536, RLIM_INFINITY));
    }

    #[test]
    fn set_checks_cur_against_max_and_returns_the_old() {
        let mut t = RlimitTable::new(65536);
        assert_eq!(t.set(RLIMIT_AS, Rlimit { cur: 2, max: 1 }), Err(RlimitError::CurAboveMax));
        assert_eq!(t.set(99, Rlimit { cur: 1, max: 1 }), Err(RlimitError::BadResource));
        assert_eq!(t.set(RLIMIT_AS, Rlimit { cur: 1 << 30, max: 1 << 31 }), Ok(INF));
        assert_eq!(t.mm_limits().as_, 1 << 30);
        // The hard limit may come down, never go up again.
        assert_eq!(t.set(RLIMIT_AS, Rlimit { cur: 1 << 30, max: 1 << 32 }), Err(RlimitError::RaiseMax));
        assert_eq!(t.set(RLIMIT_AS, Rlimit { cur: 1 << 29, max: 1 << 30 }), Ok(Rlimit { cur: 1 << 30, max: 1 << 31 }));
    }

    #[test]
    fn thirty_two_bit_forms() {
        assert_eq!(to_user32(RLIM64_INFINITY, false), u32::MAX);
        assert_eq!(to_user32(RLIM64_INFINITY, true), 0x7fff_ffff);
        assert_eq!(to_user32(8 << 20, true), 8 << 20);
        assert_eq!(from_user32(u32::MAX), RLIM64_INFINITY);
        assert_eq!(from_user32(5), 5);
    }
}
