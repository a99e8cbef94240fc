//! The memory system calls (the `sys_*` entry points of Linux's
//! mm/mmap.c, mm/mprotect.c, mm/madvise.c and mm/mlock.c): each takes the
//! calling process's `mmap` lock, changes the areas (`mm::mmap`, pure) and
//! then the pages to match (`mm::memory`): unmapped ranges lose their
//! pages, `mprotect` takes rights away from the entries, `mlock` faults
//! the pages in. No user memory is copied while the lock is held (a fault
//! on it would need the same lock).
//!
//! A call that can add committed memory (a private writable mapping, a
//! growing heap, `mprotect` making a private area writable) first asks
//! `mm::util::vm_enough_memory` for the pages, as Linux's
//! `security_vm_enough_memory` does, and fails with `ENOMEM` (a refused
//! `brk` returns the old break) when `vm.overcommit_memory` says no; every
//! call that changes the areas then settles the space's charge
//! (`VmCommitted::commit`/`sync`) from the areas themselves.

use super::syscalls::{Args, SysCall};
use crate::layout::{PAGE_SIZE, TASK_SIZE};
use crate::mm::memory;
use crate::mm::mm_types::{current_mm, MmRef};
use crate::mm::mmap::{Errno, VmFlags, VmaSet, MAP_ANONYMOUS, MAP_FIXED, MAP_LOCKED, MCL_CURRENT};
use crate::mm::mmap::{MAP_NORESERVE, MAP_PRIVATE, MAP_TYPE, PROT_WRITE};
use crate::mm::sysctl::{OVERCOMMIT_MEMORY, OVERCOMMIT_NEVER};
use crate::mm::util::{vm_enough_memory, Reservation};
use core::sync::atomic::Ordering::Relaxed;

pub const NR_MMAP: u32 = 90;
pub const NR_MUNMAP: u32 = 91;
pub const NR_BRK: u32 = 45;
pub const NR_MPROTECT: u32 = 125;
pub const NR_MLOCK: u32 = 150;
pub const NR_MUNLOCK: u32 = 151;
pub const NR_MLOCKALL: u32 = 152;
pub const NR_MUNLOCKALL: u32 = 153;
pub const NR_MMAP2: u32 = 192;
pub const NR_MADVISE: u32 = 219;

pub const TABLE: &[(u32, SysCall)] = &[
    (NR_BRK, sys_brk),
    (NR_MMAP, sys_old_mmap),
    (NR_MUNMAP, sys_munmap),
    (NR_MPROTECT, sys_mprotect),
    (NR_MLOCK, sys_mlock),
    (NR_MUNLOCK, sys_munlock),
    (NR_MLOCKALL, sys_mlockall),
    (NR_MUNLOCKALL, sys_munlockall),
    (NR_MMAP2, sys_mmap2),
    (NR_MADVISE, sys_madvise),
];

const ENOMEM: i32 = 12;
const EINVAL: i32 = 22;
const EBADF: i32 = 9;

/// The end of `[start, start + len)` rounded up to a page, computed
/// without overflow and capped at `TASK_SIZE` (garbage lengths are
/// common: the calls' own checks refuse them; this only bounds the page
/// walks that follow).
fn range_end(start: usize, len: usize) -> usize {
    let end = (start as u64 + len as u64).next_multiple_of(PAGE_SIZE as u64);
    end.min(TASK_SIZE as u64) as usize
}

fn ret(r: Result<(), Errno>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.syscall_ret() as i32,
    }
}

/// The caller's address space (a process always has one while it runs).
fn mm() -> Result<MmRef, Errno> {
    current_mm().ok_or(Errno::ENOMEM)
}

/// Pages of `[start, end)` in areas that are charged (`VM_ACCOUNT`, not
/// shared): what a `MAP_FIXED` mapping there gives back before it is
/// charged itself (Linux's `mmap_region` unmaps first).
fn accounted_in(vmas: &VmaSet, start: usize, end: usize) -> usize {
    vmas.iter()
        .filter(|v| v.flags.contains(VmFlags::ACCOUNT) && !v.flags.contains(VmFlags::SHARED))
        .map(|v| v.end.min(end).saturating_sub(v.start.max(start)) / PAGE_SIZE)
        .sum()
}

/// Reserve `pages` of commitment for a change to this space, or refuse.
fn reserve(vmas: &VmaSet, pages: usize) -> Result<Option<Reservation>, Errno> {
    if pages == 0 {
        return Ok(None);
    }
    vm_enough_memory(pages, vmas.total_vm()).map(Some)
}

/// `brk(addr)`: the new break, or the old one when refused (0 asks for
/// the current one). A shrink frees the pages above the new break.
fn sys_brk(a: &Args) -> i32 {
    let Ok(mm) = mm() else { return 0 };
    let mut ctx = mm.mmap.lock();
    let ctx = &mut *ctx;
    let old_top = ctx.vmas.brk.next_multiple_of(PAGE_SIZE);
    let want = a[0] as usize;
    // do_brk's security_vm_enough_memory for the pages the heap would gain.
    let grow = if want > ctx.vmas.brk && want <= TASK_SIZE { want.next_multiple_of(PAGE_SIZE) - old_top } else { 0 };
    let Ok(reserved) = reserve(&ctx.vmas, grow / PAGE_SIZE) else { return ctx.vmas.brk as i32 };
    let rlim = ctx.rlim;
    let brk = ctx.vmas.brk(want, &rlim);
    ctx.committed.commit(&ctx.vmas, reserved);
    let new_top = brk.next_multiple_of(PAGE_SIZE);
    if new_top < old_top {
        memory::zap_page_range(&mm, new_top, old_top);
    } else if new_top > old_top {
        ctx.update_hiwater_vm();
        if ctx.vmas.def_flags.contains(VmFlags::LOCKED) {
            let _ = memory::populate_range(&mm, ctx, old_top, new_top);
        }
    }
    brk as i32
}

/// Linux's `do_mmap_pgoff` for an anonymous mapping (there are no files
/// to map by descriptor: a descriptor is `EBADF`).
fn do_mmap(addr: u32, len: u32, prot: u32, flags: u32, fd: u32, pgoff: u32) -> i32 {
    if flags & MAP_ANONYMOUS == 0 {
        let _ = pgoff;
        return if fd as i32 == -1 || fd > 2 {
            -EBADF
        } else {
            -19 /* ENODEV: the console maps nothing */
        };
    }
    let Ok(mm) = mm() else { return -ENOMEM };
    let mut ctx = mm.mmap.lock();
    let (addr, len) = (addr as usize, len as usize);
    if flags & MAP_FIXED != 0 && addr % PAGE_SIZE != 0 {
        return -EINVAL;
    }
    // mmap_region's charge: a private writable mapping commits its pages;
    // MAP_NORESERVE opts out, except in strict mode, which ignores it.
    let flags = if OVERCOMMIT_MEMORY.load(Relaxed) == OVERCOMMIT_NEVER { flags & !MAP_NORESERVE } else { flags };
    let charged = prot & PROT_WRITE != 0 && flags & MAP_TYPE == MAP_PRIVATE && flags & MAP_NORESERVE == 0;
    let mut pages = if charged { len.div_ceil(PAGE_SIZE) } else { 0 };
    if flags & MAP_FIXED != 0 && pages != 0 && addr < TASK_SIZE {
        pages = pages.saturating_sub(accounted_in(&ctx.vmas, addr, range_end(addr, len)));
    }
    let reserved = match reserve(&ctx.vmas, pages) {
        Ok(r) => r,
        Err(e) => return e.syscall_ret() as i32,
    };
    let rlim = ctx.rlim;
    let r = ctx.vmas.mmap(addr, len, prot, flags, None, 0, &rlim);
    {
        let ctx = &mut *ctx;
        ctx.committed.commit(&ctx.vmas, reserved);
    }
    if flags & MAP_FIXED != 0 && len != 0 && addr < TASK_SIZE {
        // The pages of what was replaced go (mmap_region's do_munmap).
        // Only then: a mapping refused before the old areas were unmapped
        // keeps them and their pages; one refused after (RLIMIT_AS)
        // leaves a hole, as Linux's does.
        let end = range_end(addr, len);
        if r.is_ok() || ctx.vmas.find_vma_intersection(addr, end).is_none() {
            memory::zap_page_range(&mm, addr, end);
        }
    }
    match r {
        Ok(at) => {
            ctx.update_hiwater_vm();
            let locked = flags & MAP_LOCKED != 0 || ctx.vmas.def_flags.contains(VmFlags::LOCKED);
            if locked {
                // Linux's mmap_region: `make_pages_present`, whose failure
                // the mapping survives.
                let _ = memory::populate_range(&mm, &mut ctx, at, range_end(at, len));
            }
            at as i32
        }
        Err(e) => e.syscall_ret() as i32,
    }
}

/// `mmap2(addr, len, prot, flags, fd, pgoff)`: the offset in pages.
fn sys_mmap2(a: &Args) -> i32 {
    do_mmap(a[0], a[1], a[2], a[3], a[4], a[5])
}

/// The old `mmap(struct mmap_arg_struct *)`: six words in user memory, the
/// offset in bytes (must be page aligned).
fn sys_old_mmap(a: &Args) -> i32 {
    let mut b = [0u8; 24];
    if let Err(e) = crate::arch::x86::lib::uaccess::copy_from_user(&mut b, a[0] as usize) {
        return e.errno();
    }
    let w = |i: usize| u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
    if w(5) % PAGE_SIZE as u32 != 0 {
        return -EINVAL;
    }
    do_mmap(w(0), w(1), w(2), w(3), w(4), w(5) / PAGE_SIZE as u32)
}

/// `munmap(addr, len)`: the areas go, then their pages and empty tables.
fn sys_munmap(a: &Args) -> i32 {
    let Ok(mm) = mm() else { return -ENOMEM };
    let mut ctx = mm.mmap.lock();
    let (addr, len) = (a[0] as usize, a[1] as usize);
    let r = ctx.vmas.munmap(addr, len);
    let ctx = &mut *ctx;
    ctx.committed.sync(&ctx.vmas);
    match r {
        Ok(()) => {
            memory::zap_page_range(&mm, addr, range_end(addr, len));
            0
        }
        Err(e) => e.syscall_ret() as i32,
    }
}

/// `mprotect(start, len, prot)`: the areas get the new rights (up to a
/// hole or a refused area, as Linux's), then their entries.
fn sys_mprotect(a: &Args) -> i32 {
    let Ok(mm) = mm() else { return -ENOMEM };
    let mut ctx = mm.mmap.lock();
    let (start, len) = (a[0] as usize, a[1] as usize);
    let end = range_end(start, len);
    // mprotect_fixup's charge: a private area made writable for the first
    // time commits its pages. Checked for the whole range before any area
    // changes (Linux checks area by area and may stop half way).
    let newly = if a[2] & PROT_WRITE != 0 && start % PAGE_SIZE == 0 {
        let uncharged = VmFlags::ACCOUNT | VmFlags::WRITE | VmFlags::SHARED | VmFlags::HUGETLB;
        ctx.vmas
            .iter()
            .filter(|v| !v.flags.intersects(uncharged))
            .map(|v| v.end.min(end).saturating_sub(v.start.max(start)) / PAGE_SIZE)
            .sum()
    } else {
        0
    };
    let reserved = match reserve(&ctx.vmas, newly) {
        Ok(r) => r,
        Err(e) => return e.syscall_ret() as i32,
    };
    let r = ctx.vmas.mprotect(start, len, a[2]);
    {
        let ctx = &mut *ctx;
        ctx.committed.commit(&ctx.vmas, reserved);
    }
    if start < end {
        memory::change_protection(&mm, &ctx, start, end);
    }
    ret(r)
}

/// `madvise(start, len, advice)`: `MADV_DONTNEED` drops the pages (a
/// private anonymous page reads zero at its next touch, as on Linux); the
/// advice that only steers reclaim or read-ahead is accepted and has no
/// effect here. Locked areas refuse `DONTNEED` (`EINVAL`), as Linux's.
fn sys_madvise(a: &Args) -> i32 {
    const MADV_NORMAL: u32 = 0;
    const MADV_WILLNEED: u32 = 3;
    const MADV_DONTNEED: u32 = 4;
    const MADV_FREE: u32 = 8;
    let (start, len, advice) = (a[0] as usize, a[1] as usize, a[2]);
    if start % PAGE_SIZE != 0 {
        return -EINVAL;
    }
    // Linux's checks: a length that wraps is EINVAL; a range past
    // TASK_SIZE holds no area, so it is ENOMEM below, as a hole is.
    if (start as u64 + len as u64).next_multiple_of(PAGE_SIZE as u64) > u32::MAX as u64 + 1 {
        return -EINVAL;
    }
    let end = range_end(start, len);
    if start as u64 + len as u64 > TASK_SIZE as u64 {
        return -ENOMEM;
    }
    if !matches!(advice, MADV_NORMAL..=MADV_DONTNEED | MADV_FREE | 9..=15) {
        return -EINVAL;
    }
    let Ok(mm) = mm() else { return -ENOMEM };
    let ctx = mm.mmap.lock();
    let areas: alloc::vec::Vec<_> = ctx.vmas.iter().filter(|v| v.end > start && v.start < end).copied().collect();
    // Every byte of the range must be mapped (else ENOMEM, after acting on
    // what is: Linux's madvise walks the areas and reports the hole last).
    let mut covered = start;
    for v in &areas {
        if v.start > covered {
            break;
        }
        covered = v.end;
    }
    if matches!(advice, MADV_DONTNEED | MADV_FREE) {
        if areas.iter().any(|v| v.flags.contains(VmFlags::LOCKED)) {
            return -EINVAL;
        }
        for v in &areas {
            memory::zap_page_range(&mm, v.start.max(start), v.end.min(end));
        }
    }
    let _ = MADV_WILLNEED;
    if covered < end {
        -ENOMEM
    } else {
        0
    }
}

/// `mlock(start, len)`: the areas are locked, then their pages faulted in
/// and marked `PG_mlocked`.
fn sys_mlock(a: &Args) -> i32 {
    let Ok(mm) = mm() else { return -ENOMEM };
    let mut ctx = mm.mmap.lock();
    let (start, len) = (a[0] as usize, a[1] as usize);
    let rlim = ctx.rlim;
    let r = ctx.vmas.mlock(start, len, &rlim);
    let lo = start & !(PAGE_SIZE - 1);
    let end = range_end(start, len);
    if r.is_ok() && memory::populate_range(&mm, &mut ctx, lo, end).is_err() {
        return -ENOMEM;
    }
    ret(r)
}

/// `munlock(start, len)`: the areas unlocked, their pages' marks cleared.
fn sys_munlock(a: &Args) -> i32 {
    let Ok(mm) = mm() else { return -ENOMEM };
    let mut ctx = mm.mmap.lock();
    let (start, len) = (a[0] as usize, a[1] as usize);
    let r = ctx.vmas.munlock(start, len);
    let lo = start & !(PAGE_SIZE - 1);
    let end = range_end(start, len);
    // Only the areas now unlocked: one stopped by a hole leaves the areas
    // beyond it locked, and their pages marked.
    for v in ctx.vmas.iter().filter(|v| v.end > lo && v.start < end && !v.flags.contains(VmFlags::LOCKED)) {
        memory::mark_mlocked(&mm, v.start.max(lo), v.end.min(end), false);
    }
    ret(r)
}

/// `mlockall(flags)`: `MCL_CURRENT` locks and faults in every area now,
/// `MCL_FUTURE` every later one.
fn sys_mlockall(a: &Args) -> i32 {
    let Ok(mm) = mm() else { return -ENOMEM };
    let mut ctx = mm.mmap.lock();
    let rlim = ctx.rlim;
    let r = ctx.vmas.mlockall(a[0], &rlim);
    if r.is_ok() && a[0] & MCL_CURRENT != 0 && memory::populate_range(&mm, &mut ctx, 0, TASK_SIZE).is_err() {
        return -ENOMEM;
    }
    ret(r)
}

/// `munlockall()`.
fn sys_munlockall(_: &Args) -> i32 {
    let Ok(mm) = mm() else { return -ENOMEM };
    let mut ctx = mm.mmap.lock();
    let r = ctx.vmas.munlockall();
    memory::mark_mlocked(&mm, 0, TASK_SIZE, false);
    ret(r)
}
