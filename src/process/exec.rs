//! Running a program (Linux's fs/exec.c and the loading half of
//! fs/binfmt_elf.c), and a program's end (the memory half of
//! kernel/exit.c).
//!
//! `exec` takes a boot module's bytes, checks them (`binfmt_elf::parse`),
//! makes an address space (`mm_alloc`) and fills it at once: every page of
//! every `PT_LOAD` segment, and the stack with the first stack image
//! (`create_elf_tables`) plus Linux's `EXTRA_STACK_VM_PAGES` below it. User
//! frames come from highmem first (`GFP_HIGHUSER`), zeroed, and the file's
//! bytes are copied in through `kmap_atomic`; text is mapped read-only.
//! Nothing is demand-paged yet: a page the program touches outside what
//! is mapped here faults, and a user fault is still an oops.
//!
//! A new kernel thread then adopts the address space (`use_mm`) and enters
//! ring 3 (`start_thread`). What the process owns (its frames and its
//! reference to the mm) sits in the process table under its pid until
//! `exit` takes it out and frees it; the thread's `do_exit` then drops the
//! last reference to the mm, which frees its page tables and directory.

use super::binfmt_elf::{self, ArgError, ElfError, ElfPlan, ExecArgs, STACK_TOP};
use super::kthread::{self, KthreadError};
use crate::arch::x86::cpu::{cpuid, rdtsc};
use crate::arch::x86::pgtable_types::PteFlags;
use crate::kernel::sched;
use crate::kernel::sync::SpinLock;
use crate::layout::PAGE_SIZE;
use crate::mm::gfp::{Gfp, GFP_HIGHUSER};
use crate::mm::highmem::memcpy_to_page;
use crate::mm::mm_types::{mm_alloc, MmStruct};
use crate::mm::page_alloc::{self, Pages};
use crate::mm::pgtable::{MapError, Pfn, VirtAddr};
use alloc::collections::{BTreeMap, LinkedList};
use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;

/// Pages of stack below the arguments, mapped at exec (Linux 2.6.24's
/// `EXTRA_STACK_VM_PAGES`; there, the stack grows on faults beyond them).
pub const EXTRA_STACK_VM_PAGES: u32 = 20;

const PAGE: u32 = PAGE_SIZE as u32;

/// Why a program was not started. Nothing it allocated is left.
#[derive(Debug)]
pub enum ExecError {
    /// The file was refused by `binfmt_elf`.
    Elf(ElfError),
    /// The arguments do not fit (`E2BIG`).
    Args(ArgError),
    /// No memory for its pages, page tables or directory.
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

impl From<MapError> for ExecError {
    fn from(_: MapError) -> ExecError {
        // exec maps only fresh user addresses of a fresh mm: the one way a
        // map can fail is a page table it could not allocate.
        ExecError::NoMemory
    }
}

/// The errors a process's memory calls give (their Linux errno).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Errno {
    Inval,
    NoMem,
}

impl Errno {
    pub const fn errno(self) -> i32 {
        match self {
            Errno::Inval => -22,
            Errno::NoMem => -12,
        }
    }
}

/// What a process owns: its address space, the frames mapped in it (by
/// page address; each unmapped and freed on drop, before the mm reference
/// goes), and its break (Linux's `mm->start_brk`, `mm->brk`).
pub struct Process {
    mm: Arc<MmStruct>,
    pages: BTreeMap<u32, Pages>,
    start_brk: u32,
    brk: u32,
    /// The lowest stack page: the heap stops a page below it (Linux keeps
    /// `brk` out of the stack's VMA and its guard gap).
    stack_start: u32,
}

impl Process {
    fn new(mm: Arc<MmStruct>) -> Process {
        Process { mm, pages: BTreeMap::new(), start_brk: 0, brk: 0, stack_start: STACK_TOP }
    }

    /// Map a zeroed user frame (highmem first) at page `va`; its frame.
    fn map_zeroed(&mut self, va: u32, writable: bool) -> Result<u32, ExecError> {
        self.map_new(va, writable, GFP_HIGHUSER | Gfp::ZERO)
    }

    /// Map a user frame at page `va` holding what `data` (the bytes for
    /// user addresses from `data_va`) puts in that page, zero elsewhere.
    /// The frame is cleared only when `data` leaves some of it, as Linux's
    /// binfmt_elf clears only what the file does not cover (`padzero`).
    fn map_filled(&mut self, va: u32, writable: bool, data_va: u32, data: &[u8]) -> Result<(), ExecError> {
        let data_end = data_va + data.len() as u32;
        let (lo, hi) = (va.max(data_va), (va + PAGE).min(data_end));
        let whole = lo == va && hi == va + PAGE;
        let pfn = self.map_new(va, writable, if whole { GFP_HIGHUSER } else { GFP_HIGHUSER | Gfp::ZERO })?;
        if lo < hi {
            let bytes = &data[(lo - data_va) as usize..(hi - data_va) as usize];
            // SAFETY: the frame is the process's, fresh, and mapped in an
            // address space that is not running; `bytes` are the kernel's
            // (the module's, or the stack image).
            unsafe { memcpy_to_page(pfn, (lo - va) as usize, bytes) };
        }
        Ok(())
    }

    /// Map a new frame from `gfp` at page `va`; its frame.
    fn map_new(&mut self, va: u32, writable: bool, gfp: Gfp) -> Result<u32, ExecError> {
        let page = page_alloc::alloc_pages(gfp, 0).ok_or(ExecError::NoMemory)?;
        let pfn = page.pfn();
        let flags = if writable { PteFlags::PRESENT_RW } else { PteFlags::PRESENT };
        // SAFETY: the frame was just allocated; it goes into `pages` at
        // once, which frees it only after unmapping it (`unmap`, `drop`).
        let mapped = unsafe { self.mm.map_page(VirtAddr::new(va as usize), Pfn(pfn), flags) };
        if let Err(e) = mapped {
            page_alloc::__free_pages(page);
            return Err(e.into());
        }
        if let Some(old) = self.pages.insert(va, page) {
            // map_page refuses a present entry, so no frame was there.
            unreachable!("page {:#010x} mapped twice (frame {:#x})", va, old.pfn());
        }
        Ok(pfn)
    }

    /// Unmap page `va` and free its frame.
    fn unmap(&mut self, va: u32) {
        if let Some(page) = self.pages.remove(&va) {
            // The entry was made by map_zeroed: unmapping cannot fail.
            let _ = self.mm.unmap_page(VirtAddr::new(va as usize));
            page_alloc::__free_pages(page);
        }
    }

    /// Linux's `sys_brk`: move the break to `brk` and return the new one,
    /// or the old one when refused (below `start_brk`, into the stack's gap,
    /// or out of memory: then nothing changed).
    pub fn brk(&mut self, brk: u32) -> u32 {
        if brk < self.start_brk || brk > self.stack_start.saturating_sub(PAGE) {
            return self.brk;
        }
        let (old_end, new_end) = (page_align(self.brk), page_align(brk));
        if new_end < old_end {
            for va in (new_end..old_end).step_by(PAGE_SIZE) {
                self.unmap(va);
            }
        }
        for va in (old_end..new_end).step_by(PAGE_SIZE) {
            if self.map_zeroed(va, true).is_err() {
                for done in (old_end..va).step_by(PAGE_SIZE) {
                    self.unmap(done);
                }
                return self.brk;
            }
        }
        self.brk = brk;
        brk
    }

    /// Linux's `sys_mprotect` for the pages exec and brk mapped: each page
    /// of `[start, start + len)` gets `prot` (`PROT_READ` 1, `PROT_WRITE`
    /// 2, `PROT_EXEC` 4; no PROT_NONE mapping here: PROT_NONE leaves the
    /// frame unmapped but still the process's). `EINVAL` for an unaligned
    /// start or unknown bits, `ENOMEM` if a page in the range is not the
    /// process's (then nothing changed).
    pub fn mprotect(&mut self, start: u32, len: u32, prot: u32) -> Result<(), Errno> {
        const PROT_ALL: u32 = 7;
        if !start.is_multiple_of(PAGE) || prot & !PROT_ALL != 0 {
            return Err(Errno::Inval);
        }
        let end = start.checked_add(len).and_then(|e| e.checked_next_multiple_of(PAGE)).ok_or(Errno::NoMem)?;
        if (start..end).step_by(PAGE_SIZE).any(|va| !self.pages.contains_key(&va)) {
            return Err(Errno::NoMem);
        }
        for va in (start..end).step_by(PAGE_SIZE) {
            let pfn = self.pages[&va].pfn();
            // Not mapped when an earlier PROT_NONE left it so.
            let _ = self.mm.unmap_page(VirtAddr::new(va as usize));
            if prot != 0 {
                let flags = if prot & 2 != 0 { PteFlags::PRESENT_RW } else { PteFlags::PRESENT };
                // SAFETY: the frame is the process's (in `pages`), freed
                // only after it is unmapped. Its table exists (it was just
                // mapped there), so this allocates nothing and cannot fail.
                let _ = unsafe { self.mm.map_page(VirtAddr::new(va as usize), Pfn(pfn), flags) };
            }
        }
        Ok(())
    }

    /// Its address space.
    pub fn mm(&self) -> &MmStruct {
        &self.mm
    }

    /// The frame mapped at page `va`, if the process has one there.
    pub fn frame(&self, va: u32) -> Option<u32> {
        self.pages.get(&va).map(|p| p.pfn())
    }

    /// Every (page, frame) it has, in address order.
    pub fn frames(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.pages.iter().map(|(&va, p)| (va, p.pfn()))
    }

    /// Frames mapped (for tests and reports).
    pub fn nr_pages(&self) -> usize {
        self.pages.len()
    }
}

/// Linux's `exit_mmap` for the frames: every one unmapped and freed here;
/// the page tables and the directory go with the last mm reference.
impl Drop for Process {
    fn drop(&mut self) {
        while let Some((&va, _)) = self.pages.first_key_value() {
            self.unmap(va);
        }
    }
}

fn page_align(addr: u32) -> u32 {
    addr.next_multiple_of(PAGE)
}

/// Live processes by pid, and the exit statuses not yet collected. The
/// nodes are made outside the lock (allocating may sleep; a SpinLock holder
/// may not), and moved in and out by `append`/`split_off`, which do not
/// allocate.
static PROCESSES: SpinLock<LinkedList<(u32, Process)>> = SpinLock::new(LinkedList::new());
static EXITED: SpinLock<LinkedList<(u32, i32)>> = SpinLock::new(LinkedList::new());

fn take<T>(list: &SpinLock<LinkedList<(u32, T)>>, pid: u32) -> Option<T> {
    let node = {
        let mut l = list.lock();
        let i = l.iter().position(|(p, _)| *p == pid)?;
        let mut tail = l.split_off(i);
        let mut rest = tail.split_off(1);
        l.append(&mut rest);
        tail
    };
    // The node is freed here, after the lock.
    node.into_iter().next().map(|(_, v)| v)
}

fn put<T>(list: &SpinLock<LinkedList<(u32, T)>>, pid: u32, v: T) {
    let mut node = LinkedList::new();
    node.push_back((pid, v));
    list.lock().append(&mut node);
}

/// Run `f` on the calling process's own state (a system call's). `None`
/// for a kernel thread, which has none. Only the process's own thread
/// takes its entry out, so nobody misses it meanwhile.
pub fn with_current<R>(f: impl FnOnce(&mut Process) -> R) -> Option<R> {
    let pid = sched::current_pid();
    let mut p = take(&PROCESSES, pid)?;
    let r = f(&mut p);
    put(&PROCESSES, pid, p);
    Some(r)
}

/// What the new thread needs to become the process.
struct Start {
    process: Process,
    eip: u32,
    esp: u32,
}

/// A program loaded and not started: its process, where it starts and
/// its first stack pointer.
pub struct Loaded {
    pub process: Process,
    pub eip: u32,
    pub esp: u32,
}

/// Check `file`, build its address space and start it as `argv[0]` in a
/// new thread; returns the thread's pid (wait for it with
/// [`wait_exit_status`]). May sleep. On an error nothing is left.
pub fn exec(file: &[u8], argv: &[&[u8]]) -> Result<u32, ExecError> {
    // The first exec installs the system calls: before it, nothing can
    // make one (traps stay below this layer: see traps::set_syscall_handler).
    crate::arch::x86::kernel::traps::set_syscall_handler(super::syscalls::do_syscall);
    let Loaded { process, eip, esp } = load(file, argv)?;
    let start = alloc::boxed::Box::new(Start { process, eip, esp });
    let raw = alloc::boxed::Box::into_raw(start);
    let thread_name = String::from_utf8_lossy(argv.first().copied().unwrap_or(b""));
    match kthread::kthread_run(&thread_name, user_thread, raw as usize) {
        Ok(pid) => Ok(pid),
        Err(e) => {
            // SAFETY: the thread was not made, so nobody else took `raw`.
            drop(unsafe { alloc::boxed::Box::from_raw(raw) });
            Err(ExecError::Thread(e))
        }
    }
}

/// Check `file` and build its address space, with `argv` on its stack
/// (Linux's `load_elf_binary` up to `start_thread`). May sleep. On an
/// error nothing is left.
pub fn load(file: &[u8], argv: &[&[u8]]) -> Result<Loaded, ExecError> {
    let plan = binfmt_elf::parse(file).map_err(ExecError::Elf)?;
    let name = argv.first().copied().unwrap_or(b"");
    let args = ExecArgs { argv, envp: &[], execfn: name, random: at_random(), hwcap: cpuid(1).3 };
    let image = binfmt_elf::create_elf_tables(&plan, &args).map_err(ExecError::Args)?;
    let mm = mm_alloc().map_err(ExecError::from)?;
    let mut process = Process::new(mm);
    load_segments(&mut process, &plan, file)?;
    // The stack: the image's pages, and EXTRA_STACK_VM_PAGES below them.
    let stack_start = (image.esp & !(PAGE - 1)) - EXTRA_STACK_VM_PAGES * PAGE;
    for va in (stack_start..STACK_TOP).step_by(PAGE_SIZE) {
        process.map_filled(va, true, image.esp, &image.bytes)?;
    }
    process.stack_start = stack_start;
    process.start_brk = plan.brk;
    process.brk = plan.brk;
    Ok(Loaded { process, eip: plan.entry, esp: image.esp })
}

/// Each `PT_LOAD` segment's pages: its file bytes, zero beyond them (.bss),
/// mapped writable only if the segment is.
fn load_segments(process: &mut Process, plan: &ElfPlan, file: &[u8]) -> Result<(), ExecError> {
    for seg in &plan.segments {
        // parse checked that [offset, offset + filesz) is in the file.
        let bytes = &file[seg.offset as usize..(seg.offset + seg.filesz) as usize];
        let writable = seg.flags.contains(binfmt_elf::SegFlags::W);
        for va in (seg.page_start()..seg.page_end()).step_by(PAGE_SIZE) {
            process.map_filled(va, writable, seg.vaddr, bytes)?;
        }
    }
    Ok(())
}

/// `AT_RANDOM`'s 16 bytes. There is no entropy pool yet: the time stamp
/// counter, stirred (glibc seeds its stack guard from them; a predictable
/// value weakens that, it does not break the program).
fn at_random() -> [u8; 16] {
    let mut x = rdtsc() | 1;
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(8) {
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        chunk.copy_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out
}

/// The new thread: adopt the address space, file the process under this
/// thread's pid, and go to ring 3.
fn user_thread(arg: usize) {
    // SAFETY: `exec` leaked this Box for this thread alone (kthread_run
    // succeeded, so exec did not take it back).
    let start = unsafe { alloc::boxed::Box::from_raw(arg as *mut Start) };
    let Start { process, eip, esp } = *start;
    sched::use_mm(process.mm.clone());
    put(&PROCESSES, sched::current_pid(), process);
    sched::fpu_begin();
    // SAFETY: everything this frame owned has moved on (to the process
    // table and the task), and kthread_start below it holds only the entry
    // and its argument: nothing on this stack is reachable from elsewhere.
    unsafe { crate::arch::x86::kernel::start_thread(eip, esp) }
}

/// End the calling process with `status` (Linux's `do_exit` for a
/// process): its frames are freed, its status is filed for
/// `wait_exit_status`, and the thread exits, dropping the last reference
/// to the mm (page tables and directory).
pub fn exit_process(status: i32) -> ! {
    let pid = sched::current_pid();
    drop(take(&PROCESSES, pid));
    put(&EXITED, pid, status);
    sched::do_exit()
}

/// Wait for process `pid` to end and return its exit status (`None` if
/// it ended without one). Frees what the thread left.
pub fn wait_exit_status(pid: u32) -> Option<i32> {
    kthread::kthread_wait(pid);
    take(&EXITED, pid)
}
