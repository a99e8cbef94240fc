//! In-kernel tests of the object allocators: a million mixed kmalloc/kfree
//! operations, Rust collections on kmalloc, constructors, every slab debug
//! detection provoked on purpose, mempools under `failslab`, and DMA memory.
//! Every test ends with `shrink` + `drain` and checks that the free page
//! count is back exactly where it started.

use super::alloc::{drain_all_pages, nr_free_pages};
use super::fault_inject::FaultAttr;
use super::gfp::{GFP_ATOMIC, GFP_KERNEL};
use super::kmalloc::{self, kfree, kmalloc, krealloc, ksize, set_failslab, SLAB_BUGS};
use super::mempool::{Backend, Mempool};
use super::slab::SlabFlags;
use crate::kernel::ktest::TestResult;
use crate::pr_info;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Free pages once every cache has given its empty slabs back.
fn settled_free_pages() -> u64 {
    kmalloc::shrink_all();
    drain_all_pages();
    nr_free_pages()
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
static mut SLOTS: [(usize, usize); LIVE] = [(0, 0); LIVE];

pub fn million_kmalloc_kfree_leave_no_pages() -> TestResult {
    let before = settled_free_pages();
    let mut rng = XorShift(0x1234_5678);
    let mut corrupt = 0;
    // SAFETY: only this test touches SLOTS.
    let slots = unsafe { &mut *core::ptr::addr_of_mut!(SLOTS) };
    for _ in 0..1_000_000 {
        let r = rng.next();
        let slot = &mut slots[(r as usize >> 8) % LIVE];
        if slot.0 != 0 {
            let (p, size) = *slot;
            // SAFETY: p is a live kmalloc block of `size` bytes.
            let (first, last) = unsafe { (*(p as *const u8), *((p + size - 1) as *const u8)) };
            if first != (p as u8) || last != (size as u8) {
                corrupt += 1;
            }
            // SAFETY: a live block of this test, dropped from its slot.
            unsafe { kfree(p as *mut u8) };
            *slot = (0, 0);
        } else {
            let size = if r % 64 == 0 { 8193 + (r as usize % 12000) } else { 4 + (r as usize % 1021) };
            let p = kmalloc(size, GFP_KERNEL).ok_or("kmalloc failed")?.as_ptr() as usize;
            // SAFETY: p has `size` bytes.
            unsafe {
                *(p as *mut u8) = p as u8;
                *((p + size - 1) as *mut u8) = size as u8;
            }
            *slot = (p, size);
        }
    }
    for slot in slots.iter_mut().filter(|s| s.0 != 0) {
        // SAFETY: the remaining live blocks.
        unsafe { kfree(slot.0 as *mut u8) };
        *slot = (0, 0);
    }
    let after = settled_free_pages();
    pr_info!(
        "ktest: 1000000 kmalloc/kfree operations, {} corrupted objects, free pages {} -> {}",
        corrupt,
        before,
        after
    );
    if corrupt != 0 {
        return Err("an object was overwritten while live");
    }
    if after != before {
        return Err("free pages not back after kfree of everything and shrink");
    }
    Ok(())
}

pub fn rust_collections_live_in_kmalloc() -> TestResult {
    let before = settled_free_pages();
    {
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
        for align in [16usize, 64, 128, 256, 512, 4096, 8192, 65536] {
            let layout = core::alloc::Layout::from_size_align(24, align).unwrap();
            // SAFETY: non-zero size; freed just below with the same layout.
            let p = unsafe { alloc::alloc::alloc(layout) };
            if p.is_null() || p as usize % align != 0 {
                return Err("global allocator ignored an alignment");
            }
            // SAFETY: allocated above with this layout.
            unsafe { alloc::alloc::dealloc(p, layout) };
        }
    }
    if settled_free_pages() != before {
        return Err("free pages not back after dropping the collections");
    }
    Ok(())
}

pub fn kmalloc_sizes_ksize_krealloc() -> TestResult {
    let before = settled_free_pages();
    let p = kmalloc(100, GFP_KERNEL).ok_or("kmalloc(100)")?;
    if ksize(p.as_ptr()) != 128 {
        return Err("kmalloc(100) not from kmalloc-128");
    }
    // SAFETY: 100 bytes are ours.
    unsafe { core::ptr::write_bytes(p.as_ptr(), 0xab, 100) };
    // SAFETY: p is live; only q is used afterwards.
    let q = unsafe { krealloc(p.as_ptr(), 5000, GFP_KERNEL) }.ok_or("krealloc")?;
    // SAFETY: the first 100 bytes were copied.
    let kept = unsafe { core::slice::from_raw_parts(q.as_ptr(), 100) }.iter().all(|&b| b == 0xab);
    let big = kmalloc(20_000, GFP_KERNEL).ok_or("kmalloc(20000)")?;
    let big_size = ksize(big.as_ptr());
    let zero = kmalloc(0, GFP_KERNEL).ok_or("kmalloc(0)")?;
    // SAFETY: blocks of this test, not used after (null and ZERO_SIZE_PTR are no-ops).
    unsafe {
        kfree(q.as_ptr());
        kfree(big.as_ptr());
        kfree(zero.as_ptr());
        kfree(core::ptr::null_mut());
    }
    if !kept {
        return Err("krealloc lost the contents");
    }
    if big_size != 32768 {
        return Err("kmalloc(20000) is not an order-3 page block");
    }
    if zero.as_ptr() as usize != kmalloc::ZERO_SIZE_PTR {
        return Err("kmalloc(0) is not ZERO_SIZE_PTR");
    }
    if settled_free_pages() != before {
        return Err("free pages not back");
    }
    Ok(())
}

static CTOR_CALLS: AtomicUsize = AtomicUsize::new(0);

fn ctor(p: *mut u8) {
    CTOR_CALLS.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the slab allocator passes a whole object (32 bytes here).
    unsafe { (p as *mut u32).write(0xc0ffee) };
}

pub fn constructors_run_once_per_object() -> TestResult {
    let before = settled_free_pages();
    CTOR_CALLS.store(0, Ordering::Relaxed);
    let cache =
        kmalloc::kmem_cache_create("ktest-ctor", 32, 0, SlabFlags::HWCACHE_ALIGN, Some(ctor)).map_err(|_| "create")?;
    let mut objs: Vec<NonNull<u8>> = Vec::new();
    for _ in 0..200 {
        objs.push(cache.alloc(GFP_KERNEL).ok_or("alloc")?);
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
    let again = cache.alloc(GFP_KERNEL).ok_or("alloc")?;
    // SAFETY: our object.
    let kept = unsafe { (again.as_ptr() as *const u32).read() } == 42;
    cache.free(again);
    let num_objs = cache.stats().num_objs;
    let calls = CTOR_CALLS.load(Ordering::Relaxed);
    drop(objs);
    let poisoned = cache.poisoned();
    cache.destroy().map_err(|_| "destroy with live objects")?;
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
    if settled_free_pages() != before {
        return Err("free pages not back");
    }
    Ok(())
}

/// Every debug detection, provoked on purpose. Corrupted objects are
/// quarantined (never handed out again), so their slab stays allocated:
/// the test checks that exactly that slab is what remains.
pub fn slab_debug_catches_corruption() -> TestResult {
    let cache = kmalloc::kmem_cache_create("ktest-debug", 64, 0, SlabFlags::DEBUG, None).map_err(|_| "create")?;
    let bugs = |n: usize| SLAB_BUGS.load(Ordering::Relaxed) - n;
    let b0 = SLAB_BUGS.load(Ordering::Relaxed);
    // 1. Write past the end: the red zone after the object.
    let a = cache.alloc(GFP_KERNEL).ok_or("alloc")?;
    // SAFETY: deliberately one byte past the object, into its red zone.
    unsafe { a.as_ptr().add(64).write(0x41) };
    cache.free(a);
    let overrun = bugs(b0);
    // 2. Write after free: the poison.
    let b1 = SLAB_BUGS.load(Ordering::Relaxed);
    let b = cache.alloc(GFP_KERNEL).ok_or("alloc")?;
    cache.free(b);
    // SAFETY: deliberately a write after free, into poisoned memory of our slab.
    unsafe { b.as_ptr().add(12).write(0) };
    let mut got = Vec::new();
    for _ in 0..40 {
        got.push(cache.alloc(GFP_KERNEL).ok_or("alloc")?);
    }
    let poison = bugs(b1);
    // 3. Double free.
    let b2 = SLAB_BUGS.load(Ordering::Relaxed);
    let c = got.pop().unwrap();
    cache.free(c);
    cache.free(c);
    let double = bugs(b2);
    // 4. Foreign pointers: the middle of an object, a stack address.
    let b3 = SLAB_BUGS.load(Ordering::Relaxed);
    let d = got.pop().unwrap();
    cache.free(NonNull::new(d.as_ptr().wrapping_add(8)).unwrap());
    let local = 0u32;
    // SAFETY: deliberately not a kmalloc pointer: kfree reports it without freeing.
    unsafe { kfree(&local as *const u32 as *mut u8) };
    let foreign = bugs(b3);
    cache.free(d);
    for p in got {
        cache.free(p);
    }
    let destroyed = cache.destroy().is_ok();
    pr_info!(
        "ktest: slab debug reports: overrun {}, poison {}, double free {}, foreign {}",
        overrun,
        poison,
        double,
        foreign
    );
    if overrun != 1 || poison != 1 || double != 1 || foreign != 2 {
        return Err("a corruption went unreported (or was reported twice)");
    }
    if !destroyed {
        return Err("destroy failed after every object was freed");
    }
    Ok(())
}

pub fn mempool_serves_from_reserve_under_failslab() -> TestResult {
    let before = settled_free_pages();
    let pool = Mempool::create(4, Backend::Kmalloc(256)).map_err(|_| "mempool_create")?;
    // While every slab allocation fails, nothing here may touch the heap:
    // the elements go into a fixed array.
    let saved = set_failslab(FaultAttr::new(1, 100, 0, -1));
    let direct_fails = kmalloc(256, GFP_KERNEL | super::gfp::Gfp::NOWARN).is_none();
    let mut got: [Option<NonNull<u8>>; 4] = [None; 4];
    for slot in got.iter_mut() {
        *slot = pool.alloc(GFP_KERNEL);
    }
    let all_served = got.iter().all(|p| p.is_some());
    let empty = pool.reserve_count() == 0;
    let atomic_fails = pool.alloc(GFP_ATOMIC).is_none();
    set_failslab(saved);
    for p in got.into_iter().flatten() {
        pool.free(p);
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
    if settled_free_pages() != before {
        return Err("free pages not back");
    }
    Ok(())
}

pub fn dma_coherent_memory_is_low_and_contiguous() -> TestResult {
    let before = settled_free_pages();
    let (p, bus) = kmalloc::dma_alloc_coherent(3 * 4096).ok_or("dma_alloc_coherent")?;
    let below = bus as usize + 3 * 4096 <= 16 << 20 && bus % 4096 == 0;
    // Contiguous: the direct map is linear, so each page's frame follows the last.
    let contiguous =
        (0..3).all(|i| crate::layout::virt_to_phys(p.as_ptr() as usize + i * 4096) == bus as usize + i * 4096);
    // SAFETY: 12 KB are ours.
    let zeroed = unsafe { core::slice::from_raw_parts(p.as_ptr(), 3 * 4096) }.iter().all(|&b| b == 0);
    // SAFETY: what dma_alloc_coherent returned above, not used after.
    unsafe { kmalloc::dma_free_coherent(p, 3 * 4096, bus) };
    let d = kmalloc(100, GFP_KERNEL | super::gfp::Gfp::DMA).ok_or("dma kmalloc")?;
    let dma_low = crate::layout::virt_to_phys(d.as_ptr() as usize) < 16 << 20;
    // SAFETY: d is live and not used after.
    unsafe { kfree(d.as_ptr()) };
    if !below || !contiguous || !zeroed || !dma_low {
        return Err("DMA memory not below 16 MB, not contiguous, or not zeroed");
    }
    if settled_free_pages() != before {
        return Err("free pages not back");
    }
    Ok(())
}

/// fail_page_alloc: the chosen page allocations fail, deterministically,
/// and the failure is counted; the machine goes on.
pub fn fail_page_alloc_fails_what_it_is_told() -> TestResult {
    let before = settled_free_pages();
    let failures0 = super::alloc::ALLOC_FAILURES.load(Ordering::Relaxed);
    // Every second eligible allocation fails, three times at most.
    let saved = super::alloc::set_fail_page_alloc(FaultAttr::new(2, 100, 0, 3));
    let mut got = [None, None, None, None, None, None, None, None];
    for slot in got.iter_mut() {
        *slot = super::alloc::alloc_pages(GFP_KERNEL | super::gfp::Gfp::NOWARN, 0);
    }
    super::alloc::set_fail_page_alloc(saved);
    let pattern: [bool; 8] = core::array::from_fn(|i| got[i].is_some());
    for p in got.into_iter().flatten() {
        super::alloc::free_pages_block(p);
    }
    let failures = super::alloc::ALLOC_FAILURES.load(Ordering::Relaxed) - failures0;
    if pattern != [true, false, true, false, true, false, true, true] {
        return Err("the failures did not follow interval=2, times=3");
    }
    if failures < 3 {
        return Err("injected failures not counted");
    }
    if settled_free_pages() != before {
        return Err("free pages not back");
    }
    Ok(())
}

/// The slab shrinker gives empty slabs back when asked (what reclaim and a
/// failing sleeping allocation call).
pub fn shrinker_returns_empty_slabs() -> TestResult {
    let before = settled_free_pages();
    let cache = kmalloc::kmem_cache_create("ktest-shrink", 512, 0, SlabFlags::empty(), None).map_err(|_| "create")?;
    let mut objs = Vec::new();
    for _ in 0..500 {
        objs.push(cache.alloc(GFP_KERNEL).ok_or("alloc")?);
    }
    for p in objs.drain(..) {
        cache.free(p);
    }
    drop(objs);
    let reclaimable = kmalloc::reclaimable_pages();
    let freed = super::shrinker::shrink_slab();
    cache.destroy().map_err(|_| "destroy")?;
    pr_info!("ktest: shrinker: {} pages reclaimable, {} freed", reclaimable, freed);
    if reclaimable == 0 || freed == 0 {
        return Err("the shrinker found nothing to free after 500 frees");
    }
    if settled_free_pages() != before {
        return Err("free pages not back");
    }
    Ok(())
}
