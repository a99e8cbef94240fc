//! The reverse map: from a user page to the page-table entries that map
//! it (Linux's mm/rmap.c), which reclaim needs to read the accessed bits
//! (`page_referenced`) and to replace the entries with swap entries
//! (`try_to_unmap`).
//!
//! Which kind: object-based, as Linux's anonymous rmap since 2.6.9. A page
//! records an object (`page->mapping`) and its place in it
//! (`page->index`), and the object lists the address spaces that may map
//! it; the entry is then found by one page-table lookup in each. The
//! object here is a *family*: the address spaces descended by fork from
//! one exec. Fork copies entries at the same virtual addresses and nothing
//! here moves an anonymous page to another address (no `mremap`), so a
//! page's index is simply its user address, and a family is the whole set
//! of address spaces that can share its pages. (2.6.9's `anon_vma` is per
//! area instead of per family, which narrows the search; 2.6.34's
//! `anon_vma_chain` narrows it again. A family stays cheap for the
//! fork trees a lab runs.) The alternative, 2.5's per-page chains of
//! entry pointers (`pte_chain`), costs memory for every mapping and time
//! at every fork and exit; the object-based map costs nothing until
//! reclaim asks.
//!
//! Families live in a table under one sleeping lock, [`RMAP`] (Linux's
//! `anon_vma->lock`, one for all here: one CPU). Exec and fork add an
//! address space to a family, its teardown removes it last thing, and the
//! walks hold the lock throughout, so every address space they find is
//! alive. Nobody allocates while holding it (room is made first, outside):
//! an allocation may enter reclaim, and reclaim waits for this lock.

use super::kmem_alloc::KmemCacheAlloc;
use super::mm_types::{MmRef, MmStruct};
use super::page::{Page, PAGE_MAPPING_ANON};
use super::pgtable::{Pte, SwpEntry, VirtAddr};
use crate::arch::x86::pgtable_types::PteFlags;
use crate::kernel::mutex::{Mutex, MutexGuard};
use crate::layout::PAGE_SHIFT;
use alloc::sync::Weak;
use alloc::vec::Vec;
use core::sync::atomic::Ordering::Relaxed;

type MmWeak = Weak<MmStruct, KmemCacheAlloc>;
/// The family table: index = family number.
type Families = Vec<Option<Vec<MmWeak>>>;

/// The families: index = family number, `None` for a free number.
pub struct Rmap {
    families: Families,
}

pub static RMAP: Mutex<Rmap> = Mutex::new(Rmap { families: Vec::new() });

/// Out of memory for the family table.
#[derive(Debug)]
pub struct NoMemory;

/// A vector with room for one more element, made outside the lock: the
/// holder of [`RMAP`] never allocates (an allocation may enter reclaim,
/// which waits for the lock), so growing one is done in two steps.
fn grown<T>(len: usize) -> Result<Vec<T>, NoMemory> {
    let mut v = Vec::new();
    v.try_reserve_exact((len + 1).max(4) * 2).map_err(|_| NoMemory)?;
    Ok(v)
}

/// Put new address space `mm` in a family: `parent`'s (fork), or a new
/// one (exec). May sleep (it allocates, outside the lock).
pub fn anon_link(mm: &MmRef, parent: Option<&MmStruct>) -> Result<(), NoMemory> {
    let mut spare_table: Option<Families> = None;
    let mut spare_family: Option<Vec<MmWeak>> = None;
    // A new family's number, once taken (kept across rounds).
    let mut reserved: Option<usize> = None;
    loop {
        let mut r = RMAP.lock();
        let id = match (parent, reserved) {
            (Some(p), _) => Some(p.anon_family.load(Relaxed) as usize),
            (None, Some(id)) => Some(id),
            (None, None) => r.families.iter().position(|f| f.is_none()),
        };
        let id = match id {
            Some(i) => i,
            None if r.families.len() < r.families.capacity() => {
                r.families.push(None);
                r.families.len() - 1
            }
            None => match spare_table.take() {
                Some(mut bigger) if bigger.capacity() > r.families.len() => {
                    bigger.append(&mut r.families);
                    // The old, empty vector goes back to kfree, which
                    // never waits for memory.
                    r.families = bigger;
                    r.families.push(None);
                    r.families.len() - 1
                }
                _ => {
                    let len = r.families.len();
                    drop(r);
                    spare_table = Some(grown(len)?);
                    continue;
                }
            },
        };
        let Some(fam) = r.families.get_mut(id) else { return Err(NoMemory) };
        // A new family's number is reserved (an empty list) so that it is
        // still ours if we leave the lock to make room.
        let list = fam.get_or_insert_with(Vec::new);
        if list.len() < list.capacity() {
            list.push(alloc::sync::Arc::downgrade(mm));
            mm.anon_family.store(id as u32, Relaxed);
            return Ok(());
        }
        match spare_family.take() {
            Some(mut bigger) if bigger.capacity() > list.len() => {
                bigger.append(list);
                bigger.push(alloc::sync::Arc::downgrade(mm));
                let old = core::mem::replace(list, bigger);
                mm.anon_family.store(id as u32, Relaxed);
                drop(r);
                drop(old);
                return Ok(());
            }
            _ => {
                let len = list.len();
                reserved = Some(id);
                drop(r);
                match grown(len) {
                    Ok(v) => spare_family = Some(v),
                    Err(e) => {
                        // Give the reserved number back if still unused.
                        if parent.is_none() {
                            release_empty(id);
                        }
                        return Err(e);
                    }
                }
            }
        }
    }
}

/// Free family number `id` if its list is (still) empty.
fn release_empty(id: usize) {
    let mut freed: (Option<Vec<MmWeak>>, Option<Families>) = (None, None);
    {
        let mut r = RMAP.lock();
        if r.families.get(id).is_some_and(|f| f.as_ref().is_some_and(Vec::is_empty)) {
            freed = shrink_table(&mut r, id);
        }
    }
    drop(freed);
}

/// Empty family `id` out of the table, which shrinks with it; what is to
/// be freed is returned, to be dropped after the lock.
fn shrink_table(r: &mut Rmap, id: usize) -> (Option<Vec<MmWeak>>, Option<Families>) {
    let fam = r.families[id].take();
    while let Some(None) = r.families.last() {
        r.families.pop();
    }
    let table = r.families.is_empty().then(|| core::mem::take(&mut r.families));
    (fam, table)
}

/// Take address space `mm` out of its family: the last thing its teardown
/// does, after every page it mapped is gone. A family left empty frees
/// its number; the table shrinks with its families, so that memory comes
/// back exactly when every process has gone (freed after the lock).
pub fn anon_unlink(mm: &MmStruct) {
    let mut freed: (Option<Vec<MmWeak>>, Option<Families>) = (None, None);
    {
        let mut r = RMAP.lock();
        let id = mm.anon_family.load(Relaxed) as usize;
        let Some(Some(fam)) = r.families.get_mut(id) else { return };
        fam.retain(|w| !core::ptr::eq(w.as_ptr(), mm));
        if fam.is_empty() {
            freed = shrink_table(&mut r, id);
        }
    }
    drop(freed);
}

/// Record where new user page `page` is mapped: in `mm`'s family, at `va`
/// (Linux's `__page_set_anon_rmap`).
pub fn page_set_anon_rmap(page: &Page, mm: &MmStruct, va: usize) {
    page.set_mapping((mm.anon_family.load(Relaxed) << 1) | PAGE_MAPPING_ANON);
    page.set_index((va >> PAGE_SHIFT) as u32);
}

/// Call `f` on each address space of the family of mapped page `page`,
/// with the user address the page has there.
fn for_each_mapping(g: &MutexGuard<'_, Rmap>, page: &Page, f: impl FnMut(&MmStruct, VirtAddr)) {
    if page.page_mapcount() == 0 {
        return;
    }
    for_each_family_member(g, page, f);
}

/// Call `f` on each address space of `page`'s family, with the page's
/// user address, whether or not it maps the page now: migration looks for
/// its entries after the page's map count has fallen to 0.
pub fn for_each_family_member(g: &MutexGuard<'_, Rmap>, page: &Page, f: impl FnMut(&MmStruct, VirtAddr)) {
    for_each_in_family(g, page.mapping(), page.index(), f);
}

/// `for_each_family_member` for a page whose `mapping` and `index` were
/// `mapping` and `index` (migration moves them to the new frame midway).
pub fn for_each_in_family(g: &MutexGuard<'_, Rmap>, mapping: u32, index: u32, mut f: impl FnMut(&MmStruct, VirtAddr)) {
    if mapping & PAGE_MAPPING_ANON == 0 {
        return;
    }
    let id = (mapping >> 1) as usize;
    let va = VirtAddr::new((index as usize) << PAGE_SHIFT);
    let Some(Some(fam)) = g.families.get(id) else { return };
    for w in fam {
        // SAFETY: an address space leaves its family (under RMAP, which
        // the caller holds) only at the end of its teardown, before its
        // fields are dropped and while this Weak keeps its memory: so it
        // is whole while it is listed here. Only `&self` methods that take
        // its page-table lock are used.
        let mm = unsafe { &*w.as_ptr() };
        f(mm, va);
    }
}

/// Linux's `page_referenced` for an anonymous page: how many of its
/// entries the CPU marked accessed since the last look, clearing the
/// marks. `None` when the rmap lock is busy.
pub fn page_referenced(pfn: u32, page: &Page) -> Option<usize> {
    let g = RMAP.lock();
    let mut young = 0;
    for_each_mapping(&g, page, |mm, va| {
        // SAFETY: the same frame, only the accessed bit cleared.
        unsafe {
            mm.update_pte(va, |p| {
                (p.is_present() && p.pfn().0 == pfn && p.flags().contains(PteFlags::ACCESSED)).then(|| {
                    young += 1;
                    Pte::new(p.pfn(), p.flags() - PteFlags::ACCESSED)
                })
            })
        };
    });
    Some(young)
}

/// What `try_to_unmap` achieved (Linux's `SWAP_SUCCESS`, `SWAP_AGAIN`,
/// `SWAP_FAIL`, `SWAP_MLOCK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unmap {
    /// Mapped nowhere now.
    Success,
    /// Some entries are left (the lock was busy, or a mapping went
    /// missing): try again later.
    Again,
    /// Mlocked: never to be unmapped; it belongs on the unevictable list.
    Mlock,
}

/// Linux's `try_to_unmap` for an anonymous page in the swap cache at
/// `entry`: every entry mapping it becomes the swap entry (one count on the
/// slot each), the page loses those mappings, the address spaces their rss.
/// The caller holds a reference on the page (it is isolated), so dropping
/// the mappings' reference never frees it here.
pub fn try_to_unmap(pfn: u32, page: &Page, entry: SwpEntry) -> Unmap {
    if page.flags().contains(super::page::PageFlags::MLOCKED) {
        return Unmap::Mlock;
    }
    let g = RMAP.lock();
    let swp = Pte::from_swp_entry(entry);
    for_each_mapping(&g, page, |mm, va| {
        // LAB 7: BEGIN this mapping becomes the swap entry: the slot, the page and the process count it
        let mut took = false;
        // SAFETY: the entry changes from the frame to a swap entry that
        // holds its own count on the slot (taken here, under the
        // page-table lock, before the entry is written).
        unsafe {
            mm.update_pte(va, |p| {
                (p.has_frame() && p.pfn().0 == pfn && super::swapfile::swap_duplicate(entry)).then(|| {
                    took = true;
                    swp
                })
            })
        };
        if took {
            mm.rss.fetch_sub(1, Relaxed);
            mm.swapents.fetch_add(1, Relaxed);
            super::memory::page_remove_rmap(pfn, page);
        }
        // LAB 7: STUB
        // let _ = (mm, va, swp, pfn);
        // LAB 7: END
    });
    drop(g);
    if page.page_mapcount() == 0 {
        Unmap::Success
    } else {
        Unmap::Again
    }
}

/// Every address space in a family now, as references (for `swapoff`,
/// which must sleep while it works on each).
pub fn all_mms() -> Vec<MmRef> {
    loop {
        let n = RMAP.lock().families.iter().flatten().map(Vec::len).sum::<usize>();
        // Room made before the lock (see `grown`).
        let mut v: Vec<MmRef> = Vec::with_capacity(n);
        let g = RMAP.lock();
        if g.families.iter().flatten().map(Vec::len).sum::<usize>() > n {
            continue;
        }
        for w in g.families.iter().flatten().flatten() {
            if let Some(mm) = w.upgrade() {
                v.push(mm);
            }
        }
        drop(g);
        return v;
    }
}
