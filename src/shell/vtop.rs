//! `vtop ADDR [PID]`: walk the page tables to one virtual address and print
//! every step, the way an i386 oops prints `*pde = ... *pte = ...` (Linux's
//! `dump_pagetable`) and `arch/x86/mm/dump_pagetables.c` names the flags.
//! Without a PID the walk starts at the kernel's reference directory,
//! `swapper_pg_dir`; with one, at that process's directory (its user page
//! tables may be in highmem: HIGHPTE).
//!
//! The two steps come from `PageTables::walk` and the answer from
//! `PageTables::translate` (mm/pgtable.rs, lab 1), so the command shows
//! what those functions compute, not a second copy of the walk.

// A command's error is a fixed buffer on purpose (`CmdError`, see
// commands.rs), which clippy's `result_large_err` flags.
#![allow(clippy::result_large_err)]

use super::commands::{CmdError, CmdResult, Words};
use crate::arch::x86::mm::init::swapper_pg_dir_phys;
use crate::arch::x86::pgtable_types::PteFlags;
use crate::bail;
use crate::mm::pgtable::{PageTables, PhysAddr, VirtAddr, Walk};
use crate::mm::vmalloc::DirectMapTables;
use crate::{print, println};
use core::fmt;

/// The flags as `dump_pagetables.c` names them, the accessed and dirty bits
/// added (a teaching kernel wants to see the CPU set them).
struct Flags(u32);

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(PteFlags, &str); 9] = [
            (PteFlags::PRESENT, "P"),
            (PteFlags::RW, "RW"),
            (PteFlags::USER, "USR"),
            (PteFlags::PWT, "PWT"),
            (PteFlags::PCD, "PCD"),
            (PteFlags::ACCESSED, "A"),
            (PteFlags::DIRTY, "D"),
            (PteFlags::PSE, "PSE"),
            (PteFlags::GLOBAL, "GLB"),
        ];
        let flags = PteFlags::from_bits_retain(self.0);
        let mut first = true;
        for (bit, name) in NAMES {
            if flags.contains(bit) {
                write!(f, "{}{}", if first { "" } else { " " }, name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// Where the walk starts and what it is called in the header line.
enum Space {
    Kernel,
    Process(u32, crate::mm::mm_types::MmRef),
}

pub fn cmd_vtop(args: &[&str]) -> CmdResult {
    let (addr, pid) = match args {
        [a] => (*a, None),
        [a, p] => (*a, Some(*p)),
        _ => bail!("usage: vtop ADDR [PID] (got '{}'); nothing done", Words(args)),
    };
    let va = match crate::kernel::cmdline::parse_u64(addr) {
        Ok(a) if a <= u32::MAX as u64 => VirtAddr(a as u32),
        _ => bail!("bad address '{}' (a 32-bit number, decimal or 0x hex); nothing done", addr),
    };
    let space = match pid {
        None => Space::Kernel,
        Some(p) => process_space(p)?,
    };
    let (pgd, who, walk, found) = match &space {
        Space::Kernel => {
            let pgd = swapper_pg_dir_phys() as u32;
            // SAFETY: swapper_pg_dir is the kernel's page directory and every
            // kernel page table is in lowmem; the walk only reads entries.
            let (pt, mem) = unsafe { (PageTables::from_phys(pgd), DirectMapTables::new()) };
            (pgd, "swapper_pg_dir", pt.walk(&mem, va), pt.translate(&mem, va))
        }
        Space::Process(p, mm) => {
            let Some(walk) = mm.walk(va) else { bail!("process {} has no page directory now; nothing done", p) };
            (mm.pgd_phys() as u32, "pid", walk, mm.translate(va))
        }
    };
    match &space {
        Space::Kernel => println!("{}: pgd {:#010x} ({})", va, pgd, who),
        Space::Process(p, _) => println!("{}: pgd {:#010x} ({} {})", va, pgd, who, p),
    }
    println!("  pgd_index {}, pte_index {}, offset {:#05x}", va.pgd_index(), va.pte_index(), va.page_offset());
    print_steps(&walk);
    match found {
        Some((phys, flags)) => print_result(phys, flags.bits()),
        None => println!("  not mapped"),
    }
    Ok(())
}

fn process_space(arg: &str) -> Result<Space, CmdError> {
    let Ok(pid) = arg.parse::<u32>() else { bail!("'{}' is not a pid; nothing done", arg) };
    let Some(p) = crate::process::task::find(pid) else { bail!("no process {} (ps lists them); nothing done", pid) };
    let Some(mm) = p.mm() else { bail!("process {} has no address space (a kernel thread); nothing done", pid) };
    Ok(Space::Process(pid, mm))
}

/// The PDE and, when there is a page table, the PTE, each with its flags
/// and where it leads; a step that stops the MMU says so.
fn print_steps(w: &Walk) {
    let pde = w.pde;
    print!("  *pde = {:08x}  ", pde.0);
    if !pde.is_present() {
        println!("not present: no page table, the walk stops here");
        return;
    }
    if pde.is_large() {
        println!("{}  -> 4 MB page at {:#010x}", Flags(pde.0 & 0xfff), pde.pfn().phys().0);
        return;
    }
    println!("{}  -> page table at {:#010x}", Flags(pde.0 & 0xfff), pde.0 & !0xfff);
    let Some(pte) = w.pte else {
        println!("  *pte = ?  (the walk read no page table entry)");
        return;
    };
    print!("  *pte = {:08x}  ", pte.0);
    if pte.is_present() {
        println!("{}  -> frame {:#010x}", Flags(pte.0 & 0xfff), pte.pfn().phys().0);
    } else if pte.is_none() {
        println!("not present: empty entry, the walk stops here");
    } else if pte.is_protnone() {
        println!("not present: PROT_NONE, frame {:#010x} kept", pte.pfn().phys().0);
    } else {
        let e = pte.swp_entry();
        println!("not present: swap entry type {} offset {:#x}", e.ty(), e.offset());
    }
}

/// The physical address, its frame, and the zone the frame belongs to.
fn print_result(phys: PhysAddr, flags: u32) {
    let pfn = phys.pfn().0;
    let node = crate::mm::mmzone::node();
    let zone = node.zone_of(pfn).map_or("none (not RAM the allocator manages)", |z| node.zones[z].name());
    println!("  phys {:#010x}  pfn {:#x}  zone {}  flags {}", phys.0, pfn, zone, Flags(flags));
}
