//! Kernel access to user memory (Linux's arch/x86/lib/usercopy_32.c,
//! getuser.S/putuser.S and include/asm-x86/uaccess_32.h).
//!
//! A user address is whatever a process handed the kernel: it may be
//! unmapped, or point into the kernel. So every access is checked twice:
//!
//! - up front, `access_ok`: the whole range lies below `TASK_SIZE`
//!   (= `PAGE_OFFSET`), so a user pointer can never make the kernel read
//!   or write its own memory;
//! - at run time, by the MMU: the instructions that touch user memory are
//!   listed in the exception table (`extable.rs`), so a fault on one of them
//!   resumes at a fixup that returns `-EFAULT` instead of ending in an oops.
//!
//! The copy loops are assembly (`rep movsl; rep movsb`, as Linux's
//! `__copy_user`): after a fault the count register says exactly how much
//! was left, which is what the fixup reports.
//!
//! Each access may sleep (Linux's `might_fault`: a fault will be handled,
//! with demand paging, by reading the page in), so a call where sleeping
//! is not allowed is reported, unless page faults are disabled.
//!
//! Page faults taken here while `pagefault_disable` is in force (inside
//! `kmap_atomic`) are not handled at all: they go straight to the fixup
//! (Linux's `faulthandler_disabled()` in `do_page_fault`), so the caller
//! sees `-EFAULT` and nothing sleeps.

use crate::layout::TASK_SIZE;
use core::arch::{asm, global_asm};
use core::sync::atomic::{compiler_fence, AtomicU32, Ordering};

/// Linux's errno for a bad address.
pub const EFAULT: i32 = 14;

/// The access touched a user address the kernel may not use (at or above
/// `TASK_SIZE`) or that is not mapped: Linux's `-EFAULT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Efault;

impl Efault {
    /// The value a system call returns for it.
    pub const fn errno(self) -> i32 {
        -EFAULT
    }
}

/// A user access may fault, and handling a fault will sleep once demand
/// paging exists: report a call made where sleeping is not allowed, unless
/// faults are disabled (then a fault only gives -EFAULT). Linux's
/// `might_fault`.
#[inline]
#[track_caller]
pub fn might_fault() {
    if !pagefault_disabled() {
        crate::kernel::preempt::might_sleep("user access (might fault)");
    }
}

/// Whether `[addr, addr + size)` lies in user space (Linux's `access_ok`:
/// the end may touch `TASK_SIZE`, not pass it, and must not wrap).
#[inline]
pub const fn access_ok(addr: usize, size: usize) -> bool {
    size <= TASK_SIZE && addr <= TASK_SIZE - size
}

// The copy and string loops. Each user access is listed in `__ex_table`;
// the fixups live in `.fixup` (placed in .text by linker.ld), away from
// the straight-line path, as in Linux.
global_asm!(
    // usize __copy_user_ll(to, from, n): bytes NOT copied (0 on success).
    // Words first, then the 0..3 byte tail; a fault in the word loop leaves
    // ECX words and EDX bytes to go.
    ".pushsection .text.__copy_user_ll, \"ax\"",
    ".global __copy_user_ll",
    "__copy_user_ll:",
    "    push edi",
    "    push esi",
    "    mov edi, [esp + 12]",
    "    mov esi, [esp + 16]",
    "    mov ecx, [esp + 20]",
    "    mov edx, ecx",
    "    shr ecx, 2",
    "    and edx, 3",
    "2:  rep movsd",
    "    mov ecx, edx",
    "3:  rep movsb",
    "4:  mov eax, ecx",
    "    pop esi",
    "    pop edi",
    "    ret",
    ".section .fixup, \"ax\"",
    "5:  lea ecx, [edx + ecx * 4]",
    "    jmp 4b",
    ".section __ex_table, \"a\"",
    "    .long 2b, 5b",
    "    .long 3b, 4b",
    ".popsection",
    //
    // isize __strncpy_from_user_ll(dst, src, count): bytes copied before
    // the NUL (which is copied too), `count` if there was none, or
    // -EFAULT (Linux's __do_strncpy_from_user).
    ".pushsection .text.__strncpy_from_user_ll, \"ax\"",
    ".global __strncpy_from_user_ll",
    "__strncpy_from_user_ll:",
    "    push edi",
    "    push esi",
    "    mov edi, [esp + 12]",
    "    mov esi, [esp + 16]",
    "    mov ecx, [esp + 20]",
    "    mov edx, ecx",
    "    test ecx, ecx",
    "    jz 4f",
    "2:  lodsb",
    "    stosb",
    "    test al, al",
    "    jz 4f",
    "    dec ecx",
    "    jnz 2b",
    "4:  sub edx, ecx",
    "    mov eax, edx",
    "    pop esi",
    "    pop edi",
    "    ret",
    ".section .fixup, \"ax\"",
    "5:  mov edx, {efault}",
    "    xor ecx, ecx",
    "    jmp 4b",
    ".section __ex_table, \"a\"",
    "    .long 2b, 5b",
    ".popsection",
    efault = const -EFAULT,
);

extern "C" {
    fn __copy_user_ll(to: *mut u8, from: *const u8, n: usize) -> usize;
    fn __strncpy_from_user_ll(dst: *mut u8, src: *const u8, count: usize) -> isize;
}

/// Copy `to.len()` bytes from user address `from`. On a fault the bytes
/// not copied are zeroed (so no stale kernel data is ever handed on) and
/// the result is `Err(Efault)`; a range not wholly in user space copies
/// nothing and zeroes `to`.
#[track_caller]
pub fn copy_from_user(to: &mut [u8], from: usize) -> Result<(), Efault> {
    might_fault();
    if !access_ok(from, to.len()) {
        to.fill(0);
        return Err(Efault);
    }
    // SAFETY: `to` is a live, writable kernel buffer of `to.len()` bytes;
    // the source lies below TASK_SIZE, where no Rust object lives (the
    // kernel maps nothing of its own there), and a fault on it is fixed up
    // through the exception table.
    let left = unsafe { __copy_user_ll(to.as_mut_ptr(), from as *const u8, to.len()) };
    if left == 0 {
        return Ok(());
    }
    let done = to.len() - left;
    to[done..].fill(0);
    Err(Efault)
}

/// Copy `from` to user address `to`. On a fault the bytes before the
/// faulting page have been written and the result is `Err(Efault)`; a
/// range not wholly in user space writes nothing.
#[track_caller]
pub fn copy_to_user(to: usize, from: &[u8]) -> Result<(), Efault> {
    might_fault();
    if !access_ok(to, from.len()) {
        return Err(Efault);
    }
    // SAFETY: `from` is a live kernel buffer; the destination lies below
    // TASK_SIZE (no Rust object there) and faults on it are fixed up.
    match unsafe { __copy_user_ll(to as *mut u8, from.as_ptr(), from.len()) } {
        0 => Ok(()),
        _ => Err(Efault),
    }
}

/// Copy a NUL-terminated string from user address `src` into `dst`
/// (Linux's `strncpy_from_user`): the length without the NUL, or
/// `dst.len()` when the first `dst.len()` bytes hold none (then `dst` is
/// not terminated). The string may not run into kernel space: reaching
/// `TASK_SIZE` before a NUL or `dst.len()` is `Err(Efault)`, as is any
/// fault.
#[track_caller]
pub fn strncpy_from_user(dst: &mut [u8], src: usize) -> Result<usize, Efault> {
    might_fault();
    if !access_ok(src, 1) {
        return Err(Efault);
    }
    let max = dst.len().min(TASK_SIZE - src);
    // SAFETY: as for copy_from_user: `dst` holds `max` bytes at least, the
    // source bytes read lie below TASK_SIZE, faults are fixed up.
    let res = unsafe { __strncpy_from_user_ll(dst.as_mut_ptr(), src as *const u8, max) };
    match res {
        r if r < 0 => Err(Efault),
        // Stopped by TASK_SIZE, not by the caller's limit: the string goes
        // on into kernel space.
        r if r as usize == max && max < dst.len() => Err(Efault),
        r => Ok(r as usize),
    }
}

/// A value `get_user`/`put_user` move in one instruction (1, 2 or 4 bytes).
pub trait UserScalar: Copy + private::Sealed {
    #[doc(hidden)]
    fn from_word(w: u32) -> Self;
    #[doc(hidden)]
    fn to_word(self) -> u32;
    #[doc(hidden)]
    const SIZE: usize;
}

mod private {
    pub trait Sealed {}
}

macro_rules! user_scalar {
    ($($t:ty),*) => {$(
        impl private::Sealed for $t {}
        impl UserScalar for $t {
            #[inline(always)]
            fn from_word(w: u32) -> Self {
                w as $t
            }
            #[inline(always)]
            fn to_word(self) -> u32 {
                self as u32
            }
            const SIZE: usize = core::mem::size_of::<$t>();
        }
    )*};
}
user_scalar!(u8, i8, u16, i16, u32, i32, usize, isize);

/// One load from user memory, with its fixup (Linux's `__get_user_asm`):
/// `err` becomes -EFAULT and the value 0 if the load faults.
macro_rules! get_user_asm {
    ($addr:expr, $load:literal) => {{
        let val: u32;
        let err: i32;
        // SAFETY: the caller checked `access_ok`: the address is below
        // TASK_SIZE, where no Rust object lives; a fault resumes at the
        // fixup listed in __ex_table.
        unsafe {
            asm!(
                "2:",
                $load,
                "3:",
                ".pushsection .fixup, \"ax\"",
                "4: mov {err}, {efault}",
                "   xor {val}, {val}",
                "   jmp 3b",
                ".popsection",
                ".pushsection __ex_table, \"a\"",
                "   .long 2b, 4b",
                ".popsection",
                addr = in(reg) $addr,
                val = out(reg) val,
                err = inout(reg) 0i32 => err,
                efault = const -EFAULT,
                options(nostack, readonly),
            )
        }
        if err == 0 { Ok(val) } else { Err(Efault) }
    }};
}

/// One store to user memory, with its fixup (Linux's `__put_user_asm`).
macro_rules! put_user_asm {
    ($addr:expr, $val:expr, $class:ident, $store:literal) => {{
        let err: i32;
        // SAFETY: as for get_user_asm: a user address below TASK_SIZE, and
        // a fault resumes at the listed fixup.
        unsafe {
            asm!(
                "2:",
                $store,
                "3:",
                ".pushsection .fixup, \"ax\"",
                "4: mov {err}, {efault}",
                "   jmp 3b",
                ".popsection",
                ".pushsection __ex_table, \"a\"",
                "   .long 2b, 4b",
                ".popsection",
                addr = in(reg) $addr,
                val = in($class) $val,
                err = inout(reg) 0i32 => err,
                efault = const -EFAULT,
                options(nostack),
            )
        }
        if err == 0 { Ok(()) } else { Err(Efault) }
    }};
}

/// Read one value from user address `addr` (Linux's `get_user`).
#[inline]
#[track_caller]
pub fn get_user<T: UserScalar>(addr: usize) -> Result<T, Efault> {
    might_fault();
    if !access_ok(addr, T::SIZE) {
        return Err(Efault);
    }
    let word = match T::SIZE {
        1 => get_user_asm!(addr, "movzx {val}, byte ptr [{addr}]"),
        2 => get_user_asm!(addr, "movzx {val}, word ptr [{addr}]"),
        _ => get_user_asm!(addr, "mov {val}, dword ptr [{addr}]"),
    }?;
    Ok(T::from_word(word))
}

/// Write one value to user address `addr` (Linux's `put_user`).
#[inline]
#[track_caller]
pub fn put_user<T: UserScalar>(val: T, addr: usize) -> Result<(), Efault> {
    might_fault();
    if !access_ok(addr, T::SIZE) {
        return Err(Efault);
    }
    let word = val.to_word();
    match T::SIZE {
        1 => put_user_asm!(addr, word as u8, reg_byte, "mov byte ptr [{addr}], {val}"),
        2 => put_user_asm!(addr, word as u16, reg, "mov word ptr [{addr}], {val:x}"),
        _ => put_user_asm!(addr, word, reg, "mov dword ptr [{addr}], {val}"),
    }
}

/// Nesting count of `pagefault_disable` on this (the one) CPU. Linux keeps
/// it per task (`current->pagefault_disabled`); with kmap_atomic holders
/// never sleeping nor being preempted, per CPU is the same thing here.
static PAGEFAULT_DISABLED: AtomicU32 = AtomicU32::new(0);

/// Page faults on user addresses are not handled from here on: they go
/// straight to the exception-table fixup (Linux's `pagefault_disable`, what
/// `kmap_atomic` does so that a user copy under it cannot sleep).
#[inline]
pub fn pagefault_disable() {
    // A load and a store, not a locked add (as Linux's per-CPU counters):
    // an interrupt between them leaves the count as it found it.
    PAGEFAULT_DISABLED.store(PAGEFAULT_DISABLED.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    // No user access may be moved before the count is raised.
    compiler_fence(Ordering::SeqCst);
}

/// Undo one `pagefault_disable`.
#[inline]
pub fn pagefault_enable() {
    compiler_fence(Ordering::SeqCst);
    let old = PAGEFAULT_DISABLED.load(Ordering::Relaxed);
    debug_assert!(old > 0, "pagefault_enable without pagefault_disable");
    PAGEFAULT_DISABLED.store(old.wrapping_sub(1), Ordering::Relaxed);
}

/// Whether `pagefault_disable` is in force.
#[inline]
pub fn pagefault_disabled() -> bool {
    PAGEFAULT_DISABLED.load(Ordering::Relaxed) != 0
}

/// `pagefault_disable` for a scope: enabled again on drop. Not `Send`: the
/// count belongs to this CPU.
pub struct PagefaultDisabled {
    _not_send: core::marker::PhantomData<*const ()>,
}

impl PagefaultDisabled {
    pub fn new() -> Self {
        pagefault_disable();
        PagefaultDisabled { _not_send: core::marker::PhantomData }
    }
}

impl Default for PagefaultDisabled {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PagefaultDisabled {
    fn drop(&mut self) {
        pagefault_enable();
    }
}
