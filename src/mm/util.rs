//! Overcommit accounting (Linux's `__vm_enough_memory`, in mm/mmap.c in
//! 2.6.24 and mm/util.c since): what address spaces have committed
//! (`vm_committed_as`, meminfo's `Committed_AS`) and whether a new
//! commitment is allowed under `vm.overcommit_memory`.
//!
//! What is committed is what Linux marks `VM_ACCOUNT` and does not
//! charge elsewhere: private writable mappings, the heap, the stack,
//! exec's data and bss (shared ones Linux charges through shmem, which
//! this kernel has not). Each address space keeps its charge in a
//! [`VmCommitted`]: a call that adds accountable pages first reserves
//! them ([`vm_enough_memory`], which may refuse with `ENOMEM`), makes its
//! change, then [`VmCommitted::commit`] recomputes the space's
//! accountable pages from its areas and settles the difference. The charge
//! is recomputed, not tracked by deltas, so it cannot drift from the
//! areas; and it is given back when the `VmCommitted` is dropped, which
//! every end of an address space does (exit, a failed exec or fork).
//! Stack growth from a fault is picked up at the space's next settlement
//! (Linux's `acct_stack_growth` charges it at once).

#![forbid(unsafe_code)]

use super::mmap::{Errno, VmFlags, VmaSet};
use super::sysctl::{OVERCOMMIT_ALWAYS, OVERCOMMIT_GUESS};
use super::vmstat::VM_COMMITTED_AS;
use core::sync::atomic::Ordering::Relaxed;

/// Linux's `vm_commit_limit`: `overcommit_ratio` percent of RAM (less
/// huge pages, which this kernel has not), plus all of swap. In pages.
pub fn vm_commit_limit(totalram: u64, total_swap: u64, ratio: u64) -> u64 {
    totalram * ratio / 100 + total_swap
}

/// Whether `pages` more may be committed, `committed` (those pages
/// included) being what all address spaces would then hold (the decision
/// of `__vm_enough_memory`):
/// - 0, heuristic (`OVERCOMMIT_GUESS`, Linux 5.x+): only a single request
///   larger than all of RAM and swap is refused;
/// - 1 (`OVERCOMMIT_ALWAYS`): never refused;
/// - 2 (`OVERCOMMIT_NEVER`): refused unless `committed` stays below the
///   commit limit less 3% of the caller's size (`total_vm / 32`, 2.6.24's
///   "leave 3% of the size of this process for other processes"; the
///   admin reserve does not apply, every task here being root).
pub fn enough_memory(
    mode: usize,
    pages: u64,
    committed: u64,
    totalram: u64,
    total_swap: u64,
    ratio: u64,
    total_vm: u64,
) -> bool {
    match mode {
        OVERCOMMIT_ALWAYS => true,
        OVERCOMMIT_GUESS => pages <= totalram + total_swap,
        _ => committed < vm_commit_limit(totalram, total_swap, ratio).saturating_sub(total_vm / 32),
    }
}

/// Pages an address space commits: its `VM_ACCOUNT` areas that are not
/// shared.
pub fn accountable_pages(vmas: &VmaSet) -> usize {
    vmas.iter()
        .filter(|v| v.flags.contains(VmFlags::ACCOUNT) && !v.flags.contains(VmFlags::SHARED))
        .map(|v| v.pages())
        .sum()
}

/// Pages reserved in `Committed_AS` by [`vm_enough_memory`] for a change
/// about to be made; given back when dropped (the change failed) unless
/// [`VmCommitted::commit`] takes it over.
#[must_use]
pub struct Reservation(usize);

impl Drop for Reservation {
    fn drop(&mut self) {
        VM_COMMITTED_AS.fetch_sub(self.0, Relaxed);
    }
}

/// Linux's `__vm_enough_memory` (`security_vm_enough_memory_mm`): count
/// `pages` in `Committed_AS` first, as Linux does (so two callers cannot
/// both slip under the limit), then check them against
/// `vm.overcommit_memory`; `ENOMEM` takes them back. `total_vm` is the
/// caller's size in pages, `totalram` and `total_swap` the machine's.
pub fn vm_enough_memory_with(
    pages: usize,
    total_vm: usize,
    totalram: u64,
    total_swap: u64,
) -> Result<Reservation, Errno> {
    use super::sysctl::{OVERCOMMIT_MEMORY, OVERCOMMIT_RATIO};
    let committed = VM_COMMITTED_AS.fetch_add(pages, Relaxed).wrapping_add(pages);
    let r = Reservation(pages);
    let mode = OVERCOMMIT_MEMORY.load(Relaxed);
    let ratio = OVERCOMMIT_RATIO.load(Relaxed) as u64;
    if enough_memory(mode, pages as u64, committed as u64, totalram, total_swap, ratio, total_vm as u64) {
        Ok(r)
    } else {
        Err(Errno::ENOMEM)
    }
}

/// [`vm_enough_memory_with`] for this machine: its RAM (Linux's
/// `totalram_pages`, the pages the allocator manages) and its swap.
#[cfg(target_os = "none")]
pub fn vm_enough_memory(pages: usize, total_vm: usize) -> Result<Reservation, Errno> {
    let totalram = super::mmzone::node().managed_total();
    let swap = super::vmstat::TOTAL_SWAP_PAGES.load(Relaxed) as u64;
    vm_enough_memory_with(pages, total_vm, totalram, swap)
}

/// `CommitLimit` now, in pages.
#[cfg(target_os = "none")]
pub fn commit_limit() -> u64 {
    let totalram = super::mmzone::node().managed_total();
    let swap = super::vmstat::TOTAL_SWAP_PAGES.load(Relaxed) as u64;
    vm_commit_limit(totalram, swap, super::sysctl::OVERCOMMIT_RATIO.load(Relaxed) as u64)
}

/// What one address space has in `Committed_AS`, in pages: its
/// accountable areas as of its last settlement. Dropping it gives the
/// charge back.
#[derive(Debug, Default)]
pub struct VmCommitted(usize);

impl VmCommitted {
    pub const fn new() -> VmCommitted {
        VmCommitted(0)
    }

    pub fn pages(&self) -> usize {
        self.0
    }

    /// Settle after a change to `vmas`: the charge becomes the areas'
    /// accountable pages, and `reserved` (what the change reserved
    /// beforehand) is folded in rather than given back.
    pub fn commit(&mut self, vmas: &VmaSet, reserved: Option<Reservation>) {
        let new = accountable_pages(vmas);
        let r = reserved.map_or(0, |r| {
            let n = r.0;
            core::mem::forget(r);
            n
        });
        // Committed_AS += new - old - r, in modular arithmetic: the total
        // is never negative, only this step's terms may be.
        VM_COMMITTED_AS.fetch_add(new.wrapping_sub(self.0).wrapping_sub(r), Relaxed);
        self.0 = new;
    }

    /// Settle a change that can only have given pages back (`munmap`, a
    /// shrinking `brk`), or grown the stack.
    pub fn sync(&mut self, vmas: &VmaSet) {
        self.commit(vmas, None);
    }
}

impl Drop for VmCommitted {
    fn drop(&mut self) {
        VM_COMMITTED_AS.fetch_sub(self.0, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::sysctl::OVERCOMMIT_NEVER;

    #[test]
    fn commit_limit_is_linux_s() {
        // proc.txt's i386 machine: MemTotal 2060236 kB, no swap, ratio 50
        // gives CommitLimit 1030116 kB.
        assert_eq!(vm_commit_limit(2060236 / 4, 0, 50) * 4, 1030116);
        assert_eq!(vm_commit_limit(1000, 500, 50), 1000);
        assert_eq!(vm_commit_limit(1000, 0, 0), 0);
    }

    #[test]
    fn modes_decide_as_linux() {
        let (ram, swap) = (1000, 200);
        // Heuristic: only one request above RAM + swap is refused, however
        // much is committed already.
        assert!(enough_memory(OVERCOMMIT_GUESS, 1200, 5000, ram, swap, 50, 0));
        assert!(!enough_memory(OVERCOMMIT_GUESS, 1201, 1201, ram, swap, 50, 0));
        assert!(enough_memory(OVERCOMMIT_ALWAYS, 1 << 30, 1 << 30, ram, swap, 50, 0));
        // Strict: limit 700; committed must stay below it less total_vm/32.
        assert!(enough_memory(OVERCOMMIT_NEVER, 10, 699, ram, swap, 50, 0));
        assert!(!enough_memory(OVERCOMMIT_NEVER, 10, 700, ram, swap, 50, 0));
        assert!(!enough_memory(OVERCOMMIT_NEVER, 10, 690, ram, swap, 50, 320), "3% of a 320-page caller is kept");
        assert!(enough_memory(OVERCOMMIT_NEVER, 10, 689, ram, swap, 50, 320));
    }

    /// The only host test that touches the global `Committed_AS`: a
    /// space's charge follows its areas exactly and goes when it does.
    #[test]
    fn charge_follows_the_areas_and_is_given_back() {
        use crate::mm::mmap::{Rlimits, MAP_ANONYMOUS, MAP_NORESERVE, MAP_PRIVATE, PROT_READ, PROT_WRITE};
        let before = VM_COMMITTED_AS.load(Relaxed);
        let rl = Rlimits::DEFAULT;
        let mut vmas = VmaSet::new(rl.stack);
        let mut c = VmCommitted::new();
        let rw = PROT_READ | PROT_WRITE;
        let a = vmas.mmap(0, 10 << 12, rw, MAP_PRIVATE | MAP_ANONYMOUS, None, 0, &rl).unwrap();
        vmas.mmap(0, 5 << 12, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, None, 0, &rl).unwrap();
        vmas.mmap(0, 7 << 12, rw, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, None, 0, &rl).unwrap();
        let r = vm_enough_memory_with(10, 0, 1 << 20, 0).unwrap();
        c.commit(&vmas, Some(r));
        assert_eq!(c.pages(), 10, "read-only and MAP_NORESERVE areas are not charged");
        assert_eq!(VM_COMMITTED_AS.load(Relaxed), before + 10);
        vmas.munmap(a + (4 << 12), 2 << 12).unwrap();
        c.sync(&vmas);
        assert_eq!(VM_COMMITTED_AS.load(Relaxed), before + 8);
        // A refused reservation is taken back at once.
        crate::mm::sysctl::OVERCOMMIT_MEMORY.store(OVERCOMMIT_NEVER, Relaxed);
        let refused = vm_enough_memory_with(1000, 0, 1000, 0);
        crate::mm::sysctl::OVERCOMMIT_MEMORY.store(OVERCOMMIT_GUESS, Relaxed);
        assert!(refused.is_err());
        assert_eq!(VM_COMMITTED_AS.load(Relaxed), before + 8);
        // A reservation whose change failed goes back when dropped.
        drop(vm_enough_memory_with(3, 0, 1 << 20, 0).unwrap());
        drop(c);
        assert_eq!(VM_COMMITTED_AS.load(Relaxed), before);
    }
}
