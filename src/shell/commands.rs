//! The kernel shell on the serial console: read a line, run a command,
//! print the prompt again. Commands are a table; later layers add rows.

// A command's error is a fixed buffer on purpose (`CmdError`): reporting a
// failure allocates nothing, so it works when memory is exhausted. That
// makes the `Err` variant large, which clippy's `result_large_err` flags.
#![allow(clippy::result_large_err)]

use super::jobs;
use super::lineedit::{split_words, Event, LineEditor, SplitError};
use super::process_cmds;
use crate::arch::x86::{pit, qemu};
use crate::kernel::printk::console_write;
use crate::kernel::{bootinfo, printk, sched, tty};
use crate::{print, println};

pub const PROMPT: &str = "himem# ";
/// Longest command line accepted (bytes).
pub const LINE_MAX: usize = 255;
const MAX_ARGS: usize = 16;

/// A command's failure: the message printed after `NAME: `.
pub struct CmdError(pub printk::LineBuf<160>);

pub type CmdResult = Result<(), CmdError>;

/// Return a command error: `bail!("bad {}", x)`.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {{
        let mut buf = $crate::kernel::printk::LineBuf::<160>::new();
        let _ = core::fmt::Write::write_fmt(&mut buf, format_args!($($arg)*));
        return Err($crate::shell::commands::CmdError(buf));
    }};
}

pub struct Command {
    pub name: &'static str,
    pub usage: &'static str,
    pub help: &'static str,
    pub run: fn(&[&str]) -> CmdResult,
}

pub static COMMANDS: &[Command] = &[
    Command { name: "help", usage: "", help: "list the commands", run: cmd_help },
    Command { name: "echo", usage: "[WORD...]", help: "print the words", run: cmd_echo },
    Command { name: "dmesg", usage: "", help: "print the kernel log", run: cmd_dmesg },
    Command { name: "uptime", usage: "", help: "seconds since boot and seconds idle (/proc/uptime)", run: cmd_uptime },
    Command { name: "cmdline", usage: "", help: "the kernel command line (/proc/cmdline)", run: cmd_cmdline },
    Command { name: "bootmap", usage: "", help: "the firmware memory map and boot modules", run: cmd_bootmap },
    Command {
        name: "run",
        usage: "PROG [ARG...] [&]",
        help: "run a program (a boot module: see bootmap) and wait for it; with & return at once ($! is its pid)",
        run: process_cmds::cmd_run,
    },
    Command {
        name: "wait",
        usage: "[PID...]",
        help: "wait for background programs to end and say how they ended",
        run: process_cmds::cmd_wait,
    },
    Command {
        name: "ps",
        usage: "",
        help: "list tasks (ps -e -o pid,ppid,stat,vsz,rss,comm)",
        run: process_cmds::cmd_ps,
    },
    Command { name: "maps", usage: "PID", help: "a process's areas (/proc/PID/maps)", run: process_cmds::cmd_maps },
    Command {
        name: "migrate",
        usage: "PID",
        help: "move every page of a process to other frames while it runs",
        run: process_cmds::cmd_migrate,
    },
    Command {
        name: "status",
        usage: "PID",
        help: "a process's state and memory (/proc/PID/status)",
        run: process_cmds::cmd_status,
    },
    Command {
        name: "sleep",
        usage: "SECONDS...",
        help: "sleep NUMBER seconds (or m, h, d; decimals; inf); Ctrl-C ends it",
        run: cmd_sleep,
    },
    Command {
        name: "kill",
        usage: "[-SIGNAL] PID... | -l [SIGSPEC]",
        help: "send a signal (TERM unless named) to processes; -l lists signal names",
        run: cmd_kill,
    },
    Command { name: "meminfo", usage: "", help: "memory totals (/proc/meminfo)", run: cmd_meminfo },
    Command { name: "vmstat", usage: "", help: "memory counters and events (/proc/vmstat)", run: cmd_vmstat },
    Command {
        name: "sysctl",
        usage: "[-anNw] [NAME[=VAL]...]",
        help: "show or set the vm.* knobs, as procps' sysctl (-a lists them)",
        run: cmd_sysctl,
    },
    Command {
        name: "oom_score",
        usage: "PID",
        help: "its OOM killer score (/proc/PID/oom_score)",
        run: super::oom_cmds::cmd_oom_score,
    },
    Command {
        name: "oom_score_adj",
        usage: "PID [VALUE]",
        help: "show or set its OOM score adjustment, -1000..1000 (/proc/PID/oom_score_adj)",
        run: super::oom_cmds::cmd_oom_score_adj,
    },
    Command {
        name: "choom",
        usage: "-p PID [-n ADJ] | -n ADJ [--] PROG [ARGS] [&]",
        help: "show or change OOM score adjustments, or run a program with one (util-linux)",
        run: super::oom_cmds::cmd_choom,
    },
    Command {
        name: "zoneinfo",
        usage: "",
        help: "zones, watermarks, reserves, pcp lists (/proc/zoneinfo)",
        run: cmd_zoneinfo,
    },
    Command {
        name: "buddyinfo",
        usage: "",
        help: "free blocks per order and zone (/proc/buddyinfo)",
        run: cmd_buddyinfo,
    },
    Command {
        name: "pagetypeinfo",
        usage: "",
        help: "free blocks per migrate type (/proc/pagetypeinfo)",
        run: cmd_pagetypeinfo,
    },
    Command {
        name: "compact",
        usage: "[order N]",
        help: "compact every zone (/proc/sys/vm/compact_memory); order N: allocate 2^N pages and free them",
        run: super::compact_cmds::cmd_compact,
    },
    Command { name: "memmap", usage: "", help: "picture of physical memory, one cell per pageblock", run: cmd_memmap },
    Command {
        name: "cma",
        usage: "[alloc|free|dma ARG]",
        help: "the CMA area (cma=); alloc SIZE / free ADDR a contiguous block; dma SIZE: dma_alloc_coherent",
        run: super::cma::cmd_cma,
    },
    Command { name: "slabinfo", usage: "", help: "slab caches (/proc/slabinfo version 2.1)", run: cmd_slabinfo },
    Command {
        name: "kmalloc",
        usage: "",
        help: "kmalloc size classes: bytes requested against bytes handed out",
        run: cmd_kmalloc,
    },
    Command { name: "shrink", usage: "", help: "give every empty slab back to the page allocator", run: cmd_shrink },
    Command {
        name: "swapon",
        usage: "[-p PRIORITY] [DEVICE]",
        help: "use the swap area on a disk (/dev/sda...); alone: list the areas",
        run: super::swap_cmds::cmd_swapon,
    },
    Command {
        name: "swapoff",
        usage: "DEVICE | -a",
        help: "bring every page back from a swap area and stop using it",
        run: super::swap_cmds::cmd_swapoff,
    },
    Command { name: "swaps", usage: "", help: "swap areas in use (/proc/swaps)", run: super::swap_cmds::cmd_swaps },
    Command {
        name: "vmallocinfo",
        usage: "",
        help: "vmalloc and vmap areas (/proc/vmallocinfo)",
        run: cmd_vmallocinfo,
    },
    Command {
        name: "vmalloc",
        usage: "SIZE",
        help: "vmalloc SIZE bytes (K/M suffixes) and print the address",
        run: cmd_vmalloc,
    },
    Command { name: "vfree", usage: "ADDR", help: "vfree an area made with the vmalloc command", run: cmd_vfree },
    Command {
        name: "kmaps",
        usage: "",
        help: "persistent kmap slots: slot, count, pfn, address; totals",
        run: cmd_kmaps,
    },
    Command {
        name: "kgdb",
        usage: "",
        help: "stop in the debugger (GDB's breakpoint at kgdb_breakpoint), as Linux's SysRq-g does",
        run: cmd_kgdb,
    },
    Command { name: "drain", usage: "", help: "return the per-CPU page lists to the buddy allocator", run: cmd_drain },
    Command {
        name: "ktest",
        usage: "[FILTER|--list]",
        help: if cfg!(feature = "ktest") {
            "run the in-kernel tests (names containing FILTER), or list them"
        } else {
            "not in this kernel: the in-kernel tests are in the test kernel (make run KTEST=1)"
        },
        run: cmd_ktest,
    },
    Command {
        name: "crash",
        usage: "KIND",
        help: "crash on purpose: pf, div, ud, gp, panic, stack, vmalloc-guard, lock-recursion",
        run: cmd_crash,
    },
    Command { name: "poweroff", usage: "", help: "power the machine off", run: cmd_poweroff },
];

fn cmd_help(args: &[&str]) -> CmdResult {
    no_args(args)?;
    for c in COMMANDS {
        let mut left = printk::LineBuf::<32>::new();
        let _ = core::fmt::Write::write_fmt(&mut left, format_args!("{} {}", c.name, c.usage));
        println!("  {:<20} {}", core::str::from_utf8(left.as_bytes()).unwrap_or(""), c.help);
    }
    Ok(())
}

fn cmd_echo(args: &[&str]) -> CmdResult {
    for (i, a) in args.iter().enumerate() {
        print!("{}{}", if i > 0 { " " } else { "" }, a);
    }
    println!();
    Ok(())
}

fn cmd_kgdb(args: &[&str]) -> CmdResult {
    no_args(args)?;
    crate::kernel::debug::kgdb_breakpoint();
    Ok(())
}

fn cmd_dmesg(args: &[&str]) -> CmdResult {
    no_args(args)?;
    printk::dmesg(console_write);
    Ok(())
}

fn cmd_uptime(args: &[&str]) -> CmdResult {
    no_args(args)?;
    let up = pit::jiffies();
    let idle = sched::IDLE_TICKS.load(core::sync::atomic::Ordering::Relaxed) as u64;
    let cs = |t: u64| (t / pit::HZ, (t % pit::HZ) * 100 / pit::HZ);
    let (us, uc) = cs(up);
    let (is, ic) = cs(idle);
    println!("{}.{:02} {}.{:02}", us, uc, is, ic);
    Ok(())
}

fn cmd_cmdline(args: &[&str]) -> CmdResult {
    no_args(args)?;
    println!("{}", bootinfo::get().cmdline());
    Ok(())
}

fn cmd_bootmap(args: &[&str]) -> CmdResult {
    no_args(args)?;
    let info = bootinfo::get();
    for r in info.memmap.entries() {
        println!("{}", crate::kernel::e820::E820Line(r));
    }
    for m in info.modules() {
        let (start, end) = m.phys_range();
        println!("module: [mem {:#018x}-{:#018x}] {}", start, end - 1, m.name());
    }
    println!("multiboot2 info: [mem {:#018x}-{:#018x}]", info.mbi.0, info.mbi.1 - 1);
    Ok(())
}

fn cmd_sleep(args: &[&str]) -> CmdResult {
    let mut left = match jobs::parse_sleep(args) {
        Ok(d) => d,
        Err(e) => bail!("{}", e),
    };
    // A day at a time, so that the deadline in jiffies cannot overflow
    // (`inf` is Duration::MAX: it ends only with Ctrl-C).
    let day = core::time::Duration::from_secs(86400);
    while !left.is_zero() {
        let step = left.min(day);
        // Rounded up to whole ticks, plus one as Linux's msleep: a sleep
        // is never shorter than asked, whenever in a tick it starts.
        let ticks = (step.as_nanos() * pit::HZ as u128).div_ceil(1_000_000_000) as u64 + 1;
        if tty::sleep_interruptible(ticks) {
            println!("^C");
            return Ok(());
        }
        left -= step;
    }
    Ok(())
}

fn cmd_kill(args: &[&str]) -> CmdResult {
    use jobs::KillRequest;
    match jobs::parse_kill(args) {
        Err(e) => bail!("{}", e),
        Ok(KillRequest::List(words)) if words.is_empty() => print!("{}", crate::kernel::signal_names::SignalList),
        Ok(KillRequest::List(words)) => {
            // As bash: a bad word is reported and the others still answered.
            for w in words {
                match jobs::kill_list_item(w) {
                    Ok(Some(answer)) => println!("{}", answer),
                    Ok(None) => {}
                    Err(e) => println!("kill: {}", e),
                }
            }
        }
        Ok(req @ KillRequest::Send { .. }) => return process_cmds::cmd_kill_send(req),
    }
    Ok(())
}

/// Reports are formatted into this buffer, then printed: the report
/// functions copy each zone's counters under its lock and format after, so
/// no allocator lock is held for the slow serial output.
static REPORT: spin::Mutex<printk::LineBuf<24576>> = spin::Mutex::new(printk::LineBuf::new());

fn report(
    f: impl FnOnce(&crate::mm::mmzone::Node, &[crate::mm::page::Page], &mut printk::LineBuf<24576>) -> core::fmt::Result,
) {
    let mut buf = REPORT.lock();
    buf.clear();
    crate::mm::mmzone::with_node_mem_map(|node, mm| {
        let _ = f(node, mm, &mut buf);
    });
    console_write(buf.as_bytes());
}

fn cmd_meminfo(args: &[&str]) -> CmdResult {
    use crate::mm::vmstat::{NR_ANON_PAGES, NR_KERNEL_STACK, NR_MLOCK, NR_PAGETABLE};
    use crate::mm::vmstat::{NR_SWAPCACHE, NR_SWAP_PAGES, TOTAL_SWAP_PAGES, VM_COMMITTED_AS};
    use core::sync::atomic::Ordering::Relaxed;
    no_args(args)?;
    let dm = crate::arch::x86::mm::init::direct_map_stats();
    let extra = crate::mm::vmstat::MemExtra {
        kernel_stack_kb: (NR_KERNEL_STACK.load(Relaxed) * sched::THREAD_SIZE / 1024) as u64,
        page_tables_kb: 4 * NR_PAGETABLE.load(Relaxed) as u64,
        anon_pages_kb: 4 * NR_ANON_PAGES.load(Relaxed) as u64,
        mlocked_kb: 4 * NR_MLOCK.load(Relaxed) as u64,
        vmalloc_total_kb: ((crate::layout::VMALLOC_END - crate::mm::mmzone::vmalloc_start()) / 1024) as u64,
        vmalloc_used_kb: (crate::mm::vmalloc::usage().0 / 1024) as u64,
        vmalloc_chunk_kb: (crate::mm::vmalloc::usage().1 / 1024) as u64,
        slab_kb: 4 * crate::mm::slab_common::slab_pages() as u64,
        sreclaimable_kb: 4 * crate::mm::slab_common::slab_pages_split().0 as u64,
        direct_map_4k_kb: dm.pages_4k as u64 * 4,
        direct_map_4m_kb: dm.pages_4m as u64 * 4096,
        swap_cached_kb: 4 * NR_SWAPCACHE.load(Relaxed) as u64,
        swap_total_kb: 4 * TOTAL_SWAP_PAGES.load(Relaxed) as u64,
        swap_free_kb: 4 * NR_SWAP_PAGES.load(Relaxed) as u64,
        commit_limit_kb: 4 * crate::mm::util::commit_limit(),
        committed_as_kb: 4 * VM_COMMITTED_AS.load(Relaxed) as u64,
    };
    report(|node, mm, out| crate::mm::vmstat::meminfo(node, mm, &extra, out));
    Ok(())
}

fn cmd_vmstat(args: &[&str]) -> CmdResult {
    use crate::mm::vmstat::{NR_ANON_PAGES, NR_KERNEL_STACK, NR_MLOCK, NR_PAGETABLE, NR_SWAPCACHE};
    use core::sync::atomic::Ordering::Relaxed;
    no_args(args)?;
    let (reclaimable, unreclaimable) = crate::mm::slab_common::slab_pages_split();
    let st = crate::mm::vmstat::NodeStats {
        mlock: NR_MLOCK.load(Relaxed) as u64,
        slab_reclaimable: reclaimable as u64,
        slab_unreclaimable: unreclaimable as u64,
        anon_pages: NR_ANON_PAGES.load(Relaxed) as u64,
        kernel_stack_kb: (NR_KERNEL_STACK.load(Relaxed) * sched::THREAD_SIZE / 1024) as u64,
        page_table_pages: NR_PAGETABLE.load(Relaxed) as u64,
        swapcached: NR_SWAPCACHE.load(Relaxed) as u64,
    };
    let events = crate::mm::vmstat::vm_events();
    report(|node, mm, out| crate::mm::vmstat::vmstat(node, mm, &st, &events, out));
    Ok(())
}

fn cmd_sysctl(args: &[&str]) -> CmdResult {
    // Straight to the console: short output, and a write (min_free_kbytes)
    // takes the zone locks, which must not be held while printing.
    crate::mm::mmzone::with_node_mem_map(|node, mm| {
        let _ = super::sysctl::sysctl(args, node, mm, &mut printk::Console);
    });
    Ok(())
}

fn cmd_zoneinfo(args: &[&str]) -> CmdResult {
    no_args(args)?;
    report(|node, _, out| crate::mm::vmstat::zoneinfo(node, out));
    Ok(())
}

fn cmd_buddyinfo(args: &[&str]) -> CmdResult {
    no_args(args)?;
    report(|node, _, out| crate::mm::vmstat::buddyinfo(node, out));
    Ok(())
}

fn cmd_pagetypeinfo(args: &[&str]) -> CmdResult {
    no_args(args)?;
    report(|node, _, out| crate::mm::vmstat::pagetypeinfo(node, out));
    Ok(())
}

fn cmd_memmap(args: &[&str]) -> CmdResult {
    no_args(args)?;
    let color = !crate::kernel::cmdline::no_color();
    let counts = crate::mm::vmstat::memmap_counts();
    report(|node, _, out| crate::mm::vmstat::memmap_print(node, &counts, color, out));
    Ok(())
}

fn cmd_slabinfo(args: &[&str]) -> CmdResult {
    no_args(args)?;
    // Straight to the console: these reports format outside their locks,
    // and a buffer from the heap could fail (or show in the report itself).
    let _ = crate::mm::slab_common::slabinfo(&mut printk::Console);
    Ok(())
}

fn cmd_kmalloc(args: &[&str]) -> CmdResult {
    no_args(args)?;
    // Straight to the console: these reports format outside their locks,
    // and a buffer from the heap could fail (or show in the report itself).
    let _ = crate::mm::slab_common::kmalloc::kmalloc_summary(&mut printk::Console);
    Ok(())
}

fn cmd_shrink(args: &[&str]) -> CmdResult {
    no_args(args)?;
    println!("{} pages given back", crate::mm::slab_common::shrink_all());
    Ok(())
}

fn err(msg: &str) -> CmdError {
    let mut buf = printk::LineBuf::<160>::new();
    let _ = core::fmt::Write::write_str(&mut buf, msg);
    CmdError(buf)
}

fn cmd_vmallocinfo(args: &[&str]) -> CmdResult {
    no_args(args)?;
    // Straight to the console: these reports format outside their locks,
    // and a buffer from the heap could fail (or show in the report itself).
    let _ = crate::mm::vmalloc::vmallocinfo(&mut printk::Console);
    Ok(())
}

fn cmd_vmalloc(args: &[&str]) -> CmdResult {
    let [size] = args else { bail!("usage: vmalloc SIZE (got '{}'); nothing allocated", Words(args)) };
    let n = match crate::kernel::cmdline::memparse(size) {
        Ok(n) if n > 0 && n <= 256 << 20 => n as usize,
        Ok(_) => bail!("size '{}' out of range (1 byte .. 256M)", size),
        Err(e) => bail!("bad size '{}': {}", size, e),
    };
    // Room in the list first: nothing is allocated when it cannot be kept.
    SHELL_AREAS.lock().reserve(1);
    match crate::mm::vmalloc::vmalloc(n) {
        Ok(p) => {
            SHELL_AREAS.lock().push(p.as_ptr() as usize);
            println!("{:#010x}", p.as_ptr() as usize)
        }
        Err(e) => bail!("{}: {}", size, e),
    }
    Ok(())
}

/// The areas `vmalloc` made and `vfree` has not freed: the only ones the
/// shell may free (any other vmalloc area belongs to someone, such as a
/// thread's kernel stack).
static SHELL_AREAS: spin::Mutex<alloc::vec::Vec<usize>> = spin::Mutex::new(alloc::vec::Vec::new());

fn cmd_vfree(args: &[&str]) -> CmdResult {
    let [addr] = args else { bail!("usage: vfree ADDR (got '{}'); nothing freed", Words(args)) };
    let a = match crate::kernel::cmdline::parse_u64(addr) {
        Ok(a) if a <= u32::MAX as u64 => a as usize,
        _ => bail!("bad address '{}' (a 32-bit number, as vmalloc printed it); nothing freed", addr),
    };
    let mut areas = SHELL_AREAS.lock();
    let Some(i) = areas.iter().position(|&p| p == a) else {
        bail!("{:#010x} is not an area this shell's vmalloc made (see vmallocinfo); nothing freed", a)
    };
    areas.swap_remove(i);
    drop(areas);
    // SAFETY: `a` is an area the shell's `vmalloc` made and no one else
    // knows of; it was just taken off the list, so it is freed once.
    unsafe { crate::mm::vmalloc::vfree(a as *const u8) };
    Ok(())
}

fn cmd_kmaps(args: &[&str]) -> CmdResult {
    no_args(args)?;
    let mut buf = REPORT.lock();
    buf.clear();
    crate::mm::highmem::with_pkmap(|slots, totals, stats| {
        let _ = crate::mm::pkmap::kmaps_report(&mut *buf, slots, totals, stats, 256);
    });
    console_write(buf.as_bytes());
    Ok(())
}

fn cmd_drain(args: &[&str]) -> CmdResult {
    no_args(args)?;
    crate::mm::page_alloc::drain_all_pages();
    Ok(())
}

/// Only test kernels (cargo feature `ktest`) carry the in-kernel tests.
#[cfg(not(feature = "ktest"))]
fn cmd_ktest(_: &[&str]) -> CmdResult {
    bail!("this kernel was built without the in-kernel tests; nothing run ('make run KTEST=1' boots the test kernel)")
}

#[cfg(feature = "ktest")]
fn cmd_ktest(args: &[&str]) -> CmdResult {
    use crate::ktests as ktest;
    let filter = match args {
        [] => "",
        ["--list"] => {
            ktest::list();
            return Ok(());
        }
        [f] => *f,
        _ => bail!("too many arguments '{}' (usage: ktest [FILTER] or ktest --list); nothing run", Words(args)),
    };
    let Ok(sum) = ktest::run_all(filter) else {
        bail!("no test name contains '{}'; nothing run ('ktest --list' names all {})", filter, ktest::TESTS.len());
    };
    if sum.failed != 0 {
        bail!("{} of {} tests failed", sum.failed, sum.passed + sum.failed + sum.ignored);
    }
    if sum.out_of_memory != 0 {
        bail!(
            "out of memory: {} tests not run (each needs {} kB of lowmem free above the low watermark in one \
             zone; 'zoneinfo' shows both)",
            sum.out_of_memory,
            ktest::HEAP_NEED_KB
        );
    }
    Ok(())
}

fn cmd_crash(args: &[&str]) -> CmdResult {
    let kind = match args {
        [k] => *k,
        [] => bail!("missing KIND (one of: pf, div, ud, gp, panic, stack, vmalloc-guard, lock-recursion)"),
        _ => bail!("too many arguments '{}' (usage: crash KIND); nothing done", Words(args)),
    };
    match kind {
        "pf" => crate::arch::x86::kernel::traps::provoke::page_fault(),
        "vmalloc-guard" => {
            let p = crate::mm::vmalloc::vmalloc(4096).map_err(|_| err("vmalloc failed"))?;
            // SAFETY: deliberately unsound: one byte past the area, in its
            // guard page, to show the oops naming it.
            unsafe { core::ptr::write_volatile(p.as_ptr().add(4096), 1) };
            Ok(())
        }
        "div" => crate::arch::x86::kernel::traps::provoke::divide_error(),
        "ud" => crate::arch::x86::kernel::traps::provoke::invalid_opcode(),
        "gp" => crate::arch::x86::kernel::traps::provoke::general_protection(),
        "lock-recursion" => crate::arch::x86::kernel::traps::provoke::lock_recursion(),
        "panic" => panic!("crash command: panic requested from the shell"),
        "stack" => {
            // Overflow a fresh thread's stack into its guard page.
            let pid = crate::process::kthread::kthread_run(
                "overflow",
                |_| {
                    overflow(0);
                },
                0,
            );
            let pid = match pid {
                Ok(pid) => pid,
                Err(e) => bail!("cannot start the thread: {}", e),
            };
            crate::process::kthread::kthread_wait(pid);
            Ok(())
        }
        _ => bail!("unknown kind '{}' (one of: pf, div, ud, gp, panic, stack, vmalloc-guard, lock-recursion)", kind),
    }
}

/// Recurse with a page-sized frame until the stack runs into its guard page.
#[inline(never)]
fn overflow(depth: usize) -> usize {
    if depth == usize::MAX {
        return 0; // never: the guard page stops us long before
    }
    let mut frame = [0u8; 1024];
    frame[depth % 1024] = depth as u8;
    core::hint::black_box(&mut frame);
    overflow(depth + 1) + frame[0] as usize
}

fn cmd_poweroff(args: &[&str]) -> CmdResult {
    no_args(args)?;
    crate::pr_emerg!("reboot: Power down");
    qemu::poweroff()
}

/// The arguments as typed (less the quoting), for messages naming them.
pub struct Words<'a>(pub &'a [&'a str]);

impl core::fmt::Display for Words<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, w) in self.0.iter().enumerate() {
            write!(f, "{}{}", if i > 0 { " " } else { "" }, w)?;
        }
        Ok(())
    }
}

fn no_args(args: &[&str]) -> CmdResult {
    match args.first() {
        None => Ok(()),
        Some(_) => bail!("takes no arguments (got '{}'); nothing done", Words(args)),
    }
}

/// Run one command line; errors are printed as `NAME: message`.
pub fn run_line(line: &str) {
    let mut words = [""; MAX_ARGS];
    let n = match split_words(line, &mut words) {
        Ok(n) => n,
        Err(SplitError::TooManyWords) => {
            println!("sh: too many words (at most {})", MAX_ARGS);
            return;
        }
        Err(SplitError::UnclosedQuote) => {
            println!("sh: unclosed quote");
            return;
        }
    };
    if n == 0 {
        return;
    }
    // `$!`, as bash expands it, before the command is looked up.
    let expanded = jobs::expand_last_bg(&words[..n], process_cmds::last_bg());
    let mut words = [""; MAX_ARGS];
    for (w, e) in words.iter_mut().zip(expanded.iter()) {
        *w = e;
    }
    let n = expanded.len();
    if n == 0 {
        return;
    }
    let (name, args) = (words[0], &words[1..n]);
    match COMMANDS.iter().find(|c| c.name == name) {
        Some(c) => {
            if let Err(CmdError(msg)) = (c.run)(args) {
                println!("{}: {}", name, core::str::from_utf8(msg.as_bytes()).unwrap_or("?"));
            }
        }
        None => println!("sh: {}: command not found (type 'help' for the list)", name),
    }
}

/// The shell thread.
pub fn shell_main(_: usize) {
    let mut ed = LineEditor::<{ LINE_MAX + 1 }>::new();
    print!("{}", PROMPT);
    loop {
        let b = tty::read_byte();
        match ed.feed(b) {
            Event::None => {}
            Event::Echo(bytes) => {
                console_write(bytes);
                if bytes.first() == Some(&b'\r') {
                    print!("{}", PROMPT); // Ctrl-U cleared the line, prompt included
                }
            }
            Event::Line(line) => {
                console_write(b"\n");
                // Copy out: the editor's buffer is reused by the next line.
                let mut buf = [0u8; LINE_MAX];
                let len = line.len();
                buf[..len].copy_from_slice(line.as_bytes());
                run_line(core::str::from_utf8(&buf[..len]).unwrap_or(""));
                print!("{}", PROMPT);
            }
            Event::Cancelled => print!("^C\n{}", PROMPT),
            Event::TooLong => print!("\nsh: line too long (at most {} characters); ignored\n{}", LINE_MAX, PROMPT),
            Event::BadUtf8(e) => print!("\nsh: {}\n{}", e, PROMPT),
        }
    }
}
