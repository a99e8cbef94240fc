//! Making and freeing slabs (Linux's `cache_grow` and `slab_destroy` in
//! `mm/slab.c`; the pages themselves come from [`SlabPages`]). A caller that may sleep gets the memory
//! without the cache's lock ([`GrowSpec::alloc`]) and carves it under the
//! lock again ([`KmemCache::add_slab`]).

use super::mgmt::{Slab, SlabRef, FREE};
use super::slab_debug::{POISON_FREE, RED_INACTIVE};
use super::{AllocError, KmemCache, SlabFlags, SlabOwner, SlabPages, BUFCTL_END, SLAB_MAGIC};
use crate::mm::gfp::Gfp;
use core::ptr;

impl KmemCache {
    /// The flags to get a slab's pages with, from the allocating caller's
    /// (Linux's `cache_grow`: the caller's reclaim and zone constraints, the
    /// cache's own): never highmem or movable, since objects need an address
    /// and do not move; not zeroed (kmalloc zeroes the object it hands out);
    /// reclaimable pages for a RECLAIM_ACCOUNT cache.
    pub fn slab_gfp(&self, gfp: Gfp) -> Gfp {
        let mut g = gfp - Gfp::HIGHMEM - Gfp::MOVABLE - Gfp::ZERO;
        if self.flags.contains(SlabFlags::RECLAIM_ACCOUNT) {
            g |= Gfp::RECLAIMABLE;
        }
        g
    }

    /// What growing this cache needs, so that a caller that may sleep can
    /// get it without the cache's lock (Linux's `cache_grow` drops the lock
    /// around the page allocation): see [`GrowSpec::alloc`] and
    /// [`add_slab`](Self::add_slab).
    pub fn grow_spec(&self, gfp: Gfp) -> GrowSpec {
        assert!(self.id != 0, "slab: use of a cache that was never created");
        GrowSpec {
            cache: self.id,
            order: self.order,
            mgmt_size: self.off_slab.then_some(self.mgmt_size),
            gfp: self.slab_gfp(gfp),
        }
    }

    /// Make a new empty slab (Linux's `cache_grow`), under the caller's lock.
    pub(super) fn grow(&mut self, pages: &mut impl SlabPages, gfp: Gfp) -> Result<(), AllocError> {
        let new = self.grow_spec(gfp).alloc(pages).ok_or(AllocError::NoMemory)?;
        self.add_slab(pages, new).map_err(|_| AllocError::NoMemory)
    }

    /// Carve pages got by [`GrowSpec::alloc`] into a new empty slab. They
    /// come back in `Err` if this is not the cache they were got for (it
    /// was destroyed meanwhile); give them back with [`NewSlab::release`].
    pub fn add_slab(&mut self, pages: &mut impl SlabPages, new: NewSlab) -> Result<(), NewSlab> {
        if new.cache != self.id || self.id == 0 {
            return Err(new);
        }
        let base = new.base;
        let hdr = new.mgmt.unwrap_or(base);
        assert!(base & (self.slab_bytes() - 1) == 0, "slab pages at {base:#x} not aligned");
        // LAB 3: BEGIN colour: shift this slab's objects by the next colour, wrapping after `colour`
        let colouroff = self.colour_next * self.colour_off;
        self.colour_next += 1;
        if self.colour_next >= self.colour {
            self.colour_next = 0;
        }
        // LAB 3: STUB
        // let _ = (self.colour, self.colour_off, self.colour_next);
        // let colouroff = 0; // every slab puts object 0 at the same offset
        // LAB 3: END
        let on_slab = if self.off_slab { 0 } else { self.mgmt_size };
        let header = Slab {
            magic: SLAB_MAGIC,
            cache_id: self.id,
            prev: 0,
            next: 0,
            s_mem: base + on_slab + colouroff,
            index_mul: self.index_mul,
            inuse: 0,
            free: 0,
            num: self.num as u16,
            list: FREE,
            index_shift: self.index_shift as u8,
        };
        // SAFETY: `hdr` is the start of the slab's pages or of the management
        // block: the provider gave us either, word aligned (so aligned for the
        // header, whose fields are at most words) and ours alone
        // (`SlabPages`), with room for the header and `num` bufctl entries.
        unsafe { ptr::write(hdr as *mut Slab, header) };
        // SAFETY: the header was just written and the slab is live.
        let s = unsafe { SlabRef::new(hdr) };
        for i in 0..self.num {
            s.set_bufctl(i, if i + 1 < self.num { (i + 1) as u16 } else { BUFCTL_END });
            let obj = self.obj_addr(s, i);
            if self.flags.contains(SlabFlags::RED_ZONE) {
                self.set_red_zones(obj, RED_INACTIVE);
            }
            if self.flags.contains(SlabFlags::POISON) {
                self.poison(obj, POISON_FREE);
            } else if let Some(ctor) = self.ctor {
                ctor(obj as *mut u8);
            }
        }
        // Marked once the management is written whole: the free hit reads
        // the header and a `bufctl` entry of any marked page
        // (`free_hit_check`) before it knows whether a frame below holds
        // this cache's lock (a constructor called from here may free into it).
        pages.set_slab_owner(base, self.order, Some(SlabOwner { cache: self.id, mgmt: hdr }));
        self.link(s, FREE, false);
        self.free_objects += self.num;
        Ok(())
    }

    /// Give an empty slab back to the page allocator.
    pub(super) fn destroy_slab(&mut self, pages: &mut impl SlabPages, s: SlabRef) {
        debug_assert_eq!(s.inuse(), 0);
        self.unlink(s);
        self.free_objects -= self.num;
        let base = self.slab_base(s);
        // A stale header must not make a later wild pointer look like ours.
        s.set_magic(0);
        pages.set_slab_owner(base, self.order, None);
        pages.kmem_freepages(base, self.order);
        if self.off_slab {
            pages.free_mgmt(s.0, self.mgmt_size);
        }
    }
}

/// What one new slab of a cache needs: pages of `order` and, off the slab,
/// a management block (from [`KmemCache::grow_spec`]).
#[derive(Clone, Copy, Debug)]
pub struct GrowSpec {
    cache: u32,
    order: usize,
    mgmt_size: Option<usize>,
    gfp: Gfp,
}

impl GrowSpec {
    /// The flags the pages are asked with.
    pub fn gfp(&self) -> Gfp {
        self.gfp
    }

    pub fn order(&self) -> usize {
        self.order
    }

    /// Get the memory; needs no lock of the cache.
    pub fn alloc(&self, pages: &mut impl SlabPages) -> Option<NewSlab> {
        let base = pages.kmem_getpages(self.order, self.gfp)?;
        let mgmt = match self.mgmt_size {
            None => None,
            Some(size) => match pages.alloc_mgmt(size, self.gfp) {
                Some(m) => Some(m),
                None => {
                    pages.kmem_freepages(base, self.order);
                    return None;
                }
            },
        };
        Some(NewSlab { cache: self.cache, base, order: self.order, mgmt, mgmt_size: self.mgmt_size.unwrap_or(0) })
    }
}

/// The memory of a slab not made yet: pass it to [`KmemCache::add_slab`],
/// or give it back with [`release`](Self::release).
#[must_use = "a NewSlab holds pages: add it to its cache or release it"]
#[derive(Debug)]
pub struct NewSlab {
    cache: u32,
    base: usize,
    order: usize,
    mgmt: Option<usize>,
    mgmt_size: usize,
}

impl NewSlab {
    /// Give the memory back to the provider it came from.
    pub fn release(self, pages: &mut impl SlabPages) {
        pages.kmem_freepages(self.base, self.order);
        if let Some(m) = self.mgmt {
            pages.free_mgmt(m, self.mgmt_size);
        }
    }
}
