//! The CMA region at run time (Linux's `struct cma`): where it is, the
//! bitmap of pages `cma_alloc` handed out, and the list of its
//! allocations (for `cma_release`'s check and the `cma` report). One
//! sleeping lock serialises allocations, as Linux's `cma_mutex`:
//! `alloc_contig_range` migrates pages, which sleeps.

use super::{bitmap_all_set, bitmap_assign, bitmap_find_next_zero_area, test_bit, CmaRegion, CMA_ALIGNMENT};
use crate::kernel::mutex::Mutex;
use crate::mm::mmzone::with_node_mem_map;
use crate::mm::page_isolation::{alloc_contig_range, free_contig_range, ContigError};
use crate::mm::vmstat::{count_vm_event, VmEvent};
use alloc::vec::Vec;
use core::fmt::{self, Write};

/// Pages the bitmap can describe: 1 GB, more than lowmem.
const MAX_CMA_PAGES: usize = 1 << 18;

static REGION: spin::Once<CmaRegion> = spin::Once::new();

struct CmaState {
    /// One bit per page of the region: handed out by `cma_alloc`.
    bitmap: [u64; MAX_CMA_PAGES / 64],
    /// (first pfn, pages) of every live allocation.
    allocs: Vec<(u32, u32)>,
}

static CMA: Mutex<CmaState> = Mutex::new(CmaState { bitmap: [0; MAX_CMA_PAGES / 64], allocs: Vec::new() });

/// Publish the region boot reserved and handed to the buddy allocator
/// (Linux's `cma_activate_area`); once.
pub fn cma_activate(region: CmaRegion) {
    assert!(region.pages() as usize <= MAX_CMA_PAGES, "CMA region larger than lowmem");
    REGION.call_once(|| region);
}

/// The region, if `cma=` made one.
pub fn cma_region() -> Option<CmaRegion> {
    REGION.get().copied()
}

/// Whether frame `pfn` is in the region.
pub fn cma_contains(pfn: u32) -> bool {
    cma_region().is_some_and(|r| (r.base_pfn()..r.end_pfn()).contains(&pfn))
}

/// A run of the region `cma_alloc` handed out: lowmem frames, each an
/// order-0 page with a count of 1.
#[must_use = "CMA pages are not freed on drop: pass them to cma_release"]
#[derive(Debug)]
pub struct CmaPages {
    pfn: u32,
    count: u32,
}

impl CmaPages {
    pub fn pfn(&self) -> u32 {
        self.pfn
    }
    pub fn count(&self) -> u32 {
        self.count
    }
    pub fn phys(&self) -> u64 {
        (self.pfn as u64) << 12
    }
    /// Kernel virtual address (the region is in lowmem).
    pub fn addr(&self) -> usize {
        crate::layout::phys_to_virt(self.phys() as usize)
    }
    /// Give up the handle; [`from_raw`](Self::from_raw) rebuilds it.
    pub fn into_raw(self) -> (u32, u32) {
        (self.pfn, self.count)
    }
    /// # Safety
    /// `pfn` and `count` came from [`into_raw`](Self::into_raw) of a handle
    /// `cma_alloc` returned, and this is the only handle rebuilt for it.
    pub unsafe fn from_raw(pfn: u32, count: u32) -> CmaPages {
        CmaPages { pfn, count }
    }
}

/// Why `cma_alloc` found no run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmaError {
    /// No `cma=` region.
    NoRegion,
    /// 0 pages, or more than the region.
    BadCount { count: usize, region: u32 },
    /// Every aligned position was tried; the last failure, if one was busy
    /// rather than taken by an earlier allocation.
    NoRange { count: usize, last: Option<ContigError> },
}

impl fmt::Display for CmaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CmaError::NoRegion => f.write_str("no CMA area (boot with cma=SIZE)"),
            CmaError::BadCount { count, region } => {
                write!(f, "{} pages asked for; the CMA area has {} (1 to {} possible)", count, region, region)
            }
            CmaError::NoRange { count, last: Some(e) } => {
                write!(f, "no free run of {} pages could be taken (last try: {})", count, e)
            }
            CmaError::NoRange { count, last: None } => {
                write!(f, "no run of {} pages left that earlier CMA allocations do not hold", count)
            }
        }
    }
}

/// `count` contiguous pages of the region, the first aligned to
/// 2^`align_order` pages (Linux's `cma_alloc`): the first free run of the
/// bitmap is tried with `alloc_contig_range`; when a page there cannot be
/// moved, that is said (which page, why) and the search goes on from the
/// next aligned position past it (Linux steps one alignment further, but a
/// page that could not move now is no likelier to a step later). Counts
/// `cma_alloc_success` / `cma_alloc_fail`. Sleeps.
pub fn cma_alloc(count: usize, align_order: usize) -> Result<CmaPages, CmaError> {
    let Some(region) = cma_region() else { return Err(CmaError::NoRegion) };
    let size = region.pages() as usize;
    if count == 0 || count > size {
        return Err(CmaError::BadCount { count, region: region.pages() });
    }
    let mask = (1usize << align_order.min(crate::mm::buddy::PAGEBLOCK_ORDER)) - 1;
    let mut st = CMA.lock();
    let mut start = 0;
    let mut last = None;
    while let Some(bit) = bitmap_find_next_zero_area(&st.bitmap, size, start, count, mask) {
        let pfn = region.base_pfn() + bit as u32;
        match alloc_contig_range(pfn, pfn + count as u32) {
            Ok(()) => {
                bitmap_assign(&mut st.bitmap, bit, count, true);
                st.allocs.push((pfn, count as u32));
                count_vm_event(VmEvent::CmaAllocSuccess);
                return Ok(CmaPages { pfn, count: count as u32 });
            }
            Err(e) => {
                crate::pr_info!(
                    "cma: pages [{:#x}-{:#x}] busy: {}; trying the next aligned position",
                    pfn,
                    pfn + count as u32 - 1,
                    e
                );
                let past = match e {
                    ContigError::Busy { pfn: busy, .. } => (busy - region.base_pfn()) as usize + 1,
                    ContigError::NotCma { .. } => bit + 1,
                };
                start = past.max(bit + 1);
                last = Some(e);
            }
        }
    }
    count_vm_event(VmEvent::CmaAllocFail);
    Err(CmaError::NoRange { count, last })
}

/// Give back what `cma_alloc` handed out (Linux's `cma_release`); false,
/// changing nothing, if it is not a live allocation of the region.
pub fn cma_release(pages: CmaPages) -> bool {
    let (pfn, count) = (pages.pfn, pages.count);
    let Some(region) = cma_region() else { return false };
    let mut st = CMA.lock();
    let Some(i) = st.allocs.iter().position(|&a| a == (pfn, count)) else { return false };
    let bit = (pfn - region.base_pfn()) as usize;
    debug_assert!(bitmap_all_set(&st.bitmap, bit, count as usize));
    // SAFETY: a live allocation of the region (found in the list), whose
    // handle the caller gave up by passing it here.
    unsafe { free_contig_range(pfn, count) };
    bitmap_assign(&mut st.bitmap, bit, count as usize, false);
    st.allocs.swap_remove(i);
    true
}

/// The alignment `dma_alloc_coherent` asks for: the block's own order,
/// capped at `CMA_ALIGNMENT` (Linux's `cma_alloc_aligned`).
pub fn dma_align_order(pages: usize) -> usize {
    (pages.next_power_of_two().trailing_zeros() as usize).min(CMA_ALIGNMENT)
}

/// Figures of the region for the `cma` report.
pub struct CmaUsage {
    pub region: CmaRegion,
    /// Pages handed out by `cma_alloc`.
    pub allocated: u32,
    /// Pages movable users hold (in use, not handed out by `cma_alloc`).
    pub movable: u32,
    /// Free pages of the region (buddy and pcp lists).
    pub free: u64,
    pub allocs: Vec<(u32, u32)>,
    /// Per MB: pages handed out, pages movable users hold.
    pub per_mb: Vec<(u16, u16)>,
}

/// Look at the region: a walk of its page descriptors, without the
/// allocator's locks (a snapshot, as `/proc` files are).
pub fn cma_usage() -> Option<CmaUsage> {
    let region = cma_region()?;
    let st = CMA.lock();
    let mut per_mb = Vec::new();
    let (mut allocated, mut movable) = (0, 0);
    let free = with_node_mem_map(|node, mm| {
        for mb in 0..region.pages().div_ceil(256) {
            let (mut a, mut m) = (0u16, 0u16);
            for i in mb * 256..((mb + 1) * 256).min(region.pages()) {
                if test_bit(&st.bitmap, i as usize) {
                    a += 1;
                } else if mm[(region.base_pfn() + i) as usize].page_count() != 0 {
                    m += 1;
                }
            }
            allocated += a as u32;
            movable += m as u32;
            per_mb.push((a, m));
        }
        node.nr_free_cma(mm)
    });
    let mut allocs = st.allocs.clone();
    allocs.sort_unstable();
    Some(CmaUsage { region, allocated, movable, free, allocs, per_mb })
}

impl CmaUsage {
    /// The `cma` shell command's report.
    pub fn write(&self, out: &mut impl Write) -> fmt::Result {
        let r = self.region;
        writeln!(
            out,
            "cma: [mem {:#010x}-{:#010x}] {} MiB, {} pages (pfn {:#x}-{:#x})",
            r.base,
            r.base + r.size - 1,
            r.size >> 20,
            r.pages(),
            r.base_pfn(),
            r.end_pfn() - 1
        )?;
        writeln!(
            out,
            "allocated {} pages ({} kB), movable users hold {} pages ({} kB), free {} pages ({} kB)",
            self.allocated,
            self.allocated * 4,
            self.movable,
            self.movable * 4,
            self.free,
            self.free * 4
        )?;
        for (row, chunk) in self.per_mb.chunks(64).enumerate() {
            write!(out, "{:#010x} ", r.base + ((row as u64 * 64) << 20))?;
            for &(a, m) in chunk {
                out.write_char(match (a, m) {
                    (256, _) => '#',
                    (a, _) if a > 0 => '+',
                    (_, m) if m > 0 => 'm',
                    _ => '.',
                })?;
            }
            writeln!(out)?;
        }
        writeln!(out, "one cell = 1 MB: # all allocated by cma_alloc  + partly  m movable users  . free")?;
        if self.allocs.is_empty() {
            writeln!(out, "no CMA allocations")?;
        }
        for &(pfn, count) in &self.allocs {
            let phys = (pfn as u64) << 12;
            writeln!(
                out,
                "  [mem {:#010x}-{:#010x}] {} pages ({} kB)",
                phys,
                phys + ((count as u64) << 12) - 1,
                count,
                count * 4
            )?;
        }
        Ok(())
    }
}
