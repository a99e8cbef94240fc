//! The IDE disks: ATA in PIO mode, polled (Linux's libata with
//! drivers/ata/ata_piix.c, here cut down to what the swap disk needs).
//!
//! A PC has two legacy IDE channels, each with a master and a slave:
//! `ata1` at ports 0x1F0-0x1F7 and control 0x3F6, `ata2` at 0x170 and
//! 0x376. QEMU puts `-cdrom` on ata2's master and `make run`'s swap disk on
//! ata1's master. [`probe`] sends IDENTIFY to the four positions: an ATA
//! disk is kept, an ATAPI one (the CD-ROM) is named and left alone. Disks
//! get Linux's names in the order libata finds them: the first is `sda`.
//!
//! Every command is polled: nIEN is set, so the disks never raise IRQ 14/15,
//! and each wait reads the status register until BSY drops, for at most a
//! timeout measured in jiffies, with a count of reads as a backstop for a
//! caller that has interrupts off (the jiffies then stand still). A sector
//! moves 256 words through the data port between two waits: the work
//! between two points where the kernel may preempt is bounded by one
//! sector, and the driver never turns interrupts off itself.
//!
//! Locking: an [`AtaChannel`] owns its ports (at most one exists per
//! channel, [`AtaChannel::claim`]), and every transfer takes `&mut self`.
//! The arch layer cannot name the kernel's locks, so the caller wraps each
//! channel in one (a sleeping `kernel::mutex::Mutex` suits: a page of PIO
//! takes a while) and holds it across a whole transfer; master and slave
//! share the channel's registers, hence one lock per channel, not per disk.
//!
//! The transfers move bytes between the disk and slices the caller lends:
//! no address crosses the API, and PIO never makes the disk write memory.

use core::fmt;

#[cfg(target_os = "none")]
mod pio;
#[cfg(target_os = "none")]
pub use pio::{probe, AtaChannel};

pub const SECTOR_SIZE: usize = 512;
/// The IDE channels of a PC (libata's ports `ata1`, `ata2`).
pub const ATA_PORTS: usize = 2;

// Status bits (include/linux/ata.h).
const ATA_BUSY: u8 = 0x80;
const ATA_DRDY: u8 = 0x40;
const ATA_DF: u8 = 0x20;
const ATA_DRQ: u8 = 0x08;
const ATA_ERR: u8 = 0x01;

/// Where a device sits, and its Linux name once it is a disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevId {
    /// 0 for ata1, 1 for ata2.
    pub port: u8,
    /// 0 master, 1 slave.
    pub drive: u8,
    /// `Some(0)` for sda, `Some(1)` for sdb...: set on ATA disks by [`probe`].
    pub sd: Option<u8>,
}

impl DevId {
    /// libata's `ataP.DD` (`ata1.00`).
    pub fn ata_name(&self) -> AtaName {
        AtaName(self.port, self.drive)
    }

    /// `sda`, `sdb`... (SCSI disk names, as libata's disks get them).
    pub fn sd_name(&self) -> Option<SdName> {
        self.sd.map(SdName)
    }

    /// The SCSI address `host:channel:id:lun` Linux gives this device.
    pub fn scsi_addr(&self) -> ScsiAddr {
        ScsiAddr(self.port, self.drive)
    }
}

impl fmt::Display for DevId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sd_name() {
            Some(sd) => write!(f, "{} ({})", sd, self.ata_name()),
            None => write!(f, "{}", self.ata_name()),
        }
    }
}

pub struct AtaName(u8, u8);
impl fmt::Display for AtaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ata{}.{:02}", self.0 + 1, self.1)
    }
}

pub struct SdName(u8);
impl fmt::Display for SdName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sd{}", (b'a' + self.0) as char)
    }
}

pub struct ScsiAddr(u8, u8);
impl fmt::Display for ScsiAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:0:{}:0", self.0, self.1)
    }
}

/// What IDENTIFY (DEVICE or PACKET DEVICE) told about a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtaDisk {
    pub id: DevId,
    /// Sectors of 512 bytes (words 60-61, or 100-103 with LBA48).
    pub sectors: u64,
    pub lba48: bool,
    /// The highest ATA major version it claims (word 80), 0 if none.
    pub ata_version: u8,
    /// Sectors per READ/WRITE MULTIPLE as set (word 59), 0 if none.
    pub multi: u8,
    model: [u8; 40],
    firmware: [u8; 8],
    /// Linux's `ata_mode_string` of its best transfer mode.
    pub max_mode: &'static str,
}

impl AtaDisk {
    /// Decode the 256 words of IDENTIFY (PACKET) DEVICE as libata's
    /// `ata_dev_configure` reads them.
    pub fn from_identify(id: DevId, w: &[u16; 256]) -> AtaDisk {
        let lba48 = w[83] & (1 << 10) != 0;
        let sectors = if lba48 {
            (0..4).map(|i| (w[100 + i] as u64) << (16 * i)).sum()
        } else {
            w[60] as u64 | (w[61] as u64) << 16
        };
        let ata_version = match w[80] {
            0 | 0xffff => 0,
            v => (1..=14).rev().find(|&b| v & (1 << b) != 0).unwrap_or(0) as u8,
        };
        AtaDisk {
            id,
            sectors,
            lba48,
            ata_version,
            multi: if w[59] & 0x100 != 0 { w[59] as u8 } else { 0 },
            model: id_string(&w[27..47]),
            firmware: id_string(&w[23..27]),
            max_mode: mode_string(w),
        }
    }

    /// The model name (words 27-46), trimmed.
    pub fn model(&self) -> &str {
        trimmed(&self.model)
    }

    /// The firmware revision (words 23-26), trimmed.
    pub fn firmware(&self) -> &str {
        trimmed(&self.firmware)
    }

    pub fn bytes(&self) -> u64 {
        self.sectors * SECTOR_SIZE as u64
    }
}

/// IDENTIFY strings hold two characters per word, the first in the high
/// byte (Linux's `ata_id_string`).
fn id_string<const N: usize>(words: &[u16]) -> [u8; N] {
    let mut s = [b' '; N];
    for (i, w) in words.iter().enumerate().take(N / 2) {
        s[2 * i] = (w >> 8) as u8;
        s[2 * i + 1] = *w as u8;
    }
    s
}

fn trimmed(s: &[u8]) -> &str {
    let s = core::str::from_utf8(s).unwrap_or("?");
    s.trim_matches(|c: char| c == ' ' || c == '\0')
}

/// Linux's `ata_mode_string(ata_id_xfermask(id))`: the best UDMA mode, else
/// multiword DMA, else PIO.
fn mode_string(w: &[u16; 256]) -> &'static str {
    const UDMA: [&str; 8] = ["UDMA/16", "UDMA/25", "UDMA/33", "UDMA/44", "UDMA/66", "UDMA/100", "UDMA/133", "UDMA7"];
    const MWDMA: [&str; 3] = ["MWDMA0", "MWDMA1", "MWDMA2"];
    let udma = if w[53] & (1 << 2) != 0 { w[88] & 0xff } else { 0 };
    if udma != 0 {
        return UDMA[15 - udma.leading_zeros() as usize];
    }
    let mwdma = w[63] & 0x7;
    if mwdma != 0 {
        return MWDMA[15 - mwdma.leading_zeros() as usize];
    }
    if w[53] & (1 << 1) != 0 && w[64] & 0x2 != 0 {
        "PIO4"
    } else if w[53] & (1 << 1) != 0 && w[64] & 0x1 != 0 {
        "PIO3"
    } else {
        "PIO2"
    }
}

/// What answered at one position of a channel.
#[derive(Clone, Copy, Debug)]
pub enum Probe {
    Absent,
    /// An ATA disk, which this driver reads and writes.
    Disk(AtaDisk),
    /// An ATAPI device (a CD-ROM): named, not used.
    Atapi(AtaDisk),
    /// Something answered, but IDENTIFY failed.
    Failed(AtaError),
}

/// What went wrong, on which device and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtaError {
    pub dev: DevId,
    /// The command (`READ SECTORS`...).
    pub cmd: &'static str,
    /// The sector the command was at, if it addresses one.
    pub lba: Option<u64>,
    pub kind: AtaErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtaErrorKind {
    /// The device set ERR or DF: its status and error registers.
    Device { status: u8, error: u8 },
    /// BSY did not drop within the timeout; the last status read.
    Timeout { ms: u64, status: u8 },
    /// The device dropped BSY without offering data (no DRQ) or asked
    /// for data when the transfer was done.
    Protocol { status: u8 },
    /// A transfer past the disk's last sector, refused before any I/O
    /// (Linux's "attempt to access beyond end of device").
    BeyondEnd { sectors: u64, limit: u64 },
    /// A buffer that is not a non-empty multiple of 512 bytes.
    BadLength(usize),
    /// No ATA disk at that position of the channel.
    NoDisk,
}

fn status_names(f: &mut fmt::Formatter<'_>, status: u8) -> fmt::Result {
    write!(f, "status 0x{:02x} {{ ", status)?;
    for (bit, name) in [(ATA_BUSY, "Busy"), (ATA_DRDY, "DRDY"), (ATA_DF, "DF"), (ATA_DRQ, "DRQ"), (ATA_ERR, "ERR")] {
        if status & bit != 0 {
            write!(f, "{} ", name)?;
        }
    }
    write!(f, "}}")
}

impl fmt::Display for AtaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.dev, self.cmd)?;
        if let Some(lba) = self.lba {
            write!(f, " at LBA {}", lba)?;
        }
        write!(f, ": ")?;
        match self.kind {
            AtaErrorKind::Device { status, error } => {
                status_names(f, status)?;
                write!(f, ", error 0x{:02x} {{ ", error)?;
                for (bit, name) in [(0x80, "ICRC"), (0x40, "UNC"), (0x10, "IDNF"), (0x04, "ABRT"), (0x01, "AMNF")] {
                    if error & bit != 0 {
                        write!(f, "{} ", name)?;
                    }
                }
                write!(f, "}}")
            }
            AtaErrorKind::Timeout { ms, status } => {
                write!(f, "timeout after {} ms, ", ms)?;
                status_names(f, status)
            }
            AtaErrorKind::Protocol { status } => {
                write!(f, "the device broke the PIO protocol, ")?;
                status_names(f, status)
            }
            AtaErrorKind::BeyondEnd { sectors, limit } => write!(
                f,
                "attempt to access beyond end of device ({} sectors from there, the disk has {}); nothing done",
                sectors, limit
            ),
            AtaErrorKind::BadLength(len) => {
                write!(f, "buffer of {} bytes is not a whole number of 512-byte sectors; nothing done", len)
            }
            AtaErrorKind::NoDisk => write!(f, "no ATA disk there"),
        }
    }
}

#[cfg(test)]
mod tests;
