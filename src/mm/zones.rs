//! Sizing the machine: where lowmem ends and the zones lie (Linux i386's
//! `find_low_pfn_range`, `initmem_init` and `zone_sizes_init`).
//!
//! A 32-bit kernel can keep only 896 MB of physical memory permanently mapped
//! (the direct map at `PAGE_OFFSET`); memory above that is HIGHMEM, reachable
//! only through temporary mappings. So the first thing the kernel decides
//! from the memory map is `max_pfn` (the end of RAM) and `max_low_pfn` (the
//! end of lowmem), and from those the zones:
//!
//! ```text
//!  pfn 0      16 MB              max_low_pfn (<= 896 MB)        max_pfn (<= 4 GB)
//!   |  DMA     |      Normal         |          HighMem            |
//!                                               | Movable (kernelcore=) |
//! ```
//!
//! Boot options bend this, as in Linux: `mem=` cuts RAM at an address,
//! `highmem=` sets the size of HighMem exactly (even on a small machine, so
//! labs and CI can exercise highmem cheaply; on a big one it leaves the RAM
//! beyond lowmem + highmem unused), `kernelcore=` keeps that much memory for
//! unmovable allocations and turns the rest of the highest zone into
//! ZONE_MOVABLE. A bad value is never fatal: it yields a [`Note`] that names
//! it and says what was done instead. Unlike Linux, a `highmem=` that would
//! leave less than 64 MB of lowmem is clamped rather than ignored, so the
//! user still gets the most highmem the rule allows.
//!
//! As Linux does, the first page is never counted as RAM (it holds the
//! real-mode interrupt table and BIOS data), and usable ranges shrink to
//! whole pages. Non-PAE paging reaches only 4 GB: RAM above it is dropped.

#![forbid(unsafe_code)]

use core::fmt;

use super::mmzone::{ZoneType, MAX_NR_ZONES};
use crate::kernel::e820::{MemMap, MemType};
use crate::layout::{self, PAGE_SHIFT};

/// End of the direct map, as a frame number (896 MB).
pub const MAXMEM_PFN: u64 = (layout::MAXMEM as u64) >> PAGE_SHIFT;
/// End of ZONE_DMA (16 MB, what ISA DMA reaches).
pub const MAX_DMA_PFN: u64 = (layout::MAX_DMA_ADDRESS as u64) >> PAGE_SHIFT;
/// `highmem=` never shrinks lowmem below this.
pub const MIN_LOWMEM: u64 = 64 << 20;
pub const MIN_LOWMEM_PFN: u64 = MIN_LOWMEM >> PAGE_SHIFT;
/// Smallest `mem=` accepted: the smallest machine that boots (GRUB needs
/// 5 MB to load the kernel, and `-m 5M` runs it, `ktest` included).
pub const MIN_MEM: u64 = 5 << 20;
/// Non-PAE paging addresses 4 GB of physical memory.
pub const MAX_NONPAE_PFN: u64 = 1 << (32 - PAGE_SHIFT);
/// ZONE_MOVABLE starts on a boundary of the largest buddy block (order 10).
pub const MAX_ORDER_NR_PAGES: u64 = 1 << (super::buddy::MAX_ORDER - 1);

const _: () = assert!(MAX_DMA_PFN < MIN_LOWMEM_PFN && MIN_LOWMEM_PFN < MAXMEM_PFN);
const _: () = assert!(MAXMEM_PFN < MAX_NONPAE_PFN);

/// Boot options that size memory, already parsed (`memparse` values, bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemOptions {
    /// `mem=`: ignore usable RAM at and above this address.
    pub mem_limit: Option<u64>,
    /// `highmem=`: exact size of ZONE_HIGHMEM.
    pub highmem: Option<u64>,
    /// `kernelcore=`: memory kept for unmovable allocations.
    pub kernelcore: Option<u64>,
    /// `vmalloc=`: size of the vmalloc area; a larger one takes address
    /// space from the direct map, so lowmem shrinks (Linux's i386 rule).
    pub vmalloc: Option<u64>,
}

/// The vmalloc area with 896 MB of lowmem: from 8 MB above the direct map
/// to `VMALLOC_END`.
pub const DEFAULT_VMALLOC: u64 = (layout::VMALLOC_END - layout::VMALLOC_START_MIN) as u64;

/// The end of lowmem that `vmalloc=` leaves (Linux's `MAXMEM =
/// VMALLOC_END - PAGE_OFFSET - __VMALLOC_RESERVE`), with a note when the
/// value cannot be honoured.
fn lowmem_limit(vmalloc: Option<u64>, notes: &mut Notes) -> u64 {
    let Some(size) = vmalloc else { return MAXMEM_PFN };
    let space = (layout::VMALLOC_END - layout::PAGE_OFFSET - layout::VMALLOC_OFFSET) as u64;
    if size < DEFAULT_VMALLOC {
        notes.push(Note::VmallocBelowDefault { vmalloc: Size(size) });
        return MAXMEM_PFN;
    }
    match space.checked_sub(size) {
        Some(low) if low >> PAGE_SHIFT >= MIN_LOWMEM_PFN => (low >> PAGE_SHIFT).min(MAXMEM_PFN),
        _ => {
            let area_mb = space.saturating_sub(MIN_LOWMEM) >> 20;
            notes.push(Note::VmallocTooBig { vmalloc: Size(size), area_mb });
            MIN_LOWMEM_PFN
        }
    }
}

/// Where boot sizing puts one zone: `[start_pfn, start_pfn + spanned_pages)`,
/// of which `present_pages` are RAM (the rest are holes). The live zone,
/// with its free lists, is `mmzone::Zone`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneSpan {
    pub kind: ZoneType,
    pub start_pfn: u64,
    pub spanned_pages: u64,
    pub present_pages: u64,
}

impl ZoneSpan {
    pub fn end_pfn(&self) -> u64 {
        self.start_pfn + self.spanned_pages
    }
}

/// The machine as the page allocator will see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneLayout {
    /// DMA, Normal, HighMem, Movable: ordered and contiguous, empty ones
    /// included. With ZONE_MOVABLE, the zone it was carved from ends where
    /// it starts.
    pub zones: [ZoneSpan; MAX_NR_ZONES],
    /// First frame of RAM.
    pub min_pfn: u64,
    /// End of lowmem (the direct map).
    pub max_low_pfn: u64,
    /// End of RAM.
    pub max_pfn: u64,
    /// Start of ZONE_MOVABLE, if `kernelcore=` made one.
    pub movable_start_pfn: Option<u64>,
    /// What each zone may hold before ZONE_MOVABLE is carved out, as
    /// `[start, end)` frames (Linux's `arch_zone_*_possible_pfn`, printed
    /// under "Zone ranges:").
    pub arch_ranges: [(u64, u64); 3],
    /// Virtual address just past the direct map.
    pub high_memory: usize,
    /// Frames of RAM (before boot reservations).
    pub totalram_pages: u64,
    /// Frames of RAM in highmem.
    pub totalhigh_pages: u64,
}

impl ZoneLayout {
    pub fn zone(&self, kind: ZoneType) -> &ZoneSpan {
        &self.zones[kind as usize]
    }

    /// The zone whose span holds `pfn`, holes and reserved frames included
    /// (the zone Linux's `memmap_init_zone` writes into every descriptor).
    /// Frames below the first zone (frame 0) count as DMA, those above the
    /// last as the highest populated zone's.
    pub fn zone_at(&self, pfn: u64) -> ZoneType {
        self.zones.iter().rev().find(|z| z.spanned_pages != 0 && z.start_pfn <= pfn).map_or(ZoneType::Dma, |z| z.kind)
    }
}

/// A boot option's value, shown as the user would write it: `3G`, `512M`, `64K`, bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("0"),
            v if v % (1 << 40) == 0 => write!(f, "{}T", v >> 40),
            v if v % (1 << 30) == 0 => write!(f, "{}G", v >> 30),
            v if v % (1 << 20) == 0 => write!(f, "{}M", v >> 20),
            v if v % (1 << 10) == 0 => write!(f, "{}K", v >> 10),
            v => write!(f, "{v}"),
        }
    }
}

/// Whole megabytes in a number of pages (Linux's `pages_to_mb`, rounding down).
pub fn pages_to_mb(pages: u64) -> u64 {
    pages >> (20 - PAGE_SHIFT)
}

/// A number of pages as an exact size: `1983M` when it is whole megabytes,
/// otherwise in kilobytes (`896K`, `917376K`), as Linux's `Memory:` line
/// gives sizes: exact, and never a long decimal fraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PagesSize(pub u64);

impl fmt::Display for PagesSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const PER_MB: u64 = 1 << (20 - PAGE_SHIFT);
        if self.0.is_multiple_of(PER_MB) {
            write!(f, "{}M", self.0 / PER_MB)
        } else {
            write!(f, "{}K", self.0 << (PAGE_SHIFT - 10))
        }
    }
}

fn pages_size(pages: u64) -> PagesSize {
    PagesSize(pages)
}

/// Something the user asked for that could not be done as asked, or memory
/// the kernel cannot use. Each message names the value and what was done
/// instead; `*_mb` fields are whole megabytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    MemTooSmall {
        mem: Size,
    },
    /// No RAM at or above `mem=`: it cuts nothing. `ram_mb` is where RAM ends.
    MemAboveRam {
        mem: Size,
        ram_mb: u64,
    },
    Above4G {
        mb: u64,
    },
    HighmemTooBig {
        highmem: Size,
        ram_mb: u64,
        high: PagesSize,
    },
    HighmemLowmemSmall {
        highmem: Size,
        low_mb: u64,
        high: PagesSize,
    },
    HighmemNoRoom {
        highmem: Size,
        ram_mb: u64,
    },
    /// `lowmem_mb`: where lowmem ends (896M, less with `vmalloc=`), rounded
    /// down as the `LOWMEM available` line prints it.
    HighmemTrimsRam {
        highmem: Size,
        unused: PagesSize,
        end: PagesSize,
        lowmem_mb: u64,
    },
    KernelcoreZero {
        kc: Size,
    },
    KernelcoreTooBig {
        kc: Size,
        ram_mb: u64,
    },
    KernelcoreBelowLower {
        kc: Size,
        kept_mb: u64,
        zone: ZoneType,
    },
    KernelcoreNoMovable {
        kc: Size,
    },
    VmallocBelowDefault {
        vmalloc: Size,
    },
    /// `area_mb`: the vmalloc area that results, as the boot layout prints it.
    VmallocTooBig {
        vmalloc: Size,
        area_mb: u64,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (min_mem, min_low) = (Size(MIN_MEM), Size(MIN_LOWMEM));
        let (maxmem, movable_min) = (pages_to_mb(MAXMEM_PFN), pages_to_mb(MAX_ORDER_NR_PAGES));
        match *self {
            Note::MemTooSmall { mem } => {
                write!(f, "mem={mem} is too small (needs at least {min_mem}); ignored")
            }
            Note::MemAboveRam { mem, ram_mb } => {
                write!(f, "mem={mem} is not below the end of RAM at {ram_mb}M: nothing to cut; ignored")
            }
            Note::Above4G { mb } => {
                write!(f, "{mb}MB of RAM above 4GB ignored: non-PAE kernel cannot address it")
            }
            Note::HighmemTooBig { highmem, ram_mb, high } => write!(
                f,
                "highmem={highmem} is more than the {ram_mb}M of RAM; \
                 clamped to {high} (lowmem needs at least {min_low})"
            ),
            Note::HighmemLowmemSmall { highmem, low_mb, high } => write!(
                f,
                "highmem={highmem} would leave {low_mb}M of lowmem \
                 (needs at least {min_low}); clamped to {high}"
            ),
            Note::HighmemNoRoom { highmem, ram_mb } => write!(
                f,
                "highmem={highmem} ignored: all {ram_mb}M of RAM is needed as lowmem \
                 (at least {min_low})"
            ),
            Note::HighmemTrimsRam { highmem, unused, end, lowmem_mb } => write!(
                f,
                "highmem={highmem} leaves {unused} of RAM unused: lowmem is full at \
                 {lowmem_mb}M, so RAM above {end} is ignored"
            ),
            Note::KernelcoreZero { kc } => {
                write!(f, "kernelcore={kc} leaves no memory for the kernel; ignored (no ZONE_MOVABLE)")
            }
            Note::KernelcoreTooBig { kc, ram_mb } => {
                write!(f, "kernelcore={kc} is not less than the {ram_mb}M of RAM; ignored (no ZONE_MOVABLE)")
            }
            Note::KernelcoreBelowLower { kc, kept_mb, zone } => write!(
                f,
                "kernelcore={kc} is less than the {kept_mb}M below {}, which cannot be movable; \
                 using {kept_mb}M",
                zone.name()
            ),
            Note::KernelcoreNoMovable { kc } => {
                write!(f, "kernelcore={kc} leaves less than {movable_min}M movable; no ZONE_MOVABLE")
            }
            Note::VmallocBelowDefault { vmalloc } => write!(
                f,
                "vmalloc={vmalloc} is below the default {}M: ignored (the lowmem limit stays at {maxmem}M, \
                 the vmalloc area keeps its size)",
                DEFAULT_VMALLOC >> 20
            ),
            Note::VmallocTooBig { vmalloc, area_mb } => write!(
                f,
                "vmalloc={vmalloc} would leave less than {min_low} of lowmem; lowmem kept at {min_low}, \
                 the vmalloc area is {area_mb}M"
            ),
        }
    }
}

pub const MAX_NOTES: usize = 8;

/// The notes of one sizing, in the order they arose (one per option at most).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Notes {
    notes: [Option<Note>; MAX_NOTES],
    len: usize,
}

impl Notes {
    fn push(&mut self, n: Note) {
        if let Some(slot) = self.notes.get_mut(self.len) {
            *slot = Some(n);
            self.len += 1;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Note> {
        self.notes[..self.len].iter().flatten()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Usable ranges as whole frames, never frame 0.
fn usable_pfns(map: &MemMap) -> impl Iterator<Item = (u64, u64)> + '_ {
    map.entries()
        .iter()
        .filter(|r| r.kind == MemType::Usable)
        .map(|r| (r.start.div_ceil(1 << PAGE_SHIFT).max(1), r.end >> PAGE_SHIFT))
        .filter(|(s, e)| s < e)
}

/// Frames of RAM in `[lo, hi)`.
fn ram_pages(map: &MemMap, lo: u64, hi: u64) -> u64 {
    usable_pfns(map).map(|(s, e)| e.min(hi).saturating_sub(s.max(lo))).sum()
}

/// The frame at which `n` frames of RAM from `from` have been passed.
fn pfn_after(map: &MemMap, from: u64, max_pfn: u64, mut n: u64) -> u64 {
    for (s, e) in usable_pfns(map) {
        let (s, e) = (s.max(from), e.min(max_pfn));
        if s < e {
            if e - s >= n {
                return s + n;
            }
            n -= e - s;
        }
    }
    max_pfn
}

/// Size lowmem, highmem and the zones from the memory map and the options.
pub fn size_zones(map: &MemMap, opts: &MemOptions) -> (ZoneLayout, Notes) {
    let mut notes = Notes::default();
    let mb = pages_to_mb;
    let ram_end = usable_pfns(map).map(|(_, e)| e).max().unwrap_or(0);

    // mem=: a ceiling on RAM, as an address; then the 4 GB non-PAE ceiling.
    let mut ceiling = u64::MAX;
    if let Some(mem) = opts.mem_limit {
        if mem < MIN_MEM {
            notes.push(Note::MemTooSmall { mem: Size(mem) });
        } else if mem >> PAGE_SHIFT >= ram_end {
            let ram_mb = mb(ram_end);
            notes.push(Note::MemAboveRam { mem: Size(mem), ram_mb });
        } else {
            ceiling = mem >> PAGE_SHIFT;
        }
    }
    if ceiling > MAX_NONPAE_PFN {
        let lost = ram_pages(map, MAX_NONPAE_PFN, ceiling);
        if lost > 0 {
            notes.push(Note::Above4G { mb: mb(lost) });
        }
        ceiling = MAX_NONPAE_PFN;
    }
    let below_ceiling = |(s, e): (u64, u64)| if s < ceiling { e.min(ceiling) } else { 0 };
    let mut max_pfn = usable_pfns(map).map(below_ceiling).max().unwrap_or(0);

    // highmem=: the size of HighMem, keeping lowmem within 64 MB .. 896 MB.
    let maxmem_pfn = lowmem_limit(opts.vmalloc, &mut notes);
    let mut max_low_pfn = max_pfn.min(maxmem_pfn);
    if let Some(bytes) = opts.highmem {
        let (h, highmem) = (bytes >> PAGE_SHIFT, Size(bytes));
        let ram_mb = mb(max_pfn);
        if max_pfn <= MIN_LOWMEM_PFN {
            if h > 0 {
                notes.push(Note::HighmemNoRoom { highmem, ram_mb });
            }
        } else if max_pfn.saturating_sub(h) < MIN_LOWMEM_PFN {
            // The most highmem that leaves 64 MB of lowmem, in whole
            // megabytes, so the size the note gives is the size HighMem gets.
            let whole_mb = (max_pfn - MIN_LOWMEM_PFN) & !((1 << (20 - PAGE_SHIFT)) - 1);
            max_low_pfn = (max_pfn - whole_mb).min(maxmem_pfn);
            let high = pages_size(max_pfn - max_low_pfn);
            notes.push(match max_pfn.checked_sub(h) {
                Some(low) if low > 0 => Note::HighmemLowmemSmall { highmem, low_mb: mb(low), high },
                _ => Note::HighmemTooBig { highmem, ram_mb, high },
            });
        } else if max_pfn - h > maxmem_pfn {
            // As Linux: highmem= also shrinks highmem on a big machine.
            let end = maxmem_pfn + h;
            let (unused, end_size) = (pages_size(ram_pages(map, end, max_pfn)), pages_size(end));
            notes.push(Note::HighmemTrimsRam { highmem, unused, end: end_size, lowmem_mb: mb(maxmem_pfn) });
            (max_pfn, max_low_pfn) = (end, maxmem_pfn);
        } else {
            max_low_pfn = max_pfn - h;
        }
    }
    let min_pfn = usable_pfns(map).map(|(s, _)| s).find(|&s| s < max_pfn).unwrap_or(max_pfn);

    // What each zone may hold, each starting where the one below ends.
    let dma = (min_pfn, MAX_DMA_PFN.min(max_low_pfn).max(min_pfn));
    let normal = (dma.1, max_low_pfn.max(dma.1));
    let arch_ranges = [dma, normal, (normal.1, max_pfn.max(normal.1))];

    let totalram_pages = ram_pages(map, min_pfn, max_pfn);
    let movable_start_pfn =
        opts.kernelcore.and_then(|kc| movable_start(map, &arch_ranges, max_pfn, totalram_pages, kc, &mut notes));
    let movable = movable_start_pfn.unwrap_or(max_pfn);
    let zones = ZoneType::ALL.map(|kind| {
        let (start, end) = match kind {
            ZoneType::Movable => (movable, max_pfn),
            _ => {
                let (s, e) = arch_ranges[kind as usize];
                (s.min(movable), e.min(movable))
            }
        };
        let present = ram_pages(map, start, end);
        ZoneSpan { kind, start_pfn: start, spanned_pages: end - start, present_pages: present }
    });

    let layout = ZoneLayout {
        zones,
        min_pfn,
        max_low_pfn,
        max_pfn,
        movable_start_pfn,
        arch_ranges,
        high_memory: layout::phys_to_virt((max_low_pfn << PAGE_SHIFT) as usize),
        totalram_pages,
        totalhigh_pages: ram_pages(map, max_low_pfn, max_pfn),
    };
    (layout, notes)
}

/// Where ZONE_MOVABLE starts for `kernelcore=` (Linux's
/// `find_zone_movable_pfns_for_nodes`): it is carved from the top of the
/// highest populated zone; all memory in the zones below stays kernel memory.
fn movable_start(
    map: &MemMap,
    arch_ranges: &[(u64, u64); 3],
    max_pfn: u64,
    total: u64,
    bytes: u64,
    notes: &mut Notes,
) -> Option<u64> {
    let (k, kc) = (bytes >> PAGE_SHIFT, Size(bytes));
    if k == 0 {
        notes.push(Note::KernelcoreZero { kc });
        return None;
    }
    if k >= total {
        notes.push(Note::KernelcoreTooBig { kc, ram_mb: pages_to_mb(total) });
        return None;
    }
    let z = (0..3).rev().find(|&z| arch_ranges[z].0 < arch_ranges[z].1)?;
    let zone_start = arch_ranges[z].0;
    let below = ram_pages(map, 0, zone_start);
    let start = if below >= k {
        if below > k {
            let (kept_mb, zone) = (pages_to_mb(below), ZoneType::ALL[z]);
            notes.push(Note::KernelcoreBelowLower { kc, kept_mb, zone });
        }
        zone_start
    } else {
        pfn_after(map, zone_start, max_pfn, k - below)
    };
    let start = start.div_ceil(MAX_ORDER_NR_PAGES) * MAX_ORDER_NR_PAGES;
    if start >= max_pfn {
        notes.push(Note::KernelcoreNoMovable { kc });
        return None;
    }
    Some(start)
}

/// One of Linux's boot lines about memory sizing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneLine {
    /// `1151MB HIGHMEM available.`
    HighmemAvailable { pages: u64 },
    /// `896MB LOWMEM available.`
    LowmemAvailable { pages: u64 },
    /// `Zone ranges:`
    RangesHeader,
    /// `  DMA      [mem 0x0000000000001000-0x0000000000ffffff]` or `  HighMem  empty`.
    Range { zone: ZoneType, pfns: (u64, u64) },
    /// `Movable zone start for each node`
    MovableHeader,
    /// `  Node 0: 0x0000000040400000`
    MovableNode { nid: u32, pfn: u64 },
}

impl fmt::Display for ZoneLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ZoneLine::HighmemAvailable { pages } => {
                write!(f, "{}MB HIGHMEM available.", pages_to_mb(pages))
            }
            ZoneLine::LowmemAvailable { pages } => {
                write!(f, "{}MB LOWMEM available.", pages_to_mb(pages))
            }
            ZoneLine::RangesHeader => f.write_str("Zone ranges:"),
            ZoneLine::Range { zone, pfns: (s, e) } if s >= e => {
                write!(f, "  {:<8} empty", zone.name())
            }
            ZoneLine::Range { zone, pfns: (s, e) } => {
                write!(f, "  {:<8} [mem {:#018x}-{:#018x}]", zone.name(), s << PAGE_SHIFT, (e << PAGE_SHIFT) - 1)
            }
            ZoneLine::MovableHeader => f.write_str("Movable zone start for each node"),
            ZoneLine::MovableNode { nid, pfn } => {
                write!(f, "  Node {nid}: {:#018x}", pfn << PAGE_SHIFT)
            }
        }
    }
}

/// `NNNMB HIGHMEM available.` and `NNNMB LOWMEM available.` (`initmem_init`).
pub fn available_lines(l: &ZoneLayout) -> [ZoneLine; 2] {
    let high = l.max_pfn.saturating_sub(l.max_low_pfn);
    [ZoneLine::HighmemAvailable { pages: high }, ZoneLine::LowmemAvailable { pages: l.max_low_pfn }]
}

/// The `Zone ranges:` block and the movable zone start (`free_area_init`).
pub fn zone_ranges_lines(l: &ZoneLayout) -> impl Iterator<Item = ZoneLine> {
    let r = |i: usize| Some(ZoneLine::Range { zone: ZoneType::ALL[i], pfns: l.arch_ranges[i] });
    let node = l.movable_start_pfn.map(|pfn| ZoneLine::MovableNode { nid: 0, pfn });
    let lines = [Some(ZoneLine::RangesHeader), r(0), r(1), r(2), Some(ZoneLine::MovableHeader), node];
    lines.into_iter().flatten()
}

#[cfg(test)]
mod tests;
