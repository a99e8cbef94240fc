/*
 * prog.h: the few helpers the C test programs of issue 10 share (each
 * program is one .c file; make rebuilds them all when this changes).
 *
 * Output: every program makes stdout line-buffered first. On the kernel's
 * console glibc would choose that itself (a terminal); on a pipe (how the
 * tests run them on Linux) it would buffer fully, and a fork would then
 * copy unwritten lines into the child. Line buffering gives the same
 * bytes, one write per line, on both.
 */
#ifndef PROG_H
#define PROG_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096UL

/* Linux's name of an error number (EFAULT), as the tests compare it. */
static inline const char *ename(int e)
{
    static char buf[24];
    const char *n = e ? strerrorname_np(e) : "0";
    if (n)
        return n;
    snprintf(buf, sizeof buf, "errno %d", e);
    return buf;
}

/* A size as Linux's memparse reads it: digits, then K, M or G; 0 if it is
 * none, or more than 32 bits hold. */
static inline unsigned long parse_size(const char *s)
{
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    if (end == s || *s == '-')
        return 0;
    switch (*end) {
    case 'k': case 'K': n <<= 10; end++; break;
    case 'm': case 'M': n <<= 20; end++; break;
    case 'g': case 'G': n <<= 30; end++; break;
    }
    if (*end || n > 0xffffffffULL)
        return 0;
    return (unsigned long)n;
}

/* Bytes as K, M or G when they are a whole number of them (hog's form). */
static inline const char *size_str(unsigned long n)
{
    static char buf[4][24];
    static int next;
    char *b = buf[next++ % 4];
    if (n && n % (1UL << 30) == 0)
        snprintf(b, 24, "%luG", n >> 30);
    else if (n && n % (1UL << 20) == 0)
        snprintf(b, 24, "%luM", n >> 20);
    else if (n && n % (1UL << 10) == 0)
        snprintf(b, 24, "%luK", n >> 10);
    else
        snprintf(b, 24, "%lu", n);
    return b;
}

/* How a wait status says the process ended, as the shell's `wait` says it. */
static inline const char *status_str(int st)
{
    static char buf[48];
    if ((st & 0x7f) == 0)
        snprintf(buf, sizeof buf, "exit status %d", (st >> 8) & 0xff);
    else if ((st & 0xff) == 0x7f)
        snprintf(buf, sizeof buf, "stopped by signal %d", (st >> 8) & 0xff);
    else
        snprintf(buf, sizeof buf, "killed by signal %d (SIG%s)%s", st & 0x7f, sigabbrev_np(st & 0x7f) ?: "?",
                 st & 0x80 ? ", core dumped" : "");
    return buf;
}

#endif
