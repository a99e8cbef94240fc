/*
 * Low-level entry points: one stub per vector that pushes a uniform frame
 * (struct TrapFrame in traps.rs) and calls trap_dispatch(), and the context
 * switch between kernel threads.
 */

.section .text

/* Vectors whose exception pushes an error code itself. */
.macro TRAP_ERR n
.global trap_\n
trap_\n:
    push $\n
    jmp trap_common
.endm

/* All others: push a zero so every frame has the same shape. */
.macro TRAP_NOERR n
.global trap_\n
trap_\n:
    push $0
    push $\n
    jmp trap_common
.endm

.irp n, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
TRAP_NOERR \n
.endr
.irp n, 8,10,11,12,13,14,17,21,29,30
TRAP_ERR \n
.endr
.irp n, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,128
TRAP_NOERR \n
.endr

trap_common:
    pusha
    /* The direction flag is the interrupted code's (user space may set it
     * with `std`); kernel code, Rust's `rep stosd` in clear_page first,
     * counts on it clear, as Linux's SAVE_ALL clears it. */
    cld
    push %ds
    push %es
    push %fs
    push %gs
    mov $0x10, %ax                  /* __KERNEL_DS */
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %fs
    mov %ax, %gs
    push %esp                       /* &TrapFrame */
    call trap_dispatch
    add $4, %esp
/* A user selector that no longer loads (set_thread_area emptied its
 * descriptor under the program) faults (#GP, #NP) in its pop. As Linux's
 * RESTORE_REGS, each pop is listed in __ex_table: trap_dispatch resumes at
 * its fixup, which nulls the slot the pop reads (the word at %esp: a trap
 * from ring 0 leaves %esp where the pop found it) and retries the pop, so
 * the program goes on with a null selector there. */
.global restore_all
restore_all:                        /* Linux's name: a TrapFrame back into the CPU */
1:  pop %gs
2:  pop %fs
3:  pop %es
4:  pop %ds
.pushsection .fixup, "ax"
5:  movl $0, (%esp)
    jmp 1b
6:  movl $0, (%esp)
    jmp 2b
7:  movl $0, (%esp)
    jmp 3b
8:  movl $0, (%esp)
    jmp 4b
.popsection
.pushsection __ex_table, "a"
    .long 1b, 5b
    .long 2b, 6b
    .long 3b, 7b
    .long 4b, 8b
.popsection
    popa
    add $8, %esp                    /* vector and error code */
    iret

/*
 * void enter_user_mode(const struct TrapFrame *frame)  -- never returns
 * The way out of trap_common, taken without a trap: the stack pointer
 * moves to `frame` (on the calling thread's kernel stack), and the
 * segment and general registers, then EIP, CS, EFLAGS, ESP and SS come
 * from it. A frame with CS at RPL 3 starts ring-3 code (Linux's
 * start_thread followed by the return to user space).
 */
.global enter_user_mode
enter_user_mode:
    mov 4(%esp), %esp
    jmp restore_all

/* Address of each stub, indexed by vector (0..47), for the IDT. */
.section .rodata
.align 4
.global trap_vectors
trap_vectors:
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .long trap_\n
.endr
.irp n, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
    .long trap_\n
.endr
.global trap_syscall_vector
trap_syscall_vector:
    .long trap_128

.section .text
/*
 * void switch_to(u32 *prev_esp, u32 next_esp)
 * Saves the callee-saved registers of the current thread on its stack, stores
 * its stack pointer in *prev_esp, and resumes the thread whose saved stack
 * pointer is next_esp. Interrupts are off on both sides (see sched.rs).
 */
.global switch_to
switch_to:
    mov 4(%esp), %eax
    mov 8(%esp), %edx
    push %ebp
    push %ebx
    push %esi
    push %edi
    mov %esp, (%eax)
    mov %edx, %esp
    pop %edi
    pop %esi
    pop %ebx
    pop %ebp
    ret

/*
 * First code a new kernel thread runs, "returned to" by switch_to. The thread's
 * stack holds: entry function, argument. kthread_start (Rust) enables
 * interrupts, calls entry(arg) and exits the thread; it never returns.
 */
.global kthread_trampoline
kthread_trampoline:
    xor %ebp, %ebp
    call kthread_start
    ud2

/*
 * #DF arrives through a task gate: the CPU switched to the double-fault TSS,
 * whose stack is df_stack, so a kernel stack overflow can still be reported.
 */
.global double_fault_task
double_fault_task:
    xor %ebp, %ebp
    call double_fault_handler
6:  cli
    hlt
    jmp 6b
