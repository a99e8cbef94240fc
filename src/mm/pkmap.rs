//! Persistent kmap slots: the bookkeeping of Linux 2.6.24's mm/highmem.c
//! (`kmap_high`, `kunmap_high`, `map_new_virtual`, `flush_all_zero_pkmaps`),
//! without the hardware.
//!
//! A highmem page has no kernel address until something maps it. `kmap`
//! gives it one of `LAST_PKMAP` = 1024 slots in the page table at
//! `PKMAP_BASE`; the mapping is shared and counted, may be held across a
//! sleep, and lasts until the matching `kunmap`. Linux's counting, per slot:
//!
//! ```text
//! count 0   free, PTE clear, no TLB entry can exist: reusable at once
//! count 1   free, but the PTE still maps the old page and a TLB may hold it
//! count n   mapped with n - 1 users
//! ```
//!
//! The point of count 1 is to make unmapping cheap. `kunmap` only
//! decrements: no PTE write, no `invlpg`. The page even keeps its address,
//! so a `kmap` of it soon after finds the slot still there and just counts
//! again. The stale slots are cleaned all at once, when the round-robin
//! search for a free slot wraps past the end (`last_pkmap_nr` back to 0):
//! every count-1 slot drops to 0, its page forgets its address, and ONE full
//! TLB flush replaces up to 1024 `invlpg`s. When every slot has users,
//! `kmap` says [`KmapResult::Full`] and the caller sleeps until a `kunmap`
//! frees one.
//!
//! This module decides; the caller touches the machine, holding the lock
//! that guards this table (Linux's `kmap_lock`) throughout. One machine
//! step happens inside the decision: when a wrap frees slots, their PTEs
//! are cleared through a callback the caller passes (`clear_pte`), in the
//! same pass over the slots, as Linux's `flush_all_zero_pkmaps` calls
//! `pte_clear` in its loop. The rest the caller does with the answer (the
//! kernel calls `kmap`'s two halves, `kmap_mapped` inline and `kmap_new`
//! on a miss, so a miss costs one hash lookup):
//!
//! ```text
//! kmap(page):   if lowmem: return its direct-map address (no slot)
//!               lock
//!               match pkmap.kmap(pfn, clear_pte):
//!                 Full => join the pkmap wait queue, unlock, sleep,
//!                         lock, retry (join before unlocking, as Linux
//!                         does, or a kunmap in between is missed)
//!                 Mapped { slot, vaddr, new, flushed } =>
//!                   (if the search wrapped, `clear_pte` has been called
//!                   for every slot the wrap freed)
//!                   if flushed: flush the whole TLB, ONCE
//!                   if new: write the PTE of `slot` (no invlpg: the slot
//!                       had count 0, so no TLB entry for it exists)
//!                   unlock; return vaddr
//! kunmap(page): lock; r = pkmap.kunmap(pfn) (an Err is a bug: report it)
//!               unlock; if r.wake: wake the waiters
//! ```
//!
//! The cleared PTEs must be cleared before the new one is written: the new
//! slot may be one of them. `kmap` may sleep, so it is never called from an
//! interrupt, and the lock need not mask interrupts (Linux's does not, nor
//! does the kernel's: `page_address` is asked from thread context only).
//!
//! One difference from Linux: when every slot has users, Linux's search
//! still walks all slots (and may wrap and flush, clearing nothing) before
//! sleeping. Here a count of busy slots answers `Full` at once, so a wrap
//! always finds a slot and "one full flush per wrap" holds exactly.
//!
//! Page to slot: Linux's `page_address()` looks highmem pages up in
//! `page_address_htable`, 128 buckets hashed from the page, with one list
//! node per pkmap slot (i386 does not store the address in `struct page`,
//! to keep it small; ours is small for the same reason). Here the slot
//! itself is the list node: `next[slot]` chains the slots whose pages hash to
//! the same bucket. Two fixed arrays, no allocation; a lookup touches one
//! bucket and, with all 1024 slots taken, about eight slots in its chain on
//! average. Pages leave the table only in the wrap-around flush.
//!
//! The table is generic over its slot count so that host tests can wrap
//! around every few operations with 8 slots; the kernel uses [`Pkmap`].

#![forbid(unsafe_code)]

use crate::layout::{LAST_PKMAP, PAGE_SHIFT, PAGE_SIZE, PKMAP_BASE, PKMAP_END};
use core::fmt;

/// The persistent kmap table the kernel uses: 1024 slots, one page table.
pub type Pkmap = PkmapSlots<LAST_PKMAP>;

/// Virtual address of a slot (Linux's `PKMAP_ADDR`). An `|`, equal to the
/// sum for a slot below `LAST_PKMAP` (`PKMAP_BASE` is aligned to the whole
/// area), so that the compiler sees the address is never 0 (a `Kmap`'s
/// result needs no test for it).
#[inline(always)]
pub const fn vaddr(slot: usize) -> usize {
    debug_assert!(slot < LAST_PKMAP);
    PKMAP_BASE | (slot << PAGE_SHIFT)
}
const _: () = assert!(PKMAP_BASE.is_multiple_of(LAST_PKMAP * PAGE_SIZE), "a slot's address would not be base | offset");

/// The slot an address inside the pkmap area belongs to (Linux's `PKMAP_NR`).
pub const fn slot_of(vaddr: usize) -> Option<usize> {
    if vaddr >= PKMAP_BASE && vaddr < PKMAP_END {
        Some((vaddr - PKMAP_BASE) >> PAGE_SHIFT)
    } else {
        None
    }
}

/// Ends a hash chain.
const NIL: u16 = u16::MAX;
/// The page of a slot with count 0.
const NO_PFN: u32 = u32::MAX;
/// Linux's `PA_HASH_ORDER`: 128 buckets.
const PA_HASH_ORDER: u32 = 7;
const PA_HASH_SIZE: usize = 1 << PA_HASH_ORDER;

/// Linux's `hash_long` on 32 bits: multiply by a prime near 2^32 / phi and
/// keep the top bits, which mix every bit of the PFN.
const fn pa_hash(pfn: u32) -> usize {
    (pfn.wrapping_mul(0x9e37_0001) >> (32 - PA_HASH_ORDER)) as usize
}

/// What `kmap` decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KmapResult {
    /// The page has `slot`, at `vaddr`.
    Mapped {
        slot: usize,
        vaddr: usize,
        /// The slot was free: the caller writes its PTE. False when the page
        /// was already mapped (no PTE write, no flush).
        new: bool,
        /// The search wrapped around: `clear_pte` was called for every slot
        /// it freed (possibly none), and the caller does ONE full TLB flush
        /// before writing the new PTE and before using `vaddr`.
        flushed: bool,
    },
    /// Every slot has users: sleep until a `kunmap` wakes you, then retry.
    /// Nothing changed.
    Full,
}

/// What `kunmap` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KunmapResult {
    pub slot: usize,
    pub vaddr: usize,
    /// Users left on the page.
    pub users: u32,
    /// The last user left: the slot is free (stale) and a sleeping `kmap`
    /// can now succeed, so the caller wakes the waiters.
    pub wake: bool,
}

/// A `kunmap` that does not match a `kmap`: a bug in the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkmapError {
    /// The page has no pkmap address at all.
    NotMapped { pfn: u32 },
    /// The page is still in its slot but nobody holds it (count 1).
    NoUsers { pfn: u32, slot: usize },
}

impl fmt::Display for PkmapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PkmapError::NotMapped { pfn } => {
                write!(f, "kunmap of pfn {pfn:#x}, which is not kmapped")
            }
            PkmapError::NoUsers { pfn, slot } => {
                write!(f, "kunmap of pfn {pfn:#x} in pkmap slot {slot}, which has no users left")
            }
        }
    }
}

/// Event counts, for tests and `make bench`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PkmapStats {
    /// Pages given a free slot: one PTE write each.
    pub maps: u64,
    /// `kmap`s of a page that already had a slot: no PTE write.
    pub reuses: u64,
    /// Of those, the slot had count 1: the lazy flush saved a PTE write.
    pub revived: u64,
    pub unmaps: u64,
    /// `Full` answers: each one is a caller going to sleep.
    pub waits: u64,
    /// Wrap-arounds, each exactly one full TLB flush.
    pub full_flushes: u64,
    /// Stale slots those flushes cleared.
    pub cleared: u64,
}

/// How the slots are used, for the `kmaps` report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PkmapTotals {
    /// Count >= 2: mapped with users.
    pub in_use: usize,
    /// Count 0.
    pub free_clean: usize,
    /// Count 1: free, flushed at the next wrap-around.
    pub free_stale: usize,
}

/// One occupied slot (count >= 1), for the `kmaps` report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotInfo {
    pub slot: usize,
    /// The raw `pkmap_count`: users + 1.
    pub count: u32,
    pub pfn: u32,
    pub vaddr: usize,
}

/// The pkmap slot table with `N` slots (a power of two, at most `LAST_PKMAP`).
pub struct PkmapSlots<const N: usize> {
    /// Linux's `pkmap_count`.
    count: [u32; N],
    /// The page in each slot, `NO_PFN` when the count is 0.
    pfn: [u32; N],
    /// Next slot whose page is in the same hash bucket.
    next: [u16; N],
    /// First slot of each hash bucket.
    buckets: [u16; PA_HASH_SIZE],
    /// Where the round-robin search last stopped.
    last_pkmap_nr: usize,
    /// Slots with count >= 2, and with count 1.
    in_use: usize,
    stale: usize,
    stats: Events,
}

/// The counters behind [`PkmapStats`], word-sized as Linux's event counters
/// are (`unsigned long`): the fast paths bump two of them, and on i686 a
/// `u64` costs an add and an add-with-carry each time.
#[derive(Clone, Copy)]
struct Events {
    maps: usize,
    reuses: usize,
    revived: usize,
    unmaps: usize,
    waits: usize,
    full_flushes: usize,
    cleared: usize,
}

impl<const N: usize> PkmapSlots<N> {
    pub const fn new() -> Self {
        const { assert!(N.is_power_of_two() && N <= LAST_PKMAP, "slot count must be a power of two <= LAST_PKMAP") };
        PkmapSlots {
            count: [0; N],
            pfn: [NO_PFN; N],
            next: [NIL; N],
            buckets: [NIL; PA_HASH_SIZE],
            last_pkmap_nr: 0,
            in_use: 0,
            stale: 0,
            stats: Events { maps: 0, reuses: 0, revived: 0, unmaps: 0, waits: 0, full_flushes: 0, cleared: 0 },
        }
    }

    /// Linux's `kmap_high`: a slot for highmem page `pfn`, counted once more.
    /// `clear_pte(slot)` is called for each slot a wrap-around frees. See
    /// the module docs for what the caller does with the answer.
    pub fn kmap(&mut self, pfn: u32, clear_pte: impl FnMut(usize)) -> KmapResult {
        if let Some(slot) = self.kmap_mapped(pfn) {
            return KmapResult::Mapped { slot, vaddr: vaddr(slot), new: false, flushed: false };
        }
        self.kmap_new(pfn, clear_pte)
    }

    /// The fast half of `kmap`: when `pfn` already has a slot (even a
    /// stale one), count one more user and return the slot; the caller has
    /// nothing to write or flush. `None`: the page has no slot, nothing
    /// changed (call [`kmap_new`](Self::kmap_new) under the same hold of
    /// the lock).
    #[inline(always)]
    pub fn kmap_mapped(&mut self, pfn: u32) -> Option<usize> {
        let slot = self.probe(pfn)?;
        let count = self.count[slot];
        if count < 2 {
            return self.kmap_revive(slot);
        }
        self.count[slot] = count + 1;
        self.stats.reuses += 1;
        Some(slot)
    }

    /// `kmap_mapped` of a slot that has no users: a stale slot (count 1)
    /// gets its page's user back without a PTE write; a free one (count 0,
    /// which `probe` finds only for `NO_PFN`, a frame no slot holds) means
    /// the page has no slot.
    #[inline(never)]
    fn kmap_revive(&mut self, slot: usize) -> Option<usize> {
        if self.count[slot] == 0 {
            return None;
        }
        self.stale -= 1;
        self.in_use += 1;
        self.stats.revived += 1;
        self.count[slot] = 2;
        self.stats.reuses += 1;
        Some(slot)
    }

    /// The slow half of `kmap`, for a caller that has just seen
    /// [`kmap_mapped`](Self::kmap_mapped) answer `None` (so the miss costs
    /// one hash lookup, not two): `pfn` has no slot.
    #[inline(never)]
    pub fn kmap_new(&mut self, pfn: u32, clear_pte: impl FnMut(usize)) -> KmapResult {
        // NO_PFN is never found by `lookup` (count-0 slots are in no chain),
        // so it always reaches this check.
        assert!(pfn != NO_PFN, "kmap of an invalid pfn");
        debug_assert!(self.lookup(pfn).is_none(), "kmap_new of pfn {pfn:#x}, which has a slot");
        if self.in_use == N {
            self.stats.waits += 1;
            return KmapResult::Full;
        }
        let (slot, flushed) = self.map_new_virtual(clear_pte);
        self.count[slot] = 2;
        self.pfn[slot] = pfn;
        let bucket = pa_hash(pfn);
        self.next[slot] = self.buckets[bucket];
        self.buckets[bucket] = slot as u16;
        self.in_use += 1;
        self.stats.maps += 1;
        KmapResult::Mapped { slot, vaddr: vaddr(slot), new: true, flushed }
    }

    /// Linux's `kunmap_high`: one user fewer. A mismatched call is an error
    /// naming the page, never ignored.
    pub fn kunmap(&mut self, pfn: u32) -> Result<KunmapResult, PkmapError> {
        let slot = self.lookup(pfn).ok_or(PkmapError::NotMapped { pfn })?;
        let count = self.count[slot];
        let wake = self.kunmap_slot(slot, pfn).ok_or(PkmapError::NoUsers { pfn, slot })?;
        Ok(KunmapResult { slot, vaddr: vaddr(slot), users: count - 2, wake })
    }

    /// `kunmap` for a caller that knows the slot the page was given (from
    /// its address, as Linux's `kunmap_high` takes `PKMAP_NR(vaddr)`): no
    /// hash lookup. `Some(wake)` when `pfn` is held in `slot` (one user
    /// fewer; `wake` as in [`KunmapResult`]); `None` otherwise, with nothing
    /// changed: the caller then asks [`kunmap`](Self::kunmap), which names
    /// the error.
    #[inline]
    pub fn kunmap_slot(&mut self, slot: usize, pfn: u32) -> Option<bool> {
        if slot >= N || self.pfn[slot] != pfn || self.count[slot] < 2 {
            return None;
        }
        let count = self.count[slot];
        self.count[slot] = count - 1;
        let wake = count == 2;
        if wake {
            self.in_use -= 1;
            self.stale += 1;
        }
        self.stats.unmaps += 1;
        Some(wake)
    }

    /// The common `kunmap`, inline in the kernel's: `pfn` is held in `slot`
    /// by more users than the one leaving, so one user fewer and nothing
    /// else to do (`true`; Linux's `kunmap_high` is `--pkmap_count[nr]` and
    /// no wake-up, the count staying above 1). `false` changes nothing: the last user leaving
    /// (the slot goes stale, waiters may be woken) or a mismatch, which the
    /// caller hands to [`kunmap_slot`](Self::kunmap_slot).
    #[inline(always)]
    pub fn kunmap_busy(&mut self, slot: usize, pfn: u32) -> bool {
        if slot >= N || self.pfn[slot] != pfn || self.count[slot] <= 2 {
            return false;
        }
        self.count[slot] -= 1;
        self.stats.unmaps += 1;
        true
    }

    /// The pkmap address of `pfn` while it has a slot (even a stale one).
    pub fn page_address(&self, pfn: u32) -> Option<usize> {
        self.lookup(pfn).map(vaddr)
    }

    /// The raw `pkmap_count` of a slot.
    pub fn count(&self, slot: usize) -> u32 {
        self.count[slot]
    }

    /// The slot's page and count, if it has one.
    pub fn slot_info(&self, slot: usize) -> Option<SlotInfo> {
        (self.count[slot] > 0).then(|| SlotInfo {
            slot,
            count: self.count[slot],
            pfn: self.pfn[slot],
            vaddr: vaddr(slot),
        })
    }

    /// Every occupied slot, in slot order.
    pub fn slots(&self) -> impl Iterator<Item = SlotInfo> + '_ {
        (0..N).filter_map(move |s| self.slot_info(s))
    }

    pub fn totals(&self) -> PkmapTotals {
        PkmapTotals { in_use: self.in_use, free_clean: N - self.in_use - self.stale, free_stale: self.stale }
    }

    pub fn stats(&self) -> PkmapStats {
        let e = self.stats;
        PkmapStats {
            maps: e.maps as u64,
            reuses: e.reuses as u64,
            revived: e.revived as u64,
            unmaps: e.unmaps as u64,
            waits: e.waits as u64,
            full_flushes: e.full_flushes as u64,
            cleared: e.cleared as u64,
        }
    }

    pub fn last_pkmap_nr(&self) -> usize {
        self.last_pkmap_nr
    }

    /// Linux's `map_new_virtual`, less the sleeping: the next count-0 slot
    /// after `last_pkmap_nr`, flushing on wrap-around (`true` when it did).
    /// Called only when some slot has count <= 1, so it always finds one:
    /// after a wrap every count-1 slot is clean, and the next N steps visit
    /// every slot.
    fn map_new_virtual(&mut self, mut clear_pte: impl FnMut(usize)) -> (usize, bool) {
        // LAB 4: BEGIN round-robin search from last_pkmap_nr; flush only when it wraps to 0
        let mut flushed = false;
        for _ in 0..2 * N {
            self.last_pkmap_nr = (self.last_pkmap_nr + 1) & (N - 1);
            if self.last_pkmap_nr == 0 {
                self.flush_all_zero_pkmaps(&mut clear_pte);
                flushed = true;
            }
            if self.count[self.last_pkmap_nr] == 0 {
                return (self.last_pkmap_nr, flushed);
            }
        }
        unreachable!("pkmap: no free slot although {} of {} are busy", self.in_use, N);
        // LAB 4: STUB
        // // Eager and correct, but it pays for the whole TLB on EVERY new mapping:
        // // clean all stale slots now, then take the first clean one.
        // self.flush_all_zero_pkmaps(&mut clear_pte);
        // let slot = (0..N).find(|&s| self.count[s] == 0).expect("a clean slot: some slot has count <= 1");
        // self.last_pkmap_nr = slot;
        // (slot, true)
        // LAB 4: END
    }

    /// Linux's `flush_all_zero_pkmaps`: every count-1 slot becomes count 0,
    /// its page loses its address and `clear_pte(slot)` clears its PTE; the
    /// caller then flushes the TLB once.
    ///
    /// Linux unhashes each of those pages on its own
    /// (`set_page_address(page, NULL)`, a walk of its bucket's list). Here
    /// the chains are rebuilt in the same pass instead, from the slots that
    /// keep their page: one pass over the slots whatever the chains hold,
    /// where a walk per freed slot made a wrap that frees all 1024 cost
    /// about as much as 100 kmaps.
    fn flush_all_zero_pkmaps(&mut self, clear_pte: &mut impl FnMut(usize)) {
        self.buckets = [NIL; PA_HASH_SIZE];
        let mut cleared = 0;
        for slot in 0..N {
            match self.count[slot] {
                0 => {}
                1 => {
                    self.count[slot] = 0;
                    self.pfn[slot] = NO_PFN;
                    self.next[slot] = NIL;
                    clear_pte(slot);
                    cleared += 1;
                }
                _ => {
                    let bucket = pa_hash(self.pfn[slot]);
                    self.next[slot] = self.buckets[bucket];
                    self.buckets[bucket] = slot as u16;
                }
            }
        }
        self.stale = 0;
        self.stats.full_flushes += 1;
        self.stats.cleared += cleared;
    }

    /// The slot holding `pfn` (count >= 1), if any.
    fn lookup(&self, pfn: u32) -> Option<usize> {
        if pfn == NO_PFN {
            return None;
        }
        self.probe(pfn)
    }

    /// `lookup` less its `NO_PFN` test: for `pfn == NO_PFN` it may answer a
    /// free slot (count 0), which the caller tells by the count.
    #[inline(always)]
    fn probe(&self, pfn: u32) -> Option<usize> {
        let first = self.buckets[pa_hash(pfn)];
        // The head of the chain, without asking whether there is one. Each
        // page is in at most one slot, and pfn[s] is NO_PFN unless
        // count[s] >= 1, so any slot whose pfn matches is the page's slot,
        // however it was reached: NIL masked to a slot number included. A
        // match is the answer (but for NO_PFN, see above); a miss walks the
        // chain.
        if self.pfn[first as usize & (N - 1)] == pfn {
            return Some(first as usize & (N - 1));
        }
        self.lookup_chain(first, pfn)
    }

    /// The rest of `lookup`: the chain from `slot` on.
    fn lookup_chain(&self, mut slot: u16, pfn: u32) -> Option<usize> {
        while slot != NIL {
            // Chained slots are < N; the mask only spares a bounds check.
            let s = slot as usize & (N - 1);
            if self.pfn[s] == pfn {
                return Some(s);
            }
            slot = self.next[s];
        }
        None
    }
}

impl<const N: usize> Default for PkmapSlots<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The `kmaps` report: every slot that holds a page (up to `limit` lines),
/// then the totals. A slot with count 1 holds a page but has no user: it is
/// free, its PTE still maps the old page until the next wrap clears and
/// flushes it, so it is listed (with its page) yet not counted "in use".
pub fn kmaps_report(
    out: &mut impl fmt::Write,
    slots: &mut dyn Iterator<Item = SlotInfo>,
    totals: PkmapTotals,
    stats: PkmapStats,
    limit: usize,
) -> fmt::Result {
    writeln!(out, "slot  count  pfn       address     (count 1: free but stale, not yet flushed; n > 1: n - 1 users)")?;
    let (mut hidden_used, mut hidden_stale) = (0, 0);
    for (i, s) in slots.enumerate() {
        if i < limit {
            writeln!(out, "{:>4}  {:>5}  {:#07x}  {:#010x}", s.slot, s.count, s.pfn, s.vaddr)?;
        } else if s.count == 1 {
            hidden_stale += 1;
        } else {
            hidden_used += 1;
        }
    }
    if hidden_used + hidden_stale > 0 {
        writeln!(
            out,
            "... {} more slots holding a page not listed: {} in use, {} free but stale",
            hidden_used + hidden_stale,
            hidden_used,
            hidden_stale
        )?;
    }
    writeln!(
        out,
        "slots: {} in use, {} free, {} free but stale (flushed at the next wrap) of {}",
        totals.in_use, totals.free_clean, totals.free_stale, LAST_PKMAP
    )?;
    writeln!(
        out,
        "kmaps: {} new, {} reused, {} waited; {} wrap-arounds, each one full TLB flush ({} stale slots cleared)",
        stats.maps, stats.reuses, stats.waits, stats.full_flushes, stats.cleared
    )
}

#[cfg(test)]
mod tests;
