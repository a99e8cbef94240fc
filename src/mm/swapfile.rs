//! Swap areas and the swap cache (Linux's mm/swapfile.c and
//! mm/swap_state.c).
//!
//! An area is a disk formatted by `mkswap`: page 0 holds the header
//! (`mm::swap_header`), every other page is a slot for one user page. The
//! active areas sit in `swap_info[]` under `swap_lock`, each with its
//! [`SwapMap`] (a use count per slot, and the swap cache's page for it).
//! New slots come from the area of highest priority that is open for
//! writing; `swapon` without a priority gives -2, -3, ... as Linux does.
//!
//! A swapped-out page is a swap entry in the page tables
//! ([`SwpEntry`]); each entry holds one count on its slot. While the data
//! is also in memory (being written, or read back and still shared) the
//! page sits in the swap cache: `PG_swapcache`, `page->private` = the
//! entry, and one count on the slot and one reference on the page for the
//! cache. So a page shared by forked processes is written once, and read
//! once: the second process's fault finds it in the cache.
//!
//! Lock order: `mm::rmap`'s mutex, a page-table lock, `swap_lock`, a
//! zone's LRU lock. Nothing here sleeps or allocates under `swap_lock`;
//! disk I/O (`mm::page_io`) is done outside it, on a slot the caller holds
//! a count on.

use super::mmzone::pfn_to_page;
use super::page::{Page, PageFlags};
use super::pgtable::SwpEntry;
use super::swap_map::SwapMap;
use super::vmstat::{NR_SWAPCACHE, NR_SWAP_PAGES, TOTAL_SWAP_PAGES};
use crate::kernel::sync::SpinLock;
use alloc::sync::Arc;
use core::fmt;
use core::sync::atomic::Ordering::Relaxed;

/// Active areas at most (Linux's `MAX_SWAPFILES`: 32 types in 5 bits,
/// less the two that page migration's entries use).
pub const MAX_SWAPFILES: usize = super::pgtable::SWP_MIGRATION_READ;

/// A failed transfer, naming what failed where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoError {
    pub what: &'static str,
    /// The disk sector (LBA) the transfer was at.
    pub sector: u64,
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at sector {}", self.what, self.sector)
    }
}

/// What holds a swap area: a disk (`mm::page_io` wraps the ATA driver).
/// The transfers move one page between slot `page` of the area and frame
/// `pfn`, which may be in highmem; they may sleep.
pub trait SwapDevice: Send + Sync {
    /// The device's name, as `/proc/swaps` shows it (`/dev/sda`).
    fn name(&self) -> &str;
    /// Pages the device holds.
    fn nr_pages(&self) -> u64;
    /// Read slot `page` into frame `pfn` (the caller owns the frame).
    fn read_page(&self, page: u32, pfn: u32) -> Result<(), IoError>;
    /// Write frame `pfn` to slot `page`.
    fn write_page(&self, page: u32, pfn: u32) -> Result<(), IoError>;
}

pub(super) struct SwapInfo {
    pub(super) dev: Arc<dyn SwapDevice>,
    pub(super) map: SwapMap,
    pub(super) prio: i16,
    /// Open for new slots (Linux's `SWP_WRITEOK`); cleared by `swapoff`
    /// while it empties the area.
    pub(super) writeok: bool,
}

pub(super) struct SwapAreas {
    pub(super) info: [Option<SwapInfo>; MAX_SWAPFILES],
    /// The priority the next `swapon` without one gets (Linux's
    /// `least_priority`).
    least_priority: i16,
}

/// Linux's `swap_lock` and `swap_info[]`.
pub(super) static SWAP: SpinLock<SwapAreas> =
    SpinLock::new(SwapAreas { info: [const { None }; MAX_SWAPFILES], least_priority: -1 });

impl SwapAreas {
    fn area(&mut self, e: SwpEntry) -> Option<&mut SwapInfo> {
        self.info.get_mut(e.ty())?.as_mut()
    }

    /// Linux's `swap_info_get`: the area of a valid entry in use, or a
    /// report naming the entry (as Linux's "Bad swap file entry").
    fn used(&mut self, e: SwpEntry, who: &str) -> Option<&mut SwapInfo> {
        match self.area(e) {
            Some(si) if si.map.in_use(e.offset()) => Some(si),
            _ => {
                crate::pr_err!("{}: Bad swap file entry {:08x}", who, e.0);
                None
            }
        }
    }
}

fn page(pfn: u32) -> &'static Page {
    pfn_to_page(pfn as usize).expect("swap cache page outside mem_map")
}

/// Linux's `get_swap_page`: a free slot, count 1 (the reference the swap
/// cache will hold), from the open area of highest priority.
pub fn get_swap_page() -> Option<SwpEntry> {
    let mut sw = SWAP.lock();
    let mut order: [usize; MAX_SWAPFILES] = core::array::from_fn(|i| i);
    order.sort_by_key(|&i| sw.info[i].as_ref().map_or(i32::MAX, |si| -(si.prio as i32)));
    for ty in order {
        let Some(si) = sw.info[ty].as_mut().filter(|si| si.writeok) else { continue };
        if let Some(off) = si.map.alloc() {
            NR_SWAP_PAGES.fetch_sub(1, Relaxed);
            return Some(SwpEntry::new(ty, off));
        }
    }
    None
}

/// Linux's `swap_duplicate`: one more page-table entry names `e` (fork,
/// and reclaim unmapping a page). False when `e` is not in use or its count
/// is at the maximum.
pub fn swap_duplicate(e: SwpEntry) -> bool {
    let mut sw = SWAP.lock();
    match sw.used(e, "swap_dup") {
        Some(si) => si.map.dup(e.offset()),
        None => false,
    }
}

/// Drop one count of `e`, under the lock; the count left.
fn entry_free(sw: &mut SwapAreas, e: SwpEntry, who: &str) -> Option<u16> {
    let si = sw.used(e, who)?;
    let left = si.map.free(e.offset())?;
    // An area being emptied by swapoff is out of the free count already.
    if left == 0 && si.writeok {
        NR_SWAP_PAGES.fetch_add(1, Relaxed);
    }
    Some(left)
}

/// Linux's `swap_free`: a page-table entry naming `e` is gone.
pub fn swap_free(e: SwpEntry) {
    let _ = entry_free(&mut SWAP.lock(), e, "swap_free");
}

/// Uses of `e`'s slot (page-table entries plus one for a cached page).
pub fn swap_count(e: SwpEntry) -> u16 {
    let mut sw = SWAP.lock();
    sw.area(e).map_or(0, |si| si.map.count(e.offset()))
}

/// Linux's `free_swap_and_cache`: a page-table entry naming `e` is gone
/// (exit, `munmap`); when only the swap cache still uses the slot and its
/// page is mapped nowhere and not being written, the page leaves the cache
/// and the slot is freed. The page's cache reference is dropped here.
pub fn free_swap_and_cache(e: SwpEntry) {
    let orphan = {
        let mut sw = SWAP.lock();
        match entry_free(&mut sw, e, "free_swap_and_cache") {
            Some(1) => {
                let si = sw.area(e).expect("in use above");
                match si.map.cached(e.offset()) {
                    Some(pfn) if page(pfn).page_mapcount() == 0 && !page(pfn).flags().contains(PageFlags::LOCKED) => {
                        remove_cached(&mut sw, e, pfn);
                        Some(pfn)
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    };
    if let Some(pfn) = orphan {
        super::swap::put_page(pfn);
    }
}

/// Take `pfn` out of the cache slot of `e` and drop the cache's count on
/// the slot, under the lock (the caller then drops the cache's page
/// reference).
fn remove_cached(sw: &mut SwapAreas, e: SwpEntry, pfn: u32) {
    let si = sw.area(e).expect("cached entry's area");
    si.map.clear_cached(e.offset());
    let p = page(pfn);
    p.clear_flag(PageFlags::SWAPCACHE);
    p.set_private(0);
    NR_SWAPCACHE.fetch_sub(1, Relaxed);
    let _ = entry_free(sw, e, "delete_from_swap_cache");
}

/// Linux's `lookup_swap_cache`: the page cached for `e`, with a reference
/// taken for the caller.
pub fn lookup_swap_cache(e: SwpEntry) -> Option<u32> {
    let mut sw = SWAP.lock();
    let pfn = sw.area(e)?.map.cached(e.offset())?;
    page(pfn).get();
    Some(pfn)
}

/// Linux's `add_to_swap`: give isolated page `pfn` (not in the cache) a
/// new slot and put it in the cache, dirty (its data is not on the disk
/// yet). `None` when every area is full.
pub fn add_to_swap(pfn: u32) -> Option<SwpEntry> {
    let e = get_swap_page()?;
    let mut sw = SWAP.lock();
    let si = sw.area(e).expect("slot just taken");
    let ok = si.map.set_cached(e.offset(), pfn);
    debug_assert!(ok, "a new slot has no cached page");
    enter_cache(pfn, e);
    page(pfn).set_flag(PageFlags::DIRTY);
    Some(e)
}

fn enter_cache(pfn: u32, e: SwpEntry) {
    let p = page(pfn);
    p.get();
    p.set_private(e.0);
    p.set_flag(PageFlags::SWAPCACHE);
    NR_SWAPCACHE.fetch_add(1, Relaxed);
}

/// Linux's `add_to_swap_cache` after a read (`read_swap_cache_async`): put
/// `pfn`, just read from `e`'s slot, in the cache, taking a count on the
/// slot for it. When another reader was first, its page is returned
/// instead (with a reference for the caller) and `pfn` is left alone.
pub fn add_to_swap_cache(pfn: u32, e: SwpEntry) -> Result<(), u32> {
    let mut sw = SWAP.lock();
    let Some(si) = sw.used(e, "add_to_swap_cache") else { return Err(u32::MAX) };
    if let Some(other) = si.map.cached(e.offset()) {
        page(other).get();
        return Err(other);
    }
    si.map.dup(e.offset());
    si.map.set_cached(e.offset(), pfn);
    enter_cache(pfn, e);
    Ok(())
}

/// Page migration's switch of the swap cache (Linux's
/// `migrate_page_move_mapping` for a swap-cache page): if `old` (in the
/// cache, unmapped, held by the migrating caller) has exactly `expected`
/// references, its cache slot names `new` from now on, with the cache's
/// reference moved along; otherwise nothing changes and the count found is
/// returned. The check and the switch are one step under the swap lock,
/// where `lookup_swap_cache` takes its references: a fault finds either
/// the old page before (and the count says so) or the new one after.
pub fn migrate_swap_cache(old: u32, new: u32, expected: i32) -> Result<(), i32> {
    let mut sw = SWAP.lock();
    let p = page(old);
    let count = p.page_count();
    if !p.flags().contains(PageFlags::SWAPCACHE) || count != expected {
        return Err(count);
    }
    let e = SwpEntry(p.private());
    let si = sw.area(e).expect("a cached page's area");
    si.map.clear_cached(e.offset());
    si.map.set_cached(e.offset(), new);
    let n = page(new);
    n.get();
    n.set_private(e.0);
    n.set_flag(PageFlags::SWAPCACHE);
    p.clear_flag(PageFlags::SWAPCACHE);
    p.set_private(0);
    // The cache's reference on the old page goes with it.
    let _ = p.put_testzero();
    Ok(())
}

/// Linux's `delete_from_swap_cache` for a page the caller holds (locked
/// or isolated): out of the cache, the cache's count on the slot and its
/// page reference dropped.
pub fn delete_from_swap_cache(pfn: u32) {
    let p = page(pfn);
    let e = SwpEntry(p.private());
    {
        let mut sw = SWAP.lock();
        if !p.flags().contains(PageFlags::SWAPCACHE) {
            return;
        }
        remove_cached(&mut sw, e, pfn);
    }
    super::swap::put_page(pfn);
}

/// Let go of `PG_locked` on page `pfn`, which reclaim or migration held
/// while it worked on the page (the caller still holds its reference). Its
/// last mapper may have gone meanwhile (an exit while the holder slept):
/// `page_remove_rmap` and `free_swap_and_cache` leave a locked page in the
/// swap cache, so a cache copy nobody can reach any more is dropped here,
/// as their `try_to_free_swap` would have done; the holder's put then frees
/// the frame.
pub fn unlock_page(pfn: u32) {
    let p = page(pfn);
    p.clear_flag(PageFlags::LOCKED);
    if p.flags().contains(PageFlags::SWAPCACHE) && p.page_mapcount() == 0 {
        try_to_free_swap(pfn);
    }
}

/// Linux's `reuse_swap_page` / `try_to_free_swap` for a page mapped once:
/// if no page-table entry still names its slot (only the cache does), the
/// page leaves the cache and the slot is freed, so the page may be written
/// (its copy on disk is about to be stale). False while another process
/// still has the entry, or the page is being written out.
pub fn try_to_free_swap(pfn: u32) -> bool {
    let p = page(pfn);
    {
        let mut sw = SWAP.lock();
        if !p.flags().contains(PageFlags::SWAPCACHE) {
            return true;
        }
        let e = SwpEntry(p.private());
        let count = sw.area(e).map_or(0, |si| si.map.count(e.offset()));
        if count != 1 || p.flags().contains(PageFlags::LOCKED) {
            return false;
        }
        remove_cached(&mut sw, e, pfn);
    }
    super::swap::put_page(pfn);
    true
}

/// The device and slot behind `e`, for I/O (the caller holds a count).
pub fn swap_device(e: SwpEntry) -> Option<(Arc<dyn SwapDevice>, u32)> {
    let mut sw = SWAP.lock();
    let si = sw.area(e)?;
    Some((si.dev.clone(), e.offset()))
}

/// Whether any area is active (reclaim swaps only then).
pub fn nr_swap_pages() -> usize {
    NR_SWAP_PAGES.load(Relaxed)
}

/// More than half the swap space is in use (2.6.24's `vm_swap_full`):
/// pages read back then leave the swap cache at once, freeing their slots.
pub fn vm_swap_full() -> bool {
    nr_swap_pages() * 2 < total_swap_pages()
}

pub fn total_swap_pages() -> usize {
    TOTAL_SWAP_PAGES.load(Relaxed)
}

/// An active area, for `/proc/swaps` and `swapoff`.
#[derive(Clone, Debug)]
pub struct SwapArea {
    pub ty: usize,
    pub name: alloc::string::String,
    pub size_kb: u64,
    pub used_kb: u64,
    pub prio: i16,
}

/// The active areas, in `swap_info[]` order.
pub fn swap_areas() -> alloc::vec::Vec<SwapArea> {
    // Room made before the lock: nothing allocates under it.
    // (type, device, pages, in use, priority)
    type Found = (usize, Arc<dyn SwapDevice>, u32, u32, i16);
    let mut found: alloc::vec::Vec<Found> = alloc::vec::Vec::with_capacity(MAX_SWAPFILES);
    {
        let sw = SWAP.lock();
        for (ty, si) in sw.info.iter().enumerate() {
            if let Some(si) = si {
                found.push((ty, si.dev.clone(), si.map.pages(), si.map.inuse(), si.prio));
            }
        }
    }
    found
        .into_iter()
        .map(|(ty, dev, pages, inuse, prio)| SwapArea {
            ty,
            name: dev.name().into(),
            size_kb: pages as u64 * 4,
            used_kb: inuse as u64 * 4,
            prio,
        })
        .collect()
}

/// `/proc/swaps` (Linux 6.1's `swap_show`: the name padded to 40
/// columns, sizes in kB).
pub fn proc_swaps(out: &mut impl fmt::Write) -> fmt::Result {
    writeln!(out, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority")?;
    for a in swap_areas() {
        let pad = if a.name.len() < 40 { 40 - a.name.len() } else { 1 };
        writeln!(
            out,
            "{}{:pad$}partition\t{}\t{}{}\t{}{}",
            a.name,
            "",
            a.size_kb,
            if a.size_kb < 10_000_000 { "\t" } else { "" },
            a.used_kb,
            if a.used_kb < 10_000_000 { "\t" } else { "" },
            a.prio,
            pad = pad
        )?;
    }
    Ok(())
}

/// Why `swapon` refused.
#[derive(Debug)]
pub enum SwaponError {
    /// The header page could not be read.
    Io(IoError),
    /// The header is not a usable swap header (the parser's words).
    Header(alloc::string::String),
    /// The device is active already.
    Busy,
    /// Every `swap_info[]` slot is taken.
    TooMany,
    /// No memory for the slot map.
    NoMemory,
}

impl fmt::Display for SwaponError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwaponError::Io(e) => write!(f, "cannot read the swap header: {e}"),
            SwaponError::Header(m) => write!(f, "{m}"),
            SwaponError::Busy => write!(f, "Device or resource busy"),
            SwaponError::TooMany => write!(f, "too many swap areas (at most {MAX_SWAPFILES})"),
            SwaponError::NoMemory => write!(f, "Cannot allocate memory"),
        }
    }
}

/// Activate an area on `dev` whose header says `last_page` and `bad`
/// pages (Linux's `sys_swapon` after `read_swap_header`), at priority
/// `prio` or the next one below the last. Prints Linux's line.
pub fn swapon_area(
    dev: Arc<dyn SwapDevice>,
    last_page: u32,
    bad: &[u32],
    prio: Option<i16>,
) -> Result<usize, SwaponError> {
    let map = SwapMap::new(last_page, bad).map_err(|_| SwaponError::NoMemory)?;
    let pages = map.pages();
    let mut sw = SWAP.lock();
    if sw.info.iter().flatten().any(|si| si.dev.name() == dev.name()) {
        return Err(SwaponError::Busy);
    }
    let ty = sw.info.iter().position(|s| s.is_none()).ok_or(SwaponError::TooMany)?;
    let prio = match prio {
        Some(p) => p,
        None => {
            sw.least_priority -= 1;
            sw.least_priority
        }
    };
    let name_kb = (pages as u64) * 4;
    sw.info[ty] = Some(SwapInfo { dev: dev.clone(), map, prio, writeok: true });
    TOTAL_SWAP_PAGES.fetch_add(pages as usize, Relaxed);
    NR_SWAP_PAGES.fetch_add(pages as usize, Relaxed);
    drop(sw);
    crate::pr_info!(
        "Adding {}k swap on {}.  Priority:{} extents:1 across:{}k ",
        name_kb,
        dev.name(),
        prio,
        (last_page as u64) * 4
    );
    Ok(ty)
}

/// Reclaim's last step for an isolated page in the swap cache, written and
/// mapped nowhere (Linux's `__remove_mapping`): out of the cache, unless a
/// fault found it there meanwhile (its count then shows the fault's
/// reference). True when it left: the caller's reference is the last.
pub fn remove_mapping(pfn: u32) -> bool {
    let p = page(pfn);
    {
        let mut sw = SWAP.lock();
        // Two references: the isolation's and the cache's.
        if !p.flags().contains(PageFlags::SWAPCACHE) || p.page_count() != 2 || p.page_mapcount() != 0 {
            return false;
        }
        let e = SwpEntry(p.private());
        remove_cached(&mut sw, e, pfn);
    }
    super::swap::put_page(pfn);
    true
}

/// Why `swapoff` failed.
#[derive(Debug, PartialEq, Eq)]
pub enum SwapoffError {
    /// No active area by that name.
    NotActive,
    /// Not enough memory to bring every page back; the area stays on.
    NoMemory,
    /// Entries kept appearing (a reclaim in flight): the area stays on.
    Busy,
}

impl fmt::Display for SwapoffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SwapoffError::NotActive => "Invalid argument",
            SwapoffError::NoMemory => "Cannot allocate memory",
            SwapoffError::Busy => "Device or resource busy",
        })
    }
}

/// Linux's `swapoff`: close area `name` to new slots, bring every page on
/// it back into memory (`try_to_unuse`: each address space's entries are
/// faulted in, then the pages only the swap cache held leave it), and
/// remove it. When memory runs short the area is opened again, with what
/// was brought back staying in memory, and nothing is lost.
pub fn swapoff(name: &str) -> Result<(), SwapoffError> {
    let ty = {
        let mut sw = SWAP.lock();
        let ty = sw.info.iter().position(|s| s.as_ref().is_some_and(|si| si.dev.name() == name));
        let ty = ty.ok_or(SwapoffError::NotActive)?;
        let si = sw.info[ty].as_mut().expect("found above");
        // Every page on the area must fit in memory (Linux asks the
        // overcommit policy first; here: free pages above the reserves).
        let node = super::mmzone::node();
        let room = node.nr_free_pages().saturating_sub(node.totalreserve_pages());
        // Pages also in the swap cache are in memory already.
        if (si.map.inuse() - si.map.nr_cached()) as u64 > room {
            return Err(SwapoffError::NoMemory);
        }
        si.writeok = false;
        let free = (si.map.pages() - si.map.inuse()) as usize;
        NR_SWAP_PAGES.fetch_sub(free, Relaxed);
        ty
    };
    let result = try_to_unuse(ty);
    let mut sw = SWAP.lock();
    let si = sw.info[ty].as_mut().expect("only swapoff removes an area");
    match result {
        Ok(()) => {
            let pages = si.map.pages() as usize;
            sw.info[ty] = None;
            TOTAL_SWAP_PAGES.fetch_sub(pages, Relaxed);
            Ok(())
        }
        Err(e) => {
            si.writeok = true;
            NR_SWAP_PAGES.fetch_add((si.map.pages() - si.map.inuse()) as usize, Relaxed);
            Err(e)
        }
    }
}

/// Empty area `ty` (closed to new slots). A few rounds, since a fork or a
/// reclaim in flight may add entries behind the walk.
fn try_to_unuse(ty: usize) -> Result<(), SwapoffError> {
    for _round in 0..8 {
        for mm in super::rmap::all_mms() {
            let ctx = mm.mmap.lock();
            super::memory::unuse_mm(&mm, &ctx, ty).map_err(|_| SwapoffError::NoMemory)?;
        }
        // Slots only the swap cache still holds: their pages leave it.
        let mut off = 1;
        loop {
            let cached = {
                let mut sw = SWAP.lock();
                let si = sw.info[ty].as_mut().expect("area being emptied");
                let Some(o) = si.map.used_from(off).next() else { break };
                off = o + 1;
                si.map.cached(o).map(|pfn| (o, pfn, si.map.count(o)))
            };
            if let Some((_, pfn, 1)) = cached {
                if !page(pfn).flags().contains(PageFlags::LOCKED) {
                    // A reference so that it cannot go while we look.
                    page(pfn).get();
                    delete_from_swap_cache(pfn);
                    super::swap::put_page(pfn);
                }
            }
        }
        let inuse = SWAP.lock().info[ty].as_ref().map_or(0, |si| si.map.inuse());
        if inuse == 0 {
            return Ok(());
        }
        crate::kernel::sched::yield_now();
    }
    Err(SwapoffError::Busy)
}

/// Hold slot `e` for a read into the swap cache (Linux's
/// `swapcache_prepare`): true, with one more count on the slot, when it is
/// in use and nothing is cached for it; the count keeps it from being freed
/// and handed to another page while the read runs.
pub fn swapcache_prepare(e: SwpEntry) -> bool {
    let mut sw = SWAP.lock();
    match sw.area(e) {
        Some(si) if si.map.in_use(e.offset()) && si.map.cached(e.offset()).is_none() => si.map.dup(e.offset()),
        _ => false,
    }
}

/// After `swapcache_prepare` and a read: `pfn` enters the cache for `e`,
/// the held count becoming the cache's. False (the count dropped, `pfn`
/// left to the caller) when another reader was first.
pub fn add_prepared_to_swap_cache(pfn: u32, e: SwpEntry) -> bool {
    let mut sw = SWAP.lock();
    let si = sw.area(e).expect("a held slot's area");
    if si.map.set_cached(e.offset(), pfn) {
        enter_cache(pfn, e);
        return true;
    }
    let _ = entry_free(&mut sw, e, "add_prepared_to_swap_cache");
    false
}

/// Give back a count taken by `swapcache_prepare` (the read failed).
pub fn swapcache_abort(e: SwpEntry) {
    let _ = entry_free(&mut SWAP.lock(), e, "swapcache_abort");
}
