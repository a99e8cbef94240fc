/*
 * sysmisc: the small system calls (uname, the clocks, sleeping, ids, stat and
 * ioctl on the console, readlink, read, set_thread_area) called straight through int $0x80
 * with good and bad arguments, each result printed as Linux returns it
 * (0, a value, or -ENAME).
 *
 * Lines that start with '#' differ by nature between machines (times, the
 * release, the device numbers of the terminal): tests/qemu.py compares every
 * other line with tests/expected/sysmisc.txt, this program's output on Linux
 * run as `setarch i686 sysmisc` with fds 0-2 on a pseudo terminal that holds
 * two end-of-file characters (^D) for the reads of fd 0.
 *
 *   gcc -m32 -static -O2 -o sysmisc user/c/sysmisc.c
 */
#include <stdio.h>
#include <string.h>
#include <stdint.h>

static long sc(long nr, long a, long b, long c, long d, long e)
{
	long r;
	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory");
	return r;
}
#define SC0(n) sc(n, 0, 0, 0, 0, 0)
#define SC1(n, a) sc(n, (long)(a), 0, 0, 0, 0)
#define SC2(n, a, b) sc(n, (long)(a), (long)(b), 0, 0, 0)
#define SC3(n, a, b, c) sc(n, (long)(a), (long)(b), (long)(c), 0, 0)
#define SC4(n, a, b, c, d) sc(n, (long)(a), (long)(b), (long)(c), (long)(d), 0)
#define SC5(n, a, b, c, d, e) sc(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e))

enum {
	NR_read = 3, NR_time = 13, NR_getuid16 = 24, NR_getgid16 = 47, NR_geteuid16 = 49,
	NR_getegid16 = 50, NR_ioctl = 54, NR_gettimeofday = 78, NR_readlink = 85,
	NR_newfstat = 108, NR_uname = 122, NR_sched_yield = 158, NR_nanosleep = 162,
	NR_fstat64 = 197, NR_getuid = 199, NR_getgid = 200, NR_geteuid = 201, NR_getegid = 202,
	NR_gettid = 224, NR_getpid = 20, NR_clock_gettime = 265, NR_clock_nanosleep = 267,
	NR_readlinkat = 305, NR_set_robust_list = 311, NR_statx = 383, NR_clock_gettime64 = 403,
	NR_clock_nanosleep_time64 = 407, NR_clock_getres = 266, NR_clock_getres_time64 = 406,
	NR_set_thread_area = 243, NR_get_thread_area = 244,
};

#define BAD ((void *)1)		/* below TASK_SIZE, never mapped */
#define KERNEL ((void *)0xc0000000) /* i386's PAGE_OFFSET */
#define AT_FDCWD (-100)
#define AT_EMPTY_PATH 0x1000
#define STATX_BASIC_STATS 0x7ff
#define TIMER_ABSTIME 1

static const char *err(long r)
{
	static char buf[32];
	switch (-r) {
	case 1: return "-EPERM";
	case 2: return "-ENOENT";
	case 3: return "-ESRCH";
	case 9: return "-EBADF";
	case 14: return "-EFAULT";
	case 20: return "-ENOTDIR";
	case 22: return "-EINVAL";
	case 25: return "-ENOTTY";
	case 36: return "-ENAMETOOLONG";
	case 38: return "-ENOSYS";
	case 95: return "-EOPNOTSUPP";
	}
	snprintf(buf, sizeof buf, "%ld", r);
	return buf;
}

#define SHOW(what, expr) printf("%s = %s\n", what, err(expr))

struct ts32 { int32_t sec, nsec; };
struct ts64 { int64_t sec, nsec; };

static int64_t mono_ns(void)
{
	struct ts64 t;
	SC2(NR_clock_gettime64, 1, &t);
	return t.sec * 1000000000LL + t.nsec;
}

static void test_uname(void)
{
	char u[6][65];
	memset(u, 0x55, sizeof u);
	SHOW("uname(buf)", SC1(NR_uname, u));
	printf("uname: sysname %s machine %s\n", u[0], u[4]);
	printf("uname: every field NUL-terminated: %s\n",
	       memchr(u[0], 0, 65) && memchr(u[1], 0, 65) && memchr(u[2], 0, 65) &&
	       memchr(u[3], 0, 65) && memchr(u[4], 0, 65) && memchr(u[5], 0, 65) ? "yes" : "no");
	printf("# uname: nodename %s release %s version %s domainname %s\n", u[1], u[2], u[3], u[5]);
	SHOW("uname(1)", SC1(NR_uname, BAD));
	SHOW("uname(0xc0000000)", SC1(NR_uname, KERNEL));
}

static void test_clocks(void)
{
	/* The clocks Linux has on every machine; 8 and 9 (the alarm clocks)
	 * need an RTC that can wake it. */
	static const int ids[] = { 0, 1, 2, 3, 4, 5, 6, 7, 11 };
	for (unsigned i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		struct ts32 t = { -1, -1 };
		struct ts64 t64 = { -1, -1 };
		long r = SC2(NR_clock_gettime, ids[i], &t);
		long r64 = SC2(NR_clock_gettime64, ids[i], &t64);
		printf("clock_gettime(%d) = %s, nsec in range: %s; clock_gettime64(%d) = %s, nsec in range: %s\n",
		       ids[i], err(r), t.nsec >= 0 && t.nsec < 1000000000 ? "yes" : "no", ids[i], err(r64),
		       t64.nsec >= 0 && t64.nsec < 1000000000 ? "yes" : "no");
	}
	for (int id = 8; id <= 9; id++) {
		struct ts64 t;
		printf("# clock_gettime64(%d) = %s\n", id, err(SC2(NR_clock_gettime64, id, &t)));
	}
	static const int bad[] = { 10, 12, 16, 100, -1, 0x7fffffff };
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct ts32 t;
		struct ts64 t64;
		printf("clock_gettime(%d) = %s; ", bad[i], err(SC2(NR_clock_gettime, bad[i], &t)));
		printf("clock_gettime64(%d) = %s\n", bad[i], err(SC2(NR_clock_gettime64, bad[i], &t64)));
	}
	SHOW("clock_gettime(1, NULL)", SC2(NR_clock_gettime, 1, 0));
	SHOW("clock_gettime(0, 1)", SC2(NR_clock_gettime, 0, BAD));
	SHOW("clock_gettime64(1, 0xc0000000)", SC2(NR_clock_gettime64, 1, KERNEL));

	for (unsigned i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		struct ts32 r = { -1, -1 };
		struct ts64 r64 = { -1, -1 };
		long rc = SC2(NR_clock_getres, ids[i], &r);
		long rc64 = SC2(NR_clock_getres_time64, ids[i], &r64);
		printf("clock_getres(%d) = %s; clock_getres_time64(%d) = %s\n", ids[i], err(rc), ids[i], err(rc64));
		printf("# clock_getres(%d): %d.%09d s, time64 %lld.%09lld s\n", ids[i], r.sec, r.nsec, (long long)r64.sec,
		       (long long)r64.nsec);
	}
	SHOW("clock_getres(1, NULL)", SC2(NR_clock_getres, 1, 0));
	SHOW("clock_getres(12, NULL)", SC2(NR_clock_getres, 12, 0));
	SHOW("clock_getres(-1, NULL)", SC2(NR_clock_getres, -1, 0));
	SHOW("clock_getres_time64(12, NULL)", SC2(NR_clock_getres_time64, 12, 0));
	SHOW("clock_getres(1, 1)", SC2(NR_clock_getres, 1, BAD));
	SHOW("clock_getres_time64(1, 0xc0000000)", SC2(NR_clock_getres_time64, 1, KERNEL));

	struct ts64 a, b;
	SC2(NR_clock_gettime64, 1, &a);
	SC2(NR_clock_gettime64, 1, &b);
	printf("monotonic does not go back: %s\n",
	       b.sec > a.sec || (b.sec == a.sec && b.nsec >= a.nsec) ? "yes" : "no");

	struct { int32_t sec, usec; } tv = { -1, -1 };
	struct { int32_t minuteswest, dsttime; } tz = { -1, -1 };
	SHOW("gettimeofday(tv, NULL)", SC2(NR_gettimeofday, &tv, 0));
	printf("gettimeofday: usec in range: %s\n", tv.usec >= 0 && tv.usec < 1000000 ? "yes" : "no");
	SHOW("gettimeofday(NULL, NULL)", SC2(NR_gettimeofday, 0, 0));
	SHOW("gettimeofday(NULL, tz)", SC2(NR_gettimeofday, 0, &tz));
	printf("# gettimeofday: tz minuteswest %d dsttime %d\n", tz.minuteswest, tz.dsttime);
	SHOW("gettimeofday(1, NULL)", SC2(NR_gettimeofday, BAD, 0));
	SHOW("gettimeofday(tv, 1)", SC2(NR_gettimeofday, &tv, BAD));

	int32_t t = 0;
	long r = SC1(NR_time, &t);
	printf("time(&t) returns t: %s, and REALTIME's second (or the next): %s\n", r == t ? "yes" : "no",
	       (SC2(NR_clock_gettime64, 0, &a), a.sec == r || a.sec == r + 1) ? "yes" : "no");
	printf("# time(NULL) = %ld\n", SC1(NR_time, 0));
	SHOW("time(1)", SC1(NR_time, BAD));
}

static void sleep_case(const char *what, long nr, long a, long b, long c, long d, int64_t min_ns)
{
	int64_t t0 = mono_ns();
	long r = sc(nr, a, b, c, d, 0);
	int64_t dt = mono_ns() - t0;
	if (min_ns)
		printf("%s = %s, slept at least %lld ms: %s\n", what, err(r), (long long)(min_ns / 1000000),
		       dt >= min_ns ? "yes" : "no");
	else
		printf("%s = %s\n", what, err(r));
}

static void test_sleep(void)
{
	struct ts32 ms20 = { 0, 20000000 }, zero = { 0, 0 }, us1 = { 0, 1000 };
	struct ts32 big = { 0, 1000000000 }, negs = { -1, 0 }, negns = { 0, -1 };
	struct ts32 rem = { 7, 7 };
	sleep_case("nanosleep({0, 20ms}, &rem)", NR_nanosleep, (long)&ms20, (long)&rem, 0, 0, 20000000);
	printf("nanosleep: rem untouched when not interrupted: %s\n", rem.sec == 7 && rem.nsec == 7 ? "yes" : "no");
	sleep_case("nanosleep({0, 0}, NULL)", NR_nanosleep, (long)&zero, 0, 0, 0, 0);
	sleep_case("nanosleep({0, 1us}, 1)", NR_nanosleep, (long)&us1, (long)BAD, 0, 0, 0);
	sleep_case("nanosleep({0, 1000000000}, NULL)", NR_nanosleep, (long)&big, 0, 0, 0, 0);
	sleep_case("nanosleep({-1, 0}, NULL)", NR_nanosleep, (long)&negs, 0, 0, 0, 0);
	sleep_case("nanosleep({0, -1}, NULL)", NR_nanosleep, (long)&negns, 0, 0, 0, 0);
	sleep_case("nanosleep(NULL, NULL)", NR_nanosleep, 0, 0, 0, 0, 0);
	sleep_case("nanosleep(0xc0000000, NULL)", NR_nanosleep, (long)KERNEL, 0, 0, 0, 0);

	sleep_case("clock_nanosleep(MONOTONIC, 0, {0, 20ms})", NR_clock_nanosleep, 1, 0, (long)&ms20, 0, 20000000);
	sleep_case("clock_nanosleep(REALTIME, 0, {0, 20ms})", NR_clock_nanosleep, 0, 0, (long)&ms20, 0, 20000000);
	sleep_case("clock_nanosleep(BOOTTIME, 0, {0, 20ms})", NR_clock_nanosleep, 7, 0, (long)&ms20, 0, 20000000);
	struct ts32 now32;
	SC2(NR_clock_gettime, 1, &now32);
	struct ts32 until = { now32.sec, now32.nsec + 20000000 };
	if (until.nsec >= 1000000000) {
		until.sec++;
		until.nsec -= 1000000000;
	}
	sleep_case("clock_nanosleep(MONOTONIC, TIMER_ABSTIME, now + 20ms)", NR_clock_nanosleep, 1, TIMER_ABSTIME,
		   (long)&until, 0, 15000000);
	sleep_case("clock_nanosleep(MONOTONIC, TIMER_ABSTIME, {0, 0})", NR_clock_nanosleep, 1, TIMER_ABSTIME,
		   (long)&zero, 0, 0);
	struct ts32 rt;
	SC2(NR_clock_gettime, 0, &rt);
	struct ts32 rt_until = { rt.sec + 1, rt.nsec };
	rt_until.nsec = 0; /* the next whole second: at most 1 s */
	sleep_case("clock_nanosleep(REALTIME, TIMER_ABSTIME, next second)", NR_clock_nanosleep, 0, TIMER_ABSTIME,
		   (long)&rt_until, 0, 0);
	SC2(NR_clock_gettime, 0, &rt);
	printf("REALTIME after it is past that second: %s\n", rt.sec >= rt_until.sec ? "yes" : "no");
	sleep_case("clock_nanosleep(THREAD_CPUTIME_ID, 0, {0, 20ms})", NR_clock_nanosleep, 3, 0, (long)&ms20, 0, 0);
	sleep_case("clock_nanosleep(MONOTONIC_RAW, 0, {0, 20ms})", NR_clock_nanosleep, 4, 0, (long)&ms20, 0, 0);
	sleep_case("clock_nanosleep(REALTIME_COARSE, 0, {0, 20ms})", NR_clock_nanosleep, 5, 0, (long)&ms20, 0, 0);
	sleep_case("clock_nanosleep(12, 0, {0, 20ms})", NR_clock_nanosleep, 12, 0, (long)&ms20, 0, 0);
	sleep_case("clock_nanosleep(-1, 0, {0, 20ms})", NR_clock_nanosleep, -1, 0, (long)&ms20, 0, 0);
	sleep_case("clock_nanosleep(MONOTONIC, 0, {0, 1000000000})", NR_clock_nanosleep, 1, 0, (long)&big, 0, 0);
	sleep_case("clock_nanosleep(MONOTONIC, 0, {-1, 0})", NR_clock_nanosleep, 1, 0, (long)&negs, 0, 0);
	sleep_case("clock_nanosleep(MONOTONIC, TIMER_ABSTIME, {-1, 0})", NR_clock_nanosleep, 1, TIMER_ABSTIME,
		   (long)&negs, 0, 0);
	sleep_case("clock_nanosleep(MONOTONIC, 0, NULL)", NR_clock_nanosleep, 1, 0, 0, 0, 0);

	struct ts64 ms20_64 = { 0, 20000000 }, big64 = { 0, 1000000000 }, neg64 = { -1, 0 };
	struct ts64 zero64 = { 0, 0 };
	sleep_case("clock_nanosleep_time64(MONOTONIC, 0, {0, 20ms})", NR_clock_nanosleep_time64, 1, 0,
		   (long)&ms20_64, 0, 20000000);
	sleep_case("clock_nanosleep_time64(MONOTONIC, 0, {0, 1000000000})", NR_clock_nanosleep_time64, 1, 0,
		   (long)&big64, 0, 0);
	sleep_case("clock_nanosleep_time64(MONOTONIC, 0, {-1, 0})", NR_clock_nanosleep_time64, 1, 0, (long)&neg64, 0,
		   0);
	sleep_case("clock_nanosleep_time64(MONOTONIC, TIMER_ABSTIME, {0, 0})", NR_clock_nanosleep_time64, 1,
		   TIMER_ABSTIME, (long)&zero64, 0, 0);
	sleep_case("clock_nanosleep_time64(12, 0, {0, 20ms})", NR_clock_nanosleep_time64, 12, 0, (long)&ms20_64, 0, 0);
	sleep_case("clock_nanosleep_time64(MONOTONIC, 0, 1)", NR_clock_nanosleep_time64, 1, 0, (long)BAD, 0, 0);
}

static void test_ids(void)
{
	SHOW("sched_yield()", SC0(NR_sched_yield));
	printf("gettid() == getpid(): %s\n", SC0(NR_gettid) == SC0(NR_getpid) ? "yes" : "no");
	printf("# getuid() = %ld, geteuid() = %ld, getgid() = %ld, getegid() = %ld\n", SC0(NR_getuid),
	       SC0(NR_geteuid), SC0(NR_getgid), SC0(NR_getegid));
	printf("# 16-bit: getuid() = %ld, geteuid() = %ld, getgid() = %ld, getegid() = %ld\n", SC0(NR_getuid16),
	       SC0(NR_geteuid16), SC0(NR_getgid16), SC0(NR_getegid16));
	static uint32_t head[3];
	SHOW("set_robust_list(head, 12)", SC2(NR_set_robust_list, head, 12));
	SHOW("set_robust_list(head, 13)", SC2(NR_set_robust_list, head, 13));
	SHOW("set_robust_list(head, 0)", SC2(NR_set_robust_list, head, 0));
	SHOW("set_robust_list(1, 12)", SC2(NR_set_robust_list, BAD, 12));
}

/* Linux i386's struct stat64 (96 bytes) as fstat64 fills it. */
struct stat64k {
	uint64_t dev;
	uint32_t pad0, ino32, mode, nlink, uid, gid;
	uint64_t rdev;
	uint32_t pad1;
	int64_t size;
	uint32_t blksize;
	uint64_t blocks;
	uint32_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
	uint64_t ino;
} __attribute__((packed));

/* Linux i386's struct stat (64 bytes), newfstat's. */
struct statk {
	uint32_t dev, ino;
	uint16_t mode, nlink, uid, gid;
	uint32_t rdev, size, blksize, blocks;
	uint32_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
	uint32_t unused4, unused5;
};

struct statxk {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, spare0;
	uint64_t ino, size, blocks, attributes_mask;
	struct { int64_t sec; uint32_t nsec; int32_t reserved; } atime, btime, ctime, mtime;
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t spare[14];
};

static const char *ftype(uint32_t mode)
{
	switch (mode & 0170000) {
	case 0020000: return "character device";
	case 0010000: return "fifo";
	case 0100000: return "regular file";
	}
	return "other";
}

static void test_stat(void)
{
	_Static_assert(sizeof(struct stat64k) == 96, "stat64");
	_Static_assert(sizeof(struct statk) == 64, "stat");
	_Static_assert(sizeof(struct statxk) == 256, "statx");
	for (int fd = 0; fd <= 2; fd++) {
		struct stat64k s;
		memset(&s, 0x55, sizeof s);
		long r = SC2(NR_fstat64, fd, &s);
		printf("fstat64(%d) = %s: %s\n", fd, err(r), ftype(s.mode));
		printf("# fstat64(%d): mode %o rdev %llx uid %u gid %u blksize %u nlink %u size %lld blocks %llu\n", fd,
		       s.mode, (unsigned long long)s.rdev, s.uid, s.gid, s.blksize, s.nlink, (long long)s.size,
		       (unsigned long long)s.blocks);
		struct statk o;
		memset(&o, 0x55, sizeof o);
		r = SC2(NR_newfstat, fd, &o);
		printf("newfstat(%d) = %s: %s, agrees with fstat64: %s\n", fd, err(r), ftype(o.mode),
		       o.mode == s.mode && o.rdev == s.rdev && o.blksize == s.blksize && o.ino == s.ino32 ? "yes"
															: "no");
		struct statxk x;
		memset(&x, 0x55, sizeof x);
		r = SC5(NR_statx, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &x);
		printf("statx(%d, \"\", AT_EMPTY_PATH, BASIC_STATS) = %s: %s, basic stats: %s, agrees: %s\n", fd, err(r),
		       ftype(x.mode), (x.mask & STATX_BASIC_STATS) == STATX_BASIC_STATS ? "yes" : "no",
		       x.mode == s.mode && x.blksize == s.blksize && x.ino == s.ino &&
				       ((uint64_t)x.rdev_major << 8 | x.rdev_minor) == s.rdev
			       ? "yes"
			       : "no");
	}
	struct stat64k s;
	struct statxk x;
	SHOW("fstat64(5)", SC2(NR_fstat64, 5, &s));
	SHOW("fstat64(-1)", SC2(NR_fstat64, -1, &s));
	SHOW("fstat64(1, 1)", SC2(NR_fstat64, 1, BAD));
	SHOW("fstat64(1, 0xc0000000)", SC2(NR_fstat64, 1, KERNEL));
	SHOW("newfstat(5)", SC2(NR_newfstat, 5, &s));
	SHOW("newfstat(1, 1)", SC2(NR_newfstat, 1, BAD));
	SHOW("statx(5, \"\", AT_EMPTY_PATH)", SC5(NR_statx, 5, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &x));
	SHOW("statx(1, \"\", 0)", SC5(NR_statx, 1, "", 0, STATX_BASIC_STATS, &x));
	SHOW("statx(AT_FDCWD, \"/nonexistent\", 0)", SC5(NR_statx, AT_FDCWD, "/nonexistent", 0, STATX_BASIC_STATS, &x));
	SHOW("statx(1, \"\", AT_EMPTY_PATH, buf 1)", SC5(NR_statx, 1, "", AT_EMPTY_PATH, STATX_BASIC_STATS, BAD));
	SHOW("statx(1, 1, AT_EMPTY_PATH)", SC5(NR_statx, 1, BAD, AT_EMPTY_PATH, STATX_BASIC_STATS, &x));
	SHOW("statx(1, \"\", 0x80000000)", SC5(NR_statx, 1, "", 0x80000000, STATX_BASIC_STATS, &x));
	SHOW("statx(1, \"\", AT_EMPTY_PATH, mask 0x80000000)",
	     SC5(NR_statx, 1, "", AT_EMPTY_PATH, 0x80000000, &x));
	SHOW("statx(1, \"\", AT_EMPTY_PATH|0x6000)", SC5(NR_statx, 1, "", AT_EMPTY_PATH | 0x6000, STATX_BASIC_STATS, &x));
}

/* The kernel's struct termios (TCGETS), not glibc's. */
struct termiosk {
	uint32_t iflag, oflag, cflag, lflag;
	uint8_t line, cc[19];
};

static void test_ioctl(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		struct termiosk t;
		memset(&t, 0x55, sizeof t);
		long r = SC3(NR_ioctl, fd, 0x5401, &t);
		printf("ioctl(%d, TCGETS) = %s: iflag %o oflag %o lflag %o line %u cc", fd, err(r), t.iflag, t.oflag,
		       t.lflag, t.line);
		for (int i = 0; i < 17; i++)
			printf(" %u", t.cc[i]);
		printf("\n# ioctl(%d, TCGETS): cflag %o\n", fd, t.cflag);
	}
	struct termiosk t;
	uint16_t ws[4] = { 9, 9, 9, 9 };
	SHOW("ioctl(1, TIOCGWINSZ)", SC3(NR_ioctl, 1, 0x5413, ws));
	printf("TIOCGWINSZ: rows %u cols %u xpixel %u ypixel %u\n", ws[0], ws[1], ws[2], ws[3]);
	SHOW("ioctl(1, TIOCGWINSZ, 1)", SC3(NR_ioctl, 1, 0x5413, BAD));
	SHOW("ioctl(5, TCGETS)", SC3(NR_ioctl, 5, 0x5401, &t));
	SHOW("ioctl(-1, TCGETS)", SC3(NR_ioctl, -1, 0x5401, &t));
	SHOW("ioctl(1, TCGETS, 1)", SC3(NR_ioctl, 1, 0x5401, BAD));
	SHOW("ioctl(1, TCGETS, 0xc0000000)", SC3(NR_ioctl, 1, 0x5401, KERNEL));
	SHOW("ioctl(1, 0x12345678)", SC3(NR_ioctl, 1, 0x12345678, &t));
	SHOW("ioctl(5, 0x12345678)", SC3(NR_ioctl, 5, 0x12345678, &t));
}

static void test_readlink(void)
{
	static char buf[4200];
	long r = SC3(NR_readlink, "/proc/self/exe", buf, 4096);
	printf("# readlink(\"/proc/self/exe\") = %s\n", err(r));
	SHOW("readlink(\"/nonexistent/x\", buf, 100)", SC3(NR_readlink, "/nonexistent/x", buf, 100));
	SHOW("readlink(\"nonexistent\", buf, 100)", SC3(NR_readlink, "nonexistent", buf, 100));
	SHOW("readlink(\"/nonexistent\", buf, 0)", SC3(NR_readlink, "/nonexistent", buf, 0));
	SHOW("readlink(\"/nonexistent\", buf, -1)", SC3(NR_readlink, "/nonexistent", buf, -1));
	SHOW("readlink(\"\", buf, 100)", SC3(NR_readlink, "", buf, 100));
	SHOW("readlink(1, buf, 100)", SC3(NR_readlink, BAD, buf, 100));
	SHOW("readlink(0xc0000000, buf, 100)", SC3(NR_readlink, KERNEL, buf, 100));
	memset(buf, 'a', 4100);
	buf[0] = '/';
	buf[4100] = 0;
	SHOW("readlink(4100-byte path, buf, 100)", SC3(NR_readlink, buf, buf, 100));
	SHOW("readlinkat(AT_FDCWD, \"/nonexistent\", buf, 100)",
	     SC4(NR_readlinkat, AT_FDCWD, "/nonexistent", buf, 100));
	SHOW("readlinkat(5, \"/nonexistent\", buf, 100)", SC4(NR_readlinkat, 5, "/nonexistent", buf, 100));
	SHOW("readlinkat(5, \"x\", buf, 100)", SC4(NR_readlinkat, 5, "x", buf, 100));
	SHOW("readlinkat(1, \"x\", buf, 100)", SC4(NR_readlinkat, 1, "x", buf, 100));
	SHOW("readlinkat(1, \"\", buf, 100)", SC4(NR_readlinkat, 1, "", buf, 100));
	SHOW("readlinkat(AT_FDCWD, \"x\", buf, 0)", SC4(NR_readlinkat, AT_FDCWD, "x", buf, 0));
}

static void test_read(void)
{
	char buf[16];
	SHOW("read(0, buf, 16)", SC3(NR_read, 0, buf, 16));
	SHOW("read(0, buf, 0)", SC3(NR_read, 0, buf, 0));
	SHOW("read(0, 1, 16)", SC3(NR_read, 0, BAD, 16));
	SHOW("read(5, buf, 16)", SC3(NR_read, 5, buf, 16));
	SHOW("read(-1, buf, 16)", SC3(NR_read, -1, buf, 16));
}

/* struct user_desc of <asm/ldt.h>, as set_thread_area takes it. */
struct user_desc {
	uint32_t entry_number, base_addr, limit;
	uint32_t seg_32bit : 1, contents : 2, read_exec_only : 1, limit_in_pages : 1,
		seg_not_present : 1, useable : 1;
};

static uint32_t tls_word = 0x5eed1e55;

static uint16_t fs_now(void)
{
	uint16_t sel;
	__asm__ volatile("mov %%fs, %0" : "=r"(sel));
	return sel;
}

/* A flat data segment based at tls_word, in the TLS entry `entry`. */
static struct user_desc tls_desc(uint32_t entry)
{
	struct user_desc d = { 0 };
	d.entry_number = entry;
	d.base_addr = (uint32_t)(uintptr_t)&tls_word;
	d.limit = 0xfffff;
	d.seg_32bit = 1;
	d.limit_in_pages = 1;
	d.useable = 1;
	return d;
}

/*
 * set_thread_area: a TLS entry made, loaded into %fs and read through it;
 * then the entry %fs names is emptied, or made not present, under the
 * program. The kernel's return to user mode cannot load that selector
 * again; Linux loads the null selector instead (i386: RESTORE_REGS's
 * fixup; x86-64: do_set_thread_area reloads it at once), so %fs reads 0
 * after the next system call and the program goes on. A descriptor that
 * is present but not, 16-bit, or code is refused (tls_desc_okay); one all
 * zero but its number means empty. The entry's number differs by nature
 * (glibc takes the first for %gs: 6 on i386, 12 for a 32-bit program on
 * x86-64).
 */
static void test_tls(void)
{
	struct user_desc d = tls_desc((uint32_t)-1);
	long r = SC1(NR_set_thread_area, &d);
	SHOW("set_thread_area(entry -1, flat data)", r);
	if (r != 0)
		return;
	uint32_t entry = d.entry_number;
	uint16_t sel = (uint16_t)(entry << 3 | 3);
	printf("# set_thread_area: entry %u\n", entry);
	__asm__ volatile("mov %0, %%fs" : : "r"(sel));
	uint32_t seen;
	__asm__ volatile("movl %%fs:0, %0" : "=r"(seen));
	printf("%%fs:0 reads the word at the base: %s\n", seen == tls_word ? "yes" : "no");

	struct user_desc empty = { 0 };
	empty.entry_number = entry;
	empty.read_exec_only = 1;
	empty.seg_not_present = 1;
	SHOW("set_thread_area(the entry %fs names, empty)", SC1(NR_set_thread_area, &empty));
	SC0(NR_getpid);
	printf("%%fs after the next system call: %u\n", fs_now());

	d = tls_desc(entry);
	SHOW("set_thread_area(that entry, flat data again)", SC1(NR_set_thread_area, &d));
	__asm__ volatile("mov %0, %%fs" : : "r"(sel));
	d.seg_not_present = 1;
	SHOW("set_thread_area(the entry %fs names, not present)", SC1(NR_set_thread_area, &d));
	SC0(NR_getpid);
	printf("%%fs still names that entry: %s\n", fs_now() == sel ? "yes" : "no");

	struct user_desc got = { 0 };
	got.entry_number = entry;
	SHOW("get_thread_area(that entry)", SC1(NR_get_thread_area, &got));
	printf("get_thread_area: seg_not_present %u, base is tls_word: %s\n", got.seg_not_present,
	       got.base_addr == d.base_addr ? "yes" : "no");

	struct user_desc odd = tls_desc(entry);
	odd.seg_32bit = 0;
	SHOW("set_thread_area(that entry, 16-bit)", SC1(NR_set_thread_area, &odd));
	odd = tls_desc(entry);
	odd.contents = 2;
	SHOW("set_thread_area(that entry, code)", SC1(NR_set_thread_area, &odd));
	struct user_desc zero = { 0 };
	zero.entry_number = entry;
	SHOW("set_thread_area(that entry, all zero)", SC1(NR_set_thread_area, &zero));
	SHOW("get_thread_area(that entry)", SC1(NR_get_thread_area, &got));
	printf("get_thread_area: empty (read_exec_only %u, seg_not_present %u, base %u)\n", got.read_exec_only,
	       got.seg_not_present, got.base_addr);

	struct user_desc bad = tls_desc(5);
	SHOW("set_thread_area(entry 5)", SC1(NR_set_thread_area, &bad));
	bad.entry_number = entry + 3;
	SHOW("set_thread_area(entry past the TLS entries)", SC1(NR_set_thread_area, &bad));
	SHOW("set_thread_area(1)", SC1(NR_set_thread_area, BAD));
	SHOW("set_thread_area(0xc0000000)", SC1(NR_set_thread_area, KERNEL));
	SHOW("get_thread_area(0xc0000000)", SC1(NR_get_thread_area, KERNEL));

	/* Give the entry back empty, so nothing of this outlives the test. */
	SHOW("set_thread_area(that entry, empty)", SC1(NR_set_thread_area, &empty));
}

int main(void)
{
	/* Unbuffered: every line is out before the next call, whatever
	 * stdio would choose for the console. */
	setvbuf(stdout, NULL, _IONBF, 0);
	test_uname();
	test_clocks();
	test_sleep();
	test_ids();
	test_stat();
	test_ioctl();
	test_readlink();
	test_read();
	test_tls();
	printf("sysmisc: done\n");
	return 0;
}
