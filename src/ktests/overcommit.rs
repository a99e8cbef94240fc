//! Overcommit accounting on the machine (`mm::util`): an address space's
//! charge in `Committed_AS` follows its areas through the memory calls,
//! strict mode (`vm.overcommit_memory=2`) refuses exec, fork, `mmap2`,
//! `brk` and `mprotect` beyond `CommitLimit` with `ENOMEM` and leaves
//! nothing behind, and every charge goes back with its space.

use super::memory::{counts_come_back, UseMm};
use super::{skip, TestResult};
use crate::kernel::bootinfo;
use crate::layout::PAGE_SIZE;
use crate::mm::mmap::{FileRef, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE};
use crate::mm::sysctl::{OVERCOMMIT_MEMORY, OVERCOMMIT_NEVER, OVERCOMMIT_RATIO};
use crate::mm::vmstat::{TOTAL_SWAP_PAGES, VM_COMMITTED_AS};
use crate::process::exec::{self, ExecError};
use crate::process::fork::{dup_mm, ForkError};
use crate::process::mman::{NR_BRK, NR_MMAP2, NR_MPROTECT, NR_MUNMAP};
use crate::process::syscalls::dispatch;
use core::sync::atomic::Ordering::Relaxed;

const PAGE: usize = PAGE_SIZE;
const ENOMEM: i32 = -12;

/// The overcommit knobs as the test found them, put back on every path.
struct KnobsBack(usize, usize);

impl KnobsBack {
    fn new() -> KnobsBack {
        KnobsBack(OVERCOMMIT_MEMORY.load(Relaxed), OVERCOMMIT_RATIO.load(Relaxed))
    }
}

impl Drop for KnobsBack {
    fn drop(&mut self) {
        OVERCOMMIT_MEMORY.store(self.0, Relaxed);
        OVERCOMMIT_RATIO.store(self.1, Relaxed);
    }
}

/// `vm.overcommit_memory=1` while it lives: for tests of page allocation
/// whose mappings are bigger than a small machine's RAM, which the
/// heuristic of mode 0 would refuse. The knobs go back when the field
/// (held only for its `Drop`) does.
pub(super) struct OvercommitAlways {
    _back: KnobsBack,
}

impl OvercommitAlways {
    pub(super) fn new() -> OvercommitAlways {
        let back = KnobsBack::new();
        OVERCOMMIT_MEMORY.store(crate::mm::sysctl::OVERCOMMIT_ALWAYS, Relaxed);
        OvercommitAlways { _back: back }
    }
}

fn committed() -> usize {
    VM_COMMITTED_AS.load(Relaxed)
}

pub fn strict_mode_refuses_and_charges_balance() -> TestResult {
    if TOTAL_SWAP_PAGES.load(Relaxed) != 0 {
        return Err(skip("swap is on: CommitLimit cannot be brought to 0 with overcommit_ratio"));
    }
    let m = bootinfo::get().module("hello").ok_or_else(|| skip("a user program is not on this boot (make user)"))?;
    let file = crate::arch::x86::mm::init::module_bytes(m)
        .ok_or_else(|| skip("a user program lies beyond the kernel's direct map"))?;
    let fref = FileRef { id: (m.phys_range().0 >> 12) as u32, name: m.name(), writable: false };
    let load = || exec::load(file, fref, &[b"hello"], &exec::default_rlimits());
    let _knobs = KnobsBack::new();
    let before = committed();
    counts_come_back(|| {
        OVERCOMMIT_MEMORY.store(0, Relaxed);
        let loaded = load().map_err(|_| "exec::load of hello failed in mode 0")?;
        let charge = loaded.mm.mmap.lock().committed.pages();
        if charge == 0 || committed() != before + charge {
            return Err("exec did not charge its data and stack to Committed_AS");
        }
        {
            let _use = UseMm::new(&loaded.mm);
            let mmap =
                |len: usize, prot: u32| dispatch(NR_MMAP2, &[0, len as u32, prot, MAP_PRIVATE | MAP_ANONYMOUS, !0, 0]);
            // An address is an error when it is -4095..-1 (user addresses
            // above 2 GB are negative as i32 too).
            let failed = |r: i32| (r as u32) > (-4096i32) as u32;
            let a = mmap(16 * PAGE, PROT_READ | PROT_WRITE);
            let ro = mmap(4 * PAGE, PROT_READ);
            if failed(a) || failed(ro) || committed() != before + charge + 16 {
                return Err("a private writable mmap2 did not charge its pages (or a read-only one did)");
            }
            // Strict, with CommitLimit 0: nothing more may be committed.
            OVERCOMMIT_RATIO.store(0, Relaxed);
            OVERCOMMIT_MEMORY.store(OVERCOMMIT_NEVER, Relaxed);
            if mmap(PAGE, PROT_READ | PROT_WRITE) != ENOMEM {
                return Err("strict mode let a private writable mmap2 past CommitLimit");
            }
            if failed(mmap(PAGE, PROT_READ)) {
                return Err("strict mode refused a read-only mapping, which commits nothing");
            }
            let brk = |v: usize| dispatch(NR_BRK, &[v as u32, 0, 0, 0, 0, 0]) as u32 as usize;
            let b0 = brk(0);
            if brk(b0 + 4 * PAGE) != b0 {
                return Err("strict mode let brk grow past CommitLimit");
            }
            if dispatch(NR_MPROTECT, &[ro as u32, (4 * PAGE) as u32, PROT_READ | PROT_WRITE, 0, 0, 0]) != ENOMEM {
                return Err("strict mode let mprotect make a private area writable past CommitLimit");
            }
            if committed() != before + charge + 16 {
                return Err("a refused call left a charge behind");
            }
            // Giving back is always allowed, and settles exactly.
            if dispatch(NR_MUNMAP, &[a as u32, (6 * PAGE) as u32, 0, 0, 0, 0]) != 0
                || committed() != before + charge + 10
            {
                return Err("munmap did not give back the pages it unmapped");
            }
        }
        if !matches!(dup_mm(&loaded.mm), Err(ForkError::NoMemory)) {
            return Err("strict mode let fork copy a space past CommitLimit");
        }
        if !matches!(load(), Err(ExecError::NoMemory)) {
            return Err("strict mode let exec commit past CommitLimit");
        }
        if committed() != before + charge + 10 {
            return Err("a refused fork or exec left a charge behind");
        }
        OVERCOMMIT_MEMORY.store(0, Relaxed);
        let child = dup_mm(&loaded.mm).map_err(|_| "dup_mm failed in mode 0")?;
        if committed() != before + 2 * (charge + 10) {
            return Err("fork did not charge the child what the parent commits");
        }
        drop(child);
        drop(loaded);
        Ok(())
    })?;
    if committed() != before {
        return Err("Committed_AS is not back after every space went");
    }
    Ok(())
}
