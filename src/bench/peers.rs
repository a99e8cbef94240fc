//! Peers in the same boot, on the same traces: our kmalloc and alloc_pages
//! beside four allocator crates a Rust kernel would otherwise pick
//! (`linked_list_allocator`, `buddy_system_allocator`'s heap and frame
//! allocator, `talc`, `dlmalloc`).
//!
//! Fair means the same for everyone:
//! - one arena: an order-10 lowmem block (4 MiB, direct-mapped), carved once
//!   and given to each peer in turn, a fresh instance per trace;
//! - one trace: the op sequence is generated once from a fixed seed and
//!   every allocator replays exactly it (same sizes, same slots, same order);
//! - one call shape: every allocator sits behind the same `#[inline(never)]`
//!   entry points of [`Alloc`], so each op is one call for everyone;
//! - one clock: `rdtsc` around each op (instructions under `-icount`), less
//!   the measured cost of an empty `rdtsc` pair; median and p99 per op.
//!
//! Ours run on the whole machine (kmalloc's caches, the zones' free lists),
//! as they do in use; the peers own a 4 MiB arena each.
//!
//! "In use" for the churn: requested bytes of the live blocks over the bytes
//! of the distinct 4 KiB pages that hold at least one live block (a page a
//! live block touches cannot be given back; an untouched one could). The
//! same function reads every allocator's live blocks. For kmalloc that is
//! the slab pages the churn's objects sit in (a slab page holds one size
//! class, so other users' objects do not share them unless they are in the
//! same class).

use super::plot;
use crate::arch::x86::cpu::rdtsc;
use crate::mm::gfp::GFP_KERNEL;
use crate::mm::page_alloc::{self, __free_pages, alloc_pages, Pages};
use crate::mm::slab_common::kmalloc::{kfree, kmalloc};
use crate::println;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::ptr::NonNull;
use core::sync::atomic::{compiler_fence, Ordering};

/// The arena every peer gets: one order-10 block of lowmem.
const ARENA_ORDER: usize = 10;
const ARENA_PAGES: usize = 1 << ARENA_ORDER;
const ARENA_BYTES: usize = ARENA_PAGES * PAGE;
const PAGE: usize = crate::layout::PAGE_SIZE;
/// hot.rs's churn seed, so the churn trace is the same as its row's.
const SEED: u32 = 0x2468_ace1;
/// Pairs per size of the pair traces.
const PAIRS: usize = 10_000;
/// The kmalloc churn: 1,024 live blocks of 4..1024 bytes, each step frees
/// one at random and allocates a new one in its slot.
const LIVE: usize = 1024;
const CHURN_STEPS: usize = 20_000;
/// The page churn: 64 live blocks of order 0..3 (about a quarter of the arena).
const PAGE_LIVE: usize = 64;
const PAGE_STEPS: usize = 10_000;
const PAGE_MAX_ORDER: u32 = 3;
/// Linux i386's ARCH_KMALLOC_MINALIGN: what kmalloc guarantees, asked of all.
const MINALIGN: usize = 8;

/// What every allocator on the traces offers. `#[inline(never)]` on each
/// implementation keeps the call shape the same for all.
trait Alloc {
    /// The block (an address, or a frame number for frame allocators), or
    /// 0 when the allocator cannot serve.
    ///
    /// # Safety
    /// `layout.size()` is not zero (talc's and dlmalloc's contract; every
    /// trace asks at least 4 bytes).
    unsafe fn alloc(&mut self, layout: Layout) -> usize;
    /// # Safety
    /// `block` came from `alloc` of this allocator with this `layout`, and
    /// is neither used nor freed again.
    unsafe fn free(&mut self, block: usize, layout: Layout);
}

/// Our kmalloc/kfree.
struct Kmalloc;

impl Alloc for Kmalloc {
    #[inline(never)]
    unsafe fn alloc(&mut self, layout: Layout) -> usize {
        kmalloc(layout.size(), GFP_KERNEL).map_or(0, |p| p.as_ptr() as usize)
    }
    #[inline(never)]
    unsafe fn free(&mut self, block: usize, _: Layout) {
        // SAFETY: the caller's contract: a live kmalloc block, freed once.
        unsafe { kfree(block as *mut u8) }
    }
}

/// Our alloc_pages/__free_pages; the block is the pfn.
struct AllocPages;

impl Alloc for AllocPages {
    #[inline(never)]
    unsafe fn alloc(&mut self, layout: Layout) -> usize {
        let order = (layout.size() / PAGE).trailing_zeros() as usize;
        alloc_pages(GFP_KERNEL, order).map_or(0, |p| p.into_raw() as usize)
    }
    #[inline(never)]
    unsafe fn free(&mut self, block: usize, layout: Layout) {
        let order = (layout.size() / PAGE).trailing_zeros() as usize;
        // SAFETY: the caller's contract: allocated at this order above,
        // handle given up with into_raw, freed once.
        __free_pages(unsafe { Pages::from_raw(block as u32, order) })
    }
}

struct LinkedList(linked_list_allocator::Heap);

impl Alloc for LinkedList {
    #[inline(never)]
    unsafe fn alloc(&mut self, layout: Layout) -> usize {
        self.0.allocate_first_fit(layout).map_or(0, |p| p.as_ptr() as usize)
    }
    #[inline(never)]
    unsafe fn free(&mut self, block: usize, layout: Layout) {
        // SAFETY: the caller's contract; a block from alloc is non-null.
        unsafe { self.0.deallocate(NonNull::new_unchecked(block as *mut u8), layout) }
    }
}

/// `buddy_system_allocator::Heap` with one order per address bit.
struct BuddyHeap(buddy_system_allocator::Heap<32>);

impl Alloc for BuddyHeap {
    #[inline(never)]
    unsafe fn alloc(&mut self, layout: Layout) -> usize {
        self.0.alloc(layout).map_or(0, |p| p.as_ptr() as usize)
    }
    #[inline(never)]
    unsafe fn free(&mut self, block: usize, layout: Layout) {
        // SAFETY: the caller's contract; a block from alloc is non-null.
        unsafe { self.0.dealloc(NonNull::new_unchecked(block as *mut u8), layout) }
    }
}

/// `buddy_system_allocator::FrameAllocator` over the arena's frame
/// numbers: it keeps its free lists in BTreeSets (in kmalloc memory), not in
/// the frames. The block is a frame number.
struct BuddyFrames(buddy_system_allocator::FrameAllocator<32>);

impl Alloc for BuddyFrames {
    #[inline(never)]
    unsafe fn alloc(&mut self, layout: Layout) -> usize {
        self.0.alloc(layout.size() / PAGE).unwrap_or(0)
    }
    #[inline(never)]
    unsafe fn free(&mut self, block: usize, layout: Layout) {
        self.0.dealloc(block, layout.size() / PAGE)
    }
}

struct Talc(talc::base::Talc<talc::source::Manual, talc::DefaultBinning>);

impl Alloc for Talc {
    #[inline(never)]
    unsafe fn alloc(&mut self, layout: Layout) -> usize {
        // SAFETY: the caller's contract: a non-zero size.
        unsafe { self.0.allocate(layout) }.map_or(0, |p| p.as_ptr() as usize)
    }
    #[inline(never)]
    unsafe fn free(&mut self, block: usize, layout: Layout) {
        // SAFETY: the caller's contract.
        unsafe { self.0.deallocate(block as *mut u8, layout) }
    }
}

/// dlmalloc's system side: the arena, handed over whole at its first
/// request; it never gets more and gives nothing back.
struct DlArena {
    base: usize,
    given: core::cell::Cell<bool>,
}

// SAFETY: alloc hands out the arena once, as one region the bench gave up
// to this instance; nothing else is ever handed out or taken back.
unsafe impl dlmalloc::Allocator for DlArena {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        if self.given.get() || size > ARENA_BYTES {
            return (core::ptr::null_mut(), 0, 0);
        }
        self.given.set(true);
        (self.base as *mut u8, ARENA_BYTES, 0)
    }
    fn remap(&self, _: *mut u8, _: usize, _: usize, _: bool) -> *mut u8 {
        core::ptr::null_mut()
    }
    fn free_part(&self, _: *mut u8, _: usize, _: usize) -> bool {
        false
    }
    fn free(&self, _: *mut u8, _: usize) -> bool {
        false
    }
    fn can_release_part(&self, _: u32) -> bool {
        false
    }
    fn allocates_zeros(&self) -> bool {
        false
    }
    fn page_size(&self) -> usize {
        PAGE
    }
}

/// dlmalloc through the calls its GlobalAlloc uses (malloc, free).
struct Dlmalloc(dlmalloc::Dlmalloc<DlArena>);

impl Alloc for Dlmalloc {
    #[inline(never)]
    unsafe fn alloc(&mut self, layout: Layout) -> usize {
        // SAFETY: the caller's contract: a non-zero size (and a valid
        // layout: a power-of-two alignment).
        unsafe { self.0.malloc(layout.size(), layout.align()) as usize }
    }
    #[inline(never)]
    unsafe fn free(&mut self, block: usize, layout: Layout) {
        // SAFETY: the caller's contract: size and align as allocated.
        unsafe { self.0.free(block as *mut u8, layout.size(), layout.align()) }
    }
}

/// The peers, by the name their rows carry.
#[derive(Clone, Copy, PartialEq)]
enum Peer {
    LinkedList,
    BuddyHeap,
    BuddyFrames,
    Talc,
    Dlmalloc,
}

const HEAP_PEERS: [Peer; 4] = [Peer::LinkedList, Peer::BuddyHeap, Peer::Talc, Peer::Dlmalloc];
const PAGE_PEERS: [Peer; 5] = [Peer::BuddyFrames, Peer::LinkedList, Peer::BuddyHeap, Peer::Talc, Peer::Dlmalloc];

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::LinkedList => "linked_list_allocator",
            Peer::BuddyHeap => "buddy_system_allocator",
            Peer::BuddyFrames => "buddy_system_allocator_frame",
            Peer::Talc => "talc",
            Peer::Dlmalloc => "dlmalloc",
        }
    }

    /// A fresh instance of this peer on the arena, handed to `f`.
    fn with_fresh<R>(self, arena: &Arena, f: impl FnOnce(&mut dyn Replay) -> R) -> R {
        match self {
            Peer::LinkedList => {
                let mut heap = linked_list_allocator::Heap::empty();
                // SAFETY: the arena is ours alone while this instance lives
                // (each trace makes a new one and drops it before the next).
                unsafe { heap.init(arena.base as *mut u8, ARENA_BYTES) };
                f(&mut LinkedList(heap))
            }
            Peer::BuddyHeap => {
                let mut heap = buddy_system_allocator::Heap::<32>::new();
                // SAFETY: as above.
                unsafe { heap.init(arena.base, ARENA_BYTES) };
                f(&mut BuddyHeap(heap))
            }
            Peer::BuddyFrames => {
                let mut frames = buddy_system_allocator::FrameAllocator::<32>::new();
                frames.add_frame(arena.pfn, arena.pfn + ARENA_PAGES);
                f(&mut BuddyFrames(frames))
            }
            Peer::Talc => {
                let mut talc = talc::base::Talc::new(talc::source::Manual);
                // SAFETY: as above; Manual allows manual heap management.
                let claimed = unsafe { talc.claim(arena.base as *mut u8, ARENA_BYTES) };
                assert!(claimed.is_some(), "talc claims a 4 MiB arena");
                f(&mut Talc(talc))
            }
            Peer::Dlmalloc => {
                let sys = DlArena { base: arena.base, given: core::cell::Cell::new(false) };
                f(&mut Dlmalloc(dlmalloc::Dlmalloc::new_with_allocator(sys)))
            }
        }
    }
}

/// The arena, carved once for the whole section.
struct Arena {
    base: usize,
    pfn: usize,
}

/// One allocator's figures on one trace.
#[derive(Clone, Copy)]
struct Figures {
    median: u32,
    p99: u32,
    failures: usize,
    /// Churn only: (requested bytes, distinct pages holding live blocks).
    in_use: Option<(usize, usize)>,
}

/// A trace: the blocks allocated first (untimed), then the timed steps.
enum Trace {
    /// `count` alloc+free pairs of one layout; one sample per pair.
    Pairs { layout: Layout, count: usize },
    /// Fill `fill`, then each step frees slot `.0` and allocates `.1` in it;
    /// one sample per free and one per alloc. `in_use`: the blocks are
    /// addresses whose pages are counted (not frame numbers, not whole pages).
    Churn { fill: Vec<Layout>, steps: Vec<(u16, Layout)>, in_use: bool },
}

/// xorshift32 (Marsaglia), hot.rs's generator.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
}

/// Every layout of the traces is made here: never of size 0 (the
/// contract of [`Alloc::alloc`]).
fn layout(size: usize, align: usize) -> Layout {
    assert!(size > 0, "a trace asks at least one byte");
    Layout::from_size_align(size, align).expect("a power-of-two alignment")
}

/// hot.rs's churn: sizes 4..1024, slot and size from one draw.
fn kmalloc_churn() -> Trace {
    let mut rng = Rng(SEED);
    let fill = (0..LIVE).map(|_| layout(4 + rng.next() as usize % 1021, MINALIGN)).collect();
    let steps = (0..CHURN_STEPS)
        .map(|_| {
            let r = rng.next() as usize;
            ((r % LIVE) as u16, layout(4 + (r >> 10) % 1021, MINALIGN))
        })
        .collect();
    Trace::Churn { fill, steps, in_use: true }
}

/// Blocks of order 0..3, each aligned to its size (what a buddy gives).
fn page_churn() -> Trace {
    let mut rng = Rng(SEED);
    let block = |order: u32| layout(PAGE << order, PAGE << order);
    let fill = (0..PAGE_LIVE).map(|_| block(rng.next() % (PAGE_MAX_ORDER + 1))).collect();
    let steps = (0..PAGE_STEPS)
        .map(|_| {
            let r = rng.next();
            ((r as usize % PAGE_LIVE) as u16, block((r >> 10) % (PAGE_MAX_ORDER + 1)))
        })
        .collect();
    Trace::Churn { fill, steps, in_use: false }
}

/// `rdtsc`, kept in place: no memory access moves across it.
#[inline(always)]
fn tsc() -> u32 {
    compiler_fence(Ordering::SeqCst);
    let t = rdtsc() as u32;
    compiler_fence(Ordering::SeqCst);
    t
}

/// The replay of a trace, behind one `dyn` so that each peer's instance
/// (made on the stack in `with_fresh`) can run any trace.
trait Replay {
    fn replay(&mut self, trace: &Trace, empty: u32, samples: &mut Vec<u32>) -> Figures;
}

impl<A: Alloc> Replay for A {
    fn replay(&mut self, trace: &Trace, empty: u32, samples: &mut Vec<u32>) -> Figures {
        samples.clear();
        let mut failures = 0;
        let mut in_use = None;
        match trace {
            Trace::Pairs { layout, count } => {
                for _ in 0..*count {
                    let l = core::hint::black_box(*layout);
                    let t0 = tsc();
                    // SAFETY: every trace's layouts come from layout(): non-zero sizes.
                    let b = unsafe { self.alloc(l) };
                    if b != 0 {
                        // SAFETY: just allocated with this layout, not used after.
                        unsafe { self.free(b, l) };
                    }
                    let t1 = tsc();
                    failures += usize::from(b == 0);
                    samples.push(t1.wrapping_sub(t0).saturating_sub(empty));
                }
            }
            Trace::Churn { fill, steps, in_use: count } => {
                let mut live: Vec<(usize, Layout)> = fill
                    .iter()
                    // SAFETY: as above.
                    .map(|&l| (unsafe { self.alloc(l) }, l))
                    .collect();
                failures += live.iter().filter(|b| b.0 == 0).count();
                for &(slot, l) in steps.iter() {
                    let (old, old_layout) = live[slot as usize];
                    if old != 0 {
                        let t0 = tsc();
                        // SAFETY: a live block of this allocator with this
                        // layout; its slot is overwritten below.
                        unsafe { self.free(old, old_layout) };
                        let t1 = tsc();
                        samples.push(t1.wrapping_sub(t0).saturating_sub(empty));
                    }
                    let l = core::hint::black_box(l);
                    let t0 = tsc();
                    // SAFETY: as above.
                    let b = unsafe { self.alloc(l) };
                    let t1 = tsc();
                    samples.push(t1.wrapping_sub(t0).saturating_sub(empty));
                    failures += usize::from(b == 0);
                    live[slot as usize] = (b, l);
                }
                if *count {
                    let requested = live.iter().filter(|b| b.0 != 0).map(|b| b.1.size()).sum();
                    in_use = Some((requested, pages_holding(&live)));
                }
                for &(b, l) in live.iter() {
                    if b != 0 {
                        // SAFETY: the last live blocks, each freed once.
                        unsafe { self.free(b, l) };
                    }
                }
            }
        }
        samples.sort_unstable();
        let n = samples.len().max(1);
        Figures {
            median: samples.get(n / 2).copied().unwrap_or(0),
            p99: samples.get(n * 99 / 100).copied().unwrap_or(0),
            failures,
            in_use,
        }
    }
}

/// Distinct 4 KiB pages that hold at least one byte of a live block.
fn pages_holding(live: &[(usize, Layout)]) -> usize {
    let mut pages: Vec<usize> = Vec::with_capacity(2 * live.len());
    for &(b, l) in live.iter().filter(|b| b.0 != 0) {
        pages.extend(b / PAGE..=(b + l.size() - 1) / PAGE);
    }
    pages.sort_unstable();
    pages.dedup();
    pages.len()
}

/// The cost of an empty `rdtsc` pair: the median of many (under icount
/// they are all equal).
fn empty_pair() -> u32 {
    let mut s = [0u32; 255];
    for v in s.iter_mut() {
        let t0 = tsc();
        let t1 = tsc();
        *v = t1.wrapping_sub(t0);
    }
    s.sort_unstable();
    s[s.len() / 2]
}

impl Figures {
    /// Percent of the held pages' bytes that live blocks asked for.
    fn in_use_percent(&self) -> Option<usize> {
        self.in_use.map(|(requested, pages)| requested * 100 / (pages * PAGE).max(1))
    }
}

type Text = crate::kernel::printk::LineBuf<64>;

/// Whether ours (`o`) beats a peer (`f`): a lower median, a p99 no higher,
/// and on the churn no less of its memory in use. `None` when it does;
/// otherwise the first way it is behind, and by how much.
fn behind(o: &Figures, f: &Figures) -> Option<Text> {
    use core::fmt::Write;
    let mut why = Text::new();
    let _ = if o.median >= f.median {
        let more = o.median - f.median;
        write!(why, "NO: median +{} (+{}%)", more, more as u64 * 100 / f.median.max(1) as u64)
    } else if o.p99 > f.p99 {
        write!(why, "NO: p99 +{}", o.p99 - f.p99)
    } else if let (Some(mine), Some(theirs)) = (o.in_use_percent(), f.in_use_percent()) {
        if mine >= theirs {
            return None;
        }
        write!(why, "NO: in use {}% < {}%", mine, theirs)
    } else {
        return None;
    };
    Some(why)
}

/// One line of the table and its chart line; `ours` is `None` on our own.
fn line(trace: &str, who: &str, f: &Figures, ours: Option<&Figures>) {
    use core::fmt::Write;
    plot(format_args!("peers {} {} {} {}", trace, who, f.median, f.p99));
    let verdict = ours.map(|o| behind(o, f));
    let ahead = match &verdict {
        None => "(ours)",
        Some(None) => "yes",
        Some(Some(why)) => core::str::from_utf8(why.as_bytes()).unwrap_or("NO"),
    };
    let mut extra = Text::new();
    if let (Some(percent), Some((_, pages))) = (f.in_use_percent(), f.in_use) {
        let _ = write!(extra, " {}% in use ({} pages)", percent, pages);
    }
    if f.failures > 0 {
        let _ = write!(extra, " {} FAILED allocations", f.failures);
    }
    let notes = core::str::from_utf8(extra.as_bytes()).unwrap_or("");
    let (trace, median, p99) = (trace, f.median, f.p99);
    if notes.is_empty() {
        println!("  {:<16} {:<29} {:>7} {:>7}   {}", trace, who, median, p99, ahead);
    } else {
        println!("  {:<16} {:<29} {:>7} {:>7}   {:<26}{}", trace, who, median, p99, ahead, notes);
    }
}

/// Ours, then every peer, on one trace.
fn compare(name: &str, trace: &Trace, ours: &mut dyn Replay, peers: &[Peer], arena: &Arena, run: &mut Run) {
    let mine = ours.replay(trace, run.empty, &mut run.samples);
    line(name, "himem", &mine, None);
    let mut trails = false;
    for &peer in peers {
        let theirs = peer.with_fresh(arena, |a| a.replay(trace, run.empty, &mut run.samples));
        line(name, peer.name(), &theirs, Some(&mine));
        run.rows += 1;
        let b = behind(&mine, &theirs).is_some();
        run.behind += usize::from(b);
        trails |= b;
    }
    if trails {
        println!("  {:<16} why we trail: {}", name, why_behind(name));
    }
}

/// Why ours trails a peer on a trace (printed under the trace's rows when
/// it does): what the kernel's allocators pay that a heap does not.
fn why_behind(trace: &str) -> &'static str {
    match trace {
        "kmalloc_churn" => {
            "a slab holds one size class, and a freed object goes back to its own slab, so the live \
             blocks of ten classes spread over more pages than in a heap that puts any size anywhere; \
             the per-op cost pays kfree's checks of a bad pointer, which a heap's free does not make"
        }
        "page0_pair" | "page3_pair" => {
            "a buddy block comes from splitting a larger one and merges back on free (the arena is one \
             order-10 block), and the pair keeps might_sleep, fault injection and the free's page checks; \
             a first-fit heap on an empty arena cuts its front and glues it back"
        }
        "page_churn" => {
            "each page pays its descriptor's checks, the pcp lists and buddy merges; the heaps and \
             buddy_system_allocator keep no per-page state and check nothing on free"
        }
        _ => "per-op costs of the checks that keep a bad free from corrupting memory",
    }
}

/// What the section carries from trace to trace.
struct Run {
    empty: u32,
    samples: Vec<u32>,
    rows: usize,
    behind: usize,
}

/// Every row of this section.
pub(super) fn rows(_loop_cost: u64) {
    // Empty slabs left cached before the section would be given back by
    // the shrink at its end and blur the before/after.
    crate::mm::slab_common::shrink_all();
    let nr_free_start = page_alloc::nr_free_pages();
    let Some(block) = alloc_pages(GFP_KERNEL, ARENA_ORDER) else {
        println!("peers: no free order-{} block in lowmem for the arena: nothing measured", ARENA_ORDER);
        return;
    };
    let block = match block.lowmem() {
        Ok(low) => low,
        Err(high) => {
            __free_pages(high);
            println!("peers: the arena came from highmem (GFP_KERNEL should not): nothing measured");
            return;
        }
    };
    let arena = Arena { base: block.addr(), pfn: block.pfn() as usize };
    let mut run = Run { empty: empty_pair(), samples: Vec::with_capacity(2 * CHURN_STEPS), rows: 0, behind: 0 };
    println!();
    println!(
        "peers: per-op instructions, median and p99, empty rdtsc pair ({}) subtracted; each peer on a fresh",
        run.empty
    );
    println!(
        "peers: {} KiB lowmem arena, every allocator replaying the same traces (seed {:#x}); himem = ours",
        ARENA_BYTES >> 10,
        SEED
    );
    println!("peers: ahead = lower median, p99 no higher and (churn) no less in use; in use = requested bytes over");
    println!("peers: the bytes of the distinct 4 KiB pages that hold a live block, read the same way for all");
    println!("  {:<16} {:<29} {:>7} {:>7}   {:<26} notes", "trace", "allocator", "median", "p99", "ahead? (goal: yes)");

    for size in [8usize, 64, 256] {
        let trace = Trace::Pairs { layout: layout(size, MINALIGN), count: PAIRS };
        let mut name = crate::kernel::printk::LineBuf::<24>::new();
        let _ = core::fmt::Write::write_fmt(&mut name, format_args!("kmalloc{}_pair", size));
        let name = core::str::from_utf8(name.as_bytes()).unwrap_or("?");
        compare(name, &trace, &mut Kmalloc, &HEAP_PEERS, &arena, &mut run);
    }
    let churn = kmalloc_churn();
    compare("kmalloc_churn", &churn, &mut Kmalloc, &HEAP_PEERS, &arena, &mut run);
    drop(churn);
    // Give back the slabs the churn filled, as hot.rs's churn row does.
    crate::mm::slab_common::shrink_all();

    let page0 = Trace::Pairs { layout: layout(PAGE, PAGE), count: PAIRS };
    compare("page0_pair", &page0, &mut AllocPages, &PAGE_PEERS, &arena, &mut run);
    let page3 = Trace::Pairs { layout: layout(PAGE << 3, PAGE << 3), count: PAIRS };
    compare("page3_pair", &page3, &mut AllocPages, &PAGE_PEERS, &arena, &mut run);
    let churn = page_churn();
    compare("page_churn", &churn, &mut AllocPages, &PAGE_PEERS, &arena, &mut run);
    drop(churn);

    let Run { rows, behind, samples, .. } = run;
    drop(samples);
    __free_pages(block.into_pages());
    crate::mm::slab_common::shrink_all();
    let nr_free_end = page_alloc::nr_free_pages();
    println!(
        "peers: ahead on {} of {} rows (goal: all); nr_free {} at start, {} at end{}",
        rows - behind,
        rows,
        nr_free_start,
        nr_free_end,
        if nr_free_end == nr_free_start { " (arena and buffers given back)" } else { " (NOT BACK TO START)" }
    );
}
