//! The allocators' hot paths, one row each: the page allocator (pcp and
//! buddy), slab and kmalloc, kmap, vmalloc; then the boot-time metadata.

use super::{events, free_counts, row, row_why, BATCH};
use crate::arch::x86::cpu::rdtsc;
use crate::mm::gfp::GFP_KERNEL;
use crate::mm::page_alloc::{self, __free_pages, alloc_pages, Pages};
use crate::println;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

static mut HELD: [u32; BATCH] = [0; BATCH];

/// Every row of this section, in order.
pub(super) fn rows(loop_cost: u64) {
    let n = 20_000u64;
    // Warm the pcp list so the loop measures the fast path.
    for _ in 0..64 {
        let p = alloc_pages(GFP_KERNEL, 0).expect("a page");
        __free_pages(p);
    }
    let ev = events();
    let t0 = rdtsc();
    for _ in 0..n {
        let p = alloc_pages(GFP_KERNEL, 0).expect("a page");
        __free_pages(p);
    }
    let pair = (rdtsc() - t0) / n - loop_cost;
    row_why(
        "page_alloc: order-0 alloc+free pair (pcp)",
        pair,
        "<=150",
        &ev,
        "; the pair keeps might_sleep and fault injection, the free's page checks (zone, count, mapcount, flags) and an irq save plus a re-entry lock word per pcp access",
        "; misses: those, the node's init test, the GFP route and the bounds checks of safe indexing are about half the pair, the rest the two calls' frames on i686's six registers and the list push and pop",
    );

    let ev = events();
    let t0 = rdtsc();
    for i in 0..BATCH {
        let p = alloc_pages(GFP_KERNEL, 0).expect("a page");
        // SAFETY: only this thread touches HELD, and only here.
        unsafe { HELD[i] = p.into_raw() };
    }
    for i in 0..BATCH {
        // SAFETY: as above; each pfn was allocated at order 0 just before.
        let pfn = unsafe { HELD[i] };
        // SAFETY: allocated at order 0 just before, handle forgotten.
        __free_pages(unsafe { Pages::from_raw(pfn, 0) });
    }
    let per = (rdtsc() - t0) / (2 * BATCH as u64) - loop_cost;
    row(
        "page_alloc: 4096 allocs then 4096 frees, per op",
        per,
        "<=120",
        &ev,
        "; refills of 31 pages (Linux's batch) rounded up to finish their block (32), drains of 31, through the buddy lists smallest block first, merging as page-by-page frees would: about 18 instructions a page each way in the loops, on top of the fast paths above",
    );

    let ev = events();
    let m = 2_000u64;
    let t0 = rdtsc();
    for _ in 0..m {
        let p = alloc_pages(GFP_KERNEL, 10).expect("an order-10 block");
        __free_pages(p);
    }
    let pair10 = (rdtsc() - t0) / m - loop_cost;
    row("page_alloc: order-10 alloc+free pair", pair10, "<=600", &ev, "");

    split_merge_row(loop_cost);
    slab_rows(loop_cost);
    highmem_rows(loop_cost);
    vmalloc_rows(loop_cost);

    let frames =
        crate::mm::mm_init::MEM_MAP_BYTES.load(Ordering::Relaxed) / core::mem::size_of::<crate::mm::page::Page>();
    let setup = crate::mm::mm_init::MEMMAP_SETUP_TSC.load(Ordering::Relaxed) as u64;
    row("boot: page-descriptor setup, per frame", setup / frames.max(1) as u64, "<=20", &events(), "");

    let ram = page_alloc::totalram_bytes() as u64;
    let meta = (crate::mm::mm_init::MEM_MAP_BYTES.load(Ordering::Relaxed)
        + 4096 * crate::arch::x86::mm::init::page_tables_in_use()) as u64;
    println!(
        "{:<46} {:>9} {:>7}   {} frames",
        "memory: bytes of descriptor per frame",
        core::mem::size_of::<crate::mm::page::Page>(),
        "<=32",
        frames
    );
    println!(
        "{:<46} {:>8}K {:>7}   {}.{:02}% of {} MB RAM (mem_map + kernel page tables)",
        "memory: boot-time metadata",
        meta >> 10,
        "<=1%",
        meta * 100 / ram,
        (meta * 10000 / ram) % 100,
        ram >> 20
    );
}

/// What the lock-free hit paths pay beyond Linux's (whose kfree only looks
/// the cache up and pushes, and whose kmem_cache_free trusts the pointer).
const HIT_PATH_CHECKS: &str = "; the free checks the page (slab; kmem_cache_free: of this cache), the slab \
                               header's magic, the object's boundary and index (one multiply, rotate and \
                               compare, from the slab header) and its bufctl (double free, O(1)), and both sides \
                               one gate byte (cache lock held, failslab); might_sleep is one load";
/// Why the kmem_cache pair misses its goal.
const CACHE_PAIR_MISS: &str = "; misses: Linux's kmem_cache_free trusts the pointer, and the checks that \
                               keep a bad one from corrupting memory here (its page is a slab of this cache, the \
                               header's magic, the object's boundary, its bufctl) are about 30 of these \
                               instructions";

#[inline(never)]
fn slab_rows(loop_cost: u64) {
    use crate::mm::slab::SlabFlags;
    use crate::mm::slab_common::kmalloc::{kfree, kmalloc};
    use crate::mm::slab_common::kmem_cache_create;
    let n = 20_000u64;
    for size in [8usize, 64, 256] {
        // Warm the array cache.
        let p = kmalloc(size, GFP_KERNEL).expect("kmalloc");
        // SAFETY: a block from kmalloc just above, not used after.
        unsafe { kfree(p.as_ptr()) };
        let ev = events();
        let t0 = rdtsc();
        for _ in 0..n {
            let p = kmalloc(size, GFP_KERNEL).expect("kmalloc");
            // SAFETY: as above.
            unsafe { kfree(core::hint::black_box(p.as_ptr())) };
        }
        let per = (rdtsc() - t0) / n - loop_cost;
        let mut name = crate::kernel::printk::LineBuf::<48>::new();
        let _ = core::fmt::Write::write_fmt(&mut name, format_args!("kmalloc({})+kfree pair", size));
        row(core::str::from_utf8(name.as_bytes()).unwrap_or("?"), per, "<=100", &ev, HIT_PATH_CHECKS);
    }
    let cache = kmem_cache_create("bench-64", 64, 0, SlabFlags::HWCACHE_ALIGN, None).expect("cache");
    let p = cache.alloc(GFP_KERNEL).expect("object");
    // SAFETY: an object of this cache, not used after.
    unsafe { cache.free(p) };
    let ev = events();
    let t0 = rdtsc();
    for _ in 0..n {
        let p = cache.alloc(GFP_KERNEL).expect("object");
        // SAFETY: as above.
        unsafe { cache.free(core::hint::black_box(p)) };
    }
    let per = (rdtsc() - t0) / n - loop_cost;
    row_why("kmem_cache_alloc+free pair (64 bytes)", per, "<=60", &ev, HIT_PATH_CHECKS, CACHE_PAIR_MISS);
    let _ = cache.destroy();

    // Random-size churn: 1,024 live objects of 4..1024 bytes.
    const LIVE: usize = 1024;
    let mut live = alloc::vec![(0usize, 0usize); LIVE];
    let mut x = 0x2468_ace1u32;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for slot in live.iter_mut() {
        let size = 4 + rnd() as usize % 1021;
        *slot = (kmalloc(size, GFP_KERNEL).expect("kmalloc").as_ptr() as usize, size);
    }
    let ops = 100_000u64;
    let ev = events();
    let t0 = rdtsc();
    for _ in 0..ops / 2 {
        let r = rnd() as usize;
        let slot = &mut live[r % LIVE];
        // SAFETY: every slot holds a live kmalloc block, replaced right after.
        unsafe { kfree(slot.0 as *mut u8) };
        let size = 4 + (r >> 10) % 1021;
        *slot = (kmalloc(size, GFP_KERNEL).expect("kmalloc").as_ptr() as usize, size);
    }
    let per = (rdtsc() - t0) / ops - loop_cost;
    let requested: usize = live.iter().map(|s| s.1).sum();
    // What the churn's objects take (their class sizes): the gap between
    // this and `requested` is kmalloc's rounding to Linux's fixed classes.
    let objects: usize = live.iter().map(|s| crate::mm::slab_common::kmalloc::ksize(s.0 as *const u8)).sum();
    // Only the caches the churn uses (kmalloc-8 .. kmalloc-1024): the
    // others' slabs are not the churn's to fill.
    let (held, _) = churned_slabs();
    // In use = live objects at their class size, whoever owns them (the
    // churn, off-slab slab management, the rest of the kernel), over the
    // slabs' memory: the slab allocator's own packing, as slabinfo shows it
    // (active_objs * objsize against num_slabs * pagesperslab). Measured
    // once the per-CPU arrays are drained: slabinfo counts the objects
    // waiting there as active, as Linux's does. Shrinking also gives back
    // the empty slabs kept as a cache.
    crate::mm::slab_common::shrink_all();
    let (held_shrunk, active) = churned_slabs();
    row(
        "kmalloc churn 4..1024 bytes, 1024 live, per op",
        per,
        "<=100",
        &ev,
        format_args!(
            "; {}% of kmalloc-8..1024 slab memory in use by live objects (goal >=75%), the rest free slots of \
             partial slabs; the requests are {}% of their class sizes (Linux's fixed classes), so {}% of the slab \
             memory is bytes asked for ({}% before the shrink)",
            active * 100 / held_shrunk.max(1),
            requested * 100 / objects.max(1),
            requested * 100 / held_shrunk.max(1),
            requested * 100 / held.max(1),
        ),
    );
    for slot in live.iter() {
        // SAFETY: the last live blocks, not used after.
        unsafe { kfree(slot.0 as *mut u8) };
    }
    crate::mm::slab_common::shrink_all();
}

/// Bytes of the slabs of kmalloc-8 .. kmalloc-1024 and bytes of their
/// active objects, read from the `slabinfo` report (num_slabs *
/// pagesperslab pages, active_objs * objsize bytes, on each line).
fn churned_slabs() -> (usize, usize) {
    struct Sum {
        line: crate::kernel::printk::LineBuf<256>,
        pages: usize,
        active: usize,
    }
    impl Sum {
        // No allocation here: slabinfo may hold a cache's lock while it writes.
        fn line_done(&mut self) {
            let text = core::str::from_utf8(self.line.as_bytes()).unwrap_or("");
            // name active num objsize perslab pagesperslab : tunables l b s : slabdata active num shared
            let field = |i: usize| text.split_whitespace().nth(i);
            let size = field(0).and_then(|n| n.strip_prefix("kmalloc-")).and_then(|n| match n.strip_suffix('k') {
                Some(k) => k.parse::<usize>().ok().map(|k| k << 10),
                None => n.parse::<usize>().ok(),
            });
            if let (Some(size), Some("slabdata")) = (size, field(12)) {
                if size <= 1024 {
                    let num = |i| field(i).and_then(|v: &str| v.parse::<usize>().ok()).unwrap_or(0);
                    self.pages += num(5) * num(14);
                    self.active += num(1) * num(3);
                }
            }
            self.line.clear();
        }
    }
    impl core::fmt::Write for Sum {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            for part in s.split_inclusive('\n') {
                let (text, end) = match part.strip_suffix('\n') {
                    Some(t) => (t, true),
                    None => (part, false),
                };
                let _ = self.line.write_str(text);
                if end {
                    self.line_done();
                }
            }
            Ok(())
        }
    }
    let mut sum = Sum { line: crate::kernel::printk::LineBuf::new(), pages: 0, active: 0 };
    let _ = crate::mm::slab_common::slabinfo(&mut sum);
    (sum.pages * 4096, sum.active)
}

/// Order of the split-and-merge row: small enough that free blocks of every
/// order between it and the top are few, large enough to bypass the pcp lists.
const SPLIT_ORDER: usize = 3;
/// At most this many blocks are held to empty the orders below the top.
const SPLIT_HOLD_MAX: usize = 8192;

/// An order-3 allocation that really splits an order-10 block (one free
/// block appears at each order 3..9) and a free that merges it back
/// (Linux: expand() and __free_one_page()). Free blocks of orders 3..9 would
/// serve the allocation without a split, so they are taken (and held) first.
#[inline(never)]
fn split_merge_row(loop_cost: u64) {
    let top = crate::mm::buddy::MAX_ORDER - 1;
    let mut held: Vec<u32> = Vec::with_capacity(SPLIT_HOLD_MAX);
    let mut split = false;
    while held.len() < SPLIT_HOLD_MAX {
        let before = free_counts();
        let Some(p) = alloc_pages(GFP_KERNEL, SPLIT_ORDER) else { break };
        let after = free_counts();
        // Did this allocation take an order-10 block and leave its halves?
        split = (0..4).any(|z| {
            before[z][top] == after[z][top] + 1 && (SPLIT_ORDER..top).all(|o| after[z][o] == before[z][o] + 1)
        });
        if split {
            __free_pages(p);
            split = free_counts() == before; // and merged back, all the way up
            break;
        }
        held.push(p.into_raw());
    }
    let ev = events();
    let m = 2_000u64;
    let t0 = rdtsc();
    if split {
        for _ in 0..m {
            let p = alloc_pages(GFP_KERNEL, SPLIT_ORDER).expect("an order-3 block");
            __free_pages(p);
        }
    }
    let per = ((rdtsc() - t0) / m).saturating_sub(loop_cost);
    row_why(
        "page_alloc: order-3 pair splitting order-10",
        if split { per } else { 0 },
        "<=1000",
        &ev,
        format_args!(
            "; {} free blocks of order {}..{} held first{}; 7 splits and 7 merges, each a link or unlink of a PFN-linked free list",
            held.len(),
            SPLIT_ORDER,
            top - 1,
            if split { ", split and merge seen in buddyinfo" } else { "; NO SPLIT SEEN, not measured" }
        ),
        "; misses: a merge step is about 50 instructions (the zone and bounds checks, the buddy mark and order, the unlink from a list with head, tail and length, nr_free, the CMA count), a third of them spills of pfn, order and list on i686's six registers, and a split step about 25",
    );
    for &pfn in held.iter() {
        // SAFETY: allocated at SPLIT_ORDER above, handle forgotten, freed once here.
        __free_pages(unsafe { Pages::from_raw(pfn, SPLIT_ORDER) });
    }
}

#[inline(never)]
fn highmem_rows(loop_cost: u64) {
    use crate::arch::x86::mm::highmem::{kmap_atomic, KmType};
    use crate::mm::gfp::GFP_HIGHUSER_MOVABLE;
    use crate::mm::highmem::{kmap, pkmap_stats};
    let (high_managed, _) = crate::mm::mmzone::with_node_mem_map(|node, _| node.high_totals());
    if high_managed == 0 {
        // GFP_HIGHUSER_MOVABLE would fall back to lowmem and measure that.
        println!(
            "{:<46} {:>9} {:>7}   no HighMem on this machine (boot with MEM=2G or highmem=)",
            "kmap rows (highmem)", "skipped", "-"
        );
        return;
    }
    // A HighMem too small to serve (highmem=4K: one page, below its
    // watermarks) hands out lowmem pages, which kmap does not map: say so
    // rather than measure them under a highmem label.
    let skip = |rows: &str, why: &str| println!("{:<46} {:>9} {:>7}   {}", rows, "skipped", "-", why);
    let p = alloc_pages(GFP_HIGHUSER_MOVABLE, 0).expect("a highmem page");
    let pfn = p.pfn();
    if (pfn as usize) < crate::mm::mmzone::max_low_pfn() {
        __free_pages(p);
        return skip("kmap rows (highmem)", "no free HighMem page above its watermarks (a tiny highmem=?)");
    }
    let n = 20_000u64;
    let ev = events();
    let t0 = rdtsc();
    for _ in 0..n {
        let m = kmap_atomic(pfn, KmType::User0).expect("slot");
        drop(core::hint::black_box(m));
    }
    let per = (rdtsc() - t0) / n - loop_cost;
    let now = events();
    let invlpg_per = (now.invlpg - ev.invlpg) as u64 / n;
    row_why(
        "kmap_atomic+kunmap_atomic pair (highmem)",
        per,
        "<=20",
        &ev,
        format_args!(" ({} invlpg per pair, goal 2)", invlpg_per),
        "; misses: the two invlpg, their counts and the PTE writes are 8; the frame bound (about 6), the \
         slot-type stack that refuses a type taken twice and reports an out-of-order release (about 14) and the \
         preempt and pagefault counts (4) keep the safe API sound",
    );

    let held = kmap(pfn).expect("a RAM pfn");
    let ev = events();
    let t0 = rdtsc();
    for _ in 0..n {
        let k = kmap(pfn).expect("a RAM pfn");
        drop(core::hint::black_box(k));
    }
    let per = (rdtsc() - t0) / n - loop_cost;
    row_why(
        "kmap+kunmap of an already-mapped page",
        per,
        "<=30",
        &ev,
        " (goal: no invlpg)",
        "; misses: as Linux's kmap_high/kunmap_high, each side takes kmap_lock (14 for both), kmap probes the \
         page_address hash (6) and runs might_sleep, as Linux's kmap does on every path (EFLAGS, for IrqLock \
         holders and cli, and the preempt count: 8), kunmap checks that the slot holds the page for another user \
         (6), and each side counts its event",
    );
    drop(held);
    __free_pages(p);

    // Distinct pages through all slots: one full flush per wrap.
    let mut pages = alloc::vec![0u32; 2048];
    let mut got = 0;
    for slot in pages.iter_mut() {
        let q = alloc_pages(GFP_HIGHUSER_MOVABLE, 0).expect("highmem");
        let low = (q.pfn() as usize) < crate::mm::mmzone::max_low_pfn();
        *slot = q.into_raw();
        got += 1;
        if low {
            break;
        }
    }
    if got < pages.len() || (pages[got - 1] as usize) < crate::mm::mmzone::max_low_pfn() {
        for &q in &pages[..got] {
            // SAFETY: allocated at order 0 just above, handle forgotten.
            __free_pages(unsafe { Pages::from_raw(q, 0) });
        }
        return skip(
            "kmap+kunmap cycling 2048 pages",
            "fewer than 2048 free HighMem pages above its watermarks (a small highmem=?)",
        );
    }
    let s0 = pkmap_stats();
    let ev = events();
    let t0 = rdtsc();
    for _ in 0..3 {
        for &q in pages.iter() {
            drop(kmap(q));
        }
    }
    let per = (rdtsc() - t0) / (3 * 2048) - loop_cost;
    let s1 = pkmap_stats();
    row(
        "kmap+kunmap cycling 2048 pages, per pair",
        per,
        "-",
        &ev,
        format_args!(" ({} wraps, goal: one full flush per wrap)", s1.full_flushes - s0.full_flushes),
    );
    for &q in pages.iter() {
        // SAFETY: allocated at order 0 above, handle forgotten.
        __free_pages(unsafe { Pages::from_raw(q, 0) });
    }
}

#[inline(never)]
fn vmalloc_rows(loop_cost: u64) {
    use crate::mm::gfp::Gfp;
    use crate::mm::vmalloc::{vfree, vmalloc};
    // Warm: the page tables of the first vmalloc range.
    let w = vmalloc(16 << 10).expect("vmalloc");
    // SAFETY: the area just made here, freed once.
    unsafe { vfree(w.as_ptr()) };
    let n = 2_000u64;
    let ev = events();
    let t0 = rdtsc();
    for _ in 0..n {
        let p = vmalloc(16 << 10).expect("vmalloc");
        // SAFETY: the area just made here, freed once.
        unsafe { vfree(core::hint::black_box(p.as_ptr())) };
    }
    let per = (rdtsc() - t0) / n - loop_cost;
    let now = events();
    // The page allocator's share: the same four frames (vmalloc's flags,
    // highmem first) allocated, then freed, as vmalloc and vfree do.
    let t0 = rdtsc();
    for _ in 0..n {
        let mut held = [0u32; 4];
        for h in held.iter_mut() {
            *h = alloc_pages(GFP_KERNEL | Gfp::HIGHMEM, 0).expect("a page").into_raw();
        }
        for &h in core::hint::black_box(&held) {
            // SAFETY: allocated at order 0 just above, handle forgotten.
            __free_pages(unsafe { Pages::from_raw(h, 0) });
        }
    }
    let frames = ((rdtsc() - t0) / n).saturating_sub(loop_cost);
    row(
        "vmalloc(16K)+vfree pair",
        per,
        "<=1500",
        &ev,
        format_args!(
            " ({} full flushes per pair, goal <=1: vfree's; the freed record stays and vmalloc takes it back; \
             no zeroing; {} of it 4 alloc_pages+__free_pages)",
            (now.flushes - ev.flushes) as u64 / n,
            frames
        ),
    );
}
