//! What a user process pays: a demand-zero fault, a copy-on-write fault,
//! fork+exit+wait, a page's way out to swap and back, and the OOM killer's
//! choice among 100 processes.
//!
//! The faults are taken by a real program (`user/c/benchfault.c`), so trap
//! entry and exit, the ring-3 loop and the kernel's path are all counted:
//! under `-icount` the time stamp counts guest instructions at any
//! privilege. The program stops itself (`SIGSTOP`) at each mark between
//! phases; this thread, its parent, waits for the stop (`WUNTRACED`), reads
//! the time stamp and the event counts, and continues it (`SIGCONT`). The
//! mark's own cost (two marks with nothing between) is taken off every
//! phase, time and events alike. Swap-out and the OOM decision run here,
//! while the program is stopped: the first through reclaim's own
//! `shrink_page_list` (`vmscan::reclaim_pages`), the second through the
//! OOM killer's own walk (`process::oom::select_bad_process_now`), with no
//! kill: the program makes one of its children the designated victim
//! (`oom_score_adj` 1000) and the row says whether the walk chose it.
//!
//! Events beside every figure, as totals over the phase: faults
//! (`pgfault`), `invlpg`, full flushes (CR3 loads among them), CR3 loads,
//! pages zeroed (user pages and page tables), disk I/Os (`pswpin` +
//! `pswpout`: one transfer per page).

use super::plot;
use crate::arch::x86::cpu::{rdtsc, CR3_LOADS, PAGES_ZEROED, TLB_FULL_FLUSHES, TLB_SINGLE_FLUSHES};
use crate::kernel::sched;
use crate::mm::gfp::GFP_HIGHUSER;
use crate::mm::mmap::FileRef;
use crate::mm::oom_kill::Chosen;
use crate::mm::page_alloc::{self, __free_pages, alloc_pages};
use crate::mm::pgtable::VirtAddr;
use crate::mm::vmstat::{vm_event, VmEvent};
use crate::println;
use crate::process::exit::{self, WaitFor, WUNTRACED};
use crate::process::task;
use alloc::vec::Vec;
use core::sync::atomic::Ordering::Relaxed;

/// Pages the program touches: 1 MB.
const PAGES: usize = 256;
/// fork+exit+wait cycles measured.
const FORKS: usize = 20;
/// Live processes for the OOM decision (the program and its children).
const PROCS: usize = 100;
/// Where the program maps its region (`REGION` in benchfault.c); page 0
/// holds the page table's first touch, pages 1..=PAGES are measured.
const REGION: usize = 0x4000_0000;
/// OOM decisions timed (their mean is the row).
const DECISIONS: u64 = 20;

/// The event counts of a phase.
#[derive(Clone, Copy, Default)]
struct Ev {
    faults: i64,
    invlpg: i64,
    flushes: i64,
    cr3: i64,
    zeroed: i64,
    disk: i64,
}

impl Ev {
    fn now() -> Ev {
        Ev {
            faults: vm_event(VmEvent::PgFault) as i64,
            invlpg: TLB_SINGLE_FLUSHES.load(Relaxed) as i64,
            flushes: TLB_FULL_FLUSHES.load(Relaxed) as i64,
            cr3: CR3_LOADS.load(Relaxed) as i64,
            zeroed: PAGES_ZEROED.load(Relaxed) as i64,
            disk: (vm_event(VmEvent::PswpIn) + vm_event(VmEvent::PswpOut)) as i64,
        }
    }

    fn minus(self, o: Ev) -> Ev {
        Ev {
            faults: self.faults - o.faults,
            invlpg: self.invlpg - o.invlpg,
            flushes: self.flushes - o.flushes,
            cr3: self.cr3 - o.cr3,
            zeroed: self.zeroed - o.zeroed,
            disk: self.disk - o.disk,
        }
    }
}

/// A time stamp and the counts with it.
#[derive(Clone, Copy)]
struct Snap {
    t: u64,
    ev: Ev,
}

fn snap() -> Snap {
    Snap { t: rdtsc(), ev: Ev::now() }
}

/// One row: the figure per operation, and the phase's event totals over
/// its `ops` operations. The frame's `@plot row` line goes with it.
fn prow(name: &str, per_op: i64, goal: &str, ops: usize, ev: Ev, extra: core::fmt::Arguments) {
    if QUIET.load(Relaxed) {
        return;
    }
    plot(format_args!("row {} {}", name.replace(' ', "_"), per_op));
    println!(
        "{:<46} {:>9} {:>7}   {} ops: faults {}, invlpg {}, full flushes {}, CR3 loads {}, zeroed {}, disk I/Os {}{}",
        name, per_op, goal, ops, ev.faults, ev.invlpg, ev.flushes, ev.cr3, ev.zeroed, ev.disk, extra
    );
}

/// The running program. Dropped before it has exited (a row gave up), it
/// is killed and collected, so nothing of it is left.
struct Prog {
    pid: u32,
    done: bool,
}

impl Prog {
    fn start(argv: &[&[u8]]) -> Result<Prog, &'static str> {
        let module = crate::kernel::bootinfo::get().module("benchfault").ok_or("no benchfault module in the ISO")?;
        let file = crate::arch::x86::mm::init::module_bytes(module).ok_or("benchfault lies beyond the direct map")?;
        let fref = FileRef { id: (module.phys_range().0 >> 12) as u32, name: module.name(), writable: false };
        let pid = crate::process::exec::exec(file, fref, argv).map_err(|_| "exec of benchfault failed")?;
        Ok(Prog { pid, done: false })
    }

    /// Wait for the next mark (a stop) and measure there.
    fn mark(&mut self) -> Result<Snap, &'static str> {
        loop {
            match exit::do_wait(WaitFor::Pid(self.pid), WUNTRACED) {
                Ok(Some((_, st))) if st & 0xff == 0x7f => return Ok(snap()),
                Ok(Some(_)) => {
                    self.done = true;
                    return Err("benchfault ended before its mark (its message is above)");
                }
                Ok(None) | Err(exit::WaitError::Interrupted) => {}
                Err(exit::WaitError::NoChild) => {
                    self.done = true;
                    return Err("benchfault is gone");
                }
            }
        }
    }

    /// Continue from a mark; the time from here to the next mark is the
    /// next phase's.
    fn cont(&self) {
        let _ = sched::send_signal(self.pid, sched::SIGCONT);
    }

    /// Continue and collect it: its exit status.
    fn finish(mut self) -> Option<u32> {
        self.cont();
        self.done = true;
        exit::wait_pid(self.pid)
    }
}

impl Drop for Prog {
    fn drop(&mut self) {
        if !self.done {
            let _ = sched::send_signal(self.pid, sched::SIGKILL);
            let _ = exit::wait_pid(self.pid);
        }
    }
}

/// Every row of this section, in order.
pub(super) fn rows(loop_cost: u64) {
    let (clear, copy) = clear_and_copy(loop_cost);
    // A first run of the program, not shown, grows what 100 processes need
    // and the kernel keeps (slab caches, the task table, page tables for
    // their stacks' vmalloc space); from there the measured run must give
    // back every page it took.
    let boot = page_alloc::nr_free_pages();
    QUIET.store(true, Relaxed);
    let warm = user_rows(clear, copy);
    QUIET.store(false, Relaxed);
    let free_before = page_alloc::nr_free_pages();
    if let Err(e) = warm.and_then(|()| user_rows(clear, copy)) {
        println!("process rows: {}; the rest of this section is not measured", e);
    }
    let free_after = page_alloc::nr_free_pages();
    println!(
        "{:<46} {:>9} {:>7}   nr_free {} -> {} pages ({:+}; the unshown first run kept {})",
        "process: free pages after the section",
        free_after,
        "-",
        free_before,
        free_after,
        free_after as i64 - free_before as i64,
        boot as i64 - free_before as i64
    );
}

/// Rows are not printed (the first, warming run).
static QUIET: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// A page clear and a page copy alone, highmem frames through
/// `kmap_atomic`, as the faults do them: instructions each.
fn clear_and_copy(loop_cost: u64) -> (i64, i64) {
    let n = 1000u64;
    let (a, b) = match (alloc_pages(GFP_HIGHUSER, 0), alloc_pages(GFP_HIGHUSER, 0)) {
        (Some(a), Some(b)) => (a, b),
        (a, b) => {
            a.into_iter().chain(b).for_each(__free_pages);
            println!("process rows: no two pages for the clear and copy rows");
            return (0, 0);
        }
    };
    let hi = |pfn: u32| if (pfn as usize) < crate::mm::mmzone::max_low_pfn() { "lowmem" } else { "highmem" };
    let ev = Ev::now();
    let t0 = rdtsc();
    for _ in 0..n {
        // SAFETY: a frame allocated above, ours alone.
        unsafe { crate::mm::highmem::clear_highpage(core::hint::black_box(a.pfn())) };
    }
    let clear = ((rdtsc() - t0) / n - loop_cost) as i64;
    prow(
        "process: one page clear (clear_highpage)",
        clear,
        "-",
        n as usize,
        Ev::now().minus(ev),
        format_args!(", {}", hi(a.pfn())),
    );
    let ev = Ev::now();
    let t0 = rdtsc();
    for _ in 0..n {
        // SAFETY: two distinct frames allocated above, ours alone.
        unsafe { crate::mm::highmem::copy_highpage(core::hint::black_box(b.pfn()), a.pfn()) };
    }
    let copy = ((rdtsc() - t0) / n - loop_cost) as i64;
    prow(
        "process: one page copy (copy_highpage)",
        copy,
        "-",
        n as usize,
        Ev::now().minus(ev),
        format_args!(", {}", hi(a.pfn())),
    );
    __free_pages(a);
    __free_pages(b);
    (clear, copy)
}

/// Over or under a goal of `budget` instructions beyond the clear/copy,
/// and, when over, why (what the profile of one fault shows).
struct Verdict(i64, &'static str);

impl core::fmt::Display for Verdict {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0 <= 0 {
            write!(f, "goal met")
        } else {
            write!(f, "misses by {}: {} (per function: scripts/profile-fault.py)", self.0, self.1)
        }
    }
}

/// Where a demand-zero fault's instructions beyond the clear go (the
/// profile of one fault in highmem, issue 13's session of 2026-12-01).
const ZERO_FAULT_WHY: &str = "about 70 are trap entry, dispatch and exit with the signal test (one load of \
                              the count of tasks with signals, interrupts off); 125 do_page_fault (the \
                              current-mm lookup, which reads the scheduler's copy without the run-queue lock, \
                              the mmap lock's try and release, the atomic-context checks); 100 the area lookup and \
                              the speculative path; 130 map the HIGHPTE page table (kmap_atomic, 2 invlpg); 90 \
                              the page allocator; 80 lru_cache_add (a per-CPU pagevec was tried: the list \
                              insertion stays per page, and it paid nothing measurable); 115 the entry's \
                              install, rmap and counters";

/// The same for a copy-on-write fault.
const COW_FAULT_WHY: &str = "the demand-zero fault's fixed costs, plus two maps of the HIGHPTE page table (the \
                             look, which do_wp_page's reuse-or-copy decision shares under the lock, and the new \
                             entry after the allocation, which may sleep: about 250 instructions and 4 of the 9 \
                             invlpg), the copy's two kmap_atomic (about 85), do_wp_page's reuse test and the \
                             old page's put (about 220)";

/// The rows measured on the program, phase by phase (see the module docs
/// and benchfault.c for the marks).
fn user_rows(clear: i64, copy: i64) -> Result<(), &'static str> {
    let mut pages = [0u8; 8];
    let mut forks = [0u8; 8];
    let mut procs = [0u8; 8];
    let argv: [&[u8]; 4] = [b"benchfault", num(&mut pages, PAGES), num(&mut forks, FORKS), num(&mut procs, PROCS)];
    let mut prog = Prog::start(&argv)?;
    let per = |a: Snap, b: Snap, mark: Snap, ops: usize| -> (i64, Ev) {
        let t = (b.t - a.t) as i64 - mark.t as i64;
        (t / ops as i64, b.ev.minus(a.ev).minus(mark.ev))
    };

    let m0 = prog.mark()?;
    prog.cont();
    let m1 = prog.mark()?;
    // The mark's own cost, as a difference: `t` in instructions.
    let mark = Snap { t: m1.t - m0.t, ev: m1.ev.minus(m0.ev) };

    prog.cont();
    let m2 = prog.mark()?;
    let (fault, ev) = per(m1, m2, mark, PAGES);
    let high = region_pfns(prog.pid).iter().filter(|&&p| p as usize >= crate::mm::mmzone::max_low_pfn()).count();
    prow(
        "process: demand-zero fault (user write)",
        fault,
        "<=300+c",
        PAGES,
        ev,
        format_args!(
            ", {} of {} pages in highmem; beyond the clear {}: {}",
            high,
            PAGES,
            fault - clear,
            Verdict(fault - clear - 300, ZERO_FAULT_WHY)
        ),
    );

    prog.cont();
    let m3 = prog.mark()?;
    prog.cont();
    let m4 = prog.mark()?;
    let (cow, ev) = per(m3, m4, mark, PAGES);
    prow(
        "process: copy-on-write fault (user write)",
        cow,
        "<=500+c",
        PAGES,
        ev,
        format_args!(", beyond the copy {}: {}", cow - copy, Verdict(cow - copy - 500, COW_FAULT_WHY)),
    );

    prog.cont();
    let m5 = prog.mark()?;
    prog.cont();
    let m6 = prog.mark()?;
    let (fork, ev) = per(m5, m6, mark, FORKS);
    prow("process: fork+exit+wait, 1 MB touched", fork, "-", FORKS, ev, format_args!(""));

    // Swap-out, here, with the program stopped at m6.
    let pfns = region_pfns(prog.pid);
    let swap = crate::mm::swapfile::nr_swap_pages() >= PAGES && pfns.len() == PAGES;
    if swap {
        let ev = Ev::now();
        let t0 = rdtsc();
        let freed = crate::mm::vmscan::reclaim_pages(&pfns);
        let t = (rdtsc() - t0) as i64;
        prow(
            "process: swap-out per page (reclaim_pages)",
            t / PAGES as i64,
            "-",
            PAGES,
            Ev::now().minus(ev),
            format_args!(", {} of {} pages freed", freed, PAGES),
        );
    } else {
        println!("process rows: no swap area with {} free slots (or the region is not all there): no swap rows", PAGES);
    }
    let m6b = snap();
    let maj = vm_event(VmEvent::PgMajFault);
    prog.cont();
    let m7 = prog.mark()?;
    let maj = vm_event(VmEvent::PgMajFault) - maj;
    if swap {
        let (swapin, ev) = per(m6b, m7, mark, PAGES);
        prow(
            "process: swap-in fault per page (user read)",
            swapin,
            "-",
            PAGES,
            ev,
            format_args!(", {} of them major (the others from readahead)", maj),
        );
    }

    prog.cont();
    let _m8 = prog.mark()?;
    let live = task::nr_processes();
    let ev = Ev::now();
    let t0 = rdtsc();
    let mut chosen = Chosen::Nothing;
    for _ in 0..DECISIONS {
        chosen = crate::process::oom::select_bad_process_now().ok_or("the process table was busy")?;
    }
    let t = ((rdtsc() - t0) / DECISIONS) as i64;
    let designated = match chosen {
        Chosen::Victim { pid, .. } => task::find(pid).is_some_and(|p| p.oom_score_adj() == 1000),
        _ => false,
    };
    prow(
        "process: OOM decision among live processes",
        t,
        "-",
        DECISIONS as usize,
        Ev::now().minus(ev),
        format_args!(
            ", {} processes, chose the designated victim: {} (no kill)",
            live,
            if designated { "yes" } else { "NO" }
        ),
    );

    match prog.finish() {
        Some(0) => Ok(()),
        _ => Err("benchfault failed at its end (its message is above)"),
    }
}

/// The frames of the program's measured pages, in order (those present).
fn region_pfns(pid: u32) -> Vec<u32> {
    let Some(mm) = task::find(pid).and_then(|p| p.mm()) else { return Vec::new() };
    (1..=PAGES)
        .filter_map(|i| mm.pte(VirtAddr::new(REGION + i * crate::layout::PAGE_SIZE)))
        .filter(|pte| pte.is_present())
        .map(|pte| pte.pfn().0)
        .collect()
}

/// `n` in decimal, in `buf`.
fn num(buf: &mut [u8; 8], n: usize) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}
