# GDB helpers for processes and address translation (issue 14), read from
# the live kernel through QEMU's gdb stub: nothing here calls a kernel
# function, so every command works at any stop (best at the `kgdb` shell
# command's stop, where nothing else runs and no lock is held half-way).
#
#   vtop ADDR [PID]  walk swapper_pg_dir (or process PID's directory) for ADDR
#   ps               the shell's `ps`, from PROCS and the run queue
#   vmas PID         the shell's `maps PID` (/proc/PID/maps)
#   usersym NAME     add-symbol-file build/user/NAME at its link addresses
#   faultstop [user|ADDR|off]
#                    stop at do_page_fault; print CR2, the error code and the
#                    faulting instruction
# and pretty printers for the VMA (`Vma`), process (`Process`) and
# scheduler task (`Task`) types.
#
# Physical memory (the user page tables live in highmem, outside the direct
# map) is read in QEMU's physical mode: `maint packet Qqemu.PhyMemMode:1`.

import os
import re
import struct

import gdb
import gdb.printing

# --- small readers for Rust values (the layouts rustc's debug info gives) ---

PAGE_OFFSET = 0xC0000000
PAGE_SIZE = 4096
TASK_SIZE = PAGE_OFFSET
MAX_DMA_PFN = (16 << 20) >> 12


def _fields(v):
    """The fields of struct `v` that hold data (no PhantomData, no ZSTs)."""
    return [f for f in v.type.strip_typedefs().fields() if f.type is not None and f.type.sizeof > 0]


def _scalar(v):
    """An integer through its wrappers: Atomic, UnsafeCell, AlignN, newtypes."""
    while v.type.strip_typedefs().code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION):
        fs = _fields(v)
        if len(fs) != 1:
            raise gdb.GdbError("proc.py: %s is not a one-field wrapper" % v.type)
        v = v[fs[0]]
    return int(v)


def _pointer(v):
    """The raw pointer inside NonNull, Unique, Box, Arc's `ptr`..."""
    while v.type.strip_typedefs().code != gdb.TYPE_CODE_PTR:
        fs = _fields(v)
        if not fs:
            raise gdb.GdbError("proc.py: no pointer in %s" % v.type)
        v = v[fs[0]]
    return v


def _enum(v):
    """(variant name, payload) of a Rust enum value; gdb resolves the
    active variant: the last field of the value's type."""
    f = v.type.fields()[-1]
    return f.name, v[f]


def _option(v):
    """The payload of `Some(x)`, or None."""
    name, payload = _enum(v)
    return payload["__0"] if name == "Some" else None


def _unit_variant(v):
    """The variant name of a field-less enum (`TaskState::Running`)."""
    return str(v).rsplit("::", 1)[-1]


def _lock_data(v):
    """What a Mutex, SpinLock, IrqLock or spin::Mutex guards (read without
    the lock: the stop is the lock)."""
    while True:
        names = [f.name for f in v.type.fields()]
        if "data" in names:
            d = v["data"]
            return d["value"] if "value" in [f.name for f in d.type.fields()] else d
        if "inner" in names:
            v = v["inner"]
            continue
        raise gdb.GdbError("proc.py: no data in lock %s" % v.type)


def _vec(v):
    """The elements of a Vec<T, A>, as gdb values."""
    t = v.type.template_argument(0)
    n = _scalar(v["len"])
    p = _pointer(v["buf"]).cast(t.pointer())
    return [(p + i).dereference() for i in range(n)]


def _arc(v):
    """The T of an Arc<T, A>."""
    return _pointer(v).dereference()["data"]


def _str_bytes(v):
    """A String's or &str's text."""
    if "vec" in [f.name for f in v.type.fields()]:
        items = v["vec"]
        n = _scalar(items["len"])
        addr = int(_pointer(items["buf"]))
    else:
        n = int(v["length"])
        addr = int(v["data_ptr"])
    if n == 0:
        return ""
    return bytes(gdb.selected_inferior().read_memory(addr, n)).decode("utf-8", "replace")


def _global(name):
    return gdb.parse_and_eval(name)


def _u32(addr):
    return struct.unpack("<I", bytes(gdb.selected_inferior().read_memory(addr, 4)))[0]


def phys_read(addr, n):
    """`n` bytes of physical memory (QEMU's physical mode; the mode is
    always put back, and gdb's caches dropped either side)."""
    gdb.execute("maint flush dcache", to_string=True)
    gdb.execute("maint packet Qqemu.PhyMemMode:1", to_string=True)
    try:
        return bytes(gdb.selected_inferior().read_memory(addr, n))
    finally:
        gdb.execute("maint packet Qqemu.PhyMemMode:0", to_string=True)
        gdb.execute("maint flush dcache", to_string=True)


def phys_u32(addr):
    return struct.unpack("<I", phys_read(addr, 4))[0]


# --- processes and threads ---

PROCESS_TYPE = "kernel::process::task::Process"


def processes():
    """Every `Process` in PROCS (pid order)."""
    return [_arc(a) for a in _vec(_lock_data(_global("kernel::process::task::PROCS")))]


def find_process(pid):
    for p in processes():
        if _scalar(p["pid"]) == pid:
            return p
    raise gdb.GdbError("no process %d (ps lists them)" % pid)


def proc_inner(p):
    return _lock_data(p["inner"])


def proc_mm(p):
    """The process's MmStruct, or None (a zombie)."""
    mm = _option(proc_inner(p)["mm"])
    return None if mm is None else _arc(mm)


TASK_LETTERS = {"Running": "R", "Runnable": "R", "Sleeping": "S", "Stopped": "T", "Dead": "X", "Unused": "-"}


def tasks():
    """The run queue's tasks, slot order: (pid, letter, name, task value)."""
    rq = _lock_data(_global("kernel::kernel::sched::RQ"))
    out = []
    for t in [rq["idle"]] + _vec(rq["tasks"]):
        state = _unit_variant(t["state"])
        name = t["name"]
        raw = bytes(int(name["__0"][i]) for i in range(int(name["__1"])))
        out.append((int(t["pid"]), TASK_LETTERS.get(state, "?"), raw.decode("utf-8", "replace"), t, state))
    return out


def live_tasks():
    return [t for t in tasks() if t[4] not in ("Unused", "Dead")]


def mm_vmas(mm):
    """(VmaSet value, [Vma values]) of an MmStruct."""
    ctx = _lock_data(mm["mmap"])
    vs = ctx["vmas"]
    return vs, [_pointer(b).dereference() for b in _vec(vs["vmas"]["areas"])]


VM_READ, VM_WRITE, VM_EXEC, VM_SHARED, VM_MAYSHARE = 0x1, 0x2, 0x4, 0x8, 0x80
VM_LOCKED = 0x2000


def vma_fields(v):
    """start, end, flags, pgoff, file name or None."""
    kind, payload = _enum(v["kind"])
    fname = _str_bytes(payload["__0"]["name"]) if kind == "File" else None
    return int(v["start"]), int(v["end"]), _scalar(v["flags"]), int(v["pgoff"]), fname


def maps_line(vs, v):
    """One line of /proc/PID/maps, as mm/mmap/task_mmu.rs prints it."""
    start, end, flags, pgoff, fname = vma_fields(v)
    offset = (pgoff * PAGE_SIZE) & 0xFFFFFFFFFFFFFFFF if fname is not None else 0
    line = "%08x-%08x %s%s%s%s %08x %02x:%02x %d " % (
        start,
        end,
        "r" if flags & VM_READ else "-",
        "w" if flags & VM_WRITE else "-",
        "x" if flags & VM_EXEC else "-",
        "s" if flags & VM_MAYSHARE else "p",
        offset,
        0,
        0,
        0,
    )
    name = fname
    if name is None:
        if start <= int(vs["start_brk"]) and end >= int(vs["brk"]):
            name = "[heap]"
        elif start <= int(vs["start_stack"]) and end >= int(vs["start_stack"]):
            name = "[stack]"
    if name is not None:
        # Padded to column 49 (25 + sizeof(void *) * 6), at least one space.
        line += " " * max(49 - len(line), 1) + name
    return line


def mm_counters(mm):
    """(total_vm, locked_vm, rss) in pages, as Process::mm_counters."""
    _, vmas = mm_vmas(mm)
    total = locked = 0
    for v in vmas:
        start, end, flags, _, _ = vma_fields(v)
        pages = (end - start) // PAGE_SIZE
        total += pages
        if flags & VM_LOCKED:
            locked += pages
    return total, locked, _scalar(mm["rss"])


# procps' columns: header, width, right-aligned (process/procfs.rs PS_COLUMNS).
PS_COLUMNS = [("PID", 5, True), ("PPID", 5, True), ("STAT", 4, False), ("VSZ", 6, True), ("RSS", 5, True), ("COMMAND", 0, False)]


def _ps_line(cells):
    """One line, with procps' push-back of an overflowing column."""
    correct = actual = 0
    out = ""
    for col, text in enumerate(cells):
        _, width, right = PS_COLUMNS[col]
        sep = 0 if col == 0 else 1
        leftpad = max(width - len(text), 0) if right else 0
        space = max(correct + sep + leftpad - actual, sep)
        out += " " * space + "".join("?" if (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F) else c for c in text)
        actual += space + len(text)
        correct += sep + width
    return out + "\n"


def ps_text():
    procs = processes()
    ppids = {_scalar(p["pid"]) for p in procs}
    live = live_tasks()
    rows = []
    for pid, letter, name, _, _ in live:
        if pid not in ppids:
            rows.append((pid, 0, letter, 0, 0, name))
    for p in procs:
        pid = _scalar(p["pid"])
        inner = proc_inner(p)
        if _option(inner["exit_status"]) is not None:
            letter = "Z"
        else:
            letter = next((t[1] for t in live if t[0] == pid), "X")
        mm = proc_mm(p)
        total = locked = rss = 0
        if mm is not None:
            total, locked, rss = mm_counters(mm)
            if locked:
                letter += "L"
        rows.append((pid, _scalar(p["ppid"]), letter, total * 4, rss * 4, _str_bytes(p["comm"])))
    rows.sort(key=lambda r: r[0])
    text = _ps_line([c[0] for c in PS_COLUMNS])
    for pid, ppid, stat, vsz, rss, name in rows:
        text += _ps_line([str(pid), str(ppid), stat, str(vsz), str(rss), name])
    return text


class Ps(gdb.Command):
    """ps: the tasks, as the shell's `ps` prints them (PID PPID STAT VSZ RSS
    COMMAND), read from the process table and the run queue."""

    def __init__(self):
        super().__init__("ps", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        if arg.strip():
            raise gdb.GdbError("ps takes no arguments")
        gdb.write(ps_text())


class Vmas(gdb.Command):
    """vmas PID: process PID's areas, as the shell's `maps PID`
    (/proc/PID/maps) prints them."""

    def __init__(self):
        super().__init__("vmas", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        args = arg.split()
        if len(args) != 1 or not args[0].isdigit():
            raise gdb.GdbError("usage: vmas PID")
        mm = proc_mm(find_process(int(args[0])))
        if mm is None:
            return
        vs, vmas = mm_vmas(mm)
        for v in vmas:
            gdb.write(maps_line(vs, v) + "\n")


# --- vtop ---

# Linux's _PAGE_* bits, in the short names of the brief and of x86 manuals.
ENTRY_FLAGS = [(0x001, "P"), (0x002, "RW"), (0x004, "US"), (0x008, "PWT"), (0x010, "PCD"), (0x020, "A"), (0x040, "D"),
               (0x080, "PS"), (0x100, "G"), (0x200, "SPECIAL")]


def decode_flags(e, pte=False):
    names = []
    for bit, name in ENTRY_FLAGS:
        if e & bit:
            # Bit 7 of a PTE is PAT, which this kernel leaves clear.
            names.append("PAT" if (pte and bit == 0x80) else name)
    return " ".join(names) if names else "-"


def zone_ranges():
    """[(name, start_pfn, end_pfn)] from the kernel's node (NODE.zones), or
    from max_low_pfn if the node cannot be read."""
    try:
        node = _global("kernel::mm::mmzone::NODE")

        def find(v, depth=0):
            if str(v.type.strip_typedefs()) == "kernel::mm::mmzone::Node":
                return v
            if depth > 6 or v.type.strip_typedefs().code not in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION):
                return None
            for f in _fields(v):
                r = find(v[f], depth + 1)
                if r is not None:
                    return r
            return None

        n = find(node)
        zones = n["zones"]
        lo, hi = zones.type.range()
        out = []
        for i in range(lo, hi + 1):
            z = zones[i]
            kind = _unit_variant(z["kind"])
            name = {"Dma": "DMA", "Normal": "Normal", "HighMem": "HighMem", "Highmem": "HighMem"}.get(kind, kind)
            start = int(z["start_pfn"])
            out.append((name, start, start + int(z["nr_pfns"])))
        return out
    except (gdb.error, gdb.GdbError, AttributeError, TypeError):
        low = _scalar(_global("kernel::mm::mmzone::MAX_LOW_PFN"))
        return [("DMA", 0, MAX_DMA_PFN), ("Normal", MAX_DMA_PFN, low), ("HighMem", low, 1 << 20)]


def zone_of(pfn, zones=None):
    for name, start, end in zones or zone_ranges():
        if start <= pfn < end:
            return name
    return "no zone (not RAM the kernel manages)"


def swapper_pgd_phys():
    where = gdb.execute("info address swapper_pg_dir", to_string=True)
    return int(re.search(r"0x[0-9a-f]+", where).group(0), 16) - PAGE_OFFSET


def vtop_lines(va, pid=None):
    """The walk of `va`, as lines; the last says where it ends."""
    if pid is None:
        pgd = swapper_pgd_phys()
        who = "swapper_pg_dir"
    else:
        mm = proc_mm(find_process(pid))
        if mm is None:
            raise gdb.GdbError("process %d has no address space (a zombie)" % pid)
        pgd = int(mm["pgd_phys"])
        who = "pid %d's directory" % pid
    zones = zone_ranges()
    out = ["vtop %#010x in %s (pgd at phys %#010x)" % (va, who, pgd)]
    i = va >> 22
    pde = phys_u32(pgd + 4 * i)
    out.append("  PDE[%d] at phys %#010x = %#010x  %s" % (i, pgd + 4 * i, pde, decode_flags(pde)))
    if not pde & 1:
        why = "PDE not present: no page table covers %#010x" % (va & ~0x3FFFFF)
        if pid is not None and i >= TASK_SIZE >> 22 and phys_u32(swapper_pgd_phys() + 4 * i) & 1:
            why += " (swapper_pg_dir has it: the lazy vmalloc sync copies it on the first fault)"
        out.append("  unmapped: " + why)
        return out
    if pde & 0x80:
        phys = (pde & 0xFFC00000) | (va & 0x3FFFFF)
        out.append("  4 MB page at phys %#010x" % (pde & 0xFFC00000))
    else:
        pt = pde & 0xFFFFF000
        ptzone = zone_of(pt >> 12, zones)
        where = "direct map at %#010x" % (pt + PAGE_OFFSET) if ptzone != "HighMem" else "highmem: not in the direct map"
        out.append("  page table at phys %#010x (%s, %s)" % (pt, ptzone, where))
        j = (va >> 12) & 0x3FF
        pte = phys_u32(pt + 4 * j)
        out.append("  PTE[%d] at phys %#010x = %#010x  %s" % (j, pt + 4 * j, pte, decode_flags(pte, pte=True)))
        if not pte & 1:
            if pte == 0:
                out.append("  unmapped: PTE not present (empty)")
            elif pte & 0x80:
                out.append("  unmapped: PTE not present: PROT_NONE, frame %#x kept (pfn %#x)" % (pte & 0xFFFFF000, pte >> 12))
            else:
                ty, off = (pte >> 1) & 0x1F, pte >> 8
                if ty >= 30:
                    out.append("  unmapped: PTE not present: migration entry (%s) for pfn %#x"
                               % ("write" if ty == 31 else "read", off))
                else:
                    out.append("  unmapped: PTE not present: swap entry: swap area %d (type), slot %d (offset %#x)"
                               % (ty, off, off))
            return out
        phys = (pte & 0xFFFFF000) | (va & 0xFFF)
    pfn = phys >> 12
    out.append("  phys %#010x  pfn %#x  zone %s" % (phys, pfn, zone_of(pfn, zones)))
    return out


class Vtop(gdb.Command):
    """vtop ADDR [PID]: walk the page directory for virtual address ADDR (the
    kernel's swapper_pg_dir, or process PID's): the PDE and PTE with their
    flags, the physical address and its zone; for an unmapped address, the
    step that fails. Page tables are read in physical memory, so user page
    tables in highmem (HIGHPTE) are walked as any other."""

    def __init__(self):
        super().__init__("vtop", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        args = gdb.string_to_argv(arg)
        if len(args) not in (1, 2):
            raise gdb.GdbError("usage: vtop ADDR [PID]")
        va = int(gdb.parse_and_eval(args[0])) & 0xFFFFFFFF
        pid = int(args[1]) if len(args) == 2 else None
        for line in vtop_lines(va, pid):
            gdb.write(line + "\n")


# --- user-program symbols ---

def _elf_info(path):
    """(e_type, {section name: address}, {symbol name: value}) of an i386 ELF file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 1:
        raise gdb.GdbError("%s is not a 32-bit ELF file" % path)
    e_type = struct.unpack_from("<H", data, 16)[0]
    shoff = struct.unpack_from("<I", data, 32)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 46)
    # name, type, flags, addr, offset, size, link
    sh = [struct.unpack_from("<IIIIIII", data, shoff + k * shentsize) for k in range(shnum)]

    def cstr(off):
        return data[off:data.index(b"\0", off)].decode("utf-8", "replace")

    secs, syms = {}, {}
    for name_off, sh_type, flags, addr, off, size, link in sh:
        if flags & 2 and addr:  # SHF_ALLOC
            secs[cstr(sh[shstrndx][4] + name_off)] = addr
        if sh_type == 2:  # SHT_SYMTAB
            for k in range(size // 16):
                st_name, st_value = struct.unpack_from("<II", data, off + 16 * k)
                if st_name and st_value:
                    syms.setdefault(cstr(sh[link][4] + st_name), st_value)
    return e_type, secs, syms


_USERSYM_LOADED = set()


class Usersym(gdb.Command):
    """usersym NAME: load the symbols of user program build/user/NAME
    (add-symbol-file at its sections' link addresses: the programs are
    static, non-PIE executables, loaded where they are linked). A C program
    is a link to cprogs, whose main for NAME is NAME_main; a Rust program's
    entry is __rt_main (its main is inlined there). Then `break SYMBOL` and
    `continue`, and `run NAME` in the shell: the breakpoint is on a virtual
    address, and stops in whichever process runs there."""

    def __init__(self):
        super().__init__("usersym", gdb.COMMAND_FILES)

    def invoke(self, arg, from_tty):
        args = arg.split()
        if len(args) != 1:
            raise gdb.GdbError("usage: usersym NAME (a program in build/user/)")
        name = args[0]
        path = os.path.join("build", "user", name)
        if not os.path.isfile(path):
            raise gdb.GdbError("no user program %s (make user builds build/user/NAME)" % path)
        real = os.path.realpath(path)
        e_type, secs, syms = _elf_info(real)
        if e_type != 2:
            raise gdb.GdbError("%s is not a static executable (ET_EXEC): its load address would be needed" % real)
        if real not in _USERSYM_LOADED:
            cmd = "add-symbol-file %s -s .text %#x" % (real, secs[".text"])
            for s in (".rodata", ".data", ".bss", ".tdata", ".data.rel.ro"):
                if s in secs:
                    cmd += " -s %s %#x" % (s, secs[s])
            gdb.execute(cmd, to_string=True)
            _USERSYM_LOADED.add(real)
        # Looked up in the program's own symbol table: another program
        # loaded before may have a `main` too.
        cands = [name + "_main"] if os.path.basename(real) == "cprogs" else ["main", "__rt_main"]
        main = next((c for c in cands if c in syms), None)
        if main is None:
            gdb.write("usersym: %s symbols from %s (.text at %#x); no main found\n" % (name, os.path.relpath(real), secs[".text"]))
            return
        gdb.write("usersym: %s symbols from %s (.text at %#x); its main: %s at %#x (break %s, then run %s in the shell)\n"
                  % (name, os.path.relpath(real), secs[".text"], main, syms[main], main, name))


# --- stepping into a page fault ---

PF_BITS = [(1, "P", "protection violation", "page not present"), (2, "W", "write", "read"),
           (4, "U", "user mode", "kernel mode"), (8, "RSVD", "reserved bit set", None),
           (16, "I", "instruction fetch", None)]


def decode_error_code(e):
    """The page-fault error code, in Linux's PF_* names (arch/x86/mm/fault.c)."""
    words = []
    for bit, short, yes, no in PF_BITS:
        if e & bit:
            words.append("%s (%s)" % (short, yes))
        elif no is not None:
            words.append("!%s (%s)" % (short, no))
    return " ".join(words)


DO_PAGE_FAULT = "kernel::arch::x86::mm::fault::do_page_fault"


TRAP_FRAME = "kernel::arch::x86::kernel::traps::TrapFrame"


def trap_frame():
    """At do_page_fault's first instruction: its argument, the `&mut
    TrapFrame` at esp+4 (the Rust ABI on i686 passes it on the stack), as a
    gdb value of the kernel's TrapFrame type."""
    esp = int(gdb.parse_and_eval("$esp")) & 0xFFFFFFFF
    addr = _u32(esp + 4)
    return addr, gdb.Value(addr).cast(gdb.lookup_type(TRAP_FRAME).pointer()).dereference()


def fault_report():
    """CR2, the error code and the faulting instruction, read at
    do_page_fault's first instruction (CR2 is still the faulting address:
    nothing has run since the trap but the entry stub)."""
    addr, frame = trap_frame()
    error_code, eip, cs = int(frame["error_code"]), int(frame["eip"]), int(frame["cs"])
    cr2 = int(gdb.parse_and_eval("$cr2")) & 0xFFFFFFFF
    mode = "user" if cs & 3 == 3 else "kernel"
    lines = ["page fault: CR2 %#010x  error code %#x: %s" % (cr2, error_code, decode_error_code(error_code)),
             "  trapped at eip %#010x (%s mode, cs %#x), TrapFrame at %#010x" % (eip, mode, cs, addr)]
    try:
        insn = gdb.execute("x/i %#x" % eip, to_string=True).strip()
    except gdb.error as e:
        # The instruction's own page is not present (the fault is its
        # fetch): read it from the program's file if usersym loaded it.
        insn = None
        gdb.execute("set trust-readonly-sections on")
        try:
            insn = gdb.execute("x/i %#x" % eip, to_string=True).strip() + "   (read from the program's file)"
        except gdb.error:
            pass
        finally:
            gdb.execute("set trust-readonly-sections off")
        if insn is None:
            insn = "(cannot read the instruction: %s%s)" % (e, "; the fault is its fetch: usersym NAME reads it from the file" if cr2 >> 12 == eip >> 12 else "")
    lines.append("  " + insn.replace("=> ", ""))
    return "\n".join(lines) + "\n"


class _FaultBreakpoint(gdb.Breakpoint):
    def __init__(self, spec, want):
        super().__init__(spec, gdb.BP_BREAKPOINT)
        self.want = want

    def stop(self):
        cs = int(trap_frame()[1]["cs"])
        cr2 = int(gdb.parse_and_eval("$cr2")) & 0xFFFFFFFF
        if self.want == "user" and cs & 3 != 3:
            return False
        if isinstance(self.want, int) and cr2 >> 12 != self.want >> 12:
            return False
        gdb.write(fault_report())
        return True


_FAULT_BP = []


class Faultstop(gdb.Command):
    """faultstop [user|ADDR|off]: stop at the kernel's page-fault handler
    (do_page_fault's first instruction) and print CR2, the error code
    decoded (P/W/U/RSVD/I, Linux's PF_* bits) and the faulting instruction
    (x/i at the trapped eip). `user`: only faults from ring 3; ADDR: only
    faults in ADDR's page; `off`: remove the breakpoint. At the stop,
    `faultinfo` prints the same again; `stepi`/`next` walk the handler."""

    def __init__(self):
        super().__init__("faultstop", gdb.COMMAND_BREAKPOINTS)

    def invoke(self, arg, from_tty):
        a = arg.strip()
        for bp in _FAULT_BP:
            if bp.is_valid():
                bp.delete()
        _FAULT_BP.clear()
        if a == "off":
            gdb.write("faultstop: off\n")
            return
        want = "user" if a == "user" else (int(gdb.parse_and_eval(a)) & 0xFFFFFFFF if a else None)
        where = gdb.execute("info address %s" % DO_PAGE_FAULT, to_string=True)
        addr = int(re.search(r"0x[0-9a-f]+", where).group(0), 16)
        _FAULT_BP.append(_FaultBreakpoint("*%#x" % addr, want))
        if want is None:
            what = "every page fault"
        elif want == "user":
            what = "page faults from user mode"
        else:
            what = "page faults in the page of %#010x" % want
        gdb.write("faultstop: stopping at do_page_fault (%#x) on %s; 'continue' to run\n" % (addr, what))


class Faultinfo(gdb.Command):
    """faultinfo: at a faultstop stop, CR2, the error code and the
    faulting instruction again."""

    def __init__(self):
        super().__init__("faultinfo", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        gdb.write(fault_report())


# --- pretty printers ---

class VmaPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        start, end, flags, pgoff, fname = vma_fields(self.val)
        rwx = "%s%s%s%s" % ("r" if flags & VM_READ else "-", "w" if flags & VM_WRITE else "-",
                            "x" if flags & VM_EXEC else "-", "s" if flags & VM_MAYSHARE else "p")
        return "Vma %08x-%08x %s flags %#x pgoff %#x %s (%d pages)" % (
            start, end, rwx, flags, pgoff, fname if fname else "anonymous", (end - start) // PAGE_SIZE)


class ProcessPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        p = self.val
        inner = proc_inner(p)
        status = _option(inner["exit_status"])
        mm = _option(inner["mm"])
        return "Process pid %d ppid %d comm %r %s mm %s" % (
            _scalar(p["pid"]), _scalar(p["ppid"]), _str_bytes(p["comm"]),
            "zombie (status %#x)" % int(status) if status is not None else "live",
            "%#x" % int(_pointer(mm)) if mm is not None else "none")


class TaskPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        t = self.val
        name = t["name"]
        raw = bytes(int(name["__0"][i]) for i in range(int(name["__1"]))).decode("utf-8", "replace")
        state = _unit_variant(t["state"])
        return "Task pid %d %r %s (%s) esp %#x stack %#x runtime %d ticks%s" % (
            int(t["pid"]), raw, TASK_LETTERS.get(state, "?"), state, int(t["esp"]), int(t["stack"]),
            int(t["runtime"]), "" if _option(t["mm"]) is None else " with an mm")


def _build_printers():
    pp = gdb.printing.RegexpCollectionPrettyPrinter("himem-proc")
    pp.add_printer("Vma", r"^kernel::mm::mmap::Vma$", VmaPrinter)
    pp.add_printer("Process", r"^kernel::process::task::Process$", ProcessPrinter)
    pp.add_printer("Task", r"^kernel::kernel::sched::Task$", TaskPrinter)
    return pp


gdb.printing.register_pretty_printer(None, _build_printers(), replace=True)
Ps()
Vmas()
Vtop()
Usersym()
Faultstop()
Faultinfo()
