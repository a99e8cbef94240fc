//! Host tests of `slab_debug.rs` and the findings every cache reports:
//! red zones, poison, double frees, foreign pointers.

use super::*;

#[test]
fn red_zone_overrun_is_reported_and_object_quarantined() {
    let mut p = TestPages::new(256);
    let mut c = cache("kmalloc-64", 64, SlabFlags::RED_ZONE);
    let a = c.alloc(&mut p, GFP_KERNEL).unwrap();
    let b = c.alloc(&mut p, GFP_KERNEL).unwrap();
    fill(a + 64, 0x41, 8); // one word past the end
    let bug = c.put(&mut p, a).unwrap_err();
    assert_eq!(bug, bug_of("kmalloc-64", a, BugKind::RedZone { after: true, value: 0x4141_4141_4141_4141 }));
    assert_eq!(
        bug.to_string(),
        format!("slab kmalloc-64: object {a:#x}: red zone after the object overwritten (0x4141414141414141)")
    );
    fill(b - 8, 0, 4); // an underrun
    let bug = c.put(&mut p, b).unwrap_err();
    assert_eq!(
        bug.to_string(),
        format!("slab kmalloc-64: object {b:#x}: red zone before the object overwritten (0xd84156c500000000)")
    );
    // Never handed out again; freeing it again is a double free.
    assert_eq!(c.quarantined(), 2);
    let rest: Vec<_> = (0..3 * c.num).map(|_| c.alloc(&mut p, GFP_KERNEL).unwrap()).collect();
    assert!(!rest.contains(&a) && !rest.contains(&b));
    assert!(matches!(c.put(&mut p, a), Err(SlabBug { kind: BugKind::DoubleFree, .. })));
    for o in rest {
        c.put(&mut p, o).unwrap();
    }
    check(&c);
    assert_eq!(c.stats().active_objs, 2);
    // Destroy succeeds; the slab with the quarantined objects is leaked.
    c.destroy(&mut p).unwrap();
    assert_eq!(p.outstanding, 1 << c.slab_order());
}

#[test]
fn red_zone_checked_on_alloc() {
    let mut p = TestPages::new(256);
    let mut c = cache("rz", 64, SlabFlags::RED_ZONE);
    let a = c.alloc(&mut p, GFP_KERNEL).unwrap();
    let b = c.alloc(&mut p, GFP_KERNEL).unwrap();
    assert_eq!(b, a + c.buffer_size);
    c.put(&mut p, b).unwrap();
    // Run over a's red zone into the free object b's.
    fill(a + 64, 0x41, 16);
    let bug = c.alloc(&mut p, GFP_KERNEL).unwrap_err();
    assert_eq!(bug, AllocError::Bug(bug_of("rz", b, BugKind::RedZone { after: false, value: 0x4141_4141_4141_4141 })));
    assert!(matches!(c.put(&mut p, a), Err(SlabBug { kind: BugKind::RedZone { after: true, .. }, .. })));
    assert_eq!(c.quarantined(), 2);
    assert!(c.alloc(&mut p, GFP_KERNEL).is_ok_and(|o| o != a && o != b));
}

#[test]
fn write_after_free_is_reported_by_poison_check() {
    let mut p = TestPages::new(256);
    let mut c = cache("kmalloc-64", 64, SlabFlags::POISON);
    let a = c.alloc(&mut p, GFP_KERNEL).unwrap();
    assert!(p.bytes(a, 64).iter().all(|&b| b == POISON_INUSE));
    c.put(&mut p, a).unwrap();
    assert_eq!(p.bytes(a, 64)[62..], [POISON_FREE, POISON_END]);
    fill(a + 12, 0, 1);
    let bug = c.alloc(&mut p, GFP_KERNEL).unwrap_err();
    assert_eq!(bug, AllocError::Bug(bug_of("kmalloc-64", a, BugKind::Poison { offset: 12, value: 0 })));
    assert_eq!(bug.to_string(), format!("slab kmalloc-64: object {a:#x}: poison overwritten at offset 12 (0x00)"));
    let b = c.alloc(&mut p, GFP_KERNEL).unwrap();
    assert_ne!(b, a);
    assert_eq!((c.quarantined(), c.stats().active_objs), (1, 2));
}

#[test]
fn poison_with_ctor_reruns_ctor_after_check() {
    let mut p = TestPages::new(256);
    let mut c = KmemCache::create("pctor", 64, 0, SlabFlags::DEBUG, Some(ctor)).unwrap();
    let before = ctor_calls();
    let a = c.alloc(&mut p, GFP_KERNEL).unwrap();
    // Poison would destroy constructed state, so (as 2.6.24) the ctor
    // runs on each allocation, not at slab creation.
    assert_eq!((ctor_calls() - before, word(a)), (1, CTOR_WORD));
    c.put(&mut p, a).unwrap();
    assert_eq!(word(a), u64::from_ne_bytes([POISON_FREE; 8]));
    let b = c.alloc(&mut p, GFP_KERNEL).unwrap();
    assert_eq!((b, word(b), ctor_calls() - before), (a, CTOR_WORD, 2));
    // A write after free is still caught before the ctor hides it.
    c.put(&mut p, b).unwrap();
    set_word(b, 7);
    assert!(matches!(
        c.alloc(&mut p, GFP_KERNEL),
        Err(AllocError::Bug(SlabBug { kind: BugKind::Poison { offset: 0, value: 7 }, .. }))
    ));
    assert_eq!(ctor_calls() - before, 2);
}

#[test]
fn double_free_is_reported() {
    let mut p = TestPages::new(256);
    let mut d = cache("dbg", 64, SlabFlags::DEBUG);
    let a = d.alloc(&mut p, GFP_KERNEL).unwrap();
    d.put(&mut p, a).unwrap();
    let bug = d.put(&mut p, a).unwrap_err();
    assert_eq!(bug.to_string(), format!("slab dbg: object {a:#x}: double free"));
    // A plain cache sees it once the object is back in its slab.
    let mut c = cache("plain", 64, SlabFlags::empty());
    let keep = c.alloc(&mut p, GFP_KERNEL).unwrap();
    let a = c.alloc(&mut p, GFP_KERNEL).unwrap();
    c.put(&mut p, a).unwrap();
    c.shrink(&mut p);
    assert_eq!(c.put(&mut p, a), Err(bug_of("plain", a, BugKind::DoubleFree)));
    c.put(&mut p, keep).unwrap();
    check(&c);
}

/// A second free of an object that still waits in the array cache is
/// reported at once, naming the cache and the object, and does not put the
/// object in the array twice: two later allocations are two objects.
#[test]
fn double_free_in_array_cache_is_reported_at_once() {
    let mut p = TestPages::new(256);
    for size in [64, 1024] {
        let mut c = cache("plain", size, SlabFlags::empty());
        let keep = c.alloc(&mut p, GFP_KERNEL).unwrap();
        let a = c.alloc(&mut p, GFP_KERNEL).unwrap();
        c.put(&mut p, a).unwrap();
        let cached = c.cpu_cached();
        let bug = c.put(&mut p, a).unwrap_err();
        assert_eq!(bug, bug_of("plain", a, BugKind::DoubleFree));
        assert_eq!(bug.to_string(), format!("slab plain: object {a:#x}: double free"));
        assert_eq!(c.cpu_cached(), cached, "the second free reached the array");
        let (x, y) = (c.alloc(&mut p, GFP_KERNEL).unwrap(), c.alloc(&mut p, GFP_KERNEL).unwrap());
        assert_ne!(x, y, "two allocations returned the same object");
        // Allocated again: freeing it once is fine, twice is not.
        for o in [x, y, keep] {
            c.put(&mut p, o).unwrap();
        }
        assert_eq!(c.put(&mut p, x), Err(bug_of("plain", x, BugKind::DoubleFree)));
        check(&c);
        c.shrink(&mut p);
        assert_eq!(p.outstanding, 0);
        assert!(p.mgmt.is_empty());
    }
}

#[test]
fn foreign_pointers_are_reported() {
    let mut p = TestPages::new(256);
    let mut a = cache("kmalloc-64", 64, SlabFlags::empty());
    let mut b = cache("other", 64, SlabFlags::DEBUG);
    let x = a.alloc(&mut p, GFP_KERNEL).unwrap();
    let y = b.alloc(&mut p, GFP_KERNEL).unwrap();
    let why = |r: Result<(), SlabBug>| match r {
        Err(SlabBug { kind: BugKind::ForeignPointer(why), .. }) => why,
        other => panic!("{other:?}"),
    };
    assert_eq!(why(a.put(&mut p, y)), Foreign::OtherCache(b.id()));
    assert_eq!(why(b.put(&mut p, x)), Foreign::OtherCache(a.id()));
    assert_eq!(why(a.put(&mut p, x + 4)), Foreign::MidObject { index: a.obj_index(SlabRef(x & !4095), x), offset: 4 });
    assert_eq!(why(b.put(&mut p, y - 8)), Foreign::MidObject { index: 0, offset: -8 });
    assert_eq!(why(a.put(&mut p, x & !4095)), Foreign::OutsideObjects);
    let page = p.kmem_getpages(0, GFP_KERNEL).unwrap();
    fill(page, 0, PAGE_SIZE);
    assert_eq!(why(a.put(&mut p, page + 128)), Foreign::NotASlab);
    let local = 0u64;
    assert_eq!(why(a.put(&mut p, &local as *const u64 as usize)), Foreign::Unmapped);
    assert_eq!(why(a.put(&mut p, 0x10)), Foreign::Unmapped);
    let e = a.put(&mut p, y).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("slab kmalloc-64: object {y:#x}: foreign pointer (in a slab of cache #{})", b.id())
    );
    let i = a.obj_index(SlabRef(x & !4095), x);
    assert_eq!(
        a.put(&mut p, x + 4).unwrap_err().to_string(),
        format!("slab kmalloc-64: object {:#x}: foreign pointer (offset 4 inside object {i}, not its start)", x + 4)
    );
    assert!(a.owns(&p, x) && !a.owns(&p, y) && !a.owns(&p, x + 4) && !a.owns(&p, page));
    // Nothing was disturbed.
    a.put(&mut p, x).unwrap();
    b.put(&mut p, y).unwrap();
    p.kmem_freepages(page, 0);
    check(&a);
    check(&b);
    a.shrink(&mut p);
    b.shrink(&mut p);
    assert_eq!(p.outstanding, 0);
}
