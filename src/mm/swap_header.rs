//! The swap header: page 0 of a swap area, as `mkswap` writes it and as
//! Linux reads it before it uses the area (`union swap_header` in
//! include/linux/swap.h, checked by `sys_swapon` in mm/swapfile.c; 2.6.32
//! moved the checks to `read_swap_header`).
//!
//! ```text
//!  offset 0     bootbits[1024]     left alone (a boot sector, a disk label)
//!         1024  u32 version        1 (0 was the old `SWAP-SPACE` bitmap format)
//!         1028  u32 last_page      index of the area's last page (pages - 1)
//!         1032  u32 nr_badpages    how many entries of badpages[] count
//!         1036  u8  uuid[16]       mkswap -U
//!         1052  u8  volume[16]     mkswap -L, NUL-padded
//!         1068  u32 padding[117]
//!         1536  u32 badpages[637]  page numbers never to use (mkswap -c)
//!         4086  "SWAPSPACE2"       the signature, in the page's last 10 bytes
//! ```
//!
//! Pure: the caller reads the page from the disk and hands the bytes over,
//! so the checks run under `cargo test` against images the real mkswap
//! made. The result is what `swapon` needs: how many pages the area has,
//! which are bad, and the names to print.

#![forbid(unsafe_code)]

use alloc::vec::Vec;
use core::fmt;

/// The size of a swap page and of the header (i386's `PAGE_SIZE`).
pub const SWAP_PAGE_SIZE: usize = 4096;
/// Sectors of 512 bytes per swap page.
pub const SECTORS_PER_PAGE: u64 = (SWAP_PAGE_SIZE / 512) as u64;

const VERSION_OFF: usize = 1024;
const LAST_PAGE_OFF: usize = 1028;
const NR_BADPAGES_OFF: usize = 1032;
const UUID_OFF: usize = 1036;
const VOLUME_OFF: usize = 1052;
const BADPAGES_OFF: usize = 1536;
const MAGIC_OFF: usize = SWAP_PAGE_SIZE - 10;

/// Linux's `MAX_SWAP_BADPAGES`: the u32 slots between `badpages` and the
/// magic, 637 on 4 KiB pages.
pub const MAX_SWAP_BADPAGES: usize = (MAGIC_OFF - BADPAGES_OFF) / 4;
const _: () = assert!(MAX_SWAP_BADPAGES == 637);

/// The signature of today's format (version 1), and of the old bitmap
/// format Linux dropped in 2.5 (`SWAP-SPACE`, "version 0").
pub const SWAPSPACE2: &[u8; 10] = b"SWAPSPACE2";
pub const SWAP_SPACE_V0: &[u8; 10] = b"SWAP-SPACE";

/// A checked swap header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwapHeader {
    /// The index of the area's last page: slots are pages 1..=last_page
    /// (page 0 is this header).
    pub last_page: u32,
    /// Pages never to use, each in 1..=last_page, as listed.
    pub bad_pages: Vec<u32>,
    pub uuid: [u8; 16],
    /// The volume name, NUL-padded (`mkswap -L`); see [`SwapHeader::label`].
    pub volume: [u8; 16],
    /// The header was written byte-swapped (by a big-endian machine); Linux
    /// 2.6.24 swaps it back ("swap partition endianess hack").
    pub swapped: bool,
}

impl SwapHeader {
    /// The label up to its first NUL, if it is UTF-8 and not empty.
    pub fn label(&self) -> Option<&str> {
        let end = self.volume.iter().position(|&b| b == 0).unwrap_or(self.volume.len());
        core::str::from_utf8(&self.volume[..end]).ok().filter(|s| !s.is_empty())
    }

    /// Pages swapon can hand out: every page but the header and the bad
    /// ones (Linux's `nr_good_pages` since 2.6.33; 2.6.24 subtracted one
    /// more and never used page `last_page`). A bad page listed twice is
    /// counted once.
    pub fn nr_good_pages(&self) -> u32 {
        self.last_page - self.bad_pages.len() as u32
    }

    /// Linux's `maxpages`: the pages the swap map covers (header included),
    /// `last_page + 1`, or `limit` when the swap entry cannot encode more
    /// offsets. Cut short, it says what Linux warns (`read_swap_header`:
    /// "Truncating oversized swap area, only using %luk out of %luk").
    pub fn maxpages(&self, limit: u32) -> (u32, Option<Truncated>) {
        let want = self.last_page as u64 + 1;
        if want <= limit as u64 {
            (want as u32, None)
        } else {
            (limit, Some(Truncated { using_kb: limit as u64 * 4, of_kb: want * 4 }))
        }
    }
}

/// The area is larger than a swap entry can address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncated {
    pub using_kb: u64,
    pub of_kb: u64,
}

impl fmt::Display for Truncated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Truncating oversized swap area, only using {}k out of {}k", self.using_kb, self.of_kb)
    }
}

/// Why a page 0 is not a usable swap header. The texts start with Linux's
/// words where Linux has some, then say which value was wrong; the caller
/// names the disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Neither signature in the last 10 bytes (they are quoted).
    NoSignature { found: [u8; 10] },
    /// `SWAP-SPACE`: the version 0 bitmap format.
    Version0,
    /// `SWAPSPACE2` with a version other than 1.
    BadVersion(u32),
    /// `last_page` 0: no page besides the header.
    NoPages,
    /// The header claims more pages than the disk holds.
    ShorterThanSignature { last_page: u32, disk_pages: u64 },
    /// `nr_badpages` beyond the array's 637 slots.
    TooManyBadPages(u32),
    /// A bad page outside 1..=last_page.
    BadPageOutOfRange { index: usize, page: u32, last_page: u32 },
    /// Every page is bad.
    Empty { last_page: u32, nr_badpages: u32 },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::NoSignature { found } => {
                write!(f, "Unable to find swap-space signature (last 10 bytes of page 0: \"")?;
                for &b in found {
                    if b.is_ascii_graphic() || b == b' ' {
                        write!(f, "{}", b as char)?;
                    } else {
                        write!(f, "\\x{:02x}", b)?;
                    }
                }
                write!(f, "\", not SWAPSPACE2; run mkswap on it)")
            }
            HeaderError::Version0 => {
                write!(f, "version 0 swap is no longer supported. Use mkswap -v1 (signature SWAP-SPACE)")
            }
            HeaderError::BadVersion(v) => write!(f, "Unable to handle swap header version {}", v),
            HeaderError::NoPages => write!(f, "last_page 0 in the swap header: no page besides the header"),
            HeaderError::ShorterThanSignature { last_page, disk_pages } => write!(
                f,
                "Swap area shorter than signature indicates (last_page {} needs {} pages, the disk has {})",
                last_page,
                *last_page as u64 + 1,
                disk_pages
            ),
            HeaderError::TooManyBadPages(n) => {
                write!(f, "nr_badpages {} in the swap header: at most {} fit", n, MAX_SWAP_BADPAGES)
            }
            HeaderError::BadPageOutOfRange { index, page, last_page } => {
                write!(f, "bad page {} (badpages[{}]) outside the swap area's pages 1..={}", page, index, last_page)
            }
            HeaderError::Empty { last_page, nr_badpages } => {
                write!(f, "Empty swap-file ({} pages, {} of them bad)", last_page, nr_badpages)
            }
        }
    }
}

fn word(page: &[u8; SWAP_PAGE_SIZE], off: usize, swapped: bool) -> u32 {
    let b = [page[off], page[off + 1], page[off + 2], page[off + 3]];
    if swapped {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

/// Check page 0 of a swap area on a disk of `disk_pages` whole 4 KiB pages,
/// in the order of Linux's `sys_swapon` (2.6.24): the signature, the
/// version (swapping the bytes when only that makes it 1), `last_page`
/// against the disk, then the bad-page list.
pub fn parse(page: &[u8; SWAP_PAGE_SIZE], disk_pages: u64) -> Result<SwapHeader, HeaderError> {
    let magic: [u8; 10] = page[MAGIC_OFF..].try_into().expect("10 bytes");
    if &magic == SWAP_SPACE_V0 {
        return Err(HeaderError::Version0);
    }
    if &magic != SWAPSPACE2 {
        return Err(HeaderError::NoSignature { found: magic });
    }
    let mut swapped = false;
    let mut version = word(page, VERSION_OFF, false);
    if version.swap_bytes() == 1 {
        swapped = true;
        version = 1;
    }
    if version != 1 {
        return Err(HeaderError::BadVersion(version));
    }
    let last_page = word(page, LAST_PAGE_OFF, swapped);
    if last_page == 0 {
        return Err(HeaderError::NoPages);
    }
    if last_page as u64 + 1 > disk_pages {
        return Err(HeaderError::ShorterThanSignature { last_page, disk_pages });
    }
    let nr_badpages = word(page, NR_BADPAGES_OFF, swapped);
    if nr_badpages as usize > MAX_SWAP_BADPAGES {
        return Err(HeaderError::TooManyBadPages(nr_badpages));
    }
    let mut bad_pages = Vec::with_capacity(nr_badpages as usize);
    for index in 0..nr_badpages as usize {
        let page_nr = word(page, BADPAGES_OFF + 4 * index, swapped);
        if page_nr == 0 || page_nr > last_page {
            return Err(HeaderError::BadPageOutOfRange { index, page: page_nr, last_page });
        }
        bad_pages.push(page_nr);
    }
    // A page listed twice is still one page lost: count it once.
    bad_pages.sort_unstable();
    bad_pages.dedup();
    if bad_pages.len() as u32 >= last_page {
        return Err(HeaderError::Empty { last_page, nr_badpages });
    }
    let mut uuid = [0; 16];
    uuid.copy_from_slice(&page[UUID_OFF..UUID_OFF + 16]);
    let mut volume = [0; 16];
    volume.copy_from_slice(&page[VOLUME_OFF..VOLUME_OFF + 16]);
    Ok(SwapHeader { last_page, bad_pages, uuid, volume, swapped })
}

/// The UUID as mkswap prints it (`UUID=8-4-4-4-12` hex digits).
pub struct Uuid<'a>(pub &'a [u8; 16]);

impl fmt::Display for Uuid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                write!(f, "-")?;
            }
            write!(f, "{:02x}", b)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
