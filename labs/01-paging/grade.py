# Lab 1 checks: the two-level walk (PageTables::walk and translate in
# src/mm/pgtable.rs) read through the shell's `vtop`, and checked against
# the page tables themselves as GDB reads them at the kgdb stop (kernel.gdb's
# `kpte`, and QEMU's `monitor xp` for a page table in highmem).

import re

from gradelib import boot, check, fail_unless, gdb

TITLE = "Boot and paging: the direct map and the two-level walk"

PAGE_OFFSET = 0xC0000000
PSE = 0x80


def vtop(m, addr, pid=None):
    """The shell's `vtop ADDR [PID]`, parsed: a dict with the text, the
    indexes, the PDE and PTE words (None when not printed) and, when the
    address is mapped, phys, zone and flags."""
    out = m.cmd("vtop %#x%s" % (addr, "" if pid is None else " %d" % pid))
    r = {"text": out, "pde": None, "pte": None, "phys": None}
    idx = re.search(r"pgd_index (\d+), pte_index (\d+), offset (0x[0-9a-f]+)", out)
    fail_unless(idx, "vtop %#x printed no 'pgd_index N, pte_index N, offset 0xN' line:\n%s" % (addr, out))
    r["pgd_index"], r["pte_index"], r["offset"] = int(idx.group(1)), int(idx.group(2)), int(idx.group(3), 16)
    for key in ("pde", "pte"):
        w = re.search(r"\*%s = ([0-9a-f]{8})" % key, out)
        if w:
            r[key] = int(w.group(1), 16)
    res = re.search(r"phys (0x[0-9a-f]+)\s+pfn (0x[0-9a-f]+)\s+zone (\S+)\s+flags ([A-Z ]*)", out)
    if res:
        r["phys"], r["zone"], r["flags"] = int(res.group(1), 16), res.group(3), res.group(4).split()
    return r


def gdb_vtop(text):
    """(pde, pte or None, phys or None) from the output of the GDB helper
    `vtop ADDR [PID]` (gdb/python/proc.py), which reads physical memory."""
    pde = re.search(r"PDE\[\d+\] at phys 0x[0-9a-f]+ = (0x[0-9a-f]+)", text)
    fail_unless(pde, "GDB's vtop printed no PDE:\n" + text[-1500:])
    pte = re.search(r"PTE\[\d+\] at phys 0x[0-9a-f]+ = (0x[0-9a-f]+)", text)
    phys = re.search(r"^  phys (0x[0-9a-f]+)  pfn", text, re.M)
    return (int(pde.group(1), 16), pte and int(pte.group(1), 16), phys and int(phys.group(1), 16))


def kpte(m, addr):
    """(pde, pte or None) for `addr` in swapper_pg_dir, as GDB reads them."""
    out = gdb(m, ["kpte %#x" % addr])
    w = re.search(r"pde\[\d+\] = ([0-9a-f]{8})(?:.*pte\[\d+\] = ([0-9a-f]{8}))?", out)
    fail_unless(w, "GDB's kpte %#x printed no entries:\n%s" % (addr, out[-1500:]))
    return int(w.group(1), 16), (int(w.group(2), 16) if w.group(2) else None)


@check("vtop splits an address into directory index, table index and offset", 10, handout="pass")
def indexes():
    m = boot(mem="64M")
    for a in (0xC0123456, 0xDEADBEEF, 0x08048123, 0xFFBFF000):
        r = vtop(m, a)
        want = (a >> 22, (a >> 12) & 0x3FF, a & 0xFFF)
        got = (r["pgd_index"], r["pte_index"], r["offset"])
        fail_unless(got == want, "vtop %#x: indexes %s, want %s" % (a, got, want))


@check("the direct map: PAGE_OFFSET + x reaches physical x, in the right zone", 20, handout="fail")
def direct_map():
    m = boot(mem="64M")
    # 0x123456 lies in the first 8 MB (4 KB pages, early_pt); 0x900abc and
    # 0x2345678 in 4 MB pages, the second above 16 MB (ZONE_NORMAL).
    for x, zone in ((0x123456, "DMA"), (0x900ABC, "DMA"), (0x2345678, "Normal")):
        r = vtop(m, PAGE_OFFSET + x)
        fail_unless(r["phys"] == x, "vtop %#x: phys %s, want %#x:\n%s"
                    % (PAGE_OFFSET + x, r["phys"] and hex(r["phys"]), x, r["text"]))
        fail_unless(r["zone"] == zone, "vtop %#x: zone %s, want %s" % (PAGE_OFFSET + x, r["zone"], zone))
        fail_unless("RW" in r["flags"] and "USR" not in r["flags"],
                    "vtop %#x: flags %s: the direct map is kernel read-write" % (PAGE_OFFSET + x, r["flags"]))


@check("a 4 MB page ends the walk at the directory entry", 15, handout="fail")
def large_page():
    m = boot(mem="64M")
    a = PAGE_OFFSET + 0xC01234
    r = vtop(m, a)
    fail_unless(r["pde"] is not None and r["pde"] & PSE and r["pde"] & 1,
                "vtop %#x: *pde %s is not a present 4 MB (PSE) entry:\n%s" % (a, r["pde"], r["text"]))
    fail_unless(r["pte"] is None, "vtop %#x: a 4 MB page has no page table, yet a *pte was read:\n%s" % (a, r["text"]))
    fail_unless(r["phys"] == 0xC01234 and "PSE" in r["flags"],
                "vtop %#x: phys %s flags %s, want 0xc01234 through a PSE entry"
                % (a, r["phys"] and hex(r["phys"]), r.get("flags")))
    pde, _ = kpte(m, a)
    fail_unless(pde == r["pde"], "vtop's *pde %08x differs from swapper_pg_dir's %08x (GDB)" % (r["pde"], pde))


def vmalloc(m, size):
    out = m.cmd("vmalloc %s" % size)
    a = re.search(r"0x[0-9a-f]{8}", out)
    fail_unless(a, "vmalloc %s printed no address:\n%s" % (size, out))
    return int(a.group(0), 16)


@check("a vmalloc page: the walk reads what GDB reads in swapper_pg_dir", 20, handout="fail")
def vmalloc_page():
    m = boot(mem="64M")
    area = vmalloc(m, "16K")
    frames = set()
    for page in range(4):
        a = area + page * 0x1000 + 0x10
        r = vtop(m, a)
        pde, pte = kpte(m, a)
        fail_unless((r["pde"], r["pte"]) == (pde, pte),
                    "vtop %#x: *pde %s *pte %s, GDB reads %08x %s in swapper_pg_dir:\n%s"
                    % (a, r["pde"] and "%08x" % r["pde"], r["pte"] and "%08x" % r["pte"], pde,
                       pte and "%08x" % pte, r["text"]))
        fail_unless(pte is not None and pte & 1, "GDB: %#x has no present PTE (%s)" % (a, pte))
        want = (pte & ~0xFFF) | 0x10
        fail_unless(r["phys"] == want, "vtop %#x: phys %s, the PTE says %#x" % (a, r["phys"] and hex(r["phys"]), want))
        frames.add(r["phys"] >> 12)
    fail_unless(len(frames) == 4, "the 4 pages of one vmalloc area share frames: %s" % sorted(map(hex, frames)))


@check("an unmapped address: the walk says at which step it stops", 15, handout="fail")
def unmapped():
    m = boot(mem="64M")
    r = vtop(m, 0x00400000)
    fail_unless(r["pde"] == 0 and "not mapped" in r["text"] and r["pte"] is None,
                "vtop 0x400000 (no user page table in swapper_pg_dir) must stop at an empty PDE:\n" + r["text"])
    # The guard page after a vmalloc area: a page table is there, its entry empty.
    area = vmalloc(m, "8K")
    guard = area + 0x2000
    r = vtop(m, guard)
    fail_unless(r["pde"] is not None and r["pde"] & 1 and r["pte"] == 0 and "not mapped" in r["text"],
                "vtop %#x (the guard page after an 8K vmalloc area) must read a present PDE and stop at an "
                "empty PTE:\n%s" % (guard, r["text"]))
    fail_unless("empty entry" in r["text"], "vtop %#x does not say the PTE step stopped:\n%s" % (guard, r["text"]))


@check("a process's pages: the walk through its own directory, page table in highmem", 20, handout="fail")
def process_walk():
    m = boot(mem="256M", args="highmem=128M")
    job = m.cmd("run hog 1M touch hold &")
    pid = re.search(r"\[\d+\] (\d+)", job)
    fail_unless(pid, "run hog ... & printed no job line:\n" + job)
    pid = int(pid.group(1))
    m.expect(r"holding 1M", 30)
    start = re.search(r"^([0-9a-f]{8})-([0-9a-f]{8}) rw-p 00000000 00:00 0\s*$", m.cmd("maps %d" % pid), re.M)
    fail_unless(start, "maps %d shows no anonymous area" % pid)
    a = int(start.group(1), 16)
    first, second = vtop(m, a + 0x123, pid), vtop(m, a + 0x1123, pid)
    for va, r in ((a + 0x123, first), (a + 0x1123, second)):
        fail_unless(r["phys"] is not None and r["phys"] & 0xFFF == 0x123,
                    "vtop %#x %d: not mapped or wrong offset:\n%s" % (va, pid, r["text"]))
        fail_unless({"USR", "RW"} <= set(r["flags"]) and r["zone"] == "HighMem",
                    "vtop %#x %d: flags %s zone %s; a touched user page is USR RW, from HighMem"
                    % (va, pid, r["flags"], r["zone"]))
    fail_unless(first["phys"] >> 12 != second["phys"] >> 12, "two pages of hog share a frame")
    # The page table itself is in highmem, out of the direct map: read it
    # where it is, by physical address, as the MMU does.
    table = first["pde"] & ~0xFFF
    high = re.search(r"zone  HighMem\n(?:.*\n)*?  start_pfn:\s+(\d+)", m.cmd("zoneinfo"))
    fail_unless(high and table >> 12 >= int(high.group(1)),
                "hog's page table at %#x is not in HighMem (HIGHPTE), which starts at pfn %s"
                % (table, high and high.group(1)))
    at = table + 4 * first["pte_index"]
    g = gdb(m, ["monitor xp /wx %#x" % at, "echo @@vtop\\n", "vtop %#x %d" % (a + 0x123, pid)])
    w = re.search(r"%08x: (0x[0-9a-f]+)" % at, g)
    fail_unless(w, "monitor xp %#x read nothing:\n%s" % (at, g[-1500:]))
    pte = int(w.group(1), 16)
    fail_unless(pte == first["pte"] and (pte & ~0xFFF) | 0x123 == first["phys"],
                "vtop's *pte %08x / phys %#x, but physical memory at %#x holds %08x"
                % (first["pte"] or 0, first["phys"], at, pte))
    want = gdb_vtop(g[g.index("@@vtop"):])
    fail_unless(want == (first["pde"], first["pte"], first["phys"]),
                "vtop %#x %d: the shell's walk (pde, pte, phys) %s, GDB's vtop %s"
                % (a + 0x123, pid, tuple(map(hex, (first["pde"] or 0, first["pte"] or 0, first["phys"]))),
                   tuple(hex(x or 0) for x in want)))
    # The kernel half is shared: PAGE_OFFSET's PDE is the same in hog's directory.
    k, u = vtop(m, PAGE_OFFSET + 0x1000), vtop(m, PAGE_OFFSET + 0x1000, pid)
    fail_unless(k["pde"] == u["pde"] and k["phys"] == u["phys"] == 0x1000,
                "PAGE_OFFSET + 0x1000: *pde %s in swapper_pg_dir, %s in pid %d (kernel PDEs are shared)"
                % (k["pde"], u["pde"], pid))
    m.cmd("kill %d" % pid)
