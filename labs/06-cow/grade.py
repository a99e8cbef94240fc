"""Lab 6: page faults and copy-on-write. `make grade LAB=6`.

Every check boots its own 64M machine and reads the kernel's own reports
(meminfo, status, ps, the fault log line) or, at the kgdb stop, the
kernel's copy-on-write counters through GDB. The workloads are the user
programs in build/user: hog (Rust), cow and segv (C, static glibc)."""

import re
import time

from gradelib import boot, check, fail_unless, gdb
import qemu

TITLE = "Page faults and copy-on-write"
MEM = "64M"


def meminfo(m):
    return qemu.meminfo_values(m.cmd("meminfo"))


def status(m, pid):
    """/proc/PID/status's kB fields, by name."""
    text = m.cmd("status " + pid)
    fields = {k: int(v) for k, v in re.findall(r"^(\w+):\s+(\d+) kB$", text, re.M)}
    fail_unless("VmRSS" in fields, "status %s has no VmRSS line:\n%s" % (pid, text))
    return fields


def holding(m, line, count=1, timeout=20):
    """Start `line` (a `run ... &`) and wait until `count` more processes
    say they hold their memory; the job's pid. A process killed by a fault
    meanwhile fails the check at once."""
    start, seen = len(m.out), m.out.count("hog: holding")
    pid = qemu.start_job(m, line)
    deadline = time.time() + timeout
    while m.out.count("hog: holding") < seen + count:
        bad = re.search(r"\w+\[\d+\]: segfault .*", m.out[start:])
        fail_unless(not bad, "%r: %s" % (line, bad and bad.group(0)))
        fail_unless(time.time() < deadline, "%r: %d processes did not hold within %ds:\n%s"
                    % (line, count, timeout, m.out[start:][-1200:]))
        m.cmd("sleep 1")
    return pid


def end(m, *pids):
    for pid in pids:
        m.cmd("kill -9 " + pid)
    m.cmd("wait", 60)


def cow_counters(m):
    """(copies, reuses): do_wp_page's counters, read through GDB at the
    kgdb stop."""
    out = gdb(m, ["set language c",
                  "printf \"COW %u %u\\n\", *(unsigned *)&'kernel::mm::memory::COW_COPIES', "
                  "*(unsigned *)&'kernel::mm::memory::COW_REUSES'"])
    got = re.search(r"^COW (\d+) (\d+)$", out, re.M)
    fail_unless(got or "No symbol" not in out,
                "the kernel has no COW_COPIES or COW_REUSES (the linker drops a counter nothing adds to): "
                "do_wp_page counts each copy and each reuse in them\n" + out[-600:])
    fail_unless(got, "GDB did not print the counters:\n" + out[-1500:])
    return int(got.group(1)), int(got.group(2))


@check("the kernel boots and a program runs, its pages given back", 5, handout="pass")
def boots():
    m = boot(mem=MEM)
    out = m.cmd("run hello")
    fail_unless(out.startswith("Hello from user space!"), "run hello printed:\n" + out)
    before = qemu.mem_state(m)
    out = m.cmd("run hello")
    fail_unless(out.startswith("Hello from user space!"), "second run hello printed:\n" + out)
    after = qemu.mem_state(m)
    fail_unless(before == after, "MemFree, HighFree, Slab %r kB before run hello, %r after" % (before, after))


@check("a mapping nobody touched costs no page (demand paging)", 5, handout="pass")
def untouched_costs_nothing():
    m = boot(mem=MEM)
    pid = holding(m, "run hog 32M hold=600 &")
    st = status(m, pid)
    fail_unless(st["VmSize"] >= 32768, "VmSize %d kB, less than the 32M mapped" % st["VmSize"])
    fail_unless(st["VmRSS"] < 1024, "VmRSS %d kB for a 32M mapping never touched" % st["VmRSS"])
    anon = meminfo(m)["AnonPages"]
    fail_unless(anon < 1024, "AnonPages %d kB with only an untouched 32M mapping alive" % anon)


@check("a write to the program's own code is refused: SIGSEGV, error 7", 15, handout="fail")
def write_to_text_refused():
    m = boot(mem=MEM)
    out = m.cmd("run segv text")
    fail_unless("segv: text: writing to main's code" in out, "segv text did not get to its write:\n" + out)
    line = re.search(r"segv\[\d+\]: segfault at (80[0-9a-f]{5}) ip [0-9a-f]{8} sp [0-9a-f]{8} error (\d+)", out)
    fail_unless(line, "no segfault line for the write to the code:\n" + out)
    fail_unless(line.group(2) == "7", "error %s, not 7 (present | write | user): %s" % (line.group(2), line.group(0)))
    fail_unless("Segmentation fault" in out and "still alive" not in out, "segv text was not killed:\n" + out)


@check("fresh anonymous memory reads zero, even where another process wrote", 15, handout="fail")
def demand_zero():
    m = boot(mem=MEM)
    out = m.cmd("run hog 40M touch verify", 60)
    fail_unless("hog: verified 40M" in out, "the dirtying hog failed:\n" + out)
    out = m.cmd("run hog 40M verify", 60)
    fail_unless("hog: verified 40M" in out, "fresh pages did not read zero:\n" + out)


@check("VmRSS and ps count exactly the pages a process touched", 10, handout="fail")
def rss_counts_touched_pages():
    m = boot(mem=MEM)
    pid = holding(m, "run hog 16M touch hold=600 &")
    st = status(m, pid)
    fail_unless(16384 <= st["VmRSS"] <= 16384 + 256,
                "VmRSS %d kB after touching 16M (16384 kB and the stack, code and data)" % st["VmRSS"])
    fail_unless(st["VmHWM"] >= st["VmRSS"], "VmHWM %d kB below VmRSS %d kB" % (st["VmHWM"], st["VmRSS"]))
    row = re.search(r"^\s*%s\s+\d+\s+\S+\s+(\d+)\s+(\d+)\s+hog$" % pid, m.cmd("ps"), re.M)
    fail_unless(row and int(row.group(2)) == st["VmRSS"], "ps's RSS is not status's VmRSS %d kB" % st["VmRSS"])
    before = meminfo(m)["AnonPages"]
    end(m, pid)
    after = meminfo(m)["AnonPages"]
    fail_unless(after <= before - 16384, "AnonPages %d kB before the kill, %d after" % (before, after))


def fork_and_hold(m, size):
    """`hog SIZE touch fork hold`: the parent touches SIZE and forks; the
    child rewrites the odd pages; both hold. (parent pid, child pid)."""
    start = len(m.out)
    parent = holding(m, "run hog %s touch fork hold=600 &" % size, count=2)
    child = re.search(r"hog: child (\d+) rewrote the odd pages", m.out[start:])
    fail_unless(child, "the child did not write:\n" + m.out[start:][-1500:])
    return parent, child.group(1)


@check("fork shares every page until a write: 16M and 8M of copies is 24M, not 32M", 20, handout="fail")
def fork_shares_pages():
    m = boot(mem=MEM)
    # The same once, small: the caches get the first slabs two processes
    # and a kill need.
    end(m, *fork_and_hold(m, "1M"))
    before = qemu.mem_state(m)
    base = meminfo(m)["AnonPages"]
    # The child rewrites every odd page: 2048 copies; the even ones stay shared.
    parent, child = fork_and_hold(m, "16M")
    anon = meminfo(m)["AnonPages"] - base
    fail_unless(24576 <= anon <= 24576 + 256,
                "AnonPages grew by %d kB: 16M shared by both plus the child's 8M of copies is 24576 kB" % anon)
    for pid in (parent, child):
        rss = status(m, pid)["VmRSS"]
        fail_unless(rss >= 16384, "process %s: VmRSS %d kB; each maps all 16M" % (pid, rss))
    m.cmd("sleep 2")  # each hog verifies its view every second
    fail_unless("lost its contents" not in m.out, "a write reached the other process:\n" + m.out[-1500:])
    end(m, child, parent)
    after = qemu.mem_state(m)
    fail_unless(before == after, "MemFree, HighFree, Slab %r kB before, %r after both ended" % (before, after))


@check("cow: the child's write stays its own, and every page comes back", 15, handout="fail")
def cow_program():
    m = boot(mem=MEM)
    m.cmd("run cow 8M")
    before = qemu.mem_state(m)
    out = qemu.program_lines(m.cmd("run cow 16M", 60))
    want = ["cow: parent touched 16M (4096 pages)",
            "cow: child: page 2048 reads 0xc0c0c0c0 after its write, the other 4095 pages the parent's pattern",
            "cow: child: exit status 0",
            "cow: parent: all 4096 pages read its pattern, page 2048 too",
            "cow: pages written after fork: 1, by the child"]
    fail_unless(out.splitlines() == want, "run cow 16M printed:\n%s\nnot:\n%s" % (out, "\n".join(want)))
    after = qemu.mem_state(m)
    fail_unless(before == after, "MemFree, HighFree, Slab %r kB before run cow 16M, %r after" % (before, after))


@check("GDB: a shared page is copied once per writer, a page left alone is reused", 15, handout="fail")
def copies_and_reuses():
    m = boot(mem=MEM)
    c0, r0 = cow_counters(m)
    out = m.cmd("run hog 16M touch fork hold=1", 60)
    fail_unless(out.count("hog: done") == 2, "hog fork did not end well:\n" + out)
    c1, r1 = cow_counters(m)
    # 2048 odd pages rewritten by the child, and a few of the stacks'.
    fail_unless(2048 <= c1 - c0 <= 2048 + 32, "%d copies for the child's rewrite of 2048 pages" % (c1 - c0))
    out = m.cmd("run cow 16M", 60)
    fail_unless("cow: parent: all 4096 pages" in out, "run cow 16M failed:\n" + out)
    c2, r2 = cow_counters(m)
    # The parent writes its stack after the child has gone: its pages are
    # its own again, made writable where they are.
    fail_unless(1 <= c2 - c1 <= 32, "%d copies for cow's one page (and a few of the stack's)" % (c2 - c1))
    fail_unless(r2 > r1, "no page reused: the parent's writes after its child ended copied (reuses %d, %d)" % (r1, r2))
