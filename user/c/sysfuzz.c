/*
 * sysfuzz N SEED [BATCH]: a Trinity-style fuzzer. N system calls, picked at
 * random with random arguments (numbers, lengths, flags, and pointers that
 * are NULL, in kernel space, wrapping, unmapped, straddling TASK_SIZE or
 * valid), all from SEED: the same N and SEED make the same calls. Whatever
 * they are, the kernel must answer with an errno or a result, never crash,
 * and give back what the children took.
 *
 * The calls run in forked children, BATCH at a time (default 10000), one
 * child after the other, so that what a call does to its process (unmapped
 * memory, a changed limit, an end) stays in that child. A child ends after
 * its batch with exit status 0, or by the ending its batch drew (below).
 * Each child prints one line: its batch, how many calls returned each
 * errno, and how it ends. The parent replays each batch's draws (they do
 * not depend on the results) to know how its child must end, waits for
 * it and checks.
 *
 * Kept away, so that the run goes to its end (and the host stays whole
 * when it runs there):
 * - calls that end the process (exit, exit_group, kill of itself with
 *   SIGKILL, SIGTERM or SIGSEGV) are drawn, but done only at the end of
 *   the batch, so every drawn call of the batch is made first;
 * - kill goes only to the child itself, and never with a stop signal
 *   (a stopped child would hold the parent's waitpid for ever); prlimit64
 *   only to the child itself, or to pids no process has;
 * - no fork, vfork or clone (the copies would run the rest of the batch),
 *   no pause, no read of the console, nanosleep of at most a microsecond:
 *   nothing blocks;
 * - write and writev only to closed fds, or with length 0 to stdout;
 *   ioctl on fds 0 to 2 only with requests that read (TCGETS,
 *   TIOCGWINSZ) or that no driver knows: the console stays as it is;
 * - pointers and address ranges never point into the child's own program,
 *   heap or stack (they may point at its scratch pages), so the child's
 *   own memory cannot be clobbered or unmapped under it; setrlimit and
 *   prlimit64 leave RLIMIT_CPU alone (SIGXCPU) and madvise takes only
 *   advice up to MADV_DODUMP (no MADV_HWPOISON);
 * - mmap2 never with MAP_POPULATE or MAP_LOCKED, so a huge length costs
 *   address space, not memory (mlock stays within RLIMIT_MEMLOCK: run it
 *   as an ordinary user on Linux, root's CAP_IPC_LOCK ignores the limit).
 * Numbers past the end of Linux's table (and a few calls himem does not
 * build) stand for the unknown ones: ENOSYS.
 *
 * The loop uses no glibc at all (raw int $0x80, its own formatting): a
 * fuzzed set_thread_area may change %gs, which glibc's errno and TLS use.
 *
 * On an x86-64 Linux host run it under `setarch i386 --3gb`: a 32-bit
 * process there may map memory up to 4G, so 0xc0000000 would be a user
 * address, and a nanosleep on memory it mapped there could sleep for ever.
 *
 * Success: the last line is `sysfuzz: completed N calls in B batches (seed
 * SEED): every child ended as drawn`, exit status 0. The batch lines'
 * counts depend on the kernel (himem builds fewer calls than Linux).
 */
#include "prog.h"
#include <stdint.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SCRATCH_PAGES 64
#define MAX_ERRNO 134

/* --- the generator: xorshift64*, seeded per batch by splitmix64 --- */

static uint64_t rng;

static uint32_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545f4914f6cdd1dULL) >> 32);
}

static void seed_batch(uint32_t seed, uint32_t batch)
{
    uint64_t z = ((uint64_t)seed << 32 | batch) + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    rng = (z ^ (z >> 31)) | 1;
}

/* --- the calls and the kinds of their arguments --- */

enum arg {
    NUM,   /* any number */
    PTR,   /* memory the call reads or writes */
    ADDR,  /* the start of an address range */
    LEN,   /* a length */
    FD,    /* a file descriptor the call only looks at */
    BADFD, /* a closed fd: for calls that would write to the console */
    PID,   /* a pid to wait for */
    RES,   /* an rlimit resource */
    PROT,  /* mmap's and mprotect's prot */
    MFLAGS, /* mmap's flags */
    ADVICE,
    CLOCK,
};

enum special { PLAIN, KILL_SELF, NANOSLEEP, IOCTL, PRLIMIT, WRITE0, ENDING };

struct call {
    long nr;
    const char *name;
    int nargs;
    enum arg args[6];
    enum special special;
};

static const struct call calls[] = {
    { SYS_exit, "exit", 1, { NUM }, ENDING },
    { SYS_exit_group, "exit_group", 1, { NUM }, ENDING },
    { SYS_kill, "kill", 2, { NUM, NUM }, KILL_SELF },
    { SYS_write, "write", 3, { BADFD, PTR, LEN }, WRITE0 },
    { SYS_writev, "writev", 3, { BADFD, PTR, NUM }, WRITE0 },
    { SYS_waitpid, "waitpid", 3, { PID, PTR, NUM }, PLAIN },
    { SYS_wait4, "wait4", 4, { PID, PTR, NUM, PTR }, PLAIN },
    { SYS_getpid, "getpid", 0, { 0 }, PLAIN },
    { SYS_getppid, "getppid", 0, { 0 }, PLAIN },
    { SYS_gettid, "gettid", 0, { 0 }, PLAIN },
    { SYS_nanosleep, "nanosleep", 2, { PTR, PTR }, NANOSLEEP },
    { SYS_sched_yield, "sched_yield", 0, { 0 }, PLAIN },
    { SYS_brk, "brk", 1, { ADDR }, PLAIN },
    { SYS_mmap2, "mmap2", 6, { ADDR, LEN, PROT, MFLAGS, NUM, NUM }, PLAIN },
    { SYS_munmap, "munmap", 2, { ADDR, LEN }, PLAIN },
    { SYS_mprotect, "mprotect", 3, { ADDR, LEN, PROT }, PLAIN },
    { SYS_madvise, "madvise", 3, { ADDR, LEN, ADVICE }, PLAIN },
    { SYS_mlock, "mlock", 2, { ADDR, LEN }, PLAIN },
    { SYS_munlock, "munlock", 2, { ADDR, LEN }, PLAIN },
    { SYS_mlockall, "mlockall", 1, { NUM }, PLAIN },
    { SYS_munlockall, "munlockall", 0, { 0 }, PLAIN },
    { SYS_getrlimit, "getrlimit", 2, { RES, PTR }, PLAIN },
    { SYS_ugetrlimit, "ugetrlimit", 2, { RES, PTR }, PLAIN },
    { SYS_setrlimit, "setrlimit", 2, { RES, PTR }, PLAIN },
    { SYS_prlimit64, "prlimit64", 4, { PID, RES, PTR, PTR }, PRLIMIT },
    { SYS_uname, "uname", 1, { PTR }, PLAIN },
    { SYS_set_thread_area, "set_thread_area", 1, { PTR }, PLAIN },
    { SYS_set_tid_address, "set_tid_address", 1, { PTR }, PLAIN },
    { SYS_set_robust_list, "set_robust_list", 2, { PTR, LEN }, PLAIN },
    { SYS_clock_gettime, "clock_gettime", 2, { CLOCK, PTR }, PLAIN },
    { SYS_fstat64, "fstat64", 2, { FD, PTR }, PLAIN },
    { SYS_statx, "statx", 5, { FD, PTR, NUM, NUM, PTR }, PLAIN },
    { SYS_ioctl, "ioctl", 3, { FD, NUM, PTR }, IOCTL },
    { SYS_readlink, "readlink", 3, { PTR, PTR, LEN }, PLAIN },
    { SYS_getrandom, "getrandom", 3, { PTR, LEN, NUM }, PLAIN },
    /* Calls himem does not build (ENOSYS there), harmless on Linux. */
    { SYS_getuid32, "getuid32", 0, { 0 }, PLAIN },
    { SYS_getpgrp, "getpgrp", 0, { 0 }, PLAIN },
    { SYS_sysinfo, "sysinfo", 1, { PTR }, PLAIN },
    { SYS_times, "times", 1, { PTR }, PLAIN },
    /* Past the end of Linux's table: ENOSYS everywhere (nr drawn). */
    { -1, "unknown", 6, { NUM, NUM, NUM, NUM, NUM, NUM }, PLAIN },
};
#define NCALLS (sizeof calls / sizeof calls[0])

/* --- what a child may be pointed at --- */

static uintptr_t scratch, hole;     /* its own scratch pages; an unmapped page */
static uintptr_t own_lo, own_hi;    /* the program and its heap */
static uintptr_t stack_lo, stack_hi; /* around the stack pointer */

extern char __executable_start[];

/* Whether [a, a + len) touches the program, its heap or its stack. */
static int own(uintptr_t a, uint64_t len)
{
    uint64_t end = a + len;
    return (a < own_hi && end > own_lo) || (a < stack_hi && end > stack_lo);
}

static uintptr_t in_scratch(void)
{
    return scratch + rnd() % (SCRATCH_PAGES * PAGE - 512);
}

static struct { int32_t tv_sec, tv_nsec; } sleep_req;

static uint32_t draw(enum arg kind)
{
    uint32_t r = rnd();
    switch (kind) {
    case NUM:
        switch (r % 4) {
        case 0: return rnd() % 64;
        case 1: return (uint32_t)-1 - rnd() % 4;
        default: return rnd();
        }
    case PTR:
    case ADDR: {
        uintptr_t a;
        switch (r % 10) {
        case 0: return 0;
        case 1: a = 0xc0000000u + rnd() % 0x40000000u; break;
        case 2: a = 0xffffffffu - rnd() % 16; break;
        case 3: a = hole; break;
        case 4: a = 0xbffffffcu - rnd() % 8; break;
        case 5: case 6: case 7: a = in_scratch(); break;
        default: a = rnd(); break;
        }
        if (kind == ADDR && rnd() % 2)
            a &= ~(PAGE - 1);
        /* A pointer's call may write up to a LEN (16M) from it. The
         * replacement is drawn either way, so that the draws after it
         * do not depend on where the program's memory lies. */
        uintptr_t alt = in_scratch();
        return own(a, kind == PTR ? (16 << 20) + PAGE : 1) ? alt : a;
    }
    case LEN: {
        static const uint32_t odd[] = { 0, 1, 4095, 4096, 0x7fffffff, 0x80000000u, 0xfffff000u, 0xffffffffu };
        switch (r % 4) {
        case 0: return odd[rnd() % 8];
        case 1: return rnd() % 4096;
        case 2: return PAGE * (rnd() % 64);
        default: return rnd() % (16 << 20);
        }
    }
    case FD: return r % 3 ? rnd() % 8 : rnd();
    case BADFD: return r % 2 ? 1000 + rnd() % 1000 : (uint32_t)-1;
    case PID: return r % 3 ? (uint32_t)(int)(rnd() % 5) - 2 : rnd();
    case RES: {
        /* RLIMIT_DATA, STACK, MEMLOCK, AS, NOFILE; or none (EINVAL). */
        static const uint32_t res[] = { 2, 3, 8, 9, 7, 16, 1000, 0xffffffffu };
        return res[r % 8];
    }
    case PROT: return r % 4 ? rnd() % 8 : rnd();
    case MFLAGS: {
        static const uint32_t flags[] = { MAP_PRIVATE | MAP_ANONYMOUS, MAP_SHARED | MAP_ANONYMOUS,
                                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, MAP_PRIVATE, 0 };
        uint32_t f = r % 2 ? flags[rnd() % 5] : rnd();
        return f & ~(uint32_t)(MAP_POPULATE | MAP_LOCKED);
    }
    case ADVICE: return rnd() % 18;
    case CLOCK: return r % 4 ? rnd() % 12 : rnd();
    }
    return r;
}

/* --- the calls themselves: raw int $0x80, no errno, no TLS --- */

static long raw(long nr, uint32_t a[6])
{
    long ret;
    uint32_t *args = a;
    /* ebp holds the sixth argument: saved by hand, as gcc will not give it.
     * edi is overwritten (the fifth), so it is an output too: as an input
     * only, gcc may use it afterwards as if it still held `a`, and did once
     * inlined into a bigger main (the multi-call cprogs). */
    __asm__ volatile("push %%ebp\n\t"
                     "mov 20(%%edi), %%ebp\n\t"
                     "mov 16(%%edi), %%edi\n\t"
                     "int $0x80\n\t"
                     "pop %%ebp"
                     : "=a"(ret), "+D"(args)
                     : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3])
                     : "memory");
    return ret;
}

/* One draw: the call and its arguments (made ready for the special ones). */
struct draw {
    const struct call *c;
    long nr;
    uint32_t a[6];
};

static void draw_call(struct draw *d, pid_t self)
{
    d->c = &calls[rnd() % NCALLS];
    d->nr = d->c->nr >= 0 ? d->c->nr : (long)(1000 + rnd() % 0x7fffffff);
    for (int i = 0; i < 6; i++)
        d->a[i] = i < d->c->nargs ? draw(d->c->args[i]) : 0;
    if (d->c->args[0] == ADDR && d->c->args[1] == LEN) {
        /* A range that would reach the child's own memory: the scratch pages. */
        uintptr_t alt = in_scratch() & ~(PAGE - 1);
        if (own(d->a[0], d->a[1])) {
            d->a[0] = alt;
            d->a[1] %= SCRATCH_PAGES * PAGE;
        }
    }
    switch (d->c->special) {
    case KILL_SELF: {
        /* 0 probes; 64 and up is EINVAL; the fatal ones end the batch. */
        static const uint32_t sigs[] = { 0, 0, 65, 1000, SIGKILL, SIGTERM, SIGSEGV };
        d->a[0] = self;
        d->a[1] = sigs[rnd() % 7];
        break;
    }
    case NANOSLEEP: {
        /* Readable memory holds random bytes: a long sleep. So the
         * request is a bad pointer, or its own: 0 s and a tv_nsec below
         * 1000 (valid), or of a second or more (EINVAL), which the child
         * writes just before the call (the scratch pages may be gone). */
        static const uint32_t bad[] = { 0, 0xc0000000u, 0xffffffffu, 0xbffffffcu };
        if (rnd() % 2) {
            d->a[0] = bad[rnd() % 4];
        } else {
            d->a[0] = (uint32_t)(uintptr_t)&sleep_req;
            d->a[2] = rnd() % 4 ? rnd() % 1000 : 1000000000u + rnd() % 1000;
        }
        break;
    }
    case IOCTL:
        if (d->a[0] < 3) {
            static const uint32_t reqs[] = { 0x5401 /* TCGETS */, 0x5413 /* TIOCGWINSZ */, 0x1234abcd };
            d->a[1] = reqs[rnd() % 3];
        }
        break;
    case PRLIMIT:
        if (rnd() % 2)
            d->a[0] = 0;
        else
            d->a[0] = rnd() % 2 ? (uint32_t)self : 0x7ffffff0u + rnd() % 16;
        break;
    case WRITE0:
        if (rnd() % 4 == 0) {
            d->a[0] = 1;
            d->a[2] = 0;
        }
        break;
    default:
        break;
    }
}

static int is_ending(const struct draw *d)
{
    return d->c->special == ENDING ||
           (d->c->special == KILL_SELF && (d->a[1] == SIGKILL || d->a[1] == SIGTERM || d->a[1] == SIGSEGV));
}

/* --- the child's line, formatted by hand --- */

static char out[2048];
static int outlen;

static void puts_raw(const char *s)
{
    while (*s && outlen < (int)sizeof out - 1)
        out[outlen++] = *s++;
}

static void putu(uint32_t n)
{
    char b[12];
    int i = 11;
    b[i] = 0;
    do
        b[--i] = (char)('0' + n % 10);
    while (n /= 10);
    puts_raw(b + i);
}

static uint32_t counts[MAX_ERRNO + 2]; /* [0]: success; [MAX_ERRNO + 1]: any other */

/* Run batch `b` of `n` calls; never returns. */
static void child(uint32_t seed, uint32_t b, uint32_t n)
{
    /* glibc registered an rseq area in its heap: a fuzzed brk could free
     * it, and Linux would then end the child when it next preempts it.
     * (ENOSYS on himem: nothing registered.) */
    uintptr_t tp;
    __asm__("mov %%gs:0, %0" : "=r"(tp));
    uint32_t un[6] = { (uint32_t)(tp + __rseq_offset), 32, RSEQ_FLAG_UNREGISTER, RSEQ_SIG };
    if (__rseq_size)
        raw(SYS_rseq, un);
    pid_t self = getpid();
    uint8_t *s = (uint8_t *)scratch;
    seed_batch(seed, b);
    for (int i = 0; i < SCRATCH_PAGES * (int)PAGE; i++)
        s[i] = (uint8_t)rnd();

    struct draw d, ending = { 0 };
    int ends = 0;
    for (uint32_t i = 0; i < n; i++) {
        draw_call(&d, self);
        if (is_ending(&d)) {
            if (!ends)
                ending = d;
            ends = 1;
            continue;
        }
        if (d.a[0] == (uint32_t)(uintptr_t)&sleep_req)
            sleep_req.tv_nsec = (int32_t)d.a[2];
        long r = raw(d.nr, d.a);
        counts[r >= 0 || r < -4095 ? 0 : -r <= MAX_ERRNO ? -r : MAX_ERRNO + 1]++;
    }
    puts_raw("sysfuzz: batch ");
    putu(b);
    puts_raw(": ");
    putu(n);
    puts_raw(" calls: ok ");
    putu(counts[0]);
    for (int e = 1; e <= MAX_ERRNO + 1; e++)
        if (counts[e]) {
            puts_raw(", ");
            puts_raw(e <= MAX_ERRNO && strerrorname_np(e) ? strerrorname_np(e) : "other");
            puts_raw(" ");
            putu(counts[e]);
        }
    puts_raw(ends ? "; ends by " : "; ends by exit(0)");
    if (ends) {
        puts_raw(ending.c->name);
        puts_raw(ending.c->special == KILL_SELF ? "(self, " : "(");
        putu(ending.a[ending.c->special == KILL_SELF]);
        puts_raw(")");
    }
    puts_raw("\n");
    uint32_t w[6] = { 1, (uint32_t)(uintptr_t)out, (uint32_t)outlen };
    raw(SYS_write, w);
    if (ends) {
        counts[0]++; /* the ending is one of the n calls */
        raw(ending.nr, ending.a);
    }
    uint32_t x[6] = { 0 };
    raw(SYS_exit_group, x);
    for (;;)
        ;
}

/* How batch b's child must end (its first drawn ending), as a wait status;
 * replays the draws, which depend on nothing but the seed. */
static int planned_status(uint32_t seed, uint32_t b, uint32_t n)
{
    seed_batch(seed, b);
    for (int i = 0; i < SCRATCH_PAGES * (int)PAGE; i++)
        rnd();
    struct draw d;
    for (uint32_t i = 0; i < n; i++) {
        draw_call(&d, 0);
        if (d.c->special == ENDING)
            return (d.a[0] & 0xff) << 8;
        if (is_ending(&d))
            return d.a[1];
    }
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    unsigned long n = argc >= 3 ? strtoul(argv[1], NULL, 10) : 0;
    unsigned long seed = argc >= 3 ? strtoul(argv[2], NULL, 10) : 0;
    unsigned long batch = argc == 4 ? strtoul(argv[3], NULL, 10) : 10000;
    if (argc < 3 || argc > 4 || n == 0 || batch == 0 || n > 0xffffffffUL) {
        fprintf(stderr, "sysfuzz: wants N calls (1 and up), a SEED and maybe BATCH; nothing called\n"
                        "usage: sysfuzz N SEED [BATCH]\n");
        return 2;
    }
    scratch = (uintptr_t)mmap(NULL, (SCRATCH_PAGES + 1) * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                              -1, 0);
    if (scratch == (uintptr_t)MAP_FAILED) {
        fprintf(stderr, "sysfuzz: mmap2 of its scratch pages failed: %s\n", ename(errno));
        return 1;
    }
    hole = scratch + SCRATCH_PAGES * PAGE;
    munmap((void *)hole, PAGE);
    own_lo = (uintptr_t)__executable_start & ~(PAGE - 1);
    own_hi = (uintptr_t)sbrk(0) + (1 << 20);
    uintptr_t sp = (uintptr_t)&sp;
    stack_lo = sp - (256 << 10);
    stack_hi = sp + (64 << 10) < sp ? 0xffffffffu : sp + (64 << 10);

    uint32_t batches = (uint32_t)((n + batch - 1) / batch), wrong = 0, early = 0;
    printf("sysfuzz: %lu calls from seed %lu, %u batches of up to %lu\n", n, seed, batches, batch);
    for (uint32_t b = 0; b < batches; b++) {
        uint32_t count = (uint32_t)(b + 1 < batches ? batch : n - (unsigned long)b * batch);
        pid_t pid = fork();
        if (pid < 0) {
            printf("sysfuzz: fork for batch %u failed: %s\n", b, ename(errno));
            return 1;
        }
        if (pid == 0)
            child((uint32_t)seed, b, count);
        int st;
        if (waitpid(pid, &st, 0) != pid) {
            printf("sysfuzz: waitpid for batch %u failed: %s\n", b, ename(errno));
            return 1;
        }
        int want = planned_status((uint32_t)seed, b, count);
        early += want != 0;
        /* A signal's end: whether it dumped core is RLIMIT_CORE's business. */
        if (want & 0x7f ? (st & 0x7f) != want : st != want) {
            char s[48];
            snprintf(s, sizeof s, "%s", status_str(want));
            printf("sysfuzz: batch %u: the child ended by %s, not by %s as drawn\n", b, status_str(st), s);
            wrong++;
        }
    }
    if (wrong) {
        printf("sysfuzz: %u of %u children did not end as drawn: FAILED\n", wrong, batches);
        return 1;
    }
    printf("sysfuzz: completed %lu calls in %u batches (seed %lu): every child ended as drawn (%u by exit(0), %u by "
           "a drawn ending)\n", n, batches, seed, batches - early, early);
    return 0;
}
