# Loaded by `make gdb` (gdb -x gdb/kernel.gdb); nothing in ~/.gdbinit needed.
# QEMU was started with -S: stopped before the first instruction, waiting for GDB.
set pagination off
set confirm off
set architecture i386
# make gdb sets $kernel_elf (build/ktest/kernel.elf for the test kernel, KTEST=1).
if $_isvoid($kernel_elf)
  file build/kernel.elf
else
  eval "file %s", $kernel_elf
end
# make gdb sets $gdb_port (GDB_PORT); by hand, 1234 as QEMU -s.
if $_isvoid($gdb_port)
  set $gdb_port = 1234
end
eval "target remote localhost:%d", $gdb_port
# $attach = 1 (make attach, the tests): QEMU is already running the kernel;
# attaching stopped it wherever it was. Break where the shell's `kgdb`
# command stops instead of at kmain, long past.
if $_isvoid($attach)
  set $attach = 0
end
if $attach
  break kgdb_breakpoint
  echo \n
  echo Attached. Breakpoint set at kgdb_breakpoint: 'continue', then type kgdb in the kernel's shell.\n
else
  break kmain
  echo \n
  echo Breakpoint set at kmain (the Rust entry). 'continue' boots; helpers: kpgd, kpte ADDR, kstack\n
end

# The page directory in use (CR3 is physical; lowmem is mapped at PAGE_OFFSET).
define kpgd
  monitor info tlb
end
document kpgd
Show the current virtual-to-physical mappings (QEMU's view of the page tables).
end

# Walk the two levels for one virtual address using the kernel's page directory.
# In Python, so that no language has to be switched: an expression in C syntax
# needs `set language c` in Rust frames, and that printed "Warning: the current
# language does not match this frame" every time.
python
import re


class Kpte(gdb.Command):
    """kpte ADDR: the page-directory and page-table entries that map ADDR in swapper_pg_dir."""

    def __init__(self):
        super().__init__("kpte", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        from himem_rust import PAGE_OFFSET

        va = int(gdb.parse_and_eval(arg)) & 0xFFFFFFFF
        if va < PAGE_OFFSET:
            # swapper_pg_dir maps the kernel half only; a process's tables
            # may be in highmem (HIGHPTE), which vtop reads through kmap.
            print("kpte: %#010x is a user address; 'vtop %#x PID' walks that process's tables" % (va, va))
            return
        where = gdb.execute("info address swapper_pg_dir", to_string=True)
        pgd = int(re.search(r"0x[0-9a-f]+", where).group(0), 16)
        mem = gdb.selected_inferior()

        def word(addr):
            return int.from_bytes(bytes(mem.read_memory(addr, 4)), "little")

        try:
            pde = word(pgd + 4 * (va >> 22))
        except gdb.MemoryError:
            print("kpte: cannot read swapper_pg_dir at %#x (paging not on yet? 'continue' to kmain first)" % pgd)
            return
        line = "va %08x: pde[%d] = %08x" % (va, va >> 22, pde)
        if pde & 1 and pde & 0x80:
            line += "  (4 MB page)"
        elif pde & 1:
            # The kernel's page tables are in lowmem, mapped at PAGE_OFFSET.
            pt = (pde & 0xFFFFF000) + PAGE_OFFSET
            line += "  pte[%d] = %08x" % ((va >> 12) & 0x3FF, word(pt + 4 * ((va >> 12) & 0x3FF)))
        print(line)


Kpte()
end

define kstack
  bt
  info registers esp ebp eip
end
document kstack
Backtrace and stack registers of the code GDB stopped in.
end

# The helper commands and pretty printers (GDB's Python API), one file per
# area in gdb/python/: rust.py first (the readers of Rust values the others
# import), then the rest in name order. Each file runs as a module of its
# own (himem_rust, himem_mm...; rust.py says how). The path is the
# repository's gdb/ beside this script's usual place; run GDB from the
# repository root.
python
import glob as _glob
import os as _os
_d = _os.path.join("gdb", "python")
for _f in [_os.path.join(_d, "rust.py")] + sorted(set(_glob.glob(_os.path.join(_d, "*.py"))) - {_os.path.join(_d, "rust.py")}):
    gdb.execute("source " + _f)
del _glob, _os, _d, _f
end
