//! The face (top layer): the shell on the serial console. `lineedit` is the
//! line discipline (pure, tested on the host); `commands` reads lines, runs
//! the command table and prints the reports in Linux's formats;
//! `process_cmds` the process commands (`run`, `wait`, `kill`, `ps`, `maps`,
//! `status`), with `jobs` reading their words; `sysctl` the `vm.*` knobs;
//! `vtop` the page-table walk to one address.

pub mod jobs;
pub mod lineedit;
pub mod oom_cmds;
pub mod sysctl;

#[cfg(target_os = "none")]
pub mod cma;
#[cfg(target_os = "none")]
pub mod commands;
#[cfg(target_os = "none")]
pub mod compact_cmds;
#[cfg(target_os = "none")]
pub mod process_cmds;
#[cfg(target_os = "none")]
pub mod swap_cmds;
#[cfg(target_os = "none")]
pub mod vtop;
