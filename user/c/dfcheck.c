/* dfcheck [PAGES]: set the direction flag (`std`, unprivileged) and write
 * the first byte of each of PAGES fresh anonymous pages (default 64) with
 * it still set, so the kernel's page fault runs with DF=1 as user space
 * left it; then check that every page reads zero but that byte.
 *
 * The kernel must clear DF on entry (Linux's SAVE_ALL does `cld`): a page
 * clear by `rep stosd` with DF set runs downwards, zeroing the 4 KB below
 * the new page (another frame, or for a highmem page the unmapped fixmap
 * slot below: an oops) and leaving the new page's old bytes to the program.
 *
 *   gcc -m32 -static -O2 -o dfcheck user/c/dfcheck.c
 */
#include "prog.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "dfcheck: %d arguments, it takes one at most; nothing done\nusage: dfcheck [PAGES]\n", argc - 1);
        return 2;
    }
    char *end = "";
    unsigned long pages = argc > 1 ? strtoul(argv[1], &end, 10) : 64;
    if ((argc > 1 && (end == argv[1] || *end != '\0')) || pages == 0 || pages > 65536) {
        fprintf(stderr, "dfcheck: '%s' is not a number of pages in 1..65536; nothing done\nusage: dfcheck [PAGES]\n",
                argv[1]);
        return 2;
    }
    unsigned char *p = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("dfcheck: mmap");
        return 1;
    }
    for (unsigned long i = 0; i < pages; i++)
        /* The fault comes with DF set; cld before any C code runs again. */
        __asm__ volatile("std\n\tmovb $0x5a, (%0)\n\tcld" : : "r"(p + i * 4096) : "memory", "cc");
    unsigned long bad = 0;
    for (unsigned long i = 0; i < pages * 4096; i++)
        if (p[i] != (i % 4096 ? 0 : 0x5a))
            bad++;
    printf("dfcheck: %lu pages faulted in with the direction flag set: %lu bytes wrong\n", pages, bad);
    return bad != 0;
}
