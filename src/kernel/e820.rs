//! The firmware memory map, made trustworthy (Linux's arch/x86/kernel/e820.c,
//! `sanitize_e820_table`).
//!
//! BIOSes and boot loaders hand over maps that are unsorted, overlapping, or
//! hold zero-length entries. Everything after boot relies on a map that is
//! sorted, has no overlaps and no empty entries, and merges neighbours of the
//! same type. Where entries overlap, the more restrictive type wins (the
//! larger E820 type number: reserved beats usable), so memory the firmware
//! claims in any entry is never handed out.

#![forbid(unsafe_code)]

use core::fmt;

/// E820 memory types (multiboot2 uses the same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MemType {
    Usable,
    Reserved,
    AcpiData,
    AcpiNvs,
    Unusable,
    /// Any other value a firmware reports: treated as reserved.
    Other(u32),
}

impl MemType {
    pub fn from_e820(t: u32) -> MemType {
        match t {
            1 => MemType::Usable,
            2 => MemType::Reserved,
            3 => MemType::AcpiData,
            4 => MemType::AcpiNvs,
            5 => MemType::Unusable,
            t => MemType::Other(t),
        }
    }

    /// Priority in overlaps: the larger wins; unknown types count as reserved.
    fn rank(self) -> u32 {
        match self {
            MemType::Usable => 1,
            MemType::Reserved | MemType::Other(_) => 2,
            MemType::AcpiData => 3,
            MemType::AcpiNvs => 4,
            MemType::Unusable => 5,
        }
    }
}

impl fmt::Display for MemType {
    /// As Linux prints it after `BIOS-e820: [mem ...]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemType::Usable => f.write_str("usable"),
            MemType::Reserved => f.write_str("reserved"),
            MemType::AcpiData => f.write_str("ACPI data"),
            MemType::AcpiNvs => f.write_str("ACPI NVS"),
            MemType::Unusable => f.write_str("unusable"),
            MemType::Other(t) => write!(f, "type {t}"),
        }
    }
}

/// A range of physical memory, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub start: u64,
    pub end: u64,
    pub kind: MemType,
}

impl Region {
    pub const EMPTY: Region = Region { start: 0, end: 0, kind: MemType::Reserved };

    pub fn new(start: u64, len: u64, kind: MemType) -> Region {
        Region { start, end: start.saturating_add(len), kind }
    }

    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Most entries kept; Linux's E820_MAX_ENTRIES is 128 as well.
pub const MAX_ENTRIES: usize = 128;

/// A sanitized memory map: sorted, disjoint, non-empty, neighbours merged.
#[derive(Clone)]
pub struct MemMap {
    entries: [Region; MAX_ENTRIES],
    len: usize,
    /// Raw entries that could not be taken (more than MAX_ENTRIES given).
    pub dropped: usize,
}

impl MemMap {
    pub const fn new() -> MemMap {
        MemMap { entries: [Region::EMPTY; MAX_ENTRIES], len: 0, dropped: 0 }
    }

    pub fn entries(&self) -> &[Region] {
        &self.entries[..self.len]
    }

    /// Build the sanitized map from raw firmware entries in any order.
    pub fn sanitize(raw: &[Region]) -> MemMap {
        let mut map = MemMap::new();
        let mut input = [Region::EMPTY; MAX_ENTRIES];
        let mut n = 0;
        for r in raw {
            if r.is_empty() {
                continue;
            }
            if n == MAX_ENTRIES {
                map.dropped += 1;
                continue;
            }
            input[n] = *r;
            n += 1;
        }
        let input = &input[..n];

        // Every start and end is a point where the covering set may change.
        let mut points = [0u64; 2 * MAX_ENTRIES];
        for (i, r) in input.iter().enumerate() {
            points[2 * i] = r.start;
            points[2 * i + 1] = r.end;
        }
        let points = &mut points[..2 * n];
        points.sort_unstable();

        let mut prev: Option<u64> = None;
        for &p in points.iter() {
            if let Some(start) = prev {
                if p > start {
                    // The most restrictive type covering [start, p), if any.
                    let kind = input
                        .iter()
                        .filter(|r| r.start <= start && r.end >= p)
                        .map(|r| r.kind)
                        .max_by_key(|k| k.rank());
                    if let Some(kind) = kind {
                        map.append(Region { start, end: p, kind });
                    }
                }
            }
            prev = Some(p);
        }
        map
    }

    fn append(&mut self, r: Region) {
        if let Some(last) = self.entries[..self.len].last_mut() {
            if last.end == r.start && last.kind == r.kind {
                last.end = r.end;
                return;
            }
        }
        // There are at most 2n-1 intervals, but merging keeps us within
        // MAX_ENTRIES in every map firmware produces; past that, drop.
        if self.len == MAX_ENTRIES {
            self.dropped += 1;
            return;
        }
        self.entries[self.len] = r;
        self.len += 1;
    }

    /// Total bytes of a given type.
    pub fn total(&self, kind: MemType) -> u64 {
        self.entries().iter().filter(|r| r.kind == kind).map(|r| r.len()).sum()
    }
}

impl Default for MemMap {
    fn default() -> Self {
        Self::new()
    }
}

/// One line of the boot log, as Linux prints the firmware map:
/// `BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable`.
pub struct E820Line<'a>(pub &'a Region);

impl fmt::Display for E820Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BIOS-e820: [mem {:#018x}-{:#018x}] {}", self.0.start, self.0.end - 1, self.0.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const U: MemType = MemType::Usable;
    const R: MemType = MemType::Reserved;

    fn r(start: u64, end: u64, kind: MemType) -> Region {
        Region { start, end, kind }
    }

    /// What QEMU's BIOS reports at -m 2G (as a real Linux logs it).
    fn qemu_2g() -> Vec<Region> {
        vec![
            r(0, 0x9fc00, U),
            r(0x9fc00, 0xa0000, R),
            r(0xf0000, 0x100000, R),
            r(0x100000, 0x7ffe0000, U),
            r(0x7ffe0000, 0x80000000, R),
            r(0xfffc0000, 0x1_0000_0000, R),
        ]
    }

    #[test]
    fn clean_map_is_unchanged() {
        let m = MemMap::sanitize(&qemu_2g());
        assert_eq!(m.entries(), &qemu_2g()[..]);
        assert_eq!(m.total(U), 0x9fc00 + 0x7fee0000);
    }

    #[test]
    fn unsorted_input_is_sorted() {
        let mut raw = qemu_2g();
        raw.reverse();
        raw.swap(1, 4);
        assert_eq!(MemMap::sanitize(&raw).entries(), &qemu_2g()[..]);
    }

    #[test]
    fn zero_length_entries_vanish() {
        let raw = vec![r(0x1000, 0x1000, R), r(0, 0x9fc00, U), r(0x500000, 0x500000, U)];
        assert_eq!(MemMap::sanitize(&raw).entries(), &[r(0, 0x9fc00, U)]);
    }

    #[test]
    fn reserved_wins_overlaps() {
        let raw = vec![r(0, 0x10000, U), r(0x8000, 0x9000, R), r(0x8800, 0x20000, U)];
        assert_eq!(MemMap::sanitize(&raw).entries(), &[r(0, 0x8000, U), r(0x8000, 0x9000, R), r(0x9000, 0x20000, U)]);
    }

    #[test]
    fn same_type_neighbours_and_duplicates_merge() {
        let raw = vec![r(0, 0x1000, U), r(0x1000, 0x2000, U), r(0, 0x2000, U), r(0x2000, 0x3000, R)];
        assert_eq!(MemMap::sanitize(&raw).entries(), &[r(0, 0x2000, U), r(0x2000, 0x3000, R)]);
    }

    #[test]
    fn end_past_4g_saturates() {
        let m = MemMap::sanitize(&[Region::new(u64::MAX - 10, 100, U)]);
        assert_eq!(m.entries(), &[r(u64::MAX - 10, u64::MAX, U)]);
    }

    #[test]
    fn linux_log_format() {
        let line = format!("{}", E820Line(&r(0, 0x9fc00, U)));
        assert_eq!(line, "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable");
        let line = format!("{}", E820Line(&r(0xfffc0000, 0x1_0000_0000, R)));
        assert_eq!(line, "BIOS-e820: [mem 0x00000000fffc0000-0x00000000ffffffff] reserved");
    }

    fn kind() -> impl Strategy<Value = MemType> {
        (1u32..7).prop_map(MemType::from_e820)
    }

    proptest! {
        /// Output is sorted, disjoint and non-empty; every byte keeps the most
        /// restrictive type of the raw entries covering it.
        #[test]
        fn sanitize_invariants(raw in proptest::collection::vec((0u64..64, 0u64..16, kind()), 0..20)) {
            let raw: Vec<Region> = raw.into_iter().map(|(s, l, k)| Region::new(s * 0x1000, l * 0x1000, k)).collect();
            let m = MemMap::sanitize(&raw);
            let e = m.entries();
            for w in e.windows(2) {
                prop_assert!(w[0].end <= w[1].start);
                prop_assert!(!(w[0].end == w[1].start && w[0].kind == w[1].kind));
            }
            for x in e {
                prop_assert!(!x.is_empty());
            }
            for page in 0..80u64 {
                let a = page * 0x1000;
                let want = raw.iter().filter(|r| r.start <= a && a < r.end).map(|r| r.kind).max_by_key(|k| k.rank());
                let got = e.iter().find(|r| r.start <= a && a < r.end).map(|r| r.kind);
                prop_assert_eq!(want.map(|k| k.rank()), got.map(|k| k.rank()));
            }
        }
    }
}
