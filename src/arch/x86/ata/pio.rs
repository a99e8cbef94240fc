//! The channel's registers and the polled PIO protocol: IDENTIFY, READ
//! and WRITE SECTORS (EXT), FLUSH CACHE (see `ata.rs` for the story).

use super::{
    AtaDisk, AtaError, AtaErrorKind, DevId, Probe, ATA_BUSY, ATA_DF, ATA_DRQ, ATA_ERR, ATA_PORTS, SECTOR_SIZE,
};
use crate::arch::x86::cpu::{inb, insl, inw, outb, outsl};
use crate::arch::x86::pit;
use core::sync::atomic::{AtomicBool, Ordering};

/// Command and control blocks of the legacy channels.
const PORT_IO: [(u16, u16); ATA_PORTS] = [(0x1f0, 0x3f6), (0x170, 0x376)];

// Task-file registers, offsets from the command block.
const REG_DATA: u16 = 0;
const REG_ERR: u16 = 1;
const REG_NSECT: u16 = 2;
const REG_LBAL: u16 = 3;
const REG_LBAM: u16 = 4;
const REG_LBAH: u16 = 5;
const REG_DEVICE: u16 = 6;
const REG_STATUS: u16 = 7;
const REG_CMD: u16 = 7;

// Device control: no interrupts (nIEN).
const ATA_NIEN: u8 = 0x02;
// Device register: LBA addressing, and the slave bit.
const ATA_LBA: u8 = 0x40;
const ATA_DEV1: u8 = 0x10;

const ATA_CMD_ID_ATA: u8 = 0xec;
const ATA_CMD_ID_ATAPI: u8 = 0xa1;
const ATA_CMD_PIO_READ: u8 = 0x20;
const ATA_CMD_PIO_READ_EXT: u8 = 0x24;
const ATA_CMD_PIO_WRITE: u8 = 0x30;
const ATA_CMD_PIO_WRITE_EXT: u8 = 0x34;
// READ/WRITE MULTIPLE: one DRQ block of `multi` sectors per wait (the
// count IDENTIFY word 59 says is set), LBA28 and LBA48.
const ATA_CMD_READ_MULTI: u8 = 0xc4;
const ATA_CMD_READ_MULTI_EXT: u8 = 0x29;
const ATA_CMD_WRITE_MULTI: u8 = 0xc5;
const ATA_CMD_WRITE_MULTI_EXT: u8 = 0x39;
const ATA_CMD_FLUSH: u8 = 0xe7;
const ATA_CMD_FLUSH_EXT: u8 = 0xea;

/// Timeouts in milliseconds: IDENTIFY (Linux waits longer at boot for real
/// disks to spin up; QEMU answers at once), a transfer's sector, a flush.
const TMOUT_IDENTIFY_MS: u64 = 5_000;
const TMOUT_SECTOR_MS: u64 = 10_000;
const TMOUT_FLUSH_MS: u64 = 30_000;
/// Status reads per millisecond of timeout allowed when the jiffies do not
/// move: a read of an emulated port takes well over 0.1 µs, so the count
/// never ends a wait early by much, and it ends every wait.
const SPINS_PER_MS: u64 = 10_000;

/// Sectors per command: 256 is what LBA28 can say (a count of 0), and the
/// size of 32 pages; LBA48 could say 65536, which nothing here needs.
const MAX_SECTORS_PER_CMD: u64 = 256;
const LBA28_LIMIT: u64 = 1 << 28;

static CLAIMED: [AtomicBool; ATA_PORTS] = [AtomicBool::new(false), AtomicBool::new(false)];

/// One IDE channel's registers, owned: the only way to drive its devices.
pub struct AtaChannel {
    port: u8,
    base: u16,
    ctrl: u16,
    disks: [Option<AtaDisk>; 2],
}

impl Drop for AtaChannel {
    fn drop(&mut self) {
        CLAIMED[self.port as usize].store(false, Ordering::Release);
    }
}

/// Which command a transfer sends.
#[derive(Clone, Copy)]
enum Dir {
    Read,
    Write,
}

impl AtaChannel {
    /// Own channel `port` (0: ata1, 1: ata2), with its interrupt off
    /// (nIEN); `None` while another owner has it, or for a port that does
    /// not exist.
    pub fn claim(port: usize) -> Option<AtaChannel> {
        let &(base, ctrl) = PORT_IO.get(port)?;
        if CLAIMED[port].swap(true, Ordering::Acquire) {
            return None;
        }
        outb(ctrl, ATA_NIEN);
        Some(AtaChannel { port: port as u8, base, ctrl, disks: [None; 2] })
    }

    pub fn port(&self) -> usize {
        self.port as usize
    }

    /// The ATA disk at `drive` (0 master, 1 slave), as IDENTIFY found it.
    pub fn disk(&self, drive: usize) -> Option<&AtaDisk> {
        self.disks.get(drive)?.as_ref()
    }

    fn dev(&self, drive: u8) -> DevId {
        match self.disks.get(drive as usize) {
            Some(Some(d)) => d.id,
            _ => DevId { port: self.port, drive, sd: None },
        }
    }

    fn altstatus(&self) -> u8 {
        inb(self.ctrl)
    }

    /// The 400 ns a device may take to show a new status after a command
    /// or a select: four reads of the alternate status (ATA's own rule).
    fn delay400ns(&self) {
        for _ in 0..4 {
            self.altstatus();
        }
    }

    fn select(&self, drive: u8, lba_high: u8) {
        let dev1 = if drive == 1 { ATA_DEV1 } else { 0 };
        outb(self.base + REG_DEVICE, 0xa0 | ATA_LBA | dev1 | (lba_high & 0x0f));
        self.delay400ns();
    }

    /// Poll until BSY drops; the status then, or a timeout.
    fn wait_not_busy(&self, ms: u64) -> Result<u8, AtaErrorKind> {
        let deadline = pit::jiffies() + (ms * pit::HZ).div_ceil(1000);
        let mut spins = 0u64;
        loop {
            let status = self.altstatus();
            if status & ATA_BUSY == 0 {
                return Ok(inb(self.base + REG_STATUS));
            }
            spins += 1;
            if pit::jiffies() > deadline || spins > ms * SPINS_PER_MS {
                return Err(AtaErrorKind::Timeout { ms, status });
            }
            core::hint::spin_loop();
        }
    }

    /// Wait for the device to finish a step; ERR or DF is its error.
    fn wait_ready(&self, ms: u64) -> Result<u8, AtaErrorKind> {
        let status = self.wait_not_busy(ms)?;
        if status & (ATA_ERR | ATA_DF) != 0 {
            return Err(AtaErrorKind::Device { status, error: inb(self.base + REG_ERR) });
        }
        Ok(status)
    }

    /// Wait for the device to offer (or ask for) a sector.
    fn wait_drq(&self, ms: u64) -> Result<(), AtaErrorKind> {
        let status = self.wait_ready(ms)?;
        if status & ATA_DRQ == 0 {
            return Err(AtaErrorKind::Protocol { status });
        }
        Ok(())
    }

    /// One sector from the data port, in 32-bit words (the PIIX IDE
    /// controller, and QEMU's, take 32-bit PIO on the data port: half the
    /// port accesses of 16-bit ones, as Linux's `ata_sff_data_xfer32`).
    fn read_data(&self, sector: &mut [u8]) {
        insl(self.base + REG_DATA, sector);
    }

    fn write_data(&self, sector: &[u8]) {
        outsl(self.base + REG_DATA, sector);
    }

    /// IDENTIFY the device at `drive` and remember it if it is an ATA disk
    /// (`sd`: its index among the disks found so far, for its name).
    pub fn identify(&mut self, drive: usize, sd: u8) -> Probe {
        let Some(drive) = (drive < 2).then_some(drive as u8) else {
            return Probe::Absent;
        };
        self.disks[drive as usize] = None;
        let id = DevId { port: self.port, drive, sd: None };
        // Nothing on the channel: the bus floats high. QEMU reads 0 for a
        // position without a device.
        self.select(drive, 0);
        if matches!(inb(self.base + REG_STATUS), 0xff | 0x7f) {
            return Probe::Absent;
        }
        let mut words = [0u16; 256];
        let failed = |cmd, kind| Probe::Failed(AtaError { dev: id, cmd, lba: None, kind });
        let atapi = match self.identify_cmd(drive, ATA_CMD_ID_ATA, &mut words) {
            Ok(false) => return Probe::Absent,
            Ok(true) => false,
            // An ATAPI device aborts IDENTIFY DEVICE and shows its
            // signature; IDENTIFY PACKET DEVICE then names it.
            Err(AtaErrorKind::Device { .. })
                if (inb(self.base + REG_LBAM), inb(self.base + REG_LBAH)) == (0x14, 0xeb) =>
            {
                match self.identify_cmd(drive, ATA_CMD_ID_ATAPI, &mut words) {
                    Ok(true) => true,
                    Ok(false) => return Probe::Absent,
                    Err(kind) => return failed("IDENTIFY PACKET DEVICE", kind),
                }
            }
            Err(kind) => return failed("IDENTIFY DEVICE", kind),
        };
        if atapi || words[0] & 0x8000 != 0 {
            return Probe::Atapi(AtaDisk::from_identify(id, &words));
        }
        let disk = AtaDisk::from_identify(DevId { sd: Some(sd), ..id }, &words);
        self.disks[drive as usize] = Some(disk);
        Probe::Disk(disk)
    }

    /// Send an IDENTIFY command; `Ok(false)` if no device answers (its
    /// status reads 0, as QEMU shows an empty position).
    fn identify_cmd(&self, drive: u8, cmd: u8, words: &mut [u16; 256]) -> Result<bool, AtaErrorKind> {
        self.select(drive, 0);
        for reg in [REG_NSECT, REG_LBAL, REG_LBAM, REG_LBAH] {
            outb(self.base + reg, 0);
        }
        outb(self.base + REG_CMD, cmd);
        self.delay400ns();
        if inb(self.base + REG_STATUS) == 0 {
            return Ok(false);
        }
        self.wait_drq(TMOUT_IDENTIFY_MS)?;
        for w in words.iter_mut() {
            *w = inw(self.base + REG_DATA);
        }
        Ok(true)
    }

    /// Read `buf.len() / 512` sectors from `lba` on the disk at `drive`.
    pub fn read_sectors(&mut self, drive: usize, lba: u64, buf: &mut [u8]) -> Result<(), AtaError> {
        self.transfer(drive, lba, buf.len(), Dir::Read, true, |ch, i| ch.read_data(&mut buf[i..i + SECTOR_SIZE]))
    }

    /// Test kernels only: a read sent to the disk even past its end, so a
    /// test sees the device's own refusal (ERR with ABRT or IDNF) come back
    /// as an error, not a hang.
    #[cfg(feature = "ktest")]
    pub fn read_sectors_unchecked(&mut self, drive: usize, lba: u64, buf: &mut [u8]) -> Result<(), AtaError> {
        self.transfer(drive, lba, buf.len(), Dir::Read, false, |ch, i| ch.read_data(&mut buf[i..i + SECTOR_SIZE]))
    }

    /// Write `buf.len() / 512` sectors at `lba` on the disk at `drive`. The
    /// data may sit in the disk's cache until [`AtaChannel::flush_cache`].
    pub fn write_sectors(&mut self, drive: usize, lba: u64, buf: &[u8]) -> Result<(), AtaError> {
        self.transfer(drive, lba, buf.len(), Dir::Write, true, |ch, i| ch.write_data(&buf[i..i + SECTOR_SIZE]))
    }

    /// FLUSH CACHE: everything written so far is on the medium.
    pub fn flush_cache(&mut self, drive: usize) -> Result<(), AtaError> {
        let disk = *self.checked_disk(drive, "FLUSH CACHE")?;
        let cmd = if disk.lba48 { ATA_CMD_FLUSH_EXT } else { ATA_CMD_FLUSH };
        let err = |kind| AtaError { dev: disk.id, cmd: "FLUSH CACHE", lba: None, kind };
        self.wait_not_busy(TMOUT_SECTOR_MS).map_err(err)?;
        self.select(disk.id.drive, 0);
        outb(self.base + REG_CMD, cmd);
        self.delay400ns();
        self.wait_ready(TMOUT_FLUSH_MS).map_err(err)?;
        Ok(())
    }

    fn checked_disk(&self, drive: usize, cmd: &'static str) -> Result<&AtaDisk, AtaError> {
        self.disk(drive).ok_or(AtaError {
            dev: self.dev(drive.min(1) as u8),
            cmd,
            lba: None,
            kind: AtaErrorKind::NoDisk,
        })
    }

    /// One transfer, in commands of up to 256 sectors; `data(self,
    /// offset)` moves the sector at `offset` in the caller's buffer.
    /// `in_range`: refuse sectors past the disk's end. A disk with
    /// multiple mode set (IDENTIFY word 59, `multi`) moves a block of that
    /// many sectors per wait with READ/WRITE MULTIPLE (Linux's
    /// `ata_pio_sectors` for `ATA_PROT_PIO` with `multi_count`): a page of
    /// swap is one wait instead of eight, and each wait is where an
    /// emulated disk does its work.
    fn transfer(
        &mut self,
        drive: usize,
        lba: u64,
        len: usize,
        dir: Dir,
        in_range: bool,
        mut data: impl FnMut(&Self, usize),
    ) -> Result<(), AtaError> {
        let name = match dir {
            Dir::Read => "READ SECTORS",
            Dir::Write => "WRITE SECTORS",
        };
        let disk = *self.checked_disk(drive, name)?;
        let fail = |lba, kind| AtaError { dev: disk.id, cmd: name, lba: Some(lba), kind };
        if len == 0 || !len.is_multiple_of(SECTOR_SIZE) {
            return Err(fail(lba, AtaErrorKind::BadLength(len)));
        }
        let count = (len / SECTOR_SIZE) as u64;
        let end = lba.checked_add(count).filter(|&end| end <= 1 << 48);
        if end.is_none() || (in_range && end > Some(disk.sectors)) {
            return Err(fail(lba, AtaErrorKind::BeyondEnd { sectors: count, limit: disk.sectors }));
        }
        let mut done = 0u64;
        while done < count {
            let start = lba + done;
            let n = (count - done).min(MAX_SECTORS_PER_CMD);
            self.wait_not_busy(TMOUT_SECTOR_MS).map_err(|k| fail(start, k))?;
            let block = (disk.multi as u64).max(1);
            self.issue(disk.id.drive, start, n, dir, block > 1);
            let mut s = 0;
            while s < n {
                self.wait_drq(TMOUT_SECTOR_MS).map_err(|k| fail(start + s, k))?;
                for k in s..(s + block).min(n) {
                    data(self, ((done + k) as usize) * SECTOR_SIZE);
                }
                s += block;
            }
            // After the last sector the device checks (a write: stores) it.
            let status = self.wait_ready(TMOUT_SECTOR_MS).map_err(|k| fail(start + n - 1, k))?;
            if status & ATA_DRQ != 0 {
                return Err(fail(start + n - 1, AtaErrorKind::Protocol { status }));
            }
            done += n;
        }
        Ok(())
    }

    /// Load the task file and send the command: LBA28 where it reaches,
    /// LBA48 (the high bytes written first) beyond.
    fn issue(&self, drive: u8, lba: u64, n: u64, dir: Dir, multi: bool) {
        let ext = lba + n > LBA28_LIMIT;
        let b = |shift: u32| (lba >> shift) as u8;
        if ext {
            self.select(drive, 0);
            outb(self.base + REG_NSECT, (n >> 8) as u8);
            outb(self.base + REG_LBAL, b(24));
            outb(self.base + REG_LBAM, b(32));
            outb(self.base + REG_LBAH, b(40));
        } else {
            self.select(drive, b(24));
        }
        outb(self.base + REG_NSECT, n as u8); // 256 is 0
        outb(self.base + REG_LBAL, b(0));
        outb(self.base + REG_LBAM, b(8));
        outb(self.base + REG_LBAH, b(16));
        let cmd = match (dir, ext, multi) {
            (Dir::Read, false, false) => ATA_CMD_PIO_READ,
            (Dir::Read, true, false) => ATA_CMD_PIO_READ_EXT,
            (Dir::Write, false, false) => ATA_CMD_PIO_WRITE,
            (Dir::Write, true, false) => ATA_CMD_PIO_WRITE_EXT,
            (Dir::Read, false, true) => ATA_CMD_READ_MULTI,
            (Dir::Read, true, true) => ATA_CMD_READ_MULTI_EXT,
            (Dir::Write, false, true) => ATA_CMD_WRITE_MULTI,
            (Dir::Write, true, true) => ATA_CMD_WRITE_MULTI_EXT,
        };
        outb(self.base + REG_CMD, cmd);
        self.delay400ns();
    }
}

/// Probe both channels in libata's order (ata1.00, ata1.01, ata2.00,
/// ata2.01), naming the ATA disks sda, sdb... as found. Each channel comes
/// back owned (with its disks remembered) unless someone else holds it.
pub fn probe() -> [(Option<AtaChannel>, [Probe; 2]); ATA_PORTS] {
    let mut sd = 0;
    core::array::from_fn(|port| {
        let Some(mut ch) = AtaChannel::claim(port) else {
            return (None, [Probe::Absent; 2]);
        };
        let found = core::array::from_fn(|drive| {
            let p = ch.identify(drive, sd);
            if matches!(p, Probe::Disk(_)) {
                sd += 1;
            }
            p
        });
        (Some(ch), found)
    })
}
