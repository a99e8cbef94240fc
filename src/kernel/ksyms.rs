//! Kernel symbols for backtraces (Linux's kallsyms, the simple way).
//!
//! The build writes the function symbols of `kernel.elf` to `kernel.sym`
//! (`scripts/mksyms.sh`: one `address size name` line each, sorted by
//! address) and GRUB loads it as a module named `symbols`. A crash report
//! turns return addresses into `name+0x12/0x40` with it.

#![deny(unsafe_code)]

use core::fmt::{self, Write};

/// A symbol table in the text format of `scripts/mksyms.sh`.
#[derive(Clone, Copy)]
pub struct SymTab<'a> {
    text: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol<'a> {
    pub name: &'a str,
    pub addr: usize,
    pub size: usize,
}

fn hex(s: &[u8]) -> Option<usize> {
    let mut v: usize = 0;
    if s.is_empty() || s.len() > 8 {
        return None;
    }
    for &c in s {
        let d = (c as char).to_digit(16)? as usize;
        v = (v << 4) | d;
    }
    Some(v)
}

impl<'a> SymTab<'a> {
    pub const fn new(text: &'a [u8]) -> Self {
        SymTab { text }
    }

    fn parse(line: &'a [u8]) -> Option<Symbol<'a>> {
        let mut parts = line.splitn(3, |&b| b == b' ');
        let addr = hex(parts.next()?)?;
        let size = hex(parts.next()?)?;
        let name = core::str::from_utf8(parts.next()?).ok()?;
        Some(Symbol { name, addr, size })
    }

    pub fn symbols(&self) -> impl Iterator<Item = Symbol<'a>> + 'a {
        self.text.split(|&b| b == b'\n').filter_map(Self::parse)
    }

    /// The symbol containing `addr`: the last one starting at or below it,
    /// if `addr` is inside its size (or, for sizeless symbols, before the next).
    pub fn lookup(&self, addr: usize) -> Option<Symbol<'a>> {
        let mut best: Option<Symbol<'a>> = None;
        let mut next_start = usize::MAX;
        for s in self.symbols() {
            if s.addr <= addr {
                best = Some(s);
                next_start = usize::MAX;
            } else if next_start == usize::MAX {
                next_start = s.addr;
            }
        }
        let mut s = best?;
        let end = if s.size > 0 { s.addr + s.size } else { next_start };
        if s.size == 0 && end != usize::MAX {
            s.size = end - s.addr; // assembly labels: up to the next symbol
        }
        (addr < end).then_some(s)
    }

    pub fn find(&self, name: &str) -> Option<Symbol<'a>> {
        self.symbols().find(|s| s.name == name)
    }
}

/// `name+0x12/0x40`, or the bare address when no symbol covers it.
pub fn format_symbol(out: &mut impl Write, tab: Option<SymTab<'_>>, addr: usize) -> fmt::Result {
    match tab.and_then(|t| t.lookup(addr)) {
        Some(s) => write!(out, "{}+{:#x}/{:#x}", s.name, addr - s.addr, s.size),
        None => write!(out, "{:#010x}", addr),
    }
}

/// Like `format_symbol`, for a return address in a backtrace: the call may
/// have been the last instruction of its function (a call to a function that
/// never returns), so the symbol is looked up for `addr - 1`, as Linux's `%pB`.
pub fn format_return_address(out: &mut impl Write, tab: Option<SymTab<'_>>, addr: usize) -> fmt::Result {
    match tab.and_then(|t| t.lookup(addr.wrapping_sub(1))) {
        Some(s) => write!(out, "{}+{:#x}/{:#x}", s.name, addr - s.addr, s.size),
        None => write!(out, "{:#010x}", addr),
    }
}

/// The return addresses of a frame-pointer chain, innermost first, at most
/// `max`. `frame(ebp)` reads the pair saved at `ebp` (the caller's frame
/// pointer, then the return address), or `None` when `ebp` is not a readable
/// frame; the walk also ends at a return address outside the kernel's text
/// (`is_text`) and at a frame pointer that does not go up the stack.
pub fn frame_chain(
    mut ebp: usize,
    max: usize,
    frame: impl Fn(usize) -> Option<(usize, usize)>,
    is_text: impl Fn(usize) -> bool,
) -> impl Iterator<Item = usize> {
    let mut left = max;
    core::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let (next, ret) = frame(ebp)?;
        if !is_text(ret) {
            left = 0;
            return None;
        }
        // Stacks grow down: the chain must go up, or it ends after this one.
        left = if next <= ebp { 0 } else { left - 1 };
        ebp = next;
        Some(ret)
    })
}

#[cfg(target_os = "none")]
mod table {
    use super::SymTab;
    use core::sync::atomic::{AtomicUsize, Ordering};

    static START: AtomicUsize = AtomicUsize::new(0);
    static LEN: AtomicUsize = AtomicUsize::new(0);

    /// Register the symbol module (a kernel virtual address range that stays
    /// mapped and reserved for the kernel's life).
    /// An empty slice turns the table off.
    pub fn init(text: &'static [u8]) {
        LEN.store(0, Ordering::Release);
        START.store(text.as_ptr() as usize, Ordering::Relaxed);
        LEN.store(text.len(), Ordering::Release);
    }

    pub fn table() -> Option<SymTab<'static>> {
        let len = LEN.load(Ordering::Acquire);
        if len == 0 {
            return None;
        }
        let start = START.load(Ordering::Relaxed) as *const u8;
        // SAFETY: `init` stored a 'static slice's pointer and length.
        #[allow(unsafe_code)]
        let text = unsafe { core::slice::from_raw_parts(start, len) };
        Some(SymTab::new(text))
    }
}

#[cfg(target_os = "none")]
pub use table::{init, table};

#[cfg(target_os = "none")]
pub fn write_symbol(out: &mut impl Write, addr: usize) {
    let _ = format_symbol(out, table(), addr);
}

#[cfg(target_os = "none")]
pub fn write_return_address(out: &mut impl Write, addr: usize) {
    let _ = format_return_address(out, table(), addr);
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAB: &[u8] = b"c0100000 00000010 start_kernel\nc0100010 00000020 kernel::sched::schedule\nc0100040 00000000 trap_common\nc0100080 00000004 last\n";

    #[test]
    fn lookup_inside_and_outside() {
        let t = SymTab::new(TAB);
        assert_eq!(t.lookup(0xc0100000).unwrap().name, "start_kernel");
        assert_eq!(t.lookup(0xc010000f).unwrap().name, "start_kernel");
        assert_eq!(t.lookup(0xc0100015).unwrap().name, "kernel::sched::schedule");
        assert_eq!(t.lookup(0xc0100030), None); // past schedule's size
        let sizeless = t.lookup(0xc010007f).unwrap(); // sizeless: up to the next
        assert_eq!((sizeless.name, sizeless.size), ("trap_common", 0x40));
        assert_eq!(t.lookup(0xc0100084), None);
        assert_eq!(t.lookup(0xbfffffff), None);
    }

    #[test]
    fn formats_like_linux() {
        let mut s = String::new();
        format_symbol(&mut s, Some(SymTab::new(TAB)), 0xc0100012).unwrap();
        assert_eq!(s, "kernel::sched::schedule+0x2/0x20");
        let mut s = String::new();
        format_symbol(&mut s, None, 0xc0100012).unwrap();
        assert_eq!(s, "0xc0100012");
    }

    #[test]
    fn return_address_past_the_end_names_the_caller() {
        let mut s = String::new();
        format_return_address(&mut s, Some(SymTab::new(TAB)), 0xc0100010).unwrap();
        assert_eq!(s, "start_kernel+0x10/0x10");
    }

    #[test]
    fn return_addresses_print_linux_offsets() {
        // %pB: looked up at ret - 1, printed as ret - start (never ret - 1 - start).
        let mut s = String::new();
        format_return_address(&mut s, Some(SymTab::new(TAB)), 0xc0100012).unwrap();
        assert_eq!(s, "kernel::sched::schedule+0x2/0x20");
        let mut s = String::new();
        format_return_address(&mut s, Some(SymTab::new(TAB)), 0xc0100030).unwrap();
        assert_eq!(s, "kernel::sched::schedule+0x20/0x20");
    }

    /// A fake stack: frame pointer -> (saved frame pointer, return address).
    fn stack(frames: &'static [(usize, usize, usize)]) -> impl Fn(usize) -> Option<(usize, usize)> {
        move |ebp| frames.iter().find(|f| f.0 == ebp).map(|f| (f.1, f.2))
    }

    fn text(a: usize) -> bool {
        (0xc0100000..0xc0100084).contains(&a)
    }

    fn trace(rets: impl Iterator<Item = usize>) -> Vec<String> {
        rets.map(|r| {
            let mut s = String::new();
            format_return_address(&mut s, Some(SymTab::new(TAB)), r).unwrap();
            s
        })
        .collect()
    }

    #[test]
    fn call_trace_starts_at_the_caller_with_linux_offsets() {
        // What `warn` prints: the chain from its own frame, so the first line
        // is its caller at the return address, never `+0x0` or ret - 1.
        const FRAMES: &[(usize, usize, usize)] =
            &[(0x1000, 0x1010, 0xc0100012), (0x1010, 0x1020, 0xc0100010), (0x1020, 0x1030, 0xc0100043)];
        let lines = trace(frame_chain(0x1000, 32, stack(FRAMES), text));
        assert_eq!(lines, ["kernel::sched::schedule+0x2/0x20", "start_kernel+0x10/0x10", "trap_common+0x3/0x40"]);
    }

    #[test]
    fn call_trace_ends_at_bad_frames() {
        // Out of text, a frame pointer going down, an unreadable frame, and the limit.
        const OUT_OF_TEXT: &[(usize, usize, usize)] = &[(0x1000, 0x1010, 0xc0100012), (0x1010, 0x1020, 0xdead)];
        assert_eq!(frame_chain(0x1000, 32, stack(OUT_OF_TEXT), text).count(), 1);
        const DOWN: &[(usize, usize, usize)] = &[(0x1000, 0x0ff0, 0xc0100012), (0x0ff0, 0x1000, 0xc0100012)];
        assert_eq!(frame_chain(0x1000, 32, stack(DOWN), text).count(), 1);
        const LOOP: &[(usize, usize, usize)] = &[(0x1000, 0x1010, 0xc0100012), (0x1010, 0x1020, 0xc0100012)];
        assert_eq!(frame_chain(0x1000, 32, stack(LOOP), text).count(), 2);
        assert_eq!(frame_chain(0x1000, 1, stack(LOOP), text).count(), 1);
    }

    #[test]
    fn garbage_lines_are_skipped() {
        let t = SymTab::new(b"zzz\n\nc0100000 00000010 ok\nc01 x\n");
        assert_eq!(t.symbols().count(), 1);
        assert_eq!(t.find("ok").unwrap().addr, 0xc0100000);
    }
}
