//! Thread-local storage descriptors (Linux's arch/x86/kernel/tls.c and
//! `fill_ldt`/`LDT_empty` of desc.h): what `set_thread_area` puts in the
//! GDT for a thread, from the `struct user_desc` a program passes. glibc
//! asks for one (`entry_number` -1: the kernel picks a free slot and writes
//! its number back), then loads `%gs` with it and reaches its thread
//! control block through `%gs:0`.
//!
//! Pure, and tested on the host; `gdt` loads the running thread's
//! descriptors, and the scheduler swaps them at every switch (Linux's
//! `load_TLS` in `__switch_to`).

/// The first GDT entry for TLS and how many there are (Linux i386 has 3,
/// from entry 6; here entries 5 and 6 are the TSSs, so they follow them).
pub const GDT_ENTRY_TLS_MIN: u32 = 7;
pub const GDT_ENTRY_TLS_ENTRIES: usize = 3;
pub const GDT_ENTRY_TLS_MAX: u32 = GDT_ENTRY_TLS_MIN + GDT_ENTRY_TLS_ENTRIES as u32 - 1;

/// `struct user_desc` (asm/ldt.h), as 16 bytes in user memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserDesc {
    pub entry_number: u32,
    pub base_addr: u32,
    pub limit: u32,
    /// seg_32bit:1, contents:2, read_exec_only:1, limit_in_pages:1,
    /// seg_not_present:1, useable:1, from bit 0.
    pub flags: u32,
}

impl UserDesc {
    pub const SIZE: usize = 16;

    pub fn from_bytes(b: &[u8; 16]) -> UserDesc {
        let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        UserDesc { entry_number: w(0), base_addr: w(4), limit: w(8), flags: w(12) }
    }

    fn bit(&self, n: u32) -> u32 {
        (self.flags >> n) & 1
    }
    fn seg_32bit(&self) -> u32 {
        self.bit(0)
    }
    fn contents(&self) -> u32 {
        (self.flags >> 1) & 3
    }
    fn read_exec_only(&self) -> u32 {
        self.bit(3)
    }
    fn limit_in_pages(&self) -> u32 {
        self.bit(4)
    }
    fn seg_not_present(&self) -> u32 {
        self.bit(5)
    }
    fn useable(&self) -> u32 {
        self.bit(6)
    }

    /// Linux's `LDT_empty`: the descriptor a program passes to clear a slot.
    pub fn is_empty(&self) -> bool {
        self.base_addr == 0
            && self.limit == 0
            && self.contents() == 0
            && self.read_exec_only() == 1
            && self.seg_32bit() == 0
            && self.limit_in_pages() == 0
            && self.seg_not_present() == 1
            && self.useable() == 0
    }

    /// Linux's `tls_desc_okay`: a conforming code segment is refused (it
    /// would let ring 3 code run at any privilege's CPL).
    pub fn is_okay(&self) -> bool {
        self.is_empty() || self.contents() != 3 || self.seg_not_present() == 1
    }

    /// The GDT descriptor (Linux's `fill_ldt`): DPL 3, a code or data
    /// segment as `contents` says; 0 for an empty one.
    pub fn descriptor(&self) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let (base, limit) = (self.base_addr, self.limit);
        let lo = ((base & 0xffff) << 16) | (limit & 0xffff);
        let hi = (base & 0xff00_0000)
            | ((base & 0x00ff_0000) >> 16)
            | (limit & 0xf_0000)
            | ((self.read_exec_only() ^ 1) << 9)
            | (self.contents() << 10)
            | ((self.seg_not_present() ^ 1) << 15)
            | (self.seg_32bit() << 22)
            | (self.limit_in_pages() << 23)
            | (self.useable() << 20)
            | 0x7000; // S (code or data) and DPL 3
        (u64::from(hi) << 32) | u64::from(lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What glibc's TLS_INIT_TP passes: base = the TCB, limit 0xfffff in
    /// pages, 32-bit, writable data, useable.
    fn glibc(base: u32) -> UserDesc {
        UserDesc { entry_number: u32::MAX, base_addr: base, limit: 0xfffff, flags: 1 | 1 << 4 | 1 << 6 }
    }

    #[test]
    fn glibc_tls_descriptor_is_a_flat_ring3_data_segment_at_the_tcb() {
        // base 0x080e_b840: the bytes split as a descriptor splits them.
        let d = glibc(0x080e_b840).descriptor();
        assert_eq!(d, 0x08df_f20e_b840_ffff);
        // The user data segment the GDT has, but for base and AVL (useable).
        assert_eq!(glibc(0).descriptor() & !(1 << 52), 0x00cf_f200_0000_ffff);
    }

    #[test]
    fn bytes_decode_in_order_and_empty_clears() {
        let mut b = [0u8; 16];
        b[0..4].copy_from_slice(&7u32.to_le_bytes());
        b[4..8].copy_from_slice(&0x1234_5678u32.to_le_bytes());
        b[8..12].copy_from_slice(&0xfffffu32.to_le_bytes());
        b[12..16].copy_from_slice(&0x51u32.to_le_bytes());
        assert_eq!(
            UserDesc::from_bytes(&b),
            UserDesc { entry_number: 7, base_addr: 0x1234_5678, limit: 0xfffff, flags: 0x51 }
        );
        // read_exec_only and seg_not_present set, all else 0.
        let empty = UserDesc { entry_number: 7, base_addr: 0, limit: 0, flags: 1 << 3 | 1 << 5 };
        assert!(empty.is_empty() && empty.is_okay());
        assert_eq!(empty.descriptor(), 0);
    }

    #[test]
    fn conforming_code_is_refused_unless_not_present() {
        let conforming = UserDesc { entry_number: 7, base_addr: 0, limit: 0xfffff, flags: 1 | 3 << 1 };
        assert!(!conforming.is_okay());
        assert!(UserDesc { flags: conforming.flags | 1 << 5, ..conforming }.is_okay());
        assert!(glibc(0x1000).is_okay());
    }
}
