//! Rust's global allocator on kmalloc (as Rust-for-Linux's
//! `rust/kernel/allocator.rs`): `Box`, `Vec` and `String` live in kmalloc
//! memory. Rust's collections cannot handle a failure, so they ask with
//! `__GFP_NOFAIL`, which fault injection leaves alone.

use super::gfp::{Gfp, GFP_KERNEL};
use super::slab_common::kmalloc::{kfree, kmalloc, kmalloc_pages, krealloc, KMALLOC_MAX_CACHE_SIZE, KMALLOC_MAX_SIZE};
use crate::layout::PAGE_SIZE;
use core::alloc::{GlobalAlloc, Layout};

/// Rust's global allocator: `Box`, `Vec`, `String` live in kmalloc memory.
pub struct KmallocAllocator;

/// The flags of every allocation by Rust's collections: they cannot handle
/// a failure (they abort), so fault injection leaves them alone.
const GFP_RUST: Gfp = GFP_KERNEL.union(Gfp::NOFAIL);

// SAFETY: kmalloc returns blocks of at least the size asked, aligned as
// below, unique until kfree'd; dealloc gets back exactly what alloc gave.
unsafe impl GlobalAlloc for KmallocAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Every class is at least 8-aligned; a power-of-two class is aligned
        // to its size up to a page (`kmalloc_align`), and page blocks to
        // their own size. Pick the first that satisfies the layout.
        let align = layout.align();
        let block = if align <= 8 {
            kmalloc(layout.size().max(1), GFP_RUST)
        } else {
            let size = layout.size().max(align).next_power_of_two();
            if align <= PAGE_SIZE && size <= KMALLOC_MAX_CACHE_SIZE {
                kmalloc(size, GFP_RUST)
            } else if size <= KMALLOC_MAX_SIZE {
                kmalloc_pages(size.max(PAGE_SIZE), GFP_RUST)
            } else {
                None
            }
        };
        block.map_or(core::ptr::null_mut(), |p| p.as_ptr())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: GlobalAlloc::dealloc gets back exactly what alloc gave.
        unsafe { kfree(ptr) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= 8 {
            // SAFETY: GlobalAlloc::realloc: ptr is live and the caller uses only the result.
            return unsafe { krealloc(ptr, new_size, GFP_RUST) }.map_or(core::ptr::null_mut(), |p| p.as_ptr());
        }
        let new_layout = Layout::from_size_align(new_size, layout.align()).expect("valid layout");
        // SAFETY: new_layout has the caller's alignment and a non-zero size.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for min(old, new) bytes and distinct.
            unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
            // SAFETY: copied above; the old block is not used again.
            unsafe { kfree(ptr) };
        }
        new
    }
}

#[global_allocator]
static GLOBAL: KmallocAllocator = KmallocAllocator;
