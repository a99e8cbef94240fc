/*
 * auxv: print the initial stack exactly as the kernel laid it out, as offsets
 * from the esp the program started with, so the layout of himem's
 * process/binfmt_elf.rs can be compared with Linux's create_elf_tables.
 *
 *   gcc -m32 -static -O2 -e auxv_start -o auxv user/c/auxv.c
 *   setarch -R ./auxv a bc        (no randomisation: the addresses repeat)
 *
 * The entry point (-e auxv_start, at the bottom) records esp and jumps to
 * glibc's _start, so esp is read before any library code runs.
 */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <elf.h>
#include <sys/auxv.h>

uint32_t *start_sp; /* set by auxv_start, below */

static const char *at_name(uint32_t t)
{
    switch (t) {
    case AT_NULL: return "AT_NULL";
    case AT_PHDR: return "AT_PHDR";
    case AT_PHENT: return "AT_PHENT";
    case AT_PHNUM: return "AT_PHNUM";
    case AT_PAGESZ: return "AT_PAGESZ";
    case AT_BASE: return "AT_BASE";
    case AT_FLAGS: return "AT_FLAGS";
    case AT_ENTRY: return "AT_ENTRY";
    case AT_UID: return "AT_UID";
    case AT_EUID: return "AT_EUID";
    case AT_GID: return "AT_GID";
    case AT_EGID: return "AT_EGID";
    case AT_PLATFORM: return "AT_PLATFORM";
    case AT_HWCAP: return "AT_HWCAP";
    case AT_CLKTCK: return "AT_CLKTCK";
    case AT_SECURE: return "AT_SECURE";
    case AT_RANDOM: return "AT_RANDOM";
    case AT_HWCAP2: return "AT_HWCAP2";
    case AT_EXECFN: return "AT_EXECFN";
    case AT_SYSINFO: return "AT_SYSINFO";
    case AT_SYSINFO_EHDR: return "AT_SYSINFO_EHDR";
    case 51: return "AT_MINSIGSTKSZ";
    case 27: return "AT_RSEQ_FEATURE_SIZE";
    case 28: return "AT_RSEQ_ALIGN";
    default: return "?";
    }
}

/* Addresses on the stack are printed as offsets from esp ("esp+N"); the
 * top of the string area is printed from the end of the strings too. */
int main(int argc, char **argv)
{
    (void)argv; /* read from the stack itself, below */
    uint32_t *sp = start_sp;
    uintptr_t esp = (uintptr_t)sp;
    int i = 0;

    printf("esp %% 16 = %u\n", (unsigned)(esp % 16));
    printf("[esp+0] argc = %u (main's argc %d)\n", sp[0], argc);
    for (i = 1; sp[i]; i++)
        printf("[esp+%d] argv[%d] -> esp+%lu \"%s\"\n", 4 * i, i - 1,
               (unsigned long)(sp[i] - esp), (char *)(uintptr_t)sp[i]);
    printf("[esp+%d] NULL\n", 4 * i);
    int e0 = ++i;
    for (; sp[i]; i++)
        if (i - e0 < 3)
            printf("[esp+%d] envp[%d] -> esp+%lu\n", 4 * i, i - e0,
                   (unsigned long)(sp[i] - esp));
    printf("[esp+%d] NULL (%d env strings)\n", 4 * i, i - e0);
    i++;
    uintptr_t hi = 0;
    for (;; i += 2) {
        uint32_t t = sp[i], v = sp[i + 1];
        int is_ptr = t == AT_PLATFORM || t == AT_RANDOM || t == AT_EXECFN;
        if (is_ptr)
            printf("[esp+%d] %-16s esp+%lu", 4 * i, at_name(t),
                   (unsigned long)(v - esp));
        else
            printf("[esp+%d] %-16s 0x%x", 4 * i, at_name(t), v);
        if (t == AT_PLATFORM || t == AT_EXECFN)
            printf(" \"%s\"", (char *)(uintptr_t)v);
        printf("\n");
        if (t == AT_NULL)
            break;
    }
    uintptr_t auxv_end = esp + 4 * (i + 2);
    uintptr_t platform = getauxval(AT_PLATFORM);
    uintptr_t random = getauxval(AT_RANDOM);
    uintptr_t execfn = getauxval(AT_EXECFN);
    hi = execfn + strlen((char *)execfn) + 1;
    printf("auxv end = esp+%lu\n", (unsigned long)(auxv_end - esp));
    printf("AT_RANDOM = auxv end + %ld, AT_PLATFORM = AT_RANDOM + %ld\n",
           (long)(random - auxv_end), (long)(platform - random));
    /* The bytes themselves: random on Linux; on himem the same on every
     * boot with the same seed= (the n-th program since boot). */
    printf("AT_RANDOM bytes:");
    for (i = 0; i < 16; i++)
        printf(" %02x", ((unsigned char *)random)[i]);
    printf("\n");
    printf("argv[0] string = AT_PLATFORM + %ld (platform string %zu bytes)\n",
           (long)(sp[1] - platform), strlen((char *)platform) + 1);
    printf("argv[0] string %% 16 = %lu, AT_PLATFORM + 5 %% 16 = %lu\n",
           (unsigned long)(sp[1] % 16), (unsigned long)((platform + 5) % 16));
    printf("AT_EXECFN string ends at esp+%lu; stack top (4 zero bytes above) "
           "= 0x%lx\n", (unsigned long)(hi - esp), (unsigned long)(hi + 4));
    return 0;
}

/* The entry point: remember esp, then run glibc's own _start. */
__asm__(".globl auxv_start\n"
        "auxv_start:\n"
        "  movl %esp, start_sp\n"
        "  jmp _start\n");
