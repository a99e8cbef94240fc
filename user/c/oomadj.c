/*
 * oomadj: a program sets its own OOM killer adjustment the way a Linux
 * program does, by writing "N\n" to /proc/self/oom_score_adj, and reads it
 * back, through open, read, write and close (glibc's openat underneath).
 *
 * It only raises its value and then lowers it no further than 0 (what an
 * unprivileged process may do on Linux: generate.sh runs it as nobody), so
 * every line is the same on Linux and on himem, where every process is
 * root. oom_score itself depends on the machine: only whether it rose is
 * printed. No pid is printed.
 *
 * Success: the lines below, ending `oomadj: done`, exit status 0.
 */
#include "prog.h"
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

/* The file's text, NUL-terminated, or -errno. */
static int read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, size - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    buf[n] = 0;
    return (int)n;
}

/* write(2)'s result on a fresh open of `path`, or -errno. */
static int write_file(const char *path, const char *s, size_t len)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, s, len);
    int e = errno;
    close(fd);
    return n < 0 ? -e : (int)n;
}

static const char *result(int r)
{
    static char buf[32];
    if (r < 0)
        return ename(-r);
    snprintf(buf, sizeof buf, "%d", r);
    return buf;
}

static void show(const char *what, const char *path)
{
    char buf[32];
    int r = read_file(path, buf, sizeof buf);
    if (r < 0)
        printf("%s: %s\n", what, ename(-r));
    else
        printf("%s: %s", what, buf);
}

static long score(void)
{
    char buf[32];
    return read_file("/proc/self/oom_score", buf, sizeof buf) < 0 ? -1 : atol(buf);
}

int main(void)
{
    const char *adj = "/proc/self/oom_score_adj";
    char mine[64];
    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(mine, sizeof mine, "/proc/%d/oom_score_adj", (int)getpid());

    /* The start value is the parent's (a shell's may be anything). */
    char start[32];
    int r0 = read_file(adj, start, sizeof start);
    printf("oom_score_adj at start: %s\n", r0 > 0 && atoi(start) >= -1000 && atoi(start) <= 1000 ? "in range" : "WRONG");
    long before = score();
    printf("write \"500\\n\": %s\n", result(write_file(adj, "500\n", 4)));
    show("oom_score_adj now", adj);
    show("the same through /proc/PID", mine);
    printf("oom_score rose: %s\n", score() > before ? "yes" : "no");
    printf("write \"1001\\n\": %s\n", result(write_file(adj, "1001\n", 5)));
    printf("write \"abc\": %s\n", result(write_file(adj, "abc", 3)));
    /* Linux reads 12 bytes of a write and says it took them all. */
    printf("write \"  700       xyz\" (15 bytes): %s\n", result(write_file(mine, "  700       xyz", 15)));
    show("oom_score_adj now", adj);

    /* Byte by byte: each read goes on from where the last stopped. */
    int fd = open(adj, O_RDONLY);
    char c, text[16];
    int n = 0, r;
    while ((r = read(fd, &c, 1)) == 1 && n < 15)
        text[n++] = c;
    text[n] = 0;
    printf("read one byte at a time: %d bytes, then %d: %s", n, r, text);
    void *volatile bad = (void *)1; /* volatile: gcc would warn of the constant */
    printf("read into a bad buffer at the end: %s\n", result(read(fd, bad, 8) < 0 ? -errno : 0));
    int fd2 = open(adj, O_RDONLY);
    printf("read into a bad buffer: %s\n", result(read(fd2, bad, 8) < 0 ? -errno : 0));
    close(fd2);
    printf("write to a file opened read-only: %s\n", result(write(fd, "1", 1) < 0 ? -errno : 0));
    printf("close: %s\n", result(close(fd) < 0 ? -errno : 0));
    printf("close again: %s\n", result(close(fd) < 0 ? -errno : 0));

    printf("open oom_score for writing: %s\n", result(open("/proc/self/oom_score", O_WRONLY) < 0 ? -errno : 0));
    printf("open /proc/self/oom_adjust: %s\n", result(open("/proc/self/oom_adjust", O_RDONLY) < 0 ? -errno : 0));
    printf("open a bad pointer: %s\n", result(open((const char *)1, O_RDONLY) < 0 ? -errno : 0));

    printf("write \"0\": %s\n", result(write_file(adj, "0", 1)));
    printf("write \"300\": %s\n", result(write_file(adj, "300", 3)));
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        show("the child inherits", adj);
        exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    printf("oomadj: done\n");
    return 0;
}
