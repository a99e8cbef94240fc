"""Lab 9: CMA and page migration. `make grade LAB=9`.

Every boot is 256M with cma=64M and seed=9; the last check injects page
allocation failures (fail_page_alloc=) into the middle of a migration, the
calls that fail chosen by seed=9. Memory state is read from the kernel's
reports: meminfo (MemFree, CmaFree after `shrink` and `drain`), the `cma`
report (pages handed out, pages movable users hold), vmstat's
pgmigrate_success/pgmigrate_fail, /proc/PID/status.
"""

import re

import qemu
from gradelib import boot, check, fail_unless

TITLE = "CMA and page migration"

MEM = "256M"
ARGS = "seed=9 cma=64M"
MB = 1 << 20


def lab_boot(extra=""):
    qemu.built_user_programs()
    return boot(mem=MEM, args=(ARGS + " " + extra).strip())


def counts(m):
    """(MemFree, CmaFree) in kB, empty slabs given back, pcp lists drained."""
    return qemu.cma_counts(m)


def region(m):
    """(base, size) of the CMA area, from `cma`."""
    out = m.cmd("cma")
    got = re.search(r"^cma: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] (\d+) MiB", out, re.M)
    fail_unless(got, "no CMA area in `cma`:\n" + out)
    return int(got.group(1), 16), int(got.group(2), 16) + 1 - int(got.group(1), 16)


def cma_alloc(m, size, timeout=60):
    """`cma alloc SIZE`: (start, end) of the block, or fail naming what it said."""
    out = m.cmd("cma alloc " + size, timeout)
    got = re.search(r"^cma: (\d+) pages \((\d+) kB\) at \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]$", out, re.M)
    fail_unless(got, "cma alloc %s failed:\n%s" % (size, out + m.out[-1500:]))
    return int(got.group(3), 16), int(got.group(4), 16) + 1


def cma_free(m, start):
    out = m.cmd("cma free %#x" % start)
    fail_unless(out.startswith("cma: freed "), "cma free %#x: %s" % (start, out))


def movable_held(m):
    got = re.search(r"movable users hold (\d+) pages", m.cmd("cma"))
    fail_unless(got, "no movable users line in `cma`")
    return int(got.group(1))


def start_hog(m, line, size):
    out = m.cmd(line)
    job = re.search(r"^\[\d+\] (\d+)$", out, re.M)
    fail_unless(job, "%r printed no job:\n%s" % (line, out + m.out[-1500:]))
    pid = int(job.group(1))
    m.expect(r"hog: holding %s (until killed|for \d+s) \(pid %d\)\n" % (size, pid), 120)
    return pid


def end_hog(m, pid):
    """SIGTERM the hog and wait for it."""
    m.cmd("kill %d" % pid)
    out = m.cmd("wait %d" % pid, 60)
    fail_unless("Terminated" in out, "hog %d did not end on SIGTERM: %r" % (pid, out))


def finish_hog(m, pid, timeout=120):
    """Wait for a hog with `verify` and a timed `hold` to end: it re-checked
    its memory every second and once more at the end, and must end well."""
    out = m.cmd("wait %d" % pid, timeout)
    fail_unless("memory lost its contents" not in m.out, "the hog found a page changed:\n" + m.out[-2500:])
    fail_unless("Done" in out, "hog %d did not end well: %r\n%s" % (pid, out, m.out[-1500:]))


def migrate(m, pid, timeout=180):
    """`migrate PID`: (moved, not moved, the first failure's line or "")."""
    out = m.cmd("migrate %d" % pid, timeout)
    got = re.search(r"migrate: pid %d: (\d+) pages moved, (\d+) not moved" % pid, out)
    fail_unless(got, "migrate printed:\n" + out)
    first = re.search(r"migrate: the first not moved: .*", out)
    return int(got.group(1)), int(got.group(2)), first.group(0) if first else ""


def rss_pages(m, pid):
    got = re.search(r"^VmRSS:\s+(\d+) kB$", m.cmd("status %d" % pid), re.M)
    fail_unless(got, "no VmRSS for %d" % pid)
    return int(got.group(1)) // 4


def warm_up(m):
    """The first `cma alloc` and the first background job grow the
    kernel's lists of them once; take that before counting."""
    start, _ = cma_alloc(m, "4M")
    cma_free(m, start)
    pid = start_hog(m, "run hog 1M touch hold &", "1M")
    end_hog(m, pid)


@check("cma=64M reserves 64 MiB at boot, lent to the page allocator as 16 CMA pageblocks", 10, handout="pass")
def area_at_boot():
    m = lab_boot()
    got = re.search(r"cma: Reserved 64 MiB at (0x[0-9a-f]{8})\n", m.out)
    fail_unless(got, "no `cma: Reserved 64 MiB` line in the boot log")
    mi = qemu.meminfo_values(m.cmd("meminfo"))
    fail_unless(mi["CmaTotal"] == 65536 and mi["CmaFree"] == 65536, "CmaTotal %d kB, CmaFree %d kB"
                % (mi["CmaTotal"], mi["CmaFree"]))
    pic = m.cmd("memmap")
    cells = sum(l.count("C") for l in pic.splitlines() if l.startswith("0x"))
    fail_unless(cells == 16, "memmap shows %d CMA cells, not 16:\n%s" % (cells, pic))
    base, size = region(m)
    fail_unless(base == int(got.group(1), 16) and size == 64 * MB and base % (4 * MB) == 0,
                "`cma` says %#x+%d, the boot %s" % (base, size, got.group(1)))


@check("movable allocations borrow the CMA area while nobody needs it, and give it all back", 10, handout="pass")
def movable_borrow():
    m = lab_boot()
    pid = start_hog(m, "run hog 1M touch hold &", "1M")
    end_hog(m, pid)
    before = counts(m)
    size = "%dM" % (before[0] // 1024 - 24)
    pid = start_hog(m, "run hog %s touch hold &" % size, size)
    held = movable_held(m)
    _, cma_free_kb = counts(m)
    fail_unless(held > 1024 and cma_free_kb <= 65536 - held * 4,
                "a %s hog holds %d pages of the CMA area, CmaFree %d kB" % (size, held, cma_free_kb))
    end_hog(m, pid)
    fail_unless(counts(m) == before, "MemFree, CmaFree %r kB before the hog, %r after" % (before, counts(m)))


@check("cma alloc 32M takes a contiguous run of the area; MemFree and CmaFree drop by exactly 32768 kB and come back",
       15, handout="fail")
def alloc_and_free():
    m = lab_boot()
    base, size = region(m)
    warm_up(m)
    before = counts(m)
    start, end = cma_alloc(m, "32M")
    fail_unless(end - start == 32 * MB and base <= start and end <= base + size,
                "[%#x-%#x) is not 32 MB inside the area [%#x-%#x)" % (start, end, base, base + size))
    held = counts(m)
    fail_unless(held == (before[0] - 32768, before[1] - 32768), "with 32M taken %r kB, before %r" % (held, before))
    cma_free(m, start)
    fail_unless(counts(m) == before, "after cma free %r kB, before %r" % (counts(m), before))


@check("cma alloc takes the first free run the bitmap shows, aligned, never one held already", 10, handout="fail")
def first_fit_aligned():
    m = lab_boot()
    base, _ = region(m)
    warm_up(m)
    before = counts(m)
    a = cma_alloc(m, "4M")
    b = cma_alloc(m, "1M")
    c = cma_alloc(m, "8M")
    want = [(base, base + 4 * MB), (base + 4 * MB, base + 5 * MB), (base + 5 * MB, base + 13 * MB)]
    fail_unless([a, b, c] == want, "4M, 1M, 8M went to %s, first fit gives %s"
                % ([tuple(map(hex, r)) for r in (a, b, c)], [tuple(map(hex, r)) for r in want]))
    cma_free(m, b[0])
    d = cma_alloc(m, "512K")
    fail_unless(d == (base + 4 * MB, base + 4 * MB + 512 * 1024), "512K after freeing the 1M went to %s, not %#x"
                % (tuple(map(hex, d)), base + 4 * MB))
    e = cma_alloc(m, "768K")
    fail_unless(e == (base + 13 * MB, base + 13 * MB + 768 * 1024),
                "768K went to %s: 192 pages are aligned to 2^8 (1 MB), the next free 1 MB boundary is %#x"
                % (tuple(map(hex, e)), base + 13 * MB))
    out = m.cmd("cma alloc 64M")
    fail_unless("no run of 16384 pages left that earlier CMA allocations do not hold" in out,
                "64M with 13.5M held said:\n" + out)
    for r in (a, c, d, e):
        cma_free(m, r[0])
    fail_unless(counts(m) == before, "after freeing all %r kB, before %r" % (counts(m), before))


@check("migrate PID moves every page while the program runs and frees each old frame", 20, handout="fail")
def migrate_a_running_hog():
    m = lab_boot()
    pid = start_hog(m, "run hog 1M touch hold &", "1M")
    end_hog(m, pid)
    start_counts = counts(m)
    pid = start_hog(m, "run hog 32M touch verify churn hold=10 &", "32M")
    rss = rss_pages(m, pid)
    before = counts(m)
    v0 = qemu.vmstat_values(m)
    moved, failed, first = migrate(m, pid)
    v1 = qemu.vmstat_values(m)
    fail_unless(failed == 0 and moved == rss, "%d moved, %d not moved of the %d resident pages %s"
                % (moved, failed, rss, first))
    fail_unless(v1["pgmigrate_success"] - v0["pgmigrate_success"] == moved,
                "pgmigrate_success grew by %d for %d moves" % (v1["pgmigrate_success"] - v0["pgmigrate_success"], moved))
    fail_unless(counts(m) == before, "MemFree, CmaFree %r kB after moving every page, %r before: the old frames "
                "must be freed as the new ones are taken" % (counts(m), before))
    finish_hog(m, pid)
    fail_unless(counts(m) == start_counts, "after the hog %r kB, before it %r" % (counts(m), start_counts))


@check("cma alloc 64M takes the whole area from under a living hog: its pages migrate out, it never notices",
       20, handout="fail")
def alloc_migrates_a_hog():
    m = lab_boot()
    warm_up(m)
    before = counts(m)
    # A first hog fills the memory outside the area; the second then
    # spills into it; the first ends, leaving room to move to.
    small = start_hog(m, "run hog 64M touch hold &", "64M")
    big_mb = counts(m)[0] // 1024 - 40
    big = start_hog(m, "run hog %dM touch verify hold=15 &" % big_mb, "%dM" % big_mb)
    held = movable_held(m)
    fail_unless(held > 1024, "the hog holds only %d pages of the area" % held)
    end_hog(m, small)
    v0 = qemu.vmstat_values(m)
    start, end = cma_alloc(m, "64M", 240)
    fail_unless(end - start == 64 * MB, "not the whole area: [%#x-%#x)" % (start, end))
    v1 = qemu.vmstat_values(m)
    fail_unless(v1["pgmigrate_success"] - v0["pgmigrate_success"] >= held,
                "pgmigrate_success grew by %d, the hog held %d pages there"
                % (v1["pgmigrate_success"] - v0["pgmigrate_success"], held))
    out = m.cmd("cma")
    fail_unless("allocated 16384 pages" in out and "movable users hold 0 pages" in out, "after the alloc:\n" + out)
    finish_hog(m, big)
    cma_free(m, start)
    fail_unless(counts(m) == before, "MemFree, CmaFree %r kB after, %r before" % (counts(m), before))


@check("migration under injected allocation failures (fail_page_alloc, seed=9): each page whose new frame failed "
       "stays, counted, and nothing is lost", 15, handout="fail")
def migrate_with_injected_failures():
    # The budget (space) lets the boot and the hog's own 32 MB through; then
    # 10% of the page allocations fail, 20 at most: the migration's new
    # frames, half-way through.
    budget = (8192 + 4096) * 4096
    m = lab_boot("fail_page_alloc=1,10,%d,20" % budget)
    pid = start_hog(m, "run hog 32M touch verify hold=10 &", "32M")
    rss = rss_pages(m, pid)
    before = counts(m)
    v0 = qemu.vmstat_values(m)
    moved, failed, first = migrate(m, pid)
    v1 = qemu.vmstat_values(m)
    fail_unless(failed == 20 and moved + failed == rss and "no free frame to move it to" in first,
                "%d moved, %d not moved (%s) of %d resident pages; 20 injected failures expected"
                % (moved, failed, first, rss))
    fail_unless(v1["pgmigrate_fail"] - v0["pgmigrate_fail"] == failed
                and v1["pgmigrate_success"] - v0["pgmigrate_success"] == moved,
                "pgmigrate_success/fail grew by %d/%d for %d/%d" % (
                    v1["pgmigrate_success"] - v0["pgmigrate_success"], v1["pgmigrate_fail"] - v0["pgmigrate_fail"],
                    moved, failed))
    fail_unless(counts(m) == before, "MemFree, CmaFree %r kB after, %r before" % (counts(m), before))
    finish_hog(m, pid)
