//! System calls: `int $0x80` with Linux's i386 numbers
//! (arch/x86/entry/syscalls/syscall_32.tbl) and registers: the number in
//! eax, the arguments in ebx, ecx, edx, esi, edi, ebp, the result in eax,
//! `-errno` on failure.
//!
//! The wrappers are safe where no argument can break Rust's guarantees;
//! those that unmap or change memory the program may hold references to
//! (`munmap`, `mmap2` with `MAP_FIXED`, `mprotect`, `madvise`, `brk`) are
//! `unsafe fn`. [`syscall`] calls any number with any words.

use crate::errno::Errno;

// The numbers the runtime and the programs use, by Linux's names.
pub const NR_EXIT: usize = 1;
pub const NR_FORK: usize = 2;
pub const NR_READ: usize = 3;
pub const NR_WRITE: usize = 4;
pub const NR_WAITPID: usize = 7;
pub const NR_GETPID: usize = 20;
pub const NR_PAUSE: usize = 29;
pub const NR_KILL: usize = 37;
pub const NR_BRK: usize = 45;
pub const NR_IOCTL: usize = 54;
pub const NR_GETPPID: usize = 64;
pub const NR_SETRLIMIT: usize = 75;
pub const NR_GETRLIMIT: usize = 76;
pub const NR_READLINK: usize = 85;
pub const NR_MUNMAP: usize = 91;
pub const NR_WAIT4: usize = 114;
pub const NR_CLONE: usize = 120;
pub const NR_UNAME: usize = 122;
pub const NR_MPROTECT: usize = 125;
pub const NR_WRITEV: usize = 146;
pub const NR_MLOCK: usize = 150;
pub const NR_MUNLOCK: usize = 151;
pub const NR_MLOCKALL: usize = 152;
pub const NR_MUNLOCKALL: usize = 153;
pub const NR_SCHED_YIELD: usize = 158;
pub const NR_NANOSLEEP: usize = 162;
pub const NR_UGETRLIMIT: usize = 191;
pub const NR_MMAP2: usize = 192;
pub const NR_FSTAT64: usize = 197;
pub const NR_MADVISE: usize = 219;
pub const NR_GETTID: usize = 224;
pub const NR_SET_THREAD_AREA: usize = 243;
pub const NR_EXIT_GROUP: usize = 252;
pub const NR_SET_TID_ADDRESS: usize = 258;
pub const NR_CLOCK_GETTIME: usize = 265;
pub const NR_SET_ROBUST_LIST: usize = 311;
pub const NR_PRLIMIT64: usize = 340;
pub const NR_GETRANDOM: usize = 355;
pub const NR_STATX: usize = 383;
pub const NR_RSEQ: usize = 386;

// mmap2's prot and flags, madvise's advice, mlockall's flags, wait4's
// options, signals (include/uapi/asm-generic/mman-common.h, signal.h...).
pub const PROT_NONE: usize = 0;
pub const PROT_READ: usize = 1;
pub const PROT_WRITE: usize = 2;
pub const PROT_EXEC: usize = 4;
pub const MAP_SHARED: usize = 0x01;
pub const MAP_PRIVATE: usize = 0x02;
pub const MAP_FIXED: usize = 0x10;
pub const MAP_ANONYMOUS: usize = 0x20;
pub const MAP_NORESERVE: usize = 0x4000;
pub const MADV_DONTNEED: usize = 4;
pub const MCL_CURRENT: usize = 1;
pub const MCL_FUTURE: usize = 2;
pub const WNOHANG: usize = 1;
pub const SIGKILL: usize = 9;
pub const SIGSEGV: usize = 11;
pub const SIGTERM: usize = 15;
pub const SIGCHLD: usize = 17;
pub const SIGCONT: usize = 18;
pub const SIGSTOP: usize = 19;
pub const RLIMIT_STACK: usize = 3;
pub const RLIMIT_MEMLOCK: usize = 8;
pub const RLIMIT_AS: usize = 9;

/// The raw system call: eax as the kernel returned it.
///
/// # Safety
/// The call does what the kernel does with these words: it may write
/// wherever a pointer among them points, unmap memory, end the process.
/// The caller answers for what that means to the program.
pub unsafe fn raw_syscall(nr: usize, args: [usize; 6]) -> usize {
    let ret: usize;
    // ebp is the frame pointer and esi LLVM's base pointer: neither can be
    // an operand, so both are saved here and all six arguments are loaded
    // from `args` through edi, which is loaded last.
    // SAFETY: int $0x80 changes only eax (Linux restores every other
    // register); ebp and esi are restored before the block ends; the
    // caller answers for the memory effects (the default: any memory).
    unsafe {
        core::arch::asm!(
            "push ebp",
            "push esi",
            "mov ebx, [edi]",
            "mov ecx, [edi + 4]",
            "mov edx, [edi + 8]",
            "mov esi, [edi + 12]",
            "mov ebp, [edi + 20]",
            "mov edi, [edi + 16]",
            "int 0x80",
            "pop esi",
            "pop ebp",
            inlateout("eax") nr => ret,
            inout("edi") args.as_ptr() => _,
            out("ebx") _,
            out("ecx") _,
            out("edx") _,
        );
    }
    ret
}

/// A system call with `-errno` turned into `Err`.
///
/// # Safety
/// As [`raw_syscall`].
pub unsafe fn syscall(nr: usize, args: [usize; 6]) -> Result<usize, Errno> {
    // SAFETY: the caller's.
    Errno::from_ret(unsafe { raw_syscall(nr, args) })
}

macro_rules! call {
    ($nr:expr $(, $a:expr)*) => {{
        let mut a = [0usize; 6];
        let given = [$($a as usize),*];
        a[..given.len()].copy_from_slice(&given);
        // SAFETY: each caller below passes pointers only to memory it
        // borrows for the call, with the size the kernel will use.
        unsafe { syscall($nr, a) }
    }};
}

pub fn exit(status: i32) -> ! {
    let _ = call!(NR_EXIT, status);
    unreachable!("exit returned")
}

/// End every thread of the process (what C's `exit` and main's return do).
pub fn exit_group(status: i32) -> ! {
    let _ = call!(NR_EXIT_GROUP, status);
    let _ = call!(NR_EXIT, status);
    unreachable!("exit_group returned")
}

pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    call!(NR_READ, fd, buf.as_mut_ptr(), buf.len())
}

pub fn write(fd: i32, buf: &[u8]) -> Result<usize, Errno> {
    call!(NR_WRITE, fd, buf.as_ptr(), buf.len())
}

pub fn getpid() -> i32 {
    call!(NR_GETPID).unwrap_or(0) as i32
}

pub fn getppid() -> i32 {
    call!(NR_GETPPID).unwrap_or(0) as i32
}

pub fn gettid() -> i32 {
    call!(NR_GETTID).unwrap_or(0) as i32
}

pub fn kill(pid: i32, sig: usize) -> Result<(), Errno> {
    call!(NR_KILL, pid, sig).map(drop)
}

pub fn pause() -> Errno {
    call!(NR_PAUSE).err().unwrap_or(Errno::EINTR)
}

pub fn sched_yield() {
    let _ = call!(NR_SCHED_YIELD);
}

/// What fork returned: in which process this goes on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fork {
    Child,
    Parent(i32),
}

/// A program built on this runtime has one thread and no locks, so the
/// child's copy of memory is consistent: safe.
pub fn fork() -> Result<Fork, Errno> {
    call!(NR_FORK).map(|pid| if pid == 0 { Fork::Child } else { Fork::Parent(pid as i32) })
}

/// A wait status as Linux encodes it (the W* macros of `<sys/wait.h>`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct WaitStatus(pub i32);

impl WaitStatus {
    pub fn exit_status(self) -> Option<i32> {
        (self.0 & 0x7f == 0).then_some((self.0 >> 8) & 0xff)
    }

    pub fn term_signal(self) -> Option<i32> {
        let sig = self.0 & 0x7f;
        (sig != 0 && sig != 0x7f).then_some(sig)
    }

    pub fn stop_signal(self) -> Option<i32> {
        (self.0 & 0xff == 0x7f).then_some((self.0 >> 8) & 0xff)
    }
}

/// wait4 without the rusage: the pid that changed state and its status.
pub fn waitpid(pid: i32, options: usize) -> Result<(i32, WaitStatus), Errno> {
    let mut status = 0i32;
    let got = call!(NR_WAIT4, pid, &mut status as *mut i32, options, 0)?;
    Ok((got as i32, WaitStatus(status)))
}

/// The i386 `struct timespec` (32-bit seconds).
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Timespec {
    pub tv_sec: i32,
    pub tv_nsec: i32,
}

/// nanosleep: `Err(EINTR)` with the time left in `rem` if a signal came.
pub fn nanosleep(req: &Timespec, rem: Option<&mut Timespec>) -> Result<(), Errno> {
    let rem = rem.map_or(core::ptr::null_mut(), |r| r as *mut Timespec);
    call!(NR_NANOSLEEP, req as *const Timespec, rem).map(drop)
}

/// Sleep `secs` seconds, going on after signals that do not end the process.
pub fn sleep(secs: u32) {
    let mut t = Timespec { tv_sec: secs as i32, tv_nsec: 0 };
    let mut rem = Timespec::default();
    while nanosleep(&t, Some(&mut rem)) == Err(Errno::EINTR) {
        t = rem;
    }
}

pub const CLOCK_REALTIME: usize = 0;
pub const CLOCK_MONOTONIC: usize = 1;

pub fn clock_gettime(clock: usize) -> Result<Timespec, Errno> {
    let mut t = Timespec::default();
    call!(NR_CLOCK_GETTIME, clock, &mut t as *mut Timespec)?;
    Ok(t)
}

/// The program break now (brk(0) leaves it where it is and returns it).
pub fn brk_current() -> usize {
    call!(NR_BRK, 0).unwrap_or(0)
}

/// Move the program break to `addr`; Linux returns the break, which stays
/// where it was if it could not move: the caller compares.
///
/// # Safety
/// Lowering the break unmaps the heap above it: nothing may still refer
/// to that memory.
pub unsafe fn brk(addr: usize) -> usize {
    call!(NR_BRK, addr).unwrap_or(0)
}

/// Map `len` bytes of fresh anonymous private memory, zeroed, where the
/// kernel chooses: it can replace nothing, so this is safe.
pub fn mmap_anonymous(len: usize, prot: usize) -> Result<usize, Errno> {
    call!(NR_MMAP2, 0, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1i32, 0)
}

/// mmap2: `pgoff` counts 4096-byte pages.
///
/// # Safety
/// With `MAP_FIXED` it replaces whatever was mapped there.
pub unsafe fn mmap2(addr: usize, len: usize, prot: usize, flags: usize, fd: i32, pgoff: usize) -> Result<usize, Errno> {
    call!(NR_MMAP2, addr, len, prot, flags, fd, pgoff)
}

/// # Safety
/// Nothing may refer to the memory unmapped.
pub unsafe fn munmap(addr: usize, len: usize) -> Result<(), Errno> {
    call!(NR_MUNMAP, addr, len).map(drop)
}

/// # Safety
/// Memory the program refers to must stay readable (and writable where it
/// writes to it).
pub unsafe fn mprotect(addr: usize, len: usize, prot: usize) -> Result<(), Errno> {
    call!(NR_MPROTECT, addr, len, prot).map(drop)
}

/// # Safety
/// `MADV_DONTNEED` gives private anonymous memory back: it reads zero
/// after, so nothing may hold a reference to it.
pub unsafe fn madvise(addr: usize, len: usize, advice: usize) -> Result<(), Errno> {
    call!(NR_MADVISE, addr, len, advice).map(drop)
}

pub fn mlock(addr: usize, len: usize) -> Result<(), Errno> {
    call!(NR_MLOCK, addr, len).map(drop)
}

pub fn munlock(addr: usize, len: usize) -> Result<(), Errno> {
    call!(NR_MUNLOCK, addr, len).map(drop)
}

pub fn mlockall(flags: usize) -> Result<(), Errno> {
    call!(NR_MLOCKALL, flags).map(drop)
}

pub fn munlockall() -> Result<(), Errno> {
    call!(NR_MUNLOCKALL).map(drop)
}

/// The i386 `struct rlimit` of ugetrlimit and setrlimit (`RLIM_INFINITY`
/// is `u32::MAX`).
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Rlimit {
    pub cur: u32,
    pub max: u32,
}

pub fn getrlimit(resource: usize) -> Result<Rlimit, Errno> {
    let mut r = Rlimit::default();
    call!(NR_UGETRLIMIT, resource, &mut r as *mut Rlimit)?;
    Ok(r)
}

pub fn setrlimit(resource: usize, r: &Rlimit) -> Result<(), Errno> {
    call!(NR_SETRLIMIT, resource, r as *const Rlimit).map(drop)
}
