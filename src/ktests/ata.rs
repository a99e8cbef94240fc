//! In-kernel tests of the ATA driver (`arch::x86::ata`) and of the swap
//! header probe (`init::probe_swap_disks`), on the first ATA disk: the
//! swap disk tests/qemu.py attaches to the ktest boot (`make run` attaches
//! one too). Without a disk they are skipped, saying so.
//!
//! The tests write only beyond the swap header, hold the channel's lock
//! from the first read to the restore, and put the original bytes back
//! through a guard on every path, so a swap area on the disk (even one in
//! use) reads the same afterwards.

use super::memory::counts_come_back;
use super::{skip, TestResult};
use crate::arch::x86::ata::{AtaChannel, AtaErrorKind, SECTOR_SIZE};
use crate::arch::x86::pit;
use crate::kernel::mutex::MutexGuard;
use crate::mm::page_io::{ata_channel, probe_swap_disks};
use crate::mm::swap_header::SECTORS_PER_PAGE;
use crate::{pr_err, pr_info};
use ::alloc::format;
use ::alloc::vec;
use ::alloc::vec::Vec;

const NO_DISK: &str = "no ATA disk on this boot (tests/qemu.py attaches a swap disk to the ktest boot)";

/// The channel of the first ATA disk (sda), locked, and the disk's drive
/// and size in sectors.
fn first_disk() -> Result<(MutexGuard<'static, AtaChannel>, usize, u64), &'static str> {
    for channel in (0..2).filter_map(ata_channel) {
        let ch = channel.lock();
        if let Some((drive, sectors)) = (0..2).find_map(|d| ch.disk(d).map(|disk| (d, disk.sectors))) {
            return Ok((ch, drive, sectors));
        }
    }
    Err(skip(NO_DISK))
}

/// Sectors `lba..lba + orig.len() / 512` as they were: written back (and
/// flushed) when the test ends, however it ends.
struct Restore<'a> {
    ch: &'a mut AtaChannel,
    drive: usize,
    lba: u64,
    orig: Vec<u8>,
}

impl Restore<'_> {
    fn save(ch: &mut AtaChannel, drive: usize, lba: u64, sectors: usize) -> Result<Restore<'_>, &'static str> {
        let mut orig = vec![0u8; sectors * SECTOR_SIZE];
        ch.read_sectors(drive, lba, &mut orig).map_err(|e| {
            pr_err!("ktest: {}", e);
            "reading the sectors to restore failed"
        })?;
        Ok(Restore { ch, drive, lba, orig })
    }
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        let r = self.ch.write_sectors(self.drive, self.lba, &self.orig).and_then(|()| self.ch.flush_cache(self.drive));
        if let Err(e) = r {
            pr_err!("ktest: restoring {} sectors at LBA {} failed: {}", self.orig.len() / SECTOR_SIZE, self.lba, e);
        }
    }
}

/// A pattern in which every sector differs from every other: its LBA in
/// its first 8 bytes, then bytes that depend on the LBA and the offset.
fn pattern(lba: u64, sectors: usize, seed: u8) -> Vec<u8> {
    let mut buf = vec![0u8; sectors * SECTOR_SIZE];
    for (s, sector) in buf.chunks_exact_mut(SECTOR_SIZE).enumerate() {
        let at = lba + s as u64;
        sector[..8].copy_from_slice(&at.to_le_bytes());
        for (i, b) in sector.iter_mut().enumerate().skip(8) {
            *b = (at as usize * 131 + i * 7) as u8 ^ seed;
        }
    }
    buf
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// Two pages after the header, written, flushed, read back whole and at an
/// offset (a page that straddles them); a transfer of 300 sectors (two
/// commands: 256 + 44); then the original bytes restored.
pub fn writes_read_back_and_are_restored() -> TestResult {
    counts_come_back(|| {
        let (mut ch, drive, sectors) = first_disk()?;
        let lba = SECTORS_PER_PAGE; // page 1: page 0 is the swap header
        if sectors < lba + 300 {
            return Err(skip("the ATA disk is under 152 KiB: no room for the test beyond the header"));
        }
        let g = Restore::save(&mut ch, drive, lba, 300)?;
        for (n, seed) in [(16usize, 0x5au8), (300, 0xc3)] {
            let data = pattern(lba, n, seed);
            g.ch.write_sectors(drive, lba, &data).map_err(|e| {
                pr_err!("ktest: {}", e);
                "write_sectors failed"
            })?;
            g.ch.flush_cache(drive).map_err(|e| {
                pr_err!("ktest: {}", e);
                "flush_cache failed"
            })?;
            let mut back = vec![0u8; n * SECTOR_SIZE];
            g.ch.read_sectors(drive, lba, &mut back).map_err(|e| {
                pr_err!("ktest: {}", e);
                "read_sectors failed"
            })?;
            if let Some(at) = first_difference(&data, &back) {
                pr_info!("ktest: {} sectors at LBA {}: byte {} differs", n, lba, at);
                return Err("what was read back differs from what was written");
            }
            // One page from the middle: the LBA reaches the disk intact.
            let mut page = vec![0u8; 4096];
            g.ch.read_sectors(drive, lba + 4, &mut page).map_err(|_| "read of a page at LBA + 4 failed")?;
            if page[..] != data[4 * SECTOR_SIZE..12 * SECTOR_SIZE] {
                return Err("a page read at another LBA is not the sectors written there");
            }
        }
        let orig = g.orig.clone();
        drop(g);
        // The guard's restore must have landed.
        let mut now = vec![0u8; 300 * SECTOR_SIZE];
        ch.read_sectors(drive, lba, &mut now).map_err(|_| "reading after the restore failed")?;
        if now != orig {
            return Err("the original sectors were not written back");
        }
        Ok(())
    })
}

/// Past the disk's end: refused before any I/O with a message that names
/// the disk and the LBA; sent anyway (test kernels can), the device's own
/// error comes back at once, and the channel still works afterwards.
pub fn beyond_the_end_is_refused_not_hung() -> TestResult {
    counts_come_back(|| {
        let (mut ch, drive, sectors) = first_disk()?;
        let mut buf = vec![0u8; 4096];
        ch.read_sectors(drive, sectors - 8, &mut buf).map_err(|_| "the disk's last page cannot be read")?;
        let e = ch.read_sectors(drive, sectors - 4, &mut buf).err().ok_or("a read past the end succeeded")?;
        if !matches!(e.kind, AtaErrorKind::BeyondEnd { sectors: 8, limit } if limit == sectors) {
            pr_info!("ktest: {}", e);
            return Err("a read past the end is not refused as BeyondEnd");
        }
        let text = format!("{}", e);
        let id = ch.disk(drive).ok_or("the disk went away")?.id;
        let want = format!("{}: READ SECTORS at LBA {}: attempt to access beyond end of device", id, sectors - 4);
        if id.sd != Some(0) || !text.starts_with("sda (ata") || !text.starts_with(&want) {
            pr_info!("ktest: got '{}', want it to start with '{}'", text, want);
            return Err("the error does not name the disk and the LBA");
        }
        let start = pit::jiffies();
        let r = ch.read_sectors_unchecked(drive, sectors - 1, &mut buf[..2 * SECTOR_SIZE]);
        let took = pit::jiffies() - start;
        match r {
            Err(e) if matches!(e.kind, AtaErrorKind::Device { status, error } if status & 1 != 0 && error != 0) => {
                pr_info!("ktest: the disk refused: {}", e)
            }
            Err(e) => {
                pr_info!("ktest: {}", e);
                return Err("the device's refusal did not come back as a device error");
            }
            Ok(()) => return Err("the disk read past its end"),
        }
        if took > pit::HZ / 2 {
            return Err("the device's error took over half a second to come back");
        }
        ch.read_sectors(drive, 0, &mut buf).map_err(|_| "the channel no longer reads after the error")?;
        Ok(())
    })
}

/// Buffers that are not whole sectors, and a drive with no disk, are
/// refused without I/O.
pub fn bad_requests_are_refused() -> TestResult {
    counts_come_back(|| {
        let (mut ch, drive, _) = first_disk()?;
        for len in [0usize, 100, 513] {
            let mut buf = vec![0u8; len];
            match ch.read_sectors(drive, 8, &mut buf) {
                Err(e) if e.kind == AtaErrorKind::BadLength(len) => {}
                _ => return Err("a buffer of a part sector was not refused"),
            }
            match ch.write_sectors(drive, 8, &buf) {
                Err(e) if e.kind == AtaErrorKind::BadLength(len) => {}
                _ => return Err("a write of a part sector was not refused"),
            }
        }
        if ch.disk(1 - drive).is_none() {
            let mut buf = vec![0u8; SECTOR_SIZE];
            match ch.read_sectors(1 - drive, 0, &mut buf) {
                Err(e) if e.kind == AtaErrorKind::NoDisk => {}
                _ => return Err("a read from a position without a disk was not refused"),
            }
        }
        Ok(())
    })
}

/// The swap disk's page 0 read through `probe_swap_disks`: mkswap's header
/// for the whole disk (tests/qemu.py makes it with the real mkswap).
pub fn probe_swap_disks_reads_the_header() -> TestResult {
    counts_come_back(|| {
        let found = probe_swap_disks();
        let (disk, header) = found.first().ok_or_else(|| skip(NO_DISK))?;
        let h = header.as_ref().map_err(|e| {
            pr_info!("ktest: {}: {}", disk.disk.id, e);
            "the first ATA disk has no valid swap header (is it the mkswap image?)"
        })?;
        if h.last_page as u64 + 1 != disk.disk.sectors / SECTORS_PER_PAGE || !h.bad_pages.is_empty() {
            pr_info!("ktest: last_page {} on {} sectors", h.last_page, disk.disk.sectors);
            return Err("the header does not cover the whole disk as mkswap writes it");
        }
        Ok(())
    })
}
