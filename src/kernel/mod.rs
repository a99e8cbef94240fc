//! The core kernel: log, command line, shell, threads and scheduling.

pub mod cmdline;
pub mod ksyms;
pub mod lineedit;
pub mod logbuf;

#[cfg(target_os = "none")]
pub mod bench;
#[cfg(target_os = "none")]
pub mod bootinfo;
#[cfg(target_os = "none")]
pub mod panic;
#[cfg(target_os = "none")]
pub mod printk;
#[cfg(target_os = "none")]
pub mod sched;
#[cfg(target_os = "none")]
pub mod shell;
#[cfg(target_os = "none")]
pub mod sync;
#[cfg(target_os = "none")]
pub mod tty;
#[cfg(target_os = "none")]
pub mod wait;
