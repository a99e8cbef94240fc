//! In-kernel tests of kmap and kmap_atomic on real highmem: every highmem
//! frame written through kmap_atomic and read back through kmap, more
//! kmaps than slots from several threads, one TLB flush per wrap, misuse
//! caught. Each test checks that free page counts end where they started.

use super::{skip, TestResult};
use crate::arch::x86::cpu::{TLB_FULL_FLUSHES, TLB_SINGLE_FLUSHES};
use crate::arch::x86::mm::highmem::{kmap_atomic, kmap_atomic_top, KmType, MISUSES};
use crate::kernel::sched;
use crate::layout::{LAST_PKMAP, PAGE_SIZE};
use crate::mm::highmem::{copy_highpage, kmap, memcpy_from_page, memcpy_to_page, pkmap_stats, Kmap};
use crate::mm::mmzone::with_node_mem_map;
use crate::mm::page_alloc;
use crate::pr_info;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Every free highmem frame, chained (see `ktests::take_all_free`); given
/// back when dropped, so an early return cannot leak HighMem.
fn take_all_highmem() -> super::page_alloc::FreeChain {
    super::page_alloc::take_all_free(crate::mm::mmzone::max_low_pfn() as u64)
}

/// One frame the test owns, freed when dropped (on every path).
struct Owned(Option<page_alloc::Pages>);

impl Owned {
    fn alloc(gfp: crate::mm::gfp::Gfp) -> Result<Owned, &'static str> {
        page_alloc::alloc_pages(gfp, 0).map(|p| Owned(Some(p))).ok_or("no free page")
    }

    /// A highmem frame, or the reason to skip.
    fn high() -> Result<Owned, &'static str> {
        let p = Owned::alloc(crate::mm::gfp::GFP_HIGHUSER_MOVABLE)
            .map_err(|_| skip("no free page for GFP_HIGHUSER_MOVABLE"))?;
        if !p_is_high(p.pfn()) {
            return Err(skip("no free highmem page (boot with more than 896 MB or highmem=)"));
        }
        Ok(p)
    }

    fn pfn(&self) -> u32 {
        self.0.as_ref().map_or(0, |p| p.pfn())
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            page_alloc::__free_pages(p);
        }
    }
}

/// Many frames the test owns, freed when dropped.
struct OwnedAll(::alloc::vec::Vec<Owned>);

/// Run `body` (every guard of it dropped at its end), then prove the free
/// page count came back, no kmap_atomic slot is held and the preempt count
/// is back.
fn counts_come_back(body: impl FnOnce() -> TestResult) -> TestResult {
    // Slab pages kept cached count as free once shrunk; a kernel page table
    // that vmalloc made (for a thread's stack) stays for good, as in Linux,
    // and is counted apart.
    let settled = || {
        crate::mm::slab_common::shrink_all();
        page_alloc::drain_all_pages();
        page_alloc::nr_free_pages()
    };
    let tables = crate::arch::x86::mm::init::page_tables_in_use();
    let count = crate::kernel::preempt::preempt_count();
    let before = settled();
    let r = body();
    let after = settled();
    // Every kmap_atomic guard gone: no slot held, preemption as it was.
    if kmap_atomic_top().is_some() {
        return r.and(Err("a kmap_atomic slot is still held"));
    }
    if crate::kernel::preempt::preempt_count() != count {
        return r.and(Err("the preempt count is not back where it was"));
    }
    let new_tables = (crate::arch::x86::mm::init::page_tables_in_use() - tables) as u64;
    if after + new_tables != before {
        pr_info!("ktest: free pages {} -> {} ({} new kernel page tables)", before, after, new_tables);
        return r.and(Err("free pages not back where they were"));
    }
    r
}

fn pattern(pfn: u32, word: usize) -> u32 {
    pfn.wrapping_mul(0x9e37_79b9) ^ (word as u32).wrapping_mul(0x85eb_ca6b)
}

/// Write a distinct pattern into every highmem frame through kmap_atomic,
/// read each back through kmap: nothing lost, and exactly one full TLB
/// flush per pkmap wrap-around.
pub fn every_highmem_page_through_kmap() -> TestResult {
    counts_come_back(|| {
        let chain = take_all_highmem();
        let n = chain.len();
        if n == 0 {
            return Err(skip("no free highmem (boot with more than 896 MB or highmem=)"));
        }
        let mut pfn = chain.first();
        while let Some(p) = pfn {
            let mut m = kmap_atomic(p, KmType::User0).map_err(|_| "kmap_atomic refused")?;
            // SAFETY: the test took this frame from the allocator; only it uses it.
            let words = unsafe { m.as_mut_slice() }.as_mut_ptr() as *mut u32;
            for w in [0, 1, PAGE_SIZE / 4 / 2, PAGE_SIZE / 4 - 1] {
                // SAFETY: w < 1024 words: inside the page the guard maps.
                unsafe { words.add(w).write_volatile(pattern(p, w)) };
            }
            drop(m);
            pfn = crate::mm::mmzone::pfn_to_page(p as usize)
                .map_or(crate::mm::list::NIL, |pg| pg.lru.next())
                .into_option();
        }
        let (flushes0, stats0) = (TLB_FULL_FLUSHES.load(Ordering::Relaxed), pkmap_stats());
        let mut bad = 0;
        let mut pfn = chain.first();
        while let Some(p) = pfn {
            let k = kmap(p).map_err(|_| "kmap refused a free highmem page")?;
            // SAFETY: as above.
            let words = unsafe { k.as_slice() }.as_ptr() as *const u32;
            for w in [0, 1, PAGE_SIZE / 4 / 2, PAGE_SIZE / 4 - 1] {
                // SAFETY: inside the kmapped page.
                if unsafe { words.add(w).read_volatile() } != pattern(p, w) {
                    bad += 1;
                }
            }
            drop(k);
            pfn = crate::mm::mmzone::pfn_to_page(p as usize)
                .map_or(crate::mm::list::NIL, |pg| pg.lru.next())
                .into_option();
        }
        let stats = pkmap_stats();
        let flushes = TLB_FULL_FLUSHES.load(Ordering::Relaxed) - flushes0;
        let wraps = stats.full_flushes - stats0.full_flushes;
        drop(chain);
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
        Ok(())
    })
}

trait IntoOption {
    fn into_option(self) -> Option<u32>;
}

impl IntoOption for u32 {
    fn into_option(self) -> Option<u32> {
        (self != crate::mm::list::NIL).then_some(self)
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
    // On the heap: 340 guards are 8 KB, half a kernel stack. Without
    // the memory the thread maps nothing, and MAPPED_OK fails the test.
    let mut held: ::alloc::vec::Vec<Kmap> = ::alloc::vec::Vec::new();
    let room = held.try_reserve_exact(PER_THREAD).is_ok();
    for i in 0..if room { PER_THREAD } else { 0 } {
        // SAFETY: PAGES was filled before the threads started and is only read.
        let pfn = unsafe { PAGES[t * PER_THREAD + i] };
        if let Ok(k) = kmap(pfn) {
            if k.pfn() == pfn {
                MAPPED_OK.fetch_add(1, Ordering::Relaxed);
            }
            held.push(k);
        }
    }
    HOLDING.fetch_add(1, Ordering::SeqCst);
    sched::msleep(30);
    drop(held);
    DONE.fetch_add(1, Ordering::Relaxed);
}

/// More kmaps than slots, held at once by several threads: some must sleep
/// until others kunmap, and everyone finishes.
pub fn kmap_waiters_wake_and_finish() -> TestResult {
    let needed = THREADS * PER_THREAD;
    if free_highmem() < needed as u64 + 64 {
        return Err(skip("needs more than 1360 free highmem pages (boot with 1G or more)"));
    }
    counts_come_back(|| {
        // The frames, owned here and freed when `held` drops (after the
        // threads that use them have been waited for); PAGES only names them
        // for the threads.
        let mut held = OwnedAll(::alloc::vec::Vec::new());
        held.0.try_reserve_exact(needed).map_err(|_| "no memory for the page list")?;
        for i in 0..needed {
            let p = Owned::alloc(crate::mm::gfp::GFP_HIGHUSER_MOVABLE).map_err(|_| "no highmem page")?;
            let pfn = p.pfn();
            held.0.push(p);
            if !p_is_high(pfn) {
                return Err(skip("highmem ran out during the test"));
            }
            // SAFETY: the threads are not started yet.
            unsafe { PAGES[i] = pfn };
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
        let mut started = 0;
        let mut spawn_failed = false;
        for (t, pid) in pids.iter_mut().enumerate() {
            if t == THREADS - 1 {
                while HOLDING.load(Ordering::SeqCst) < THREADS - 1 {
                    sched::msleep(5);
                }
            }
            match crate::process::kthread::kthread_run("ktest-kmap", holder, t) {
                Ok(p) => {
                    *pid = p;
                    started += 1;
                }
                Err(_) => {
                    spawn_failed = true;
                    break;
                }
            }
        }
        // Wait for every thread started, whatever happened: they use the frames.
        for &pid in &pids[..started] {
            crate::process::kthread::kthread_wait(pid);
        }
        drop(held);
        if spawn_failed {
            return Err("no thread slot");
        }
        let waits = pkmap_stats().waits - waits0;
        pr_info!("ktest: {} threads held {} kmaps over {} slots: {} waits", THREADS, needed, LAST_PKMAP, waits);
        if DONE.load(Ordering::SeqCst) != THREADS || MAPPED_OK.load(Ordering::SeqCst) != needed {
            return Err("a kmap holder did not finish");
        }
        if waits == 0 {
            return Err("nobody waited although there were more kmaps than slots");
        }
        Ok(())
    })
}

/// Free pages in ZONE_HIGHMEM now (after a drain).
fn free_highmem() -> u64 {
    page_alloc::drain_all_pages();
    with_node_mem_map(|node, _| {
        node.zones.iter().filter(|z| z.kind == crate::mm::mmzone::ZoneType::HighMem).map(|z| z.nr_free_pages()).sum()
    })
}

/// kmap_atomic + kunmap_atomic of a highmem page: exactly two invlpg; a
/// lowmem page: none. kmap of a mapped page: no flush at all.
pub fn kmap_costs_the_expected_flushes() -> TestResult {
    counts_come_back(|| {
        let p = Owned::high()?;
        let q = Owned::alloc(crate::mm::gfp::GFP_KERNEL)?;
        let (hp, lp) = (p.pfn(), q.pfn());
        let i0 = TLB_SINGLE_FLUSHES.load(Ordering::Relaxed);
        drop(kmap_atomic(hp, KmType::User0).map_err(|_| "refused")?);
        let high = TLB_SINGLE_FLUSHES.load(Ordering::Relaxed) - i0;
        let i1 = TLB_SINGLE_FLUSHES.load(Ordering::Relaxed);
        drop(kmap_atomic(lp, KmType::User0).map_err(|_| "refused")?);
        let low = TLB_SINGLE_FLUSHES.load(Ordering::Relaxed) - i1;
        let first = kmap(hp).map_err(|_| "kmap refused")?;
        let (f0, s0) = (TLB_FULL_FLUSHES.load(Ordering::Relaxed), TLB_SINGLE_FLUSHES.load(Ordering::Relaxed));
        let again = kmap(hp).map_err(|_| "kmap refused")?;
        let same = again.vaddr() == first.vaddr();
        drop(again);
        let none = TLB_FULL_FLUSHES.load(Ordering::Relaxed) == f0 && TLB_SINGLE_FLUSHES.load(Ordering::Relaxed) == s0;
        drop(first);
        let direct = kmap(lp).map_err(|_| "kmap refused")?.vaddr() == crate::layout::phys_to_virt((lp as usize) << 12);
        if high != 2 || low != 0 {
            return Err("kmap_atomic did not cost exactly 2 invlpg (0 for lowmem)");
        }
        if !same || !none {
            return Err("kmap of an already mapped page took a new slot or flushed");
        }
        if !direct {
            return Err("kmap of a lowmem page is not its direct-map address");
        }
        Ok(())
    })
}

/// kmap and kmap_atomic of a frame at or beyond max_pfn (no RAM; from 2^20
/// on not even expressible in a PTE, where the shift would wrap to frame
/// 0) are refused and reported, and map nothing.
pub fn kmap_refuses_frames_beyond_max_pfn() -> TestResult {
    let max_pfn = crate::mm::mmzone::max_pfn() as u32;
    let m0 = MISUSES.load(Ordering::Relaxed);
    let mut refused = 0;
    for pfn in [max_pfn, 1 << 20, (1 << 20) + 1, u32::MAX] {
        refused += kmap(pfn).is_err() as usize;
        refused += kmap_atomic(pfn, KmType::User0).is_err() as usize;
    }
    let reports = MISUSES.load(Ordering::Relaxed) - m0;
    // The slot is usable afterwards: nothing was left taken.
    let q = Owned::alloc(crate::mm::gfp::GFP_KERNEL)?;
    let ok_after = kmap_atomic(q.pfn(), KmType::User0).is_ok();
    if refused != 8 {
        return Err("a frame beyond max_pfn was mapped");
    }
    if reports != 8 {
        return Err("a refused frame was not reported");
    }
    if !ok_after {
        return Err("kmap_atomic unusable after a refusal");
    }
    Ok(())
}

fn high_slot(t: KmType) -> usize {
    crate::arch::x86::mm::highmem::kmap_atomic_vaddr(t)
}

fn p_is_high(pfn: u32) -> bool {
    pfn as usize >= crate::mm::mmzone::max_low_pfn()
}

/// Out-of-order kunmap_atomic and a slot type taken twice are caught and
/// reported; the mappings stay right. Highmem pages: a lowmem page takes
/// no slot (it is used at its direct-map address), so its guard is in no
/// order and never reported.
pub fn kmap_atomic_misuse_is_caught() -> TestResult {
    counts_come_back(|| {
        let a = Owned::high()?;
        let b = Owned::high()?;
        // SAFETY: a and b were just allocated for this test.
        unsafe {
            memcpy_to_page(a.pfn(), 0, b"page a");
            memcpy_to_page(b.pfn(), 0, b"page b");
        }
        let m0 = MISUSES.load(Ordering::Relaxed);
        let ma = kmap_atomic(a.pfn(), KmType::User0).map_err(|_| "refused")?;
        let mb = kmap_atomic(b.pfn(), KmType::User1).map_err(|_| "refused")?;
        let twice = kmap_atomic(b.pfn(), KmType::User1).is_err();
        // SAFETY: our frames, only read.
        let right = unsafe { &ma.as_slice()[..6] == b"page a" && &mb.as_slice()[..6] == b"page b" };
        drop(ma); // wrong order: ma was taken first
                  // SAFETY: as above.
        let still = unsafe { &mb.as_slice()[..6] == b"page b" };
        drop(mb);
        let caught = MISUSES.load(Ordering::Relaxed) - m0;
        // The stack is consistent again: both types can be used in order.
        let ok_after = kmap_atomic(a.pfn(), KmType::User0).is_ok();
        // A lowmem guard holds no slot: it leaves TOP alone, and dropping it
        // before a highmem guard taken after it is no misuse (as Linux's
        // debug_kmap_atomic, which runs for highmem pages only).
        let q = Owned::alloc(crate::mm::gfp::GFP_KERNEL)?;
        let m1 = MISUSES.load(Ordering::Relaxed);
        let low = kmap_atomic(q.pfn(), KmType::User0).map_err(|_| "refused")?;
        let top_low = kmap_atomic_top();
        let high = kmap_atomic(b.pfn(), KmType::User1).map_err(|_| "refused")?;
        let top_high = kmap_atomic_top();
        drop(low);
        let top_after_low = kmap_atomic_top();
        drop(high);
        let low_reports = MISUSES.load(Ordering::Relaxed) - m1;
        if top_low.is_some() || top_high != Some(high_slot(KmType::User1)) || top_after_low != top_high {
            return Err("a lowmem kmap_atomic guard moved the slot stack");
        }
        if low_reports != 0 {
            return Err("a lowmem guard dropped out of order was reported");
        }
        if !twice {
            return Err("a slot type taken twice was not refused");
        }
        if caught != 2 {
            return Err("misuses not reported");
        }
        if !right || !still || !ok_after {
            return Err("mappings wrong after a misuse");
        }
        Ok(())
    })
}

/// kmap where sleeping is not allowed is reported (it may sleep), on every
/// path, as Linux's `might_sleep` at the top of `kmap`: with preemption
/// off, and under an `IrqLock` (which the preempt count does not count:
/// interrupts off tell it) for a lowmem page and for a highmem page that
/// already has a slot (neither path can sleep, the call is a bug anyway).
/// One report each, and nothing left held.
pub fn kmap_in_atomic_context_is_reported() -> TestResult {
    use crate::kernel::preempt::{preempt_count, preempt_disable, preempt_enable, MIGHT_SLEEP_BUGS};
    static LOCK: crate::kernel::sync::IrqLock<()> = crate::kernel::sync::IrqLock::new(());
    let reports = |f: &dyn Fn()| {
        let before = MIGHT_SLEEP_BUGS.load(Ordering::Relaxed);
        f();
        MIGHT_SLEEP_BUGS.load(Ordering::Relaxed) - before
    };
    counts_come_back(|| {
        let q = Owned::alloc(crate::mm::gfp::GFP_KERNEL)?;
        let (count0, in_use0) = (preempt_count(), crate::mm::highmem::with_pkmap(|_, t, _| t.in_use));
        let preempt_off = reports(&|| {
            preempt_disable();
            drop(kmap(q.pfn()));
            preempt_enable();
        });
        // A highmem page, mapped first (no report: sleeping is allowed
        // here), then mapped again under the lock: a hash hit.
        let h = Owned::high();
        let hit = match &h {
            Ok(h) => {
                let first = kmap(h.pfn()).map_err(|_| "kmap refused")?;
                let n = reports(&|| {
                    let g = LOCK.lock();
                    drop(kmap(h.pfn()));
                    drop(g);
                });
                drop(first);
                Some(n)
            }
            Err(_) => None,
        };
        // A lowmem page last: in the lab's handout (where lowmem pages take
        // a pkmap slot) it is then the one left in a stale slot, which the
        // lab's lowmem check looks for.
        let low = reports(&|| {
            let g = LOCK.lock();
            drop(kmap(q.pfn()));
            drop(g);
        });
        let (count, in_use) = (preempt_count(), crate::mm::highmem::with_pkmap(|_, t, _| t.in_use));
        pr_info!(
            "ktest: kmap reports: preempt off {}, IrqLock lowmem {}, IrqLock highmem hit {:?}",
            preempt_off,
            low,
            hit
        );
        if preempt_off != 1 {
            return Err("kmap with preemption off was not reported exactly once");
        }
        if low != 1 {
            return Err("kmap of a lowmem page under an IrqLock was not reported exactly once");
        }
        if hit.is_some_and(|n| n != 1) {
            return Err("kmap of a mapped highmem page under an IrqLock was not reported exactly once");
        }
        if count != count0 || in_use != in_use0 {
            return Err("a kmap under an IrqLock left the preempt count or a pkmap slot held");
        }
        // The lowmem cases ran whatever the memory; say so if highmem did not.
        h.map(|_| ())
    })
}

/// copy_highpage and memcpy_to/from_page between highmem frames.
pub fn highpage_helpers_copy() -> TestResult {
    counts_come_back(|| {
        let a = Owned::alloc(crate::mm::gfp::GFP_HIGHUSER_MOVABLE)?;
        let b = Owned::alloc(crate::mm::gfp::GFP_HIGHUSER_MOVABLE)?;
        let mut out = [0u8; 8];
        let mut zero = [1u8; 8];
        // SAFETY: a and b are two distinct frames this test owns.
        unsafe {
            memcpy_to_page(a.pfn(), 4000, b"highmem!");
            copy_highpage(b.pfn(), a.pfn());
            memcpy_from_page(&mut out, b.pfn(), 4000);
            crate::mm::highmem::clear_highpage(b.pfn());
            memcpy_from_page(&mut zero, b.pfn(), 4000);
        }
        if &out != b"highmem!" || zero != [0; 8] {
            return Err("copy or clear through kmap_atomic went wrong");
        }
        Ok(())
    })
}
