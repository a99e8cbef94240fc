//! hog SIZE [touch] [verify] [hold[=SECONDS]] [brk] [lock] [fork] [churn]
//!
//! Takes SIZE bytes of anonymous memory (mmap2 with MAP_NORESERVE, or by growing the heap with
//! brk when `brk` is given) and, with `touch`, writes a pattern into every
//! page, printing progress every 64M: the way to fill memory on purpose and
//! watch where the pages come from (HighFree before LowFree). `verify`
//! checks every page after: the pattern if touched, zero if not (fresh
//! memory reads zero). `hold` keeps the memory while sleeping, a second at a
//! time, re-checking it each second with `verify`: for ever (until killed),
//! or SECONDS seconds. SIZE takes K, M or G (powers of 1024). `fork`
//! (after touching) forks a child that rewrites every odd page with its own
//! pattern, so that the two share the even pages and each has its own copy
//! of the odd ones; both then hold and verify their own view, and the
//! parent waits for the child. `churn` (with `hold`) rewrites every odd
//! page with a new pattern each second before checking, so that pages
//! are written while something moves them (the even pages, shared after
//! `fork`, stay shared).
//!
//! Exit status 0, 1 if the memory could not be had or lost its contents, 2
//! for arguments it does not understand.
#![no_std]
#![no_main]

use core::fmt;
use rt::sys;
use rt::Errno;
use rt::{eprintln, println};

rt::main!(main);

const PAGE: usize = 4096;
const PROGRESS: usize = 64 << 20;
const USAGE: &str = "usage: hog SIZE [touch] [verify] [hold[=SECONDS]] [brk] [lock] [fork] [churn]";

struct Options {
    size: usize,
    touch: bool,
    verify: bool,
    /// None: no hold; Some(None): for ever; Some(Some(n)): n seconds.
    hold: Option<Option<u32>>,
    brk: bool,
    /// mlockall once the memory is mapped (none of it then goes to swap).
    lock: bool,
    /// Fork after touching; the child rewrites the odd pages.
    fork: bool,
    /// Rewrite the odd pages every second of the hold.
    churn: bool,
}

/// Bytes as K, M or G when they are a whole number of them.
struct Size(usize);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (shift, unit) in [(30, "G"), (20, "M"), (10, "K")] {
            if n != 0 && n.is_multiple_of(1 << shift) {
                return write!(f, "{}{}", n >> shift, unit);
            }
        }
        write!(f, "{}", n)
    }
}

/// A size as Linux's memparse reads it: a number with K, M or G after.
fn parse_size(s: &str) -> Option<u64> {
    let (digits, shift) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 10),
        b'm' | b'M' => (&s[..s.len() - 1], 20),
        b'g' | b'G' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let n: u64 = digits.parse().ok()?;
    n.checked_mul(1 << shift)
}

fn parse() -> Result<Options, ()> {
    let mut args = rt::args().skip(1);
    let Some(size) = args.next() else {
        eprintln!("hog: no SIZE given; nothing mapped\n{}", USAGE);
        return Err(());
    };
    let arg = size;
    let size = match size.to_str().and_then(parse_size) {
        Some(0) | None => {
            eprintln!(
                "hog: SIZE {} is not a size (a number of bytes, with K, M or G); nothing mapped\n{}",
                size, USAGE
            );
            return Err(());
        }
        Some(n) => n,
    };
    let Some(size) = usize::try_from(size).ok().and_then(|n| n.checked_next_multiple_of(PAGE)) else {
        eprintln!("hog: SIZE {} is more than the address space holds; nothing mapped", arg);
        return Err(());
    };
    let mut o = Options { size, touch: false, verify: false, hold: None, brk: false, lock: false, fork: false, churn: false };
    for a in args {
        match a.to_str() {
            Some("touch") => o.touch = true,
            Some("verify") => o.verify = true,
            Some("brk") => o.brk = true,
            Some("lock") => o.lock = true,
            Some("fork") => o.fork = true,
            Some("churn") => o.churn = true,
            Some("hold") => o.hold = Some(None),
            Some(s) if s.starts_with("hold=") => match s[5..].parse() {
                Ok(n) => o.hold = Some(Some(n)),
                Err(_) => {
                    eprintln!("hog: {} is not hold=SECONDS; nothing mapped\n{}", a, USAGE);
                    return Err(());
                }
            },
            _ => {
                eprintln!("hog: option {} is not understood; nothing mapped\n{}", a, USAGE);
                return Err(());
            }
        }
    }
    Ok(o)
}

/// The heap grown by `size` bytes from the next page boundary on.
fn grow_heap(size: usize) -> Result<usize, Errno> {
    let start = sys::brk_current().next_multiple_of(PAGE);
    let end = start.checked_add(size).ok_or(Errno::ENOMEM)?;
    // SAFETY: the break only rises: nothing that was mapped goes away.
    if unsafe { sys::brk(end) } != end {
        return Err(Errno::ENOMEM);
    }
    Ok(start)
}

/// The words page `i` holds once touched: its first and its last.
fn pattern(seed: u32, i: usize) -> (u32, u32) {
    let w = seed ^ (i as u32).wrapping_mul(0x9e37_79b9);
    (w, !w)
}

/// The memory hog took: mapped by it, read and written by it alone, never
/// unmapped before the process ends.
struct Region {
    start: usize,
    size: usize,
    /// A forked child's own pattern for the odd pages.
    odd_seed: Option<u32>,
    /// How many times `churn` rewrote the odd pages.
    generation: u32,
}

impl Region {
    fn pages(&self) -> usize {
        self.size / PAGE
    }

    fn words(&self, i: usize) -> (*mut u32, *mut u32) {
        let page = (self.start + i * PAGE) as *mut u32;
        // SAFETY: i < pages(): both words are inside the region.
        (page, unsafe { page.add(PAGE / 4 - 1) })
    }

    /// What page `i` holds once touched.
    fn expected(&self, seed: u32, i: usize) -> (u32, u32) {
        if i % 2 == 0 {
            return pattern(seed, i);
        }
        let odd = self.odd_seed.unwrap_or(seed);
        pattern(odd ^ self.generation.wrapping_mul(0x0101_0101), i)
    }

    /// `churn`: the odd pages get the next generation's pattern.
    fn churn(&mut self, seed: u32) {
        self.generation += 1;
        for i in (1..self.pages()).step_by(2) {
            let (first, last) = self.words(i);
            let (a, b) = self.expected(seed, i);
            // SAFETY: as in touch().
            unsafe {
                first.write_volatile(a);
                last.write_volatile(b);
            }
        }
    }

    /// The child's rewrite of the odd pages (each a copy-on-write fault).
    fn rewrite_odd(&mut self, odd: u32) {
        self.odd_seed = Some(odd);
        for i in (1..self.pages()).step_by(2) {
            let (first, last) = self.words(i);
            let (a, b) = pattern(odd, i);
            // SAFETY: as in touch().
            unsafe {
                first.write_volatile(a);
                last.write_volatile(b);
            }
        }
    }

    fn touch(&self, seed: u32) {
        for i in 0..self.pages() {
            let (first, last) = self.words(i);
            let (a, b) = self.expected(seed, i);
            // SAFETY: inside the region, mapped read-write and hog's alone.
            // Volatile: the writes must reach memory, and the reads of
            // check() must come from it.
            unsafe {
                first.write_volatile(a);
                last.write_volatile(b);
            }
            let done = (i + 1) * PAGE;
            if done.is_multiple_of(PROGRESS) || done == self.size {
                println!("hog: touched {} of {}", Size(done), Size(self.size));
            }
        }
    }

    /// The first page that does not read as expected, with what it reads.
    fn check(&self, seed: u32, touched: bool) -> Result<(), (usize, u32, u32)> {
        for i in 0..self.pages() {
            let (first, last) = self.words(i);
            let want = if touched { self.expected(seed, i) } else { (0, 0) };
            // SAFETY: as in touch().
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

    fn verify(&self, seed: u32, touched: bool) -> bool {
        match self.check(seed, touched) {
            Ok(()) => {
                println!("hog: verified {}", Size(self.size));
                true
            }
            Err((addr, got, want)) => {
                eprintln!(
                    "hog: the word at {:#010x} reads {:#010x}, not {:#010x}: memory lost its contents",
                    addr, got, want
                );
                false
            }
        }
    }
}

fn main() -> i32 {
    let Ok(o) = parse() else {
        return 2;
    };
    let (how, got) = if o.brk {
        ("brk", grow_heap(o.size))
    } else {
        // MAP_NORESERVE, as memory hogs are written: the overcommit
        // heuristic (vm.overcommit_memory 0) then lets a hog larger than
        // RAM + swap map, touch, and meet reclaim and the OOM killer;
        // strict mode (2) ignores the flag and refuses it, as Linux does.
        // The brk form is charged like any heap.
        let flags = sys::MAP_PRIVATE | sys::MAP_ANONYMOUS | sys::MAP_NORESERVE;
        // SAFETY: no MAP_FIXED: the kernel picks a free place, replacing
        // nothing.
        ("mmap2", unsafe { sys::mmap2(0, o.size, sys::PROT_READ | sys::PROT_WRITE, flags, -1, 0) })
    };
    let start = match got {
        Ok(a) => a,
        Err(e) => {
            eprintln!("hog: {} of {} failed: {}", how, Size(o.size), e);
            return 1;
        }
    };
    let mut region = Region { start, size: o.size, odd_seed: None, generation: 0 };
    println!("hog: {} at {:#010x} ({})", Size(o.size), start, how);
    if o.lock {
        // Everything: the memory, and the program's own pages and stack.
        if let Err(e) = sys::mlockall(sys::MCL_CURRENT | sys::MCL_FUTURE) {
            eprintln!("hog: mlockall failed: {}", e);
            return 1;
        }
        println!("hog: locked {}", Size(o.size));
    }
    let seed = 0x5eed_0000 ^ sys::getpid() as u32;
    if o.touch {
        region.touch(seed);
    }
    if o.verify && !region.verify(seed, o.touch) {
        return 1;
    }
    let mut child = None;
    if o.fork {
        match sys::fork() {
            Ok(sys::Fork::Child) => {
                region.rewrite_odd(seed ^ 0x00c0_ffee);
                println!("hog: child {} rewrote the odd pages", sys::getpid());
            }
            Ok(sys::Fork::Parent(pid)) => child = Some(pid),
            Err(e) => {
                eprintln!("hog: fork failed: {}", e);
                return 1;
            }
        }
    }
    let status = hold_and_check(&o, &mut region, seed);
    if let Some(pid) = child {
        match sys::waitpid(pid, 0) {
            Ok((_, ws)) if ws.exit_status() == Some(0) => {}
            Ok((_, ws)) => {
                eprintln!("hog: child {} ended badly ({:?})", pid, ws);
                return 1;
            }
            Err(e) => {
                eprintln!("hog: waitpid {} failed: {}", pid, e);
                return 1;
            }
        }
    }
    status
}

/// `hold` and its checks, then "done"; the exit status.
fn hold_and_check(o: &Options, region: &mut Region, seed: u32) -> i32 {
    if let Some(secs) = o.hold {
        match secs {
            Some(n) => println!("hog: holding {} for {}s (pid {})", Size(o.size), n, sys::getpid()),
            None => println!("hog: holding {} until killed (pid {})", Size(o.size), sys::getpid()),
        }
        let mut left = secs;
        while left != Some(0) {
            sys::sleep(1);
            left = left.map(|n| n - 1);
            if o.churn && o.touch {
                region.churn(seed);
            }
            if o.verify && region.check(seed, o.touch).is_err() {
                return if region.verify(seed, o.touch) { 0 } else { 1 };
            }
        }
        if o.verify && !region.verify(seed, o.touch) {
            return 1;
        }
    }
    println!("hog: done");
    0
}
