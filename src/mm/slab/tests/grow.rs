//! Host tests of `slab/grow.rs`: growing with the caller's flags, without
//! the lock, and failing.

use super::*;

#[test]
fn alloc_failure_is_no_memory() {
    let mut p = TestPages::new(256);
    p.max_pages = 1;
    let mut c = cache("tight", 64, SlabFlags::empty());
    let objs: Vec<_> = (0..c.num).map(|_| c.alloc(&mut p, GFP_KERNEL).unwrap()).collect();
    assert_eq!(c.alloc(&mut p, GFP_KERNEL), Err(AllocError::NoMemory));
    assert_eq!(AllocError::NoMemory.to_string(), "out of memory");
    for o in objs {
        c.put(&mut p, o).unwrap();
    }
    c.shrink(&mut p);
    assert_eq!(p.outstanding, 0);
}

/// Growing takes the caller's flags to the page allocator (Linux's
/// `cache_grow(flags)`): an atomic caller's slab is asked atomically.
#[test]
fn growth_passes_the_callers_gfp() {
    let mut p = TestPages::new(64);
    let mut c = cache("flags", 64, SlabFlags::empty());
    let a = c.alloc(&mut p, GFP_ATOMIC | Gfp::ZERO | Gfp::NOWARN).unwrap();
    assert_eq!(p.blocks[&(a & !4095)].gfp, GFP_ATOMIC | Gfp::NOWARN, "zeroing is kmalloc's, not the slab's");
    assert_eq!(c.slab_gfp(GFP_KERNEL | Gfp::NOFAIL | Gfp::HIGHMEM), GFP_KERNEL | Gfp::NOFAIL);
    c.put(&mut p, a).unwrap();
    c.shrink(&mut p);
    assert_eq!(p.outstanding, 0);
}

/// A caller that may sleep grows the cache without its lock: `alloc_nogrow`
/// says `MustGrow`, `GrowSpec::alloc` gets the memory, `add_slab` carves
/// it; memory got for a cache that is gone meanwhile comes back.
#[test]
fn growth_without_the_lock() {
    let mut p = TestPages::new(64);
    for size in [64, 2048] {
        let mut c = cache("nogrow", size, SlabFlags::empty());
        assert_eq!(c.alloc_nogrow(&mut p), Err(AllocError::MustGrow));
        let new = c.grow_spec(GFP_KERNEL).alloc(&mut p).unwrap();
        c.add_slab(&mut p, new).unwrap();
        let a = c.alloc_nogrow(&mut p).unwrap();
        assert!(c.owns(&p, a));
        let stale = c.grow_spec(GFP_KERNEL).alloc(&mut p).unwrap();
        c.put(&mut p, a).unwrap();
        c.destroy(&mut p).unwrap();
        let mut d = cache("nogrow", size, SlabFlags::empty());
        let back = d.add_slab(&mut p, stale).unwrap_err();
        back.release(&mut p);
        assert_eq!((p.outstanding, p.mgmt.len()), (0, 0));
        // A debug cache too.
        let mut dbg = cache("nogrow-debug", size, SlabFlags::DEBUG);
        assert_eq!(dbg.alloc_nogrow(&mut p), Err(AllocError::MustGrow));
    }
}

/// Off the slab, a failed management allocation fails the growth and
/// gives the pages back.
#[test]
fn off_slab_management_failure_is_no_memory() {
    let mut p = TestPages::new(64);
    let mut c = cache("offslab", 1024, SlabFlags::empty());
    assert!(c.off_slab);
    p.mgmt_fail = true;
    assert_eq!(c.alloc(&mut p, GFP_KERNEL), Err(AllocError::NoMemory));
    assert_eq!(p.outstanding, 0);
    p.mgmt_fail = false;
    let objs: Vec<_> = (0..9).map(|_| c.alloc(&mut p, GFP_KERNEL).unwrap()).collect();
    // Three order-0 slabs of 4 objects, each object a quarter page.
    assert!(objs.iter().all(|o| o % 1024 == 0));
    assert_eq!((c.stats().num_slabs, p.mgmt.len()), (3, 3));
    for o in objs {
        c.put(&mut p, o).unwrap();
    }
    check(&c);
    c.shrink(&mut p);
    assert_eq!((p.outstanding, p.mgmt.len()), (0, 0));
}
