# Lab 5's GDB helper: `source labs/05-vmalloc/kwalk.py` in `make gdb`, then
#   kwalk ADDR      the PDE and PTE of kernel address ADDR in swapper_pg_dir (the
#                   reference directory every vmalloc mapping is made in) and in the
#                   directory CR3 holds now, read from memory through the GDB stub
#   vmallocsyncs    the count of PDEs copied into other directories
#                   (kernel::mm::vmalloc::VMALLOC_SYNCS: vmalloc_fault and the
#                   scheduler's eager copy of kernel-stack PDEs)
# The grader (labs/05-vmalloc/grade.py) uses it.

# Everything is defined inside _install(): kernel.gdb sources the project's helpers
# (gdb/python/*.py) into the one namespace GDB's Python shares, and a name defined
# here at the top level (a `_global`, a `walk`) would replace theirs.


def _install():
    import struct

    import gdb

    PAGE_OFFSET = 0xC0000000

    def _word(addr):
        return struct.unpack("<I", bytes(gdb.selected_inferior().read_memory(addr, 4)))[0]

    def _swapper_phys():
        # swapper_pg_dir is defined in assembly: a plain symbol, read in C.
        lang = gdb.parameter("language")
        gdb.execute("set language c", to_string=True)
        try:
            return int(gdb.parse_and_eval("(unsigned int)&swapper_pg_dir")) - PAGE_OFFSET
        finally:
            gdb.execute("set language %s" % lang, to_string=True)

    def walk(pgd_phys, addr):
        pde = _word(PAGE_OFFSET + pgd_phys + 4 * (addr >> 22))
        if not pde & 1:
            return pde, None
        if pde & 0x80:  # a 4 MB page: no table
            return pde, pde
        return pde, _word(PAGE_OFFSET + (pde & ~0xFFF) + 4 * ((addr >> 12) & 0x3FF))

    def show(name, pgd_phys, addr):
        pde, pte = walk(pgd_phys, addr)
        if pte is None:
            print("%-14s pgd %#010x pde[%#05x] %#010x not present" % (name, pgd_phys, addr >> 22, pde))
        elif pde & 0x80:
            print("%-14s pgd %#010x pde[%#05x] %#010x 4M page" % (name, pgd_phys, addr >> 22, pde))
        else:
            print("%-14s pgd %#010x pde[%#05x] %#010x pte[%#05x] %#010x %s"
                  % (name, pgd_phys, addr >> 22, pde, (addr >> 12) & 0x3FF, pte,
                     "present, frame %#x" % (pte >> 12) if pte & 1 else "not present"))

    class KWalk(gdb.Command):
        """kwalk ADDR: the PDE and PTE of ADDR in swapper_pg_dir and in the running directory."""

        def __init__(self):
            super().__init__("kwalk", gdb.COMMAND_DATA)

        def invoke(self, arg, from_tty):
            addr = int(gdb.parse_and_eval(arg)) & 0xFFFFFFFF
            show("swapper_pg_dir", _swapper_phys(), addr)
            try:
                cr3 = int(gdb.parse_and_eval("$cr3")) & ~0xFFF
            except gdb.error:
                return  # this QEMU's stub does not show CR3
            show("cr3", cr3, addr)

    class VmallocSyncs(gdb.Command):
        """vmallocsyncs: PDEs copied from swapper_pg_dir into other directories so far."""

        def __init__(self):
            super().__init__("vmallocsyncs", gdb.COMMAND_DATA)

        def invoke(self, arg, from_tty):
            sym = (gdb.lookup_global_symbol("kernel::mm::vmalloc::VMALLOC_SYNCS")
                   or gdb.lookup_static_symbol("kernel::mm::vmalloc::VMALLOC_SYNCS"))
            print("vmalloc PDE syncs: %d" % _word(int(sym.value().address)))

    KWalk()
    VmallocSyncs()


_install()
del _install
