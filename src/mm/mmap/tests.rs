//! Host tests of `mm::mmap`: each operation, each errno case, the maps lines.

use super::*;

const P: usize = PAGE_SIZE;
/// The largest value an i386 register holds.
const U32_MAX: usize = u32::MAX as usize;
const RW: u32 = PROT_READ | PROT_WRITE;
const ANON: u32 = MAP_PRIVATE | MAP_ANONYMOUS;
const FIXED: u32 = ANON | MAP_FIXED;
const INF: Rlimits = Rlimits::INFINITE;
const HOG: FileRef = FileRef { id: 1, name: "/hog", writable: false };

fn set() -> VmaSet {
    VmaSet::new(Rlimits::DEFAULT.stack)
}

fn ranges(s: &VmaSet) -> Vec<(usize, usize)> {
    s.iter().map(|v| (v.start, v.end)).collect()
}

fn map(s: &mut VmaSet, addr: usize, pages: usize, prot: u32) {
    assert_eq!(s.mmap(addr, pages * P, prot, FIXED, None, 0, &INF), Ok(addr));
}

#[test]
fn find_vma_is_the_first_area_ending_above() {
    let mut s = set();
    map(&mut s, 0x1000_0000, 2, RW);
    map(&mut s, 0x2000_0000, 1, PROT_READ);
    assert_eq!(s.find_vma(0).unwrap().start, 0x1000_0000, "below: the next area up");
    assert_eq!(s.find_vma(0x1000_1fff).unwrap().start, 0x1000_0000);
    assert_eq!(s.find_vma(0x1000_2000).unwrap().start, 0x2000_0000, "end is exclusive");
    assert!(s.find_vma(0x2000_1000).is_none());
    let (v, prev) = s.find_vma_prev(0x1800_0000);
    assert_eq!((v.unwrap().start, prev.unwrap().start), (0x2000_0000, 0x1000_0000));
    assert!(s.find_vma_intersection(0x1000_2000, 0x2000_0000).is_none());
    assert_eq!(s.find_vma_intersection(0x1000_2000, 0x2000_0001).unwrap().start, 0x2000_0000);
}

#[test]
fn topdown_below_the_stack_gap_and_neighbours_merge() {
    let mut s = set();
    assert_eq!(s.layout, MmapLayout::TopDown);
    assert_eq!(s.mmap_base, TASK_SIZE - (128 << 20), "an 8 MB stack limit gets the 128 MB minimum gap");
    let a = s.mmap(0, 4 * P, RW, ANON, None, 0, &INF).unwrap();
    let b = s.mmap(0, 2 * P, RW, ANON, None, 0, &INF).unwrap();
    assert_eq!(a, s.mmap_base - 4 * P);
    assert_eq!(b, a - 2 * P);
    assert_eq!(ranges(&s), [(b, a + 4 * P)], "two anonymous rw mappings merge");
    let c = s.mmap(0, P, PROT_READ, ANON, None, 0, &INF).unwrap();
    assert_eq!(s.len(), 2, "a read-only one does not");
    // A hole of the right size above is reused; a free hint is honoured.
    s.munmap(a, P).unwrap();
    assert_eq!(s.mmap(0, P, RW, ANON, None, 0, &INF), Ok(a));
    assert_eq!(s.mmap(0x5000_0000, P, RW, ANON, None, 0, &INF), Ok(0x5000_0000));
    assert_eq!(s.mmap(0x5000_0000, P, RW, ANON, None, 0, &INF), Ok(c - P), "a taken hint is ignored");
}

#[test]
fn legacy_layout_when_the_stack_is_unlimited() {
    let mut s = VmaSet::new(RLIM_INFINITY);
    assert_eq!((s.layout, s.mmap_base), (MmapLayout::Legacy, 0x4000_0000));
    assert_eq!(s.mmap(0, P, RW, ANON, None, 0, &INF), Ok(0x4000_0000));
    assert_eq!(s.mmap(0, P, RW, ANON, None, 0, &INF), Ok(0x4000_1000));
}

#[test]
fn topdown_falls_back_to_bottomup_when_full() {
    let mut s = set();
    let pages = (s.mmap_base - P) / P;
    map(&mut s, P, pages, PROT_READ);
    assert_eq!(s.mmap(0, P, PROT_READ, ANON, None, 0, &INF), Ok(s.mmap_base));
}

#[test]
fn file_mappings_merge_only_with_contiguous_offsets() {
    let mut s = set();
    let fixed = MAP_PRIVATE | MAP_FIXED;
    let rx = PROT_READ | PROT_EXEC;
    assert!(s.mmap(0x0804_8000, P, rx, fixed, Some(HOG), 0, &INF).is_ok());
    assert!(s.mmap(0x0804_9000, P, rx, fixed, Some(HOG), 1, &INF).is_ok());
    assert_eq!(s.len(), 1);
    assert!(s.mmap(0x0804_a000, P, rx, fixed, Some(HOG), 5, &INF).is_ok());
    assert_eq!(s.len(), 2, "offset 5 does not follow offset 2");
    let other = FileRef { id: 2, name: "/other", ..HOG };
    assert!(s.mmap(0x0804_b000, P, rx, fixed, Some(other), 6, &INF).is_ok());
    assert_eq!(s.len(), 3, "another file does not merge");
}

#[test]
fn munmap_splits_at_both_ends() {
    let mut s = set();
    let f = MAP_PRIVATE | MAP_FIXED;
    s.mmap(0x1000_0000, 8 * P, PROT_READ, f, Some(HOG), 10, &INF).unwrap();
    s.munmap(0x1000_2000, 3 * P).unwrap();
    assert_eq!(ranges(&s), [(0x1000_0000, 0x1000_2000), (0x1000_5000, 0x1000_8000)]);
    assert_eq!(s.iter().map(|v| v.pgoff).collect::<Vec<_>>(), [10, 15], "the upper piece keeps its file offset");
    s.munmap(0x0fff_0000, 0x10_0000).unwrap();
    assert_eq!(s.len(), 0, "a range over holes unmaps what is there");
    s.munmap(0x1000_0000, P).unwrap();
}

#[test]
fn munmap_errors() {
    let mut s = set();
    assert_eq!(s.munmap(0x1000_0001, P), Err(Errno::EINVAL), "unaligned start");
    assert_eq!(s.munmap(0x1000_0000, 0), Err(Errno::EINVAL), "zero length");
    assert_eq!(s.munmap(TASK_SIZE - P, 2 * P), Err(Errno::EINVAL), "past TASK_SIZE");
    assert_eq!(s.munmap(TASK_SIZE + P, P), Err(Errno::EINVAL));
}

#[test]
fn mprotect_splits_and_remerges() {
    let mut s = set();
    map(&mut s, 0x1000_0000, 8, RW);
    s.mprotect(0x1000_2000, 2 * P, PROT_READ).unwrap();
    assert_eq!(ranges(&s), [(0x1000_0000, 0x1000_2000), (0x1000_2000, 0x1000_4000), (0x1000_4000, 0x1000_8000)]);
    assert_eq!(s.iter().nth(1).unwrap().flags & VmFlags::RWX, VmFlags::READ);
    assert!(s.iter().nth(1).unwrap().flags.contains(VmFlags::ACCOUNT), "the charge stays");
    s.mprotect(0x1000_2000, 2 * P, RW).unwrap();
    assert_eq!(ranges(&s), [(0x1000_0000, 0x1000_8000)]);
    // A read-only anonymous area made writable is charged, then merges
    // with the writable one next to it.
    map(&mut s, 0x1000_8000, 1, PROT_READ);
    assert!(!s.iter().nth(1).unwrap().flags.contains(VmFlags::ACCOUNT));
    s.mprotect(0x1000_8000, P, RW).unwrap();
    assert_eq!(ranges(&s), [(0x1000_0000, 0x1000_9000)]);
}

#[test]
fn mprotect_stops_at_a_hole_with_enomem() {
    let mut s = set();
    map(&mut s, 0x1000_0000, 2, RW);
    map(&mut s, 0x1000_3000, 2, RW);
    assert_eq!(s.mprotect(0x1000_0000, 5 * P, PROT_READ), Err(Errno::ENOMEM));
    assert_eq!(s.iter().next().unwrap().flags & VmFlags::RWX, VmFlags::READ, "the part before the hole changed");
    assert_eq!(s.iter().nth(1).unwrap().flags & VmFlags::RWX, VmFlags::READ | VmFlags::WRITE);
    assert_eq!(s.mprotect(0x0fff_f000, 2 * P, PROT_READ), Err(Errno::ENOMEM), "unmapped start");
    assert_eq!(s.mprotect(0x1000_4000, 2 * P, PROT_READ), Err(Errno::ENOMEM), "runs off the last area");
    assert_eq!(s.iter().last().unwrap().end, 0x1000_5000);
    assert_eq!(s.iter().nth(1).unwrap().flags & VmFlags::RWX, VmFlags::READ | VmFlags::WRITE);
    assert_eq!(ranges(&s).len(), 3);
}

#[test]
fn mprotect_errors() {
    let mut s = set();
    map(&mut s, 0x1000_0000, 2, RW);
    assert_eq!(s.mprotect(0x1000_0800, P, PROT_READ), Err(Errno::EINVAL), "unaligned");
    assert_eq!(s.mprotect(0x1000_0000, P, 0x10), Err(Errno::EINVAL), "unknown prot bit");
    assert_eq!(s.mprotect(0x1000_0000, P, PROT_GROWSDOWN | PROT_GROWSUP), Err(Errno::EINVAL));
    assert_eq!(s.mprotect(0x1000_0000, P, PROT_READ | PROT_GROWSDOWN), Err(Errno::EINVAL), "not a stack");
    assert_eq!(s.mprotect(0x1000_0000, 0, 0x10), Ok(()), "zero length is checked for nothing else");
    assert_eq!(s.mprotect(0x1000_0000, U32_MAX - 0x1000_0000, PROT_READ), Err(Errno::ENOMEM), "wraps");
    // A shared mapping of a read-only file cannot become writable.
    let f = MAP_SHARED | MAP_FIXED;
    s.mmap(0x1000_2000, P, PROT_READ, f, Some(HOG), 2, &INF).unwrap();
    assert_eq!(s.mprotect(0x1000_0000, 3 * P, PROT_READ | PROT_WRITE), Err(Errno::EACCES));
    assert_eq!(s.mprotect(0x1000_0000, 3 * P, PROT_READ), Ok(()));
}

#[test]
fn mprotect_growsdown_reaches_the_stack_start() {
    let mut s = set();
    let top = 0xbfff_f000;
    s.mmap(top - 4 * P, 4 * P, RW, FIXED | MAP_GROWSDOWN, None, 0, &INF).unwrap();
    s.mprotect(top - P, P, PROT_READ | PROT_GROWSDOWN).unwrap();
    assert_eq!(ranges(&s), [(top - 4 * P, top)]);
    assert_eq!(s.iter().next().unwrap().flags & VmFlags::RWX, VmFlags::READ);
}

#[test]
fn mmap_errors() {
    let mut s = set();
    assert_eq!(s.mmap(0, 0, RW, ANON, None, 0, &INF), Err(Errno::EINVAL), "zero length");
    assert_eq!(s.mmap(0, TASK_SIZE + 1, RW, ANON, None, 0, &INF), Err(Errno::ENOMEM), "longer than user space");
    assert_eq!(s.mmap(0, U32_MAX, RW, ANON, None, 0, &INF), Err(Errno::ENOMEM), "wraps on i386");
    assert_eq!(s.mmap(0x1000_0800, P, RW, FIXED, None, 0, &INF), Err(Errno::EINVAL), "unaligned MAP_FIXED");
    assert_eq!(s.mmap(TASK_SIZE - P, 2 * P, RW, FIXED, None, 0, &INF), Err(Errno::ENOMEM), "past TASK_SIZE");
    assert_eq!(s.mmap(0, P, RW, MAP_ANONYMOUS, None, 0, &INF), Err(Errno::EINVAL), "neither shared nor private");
    assert_eq!(s.mmap(0, P, RW, MAP_SHARED | MAP_ANONYMOUS, None, 0, &INF), Err(Errno::EINVAL), "no shmem");
    assert_eq!(s.mmap(0, P, RW, MAP_SHARED, Some(HOG), 0, &INF), Err(Errno::EACCES), "read-only file");
    assert_eq!(s.mmap(0, 2 * P, PROT_READ, MAP_PRIVATE, Some(HOG), 0xffff_ffff, &INF), Err(Errno::EOVERFLOW));
    let as_limit = Rlimits { as_: 4 * P, ..INF };
    assert_eq!(s.mmap(0, 5 * P, RW, ANON, None, 0, &as_limit), Err(Errno::ENOMEM), "RLIMIT_AS");
    assert!(s.is_empty(), "nothing was mapped by the failures");
    map(&mut s, 0x1000_0000, 4, RW);
    assert_eq!(s.mmap(0x1000_0000, 2 * P, RW, FIXED, None, 0, &as_limit), Ok(0x1000_0000), "replacing stays in");
    assert_eq!(s.mmap(0x1000_0000, 5 * P, RW, FIXED, None, 0, &as_limit), Err(Errno::ENOMEM));
    assert!(s.is_empty(), "as Linux, the old mapping was unmapped before the limit refused the new one");
}

#[test]
fn no_room_is_enomem() {
    let mut s = set();
    let before = ranges(&s);
    let too_big = s.mmap_base + P; // over the top-down room and the bottom-up room from 1 GB
    assert_eq!(s.mmap(0, too_big, RW, ANON, None, 0, &INF), Err(Errno::ENOMEM));
    let min = s.mmap_min_addr;
    assert_eq!(s.mmap(min, TASK_SIZE - min, RW, FIXED, None, 0, &INF), Ok(min));
    assert_eq!(s.mmap(0, P, RW, ANON, None, 0, &INF), Err(Errno::ENOMEM));
    s.munmap(0, TASK_SIZE).unwrap();
    assert_eq!(ranges(&s), before);
}

/// Nothing maps below `vm.mmap_min_addr` (4096): MAP_FIXED there is EPERM
/// (it needs CAP_SYS_RAWIO), a hint below it is raised to it, and the
/// stack does not grow into it.
#[test]
fn nothing_below_mmap_min_addr() {
    let mut s = set();
    assert_eq!(s.mmap(0, P, RW, FIXED, None, 0, &INF), Err(Errno::EPERM));
    assert_eq!(s.mmap(0xfff, P, RW, FIXED, None, 0, &INF), Err(Errno::EPERM));
    assert_eq!(s.mmap(1, P, RW, ANON, None, 0, &INF), Ok(0x1000), "a hint below is raised to mmap_min_addr");
    assert_eq!(s.mmap(0x1000, P, RW, FIXED, None, 0, &INF), Ok(0x1000));
    assert!(s.is_empty() || s.iter().all(|v| v.start >= 0x1000));
}

#[test]
fn map_count_limit_fails_without_change() {
    let mut s = set();
    s.max_map_count = 2;
    map(&mut s, 0x1000_0000, 4, RW);
    map(&mut s, 0x2000_0000, 1, RW);
    let before = ranges(&s);
    assert_eq!(s.munmap(0x1000_1000, P), Err(Errno::ENOMEM), "a split would make three");
    assert_eq!(s.mprotect(0x1000_0000, P, PROT_READ), Err(Errno::ENOMEM));
    assert_eq!(s.mmap(0, P, PROT_READ, ANON, None, 0, &INF), Err(Errno::ENOMEM));
    assert_eq!(ranges(&s), before);
    assert_eq!(s.munmap(0x1000_0000, P), Ok(()), "trimming an end needs no split");
}

#[test]
fn mlock_splits_and_counts() {
    let mut s = set();
    let lim = Rlimits { memlock: 4 * P, ..INF };
    map(&mut s, 0x1000_0000, 8, RW);
    s.mlock(0x1000_2010, P, &lim).unwrap();
    assert_eq!(s.locked_vm(), 2, "a byte range covers the pages it touches");
    assert_eq!(s.len(), 3);
    assert_eq!(s.mlock(0x1000_0000, 3 * P, &lim), Err(Errno::ENOMEM), "2 locked + 3 > 4");
    s.munlock(0x1000_0000, 8 * P).unwrap();
    assert_eq!((s.len(), s.locked_vm()), (1, 0));
    assert_eq!(s.mlock(0x1000_0000, P, &Rlimits { memlock: 0, ..INF }), Err(Errno::EPERM));
    assert_eq!(s.mlock(0x1000_0000, U32_MAX - 0x1000_0000, &INF), Err(Errno::EINVAL), "wraps on i386");
    assert_eq!(s.mlock(0x0fff_0000, P, &INF), Err(Errno::ENOMEM), "not mapped");
    assert_eq!(s.mlock(0x1000_7000, 2 * P, &INF), Err(Errno::ENOMEM), "runs off the area");
    assert_eq!(s.locked_vm(), 1, "the mapped part before the hole is locked");
    s.munmap(0x1000_7000, P).unwrap();
    assert_eq!(s.locked_vm(), 0, "unmapping unlocks");
}

#[test]
fn mlockall_current_and_future() {
    let mut s = set();
    map(&mut s, 0x1000_0000, 2, RW);
    assert_eq!(s.mlockall(0, &INF), Err(Errno::EINVAL));
    assert_eq!(s.mlockall(4, &INF), Err(Errno::EINVAL));
    assert_eq!(s.mlockall(MCL_CURRENT, &Rlimits { memlock: P, ..INF }), Err(Errno::ENOMEM));
    s.mlockall(MCL_CURRENT | MCL_FUTURE, &INF).unwrap();
    assert_eq!(s.locked_vm(), 2);
    map(&mut s, 0x1000_2000, 1, RW);
    assert_eq!((s.len(), s.locked_vm()), (1, 3), "a later mapping is locked and merges");
    let lim = Rlimits { memlock: 4 * P, ..INF };
    assert_eq!(s.mmap(0, 2 * P, RW, ANON, None, 0, &lim), Err(Errno::EAGAIN), "3 + 2 > 4 locked pages");
    s.munlockall().unwrap();
    assert_eq!((s.locked_vm(), s.def_flags), (0, VmFlags::empty()));
    assert_eq!(s.mmap(0, P, RW, ANON | MAP_LOCKED, None, 0, &Rlimits { memlock: 0, ..INF }), Err(Errno::EPERM));
}

#[test]
fn brk_grows_merges_and_shrinks() {
    let mut s = set();
    // .bss as binfmt_elf maps it, the heap right after it.
    s.do_brk(0x0805_0000, P, &INF).unwrap();
    s.start_brk = 0x0805_1000;
    s.brk = s.start_brk;
    assert_eq!(s.brk(0x0805_1000 + 10, &INF), 0x0805_100a);
    assert_eq!(ranges(&s), [(0x0805_0000, 0x0805_2000)], "merged with .bss");
    assert_eq!(s.brk(0x0805_5000, &INF), 0x0805_5000);
    assert_eq!(s.brk(0x0805_2001, &INF), 0x0805_2001);
    assert_eq!(ranges(&s), [(0x0805_0000, 0x0805_3000)]);
    assert_eq!(s.brk(0x0805_0000, &INF), 0x0805_2001, "below start_brk: refused, the old break returned");
    assert_eq!(s.brk(TASK_SIZE + 1, &INF), 0x0805_2001);
    // The next mapping stops it one page short.
    map(&mut s, 0x0805_6000, 1, PROT_READ);
    assert_eq!(s.brk(0x0805_6000, &INF), 0x0805_2001);
    assert_eq!(s.brk(0x0805_5001, &INF), 0x0805_2001, "would leave no free page before it");
    assert_eq!(s.brk(0x0805_5000, &INF), 0x0805_5000);
    assert_eq!(ranges(&s), [(0x0805_0000, 0x0805_5000), (0x0805_6000, 0x0805_7000)]);
    assert_eq!(s.brk(0x0805_3000, &INF), 0x0805_3000);
    assert_eq!(s.brk(0x0805_4001, &Rlimits { as_: 5 * P, ..INF }), 0x0805_3000, "RLIMIT_AS: 4 + 2 pages > 5");
    assert_eq!(s.brk(0x0805_4000, &Rlimits { as_: 5 * P, ..INF }), 0x0805_4000);
}

#[test]
fn expand_stack_grows_within_limits_and_gap() {
    let mut s = set();
    s.stack_guard_gap = 4 * P;
    let top = 0xc000_0000;
    s.mmap(top - 2 * P, 2 * P, RW, FIXED | MAP_GROWSDOWN, None, 0, &INF).unwrap();
    s.start_stack = top - 16;
    assert_eq!(s.expand_stack(top - 2 * P, &INF), Ok(()), "already inside");
    s.expand_stack(top - 5 * P + 123, &INF).unwrap();
    let v = *s.find_vma(top - P).unwrap();
    assert_eq!((v.start, v.pgoff), (top - 5 * P, (top - 5 * P) / P));
    assert_eq!(s.expand_stack(top - 9 * P, &Rlimits { stack: 8 * P, ..INF }), Err(Errno::ENOMEM), "RLIMIT_STACK");
    assert_eq!(s.expand_stack(top - 9 * P, &Rlimits { as_: 8 * P, ..INF }), Err(Errno::ENOMEM), "RLIMIT_AS");
    // A mapping below: the stack stops the guard gap short of it.
    map(&mut s, top - 20 * P, 5, PROT_READ);
    assert_eq!(s.expand_stack(top - 14 * P, &INF), Err(Errno::ENOMEM));
    assert_eq!(s.expand_stack(top - 11 * P, &INF), Ok(()));
    assert_eq!(s.find_vma(top - P).unwrap().start, top - 11 * P);
    assert_eq!(s.expand_stack(top - 12 * P, &INF), Err(Errno::ENOMEM));
    // And nothing is placed in the gap.
    s.munmap(top - 20 * P, 5 * P).unwrap();
    s.mmap_base = top - 11 * P;
    assert_eq!(s.mmap(0, P, PROT_READ, ANON, None, 0, &INF), Ok(top - 16 * P));
    assert_eq!(s.expand_stack(0x1000, &INF), Err(Errno::EFAULT), "the area above is not the stack");
    assert_eq!(s.expand_stack(top - 2 * P, &INF), Ok(()));
    // A locked stack counts against RLIMIT_MEMLOCK.
    s.munmap(top - 16 * P, P).unwrap();
    s.mlock(top - 11 * P, 11 * P, &INF).unwrap();
    assert_eq!(s.expand_stack(top - 12 * P, &Rlimits { memlock: 11 * P, ..INF }), Err(Errno::ENOMEM));
    assert!(s.find_extend_vma(top - 12 * P, &INF).is_some());
    assert_eq!(s.locked_vm(), 12);
}

#[test]
fn expand_stack_needs_a_stack_above() {
    let mut s = set();
    assert_eq!(s.expand_stack(0x1000_0000, &INF), Err(Errno::EFAULT));
    map(&mut s, 0x1000_1000, 1, RW);
    assert_eq!(s.expand_stack(0x1000_0000, &INF), Err(Errno::EFAULT), "not VM_GROWSDOWN");
    assert!(s.find_extend_vma(0x1000_0000, &INF).is_none());
    assert!(s.find_extend_vma(0x1000_1000, &INF).is_some());
}

#[test]
fn maps_lines_as_linux_prints_them() {
    let mut s = set();
    let fixed = MAP_PRIVATE | MAP_FIXED;
    s.mmap(0x0804_8000, P, PROT_READ | PROT_EXEC, fixed, Some(HOG), 0, &INF).unwrap();
    s.mmap(0x0804_9000, P, RW, fixed, Some(HOG), 1, &INF).unwrap();
    s.do_brk(0x0804_a000, P, &INF).unwrap();
    s.start_brk = 0x0804_b000;
    s.brk = s.start_brk;
    s.mmap(0x0900_0000, 2 * P, RW, FIXED, None, 0, &INF).unwrap();
    s.start_brk = 0x0900_0000;
    s.brk = 0x0900_1800;
    s.mmap(0xb7f5_c000, 16 * P, RW, FIXED, None, 0, &INF).unwrap();
    s.mmap(0xbfb9_c000, 0x21 * P, RW, FIXED | MAP_GROWSDOWN, None, 0, &INF).unwrap();
    s.start_stack = 0xbfbb_c9c0;
    s.mmap(0xb000_0000, P, PROT_READ, MAP_SHARED | MAP_FIXED, Some(HOG), 0x185, &INF).unwrap();
    let text = format!("{}", s.maps());
    assert_eq!(
        text,
        "08048000-08049000 r-xp 00000000 00:00 0          /hog\n\
         08049000-0804a000 rw-p 00001000 00:00 0          /hog\n\
         0804a000-0804b000 rw-p 00000000 00:00 0 \n\
         09000000-09002000 rw-p 00000000 00:00 0          [heap]\n\
         b0000000-b0001000 r--s 00185000 00:00 0          /hog\n\
         b7f5c000-b7f6c000 rw-p 00000000 00:00 0 \n\
         bfb9c000-bfbbd000 rw-p 00000000 00:00 0          [stack]\n"
    );
    // Lines of the reference output (Linux 6.1, ../shared/linux-formats/proc.txt), byte for byte.
    let line = s.maps_line(s.find_vma(0xb7f5_c000).unwrap()).to_string();
    assert_eq!(line, "b7f5c000-b7f6c000 rw-p 00000000 00:00 0 ");
    let stack = s.maps_line(s.find_vma(0xbfb9_c000).unwrap()).to_string();
    assert_eq!(stack, "bfb9c000-bfbbd000 rw-p 00000000 00:00 0          [stack]");
    let heap = s.maps_line(s.find_vma(0x0900_0000).unwrap()).to_string();
    assert_eq!(heap.find('['), Some(49), "names start at column 49");
}

#[test]
fn errno_names_its_value() {
    assert_eq!(Errno::ENOMEM.to_string(), "ENOMEM (12): Cannot allocate memory");
    assert_eq!(Errno::EINVAL.syscall_ret(), -22);
}

#[test]
fn the_top_page_of_user_space() {
    let mut s = set();
    let top = TASK_SIZE - P;
    map(&mut s, top, 1, RW);
    assert_eq!(s.find_vma(TASK_SIZE - 1).unwrap().end, TASK_SIZE);
    s.mprotect(top, P, PROT_READ).unwrap();
    assert_eq!(s.mprotect(top, 2 * P, PROT_READ), Err(Errno::ENOMEM), "runs past TASK_SIZE");
    s.mlock(TASK_SIZE - 1, 1, &INF).unwrap();
    assert_eq!(s.locked_vm(), 1);
    assert_eq!(s.mmap(top, P, RW, ANON, None, 0, &INF), Ok(s.mmap_base - P), "a taken hint at the top");
    assert_eq!(s.mmap(TASK_SIZE, P, RW, FIXED, None, 0, &INF), Err(Errno::ENOMEM));
    assert_eq!(s.mmap(0xffff_f000, P, RW, FIXED, None, 0, &INF), Err(Errno::ENOMEM));
    assert_eq!(s.expand_stack(0xffff_f000, &INF), Err(Errno::EFAULT), "nothing above kernel addresses");
    s.start_brk = top - 2 * P;
    s.brk = s.start_brk;
    assert_eq!(s.brk(top - P, &INF), top - P);
    assert_eq!(s.brk(top - P + 1, &INF), top - P, "no free page would be left below the top mapping");
    s.munmap(top, P).unwrap();
    assert_eq!(s.brk(TASK_SIZE, &INF), TASK_SIZE, "the heap may reach TASK_SIZE itself");
    assert_eq!(s.brk(TASK_SIZE + 1, &INF), TASK_SIZE);
}

#[test]
fn insert_vma_merges_unless_special() {
    let mut s = set();
    let v =
        Vma { start: 0x1000_0000, end: 0x1000_1000, flags: VmFlags::STACK, pgoff: 0x1_0000, kind: VmaKind::Anonymous };
    s.insert_vma(v).unwrap();
    assert_eq!(s.insert_vma(v), Err(Errno::ENOMEM), "taken");
    assert_eq!(s.insert_vma(Vma { end: v.start, ..v }), Err(Errno::EINVAL), "empty");
    s.insert_vma(Vma { start: 0x1000_1000, end: 0x1000_2000, pgoff: 0x1_0001, ..v }).unwrap();
    assert_eq!(s.len(), 1);
    let special = VmFlags::READ | VmFlags::DONTEXPAND;
    s.insert_vma(Vma { start: 0x2000_0000, end: 0x2000_1000, flags: special, pgoff: 0x2_0000, ..v }).unwrap();
    s.insert_vma(Vma { start: 0x2000_1000, end: 0x2000_2000, flags: special, pgoff: 0x2_0001, ..v }).unwrap();
    assert_eq!(s.len(), 3, "VM_DONTEXPAND areas never merge (VM_SPECIAL)");
    assert_eq!(s.stack_vm(), 2);
}

#[test]
fn status_counts() {
    let mut s = set();
    let f = MAP_PRIVATE | MAP_FIXED;
    s.mmap(0x0804_8000, 2 * P, PROT_READ | PROT_EXEC, f, Some(HOG), 0, &INF).unwrap();
    s.mmap(0x0804_a000, P, RW, f, Some(HOG), 2, &INF).unwrap();
    map(&mut s, 0x0900_0000, 3, RW);
    s.mmap(0xbfff_0000, 4 * P, RW, FIXED | MAP_GROWSDOWN, None, 0, &INF).unwrap();
    assert_eq!((s.total_vm(), s.shared_vm(), s.exec_vm(), s.stack_vm()), (10, 3, 2, 4));
}

/// Found by the model test: the top-down walk stepped from a stack to just
/// below its guard gap, skipping the hole under a mapping that sits inside
/// that gap (only the area right above a hole constrains it).
#[test]
fn topdown_uses_the_hole_below_a_mapping_in_a_stack_gap() {
    let mut s = set();
    let base = 0x1000_0000;
    s.mmap_base = base + 48 * P;
    s.stack_guard_gap = 2 * P;
    map(&mut s, base + 15 * P, 1, PROT_READ);
    map(&mut s, base + 40 * P, 8, PROT_READ);
    map(&mut s, base + 31 * P, 2, PROT_READ);
    s.mmap(base + 16 * P, 8 * P, PROT_READ, FIXED | MAP_GROWSDOWN, None, 0, &INF).unwrap();
    assert_eq!(s.mmap(0, 8 * P, PROT_READ, ANON, None, 0, &INF), Ok(base + 7 * P));
}

/// Fork's copy: no area locked, `MCL_FUTURE` gone, and the pieces that
/// differed only by the lock merged again.
#[test]
fn clear_locked_unlocks_and_merges() {
    let mut s = set();
    let rlim = Rlimits::INFINITE;
    map(&mut s, 0x1000_0000, 4, PROT_READ | PROT_WRITE);
    s.mlock(0x1000_1000, 0x1000, &rlim).unwrap();
    s.mlockall(MCL_FUTURE, &rlim).unwrap();
    assert_eq!(ranges(&s).len(), 3);
    s.clear_locked();
    assert_eq!(ranges(&s), [(0x1000_0000, 0x1000_4000)]);
    assert_eq!(s.locked_vm(), 0);
    assert!(s.def_flags.is_empty());
}

/// Fork's copy is the same set (`try_clone`).
#[test]
fn try_clone_copies_every_area_and_field() {
    let mut s = set();
    map(&mut s, 0x1000_0000, 4, PROT_READ | PROT_WRITE);
    map(&mut s, 0x2000_0000, 1, PROT_READ);
    s.brk = 0x0900_0000;
    let c = s.try_clone().unwrap();
    assert_eq!(ranges(&c), ranges(&s));
    assert_eq!((c.brk, c.mmap_base, c.mmap_min_addr), (s.brk, s.mmap_base, s.mmap_min_addr));
}
