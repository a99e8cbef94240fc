//! Kernel threads (Linux's kernel/kthread.c and the stack half of
//! kernel/fork.c): `kthread_run` gives a thread a kernel stack and hands it
//! to the scheduler; what exited threads leave is freed here, by the next
//! `kthread_run`, `kthread_wait`, or the idle loop.
//!
//! Each thread has a kernel stack of `THREAD_SIZE` from vmalloc, made when
//! the thread is and freed once it has exited, so there are as many stacks
//! as threads. Why vmalloc and not pages from the page allocator with Linux's
//! `STACK_END_MAGIC` checked at every switch: every vmalloc area is
//! followed by an unmapped guard page, so the page below any area is
//! unmapped too; an overflow faults on its first write (reported by the
//! double-fault task, which names the stack) instead of corrupting the
//! neighbouring memory first and being noticed, maybe, at the next switch.

use crate::kernel::preempt::might_sleep;
use crate::kernel::sched::{self, THREAD_SIZE};
use crate::mm::gfp::{Gfp, GFP_KERNEL};
use crate::mm::vmalloc;
use crate::mm::vmap_area::VmallocError;
use crate::mm::vmstat::NR_KERNEL_STACK;
use core::fmt;
use core::sync::atomic::Ordering;

/// Why `kthread_run` made no thread. Nothing is left allocated.
#[derive(Debug)]
pub enum KthreadError {
    /// No memory (or vmalloc space) for its stack.
    NoStack(VmallocError),
    /// No memory for its entry in a table.
    NoMemory,
}

impl fmt::Display for KthreadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KthreadError::NoStack(e) => write!(f, "no kernel stack: {}", e),
            KthreadError::NoMemory => write!(f, "no memory for its process entry"),
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
    let stack = vmalloc::__vmalloc(THREAD_SIZE, GFP_KERNEL | Gfp::NOFAIL).map_err(KthreadError::NoStack)?;
    NR_KERNEL_STACK.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the THREAD_SIZE bytes were just vmalloc'd for this thread and
    // nothing else holds them; they are vfree'd only by `reap_dead`, after
    // the scheduler has handed them back from the exited thread.
    Ok(unsafe { sched::wake_up_new_task(name, entry, arg, stack.as_ptr() as usize) })
}

/// Free the stacks of exited threads. Process context only: vfree may sleep.
pub fn reap_dead() {
    while let Some(stack) = sched::take_dead() {
        // SAFETY: the stack kthread_run vmalloc'd for a thread that has
        // exited and switched away for good; the scheduler handed it back
        // once, and nothing else knows of it.
        unsafe { vmalloc::vfree(stack as *const u8) };
        NR_KERNEL_STACK.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Sleep until thread `pid` has exited, then free what exited threads left.
pub fn kthread_wait(pid: u32) {
    sched::wait_for_exit(pid);
    reap_dead();
}

/// The idle loop: the boot thread ends here once the system is up, and
/// frees what exited threads left when nobody else will.
pub fn cpu_idle() -> ! {
    // Linux's rest_init: "The boot idle thread must execute schedule() at
    // least once to get things moving". The threads kmain started are
    // runnable, but starting one asks for no reschedule, so they would
    // wait until the boot thread's timeslice ran out: up to TIMESLICE
    // ticks (50 ms) of every boot before the shell's prompt.
    sched::schedule();
    loop {
        if sched::nr_dead() != 0 {
            reap_dead();
        }
        sched::idle_once();
    }
}

/// Whether the page below every thread's stack is unmapped (for tests).
#[cfg(feature = "ktest")]
pub fn guard_pages_unmapped() -> bool {
    let boot_lo = core::ptr::addr_of!(crate::arch::x86::boot_stack) as usize;
    sched::task_stacks().iter().all(|&(lo, _)| {
        if lo == boot_lo {
            !crate::arch::x86::mm::init::early_page_present(
                core::ptr::addr_of!(crate::arch::x86::boot_stack_guard) as usize
            )
        } else {
            !vmalloc::kernel_page_present(lo - crate::layout::PAGE_SIZE)
        }
    })
}
