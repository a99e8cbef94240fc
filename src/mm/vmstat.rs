//! The reports of the page allocator, in Linux's /proc formats exactly
//! (mm/vmstat.c: buddyinfo, pagetypeinfo, zoneinfo; fs/proc/meminfo.c), and
//! `memmap`, a picture of physical memory that Linux does not have.
//! Pure: they read a [`Node`] and write text. Each zone's counters are
//! copied under its lock, and the text written after the lock is dropped:
//! the kernel prints these to a slow UART, and the zone's lock masks
//! interrupts.

#![forbid(unsafe_code)]

use super::buddy::{MigrateType, MAX_ORDER, MIGRATE_TYPES, PAGEBLOCK_ORDER, PAGEBLOCK_PAGES};
use super::mmzone::ZoneType;
use super::mmzone::{LruList, Node, Watermark};
use super::page::Page;
use core::fmt::{self, Write};
use core::sync::atomic::AtomicUsize;

// Global counters of Linux's `enum zone_stat_item` that the zones do not
// keep (Linux sums them per zone; one node and one CPU make one global
// atomic enough). `meminfo` shows them.

/// `NR_PAGETABLE`: pages holding user page tables (not the directories,
/// not the kernel's tables). Up when `__pte_alloc` puts a table under a
/// PDE, down when `free_pgtables`/`pgd_free` frees it (`mm::highpte`).
/// `PageTables:` in meminfo.
pub static NR_PAGETABLE: AtomicUsize = AtomicUsize::new(0);
/// `NR_KERNEL_STACK`: kernel stacks allocated, one per thread
/// (`process::kthread`), counted in stacks as Linux's `account_kernel_stack`
/// does; meminfo's `KernelStack:` is this times `THREAD_SIZE`, in kB.
pub static NR_KERNEL_STACK: AtomicUsize = AtomicUsize::new(0);
/// `NR_ANON_PAGES`: anonymous pages mapped into user address spaces
/// (`page_add_new_anon_rmap` counts a page when its first mapping is made,
/// `page_remove_rmap` when its last goes). `AnonPages:`.
pub static NR_ANON_PAGES: AtomicUsize = AtomicUsize::new(0);
/// `NR_MLOCK`: pages held by `mlock` (Linux's `mlock_vma_page` counts a
/// page when it becomes `PG_mlocked`, `munlock_vma_page` when it stops).
/// `Mlocked:`.
pub static NR_MLOCK: AtomicUsize = AtomicUsize::new(0);
/// `NR_SWAPCACHE`: pages in the swap cache (`SwapCached:`).
pub static NR_SWAPCACHE: AtomicUsize = AtomicUsize::new(0);
/// Swap slots on every active device, and those free (Linux's
/// `total_swap_pages` and `nr_swap_pages`): `SwapTotal:`, `SwapFree:`.
pub static TOTAL_SWAP_PAGES: AtomicUsize = AtomicUsize::new(0);
pub static NR_SWAP_PAGES: AtomicUsize = AtomicUsize::new(0);
/// Pages committed by private writable mappings (Linux's
/// `vm_committed_as`): `Committed_AS:`.
pub static VM_COMMITTED_AS: AtomicUsize = AtomicUsize::new(0);

/// Declares [`VmEvent`] once: each event with the name `/proc/vmstat`
/// gives it, in the order Linux 6.1's `vmstat_text` lists them.
macro_rules! vm_events {
    ($($event:ident => $name:literal,)*) => {
        /// Linux's `enum vm_event_item`, the events `/proc/vmstat` counts
        /// (only those this kernel has), in `/proc/vmstat`'s order.
        /// Counted with [`count_vm_event`].
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        pub enum VmEvent {
            $($event,)*
        }

        impl VmEvent {
            /// Every event, in `/proc/vmstat`'s order.
            pub const ALL: [VmEvent; VmEvent::COUNT] = [$(VmEvent::$event,)*];
            pub const COUNT: usize = [$($name,)*].len();

            /// The name `/proc/vmstat` gives it.
            pub fn name(self) -> &'static str {
                match self {
                    $(VmEvent::$event => $name,)*
                }
            }
        }
    };
}

// 6.1's per-zone `allocstall_*` is one `allocstall` here, at its place
// before `pgactivate`; the scan and steal counts follow `pgmajfault`.
vm_events! {
    PgPgIn => "pgpgin",
    PgPgOut => "pgpgout",
    PswpIn => "pswpin",
    PswpOut => "pswpout",
    AllocStall => "allocstall",
    PgActivate => "pgactivate",
    PgDeactivate => "pgdeactivate",
    PgFault => "pgfault",
    PgMajFault => "pgmajfault",
    PgStealKswapd => "pgsteal_kswapd",
    PgStealDirect => "pgsteal_direct",
    PgScanKswapd => "pgscan_kswapd",
    PgScanDirect => "pgscan_direct",
    PgInodeSteal => "pginodesteal",
    SlabsScanned => "slabs_scanned",
    KswapdInodeSteal => "kswapd_inodesteal",
    PageOutRun => "pageoutrun",
    PgRotated => "pgrotated",
    OomKill => "oom_kill",
    PgMigrateSuccess => "pgmigrate_success",
    PgMigrateFail => "pgmigrate_fail",
    CompactMigrateScanned => "compact_migrate_scanned",
    CompactFreeScanned => "compact_free_scanned",
    CompactIsolated => "compact_isolated",
    CompactStall => "compact_stall",
    CompactFail => "compact_fail",
    CompactSuccess => "compact_success",
    CmaAllocSuccess => "cma_alloc_success",
    CmaAllocFail => "cma_alloc_fail",
    UnevictablePgsCulled => "unevictable_pgs_culled",
    UnevictablePgsScanned => "unevictable_pgs_scanned",
    UnevictablePgsRescued => "unevictable_pgs_rescued",
    UnevictablePgsMlocked => "unevictable_pgs_mlocked",
    UnevictablePgsMunlocked => "unevictable_pgs_munlocked",
}

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicUsize = AtomicUsize::new(0);
/// The event counters (Linux keeps them per CPU and sums them; one CPU).
static VM_EVENTS: [AtomicUsize; VmEvent::COUNT] = [ZERO; VmEvent::COUNT];

/// Linux's `count_vm_event`.
pub fn count_vm_event(e: VmEvent) {
    count_vm_events(e, 1);
}

/// Linux's `count_vm_events`.
pub fn count_vm_events(e: VmEvent, n: usize) {
    VM_EVENTS[e as usize].fetch_add(n, core::sync::atomic::Ordering::Relaxed);
}

/// The count of event `e` since boot.
pub fn vm_event(e: VmEvent) -> usize {
    VM_EVENTS[e as usize].load(core::sync::atomic::Ordering::Relaxed)
}

/// `/proc/buddyinfo`: free blocks per order, per populated zone.
pub fn buddyinfo(node: &Node, out: &mut impl Write) -> fmt::Result {
    for z in node.zones.iter().filter(|z| z.is_populated()) {
        let free: [usize; MAX_ORDER] = {
            let buddy = z.lock();
            core::array::from_fn(|order| buddy.nr_free(order))
        };
        write!(out, "Node 0, zone {:>8} ", z.name())?;
        for n in free {
            write!(out, "{:>6} ", n)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// `/proc/pagetypeinfo`: free blocks per order and migrate type, and
/// pageblocks per migrate type.
pub fn pagetypeinfo(node: &Node, out: &mut impl Write) -> fmt::Result {
    writeln!(out, "Page block order: {}", PAGEBLOCK_ORDER)?;
    writeln!(out, "Pages per block:  {}", PAGEBLOCK_PAGES)?;
    writeln!(out)?;
    write!(out, "{:<43} ", "Free pages count per migrate type at order")?;
    for order in 0..MAX_ORDER {
        write!(out, "{:>6} ", order)?;
    }
    writeln!(out)?;
    for z in node.zones.iter().filter(|z| z.is_populated()) {
        let free: [[usize; MAX_ORDER]; MIGRATE_TYPES] = {
            let buddy = z.lock();
            core::array::from_fn(|mt| core::array::from_fn(|order| buddy.nr_free_by_type(order, MigrateType::ALL[mt])))
        };
        for mt in MigrateType::ALL {
            write!(out, "Node {:>4}, zone {:>8}, type {:>12} ", 0, z.name(), mt.name())?;
            for n in free[mt as usize] {
                write!(out, "{:>6} ", n)?;
            }
            writeln!(out)?;
        }
    }
    writeln!(out)?;
    write!(out, "{:<23}", "Number of blocks type ")?;
    for mt in MigrateType::ALL {
        write!(out, "{:>12} ", mt.name())?;
    }
    writeln!(out)?;
    for z in node.zones.iter().filter(|z| z.is_populated()) {
        let counts = z.lock().pageblock_counts();
        write!(out, "Node 0, zone {:>8} ", z.name())?;
        for c in counts.iter().take(MIGRATE_TYPES) {
            write!(out, "{:>12} ", c)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// `/proc/zoneinfo`, the lines this kernel has real values for.
pub fn zoneinfo(node: &Node, out: &mut impl Write) -> fmt::Result {
    for z in node.zones.iter() {
        writeln!(out, "Node 0, zone {:>8}", z.name())?;
        writeln!(out, "  pages free     {}", z.nr_free_pages())?;
        writeln!(out, "        min      {}", z.watermark(Watermark::Min))?;
        writeln!(out, "        low      {}", z.watermark(Watermark::Low))?;
        writeln!(out, "        high     {}", z.watermark(Watermark::High))?;
        writeln!(out, "        spanned  {}", z.spanned)?;
        writeln!(out, "        present  {}", z.present)?;
        writeln!(out, "        managed  {}", z.managed)?;
        let r: [u64; 4] = core::array::from_fn(|j| z.lowmem_reserve(j));
        writeln!(out, "        protection: ({}, {}, {}, {})", r[0], r[1], r[2], r[3])?;
        if !z.is_populated() {
            continue;
        }
        let (count, high, batch) = {
            let pcp = z.pcp();
            (pcp.count, pcp.high, pcp.batch)
        };
        writeln!(out, "      nr_free_pages {}", z.nr_free_pages())?;
        writeln!(out, "      kswapd_wakeups {}", z.kswapd_wakeups.load(core::sync::atomic::Ordering::Relaxed))?;
        writeln!(out, "  pagesets")?;
        writeln!(out, "    cpu: 0")?;
        writeln!(out, "              count: {}", count)?;
        writeln!(out, "              high:  {}", high)?;
        writeln!(out, "              batch: {}", batch)?;
        writeln!(out, "  start_pfn:           {}", z.start_pfn())?;
    }
    Ok(())
}

/// Figures for `/proc/meminfo` that do not come from the zones.
#[derive(Clone, Copy, Default)]
pub struct MemExtra {
    pub kernel_stack_kb: u64,
    pub anon_pages_kb: u64,
    pub mlocked_kb: u64,
    pub page_tables_kb: u64,
    pub vmalloc_total_kb: u64,
    pub vmalloc_used_kb: u64,
    pub vmalloc_chunk_kb: u64,
    pub slab_kb: u64,
    pub sreclaimable_kb: u64,
    pub direct_map_4k_kb: u64,
    pub direct_map_4m_kb: u64,
    pub swap_cached_kb: u64,
    pub swap_total_kb: u64,
    pub swap_free_kb: u64,
    /// `vm_commit_limit()` and `vm_committed_as`, in kB.
    pub commit_limit_kb: u64,
    pub committed_as_kb: u64,
}

/// Pages on LRU list `l` of every zone (Linux sums the zones' counters
/// into the node's).
pub fn node_lru_pages(node: &Node, l: LruList) -> u64 {
    node.zones.iter().map(|z| z.lru_pages(l) as u64).sum()
}

/// `/proc/meminfo`, in Linux 6.1's order less the lines of what this
/// kernel has not at all (Shmem, hugepages...). Lines for mechanisms it
/// does not have yet (page cache) read 0, which is what they hold.
pub fn meminfo(node: &Node, mem_map: &[Page], x: &MemExtra, out: &mut impl Write) -> fmt::Result {
    let kb = |pages: u64| pages * 4;
    let total = node.managed_total();
    let free = node.nr_free_pages();
    let (high_total, high_free) = node.high_totals();
    // Free pages minus what the allocator keeps back (Linux's
    // si_mem_available without page cache, which this kernel has not).
    let reserve = node.totalreserve_pages();
    let (active, inactive) = (node_lru_pages(node, LruList::ActiveAnon), node_lru_pages(node, LruList::InactiveAnon));
    let lines: [(&str, u64); 39] = [
        ("MemTotal:", kb(total)),
        ("MemFree:", kb(free)),
        ("MemAvailable:", kb(free.saturating_sub(reserve))),
        ("Buffers:", 0),
        ("Cached:", 0),
        ("SwapCached:", x.swap_cached_kb),
        // Anonymous pages only: there is no page cache for file lists.
        ("Active:", kb(active)),
        ("Inactive:", kb(inactive)),
        ("Active(anon):", kb(active)),
        ("Inactive(anon):", kb(inactive)),
        ("Active(file):", 0),
        ("Inactive(file):", 0),
        ("Unevictable:", kb(node_lru_pages(node, LruList::Unevictable))),
        ("Mlocked:", x.mlocked_kb),
        ("HighTotal:", kb(high_total)),
        ("HighFree:", kb(high_free)),
        ("LowTotal:", kb(total - high_total)),
        ("LowFree:", kb(free - high_free)),
        ("SwapTotal:", x.swap_total_kb),
        ("SwapFree:", x.swap_free_kb),
        ("Dirty:", 0),
        ("Writeback:", 0),
        ("AnonPages:", x.anon_pages_kb),
        ("Mapped:", 0),
        ("Slab:", x.slab_kb),
        ("SReclaimable:", x.sreclaimable_kb),
        ("SUnreclaim:", x.slab_kb - x.sreclaimable_kb),
        ("KernelStack:", x.kernel_stack_kb),
        ("PageTables:", x.page_tables_kb),
        ("Bounce:", 0),
        ("CommitLimit:", x.commit_limit_kb),
        ("Committed_AS:", x.committed_as_kb),
        ("VmallocTotal:", x.vmalloc_total_kb),
        ("VmallocUsed:", x.vmalloc_used_kb),
        ("VmallocChunk:", x.vmalloc_chunk_kb),
        // Linux 6.1 prints them after the transparent hugepage lines, which
        // this kernel has not.
        ("CmaTotal:", kb(node.cma_total())),
        ("CmaFree:", kb(node.nr_free_cma(mem_map))),
        ("DirectMap4k:", x.direct_map_4k_kb),
        ("DirectMap4M:", x.direct_map_4m_kb),
    ];
    for (name, v) in lines {
        writeln!(out, "{:<16}{:>8} kB", name, v)?;
    }
    Ok(())
}

/// The node counters `/proc/vmstat` shows that the zones do not keep, in
/// pages (`kernel_stack_kb` in kB, as Linux 6.1 counts it).
#[derive(Clone, Copy, Default)]
pub struct NodeStats {
    pub mlock: u64,
    pub slab_reclaimable: u64,
    pub slab_unreclaimable: u64,
    pub anon_pages: u64,
    pub kernel_stack_kb: u64,
    pub page_table_pages: u64,
    pub swapcached: u64,
}

/// Every event count now, indexed by `VmEvent as usize`.
pub fn vm_events() -> [usize; VmEvent::COUNT] {
    core::array::from_fn(|i| vm_event(VmEvent::ALL[i]))
}

/// `/proc/vmstat`: `name value` per line, in Linux 6.1's order, only the
/// counters this kernel keeps: the zone counters, then the node's, then
/// the events (`events` indexed by `VmEvent as usize`).
pub fn vmstat(
    node: &Node,
    mem_map: &[Page],
    st: &NodeStats,
    events: &[usize; VmEvent::COUNT],
    out: &mut impl Write,
) -> fmt::Result {
    let lru = |l| node_lru_pages(node, l);
    let lines: [(&str, u64); 15] = [
        ("nr_free_pages", node.nr_free_pages()),
        ("nr_zone_inactive_anon", lru(LruList::InactiveAnon)),
        ("nr_zone_active_anon", lru(LruList::ActiveAnon)),
        ("nr_zone_unevictable", lru(LruList::Unevictable)),
        ("nr_mlock", st.mlock),
        ("nr_free_cma", node.nr_free_cma(mem_map)),
        ("nr_inactive_anon", lru(LruList::InactiveAnon)),
        ("nr_active_anon", lru(LruList::ActiveAnon)),
        ("nr_unevictable", lru(LruList::Unevictable)),
        ("nr_slab_reclaimable", st.slab_reclaimable),
        ("nr_slab_unreclaimable", st.slab_unreclaimable),
        ("nr_anon_pages", st.anon_pages),
        ("nr_kernel_stack", st.kernel_stack_kb),
        ("nr_page_table_pages", st.page_table_pages),
        ("nr_swapcached", st.swapcached),
    ];
    for (name, v) in lines {
        writeln!(out, "{} {}", name, v)?;
    }
    for e in VmEvent::ALL {
        writeln!(out, "{} {}", e.name(), events[e as usize])?;
    }
    Ok(())
}

/// Cells per row of the `memmap` picture.
pub const MEMMAP_COLUMNS: usize = 64;

fn type_letter(mt: MigrateType) -> char {
    match mt {
        MigrateType::Unmovable => 'U',
        MigrateType::Reclaimable => 'R',
        MigrateType::Movable => 'M',
        MigrateType::Reserve => 'V',
        MigrateType::Cma => 'C',
        MigrateType::Isolate => 'I',
    }
}

fn zone_colour(z: ZoneType) -> &'static str {
    match z {
        ZoneType::Dma => "44",     // blue
        ZoneType::Normal => "42",  // green
        ZoneType::HighMem => "43", // yellow
        ZoneType::Movable => "45", // magenta
    }
}

/// `memmap`: one cell per pageblock (4 MB). The letter is the pageblock's
/// migrate type, upper case when at least half of it is free, lower case
/// when more than half is in use, `.` when every frame in it is reserved
/// (firmware, kernel image, `mem_map`) or not RAM at all; the
/// background colour is the zone (with `color`), and `|` marks where a zone
/// begins inside a row.
pub fn memmap(node: &Node, mem_map: &[Page], color: bool, out: &mut impl Write) -> fmt::Result {
    let mut counts = MemmapCounts::new();
    for b in 0..counts.blocks(node) {
        counts.count_block(node, mem_map, b);
    }
    counts.count_pcp(node, mem_map);
    memmap_print(node, &counts, color, out)
}

/// What `memmap` shows of each pageblock, gathered one pageblock at a time
/// so that the kernel can take the allocator's lock for each in turn (a
/// walk of all of `mem_map` is O(frames) and must not run with interrupts
/// off): the free frames (in buddy blocks and on pcp lists) and the frames
/// the allocator manages.
pub struct MemmapCounts {
    free: [u16; super::buddy::MAX_PAGEBLOCKS],
    usable: [u16; super::buddy::MAX_PAGEBLOCKS],
}

impl MemmapCounts {
    pub const fn new() -> MemmapCounts {
        MemmapCounts { free: [0; super::buddy::MAX_PAGEBLOCKS], usable: [0; super::buddy::MAX_PAGEBLOCKS] }
    }

    /// Pageblocks up to `max_pfn`.
    pub fn blocks(&self, node: &Node) -> usize {
        (node.max_pfn as usize).div_ceil(PAGEBLOCK_PAGES as usize)
    }

    /// Count pageblock `b`: its usable frames, and its free buddy blocks,
    /// found by their head's `BUDDY` mark (a free block never crosses a
    /// pageblock, so its head lies in the same one).
    pub fn count_block(&mut self, node: &Node, mem_map: &[Page], b: usize) {
        let start = b << PAGEBLOCK_ORDER;
        let end = (start + PAGEBLOCK_PAGES as usize).min(node.max_pfn as usize).min(mem_map.len());
        let (mut free, mut usable) = (0usize, 0usize);
        let mut pfn = start;
        while pfn < end {
            let page = &mem_map[pfn];
            if page.is_buddy() {
                let n = (1usize << page.order()).min(end - pfn);
                free += n;
                usable += n;
                pfn += n;
                continue;
            }
            usable += !page.is_reserved() as usize;
            pfn += 1;
        }
        self.free[b] = free as u16;
        self.usable[b] = usable as u16;
    }

    /// Add the pages of the pcp lists (bounded by their `high` marks).
    pub fn count_pcp(&mut self, node: &Node, mem_map: &[Page]) {
        for z in node.zones.iter().filter(|z| z.is_populated()) {
            let pcp = z.pcp();
            for list in pcp.lists.iter() {
                for pfn in list.iter(mem_map) {
                    self.free[pfn as usize >> PAGEBLOCK_ORDER] += 1;
                }
            }
        }
    }
}

/// The `memmap` picture's counts, gathered one pageblock per lock hold (a
/// walk of all of `mem_map` at once would keep interrupts off for O(frames)).
/// The counts sit in a static: 4 KB is too much for a kernel stack.
#[cfg(target_os = "none")]
pub fn memmap_counts() -> spin::MutexGuard<'static, MemmapCounts> {
    use super::mmzone::with_node_mem_map;
    static COUNTS: spin::Mutex<MemmapCounts> = spin::Mutex::new(MemmapCounts::new());
    let mut counts = COUNTS.lock();
    let blocks = with_node_mem_map(|node, _| counts.blocks(node));
    for b in 0..blocks {
        with_node_mem_map(|node, mm| counts.count_block(node, mm, b));
    }
    with_node_mem_map(|node, mm| counts.count_pcp(node, mm));
    counts
}

impl Default for MemmapCounts {
    fn default() -> Self {
        Self::new()
    }
}

/// Print the picture from counts: O(pageblocks), no walk of `mem_map`.
pub fn memmap_print(node: &Node, counts: &MemmapCounts, color: bool, out: &mut impl Write) -> fmt::Result {
    let blocks = counts.blocks(node);
    let (free, usable) = (&counts.free, &counts.usable);
    let zone_of_block = |b: usize| {
        node.zone_of((b << PAGEBLOCK_ORDER) as u32).or_else(|| node.zone_of(((b + 1) << PAGEBLOCK_ORDER) as u32 - 1))
    };
    for row in (0..blocks).step_by(MEMMAP_COLUMNS) {
        write!(out, "{:#010x} ", (row << PAGEBLOCK_ORDER) << 12)?;
        let mut prev_zone = None;
        for b in row..(row + MEMMAP_COLUMNS).min(blocks) {
            let zone = zone_of_block(b);
            if zone != prev_zone && prev_zone.is_some() {
                out.write_char('|')?;
            }
            prev_zone = zone;
            let c = match zone {
                None => '.',
                Some(_) if usable[b] == 0 => '.',
                Some(z) => {
                    let first = ((b << PAGEBLOCK_ORDER) as u32).max(node.zones[z].start_pfn());
                    let l = type_letter(node.zones[z].pageblock_type(first));
                    if free[b] * 2 >= usable[b] {
                        l
                    } else {
                        l.to_ascii_lowercase()
                    }
                }
            };
            match (color, zone) {
                (true, Some(z)) => write!(out, "\x1b[30;{}m{}\x1b[0m", zone_colour(node.zones[z].kind), c)?,
                _ => out.write_char(c)?,
            }
        }
        writeln!(out)?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "one cell = one pageblock of {} pages ({} MB)",
        PAGEBLOCK_PAGES,
        (PAGEBLOCK_PAGES as usize * 4096) >> 20
    )?;
    writeln!(out, "U unmovable  R reclaimable  M movable  V reserve  C CMA  I isolated  . reserved or no RAM")?;
    writeln!(out, "UPPER CASE: at least half free   lower case: more than half in use   | zone boundary")?;
    write!(out, "zones:")?;
    for z in node.zones.iter().filter(|z| z.is_populated()) {
        if color {
            write!(out, " \x1b[30;{}m {} \x1b[0m", zone_colour(z.kind), z.name())?;
        } else {
            write!(out, " {} [{:#x}-{:#x})", z.name(), z.start_pfn(), z.end_pfn())?;
        }
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::e820::{MemMap, MemType, Region};
    use crate::mm::zones::{size_zones, MemOptions};

    fn machine() -> (Node, Vec<Page>) {
        let map = MemMap::sanitize(&[
            Region::new(0, 0x9fc00, MemType::Usable),
            Region::new(0x100000, (128 << 20) - 0x100000, MemType::Usable),
        ]);
        let (layout, _) = size_zones(&map, &MemOptions { highmem: Some(32 << 20), ..MemOptions::default() });
        let mut node = Node::EMPTY;
        node.init(&layout, true);
        let mm = vec![Page::RESERVED; layout.max_pfn as usize];
        node.free_range(&mm, 1, 0x9f);
        node.free_range(&mm, 0x100, layout.max_pfn as u32);
        node.setup_watermarks(None);
        (node, mm)
    }

    #[test]
    fn buddyinfo_format() {
        let (node, _) = machine();
        let mut s = String::new();
        buddyinfo(&node, &mut s).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("Node 0, zone      DMA "));
        assert!(lines[2].starts_with("Node 0, zone  HighMem "));
        assert!(lines[0].ends_with(' '));
        assert_eq!(lines[0].len(), "Node 0, zone      DMA ".len() + 11 * 7);
    }

    #[test]
    fn meminfo_format_and_totals() {
        let (node, _) = machine();
        let mut s = String::new();
        meminfo(&node, &[], &MemExtra::default(), &mut s).unwrap();
        let get = |k: &str| -> u64 {
            let l = s.lines().find(|l| l.starts_with(k)).unwrap();
            l[16..24].trim().parse().unwrap()
        };
        assert!(s.lines().all(|l| l.len() == 27 && l.ends_with(" kB")));
        assert_eq!(get("MemTotal:"), get("HighTotal:") + get("LowTotal:"));
        assert_eq!(get("MemFree:"), get("HighFree:") + get("LowFree:"));
        assert_eq!(get("HighTotal:"), 32 << 10);
    }

    #[test]
    fn meminfo_shows_the_process_counters() {
        let (node, _) = machine();
        let x = MemExtra {
            kernel_stack_kb: 48,
            page_tables_kb: 12,
            anon_pages_kb: 1024,
            mlocked_kb: 64,
            ..MemExtra::default()
        };
        let mut s = String::new();
        meminfo(&node, &[], &x, &mut s).unwrap();
        let get = |k: &str| -> u64 {
            let l = s.lines().find(|l| l.starts_with(k)).unwrap();
            l[16..24].trim().parse().unwrap()
        };
        assert_eq!(
            [get("KernelStack:"), get("PageTables:"), get("AnonPages:"), get("Mlocked:"), get("Unevictable:")],
            [48, 12, 1024, 64, 0]
        );
    }

    #[test]
    fn meminfo_has_linux_s_lines_in_order() {
        let (node, _) = machine();
        node.zones[1].nr_lru[LruList::ActiveAnon as usize].store(3, core::sync::atomic::Ordering::Relaxed);
        node.zones[2].nr_lru[LruList::ActiveAnon as usize].store(2, core::sync::atomic::Ordering::Relaxed);
        node.zones[2].nr_lru[LruList::InactiveAnon as usize].store(7, core::sync::atomic::Ordering::Relaxed);
        node.zones[2].nr_lru[LruList::Unevictable as usize].store(1, core::sync::atomic::Ordering::Relaxed);
        let x = MemExtra {
            swap_cached_kb: 8,
            swap_total_kb: 262140,
            swap_free_kb: 262000,
            commit_limit_kb: 100,
            committed_as_kb: 40,
            ..MemExtra::default()
        };
        let mut s = String::new();
        meminfo(&node, &[], &x, &mut s).unwrap();
        let names: Vec<&str> = s.lines().map(|l| l.split(':').next().unwrap()).collect();
        // Linux 6.1 on i386 (../shared/linux-formats/proc.txt), less the
        // lines of what this kernel has not at all.
        let linux = [
            "MemTotal",
            "MemFree",
            "MemAvailable",
            "Buffers",
            "Cached",
            "SwapCached",
            "Active",
            "Inactive",
            "Active(anon)",
            "Inactive(anon)",
            "Active(file)",
            "Inactive(file)",
            "Unevictable",
            "Mlocked",
            "HighTotal",
            "HighFree",
            "LowTotal",
            "LowFree",
            "SwapTotal",
            "SwapFree",
            "Zswap",
            "Zswapped",
            "Dirty",
            "Writeback",
            "AnonPages",
            "Mapped",
            "Shmem",
            "KReclaimable",
            "Slab",
            "SReclaimable",
            "SUnreclaim",
            "KernelStack",
            "PageTables",
            "SecPageTables",
            "NFS_Unstable",
            "Bounce",
            "WritebackTmp",
            "CommitLimit",
            "Committed_AS",
            "VmallocTotal",
            "VmallocUsed",
            "VmallocChunk",
            "Percpu",
            "HardwareCorrupted",
            "AnonHugePages",
            "ShmemHugePages",
            "ShmemPmdMapped",
            "FileHugePages",
            "FilePmdMapped",
            "CmaTotal",
            "CmaFree",
            "HugePages_Total",
            "DirectMap4k",
            "DirectMap4M",
        ];
        let in_linux: Vec<&str> = linux.iter().copied().filter(|n| names.contains(n)).collect();
        assert_eq!(names, in_linux, "lines missing from Linux's list or out of its order");
        let get = |k: &str| -> u64 {
            let l = s.lines().find(|l| l.starts_with(k)).unwrap();
            l[16..24].trim().parse().unwrap()
        };
        assert_eq!([get("Active:"), get("Inactive:"), get("Active(anon):"), get("Inactive(anon):")], [20, 28, 20, 28]);
        assert_eq!(
            [get("Unevictable:"), get("SwapCached:"), get("SwapTotal:"), get("SwapFree:")],
            [4, 8, 262140, 262000]
        );
        assert_eq!([get("CommitLimit:"), get("Committed_AS:")], [100, 40]);
    }

    #[test]
    fn vmstat_prints_linux_s_names_in_order() {
        let (node, _) = machine();
        let st =
            NodeStats { mlock: 1, anon_pages: 5, kernel_stack_kb: 64, page_table_pages: 2, ..NodeStats::default() };
        let mut ev = [0; VmEvent::COUNT];
        ev[VmEvent::PgFault as usize] = 1234;
        ev[VmEvent::OomKill as usize] = 2;
        let mut s = String::new();
        vmstat(&node, &[], &st, &ev, &mut s).unwrap();
        let lines: Vec<(&str, u64)> = s
            .lines()
            .map(|l| {
                let (n, v) = l.split_once(' ').unwrap();
                (n, v.parse().unwrap())
            })
            .collect();
        assert_eq!(lines[0], ("nr_free_pages", node.nr_free_pages()));
        // Linux 6.1's /proc/vmstat, the names this kernel keeps, in order.
        let linux = [
            "nr_free_pages",
            "nr_zone_inactive_anon",
            "nr_zone_active_anon",
            "nr_zone_unevictable",
            "nr_mlock",
            "nr_free_cma",
            "nr_inactive_anon",
            "nr_active_anon",
            "nr_unevictable",
            "nr_slab_reclaimable",
            "nr_slab_unreclaimable",
            "nr_anon_pages",
            "nr_kernel_stack",
            "nr_page_table_pages",
            "nr_swapcached",
            "pgpgin",
            "pgpgout",
            "pswpin",
            "pswpout",
            "allocstall",
            "pgactivate",
            "pgdeactivate",
            "pgfault",
            "pgmajfault",
            "pgsteal_kswapd",
            "pgsteal_direct",
            "pgscan_kswapd",
            "pgscan_direct",
            "pginodesteal",
            "slabs_scanned",
            "kswapd_inodesteal",
            "pageoutrun",
            "pgrotated",
            "oom_kill",
            "pgmigrate_success",
            "pgmigrate_fail",
            "compact_migrate_scanned",
            "compact_free_scanned",
            "compact_isolated",
            "compact_stall",
            "compact_fail",
            "compact_success",
            "cma_alloc_success",
            "cma_alloc_fail",
            "unevictable_pgs_culled",
            "unevictable_pgs_scanned",
            "unevictable_pgs_rescued",
            "unevictable_pgs_mlocked",
            "unevictable_pgs_munlocked",
        ];
        assert_eq!(lines.iter().map(|l| l.0).collect::<Vec<_>>(), linux);
        let get = |n: &str| lines.iter().find(|l| l.0 == n).unwrap().1;
        assert_eq!([get("pgfault"), get("oom_kill"), get("nr_kernel_stack"), get("nr_anon_pages")], [1234, 2, 64, 5]);
        // Every event once.
        for e in VmEvent::ALL {
            assert_eq!(lines.iter().filter(|l| l.0 == e.name()).count(), 1, "{e:?}");
        }
    }

    #[test]
    fn pagetypeinfo_and_zoneinfo_have_every_zone() {
        let (node, _) = machine();
        let mut s = String::new();
        pagetypeinfo(&node, &mut s).unwrap();
        assert!(s.contains("Node    0, zone   Normal, type      Movable "));
        assert!(s.contains(
            "Number of blocks type     Unmovable  Reclaimable      Movable      Reserve          CMA      Isolate "
        ));
        let mut z = String::new();
        zoneinfo(&node, &mut z).unwrap();
        assert_eq!(z.matches("Node 0, zone").count(), 4);
        assert!(z.contains("        protection: (0, "));
    }

    #[test]
    fn memmap_picture_counts_free_blocks() {
        let (node, mm) = machine();
        let mut s = String::new();
        memmap(&node, &mm, false, &mut s).unwrap();
        let first = s.lines().next().unwrap();
        // 32 pageblocks: 4 DMA, 20 Normal, 8 HighMem, all free and Movable.
        assert_eq!(first, "0x00000000 MMMM|MMMMMMMMMMMMMMMMMMMM|MMMMMMMM");
        // Use most of one Normal pageblock: its cell turns lower case.
        let got: Vec<u32> = (0..900)
            .map(|_| node.alloc_pages(&mm, crate::mm::gfp::GFP_HIGHUSER_MOVABLE | crate::mm::gfp::Gfp::DMA, 0).unwrap())
            .collect();
        let mut s = String::new();
        memmap(&node, &mm, false, &mut s).unwrap();
        assert!(s.lines().next().unwrap().contains('m'), "{s}");
        for pfn in got {
            node.__free_pages(&mm, pfn, 0);
        }
    }
}
