# `labbuddy`: the buddy allocator's free blocks as the page descriptors
# themselves record them, read by GDB from the stopped kernel (lab 2's
# checks source this at the kgdb stop: gdb/python's helpers are for
# everyone; this one is the lab's independent witness).
#
# A free block is marked on its head page only: _mapcount ==
# PAGE_BUDDY_MAPCOUNT_VALUE (-128), private = its order (src/mm/buddy.rs).
# The command reads all of mem_map at once and prints, per zone, the free
# blocks of each order (what /proc/buddyinfo counts from the free lists),
# then the blocks that break the buddy invariants:
#   unmerged    a free block whose buddy is also a free block of the same
#               order: freeing should have merged them (order < 10);
#   misaligned  a block whose first frame is not a multiple of 2^order.
import gdb

PAGE_BUDDY_MAPCOUNT_VALUE = -128
MAX_ORDER = 11
ZONE_SHIFT = 30
ZONE_NAMES = ["DMA", "Normal", "HighMem", "Movable"]


def _static(name):
    where = gdb.execute("info address " + name, to_string=True)
    return int(where.split("address ")[1].split()[0].rstrip("."), 16)


def _word(mem, addr):
    return int.from_bytes(bytes(mem.read_memory(addr, 4)), "little")


class LabBuddy(gdb.Command):
    """labbuddy: free blocks per zone and order, from the page descriptors, and the unmerged buddies."""

    def __init__(self):
        super().__init__("labbuddy", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        mem = gdb.selected_inferior()
        base = _word(mem, _static("kernel::mm::mmzone::MEM_MAP"))
        n = _word(mem, _static("kernel::mm::mmzone::MEM_MAP_LEN"))
        page = gdb.lookup_type("kernel::mm::page::Page")
        size = page.sizeof
        off = {f.name: f.bitpos // 8 for f in page.fields()}
        raw = bytes(mem.read_memory(base, n * size))

        def field(pfn, name, signed=False):
            at = pfn * size + off[name]
            return int.from_bytes(raw[at:at + 4], "little", signed=signed)

        heads = {}  # pfn -> (zone, order)
        for pfn in range(n):
            if field(pfn, "mapcount", signed=True) == PAGE_BUDDY_MAPCOUNT_VALUE:
                heads[pfn] = (field(pfn, "flags") >> ZONE_SHIFT, field(pfn, "private"))
        counts = {}
        unmerged, misaligned = [], []
        for pfn, (zone, order) in sorted(heads.items()):
            counts.setdefault(zone, [0] * MAX_ORDER)
            if order >= MAX_ORDER or pfn & ((1 << order) - 1):
                misaligned.append((pfn, order))
                continue
            counts[zone][order] += 1
            buddy = pfn ^ (1 << order)
            if order < MAX_ORDER - 1 and pfn < buddy and heads.get(buddy) == (zone, order):
                unmerged.append((pfn, buddy, order))
        print("labbuddy: mem_map at %#x, %d descriptors of %d bytes" % (base, n, size))
        for zone in sorted(counts):
            print("labbuddy: zone %8s %s" % (ZONE_NAMES[zone], " ".join("%6d" % c for c in counts[zone])))
        print("labbuddy: free pages %d" % sum(c << o for z in counts.values() for o, c in enumerate(z)))
        print("labbuddy: unmerged %d%s" % (len(unmerged), "".join(
            " [pfn %#x + %#x, order %d]" % u for u in unmerged[:5])))
        print("labbuddy: misaligned %d%s" % (len(misaligned), "".join(
            " [pfn %#x order %d]" % b for b in misaligned[:5])))


LabBuddy()
