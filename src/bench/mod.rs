//! `make bench`: instruction counts of the hot paths, measured in the
//! running kernel. Under QEMU's `-icount shift=0,sleep=off`, `rdtsc` counts
//! guest instructions exactly, so the figures repeat run after run; the
//! costs icount cannot see (a fault, an `invlpg`, a CR3 load) are printed
//! as event counts beside them. Goals are printed, never asserted: this is
//! a measurement, not a test.
//!
//! The kernel cannot see whether QEMU runs with icount, so `make bench`
//! says so with the boot option `bench_icount`; without it (`make run
//! ARGS=bench`) the rows are TSC cycles, labelled as such, and the goals
//! (instruction counts) do not apply.
//!
//! Sections, in the order they run: `hot` (the allocators' hot paths and
//! the boot-time metadata) and the boot's own cost (`boot_rows`);
//! `process` (faults, fork, swap and the OOM decision, as a user program
//! pays them); `peers`
//! (the bench kernel only: other allocators on the same traces); `frag`
//! (the fragmentation study, on the configuration this boot has; it fills
//! all of memory, so it runs only when named: `scripts/bench-frag.sh` boots
//! it once per configuration). `bench_only=NAME[,NAME...]` runs only the
//! sections named. Lines that start with `@plot ` are data for the
//! charts (`scripts/bench.sh` hides them from the table and hands them to
//! the host tool that draws the SVGs; the format is in `plot`).

mod frag;
mod hot;
#[cfg(feature = "peers")]
mod peers;
mod process;

use crate::arch::x86::cpu::{rdtsc, TLB_FULL_FLUSHES, TLB_SINGLE_FLUSHES};
use crate::mm::page_alloc;
use crate::println;
use core::sync::atomic::Ordering;

pub(super) struct Events {
    invlpg: u32,
    flushes: u32,
}

pub(super) fn events() -> Events {
    Events { invlpg: TLB_SINGLE_FLUSHES.load(Ordering::Relaxed), flushes: TLB_FULL_FLUSHES.load(Ordering::Relaxed) }
}

/// By how much `per_op` misses `goal` when the goal is a plain bound
/// (`<=N` or `>=N`); 0 when it is met or is not one (`-`, `<=300+c`).
fn shortfall(per_op: u64, goal: &str) -> u64 {
    let bound = |s: &str| s.parse::<u64>().ok();
    if let Some(n) = goal.strip_prefix("<=").and_then(bound) {
        per_op.saturating_sub(n)
    } else if let Some(n) = goal.strip_prefix(">=").and_then(bound) {
        n.saturating_sub(per_op)
    } else {
        0
    }
}

/// One table row; `extra` (a `&str` or `format_args!`) ends the line. A
/// row that misses a plain goal says by how much after its events, so the
/// figure in the text can never go stale; `extra` says why.
pub(super) fn row(name: &str, per_op: u64, goal: &str, before: &Events, extra: impl core::fmt::Display) {
    let now = events();
    plot(format_args!("row {} {}", name.replace(' ', "_"), per_op));
    println!(
        "{:<46} {:>9} {:>7}   invlpg {}, full flushes {}{}{}",
        name,
        per_op,
        goal,
        now.invlpg - before.invlpg,
        now.flushes - before.flushes,
        Miss(shortfall(per_op, goal)),
        extra
    );
}

/// `row` for a row that may miss its goal: `why` (why it misses, `; misses:
/// ...`) ends the line only while it does, so a row that comes to meet its
/// goal stops saying it misses.
pub(super) fn row_why(name: &str, per_op: u64, goal: &str, before: &Events, extra: impl core::fmt::Display, why: &str) {
    let why = if shortfall(per_op, goal) > 0 { why } else { "" };
    row(name, per_op, goal, before, format_args!("{}{}", extra, why));
}

/// `, misses by N`, or nothing when the goal is met (N = 0).
struct Miss(u64);

impl core::fmt::Display for Miss {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self.0 {
            0 => Ok(()),
            n => write!(f, ", misses by {}", n),
        }
    }
}

/// Cost of the measuring loop itself, subtracted from every row.
fn overhead(n: u64) -> u64 {
    let t0 = rdtsc();
    for i in 0..n {
        core::hint::black_box(i);
    }
    (rdtsc() - t0) / n
}

pub(super) const BATCH: usize = 4096;

/// QEMU exit code (status 5) when nothing can be measured: the machine is
/// too small, or `bench_only=` names no section.
const EXIT_NOTHING_MEASURED: u8 = 2;

/// Whether the rows can get what they hold at once: the batch row's 4096
/// pages above what the allocator keeps back, and an order-10 block. With
/// less (`make bench MEM=16M`) an `expect` in a row panicked the kernel;
/// now the boot says why it measures nothing and exits failing.
fn room() -> Result<(), (u64, &'static str)> {
    let reserve = crate::mm::mmzone::with_node_mem_map(|node, _| node.totalreserve_pages());
    let spare = page_alloc::nr_free_pages().saturating_sub(reserve);
    if spare < BATCH as u64 + 1024 {
        return Err((spare, "4096 pages held at once, and an order-10 block"));
    }
    // Read from the free lists, not allocated: an injected failure
    // (fail_page_alloc=) is for the rows to meet.
    let top = crate::mm::buddy::MAX_ORDER - 1;
    let counts = free_counts();
    if counts[0][top] + counts[1][top] == 0 {
        return Err((spare, "an order-10 block in lowmem (none is free)"));
    }
    Ok(())
}

/// Free blocks per order of every zone.
pub(super) fn free_counts() -> [[usize; crate::mm::buddy::MAX_ORDER]; 4] {
    crate::mm::mmzone::with_node_mem_map(|node, _| {
        let mut c = [[0; crate::mm::buddy::MAX_ORDER]; 4];
        for (z, zone) in node.zones.iter().enumerate().take(4) {
            let buddy = zone.lock();
            for (o, n) in c[z].iter_mut().enumerate() {
                *n = buddy.nr_free(o);
            }
        }
        c
    })
}

/// One line of chart data: `@plot CHART FIELD...`, fields separated by
/// single spaces and free of spaces themselves. `scripts/bench.sh` keeps
/// these lines out of the table it shows and the host tool
/// (`tools/benchplot`) draws the charts from them.
pub(super) fn plot(args: core::fmt::Arguments) {
    println!("@plot {}", args);
}

/// The values of `bench_only=` options (the boot option is checked, not
/// stored, by `cmdline`, which does not know the section names).
fn bench_only_values() -> impl Iterator<Item = &'static str> {
    let cmdline = crate::kernel::bootinfo::get().cmdline();
    crate::kernel::cmdline::params(cmdline).filter(|p| p.key == "bench_only").map(|p| p.val.unwrap_or(""))
}

/// Whether section `name` runs: with `bench_only=NAME[,NAME...]`, if it is
/// named; without, if it runs `by_default`.
fn selected(name: &str, by_default: bool) -> bool {
    let mut only = bench_only_values().peekable();
    if only.peek().is_none() {
        return by_default;
    }
    only.any(|v| v.split(',').any(|s| s == name))
}

/// The sections `bench_only=` can name.
const SECTIONS: [&str; 4] = ["hot", "process", "peers", "frag"];

/// Name each section `bench_only=` asks for that does not exist (a typo
/// would otherwise measure nothing without a word).
fn warn_unknown_sections() {
    for val in bench_only_values() {
        for name in val.split(',').filter(|n| !n.is_empty() && !SECTIONS.contains(n)) {
            println!(
                "bench: bench_only={}: there is no section '{}' (there are {}); not run",
                val,
                name,
                SECTIONS.join(", ")
            );
        }
    }
}

/// The benchmark thread; `icount` is the `bench_icount` boot option.
pub fn run(icount: usize) {
    let icount = icount != 0;
    println!();
    warn_unknown_sections();
    if !SECTIONS.iter().any(|&s| selected(s, s != "frag")) {
        println!("bench: bench_only= names no section there is: nothing measured");
        crate::arch::x86::qemu::exit_failure(EXIT_NOTHING_MEASURED);
    }
    if let Err((spare, what)) = room() {
        println!(
            "bench: this machine has {} kB free above the allocator's reserve; the rows need {} kB ({}): \
             nothing measured",
            spare * 4,
            (BATCH + 1024) * 4,
            what
        );
        crate::arch::x86::qemu::exit_failure(EXIT_NOTHING_MEASURED);
    }
    if !icount {
        println!("bench: no bench_icount boot option (make bench gives it, with QEMU's -icount): the TSC counts");
        println!("bench: cycles, not instructions, so the figures vary and the goals do not apply");
    }
    println!("{:<46} {:>9} {:>7}   events", "benchmark", if icount { "instr/op" } else { "cycles/op" }, "goal");
    let loop_cost = overhead(20_000);
    if selected("hot", true) {
        hot::rows(loop_cost);
        boot_rows();
    }
    if selected("process", true) {
        process::rows(loop_cost);
    }
    #[cfg(feature = "peers")]
    if selected("peers", true) {
        peers::rows(loop_cost);
    }
    if selected("frag", false) {
        frag::rows(loop_cost);
    }
    println!();
    if icount {
        println!("bench: done (instructions under -icount shift=0; loop overhead {} subtracted)", loop_cost);
    } else {
        println!("bench: done (TSC cycles, not instructions: no bench_icount; loop overhead {} subtracted)", loop_cost);
    }
    crate::arch::x86::qemu::poweroff();
}

/// How long the boot took, in guest instructions (under `-icount shift=0`
/// also nanoseconds of guest time): from power-on to `kmain` (SeaBIOS and
/// GRUB loading the kernel and the programs) and from `kmain` to where the
/// shell would start. The host side of `make run` (make, QEMU starting) is
/// timed by scripts/boottime.sh.
fn boot_rows() {
    let kmain = crate::init::KMAIN_TSC.load(Ordering::Relaxed);
    let booted = crate::init::BOOTED_TSC.load(Ordering::Relaxed);
    let ev = events();
    row("boot: power-on to kmain (SeaBIOS, GRUB)", kmain, "-", &ev, "");
    row("boot: kmain to the shell's start", booted - kmain, "-", &ev, "");
}
