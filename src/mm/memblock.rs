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

use crate::kernel::e820::{MemMap, MemType};

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
        RegionArray { ranges: [Range { base: 0, end: 0 }; MAX_REGIONS], len: 0 }
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
        let i = self.ranges().iter().position(|r| r.end >= base).unwrap_or(self.len);
        let j = i + self.ranges[i..self.len].iter().take_while(|r| r.base <= end).count();
        let merged = if i < j {
            Range { base: base.min(self.ranges[i].base), end: end.max(self.ranges[j - 1].end) }
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
        let i = self.ranges().iter().position(|r| r.end > base).unwrap_or(self.len);
        let j = i + self.ranges[i..self.len].iter().take_while(|r| r.base < end).count();
        if i == j {
            return Ok(());
        }
        let mut keep = [Range { base: 0, end: 0 }; 2];
        let mut n = 0;
        if self.ranges[i].base < base {
            keep[n] = Range { base: self.ranges[i].base, end: base };
            n += 1;
        }
        if self.ranges[j - 1].end > end {
            keep[n] = Range { base: end, end: self.ranges[j - 1].end };
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

/// The boot allocator of this machine, from `mm_init` until it hands every
/// unreserved page to the buddy allocator and retires it.
#[cfg(target_os = "none")]
pub(super) static MEMBLOCK: crate::kernel::sync::IrqLock<Memblock> = crate::kernel::sync::IrqLock::new(Memblock::new());

/// An allocation from the boot allocator. After the buddy allocator takes
/// over this is a bug: it is reported with a backtrace and refused.
#[cfg(target_os = "none")]
#[track_caller]
pub fn memblock_alloc(size: u64, align: u64, limit: u64) -> Option<u64> {
    let mut mb = MEMBLOCK.lock();
    if mb.is_retired() {
        drop(mb);
        let loc = core::panic::Location::caller();
        crate::kernel::panic::warn(format_args!(
            "BUG: memblock_alloc({:#x}) at {}:{} after the boot allocator was retired",
            size,
            loc.file(),
            loc.line()
        ));
        return None;
    }
    mb.alloc(size, align, limit).ok()
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
        Memblock { memory: RegionArray::new(), reserved: RegionArray::new(), retired: false }
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
mod tests;
