//! Every operation allocates the area objects it needs before it changes
//! anything: run with an allocator that fails its n-th allocation, for
//! every n up to the number it makes, it gives `ENOMEM` and leaves the set
//! exactly as it was, with not one object kept; and every set holds one
//! object per area (what `slabinfo` counts in the kernel).

use super::*;
use alloc::rc::Rc;
use core::alloc::{AllocError, Layout};
use core::cell::Cell;
use core::ptr::NonNull;
use std::alloc::Global;

const P: usize = PAGE_SIZE;
const RW: u32 = PROT_READ | PROT_WRITE;
const PROT_NONE: u32 = 0;
const ANON: u32 = MAP_PRIVATE | MAP_ANONYMOUS;
const FIXED: u32 = ANON | MAP_FIXED;
const INF: Rlimits = Rlimits::INFINITE;
const HOG: FileRef = FileRef { id: 1, name: "/hog", writable: false };

#[derive(Default)]
struct Counts {
    /// Allocations asked for (failed ones included).
    asked: Cell<usize>,
    /// Objects allocated and not yet freed.
    live: Cell<usize>,
    /// The allocation (counted as `asked`) that fails.
    fail_at: Cell<Option<usize>>,
}

/// The heap, counting its objects, failing the `fail_at`-th allocation.
#[derive(Clone, Default)]
pub(super) struct FailNth(Rc<Counts>);

impl FailNth {
    pub(super) fn live(&self) -> usize {
        self.0.live.get()
    }

    fn asked(&self) -> usize {
        self.0.asked.get()
    }

    /// Fail the `n`-th allocation from now (0: the next one).
    fn fail_in(&self, n: usize) {
        self.0.fail_at.set(Some(self.asked() + n));
    }

    fn disarm(&self) {
        self.0.fail_at.set(None);
    }
}

// SAFETY: blocks come from `Global` and go back to it with their layout;
// the counters only count.
unsafe impl Allocator for FailNth {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let n = self.asked();
        self.0.asked.set(n + 1);
        if self.0.fail_at.get() == Some(n) {
            return Err(AllocError);
        }
        let p = Global.allocate(layout)?;
        self.0.live.set(self.live() + 1);
        Ok(p)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        self.0.live.set(self.live() - 1);
        // SAFETY: the caller's contract: `ptr` came from `allocate`, so
        // from `Global` with this layout.
        unsafe { Global.deallocate(ptr, layout) };
    }
}

type Snapshot = (Vec<Vma>, usize, usize, usize, VmFlags);

fn snapshot(s: &VmaSet<FailNth>) -> Snapshot {
    (s.iter().copied().collect(), s.start_brk, s.brk, s.start_stack, s.def_flags)
}

/// A set with something of every kind: text from a file, data, `.bss` and
/// the heap, two mappings of different rights, a stack with its guard gap.
fn sample(a: &FailNth) -> VmaSet<FailNth> {
    let mut s = VmaSet::new_in(Rlimits::DEFAULT.stack, a.clone());
    s.stack_guard_gap = 4 * P;
    let text = PROT_READ | PROT_EXEC;
    assert_eq!(s.mmap(0x0804_8000, 4 * P, text, MAP_PRIVATE | MAP_FIXED, Some(HOG), 0, &INF), Ok(0x0804_8000));
    assert_eq!(s.mmap(0x0804_c000, P, RW, MAP_PRIVATE | MAP_FIXED, Some(HOG), 4, &INF), Ok(0x0804_c000));
    s.do_brk(0x0804_d000, 2 * P, &INF).unwrap();
    s.start_brk = 0x0804_f000;
    s.brk = s.start_brk;
    assert_eq!(s.brk(0x0805_3000, &INF), 0x0805_3000);
    assert_eq!(s.mmap(0x1000_0000, 8 * P, RW, FIXED, None, 0, &INF), Ok(0x1000_0000));
    assert_eq!(s.mmap(0x1000_8000, 4 * P, PROT_READ, FIXED, None, 0, &INF), Ok(0x1000_8000));
    let stack = VmFlags::STACK | VmFlags::ACCOUNT;
    let top = 0xb000_0000;
    s.insert_vma(Vma {
        start: top - 2 * P,
        end: top,
        flags: stack,
        pgoff: (top - 2 * P) / P,
        kind: VmaKind::Anonymous,
    })
    .unwrap();
    s.start_stack = top - 16;
    assert_eq!(s.len(), 6);
    s
}

/// What one operation returns, reduced to whether it failed for memory.
type Op = fn(&mut VmaSet<FailNth>) -> Result<(), Errno>;

const OPS: &[(&str, Op, usize)] = &[
    // (name, operation, the objects it needs at least)
    ("mmap a new area", |s| s.mmap(0, 3 * P, PROT_READ, ANON, None, 0, &INF).map(drop), 1),
    ("mmap MAP_FIXED inside an area", |s| s.mmap(0x1000_2000, P, PROT_NONE, FIXED, None, 0, &INF).map(drop), 2),
    ("mmap MAP_FIXED over two areas", |s| s.mmap(0x1000_6000, 4 * P, PROT_EXEC, FIXED, None, 0, &INF).map(drop), 1),
    ("munmap inside an area", |s| s.munmap(0x1000_3000, P), 1),
    ("munmap across areas", |s| s.munmap(0x1000_7000, 2 * P), 0),
    ("mprotect inside an area", |s| s.mprotect(0x1000_1000, 2 * P, PROT_READ | PROT_EXEC), 2),
    ("mprotect across areas", |s| s.mprotect(0x1000_7000, 2 * P, PROT_NONE), 1),
    ("mlock inside an area", |s| s.mlock(0x1000_1000, P, &INF), 2),
    ("munlock", |s| s.munlock(0x1000_0000, 12 * P), 0),
    ("mlockall", |s| s.mlockall(MCL_CURRENT | MCL_FUTURE, &INF), 0),
    ("brk up past a gap", |s| (s.brk(0x0806_0000, &INF) == 0x0806_0000).then_some(()).ok_or(Errno::ENOMEM), 0),
    ("brk down", |s| (s.brk(0x0805_0000, &INF) == 0x0805_0000).then_some(()).ok_or(Errno::ENOMEM), 0),
    ("do_brk over text", |s| s.do_brk(0x0804_9000, P, &INF).map(drop), 2),
    ("expand_stack", |s| s.expand_stack(0xb000_0000 - 5 * P, &INF), 0),
    (
        "insert_vma",
        |s| {
            let v =
                Vma { start: 0x4000_0000, end: 0x4000_1000, flags: VmFlags::READ, pgoff: 0, kind: VmaKind::Anonymous };
            s.insert_vma(v)
        },
        1,
    ),
];

#[test]
fn a_failed_allocation_anywhere_changes_nothing() {
    for &(name, op, needs) in OPS {
        let mut made = None;
        for n in 0.. {
            let a = FailNth::default();
            let mut s = sample(&a);
            let (before, live) = (snapshot(&s), a.live());
            assert_eq!(live, s.len(), "one object per area");
            let asked = a.asked();
            a.fail_in(n);
            let r = op(&mut s);
            a.disarm();
            assert_eq!(a.live(), s.len(), "{name}: one object per area after it (failing allocation {n})");
            if a.asked() - asked <= n {
                // Made all it asked for: the operation went through.
                assert_eq!(r, Ok(()), "{name}");
                made = Some(n);
                break;
            }
            assert_eq!(r, Err(Errno::ENOMEM), "{name}: allocation {n} failed");
            assert_eq!(snapshot(&s), before, "{name}: allocation {n} failed and the set changed");
            assert_eq!(a.live(), live, "{name}: allocation {n} failed and objects were kept");
        }
        assert!(made >= Some(needs), "{name}: made {made:?} objects, needs at least {needs}");
    }
}

#[test]
fn brk_that_cannot_allocate_keeps_the_break() {
    let a = FailNth::default();
    let mut s = sample(&a);
    s.munmap(0x0804_e000, 5 * P).unwrap();
    s.brk = 0x0804_f000;
    let before = snapshot(&s);
    a.fail_in(0);
    assert_eq!(s.brk(0x0805_1000, &INF), 0x0804_f000, "the new heap area could not be had");
    a.disarm();
    assert_eq!((snapshot(&s), a.live()), (before, s.len()));
}

#[test]
fn a_fork_that_cannot_copy_an_area_keeps_nothing() {
    let a = FailNth::default();
    let s = sample(&a);
    let (before, live) = (snapshot(&s), a.live());
    for n in 0..s.len() {
        a.fail_in(n);
        assert_eq!(s.try_clone().err(), Some(Errno::ENOMEM), "copy {n} failed");
        a.disarm();
        assert_eq!((snapshot(&s), a.live()), (before.clone(), live), "copy {n} failed");
    }
    let c = s.try_clone().unwrap();
    assert_eq!(snapshot(&c), before);
    assert_eq!(a.live(), 2 * live, "each area copied into an object of its own");
    drop(c);
    assert_eq!(a.live(), live);
}

#[test]
fn clear_locked_frees_the_objects_it_merges_away() {
    let a = FailNth::default();
    let mut s = sample(&a);
    s.mlock(0x1000_1000, 2 * P, &INF).unwrap();
    assert_eq!((s.len(), a.live()), (8, 8));
    s.clear_locked();
    assert_eq!((s.len(), a.live()), (6, 6));
    drop(s);
    assert_eq!(a.live(), 0, "a dropped set frees every area");
}
