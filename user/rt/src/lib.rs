//! The runtime of himem's user programs: what a no_std Rust program needs
//! to be a static Linux i386 executable.
//!
//! - `_start` (start.rs) takes argc, argv, envp and the auxiliary vector
//!   from the initial stack as Linux's `binfmt_elf` lays it out, calls the
//!   program's main (named by [`main!`]) and ends the process with
//!   `exit_group` and main's status, as glibc's `__libc_start_main` does;
//! - [`sys`]: the system calls, through `int $0x80` with Linux's i386
//!   numbers and registers, returning `Err(Errno)` for Linux's `-errno`;
//! - [`print!`], [`println!`], [`eprint!`], [`eprintln!`] on fds 1 and 2;
//! - a panic handler that prints the message on stderr and exits with 101,
//!   the status of a Rust program that panicked.
//!
//! Nothing here is himem's: the programs run unchanged on an x86 Linux host,
//! which is the reference for what they print.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod errno;
pub mod io;
pub mod start;
pub mod sys;

pub use errno::Errno;
pub use start::{args, env, getauxval, program_name, Arg, Args};

/// Name the program's main function: `rt::main!(main);` with
/// `fn main()` or `fn main() -> i32` (the exit status).
#[macro_export]
macro_rules! main {
    ($f:path) => {
        #[unsafe(no_mangle)]
        fn __rt_main() -> i32 {
            $crate::start::Termination::status($f())
        }
    };
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // Rust's own programs say `thread 'main' panicked at FILE:LINE:COL:`
    // and exit with 101: the same, with the program's name.
    eprintln!("{}: {}", program_name(), info);
    sys::exit_group(101)
}
