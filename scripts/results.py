#!/usr/bin/env python3
"""Write bench/RESULTS.md from what `make bench` just measured (issue 13).

Usage: scripts/results.py OUT LOG... [--boot BOOT_MD] [--charts DIR]

Each LOG is the console of one bench boot (build/bench.log, then the
fragmentation study's boots); the kernel's table, from its `benchmark`
header (or the first table line) to `bench: done`, is copied verbatim
without the `@plot` chart lines. BOOT_MD is scripts/boottime.py's table.
The SVGs found in DIR are linked. The file says when and with what it was
made, so a regression shows in review as a diff of this file.
"""
import datetime
import os
import platform
import re
import subprocess
import sys


def kernel_table(path):
    text = open(path, encoding="utf-8", errors="replace").read().replace("\r", "")
    lines = text.split("\n")
    start = next((i for i, l in enumerate(lines) if l.startswith("benchmark") or l.startswith("frag:")), None)
    end = next((i for i, l in enumerate(lines) if l.startswith("bench: done")), None)
    if start is None or end is None:
        return None, None
    cmdline = next((l.split("Command line: ", 1)[1] for l in lines if "Command line: " in l), "?")
    body = [l for l in lines[start:end + 1] if not l.startswith("@plot ") and not re.match(r"^\[ *\d+\.\d+\]", l)]
    return cmdline.strip(), "\n".join(body).strip("\n")


def qemu_version():
    try:
        out = subprocess.run(["qemu-system-i386", "--version"], stdout=subprocess.PIPE, text=True).stdout
        return out.split("\n")[0]
    except OSError:
        return "?"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    out, rest = args[0], args[1:]
    boot = charts = None
    logs = []
    while rest:
        a = rest.pop(0)
        if a == "--boot":
            boot = rest.pop(0)
        elif a == "--charts":
            charts = rest.pop(0)
        else:
            logs.append(a)
    # The commit measured, "-dirty" when a file outside bench/ differs from
    # it: bench/ is what this run rewrites, so its charts do not count.
    git = subprocess.run(["git", "describe", "--always"], stdout=subprocess.PIPE, text=True).stdout.strip()
    changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"],
                             stdout=subprocess.PIPE, text=True).stdout.strip()
    if git and changed:
        git += "-dirty"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md = ["# Benchmark results", "",
          "Made by `make bench` on %s from commit `%s`." % (now, git or "?"),
          "Host: %s, %s; %s. Guest: `qemu-system-i386 -m 2G -icount shift=0,sleep=off`, so a figure is"
          % (cpu_model(), platform.system() + " " + platform.release(), qemu_version()),
          "guest instructions (`rdtsc` under icount), the same run after run; events (TLB flushes, faults,",
          "disk I/Os) are counted beside them. Goals are printed, never asserted. Regenerate with `make bench`",
          "and commit this file with the change it measures.", ""]
    for log in logs:
        cmdline, table = kernel_table(log)
        if table is None:
            md += ["## %s" % os.path.basename(log), "", "(no table: the boot did not finish; see %s)" % log, ""]
            continue
        md += ["## Boot `%s`" % cmdline, "", "```", table, "```", ""]
    if boot and os.path.exists(boot):
        md += ["## Boot time, host wall clock (`scripts/boottime.py`)", "", open(boot).read().strip(), ""]
    if charts and os.path.isdir(charts):
        svgs = sorted(f for f in os.listdir(charts) if f.endswith(".svg"))
        if svgs:
            md += ["## Charts", ""]
            rel = os.path.relpath(charts, os.path.dirname(os.path.abspath(out)))
            for f in svgs:
                md += ["![%s](%s)" % (f[:-4], f if rel == "." else os.path.join(rel, f)), ""]
    with open(out, "w") as f:
        f.write("\n".join(md).rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
