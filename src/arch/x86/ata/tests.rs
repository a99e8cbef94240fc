//! IDENTIFY pages laid out as QEMU's `ide_identify` (hw/ide/core.c) fills
//! them, decoded as libata prints them; the names and error texts.

use super::*;

fn put_str(w: &mut [u16; 256], at: usize, words: usize, s: &str) {
    let mut b = s.as_bytes().to_vec();
    b.resize(2 * words, b' ');
    for i in 0..words {
        w[at + i] = (b[2 * i] as u16) << 8 | b[2 * i + 1] as u16;
    }
}

/// QEMU's hard disk of `sectors` sectors.
fn qemu_harddisk(sectors: u64) -> [u16; 256] {
    let mut w = [0u16; 256];
    w[0] = 0x0040;
    put_str(&mut w, 23, 4, "2.5+");
    put_str(&mut w, 27, 20, "QEMU HARDDISK");
    w[47] = 0x8000 | 16;
    w[49] = (1 << 11) | (1 << 9) | (1 << 8);
    w[53] = 1 | 2 | 4;
    w[59] = 0x100 | 16;
    let lba28 = sectors.min((1 << 28) - 1);
    w[60] = lba28 as u16;
    w[61] = (lba28 >> 16) as u16;
    w[63] = 0x07;
    w[64] = 0x03;
    w[80] = 0xf0;
    w[83] = (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10);
    w[88] = 0x3f | (1 << 13);
    for i in 0..4 {
        w[100 + i] = (sectors >> (16 * i)) as u16;
    }
    w
}

const SDA: DevId = DevId { port: 0, drive: 0, sd: Some(0) };

#[test]
fn qemu_harddisk_reads_as_libata_prints_it() {
    let d = AtaDisk::from_identify(SDA, &qemu_harddisk(131072));
    assert_eq!((d.model(), d.firmware(), d.ata_version, d.max_mode), ("QEMU HARDDISK", "2.5+", 7, "UDMA/100"));
    assert_eq!((d.sectors, d.multi, d.lba48, d.bytes()), (131072, 16, true, 64 << 20));
}

#[test]
fn lba48_size_beyond_what_lba28_can_say() {
    let d = AtaDisk::from_identify(SDA, &qemu_harddisk(600 << 20));
    assert_eq!(d.sectors, 600 << 20, "words 100-103, not the 2^28-1 of words 60-61");
}

#[test]
fn without_lba48_the_size_is_words_60_61() {
    let mut w = qemu_harddisk(70000);
    w[83] &= !(1 << 10);
    w[100] = 0xdead;
    let d = AtaDisk::from_identify(SDA, &w);
    assert_eq!((d.sectors, d.lba48), (70000, false));
}

#[test]
fn modes_versions_and_multi_fall_back_as_linux_does() {
    let mut w = qemu_harddisk(1000);
    w[53] &= !4; // word 88 not valid: no UDMA
    assert_eq!(AtaDisk::from_identify(SDA, &w).max_mode, "MWDMA2");
    w[63] = 0;
    assert_eq!(AtaDisk::from_identify(SDA, &w).max_mode, "PIO4");
    w[64] = 1;
    assert_eq!(AtaDisk::from_identify(SDA, &w).max_mode, "PIO3");
    w[53] = 0;
    assert_eq!(AtaDisk::from_identify(SDA, &w).max_mode, "PIO2");
    w[80] = 0xffff;
    w[59] = 16; // multiple count not valid (bit 8 clear)
    let d = AtaDisk::from_identify(SDA, &w);
    assert_eq!((d.ata_version, d.multi), (0, 0));
}

#[test]
fn names_follow_libata() {
    let sdb = DevId { port: 1, drive: 1, sd: Some(1) };
    assert_eq!(sdb.to_string(), "sdb (ata2.01)");
    assert_eq!(sdb.scsi_addr().to_string(), "1:0:1:0");
    let cd = DevId { port: 1, drive: 0, sd: None };
    assert_eq!((cd.to_string(), cd.sd_name().is_none()), ("ata2.00".to_string(), true));
}

#[test]
fn errors_name_the_disk_the_command_and_the_lba() {
    let e = |cmd, lba, kind| AtaError { dev: SDA, cmd, lba, kind }.to_string();
    assert_eq!(
        e("READ SECTORS", Some(32768), AtaErrorKind::Device { status: 0x41, error: 0x04 }),
        "sda (ata1.00): READ SECTORS at LBA 32768: status 0x41 { DRDY ERR }, error 0x04 { ABRT }"
    );
    assert_eq!(
        e("WRITE SECTORS", Some(9), AtaErrorKind::Timeout { ms: 10000, status: 0xd0 }),
        "sda (ata1.00): WRITE SECTORS at LBA 9: timeout after 10000 ms, status 0xd0 { Busy DRDY }"
    );
    assert_eq!(
        e("READ SECTORS", Some(131068), AtaErrorKind::BeyondEnd { sectors: 8, limit: 131072 }),
        "sda (ata1.00): READ SECTORS at LBA 131068: attempt to access beyond end of device \
         (8 sectors from there, the disk has 131072); nothing done"
    );
    assert_eq!(e("FLUSH CACHE", None, AtaErrorKind::NoDisk), "sda (ata1.00): FLUSH CACHE: no ATA disk there");
}
