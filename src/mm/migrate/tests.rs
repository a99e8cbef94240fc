//! The migration protocol (`move_page`) against a model machine: one user
//! page at one address in several address spaces of a fork family, in
//! every shape it can have when the window opens (mapped by several or by
//! none, in the swap cache or not, mapped `PROT_NONE` somewhere, held by a
//! kernel path). In the kernel nothing else runs inside the window
//! (preemption is off); the model also lets processes exit inside it, and
//! the protocol still leaves everything consistent. Whatever happens, every
//! entry ends on a live frame holding the data written before, the map
//! count is the number of entries, the references add up, the copy is made
//! only once nobody else holds the page, and the old frame is the caller's
//! alone after a move.

use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

const OLD: u32 = 10;
const NEW: u32 = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    None,
    Present {
        pfn: u32,
        write: bool,
    },
    Migration {
        pfn: u32,
        write: bool,
    },
    /// A mapping the walk does not convert (PROT_NONE).
    Hidden {
        pfn: u32,
    },
}

#[derive(Clone, Debug, Default)]
struct Frame {
    count: i32,
    /// Linux's `page_mapcount` (mappings).
    mapcount: i32,
    swapcache: bool,
    data: u64,
    mlocked: bool,
    dirty: bool,
}

/// What happens between two steps of the protocol.
#[derive(Clone, Copy, Debug)]
enum Event {
    /// Address space `i` exits (its entry goes).
    Zap(usize),
    /// A kernel path takes a reference on the old frame and keeps it.
    Pin,
}

/// When an event strikes: after the unmap (a pin then stands for one
/// taken before the window), after the copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Unmapped,
    Copied,
}

#[derive(Debug)]
struct Model {
    frames: HashMap<u32, Frame>,
    entries: Vec<Entry>,
    /// Pages mapped somewhere (NR_ANON_PAGES).
    anon: i64,
    events: Vec<(Step, Event)>,
    pins: i32,
    zapped: Vec<bool>,
}

impl Model {
    fn new(n_mms: usize, writable: bool, swapcache: bool, hidden: bool) -> Model {
        let mut frames = HashMap::new();
        let mapped = n_mms as i32 + hidden as i32;
        frames.insert(
            OLD,
            Frame {
                count: 1 /* isolation */ + (mapped > 0) as i32 + swapcache as i32,
                mapcount: mapped,
                swapcache,
                data: 0xfeed,
                mlocked: true,
                dirty: false,
            },
        );
        frames.insert(NEW, Frame { count: 1, ..Frame::default() });
        let mut entries: Vec<Entry> = (0..n_mms).map(|_| Entry::Present { pfn: OLD, write: writable }).collect();
        if hidden {
            entries.push(Entry::Hidden { pfn: OLD });
        }
        Model {
            frames,
            entries,
            anon: (mapped > 0) as i64,
            events: Vec::new(),
            pins: 0,
            zapped: vec![false; n_mms + 1],
        }
    }

    fn f(&mut self, pfn: u32) -> &mut Frame {
        self.frames.get_mut(&pfn).unwrap()
    }

    fn strike(&mut self, at: Step) {
        let events: Vec<Event> = self.events.iter().filter(|e| e.0 == at).map(|e| e.1).collect();
        for e in events {
            match e {
                Event::Zap(i) if i < self.entries.len() => {
                    match self.entries[i] {
                        // zap_page_range: a present entry drops its mapping
                        // (page_remove_rmap); a migration entry just goes.
                        Entry::Present { pfn, .. } | Entry::Hidden { pfn } => {
                            self.f(pfn).mapcount -= 1;
                            if self.f(pfn).mapcount == 0 {
                                self.anon -= 1;
                                self.f(pfn).count -= 1;
                            }
                        }
                        Entry::Migration { .. } | Entry::None => {}
                    }
                    self.entries[i] = Entry::None;
                    self.zapped[i] = true;
                }
                Event::Zap(_) => {}
                Event::Pin => {
                    self.f(OLD).count += 1;
                    self.pins += 1;
                }
            }
        }
    }
}

impl MigrateOps for Model {
    fn unmap(&mut self, pfn: u32) -> usize {
        let mut n = 0;
        for e in self.entries.iter_mut() {
            if let Entry::Present { pfn: p, write } = *e {
                if p == pfn {
                    *e = Entry::Migration { pfn, write };
                    n += 1;
                }
            }
        }
        self.f(pfn).mapcount -= n as i32;
        self.strike(Step::Unmapped);
        n
    }

    fn remap(&mut self, old: u32, to: u32) -> usize {
        let mut n = 0;
        for e in self.entries.iter_mut() {
            if let Entry::Migration { pfn, write } = *e {
                if pfn == old {
                    *e = Entry::Present { pfn: to, write };
                    n += 1;
                }
            }
        }
        self.f(to).mapcount += n as i32;
        n
    }

    fn page_count(&self, pfn: u32) -> i32 {
        self.frames[&pfn].count
    }

    fn mapcount(&self, pfn: u32) -> i32 {
        self.frames[&pfn].mapcount
    }

    fn in_swap_cache(&self, pfn: u32) -> bool {
        self.frames[&pfn].swapcache
    }

    fn copy(&mut self, to: u32, from: u32) {
        assert_eq!(self.pins, 0, "copied while a kernel path holds the page: its writes would be lost");
        assert!(
            !self.entries.iter().any(|e| matches!(e, Entry::Present { pfn, .. } if *pfn == from)),
            "copied while still mapped: a write could be lost"
        );
        let d = self.frames[&from].data;
        self.f(to).data = d;
        self.strike(Step::Copied);
    }

    fn move_swap_cache(&mut self, old: u32, new: u32, expected: i32) -> Result<(), i32> {
        let c = self.frames[&old].count;
        if c != expected {
            return Err(c);
        }
        self.f(old).swapcache = false;
        self.f(old).count -= 1;
        self.f(new).swapcache = true;
        self.f(new).count += 1;
        Ok(())
    }

    fn move_state(&mut self, old: u32, new: u32) {
        let (m, d) = (self.frames[&old].mlocked, self.frames[&old].dirty);
        self.f(new).mlocked = m;
        self.f(new).dirty = d;
        self.f(old).mlocked = false;
        self.f(old).dirty = false;
    }

    fn get(&mut self, pfn: u32) {
        self.f(pfn).count += 1;
    }

    fn put(&mut self, pfn: u32) {
        self.f(pfn).count -= 1;
        assert!(self.frames[&pfn].count > 0, "the migration dropped the last reference");
    }

    fn last_mapping_gone(&mut self, pfn: u32) {
        self.f(pfn).mlocked = false;
        self.anon -= 1;
    }

    fn first_mapping_back(&mut self, _pfn: u32) {
        self.anon += 1;
    }
}

fn run(n_mms: usize, writable: bool, swapcache: bool, hidden: bool, events: Vec<(Step, Event)>, data: u64) {
    let mut m = Model::new(n_mms, writable, swapcache, hidden);
    // What the processes wrote before the move.
    m.f(OLD).data = data;
    m.events = events;
    let was_mapped = m.frames[&OLD].mapcount > 0;
    let r = move_page(&mut m, OLD, NEW);
    let live = if r.is_ok() { NEW } else { OLD };
    let dead = if r.is_ok() { OLD } else { NEW };
    // Every entry left is present, on the live frame, with its write bit.
    let mut n = 0;
    for (i, e) in m.entries.iter().enumerate() {
        match *e {
            Entry::None => assert!(m.zapped[i], "entry {i} lost"),
            Entry::Present { pfn, write } => {
                assert_eq!(pfn, live, "entry {i} on the wrong frame after {r:?}");
                assert_eq!(write, writable, "entry {i} changed its rights");
                n += 1;
            }
            Entry::Hidden { pfn } => {
                assert_eq!(pfn, live);
                n += 1;
            }
            Entry::Migration { .. } => panic!("a migration entry was left behind: {m:?}"),
        }
    }
    let l = &m.frames[&live];
    assert_eq!(l.mapcount, n, "map count is not the number of entries: {m:?}");
    assert_eq!(l.data, data, "data lost");
    let pins = if r.is_ok() { 0 } else { m.pins };
    assert_eq!(l.count, 1 + (n > 0) as i32 + l.swapcache as i32 + pins, "references do not add up: {m:?}");
    assert_eq!(m.anon, (n > 0) as i64, "NR_ANON_PAGES off: {m:?}");
    assert_eq!(l.swapcache, swapcache, "the swap cache lost the page");
    if was_mapped && n > 0 {
        assert!(l.mlocked, "the mlock went missing");
    }
    // The other frame is the caller's alone, ready to free.
    let d = &m.frames[&dead];
    assert_eq!((d.count, d.mapcount, d.swapcache, d.mlocked), (1, 0, false, false), "{m:?}");
    // Why it failed.
    match r {
        // A PROT_NONE mapping stops the move unless its process went.
        Ok(()) => assert!(m.pins == 0 && (!hidden || m.zapped[n_mms])),
        Err(MigrateError::Again) => assert!(hidden),
        Err(MigrateError::Pinned { count, expected }) => {
            assert!(m.pins > 0 && count > expected)
        }
        Err(e) => panic!("unexpected {e:?}"),
    }
}

#[test]
fn a_page_mapped_by_three_moves_with_its_swap_cache_slot() {
    run(3, false, true, false, vec![], 0x5eed);
}

#[test]
fn a_pin_taken_while_unmapped_stops_the_move_and_everything_comes_back() {
    run(2, true, false, false, vec![(Step::Unmapped, Event::Pin)], 0x5eed);
}

#[test]
fn a_prot_none_mapping_is_left_alone() {
    run(1, true, false, true, vec![], 0x5eed);
}

#[test]
fn every_process_exiting_mid_move_leaves_an_unmapped_page() {
    run(2, true, true, false, vec![(Step::Copied, Event::Zap(0)), (Step::Unmapped, Event::Zap(1))], 0x5eed);
}

#[test]
fn an_unmapped_swap_cache_page_moves() {
    run(0, false, true, false, vec![], 0x5eed);
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![Just(Step::Unmapped), Just(Step::Copied)]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![(0..5usize).prop_map(Event::Zap), Just(Event::Pin)]
}

/// Pins come before the copy (after it, nobody can take one: the page is
/// frozen and nothing else runs); exits come at either step.
fn events() -> impl Strategy<Value = Vec<(Step, Event)>> {
    proptest::collection::vec((step(), event()), 0..4).prop_map(|v| {
        v.into_iter().map(|(s, e)| if matches!(e, Event::Pin) { (Step::Unmapped, e) } else { (s, e) }).collect()
    })
}

proptest! {
    #[test]
    fn whatever_happens_meanwhile_the_page_ends_whole(
        n in 0..5usize,
        writable: bool,
        swapcache: bool,
        hidden: bool,
        events in events(),
        data: u64,
    ) {
        // A page mapped nowhere is in the swap cache (else nobody has it).
        let swapcache = swapcache || (n == 0 && !hidden);
        run(n, writable, swapcache, hidden, events, data);
    }
}
