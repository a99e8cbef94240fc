//! Moving pages to and from swap (Linux's mm/page_io.c): one page per
//! transfer, synchronous. Linux submits a bio and lets the page's lock and
//! writeback bits say when it is done; a PIO disk moves the data through
//! the CPU anyway, so the transfer simply happens here, and the caller
//! holds the page (isolated, or not yet visible to anyone) meanwhile.

use super::pgtable::SwpEntry;
use super::swap_header::{self, HeaderError, SwapHeader, SECTORS_PER_PAGE, SWAP_PAGE_SIZE};
use super::swapfile::{swap_device, IoError, SwapDevice};
use super::vmstat::{count_vm_event, count_vm_events, VmEvent};
use crate::arch::x86::ata::{self, AtaChannel, AtaDisk, AtaError};
use crate::kernel::mutex::Mutex;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

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

// --- the IDE disks that can hold swap ---

/// The IDE channels, each owned here once probed and lent under its lock
/// (a sleeping one: a page of PIO takes a while, and the holder may be
/// preempted).
static ATA_CHANNELS: [spin::Once<Mutex<AtaChannel>>; ata::ATA_PORTS] = [spin::Once::new(), spin::Once::new()];

/// Keep probed channel `ch` for the swap code (`kmain`, once per channel).
pub fn register_ata_channel(ch: AtaChannel) {
    let port = ch.port();
    ATA_CHANNELS[port].call_once(|| Mutex::new(ch));
}

/// IDE channel `port` (0: ata1, 1: ata2) under its lock, once `kmain` has
/// probed it.
pub fn ata_channel(port: usize) -> Option<&'static Mutex<AtaChannel>> {
    ATA_CHANNELS.get(port)?.get()
}

/// An ATA disk and the lock of its channel: what `swapon` needs to read
/// and write it (`channel.lock().read_sectors(disk.id.drive as usize, ..)`).
#[derive(Clone, Copy)]
pub struct SwapDisk {
    pub channel: &'static Mutex<AtaChannel>,
    pub disk: AtaDisk,
}

/// Why a disk cannot be swapped on: its page 0 could not be read, or it
/// holds no usable swap header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SwapProbeError {
    Io(AtaError),
    Header(HeaderError),
}

impl fmt::Display for SwapProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwapProbeError::Io(e) => write!(f, "cannot read the swap header: {}", e),
            SwapProbeError::Header(e) => write!(f, "{}", e),
        }
    }
}

/// Read and check page 0 of `disk` (on the channel `ch`, held by the
/// caller) as `sys_swapon` does.
pub fn read_swap_header(ch: &mut AtaChannel, disk: &AtaDisk) -> Result<SwapHeader, SwapProbeError> {
    let mut page = Box::new([0u8; SWAP_PAGE_SIZE]);
    ch.read_sectors(disk.id.drive as usize, 0, &mut page[..]).map_err(SwapProbeError::Io)?;
    swap_header::parse(&page, disk.sectors / SECTORS_PER_PAGE).map_err(SwapProbeError::Header)
}

/// Every ATA disk with what its page 0 says, in name order (sda first):
/// the candidates of `swapon`. Takes each channel's lock in turn.
pub fn probe_swap_disks() -> Vec<(SwapDisk, Result<SwapHeader, SwapProbeError>)> {
    let mut found = Vec::new();
    for channel in (0..ata::ATA_PORTS).filter_map(ata_channel) {
        let mut ch = channel.lock();
        for drive in 0..2 {
            if let Some(&disk) = ch.disk(drive) {
                let header = read_swap_header(&mut ch, &disk);
                found.push((SwapDisk { channel, disk }, header));
            }
        }
    }
    found
}

/// A swap area on an ATA disk: the disk, its channel's lock, and a lowmem
/// page to move data through. PIO copies every word through the CPU, and
/// a user page may be in highmem: the data goes through this bounce page
/// (meminfo's `Bounce:` is Linux's count of such pages in flight), copied
/// to or from the frame with `kmap_atomic`.
struct AtaSwap {
    name: alloc::string::String,
    disk: SwapDisk,
    bounce: Mutex<Box<[u8; SWAP_PAGE_SIZE]>>,
}

impl AtaSwap {
    fn sector(&self, page: u32) -> u64 {
        page as u64 * SECTORS_PER_PAGE
    }
}

fn io_error(e: AtaError, what: &'static str, sector: u64) -> IoError {
    crate::pr_err!("{}", e);
    IoError { what, sector }
}

impl SwapDevice for AtaSwap {
    fn name(&self) -> &str {
        &self.name
    }

    fn nr_pages(&self) -> u64 {
        self.disk.disk.sectors / SECTORS_PER_PAGE
    }

    fn read_page(&self, page: u32, pfn: u32) -> Result<(), IoError> {
        let sector = self.sector(page);
        let mut buf = self.bounce.lock();
        self.disk
            .channel
            .lock()
            .read_sectors(self.disk.disk.id.drive as usize, sector, &mut buf[..])
            .map_err(|e| io_error(e, "read error", sector))?;
        // SAFETY: the caller owns frame `pfn` (a new page nobody maps yet).
        unsafe { super::highmem::memcpy_to_page(pfn, 0, &buf[..]) };
        Ok(())
    }

    fn write_page(&self, page: u32, pfn: u32) -> Result<(), IoError> {
        let sector = self.sector(page);
        let mut buf = self.bounce.lock();
        // SAFETY: the caller holds frame `pfn` (isolated, mapped nowhere
        // writable), so its bytes do not change while they are copied.
        unsafe { super::highmem::memcpy_from_page(&mut buf[..], pfn, 0) };
        self.disk
            .channel
            .lock()
            .write_sectors(self.disk.disk.id.drive as usize, sector, &buf[..])
            .map_err(|e| io_error(e, "write error", sector))
    }
}

/// Linux's `sys_swapon` for ATA disk `name` (`/dev/sda` or `sda`): read
/// and check its header, then activate it (`swapfile::swapon_area`).
pub fn swapon_device(name: &str, prio: Option<i16>) -> Result<(), alloc::string::String> {
    use alloc::string::ToString;
    let short = name.strip_prefix("/dev/").unwrap_or(name);
    let found =
        probe_swap_disks().into_iter().find(|(d, _)| d.disk.id.sd_name().is_some_and(|n| n.to_string() == short));
    let Some((disk, header)) = found else {
        return Err("No such device (the ATA disks are listed at boot as sda, sdb...)".into());
    };
    let header = header.map_err(|e| e.to_string())?;
    let bounce = Box::<[u8; SWAP_PAGE_SIZE]>::try_new_zeroed().map_err(|_| "Cannot allocate memory".to_string())?;
    // SAFETY: zeroed bytes are a valid array of u8.
    let bounce = unsafe { bounce.assume_init() };
    let dev = AtaSwap { name: alloc::format!("/dev/{short}"), disk, bounce: Mutex::new(bounce) };
    let limit = u32::try_from(dev.nr_pages()).unwrap_or(u32::MAX).min(super::pgtable::SwpEntry::MAX_OFFSET + 1);
    let (maxpages, truncated) = header.maxpages(limit);
    if let Some(t) = truncated {
        crate::pr_warn!("{}: {}", dev.name, t);
    }
    let last_page = maxpages.saturating_sub(1);
    super::swapfile::swapon_area(alloc::sync::Arc::new(dev), last_page, &header.bad_pages, prio)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Linux's `swapin_readahead`: after a fault read the page at `e`, the
/// other slots of its aligned cluster of 2^`vm.page-cluster` pages (8 by
/// default) that are in use and not cached are read into the swap cache
/// too, so a process walking its memory in order faults to the disk once
/// per cluster. A readahead page is a guess: its allocation neither warns
/// nor retries, and a failure ends the readahead.
pub fn swapin_readahead(e: SwpEntry) {
    use super::gfp::{Gfp, GFP_HIGHUSER_MOVABLE};
    use super::swapfile::{add_prepared_to_swap_cache, swapcache_abort, swapcache_prepare};
    let n = 1u32 << super::sysctl::PAGE_CLUSTER.load(core::sync::atomic::Ordering::Relaxed).min(5);
    let first = e.offset() & !(n - 1);
    for off in first..first.saturating_add(n) {
        if off == e.offset() || off == 0 || off > SwpEntry::MAX_OFFSET {
            continue;
        }
        let ra = SwpEntry::new(e.ty(), off);
        if !swapcache_prepare(ra) {
            continue;
        }
        let Some(page) = super::page_alloc::alloc_pages(GFP_HIGHUSER_MOVABLE | Gfp::NOWARN | Gfp::NORETRY, 0) else {
            swapcache_abort(ra);
            return;
        };
        let pfn = page.pfn();
        if swap_readpage(ra, pfn).is_err() {
            swapcache_abort(ra);
            super::page_alloc::__free_pages(page);
            return;
        }
        if !add_prepared_to_swap_cache(pfn, ra) {
            super::page_alloc::__free_pages(page);
            continue;
        }
        let _ = page.into_raw();
        super::swap::lru_cache_add(pfn);
        // The allocation's reference goes; the cache's stays.
        super::swap::put_page(pfn);
    }
}
