//! Kernel threads and a round-robin scheduler driven by the timer.
//!
//! Each thread has its own 16 KB stack with an unmapped guard page below it,
//! so an overflow faults (and is reported by the double-fault task) instead
//! of corrupting a neighbour. Thread 0 is the boot thread, which becomes the
//! idle loop. The timer gives each thread `TIMESLICE` ticks; when it runs
//! out, or a sleeper wakes while idle runs, the thread is preempted on the
//! way out of the interrupt, unless it has disabled preemption.
//!
//! Stacks come from a fixed pool in .bss (they were needed before the page
//! allocator existed); the 4 KB page tables of the first 8 MB let each one
//! have an unmapped guard page.

use super::sync::IrqLock;
use crate::arch::x86::cpu::{local_irq_enable, local_irq_restore, local_irq_save};
use crate::arch::x86::{self, pit};
use crate::layout::PAGE_SIZE;
use core::fmt;
use core::ptr::addr_of;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

pub const NR_TASKS: usize = 16;
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
}

impl TaskState {
    fn letter(self) -> char {
        match self {
            TaskState::Running | TaskState::Runnable => 'R',
            TaskState::Sleeping => 'S',
            TaskState::Unused => 'X',
        }
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

#[derive(Clone, Copy)]
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
    };
}

struct RunQueue {
    tasks: [Task; NR_TASKS],
    current: usize,
    next_pid: u32,
    slice: u32,
}

static RQ: IrqLock<RunQueue> =
    IrqLock::new(RunQueue { tasks: [Task::EMPTY; NR_TASKS], current: IDLE, next_pid: 1, slice: TIMESLICE });

/// Mirrors of RQ state that crash reports read without taking the lock.
static CURRENT: AtomicUsize = AtomicUsize::new(IDLE);
static NEED_RESCHED: AtomicBool = AtomicBool::new(false);
/// Preemption is off while this is non-zero (kmap_atomic, irq handlers).
static PREEMPT_COUNT: AtomicU32 = AtomicU32::new(0);
static IRQ_DEPTH: AtomicU32 = AtomicU32::new(0);
/// Ticks that found the idle thread running (for `uptime`'s idle figure).
pub static IDLE_TICKS: AtomicUsize = AtomicUsize::new(0);
/// Context switches since boot.
pub static NR_SWITCHES: AtomicUsize = AtomicUsize::new(0);

/// A stack with its guard page, page aligned.
#[repr(C, align(4096))]
struct StackSlot {
    guard: [u8; PAGE_SIZE],
    stack: [u8; THREAD_SIZE],
}

/// Slot 0 (the boot thread) runs on boot.S's stack; its entry here is unused.
#[link_section = ".bss.page_aligned"]
static mut STACKS: [StackSlot; NR_TASKS] =
    [const { StackSlot { guard: [0; PAGE_SIZE], stack: [0; THREAD_SIZE] } }; NR_TASKS];

/// `[lo, hi)` of the stack of task slot `i`.
fn stack_range(i: usize) -> (usize, usize) {
    if i == IDLE {
        (addr_of!(x86::boot_stack) as usize, addr_of!(x86::boot_stack_top) as usize)
    } else {
        // SAFETY: only an address is computed.
        let lo = unsafe { addr_of!(STACKS[i].stack) } as usize;
        (lo, lo + THREAD_SIZE)
    }
}

fn guard_range(i: usize) -> (usize, usize) {
    let guard = if i == IDLE {
        addr_of!(x86::boot_stack_guard) as usize
    } else {
        // SAFETY: only an address is computed.
        unsafe { addr_of!(STACKS[i].guard) as usize }
    };
    (guard, guard + PAGE_SIZE)
}

/// Whether `[addr, addr + len)` lies on one thread's stack (for backtraces).
pub fn on_kernel_stack(addr: usize, len: usize) -> bool {
    (0..NR_TASKS).any(|i| {
        let (lo, hi) = stack_range(i);
        addr >= lo && addr.saturating_add(len) <= hi
    })
}

/// If `esp` is in (or just under) a guard page, the overflowed stack's range.
pub fn stack_guard_hit(esp: usize) -> Option<(usize, usize)> {
    (0..NR_TASKS).find_map(|i| {
        let (glo, ghi) = guard_range(i);
        (esp >= glo.saturating_sub(64) && esp < ghi).then(|| stack_range(i))
    })
}

/// Whether every thread stack's guard page is unmapped (for tests).
pub fn guard_pages_unmapped() -> bool {
    (0..NR_TASKS).all(|i| !crate::arch::x86::mm::init::early_page_present(guard_range(i).0))
}

/// Set up the boot thread as pid 0 and unmap the guard page of every stack.
pub fn init() {
    for i in 1..NR_TASKS {
        // SAFETY: the guard page of stack i is a page of STACKS that nothing
        // uses (stacks grow down towards it); boot, one CPU, interrupts off.
        let ok = unsafe { crate::arch::x86::mm::init::set_early_page_present(guard_range(i).0, false) };
        assert!(ok, "kernel stack {} outside the early 4 KB mappings", i);
    }
    let mut rq = RQ.lock();
    rq.tasks[IDLE] = Task { state: TaskState::Running, name: TaskName::from("swapper"), ..Task::EMPTY };
}

#[derive(Debug)]
pub struct NoFreeSlot;

/// Start a kernel thread running `entry(arg)`; returns its pid.
pub fn kthread_run(name: &str, entry: fn(usize), arg: usize) -> Result<u32, NoFreeSlot> {
    let mut rq = RQ.lock();
    let slot = (1..NR_TASKS).find(|&i| rq.tasks[i].state == TaskState::Unused).ok_or(NoFreeSlot)?;
    let pid = rq.next_pid;
    rq.next_pid += 1;
    // The new stack looks as if switch_to had saved it: edi, esi, ebx, ebp,
    // then the return address, which "returns" into kthread_trampoline.
    let (_, top) = stack_range(slot);
    let esp = top - 5 * 4;
    let frame = [0usize, 0, 0, 0, x86::kthread_trampoline as *const () as usize];
    // SAFETY: the slot is unused, so no thread runs on this stack; the five
    // words lie inside it.
    unsafe { core::ptr::copy_nonoverlapping(frame.as_ptr(), esp as *mut usize, 5) };
    rq.tasks[slot] =
        Task { state: TaskState::Runnable, pid, name: TaskName::from(name), esp, entry, arg, ..Task::EMPTY };
    Ok(pid)
}

/// First Rust code of a new thread (called by entry.S's kthread_trampoline).
#[no_mangle]
extern "C" fn kthread_start() -> ! {
    let (entry, arg) = {
        let rq = RQ.lock();
        let t = &rq.tasks[rq.current];
        (t.entry, t.arg)
    };
    local_irq_enable();
    entry(arg);
    kthread_exit()
}

/// Wakes whoever waits for a thread to end (`kthread_wait`).
static EXIT_WQ: super::wait::WaitQueue = super::wait::WaitQueue::new();

/// End the calling thread. Its slot is free as soon as we switch away:
/// interrupts stay off until then, so nobody can reuse the stack we stand on.
pub fn kthread_exit() -> ! {
    local_irq_save();
    {
        let mut rq = RQ.lock();
        let cur = rq.current;
        rq.tasks[cur].state = TaskState::Unused;
    }
    EXIT_WQ.wake_up_all();
    schedule();
    unreachable!("an exited thread was scheduled again");
}

/// Whether thread `pid` is still alive.
pub fn pid_alive(pid: u32) -> bool {
    let rq = RQ.lock();
    rq.tasks.iter().any(|t| t.state != TaskState::Unused && t.pid == pid)
}

/// Sleep until thread `pid` has exited.
pub fn kthread_wait(pid: u32) {
    EXIT_WQ.wait_event(|| !pid_alive(pid));
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
        if rq.tasks[prev].state == TaskState::Running {
            rq.tasks[prev].state = TaskState::Runnable;
        }
        // Round robin from the slot after prev; idle only when nobody else can run.
        let next = (1..=NR_TASKS)
            .map(|k| (prev + k) % NR_TASKS)
            .find(|&i| i != IDLE && rq.tasks[i].state == TaskState::Runnable)
            .unwrap_or(IDLE);
        rq.tasks[next].state = TaskState::Running;
        rq.slice = TIMESLICE;
        if next == prev {
            None
        } else {
            rq.current = next;
            rq.tasks[prev].preempt_count = PREEMPT_COUNT.load(Ordering::Relaxed);
            PREEMPT_COUNT.store(rq.tasks[next].preempt_count, Ordering::Relaxed);
            CURRENT.store(next, Ordering::Relaxed);
            NR_SWITCHES.fetch_add(1, Ordering::Relaxed);
            let prev_esp = &mut rq.tasks[prev].esp as *mut usize;
            Some((prev_esp, rq.tasks[next].esp))
        }
    };
    if let Some((prev_esp, next_esp)) = switch {
        // SAFETY: interrupts are off and the lock is released; `prev_esp`
        // points into the static task table; `next_esp` was saved by
        // switch_to or built by kthread_run for a thread that is not running.
        unsafe { x86::switch_to(prev_esp, next_esp) };
    }
    local_irq_restore(flags);
}

/// Mark the current thread asleep; it runs again after `wake_up` (or at
/// `timeout` jiffies, when non-zero). Call `schedule()` next.
pub fn set_current_sleeping(timeout: u64) {
    let mut rq = RQ.lock();
    let cur = rq.current;
    rq.tasks[cur].state = TaskState::Sleeping;
    rq.tasks[cur].wake_at = timeout;
}

/// Make a sleeping thread runnable.
pub fn wake_up_slot(slot: usize) {
    let mut rq = RQ.lock();
    if rq.tasks[slot].state == TaskState::Sleeping {
        rq.tasks[slot].state = TaskState::Runnable;
        rq.tasks[slot].wake_at = 0;
        if rq.current == IDLE {
            NEED_RESCHED.store(true, Ordering::Relaxed);
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
    rq.tasks[cur].runtime += 1;
    if cur == IDLE {
        IDLE_TICKS.fetch_add(1, Ordering::Relaxed);
    }
    let mut woke = false;
    for t in rq.tasks.iter_mut() {
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

#[inline]
pub fn preempt_disable() {
    PREEMPT_COUNT.fetch_add(1, Ordering::Relaxed);
}

#[inline]
pub fn preempt_enable() {
    PREEMPT_COUNT.fetch_sub(1, Ordering::Relaxed);
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
        PREEMPT_COUNT.load(Ordering::Relaxed),
        irqs_disabled as u8
    ));
}

pub fn current_pid() -> u32 {
    RQ.try_lock().map(|rq| rq.tasks[rq.current].pid).unwrap_or(0)
}

pub fn current_name() -> TaskName {
    RQ.try_lock().map(|rq| rq.tasks[rq.current].name).unwrap_or(TaskName::from("?"))
}

/// One line per live thread, like a tiny `ps`.
pub fn for_each_task(mut f: impl FnMut(u32, char, u64, TaskName)) {
    let snapshot = RQ.lock().tasks;
    for t in snapshot.iter().filter(|t| t.state != TaskState::Unused) {
        f(t.pid, t.state.letter(), t.runtime, t.name);
    }
}

/// Live threads (for leak checks in tests).
pub fn nr_threads() -> usize {
    RQ.lock().tasks.iter().filter(|t| t.state != TaskState::Unused).count()
}

/// The idle loop: the boot thread ends here once the system is up.
pub fn cpu_idle() -> ! {
    loop {
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
