//! The LRU lists against a model: three `VecDeque`s of PFNs, head first.

use super::*;
use proptest::prelude::*;
use std::collections::VecDeque;

const PAGES: usize = 48;

fn mem_map() -> Vec<Page> {
    (0..PAGES)
        .map(|_| {
            let p = Page::new();
            p.set_page_count(1);
            p
        })
        .collect()
}

fn counters() -> [AtomicUsize; NR_LRU_LISTS] {
    [AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)]
}

const LISTS: [LruList; 3] = [LruList::InactiveAnon, LruList::ActiveAnon, LruList::Unevictable];

#[derive(Clone, Debug)]
enum Op {
    Add(u32, usize),
    Del(u32),
    Move(u32, usize),
    Isolate(usize, usize),
    Free(u32),
    PutbackAll(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let pfn = 0..PAGES as u32;
    prop_oneof![
        (pfn.clone(), 0..3usize).prop_map(|(p, l)| Op::Add(p, l)),
        pfn.clone().prop_map(Op::Del),
        (pfn.clone(), 0..3usize).prop_map(|(p, l)| Op::Move(p, l)),
        (0..3usize, 0..40usize).prop_map(|(l, m)| Op::Isolate(l, m)),
        pfn.prop_map(Op::Free),
        (0..3usize).prop_map(Op::PutbackAll),
    ]
}

proptest! {
    /// Lists, counters, flags and page counts agree with the model after
    /// any sequence of adds, removals, moves, isolations (which skip pages
    /// being freed), frees and putbacks.
    #[test]
    fn lru_lists_follow_the_model(ops in prop::collection::vec(op(), 1..120)) {
        let mm = mem_map();
        let nr = counters();
        let mut lru = LruLists::new();
        let mut model: [VecDeque<u32>; 3] = Default::default();
        let mut isolated: Vec<u32> = Vec::new();
        let on = |model: &[VecDeque<u32>; 3], p: u32| model.iter().position(|l| l.contains(&p));
        for op in ops {
            match op {
                Op::Add(p, l) => {
                    if on(&model, p).is_none() && !isolated.contains(&p) {
                        lru.add(&mm, &nr, p, LISTS[l]);
                        model[l].push_front(p);
                    }
                }
                Op::Del(p) => {
                    let was = lru.del(&mm, &nr, p);
                    let m = on(&model, p);
                    prop_assert_eq!(was.map(|l| l as usize), m);
                    if let Some(l) = m {
                        model[l].retain(|&x| x != p);
                    }
                }
                Op::Move(p, l) => {
                    lru.move_to(&mm, &nr, p, LISTS[l]);
                    if let Some(from) = on(&model, p) {
                        model[from].retain(|&x| x != p);
                        model[l].push_front(p);
                    }
                }
                Op::Isolate(l, max) => {
                    let mut b = PageBatch::new();
                    let scanned = lru.isolate(&mm, &nr, LISTS[l], max, &mut b);
                    // The model: from the tail, taking live pages until the
                    // batch is full or `max` were scanned.
                    let mut want = Vec::new();
                    let mut skipped = Vec::new();
                    let mut n = 0;
                    while n < max && want.len() < SWAP_CLUSTER_MAX {
                        let Some(p) = model[l].pop_back() else { break };
                        n += 1;
                        if mm[p as usize].page_count() > 0 { want.push(p) } else { skipped.push(p) }
                    }
                    for p in skipped.into_iter().rev() {
                        model[l].push_back(p);
                    }
                    prop_assert_eq!(scanned, n);
                    prop_assert_eq!(b.as_slice(), &want[..]);
                    for &p in b.as_slice() {
                        prop_assert_eq!(mm[p as usize].page_count(), 2);
                        prop_assert!(!mm[p as usize].flags().contains(PageFlags::LRU));
                    }
                    isolated.extend_from_slice(b.as_slice());
                }
                Op::Free(p) => {
                    // A page on a list whose last reference goes: count 0
                    // until its freer takes it off (which Del models).
                    if on(&model, p).is_some() && mm[p as usize].page_count() == 1 {
                        mm[p as usize].set_page_count(0);
                    }
                }
                Op::PutbackAll(l) => {
                    for p in isolated.drain(..) {
                        lru.putback(&mm, &nr, p, LISTS[l]);
                        prop_assert!(!mm[p as usize].put_testzero());
                        model[l].push_front(p);
                    }
                }
            }
            for (i, l) in LISTS.iter().enumerate() {
                let got: Vec<u32> = lru.iter(&mm, *l).collect();
                let want: Vec<u32> = model[i].iter().copied().collect();
                prop_assert_eq!(&got, &want);
                prop_assert_eq!(nr[i].load(Relaxed), want.len());
                prop_assert_eq!(lru.len(*l), want.len());
                for p in want {
                    prop_assert_eq!(page_lru(&mm[p as usize]), *l);
                    prop_assert!(mm[p as usize].flags().contains(PageFlags::LRU));
                }
            }
        }
    }
}

#[test]
fn a_batch_holds_one_reclaim_cluster() {
    let mut b = PageBatch::new();
    for i in 0..SWAP_CLUSTER_MAX as u32 {
        assert!(b.push(i));
    }
    assert!(b.is_full() && !b.push(99));
    assert_eq!(b.as_slice().len(), SWAP_CLUSTER_MAX);
    b.clear();
    assert!(b.is_empty());
}
