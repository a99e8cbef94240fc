//! Host tests of `mm::cma`: placement and the bitmap.

use super::*;
use crate::kernel::e820::{MemMap, MemType, Region};
use crate::mm::zones::{size_zones, MemOptions};

const MB: u64 = 1 << 20;

/// QEMU -m 2G with the kernel image at 1 MB and a boot module at 40 MB.
fn qemu_2g() -> (Memblock, ZoneLayout) {
    let (u, r) = (MemType::Usable, MemType::Reserved);
    let e820 = [(0, 0x9fc00, u), (0x9fc00, 0xa0000, r), (0x100000, 0x7ffe0000, u), (0x7ffe0000, 1 << 31, r)];
    let map = MemMap::sanitize(&e820.map(|(start, end, kind)| Region { start, end, kind }));
    let mut mb = Memblock::new();
    mb.add_map(&map).unwrap();
    mb.reserve(0, 0x1000).unwrap();
    mb.reserve(0x100000, 0x200000).unwrap();
    mb.reserve(40 * MB, MB).unwrap();
    let (layout, _) = size_zones(&map, &MemOptions::default());
    (mb, layout)
}

fn opt(size: u64, base: Option<u64>) -> CmaOption {
    CmaOption { size, base }
}

#[test]
fn default_placement_is_the_top_of_lowmem_on_pageblocks() {
    let (mut mb, layout) = qemu_2g();
    let limit = layout.max_low_pfn << 12;
    let r = cma_reserve(opt(64 * MB, None), &mut mb, &layout).unwrap().unwrap();
    assert_eq!(r.asked, None);
    assert_eq!(r.region.size, 64 * MB);
    assert_eq!(r.region.base % CMA_REGION_ALIGN, 0);
    assert!(r.region.base + r.region.size <= limit && r.region.base + r.region.size + CMA_REGION_ALIGN > limit);
    assert!(mb.is_reserved(r.region.base) && mb.is_reserved(r.region.base + r.region.size - 1));
    assert_eq!(r.region.pages(), 16384);
}

#[test]
fn size_is_rounded_up_to_pageblocks_and_said() {
    let (mut mb, layout) = qemu_2g();
    let r = cma_reserve(opt(10 * MB, None), &mut mb, &layout).unwrap().unwrap();
    assert_eq!((r.region.size, r.asked), (12 * MB, Some(10 * MB)));
    assert_eq!(cma_reserve(opt(0, None), &mut mb, &layout), Ok(None));
}

#[test]
fn fixed_start_is_checked() {
    let (mut mb, layout) = qemu_2g();
    let limit = layout.max_low_pfn << 12;
    let mut try_ = |size, base| cma_reserve(opt(size, Some(base)), &mut mb, &layout);
    assert_eq!(try_(8 * MB, 0x2000_0000).unwrap().unwrap().region, CmaRegion { base: 0x2000_0000, size: 8 * MB });
    assert_eq!(try_(8 * MB, 0x2000_0000), Err(CmaReserveError::Busy { base: 0x2000_0000, end: 0x2080_0000 }));
    assert_eq!(try_(8 * MB, 0x2010_0000), Err(CmaReserveError::Unaligned { base: 0x2010_0000 }));
    assert_eq!(try_(8 * MB, 0), Err(CmaReserveError::NotRam { base: 0, end: 8 * MB }), "over the BIOS/VGA hole");
    assert_eq!(try_(4 * MB, 40 * MB), Err(CmaReserveError::Busy { base: 40 * MB, end: 44 * MB }), "over a module");
    assert_eq!(
        try_(8 * MB, 1 << 30),
        Err(CmaReserveError::AboveLowmem { base: 1 << 30, end: (1 << 30) + 8 * MB, limit })
    );
    // Across DMA and Normal, but each pageblock in one zone: allowed.
    assert_eq!(try_(8 * MB, 12 * MB).unwrap().unwrap().region, CmaRegion { base: 12 * MB, size: 8 * MB });
    let e = try_(2048 * MB, 0).unwrap_err();
    assert!(matches!(e, CmaReserveError::TooLarge { size, .. } if size == 2048 * MB));
    assert_eq!(
        e.to_string(),
        format!("cma: 2048 MiB is more than half of lowmem ({} MiB), which the kernel needs for itself; booting without a CMA area", (limit - 0x1000 - 0x60400) / MB)
    );
}

#[test]
fn a_hole_is_not_ram() {
    let (mut mb, layout) = qemu_2g();
    mb.reserve(0, 0).unwrap();
    let map = [(0u64, 0x9fc00u64), (0x100000, 0x1000_0000), (0x1040_0000, 0x3000_0000)];
    let mut holey = Memblock::new();
    for (b, e) in map {
        holey.add_memory(b, e - b).unwrap();
    }
    assert_eq!(
        cma_reserve(opt(8 * MB, Some(0x1000_0000)), &mut holey, &layout),
        Err(CmaReserveError::NotRam { base: 0x1000_0000, end: 0x1080_0000 })
    );
    let e = CmaReserveError::NotRam { base: 0x1000_0000, end: 0x1080_0000 }.to_string();
    assert_eq!(e, "cma: [mem 0x10000000-0x107fffff] is not all RAM; booting without a CMA area");
}

#[test]
fn bitmap_search_respects_alignment_and_busy_bits() {
    let mut map = [0u64; 4];
    assert_eq!(bitmap_find_next_zero_area(&map, 256, 0, 16, 15), Some(0));
    bitmap_assign(&mut map, 0, 3, true);
    assert_eq!(bitmap_find_next_zero_area(&map, 256, 0, 16, 15), Some(16));
    assert_eq!(bitmap_find_next_zero_area(&map, 256, 0, 4, 0), Some(3));
    bitmap_assign(&mut map, 70, 1, true);
    assert_eq!(bitmap_find_next_zero_area(&map, 256, 16, 64, 63), Some(128));
    assert_eq!(bitmap_find_next_zero_area(&map, 256, 129, 64, 63), Some(192));
    assert_eq!(bitmap_find_next_zero_area(&map, 256, 193, 64, 63), None);
    assert_eq!(bitmap_find_next_zero_area(&map, 200, 0, 256, 0), None, "larger than the map");
    assert!(bitmap_all_set(&map, 0, 3) && !bitmap_all_set(&map, 0, 4));
    bitmap_assign(&mut map, 0, 3, false);
    assert!(!test_bit(&map, 0) && test_bit(&map, 70));
}

#[test]
fn pageblock_span_widens_to_whole_pageblocks() {
    assert_eq!(pageblock_span(0x20000, 0x22000), (0x20000, 0x22000));
    assert_eq!(pageblock_span(0x20100, 0x20101), (0x20000, 0x20400));
    assert_eq!(pageblock_span(0x203ff, 0x20401), (0x20000, 0x20800));
}
