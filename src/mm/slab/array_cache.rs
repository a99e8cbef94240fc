//! The per-CPU array cache (Linux's `struct array_cache`, one CPU here) is
//! the fast path of `mm/slab.c`. `alloc` pops the top entry and `free`
//! pushes one, so the slabs are touched only every `batchcount` objects: a
//! refill takes objects from the slabs when the array is empty, and a flush
//! returns the oldest entries when it is full.
//! `limit` comes from the object size as in Linux. As in Linux,
//! `/proc/slabinfo` counts objects that sit in the array as active.

use super::mgmt::SlabRef;
use super::sizing::obj_to_index;
use super::{AllocError, KmemCache, SlabPages, AC_MAX, BUFCTL_ACTIVE, BUFCTL_CACHED, SLAB_MAGIC};
use crate::mm::gfp::Gfp;
use core::ptr::NonNull;

/// The per-CPU array of free objects (one CPU). Each entry keeps, beside
/// the object, the address of its `bufctl` entry, which reads
/// [`BUFCTL_CACHED`] while the object waits here: `free` sees a second free
/// at once, and `alloc` marks the object allocated again with one store.
pub(super) struct ArrayCache {
    pub(super) avail: usize,
    pub(super) limit: usize,
    pub(super) batchcount: usize,
    pub(super) entry: [usize; AC_MAX],
    pub(super) bufctl: [usize; AC_MAX],
}

/// What [`KmemCache::free_hit_check`] found for the free hit: a pointer to
/// the start of an object in a live slab, and the object's `bufctl` entry,
/// which read [`BUFCTL_ACTIVE`].
#[derive(Debug)]
pub struct FreeHit {
    obj: usize,
    bufctl: *mut u16,
    /// For the debug check only (optimised away without it).
    hdr: usize,
}

/// `p`, computed into a register here. Left alone, the compiler folds
/// `hdr + 32 + 2·i` into each use of a `bufctl` entry and keeps `hdr` and
/// `i` both live across the free hit; on i686, with six registers, that is
/// one too many and costs a spill and two reloads. An empty `asm!` that
/// takes and gives back the pointer makes it one register. Only the i686
/// kernel has that shortage: elsewhere (the host tests) it is the identity,
/// so the host-tested layer runs no `asm!`.
#[cfg(target_arch = "x86")]
#[inline(always)]
fn in_register(p: *mut u16) -> *mut u16 {
    // The address alone goes through (a management address is an integer
    // made into a pointer anyway: `SlabRef`).
    let mut addr = p as usize;
    // SAFETY: the asm is empty: it reads and writes nothing but names the
    // register that holds `addr`, which it leaves as it was.
    unsafe { core::arch::asm!("/* {0} */", inout(reg) addr, options(pure, nomem, nostack, preserves_flags)) };
    addr as *mut u16
}

/// See the i686 `in_register`: nothing to do with registers to spare.
#[cfg(not(target_arch = "x86"))]
#[inline(always)]
fn in_register(p: *mut u16) -> *mut u16 {
    p
}

impl ArrayCache {
    pub(super) const EMPTY: ArrayCache =
        ArrayCache { avail: 0, limit: 0, batchcount: 0, entry: [0; AC_MAX], bufctl: [0; AC_MAX] };
}

impl KmemCache {
    /// The hit path alone (Linux's `____cache_alloc` finding `ac->avail`):
    /// the top of the array cache, or `None` when it is empty (always, for
    /// a debug cache); the caller then takes [`alloc`](Self::alloc) or
    /// [`alloc_nogrow`](Self::alloc_nogrow).
    #[inline(always)]
    pub fn alloc_cached(&mut self) -> Option<NonNull<u8>> {
        if self.ac.avail == 0 {
            return None;
        }
        let obj = self.ac_pop();
        // SAFETY: an object lies in a slab, and `SlabPages` never gives a
        // slab at address 0; so the caller's test of the result is its only
        // one (the `Option` is the address, 0 for `None`).
        Some(unsafe { NonNull::new_unchecked(obj as *mut u8) })
    }

    /// The first half of the free hit, from the slab alone, before the
    /// cache is reached: the object's index (Linux's `obj_to_index`, one
    /// multiply, rotate and compare, `sizing::exact_index`, with the
    /// factors the header keeps), which is also the boundary check, and
    /// its `bufctl` entry, which must read [`BUFCTL_ACTIVE`]. `None` for a
    /// pointer off the object boundaries or an object that is not
    /// allocated (a double free): the slow path reports them.
    ///
    /// It reads only a slab's management, which is written whole before
    /// the slab's pages are marked (`add_slab`) and changes only where the
    /// cache is held (under its lock, or in a hit path), so it may run
    /// before anyone knows whether a frame below holds that lock
    /// (`slab_common/slot_lock.rs`): what it read is used only once the
    /// lock is seen free. And the cache's fields wait until then, which on
    /// i686 keeps the hit in registers.
    ///
    /// What it trusts: the page's marks, for where the management is, and,
    /// once the header's magic reads [`SLAB_MAGIC`], the header's `s_mem`,
    /// index factors and `num`, which bound the `bufctl` entry it reads
    /// (and the caller writes). The magic is tested in release builds too
    /// (one compare, in the cache line of the rest): a header overwritten
    /// by a stray write must not send `kfree` reading and writing far past
    /// the management; the slow path reports such a slab (`locate`). A
    /// header overwritten with its magic intact is trusted, as Linux's
    /// `kfree` trusts `struct slab` (which has no magic at all).
    ///
    /// # Safety
    ///
    /// `hdr` is the management recorded by a page marked as a slab page
    /// ([`SlabPages::slab_mgmt`]) that holds `obj`, read where the marks
    /// cannot change meanwhile (interrupts off on the one CPU).
    #[inline(always)]
    pub unsafe fn free_hit_check(obj: usize, hdr: usize) -> Option<FreeHit> {
        // SAFETY: the caller's contract: a marked slab page names a slab
        // whose management is written.
        let s = unsafe { SlabRef::new(hdr) };
        if s.magic() != SLAB_MAGIC {
            return None;
        }
        let rel = obj.wrapping_sub(s.s_mem());
        let i = obj_to_index(rel, s.index_mul(), s.index_shift() as u32);
        if i >= s.num() as usize {
            return None;
        }
        let bufctl = in_register(s.bufctl_ptr_located(i));
        // SAFETY: object i of the slab (i < num): its bufctl entry lies in
        // the slab's management.
        if unsafe { bufctl.read() } != BUFCTL_ACTIVE {
            return None;
        }
        Some(FreeHit { obj, bufctl, hdr })
    }

    /// The free hit's second half (Linux's `__cache_free` finding room in
    /// the array): push the object [`free_hit_check`](Self::free_hit_check)
    /// found, and say true. A full array changes nothing and says false,
    /// and the caller takes [`free_in_slab_page`](Self::free_in_slab_page)
    /// under the lock, which flushes it, or checks a debug cache.
    ///
    /// # Safety
    ///
    /// As [`free`](Self::free), and `hit` was found in a slab of this cache
    /// (its page named this cache), with no slab of this cache made,
    /// destroyed or changed since.
    #[inline(always)]
    pub unsafe fn free_cached(&mut self, hit: FreeHit) -> bool {
        debug_assert_eq!(self.ac.limit == 0, self.is_debug());
        // A debug cache's array has `limit` 0: it is always full here, and
        // its frees (whose pointers follow a red zone) take the slow path,
        // which also reports a pointer to the red zone (the buffer's start,
        // which `free_hit_check` took for an object's).
        let k = self.ac.avail;
        if k >= self.ac.limit {
            return false;
        }
        // Only a cache without debug words gets here.
        debug_assert!(self.obj_offset == 0 && self.owns_hit(&hit));
        let FreeHit { obj, bufctl, .. } = hit;
        // SAFETY: the bufctl entry of an allocated object of a live slab of
        // this cache (the caller's contract). k < limit <= AC_MAX (`setup`
        // checks the limit), so the array writes are in bounds.
        unsafe {
            bufctl.write(BUFCTL_CACHED);
            *self.ac.entry.get_unchecked_mut(k) = obj;
            *self.ac.bufctl.get_unchecked_mut(k) = bufctl as usize;
        }
        self.ac.avail = k + 1;
        true
    }

    /// Whether `hit` is an object's start in a slab of this cache and its
    /// `bufctl` entry (the debug check of `free_cached`).
    fn owns_hit(&self, hit: &FreeHit) -> bool {
        // SAFETY: `free_hit_check` read this header already.
        let s = unsafe { SlabRef::new(hit.hdr) };
        let rel = hit.obj - s.s_mem();
        s.cache_id() == self.id
            && s.bufctl(rel / self.buffer_size) == BUFCTL_ACTIVE
            && rel.is_multiple_of(self.buffer_size)
            && hit.bufctl == s.bufctl_ptr(rel / self.buffer_size)
    }

    /// Take the top of the array cache, marking the object allocated.
    #[inline]
    pub(super) fn ac_pop(&mut self) -> usize {
        self.ac.avail -= 1;
        let k = self.ac.avail;
        debug_assert!(k < self.ac.limit && self.ac.limit <= AC_MAX);
        // SAFETY: k < avail <= limit <= AC_MAX (`setup` checks the limit),
        // so both reads are in bounds (Linux's `ac->entry[--ac->avail]`,
        // unchecked in C too). `bufctl[k]` is the bufctl entry of
        // `entry[k]`'s object (`ac_push`), in a slab kept alive by it: an
        // object in the array counts in its slab's `inuse`, so the slab is
        // not destroyed.
        unsafe {
            (*self.ac.bufctl.get_unchecked(k) as *mut u16).write(BUFCTL_ACTIVE);
            *self.ac.entry.get_unchecked(k)
        }
    }

    /// Put object `i` of slab `s` on the array cache (room is checked by
    /// the caller), marking it cached.
    #[inline]
    pub(super) fn ac_push(&mut self, s: SlabRef, i: usize, obj: usize) {
        s.set_bufctl(i, BUFCTL_CACHED);
        let k = self.ac.avail;
        self.ac.entry[k] = obj;
        self.ac.bufctl[k] = s.bufctl_ptr(i) as usize;
        self.ac.avail += 1;
    }

    /// Fill the empty array cache with up to `batchcount` objects, from
    /// partial slabs first, growing a slab only if none has a free object
    /// (Linux's `cache_alloc_refill`).
    pub(super) fn refill(&mut self, pages: &mut impl SlabPages, grow: Option<Gfp>) -> Result<(), AllocError> {
        loop {
            while self.ac.avail < self.ac.batchcount {
                let Some(s) = self.slab_with_free() else {
                    break;
                };
                while self.ac.avail < self.ac.batchcount && (s.inuse() as usize) < self.num {
                    let (i, obj) = self.slab_get_obj(s);
                    self.ac_push(s, i, obj);
                }
                self.relist(s, false);
            }
            if self.ac.avail > 0 {
                return Ok(());
            }
            self.grow(pages, grow.ok_or(AllocError::MustGrow)?)?;
        }
    }

    /// The slab of an array-cache entry, from its bufctl address.
    pub(super) fn ac_slab(&self, pages: &impl SlabPages, k: usize) -> (SlabRef, usize) {
        let hdr = if self.off_slab {
            pages.slab_mgmt(self.ac.entry[k]).expect("array cache entry outside any slab")
        } else {
            self.ac.entry[k] & !(self.slab_bytes() - 1)
        };
        // SAFETY: an object in the array keeps its slab alive (it counts in
        // `inuse`), and `free` found its header at this address.
        let s = unsafe { SlabRef::new(hdr) };
        (s, (self.ac.bufctl[k] - s.bufctl_ptr(0) as usize) / 2)
    }

    /// Return the `n` oldest array entries to their slabs (Linux's
    /// `cache_flusharray` + `free_block`), then give back empty slabs while
    /// the cache has more than `free_limit` free objects.
    pub(super) fn flush_array(&mut self, pages: &mut impl SlabPages, n: usize) {
        let n = n.min(self.ac.avail);
        for k in 0..n {
            let (s, i) = self.ac_slab(pages, k);
            debug_assert_eq!(s.bufctl(i), BUFCTL_CACHED);
            self.slab_put_obj(s, i);
        }
        self.ac.entry.copy_within(n..self.ac.avail, 0);
        self.ac.bufctl.copy_within(n..self.ac.avail, 0);
        self.ac.avail -= n;
        // LAB 3: BEGIN give empty slabs back while the cache has more than free_limit free objects
        while self.free_objects > self.free_limit && self.slabs_free.head != 0 {
            // SAFETY: list heads are live slabs of this cache.
            let s = unsafe { SlabRef::new(self.slabs_free.head) };
            self.destroy_slab(pages, s);
        }
        // LAB 3: END
    }
}
