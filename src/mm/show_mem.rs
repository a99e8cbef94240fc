//! The memory part of an OOM report (Linux 6.1's `__show_mem`,
//! lib/show_mem.c, and `__show_free_areas`, mm/page_alloc.c): the
//! `Mem-Info:` block, the node line, one line per zone with its
//! `lowmem_reserve[]`, the free blocks per order with their migrate types,
//! swap and the page totals.
//!
//! Pure: [`MemInfoSnapshot`] holds the figures (the kernel fills it from
//! its zones and counters, `snapshot`), and `write` lays them out as Linux
//! does, so the host tests compare it with lines of a real report. What
//! this kernel has no mechanism for (page cache, dirty pages, writeback,
//! CMA, bounce buffers, watermark boosting) reads 0, which is what it
//! holds; the lines Linux prints only with a config option this kernel has
//! no counterpart of (`CONFIG_TRANSPARENT_HUGEPAGE`'s `shmem_thp`,
//! `CONFIG_HUGETLB_PAGE`'s hugepages line, `CONFIG_MEMORY_FAILURE`'s
//! hwpoisoned pages) are left out, as Linux built without them does.

#![forbid(unsafe_code)]

use super::buddy::{MigrateType, MAX_ORDER, MIGRATE_TYPES};
use super::mmzone::MAX_NR_ZONES;
use core::fmt::{self, Write};

/// One zone's figures, in pages.
#[derive(Clone, Copy, Debug, Default)]
pub struct ZoneShow {
    pub name: &'static str,
    pub free: u64,
    pub min: u64,
    pub low: u64,
    pub high: u64,
    pub active_anon: u64,
    pub inactive_anon: u64,
    pub unevictable: u64,
    pub present: u64,
    pub managed: u64,
    pub mlocked: u64,
    pub free_pcp: u64,
    /// Free pages on the CMA lists (Linux's `NR_FREE_CMA_PAGES`).
    pub free_cma: u64,
    pub lowmem_reserve: [u64; MAX_NR_ZONES],
    /// Free blocks per order, and which migrate types (this kernel's
    /// `MigrateType` as bits) have some at that order.
    pub nr_free: [u64; MAX_ORDER],
    pub types: [u8; MAX_ORDER],
    pub is_highmem: bool,
    /// Above the allocation's highest zone: Linux 6.1 leaves it out of the
    /// zone lines (`max_zone_idx`), though not out of the page totals.
    pub filtered: bool,
}

/// Everything the report prints, in pages unless named otherwise.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemInfoSnapshot {
    pub zones: [Option<ZoneShow>; MAX_NR_ZONES],
    pub slab_reclaimable: u64,
    pub slab_unreclaimable: u64,
    pub pagetables: u64,
    pub kernel_stack_kb: u64,
    /// kswapd gave up on the node (Linux's `kswapd_failures >=
    /// MAX_RECLAIM_RETRIES`).
    pub all_unreclaimable: bool,
    pub swapcache: u64,
    pub free_swap: u64,
    pub total_swap: u64,
}

/// Linux 6.1's `show_migration_types` letters, in its `enum migratetype`
/// order (U, M, E, H, C, I). This kernel's `Reserve` (2.6.24's
/// MIGRATE_RESERVE) is what MIGRATE_HIGHATOMIC replaced in 4.4: `H`.
const LETTERS: [(MigrateType, char); MIGRATE_TYPES] = [
    (MigrateType::Unmovable, 'U'),
    (MigrateType::Movable, 'M'),
    (MigrateType::Reclaimable, 'E'),
    (MigrateType::Reserve, 'H'),
    (MigrateType::Cma, 'C'),
    (MigrateType::Isolate, 'I'),
];

const fn kb(pages: u64) -> u64 {
    pages * 4
}

impl MemInfoSnapshot {
    fn shown(&self) -> impl Iterator<Item = &ZoneShow> {
        self.zones.iter().flatten()
    }

    /// The report from `Mem-Info:` to `N pages reserved`, one line per
    /// `\n`.
    pub fn write(&self, out: &mut impl Write) -> fmt::Result {
        let sum = |f: fn(&ZoneShow) -> u64| self.shown().map(f).sum::<u64>();
        let (active, inactive, unevictable) =
            (sum(|z| z.active_anon), sum(|z| z.inactive_anon), sum(|z| z.unevictable));
        let free = sum(|z| z.free);
        let free_pcp: u64 = self.shown().filter(|z| !z.filtered).map(|z| z.free_pcp).sum();
        writeln!(out, "Mem-Info:")?;
        writeln!(out, "active_anon:{} inactive_anon:{} isolated_anon:0", active, inactive)?;
        writeln!(out, " active_file:0 inactive_file:0 isolated_file:0")?;
        writeln!(out, " unevictable:{} dirty:0 writeback:0", unevictable)?;
        writeln!(out, " slab_reclaimable:{} slab_unreclaimable:{}", self.slab_reclaimable, self.slab_unreclaimable)?;
        writeln!(out, " mapped:0 shmem:0 pagetables:{}", self.pagetables)?;
        writeln!(out, " sec_pagetables:0 bounce:0")?;
        writeln!(out, " kernel_misc_reclaimable:0")?;
        let free_cma = sum(|z| z.free_cma);
        writeln!(out, " free:{} free_pcp:{} free_cma:{}", free, free_pcp, free_cma)?;
        writeln!(
            out,
            "Node 0 active_anon:{}kB inactive_anon:{}kB active_file:0kB inactive_file:0kB unevictable:{}kB \
             isolated(anon):0kB isolated(file):0kB mapped:0kB dirty:0kB writeback:0kB shmem:0kB \
             writeback_tmp:0kB kernel_stack:{}kB pagetables:{}kB sec_pagetables:0kB all_unreclaimable? {}",
            kb(active),
            kb(inactive),
            kb(unevictable),
            self.kernel_stack_kb,
            kb(self.pagetables),
            if self.all_unreclaimable { "yes" } else { "no" }
        )?;
        for z in self.shown().filter(|z| !z.filtered) {
            writeln!(
                out,
                "{} free:{}kB boost:0kB min:{}kB low:{}kB high:{}kB reserved_highatomic:0KB active_anon:{}kB \
                 inactive_anon:{}kB active_file:0kB inactive_file:0kB unevictable:{}kB writepending:0kB \
                 present:{}kB managed:{}kB mlocked:{}kB bounce:0kB free_pcp:{}kB local_pcp:{}kB free_cma:{}kB",
                z.name,
                kb(z.free),
                kb(z.min),
                kb(z.low),
                kb(z.high),
                kb(z.active_anon),
                kb(z.inactive_anon),
                kb(z.unevictable),
                kb(z.present),
                kb(z.managed),
                kb(z.mlocked),
                kb(z.free_pcp),
                kb(z.free_pcp),
                kb(z.free_cma)
            )?;
            write!(out, "lowmem_reserve[]:")?;
            for r in z.lowmem_reserve {
                write!(out, " {}", r)?;
            }
            writeln!(out)?;
        }
        for z in self.shown().filter(|z| !z.filtered) {
            write!(out, "{}: ", z.name)?;
            let mut total = 0;
            for order in 0..MAX_ORDER {
                write!(out, "{}*{}kB ", z.nr_free[order], kb(1) << order)?;
                total += z.nr_free[order] << order;
                if z.nr_free[order] != 0 {
                    write!(out, "(")?;
                    for (mt, c) in LETTERS {
                        if z.types[order] & (1 << mt as u8) != 0 {
                            out.write_char(c)?;
                        }
                    }
                    write!(out, ") ")?;
                }
            }
            writeln!(out, "= {}kB", kb(total))?;
        }
        writeln!(out, "0 total pagecache pages")?;
        writeln!(out, "{} pages in swap cache", self.swapcache)?;
        writeln!(out, "Free swap  = {}kB", kb(self.free_swap))?;
        writeln!(out, "Total swap = {}kB", kb(self.total_swap))?;
        writeln!(out, "{} pages RAM", sum(|z| z.present))?;
        writeln!(
            out,
            "{} pages HighMem/MovableOnly",
            self.shown().filter(|z| z.is_highmem).map(|z| z.present).sum::<u64>()
        )?;
        writeln!(out, "{} pages reserved", sum(|z| z.present - z.managed))
    }
}

/// The figures of the kernel's node now (`gfp_zone` is the highest zone the
/// failed allocation could use). Each zone's free lists are read under its
/// lock, one zone at a time.
#[cfg(target_os = "none")]
pub fn snapshot(max_zone_idx: usize) -> MemInfoSnapshot {
    use super::mmzone::{node, LruList};
    use super::vmstat::{NR_KERNEL_STACK, NR_PAGETABLE, NR_SWAPCACHE, NR_SWAP_PAGES, TOTAL_SWAP_PAGES};
    use core::sync::atomic::Ordering::Relaxed;
    let n = node();
    let mut s = MemInfoSnapshot::default();
    for (i, z) in n.zones.iter().enumerate() {
        if !z.is_populated() {
            continue;
        }
        // Linux's NR_FREE_PAGES counts the buddy lists only; pages on the
        // pcp list are `free_pcp` (this kernel's free count has both).
        let pcp = z.pcp().count as u64;
        let mut zs = ZoneShow {
            name: z.name(),
            free: z.nr_free_pages().saturating_sub(pcp),
            min: z.watermark(super::mmzone::Watermark::Min),
            low: z.watermark(super::mmzone::Watermark::Low),
            high: z.watermark(super::mmzone::Watermark::High),
            active_anon: z.lru_pages(LruList::ActiveAnon) as u64,
            inactive_anon: z.lru_pages(LruList::InactiveAnon) as u64,
            unevictable: z.lru_pages(LruList::Unevictable) as u64,
            present: z.present,
            managed: z.managed,
            // Only mlocked pages are unevictable here (no ramfs, no SHM_LOCK).
            mlocked: z.lru_pages(LruList::Unevictable) as u64,
            free_pcp: pcp,
            lowmem_reserve: core::array::from_fn(|j| z.lowmem_reserve(j)),
            is_highmem: z.start_pfn() as u64 >= n.max_low_pfn,
            filtered: i > max_zone_idx,
            ..ZoneShow::default()
        };
        {
            let buddy = z.lock();
            zs.free_cma = buddy.cma_free() as u64;
            for order in 0..MAX_ORDER {
                zs.nr_free[order] = buddy.nr_free(order) as u64;
                for mt in MigrateType::ALL {
                    if buddy.nr_free_by_type(order, mt) != 0 {
                        zs.types[order] |= 1 << mt as u8;
                    }
                }
            }
        }
        s.zones[i] = Some(zs);
    }
    let (r, u) = super::slab_common::slab_pages_split();
    s.slab_reclaimable = r as u64;
    s.slab_unreclaimable = u as u64;
    s.pagetables = NR_PAGETABLE.load(Relaxed) as u64;
    s.kernel_stack_kb = (NR_KERNEL_STACK.load(Relaxed) * crate::kernel::sched::THREAD_SIZE / 1024) as u64;
    s.swapcache = NR_SWAPCACHE.load(Relaxed) as u64;
    s.free_swap = NR_SWAP_PAGES.load(Relaxed) as u64;
    s.total_swap = TOTAL_SWAP_PAGES.load(Relaxed) as u64;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &'static str, free_kb: u64, marks_kb: [u64; 3], present_kb: u64, managed_kb: u64) -> ZoneShow {
        ZoneShow {
            name,
            free: free_kb / 4,
            min: marks_kb[0] / 4,
            low: marks_kb[1] / 4,
            high: marks_kb[2] / 4,
            present: present_kb / 4,
            managed: managed_kb / 4,
            ..ZoneShow::default()
        }
    }

    /// The zone, reserve and per-order lines of oom.txt's first report
    /// (i386 Linux 6.1 at -m 2G), from its figures; the LRU, pcp and slab
    /// figures set as there.
    #[test]
    fn zone_lines_match_oom_txt() {
        let u = 1 << MigrateType::Unmovable as u8;
        let m = 1 << MigrateType::Movable as u8;
        let e = 1 << MigrateType::Reclaimable as u8;
        let mut dma = zone("DMA", 8736, [760, 948, 1136], 15992, 15360);
        dma.inactive_anon = 6564 / 4;
        dma.free_pcp = 1;
        dma.lowmem_reserve = [0, 825, 1996, 1996];
        dma.nr_free = [2, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1];
        dma.types = [u | m, m, u, u | m, u, u, u, u | m, m, u, m];
        let mut normal = zone("Normal", 79352, [41868, 52332, 62796], 880632, 844868);
        normal.inactive_anon = 752528 / 4;
        normal.free_pcp = 1228 / 4;
        normal.lowmem_reserve = [0, 0, 9375, 9375];
        normal.nr_free = [2, 2, 2, 2, 0, 3, 2, 3, 3, 0, 18];
        normal.types = [m | e, m | e, u | m, m | e, 0, u | m | e, m | e, u | m | e, u | m | e, 0, m];
        let mut high = zone("HighMem", 4388, [4608, 19508, 34408], 1200008, 1200008);
        high.active_anon = 1788 / 4;
        high.inactive_anon = 1191848 / 4;
        high.free_pcp = 496 / 4;
        high.is_highmem = true;
        high.nr_free = [1, 0, 0, 1, 2, 1, 0, 2, 1, 1, 0];
        high.types = [m, 0, 0, u, u | m, m, 0, u | m, m, u, 0];
        let s = MemInfoSnapshot {
            zones: [Some(dma), Some(normal), Some(high), None],
            slab_reclaimable: 1489,
            slab_unreclaimable: 791,
            pagetables: 478,
            kernel_stack_kb: 376,
            all_unreclaimable: true,
            ..MemInfoSnapshot::default()
        };
        let mut out = String::new();
        s.write(&mut out).unwrap();
        let want = [
            "DMA free:8736kB boost:0kB min:760kB low:948kB high:1136kB reserved_highatomic:0KB active_anon:0kB inactive_anon:6564kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB present:15992kB managed:15360kB mlocked:0kB bounce:0kB free_pcp:4kB local_pcp:4kB free_cma:0kB",
            "lowmem_reserve[]: 0 825 1996 1996",
            "Normal free:79352kB boost:0kB min:41868kB low:52332kB high:62796kB reserved_highatomic:0KB active_anon:0kB inactive_anon:752528kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB present:880632kB managed:844868kB mlocked:0kB bounce:0kB free_pcp:1228kB local_pcp:1228kB free_cma:0kB",
            "lowmem_reserve[]: 0 0 9375 9375",
            "DMA: 2*4kB (UM) 1*8kB (M) 1*16kB (U) 2*32kB (UM) 1*64kB (U) 1*128kB (U) 1*256kB (U) 2*512kB (UM) 1*1024kB (M) 1*2048kB (U) 1*4096kB (M) = 8736kB",
            "Normal: 2*4kB (ME) 2*8kB (ME) 2*16kB (UM) 2*32kB (ME) 0*64kB 3*128kB (UME) 2*256kB (ME) 3*512kB (UME) 3*1024kB (UME) 0*2048kB 18*4096kB (M) = 79352kB",
            "HighMem: 1*4kB (M) 0*8kB 0*16kB 1*32kB (U) 2*64kB (UM) 1*128kB (M) 0*256kB 2*512kB (UM) 1*1024kB (M) 1*2048kB (U) 0*4096kB = 4388kB",
            "0 pages in swap cache",
            "Free swap  = 0kB",
            "Total swap = 0kB",
            "524158 pages RAM",
            "300002 pages HighMem/MovableOnly",
            "9099 pages reserved",
            " slab_reclaimable:1489 slab_unreclaimable:791",
            " sec_pagetables:0 bounce:0",
            "Mem-Info:",
        ];
        let lines: Vec<&str> = out.lines().collect();
        for w in want {
            assert!(lines.contains(&w), "missing {:?} in\n{}", w, out);
        }
        // In Linux's order.
        let at = |p: &str| lines.iter().position(|l| l.starts_with(p)).unwrap();
        assert!(at("Mem-Info:") < at("active_anon:") && at("active_anon:") < at("Node 0 "));
        assert!(
            at("Node 0 ") < at("DMA free:")
                && at("DMA free:") < at("Normal free:")
                && at("HighMem free:") < at("DMA: ")
        );
        assert!(at("HighMem: ") < at("0 total pagecache") && at("Total swap") < at("524158 pages RAM"));
        // Linux summed its per-CPU counters a moment apart (487729 there).
        assert_eq!(lines[1], "active_anon:447 inactive_anon:487735 isolated_anon:0");
        assert!(lines[8].starts_with(" free:23119 free_pcp:432 free_cma:0"), "{}", lines[8]);
        assert!(
            lines[9].starts_with("Node 0 active_anon:1788kB inactive_anon:1950940kB active_file:0kB"),
            "{}",
            lines[9]
        );
        assert!(lines[9].ends_with("kernel_stack:376kB pagetables:1912kB sec_pagetables:0kB all_unreclaimable? yes"));
    }

    /// A GFP_KERNEL failure (highest zone Normal) shows no HighMem lines,
    /// but HighMem still counts in the page totals, as in Linux 6.1.
    #[test]
    fn zones_above_the_allocation_are_left_out() {
        let mut high = zone("HighMem", 400, [4, 8, 12], 8000, 8000);
        high.is_highmem = true;
        high.filtered = true;
        high.free_pcp = 7;
        let s = MemInfoSnapshot {
            zones: [None, Some(zone("Normal", 40, [4, 8, 12], 4000, 3600)), Some(high), None],
            ..Default::default()
        };
        let mut out = String::new();
        s.write(&mut out).unwrap();
        assert!(!out.contains("HighMem free:") && !out.contains("HighMem: "), "{}", out);
        assert!(out.contains(" free:110 free_pcp:0 free_cma:0\n"), "{}", out);
        assert!(out.contains("\n3000 pages RAM\n2000 pages HighMem/MovableOnly\n100 pages reserved\n"), "{}", out);
    }

    /// free_cma counts the CMA lists, in the header (pages, every zone) and
    /// in each zone's line (kB).
    #[test]
    fn free_cma_is_the_cma_lists() {
        let mut normal = zone("Normal", 400, [4, 8, 12], 4000, 3600);
        normal.free_cma = 64;
        let s = MemInfoSnapshot { zones: [None, Some(normal), None, None], ..Default::default() };
        let mut out = String::new();
        s.write(&mut out).unwrap();
        assert!(out.contains(" free:100 free_pcp:0 free_cma:64\n"), "{}", out);
        assert!(out.contains("local_pcp:0kB free_cma:256kB\n"), "{}", out);
    }
}
