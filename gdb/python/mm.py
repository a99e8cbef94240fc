# Memory-management state read from the live kernel through QEMU's gdb stub:
# the reports. mm_walk.py has the commands that walk lists and tables.
#
# Every command here only READS memory: no kernel function is called, so it
# works at any stop (a breakpoint, kgdb, an oops) and changes nothing. The
# formats are those of the shell's reports (src/mm/vmstat.rs and friends),
# so `buddyinfo` in GDB and `buddyinfo` at the himem# prompt can be diffed.
#
# Commands (each also has `help NAME`):
#   buddyinfo, zoneinfo, slabinfo, dmesg   the shell's reports, byte for byte
#   page PFN [OFF [LEN]] mem_map[PFN] decoded; the frame's bytes (physical)
# Pretty printers for kernel::mm::page::Page and kernel::mm::mmzone::Zone,
# and the functions $page(PFN) and $zone(N) to print one: `print $zone(1)`.
# The mm structures read here (the node, zones, mem_map, page flags) are
# used by mm_walk.py and proc.py too (`import himem_mm`).
#
# Loaded as the module himem_mm (rust.py says how; the readers of Rust
# values are there).

_SHARED_BEFORE = dict(globals()) if __name__ == "__main__" else None

import os  # noqa: E402
import sys  # noqa: E402

import gdb  # noqa: E402
import gdb.printing  # noqa: E402

if "himem_rust" not in sys.modules:  # sourced by hand: the readers first
    gdb.execute("source " + os.path.join(os.path.dirname(os.path.abspath(__file__)), "rust.py"))
from himem_rust import (PAGE_SHIFT, PAGE_SIZE, Printer, RustLanguage, commands, held_note, load_as_module,  # noqa: E402
                        num, once_ready, parse_address, read_phys, read_u32s, rust_str, static, unwrap)

MAX_ORDER = 11
NIL = 0xFFFFFFFF  # mm::list's "no page" link

# ---------------------------------------------------------------------------
# The kernel's mm structures

# Page flags (src/mm/page.rs, after Linux's PG_*), bit -> name.
PAGE_FLAGS = [
    (0, "reserved"),
    (2, "slab"),
    (3, "highmem"),
    (4, "lru"),
    (5, "active"),
    (6, "referenced"),
    (7, "unevictable"),
    (8, "mlocked"),
    (9, "dirty"),
    (10, "swapbacked"),
    (11, "writeback"),
    (12, "locked"),
    (13, "head"),
    (14, "tail"),
    (15, "swapcache"),
]
PG = {name: bit for bit, name in PAGE_FLAGS}
ZONE_SHIFT = 30  # page->flags' top two bits: the zone (Linux's ZONES_PGSHIFT)
# A descriptor is eight words (flags, _count, _mapcount, private, lru.prev,
# lru.next, mapping, index: src/mm/page.rs); read as words, not through the
# debug type, so that a whole stretch of mem_map costs one stub read.
PAGE_DESC_SIZE = 32
PAGE_BUDDY_MAPCOUNT_VALUE = -128
ZONE_NAMES = ["DMA", "Normal", "HighMem", "Movable"]
LRU_NAMES = ["inactive_anon", "active_anon", "unevictable"]


def node():
    """NODE_DATA(0): the kernel's one mmzone::Node (after mm_init)."""
    once = static("kernel::mm::mmzone::NODE")
    if not once_ready(once):
        raise gdb.GdbError("the memory node is not built yet (stopped before mm_init)")
    return unwrap(once["data"])


def zones():
    n = node()
    return [n["zones"][i] for i in range(4)]


def zone_name(z):
    return ZONE_NAMES[int(z["kind"])]


def populated(z):
    return int(z["present"]) != 0


def mem_map():
    """(address of mem_map[0], number of descriptors)."""
    base, n = num(static("kernel::mm::mmzone::MEM_MAP")), num(static("kernel::mm::mmzone::MEM_MAP_LEN"))
    if n == 0:
        raise gdb.GdbError("mem_map is not built yet (stopped before mm_init)")
    return base, n


def page_type():
    return gdb.lookup_type("kernel::mm::page::Page")


def page_at(pfn):
    base, n = mem_map()
    if pfn >= n:
        raise gdb.GdbError("pfn %#x is beyond max_pfn (%#x): mem_map has no descriptor for it" % (pfn, n))
    return gdb.Value(base + pfn * page_type().sizeof).cast(page_type().pointer()).dereference()


def page_words(pfn):
    """The eight words of mem_map[pfn], decoded: one read instead of eight."""
    base, n = mem_map()
    if pfn >= n:
        raise gdb.GdbError("pfn %#x is beyond max_pfn (%#x): mem_map has no descriptor for it" % (pfn, n))
    w = read_u32s(base + PAGE_DESC_SIZE * pfn, 8)
    return page_fields(w)


def signed(x):
    return x - (1 << 32) if x & 0x80000000 else x


def page_fields(w):
    return {
        "flags": w[0],
        "count": signed(w[1]),
        "mapcount": signed(w[2]),
        "private": w[3],
        "prev": w[4],
        "next": w[5],
        "mapping": w[6],
        "index": w[7],
    }


def flags_str(word):
    names = [n for bit, n in PAGE_FLAGS if word & (1 << bit)]
    return "|".join(names) if names else "0"


def zone_lock(z):
    """The zone's BuddyZone (the free lists behind zone->lock)."""
    return unwrap(z["lock"])


# ---------------------------------------------------------------------------
# Reports, each formatted as the shell's (the Rust function it mirrors is
# named); they return text so that tests and other commands can reuse them.


def buddyinfo_text():
    """mm::vmstat::buddyinfo: free blocks per order, per populated zone."""
    out = []
    for z in zones():
        if not populated(z):
            continue
        areas = zone_lock(z)["free_area"]
        line = "Node 0, zone %8s " % zone_name(z)
        line += "".join("%6d " % int(areas[o]["nr_free"]) for o in range(MAX_ORDER))
        out.append(line)
    text = "\n".join(out) + "\n" if out else ""
    return text + held_note("the free lists", [("zone %s's lock" % zone_name(z), z["lock"]) for z in zones()])


COMMANDS = []  # (name, report, help, category), made gdb commands by register()


def _command(name, report, doc):
    COMMANDS.append((name, report, doc, gdb.COMMAND_DATA))


def no_args(text):
    """The report of a command that takes no argument: one given is named,
    not ignored (`buddyinfo Normal` does not show one zone)."""
    def report(arg):
        if arg:
            raise gdb.GdbError("takes no arguments (got %r)" % arg)
        return text()
    return report

_command("buddyinfo", no_args(buddyinfo_text),
         """buddyinfo: free blocks per order and zone, as the shell's buddyinfo (/proc/buddyinfo).""")


def pcp_of(z):
    return unwrap(z["pcp"])


def zone_free(z):
    """Zone::nr_free_pages: buddy pages plus pcp pages, as their lock holders
    last published them."""
    return num(z["buddy_free"]) + num(z["pcp_free"])


def zoneinfo_text():
    """mm::vmstat::zoneinfo, line for line."""
    out = []
    for z in zones():
        wm = [num(z["watermark"][i]) for i in range(3)]
        res = [num(z["lowmem_reserve"][j]) for j in range(4)]
        out.append("Node 0, zone %8s" % zone_name(z))
        out.append("  pages free     %d" % zone_free(z))
        out.append("        min      %d" % wm[0])
        out.append("        low      %d" % wm[1])
        out.append("        high     %d" % wm[2])
        out.append("        spanned  %d" % int(z["spanned"]))
        out.append("        present  %d" % int(z["present"]))
        out.append("        managed  %d" % int(z["managed"]))
        out.append("        protection: (%d, %d, %d, %d)" % tuple(res))
        if not populated(z):
            continue
        pcp = pcp_of(z)
        out.append("      nr_free_pages %d" % zone_free(z))
        out.append("      kswapd_wakeups %d" % num(z["kswapd_wakeups"]))
        out.append("  pagesets")
        out.append("    cpu: 0")
        out.append("              count: %d" % int(pcp["count"]))
        out.append("              high:  %d" % int(pcp["high"]))
        out.append("              batch: %d" % int(pcp["batch"]))
        out.append("  start_pfn:           %d" % int(z["start_pfn"]))
    locks = [(name % zone_name(z), z[f]) for z in zones() for name, f in (("zone %s's lock", "lock"), ("zone %s's pcp lock", "pcp"))]
    return "\n".join(out) + "\n" + held_note("the free counts", locks)


_command("zoneinfo", no_args(zoneinfo_text),
         """zoneinfo: zones, watermarks, reserves and pcp lists, as the shell's zoneinfo (/proc/zoneinfo).""")


MAX_CACHES = 64


def slab_stats(c):
    """KmemCache::stats: one /proc/slabinfo 2.1 line's numbers."""
    full, partial, free = (int(c[l]["len"]) for l in ("slabs_full", "slabs_partial", "slabs_free"))
    num_slabs = full + partial + free
    per = int(c["num"])
    num_objs = num_slabs * per
    ac = c["ac"]
    return (num_objs - int(c["free_objects"]), num_objs, int(c["buffer_size"]), per,
            0 if int(c["id"]) == 0 else 1 << int(c["order"]),
            int(ac["limit"]), int(ac["batchcount"]), 0, full + partial, num_slabs, 0)


def slab_caches():
    """(name, KmemCache value) of every registered cache, in the order the
    shell's slabinfo lists them (registry slots from the last)."""
    ids = static("kernel::mm::slab_common::IDS")
    caches = static("kernel::mm::slab_common::CACHES")
    found = []
    for slot in reversed(range(MAX_CACHES)):
        if num(ids[slot]) != 0:
            c = unwrap(caches[slot])["cache"]
            found.append((rust_str(c["name"]), c, caches[slot]))
    return found


SLABINFO_HEADER = (
    "slabinfo - version: 2.1\n"
    "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> "
    ": tunables <limit> <batchcount> <sharedfactor> "
    ": slabdata <active_slabs> <num_slabs> <sharedavail>\n")


def slabinfo_text():
    """mm::slab_common::slabinfo (version 2.1)."""
    out = SLABINFO_HEADER
    locks = []
    for name, c, lock in slab_caches():
        s = slab_stats(c)
        out += ("%-17s %6d %6d %6d %4d %4d : tunables %4d %4d %4d : slabdata %6d %6d %6d\n"
                % ((name,) + s))
        locks.append(("the lock of %s" % name, lock))
    return out + held_note("its counts", locks)


_command("slabinfo", no_args(slabinfo_text),
         """slabinfo: the slab caches, as the shell's slabinfo (/proc/slabinfo version 2.1).""")


LOG_HEADER = 1 + 8 + 2  # kernel::logbuf: level, time in us, text length


def log_records():
    """(level, time_us, text bytes) of every record in the printk ring,
    oldest first (kernel::logbuf::LogBuf::records)."""
    log = unwrap(static("kernel::kernel::printk::LOG"))["buf"]
    ring = log["buf"]
    n = ring.type.strip_typedefs().sizeof
    data = bytes(gdb.selected_inferior().read_memory(ring.address, n))
    head, used = int(log["head"]), int(log["used"])
    recs, off = [], 0
    while off < used:
        def at(i):
            return data[(head + off + i) % n]
        level = at(0)
        time_us = int.from_bytes(bytes(at(1 + i) for i in range(8)), "little")
        length = at(9) | at(10) << 8
        start = (head + off + LOG_HEADER) % n
        text = data[start:start + length] if start + length <= n else data[start:] + data[:start + length - n]
        recs.append((level, time_us, text))
        off += LOG_HEADER + length
    return recs


def dmesg_text():
    """kernel::printk::dmesg: `[seconds.micros] text` per record."""
    lines = []
    for level, t, text in log_records():
        lines.append("[%5d.%06d] " % (t // 1000000, t % 1000000) + text.decode("utf-8", "replace"))
    return "".join(line + "\n" for line in lines)


_command("dmesg", no_args(dmesg_text),
         """dmesg: the kernel log ring, as the shell's dmesg.""")

# ---------------------------------------------------------------------------
# Pretty printers: `print` of a page descriptor or a zone shows what it means.


def page_pfn(addr):
    """The pfn of the descriptor at `addr`, if it is in mem_map."""
    base, n = mem_map()
    if base <= addr < base + PAGE_DESC_SIZE * n and (addr - base) % PAGE_DESC_SIZE == 0:
        return (addr - base) // PAGE_DESC_SIZE
    return None


def describe_page(w, pfn=None):
    """One line for a page descriptor's words (page_fields)."""
    parts = []
    if pfn is not None:
        parts.append("pfn %#x (%s, phys %#x)" % (pfn, ZONE_NAMES[w["flags"] >> ZONE_SHIFT], pfn << PAGE_SHIFT))
    parts.append("flags %s" % flags_str(w["flags"]))
    if w["mapcount"] == PAGE_BUDDY_MAPCOUNT_VALUE:
        mt = ["Unmovable", "Reclaimable", "Movable", "Reserve", "CMA", "Isolate"]
        parts.append("free block of order %d on the %s list" % (w["private"], mt[w["index"]] if w["index"] < 6 else "?"))
    else:
        parts.append("refcount %d" % w["count"])
        # _mapcount starts at -1 as in Linux (page_mapcount() adds 1).
        parts.append("mapcount %d" % (w["mapcount"] + 1))
        if w["flags"] & (1 << PG["head"]):
            parts.append("order %d" % w["private"])
        elif w["flags"] & (1 << PG["swapcache"]):
            parts.append("swap entry %#x" % w["private"])
        if w["flags"] & (1 << PG["slab"]):
            parts.append("slab cache id %#x" % w["mapping"])
        elif w["mapping"] & 1:
            parts.append("anon" + (" (anon_vma %#x)" % (w["mapping"] & ~1) if w["mapping"] & ~1 else ""))
        elif w["mapping"]:
            parts.append("mapping %#x" % w["mapping"])
    if w["next"] != NIL or w["prev"] != NIL:
        link = lambda x: "-" if x == NIL else "%#x" % x
        parts.append("lru prev %s next %s" % (link(w["prev"]), link(w["next"])))
    return ", ".join(parts)


class PagePrinter(Printer):
    """kernel::mm::page::Page: pfn, zone, flags, refcount and map count, the
    order of a free block or compound head."""

    def text(self):
        v = self.val
        words = [num(v[f]) & 0xFFFFFFFF for f in ("flags", "count", "mapcount", "private")]
        links = unwrap(v["lru"])
        words += [num(links["prev"]), num(links["next"])]
        words += [num(v[f]) & 0xFFFFFFFF for f in ("mapping", "index")]
        pfn = page_pfn(int(v.address)) if v.address is not None else None
        return "page " + describe_page(page_fields(words), pfn)


class ZonePrinter(Printer):
    """kernel::mm::mmzone::Zone: name, pfn range, free pages, watermarks."""

    def text(self):
        z = self.val
        start, n = int(z["start_pfn"]), int(z["nr_pfns"])
        wm = [num(z["watermark"][i]) for i in range(3)]
        s = "zone %s" % zone_name(z)
        if not populated(z):
            return s + " (empty)"
        return (s + " pfn [%#x, %#x) free %d (pcp %d) of %d managed, %d present; min %d low %d high %d"
                % (start, start + n, zone_free(z), num(z["pcp_free"]), int(z["managed"]), int(z["present"]), *wm))


def build_printers():
    pp = gdb.printing.RegexpCollectionPrettyPrinter("himem-mm")
    pp.add_printer("page", r"^kernel::mm::page::Page$", PagePrinter)
    pp.add_printer("zone", r"^kernel::mm::mmzone::Zone$", ZonePrinter)
    return pp


_command("page", lambda arg: page_text(arg),
         """page PFN [OFFSET [LEN]]: the descriptor of frame PFN (mem_map[PFN]),
decoded: zone, flags, reference and map counts, and what the page is (a free
block of the buddy allocator, a compound head, a slab page, anonymous, in the
swap cache); with OFFSET, also LEN bytes (default 16) of the frame's contents
from OFFSET, read from physical memory (highmem frames included). Each
argument is a GDB expression: `page 0x1f000`, `page $pfn 0x10 32`.""")


def page_text(arg):
    words = arg.split()
    if not 1 <= len(words) <= 3:
        raise gdb.GdbError("usage: page PFN [OFFSET [LEN]] (got %r)" % arg)
    vals = [parse_address("page", w, what) for w, what in zip(words, ("PFN", "OFFSET", "LEN"))]
    pfn = vals[0]
    out = "page " + describe_page(page_words(pfn), pfn) + "\n"
    if len(vals) > 1:
        off = vals[1]
        n = vals[2] if len(vals) > 2 else 16
        if off + n > PAGE_SIZE or n % 4 or n == 0:
            raise gdb.GdbError("page: OFFSET %#x + LEN %#x must stay in the page (%#x), LEN a multiple of 4"
                               % (off, n, PAGE_SIZE))
        data = read_phys((pfn << PAGE_SHIFT) + off, n)
        for i in range(0, n, 16):
            ws = [int.from_bytes(data[j:j + 4], "little") for j in range(i, min(i + 16, n), 4)]
            out += "  phys %#010x: %s\n" % ((pfn << PAGE_SHIFT) + off + i, " ".join("0x%08x" % w for w in ws))
    return out


class PageFunction(gdb.Function):
    """$page(PFN): mem_map[PFN], the page descriptor (`print $page(0x1000)`
    shows it through the pretty printer; `print $page(0x1000).count` a field)."""

    def __init__(self):
        super().__init__("page")

    def invoke(self, pfn):
        try:
            with RustLanguage():
                return page_at(int(pfn) & 0xFFFFFFFF)
        except gdb.MemoryError as e:
            raise gdb.GdbError("$page: %s" % e)


class ZoneFunction(gdb.Function):
    """$zone(N): zone N of the node (0 DMA, 1 Normal, 2 HighMem, 3 Movable)."""

    def __init__(self):
        super().__init__("zone")

    def invoke(self, n):
        i = int(n)
        if not 0 <= i < 4:
            raise gdb.GdbError("$zone: 0 DMA, 1 Normal, 2 HighMem, 3 Movable")
        try:
            with RustLanguage():
                return zones()[i]
        except gdb.MemoryError as e:
            raise gdb.GdbError("$zone: %s" % e)


# The readers other helpers may use (exported to the shared namespace).


# What stays in GDB's shared namespace, for `python ...` at the prompt.
EXPORTS = ["node", "zones", "mem_map", "page_words", "flags_str", "describe_page"]


def register():
    commands(COMMANDS)
    gdb.printing.register_pretty_printer(None, build_printers(), replace=True)
    PageFunction()
    ZoneFunction()


if __name__ == "__main__":
    load_as_module(globals(), _SHARED_BEFORE, "mm")
