//! The 16550 UART on COM1: the console's registers. Output is polled (a
//! crash report must get out with interrupts off); input arrives by IRQ 4,
//! whose handler is the tty's (`kernel::tty`): it drains `read_byte` and
//! switches the receive interrupt off and on (`disable_rx_irq`,
//! `enable_rx_irq`) to throttle the sender.

use super::cpu::{inb, outb};
use core::sync::atomic::{AtomicU32, Ordering};

const COM1: u16 = 0x3f8;
const DATA: u16 = COM1;
const IER: u16 = COM1 + 1;
const FCR: u16 = COM1 + 2;
const LCR: u16 = COM1 + 3;
const MCR: u16 = COM1 + 4;
const LSR: u16 = COM1 + 5;
const LSR_DATA_READY: u8 = 0x01;
const LSR_OVERRUN: u8 = 0x02;
const IER_RX_AVAILABLE: u8 = 0x01;
const LSR_THR_EMPTY: u8 = 0x20;
pub const IRQ: u8 = 4;

/// 115200 baud, 8N1, FIFOs on; receive interrupts are enabled by `enable_rx_irq`.
pub fn init() {
    outb(IER, 0x00);
    outb(LCR, 0x80); // DLAB on: set the divisor
    outb(DATA, 0x01); // 115200 = 115200 / 1
    outb(IER, 0x00);
    outb(LCR, 0x03); // 8 bits, no parity, one stop bit
                     // Enable the FIFOs and clear the transmit side only: a byte typed (or
                     // piped) before the kernel started must not be thrown away.
    outb(FCR, 0xc5);
    outb(MCR, 0x0b); // DTR, RTS, OUT2 (OUT2 gates the IRQ line)
}

/// Interrupt on received data (the PIC line is unmasked by `request_irq`).
pub fn enable_rx_irq() {
    outb(IER, IER_RX_AVAILABLE);
}

/// No more receive interrupts: bytes stay in the UART's FIFO.
pub fn disable_rx_irq() {
    outb(IER, 0);
}

/// Receive overruns the UART reported (bytes it had to drop), not yet taken.
static OVERRUNS: AtomicU32 = AtomicU32::new(0);

/// Overruns since the last call (the tty reports them).
pub fn take_overruns() -> u32 {
    OVERRUNS.swap(0, Ordering::Relaxed)
}

pub fn write_byte(b: u8) {
    while inb(LSR) & LSR_THR_EMPTY == 0 {
        core::hint::spin_loop();
    }
    outb(DATA, b);
}

/// Calls of `write_bytes` made with interrupts masked: the console writes
/// with interrupts on when its caller has them on, and a test checks that.
pub static WRITES_IRQS_OFF: AtomicU32 = AtomicU32::new(0);
/// Calls of `write_bytes`, for the same test.
pub static WRITES: AtomicU32 = AtomicU32::new(0);

/// Write bytes, turning `\n` into `\r\n` for terminals.
pub fn write_bytes(s: &[u8]) {
    WRITES.fetch_add(1, Ordering::Relaxed);
    if !super::cpu::irqs_enabled() {
        WRITES_IRQS_OFF.fetch_add(1, Ordering::Relaxed);
    }
    for &b in s {
        if b == b'\n' {
            write_byte(b'\r');
        }
        write_byte(b);
    }
}

/// A received byte, if any (polling; the IRQ handler drains with this too).
pub fn read_byte() -> Option<u8> {
    let lsr = inb(LSR); // reading LSR clears its overrun bit
    if lsr & LSR_OVERRUN != 0 {
        OVERRUNS.fetch_add(1, Ordering::Relaxed);
    }
    if lsr & LSR_DATA_READY != 0 {
        Some(inb(DATA))
    } else {
        None
    }
}
