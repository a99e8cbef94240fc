//! The per-CPU array cache (Linux's `struct array_cache`, one CPU here) is
//! the fast path of `mm/slab.c`. `alloc` pops the top entry and `free`
//! pushes one, so the slabs are touched only every `batchcount` objects: a
//! refill takes objects from the slabs when the array is empty, and a flush
//! returns the oldest entries when it is full.
//! `limit` comes from the object size as in Linux. As in Linux,
//! `/proc/slabinfo` counts objects that sit in the array as active.

use super::mgmt::SlabRef;
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

    /// The free hit alone (Linux's `__cache_free` finding room in the
    /// array): push `obj`, whose slab's management is at `hdr`, and say
    /// true. Anything else changes nothing and says false, and the caller
    /// takes [`free_in_slab_page`](Self::free_in_slab_page) under the lock,
    /// which flushes a full array, checks a debug cache, or reports the
    /// bad pointer: a pointer off the object boundaries, or an object that
    /// is not allocated (a double free, caught by its `bufctl` as there).
    ///
    /// # Safety
    ///
    /// As [`free`](Self::free), and `hdr` is the management of a live slab
    /// of this cache whose pages hold `obj` (the `mgmt` its page recorded,
    /// [`SlabPages::slab_mgmt`], read where no slab of this cache can be
    /// made or destroyed meanwhile).
    #[inline(always)]
    pub unsafe fn free_cached(&mut self, obj: usize, hdr: usize) -> bool {
        debug_assert_eq!(self.ac.limit == 0, self.is_debug());
        // SAFETY: the caller's contract: a live slab of this cache.
        let s = unsafe { SlabRef::new(hdr) };
        debug_assert!(s.magic() == SLAB_MAGIC && s.cache_id() == self.id);
        // Linux's `obj_to_index`, and the boundary check with it: below
        // `num` only at the start of an object's buffer
        // (`sizing::exact_index`).
        let rel = obj.wrapping_sub(s.s_mem());
        let i = rel.wrapping_mul(self.index_mul).rotate_right(self.index_shift);
        if i >= self.num {
            return false;
        }
        let bufctl = s.bufctl_ptr_located(i);
        // SAFETY: object i of a live slab (i < num): its bufctl entry lies
        // in the slab's management.
        if unsafe { bufctl.read() } != BUFCTL_ACTIVE {
            // Not allocated: a double free, for the slow path to report.
            return false;
        }
        // A debug cache's array has `limit` 0: it is always full here, and
        // its frees (whose pointers follow a red zone) take the slow path.
        let k = self.ac.avail;
        if k >= self.ac.limit {
            return false;
        }
        debug_assert_eq!((self.obj_offset, rel), (0, i * self.buffer_size));
        // SAFETY: the bufctl entry as above. k < limit <= AC_MAX (`setup`
        // checks the limit), so the array writes are in bounds.
        unsafe {
            bufctl.write(BUFCTL_CACHED);
            *self.ac.entry.get_unchecked_mut(k) = obj;
            *self.ac.bufctl.get_unchecked_mut(k) = bufctl as usize;
        }
        self.ac.avail = k + 1;
        true
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
