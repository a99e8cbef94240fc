//! The flags of a mapping: `VM_*` (include/linux/mm.h), the `PROT_*` and
//! `MAP_*` of the i386 ABI (asm-generic/mman.h), and the translation
//! between them (include/linux/mman.h).

bitflags::bitflags! {
    /// `vm_flags`, with Linux 2.6.24's bit values (include/linux/mm.h).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct VmFlags: u32 {
        const READ = 0x0000_0001;
        const WRITE = 0x0000_0002;
        const EXEC = 0x0000_0004;
        const SHARED = 0x0000_0008;
        /// The rights `mprotect` may grant later (`VM_MAY*` = `VM_*` << 4).
        const MAYREAD = 0x0000_0010;
        const MAYWRITE = 0x0000_0020;
        const MAYEXEC = 0x0000_0040;
        const MAYSHARE = 0x0000_0080;
        /// A stack: a fault just below it grows it (`expand_stack`).
        const GROWSDOWN = 0x0000_0100;
        const GROWSUP = 0x0000_0200;
        const PFNMAP = 0x0000_0400;
        const DENYWRITE = 0x0000_0800;
        const EXECUTABLE = 0x0000_1000;
        /// Pages are faulted in and never reclaimed (`mlock`).
        const LOCKED = 0x0000_2000;
        const IO = 0x0000_4000;
        const SEQ_READ = 0x0000_8000;
        const RAND_READ = 0x0001_0000;
        const DONTCOPY = 0x0002_0000;
        const DONTEXPAND = 0x0004_0000;
        const RESERVED = 0x0008_0000;
        /// Charged to the commit (private writable). Sticky: a later
        /// read-only `mprotect` keeps it, as Linux does.
        const ACCOUNT = 0x0010_0000;
        const HUGETLB = 0x0040_0000;
        const NONLINEAR = 0x0080_0000;
    }
}

impl VmFlags {
    /// Linux's `VM_SPECIAL`: areas `vma_merge` never touches.
    pub const SPECIAL: VmFlags = VmFlags::IO.union(VmFlags::DONTEXPAND).union(VmFlags::RESERVED).union(VmFlags::PFNMAP);
    pub(super) const RWX: VmFlags = VmFlags::READ.union(VmFlags::WRITE).union(VmFlags::EXEC);
    /// i386's `VM_DATA_DEFAULT_FLAGS` (no READ_IMPLIES_EXEC personality).
    pub const DATA_DEFAULT: VmFlags =
        VmFlags::READ.union(VmFlags::WRITE).union(VmFlags::MAYREAD).union(VmFlags::MAYWRITE).union(VmFlags::MAYEXEC);
    /// `VM_STACK_FLAGS`: what `setup_arg_pages` gives the stack.
    pub const STACK: VmFlags = VmFlags::DATA_DEFAULT.union(VmFlags::GROWSDOWN).union(VmFlags::ACCOUNT);
}

/// `PROT_*` and `MAP_*` of the i386 ABI (asm-generic/mman.h, asm-x86/mman.h).
pub const PROT_READ: u32 = 0x1;
pub const PROT_WRITE: u32 = 0x2;
pub const PROT_EXEC: u32 = 0x4;
pub const PROT_SEM: u32 = 0x8;
pub const PROT_GROWSDOWN: u32 = 0x0100_0000;
pub const PROT_GROWSUP: u32 = 0x0200_0000;
pub const MAP_SHARED: u32 = 0x01;
pub const MAP_PRIVATE: u32 = 0x02;
pub const MAP_TYPE: u32 = 0x0f;
pub const MAP_FIXED: u32 = 0x10;
pub const MAP_ANONYMOUS: u32 = 0x20;
pub const MAP_GROWSDOWN: u32 = 0x0100;
pub const MAP_DENYWRITE: u32 = 0x0800;
pub const MAP_EXECUTABLE: u32 = 0x1000;
pub const MAP_LOCKED: u32 = 0x2000;
pub const MAP_NORESERVE: u32 = 0x4000;

/// `calc_vm_prot_bits`: `PROT_*` to `VM_*` (the same low three bits).
pub(super) fn calc_vm_prot_bits(prot: u32) -> VmFlags {
    VmFlags::from_bits_truncate(prot) & VmFlags::RWX
}

/// `calc_vm_flag_bits`: the `MAP_*` flags that become `VM_*` flags.
pub(super) fn calc_vm_flag_bits(flags: u32) -> VmFlags {
    let mut f = VmFlags::empty();
    for (map, vm) in [
        (MAP_GROWSDOWN, VmFlags::GROWSDOWN),
        (MAP_DENYWRITE, VmFlags::DENYWRITE),
        (MAP_EXECUTABLE, VmFlags::EXECUTABLE),
        (MAP_LOCKED, VmFlags::LOCKED),
    ] {
        if flags & map != 0 {
            f |= vm;
        }
    }
    f
}
