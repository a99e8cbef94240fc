//! `/proc/PID/maps`: one line per area, as Linux's fs/proc/task_mmu.c
//! (`show_map_vma`) prints it:
//!
//! ```text
//! 08048000-08049000 r-xp 00000000 00:00 0          /hog
//! 0804a000-0806b000 rw-p 00000000 00:00 0          [heap]
//! b7f5c000-b7f6c000 rw-p 00000000 00:00 0
//! bfb9c000-bfbbd000 rw-p 00000000 00:00 0          [stack]
//! ```
//!
//! A name is padded to column 49 (`25 + sizeof(void *) * 6`, at least one
//! space); an area without a name keeps the space after its inode, as
//! Linux's does. Programs are GRUB modules, which have no device or inode:
//! `00:00 0`. The offset of an anonymous area reads 0, as in the project's
//! reference output (Linux 6.1, ../shared/linux-formats/proc.txt); 2.6.24
//! printed its `vm_pgoff`, the address.

use super::{VmAreaAlloc, VmFlags, Vma, VmaKind, VmaSet, PAGE_SIZE};
use core::alloc::Allocator;
use core::fmt;

/// Where the name starts: `25 + sizeof(void *) * 6` on i386.
const NAME_COLUMN: usize = 25 + 4 * 6;

/// One line of `/proc/PID/maps`, without its newline.
pub struct MapsLine<'a> {
    vma: &'a Vma,
    name: Option<&'static str>,
}

/// The whole of `/proc/PID/maps`, a newline after each line.
pub struct Maps<'a, A: Allocator + Clone = VmAreaAlloc>(&'a VmaSet<A>);

impl<A: Allocator + Clone> VmaSet<A> {
    pub fn maps_line<'a>(&'a self, vma: &'a Vma) -> MapsLine<'a> {
        MapsLine { vma, name: self.vma_name(vma) }
    }

    pub fn maps(&self) -> Maps<'_, A> {
        Maps(self)
    }

    /// The name `show_map_vma` prints: the file's path, `[heap]` for the
    /// anonymous area holding `start_brk` and `brk`, `[stack]` for the one
    /// holding `start_stack`.
    pub fn vma_name(&self, vma: &Vma) -> Option<&'static str> {
        match vma.kind {
            VmaKind::File(f) => Some(f.name),
            VmaKind::Anonymous if vma.start <= self.start_brk && vma.end >= self.brk => Some("[heap]"),
            VmaKind::Anonymous if vma.start <= self.start_stack && vma.end >= self.start_stack => Some("[stack]"),
            VmaKind::Anonymous => None,
        }
    }
}

/// Counts what goes through it, for the padding (`seq_printf`'s `%n`).
struct Counted<'a, 'b> {
    out: &'a mut fmt::Formatter<'b>,
    len: usize,
}

impl fmt::Write for Counted<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.len += s.len();
        self.out.write_str(s)
    }
}

impl fmt::Display for MapsLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        let v = self.vma;
        let bit = |flag: VmFlags, c: char| if v.flags.contains(flag) { c } else { '-' };
        let offset = match v.kind {
            VmaKind::File(_) => v.pgoff as u64 * PAGE_SIZE as u64,
            VmaKind::Anonymous => 0,
        };
        let mut out = Counted { out: f, len: 0 };
        write!(
            out,
            "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ",
            v.start,
            v.end,
            bit(VmFlags::READ, 'r'),
            bit(VmFlags::WRITE, 'w'),
            bit(VmFlags::EXEC, 'x'),
            if v.flags.contains(VmFlags::MAYSHARE) { 's' } else { 'p' },
            offset,
            0,
            0,
            0
        )?;
        if let Some(name) = self.name {
            let pad = NAME_COLUMN.saturating_sub(out.len).max(1);
            write!(out, "{:pad$}{}", "", name)?;
        }
        Ok(())
    }
}

impl<A: Allocator + Clone> fmt::Display for Maps<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for v in self.0.iter() {
            writeln!(f, "{}", self.0.maps_line(v))?;
        }
        Ok(())
    }
}
