//! The slot map against a model: a count per slot.

use super::*;
use proptest::prelude::*;

#[test]
fn header_and_bad_pages_are_never_handed_out() {
    let mut m = SwapMap::new(15, &[3, 7, 99]).unwrap();
    assert_eq!((m.max(), m.pages()), (16, 13));
    let mut got: Vec<u32> = core::iter::from_fn(|| m.alloc()).collect();
    got.sort();
    assert_eq!(got, vec![1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15]);
    assert_eq!(m.inuse(), 13);
    assert_eq!(m.count(0), SWAP_MAP_BAD);
    assert!(!m.dup(0) && m.free(0).is_none() && !m.dup(3) && m.free(3).is_none());
}

#[test]
fn slots_come_next_fit_and_wrap() {
    let mut m = SwapMap::new(8, &[]).unwrap();
    assert_eq!([m.alloc(), m.alloc(), m.alloc()], [Some(1), Some(2), Some(3)]);
    assert_eq!(m.free(2), Some(0));
    // The cursor goes on from 4, and wraps round to 2 when the end is used.
    assert_eq!([m.alloc(), m.alloc(), m.alloc(), m.alloc(), m.alloc()], [Some(4), Some(5), Some(6), Some(7), Some(8)]);
    assert_eq!(m.alloc(), Some(2));
    assert_eq!(m.alloc(), None);
}

#[test]
fn the_cache_holds_one_page_per_used_slot() {
    let mut m = SwapMap::new(4, &[]).unwrap();
    assert!(!m.set_cached(1, 77), "a free slot cannot be cached");
    let s = m.alloc().unwrap();
    assert!(m.set_cached(s, 77) && !m.set_cached(s, 78));
    assert_eq!((m.cached(s), m.nr_cached()), (Some(77), 1));
    assert_eq!(m.clear_cached(s), Some(77));
    assert_eq!((m.cached(s), m.nr_cached()), (None, 0));
    // pfn 0 is a page like any other.
    assert!(m.set_cached(s, 0) && m.cached(s) == Some(0));
}

#[test]
fn counts_stop_at_the_maximum() {
    let mut m = SwapMap::new(2, &[]).unwrap();
    let s = m.alloc().unwrap();
    for _ in 1..SWAP_MAP_MAX {
        assert!(m.dup(s));
    }
    assert_eq!(m.count(s), SWAP_MAP_MAX);
    assert!(!m.dup(s));
}

#[derive(Clone, Debug)]
enum Op {
    Alloc,
    Dup(u32),
    Free(u32),
}

proptest! {
    /// Counts, the in-use total and the free slots agree with a model of
    /// counts after any sequence; every allocation is a slot that was free
    /// and is not bad.
    #[test]
    fn swap_map_follows_the_model(
        last in 1u32..64,
        bad in prop::collection::vec(1u32..64, 0..6),
        ops in prop::collection::vec(prop_oneof![
            Just(Op::Alloc),
            (0u32..70).prop_map(Op::Dup),
            (0u32..70).prop_map(Op::Free),
        ], 1..200),
    ) {
        let mut m = SwapMap::new(last, &bad).unwrap();
        let is_bad = |o: u32| o == 0 || bad.contains(&o);
        let mut model: Vec<u16> = (0..=last).map(|_| 0).collect();
        for op in ops {
            match op {
                Op::Alloc => match m.alloc() {
                    Some(o) => {
                        prop_assert!(!is_bad(o) && o <= last && model[o as usize] == 0);
                        model[o as usize] = 1;
                    }
                    None => prop_assert!((1..=last).all(|o| is_bad(o) || model[o as usize] > 0)),
                },
                Op::Dup(o) => {
                    let ok = m.dup(o);
                    let want = o <= last && !is_bad(o) && model[o as usize] > 0;
                    prop_assert_eq!(ok, want);
                    if ok { model[o as usize] += 1; }
                }
                Op::Free(o) => {
                    let left = m.free(o);
                    if o <= last && !is_bad(o) && model[o as usize] > 0 {
                        model[o as usize] -= 1;
                        prop_assert_eq!(left, Some(model[o as usize]));
                    } else {
                        prop_assert_eq!(left, None);
                    }
                }
            }
            let used = (1..=last).filter(|&o| !is_bad(o) && model[o as usize] > 0).count() as u32;
            prop_assert_eq!(m.inuse(), used);
            for o in 1..=last {
                if !is_bad(o) {
                    prop_assert_eq!(m.count(o), model[o as usize]);
                }
            }
        }
    }
}
