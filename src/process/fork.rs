//! `fork` and `clone` for processes (Linux's kernel/fork.c): the child
//! gets a copy of the parent's address space (`dup_mmap`: the same areas,
//! every page shared copy-on-write), its registers (EAX 0), FPU state, TLS
//! descriptors and limits, and a thread of its own.
//!
//! `clone` takes the flags glibc's `fork` passes (`SIGCHLD` as the exit
//! signal, `CLONE_CHILD_SETTID`, `CLONE_CHILD_CLEARTID`,
//! `CLONE_PARENT_SETTID`); threads (`CLONE_VM`, `CLONE_THREAD`...) are not
//! built and get `EINVAL`.

use super::task::{self, Process, UserStart};
use crate::arch::x86::kernel::traps::TrapFrame;
use crate::arch::x86::lib::uaccess::put_user;
use crate::kernel::sched;
use crate::mm::memory;
use crate::mm::mm_types::{mm_alloc_forked, MmRef, MmStruct};
use crate::mm::mmap::VmFlags;

pub const CLONE_VM: u32 = 0x0000_0100;
pub const CLONE_FS: u32 = 0x0000_0200;
pub const CLONE_FILES: u32 = 0x0000_0400;
pub const CLONE_SIGHAND: u32 = 0x0000_0800;
pub const CLONE_VFORK: u32 = 0x0000_4000;
pub const CLONE_PARENT: u32 = 0x0000_8000;
pub const CLONE_THREAD: u32 = 0x0001_0000;
pub const CLONE_SETTLS: u32 = 0x0008_0000;
pub const CLONE_PARENT_SETTID: u32 = 0x0010_0000;
pub const CLONE_CHILD_CLEARTID: u32 = 0x0020_0000;
pub const CLONE_CHILD_SETTID: u32 = 0x0100_0000;
/// The low byte: the signal the parent gets at the child's exit.
pub const CSIGNAL: u32 = 0xff;

/// The flags this kernel does: a new process with a copied address space
/// (what `fork` and glibc's `fork` ask). `CLONE_VFORK` is taken as a plain
/// fork, which is a correct (if slower) `vfork`.
const SUPPORTED: u32 = CSIGNAL | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | CLONE_VFORK;

/// Why a fork failed (Linux's errno).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForkError {
    /// Flags this kernel does not build (`EINVAL`).
    Flags,
    /// No memory for the copy (`ENOMEM`).
    NoMemory,
    /// No thread for it (`EAGAIN`).
    NoThread,
}

impl ForkError {
    pub fn errno(self) -> i32 {
        match self {
            ForkError::Flags => -22,
            ForkError::NoMemory => -12,
            ForkError::NoThread => -11,
        }
    }
}

/// Linux's `dup_mm`: a new address space with `old`'s areas and every
/// page shared copy-on-write. Locked areas are not locked in the copy
/// (Linux clears `VM_LOCKED` in the child), nor is `MCL_FUTURE` inherited.
pub fn dup_mm(old: &MmStruct) -> Result<MmRef, ForkError> {
    let mm = mm_alloc_forked(old).map_err(|_| ForkError::NoMemory)?;
    let src = old.mmap.lock();
    let mut dst = mm.mmap.lock();
    let mut vmas = src.vmas.try_clone().map_err(|_| ForkError::NoMemory)?;
    vmas.clear_locked();
    dst.vmas = vmas;
    dst.rlim = src.rlim;
    dst.exe = src.exe;
    dst.hiwater_vm = dst.vmas.total_vm();
    // dup_mmap's charge: the child commits what the parent's accountable
    // areas do, or the fork fails with ENOMEM (the new space, charged
    // nothing, goes with `mm`).
    let d = &mut *dst;
    let pages = crate::mm::util::accountable_pages(&d.vmas);
    let reserved = crate::mm::util::vm_enough_memory(pages, src.vmas.total_vm()).map_err(|_| ForkError::NoMemory)?;
    d.committed.commit(&d.vmas, Some(reserved));
    for vma in src.vmas.iter() {
        if vma.flags.contains(VmFlags::DONTCOPY) {
            continue;
        }
        memory::copy_page_range(&mm, old, vma).map_err(|_| ForkError::NoMemory)?;
    }
    drop(dst);
    Ok(mm)
}

/// `fork`, `vfork` and `clone(flags, newsp, parent_tid, tls, child_tid)`
/// for the calling process, whose registers are `frame`: the child's pid
/// in the parent; the child starts from the same place with EAX 0.
pub fn do_fork(frame: &TrapFrame, flags: u32, newsp: u32, parent_tid: u32, child_tid: u32) -> Result<u32, ForkError> {
    if flags & !SUPPORTED != 0 {
        return Err(ForkError::Flags);
    }
    let parent = task::current().ok_or(ForkError::Flags)?;
    let old_mm = parent.mm().ok_or(ForkError::NoMemory)?;
    let mm = dup_mm(&old_mm)?;
    drop(old_mm);
    let (rlim, code, data) = {
        let inner = parent.inner.lock();
        (inner.rlim, inner.code, inner.data)
    };
    let child = Process::new(parent.comm(), parent.pid(), mm, rlim);
    {
        let mut inner = child.inner.lock();
        inner.code = code;
        inner.data = data;
        if flags & CLONE_CHILD_CLEARTID != 0 {
            inner.clear_child_tid = child_tid;
        }
    }
    let mut regs = *frame;
    regs.eax = 0;
    if newsp != 0 {
        regs.user_esp = newsp;
    }
    let user = UserStart {
        frame: regs,
        fpu: sched::fpu_copy(),
        tls: sched::current_tls(),
        set_child_tid: if flags & CLONE_CHILD_SETTID != 0 { child_tid } else { 0 },
    };
    let pid = task::spawn(child, user).map_err(|_| ForkError::NoThread)?;
    if flags & CLONE_PARENT_SETTID != 0 {
        // Linux writes it before the child runs, and ignores a fault.
        let _ = put_user(pid, parent_tid as usize);
    }
    Ok(pid)
}
