//! The 8253/8254 programmable interval timer, channel 0 on IRQ 0: the tick.

use super::cpu::{inb, local_irq_restore, local_irq_save, outb};
use super::pic;
use core::sync::atomic::{AtomicU64, Ordering};

/// Ticks per second. Linux 2.6 on i386 offered 100, 250 and 1000; 100 keeps the
/// interrupt load low under QEMU's emulation and gives 10 ms time slices.
pub const HZ: u64 = 100;
/// Input clock of the PIT.
pub const CLOCK_TICK_RATE: u64 = 1_193_182;
/// Counter reload value, rounded as Linux's `LATCH`.
pub const LATCH: u64 = (CLOCK_TICK_RATE + HZ / 2) / HZ;

/// Ticks since boot.
pub static JIFFIES: AtomicU64 = AtomicU64::new(0);

pub fn init() {
    outb(0x43, 0x34); // channel 0, lobyte/hibyte, mode 2 (rate generator)
    outb(0x40, (LATCH & 0xff) as u8);
    outb(0x40, (LATCH >> 8) as u8);
    pic::unmask(0);
}

pub fn jiffies() -> u64 {
    JIFFIES.load(Ordering::Relaxed)
}

/// Microseconds since the timer started: jiffies plus the part of the current
/// tick that has elapsed, read from the counter.
pub fn clock_us() -> u64 {
    let flags = local_irq_save();
    let mut j = JIFFIES.load(Ordering::Relaxed);
    outb(0x43, 0x00); // latch channel 0
    let lo = inb(0x40) as u64;
    let hi = inb(0x40) as u64;
    let count = (hi << 8) | lo;
    // The counter wrapped but the tick is not handled yet: count it now.
    if pic::pending(0) && count > LATCH / 2 {
        j += 1;
    }
    let elapsed = LATCH.saturating_sub(count);
    let now = j * (1_000_000 / HZ) + elapsed * 1_000_000 / CLOCK_TICK_RATE;
    // The counter and the tick can disagree for a moment around a reload (the
    // IRQ not yet raised): never let the clock step back because of it.
    let now = now.max(LAST_US.load(Ordering::Relaxed));
    LAST_US.store(now, Ordering::Relaxed);
    local_irq_restore(flags);
    now
}

static LAST_US: AtomicU64 = AtomicU64::new(0);
