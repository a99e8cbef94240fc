//! User pages: the page-fault handler's memory half, and the walks that
//! copy, change and free a process's pages (Linux's mm/memory.c, with the
//! page-table half of mm/mprotect.c and mm/mlock.c).
//!
//! Every user page is anonymous (a private page of its own): a fault on an
//! area of the program file copies the file's page into a fresh frame, as
//! if the page-cache page had been copied on first touch (there is no page
//! cache here). Frames come from `GFP_HIGHUSER_MOVABLE`, highmem first, and
//! the kernel touches them only through `kmap_atomic` (`clear_highpage`,
//! `copy_highpage`, `memcpy_to_page`).
//!
//! A frame's owners are the page-table entries that map it, counted in its
//! `_mapcount` (-1: none). Fork maps every page of a private writable area
//! into the child read-only, in both, and counts the second mapper; the
//! first write fault on either side then copies it (`do_wp_page`), or, when
//! the faulting side is the only mapper left, just makes it writable again.
//! The frame is freed when its last entry goes (`zap_pte_range`).
//!
//! Locks: the mm's `mmap` (Linux's `mmap_sem`, a sleeping lock) is held by
//! the caller of everything here; page-table entries change under
//! `page_table_lock` inside `MmStruct`'s methods. Frames are allocated and
//! tables made with neither spin lock held (both may sleep).

use crate::arch::x86::pgtable_types::PteFlags;
use crate::layout::{PAGE_SIZE, TASK_SIZE};
use crate::mm::gfp::{Gfp, GFP_HIGHUSER_MOVABLE};
use crate::mm::highmem::{copy_highpage, memcpy_to_page};
use crate::mm::mm_types::{update_hiwater_rss, MmContext, MmStruct, PteLocked};
use crate::mm::mmap::{VmFlags, Vma, VmaKind};
use crate::mm::mmzone::pfn_to_page;
use crate::mm::page::Page;
use crate::mm::page::PageFlags;
use crate::mm::page_alloc::{self, Pages};
use crate::mm::page_io::swap_readpage;
use crate::mm::pgtable::{MapError, Pfn, Pte, SwpEntry, VirtAddr};
use crate::mm::rmap::page_set_anon_rmap;
use crate::mm::swap::{lru_cache_add, lru_relocate, put_page};
use crate::mm::swapfile::{
    add_to_swap_cache, free_swap_and_cache, lookup_swap_cache, swap_duplicate, swap_free, try_to_free_swap,
    vm_swap_full,
};
use crate::mm::vmstat::{count_vm_event, VmEvent, NR_ANON_PAGES, NR_MLOCK};
use core::sync::atomic::{AtomicUsize, Ordering};

/// Write faults that copied a shared page (`do_wp_page`'s copy).
pub static COW_COPIES: AtomicUsize = AtomicUsize::new(0);
/// Write faults that found the page theirs alone and only made it writable.
pub static COW_REUSES: AtomicUsize = AtomicUsize::new(0);

/// Why a fault could not be served (Linux's `VM_FAULT_*` and the
/// `bad_area` cases): the handler turns it into SIGSEGV (`code` 1 or 2)
/// or SIGBUS/the OOM path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No area covers the address (`SEGV_MAPERR`).
    NoVma,
    /// An area covers it, but not for this access (`SEGV_ACCERR`).
    Access,
    /// No memory for the page or its page table (`VM_FAULT_OOM`).
    Oom,
    /// The page's data could not be read back from swap
    /// (`VM_FAULT_SIGBUS`).
    Sigbus,
}

/// How the faulting access touched the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub write: bool,
    pub user_esp: Option<usize>,
}

/// The user page at `va`, for `pte` flags from area flags (`vm_page_prot`
/// for a private area: writable only when the area is and the page is
/// this mapping's alone).
fn page_prot(flags: VmFlags, writable: bool) -> PteFlags {
    if writable && flags.contains(VmFlags::WRITE) {
        PteFlags::PRESENT_RW | PteFlags::USER
    } else {
        PteFlags::PRESENT | PteFlags::USER
    }
}

/// Whether an area allows an access at all (Linux's `access_error`; i386
/// without NX cannot refuse a fetch from a readable page).
fn access_ok(vma: &Vma, write: bool) -> bool {
    // LAB 6: BEGIN may this access (the error code's write bit) touch this area at all?
    if write {
        vma.flags.contains(VmFlags::WRITE)
    } else {
        vma.flags.intersects(VmFlags::READ | VmFlags::WRITE | VmFlags::EXEC)
    }
    // LAB 6: STUB
    // let _ = (vma, write);
    // true
    // LAB 6: END
}

/// Linux 2.6.24's check in `do_page_fault`: an access more than 64 KB
/// (plus the 32 words `pusha` may push) below the user stack pointer is a
/// bug, not stack growth.
const STACK_SLACK: usize = 65536 + 32 * 4;

/// Serve a fault at user address `addr` (Linux's `handle_mm_fault` with
/// the area lookup of `do_page_fault`). The caller holds `ctx` (the mm's
/// `mmap` lock). May sleep.
pub fn handle_mm_fault(mm: &MmStruct, ctx: &mut MmContext, addr: usize, access: Access) -> Result<(), FaultError> {
    handle_user_fault(mm, ctx, addr, access, false)
}

/// [`handle_mm_fault`] for the trap handler, whose error code says
/// whether the entry was not present (`not_present`): in an anonymous
/// area of an address space with nothing on swap, such a fault is almost
/// always on an empty entry, and the page is made before the entry is
/// looked at (see the speculation below).
pub fn handle_user_fault(
    mm: &MmStruct,
    ctx: &mut MmContext,
    addr: usize,
    access: Access,
    not_present: bool,
) -> Result<(), FaultError> {
    crate::mm::vmstat::count_vm_event(crate::mm::vmstat::VmEvent::PgFault);
    if addr >= TASK_SIZE {
        return Err(FaultError::NoVma);
    }
    match ctx.vmas.find_vma(addr) {
        Some(v) if v.start <= addr => {}
        Some(v) if v.flags.contains(VmFlags::GROWSDOWN) => {
            if access.user_esp.is_some_and(|esp| addr + STACK_SLACK < esp) {
                return Err(FaultError::NoVma);
            }
            let rlim = ctx.rlim;
            ctx.vmas.expand_stack(addr, &rlim).map_err(|_| FaultError::NoVma)?;
            ctx.update_hiwater_vm();
        }
        _ => return Err(FaultError::NoVma),
    }
    // From here on the areas only are read: the area is borrowed where it
    // lies, not copied. This second lookup is answered by `find_vma`'s
    // cache of the last area found (Linux's `mmap_cache`), which the first
    // one left there.
    let ctx: &MmContext = ctx;
    let vma = ctx.vmas.find_vma(addr).ok_or(FaultError::NoVma)?;
    if !access_ok(vma, access.write) {
        return Err(FaultError::Access);
    }
    let va = VirtAddr::new(addr & !(PAGE_SIZE - 1));
    // A not-present fault in an anonymous area of an address space with
    // no swap entries finds an empty entry (or, rarely, one a migration
    // put there meanwhile): the new page is made first and the entry
    // looked at once, under the lock, where it is installed if still
    // empty (Linux's do_anonymous_page, without handle_pte_fault's look
    // before it: with HIGHPTE each look maps the page table). Whatever
    // else is found is served below, the page given back. `swapents` is
    // read without the lock: a stale 0 only means a page made for
    // nothing.
    let speculate = not_present && matches!(vma.kind, VmaKind::Anonymous) && mm.swapents.load(Ordering::Relaxed) == 0;
    let (found, no_page) = match speculate.then(|| new_page(ctx, vma, va)) {
        Some(Ok(page)) => match install_new_page(mm, vma, va, page, page_prot(vma.flags, true))? {
            None => return Ok(()),
            Some(other) => (Some(other), None),
        },
        // No page: the look decides whether one was needed (an empty
        // entry fails with this error, not with a second try).
        Some(Err(e)) => (mm.pte(va), Some(e)),
        // The look, mapped and locked: a write to a present read-only
        // entry goes to do_wp_page with it still so (Linux's
        // handle_pte_fault), which decides reuse or copy on the entry as
        // found instead of mapping the table again to look once more.
        None => match mm.pte_offset_map_lock(va) {
            Some(pte) if access.write && is_wp(pte.get()) => return do_wp_page(mm, vma, va, pte),
            pte => (pte.map(|p| p.get()), None),
        },
    };
    match found {
        None => no_page.map_or_else(|| do_no_page(mm, ctx, vma, va), Err),
        Some(pte) if pte.is_none() => no_page.map_or_else(|| do_no_page(mm, ctx, vma, va), Err),
        Some(pte) if pte.is_present() => {
            if access.write && is_wp(pte) {
                // Found by the speculative path: look again, locked.
                match mm.pte_offset_map_lock(va) {
                    Some(locked) if locked.get() == pte => do_wp_page(mm, vma, va, locked),
                    _ => Ok(()),
                }
            } else {
                // Another path made it present meanwhile, or a stale TLB
                // entry: nothing to do, the access is retried.
                Ok(())
            }
        }
        Some(pte) if pte.is_swap() && pte.swp_entry().is_migration() => {
            // The page is being moved: wait, then the access is retried.
            crate::mm::migrate::migration_entry_wait(mm, va, pte);
            Ok(())
        }
        Some(pte) if pte.is_swap() => do_swap_page(mm, vma, va, pte, access.write),
        // PROT_NONE pages live only in areas without access, refused
        // above.
        Some(_) => Err(FaultError::Access),
    }
}

/// Whether a write to `pte` is a copy-on-write fault: present, read-only.
fn is_wp(pte: Pte) -> bool {
    pte.is_present() && !pte.flags().contains(PteFlags::RW)
}

/// A fresh frame for a user page: highmem first, movable.
fn alloc_user_page(zero: bool) -> Result<Pages, FaultError> {
    let gfp = if zero { GFP_HIGHUSER_MOVABLE | Gfp::ZERO } else { GFP_HIGHUSER_MOVABLE };
    page_alloc::alloc_pages(gfp, 0).ok_or(FaultError::Oom)
}

/// Map new frame `page` at `va` with `flags`, as its first and only
/// mapping (Linux's `page_add_new_anon_rmap` and `set_pte_at`): the frame
/// belongs to the page tables from here on. `Ok(Some(entry))` when the
/// entry was not empty: `page` has been given back, `entry` is what is
/// there.
fn install_new_page(
    mm: &MmStruct,
    vma: &Vma,
    va: VirtAddr,
    page: Pages,
    flags: PteFlags,
) -> Result<Option<Pte>, FaultError> {
    let pfn = page.pfn();
    // The page table is there (the usual case): the entry is written in
    // one trip under the page-table lock, as Linux's `do_anonymous_page`
    // does under `pte_offset_map_lock`. `map_page`, which looks for the
    // table under the lock and then takes it again to map, is for a fault
    // that must make the table.
    let mut installed = false;
    // SAFETY: the frame was just allocated and is handed to the entry,
    // which owns it from here on (freed by zap when the last entry goes);
    // only an empty entry is written.
    let found = unsafe {
        mm.update_pte(va, |old| {
            installed = old.is_none();
            installed.then(|| Pte::new(Pfn(pfn), flags | PteFlags::PRESENT | PteFlags::USER))
        })
    };
    let there = match found {
        Some(old) => (!installed).then_some(old),
        // SAFETY: as above.
        None => match unsafe { mm.map_page(va, Pfn(pfn), flags) } {
            Ok(()) => None,
            Err(MapError::NoMemory) => {
                page_alloc::__free_pages(page);
                return Err(FaultError::Oom);
            }
            Err(MapError::AlreadyMapped(_, old) | MapError::SwapEntry(_, old)) => Some(old),
            Err(_) => Some(Pte::NONE),
        },
    };
    if there.is_some() {
        // Not empty (a speculative page, or mapped meanwhile): the entry
        // there wins, ours goes back.
        page_alloc::__free_pages(page);
        return Ok(there);
    }
    let _ = page.into_raw();
    page_add_new_anon_rmap(mm, vma, va, pfn);
    // LAB 6: BEGIN count the new page in the process's resident set (VmRSS, and its peak VmHWM)
    let rss = mm.rss.fetch_add(1, Ordering::Relaxed) + 1;
    update_hiwater_rss(mm, rss);
    // LAB 6: END
    Ok(None)
}

/// A new frame's first mapping, at `va` of `mm` (Linux's
/// `page_add_new_anon_rmap` and `lru_cache_add_active`): its reverse map,
/// its map count, the mlock mark of a locked area, and onto the LRU.
fn page_add_new_anon_rmap(mm: &MmStruct, vma: &Vma, va: VirtAddr, pfn: u32) {
    let Some(p) = pfn_to_page(pfn as usize) else { return };
    page_set_anon_rmap(p, mm, va.as_usize());
    p.reset_mapcount();
    p.inc_mapcount();
    if vma.flags.contains(VmFlags::LOCKED) && !p.test_and_set_flag(PageFlags::MLOCKED) {
        NR_MLOCK.fetch_add(1, Ordering::Relaxed);
    }
    NR_ANON_PAGES.fetch_add(1, Ordering::Relaxed);
    lru_cache_add(pfn);
}

/// A fault on an empty entry (Linux's `do_anonymous_page`, and
/// `do_no_page` for the program file, copied into a private frame).
fn do_no_page(mm: &MmStruct, ctx: &MmContext, vma: &Vma, va: VirtAddr) -> Result<(), FaultError> {
    let page = new_page(ctx, vma, va)?;
    // Something there meanwhile (the mmap lock makes it impossible
    // today): the access is retried.
    install_new_page(mm, vma, va, page, page_prot(vma.flags, true)).map(|_| ())
}

/// The frame for the page at `va` of `vma` on its first touch: zeroed, or
/// the program file's bytes.
fn new_page(ctx: &MmContext, vma: &Vma, va: VirtAddr) -> Result<Pages, FaultError> {
    Ok(match vma.kind {
        // LAB 6: BEGIN a demand-zero page: a fresh frame, and what must be in it
        VmaKind::Anonymous => alloc_user_page(true)?,
        // LAB 6: STUB
        // VmaKind::Anonymous => alloc_user_page(false)?,
        // LAB 6: END
        VmaKind::File(f) => {
            // The file's bytes of this page; past the file's end, zero.
            let off = vma.pgoff.wrapping_add((va.as_usize() - vma.start) / PAGE_SIZE).wrapping_mul(PAGE_SIZE);
            let data: &[u8] = match ctx.exe {
                Some((exe, bytes)) if exe.id == f.id => bytes.get(off..).unwrap_or(&[]),
                _ => &[],
            };
            let n = data.len().min(PAGE_SIZE);
            let page = alloc_user_page(n < PAGE_SIZE)?;
            // SAFETY: the frame is ours, just allocated, mapped nowhere.
            unsafe { memcpy_to_page(page.pfn(), 0, &data[..n]) };
            page
        }
    })
}

/// A write to a present read-only page of a writable area: copy-on-write
/// (Linux's `do_wp_page`), with the entry `pte` as the fault found it,
/// still mapped and under the page-table lock. The page is reused, made
/// writable, when this entry is its only mapping (and, for a page in the
/// swap cache, no other process still has its swap entry: the page then
/// leaves the cache); otherwise it is copied into a new frame through two
/// atomic kmap slots, the copy mapped here, and the original loses one
/// mapper. Both decisions are made under the page-table lock, where
/// reclaim's unmapping of this entry waits: the reuse test on the entry
/// as found, the copy's installation only if the entry is still the one
/// the copy was made from (the lock is let go around the allocation,
/// which may sleep, as Linux's `pte_unmap_unlock` before the copy and
/// `pte_same` after it).
fn do_wp_page(mm: &MmStruct, vma: &Vma, va: VirtAddr, mut pte: PteLocked<'_>) -> Result<(), FaultError> {
    let old = pte.get();
    let old_pfn = old.pfn().0;
    let old_page = pfn_to_page(old_pfn as usize).ok_or(FaultError::Access)?;
    // LAB 6: BEGIN reuse the page if it is this entry's alone, else copy it
    // Linux's `page_mapcount` is `_mapcount + 1`: one mapper, ours.
    if old_page.page_mapcount() <= 1 && (!old_page.flags().contains(PageFlags::SWAPCACHE) || try_to_free_swap(old_pfn))
    {
        // SAFETY: the same frame, which this entry already owns.
        unsafe { pte.set(Pte::new(old.pfn(), old.flags() | PteFlags::RW)) };
        drop(pte);
        COW_REUSES.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    // Shared: a reference on the frame for the copy, taken while the entry
    // still maps it, then the table unmapped and the lock let go.
    old_page.get();
    drop(pte);
    let new = match alloc_user_page(false) {
        Ok(new) => new,
        Err(e) => {
            put_page(old_pfn);
            return Err(e);
        }
    };
    // SAFETY: `new` is ours alone; `old` is mapped read-only everywhere
    // and held by our reference, so nobody writes or frees it meanwhile.
    unsafe { copy_highpage(new.pfn(), old_pfn) };
    let new_pfn = new.pfn();
    let flags = page_prot(vma.flags, true);
    let mut swapped = false;
    // SAFETY: the new frame goes to this entry, which owns it from now on;
    // the old frame loses this mapping (counted below).
    unsafe {
        mm.update_pte(va, |p| {
            swapped = p == old;
            swapped.then(|| Pte::new(Pfn(new_pfn), flags))
        })
    };
    if !swapped {
        // The entry changed meanwhile: the access is retried.
        page_alloc::__free_pages(new);
        put_page(old_pfn);
        return Ok(());
    }
    let _ = new.into_raw();
    COW_COPIES.fetch_add(1, Ordering::Relaxed);
    page_add_new_anon_rmap(mm, vma, va, new_pfn);
    // The old frame: one mapping fewer, and our reference back.
    page_remove_rmap(old_pfn, old_page);
    put_page(old_pfn);
    Ok(())
    // LAB 6: STUB
    // // Made writable where it is, shared or not: no copy.
    // let _ = (mm, vma, old_page, copy_highpage);
    // // SAFETY: the same frame, which this entry already owns.
    // unsafe { pte.set(Pte::new(old.pfn(), old.flags() | PteFlags::RW)) };
    // drop(pte);
    // COW_REUSES.fetch_add(1, Ordering::Relaxed);
    // Ok(())
    // LAB 6: END
}

/// A fault on a swap entry (Linux's `do_swap_page`): the page from the
/// swap cache, or read from the disk into a new highmem frame through
/// `mm::page_io` (a major fault) and put in the cache; then mapped
/// read-only, and the entry's count on its slot dropped. The page stays in
/// the cache, clean, so that evicting it again costs no write; it leaves
/// the cache (its copy on disk about to go stale) and is mapped writable
/// when this is a write and no other process still has the entry, or when
/// swap is more than half full (2.6.24's `vm_swap_full`).
fn do_swap_page(mm: &MmStruct, vma: &Vma, va: VirtAddr, orig: Pte, write: bool) -> Result<(), FaultError> {
    let entry = orig.swp_entry();
    // One reference on the page for us, from here to the mapping.
    let pfn = match lookup_swap_cache(entry) {
        Some(pfn) => pfn,
        None => {
            let new = alloc_user_page(false)?;
            if let Err(e) = swap_readpage(entry, new.pfn()) {
                crate::pr_err!("Read-error on swap-device: {} (entry {:08x}, address {})", e, entry.0, va);
                page_alloc::__free_pages(new);
                return Err(FaultError::Sigbus);
            }
            count_vm_event(VmEvent::PgMajFault);
            match add_to_swap_cache(new.pfn(), entry) {
                Ok(()) => {
                    let pfn = new.into_raw();
                    lru_cache_add(pfn);
                    // Its neighbours on the disk too (`vm.page-cluster`).
                    crate::mm::page_io::swapin_readahead(entry);
                    pfn
                }
                Err(u32::MAX) => {
                    // Not an entry in use: reported by the swap code.
                    page_alloc::__free_pages(new);
                    return Err(FaultError::Sigbus);
                }
                Err(other) => {
                    page_alloc::__free_pages(new);
                    other
                }
            }
        }
    };
    let page = pfn_to_page(pfn as usize).ok_or(FaultError::Sigbus)?;
    // LAB 7: BEGIN map the page where its swap entry was, and give the entry's count on the slot back
    if page.page_mapcount() == 0 {
        page_set_anon_rmap(page, mm, va.as_usize());
    }
    let flags = page_prot(vma.flags, false);
    let mut installed = false;
    // SAFETY: the swap entry, whose page this is, becomes the page; the
    // mapping's reference is ours (kept below) or the mappings' already.
    unsafe {
        mm.update_pte(va, |p| {
            installed = p == orig;
            installed.then(|| Pte::new(Pfn(pfn), flags))
        })
    };
    if !installed {
        put_page(pfn);
        return Ok(());
    }
    if page.inc_mapcount() {
        // The first mapping: our reference becomes the mappings' one.
        NR_ANON_PAGES.fetch_add(1, Ordering::Relaxed);
    } else {
        put_page(pfn);
    }
    if vma.flags.contains(VmFlags::LOCKED) && !page.test_and_set_flag(PageFlags::MLOCKED) {
        NR_MLOCK.fetch_add(1, Ordering::Relaxed);
        lru_relocate(pfn);
    }
    let rss = mm.rss.fetch_add(1, Ordering::Relaxed) + 1;
    update_hiwater_rss(mm, rss);
    mm.swapents.fetch_sub(1, Ordering::Relaxed);
    swap_free(entry);
    let keep_cache = !write && !vm_swap_full();
    if !keep_cache && page.page_mapcount() == 1 && try_to_free_swap(pfn) && vma.flags.contains(VmFlags::WRITE) {
        let mapped = Pte::new(Pfn(pfn), flags);
        // SAFETY: the same frame, ours alone now.
        unsafe { mm.update_pte(va, |p| (p == mapped).then(|| Pte::new(Pfn(pfn), flags | PteFlags::RW))) };
    }
    Ok(())
    // LAB 7: STUB
    // // Not mapped: the page stays in the swap cache, the fault fails.
    // let _ = (mm, vma, va, orig, write, page, vm_swap_full);
    // put_page(pfn);
    // Err(FaultError::Sigbus)
    // LAB 7: END
}

/// One mapping of user page `pfn` gone (Linux's `page_remove_rmap`): the
/// last one drops the mappings' reference, which frees the page unless the
/// swap cache or a holder still has it.
pub fn page_remove_rmap(pfn: u32, page: &Page) {
    if page.dec_mapcount() {
        if page.test_and_clear_flag(PageFlags::MLOCKED) {
            NR_MLOCK.fetch_sub(1, Ordering::Relaxed);
            lru_relocate(pfn);
        }
        NR_ANON_PAGES.fetch_sub(1, Ordering::Relaxed);
        // Mapped nowhere now: a swap-cache copy nobody else has the entry
        // for is of no use, and its slot is freed (Linux's
        // `free_page_and_swap_cache`). Reclaim's own unmapping holds the
        // page locked, which keeps it in the cache.
        if page.flags().contains(PageFlags::SWAPCACHE) {
            try_to_free_swap(pfn);
        }
        put_page(pfn);
    }
}

/// One mapping of user frame `pfn` gone (see `page_remove_rmap`).
fn put_user_page(pfn: u32) {
    if let Some(page) = pfn_to_page(pfn as usize) {
        page_remove_rmap(pfn, page);
    }
}

/// What one user entry held, let go as it is cleared (the body of Linux's
/// `zap_pte_range`): a frame's mapping, counted in `frames`, or a swap
/// entry's count on its slot, counted in `swapped`.
fn zap_pte(pte: Pte, frames: &mut usize, swapped: &mut usize) {
    if pte.has_frame() {
        *frames += 1;
        put_user_page(pte.pfn().0);
    } else if pte.is_swap() && pte.swp_entry().is_migration() {
        // The page is being moved; its mapping is counted nowhere but in
        // rss (Linux's zap_pte_range).
        *frames += 1;
    } else if pte.is_swap() {
        *swapped += 1;
        // LAB 7: BEGIN the swap entry goes: its count on the slot (and the swap cache's page, if last)
        free_swap_and_cache(pte.swp_entry());
        // LAB 7: STUB
        // let _ = (pte, free_swap_and_cache);
        // LAB 7: END
    }
}

/// Take what `zap_pte` counted off the mm's resident and swapped pages.
fn zap_counts(mm: &MmStruct, frames: usize, swapped: usize) {
    mm.rss.fetch_sub(frames.min(mm.rss.load(Ordering::Relaxed)), Ordering::Relaxed);
    mm.swapents.fetch_sub(swapped.min(mm.swapents.load(Ordering::Relaxed)), Ordering::Relaxed);
}

/// Unmap every page of `[start, end)` and free those that were mapped
/// nowhere else (Linux's `zap_page_range`), then the page tables left
/// empty. Returns the pages unmapped.
pub fn zap_page_range(mm: &MmStruct, start: usize, end: usize) -> usize {
    let end = end.min(TASK_SIZE);
    if start >= end {
        return 0;
    }
    let npages = (end - start).div_ceil(PAGE_SIZE);
    let (mut frames, mut swapped) = (0, 0);
    // SAFETY: only clears entries. The frames are freed inside the walk,
    // before the TLB flush that ends it: no user code of this mm runs in
    // between (one CPU, and this thread is in the kernel), and the kernel
    // does not reach user pages through these addresses meanwhile.
    unsafe {
        mm.for_each_pte(VirtAddr::new(start), npages, |_, pte| {
            zap_pte(pte, &mut frames, &mut swapped);
            Some(Pte::NONE)
        })
    };
    zap_counts(mm, frames, swapped);
    mm.free_pgtables(VirtAddr::new(start), VirtAddr::new(end));
    frames
}

/// Linux's `exit_mmap`: every user page of the address space unmapped and
/// its page tables freed, in one pass over the directory (the directory
/// itself goes in `MmStruct`'s drop).
pub fn exit_mmap(mm: &MmStruct) {
    let (mut frames, mut swapped) = (0, 0);
    // SAFETY: `zap_pte` gives back what each entry held; the frames are
    // freed before the TLB flush that ends the walk, as in zap_page_range.
    unsafe { mm.unmap_and_free_tables(|_, pte| zap_pte(pte, &mut frames, &mut swapped)) };
    zap_counts(mm, frames, swapped);
}

/// Fork's copy of area `vma` from `src` into `dst` (Linux's
/// `copy_page_range` for a private area): each page is mapped in both,
/// read-only in both when the area is writable, one more mapper counted.
/// `Err(Oom)` when a page table of `dst` could not be made; what was
/// copied stays counted in `dst` and goes with it.
pub fn copy_page_range(dst: &MmStruct, src: &MmStruct, vma: &Vma) -> Result<(), FaultError> {
    const CHUNK: usize = 1024;
    let mut batch: alloc::vec::Vec<(VirtAddr, Pte)> = alloc::vec::Vec::new();
    batch.try_reserve_exact(CHUNK).map_err(|_| FaultError::Oom)?;
    let cow = vma.flags.contains(VmFlags::WRITE) && !vma.flags.contains(VmFlags::SHARED);
    let mut dup_failed = false;
    let mut at = vma.start;
    while at < vma.end {
        let n = ((vma.end - at) / PAGE_SIZE).min(CHUNK - (at / PAGE_SIZE) % CHUNK);
        batch.clear();
        let mut moving: Option<(VirtAddr, Pte)> = None;
        // SAFETY: the entries written keep their frames, only losing RW;
        // the extra mapper is counted before `dst` maps the frame.
        unsafe {
            src.for_each_pte(VirtAddr::new(at), n, |va, pte| {
                if moving.is_some() {
                    return None;
                }
                if pte.is_swap() && pte.swp_entry().is_migration() {
                    // Being moved: this chunk stops here, and the copy
                    // goes on from this page once the move is over. (Linux
                    // copies the entry instead, holding the parent's
                    // page-table lock until the child has it, so that the
                    // move's walk, parent first, finds it; here the entry
                    // reaches the child after that lock is gone. With one
                    // CPU the move never lets fork see one: `mm::migrate`.)
                    moving = Some((va, pte));
                    return None;
                }
                if pte.is_swap() {
                    // Linux's copy_one_pte: the child names the same slot,
                    // one more count on it.
                    if swap_duplicate(pte.swp_entry()) {
                        batch.push((va, pte));
                    } else {
                        dup_failed = true;
                    }
                    return None;
                }
                if !pte.has_frame() {
                    return None;
                }
                if let Some(p) = pfn_to_page(pte.pfn().0 as usize) {
                    p.inc_mapcount();
                }
                // LAB 6: BEGIN share the page: read-only in both, so that the first write faults
                let pte = if cow && pte.is_present() { Pte::new(pte.pfn(), pte.flags() - PteFlags::RW) } else { pte };
                // LAB 6: STUB
                // let _ = cow;
                // LAB 6: END
                batch.push((va, pte));
                Some(pte)
            })
        };
        let mut i = 0;
        while i < batch.len() {
            // After the first entry (whose map makes the child's table:
            // a chunk lies under one table), the rest in one trip.
            if i > 0 && !dup_failed {
                // SAFETY: each frame's extra mapper, or each slot's extra
                // count, was taken above for this entry; zap gives it back
                // when `dst` goes.
                let written = unsafe { dst.fill_ptes(&batch[i..], child_pte) };
                let swaps = batch[i..i + written].iter().filter(|(_, pte)| pte.is_swap()).count();
                count_copied_n(dst, written - swaps, swaps);
                i += written;
                if i == batch.len() {
                    break;
                }
            }
            let (va, pte) = batch[i];
            let r = if pte.is_swap() {
                dst.set_swap_entry(va, pte.swp_entry())
            } else {
                let flags = if pte.is_present() { pte.flags() } else { PteFlags::PRESENT | PteFlags::USER };
                // SAFETY: the frame's extra mapper was counted above for
                // this entry; it is given back by zap when `dst` goes.
                unsafe { dst.map_page(va, pte.pfn(), flags - PteFlags::ACCESSED - PteFlags::DIRTY) }
            };
            if r.is_err() || dup_failed {
                // This entry and the rest of the batch were counted but
                // not mapped: give their counts back.
                for &(_, p) in &batch[i..] {
                    if p.is_swap() {
                        swap_free(p.swp_entry());
                    } else {
                        put_user_page(p.pfn().0);
                    }
                }
                return Err(FaultError::Oom);
            }
            if pte.is_protnone() {
                // SAFETY: the same frame, made inaccessible as in `src`.
                unsafe { dst.update_pte(va, |p| Some(p.to_protnone())) };
            }
            count_copied(dst, pte);
            i += 1;
        }
        if dup_failed {
            // A slot at its highest count (more than 32766 sharers).
            return Err(FaultError::Oom);
        }
        if let Some((va, pte)) = moving {
            crate::mm::migrate::migration_entry_wait(src, va, pte);
            at = va.as_usize();
            continue;
        }
        at += n * PAGE_SIZE;
    }
    Ok(())
}

/// The child's entry for fork's copy of `pte` (the parent's, already
/// write-protected), as the slow path of `copy_page_range` writes it: a
/// swap entry as it is; a frame mapped without the accessed and dirty
/// bits, and left inaccessible if it was.
fn child_pte(pte: Pte) -> Pte {
    if pte.is_swap() {
        return Pte::from_swp_entry(pte.swp_entry());
    }
    let flags = if pte.is_present() { pte.flags() } else { PteFlags::PRESENT | PteFlags::USER };
    let new = Pte::new(pte.pfn(), (flags - PteFlags::ACCESSED - PteFlags::DIRTY) | PteFlags::PRESENT | PteFlags::USER);
    if pte.is_protnone() {
        new.to_protnone()
    } else {
        new
    }
}

/// Count an entry fork's copy gave `dst`: a swap entry, or a page.
fn count_copied(dst: &MmStruct, pte: Pte) {
    if pte.is_swap() {
        count_copied_n(dst, 0, 1);
    } else {
        count_copied_n(dst, 1, 0);
    }
}

/// Count `pages` pages and `swaps` swap entries fork's copy gave `dst`
/// (a run of them at once: the counters are touched once per run).
fn count_copied_n(dst: &MmStruct, pages: usize, swaps: usize) {
    if swaps != 0 {
        dst.swapents.fetch_add(swaps, Ordering::Relaxed);
    }
    if pages != 0 {
        let rss = dst.rss.fetch_add(pages, Ordering::Relaxed) + pages;
        update_hiwater_rss(dst, rss);
    }
}

/// After `mprotect` changed the areas of `[start, end)`, bring their
/// entries in line (Linux's `change_protection`): read-only where the
/// area is, inaccessible (`PROT_NONE`) where it allows nothing. Write
/// permission is never added here: a write fault adds it, copying first
/// if the page is shared (what Linux's private areas do too).
pub fn change_protection(mm: &MmStruct, ctx: &MmContext, start: usize, end: usize) {
    for vma in ctx.vmas.iter().filter(|v| v.end > start && v.start < end) {
        let (lo, hi) = (vma.start.max(start), vma.end.min(end));
        let none = !vma.flags.intersects(VmFlags::READ | VmFlags::WRITE | VmFlags::EXEC);
        let writable = vma.flags.contains(VmFlags::WRITE);
        // SAFETY: each entry keeps its frame; only its rights change.
        unsafe {
            mm.for_each_pte(VirtAddr::new(lo), (hi - lo) / PAGE_SIZE, |_, pte| {
                if pte.is_swap() && pte.swp_entry().is_write_migration() && !writable {
                    // A page being moved comes back read-only here.
                    Some(Pte::from_swp_entry(SwpEntry::migration(pte.swp_entry().migration_pfn(), false)))
                } else if !pte.has_frame() {
                    None
                } else if none {
                    Some(pte.to_protnone())
                } else if pte.is_protnone() {
                    Some(pte.from_protnone(PteFlags::PRESENT | PteFlags::USER))
                } else if !writable {
                    Some(Pte::new(pte.pfn(), pte.flags() - PteFlags::RW))
                } else {
                    None
                }
            })
        };
    }
}

/// Fault in every page of `[start, end)` that its area allows (Linux's
/// `make_pages_present` for `mlock` and `MAP_LOCKED`): write faults in
/// writable areas, so shared pages are copied now and not at a later
/// write. Pages in a `VM_LOCKED` area are marked `PG_mlocked`.
pub fn populate_range(mm: &MmStruct, ctx: &mut MmContext, start: usize, end: usize) -> Result<(), FaultError> {
    let mut at = start & !(PAGE_SIZE - 1);
    while at < end {
        let Some(vma) = ctx.vmas.find_vma(at).copied() else { break };
        if vma.start > at {
            // A hole: on to the next area.
            at = vma.start;
            continue;
        }
        let hi = vma.end.min(end);
        let write = vma.flags.contains(VmFlags::WRITE);
        if vma.flags.intersects(VmFlags::READ | VmFlags::WRITE | VmFlags::EXEC) {
            for va in (at..hi).step_by(PAGE_SIZE) {
                handle_mm_fault(mm, ctx, va, Access { write, user_esp: None })?;
            }
        }
        if vma.flags.contains(VmFlags::LOCKED) {
            mark_mlocked(mm, at, hi, true);
        }
        at = hi;
    }
    Ok(())
}

/// Set or clear `PG_mlocked` on the pages mapped in `[start, end)`,
/// keeping `NR_MLOCK` (Linux 2.6.28's `mlock_vma_page` /
/// `munlock_vma_page`; without a reverse map, a page shared after fork
/// with a locked mapping elsewhere loses the mark when this one unlocks).
pub fn mark_mlocked(mm: &MmStruct, start: usize, end: usize, lock: bool) {
    if start >= end {
        return;
    }
    // SAFETY: entries are not changed (the callback returns None).
    unsafe {
        mm.for_each_pte(VirtAddr::new(start), (end - start).div_ceil(PAGE_SIZE), |_, pte| {
            let page = pte.has_frame().then(|| pfn_to_page(pte.pfn().0 as usize)).flatten()?;
            if lock && !page.test_and_set_flag(PageFlags::MLOCKED) {
                NR_MLOCK.fetch_add(1, Ordering::Relaxed);
                lru_relocate(pte.pfn().0);
            } else if !lock && page.test_and_clear_flag(PageFlags::MLOCKED) {
                NR_MLOCK.fetch_sub(1, Ordering::Relaxed);
                lru_relocate(pte.pfn().0);
            }
            None
        })
    };
}

/// The user page mapped at `va` with a reference taken under the
/// page-table lock (Linux's `follow_page` with `FOLL_GET`), for a kernel
/// path that writes into it through kmap: the reference keeps reclaim from
/// freeing it and migration from moving it meanwhile. Give it back with
/// `put_page`.
pub fn get_user_page(mm: &MmStruct, va: usize) -> Option<u32> {
    let mut got = None;
    // SAFETY: no entry changes (the callback returns None).
    unsafe {
        mm.update_pte(VirtAddr::new(va & !(PAGE_SIZE - 1)), |pte| {
            if pte.is_present() {
                if let Some(p) = pfn_to_page(pte.pfn().0 as usize) {
                    p.get();
                    got = Some(pte.pfn().0);
                }
            }
            None
        })
    };
    got
}

/// Fault in the page at `va` and take a reference on it (Linux's
/// `get_user_pages` for one page): the fault again if the page went to swap
/// between the fault and the look, a few times. Give it back with
/// `put_page`.
pub fn get_user_page_faulting(mm: &MmStruct, ctx: &mut MmContext, va: usize, write: bool) -> Result<u32, FaultError> {
    for _ in 0..4 {
        handle_mm_fault(mm, ctx, va, Access { write, user_esp: None })?;
        if let Some(pfn) = get_user_page(mm, va) {
            return Ok(pfn);
        }
    }
    Err(FaultError::Oom)
}

/// The user frame mapped at `va`, if any (for tests and reports).
pub fn user_frame(mm: &MmStruct, va: usize) -> Option<u32> {
    mm.pte(VirtAddr::new(va & !(PAGE_SIZE - 1))).filter(|p| p.has_frame()).map(|p| p.pfn().0)
}

/// `swapoff`'s work in one address space (Linux's `unuse_mm`): every swap
/// entry of area `ty` is faulted back in, as a read fault would. The
/// caller holds `ctx` (the mm's `mmap` lock). `Err(Oom)` when memory ran
/// out: the entries not yet brought back stay on swap.
pub fn unuse_mm(mm: &MmStruct, ctx: &MmContext, ty: usize) -> Result<usize, FaultError> {
    const CHUNK: usize = 64;
    let mut back = 0;
    let areas: alloc::vec::Vec<Vma> = ctx.vmas.iter().copied().collect();
    for vma in &areas {
        let mut at = vma.start;
        while at < vma.end {
            let n = ((vma.end - at) / PAGE_SIZE).min(CHUNK);
            let mut found = [(VirtAddr::new(0), Pte::NONE); CHUNK];
            let mut k = 0;
            // SAFETY: entries are only read (the callback returns None).
            unsafe {
                mm.for_each_pte(VirtAddr::new(at), n, |va, pte| {
                    if pte.is_swap() && pte.swp_entry().ty() == ty {
                        found[k] = (va, pte);
                        k += 1;
                    }
                    None
                })
            };
            for &(va, pte) in &found[..k] {
                do_swap_page(mm, vma, va, pte, false)?;
                back += 1;
            }
            at += n * PAGE_SIZE;
        }
    }
    Ok(back)
}
