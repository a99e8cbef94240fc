//! In-kernel tests of the object allocators: a million mixed kmalloc/kfree
//! operations, Rust collections on kmalloc, constructors, every slab debug
//! detection provoked on purpose, mempools under `failslab`, and DMA memory.
//! Every test ends with `shrink` + `drain` and checks that the free page
//! count is back exactly where it started. What a test takes is held by
//! guards (blocks, caches with their objects, fault-injection settings),
//! so a test that fails half way still gives everything back before the
//! next one runs.
//!
//! Past 600 lines because it is a list of independent tests of one area,
//! each with its own guard; nothing in it is read as one piece.

use super::TestResult;
use crate::kernel::fault_inject::FaultAttr;
use crate::mm::failslab::set_failslab;
use crate::mm::gfp::{Gfp, GFP_ATOMIC, GFP_KERNEL};
use crate::mm::mempool::{Backend, Mempool};
use crate::mm::page_alloc::{drain_all_pages, nr_free_pages};
use crate::mm::slab::SlabFlags;
use crate::mm::slab_common::kmalloc::{kfree, kmalloc, krealloc, ksize};
use crate::mm::slab_common::{self, Cache, SLAB_BUGS, SLAB_OOMS};
use crate::pr_info;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Free pages once every cache has given its empty slabs back.
fn settled_free_pages() -> u64 {
    slab_common::shrink_all();
    drain_all_pages();
    nr_free_pages()
}

/// A kmalloc block, kfree'd on drop.
struct KBlock(NonNull<u8>);

impl KBlock {
    fn new(size: usize, gfp: Gfp) -> Result<KBlock, &'static str> {
        kmalloc(size, gfp).map(KBlock).ok_or("kmalloc failed")
    }

    fn addr(&self) -> usize {
        self.0.as_ptr() as usize
    }
}

impl Drop for KBlock {
    fn drop(&mut self) {
        // SAFETY: a block kmalloc returned, owned by this guard alone.
        unsafe { kfree(self.0.as_ptr()) }
    }
}

/// A test's cache and the objects it holds: on drop the objects go back
/// and the cache is destroyed.
struct TestCache {
    cache: Option<Cache>,
    objs: Vec<NonNull<u8>>,
}

impl TestCache {
    fn new(
        name: &'static str,
        size: usize,
        flags: SlabFlags,
        ctor: Option<fn(*mut u8)>,
    ) -> Result<TestCache, &'static str> {
        let cache =
            slab_common::kmem_cache_create(name, size, 0, flags, ctor).map_err(|_| "kmem_cache_create failed")?;
        Ok(TestCache { cache: Some(cache), objs: Vec::new() })
    }

    fn cache(&self) -> &Cache {
        self.cache.as_ref().expect("cache present until drop")
    }

    /// Allocate an object and hold it.
    fn alloc(&mut self) -> Result<NonNull<u8>, &'static str> {
        self.objs.reserve(1);
        let p = self.cache().alloc(GFP_KERNEL).ok_or("kmem_cache_alloc failed")?;
        self.objs.push(p);
        Ok(p)
    }

    /// Give back a held object.
    fn free(&mut self, p: NonNull<u8>) {
        let i = self.objs.iter().position(|&o| o == p).expect("freeing an object the test does not hold");
        self.objs.swap_remove(i);
        // SAFETY: an object of this cache that the test held and lets go of.
        unsafe { self.cache().free(p) };
    }

    /// Free `p` although the test does not hold it (any more): the cases
    /// the slab's checks are there to catch, which must be reported.
    fn free_bad(&self, p: NonNull<u8>) {
        // SAFETY: deliberately a pointer the contract forbids, of a kind the
        // checks catch (a second free, the middle of an object): it is
        // reported and left alone, never freed.
        unsafe { self.cache().free(p) };
    }

    /// Free everything held and destroy the cache.
    fn destroy(mut self) -> Result<(), &'static str> {
        self.release()
    }

    fn release(&mut self) -> Result<(), &'static str> {
        for p in core::mem::take(&mut self.objs) {
            // SAFETY: objects of this cache the test still held.
            unsafe { self.cache().free(p) };
        }
        match self.cache.take().map(Cache::destroy) {
            Some(Err(busy)) => {
                crate::pr_err!("ktest: {}", busy.error);
                // Keep the handle: the cache is still there, with live objects.
                self.cache = Some(busy.cache);
                Err("kmem_cache_destroy refused: objects still allocated")
            }
            _ => Ok(()),
        }
    }
}

impl Drop for TestCache {
    fn drop(&mut self) {
        if self.cache.is_some() {
            // A cache whose destroy is refused stays: its objects are
            // someone's. The test has failed then, and says so.
            let _ = self.release();
            self.cache = None;
        }
    }
}

/// failslab settings, restored on drop.
struct FailslabGuard(FaultAttr);

impl FailslabGuard {
    fn set(attr: FaultAttr) -> FailslabGuard {
        FailslabGuard(set_failslab(attr))
    }
}

impl Drop for FailslabGuard {
    fn drop(&mut self) {
        set_failslab(self.0);
    }
}

/// fail_page_alloc settings, restored on drop.
struct FailPageAllocGuard(FaultAttr);

impl FailPageAllocGuard {
    fn set(attr: FaultAttr) -> FailPageAllocGuard {
        FailPageAllocGuard(crate::mm::page_alloc::set_fail_page_alloc(attr))
    }
}

impl Drop for FailPageAllocGuard {
    fn drop(&mut self) {
        crate::mm::page_alloc::set_fail_page_alloc(self.0);
    }
}

/// Run `body`, then prove that the free page count came back, whatever
/// `body` returned: its guards have given everything back by then.
fn counts_come_back(body: impl FnOnce() -> TestResult) -> TestResult {
    let before = settled_free_pages();
    let r = body();
    let after = settled_free_pages();
    r?;
    if after != before {
        pr_info!("ktest: free pages {} before, {} after", before, after);
        return Err("free pages not back");
    }
    Ok(())
}

struct XorShift(u32);

impl XorShift {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

const LIVE: usize = 1024;

/// The live blocks of the million-operation test, kfree'd on drop.
struct Slots(Vec<(usize, usize)>);

impl Drop for Slots {
    fn drop(&mut self) {
        for slot in self.0.iter_mut().filter(|s| s.0 != 0) {
            // SAFETY: the live blocks of the test, each kmalloc'd and held here only.
            unsafe { kfree(slot.0 as *mut u8) };
            *slot = (0, 0);
        }
    }
}

pub fn million_kmalloc_kfree_leave_no_pages() -> TestResult {
    counts_come_back(|| {
        let mut rng = XorShift(0x1234_5678);
        let mut corrupt = 0;
        let mut slots = Slots(alloc::vec![(0, 0); LIVE]);
        for _ in 0..1_000_000 {
            let r = rng.next();
            let slot = &mut slots.0[(r as usize >> 8) % LIVE];
            if slot.0 != 0 {
                let (p, size) = *slot;
                // SAFETY: p is a live kmalloc block of `size` bytes.
                let (first, last) = unsafe { (*(p as *const u8), *((p + size - 1) as *const u8)) };
                if first != (p as u8) || last != (size as u8) {
                    corrupt += 1;
                }
                *slot = (0, 0);
                // SAFETY: a live block of this test, dropped from its slot.
                unsafe { kfree(p as *mut u8) };
            } else {
                let size = if r.is_multiple_of(64) { 8193 + (r as usize % 12000) } else { 4 + (r as usize % 1021) };
                let p = kmalloc(size, GFP_KERNEL).ok_or("kmalloc failed")?.as_ptr() as usize;
                // SAFETY: p has `size` bytes.
                unsafe {
                    *(p as *mut u8) = p as u8;
                    *((p + size - 1) as *mut u8) = size as u8;
                }
                *slot = (p, size);
            }
        }
        drop(slots);
        pr_info!("ktest: 1000000 kmalloc/kfree operations, {} corrupted objects", corrupt);
        if corrupt != 0 {
            return Err("an object was overwritten while live");
        }
        Ok(())
    })
}

pub fn rust_collections_live_in_kmalloc() -> TestResult {
    counts_come_back(|| {
        let mut v: Vec<u32> = Vec::new();
        for i in 0..20_000 {
            v.push(i * 3);
        }
        let mut s = String::new();
        for i in 0..500 {
            let _ = write!(s, "{} ", i);
        }
        let b = Box::new([7u8; 3000]);
        if v.iter().enumerate().any(|(i, &x)| x != i as u32 * 3) || !s.starts_with("0 1 2 ") || b[2999] != 7 {
            return Err("collection contents wrong");
        }
        if ksize(b.as_ptr()) != 4096 {
            return Err("a 3000-byte Box is not in kmalloc-4k");
        }
        // Alignment requests beyond 8 are honoured.
        for align in [16usize, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 65536] {
            let layout = core::alloc::Layout::from_size_align(24, align).unwrap();
            // SAFETY: non-zero size; freed just below with the same layout.
            let p = unsafe { alloc::alloc::alloc(layout) };
            let aligned = (p as usize).is_multiple_of(align);
            if !p.is_null() {
                // SAFETY: allocated above with this layout.
                unsafe { alloc::alloc::dealloc(p, layout) };
            }
            if p.is_null() || !aligned {
                return Err("global allocator ignored an alignment");
            }
        }
        Ok(())
    })
}

/// kmalloc of a power of two is aligned to it (Linux 5.4+), kmalloc(4096)
/// to a page; the big classes are packed order-0 slabs (order 1 for 8 KB),
/// their management off the slab.
pub fn kmalloc_power_of_two_is_naturally_aligned() -> TestResult {
    counts_come_back(|| {
        for size in [8usize, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192] {
            // slab_debug's red zones move an 8 KB object off its slab's start
            // (the cache's alignment stops at a page); the global allocator
            // sends bigger alignments to whole pages.
            let align = if slab_common::slab_debug() { size.min(crate::layout::PAGE_SIZE) } else { size };
            let blocks: Vec<KBlock> = (0..6).map(|_| KBlock::new(size, GFP_KERNEL)).collect::<Result<_, _>>()?;
            if blocks.iter().any(|b| b.addr() % align != 0 || ksize(b.0.as_ptr()) != size) {
                pr_info!("ktest: kmalloc({}) not aligned to {}", size, align);
                return Err("a power-of-two kmalloc is not aligned to its size");
            }
        }
        for (i, &(size, objs, pages)) in
            [(512usize, 8usize, 1usize), (1024, 4, 1), (2048, 2, 1), (4096, 1, 1), (8192, 1, 2)].iter().enumerate()
        {
            let st = slab_common::kmalloc::kmalloc_class_stats(size).ok_or("no kmalloc class")?;
            if (st.objperslab, st.pagesperslab) != (objs, pages) && !slab_common::slab_debug() {
                pr_info!("ktest: kmalloc-{} {} objects in {} pages (#{})", size, st.objperslab, st.pagesperslab, i);
                return Err("a big kmalloc class does not pack whole objects into order-0 slabs");
            }
        }
        Ok(())
    })
}

pub fn kmalloc_sizes_ksize_krealloc() -> TestResult {
    counts_come_back(|| {
        let mut p = Some(KBlock::new(100, GFP_KERNEL).map_err(|_| "kmalloc(100)")?);
        let first = p.as_ref().unwrap();
        if ksize(first.0.as_ptr()) != 128 {
            return Err("kmalloc(100) not from kmalloc-128");
        }
        // SAFETY: 100 bytes are ours.
        unsafe { core::ptr::write_bytes(first.0.as_ptr(), 0xab, 100) };
        let old = p.take().unwrap();
        // SAFETY: old is live; on success only q is used afterwards.
        let q = match unsafe { krealloc(old.0.as_ptr(), 5000, GFP_KERNEL) } {
            Some(q) => {
                core::mem::forget(old); // krealloc freed it; q owns the memory now
                KBlock(q)
            }
            None => return Err("krealloc"),
        };
        // SAFETY: the first 100 bytes were copied.
        let kept = unsafe { core::slice::from_raw_parts(q.0.as_ptr(), 100) }.iter().all(|&b| b == 0xab);
        let big = KBlock::new(20_000, GFP_KERNEL)?;
        let big_size = ksize(big.0.as_ptr());
        let zero = kmalloc(0, GFP_KERNEL).ok_or("kmalloc(0)")?;
        // SAFETY: null and ZERO_SIZE_PTR are no-ops.
        unsafe {
            kfree(zero.as_ptr());
            kfree(core::ptr::null_mut());
        }
        // kzalloc zeroes: dirty an object, free it, and the next kzalloc of
        // the class takes the same one (the array cache is LIFO).
        let dirty = KBlock::new(200, GFP_KERNEL)?;
        // SAFETY: 200 bytes are ours.
        unsafe { core::ptr::write_bytes(dirty.0.as_ptr(), 0xa5, 200) };
        let dirty_addr = dirty.addr();
        drop(dirty);
        let z = KBlock::new(200, GFP_KERNEL | Gfp::ZERO)?;
        // SAFETY: 200 bytes are ours.
        let zeroed = unsafe { core::slice::from_raw_parts(z.0.as_ptr(), 200) }.iter().all(|&b| b == 0);
        if z.addr() != dirty_addr {
            return Err("kzalloc did not reuse the dirtied object: the zeroing is unproven");
        }
        if !zeroed {
            return Err("kzalloc handed out a dirty object");
        }
        if !kept {
            return Err("krealloc lost the contents");
        }
        if big_size != 32768 {
            return Err("kmalloc(20000) is not an order-3 page block");
        }
        if zero.as_ptr() as usize != slab_common::kmalloc::ZERO_SIZE_PTR {
            return Err("kmalloc(0) is not ZERO_SIZE_PTR");
        }
        Ok(())
    })
}

static CTOR_CALLS: AtomicUsize = AtomicUsize::new(0);

fn ctor(p: *mut u8) {
    CTOR_CALLS.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the slab allocator passes a whole object (32 bytes here).
    unsafe { (p as *mut u32).write(0xc0ffee) };
}

pub fn constructors_run_once_per_object() -> TestResult {
    counts_come_back(|| {
        CTOR_CALLS.store(0, Ordering::Relaxed);
        let mut cache = TestCache::new("ktest-ctor", 32, SlabFlags::HWCACHE_ALIGN, Some(ctor))?;
        let mut objs: Vec<NonNull<u8>> = Vec::new();
        for _ in 0..200 {
            objs.push(cache.alloc()?);
        }
        // SAFETY: our objects.
        let constructed = objs.iter().all(|p| unsafe { (p.as_ptr() as *const u32).read() } == 0xc0ffee);
        for p in &objs {
            // SAFETY: our object; leave a state the next user must see.
            unsafe { (p.as_ptr() as *mut u32).write(42) };
        }
        for p in objs.drain(..) {
            cache.free(p);
        }
        let calls_after_first = CTOR_CALLS.load(Ordering::Relaxed);
        let again = cache.alloc()?;
        // SAFETY: our object.
        let kept = unsafe { (again.as_ptr() as *const u32).read() } == 42;
        cache.free(again);
        let num_objs = cache.cache().stats().num_objs;
        let calls = CTOR_CALLS.load(Ordering::Relaxed);
        let poisoned = cache.cache().poisoned();
        cache.destroy()?;
        if poisoned {
            // slab_debug: the ctor runs after every poison check (2.6.24), once
            // per allocation: 200 + 1 here.
            return if constructed && calls == 201 {
                Ok(())
            } else {
                Err("with poisoning, the ctor must run on every allocation")
            };
        }
        if !constructed || !kept {
            return Err("objects not constructed, or constructed state not kept across free");
        }
        if calls != calls_after_first || calls != num_objs {
            return Err("constructor did not run exactly once per object");
        }
        Ok(())
    })
}

/// Every debug detection, provoked on purpose. Corrupted objects are
/// quarantined (never handed out again), so their slabs stay allocated:
/// the test proves that the pages missing afterwards are exactly those
/// slabs, and nothing else.
pub fn slab_debug_catches_corruption() -> TestResult {
    let before = settled_free_pages();
    let mut quarantined_slabs: [usize; 2] = [0; 2];
    let r = (|| {
        let mut cache = TestCache::new("ktest-debug", 64, SlabFlags::DEBUG, None)?;
        if cache.cache().stats().pagesperslab != 1 {
            return Err("the debug cache does not use order-0 slabs (the leak check assumes it)");
        }
        let bugs = |n: usize| SLAB_BUGS.load(Ordering::Relaxed) - n;
        let b0 = SLAB_BUGS.load(Ordering::Relaxed);
        // 1. Write past the end: the red zone after the object.
        let a = cache.alloc()?;
        // SAFETY: deliberately one byte past the object, into its red zone.
        unsafe { a.as_ptr().add(64).write(0x41) };
        cache.free(a);
        quarantined_slabs[0] = a.as_ptr() as usize & !4095;
        let overrun = bugs(b0);
        // 2. Write after free: the poison.
        let b1 = SLAB_BUGS.load(Ordering::Relaxed);
        let b = cache.alloc()?;
        cache.free(b);
        // SAFETY: deliberately a write after free, into poisoned memory of our slab.
        unsafe { b.as_ptr().add(12).write(0) };
        quarantined_slabs[1] = b.as_ptr() as usize & !4095;
        let mut got = Vec::new();
        for _ in 0..40 {
            got.push(cache.alloc()?);
        }
        let poison = bugs(b1);
        // 3. Double free.
        let b2 = SLAB_BUGS.load(Ordering::Relaxed);
        let c = got.pop().unwrap();
        cache.free(c);
        cache.free_bad(c);
        let double = bugs(b2);
        // 4. Foreign pointers: the middle of an object, a stack address.
        let b3 = SLAB_BUGS.load(Ordering::Relaxed);
        let d = *got.last().unwrap();
        cache.free_bad(NonNull::new(d.as_ptr().wrapping_add(8)).unwrap());
        let local = 0u32;
        // SAFETY: deliberately not a kmalloc pointer: kfree reports it without freeing.
        unsafe { kfree(&local as *const u32 as *mut u8) };
        let foreign = bugs(b3);
        pr_info!(
            "ktest: slab debug reports: overrun {}, poison {}, double free {}, foreign {}",
            overrun,
            poison,
            double,
            foreign
        );
        cache.destroy().map_err(|_| "destroy failed after every object was freed")?;
        if overrun != 1 || poison != 1 || double != 1 || foreign != 2 {
            return Err("a corruption went unreported (or was reported twice)");
        }
        // 5. A quarantined object of the destroyed cache, freed once more
        // after a cache of its size took the slot (the lowest free one):
        // its slab page still names the old id, which kfree's hit does not
        // test. The hit turns it down (the pointer follows a red zone, and
        // its bufctl reads quarantined), and the slow path, which tests the
        // id, reports it once; the new cache's array gets nothing.
        let mut next = TestCache::new("ktest-debug-next", 64, SlabFlags::empty(), None)?;
        // An object through the array, so it has room and a wrong push would land.
        let o = next.alloc()?;
        next.free(o);
        let cached = next.cache().cpu_cached();
        let b4 = SLAB_BUGS.load(Ordering::Relaxed);
        // SAFETY: deliberately a quarantined object of a destroyed cache:
        // kfree reports it and frees nothing.
        unsafe { kfree(a.as_ptr()) };
        let stale = bugs(b4);
        let still = next.cache().cpu_cached();
        next.destroy()?;
        pr_info!("ktest: slab debug reports: stale free after destroy {}", stale);
        if stale != 1 {
            return Err("a free into a destroyed cache's slab was not reported once");
        }
        if still != cached {
            return Err("a free into a destroyed cache's slab reached the next cache's array");
        }
        Ok(())
    })();
    let after = settled_free_pages();
    r?;
    let leaked = if quarantined_slabs[0] == quarantined_slabs[1] { 1 } else { 2 };
    pr_info!("ktest: free pages {} -> {}, {} quarantined slab page(s)", before, after, leaked);
    if before.wrapping_sub(after) != leaked as u64 {
        return Err("the pages missing are not exactly the quarantined slabs");
    }
    // And those pages are still slab pages: nothing else was lost.
    for &page in &quarantined_slabs[..leaked] {
        let pfn = crate::layout::virt_to_phys(page) >> crate::layout::PAGE_SHIFT;
        let desc = crate::mm::mmzone::pfn_to_page(pfn).ok_or("no page descriptor")?;
        if !desc.is_slab() {
            return Err("a quarantined slab's page was freed");
        }
    }
    Ok(())
}

/// A second kfree of an object that still waits in the per-CPU array is
/// reported at once, naming the cache; two later allocations are two
/// objects, not the same one twice.
pub fn double_kfree_in_array_cache_is_reported() -> TestResult {
    counts_come_back(|| {
        let bugs0 = SLAB_BUGS.load(Ordering::Relaxed);
        let keep = KBlock::new(64, GFP_KERNEL)?;
        let p = kmalloc(64, GFP_KERNEL).ok_or("kmalloc")?;
        // SAFETY: p is ours, freed once...
        unsafe { kfree(p.as_ptr()) };
        // SAFETY: ...and a second time on purpose: the check reports it and
        // frees nothing.
        unsafe { kfree(p.as_ptr()) };
        let reported = SLAB_BUGS.load(Ordering::Relaxed) - bugs0;
        let x = KBlock::new(64, GFP_KERNEL)?;
        let y = KBlock::new(64, GFP_KERNEL)?;
        let distinct = x.addr() != y.addr();
        drop((x, y, keep));
        if reported != 1 {
            return Err("a double kfree of an array-cached object was not reported once");
        }
        if !distinct {
            return Err("two allocations returned the same object");
        }
        Ok(())
    })
}

/// The lock-free hit paths of kfree and kmem_cache_free (issue 13) keep
/// the checks of the locked path: a pointer into the middle of an object
/// and an object handed to the wrong cache are reported once and freed
/// nowhere, and the objects stay distinct afterwards.
pub fn bad_frees_on_the_hit_path_are_reported() -> TestResult {
    counts_come_back(|| {
        let bugs0 = SLAB_BUGS.load(Ordering::Relaxed);
        let p = KBlock::new(64, GFP_KERNEL)?;
        // Room in the array, so a wrong push would land there.
        drop(KBlock::new(64, GFP_KERNEL)?);
        // SAFETY: deliberately the middle of a live object: reported, not freed.
        unsafe { kfree((p.addr() + 8) as *mut u8) };
        let mid = SLAB_BUGS.load(Ordering::Relaxed) - bugs0;
        let mut a = TestCache::new("ktest-hit-a", 64, SlabFlags::empty(), None)?;
        let b = TestCache::new("ktest-hit-b", 64, SlabFlags::empty(), None)?;
        let o = a.alloc()?;
        let bugs1 = SLAB_BUGS.load(Ordering::Relaxed);
        // An object of `a` given to `b`: reported, left with `a`.
        b.free_bad(o);
        let wrong = SLAB_BUGS.load(Ordering::Relaxed) - bugs1;
        let q = KBlock::new(64, GFP_KERNEL)?;
        let r = KBlock::new(64, GFP_KERNEL)?;
        let distinct = q.addr() != p.addr() && r.addr() != p.addr() && q.addr() != r.addr();
        let o2 = a.alloc()?;
        drop((p, q, r));
        a.destroy()?;
        b.destroy()?;
        if mid != 1 {
            return Err("kfree of a mid-object pointer was not reported once");
        }
        if wrong != 1 {
            return Err("kmem_cache_free to the wrong cache was not reported once");
        }
        if !distinct || o2 == o {
            return Err("a bad free put an object back in circulation");
        }
        Ok(())
    })
}

pub fn mempool_serves_from_reserve_under_failslab() -> TestResult {
    counts_come_back(|| {
        let pool = Mempool::create(4, Backend::Kmalloc(256)).map_err(|_| "mempool_create")?;
        // While every slab allocation fails, nothing here may touch the heap:
        // the elements go into a fixed array.
        let fail = FailslabGuard::set(FaultAttr::new(1, 100, 0, -1));
        let direct_fails = kmalloc(256, GFP_KERNEL | Gfp::NOWARN).is_none();
        let mut got: [Option<NonNull<u8>>; 4] = [None; 4];
        for slot in got.iter_mut() {
            *slot = pool.alloc(GFP_KERNEL);
        }
        let all_served = got.iter().all(|p| p.is_some());
        let empty = pool.reserve_count() == 0;
        let atomic_fails = pool.alloc(GFP_ATOMIC).is_none();
        drop(fail);
        for p in got.into_iter().flatten() {
            // SAFETY: elements of this pool, not used after.
            unsafe { pool.free(p) };
        }
        let refilled = pool.reserve_count() == 4;
        pool.destroy();
        if !direct_fails {
            return Err("failslab did not make kmalloc fail");
        }
        if !all_served {
            return Err("mempool_alloc failed with a full reserve");
        }
        if !empty || !atomic_fails || !refilled {
            return Err("the reserve was not used, or not refilled on free");
        }
        Ok(())
    })
}

/// With the reserve empty and nobody freeing, `mempool_alloc` does not
/// wait for ever: after its timeout it tries the allocator again (2.6.24's
/// `io_schedule_timeout(5*HZ)`), and gets memory once there is some.
pub fn mempool_retries_the_allocator_after_a_timeout() -> TestResult {
    counts_come_back(|| {
        let pool = Mempool::create(1, Backend::Kmalloc(128)).map_err(|_| "mempool_create")?;
        let fail = FailslabGuard::set(FaultAttr::new(1, 100, 0, -1));
        let from_reserve = pool.alloc(GFP_KERNEL).ok_or("the reserve did not serve")?;
        // One more failure: the first try of the next alloc. Then the
        // allocator works again, but nothing wakes the pool's wait queue.
        set_failslab(FaultAttr::new(1, 100, 0, 1));
        let t0 = crate::arch::x86::pit::jiffies();
        let late = pool.alloc(GFP_KERNEL);
        let waited = crate::arch::x86::pit::jiffies() - t0;
        drop(fail);
        for p in [Some(from_reserve), late].into_iter().flatten() {
            // SAFETY: elements of this pool, not used after.
            unsafe { pool.free(p) };
        }
        drop(pool);
        pr_info!("ktest: mempool_alloc waited {} jiffies", waited);
        if late.is_none() {
            return Err("mempool_alloc(GFP_KERNEL) returned NULL");
        }
        let want = crate::mm::mempool::MEMPOOL_RETRY_MS * crate::arch::x86::pit::HZ / 1000;
        if waited + 1 < want {
            return Err("mempool_alloc retried before its timeout");
        }
        Ok(())
    })
}

/// failslab fails `kmem_cache_alloc` even when the array cache holds an
/// object: the hit path is closed while it is on (the slots' gates), so
/// every allocation meets `should_failslab`.
pub fn failslab_fails_a_warm_kmem_cache_alloc() -> TestResult {
    counts_come_back(|| {
        let mut cache = TestCache::new("ktest-failslab", 64, SlabFlags::empty(), None)?;
        let o = cache.alloc()?;
        cache.free(o);
        // Under `slab_debug` every cache is a debug cache, with no array:
        // then only the injected failure is checked.
        if cache.cache().cpu_cached() == 0 && !cache.cache().poisoned() {
            return Err("no object in the array cache to allocate from");
        }
        let fail = FailslabGuard::set(FaultAttr::new(1, 100, 0, -1));
        let got = cache.cache().alloc(GFP_KERNEL | Gfp::NOWARN);
        drop(fail);
        let again = cache.alloc();
        if let Some(p) = got {
            // SAFETY: an object of this cache, handed out by mistake; ours.
            unsafe { cache.cache().free(p) };
            return Err("kmem_cache_alloc with a warm array cache ignored failslab");
        }
        again.map_err(|_| "kmem_cache_alloc failed after failslab was turned off")?;
        cache.destroy()
    })
}

/// Rust's collections never see an injected failure: the global allocator
/// asks with `__GFP_NOFAIL`, which failslab leaves alone, while kmalloc
/// without it fails as told.
pub fn rust_collections_ignore_failslab() -> TestResult {
    counts_come_back(|| {
        let fail = FailslabGuard::set(FaultAttr::new(1, 100, 0, -1));
        let plain_fails = kmalloc(64, GFP_KERNEL | Gfp::NOWARN).is_none();
        let mut v: Vec<u64> = Vec::new();
        for i in 0..3000 {
            v.push(i);
        }
        let s = alloc::format!("{}", v.len());
        drop(fail);
        if !plain_fails {
            return Err("failslab did not make kmalloc fail");
        }
        if s != "3000" || v.iter().enumerate().any(|(i, &x)| x != i as u64) {
            return Err("collection contents wrong");
        }
        Ok(())
    })
}

/// A slab that cannot grow is reported, not silent: the page allocator
/// and the slab both say so, and the allocation fails cleanly.
pub fn slab_growth_failure_is_reported() -> TestResult {
    counts_come_back(|| {
        let mut cache = TestCache::new("ktest-grow", 128, SlabFlags::empty(), None)?;
        let ooms = SLAB_OOMS.load(Ordering::Relaxed);
        let page_failures = crate::mm::page_alloc::ALLOC_FAILURES.load(Ordering::Relaxed);
        let fail = FailPageAllocGuard::set(FaultAttr::new(1, 100, 0, -1));
        let atomic = cache.cache().alloc(GFP_ATOMIC);
        let sleeping = cache.cache().alloc(GFP_KERNEL);
        drop(fail);
        let reported = SLAB_OOMS.load(Ordering::Relaxed) - ooms;
        let page_reported = crate::mm::page_alloc::ALLOC_FAILURES.load(Ordering::Relaxed) - page_failures;
        for p in [atomic, sleeping].into_iter().flatten() {
            cache.objs.push(p);
        }
        if atomic.is_some() || sleeping.is_some() {
            return Err("a slab grew while every page allocation failed");
        }
        if reported != 2 || page_reported < 2 {
            return Err("a slab growth failure was not reported");
        }
        let ok = cache.alloc()?;
        cache.free(ok);
        cache.destroy()
    })
}

pub fn dma_coherent_memory_is_low_and_contiguous() -> TestResult {
    counts_come_back(|| {
        // Dirty the blocks handed out until one comes back: then its zeroes
        // were written by dma_alloc_coherent, not left by a previous owner.
        let mut dirtied = [0u32; 8];
        for round in 0..dirtied.len() {
            let (p, bus) = crate::mm::dma::dma_alloc_coherent(3 * 4096).ok_or("dma_alloc_coherent")?;
            let below = bus as usize + 3 * 4096 <= 16 << 20 && bus % 4096 == 0;
            // Contiguous: the direct map is linear, so each page's frame follows the last.
            let contiguous =
                (0..3).all(|i| crate::layout::virt_to_phys(p.as_ptr() as usize + i * 4096) == bus as usize + i * 4096);
            let seen = dirtied[..round].contains(&bus);
            // SAFETY: 12 KB are ours.
            let zeroed = unsafe { core::slice::from_raw_parts(p.as_ptr(), 3 * 4096) }.iter().all(|&b| b == 0);
            // SAFETY: 12 KB are ours; dirtied for the next round.
            unsafe { core::ptr::write_bytes(p.as_ptr(), 0xa5, 3 * 4096) };
            dirtied[round] = bus;
            // SAFETY: what dma_alloc_coherent returned above, not used after.
            unsafe { crate::mm::dma::dma_free_coherent(p, 3 * 4096, bus) };
            // The freed pages go to the per-CPU lists one by one: back to
            // the buddy lists, where they merge and the next order-2
            // request can find them (else the round depends on what else
            // the zone holds).
            crate::mm::page_alloc::drain_all_pages();
            if !below || !contiguous || !zeroed {
                return Err("DMA memory not below 16 MB, not contiguous, or not zeroed");
            }
            if seen {
                let d = KBlock::new(100, GFP_KERNEL | Gfp::DMA)?;
                if crate::layout::virt_to_phys(d.addr()) >= 16 << 20 {
                    return Err("dma kmalloc memory above 16 MB");
                }
                return Ok(());
            }
        }
        Err("dma_alloc_coherent never handed a dirtied block back: the zeroing is unproven")
    })
}

/// fail_page_alloc: the chosen page allocations fail, deterministically,
/// and the failure is counted; the machine goes on.
pub fn fail_page_alloc_fails_what_it_is_told() -> TestResult {
    counts_come_back(|| {
        let failures0 = crate::mm::page_alloc::ALLOC_FAILURES.load(Ordering::Relaxed);
        // Every second eligible allocation fails, three times at most.
        let fail = FailPageAllocGuard::set(FaultAttr::new(2, 100, 0, 3));
        let got: [Option<crate::mm::page_alloc::Pages>; 8] =
            core::array::from_fn(|_| crate::mm::page_alloc::alloc_pages(GFP_KERNEL | Gfp::NOWARN, 0));
        drop(fail);
        let pattern: [bool; 8] = core::array::from_fn(|i| got[i].is_some());
        for p in got.into_iter().flatten() {
            crate::mm::page_alloc::__free_pages(p);
        }
        let failures = crate::mm::page_alloc::ALLOC_FAILURES.load(Ordering::Relaxed) - failures0;
        if pattern != [true, false, true, false, true, false, true, true] {
            return Err("the failures did not follow interval=2, times=3");
        }
        if failures < 3 {
            return Err("injected failures not counted");
        }
        Ok(())
    })
}

/// The slab shrinker gives empty slabs back when asked (what reclaim and a
/// failing sleeping allocation call).
pub fn shrinker_returns_empty_slabs() -> TestResult {
    counts_come_back(|| {
        let mut cache = TestCache::new("ktest-shrink", 512, SlabFlags::empty(), None)?;
        let mut objs = Vec::new();
        for _ in 0..500 {
            objs.push(cache.alloc()?);
        }
        for p in objs.drain(..) {
            cache.free(p);
        }
        drop(objs);
        let reclaimable = slab_common::reclaimable_pages();
        let freed = crate::mm::shrinker::shrink_slab();
        cache.destroy()?;
        pr_info!("ktest: shrinker: {} pages reclaimable, {} freed", reclaimable, freed);
        if reclaimable == 0 || freed == 0 {
            return Err("the shrinker found nothing to free after 500 frees");
        }
        Ok(())
    })
}
