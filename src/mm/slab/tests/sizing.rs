//! Host tests of `slab/sizing.rs`: orders, objects per slab, the i686
//! kmalloc layouts, alignment, colour, the division-free object index.

use super::*;

#[test]
fn order_choice_follows_waste_rule() {
    // Host numbers: a 48-byte header (32 on i686).
    assert_eq!(size_of::<Slab>(), 48);
    let shape = |size, flags| {
        let s = cache("c", size, flags).stats();
        (s.pagesperslab, s.objperslab, s.objsize)
    };
    assert_eq!(shape(64, SlabFlags::empty()), (1, 61, 64));
    // Off the slab from PAGE_SIZE / 8: order 0 holds whole objects.
    assert_eq!(shape(2048, SlabFlags::empty()), (1, 2, 2048));
    assert_eq!(shape(4096, SlabFlags::empty()), (1, 1, 4096));
    // Order 0 holds no 5000-byte object; order 1 one, wasting 3192 bytes
    // (more than 1/8), order 2 three, wasting 1384 of 16 KB.
    assert_eq!(shape(5000, SlabFlags::empty()), (4, 3, 5000));
    // Reclaimable caches take the first order that fits.
    assert_eq!(shape(5000, SlabFlags::RECLAIM_ACCOUNT), (2, 1, 5000));
    // Nothing wastes little enough: the largest order that fits.
    assert_eq!(shape(100_000, SlabFlags::empty()), (32, 1, 100_000));
    // Sizes round up to a word; red zones add a word on each side.
    assert_eq!(shape(13, SlabFlags::empty()).2, 16);
    assert_eq!(shape(13, SlabFlags::RED_ZONE).2, 32);
}

/// The i686 kernel's kmalloc caches, computed on the host with the
/// kernel's geometry: (objperslab, pagesperslab) exactly as `slabinfo`
/// prints them in QEMU (checked there by `qemu::slab::kmalloc_geometry`).
#[test]
fn kmalloc_classes_have_the_i686_kernels_layout() {
    let want: [(usize, usize); 13] = [
        (406, 1),
        (225, 1),
        (119, 1),
        (61, 1),
        (41, 1),
        (31, 1),
        (20, 1),
        (15, 1),
        (8, 1),
        (4, 1),
        (2, 1),
        (1, 1),
        (1, 2),
    ];
    for (&size, &(num, pages)) in KMALLOC_SIZES.iter().zip(&want) {
        let align = kmalloc_align(size);
        let l = CacheLayout::compute("k", size, align, SlabFlags::empty(), Geometry::I686).unwrap();
        assert_eq!((l.num, 1 << l.order), (num, pages), "kmalloc-{size}");
        // Off the slab from 512 bytes; no colour to shift the first object,
        // so every power of two is aligned to itself, 8 KB included.
        assert_eq!(l.off_slab, size >= 512, "kmalloc-{size}");
        if size >= 512 {
            assert_eq!((l.left_over, l.mgmt_size), (0, 32 + 2 * num), "kmalloc-{size}");
            // The management comes from a smaller kmalloc class.
            assert!(2 * l.mgmt_size <= size);
        }
        if size.is_power_of_two() {
            assert_eq!(l.align, size.min(PAGE_SIZE));
        }
    }
    // The 64-bit host differs where the header matters, which is why the
    // geometry is a parameter.
    let host = CacheLayout::compute("k", 8, 8, SlabFlags::empty(), Geometry { header: 48, word: 8, redzone_align: 8 });
    assert_eq!(host.unwrap().num, 404);
    // slab_debug's red zones on i686: a word each side, aligned as the class.
    let l = CacheLayout::compute("k", 64, 64, SlabFlags::DEBUG, Geometry::I686).unwrap();
    assert_eq!((l.buffer_size, l.obj_offset, l.num, l.order, l.off_slab), (192, 64, 20, 0, false));
    let l = CacheLayout::compute("k", 32, 0, SlabFlags::DEBUG, Geometry::I686).unwrap();
    assert_eq!((l.buffer_size, l.obj_offset, l.num), (48, 8, 81));
}

#[test]
fn bad_arguments_are_errors_naming_the_value() {
    let err = |size, align| KmemCache::create("bad", size, align, SlabFlags::empty(), None).err().unwrap().to_string();
    assert_eq!(err(0, 0), "kmem_cache_create(bad): size 0");
    assert_eq!(err(200_000, 0), "kmem_cache_create(bad): size 200000 does not fit a slab of order 5 (131072 bytes)");
    assert_eq!(err(131_073, 0), "kmem_cache_create(bad): size 131073 does not fit a slab of order 5 (131072 bytes)");
    // Off the slab, one object may fill the largest slab.
    assert_eq!(cache("whole", 131_072, SlabFlags::empty()).stats().pagesperslab, 32);
    assert_eq!(err(64, 24), "kmem_cache_create(bad): align 24 is not a power of two up to 4096");
    assert_eq!(err(64, 8192), "kmem_cache_create(bad): align 8192 is not a power of two up to 4096");
}

#[test]
#[should_panic(expected = "kmem_cache_create(vital): size 0")]
fn panic_flag_panics_on_failure() {
    let _ = KmemCache::create("vital", 0, 0, SlabFlags::PANIC, None);
}

#[test]
fn hwcache_align_halves_for_small_objects() {
    let objsize = |size| cache("hw", size, SlabFlags::HWCACHE_ALIGN).stats().objsize;
    assert_eq!([objsize(8), objsize(20), objsize(40), objsize(100)], [8, 32, 64, 128]);
    let mut p = TestPages::new(256);
    let mut c = KmemCache::create("a256", 24, 256, SlabFlags::empty(), None).unwrap();
    let objs: Vec<_> = (0..40).map(|_| c.alloc(&mut p, GFP_KERNEL).unwrap()).collect();
    assert!(objs.iter().all(|o| o % 256 == 0));
    for o in objs {
        c.put(&mut p, o).unwrap();
    }
    c.shrink(&mut p);
    assert_eq!(p.outstanding, 0);
}

#[test]
fn colour_offsets_cycle() {
    let mut p = TestPages::new(256);
    // 4 objects of 904 bytes leave 424 bytes: 6 colours of 64 bytes.
    let mut c = cache("colour", 900, SlabFlags::empty());
    assert_eq!((c.num, c.colour, c.colour_off), (4, 6, 64));
    let mut offs = Vec::new();
    for _ in 0..8 {
        c.grow(&mut p, GFP_KERNEL).unwrap();
        let s = SlabRef(c.slabs_free.head);
        assert_eq!((s.index_mul(), s.index_shift() as u32), (c.index_mul, c.index_shift));
        offs.push(s.s_mem() - (s.0 + c.mgmt_size));
    }
    assert_eq!(offs, [0, 64, 128, 192, 256, 320, 0, 64]);
    assert_eq!(c.shrink(&mut p), 8);
    assert_eq!(p.outstanding, 0);
}

/// `exact_index` lands an offset below `num` exactly at the start of an
/// object, for every buffer size and every offset of a slab, and for
/// offsets that wrapped (a pointer before the objects).
#[test]
fn exact_index_accepts_only_object_starts() {
    for d in (4..=PAGE_SIZE << 1).step_by(4).chain([96, 192, 3 * 1024, 5000, 24 * 1024]) {
        let (mul, shift) = exact_index(d);
        let num = ((PAGE_SIZE << MAX_SLAB_ORDER) / d).max(1);
        let index = |rel: usize| obj_to_index(rel, mul, shift);
        let span = num * d;
        // Around every object start: the start, just after, mid-object, just before.
        for q in 0..num + 2 {
            for rel in [0, 1, 2, 4, d / 2, d - 4, d - 2, d - 1].map(|x| q * d + x) {
                let i = index(rel);
                assert_eq!(i < num, rel < span && rel % d == 0, "d {d} rel {rel}");
                if i < num {
                    assert_eq!(i * d, rel);
                }
            }
        }
        for back in (1..=4 * d).step_by(if d > 64 { 3 } else { 1 }) {
            assert!(index(0usize.wrapping_sub(back)) >= num, "d {d}: {back} before the objects");
        }
    }
}
