//! The pure half of Linux's fs/binfmt_elf.c: deciding whether a file is a
//! program this kernel runs, what `load_elf_binary` would map from it, and
//! the first user stack that `create_elf_tables` lays out. Nothing here
//! touches memory or page tables; exec (elsewhere) maps what the plan says
//! and copies the stack image below `STACK_TOP`. Host-tested.
//!
//! Only static i386 executables run (`ET_EXEC`, no `PT_INTERP`): there is
//! no dynamic linker. The checks are Linux's, made stricter where a lax
//! answer would only turn into a fault later: every `PT_LOAD` must lie in
//! the file and below `TASK_SIZE`, with `p_vaddr` and `p_offset` equal
//! modulo the page size (Linux's `mmap` refuses otherwise), no two segments
//! on one page (ld and lld never put them so; a shared page would need
//! both permissions), nothing on page 0 (Linux's `mmap_min_addr`: a NULL
//! dereference must fault), and the entry inside an executable segment.
//!
//! The stack, from `STACK_TOP` down, as Linux 6.x builds it on a 32-bit
//! kernel without randomisation (checked against a real Linux with
//! `user/c/auxv.c`):
//!
//! ```text
//!  STACK_TOP   4 zero bytes (the end marker, one pointer)
//!              the file name (AT_EXECFN), NUL-terminated
//!              envp strings, argv strings, in order  <- arg_start
//!              (down to a 16-byte boundary)
//!              "i686\0" (AT_PLATFORM)
//!              16 random bytes (AT_RANDOM)
//!              (0..15 bytes, so that esp is 16-byte aligned)
//!              auxv pairs, AT_NULL last
//!              NULL, envp[envc-1] .. envp[0]
//!              NULL, argv[argc-1] .. argv[0]
//!  esp ->      argc
//! ```
//!
//! Why this file is past 600 lines: Linux's binfmt_elf.c holds both
//! halves, the check (`load_elf_binary`) and the stack (`create_elf_tables`),
//! which share the plan and the auxv numbers; a student looks for them here.

#![forbid(unsafe_code)]

use crate::layout::{PAGE_SIZE, TASK_SIZE};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use elf::abi;
use elf::endian::LittleEndian;
use elf::file::{Class, FileHeader};
use elf::segment::{ProgramHeader, SegmentTable};

/// The user stack ends where the kernel begins (Linux's `STACK_TOP`,
/// `TASK_SIZE` on i386).
pub const STACK_TOP: u32 = TASK_SIZE as u32;
/// Size of an i386 ELF file header and program header.
pub const ELF32_EHDR_SIZE: usize = 52;
pub const ELF32_PHDR_SIZE: usize = 32;
/// Linux refuses a program header table over 64 KB (`load_elf_phdrs`).
pub const MAX_PHNUM: usize = 65536 / ELF32_PHDR_SIZE;
/// Longest interpreter path Linux reads.
const PATH_MAX: usize = 4096;
/// Lowest address a segment may map (Linux's `mmap_min_addr` default):
/// page 0 stays unmapped so that NULL dereferences fault.
pub const MMAP_MIN_ADDR: u32 = PAGE_SIZE as u32;

/// One argument or environment string, with its NUL, at most 32 pages
/// (Linux's `MAX_ARG_STRLEN`).
pub const MAX_ARG_STRLEN: usize = 32 * PAGE_SIZE;
/// All strings and their pointers together, at most 32 pages: the limit
/// Linux always grants (its `ARG_MAX`, and the whole limit before 2.6.23's
/// `MAX_ARG_PAGES`). Linux now allows up to a quarter of `RLIMIT_STACK`;
/// the fixed cap keeps the image that exec copies bounded.
pub const ARG_MAX: usize = 32 * PAGE_SIZE;
/// `AT_PLATFORM` on i386 (`utsname()->machine`).
pub const ELF_PLATFORM: &[u8] = b"i686";
/// `AT_CLKTCK`: Linux's `USER_HZ`, what `times()` counts in.
pub const CLOCKS_PER_SEC: u32 = 100;

/// Auxiliary vector entry types (Linux's include/uapi/linux/auxvec.h).
pub const AT_NULL: u32 = 0;
pub const AT_PHDR: u32 = 3;
pub const AT_PHENT: u32 = 4;
pub const AT_PHNUM: u32 = 5;
pub const AT_PAGESZ: u32 = 6;
pub const AT_BASE: u32 = 7;
pub const AT_FLAGS: u32 = 8;
pub const AT_ENTRY: u32 = 9;
pub const AT_UID: u32 = 11;
pub const AT_EUID: u32 = 12;
pub const AT_GID: u32 = 13;
pub const AT_EGID: u32 = 14;
pub const AT_PLATFORM: u32 = 15;
pub const AT_HWCAP: u32 = 16;
pub const AT_CLKTCK: u32 = 17;
pub const AT_SECURE: u32 = 23;
pub const AT_RANDOM: u32 = 25;
pub const AT_EXECFN: u32 = 31;

bitflags::bitflags! {
    /// A segment's permissions, as `p_flags` spells them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct SegFlags: u32 {
        const X = abi::PF_X;
        const W = abi::PF_W;
        const R = abi::PF_R;
    }
}

impl fmt::Display for SegFlags {
    /// `R-X`, `RW-`: the letters of `/proc/PID/maps` and `readelf -l`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = |flag, ch| if self.contains(flag) { ch } else { '-' };
        write!(f, "{}{}{}", c(SegFlags::R, 'R'), c(SegFlags::W, 'W'), c(SegFlags::X, 'X'))
    }
}

/// A `PT_LOAD` segment: `[vaddr, vaddr + memsz)` in memory, its first
/// `filesz` bytes from `[offset, offset + filesz)` of the file, the rest
/// zero (`.bss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    pub vaddr: u32,
    pub memsz: u32,
    pub offset: u32,
    pub filesz: u32,
    pub flags: SegFlags,
}

impl LoadSegment {
    pub fn vaddr_end(&self) -> u32 {
        self.vaddr + self.memsz
    }
    /// The page-aligned range the segment maps (Linux's `ELF_PAGESTART`
    /// and `ELF_PAGEALIGN`).
    pub fn page_start(&self) -> u32 {
        page_down(self.vaddr)
    }
    pub fn page_end(&self) -> u32 {
        page_up(self.vaddr_end())
    }
    /// File offset of the segment's first page (what `elf_map` passes).
    pub fn page_offset(&self) -> u32 {
        self.offset - (self.vaddr - self.page_start())
    }
}

/// What `load_elf_binary` would do with a checked program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfPlan {
    /// The `PT_LOAD` segments, sorted by address (none share a page).
    pub segments: Vec<LoadSegment>,
    /// Where the program starts (`e_entry`, `AT_ENTRY`).
    pub entry: u32,
    /// `AT_PHDR`, `AT_PHENT`, `AT_PHNUM`: where the program headers are in
    /// memory, as Linux 2.6.24 computes it (first `PT_LOAD`'s
    /// `p_vaddr - p_offset`, plus `e_phoff`).
    pub phdr: u32,
    pub phent: u32,
    pub phnum: u32,
    /// `mm->start_code`, `end_code`, `start_data`, `end_data`, as Linux
    /// sets them (for `/proc/PID/status`'s VmExe and VmData).
    pub start_code: u32,
    pub end_code: u32,
    pub start_data: u32,
    pub end_data: u32,
    /// The end of `.bss`, page aligned: `mm->start_brk` (Linux's `set_brk`).
    pub brk: u32,
    /// `PT_GNU_STACK` asks for an executable stack, or is missing (i386's
    /// default then is executable, Linux's `EXSTACK_DEFAULT`).
    pub exec_stack: bool,
}

/// Why a file is not a program this kernel runs. `Display` names the
/// problem and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElfError {
    BadMagic([u8; 4]),
    /// Shorter than the magic, or than an ELF header.
    ShortHeader {
        len: usize,
    },
    Class64,
    BadClass(u8),
    BadData(u8),
    BadVersion(u8),
    Machine(u16),
    Type(u16),
    PhEntSize(u16),
    PhNum(u16),
    /// `what` (program headers, a segment's file bytes) reaches past the
    /// end of the file.
    Truncated {
        what: Part,
        start: u64,
        end: u64,
        len: usize,
    },
    Interp(String),
    NoLoad,
    FileszOverMemsz {
        index: usize,
        filesz: u64,
        memsz: u64,
    },
    KernelSpace {
        index: usize,
        start: u64,
        end: u64,
    },
    PageZero {
        index: usize,
        vaddr: u32,
    },
    Unaligned {
        index: usize,
        vaddr: u32,
        offset: u32,
    },
    Overlap {
        a: usize,
        a_range: (u32, u32),
        b: usize,
        b_range: (u32, u32),
    },
    EntryNotExec(u32),
}

/// The part of a file an `ElfError::Truncated` is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    ProgramHeaders,
    Interp,
    Segment(usize),
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::ProgramHeaders => write!(f, "program headers"),
            Part::Interp => write!(f, "PT_INTERP path"),
            Part::Segment(i) => write!(f, "segment {} file bytes", i),
        }
    }
}

fn machine_name(m: u16) -> &'static str {
    match m {
        abi::EM_NONE => "none",
        abi::EM_SPARC => "SPARC",
        abi::EM_MIPS => "MIPS",
        abi::EM_PPC => "PowerPC",
        abi::EM_PPC64 => "PowerPC64",
        abi::EM_ARM => "ARM",
        abi::EM_X86_64 => "x86-64",
        abi::EM_AARCH64 => "AArch64",
        abi::EM_RISCV => "RISC-V",
        _ => "unknown",
    }
}

fn type_name(t: u16) -> Option<&'static str> {
    match t {
        abi::ET_NONE => Some("ET_NONE"),
        abi::ET_REL => Some("ET_REL"),
        abi::ET_EXEC => Some("ET_EXEC"),
        abi::ET_DYN => Some("ET_DYN"),
        abi::ET_CORE => Some("ET_CORE"),
        _ => None,
    }
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ElfError::*;
        match self {
            BadMagic(m) => write!(f, "not an ELF file (magic {:02x} {:02x} {:02x} {:02x})", m[0], m[1], m[2], m[3]),
            ShortHeader { len } => {
                write!(f, "truncated: the {}-byte file is shorter than an ELF header ({} bytes)", len, ELF32_EHDR_SIZE)
            }
            Class64 => write!(f, "ELFCLASS64: only 32-bit programs run here"),
            BadClass(c) => write!(f, "EI_CLASS {}: only ELFCLASS32 (1)", c),
            BadData(2) => write!(f, "ELFDATA2MSB (big-endian): only little-endian (ELFDATA2LSB) programs run here"),
            BadData(d) => write!(f, "EI_DATA {}: only little-endian (ELFDATA2LSB, 1)", d),
            BadVersion(v) => write!(f, "EI_VERSION {}: only EV_CURRENT (1)", v),
            Machine(m) => write!(f, "e_machine {} ({}): only i386 (3)", m, machine_name(*m)),
            Type(t) => match type_name(*t) {
                Some(name) => write!(f, "{}: only static executables (ET_EXEC)", name),
                None => write!(f, "e_type {:#x}: only static executables (ET_EXEC)", t),
            },
            PhEntSize(s) => write!(f, "e_phentsize {}: an i386 program header is {} bytes", s, ELF32_PHDR_SIZE),
            PhNum(n) => write!(f, "e_phnum {}: a program has 1 to {} program headers", n, MAX_PHNUM),
            Truncated { what, start, end, len } => {
                write!(f, "truncated: {} [{:#x}-{:#x}) past the end of the {:#x}-byte file", what, start, end, len)
            }
            Interp(path) => write!(f, "PT_INTERP {}: dynamically linked", path),
            NoLoad => write!(f, "no PT_LOAD segment: nothing to run"),
            FileszOverMemsz { index, filesz, memsz } => {
                write!(f, "segment {}: p_filesz {:#x} > p_memsz {:#x}", index, filesz, memsz)
            }
            KernelSpace { index, start, end } => {
                write!(f, "segment {} [{:#x}-{:#x}) reaches kernel space ({:#x})", index, start, end, TASK_SIZE)
            }
            PageZero { index, vaddr } => {
                write!(f, "segment {} at {:#x} maps below {:#x}: page 0 stays unmapped", index, vaddr, MMAP_MIN_ADDR)
            }
            Unaligned { index, vaddr, offset } => write!(
                f,
                "segment {}: p_vaddr {:#x} and p_offset {:#x} differ modulo the page size ({:#x})",
                index, vaddr, offset, PAGE_SIZE
            ),
            Overlap { a, a_range, b, b_range } => write!(
                f,
                "segments {} [{:#x}-{:#x}) and {} [{:#x}-{:#x}) overlap or share a page",
                a, a_range.0, a_range.1, b, b_range.0, b_range.1
            ),
            EntryNotExec(e) => write!(f, "entry {:#x} is outside every executable segment", e),
        }
    }
}

fn page_down(a: u32) -> u32 {
    a & !(PAGE_SIZE as u32 - 1)
}

fn page_up(a: u32) -> u32 {
    // Cannot overflow for addresses below TASK_SIZE, the only ones used.
    page_down(a + (PAGE_SIZE as u32 - 1))
}

/// `[start, start + size)` of a file of `len` bytes, or `None` when it
/// reaches past the end (or past 4 GB).
fn file_range(start: u64, size: u64, len: usize) -> Option<core::ops::Range<usize>> {
    let end = start.checked_add(size)?;
    if end > len as u64 {
        return None;
    }
    Some(start as usize..end as usize)
}

/// Checks `data` as Linux's `load_elf_binary` does, and says what to map.
pub fn parse(data: &[u8]) -> Result<ElfPlan, ElfError> {
    let ehdr = check_header(data)?;
    let phoff = ehdr.e_phoff;
    let phnum = ehdr.e_phnum as usize;
    let table_len = (phnum * ELF32_PHDR_SIZE) as u64;
    let table = file_range(phoff, table_len, data.len()).ok_or(ElfError::Truncated {
        what: Part::ProgramHeaders,
        start: phoff,
        end: phoff + table_len,
        len: data.len(),
    })?;
    let phdrs = SegmentTable::new(LittleEndian, Class::ELF32, &data[table]);

    // Linux looks for the interpreter before it maps anything.
    for ph in phdrs.iter() {
        if ph.p_type == abi::PT_INTERP {
            let (start, end) = (ph.p_offset, ph.p_offset.saturating_add(ph.p_filesz));
            let range = file_range(ph.p_offset, ph.p_filesz, data.len());
            let bytes = &data[range.ok_or(ElfError::Truncated { what: Part::Interp, start, end, len: data.len() })?];
            // Linux refuses a path over PATH_MAX; only the message needs it here.
            let path = bytes[..bytes.len().min(PATH_MAX)].split(|&b| b == 0).next().unwrap_or(&[]);
            return Err(ElfError::Interp(String::from_utf8_lossy(path).into_owned()));
        }
    }

    let mut segments = Vec::new();
    let mut load_addr = None;
    let mut exec_stack = true;
    for (index, ph) in phdrs.iter().enumerate() {
        match ph.p_type {
            abi::PT_LOAD => {
                if let Some(seg) = check_load(index, &ph, data.len())? {
                    load_addr.get_or_insert(seg.vaddr.wrapping_sub(seg.offset));
                    segments.push((index, seg));
                }
            }
            abi::PT_GNU_STACK => exec_stack = ph.p_flags & abi::PF_X != 0,
            _ => {}
        }
    }
    let load_addr = load_addr.ok_or(ElfError::NoLoad)?;

    segments.sort_by_key(|(_, s)| s.vaddr);
    for pair in segments.windows(2) {
        let ((a, sa), (b, sb)) = (pair[0], pair[1]);
        if sa.page_end() > sb.page_start() {
            return Err(ElfError::Overlap {
                a,
                a_range: (sa.vaddr, sa.vaddr_end()),
                b,
                b_range: (sb.vaddr, sb.vaddr_end()),
            });
        }
    }

    let entry = ehdr.e_entry as u32;
    let runs = |s: &LoadSegment| s.flags.contains(SegFlags::X) && (s.vaddr..s.vaddr_end()).contains(&entry);
    if !segments.iter().any(|(_, s)| runs(s)) {
        return Err(ElfError::EntryNotExec(entry));
    }

    // Linux's loop in load_elf_binary, for the mm's code and data marks.
    let (mut start_code, mut end_code, mut start_data, mut end_data, mut elf_brk) = (u32::MAX, 0, 0, 0, 0);
    for (_, s) in &segments {
        start_code = start_code.min(s.vaddr);
        start_data = start_data.max(s.vaddr);
        let file_end = s.vaddr + s.filesz;
        if s.flags.contains(SegFlags::X) {
            end_code = end_code.max(file_end);
        }
        end_data = end_data.max(file_end);
        elf_brk = elf_brk.max(s.vaddr_end());
    }

    Ok(ElfPlan {
        segments: segments.into_iter().map(|(_, s)| s).collect(),
        entry,
        phdr: load_addr.wrapping_add(phoff as u32),
        phent: ELF32_PHDR_SIZE as u32,
        phnum: phnum as u32,
        start_code,
        end_code,
        start_data,
        end_data,
        brk: page_up(elf_brk),
        exec_stack,
    })
}

/// The identification bytes with our own messages, then the `elf` crate
/// parses the rest of the header; then type, machine and table geometry.
fn check_header(data: &[u8]) -> Result<FileHeader<LittleEndian>, ElfError> {
    if data.len() >= 4 && data[..4] != abi::ELFMAGIC {
        return Err(ElfError::BadMagic([data[0], data[1], data[2], data[3]]));
    }
    if data.len() > abi::EI_CLASS {
        match data[abi::EI_CLASS] {
            abi::ELFCLASS32 => {}
            abi::ELFCLASS64 => return Err(ElfError::Class64),
            c => return Err(ElfError::BadClass(c)),
        }
    }
    if data.len() < ELF32_EHDR_SIZE {
        return Err(ElfError::ShortHeader { len: data.len() });
    }
    if data[abi::EI_DATA] != abi::ELFDATA2LSB {
        return Err(ElfError::BadData(data[abi::EI_DATA]));
    }
    if data[abi::EI_VERSION] != abi::EV_CURRENT {
        return Err(ElfError::BadVersion(data[abi::EI_VERSION]));
    }
    // Both cannot fail any more: the bytes they check were checked above,
    // and the header is long enough.
    let ident = elf::file::parse_ident::<LittleEndian>(&data[..abi::EI_NIDENT])
        .map_err(|_| ElfError::ShortHeader { len: data.len() })?;
    let ehdr = FileHeader::parse_tail(ident, &data[abi::EI_NIDENT..ELF32_EHDR_SIZE])
        .map_err(|_| ElfError::ShortHeader { len: data.len() })?;

    // Linux's elf_check_arch: i386, or the old EM_486 number.
    if ehdr.e_machine != abi::EM_386 && ehdr.e_machine != 6 {
        return Err(ElfError::Machine(ehdr.e_machine));
    }
    if ehdr.e_type != abi::ET_EXEC {
        return Err(ElfError::Type(ehdr.e_type));
    }
    if ehdr.e_phentsize as usize != ELF32_PHDR_SIZE {
        return Err(ElfError::PhEntSize(ehdr.e_phentsize));
    }
    if ehdr.e_phnum == 0 || ehdr.e_phnum as usize > MAX_PHNUM {
        return Err(ElfError::PhNum(ehdr.e_phnum));
    }
    Ok(ehdr)
}

/// One `PT_LOAD`, checked; `None` for an empty one (`p_memsz` 0), which
/// Linux maps as nothing too.
fn check_load(index: usize, ph: &ProgramHeader, len: usize) -> Result<Option<LoadSegment>, ElfError> {
    let (vaddr, memsz, offset, filesz) = (ph.p_vaddr, ph.p_memsz, ph.p_offset, ph.p_filesz);
    if filesz > memsz {
        return Err(ElfError::FileszOverMemsz { index, filesz, memsz });
    }
    if vaddr + memsz > TASK_SIZE as u64 {
        return Err(ElfError::KernelSpace { index, start: vaddr, end: vaddr + memsz });
    }
    if file_range(offset, filesz, len).is_none() {
        return Err(ElfError::Truncated { what: Part::Segment(index), start: offset, end: offset + filesz, len });
    }
    if memsz == 0 {
        return Ok(None);
    }
    // All four fit in u32 now: vaddr + memsz is below 3 GB and the file
    // range lies within a slice.
    let seg = LoadSegment {
        vaddr: vaddr as u32,
        memsz: memsz as u32,
        offset: offset as u32,
        filesz: filesz as u32,
        flags: SegFlags::from_bits_truncate(ph.p_flags),
    };
    if seg.vaddr < MMAP_MIN_ADDR {
        return Err(ElfError::PageZero { index, vaddr: seg.vaddr });
    }
    if seg.vaddr % PAGE_SIZE as u32 != seg.offset % PAGE_SIZE as u32 {
        return Err(ElfError::Unaligned { index, vaddr: seg.vaddr, offset: seg.offset });
    }
    Ok(Some(seg))
}

/// What exec passes to a new program besides its file.
pub struct ExecArgs<'a> {
    pub argv: &'a [&'a [u8]],
    pub envp: &'a [&'a [u8]],
    /// The name the program was run by (`AT_EXECFN`, Linux's `bprm->filename`).
    pub execfn: &'a [u8],
    /// `AT_RANDOM`: glibc seeds its stack protector and pointer guard here.
    pub random: [u8; 16],
    /// `AT_HWCAP`: CPUID leaf 1's EDX on i386.
    pub hwcap: u32,
}

/// Why the arguments do not fit. Linux answers `E2BIG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    /// `what` (`argv[3]`, `envp[0]`, `the file name`) is `len` bytes with its NUL.
    TooLong { what: String, len: usize },
    /// Strings and pointers together take `size` bytes.
    TooBig { size: usize },
    /// A string holds a NUL at byte `at`: C would see it end there.
    Nul { what: String, at: usize },
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::TooLong { what, len } => write!(
                f,
                "{} is {} bytes with its NUL, more than MAX_ARG_STRLEN ({} bytes): E2BIG",
                what, len, MAX_ARG_STRLEN
            ),
            ArgError::TooBig { size } => write!(
                f,
                "arguments and environment take {} bytes with their pointers, more than ARG_MAX ({} bytes): E2BIG",
                size, ARG_MAX
            ),
            ArgError::Nul { what, at } => write!(f, "{} holds a NUL at byte {}: a C string would end there", what, at),
        }
    }
}

/// The first stack of a program: `bytes` go at `[esp, STACK_TOP)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackImage {
    pub esp: u32,
    pub bytes: Vec<u8>,
    /// `mm->arg_start`, `arg_end`, `env_start`, `env_end`: where the
    /// strings are (for `/proc/PID/cmdline` and `environ`).
    pub arg_start: u32,
    pub arg_end: u32,
    pub env_start: u32,
    pub env_end: u32,
}

impl StackImage {
    /// The 32-bit word at user address `addr` (tests, and exec's checks).
    pub fn word(&self, addr: u32) -> u32 {
        let i = (addr - self.esp) as usize;
        u32::from_le_bytes([self.bytes[i], self.bytes[i + 1], self.bytes[i + 2], self.bytes[i + 3]])
    }
}

fn check_string(what: impl Fn() -> String, s: &[u8]) -> Result<usize, ArgError> {
    if let Some(at) = s.iter().position(|&b| b == 0) {
        return Err(ArgError::Nul { what: what(), at });
    }
    let len = s.len() + 1;
    if len > MAX_ARG_STRLEN {
        return Err(ArgError::TooLong { what: what(), len });
    }
    Ok(len)
}

/// Lays out argc, argv, envp, the auxiliary vector and the strings below
/// `STACK_TOP` exactly as Linux's `create_elf_tables` (after
/// `do_execveat_common` copied the strings), without randomisation.
///
/// An empty `argv` gets one empty string, as Linux does since 5.18, so
/// that `argv[0]` is never NULL.
pub fn create_elf_tables(plan: &ElfPlan, args: &ExecArgs) -> Result<StackImage, ArgError> {
    let empty: [&[u8]; 1] = [b""];
    let argv = if args.argv.is_empty() { &empty[..] } else { args.argv };
    let mut strings = check_string(|| String::from("the file name"), args.execfn)?;
    for (i, s) in argv.iter().enumerate() {
        strings += check_string(|| alloc::format!("argv[{}]", i), s)?;
    }
    for (i, s) in args.envp.iter().enumerate() {
        strings += check_string(|| alloc::format!("envp[{}]", i), s)?;
    }
    // Linux's bprm_stack_limits counts the pointers against the limit too.
    let size = strings + (argv.len() + args.envp.len()) * 4;
    if size > ARG_MAX {
        return Err(ArgError::TooBig { size });
    }

    // do_execveat_common: the end marker, then the file name, the
    // environment and the arguments, each copied below the one before.
    let mut p = STACK_TOP - 4;
    p -= args.execfn.len() as u32 + 1;
    let execfn = p;
    let env_end = p;
    let mut env_ptrs: Vec<u32> = args
        .envp
        .iter()
        .rev()
        .map(|s| {
            p -= s.len() as u32 + 1;
            p
        })
        .collect();
    env_ptrs.reverse();
    let env_start = p;
    let mut arg_ptrs: Vec<u32> = argv
        .iter()
        .rev()
        .map(|s| {
            p -= s.len() as u32 + 1;
            p
        })
        .collect();
    arg_ptrs.reverse();
    let arg_start = p;

    // create_elf_tables: arch_align_stack, then the platform string and
    // the random bytes, unaligned.
    p &= !0xf;
    p -= ELF_PLATFORM.len() as u32 + 1;
    let platform = p;
    p -= 16;
    let random = p;
    let auxv: [(u32, u32); 18] = [
        (AT_HWCAP, args.hwcap),
        (AT_PAGESZ, PAGE_SIZE as u32),
        (AT_CLKTCK, CLOCKS_PER_SEC),
        (AT_PHDR, plan.phdr),
        (AT_PHENT, plan.phent),
        (AT_PHNUM, plan.phnum),
        (AT_BASE, 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, plan.entry),
        (AT_UID, 0),
        (AT_EUID, 0),
        (AT_GID, 0),
        (AT_EGID, 0),
        (AT_SECURE, 0),
        (AT_RANDOM, random),
        (AT_EXECFN, execfn),
        (AT_PLATFORM, platform),
        (AT_NULL, 0),
    ];
    let items = (argv.len() + 1) + (args.envp.len() + 1) + 1;
    // STACK_ROUND: the pointer block ends at the auxv, esp is rounded down.
    let esp = (p - (auxv.len() * 8) as u32 - (items * 4) as u32) & !0xf;

    let mut bytes = vec![0u8; (STACK_TOP - esp) as usize];
    let mut put = |addr: u32, src: &[u8]| {
        let at = (addr - esp) as usize;
        bytes[at..at + src.len()].copy_from_slice(src);
    };
    let mut words: Vec<u32> = Vec::with_capacity(items + 2 * auxv.len());
    words.push(argv.len() as u32);
    words.extend(&arg_ptrs);
    words.push(0);
    words.extend(&env_ptrs);
    words.push(0);
    for (t, v) in auxv {
        words.extend([t, v]);
    }
    for (i, w) in words.iter().enumerate() {
        put(esp + 4 * i as u32, &w.to_le_bytes());
    }
    put(random, &args.random);
    put(platform, ELF_PLATFORM);
    for (addr, s) in arg_ptrs.iter().zip(argv).chain(env_ptrs.iter().zip(args.envp)) {
        put(*addr, s);
    }
    put(execfn, args.execfn);

    Ok(StackImage { esp, bytes, arg_start, arg_end: env_start, env_start, env_end })
}

#[cfg(test)]
mod tests;
