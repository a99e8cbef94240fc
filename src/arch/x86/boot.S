/*
 * Multiboot2 entry. GRUB jumps to _start in 32-bit protected mode, paging off,
 * with EAX = 0x36d76289 and EBX = physical address of the boot information.
 *
 * Before Rust can run we need paging on and the kernel visible at its link
 * address, PAGE_OFFSET + physical. The early page directory maps:
 *   - physical 0..8 MB at virtual 0 (identity, only until the jump) and at
 *     PAGE_OFFSET, through two 4 KB page tables, so single pages can be left
 *     unmapped: the guard page under the boot stack is;
 *   - physical 8..896 MB at PAGE_OFFSET + 8 MB with 4 MB (PSE) pages, so the
 *     boot information and GRUB modules are reachable wherever GRUB put them.
 * Rust later drops the identity entries (arch::x86::mm::init_early).
 *
 * First of all it checks that the CPU has what the kernel uses: rustc's
 * pentium4 target emits cmov anywhere, AtomicU64 is cmpxchg8b, the clock
 * and benchmarks read the TSC, and the page tables use 4 MB pages. Without
 * them the first such instruction faults, with no IDT yet, and the triple
 * fault would look like a clean power-off. Linux says "This kernel requires
 * an i686 CPU" (arch/x86/boot/cpu.c); so does this, on the serial port that
 * GRUB has set up, naming what is missing, and QEMU exits with status 5.
 *
 * The numbers in braces are `const` operands of the global_asm! that
 * includes this file (src/main.rs): the address map of src/layout.rs, the
 * entry bits of PteFlags (arch/x86/pgtable_types.rs), and the CR0, CR4 and
 * EFLAGS bits of the x86 crate. None is written here a second time.
 */

.set PAGE_OFFSET,       {PAGE_OFFSET}
.set PAGE_SHIFT,        {PAGE_SHIFT}
.set PAGE_SIZE,         {PAGE_SIZE}
.set PGDIR_SHIFT,       {PGDIR_SHIFT}
.set KERNEL_PGD_FIRST,  {KERNEL_PGD_FIRST}  /* first PDE of the kernel half */
.set EARLY_PDES,        {EARLY_PDES}        /* PDEs (and page tables) mapped with 4 KB pages */
.set EARLY_PT_PAGES,    {EARLY_PT_PAGES}    /* their 4 KB pages */
.set MAXMEM_PDES,       {MAXMEM_PDES}       /* PDEs of the whole direct map */
.set BOOT_STACK_SIZE,   {BOOT_STACK_SIZE}
.set DF_STACK_SIZE,     {DF_STACK_SIZE}
.set PTE_PRESENT_RW,    {PTE_PRESENT_RW}
.set PDE_4M_RW,         {PDE_4M_RW}
.set X86_CR4_PSE,       {X86_CR4_PSE}       /* 4 MB pages */
.set X86_CR0_PG_WP,     {X86_CR0_PG_WP}     /* paging, and write protection in ring 0 */
.set EFLAGS_ID,         {EFLAGS_ID}         /* writable iff the CPU has CPUID */

.set MB2_MAGIC,       0xe85250d6
.set MB2_ARCH_I386,   0
.set X86_FEATURE_PSE, 0x00000008    /* CPUID.1:EDX bit 3 */
.set X86_FEATURE_TSC, 0x00000010    /* bit 4 */
.set X86_FEATURE_CX8, 0x00000100    /* bit 8 */
.set X86_FEATURE_CMOV, 0x00008000   /* bit 15 */
.set REQUIRED_FEATURES, X86_FEATURE_PSE | X86_FEATURE_TSC | X86_FEATURE_CX8 | X86_FEATURE_CMOV
.set COM1_DATA,       0x3f8
.set COM1_LSR,        0x3fd
.set DEBUG_EXIT_PORT, 0xf4
.set EXIT_NO_CPU,     2             /* QEMU exits with (2 << 1) | 1 = 5 */

.section .multiboot2, "a"
.align 8
mb2_header:
    .long MB2_MAGIC
    .long MB2_ARCH_I386
    .long mb2_header_end - mb2_header
    .long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
    /* module alignment tag: modules start on page boundaries */
    .align 8
    .short 6, 0
    .long 8
    /* end tag */
    .align 8
    .short 0, 0
    .long 8
mb2_header_end:

.section .boot.text, "ax"
.global _start
.code32
_start:
    cli
    cld
    mov %eax, %edi                  /* multiboot2 magic */
    mov %ebx, %esi                  /* boot information, physical */
    /* Multiboot leaves ESP undefined: the boot stack, by its physical address. */
    mov $(boot_stack_top - PAGE_OFFSET), %esp

    /* CPUID exists if EFLAGS.ID can be flipped (Linux: has_eflag(X86_EFLAGS_ID)). */
    pushfl
    pop %eax
    mov %eax, %ecx
    xor $EFLAGS_ID, %eax
    push %eax
    popfl
    pushfl
    pop %eax
    push %ecx
    popfl
    xor %ecx, %eax
    test $EFLAGS_ID, %eax
    jz no_cpuid
    xor %eax, %eax
    cpuid                           /* EAX: the highest standard leaf */
    cmp $1, %eax
    jb no_cpuid
    mov $1, %eax
    cpuid
    and $REQUIRED_FEATURES, %edx
    cmp $REQUIRED_FEATURES, %edx
    jne missing_features

    /* Fill the two early page tables: frame i at entry i, except the guards. */
    mov $(early_pt - PAGE_OFFSET), %edx
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $PAGE_SHIFT, %eax
    cmp $(boot_stack_guard - PAGE_OFFSET), %eax
    je 2f
    cmp $(df_stack_guard - PAGE_OFFSET), %eax
    je 2f
    or $PTE_PRESENT_RW, %eax
    mov %eax, (%edx,%ecx,4)
    jmp 3f
2:  movl $0, (%edx,%ecx,4)
3:  inc %ecx
    cmp $EARLY_PT_PAGES, %ecx
    jb 1b

    /* Page directory: identity and higher half share the early page tables. */
    mov $(swapper_pg_dir - PAGE_OFFSET), %ebx
    mov $(early_pt - PAGE_OFFSET + PTE_PRESENT_RW), %eax
    xor %ecx, %ecx
7:  mov %eax, (%ebx,%ecx,4)
    mov %eax, (KERNEL_PGD_FIRST * 4)(%ebx,%ecx,4)
    add $PAGE_SIZE, %eax
    inc %ecx
    cmp $EARLY_PDES, %ecx
    jb 7b

    /* The rest of lowmem with 4 MB pages: PDE KERNEL_PGD_FIRST + EARLY_PDES
     * maps physical EARLY_PT_BYTES, and so on to the end of the direct map. */
4:  mov %ecx, %eax
    shl $PGDIR_SHIFT, %eax
    or $PDE_4M_RW, %eax
    mov %eax, (KERNEL_PGD_FIRST * 4)(%ebx,%ecx,4)
    inc %ecx
    cmp $MAXMEM_PDES, %ecx
    jb 4b

    mov %ebx, %cr3
    mov %cr4, %eax
    or $X86_CR4_PSE, %eax
    mov %eax, %cr4
    mov %cr0, %eax
    or $X86_CR0_PG_WP, %eax
    mov %eax, %cr0

    mov $higher_half, %eax
    jmp *%eax

no_cpuid:
    mov $msg_requires, %ebx
    call early_puts
    mov $msg_no_cpuid, %ebx
    call early_puts
    jmp cpu_fail

missing_features:
    mov %edx, %edi                  /* the required features this CPU has */
    mov $msg_requires, %ebx
    call early_puts
    mov $msg_lacks, %ebx
    call early_puts
    test $X86_FEATURE_PSE, %edi
    jnz 1f
    mov $msg_pse, %ebx
    call early_puts
1:  test $X86_FEATURE_TSC, %edi
    jnz 1f
    mov $msg_tsc, %ebx
    call early_puts
1:  test $X86_FEATURE_CX8, %edi
    jnz 1f
    mov $msg_cx8, %ebx
    call early_puts
1:  test $X86_FEATURE_CMOV, %edi
    jnz cpu_fail
    mov $msg_cmov, %ebx
    call early_puts

cpu_fail:
    mov $msg_end, %ebx
    call early_puts
    mov $EXIT_NO_CPU, %al
    outb %al, $DEBUG_EXIT_PORT
6:  cli                             /* not under QEMU: stop here */
    hlt
    jmp 6b

/* Write the NUL-terminated string at EBX to COM1, polling (GRUB set the UART up). */
early_puts:
1:  movb (%ebx), %al
    test %al, %al
    jz 3f
    mov %al, %ah
    mov $COM1_LSR, %dx
2:  inb %dx, %al
    test $0x20, %al                 /* transmitter holding register empty */
    jz 2b
    mov %ah, %al
    mov $COM1_DATA, %dx
    outb %al, %dx
    inc %ebx
    jmp 1b
3:  ret

.section .boot.data, "a"
msg_requires:
    .asciz "\r\nhimem: This kernel requires an i686 CPU with CPUID, PSE, TSC, CX8 and CMOV"
msg_no_cpuid:
    .asciz "; this CPU has no CPUID instruction (leaf 1)"
msg_lacks:
    .asciz "; this CPU lacks:"
msg_pse:
    .asciz " PSE"
msg_tsc:
    .asciz " TSC"
msg_cx8:
    .asciz " CX8"
msg_cmov:
    .asciz " CMOV"
msg_end:
    .asciz "\r\nhimem: cannot boot; QEMU exits with status 5\r\n"

.section .text
higher_half:
    mov $boot_stack_top, %esp
    xor %ebp, %ebp                  /* ends every backtrace */
    push %esi                       /* boot information, physical */
    push %edi                       /* magic */
    call kmain
5:  cli
    hlt
    jmp 5b

/*
 * Page-aligned boot data. The guard pages are left out of the early page
 * tables, so running off the bottom of a stack faults instead of silently
 * overwriting whatever lies below.
 */
.section .bss.page_aligned, "aw", @nobits
.align PAGE_SIZE
.global swapper_pg_dir
swapper_pg_dir:
    .skip PAGE_SIZE
.global early_pt
early_pt:
    .skip PAGE_SIZE * EARLY_PDES
.global boot_stack_guard
boot_stack_guard:
    .skip PAGE_SIZE
.global boot_stack
boot_stack:
    .skip BOOT_STACK_SIZE           /* boot-time tables are built on it */
.global boot_stack_top
boot_stack_top:
.global df_stack_guard
df_stack_guard:
    .skip PAGE_SIZE
.global df_stack
df_stack:
    .skip DF_STACK_SIZE
.global df_stack_top
df_stack_top:
