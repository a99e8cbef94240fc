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
    fn garbage_lines_are_skipped() {
        let t = SymTab::new(b"zzz\n\nc0100000 00000010 ok\nc01 x\n");
        assert_eq!(t.symbols().count(), 1);
        assert_eq!(t.find("ok").unwrap().addr, 0xc0100000);
    }
}
