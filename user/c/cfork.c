/*
 * cfork: an ordinary glibc program (printf, malloc, fork, waitpid, exit),
 * built with gcc -m32 -static, which must print on himem exactly what it
 * prints on Linux.
 *
 * It mallocs small blocks (glibc takes them from the brk heap) and one of
 * 1M (over glibc's 128K threshold: its own mmap2), fills them, forks; the
 * child changes its copies and checks them, prints and exits 3; the parent
 * waits, prints how the child ended and checks its own copies are as it
 * left them. No address or pid is printed: the output is the same on
 * every run.
 *
 * Unlike the other C programs here it keeps glibc's buffering as it is
 * (full on a pipe, by line on a terminal), as any program would; it calls
 * fflush before fork, as a program must, and prints nothing between fork
 * and waitpid, so the order is the same either way.
 *
 * Success: the lines below, ending `cfork: parent: done`, exit status 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SMALL 8
#define BIG (1 << 20)

/* FNV-1a: every byte changes the sum. */
static unsigned sum(const unsigned char *p, size_t n)
{
    unsigned s = 2166136261u;
    for (size_t i = 0; i < n; i++)
        s = (s ^ p[i]) * 16777619u;
    return s;
}

int main(void)
{
    char *small[SMALL];
    for (int i = 0; i < SMALL; i++) {
        small[i] = malloc(100 + i * 50);
        if (!small[i]) {
            printf("cfork: malloc %d failed\n", 100 + i * 50);
            return 1;
        }
        snprintf(small[i], 100, "block %d of %d bytes", i, 100 + i * 50);
    }
    unsigned char *big = malloc(BIG);
    if (!big) {
        printf("cfork: malloc of 1M failed\n");
        return 1;
    }
    for (size_t i = 0; i < BIG; i++)
        big[i] = (unsigned char)(i * 7 + i / 4096);
    unsigned big_sum = sum(big, BIG);
    printf("cfork: %d small blocks, the last \"%s\"\n", SMALL, small[SMALL - 1]);
    printf("cfork: 1M block, checksum %08x\n", big_sum);
    fflush(stdout); /* or the child would print the parent's unwritten lines again */

    pid_t pid = fork();
    if (pid < 0) {
        perror("cfork: fork");
        return 1;
    }
    if (pid == 0) {
        strcpy(small[0], "changed by the child");
        memset(big, 0xab, BIG / 2);
        printf("cfork: child: small[0] is \"%s\"\n", small[0]);
        printf("cfork: child: 1M block checksum %08x\n", sum(big, BIG));
        char *more = malloc(300 * 1024);
        printf("cfork: child: another 300K: %s\n", more ? "ok" : "failed");
        free(more);
        exit(3);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) {
        perror("cfork: waitpid");
        return 1;
    }
    if (WIFEXITED(status))
        printf("cfork: parent: the child exited with %d\n", WEXITSTATUS(status));
    else
        printf("cfork: parent: the child ended by signal %d\n", WTERMSIG(status));
    printf("cfork: parent: small[0] is \"%s\"\n", small[0]);
    printf("cfork: parent: 1M block checksum %08x (%s)\n", sum(big, BIG),
           sum(big, BIG) == big_sum ? "unchanged" : "CHANGED");
    for (int i = 0; i < SMALL; i++)
        free(small[i]);
    free(big);
    printf("cfork: parent: done\n");
    return 0;
}
