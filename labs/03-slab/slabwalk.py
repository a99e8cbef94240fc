# Lab 3's GDB helper: `source labs/03-slab/slabwalk.py` in `make gdb`, then
#   slabwalk            one line per cache: its lists, free objects and free_limit
#   slabwalk NAME       the same line, then every slab of cache NAME: which list,
#                       header address, s_mem (object 0), colour offset, objects in use
# It reads the kernel's own structures (src/mm/slab.rs: KmemCache; src/mm/slab/mgmt.rs:
# the slab header, `#[repr(C)] struct Slab`) through the GDB stub, so it shows what
# the memory holds, not what a report prints. The grader (labs/03-slab/grade.py) uses it.

# Everything is defined inside _install(): kernel.gdb sources the project's helpers
# (gdb/python/*.py) into the one namespace GDB's Python shares, and a name defined
# here at the top level (a `_global`, a `walk`) would replace theirs.


def _install():
    import struct

    import gdb

    # `struct Slab` (src/mm/slab/mgmt.rs), #[repr(C)] on i686:
    #   magic u32 @0, cache_id u32 @4, prev usize @8, next usize @12, s_mem usize @16,
    #   index_mul usize @20, inuse u16 @24, free u16 @26, num u16 @28, list u8 @30,
    #   index_shift u8 @31
    # The header keeps no colour offset (as Linux's `struct slab` keeps `s_mem`
    # and `colouroff`, only `s_mem` here): `slabs` finds it from where object 0
    # starts, less what comes before the colour.
    SLAB_HEADER = struct.Struct("<IIIIIIHHHBB")
    from himem_rust import PAGE_SIZE
    SLAB_MAGIC = 0x51ABCACE
    LISTS = ("full", "partial", "free")

    def _global(name):
        # lookup_*_symbol, not parse_and_eval: GDB's Rust parser reads `kernel::mm`
        # as a path into the module `kernel::kernel`.
        sym = gdb.lookup_global_symbol(name) or gdb.lookup_static_symbol(name)
        if sym is None:
            raise gdb.GdbError("no symbol %s in this kernel" % name)
        return sym.value()

    def _str(v):
        n = int(v["length"])
        if n == 0:
            return ""
        data = gdb.selected_inferior().read_memory(int(v["data_ptr"]), n)
        return bytes(data).decode("utf-8", "replace")

    def caches():
        """(name, KmemCache value) of every created cache in the registry."""
        reg = _global("kernel::mm::slab_common::CACHES")
        lo, hi = reg.type.range()
        for i in range(lo, hi + 1):
            c = reg[i]["slot"]["value"]["cache"]
            if int(c["id"]) != 0:
                yield _str(c["name"]), c

    def slabs(c):
        """(list name, header address, s_mem, colouroff, inuse) of every slab of cache c."""
        inf = gdb.selected_inferior()
        off_slab = bool(c["off_slab"])
        mgmt_size = int(c["mgmt_size"])
        slab_bytes = PAGE_SIZE << int(c["order"])
        for which in LISTS:
            head = int(c["slabs_" + which]["head"])
            seen = 0
            while head != 0:
                hdr = SLAB_HEADER.unpack(bytes(inf.read_memory(head, SLAB_HEADER.size)))
                magic, _cid, _prev, nxt, s_mem, _index_mul, inuse = hdr[:7]
                if magic != SLAB_MAGIC:
                    raise gdb.GdbError("slab header %#x on the %s list has magic %#x" % (head, which, magic))
                # The slab is [header, bufctl] (on the slab, `mgmt_size` bytes
                # from `head`), then the colour, then object 0 at `s_mem`.
                # Off the slab, the colour starts the slab's own pages, which
                # are aligned to their size (`KmemCache::slab_base`).
                if off_slab:
                    colouroff = s_mem & (slab_bytes - 1)
                else:
                    colouroff = s_mem - head - mgmt_size
                yield which, head, s_mem, colouroff, inuse
                head = nxt
                seen += 1
                if seen > 1 << 20:
                    raise gdb.GdbError("the %s list does not end" % which)

    def summary(name, c):
        n = {w: int(c["slabs_" + w]["len"]) for w in LISTS}
        return ("cache %-16s num %4d colour %2d colour_off %3d full %4d partial %4d free %4d "
                "free_objects %6d free_limit %5d" % (name, int(c["num"]), int(c["colour"]), int(c["colour_off"]),
                                                      n["full"], n["partial"], n["free"],
                                                      int(c["free_objects"]), int(c["free_limit"])))

    class SlabWalk(gdb.Command):
        """slabwalk [NAME]: the slab caches as memory holds them; with NAME, every slab of that cache."""

        def __init__(self):
            super().__init__("slabwalk", gdb.COMMAND_DATA)

        def invoke(self, arg, from_tty):
            want = arg.strip()
            found = False
            for name, c in caches():
                if want and name != want:
                    continue
                found = True
                print(summary(name, c))
                if not want:
                    continue
                offs = set()
                for which, head, s_mem, colouroff, inuse in slabs(c):
                    offs.add(colouroff)
                    print("  slab %-7s header %#010x s_mem %#010x colouroff %4d inuse %4d"
                          % (which, head, s_mem, colouroff, inuse))
                print("colour offsets used: %s" % " ".join(str(o) for o in sorted(offs)))
            if want and not found:
                raise gdb.GdbError("no cache named %r" % want)

    SlabWalk()


_install()
del _install
