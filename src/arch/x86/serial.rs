//! The 16550 UART on COM1: the console. Output is polled (a crash report must
//! get out with interrupts off); input arrives by IRQ 4 and is handed to the tty.

use super::cpu::{inb, outb};
use super::pic;

const COM1: u16 = 0x3f8;
const DATA: u16 = COM1;
const IER: u16 = COM1 + 1;
const FCR: u16 = COM1 + 2;
const LCR: u16 = COM1 + 3;
const MCR: u16 = COM1 + 4;
const LSR: u16 = COM1 + 5;
const LSR_DATA_READY: u8 = 0x01;
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

pub fn enable_rx_irq() {
    outb(IER, 0x01); // received data available
    pic::unmask(IRQ);
}

pub fn write_byte(b: u8) {
    while inb(LSR) & LSR_THR_EMPTY == 0 {
        core::hint::spin_loop();
    }
    outb(DATA, b);
}

/// Write bytes, turning `\n` into `\r\n` for terminals.
pub fn write_bytes(s: &[u8]) {
    for &b in s {
        if b == b'\n' {
            write_byte(b'\r');
        }
        write_byte(b);
    }
}

/// A received byte, if any (polling; the IRQ handler drains with this too).
pub fn read_byte() -> Option<u8> {
    if inb(LSR) & LSR_DATA_READY != 0 {
        Some(inb(DATA))
    } else {
        None
    }
}

/// IRQ 4: move every waiting byte to the tty.
pub fn irq_handler() {
    while let Some(b) = read_byte() {
        crate::kernel::tty::receive(b);
    }
}
