//! Taking a physical range back from the page allocator (Linux's
//! mm/page_isolation.c, and `alloc_contig_range`, which Linux keeps in
//! mm/page_alloc.c): the CMA region's way to get a contiguous run.
//!
//! 1. Isolate the run's pageblocks: tag them `MIGRATE_ISOLATE` and move
//!    their free pages to the Isolate lists. The buddy allocator never
//!    hands out an isolated page, and a page freed into an isolated
//!    pageblock goes straight to the Isolate lists, past the pcp lists
//!    (`start_isolate_page_range`). Then empty the pcp lists
//!    (`drain_all_pages`): pages freed before the retag may sit there.
//!    One window is left: a free that read the pageblock's type just
//!    before the retag and was preempted before its pcp push puts the
//!    page on a pcp list after the drain, where an allocation may take it;
//!    step 3 then finds the page in use and the attempt fails safely
//!    ("still in use"). Linux reads the type inside the pcp section.
//! 2. Migrate every page in use in the run to a frame elsewhere
//!    (`mm::migrate`), which frees the old frame onto the Isolate lists.
//! 3. Check that every frame of the run is free on the Isolate lists
//!    (`test_pages_isolated`) and take them off, order-0 pages with a count
//!    of 1 each; what sticks out of the run goes back (`isolate_freepages_range`).
//! 4. Undo the isolation (`undo_isolate_page_range`): the pageblocks are CMA
//!    again and their remaining free pages go back to the CMA lists. A guard
//!    does it, on the failure paths too.
//!
//! Only CMA pageblocks are taken: only movable pages live there, so the
//! allocation can succeed whenever migration can.

use super::buddy::{BuddyZone, MigrateType, PAGEBLOCK_PAGES};
use super::cma::pageblock_span;
use super::migrate::{migrate_page_anywhere, MigrateError, MigrateMode};
use super::mmzone::with_node_mem_map;
use super::page::Page;
use super::page_alloc::{__free_pages, drain_all_pages, Pages};
use core::fmt;

/// Why a page of the run stayed in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusyReason {
    /// Migration refused it (kernel memory, pinned, no frame, ...).
    Migrate(MigrateError),
    /// Still in use after its migration (freed late, or taken again).
    StillInUse,
}

impl fmt::Display for BusyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BusyReason::Migrate(e) => write!(f, "{}", e),
            BusyReason::StillInUse => f.write_str("still in use after migration"),
        }
    }
}

/// Why `alloc_contig_range` failed; nothing is taken then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContigError {
    /// A pageblock of the run is not a CMA pageblock (or not in a zone).
    NotCma { pfn: u32, mt: Option<MigrateType> },
    /// Page `pfn` could not be moved out.
    Busy { pfn: u32, why: BusyReason },
}

impl fmt::Display for ContigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ContigError::NotCma { pfn, mt: Some(mt) } => write!(f, "pageblock at pfn {:#x} is {}, not CMA", pfn, mt),
            ContigError::NotCma { pfn, mt: None } => write!(f, "pfn {:#x} is in no zone", pfn),
            ContigError::Busy { pfn, why } => {
                write!(f, "page at pfn {:#x} (phys {:#010x}) cannot move: {}", pfn, (pfn as u64) << 12, why)
            }
        }
    }
}

/// The pageblocks `[start, end)` isolated so far; dropping it makes them
/// CMA again (`undo_isolate_page_range`).
struct Isolation {
    start: u32,
    end: u32,
}

impl Isolation {
    /// Isolate the CMA pageblocks `[start, end)`, one lock hold each
    /// (`start_isolate_page_range`).
    fn start(start: u32, end: u32) -> Result<Isolation, ContigError> {
        let mut iso = Isolation { start, end: start };
        for pb in (start..end).step_by(PAGEBLOCK_PAGES as usize) {
            with_node_mem_map(|node, mm| {
                let z = node.zone_of(pb).ok_or(ContigError::NotCma { pfn: pb, mt: None })?;
                let mut buddy = node.zones[z].lock();
                let mt = buddy.pageblock_type(pb);
                if mt != MigrateType::Cma {
                    return Err(ContigError::NotCma { pfn: pb, mt: Some(mt) });
                }
                buddy.set_pageblock_type(pb, MigrateType::Isolate);
                buddy.move_freepages_block(mm, pb, MigrateType::Isolate);
                Ok(())
            })?;
            iso.end = pb + PAGEBLOCK_PAGES;
        }
        Ok(iso)
    }
}

impl Drop for Isolation {
    fn drop(&mut self) {
        for pb in (self.start..self.end).step_by(PAGEBLOCK_PAGES as usize) {
            with_isolated_block(pb, |buddy, mm| {
                buddy.set_pageblock_type(pb, MigrateType::Cma);
                buddy.move_freepages_block(mm, pb, MigrateType::Cma);
            });
        }
    }
}

/// Passes at a page whose mappings changed under the move (Linux's
/// `migrate_pages` makes 10 passes for -EAGAIN).
const MIGRATE_PASSES: usize = 10;

/// Move in-use page `pfn` out of the run, to a frame the allocator picks
/// (never an isolated one), mlocked pages too (`MigrateMode::Contig`).
fn move_page(pfn: u32) -> Result<(), BusyReason> {
    let mut tries = 0;
    loop {
        match migrate_page_anywhere(pfn, MigrateMode::Contig) {
            Ok(_) => return Ok(()),
            Err(MigrateError::Again) if tries + 1 < MIGRATE_PASSES => tries += 1,
            Err(e) => return Err(BusyReason::Migrate(e)),
        }
    }
}

/// Make the frames `[start, end)` of CMA pageblocks the caller's: order-0
/// pages with a count of 1 each, to be given back with
/// [`free_contig_range`] (Linux's `alloc_contig_range`). Sleeps (migration).
/// Fails with the first page that could not be moved out, taking nothing.
///
/// The caller serialises the calls (CMA holds its area's mutex): two runs
/// isolating the same pageblock would undo each other's isolation.
pub(super) fn alloc_contig_range(start: u32, end: u32) -> Result<(), ContigError> {
    crate::kernel::preempt::might_sleep("alloc_contig_range");
    if start >= end {
        // Nothing to take (and no pageblock to isolate for it).
        return Ok(());
    }
    let (pb_start, pb_end) = pageblock_span(start, end);
    let isolation = Isolation::start(pb_start, pb_end)?;
    drain_all_pages();
    let mut pfn = start;
    while pfn < end {
        // A peek without the lock: a free page is skipped (a whole free
        // block at once); the check under the lock below has the last word.
        let (skip, in_use) = with_node_mem_map(|_, mm| {
            let page = &mm[pfn as usize];
            if page.is_buddy() {
                (1u32 << page.order(), false)
            } else {
                (1, page.page_count() != 0)
            }
        });
        if in_use {
            move_page(pfn).map_err(|why| ContigError::Busy { pfn, why })?;
        }
        pfn += skip;
    }
    // The old frames were freed onto the Isolate lists; a page freed to a
    // pcp list before the retag is drained there too.
    drain_all_pages();
    for pb in (pb_start..pb_end).step_by(PAGEBLOCK_PAGES as usize) {
        let (lo, hi) = (start.max(pb), end.min(pb + PAGEBLOCK_PAGES));
        if let Some(pfn) = with_isolated_block(pb, |buddy, mm| buddy.first_not_isolated_free(mm, lo, hi)) {
            return Err(ContigError::Busy { pfn, why: BusyReason::StillInUse });
        }
    }
    for pb in (pb_start..pb_end).step_by(PAGEBLOCK_PAGES as usize) {
        let (lo, hi) = (start.max(pb), end.min(pb + PAGEBLOCK_PAGES));
        if let Err(pfn) = with_isolated_block(pb, |buddy, mm| buddy.take_isolated_range(mm, lo, hi)) {
            // Checked free just above and nothing allocates from isolated
            // pageblocks: give back what was taken and say where.
            // SAFETY: the frames [start, lo) were taken just above, by this
            // call, and nobody else has them.
            unsafe { free_contig_range(start, lo - start) };
            return Err(ContigError::Busy { pfn, why: BusyReason::StillInUse });
        }
    }
    drop(isolation);
    Ok(())
}

/// `f` on the buddy allocator (locked) of the zone holding isolated
/// pageblock `pb`.
fn with_isolated_block<R>(pb: u32, f: impl FnOnce(&mut BuddyZone, &[Page]) -> R) -> R {
    with_node_mem_map(|node, mm| {
        let z = node.zone_of(pb).expect("isolated above");
        f(&mut node.zones[z].lock(), mm)
    })
}

/// Give back `count` frames from `start` that `alloc_contig_range` handed
/// over (Linux's `free_contig_range`).
///
/// # Safety
/// `alloc_contig_range` handed these frames over, they are given back only
/// once, and nothing uses them afterwards.
pub(super) unsafe fn free_contig_range(start: u32, count: u32) {
    for pfn in start..start + count {
        // SAFETY: alloc_contig_range made every frame of the range an
        // order-0 page with a count of 1, owned by the caller, who gives
        // them back once, here.
        __free_pages(unsafe { Pages::from_raw(pfn, 0) });
    }
}
