//! The kernel's virtual address space, in one place.
//!
//! Non-PAE i386, two-level paging, the 3 GB / 1 GB split of Linux:
//!
//! ```text
//!  0xFFFFFFFF +---------------------------+
//!             | top page, never mapped    |
//! FIXADDR_TOP +---------------------------+ 0xFFFFF000
//!             | fixmap: kmap_atomic slots |
//!             | and other fixed mappings  |
//! FIXADDR_START --------------------------+ 0xFFFBF000 (64 slots)
//!             | (unused)                  |
//!  PKMAP_END  +---------------------------+ 0xFFC00000
//!             | pkmap: LAST_PKMAP = 1024  |  one page table, 4 MB
//!  PKMAP_BASE +---------------------------+ 0xFF800000
//!             | 2 guard pages             |
//! VMALLOC_END +---------------------------+ 0xFF7FE000
//!             | vmalloc area              |
//! VMALLOC_START --------------------------+ high_memory + 8 MB
//!             | 8 MB hole (VMALLOC_OFFSET)|
//! high_memory +---------------------------+ 0xF8000000 with 896 MB of lowmem
//!             | lowmem direct map         |  physical 0 .. 896 MB
//! PAGE_OFFSET +---------------------------+ 0xC0000000
//!             | user space (per process)  |  PDEs 0..767
//!  0x00000000 +---------------------------+
//! ```
//!
//! Every relation the rest of the kernel relies on is checked at compile time
//! at the bottom of this file.
//!
//! The assembly and the linker script take their numbers from here, never
//! repeating one: boot.S through `const` operands of the `global_asm!` that
//! includes it (src/main.rs: type-checked, and the template names each
//! constant where it is used), linker.ld through `layout.ld`, which build.rs
//! writes from this file (a linker script cannot see Rust constants, and
//! build.rs compiles this same file with `#[path]`, so nothing is copied by
//! hand). This file is therefore pure `core`: no `crate::` paths.

/// Size of a page and of a physical frame.
pub const PAGE_SHIFT: u32 = 12;
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;

/// One page-directory entry covers 4 MB (non-PAE: the PMD is folded into the PGD).
pub const PGDIR_SHIFT: u32 = 22;
pub const PGDIR_SIZE: usize = 1 << PGDIR_SHIFT;
pub const PTRS_PER_PGD: usize = 1024;
pub const PTRS_PER_PTE: usize = 1024;

/// Start of the kernel's part of every address space (3 GB / 1 GB split).
pub const PAGE_OFFSET: usize = 0xC000_0000;
/// First page-directory entry of the kernel half; entries 768..1023 are shared.
pub const KERNEL_PGD_FIRST: usize = PAGE_OFFSET >> PGDIR_SHIFT;
/// User space ends where the kernel begins.
pub const TASK_SIZE: usize = PAGE_OFFSET;

/// Physical load address of the kernel image (GRUB puts it at 1 MB).
pub const KERNEL_PHYS_LOAD: usize = 0x0010_0000;

/// The boot stack (boot.S): `kmain` and the boot-time tables are built on it.
pub const BOOT_STACK_SIZE: usize = 16 * PAGE_SIZE;
/// The double-fault task's own stack (boot.S), so a kernel stack overflow
/// can still be reported.
pub const DF_STACK_SIZE: usize = 2 * PAGE_SIZE;

/// Most physical memory the direct map covers: 896 MB, the classic i386 figure.
pub const MAXMEM: usize = 896 << 20;
/// Gap between the end of the direct map and vmalloc: catches runs off its end.
pub const VMALLOC_OFFSET: usize = 8 << 20;

/// The top page of the address space stays unmapped (catches `-1` pointers).
pub const FIXADDR_TOP: usize = 0xFFFF_F000;
/// Persistent kmap slots (`kmap`/`kunmap`), one page table's worth.
pub const LAST_PKMAP: usize = 1024;
pub const PKMAP_BASE: usize = 0xFF80_0000;
pub const PKMAP_END: usize = PKMAP_BASE + LAST_PKMAP * PAGE_SIZE;
/// Fixmap slots, counted down from FIXADDR_TOP (slot 0 is the highest page).
pub const NR_FIX: usize = 64;
pub const FIXADDR_START: usize = FIXADDR_TOP - NR_FIX * PAGE_SIZE;
/// First `kmap_atomic` slot; one per slot type follows (Linux's FIX_KMAP_BEGIN).
pub const FIX_KMAP_BEGIN: usize = 0;
/// `kmap_atomic` slot types (`KmType`).
pub const KM_TYPE_NR: usize = 7;

/// vmalloc ends two pages below the pkmap area.
pub const VMALLOC_END: usize = PKMAP_BASE - 2 * PAGE_SIZE;
/// Highest `high_memory` (end of lowmem) and the vmalloc start that follows it.
pub const HIGH_MEMORY_MAX: usize = PAGE_OFFSET + MAXMEM;
pub const VMALLOC_START_MIN: usize = HIGH_MEMORY_MAX + VMALLOC_OFFSET;

/// Physical zone limits (`ZONE_DMA` is what ISA DMA can reach).
pub const MAX_DMA_ADDRESS: usize = 16 << 20;

/// Early boot maps the first `EARLY_PT_BYTES` of physical memory with 4 KB
/// pages (the kernel image lives there, with guard pages around its stacks)
/// and the rest of lowmem with 4 MB pages.
pub const EARLY_PT_BYTES: usize = 8 << 20;
/// Page-directory entries (and 4 KB page tables) that early mapping takes.
pub const EARLY_PDES: usize = EARLY_PT_BYTES >> PGDIR_SHIFT;
/// Page-directory entries of the whole direct map at its largest.
pub const MAXMEM_PDES: usize = MAXMEM >> PGDIR_SHIFT;

/// Kernel virtual address of a lowmem physical address (Linux's `__va`).
#[inline]
pub const fn phys_to_virt(phys: usize) -> usize {
    phys + PAGE_OFFSET
}

/// Physical address of a direct-map virtual address (Linux's `__pa`).
#[inline]
pub const fn virt_to_phys(virt: usize) -> usize {
    virt - PAGE_OFFSET
}

const _: () = assert!(PAGE_OFFSET.is_multiple_of(PGDIR_SIZE), "PAGE_OFFSET must start a page-directory entry");
const _: () = assert!(PKMAP_BASE.is_multiple_of(PGDIR_SIZE), "pkmap must fill exactly one page table");
const _: () = assert!(LAST_PKMAP == PTRS_PER_PTE, "pkmap must fill exactly one page table");
const _: () = assert!(PKMAP_END <= FIXADDR_TOP, "pkmap runs into the fixmap");
const _: () = assert!(VMALLOC_START_MIN < VMALLOC_END, "no room for vmalloc with full lowmem");
const _: () = assert!(HIGH_MEMORY_MAX.is_multiple_of(PGDIR_SIZE), "lowmem must end on a page-directory boundary");
const _: () = assert!(EARLY_PT_BYTES.is_multiple_of(PGDIR_SIZE) && EARLY_PT_BYTES <= MAXMEM);
const _: () = assert!(FIXADDR_START >= PKMAP_END, "fixmap runs into pkmap");
const _: () = assert!(FIXADDR_START >> PGDIR_SHIFT == FIXADDR_TOP >> PGDIR_SHIFT, "fixmap must fit one page table");
const _: () = assert!(FIX_KMAP_BEGIN + KM_TYPE_NR <= NR_FIX, "kmap_atomic slots beyond the fixmap");

#[cfg(test)]
mod tests {
    use super::*;

    /// Every number token (decimal or 0x hex) of an assembly or linker
    /// source, comments included: a value written there by hand is a
    /// second definition even in a comment's example.
    fn numbers(src: &str) -> Vec<(String, usize)> {
        src.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .filter_map(|t| {
                let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                    usize::from_str_radix(&h.replace('_', ""), 16).ok()
                } else if t.starts_with(|c: char| c.is_ascii_digit()) {
                    t.parse().ok()
                } else {
                    None
                };
                v.map(|v| (t.to_string(), v))
            })
            .collect()
    }

    /// boot.S and linker.ld take these from here (issue 9: "layout
    /// constants defined once"): none of their values may appear there.
    #[test]
    fn boot_and_linker_script_repeat_no_layout_value() {
        let defined = [
            ("PAGE_SIZE", PAGE_SIZE),
            ("PGDIR_SIZE", PGDIR_SIZE),
            ("PTRS_PER_PGD", PTRS_PER_PGD),
            ("PAGE_OFFSET", PAGE_OFFSET),
            ("KERNEL_PGD_FIRST", KERNEL_PGD_FIRST),
            ("KERNEL_PGD_FIRST + 1", KERNEL_PGD_FIRST + 1),
            ("KERNEL_PHYS_LOAD", KERNEL_PHYS_LOAD),
            ("MAXMEM", MAXMEM),
            ("MAXMEM_PDES", MAXMEM_PDES),
            ("EARLY_PT_BYTES", EARLY_PT_BYTES),
            ("EARLY_PT_BYTES >> PAGE_SHIFT", EARLY_PT_BYTES >> PAGE_SHIFT),
            ("KERNEL_PGD_FIRST * 4", KERNEL_PGD_FIRST * 4),
            ("BOOT_STACK_SIZE", BOOT_STACK_SIZE),
            ("DF_STACK_SIZE", DF_STACK_SIZE),
        ];
        for (file, src) in
            [("src/arch/x86/boot.S", include_str!("arch/x86/boot.S")), ("linker.ld", include_str!("../linker.ld"))]
        {
            for (tok, v) in numbers(src) {
                for (name, d) in defined {
                    assert!(v != d, "{} writes {} by hand: that is {} of src/layout.rs", file, tok, name);
                }
            }
        }
    }
}
