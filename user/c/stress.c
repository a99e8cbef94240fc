/*
 * stress N SIZE: N processes at once, each with SIZE of its own memory:
 * the kernel must keep every page of every process apart while it
 * switches between them, and give it all back as they end.
 *
 * The parent forks N children (1 to 1000), all running together. Child I
 * maps SIZE (K, M or G), writes a pattern of its own (from I) into every
 * page, yields, and reads it all back, twice, then exits 0 (1 if a page
 * held something else, 3 if it could not get the memory). The parent
 * waits for each child by pid, in order, and reports each one.
 *
 * Success: `stress: child I: exit status 0` for each child, then
 * `stress: N children of SIZE: all verified`, exit status 0.
 */
#include "prog.h"
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static uint32_t pattern(unsigned child, unsigned long page)
{
    return (0x5700u + child) << 16 ^ (uint32_t)(page * 0x9e3779b9u);
}

static int child(unsigned i, unsigned long size)
{
    unsigned long pages = size / PAGE;
    uint32_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "stress: child %u: mmap2 of %s failed: %s\n", i, size_str(size), ename(errno));
        return 3;
    }
    for (unsigned long n = 0; n < pages; n++) {
        p[n * (PAGE / 4)] = pattern(i, n);
        p[n * (PAGE / 4) + PAGE / 4 - 1] = ~pattern(i, n);
    }
    for (int round = 0; round < 2; round++) {
        sched_yield();
        for (unsigned long n = 0; n < pages; n++) {
            uint32_t a = p[n * (PAGE / 4)], b = p[n * (PAGE / 4) + PAGE / 4 - 1];
            if (a != pattern(i, n) || b != ~pattern(i, n)) {
                fprintf(stderr, "stress: child %u: page %lu reads %#x %#x, not %#x %#x\n", i, n, a, b,
                        pattern(i, n), ~pattern(i, n));
                return 1;
            }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int n = argc == 3 ? atoi(argv[1]) : 0;
    unsigned long size = argc == 3 ? parse_size(argv[2]) : 0;
    if (n < 1 || n > 1000 || size < PAGE) {
        fprintf(stderr,
                "stress: N '%s' SIZE '%s': wants N from 1 to 1000 and SIZE of at least 4K (with K, M or G); "
                "nothing started\nusage: stress N SIZE\n",
                argc > 1 ? argv[1] : "", argc > 2 ? argv[2] : "");
        return 2;
    }
    size &= ~(PAGE - 1);
    static pid_t pid[1000];
    int started = 0, failed = 0;
    for (; started < n; started++) {
        pid[started] = fork();
        if (pid[started] < 0) {
            fprintf(stderr, "stress: fork of child %d failed: %s; waiting for the %d started\n", started,
                    ename(errno), started);
            failed = 1;
            break;
        }
        if (pid[started] == 0)
            _exit(child(started, size));
    }
    for (int i = 0; i < started; i++) {
        int st;
        if (waitpid(pid[i], &st, 0) != pid[i]) {
            fprintf(stderr, "stress: waitpid for child %d failed: %s\n", i, ename(errno));
            return 1;
        }
        printf("stress: child %d: %s\n", i, status_str(st));
        if (st != 0)
            failed = 1;
    }
    if (failed) {
        printf("stress: FAILED\n");
        return 1;
    }
    printf("stress: %d children of %s: all verified\n", n, size_str(size));
    return 0;
}
