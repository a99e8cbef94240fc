//! The `vm.*` knobs of `/proc/sys/vm` that are real in this kernel (the
//! `vm_table` of Linux's kernel/sysctl.c and mm/): their values, read by
//! the code they steer as atomics, and the table the `sysctl` command
//! reads and writes them through, with Linux's parsing (`proc_dointvec`)
//! and ranges (`proc_dointvec_minmax`'s `extra1`/`extra2`).
//!
//! The ranges are Linux 6.1's (what the reference machine runs), where
//! they differ from 2.6.24's, which checked almost nothing:
//! - `swappiness` 0..=200 (Linux 5.8+; 2.6.24 took 0..=100), default 60;
//! - `overcommit_memory` and `panic_on_oom` 0..=2, `min_free_kbytes` and
//!   `page-cluster` from 0 (2.6.24 took any int for all four);
//! - `page-cluster` at most 31 (it is a shift; Linux caps it so since 6.1's
//!   successors, `page_cluster_max`);
//! - `lowmem_reserve_ratio`: any int; below 1 means no reserve (Linux
//!   4.19+; 2.6.24 made it 1);
//! - `oom_kill_allocating_task`: any int, non-zero is on (`proc_dointvec`);
//! - `overcommit_ratio`: Linux takes any int (`proc_dointvec`), and a
//!   negative one wraps in `vm_commit_limit`'s unsigned arithmetic into a
//!   meaningless limit; here a negative value is refused (`EINVAL`).

#![forbid(unsafe_code)]

use super::mm_init::LOWMEM_RESERVE_RATIO as DEFAULT_LOWMEM_RESERVE_RATIO;
use super::mmzone::{Node, MAX_NR_ZONES};
use super::page::Page;
use core::fmt::{self, Write};
use core::sync::atomic::Ordering::Relaxed;
use core::sync::atomic::{AtomicI32, AtomicUsize};

/// `vm.swappiness`: how much reclaim prefers swapping anonymous pages to
/// dropping caches (0..=200).
pub static SWAPPINESS: AtomicUsize = AtomicUsize::new(60);
/// `vm.page-cluster`: swap-in reads `1 << page_cluster` pages at a time.
pub static PAGE_CLUSTER: AtomicUsize = AtomicUsize::new(3);
/// `vm.panic_on_oom`: 0 kill a task, 1 and 2 panic instead (2 even for a
/// constrained allocation).
pub static PANIC_ON_OOM: AtomicUsize = AtomicUsize::new(0);
/// `vm.oom_kill_allocating_task`: non-zero kills the task whose allocation
/// failed instead of scanning for the worst one. Any int, as Linux's.
pub static OOM_KILL_ALLOCATING_TASK: AtomicI32 = AtomicI32::new(0);
/// `vm.compact_unevictable_allowed` (Linux 4.1): whether compaction may
/// move mlocked pages (1, the default) or must leave them where they are
/// (0, for real-time users who want no minor fault on a locked page). CMA
/// moves them regardless, as Linux's `alloc_contig_range` does.
pub static COMPACT_UNEVICTABLE_ALLOWED: AtomicUsize = AtomicUsize::new(1);
/// `vm.extfrag_threshold` (Linux 2.6.35): direct compaction runs for a
/// failed high-order allocation only when the zone's fragmentation index
/// is above it (0..=1000; at most it, the failure is from lack of memory
/// and reclaim is the answer).
pub static EXTFRAG_THRESHOLD: AtomicUsize = AtomicUsize::new(500);
/// `vm.overcommit_memory`: [`OVERCOMMIT_GUESS`], [`OVERCOMMIT_ALWAYS`] or
/// [`OVERCOMMIT_NEVER`] (`mm::util::vm_enough_memory`).
pub static OVERCOMMIT_MEMORY: AtomicUsize = AtomicUsize::new(OVERCOMMIT_GUESS);
/// `vm.overcommit_ratio`: the percentage of RAM `CommitLimit` counts.
pub static OVERCOMMIT_RATIO: AtomicUsize = AtomicUsize::new(50);
/// `vm.lowmem_reserve_ratio` for DMA, Normal and HighMem (Linux's
/// `sysctl_lowmem_reserve_ratio`): the boot values until written.
pub static LOWMEM_RESERVE_RATIO: [AtomicUsize; MAX_NR_ZONES - 1] = [
    AtomicUsize::new(DEFAULT_LOWMEM_RESERVE_RATIO[0] as usize),
    AtomicUsize::new(DEFAULT_LOWMEM_RESERVE_RATIO[1] as usize),
    AtomicUsize::new(DEFAULT_LOWMEM_RESERVE_RATIO[2] as usize),
];

pub const OVERCOMMIT_GUESS: usize = 0;
pub const OVERCOMMIT_ALWAYS: usize = 1;
pub const OVERCOMMIT_NEVER: usize = 2;

/// The most values one knob holds (`lowmem_reserve_ratio`'s three).
pub const MAX_VALUES: usize = MAX_NR_ZONES - 1;

/// Why a write was refused: Linux's `EINVAL` (a value that does not parse,
/// is out of range, or too many values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Einval;

impl fmt::Display for Einval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Invalid argument")
    }
}

/// The values a write gave, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Values {
    pub v: [i32; MAX_VALUES],
    pub n: usize,
}

impl Values {
    pub fn as_slice(&self) -> &[i32] {
        &self.v[..self.n]
    }
}

/// Linux's `proc_dointvec` write: whitespace-separated ints, each with an
/// optional `-` and in C's base 0 (`0x` hex, a leading `0` octal), each
/// followed by whitespace or the end; at most `max` of them. An empty
/// write changes nothing (`n` 0); blanks only, or a value that does not
/// parse or does not fit an int, is `EINVAL`. More values than the knob
/// holds are refused too (Linux stops reading at the last one and returns
/// a short write, which `sysctl` cannot finish).
pub fn parse_intvec(s: &str, max: usize) -> Result<Values, Einval> {
    let mut out = Values { v: [0; MAX_VALUES], n: 0 };
    if s.is_empty() {
        return Ok(out);
    }
    let b = s.as_bytes();
    let blank = |c: u8| c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' || c == 0x0b || c == 0x0c;
    let mut i = 0;
    loop {
        while i < b.len() && blank(b[i]) {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        if out.n == max.min(MAX_VALUES) {
            return Err(Einval);
        }
        let neg = b[i] == b'-';
        if neg {
            i += 1;
        }
        let (radix, skip) = if b[i..].starts_with(b"0x") || b[i..].starts_with(b"0X") {
            (16, 2)
        } else if b[i..].starts_with(b"0") {
            (8, 0)
        } else {
            (10, 0)
        };
        let digits_at = i + skip;
        let mut j = digits_at;
        let mut v: u64 = 0;
        while j < b.len() {
            let Some(d) = (b[j] as char).to_digit(radix) else { break };
            v = v.checked_mul(radix as u64).and_then(|v| v.checked_add(d as u64)).ok_or(Einval)?;
            j += 1;
        }
        if j == digits_at || (j < b.len() && !blank(b[j])) {
            return Err(Einval);
        }
        let limit = if neg { i32::MAX as u64 + 1 } else { i32::MAX as u64 };
        if v > limit {
            return Err(Einval);
        }
        out.v[out.n] = if neg { (v as i64).wrapping_neg() as i32 } else { v as i32 };
        out.n += 1;
        i = j;
    }
    if out.n == 0 {
        return Err(Einval);
    }
    Ok(out)
}

/// One knob: its name as `sysctl` shows it, how many values it holds, its
/// range (every value), and how it is read and applied.
pub struct Knob {
    pub name: &'static str,
    /// The file's mode in `/proc/sys` (Linux's `ctl_table.mode`): 0o644,
    /// or 0o200 for a write-only trigger, which `sysctl` does not read.
    pub mode: u16,
    pub len: usize,
    pub min: i32,
    pub max: i32,
    get: fn(&Node, &mut [i32; MAX_VALUES]),
    /// Store the values (already checked) and redo what depends on them.
    set: fn(&Node, &[Page], &[i32]),
}

fn load(a: &AtomicUsize) -> i32 {
    a.load(Relaxed) as i32
}

/// Every knob, sorted by name as `sysctl -a` lists them.
pub static KNOBS: &[Knob] = &[
    // Write-only (mode 0200): writing 1 compacts every zone (Linux's
    // `sysctl_compaction_handler`; 6.1 refuses any other value).
    Knob {
        name: "vm.compact_memory",
        mode: 0o200,
        len: 1,
        min: 1,
        max: 1,
        get: |_, v| v[0] = 1,
        set: |_, _, _| super::compaction::compact_memory_sysctl(),
    },
    Knob {
        name: "vm.compact_unevictable_allowed",
        mode: 0o644,
        len: 1,
        min: 0,
        max: 1,
        get: |_, v| v[0] = load(&COMPACT_UNEVICTABLE_ALLOWED),
        set: |_, _, vals| COMPACT_UNEVICTABLE_ALLOWED.store(vals[0] as usize, Relaxed),
    },
    Knob {
        name: "vm.extfrag_threshold",
        mode: 0o644,
        len: 1,
        min: 0,
        max: 1000,
        get: |_, v| v[0] = load(&EXTFRAG_THRESHOLD),
        set: |_, _, vals| EXTFRAG_THRESHOLD.store(vals[0] as usize, Relaxed),
    },
    Knob {
        name: "vm.lowmem_reserve_ratio",
        mode: 0o644,
        len: MAX_VALUES,
        min: i32::MIN,
        max: i32::MAX,
        get: |_, v| {
            for (v, r) in v.iter_mut().zip(LOWMEM_RESERVE_RATIO.iter()) {
                *v = load(r);
            }
        },
        set: |node, _, vals| {
            for (r, &v) in LOWMEM_RESERVE_RATIO.iter().zip(vals) {
                // Linux 4.19+: a ratio below 1 means no reserve, shown 0.
                r.store(v.max(0) as usize, Relaxed);
            }
            node.setup_per_zone_lowmem_reserve(&lowmem_reserve_ratio());
        },
    },
    Knob {
        name: "vm.min_free_kbytes",
        mode: 0o644,
        len: 1,
        min: 0,
        max: i32::MAX,
        get: |node, v| v[0] = node.min_free_kbytes() as i32,
        set: |node, mem_map, vals| node.set_min_free_kbytes(mem_map, vals[0] as u64),
    },
    Knob {
        name: "vm.oom_kill_allocating_task",
        mode: 0o644,
        len: 1,
        min: i32::MIN,
        max: i32::MAX,
        get: |_, v| v[0] = OOM_KILL_ALLOCATING_TASK.load(Relaxed),
        set: |_, _, vals| OOM_KILL_ALLOCATING_TASK.store(vals[0], Relaxed),
    },
    Knob {
        name: "vm.overcommit_memory",
        mode: 0o644,
        len: 1,
        min: 0,
        max: 2,
        get: |_, v| v[0] = load(&OVERCOMMIT_MEMORY),
        set: |_, _, vals| OVERCOMMIT_MEMORY.store(vals[0] as usize, Relaxed),
    },
    Knob {
        name: "vm.overcommit_ratio",
        mode: 0o644,
        len: 1,
        min: 0,
        max: i32::MAX,
        get: |_, v| v[0] = load(&OVERCOMMIT_RATIO),
        set: |_, _, vals| OVERCOMMIT_RATIO.store(vals[0] as usize, Relaxed),
    },
    Knob {
        name: "vm.page-cluster",
        mode: 0o644,
        len: 1,
        min: 0,
        max: 31,
        get: |_, v| v[0] = load(&PAGE_CLUSTER),
        set: |_, _, vals| PAGE_CLUSTER.store(vals[0] as usize, Relaxed),
    },
    Knob {
        name: "vm.panic_on_oom",
        mode: 0o644,
        len: 1,
        min: 0,
        max: 2,
        get: |_, v| v[0] = load(&PANIC_ON_OOM),
        set: |_, _, vals| PANIC_ON_OOM.store(vals[0] as usize, Relaxed),
    },
    Knob {
        name: "vm.swappiness",
        mode: 0o644,
        len: 1,
        min: 0,
        max: 200,
        get: |_, v| v[0] = load(&SWAPPINESS),
        set: |_, _, vals| SWAPPINESS.store(vals[0] as usize, Relaxed),
    },
];

/// The ratios in force, for `setup_per_zone_lowmem_reserve`.
pub fn lowmem_reserve_ratio() -> [u64; MAX_VALUES] {
    core::array::from_fn(|i| LOWMEM_RESERVE_RATIO[i].load(Relaxed) as u64)
}

/// The knob named `name`, written with dots or slashes (`vm.swappiness`,
/// `vm/swappiness`), as `sysctl` takes both.
pub fn find(name: &str) -> Option<&'static Knob> {
    KNOBS.iter().find(|k| {
        k.name.len() == name.len() && k.name.bytes().zip(name.bytes()).all(|(a, b)| a == b || (a == b'.' && b == b'/'))
    })
}

impl Knob {
    /// Whether `sysctl` may read it: a write-only trigger has no owner
    /// read bit, and procps skips such a file without a word when it reads
    /// (`ReadSetting`'s `S_IRUSR` check), `-a` and directories included.
    pub fn readable(&self) -> bool {
        self.mode & 0o400 != 0
    }

    /// Write the value as `/proc/sys` shows it: the values separated by
    /// tabs (`proc_dointvec`'s read).
    pub fn show(&self, node: &Node, out: &mut impl Write) -> fmt::Result {
        let mut v = [0; MAX_VALUES];
        (self.get)(node, &mut v);
        for (i, x) in v[..self.len].iter().enumerate() {
            if i > 0 {
                out.write_char('\t')?;
            }
            write!(out, "{}", x)?;
        }
        Ok(())
    }

    /// Parse `value` as a write to the knob's file, its range checked.
    pub fn parse(&self, value: &str) -> Result<Values, Einval> {
        let vals = parse_intvec(value, self.len)?;
        if vals.as_slice().iter().any(|&v| v < self.min || v > self.max) {
            return Err(Einval);
        }
        Ok(vals)
    }

    /// Parse `value` as a write to the knob's file and apply it: every
    /// value is checked before anything changes. An empty value changes
    /// nothing, as an empty write does.
    pub fn write(&self, node: &Node, mem_map: &[Page], value: &str) -> Result<(), Einval> {
        let vals = self.parse(value)?;
        if vals.n > 0 {
            (self.set)(node, mem_map, vals.as_slice());
        }
        Ok(())
    }
}

impl Node {
    /// `vm.min_free_kbytes` written (Linux's `min_free_kbytes_sysctl_handler`):
    /// the zones' marks follow it at once, and the migrate reserve with
    /// them (2.6.24's `setup_per_zone_pages_min` redoes both).
    pub fn set_min_free_kbytes(&self, mem_map: &[Page], kb: u64) {
        self.min_free_kbytes.store(kb as usize, Relaxed);
        self.setup_per_zone_wmarks();
        self.setup_migrate_reserve(mem_map);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::e820::{MemMap, MemType, Region};
    use crate::mm::buddy::MigrateType;
    use crate::mm::mmzone::Watermark;
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
        node.setup_migrate_reserve(&mm);
        (node, mm)
    }

    fn vals(v: &[i32]) -> Values {
        let mut out = Values { v: [0; MAX_VALUES], n: v.len() };
        out.v[..v.len()].copy_from_slice(v);
        out
    }

    #[test]
    fn parses_as_proc_dointvec() {
        assert_eq!(parse_intvec("60", 1), Ok(vals(&[60])));
        assert_eq!(parse_intvec("  10\n", 1), Ok(vals(&[10])));
        assert_eq!(parse_intvec("0x10", 1), Ok(vals(&[16])), "base 0: hex");
        assert_eq!(parse_intvec("010", 1), Ok(vals(&[8])), "base 0: octal");
        assert_eq!(parse_intvec("0", 1), Ok(vals(&[0])));
        assert_eq!(parse_intvec("-5", 1), Ok(vals(&[-5])));
        assert_eq!(parse_intvec("-2147483648", 1), Ok(vals(&[i32::MIN])));
        assert_eq!(parse_intvec("256 32\t32", 3), Ok(vals(&[256, 32, 32])));
        assert_eq!(parse_intvec("1 2", 3), Ok(vals(&[1, 2])), "fewer values set the first ones");
        assert_eq!(parse_intvec("", 1), Ok(vals(&[])), "an empty write changes nothing");
        for bad in ["abc", "12abc", "1.5", "-", "0x", "2147483648", "-2147483649", " ", "08", "99999999999999999999999"]
        {
            assert_eq!(parse_intvec(bad, 1), Err(Einval), "{bad:?}");
        }
        assert_eq!(parse_intvec("1 2", 1), Err(Einval), "more values than the knob holds");
    }

    #[test]
    fn table_is_sorted_and_names_take_slashes() {
        assert!(KNOBS.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(KNOBS.len(), 11);
        assert_eq!(find("vm/swappiness").map(|k| k.name), Some("vm.swappiness"));
        let write_only: Vec<&str> = KNOBS.iter().filter(|k| !k.readable()).map(|k| k.name).collect();
        assert_eq!(write_only, ["vm.compact_memory"], "Linux's mode-0200 entries");
        assert_eq!(find("vm.extfrag_threshold").map(|k| k.readable()), Some(true));
        assert_eq!(find("vm.page-cluster").map(|k| k.name), Some("vm.page-cluster"));
        assert!(find("vm.nosuch").is_none() && find("vm").is_none() && find("vm.swappines").is_none());
    }

    #[test]
    fn ranges_are_linux_s() {
        let k = |n| find(n).unwrap();
        let cases: &[(&str, &str, bool)] = &[
            ("vm.swappiness", "200", true),
            ("vm.swappiness", "201", false),
            ("vm.swappiness", "-1", false),
            ("vm.overcommit_memory", "3", false),
            ("vm.overcommit_memory", "7", false),
            ("vm.panic_on_oom", "3", false),
            ("vm.page-cluster", "32", false),
            ("vm.page-cluster", "-1", false),
            ("vm.min_free_kbytes", "-1", false),
            ("vm.overcommit_ratio", "-1", false),
            ("vm.swappiness", "abc", false),
            ("vm.overcommit_memory", "2", true),
            ("vm.page-cluster", "31", true),
            ("vm.oom_kill_allocating_task", "-7", true),
            ("vm.lowmem_reserve_ratio", "-1 0 1", true),
            ("vm.min_free_kbytes", "2147483647", true),
            ("vm.extfrag_threshold", "1000", true),
            ("vm.extfrag_threshold", "0", true),
            ("vm.extfrag_threshold", "1001", false),
            ("vm.extfrag_threshold", "-1", false),
            ("vm.compact_memory", "1", true),
            ("vm.compact_memory", "0", false),
            ("vm.compact_memory", "2", false),
        ];
        // `parse` only: the knobs are globals other tests read.
        for &(name, v, ok) in cases {
            assert_eq!(k(name).parse(v).is_ok(), ok, "{name}={v}");
        }
    }

    #[test]
    fn min_free_kbytes_recomputes_the_watermarks_and_comes_back() {
        let (node, mm) = machine();
        let k = find("vm.min_free_kbytes").unwrap();
        let marks = |n: &Node| -> Vec<[u64; 3]> {
            n.zones.iter().map(|z| [Watermark::Min, Watermark::Low, Watermark::High].map(|w| z.watermark(w))).collect()
        };
        let reserve_blocks = |n: &Node| -> usize {
            n.zones.iter().map(|z| z.lock().pageblock_counts()[MigrateType::Reserve as usize]).sum()
        };
        let (before, blocks, kb) = (marks(&node), reserve_blocks(&node), node.min_free_kbytes());
        let mut s = String::new();
        k.show(&node, &mut s).unwrap();
        assert_eq!(s, kb.to_string());
        k.write(&node, &mm, &(kb * 8).to_string()).unwrap();
        let after = marks(&node);
        // Normal's min follows min_free_kbytes in proportion; HighMem's
        // is fixed (32..128 pages), its low and high move with the rest.
        assert!(after[1][0] > before[1][0] * 7, "{before:?} -> {after:?}");
        assert_eq!(after[2][0], before[2][0], "highmem's min does not follow min_free_kbytes");
        assert!(after[2][2] > before[2][2]);
        assert!(reserve_blocks(&node) > blocks, "the migrate reserve grows with min");
        k.write(&node, &mm, &kb.to_string()).unwrap();
        assert_eq!(marks(&node), before);
        assert_eq!(reserve_blocks(&node), blocks, "reserved blocks beyond the need went back to movable");
    }

    #[test]
    fn lowmem_reserve_ratio_shows_three_values_and_recomputes() {
        let (node, mm) = machine();
        let k = find("vm.lowmem_reserve_ratio").unwrap();
        let mut s = String::new();
        k.show(&node, &mut s).unwrap();
        assert_eq!(s, "256\t32\t32");
        let normal = node.zones[1].managed;
        let high = node.zones[2].managed;
        assert_eq!(node.zones[0].lowmem_reserve(1), normal / 256);
        k.write(&node, &mm, "128 0").unwrap();
        assert_eq!(node.zones[0].lowmem_reserve(1), normal / 128);
        assert_eq!(node.zones[1].lowmem_reserve(2), 0, "a ratio of 0 keeps no reserve");
        assert_eq!(k.write(&node, &mm, "1 2 3 4"), Err(Einval));
        k.write(&node, &mm, "256 32 32").unwrap();
        assert_eq!(node.zones[1].lowmem_reserve(2), high / 32);
    }
}
