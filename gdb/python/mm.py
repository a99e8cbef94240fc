# Memory-management state read from the live kernel through QEMU's gdb stub.
#
# Every command here only READS memory: no kernel function is called, so it
# works at any stop (a breakpoint, kgdb, an oops) and changes nothing. The
# formats are those of the shell's reports (src/mm/vmstat.rs and friends),
# so `buddyinfo` in GDB and `buddyinfo` at the himem# prompt can be diffed.
#
# Commands (each also has `help NAME`):
#   buddyinfo, zoneinfo, slabinfo, dmesg   the shell's reports, byte for byte
#   freelists [ZONE]     every buddy free list walked and checked
#   lru ZONE [N]         the LRU lists: lengths, counters, first N pages
#   swapinfo             /proc/swaps, then each area's slots
#   kmaps                the shell's kmaps, PTEs checked; kmap_atomic slots
#   page PFN [OFF [LEN]] mem_map[PFN] decoded; the frame's bytes (physical)
# Pretty printers for kernel::mm::page::Page and kernel::mm::mmzone::Zone,
# and the functions $page(PFN) and $zone(N) to print one: `print $zone(1)`.
#
# The first half is reusable readers for Rust values (statics by path, the
# wrappers around them, slices, strings, enums, physical memory); the second
# half the commands and the pretty printers.

# kernel.gdb sources every gdb/python/*.py into the one namespace GDB's
# Python shares. This file then loads itself again as the module
# `himem_mm` (at the end) and registers the commands from that copy, so
# that they keep working whatever a helper sourced later names its own
# functions; what this run defined is taken back out of the shared
# namespace except the readers (READERS), which other helpers may call
# (or `import himem_mm`).
_SHARED_BEFORE = dict(globals()) if __name__ == "__main__" else None

import re  # noqa: E402

import gdb  # noqa: E402
import gdb.printing  # noqa: E402

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_OFFSET = 0xC0000000
MAX_ORDER = 11
LAST_PKMAP = 1024
PKMAP_BASE = 0xFF800000
FIXADDR_TOP = 0xFFFFF000
NIL = 0xFFFFFFFF  # mm::list's "no page" link

# ---------------------------------------------------------------------------
# Readers for Rust values


def static(path):
    """The value of a Rust static by its full path ("kernel::mm::mmzone::NODE"),
    private ones included (GDB finds them through the symbol table)."""
    try:
        return gdb.parse_and_eval(path)
    except gdb.error:
        sym = gdb.lookup_static_symbol(path) or gdb.lookup_global_symbol(path)
        if sym is None:
            raise gdb.GdbError("no static %s in this kernel (stale build/kernel.elf?)" % path)
        return sym.value()


# Fields that lead from a wrapper to what it wraps, in the order tried:
# spin::Mutex/IrqLock/SpinLock (inner -> data), UnsafeCell (value),
# MaybeUninit/ManuallyDrop (value), Atomic<T> (v), newtypes (__0).
_WRAPPER_FIELDS = ("data", "value", "inner", "v", "__0", "slot")
_WRAPPERS = (
    "core::cell::",
    "core::mem::",
    "core::sync::atomic::",
    "spin::",
    "kernel::kernel::sync::",
    "kernel::mm::slab_common::slot_lock::SlotLock",
)


def unwrap(v):
    """Strip the wrappers around a Rust value: spin::Mutex and the kernel's
    IrqLock/SpinLock (the value, not the lock word), spin::Once (the value,
    whether or not initialised: check `once_ready` first), UnsafeCell,
    MaybeUninit, ManuallyDrop, Atomic<T>. Reading a locked value without the
    lock is what a debugger does: at a kgdb stop nothing else runs."""
    while True:
        t = v.type.strip_typedefs()
        if t.code not in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION):
            return v
        if not any(str(t).startswith(w) for w in _WRAPPERS):
            return v
        names = [f.name for f in t.fields()]
        for f in _WRAPPER_FIELDS:
            if f in names:
                v = v[f]
                break
        else:
            return v


def num(v):
    """A Rust integer (atomics included) as a Python int."""
    return int(unwrap(v))


def once_ready(v):
    """Whether a spin::Once has its value (status COMPLETE)."""
    return num(v["status"]) == 2


def lock_held(v):
    """Whether a spin::Mutex (or the kernel's IrqLock/SpinLock around one)
    is locked: its lock word, found by going in through `inner`."""
    while True:
        names = [f.name for f in v.type.strip_typedefs().fields()]
        if "lock" in names and str(v["lock"].type).startswith("core::sync::atomic::"):
            return num(v["lock"]) != 0
        if "lock" in names:  # a lock around a lock (the slab's SlotLock)
            v = v["lock"]
        elif "inner" in names:
            v = v["inner"]
        else:
            return False


def held_note(what, locks):
    """A last line saying which of `locks` ((name, lock value)) is held at
    this stop: what they guard may be half-updated, so a report read now
    may not add up (at a kgdb stop none is held)."""
    held = [name for name, lock in locks if lock_held(lock)]
    if not held:
        return ""
    return "note: %s held at this stop: %s may be mid-update\n" % (", ".join(held), what)


def field(v, *names):
    """v.a.b.c, unwrapping at every step."""
    for n in names:
        v = unwrap(v)[n]
    return unwrap(v)


def enum_name(v):
    """The variant name of a fieldless Rust enum ("Dma" of ZoneType::Dma)."""
    s = str(unwrap(v))
    return s.split("::")[-1]


def rust_str(v):
    """A &str as a Python str."""
    v = unwrap(v)
    ptr, n = int(v["data_ptr"]), int(v["length"])
    if n == 0:
        return ""
    return bytes(gdb.selected_inferior().read_memory(ptr, n)).decode("utf-8", "replace")


def _find_ptr_len(v):
    """(address, length) of a Vec<T> or String, whatever the std version
    nests them in (RawVec, RawVecInner, Unique, NonNull...)."""
    ptr = length = None
    stack = [v]
    while stack:
        x = stack.pop()
        t = x.type.strip_typedefs()
        if t.code == gdb.TYPE_CODE_PTR and ptr is None:
            ptr = int(x)
            continue
        if t.code != gdb.TYPE_CODE_STRUCT:
            continue
        for f in t.fields():
            if f.name == "len" and length is None:
                length = int(x[f.name])
            elif f.name in ("cap", "alloc", "_marker", "phantom"):
                continue
            else:
                stack.append(x[f.name])
    if ptr is None or length is None:
        raise gdb.GdbError("cannot find the pointer and length of %s" % v.type)
    return ptr, length


def rust_string(v):
    """An alloc::string::String as a Python str."""
    ptr, n = _find_ptr_len(unwrap(v))
    if n == 0:
        return ""
    return bytes(gdb.selected_inferior().read_memory(ptr, n)).decode("utf-8", "replace")


def vec_bytes(v, elem_size):
    """The elements of a Vec<T> as raw bytes (one read), and their count."""
    ptr, n = _find_ptr_len(unwrap(v))
    if n == 0:
        return b"", 0
    return bytes(gdb.selected_inferior().read_memory(ptr, n * elem_size)), n


def option(v):
    """The value inside Some(x), or None. GDB decodes the enum's tag or
    niche itself and shows only the active variant, as a field named
    `Some` (holding `__0`) or `None`."""
    v = unwrap(v)
    t = v.type.strip_typedefs()
    if t.code == gdb.TYPE_CODE_PTR:  # Option<&T> with the null niche
        return None if int(v) == 0 else v
    if "Some" in [f.name for f in t.fields()]:
        return v["Some"]["__0"]
    return None


def read_u32s(addr, n):
    data = bytes(gdb.selected_inferior().read_memory(addr, 4 * n))
    return [int.from_bytes(data[i:i + 4], "little") for i in range(0, 4 * n, 4)]


def read_u32(addr):
    return read_u32s(addr, 1)[0]


def _phys_mode(on):
    gdb.execute("maint packet Qqemu.PhyMemMode:%d" % (1 if on else 0), to_string=True)


def read_phys(paddr, n):
    """n bytes of physical memory at paddr, highmem included.

    Through QEMU's gdbstub physical mode (`maint packet Qqemu.PhyMemMode:1`),
    rather than `monitor xp`: the mode reads with the same binary memory
    packets as any other read, any size in one call, and the bytes need no
    parsing out of the monitor's text. Lowmem could be read at PAGE_OFFSET
    too; highmem has no kernel address until kmapped.
    The mode is switched back off even when the read fails."""
    _phys_mode(True)
    try:
        return bytes(gdb.selected_inferior().read_memory(paddr, n))
    finally:
        _phys_mode(False)


def symbol_address(name):
    """The address of a symbol that has no debug type (an assembly label)."""
    where = gdb.execute("info address %s" % name, to_string=True)
    m = re.search(r"0x[0-9a-f]+", where)
    if not m:
        raise gdb.GdbError("no symbol %s in this kernel" % name)
    return int(m.group(0), 16)


def swapper_pg_dir():
    return symbol_address("swapper_pg_dir")


def kernel_pte(vaddr):
    """The PTE for vaddr in the kernel's page directory (None: no page
    table). Kernel page tables are in lowmem, read through the direct map."""
    pde = read_u32(swapper_pg_dir() + 4 * (vaddr >> 22))
    if not pde & 1 or pde & 0x80:
        return None
    return read_u32(PAGE_OFFSET + (pde & 0xFFFFF000) + 4 * ((vaddr >> 12) & 0x3FF))


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
ZONE_SHIFT = 30
NODE_SHIFT = 28
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
    return num(static("kernel::mm::mmzone::MEM_MAP")), num(static("kernel::mm::mmzone::MEM_MAP_LEN"))


def page_type():
    return gdb.lookup_type("kernel::mm::page::Page")


def page_at(pfn):
    base, n = mem_map()
    if pfn >= n:
        raise gdb.GdbError("pfn %#x is beyond max_pfn (%#x)" % (pfn, n))
    return gdb.Value(base + pfn * page_type().sizeof).cast(page_type().pointer()).dereference()


def page_words(pfn):
    """The eight words of mem_map[pfn], decoded: one read instead of eight."""
    base, n = mem_map()
    w = read_u32s(base + 32 * pfn, 8)
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


class RustLanguage:
    """`with RustLanguage():` reads values as Rust for the block. A stop
    outside Rust code (the reset vector, an assembly stub) makes GDB's
    language C, and GDB then cannot convert some Rust integers."""

    def __enter__(self):
        self.old = gdb.parameter("language")
        if self.old != "rust":
            gdb.execute("set language rust", to_string=True)

    def __exit__(self, *exc):
        if self.old != "rust":
            gdb.execute("set language %s" % self.old, to_string=True)


class Command(gdb.Command):
    """A command whose report is a function returning text; errors from
    reading memory say what could not be read instead of a traceback."""

    def __init__(self, name, report):
        super().__init__(name, gdb.COMMAND_DATA)
        self.report = report

    def invoke(self, arg, from_tty):
        try:
            with RustLanguage():
                text = self.report(arg.strip())
        except gdb.GdbError:
            raise
        except gdb.MemoryError as e:
            raise gdb.GdbError("%s: %s (before paging is on the kernel's addresses are not mapped:"
                               " 'continue' to kmain first)" % (self._name, e))
        except gdb.error as e:
            raise gdb.GdbError("%s: %s (is build/kernel.elf the running kernel?)" % (self._name, e))
        gdb.write(text)


COMMANDS = []  # (name, report, doc), made gdb commands by register()


def _command(name, report, doc):
    COMMANDS.append((name, report, doc))


_command("buddyinfo", lambda arg: buddyinfo_text(),
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


_command("zoneinfo", lambda arg: zoneinfo_text(),
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


_command("slabinfo", lambda arg: slabinfo_text(),
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


_command("dmesg", lambda arg: dmesg_text(),
         """dmesg: the kernel log ring, as the shell's dmesg.""")


class MemMap:
    """mem_map read in chunks of 2048 descriptors (64 KB), each once: a
    list walk would otherwise cost one stub round trip per page, and
    reading all of a 2 GB machine's mem_map (16 MB) for a short list
    would be slower still."""

    CHUNK = 2048

    def __init__(self):
        self.base, self.n = mem_map()
        self.chunks = {}

    def words(self, pfn):
        if pfn >= self.n:
            raise gdb.GdbError("pfn %#x on a list is beyond max_pfn (%#x)" % (pfn, self.n))
        c = pfn // self.CHUNK
        if c not in self.chunks:
            first = c * self.CHUNK
            count = min(self.CHUNK, self.n - first)
            self.chunks[c] = bytes(gdb.selected_inferior().read_memory(self.base + 32 * first, 32 * count))
        o = 32 * (pfn % self.CHUNK)
        d = self.chunks[c]
        return page_fields([int.from_bytes(d[o + i:o + i + 4], "little") for i in range(0, 32, 4)])


def find_zone(arg):
    """The zone named by `arg` (DMA, Normal, HighMem, Movable, any case, or
    its index)."""
    names = [n.lower() for n in ZONE_NAMES]
    a = arg.lower()
    if a.isdigit() and int(a) < 4:
        return zones()[int(a)]
    if a not in names:
        raise gdb.GdbError("no zone '%s' (one of %s)" % (arg, ", ".join(ZONE_NAMES)))
    return zones()[names.index(a)]


# The flags a page on each LRU list must have, and must not (mm::lru's
# page_lru: PG_unevictable, else PG_active, else inactive).
_LRU_MUST = [(0x10, 0x20 | 0x80), (0x10 | 0x20, 0x80), (0x10 | 0x80, 0)]


def walk_list(mm, head, tail, length):
    """The pfns of an mm::list::List, following `next` from the head; stops
    after length + 1 steps so that a corrupt (cyclic) list still ends. Also
    the problems found: a broken back link, a wrong tail or length."""
    pfns, problems, prev, pfn = [], [], NIL, head
    while pfn != NIL and len(pfns) <= length:
        if pfn >= mm.n:
            problems.append("a link to pfn %#x, beyond max_pfn (%#x)" % (pfn, mm.n))
            return pfns, problems
        w = mm.words(pfn)
        if w["prev"] != prev:
            problems.append("pfn %#x: prev is %#x, not %#x" % (pfn, w["prev"], prev))
        pfns.append(pfn)
        prev, pfn = pfn, w["next"]
    if len(pfns) != length or pfn != NIL:
        problems.append("walked %d pages%s, the head says %d" % (len(pfns), "" if pfn == NIL else " (no end)", length))
    if pfns and pfns[-1] != tail:
        problems.append("the walk ends at %#x, the tail is %#x" % (pfns[-1], tail))
    return pfns, problems


def lru_text(arg):
    """`lru ZONE [N]`: the zone's LRU lists (mm::lru::LruLists)."""
    words = arg.split()
    if not words or len(words) > 2:
        raise gdb.GdbError("usage: lru ZONE [N] (ZONE: %s; N pages shown per list, default 8)" % ", ".join(ZONE_NAMES))
    z = find_zone(words[0])
    show = int(words[1]) if len(words) > 1 else 8
    out = ["Node 0, zone %8s: LRU lists (pages on the list, the zone counter nr_lru beside)" % zone_name(z)]
    if not populated(z):
        return out[0] + "\n  (empty zone)\n"
    mm = MemMap()
    zstart, zlen = int(z["start_pfn"]), int(z["nr_pfns"])
    lists = unwrap(z["lru"])["lists"]
    for i, name in enumerate(LRU_NAMES):
        l = lists[i]
        head, tail, length = int(l["head"]), int(l["tail"]), int(l["len"])
        counter = num(z["nr_lru"][i])
        pfns, problems = walk_list(mm, head, tail, length)
        must, must_not = _LRU_MUST[i]
        for pfn in pfns:
            f = mm.words(pfn)["flags"]
            if f & must != must or f & must_not:
                problems.append("pfn %#x on %s has flags %s" % (pfn, name, flags_str(f)))
            if not 0 <= pfn - zstart < zlen:
                problems.append("pfn %#x is not in zone %s" % (pfn, zone_name(z)))
        if counter != length:
            problems.append("the counter says %d" % counter)
        out.append("  %-14s %7d pages (nr_lru %d)%s" % (name, length, counter, "" if problems else ", list consistent"))
        for pfn in pfns[:show]:
            w = mm.words(pfn)
            out.append("      pfn %#07x  count %d  mapcount %d  flags %s"
                       % (pfn, w["count"], w["mapcount"] + 1, flags_str(w["flags"])))
        if len(pfns) > show:
            out.append("      ... %d more" % (len(pfns) - show))
        for p in problems[:10]:
            out.append("    BAD: " + p)
    return "\n".join(out) + "\n" + held_note("the lists", [("zone %s's lru_lock" % zone_name(z), z["lru"])])


_command("lru", lru_text,
         """lru ZONE [N]: the zone's LRU lists: pages per list against the zone's
counters, the first N pages of each (pfn, reference count, map count, flags),
and what is inconsistent (links, length, flags, zone).""")


MIGRATE_TYPES = ["Unmovable", "Reclaimable", "Movable", "Reserve", "CMA", "Isolate"]


def freelists_text(arg):
    """`freelists [ZONE]`: every free list of the buddy allocator walked
    and checked as BuddyZone::check_invariants does (mm/buddy.rs): each
    block in its zone, naturally aligned, marked free with its list's order
    and type and no reference, the links and lengths right, nr_free and
    free_area_pages equal to what the lists hold, and no free buddy left
    unmerged. What `buddyinfo` counts, proved block by block."""
    zs = [find_zone(arg)] if arg else [z for z in zones() if populated(z)]
    mm = MemMap()
    out = []
    for z in zs:
        if not populated(z):
            out.append("Node 0, zone %8s  empty" % zone_name(z))
            continue
        b = zone_lock(z)
        start, end = int(b["start_pfn"]), int(b["start_pfn"]) + int(b["spanned"])
        problems, lines, blocks, pages, cma = [], [], 0, 0, 0
        heads = {}
        for order in range(MAX_ORDER):
            area = b["free_area"][order]
            per_type, in_area = [], 0
            for mt in range(len(MIGRATE_TYPES)):
                l = area["free_list"][mt]
                pfns, bad = walk_list(mm, int(l["head"]), int(l["tail"]), int(l["len"]))
                problems += ["order %d %s list: %s" % (order, MIGRATE_TYPES[mt], x) for x in bad]
                for pfn in pfns:
                    w = mm.words(pfn)
                    if not start <= pfn or pfn + (1 << order) > end:
                        problems.append("pfn %#x: free block outside the zone" % pfn)
                    if pfn & ((1 << order) - 1):
                        problems.append("pfn %#x: order-%d block not naturally aligned" % (pfn, order))
                    if w["mapcount"] != PAGE_BUDDY_MAPCOUNT_VALUE or w["private"] != order or w["index"] != mt:
                        problems.append("pfn %#x on the order-%d %s list: mapcount %d, order %d, type %d"
                                        % (pfn, order, MIGRATE_TYPES[mt], w["mapcount"], w["private"], w["index"]))
                    if w["count"] != 0:
                        problems.append("pfn %#x: free block with refcount %d" % (pfn, w["count"]))
                    heads[pfn] = order
                if pfns:
                    per_type.append("%s %d" % (MIGRATE_TYPES[mt], len(pfns)))
                in_area += len(pfns)
                pages += len(pfns) << order
                if MIGRATE_TYPES[mt] == "CMA":
                    cma += len(pfns) << order
            if in_area != int(area["nr_free"]):
                problems.append("order %d: nr_free %d, the lists hold %d" % (order, int(area["nr_free"]), in_area))
            if in_area:
                lines.append("  order %2d: %5d blocks: %s" % (order, in_area, ", ".join(per_type)))
            blocks += in_area
        for pfn, order in heads.items():
            if order < MAX_ORDER - 1 and heads.get(pfn ^ (1 << order)) == order:
                problems.append("pfn %#x and its buddy %#x: both free at order %d, left unmerged"
                                % (min(pfn, pfn ^ (1 << order)), max(pfn, pfn ^ (1 << order)), order))
        if pages != int(b["free_area_pages"]):
            problems.append("free_area_pages %d, the lists hold %d pages" % (int(b["free_area_pages"]), pages))
        if cma != int(b["cma_free"]):
            problems.append("cma_free %d, the CMA lists hold %d pages" % (int(b["cma_free"]), cma))
        pcp = num(z["pcp_free"])
        out.append("Node 0, zone %8s  %s: %d blocks, %d pages (and %d on the pcp lists: %d free)"
                   % (zone_name(z), "free lists BAD" if problems else "free lists consistent",
                      blocks, pages, pcp, pages + pcp))
        out += lines
        out += ["  BAD: " + x for x in problems[:20]]
        if len(problems) > 20:
            out.append("  BAD: ... %d more" % (len(problems) - 20))
    text = "\n".join(out) + "\n"
    return text + held_note("the free lists", [("zone %s's lock" % zone_name(z), z["lock"]) for z in zs])


_command("freelists", freelists_text,
         """freelists [ZONE]: walk and check every buddy free list of ZONE (or of every
zone): blocks per order and migrate type, and any broken invariant (a block's
mark, order, type, alignment or zone; links, lengths, nr_free, free_area_pages;
free buddies left unmerged) as a BAD line. "free lists consistent" otherwise.""")


SWAP_MAP_BAD = 0x8000


def dyn_concrete(fat):
    """The concrete value behind a `*const dyn Trait` (fields pointer and
    vtable), found from the vtable's first word, the drop glue, whose symbol
    names the type (`drop_glue::<kernel[..]::mm::page_io::AtaSwap>`);
    None when it cannot be named."""
    vt = int(fat["vtable"])
    drop, size, align = read_u32s(vt, 3)
    sym = gdb.execute("info symbol %#x" % drop, to_string=True)
    m = re.search(r"<(.*)>", sym)
    if not m:
        return None
    name = re.sub(r"\[[0-9a-f]+\]", "", m.group(1))
    try:
        t = gdb.lookup_type(name)
    except gdb.error:
        return None
    return t, align


def arc_dyn_field(arc, field_name):
    """Field `field_name` of the concrete value in an Arc<dyn Trait>, or None.
    The value follows the two counts of ArcInner, aligned to its type."""
    fat = arc["ptr"]["pointer"]
    found = dyn_concrete(fat)
    if found is None:
        return None
    t, align = found
    if field_name not in [f.name for f in t.fields()]:
        return None
    addr = int(fat["pointer"]) + ((8 + align - 1) & ~(align - 1))
    return gdb.Value(addr).cast(t.pointer()).dereference()[field_name]


def swap_areas():
    """(type, name, SwapInfo) of every active area (swap_info[] order)."""
    areas = unwrap(static("kernel::mm::swapfile::SWAP"))["info"]
    n = areas.type.strip_typedefs().range()[1] + 1
    found = []
    for ty in range(n):
        si = option(areas[ty])
        if si is None:
            continue
        name = arc_dyn_field(si["dev"], "name")
        found.append((ty, rust_string(name) if name is not None else "?", si))
    return found


def ranges(xs):
    """"1-4, 7" for [1, 2, 3, 4, 7]."""
    out, start, prev = [], None, None
    for x in xs:
        if start is None:
            start = prev = x
        elif x == prev + 1:
            prev = x
        else:
            out.append("%d" % start if start == prev else "%d-%d" % (start, prev))
            start = prev = x
    if start is not None:
        out.append("%d" % start if start == prev else "%d-%d" % (start, prev))
    return ", ".join(out)


def swapinfo_text():
    """mm::swapfile::proc_swaps (/proc/swaps), then each area's slots from
    its swap_map, checked against the area's counters and the global ones."""
    out = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
    details = []
    total_pages = total_inuse = 0
    for ty, name, si in swap_areas():
        m = si["map"]
        pages, inuse, cached, nxt = (int(m[f]) for f in ("pages", "inuse", "cached", "next"))
        size_kb, used_kb = pages * 4, inuse * 4
        pad = 40 - len(name) if len(name) < 40 else 1
        out += "%s%s%s\t%d\t%s%d\t%s%d\n" % (name, " " * pad, "partition", size_kb,
                                           "\t" if size_kb < 10000000 else "", used_kb,
                                           "\t" if used_kb < 10000000 else "", int(si["prio"]))
        raw, n = vec_bytes(m["map"], 2)
        counts = [int.from_bytes(raw[i:i + 2], "little") for i in range(0, 2 * n, 2)]
        craw, cn = vec_bytes(m["cache"], 4)
        cache = [int.from_bytes(craw[i:i + 4], "little") for i in range(0, 4 * cn, 4)]
        used = [s for s, c in enumerate(counts) if c and c != SWAP_MAP_BAD]
        bad = [s for s, c in enumerate(counts) if c == SWAP_MAP_BAD]
        in_cache = [s for s, p in enumerate(cache) if p]
        hist = {}
        for s in used:
            hist[counts[s]] = hist.get(counts[s], 0) + 1
        d = ["%s (type %d%s): %d slots, %d in use, %d in the swap cache, next search at slot %d"
             % (name, ty, "" if bool(si["writeok"]) else ", being emptied", pages, inuse, cached, nxt)]
        d.append("  slots in use: %s" % (ranges(used) or "none"))
        if used:
            d.append("  use counts: %s" % ", ".join("%d x%d" % (hist[c], c) for c in sorted(hist)))
        if in_cache:
            d.append("  in the swap cache: %s" % ", ".join("%d (pfn %#x)" % (s, cache[s] - 1) for s in in_cache[:16])
                     + (", ..." if len(in_cache) > 16 else ""))
        d.append("  never used (header, bad pages): %s" % ranges(bad))
        if len(used) != inuse:
            d.append("  BAD: %d slots have a count, the area says %d in use" % (len(used), inuse))
        if len(in_cache) != cached:
            d.append("  BAD: %d slots have a cached page, the area says %d" % (len(in_cache), cached))
        if n - len(bad) != pages:
            d.append("  BAD: %d usable slots in the map, the area says %d" % (n - len(bad), pages))
        details += d
        total_pages += pages
        total_inuse += inuse
    vm_total = num(static("kernel::mm::vmstat::TOTAL_SWAP_PAGES"))
    vm_free = num(static("kernel::mm::vmstat::NR_SWAP_PAGES"))
    details.append("total_swap_pages %d, nr_swap_pages %d (free)" % (vm_total, vm_free))
    if vm_total != total_pages or vm_free != total_pages - total_inuse:
        details.append("BAD: the areas add up to %d slots, %d free" % (total_pages, total_pages - total_inuse))
    return out + "\n".join(details) + "\n" + held_note("the areas", [("swap_lock", static("kernel::mm::swapfile::SWAP"))])


_command("swapinfo", lambda arg: swapinfo_text(),
         """swapinfo: the swap areas as the shell's swaps (/proc/swaps), then each
area's slots: which are in use, their use counts, the pages in the swap cache,
checked against the area's and the kernel's counters.""")


KM_TYPES = ["User0", "User1", "Pte0", "Pte1", "Irq0", "Irq1", "Bounce"]  # arch::x86::mm::highmem::KmType
KMAP_HELD = 0x80


def kmaps_text(limit=256):
    """mm::pkmap::kmaps_report (the shell's kmaps, 256 slots listed at most),
    then the kmap_atomic slots held now (arch::x86::mm::highmem)."""
    pk = unwrap(static("kernel::mm::highmem::PKMAP"))
    count = [int(x) for x in read_u32s(int(pk["count"].address), LAST_PKMAP)]
    pfn = [int(x) for x in read_u32s(int(pk["pfn"].address), LAST_PKMAP)]
    out = ["slot  count  pfn       address     (count 1: free but stale, not yet flushed; n > 1: n - 1 users)"]
    hidden_used = hidden_stale = 0
    listed = 0
    for s in range(LAST_PKMAP):
        if count[s] == 0:
            continue
        if listed < limit:
            out.append("%4d  %5d  %#07x  %#010x" % (s, count[s], pfn[s], PKMAP_BASE + s * PAGE_SIZE))
        elif count[s] == 1:
            hidden_stale += 1
        else:
            hidden_used += 1
        listed += 1
    if hidden_used + hidden_stale:
        out.append("... %d more slots holding a page not listed: %d in use, %d free but stale"
                   % (hidden_used + hidden_stale, hidden_used, hidden_stale))
    in_use, stale = int(pk["in_use"]), int(pk["stale"])
    out.append("slots: %d in use, %d free, %d free but stale (flushed at the next wrap) of %d"
               % (in_use, LAST_PKMAP - in_use - stale, stale, LAST_PKMAP))
    st = pk["stats"]
    out.append("kmaps: %d new, %d reused, %d waited; %d wrap-arounds, each one full TLB flush (%d stale slots cleared)"
               % tuple(int(st[f]) for f in ("maps", "reuses", "waits", "full_flushes", "cleared")))
    if sum(1 for c in count if c >= 2) != in_use or sum(1 for c in count if c == 1) != stale:
        out.append("BAD: the counts say %d in use and %d stale"
                   % (sum(1 for c in count if c >= 2), sum(1 for c in count if c == 1)))
    # A pkmap slot's PTE (the pkmap page table) must map its page while the
    # count is >= 1; a count-0 slot's PTE is clear.
    for s in range(LAST_PKMAP):
        pte = kernel_pte(PKMAP_BASE + s * PAGE_SIZE)
        if pte is None:
            break
        if count[s] and (not pte & 1 or pte >> PAGE_SHIFT != pfn[s]):
            out.append("BAD: slot %d holds pfn %#x but its PTE is %#010x" % (s, pfn[s], pte))
        elif not count[s] and pte & 1:
            out.append("BAD: slot %d is free but its PTE is %#010x" % (s, pte))
    out.append("kmap_atomic slots (fixmap, one per type): type, slot, address, pfn")
    below_v = static("kernel::arch::x86::mm::highmem::BELOW")
    below = [num(below_v[t]) for t in range(len(KM_TYPES))]
    held = 0
    for t, name in enumerate(KM_TYPES):
        vaddr = FIXADDR_TOP - (t + 1) * PAGE_SIZE
        pte = kernel_pte(vaddr)
        mapped = pte is not None and pte & 1
        if below[t]:
            held += 1
            where = "%#07x" % (pte >> PAGE_SHIFT) if mapped else "a lowmem page (used at its direct-map address)"
            out.append("  %-6s  %d  %#010x  %s" % (name, t, vaddr, where))
        elif mapped:
            out.append("BAD: %s (slot %d) is not held but its PTE maps pfn %#x" % (name, t, pte >> PAGE_SHIFT))
    if not held:
        out.append("  none held")
    return "\n".join(out) + "\n" + held_note("the slots", [("kmap_lock", static("kernel::mm::highmem::PKMAP"))])


_command("kmaps", lambda arg: kmaps_text(),
         """kmaps: the persistent kmap slots as the shell's kmaps (slot, count, pfn,
address; totals and events), each checked against its PTE, then the
kmap_atomic slots held now (type, fixmap slot, address, pfn).""")


# ---------------------------------------------------------------------------
# Pretty printers: `print` of a page descriptor or a zone shows what it means.


def page_pfn(addr):
    """The pfn of the descriptor at `addr`, if it is in mem_map."""
    base, n = mem_map()
    if base <= addr < base + 32 * n and (addr - base) % 32 == 0:
        return (addr - base) // 32
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
        parts.append("mapcount %d" % (w["mapcount"] + 1))
        if w["flags"] & (1 << 13):
            parts.append("order %d" % w["private"])
        elif w["flags"] & (1 << 15):
            parts.append("swap entry %#x" % w["private"])
        if w["flags"] & (1 << 2):
            parts.append("slab cache id %#x" % w["mapping"])
        elif w["mapping"] & 1:
            parts.append("anon" + (" (anon_vma %#x)" % (w["mapping"] & ~1) if w["mapping"] & ~1 else ""))
        elif w["mapping"]:
            parts.append("mapping %#x" % w["mapping"])
    if w["next"] != NIL or w["prev"] != NIL:
        link = lambda x: "-" if x == NIL else "%#x" % x
        parts.append("lru prev %s next %s" % (link(w["prev"]), link(w["next"])))
    return ", ".join(parts)


class PagePrinter:
    """kernel::mm::page::Page: pfn, zone, flags, refcount and map count, the
    order of a free block or compound head."""

    def __init__(self, val):
        self.val = val

    def to_string(self):
        with RustLanguage():
            return self._text()

    def _text(self):
        v = self.val
        words = [num(v[f]) & 0xFFFFFFFF for f in ("flags", "count", "mapcount", "private")]
        links = unwrap(v["lru"])
        words += [num(links["prev"]), num(links["next"])]
        words += [num(v[f]) & 0xFFFFFFFF for f in ("mapping", "index")]
        pfn = page_pfn(int(v.address)) if v.address is not None else None
        return "page " + describe_page(page_fields(words), pfn)


class ZonePrinter:
    """kernel::mm::mmzone::Zone: name, pfn range, free pages, watermarks."""

    def __init__(self, val):
        self.val = val

    def to_string(self):
        with RustLanguage():
            return self._text()

    def _text(self):
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
decoded; with OFFSET, also LEN bytes (default 16) of the frame's contents
from OFFSET, read from physical memory (highmem frames included).""")


def page_text(arg):
    words = arg.split()
    if not 1 <= len(words) <= 3:
        raise gdb.GdbError("usage: page PFN [OFFSET [LEN]]")
    vals = [int(gdb.parse_and_eval(w)) & 0xFFFFFFFF for w in words]
    pfn = vals[0]
    out = "page " + describe_page(page_words(pfn), pfn) + "\n"
    if len(vals) > 1:
        off = vals[1]
        n = vals[2] if len(vals) > 2 else 16
        if off + n > PAGE_SIZE or n % 4:
            raise gdb.GdbError("page: OFFSET + LEN must stay in the page, LEN a multiple of 4")
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
READERS = ["static", "unwrap", "num", "once_ready", "field", "enum_name", "rust_str", "rust_string",
           "vec_bytes", "option", "read_u32s", "read_u32", "read_phys", "symbol_address", "swapper_pg_dir",
           "kernel_pte", "node", "zones", "mem_map", "page_words", "flags_str", "describe_page"]


def register():
    for name, report, doc in COMMANDS:
        cls = type("Cmd_" + name, (Command,), {"__doc__": doc})
        c = cls(name, report)
        c._name = name
    gdb.printing.register_pretty_printer(None, build_printers(), replace=True)
    PageFunction()
    ZoneFunction()


def _load_as_module(shared, before):
    """Sourced into the shared namespace: run this file again as the module
    himem_mm and register its commands, then give the shared namespace
    back as it was, plus the readers and the module."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("himem_mm", shared["__file__"])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["himem_mm"] = mod
    # No gdb/python/__pycache__ left in the work tree.
    saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.dont_write_bytecode = saved
    mod.register()
    for n in [n for n in shared if n not in before or shared[n] is not before[n]]:
        if n in before:
            shared[n] = before[n]
        else:
            del shared[n]
    for n in mod.READERS:
        shared[n] = getattr(mod, n)
    shared["himem_mm"] = mod


if __name__ == "__main__":
    _load_as_module(globals(), _SHARED_BEFORE)
