/*
 * forktest [N]: fork gives each child a private copy of the parent's
 * memory, shared until someone writes (copy-on-write).
 *
 * The parent writes a value into each kind of memory a process has (data,
 * bss, heap from brk, an anonymous mmap2 page, its stack), forks N children
 * (default 4), then overwrites its own copies at once, while the children
 * run. Each child checks it still sees the values of the moment of the
 * fork (the parent's later writes must not reach it), writes its own,
 * reads them back, and exits with its index as status (or 100 + a mask of
 * the areas that were wrong). The parent waits for each child by pid and
 * checks its status, then checks that no child's writes reached it.
 *
 * Success: a line per child `child I: exit status I`, then
 * `forktest: N children, all private: ok`, exit status 0. The children
 * print nothing unless something is wrong (their lines would interleave).
 */
#include "prog.h"
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

enum { DATA, BSS, HEAP, MMAP, STACK, AREAS };
static const char *area_name[AREAS] = { "data", "bss", "heap", "mmap", "stack" };

static volatile unsigned data_word = 1; /* .data */
static volatile unsigned bss_word;      /* .bss */

static volatile unsigned *area[AREAS];

static void set_all(unsigned v)
{
    for (int a = 0; a < AREAS; a++)
        *area[a] = v + a;
}

/* A mask of the areas that do not hold v + area. */
static int check_all(unsigned v, const char *who)
{
    int bad = 0;
    for (int a = 0; a < AREAS; a++)
        if (*area[a] != v + a) {
            fprintf(stderr, "forktest: %s: %s reads %#x, not %#x\n", who, area_name[a], *area[a], v + a);
            bad |= 1 << a;
        }
    return bad;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int n = argc > 1 ? atoi(argv[1]) : 4;
    if (argc > 2) {
        fprintf(stderr, "forktest: %d arguments, it takes at most N; nothing forked\nusage: forktest [N]\n", argc - 1);
        return 2;
    }
    if (n < 1 || n > 99) {
        fprintf(stderr, "forktest: N %s is not 1 to 99; nothing forked\nusage: forktest [N]\n", argv[1]);
        return 2;
    }
    volatile unsigned stack_word;
    area[DATA] = &data_word;
    area[BSS] = &bss_word;
    area[HEAP] = malloc(64); /* small: from the brk heap */
    area[MMAP] = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    area[STACK] = &stack_word;
    if (!area[HEAP] || area[MMAP] == MAP_FAILED) {
        fprintf(stderr, "forktest: malloc or mmap failed: %s\n", ename(errno));
        return 1;
    }
    const unsigned before = 0x1000, after = 0x2000;
    set_all(before);

    pid_t pid[100];
    for (int i = 0; i < n; i++) {
        pid[i] = fork();
        if (pid[i] < 0) {
            fprintf(stderr, "forktest: fork %d failed: %s\n", i, ename(errno));
            return 1;
        }
        if (pid[i] == 0) {
            char who[16];
            snprintf(who, sizeof who, "child %d", i);
            int bad = check_all(before, who); /* the fork's values, not the parent's later ones */
            unsigned mine = 0x10000 * (i + 1);
            set_all(mine);
            bad |= check_all(mine, who);
            _exit(bad ? 100 + bad : i);
        }
    }
    /* The children may not have run yet: these writes must stay ours. */
    set_all(after);

    int failed = 0;
    for (int i = 0; i < n; i++) {
        int st;
        if (waitpid(pid[i], &st, 0) != pid[i]) {
            fprintf(stderr, "forktest: waitpid for child %d failed: %s\n", i, ename(errno));
            return 1;
        }
        printf("child %d: %s\n", i, status_str(st));
        if (!WIFEXITED(st) || WEXITSTATUS(st) != i)
            failed = 1;
    }
    if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD) {
        fprintf(stderr, "forktest: a child is left after waiting for all %d\n", n);
        failed = 1;
    }
    if (check_all(after, "parent"))
        failed = 1;
    if (failed) {
        printf("forktest: FAILED\n");
        return 1;
    }
    printf("forktest: %d children, all private: ok\n", n);
    return 0;
}
