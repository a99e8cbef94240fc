//! A slab's management (Linux's `struct slab` and `kmem_bufctl_t`, in
//! `mm/slab.c`): the header at the start of the slab (or off it), the
//! `bufctl` free list after it, the three lists of slabs a cache keeps, and
//! finding the slab and index of an object (`virt_to_slab`, `obj_to_index`).

use super::sizing::obj_to_index;
use super::slab_debug::Foreign;
use super::{KmemCache, SlabPages, BUFCTL_ACTIVE, SLAB_MAGIC};
use core::mem::size_of;

/// The header at the start of every slab.
#[repr(C)]
pub(super) struct Slab {
    pub(super) magic: u32,
    pub(super) cache_id: u32,
    pub(super) prev: usize,
    pub(super) next: usize,
    /// Address of object 0's buffer (Linux keeps `colouroff` beside it,
    /// which says the same: `s_mem` is the slab's start, its management
    /// when on the slab, and its colour).
    pub(super) s_mem: usize,
    /// The cache's `index_mul` and `index_shift` (`sizing::exact_index`),
    /// copied here so that the free hit finds the object's index from the
    /// header alone: the cache's fields wait until the array is touched,
    /// and i686 keeps everything in registers meanwhile. Linux's
    /// `obj_to_index` reads its factor from the cache instead:
    /// `reciprocal_divide(offset, cachep->reciprocal_buffer_size)`.
    pub(super) index_mul: usize,
    pub(super) inuse: u16,
    pub(super) free: u16,
    pub(super) num: u16,
    pub(super) list: u8,
    pub(super) index_shift: u8,
}

// The copies of the index factors fill what was padding and `colouroff`:
// the header is still 32 bytes on i686, so no slab holds fewer objects.
const _: () = assert!(size_of::<Slab>() == 16 + 4 * size_of::<usize>(), "slab header grew");

pub(super) const FULL: u8 = 0;
pub(super) const PARTIAL: u8 = 1;
pub(super) const FREE: u8 = 2;

/// A slab, by its base address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SlabRef(pub(super) usize);

macro_rules! header_field {
    ($get:ident, $set:ident, $t:ty) => {
        #[allow(dead_code)]
        pub(super) fn $get(self) -> $t {
            // SAFETY: a SlabRef names a live slab header (`SlabRef::new`).
            unsafe { (*self.hdr()).$get }
        }
        #[allow(dead_code)]
        pub(super) fn $set(self, v: $t) {
            // SAFETY: as above; the header is reached only through raw
            // pointers, so this write aliases no reference.
            unsafe { (*self.hdr()).$get = v }
        }
    };
}

impl SlabRef {
    /// # Safety
    ///
    /// `base` must be the start of a slab whose header `KmemCache::grow`
    /// wrote and which has not been destroyed since.
    pub(super) unsafe fn new(base: usize) -> SlabRef {
        SlabRef(base)
    }

    pub(super) fn hdr(self) -> *mut Slab {
        self.0 as *mut Slab
    }

    header_field!(magic, set_magic, u32);
    header_field!(cache_id, set_cache_id, u32);
    header_field!(prev, set_prev, usize);
    header_field!(next, set_next, usize);
    header_field!(s_mem, set_s_mem, usize);
    header_field!(index_mul, set_index_mul, usize);
    header_field!(index_shift, set_index_shift, u8);
    header_field!(inuse, set_inuse, u16);
    header_field!(free, set_free, u16);
    header_field!(num, set_num, u16);
    header_field!(list, set_list, u8);

    pub(super) fn bufctl_ptr(self, i: usize) -> *mut u16 {
        assert!(i < self.num() as usize, "bufctl index {i} out of range");
        (self.0 + size_of::<Slab>() + 2 * i) as *mut u16
    }

    /// [`bufctl_ptr`](Self::bufctl_ptr) for an index `locate` found, which
    /// is below `num` already (it checked `rel < num * buffer_size`): the
    /// free path pays no second check (Linux's `slab_bufctl(slabp)[objnr]`,
    /// unchecked in C).
    #[inline(always)]
    pub(super) fn bufctl_ptr_located(self, i: usize) -> *mut u16 {
        debug_assert!(i < self.num() as usize, "bufctl index {i} out of range");
        (self.0 + size_of::<Slab>() + 2 * i) as *mut u16
    }

    pub(super) fn bufctl(self, i: usize) -> u16 {
        // SAFETY: i < num, and `grow` reserved num entries after the header.
        unsafe { self.bufctl_ptr(i).read() }
    }

    pub(super) fn set_bufctl(self, i: usize, v: u16) {
        // SAFETY: as in `bufctl`.
        unsafe { self.bufctl_ptr(i).write(v) }
    }
}

/// A doubly linked list of slabs, linked through their headers.
#[derive(Clone, Copy, Debug)]
pub(super) struct SlabList {
    pub(super) head: usize,
    pub(super) tail: usize,
    pub(super) len: usize,
}

impl SlabList {
    pub(super) const EMPTY: SlabList = SlabList { head: 0, tail: 0, len: 0 };
}

impl KmemCache {
    // ---- lists -------------------------------------------------------

    pub(super) fn list_mut(&mut self, which: u8) -> &mut SlabList {
        match which {
            FULL => &mut self.slabs_full,
            PARTIAL => &mut self.slabs_partial,
            _ => &mut self.slabs_free,
        }
    }

    pub(super) fn unlink(&mut self, s: SlabRef) {
        let (prev, next) = (s.prev(), s.next());
        let list = self.list_mut(s.list());
        if prev == 0 {
            list.head = next;
        }
        if next == 0 {
            list.tail = prev;
        }
        list.len -= 1;
        // SAFETY: list neighbours are live slabs of this cache.
        unsafe {
            if prev != 0 {
                SlabRef::new(prev).set_next(next);
            }
            if next != 0 {
                SlabRef::new(next).set_prev(prev);
            }
        }
    }

    pub(super) fn link(&mut self, s: SlabRef, which: u8, at_tail: bool) {
        let list = self.list_mut(which);
        let (head, tail) = (list.head, list.tail);
        list.len += 1;
        if at_tail {
            list.tail = s.0;
            if head == 0 {
                list.head = s.0;
            }
        } else {
            list.head = s.0;
            if tail == 0 {
                list.tail = s.0;
            }
        }
        let (prev, next) = if at_tail { (tail, 0) } else { (0, head) };
        s.set_prev(prev);
        s.set_next(next);
        s.set_list(which);
        // SAFETY: list members are live slabs of this cache.
        unsafe {
            if prev != 0 {
                SlabRef::new(prev).set_next(s.0);
            }
            if next != 0 {
                SlabRef::new(next).set_prev(s.0);
            }
        }
    }

    /// Put a slab on the list its `inuse` calls for. After a free, a partial
    /// slab goes to the tail (Linux: more time for its other objects to be
    /// freed too); after an allocation, to the head, to be used first.
    pub(super) fn relist(&mut self, s: SlabRef, freeing: bool) {
        let inuse = s.inuse() as usize;
        let which = match inuse {
            0 => FREE,
            n if n == self.num => FULL,
            _ => PARTIAL,
        };
        self.unlink(s);
        self.link(s, which, freeing && which == PARTIAL);
    }

    pub(super) fn slab_with_free(&self) -> Option<SlabRef> {
        let base = if self.slabs_partial.head != 0 { self.slabs_partial.head } else { self.slabs_free.head };
        // SAFETY: list heads are live slabs of this cache.
        (base != 0).then(|| unsafe { SlabRef::new(base) })
    }

    // ---- objects -----------------------------------------------------
    // `obj` below is always the caller's address of object i of a live slab
    // of this cache: from `obj_addr`, or checked by `locate`.

    pub(super) fn obj_addr(&self, s: SlabRef, i: usize) -> usize {
        s.s_mem() + i * self.buffer_size + self.obj_offset
    }

    #[cfg(test)]
    pub(super) fn obj_index(&self, s: SlabRef, obj: usize) -> usize {
        (obj - self.obj_offset - s.s_mem()) / self.buffer_size
    }

    /// The address of the first page of a slab.
    pub(super) fn slab_base(&self, s: SlabRef) -> usize {
        // Management and colour take less than the slab: object 0 starts in it.
        s.s_mem() & !(self.slab_bytes() - 1)
    }

    /// Take the first free object of a slab (Linux's `slab_get_obj`):
    /// its index and address.
    pub(super) fn slab_get_obj(&mut self, s: SlabRef) -> (usize, usize) {
        let i = s.free() as usize;
        s.set_free(s.bufctl(i));
        s.set_bufctl(i, BUFCTL_ACTIVE);
        s.set_inuse(s.inuse() + 1);
        self.free_objects -= 1;
        (i, self.obj_addr(s, i))
    }

    /// Put object `i` back on its slab's free list and relist the slab
    /// (Linux's `slab_put_obj`).
    pub(super) fn slab_put_obj(&mut self, s: SlabRef, i: usize) {
        s.set_bufctl(i, s.free());
        s.set_free(i as u16);
        s.set_inuse(s.inuse() - 1);
        self.free_objects += 1;
        self.relist(s, true);
    }

    /// Find the slab and index of `obj`, or say why it is not one of ours.
    /// Every free runs this, so it does the minimum: two header words and
    /// the index test of the free hit (`sizing::exact_index`: one multiply,
    /// rotate and compare); only a bad pointer pays a division, to say
    /// where it points. An on-slab cache finds the header by masking; an
    /// off-slab cache asks the page (Linux's `virt_to_slab`).
    ///
    /// `IN_SLAB_PAGE`: the caller has seen `obj`'s page marked as a slab
    /// page of this cache (kfree's `virt_to_cache`), so the slab's first
    /// page is mapped and the `readable` checks are skipped.
    #[inline]
    pub(super) fn locate<const IN_SLAB_PAGE: bool>(
        &self,
        pages: &impl SlabPages,
        obj: usize,
    ) -> Result<(SlabRef, usize), Foreign> {
        assert!(self.id != 0, "slab: use of a cache that was never created");
        let base = obj & !(self.slab_bytes() - 1);
        let hdr = if self.off_slab {
            if !IN_SLAB_PAGE && !pages.readable(base, 1) {
                return Err(Foreign::Unmapped);
            }
            pages.slab_mgmt(base).ok_or(Foreign::NotASlab)?
        } else {
            if !IN_SLAB_PAGE && !pages.readable(base, size_of::<Slab>()) {
                return Err(Foreign::Unmapped);
            }
            base
        };
        // SAFETY: on the slab, the provider says these bytes are readable
        // and `base` is page aligned, so aligned for u32; off the slab, the
        // pages recorded `hdr` as a live header (`SlabPages::slab_mgmt`).
        // Only plain integers are read.
        let (magic, id) = unsafe { ((hdr as *const u32).read(), (hdr as *const u32).add(1).read()) };
        if magic != SLAB_MAGIC {
            return Err(Foreign::NotASlab);
        }
        if id != self.id {
            return Err(Foreign::OtherCache(id));
        }
        // SAFETY: the magic and our id are there, and both are cleared when a
        // slab is destroyed: this is a live slab of this cache.
        let s = unsafe { SlabRef::new(hdr) };
        // The caller's pointer follows the object's red zone, if any.
        let rel = obj.wrapping_sub(s.s_mem());
        let i = obj_to_index(rel.wrapping_sub(self.obj_offset), self.index_mul, self.index_shift);
        if i >= self.num {
            return Err(self.explain_bad_offset(rel));
        }
        Ok((s, i))
    }

    /// Where a pointer `rel` bytes past a slab's first object points, when
    /// it is no object's start.
    #[cold]
    fn explain_bad_offset(&self, rel: usize) -> Foreign {
        if rel >= self.obj_span {
            // Past the objects, or before them (wrapped).
            return Foreign::OutsideObjects;
        }
        let i = rel / self.buffer_size;
        let offset = (rel - i * self.buffer_size) as isize - self.obj_offset as isize;
        Foreign::MidObject { index: i, offset }
    }
}
