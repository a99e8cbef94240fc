//! Tasks that own memory (layer 6): kernel threads with their stacks, and
//! processes: programs in ring 3 (`process` the table, `exec`, `fork`,
//! `exit` and wait, `signal`, the system calls in `syscalls` and `mman`). The scheduler core below
//! (`kernel::sched`) switches between tasks; this layer makes and frees what
//! a task holds, with memory management's help.
//!
//! `binfmt_elf` (checking a program and laying out its first stack) is pure
//! and tested on the host; `kthread` is kernel-only.

pub mod binfmt_elf;
pub mod procfs;
pub mod procfs_fd;
pub mod rlimit;
pub mod sys;

#[cfg(target_os = "none")]
pub mod exec;
#[cfg(target_os = "none")]
pub mod exit;
#[cfg(target_os = "none")]
pub mod fork;
#[cfg(target_os = "none")]
pub mod kthread;
#[cfg(target_os = "none")]
pub mod mman;
#[cfg(target_os = "none")]
pub mod oom;
#[cfg(target_os = "none")]
pub mod signal;
#[cfg(target_os = "none")]
pub mod syscalls;
#[cfg(target_os = "none")]
pub mod task;
