//! `mprotect`: new rights on a range of areas (Linux's mm/mprotect.c).

use super::{
    calc_vm_prot_bits, is_aligned, page_align, Errno, VmFlags, Vma, VmaSet, PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP,
    PROT_READ, PROT_SEM, PROT_WRITE,
};
use core::alloc::Allocator;

impl<A: Allocator + Clone> VmaSet<A> {
    /// Linux's `sys_mprotect`: gives `[start, start + len)` the rights
    /// `prot`, splitting areas at the ends and merging what becomes alike.
    /// As Linux, it works through the areas in order and stops at the first
    /// hole (`ENOMEM`) or at an area whose `VM_MAY*` bits forbid the new
    /// rights (`EACCES`), leaving the areas before it changed.
    /// `PROT_GROWSDOWN` extends the range down to the start of the stack area.
    pub fn mprotect(&mut self, start: usize, len: usize, prot: u32) -> Result<(), Errno> {
        let grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
        let prot = prot & !grows;
        if grows == PROT_GROWSDOWN | PROT_GROWSUP || !is_aligned(start) {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(());
        }
        let end = start as u64 + page_align(len);
        if end > u32::MAX as u64 {
            return Err(Errno::ENOMEM); // `end <= start` on i386
        }
        let end = end as usize;
        if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM) != 0 {
            return Err(Errno::EINVAL);
        }
        let vm_flags = calc_vm_prot_bits(prot);
        let first = *self.find_vma(start).ok_or(Errno::ENOMEM)?;
        let start = if grows & PROT_GROWSDOWN != 0 {
            if first.start >= end {
                return Err(Errno::ENOMEM);
            }
            if !first.flags.contains(VmFlags::GROWSDOWN) {
                return Err(Errno::EINVAL);
            }
            first.start
        } else {
            if first.start > start {
                return Err(Errno::ENOMEM);
            }
            if grows & PROT_GROWSUP != 0 {
                return Err(Errno::EINVAL); // no VM_GROWSUP area on i386
            }
            start
        };
        // How far Linux's loop gets, and the error it stops with.
        let mut stop = start;
        let mut result = Ok(());
        for v in self.iter().skip_while(|v| v.end <= start) {
            if v.start > stop {
                result = Err(Errno::ENOMEM);
                break;
            }
            if new_flags(v, vm_flags).is_none() {
                result = Err(Errno::EACCES);
                break;
            }
            stop = v.end.min(end);
            if stop == end {
                break;
            }
        }
        if stop == start {
            return result;
        }
        if result.is_ok() && stop < end {
            result = Err(Errno::ENOMEM); // ran off the last area
        }
        self.rewrite(start, stop, |v| Some(Vma { flags: new_flags(v, vm_flags).expect("checked above"), ..*v }), None)?;
        result
    }
}

/// The flags `mprotect_fixup` gives `v` for new rights `rwx`, or `None`
/// when its `VM_MAY*` bits (the rights shifted up by four) forbid them.
/// Making a private area writable charges it (`VM_ACCOUNT`), and the
/// charge is kept when it becomes read-only again.
fn new_flags(v: &Vma, rwx: VmFlags) -> Option<VmFlags> {
    let mut flags = rwx | (v.flags - VmFlags::RWX);
    let may = VmFlags::from_bits_truncate(flags.bits() >> 4);
    if !(flags & (VmFlags::RWX - may)).is_empty() {
        return None;
    }
    let charged = VmFlags::ACCOUNT | VmFlags::WRITE | VmFlags::SHARED | VmFlags::HUGETLB;
    if flags.contains(VmFlags::WRITE) && !v.flags.intersects(charged) {
        flags |= VmFlags::ACCOUNT;
    }
    Some(flags)
}
