# Loaded by `make gdb` (gdb -x gdb/kernel.gdb); nothing in ~/.gdbinit needed.
# QEMU was started with -s -S: stopped before the first instruction, waiting on :1234.
set pagination off
set confirm off
set architecture i386
file build/kernel.elf
target remote localhost:1234
break kmain
echo \n
echo Breakpoint set at kmain (the Rust entry). 'continue' boots; helpers: kpgd, kpte ADDR, kstack\n

# The page directory in use (CR3 is physical; lowmem is mapped at PAGE_OFFSET).
define kpgd
  monitor info tlb
end
document kpgd
Show the current virtual-to-physical mappings (QEMU's view of the page tables).
end

# Walk the two levels for one virtual address using the kernel's page directory.
define kpte
  set language c
  set $va = (unsigned int)($arg0)
  set $pgd = (unsigned int *)((unsigned int)&swapper_pg_dir)
  set $pde = $pgd[$va >> 22]
  printf "va %08x: pde[%d] = %08x", $va, $va >> 22, $pde
  if ($pde & 1) && !($pde & 0x80)
    set $pt = (unsigned int *)(($pde & 0xfffff000) + 0xc0000000)
    printf "  pte[%d] = %08x", ($va >> 12) & 0x3ff, $pt[($va >> 12) & 0x3ff]
  end
  if ($pde & 0x80)
    printf "  (4 MB page)"
  end
  printf "\n"
  set language auto
end
document kpte
kpte ADDR: the page-directory and page-table entries that map ADDR in swapper_pg_dir.
end

define kstack
  bt
  info registers esp ebp eip
end
document kstack
Backtrace and stack registers of the code GDB stopped in.
end
