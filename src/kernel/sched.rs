//! The scheduler core (Linux's kernel/sched.c, reduced to one CPU and
//! round robin): the task table, `schedule()` and the context switch, the
//! timer tick, sleeping and waking, and exit.
//!
//! Thread 0 is the boot thread, which becomes the idle loop. The timer gives
//! each thread `TIMESLICE` ticks; when it runs out, or a sleeper wakes while
//! idle runs, the thread is preempted on the way out of the interrupt,
//! unless it has disabled preemption.
//!
//! Who does what for a kernel thread: `process::kthread::kthread_run`
//! vmallocs its stack and calls [`wake_up_new_task`], which builds the
//! first switch frame on it (Linux's `copy_thread`), gives it a slot and
//! makes it runnable; `switch_to` (entry.S) first returns into
//! `kthread_trampoline`, which calls [`kthread_start`] and then the entry
//! function; when that returns, [`do_exit`] marks the thread dead, and
//! `kthread::reap_dead` frees the stack once [`take_dead`] hands it back.
//!
//! The scheduler allocates nothing but its task table (a `Vec`, through
//! Rust's global allocator, which is kmalloc: a dependency on mm the import
//! check cannot see, kept to growing the table, outside the lock). Stacks
//! come ready-made, and an address space reaches it as an [`AddressSpace`]:
//! all a context switch needs of Linux's `mm_struct` is the directory to
//! load and a way to make the kernel stacks present in it. So this layer
//! sits below memory management, and mm may sleep on its wait queues.
//!
//! Stacks are vmalloc'd: a stack is reached through a vmalloc PDE, which a
//! process directory may not have yet (vmalloc PDEs reach other directories
//! lazily, through a fault, and a fault on the stack itself cannot be
//! taken). So before CR3 changes, the PDEs of the stacks in use are copied
//! into the new directory (as Linux's x86-64 `switch_mm` does for its
//! vmalloc'd stacks).
//!
//! A kernel thread without an address space runs on `swapper_pg_dir` (Linux
//! would lend it the previous thread's `active_mm` to save a TLB flush; a
//! CR3 load is the simple, always-correct choice and costs nothing between
//! two kernel threads: CR3 is written only when it changes). `TSS.esp0`
//! follows the running thread's stack top, for the day a thread returns to
//! ring 3.
//!
//! The task table is a vector of slots (reused after exit), grown outside
//! the run-queue lock: the lock masks interrupts, and allocating may sleep.
//!
//! Why this file is past 600 lines: the run queue, the switch and the ways
//! in and out of it (sleep, wake, exit, the tick) are read together; split,
//! a student would follow one context switch across files.

use super::preempt::{self, might_sleep};
use super::sync::IrqLock;
use crate::arch::x86::cpu::FxState;
use crate::arch::x86::cpu::{local_irq_enable, local_irq_restore, local_irq_save};
use crate::arch::x86::tls::GDT_ENTRY_TLS_ENTRIES as TLS_ENTRIES;
use crate::arch::x86::{self, gdt, pit};
use crate::layout::PAGE_SIZE;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::ptr::{addr_of, NonNull};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// 16 KB, twice Linux 2.6.24 i386's 8 KB (x86-64 Linux has used 16 KB
/// since 3.15): Rust keeps report buffers and test arrays on the stack, and
/// the shell runs the in-kernel tests on its own stack; measured, the
/// shell's `ktest mm::page_alloc` overflowed 8 KB (in `pagetypeinfo`).
pub const THREAD_SIZE: usize = 4 * PAGE_SIZE;
/// Ticks a thread runs before the next runnable one gets the CPU.
pub const TIMESLICE: u32 = 5;
const IDLE: usize = 0;

/// What a context switch needs of an address space (Linux's `mm_struct` as
/// `switch_mm` sees it); `mm::mm_types::MmStruct` is the one there is.
///
/// # Safety
/// `pgd_phys` names a page directory in lowmem that carries the kernel half
/// (PDEs 768-1023 as `swapper_pg_dir` has them) and stays allocated as long
/// as the value lives: the scheduler loads it into CR3. `sync_kernel_range`
/// never sleeps (it runs with interrupts off).
pub unsafe trait AddressSpace: core::any::Any + Send + Sync {
    /// Physical address of its page directory: what CR3 holds while it runs.
    fn pgd_phys(&self) -> usize;
    /// Make the kernel mappings of `[lo, hi)` present in its directory (a
    /// kernel stack made after the directory was). Runs with interrupts off.
    fn sync_kernel_range(&self, lo: usize, hi: usize);
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TaskState {
    Unused,
    Running,
    Runnable,
    /// Waiting for a wake-up, or for `wake_at` jiffies.
    Sleeping,
    /// Stopped by a signal (Linux's `TASK_STOPPED`): runs again only when
    /// SIGCONT or SIGKILL comes.
    Stopped,
    /// Exited (Linux's `EXIT_DEAD`): no longer scheduled (its mm already
    /// dropped by `do_exit`), its stack not yet freed. It stood on that
    /// stack until it switched away, so someone else frees it (`take_dead`).
    Dead,
}

impl TaskState {
    fn letter(self) -> char {
        match self {
            TaskState::Running | TaskState::Runnable => 'R',
            TaskState::Sleeping => 'S',
            TaskState::Stopped => 'T',
            TaskState::Dead => 'X',
            TaskState::Unused => '-',
        }
    }

    fn alive(self) -> bool {
        !matches!(self, TaskState::Unused | TaskState::Dead)
    }
}

#[derive(Clone, Copy)]
pub struct TaskName([u8; 16], usize);

impl TaskName {
    const fn from(s: &str) -> TaskName {
        let mut buf = [0u8; 16];
        let b = s.as_bytes();
        let n = if b.len() < 16 { b.len() } else { 16 };
        let mut i = 0;
        while i < n {
            buf[i] = b[i];
            i += 1;
        }
        TaskName(buf, n)
    }
}

impl fmt::Display for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(core::str::from_utf8(&self.0[..self.1]).unwrap_or("?"))
    }
}

struct Task {
    state: TaskState,
    pid: u32,
    name: TaskName,
    /// Saved stack pointer while switched out.
    esp: usize,
    /// Jiffies at which a timed sleep ends (0: no timeout).
    wake_at: u64,
    entry: fn(usize),
    arg: usize,
    /// Ticks spent running.
    runtime: u64,
    /// The thread's preemption count while it is switched out: the count
    /// belongs to a thread, not to the CPU (a thread that sleeps with
    /// preemption off must not turn preemption off for everyone).
    preempt_count: u32,
    /// Lowest address of its vmalloc'd kernel stack (0: the boot stack).
    stack: usize,
    /// Its address space, if it has one (Linux's `task->mm`).
    mm: Option<Arc<dyn AddressSpace>>,
    /// Its TLS descriptors (`set_thread_area`; Linux's `thread.tls_array`),
    /// loaded into the GDT when it runs.
    tls: [u64; TLS_ENTRIES],
    /// Signals sent and not yet taken, bit `n` for signal `n` (Linux's
    /// `task->pending`; no handlers here, so no masks, and each signal
    /// at most once, as Linux's non-realtime signals).
    pending: u32,
    /// Its sleep may be ended by a signal (Linux's `TASK_INTERRUPTIBLE`):
    /// waits a process makes for itself (`wait4`, `nanosleep`, `pause`),
    /// never the kernel's own (a lock, memory).
    interruptible: bool,
    /// Its x87/SSE registers while switched out, for a thread that runs
    /// user code (`fpu_begin`); kernel code, soft-float, has none.
    fpu: Option<alloc::boxed::Box<FxState>>,
}

fn no_entry(_: usize) {}

impl Task {
    const EMPTY: Task = Task {
        state: TaskState::Unused,
        pid: 0,
        name: TaskName::from(""),
        esp: 0,
        wake_at: 0,
        entry: no_entry,
        arg: 0,
        runtime: 0,
        preempt_count: 0,
        stack: 0,
        mm: None,
        tls: [0; TLS_ENTRIES],
        pending: 0,
        interruptible: false,
        fpu: None,
    };

    /// Change `pending`, keeping `TASKS_WITH_SIGNALS` (the caller holds
    /// `RQ`, so interrupts are off: plain loads and stores). Linux's
    /// `recalc_sigpending`, which sets or clears `TIF_SIGPENDING`.
    fn set_pending(&mut self, p: u32) {
        let n = TASKS_WITH_SIGNALS.load(Ordering::Relaxed);
        match (self.pending != 0, p != 0) {
            (false, true) => TASKS_WITH_SIGNALS.store(n + 1, Ordering::Relaxed),
            (true, false) => {
                debug_assert!(n > 0, "TASKS_WITH_SIGNALS counts this task");
                TASKS_WITH_SIGNALS.store(n - 1, Ordering::Relaxed)
            }
            _ => {}
        }
        self.pending = p;
    }

    /// `[lo, hi)` of its kernel stack.
    fn stack_range(&self) -> (usize, usize) {
        if self.stack == 0 {
            (addr_of!(x86::boot_stack) as usize, addr_of!(x86::boot_stack_top) as usize)
        } else {
            (self.stack, self.stack + THREAD_SIZE)
        }
    }
}

/// The task table: slot `IDLE` is the boot thread, held inline (the table
/// exists before anything may allocate: boot runs with interrupts off);
/// slots 1.. are `tasks[slot - 1]`, reused after exit. Index it as `rq[slot]`.
struct RunQueue {
    idle: Task,
    tasks: Vec<Task>,
    current: usize,
    next_pid: u32,
    slice: u32,
}

impl RunQueue {
    fn len(&self) -> usize {
        1 + self.tasks.len()
    }

    fn get(&self, slot: usize) -> Option<&Task> {
        if slot == IDLE {
            Some(&self.idle)
        } else {
            self.tasks.get(slot - 1)
        }
    }

    fn get_mut(&mut self, slot: usize) -> Option<&mut Task> {
        if slot == IDLE {
            Some(&mut self.idle)
        } else {
            self.tasks.get_mut(slot - 1)
        }
    }

    fn iter(&self) -> core::iter::Chain<core::iter::Once<&Task>, core::slice::Iter<'_, Task>> {
        core::iter::once(&self.idle).chain(self.tasks.iter())
    }

    fn iter_mut(&mut self) -> core::iter::Chain<core::iter::Once<&mut Task>, core::slice::IterMut<'_, Task>> {
        core::iter::once(&mut self.idle).chain(self.tasks.iter_mut())
    }
}

impl core::ops::Index<usize> for RunQueue {
    type Output = Task;
    fn index(&self, slot: usize) -> &Task {
        self.get(slot).expect("no such task slot")
    }
}

impl core::ops::IndexMut<usize> for RunQueue {
    fn index_mut(&mut self, slot: usize) -> &mut Task {
        self.get_mut(slot).expect("no such task slot")
    }
}

static RQ: IrqLock<RunQueue> = IrqLock::new(RunQueue {
    idle: Task { state: TaskState::Running, name: TaskName::from("swapper"), ..Task::EMPTY },
    tasks: Vec::new(),
    current: IDLE,
    next_pid: 1,
    slice: TIMESLICE,
});

/// Mirrors of RQ state that crash reports read without taking the lock.
static CURRENT: AtomicUsize = AtomicUsize::new(IDLE);
/// `[lo, hi)` of the running thread's stack (0, 0: the boot stack).
static CURRENT_STACK: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
static NEED_RESCHED: AtomicBool = AtomicBool::new(false);
/// `swapper_pg_dir`: the directory the boot thread runs on, and every
/// thread without an address space.
static KERNEL_PGD: AtomicUsize = AtomicUsize::new(0);
/// Exited threads whose stacks are not freed yet.
static NR_DEAD: AtomicUsize = AtomicUsize::new(0);
/// Tasks whose `pending` is not 0, kept under `RQ` by `Task::set_pending`
/// (a task that exits has its signals flushed there by `do_exit`, so a
/// `Dead` or `Unused` slot never counts). Linux tests `TIF_SIGPENDING` of
/// current on every return to user space; here this one count answers
/// that test without the run-queue lock in the usual case, when no task
/// at all has a signal pending.
static TASKS_WITH_SIGNALS: AtomicUsize = AtomicUsize::new(0);
/// Ticks that found the idle thread running (for `uptime`'s idle figure).
pub static IDLE_TICKS: AtomicUsize = AtomicUsize::new(0);
/// Context switches since boot.
pub static NR_SWITCHES: AtomicUsize = AtomicUsize::new(0);
/// CR3 loads done by context switches (not counting switches that kept it).
pub static NR_MM_SWITCHES: AtomicUsize = AtomicUsize::new(0);

fn boot_stack_range() -> (usize, usize) {
    (addr_of!(x86::boot_stack) as usize, addr_of!(x86::boot_stack_top) as usize)
}

/// The running thread's stack, read without the lock.
fn current_stack_range() -> (usize, usize) {
    let lo = CURRENT_STACK[0].load(Ordering::Relaxed);
    if lo == 0 {
        boot_stack_range()
    } else {
        (lo, CURRENT_STACK[1].load(Ordering::Relaxed))
    }
}

/// Whether `[addr, addr + len)` lies on the running thread's stack (for
/// backtraces, which walk only that one). Takes no lock: the oops path calls
/// it from anywhere.
pub fn on_kernel_stack(addr: usize, len: usize) -> bool {
    let (lo, hi) = current_stack_range();
    addr >= lo && addr.saturating_add(len) <= hi
}

/// If `esp` is in (or just under) the unmapped page below a thread's stack,
/// that stack's range. The running thread first (no lock: the double-fault
/// handler asks), then every thread if the table is free.
pub fn stack_guard_hit(esp: usize) -> Option<(usize, usize)> {
    let hit = |(lo, hi): (usize, usize)| {
        let glo = if lo == boot_stack_range().0 { addr_of!(x86::boot_stack_guard) as usize } else { lo - PAGE_SIZE };
        (esp >= glo.saturating_sub(64) && esp < lo).then_some((lo, hi))
    };
    if let Some(r) = hit(current_stack_range()) {
        return Some(r);
    }
    let rq = RQ.try_lock()?;
    rq.iter().filter(|t| t.state.alive()).find_map(|t| hit(t.stack_range()))
}

/// `[lo, hi)` of every live thread's kernel stack (for checks of their guard pages).
#[cfg(feature = "ktest")]
pub fn task_stacks() -> Vec<(usize, usize)> {
    // Sized first, filled under the lock: allocating under it could sleep.
    let n = RQ.lock().len();
    let mut stacks: Vec<(usize, usize)> = Vec::with_capacity(n);
    let rq = RQ.lock();
    stacks.extend(rq.iter().filter(|t| t.state.alive()).map(|t| t.stack_range()).take(n));
    stacks
}

/// The running thread's stack `[lo, hi)` (for tests).
#[cfg(feature = "ktest")]
pub fn current_stack() -> (usize, usize) {
    current_stack_range()
}

/// The boot thread is pid 0 (its slot is static); the CPU's ring-0 stack
/// is its stack until the first switch.
pub fn init() {
    KERNEL_PGD.store(crate::arch::x86::cpu::read_cr3() as usize & !0xfff, Ordering::Relaxed);
    gdt::set_kernel_stack(boot_stack_range().1 as u32);
}

/// Lock the run queue with room for one more slot: the vector grows with
/// the lock dropped (allocation may sleep; the lock masks interrupts), and
/// is swapped in under it.
fn lock_with_room() -> crate::kernel::sync::IrqLockGuard<'static, RunQueue> {
    loop {
        let want = {
            let rq = RQ.lock();
            if rq.tasks.len() < rq.tasks.capacity() || rq.iter().any(|t| t.state == TaskState::Unused) {
                return rq;
            }
            (2 * rq.tasks.capacity()).max(16)
        };
        let mut bigger: Vec<Task> = Vec::with_capacity(want);
        let mut rq = RQ.lock();
        // Someone else may have grown it meanwhile: then drop ours and look again.
        if bigger.capacity() > rq.tasks.len() {
            // Moving the tasks is safe: nothing points into the vector
            // outside the lock (schedule's pointer to a saved esp lives only
            // with interrupts off, until switch_to has stored through it).
            bigger.append(&mut rq.tasks);
            let old = core::mem::replace(&mut rq.tasks, bigger);
            drop(rq);
            drop(old);
        }
    }
}

/// Make a new thread runnable: it will run `entry(arg)` on the kernel stack
/// at `[stack, stack + THREAD_SIZE)`; returns its pid. May sleep (the task
/// table may grow). Linux's `wake_up_new_task`, with the stack made by the
/// caller (`process::kthread::kthread_run`).
///
/// # Safety
/// `[stack, stack + THREAD_SIZE)` is mapped, writable kernel memory that
/// nothing else uses, and stays so until the thread has exited and
/// [`take_dead`] has handed it back.
pub unsafe fn wake_up_new_task(name: &str, entry: fn(usize), arg: usize, stack: usize) -> u32 {
    might_sleep("wake_up_new_task");
    // The new stack looks as if switch_to had saved it: edi, esi, ebx, ebp,
    // then the return address, which "returns" into kthread_trampoline.
    let top = stack + THREAD_SIZE;
    let esp = top - 5 * 4;
    let frame = [0usize, 0, 0, 0, x86::kernel::kthread_trampoline as *const () as usize];
    // SAFETY: the caller gives us the stack, unused; the five words lie inside it.
    unsafe { core::ptr::copy_nonoverlapping(frame.as_ptr(), esp as *mut usize, 5) };
    let mut rq = lock_with_room();
    let pid = rq.next_pid;
    rq.next_pid += 1;
    let task =
        Task { state: TaskState::Runnable, pid, name: TaskName::from(name), esp, entry, arg, stack, ..Task::EMPTY };
    match rq.iter().position(|t| t.state == TaskState::Unused) {
        Some(slot) => rq[slot] = task,
        None => rq.tasks.push(task), // within capacity: lock_with_room made room
    }
    pid
}

/// First Rust code of a new thread (called by entry.S's kthread_trampoline).
#[no_mangle]
extern "C" fn kthread_start() -> ! {
    let (entry, arg) = {
        let rq = RQ.lock();
        let t = &rq[rq.current];
        (t.entry, t.arg)
    };
    local_irq_enable();
    entry(arg);
    do_exit()
}

/// Wakes whoever waits for a thread to end (`wait_for_exit`).
static EXIT_WQ: super::wait::WaitQueue = super::wait::WaitQueue::new();

/// End the calling thread (Linux's `do_exit`). It leaves its address space
/// first (CR3 back on `swapper_pg_dir`, its reference dropped: maybe the
/// last one). It becomes `Dead` and switches away with interrupts off; its
/// stack is freed later by whoever calls [`take_dead`], since it is
/// standing on it.
pub fn do_exit() -> ! {
    unuse_mm();
    let fpu = {
        let mut rq = RQ.lock();
        let cur = rq.current;
        rq[cur].fpu.take()
    };
    drop(fpu);
    local_irq_save();
    {
        let mut rq = RQ.lock();
        let cur = rq.current;
        rq[cur].state = TaskState::Dead;
        // Signals sent after its last return to user space die with it
        // (Linux's `flush_sigqueue` in `__exit_signal`); no longer alive,
        // it is sent no more, and the count of tasks with signals does not
        // keep every return to user space on the slow path until the slot
        // is taken.
        rq[cur].set_pending(0);
        NR_DEAD.fetch_add(1, Ordering::Relaxed);
    }
    EXIT_WQ.wake_up_all();
    schedule();
    unreachable!("an exited thread was scheduled again");
}

/// Threads that have exited and whose stacks are not handed back yet.
pub fn nr_dead() -> usize {
    NR_DEAD.load(Ordering::Relaxed)
}

/// Take one exited thread off the table (not the running one, which may be
/// standing on its stack): its slot becomes free, and the lowest address of
/// its stack goes to the caller to free (Linux frees a dead task's stack
/// from another task's context too: `finish_task_switch` ->
/// `put_task_struct`). `None` when there is none.
pub fn take_dead() -> Option<usize> {
    if NR_DEAD.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let mut rq = RQ.lock();
    let cur = rq.current;
    let found = rq.iter().enumerate().position(|(i, t)| t.state == TaskState::Dead && i != cur)?;
    let t = &mut rq[found];
    t.state = TaskState::Unused;
    debug_assert!(t.pending == 0, "do_exit flushed its signals");
    NR_DEAD.fetch_sub(1, Ordering::Relaxed);
    debug_assert!(t.mm.is_none(), "do_exit dropped the mm");
    Some(core::mem::take(&mut t.stack))
}

/// Whether thread `pid` is still alive.
pub fn pid_alive(pid: u32) -> bool {
    let rq = RQ.lock();
    rq.iter().any(|t| t.state.alive() && t.pid == pid)
}

/// Sleep until thread `pid` has exited.
pub fn wait_for_exit(pid: u32) {
    EXIT_WQ.wait_event(|| !pid_alive(pid));
}

/// Linux's `switch_mm` for this kernel: make `next`'s directory (or
/// `swapper_pg_dir`) the running one, after copying into it the PDEs of the
/// stacks in use (`stacks`), which vmalloc may have made after the
/// directory was (see the module docs). Interrupts are off.
fn switch_mm(next: Option<&dyn AddressSpace>, stacks: &[(usize, usize)]) {
    debug_assert!(!crate::arch::x86::cpu::irqs_enabled(), "switch_mm runs with interrupts off");
    // SAFETY: interrupts are off (this function's contract), so no reader
    // (`with_current_mm`, which reads with them off) is in the middle of
    // a read; `next` is what the running thread's `Task::mm` holds from
    // here on (every caller passes it), alive while it holds it.
    unsafe { *CURRENT_MM.0.get() = next.map(NonNull::from) };
    let pgd = next.map_or_else(|| KERNEL_PGD.load(Ordering::Relaxed), |mm| mm.pgd_phys());
    let cr3 = crate::arch::x86::cpu::read_cr3() as usize & !0xfff;
    if cr3 == pgd {
        return;
    }
    if let Some(mm) = next {
        for &(lo, hi) in stacks {
            mm.sync_kernel_range(lo, hi);
        }
    }
    NR_MM_SWITCHES.fetch_add(1, Ordering::Relaxed);
    // SAFETY: `pgd` is swapper_pg_dir or the directory of an mm a task holds
    // a reference to; it carries the kernel half, and the PDEs of both
    // stacks were just made present in it.
    unsafe { crate::arch::x86::cpu::load_cr3(pgd) };
}

/// Give the CPU to the next runnable thread, if any; the caller's state
/// decides whether it runs again (Running: yes, round robin; Sleeping: only
/// once woken).
pub fn schedule() {
    let flags = local_irq_save();
    let switch = {
        let mut rq = RQ.lock();
        NEED_RESCHED.store(false, Ordering::Relaxed);
        let prev = rq.current;
        if rq[prev].state == TaskState::Running {
            rq[prev].state = TaskState::Runnable;
        }
        // Round robin from the slot after prev; idle only when nobody else can run.
        let n = rq.len();
        let next =
            (1..=n).map(|k| (prev + k) % n).find(|&i| i != IDLE && rq[i].state == TaskState::Runnable).unwrap_or(IDLE);
        rq[next].state = TaskState::Running;
        rq.slice = TIMESLICE;
        if next == prev {
            None
        } else {
            rq.current = next;
            rq[prev].preempt_count = preempt::save_count();
            preempt::restore_count(rq[next].preempt_count);
            CURRENT.store(next, Ordering::Relaxed);
            NR_SWITCHES.fetch_add(1, Ordering::Relaxed);
            let (prev_stack, next_stack) = (rq[prev].stack_range(), rq[next].stack_range());
            // prev's stack is used until switch_to leaves it, next's from then on.
            switch_mm(rq[next].mm.as_deref(), &[prev_stack, next_stack]);
            gdt::load_tls(&rq[next].tls);
            // Eager FPU switching (Linux's since 4.14), for the threads that
            // have user FPU state; the CPU's registers belong to whichever
            // such thread ran last, and kernel code never touches them.
            if let Some(f) = rq[prev].fpu.as_mut() {
                f.save();
            }
            if let Some(f) = rq[next].fpu.as_ref() {
                f.restore();
            }
            let next_stack_lo = rq[next].stack;
            CURRENT_STACK[0].store(next_stack_lo, Ordering::Relaxed);
            CURRENT_STACK[1].store(next_stack.1, Ordering::Relaxed);
            let prev_esp = &mut rq[prev].esp as *mut usize;
            Some((prev_esp, rq[next].esp, next_stack))
        }
    };
    if let Some((prev_esp, next_esp, next_stack)) = switch {
        gdt::set_kernel_stack(next_stack.1 as u32);
        // SAFETY: interrupts are off and the lock is released; `prev_esp`
        // points into the task table, which only grows under the lock with
        // a thread running (not before switch_to has stored through it);
        // `next_esp` was saved by switch_to or built by wake_up_new_task for a
        // thread that is not running.
        unsafe { x86::kernel::switch_to(prev_esp, next_esp) };
    }
    local_irq_restore(flags);
}

/// Linux's `use_mm`: the calling kernel thread adopts `mm` (its user half
/// becomes reachable at once, and after every switch back to the thread).
/// An mm it had is dropped.
pub fn use_mm(mm: Arc<dyn AddressSpace>) {
    let flags = local_irq_save();
    let old = {
        let mut rq = RQ.lock();
        let cur = rq.current;
        let t = &mut rq[cur];
        let old = t.mm.replace(mm);
        switch_mm(t.mm.as_deref(), &[t.stack_range()]);
        old
    };
    local_irq_restore(flags);
    drop(old);
}

/// What the running thread's `Task::mm` holds, kept by `switch_mm` (which
/// every change of the running thread or of its mm goes through), so that
/// `current->mm` is read without the run-queue lock: every page fault
/// asks. Linux's per-CPU `cpu_tlbstate.loaded_mm`, which its `switch_mm`
/// keeps the same way. Written and read with interrupts off only.
struct CurrentMm(core::cell::UnsafeCell<Option<NonNull<dyn AddressSpace>>>);

// SAFETY: one CPU, and every access is made with interrupts off (see
// `switch_mm` and `with_current_mm`): accesses never overlap.
unsafe impl Sync for CurrentMm {}

static CURRENT_MM: CurrentMm = CurrentMm(core::cell::UnsafeCell::new(None));

/// `f` on the calling thread's address space, without a reference taken
/// or the run-queue lock (Linux's `current->mm`, for the page fault): `f`
/// runs with interrupts off, so it should only take what it needs (a
/// reference of its own type) and return.
///
/// # Safety
///
/// `f` must not sleep, call `schedule`, or change the calling thread's mm
/// (`use_mm`, `unuse_mm`, `do_exit`): the reference it is lent is the
/// thread's `Task::mm`, not a count of its own, and any of those could
/// drop the last reference under it.
#[inline]
pub unsafe fn with_current_mm<R>(f: impl FnOnce(Option<&dyn AddressSpace>) -> R) -> R {
    let flags = local_irq_save();
    // SAFETY: read with interrupts off (see `CurrentMm`). The pointer is
    // what the running thread's `Task::mm` holds, and only that thread
    // changes its own `mm` (`use_mm`, `unuse_mm`, `do_exit`), which `f`
    // does not do (the caller's promise), nor does it switch threads: the
    // value stays alive for the borrow, which does not outlive this call.
    let r = f(unsafe { (*CURRENT_MM.0.get()).map(|p| p.as_ref()) });
    local_irq_restore(flags);
    r
}

/// Linux's `unuse_mm`: the calling thread leaves its address space and
/// runs on `swapper_pg_dir`; its reference to the mm is dropped (after CR3
/// left it: the last reference frees the directory).
pub fn unuse_mm() {
    let flags = local_irq_save();
    let old = {
        let mut rq = RQ.lock();
        let cur = rq.current;
        rq.get_mut(cur).and_then(|t| t.mm.take())
    };
    switch_mm(None, &[]);
    local_irq_restore(flags);
    drop(old);
}

/// The calling thread is about to run user code: give it FPU/SSE state,
/// fresh (Linux's `fpstate_init` at exec), loaded into the CPU now and
/// switched with it from here on; `do_exit` frees it. May sleep.
pub fn fpu_begin() {
    let fresh = alloc::boxed::Box::new(FxState::new());
    let old = {
        let mut rq = RQ.lock();
        let cur = rq.current;
        fresh.restore();
        rq[cur].fpu.replace(fresh)
    };
    drop(old);
}

/// A copy of the calling thread's FPU/SSE registers as they are now, for
/// a child (fork): `None` for a thread that has none (kernel code).
pub fn fpu_copy() -> Option<alloc::boxed::Box<FxState>> {
    let mut copy = alloc::boxed::Box::new(FxState::new());
    let has = {
        let rq = RQ.lock();
        rq[rq.current].fpu.is_some()
    };
    if !has {
        return None;
    }
    // The CPU's registers are the running thread's (eager switching).
    copy.save();
    Some(copy)
}

/// The calling thread takes `state` as its FPU/SSE registers (a forked
/// child, its parent's copy), loaded into the CPU now. May sleep (frees).
pub fn fpu_adopt(state: alloc::boxed::Box<FxState>) {
    let old = {
        let mut rq = RQ.lock();
        let cur = rq.current;
        state.restore();
        rq[cur].fpu.replace(state)
    };
    drop(old);
}

/// Sleep until jiffies `deadline` or until a signal comes (Linux's
/// `schedule_timeout_interruptible`); `true` if the deadline was reached.
pub fn sleep_until_interruptible(deadline: u64) -> bool {
    might_sleep("sleep_until_interruptible");
    loop {
        if pit::jiffies() >= deadline {
            return true;
        }
        let flags = local_irq_save();
        if !set_current_sleeping_interruptible(deadline) {
            local_irq_restore(flags);
            return false;
        }
        schedule();
        local_irq_restore(flags);
    }
}

/// The calling thread's TLS descriptors.
pub fn current_tls() -> [u64; TLS_ENTRIES] {
    let rq = RQ.lock();
    rq[rq.current].tls
}

/// Set the calling thread's TLS descriptor `i` (of `TLS_ENTRIES`), in its
/// task and in the GDT at once (Linux's `set_tls_desc` and `load_TLS`).
pub fn set_tls(i: usize, desc: u64) {
    let mut rq = RQ.lock();
    let cur = rq.current;
    rq[cur].tls[i] = desc;
    gdt::load_tls(&rq[cur].tls);
}

/// Mark the current thread asleep; it runs again after `wake_up` (or at
/// `timeout` jiffies, when non-zero). Call `schedule()` next.
pub fn set_current_sleeping(timeout: u64) {
    let mut rq = RQ.lock();
    let cur = rq.current;
    rq[cur].state = TaskState::Sleeping;
    rq[cur].wake_at = timeout;
    rq[cur].interruptible = false;
}

/// As [`set_current_sleeping`], but a signal ends the sleep too (Linux's
/// `TASK_INTERRUPTIBLE`). Returns `false`, leaving the thread running,
/// when a signal is already pending: the caller must not sleep then.
pub fn set_current_sleeping_interruptible(timeout: u64) -> bool {
    let mut rq = RQ.lock();
    let cur = rq.current;
    if rq[cur].pending != 0 {
        return false;
    }
    rq[cur].state = TaskState::Sleeping;
    rq[cur].wake_at = timeout;
    rq[cur].interruptible = true;
    true
}

/// The signals the scheduler core itself treats specially.
pub use super::signal_names::{SIGCHLD, SIGCONT, SIGKILL, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGWINCH};
/// The signals ignored by default (Linux's `sig_kernel_ignore`).
pub const IGNORED_SIGNALS: u32 = 1 << SIGCHLD | 1 << SIGCONT | 1 << SIGURG | 1 << SIGWINCH;
/// The stop signals (their default action stops the process).
pub const STOP_SIGNALS: u32 = 1 << SIGSTOP | 1 << SIGTSTP | 1 << SIGTTIN | 1 << SIGTTOU;

/// Why a signal was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalError {
    /// Not a signal number (1..=31).
    BadSignal,
    /// No live thread has that pid.
    NoSuchTask,
}

/// Send signal `sig` (1..=31) to thread `pid` (Linux's `send_signal` with
/// `prepare_signal`'s stop/continue rules): it is marked pending, and the
/// thread is woken from an interruptible sleep to take it. SIGCONT and
/// SIGKILL also resume a stopped thread; SIGCONT drops pending stop
/// signals, a stop signal drops a pending SIGCONT. The signal is acted on
/// when the thread next returns to user mode.
pub fn send_signal(pid: u32, sig: u32) -> Result<(), SignalError> {
    if !(1..=31).contains(&sig) {
        return Err(SignalError::BadSignal);
    }
    let mut rq = RQ.lock();
    let cur = rq.current;
    let slot = rq.iter().position(|t| t.state.alive() && t.pid == pid).ok_or(SignalError::NoSuchTask)?;
    let t = &mut rq[slot];
    if sig == SIGCONT {
        t.set_pending(t.pending & !STOP_SIGNALS);
    } else if STOP_SIGNALS & (1 << sig) != 0 {
        t.set_pending(t.pending & !(1 << SIGCONT));
    }
    if IGNORED_SIGNALS & (1 << sig) != 0 {
        // Ignored by default, and nothing handles signals: Linux drops such
        // a signal when it is sent (`sig_ignored`), so it wakes no sleep.
        // SIGCONT still resumes a stopped thread.
        if sig == SIGCONT && t.state == TaskState::Stopped {
            t.state = TaskState::Runnable;
            if cur == IDLE {
                NEED_RESCHED.store(true, Ordering::Relaxed);
            }
        }
        return Ok(());
    }
    t.set_pending(t.pending | 1 << sig);
    let wake = match t.state {
        TaskState::Stopped => sig == SIGCONT || sig == SIGKILL,
        TaskState::Sleeping => t.interruptible,
        _ => false,
    };
    if wake {
        t.state = TaskState::Runnable;
        t.wake_at = 0;
        if cur == IDLE {
            NEED_RESCHED.store(true, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Whether the calling thread has a signal to take (Linux's
/// `signal_pending(current)`). No task with a signal pending (the usual
/// case) is one load, without the run-queue lock: every return to user
/// space asks. A signal sent meanwhile is seen at the next return, as a
/// `TIF_SIGPENDING` set after Linux's test is; the return path asks with
/// interrupts off, so nothing on this CPU sends one in between.
#[inline]
pub fn signal_pending() -> bool {
    if TASKS_WITH_SIGNALS.load(Ordering::Relaxed) == 0 {
        return false;
    }
    let rq = RQ.lock();
    rq[rq.current].pending != 0
}

/// `TASKS_WITH_SIGNALS`, and the number of tasks whose `pending` is not 0
/// counted under the lock (for tests: the two are equal).
pub fn tasks_with_signals() -> (usize, usize) {
    let rq = RQ.lock();
    (TASKS_WITH_SIGNALS.load(Ordering::Relaxed), rq.iter().filter(|t| t.pending != 0).count())
}

/// Whether the calling thread has SIGKILL pending (Linux's
/// `fatal_signal_pending(current)`): an allocation that would wait for
/// memory fails instead, so the thread can die and free its own.
pub fn fatal_signal_pending() -> bool {
    let rq = RQ.lock();
    rq[rq.current].pending & (1 << SIGKILL) != 0
}

/// Whether live thread `pid` has SIGKILL pending (it is about to exit).
pub fn sigkill_pending(pid: u32) -> bool {
    let rq = RQ.lock();
    rq.iter().any(|t| t.state.alive() && t.pid == pid && t.pending & (1 << SIGKILL) != 0)
}

/// Take the calling thread's lowest pending signal (Linux's
/// `dequeue_signal`; SIGKILL first, as Linux takes it before all).
pub fn dequeue_signal() -> Option<u32> {
    let mut rq = RQ.lock();
    let cur = rq.current;
    let p = rq[cur].pending;
    if p == 0 {
        return None;
    }
    let sig = if p & (1 << SIGKILL) != 0 { SIGKILL } else { p.trailing_zeros() };
    let left = p & !(1 << sig);
    rq[cur].set_pending(left);
    Some(sig)
}

/// Stop the calling thread until SIGCONT or SIGKILL (Linux's
/// `do_signal_stop`); returns once it runs again. A SIGCONT or SIGKILL
/// already pending means no stop at all.
pub fn stop_current() {
    let flags = local_irq_save();
    {
        let mut rq = RQ.lock();
        let cur = rq.current;
        if rq[cur].pending & (1 << SIGCONT | 1 << SIGKILL) != 0 {
            drop(rq);
            local_irq_restore(flags);
            return;
        }
        rq[cur].state = TaskState::Stopped;
    }
    schedule();
    local_irq_restore(flags);
}

/// Whether thread `pid` is stopped now.
pub fn is_stopped(pid: u32) -> bool {
    let rq = RQ.lock();
    rq.iter().any(|t| t.pid == pid && t.state == TaskState::Stopped)
}

/// Make a sleeping thread runnable.
pub fn wake_up_slot(slot: usize) {
    let mut rq = RQ.lock();
    let cur = rq.current;
    if let Some(t) = rq.get_mut(slot) {
        if t.state == TaskState::Sleeping {
            t.state = TaskState::Runnable;
            t.wake_at = 0;
            if cur == IDLE {
                NEED_RESCHED.store(true, Ordering::Relaxed);
            }
        }
    }
}

pub fn current_slot() -> usize {
    CURRENT.load(Ordering::Relaxed)
}

/// Sleep for at least `ms` milliseconds.
pub fn msleep(ms: u64) {
    might_sleep("msleep");
    let ticks = (ms * pit::HZ).div_ceil(1000).max(1);
    let flags = local_irq_save();
    set_current_sleeping(pit::jiffies() + ticks);
    schedule();
    local_irq_restore(flags);
}

/// Let other runnable threads go first.
pub fn yield_now() {
    schedule();
}

/// The timer interrupt: count the tick, wake timed sleepers, and ask for a
/// reschedule when the current thread's slice is used up.
pub fn timer_tick() {
    pit::JIFFIES.fetch_add(1, Ordering::Relaxed);
    let now = pit::jiffies();
    let mut rq = RQ.lock();
    let cur = rq.current;
    if let Some(t) = rq.get_mut(cur) {
        t.runtime += 1;
    }
    if cur == IDLE {
        IDLE_TICKS.fetch_add(1, Ordering::Relaxed);
    }
    let mut woke = false;
    for t in rq.iter_mut() {
        if t.state == TaskState::Sleeping && t.wake_at != 0 && t.wake_at <= now {
            t.state = TaskState::Runnable;
            t.wake_at = 0;
            woke = true;
        }
    }
    rq.slice = rq.slice.saturating_sub(1);
    if rq.slice == 0 || (woke && cur == IDLE) {
        NEED_RESCHED.store(true, Ordering::Relaxed);
    }
}

/// On the way out of an interrupt, once [`preempt::irq_exit`] has left
/// interrupt context (the return path of Linux's entry.S,
/// `preempt_schedule_irq`): switch if a reschedule was asked for and the
/// interrupted code may be preempted.
pub fn preempt_schedule_irq() {
    if !preempt::in_interrupt() && preempt::preemptible() && NEED_RESCHED.load(Ordering::Relaxed) {
        schedule();
    }
}

pub fn need_resched() -> bool {
    NEED_RESCHED.load(Ordering::Relaxed)
}

pub fn current_pid() -> u32 {
    RQ.try_lock().and_then(|rq| rq.get(rq.current).map(|t| t.pid)).unwrap_or(0)
}

pub fn current_name() -> TaskName {
    RQ.try_lock().and_then(|rq| rq.get(rq.current).map(|t| t.name)).unwrap_or(TaskName::from("?"))
}

/// One line per live thread, like a tiny `ps`. `f` runs without the lock.
pub fn for_each_task(mut f: impl FnMut(u32, char, u64, TaskName)) {
    let mut i = 0;
    loop {
        let t = {
            let rq = RQ.lock();
            if i >= rq.len() {
                break;
            }
            let t = &rq[i];
            t.state.alive().then_some((t.pid, t.state.letter(), t.runtime, t.name))
        };
        if let Some((pid, state, runtime, name)) = t {
            f(pid, state, runtime, name);
        }
        i += 1;
    }
}

/// The state letter of live thread `pid` (`R`, `S`, `T`), as `ps` shows it.
pub fn task_state_letter(pid: u32) -> Option<char> {
    let rq = RQ.lock();
    rq.iter().find(|t| t.state.alive() && t.pid == pid).map(|t| t.state.letter())
}

/// Live threads (for leak checks in tests).
pub fn nr_threads() -> usize {
    RQ.lock().iter().filter(|t| t.state.alive()).count()
}

/// One turn of the idle loop (`process::kthread::cpu_idle`): switch to a
/// thread that wants the CPU, or halt until an interrupt.
pub fn idle_once() {
    let flags = local_irq_save();
    if NEED_RESCHED.load(Ordering::Relaxed) {
        local_irq_restore(flags);
        schedule();
    } else {
        // sti; hlt: a wake-up interrupt between the check and the halt
        // is not lost, it ends the halt.
        crate::arch::x86::cpu::safe_halt();
    }
}
