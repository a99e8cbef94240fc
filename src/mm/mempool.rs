//! Memory pools (Linux's mm/mempool.c): a reserve of `min_nr` preallocated
//! elements for allocations that must not fail, such as those on the path
//! that frees memory. `alloc` tries the allocator first; when it fails, an
//! element comes from the reserve; when the reserve is empty too, a caller
//! that may sleep waits until `free` puts one back, or 5 seconds, and tries
//! the allocator again (2.6.24's `io_schedule_timeout(5*HZ)`: memory may
//! have come back elsewhere without anyone freeing to the pool). `free`
//! refills the reserve before giving anything back to the allocator.

use super::gfp::Gfp;
use super::slab_common::kmalloc::{kfree, kmalloc};
use super::slab_common::Cache;
use crate::kernel::sync::IrqLock;
use crate::kernel::wait::WaitQueue;
use core::ptr::NonNull;

/// Largest reserve a pool may ask for.
pub const MEMPOOL_MAX: usize = 64;
/// How long `mempool_alloc` sleeps on an empty reserve before it tries the
/// allocator again (Linux: 5*HZ).
pub const MEMPOOL_RETRY_MS: u64 = 5000;

/// Where a pool's elements come from. A slab pool owns its cache's handle;
/// [`Mempool::destroy`] gives it back.
#[derive(Debug)]
pub enum Backend {
    /// `mempool_create_slab_pool`.
    Slab(Cache),
    /// `mempool_create_kmalloc_pool` of elements of this size.
    Kmalloc(usize),
}

struct Reserve {
    elements: [usize; MEMPOOL_MAX],
    curr_nr: usize,
}

pub struct Mempool {
    min_nr: usize,
    backend: Backend,
    reserve: IrqLock<Reserve>,
    wait: WaitQueue,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MempoolError {
    TooLarge { min_nr: usize },
    NoMemory { filled: usize },
}

impl Backend {
    fn alloc(&self, gfp: Gfp) -> Option<NonNull<u8>> {
        match self {
            Backend::Slab(c) => c.alloc(gfp),
            Backend::Kmalloc(size) => kmalloc(*size, gfp),
        }
    }

    /// Give an element back to the allocator.
    ///
    /// # Safety
    /// `p` came from this backend's `alloc` and nothing uses it afterwards.
    unsafe fn free(&self, p: NonNull<u8>) {
        match self {
            // SAFETY: the caller's contract: an object of this cache, given up.
            Backend::Slab(c) => unsafe { c.free(p) },
            // SAFETY: the caller's contract: a kmalloc block, given up.
            Backend::Kmalloc(_) => unsafe { kfree(p.as_ptr()) },
        }
    }
}

impl Mempool {
    /// `mempool_create`: fill the reserve with `min_nr` elements now. On
    /// failure the backend is dropped with the pool (a slab pool's cache
    /// handle too: destroy it through a pool that was created).
    pub fn create(min_nr: usize, backend: Backend) -> Result<Mempool, MempoolError> {
        if min_nr > MEMPOOL_MAX {
            return Err(MempoolError::TooLarge { min_nr });
        }
        let pool = Mempool {
            min_nr,
            backend,
            reserve: IrqLock::new(Reserve { elements: [0; MEMPOOL_MAX], curr_nr: 0 }),
            wait: WaitQueue::new(),
        };
        for filled in 0..min_nr {
            let Some(p) = pool.backend.alloc(super::gfp::GFP_KERNEL) else {
                // Dropping the pool gives the elements back.
                return Err(MempoolError::NoMemory { filled });
            };
            let mut r = pool.reserve.lock();
            let n = r.curr_nr;
            r.elements[n] = p.as_ptr() as usize;
            r.curr_nr += 1;
        }
        Ok(pool)
    }

    /// Elements in the reserve now.
    pub fn reserve_count(&self) -> usize {
        self.reserve.lock().curr_nr
    }

    fn take_reserved(&self) -> Option<NonNull<u8>> {
        let mut r = self.reserve.lock();
        if r.curr_nr == 0 {
            return None;
        }
        r.curr_nr -= 1;
        let n = r.curr_nr;
        NonNull::new(r.elements[n] as *mut u8)
    }

    /// `mempool_alloc`: never fails for a caller that may sleep.
    pub fn alloc(&self, gfp: Gfp) -> Option<NonNull<u8>> {
        // The allocator first, without its failure warning and without
        // sleeping or reclaiming (Linux strips __GFP_WAIT and __GFP_IO
        // here): the reserve is the fallback, waiting the last resort.
        let mut try_gfp = (gfp - Gfp::WAIT - Gfp::IO) | Gfp::NOWARN;
        loop {
            if let Some(p) = self.backend.alloc(try_gfp) {
                return Some(p);
            }
            if let Some(p) = self.take_reserved() {
                return Some(p);
            }
            if !gfp.may_sleep() {
                return None;
            }
            // Woken by a free, or after the timeout, try everything again,
            // now with the caller's own flags: reclaim may find memory.
            try_gfp = gfp | Gfp::NOWARN;
            let ticks = (MEMPOOL_RETRY_MS * crate::arch::x86::pit::HZ).div_ceil(1000);
            self.wait.wait_event_timeout(|| self.reserve.lock().curr_nr > 0, ticks);
        }
    }

    /// `mempool_free`: refill the reserve first, then the allocator.
    ///
    /// # Safety
    /// `p` came from this pool's `alloc` and nothing uses it afterwards:
    /// the pool hands it to the next caller or frees it.
    pub unsafe fn free(&self, p: NonNull<u8>) {
        {
            let mut r = self.reserve.lock();
            if r.curr_nr < self.min_nr {
                let n = r.curr_nr;
                r.elements[n] = p.as_ptr() as usize;
                r.curr_nr += 1;
                drop(r);
                self.wait.wake_up_all();
                return;
            }
        }
        // SAFETY: the caller's contract; pool elements come from the backend.
        unsafe { self.backend.free(p) };
    }

    /// Give the reserve back to the allocator.
    fn drain(&self) {
        while let Some(p) = self.take_reserved() {
            // SAFETY: reserve elements came from the backend and are held
            // by nobody but the reserve, which just let go of this one.
            unsafe { self.backend.free(p) };
        }
    }

    /// `mempool_destroy`: the reserve goes back to the allocator, and the
    /// backend (a slab pool's cache handle) to the caller. Elements still
    /// out must have been freed to the allocator, not to the pool.
    pub fn destroy(mut self) -> Backend {
        self.drain();
        core::mem::replace(&mut self.backend, Backend::Kmalloc(0))
    }
}

impl Drop for Mempool {
    /// A dropped pool leaks nothing: its reserve goes back.
    fn drop(&mut self) {
        self.drain();
    }
}
