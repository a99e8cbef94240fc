#!/usr/bin/env python3
"""Instruction profile of one page fault of `make bench`'s process rows.

    make bench-run BENCH_ARGS=bench_only=process     # builds build/bench.iso
    python3 scripts/profile-fault.py [--kind zero|cow|swapin] [--page N] [--nth K] [--inline]
    python3 scripts/profile-fault.py --break kernel::process::fork::do_fork --nth 3 --max 2000000

Boots the bench ISO in QEMU (the same command line as `make bench-run`,
with -icount, its swap disk opened -snapshot so the image is not
written) stopped at the first instruction with a gdb stub, and drives GDB
(batch mode, Python) to it: a breakpoint on the #PF entry stub
(`trap_14`, src/arch/x86/kernel/entry.S), which looks at each fault's CR2
and error code. The K-th (default 2: the measured run; the first is the
unshown warming run) fault of the chosen kind on page N (default 128) of
benchfault's region (0x40000000, user/c/benchfault.c) is single-stepped
(`stepi`) from the entry to the first instruction back in user space, every
$pc recorded. Kinds: `zero` the demand-zero write (error code 6), `cow`
the copy-on-write write (7), `swapin` the read after the swap-out (4).

The PCs are then mapped to the kernel ELF's functions (`nm -n -C`; with
--inline, `addr2line -f -C` names the innermost inlined function instead)
and printed: instructions per function, in order of the most, and the
sequence of function runs (the call path, collapsed). A `rep stos`/`rep
movs` counts one step per iteration, as -icount counts it. An interrupt
taken during the fault is counted in it (its functions show up).

--break SYMBOL profiles something else: from the K-th time SYMBOL (as
`nm -C` names it, without its hash) is reached, to the first instruction
in user space after it, whatever runs meanwhile (a fork: the parent's
system call and, if the child is switched to, the child's way out). --max
caps the steps (default 200000; gdb takes about 5000 a second).

Options: --iso, --elf (default build/bench.iso, build/bench/kernel.elf),
--swap (build/swap-256M.img), --mem (2G), --port (a free one), --trace
FILE (every PC with its function, one a line), --timeout SECONDS (600).
"""
import argparse
import bisect
import os
import socket
import subprocess
import sys
import tempfile

REGION = 0x40000000
KINDS = {"zero": 6, "cow": 7, "swapin": 4}

GDB_SCRIPT = r'''
import gdb
ERR, CR2, NTH, OUT, ANY, MAX = %(err)d, %(cr2)d, %(nth)d, %(out)r, %(any)d, %(max)d
gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("target remote localhost:%(port)d")
bp = gdb.Breakpoint("*%(entry)d", internal=True)
seen = 0
inf = gdb.selected_inferior()
while True:
    gdb.execute("continue", to_string=True)
    if ANY:
        seen += 1
        if seen == NTH:
            break
        continue
    esp = int(gdb.parse_and_eval("$esp")) & 0xffffffff
    err = int.from_bytes(bytes(inf.read_memory(esp, 4)), "little")
    cr2 = int(gdb.parse_and_eval("$cr2")) & 0xffffffff
    if cr2 & ~0xfff != CR2 or err != ERR:
        continue
    seen += 1
    if seen == NTH:
        break
bp.enabled = False
pcs = []
while len(pcs) < MAX:
    pc = int(gdb.parse_and_eval("$pc")) & 0xffffffff
    if pc < 0xc0000000:
        break
    pcs.append(pc)
    gdb.execute("stepi", to_string=True)
with open(OUT, "w") as f:
    f.write("\n".join("%%x" %% p for p in pcs))
gdb.execute("kill")
'''


def free_port():
    s = socket.socket()
    s.bind(("localhost", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def symbols(elf):
    """Sorted (address, name) of the ELF's text symbols."""
    out = subprocess.run(["nm", "-n", "-C", elf], capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tTwW":
            syms.append((int(parts[0], 16), parts[2]))
    return syms


def short(name):
    """A Rust path without its hash and generic noise, shortened."""
    if "::h" in name and len(name.rsplit("::h", 1)[1]) == 16:
        name = name.rsplit("::h", 1)[0]
    return name if len(name) <= 90 else name[:87] + "..."


def names_nm(elf, pcs):
    syms = symbols(elf)
    addrs = [a for a, _ in syms]
    out = []
    for pc in pcs:
        i = bisect.bisect_right(addrs, pc) - 1
        out.append(short(syms[i][1]) if i >= 0 else "?")
    return out


def names_inline(elf, pcs):
    uniq = sorted(set(pcs))
    r = subprocess.run(["addr2line", "-f", "-C", "-e", elf] + ["%x" % p for p in uniq],
                       capture_output=True, text=True, check=True).stdout.splitlines()
    by = {p: short(r[2 * i]) for i, p in enumerate(uniq)}
    return [by[p] for p in pcs]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kind", choices=KINDS, default="zero")
    ap.add_argument("--page", type=int, default=128)
    ap.add_argument("--nth", type=int, default=2)
    ap.add_argument("--inline", action="store_true")
    ap.add_argument("--break", dest="brk")
    ap.add_argument("--max", type=int, default=200000)
    ap.add_argument("--iso", default="build/bench.iso")
    ap.add_argument("--elf", default="build/bench/kernel.elf")
    ap.add_argument("--swap", default="build/swap-256M.img")
    ap.add_argument("--mem", default="2G")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--trace")
    ap.add_argument("--timeout", type=int, default=600)
    a = ap.parse_args()
    port = a.port or free_port()
    want = a.brk or "trap_14"
    entry = next((addr for addr, n in symbols(a.elf) if short(n) == want), None)
    if entry is None:
        sys.exit("profile-fault: no symbol %s in %s" % (want, a.elf))
    with tempfile.TemporaryDirectory() as tmp:
        pcfile = os.path.join(tmp, "pcs")
        script = os.path.join(tmp, "prof.py")
        with open(script, "w") as f:
            f.write(GDB_SCRIPT % dict(err=KINDS[a.kind], cr2=REGION + a.page * 4096, nth=a.nth, out=pcfile,
                                      port=port, entry=entry, any=bool(a.brk), max=a.max))
        qemu = ["qemu-system-i386", "-m", a.mem, "-cdrom", a.iso, "-boot", "d", "-no-reboot", "-display", "none",
                "-icount", "shift=0,sleep=off", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-serial", "file:" + os.path.join(tmp, "console"), "-monitor", "none",
                "-gdb", "tcp:localhost:%d" % port, "-S"]
        if a.swap and os.path.exists(a.swap):
            qemu += ["-drive", "file=%s,format=raw,if=ide,index=0,snapshot=on" % a.swap]
        q = subprocess.Popen(qemu, stdin=subprocess.DEVNULL)
        try:
            g = subprocess.run(["gdb", "-q", "-batch", "-nx", "-ex", "set architecture i386", "-ex", "file " + a.elf,
                                "-x", script], capture_output=True, text=True, timeout=a.timeout)
            if not os.path.exists(pcfile):
                sys.exit("profile-fault: no fault traced; gdb said:\n" + g.stdout[-2000:] + g.stderr[-2000:])
            pcs = [int(x, 16) for x in open(pcfile).read().split()]
        finally:
            q.kill()
            q.wait()
    names = (names_inline if a.inline else names_nm)(a.elf, pcs)
    if a.trace:
        with open(a.trace, "w") as f:
            f.writelines("%08x %s\n" % (p, n) for p, n in zip(pcs, names))
    counts = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    if a.brk:
        print("%s, hit %d: %d instructions in the kernel (to the first in user space)" % (a.brk, a.nth, len(pcs)))
    else:
        print("%s fault on page %d (%#x), run %d: %d instructions in the kernel (entry stub to iret)"
              % (a.kind, a.page, REGION + a.page * 4096, a.nth, len(pcs)))
    print()
    print("%7s  %s" % ("instr", "function"))
    for n, c in sorted(counts.items(), key=lambda kv: -kv[1]):
        print("%7d  %s" % (c, n))
    print()
    print("path (consecutive instructions in one function collapsed):")
    run, prev = 0, None
    for n in names + [None]:
        if n != prev and prev is not None:
            print("%7d  %s" % (run, prev))
            run = 0
        run += 1
        prev = n


if __name__ == "__main__":
    main()
