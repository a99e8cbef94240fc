//! Bringing up physical memory at boot (Linux's setup_arch memory part,
//! mm/mm_init.c and mem_init): the firmware map becomes a memblock boot
//! allocator; the zones are sized; the kernel page directory gets its real
//! direct map; `mem_map` is allocated from lowmem and every descriptor
//! written (`memmap_init_zone`); the node's zones are set up
//! (`free_area_init_node`); every page memblock does not hold goes to the
//! buddy allocator; the watermarks and reserves are computed
//! (`init_per_zone_pages_min`, `setup_zone_migrate_reserve`); memblock is
//! retired. Afterwards the node and `mem_map` are published once and only
//! shared (`mmzone`).
//!
//! The node's set-up is pure, so host tests build zones with it; the
//! function that runs it on the machine, [`mm_init`], is the kernel's.

use super::buddy::{BuddyZone, MigrateType, MIGRATE_TYPES, PAGEBLOCK_PAGES};
use super::mmzone::{Node, Watermark, Zone, ZoneType, MAX_NR_ZONES};
use super::page::{Page, PageFlags};
use super::page_alloc::pcp::{route_gfp, route_index, PcpList, PcpRoute};
use super::zones::ZoneLayout;
use core::sync::atomic::AtomicUsize;
use core::sync::atomic::Ordering::Relaxed;
#[cfg(target_os = "none")]
use {
    super::mmzone::{mem_map, set_max_low_pfn, set_mem_map, NODE},
    super::zones::{available_lines, size_zones, zone_ranges_lines, MemOptions},
    crate::arch::x86::mm::init::paging_init,
    crate::kernel::bootinfo::BootInfo,
    crate::kernel::cmdline::BootOptions,
    crate::layout::*,
    crate::{pr_err, pr_info, pr_warn},
    core::ptr::addr_of,
    core::sync::atomic::Ordering,
};

/// Boot-time bookkeeping for the `Memory:` line and `meminfo`.
pub static RESERVED_PAGES: AtomicUsize = AtomicUsize::new(0);
pub static MEM_MAP_BYTES: AtomicUsize = AtomicUsize::new(0);

#[cfg(target_os = "none")]
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
#[cfg(target_os = "none")]
fn sym(s: *const u8) -> usize {
    s as usize
}

#[cfg(target_os = "none")]
pub fn mm_init(info: &BootInfo, opts: &BootOptions) {
    let mut mb = super::memblock::MEMBLOCK.lock();
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
    for m in info.modules().filter(|m| !m.is_alias()) {
        let (start, end) = m.phys_range();
        reserve(start, end, "module");
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

    // The CMA region, before the page tables and mem_map take lowmem from
    // the top (Linux's dma_contiguous_reserve in setup_arch).
    let cma = match opts.cma.map(|c| super::cma::cma_reserve(c, &mut mb, &layout)) {
        Some(Ok(Some(r))) => {
            if let Some(asked) = r.asked {
                pr_info!(
                    "cma: size {} bytes rounded up to {} MiB (whole 4 MiB pageblocks)",
                    asked,
                    r.region.size >> 20
                );
            }
            pr_info!("cma: Reserved {} MiB at {:#010x}", r.region.size >> 20, r.region.base);
            Some(r.region)
        }
        Some(Err(e)) => {
            pr_warn!("{}", e);
            None
        }
        Some(Ok(None)) | None => None,
    };

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
    // SAFETY: the array was just allocated from lowmem for max_pfn
    // descriptors, every one written above, and memblock keeps it reserved
    // for the kernel's life; nothing borrows it mutably from here on.
    unsafe { set_mem_map(mem_map_ptr, max_pfn) };
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
        // memblock kept the CMA region back; it goes over as MIGRATE_CMA
        // pageblocks (Linux's cma_activate_area).
        if let Some(r) = cma {
            for pfn in (r.base_pfn()..r.end_pfn()).step_by(PAGEBLOCK_PAGES as usize) {
                node.init_cma_reserved_pageblock(pages, pfn);
            }
        }
        node.setup_watermarks(None);
        node.setup_migrate_reserve(pages);
        node
    });
    mb.retire();
    if let Some(r) = cma {
        super::cma::cma_activate(r);
    }
    set_max_low_pfn(max_low_pfn);
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
    print_memory_line(present, managed as u64, high_managed, node.cma_total());
    print_layout(layout.high_memory);
}

/// Instructions (under -icount) spent writing mem_map at boot.
pub static MEMMAP_SETUP_TSC: AtomicUsize = AtomicUsize::new(0);

#[cfg(target_os = "none")]
fn print_memory_line(present: u64, managed: u64, high: u64, cma: u64) {
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
        "Memory: {}K/{}K available ({}K kernel code, {}K rwdata, {}K rodata, {}K init, {}K bss, {}K reserved, {}K cma-reserved, {}K highmem)",
        managed * 4,
        present * 4,
        k(etext - text),
        k(edata - sdata),
        k(sdata - etext),
        k(ie - ib),
        k(be - bs),
        (present - managed) * 4,
        cma * 4,
        high * 4
    );
}

/// Linux's `virtual kernel memory layout:` block (init_32.c, before 4.x).
#[cfg(target_os = "none")]
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

// The node's set-up, pure: the host tests run it on a `Vec` of pages.

/// Linux 2.6.24's `sysctl_lowmem_reserve_ratio` for DMA, NORMAL, HIGHMEM.
pub const LOWMEM_RESERVE_RATIO: [u64; MAX_NR_ZONES - 1] = [256, 32, 32];

impl Node {
    /// Set up the zones of `layout`; no page is free until `free_range`.
    pub fn init(&mut self, layout: &ZoneLayout, grouping: bool) {
        for (zone, z) in self.zones.iter_mut().zip(layout.zones.iter()) {
            *zone = Zone::empty(z.kind);
            let mut buddy = BuddyZone::new(z.start_pfn as u32, z.spanned_pages as u32);
            buddy.set_grouping(grouping);
            *zone.lock() = buddy;
            zone.start_pfn = z.start_pfn as u32;
            zone.nr_pfns = z.spanned_pages as u32;
            zone.spanned = z.spanned_pages;
            zone.present = z.present_pages;
        }
        for top in 0..MAX_NR_ZONES {
            self.classzone[top] = (0..=top).rev().find(|&i| self.zones[i].present != 0);
        }
        self.max_low_pfn = layout.max_low_pfn;
        self.max_pfn = layout.max_pfn;
        self.node_start_pfn = layout.min_pfn;
        self.node_spanned_pages = layout.max_pfn - layout.min_pfn;
        self.node_present_pages = layout.zones.iter().map(|z| z.present_pages).sum();
        self.grouping = grouping;
        for (index, route) in self.pcp_route.iter_mut().enumerate() {
            let gfp = route_gfp(index);
            debug_assert_eq!(route_index(gfp.bits()), index);
            let classzone = self.classzone[gfp.zone() as usize].map(|z| z as u8);
            let mt = if grouping { gfp.migratetype() } else { MigrateType::Unmovable };
            let list = PcpList::of(mt);
            // The allocation paths take the free lists' type from the route
            // (`PcpList::migratetype`): checked here once, in every build.
            assert_eq!(list.migratetype(), mt, "route {index:#x}: pcp list {list:?} for {mt:?}");
            *route = PcpRoute { zone: classzone.unwrap_or(0), list, classzone };
        }
    }

    /// Give free frames `[start, end)` to their zones (memblock's hand-over).
    pub fn free_range(&mut self, mem_map: &[Page], start: u32, end: u32) {
        for (id, zone) in self.zones.iter_mut().enumerate().filter(|(_, z)| z.spanned != 0) {
            let (lo, hi) = (start.max(zone.start_pfn()), end.min(zone.end_pfn()));
            if lo < hi {
                for page in &mem_map[lo as usize..hi as usize] {
                    page.set_zone_id(id);
                }
                zone.lock().free_range(mem_map, lo, hi);
                zone.managed += (hi - lo) as u64;
            }
        }
    }

    /// Give the CMA region's pageblock at `pfn` (reserved from memblock at
    /// boot, so not handed over with the rest) to its zone as
    /// `MIGRATE_CMA` (Linux's `init_cma_reserved_pageblock`): tagged before
    /// its pages are freed, so that every one lands on the CMA lists. The
    /// pageblock must lie whole in one zone.
    pub fn init_cma_reserved_pageblock(&mut self, mem_map: &[Page], pfn: u32) {
        assert!(pfn.is_multiple_of(PAGEBLOCK_PAGES), "CMA pageblock {pfn:#x} not aligned");
        let end = pfn + PAGEBLOCK_PAGES;
        let zone = self.zones.iter().find(|z| z.contains(pfn) && z.contains(end - 1));
        let zone = zone.unwrap_or_else(|| panic!("CMA pageblock {pfn:#x} not inside one zone"));
        zone.lock().set_pageblock_type(pfn, MigrateType::Cma);
        self.free_range(mem_map, pfn, end);
        let zone = self.zones.iter_mut().find(|z| z.contains(pfn)).expect("found above");
        zone.cma_pages += PAGEBLOCK_PAGES as u64;
    }

    /// Watermarks, reserves and pcp sizes, once every free page is handed
    /// over (Linux's `init_per_zone_pages_min` and friends). `min_free_kbytes`
    /// of `None` uses 2.6.24's formula: sqrt(16 * lowmem KB), 128..65536.
    pub fn setup_watermarks(&mut self, min_free_kbytes: Option<u64>) {
        let lowmem_pages = self.lowmem_managed();
        let kb = min_free_kbytes.unwrap_or_else(|| int_sqrt(lowmem_pages * 4 * 16).clamp(128, 65536));
        self.min_free_kbytes.store(kb as usize, Relaxed);
        self.setup_per_zone_wmarks();
        for zone in self.zones.iter_mut() {
            let mut pcp = zone.pcp();
            pcp.batch = zone_batchsize(zone.present).max(1);
            pcp.high = 6 * zone_batchsize(zone.present);
        }
        self.setup_per_zone_lowmem_reserve(&LOWMEM_RESERVE_RATIO);
    }

    fn lowmem_managed(&self) -> u64 {
        self.zones.iter().filter(|z| !self.is_highmem_zone(z)).map(|z| z.managed).sum()
    }

    /// Each zone's min, low and high marks from `min_free_kbytes`: lowmem
    /// zones share it in proportion to their size, highmem keeps a small
    /// fixed reserve (Linux 2.6.24's `setup_per_zone_pages_min`, later
    /// `__setup_per_zone_wmarks`). Re-run when `vm.min_free_kbytes` is
    /// written: each zone's marks change under its lock, as Linux's.
    pub fn setup_per_zone_wmarks(&self) {
        let lowmem_pages = self.lowmem_managed();
        let pages_min = self.min_free_kbytes() / 4;
        let max_low = self.max_low_pfn;
        for zone in self.zones.iter() {
            let tmp = (pages_min * zone.managed).checked_div(lowmem_pages).unwrap_or(0);
            let min = if zone.kind == ZoneType::HighMem
                || (zone.kind == ZoneType::Movable && zone.start_pfn() as u64 >= max_low)
            {
                // Highmem needs little reserve: nobody but user pages uses it.
                (zone.managed / 1024).clamp(32, 128)
            } else {
                tmp
            };
            let buddy = zone.lock();
            zone.set_watermarks(&buddy, [min, min + tmp / 4, min + tmp / 2]);
        }
    }

    /// `lowmem_reserve[j]` of each zone `i`: the pages of zones `i+1..=j`
    /// over `ratio[i]` (Linux's `setup_per_zone_lowmem_reserve`). A ratio
    /// of 0 keeps no reserve, as Linux since 4.19 reads it (2.6.24 made a
    /// ratio below 1 into 1; `mm::sysctl` stores what it is given).
    pub fn setup_per_zone_lowmem_reserve(&self, ratio: &[u64; MAX_NR_ZONES - 1]) {
        for i in 0..MAX_NR_ZONES {
            let r = ratio[i.min(MAX_NR_ZONES - 2)];
            for j in 0..MAX_NR_ZONES {
                let above: u64 = if j <= i { 0 } else { self.zones[i + 1..=j].iter().map(|z| z.managed).sum() };
                let reserve = above.checked_div(r).unwrap_or(0);
                self.zones[i].lowmem_reserve[j].store(reserve as usize, Relaxed);
            }
        }
    }

    /// Keep the first pageblocks of each zone as MIGRATE_RESERVE, enough to
    /// cover its `min` watermark (2.6.24's `setup_zone_migrate_reserve`):
    /// the allocator takes from them last, so high-order atomic allocations
    /// near the watermark still find contiguous blocks. Call after
    /// `setup_per_zone_wmarks`, at boot and whenever the marks change: a
    /// block already reserved counts, and reserved blocks beyond the new
    /// need go back to movable, as Linux's. Returns the pageblocks reserved.
    /// Each pageblock is one hold of the zone's lock (interrupts stay off
    /// for one `move_freepages_block`, not for a whole zone).
    pub fn setup_migrate_reserve(&self, mem_map: &[Page]) -> usize {
        let mut total = 0;
        for zone in self.zones.iter().filter(|z| z.is_populated()) {
            let pb = PAGEBLOCK_PAGES as u64;
            let mut reserve = zone.watermark(Watermark::Min).div_ceil(pb) as usize;
            let (start, end) = (zone.start_pfn(), zone.end_pfn());
            let zone_id = zone.kind as usize;
            let mut pfn = start & !(PAGEBLOCK_PAGES - 1);
            while pfn < end {
                // Only whole pageblocks inside the zone, and only blocks
                // whose every frame is RAM the allocator manages: a block
                // holding reserved frames (firmware, the kernel image,
                // mem_map) never becomes free as a whole (Linux skips
                // PageReserved blocks and checks the zone).
                let whole = pfn >= start && pfn + PAGEBLOCK_PAGES <= end;
                let usable = whole
                    && mem_map[pfn as usize..(pfn + PAGEBLOCK_PAGES) as usize]
                        .iter()
                        .all(|p| !p.is_reserved() && p.zone_id() == zone_id);
                if usable {
                    let mut buddy = zone.lock();
                    match buddy.pageblock_type(pfn) {
                        MigrateType::Reserve if reserve > 0 => {
                            reserve -= 1;
                            total += 1;
                        }
                        MigrateType::Movable if reserve > 0 => {
                            buddy.set_pageblock_type(pfn, MigrateType::Reserve);
                            buddy.move_freepages_block(mem_map, pfn, MigrateType::Reserve);
                            reserve -= 1;
                            total += 1;
                        }
                        MigrateType::Reserve => {
                            buddy.set_pageblock_type(pfn, MigrateType::Movable);
                            buddy.move_freepages_block(mem_map, pfn, MigrateType::Movable);
                        }
                        _ => {}
                    }
                }
                pfn += PAGEBLOCK_PAGES;
            }
        }
        total
    }
}

/// Below this many pages mobility grouping cannot pay (each migrate type
/// would not get one pageblock), so 2.6.24's `build_all_zonelists` turns it
/// off: `pageblock_nr_pages * MIGRATE_TYPES`, 2.6.24's five types. The CMA
/// type added since (Linux with `CONFIG_CMA` counts six) does not move the
/// threshold: a machine keeps the grouping it had.
pub const GROUPING_MIN_PAGES: u64 = (PAGEBLOCK_PAGES as u64) * (MIGRATE_TYPES as u64 - 1);

/// Whether mobility grouping is on: asked for (the default) and enough
/// pages for it. `total_pages` is Linux's `vm_total_pages` at that point of
/// boot: the zones' present pages (no watermark is set yet).
pub fn mobility_grouping(requested: bool, total_pages: u64) -> bool {
    requested && total_pages >= GROUPING_MIN_PAGES
}

/// Linux's boot line about the zonelists, word for word.
pub struct ZonelistsLine {
    pub grouping: bool,
    pub total_pages: u64,
}

impl core::fmt::Display for ZonelistsLine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Built 1 zonelists in Zone order, mobility grouping {}.  Total pages: {}",
            if self.grouping { "on" } else { "off" },
            self.total_pages
        )
    }
}

/// The descriptor a frame starts with (Linux's `memmap_init_zone`, run over
/// every zone): reserved until the boot allocator hands it over, HIGHMEM
/// above the direct map, and the zone whose span holds it, written into
/// every descriptor, reserved ones and holes included, so `page_zone` is
/// right for any frame. The node is node 0, the only one, and needs no bits.
pub fn memmap_page(layout: &ZoneLayout, pfn: u64) -> Page {
    let page = Page::RESERVED;
    if pfn >= layout.max_low_pfn {
        page.__set_flag(PageFlags::HIGHMEM);
    }
    page.set_page_links(layout.zone_at(pfn) as usize, 0);
    page
}

/// The runs of frames whose descriptors start alike, for boot (Linux's
/// `memmap_init` calls `memmap_init_zone` once per zone, the zone fixed,
/// rather than looking the zone up per frame): `(start, end, flags word)`
/// with every frame of `[start, end)` starting as
/// `Page::with_flags_word(word)`, the same as [`memmap_page`] for it. The
/// runs tile `[0, max_pfn)` in order. A descriptor changes only where a
/// zone starts (holes go to the zone below) and at `max_low_pfn` (HIGHMEM),
/// so those points cut the runs.
pub fn memmap_runs(layout: &ZoneLayout) -> impl Iterator<Item = (u64, u64, u32)> + '_ {
    let end = layout.max_pfn;
    let mut cuts = [end; MAX_NR_ZONES + 2];
    cuts[0] = 0;
    cuts[1] = layout.max_low_pfn.min(end);
    for (cut, z) in cuts[2..].iter_mut().zip(&layout.zones) {
        if z.spanned_pages != 0 {
            *cut = z.start_pfn.min(end);
        }
    }
    cuts.sort_unstable();
    (1..cuts.len())
        .map(move |i| (cuts[i - 1], cuts[i]))
        .filter(|(start, end)| start < end)
        .map(|(start, end)| (start, end, memmap_page(layout, start).flags_word()))
}

/// Integer square root by bisection (no floating point in the kernel).
pub(super) fn int_sqrt(x: u64) -> u64 {
    let (mut lo, mut hi) = (0u64, 1u64 << 32);
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if mid * mid <= x {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Linux 2.6.24's `zone_batchsize`.
pub(super) fn zone_batchsize(present: u64) -> usize {
    let mut batch = present / 1024;
    batch = batch.min(512 * 1024 / 4096);
    batch /= 4;
    batch = batch.max(1);
    let v = batch + batch / 2;
    ((1u64 << (63 - v.leading_zeros())) - 1) as usize
}
