# Memory-management state read from the live kernel through QEMU's gdb stub:
# the commands that walk the kernel's lists and tables and check them
# against its counters (mm.py has the reports, rust.py the readers).
#
#   freelists [ZONE]     every buddy free list walked and checked
#   lru ZONE [N]         the LRU lists: lengths, counters, first N pages
#   swapinfo             /proc/swaps, then each area's slots
#   kmaps                the shell's kmaps, PTEs checked; kmap_atomic slots
#
# Each prints a BAD line for every inconsistency it finds: what a test or a
# lab's grader looks for after a workload. Loaded as the module
# himem_mm_walk (rust.py says how).

_SHARED_BEFORE = dict(globals()) if __name__ == "__main__" else None

import os  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402

import gdb  # noqa: E402

if "himem_rust" not in sys.modules:  # sourced by hand: the readers first
    gdb.execute("source " + os.path.join(os.path.dirname(os.path.abspath(__file__)), "rust.py"))
from himem_rust import (PAGE_SHIFT, PAGE_SIZE, commands, held_note, kernel_pte, load_as_module, num,  # noqa: E402
                        option, parse_count, read_u32s, require, rust_string, static, unwrap, vec_bytes)

require("mm")  # loaded before the names below are taken from it
from himem_mm import (MAX_ORDER, NIL, PAGE_BUDDY_MAPCOUNT_VALUE, PAGE_DESC_SIZE, ZONE_NAMES, LRU_NAMES, flags_str,  # noqa: E402
                      mem_map, no_args, page_fields, populated, zone_lock, zone_name, zones)

LAST_PKMAP = 1024
PKMAP_BASE = 0xFF800000
FIXADDR_TOP = 0xFFFFF000

COMMANDS = []  # (name, report, help, category), made gdb commands by register()


def _command(name, report, doc):
    COMMANDS.append((name, report, doc, gdb.COMMAND_DATA))


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
            self.chunks[c] = bytes(gdb.selected_inferior().read_memory(self.base + PAGE_DESC_SIZE * first,
                                                                      PAGE_DESC_SIZE * count))
        o = PAGE_DESC_SIZE * (pfn % self.CHUNK)
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
        raise gdb.GdbError("no zone %r (one of %s, or its number 0-3)" % (arg, ", ".join(ZONE_NAMES)))
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
    show = parse_count("lru", words[1]) if len(words) > 1 else 8
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
and what is inconsistent (links, length, flags, zone). ZONE: DMA, Normal,
HighMem or Movable (any case) or its number 0-3; N: 8 when not given.""")


MIGRATE_TYPES = ["Unmovable", "Reclaimable", "Movable", "Reserve", "CMA", "Isolate"]


def freelists_text(arg):
    """`freelists [ZONE]`: every free list of the buddy allocator walked
    and checked as BuddyZone::check_invariants does (mm/buddy.rs): each
    block in its zone, naturally aligned, marked free with its list's order
    and type and no reference, the links and lengths right, nr_free and
    free_area_pages equal to what the lists hold, and no free buddy left
    unmerged. What `buddyinfo` counts, proved block by block."""
    if len(arg.split()) > 1:
        raise gdb.GdbError("usage: freelists [ZONE] (got %r)" % arg)
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


_command("swapinfo", no_args(swapinfo_text),
         """swapinfo: the swap areas as the shell's swaps (/proc/swaps), then each
area's slots: which are in use, their use counts, the pages in the swap cache,
checked against the area's and the kernel's counters.""")


KM_TYPES = ["User0", "User1", "Pte0", "Pte1", "Irq0", "Irq1", "Bounce"]  # arch::x86::mm::highmem::KmType


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
    # BELOW is indexed by slot address upwards: the last type first.
    below = [num(below_v[len(KM_TYPES) - 1 - t]) for t in range(len(KM_TYPES))]
    held = 0
    for t, name in enumerate(KM_TYPES):
        vaddr = FIXADDR_TOP - (t + 1) * PAGE_SIZE
        pte = kernel_pte(vaddr)
        mapped = pte is not None and pte & 1
        if below[t]:
            held += 1
            # Only a highmem page takes a slot (a lowmem one is used at its
            # direct-map address): a held slot always has its PTE set.
            if mapped:
                out.append("  %-6s  %d  %#010x  %#07x" % (name, t, vaddr, pte >> PAGE_SHIFT))
            else:
                out.append("BAD: %s held but its PTE is clear" % name)
        elif mapped:
            out.append("BAD: %s (slot %d) is not held but its PTE maps pfn %#x" % (name, t, pte >> PAGE_SHIFT))
    if not held:
        out.append("  none held")
    return "\n".join(out) + "\n" + held_note("the slots", [("kmap_lock", static("kernel::mm::highmem::PKMAP"))])


_command("kmaps", no_args(kmaps_text),
         """kmaps: the persistent kmap slots as the shell's kmaps (slot, count, pfn,
address; totals and events), each checked against its PTE, then the
kmap_atomic slots held now (type, fixmap slot, address, pfn).""")


def register():
    commands(COMMANDS)


if __name__ == "__main__":
    load_as_module(globals(), _SHARED_BEFORE, "mm_walk")
