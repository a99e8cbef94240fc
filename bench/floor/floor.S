/* The empty multiboot2 kernel: the floor of `make run`'s boot time.
 * GRUB loads it and jumps to it; it writes 0 to QEMU's isa-debug-exit port,
 * so QEMU exits at once (status 1). What a boot costs before any kernel work
 * (QEMU, SeaBIOS, GRUB) is what scripts/boottime.sh measures with it. */
	.section .multiboot2, "a"
	.align 8
header:
	.long 0xe85250d6		/* multiboot2 magic */
	.long 0				/* architecture: i386 protected mode */
	.long header_end - header
	.long -(0xe85250d6 + 0 + (header_end - header))
	.short 0, 0			/* end tag */
	.long 8
header_end:

	.text
	.globl _start
_start:
	movw $0xf4, %dx
	movb $0, %al
	outb %al, %dx
1:	hlt
	jmp 1b
