"""Lab 4: highmem and kmap. `make grade LAB=4`."""

import re

from gradelib import boot, check, fail_unless, gdb

TITLE = "Highmem and kmap"

MEM = "2G"  # 1152 MB of it is highmem
KMAPWALK = ["source labs/04-highmem/kmapwalk.py", "kmapwalk"]
# The in-kernel tests that need no code of this lab's to pass. Not
# kmap_waiters_wake_and_finish: its threads hold their kmaps for 30 ms, and
# with the handout's eager search (a full flush per kmap) the first holders
# may let go before the last one starts, so nobody has to wait.
SANITY_TESTS = ("kmap_atomic_misuse_is_caught", "kmap_in_atomic_context_is_reported", "highpage_helpers_copy",
                "kmap_refuses_frames_beyond_max_pfn")

_run = {}


def highmem_run():
    """One boot of the test kernel: `ktest mm::highmem::`, then the `kmaps`
    report and GDB's kmapwalk at the kgdb stop (memoised: several checks
    read it)."""
    if not _run:
        m = boot(mem=MEM, ktest=True)
        out = m.cmd("ktest mm::highmem::", 180)
        _run["verdicts"] = {mt.group(1).rsplit("::", 1)[-1]: mt.group(2) for mt in
                            re.finditer(r"^test (\S+) \.\.\. (ok|ignored.*|FAILED.*)$", out, re.M)}
        _run["ktest"] = out
        _run["kmaps"] = m.cmd("kmaps")
        # The project's GDB kmaps (gdb/python/mm.py) reads the same table.
        _run["walk"] = gdb(m, KMAPWALK + ["kmaps"], 90)
    fail_unless(_run["verdicts"], "no in-kernel test ran:\n" + _run["ktest"][-800:])
    return _run


def walk_value(out, pattern):
    mt = re.search(pattern, out, re.M)
    fail_unless(mt, "GDB's kmapwalk did not print %r:\n%s" % (pattern, out[-1500:]))
    return [int(x, 0) for x in mt.groups()]


@check("with 2 GB the kernel has highmem, and the pkmap and fixmap areas are where layout.rs says", 10,
       handout="pass")
def layout():
    m = boot(mem=MEM)
    info = m.cmd("meminfo")
    high = int(re.search(r"^HighTotal:\s+(\d+) kB", info, re.M).group(1))
    low = int(re.search(r"^LowTotal:\s+(\d+) kB", info, re.M).group(1))
    fail_unless(high > 1000 * 1024 and low <= 896 * 1024, "HighTotal %d kB, LowTotal %d kB at 2 GB" % (high, low))
    log = m.cmd("dmesg")
    for area in (r"fixmap  : 0xfffbf000 - 0xfffff000", r"pkmap   : 0xff800000 - 0xffc00000"):
        fail_unless(area in log, "no %r line in the boot log" % area)
    kmaps = m.cmd("kmaps")
    fail_unless("slots: 0 in use, 1024 free" in kmaps, "pkmap slots in use at boot:\n" + kmaps)
    w = gdb(m, KMAPWALK + ["kmaps"])
    fail_unless(walk_value(w, r"^pkmap: (\d+) slots")[0] == 1024, "the pkmap table in memory is not 1024 slots")
    for line in kmaps.splitlines():
        fail_unless(line in w.splitlines(), "the shell's kmaps line is not GDB's kmaps:\n" + line)


@check("the in-kernel highmem tests that need no lab code pass", 15, handout="pass")
def sanity_ktests():
    v = highmem_run()["verdicts"]
    bad = {t: v.get(t, "did not run") for t in SANITY_TESTS if v.get(t) != "ok"}
    fail_unless(not bad, "failed: %s" % bad)


@check("kmap flushes the whole TLB once per wrap-around of the 1024 slots, not once per kmap", 30, handout="fail")
def lazy_flush():
    r = highmem_run()
    v = r["verdicts"].get("every_highmem_page_through_kmap", "did not run")
    fail_unless(v == "ok", "every_highmem_page_through_kmap: " + v)
    mt = re.search(r"^kmaps: (\d+) new, (\d+) reused, (\d+) waited; (\d+) wrap-arounds", r["kmaps"], re.M)
    fail_unless(mt, "no totals line in kmaps:\n" + r["kmaps"])
    new, wraps = int(mt.group(1)), int(mt.group(4))
    fail_unless(wraps <= new // 1024 + 2, "%d new kmaps cost %d wrap-arounds (full TLB flushes): at most %d expected"
                % (new, wraps, new // 1024 + 2))
    maps, flushes = walk_value(r["walk"], r"^pkmap events: maps (\d+) reuses \d+ waits \d+ full_flushes (\d+)")
    fail_unless((maps, flushes) == (new, wraps), "memory (GDB) says %d maps and %d flushes, kmaps says %d and %d"
                % (maps, flushes, new, wraps))
    fail_unless(mt.group(0) in r["walk"], "GDB's kmaps does not say what the shell's does:\n" + mt.group(0))
    in_use = walk_value(r["walk"], r"in_use (\d+), stale")[0]
    fail_unless(in_use == 0, "%d pkmap slots still have users after the tests: a kmap leaked" % in_use)


@check("kmap of a lowmem page is its direct-map address: no pkmap slot holds a lowmem page (GDB)", 20,
       handout="fail")
def lowmem_direct():
    r = highmem_run()
    n = walk_value(r["walk"], r"^pkmap slots holding a lowmem page: (\d+)")[0]
    held = "\n".join(re.findall(r"^pkmap slot .*$", r["walk"], re.M))
    fail_unless(n == 0, "after the highmem tests %d pkmap slots hold lowmem pages:\n%s" % (n, held))


@check("kunmap_atomic clears its fixmap PTE: no kmap_atomic slot stays mapped after user pages were zeroed (GDB)",
       25, handout="fail")
def kunmap_atomic_clears():
    m = boot(mem=MEM)
    # User pages come from highmem; each is zeroed through a kmap_atomic slot.
    out = m.cmd("run hog 16M touch verify", 60)
    fail_unless("Exit" not in out and "Killed" not in out, "hog failed:\n" + out[-500:])
    w = gdb(m, KMAPWALK)
    n = walk_value(w, r"^kmap_atomic slots with a present PTE: (\d+)")[0]
    left = "\n".join(re.findall(r"^kmap_atomic .* present.*$", w, re.M))
    fail_unless(n == 0, "%d kmap_atomic slots still map a page with no kmap_atomic held:\n%s" % (n, left))
