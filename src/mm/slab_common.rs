//! The kernel's cache registry and kmalloc, on top of `mm::slab` (Linux's
//! `mm/slab_common.c`, and the kernel side of 2.6.24's `mm/slab.c` and
//! `include/linux/slab.h`): `kmem_cache_create` & co., the [`Cache`]
//! handle, `kmalloc`/`kfree`/`ksize`/`krealloc` with Linux's size classes,
//! `dma-kmalloc-*` on ZONE_DMA (in the child module `kmalloc`), the
//! shrinker, and the `/proc/slabinfo` report. Rust's global allocator is
//! in `mm/allocator.rs`, `failslab=` in `mm/failslab.rs`,
//! `dma_alloc_coherent` in `mm/dma.rs`.
//!
//! Slab pages come from the buddy allocator (lowmem, through the direct
//! map; `mm/slab/kernel_pages.rs`); each page's descriptor names its cache
//! (`PageFlags::SLAB`, `slab_cache` = the cache id, whose low bits are the
//! cache's slot) and its slab's management (`private`), which is how
//! `kfree` finds the cache of a pointer, as Linux's `virt_to_cache` does.
//! Requests above 8 KB get whole pages (order <= 10), marked
//! `PageFlags::HEAD` with the order in `private`.
//!
//! **The hit paths take no lock** (Linux's SLAB does the same: its
//! `__cache_alloc` and `kfree` only disable interrupts around the per-CPU
//! array). kmalloc with an object in its class's array cache, and kfree
//! or `kmem_cache_free` with room in it, run with interrupts off and check
//! with one compare of the slot's gate that no frame below holds the
//! cache's lock and that failslab is off (`slab_common/slot_lock.rs`). The
//! free first checks, from the object's page and its slab's header alone,
//! that the pointer is an object's start in a slab of the cache and that
//! the object is allocated (`KmemCache::free_hit_check`), then pushes it
//! (`KmemCache::free_cached`). Everything else (a refill, a flush,
//! growing, a debug cache, fault injection, a bad pointer to report) takes
//! the cache's lock, as before.
//!
//! An allocation that may sleep grows its cache without the cache's lock,
//! through the page allocator's sleeping path (direct reclaim); others grow
//! it under the lock without sleeping. A cache that cannot grow says so
//! (`SLAB: Unable to allocate memory on node 0`) unless `__GFP_NOWARN`.
//! Rust's collections allocate with `GFP_KERNEL | __GFP_NOFAIL`: they
//! cannot handle a failure, so `failslab=` (and `fail_page_alloc=`, in the
//! page allocator) leave them alone.

use super::failslab::{failslab_enabled, should_failslab};
use super::gfp::Gfp;
use super::slab::grow::GrowSpec;
use super::slab::kernel_pages::KernelPages;
use super::slab::sizing::KMALLOC_SIZES;
use super::slab::slab_debug::SlabBug;
use super::slab::{
    slabinfo_header, write_slabinfo, AllocError, CreateError, DestroyError, KmemCache, SlabFlags, SlabStats,
    CACHE_ID_TAG_BITS,
};
use core::fmt;
use core::num::NonZeroU32;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use kmalloc::KMALLOC_MAX_CACHE_SIZE;
use slot_lock::{irqs_off, SlotGuard, SlotLock};

pub mod kmalloc;
mod slot_lock;

/// Most caches at once.
pub const MAX_CACHES: usize = 64;

/// One registry slot: a cache, where its slabs come from, and the kmalloc
/// statistics of the calls it served. The statistics live under the
/// cache's lock, which the allocation holds anyway, so counting costs two
/// plain 64-bit adds instead of `cmpxchg8b` loops (i686 has no 64-bit
/// atomic add).
struct Slot {
    cache: KmemCache,
    /// Where its slabs come from (ZONE_DMA for `dma-kmalloc`), as the
    /// provider under the slot's lock: it never sleeps. Kept in the slot
    /// (as Linux keeps `gfpflags` in `struct kmem_cache`), so that the free
    /// path passes its address instead of building one.
    pages: KernelPages,
    /// kmalloc calls served by this cache, and the bytes they asked for.
    kmalloc_count: u64,
    kmalloc_requested: u64,
}

impl Slot {
    const EMPTY: Slot = Slot {
        cache: KmemCache::empty(),
        pages: KernelPages { dma: false, may_sleep: false },
        kmalloc_count: 0,
        kmalloc_requested: 0,
    };
}

static CACHES: [SlotLock; MAX_CACHES] = [const { SlotLock::new(Slot::EMPTY) }; MAX_CACHES];
/// The id of the cache in each slot (0: free slot), readable without locks.
static IDS: [AtomicU32; MAX_CACHES] = [const { AtomicU32::new(0) }; MAX_CACHES];
static SLAB_DEBUG: AtomicBool = AtomicBool::new(false);
// A registry cache's id carries its slot in its low bits (`init_tagged`),
// so kfree finds the slot from the page's id alone (`slot_of_id`).
const _: () = assert!(MAX_CACHES == 1 << CACHE_ID_TAG_BITS, "a slot must fit the id's tag bits");

/// The slot of the cache with id `id`, if that cache still exists. The
/// slow paths check the id under the slot's lock; kfree's hit does not,
/// and relies on a marked slab page's object reading `BUFCTL_ACTIVE` only
/// while its cache lives (see `kmalloc::kfree`).
#[inline(always)]
fn slot_of_id(id: u32) -> usize {
    (id & (MAX_CACHES as u32 - 1)) as usize
}

/// Whether `id` is the cache in the slot its tag names: the kernel's slab
/// pages are marked only for these (`KernelPages::set_slab_owner` checks),
/// which kfree's hit relies on to find a page's cache from its id alone.
pub(in crate::mm) fn cache_registered(id: u32) -> bool {
    id != 0 && IDS[slot_of_id(id)].load(Ordering::Relaxed) == id
}

/// Debug findings reported (for tests).
pub static SLAB_BUGS: AtomicUsize = AtomicUsize::new(0);
/// Slab allocations that failed for want of pages (for tests).
pub static SLAB_OOMS: AtomicUsize = AtomicUsize::new(0);

/// Why `kmem_cache_create` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheError {
    Slab(CreateError),
    TooManyCaches { name: &'static str },
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheError::Slab(e) => write!(f, "{}", e),
            CacheError::TooManyCaches { name } => {
                write!(f, "kmem_cache_create({}): all {} cache slots in use", name, MAX_CACHES)
            }
        }
    }
}

/// A cache made by `kmem_cache_create`: the only handle to it. It is
/// neither `Copy` nor `Clone`, and [`destroy`](Cache::destroy) consumes it,
/// so no handle outlives its cache. The id (unique per creation) is
/// checked on the slow paths (kfree's too), where a mismatch is a reported
/// BUG, never a use of whatever cache took the slot next. The array-cache
/// hits only debug-assert it: those of `alloc` and `free` because the
/// handle is unique, kfree's because only an allocated object of a live
/// cache reads `BUFCTL_ACTIVE` (see `kmalloc::kfree`).
pub struct Cache {
    slot: usize,
    /// `&CACHES[slot]`, so that `alloc` and `free` index nothing (Linux's
    /// `struct kmem_cache *` is the cache itself).
    lock: &'static SlotLock,
    /// Never 0 (that means "no cache"): the free path's checks of the id
    /// then need no test of their own for 0.
    id: NonZeroU32,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache").field("slot", &self.slot).field("id", &self.id).finish()
    }
}

impl PartialEq for Cache {
    fn eq(&self, other: &Cache) -> bool {
        (self.slot, self.id) == (other.slot, other.id)
    }
}

impl Eq for Cache {}

/// `destroy` refused: objects are still allocated. The cache is intact and
/// its handle comes back.
#[derive(Debug)]
pub struct CacheBusy {
    pub cache: Cache,
    pub error: DestroyError,
}

#[cold]
#[inline(never)]
fn report_free(bug: SlabBug) {
    report(&bug);
}

fn report(bug: &SlabBug) {
    SLAB_BUGS.fetch_add(1, Ordering::Relaxed);
    crate::kernel::panic::warn(format_args!("BUG: {}", bug));
}

/// `kmem_cache_create`: a cache of `size`-byte objects. With `slab_debug`
/// on the command line every cache gets red zones and poisoning.
///
/// The constructor runs while the cache's lock is held (interrupts off):
/// it must not allocate from the same cache (that would spin forever) and
/// should not sleep; setting fields up is what it is for.
pub fn kmem_cache_create(
    name: &'static str,
    size: usize,
    align: usize,
    mut flags: SlabFlags,
    ctor: Option<fn(*mut u8)>,
) -> Result<Cache, CacheError> {
    if SLAB_DEBUG.load(Ordering::Relaxed) {
        flags |= SlabFlags::DEBUG;
    }
    create_in(name, size, align, flags, ctor, false)
}

fn create_in(
    name: &'static str,
    size: usize,
    align: usize,
    flags: SlabFlags,
    ctor: Option<fn(*mut u8)>,
    dma: bool,
) -> Result<Cache, CacheError> {
    for slot in 0..MAX_CACHES {
        if IDS[slot].load(Ordering::Relaxed) != 0 {
            continue;
        }
        let mut s = CACHES[slot].lock();
        if s.cache.id() != 0 {
            continue;
        }
        s.cache.init_tagged(slot as u32, name, size, align, flags, ctor).map_err(CacheError::Slab)?;
        s.pages.dma = dma;
        s.kmalloc_count = 0;
        s.kmalloc_requested = 0;
        let id = s.cache.id();
        IDS[slot].store(id, Ordering::Relaxed);
        debug_assert_eq!(slot_of_id(id), slot);
        let id = NonZeroU32::new(id).expect("a created cache has an id");
        return Ok(Cache { slot, lock: &CACHES[slot], id });
    }
    if flags.contains(SlabFlags::PANIC) {
        panic!("kmem_cache_create({}): more than {} caches", name, MAX_CACHES);
    }
    Err(CacheError::TooManyCaches { name })
}

/// Allocate from the cache in `slot` (Linux's `__cache_alloc`); `kmalloc`
/// = `Some(size)` counts a kmalloc call of `size` bytes in the slot's
/// statistics. A caller that may sleep grows the cache without its lock,
/// through the page allocator's sleeping path; others grow it under the
/// lock, without sleeping. A failure is reported unless `__GFP_NOWARN`.
#[inline(always)]
fn slot_alloc(lock: &'static SlotLock, slot: usize, gfp: Gfp, kmalloc: Option<usize>) -> Option<NonNull<u8>> {
    match slot_alloc_cached(lock, gfp, kmalloc) {
        Some(p) => Some(p),
        None => slot_alloc_slow(lock, slot, gfp, kmalloc),
    }
}

/// The array-cache hit of [`slot_alloc`] (Linux's `____cache_alloc`
/// finding `ac->avail`), with interrupts off and no lock
/// (`slot_lock.rs`); `None` sends the caller to the slow path.
#[inline(always)]
fn slot_alloc_cached(lock: &'static SlotLock, gfp: Gfp, kmalloc: Option<usize>) -> Option<NonNull<u8>> {
    irqs_off(|off| {
        // might_sleep, with the flags just saved: a caller that may not
        // sleep here goes to the slow path, which reports it.
        if gfp.may_sleep() && !crate::kernel::preempt::might_sleep_fast_ok(off.were_enabled()) {
            return None;
        }
        // SAFETY: the closure reaches the array cache and the counters of
        // this slot only.
        let hit = unsafe {
            lock.with_cpu(off, |s| {
                let obj = s.cache.alloc_cached()?;
                if let Some(size) = kmalloc {
                    s.kmalloc_count += 1;
                    s.kmalloc_requested += size as u64;
                }
                Some(obj)
            })
        };
        hit.flatten()
    })
}

/// `slot_alloc` under the lock: the array cache was empty, or the lock
/// held, or the caller may not sleep here.
#[inline(never)]
fn slot_alloc_slow(lock: &'static SlotLock, slot: usize, gfp: Gfp, kmalloc: Option<usize>) -> Option<NonNull<u8>> {
    let mut s = lock.lock();
    // might_sleep, with the flags the lock just saved.
    if gfp.may_sleep() && crate::kernel::preempt::might_sleep_check(s.irqs_were_enabled()) {
        s = slot_alloc_might_sleep_bug(s, slot, core::panic::Location::caller());
    }
    slot_alloc_refill(s, slot, gfp, kmalloc)
}

/// `slot_alloc` with the array cache empty (Linux's `cache_alloc_refill`,
/// and `cache_grow` when no slab has a free object).
#[inline(never)]
fn slot_alloc_refill(mut s: SlotGuard, slot: usize, gfp: Gfp, kmalloc: Option<usize>) -> Option<NonNull<u8>> {
    loop {
        let Slot { cache, pages, .. } = &mut *s;
        let r = if gfp.may_sleep() { cache.alloc_nogrow(pages) } else { cache.alloc(pages, gfp) };
        match r {
            Ok(addr) => {
                if let Some(size) = kmalloc {
                    s.kmalloc_count += 1;
                    s.kmalloc_requested += size as u64;
                }
                return NonNull::new(addr as *mut u8);
            }
            Err(e) => {
                let spec = s.cache.grow_spec(gfp);
                let dma = s.pages.dma;
                drop(s);
                if !alloc_failed(slot, e, spec, dma, gfp) {
                    return None;
                }
                s = CACHES[slot].lock();
            }
        }
    }
}

/// Report an allocation that may sleep made where sleeping is not allowed,
/// without the cache's lock; the allocation goes on.
#[cold]
#[inline(never)]
fn slot_alloc_might_sleep_bug(s: SlotGuard, slot: usize, loc: &'static core::panic::Location<'static>) -> SlotGuard {
    let irqs_disabled = !s.irqs_were_enabled();
    drop(s);
    crate::kernel::preempt::might_sleep_report("kmem_cache_alloc", loc, irqs_disabled);
    CACHES[slot].lock()
}

/// The slow end of `slot_alloc`: whether to try again.
#[cold]
#[inline(never)]
fn alloc_failed(slot: usize, e: AllocError, spec: GrowSpec, dma: bool, gfp: Gfp) -> bool {
    match e {
        AllocError::MustGrow => {
            // Linux's cache_grow drops the cache lock around the page
            // allocation; the slab is carved under the lock again.
            let mut pages = KernelPages { dma, may_sleep: true };
            let Some(new) = spec.alloc(&mut pages) else {
                slab_out_of_memory(slot, gfp, spec);
                return false;
            };
            let mut s = CACHES[slot].lock();
            let Slot { cache, pages: locked, .. } = &mut *s;
            match cache.add_slab(locked, new) {
                Ok(()) => true,
                Err(new) => {
                    // The cache was destroyed meanwhile.
                    drop(s);
                    new.release(&mut pages);
                    false
                }
            }
        }
        AllocError::NoMemory => {
            slab_out_of_memory(slot, gfp, spec);
            false
        }
        AllocError::Bug(bug) => {
            report(&bug);
            // The bad object is quarantined; try again for a good one.
            true
        }
    }
}

/// Say which cache could not grow (the page allocator has said why), as
/// Linux's `slab_out_of_memory` does; `__GFP_NOWARN` silences both.
#[cold]
#[inline(never)]
fn slab_out_of_memory(slot: usize, gfp: Gfp, spec: GrowSpec) {
    SLAB_OOMS.fetch_add(1, Ordering::Relaxed);
    if gfp.contains(Gfp::NOWARN) {
        return;
    }
    let (name, size, st) = {
        let s = CACHES[slot].lock();
        (s.cache.name(), s.cache.object_size(), s.cache.stats())
    };
    crate::pr_warn!(
        "SLAB: Unable to allocate memory on node 0 (gfp={:#x})\n  cache: {}, object size: {}, buffer size: {}, order: {}\n  node 0: slabs: {}, objs: {}, free: {}",
        gfp.bits(),
        name,
        size,
        st.objsize,
        spec.order(),
        st.num_slabs,
        st.num_objs,
        st.num_objs - st.active_objs
    );
}

/// Free `obj` to the cache `id` in the slot `lock` guards; a bad pointer is reported.
///
/// # Safety
/// As [`Cache::free`].
///
/// `IN_SLAB_PAGE`: kfree found `obj`'s page marked as a slab page of cache
/// `id` (its `virt_to_cache`), so the slab is in the direct map.
///
/// The slow path of `kfree` and `kmem_cache_free`, under the lock: a full
/// array to flush, a debug cache, a bad pointer to report.
#[inline(never)]
unsafe fn slot_free<const IN_SLAB_PAGE: bool>(lock: &'static SlotLock, id: NonZeroU32, obj: NonNull<u8>) {
    let mut s = lock.lock();
    if s.cache.id() != id.get() {
        // kfree read the page, then the cache was destroyed: not ours.
        drop(s);
        return foreign("kfree", obj.as_ptr() as usize);
    }
    let Slot { cache, pages, .. } = &mut *s;
    let r = if IN_SLAB_PAGE {
        // SAFETY: the caller's contract is `KmemCache::free`'s; the page
        // was seen marked as a slab page of this cache, and a slab page is
        // lowmem, in the direct map.
        unsafe { cache.free_in_slab_page(pages, obj.as_ptr() as usize) }
    } else {
        // SAFETY: the caller's contract is `KmemCache::free`'s.
        unsafe { cache.free(pages, obj.as_ptr() as usize) }
    };
    if let Err(bug) = r {
        drop(s);
        report_free(bug);
    }
}

impl Cache {
    /// The slot's lock, after checking that it still holds this cache.
    fn lock(&self) -> SlotGuard {
        let s = CACHES[self.slot].lock();
        assert!(
            s.cache.id() == self.id.get(),
            "BUG: slab cache #{} used after destroy (its slot holds #{})",
            self.id,
            s.cache.id()
        );
        s
    }

    /// `kmem_cache_alloc`: an object in its constructed state.
    #[inline]
    pub fn alloc(&self, gfp: Gfp) -> Option<NonNull<u8>> {
        debug_assert_eq!(IDS[self.slot].load(Ordering::Relaxed), self.id.get());
        // The hit tests nothing for failslab: failslab closes it
        // (`slab_hit_paths`), and the slow path asks `should_failslab`.
        match slot_alloc_cached(self.lock, gfp, None) {
            Some(p) => Some(p),
            None => self.alloc_slow(gfp),
        }
    }

    /// [`alloc`](Self::alloc) off the array cache: fault injection, then
    /// Linux's `cache_alloc_refill` under the lock.
    #[inline(never)]
    fn alloc_slow(&self, gfp: Gfp) -> Option<NonNull<u8>> {
        // The size (under the cache's lock) is needed only when failslab is on.
        if failslab_enabled() && should_failslab(self.object_size(), gfp) {
            return None;
        }
        slot_alloc_slow(self.lock, self.slot, gfp, None)
    }

    /// `kmem_cache_free`. A bad pointer (not an allocated object of this
    /// cache, a second free) is reported, never freed.
    ///
    /// # Safety
    /// `obj` came from this cache's `alloc`, and nothing uses it after this
    /// call. The checks catch many violations but not a use after free.
    // Inlined into the caller, as `alloc`'s hit is (the slow path stays out
    // of line): a call would cost a prologue and four saved registers on
    // top of the hit's forty-odd instructions, and a cache has few callers.
    #[inline(always)]
    pub unsafe fn free(&self, obj: NonNull<u8>) {
        let addr = obj.as_ptr() as usize;
        // The hit (Linux's `__cache_free` inside `local_irq_save`): the
        // object's page names this cache and its slab, and the array has room.
        let done = irqs_off(|off| {
            let Some(page) = kmalloc::slab_page_of(addr) else {
                return false;
            };
            if page.slab_cache() != self.id.get() {
                return false;
            }
            // SAFETY: the page is marked as a slab page (of this cache), and
            // with interrupts off its marks stay.
            let Some(hit) = (unsafe { KmemCache::free_hit_check(addr, page.private() as usize) }) else {
                return false;
            };
            // SAFETY: the closure reaches this slot's array cache and the
            // object's slab only. The slot holds this cache for as long as
            // the handle lives (`destroy` consumes it), and the page, read
            // with interrupts off and the cache's lock free (`with_cpu`),
            // names a live slab of it: its marks change only under that
            // lock. The caller gives the object up.
            unsafe {
                self.lock.with_cpu(off, |s| {
                    debug_assert_eq!(s.cache.id(), self.id.get());
                    s.cache.free_cached(hit)
                })
            }
            .unwrap_or(false)
        });
        if !done {
            // SAFETY: the caller's contract.
            unsafe { slot_free::<false>(self.lock, self.id, obj) }
        }
    }

    /// `kmem_cache_shrink`: pages given back.
    pub fn shrink(&self) -> usize {
        let mut s = self.lock();
        let Slot { cache, pages, .. } = &mut *s;
        cache.shrink(pages)
    }

    /// `kmem_cache_destroy`: refused while objects are live, and then the
    /// handle comes back in the error.
    pub fn destroy(self) -> Result<(), CacheBusy> {
        let mut s = self.lock();
        let Slot { cache, pages, .. } = &mut *s;
        if let Err(error) = cache.destroy(pages) {
            drop(s);
            return Err(CacheBusy { cache: self, error });
        }
        IDS[self.slot].store(0, Ordering::Relaxed);
        *s = Slot::EMPTY;
        Ok(())
    }

    pub fn object_size(&self) -> usize {
        self.lock().cache.object_size()
    }

    /// Poisoning on (`slab_debug`): objects are re-constructed on each
    /// allocation after the poison check, so no state survives a free.
    pub fn poisoned(&self) -> bool {
        self.lock().cache.flags().contains(SlabFlags::POISON)
    }

    pub fn stats(&self) -> SlabStats {
        self.lock().cache.stats()
    }

    /// Objects waiting in the per-CPU array cache (Linux's `ac->avail`).
    pub fn cpu_cached(&self) -> usize {
        self.lock().cache.cpu_cached()
    }

    pub fn name(&self) -> &'static str {
        self.lock().cache.name()
    }
}

/// Open the slab hit paths, or close them while failslab is on, so that
/// every allocation meets `should_failslab` on its slow path: every slot's
/// gate is closed (for the caches made later too: the gate belongs to the
/// slot). kmalloc's hit reaches its caches through their slots too
/// (`KMALLOC_HIT` names the slot, not a cache), so the gates close it as
/// well; its table points at no cache only before the kmalloc caches
/// exist. Called under failslab's lock (`set_failslab`).
pub(super) fn slab_hit_paths(open: bool) {
    for lock in &CACHES {
        lock.close_hits(!open);
    }
}

/// Give every empty slab of every cache back (the shrinker the reclaim
/// layer calls under memory pressure). Returns pages freed.
pub fn shrink_all() -> usize {
    // Newest slots first: an off-slab cache frees its slabs' management
    // into a kmalloc class, which sits in a lower slot (the kmalloc classes
    // are created first, smallest first, and never destroyed), and is then
    // shrunk after it, so no emptied slab stays behind.
    (0..MAX_CACHES)
        .rev()
        .map(|slot| {
            let mut s = CACHES[slot].lock();
            if s.cache.id() == 0 {
                return 0;
            }
            let Slot { cache, pages, .. } = &mut *s;
            cache.shrink(pages)
        })
        .sum()
}

/// Pages the shrinker could free now (empty slabs and array-cached objects).
pub fn reclaimable_pages() -> usize {
    (0..MAX_CACHES)
        .filter(|&s| IDS[s].load(Ordering::Relaxed) != 0)
        .map(|s| CACHES[s].lock().cache.reclaimable_pages())
        .sum()
}

/// Pages held by slabs of every cache (meminfo's `Slab:`).
pub fn slab_pages() -> usize {
    let (r, u) = slab_pages_split();
    r + u
}

/// Slab pages of `SLAB_RECLAIM_ACCOUNT` caches and of the others
/// (meminfo's `SReclaimable` and `SUnreclaim`).
pub fn slab_pages_split() -> (usize, usize) {
    let (mut reclaimable, mut unreclaimable) = (0, 0);
    for s in (0..MAX_CACHES).filter(|&s| IDS[s].load(Ordering::Relaxed) != 0) {
        let slot = CACHES[s].lock();
        let st = slot.cache.stats();
        let pages = st.num_slabs * st.pagesperslab;
        if slot.cache.flags().contains(SlabFlags::RECLAIM_ACCOUNT) {
            reclaimable += pages;
        } else {
            unreclaimable += pages;
        }
    }
    (reclaimable, unreclaimable)
}

/// Create the kmalloc caches (Linux's `kmem_cache_init`).
pub fn kmem_cache_init(slab_debug: bool) {
    SLAB_DEBUG.store(slab_debug, Ordering::Relaxed);
    let extra = if slab_debug { SlabFlags::DEBUG } else { SlabFlags::empty() } | SlabFlags::PANIC;
    kmalloc::create_kmalloc_caches(extra);
    super::shrinker::register_shrinker(super::shrinker::Shrinker {
        name: "slab",
        count: reclaimable_pages,
        scan: shrink_all,
    });
    crate::pr_info!(
        "SLAB: {} kmalloc caches, {}..{} bytes, and their dma-kmalloc twins{}",
        KMALLOC_SIZES.len(),
        KMALLOC_SIZES[0],
        KMALLOC_MAX_CACHE_SIZE,
        if slab_debug { " (slab_debug: red zones and poisoning everywhere)" } else { "" }
    );
}

/// Whether `slab_debug` is on (every cache red-zoned and poisoned).
pub fn slab_debug() -> bool {
    SLAB_DEBUG.load(Ordering::Relaxed)
}

/// Report a kfree/ksize of memory that kmalloc did not hand out.
#[cold]
#[inline(never)]
fn foreign(what: &str, ptr: usize) {
    SLAB_BUGS.fetch_add(1, Ordering::Relaxed);
    crate::kernel::panic::warn(format_args!("BUG: {}({:#010x}): not a pointer kmalloc returned", what, ptr));
}

/// `/proc/slabinfo`, version 2.1.
pub fn slabinfo(out: &mut impl fmt::Write) -> fmt::Result {
    // Snapshot under each cache's lock, format after: formatting may
    // allocate, and that allocation may need the very same cache.
    let mut snap: [(&str, SlabStats); MAX_CACHES] = [("", SlabStats::default()); MAX_CACHES];
    let mut n = 0;
    for slot in (0..MAX_CACHES).rev() {
        if IDS[slot].load(Ordering::Relaxed) != 0 {
            let s = CACHES[slot].lock();
            snap[n] = (s.cache.name(), s.cache.stats());
            n += 1;
        }
    }
    slabinfo_header(out)?;
    for (name, stats) in &snap[..n] {
        write_slabinfo(out, name, stats)?;
    }
    Ok(())
}
