//! Memory management. Pure algorithms here build and test on the host.

pub mod buddy;
pub mod gfp;
pub mod list;
pub mod memblock;
pub mod mm_init;
pub mod mmap;
pub mod mmzone;
pub mod page;
pub mod page_alloc;
pub mod pgtable;
pub mod pkmap;
pub mod slab;
pub mod vmap_area;
pub mod vmstat;
pub mod zones;

#[cfg(target_os = "none")]
pub mod allocator;
#[cfg(target_os = "none")]
pub mod dma;
#[cfg(target_os = "none")]
pub mod failslab;
#[cfg(target_os = "none")]
pub mod highmem;
#[cfg(target_os = "none")]
pub mod highpte;
#[cfg(target_os = "none")]
pub mod mempool;
#[cfg(target_os = "none")]
pub mod mm_types;
#[cfg(target_os = "none")]
pub mod shrinker;
#[cfg(target_os = "none")]
pub mod slab_common;
#[cfg(target_os = "none")]
pub mod vmalloc;
