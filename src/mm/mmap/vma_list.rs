//! Where a set's areas live: each one its own object, allocated from the
//! `vm_area_struct` slab cache as Linux allocates it from `vm_area_cachep`
//! (so `slabinfo` counts every area of every process), and a vector of
//! pointers to them sorted by address.
//!
//! 2.6.24 links the same objects into an rbtree (`find_vma` in O(log n))
//! and a sorted list (`vm_next`). The vector gives both: a binary search,
//! and the neighbour at the next index. Inserting or removing an area moves
//! the pointers above it (O(n)), four bytes each: a few hundred bytes for
//! the tens to hundreds of areas a process has, 256 KB at
//! `max_map_count`. Keeping the order needs no `unsafe` (an intrusive tree
//! would), and room can be reserved before anything changes, which is what
//! makes every failure clean (Linux 6.1's maple tree is arrays of pointers
//! too, and preallocates its nodes for the same reason).
//!
//! The allocator is a type parameter: the kernel passes the named cache,
//! the host tests the heap or one that fails on purpose.

use super::{Errno, Vma};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::alloc::Allocator;
use core::cell::Cell;
use core::ops::{Index, Range};

#[cfg(target_os = "none")]
use crate::mm::kmem_alloc::{KmemCacheAlloc, NamedCache};
#[cfg(target_os = "none")]
use core::{alloc::AllocError, alloc::Layout, ptr::NonNull};

/// What areas are allocated from by default: in the kernel the
/// `vm_area_struct` slab cache, on the host the heap.
#[cfg(target_os = "none")]
pub type VmAreaAlloc = VmAreaCachep;
#[cfg(not(target_os = "none"))]
pub type VmAreaAlloc = alloc::alloc::Global;

#[cfg(target_os = "none")]
static VM_AREA_CACHEP: NamedCache = NamedCache::new("vm_area_struct");

/// The `vm_area_struct` cache (Linux's `vm_area_cachep`) as an allocator
/// of no size, so that a pointer to an area is one word, as in Linux (a
/// `KmemCacheAlloc` would add the cache's address to every `Box`).
#[cfg(target_os = "none")]
#[derive(Clone, Copy)]
pub struct VmAreaCachep;

// SAFETY: every call is passed on to the one `KmemCacheAlloc` of the
// `vm_area_struct` cache, whose contract it keeps: what `allocate` hands
// out, `deallocate` gives back to the same cache.
#[cfg(target_os = "none")]
unsafe impl Allocator for VmAreaCachep {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        KmemCacheAlloc(&VM_AREA_CACHEP).allocate(layout)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller's contract: `ptr` came from `allocate`, so
        // from this same cache, with `layout`.
        unsafe { KmemCacheAlloc(&VM_AREA_CACHEP).deallocate(ptr, layout) }
    }
}

#[cfg(target_os = "none")]
pub(super) fn vm_area_cachep() -> VmAreaAlloc {
    VmAreaCachep
}

#[cfg(not(target_os = "none"))]
pub(super) fn vm_area_cachep() -> VmAreaAlloc {
    alloc::alloc::Global
}

/// Areas alive in the `vm_area_struct` cache now, in every address space:
/// `slabinfo`'s active objects less the free ones waiting in its per-CPU
/// array; 0 before the first area is made.
#[cfg(target_os = "none")]
pub fn nr_vm_areas() -> usize {
    VM_AREA_CACHEP.live_objects()
}

const _: () = assert!(
    core::mem::size_of::<Box<Vma, VmAreaAlloc>>() == core::mem::size_of::<usize>(),
    "a pointer to an area is one word"
);

/// The areas in address order, each in a `Box` from `A`.
pub(super) struct VmaList<A: Allocator + Clone> {
    areas: Vec<Box<Vma, A>>,
    /// The pages of all the areas (Linux's `mm->total_vm`), kept as they
    /// change rather than summed when asked: every page fault records it
    /// for the OOM report (`total_vm_at_fault`).
    pages: usize,
    /// The index `find_vma` found last (Linux's `mm->mmap_cache`): a fault
    /// loop touches one area again and again. Only a hint, never
    /// invalidated: it is used when the area there holds the address,
    /// which makes it the one a search would find.
    last_found: Cell<usize>,
    alloc: A,
}

impl<A: Allocator + Clone> VmaList<A> {
    pub fn new_in(alloc: A) -> Self {
        VmaList { areas: Vec::new(), pages: 0, last_found: Cell::new(0), alloc }
    }

    /// The index `find_vma` found last (a hint: it may be out of range).
    pub fn last_found(&self) -> usize {
        self.last_found.get()
    }

    pub fn set_last_found(&self, i: usize) {
        self.last_found.set(i);
    }

    /// The pages of all the areas (`total_vm`).
    pub fn pages(&self) -> usize {
        self.pages
    }

    pub fn len(&self) -> usize {
        self.areas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.areas.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&Vma> {
        self.areas.get(i).map(|b| &**b)
    }

    pub fn iter(&self) -> VmaIter<'_, A> {
        VmaIter(self.areas.iter())
    }

    /// The areas at indices `range`.
    pub fn range(&self, range: Range<usize>) -> VmaIter<'_, A> {
        VmaIter(self.areas[range].iter())
    }

    /// The number of areas before the first for which `pred` is false
    /// (`pred` must be true of a prefix: the list is sorted).
    pub fn partition_point(&self, mut pred: impl FnMut(&Vma) -> bool) -> usize {
        self.areas.partition_point(|b| pred(b))
    }

    fn new_area(&self, v: Vma) -> Result<Box<Vma, A>, Errno> {
        Box::try_new_in(v, self.alloc.clone()).map_err(|_| Errno::ENOMEM)
    }

    /// Puts `with` (sorted, fitting between the areas around `range`) in
    /// the place of the areas at indices `range`. The objects there are
    /// reused, in order (as `vma_adjust` adjusts the areas it keeps); the
    /// ones left over are freed; the ones missing are allocated, with room
    /// for their pointers, before anything changes: `ENOMEM` leaves the
    /// list as it was.
    pub fn replace(&mut self, range: Range<usize>, with: &[Vma]) -> Result<(), Errno> {
        let reused = range.len().min(with.len());
        let mut fresh = Vec::new();
        fresh.try_reserve_exact(with.len() - reused).map_err(|_| Errno::ENOMEM)?;
        for v in &with[reused..] {
            fresh.push(self.new_area(*v)?);
        }
        self.areas.try_reserve(fresh.len()).map_err(|_| Errno::ENOMEM)?;
        // Nothing below can fail. Room is reserved and `fresh`'s iterator
        // knows its length, so the splice moves the tail once and
        // allocates nothing.
        let gone: usize = self.areas[range.clone()].iter().map(|v| v.pages()).sum();
        for (area, v) in self.areas[range.start..range.start + reused].iter_mut().zip(with) {
            **area = *v;
        }
        self.areas.splice(range.start + reused..range.end, fresh);
        self.pages = self.pages - gone + with.iter().map(Vma::pages).sum::<usize>();
        Ok(())
    }

    /// A copy, each area in a fresh object (`dup_mmap`'s
    /// `kmem_cache_alloc` per area); `ENOMEM`, with what was copied freed,
    /// when one cannot be had.
    pub fn try_clone(&self) -> Result<Self, Errno> {
        let mut areas = Vec::new();
        areas.try_reserve_exact(self.areas.len()).map_err(|_| Errno::ENOMEM)?;
        for v in self.iter() {
            areas.push(self.new_area(*v)?);
        }
        Ok(VmaList { areas, pages: self.pages, last_found: Cell::new(0), alloc: self.alloc.clone() })
    }

    /// Gives every area the flags `f` makes of its own and merges the
    /// neighbours that then may be merged, freeing the objects merged
    /// away. Allocates nothing, so it cannot fail.
    pub fn refit(&mut self, f: impl Fn(&Vma) -> Vma) {
        let mut kept = 0;
        for i in 0..self.areas.len() {
            let v = f(&self.areas[i]);
            debug_assert!((v.start, v.end) == (self.areas[i].start, self.areas[i].end), "refit keeps each range");
            if kept > 0 && self.areas[kept - 1].can_merge(&v) {
                self.areas[kept - 1].end = v.end;
            } else {
                *self.areas[i] = v;
                self.areas.swap(kept, i);
                kept += 1;
            }
        }
        self.areas.truncate(kept);
    }
}

impl<A: Allocator + Clone> Index<usize> for VmaList<A> {
    type Output = Vma;

    fn index(&self, i: usize) -> &Vma {
        &self.areas[i]
    }
}

/// The areas of a [`super::VmaSet`] in address order (what `vm_next` walks).
#[derive(Clone)]
pub struct VmaIter<'a, A: Allocator>(core::slice::Iter<'a, Box<Vma, A>>);

impl<'a, A: Allocator> Iterator for VmaIter<'a, A> {
    type Item = &'a Vma;

    fn next(&mut self) -> Option<&'a Vma> {
        self.0.next().map(|b| &**b)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<A: Allocator> DoubleEndedIterator for VmaIter<'_, A> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|b| &**b)
    }
}

impl<A: Allocator> ExactSizeIterator for VmaIter<'_, A> {}
