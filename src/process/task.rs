//! The process table (Linux's pid hash of kernel/pid.c, and the parts of
//! `task_struct` and `signal_struct` a process has beyond its thread):
//! who its parent is, its address space, its exit status while it is a
//! zombie, its resource limits.
//!
//! Each process runs on a kernel thread of its own (its kernel stack and
//! scheduler entry, `kernel::sched`), and has that thread's pid. A
//! `Process` lives in `PROCS` from `spawn` until its parent collects its
//! exit status (`exit::do_wait`), or until it exits if nobody will (an
//! orphan: Linux's init reaps those; here they go at once).
//!
//! Locks: `PROCS` is a sleeping lock (the table grows under it, and spawn
//! makes the thread under it, so no one sees a pid before its entry);
//! `Process::inner` a spin lock for the few words that change, never held
//! across anything that sleeps. Order: `PROCS`, then an mm's `mmap`, then
//! `inner`.

use super::procfs::MmCounters;
use crate::arch::x86::cpu::FxState;
use crate::arch::x86::kernel::traps::TrapFrame;
use crate::arch::x86::tls::GDT_ENTRY_TLS_ENTRIES;
use crate::kernel::mutex::Mutex;
use crate::kernel::sched;
use crate::kernel::sync::SpinLock;
use crate::kernel::wait::WaitQueue;
use crate::layout::PAGE_SIZE;
use crate::mm::kmem_alloc::{KmemCacheAlloc, NamedCache};
use crate::mm::mm_types::MmRef;
use crate::mm::mmap::VmFlags;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicI16, AtomicU32, AtomicU64, Ordering};

use super::kthread::{self, KthreadError};
use super::rlimit::RlimitTable;

/// The pid orphans are given to (Linux's init, which reaps them).
pub const INIT_PID: u32 = 1;

/// What changes in a process after it is made.
pub struct ProcInner {
    /// Its address space; `None` once it has exited (a zombie has none).
    pub mm: Option<MmRef>,
    /// The wait status (Linux's encoding) once it has exited.
    pub exit_status: Option<u32>,
    /// A stop not yet reported to `wait4(WUNTRACED)`: the stop signal.
    pub stop_report: Option<u32>,
    /// A continue not yet reported to `wait4(WCONTINUED)`.
    pub cont_report: bool,
    /// An interrupted `nanosleep`, for `restart_syscall` (Linux's
    /// `restart_block.nanosleep`).
    pub restart: Option<RestartBlock>,
    /// `CLONE_CHILD_CLEARTID`'s address: zeroed at exit.
    pub clear_child_tid: u32,
    /// Nobody will wait for it (an orphan): it goes at exit.
    pub reap_on_exit: bool,
    pub rlim: RlimitTable,
    /// `mm->start_code` .. `end_code`, `start_data` .. `end_data` (for
    /// `/proc/PID/status`).
    pub code: (u32, u32),
    pub data: (u32, u32),
    /// Its open `/proc` files, fds 3 and up (`procfs_fd`); 0, 1 and 2 are
    /// the console.
    pub files: super::procfs_fd::FdTable,
}

/// How to go on with a sleep a signal interrupted: its deadline on the
/// monotonic clock (ns), where the time left is written, and in which
/// layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartBlock {
    pub deadline: u64,
    pub rem: usize,
    pub is64: bool,
    pub abs: bool,
}

pub struct Process {
    pid: AtomicU32,
    ppid: AtomicU32,
    /// The program's name (Linux's `comm`, 15 bytes at most).
    comm: String,
    pub inner: SpinLock<ProcInner>,
    /// Set once `spawn` has filed it: its thread may go to ring 3.
    registered: AtomicBool,
    /// `/proc/PID/oom_score_adj` (Linux keeps it in `signal_struct`):
    /// -1000..=1000, inherited by fork.
    oom_score_adj: AtomicI16,
    /// Killed by the OOM killer and not yet gone (Linux's
    /// `tsk_is_oom_victim`): the killer waits for it rather than kill
    /// another.
    oom_victim: AtomicBool,
}

/// The `oom_score_adj` the next process started by kernel thread `.0` (the
/// shell) gets: `choom -n ADJ -- PROG` sets it around its `run`, as Linux's
/// choom sets its own value before it execs the program.
static KTHREAD_CHILD_ADJ: SpinLock<Option<(u32, i16)>> = SpinLock::new(None);

/// Set (or with `None` clear) the `oom_score_adj` the calling kernel
/// thread's next child process starts with.
pub fn set_child_oom_score_adj(adj: Option<i16>) {
    *KTHREAD_CHILD_ADJ.lock() = adj.map(|a| (sched::current_pid(), a));
}

impl Process {
    /// A new process, child of `ppid`: a process's child (fork) inherits
    /// its `oom_score_adj`, a kernel thread's child the one set with
    /// [`set_child_oom_score_adj`], or 0. May sleep (reads the table).
    pub fn new(comm: &str, ppid: u32, mm: MmRef, rlim: RlimitTable) -> Process {
        let comm: String = comm.chars().take(15).collect();
        let adj = match find(ppid) {
            Some(parent) => parent.oom_score_adj(),
            None => match *KTHREAD_CHILD_ADJ.lock() {
                Some((pid, adj)) if pid == ppid => adj,
                _ => 0,
            },
        };
        Process {
            pid: AtomicU32::new(0),
            ppid: AtomicU32::new(ppid),
            comm,
            inner: SpinLock::new(ProcInner {
                mm: Some(mm),
                exit_status: None,
                stop_report: None,
                cont_report: false,
                restart: None,
                clear_child_tid: 0,
                reap_on_exit: false,
                rlim,
                code: (0, 0),
                data: (0, 0),
                files: super::procfs_fd::FdTable::new(),
            }),
            registered: AtomicBool::new(false),
            oom_score_adj: AtomicI16::new(adj),
            oom_victim: AtomicBool::new(false),
        }
    }

    pub fn oom_score_adj(&self) -> i16 {
        self.oom_score_adj.load(Ordering::Relaxed)
    }

    /// Set `oom_score_adj`; the caller has checked the range
    /// (`OOM_SCORE_ADJ_MIN..=OOM_SCORE_ADJ_MAX`). Returns the old value.
    pub fn set_oom_score_adj(&self, adj: i16) -> i16 {
        debug_assert!((crate::mm::oom_kill::OOM_SCORE_ADJ_MIN..=crate::mm::oom_kill::OOM_SCORE_ADJ_MAX).contains(&adj));
        self.oom_score_adj.swap(adj, Ordering::Relaxed)
    }

    pub fn is_oom_victim(&self) -> bool {
        self.oom_victim.load(Ordering::Relaxed)
    }

    /// Mark it killed by the OOM killer (Linux's `mark_oom_victim`).
    pub fn mark_oom_victim(&self) {
        self.oom_victim.store(true, Ordering::Relaxed);
    }

    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::Relaxed)
    }

    pub fn ppid(&self) -> u32 {
        self.ppid.load(Ordering::Relaxed)
    }

    pub fn comm(&self) -> &str {
        &self.comm
    }

    /// Its address space, if it has not exited.
    pub fn mm(&self) -> Option<MmRef> {
        self.inner.lock().mm.clone()
    }

    /// Give it a new parent (its own exited); init's children are reaped
    /// by the kernel when they exit.
    pub fn reparent(&self, ppid: u32) {
        self.ppid.store(ppid, Ordering::Relaxed);
        if ppid == INIT_PID {
            self.inner.lock().reap_on_exit = true;
        }
    }

    pub fn is_zombie(&self) -> bool {
        self.inner.lock().exit_status.is_some()
    }
}

impl Process {
    /// Its address space's counts for `/proc/PID/status` and `ps`
    /// (`None` for a zombie, whose mm is gone). Takes the mm's `mmap`
    /// lock (may sleep).
    pub fn mm_counters(&self) -> Option<MmCounters> {
        let (mm, code) = {
            let inner = self.inner.lock();
            (inner.mm.clone(), inner.code)
        };
        let mm = mm?;
        let ctx = mm.mmap.lock();
        let v = &ctx.vmas;
        let rss = mm.rss.load(Ordering::Relaxed) as u64;
        Some(MmCounters {
            total_vm: v.total_vm() as u64,
            hiwater_vm: ctx.hiwater_vm as u64,
            locked_vm: v.locked_vm() as u64,
            hiwater_rss: mm.hiwater_rss.load(Ordering::Relaxed) as u64,
            anon_rss: rss,
            file_rss: 0,
            shmem_rss: 0,
            // Linux's data_vm: private writable areas that are not stack.
            data_vm: v
                .iter()
                .filter(|a| a.flags & (VmFlags::WRITE | VmFlags::SHARED | VmFlags::GROWSDOWN) == VmFlags::WRITE)
                .map(|a| a.pages())
                .sum::<usize>() as u64,
            stack_vm: v.stack_vm() as u64,
            exec_vm: v.exec_vm() as u64,
            start_code: code.0,
            end_code: code.1,
            pgtables_bytes: (mm.nr_ptes() * PAGE_SIZE) as u64,
            swap_ents: mm.swapents.load(Ordering::Relaxed) as u64,
        })
    }

    /// Its state letter for `ps` and `/proc/PID/status`: the thread's, or
    /// `Z` for a zombie.
    pub fn state(&self) -> char {
        if self.is_zombie() {
            'Z'
        } else {
            sched::task_state_letter(self.pid()).unwrap_or('X')
        }
    }
}

/// Processes live in the `task_struct` cache (Linux keeps its task
/// structures there; here the thread's scheduler entry is apart, in the
/// run queue's table, and this is the rest of the process).
static TASK_STRUCT_CACHE: NamedCache = NamedCache::new("task_struct");

/// A reference to a process (an `Arc` in its cache).
pub type ProcRef = Arc<Process, KmemCacheAlloc>;

/// Every process, in pid order.
pub(super) static PROCS: Mutex<Vec<ProcRef>> = Mutex::new(Vec::new());
/// Bumped and woken when a child exits, stops or continues (Linux's
/// `wait_chldexit` queue): `wait4` sleeps here.
pub(super) static CHILD_WQ: WaitQueue = WaitQueue::new();
pub(super) static CHILD_EVENTS: AtomicU64 = AtomicU64::new(0);
/// New threads wait here until their process is filed.
static START_WQ: WaitQueue = WaitQueue::new();

/// Tell waiting parents that a child changed state.
pub(super) fn child_event() {
    CHILD_EVENTS.fetch_add(1, Ordering::Relaxed);
    CHILD_WQ.wake_up_all();
}

/// The process with pid `pid`, live or zombie.
pub fn find(pid: u32) -> Option<ProcRef> {
    PROCS.lock().iter().find(|p| p.pid() == pid).cloned()
}

/// The calling thread's process (`None` for a kernel thread).
pub fn current() -> Option<ProcRef> {
    find(sched::current_pid())
}

/// Every process now (for `ps` and tests), in pid order.
pub fn all() -> Vec<ProcRef> {
    PROCS.lock().clone()
}

/// Processes in the table, zombies included (for leak checks).
pub fn nr_processes() -> usize {
    PROCS.lock().len()
}

/// How a new process's thread enters ring 3: the registers it starts
/// with, its FPU state and TLS descriptors (a fork's are its parent's).
pub struct UserStart {
    pub frame: TrapFrame,
    pub fpu: Option<Box<FxState>>,
    pub tls: [u64; GDT_ENTRY_TLS_ENTRIES],
    /// `CLONE_CHILD_SETTID`: where the child writes its pid first.
    pub set_child_tid: u32,
}

struct Start {
    process: ProcRef,
    user: UserStart,
}

/// File `process` in the table under the pid of a new thread that will
/// run it from `user`; returns the pid. May sleep. On an error nothing is
/// left (the process, and its mm if no one else holds it, are dropped).
pub fn spawn(process: Process, user: UserStart) -> Result<u32, KthreadError> {
    let process = Arc::try_new_in(process, KmemCacheAlloc(&TASK_STRUCT_CACHE)).map_err(|_| KthreadError::NoMemory)?;
    let mut table = PROCS.lock();
    // Room first: once the thread exists, filing it must not fail.
    table.try_reserve(1).map_err(|_| KthreadError::NoMemory)?;
    let start = Box::new(Start { process: process.clone(), user });
    let raw = Box::into_raw(start);
    let pid = match kthread::kthread_run(process.comm(), user_thread, raw as usize) {
        Ok(pid) => pid,
        Err(e) => {
            // SAFETY: no thread was made, so `raw` is still ours alone.
            drop(unsafe { Box::from_raw(raw) });
            return Err(e);
        }
    };
    process.pid.store(pid, Ordering::Relaxed);
    let at = table.partition_point(|p| p.pid() < pid);
    table.insert(at, process.clone());
    drop(table);
    process.registered.store(true, Ordering::Release);
    START_WQ.wake_up_all();
    Ok(pid)
}

/// A process's thread: wait to be filed, adopt the address space, FPU
/// and TLS state, and enter ring 3.
fn user_thread(arg: usize) {
    // Moved out inside the block, so the Box itself is freed there: this
    // function never returns, and a Box moved out of is freed only at the
    // end of its scope.
    let Start { process, user } = {
        // SAFETY: `spawn` leaked this Box for this thread alone
        // (kthread_run succeeded, so spawn did not take it back).
        let start = unsafe { Box::from_raw(arg as *mut Start) };
        *start
    };
    START_WQ.wait_event(|| process.registered.load(Ordering::Acquire));
    let Some(mm) = process.mm() else { return };
    crate::mm::mm_types::use_mm(&mm);
    // Ours goes now: this function never returns, so nothing on its frame
    // is dropped later (the thread holds its own reference).
    drop(mm);
    match user.fpu {
        Some(fpu) => sched::fpu_adopt(fpu),
        None => sched::fpu_begin(),
    }
    for (i, &d) in user.tls.iter().enumerate() {
        if d != 0 {
            sched::set_tls(i, d);
        }
    }
    if user.set_child_tid != 0 {
        // Linux's schedule_tail: a bad address is ignored.
        let _ = crate::arch::x86::lib::uaccess::put_user(process.pid(), user.set_child_tid as usize);
    }
    let frame = user.frame;
    drop(process);
    // SAFETY: everything this frame owned has moved on or been dropped,
    // and kthread_start below it holds only the entry and its argument.
    unsafe { crate::arch::x86::kernel::resume_user(&frame) }
}
