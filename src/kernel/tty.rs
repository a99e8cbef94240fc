//! The console tty: bytes from the UART's interrupt wait here until the
//! shell reads them.
//!
//! Nothing is dropped when the reader is slow. When the ring is full the
//! interrupt handler stops taking bytes and the UART stops interrupting
//! (Linux's tty throttling, `tty_throttle()`): the bytes stay in the UART,
//! and a UART whose FIFO is full makes QEMU stop reading its input, so a
//! pipe of any length is held back instead of cut. The reader restarts the
//! UART once the ring is half empty (`tty_unthrottle()`). Bytes the UART
//! itself lost (an overrun on real hardware) are reported by the reader.

use super::sync::IrqLock;
use super::wait::WaitQueue;
use crate::arch::x86::cpu::{local_irq_restore, local_irq_save};
use crate::arch::x86::serial;

const BUF: usize = 1024;
/// Restart the UART when the ring has drained to this (Linux: TTY_THRESHOLD_UNTHROTTLE).
const UNTHROTTLE_AT: usize = BUF / 2;

struct Ring {
    buf: [u8; BUF],
    head: usize,
    len: usize,
    /// The UART's receive interrupt is off because the ring was full.
    throttled: bool,
}

static INPUT: IrqLock<Ring> = IrqLock::new(Ring { buf: [0; BUF], head: 0, len: 0, throttled: false });
static READERS: WaitQueue = WaitQueue::new();

/// From the UART interrupt: queue the bytes `next` yields while the ring has
/// room, and wake the reader. Returns false if it stopped because the ring is
/// full: the caller then leaves the rest in the UART and stops its receive
/// interrupt, and the reader calls `start_rx` when there is room.
pub fn receive(next: &mut dyn FnMut() -> Option<u8>) -> bool {
    let mut took = false;
    let room = {
        let mut r = INPUT.lock();
        loop {
            if r.len == BUF {
                r.throttled = true;
                break false;
            }
            let Some(b) = next() else { break true };
            let at = (r.head + r.len) % BUF;
            r.buf[at] = b;
            r.len += 1;
            took = true;
        }
    };
    if took {
        READERS.wake_up_all();
    }
    room
}

fn pop() -> Option<u8> {
    let (b, unthrottle) = {
        let mut r = INPUT.lock();
        if r.len == 0 {
            return None;
        }
        let b = r.buf[r.head];
        r.head = (r.head + 1) % BUF;
        r.len -= 1;
        let unthrottle = r.throttled && r.len <= UNTHROTTLE_AT;
        if unthrottle {
            r.throttled = false;
        }
        (b, unthrottle)
    };
    if unthrottle {
        start_rx();
    }
    Some(b)
}

/// Block until a byte arrives.
pub fn read_byte() -> u8 {
    loop {
        let lost = serial::take_overruns();
        if lost != 0 {
            crate::pr_warn!("ttyS0: {} input overrun(s): at least {} received byte(s) lost", lost, lost);
        }
        if let Some(b) = pop() {
            return b;
        }
        READERS.wait_event(|| INPUT.lock().len != 0);
    }
}

/// Ctrl-C, the interrupt character (`VINTR`).
const INTR: u8 = 0x03;

/// Sleep `ticks` jiffies, or until Ctrl-C is typed: the shell's `sleep`,
/// which Linux's tty would end with SIGINT. Returns whether Ctrl-C ended it;
/// then the Ctrl-C and what was typed before it are dropped, as n_tty's
/// `isig()` flushes the input (what came after it stays). Any other input
/// waits in the ring for the shell, as before.
pub fn sleep_interruptible(ticks: u64) -> bool {
    let has_intr = || {
        let r = INPUT.lock();
        (0..r.len).any(|i| r.buf[(r.head + i) % BUF] == INTR)
    };
    if !READERS.wait_event_timeout(has_intr, ticks) {
        return false;
    }
    while pop().is_some_and(|b| b != INTR) {}
    true
}

/// IRQ 4, the UART's receive interrupt (Linux's `serial8250_interrupt` and
/// `receive_chars`): move waiting bytes to the ring while it has room. When
/// it is full, leave the rest in the UART and stop its receive interrupt: a
/// full FIFO makes QEMU stop reading its input (a pipe waits instead of
/// being cut).
pub fn serial_rx_interrupt() {
    if !receive(&mut serial::read_byte) {
        serial::disable_rx_irq();
    }
}

/// The ring has room again: take what waits in the UART, interrupt again.
fn start_rx() {
    let flags = local_irq_save();
    serial::enable_rx_irq();
    serial_rx_interrupt(); // bytes already waiting raise no new edge at the PIC
    local_irq_restore(flags);
}
