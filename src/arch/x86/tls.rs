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

    /// Linux's `LDT_zero`: all zero but the entry number. Programs pass it
    /// meaning "no segment", so it clears the slot as `is_empty` does.
    pub fn is_zero(&self) -> bool {
        self.base_addr == 0 && self.limit == 0 && self.flags & 0x7f == 0
    }

    /// Linux's `tls_desc_okay`: a slot is cleared (`is_empty`, `is_zero`) or
    /// filled with a present 32-bit data segment. 16-bit segments would need
    /// espfix; code segments, conforming ones above all, have no business
    /// in the TLS array; and a not-present DPL 3 segment is an attack
    /// surface nothing needs (a program clears a slot instead).
    pub fn is_okay(&self) -> bool {
        if self.is_empty() || self.is_zero() {
            return true;
        }
        self.seg_32bit() == 1 && self.contents() <= 1 && self.seg_not_present() == 0
    }

    /// Linux's `fill_user_desc`, for `get_thread_area`: the `struct
    /// user_desc` that describes GDT descriptor `desc` of slot `entry`. An
    /// empty slot (0) reads back as read_exec_only and seg_not_present.
    pub fn from_descriptor(entry: u32, desc: u64) -> UserDesc {
        let (lo, hi) = (desc as u32, (desc >> 32) as u32);
        let base_addr = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff00_0000);
        let limit = (lo & 0xffff) | (hi & 0xf_0000);
        let typ = (hi >> 8) & 0xf;
        let flags = ((hi >> 22) & 1) // seg_32bit: D
            | ((typ >> 2) << 1) // contents
            | ((!typ >> 1) & 1) << 3 // read_exec_only: not writable
            | ((hi >> 23) & 1) << 4 // limit_in_pages: G
            | ((!hi >> 15) & 1) << 5 // seg_not_present: not P
            | ((hi >> 20) & 1) << 6; // useable: AVL
        UserDesc { entry_number: entry, base_addr, limit, flags }
    }

    /// The 16 bytes of `struct user_desc`, as `get_thread_area` writes them.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        for (i, w) in [self.entry_number, self.base_addr, self.limit, self.flags].into_iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        b
    }

    /// The GDT descriptor (Linux's `fill_ldt`): DPL 3, a code or data
    /// segment as `contents` says; 0 for an empty one.
    pub fn descriptor(&self) -> u64 {
        if self.is_empty() || self.is_zero() {
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
    fn only_present_32bit_data_segments_or_a_cleared_slot_are_okay() {
        assert!(glibc(0x1000).is_okay());
        let with = |flags: u32| UserDesc { flags, ..glibc(0x1000) };
        let g = glibc(0).flags;
        // 16-bit; code (execute-only, readable, conforming); not present.
        for bad in [g & !1, g | 2 << 1, g | 3 << 1, g | 1 << 5] {
            assert!(!with(bad).is_okay(), "flags {bad:#x} accepted");
        }
        // Expand-down data is data.
        assert!(with(g | 1 << 1).is_okay());
        // All zero but the number: a cleared slot, as LDT_empty.
        let zero = UserDesc { entry_number: 7, base_addr: 0, limit: 0, flags: 0 };
        assert!(zero.is_zero() && zero.is_okay());
        assert_eq!(zero.descriptor(), 0);
    }

    #[test]
    fn get_thread_area_reads_back_what_set_thread_area_wrote() {
        let d = UserDesc { entry_number: 8, ..glibc(0x080e_b840) };
        assert_eq!(UserDesc::from_descriptor(8, d.descriptor()), d);
        let ro = UserDesc { flags: d.flags | 1 << 3 | 1 << 1, ..d };
        assert_eq!(UserDesc::from_descriptor(8, ro.descriptor()), ro);
        // An empty slot: read_exec_only and seg_not_present, as Linux's.
        let empty = UserDesc::from_descriptor(9, 0);
        assert!(empty.is_empty());
        assert_eq!(empty.entry_number, 9);
        assert_eq!(UserDesc::from_bytes(&d.to_bytes()), d);
    }
}
