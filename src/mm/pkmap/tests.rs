//! Host tests of `mm::pkmap`.

use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

const HIGH: u32 = 0x38000; // first highmem pfn with 896 MB of lowmem

/// A set of slots: the ones a wrap-around flush cleared.
#[derive(Clone, Copy, PartialEq, Eq)]
struct SlotSet {
    bits: [u32; LAST_PKMAP / 32],
}

impl SlotSet {
    const EMPTY: SlotSet = SlotSet { bits: [0; LAST_PKMAP / 32] };

    fn insert(&mut self, slot: usize) {
        assert!(!self.contains(slot), "slot {slot} cleared twice in one wrap");
        self.bits[slot / 32] |= 1 << (slot % 32);
    }

    fn contains(&self, slot: usize) -> bool {
        slot < LAST_PKMAP && self.bits[slot / 32] & (1 << (slot % 32)) != 0
    }

    fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    fn is_empty(&self) -> bool {
        self.bits.iter().all(|&w| w == 0)
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..LAST_PKMAP).filter(move |&s| self.contains(s))
    }
}

impl std::fmt::Debug for SlotSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// `kmap`'s answer with the slots its `clear_pte` calls named, collected
/// (`Some` exactly when the search wrapped and flushed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Km {
    Mapped { slot: usize, vaddr: usize, new: bool, flush_all: Option<SlotSet> },
    Full,
}

trait KmapCollect {
    fn km(&mut self, pfn: u32) -> Km;
}

impl<const N: usize> KmapCollect for PkmapSlots<N> {
    fn km(&mut self, pfn: u32) -> Km {
        let mut cleared = SlotSet::EMPTY;
        match self.kmap(pfn, |s| cleared.insert(s)) {
            KmapResult::Mapped { slot, vaddr, new, flushed } => {
                assert!(flushed || cleared.is_empty(), "PTEs cleared without a flush");
                Km::Mapped { slot, vaddr, new, flush_all: flushed.then_some(cleared) }
            }
            KmapResult::Full => {
                assert!(cleared.is_empty(), "PTEs cleared by a kmap that found no slot");
                Km::Full
            }
        }
    }
}

fn mapped(r: Km) -> (usize, bool, Option<SlotSet>) {
    match r {
        Km::Mapped { slot, vaddr: va, new, flush_all } => {
            assert_eq!(va, vaddr(slot));
            (slot, new, flush_all)
        }
        Km::Full => panic!("unexpected Full"),
    }
}

#[test]
fn slot_addresses() {
    assert_eq!(vaddr(0), PKMAP_BASE);
    assert_eq!(vaddr(LAST_PKMAP - 1), PKMAP_END - PAGE_SIZE);
    assert_eq!(slot_of(PKMAP_BASE + 5 * PAGE_SIZE + 123), Some(5));
    assert_eq!(slot_of(PKMAP_BASE - 1), None);
    assert_eq!(slot_of(PKMAP_END), None);
}

#[test]
fn same_page_twice_gets_same_slot_and_counts() {
    let mut pk = Pkmap::new();
    let (slot, new, flush) = mapped(pk.km(HIGH));
    assert!(new && flush.is_none());
    assert_eq!(slot, 1, "the search starts after last_pkmap_nr = 0");
    assert_eq!(mapped(pk.km(HIGH)), (slot, false, None), "no PTE write the second time");
    assert_eq!(pk.count(slot), 3, "two users");
    assert_eq!(pk.page_address(HIGH), Some(vaddr(slot)));
    let (other, _, _) = mapped(pk.km(HIGH + 1));
    assert_ne!(other, slot);
    let r = pk.kunmap(HIGH).unwrap();
    assert_eq!((r.users, r.wake), (1, false));
    let r = pk.kunmap(HIGH).unwrap();
    assert_eq!((r.slot, r.users, r.wake), (slot, 0, true));
    assert_eq!(pk.count(slot), 1, "free but stale");
    assert_eq!(pk.page_address(HIGH), Some(vaddr(slot)), "keeps its address until the flush");
    assert_eq!(pk.totals(), PkmapTotals { in_use: 1, free_clean: LAST_PKMAP - 2, free_stale: 1 });
    let s = pk.stats();
    assert_eq!((s.maps, s.reuses, s.unmaps, s.full_flushes), (2, 1, 2, 0));
}

#[test]
fn stale_slot_is_revived_without_a_pte_write() {
    let mut pk = Pkmap::new();
    let (slot, _, _) = mapped(pk.km(HIGH));
    pk.kunmap(HIGH).unwrap();
    assert_eq!(mapped(pk.km(HIGH)), (slot, false, None));
    assert_eq!(pk.count(slot), 2);
    assert_eq!(pk.stats().revived, 1);
    assert_eq!(pk.totals().free_stale, 0);
}

#[test]
fn fills_all_1024_slots_then_full() {
    let mut pk = Pkmap::new();
    let mut seen = SlotSet::EMPTY;
    for i in 0..LAST_PKMAP as u32 {
        let (slot, new, flush) = mapped(pk.km(HIGH + i));
        assert!(new && !seen.contains(slot));
        seen.insert(slot);
        // Slot 0 comes last: reaching it is the first wrap, which
        // flushes though nothing was stale (as in Linux).
        assert_eq!(flush.is_some(), slot == 0);
        assert!(flush.is_none_or(|c| c.is_empty()));
    }
    assert_eq!(seen.len(), LAST_PKMAP);
    assert_eq!(pk.totals(), PkmapTotals { in_use: LAST_PKMAP, free_clean: 0, free_stale: 0 });
    let before = pk.last_pkmap_nr();
    assert_eq!(pk.km(HIGH + 5000), Km::Full);
    assert_eq!(pk.last_pkmap_nr(), before, "Full changes nothing");
    assert_eq!(pk.stats().waits, 1);
    assert!(!mapped(pk.km(HIGH + 7)).1, "a mapped page is still served when full");
    assert_eq!(pk.slots().count(), LAST_PKMAP);
    assert_eq!(pk.stats().full_flushes, 1);
}

#[test]
fn kunmap_then_kmap_after_wrap_flushes_once() {
    let mut pk = Pkmap::new();
    for i in 0..LAST_PKMAP as u32 {
        pk.km(HIGH + i);
    }
    let freed = pk.page_address(HIGH + 300).and_then(slot_of).unwrap();
    assert!(pk.kunmap(HIGH + 300).unwrap().wake, "a waiter can now proceed");
    let (slot, new, flush) = mapped(pk.km(HIGH + 5000));
    assert!(new);
    assert_eq!(slot, freed);
    let cleared = flush.expect("the search wrapped");
    assert_eq!(cleared.iter().collect::<Vec<_>>(), vec![freed]);
    assert_eq!(pk.page_address(HIGH + 300), None, "the old page lost its address");
    let s = pk.stats();
    assert_eq!((s.full_flushes, s.cleared), (2, 1));
    // Unmap a whole batch: the next new kmap clears all of them with one flush.
    for i in 0..100 {
        pk.kunmap(HIGH + i).unwrap();
    }
    let (_, _, flush) = mapped(pk.km(HIGH + 6000));
    assert_eq!(flush.unwrap().len(), 100);
    assert_eq!(pk.stats().full_flushes, 3);
    assert_eq!(pk.totals().free_clean, 99);
    for i in 0..99 {
        assert!(mapped(pk.km(HIGH + 7000 + i)).2.is_none(), "clean slots need no flush");
    }
    assert_eq!(pk.stats().full_flushes, 3);
}

#[test]
fn unbalanced_kunmap_is_an_error_naming_the_page() {
    let mut pk = Pkmap::new();
    assert_eq!(pk.kunmap(HIGH), Err(PkmapError::NotMapped { pfn: HIGH }));
    let (slot, _, _) = mapped(pk.km(HIGH));
    pk.kunmap(HIGH).unwrap();
    let err = pk.kunmap(HIGH).unwrap_err();
    assert_eq!(err, PkmapError::NoUsers { pfn: HIGH, slot });
    assert_eq!(format!("{err}"), "kunmap of pfn 0x38000 in pkmap slot 1, which has no users left");
    assert_eq!(pk.count(slot), 1, "the error changed nothing");
    assert_eq!(format!("{}", PkmapError::NotMapped { pfn: HIGH }), "kunmap of pfn 0x38000, which is not kmapped");
}

#[test]
fn fast_paths_agree_with_kmap_and_kunmap() {
    // kmap_mapped and kunmap_slot (the kernel's inline paths) must leave
    // the table exactly as kmap and kunmap do, and refuse what they refuse.
    let (mut a, mut b) = (PkmapSlots::<8>::new(), PkmapSlots::<8>::new());
    assert_eq!(a.kmap_mapped(HIGH), None, "no slot yet: nothing changes");
    // The kernel's miss path: kmap_new straight after kmap_mapped's None.
    let slot = match a.kmap_new(HIGH, |s| panic!("slot {s} cleared without a wrap")) {
        KmapResult::Mapped { slot, vaddr: va, new: true, flushed: false } if va == vaddr(slot) => slot,
        other => panic!("{other:?}"),
    };
    assert_eq!(mapped(b.km(HIGH)), (slot, true, None));
    assert_eq!(a.kmap_mapped(HIGH), Some(slot));
    mapped(b.km(HIGH));
    assert_eq!(a.kunmap_slot(slot, HIGH), Some(false));
    assert!(!b.kunmap(HIGH).unwrap().wake);
    assert_eq!(a.kunmap_slot(slot + 1, HIGH), None, "wrong slot: left to kunmap");
    assert_eq!(a.kunmap_slot(99, HIGH), None, "slot out of range");
    assert_eq!(a.kunmap_slot(slot, HIGH), Some(true), "last user: wake");
    assert!(b.kunmap(HIGH).unwrap().wake);
    assert_eq!(a.kunmap_slot(slot, HIGH), None, "no users left");
    assert_eq!(a.kmap_mapped(HIGH), Some(slot), "a stale slot is revived");
    mapped(b.km(HIGH));
    assert_eq!((a.totals(), a.stats()), (b.totals(), b.stats()));
    assert_eq!(a.slots().collect::<Vec<_>>(), b.slots().collect::<Vec<_>>());
}

#[test]
fn no_pfn_is_never_found_in_a_free_slot() {
    // The inline probe skips the chain's end test; a free slot's page is
    // NO_PFN, so asking for NO_PFN must still answer "no slot".
    let mut pk = PkmapSlots::<8>::new();
    assert_eq!(pk.kmap_mapped(NO_PFN), None);
    assert_eq!(pk.page_address(NO_PFN), None);
    mapped(pk.km(HIGH));
    assert_eq!(pk.kmap_mapped(NO_PFN), None);
    assert_eq!(pk.kunmap(NO_PFN), Err(PkmapError::NotMapped { pfn: NO_PFN }));
    assert_eq!((pk.totals().in_use, pk.stats().reuses), (1, 0), "nothing changed");
}

#[test]
fn kunmap_busy_takes_only_a_user_that_is_not_the_last() {
    let mut pk = PkmapSlots::<8>::new();
    let (slot, _, _) = mapped(pk.km(HIGH));
    assert!(!pk.kunmap_busy(slot, HIGH), "the last user is left to kunmap_slot");
    mapped(pk.km(HIGH));
    assert!(!pk.kunmap_busy(slot, HIGH + 1), "another page");
    assert!(!pk.kunmap_busy(slot + 1, HIGH), "another slot");
    assert!(!pk.kunmap_busy(99, HIGH), "beyond the table");
    assert_eq!(pk.count(slot), 3, "refusals change nothing");
    assert!(pk.kunmap_busy(slot, HIGH));
    assert_eq!((pk.count(slot), pk.stats().unmaps), (2, 1));
    assert_eq!(pk.kunmap_slot(slot, HIGH), Some(true));
}

#[test]
fn report_lists_occupied_slots() {
    let mut pk = Pkmap::new();
    pk.km(HIGH + 2);
    pk.km(HIGH + 2);
    pk.km(HIGH + 9);
    pk.kunmap(HIGH + 9).unwrap();
    let rows: Vec<SlotInfo> = pk.slots().collect();
    assert_eq!(
        rows,
        vec![
            SlotInfo { slot: 1, count: 3, pfn: HIGH + 2, vaddr: PKMAP_BASE + PAGE_SIZE },
            SlotInfo { slot: 2, count: 1, pfn: HIGH + 9, vaddr: PKMAP_BASE + 2 * PAGE_SIZE },
        ]
    );
}

#[test]
fn colliding_pages_share_a_bucket_and_unhash_cleanly() {
    let bucket = pa_hash(HIGH);
    let same: Vec<u32> = (HIGH..).filter(|&p| pa_hash(p) == bucket).take(7).collect();
    let mut pk = PkmapSlots::<8>::new();
    for &p in &same {
        mapped(pk.km(p));
    }
    for &p in &same[1..5] {
        pk.kunmap(p).unwrap();
    }
    let (_, _, flush) = mapped(pk.km(HIGH + 1));
    assert_eq!(flush.unwrap().len(), 4);
    for (i, &p) in same.iter().enumerate() {
        assert_eq!(pk.page_address(p).is_some(), i == 0 || i >= 5, "page {i}");
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Kmap(u32),
    Kunmap(u32),
}

/// Drive a table with `ops`, acting as the caller (PTE writes and TLB
/// in a simulated MMU), and check it against a model after each step.
fn run<const N: usize>(ops: &[Op]) -> Result<PkmapStats, TestCaseError> {
    let mut pk = PkmapSlots::<N>::new();
    let mut users: HashMap<u32, u32> = HashMap::new();
    let mut pte: [Option<u32>; N] = [None; N];
    let mut tlb: [Option<u32>; N] = [None; N];
    let mut wraps = 0;
    for &op in ops {
        let before: Vec<u32> = (0..N).map(|s| pk.count(s)).collect();
        match op {
            Op::Kmap(pfn) => {
                let had = pk.page_address(pfn).and_then(slot_of);
                let old_nr = pk.last_pkmap_nr();
                match pk.km(pfn) {
                    Km::Full => {
                        prop_assert!(had.is_none());
                        prop_assert!(before.iter().all(|&c| c >= 2), "Full with a free slot");
                        continue; // the caller would sleep
                    }
                    Km::Mapped { slot, new, flush_all, .. } => {
                        if let Some(s) = had {
                            prop_assert_eq!((slot, new, flush_all), (s, false, None));
                        } else {
                            prop_assert!(new);
                            // Round robin as in Linux: the first clean slot
                            // after last_pkmap_nr; if there is none before
                            // the end, wrap (one flush, stale slots become
                            // clean) and take the first from slot 0.
                            let ahead = (old_nr + 1..N).find(|&s| before[s] == 0);
                            let want = ahead.or_else(|| (0..N).find(|&s| before[s] <= 1));
                            prop_assert_eq!(Some(slot), want);
                            prop_assert_eq!(ahead.is_none(), flush_all.is_some());
                            if let Some(cleared) = flush_all {
                                wraps += 1;
                                for (s, &count) in before.iter().enumerate() {
                                    prop_assert_eq!(cleared.contains(s), count == 1, "slot {}", s);
                                }
                                for s in cleared.iter() {
                                    pte[s] = None;
                                }
                                tlb = [None; N];
                            }
                            // Never a slot with users, and never one
                            // whose stale mapping was not flushed.
                            prop_assert!(before[slot] == 0 || (before[slot] == 1 && flush_all.is_some()));
                            prop_assert_eq!(pte[slot], None, "overwriting a live PTE");
                            pte[slot] = Some(pfn);
                        }
                        // The caller touches the page: what the MMU reaches.
                        let seen = tlb[slot].or(pte[slot]);
                        tlb[slot] = seen;
                        prop_assert_eq!(seen, Some(pfn), "vaddr reaches another page");
                        *users.entry(pfn).or_default() += 1;
                    }
                }
            }
            Op::Kunmap(pfn) => {
                let held = users.get(&pfn).copied().unwrap_or(0);
                let r = pk.kunmap(pfn);
                if held == 0 {
                    let want = match pk.page_address(pfn).and_then(slot_of) {
                        Some(slot) => PkmapError::NoUsers { pfn, slot },
                        None => PkmapError::NotMapped { pfn },
                    };
                    prop_assert_eq!(r, Err(want));
                } else {
                    let r = r.unwrap();
                    prop_assert_eq!((r.users, r.wake), (held - 1, held == 1));
                    users.insert(pfn, held - 1);
                }
            }
        }
        // Invariants: every occupied slot is found from its page, no page
        // is in two slots, counts are users + 1, totals add up.
        let mut pages = std::collections::HashSet::new();
        for info in pk.slots() {
            prop_assert!(pages.insert(info.pfn), "pfn {} in two slots", info.pfn);
            prop_assert_eq!(pk.page_address(info.pfn), Some(info.vaddr));
            prop_assert_eq!(info.count, users.get(&info.pfn).copied().unwrap_or(0) + 1);
            prop_assert_eq!(pte[info.slot], Some(info.pfn));
        }
        for (&pfn, &u) in &users {
            if u > 0 {
                prop_assert!(pk.page_address(pfn).is_some(), "held page {} lost its slot", pfn);
            }
        }
        let t = pk.totals();
        prop_assert_eq!(t.in_use + t.free_clean + t.free_stale, N);
        prop_assert_eq!(t.in_use, (0..N).filter(|&s| pk.count(s) >= 2).count());
        prop_assert_eq!(t.free_stale, (0..N).filter(|&s| pk.count(s) == 1).count());
        prop_assert_eq!(pk.stats().full_flushes, wraps);
    }
    // Everything given back: nothing is left in use.
    for (pfn, u) in users {
        for _ in 0..u {
            pk.kunmap(pfn).unwrap();
        }
    }
    prop_assert_eq!(pk.totals().in_use, 0);
    Ok(pk.stats())
}

fn ops(pages: u32) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (0..pages).prop_map(|p| Op::Kmap(HIGH + p)),
        2 => (0..pages).prop_map(|p| Op::Kunmap(HIGH + p)),
    ];
    proptest::collection::vec(op, 1..400)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// With 8 slots and 24 pages, sequences wrap and fill up often:
    /// exactly one flush per wrap, no slot reused while it has users or
    /// before its stale TLB entry is flushed, every access through a
    /// returned address reaches the right page, counts match a model.
    #[test]
    fn random_kmap_kunmap_8_slots(ops in ops(24)) {
        run::<8>(&ops)?;
    }

    /// The same with 64 slots and pages mostly distinct.
    #[test]
    fn random_kmap_kunmap_64_slots(ops in ops(200)) {
        run::<64>(&ops)?;
    }
}

#[test]
fn full_size_table_survives_a_long_run() {
    // Deterministic pseudo-random run on the real 1024 slots.
    let mut x = 12345u32;
    let mut ops = Vec::new();
    for _ in 0..20000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let page = HIGH + (x >> 8) % 1500;
        ops.push(if (x >> 4) % 5 < 3 { Op::Kmap(page) } else { Op::Kunmap(page) });
    }
    let s = run::<LAST_PKMAP>(&ops).unwrap();
    // It went through every path: waits, wraps that cleared slots, revivals.
    assert!(s.waits > 0 && s.full_flushes > 10 && s.cleared > 0 && s.revived > 0, "{s:?}");
}

#[test]
fn kmaps_report_words_match_the_counts() {
    let mut pk = Pkmap::new();
    // 300 pages mapped and unmapped: 300 slots with count 1, none in use.
    for i in 0..300 {
        mapped(pk.km(HIGH + i));
        pk.kunmap(HIGH + i).unwrap();
    }
    mapped(pk.km(HIGH + 1000)); // one in use
    let mut out = String::new();
    kmaps_report(&mut out, &mut pk.slots(), pk.totals(), pk.stats(), 256).unwrap();
    assert!(out.contains("... 45 more slots holding a page not listed: 1 in use, 44 free but stale"), "{out}");
    assert!(out.contains("slots: 1 in use, 723 free, 300 free but stale (flushed at the next wrap) of 1024"), "{out}");
    assert!(!out.contains("occupied"), "{out}");
    let listed = out.lines().filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit())).count();
    assert_eq!(listed, 256, "{out}");
}
