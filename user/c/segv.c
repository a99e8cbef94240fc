/*
 * segv WHAT: a bad memory access ends the process with SIGSEGV, and the
 * kernel goes on. WHAT is one of
 *   null   write to address 0
 *   text   write to the program's own code (mapped read-execute)
 *   kread  read kernel memory at 0xc0000000 (i386's PAGE_OFFSET)
 *   kjump  jump to 0xc0000000
 *   stack  recurse without end: the stack grows down to RLIMIT_STACK,
 *          then the next push faults
 * It prints what it is about to do, then does it. Success: that one line
 * and the end by SIGSEGV (the shell's `Segmentation fault`; the kernel
 * logs `segv[PID]: segfault at ADDR ip ... error N`). The line
 * `segv: still alive` and exit status 1 mean the access did not fault.
 * Exit status 2: WHAT not understood.
 *
 * (On an x86-64 Linux host a 32-bit process may map up to 4G; 0xc0000000
 * faults there only because nothing is mapped at it.)
 */
#include "prog.h"
#include <stdint.h>

#define KERNEL ((uintptr_t)0xc0000000u)

static volatile unsigned depth;

/* Not a tail call, and a frame the compiler cannot drop; the test of
 * `depth` (never true: the stack ends first) keeps gcc from calling the
 * recursion infinite. */
static unsigned recurse(unsigned n)
{
    volatile char frame[256];
    frame[0] = (char)n;
    depth = n;
    if (depth == 0xffffffffu)
        return 0;
    return recurse(n + 1) + frame[0];
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *what = argc == 2 ? argv[1] : "";
    if (strcmp(what, "null") == 0) {
        printf("segv: null: writing to 0x00000000\n");
        *(volatile int *)(uintptr_t)0 = 1;
    } else if (strcmp(what, "text") == 0) {
        printf("segv: text: writing to main's code\n");
        *(volatile unsigned char *)(uintptr_t)main = 0xcc;
    } else if (strcmp(what, "kread") == 0) {
        printf("segv: kread: reading 0xc0000000\n");
        printf("segv: read %#x\n", *(volatile unsigned *)KERNEL);
    } else if (strcmp(what, "kjump") == 0) {
        printf("segv: kjump: jumping to 0xc0000000\n");
        ((void (*)(void))KERNEL)();
    } else if (strcmp(what, "stack") == 0) {
        printf("segv: stack: recursing without end\n");
        recurse(0);
    } else {
        fprintf(stderr, "segv: WHAT '%s' is not null, text, kread, kjump or stack; nothing done\nusage: segv WHAT\n",
                what);
        return 2;
    }
    printf("segv: still alive\n");
    return 1;
}
