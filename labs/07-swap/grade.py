"""Lab 7: swap and the LRU. `make grade LAB=7`.

Every check boots its own 64M machine with a 64M swap disk (a real mkswap
image, the primary IDE disk: /dev/sda) and reads the kernel's own reports:
/proc/swaps (`swaps`), meminfo, vmstat and a process's status. The workload
is hog (build/user/hog): SIZE of anonymous memory, touched, verified, held;
with `churn`, its odd pages rewritten every second while its even pages are
left alone."""

import re
import time

from gradelib import boot, check, fail_unless
import qemu

TITLE = "Swap and the LRU"
MEM, SWAP = "64M", "64M"
SWAP_KB = 65532  # 16383 slots: the 64M image less its header page
# More than the 64M machine holds: about 40M of it must go to swap.
BIG = "96M"


def machine():
    return boot(mem=MEM, swap=SWAP)


def meminfo(m):
    return qemu.meminfo_values(m.cmd("meminfo"))


def vmstat(m):
    return qemu.vmstat_values(m)


def swap_used(m):
    used = qemu.swaps_used_kb(m)
    fail_unless("/dev/sda" in used, "/dev/sda is not in /proc/swaps:\n" + m.cmd("swaps"))
    return used["/dev/sda"]


def status(m, pid):
    text = m.cmd("status " + pid)
    fields = {k: int(v) for k, v in re.findall(r"^(\w+):\s+(\d+) kB$", text, re.M)}
    fail_unless("VmSwap" in fields, "status %s has no VmSwap line:\n%s" % (pid, text))
    return fields


def died(m, line):
    """Fail at once if a program was killed by a fault (SIGBUS: a swap-in
    that failed; SIGSEGV) rather than waiting for it to hold."""
    bad = re.search(r"\w+\[\d+\]: (bus error|segfault) .*", m.out)
    fail_unless(not bad, "%r: %s" % (line, bad and bad.group(0)))


def push(m, line, timeout=120):
    """Start `line` (`run hog ... hold &`) and wait until it holds its
    memory (True) or has been killed for it (False)."""
    seen, kills = m.out.count("hog: holding"), m.out.count("Out of memory: Killed process")
    qemu.start_job(m, line)
    deadline = time.time() + timeout
    while m.out.count("hog: holding") == seen:
        if m.out.count("Out of memory: Killed process") > kills:
            return False
        died(m, line)
        fail_unless(time.time() < deadline, "%r did not hold within %ds:\n%s" % (line, timeout, m.out[-1200:]))
        m.cmd("sleep 1")
    return True


def holding(m, line, timeout=120):
    """Start `line` (`run hog ... hold &`), wait until it holds; its pid."""
    seen = m.out.count("hog: holding")
    pid = qemu.start_job(m, line)
    deadline = time.time() + timeout
    while m.out.count("hog: holding") == seen:
        killed = re.search(r"Out of memory: Killed process \d+ \(\w+\)", m.out)
        fail_unless(not killed, "%r: %s; is nothing going to swap?" % (line, killed and killed.group(0)))
        died(m, line)
        fail_unless(time.time() < deadline, "%r did not hold within %ds:\n%s" % (line, timeout, m.out[-1200:]))
        m.cmd("sleep 1")
    return pid


def delta(a, b, *keys):
    return {k: b[k] - a[k] for k in keys}


@check("the swap disk is on at boot, and /proc/swaps lists it empty", 5, handout="pass")
def swap_on_at_boot():
    m = machine()
    log = m.out
    fail_unless("Adding %dk swap on /dev/sda.  Priority:-2" % SWAP_KB in log, "no swapon line at boot:\n" + log[-1500:])
    rows = m.cmd("swaps")
    fail_unless(re.search(r"^/dev/sda\s+partition\t%d\t\t0\t\t-2$" % SWAP_KB, rows, re.M), "/proc/swaps:\n" + rows)
    mi = meminfo(m)
    fail_unless(mi["SwapTotal"] == SWAP_KB and mi["SwapFree"] == SWAP_KB, "meminfo's swap lines: %r" % mi)


@check("a hog that fits in memory leaves swap alone", 5, handout="pass")
def fits_in_memory():
    m = machine()
    out = m.cmd("run hog 24M touch verify", 60)
    fail_unless("hog: verified 24M" in out, "run hog 24M touch verify printed:\n" + out)
    v = vmstat(m)
    fail_unless(v["pswpout"] == 0 and v["pswpin"] == 0, "swap traffic for 24M in a 64M machine: %r" % v)
    fail_unless(swap_used(m) == 0, "swap used:\n" + m.cmd("swaps"))


@check("under pressure, aging moves pages to the inactive list", 15, handout="fail")
def aging():
    m = machine()
    v0 = vmstat(m)
    # Held if the pages can go to swap; killed (out of memory) if not: the
    # aging is seen either way.
    held = push(m, "run hog %s touch hold=600 &" % BIG)
    d = delta(v0, vmstat(m), "pgdeactivate", "pgscan_kswapd", "pgscan_direct")
    fail_unless(d["pgdeactivate"] > 0, "no page was moved to the inactive list: %r" % d)
    fail_unless(d["pgscan_kswapd"] + d["pgscan_direct"] > 0, "reclaim scanned no inactive page: %r" % d)
    if held:
        mi = meminfo(m)
        fail_unless(mi["Inactive(anon)"] > 0, "Inactive(anon) is 0 with %s held in a 64M machine" % BIG)
        on_lists = mi["Active(anon)"] + mi["Inactive(anon)"] + mi["Unevictable"]
        fail_unless(abs(on_lists - mi["AnonPages"]) <= 256 + mi["SwapCached"],
                    "the LRU lists hold %d kB, AnonPages is %d kB (SwapCached %d kB)"
                    % (on_lists, mi["AnonPages"], mi["SwapCached"]))


@check("pages go out to swap: VmRSS + VmSwap is all of the hog, and /proc/swaps agrees", 20, handout="fail")
def swap_out():
    m = machine()
    pid = holding(m, "run hog %s touch hold=600 &" % BIG)
    st = status(m, pid)
    fail_unless(st["VmSwap"] >= 16384, "VmSwap %d kB for %s held in a 64M machine" % (st["VmSwap"], BIG))
    fail_unless(98304 <= st["VmRSS"] + st["VmSwap"] <= 98304 + 256,
                "VmRSS %d kB + VmSwap %d kB: not the 98304 kB touched (and the stack, code and data)"
                % (st["VmRSS"], st["VmSwap"]))
    used = swap_used(m)
    mi = meminfo(m)
    # A slot is used by an entry in a page table, or by a page in the swap
    # cache (SwapCached), or both.
    fail_unless(st["VmSwap"] <= used <= st["VmSwap"] + mi["SwapCached"],
                "/proc/swaps says %d kB used; VmSwap %d kB, SwapCached %d kB" % (used, st["VmSwap"], mi["SwapCached"]))
    fail_unless(mi["SwapFree"] == SWAP_KB - used, "SwapFree %d kB, SwapTotal %d kB, used %d kB"
                % (mi["SwapFree"], SWAP_KB, used))
    v = vmstat(m)
    fail_unless(v["pswpout"] * 4 >= st["VmSwap"], "pswpout %d pages, VmSwap %d kB" % (v["pswpout"], st["VmSwap"]))


@check("pages come back from swap as they were written", 20, handout="fail")
def swap_in():
    m = machine()
    out = m.cmd("run hog %s touch verify" % BIG, 120)
    fail_unless("hog: verified %s" % BIG in out and "hog: done" in out, "run hog %s touch verify printed:\n%s" % (BIG, out))
    v = vmstat(m)
    fail_unless(v["pswpout"] > 0 and v["pswpin"] > 0 and v["pgmajfault"] > 0,
                "no swap traffic: %r" % {k: v[k] for k in ("pswpout", "pswpin", "pgmajfault")})


@check("after the hog, every swap slot and every page is free again", 15, handout="fail")
def all_given_back():
    m = machine()
    m.cmd("run hog 8M touch verify", 60)
    before = qemu.settled_counts(m)
    out = m.cmd("run hog %s touch verify" % BIG, 120)
    fail_unless("hog: done" in out or "Bus error" in out or "Killed" in out, "the hog did not end:\n" + out)
    fail_unless(vmstat(m)["pswpout"] > 0, "nothing went to swap: no slot was used to give back")
    used = swap_used(m)
    fail_unless(used == 0, "/proc/swaps: %d kB still used with no process alive" % used)
    after = qemu.settled_counts(m)
    fail_unless(after == before, "MemFree, SwapFree, AnonPages, SwapCached (kB): %r before, %r after" % (before, after))


def state(m, pid):
    text = m.cmd("status " + pid)
    st = re.search(r"^State:\s+(\w)", text, re.M)
    fail_unless(st, "status %s has no State line:\n%s" % (pid, text))
    return st.group(1)


def wait_status(m, pid, what, cond, timeout=120):
    """Poll `status PID` (a `sleep 1` between) until cond(fields, state)."""
    deadline = time.time() + timeout
    while True:
        fields, st = status(m, pid), state(m, pid)
        if cond(fields, st):
            return fields
        died(m, "hog (pid %s)" % pid)
        fail_unless(time.time() < deadline, "pid %s: %s not seen within %ds (VmSwap %d kB, State %s):\n%s"
                    % (pid, what, timeout, fields["VmSwap"], st, m.out[-1200:]))
        m.cmd("sleep 1")


@check("the referenced bit keeps the working set in memory: cold pages go, hot ones stay", 20, handout="fail")
def working_set_stays():
    m = machine()
    # hot: 16M read every second; cold: 24M touched once. A first push
    # (28M, which then exits) ages every page with hot stopped (SIGSTOP),
    # so that none of hot's reads race the aging however slow the machine
    # is: reclaim looks at each page twice, clearing the accessed bits and
    # moving the pages to the inactive list, and evicts what it needs from
    # its tail (hot's oldest pages). hot then goes on (SIGCONT): it reads
    # back what it lost (waited for: its VmSwap falls) and, in the
    # passes after, reads the rest, which sets their accessed bits while
    # they are still on the inactive list; cold's stay clear. A second
    # push (28M, held) must then put those referenced inactive pages of
    # hot's back on the active list (pgactivate) and evict cold's pages,
    # not hot's: every hot page evicted would be read straight back from
    # swap (pswpin) within a second. Progress is read from the machine
    # (status), not assumed from the host's clock: a loaded host slows
    # the guest down by orders of magnitude.
    hot = holding(m, "run hog 16M touch verify hold=600 &")
    cold = holding(m, "run hog 24M touch hold=600 &")
    # Stopped between two passes (asleep), not in the middle of one.
    wait_status(m, hot, "asleep", lambda f, st: st == "S")
    m.cmd("kill -STOP " + hot)
    wait_status(m, hot, "stopped", lambda f, st: st == "T")
    out = m.cmd("run hog 28M touch", 120)
    fail_unless("hog: done" in out, "the first push failed:\n" + out)
    m.cmd("kill -CONT " + hot)
    # (A few pages of its own, stack it used once, may stay out: 256 kB,
    # as below.)
    wait_status(m, hot, "its memory back (VmSwap at most 256 kB)", lambda f, st: f["VmSwap"] <= 256 and st != "T")
    # At least one whole pass of hot's after that: three timer sleeps, in
    # each of which hot's one-second sleep can end.
    for _ in range(3):
        m.cmd("sleep 1")
    v0 = vmstat(m)
    holding(m, "run hog 28M touch hold=600 &", 120)
    m.cmd("sleep 2")
    d = delta(v0, vmstat(m), "pswpin", "pswpout", "pgactivate")
    fail_unless(d["pswpout"] >= 1024, "the second push sent only %d pages to swap" % d["pswpout"])
    fail_unless(d["pgactivate"] > 0, "no inactive page was found referenced and put back on the active list "
                "(pgactivate did not move): every page on the inactive list was evicted, used or not")
    fail_unless("lost its contents" not in m.out, "a page came back wrong:\n" + m.out[-1500:])
    h, c = status(m, hot), status(m, cold)
    fail_unless(d["pswpin"] <= 64,
                "%d pages read back from swap after the second push: the hot hog's, evicted though it reads them "
                "every second (the cold hog now has %d kB on swap)" % (d["pswpin"], c["VmSwap"]))
    fail_unless(h["VmSwap"] <= 256, "the hot hog has %d kB on swap" % h["VmSwap"])
    fail_unless(c["VmSwap"] >= 4096, "the cold hog has only %d kB on swap" % c["VmSwap"])
