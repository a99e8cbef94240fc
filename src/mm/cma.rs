//! The Contiguous Memory Allocator (Linux 3.5's `drivers/base/dma-contiguous.c`,
//! later `mm/cma.c`): a region of lowmem, reserved from memblock at boot
//! (`cma=SIZE[@START]`), that the buddy allocator lends to movable
//! allocations while nobody needs it contiguous: its pageblocks are
//! `MIGRATE_CMA`, which only movable allocations may take. `cma_alloc`
//! takes a run of it back in one piece: `alloc_contig_range`
//! (`page_isolation`) isolates the run's pageblocks, migrates what movable
//! users hold there, and hands the run over. A bitmap, one bit per page,
//! records which pages `cma_alloc` handed out.
//!
//! Placement follows Linux's x86_32 `dma_contiguous_reserve`: without START
//! the region goes top-down below the lowmem limit (a device driver wants a
//! kernel address, and `dma_alloc_coherent` returns one), both ends on a
//! pageblock (4 MB; Linux aligns to the larger of a pageblock and a
//! MAX_ORDER block, the same here). With START, START must be aligned and
//! the range RAM in lowmem that nothing has reserved. Whatever is wrong is
//! said, naming the value, and the kernel boots without a region.
//!
//! What is pure (placement, the bitmap search) is tested on the host; the
//! region itself and `cma_alloc`/`cma_release` are the kernel's.

use super::buddy::{PAGEBLOCK_ORDER, PAGEBLOCK_PAGES};
use super::memblock::Memblock;
use super::zones::ZoneLayout;
use crate::kernel::cmdline::CmaOption;
use core::fmt;

const PAGE_SHIFT: u32 = 12;
/// The region's alignment in bytes: one pageblock, which is also the
/// largest buddy block (Linux: `PAGE_SIZE << max(MAX_ORDER - 1, pageblock_order)`).
pub const CMA_REGION_ALIGN: u64 = (PAGEBLOCK_PAGES as u64) << PAGE_SHIFT;
/// Linux's `CONFIG_CMA_ALIGNMENT` default: a `dma_alloc_coherent` block is
/// aligned to its own order, but to no more than 2^8 pages (1 MB).
pub const CMA_ALIGNMENT: usize = 8;

/// Where the region lies, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmaRegion {
    pub base: u64,
    pub size: u64,
}

impl CmaRegion {
    pub fn base_pfn(&self) -> u32 {
        (self.base >> PAGE_SHIFT) as u32
    }
    pub fn pages(&self) -> u32 {
        (self.size >> PAGE_SHIFT) as u32
    }
    pub fn end_pfn(&self) -> u32 {
        self.base_pfn() + self.pages()
    }
}

/// Why `cma=` gave no region; the message names the value and says the
/// kernel goes on without one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmaReserveError {
    /// More than half of lowmem: the kernel needs the rest for itself.
    TooLarge { size: u64, lowmem: u64 },
    /// `@START` not on a pageblock (Linux refuses it too).
    Unaligned { base: u64 },
    /// Not entirely below the lowmem limit.
    AboveLowmem { base: u64, end: u64, limit: u64 },
    /// Not entirely RAM.
    NotRam { base: u64, end: u64 },
    /// Overlaps what boot reserved already: the kernel image, the boot
    /// modules, the firmware's pages.
    Busy { base: u64, end: u64 },
    /// No free lowmem range that large and aligned (Linux's words).
    NoRoom { size: u64 },
    /// A pageblock of it would lie in two zones.
    ZoneBoundary { base: u64, end: u64 },
}

const MIB: u64 = 1 << 20;

impl fmt::Display for CmaReserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CmaReserveError::*;
        match *self {
            TooLarge { size, lowmem } => write!(
                f,
                "cma: {} MiB is more than half of lowmem ({} MiB), which the kernel needs for itself",
                size / MIB,
                lowmem / MIB
            ),
            Unaligned { base } => {
                write!(f, "cma: Region at {:#010x} must be aligned to {:#x} bytes (a pageblock)", base, CMA_REGION_ALIGN)
            }
            AboveLowmem { base, end, limit } => write!(
                f,
                "cma: [mem {:#010x}-{:#010x}] is not below the lowmem limit {:#010x} (dma_alloc_coherent needs a kernel address)",
                base,
                end - 1,
                limit
            ),
            NotRam { base, end } => write!(f, "cma: [mem {:#010x}-{:#010x}] is not all RAM", base, end - 1),
            Busy { base, end } => write!(
                f,
                "cma: [mem {:#010x}-{:#010x}] overlaps memory reserved at boot (kernel image, boot modules or firmware)",
                base,
                end - 1
            ),
            NoRoom { size } => write!(f, "cma: Failed to reserve {} MiB: no free lowmem range that large", size / MIB),
            ZoneBoundary { base, end } => write!(
                f,
                "cma: [mem {:#010x}-{:#010x}] puts a pageblock in two zones; it must not cross a zone boundary",
                base,
                end - 1
            ),
        }?;
        f.write_str("; booting without a CMA area")
    }
}

/// What boot reserved: the region, and the size asked for when it had to
/// be rounded up to whole pageblocks (Linux rounds silently; here it is said).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmaReserved {
    pub region: CmaRegion,
    pub asked: Option<u64>,
}

/// Reserve the region `cma=` asks for from memblock (Linux's
/// `dma_contiguous_reserve` and `cma_declare_contiguous`), below
/// `layout.max_low_pfn`. Call it before the boot page tables and `mem_map`
/// are allocated, so that they go below it. `Ok(None)` for `cma=0`.
pub fn cma_reserve(
    opt: CmaOption,
    mb: &mut Memblock,
    layout: &ZoneLayout,
) -> Result<Option<CmaReserved>, CmaReserveError> {
    if opt.size == 0 {
        return Ok(None);
    }
    let limit = layout.max_low_pfn << PAGE_SHIFT;
    let size = opt.size.checked_next_multiple_of(CMA_REGION_ALIGN).unwrap_or(u64::MAX);
    let lowmem: u64 = mb.memory().iter().map(|r| r.end.min(limit).saturating_sub(r.base)).sum();
    if size > lowmem / 2 {
        return Err(CmaReserveError::TooLarge { size: opt.size, lowmem });
    }
    let base = match opt.base {
        Some(base) => {
            if !base.is_multiple_of(CMA_REGION_ALIGN) {
                return Err(CmaReserveError::Unaligned { base });
            }
            let end = base.saturating_add(size);
            if end > limit {
                return Err(CmaReserveError::AboveLowmem { base, end, limit });
            }
            if !mb.memory().iter().any(|r| r.base <= base && end <= r.end) {
                return Err(CmaReserveError::NotRam { base, end });
            }
            if mb.reserved().iter().any(|r| r.base < end && base < r.end) {
                return Err(CmaReserveError::Busy { base, end });
            }
            zone_check(layout, base, end)?;
            mb.reserve(base, size).map_err(|_| CmaReserveError::Busy { base, end })?;
            base
        }
        None => {
            let base = mb.alloc(size, CMA_REGION_ALIGN, limit).map_err(|_| CmaReserveError::NoRoom { size })?;
            if let Err(e) = zone_check(layout, base, base + size) {
                let _ = mb.free(base, size);
                return Err(e);
            }
            base
        }
    };
    let asked = (size != opt.size).then_some(opt.size);
    Ok(Some(CmaReserved { region: CmaRegion { base, size }, asked }))
}

/// Every pageblock of `[base, end)` lies in one zone
/// (`init_cma_reserved_pageblock` hands each to one zone).
fn zone_check(layout: &ZoneLayout, base: u64, end: u64) -> Result<(), CmaReserveError> {
    let mut pfn = base >> PAGE_SHIFT;
    while pfn < end >> PAGE_SHIFT {
        if layout.zone_at(pfn) != layout.zone_at(pfn + PAGEBLOCK_PAGES as u64 - 1) {
            return Err(CmaReserveError::ZoneBoundary { base, end });
        }
        pfn += PAGEBLOCK_PAGES as u64;
    }
    Ok(())
}

// The bitmap of allocated pages (Linux's `cma->bitmap`, one bit per page:
// `order_per_bit` 0).

/// The first run of `nr` clear bits of `map` (bits `0..size`) at or after
/// `start` whose first bit is a multiple of `align_mask + 1` (Linux's
/// `bitmap_find_next_zero_area`).
pub fn bitmap_find_next_zero_area(
    map: &[u64],
    size: usize,
    start: usize,
    nr: usize,
    align_mask: usize,
) -> Option<usize> {
    // LAB 9: BEGIN find the first aligned run of nr clear bits at or after start
    let mut index = (start + align_mask) & !align_mask;
    while index.checked_add(nr)? <= size {
        match (index..index + nr).find(|&i| test_bit(map, i)) {
            // Restart past the set bit, aligned again.
            Some(busy) => index = (busy + 1 + align_mask) & !align_mask,
            None => return Some(index),
        }
    }
    None
    // LAB 9: STUB
    // // No run is ever found: every cma_alloc fails.
    // let _ = (map, size, start, nr, align_mask);
    // None
    // LAB 9: END
}

pub fn test_bit(map: &[u64], i: usize) -> bool {
    map[i / 64] & (1 << (i % 64)) != 0
}

/// Set (`on`) or clear bits `start..start + nr`.
pub fn bitmap_assign(map: &mut [u64], start: usize, nr: usize, on: bool) {
    for i in start..start + nr {
        if on {
            map[i / 64] |= 1 << (i % 64);
        } else {
            map[i / 64] &= !(1 << (i % 64));
        }
    }
}

/// Whether every bit of `start..start + nr` is set.
pub fn bitmap_all_set(map: &[u64], start: usize, nr: usize) -> bool {
    (start..start + nr).all(|i| test_bit(map, i))
}

/// The pageblocks `alloc_contig_range(start, end)` isolates: the range
/// widened to whole pageblocks (Linux widens to MAX_ORDER blocks and
/// pageblocks, the same size here).
pub fn pageblock_span(start: u32, end: u32) -> (u32, u32) {
    let mask = PAGEBLOCK_PAGES - 1;
    (start & !mask, (end + mask) & !mask)
}

const _: () = assert!(CMA_ALIGNMENT <= PAGEBLOCK_ORDER);

#[cfg(target_os = "none")]
mod area;
#[cfg(target_os = "none")]
pub use area::*;

#[cfg(test)]
mod tests;
