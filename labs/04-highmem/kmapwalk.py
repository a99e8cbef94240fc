# Lab 4's GDB helper: `source labs/04-highmem/kmapwalk.py` in `make gdb`, then
#   kmapwalk     the persistent kmap table as memory holds it (src/mm/pkmap.rs:
#                PkmapSlots in the static kernel::mm::highmem::PKMAP): last_pkmap_nr,
#                slots per count, the event counters, every slot that holds a
#                lowmem page; then the fixmap PTE of every kmap_atomic slot type
#                (src/arch/x86/mm/highmem.rs: KmType; the page table FIXMAP_PT).
# The grader (labs/04-highmem/grade.py) uses it.

# Everything is defined inside _install(): kernel.gdb sources the project's helpers
# (gdb/python/*.py) into the one namespace GDB's Python shares, and a name defined
# here at the top level (a `_global`, a `walk`) would replace theirs.


def _install():
    import struct

    import gdb

    PAGE_SHIFT = 12
    FIXADDR_TOP = 0xFFFFF000
    FIX_KMAP_BEGIN = 0
    KM_TYPES = ("User0", "User1", "Pte0", "Pte1", "Irq0", "Irq1", "Bounce")

    def _global(name):
        # lookup_*_symbol, not parse_and_eval: GDB's Rust parser reads `kernel::mm`
        # as a path into the module `kernel::kernel`.
        sym = gdb.lookup_global_symbol(name) or gdb.lookup_static_symbol(name)
        if sym is None:
            raise gdb.GdbError("no symbol %s in this kernel" % name)
        return sym.value()

    def _words(addr, n):
        return struct.unpack("<%dI" % n, bytes(gdb.selected_inferior().read_memory(addr, 4 * n)))

    def fix_to_virt(idx):
        return FIXADDR_TOP - (idx + 1) * (1 << PAGE_SHIFT)

    class KmapWalk(gdb.Command):
        """kmapwalk: the pkmap slots and the kmap_atomic fixmap PTEs, read from memory."""

        def __init__(self):
            super().__init__("kmapwalk", gdb.COMMAND_DATA)

        def invoke(self, arg, from_tty):
            pk = _global("kernel::mm::highmem::PKMAP")["inner"]["inner"]["data"]["value"]
            n = pk["count"].type.range()[1] + 1
            counts = _words(int(pk["count"].address), n)
            pfns = _words(int(pk["pfn"].address), n)
            max_low = _words(int(_global("kernel::mm::mmzone::MAX_LOW_PFN").address), 1)[0]
            st = pk["stats"]
            print("pkmap: %d slots, last_pkmap_nr %d, in_use %d, stale %d" %
                  (n, int(pk["last_pkmap_nr"]), int(pk["in_use"]), int(pk["stale"])))
            print("pkmap counts: 0: %d, 1: %d, >1: %d" %
                  (sum(c == 0 for c in counts), sum(c == 1 for c in counts), sum(c > 1 for c in counts)))
            print("pkmap events: maps %d reuses %d waits %d full_flushes %d cleared %d" %
                  (int(st["maps"]), int(st["reuses"]), int(st["waits"]), int(st["full_flushes"]), int(st["cleared"])))
            low = [(s, c, p) for s, (c, p) in enumerate(zip(counts, pfns)) if c > 0 and p < max_low]
            for s, c, p in low:
                print("pkmap slot %d count %d holds lowmem pfn %#x (max_low_pfn %#x)" % (s, c, p, max_low))
            print("pkmap slots holding a lowmem page: %d" % len(low))
            pt = int(_global("kernel::arch::x86::mm::init::FIXMAP_PT").address)
            present = 0
            for t, name in enumerate(KM_TYPES):
                va = fix_to_virt(FIX_KMAP_BEGIN + t)
                pte = _words(pt + 4 * ((va >> PAGE_SHIFT) & 0x3FF), 1)[0]
                present += pte & 1
                print("kmap_atomic %-6s %#010x pte %#010x %s" %
                      (name, va, pte, "present, frame %#x" % (pte >> PAGE_SHIFT) if pte & 1 else "clear"))
            print("kmap_atomic slots with a present PTE: %d" % present)

    KmapWalk()


_install()
del _install
