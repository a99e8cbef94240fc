//! i386-specific memory management: page faults, early page tables.
pub mod fault;
pub mod highmem;
pub mod init;
pub mod tlb;
