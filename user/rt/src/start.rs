//! Process start-up: the stack Linux's `binfmt_elf` (`create_elf_tables`)
//! hands a new program, and the program's view of it.
//!
//! ```text
//!   esp ->  argc
//!           argv[0] ... argv[argc - 1], NULL
//!           envp[0] ... , NULL
//!           auxv: (type, value) pairs, ending with (AT_NULL, 0)
//!           ...
//!           the strings argv and envp point to, AT_RANDOM's 16 bytes
//!   0xC0000000 (or the top of the host's stack)
//! ```
//!
//! Every other register is undefined for a static program (edx may hold a
//! function for `atexit` from a dynamic linker; there is none). The strings
//! live, never moved, for the whole life of the process: the runtime hands
//! them out as `&'static CStr`.

use core::ffi::{c_char, CStr};
use core::fmt;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

// The pointers of the initial stack, set once by rt_start before main.
static ARGC: AtomicUsize = AtomicUsize::new(0);
static ARGV: AtomicPtr<*const c_char> = AtomicPtr::new(core::ptr::null_mut());
static ENVP: AtomicPtr<*const c_char> = AtomicPtr::new(core::ptr::null_mut());
static AUXV: AtomicPtr<usize> = AtomicPtr::new(core::ptr::null_mut());

// The outermost frame: ebp 0 ends a backtrace; the i386 psABI wants esp
// 16-byte aligned at a call (Linux leaves it aligned to a word only).
core::arch::global_asm!(
    ".globl _start",
    ".type _start, @function",
    "_start:",
    "xor ebp, ebp",
    "mov eax, esp",
    "and esp, -16",
    "sub esp, 12",
    "push eax",
    "call {start}",
    "ud2",
    ".size _start, . - _start",
    start = sym rt_start,
);

/// # Safety
/// Called once, by `_start`, with the stack pointer Linux started the
/// program with: `sp` points to argc, followed by the vectors above, all
/// valid for the life of the process.
unsafe extern "C" fn rt_start(sp: *const usize) -> ! {
    // SAFETY: the layout above, which the kernel guarantees: argc, then
    // argc + 1 argv words, then envp up to its NULL, then auxv.
    unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *mut *const c_char;
        let envp = argv.add(argc + 1);
        let mut p = envp;
        while !(*p).is_null() {
            p = p.add(1);
        }
        ARGC.store(argc, Ordering::Relaxed);
        ARGV.store(argv, Ordering::Relaxed);
        ENVP.store(envp, Ordering::Relaxed);
        AUXV.store(p.add(1) as *mut usize, Ordering::Relaxed);
    }
    extern "Rust" {
        fn __rt_main() -> i32;
    }
    // SAFETY: __rt_main is the safe fn that rt::main! defines.
    let status = unsafe { __rt_main() };
    crate::sys::exit_group(status)
}

/// What main may return: nothing (status 0) or the exit status.
pub trait Termination {
    fn status(self) -> i32;
}

impl Termination for () {
    fn status(self) -> i32 {
        0
    }
}

impl Termination for i32 {
    fn status(self) -> i32 {
        self
    }
}

/// One argument or environment string: bytes, not necessarily UTF-8.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Arg(pub &'static CStr);

impl Arg {
    pub fn as_bytes(self) -> &'static [u8] {
        self.0.to_bytes()
    }

    /// The string, if it is UTF-8.
    pub fn to_str(self) -> Option<&'static str> {
        self.0.to_str().ok()
    }
}

/// Shows the bytes as they are where they are UTF-8, with U+FFFD for the
/// rest (as `String::from_utf8_lossy`).
impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.as_bytes().utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{fffd}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self)
    }
}

/// The strings of a NULL-ended vector (argv or envp).
#[derive(Clone)]
pub struct Args {
    next: *const *const c_char,
    left: usize,
}

impl Iterator for Args {
    type Item = Arg;

    fn next(&mut self) -> Option<Arg> {
        if self.left == 0 || self.next.is_null() {
            return None;
        }
        // SAFETY: `next` is inside argv or envp (rt_start), before its
        // NULL: `left` counts the words before it.
        let p = unsafe { *self.next };
        if p.is_null() {
            return None;
        }
        self.left -= 1;
        // SAFETY: as above; one past is at most the NULL.
        self.next = unsafe { self.next.add(1) };
        // SAFETY: Linux's argv and envp strings are NUL-ended, and never
        // freed nor moved while the process lives.
        Some(Arg(unsafe { CStr::from_ptr(p) }))
    }
}

impl Args {
    /// The number of strings left: argc for a fresh `args()`.
    pub fn len(&self) -> usize {
        self.clone().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The program's arguments, argv[0] (its name) first.
pub fn args() -> Args {
    Args { next: ARGV.load(Ordering::Relaxed), left: ARGC.load(Ordering::Relaxed) }
}

/// The environment strings (`NAME=value`).
pub fn env() -> Args {
    Args { next: ENVP.load(Ordering::Relaxed), left: usize::MAX }
}

/// argv[0], or `?` if the program was started without one.
pub fn program_name() -> Arg {
    args().next().unwrap_or(Arg(c"?"))
}

/// The value of auxiliary vector entry `kind` (`AT_PAGESZ`...), as glibc's
/// `getauxval`.
pub fn getauxval(kind: usize) -> Option<usize> {
    let mut p = AUXV.load(Ordering::Relaxed) as *const usize;
    if p.is_null() {
        return None;
    }
    loop {
        // SAFETY: auxv is pairs of words up to (AT_NULL, 0) (rt_start).
        let (k, v) = unsafe { (*p, *p.add(1)) };
        if k == AT_NULL {
            return None;
        }
        if k == kind {
            return Some(v);
        }
        // SAFETY: this pair was not AT_NULL, so another follows.
        p = unsafe { p.add(2) };
    }
}

// The auxiliary vector's types (include/uapi/linux/auxvec.h).
pub const AT_NULL: usize = 0;
pub const AT_PHDR: usize = 3;
pub const AT_PHENT: usize = 4;
pub const AT_PHNUM: usize = 5;
pub const AT_PAGESZ: usize = 6;
pub const AT_ENTRY: usize = 9;
pub const AT_RANDOM: usize = 25;
