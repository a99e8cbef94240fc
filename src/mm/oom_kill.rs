//! The OOM killer (Linux's mm/oom_kill.c, as of 6.1): when an allocation
//! that may sleep still fails after reclaim, pick the process whose death
//! frees the most memory, kill it, and let the allocation try again.
//!
//! The policy is Linux's since 2.6.36 (`oom_badness`): a process scores its
//! resident pages, swap entries and page-table pages, plus `oom_score_adj`
//! thousandths of all memory (RAM + swap); `-1000` is never chosen; the
//! highest score wins, a later process on a tie (Linux walks the task list
//! oldest first and keeps a new candidate unless it scores less). Kernel
//! threads own no user memory and are never candidates. A victim already
//! killed but still holding its memory stops the walk: nothing else dies
//! until it is gone (`oom_evaluate_task`'s abort).
//!
//! Layers: this file (mm, layer 3) has the pure policy, the report's lines
//! and the entry point `out_of_memory`; the process table lives a layer up,
//! so `process::oom` registers the walk, the kill and the wait as a hook at
//! boot, as the page-fault handler registers with traps. The Mem-Info part
//! of the report is `show_mem`.

#![forbid(unsafe_code)]

use super::gfp::Gfp;
use core::fmt;
use core::sync::atomic::AtomicU32;

/// `/proc/PID/oom_score_adj` bounds (include/uapi/linux/oom.h): MIN disables
/// OOM killing of the process.
pub const OOM_SCORE_ADJ_MIN: i16 = -1000;
pub const OOM_SCORE_ADJ_MAX: i16 = 1000;

// `vm.panic_on_oom` and `vm.oom_kill_allocating_task` live with the other
// knobs in `mm::sysctl` (`PANIC_ON_OOM`, `OOM_KILL_ALLOCATING_TASK`).
/// `vm.oom_dump_tasks` (default 1): print the task table in the report.
pub static SYSCTL_OOM_DUMP_TASKS: AtomicU32 = AtomicU32::new(1);

/// What the OOM killer needs to know of one process (Linux reads these off
/// `task_struct`, `signal_struct` and `mm_struct` under `task_lock`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OomTask<'a> {
    pub pid: u32,
    pub uid: u32,
    pub comm: &'a str,
    /// `None` once it has exited (a zombie has no mm: `find_lock_task_mm`
    /// finds nothing).
    pub mm: Option<OomMm>,
    pub oom_score_adj: i16,
    /// Already an OOM victim (Linux's `tsk_is_oom_victim`).
    pub oom_victim: bool,
    /// Its exit is complete (a zombie): whatever it held is back.
    pub exited: bool,
}

/// An address space's counts, in pages (bytes for the page tables).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OomMm {
    /// `mm->total_vm`; `None` when its area list could not be read without
    /// sleeping (a fault in progress holds it).
    pub total_vm: Option<usize>,
    pub anon_rss: usize,
    pub file_rss: usize,
    pub shmem_rss: usize,
    pub swapents: usize,
    pub pgtables_bytes: usize,
}

impl OomMm {
    /// `get_mm_rss`: anon + file + shmem pages.
    pub fn rss(&self) -> usize {
        self.anon_rss + self.file_rss + self.shmem_rss
    }
}

/// Linux 6.1's `oom_badness`: `None` (Linux's `LONG_MIN`) for a process that
/// must not be killed (no mm, or `oom_score_adj` -1000), else `rss +
/// swapents + pgtables_bytes / PAGE_SIZE + adj * (totalpages / 1000)`. The
/// division comes first, as in Linux (`adj *= totalpages / 1000`).
pub fn oom_badness(t: &OomTask<'_>, totalpages: u64) -> Option<i64> {
    // LAB 8: BEGIN the badness of one process: who may not be killed, its points, oom_score_adj
    let mm = t.mm?;
    if t.oom_score_adj == OOM_SCORE_ADJ_MIN {
        return None;
    }
    let points = (mm.rss() + mm.swapents + mm.pgtables_bytes / crate::layout::PAGE_SIZE) as i64;
    Some(points + t.oom_score_adj as i64 * (totalpages / 1000) as i64)
    // LAB 8: STUB
    // // Every process with memory scores the same, whatever it holds.
    // let _ = totalpages;
    // t.mm.map(|_| 0)
    // LAB 8: END
}

/// Linux 6.1's `proc_oom_score` (fs/proc/base.c): 0 for an unkillable
/// process, else the badness scaled into [0, 2000] and by 2/3 (the range
/// user space has seen since 2.6.36 kept its meaning):
/// `(1000 + badness * 1000 / totalpages) * 2 / 3`.
pub fn proc_oom_score(badness: Option<i64>, totalpages: u64) -> u64 {
    match badness {
        None => 0,
        Some(b) => {
            let t = totalpages.max(1) as i64;
            // An `unsigned long` in Linux: a negative result wraps there,
            // which no adj in range produces (|adj part| <= totalpages).
            ((1000 + b * 1000 / t) * 2 / 3).max(0) as u64
        }
    }
}

/// What the walk found (Linux's `oc->chosen`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chosen {
    /// Kill this pid; it scored this.
    Victim { pid: u32, points: i64 },
    /// A victim is already dying: kill nobody, wait for it (`-1UL`).
    Abort,
    /// Nothing may be killed.
    Nothing,
}

/// Linux 6.1's `select_bad_process` over `tasks` in table order (oldest
/// first): `oom_evaluate_task` for each. Kernel threads are not in the
/// process table, so they never come here.
pub fn select_bad_process<'a>(tasks: impl IntoIterator<Item = OomTask<'a>>, totalpages: u64) -> Chosen {
    // LAB 8: BEGIN choose the victim: wait for one already dying, else the highest badness
    let mut chosen = Chosen::Nothing;
    let mut chosen_points = i64::MIN;
    for t in tasks {
        // A victim still on its way out (its mm may be gone already, its
        // pages not yet all freed): wait for it (Linux checks
        // MMF_OOM_SKIP, set once the mm is torn down).
        if t.oom_victim && !t.exited {
            return Chosen::Abort;
        }
        let Some(points) = oom_badness(&t, totalpages) else { continue };
        if points < chosen_points {
            continue;
        }
        chosen = Chosen::Victim { pid: t.pid, points };
        chosen_points = points;
    }
    chosen
    // LAB 8: STUB
    // // The first process that may be killed, whatever it scores.
    // for t in tasks {
    //     if let Some(points) = oom_badness(&t, totalpages) {
    //         return Chosen::Victim { pid: t.pid, points };
    //     }
    // }
    // Chosen::Nothing
    // LAB 8: END
}

/// What `out_of_memory` does before walking the table, from the knobs and
/// the allocating task (`check_panic_on_oom`, `oom_kill_allocating_task`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// The allocating task is dying already: let it go, kill nobody
    /// (`task_will_free_mem(current)`).
    CurrentDying,
    /// `panic_on_oom`: report and panic, with this word ("system-wide" or
    /// "compulsory").
    Panic(&'static str),
    /// `oom_kill_allocating_task`: kill the allocating task.
    KillCurrent,
    /// Walk the table.
    Select,
}

/// `current`: the allocating task if it is a user process (not a kernel
/// thread), with whether it has SIGKILL pending or is exiting.
pub fn oom_policy(current: Option<(&OomTask<'_>, bool)>, panic_on_oom: u32, kill_allocating: u32) -> Policy {
    if let Some((t, dying)) = current {
        if dying && t.mm.is_some() {
            return Policy::CurrentDying;
        }
    }
    // The constraint is always CONSTRAINT_NONE here, so 1 and 2 both panic.
    match panic_on_oom {
        0 => {}
        2 => return Policy::Panic("compulsory"),
        _ => return Policy::Panic("system-wide"),
    }
    if kill_allocating != 0 {
        if let Some((t, _)) = current {
            if t.mm.is_some() && t.oom_score_adj != OOM_SCORE_ADJ_MIN {
                return Policy::KillCurrent;
            }
        }
    }
    Policy::Select
}

// ---- gfp masks as Linux 6.1 prints them ----------------------------------

/// Linux 6.1's `___GFP_*` bit values (include/linux/gfp_types.h, without
/// KASAN and LOCKDEP).
pub mod linux_gfp {
    pub const DMA: u32 = 0x01;
    pub const HIGHMEM: u32 = 0x02;
    pub const DMA32: u32 = 0x04;
    pub const MOVABLE: u32 = 0x08;
    pub const RECLAIMABLE: u32 = 0x10;
    pub const HIGH: u32 = 0x20;
    pub const IO: u32 = 0x40;
    pub const FS: u32 = 0x80;
    pub const ZERO: u32 = 0x100;
    pub const ATOMIC: u32 = 0x200;
    pub const DIRECT_RECLAIM: u32 = 0x400;
    pub const KSWAPD_RECLAIM: u32 = 0x800;
    pub const WRITE: u32 = 0x1000;
    pub const NOWARN: u32 = 0x2000;
    pub const RETRY_MAYFAIL: u32 = 0x4000;
    pub const NOFAIL: u32 = 0x8000;
    pub const NORETRY: u32 = 0x10000;
    pub const MEMALLOC: u32 = 0x20000;
    pub const COMP: u32 = 0x40000;
    pub const NOMEMALLOC: u32 = 0x80000;
    pub const HARDWALL: u32 = 0x100000;
    pub const THISNODE: u32 = 0x200000;
    pub const ACCOUNT: u32 = 0x400000;
    pub const ZEROTAGS: u32 = 0x800000;
    pub const RECLAIM: u32 = DIRECT_RECLAIM | KSWAPD_RECLAIM;

    pub const GFP_ATOMIC: u32 = HIGH | ATOMIC | KSWAPD_RECLAIM;
    pub const GFP_KERNEL: u32 = RECLAIM | IO | FS;
    pub const GFP_KERNEL_ACCOUNT: u32 = GFP_KERNEL | ACCOUNT;
    pub const GFP_NOWAIT: u32 = KSWAPD_RECLAIM;
    pub const GFP_NOIO: u32 = RECLAIM;
    pub const GFP_NOFS: u32 = RECLAIM | IO;
    pub const GFP_USER: u32 = RECLAIM | IO | FS | HARDWALL;
    pub const GFP_DMA: u32 = DMA;
    pub const GFP_DMA32: u32 = DMA32;
    pub const GFP_HIGHUSER: u32 = GFP_USER | HIGHMEM;
    pub const GFP_HIGHUSER_MOVABLE: u32 = GFP_HIGHUSER | MOVABLE;
    pub const GFP_TRANSHUGE_LIGHT: u32 = (GFP_HIGHUSER_MOVABLE | COMP | NOMEMALLOC | NOWARN) & !RECLAIM;
    pub const GFP_TRANSHUGE: u32 = GFP_TRANSHUGE_LIGHT | DIRECT_RECLAIM;

    /// `__def_gfpflag_names` (include/trace/events/mmflags.h, 6.1), in its
    /// order: the composite masks first, so `%pGg` names them whole.
    pub const NAMES: &[(u32, &str)] = &[
        (GFP_TRANSHUGE, "GFP_TRANSHUGE"),
        (GFP_TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT"),
        (GFP_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"),
        (GFP_HIGHUSER, "GFP_HIGHUSER"),
        (GFP_USER, "GFP_USER"),
        (GFP_KERNEL_ACCOUNT, "GFP_KERNEL_ACCOUNT"),
        (GFP_KERNEL, "GFP_KERNEL"),
        (GFP_NOFS, "GFP_NOFS"),
        (GFP_ATOMIC, "GFP_ATOMIC"),
        (GFP_NOIO, "GFP_NOIO"),
        (GFP_NOWAIT, "GFP_NOWAIT"),
        (GFP_DMA, "GFP_DMA"),
        (HIGHMEM, "__GFP_HIGHMEM"),
        (GFP_DMA32, "GFP_DMA32"),
        (HIGH, "__GFP_HIGH"),
        (ATOMIC, "__GFP_ATOMIC"),
        (IO, "__GFP_IO"),
        (FS, "__GFP_FS"),
        (NOWARN, "__GFP_NOWARN"),
        (RETRY_MAYFAIL, "__GFP_RETRY_MAYFAIL"),
        (NOFAIL, "__GFP_NOFAIL"),
        (NORETRY, "__GFP_NORETRY"),
        (COMP, "__GFP_COMP"),
        (ZERO, "__GFP_ZERO"),
        (NOMEMALLOC, "__GFP_NOMEMALLOC"),
        (MEMALLOC, "__GFP_MEMALLOC"),
        (HARDWALL, "__GFP_HARDWALL"),
        (THISNODE, "__GFP_THISNODE"),
        (RECLAIMABLE, "__GFP_RECLAIMABLE"),
        (MOVABLE, "__GFP_MOVABLE"),
        (ACCOUNT, "__GFP_ACCOUNT"),
        (WRITE, "__GFP_WRITE"),
        (RECLAIM, "__GFP_RECLAIM"),
        (DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"),
        (KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"),
        (ZEROTAGS, "__GFP_ZEROTAGS"),
    ];
}

/// This kernel's flags (2.6.24's bits) in Linux 6.1's bits, by name:
/// `__GFP_WAIT` became `__GFP_RECLAIM` (both reclaim bits, 4.4), and
/// `__GFP_REPEAT` `__GFP_RETRY_MAYFAIL` (4.13).
pub fn linux_gfp_bits(gfp: Gfp) -> u32 {
    use linux_gfp as l;
    let map: [(Gfp, u32); 14] = [
        (Gfp::DMA, l::DMA),
        (Gfp::HIGHMEM, l::HIGHMEM),
        (Gfp::WAIT, l::RECLAIM),
        (Gfp::HIGH, l::HIGH),
        (Gfp::IO, l::IO),
        (Gfp::FS, l::FS),
        (Gfp::NOWARN, l::NOWARN),
        (Gfp::REPEAT, l::RETRY_MAYFAIL),
        (Gfp::NOFAIL, l::NOFAIL),
        (Gfp::NORETRY, l::NORETRY),
        (Gfp::ZERO, l::ZERO),
        (Gfp::HARDWALL, l::HARDWALL),
        (Gfp::RECLAIMABLE, l::RECLAIMABLE),
        (Gfp::MOVABLE, l::MOVABLE),
    ];
    map.iter().filter(|(g, _)| gfp.contains(*g)).fold(0, |acc, (_, l)| acc | l)
}

/// `%#x(%pGg)` of a Linux 6.1 gfp mask: `0x140dca(GFP_HIGHUSER_MOVABLE|
/// __GFP_COMP|__GFP_ZERO)` (lib/vsprintf.c's `format_flags`: each name
/// whose bits are all set takes them, in table order; bits no name covers
/// end it as a number). The kernel's `%#x` of 0 is `0x0`.
pub struct GfpMask(pub u32);

impl fmt::Display for GfpMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}(", self.0)?;
        let mut left = self.0;
        let mut first = true;
        for &(mask, name) in linux_gfp::NAMES {
            if left == 0 {
                break;
            }
            if left & mask != mask {
                continue;
            }
            if !first {
                f.write_str("|")?;
            }
            f.write_str(name)?;
            left &= !mask;
            first = false;
        }
        if left != 0 {
            if !first {
                f.write_str("|")?;
            }
            write!(f, "{:#x}", left)?;
        }
        f.write_str(")")
    }
}

// ---- the report's lines --------------------------------------------------

/// `NAME invoked oom-killer: gfp_mask=...(...), order=N, oom_score_adj=N`
/// (`dump_header`).
pub struct InvokedLine<'a> {
    pub comm: &'a str,
    pub gfp: Gfp,
    pub order: usize,
    pub oom_score_adj: i16,
}

impl fmt::Display for InvokedLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} invoked oom-killer: gfp_mask={}, order={}, oom_score_adj={}",
            self.comm,
            GfpMask(linux_gfp_bits(self.gfp)),
            self.order,
            self.oom_score_adj
        )
    }
}

/// `dump_tasks`'s header, exactly (its columns do not line up with the
/// rows under `pgtables_bytes`, in Linux too).
pub const TASKS_TITLE: &str = "Tasks state (memory values in pages):";
pub const TASKS_HEADER: &str = "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name";

/// One row of the task table (`dump_task`: `"[%7d] %5d %5d %8lu %8lu %8ld
/// %8lu         %5hd %s"`); `None` for a task without an mm (Linux skips
/// those). A total_vm that could not be read prints as `?`.
pub fn write_task_row(out: &mut impl fmt::Write, t: &OomTask<'_>) -> fmt::Result {
    let Some(mm) = t.mm else { return Ok(()) };
    write!(out, "[{:>7}] {:>5} {:>5} ", t.pid, t.uid, t.pid)?;
    match mm.total_vm {
        Some(v) => write!(out, "{:>8}", v)?,
        None => write!(out, "{:>8}", "?")?,
    }
    writeln!(
        out,
        " {:>8} {:>8} {:>8}         {:>5} {}",
        mm.rss(),
        mm.pgtables_bytes,
        mm.swapents,
        t.oom_score_adj,
        t.comm
    )
}

/// `oom-kill:constraint=CONSTRAINT_NONE,...` (`dump_oom_summary` with
/// `mem_cgroup_print_oom_context`: one node, no cpusets, no cgroups).
pub fn write_oom_summary(out: &mut impl fmt::Write, victim: &OomTask<'_>) -> fmt::Result {
    writeln!(
        out,
        "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task={},pid={},uid={}",
        victim.comm, victim.pid, victim.uid
    )
}

/// `MESSAGE: Killed process PID (NAME) total-vm:NkB, anon-rss:NkB, ...`
/// (`__oom_kill_process`).
pub fn write_killed(out: &mut impl fmt::Write, message: &str, victim: &OomTask<'_>) -> fmt::Result {
    let mm = victim.mm.unwrap_or_default();
    let kb = |pages: usize| pages * (crate::layout::PAGE_SIZE / 1024);
    write!(out, "{}: Killed process {} ({}) total-vm:", message, victim.pid, victim.comm)?;
    match mm.total_vm {
        Some(v) => write!(out, "{}kB", kb(v))?,
        None => write!(out, "?kB")?,
    }
    writeln!(
        out,
        ", anon-rss:{}kB, file-rss:{}kB, shmem-rss:{}kB, UID:{} pgtables:{}kB oom_score_adj:{}",
        kb(mm.anon_rss),
        kb(mm.file_rss),
        kb(mm.shmem_rss),
        victim.uid,
        mm.pgtables_bytes >> 10,
        victim.oom_score_adj
    )
}

/// Whether a failed allocation may call the OOM killer (Linux 2.6.24's
/// `__alloc_pages`): only one that may sleep and retry (not
/// `__GFP_NORETRY`), and not above `PAGE_ALLOC_COSTLY_ORDER` ("the OOM
/// killer will not help higher order allocs"). 2.6.24 also wants
/// `__GFP_FS`; this kernel has no file system to be reentered, so its
/// GFP_NOIO callers may kill too.
pub fn oom_allowed(gfp: Gfp, order: usize) -> bool {
    gfp.may_sleep() && !gfp.contains(Gfp::NORETRY) && order <= super::gfp::PAGE_ALLOC_COSTLY_ORDER
}

// ---- the kernel's entry point ---------------------------------------------

/// An OOM call (Linux's `struct oom_control`, what this kernel has of it).
#[derive(Clone, Copy, Debug)]
pub struct OomControl {
    pub gfp: Gfp,
    pub order: usize,
}

/// What the process layer's hook did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OomOutcome {
    /// A victim was killed (and waited for), or one is dying: try again.
    Progress,
    /// No user process exists: nobody to kill. The allocation fails as it
    /// did before there was an OOM killer (this kernel's shell is a kernel
    /// thread, so unlike Linux, whose init is a process, a machine with no
    /// process is normal).
    NoProcesses,
    /// The process table could not be read without waiting for a lock the
    /// allocating task may hold itself (a fork filing its child): the
    /// allocation fails rather than deadlock.
    TableBusy,
}

#[cfg(target_os = "none")]
static OOM_HOOK: spin::Once<fn(&OomControl) -> OomOutcome> = spin::Once::new();

/// Register the process layer's OOM handler (`process::oom::init`).
#[cfg(target_os = "none")]
pub fn set_oom_handler(f: fn(&OomControl) -> OomOutcome) {
    OOM_HOOK.call_once(|| f);
}

/// Linux's `out_of_memory`: `true` when the caller should try its
/// allocation again (a victim was killed, or is dying), `false` when there
/// is nothing to kill and the allocation must fail.
#[cfg(target_os = "none")]
pub fn out_of_memory(gfp: Gfp, order: usize) -> bool {
    match OOM_HOOK.get() {
        Some(hook) => hook(&OomControl { gfp, order }) == OomOutcome::Progress,
        None => false,
    }
}

/// A user page fault that found no memory (Linux's
/// `pagefault_out_of_memory`, as before 5.16: the allocation has lost its
/// gfp, so the report says 0): kill something and let the fault be taken
/// again. A task being killed just returns, and the signal ends it on the
/// way back to ring 3. `false` when nothing could be killed: the caller
/// kills the faulting process itself, as before there was an OOM killer.
#[cfg(target_os = "none")]
pub fn pagefault_out_of_memory() -> bool {
    if crate::kernel::sched::fatal_signal_pending() {
        return true;
    }
    out_of_memory(Gfp::empty(), 0)
}

#[cfg(test)]
mod tests;
