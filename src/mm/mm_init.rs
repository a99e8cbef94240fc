//! Bringing up physical memory at boot (Linux's setup_arch memory part,
//! mm/mm_init.c and mem_init): the firmware map becomes a memblock boot
//! allocator; the zones are sized; the kernel page directory gets its real
//! direct map; `mem_map` is allocated from lowmem; every page memblock does
//! not hold goes to the buddy allocator; memblock is retired.
//!
//! Afterwards the node is published once and only shared (`node()`): each
//! zone has its own lock over its free lists and pcp lists (see
//! `page_alloc`). `mem_map` is shared too: its descriptors are atomics, so
//! [`pfn_to_page`] reads and changes a page without any lock, as Linux's
//! does; a zone's lock keeps the free lists threaded through them
//! consistent.

use super::memblock::Memblock;
use super::page::Page;
use super::page_alloc::{memmap_runs, mobility_grouping, Node, ZonelistsLine};
use super::zones::{available_lines, size_zones, zone_ranges_lines, MemOptions, ZoneType};
use crate::arch::x86::mm::init::paging_init;
use crate::kernel::bootinfo::BootInfo;
use crate::kernel::cmdline::BootOptions;
use crate::kernel::sync::IrqLock;
use crate::layout::*;
use crate::{pr_err, pr_info, pr_warn};
use core::sync::atomic::{AtomicUsize, Ordering};

static MEMBLOCK: IrqLock<Memblock> = IrqLock::new(Memblock::new());
static NODE: spin::Once<Node> = spin::Once::new();
/// The array's address; before mm_init an aligned dangling one, which with
/// a length of 0 is a valid empty slice (so `mem_map()` needs no branch).
static MEM_MAP: AtomicUsize = AtomicUsize::new(core::mem::align_of::<Page>());
static MEM_MAP_LEN: AtomicUsize = AtomicUsize::new(0);

/// Linux's `max_pfn`: one past the last frame with a page descriptor (0
/// before mm_init has built `mem_map`).
pub fn max_pfn() -> usize {
    MEM_MAP_LEN.load(Ordering::Acquire)
}
/// Boot-time bookkeeping for the `Memory:` line and `meminfo`.
pub static RESERVED_PAGES: AtomicUsize = AtomicUsize::new(0);
pub static MEM_MAP_BYTES: AtomicUsize = AtomicUsize::new(0);

use core::ptr::addr_of;

extern "C" {
    static __kernel_phys_start: u8;
    static __kernel_phys_end: u8;
    static _text: u8;
    static _etext: u8;
    static _sdata: u8;
    static _edata: u8;
    static __init_begin: u8;
    static __init_end: u8;
    static __bss_start: u8;
    static __bss_stop: u8;
}

/// A linker symbol's address. Taken through `addr_of!`, never a reference:
/// most of these name no object (`__kernel_phys_start` is a physical
/// address that is not even mapped), and a reference to such memory is
/// undefined behaviour even unread.
fn sym(s: *const u8) -> usize {
    s as usize
}

/// All of `mem_map` (empty before mm_init has built it).
#[inline]
pub fn mem_map() -> &'static [Page] {
    let len = MEM_MAP_LEN.load(Ordering::Acquire);
    let ptr = MEM_MAP.load(Ordering::Relaxed) as *const Page;
    // SAFETY: either len is 0 and ptr is the initial aligned non-null
    // dangling address (a valid empty slice), or mm_init stored a lowmem
    // array of `len` initialised Pages, reserved in memblock for the
    // kernel's life, before publishing `len` with Release (read above with
    // Acquire). Nothing ever takes a `&mut` to it afterwards: every word of
    // a Page is an atomic, changed through shared references.
    unsafe { core::slice::from_raw_parts(ptr, len) }
}

/// The descriptor of frame `pfn` (Linux's `pfn_to_page`), without a lock;
/// `None` past `mem_map`.
#[inline]
pub fn pfn_to_page(pfn: usize) -> Option<&'static Page> {
    mem_map().get(pfn)
}

/// The memory node (Linux's `NODE_DATA(0)`), once mm_init has built it.
#[inline]
pub fn node() -> &'static Node {
    // Before mm_init nothing may allocate: a bug, and `expect` says so.
    NODE.get().expect("the page allocator is used before mm_init")
}

/// Run `f` with the node and `mem_map`. No lock: `f` takes the zone locks
/// it needs (the node's methods do).
#[inline(always)]
pub fn with_node<R>(f: impl FnOnce(&'static Node, &'static [Page]) -> R) -> R {
    f(node(), mem_map())
}

/// The `memmap` picture's counts, gathered one pageblock per lock hold (a
/// walk of all of `mem_map` at once would keep interrupts off for O(frames)).
/// The counts sit in a static: 4 KB is too much for a kernel stack.
pub fn memmap_counts() -> spin::MutexGuard<'static, super::vmstat::MemmapCounts> {
    static COUNTS: spin::Mutex<super::vmstat::MemmapCounts> = spin::Mutex::new(super::vmstat::MemmapCounts::new());
    let mut counts = COUNTS.lock();
    let blocks = with_node(|node, _| counts.blocks(node));
    for b in 0..blocks {
        with_node(|node, mm| counts.count_block(node, mm, b));
    }
    with_node(|node, mm| counts.count_pcp(node, mm));
    counts
}

/// An allocation from the boot allocator. After the buddy allocator takes
/// over this is a bug: it is reported with a backtrace and refused.
#[track_caller]
pub fn memblock_alloc(size: u64, align: u64, limit: u64) -> Option<u64> {
    let mut mb = MEMBLOCK.lock();
    if mb.is_retired() {
        drop(mb);
        let loc = core::panic::Location::caller();
        crate::kernel::panic::warn(format_args!(
            "BUG: memblock_alloc({:#x}) at {}:{} after the boot allocator was retired",
            size,
            loc.file(),
            loc.line()
        ));
        return None;
    }
    mb.alloc(size, align, limit).ok()
}

pub fn mm_init(info: &BootInfo, opts: &BootOptions) {
    let mut mb = MEMBLOCK.lock();
    if let Err(e) = mb.add_map(&info.memmap) {
        pr_err!("memblock: memory map too large: {}", e);
    }
    // What must never be handed out: the first page (BIOS data), the legacy
    // VGA/BIOS hole, the kernel image, the boot information, the modules.
    let image = (sym(addr_of!(__kernel_phys_start)), sym(addr_of!(__kernel_phys_end)));
    let mut reserve = |base: usize, end: usize, what: &str| {
        if let Err(e) = mb.reserve(base as u64, (end - base) as u64) {
            pr_err!("memblock: cannot reserve {} [mem {:#010x}-{:#010x}]: {}", what, base, end - 1, e);
        }
    };
    reserve(0, PAGE_SIZE, "first page");
    reserve(0xa0000, 0x100000, "BIOS/VGA hole");
    reserve(image.0, image.1, "kernel image");
    reserve(info.mbi.0, info.mbi.1, "multiboot2 information");
    for m in info.modules() {
        reserve(m.start, m.end, "module");
    }

    let mem_opts =
        MemOptions { mem_limit: opts.mem, highmem: opts.highmem, kernelcore: opts.kernelcore, vmalloc: opts.vmalloc };
    let (layout, notes) = size_zones(&info.memmap, &mem_opts);
    for note in notes.iter() {
        pr_warn!("{}", note);
    }
    let (max_pfn, max_low_pfn) = (layout.max_pfn as usize, layout.max_low_pfn as usize);
    for line in available_lines(&layout) {
        pr_info!("{}", line);
    }
    pr_info!("  mapped low ram: 0 - {:08x}", max_low_pfn << PAGE_SHIFT);
    pr_info!("  low ram: 0 - {:08x}", max_low_pfn << PAGE_SHIFT);

    // RAM cut by mem= / highmem= / the 4 GB limit lies above ram_end and is
    // never handed over (the free ranges stop there).
    let lowmem_limit = (max_low_pfn << PAGE_SHIFT) as u64;
    let ram_end = (max_pfn as u64) << PAGE_SHIFT;

    // The kernel page directory, with page tables from memblock.
    let mut alloc_pt =
        || mb.alloc(PAGE_SIZE as u64, PAGE_SIZE as u64, lowmem_limit).expect("no lowmem for page tables") as usize;
    paging_init(max_low_pfn, &mut alloc_pt);

    // mem_map: one descriptor per frame up to max_pfn, in lowmem. Only the
    // descriptors are written, never the frames they describe.
    let bytes = max_pfn * core::mem::size_of::<Page>();
    let phys = mb.alloc(bytes as u64, PAGE_SIZE as u64, lowmem_limit).expect("no lowmem for mem_map") as usize;
    let mem_map_ptr = phys_to_virt(phys) as *mut Page;
    let t0 = crate::arch::x86::cpu::rdtsc();
    // Per run of like frames, as Linux's memmap_init_zone per zone: the
    // zone and HIGHMEM bits are decided once per run, not per frame.
    for (start, end, word) in memmap_runs(&layout) {
        for pfn in start as usize..end as usize {
            // SAFETY: the runs tile [0, max_pfn): inside the array just
            // allocated from lowmem, not yet published, so nothing else
            // refers to it.
            unsafe { mem_map_ptr.add(pfn).write(Page::with_flags_word(word)) };
        }
    }
    let setup_cycles = crate::arch::x86::cpu::rdtsc() - t0;
    MEMMAP_SETUP_TSC.store(setup_cycles as usize, Ordering::Relaxed);
    MEM_MAP.store(mem_map_ptr as usize, Ordering::Relaxed);
    MEM_MAP_LEN.store(max_pfn, Ordering::Release);
    MEM_MAP_BYTES.store(bytes, Ordering::Relaxed);
    pr_info!(
        "mem_map: {} page descriptors of {} bytes at [mem {:#010x}-{:#010x}]",
        max_pfn,
        core::mem::size_of::<Page>(),
        phys,
        phys + bytes - 1
    );

    for line in zone_ranges_lines(&layout) {
        pr_info!("{}", line);
    }
    pr_info!("Early memory node ranges");
    for r in mb.memory() {
        if r.base < ram_end {
            pr_info!("  node   0: [mem {:#018x}-{:#018x}]", r.base.max(PAGE_SIZE as u64), r.end.min(ram_end) - 1);
        }
    }

    // Hand every free page to the buddy allocator, then retire memblock.
    // The node is built here, on the (64 KB) boot stack, and published.
    // Linux's vm_total_pages when build_all_zonelists decides grouping.
    let total_pages: u64 = layout.zones.iter().map(|z| z.present_pages).sum();
    let grouping = mobility_grouping(opts.grouping, total_pages);
    let pages = mem_map();
    let node = NODE.call_once(|| {
        let mut node = Node::EMPTY;
        node.init(&layout, grouping);
        mb.for_each_free_range(0, ram_end, |s, e| {
            node.free_range(pages, (s >> PAGE_SHIFT) as u32, (e >> PAGE_SHIFT) as u32)
        });
        node.setup_watermarks(None);
        node.setup_migrate_reserve(pages);
        node
    });
    mb.retire();
    super::alloc::set_max_low_pfn(max_low_pfn);
    super::vmalloc::vmalloc_init();
    let managed = node.managed_total() as usize;
    let present: u64 = node.zones.iter().map(|z| z.present).sum();
    RESERVED_PAGES.store(present as usize - managed, Ordering::Relaxed);
    if layout.zone(ZoneType::HighMem).present_pages != 0 {
        pr_info!("Initializing HighMem for node 0 ({:08x}:{:08x})", max_low_pfn, max_pfn);
    }
    pr_info!("{}", ZonelistsLine { grouping, total_pages });
    let (high_managed, _) = node.high_totals();
    drop(mb);
    print_memory_line(present, managed as u64, high_managed);
    print_layout(layout.high_memory);
}

/// Instructions (under -icount) spent writing mem_map at boot.
pub static MEMMAP_SETUP_TSC: AtomicUsize = AtomicUsize::new(0);

fn print_memory_line(present: u64, managed: u64, high: u64) {
    let (text, etext, sdata, edata, ib, ie, bs, be) = (
        sym(addr_of!(_text)),
        sym(addr_of!(_etext)),
        sym(addr_of!(_sdata)),
        sym(addr_of!(_edata)),
        sym(addr_of!(__init_begin)),
        sym(addr_of!(__init_end)),
        sym(addr_of!(__bss_start)),
        sym(addr_of!(__bss_stop)),
    );
    let k = |b: usize| b >> 10;
    pr_info!(
        "Memory: {}K/{}K available ({}K kernel code, {}K rwdata, {}K rodata, {}K init, {}K bss, {}K reserved, 0K cma-reserved, {}K highmem)",
        managed * 4,
        present * 4,
        k(etext - text),
        k(edata - sdata),
        k(sdata - etext),
        k(ie - ib),
        k(be - bs),
        (present - managed) * 4,
        high * 4
    );
}

/// Linux's `virtual kernel memory layout:` block (init_32.c, before 4.x).
fn print_layout(high_memory: usize) {
    use crate::arch::x86::mm::init::fixmap::{fix_to_virt, NR_FIX};
    let (text, etext, edata, ib, ie) = (
        sym(addr_of!(_text)),
        sym(addr_of!(_etext)),
        sym(addr_of!(_edata)),
        sym(addr_of!(__init_begin)),
        sym(addr_of!(__init_end)),
    );
    let vmalloc_start = high_memory + VMALLOC_OFFSET;
    let fixstart = fix_to_virt(NR_FIX - 1);
    let kb = |a: usize, b: usize| (b - a) >> 10;
    pr_info!("virtual kernel memory layout:");
    pr_info!("    fixmap  : {:#010x} - {:#010x}   ({:>4} kB)", fixstart, FIXADDR_TOP, kb(fixstart, FIXADDR_TOP));
    pr_info!("    pkmap   : {:#010x} - {:#010x}   ({:>4} kB)", PKMAP_BASE, PKMAP_END, kb(PKMAP_BASE, PKMAP_END));
    pr_info!(
        "    vmalloc : {:#010x} - {:#010x}   ({:>4} MB)",
        vmalloc_start,
        VMALLOC_END,
        (VMALLOC_END - vmalloc_start) >> 20
    );
    pr_info!(
        "    lowmem  : {:#010x} - {:#010x}   ({:>4} MB)",
        PAGE_OFFSET,
        high_memory,
        (high_memory - PAGE_OFFSET) >> 20
    );
    pr_info!("      .init : {:#010x} - {:#010x}   ({:>4} kB)", ib, ie, kb(ib, ie));
    pr_info!("      .data : {:#010x} - {:#010x}   ({:>4} kB)", etext, edata, kb(etext, edata));
    pr_info!("      .text : {:#010x} - {:#010x}   ({:>4} kB)", text, etext, kb(text, etext));
}
