/*
 * cow [SIZE]: after fork, parent and child share every page until one of
 * them writes; a write copies that one page only (copy-on-write).
 *
 * The parent maps SIZE bytes (default 1G; K, M or G), writes a pattern into
 * every page, and forks. The child reads every page (reading copies
 * nothing), writes one page in the middle, and checks it sees its own
 * value there and the parent's pattern everywhere else. The parent waits,
 * then checks it still sees its pattern everywhere, that page included.
 * The kernel side counts the pages copied: one for the region (the child's
 * stack and glibc's data add their own few).
 *
 * Success, e.g. for 1G:
 *   cow: parent touched 1G (262144 pages)
 *   cow: child: page 131072 reads 0xc0c0c0c0 after its write, the other 262143 pages the parent's pattern
 *   cow: child: exit status 0
 *   cow: parent: all 262144 pages read its pattern, page 131072 too
 *   cow: pages written after fork: 1, by the child
 * and exit status 0.
 */
#include "prog.h"
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_VALUE 0xc0c0c0c0u

static unsigned pattern(unsigned long i)
{
    return 0x5a000000u ^ (unsigned)(i * 0x9e3779b9u);
}

/* The first page (other than `except`) not holding its pattern, or -1. */
static long check(volatile unsigned *mem, unsigned long pages, unsigned long except)
{
    for (unsigned long i = 0; i < pages; i++)
        if (i != except && mem[i * (PAGE / 4)] != pattern(i))
            return (long)i;
    return -1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    unsigned long size = argc > 1 ? parse_size(argv[1]) : 1UL << 30;
    if (argc > 2) {
        fprintf(stderr, "cow: %d arguments, it takes at most SIZE; nothing mapped\nusage: cow [SIZE]\n", argc - 1);
        return 2;
    }
    if (size < 2 * PAGE) {
        fprintf(stderr, "cow: SIZE %s is not a size of at least 8K (with K, M or G); nothing mapped\nusage: cow [SIZE]\n",
                argv[1]);
        return 2;
    }
    unsigned long pages = size / PAGE, mid = pages / 2;
    volatile unsigned *mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        fprintf(stderr, "cow: mmap2 of %s failed: %s\n", size_str(size), ename(errno));
        return 1;
    }
    for (unsigned long i = 0; i < pages; i++)
        mem[i * (PAGE / 4)] = pattern(i);
    printf("cow: parent touched %s (%lu pages)\n", size_str(pages * PAGE), pages);

    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "cow: fork failed: %s\n", ename(errno));
        return 1;
    }
    if (pid == 0) {
        long bad = check(mem, pages, pages);
        if (bad >= 0) {
            printf("cow: child: page %ld reads %#x before any write, not the parent's %#x\n", bad,
                   mem[bad * (PAGE / 4)], pattern(bad));
            _exit(1);
        }
        mem[mid * (PAGE / 4)] = CHILD_VALUE;
        bad = check(mem, pages, mid);
        if (mem[mid * (PAGE / 4)] != CHILD_VALUE || bad >= 0) {
            printf("cow: child: page %lu reads %#x after its write of %#x; first other page wrong: %ld\n", mid,
                   mem[mid * (PAGE / 4)], CHILD_VALUE, bad);
            _exit(1);
        }
        printf("cow: child: page %lu reads %#x after its write, the other %lu pages the parent's pattern\n", mid,
               mem[mid * (PAGE / 4)], pages - 1);
        _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid) {
        fprintf(stderr, "cow: waitpid failed: %s\n", ename(errno));
        return 1;
    }
    printf("cow: child: %s\n", status_str(st));
    long bad = check(mem, pages, pages);
    if (bad >= 0) {
        printf("cow: parent: page %ld reads %#x, not its %#x: the child's write reached it\n", bad,
               mem[bad * (PAGE / 4)], pattern(bad));
        return 1;
    }
    printf("cow: parent: all %lu pages read its pattern, page %lu too\n", pages, mid);
    printf("cow: pages written after fork: 1, by the child\n");
    return st == 0 ? 0 : 1;
}
