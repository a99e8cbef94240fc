//! Moving pages to and from swap (Linux's mm/page_io.c): one page per
//! transfer, synchronous. Linux submits a bio and lets the page's lock and
//! writeback bits say when it is done; a PIO disk moves the data through
//! the CPU anyway, so the transfer simply happens here, and the caller
//! holds the page (isolated, or not yet visible to anyone) meanwhile.

use super::pgtable::SwpEntry;
use super::swapfile::{swap_device, IoError};
use super::vmstat::{count_vm_event, count_vm_events, VmEvent};

/// Read the page at swap entry `e` into frame `pfn` (Linux's
/// `swap_readpage`); the caller holds a count on the slot.
pub fn swap_readpage(e: SwpEntry, pfn: u32) -> Result<(), IoError> {
    let (dev, slot) = swap_device(e).ok_or(IoError { what: "no active swap area for the entry", sector: 0 })?;
    dev.read_page(slot, pfn)?;
    count_vm_event(VmEvent::PswpIn);
    // `pgpgin` counts kB on Linux.
    count_vm_events(VmEvent::PgPgIn, 4);
    Ok(())
}

/// Write frame `pfn` to the slot of swap entry `e` (Linux's
/// `swap_writepage`).
pub fn swap_writepage(e: SwpEntry, pfn: u32) -> Result<(), IoError> {
    let (dev, slot) = swap_device(e).ok_or(IoError { what: "no active swap area for the entry", sector: 0 })?;
    dev.write_page(slot, pfn)?;
    count_vm_event(VmEvent::PswpOut);
    count_vm_events(VmEvent::PgPgOut, 4);
    Ok(())
}
