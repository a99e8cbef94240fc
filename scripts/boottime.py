#!/usr/bin/env python3
"""Boot time of `make run` against the floor (issue 13), on the host's clock.

The floor is an empty multiboot2 kernel (bench/floor/floor.S) that GRUB
loads and that powers QEMU off at once: what any kernel booted this way pays
for QEMU, SeaBIOS and GRUB. It is measured attached as QEMU's -cdrom (IDE
port reads, as the issue measured it and as `make run` attaches its CD) and
on AHCI (DMA; see the Makefile for why `make run` does not use it).
The floor's ISO is grub-mkrescue's as it comes; `make image` lays its ISOs
out with the modules GRUB loads at boot first (see the Makefile), and the
empty kernel is also timed on an ISO made that way, so that what the layout
saves is seen on both sides.
Then `printf '\\npoweroff\\n' | make run` is timed whole, with nothing to
rebuild (make, QEMU, firmware, GRUB loading the kernel and the programs, the
kernel's boot to the prompt, poweroff). ROUNDS rounds, alternating, medians.

Usage: scripts/boottime.py [ROUNDS]      prints a Markdown table (ROUNDS: 7)
       scripts/boottime.py --reads ISO   boots ISO once (as make run would)
           and lists what GRUB and the kernel read from the CD, file by file,
           from QEMU's ide_atapi_cmd_read trace: how the Makefile's
           GRUB_BOOT_MODULES list was found
"""
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLOOR = os.path.join(ROOT, "build", "floor")
SWAP_IMG = os.path.join(ROOT, "build", "swap-256M.img")
QEMU = ["qemu-system-i386", "-m", "2G", "-no-reboot", "-display", "none",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-chardev", "stdio,id=s0,mux=off,signal=off", "-serial", "chardev:s0", "-monitor", "none"]
GRUB_CFG = """set timeout=0
set default=0
serial --unit=0 --speed=115200
terminal_output serial
menuentry "floor" {
    multiboot2 /boot/kernel.elf
    boot
}
"""


def run(cmd, **kw):
    r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    if r.returncode != 0:
        sys.exit("boottime: %s failed:\n%s" % (" ".join(cmd), r.stdout.decode(errors="replace")[-2000:]))


def floor_iso():
    tree = os.path.join(FLOOR, "iso")
    os.makedirs(os.path.join(tree, "boot", "grub"), exist_ok=True)
    obj = os.path.join(FLOOR, "floor.o")
    run(["gcc", "-m32", "-c", "bench/floor/floor.S", "-o", obj])
    run(["ld", "-m", "elf_i386", "-T", "bench/floor/floor.ld", obj, "-o", os.path.join(tree, "boot", "kernel.elf")])
    with open(os.path.join(tree, "boot", "grub", "grub.cfg"), "w") as f:
        f.write(GRUB_CFG)
    iso = os.path.join(FLOOR, "floor.iso")
    run(["grub-mkrescue", "-o", iso, tree])
    laid_out = os.path.join(FLOOR, "floor-make.iso")
    run(["make", "-s", "image", "ISO_TREE=" + tree, "ISO=" + laid_out])
    return iso, laid_out


def reads(iso):
    """Boot ISO once under QEMU's trace of ATAPI reads; print each run of
    consecutive sectors read and the files it covers (GRUB reads through a
    cache of 32 KB blocks, so a run covers the neighbours of what was wanted)."""
    import re
    import tempfile
    lba = subprocess.run(["xorriso", "-indev", iso, "-find", "/", "-exec", "report_lba", "--"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    files = []  # (first sector, sectors, path)
    for m in re.finditer(r"File data lba:\s*\d+\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*\d+\s*,\s*'([^']*)'", lba):
        files.append((int(m.group(1)), int(m.group(2)), m.group(3)))
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "trace")
        swap = ["-drive", "file=%s,format=raw,if=ide,index=0" % SWAP_IMG] if os.path.exists(SWAP_IMG) else []
        subprocess.run(QEMU + ["-cdrom", iso, "-boot", "d", "-D", log, "-trace", "ide_atapi_cmd_read"] + swap,
                       input=b"\npoweroff\n", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        runs = []  # [first, end]
        for line in open(log):
            m = re.search(r"LBA=(\d+) nb_sectors=(\d+)", line)
            if not m:
                continue
            first, n = int(m.group(1)), int(m.group(2))
            if runs and runs[-1][1] == first:
                runs[-1][1] += n
            else:
                runs.append([first, first + n])
    total = sum(end - first for first, end in runs)
    print("%d sectors (%d KB) in %d runs" % (total, total * 2, len(runs)))
    for first, end in runs:
        names = [p for f, n, p in files if f < end and f + max(n, 1) > first]
        print("%6d-%-6d %5d KB  %s" % (first, end, (end - first) * 2, " ".join(os.path.basename(p) for p in names)))


def timed(cmd, stdin=b""):
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=ROOT, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    t = time.monotonic() - t0
    return t, r


def main():
    args = sys.argv[1:]
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return
    if args and args[0] == "--reads":
        if len(args) != 2:
            sys.exit("usage: scripts/boottime.py --reads ISO")
        if not os.path.isfile(args[1]):
            sys.exit("boottime.py: --reads %r: no such file (make iso builds build/kernel.iso)" % args[1])
        reads(args[1])
        return
    if len(args) > 1 or (args and not (args[0].isdigit() and int(args[0]) > 0)):
        sys.exit("boottime.py: %r is not a number of rounds from 1 up\n"
                 "usage: scripts/boottime.py [ROUNDS] | --reads ISO | --help" % " ".join(args))
    rounds = int(args[0]) if args else 7
    iso, laid_out = floor_iso()
    run(["make", "-s", "iso"])  # so that make run finds nothing to rebuild
    # The bench boots just wrote to the swap image: QEMU would flush those
    # pages when its first boots here close it (0.3 s more each, seen).
    os.sync()
    ahci = ["-device", "ahci,id=ahci", "-drive", "id=cd,file=%s,media=cdrom,if=none,readonly=on" % iso,
            "-device", "ide-cd,drive=cd,bus=ahci.0,bootindex=1"]
    cases = [
        ("empty multiboot2 kernel, CD as -cdrom (IDE)", QEMU + ["-cdrom", iso, "-boot", "d"], b"", 1),
        ("empty multiboot2 kernel, CD on AHCI", QEMU + ahci, b"", 1),
        ("empty multiboot2 kernel, -cdrom, ISO laid out as make's", QEMU + ["-cdrom", laid_out, "-boot", "d"], b"", 1),
        ("printf '\\npoweroff\\n' | make run (2G, nothing to rebuild)", ["make", "-s", "run"], b"\npoweroff\n", 0),
    ]
    times = {name: [] for name, _, _, _ in cases}
    for _ in range(rounds):
        for name, cmd, stdin, want in cases:
            t, r = timed(cmd, stdin)
            # The floor exits through isa-debug-exit with 0: QEMU status 1.
            if r.returncode != want:
                sys.exit("boottime: %r exited %d, not %d:\n%s" % (name, r.returncode, want,
                                                                  r.stdout.decode(errors="replace")[-1500:]))
            times[name].append(t)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    floor_ide, floor_ahci, floor_laid, ours = (med[c[0]] for c in cases)
    # The range shows the noise: other work on the host only adds time.
    print("| boot, wall clock (median of %d) | seconds | range | x floor (-cdrom) | x floor (AHCI) "
          "| x floor (make's layout) |" % rounds)
    print("|---|---:|---:|---:|---:|---:|")
    for name, _, _, _ in cases:
        print("| %s | %.3f | %.3f-%.3f | %.2f | %.2f | %.2f |"
              % (name, med[name], min(times[name]), max(times[name]),
                 med[name] / floor_ide, med[name] / floor_ahci, med[name] / floor_laid))
    print()
    print("goal: make run within 1.5x of the floor; measured %.2fx (-cdrom floor), %.2fx (AHCI floor), "
          "%.2fx (the floor on an ISO laid out as make's)" % (ours / floor_ide, ours / floor_ahci, ours / floor_laid))

    def verdict(x):
        return "met" if x <= 1.5 else "misses by %.2fx" % (x - 1.5)
    print("goal against the issue's floor (grub-mkrescue's ISO, -cdrom): %s; against the same floor laid out "
          "as make's: %s. Beyond the floor GRUB reads our kernel, symbols and programs (1.8 MB) by IDE port "
          "I/O, about 0.1 ms per 2 KB sector, and the kernel's boot to the prompt sets up the page descriptors "
          "of all of RAM" % (verdict(ours / floor_ide), verdict(ours / floor_laid)))


if __name__ == "__main__":
    main()
