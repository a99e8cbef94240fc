//! The two cascaded 8259A interrupt controllers. The BIOS leaves IRQ 0-7 on
//! vectors 8-15, on top of CPU exceptions; we move IRQ 0-15 to vectors 32-47.

use super::cpu::{inb, outb};

const PIC1_CMD: u16 = 0x20;
const PIC1_DATA: u16 = 0x21;
const PIC2_CMD: u16 = 0xa0;
const PIC2_DATA: u16 = 0xa1;
const OCW3_READ_IRR: u8 = 0x0a;
const EOI: u8 = 0x20;

/// Vector of IRQ 0.
pub const IRQ_BASE: u8 = 32;
pub const NR_IRQS: usize = 16;

/// Remap both PICs and mask every line; drivers unmask what they use.
pub fn init() {
    outb(PIC1_CMD, 0x11); // ICW1: edge triggered, cascade, ICW4 follows
    outb(PIC2_CMD, 0x11);
    outb(PIC1_DATA, IRQ_BASE); // ICW2: vector offsets
    outb(PIC2_DATA, IRQ_BASE + 8);
    outb(PIC1_DATA, 1 << 2); // ICW3: slave on IRQ 2
    outb(PIC2_DATA, 2);
    outb(PIC1_DATA, 0x01); // ICW4: 8086 mode
    outb(PIC2_DATA, 0x01);
    outb(PIC1_DATA, !(1 << 2)); // all masked but the cascade
    outb(PIC2_DATA, 0xff);
}

pub fn unmask(irq: u8) {
    let (port, bit) = if irq < 8 { (PIC1_DATA, irq) } else { (PIC2_DATA, irq - 8) };
    outb(port, inb(port) & !(1 << bit));
}

pub fn eoi(irq: u8) {
    if irq >= 8 {
        outb(PIC2_CMD, EOI);
    }
    outb(PIC1_CMD, EOI);
}

/// Whether `irq` (0-7) is raised but not yet serviced.
pub fn pending(irq: u8) -> bool {
    outb(PIC1_CMD, OCW3_READ_IRR);
    inb(PIC1_CMD) & (1 << irq) != 0
}

/// Read the in-service register of both PICs (for spurious-IRQ checks).
pub fn in_service(irq: u8) -> bool {
    let (port, bit) = if irq < 8 { (PIC1_CMD, irq) } else { (PIC2_CMD, irq - 8) };
    outb(port, 0x0b);
    inb(port) & (1 << bit) != 0
}
