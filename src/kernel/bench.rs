//! `make bench`: instruction counts of the hot paths, measured in the
//! running kernel. Under QEMU's `-icount shift=0,sleep=off`, `rdtsc` counts
//! guest instructions exactly, so the figures repeat run after run; the
//! costs icount cannot see (a fault, an `invlpg`, a CR3 load) are printed
//! as event counts beside them. Goals are printed, never asserted: this is
//! a measurement, not a test.

use crate::arch::x86::cpu::{rdtsc, TLB_FULL_FLUSHES, TLB_SINGLE_FLUSHES};
use crate::mm::alloc::{self, alloc_pages, free_pages_block, Pages};
use crate::mm::gfp::GFP_KERNEL;
use crate::println;
use core::sync::atomic::Ordering;

struct Events {
    invlpg: u32,
    flushes: u32,
}

fn events() -> Events {
    Events { invlpg: TLB_SINGLE_FLUSHES.load(Ordering::Relaxed), flushes: TLB_FULL_FLUSHES.load(Ordering::Relaxed) }
}

fn row(name: &str, per_op: u64, goal: &str, before: &Events, extra: &str) {
    let now = events();
    println!(
        "{:<46} {:>9} {:>7}   invlpg {}, full flushes {}{}",
        name,
        per_op,
        goal,
        now.invlpg - before.invlpg,
        now.flushes - before.flushes,
        extra
    );
}

/// Cost of the measuring loop itself, subtracted from every row.
fn overhead(n: u64) -> u64 {
    let t0 = rdtsc();
    for i in 0..n {
        core::hint::black_box(i);
    }
    (rdtsc() - t0) / n
}

const BATCH: usize = 4096;
static mut HELD: [u32; BATCH] = [0; BATCH];

pub fn run(_: usize) {
    println!();
    println!("{:<46} {:>9} {:>7}   events", "benchmark", "instr/op", "goal");
    let n = 20_000u64;
    let loop_cost = overhead(n);

    // Warm the pcp list so the loop measures the fast path.
    for _ in 0..64 {
        let p = alloc_pages(GFP_KERNEL, 0).expect("a page");
        free_pages_block(p);
    }
    let ev = events();
    let t0 = rdtsc();
    for _ in 0..n {
        let p = alloc_pages(GFP_KERNEL, 0).expect("a page");
        free_pages_block(core::hint::black_box(p));
    }
    let pair = (rdtsc() - t0) / n - loop_cost;
    row("page_alloc: order-0 alloc+free pair (pcp)", pair, "<=150", &ev, "");

    let ev = events();
    let t0 = rdtsc();
    for i in 0..BATCH {
        let p = alloc_pages(GFP_KERNEL, 0).expect("a page");
        // SAFETY: only this thread touches HELD, and only here.
        unsafe { HELD[i] = p.pfn() };
        core::mem::forget(p);
    }
    for i in 0..BATCH {
        // SAFETY: as above; each pfn was allocated at order 0 just before.
        let pfn = unsafe { HELD[i] };
        free_pages_block(Pages::from_raw(pfn, 0));
    }
    let per = (rdtsc() - t0) / (2 * BATCH as u64) - loop_cost;
    row("page_alloc: 4096 allocs then 4096 frees, per op", per, "<=120", &ev, "");

    let ev = events();
    let m = 2_000u64;
    let t0 = rdtsc();
    for _ in 0..m {
        let p = alloc_pages(GFP_KERNEL, 10).expect("an order-10 block");
        free_pages_block(core::hint::black_box(p));
    }
    let pair10 = (rdtsc() - t0) / m - loop_cost;
    row("page_alloc: order-10 alloc+free pair", pair10, "<=600", &ev, "");

    let frames = crate::mm::mm_init::MEM_MAP_BYTES.load(Ordering::Relaxed) / core::mem::size_of::<crate::mm::page::Page>();
    let setup = crate::mm::mm_init::MEMMAP_SETUP_TSC.load(Ordering::Relaxed) as u64;
    row("boot: page-descriptor setup, per frame", setup / frames.max(1) as u64, "<=20", &events(), "");

    let ram = alloc::totalram_bytes() as u64;
    let meta = (crate::mm::mm_init::MEM_MAP_BYTES.load(Ordering::Relaxed)
        + 4096 * crate::arch::x86::mm::init::page_tables_in_use()) as u64;
    println!(
        "{:<46} {:>9} {:>7}   {} frames",
        "memory: bytes of descriptor per frame",
        core::mem::size_of::<crate::mm::page::Page>(),
        "<=32",
        frames
    );
    println!(
        "{:<46} {:>8}K {:>7}   {}.{:02}% of {} MB RAM (mem_map + kernel page tables)",
        "memory: boot-time metadata",
        meta >> 10,
        "<=1%",
        meta * 100 / ram,
        (meta * 10000 / ram) % 100,
        ram >> 20
    );
    println!();
    println!("bench: done (instructions under -icount shift=0; loop overhead {} subtracted)", loop_cost);
    crate::arch::x86::qemu::poweroff();
}
