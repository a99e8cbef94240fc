//! The core kernel services (layer 2): the log, locks, preemption, the
//! scheduler core and wait queues, the console tty, the command line and
//! what the boot loader told us.

pub mod cmdline;
#[cfg(target_os = "none")]
pub mod debug;
pub mod e820;
pub mod fault_inject;
pub mod ksyms;
pub mod logbuf;
pub mod random;
pub mod signal_names;
pub mod wait_status;

#[cfg(target_os = "none")]
pub mod bootinfo;
#[cfg(target_os = "none")]
pub mod mutex;
#[cfg(target_os = "none")]
pub mod panic;
#[cfg(target_os = "none")]
pub mod preempt;
#[cfg(target_os = "none")]
pub mod printk;
#[cfg(target_os = "none")]
pub mod sched;
#[cfg(target_os = "none")]
pub mod sync;
#[cfg(target_os = "none")]
pub mod tty;
#[cfg(target_os = "none")]
pub mod wait;
