//! Host tests of `mm::vmap_area`.

use super::*;

const S: usize = 0xf880_0000;
const E: usize = 0xff7f_e000;

#[test]
fn first_fit_with_guard_pages() {
    let mut v = VmapAreas::new(S, E);
    let a = v.reserve(1, VmKind::Vmalloc, 1).unwrap();
    let b = v.reserve(4, VmKind::Vmalloc, 2).unwrap();
    assert_eq!(a, S);
    assert_eq!(b, S + 2 * PAGE_SIZE, "one page plus its guard page");
    v.remove(a).unwrap();
    // A one-page hole (plus guard) is reused first.
    assert_eq!(v.reserve(1, VmKind::Vmap, 3), Some(S));
    assert_eq!(v.reserve(2, VmKind::Vmap, 3), Some(b + 5 * PAGE_SIZE));
}

#[test]
fn lookup_names_guard_and_holes() {
    let mut v = VmapAreas::new(S, E);
    let a = v.reserve(2, VmKind::Vmalloc, 1).unwrap();
    assert!(matches!(v.lookup(a), Lookup::Mapped(_)));
    assert!(matches!(v.lookup(a + 2 * PAGE_SIZE - 1), Lookup::Mapped(_)));
    assert!(matches!(v.lookup(a + 2 * PAGE_SIZE), Lookup::Guard(_)));
    assert_eq!(v.lookup(a + 3 * PAGE_SIZE), Lookup::Unallocated);
    assert_eq!(v.lookup(S - 1), Lookup::Outside);
    assert_eq!(v.lookup(E), Lookup::Outside);
}

#[test]
fn exhaustion_and_sizes() {
    let mut v = VmapAreas::new(S, S + 10 * PAGE_SIZE);
    assert!(v.reserve(10, VmKind::Vmalloc, 0).is_none(), "no room for the guard page");
    let a = v.reserve(9, VmKind::Vmalloc, 0).unwrap();
    assert_eq!(v.largest_free(), 0);
    v.remove(a);
    assert_eq!(v.largest_free(), 10 * PAGE_SIZE);
    assert!(v.reserve(usize::MAX / PAGE_SIZE, VmKind::Vmalloc, 0).is_none());
}

#[test]
fn too_big_and_full_are_told_apart_before_anything_is_taken() {
    let mut v = VmapAreas::new(S, S + 10 * PAGE_SIZE);
    let area = 10 * PAGE_SIZE;
    assert_eq!(
        v.reserve_checked(10, VmKind::Vmalloc, 0),
        Err(VmallocError::TooBig { size: 10 * PAGE_SIZE, area }),
        "10 pages and a guard page exceed 10 pages of area"
    );
    assert_eq!(v.reserve_checked(usize::MAX, VmKind::Vmalloc, 0), Err(VmallocError::TooBig { size: usize::MAX, area }));
    assert_eq!(v.iter().count(), 0, "a refused request records nothing");
    let a = v.reserve_checked(4, VmKind::Vmalloc, 0).unwrap();
    let _b = v.reserve_checked(3, VmKind::Vmalloc, 0).unwrap();
    // 5 + 4 pages taken, one page left: fits as a size, not as a gap.
    assert_eq!(
        v.reserve_checked(2, VmKind::Vmalloc, 0),
        Err(VmallocError::NoSpace { size: 2 * PAGE_SIZE, largest_free: PAGE_SIZE })
    );
    v.remove(a);
    assert_eq!(v.reserve_checked(2, VmKind::Vmalloc, 0), Ok(S));
    let msg = VmallocError::TooBig { size: 200 << 20, area: 111 << 20 }.to_string();
    assert!(msg.starts_with("too big: 209715200 bytes (204800K)"), "{msg}");
    assert!(msg.contains("area of 116391936 bytes (113664K)") && msg.len() < 140, "{msg}");
    let msg = VmallocError::NoSpace { size: 4 << 20, largest_free: 8192 }.to_string();
    assert!(msg.contains("full or fragmented (largest gap 8K) for 4096K"), "{msg}");
}

#[test]
fn find_room_then_insert_is_reserve() {
    let mut v = VmapAreas::new(S, E);
    let a = v.reserve(1, VmKind::Vmalloc, 1).unwrap();
    let (b, size) = v.find_room(3).unwrap();
    assert_eq!((b, size), (a + 2 * PAGE_SIZE, 4 * PAGE_SIZE));
    assert_eq!(v.find_room(3), Some((b, size)), "find_room reserves nothing");
    v.insert(VmArea { addr: b, size, kind: VmKind::Vmap, caller: 2, pages: vec![7, 8, 9].into() });
    assert_eq!(v.reserve(1, VmKind::Vmalloc, 3), Some(b + size));
    assert_eq!(v.remove_kind(b, VmKind::Vmalloc), Err(Some(VmKind::Vmap)), "wrong kind: kept");
    assert_eq!(v.remove_kind(b + 1, VmKind::Vmap), Err(None));
    assert_eq!(v.remove_kind(b, VmKind::Vmap).unwrap().pages, vec![7, 8, 9]);
    assert_eq!(v.lookup(b), Lookup::Unallocated);
}

#[test]
fn reserve_into_a_hole_keeps_the_records_sorted_and_vfree_removes_only_a_filled_vmalloc_area() {
    let mut v = VmapAreas::new(S, E);
    let a = v.reserve(1, VmKind::Vmalloc, 1).unwrap();
    let b = v.reserve(1, VmKind::Vmap, 2).unwrap();
    let c = v.reserve(1, VmKind::Vmalloc, 3).unwrap();
    v.remove(b);
    // First fit: the hole between a and c, recorded between them.
    assert_eq!(v.reserve(1, VmKind::Vmalloc, 4), Some(b));
    let addrs: Vec<usize> = v.iter().map(|r| r.addr).collect();
    assert_eq!(addrs, vec![a, b, c]);
    assert_eq!(v.get(b).map(|r| r.caller), Some(4), "the record found at its address");
    // Reserved but without frames yet: not vmalloc's answer, kept.
    assert_eq!(v.remove_vmalloc(b).map(|r| r.to_vec()), Err(None));
    v.get_mut(b).unwrap().pages.push(5);
    let m = v.reserve(1, VmKind::Vmap, 5).unwrap();
    v.get_mut(m).unwrap().pages.push(6);
    assert_eq!(v.remove_vmalloc(m).map(|r| r.to_vec()), Err(Some(VmKind::Vmap)), "a vmap area: kept");
    assert_eq!(v.remove_vmalloc(b + 1).map(|r| r.to_vec()), Err(None));
    assert_eq!(v.remove_vmalloc(b).map(|r| r.to_vec()), Ok(vec![5]));
    assert!(v.get(b).is_none() && v.get(m).is_some());
}

#[test]
fn vmallocinfo_format() {
    let mut v = VmapAreas::new(0xf7405000, E);
    let a = v.reserve(1, VmKind::Vmalloc, 0).unwrap();
    v.get_mut(a).unwrap().pages.push(0x1234);
    let mut s = String::new();
    vmallocinfo_line(&mut s, &v.iter().next().unwrap().info(), "bpf_prog_alloc_no_stats+0x2b/0x1b0").unwrap();
    assert_eq!(s, "0xf7405000-0xf7407000    8192 bpf_prog_alloc_no_stats+0x2b/0x1b0 pages=1 vmalloc\n");
}

#[test]
fn records_grow_outside_the_lock_and_insert_without_allocating() {
    let mut v = VmapAreas::new(S, E);
    assert!(!v.has_room(), "an empty vector has no room yet");
    // Too small, or not empty: handed back untouched.
    let back = v.grow(Vec::with_capacity(0));
    assert_eq!(back.capacity(), 0);
    let back = v.grow(Vec::with_capacity(4));
    assert!(back.capacity() == 0 && v.has_room() && v.capacity() >= 4);
    let a = v.reserve(1, VmKind::Vmalloc, 1).unwrap();
    let b = v.reserve(2, VmKind::Vmap, 2).unwrap();
    let cap = v.capacity();
    while v.has_room() {
        v.reserve(1, VmKind::Vmalloc, 3).unwrap();
    }
    assert_eq!(v.capacity(), cap, "inserts within room never reallocate");
    let full = v.iter().count();
    let old = v.grow(Vec::with_capacity(2 * cap));
    assert_eq!(old.capacity(), cap, "the old vector is returned, to be freed outside the lock");
    assert!(old.is_empty() && v.has_room() && v.iter().count() == full);
    assert_eq!(v.get(b).map(|x| x.kind), Some(VmKind::Vmap), "records kept across the move");
    assert_eq!(v.remove(a).map(|x| x.caller), Some(1));
    assert!(v.get(a).is_none());
}

proptest::proptest! {
    #[test]
    fn areas_never_overlap(ops in proptest::collection::vec((1usize..40, proptest::bool::ANY), 1..200)) {
        let mut v = VmapAreas::new(S, S + 512 * PAGE_SIZE);
        let mut live: Vec<usize> = Vec::new();
        for (n, free) in ops {
            if free && !live.is_empty() {
                let a = live.swap_remove(n % live.len());
                proptest::prop_assert!(v.remove(a).is_some());
            } else if let Some(a) = v.reserve(n, VmKind::Vmalloc, 0) {
                live.push(a);
            }
            let mut prev_end = S;
            for a in v.iter() {
                proptest::prop_assert!(a.addr >= prev_end && a.addr + a.size <= S + 512 * PAGE_SIZE);
                prev_end = a.addr + a.size;
            }
        }
    }
}

#[test]
fn page_list_keeps_short_lists_in_the_record() {
    let mut l = PageList::new();
    for p in 1..=INLINE_PAGES as u32 {
        l.push(p);
    }
    assert!(matches!(l, PageList::Inline { .. }), "up to INLINE_PAGES frames need no allocation");
    assert_eq!(&*l, &[1, 2, 3, 4][..INLINE_PAGES]);
    l.push(99);
    assert!(matches!(l, PageList::Heap(_)), "one more moves the list to a Vec");
    assert_eq!(l.len(), INLINE_PAGES + 1);
    assert_eq!(l.last(), Some(&99));
    assert_eq!(l[..INLINE_PAGES], (1..=INLINE_PAGES as u32).collect::<Vec<_>>()[..], "in order");
    // The same frames compare equal wherever they are kept.
    let short: &[u32] = &[7, 8];
    assert_eq!(PageList::from(short), PageList::from(vec![7, 8]));
    assert!(matches!(PageList::from(short), PageList::Inline { len: 2, .. }));
    let long: Vec<u32> = (0..9).collect();
    assert_eq!(PageList::from(&long[..]), long);
    assert!(PageList::new().is_empty());
}

/// A filled vmalloc area of `pages` pages (frames 100.. as its list).
fn filled(v: &mut VmapAreas, pages: usize) -> usize {
    let r = v.reserve_reusing(pages, VmKind::Vmalloc, 0).unwrap();
    let a = v.get_mut(r.addr).unwrap();
    for p in 0..pages {
        a.pages.push(100 + p as u32);
    }
    r.addr
}

#[test]
fn vfree_keeps_the_record_and_first_fit_takes_freed_room_back() {
    let mut v = VmapAreas::new(S, E);
    let a = filled(&mut v, 4);
    let b = filled(&mut v, 1);
    let pages = v.free_in_place(a).unwrap();
    assert_eq!(*pages, vec![100, 101, 102, 103]);
    assert_eq!(pages.clear(), None, "an inline list is emptied in place");
    assert!(!v.freed_over_limit());
    assert_eq!(v.freed(), (1, 5), "four pages and the guard page stay occupied");
    // Freed: not listed, not named, not freed twice, occupied for callers
    // that do not take freed records back.
    assert_eq!(v.iter().count(), 1);
    assert_eq!(v.lookup(a), Lookup::Unallocated);
    assert_eq!(v.free_in_place(a), Err(None));
    assert_eq!(v.remove_vmalloc(a), Err(None));
    assert_eq!(v.find_room(1), Some((b + 2 * PAGE_SIZE, 2 * PAGE_SIZE)));
    // The same size takes the record back in place.
    assert_eq!(v.reserve_reusing(4, VmKind::Vmalloc, 7).unwrap(), Reserved { addr: a, index: 0 });
    assert_eq!(v.freed(), (0, 0));
    assert_eq!(v.get(a).map(|r| (r.kind, r.caller, r.pages.len())), Some((VmKind::Vmalloc, 7, 0)));
    assert_eq!(v.get_mut_at(0, a).map(|r| r.addr), Some(a));
    assert_eq!(v.get_mut_at(1, a).map(|r| r.addr), Some(a), "a stale index is searched for");
    // Another size goes there too (first fit): the freed records are dropped.
    v.get_mut(a).unwrap().pages.push(9);
    v.free_in_place(a).unwrap().clear();
    assert_eq!(v.reserve_reusing(2, VmKind::Vmalloc, 0).unwrap(), Reserved { addr: a, index: 0 });
    assert_eq!(v.freed(), (0, 0));
    // A freed record past the room is left alone.
    v.get_mut(b).unwrap().pages.push(9);
    v.free_in_place(b).unwrap().clear();
    let c = v.reserve_reusing(1, VmKind::Vmalloc, 0).unwrap();
    assert_eq!(c, Reserved { addr: a + 3 * PAGE_SIZE, index: 1 });
    assert_eq!(v.freed(), (1, 2));
    let addrs: Vec<(usize, VmKind)> = v.areas.iter().map(|r| (r.addr, r.kind)).collect();
    assert_eq!(addrs, vec![(a, VmKind::Vmalloc), (c.addr, VmKind::Vmalloc), (b, VmKind::Freed)], "sorted, no overlap");
}

#[test]
fn freed_areas_are_purged_when_many_or_when_nothing_else_fits() {
    let mut v = VmapAreas::new(S, S + 40 * PAGE_SIZE);
    let areas: Vec<usize> = (0..FREED_MAX_AREAS + 1).map(|_| filled(&mut v, 1)).collect();
    for (i, &a) in areas.iter().enumerate() {
        v.free_in_place(a).unwrap().clear();
        assert_eq!(v.freed_over_limit(), i == FREED_MAX_AREAS, "purge only past FREED_MAX_AREAS");
    }
    assert_eq!(v.purge_freed(), FREED_MAX_AREAS + 1);
    assert_eq!((v.freed(), v.iter().count(), v.largest_free()), ((0, 0), 0, 40 * PAGE_SIZE));
    // Full of freed records: a size that none has drops them, and fits.
    let a = filled(&mut v, 19);
    let b = filled(&mut v, 19);
    v.free_in_place(a).unwrap();
    v.free_in_place(b).unwrap();
    assert_eq!(
        v.reserve_checked(3, VmKind::Vmalloc, 0).map(|_| ()),
        Err(VmallocError::NoSpace { size: 3 * PAGE_SIZE, largest_free: 0 })
    );
    assert_eq!(v.reserve_reusing(3, VmKind::Vmalloc, 0), Ok(Reserved { addr: S, index: 0 }));
    assert_eq!(v.freed(), (0, 0));
    // Nothing freed and nothing free: no space.
    let mut w = VmapAreas::new(S, S + 2 * PAGE_SIZE);
    filled(&mut w, 1);
    assert!(matches!(w.reserve_reusing(1, VmKind::Vmalloc, 0), Err(VmallocError::NoSpace { .. })));
}
