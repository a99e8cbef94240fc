//! Memory pools (Linux's mm/mempool.c): a reserve of `min_nr` preallocated
//! elements for allocations that must not fail, such as those on the path
//! that frees memory. `alloc` tries the allocator first; when it fails, an
//! element comes from the reserve; when the reserve is empty too, a caller
//! that may sleep waits until `free` puts one back. `free` refills the
//! reserve before giving anything back to the allocator.

use super::gfp::Gfp;
use super::kmalloc::{kfree, kmalloc, Cache};
use crate::kernel::sync::IrqLock;
use crate::kernel::wait::WaitQueue;
use core::ptr::NonNull;

/// Largest reserve a pool may ask for.
pub const MEMPOOL_MAX: usize = 64;

#[derive(Clone, Copy, Debug)]
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
    fn alloc(self, gfp: Gfp) -> Option<NonNull<u8>> {
        match self {
            Backend::Slab(c) => c.alloc(gfp),
            Backend::Kmalloc(size) => kmalloc(size, gfp),
        }
    }

    fn free(self, p: NonNull<u8>) {
        match self {
            Backend::Slab(c) => c.free(p),
            // SAFETY: the pool element came from kmalloc and is given up by mempool_free.
            Backend::Kmalloc(_) => unsafe { kfree(p.as_ptr()) },
        }
    }
}

impl Mempool {
    /// `mempool_create`: fill the reserve with `min_nr` elements now.
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
            let Some(p) = backend.alloc(super::gfp::GFP_KERNEL) else {
                pool.destroy();
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
        loop {
            // The allocator first, without its failure warning and without
            // sleeping or reclaiming (Linux strips __GFP_WAIT and __GFP_IO
            // here): the reserve is the fallback, waiting the last resort.
            if let Some(p) = self.backend.alloc((gfp - Gfp::WAIT - Gfp::IO) | Gfp::NOWARN) {
                return Some(p);
            }
            if let Some(p) = self.take_reserved() {
                return Some(p);
            }
            if !gfp.may_sleep() {
                return None;
            }
            self.wait.wait_event(|| self.reserve.lock().curr_nr > 0);
        }
    }

    /// `mempool_free`: refill the reserve first, then the allocator.
    pub fn free(&self, p: NonNull<u8>) {
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
        self.backend.free(p);
    }

    /// `mempool_destroy`: the reserve goes back to the allocator (also done
    /// on drop, so a dropped pool leaks nothing).
    pub fn destroy(&self) {
        while let Some(p) = self.take_reserved() {
            self.backend.free(p);
        }
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        self.destroy();
    }
}
