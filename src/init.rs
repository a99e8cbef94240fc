//! `kmain`: what happens between the boot loader and the shell prompt
//! (Linux's init/main.c `start_kernel`). Each step uses only the ones before it.

use crate::arch::x86::kernel::{setup_arch, traps};
use crate::arch::x86::{cpu, pit, serial};
use crate::kernel::cmdline::BootOptions;
use crate::kernel::{bootinfo, ksyms, printk, sched, tty};
use crate::shell::commands as shell;
use crate::{pr_info, pr_notice, pr_warn};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Rust entry point, called by boot.S with paging on, on the boot stack.
#[no_mangle]
pub extern "C" fn kmain(magic: u32, mbi_phys: usize) -> ! {
    setup_arch();
    crate::arch::x86::mm::fault::init();
    // SAFETY: once, at boot, interrupts off, running at PAGE_OFFSET.
    unsafe { crate::arch::x86::mm::init::zap_low_mappings() };
    pr_notice!("himem version {} (i686, non-PAE, 2-level paging, HIGHMEM) #1", VERSION);

    let info = bootinfo::parse(magic, mbi_phys);
    pr_info!("Command line: {}", info.cmdline());
    let opts = BootOptions::parse(info.cmdline(), |w| pr_warn!("{}", w));
    printk::set_console_loglevel(opts.console_loglevel);
    crate::kernel::cmdline::set_no_color(opts.no_color);
    pr_info!("Boot loader: {}", info.loader());
    bootinfo::print_memmap(info);

    crate::mm::mm_init::mm_init(info, &opts);
    // Only now is the direct map final: mem=/highmem=/vmalloc= may have
    // moved its end below where GRUB put the symbols, and backtraces must
    // never read unmapped memory.
    match info.module("symbols").map(crate::arch::x86::mm::init::module_bytes) {
        Some(Some(bytes)) => ksyms::init(bytes),
        Some(None) => pr_warn!("symbols module above the end of lowmem: backtraces will show bare addresses"),
        None => pr_warn!("no 'symbols' module: backtraces will show bare addresses"),
    }
    crate::mm::slab_common::kmem_cache_init(opts.slab_debug);
    crate::mm::highpte::set_highpte(!opts.nohighpte);
    if opts.nohighpte {
        pr_info!("nohighpte: user page tables come from lowmem");
    }
    if let Some(bytes) = opts.memlock {
        crate::process::exec::set_default_memlock(bytes);
    }
    if let Some(attr) = opts.failslab {
        crate::mm::failslab::set_failslab(attr);
        pr_warn!("failslab: injecting slab allocation failures ({})", attr);
    }
    if let Some(attr) = opts.fail_page_alloc {
        crate::mm::page_alloc::set_fail_page_alloc(attr);
        pr_warn!("fail_page_alloc: injecting page allocation failures ({})", attr);
    }

    sched::init();
    crate::process::oom::init();
    traps::request_irq(0, sched::timer_tick);
    serial::enable_rx_irq();
    traps::request_irq(serial::IRQ, tty::serial_rx_interrupt);
    cpu::local_irq_enable();
    printk::timekeeping_ready();
    pr_info!("clocksource: pit, HZ={}, {} us per tick", pit::HZ, 1_000_000 / pit::HZ);

    if opts.bench {
        crate::process::kthread::kthread_run("bench", crate::bench::run, opts.bench_icount as usize)
            .expect("a thread slot at boot");
    } else if opts.ktest && cfg!(feature = "ktest") {
        crate::process::kthread::kthread_run("ktest", run_ktests, 0).expect("a thread slot at boot");
    } else {
        if opts.ktest {
            pr_warn!(
                "ktest: this kernel was built without the in-kernel tests; boot option ktest ignored, starting \
                 the shell ('make run KTEST=1 ARGS=ktest' boots the test kernel and runs them)"
            );
        }
        crate::process::kthread::kthread_run("sh", shell::shell_main, 0).expect("a thread slot at boot");
    }
    crate::process::kthread::cpu_idle()
}

/// `ktest` boot option: run every in-kernel test, then power off. Only test
/// kernels (cargo feature `ktest`) carry the tests.
fn run_ktests(_: usize) {
    #[cfg(feature = "ktest")]
    crate::ktests::run_at_boot();
}
