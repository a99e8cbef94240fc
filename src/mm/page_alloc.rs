//! The zoned page allocator (Linux's mm/page_alloc.c, 2.6.24 era): one
//! node, up to four zones (`mmzone`), each a buddy allocator (`buddy`) with
//! watermarks, `lowmem_reserve`, and a per-CPU list of order-0 pages.
//!
//! The rest of the kernel calls `alloc_pages`, `__free_pages`
//! ([`__free_pages`]), `__get_free_pages`, `free_pages`,
//! `get_zeroed_page`, `alloc_pages_exact` (Linux's include/linux/gfp.h
//! API). A block of frames comes back as [`Pages`], which has no address: a
//! highmem frame has none the kernel could dereference. Only
//! [`Pages::lowmem`] turns a block into [`LowPages`], which has one; a
//! highmem block must be kmapped to be touched.
//!
//! An allocation names, through its GFP flags, the highest zone it may use;
//! the zonelist then falls back towards DMA (HIGHMEM -> NORMAL -> DMA). A
//! zone is used only while its free pages stay above a watermark plus the
//! reserve it keeps against allocations that could have been served higher
//! up (`lowmem_reserve`), so a highmem-capable allocation does not eat the
//! lowmem that only the kernel can use. The first pass uses the `low` mark;
//! the second `min`, lowered for `__GFP_HIGH` and for callers that cannot
//! sleep (GFP_ATOMIC), which is what the reserve below `min` is for; then,
//! for callers that may sleep, direct reclaim and another round.
//!
//! Order-0 pages go through a per-CPU list (`pcp`, in [`pcp`]): frees push
//! a page, allocations pop one, and only every `batch` pages does the buddy
//! allocator see a bulk refill or drain. Pages on the pcp lists are counted
//! as free. The locks are described in `mmzone`.
//!
//! The node's methods take the frame descriptors as `&[Page]` indexed by PFN
//! (their words are atomics), so the same code runs on the kernel's
//! `mem_map` and on a `Vec` in host tests; the functions of the API above
//! are the kernel's only.
//!
//! A little past 600 lines: the API, the zonelist walk and the slow path
//! are 2.6.24's `__alloc_pages` read top to bottom; the pcp fast path is
//! its own file (`pcp.rs`).

use super::buddy::{MigrateType, MAX_ORDER};
use super::gfp::Gfp;
use super::mmzone::{Node, Watermark, Zone, MAX_NR_ZONES};
use super::page::{Page, PageFlags};
use core::sync::atomic::Ordering::Relaxed;
#[cfg(target_os = "none")]
use {
    super::mmzone::{max_low_pfn, mem_map, node_and_proof, node_built, with_node_mem_map, NodeBuilt},
    crate::kernel::fault_inject::FaultAttr,
    crate::kernel::sync::IrqLock,
    crate::layout::{phys_to_virt, virt_to_phys, PAGE_OFFSET, PAGE_SHIFT, PAGE_SIZE},
    core::sync::atomic::{AtomicBool, AtomicUsize, Ordering},
};

pub(super) mod pcp;
use pcp::route_index;

/// 2^order contiguous frames from the page allocator, anywhere in RAM.
/// Made only by the allocator, once it found the node built, or by the
/// `unsafe` [`from_raw`](Self::from_raw): its `NodeBuilt` (no bytes) is
/// what lets `__free_pages` skip `node()`'s test.
#[cfg(target_os = "none")]
#[must_use = "pages are not freed on drop: pass them to __free_pages"]
#[derive(Debug)]
pub struct Pages {
    pfn: u32,
    order: Order,
    built: NodeBuilt,
}

/// 2^order contiguous frames in lowmem, reachable through the direct map.
#[cfg(target_os = "none")]
#[must_use = "pages are not freed on drop: pass them to __free_pages"]
#[derive(Debug)]
pub struct LowPages {
    pfn: u32,
    order: Order,
    built: NodeBuilt,
}

/// A block's order, kept as order + 1 so that it is never 0: then
/// `Option<Pages>` is two words and comes back from `alloc_pages` in
/// registers rather than through memory.
#[cfg(target_os = "none")]
#[derive(Clone, Copy)]
struct Order(core::num::NonZeroU8);

/// The order itself, not the stored order + 1, in a report of a `Pages`.
#[cfg(target_os = "none")]
impl core::fmt::Debug for Order {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(f, "{}", self.get())
    }
}

#[cfg(target_os = "none")]
impl Order {
    #[inline(always)]
    fn new(order: usize) -> Order {
        Order(core::num::NonZeroU8::MIN.saturating_add(order as u8))
    }
    #[inline(always)]
    fn get(self) -> usize {
        self.0.get() as usize - 1
    }
    /// Order 0: the stored order + 1 compared with 1 as it is, with no
    /// subtraction first.
    #[inline(always)]
    fn is_zero(self) -> bool {
        self.0 == core::num::NonZeroU8::MIN
    }
}

#[cfg(target_os = "none")]
const _: () = assert!(core::mem::size_of::<Option<Pages>>() == 8, "Option<Pages> must fit two registers");

/// `fail_page_alloc=`: injected page-allocation failures.
#[cfg(target_os = "none")]
static FAIL_PAGE_ALLOC: IrqLock<FaultAttr> = IrqLock::new(FaultAttr::DISABLED);
#[cfg(target_os = "none")]
static FAIL_PAGE_ALLOC_ON: AtomicBool = AtomicBool::new(false);

/// Set the `fail_page_alloc` fault attributes; returns the previous ones.
#[cfg(target_os = "none")]
pub fn set_fail_page_alloc(attr: FaultAttr) -> FaultAttr {
    let mut f = FAIL_PAGE_ALLOC.lock();
    FAIL_PAGE_ALLOC_ON.store(attr.enabled(), Ordering::Relaxed);
    core::mem::replace(&mut *f, attr)
}

/// Allocation failures reported (for tests).
#[cfg(target_os = "none")]
pub static ALLOC_FAILURES: AtomicUsize = AtomicUsize::new(0);

#[cfg(target_os = "none")]
impl Pages {
    /// Rebuild the handle of a block whose pfn and order the owner kept
    /// elsewhere.
    ///
    /// # Safety
    /// The block came from `alloc_pages` with this order, its handle was
    /// given up with [`into_raw`](Self::into_raw), and this is the only
    /// handle rebuilt for it.
    pub unsafe fn from_raw(pfn: u32, order: usize) -> Pages {
        // SAFETY: the block came from `alloc_pages` (the caller's promise),
        // which found the node built; it is never taken down.
        let built = unsafe { NodeBuilt::new_unchecked() };
        Pages { pfn, order: Order::new(order), built }
    }
    /// Give up the handle: the owner keeps the block's pfn in its own
    /// bookkeeping (a page table, an area's frame list) and frees it later
    /// through [`from_raw`](Self::from_raw). Nothing is freed here.
    pub fn into_raw(self) -> u32 {
        self.pfn
    }
    pub fn pfn(&self) -> u32 {
        self.pfn
    }
    pub fn order(&self) -> usize {
        self.order.get()
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
            Ok(LowPages { pfn: self.pfn, order: self.order, built: self.built })
        }
    }
}

#[cfg(target_os = "none")]
impl LowPages {
    pub fn pfn(&self) -> u32 {
        self.pfn
    }
    pub fn order(&self) -> usize {
        self.order.get()
    }
    /// Kernel virtual address (`page_address`).
    pub fn addr(&self) -> usize {
        phys_to_virt((self.pfn as usize) << PAGE_SHIFT)
    }
    pub fn into_pages(self) -> Pages {
        Pages { pfn: self.pfn, order: self.order, built: self.built }
    }
}

/// Allocate 2^order frames (Linux's `alloc_pages`).
#[cfg(target_os = "none")]
#[track_caller]
pub fn alloc_pages(gfp: Gfp, order: usize) -> Option<Pages> {
    if gfp.may_sleep() {
        crate::kernel::preempt::might_sleep("alloc_pages");
    }
    // NOWARN, which a caller that may sleep gets on its first try, matters
    // only to the failure report, so the node sees `gfp` itself.
    // `Node::alloc_pages` spelled out, so that a page off the pcp list
    // returns from here rather than joining the slow path's result. Order
    // 0 is tested first: it needs no test against MAX_ORDER.
    if order == 0 {
        if should_fail_page_alloc(gfp, 0) {
            return failed(gfp, 0);
        }
        let (node, built) = node_and_proof();
        if let Some(pfn) = node.alloc_pcp_fast(mem_map, gfp) {
            mem_map()[pfn as usize].set_page_count(1);
            return Some(prep_new_pages(built, gfp, pfn, 0));
        }
        return alloc_pages_slowpath(gfp, 0);
    }
    // Linux's __alloc_pages: no buddy list holds a block this large, and
    // reclaim cannot make one (a request for it is a caller's mistake or a
    // probe, as dma_alloc_coherent's fallback without CMA is).
    if order >= MAX_ORDER || should_fail_page_alloc(gfp, order) {
        return failed(gfp, order);
    }
    alloc_pages_slowpath(gfp, order)
}

/// The zonelist walk, then reclaim (`alloc_pages` after its fast path).
#[cfg(target_os = "none")]
#[inline(never)]
fn alloc_pages_slowpath(gfp: Gfp, order: usize) -> Option<Pages> {
    let (node, built) = node_and_proof();
    match node.alloc_pages_slow(mem_map(), gfp, order) {
        Some(pfn) => Some(prep_new_pages(built, gfp, pfn, order)),
        None => alloc_pages_failed(built, gfp, order),
    }
}

/// The first try failed (2.6.24's `__alloc_pages` after its two zonelist
/// passes). A caller that may sleep gets direct reclaim, as much as exists:
/// shrink the caches, then try again; go round while reclaim makes progress
/// and `should_alloc_retry` allows (`__GFP_NORETRY`, costly orders and
/// `__GFP_REPEAT`/`__GFP_NOFAIL` decide), and when reclaim frees nothing,
/// call the OOM killer and go round again while it kills. Failures before
/// the last are counted but not reported.
#[cfg(target_os = "none")]
#[cold]
#[inline(never)]
fn alloc_pages_failed(built: NodeBuilt, gfp: Gfp, order: usize) -> Option<Pages> {
    if !gfp.may_sleep() {
        return failed(gfp, order);
    }
    // Direct compaction before direct reclaim (2.6.35's
    // __alloc_pages_direct_compact): orders above 0 only.
    if let Some(pfn) = super::compaction::alloc_pages_direct_compact(gfp, order) {
        return Some(prep_new_pages(built, gfp, pfn, order));
    }
    loop {
        let _ = failed(gfp | Gfp::NOWARN, order);
        RECLAIM_RETRIES.fetch_add(1, Ordering::Relaxed);
        // Linux's try_to_free_pages: user pages to swap, and the slab
        // caches' empty slabs.
        let did_some_progress = super::vmscan::try_to_free_pages(gfp) > 0;
        if did_some_progress {
            drain_all_pages();
        }
        if let Some(pfn) = with_node_mem_map(|node, mm| node.alloc_pages(mm, gfp, order)) {
            return Some(prep_new_pages(built, gfp, pfn, order));
        }
        // Reclaim found nothing: the OOM killer (2.6.24's __alloc_pages),
        // then the whole round again. A task being killed does not wait
        // for memory (6.1's fatal_signal_pending check): its allocation
        // fails, so it can die and give its own back.
        if !did_some_progress && super::oom_kill::oom_allowed(gfp, order) {
            if crate::kernel::sched::fatal_signal_pending() {
                if !gfp.contains(Gfp::NOFAIL) {
                    // Quiet: the OOM report has said why it dies.
                    return failed(gfp | Gfp::NOWARN, order);
                }
            } else if super::oom_kill::out_of_memory(gfp, order) {
                continue;
            }
        }
        if !should_alloc_retry(gfp, order, did_some_progress) {
            return failed(gfp, order);
        }
    }
}

/// Direct-reclaim rounds taken by failing allocations (for tests).
#[cfg(target_os = "none")]
pub static RECLAIM_RETRIES: AtomicUsize = AtomicUsize::new(0);

/// Whether a page allocation should fail (Linux's `should_fail_alloc_page`):
/// never one that says it cannot handle a failure (`__GFP_NOFAIL`).
pub fn should_fail_alloc_page(attr: &mut crate::kernel::fault_inject::FaultAttr, gfp: Gfp, order: usize) -> bool {
    if gfp.contains(Gfp::NOFAIL) {
        return false;
    }
    attr.should_fail((crate::layout::PAGE_SIZE as u64) << order)
}

/// `fail_page_alloc=`: decided once per allocation, as Linux's
/// `should_fail_alloc_page`.
#[cfg(target_os = "none")]
#[inline]
fn should_fail_page_alloc(gfp: Gfp, order: usize) -> bool {
    FAIL_PAGE_ALLOC_ON.load(Ordering::Relaxed) && fail_page_alloc_decide(gfp, order)
}

#[cfg(target_os = "none")]
#[cold]
#[inline(never)]
fn fail_page_alloc_decide(gfp: Gfp, order: usize) -> bool {
    should_fail_alloc_page(&mut FAIL_PAGE_ALLOC.lock(), gfp, order)
}

#[cfg(target_os = "none")]
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
/// for callers that hold a spinlock: the allocation itself never sleeps
/// (Linux's callers pass a gfp without `__GFP_WAIT` to `alloc_pages` for
/// this). The slab allocator growing a cache under its lock is the main user.
#[cfg(target_os = "none")]
pub fn alloc_pages_nosleep(gfp: Gfp, order: usize) -> Option<Pages> {
    if should_fail_page_alloc(gfp, order) {
        return failed(gfp, order);
    }
    rmqueue(gfp, order)
}

/// Take the block from the zones and zero it if asked.
#[cfg(target_os = "none")]
fn rmqueue(gfp: Gfp, order: usize) -> Option<Pages> {
    let (node, built) = node_and_proof();
    let Some(pfn) = node.alloc_pages(mem_map(), gfp, order) else {
        return failed(gfp, order);
    };
    Some(prep_new_pages(built, gfp, pfn, order))
}

/// The handle of a block just taken, zeroed if asked.
#[cfg(target_os = "none")]
#[inline]
fn prep_new_pages(built: NodeBuilt, gfp: Gfp, pfn: u32, order: usize) -> Pages {
    if gfp.contains(Gfp::ZERO) {
        clear_pages(pfn, order);
    }
    Pages { pfn, order: Order::new(order), built }
}

#[cfg(target_os = "none")]
#[inline(never)]
fn clear_pages(pfn: u32, order: usize) {
    crate::arch::x86::cpu::PAGES_ZEROED.fetch_add(1 << order, core::sync::atomic::Ordering::Relaxed);
    for i in 0..(1usize << order) {
        clear_page_frame(pfn as usize + i);
    }
}

/// Zero one frame: through the direct map, or a fixmap slot for highmem.
#[cfg(target_os = "none")]
fn clear_page_frame(pfn: usize) {
    // SAFETY: a frame just allocated for the caller; nobody else has it.
    unsafe { super::highmem::clear_highpage(pfn as u32) };
}

/// Free a block (Linux's `__free_pages`): one function, its argument in
/// registers, with the node's order-0 free inlined (a push onto a pcp
/// list).
#[cfg(target_os = "none")]
#[inline(never)]
pub fn __free_pages(pages: Pages) {
    let node = node_built(pages.built);
    // Linux 2.6.24's __free_pages:
    //     if (order == 0) free_hot_page(page); else __free_pages_ok(page, order);
    // Order 0 spelled out with a constant, so that its inlined copy of the
    // node's free needs no test of the order.
    if pages.order.is_zero() {
        node.__free_pages(mem_map(), pages.pfn, 0);
    } else {
        node.__free_pages(mem_map(), pages.pfn, pages.order.get());
    }
}

/// Allocate lowmem and return its kernel address (`__get_free_pages`).
/// Highmem has no such address: asking for it is a bug, reported.
#[cfg(target_os = "none")]
#[track_caller]
pub fn __get_free_pages(gfp: Gfp, order: usize) -> Option<usize> {
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
            __free_pages(p);
            None
        }
    }
}

#[cfg(target_os = "none")]
pub fn get_zeroed_page(gfp: Gfp) -> Option<usize> {
    __get_free_pages(gfp | Gfp::ZERO, 0)
}

/// Free what `__get_free_pages` returned.
///
/// # Safety
/// `addr` came from `__get_free_pages` with this `order`, and nothing uses the
/// memory afterwards.
#[cfg(target_os = "none")]
pub unsafe fn free_pages(addr: usize, order: usize) {
    assert!(addr >= PAGE_OFFSET && addr.is_multiple_of(PAGE_SIZE), "free_pages: bad address {:#x}", addr);
    let pfn = (virt_to_phys(addr) >> PAGE_SHIFT) as u32;
    // SAFETY: `addr` came from `__get_free_pages` (the caller's promise),
    // whose `alloc_pages` found the node built.
    let built = unsafe { NodeBuilt::new_unchecked() };
    __free_pages(Pages { pfn, order: Order::new(order), built });
}

/// Smallest order whose block holds `size` bytes.
#[cfg(target_os = "none")]
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
#[cfg(target_os = "none")]
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
    let addr = __get_free_pages(gfp, order)?;
    let used = size.div_ceil(PAGE_SIZE);
    let first = (virt_to_phys(addr) >> PAGE_SHIFT) as u32;
    with_node_mem_map(|node, mm| {
        // split_page: every page becomes an order-0 page of its own.
        for i in 0..(1u32 << order) {
            mm[(first + i) as usize].set_page_count(1);
        }
        for i in used as u32..(1u32 << order) {
            node.__free_pages(mm, first + i, 0);
        }
    });
    Some(addr)
}

/// Free what `alloc_pages_exact` returned.
///
/// # Safety
/// `addr` and `size` are those of an `alloc_pages_exact` block that nothing
/// uses afterwards.
#[cfg(target_os = "none")]
pub unsafe fn free_pages_exact(addr: usize, size: usize) {
    for i in 0..size.div_ceil(PAGE_SIZE) {
        // SAFETY: alloc_pages_exact split the block into order-0 pages.
        unsafe { free_pages(addr + i * PAGE_SIZE, 0) };
    }
}

/// Free pages of every zone, counting the pcp lists (`nr_free_pages`).
#[cfg(target_os = "none")]
pub fn nr_free_pages() -> u64 {
    with_node_mem_map(|node, _| node.nr_free_pages())
}

/// Bytes of RAM managed by the page allocator (`totalram_pages`).
#[cfg(target_os = "none")]
pub fn totalram_bytes() -> usize {
    with_node_mem_map(|node, _| node.managed_total() as usize * PAGE_SIZE)
}

/// Empty the pcp lists into the buddy allocator (Linux's
/// `drain_all_pages`), one batch per lock hold: interrupts come back
/// between batches.
#[cfg(target_os = "none")]
pub fn drain_all_pages() {
    for zone in 0..MAX_NR_ZONES {
        while with_node_mem_map(|node, mm| node.drain_pcp_batch(mm, zone)) > 0 {}
    }
}

// The zoned allocator behind the API: the node's and the zones' side.

impl Zone {
    /// Take a block for the zonelist walk, if the zone stays above `mark`
    /// (2.6.24's `buffered_rmqueue` behind its `zone_watermark_ok`): order 0
    /// from the pcp list, refilled by a batch from the buddy lists when it
    /// is empty; larger orders from the buddy lists under the zone's lock.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn buffered_rmqueue(
        &self,
        mem_map: &[Page],
        order: usize,
        mt: MigrateType,
        mark: u64,
        classzone: usize,
        high: bool,
        harder: bool,
    ) -> Option<u32> {
        if order != 0 {
            let mut buddy = self.lock();
            if !self.watermark_ok_locked(Some(&buddy), order, mark, classzone, high, harder) {
                return None;
            }
            return buddy.alloc(mem_map, order, mt);
        }
        if !self.watermark_ok_locked(None, 0, mark, classzone, high, harder) {
            return None;
        }
        self.rmqueue_pcplist(mem_map, mt)
    }
}

impl Node {
    /// Allocate 2^order frames; returns the first PFN. The head page gets a
    /// reference count of 1. `None` when every allowed zone is at its
    /// watermark (reclaim is the caller's: `alloc_pages` below).
    ///
    /// Inline so that the common case, an order-0 page off the preferred
    /// zone's pcp list, costs the caller no call at all; everything else
    /// goes to [`alloc_pages_slow`](Self::alloc_pages_slow).
    #[inline(always)]
    pub fn alloc_pages(&self, mem_map: &[Page], gfp: Gfp, order: usize) -> Option<u32> {
        if order == 0 {
            if let Some(pfn) = self.alloc_pcp_fast(|| mem_map, gfp) {
                mem_map[pfn as usize].set_page_count(1);
                return Some(pfn);
            }
        }
        self.alloc_pages_slow(mem_map, gfp, order)
    }

    /// The free lists an allocation uses. Without grouping every page lives
    /// on the Unmovable lists (as the buddy zones do), so the pcp list of an
    /// allocation matches its free.
    #[inline]
    fn alloc_type(&self, gfp: Gfp) -> MigrateType {
        if self.grouping {
            gfp.migratetype()
        } else {
            MigrateType::Unmovable
        }
    }

    /// The zonelist walk of 2.6.24's `__alloc_pages` up to reclaim:
    /// `get_page_from_freelist` at the `low` mark; failing that, wake kswapd
    /// for every zone of the zonelist that is below `low`; then again at
    /// `min`, lowered for high-priority and atomic callers. Reclaim and its
    /// retries are the caller's (`alloc_pages`), which may sleep.
    #[inline(never)]
    fn alloc_pages_slow(&self, mem_map: &[Page], gfp: Gfp, order: usize) -> Option<u32> {
        if order >= MAX_ORDER {
            return None;
        }
        // The order-0 route table knows the zonelist's start already
        // (Linux's GFP_ZONE_TABLE): no zone bits to decode here either.
        // And the free lists: the route's pcp list is the migrate type's own
        // (`Node::init` asserts it, in every build, as it fills the table).
        let route = self.pcp_route[route_index(gfp.bits())];
        let classzone = route.classzone? as usize & (MAX_NR_ZONES - 1);
        debug_assert_eq!(Some(classzone), self.classzone[gfp.zone() as usize]);
        let mt = route.list.migratetype();
        debug_assert_eq!(mt, self.alloc_type(gfp));
        if let Some(pfn) = self.get_page_from_freelist(mem_map, order, mt, classzone, Watermark::Low, false, false) {
            return Some(pfn);
        }
        for i in (0..=classzone).rev() {
            self.wakeup_kswapd(i, order);
        }
        let (high, harder) = (gfp.contains(Gfp::HIGH), !gfp.may_sleep());
        self.get_page_from_freelist(mem_map, order, mt, classzone, Watermark::Min, high, harder)
    }

    /// The first zone of the zonelist, from `classzone` down, that stays
    /// above `mark` after the allocation, and a block from it. Each zone is
    /// locked in turn, never two at once.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn get_page_from_freelist(
        &self,
        mem_map: &[Page],
        order: usize,
        mt: MigrateType,
        classzone: usize,
        mark: Watermark,
        high: bool,
        harder: bool,
    ) -> Option<u32> {
        for zone in self.zones[..=classzone].iter().rev().filter(|z| z.is_populated()) {
            let wmark = zone.watermark(mark);
            if let Some(pfn) = zone.buffered_rmqueue(mem_map, order, mt, wmark, classzone, high, harder) {
                zone.alloc_count.fetch_add(1, Relaxed);
                return Some(pfn);
            }
        }
        None
    }

    /// Linux's `wakeup_kswapd`: a zone below its `low` mark asks the
    /// background reclaimer (`mm::vmscan::kswapd`) to bring it back up to
    /// `high`; the wake-ups are counted per zone (`zoneinfo`).
    fn wakeup_kswapd(&self, zone: usize, order: usize) {
        let z = &self.zones[zone];
        if !z.is_populated() || z.watermark_ok(order, z.watermark(Watermark::Low), 0, false, false) {
            return;
        }
        z.kswapd_wakeups.fetch_add(1, Relaxed);
        #[cfg(target_os = "none")]
        super::vmscan::wakeup_kswapd();
    }

    /// Free 2^order frames at `pfn` whose last reference is gone (Linux's
    /// `__free_pages`). Inline: an order-0 free is a push onto a pcp list
    /// behind two cheap checks (`free_hot_page`, in `pcp`).
    #[inline(always)]
    pub fn __free_pages(&self, mem_map: &[Page], pfn: u32, order: usize) {
        let page = &mem_map[pfn as usize];
        // One load of the flags word gives the zone and the flags to check.
        let word = page.flags_word();
        let zone = &self.zones[(word >> super::page::ZONE_SHIFT) as usize];
        if !zone.contains(pfn) {
            bad_zone(pfn);
        }
        // Linux's free_pages_check: a page freed twice (refcount already 0:
        // it sits on a pcp list or in the buddy allocator) or still owned
        // by the slab allocator would later be handed to two owners.
        if page.page_count() != 1 || page.page_mapcount() != 0 || word & FREE_CHECK_FLAGS.bits() != 0 {
            bad_page(pfn, page);
        }
        page.set_page_count(0);
        // The page is the freeing caller's alone until it is on a list.
        page.__set_flags_word(word & !(PageFlags::DIRTY | PageFlags::REFERENCED).bits());
        if order != 0 {
            Self::free_one_page(zone, mem_map, pfn, order);
            return;
        }
        let mt = zone.pageblock_type_raw(pfn);
        // A page of an isolated pageblock must not be handed out again from
        // a pcp list: it goes straight to the buddy's Isolate list (Linux's
        // free_hot_cold_page / free_pcppages_bulk check MIGRATE_ISOLATE).
        if mt == MigrateType::Isolate as u8 {
            Self::free_one_page(zone, mem_map, pfn, 0);
            return;
        }
        zone.free_hot_page(mem_map, pfn, mt);
    }

    /// A block of order 1 or more, or a page of an isolated pageblock, goes
    /// straight to the buddy allocator (Linux's `free_one_page`), its head
    /// checked by the caller.
    #[inline(never)]
    fn free_one_page(zone: &Zone, mem_map: &[Page], pfn: u32, order: usize) {
        zone.lock().free_checked(mem_map, pfn, order);
    }
}

#[cold]
#[inline(never)]
fn bad_zone(pfn: u32) -> ! {
    panic!("freeing pfn {:#x} outside its zone", pfn);
}

/// Flags a page may not carry when it is freed (Linux 2.6.24's
/// `free_pages_check`): still owned by the slab, the LRU or I/O, never
/// allocatable, or part of a compound page whose owner did not take it
/// apart.
///
/// A free block's head (`is_buddy`) is caught by the count and map-count
/// checks: its count is 0 and its `_mapcount` is the buddy mark.
const FREE_CHECK_FLAGS: PageFlags = PageFlags::RESERVED
    .union(PageFlags::SLAB)
    .union(PageFlags::LRU)
    .union(PageFlags::ACTIVE)
    .union(PageFlags::LOCKED)
    .union(PageFlags::WRITEBACK)
    .union(PageFlags::SWAPCACHE)
    .union(PageFlags::UNEVICTABLE)
    .union(PageFlags::HEAD)
    .union(PageFlags::TAIL);

#[cold]
#[inline(never)]
fn bad_page(pfn: u32, page: &Page) -> ! {
    panic!(
        "BUG: Bad page state: pfn {:#x} freed with flags:{:?} mapcount:{} count:{} (freed twice, or still in use)",
        pfn,
        page.flags() & FREE_CHECK_FLAGS,
        page.page_mapcount(),
        page.page_count()
    );
}

/// Whether an allocation that failed after reclaim goes round again
/// (2.6.24's `__alloc_pages` after `try_to_free_pages`): only if reclaim
/// freed something, never with `__GFP_NORETRY`, and above
/// `PAGE_ALLOC_COSTLY_ORDER` only when the caller insists (`__GFP_REPEAT`,
/// `__GFP_NOFAIL`): large contiguous blocks rarely come back from reclaim.
/// Linux also loops for `__GFP_NOFAIL` when reclaim made no progress,
/// through the OOM killer; with no OOM killer yet that would hang, so here
/// it gives up and the failure is reported.
pub fn should_alloc_retry(gfp: Gfp, order: usize, did_some_progress: bool) -> bool {
    use super::gfp::PAGE_ALLOC_COSTLY_ORDER;
    if !did_some_progress || gfp.contains(Gfp::NORETRY) {
        return false;
    }
    order <= PAGE_ALLOC_COSTLY_ORDER || gfp.intersects(Gfp::REPEAT | Gfp::NOFAIL)
}

#[cfg(test)]
mod tests;
