//! `kmain`: what happens between the boot loader and the shell prompt
//! (Linux's init/main.c `start_kernel`). Each step uses only the ones before it.

use crate::arch::x86::ata::{self, AtaDisk, Probe, SECTOR_SIZE};
use crate::arch::x86::kernel::{setup_arch, traps};
use crate::arch::x86::{cpu, pit, serial};
use crate::kernel::cmdline::BootOptions;
use crate::kernel::{bootinfo, ksyms, printk, sched, tty};
use crate::mm::swap_header::{SwapHeader, Uuid};
use crate::shell::commands as shell;
use crate::{pr_err, pr_info, pr_notice, pr_warn};
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The time stamp counter at `kmain`'s start and where the shell (or
/// the bench or ktest thread) is started. Under `make bench`'s `-icount
/// shift=0` the counter is guest instructions since power-on, so the first
/// is what SeaBIOS and GRUB cost and the second the whole boot (bench
/// reports both).
pub static KMAIN_TSC: AtomicU64 = AtomicU64::new(0);
pub static BOOTED_TSC: AtomicU64 = AtomicU64::new(0);

/// The Rust entry point, called by boot.S with paging on, on the boot stack.
#[no_mangle]
pub extern "C" fn kmain(magic: u32, mbi_phys: usize) -> ! {
    setup_arch();
    // After the first call, so that GDB's `break kmain` stops in kmain.
    KMAIN_TSC.store(cpu::rdtsc(), Ordering::Relaxed);
    crate::arch::x86::mm::fault::init();
    // SAFETY: once, at boot, interrupts off, running at PAGE_OFFSET.
    unsafe { crate::arch::x86::mm::init::zap_low_mappings() };
    pr_notice!("himem version {} (i686, non-PAE, 2-level paging, HIGHMEM) #1", VERSION);

    let info = bootinfo::parse(magic, mbi_phys);
    pr_info!("Command line: {}", info.cmdline());
    let opts = BootOptions::parse(info.cmdline(), |w| pr_warn!("{}", w));
    printk::set_console_loglevel(opts.console_loglevel);
    crate::kernel::cmdline::set_no_color(opts.no_color);
    if let Some(seed) = opts.seed {
        crate::kernel::random::set_boot_seed(seed);
        pr_notice!("random: seed={} ({:#x}): fault injection and AT_RANDOM repeat on every boot with it", seed, seed);
    }
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
    if !opts.compaction {
        crate::mm::compaction::set_direct_compaction(false);
        pr_info!("compaction=off: no direct compaction");
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
    // With the tick running: the disk waits are timed in jiffies.
    ata_init();
    // A ktest boot leaves the disk to the tests, which write to it.
    if !opts.noswap && !opts.ktest {
        swapon_all();
    }

    // The background reclaimer (Linux starts it from kswapd_init).
    crate::process::kthread::kthread_run("kswapd0", crate::mm::vmscan::kswapd, 0).expect("a thread slot at boot");
    BOOTED_TSC.store(cpu::rdtsc(), Ordering::Relaxed);
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

// --- the IDE disks and their swap headers (issue 11) ---

/// One line for what page 0 of a disk says: `swap: sda: SWAPSPACE2 ...`.
pub struct SwapProbeLine<'a>(pub &'a AtaDisk, pub &'a Result<SwapHeader, crate::mm::page_io::SwapProbeError>);

impl fmt::Display for SwapProbeLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.0.id.sd_name().expect("an ATA disk has a name");
        match self.1 {
            Ok(h) => {
                write!(
                    f,
                    "swap: {}: SWAPSPACE2 version 1, {} pages ({}k), {} bad",
                    name,
                    h.last_page,
                    h.nr_good_pages() as u64 * 4,
                    h.bad_pages.len()
                )?;
                if let Some(label) = h.label() {
                    write!(f, ", LABEL={}", label)?;
                }
                write!(f, ", UUID={}", Uuid(&h.uuid))
            }
            Err(e) => write!(f, "swap: {}: {}; not a swap area", name, e),
        }
    }
}

/// Linux's `string_get_size` with 3 significant digits: `67.1 MB`.
struct Size(u64, u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (bytes, base) = (self.0 as u128, self.1 as u128);
        let units: [&str; 5] =
            if base == 1000 { ["B", "kB", "MB", "GB", "TB"] } else { ["B", "KiB", "MiB", "GiB", "TiB"] };
        let mut unit = 0;
        while unit + 1 < units.len() && bytes >= base.pow(unit as u32 + 1) {
            unit += 1;
        }
        let milli = bytes * 1000 / base.pow(unit as u32);
        let decimals = if milli >= 100_000 {
            0
        } else if milli >= 10_000 {
            1
        } else {
            2
        };
        let step = 10u128.pow(3 - decimals);
        let v = (milli + step / 2) / step;
        let scale = 10u128.pow(decimals);
        if decimals == 0 {
            write!(f, "{} {}", v, units[unit])
        } else {
            write!(f, "{}.{:0w$} {}", v / scale, v % scale, units[unit], w = decimals as usize)
        }
    }
}

/// Probe the IDE disks and say what was found as libata does, then what
/// each disk's page 0 holds; keep the channels for `swapon`.
/// Turn on every disk that holds a swap area, as a distribution's boot
/// does with `swapon -a` (`noswap` leaves them off).
fn swapon_all() {
    for (disk, header) in crate::mm::page_io::probe_swap_disks() {
        let Some(name) = disk.disk.id.sd_name() else { continue };
        if header.is_ok() {
            let dev = alloc::format!("/dev/{name}");
            if let Err(e) = crate::mm::page_io::swapon_device(&dev, None) {
                pr_err!("swapon: {}: {}", dev, e);
            }
        }
    }
}

fn ata_init() {
    let mut disks = 0;
    for (channel, found) in ata::probe() {
        let Some(mut ch) = channel else {
            continue;
        };
        for p in found {
            match p {
                Probe::Absent => {}
                Probe::Disk(d) => {
                    disks += 1;
                    let id = d.id.ata_name();
                    pr_info!("{}: ATA-{}: {}, {}, max {}", id, d.ata_version, d.model(), d.firmware(), d.max_mode);
                    let lba = if d.lba48 { "LBA48" } else { "LBA" };
                    pr_info!("{}: {} sectors, multi {}: {}", id, d.sectors, d.multi, lba);
                    pr_notice!(
                        "sd {}: [{}] {} {}-byte logical blocks: ({}/{})",
                        d.id.scsi_addr(),
                        d.id.sd_name().expect("an ATA disk has a name"),
                        d.sectors,
                        SECTOR_SIZE,
                        Size(d.bytes(), 1000),
                        Size(d.bytes(), 1024)
                    );
                    pr_info!("{}", SwapProbeLine(&d, &crate::mm::page_io::read_swap_header(&mut ch, &d)));
                }
                Probe::Atapi(d) => {
                    pr_info!("{}: ATAPI: {}, {}, max {}", d.id.ata_name(), d.model(), d.firmware(), d.max_mode)
                }
                Probe::Failed(e) => pr_err!("{}: failed to IDENTIFY ({})", e.dev.ata_name(), e),
            }
        }
        crate::mm::page_io::register_ata_channel(ch);
    }
    if disks == 0 {
        pr_info!("ata: no ATA disk, so no swap device (make run attaches one unless SWAP=0)");
    }
}
