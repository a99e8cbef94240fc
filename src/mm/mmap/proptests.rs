//! Property tests of `mm::mmap`: random sequences of mmap, munmap,
//! mprotect, mlock, brk and stack growth, run on a `VmaSet` and on a
//! simple model (one entry per mapped page) side by side. After every step
//! the results agree, the set holds exactly the model's pages, and its
//! areas are sorted, disjoint, non-empty and merged wherever Linux would
//! merge them (which makes the split into areas unique), each area an
//! object of its own.

use super::enomem_tests::FailNth;
use super::*;
use alloc::collections::BTreeMap;
use proptest::prelude::*;

const P: usize = PAGE_SIZE;
/// The window the operations work in, and the top of the top-down search.
const BASE: usize = 0x1000_0000;
const PAGES: usize = 48;
const GAP: usize = 2 * P;
const RO_FILE: FileRef = FileRef { id: 1, name: "/ro", writable: false };
const RW_FILE: FileRef = FileRef { id: 2, name: "/rw", writable: true };

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Page {
    flags: VmFlags,
    kind: VmaKind,
    pgoff: usize,
}

#[derive(Clone, Debug)]
enum Op {
    MmapFixed {
        page: usize,
        pages: usize,
        prot: u32,
        file: Option<(bool, usize)>,
        shared: bool,
        grows: bool,
    },
    Mmap {
        hint: Option<usize>,
        pages: usize,
        prot: u32,
    },
    Munmap {
        page: usize,
        pages: usize,
    },
    Mprotect {
        page: usize,
        pages: usize,
        prot: u32,
    },
    Mlock {
        page: usize,
        pages: usize,
        on: bool,
    },
    Brk {
        page: usize,
        byte: usize,
    },
    ExpandStack {
        page: usize,
    },
    /// `mlockall(flags)`, or `munlockall` for 0.
    MlockAll {
        flags: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let page = 0..PAGES;
    let pages = 1..12usize;
    prop_oneof![
        3 => (page.clone(), pages.clone(), 0..8u32, proptest::option::of((any::<bool>(), 0..6usize)), any::<bool>(),
              prop::bool::weighted(0.2))
            .prop_map(|(page, pages, prot, file, shared, grows)| Op::MmapFixed { page, pages, prot, file, shared, grows }),
        1 => (proptest::option::of(page.clone()), pages.clone(), 0..8u32)
            .prop_map(|(hint, pages, prot)| Op::Mmap { hint, pages, prot }),
        2 => (page.clone(), pages.clone()).prop_map(|(page, pages)| Op::Munmap { page, pages }),
        3 => (page.clone(), pages.clone(), 0..8u32).prop_map(|(page, pages, prot)| Op::Mprotect { page, pages, prot }),
        2 => (page.clone(), pages.clone(), any::<bool>()).prop_map(|(page, pages, on)| Op::Mlock { page, pages, on }),
        2 => (page.clone(), 0..P).prop_map(|(page, byte)| Op::Brk { page, byte }),
        1 => page.prop_map(|page| Op::ExpandStack { page }),
        1 => (0..4u32).prop_map(|flags| Op::MlockAll { flags }),
    ]
}

/// The model: which page holds what, and the break.
struct Model {
    pages: BTreeMap<usize, Page>,
    start_brk: usize,
    brk: usize,
    def_flags: VmFlags,
}

fn addr(page: usize) -> usize {
    BASE + page * P
}

impl Model {
    fn free(&self, from: usize, to: usize) -> bool {
        self.pages.range(from / P..to / P).next().is_none()
    }

    /// A mapping at `[a, a + len)` is possible: free, and not in the
    /// guard gap below a stack.
    fn fits(&self, a: usize, len: usize) -> bool {
        self.free(a, a + len)
            && match self.pages.range((a + len) / P..).next() {
                Some((&q, p)) if p.flags.contains(VmFlags::GROWSDOWN) => q * P >= a + len + GAP,
                _ => true,
            }
    }

    fn map(&mut self, a: usize, len: usize, flags: VmFlags, kind: VmaKind, pgoff: usize) {
        for i in 0..len / P {
            self.pages.insert(a / P + i, Page { flags, kind, pgoff: pgoff + i });
        }
    }

    fn unmap(&mut self, a: usize, len: usize) {
        for i in a / P..(a + len) / P {
            self.pages.remove(&i);
        }
    }

    fn mmap(
        &mut self,
        a: usize,
        len: usize,
        prot: u32,
        file: Option<(FileRef, usize)>,
        shared: bool,
        grows: bool,
    ) -> Result<usize, Errno> {
        let mut flags = VmFlags::from_bits_truncate(prot)
            | VmFlags::MAYREAD
            | VmFlags::MAYWRITE
            | VmFlags::MAYEXEC
            | self.def_flags;
        if grows {
            flags |= VmFlags::GROWSDOWN;
        }
        if let (Some((f, _)), true) = (file, shared) {
            if prot & PROT_WRITE != 0 && !f.writable {
                return Err(Errno::EACCES);
            }
            flags |= VmFlags::MAYSHARE;
            if f.writable {
                flags |= VmFlags::SHARED;
            } else {
                flags -= VmFlags::MAYWRITE;
            }
        }
        if flags.intersects(VmFlags::SHARED | VmFlags::WRITE) {
            flags |= VmFlags::ACCOUNT;
        }
        let (kind, pgoff) = match file {
            Some((f, pgoff)) => (VmaKind::File(f), pgoff),
            None => (VmaKind::Anonymous, a / P),
        };
        self.unmap(a, len);
        self.map(a, len, flags, kind, pgoff);
        Ok(a)
    }

    /// Applies `f` page by page from `a` as Linux's loops do, stopping at
    /// a hole (`ENOMEM`) or where `f` refuses (its error).
    fn walk(&mut self, a: usize, len: usize, f: impl Fn(&Page) -> Result<Page, Errno>) -> Result<(), Errno> {
        for i in a / P..(a + len) / P {
            let p = self.pages.get(&i).ok_or(Errno::ENOMEM)?;
            let n = f(p)?;
            self.pages.insert(i, n);
        }
        Ok(())
    }

    fn brk(&mut self, newbrk: usize) -> usize {
        let align = |x: usize| x.div_ceil(P) * P;
        if newbrk < self.start_brk {
            return self.brk;
        }
        let (new_top, old_top) = (align(newbrk), align(self.brk));
        if new_top < old_top {
            self.unmap(new_top, old_top - new_top);
        } else if new_top > old_top {
            if !self.free(old_top, new_top + P) {
                return self.brk;
            }
            let flags = VmFlags::DATA_DEFAULT | VmFlags::ACCOUNT | self.def_flags;
            self.map(old_top, new_top - old_top, flags, VmaKind::Anonymous, old_top / P);
        }
        self.brk = newbrk;
        self.brk
    }

    fn expand_stack(&mut self, a: usize) -> Result<(), Errno> {
        if self.pages.contains_key(&(a / P)) {
            return Ok(());
        }
        let (&q, &top) = self.pages.range(a / P..).next().ok_or(Errno::EFAULT)?;
        if !top.flags.contains(VmFlags::GROWSDOWN) {
            return Err(Errno::EFAULT);
        }
        if let Some((&p, below)) = self.pages.range(..a / P).next_back() {
            let guarded = !below.flags.contains(VmFlags::GROWSDOWN) && below.flags.intersects(VmFlags::RWX);
            if guarded && a - (p + 1) * P < GAP {
                return Err(Errno::ENOMEM);
            }
        }
        for i in a / P..q {
            self.pages.insert(i, Page { pgoff: top.pgoff.wrapping_sub(q - i), ..top });
        }
        Ok(())
    }
}

/// The model's `get_unmapped_area`: the hint if it fits, else the highest
/// fitting address below `mmap_base`, found by trying every page.
fn model_area(m: &Model, hint: Option<usize>, len: usize) -> usize {
    if let Some(h) = hint.map(addr).filter(|&h| m.fits(h, len)) {
        return h;
    }
    (len / P..).map(|k| addr(PAGES) - k * P).find(|&a| m.fits(a, len)).unwrap()
}

/// What `vma_merge` merges, restated here so that a fault in
/// `Vma::can_merge` cannot hide itself.
fn mergeable(a: &Vma, b: &Vma) -> bool {
    a.end == b.start
        && a.flags == b.flags
        && !a.flags.intersects(VmFlags::IO | VmFlags::DONTEXPAND | VmFlags::RESERVED | VmFlags::PFNMAP)
        && a.kind == b.kind
        && a.pgoff.wrapping_add((a.end - a.start) / P) == b.pgoff
}

fn check(s: &VmaSet<FailNth>, m: &Model) -> Result<(), TestCaseError> {
    let v: Vec<Vma> = s.iter().copied().collect();
    for w in &v {
        prop_assert!(w.start < w.end && w.start % P == 0 && w.end % P == 0 && w.end <= TASK_SIZE, "{:x?}", w);
    }
    for pair in v.windows(2) {
        prop_assert!(pair[0].end <= pair[1].start, "overlap or disorder: {:x?}", pair);
        prop_assert!(!mergeable(&pair[0], &pair[1]), "left unmerged: {:x?}", pair);
    }
    let mut pages = BTreeMap::new();
    for w in &v {
        for i in 0..w.pages() {
            pages.insert(w.start / P + i, Page { flags: w.flags, kind: w.kind, pgoff: w.pgoff.wrapping_add(i) });
        }
    }
    prop_assert_eq!(&pages, &m.pages);
    prop_assert_eq!(s.total_vm(), m.pages.len());
    prop_assert_eq!(s.locked_vm(), m.pages.values().filter(|p| p.flags.contains(VmFlags::LOCKED)).count());
    prop_assert_eq!(s.brk, m.brk);
    prop_assert_eq!(s.def_flags, m.def_flags);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn vma_set_matches_a_page_model(ops in proptest::collection::vec(op(), 1..60)) {
        let inf = Rlimits::INFINITE;
        let objects = FailNth::default();
        let mut s = VmaSet::new_in(Rlimits::DEFAULT.stack, objects.clone());
        s.mmap_base = addr(PAGES);
        s.stack_guard_gap = GAP;
        s.start_brk = addr(8);
        s.brk = s.start_brk;
        let mut m = Model { pages: BTreeMap::new(), start_brk: s.start_brk, brk: s.brk, def_flags: VmFlags::empty() };
        for op in ops {
            match op {
                Op::MmapFixed { page, pages, prot, file, shared, grows } => {
                    let f = file.map(|(rw, off)| (if rw { RW_FILE } else { RO_FILE }, off));
                    let mut flags = MAP_FIXED | if shared && f.is_some() { MAP_SHARED } else { MAP_PRIVATE };
                    if f.is_none() {
                        flags |= MAP_ANONYMOUS;
                    }
                    if grows {
                        flags |= MAP_GROWSDOWN;
                    }
                    let (a, len) = (addr(page), pages * P);
                    let got = s.mmap(a, len, prot, flags, f.map(|f| f.0), f.map_or(0, |f| f.1), &inf);
                    let want = m.mmap(a, len, prot, f, shared, grows);
                    prop_assert_eq!(got, want);
                }
                Op::Mmap { hint, pages, prot } => {
                    let len = pages * P;
                    let a = model_area(&m, hint, len);
                    let got = s.mmap(hint.map_or(0, addr), len, prot, MAP_PRIVATE | MAP_ANONYMOUS, None, 0, &inf);
                    prop_assert_eq!(got, m.mmap(a, len, prot, None, false, false));
                }
                Op::Munmap { page, pages } => {
                    prop_assert_eq!(s.munmap(addr(page), pages * P), Ok(()));
                    m.unmap(addr(page), pages * P);
                }
                Op::Mprotect { page, pages, prot } => {
                    let rwx = VmFlags::from_bits_truncate(prot);
                    let want = m.walk(addr(page), pages * P, |p| {
                        let mut flags = rwx | (p.flags - VmFlags::RWX);
                        if !(rwx - VmFlags::from_bits_truncate(p.flags.bits() >> 4)).is_empty() {
                            return Err(Errno::EACCES);
                        }
                        if flags.contains(VmFlags::WRITE) && !p.flags.intersects(VmFlags::ACCOUNT | VmFlags::WRITE | VmFlags::SHARED) {
                            flags |= VmFlags::ACCOUNT;
                        }
                        Ok(Page { flags, ..*p })
                    });
                    prop_assert_eq!(s.mprotect(addr(page), pages * P, prot), want);
                }
                Op::Mlock { page, pages, on } => {
                    let want = m.walk(addr(page), pages * P, |p| {
                        let flags = if on { p.flags | VmFlags::LOCKED } else { p.flags - VmFlags::LOCKED };
                        Ok(Page { flags, ..*p })
                    });
                    let got = if on { s.mlock(addr(page), pages * P, &inf) } else { s.munlock(addr(page), pages * P) };
                    prop_assert_eq!(got, want);
                }
                Op::Brk { page, byte } => {
                    let newbrk = addr(page) + byte;
                    prop_assert_eq!(s.brk(newbrk, &inf), m.brk(newbrk));
                }
                Op::MlockAll { flags } => {
                    if flags == 0 {
                        prop_assert_eq!(s.munlockall(), Ok(()));
                    } else {
                        prop_assert_eq!(s.mlockall(flags, &inf), Ok(()));
                    }
                    m.def_flags = if flags & MCL_FUTURE != 0 { VmFlags::LOCKED } else { VmFlags::empty() };
                    if flags != MCL_FUTURE {
                        for p in m.pages.values_mut() {
                            p.flags.set(VmFlags::LOCKED, flags & MCL_CURRENT != 0);
                        }
                    }
                }
                Op::ExpandStack { page } => {
                    let a = addr(page) + 0x123;
                    prop_assert_eq!(s.expand_stack(a, &inf), m.expand_stack(a));
                }
            }
            check(&s, &m)?;
            prop_assert_eq!(objects.live(), s.len(), "one object per area");
        }
    }
}
