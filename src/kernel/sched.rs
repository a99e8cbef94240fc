//! Kernel threads and a round-robin scheduler driven by the timer.
//!
//! Thread 0 is the boot thread, which becomes the idle loop. The timer gives
//! each thread `TIMESLICE` ticks; when it runs out, or a sleeper wakes while
//! idle runs, the thread is preempted on the way out of the interrupt,
//! unless it has disabled preemption.
//!
//! Each thread has a kernel stack of `THREAD_SIZE` from vmalloc, made when
//! the thread is and freed once it has exited, so there are as many stacks
//! as threads. Why vmalloc and not pages from the page allocator with Linux's
//! `STACK_END_MAGIC` checked at every switch: every vmalloc area is
//! followed by an unmapped guard page, so the page below any area is
//! unmapped too; an overflow faults on its first write (reported by the
//! double-fault task, which names the stack) instead of corrupting the
//! neighbouring memory first and being noticed, maybe, at the next switch.
//! The price: the stack is reached through a vmalloc PDE, which a process
//! directory may not have yet (vmalloc PDEs reach other directories
//! lazily, through a fault, and a fault on the stack itself cannot be
//! taken). So before CR3 changes, the PDEs of the stacks in use are copied
//! into the new directory (as Linux's x86-64 `switch_mm` does for its
//! vmalloc'd stacks).
//!
//! A thread may have an address space (`mm`, an `MmStruct`): switching to
//! it loads its directory into CR3. A kernel thread without one runs on
//! `swapper_pg_dir` (Linux would lend it the previous thread's `active_mm`
//! to save a TLB flush; a CR3 load is the simple, always-correct choice and
//! costs nothing between two kernel threads: CR3 is written only when it
//! changes). `TSS.esp0` follows the running thread's stack top, for the day
//! a thread returns to ring 3.
//!
//! The task table is a vector of slots (reused after exit), grown outside
//! the run-queue lock: the lock masks interrupts, and allocating may sleep.

use super::sync::IrqLock;
use crate::arch::x86::cpu::{local_irq_enable, local_irq_restore, local_irq_save};
use crate::arch::x86::mm::init::swapper_pg_dir_phys;
use crate::arch::x86::{self, gdt, pit};
use crate::layout::PAGE_SIZE;
use crate::mm::mm_types::MmStruct;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::ptr::addr_of;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

/// 16 KB, twice Linux 2.6.24 i386's 8 KB (x86-64 Linux has used 16 KB
/// since 3.15): Rust keeps report buffers and test arrays on the stack, and
/// the shell runs the in-kernel tests on its own stack; measured, the
/// shell's `ktest mm::page_alloc` overflowed 8 KB (in `pagetypeinfo`).
pub const THREAD_SIZE: usize = 4 * PAGE_SIZE;
/// Ticks a thread runs before the next runnable one gets the CPU.
pub const TIMESLICE: u32 = 5;
const IDLE: usize = 0;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TaskState {
    Unused,
    Running,
    Runnable,
    /// Waiting for a wake-up, or for `wake_at` jiffies.
    Sleeping,
    /// Exited (Linux's `EXIT_DEAD`): no longer scheduled, its stack and mm
    /// not yet freed. It stood on that stack until it switched away, so
    /// someone else frees it (`reap_dead`).
    Dead,
}

impl TaskState {
    fn letter(self) -> char {
        match self {
            TaskState::Running | TaskState::Runnable => 'R',
            TaskState::Sleeping => 'S',
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
    mm: Option<Arc<MmStruct>>,
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
    };

    /// `[lo, hi)` of its kernel stack.
    fn stack_range(&self) -> (usize, usize) {
        if self.stack == 0 {
            (addr_of!(x86::boot_stack) as usize, addr_of!(x86::boot_stack_top) as usize)
        } else {
            (self.stack, self.stack + THREAD_SIZE)
        }
    }

    /// What CR3 holds while it runs.
    fn pgd_phys(&self) -> usize {
        self.mm.as_ref().map_or_else(swapper_pg_dir_phys, |mm| mm.pgd_phys())
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
/// Preemption is off while this is non-zero (spinlocks, kmap_atomic, irq handlers).
static PREEMPT_COUNT: AtomicU32 = AtomicU32::new(0);
static IRQ_DEPTH: AtomicU32 = AtomicU32::new(0);
/// Exited threads whose stacks are not freed yet.
static NR_DEAD: AtomicUsize = AtomicUsize::new(0);
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

/// Whether the page below every thread's stack is unmapped (for tests).
pub fn guard_pages_unmapped() -> bool {
    // Copied out first: the checks walk page tables, not for under the lock.
    let n = RQ.lock().len();
    let mut stacks: Vec<(usize, usize)> = Vec::with_capacity(n);
    {
        let rq = RQ.lock();
        stacks.extend(rq.iter().filter(|t| t.state.alive()).map(|t| t.stack_range()).take(n));
    }
    let boot = boot_stack_range().0;
    stacks.iter().all(|&(lo, _)| {
        if lo == boot {
            !crate::arch::x86::mm::init::early_page_present(addr_of!(x86::boot_stack_guard) as usize)
        } else {
            !crate::mm::vmalloc::kernel_page_present(lo - PAGE_SIZE)
        }
    })
}

/// The running thread's stack `[lo, hi)` (for tests).
pub fn current_stack() -> (usize, usize) {
    current_stack_range()
}

/// The boot thread is pid 0 (its slot is static); the CPU's ring-0 stack
/// is its stack until the first switch.
pub fn init() {
    gdt::set_kernel_stack(boot_stack_range().1 as u32);
}

/// Why `kthread_run` made no thread. Nothing is left allocated.
#[derive(Debug)]
pub enum KthreadError {
    /// No memory (or vmalloc space) for its stack.
    NoStack(crate::mm::vmalloc::VmallocError),
}

impl fmt::Display for KthreadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KthreadError::NoStack(e) => write!(f, "no kernel stack: {}", e),
        }
    }
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

/// Start a kernel thread running `entry(arg)`; returns its pid. May sleep.
pub fn kthread_run(name: &str, entry: fn(usize), arg: usize) -> Result<u32, KthreadError> {
    might_sleep("kthread_run");
    reap_dead();
    // Linux 2.6.24 retries a small GFP_KERNEL allocation like this one until
    // it succeeds (order <= PAGE_ALLOC_COSTLY_ORDER, no __GFP_NORETRY); this
    // allocator does not retry, so __GFP_NOFAIL keeps injected failures
    // (fail_page_alloc) off stacks, as off Rust's collections. A real
    // shortage still fails kthread_run, cleanly.
    let gfp = crate::mm::gfp::GFP_KERNEL | crate::mm::gfp::Gfp::NOFAIL;
    let stack = crate::mm::vmalloc::__vmalloc(THREAD_SIZE, gfp).map_err(KthreadError::NoStack)?.as_ptr() as usize;
    // The new stack looks as if switch_to had saved it: edi, esi, ebx, ebp,
    // then the return address, which "returns" into kthread_trampoline.
    let top = stack + THREAD_SIZE;
    let esp = top - 5 * 4;
    let frame = [0usize, 0, 0, 0, x86::kernel::kthread_trampoline as *const () as usize];
    // SAFETY: the stack was just allocated for this thread, nobody else
    // uses it; the five words lie inside it.
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
    Ok(pid)
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
    kthread_exit()
}

/// Wakes whoever waits for a thread to end (`kthread_wait`).
static EXIT_WQ: super::wait::WaitQueue = super::wait::WaitQueue::new();

/// End the calling thread. It leaves its address space first (CR3 back on
/// `swapper_pg_dir`, its reference dropped: maybe the last one). It becomes
/// `Dead` and switches away with interrupts off; its stack is freed later
/// by `reap_dead`, since it is standing on it.
pub fn kthread_exit() -> ! {
    unuse_mm();
    local_irq_save();
    {
        let mut rq = RQ.lock();
        let cur = rq.current;
        rq[cur].state = TaskState::Dead;
        NR_DEAD.fetch_add(1, Ordering::Relaxed);
    }
    EXIT_WQ.wake_up_all();
    schedule();
    unreachable!("an exited thread was scheduled again");
}

/// Free the stacks (and drop the mm references) of exited threads (Linux
/// frees a dead task's stack from another task's context, too:
/// `finish_task_switch` -> `put_task_struct`). Process context only: vfree
/// may sleep.
pub fn reap_dead() {
    while NR_DEAD.load(Ordering::Relaxed) != 0 {
        let dead = {
            let mut rq = RQ.lock();
            let cur = rq.current;
            let found = rq.iter().enumerate().position(|(i, t)| t.state == TaskState::Dead && i != cur);
            found.map(|i| {
                let t = &mut rq[i];
                t.state = TaskState::Unused;
                NR_DEAD.fetch_sub(1, Ordering::Relaxed);
                (core::mem::take(&mut t.stack), t.mm.take())
            })
        };
        let Some((stack, mm)) = dead else { break };
        drop(mm);
        crate::mm::vmalloc::vfree(stack as *const u8);
    }
}

/// Whether thread `pid` is still alive.
pub fn pid_alive(pid: u32) -> bool {
    let rq = RQ.lock();
    rq.iter().any(|t| t.state.alive() && t.pid == pid)
}

/// Sleep until thread `pid` has exited, then free what exited threads left.
pub fn kthread_wait(pid: u32) {
    EXIT_WQ.wait_event(|| !pid_alive(pid));
    reap_dead();
}

/// Linux's `switch_mm` for this kernel: make `pgd` the running directory,
/// after copying into it the PDEs of the stacks in use (`stacks`), which
/// vmalloc may have made after the directory was (see the module docs).
/// Interrupts are off.
fn switch_mm(pgd: usize, stacks: &[(usize, usize)]) {
    let cr3 = crate::arch::x86::cpu::read_cr3() as usize & !0xfff;
    if cr3 == pgd {
        return;
    }
    for &(lo, hi) in stacks {
        crate::mm::vmalloc::sync_kernel_range(pgd, lo, hi);
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
            rq[prev].preempt_count = PREEMPT_COUNT.load(Ordering::Relaxed);
            PREEMPT_COUNT.store(rq[next].preempt_count, Ordering::Relaxed);
            CURRENT.store(next, Ordering::Relaxed);
            NR_SWITCHES.fetch_add(1, Ordering::Relaxed);
            let (prev_stack, next_stack) = (rq[prev].stack_range(), rq[next].stack_range());
            let next_pgd = rq[next].pgd_phys();
            let next_stack_lo = rq[next].stack;
            CURRENT_STACK[0].store(next_stack_lo, Ordering::Relaxed);
            CURRENT_STACK[1].store(next_stack.1, Ordering::Relaxed);
            let prev_esp = &mut rq[prev].esp as *mut usize;
            Some((prev_esp, rq[next].esp, next_pgd, prev_stack, next_stack))
        }
    };
    if let Some((prev_esp, next_esp, next_pgd, prev_stack, next_stack)) = switch {
        // prev's stack is used until switch_to leaves it, next's from then on.
        switch_mm(next_pgd, &[prev_stack, next_stack]);
        gdt::set_kernel_stack(next_stack.1 as u32);
        // SAFETY: interrupts are off and the lock is released; `prev_esp`
        // points into the task table, which only grows under the lock with
        // a thread running (not before switch_to has stored through it);
        // `next_esp` was saved by switch_to or built by kthread_run for a
        // thread that is not running.
        unsafe { x86::kernel::switch_to(prev_esp, next_esp) };
    }
    local_irq_restore(flags);
}

/// Linux's `use_mm`: the calling kernel thread adopts `mm` (its user half
/// becomes reachable at once, and after every switch back to the thread).
/// An mm it had is dropped.
pub fn use_mm(mm: Arc<MmStruct>) {
    let flags = local_irq_save();
    let (old, pgd, stack) = {
        let mut rq = RQ.lock();
        let cur = rq.current;
        let t = &mut rq[cur];
        let old = t.mm.replace(mm);
        (old, t.pgd_phys(), t.stack_range())
    };
    switch_mm(pgd, &[stack]);
    local_irq_restore(flags);
    drop(old);
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
    switch_mm(swapper_pg_dir_phys(), &[]);
    local_irq_restore(flags);
    drop(old);
}

/// Mark the current thread asleep; it runs again after `wake_up` (or at
/// `timeout` jiffies, when non-zero). Call `schedule()` next.
pub fn set_current_sleeping(timeout: u64) {
    let mut rq = RQ.lock();
    let cur = rq.current;
    rq[cur].state = TaskState::Sleeping;
    rq[cur].wake_at = timeout;
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

pub fn irq_enter() {
    IRQ_DEPTH.fetch_add(1, Ordering::Relaxed);
}

/// On the way out of an interrupt: preempt if asked and allowed.
pub fn irq_exit() {
    let depth = IRQ_DEPTH.fetch_sub(1, Ordering::Relaxed) - 1;
    if depth == 0 && PREEMPT_COUNT.load(Ordering::Relaxed) == 0 && NEED_RESCHED.load(Ordering::Relaxed) {
        schedule();
    }
}

pub fn need_resched() -> bool {
    NEED_RESCHED.load(Ordering::Relaxed)
}

// Every spinlock comes here twice, so no locked instruction: with one CPU a
// plain read-modify-write is enough (Linux's uniprocessor `preempt_count`
// is a plain add too). An interrupt between the load and the store leaves
// the count as it found it (handlers are balanced), and a preemption there
// saves and restores this thread's count with it.
#[inline]
pub fn preempt_disable() {
    PREEMPT_COUNT.store(PREEMPT_COUNT.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

#[inline]
pub fn preempt_enable() {
    let c = PREEMPT_COUNT.load(Ordering::Relaxed);
    debug_assert!(c > 0, "preempt_enable without preempt_disable");
    PREEMPT_COUNT.store(c.wrapping_sub(1), Ordering::Relaxed);
}

/// The preempt count, as Linux's sums its fields: the running thread's
/// `preempt_disable`s and `SpinLock`s, plus the `IrqLock`s held (counted by
/// their nesting depth; holding one also masks interrupts, so no switch
/// happens with one held and the depth needs no saving per thread).
#[inline]
pub fn preempt_count() -> u32 {
    PREEMPT_COUNT.load(Ordering::Relaxed) + super::sync::irq_lock_depth()
}

#[inline]
pub fn in_interrupt() -> bool {
    IRQ_DEPTH.load(Ordering::Relaxed) != 0
}

/// Whether sleeping is forbidden here (interrupt, preemption off, irqs off).
#[inline]
pub fn in_atomic() -> bool {
    !may_sleep_with(crate::arch::x86::cpu::irqs_enabled())
}

/// Whether sleeping is allowed, given whether interrupts are enabled (for a
/// caller that has just saved the flags). One OR for the two counts.
#[inline(always)]
fn may_sleep_with(irqs_enabled: bool) -> bool {
    // IrqLock holders have interrupts off: `irqs_enabled` covers them.
    (IRQ_DEPTH.load(Ordering::Relaxed) | PREEMPT_COUNT.load(Ordering::Relaxed)) == 0 && irqs_enabled
}

/// Reports made by `might_sleep` (for tests).
pub static MIGHT_SLEEP_BUGS: AtomicUsize = AtomicUsize::new(0);

/// Report a call that may sleep made where sleeping is not allowed (Linux's
/// `might_sleep()`): a bug in the caller, reported with a backtrace; the call
/// then goes on.
#[track_caller]
#[inline]
pub fn might_sleep(what: &str) {
    // Only the test is inline: allocators call this on every allocation.
    if in_atomic() {
        might_sleep_report(what, core::panic::Location::caller(), !crate::arch::x86::cpu::irqs_enabled());
    }
}

/// `might_sleep` for a caller that has just saved EFLAGS (taking an
/// `IrqLock`): the same check and the same report, without reading the
/// flags again. `true` when the call was made where sleeping is not
/// allowed; the caller then calls [`might_sleep_report`] once it has
/// dropped its lock.
#[inline(always)]
pub fn might_sleep_check(irqs_were_enabled: bool) -> bool {
    !may_sleep_with(irqs_were_enabled)
}

/// The report of `might_sleep`; `irqs_disabled` as the caller found them.
#[cold]
#[inline(never)]
pub fn might_sleep_report(what: &str, loc: &core::panic::Location<'_>, irqs_disabled: bool) {
    MIGHT_SLEEP_BUGS.fetch_add(1, Ordering::Relaxed);
    super::panic::warn(format_args!(
        "BUG: sleeping function called from invalid context at {}:{} ({}): in_interrupt={} preempt_count={} irqs_disabled={}",
        loc.file(),
        loc.line(),
        what,
        in_interrupt() as u8,
        preempt_count(),
        irqs_disabled as u8
    ));
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

/// Live threads (for leak checks in tests).
pub fn nr_threads() -> usize {
    RQ.lock().iter().filter(|t| t.state.alive()).count()
}

/// The idle loop: the boot thread ends here once the system is up.
pub fn cpu_idle() -> ! {
    loop {
        if NR_DEAD.load(Ordering::Relaxed) != 0 {
            reap_dead();
        }
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
}
