//! The records of the vmalloc address space: where each area starts, how
//! big it is (one unmapped guard page included, so running off the end
//! faults), which frames back it, and who asked for it. The bookkeeping of
//! Linux's mm/vmalloc.c without the machine (in 2.6.24 the sorted `vmlist`
//! of `vm_struct`s and `__get_vm_area_node`'s first-fit walk; from 2.6.28
//! the `vmap_area` records that name this file), pure and tested on the
//! host. `mm::vmalloc` holds the lock over it and does the page tables.
//!
//! The records are a vector sorted by address, in kmalloc'd memory, as
//! 2.6.24 keeps its list sorted. Finding room is first fit in address
//! order. The lock over them (Linux's `vmlist_lock`) disables preemption,
//! so nothing under it may sleep: the vector grows outside the lock
//! ([`VmapAreas::has_room`], [`VmapAreas::grow`]), as Linux kmallocs a
//! `vm_struct` before taking `vmlist_lock`.

use crate::layout::PAGE_SIZE;
use alloc::vec::Vec;
use core::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmKind {
    /// Pages allocated by vmalloc, freed by vfree.
    Vmalloc,
    /// Pages the caller owns, only mapped here (`vmap`).
    Vmap,
    /// Freed by `vfree` (its PTEs cleared, the TLB flushed, its frames
    /// given back), the record kept where it was: first fit counts it as
    /// free room, and a vmalloc of the same size takes the record back in
    /// place, so a vfree+vmalloc pair inserts and removes nothing (Linux
    /// 2.6.28 also keeps freed `vmap_area`s around, for its lazy purge).
    Freed,
}

/// Freed pages (guard pages included) beyond which `vfree` drops the freed
/// records (`purge_freed`): the first-fit walk visits each one.
pub const FREED_MAX_PAGES: usize = 1024;
/// Freed records beyond which `vfree` drops them (the walk's length).
pub const FREED_MAX_AREAS: usize = 16;

/// Where [`VmapAreas::reserve_reusing`] put an area.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reserved {
    pub addr: usize,
    /// Where the record is now (for [`VmapAreas::get_mut_at`]).
    pub index: usize,
}

/// One area (Linux's `struct vm_struct`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmArea {
    pub addr: usize,
    /// Bytes reserved, guard page included.
    pub size: usize,
    pub kind: VmKind,
    /// Return address of the caller, for `/proc/vmallocinfo`.
    pub caller: usize,
    /// The frames mapped, in order.
    pub pages: PageList,
}

/// Frames a [`PageList`] holds without allocating: a kernel stack's four,
/// a 16 KB vmalloc's.
pub const INLINE_PAGES: usize = 4;

/// The frames of an area, in order (Linux's `area->pages`). Linux kmallocs
/// that array for every area; here a short list lives in the record itself,
/// so a vmalloc of up to [`INLINE_PAGES`] pages allocates nothing but its
/// frames (a kmalloc and a kfree fewer, about a tenth of its cost). A
/// longer list is a `Vec`. Reads as a slice.
#[derive(Clone, Debug)]
pub enum PageList {
    Inline { len: u8, pfns: [u32; INLINE_PAGES] },
    Heap(Vec<u32>),
}

impl PageList {
    pub const fn new() -> PageList {
        PageList::Inline { len: 0, pfns: [0; INLINE_PAGES] }
    }

    /// Append a frame; a full inline list moves to a `Vec` (vmalloc sizes
    /// its list beforehand, so it never allocates here). Inline: vmalloc
    /// calls it once a page.
    #[inline]
    pub fn push(&mut self, pfn: u32) {
        match self {
            PageList::Inline { len, pfns } if (*len as usize) < INLINE_PAGES => {
                pfns[*len as usize] = pfn;
                *len += 1;
            }
            PageList::Inline { .. } => {
                let mut v = self.to_vec();
                v.push(pfn);
                *self = PageList::Heap(v);
            }
            PageList::Heap(v) => v.push(pfn),
        }
    }

    /// The frames, writable (vmalloc fills a list made at its length).
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [u32] {
        match self {
            PageList::Inline { len, pfns } => &mut pfns[..*len as usize],
            PageList::Heap(v) => v,
        }
    }

    /// Whether it lists no frame (without making a slice).
    #[inline]
    pub fn is_empty(&self) -> bool {
        match self {
            PageList::Inline { len, .. } => *len == 0,
            PageList::Heap(v) => v.is_empty(),
        }
    }

    /// Empty the list in place; a `Vec` it held is handed back, for the
    /// caller to free outside its lock.
    #[inline]
    pub fn clear(&mut self) -> Option<Vec<u32>> {
        match self {
            PageList::Inline { len, .. } => {
                *len = 0;
                None
            }
            PageList::Heap(_) => match core::mem::take(self) {
                PageList::Heap(v) => Some(v),
                PageList::Inline { .. } => None,
            },
        }
    }
}

impl Default for PageList {
    fn default() -> Self {
        Self::new()
    }
}

impl core::ops::Deref for PageList {
    type Target = [u32];
    #[inline]
    fn deref(&self) -> &[u32] {
        match self {
            PageList::Inline { len, pfns } => &pfns[..*len as usize],
            PageList::Heap(v) => v,
        }
    }
}

/// A `Vec` of any length is kept as it is (no copy, no second allocation).
impl From<Vec<u32>> for PageList {
    fn from(v: Vec<u32>) -> PageList {
        PageList::Heap(v)
    }
}

/// A copy: in the record when it fits.
impl From<&[u32]> for PageList {
    fn from(s: &[u32]) -> PageList {
        if s.len() <= INLINE_PAGES {
            let mut pfns = [0; INLINE_PAGES];
            pfns[..s.len()].copy_from_slice(s);
            PageList::Inline { len: s.len() as u8, pfns }
        } else {
            PageList::Heap(s.to_vec())
        }
    }
}

/// Equal when they list the same frames, wherever they keep them.
impl PartialEq for PageList {
    fn eq(&self, other: &PageList) -> bool {
        **self == **other
    }
}
impl Eq for PageList {}

impl PartialEq<Vec<u32>> for PageList {
    fn eq(&self, other: &Vec<u32>) -> bool {
        **self == **other
    }
}

/// What `/proc/vmallocinfo` shows of an area (its page list left out: a
/// copy that needs no allocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmAreaInfo {
    pub addr: usize,
    pub size: usize,
    pub kind: VmKind,
    pub caller: usize,
    pub nr_pages: usize,
}

impl VmArea {
    pub fn info(&self) -> VmAreaInfo {
        VmAreaInfo {
            addr: self.addr,
            size: self.size,
            kind: self.kind,
            caller: self.caller,
            nr_pages: self.pages.len(),
        }
    }

    /// Bytes usable (without the guard page).
    pub fn usable(&self) -> usize {
        self.size - PAGE_SIZE
    }

    pub fn guard_page(&self) -> usize {
        self.addr + self.size - PAGE_SIZE
    }
}

pub struct VmapAreas {
    start: usize,
    end: usize,
    /// Sorted by address; areas never overlap.
    areas: Vec<VmArea>,
    /// Freed records (`VmKind::Freed`) and their pages, guard pages included.
    freed_areas: usize,
    freed_pages: usize,
}

/// Where an address falls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    Mapped(&'a VmArea),
    Guard(&'a VmArea),
    Unallocated,
    Outside,
}

impl VmapAreas {
    pub const fn new(start: usize, end: usize) -> VmapAreas {
        VmapAreas { start, end, areas: Vec::new(), freed_areas: 0, freed_pages: 0 }
    }

    /// Whether one more record fits without allocating.
    pub fn has_room(&self) -> bool {
        self.areas.len() < self.areas.capacity()
    }

    /// Move the records into `bigger` (allocated by the caller, outside the
    /// lock) if it holds more than they do; returns the vector no longer
    /// used, for the caller to drop outside the lock.
    pub fn grow(&mut self, mut bigger: Vec<VmArea>) -> Vec<VmArea> {
        if bigger.capacity() <= self.areas.len() || !bigger.is_empty() {
            return bigger;
        }
        bigger.append(&mut self.areas);
        core::mem::replace(&mut self.areas, bigger)
    }

    /// Records the vector can hold now (for growing it).
    pub fn capacity(&self) -> usize {
        self.areas.capacity()
    }

    /// Index of the area starting at `addr`, or where it would go.
    fn index_of(&self, addr: usize) -> Result<usize, usize> {
        self.areas.binary_search_by_key(&addr, |a| a.addr)
    }

    /// Take record `i` out. The newest area is usually the last record and
    /// is the one freed first: `Vec::remove` would call `memmove` even for
    /// the empty tail (about 30 instructions), `pop` does not.
    fn take(&mut self, i: usize) -> VmArea {
        self.unfree(i);
        if i + 1 == self.areas.len() {
            if let Some(a) = self.areas.pop() {
                return a;
            }
        }
        self.areas.remove(i)
    }

    /// Take record `i` out, keeping only its frames: the record is dropped
    /// where it is instead of being moved out whole (it is 36 bytes, which
    /// the compiler copies with a `memcpy` call).
    fn take_pages(&mut self, i: usize) -> PageList {
        self.unfree(i);
        let pages = core::mem::take(&mut self.areas[i].pages);
        if i + 1 == self.areas.len() {
            self.areas.truncate(i);
        } else {
            self.areas.remove(i);
        }
        pages
    }

    /// Record `i` leaves: if it was a freed one, it is counted so no more.
    fn unfree(&mut self, i: usize) {
        if self.areas[i].kind == VmKind::Freed {
            self.freed_areas -= 1;
            self.freed_pages -= self.areas[i].size / PAGE_SIZE;
        }
    }

    /// The area that starts exactly at `addr`.
    pub fn get(&self, addr: usize) -> Option<&VmArea> {
        self.index_of(addr).ok().map(|i| &self.areas[i])
    }

    pub fn range(&self) -> (usize, usize) {
        (self.start, self.end)
    }

    /// Reserve room for `pages` pages plus a guard page: first fit.
    pub fn reserve(&mut self, pages: usize, kind: VmKind, caller: usize) -> Option<usize> {
        self.reserve_checked(pages, kind, caller).ok()
    }

    /// `reserve`, saying why it failed (Linux's `__get_vm_area_node`): the
    /// request is bigger than the whole area, or no gap is big enough.
    /// Nothing else is taken first, so a request that cannot fit costs
    /// nothing.
    pub fn reserve_checked(&mut self, pages: usize, kind: VmKind, caller: usize) -> Result<usize, VmallocError> {
        // The first-fit walk already knows the record's place: no second
        // search to insert it.
        let (i, addr, size) = self.room_at(pages)?;
        self.areas.insert(i, VmArea { addr, size, kind, caller, pages: PageList::new() });
        Ok(addr)
    }

    /// `reserve_checked` counting freed records as free room (vmalloc and
    /// vmap). When the room first fit finds is exactly one freed record of
    /// the size needed (a vfree+vmalloc of one size), that record is taken
    /// back in place: nothing inserted or removed. When the room overlaps
    /// other freed records, they are all dropped and the record inserted.
    /// No flush is needed: vfree flushed before it let the lock go.
    pub fn reserve_reusing(&mut self, pages: usize, kind: VmKind, caller: usize) -> Result<Reserved, VmallocError> {
        let size = self.size_fits(pages)?;
        let (index, addr, freed_run) =
            self.find_room_at(size, self.freed_areas > 0).ok_or_else(|| self.no_space(pages))?;
        let Some(j) = freed_run.filter(|&j| self.areas[j].addr < addr + size) else {
            // No freed record in the room: the record goes before the first
            // area past it.
            let i = freed_run.unwrap_or(index);
            self.areas.insert(i, VmArea { addr, size, kind, caller, pages: PageList::new() });
            return Ok(Reserved { addr, index: i });
        };
        let a = &mut self.areas[j];
        let index = if a.addr == addr && a.size == size {
            // Its frames went back in vfree: the list is empty.
            a.kind = kind;
            a.caller = caller;
            self.freed_areas -= 1;
            self.freed_pages -= size / PAGE_SIZE;
            if self.freed_areas == 0 {
                return Ok(Reserved { addr, index: j });
            }
            self.purge_freed();
            self.index_of(addr).unwrap_or(0)
        } else {
            self.purge_freed();
            let i = self.index_of(addr).unwrap_or_else(|i| i);
            self.areas.insert(i, VmArea { addr, size, kind, caller, pages: PageList::new() });
            i
        };
        Ok(Reserved { addr, index })
    }

    /// Drop every freed record (Linux's `__purge_vmap_area_lazy` drops its
    /// lazily freed areas); returns how many there were.
    pub fn purge_freed(&mut self) -> usize {
        let n = self.freed_areas;
        if n > 0 {
            self.areas.retain(|a| a.kind != VmKind::Freed);
        }
        self.freed_areas = 0;
        self.freed_pages = 0;
        n
    }

    /// vfree's removal, in place: the vmalloc area that starts at `addr`
    /// and has its frames becomes `Freed`, its record left where it is, and
    /// its page list is lent to the caller, which clears the PTEs, flushes,
    /// frees the frames and empties the list before it lets the lock go
    /// (the range is free room from then on). Then, if
    /// [`freed_over_limit`](Self::freed_over_limit), it drops the freed
    /// records. Errors as `remove_vmalloc` (a freed area is no area:
    /// `Err(None)`, a double free).
    pub fn free_in_place(&mut self, addr: usize) -> Result<&mut PageList, Option<VmKind>> {
        let Ok(i) = self.index_of(addr) else { return Err(None) };
        let a = &mut self.areas[i];
        match a.kind {
            VmKind::Vmalloc if !a.pages.is_empty() => {}
            VmKind::Vmalloc | VmKind::Freed => return Err(None),
            other => return Err(Some(other)),
        }
        a.kind = VmKind::Freed;
        self.freed_areas += 1;
        self.freed_pages += a.size / PAGE_SIZE;
        Ok(&mut a.pages)
    }

    /// Freed records are now many enough to drop them.
    pub fn freed_over_limit(&self) -> bool {
        self.freed_areas > FREED_MAX_AREAS || self.freed_pages > FREED_MAX_PAGES
    }

    /// Freed records, and their pages with guard pages (for tests and reports).
    pub fn freed(&self) -> (usize, usize) {
        (self.freed_areas, self.freed_pages)
    }

    /// Bigger than the whole area: no amount of freeing would make room.
    /// Else the bytes to reserve, guard page included. One compare:
    /// `(pages + 1) * PAGE_SIZE <= area` exactly when `pages` is below
    /// the whole pages of the area, and then the product cannot overflow.
    #[inline]
    fn size_fits(&self, pages: usize) -> Result<usize, VmallocError> {
        let area = self.end - self.start;
        if pages < area / PAGE_SIZE {
            return Ok((pages + 1) * PAGE_SIZE);
        }
        Err(VmallocError::TooBig { size: pages.saturating_mul(PAGE_SIZE), area })
    }

    /// No gap big enough (measured only for the report).
    #[cold]
    fn no_space(&self, pages: usize) -> VmallocError {
        VmallocError::NoSpace { size: pages.saturating_mul(PAGE_SIZE), largest_free: self.largest_free() }
    }

    /// Where `pages` pages plus a guard page fit, or why they do not.
    pub fn room_for(&self, pages: usize) -> Result<(usize, usize), VmallocError> {
        self.room_at(pages).map(|(_, addr, size)| (addr, size))
    }

    /// `room_for`, with the index the record would take in `areas`.
    fn room_at(&self, pages: usize) -> Result<(usize, usize, usize), VmallocError> {
        let size = self.size_fits(pages)?;
        // `ok_or_else`: the largest gap is measured only for the report.
        self.find_room_at(size, false).map(|(i, addr, _)| (i, addr, size)).ok_or_else(|| self.no_space(pages))
    }

    /// Where `pages` pages plus a guard page fit (first fit), and the size
    /// to record; nothing is reserved yet. A caller that holds the lock
    /// from here to [`insert`](Self::insert) records the area in one step
    /// with its pages, instead of reserving and then updating it.
    pub fn find_room(&self, pages: usize) -> Option<(usize, usize)> {
        let size = pages.checked_add(1)?.checked_mul(PAGE_SIZE)?;
        self.find_room_at(size, false).map(|(_, addr, _)| (addr, size))
    }

    /// `find_room`, with the index the record would take in `areas` (the
    /// first area past the room, or the end).
    ///
    /// With `take_freed`, freed records count as free room
    /// (`reserve_reusing`); then the last item is the first freed record
    /// after the last area that counted, if any: the freed records
    /// from there to `index` lie past `candidate`, and those that start
    /// below `candidate + size` are in the room.
    fn find_room_at(&self, size: usize, take_freed: bool) -> Option<(usize, usize, Option<usize>)> {
        // LAB 5: BEGIN first fit: the lowest gap between the sorted areas that holds `size`
        let mut candidate = self.start;
        let mut index = self.areas.len();
        let mut freed_run = None;
        for (i, a) in self.areas.iter().enumerate() {
            if take_freed && a.kind == VmKind::Freed {
                freed_run.get_or_insert(i);
                continue;
            }
            if a.addr >= candidate + size {
                index = i;
                break;
            }
            candidate = candidate.max(a.addr + a.size);
            freed_run = None;
        }
        // LAB 5: STUB
        // // A bump allocator: always after the last area, so a freed gap is never used again.
        // let candidate = self.areas.last().map_or(self.start, |a| a.addr + a.size);
        // let index = self.areas.len();
        // // Freed records count as occupied: they go only through a purge.
        // let (_, freed_run) = (take_freed, None);
        // LAB 5: END
        if candidate.checked_add(size)? > self.end {
            return None;
        }
        Some((index, candidate, freed_run))
    }

    /// Record an area at the room `find_room` gave (the lock held since).
    /// Without allocating when [`has_room`](Self::has_room) said so.
    pub fn insert(&mut self, area: VmArea) {
        match self.index_of(area.addr) {
            Ok(_) => debug_assert!(false, "vmalloc area recorded twice"),
            Err(i) => self.areas.insert(i, area),
        }
    }

    /// Remove the area that starts exactly at `addr` if it is of `kind`
    /// (one search): `Err(Some(other kind))` or `Err(None)` when there is
    /// no such area.
    pub fn remove_kind(&mut self, addr: usize, kind: VmKind) -> Result<VmArea, Option<VmKind>> {
        match self.index_of(addr) {
            Ok(i) if self.areas[i].kind == kind => Ok(self.take(i)),
            Ok(i) => Err(Some(self.areas[i].kind)),
            Err(_) => Err(None),
        }
    }

    /// vfree's removal, in one search: the vmalloc area that starts at
    /// `addr` and has its frames, which are returned (the rest of the record
    /// is not needed, and not moved); `Err(Some(kind))` for another kind of
    /// area, `Err(None)` for no area there or one reserved whose frames are
    /// not there yet (not vmalloc's answer yet).
    pub fn remove_vmalloc(&mut self, addr: usize) -> Result<PageList, Option<VmKind>> {
        match self.index_of(addr) {
            Ok(i) => match &self.areas[i] {
                a if a.kind == VmKind::Freed => Err(None),
                a if a.kind != VmKind::Vmalloc => Err(Some(a.kind)),
                a if a.pages.is_empty() => Err(None),
                _ => Ok(self.take_pages(i)),
            },
            Err(_) => Err(None),
        }
    }

    /// `get_mut`, trying record `index` first (where `reserve_reusing`
    /// put it: the records may have moved since, with the lock dropped).
    pub fn get_mut_at(&mut self, index: usize, addr: usize) -> Option<&mut VmArea> {
        let i = match self.areas.get(index) {
            Some(a) if a.addr == addr => index,
            _ => self.index_of(addr).ok()?,
        };
        Some(&mut self.areas[i])
    }

    pub fn get_mut(&mut self, addr: usize) -> Option<&mut VmArea> {
        self.index_of(addr).ok().map(|i| &mut self.areas[i])
    }

    /// Remove the area that starts exactly at `addr`.
    pub fn remove(&mut self, addr: usize) -> Option<VmArea> {
        self.index_of(addr).ok().map(|i| self.take(i))
    }

    /// What `addr` is: in an area's pages, its guard page, a hole, or
    /// outside the vmalloc range altogether.
    pub fn lookup(&self, addr: usize) -> Lookup<'_> {
        if addr < self.start || addr >= self.end {
            return Lookup::Outside;
        }
        // The last area starting at or below addr.
        let below = self.areas.partition_point(|a| a.addr <= addr);
        match below.checked_sub(1).map(|i| &self.areas[i]) {
            // Freed: what is left there is a stale TLB entry at most.
            Some(a) if a.kind == VmKind::Freed => Lookup::Unallocated,
            Some(a) if addr < a.guard_page() => Lookup::Mapped(a),
            Some(a) if addr < a.addr + a.size => Lookup::Guard(a),
            _ => Lookup::Unallocated,
        }
    }

    /// The areas in use (freed records left out).
    pub fn iter(&self) -> impl Iterator<Item = &VmArea> {
        self.areas.iter().filter(|a| a.kind != VmKind::Freed)
    }

    /// Bytes mapped by areas (`VmallocUsed`).
    pub fn used(&self) -> usize {
        self.areas.iter().map(|a| a.pages.len() * PAGE_SIZE).sum()
    }

    /// The largest free gap (`VmallocChunk`).
    pub fn largest_free(&self) -> usize {
        let mut prev = self.start;
        let mut best = 0;
        for a in self.areas.iter() {
            best = best.max(a.addr - prev);
            prev = a.addr + a.size;
        }
        best.max(self.end - prev)
    }
}

/// Why `vmalloc` gave no memory. Nothing is left allocated when it fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmallocError {
    /// `vmalloc(0)`.
    ZeroSize,
    /// `size` bytes (plus the guard page) are more than the whole vmalloc
    /// area of `area` bytes: no amount of freeing would make room.
    TooBig { size: usize, area: usize },
    /// The area has no gap for `size` bytes plus a guard page (full, or
    /// fragmented): its largest gap is `largest_free` bytes.
    NoSpace { size: usize, largest_free: usize },
    /// Address space was found, but not memory: `got` of the `pages`
    /// frames, the array that lists them, or a page table (`what`).
    NoMemory { size: usize, what: &'static str, got: usize, pages: usize },
}

impl fmt::Display for VmallocError {
    /// Short enough for one shell line (the shell's buffer is 160 bytes).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VmallocError::ZeroSize => f.write_str("size 0: nothing to allocate"),
            VmallocError::TooBig { size, area } => write!(
                f,
                "too big: {} bytes ({}K) and a guard page exceed the whole vmalloc area of {} bytes ({}K)",
                size,
                size / 1024,
                area,
                area / 1024
            ),
            VmallocError::NoSpace { size, largest_free } => write!(
                f,
                "no room: the vmalloc area is full or fragmented (largest gap {}K) for {}K and a guard page",
                largest_free / 1024,
                size / 1024
            ),
            VmallocError::NoMemory { size, what, got, pages } => {
                write!(
                    f,
                    "out of memory: no {} (got {} of {} pages) for {}K; all given back",
                    what,
                    got,
                    pages,
                    size / 1024
                )
            }
        }
    }
}

/// One line of `/proc/vmallocinfo`:
/// `0xf7405000-0xf7407000    8192 caller+0x2b/0x1b0 pages=1 vmalloc`.
pub fn vmallocinfo_line(out: &mut impl fmt::Write, a: &VmAreaInfo, caller: impl fmt::Display) -> fmt::Result {
    write!(out, "{:#010x}-{:#010x} {:>7} {}", a.addr, a.addr + a.size, a.size, caller)?;
    if a.kind == VmKind::Vmalloc {
        write!(out, " pages={}", a.nr_pages)?;
    }
    writeln!(
        out,
        " {}",
        match a.kind {
            VmKind::Vmalloc => "vmalloc",
            VmKind::Vmap => "vmap",
            VmKind::Freed => "freed",
        }
    )
}

#[cfg(test)]
mod tests;
