//! Host tests of `mm::page` (and the page lists of `mm::list`).

use super::*;
use crate::mm::list::List;
use proptest::prelude::*;

#[test]
fn descriptor_fits_in_32_bytes() {
    assert_eq!(core::mem::size_of::<Page>(), 32);
}

#[test]
fn push_pop_remove_keep_order() {
    let mm = vec![Page::EMPTY; 16];
    let mut l = List::new();
    l.push_back(&mm, 3);
    l.push_back(&mm, 5);
    l.push_front(&mm, 7);
    assert_eq!(l.iter(&mm).collect::<Vec<_>>(), [7, 3, 5]);
    l.remove(&mm, 3);
    assert!(!mm[3].is_linked());
    assert_eq!(l.iter(&mm).collect::<Vec<_>>(), [7, 5]);
    assert_eq!(l.pop_back(&mm), Some(5));
    assert_eq!(l.pop_front(&mm), Some(7));
    assert_eq!(l.pop_front(&mm), None);
    assert!(l.is_empty() && l.first().is_none() && l.last().is_none());
    let empty = Page::new();
    assert!(mm.iter().all(|p| *p == empty), "every page left unlinked");
}

#[test]
fn two_lists_share_one_mem_map() {
    let mm = vec![Page::EMPTY; 8];
    let (mut a, mut b) = (List::new(), List::new());
    for pfn in 0..8 {
        if pfn % 2 == 0 {
            a.push_back(&mm, pfn)
        } else {
            b.push_front(&mm, pfn)
        }
    }
    assert_eq!(a.iter(&mm).collect::<Vec<_>>(), [0, 2, 4, 6]);
    assert_eq!(b.iter(&mm).collect::<Vec<_>>(), [7, 5, 3, 1]);
}

#[test]
fn refcount_helpers() {
    let p = Page::EMPTY;
    p.set_page_count(1);
    p.get();
    assert!(!p.put_testzero());
    assert!(p.put_testzero());
    let (reserved, empty) = (Page::RESERVED, Page::new());
    assert!(reserved.is_reserved() && !empty.is_reserved());
}

#[test]
fn mapcount_is_biased_as_linux_does() {
    let p = Page::EMPTY;
    assert_eq!(p.page_mapcount(), 0, "a new page is unmapped");
    assert!(p.inc_mapcount(), "the first mapping is reported");
    assert!(!p.inc_mapcount());
    assert_eq!(p.page_mapcount(), 2);
    assert!(!p.dec_mapcount());
    assert!(p.dec_mapcount(), "the last unmapping is reported");
    assert_eq!(p.page_mapcount(), 0);
    p.__set_page_buddy();
    assert!(p.is_buddy() && p.page_mapcount() != 0, "a buddy page never passes for unmapped");
    p.__clear_page_buddy();
    assert!(!p.is_buddy() && p.page_mapcount() == 0);
}

#[test]
fn flag_bits_atomic_and_owner_only_agree() {
    let p = Page::EMPTY;
    p.set_page_links(2, 0);
    assert!(!p.test_and_set_flag(PageFlags::LOCKED), "was unlocked");
    assert!(p.test_and_set_flag(PageFlags::LOCKED), "a second locker sees it taken");
    p.__set_flag(PageFlags::SWAPBACKED);
    p.set_flag(PageFlags::DIRTY);
    assert_eq!(p.flags(), PageFlags::LOCKED | PageFlags::SWAPBACKED | PageFlags::DIRTY);
    assert!(p.test_and_clear_flag(PageFlags::DIRTY) && !p.test_and_clear_flag(PageFlags::DIRTY));
    p.__clear_flag(PageFlags::SWAPBACKED);
    p.clear_flag(PageFlags::LOCKED);
    assert_eq!(p.flags(), PageFlags::empty());
    assert_eq!((p.zone_id(), p.node_id()), (2, 0), "the flag bits leave the zone and node alone");
}

#[test]
fn mapping_word_tells_anon_from_slab() {
    let p = Page::EMPTY;
    p.set_mapping(0x1000 | PAGE_MAPPING_ANON);
    assert!(p.is_anon());
    p.set_flag(PageFlags::SLAB);
    assert!(!p.is_anon(), "while SLAB the word is a cache id");
    assert_eq!(p.slab_cache(), 0x1001);
}

proptest! {
    /// The intrusive list behaves like a VecDeque under any operations.
    #[test]
    fn list_matches_a_deque(ops in proptest::collection::vec((0u8..4, 0u32..32), 0..200)) {
        let mm = vec![Page::EMPTY; 32];
        let mut l = List::new();
        let mut model = std::collections::VecDeque::new();
        for (op, pfn) in ops {
            match op {
                0 if !model.contains(&pfn) => { l.push_front(&mm, pfn); model.push_front(pfn) }
                1 if !model.contains(&pfn) => { l.push_back(&mm, pfn); model.push_back(pfn) }
                2 if model.contains(&pfn) => {
                    l.remove(&mm, pfn);
                    model.retain(|&x| x != pfn);
                }
                3 => prop_assert_eq!(l.pop_front(&mm), model.pop_front()),
                _ => {}
            }
            prop_assert_eq!(l.iter(&mm).collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(l.len(), model.len());
            prop_assert_eq!(l.last(), model.back().copied());
        }
    }
}
