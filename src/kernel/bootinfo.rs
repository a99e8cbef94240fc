//! What the boot loader told us (multiboot2): command line, memory map,
//! modules, boot loader name. Read once at boot into fixed-size copies, so
//! nothing later depends on where GRUB left the information.

use crate::kernel::e820::{E820Line, MemMap, MemType, Region};
use crate::layout::{phys_to_virt, MAXMEM};
use multiboot2::{BootInformation, BootInformationHeader};
use spin::Once;

pub const MULTIBOOT2_MAGIC: u32 = 0x36d7_6289;
/// Linux's x86 COMMAND_LINE_SIZE.
pub const COMMAND_LINE_SIZE: usize = 2048;
pub const MAX_MODULES: usize = 32;

#[derive(Clone, Copy)]
pub struct Module {
    /// Physical `[start, end)`.
    start: usize,
    end: usize,
    name: [u8; 32],
    name_len: usize,
    /// Another name of the module before it (a multi-call binary such as
    /// the C programs' `cprogs`: GRUB's module string lists every name).
    alias: bool,
}

impl Module {
    pub fn name(&self) -> &str {
        core::str::from_utf8(&self.name[..self.name_len]).unwrap_or("?")
    }

    /// Whether this entry is another name for the module before it: the
    /// same bytes, reserved once.
    pub fn is_alias(&self) -> bool {
        self.alias
    }

    /// Physical `[start, end)` of the module (memblock keeps it reserved;
    /// `arch::x86::mm::init::module_bytes` reads it once the direct map is final).
    pub fn phys_range(&self) -> (usize, usize) {
        (self.start, self.end)
    }
}

pub struct BootInfo {
    cmdline: [u8; COMMAND_LINE_SIZE],
    cmdline_len: usize,
    pub memmap: MemMap,
    /// Entries as the firmware gave them, before sanitizing.
    pub raw_entries: usize,
    modules: [Option<Module>; MAX_MODULES],
    loader: [u8; 64],
    loader_len: usize,
    /// Physical `[start, end)` of the multiboot2 information itself.
    pub mbi: (usize, usize),
}

impl BootInfo {
    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("")
    }
    pub fn loader(&self) -> &str {
        core::str::from_utf8(&self.loader[..self.loader_len]).unwrap_or("")
    }
    pub fn modules(&self) -> impl Iterator<Item = &Module> {
        self.modules.iter().flatten()
    }
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules().find(|m| m.name() == name)
    }
}

static BOOT_INFO: Once<BootInfo> = Once::new();

pub fn get() -> &'static BootInfo {
    BOOT_INFO.get().expect("boot information read in start_kernel")
}

fn copy_str(dst: &mut [u8], s: &str) -> usize {
    // Cut on a character boundary so the copy stays valid UTF-8.
    let mut n = s.len().min(dst.len());
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    dst[..n].copy_from_slice(&s.as_bytes()[..n]);
    n
}

/// Read the multiboot2 information at physical `mbi_phys`.
pub fn parse(magic: u32, mbi_phys: usize) -> &'static BootInfo {
    if magic != MULTIBOOT2_MAGIC {
        panic!("not started by a multiboot2 boot loader (EAX = {:#010x}, expected {:#010x})", magic, MULTIBOOT2_MAGIC);
    }
    if mbi_phys >= MAXMEM - 0x10000 {
        panic!("multiboot2 information at {:#x} is outside the direct map", mbi_phys);
    }
    // SAFETY: GRUB passed this address with the magic checked above; the
    // information lies in lowmem, mapped by boot.S at PAGE_OFFSET.
    let mbi = unsafe { BootInformation::load(phys_to_virt(mbi_phys) as *const BootInformationHeader) }
        .unwrap_or_else(|e| panic!("malformed multiboot2 information at {:#x}: {:?}", mbi_phys, e));

    let mut info = BootInfo {
        cmdline: [0; COMMAND_LINE_SIZE],
        cmdline_len: 0,
        memmap: MemMap::new(),
        raw_entries: 0,
        modules: [None; MAX_MODULES],
        loader: [0; 64],
        loader_len: 0,
        mbi: (mbi_phys, mbi_phys + mbi.total_size()),
    };
    if let Some(Ok(s)) = mbi.command_line_tag().map(|t| t.cmdline()) {
        info.cmdline_len = copy_str(&mut info.cmdline, s);
        if info.cmdline_len < s.len() {
            crate::pr_warn!(
                "Command line is {} bytes, more than COMMAND_LINE_SIZE ({}): only the first {} are used",
                s.len(),
                COMMAND_LINE_SIZE,
                info.cmdline_len
            );
        }
    }
    if let Some(Ok(s)) = mbi.boot_loader_name_tag().map(|t| t.name()) {
        info.loader_len = copy_str(&mut info.loader, s);
    }
    let mut raw = [Region::EMPTY; crate::kernel::e820::MAX_ENTRIES];
    if let Some(tag) = mbi.memory_map_tag() {
        for area in tag.memory_areas() {
            if info.raw_entries < raw.len() {
                raw[info.raw_entries] =
                    Region::new(area.start_address(), area.size(), MemType::from_e820(u32::from(area.typ())));
                info.raw_entries += 1;
            }
        }
    }
    info.memmap = MemMap::sanitize(&raw[..info.raw_entries]);
    let mut n = 0;
    for m in mbi.module_tags() {
        let (start, end) = (m.start_address() as usize, m.end_address() as usize);
        if n == MAX_MODULES || end > MAXMEM || end < start {
            crate::pr_warn!("module {:#x}-{:#x} ignored (outside lowmem or too many modules)", start, end);
            continue;
        }
        // The string is the module's names, the first its file's: one
        // entry for each, all on the same bytes. A module without a string
        // still gets its (nameless) entry.
        let names = m.cmdline().unwrap_or("");
        let mut words = names.split_ascii_whitespace().peekable();
        let unnamed = words.peek().is_none();
        for (i, word) in words.chain(unnamed.then_some("")).enumerate() {
            if n == MAX_MODULES {
                crate::pr_warn!(
                    "module {:#x}-{:#x}: name '{}' ignored (more than {} names)",
                    start,
                    end,
                    word,
                    MAX_MODULES
                );
                continue;
            }
            let mut name = [0u8; 32];
            let name_len = copy_str(&mut name, word);
            info.modules[n] = Some(Module { start, end, name, name_len, alias: i > 0 });
            n += 1;
        }
    }
    BOOT_INFO.call_once(|| info)
}

/// Print the memory map as Linux's boot log does.
pub fn print_memmap(info: &BootInfo) {
    crate::pr_info!("BIOS-provided physical RAM map:");
    for r in info.memmap.entries() {
        crate::pr_info!("{}", E820Line(r));
    }
    if info.memmap.dropped != 0 {
        crate::pr_warn!(
            "e820: {} memory map entries dropped (more than {})",
            info.memmap.dropped,
            crate::kernel::e820::MAX_ENTRIES
        );
    }
}
