#!/usr/bin/env python3
"""Boot this tree's kernel (256M, cma=64M, seed=9) and print what the README
shows: the CMA area at boot, a hog spilling into it, `cma alloc 64M`
taking it back, and `migrate PID`. Run it in the full tree and in a
handout tree:

    python3 labs/09-cma/capture.py > labs/09-cma/output-full.txt
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from gradelib import qemu, show  # noqa: E402


def job(out):
    return int(re.search(r"\[\d+\] (\d+)", out).group(1))


def main():
    qemu.built_user_programs()
    m = qemu.Machine(mem="256M", args="seed=9 cma=64M NO_COLOR")
    try:
        log = m.boot()
        sys.stdout.write("(boot log)\n" + "".join(l + "\n" for l in log.splitlines() if "cma" in l))
        show(m, "meminfo", keep=r"^(MemTotal|MemFree|CmaTotal|CmaFree):")
        show(m, "memmap")
        show(m, "cma")
        small = job(show(m, "run hog 64M touch hold &"))
        m.expect(r"hog: holding 64M", 60)
        free_mb = qemu.meminfo_values(m.cmd("meminfo"))["MemFree"] // 1024 - 40
        big = job(show(m, "run hog %dM touch verify hold=20 &" % free_mb))
        m.expect(r"hog: holding %dM" % free_mb, 120)
        show(m, "meminfo", keep=r"^(MemFree|CmaFree):")
        show(m, "cma")
        m.cmd("kill %d" % small)
        m.cmd("wait %d" % small, 60)
        show(m, "vmstat", keep=r"^pgmigrate")
        show(m, "cma alloc 64M", 240)
        show(m, "vmstat", keep=r"^pgmigrate")
        show(m, "cma")
        out = m.cmd("cma")
        start = re.search(r"^  \[mem (0x[0-9a-f]+)-", out, re.M)
        show(m, "migrate %d" % big, 240)
        show(m, "vmstat", keep=r"^pgmigrate")
        sys.stdout.write("himem# wait %d\n" % big + qemu.program_lines(m.cmd("wait %d" % big, 120)))
        if start:
            show(m, "cma free %s" % start.group(1))
        m.cmd("shrink")
        m.cmd("drain")
        show(m, "meminfo", keep=r"^(MemFree|CmaFree):")
    finally:
        m.kill()


if __name__ == "__main__":
    main()
