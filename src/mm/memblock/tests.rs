//! Host tests of `mm::memblock`.

use super::*;
use crate::kernel::e820::Region;
use proptest::prelude::*;

const MB: u64 = 1 << 20;
const LOWMEM_LIMIT: u64 = 896 * MB;

fn rg(base: u64, end: u64) -> Range {
    Range { base, end }
}

fn free_ranges(mb: &Memblock, lo: u64, hi: u64) -> Vec<Range> {
    let mut v = Vec::new();
    mb.for_each_free_range(lo, hi, |b, e| v.push(rg(b, e)));
    v
}

/// QEMU -m 2G, with the reservations the kernel makes at boot.
fn qemu_2g() -> Memblock {
    let (u, r) = (MemType::Usable, MemType::Reserved);
    let e820 = [(0, 0x9fc00, u), (0x9fc00, 0xa0000, r), (0xf0000, 0x100000, r)];
    let e820 = [e820[0], e820[1], e820[2], (0x100000, 0x7ffe0000, u), (0x7ffe0000, 1 << 31, r)];
    let map = MemMap::sanitize(&e820.map(|(start, end, kind)| Region { start, end, kind }));
    let mut mb = Memblock::new();
    mb.add_map(&map).unwrap();
    mb.reserve(0, 0x1000).unwrap(); // first page: real-mode IVT, BIOS data
    mb.reserve(0xa0000, 0x60000).unwrap(); // VGA and BIOS hole
    mb.reserve(0x100000, 0x200000).unwrap(); // kernel image
    mb.reserve(0x300000, 0x1000).unwrap(); // multiboot information
    mb
}

#[test]
fn map_becomes_memory_and_reservations_merge() {
    let mb = qemu_2g();
    assert_eq!(mb.memory(), &[rg(0, 0x9fc00), rg(0x100000, 0x7ffe0000)]);
    // Kernel image and multiboot info touch: one range.
    assert_eq!(mb.reserved(), &[rg(0, 0x1000), rg(0xa0000, 0x301000)]);
    assert_eq!(mb.total_memory(), 0x9fc00 + 0x7fee0000);
    assert_eq!(mb.total_reserved(), 0x1000 + 0x261000);
    assert!(mb.is_reserved(0) && mb.is_reserved(0x300fff) && !mb.is_reserved(0x301000));
}

#[test]
fn free_ranges_are_page_aligned_memory_minus_reserved() {
    let mb = qemu_2g();
    // 0x9fc00 is rounded down to the page: the buddy allocator never
    // gets the partial page below the EBDA.
    assert_eq!(free_ranges(&mb, 0, u64::MAX), vec![rg(0x1000, 0x9f000), rg(0x301000, 0x7ffe0000)]);
    assert_eq!(free_ranges(&mb, 0x2000, 0x400800), vec![rg(0x2000, 0x9f000), rg(0x301000, 0x400000)]);
}

#[test]
fn overlapping_and_adjacent_reservations() {
    let mut mb = Memblock::new();
    mb.add_memory(0, 64 * MB).unwrap();
    mb.reserve(0x5000, 0x1000).unwrap();
    mb.reserve(0x3000, 0x1000).unwrap();
    mb.reserve(0x4000, 0x1000).unwrap(); // fills the gap: all three merge
    assert_eq!(mb.reserved(), &[rg(0x3000, 0x6000)]);
    mb.reserve(0x2800, 0x4000).unwrap(); // overlaps both ends
    assert_eq!(mb.reserved(), &[rg(0x2800, 0x6800)]);
    mb.free(0x4000, 0x1000).unwrap(); // splits
    assert_eq!(mb.reserved(), &[rg(0x2800, 0x4000), rg(0x5000, 0x6800)]);
    mb.free(0, 64 * MB).unwrap();
    assert_eq!(mb.reserved(), &[]);
}

#[test]
fn alloc_is_top_down_below_the_limit_and_aligned() {
    let mut mb = qemu_2g();
    let a = mb.alloc(0x3000, 0x1000, LOWMEM_LIMIT).unwrap();
    assert_eq!(a, LOWMEM_LIMIT - 0x3000);
    let b = mb.alloc(0x100, 0x400000, LOWMEM_LIMIT).unwrap();
    assert_eq!(b, LOWMEM_LIMIT - 0x400000);
    let c = mb.alloc(0x1000, 0x1000, LOWMEM_LIMIT).unwrap();
    assert_eq!(c, a - 0x1000, "fills the gap just below the first allocation");
    assert!(mb.is_reserved(a) && mb.is_reserved(b + 0xff) && !mb.is_reserved(b + 0x100));
    let top = mb.alloc(0x1000, 0x1000, ALLOC_ANYWHERE).unwrap();
    assert_eq!(top, 0x7ffdf000);
    mb.free(a, 0x3000).unwrap();
    assert_eq!(mb.alloc(0x3000, 0x1000, LOWMEM_LIMIT), Ok(a), "freed memory is reused");
}

#[test]
fn alloc_skips_reserved_and_too_small_gaps() {
    let mut mb = Memblock::new();
    mb.add_memory(0, 0x10000).unwrap();
    mb.reserve(0xe000, 0x2000).unwrap();
    mb.reserve(0x9000, 0x3000).unwrap();
    // [0xc000, 0xe000) is too small for 0x3000; [0x1000, 0x9000) is not.
    assert_eq!(mb.alloc(0x3000, 0x1000, ALLOC_ANYWHERE), Ok(0x6000));
    // The first page is never handed out.
    assert_eq!(mb.alloc(0x5000, 0x1000, ALLOC_ANYWHERE), Ok(0x1000));
    assert_eq!(mb.alloc(0x1000, 0x1000, ALLOC_ANYWHERE), Ok(0xd000));
    assert_eq!(mb.alloc(0x1000, 0x1000, ALLOC_ANYWHERE), Ok(0xc000));
    assert_eq!(mb.alloc(0x1000, 0x1000, ALLOC_ANYWHERE), Err(MemblockError::NoMemory));
}

#[test]
fn alloc_fails_when_everything_is_reserved() {
    let mut mb = qemu_2g();
    mb.reserve(0, 4 << 30).unwrap();
    let before = mb.reserved().to_vec();
    assert_eq!(mb.alloc(0x1000, 0x1000, ALLOC_ANYWHERE), Err(MemblockError::NoMemory));
    assert_eq!(mb.reserved(), &before[..], "a failed allocation reserves nothing");
    assert_eq!(free_ranges(&mb, 0, u64::MAX), vec![]);
}

#[test]
fn alloc_limit_below_all_memory_fails() {
    let mut mb = Memblock::new();
    mb.add_memory(16 * MB, 16 * MB).unwrap();
    assert_eq!(mb.alloc(0x1000, 0x1000, 16 * MB), Err(MemblockError::NoMemory));
    assert_eq!(mb.alloc(0x1000, 0x1000, 16 * MB + 0x1000), Ok(16 * MB));
}

#[test]
fn bad_requests_are_refused_without_panicking() {
    let mut mb = qemu_2g();
    assert_eq!(mb.alloc(0, 0x1000, ALLOC_ANYWHERE), Err(MemblockError::Invalid));
    assert_eq!(mb.alloc(0x1000, 0, ALLOC_ANYWHERE), Err(MemblockError::Invalid));
    assert_eq!(mb.alloc(0x1000, 0x3000, ALLOC_ANYWHERE), Err(MemblockError::Invalid));
    assert_eq!(mb.alloc(u64::MAX, 0x1000, ALLOC_ANYWHERE), Err(MemblockError::NoMemory));
    assert_eq!(mb.alloc(0x1000, 1 << 63, ALLOC_ANYWHERE), Err(MemblockError::NoMemory));
    let before = mb.reserved().to_vec();
    mb.reserve(0x5000, 0).unwrap();
    assert_eq!(mb.reserved(), &before[..], "zero size changes nothing");
    mb.reserve(u64::MAX - 0x10, 0x1000).unwrap(); // saturates at the top
    assert_eq!(mb.reserved().last(), Some(&rg(u64::MAX - 0x10, u64::MAX)));
    mb.add_memory(u64::MAX - 0x2000, u64::MAX).unwrap();
    mb.for_each_free_range(0, u64::MAX, |_, e| assert!(e <= u64::MAX - 0xfff));
}

#[test]
fn retired_memblock_refuses_changes_but_still_reads() {
    let mut mb = qemu_2g();
    let free = free_ranges(&mb, 0, u64::MAX);
    mb.retire();
    assert!(mb.is_retired());
    assert_eq!(mb.alloc(0x1000, 0x1000, LOWMEM_LIMIT), Err(MemblockError::Retired));
    assert_eq!(mb.reserve(0x400000, 0x1000), Err(MemblockError::Retired));
    assert_eq!(mb.add_memory(0x1_0000_0000, 0x1000), Err(MemblockError::Retired));
    assert_eq!(mb.free(0, 0x1000), Err(MemblockError::Retired));
    assert_eq!(free_ranges(&mb, 0, u64::MAX), free);
    assert_eq!(MemblockError::Retired.to_string(), "memblock used after it was retired");
}

#[test]
fn full_array_fails_and_changes_nothing() {
    let mut mb = Memblock::new();
    mb.add_memory(0, 1 << 30).unwrap();
    for i in 0..MAX_REGIONS as u64 {
        mb.reserve(i * 0x2000, 0x1000).unwrap();
    }
    let before = mb.reserved().to_vec();
    assert_eq!(mb.reserve(0x10_0000_0000, 0x1000), Err(MemblockError::Full));
    // Splitting a range needs room too.
    assert_eq!(mb.free(0x400, 0x100), Err(MemblockError::Full));
    assert_eq!(mb.reserved(), &before[..]);
    // Merging into a neighbour needs none; nor does filling a gap.
    mb.reserve(0x1000, 0x1000).unwrap();
    assert_eq!(mb.reserved().len(), MAX_REGIONS - 1);
    assert_eq!(mb.alloc(0x1000, 0x1000, ALLOC_ANYWHERE), Ok((1 << 30) - 0x1000));
}

/// Pages in the model world; page 0 is never allocated.
const PAGES: usize = 48;
const P: u64 = PAGE_SIZE;

#[derive(Clone, Debug)]
enum Op {
    Add(u64, u64),
    Reserve(u64, u64),
    Free(u64, u64),
    Alloc(u64, u64, u64),
}

fn op() -> impl Strategy<Value = Op> {
    // Ranges stay inside the model world.
    let r = (0..PAGES as u64 - 10, 0..10u64);
    prop_oneof![
        r.clone().prop_map(|(s, l)| Op::Add(s, l)),
        r.clone().prop_map(|(s, l)| Op::Reserve(s, l)),
        r.prop_map(|(s, l)| Op::Free(s, l)),
        (1..6u64, 0..4u32, 1..=PAGES as u64 + 2).prop_map(|(n, a, lim)| Op::Alloc(n, 1 << a, lim)),
    ]
}

fn apply(set: &mut [bool], s: u64, l: u64, v: bool) {
    for p in s..(s + l).min(PAGES as u64) {
        set[p as usize] = v;
    }
}

proptest! {
    /// Against a page-set model: the lists stay sorted, disjoint and merged,
    /// free ranges are exactly memory minus reserved, totals agree, and
    /// every allocation is free, aligned, below its limit and the highest
    /// such place (or there is none when it fails).
    #[test]
    fn matches_page_set_model(ops in proptest::collection::vec(op(), 0..40)) {
        let mut mb = Memblock::new();
        let mut mem = [false; PAGES];
        let mut res = [false; PAGES];
        for o in ops {
            match o {
                Op::Add(s, l) => { mb.add_memory(s * P, l * P).unwrap(); apply(&mut mem, s, l, true); }
                Op::Reserve(s, l) => { mb.reserve(s * P, l * P).unwrap(); apply(&mut res, s, l, true); }
                Op::Free(s, l) => { mb.free(s * P, l * P).unwrap(); apply(&mut res, s, l, false); }
                Op::Alloc(n, a, lim) => {
                    let fits = |p: u64| p >= 1 && p.is_multiple_of(a) && p + n <= lim
                        && (p..p + n).all(|q| (q as usize) < PAGES && mem[q as usize] && !res[q as usize]);
                    let best = (0..PAGES as u64).rev().find(|&p| fits(p));
                    match mb.alloc(n * P, a * P, lim * P) {
                        Ok(addr) => {
                            prop_assert_eq!(Some(addr / P), best);
                            apply(&mut res, addr / P, n, true);
                        }
                        Err(e) => {
                            prop_assert_eq!(e, MemblockError::NoMemory);
                            prop_assert_eq!(best, None);
                        }
                    }
                }
            }
            for list in [mb.memory(), mb.reserved()] {
                for w in list.windows(2) {
                    prop_assert!(w[0].end < w[1].base, "sorted, disjoint, merged: {:?}", list);
                }
                prop_assert!(list.iter().all(|r| !r.is_empty()));
            }
            let mut free = [false; PAGES];
            mb.for_each_free_range(0, u64::MAX, |b, e| apply(&mut free, b / P, (e - b) / P, true));
            for p in 0..PAGES {
                prop_assert_eq!(free[p], mem[p] && !res[p], "page {}", p);
                prop_assert_eq!(mb.is_reserved(p as u64 * P), res[p]);
            }
            prop_assert_eq!(mb.total_memory(), mem.iter().filter(|&&m| m).count() as u64 * P);
            prop_assert_eq!(mb.total_reserved(), res.iter().filter(|&&r| r).count() as u64 * P);
        }
    }
}
