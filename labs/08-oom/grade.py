"""Lab 8: the OOM killer. `make grade LAB=8`.

Every boot is 256M with seed=8, so the runs a student and the grader see are
the same; the last check also injects a page-fault failure
(fail_page_alloc=), whose place seed=8 decides. Memory state is read from
the kernel's reports: meminfo (MemFree, HighFree, Slab after `shrink`),
vmstat's oom_kill, /proc/PID/status, oom_score.
"""

import re

import qemu
from gradelib import boot, check, fail_unless

TITLE = "The OOM killer"

MEM = "256M"
SEED = "seed=8"


def lab_boot(args="", swap=None):
    """256M, seed=8, the warm-up done (a hog in front and one in the
    background, so the caches they use have their first slabs); the machine
    and its counts (MemFree, HighFree, Slab in kB)."""
    qemu.built_user_programs()
    m = boot(mem=MEM, args=(SEED + " " + args).strip(), swap=swap)
    m.cmd("run hog 1M touch")
    m.cmd("run hog 1M touch &")
    m.cmd("wait", 60)
    return m, qemu.mem_state(m)


def start(m, line, size):
    """`run ...hog SIZE ... &`; once it holds its memory, its pid."""
    out = m.cmd(line)
    job = re.search(r"^\[\d+\] (\d+)$", out, re.M)
    fail_unless(job, "%r printed no job:\n%s" % (line, out + m.out[-1500:]))
    pid = int(job.group(1))
    m.expect(r"hog: holding %s (until killed|for \d+s) \(pid %d\)\n" % (size, pid), 90)
    return pid


def oom_kills(m):
    return qemu.vmstat_values(m)["oom_kill"]


def wait_all(m, timeout=90):
    """`wait` for every job: {pid: "Done", "Killed", "Terminated"...}."""
    out = m.cmd("wait", timeout)
    return {int(p): w for p, w in re.findall(r"^ *(\d+) (\w+)", out, re.M)}


def mem_back(m, before, what):
    after = qemu.mem_state(m)
    fail_unless(after == before, "%s: memory not all back: %r kB before, %r after"
                % (what, dict(zip(qemu.MEM_FIELDS, before)), dict(zip(qemu.MEM_FIELDS, after))))


def tdiv(a, b):
    """C's and Rust's integer division (towards zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def status_kb(m, pid):
    """/proc/PID/status's Vm* lines of `pid`, in kB."""
    out = m.cmd("status %d" % pid)
    vals = {k: int(v) for k, v in re.findall(r"^(Vm\w+):\s+(\d+) kB$", out, re.M)}
    fail_unless(all(k in vals for k in ("VmRSS", "VmSwap", "VmPTE")), "status %d:\n%s" % (pid, out))
    return vals


def totalpages(m):
    """Linux's totalram_pages() + total_swap_pages, from meminfo."""
    mi = qemu.meminfo_values(m.cmd("meminfo"))
    return (mi["MemTotal"] + mi["SwapTotal"]) // 4


def expected_score(m, pid, adj):
    """What /proc/PID/oom_score must read for `pid` at oom_score_adj `adj`,
    from its status (RSS, swap, page tables) and meminfo, by Linux 6.1's
    oom_badness and proc_oom_score."""
    st = status_kb(m, pid)
    total = totalpages(m)
    if adj == -1000:
        return 0, st, total
    points = (st["VmRSS"] + st["VmSwap"] + st["VmPTE"]) // 4 + adj * (total // 1000)
    return max(0, tdiv((1000 + tdiv(points * 1000, total)) * 2, 3)), st, total


def oom_score(m, pid):
    out = m.cmd("oom_score %d" % pid).strip()
    fail_unless(re.fullmatch(r"\d+", out), "oom_score %d printed %r" % (pid, out))
    return int(out)


def killed_line(m, at, pid):
    return re.search(r"Out of memory: Killed process %d \(hog\) total-vm:\S+, anon-rss:(\d+)kB" % pid, m.out[at:])


@check("the kernel boots, and ps, oom_score and oom_score_adj report a hog", 10, handout="pass")
def reports():
    m, _ = lab_boot()
    pid = start(m, "run hog 16M touch hold &", "16M")
    fail_unless(re.search(r"^ *%d .*hog" % pid, m.cmd("ps"), re.M), "ps does not list hog %d" % pid)
    score = oom_score(m, pid)
    fail_unless(0 <= score <= 2000, "oom_score %d out of 0..2000" % score)
    fail_unless(m.cmd("oom_score_adj %d" % pid).strip() == "0", "oom_score_adj of a new process is not 0")
    fail_unless("invoked oom-killer" not in m.out, "an OOM kill with plenty of memory:\n" + m.out[-2000:])
    m.cmd("kill %d" % pid)
    fail_unless(wait_all(m) == {pid: "Terminated"}, "the hog did not end on SIGTERM")


@check("after an OOM kill the shell goes on and every page comes back", 10, handout="pass")
def pages_come_back():
    m, before = lab_boot()
    k0 = oom_kills(m)
    start(m, "run hog 150M touch hold=3 &", "150M")
    at = len(m.out)
    start(m, "run hog 120M touch hold=1 &", "120M")
    fail_unless("Out of memory: Killed process" in m.out[at:], "no OOM kill with 270M asked of 256M:\n" + m.out[-2000:])
    fail_unless(m.cmd("echo alive").strip() == "alive", "the shell did not answer after the kill")
    ends = wait_all(m)
    fail_unless(list(ends.values()).count("Killed") >= 1, "wait: %r" % ends)
    fail_unless(oom_kills(m) > k0, "vmstat oom_kill did not count the kill")
    mem_back(m, before, "after the OOM kill")


@check("oom_score is the badness: RSS + swap entries + page tables, over RAM + swap", 20, handout="fail")
def badness_from_rss_swap_ptes():
    m, _ = lab_boot(swap="256M")
    pids = [(start(m, "run hog %s touch hold &" % size, size), size) for size in ("16M", "96M")]
    for pid, size in pids:
        want, st, total = expected_score(m, pid, 0)
        got = oom_score(m, pid)
        fail_unless(got == want, "hog %s (pid %d): oom_score %d, but its VmRSS %d kB + VmSwap %d kB + VmPTE %d kB "
                    "over %d pages of RAM + swap give %d" % (size, pid, got, st["VmRSS"], st["VmSwap"], st["VmPTE"],
                                                             total, want))
    fail_unless(oom_score(m, pids[1][0]) > oom_score(m, pids[0][0]), "the bigger hog does not score more")


@check("oom_score_adj adds adj thousandths of RAM + swap; -1000 exempts the process", 15, handout="fail")
def score_adj():
    m, _ = lab_boot()
    pid = start(m, "run hog 32M touch hold &", "32M")
    for adj in (500, -500, 1000, -1000):
        fail_unless(m.cmd("oom_score_adj %d %d" % (pid, adj)) == "", "oom_score_adj %d refused" % adj)
        want = expected_score(m, pid, adj)[0]
        got = oom_score(m, pid)
        fail_unless(got == want, "oom_score_adj %d: oom_score %d, the formula gives %d" % (adj, got, want))


@check("the process holding the most memory is the one victim, and its memory comes back", 20, handout="fail")
def biggest_is_the_victim():
    m, before = lab_boot()
    k0 = oom_kills(m)
    small = start(m, "run hog 30M touch hold &", "30M")
    big = start(m, "run hog 150M touch hold &", "150M")
    at = len(m.out)
    alloc = start(m, "run hog 100M touch hold=1 &", "100M")
    got = killed_line(m, at, big)
    fail_unless(got, "hog %d (150M) not killed; the log says:\n%s"
                % (big, "\n".join(re.findall(r"Out of memory: Killed process.*", m.out[at:])) or m.out[-2000:]))
    fail_unless(int(got.group(1)) >= 150 * 1024 * 9 // 10, "the victim held only %s kB" % got.group(1))
    fail_unless(oom_kills(m) - k0 == 1, "%d OOM kills, not 1" % (oom_kills(m) - k0))
    m.cmd("kill %d" % small)
    ends = wait_all(m)
    want = {small: "Terminated", big: "Killed", alloc: "Done"}
    fail_unless(ends == want, "wait: %r, not %r (small %d, big %d, allocating %d)" % (ends, want, small, big, alloc))
    mem_back(m, before, "after the victim and the others ended")


@check("a process at oom_score_adj -1000 is never chosen, however big", 10, handout="fail")
def minus_1000_is_safe():
    m, before = lab_boot()
    safe = start(m, "choom -n -1000 -- hog 150M touch hold=3 &", "150M")
    at = len(m.out)
    out = m.cmd("run hog 120M touch hold &")
    other = int(re.search(r"^\[\d+\] (\d+)$", out, re.M).group(1))
    m.expect(r"Out of memory: Killed process \d+ \(hog\).*\n", 90)
    fail_unless(killed_line(m, at, other) and not killed_line(m, at, safe),
                "the -1000 hog %d was killed, or the other %d was not:\n%s" % (safe, other, m.out[at:][-2500:]))
    ends = wait_all(m)
    fail_unless(ends == {safe: "Done", other: "Killed"}, "wait: %r" % ends)
    mem_back(m, before, "after the kill beside a -1000 hog")


@check("an injected page-fault failure (fail_page_alloc, seed=8) kills the biggest process, and its memory comes back",
       15, handout="fail")
def injected_fault_failure():
    # The first 96 MB of page allocations pass (space); then one of the next
    # ones, chosen by seed=8 at 50%, fails: inside hog B's page faults, which
    # takes Linux's pagefault_out_of_memory path with memory to spare.
    m, _ = lab_boot("fail_page_alloc=1,50,%d,1" % (96 << 20))
    a = start(m, "run hog 16M touch hold &", "16M")
    before = qemu.mem_state(m)
    at = len(m.out)
    out = m.cmd("run hog 128M touch hold=2 &")
    b = int(re.search(r"^\[\d+\] (\d+)$", out, re.M).group(1))
    m.expect(r"Out of memory: Killed process \d+ \(hog\).*\n", 90)
    fail_unless(re.search(r"hog invoked oom-killer: gfp_mask=0x0\(\), order=0", m.out[at:]),
                "the OOM kill did not come from a page fault:\n" + m.out[at:][-2500:])
    fail_unless(killed_line(m, at, b), "hog %d (the one holding most) was not the victim:\n%s"
                % (b, "\n".join(re.findall(r"Out of memory: Killed process.*", m.out[at:]))))
    m.cmd("wait %d" % b, 60)
    mem_back(m, before, "the victim's memory, with hog %d (16M) still holding" % a)
    fail_unless(re.search(r"^ *%d .*hog" % a, m.cmd("ps"), re.M), "hog %d (16M) is gone" % a)
    m.cmd("kill %d" % a)
    ends = wait_all(m)
    fail_unless(ends == {a: "Terminated"}, "wait: %r" % ends)
