/*
 * zerocheck [SIZE]: every fresh page a process gets reads zero, however
 * dirty the frame was when someone else (or this process) freed it: the
 * kernel must clear it before mapping it.
 *
 * Four rounds over SIZE bytes (default 16M; K, M or G), each checking
 * every word of the new memory:
 *   brk      the break grown by SIZE
 *   mmap2    an anonymous private mapping of SIZE
 *   brk again, mmap2 again: the same, after this process wrote a pattern
 *            into the first ones and gave them back (the break lowered,
 *            the mapping unmapped), so their frames come back dirty
 * Run it after another process dirtied and freed memory (`hog 64M touch`)
 * to check frames from other processes too.
 *
 * Success: a line per round `zerocheck: ROUND SIZE: all N words zero`,
 * then `zerocheck: ok`, exit status 0; a word that is not zero is named
 * (offset and value) and the status is 1.
 */
#include "prog.h"
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

static unsigned long size;

/* Check every word of [p, p + size) is zero, then dirty it all. */
static int check_and_dirty(const char *round, uint32_t *p)
{
    unsigned long words = size / 4;
    for (unsigned long i = 0; i < words; i++)
        if (p[i] != 0) {
            printf("zerocheck: %s %s: the word at offset %#lx reads %#x, not 0\n", round, size_str(size), i * 4, p[i]);
            return 1;
        }
    printf("zerocheck: %s %s: all %lu words zero\n", round, size_str(size), words);
    for (unsigned long i = 0; i < words; i++)
        p[i] = 0xdead0000u | (uint32_t)i;
    return 0;
}

/* Grow the break by size (page-aligned first), check, dirty, lower it back. */
static int brk_round(const char *round)
{
    char *cur = sbrk(0);
    uintptr_t pad = -(uintptr_t)cur & (PAGE - 1);
    char *start = sbrk(pad + size);
    if (start == (void *)-1) {
        printf("zerocheck: %s: brk by %s failed: %s\n", round, size_str(size), ename(errno));
        return 1;
    }
    int bad = check_and_dirty(round, (uint32_t *)(start + pad));
    if (sbrk(-(intptr_t)(pad + size)) == (void *)-1) {
        printf("zerocheck: %s: lowering the break failed: %s\n", round, ename(errno));
        return 1;
    }
    return bad;
}

static int mmap_round(const char *round)
{
    uint32_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        printf("zerocheck: %s: mmap2 of %s failed: %s\n", round, size_str(size), ename(errno));
        return 1;
    }
    int bad = check_and_dirty(round, p);
    munmap(p, size);
    return bad;
}

int main(int argc, char **argv)
{
    /* Its buffer comes from malloc (brk): before the rounds move the break. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    size = argc > 1 ? parse_size(argv[1]) : 16UL << 20;
    if (argc > 2) {
        fprintf(stderr, "zerocheck: %d arguments, it takes at most SIZE; nothing checked\nusage: zerocheck [SIZE]\n",
                argc - 1);
        return 2;
    }
    if (size == 0 || size % PAGE || size > 1UL << 30) {
        fprintf(stderr, "zerocheck: SIZE %s is not a whole number of pages up to 1G (with K, M or G); nothing checked\n"
                        "usage: zerocheck [SIZE]\n", argv[1]);
        return 2;
    }
    printf("zerocheck: checking %s from brk and mmap2\n", size_str(size));
    if (brk_round("brk") || mmap_round("mmap2") || brk_round("brk again") || mmap_round("mmap2 again"))
        return 1;
    printf("zerocheck: ok\n");
    return 0;
}
