//! Headers made by the real mkswap (util-linux) on temporary files, and
//! hand-made changes to them for what mkswap will not write.

use super::*;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A file of `bytes` bytes that mkswap made into a swap area with `args`;
/// page 0 and the size in pages. mkswap is in /usr/sbin, which the PATH of
/// a user may lack; scripts/setup.sh installs it.
fn mkswap(bytes: u64, args: &[&str]) -> ([u8; SWAP_PAGE_SIZE], u64) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path: PathBuf = std::env::temp_dir().join(format!(
        "himem-swap-header-{}-{}.img",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(bytes).unwrap();
    drop(file);
    let exe = ["mkswap", "/usr/sbin/mkswap", "/sbin/mkswap"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .expect("mkswap (util-linux) not found: scripts/setup.sh installs it");
    let out = Command::new(exe).arg("-f").args(args).arg(&path).output().unwrap();
    let image = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(out.status.success(), "mkswap failed: {}", String::from_utf8_lossy(&out.stderr));
    (image[..SWAP_PAGE_SIZE].try_into().unwrap(), bytes / SWAP_PAGE_SIZE as u64)
}

fn put(page: &mut [u8; SWAP_PAGE_SIZE], off: usize, v: u32) {
    page[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

const UUID: &str = "01234567-89ab-cdef-0011-223344556677";

#[test]
fn mkswap_64m_reads_as_linux_reads_it() {
    let (page, pages) = mkswap(64 << 20, &["-L", "himem-swap", "-U", UUID]);
    let h = parse(&page, pages).unwrap();
    assert_eq!(h.last_page, 16383, "mkswap writes pages - 1");
    assert_eq!(h.nr_good_pages(), 16383, "/proc/swaps shows 65532 kB for a 64 MiB area");
    assert!(h.bad_pages.is_empty());
    assert_eq!(h.label(), Some("himem-swap"));
    assert_eq!(Uuid(&h.uuid).to_string(), UUID);
    assert!(!h.swapped);
    assert_eq!(h.maxpages(u32::MAX), (16384, None));
}

#[test]
fn mkswap_smallest_area_without_label() {
    let (page, pages) = mkswap(40 << 10, &[]);
    let h = parse(&page, pages).unwrap();
    assert_eq!((h.last_page, h.nr_good_pages(), h.label()), (9, 9, None));
}

#[test]
fn area_longer_than_its_disk_is_refused() {
    let (page, pages) = mkswap(1 << 20, &[]);
    assert_eq!(parse(&page, pages).unwrap().last_page, 255);
    let e = parse(&page, pages - 1).unwrap_err();
    assert_eq!(e, HeaderError::ShorterThanSignature { last_page: 255, disk_pages: 255 });
    assert_eq!(
        e.to_string(),
        "Swap area shorter than signature indicates (last_page 255 needs 256 pages, the disk has 255)"
    );
    // A disk longer than the area is fine: swapon uses what the header says.
    assert_eq!(parse(&page, pages * 4).unwrap().last_page, 255);
}

#[test]
fn zeroed_disk_has_no_signature() {
    let e = parse(&[0; SWAP_PAGE_SIZE], 1000).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Unable to find swap-space signature (last 10 bytes of page 0: \
         \"\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\", not SWAPSPACE2; run mkswap on it)"
    );
    let mut page = [0; SWAP_PAGE_SIZE];
    page[MAGIC_OFF..].copy_from_slice(b"SWAPSPACE3");
    assert!(matches!(parse(&page, 1000), Err(HeaderError::NoSignature { found }) if &found == b"SWAPSPACE3"));
}

#[test]
fn version_0_signature_is_refused_with_linux_words() {
    let (mut page, pages) = mkswap(1 << 20, &[]);
    page[MAGIC_OFF..].copy_from_slice(SWAP_SPACE_V0);
    let e = parse(&page, pages).unwrap_err();
    assert_eq!(e, HeaderError::Version0);
    assert!(e.to_string().starts_with("version 0 swap is no longer supported. Use mkswap -v1"));
}

#[test]
fn other_versions_are_refused() {
    let (mut page, pages) = mkswap(1 << 20, &[]);
    put(&mut page, VERSION_OFF, 2);
    assert_eq!(parse(&page, pages).unwrap_err().to_string(), "Unable to handle swap header version 2");
    put(&mut page, VERSION_OFF, 0);
    assert_eq!(parse(&page, pages), Err(HeaderError::BadVersion(0)));
}

#[test]
fn byte_swapped_header_is_read_back() {
    let (mut page, pages) = mkswap(1 << 20, &[]);
    for (off, v) in [(VERSION_OFF, 1u32), (LAST_PAGE_OFF, 200), (NR_BADPAGES_OFF, 1), (BADPAGES_OFF, 7)] {
        page[off..off + 4].copy_from_slice(&v.to_be_bytes());
    }
    let h = parse(&page, pages).unwrap();
    assert_eq!((h.swapped, h.last_page, h.bad_pages.as_slice()), (true, 200, &[7u32][..]));
}

#[test]
fn last_page_zero_is_refused() {
    let (mut page, pages) = mkswap(1 << 20, &[]);
    put(&mut page, LAST_PAGE_OFF, 0);
    assert_eq!(parse(&page, pages), Err(HeaderError::NoPages));
}

#[test]
fn bad_pages_are_listed_and_leave_the_good_count() {
    let (mut page, pages) = mkswap(1 << 20, &[]);
    put(&mut page, NR_BADPAGES_OFF, 3);
    for (i, p) in [255u32, 1, 17].into_iter().enumerate() {
        put(&mut page, BADPAGES_OFF + 4 * i, p);
    }
    let h = parse(&page, pages).unwrap();
    assert_eq!(h.bad_pages, vec![1, 17, 255], "1 and last_page are both usable slots, so both may be bad");
    assert_eq!(h.nr_good_pages(), 255 - 3);
}

#[test]
fn a_bad_page_outside_the_area_is_refused() {
    let (mut page, pages) = mkswap(1 << 20, &[]);
    put(&mut page, NR_BADPAGES_OFF, 2);
    put(&mut page, BADPAGES_OFF, 5);
    for bad in [0, 256] {
        put(&mut page, BADPAGES_OFF + 4, bad);
        let e = parse(&page, pages).unwrap_err();
        assert_eq!(e, HeaderError::BadPageOutOfRange { index: 1, page: bad, last_page: 255 });
        assert_eq!(e.to_string(), format!("bad page {} (badpages[1]) outside the swap area's pages 1..=255", bad));
    }
}

#[test]
fn more_bad_pages_than_the_array_holds_is_refused() {
    let (mut page, pages) = mkswap(4 << 20, &[]);
    put(&mut page, NR_BADPAGES_OFF, MAX_SWAP_BADPAGES as u32 + 1);
    assert_eq!(parse(&page, pages), Err(HeaderError::TooManyBadPages(638)));
    // The full array is fine: it ends right before the signature.
    put(&mut page, NR_BADPAGES_OFF, MAX_SWAP_BADPAGES as u32);
    for i in 0..MAX_SWAP_BADPAGES {
        put(&mut page, BADPAGES_OFF + 4 * i, i as u32 + 1);
    }
    let h = parse(&page, pages).unwrap();
    assert_eq!((h.bad_pages.len(), h.nr_good_pages()), (637, 1023 - 637));
}

#[test]
fn an_area_of_bad_pages_only_is_empty() {
    let (mut page, pages) = mkswap(40 << 10, &[]);
    put(&mut page, NR_BADPAGES_OFF, 9);
    for i in 0..9 {
        put(&mut page, BADPAGES_OFF + 4 * i, 9 - i as u32);
    }
    assert_eq!(parse(&page, pages).unwrap_err().to_string(), "Empty swap-file (9 pages, 9 of them bad)");
}

#[test]
fn maxpages_clamps_to_what_a_swap_entry_encodes() {
    let (page, pages) = mkswap(1 << 20, &[]);
    let h = parse(&page, pages).unwrap();
    let (max, warn) = h.maxpages(100);
    assert_eq!(max, 100);
    assert_eq!(warn.unwrap().to_string(), "Truncating oversized swap area, only using 400k out of 1024k");
    assert_eq!(h.maxpages(256), (256, None));
}
