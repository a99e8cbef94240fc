#!/usr/bin/env python3
"""Boot this tree's kernel (256M, seed=8) and print what the README shows:
two hogs' oom_score, then an OOM kill (the report in the log) and the
memory before and after. Run it in the full tree and in a handout tree:

    python3 labs/08-oom/capture.py > labs/08-oom/output-full.txt

Its output is pasted into README.md as it is.
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from gradelib import qemu, show  # noqa: E402


def main():
    qemu.built_user_programs()
    m = qemu.Machine(mem="256M", args="seed=8")
    try:
        m.boot()
        m.cmd("run hog 1M touch")
        small = int(re.search(r"\[\d+\] (\d+)", show(m, "run hog 16M touch hold &")).group(1))
        m.expect(r"hog: holding 16M", 60)
        big = int(re.search(r"\[\d+\] (\d+)", show(m, "run hog 96M touch hold &")).group(1))
        m.expect(r"hog: holding 96M", 60)
        show(m, "ps")
        show(m, "oom_score %d" % small)
        show(m, "oom_score %d" % big)
        show(m, "choom -p %d" % big)
        show(m, "status %d" % big, keep=r"^(Name|Pid|VmRSS|VmSwap|VmPTE)")
        m.cmd("kill %d %d" % (small, big))
        m.cmd("wait", 60)
        m.cmd("shrink")
        show(m, "meminfo", keep=r"^(MemTotal|MemFree|AnonPages):")
        at = len(m.out)
        show(m, "run hog 30M touch hold=5 &")
        m.expect(r"hog: holding 30M", 60)
        show(m, "run hog 150M touch hold=5 &")
        m.expect(r"hog: holding 150M", 60)
        show(m, "run hog 100M touch hold=1 &")
        m.expect(r"hog: holding 100M", 90)
        sys.stdout.write("himem# wait\n" + "".join(l + "\n" for l in qemu.program_lines(m.cmd("wait", 60)).splitlines()
                                                 if l != "wait"))
        log = [l for l in m.out[at:].splitlines() if re.match(r"^\[ *\d+\.\d+\] ", l)]
        sys.stdout.write("himem# dmesg   (the lines this workload added)\n" + "\n".join(log) + "\n")
        show(m, "vmstat", keep=r"^oom_kill ")
        m.cmd("shrink")
        show(m, "meminfo", keep=r"^(MemTotal|MemFree|AnonPages):")
    finally:
        m.kill()


if __name__ == "__main__":
    main()
