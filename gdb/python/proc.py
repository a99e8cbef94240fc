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
#                    faulting instruction (faultinfo: again, at that stop)
# and pretty printers for the VMA (`Vma`), process (`Process`) and
# scheduler task (`Task`) types.
#
# Page tables are read as physical memory (rust.py's read_phys): a user
# page table lives in highmem (HIGHPTE), outside the direct map, and has no
# kernel address unless kmapped. Loaded as the module himem_proc (rust.py
# says how).

_SHARED_BEFORE = dict(globals()) if __name__ == "__main__" else None

import os  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402

import gdb  # noqa: E402
import gdb.printing  # noqa: E402

if "himem_rust" not in sys.modules:  # sourced by hand: the readers first
    gdb.execute("source " + os.path.join(os.path.dirname(os.path.abspath(__file__)), "rust.py"))
from himem_rust import (PAGE_OFFSET, PAGE_SIZE, Printer, arc, commands, enum_name, load_as_module, num, option,  # noqa: E402
                        paging_on,
                        parse_address, parse_count, pointer, read_phys_u32, read_u32, require, rust_str, static,
                        swapper_pg_dir, symbol_address, unwrap, variant, vec_items)

himem_mm = require("mm")

TASK_SIZE = PAGE_OFFSET  # user space ends where the kernel's 1 GB begins (3G/1G split)
MAX_DMA_PFN = (16 << 20) >> 12  # ZONE_DMA: the ISA DMA reach, 16 MB


# --- processes and threads ---

def processes():
    """Every `Process` in PROCS (pid order)."""
    return [arc(a) for a in vec_items(unwrap(static("kernel::process::task::PROCS")))]


def find_process(pid):
    for p in processes():
        if num(p["pid"]) == pid:
            return p
    raise gdb.GdbError("no process %d (ps lists them)" % pid)


def proc_inner(p):
    return unwrap(p["inner"])


def proc_mm(p):
    """The process's MmStruct, or None (a zombie)."""
    mm = option(proc_inner(p)["mm"])
    return None if mm is None else arc(mm)


TASK_LETTERS = {"Running": "R", "Runnable": "R", "Sleeping": "S", "Stopped": "T", "Dead": "X", "Unused": "-"}


def tasks():
    """The run queue's tasks, slot order: (pid, letter, name, task value)."""
    rq = unwrap(static("kernel::kernel::sched::RQ"))
    out = []
    for t in [rq["idle"]] + vec_items(rq["tasks"]):
        state = enum_name(t["state"])
        name = t["name"]
        raw = bytes(int(name["__0"][i]) for i in range(int(name["__1"])))
        out.append((int(t["pid"]), TASK_LETTERS.get(state, "?"), raw.decode("utf-8", "replace"), t, state))
    return out


def live_tasks():
    return [t for t in tasks() if t[4] not in ("Unused", "Dead")]


def mm_vmas(mm):
    """(VmaSet value, [Vma values]) of an MmStruct."""
    ctx = unwrap(mm["mmap"])
    vs = ctx["vmas"]
    return vs, [pointer(b).dereference() for b in vec_items(vs["vmas"]["areas"])]


VM_READ, VM_WRITE, VM_EXEC, VM_SHARED, VM_MAYSHARE = 0x1, 0x2, 0x4, 0x8, 0x80
VM_LOCKED = 0x2000


def vma_fields(v):
    """start, end, flags, pgoff, file name or None."""
    kind, payload = variant(v["kind"])
    fname = rust_str(payload["__0"]["name"]) if kind == "File" else None
    return int(v["start"]), int(v["end"]), num(v["flags"]), int(v["pgoff"]), fname


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
    return total, locked, num(mm["rss"])


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
    ppids = {num(p["pid"]) for p in procs}
    live = live_tasks()
    rows = []
    for pid, letter, name, _, _ in live:
        if pid not in ppids:
            rows.append((pid, 0, letter, 0, 0, name))
    for p in procs:
        pid = num(p["pid"])
        inner = proc_inner(p)
        if option(inner["exit_status"]) is not None:
            letter = "Z"
        else:
            letter = next((t[1] for t in live if t[0] == pid), "X")
        mm = proc_mm(p)
        total = locked = rss = 0
        if mm is not None:
            total, locked, rss = mm_counters(mm)
            if locked:
                letter += "L"
        rows.append((pid, num(p["ppid"]), letter, total * 4, rss * 4, rust_str(p["comm"])))
    rows.sort(key=lambda r: r[0])
    text = _ps_line([c[0] for c in PS_COLUMNS])
    for pid, ppid, stat, vsz, rss, name in rows:
        text += _ps_line([str(pid), str(ppid), stat, str(vsz), str(rss), name])
    return text


def ps_report(arg):
    if arg:
        raise gdb.GdbError("takes no arguments (got %r)" % arg)
    return ps_text()


def kernel_thread(pid):
    """The name of kernel thread `pid` (a task with no Process: idle,
    kswapd...), or None."""
    return next((t[2] for t in live_tasks() if t[0] == pid), None)


def user_process(cmd, text):
    """The Process of the PID argument `text`, with its MmStruct; a clear
    error for a pid that is not a number, not there, a kernel thread or a
    zombie (whose address space exit_mm has already torn down)."""
    pid = parse_count(cmd, text, "PID")
    try:
        p = find_process(pid)
    except gdb.GdbError:
        name = kernel_thread(pid)
        if name is not None:
            raise gdb.GdbError("pid %d (%s) is a kernel thread: it has no user address space (it runs on"
                               " swapper_pg_dir)" % (pid, name))
        raise
    mm = proc_mm(p)
    if mm is None:
        raise gdb.GdbError("process %d (%s) is a zombie: its address space is gone (exit_mm tore it down)"
                           % (pid, rust_str(p["comm"])))
    return pid, p, mm


def vmas_report(arg):
    args = arg.split()
    if len(args) != 1:
        raise gdb.GdbError("usage: vmas PID (got %r)" % arg)
    _, _, mm = user_process("vmas", args[0])
    vs, vmas = mm_vmas(mm)
    return "".join(maps_line(vs, v) + "\n" for v in vmas)


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
    """[(name, start_pfn, end_pfn)] of the kernel's zones (mm.py's zones()),
    or, before mm_init has built the node, the ranges they will have:
    DMA below 16 MB, Normal up to max_low_pfn, HighMem above."""
    try:
        return [(himem_mm.zone_name(z), int(z["start_pfn"]), int(z["start_pfn"]) + int(z["nr_pfns"]))
                for z in himem_mm.zones()]
    except (gdb.error, gdb.GdbError):
        low = num(static("kernel::mm::mmzone::MAX_LOW_PFN"))
        return [("DMA", 0, MAX_DMA_PFN), ("Normal", MAX_DMA_PFN, low), ("HighMem", low, 1 << 20)]


def zone_of(pfn, zones=None):
    for name, start, end in zones or zone_ranges():
        if start <= pfn < end:
            return name
    return "no zone (not RAM the kernel manages)"


def swapper_pgd_phys():
    return swapper_pg_dir() - PAGE_OFFSET


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
    pde = read_phys_u32(pgd + 4 * i)
    out.append("  PDE[%d] at phys %#010x = %#010x  %s" % (i, pgd + 4 * i, pde, decode_flags(pde)))
    if not pde & 1:
        why = "PDE not present: no page table covers %#010x" % (va & ~0x3FFFFF)
        if pid is not None and i >= TASK_SIZE >> 22 and read_phys_u32(swapper_pgd_phys() + 4 * i) & 1:
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
        pte = read_phys_u32(pt + 4 * j)
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


def vtop_report(arg):
    args = gdb.string_to_argv(arg)
    if len(args) not in (1, 2):
        raise gdb.GdbError("usage: vtop ADDR [PID] (got %r)" % arg)
    va = parse_address("vtop", args[0])
    if not paging_on():
        raise gdb.GdbError("paging is not on yet (CR0.PG clear): addresses are physical and no page directory"
                           " is walked; 'continue' to kmain first")
    pid = user_process("vtop", args[1])[0] if len(args) == 2 else None
    return "".join(line + "\n" for line in vtop_lines(va, pid))


# --- user-program symbols ---

def _elf_info(path):
    """(e_type, {section name: address}, {symbol name: value}) of an i386 ELF file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 52 or data[:4] != b"\x7fELF" or data[4] != 1:
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


def usersym_report(arg):
    args = arg.split()
    if len(args) != 1:
        raise gdb.GdbError("usage: usersym NAME (a program in build/user/; got %r)" % arg)
    name = args[0]
    path = os.path.join("build", "user", name)
    if "/" in name or not os.path.isfile(path):
        have = sorted(os.listdir(os.path.join("build", "user"))) if os.path.isdir(os.path.join("build", "user")) else []
        raise gdb.GdbError("no user program %r in build/user/ (%s)"
                           % (name, "there: " + " ".join(have) if have else "make user builds them"))
    real = os.path.realpath(path)
    e_type, secs, syms = _elf_info(real)
    if e_type != 2 or ".text" not in secs:
        raise gdb.GdbError("%s is not a static executable (ET_EXEC with a .text): its load address would be needed"
                           % real)
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
        return "usersym: %s symbols from %s (.text at %#x); no main found\n" % (name, os.path.relpath(real), secs[".text"])
    return ("usersym: %s symbols from %s (.text at %#x); its main: %s at %#x (break %s, then run %s in the shell)\n"
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
    addr = read_u32(esp + 4)
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


def faultstop_report(arg):
    args = arg.split()
    if len(args) > 1:
        raise gdb.GdbError("usage: faultstop [user|ADDR|off] (got %r)" % arg)
    a = args[0] if args else ""
    want = None
    if a not in ("", "user", "off"):
        want = parse_address("faultstop", a)
    elif a == "user":
        want = "user"
    was = [bp for bp in _FAULT_BP if bp.is_valid()]
    for bp in was:
        bp.delete()
    _FAULT_BP.clear()
    if a == "off":
        return "faultstop: off\n" if was else "faultstop: off (none was set)\n"
    addr = symbol_address(DO_PAGE_FAULT)
    _FAULT_BP.append(_FaultBreakpoint("*%#x" % addr, want))
    if want is None:
        what = "every page fault"
    elif want == "user":
        what = "page faults from user mode"
    else:
        what = "page faults in the page of %#010x" % want
    return "faultstop: stopping at do_page_fault (%#x) on %s%s; 'continue' to run\n" % (
        addr, what, " (replaces the previous faultstop)" if was else "")


def faultinfo_report(arg):
    if arg:
        raise gdb.GdbError("takes no arguments (got %r)" % arg)
    pc = int(gdb.parse_and_eval("$pc")) & 0xFFFFFFFF
    if pc != symbol_address(DO_PAGE_FAULT):
        raise gdb.GdbError("not stopped at do_page_fault's first instruction (pc %#010x): there, the"
                           " TrapFrame is do_page_fault's argument; faultstop, then continue" % pc)
    return fault_report()


COMMANDS = [
    ("ps", ps_report, """ps: the tasks, as the shell's `ps` prints them (PID PPID STAT VSZ RSS
COMMAND), read from the process table and the run queue.""", gdb.COMMAND_DATA),
    ("vmas", vmas_report, """vmas PID: process PID's areas, as the shell's `maps PID`
(/proc/PID/maps) prints them.""", gdb.COMMAND_DATA),
    ("vtop", vtop_report, """vtop ADDR [PID]: walk the page directory for virtual address ADDR (the
kernel's swapper_pg_dir, or process PID's): the PDE and PTE with their
flags, the physical address and its zone; for an unmapped address, the
step that fails. Page tables are read in physical memory, so user page
tables in highmem (HIGHPTE) are walked as any other.
ADDR is any GDB expression: 0xc0100000, $esp, &some::static.""", gdb.COMMAND_DATA),
    ("usersym", usersym_report, """usersym NAME: load the symbols of user program build/user/NAME
(add-symbol-file at its sections' link addresses: the programs are
static, non-PIE executables, loaded where they are linked). A C program
is a link to cprogs, whose main for NAME is NAME_main; a Rust program's
entry is __rt_main (its main is inlined there). Then `break SYMBOL` and
`continue`, and `run NAME` in the shell: the breakpoint is on a virtual
address, and stops in whichever process runs there.""", gdb.COMMAND_FILES, True),
    ("faultstop", faultstop_report, """faultstop [user|ADDR|off]: stop at the kernel's page-fault handler
(do_page_fault's first instruction) and print CR2, the error code
decoded (P/W/U/RSVD/I, Linux's PF_* bits) and the faulting instruction
(x/i at the trapped eip). `user`: only faults from ring 3; ADDR: only
faults in ADDR's page; `off`: remove the breakpoint. A second faultstop
replaces the first. At the stop, `faultinfo` prints the same again;
`stepi`/`next` walk the handler.""", gdb.COMMAND_BREAKPOINTS),
    ("faultinfo", faultinfo_report, """faultinfo: at a faultstop stop, CR2, the error code and the
faulting instruction again.""", gdb.COMMAND_DATA),
]


# --- pretty printers ---

class VmaPrinter(Printer):
    def text(self):
        start, end, flags, pgoff, fname = vma_fields(self.val)
        rwx = "%s%s%s%s" % ("r" if flags & VM_READ else "-", "w" if flags & VM_WRITE else "-",
                            "x" if flags & VM_EXEC else "-", "s" if flags & VM_MAYSHARE else "p")
        return "Vma %08x-%08x %s flags %#x pgoff %#x %s (%d pages)" % (
            start, end, rwx, flags, pgoff, fname if fname else "anonymous", (end - start) // PAGE_SIZE)


class ProcessPrinter(Printer):
    def text(self):
        p = self.val
        inner = proc_inner(p)
        status = option(inner["exit_status"])
        mm = option(inner["mm"])
        return "Process pid %d ppid %d comm %r %s mm %s" % (
            num(p["pid"]), num(p["ppid"]), rust_str(p["comm"]),
            "zombie (status %#x)" % int(status) if status is not None else "live",
            "%#x" % int(pointer(mm)) if mm is not None else "none")


class TaskPrinter(Printer):
    def text(self):
        t = self.val
        name = t["name"]
        raw = bytes(int(name["__0"][i]) for i in range(int(name["__1"]))).decode("utf-8", "replace")
        state = enum_name(t["state"])
        return "Task pid %d %r %s (%s) esp %#x stack %#x runtime %d ticks%s" % (
            int(t["pid"]), raw, TASK_LETTERS.get(state, "?"), state, int(t["esp"]), int(t["stack"]),
            int(t["runtime"]), "" if option(t["mm"]) is None else " with an mm")


def _build_printers():
    pp = gdb.printing.RegexpCollectionPrettyPrinter("himem-proc")
    pp.add_printer("Vma", r"^kernel::mm::mmap::Vma$", VmaPrinter)
    pp.add_printer("Process", r"^kernel::process::task::Process$", ProcessPrinter)
    pp.add_printer("Task", r"^kernel::kernel::sched::Task$", TaskPrinter)
    return pp


# What stays in GDB's shared namespace, for `python ...` at the prompt.
EXPORTS = ["processes", "find_process", "proc_inner", "proc_mm", "tasks", "mm_vmas", "vma_fields", "vtop_lines",
           "fault_report"]


def register():
    gdb.printing.register_pretty_printer(None, _build_printers(), replace=True)
    commands(COMMANDS)


if __name__ == "__main__":
    load_as_module(globals(), _SHARED_BEFORE, "proc")
