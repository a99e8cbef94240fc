//! A place for the debugger to stop: the shell's `kgdb` command calls
//! `kgdb_breakpoint`, as Linux's SysRq-g enters KGDB.
//!
//! `make gdb` and the tests' GDB sessions (`gdb -iex 'set $attach = 1' -x
//! gdb/kernel.gdb`) put a breakpoint here. Stopped at it, the kernel is in
//! the middle of one shell command and nothing else runs, so what GDB reads
//! (free lists, slabs, page tables, tasks) is a consistent picture. With no
//! debugger attached, or none breaking here, the call returns at once.

/// The function GDB breaks at. It must exist as a function of its own in
/// the ELF (never inlined, never merged away), which `inline(never)` and the
/// compiler barrier keep true.
#[inline(never)]
#[no_mangle]
pub extern "C" fn kgdb_breakpoint() {
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}
