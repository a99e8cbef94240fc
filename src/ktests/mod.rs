//! In-kernel tests: what only the running machine can show (traps, the
//! timer, threads, guard pages). They print libtest-shaped lines, which the
//! QEMU harness (tests/qemu.py) counts into the final `N passed, N failed`.
//!
//! Only test kernels carry them: this folder, the shell's `ktest` command
//! and the `ktest` boot option's runner are built with the cargo feature
//! `ktest` (`make ... KTEST=1`, into build/ktest/), so the kernel `make run`
//! boots has none. Run them with `make run KTEST=1 ARGS=ktest` (the machine
//! powers off when done, with a failing QEMU status if a test failed) or
//! with the shell command `ktest [FILTER]` on the test kernel. Every test
//! that creates threads also checks that none is left behind.
//!
//! The tests sit one file per area (`kernel`: traps, timer, threads, log;
//! `page_alloc`, `highmem`, `slab`, `vmalloc`, `uaccess`, `mm`, `mmap`, `memory`,
//! `exec`, `syscalls`) and are
//! registered in [`TESTS`] under the name of the module they test, which
//! is the name they print (`test mm::page_alloc::... ok`).
//!
//! A test returns `Ok(())` (passed), `Err("why")` (failed), or
//! `Err(skip("why"))` when this boot lacks what it needs (no HighMem, say):
//! it is then reported as libtest reports an ignored test, `test NAME ...
//! ignored, why`, and does not fail the run.

mod ata;
mod cma;
mod compaction;
mod exec;
mod highmem;
mod highpte;
mod kernel;
mod memory;
mod mm;
mod mmap;
mod oom;
mod overcommit;
mod page_alloc;
mod slab;
mod syscalls;
mod uaccess;
mod vmalloc;

use crate::arch::x86::{pit, qemu};
use crate::kernel::sched;
use crate::println;

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

pub static TESTS: &[KTest] = &[
    KTest { name: "arch::x86::ata::writes_read_back_and_are_restored", run: ata::writes_read_back_and_are_restored },
    KTest { name: "arch::x86::ata::beyond_the_end_is_refused_not_hung", run: ata::beyond_the_end_is_refused_not_hung },
    KTest { name: "arch::x86::ata::bad_requests_are_refused", run: ata::bad_requests_are_refused },
    KTest { name: "mm::page_io::probe_swap_disks_reads_the_header", run: ata::probe_swap_disks_reads_the_header },
    KTest { name: "arch::x86::kernel::traps::int3_returns_to_caller", run: kernel::int3_returns_to_caller },
    KTest { name: "arch::x86::gdt::descriptor_tables_match_i386", run: kernel::descriptor_tables_match_i386 },
    KTest { name: "arch::x86::pit::timer_ticks_at_hz", run: kernel::timer_ticks_at_hz },
    KTest { name: "arch::x86::pit::clock_is_monotonic", run: kernel::clock_is_monotonic },
    KTest { name: "kernel::sched::stack_guard_pages_unmapped", run: kernel::stack_guard_pages_unmapped },
    KTest { name: "kernel::sched::threads_run_and_exit", run: kernel::threads_run_and_exit },
    KTest { name: "kernel::sched::busy_threads_are_preempted", run: kernel::busy_threads_are_preempted },
    KTest { name: "kernel::sched::msleep_sleeps_long_enough", run: kernel::msleep_sleeps_long_enough },
    KTest { name: "kernel::wait::wake_up_wakes_every_sleeper", run: kernel::wake_up_wakes_every_sleeper },
    KTest {
        name: "kernel::mutex::try_lock_on_a_held_mutex_keeps_it_held",
        run: kernel::mutex_try_lock_on_a_held_mutex_keeps_it_held,
    },
    KTest { name: "kernel::sched::thread_slots_are_reused", run: kernel::thread_slots_are_reused },
    KTest {
        name: "kernel::sched::tasks_with_signals_matches_a_recount",
        run: kernel::tasks_with_signals_matches_a_recount,
    },
    KTest { name: "kernel::printk::dmesg_keeps_messages", run: kernel::dmesg_keeps_messages },
    KTest { name: "kernel::printk::console_writes_with_interrupts_on", run: kernel::console_writes_with_interrupts_on },
    KTest { name: "kernel::ksyms::symbols_resolve_kernel_text", run: kernel::symbols_resolve_kernel_text },
    KTest { name: "mm::cma::busy_page_is_reported_and_skipped", run: cma::busy_page_is_reported_and_skipped },
    KTest { name: "mm::page_alloc::every_free_page_round_trips", run: page_alloc::every_free_page_round_trips },
    KTest { name: "mm::page_alloc::highuser_fills_highmem_first", run: page_alloc::highuser_fills_highmem_first },
    KTest {
        name: "mm::page_alloc::alloc_pages_exact_returns_the_tail",
        run: page_alloc::alloc_pages_exact_returns_the_tail,
    },
    KTest {
        name: "mm::page_alloc::alloc_pages_exact_refuses_size_0",
        run: page_alloc::alloc_pages_exact_refuses_size_0,
    },
    KTest { name: "mm::page_alloc::highmem_pages_come_back_zeroed", run: page_alloc::highmem_pages_come_back_zeroed },
    KTest { name: "mm::page_alloc::dma_and_kernel_pages_stay_low", run: page_alloc::dma_and_kernel_pages_stay_low },
    KTest {
        name: "mm::page_alloc::get_zeroed_page_clears_a_dirty_page",
        run: page_alloc::get_zeroed_page_clears_a_dirty_page,
    },
    KTest {
        name: "mm::page_alloc::highmem_get_free_pages_is_refused",
        run: page_alloc::highmem_get_free_pages_is_refused,
    },
    KTest { name: "mm::page_alloc::fail_page_alloc_spares_nofail", run: page_alloc::fail_page_alloc_spares_nofail },
    KTest { name: "mm::page_alloc::every_descriptor_knows_its_zone", run: page_alloc::every_descriptor_knows_its_zone },
    KTest { name: "mm::memblock::retired_memblock_refuses", run: page_alloc::retired_memblock_refuses },
    KTest {
        name: "mm::page_alloc::allocator_stress_keeps_the_clock",
        run: page_alloc::allocator_stress_keeps_the_clock,
    },
    KTest { name: "mm::highmem::every_highmem_page_through_kmap", run: highmem::every_highmem_page_through_kmap },
    KTest { name: "mm::highmem::kmap_waiters_wake_and_finish", run: highmem::kmap_waiters_wake_and_finish },
    KTest { name: "mm::highmem::kmap_costs_the_expected_flushes", run: highmem::kmap_costs_the_expected_flushes },
    KTest { name: "mm::highmem::kmap_atomic_misuse_is_caught", run: highmem::kmap_atomic_misuse_is_caught },
    KTest { name: "mm::highmem::kmap_in_atomic_context_is_reported", run: highmem::kmap_in_atomic_context_is_reported },
    KTest { name: "mm::highmem::highpage_helpers_copy", run: highmem::highpage_helpers_copy },
    KTest { name: "mm::highmem::kmap_refuses_frames_beyond_max_pfn", run: highmem::kmap_refuses_frames_beyond_max_pfn },
    KTest {
        name: "mm::highpte::user_page_tables_are_highmem_and_walked_through_kmap",
        run: highpte::user_page_tables_are_highmem_and_walked_through_kmap,
    },
    KTest {
        name: "mm::highpte::nested_walks_take_the_second_slot_and_the_oops_walk_copes",
        run: highpte::nested_walks_take_the_second_slot_and_the_oops_walk_copes,
    },
    KTest {
        name: "mm::highpte::user_page_tables_follow_the_boot_option",
        run: highpte::user_page_tables_follow_the_boot_option,
    },
    KTest { name: "mm::vmstat::kernel_stacks_are_counted", run: highpte::kernel_stacks_are_counted },
    KTest { name: "mm::slab::million_kmalloc_kfree_leave_no_pages", run: slab::million_kmalloc_kfree_leave_no_pages },
    KTest { name: "mm::slab::rust_collections_live_in_kmalloc", run: slab::rust_collections_live_in_kmalloc },
    KTest { name: "mm::slab::kmalloc_sizes_ksize_krealloc", run: slab::kmalloc_sizes_ksize_krealloc },
    KTest { name: "mm::slab::constructors_run_once_per_object", run: slab::constructors_run_once_per_object },
    KTest { name: "mm::slab::slab_debug_catches_corruption", run: slab::slab_debug_catches_corruption },
    KTest {
        name: "mm::slab::mempool_serves_from_reserve_under_failslab",
        run: slab::mempool_serves_from_reserve_under_failslab,
    },
    KTest {
        name: "mm::slab::dma_coherent_memory_is_low_and_contiguous",
        run: slab::dma_coherent_memory_is_low_and_contiguous,
    },
    KTest { name: "mm::slab::fail_page_alloc_fails_what_it_is_told", run: slab::fail_page_alloc_fails_what_it_is_told },
    KTest { name: "mm::slab::shrinker_returns_empty_slabs", run: slab::shrinker_returns_empty_slabs },
    KTest {
        name: "mm::slab::kmalloc_power_of_two_is_naturally_aligned",
        run: slab::kmalloc_power_of_two_is_naturally_aligned,
    },
    KTest {
        name: "mm::slab::double_kfree_in_array_cache_is_reported",
        run: slab::double_kfree_in_array_cache_is_reported,
    },
    KTest {
        name: "mm::slab::bad_frees_on_the_hit_path_are_reported",
        run: slab::bad_frees_on_the_hit_path_are_reported,
    },
    KTest {
        name: "mm::slab::mempool_retries_the_allocator_after_a_timeout",
        run: slab::mempool_retries_the_allocator_after_a_timeout,
    },
    KTest { name: "mm::slab::rust_collections_ignore_failslab", run: slab::rust_collections_ignore_failslab },
    KTest {
        name: "mm::slab::failslab_fails_a_warm_kmem_cache_alloc",
        run: slab::failslab_fails_a_warm_kmem_cache_alloc,
    },
    KTest { name: "mm::slab::slab_growth_failure_is_reported", run: slab::slab_growth_failure_is_reported },
    KTest { name: "mm::vmalloc::vmalloc_64m_fill_verify_free", run: vmalloc::vmalloc_64m_fill_verify_free },
    KTest { name: "mm::vmalloc::vzalloc_is_zeroed", run: vmalloc::vzalloc_is_zeroed },
    KTest {
        name: "mm::vmalloc::vmalloc_area_reaches_another_pgd_lazily",
        run: vmalloc::vmalloc_area_reaches_another_pgd_lazily,
    },
    KTest { name: "mm::vmalloc::vfree_of_a_bad_pointer_is_reported", run: vmalloc::vfree_of_a_bad_pointer_is_reported },
    KTest { name: "mm::vmalloc::vmalloc_too_big_takes_nothing", run: vmalloc::vmalloc_too_big_takes_nothing },
    KTest {
        name: "arch::x86::tlb::flush_tlb_all_drops_global_entries",
        run: vmalloc::flush_tlb_all_drops_global_entries,
    },
    KTest {
        name: "kernel::sync::irq_lock_guards_dropped_out_of_order",
        run: vmalloc::irq_lock_guards_dropped_out_of_order,
    },
    KTest {
        name: "arch::x86::uaccess::uaccess_refuses_kernel_addresses",
        run: uaccess::uaccess_refuses_kernel_addresses,
    },
    KTest {
        name: "arch::x86::uaccess::uaccess_to_unmapped_user_memory_gives_efault",
        run: uaccess::uaccess_to_unmapped_user_memory_gives_efault,
    },
    KTest {
        name: "arch::x86::uaccess::uaccess_moves_the_right_bytes_through_a_user_mapping",
        run: uaccess::uaccess_moves_the_right_bytes_through_a_user_mapping,
    },
    KTest {
        name: "arch::x86::uaccess::exception_table_lists_only_user_accesses",
        run: uaccess::exception_table_lists_only_user_accesses,
    },
    KTest {
        name: "arch::x86::fault::page_fault_enables_interrupts_like_the_faulting_code",
        run: uaccess::page_fault_enables_interrupts_like_the_faulting_code,
    },
    KTest {
        name: "arch::x86::highmem::kmap_atomic_disables_page_faults",
        run: uaccess::kmap_atomic_disables_page_faults,
    },
    KTest {
        name: "arch::x86::uaccess::user_access_in_atomic_context_is_reported",
        run: uaccess::user_access_in_atomic_context_is_reported,
    },
    KTest {
        name: "arch::x86::tlb::flush_tlb_range_follows_the_ceiling",
        run: uaccess::flush_tlb_range_follows_the_ceiling,
    },
    KTest { name: "arch::x86::tlb::tlb_flushes_make_a_remap_visible", run: uaccess::tlb_flushes_make_a_remap_visible },
    KTest {
        name: "mm::vmalloc::vfree_in_interrupt_context_is_refused",
        run: vmalloc::vfree_in_interrupt_context_is_refused,
    },
    KTest {
        name: "kernel::sync::spinlock_holders_are_atomic_for_might_sleep",
        run: vmalloc::spinlock_holders_are_atomic_for_might_sleep,
    },
    KTest { name: "mm::mm_types::mm_struct_drop_frees_its_page_tables", run: mm::mm_struct_drop_frees_its_page_tables },
    KTest {
        name: "kernel::sched::switch_mm_gives_each_thread_its_own_user_pages",
        run: mm::switch_mm_gives_each_thread_its_own_user_pages,
    },
    KTest {
        name: "kernel::wait::a_hundred_threads_sleep_on_one_queue_and_all_wake",
        run: mm::a_hundred_threads_sleep_on_one_queue_and_all_wake,
    },
    KTest {
        name: "process::exec::load_lays_out_programs_and_gives_every_page_back",
        run: exec::load_lays_out_programs_and_gives_every_page_back,
    },
    KTest {
        name: "process::exec::brk_grows_lazily_shrinks_and_refuses",
        run: exec::brk_grows_lazily_shrinks_and_refuses,
    },
    KTest {
        name: "process::exec::load_puts_long_arguments_on_a_multi_page_stack",
        run: exec::load_puts_long_arguments_on_a_multi_page_stack,
    },
    KTest {
        name: "process::exec::load_out_of_memory_anywhere_leaves_nothing",
        run: exec::load_out_of_memory_anywhere_leaves_nothing,
    },
    KTest {
        name: "mm::memory::fork_shares_pages_until_a_write_copies_them",
        run: memory::fork_shares_pages_until_a_write_copies_them,
    },
    KTest {
        name: "mm::memory::fork_maps_the_childs_table_once_not_per_entry",
        run: memory::fork_maps_the_childs_table_once_not_per_entry,
    },
    KTest {
        name: "mm::memory::mprotect_none_keeps_the_frame_and_gives_it_back",
        run: memory::mprotect_none_keeps_the_frame_and_gives_it_back,
    },
    KTest {
        name: "mm::memory::mlock_faults_in_and_marks_pages_munlock_clears",
        run: memory::mlock_faults_in_and_marks_pages_munlock_clears,
    },
    KTest {
        name: "mm::memory::munlock_stopped_by_a_hole_keeps_the_pages_beyond_it_locked",
        run: memory::munlock_stopped_by_a_hole_keeps_the_pages_beyond_it_locked,
    },
    KTest {
        name: "mm::memory::brk_and_munmap_give_pages_and_tables_back",
        run: memory::brk_and_munmap_give_pages_and_tables_back,
    },
    KTest {
        name: "mm::memory::madvise_dontneed_drops_pages_that_then_read_zero",
        run: memory::madvise_dontneed_drops_pages_that_then_read_zero,
    },
    KTest {
        name: "arch::x86::fault::user_copies_fault_pages_in_and_refuse_bad_areas",
        run: memory::user_copies_fault_pages_in_and_refuse_bad_areas,
    },
    KTest {
        name: "process::mman::map_fixed_replaces_pages_and_a_refused_one_keeps_them",
        run: memory::map_fixed_replaces_pages_and_a_refused_one_keeps_them,
    },
    KTest {
        name: "process::fork::dup_mm_out_of_memory_anywhere_leaves_the_parent_whole",
        run: memory::dup_mm_out_of_memory_anywhere_leaves_the_parent_whole,
    },
    KTest {
        name: "mm::mmap::each_area_is_one_vm_area_struct_object",
        run: mmap::each_area_is_one_vm_area_struct_object,
    },
    KTest {
        name: "process::syscalls::write_with_bad_pointers_gives_efault",
        run: syscalls::write_with_bad_pointers_gives_efault,
    },
    KTest { name: "process::syscalls::unknown_numbers_give_enosys", run: syscalls::unknown_numbers_give_enosys },
    KTest {
        name: "mm::util::strict_mode_refuses_and_charges_balance",
        run: overcommit::strict_mode_refuses_and_charges_balance,
    },
    KTest { name: "mm::oom_kill::no_process_no_kill_no_panic", run: oom::no_process_no_kill_no_panic },
    KTest {
        name: "mm::compaction::compaction_off_skips_direct_compaction",
        run: compaction::compaction_off_skips_direct_compaction,
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
    use crate::mm::mmzone::ZoneType;
    crate::mm::mmzone::with_node_mem_map(|node, _| {
        let (mut best, mut room) = (0, false);
        for (i, z) in node.zones.iter().enumerate() {
            let lowmem = (z.start_pfn() as u64) < node.max_low_pfn;
            if !z.is_populated() || !lowmem || z.kind == ZoneType::Movable {
                continue;
            }
            let low = z.watermark(crate::mm::mmzone::Watermark::Low);
            best = best.max(z.nr_free_pages().saturating_sub(low));
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
