//! The boot allocator (Linux's `mm/memblock.c`, simplified).
//!
//! Between the firmware handing over its memory map and the buddy allocator
//! existing, the kernel still has to allocate: `mem_map` (one descriptor per
//! frame), page tables for the direct map, the log buffer. The buddy allocator
//! cannot do it, because its own bookkeeping lives in that memory. memblock is
//! the answer Linux found: two sorted lists of physical ranges, `memory` (the
//! usable RAM of the map) and `reserved` (what is already taken: the first
//! page, the BIOS/VGA hole, the kernel image, the multiboot information, the
//! modules, and every boot allocation). Free memory is simply `memory` minus
//! `reserved`; allocating means finding a gap and reserving it.
//!
//! Allocations go top-down below a limit the caller gives (the end of lowmem),
//! so that early data lands in the direct map, away from the low memory that
//! DMA-limited devices need. At the end of boot the kernel walks the free
//! ranges, hands every page to the buddy allocator and calls [`Memblock::retire`]:
//! from then on memblock refuses to change, and a late caller gets
//! [`MemblockError::Retired`] to report loudly instead of silently allocating
//! memory the buddy allocator already owns.
//!
//! The lists are fixed arrays (there is no heap yet, that is the point), so a
//! list can be [`MemblockError::Full`]; Linux doubles its arrays instead.

#![forbid(unsafe_code)]

use core::fmt;

use super::memmap::{MemMap, MemType};

/// Ranges each list can hold (Linux starts with 128 as well).
pub const MAX_REGIONS: usize = 128;

const PAGE_SIZE: u64 = 1 << crate::layout::PAGE_SHIFT;

/// `limit` for [`Memblock::alloc`] that accepts any address.
pub const ALLOC_ANYWHERE: u64 = u64::MAX;

/// Why memblock refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemblockError {
    /// A list has no room for another range; nothing was changed.
    Full,
    /// memblock was retired: the buddy allocator owns memory now.
    Retired,
    /// No free range is large enough below the limit.
    NoMemory,
    /// Zero size, or an alignment that is not a power of two.
    Invalid,
}

impl fmt::Display for MemblockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemblockError::Full => "region array full",
            MemblockError::Retired => "memblock used after it was retired",
            MemblockError::NoMemory => "out of boot memory",
            MemblockError::Invalid => "invalid size or alignment",
        })
    }
}

/// A physical range `[base, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub base: u64,
    pub end: u64,
}

impl Range {
    pub fn len(&self) -> u64 {
        self.end - self.base
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.base
    }
}

/// A sorted set of disjoint ranges; touching or overlapping ranges merge.
#[derive(Clone)]
pub struct RegionArray {
    ranges: [Range; MAX_REGIONS],
    len: usize,
}

impl RegionArray {
    pub const fn new() -> RegionArray {
        RegionArray {
            ranges: [Range { base: 0, end: 0 }; MAX_REGIONS],
            len: 0,
        }
    }

    pub fn ranges(&self) -> &[Range] {
        &self.ranges[..self.len]
    }

    /// Sum of the lengths.
    pub fn total(&self) -> u64 {
        self.ranges().iter().map(Range::len).sum()
    }

    pub fn contains(&self, addr: u64) -> bool {
        self.ranges().iter().any(|r| r.base <= addr && addr < r.end)
    }

    /// Whether any byte of `[base, end)` is in the set.
    pub fn overlaps(&self, base: u64, end: u64) -> bool {
        self.ranges().iter().any(|r| r.base < end && base < r.end)
    }

    /// Add `[base, end)`, merging with every range it touches.
    pub fn add(&mut self, base: u64, end: u64) -> Result<(), MemblockError> {
        if base >= end {
            return Ok(());
        }
        // Ranges i..j touch the new one (overlap or adjacency).
        let i = self
            .ranges()
            .iter()
            .position(|r| r.end >= base)
            .unwrap_or(self.len);
        let j = i + self.ranges[i..self.len]
            .iter()
            .take_while(|r| r.base <= end)
            .count();
        let merged = if i < j {
            Range {
                base: base.min(self.ranges[i].base),
                end: end.max(self.ranges[j - 1].end),
            }
        } else {
            Range { base, end }
        };
        self.replace(i, j, &[merged])
    }

    /// Remove `[base, end)`; a range that straddles it is split in two.
    pub fn remove(&mut self, base: u64, end: u64) -> Result<(), MemblockError> {
        if base >= end {
            return Ok(());
        }
        // Ranges i..j overlap the hole.
        let i = self
            .ranges()
            .iter()
            .position(|r| r.end > base)
            .unwrap_or(self.len);
        let j = i + self.ranges[i..self.len]
            .iter()
            .take_while(|r| r.base < end)
            .count();
        if i == j {
            return Ok(());
        }
        let mut keep = [Range { base: 0, end: 0 }; 2];
        let mut n = 0;
        if self.ranges[i].base < base {
            keep[n] = Range {
                base: self.ranges[i].base,
                end: base,
            };
            n += 1;
        }
        if self.ranges[j - 1].end > end {
            keep[n] = Range {
                base: end,
                end: self.ranges[j - 1].end,
            };
            n += 1;
        }
        self.replace(i, j, &keep[..n])
    }

    /// Replace `ranges[i..j]` by `with`, or change nothing and fail if it does not fit.
    fn replace(&mut self, i: usize, j: usize, with: &[Range]) -> Result<(), MemblockError> {
        let new_len = self.len - (j - i) + with.len();
        if new_len > MAX_REGIONS {
            return Err(MemblockError::Full);
        }
        self.ranges.copy_within(j..self.len, i + with.len());
        self.ranges[i..i + with.len()].copy_from_slice(with);
        self.len = new_len;
        Ok(())
    }
}

impl Default for RegionArray {
    fn default() -> Self {
        Self::new()
    }
}

/// The boot allocator: usable memory, what of it is taken, and whether the
/// buddy allocator has taken over.
#[derive(Clone)]
pub struct Memblock {
    memory: RegionArray,
    reserved: RegionArray,
    retired: bool,
}

impl Memblock {
    pub const fn new() -> Memblock {
        Memblock {
            memory: RegionArray::new(),
            reserved: RegionArray::new(),
            retired: false,
        }
    }

    fn check_live(&self) -> Result<(), MemblockError> {
        if self.retired {
            Err(MemblockError::Retired)
        } else {
            Ok(())
        }
    }

    /// Register usable RAM. A range running past the top of the address
    /// space is cut there; a zero size does nothing.
    pub fn add_memory(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        self.check_live()?;
        self.memory.add(base, base.saturating_add(size))
    }

    /// Register every usable range of the firmware map (stops at the first error).
    pub fn add_map(&mut self, map: &MemMap) -> Result<(), MemblockError> {
        for r in map.entries().iter().filter(|r| r.kind == MemType::Usable) {
            self.add_memory(r.start, r.len())?;
        }
        Ok(())
    }

    /// Mark a range as taken. It may overlap earlier reservations or lie
    /// outside memory (reserving the BIOS hole is harmless).
    pub fn reserve(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        self.check_live()?;
        self.reserved.add(base, base.saturating_add(size))
    }

    /// Give a reserved range back.
    pub fn free(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        self.check_live()?;
        self.reserved.remove(base, base.saturating_add(size))
    }

    /// Allocate and reserve `size` bytes aligned to `align`, entirely below
    /// `limit`, at the highest address that fits. Never returns the first
    /// page, so a valid allocation is never address 0.
    pub fn alloc(&mut self, size: u64, align: u64, limit: u64) -> Result<u64, MemblockError> {
        self.check_live()?;
        if size == 0 || !align.is_power_of_two() {
            return Err(MemblockError::Invalid);
        }
        let mut found = None;
        self.walk_free(true, |base, end| {
            let end = end.min(limit);
            let base = base.max(PAGE_SIZE);
            if end < size {
                return true;
            }
            let cand = (end - size) & !(align - 1);
            if cand >= base {
                found = Some(cand);
                return false;
            }
            true
        });
        let addr = found.ok_or(MemblockError::NoMemory)?;
        self.reserved.add(addr, addr + size)?;
        Ok(addr)
    }

    pub fn is_reserved(&self, addr: u64) -> bool {
        self.reserved.contains(addr)
    }

    pub fn is_memory(&self, addr: u64) -> bool {
        self.memory.contains(addr)
    }

    /// Hand over to the buddy allocator: every later change fails with
    /// [`MemblockError::Retired`]. Reading (free ranges, totals) still works.
    pub fn retire(&mut self) {
        self.retired = true;
    }

    pub fn is_retired(&self) -> bool {
        self.retired
    }

    /// Bytes of usable memory registered.
    pub fn total_memory(&self) -> u64 {
        self.memory.total()
    }

    /// Bytes reserved, including reservations outside memory.
    pub fn total_reserved(&self) -> u64 {
        self.reserved.total()
    }

    pub fn memory(&self) -> &[Range] {
        self.memory.ranges()
    }

    pub fn reserved(&self) -> &[Range] {
        self.reserved.ranges()
    }

    /// Call `f(base, end)` for every free range within `[lo, hi)`, in
    /// ascending order, shrunk to whole pages (start rounded up, end down):
    /// exactly the pages the buddy allocator may take.
    pub fn for_each_free_range(&self, lo: u64, hi: u64, mut f: impl FnMut(u64, u64)) {
        self.walk_free(false, |base, end| {
            let base = round_up(base.max(lo), PAGE_SIZE);
            let end = end.min(hi) & !(PAGE_SIZE - 1);
            if base < end {
                f(base, end);
            }
            true
        });
    }

    /// Every maximal range of memory not reserved, ascending or descending;
    /// `f` returns false to stop.
    fn walk_free(&self, descending: bool, mut f: impl FnMut(u64, u64) -> bool) {
        let res = self.reserved.ranges();
        let n = self.memory.len;
        for k in 0..n {
            let m = self.memory.ranges[if descending { n - 1 - k } else { k }];
            let over = res.iter().filter(|r| r.base < m.end && m.base < r.end);
            if descending {
                let mut cursor = m.end;
                for r in over.rev() {
                    if r.end < cursor && !f(r.end, cursor) {
                        return;
                    }
                    cursor = cursor.min(r.base);
                }
                if m.base < cursor && !f(m.base, cursor) {
                    return;
                }
            } else {
                let mut cursor = m.base;
                for r in over {
                    if cursor < r.base && !f(cursor, r.base) {
                        return;
                    }
                    cursor = cursor.max(r.end);
                }
                if cursor < m.end && !f(cursor, m.end) {
                    return;
                }
            }
        }
    }
}

impl Default for Memblock {
    fn default() -> Self {
        Self::new()
    }
}

/// Round up to a power-of-two boundary, saturating at the last boundary.
fn round_up(x: u64, align: u64) -> u64 {
    match x.checked_add(align - 1) {
        Some(v) => v & !(align - 1),
        None => x & !(align - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::memmap::Region;
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
        let e820 = [
            (0, 0x9fc00, u),
            (0x9fc00, 0xa0000, r),
            (0xf0000, 0x100000, r),
        ];
        let e820 = [
            e820[0],
            e820[1],
            e820[2],
            (0x100000, 0x7ffe0000, u),
            (0x7ffe0000, 1 << 31, r),
        ];
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
        assert_eq!(
            free_ranges(&mb, 0, u64::MAX),
            vec![rg(0x1000, 0x9f000), rg(0x301000, 0x7ffe0000)]
        );
        assert_eq!(
            free_ranges(&mb, 0x2000, 0x400800),
            vec![rg(0x2000, 0x9f000), rg(0x301000, 0x400000)]
        );
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
        assert_eq!(
            c,
            a - 0x1000,
            "fills the gap just below the first allocation"
        );
        assert!(mb.is_reserved(a) && mb.is_reserved(b + 0xff) && !mb.is_reserved(b + 0x100));
        let top = mb.alloc(0x1000, 0x1000, ALLOC_ANYWHERE).unwrap();
        assert_eq!(top, 0x7ffdf000);
        mb.free(a, 0x3000).unwrap();
        assert_eq!(
            mb.alloc(0x3000, 0x1000, LOWMEM_LIMIT),
            Ok(a),
            "freed memory is reused"
        );
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
        assert_eq!(
            mb.alloc(0x1000, 0x1000, ALLOC_ANYWHERE),
            Err(MemblockError::NoMemory)
        );
    }

    #[test]
    fn alloc_fails_when_everything_is_reserved() {
        let mut mb = qemu_2g();
        mb.reserve(0, 4 << 30).unwrap();
        let before = mb.reserved().to_vec();
        assert_eq!(
            mb.alloc(0x1000, 0x1000, ALLOC_ANYWHERE),
            Err(MemblockError::NoMemory)
        );
        assert_eq!(
            mb.reserved(),
            &before[..],
            "a failed allocation reserves nothing"
        );
        assert_eq!(free_ranges(&mb, 0, u64::MAX), vec![]);
    }

    #[test]
    fn alloc_limit_below_all_memory_fails() {
        let mut mb = Memblock::new();
        mb.add_memory(16 * MB, 16 * MB).unwrap();
        assert_eq!(
            mb.alloc(0x1000, 0x1000, 16 * MB),
            Err(MemblockError::NoMemory)
        );
        assert_eq!(mb.alloc(0x1000, 0x1000, 16 * MB + 0x1000), Ok(16 * MB));
    }

    #[test]
    fn bad_requests_are_refused_without_panicking() {
        let mut mb = qemu_2g();
        assert_eq!(
            mb.alloc(0, 0x1000, ALLOC_ANYWHERE),
            Err(MemblockError::Invalid)
        );
        assert_eq!(
            mb.alloc(0x1000, 0, ALLOC_ANYWHERE),
            Err(MemblockError::Invalid)
        );
        assert_eq!(
            mb.alloc(0x1000, 0x3000, ALLOC_ANYWHERE),
            Err(MemblockError::Invalid)
        );
        assert_eq!(
            mb.alloc(u64::MAX, 0x1000, ALLOC_ANYWHERE),
            Err(MemblockError::NoMemory)
        );
        assert_eq!(
            mb.alloc(0x1000, 1 << 63, ALLOC_ANYWHERE),
            Err(MemblockError::NoMemory)
        );
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
        assert_eq!(
            mb.alloc(0x1000, 0x1000, LOWMEM_LIMIT),
            Err(MemblockError::Retired)
        );
        assert_eq!(mb.reserve(0x400000, 0x1000), Err(MemblockError::Retired));
        assert_eq!(
            mb.add_memory(0x1_0000_0000, 0x1000),
            Err(MemblockError::Retired)
        );
        assert_eq!(mb.free(0, 0x1000), Err(MemblockError::Retired));
        assert_eq!(free_ranges(&mb, 0, u64::MAX), free);
        assert_eq!(
            MemblockError::Retired.to_string(),
            "memblock used after it was retired"
        );
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
        assert_eq!(
            mb.alloc(0x1000, 0x1000, ALLOC_ANYWHERE),
            Ok((1 << 30) - 0x1000)
        );
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
            (1..6u64, 0..4u32, 1..=PAGES as u64 + 2).prop_map(|(n, a, lim)| Op::Alloc(
                n,
                1 << a,
                lim
            )),
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
}
