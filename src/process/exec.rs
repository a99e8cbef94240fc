//! Running a program (Linux's fs/exec.c and the loading half of
//! fs/binfmt_elf.c).
//!
//! `load` checks a boot module's bytes (`binfmt_elf::parse`), makes an
//! address space (`mm_alloc`) and lays out its areas as
//! `load_elf_binary` does: each `PT_LOAD` segment's file pages as a private
//! mapping of the program file with the segment's rights, its `.bss`
//! beyond them as anonymous memory (`do_brk`, after zeroing the rest of the
//! last file page: `padzero`), the break after the highest segment, and
//! the stack under `STACK_TOP` holding the first stack image
//! (`create_elf_tables`), with `EXTRA_STACK_VM_PAGES` more below it. No
//! page is mapped but the stack image's: the others come on first touch,
//! through the page-fault handler (`mm::memory`), from highmem first.
//!
//! `exec` then starts the program in a new process (`task::spawn`),
//! whose parent is the caller.

use super::binfmt_elf::{self, ArgError, ElfError, ElfPlan, ExecArgs, SegFlags, STACK_TOP};
use super::kthread::KthreadError;
use super::rlimit::RlimitTable;
use super::task::{self, Process, UserStart};
use crate::arch::x86::cpu::{cpuid, rdtsc};
use crate::arch::x86::tls::GDT_ENTRY_TLS_ENTRIES;
use crate::kernel::random::XorShift64Star;
use crate::kernel::sched;
use crate::layout::PAGE_SIZE;
use crate::mm::highmem::memcpy_to_page;
use crate::mm::memory::{self, FaultError};
use crate::mm::mm_types::{mm_alloc, MmContext, MmRef, MmStruct};
use crate::mm::mmap::{
    FileRef, VmFlags, Vma, VmaKind, VmaSet, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_FIXED, MAP_PRIVATE, PROT_EXEC,
    PROT_READ, PROT_WRITE,
};
use core::fmt;

/// Pages of stack below the arguments, in the stack area from the start
/// (Linux 2.6.24's `EXTRA_STACK_VM_PAGES`); it grows on faults beyond them.
pub const EXTRA_STACK_VM_PAGES: usize = 20;

/// The default `RLIMIT_MEMLOCK`: Linux's `MLOCK_LIMIT`, 8 MB since 5.16
/// (64 KB before, in 2.6.24 too: `memlock=64K` gives that back); the
/// boot option `memlock=` changes it (`set_default_memlock`).
static DEFAULT_MEMLOCK: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(8 << 20);

/// Set the `RLIMIT_MEMLOCK` new programs start with (boot option).
pub fn set_default_memlock(bytes: u64) {
    DEFAULT_MEMLOCK.store(bytes, core::sync::atomic::Ordering::Relaxed);
}

/// The limits a program started from the shell gets.
pub fn default_rlimits() -> RlimitTable {
    RlimitTable::new(DEFAULT_MEMLOCK.load(core::sync::atomic::Ordering::Relaxed))
}

/// Why a program was not started. Nothing it allocated is left.
#[derive(Debug)]
pub enum ExecError {
    /// The file was refused by `binfmt_elf`.
    Elf(ElfError),
    /// The arguments do not fit (`E2BIG`).
    Args(ArgError),
    /// No memory for its address space, areas or first pages.
    NoMemory,
    /// No kernel thread for it.
    Thread(KthreadError),
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::Elf(e) => write!(f, "{}", e),
            ExecError::Args(e) => write!(f, "{}", e),
            ExecError::NoMemory => write!(f, "out of memory for its pages; nothing started"),
            ExecError::Thread(e) => write!(f, "{}; nothing started", e),
        }
    }
}

/// A program laid out and not started: its address space, where it
/// starts, its first stack pointer, and what `/proc/PID/status` reports
/// of its layout.
pub struct Loaded {
    pub mm: MmRef,
    pub eip: u32,
    pub esp: u32,
    pub code: (u32, u32),
    pub data: (u32, u32),
}

/// Check `file` (the program module `fref`), build its address space and
/// start it as `argv[0]` in a new process, a child of the caller; returns
/// its pid (wait for it with `exit::wait_pid`). May sleep. On an error
/// nothing is left.
pub fn exec(file: &'static [u8], fref: FileRef, argv: &[&[u8]]) -> Result<u32, ExecError> {
    super::syscalls::install();
    let rlim = default_rlimits();
    let loaded = load(file, fref, argv, &rlim)?;
    let name = core::str::from_utf8(argv.first().copied().unwrap_or(b"")).unwrap_or("?");
    let name = name.rsplit('/').next().unwrap_or(name);
    let p = Process::new(name, sched::current_pid(), loaded.mm, rlim);
    {
        let mut inner = p.inner.lock();
        inner.code = loaded.code;
        inner.data = loaded.data;
    }
    let user = UserStart {
        frame: crate::arch::x86::kernel::user_frame(loaded.eip, loaded.esp),
        fpu: None,
        tls: [0; GDT_ENTRY_TLS_ENTRIES],
        set_child_tid: 0,
    };
    task::spawn(p, user).map_err(ExecError::Thread)
}

/// Check `file` and lay out its address space, with `argv` on its stack
/// (Linux's `load_elf_binary` up to `start_thread`). May sleep. On an
/// error nothing is left.
pub fn load(file: &'static [u8], fref: FileRef, argv: &[&[u8]], rlim: &RlimitTable) -> Result<Loaded, ExecError> {
    let plan = binfmt_elf::parse(file).map_err(ExecError::Elf)?;
    let name = argv.first().copied().unwrap_or(b"");
    let args = ExecArgs { argv, envp: &[], execfn: name, random: at_random(), hwcap: cpuid(1).3 };
    let image = binfmt_elf::create_elf_tables(&plan, &args).map_err(ExecError::Args)?;
    let mm = mm_alloc().map_err(|_| ExecError::NoMemory)?;
    {
        let mut ctx = mm.mmap.lock();
        let limits = rlim.mm_limits();
        ctx.rlim = limits;
        ctx.vmas = VmaSet::new(limits.stack);
        ctx.exe = Some((fref, file));
        map_segments(&mm, &mut ctx, &plan, fref)?;
        setup_stack(&mm, &mut ctx, &plan, image.esp, &image.bytes)?;
        ctx.update_hiwater_vm();
        // The data, bss and stack areas are committed (VM_ACCOUNT), each
        // checked by Linux as it is inserted; here all at once, before the
        // program runs: refused, the new space goes and nothing starts.
        let ctx = &mut *ctx;
        let pages = crate::mm::util::accountable_pages(&ctx.vmas);
        let reserved =
            crate::mm::util::vm_enough_memory(pages, ctx.vmas.total_vm()).map_err(|_| ExecError::NoMemory)?;
        ctx.committed.commit(&ctx.vmas, Some(reserved));
    }
    Ok(Loaded {
        mm,
        eip: plan.entry,
        esp: image.esp,
        code: (plan.start_code, plan.end_code),
        data: (plan.start_data, plan.end_data),
    })
}

/// `PROT_*` for a segment's `PF_*` flags.
fn seg_prot(flags: SegFlags) -> u32 {
    let mut prot = 0;
    if flags.contains(SegFlags::R) {
        prot |= PROT_READ;
    }
    if flags.contains(SegFlags::W) {
        prot |= PROT_WRITE;
    }
    if flags.contains(SegFlags::X) {
        prot |= PROT_EXEC;
    }
    prot
}

static ZEROS: [u8; PAGE_SIZE] = [0; PAGE_SIZE];

/// Each `PT_LOAD` segment: its file pages mapped private (`elf_map`), the
/// rest of the last file page zeroed (`padzero`) and `.bss` beyond it
/// anonymous (`set_brk`'s `do_brk`). The break starts after the highest.
fn map_segments(mm: &MmStruct, ctx: &mut MmContext, plan: &ElfPlan, fref: FileRef) -> Result<(), ExecError> {
    let flags = MAP_PRIVATE | MAP_FIXED | MAP_DENYWRITE | MAP_EXECUTABLE;
    let rlim = ctx.rlim;
    for seg in &plan.segments {
        let start = seg.page_start() as usize;
        let file_end = (seg.vaddr + seg.filesz) as usize;
        let prot = seg_prot(seg.flags);
        // As elf_map: the file pages from the segment's first page to the
        // end of its file bytes (one page even for no file bytes, when the
        // segment starts inside a page).
        if file_end.next_multiple_of(PAGE_SIZE) > start {
            let len = file_end.next_multiple_of(PAGE_SIZE) - start;
            let pgoff = (seg.offset as usize - (seg.vaddr as usize - start)) / PAGE_SIZE;
            ctx.vmas.mmap(start, len, prot, flags, Some(fref), pgoff, &rlim).map_err(|_| ExecError::NoMemory)?;
        }
        if seg.memsz > seg.filesz {
            if !file_end.is_multiple_of(PAGE_SIZE) {
                // The file's bytes after the segment must read as .bss:
                // zero them in the page's private copy, as padzero does.
                match memory::get_user_page_faulting(mm, ctx, file_end, true) {
                    Ok(pfn) => {
                        let off = file_end % PAGE_SIZE;
                        // SAFETY: the frame is this new mm's, mapped only here,
                        // the program has not started, and our reference keeps
                        // it from being freed or moved.
                        unsafe { memcpy_to_page(pfn, off, &ZEROS[off..]) };
                        crate::mm::swap::put_page(pfn);
                    }
                    // No page: the load fails (2.6.24's failed padzero
                    // fails the exec); ignored, the page's next fault
                    // would copy file bytes into .bss.
                    Err(FaultError::Oom) => return Err(ExecError::NoMemory),
                    // Linux ignores a read-only segment's padzero failure.
                    Err(_) => {}
                }
            }
            let bss = file_end.next_multiple_of(PAGE_SIZE);
            let end = seg.page_end() as usize;
            if end > bss {
                ctx.vmas.do_brk(bss, end - bss, &rlim).map_err(|_| ExecError::NoMemory)?;
                if !seg.flags.contains(SegFlags::W) {
                    let _ = ctx.vmas.mprotect(bss, end - bss, prot);
                }
            }
        }
    }
    ctx.vmas.start_brk = plan.brk as usize;
    ctx.vmas.brk = plan.brk as usize;
    Ok(())
}

/// The stack area (Linux's `setup_arg_pages`): from `EXTRA_STACK_VM_PAGES`
/// below the image's lowest page to `STACK_TOP`, growing down; the image's
/// pages are made and filled now.
fn setup_stack(mm: &MmStruct, ctx: &mut MmContext, plan: &ElfPlan, esp: u32, image: &[u8]) -> Result<(), ExecError> {
    let low = (esp as usize) & !(PAGE_SIZE - 1);
    let start = low - EXTRA_STACK_VM_PAGES * PAGE_SIZE;
    let mut flags = VmFlags::STACK | ctx.vmas.def_flags;
    if plan.exec_stack {
        flags |= VmFlags::EXEC;
    }
    let top = STACK_TOP as usize;
    let vma = Vma { start, end: top, flags, pgoff: start / PAGE_SIZE, kind: VmaKind::Anonymous };
    ctx.vmas.insert_vma(vma).map_err(|_| ExecError::NoMemory)?;
    ctx.vmas.start_stack = esp as usize;
    for va in (low..top).step_by(PAGE_SIZE) {
        let pfn = memory::get_user_page_faulting(mm, ctx, va, true).map_err(|_| ExecError::NoMemory)?;
        let (lo, hi) = (va.max(esp as usize), va + PAGE_SIZE);
        let bytes = &image[lo - esp as usize..hi - esp as usize];
        // SAFETY: a fresh zeroed frame of this new mm; the program has not
        // started, and our reference keeps it from being freed or moved.
        unsafe { memcpy_to_page(pfn, lo - va, bytes) };
        crate::mm::swap::put_page(pfn);
    }
    Ok(())
}

/// `AT_RANDOM`'s 16 bytes. There is no entropy pool yet: the time stamp
/// counter, stirred (glibc seeds its stack guard from them; a predictable
/// value weakens that, it does not break the program). With the boot
/// option `seed=`, the n-th program started since boot gets the n-th 16
/// bytes of the seed's `at_random` stream instead: the same on every boot
/// with that seed (`kernel::random`).
fn at_random() -> [u8; 16] {
    let mut out = [0u8; 16];
    match crate::kernel::random::boot_seed() {
        Some(seed) => {
            let n = AT_RANDOM_DRAWN.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            let state = crate::kernel::random::stream_seed(seed, "at_random");
            XorShift64Star::new(crate::kernel::random::splitmix64(state ^ n)).fill(&mut out);
        }
        None => XorShift64Star::new(rdtsc() | 1).fill(&mut out),
    }
    out
}

/// Programs given `AT_RANDOM` bytes since boot (with `seed=`).
static AT_RANDOM_DRAWN: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
