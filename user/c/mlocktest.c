/*
 * mlocktest [hold[=SECONDS]]: mlock, munlock, mlockall and munlockall
 * within RLIMIT_MEMLOCK, as an unprivileged process sees them on Linux.
 *
 * It lowers its RLIMIT_MEMLOCK to 128K (soft and hard), then makes calls
 * whose results Linux fixes: locks up to the limit succeed, one page more
 * is ENOMEM, a hole in the range is ENOMEM, bad flags EINVAL, raising the
 * hard limit EPERM, mlockall(MCL_CURRENT) of more than the limit ENOMEM,
 * and under mlockall(MCL_FUTURE) a new mapping over the limit EAGAIN and
 * brk past it ENOMEM. Each line names the call, what it returned and, if
 * that is not what Linux returns, `WRONG (Linux: ...)`.
 *
 * With `hold` it then locks 64K (faulting it in) and sleeps, for ever or
 * SECONDS seconds, so the shell can see `VmLck: 64 kB` in `status PID`.
 *
 * Success: no WRONG line, `mlocktest: N calls as Linux: ok`, exit 0.
 * On Linux run it as an ordinary user: root's CAP_IPC_LOCK and
 * CAP_SYS_RESOURCE lift the limits (the EPERM line then says WRONG).
 */
#include "prog.h"
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define K 1024UL
static int calls, wrong;

/* Print `what: RESULT` and compare with Linux's errno (0: success). */
static void expect(const char *what, int ret, int linux_errno)
{
    int got = ret == 0 ? 0 : errno;
    calls++;
    if (got == linux_errno) {
        printf("%s: %s\n", what, got ? ename(got) : "ok");
    } else {
        wrong++;
        printf("%s: %s WRONG (Linux: %s)\n", what, got ? ename(got) : "ok", linux_errno ? ename(linux_errno) : "ok");
    }
}

static int set_memlock(unsigned long cur, unsigned long max)
{
    struct rlimit r = { cur, max };
    return setrlimit(RLIMIT_MEMLOCK, &r);
}

static int map_ret(void *p, size_t len)
{
    if (p == MAP_FAILED)
        return -1;
    munmap(p, len);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    long hold = -1; /* -1: no hold; 0: until killed */
    if (argc == 2 && strcmp(argv[1], "hold") == 0)
        hold = 0;
    else if (argc == 2 && strncmp(argv[1], "hold=", 5) == 0 && atol(argv[1] + 5) > 0)
        hold = atol(argv[1] + 5);
    else if (argc != 1) {
        fprintf(stderr, "mlocktest: %s is not understood; nothing locked\nusage: mlocktest [hold[=SECONDS]]\n", argv[1]);
        return 2;
    }
    printf("mlocktest: RLIMIT_MEMLOCK lowered to 128K\n");
    expect("setrlimit(MEMLOCK, 128K, 128K)", set_memlock(128 * K, 128 * K), 0);
    expect("setrlimit(MEMLOCK, 256K, 128K)", set_memlock(256 * K, 128 * K), EINVAL);
    expect("setrlimit(MEMLOCK, 128K, 256K)", set_memlock(128 * K, 256 * K), EPERM);
    struct rlimit r;
    if (getrlimit(RLIMIT_MEMLOCK, &r) == 0) {
        printf("getrlimit(MEMLOCK): %s %s\n", size_str(r.rlim_cur), size_str(r.rlim_max));
    } else {
        printf("getrlimit(MEMLOCK): %s WRONG (Linux: 128K 128K)\n", ename(errno));
        wrong++;
    }

    char *m = mmap(NULL, 256 * K, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        printf("mlocktest: mmap2 of 256K failed: %s\n", ename(errno));
        return 1;
    }
    expect("mlock(m, 64K)", mlock(m, 64 * K), 0);
    printf("m[0] after mlock: %d\n", ((volatile char *)m)[0]);
    expect("mlock(m + 64K, 64K): 128K locked, the limit", mlock(m + 64 * K, 64 * K), 0);
    expect("mlock(m + 128K, 4K): over the limit", mlock(m + 128 * K, 4 * K), ENOMEM);
    expect("munlock(m, 128K)", munlock(m, 128 * K), 0);
    expect("mlock(m, 256K): over the limit", mlock(m, 256 * K), ENOMEM);
    expect("mlock(m + 1, 100): rounded to the page", mlock(m + 1, 100), 0);
    expect("munlock(m + 1, 100)", munlock(m + 1, 100), 0);
    expect("mlock(m, 0)", mlock(m, 0), 0);
    munmap(m + 252 * K, 4 * K);
    expect("mlock(m + 240K, 16K): a hole at m + 252K", mlock(m + 240 * K, 16 * K), ENOMEM);
    expect("munlock(m + 240K, 12K)", munlock(m + 240 * K, 12 * K), 0);
    expect("mlock(0xc0000000, 4K): kernel space", mlock((void *)0xc0000000UL, 4 * K), ENOMEM);
    expect("mlockall(0)", mlockall(0), EINVAL);
    expect("mlockall(8)", mlockall(8), EINVAL);
    expect("mlockall(MCL_CURRENT): more than 128K mapped", mlockall(MCL_CURRENT), ENOMEM);
    expect("mlockall(MCL_FUTURE)", mlockall(MCL_FUTURE), 0);
    expect("mmap2 64K under MCL_FUTURE", map_ret(mmap(NULL, 64 * K, PROT_READ | PROT_WRITE,
                                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), 64 * K), 0);
    void *keep = mmap(NULL, 64 * K, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect("mmap2 64K under MCL_FUTURE, kept: 64K locked", keep == MAP_FAILED ? -1 : 0, 0);
    expect("mmap2 128K under MCL_FUTURE: over the limit", map_ret(mmap(NULL, 128 * K, PROT_READ | PROT_WRITE,
                                                                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), 128 * K),
           EAGAIN);
    void *brk0 = sbrk(0);
    expect("brk + 256K under MCL_FUTURE: over the limit", sbrk(256 * K) == (void *)-1 ? -1 : 0, ENOMEM);
    printf("the break %s\n", sbrk(0) == brk0 ? "stayed" : "MOVED");
    expect("munlockall()", munlockall(), 0);
    expect("mmap2 128K after munlockall", map_ret(mmap(NULL, 128 * K, PROT_READ | PROT_WRITE,
                                                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), 128 * K), 0);
    munmap(keep, 64 * K);

    if (wrong) {
        printf("mlocktest: %d of %d calls not as Linux: FAILED\n", wrong, calls);
        return 1;
    }
    printf("mlocktest: %d calls as Linux: ok\n", calls);
    if (hold >= 0) {
        if (mlock(m, 64 * K) != 0) {
            printf("mlocktest: mlock(m, 64K) to hold failed: %s\n", ename(errno));
            return 1;
        }
        if (hold)
            printf("mlocktest: holding 64K locked for %lds (pid %d)\n", hold, getpid());
        else
            printf("mlocktest: holding 64K locked until killed (pid %d)\n", getpid());
        /* nanosleep itself: glibc's sleep() calls clock_nanosleep_time64. */
        struct { long sec, nsec; } second = { 1, 0 };
        for (long s = 0; hold == 0 || s < hold; s++)
            syscall(SYS_nanosleep, &second, NULL);
        printf("mlocktest: done\n");
    }
    return 0;
}
