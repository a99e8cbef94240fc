//! `mlock` and friends: `VM_LOCKED` on ranges of areas (Linux's mm/mlock.c).
//! Only the flag and the counts live here; faulting the pages in
//! (`make_pages_present`) and keeping them from reclaim is the caller's.

use super::{Errno, Rlimits, VmFlags, Vma, VmaSet, PAGE_SIZE};
use core::alloc::Allocator;

/// `mlockall` flags.
pub const MCL_CURRENT: u32 = 1;
pub const MCL_FUTURE: u32 = 2;

impl<A: Allocator + Clone> VmaSet<A> {
    /// Linux's `sys_mlock`: locks the pages of `[start, start + len)`
    /// (`start` rounded down to its page). `ENOMEM` if the count of locked
    /// pages would pass `RLIMIT_MEMLOCK` (counting pages already locked
    /// again, as Linux does) or at the first hole, the areas before it
    /// staying locked; `EPERM` when the limit is zero.
    pub fn mlock(&mut self, start: usize, len: usize, rlim: &Rlimits) -> Result<(), Errno> {
        if rlim.memlock == 0 {
            return Err(Errno::EPERM); // !can_do_mlock()
        }
        let (start, len) = page_range(start, len);
        if self.locked_vm() as u64 + len / PAGE_SIZE as u64 > rlim.memlock_pages() as u64 {
            return Err(Errno::ENOMEM);
        }
        self.do_mlock(start, len, true)
    }

    /// Linux's `sys_munlock`: the converse of [`VmaSet::mlock`], with no limit.
    pub fn munlock(&mut self, start: usize, len: usize) -> Result<(), Errno> {
        let (start, len) = page_range(start, len);
        self.do_mlock(start, len, false)
    }

    /// Linux's `do_mlock`: walks the areas of the range in order as
    /// `mprotect` does, stopping at the first hole with `ENOMEM`.
    fn do_mlock(&mut self, start: usize, len: u64, on: bool) -> Result<(), Errno> {
        let end = start as u64 + len;
        if end > u32::MAX as u64 {
            return Err(Errno::EINVAL); // `end < start` on i386
        }
        let end = end as usize;
        if end == start {
            return Ok(());
        }
        let first = self.find_vma(start).ok_or(Errno::ENOMEM)?;
        if first.start > start {
            return Err(Errno::ENOMEM);
        }
        let mut stop = start;
        for v in self.iter().skip_while(|v| v.end <= start) {
            if v.start > stop {
                break;
            }
            stop = v.end.min(end);
            if stop == end {
                break;
            }
        }
        self.rewrite(start, stop, |v| Some(Vma { flags: locked(v.flags, on), ..*v }), None)?;
        if stop < end {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// Linux's `sys_mlockall`: `MCL_CURRENT` locks every area now mapped,
    /// `MCL_FUTURE` every area mapped later (`def_flags`). `EINVAL` for no
    /// or unknown flags, `EPERM` for a zero limit, `ENOMEM` when the whole
    /// address space is over `RLIMIT_MEMLOCK`.
    pub fn mlockall(&mut self, flags: u32, rlim: &Rlimits) -> Result<(), Errno> {
        if flags == 0 || flags & !(MCL_CURRENT | MCL_FUTURE) != 0 {
            return Err(Errno::EINVAL);
        }
        if rlim.memlock == 0 {
            return Err(Errno::EPERM);
        }
        if flags & MCL_CURRENT != 0 && self.total_vm() > rlim.memlock_pages() {
            return Err(Errno::ENOMEM);
        }
        self.do_mlockall(flags)
    }

    /// Linux's `sys_munlockall`: unlocks every area and stops locking new ones.
    pub fn munlockall(&mut self) -> Result<(), Errno> {
        self.do_mlockall(0)
    }

    /// What a forked child's copy holds (Linux's `dup_mmap` clears
    /// `VM_LOCKED` in each copied area, and `def_flags` starts empty):
    /// no area locked, areas that differed only by the lock merged.
    pub fn clear_locked(&mut self) {
        self.def_flags = VmFlags::empty();
        self.vmas.refit(|v| Vma { flags: v.flags - VmFlags::LOCKED, ..*v });
    }

    fn do_mlockall(&mut self, flags: u32) -> Result<(), Errno> {
        self.def_flags = if flags & MCL_FUTURE != 0 { VmFlags::LOCKED } else { VmFlags::empty() };
        if flags == MCL_FUTURE || self.is_empty() {
            return Ok(());
        }
        let on = flags & MCL_CURRENT != 0;
        let (start, end) = (self.vmas[0].start, self.vmas[self.len() - 1].end);
        self.rewrite(start, end, |v| Some(Vma { flags: locked(v.flags, on), ..*v }), None)
    }
}

fn locked(flags: VmFlags, on: bool) -> VmFlags {
    if on {
        flags | VmFlags::LOCKED
    } else {
        flags - VmFlags::LOCKED
    }
}

/// `sys_mlock`'s rounding: `start` down to its page, the length up to
/// cover the same bytes (in 64 bits, so the i386 wrap shows as > 4 GB).
fn page_range(start: usize, len: usize) -> (usize, u64) {
    let off = start % PAGE_SIZE;
    let len = (len as u64 + off as u64 + PAGE_SIZE as u64 - 1) & !(PAGE_SIZE as u64 - 1);
    (start - off, len)
}
