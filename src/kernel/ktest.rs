//! In-kernel tests: what only the running machine can show (traps, the
//! timer, threads, guard pages). They print libtest-shaped lines, which the
//! QEMU harness (tests/qemu.py) counts into the final `N passed, N failed`.
//!
//! Run them with the boot option `ktest` (then the machine powers off, with a
//! failing QEMU status if a test failed) or with the shell command
//! `ktest [FILTER]`. Every test that creates threads also checks that none is
//! left behind.
//!
//! A test returns `Ok(())` (passed), `Err("why")` (failed), or
//! `Err(skip("why"))` when this boot lacks what it needs (no HighMem, say):
//! it is then reported as libtest reports an ignored test, `test NAME ...
//! ignored, why`, and does not fail the run.

use super::{printk, sched, wait::WaitQueue};
use crate::arch::x86::kernel::traps;
use crate::arch::x86::{pit, qemu};
use crate::mm::ktests as mm;
use crate::mm::ktests_highmem as hm;
use crate::mm::ktests_mm as mmt;
use crate::mm::ktests_slab as sl;
use crate::mm::ktests_uaccess as ua;
use crate::mm::ktests_vmalloc as vm;
use crate::println;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub type TestResult = Result<(), &'static str>;

pub struct KTest {
    pub name: &'static str,
    pub run: fn() -> TestResult,
}

/// Why the running test asked to be skipped (set by [`skip`]).
static SKIP_REASON: spin::Mutex<Option<&'static str>> = spin::Mutex::new(None);

/// The reason to end the running test as skipped, as its error value:
/// `return Err(skip("no HighMem on this boot"))`, or `.ok_or_else(|| skip(...))?`.
/// The reason says which configuration the test needs and this boot lacks;
/// the runner prints `test NAME ... ignored, REASON` (libtest's words). Any
/// other error the test returns is a failure.
pub fn skip(reason: &'static str) -> &'static str {
    *SKIP_REASON.lock() = Some(reason);
    reason
}

macro_rules! check {
    ($cond:expr, $msg:expr) => {
        if !$cond {
            return Err($msg);
        }
    };
}

pub static TESTS: &[KTest] = &[
    KTest { name: "arch::x86::kernel::traps::int3_returns_to_caller", run: int3_returns_to_caller },
    KTest { name: "arch::x86::gdt::descriptor_tables_match_i386", run: descriptor_tables_match_i386 },
    KTest { name: "arch::x86::pit::timer_ticks_at_hz", run: timer_ticks_at_hz },
    KTest { name: "arch::x86::pit::clock_is_monotonic", run: clock_is_monotonic },
    KTest { name: "kernel::sched::stack_guard_pages_unmapped", run: stack_guard_pages_unmapped },
    KTest { name: "kernel::sched::threads_run_and_exit", run: threads_run_and_exit },
    KTest { name: "kernel::sched::busy_threads_are_preempted", run: busy_threads_are_preempted },
    KTest { name: "kernel::sched::msleep_sleeps_long_enough", run: msleep_sleeps_long_enough },
    KTest { name: "kernel::wait::wake_up_wakes_every_sleeper", run: wake_up_wakes_every_sleeper },
    KTest { name: "kernel::sched::thread_slots_are_reused", run: thread_slots_are_reused },
    KTest { name: "kernel::printk::dmesg_keeps_messages", run: dmesg_keeps_messages },
    KTest { name: "kernel::printk::console_writes_with_interrupts_on", run: console_writes_with_interrupts_on },
    KTest { name: "kernel::ksyms::symbols_resolve_kernel_text", run: symbols_resolve_kernel_text },
    KTest { name: "mm::page_alloc::every_free_page_round_trips", run: mm::every_free_page_round_trips },
    KTest { name: "mm::page_alloc::highuser_fills_highmem_first", run: mm::highuser_fills_highmem_first },
    KTest { name: "mm::page_alloc::alloc_pages_exact_returns_the_tail", run: mm::alloc_pages_exact_returns_the_tail },
    KTest { name: "mm::page_alloc::alloc_pages_exact_refuses_size_0", run: mm::alloc_pages_exact_refuses_size_0 },
    KTest { name: "mm::page_alloc::highmem_pages_come_back_zeroed", run: mm::highmem_pages_come_back_zeroed },
    KTest { name: "mm::page_alloc::dma_and_kernel_pages_stay_low", run: mm::dma_and_kernel_pages_stay_low },
    KTest { name: "mm::page_alloc::get_zeroed_page_clears_a_dirty_page", run: mm::get_zeroed_page_clears_a_dirty_page },
    KTest { name: "mm::page_alloc::highmem_get_free_pages_is_refused", run: mm::highmem_get_free_pages_is_refused },
    KTest { name: "mm::page_alloc::fail_page_alloc_spares_nofail", run: mm::fail_page_alloc_spares_nofail },
    KTest { name: "mm::page_alloc::every_descriptor_knows_its_zone", run: mm::every_descriptor_knows_its_zone },
    KTest { name: "mm::memblock::retired_memblock_refuses", run: mm::retired_memblock_refuses },
    KTest { name: "mm::page_alloc::allocator_stress_keeps_the_clock", run: mm::allocator_stress_keeps_the_clock },
    KTest { name: "mm::highmem::every_highmem_page_through_kmap", run: hm::every_highmem_page_through_kmap },
    KTest { name: "mm::highmem::kmap_waiters_wake_and_finish", run: hm::kmap_waiters_wake_and_finish },
    KTest { name: "mm::highmem::kmap_costs_the_expected_flushes", run: hm::kmap_costs_the_expected_flushes },
    KTest { name: "mm::highmem::kmap_atomic_misuse_is_caught", run: hm::kmap_atomic_misuse_is_caught },
    KTest { name: "mm::highmem::kmap_in_atomic_context_is_reported", run: hm::kmap_in_atomic_context_is_reported },
    KTest { name: "mm::highmem::highpage_helpers_copy", run: hm::highpage_helpers_copy },
    KTest { name: "mm::highmem::kmap_refuses_frames_beyond_max_pfn", run: hm::kmap_refuses_frames_beyond_max_pfn },
    KTest { name: "mm::slab::million_kmalloc_kfree_leave_no_pages", run: sl::million_kmalloc_kfree_leave_no_pages },
    KTest { name: "mm::slab::rust_collections_live_in_kmalloc", run: sl::rust_collections_live_in_kmalloc },
    KTest { name: "mm::slab::kmalloc_sizes_ksize_krealloc", run: sl::kmalloc_sizes_ksize_krealloc },
    KTest { name: "mm::slab::constructors_run_once_per_object", run: sl::constructors_run_once_per_object },
    KTest { name: "mm::slab::slab_debug_catches_corruption", run: sl::slab_debug_catches_corruption },
    KTest {
        name: "mm::slab::mempool_serves_from_reserve_under_failslab",
        run: sl::mempool_serves_from_reserve_under_failslab,
    },
    KTest {
        name: "mm::slab::dma_coherent_memory_is_low_and_contiguous",
        run: sl::dma_coherent_memory_is_low_and_contiguous,
    },
    KTest { name: "mm::slab::fail_page_alloc_fails_what_it_is_told", run: sl::fail_page_alloc_fails_what_it_is_told },
    KTest { name: "mm::slab::shrinker_returns_empty_slabs", run: sl::shrinker_returns_empty_slabs },
    KTest {
        name: "mm::slab::kmalloc_power_of_two_is_naturally_aligned",
        run: sl::kmalloc_power_of_two_is_naturally_aligned,
    },
    KTest {
        name: "mm::slab::double_kfree_in_array_cache_is_reported",
        run: sl::double_kfree_in_array_cache_is_reported,
    },
    KTest {
        name: "mm::slab::mempool_retries_the_allocator_after_a_timeout",
        run: sl::mempool_retries_the_allocator_after_a_timeout,
    },
    KTest { name: "mm::slab::rust_collections_ignore_failslab", run: sl::rust_collections_ignore_failslab },
    KTest { name: "mm::slab::slab_growth_failure_is_reported", run: sl::slab_growth_failure_is_reported },
    KTest { name: "mm::vmalloc::vmalloc_64m_fill_verify_free", run: vm::vmalloc_64m_fill_verify_free },
    KTest { name: "mm::vmalloc::vzalloc_is_zeroed", run: vm::vzalloc_is_zeroed },
    KTest {
        name: "mm::vmalloc::vmalloc_area_reaches_another_pgd_lazily",
        run: vm::vmalloc_area_reaches_another_pgd_lazily,
    },
    KTest { name: "mm::vmalloc::vfree_of_a_bad_pointer_is_reported", run: vm::vfree_of_a_bad_pointer_is_reported },
    KTest { name: "mm::vmalloc::vmalloc_too_big_takes_nothing", run: vm::vmalloc_too_big_takes_nothing },
    KTest { name: "arch::x86::tlb::flush_tlb_all_drops_global_entries", run: vm::flush_tlb_all_drops_global_entries },
    KTest { name: "kernel::sync::irq_lock_guards_dropped_out_of_order", run: vm::irq_lock_guards_dropped_out_of_order },
    KTest { name: "arch::x86::uaccess::uaccess_refuses_kernel_addresses", run: ua::uaccess_refuses_kernel_addresses },
    KTest {
        name: "arch::x86::uaccess::uaccess_to_unmapped_user_memory_gives_efault",
        run: ua::uaccess_to_unmapped_user_memory_gives_efault,
    },
    KTest {
        name: "arch::x86::uaccess::uaccess_moves_the_right_bytes_through_a_user_mapping",
        run: ua::uaccess_moves_the_right_bytes_through_a_user_mapping,
    },
    KTest {
        name: "arch::x86::uaccess::exception_table_lists_only_user_accesses",
        run: ua::exception_table_lists_only_user_accesses,
    },
    KTest {
        name: "arch::x86::fault::page_fault_enables_interrupts_like_the_faulting_code",
        run: ua::page_fault_enables_interrupts_like_the_faulting_code,
    },
    KTest { name: "arch::x86::highmem::kmap_atomic_disables_page_faults", run: ua::kmap_atomic_disables_page_faults },
    KTest {
        name: "arch::x86::uaccess::user_access_in_atomic_context_is_reported",
        run: ua::user_access_in_atomic_context_is_reported,
    },
    KTest { name: "arch::x86::tlb::flush_tlb_range_follows_the_ceiling", run: ua::flush_tlb_range_follows_the_ceiling },
    KTest { name: "arch::x86::tlb::tlb_flushes_make_a_remap_visible", run: ua::tlb_flushes_make_a_remap_visible },
    KTest {
        name: "mm::vmalloc::vfree_in_interrupt_context_is_refused",
        run: vm::vfree_in_interrupt_context_is_refused,
    },
    KTest {
        name: "kernel::sync::spinlock_holders_are_atomic_for_might_sleep",
        run: vm::spinlock_holders_are_atomic_for_might_sleep,
    },
    KTest {
        name: "mm::mm_types::mm_struct_drop_frees_its_page_tables",
        run: mmt::mm_struct_drop_frees_its_page_tables,
    },
    KTest {
        name: "kernel::sched::switch_mm_gives_each_thread_its_own_user_pages",
        run: mmt::switch_mm_gives_each_thread_its_own_user_pages,
    },
    KTest {
        name: "kernel::wait::a_hundred_threads_sleep_on_one_queue_and_all_wake",
        run: mmt::a_hundred_threads_sleep_on_one_queue_and_all_wake,
    },
];

/// What a run of the tests found (libtest's summary line).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    /// Skipped by the test ([`skip`]) or, see `out_of_memory`, by the runner.
    pub ignored: usize,
    /// Of the ignored: not started because lowmem was too short for them.
    pub out_of_memory: usize,
    pub filtered_out: usize,
}

impl Summary {
    /// Whether the run may be called a success: nothing failed.
    pub fn ok(&self) -> bool {
        self.failed == 0
    }
}

/// A filter that selects no test: a typo, not a successful run of nothing.
#[derive(Debug, PartialEq, Eq)]
pub struct NoMatch;

/// Rust's collections (`Vec`, `Box`, `String`) in test bodies cannot report
/// an allocation failure: the global allocator's failure handler panics the
/// kernel. So a test starts only when lowmem could serve what those bodies
/// ask for with room to spare: 1 MB free above the `low` watermark of one
/// lowmem zone, a 128 KB block among it (a `Vec` of 20,000 `u32`s grows into
/// one). This is the runner's guard, not the tests' excuse: a test that
/// needs more must check for itself.
const HEAP_NEED_PAGES: u64 = 256;
const HEAP_NEED_ORDER: usize = 5;

/// `Err(kB free above the low watermark in the roomiest lowmem zone)` when
/// a test could run out of memory in a Rust collection. The room must be in
/// one zone (an allocation comes from one), so the figure is the largest
/// zone's, not a sum that could read as more than the need while too little.
fn heap_room() -> Result<(), u64> {
    use crate::mm::zones::ZoneType;
    crate::mm::mm_init::with_node(|node, _| {
        let (mut best, mut room) = (0, false);
        for (i, z) in node.zones.iter().enumerate() {
            let lowmem = (z.start_pfn() as u64) < node.max_low_pfn;
            if !z.is_populated() || !lowmem || z.kind == ZoneType::Movable {
                continue;
            }
            let low = z.watermark[1];
            best = best.max(z.free_pages().saturating_sub(low));
            room |= z.watermark_ok(HEAP_NEED_ORDER, low + HEAP_NEED_PAGES, i, false, false);
        }
        if room {
            Ok(())
        } else {
            Err(best * 4)
        }
    })
}

/// kB of lowmem above the low mark a test needs free before it starts (see
/// [`heap_room`]): `watermark_ok` at order 5 counts the block's own pages
/// on top of the mark, so 1 MB and 128 kB, not the bare 1 MB.
pub const HEAP_NEED_KB: u64 = (HEAP_NEED_PAGES + (1 << HEAP_NEED_ORDER)) * 4;

/// Run the tests whose name contains `filter`, printing libtest's lines.
pub fn run_all(filter: &str) -> Result<Summary, NoMatch> {
    let selected = TESTS.iter().filter(|t| t.name.contains(filter)).count();
    if selected == 0 {
        return Err(NoMatch);
    }
    let mut sum = Summary { filtered_out: TESTS.len() - selected, ..Summary::default() };
    println!();
    println!("ktest: {} tests registered", TESTS.len());
    println!("running {} tests", selected);
    let t0 = pit::clock_us();
    for t in TESTS.iter().filter(|t| t.name.contains(filter)) {
        if let Err(kb) = heap_room() {
            sum.ignored += 1;
            sum.out_of_memory += 1;
            println!(
                "test {} ... ignored, out of memory: {} kB of lowmem free above the low watermark in the roomiest zone, \
                 the tests need {} kB and a 128 kB block in one zone",
                t.name, kb, HEAP_NEED_KB
            );
            continue;
        }
        let threads = sched::nr_threads();
        *SKIP_REASON.lock() = None;
        let mut result = (t.run)();
        let skipped = SKIP_REASON.lock().take();
        if result.is_ok() && sched::nr_threads() != threads {
            result = Err("threads leaked");
        }
        match (result, skipped) {
            (Err(why), Some(reason)) if why == reason => {
                sum.ignored += 1;
                println!("test {} ... ignored, {}", t.name, why);
            }
            (Ok(()), _) => {
                sum.passed += 1;
                println!("test {} ... ok", t.name);
            }
            (Err(why), _) => {
                sum.failed += 1;
                println!("test {} ... FAILED: {}", t.name, why);
            }
        }
    }
    let us = pit::clock_us() - t0;
    println!();
    println!(
        "test result: {}. {} passed; {} failed; {} ignored; 0 measured; {} filtered out; finished in {}.{:02}s",
        if sum.ok() { "ok" } else { "FAILED" },
        sum.passed,
        sum.failed,
        sum.ignored,
        sum.filtered_out,
        us / 1_000_000,
        us % 1_000_000 / 10_000
    );
    Ok(sum)
}

/// libtest's `--list`: one `NAME: test` line per registered test.
pub fn list() {
    for t in TESTS {
        println!("{}: test", t.name);
    }
    println!();
    println!("{} tests, 0 benchmarks", TESTS.len());
}

/// QEMU's exit status when a test failed: `(2 << 1) | 1` = 5, apart from a
/// crash's 3.
const EXIT_TESTS_FAILED: u8 = 2;

/// The `ktest` boot option: every test, then power off (QEMU exits 0) if
/// none failed, else leave QEMU with status 5, so `make run ARGS=ktest`
/// fails when a test did.
pub fn run_at_boot() -> ! {
    match run_all("") {
        Ok(sum) if sum.ok() => qemu::poweroff(),
        _ => {
            crate::pr_err!("ktest: some tests failed; exiting with a failing status");
            qemu::exit_failure(EXIT_TESTS_FAILED)
        }
    }
}

fn int3_returns_to_caller() -> TestResult {
    let before = traps::BREAKPOINTS.load(Ordering::Relaxed);
    traps::provoke::breakpoint();
    check!(traps::BREAKPOINTS.load(Ordering::Relaxed) == before + 1, "int3 not counted");
    Ok(())
}

/// The GDT and IDT built with the `x86` crate's descriptor builders hold
/// the values of Linux's i386 tables: flat 4 GB segments (GDT_ENTRY_INIT
/// 0xc09a, 0xc092, 0xc0fa, 0xc0f2), byte-granular 32-bit TSSs, interrupt
/// gates on __KERNEL_CS (DPL 3 for int3 and int 0x80), the #DF task gate.
fn descriptor_tables_match_i386() -> TestResult {
    use crate::arch::x86::gdt;
    use crate::layout::PAGE_OFFSET;
    // The CPU sets a segment's accessed bit when it loads it, and marks the
    // TSS that `ltr` loaded busy: both are masked.
    const ACCESSED: u64 = 1 << 40;
    const TSS_BUSY: u64 = 2;
    let g = gdt::gdt_raw();
    let flat = [0, 0x00cf_9a00_0000_ffff, 0x00cf_9200_0000_ffff, 0x00cf_fa00_0000_ffff, 0x00cf_f200_0000_ffff];
    check!(
        g[..5].iter().map(|d| d & !ACCESSED).eq(flat),
        "GDT null/code/data descriptors differ from Linux's i386 values"
    );
    for d in &g[5..] {
        let base = ((d >> 16) & 0xff_ffff) | ((d >> 56) << 24);
        let access = (d >> 40) & 0xff & !TSS_BUSY;
        check!(d & 0xffff == 103 && access == 0x89 && (d >> 48) & 0xff == 0, "TSS descriptor malformed");
        check!(base as usize >= PAGE_OFFSET, "TSS descriptor base outside the kernel image");
    }
    for v in (0..48).chain([traps::SYSCALL_VECTOR]) {
        let gate = traps::idt_raw(v);
        if v == 8 {
            check!(gate == u64::from(gdt::DF_TSS_SEL) << 16 | 0x85 << 40, "IDT[8] is not a task gate to the #DF TSS");
            continue;
        }
        let access = if v == 3 || v == traps::SYSCALL_VECTOR { 0xee } else { 0x8e };
        let offset = (gate & 0xffff) | ((gate >> 48) << 16);
        check!((gate >> 16) & 0xffff == u64::from(gdt::KERNEL_CS), "IDT gate selector is not __KERNEL_CS");
        check!((gate >> 32) & 0xffff == access << 8, "IDT gate type/DPL differ from Linux's");
        check!(offset as usize >= PAGE_OFFSET, "IDT gate points outside kernel text");
    }
    Ok(())
}

fn timer_ticks_at_hz() -> TestResult {
    let j0 = pit::jiffies();
    let t0 = pit::clock_us();
    sched::msleep(200);
    let ticks = pit::jiffies() - j0;
    let us = pit::clock_us() - t0;
    check!(ticks >= 20, "fewer than 20 ticks in 200 ms");
    // The tick count and the fine clock agree to within two ticks.
    check!(us.abs_diff(ticks * 1_000_000 / pit::HZ) <= 2 * 1_000_000 / pit::HZ, "clock and jiffies disagree");
    Ok(())
}

fn clock_is_monotonic() -> TestResult {
    let mut last = pit::clock_us();
    for _ in 0..20_000 {
        let now = pit::clock_us();
        check!(now >= last, "clock went backwards");
        last = now;
    }
    Ok(())
}

fn stack_guard_pages_unmapped() -> TestResult {
    check!(sched::guard_pages_unmapped(), "a stack guard page is mapped");
    Ok(())
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn threads_run_and_exit() -> TestResult {
    COUNTER.store(0, Ordering::SeqCst);
    let mut pids = [0u32; 4];
    for (i, pid) in pids.iter_mut().enumerate() {
        *pid = sched::kthread_run(
            "ktest-worker",
            |n| {
                COUNTER.fetch_add(n, Ordering::SeqCst);
            },
            i + 1,
        )
        .map_err(|_| "no thread slot")?;
    }
    for pid in pids {
        sched::kthread_wait(pid);
        check!(!sched::pid_alive(pid), "thread still alive after wait");
    }
    check!(COUNTER.load(Ordering::SeqCst) == 1 + 2 + 3 + 4, "not every thread ran once");
    Ok(())
}

static SPIN_A: AtomicUsize = AtomicUsize::new(0);
static SPIN_B: AtomicUsize = AtomicUsize::new(0);
static STOP: AtomicBool = AtomicBool::new(false);

fn spin(which: usize) {
    let c = if which == 0 { &SPIN_A } else { &SPIN_B };
    // Never yields: only the timer can take the CPU away.
    while !STOP.load(Ordering::Relaxed) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

fn busy_threads_are_preempted() -> TestResult {
    STOP.store(false, Ordering::SeqCst);
    SPIN_A.store(0, Ordering::SeqCst);
    SPIN_B.store(0, Ordering::SeqCst);
    let a = sched::kthread_run("spin-a", spin, 0).map_err(|_| "no thread slot")?;
    let b = sched::kthread_run("spin-b", spin, 1).map_err(|_| "no thread slot")?;
    sched::msleep(300);
    STOP.store(true, Ordering::SeqCst);
    sched::kthread_wait(a);
    sched::kthread_wait(b);
    // The tester itself woke from msleep while both spun: preemption works.
    check!(SPIN_A.load(Ordering::SeqCst) > 0 && SPIN_B.load(Ordering::SeqCst) > 0, "a busy thread never ran");
    Ok(())
}

fn msleep_sleeps_long_enough() -> TestResult {
    let j0 = pit::jiffies();
    sched::msleep(50);
    let slept = pit::jiffies() - j0;
    check!(slept >= 5, "woke before 50 ms");
    check!(slept < 100, "slept far longer than asked");
    Ok(())
}

static WQ: WaitQueue = WaitQueue::new();
static FLAG: AtomicBool = AtomicBool::new(false);
static WOKEN: AtomicUsize = AtomicUsize::new(0);

fn waiter(_: usize) {
    WQ.wait_event(|| FLAG.load(Ordering::SeqCst));
    WOKEN.fetch_add(1, Ordering::SeqCst);
}

fn wake_up_wakes_every_sleeper() -> TestResult {
    FLAG.store(false, Ordering::SeqCst);
    WOKEN.store(0, Ordering::SeqCst);
    let mut pids = [0u32; 3];
    for pid in pids.iter_mut() {
        *pid = sched::kthread_run("ktest-waiter", waiter, 0).map_err(|_| "no thread slot")?;
    }
    sched::msleep(30);
    check!(WOKEN.load(Ordering::SeqCst) == 0, "a waiter went on before the condition held");
    check!(WQ.has_sleepers(), "waiters are not on the queue");
    FLAG.store(true, Ordering::SeqCst);
    WQ.wake_up_all();
    for pid in pids {
        sched::kthread_wait(pid);
    }
    check!(WOKEN.load(Ordering::SeqCst) == 3, "not every waiter woke");
    Ok(())
}

fn thread_slots_are_reused() -> TestResult {
    // More threads than the old fixed table had slots, one after another:
    // exits free their slots and stacks.
    for _ in 0..40 {
        let pid = sched::kthread_run("ktest-short", |_| {}, 0).map_err(|_| "slot not freed on exit")?;
        sched::kthread_wait(pid);
    }
    Ok(())
}

fn dmesg_keeps_messages() -> TestResult {
    let marker = "ktest marker 7f3a91";
    crate::pr_debug!("{}", marker);
    check!(printk::log_contains(marker.as_bytes()), "message not in the log");
    check!(!printk::log_contains(b"never logged 2b8e"), "log finds what was never logged");
    Ok(())
}

/// The UART is written with interrupts on when the caller has them on:
/// printk and shell output no longer hold them off while it drains.
fn console_writes_with_interrupts_on() -> TestResult {
    use crate::arch::x86::serial::{WRITES, WRITES_IRQS_OFF};
    use core::sync::atomic::Ordering::Relaxed;
    if !crate::arch::x86::cpu::irqs_enabled() {
        return Err(skip("runs with interrupts masked"));
    }
    let (writes, off) = (WRITES.load(Relaxed), WRITES_IRQS_OFF.load(Relaxed));
    crate::pr_emerg!("ktest: a console line written with interrupts on");
    printk::console_write(b"ktest: shell output written with interrupts on\n");
    printk::dmesg(|_| {});
    check!(WRITES.load(Relaxed) >= writes + 2, "nothing reached the UART");
    check!(WRITES_IRQS_OFF.load(Relaxed) == off, "the UART was written with interrupts masked");
    Ok(())
}

fn symbols_resolve_kernel_text() -> TestResult {
    let tab = super::ksyms::table().ok_or("no symbol table module loaded")?;
    let kmain = crate::init::kmain as *const () as usize;
    let sym = tab.lookup(kmain + 1).ok_or("kmain not found")?;
    check!(sym.name == "kmain" && sym.addr == kmain, "kmain resolves to the wrong symbol");
    Ok(())
}
