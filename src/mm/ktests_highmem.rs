//! In-kernel tests of kmap and kmap_atomic on real highmem: every highmem
//! frame written through kmap_atomic and read back through kmap, more
//! kmaps than slots from several threads, one TLB flush per wrap, misuse
//! caught. Each test checks that free page counts end where they started.

use super::alloc;
use super::highmem::{copy_highpage, kmap, memcpy_from_page, memcpy_to_page, pkmap_stats, Kmap};
use super::ktests::give_back;
use super::mm_init::with_node;
use crate::arch::x86::cpu::{TLB_FULL_FLUSHES, TLB_SINGLE_FLUSHES};
use crate::arch::x86::mm::highmem::{kmap_atomic, KmType, MISUSES};
use crate::kernel::ktest::TestResult;
use crate::kernel::sched;
use crate::layout::{LAST_PKMAP, PAGE_SIZE};
use crate::pr_info;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Every free highmem frame, chained (see `ktests::take_all_free`); given
/// back when dropped, so an early return cannot leak HighMem.
fn take_all_highmem() -> super::ktests::FreeChain {
    super::ktests::take_all_free(alloc::max_low_pfn() as u64)
}

fn pattern(pfn: u32, word: usize) -> u32 {
    pfn.wrapping_mul(0x9e37_79b9) ^ (word as u32).wrapping_mul(0x85eb_ca6b)
}

/// Write a distinct pattern into every highmem frame through kmap_atomic,
/// read each back through kmap: nothing lost, and exactly one full TLB
/// flush per pkmap wrap-around.
pub fn every_highmem_page_through_kmap() -> TestResult {
    let free_before = alloc::nr_free_pages();
    let mut chain = take_all_highmem();
    let n = chain.len();
    if n == 0 {
        give_back(&mut chain);
        return Err("no highmem (boot with more than 896 MB or highmem=)");
    }
    let mut pfn = chain.first();
    while let Some(p) = pfn {
        let mut m = kmap_atomic(p, KmType::User0, alloc::max_low_pfn()).map_err(|_| "kmap_atomic refused")?;
        // SAFETY: the test took this frame from the allocator; only it uses it.
        let words = unsafe { m.as_mut_slice() }.as_mut_ptr() as *mut u32;
        for w in [0, 1, PAGE_SIZE / 4 / 2, PAGE_SIZE / 4 - 1] {
            // SAFETY: w < 1024 words: inside the page the guard maps.
            unsafe { words.add(w).write_volatile(pattern(p, w)) };
        }
        drop(m);
        pfn = with_node(|_, mm| mm[p as usize].lru.next).into_option();
    }
    let (flushes0, stats0) = (TLB_FULL_FLUSHES.load(Ordering::Relaxed), pkmap_stats());
    let mut bad = 0;
    let mut pfn = chain.first();
    while let Some(p) = pfn {
        let k = kmap(p);
        // SAFETY: as above.
        let words = unsafe { k.as_slice() }.as_ptr() as *const u32;
        for w in [0, 1, PAGE_SIZE / 4 / 2, PAGE_SIZE / 4 - 1] {
            // SAFETY: inside the kmapped page.
            if unsafe { words.add(w).read_volatile() } != pattern(p, w) {
                bad += 1;
            }
        }
        drop(k);
        pfn = with_node(|_, mm| mm[p as usize].lru.next).into_option();
    }
    let stats = pkmap_stats();
    let flushes = TLB_FULL_FLUSHES.load(Ordering::Relaxed) - flushes0;
    let wraps = stats.full_flushes - stats0.full_flushes;
    give_back(&mut chain);
    pr_info!(
        "ktest: {} highmem frames written by kmap_atomic, read by kmap: {} bad; {} pkmap wraps, {} full TLB flushes",
        n,
        bad,
        wraps,
        flushes
    );
    if bad != 0 {
        return Err("a highmem page lost its pattern");
    }
    let expected_wraps = (n as u64) / LAST_PKMAP as u64;
    if wraps + 1 < expected_wraps || wraps > expected_wraps + 1 {
        return Err("pkmap wrapped an unexpected number of times");
    }
    if flushes as u64 != wraps {
        return Err("not exactly one full TLB flush per pkmap wrap");
    }
    if alloc::nr_free_pages() != free_before {
        return Err("free pages not back where they were");
    }
    Ok(())
}

trait IntoOption {
    fn into_option(self) -> Option<u32>;
}

impl IntoOption for u32 {
    fn into_option(self) -> Option<u32> {
        (self != super::page::NIL).then_some(self)
    }
}

const THREADS: usize = 4;
const PER_THREAD: usize = 340;
static mut PAGES: [u32; THREADS * PER_THREAD] = [0; THREADS * PER_THREAD];
static DONE: AtomicUsize = AtomicUsize::new(0);
static MAPPED_OK: AtomicUsize = AtomicUsize::new(0);
/// Threads that hold all their kmaps now.
static HOLDING: AtomicUsize = AtomicUsize::new(0);

fn holder(t: usize) {
    let mut held: [Option<Kmap>; PER_THREAD] = [const { None }; PER_THREAD];
    for (i, slot) in held.iter_mut().enumerate() {
        // SAFETY: PAGES was filled before the threads started and is only read.
        let pfn = unsafe { PAGES[t * PER_THREAD + i] };
        let k = kmap(pfn);
        if k.pfn() == pfn {
            MAPPED_OK.fetch_add(1, Ordering::Relaxed);
        }
        *slot = Some(k);
    }
    HOLDING.fetch_add(1, Ordering::SeqCst);
    sched::msleep(30);
    drop(held);
    DONE.fetch_add(1, Ordering::Relaxed);
}

/// More kmaps than slots, held at once by several threads: some must sleep
/// until others kunmap, and everyone finishes.
pub fn kmap_waiters_wake_and_finish() -> TestResult {
    let free_before = alloc::nr_free_pages();
    for i in 0..THREADS * PER_THREAD {
        let p = alloc::alloc_pages(super::gfp::GFP_HIGHUSER_MOVABLE, 0).ok_or("no highmem page")?;
        if !p.is_highmem() {
            return Err("not enough highmem for the test");
        }
        // SAFETY: the threads are not started yet.
        unsafe { PAGES[i] = p.pfn() };
        core::mem::forget(p);
    }
    DONE.store(0, Ordering::SeqCst);
    MAPPED_OK.store(0, Ordering::SeqCst);
    let waits0 = pkmap_stats().waits;
    HOLDING.store(0, Ordering::SeqCst);
    // The first three threads take 1020 slots between them, never blocking;
    // only then does the fourth start, and it must wait for them. (Started
    // together, all four could block holding partial sets: a deadlock any
    // kmap user can build, which is why Linux code never holds many kmaps.)
    let mut pids = [0u32; THREADS];
    for (t, pid) in pids.iter_mut().enumerate() {
        if t == THREADS - 1 {
            while HOLDING.load(Ordering::SeqCst) < THREADS - 1 {
                sched::msleep(5);
            }
        }
        *pid = sched::kthread_run("ktest-kmap", holder, t).map_err(|_| "no thread slot")?;
    }
    for pid in pids {
        sched::kthread_wait(pid);
    }
    let waits = pkmap_stats().waits - waits0;
    for i in 0..THREADS * PER_THREAD {
        // SAFETY: the threads have exited; each pfn was allocated at order 0
        // above and its handle forgotten.
        alloc::free_pages_block(unsafe { alloc::Pages::from_raw(PAGES[i], 0) });
    }
    pr_info!(
        "ktest: {} threads held {} kmaps over {} slots: {} waits",
        THREADS,
        THREADS * PER_THREAD,
        LAST_PKMAP,
        waits
    );
    if DONE.load(Ordering::SeqCst) != THREADS || MAPPED_OK.load(Ordering::SeqCst) != THREADS * PER_THREAD {
        return Err("a kmap holder did not finish");
    }
    if waits == 0 {
        return Err("nobody waited although there were more kmaps than slots");
    }
    if alloc::nr_free_pages() != free_before {
        return Err("free pages not back where they were");
    }
    Ok(())
}

/// kmap_atomic + kunmap_atomic of a highmem page: exactly two invlpg; a
/// lowmem page: none. kmap of a mapped page: no flush at all.
pub fn kmap_costs_the_expected_flushes() -> TestResult {
    let free_before = alloc::nr_free_pages();
    let p = alloc::alloc_pages(super::gfp::GFP_HIGHUSER_MOVABLE, 0).ok_or("no page")?;
    let q = alloc::alloc_pages(super::gfp::GFP_KERNEL, 0).ok_or("no page")?;
    let (hp, lp) = (p.pfn(), q.pfn());
    let i0 = TLB_SINGLE_FLUSHES.load(Ordering::Relaxed);
    drop(kmap_atomic(hp, KmType::User0, alloc::max_low_pfn()).map_err(|_| "refused")?);
    let high = TLB_SINGLE_FLUSHES.load(Ordering::Relaxed) - i0;
    let i1 = TLB_SINGLE_FLUSHES.load(Ordering::Relaxed);
    drop(kmap_atomic(lp, KmType::User0, alloc::max_low_pfn()).map_err(|_| "refused")?);
    let low = TLB_SINGLE_FLUSHES.load(Ordering::Relaxed) - i1;
    let first = kmap(hp);
    let (f0, s0) = (TLB_FULL_FLUSHES.load(Ordering::Relaxed), TLB_SINGLE_FLUSHES.load(Ordering::Relaxed));
    let again = kmap(hp);
    let same = again.vaddr() == first.vaddr();
    drop(again);
    let none = TLB_FULL_FLUSHES.load(Ordering::Relaxed) == f0 && TLB_SINGLE_FLUSHES.load(Ordering::Relaxed) == s0;
    drop(first);
    let direct = kmap(lp).vaddr() == crate::layout::phys_to_virt((lp as usize) << 12);
    alloc::free_pages_block(p);
    alloc::free_pages_block(q);
    if !p_is_high(hp) {
        return Err("GFP_HIGHUSER_MOVABLE gave lowmem");
    }
    if high != 2 || low != 0 {
        return Err("kmap_atomic did not cost exactly 2 invlpg (0 for lowmem)");
    }
    if !same || !none {
        return Err("kmap of an already mapped page took a new slot or flushed");
    }
    if !direct {
        return Err("kmap of a lowmem page is not its direct-map address");
    }
    if alloc::nr_free_pages() != free_before {
        return Err("free pages not back where they were");
    }
    Ok(())
}

fn p_is_high(pfn: u32) -> bool {
    pfn as usize >= alloc::max_low_pfn()
}

/// Out-of-order kunmap_atomic and a slot type taken twice are caught and
/// reported; the mappings stay right.
pub fn kmap_atomic_misuse_is_caught() -> TestResult {
    let free_before = alloc::nr_free_pages();
    let a = alloc::alloc_pages(super::gfp::GFP_HIGHUSER_MOVABLE, 0).ok_or("no page")?;
    let b = alloc::alloc_pages(super::gfp::GFP_HIGHUSER_MOVABLE, 0).ok_or("no page")?;
    // SAFETY: a and b were just allocated for this test.
    unsafe {
        memcpy_to_page(a.pfn(), 0, b"page a");
        memcpy_to_page(b.pfn(), 0, b"page b");
    }
    let m0 = MISUSES.load(Ordering::Relaxed);
    let ma = kmap_atomic(a.pfn(), KmType::User0, alloc::max_low_pfn()).map_err(|_| "refused")?;
    let mb = kmap_atomic(b.pfn(), KmType::User1, alloc::max_low_pfn()).map_err(|_| "refused")?;
    let twice = kmap_atomic(b.pfn(), KmType::User1, alloc::max_low_pfn()).is_err();
    // SAFETY: our frames, only read.
    let right = unsafe { &ma.as_slice()[..6] == b"page a" && &mb.as_slice()[..6] == b"page b" };
    drop(ma); // wrong order: ma was taken first
              // SAFETY: as above.
    let still = unsafe { &mb.as_slice()[..6] == b"page b" };
    drop(mb);
    let caught = MISUSES.load(Ordering::Relaxed) - m0;
    // The stack is consistent again: both types can be used in order.
    let ok_after = {
        let x = kmap_atomic(a.pfn(), KmType::User0, alloc::max_low_pfn()).is_ok();
        x
    };
    alloc::free_pages_block(a);
    alloc::free_pages_block(b);
    if !twice {
        return Err("a slot type taken twice was not refused");
    }
    if caught != 2 {
        return Err("misuses not reported");
    }
    if !right || !still || !ok_after {
        return Err("mappings wrong after a misuse");
    }
    if alloc::nr_free_pages() != free_before {
        return Err("free pages not back where they were");
    }
    Ok(())
}

/// kmap where sleeping is not allowed is reported (it may sleep).
pub fn kmap_in_atomic_context_is_reported() -> TestResult {
    let free_before = alloc::nr_free_pages();
    let q = alloc::alloc_pages(super::gfp::GFP_KERNEL, 0).ok_or("no page")?;
    let before = sched::MIGHT_SLEEP_BUGS.load(Ordering::Relaxed);
    sched::preempt_disable();
    drop(kmap(q.pfn()));
    sched::preempt_enable();
    alloc::free_pages_block(q);
    if sched::MIGHT_SLEEP_BUGS.load(Ordering::Relaxed) != before + 1 {
        return Err("kmap with preemption off was not reported");
    }
    if alloc::nr_free_pages() != free_before {
        return Err("free pages not back where they were");
    }
    Ok(())
}

/// copy_highpage and memcpy_to/from_page between highmem frames.
pub fn highpage_helpers_copy() -> TestResult {
    let free_before = alloc::nr_free_pages();
    let a = alloc::alloc_pages(super::gfp::GFP_HIGHUSER_MOVABLE, 0).ok_or("no page")?;
    let b = alloc::alloc_pages(super::gfp::GFP_HIGHUSER_MOVABLE, 0).ok_or("no page")?;
    let mut out = [0u8; 8];
    let mut zero = [1u8; 8];
    // SAFETY: a and b are two distinct frames this test owns.
    unsafe {
        memcpy_to_page(a.pfn(), 4000, b"highmem!");
        copy_highpage(b.pfn(), a.pfn());
        memcpy_from_page(&mut out, b.pfn(), 4000);
        super::highmem::clear_highpage(b.pfn());
        memcpy_from_page(&mut zero, b.pfn(), 4000);
    }
    alloc::free_pages_block(a);
    alloc::free_pages_block(b);
    if &out != b"highmem!" || zero != [0; 8] {
        return Err("copy or clear through kmap_atomic went wrong");
    }
    if alloc::nr_free_pages() != free_before {
        return Err("free pages not back where they were");
    }
    Ok(())
}
