//! In-kernel tests of the machine and the core services: traps, the
//! timer, threads and their stacks, wait queues, the log and the console,
//! the symbol table.

use super::{skip, TestResult};
use crate::arch::x86::kernel::traps;
use crate::arch::x86::pit;
use crate::kernel::{printk, sched, wait::WaitQueue};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

macro_rules! check {
    ($cond:expr, $msg:expr) => {
        if !$cond {
            return Err($msg);
        }
    };
}

pub fn int3_returns_to_caller() -> TestResult {
    let before = traps::BREAKPOINTS.load(Ordering::Relaxed);
    // SAFETY: int3 is handled by logging and returning to the next instruction.
    unsafe { core::arch::asm!("int3") };
    check!(traps::BREAKPOINTS.load(Ordering::Relaxed) == before + 1, "int3 not counted");
    Ok(())
}

/// The GDT and IDT built with the `x86` crate's descriptor builders hold
/// the values of Linux's i386 tables: flat 4 GB segments (GDT_ENTRY_INIT
/// 0xc09a, 0xc092, 0xc0fa, 0xc0f2), byte-granular 32-bit TSSs, interrupt
/// gates on __KERNEL_CS (DPL 3 for int3 and int 0x80), the #DF task gate.
pub fn descriptor_tables_match_i386() -> TestResult {
    use crate::arch::x86::gdt;
    use crate::layout::PAGE_OFFSET;
    // The CPU sets a segment's accessed bit when it loads it, and marks the
    // TSS that `ltr` loaded busy: both are masked.
    const ACCESSED: u64 = 1 << 40;
    const TSS_BUSY: u64 = 2;
    let g = gdt::gdt_raw();
    let flat = [0, 0x00cf_9a00_0000_ffff, 0x00cf_9200_0000_ffff, 0x00cf_fa00_0000_ffff, 0x00cf_f200_0000_ffff];
    check!(
        g[..5].iter().map(|d| d & !ACCESSED).eq(flat),
        "GDT null/code/data descriptors differ from Linux's i386 values"
    );
    for d in &g[5..7] {
        let base = ((d >> 16) & 0xff_ffff) | ((d >> 56) << 24);
        let access = (d >> 40) & 0xff & !TSS_BUSY;
        check!(d & 0xffff == 103 && access == 0x89 && (d >> 48) & 0xff == 0, "TSS descriptor malformed");
        check!(base as usize >= PAGE_OFFSET, "TSS descriptor base outside the kernel image");
    }
    // The TLS entries: empty for a thread that never set one (this one).
    check!(g[7..].iter().all(|&d| d == 0), "TLS descriptors set for a kernel thread");
    for v in (0..48).chain([traps::SYSCALL_VECTOR]) {
        let gate = traps::idt_raw(v);
        if v == 8 {
            check!(gate == u64::from(gdt::DF_TSS_SEL) << 16 | 0x85 << 40, "IDT[8] is not a task gate to the #DF TSS");
            continue;
        }
        let access = if v == 3 || v == traps::SYSCALL_VECTOR { 0xee } else { 0x8e };
        let offset = (gate & 0xffff) | ((gate >> 48) << 16);
        check!((gate >> 16) & 0xffff == u64::from(gdt::KERNEL_CS), "IDT gate selector is not __KERNEL_CS");
        check!((gate >> 32) & 0xffff == access << 8, "IDT gate type/DPL differ from Linux's");
        check!(offset as usize >= PAGE_OFFSET, "IDT gate points outside kernel text");
    }
    Ok(())
}

pub fn timer_ticks_at_hz() -> TestResult {
    let j0 = pit::jiffies();
    let t0 = pit::clock_us();
    sched::msleep(200);
    let ticks = pit::jiffies() - j0;
    let us = pit::clock_us() - t0;
    check!(ticks >= 20, "fewer than 20 ticks in 200 ms");
    // The tick count and the fine clock agree to within two ticks.
    check!(us.abs_diff(ticks * 1_000_000 / pit::HZ) <= 2 * 1_000_000 / pit::HZ, "clock and jiffies disagree");
    Ok(())
}

pub fn clock_is_monotonic() -> TestResult {
    let mut last = pit::clock_us();
    for _ in 0..20_000 {
        let now = pit::clock_us();
        check!(now >= last, "clock went backwards");
        last = now;
    }
    Ok(())
}

pub fn stack_guard_pages_unmapped() -> TestResult {
    check!(crate::process::kthread::guard_pages_unmapped(), "a stack guard page is mapped");
    Ok(())
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn threads_run_and_exit() -> TestResult {
    COUNTER.store(0, Ordering::SeqCst);
    let mut pids = [0u32; 4];
    for (i, pid) in pids.iter_mut().enumerate() {
        *pid = crate::process::kthread::kthread_run(
            "ktest-worker",
            |n| {
                COUNTER.fetch_add(n, Ordering::SeqCst);
            },
            i + 1,
        )
        .map_err(|_| "no thread slot")?;
    }
    for pid in pids {
        crate::process::kthread::kthread_wait(pid);
        check!(!sched::pid_alive(pid), "thread still alive after wait");
    }
    check!(COUNTER.load(Ordering::SeqCst) == 1 + 2 + 3 + 4, "not every thread ran once");
    Ok(())
}

static SPIN_A: AtomicUsize = AtomicUsize::new(0);
static SPIN_B: AtomicUsize = AtomicUsize::new(0);
static STOP: AtomicBool = AtomicBool::new(false);

fn spin(which: usize) {
    let c = if which == 0 { &SPIN_A } else { &SPIN_B };
    // Never yields: only the timer can take the CPU away.
    while !STOP.load(Ordering::Relaxed) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

pub fn busy_threads_are_preempted() -> TestResult {
    STOP.store(false, Ordering::SeqCst);
    SPIN_A.store(0, Ordering::SeqCst);
    SPIN_B.store(0, Ordering::SeqCst);
    let a = crate::process::kthread::kthread_run("spin-a", spin, 0).map_err(|_| "no thread slot")?;
    let b = crate::process::kthread::kthread_run("spin-b", spin, 1).map_err(|_| "no thread slot")?;
    sched::msleep(300);
    STOP.store(true, Ordering::SeqCst);
    crate::process::kthread::kthread_wait(a);
    crate::process::kthread::kthread_wait(b);
    // The tester itself woke from msleep while both spun: preemption works.
    check!(SPIN_A.load(Ordering::SeqCst) > 0 && SPIN_B.load(Ordering::SeqCst) > 0, "a busy thread never ran");
    Ok(())
}

pub fn msleep_sleeps_long_enough() -> TestResult {
    let j0 = pit::jiffies();
    sched::msleep(50);
    let slept = pit::jiffies() - j0;
    check!(slept >= 5, "woke before 50 ms");
    check!(slept < 100, "slept far longer than asked");
    Ok(())
}

static WQ: WaitQueue = WaitQueue::new();
static FLAG: AtomicBool = AtomicBool::new(false);
static WOKEN: AtomicUsize = AtomicUsize::new(0);

fn waiter(_: usize) {
    WQ.wait_event(|| FLAG.load(Ordering::SeqCst));
    WOKEN.fetch_add(1, Ordering::SeqCst);
}

pub fn wake_up_wakes_every_sleeper() -> TestResult {
    FLAG.store(false, Ordering::SeqCst);
    WOKEN.store(0, Ordering::SeqCst);
    let mut pids = [0u32; 3];
    for pid in pids.iter_mut() {
        *pid = crate::process::kthread::kthread_run("ktest-waiter", waiter, 0).map_err(|_| "no thread slot")?;
    }
    sched::msleep(30);
    check!(WOKEN.load(Ordering::SeqCst) == 0, "a waiter went on before the condition held");
    check!(WQ.has_sleepers(), "waiters are not on the queue");
    FLAG.store(true, Ordering::SeqCst);
    WQ.wake_up_all();
    for pid in pids {
        crate::process::kthread::kthread_wait(pid);
    }
    check!(WOKEN.load(Ordering::SeqCst) == 3, "not every waiter woke");
    Ok(())
}

pub fn thread_slots_are_reused() -> TestResult {
    // More threads than the old fixed table had slots, one after another:
    // exits free their slots and stacks.
    for _ in 0..40 {
        let pid =
            crate::process::kthread::kthread_run("ktest-short", |_| {}, 0).map_err(|_| "slot not freed on exit")?;
        crate::process::kthread::kthread_wait(pid);
    }
    Ok(())
}

static SIGNALLED_GO: AtomicBool = AtomicBool::new(false);

/// `TASKS_WITH_SIGNALS` (the one-load test of every return to user space)
/// equals a recount of the tasks with signals pending, while a thread has
/// one and after it died with it pending: `do_exit` flushes them, so the
/// count does not wait for the slot to be taken.
pub fn tasks_with_signals_matches_a_recount() -> TestResult {
    let (count, recount) = sched::tasks_with_signals();
    check!(count == recount, "count differs from a recount before the test");
    let before = count;
    SIGNALLED_GO.store(false, Ordering::SeqCst);
    let pid = crate::process::kthread::kthread_run(
        "ktest-signalled",
        |_| {
            // Runnable, never sleeping: the signal wakes nothing, and a
            // kernel thread never returns to user space to take it.
            while !SIGNALLED_GO.load(Ordering::SeqCst) {
                sched::yield_now();
            }
        },
        0,
    )
    .map_err(|_| "no thread slot")?;
    let sent = sched::send_signal(pid, crate::kernel::signal_names::SIGTERM);
    let (count, recount) = sched::tasks_with_signals();
    SIGNALLED_GO.store(true, Ordering::SeqCst);
    crate::process::kthread::kthread_wait(pid);
    check!(sent.is_ok(), "signal not sent");
    check!(count == recount, "count differs from a recount with a signal pending");
    check!(count == before + 1, "the signalled thread not counted");
    let (count, recount) = sched::tasks_with_signals();
    check!(count == recount, "count differs from a recount after the exit");
    check!(count == before, "a dead thread's signal still counted");
    Ok(())
}

pub fn dmesg_keeps_messages() -> TestResult {
    let marker = "ktest marker 7f3a91";
    crate::pr_debug!("{}", marker);
    check!(printk::log_contains(marker.as_bytes()), "message not in the log");
    check!(!printk::log_contains(b"never logged 2b8e"), "log finds what was never logged");
    Ok(())
}

/// The UART is written with interrupts on when the caller has them on:
/// printk and shell output no longer hold them off while it drains.
pub fn console_writes_with_interrupts_on() -> TestResult {
    use crate::arch::x86::serial::{WRITES, WRITES_IRQS_OFF};
    use core::sync::atomic::Ordering::Relaxed;
    if !crate::arch::x86::cpu::irqs_enabled() {
        return Err(skip("runs with interrupts masked"));
    }
    let (writes, off) = (WRITES.load(Relaxed), WRITES_IRQS_OFF.load(Relaxed));
    crate::pr_emerg!("ktest: a console line written with interrupts on");
    printk::console_write(b"ktest: shell output written with interrupts on\n");
    printk::dmesg(|_| {});
    check!(WRITES.load(Relaxed) >= writes + 2, "nothing reached the UART");
    check!(WRITES_IRQS_OFF.load(Relaxed) == off, "the UART was written with interrupts masked");
    Ok(())
}

pub fn symbols_resolve_kernel_text() -> TestResult {
    let tab = crate::kernel::ksyms::table().ok_or("no symbol table module loaded")?;
    let kmain = crate::init::kmain as *const () as usize;
    let sym = tab.lookup(kmain + 1).ok_or("kmain not found")?;
    check!(sym.name == "kmain" && sym.addr == kmain, "kmain resolves to the wrong symbol");
    Ok(())
}

/// A `try_lock` that finds the mutex taken fails and leaves it taken (a
/// guard made and dropped on the failed path used to unlock the holder's
/// lock, letting a second thread in: two swap writers met on one disk).
pub fn mutex_try_lock_on_a_held_mutex_keeps_it_held() -> TestResult {
    let m = crate::kernel::mutex::Mutex::new(0u32);
    let held = m.lock();
    if m.try_lock().is_some() {
        return Err("try_lock took a mutex another guard holds");
    }
    if !m.is_locked() {
        return Err("a failed try_lock unlocked the holder's mutex");
    }
    drop(held);
    if m.is_locked() || m.try_lock().is_none() {
        return Err("the mutex is not free after its guard went");
    }
    Ok(())
}
