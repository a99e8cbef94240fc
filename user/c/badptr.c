/*
 * badptr: every system call that takes a pointer, given bad ones: each
 * must fail with Linux's errno (EFAULT for memory the call reads or
 * writes) and the process and the kernel go on.
 *
 * The bad pointers: NULL, 0xc0000000 (the kernel's first byte on i386),
 * 0xffffffff (the last byte: a range from it wraps), an unmapped user page
 * (mapped, then unmapped) and 0xbffffffe (two bytes below TASK_SIZE,
 * 0xc0000000: every object of four bytes or more there straddles it; as a
 * path it is the zero word at the stack's top, an empty path, ENOENT). Then the calls that take an
 * address range rather than a pointer (munmap, mprotect, mlock, madvise,
 * mmap2 with MAP_FIXED, brk) with kernel addresses: EINVAL or ENOMEM.
 * The calls go through syscall(), so glibc checks nothing first.
 *
 * Each line names the call, what it returned and, if that is not what
 * Linux returns, `WRONG (Linux: ...)`. Success: no WRONG line, then
 * `badptr: N calls as Linux (E EFAULT, O other): ok`, exit status 0.
 *
 * Reference on an x86-64 Linux host: run it with fd 1 a terminal (ioctl
 * TCGETS reaches the pointer only on a terminal: ENOTTY on a pipe) and
 * under `setarch i386 --3gb`, which gives the 32-bit process i386's
 * TASK_SIZE of 0xc0000000 (without it, 0xc0000000 is a user address there),
 * with -R (no address randomization, as himem: the stack then ends at
 * 0xc0000000, so 0xbffffffe is mapped).
 * Left out: set_tid_address and set_robust_list (they store the pointer
 * and read it only at exit: no error to see), read (it would wait for
 * the console), clone's tid pointers.
 */
#include "prog.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef STATX_BASIC_STATS
#define STATX_BASIC_STATS 0x7ff
#endif

static int calls, wrong, efaults;

/* Print `what: RESULT` for a raw syscall's return (-1 and errno on
 * failure) and compare with Linux's errno (0: success). */
static void expect(const char *what, long ret, int linux_errno)
{
    int got = ret == -1 ? errno : 0;
    calls++;
    efaults += got == EFAULT;
    if (got == linux_errno) {
        printf("%s: %s\n", what, got ? ename(got) : "ok");
    } else {
        wrong++;
        printf("%s: %s WRONG (Linux: %s)\n", what, got ? ename(got) : "ok", linux_errno ? ename(linux_errno) : "ok");
    }
}

static char line[128];
#define CALL(fmt, ...) (snprintf(line, sizeof line, fmt, __VA_ARGS__), line)

/* wait4 with a bad pointer for a child that has exited: Linux reaps it
 * and the status is lost; a second wait finds no child. */
static void bad_wait(const char *name, uintptr_t p, int rusage)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(7);
    if (pid < 0) {
        printf("badptr: fork failed: %s\n", ename(errno));
        exit(1);
    }
    /* NULL is no bad pointer here: it asks for no status, no rusage. */
    int want = p ? EFAULT : 0;
    if (rusage)
        expect(CALL("wait4(child, NULL, 0, %s)", name), syscall(SYS_wait4, pid, 0, 0, p), want);
    else
        expect(CALL("wait4(child, %s, 0, NULL)", name), syscall(SYS_wait4, pid, p, 0, 0), want);
    expect("  wait4 again: the child was reaped", syscall(SYS_wait4, pid, 0, 0, 0), ECHILD);
}

static void pointer_calls(const char *name, uintptr_t p)
{
    struct iovec iov = { (void *)p, 16 };
    struct timespec tiny = { 0, 1000 };
    static char buf[64];

    printf("-- %s\n", name);
    expect(CALL("write(1, %s, 16)", name), syscall(SYS_write, 1, p, 16), EFAULT);
    expect(CALL("writev(1, %s, 1)", name), syscall(SYS_writev, 1, p, 1), EFAULT);
    expect(CALL("writev(1, [{%s, 16}], 1)", name), syscall(SYS_writev, 1, &iov, 1), EFAULT);
    bad_wait(name, p, 0);
    bad_wait(name, p, 1);
    expect(CALL("waitpid(-1, %s, WNOHANG): no child", name), syscall(SYS_waitpid, -1, p, WNOHANG), ECHILD);
    expect(CALL("nanosleep(%s, NULL)", name), syscall(SYS_nanosleep, p, 0), EFAULT);
    expect(CALL("nanosleep(1us, %s): rem is written only if a signal comes", name),
           syscall(SYS_nanosleep, &tiny, p), 0);
    expect(CALL("clock_gettime(CLOCK_MONOTONIC, %s)", name), syscall(SYS_clock_gettime, CLOCK_MONOTONIC, p), EFAULT);
    expect(CALL("uname(%s)", name), syscall(SYS_uname, p), EFAULT);
    expect(CALL("getrlimit(RLIMIT_STACK, %s)", name), syscall(SYS_getrlimit, RLIMIT_STACK, p), EFAULT);
    expect(CALL("ugetrlimit(RLIMIT_STACK, %s)", name), syscall(SYS_ugetrlimit, RLIMIT_STACK, p), EFAULT);
    expect(CALL("setrlimit(RLIMIT_STACK, %s)", name), syscall(SYS_setrlimit, RLIMIT_STACK, p), EFAULT);
    if (p) { /* NULL is no bad pointer here: no new limit, or no old one wanted */
        expect(CALL("prlimit64(0, RLIMIT_STACK, %s, NULL)", name), syscall(SYS_prlimit64, 0, RLIMIT_STACK, p, 0),
               EFAULT);
        expect(CALL("prlimit64(0, RLIMIT_STACK, NULL, %s)", name), syscall(SYS_prlimit64, 0, RLIMIT_STACK, 0, p),
               EFAULT);
    }
    expect(CALL("set_thread_area(%s)", name), syscall(SYS_set_thread_area, p), EFAULT);
    expect(CALL("fstat64(1, %s)", name), syscall(SYS_fstat64, 1, p), EFAULT);
    expect(CALL("statx(1, \"\", AT_EMPTY_PATH, BASIC, %s)", name),
           syscall(SYS_statx, 1, "", AT_EMPTY_PATH, STATX_BASIC_STATS, p), EFAULT);
    expect(CALL("ioctl(1, TCGETS, %s)", name), syscall(SYS_ioctl, 1, TCGETS, p), EFAULT);
    expect(CALL("readlink(%s, buf, 64)", name), syscall(SYS_readlink, p, buf, sizeof buf),
           p == 0xbffffffeu ? ENOENT : EFAULT);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct termios t;
    if (ioctl(1, TCGETS, &t) != 0)
        printf("badptr: fd 1 is not a terminal (%s): ioctl TCGETS will not reach its pointer\n", ename(errno));

    char *hole = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (hole == MAP_FAILED || munmap(hole, 2 * PAGE) != 0) {
        printf("badptr: could not make an unmapped page: %s\n", ename(errno));
        return 1;
    }
    pointer_calls("NULL", 0);
    pointer_calls("0xc0000000", 0xc0000000u);
    pointer_calls("0xffffffff", 0xffffffffu);
    pointer_calls("unmapped", (uintptr_t)hole);
    pointer_calls("0xbffffffe", 0xbffffffeu);

    printf("-- address ranges in kernel space\n");
    expect("munmap(0xc0000000, 4K)", syscall(SYS_munmap, 0xc0000000u, PAGE), EINVAL);
    expect("munmap(0xbffff000, 8K): straddles", syscall(SYS_munmap, 0xbffff000u, 2 * PAGE), EINVAL);
    expect("munmap(0xfffff000, 4K)", syscall(SYS_munmap, 0xfffff000u, PAGE), EINVAL);
    expect("mprotect(0xc0000000, 4K, PROT_READ)", syscall(SYS_mprotect, 0xc0000000u, PAGE, PROT_READ), ENOMEM);
    expect("mlock(0xc0000000, 4K)", syscall(SYS_mlock, 0xc0000000u, PAGE), ENOMEM);
    expect("munlock(0xc0000000, 4K)", syscall(SYS_munlock, 0xc0000000u, PAGE), ENOMEM);
    expect("madvise(0xc0000000, 4K, MADV_DONTNEED)", syscall(SYS_madvise, 0xc0000000u, PAGE, MADV_DONTNEED), ENOMEM);
    expect("mmap2(0xc0000000, 4K, MAP_FIXED)", syscall(SYS_mmap2, 0xc0000000u, PAGE, PROT_READ,
                                                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), ENOMEM);
    expect("mmap2(0xbffff000, 8K, MAP_FIXED): straddles", syscall(SYS_mmap2, 0xbffff000u, 2 * PAGE, PROT_READ,
                                                                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
           ENOMEM);
    long brk0 = syscall(SYS_brk, 0);
    long brk1 = syscall(SYS_brk, 0xc0000000u);
    calls++;
    if (brk1 == brk0) {
        printf("brk(0xc0000000): the break stays\n");
    } else {
        wrong++;
        printf("brk(0xc0000000): the break moved WRONG (Linux: it stays)\n");
    }

    if (wrong) {
        printf("badptr: %d of %d calls not as Linux: FAILED\n", wrong, calls);
        return 1;
    }
    printf("badptr: %d calls as Linux (%d EFAULT, %d other): ok\n", calls, efaults, calls - efaults);
    return 0;
}
