//! Link the kernel with `linker.ld`, and only the kernel: host builds (`cargo test`)
//! use the host's default link.
//!
//! linker.ld takes the address map from src/layout.rs: this script compiles
//! that file as a module of its own (`#[path]`; it is plain `core`
//! constants) and writes the values the linker script needs to
//! `$OUT_DIR/layout.ld`, which linker.ld `INCLUDE`s. A linker script cannot
//! read Rust, and a generated file keeps one definition of each number.
//! (boot.S gets its numbers as `global_asm!` operands instead: see
//! src/main.rs.)

#[path = "src/layout.rs"]
#[allow(dead_code)]
mod layout;

fn main() {
    println!("cargo:rerun-if-changed=linker.ld");
    println!("cargo:rerun-if-changed=src/layout.rs");
    println!("cargo:rerun-if-changed=src/arch/x86/boot.S");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
        let out = std::env::var("OUT_DIR").unwrap();
        let ld = format!(
            "/* Written by build.rs from src/layout.rs: do not edit. */\n\
             PAGE_OFFSET = {:#x};\n\
             KERNEL_PHYS_LOAD = {:#x};\n\
             PAGE_SIZE = {:#x};\n\
             EARLY_PT_BYTES = {:#x};\n",
            layout::PAGE_OFFSET,
            layout::KERNEL_PHYS_LOAD,
            layout::PAGE_SIZE,
            layout::EARLY_PT_BYTES,
        );
        std::fs::write(format!("{out}/layout.ld"), ld).expect("write layout.ld");
        // Link with a copy in OUT_DIR, not with the tree's own file: a build
        // directory shared by several trees (the handout tests' one
        // CARGO_TARGET_DIR for every lab) reruns this script only when
        // linker.ld's time changes, and handouts keep the times, so a path
        // into the tree that ran it first outlives that tree.
        std::fs::copy(format!("{dir}/linker.ld"), format!("{out}/linker.ld")).expect("copy linker.ld");
        println!("cargo:rustc-link-arg-bins=-L{out}");
        println!("cargo:rustc-link-arg-bins=-T{out}/linker.ld");
        println!("cargo:rustc-link-arg-bins=--no-dynamic-linker");
        println!("cargo:rustc-link-arg-bins=-znostart-stop-gc");
    }
}
