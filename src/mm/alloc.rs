//! The page allocator as the rest of the kernel calls it: `alloc_pages`,
//! `__free_pages`, `__get_free_pages`, `free_pages`, `get_zeroed_page`,
//! `alloc_pages_exact` (Linux's include/linux/gfp.h API).
//!
//! A block of frames comes back as [`Pages`], which has no address: a
//! highmem frame has none the kernel could dereference. Only
//! [`Pages::lowmem`] turns a block into [`LowPages`], which has one; a
//! highmem block must be kmapped (layer 5) to be touched.

use super::gfp::Gfp;
use super::mm_init::with_node;
use crate::layout::{phys_to_virt, virt_to_phys, PAGE_OFFSET, PAGE_SHIFT, PAGE_SIZE};
use core::sync::atomic::{AtomicUsize, Ordering};

/// 2^order contiguous frames from the page allocator, anywhere in RAM.
#[must_use = "pages are not freed on drop: pass them to free_pages_block"]
#[derive(Debug)]
pub struct Pages {
    pfn: u32,
    order: u8,
}

/// 2^order contiguous frames in lowmem, reachable through the direct map.
#[must_use = "pages are not freed on drop: pass them to free_pages_block"]
#[derive(Debug)]
pub struct LowPages {
    pfn: u32,
    order: u8,
}

static MAX_LOW_PFN: AtomicUsize = AtomicUsize::new(0);
/// `fail_page_alloc=`: injected page-allocation failures.
static FAIL_PAGE_ALLOC: crate::kernel::sync::IrqLock<super::fault_inject::FaultAttr> =
    crate::kernel::sync::IrqLock::new(super::fault_inject::FaultAttr::DISABLED);
static FAIL_PAGE_ALLOC_ON: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Set the `fail_page_alloc` fault attributes; returns the previous ones.
pub fn set_fail_page_alloc(attr: super::fault_inject::FaultAttr) -> super::fault_inject::FaultAttr {
    let mut f = FAIL_PAGE_ALLOC.lock();
    FAIL_PAGE_ALLOC_ON.store(attr.enabled(), Ordering::Relaxed);
    core::mem::replace(&mut *f, attr)
}
/// Allocation failures reported (for tests).
pub static ALLOC_FAILURES: AtomicUsize = AtomicUsize::new(0);

pub fn set_max_low_pfn(pfn: usize) {
    MAX_LOW_PFN.store(pfn, Ordering::Relaxed);
}

/// Start of the vmalloc area: 8 MB above the end of the direct map.
pub fn vmalloc_start() -> usize {
    PAGE_OFFSET + (max_low_pfn() << PAGE_SHIFT) + crate::layout::VMALLOC_OFFSET
}

pub fn max_low_pfn() -> usize {
    MAX_LOW_PFN.load(Ordering::Relaxed)
}

impl Pages {
    /// Rebuild the handle of a block whose pfn and order the owner kept
    /// elsewhere.
    ///
    /// # Safety
    /// The block came from `alloc_pages` with this order, its handle was
    /// forgotten, and this is the only handle rebuilt for it.
    pub unsafe fn from_raw(pfn: u32, order: usize) -> Pages {
        Pages { pfn, order: order as u8 }
    }
    pub fn pfn(&self) -> u32 {
        self.pfn
    }
    pub fn order(&self) -> usize {
        self.order as usize
    }
    pub fn phys(&self) -> u64 {
        (self.pfn as u64) << PAGE_SHIFT
    }
    pub fn is_highmem(&self) -> bool {
        self.pfn as usize >= max_low_pfn()
    }
    /// The same block with its direct-map address, if it is in lowmem.
    pub fn lowmem(self) -> Result<LowPages, Pages> {
        if self.is_highmem() {
            Err(self)
        } else {
            Ok(LowPages { pfn: self.pfn, order: self.order })
        }
    }
}

impl LowPages {
    pub fn pfn(&self) -> u32 {
        self.pfn
    }
    pub fn order(&self) -> usize {
        self.order as usize
    }
    /// Kernel virtual address (`page_address`).
    pub fn addr(&self) -> usize {
        phys_to_virt((self.pfn as usize) << PAGE_SHIFT)
    }
    pub fn into_pages(self) -> Pages {
        Pages { pfn: self.pfn, order: self.order }
    }
}

/// Allocate 2^order frames (Linux's `alloc_pages`).
#[track_caller]
pub fn alloc_pages(gfp: Gfp, order: usize) -> Option<Pages> {
    if gfp.may_sleep() {
        crate::kernel::preempt::might_sleep("alloc_pages");
    }
    if should_fail_page_alloc(gfp, order) {
        return failed(gfp, order);
    }
    // NOWARN, which a caller that may sleep gets on its first try, matters
    // only to the failure report, so the node sees `gfp` itself.
    match with_node(|node, mm| node.alloc_pages(mm, gfp, order)) {
        Some(pfn) => Some(prep_new_pages(gfp, pfn, order)),
        None => alloc_pages_failed(gfp, order),
    }
}

/// The first try failed (2.6.24's `__alloc_pages` after its two zonelist
/// passes). A caller that may sleep gets direct reclaim, as much as exists:
/// shrink the caches, then try again; go round while reclaim makes progress
/// and `should_alloc_retry` allows (`__GFP_NORETRY`, costly orders and
/// `__GFP_REPEAT`/`__GFP_NOFAIL` decide). Failures before the last are
/// counted but not reported.
#[cold]
#[inline(never)]
fn alloc_pages_failed(gfp: Gfp, order: usize) -> Option<Pages> {
    if !gfp.may_sleep() {
        return failed(gfp, order);
    }
    loop {
        let _ = failed(gfp | Gfp::NOWARN, order);
        RECLAIM_RETRIES.fetch_add(1, Ordering::Relaxed);
        let did_some_progress = super::shrinker::shrink_slab() > 0;
        if did_some_progress {
            drain_all_pages();
        }
        if let Some(pfn) = with_node(|node, mm| node.alloc_pages(mm, gfp, order)) {
            return Some(prep_new_pages(gfp, pfn, order));
        }
        if !super::page_alloc::should_alloc_retry(gfp, order, did_some_progress) {
            return failed(gfp, order);
        }
    }
}

/// Direct-reclaim rounds taken by failing allocations (for tests).
pub static RECLAIM_RETRIES: AtomicUsize = AtomicUsize::new(0);

/// `fail_page_alloc=`: decided once per allocation, as Linux's
/// `should_fail_alloc_page`.
#[inline]
fn should_fail_page_alloc(gfp: Gfp, order: usize) -> bool {
    FAIL_PAGE_ALLOC_ON.load(Ordering::Relaxed) && fail_page_alloc_decide(gfp, order)
}

#[cold]
#[inline(never)]
fn fail_page_alloc_decide(gfp: Gfp, order: usize) -> bool {
    super::fault_inject::should_fail_alloc_page(&mut FAIL_PAGE_ALLOC.lock(), gfp, order)
}

#[cold]
#[inline(never)]
fn failed(gfp: Gfp, order: usize) -> Option<Pages> {
    ALLOC_FAILURES.fetch_add(1, Ordering::Relaxed);
    if !gfp.contains(Gfp::NOWARN) {
        crate::pr_warn!(
            // Linux 2.6.24's words, so the report reads as on Linux.
            "{}: page allocation failure. order:{}, mode:{:#x}",
            crate::kernel::sched::current_name(),
            order,
            gfp.bits()
        );
    }
    None
}

/// `alloc_pages` without the might-sleep check and without direct reclaim,
/// for callers that hold a spinlock: the allocation itself never sleeps.
/// The slab allocator growing a cache under its lock is the main user.
pub fn __alloc_pages(gfp: Gfp, order: usize) -> Option<Pages> {
    if should_fail_page_alloc(gfp, order) {
        return failed(gfp, order);
    }
    rmqueue(gfp, order)
}

/// Take the block from the zones and zero it if asked.
fn rmqueue(gfp: Gfp, order: usize) -> Option<Pages> {
    let Some(pfn) = with_node(|node, mm| node.alloc_pages(mm, gfp, order)) else {
        return failed(gfp, order);
    };
    Some(prep_new_pages(gfp, pfn, order))
}

/// The handle of a block just taken, zeroed if asked.
#[inline]
fn prep_new_pages(gfp: Gfp, pfn: u32, order: usize) -> Pages {
    if gfp.contains(Gfp::ZERO) {
        clear_pages(pfn, order);
    }
    Pages { pfn, order: order as u8 }
}

#[inline(never)]
fn clear_pages(pfn: u32, order: usize) {
    for i in 0..(1usize << order) {
        clear_page_frame(pfn as usize + i);
    }
}

/// Zero one frame: through the direct map, or a fixmap slot for highmem.
fn clear_page_frame(pfn: usize) {
    // SAFETY: a frame just allocated for the caller; nobody else has it.
    unsafe { super::highmem::clear_highpage(pfn as u32) };
}

/// Free a block (Linux's `__free_pages`). Inline, as the node's order-0
/// free is: one lock round trip and a push onto a pcp list.
#[inline]
pub fn free_pages_block(pages: Pages) {
    with_node(|node, mm| node.free_pages(mm, pages.pfn, pages.order as usize));
}

/// Allocate lowmem and return its kernel address (`__get_free_pages`).
/// Highmem has no such address: asking for it is a bug, reported.
#[track_caller]
pub fn get_free_pages(gfp: Gfp, order: usize) -> Option<usize> {
    if gfp.contains(Gfp::HIGHMEM) {
        crate::kernel::panic::warn(format_args!(
            "BUG: __get_free_pages with __GFP_HIGHMEM: highmem pages have no kernel address"
        ));
        return None;
    }
    let pages = alloc_pages(gfp, order)?;
    match pages.lowmem() {
        Ok(low) => Some(low.addr()),
        Err(p) => {
            free_pages_block(p);
            None
        }
    }
}

pub fn get_zeroed_page(gfp: Gfp) -> Option<usize> {
    get_free_pages(gfp | Gfp::ZERO, 0)
}

/// Free what `get_free_pages` returned.
///
/// # Safety
/// `addr` came from `get_free_pages` with this `order`, and nothing uses the
/// memory afterwards.
pub unsafe fn free_pages(addr: usize, order: usize) {
    assert!(addr >= PAGE_OFFSET && addr % PAGE_SIZE == 0, "free_pages: bad address {:#x}", addr);
    let pfn = (virt_to_phys(addr) >> PAGE_SHIFT) as u32;
    free_pages_block(Pages { pfn, order: order as u8 });
}

/// Smallest order whose block holds `size` bytes.
pub fn get_order(size: usize) -> usize {
    let pages = size.div_ceil(PAGE_SIZE).max(1);
    pages.next_power_of_two().trailing_zeros() as usize
}

/// `size` bytes of physically contiguous lowmem, without the power-of-two
/// waste: the block is split into single pages and the unused tail is
/// freed at once (Linux's `alloc_pages_exact`). Returns the address.
///
/// A size of 0 is refused with a warning: it would keep no page of the
/// block and hand out the address of one already freed (Linux returns NULL).
#[track_caller]
pub fn alloc_pages_exact(size: usize, gfp: Gfp) -> Option<usize> {
    if size == 0 {
        let loc = core::panic::Location::caller();
        crate::kernel::panic::warn(format_args!(
            "alloc_pages_exact: size 0 at {}:{}: no pages allocated, returning NULL",
            loc.file(),
            loc.line()
        ));
        return None;
    }
    let order = get_order(size);
    let addr = get_free_pages(gfp, order)?;
    let used = size.div_ceil(PAGE_SIZE);
    let first = (virt_to_phys(addr) >> PAGE_SHIFT) as u32;
    with_node(|node, mm| {
        // split_page: every page becomes an order-0 page of its own.
        for i in 0..(1u32 << order) {
            mm[(first + i) as usize].set_page_count(1);
        }
        for i in used as u32..(1u32 << order) {
            node.free_pages(mm, first + i, 0);
        }
    });
    Some(addr)
}

/// Free what `alloc_pages_exact` returned.
///
/// # Safety
/// `addr` and `size` are those of an `alloc_pages_exact` block that nothing
/// uses afterwards.
pub unsafe fn free_pages_exact(addr: usize, size: usize) {
    for i in 0..size.div_ceil(PAGE_SIZE) {
        // SAFETY: alloc_pages_exact split the block into order-0 pages.
        unsafe { free_pages(addr + i * PAGE_SIZE, 0) };
    }
}

/// Free pages of every zone, counting the pcp lists (`nr_free_pages`).
pub fn nr_free_pages() -> u64 {
    with_node(|node, _| node.free_pages_total())
}

/// Bytes of RAM managed by the page allocator (`totalram_pages`).
pub fn totalram_bytes() -> usize {
    with_node(|node, _| node.managed_total() as usize * PAGE_SIZE)
}

/// Empty the pcp lists into the buddy allocator (Linux's
/// `drain_all_pages`), one batch per lock hold: interrupts come back
/// between batches.
pub fn drain_all_pages() {
    for zone in 0..super::zones::MAX_NR_ZONES {
        while with_node(|node, mm| node.drain_pcp_batch(mm, zone)) > 0 {}
    }
}
