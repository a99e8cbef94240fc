//! A 32-bit i686 teaching kernel that manages memory the way Linux does on
//! i386, with real HIGHMEM.
//!
//! The crate is built twice. For the kernel target (`target_os = "none"`) it
//! is the whole kernel, in layers that import only downward (README,
//! "Layout"; `tests/layers.rs` checks it): `layout`; `arch::x86` (the
//! machine); `kernel` and `arch::x86::kernel` (the core services: log,
//! locks, scheduler core, traps); `mm` with `arch::x86::mm` (memory
//! management); `process` (kernel threads); and on top `init`, `shell`,
//! `bench` and `ktests` (test kernels only). On the host, `cargo test`
//! builds only the pure modules and tests them in seconds.

#![cfg_attr(not(test), no_std)]
// Boxes and Arcs in named slab caches (mm::kmem_alloc); on the host too, so
// that the VMA set, generic over its allocator, is tested with failing ones.
#![feature(allocator_api)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

pub mod kernel;
pub mod layout;
pub mod mm;
pub mod process;
pub mod shell;

// Machine code, kernel target only, but for `arch::x86::pgtable_types`
// (page-table entry bits), which `mm::pgtable` and its host tests use.
pub mod arch;
#[cfg(target_os = "none")]
pub mod bench;
#[cfg(target_os = "none")]
pub mod init;
#[cfg(all(target_os = "none", feature = "ktest"))]
pub mod ktests;
