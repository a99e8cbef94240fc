/*
 * benchfault PAGES FORKS PROCS: the user side of `make bench`'s process
 * rows (src/bench/process.rs). The program does the work a process pays
 * for (faults, fork, swap-in) between marks; the benchmark thread, its
 * parent, takes the time stamp and the event counts at each mark. Under
 * QEMU's -icount the time stamp counts every instruction, the program's
 * own in ring 3 and the kernel's for it (trap entry and exit included).
 *
 * A mark is a stop: kill(getpid(), SIGSTOP). The parent, waiting with
 * WUNTRACED, sees it, measures, and sends SIGCONT. The first two marks
 * with nothing between them give the cost of a mark itself, which the
 * parent takes off every phase. In order:
 *   M0, M1        empty (the mark's own cost)
 *   M1..M2        write one word to each of PAGES fresh pages (demand-zero
 *                 faults; the region's page table is made before M0)
 *   M3..M4        a child forked and stopped shares the pages: write each
 *                 again (copy-on-write faults, each copies)
 *   M5..M6        FORKS times: fork, the child _exits, the parent waits
 *                 (the region stays touched: 1 MB for 256 pages)
 *   at M6         the parent evicts the region's pages to swap
 *   M6..M7        read each page back (swap-in faults)
 *   at M8         PROCS - 1 children, stopped, and this process are alive;
 *                 the one named at the middle has oom_score_adj 1000; the
 *                 parent makes the OOM killer's choice among them.
 * Then the children are killed and waited for; exit status 0, 1 when
 * something failed (said on stderr), 2 for bad arguments.
 *
 * The region is at REGION (fixed, so the parent can find its pages):
 * PAGES + 1 pages, all in one page table (PAGES < 1024).
 */
#include "prog.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define REGION 0x40000000UL

static void mark(void)
{
    kill(getpid(), SIGSTOP);
}

static int fail(const char *what)
{
    fprintf(stderr, "benchfault: %s failed: %s\n", what, ename(errno));
    return 1;
}

/* Fork a child that stops itself at once (and stays stopped until killed);
 * wait until it has stopped. Its pid, or -1. */
static pid_t stopped_child(int adj)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (adj) {
            int fd = open("/proc/self/oom_score_adj", O_WRONLY);
            if (fd < 0 || write(fd, "1000", 4) != 4)
                _exit(1);
            close(fd);
        }
        for (;;)
            kill(getpid(), SIGSTOP);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st))
        return -1;
    return pid;
}

static int reap(pid_t pid)
{
    int st;
    kill(pid, SIGKILL);
    return waitpid(pid, &st, 0) == pid ? 0 : -1;
}

/* PAGES FORKS PROCS into v, each checked; -1 (said on stderr) if one is bad.
 * Out of main, so that main's code (what the phases run) stays as it was. */
static __attribute__((noinline)) int parse_args(char **argv, unsigned long v[3])
{
    static const char *const what[3] = { "PAGES", "FORKS", "PROCS" };
    static const unsigned long lo[3] = { 1, 0, 1 }, hi[3] = { 1023, 1000, 1000 };
    for (int i = 0; i < 3; i++) {
        char *end;
        v[i] = strtoul(argv[i + 1], &end, 10);
        if (end == argv[i + 1] || *end != '\0' || v[i] < lo[i] || v[i] > hi[i]) {
            fprintf(stderr, "benchfault: %s '%s' is not a number in %lu..%lu; nothing done\n", what[i], argv[i + 1],
                    lo[i], hi[i]);
            return -1;
        }
    }
    return 0;
}

/* Pages of the region that do not hold ~i (what the copy-on-write phase
 * wrote): read-only, so a swapped-out page costs one swap-in fault. */
static __attribute__((noinline)) unsigned long count_bad(volatile unsigned *mem, unsigned long pages)
{
    unsigned long bad = 0;
    for (unsigned long i = 1; i <= pages; i++)
        bad += mem[i * (PAGE / 4)] != ~i;
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: benchfault PAGES FORKS PROCS (run by make bench)\n");
        return 2;
    }
    unsigned long v[3];
    if (parse_args(argv, v) < 0)
        return 2;
    unsigned long pages = v[0], forks = v[1], procs = v[2];
    volatile unsigned *mem = mmap((void *)REGION, (pages + 1) * PAGE, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (mem == MAP_FAILED)
        return fail("mmap2");
    mem[0] = 1;
    mark();
    mark();
    for (unsigned long i = 1; i <= pages; i++)
        mem[i * (PAGE / 4)] = i;
    mark();

    pid_t sharer = stopped_child(0);
    if (sharer < 0)
        return fail("fork (copy-on-write sharer)");
    mark();
    for (unsigned long i = 1; i <= pages; i++)
        mem[i * (PAGE / 4)] = ~i;
    mark();
    if (reap(sharer) < 0)
        return fail("waitpid (sharer)");
    /* The swap-in phase's reading loop, run once here where nothing is
     * measured: the first run of code faults its text page in, and that
     * fault must not land in the swap-in phase (where it did, depending
     * on where the linker put the loop). */
    unsigned long wrong = count_bad(mem, pages);
    if (wrong) {
        fprintf(stderr, "benchfault: %lu pages wrong after the copy-on-write phase\n", wrong);
        return 1;
    }

    mark();
    for (unsigned long i = 0; i < forks; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid)
            return fail("fork/waitpid");
    }
    mark();

    /* Stopped at that mark, the parent swapped the region out. */
    unsigned long bad = count_bad(mem, pages);
    mark();
    if (bad) {
        fprintf(stderr, "benchfault: %lu pages read back wrong after swap\n", bad);
        return 1;
    }

    static pid_t kids[1000];
    for (unsigned long i = 0; i + 1 < procs; i++) {
        kids[i] = stopped_child(i == procs / 2);
        if (kids[i] < 0)
            return fail("fork (OOM candidates)");
    }
    mark();
    for (unsigned long i = 0; i + 1 < procs; i++)
        if (reap(kids[i]) < 0)
            return fail("waitpid (OOM candidates)");
    return 0;
}
