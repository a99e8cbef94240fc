//! A Rust `Allocator` over one named slab cache: an `Arc` or `Box` made
//! with it lives in that cache, as Linux's `task_struct` and `mm_struct`
//! live in theirs (`kmem_cache_alloc(task_struct_cachep)`), so `slabinfo`
//! shows how many there are and what they cost.
//!
//! The cache is made on first use, sized for the first layout asked for;
//! every later request must fit it (one cache holds one type).

use crate::mm::gfp::GFP_KERNEL;
use crate::mm::slab::SlabFlags;
use crate::mm::slab_common::{kmem_cache_create, Cache};
use core::alloc::{AllocError, Allocator, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

/// A cache by name, made when first needed.
pub struct NamedCache {
    name: &'static str,
    cache: spin::Once<Option<(Cache, usize)>>,
    /// Objects handed out and not yet given back.
    live: AtomicUsize,
}

impl NamedCache {
    pub const fn new(name: &'static str) -> NamedCache {
        NamedCache { name, cache: spin::Once::new(), live: AtomicUsize::new(0) }
    }

    /// Objects allocated through this handle and not yet freed: what
    /// `slabinfo` counts active once `shrink` has emptied the per-CPU
    /// array (whose free objects it counts too, as Linux does).
    pub fn live_objects(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// The cache and its object size, made for `layout` if it is not yet.
    fn get(&self, layout: Layout) -> Option<&(Cache, usize)> {
        self.cache
            .call_once(|| {
                let c = kmem_cache_create(self.name, layout.size(), layout.align(), SlabFlags::HWCACHE_ALIGN, None);
                c.ok().map(|c| {
                    let size = c.object_size();
                    (c, size)
                })
            })
            .as_ref()
    }
}

/// Allocates from one [`NamedCache`]. May sleep (GFP_KERNEL).
#[derive(Clone, Copy)]
pub struct KmemCacheAlloc(pub &'static NamedCache);

// SAFETY: blocks come from the cache, each at least `layout.size()` bytes
// and aligned as the cache was made (`layout.align()` of the one type it
// holds; other layouts are refused), and stay valid until `deallocate`
// gives them back to the same cache. The handle is a shared reference to a
// static, so copies allocate from and free to the same cache.
unsafe impl Allocator for KmemCacheAlloc {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let (cache, size) = self.0.get(layout).ok_or(AllocError)?;
        if layout.size() > *size || layout.size() == 0 {
            return Err(AllocError);
        }
        let p = cache.alloc(GFP_KERNEL).ok_or(AllocError)?;
        if !(p.as_ptr() as usize).is_multiple_of(layout.align()) {
            // SAFETY: just allocated from this cache.
            unsafe { cache.free(p) };
            return Err(AllocError);
        }
        self.0.live.fetch_add(1, Ordering::Relaxed);
        Ok(NonNull::slice_from_raw_parts(p, layout.size()))
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if let Some((cache, _)) = self.0.get(layout) {
            // SAFETY: the caller's contract: `ptr` came from `allocate` on
            // this cache and is given back once.
            unsafe { cache.free(ptr) };
            self.0.live.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
