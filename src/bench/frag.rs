//! The fragmentation study: a `stress-highalloc`-style run (Mel Gorman's
//! test from the anti-fragmentation work, which filled memory with kernel
//! builds and then asked a module for huge pages) on one configuration of
//! the allocator, the one this boot has: mobility grouping on or off
//! (`mobility_grouping=`), direct compaction on or off (`compaction=`).
//! `scripts/bench-frag.sh` boots the bench kernel once per configuration.
//!
//! 1. **Fill.** Memory is filled, in small interleaved steps, with movable
//!    pages (anonymous pages of an address space the bench thread builds,
//!    faulted in as a process's would be: on the LRU, with a reverse map,
//!    so compaction can move them) and unmovable ones (objects of a slab
//!    cache, as dentries and inodes are: one in eight pages), until only
//!    what the zones keep back is left (`fill_floor`).
//! 2. **Free half at random** (fixed seed): every page of the address
//!    space and every slab object is freed with probability 1/2. Few slab
//!    pages empty (15 objects each), so they stay where they were put.
//! 3. **Under load**, the rest still held: as many order-10 allocations
//!    (`GFP_HIGHUSER_MOVABLE`, a huge page's) as the free memory could hold
//!    whole, kept until the phase ends; the row is the % that succeed.
//! 4. **At rest**: the address space goes (the load is over), the
//!    surviving slab objects stay (a kernel's caches outlive the builds);
//!    order-10 allocations until one fails; the row is the % of the free
//!    memory they took.
//!
//! The attempts use the page allocator's path up to and including direct
//! compaction, not direct reclaim: reclaim would swap the load out (the
//! bench machine has a swap disk) and make the run measure the disk; Linux
//! 2.6.24's figures had lumpy reclaim in that place, this kernel has none.
//!
//! Charts: `@plot frag CONFIG STEP N0 .. N10` (free pages in blocks of each
//! order, all zones; pcp pages count as order 0) at every phase, with
//! `@plot fragphase CONFIG STEP PHASE` naming the phase a step starts;
//! `@plot memmap CONFIG PHASE ADDR CELLS`, one line per row of the `memmap`
//! picture (its rows are an address and the cells, one space between; the
//! legend under them is the same every time and is left out).

use super::{events, free_counts, plot, row};
use crate::arch::x86::cpu::rdtsc;
use crate::mm::buddy::MAX_ORDER;
use crate::mm::compaction;
use crate::mm::gfp::{Gfp, GFP_HIGHUSER_MOVABLE, GFP_KERNEL};
use crate::mm::memory::{handle_mm_fault, zap_page_range, Access};
use crate::mm::mm_types::{mm_alloc, MmRef};
use crate::mm::mmap::{Rlimits, MAP_ANONYMOUS, MAP_NORESERVE, MAP_PRIVATE, PROT_READ, PROT_WRITE};
use crate::mm::mmzone::{with_node_mem_map, Watermark};
use crate::mm::page_alloc::{self, Pages};
use crate::mm::slab::SlabFlags;
use crate::mm::slab_common::{kmem_cache_create, Cache};
use crate::mm::vmstat::{vm_event, VmEvent};
use crate::println;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::ptr::NonNull;

const PAGE: usize = 4096;
const ORDER: usize = MAX_ORDER - 1;
/// Of every `FILL_STEP` pages filled, `UNMOVABLE_STEP` are slab pages.
const FILL_STEP: usize = 64;
const UNMOVABLE_STEP: usize = 8;
/// Slab objects: 256 bytes, 15 to a page (with the slab's own
/// bookkeeping), about a dentry's size.
const OBJ_SIZE: usize = 256;
/// Pages the fill leaves above what the zones keep back (`fill_floor`):
/// a few pcp batches, so that no allocation of the fill meets a watermark.
const FILL_MARGIN: u64 = 1024;
const SEED: u32 = 0x5eed_f4a6;

/// xorshift32: a fixed-seed sequence, the same every run.
struct Rng(u32);

impl Rng {
    fn coin(&mut self) -> bool {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x & 0x100 != 0
    }
}

/// The study's chart lines and step counter.
struct Run {
    config: &'static str,
    step: u32,
}

impl Run {
    /// `@plot frag` of the free lists now, preceded by the phase's name.
    fn snapshot(&mut self, phase: Option<&str>) {
        if let Some(p) = phase {
            plot(format_args!("fragphase {} {} {}", self.config, self.step, p));
        }
        let counts = free_counts();
        let mut pages = [0u64; MAX_ORDER];
        for zone in counts {
            for (o, n) in zone.iter().enumerate() {
                pages[o] += (*n as u64) << o;
            }
        }
        // The pcp lists' pages are free order-0 pages too.
        let buddy: u64 = pages.iter().sum();
        pages[0] += page_alloc::nr_free_pages().saturating_sub(buddy);
        let mut line = String::new();
        for n in pages {
            let _ = write!(line, " {}", n);
        }
        plot(format_args!("frag {} {}{}", self.config, self.step, line));
        self.step += 1;
    }

    /// `@plot memmap` lines: the rows of the `memmap` picture, no colour.
    fn memmap(&self, phase: &str) {
        let counts = crate::mm::vmstat::memmap_counts();
        let mut out = String::new();
        let _ = with_node_mem_map(|node, _| crate::mm::vmstat::memmap_print(node, &counts, false, &mut out));
        drop(counts);
        for line in out.lines().take_while(|l| !l.is_empty()) {
            if let Some((addr, cells)) = line.split_once(' ') {
                plot(format_args!("memmap {} {} {} {}", self.config, phase, addr, cells));
            }
        }
    }
}

/// The unmovable half of the load: objects of a cache of its own, chained
/// through their first word, so that no other memory keeps track of them.
struct SlabLoad {
    cache: Option<Cache>,
    head: Option<NonNull<u8>>,
    objects: usize,
}

impl SlabLoad {
    fn alloc(&mut self, n: usize) -> usize {
        let Some(cache) = &self.cache else { return 0 };
        for i in 0..n {
            let Some(obj) = cache.alloc(GFP_KERNEL | Gfp::NOWARN) else { return i };
            // SAFETY: a fresh object of at least 4 bytes, aligned for a
            // pointer (slab objects are word-aligned), ours alone.
            unsafe { obj.cast::<Option<NonNull<u8>>>().as_ptr().write(self.head) };
            self.head = Some(obj);
            self.objects += 1;
        }
        n
    }

    /// Free each object with probability 1/2; returns how many went.
    fn free_half(&mut self, rng: &mut Rng) -> usize {
        let Some(cache) = &self.cache else { return 0 };
        let (mut kept, mut freed) = (None, 0);
        let mut cur = self.head.take();
        while let Some(obj) = cur {
            // SAFETY: a live object of the chain; its first word is the next.
            cur = unsafe { obj.cast::<Option<NonNull<u8>>>().as_ptr().read() };
            if rng.coin() {
                // SAFETY: from this cache, off the chain, used by nobody.
                unsafe { cache.free(obj) };
                freed += 1;
            } else {
                // SAFETY: as above; relinked into the kept chain.
                unsafe { obj.cast::<Option<NonNull<u8>>>().as_ptr().write(kept) };
                kept = Some(obj);
            }
        }
        self.head = kept;
        self.objects -= freed;
        freed
    }
}

impl Drop for SlabLoad {
    /// Every object back, then the cache and its pages.
    fn drop(&mut self) {
        let Some(cache) = self.cache.take() else { return };
        while let Some(obj) = self.head {
            // SAFETY: a live object of the chain, freed once, then left.
            unsafe {
                self.head = obj.cast::<Option<NonNull<u8>>>().as_ptr().read();
                cache.free(obj);
            }
        }
        if cache.destroy().is_err() {
            println!("frag: the fill cache still held objects at the end; leaked");
        }
    }
}

/// The movable half: one private anonymous area of an address space that
/// no task runs in (it goes with the last reference, and its pages with it).
struct UserLoad {
    mm: MmRef,
    start: usize,
    pages: usize,
    faulted: usize,
}

impl UserLoad {
    fn new(pages: usize) -> Option<UserLoad> {
        let mm = mm_alloc().ok()?;
        let prot = PROT_READ | PROT_WRITE;
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
        let start = mm.mmap.lock().vmas.mmap(0, pages * PAGE, prot, flags, None, 0, &Rlimits::DEFAULT).ok()?;
        Some(UserLoad { mm, start, pages, faulted: 0 })
    }

    /// Fault in the next `n` pages, as a write from user space would.
    fn touch(&mut self, n: usize) -> usize {
        let mut ctx = self.mm.mmap.lock();
        let end = (self.faulted + n).min(self.pages);
        let from = self.faulted;
        while self.faulted < end {
            let va = self.start + self.faulted * PAGE;
            if handle_mm_fault(&self.mm, &mut ctx, va, Access { write: true, user_esp: None }).is_err() {
                break;
            }
            self.faulted += 1;
        }
        self.faulted - from
    }

    /// Unmap each page with probability 1/2 (runs of chosen pages at once).
    fn free_half(&mut self, rng: &mut Rng) -> usize {
        let _ctx = self.mm.mmap.lock();
        let (mut freed, mut run) = (0, None);
        for i in 0..=self.faulted {
            let take = i < self.faulted && rng.coin();
            match (take, run) {
                (true, None) => run = Some(i),
                (false, Some(s)) => {
                    freed += zap_page_range(&self.mm, self.start + s * PAGE, self.start + i * PAGE);
                    run = None;
                }
                _ => {}
            }
        }
        freed
    }
}

/// The free pages the zones keep from a user page: each zone's `high`
/// mark and its `lowmem_reserve` against highmem allocations (all of the
/// DMA zone, most of it). A fill that goes no lower never wakes kswapd,
/// which would start swapping the load out.
fn fill_floor() -> u64 {
    with_node_mem_map(|node, _| {
        let Some(classzone) = node.classzone[GFP_HIGHUSER_MOVABLE.zone() as usize] else { return 0 };
        let zones = node.zones[..=classzone].iter().filter(|z| z.is_populated());
        zones.map(|z| (z.watermark(Watermark::High) + z.lowmem_reserve(classzone)).min(z.nr_free_pages())).sum()
    })
}

/// One order-10 allocation as a huge page's would go, without direct
/// reclaim: the zonelist walk, then direct compaction (when this boot has
/// it on).
fn try_huge() -> Option<Pages> {
    let gfp = GFP_HIGHUSER_MOVABLE | Gfp::NOWARN;
    page_alloc::alloc_pages_nosleep(gfp, ORDER).or_else(|| {
        compaction::alloc_pages_direct_compact(gfp, ORDER).map(|pfn| {
            // SAFETY: direct compaction hands back a block of this order
            // with a count of 1, as alloc_pages does; this is its handle.
            unsafe { Pages::from_raw(pfn, ORDER) }
        })
    })
}

/// Compaction's work since `before`: (stalls, pages moved).
fn compact_work(before: (usize, usize)) -> (usize, usize) {
    (vm_event(VmEvent::CompactStall) - before.0, vm_event(VmEvent::PgMigrateSuccess) - before.1)
}

fn compact_now() -> (usize, usize) {
    (vm_event(VmEvent::CompactStall), vm_event(VmEvent::PgMigrateSuccess))
}

/// The study on this boot's configuration: two rows.
pub(super) fn rows(_loop_cost: u64) {
    let grouping = with_node_mem_map(|node, _| node.grouping);
    let compact = compaction::direct_compaction();
    let config = match (grouping, compact) {
        (true, true) => "grouping-on_compaction-on",
        (true, false) => "grouping-on_compaction-off",
        (false, true) => "grouping-off_compaction-on",
        (false, false) => "grouping-off_compaction-off",
    };
    let label = |what: &str| {
        let mut s = String::new();
        let _ = write!(s, "frag {}: {}", config, what);
        s
    };
    let goal = |g: &'static str| if grouping { g } else { "-" };
    let t0 = rdtsc();
    let mut run = Run { config, step: 0 };
    // What the run's first address space and cache leave behind for good
    // (the reverse map's family table grows once), so that the free count
    // at the end can be held to the one at the start.
    if let Some(mut warm) = UserLoad::new(16) {
        warm.touch(16);
    }
    if let Ok(c) = kmem_cache_create("frag_fill", OBJ_SIZE, 0, SlabFlags::empty(), None) {
        let _ = c.destroy();
    }
    crate::mm::slab_common::shrink_all();
    page_alloc::drain_all_pages();
    let free_before = page_alloc::nr_free_pages();
    run.snapshot(Some("start"));
    run.memmap("before");

    // 1. Fill, movable and unmovable interleaved.
    let stop_at = fill_floor() + FILL_MARGIN;
    // Room for the movable share of the fill, and some.
    let Some(mut user) = UserLoad::new(free_before as usize * (FILL_STEP - UNMOVABLE_STEP + 4) / FILL_STEP) else {
        println!("frag: no address space for the movable load; nothing measured");
        return;
    };
    let cache = kmem_cache_create("frag_fill", OBJ_SIZE, 0, SlabFlags::empty(), None).ok();
    let mut slab = SlabLoad { cache, head: None, objects: 0 };
    let per_page = PAGE / OBJ_SIZE;
    let mut next_plot = free_before - (free_before - stop_at) / 8;
    run.snapshot(Some("fill"));
    loop {
        let free = page_alloc::nr_free_pages();
        if free <= stop_at {
            break;
        }
        let movable = user.touch(FILL_STEP - UNMOVABLE_STEP);
        let unmovable = slab.alloc(UNMOVABLE_STEP * per_page);
        if movable == 0 && unmovable == 0 {
            break;
        }
        if free < next_plot {
            run.snapshot(None);
            next_plot = next_plot.saturating_sub((free_before - stop_at) / 8);
        }
    }
    let filled = free_before - page_alloc::nr_free_pages();
    run.snapshot(Some("filled"));

    // 2. Free half of each at random.
    let mut rng = Rng(SEED);
    let user_freed = user.free_half(&mut rng);
    let slab_freed = slab.free_half(&mut rng);
    run.snapshot(Some("half-freed"));
    run.memmap("load");

    // 3. Under load.
    let free_load = page_alloc::nr_free_pages();
    let attempts = (free_load >> ORDER) as usize;
    let mut held: Vec<Pages> = Vec::new();
    if held.try_reserve_exact(attempts).is_err() {
        println!("frag: no memory for the list of blocks; nothing measured");
        return;
    }
    let ev = events();
    let c0 = compact_now();
    run.snapshot(Some("load-attempts"));
    for i in 0..attempts {
        if let Some(p) = try_huge() {
            held.push(p);
        }
        if (i + 1) % attempts.div_ceil(8).max(1) == 0 {
            run.snapshot(None);
        }
    }
    let ok_load = held.len();
    let (stalls, moved) = compact_work(c0);
    run.snapshot(Some("load-done"));
    for p in held.drain(..) {
        page_alloc::__free_pages(p);
    }
    let mut extra = String::new();
    let _ = write!(
        extra,
        "; {} of {} order-10 ok; filled {} pages ({} slab objects), freed {} user pages and {} objects; \
         compact_stall {}, pages moved {}",
        ok_load,
        attempts,
        filled,
        slab.objects + slab_freed,
        user_freed,
        slab_freed,
        stalls,
        moved
    );
    let load_pct = pct(ok_load as u64, attempts as u64);
    if grouping && load_pct < 50 && !compact {
        // Linux 2.6.24 reached 50% here through reclaim (lumpy reclaim,
        // 2.6.23), which the study leaves out (see the top) and this
        // kernel does not have.
        extra.push_str(
            "; misses: without compaction only reclaim could empty a movable pageblock, and half of \
             each one's pages are held (Linux 2.6.24's 50% came through lumpy reclaim)",
        );
    }
    row(&label("under load %"), load_pct, goal(">=50"), &ev, &extra);
    // Not held to the end, where the free count is compared.
    drop(extra);

    // 4. At rest: the movable load gone, the slab survivors kept.
    let user_pages = user.faulted;
    drop(user);
    page_alloc::drain_all_pages();
    let free_rest = page_alloc::nr_free_pages();
    let blocks_listed = free_counts().iter().map(|z| z[ORDER]).sum::<usize>();
    run.snapshot(Some("rest"));
    run.memmap("rest");
    let ev = events();
    let c0 = compact_now();
    while let Some(p) = try_huge() {
        if held.try_reserve(1).is_err() {
            page_alloc::__free_pages(p);
            break;
        }
        held.push(p);
    }
    let ok_rest = held.len();
    let (stalls, moved) = compact_work(c0);
    run.snapshot(Some("rest-done"));
    for p in held.drain(..) {
        page_alloc::__free_pages(p);
    }
    let slab_pages = slab.cache.as_ref().map_or(0, |c| {
        let s = c.stats();
        s.num_objs / s.objperslab.max(1) * s.pagesperslab
    });
    let survivors = slab.objects;

    // Everything back; the free count must return.
    drop(slab);
    drop(held);
    page_alloc::drain_all_pages();
    run.snapshot(Some("end"));
    run.memmap("after");
    // The slab caches' arrays and empty slabs, as at the start (the
    // address space's areas, the chart lines' strings).
    crate::mm::slab_common::shrink_all();
    page_alloc::drain_all_pages();
    let free_after = page_alloc::nr_free_pages();
    let mut extra = String::new();
    let _ = write!(
        extra,
        "; {} order-10 blocks = {} of {} free pages ({} listed free before); {} slab objects in {} pages kept; \
         compact_stall {}, pages moved {}; user pages {}; free pages {} before, {} after ({:+}); {}M instructions",
        ok_rest,
        ok_rest << ORDER,
        free_rest,
        blocks_listed,
        survivors,
        slab_pages,
        stalls,
        moved,
        user_pages,
        free_before,
        free_after,
        free_after as i64 - free_before as i64,
        (rdtsc() - t0) / 1_000_000
    );
    row(&label("at rest %"), pct((ok_rest as u64) << ORDER, free_rest), goal(">=75"), &ev, &extra);
}

fn pct(part: u64, whole: u64) -> u64 {
    (part * 100).checked_div(whole).unwrap_or(0)
}
