//! Host tests of `mm::zones`.

use super::*;
use crate::kernel::e820::Region;
use proptest::prelude::*;

const MB: u64 = 1 << 20;
const GB: u64 = 1 << 30;
const U: MemType = MemType::Usable;
const R: MemType = MemType::Reserved;

fn r(start: u64, end: u64, kind: MemType) -> Region {
    Region { start, end, kind }
}

/// What QEMU's BIOS reports for `-m SIZE` up to 3 GB: conventional
/// memory, EBDA, BIOS ROM, RAM up to 128 KB below SIZE, the flash.
fn qemu(size: u64) -> MemMap {
    let (low, top) = (r(0, 0x9fc00, U), r(0x100000, size - 0x20000, U));
    let holes = [r(0x9fc00, 0xa0000, R), r(0xf0000, 0x100000, R), r(0xfffc0000, 4 * GB, R)];
    MemMap::sanitize(&[low, holes[0], holes[1], top, r(size - 0x20000, size, R), holes[2]])
}

const NONE: MemOptions = MemOptions { mem_limit: None, highmem: None, kernelcore: None, vmalloc: None };

fn mem(v: u64) -> MemOptions {
    MemOptions { mem_limit: Some(v), ..NONE }
}

fn highmem(v: u64) -> MemOptions {
    MemOptions { highmem: Some(v), ..NONE }
}

fn kernelcore(v: u64) -> MemOptions {
    MemOptions { kernelcore: Some(v), ..NONE }
}

/// Size `map`, check lowmem and RAM ends and the notes, return the layout.
fn check(map: &MemMap, o: MemOptions, low_max: (u64, u64), want: &[&str]) -> ZoneLayout {
    let (l, notes) = size_zones(map, &o);
    let notes: Vec<String> = notes.iter().map(|n| n.to_string()).collect();
    assert_eq!(notes, want, "{o:?}");
    assert_eq!((l.max_low_pfn, l.max_pfn), low_max, "{o:?}");
    l
}

fn lines(l: &ZoneLayout) -> Vec<String> {
    let all = available_lines(l).into_iter().chain(zone_ranges_lines(l));
    all.map(|x| x.to_string()).collect()
}

fn spans(l: &ZoneLayout) -> [(u64, u64, u64); 4] {
    l.zones.map(|z| (z.start_pfn, z.spanned_pages, z.present_pages))
}

#[test]
fn qemu_2g_matches_linux() {
    let l = check(&qemu(2 * GB), NONE, (0x38000, 0x7ffe0), &[]);
    // DMA holds pfn 1..0x9f and 0x100..0x1000: not page 0, the EBDA page or the BIOS hole.
    let want = [(1, 0xfff, 3998), (0x1000, 0x37000, 0x37000), (0x38000, 0x47fe0, 0x47fe0)];
    assert_eq!(spans(&l), [want[0], want[1], want[2], (0x7ffe0, 0, 0)]);
    assert_eq!((l.totalram_pages, l.totalhigh_pages), (3998 + 0x37000 + 0x47fe0, 0x47fe0));
    assert_eq!(l.high_memory, 0xf800_0000);
    assert_eq!(
        lines(&l),
        [
            "1151MB HIGHMEM available.",
            "896MB LOWMEM available.",
            "Zone ranges:",
            "  DMA      [mem 0x0000000000001000-0x0000000000ffffff]",
            "  Normal   [mem 0x0000000001000000-0x0000000037ffffff]",
            "  HighMem  [mem 0x0000000038000000-0x000000007ffdffff]",
            "Movable zone start for each node",
        ]
    );
    let l = check(&qemu(3 * GB), NONE, (0x38000, 0xbffe0), &[]);
    assert_eq!(lines(&l)[0], "2175MB HIGHMEM available.");
}

#[test]
fn qemu_512m_has_no_highmem_unless_asked() {
    let l = check(&qemu(512 * MB), NONE, (0x1ffe0, 0x1ffe0), &[]);
    assert_eq!((l.zone(ZoneType::HighMem).spanned_pages, l.totalhigh_pages), (0, 0));
    assert_eq!(l.high_memory, 0xdffe_0000);
    let normal = "  Normal   [mem 0x0000000001000000-0x000000001ffdffff]";
    assert_eq!(lines(&l)[..2], ["0MB HIGHMEM available.", "511MB LOWMEM available."]);
    assert_eq!(lines(&l)[4..6], [normal, "  HighMem  empty"]);

    let l = check(&qemu(512 * MB), highmem(256 * MB), (0xffe0, 0x1ffe0), &[]);
    assert_eq!(l.totalhigh_pages, 0x10000);
    assert_eq!(lines(&l)[..2], ["256MB HIGHMEM available.", "255MB LOWMEM available."]);
    assert_eq!(
        lines(&l)[4..6],
        [
            "  Normal   [mem 0x0000000001000000-0x000000000ffdffff]",
            "  HighMem  [mem 0x000000000ffe0000-0x000000001ffdffff]"
        ]
    );
    check(&qemu(512 * MB), highmem(0), (0x1ffe0, 0x1ffe0), &[]);
}

#[test]
fn ram_above_4g_is_dropped_with_a_note() {
    // QEMU -m 5G: 3 GB below the PCI hole, 2 GB above 4 GB.
    let map = MemMap::sanitize(&[r(0x100000, 3 * GB, U), r(4 * GB, 6 * GB, U)]);
    let note = "2048MB of RAM above 4GB ignored: non-PAE kernel cannot address it";
    check(&map, NONE, (0x38000, 0xc0000), &[note]);
    // mem= below 4 GB drops it first: nothing to say.
    check(&map, mem(2 * GB), (0x38000, 0x80000), &[]);
}

#[test]
fn mem_option_cuts_ram_at_an_address() {
    // 1 GB is still more than lowmem holds: 128 MB of highmem remain.
    let l = check(&qemu(2 * GB), mem(GB), (0x38000, 0x40000), &[]);
    assert_eq!(lines(&l)[5], "  HighMem  [mem 0x0000000038000000-0x000000003fffffff]");
    let l = check(&qemu(2 * GB), mem(800 * MB), (0x32000, 0x32000), &[]);
    assert_eq!(lines(&l)[5], "  HighMem  empty");
}

#[test]
fn bad_mem_values_are_ignored() {
    let plain = check(&qemu(2 * GB), NONE, (0x38000, 0x7ffe0), &[]);
    let small = ["mem=1M is too small (needs at least 5M); ignored"];
    assert_eq!(check(&qemu(2 * GB), mem(MB), (0x38000, 0x7ffe0), &small), plain);
    // The floor is what -m boots with (GRUB needs 5M): mem=8M is honoured,
    // as Linux honours it; the kernel used to refuse anything under 16M.
    check(&qemu(2 * GB), mem(8 * MB), (0x800, 0x800), &[]);
    let big = ["mem=4G is not below the end of RAM at 2047M: nothing to cut; ignored"];
    assert_eq!(check(&qemu(2 * GB), mem(4 * GB), (0x38000, 0x7ffe0), &big), plain);
}

#[test]
fn highmem_larger_than_ram_is_clamped() {
    // Clamped to whole megabytes, so HighMem is exactly what the note says.
    let n = ["highmem=4G is more than the 511M of RAM; clamped to 447M (lowmem needs at least 64M)"];
    let l = check(&qemu(512 * MB), highmem(4 * GB), (0x1ffe0 - 447 * 256, 0x1ffe0), &n);
    assert_eq!(l.totalhigh_pages, 447 * 256);
    let n = ["highmem=3G is more than the 2047M of RAM; clamped to 1983M (lowmem needs at least 64M)"];
    check(&qemu(2 * GB), highmem(3 * GB), (0x7ffe0 - 1983 * 256, 0x7ffe0), &n);
    // The case a user met: 1984M said 1983M and gave 1983.875M (2031488K).
    let n = ["highmem=1984M would leave 63M of lowmem (needs at least 64M); clamped to 1983M"];
    let l = check(&qemu(2 * GB), highmem(1984 * MB), (0x7ffe0 - 1983 * 256, 0x7ffe0), &n);
    assert_eq!(l.totalhigh_pages, 1983 * 256);
}

#[test]
fn highmem_never_leaves_less_than_64m_lowmem() {
    let n = ["highmem=500M would leave 11M of lowmem (needs at least 64M); clamped to 447M"];
    check(&qemu(512 * MB), highmem(500 * MB), (0x1ffe0 - 447 * 256, 0x1ffe0), &n);
    // A machine with less than 64 MB keeps it all as lowmem.
    let small = MemMap::sanitize(&[r(0, 0x9fc00, U), r(0x100000, 48 * MB, U)]);
    let n = ["highmem=16M ignored: all 48M of RAM is needed as lowmem (at least 64M)"];
    check(&small, highmem(16 * MB), (0x3000, 0x3000), &n);
}

#[test]
fn highmem_on_a_big_machine_caps_highmem() {
    let n = ["highmem=256M leaves 917376K of RAM unused: lowmem is full at 896M, so RAM above 1152M is ignored"];
    check(&qemu(2 * GB), highmem(256 * MB), (0x38000, 0x48000), &n);
    let n = ["highmem=0 leaves 1179520K of RAM unused: lowmem is full at 896M, so RAM above 896M is ignored"];
    let l = check(&qemu(2 * GB), highmem(0), (0x38000, 0x38000), &n);
    assert_eq!(l.totalhigh_pages, 0);
    // Smaller than the natural highmem but leaving lowmem below 896 MB: lowmem shrinks.
    check(&qemu(2 * GB), highmem(1536 * MB), (0x1ffe0, 0x7ffe0), &[]);
}

#[test]
fn kernelcore_carves_movable_from_highmem() {
    let l = check(&qemu(2 * GB), kernelcore(GB), (0x38000, 0x7ffe0), &[]);
    // The holes below 1 MB push the start just past 1 GB, then to a 4 MB boundary.
    assert_eq!(l.movable_start_pfn, Some(0x40400));
    assert_eq!(spans(&l)[2..], [(0x38000, 0x8400, 0x8400), (0x40400, 0x3fbe0, 0x3fbe0)]);
    let kernel: u64 = l.zones[..3].iter().map(|z| z.present_pages).sum();
    assert!(kernel >= GB >> PAGE_SHIFT);
    // Zone ranges show what each zone could hold; the node line, where Movable begins.
    let high = "  HighMem  [mem 0x0000000038000000-0x000000007ffdffff]";
    let node = "  Node 0: 0x0000000040400000";
    assert_eq!(lines(&l)[5..], [high, "Movable zone start for each node", node]);
}

#[test]
fn kernelcore_below_lowmem_makes_all_highmem_movable() {
    let n = ["kernelcore=512M is less than the 895M below HighMem, which cannot be movable; using 895M"];
    let l = check(&qemu(2 * GB), kernelcore(512 * MB), (0x38000, 0x7ffe0), &n);
    assert_eq!(spans(&l)[2..], [(0x38000, 0, 0), (0x38000, 0x47fe0, 0x47fe0)]);
}

#[test]
fn kernelcore_without_highmem_uses_normal() {
    let l = check(&qemu(512 * MB), kernelcore(256 * MB), (0x1ffe0, 0x1ffe0), &[]);
    let want = [(0x1000, 0xf400, 0xf400), (0x10400, 0, 0), (0x10400, 0xfbe0, 0xfbe0)];
    assert_eq!(spans(&l)[1..], want);
}

#[test]
fn bad_kernelcore_values_are_ignored() {
    let plain = check(&qemu(2 * GB), NONE, (0x38000, 0x7ffe0), &[]);
    for (v, n) in [
        (0, "kernelcore=0 leaves no memory for the kernel; ignored (no ZONE_MOVABLE)"),
        (100, "kernelcore=100 leaves no memory for the kernel; ignored (no ZONE_MOVABLE)"),
        (4 * GB, "kernelcore=4G is not less than the 2047M of RAM; ignored (no ZONE_MOVABLE)"),
        (2047 * MB, "kernelcore=2047M leaves less than 4M movable; no ZONE_MOVABLE"),
    ] {
        assert_eq!(check(&qemu(2 * GB), kernelcore(v), (0x38000, 0x7ffe0), &[n]), plain);
    }
}

#[test]
fn empty_map_gives_empty_zones() {
    let all = MemOptions { mem_limit: Some(GB), highmem: Some(GB), kernelcore: Some(GB), vmalloc: None };
    let (l, notes) = size_zones(&MemMap::new(), &all);
    assert_eq!((l.max_pfn, l.totalram_pages, notes.len()), (0, 0, 3));
    assert!(l.zones.iter().all(|z| z.spanned_pages == 0));
}

fn raw_map() -> impl Strategy<Value = Vec<Region>> {
    let kind = prop_oneof![4 => Just(U), 1 => Just(R)];
    let region = (0u64..6144, 0u64..2048, 0u64..8192, kind);
    let to_region = |(s, l, j, k)| Region::new(s * MB + j, l * MB + j / 2, k);
    proptest::collection::vec(region.prop_map(to_region), 0..8)
}

/// Whole megabytes mostly, any byte count sometimes.
fn size_opt(max_mb: u64) -> impl Strategy<Value = Option<u64>> {
    proptest::option::of(prop_oneof![(0..max_mb).prop_map(|v| v * MB), 0..max_mb * MB])
}

proptest! {
    /// Zones are ordered and contiguous within the DMA, lowmem and 4 GB
    /// limits, lowmem keeps 64 MB, and every page of RAM below max_pfn
    /// (page 0 aside) is present in exactly one zone.
    #[test]
    fn zones_are_consistent(
        raw in raw_map(), mem_limit in size_opt(8192), highmem in size_opt(4096), kernelcore in size_opt(6144)
    ) {
        let map = MemMap::sanitize(&raw);
        let (l, notes) = size_zones(&map, &MemOptions { mem_limit, highmem, kernelcore, vmalloc: None });
        let z = &l.zones;
        prop_assert_eq!(z[0].start_pfn, l.min_pfn);
        for i in 0..MAX_NR_ZONES {
            prop_assert_eq!(z[i].kind, ZoneType::ALL[i]);
            prop_assert!(z[i].present_pages <= z[i].spanned_pages);
            if i + 1 < MAX_NR_ZONES {
                prop_assert_eq!(z[i].end_pfn(), z[i + 1].start_pfn, "{:?}", z);
            }
        }
        prop_assert_eq!(z[3].end_pfn(), l.max_pfn);
        prop_assert!(z[0].end_pfn() <= MAX_DMA_PFN.max(l.min_pfn));
        prop_assert!(l.max_low_pfn <= MAXMEM_PFN && l.max_pfn <= MAX_NONPAE_PFN);
        if l.max_pfn >= MIN_LOWMEM_PFN {
            prop_assert!(l.max_low_pfn >= MIN_LOWMEM_PFN);
        } else {
            prop_assert_eq!(l.max_low_pfn, l.max_pfn);
        }
        if let Some(m) = mem_limit {
            let ignored = notes.iter().any(|n| matches!(n, Note::MemTooSmall { .. } | Note::MemAboveRam { .. }));
            prop_assert!(ignored || l.max_pfn <= m >> PAGE_SHIFT);
        }
        let ram_below = |top: u64| -> u64 {
            let pages = |r: &Region| (r.end / 4096).min(top).saturating_sub(r.start.div_ceil(4096).max(1));
            map.entries().iter().filter(|r| r.kind == U).map(pages).sum()
        };
        let present: u64 = z.iter().map(|z| z.present_pages).sum();
        prop_assert_eq!(present, ram_below(l.max_pfn));
        prop_assert_eq!(l.totalram_pages, present);
        prop_assert_eq!(l.totalhigh_pages, present - ram_below(l.max_low_pfn.min(l.max_pfn)));
        prop_assert_eq!(l.high_memory as u64, 0xc000_0000 + (l.max_low_pfn << PAGE_SHIFT));
        prop_assert!(notes.iter().all(|n| !n.to_string().is_empty()));
        prop_assert!(lines(&l).iter().all(|s| !s.is_empty()));
    }
}

/// The figures in the notes are the ones the boot then shows.
#[test]
fn notes_say_the_sizes_that_result() {
    // vmalloc=512M moves the end of lowmem to 495M: the note says so, not 896M.
    let o = MemOptions { highmem: Some(256 * MB), vmalloc: Some(512 * MB), ..NONE };
    let (l, notes) = size_zones(&qemu(2 * GB), &o);
    assert_eq!(available_lines(&l)[1].to_string(), "495MB LOWMEM available.");
    let n: Vec<String> = notes.iter().map(|n| n.to_string()).collect();
    assert_eq!(
        n,
        ["highmem=256M leaves 1326984K of RAM unused: lowmem is full at 495M, so RAM above 770040K is ignored"]
    );
    // highmem=1151M at 2G: less than a megabyte is unused, and said in K.
    let n = ["highmem=1151M leaves 896K of RAM unused: lowmem is full at 896M, so RAM above 2047M is ignored"];
    check(&qemu(2 * GB), highmem(1151 * MB), (0x38000, 0x7ff00), &n);
    // vmalloc=1G: the area that results.
    let (_, notes) = size_zones(&qemu(2 * GB), &MemOptions { vmalloc: Some(GB), ..NONE });
    assert_eq!(
        notes.iter().next().unwrap().to_string(),
        "vmalloc=1G would leave less than 64M of lowmem; lowmem kept at 64M, the vmalloc area is 943M"
    );
}

/// QEMU -m 4G: 3 GB below the PCI hole, 1 GB above 4 GB, so RAM ends at
/// 5G; mem=5G cuts nothing and says so.
#[test]
fn mem_at_or_above_the_end_of_ram_says_nothing_was_done() {
    let map = MemMap::sanitize(&[r(0, 0x9fc00, U), r(0x100000, 3 * GB, U), r(4 * GB, 5 * GB, U)]);
    let (_, notes) = size_zones(&map, &mem(5 * GB));
    let n: Vec<String> = notes.iter().map(|n| n.to_string()).collect();
    assert_eq!(
        n,
        [
            "mem=5G is not below the end of RAM at 5120M: nothing to cut; ignored",
            "1024MB of RAM above 4GB ignored: non-PAE kernel cannot address it",
        ]
    );
}

#[test]
fn pages_size_is_exact() {
    assert_eq!(PagesSize(256 * 1983).to_string(), "1983M");
    assert_eq!(PagesSize(224).to_string(), "896K");
    assert_eq!(PagesSize(256 * 895 + 224).to_string(), "917376K");
    assert_eq!(PagesSize(256 + 1).to_string(), "1028K");
}

#[test]
fn sizes_print_as_typed_up_to_terabytes() {
    // mem=1T was echoed back as "mem=1024G".
    assert_eq!(Size(1 << 40).to_string(), "1T");
    assert_eq!(Size(3 << 30).to_string(), "3G");
    assert_eq!(Size(1536 << 20).to_string(), "1536M");
}

// --- the vmalloc= option (was inline in zones.rs) ---

fn ram_bytes(bytes: u64) -> MemMap {
    MemMap::sanitize(&[
        Region::new(0, 0x9fc00, MemType::Usable),
        Region::new(0x100000, bytes - 0x100000, MemType::Usable),
    ])
}

#[test]
fn vmalloc_option_moves_the_lowmem_limit() {
    let (l, n) = size_zones(&ram_bytes(2 << 30), &MemOptions { vmalloc: Some(256 << 20), ..MemOptions::default() });
    assert!(n.is_empty());
    // 0xff7fe000 - 0xc0000000 - 8M - 256M, in pages.
    assert_eq!(l.max_low_pfn, (0x3f7f_e000u64 - (8 << 20) - (256 << 20)) >> 12);
    let (l, n) = size_zones(&ram_bytes(2 << 30), &MemOptions { vmalloc: Some(64 << 20), ..MemOptions::default() });
    assert_eq!(l.max_low_pfn, MAXMEM_PFN);
    assert_eq!(
        n.iter().next().unwrap().to_string(),
        "vmalloc=64M is below the default 111M: ignored (the lowmem limit stays at 896M, the vmalloc area \
         keeps its size)"
    );
    // On 512M, lowmem is all of RAM, not 896M: the note speaks of the limit.
    let (l, n) = size_zones(&ram_bytes(512 << 20), &MemOptions { vmalloc: Some(8 << 20), ..MemOptions::default() });
    assert_eq!(l.max_low_pfn, (512 << 20) >> 12);
    assert_eq!(
        n.iter().next().unwrap().to_string(),
        "vmalloc=8M is below the default 111M: ignored (the lowmem limit stays at 896M, the vmalloc area \
         keeps its size)"
    );
    let (l, n) = size_zones(&ram_bytes(2 << 30), &MemOptions { vmalloc: Some(1000 << 20), ..MemOptions::default() });
    assert_eq!(l.max_low_pfn, MIN_LOWMEM_PFN);
    assert_eq!(
        n.iter().next().unwrap().to_string(),
        "vmalloc=1000M would leave less than 64M of lowmem; lowmem kept at 64M, the vmalloc area is 943M"
    );
}
