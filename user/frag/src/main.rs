//! frag SIZE [hold[=SECONDS]] [verify]
//!
//! Fragments physical memory on purpose, for compaction to mend: maps SIZE
//! bytes of anonymous memory (one area), writes a pattern into every page,
//! then gives every other page back with madvise(MADV_DONTNEED), which
//! leaves the area whole but half its frames free, each between two in use.
//! `hold` keeps the rest while sleeping, for ever (until killed) or SECONDS
//! seconds; `verify` re-checks the kept pages' patterns every second of the
//! hold and at its end, so that a test can show that pages compaction moved
//! kept their contents. SIZE takes K, M or G (powers of 1024).
//!
//! Exit status 0, 1 if the memory could not be had or lost its contents, 2
//! for arguments it does not understand.
#![no_std]
#![no_main]

use rt::sys;
use rt::{eprintln, println};

rt::main!(main);

const PAGE: usize = 4096;
const MADV_DONTNEED: usize = 4;
const USAGE: &str = "usage: frag SIZE [hold[=SECONDS]] [verify]";

/// A size as Linux's memparse reads it: a number with K, M or G after.
fn parse_size(s: &str) -> Option<usize> {
    let (digits, shift) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 10),
        b'm' | b'M' => (&s[..s.len() - 1], 20),
        b'g' | b'G' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    digits.parse::<usize>().ok()?.checked_mul(1 << shift)?.checked_next_multiple_of(PAGE)
}

/// The words page `i` holds: its first and its last.
fn pattern(seed: u32, i: usize) -> (u32, u32) {
    let w = seed ^ (i as u32).wrapping_mul(0x9e37_79b9);
    (w, !w)
}

fn words(start: usize, i: usize) -> (*mut u32, *mut u32) {
    let page = (start + i * PAGE) as *mut u32;
    // SAFETY: the caller's i is a page of the area: both words are in it.
    (page, unsafe { page.add(PAGE / 4 - 1) })
}

/// The kept (even) pages: the first that does not read its pattern.
fn check(start: usize, pages: usize, seed: u32) -> Result<(), (usize, u32, u32)> {
    for i in (0..pages).step_by(2) {
        let (first, last) = words(start, i);
        let want = pattern(seed, i);
        // SAFETY: a kept page of the area, mapped read-write and frag's
        // alone; volatile, so the reads come from memory.
        let got = unsafe { (first.read_volatile(), last.read_volatile()) };
        if got.0 != want.0 {
            return Err((first as usize, got.0, want.0));
        }
        if got.1 != want.1 {
            return Err((last as usize, got.1, want.1));
        }
    }
    Ok(())
}

fn verify(start: usize, pages: usize, seed: u32) -> bool {
    match check(start, pages, seed) {
        Ok(()) => {
            println!("frag: verified {} pages", pages.div_ceil(2));
            true
        }
        Err((addr, got, want)) => {
            eprintln!(
                "frag: the word at {:#010x} reads {:#010x}, not {:#010x}: memory lost its contents",
                addr, got, want
            );
            false
        }
    }
}

fn main() -> i32 {
    let mut args = rt::args().skip(1);
    let Some(arg) = args.next() else {
        eprintln!("frag: no SIZE given; nothing mapped\n{}", USAGE);
        return 2;
    };
    let Some(size) = arg.to_str().and_then(parse_size).filter(|&n| n >= 2 * PAGE) else {
        eprintln!("frag: SIZE {} is not a size of at least 8K (bytes, with K, M or G); nothing mapped\n{}", arg, USAGE);
        return 2;
    };
    let (mut hold, mut check_it) = (None, false);
    for a in args {
        match a.to_str() {
            Some("hold") => hold = Some(None),
            Some("verify") => check_it = true,
            Some(s) if s.starts_with("hold=") && s[5..].parse::<u32>().is_ok() => hold = Some(s[5..].parse().ok()),
            _ => {
                eprintln!("frag: option {} is not understood; nothing mapped\n{}", a, USAGE);
                return 2;
            }
        }
    }
    let start = match sys::mmap_anonymous(size, sys::PROT_READ | sys::PROT_WRITE) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("frag: mmap2 of {} bytes failed: {}", size, e);
            return 1;
        }
    };
    let pages = size / PAGE;
    let seed = 0xf4a6_0000 ^ sys::getpid() as u32;
    for i in 0..pages {
        let (first, last) = words(start, i);
        let (a, b) = pattern(seed, i);
        // SAFETY: a page of the area, mapped read-write and frag's alone.
        unsafe {
            first.write_volatile(a);
            last.write_volatile(b);
        }
    }
    for i in (1..pages).step_by(2) {
        // SAFETY: odd pages only, which nothing refers to from here on
        // (check() reads the even ones).
        if let Err(e) = unsafe { sys::madvise(start + i * PAGE, PAGE, MADV_DONTNEED) } {
            eprintln!("frag: madvise(MADV_DONTNEED) of page {} failed: {}", i, e);
            return 1;
        }
    }
    println!(
        "frag: touched {} pages at {:#010x}, gave back every other one: {} kept (pid {})",
        pages,
        start,
        pages.div_ceil(2),
        sys::getpid()
    );
    if let Some(secs) = hold {
        let mut left = secs;
        while left != Some(0) {
            sys::sleep(1);
            left = left.map(|n| n - 1);
            if check_it && check(start, pages, seed).is_err() {
                return if verify(start, pages, seed) { 0 } else { 1 };
            }
        }
    }
    if check_it && !verify(start, pages, seed) {
        return 1;
    }
    println!("frag: done");
    0
}
