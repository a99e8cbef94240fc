//! Preemption and interrupt context (Linux's include/linux/preempt.h,
//! hardirq.h and `__might_sleep` of kernel/sched.c): the counts that say
//! whether the running code may sleep, and the report when it calls
//! something that may while it must not.
//!
//! The preempt count belongs to the running thread: the scheduler saves it
//! at every switch ([`save_count`]/[`restore_count`]). The interrupt depth
//! belongs to the CPU: handlers are balanced and never switch away.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Preemption is off while this is non-zero (spinlocks, kmap_atomic, irq handlers).
static PREEMPT_COUNT: AtomicU32 = AtomicU32::new(0);
/// Interrupt handlers running (nested ones included).
static IRQ_DEPTH: AtomicU32 = AtomicU32::new(0);

/// The running thread's own preempt count, for the scheduler to save at a switch.
#[inline]
pub(super) fn save_count() -> u32 {
    PREEMPT_COUNT.load(Ordering::Relaxed)
}

/// Install the next thread's preempt count (the scheduler, at a switch).
#[inline]
pub(super) fn restore_count(c: u32) {
    PREEMPT_COUNT.store(c, Ordering::Relaxed);
}

/// Entering an interrupt handler (Linux's `irq_enter`).
#[inline]
pub fn irq_enter() {
    IRQ_DEPTH.fetch_add(1, Ordering::Relaxed);
}

/// Leaving one (Linux's `irq_exit`); the trap code then offers the CPU to
/// the scheduler (`sched::preempt_schedule_irq`).
#[inline]
pub fn irq_exit() {
    IRQ_DEPTH.fetch_sub(1, Ordering::Relaxed);
}

/// Whether preemption is allowed now (no `preempt_disable` or `SpinLock` held).
#[inline]
pub fn preemptible() -> bool {
    PREEMPT_COUNT.load(Ordering::Relaxed) == 0
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

/// Unlike Linux's, not a preemption point: a reschedule asked for while
/// preemption was off waits for the next interrupt's exit (at most one tick).
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
/// Wider than Linux's `in_atomic()` (`preempt_count() != 0`): interrupts
/// off counts too, which covers every `IrqLock` holder (their depth is not
/// read here) and what Linux checks separately with `irqs_disabled()`.
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
    // Only the test is inline: allocators and kmap call this every time.
    // The common answer, "allowed", is EFLAGS and one load.
    let irqs_on = crate::arch::x86::cpu::irqs_enabled();
    if !might_sleep_fast_ok(irqs_on) && might_sleep_check(irqs_on) {
        might_sleep_report(what, core::panic::Location::caller(), !irqs_on);
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

/// The fast path of `might_sleep` for a caller that has just saved EFLAGS
/// (the slab's hit paths): true when sleeping is certainly allowed, with
/// one load. Interrupts on already rule out interrupt context: a handler
/// runs with them off from entry to `irq_exit` (interrupt gates, and
/// `handle_irq` never turns them on), and every `IrqLock` holder keeps them
/// off. False sends the caller to its slow path, which runs the whole check
/// ([`might_sleep_check`]) and reports.
#[inline(always)]
pub fn might_sleep_fast_ok(irqs_were_enabled: bool) -> bool {
    debug_assert!(!irqs_were_enabled || IRQ_DEPTH.load(Ordering::Relaxed) == 0, "interrupt handler with interrupts on");
    irqs_were_enabled && PREEMPT_COUNT.load(Ordering::Relaxed) == 0
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
