//! The bits of an i386 page-table entry (Linux's
//! include/asm-x86/pgtable_types.h, `_PAGE_*`): the one place that says
//! what bit 0, 1, 7... of a PDE or PTE means. Everything that writes an
//! entry (the generic walks in `mm::pgtable`, early paging in
//! `arch::x86::mm::init`, boot.S through `global_asm!` operands) takes its
//! bits from `PteFlags`.
//!
//! Machine layer, but pure: unlike the rest of `arch::x86` it builds on the
//! host too, so `mm::pgtable` and its host tests can use it.

use bitflags::bitflags;

bitflags! {
    /// Entry bits of i386 PDEs and PTEs (Linux's `_PAGE_*`), bits 0..11.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct PteFlags: u32 {
        /// The entry is valid; otherwise the CPU ignores the other 31 bits
        /// (and Linux keeps a swap entry there).
        const PRESENT = 1 << 0;
        /// Writable. Ring 0 ignores it unless CR0.WP is set.
        const RW = 1 << 1;
        /// Ring 3 may use it (needed in both the PDE and the PTE).
        const USER = 1 << 2;
        /// Write-through caching.
        const PWT = 1 << 3;
        /// Caching disabled (device memory).
        const PCD = 1 << 4;
        /// Set by the CPU on every use: the reclaim code's "referenced" bit.
        const ACCESSED = 1 << 5;
        /// Set by the CPU on a write (PTEs and 4 MB PDEs only).
        const DIRTY = 1 << 6;
        /// In a PDE: this entry maps a 4 MB page, not a page table. In a
        /// PTE the same bit means PAT, which this kernel leaves clear.
        const PSE = 1 << 7;
        /// Survives CR3 reloads (with CR4.PGE): for kernel mappings only.
        const GLOBAL = 1 << 8;
        /// Software bit 9 (Linux's `_PAGE_SPECIAL`): no `struct page`
        /// stands behind this frame (device memory), so reclaim and
        /// reference counting must leave it alone.
        const SPECIAL = 1 << 9;
    }
}

impl PteFlags {
    /// Linux's `_KERNPG_TABLE`: how a PDE points at a kernel page table.
    pub const KERNEL_TABLE: PteFlags =
        PteFlags::PRESENT.union(PteFlags::RW).union(PteFlags::ACCESSED).union(PteFlags::DIRTY);
    /// Linux's `_PAGE_TABLE`: a user page table; the PTEs decide the rights.
    pub const USER_TABLE: PteFlags = PteFlags::KERNEL_TABLE.union(PteFlags::USER);
    /// Linux's `PAGE_KERNEL`: a present, writable kernel page.
    pub const KERNEL: PteFlags = PteFlags::PRESENT.union(PteFlags::RW).union(PteFlags::ACCESSED).union(PteFlags::DIRTY);
    /// Present and writable, accessed and dirty left for the CPU to set:
    /// boot.S's and early paging's entries for the first 8 MB, the direct
    /// map's page tables, the pkmap and fixmap slots (Linux's head_32.S
    /// uses 0x007/0x067; this kernel has always written 0x003).
    pub const PRESENT_RW: PteFlags = PteFlags::PRESENT.union(PteFlags::RW);
    /// The same as a 4 MB page (a PDE with PSE): the rest of lowmem.
    pub const PRESENT_RW_LARGE: PteFlags = PteFlags::PRESENT_RW.union(PteFlags::PSE);
}

#[cfg(test)]
mod tests {
    use super::PteFlags;

    /// The values Linux's `_PAGE_*` and table flags have, and the raw ones
    /// boot.S and early paging wrote before they took them from here.
    #[test]
    fn bits_are_linux_i386_values() {
        assert_eq!(PteFlags::PRESENT.bits(), 0x001);
        assert_eq!(PteFlags::PSE.bits(), 0x080);
        assert_eq!(PteFlags::GLOBAL.bits(), 0x100);
        assert_eq!(PteFlags::KERNEL_TABLE.bits(), 0x063); // _KERNPG_TABLE
        assert_eq!(PteFlags::USER_TABLE.bits(), 0x067); // _PAGE_TABLE
        assert_eq!(PteFlags::PRESENT_RW.bits(), 0x003);
        assert_eq!(PteFlags::PRESENT_RW_LARGE.bits(), 0x083);
    }
}
