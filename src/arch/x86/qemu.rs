//! The two ways out of QEMU: ACPI power-off (exit status 0) and the
//! `isa-debug-exit` device (exit status `(code << 1) | 1`, always odd).

use super::cpu::{halt_forever, outb, outw};

/// Port of `-device isa-debug-exit,iobase=0xf4,iosize=0x04`.
const DEBUG_EXIT_PORT: u16 = 0xf4;
/// QEMU's `pc` machine: writing SLP_EN | S5 here powers off.
const ACPI_PM1A_CNT: u16 = 0x604;

/// Exit status codes written to the debug-exit device. QEMU exits with `(code << 1) | 1`.
pub const EXIT_CRASH: u8 = 1; // QEMU status 3

/// Power the machine off; QEMU exits with status 0.
pub fn poweroff() -> ! {
    outw(ACPI_PM1A_CNT, 0x2000);
    // Not under QEMU (or no ACPI): stop here.
    halt_forever()
}

/// Exit QEMU with a failing status (used after a crash report).
pub fn exit_failure(code: u8) -> ! {
    outb(DEBUG_EXIT_PORT, code);
    halt_forever()
}
