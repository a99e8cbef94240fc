//! kmalloc (Linux's `kmalloc_caches`, `create_kmalloc_caches`,
//! `kmalloc_slab`, `kmalloc_large`, `ksize` and `krealloc` in
//! `mm/slab_common.c`, with 2.6.24's i386 size classes): `kmalloc`,
//! `kzalloc`, `kfree`, `ksize`, `krealloc`, the `kmalloc-*` and
//! `dma-kmalloc-*` caches, whole pages above 8 KB, and the report of what
//! each class served. A child of `slab_common`, so that it reaches the
//! caches through the registry without anyone else seeing it.

use super::slot_lock::SlotLock;
use super::{create_in, foreign, irqs_off, slot_alloc, slot_alloc_cached, slot_free, slot_of_id, Slot, CACHES};
use crate::layout::{virt_to_phys, PAGE_OFFSET, PAGE_SHIFT, PAGE_SIZE};
use crate::mm::failslab::should_failslab;
use crate::mm::gfp::Gfp;
use crate::mm::mmzone::pfn_to_page;
use crate::mm::page::{Page, PageFlags};
use crate::mm::page_alloc::{self, __get_free_pages, Pages};
use crate::mm::slab::sizing::{kmalloc_align, KMALLOC_SIZES};
use crate::mm::slab::{KmemCache, SlabFlags, SlabStats};
use core::fmt;
use core::num::NonZeroU32;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

const KMALLOC_NAMES: [&str; 13] = [
    "kmalloc-8",
    "kmalloc-16",
    "kmalloc-32",
    "kmalloc-64",
    "kmalloc-96",
    "kmalloc-128",
    "kmalloc-192",
    "kmalloc-256",
    "kmalloc-512",
    "kmalloc-1k",
    "kmalloc-2k",
    "kmalloc-4k",
    "kmalloc-8k",
];
const DMA_NAMES: [&str; 13] = [
    "dma-kmalloc-8",
    "dma-kmalloc-16",
    "dma-kmalloc-32",
    "dma-kmalloc-64",
    "dma-kmalloc-96",
    "dma-kmalloc-128",
    "dma-kmalloc-192",
    "dma-kmalloc-256",
    "dma-kmalloc-512",
    "dma-kmalloc-1k",
    "dma-kmalloc-2k",
    "dma-kmalloc-4k",
    "dma-kmalloc-8k",
];
/// Largest request served by a slab; above, whole pages.
pub const KMALLOC_MAX_CACHE_SIZE: usize = 8192;
/// Largest request at all: one order-10 block (4 MB).
pub const KMALLOC_MAX_SIZE: usize = PAGE_SIZE << 10;
/// What `kmalloc(0)` returns: not null, never dereferenceable (Linux's ZERO_SIZE_PTR).
pub const ZERO_SIZE_PTR: usize = 16;

static KMALLOC_SLOT: [AtomicUsize; 13] = [const { AtomicUsize::new(usize::MAX) }; 13];
/// kmalloc's hit path finds its cache here, by 8-byte steps of the size
/// up to 1 KB: Linux's `kmalloc_caches[size_index[(size - 1) / 8]]` (its
/// `size_index` stops at 192 bytes, where 96 and 192 break the powers of
/// two) in one load, a pointer, with no slot number to check and scale.
/// Until `create_kmalloc_caches` opens it ([`kmalloc_hit_path`]) every
/// entry points at `NO_CACHE`, whose array cache is always empty, so every
/// call goes to the slow path. Failslab does not touch it: it closes the
/// slots' gates (`slab_hit_paths`), which the hit meets next. Larger requests (2 KB..8 KB classes, pages) are classed
/// there, by `class_of`.
static KMALLOC_HIT: [AtomicPtr<SlotLock>; SIZE_INDEX.len()] =
    [const { AtomicPtr::new(&NO_CACHE as *const SlotLock as *mut SlotLock) }; SIZE_INDEX.len()];
static NO_CACHE: SlotLock = SlotLock::new(Slot::EMPTY);
static DMA_SLOT: [AtomicUsize; 13] = [const { AtomicUsize::new(usize::MAX) }; 13];

/// kmalloc calls above 8 KB (whole pages): allocations, bytes requested,
/// bytes handed out (cumulative). The slab classes count in their `Slot`.
struct PageStats {
    count: AtomicU64,
    requested: AtomicU64,
    allocated: AtomicU64,
}
static PAGE_STATS: PageStats =
    PageStats { count: AtomicU64::new(0), requested: AtomicU64::new(0), allocated: AtomicU64::new(0) };

/// Create the kmalloc caches and their dma-kmalloc twins (Linux's
/// `create_kmalloc_caches`), with `extra` flags (debugging, PANIC).
pub(super) fn create_kmalloc_caches(extra: SlabFlags) {
    for (i, &size) in KMALLOC_SIZES.iter().enumerate() {
        // Natural alignment for powers of two (`kmalloc_align`): from 512
        // bytes up the slab management is off the slab, so it costs nothing.
        // Created smallest first: an off-slab class keeps its management in
        // a smaller one, which exists by then. The kmalloc caches are never
        // destroyed: their handles are dropped, their slots kept.
        let align = kmalloc_align(size);
        let c = create_in(KMALLOC_NAMES[i], size, align, extra, None, false).expect("kmalloc cache");
        KMALLOC_SLOT[i].store(c.slot, Ordering::Relaxed);
        let d = create_in(DMA_NAMES[i], size, align, extra, None, true).expect("dma-kmalloc cache");
        DMA_SLOT[i].store(d.slot, Ordering::Relaxed);
    }
    kmalloc_hit_path();
}

/// Open kmalloc's hit path: point [`KMALLOC_HIT`] at the caches, once
/// they exist. While failslab is on, their slots' gates keep the hit shut
/// (`slab_hit_paths`), so that every call meets `should_failslab` on the
/// slow path and the hit pays no test of its own for it.
fn kmalloc_hit_path() {
    for (k, &class) in SIZE_INDEX.iter().enumerate() {
        let lock = match CACHES.get(KMALLOC_SLOT[class as usize].load(Ordering::Relaxed)) {
            Some(lock) => lock,
            None => &NO_CACHE,
        };
        KMALLOC_HIT[k].store(lock as *const SlotLock as *mut SlotLock, Ordering::Relaxed);
    }
}

/// The slab statistics of the kmalloc class serving `size` bytes.
pub fn kmalloc_class_stats(size: usize) -> Option<SlabStats> {
    let slot = KMALLOC_SLOT[class_of(size)?].load(Ordering::Relaxed);
    Some(CACHES.get(slot)?.lock().cache.stats())
}

/// The kmalloc class of a request of 1..=8192 bytes: a table lookup up to
/// 1 KB (Linux's `size_index`, which stops at 192 bytes, where 96 and 192
/// break the powers of two; carried on here so that the common sizes cost
/// one compare and one load), the next power of two's log above.
#[inline]
const fn class_of(size: usize) -> Option<usize> {
    // Size 0 wraps to the top: one compare for both ends.
    if size.wrapping_sub(1) < SIZE_INDEX_MAX {
        Some(SIZE_INDEX[(size - 1) / 8] as usize)
    } else if size == 0 || size > KMALLOC_MAX_CACHE_SIZE {
        None
    } else {
        // 1025..=2048 -> 10 (2k), 2049..=4096 -> 11, 4097..=8192 -> 12.
        Some((usize::BITS - (size - 1).leading_zeros()) as usize - 1)
    }
}

/// Sizes up to this are classed by [`SIZE_INDEX`].
const SIZE_INDEX_MAX: usize = 1024;
/// The class of sizes (8k-7)..=8k, for k = 1..=128 (every class size is a
/// multiple of 8, so all eight share it): the smallest that fits 8k.
const SIZE_INDEX: [u8; SIZE_INDEX_MAX / 8] = {
    let mut t = [0u8; SIZE_INDEX_MAX / 8];
    let mut k = 0;
    while k < t.len() {
        let mut class = 0;
        while KMALLOC_SIZES[class] < 8 * (k + 1) {
            class += 1;
        }
        t[k] = class as u8;
        k += 1;
    }
    t
};

// `class_of` picks the smallest class that fits, for every size.
const _: () = {
    let mut size = 1;
    while size <= KMALLOC_MAX_CACHE_SIZE {
        let Some(i) = class_of(size) else { panic!("class_of: no class") };
        assert!(KMALLOC_SIZES[i] >= size && (i == 0 || KMALLOC_SIZES[i - 1] < size), "class_of: wrong class");
        size += 1;
    }
    assert!(class_of(KMALLOC_MAX_CACHE_SIZE + 1).is_none());
};

/// `kmalloc`: `size` bytes of lowmem; `GFP_DMA` for ZONE_DMA. `failslab=`
/// may fail it on purpose, unless `__GFP_NOFAIL`.
#[inline]
pub fn kmalloc(size: usize, gfp: Gfp) -> Option<NonNull<u8>> {
    // The hit: up to 1 KB of normal memory, no fault injection armed, and
    // an object in the class's array cache (Linux's `__do_kmalloc`
    // reaching `____cache_alloc`'s `ac->avail`). The rest is out of line.
    // Size 0 wraps to the top: one compare for both ends.
    let step = size.wrapping_sub(1) / 8;
    if step < KMALLOC_HIT.len() && !gfp.intersects(Gfp::HIGHMEM.union(Gfp::DMA)) {
        // SAFETY: the table holds pointers to statics only.
        let lock = unsafe { &*KMALLOC_HIT[step].load(Ordering::Relaxed) };
        if let Some(p) = slot_alloc_cached(lock, gfp, Some(size)) {
            if gfp.contains(Gfp::ZERO) {
                // SAFETY: at least `size` bytes were just allocated at p.
                unsafe { core::ptr::write_bytes(p.as_ptr(), 0, size) };
            }
            return Some(p);
        }
    }
    kmalloc_slow(size, gfp)
}

/// The rest of [`kmalloc`]: size 0, fault injection, DMA, whole pages, an
/// empty array cache, bad flags.
#[inline(never)]
fn kmalloc_slow(size: usize, gfp: Gfp) -> Option<NonNull<u8>> {
    if size == 0 {
        return NonNull::new(ZERO_SIZE_PTR as *mut u8);
    }
    if should_failslab(size, gfp) {
        return None;
    }
    if gfp.contains(Gfp::HIGHMEM) {
        crate::kernel::panic::warn(format_args!(
            "BUG: kmalloc with __GFP_HIGHMEM: kmalloc memory must have an address"
        ));
        return None;
    }
    let ptr = match class_of(size) {
        Some(i) => {
            let slot = if gfp.contains(Gfp::DMA) { &DMA_SLOT[i] } else { &KMALLOC_SLOT[i] };
            let slot = slot.load(Ordering::Relaxed);
            if slot == usize::MAX {
                panic!("kmalloc({}) before kmem_cache_init", size);
            }
            slot_alloc(&CACHES[slot], slot, gfp, Some(size))?
        }
        None if size <= KMALLOC_MAX_SIZE => kmalloc_pages(size, gfp)?,
        None => {
            if !gfp.contains(Gfp::NOWARN) {
                crate::pr_warn!("kmalloc: {} bytes is more than KMALLOC_MAX_SIZE ({})", size, KMALLOC_MAX_SIZE);
            }
            return None;
        }
    };
    if gfp.contains(Gfp::ZERO) {
        // SAFETY: at least `size` bytes were just allocated at ptr.
        unsafe { core::ptr::write_bytes(ptr.as_ptr(), 0, size) };
    }
    Some(ptr)
}

/// A kmalloc above 8 KB: a whole block of pages, its head marked with the order.
#[inline(never)]
pub(in crate::mm) fn kmalloc_pages(size: usize, gfp: Gfp) -> Option<NonNull<u8>> {
    let order = page_alloc::get_order(size);
    let addr = __get_free_pages(gfp, order)?;
    let pfn = virt_to_phys(addr) >> PAGE_SHIFT;
    if let Some(page) = pfn_to_page(pfn) {
        // Just allocated: ours alone (Linux's __SetPageHead).
        page.set_private(order as u32);
        page.__set_flag(PageFlags::HEAD);
    }
    PAGE_STATS.count.fetch_add(1, Ordering::Relaxed);
    PAGE_STATS.requested.fetch_add(size as u64, Ordering::Relaxed);
    PAGE_STATS.allocated.fetch_add((PAGE_SIZE << order) as u64, Ordering::Relaxed);
    NonNull::new(addr as *mut u8)
}

pub fn kzalloc(size: usize, gfp: Gfp) -> Option<NonNull<u8>> {
    kmalloc(size, gfp | Gfp::ZERO)
}

/// What a pointer handed to kfree/ksize is.
enum Owner {
    /// In a slab of the cache (slot, id).
    Slab(usize, NonZeroU32),
    Pages(usize),
    Foreign,
}

/// The descriptor of the lowmem page holding `ptr` (Linux's
/// `virt_to_page`), or `None` outside the direct map.
#[inline(always)]
pub(super) fn page_of(ptr: usize) -> Option<&'static Page> {
    // One compare: below PAGE_OFFSET wraps to a huge frame number.
    let pfn = ptr.wrapping_sub(PAGE_OFFSET) >> PAGE_SHIFT;
    if pfn >= crate::mm::mmzone::max_low_pfn() {
        return None;
    }
    pfn_to_page(pfn)
}

/// The descriptor of the page at `ptr` if it is a slab page (Linux's
/// `virt_to_page` and `PageSlab`), for the hit paths: one bound check.
/// Slab pages are lowmem, in the direct map, and no other address reaches
/// a lowmem frame by the direct map's arithmetic (one below `PAGE_OFFSET`
/// wraps to 1 GB and up, past `MAXMEM`), so a slab page found so is the
/// page `ptr` is in.
#[inline(always)]
pub(super) fn slab_page_of(ptr: usize) -> Option<&'static Page> {
    let mem_map = crate::mm::mmzone::mem_map();
    let pfn = ptr.wrapping_sub(PAGE_OFFSET) >> PAGE_SHIFT;
    if pfn >= mem_map.len() {
        return None;
    }
    // Indexed, not `get`: a reference, so no test of the result for null.
    let page = &mem_map[pfn];
    page.is_slab().then_some(page)
}

const _: () = assert!(
    0usize.wrapping_sub(PAGE_OFFSET) >= crate::layout::MAXMEM,
    "an address below PAGE_OFFSET must wrap past lowmem"
);

#[inline(always)]
fn owner_of(ptr: usize) -> Owner {
    let Some(page) = page_of(ptr) else {
        return Owner::Foreign;
    };
    // The owner of a live allocation keeps these words stable.
    let (flags, cache_id, private) = (page.flags(), page.slab_cache(), page.private());
    if flags.contains(PageFlags::SLAB) {
        // A slab page always names its cache: an id of 0 is not ours. The
        // slot is checked to hold this id by whoever uses it.
        match NonZeroU32::new(cache_id) {
            Some(id) => Owner::Slab(slot_of_id(cache_id), id),
            None => Owner::Foreign,
        }
    } else if flags.contains(PageFlags::HEAD) && ptr.is_multiple_of(PAGE_SIZE) {
        Owner::Pages(private as usize)
    } else {
        Owner::Foreign
    }
}

/// `kfree`. Null and ZERO_SIZE_PTR are ignored, as in Linux. A pointer kmalloc
/// did not return is reported, not freed.
///
/// # Safety
/// If `ptr` came from kmalloc, nothing may use the block after this call.
// Out of line, as Linux's: inlined into a caller's loop it only trades
// the call for spills, and every `Drop` of a Box or Vec would carry it.
#[inline(never)]
pub unsafe fn kfree(ptr: *mut u8) {
    let addr = ptr as usize;
    // The hit, as Linux's kfree: with interrupts off, `virt_to_cache` and
    // `__cache_free` pushing onto the array cache, no lock. Null and
    // ZERO_SIZE_PTR are on no slab page (`slab_page_of`): the slow path
    // ignores them.
    let done = irqs_off(|off| {
        let Some(page) = slab_page_of(addr) else {
            return false;
        };
        let id = page.slab_cache();
        // SAFETY: the page is marked as a slab page, and with interrupts
        // off its marks stay.
        let Some(hit) = (unsafe { KmemCache::free_hit_check(addr, page.private() as usize) }) else {
            return false;
        };
        // SAFETY: the closure reaches this slot's array cache and the
        // object's slab only. The page, read with interrupts off and the
        // cache's lock free (`with_cpu`), names a slab of cache `id` (its
        // marks change only under that lock), and that cache is alive and
        // in the slot of its id (only registry caches mark pages,
        // `KernelPages::set_slab_owner`): an object that reads BUFCTL_ACTIVE
        // (`free_hit_check`) is allocated, and a cache is destroyed only
        // when none of its objects is (`KmemCache::destroy`; the slabs it
        // leaves behind hold quarantined objects only). So the slot's id
        // needs no test of its own here (the slow path, which may find
        // anything, tests it). The caller gives the block up.
        unsafe {
            CACHES[slot_of_id(id)].with_cpu(off, |s| {
                debug_assert_eq!(s.cache.id(), id);
                s.cache.free_cached(hit)
            })
        }
        .unwrap_or(false)
    });
    if !done {
        // SAFETY: the caller's contract.
        unsafe { kfree_slow(ptr) }
    }
}

/// `kfree` under the cache's lock: a full array, a debug cache, a bad
/// pointer, or a block of whole pages; or nothing to free.
///
/// # Safety
/// As [`kfree`].
#[inline(never)]
unsafe fn kfree_slow(ptr: *mut u8) {
    let addr = ptr as usize;
    if addr <= ZERO_SIZE_PTR {
        return;
    }
    match owner_of(addr) {
        Owner::Slab(slot, id) => {
            // SAFETY: addr > ZERO_SIZE_PTR, so the pointer is not null; the
            // caller gives up a block kmalloc returned (or one the checks
            // report), the contract of `slot_free`; `owner_of` saw its page
            // marked as a slab page of cache `id`.
            unsafe { slot_free::<true>(&CACHES[slot], id, NonNull::new_unchecked(ptr)) }
        }
        Owner::Pages(order) => kfree_pages(addr, order),
        Owner::Foreign => foreign("kfree", addr),
    }
}

#[inline(never)]
fn kfree_pages(addr: usize, order: usize) {
    let pfn = virt_to_phys(addr) >> PAGE_SHIFT;
    if let Some(page) = pfn_to_page(pfn) {
        page.__clear_flag(PageFlags::HEAD);
        page.set_private(0);
    }
    // SAFETY: the head page says this block came from kmalloc_pages with this order.
    page_alloc::__free_pages(unsafe { Pages::from_raw(pfn as u32, order) });
}

/// `ksize`: the bytes really usable at `ptr` (its class size).
pub fn ksize(ptr: *const u8) -> usize {
    let addr = ptr as usize;
    if addr <= ZERO_SIZE_PTR {
        return 0;
    }
    match owner_of(addr) {
        Owner::Slab(slot, id) => {
            let s = CACHES[slot].lock();
            if s.cache.id() == id.get() {
                s.cache.object_size()
            } else {
                // The page named a cache that is gone: not a kmalloc block.
                drop(s);
                foreign("ksize", addr);
                0
            }
        }
        Owner::Pages(order) => PAGE_SIZE << order,
        Owner::Foreign => {
            foreign("ksize", addr);
            0
        }
    }
}

/// `krealloc`: grow or shrink, keeping the contents; in place when the
/// class already fits.
///
/// # Safety
/// `ptr` is null, ZERO_SIZE_PTR or a live kmalloc block; on success the old
/// block must not be used any more.
pub unsafe fn krealloc(ptr: *mut u8, new_size: usize, gfp: Gfp) -> Option<NonNull<u8>> {
    if ptr as usize <= ZERO_SIZE_PTR {
        return kmalloc(new_size, gfp);
    }
    if new_size == 0 {
        // SAFETY: the caller passes a live block and asked for size 0: it is done with it.
        unsafe { kfree(ptr) };
        return NonNull::new(ZERO_SIZE_PTR as *mut u8);
    }
    let old = ksize(ptr);
    if old >= new_size {
        return NonNull::new(ptr);
    }
    let new = kmalloc(new_size, gfp)?;
    // SAFETY: both blocks are ours, `old` bytes are valid in each, and they
    // are distinct allocations.
    unsafe { core::ptr::copy_nonoverlapping(ptr, new.as_ptr(), old) };
    // SAFETY: the contents were copied; the caller no longer uses the old block.
    unsafe { kfree(ptr) };
    Some(new)
}

/// One line per kmalloc class: allocations, bytes requested and handed out,
/// and the internal fragmentation between them.
pub fn kmalloc_summary(out: &mut impl fmt::Write) -> fmt::Result {
    writeln!(out, "{:<14} {:>10} {:>14} {:>14} {:>7}", "class", "allocs", "requested", "allocated", "used")?;
    for (i, name) in KMALLOC_NAMES.iter().enumerate() {
        // A class is served by its kmalloc cache and its dma-kmalloc twin.
        let (mut n, mut r) = (0, 0);
        for slot in [&KMALLOC_SLOT[i], &DMA_SLOT[i]] {
            if let Some(s) = CACHES.get(slot.load(Ordering::Relaxed)) {
                let s = s.lock();
                n += s.kmalloc_count;
                r += s.kmalloc_requested;
            }
        }
        summary_line(out, name, n, r, n * KMALLOC_SIZES[i] as u64)?;
    }
    let p = &PAGE_STATS;
    summary_line(
        out,
        "pages (>8k)",
        p.count.load(Ordering::Relaxed),
        p.requested.load(Ordering::Relaxed),
        p.allocated.load(Ordering::Relaxed),
    )
}

/// One class's line; "used" is `-` for a class that never served a call
/// (no bytes handed out: nothing to divide by, nothing used or wasted).
fn summary_line(out: &mut impl fmt::Write, name: &str, n: u64, r: u64, a: u64) -> fmt::Result {
    write!(out, "{:<14} {:>10} {:>14} {:>14} ", name, n, r, a)?;
    match (r * 100).checked_div(a) {
        None => writeln!(out, "{:>7}", "-"),
        Some(pct) => writeln!(out, "{:>6}%", pct),
    }
}
