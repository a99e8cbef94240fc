//! Memory management. Pure algorithms here build and test on the host.

pub mod memmap;
