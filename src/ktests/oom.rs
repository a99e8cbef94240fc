//! The OOM killer with nobody to kill: the shell is a kernel thread, so a
//! machine with no process is the usual state here (Linux always has its
//! init). An OOM call then kills nothing, prints no report and does not
//! panic: the allocation fails as before there was an OOM killer.

use super::{skip, TestResult};
use crate::mm::gfp::GFP_KERNEL;
use crate::mm::vmstat::{vm_event, VmEvent};
use core::sync::atomic::Ordering;

pub fn no_process_no_kill_no_panic() -> TestResult {
    if crate::process::task::nr_processes() != 0 {
        return Err(skip("processes are alive on this boot"));
    }
    let (kills, events) = (crate::process::oom::OOM_KILLS.load(Ordering::Relaxed), vm_event(VmEvent::OomKill));
    if crate::kernel::printk::log_contains(b"invoked oom-killer") {
        return Err(skip("an OOM report is in the log already"));
    }
    if crate::mm::oom_kill::out_of_memory(GFP_KERNEL, 0) {
        return Err("out_of_memory asked for a retry with no process to kill");
    }
    if crate::process::oom::OOM_KILLS.load(Ordering::Relaxed) != kills || vm_event(VmEvent::OomKill) != events {
        return Err("something was counted as killed");
    }
    if crate::kernel::printk::log_contains(b"invoked oom-killer") {
        return Err("a report was printed with nobody to kill");
    }
    Ok(())
}
