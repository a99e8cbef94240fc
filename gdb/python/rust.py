# Readers for the kernel's Rust values, shared by every GDB helper in
# gdb/python/ (mm.py, mm_walk.py, proc.py): a static by its path, the
# wrappers around it taken off (locks, cells, atomics, Option, Arc, Vec,
# String), words of virtual and of physical memory; and the base class of
# the helper commands, which turns every failure into one line naming what
# could not be read, never a Python traceback.
#
# How the helper files are loaded. kernel.gdb sources this file first, then
# every other gdb/python/*.py, into the one namespace GDB's Python shares
# (`python ...` typed at the prompt runs there too). Each file then runs
# itself again as a module of its own, `himem_<file>` (sys.modules), and
# registers its commands from that copy, so that no helper's names can
# clobber another's; what the sourcing defined is taken back out of the
# shared namespace except the names the file lists in EXPORTS, which stay
# for use at the prompt (`python print(num(static("kernel::...")))`).
# A file sourced by hand (`source gdb/python/proc.py`) loads this one first
# by itself (require()).

_SHARED_BEFORE = dict(globals()) if __name__ == "__main__" else None

import os  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402

import gdb  # noqa: E402

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_OFFSET = 0xC0000000

# ---------------------------------------------------------------------------
# Rust values


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
# spin::Mutex/IrqLock/SpinLock (inner -> data), the kernel's sleeping
# Mutex (data), UnsafeCell (value),
# MaybeUninit/ManuallyDrop (value), Atomic<T> (v), newtypes (__0).
_WRAPPER_FIELDS = ("data", "value", "inner", "v", "__0", "slot")
_WRAPPERS = (
    "core::cell::",
    "core::mem::",
    "core::sync::atomic::",
    "spin::",
    "kernel::kernel::sync::",
    "kernel::kernel::mutex::",
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


def data_fields(v):
    """The fields of struct `v` that hold data (no PhantomData, no ZSTs)."""
    return [f for f in v.type.strip_typedefs().fields() if f.type is not None and f.type.sizeof > 0]


def num(v):
    """A Rust integer as a Python int, through its wrappers (atomics, cells)
    and one-field structs (AlignN, newtypes such as a pid)."""
    v = unwrap(v)
    while v.type.strip_typedefs().code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION):
        fs = data_fields(v)
        if len(fs) != 1:
            raise gdb.GdbError("%s is not an integer (nor a one-field wrapper of one)" % v.type)
        v = unwrap(v[fs[0]])
    return int(v)


def pointer(v):
    """The raw pointer inside NonNull, Unique, Box, an Arc's `ptr`..."""
    while v.type.strip_typedefs().code != gdb.TYPE_CODE_PTR:
        fs = data_fields(v)
        if not fs:
            raise gdb.GdbError("no pointer in %s" % v.type)
        v = v[fs[0]]
    return v


def arc(v):
    """The T of an Arc<T>."""
    return pointer(v).dereference()["data"]


def once_ready(v):
    """Whether a spin::Once has its value (status COMPLETE)."""
    return num(v["status"]) == 2


def lock_held(v):
    """Whether a spin::Mutex (or the kernel's IrqLock/SpinLock around one)
    is locked: its lock word, found by going in through `inner`; or the
    kernel's sleeping Mutex (its `locked` flag)."""
    while True:
        names = [f.name for f in v.type.strip_typedefs().fields()]
        if "locked" in names:
            return num(v["locked"]) != 0
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


def variant(v):
    """(variant name, payload) of a Rust enum value with data: GDB resolves
    the active variant and shows it as the value type's last field."""
    v = unwrap(v)
    f = v.type.fields()[-1]
    return f.name, v[f]


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
                length = num(x[f.name])
            elif f.name in ("cap", "alloc", "_marker", "phantom"):
                continue
            else:
                stack.append(x[f.name])
    if ptr is None or length is None:
        raise gdb.GdbError("cannot find the pointer and length of %s" % v.type)
    return ptr, length


def rust_str(v):
    """A &str, a String or a Vec<u8> as a Python str."""
    v = unwrap(v)
    names = [f.name for f in v.type.strip_typedefs().fields()]
    if "data_ptr" in names:
        ptr, n = int(v["data_ptr"]), int(v["length"])
    else:
        ptr, n = _find_ptr_len(v)
    if n == 0:
        return ""
    return bytes(gdb.selected_inferior().read_memory(ptr, n)).decode("utf-8", "replace")


rust_string = rust_str  # the name mm.py's readers had for a String


def vec_items(v):
    """The elements of a Vec<T>, as GDB values."""
    v = unwrap(v)
    ptr, n = _find_ptr_len(v)
    p = gdb.Value(ptr).cast(v.type.template_argument(0).pointer())
    return [(p + i).dereference() for i in range(n)]


def vec_bytes(v, elem_size):
    """The elements of a Vec<T> as raw bytes (one read), and their count."""
    ptr, n = _find_ptr_len(unwrap(v))
    if n == 0:
        return b"", 0
    return bytes(gdb.selected_inferior().read_memory(ptr, n * elem_size)), n


# ---------------------------------------------------------------------------
# Memory: virtual (through the current page tables), physical, symbols


def read_u32s(addr, n):
    data = bytes(gdb.selected_inferior().read_memory(addr, 4 * n))
    return [int.from_bytes(data[i:i + 4], "little") for i in range(0, 4 * n, 4)]


def read_u32(addr):
    return read_u32s(addr, 1)[0]


def _phys_mode(on):
    # GDB's data cache holds bytes by address, whichever mode they were
    # read in: dropped on each switch, or a virtual read of address X
    # could answer a physical read of X.
    gdb.execute("maint flush dcache", to_string=True)
    gdb.execute("maint packet Qqemu.PhyMemMode:%d" % (1 if on else 0), to_string=True)


def read_phys(paddr, n):
    """n bytes of physical memory at paddr, highmem included.

    Through QEMU's gdbstub physical mode (`maint packet Qqemu.PhyMemMode:1`),
    rather than `monitor xp`: the mode reads with the same binary memory
    packets as any other read, any size in one call, and the bytes need no
    parsing out of the monitor's text. Lowmem could be read at PAGE_OFFSET
    too; highmem has no kernel address until kmapped, and user page tables
    (HIGHPTE) live there. The mode is switched back off even when the read
    fails."""
    _phys_mode(True)
    try:
        return bytes(gdb.selected_inferior().read_memory(paddr, n))
    finally:
        _phys_mode(False)


def read_phys_u32(paddr):
    return int.from_bytes(read_phys(paddr, 4), "little")


def symbol_address(name):
    """The address of a symbol that has no debug type (an assembly label)."""
    try:
        where = gdb.execute("info address %s" % name, to_string=True)
    except gdb.error:
        where = ""
    m = re.search(r"0x[0-9a-f]+", where)
    if not m:
        raise gdb.GdbError("no symbol %s in this kernel (stale build/kernel.elf?)" % name)
    return int(m.group(0), 16)


def swapper_pg_dir():
    """The kernel's page directory (its virtual address, in lowmem)."""
    return symbol_address("swapper_pg_dir")


def kernel_pte(vaddr):
    """The PTE for vaddr in the kernel's page directory (None: no page
    table). Kernel page tables are in lowmem, read through the direct map."""
    pde = read_u32(swapper_pg_dir() + 4 * (vaddr >> 22))
    if not pde & 1 or pde & 0x80:
        return None
    return read_u32(PAGE_OFFSET + (pde & 0xFFFFF000) + 4 * ((vaddr >> 12) & 0x3FF))


def paging_on():
    """Whether the CPU translates addresses (CR0.PG): before it is set
    (stopped at the first instruction) the kernel's higher-half addresses
    reach nothing."""
    try:
        return bool(int(gdb.parse_and_eval("$cr0")) & 0x80000000)
    except gdb.error:
        return True  # no CR0 from this stub: assume so, and let a read say otherwise


# ---------------------------------------------------------------------------
# Arguments


def parse_address(cmd, text, what="ADDR"):
    """A command's address or number argument: a GDB expression (0xc0100000,
    $esp, &kernel::...), as a 32-bit value. The error names the text."""
    try:
        v = gdb.parse_and_eval(text)
        if v.type.strip_typedefs().code == gdb.TYPE_CODE_VOID:
            raise gdb.error("it has no value")
        return int(v) & 0xFFFFFFFF
    except (gdb.error, ValueError, OverflowError) as e:
        raise gdb.GdbError("%s: %s %r is not a number or an expression GDB can evaluate (%s)" % (cmd, what, text, e))


def parse_count(cmd, text, what="N"):
    """A plain decimal or 0x count: no expression (a pid, a page count)."""
    try:
        n = int(text, 0)
    except ValueError:
        raise gdb.GdbError("%s: %s %r is not a number" % (cmd, what, text))
    if n < 0:
        raise gdb.GdbError("%s: %s %r is negative" % (cmd, what, text))
    return n


# ---------------------------------------------------------------------------
# Commands


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


class Printer:
    """A pretty printer's frame: it keeps the value, and `to_string` reads
    it as Rust (see RustLanguage) through the subclass's `text()`."""

    def __init__(self, val):
        self.val = val

    def to_string(self):
        with RustLanguage():
            return self.text()


class Command(gdb.Command):
    """A helper command whose work is `report(arg) -> text`. Errors come out
    as one line starting with the command's name, never a traceback: a bad
    argument (raised as gdb.GdbError by the report, naming the value), or
    memory that cannot be read (paging not on yet, a corrupt pointer)."""

    def __init__(self, name, report, category=gdb.COMMAND_DATA, offline=False):
        super().__init__(name, category)
        self._name = name
        self.report = report
        self.offline = offline  # works without a kernel to read (usersym)

    def invoke(self, arg, from_tty):
        # Without a target GDB reads the ELF file's initial values, which
        # would print as a plausible but unborn kernel's state.
        if not self.offline and gdb.selected_inferior().pid == 0:
            raise gdb.GdbError("%s: no kernel to read: GDB is not connected to QEMU (make gdb, make attach,"
                               " or target remote localhost:1234)" % self._name)
        try:
            with RustLanguage():
                text = self.report(arg.strip())
        except gdb.GdbError as e:
            msg = str(e)
            raise gdb.GdbError(msg if msg.startswith(self._name + ":") else "%s: %s" % (self._name, msg))
        except gdb.MemoryError as e:
            if not paging_on():
                raise gdb.GdbError("%s: %s: paging is not on yet (CR0.PG clear), so the kernel's addresses"
                                   " reach nothing: 'continue' to kmain first" % (self._name, e))
            raise gdb.GdbError("%s: %s (a pointer read on the way is bad, or the memory is not mapped)"
                               % (self._name, e))
        except gdb.error as e:
            raise gdb.GdbError("%s: %s (is build/kernel.elf the running kernel?)" % (self._name, e))
        except Exception as e:  # noqa: BLE001 - a bug here must not leave GDB with a traceback only
            tb = e.__traceback__
            while tb.tb_next is not None:
                tb = tb.tb_next
            raise gdb.GdbError("%s: internal error in the helper, %s: %s (%s:%d); please report it"
                               % (self._name, type(e).__name__, e, os.path.basename(tb.tb_frame.f_code.co_filename),
                                  tb.tb_lineno))
        gdb.write(text)


def commands(table):
    """Register `table` ([(name, report, help text, category[, offline])])
    as commands."""
    for name, report, doc, category, *offline in table:
        cls = type("Cmd_" + name, (Command,), {"__doc__": doc})
        cls(name, report, category, bool(offline and offline[0]))


# ---------------------------------------------------------------------------
# Loading


def require(stem):
    """The module himem_<stem> (gdb/python/<stem>.py), sourced now if no
    helper file has loaded it yet (a file sourced by hand)."""
    name = "himem_" + stem
    if name not in sys.modules:
        gdb.execute("source " + os.path.join(os.path.dirname(os.path.abspath(__file__)), stem + ".py"))
    return sys.modules[name]


def load_as_module(shared, before, stem):
    """Called at the end of helper file gdb/python/<stem>.py sourced into the
    shared namespace (`shared`, which held `before` until then): run the
    file again as the module himem_<stem>, register its commands (its
    register()), then put the shared namespace back as it was, plus the
    file's EXPORTS. The file is named by `stem` because the shared
    `__file__` is the outermost file being sourced (proc.py sourcing
    rust.py), but all of them live in one directory."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(shared["__file__"])), stem + ".py")
    name = "himem_" + stem
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    # No gdb/python/__pycache__ left in the work tree.
    saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.dont_write_bytecode = saved
    if hasattr(mod, "register"):
        mod.register()
    for n in [n for n in shared if n not in before or shared[n] is not before[n]]:
        if n in before:
            shared[n] = before[n]
        else:
            del shared[n]
    # Every loaded helper's exports, not only this file's: a file sourced by
    # hand has loaded rust.py (and mm.py) from inside its own sourcing, and
    # the restore just above took their names back out.
    for mname, m in list(sys.modules.items()):
        if mname.startswith("himem_"):
            for n in getattr(m, "EXPORTS", []):
                shared[n] = getattr(m, n)
            shared[mname] = m
    return mod


EXPORTS = ["static", "unwrap", "num", "pointer", "arc", "once_ready", "field", "enum_name", "variant", "option",
           "rust_str", "rust_string", "vec_items", "vec_bytes", "read_u32s", "read_u32", "read_phys",
           "read_phys_u32", "symbol_address", "swapper_pg_dir", "kernel_pte"]

if __name__ == "__main__":
    load_as_module(globals(), _SHARED_BEFORE, "rust")
