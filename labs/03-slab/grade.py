"""Lab 3: slab caches. `make grade LAB=3`."""

import re

from gradelib import boot, check, fail_unless, gdb, ktest

TITLE = "Slab caches"

MEM = "256M"
# 200 processes at once: task_struct, mm_struct and vm_area_struct grow by
# dozens of slabs, and every object comes back when the processes end.
WORKLOAD = "run stress 200 16K"
PROCESS_CACHES = ("task_struct", "mm_struct", "vm_area_struct")
SLABWALK = "source labs/03-slab/slabwalk.py"


def slabinfo(m):
    """{name: {field: int}} from the shell's /proc/slabinfo 2.1."""
    out = m.cmd("slabinfo")
    fail_unless(out.lstrip().startswith("slabinfo - version: 2.1"), "slabinfo has no 2.1 header:\n" + out[:300])
    rows = {}
    for line in out.splitlines():
        mt = re.match(r"^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+) : tunables\s+(\d+)\s+(\d+)\s+(\d+)"
                      r" : slabdata\s+(\d+)\s+(\d+)\s+(\d+)\s*$", line)
        if mt:
            v = [int(x) for x in mt.groups()[1:]]
            rows[mt.group(1)] = dict(zip(("active_objs", "num_objs", "objsize", "objperslab", "pagesperslab",
                                          "limit", "batchcount", "sharedfactor", "active_slabs", "num_slabs",
                                          "sharedavail"), v))
    fail_unless(rows, "no cache line in slabinfo:\n" + out[:500])
    return rows


def memfree_kb(m):
    out = m.cmd("meminfo")
    mt = re.search(r"^MemFree:\s+(\d+) kB", out, re.M)
    fail_unless(mt, "no MemFree in meminfo:\n" + out[:300])
    return int(mt.group(1))


def walk(m, name=None, extra=()):
    """GDB's slabwalk at the kgdb stop: {cache: {field: int}} and, with a
    name, that cache's slabs as (list, header, s_mem, colouroff, inuse);
    GDB's whole output last (`extra`: more GDB commands at the same stop)."""
    out = gdb(m, [SLABWALK, "slabwalk" + (" " + name if name else "")] + list(extra))
    caches = {}
    for mt in re.finditer(r"^cache (\S+)\s+num\s+(\d+) colour\s+(\d+) colour_off\s+(\d+) full\s+(\d+) "
                          r"partial\s+(\d+) free\s+(\d+) free_objects\s+(\d+) free_limit\s+(\d+)$", out, re.M):
        caches[mt.group(1)] = dict(zip(("num", "colour", "colour_off", "full", "partial", "free",
                                        "free_objects", "free_limit"), map(int, mt.groups()[1:])))
    fail_unless(caches, "GDB's slabwalk printed no cache:\n" + out[-1500:])
    slabs = [(mt.group(1), int(mt.group(2), 16), int(mt.group(3), 16), int(mt.group(4)), int(mt.group(5)))
             for mt in re.finditer(r"^  slab (\S+)\s+header (0x[0-9a-f]+) s_mem (0x[0-9a-f]+) colouroff\s+(\d+) "
                                   r"inuse\s+(\d+)$", out, re.M)]
    return caches, slabs, out


@check("slabinfo agrees with the caches in memory (GDB)", 10, handout="pass")
def reports_match_memory():
    m = boot(mem=MEM)
    m.cmd("run hog 1M touch")  # a process came and went: the process caches exist
    shell = m.cmd("slabinfo")
    rows = slabinfo(m)
    for c in ("kmalloc-8", "kmalloc-96", "kmalloc-192", "kmalloc-4k", "kmalloc-8k") + PROCESS_CACHES:
        fail_unless(c in rows, "no %s line in slabinfo" % c)
    caches, _, out = walk(m, extra=["slabinfo"])
    # The project's GDB slabinfo (gdb/python/mm.py) formats memory as the shell does.
    for line in shell.splitlines():
        fail_unless(line in out.splitlines(), "the shell's slabinfo line is not GDB's:\n" + line)
    for name, r in rows.items():
        fail_unless(name in caches, "slabinfo lists %s, GDB finds no such cache" % name)
        c = caches[name]
        slabs = c["full"] + c["partial"] + c["free"]
        fail_unless((r["num_slabs"], r["active_slabs"], r["objperslab"]) == (slabs, c["full"] + c["partial"], c["num"]),
                    "%s: slabinfo says %d slabs (%d active) of %d objects, memory holds %d full, %d partial, "
                    "%d free of %d" % (name, r["num_slabs"], r["active_slabs"], r["objperslab"], c["full"],
                                       c["partial"], c["free"], c["num"]))
        fail_unless(r["num_objs"] - r["active_objs"] == c["free_objects"],
                    "%s: slabinfo says %d free objects, the cache counts %d"
                    % (name, r["num_objs"] - r["active_objs"], c["free_objects"]))


@check("the in-kernel slab tests pass (ktest mm::slab)", 15, handout="pass")
def slab_ktests():
    v = ktest("mm::slab::", mem="512M")
    bad = {k: x for k, x in v.items() if x != "ok" and not x.startswith("ignored")}
    fail_unless(not bad, "failed: %s" % bad)


@check("after processes come and go and a shrink, no page is leaked and the slabs are gone", 15, handout="pass")
def counts_come_back():
    m = boot(mem=MEM)
    # The first run grows tables that stay (the task table, the pid map):
    # measure from the second.
    m.cmd(WORKLOAD, 60)
    m.cmd("shrink")
    m.cmd("drain")
    before = memfree_kb(m)
    m.cmd(WORKLOAD, 60)
    during = slabinfo(m)
    fail_unless(during["task_struct"]["num_slabs"] > 0, "no task_struct slab after 200 processes")
    m.cmd("shrink")
    m.cmd("drain")
    after = memfree_kb(m)
    rows = slabinfo(m)
    for c in PROCESS_CACHES:
        fail_unless(rows[c]["active_objs"] == 0 and rows[c]["num_slabs"] == 0,
                    "%s after the processes ended and a shrink: %d objects in use, %d slabs"
                    % (c, rows[c]["active_objs"], rows[c]["num_slabs"]))
    fail_unless(after == before, "MemFree %d kB before the workload, %d kB after it and a shrink: %d kB leaked"
                % (before, after, before - after))


@check("empty slabs go back to the page allocator once a cache holds more than free_limit free objects",
       35, handout="fail")
def empty_slabs_given_back():
    m = boot(mem=MEM)
    m.cmd(WORKLOAD, 60)
    rows = slabinfo(m)
    # What the shell reports: an empty slab (num_slabs - active_slabs) may
    # stay only while the free objects are at most free_limit =
    # 2 * ceil(limit / 2) + objperslab (Linux's cache_flusharray rule).
    over = []
    for name, r in rows.items():
        free_slabs = r["num_slabs"] - r["active_slabs"]
        free_objs = r["num_objs"] - r["active_objs"]
        limit = 2 * ((r["limit"] + 1) // 2) + r["objperslab"]
        if free_slabs and free_objs > limit:
            over.append("%s: %d empty slabs kept with %d free objects (free_limit %d)"
                        % (name, free_slabs, free_objs, limit))
    fail_unless(not over, "after the processes ended:\n" + "\n".join(over))
    # What memory holds (GDB): the same rule on the cache's own counters.
    caches, _, _ = walk(m)
    over = ["%s: %d empty slabs, free_objects %d > free_limit %d" % (n, c["free"], c["free_objects"], c["free_limit"])
            for n, c in caches.items() if c["free"] and c["free_objects"] > c["free_limit"]]
    fail_unless(not over, "in memory (GDB):\n" + "\n".join(over))
    fail_unless(rows["task_struct"]["num_slabs"] < 200 // rows["task_struct"]["objperslab"],
                "task_struct keeps %d slabs after its 200 objects were freed" % rows["task_struct"]["num_slabs"])


@check("slab colouring: successive slabs of a cache start their objects at different offsets (GDB)",
       25, handout="fail")
def colouring():
    m = boot(mem=MEM)
    m.cmd(WORKLOAD, 60)
    cache = "mm_struct"
    caches, slabs, _ = walk(m, cache)
    c = caches[cache]
    fail_unless(c["colour"] >= 2, "%s has %d colours: nothing to check (its layout changed?)" % (cache, c["colour"]))
    fail_unless(len(slabs) >= c["colour"], "%s has only %d slabs after the workload" % (cache, len(slabs)))
    offs = sorted({s[3] for s in slabs})
    for lst, hdr, s_mem, off, _ in slabs:
        fail_unless(off % c["colour_off"] == 0 and off < c["colour"] * c["colour_off"],
                    "slab %#x: colour offset %d is not a multiple of %d below %d"
                    % (hdr, off, c["colour_off"], c["colour"] * c["colour_off"]))
        fail_unless(s_mem - hdr >= off, "slab %#x: object 0 at +%d, before its colour offset %d"
                    % (hdr, s_mem - hdr, off))
    fail_unless(len(offs) == c["colour"],
                "%s: %d slabs, %d colours of %d bytes, but the slabs use the offsets %s"
                % (cache, len(slabs), c["colour"], c["colour_off"], offs))
