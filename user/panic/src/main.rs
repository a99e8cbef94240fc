//! Panics on purpose: the runtime's panic handler prints where and why on
//! stderr and ends the process with status 101, as a Rust program's
//! panic does on Linux.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

rt::main!(main);

fn main() {
    rt::println!("panic: about to panic");
    panic!("on purpose, with {} arguments", rt::args().len() - 1);
}
