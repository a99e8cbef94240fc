"""Lab 5: vmalloc and the lazy page-directory sync. `make grade LAB=5`."""

import re

from gradelib import boot, check, fail_unless, gdb, ktest

TITLE = "vmalloc and the lazy page-directory sync"

# At 256 MB the vmalloc area starts at 0xd07e0000, 128 KB below a 4 MB
# boundary: the kernel stacks of a few forks already need a PDE that the
# processes' directories were made without.
MEM = "256M"
KWALK = "source labs/05-vmalloc/kwalk.py"


def vmallocinfo(m):
    """[(start, end, size, pages)] of the vmalloc areas."""
    out = m.cmd("vmallocinfo")
    areas = [(int(mt.group(1), 16), int(mt.group(2), 16), int(mt.group(3)), int(mt.group(4)))
             for mt in re.finditer(r"^(0x[0-9a-f]+)-(0x[0-9a-f]+)\s+(\d+) .* pages=(\d+) vmalloc$", out, re.M)]
    fail_unless(areas, "no vmalloc area in vmallocinfo:\n" + out)
    return areas


def meminfo(m, field):
    m.cmd("drain")
    out = m.cmd("meminfo")
    mt = re.search(r"^%s:\s+(\d+) kB" % field, out, re.M)
    fail_unless(mt, "no %s in meminfo:\n%s" % (field, out[:300]))
    return int(mt.group(1))


def vmalloc(m, size):
    out = m.cmd("vmalloc " + size)
    mt = re.search(r"^(0x[0-9a-f]{8})$", out, re.M)
    fail_unless(mt, "vmalloc %s failed:\n%s" % (size, out))
    return int(mt.group(1), 16)


def vfree(m, addr):
    out = m.cmd("vfree %#x" % addr)
    fail_unless(out.strip() == "", "vfree %#x: %s" % (addr, out))


def kwalk(m, addrs):
    out = gdb(m, [KWALK] + ["kwalk %#x" % a for a in addrs])
    lines = re.findall(r"^swapper_pg_dir .*$", out, re.M)
    fail_unless(len(lines) == len(addrs), "GDB's kwalk printed %d walks for %d addresses:\n%s"
                % (len(lines), len(addrs), out[-1500:]))
    return lines


@check("vmallocinfo: every area is its pages plus one guard page, and VmallocUsed counts the pages", 10,
       handout="pass")
def report():
    m = boot(mem=MEM)
    areas = vmallocinfo(m)
    for start, end, size, pages in areas:
        fail_unless(end - start == size == (pages + 1) * 4096,
                    "area %#x-%#x: size %d for %d pages (expected pages + a guard page)" % (start, end, size, pages))
    for (_, end, _, _), (start, _, _, _) in zip(areas, areas[1:]):
        fail_unless(end <= start, "areas overlap at %#x" % start)
    used = meminfo(m, "VmallocUsed")
    fail_unless(used == 4 * sum(a[3] for a in areas), "VmallocUsed %d kB, the areas hold %d pages"
                % (used, sum(a[3] for a in areas)))


@check("vmalloc 4M takes 1024 frames and maps them; vfree gives all 1024 back and clears the PTEs (GDB)", 15,
       handout="pass")
def vfree_gives_back():
    m = boot(mem=MEM)
    before = meminfo(m, "MemFree")
    a = vmalloc(m, "4M")
    held = meminfo(m, "MemFree")
    fail_unless(before - held >= 4096, "MemFree fell by only %d kB for a 4 MB area" % (before - held))
    probe = [a, a + 2 * 1024 * 1024, a + 4 * 1024 * 1024 - 4096]
    mapped = kwalk(m, probe + [a + 4 * 1024 * 1024])
    for line in mapped[:3]:
        fail_unless("present, frame" in line, "a page of the area is not mapped in swapper_pg_dir:\n" + line)
    fail_unless("present, frame" not in mapped[3], "the guard page is mapped:\n" + mapped[3])
    vfree(m, a)
    after = meminfo(m, "MemFree")
    fail_unless(after - held == 4096, "vfree gave back %d kB of a 4096 kB area" % (after - held))
    for line in kwalk(m, probe):
        fail_unless("present, frame" not in line, "a page is still mapped after vfree:\n" + line)
    fail_unless(all(a != s for s, _, _, _ in vmallocinfo(m)), "the area is still in vmallocinfo after vfree")


@check("first fit: a freed gap is used again, and vmalloc/vfree cycles take no new page tables", 30,
       handout="fail")
def first_fit():
    m = boot(mem=MEM)
    a = vmalloc(m, "64K")
    b = vmalloc(m, "64K")
    fail_unless(b == a + 17 * 4096, "the second 64K area is at %#x, not right after the first (%#x + 64K + guard)"
                % (b, a))
    vfree(m, a)
    c = vmalloc(m, "16K")
    fail_unless(c == a, "after vfree(%#x), vmalloc 16K went to %#x, not into the freed gap" % (a, c))
    d = vmalloc(m, "64K")
    fail_unless(d == b + 17 * 4096, "a 64K area that fits no gap went to %#x, not after the last area (%#x)"
                % (d, b + 17 * 4096))
    for x in (b, c, d):
        vfree(m, x)
    # Warm: the page tables a first 4 MB needs stay (kernel page tables are never freed).
    first = vmalloc(m, "4M")
    vfree(m, first)
    before = meminfo(m, "MemFree")
    for i in range(4):
        x = vmalloc(m, "4M")
        vfree(m, x)
        fail_unless(x == first, "cycle %d: vmalloc 4M at %#x, not at %#x where the same request fitted" % (i, x, first))
    after = meminfo(m, "MemFree")
    fail_unless(after == before, "4 vmalloc/vfree cycles of 4M left MemFree %d kB lower" % (before - after))


@check("fork works when the child's kernel stack needs a PDE the parent's directory lacks", 25, handout="fail")
def fork_across_a_fresh_pde():
    m = boot(mem=MEM)
    try:
        out = m.cmd("run stress 200 16K", 60)
    except AssertionError as e:
        oops = re.search(r"BUG: unable to handle page fault.*?EIP: [^\n]*", str(e), re.S)
        fail_unless(False, "the kernel died during `run stress 200 16K`:\n" + (oops.group(0) if oops else str(e)[-800:]))
    fail_unless("all verified" in out, "stress did not verify:\n" + out[-600:])
    syncs = re.search(r"^vmalloc PDE syncs: (\d+)$", gdb(m, [KWALK, "vmallocsyncs"]), re.M)
    fail_unless(syncs and int(syncs.group(1)) > 0, "no PDE was ever copied into a process's directory")


@check("a vmalloc area made after a page directory is reached from it through one fault per PDE (ktest)", 20,
       handout="fail")
def lazy_sync_ktest():
    name = "mm::vmalloc::vmalloc_area_reaches_another_pgd_lazily"
    try:
        v = ktest(name)
    except AssertionError as e:
        oops = re.search(r"BUG: unable to handle page fault.*?EIP: [^\n]*", str(e), re.S)
        fail_unless(False, "the kernel died in %s:\n%s" % (name, oops.group(0) if oops else str(e)[-800:]))
    fail_unless(v.get(name) == "ok", "%s: %s" % (name, v.get(name, "did not run")))
