//! The first user program: a greeting and its arguments (as c/chello.c,
//! the same text from glibc's printf).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use rt::println;

rt::main!(main);

fn main() {
    println!("Hello from user space!");
    let args = rt::args();
    println!("argc: {}", args.len());
    for (i, a) in args.enumerate() {
        println!("argv[{}]: {}", i, a);
    }
}
