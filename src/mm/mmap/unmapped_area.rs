//! Where a new mapping goes: Linux's `get_unmapped_area` with its two
//! searches, top-down below `mmap_base` and legacy bottom-up from
//! `TASK_UNMAPPED_BASE` (mm/mmap.c), and the bounds of the layout
//! (arch/x86/mm/mmap_32.c); `VmaSet::new` picks between them.

use super::{is_aligned, page_align, page_align_down, Errno, MmapLayout, VmaSet, MAP_FIXED, PAGE_SIZE, TASK_SIZE};
use core::alloc::Allocator;

/// Where the legacy (bottom-up) layout starts looking: `PAGE_ALIGN(TASK_SIZE / 3)`.
pub const TASK_UNMAPPED_BASE: usize = page_align_down(TASK_SIZE / 3 + PAGE_SIZE - 1);
/// The gap `mmap_base` leaves for the stack is at least 128 MB and at most
/// five sixths of user space (arch/x86/mm/mmap_32.c).
pub(super) const MIN_GAP: usize = 128 << 20;
pub(super) const MAX_GAP: usize = TASK_SIZE / 6 * 5;

impl<A: Allocator + Clone> VmaSet<A> {
    /// Linux's `get_unmapped_area`: where a mapping of `len` bytes goes.
    /// `MAP_FIXED` takes `addr` as it is; otherwise a free, page-aligned
    /// `addr` is honoured as a hint, and failing that the layout's search
    /// runs (top-down from `mmap_base`, falling back to bottom-up).
    pub fn get_unmapped_area(&self, addr: usize, len: usize, flags: u32) -> Result<usize, Errno> {
        if len > TASK_SIZE {
            return Err(Errno::ENOMEM);
        }
        let addr = if flags & MAP_FIXED != 0 {
            addr
        } else {
            // A hint below `mmap_min_addr` is raised to it (Linux's
            // `round_hint_to_min`).
            let hint = page_align(addr).max(if addr != 0 { self.mmap_min_addr as u64 } else { 0 });
            if addr != 0 && hint <= (TASK_SIZE - len) as u64 && self.fits(hint as usize, len) {
                hint as usize
            } else if self.layout == MmapLayout::TopDown {
                self.search_topdown(len).or_else(|| self.search_bottomup(len)).ok_or(Errno::ENOMEM)?
            } else {
                self.search_bottomup(len).ok_or(Errno::ENOMEM)?
            }
        };
        if addr > TASK_SIZE - len {
            return Err(Errno::ENOMEM);
        }
        if !is_aligned(addr) {
            return Err(Errno::EINVAL);
        }
        Ok(addr)
    }

    /// Whether `[addr, addr + len)` is free, the guard gap of a stack
    /// above it included.
    fn fits(&self, addr: usize, len: usize) -> bool {
        self.find_vma(addr).is_none_or(|v| addr + len <= v.start_gap(self.stack_guard_gap))
    }

    /// `arch_get_unmapped_area_topdown`: the highest hole below
    /// `mmap_base`, walking the holes down from it. A hole's top is the
    /// start of the area above it, or its guard gap if a stack (only the
    /// area right above a mapping constrains it, as Linux's
    /// `unmapped_area_topdown`). Never below `mmap_min_addr`.
    fn search_topdown(&self, len: usize) -> Option<usize> {
        let mut limit = self.mmap_base;
        let mut i = self.index_after(limit.checked_sub(len)?);
        loop {
            let top = self.vmas.get(i).map_or(limit, |v| limit.min(v.start_gap(self.stack_guard_gap)));
            let bottom = i.checked_sub(1).map_or(0, |p| self.vmas[p].end).max(self.mmap_min_addr);
            if top >= bottom + len && top - len > 0 {
                return Some(top - len);
            }
            i = i.checked_sub(1)?;
            limit = usize::MAX;
        }
    }

    /// `arch_get_unmapped_area`: the lowest hole from `TASK_UNMAPPED_BASE`.
    fn search_bottomup(&self, len: usize) -> Option<usize> {
        let mut addr = TASK_UNMAPPED_BASE;
        for v in self.vmas.range(self.index_after(addr)..self.len()) {
            if addr > TASK_SIZE - len {
                return None;
            }
            if addr + len <= v.start_gap(self.stack_guard_gap) {
                return Some(addr);
            }
            addr = addr.max(v.end);
        }
        (addr <= TASK_SIZE - len).then_some(addr)
    }
}
