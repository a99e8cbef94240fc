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
 */

.set MB2_MAGIC,       0xe85250d6
.set MB2_ARCH_I386,   0
.set PAGE_OFFSET,     0xC0000000
.set PTE_PRESENT_RW,  0x003
.set PDE_4M_RW,       0x083
.set EARLY_PT_PAGES,  2048          /* 8 MB of 4 KB pages */
.set LOWMEM_PDES,     224           /* 896 MB / 4 MB */

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

    /* Fill the two early page tables: frame i at entry i, except the guards. */
    mov $(early_pt - PAGE_OFFSET), %edx
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $12, %eax
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

    /* Page directory: identity and higher half share the two page tables. */
    mov $(swapper_pg_dir - PAGE_OFFSET), %ebx
    mov $(early_pt - PAGE_OFFSET + PTE_PRESENT_RW), %eax
    mov %eax, 0(%ebx)
    mov %eax, (768 * 4)(%ebx)
    add $4096, %eax
    mov %eax, 4(%ebx)
    mov %eax, (769 * 4)(%ebx)

    /* The rest of lowmem with 4 MB pages: PDE 770.. maps physical 8 MB.. */
    mov $2, %ecx
4:  mov %ecx, %eax
    shl $22, %eax
    or $PDE_4M_RW, %eax
    mov %eax, ((768 * 4))(%ebx,%ecx,4)
    inc %ecx
    cmp $LOWMEM_PDES, %ecx
    jb 4b

    mov %ebx, %cr3
    mov %cr4, %eax
    or $0x10, %eax                  /* CR4.PSE: 4 MB pages */
    mov %eax, %cr4
    mov %cr0, %eax
    or $0x80010000, %eax            /* CR0.PG | CR0.WP */
    mov %eax, %cr0

    mov $higher_half, %eax
    jmp *%eax

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
.align 4096
.global swapper_pg_dir
swapper_pg_dir:
    .skip 4096
.global early_pt
early_pt:
    .skip 4096 * 2
.global boot_stack_guard
boot_stack_guard:
    .skip 4096
.global boot_stack
boot_stack:
    .skip 4096 * 16                 /* 64 KB: boot-time tables are built on it */
.global boot_stack_top
boot_stack_top:
.global df_stack_guard
df_stack_guard:
    .skip 4096
.global df_stack
df_stack:
    .skip 4096 * 2
.global df_stack_top
df_stack_top:
