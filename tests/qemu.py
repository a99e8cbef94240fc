#!/usr/bin/env python3
"""In-QEMU tests: boot the kernel, drive the shell over the serial console,
check what it prints and how QEMU exits. Also runs the in-kernel tests
(boot option `ktest`) and counts their libtest-shaped lines.

Every boot has a timeout; a kernel that hangs fails its test, never the run.
Prints `test NAME ... ok|FAILED` lines and ends with `N passed, N failed`.
Usage: tests/qemu.py [FILTER]
"""

import os
import re
import select
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "tests")
PROMPT = "himem# "
BOOT_TIMEOUT = 60
CMD_TIMEOUT = 30

results = []  # (name, ok, detail)


def iso_for(args):
    """Build (once per ARGS) an ISO whose grub.cfg passes ARGS to the kernel."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", args).strip("_") or "default"
    iso = os.path.join(BUILD, name + ".iso")
    if iso not in iso_for.built:
        os.makedirs(BUILD, exist_ok=True)
        r = subprocess.run(["make", "-s", "-C", ROOT, "iso", "ARGS=" + args, "ISO=" + iso],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise AssertionError("building the ISO failed:\n" + r.stderr.decode("utf-8", "replace")[-2000:])
        iso_for.built.add(iso)
    return iso


iso_for.built = set()


class Machine:
    """One QEMU boot with the serial console on a pipe."""

    def __init__(self, args="", mem="2G"):
        self.iso = iso_for(args)
        cmd = ["qemu-system-i386", "-m", mem, "-cdrom", self.iso, "-boot", "d",
               "-no-reboot", "-display", "none",
               "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
               "-chardev", "stdio,id=s0,mux=off,signal=off", "-serial", "chardev:s0",
               "-monitor", "none"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.out = ""
        self.pos = 0  # where the next expect() starts looking

    def _read(self, deadline):
        while time.time() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if r:
                data = os.read(self.proc.stdout.fileno(), 65536)
                if not data:
                    return False
                self.out += data.decode("utf-8", "replace").replace("\r", "")
                return True
            if self.proc.poll() is not None:
                # Drain what is left.
                rest = self.proc.stdout.read()
                if rest:
                    self.out += rest.decode("utf-8", "replace").replace("\r", "")
                return False
        return False

    def expect(self, pattern, timeout=CMD_TIMEOUT):
        """Wait for regex `pattern` after the last match; return the text before it."""
        deadline = time.time() + timeout
        rx = re.compile(pattern, re.M)
        while True:
            m = rx.search(self.out, self.pos)
            if m:
                before = self.out[self.pos:m.start()]
                self.pos = m.end()
                return before, m
            if time.time() >= deadline or not self._read(deadline):
                m = rx.search(self.out, self.pos)
                if m:
                    continue
                raise AssertionError("timed out waiting for %r; output tail:\n%s"
                                     % (pattern, self.out[-1500:]))

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def cmd(self, line, timeout=CMD_TIMEOUT):
        """Run a shell command; return its output (between the echo and the next prompt)."""
        self.send(line + "\n")
        self.expect(r"\n", timeout)  # the echo of the line itself
        out, _ = self.expect(re.escape(PROMPT), timeout)
        return out

    def boot(self):
        # The first byte can be lost before the UART is set up: lead with an
        # empty line, which the shell ignores.
        self.send("\n")
        before, _ = self.expect(re.escape(PROMPT), BOOT_TIMEOUT)
        return before

    def wait_exit(self, timeout=CMD_TIMEOUT):
        deadline = time.time() + timeout
        while self.proc.poll() is None and time.time() < deadline:
            self._read(deadline)
        if self.proc.poll() is None:
            self.kill()
            raise AssertionError("QEMU did not exit within %ds; tail:\n%s" % (timeout, self.out[-1500:]))
        while self._read(time.time() + 0.5):
            pass
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def record(name, fn):
    try:
        fn()
        results.append((name, True, ""))
        print("test %s ... ok" % name, flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is a test failure
        results.append((name, False, str(e)))
        print("test %s ... FAILED\n    %s" % (name, str(e).replace("\n", "\n    ")), flush=True)


# --- one boot, many shell checks -------------------------------------------

QEMU_2G_MAP = [
    "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
    "BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved",
    "BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved",
    "BIOS-e820: [mem 0x0000000000100000-0x000000007ffdffff] usable",
    "BIOS-e820: [mem 0x000000007ffe0000-0x000000007fffffff] reserved",
    "BIOS-e820: [mem 0x00000000fffc0000-0x00000000ffffffff] reserved",
]


def shell_suite(only):
    m = Machine()
    tests = []

    def t(name):
        def deco(fn):
            tests.append(("qemu::shell::" + name, fn))
            return fn
        return deco

    state = {}

    @t("boots_to_prompt_with_banner_and_memory_map")
    def _():
        log = m.boot()
        state["boot"] = log
        check("himem version" in log, "no banner in:\n" + log)
        for line in QEMU_2G_MAP:
            check(line in log, "missing %r in boot log" % line)
        check(re.search(r"^\[\s+\d+\.\d{6}\] ", log, re.M), "no Linux-style timestamps")

    @t("help_lists_every_command")
    def _():
        out = m.cmd("help")
        for name in ["help", "echo", "dmesg", "uptime", "cmdline", "bootmap", "crash", "poweroff", "ps", "ktest"]:
            check(re.search(r"^\s+%s\b.*\S" % name, out, re.M), "help lacks %s:\n%s" % (name, out))

    @t("echo_prints_words")
    def _():
        check(m.cmd('echo hello   "big world"').strip() == "hello big world", "echo output wrong")

    @t("dmesg_replays_boot_log")
    def _():
        out = m.cmd("dmesg")
        check("himem version" in out and QEMU_2G_MAP[3] in out, "dmesg lacks boot lines:\n" + out[:800])
        check(re.search(r"^\[\s+\d+\.\d{6}\] ", out, re.M), "dmesg lines lack timestamps")

    @t("uptime_counts_up")
    def _():
        a = m.cmd("uptime").strip()
        check(re.fullmatch(r"\d+\.\d\d \d+\.\d\d", a), "uptime format: %r" % a)
        time.sleep(0.3)
        b = m.cmd("uptime").strip()
        check(float(b.split()[0]) > float(a.split()[0]), "uptime did not advance: %s -> %s" % (a, b))

    @t("cmdline_is_empty_by_default")
    def _():
        check(m.cmd("cmdline").strip() == "", "cmdline not empty")

    @t("bootmap_shows_map_and_modules")
    def _():
        out = m.cmd("bootmap")
        for line in QEMU_2G_MAP:
            check(line in out, "bootmap lacks %r" % line)
        check(re.search(r"^module: \[mem 0x[0-9a-f]{16}-0x[0-9a-f]{16}\] symbols$", out, re.M), "no symbols module")

    @t("ps_lists_threads")
    def _():
        out = m.cmd("ps")
        check("[swapper]" in out and "[sh]" in out, "ps output:\n" + out)

    @t("unknown_command_is_reported")
    def _():
        out = m.cmd("frobnicate 1 2")
        check("sh: frobnicate: command not found" in out, out)

    @t("bad_arguments_are_reported")
    def _():
        check("crash: unknown kind 'xyz'" in m.cmd("crash xyz"), "crash xyz")
        check("crash: missing KIND" in m.cmd("crash"), "crash without kind")
        check("help: takes no arguments" in m.cmd("help me"), "help me")
        check("sh: unclosed quote" in m.cmd('echo "oops'), "unclosed quote")
        check("sh: too many words" in m.cmd("echo " + " ".join(["w"] * 20)), "too many words")

    @t("overlong_line_is_refused")
    def _():
        m.send("echo " + "x" * 400 + "\n")
        out, _ = m.expect(re.escape(PROMPT))
        check("line too long" in out, "no refusal:\n" + out[-300:])
        check(m.cmd("echo still alive").strip() == "still alive", "shell broken after long line")

    @t("line_editing_backspace_ctrl_u_ctrl_c")
    def _():
        check(m.cmd("echo abx\x7fc").strip().endswith("abc"), "backspace")
        out = m.cmd("poweroff\x15echo after ctrl-u")
        check(out.strip() == "after ctrl-u", "ctrl-u: %r" % out)
        m.send("poweroff\x03")
        m.expect(r"\^C\n" + re.escape(PROMPT))
        check(m.cmd("echo after ctrl-c").strip() == "after ctrl-c", "ctrl-c did not cancel")

    @t("ktest_command_runs_in_kernel_tests")
    def _():
        out = m.cmd("ktest sched::threads", timeout=60)
        check(re.search(r"test kernel::sched::threads_run_and_exit \.\.\. ok", out), out)
        check("test result: ok. 1 passed; 0 failed" in out, out)

    @t("slabinfo_lists_kmalloc_caches_in_2_1_format")
    def _():
        out = m.cmd("slabinfo")
        check(out.startswith("slabinfo - version: 2.1\n# name            <active_objs>"), "slabinfo header:\n" + out[:300])
        for name in ["kmalloc-8 ", "kmalloc-96 ", "kmalloc-8k ", "dma-kmalloc-64 "]:
            check(re.search(r"^%s\s*\d+\s+\d+\s+\d+\s+\d+\s+\d+ : tunables\s+\d+\s+\d+\s+\d+ : slabdata\s+\d+\s+\d+\s+\d+$" % re.escape(name.strip()), out, re.M),
                  "no %s line:\n%s" % (name, out))
        km = m.cmd("kmalloc")
        check(re.search(r"^kmalloc-64\s+\d+\s+\d+\s+\d+\s+(\d+%|-)$", km, re.M), "kmalloc summary:\n" + km)

    @t("vmalloc_vmallocinfo_vfree")
    def _():
        addr = m.cmd("vmalloc 100K").strip()
        check(re.fullmatch(r"0x[0-9a-f]{8}", addr), "vmalloc printed %r" % addr)
        info = m.cmd("vmallocinfo")
        start = int(addr, 16)
        want = "%#010x-%#010x  106496 " % (start, start + 106496)
        check(want in info and "pages=25 vmalloc" in info, "vmallocinfo:\n" + info)
        mi = meminfo_values(m.cmd("meminfo"))
        check(mi["VmallocUsed"] == 100, "VmallocUsed %r" % mi.get("VmallocUsed"))
        m.cmd("vfree " + addr)
        check(want not in m.cmd("vmallocinfo"), "area still listed after vfree")
        check("vmalloc: bad size 'lots'" in m.cmd("vmalloc lots"), "bad size not reported")

    @t("kmaps_shows_slots_after_kmap_workload")
    def _():
        out = m.cmd("ktest mm::highmem::kmap_costs", timeout=60)
        check("test result: ok. 1 passed" in out, out)
        km = m.cmd("kmaps")
        check(re.search(r"^slots: \d+ in use, \d+ free, \d+ free but stale \(flushed at the next wrap\) of 1024$", km, re.M), "kmaps:\n" + km)
        check(re.search(r"^\s*\d+\s+1\s+0x[0-9a-f]+\s+0xff[89ab][0-9a-f]{5}$", km, re.M), "no stale slot listed:\n" + km)

    @t("poweroff_exits_zero")
    def _():
        m.send("poweroff\n")
        code = m.wait_exit()
        check(code == 0, "exit status %d" % code)

    selected = [(n, f) for n, f in tests if only in n]
    if not selected:
        m.kill()
        return
    try:
        if selected[0][0] != tests[0][0]:
            m.boot()  # the later checks need the prompt
        for name, fn in selected:
            record(name, fn)
    finally:
        m.kill()


# --- boots of their own --------------------------------------------------------

CRASHES = {
    "pf": [r"BUG: unable to handle page fault for address: 00000010",
           r"#PF: supervisor write access in kernel mode",
           r"#PF: error_code\(0x0002\) - not-present page",
           r"Oops: 0002 \[#1\]", r"CR2: 00000010", r"\*pde = 00000000"],
    "div": [r"divide error: 0000 \[#1\]"],
    "ud": [r"invalid opcode: 0000 \[#1\]"],
    "gp": [r"general protection fault: 1238 \[#1\]"],
    "panic": [r"Kernel panic - not syncing: crash command: panic requested from the shell"],
    "stack": [r"BUG: stack guard page was hit at 0x[0-9a-f]{8}",
              r"kernel stack overflow \(double-fault\)", r"overflow\+0x"],
    "vmalloc-guard": [r"BUG: unable to handle page fault for address: f8801000",
                      r"vmalloc: 0xf8801000 is the guard page of the area 0xf8800000-0xf8802000 \(1 pages\)",
                      r"#PF: supervisor write access in kernel mode"],
}


def crash_test(kind, patterns):
    def run():
        m = Machine()
        try:
            m.boot()
            m.send("crash %s\n" % kind)
            code = m.wait_exit()
            out = m.out[m.pos:]
            check(code == 3, "exit status %d, expected 3 (debug-exit 1)" % code)
            for p in patterns + [r"EAX: [0-9a-f]{8} EBX: [0-9a-f]{8}", r"Call Trace:",
                                 r"end Kernel panic - not syncing"]:
                check(re.search(p, out), "report lacks %r:\n%s" % (p, out[-1500:]))
            if kind != "stack":
                check(re.search(r"cmd_crash\+0x[0-9a-f]+/0x[0-9a-f]+", out), "backtrace lacks cmd_crash:\n" + out)
        finally:
            m.kill()
    return run


def bad_boot_options():
    m = Machine(args="bogus=1 loglevel=abc ktest=yes")
    try:
        log = m.boot()
        check('unknown boot option "bogus=1" ignored' in log, "no warning for bogus=1:\n" + log)
        check('bad value "abc" for loglevel= (not a number); default kept' in log, "no warning for loglevel")
        check("boot option ktest takes no value" in log, "no warning for ktest=yes")
        check(m.cmd("cmdline").strip() == "bogus=1 loglevel=abc ktest=yes", "cmdline not passed through")
        m.send("poweroff\n")
        check(m.wait_exit() == 0, "did not power off cleanly")
    finally:
        m.kill()


def small_memory_map():
    m = Machine(mem="512M")
    try:
        log = m.boot()
        check("BIOS-e820: [mem 0x0000000000100000-0x000000001ffdffff] usable" in log, "512M map:\n" + log)
    finally:
        m.kill()


ZONES = {
    ("2G", ""): ["1151MB HIGHMEM available.", "896MB LOWMEM available.",
                 "  DMA      [mem 0x0000000000001000-0x0000000000ffffff]",
                 "  Normal   [mem 0x0000000001000000-0x0000000037ffffff]",
                 "  HighMem  [mem 0x0000000038000000-0x000000007ffdffff]",
                 "Built 1 zonelists, mobility grouping on."],
    ("512M", "highmem=256M"): ["256MB HIGHMEM available.",
                               "  Normal   [mem 0x0000000001000000-0x000000000ffdffff]",
                               "  HighMem  [mem 0x000000000ffe0000-0x000000001ffdffff]"],
    ("512M", ""): ["  Normal   [mem 0x0000000001000000-0x000000001ffdffff]", "  HighMem  empty"],
    ("3G", ""): ["2175MB HIGHMEM available.",
                 "  HighMem  [mem 0x0000000038000000-0x00000000bffdffff]"],
    ("2G", "kernelcore=1G mobility_grouping=off"): [
        "Movable zone start for each node", "  Node 0: 0x0000000040400000",
        "Built 1 zonelists, mobility grouping off."],
}


def meminfo_values(text):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^([\w()]+):\s+(\d+) kB$", text, re.M)}


def zones_test(mem, args, lines):
    def run():
        m = Machine(args=args, mem=mem)
        try:
            log = m.boot()
            for line in lines:
                check(line in log, "boot log lacks %r:\n%s" % (line, log[-2500:]))
            mem_line = re.search(r"Memory: (\d+)K/(\d+)K available \(", log)
            check(mem_line, "no Memory: line")
            # present pages == whole usable pages of the firmware map (page 0 never counts)
            usable = 0
            for a, b in re.findall(r"BIOS-e820: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] usable", log):
                first, last = max((int(a, 16) + 4095) // 4096, 1), (int(b, 16) + 1) // 4096
                if first < 0x100000:
                    usable += max(0, min(last, 0x100000) - first)
            check(int(mem_line.group(2)) == usable * 4, "present %sK != %dK of usable RAM in the map" % (mem_line.group(2), usable * 4))
            check("virtual kernel memory layout:" in log, "no layout block")
            mi = meminfo_values(m.cmd("meminfo"))
            check(mi["MemTotal"] == int(mem_line.group(1)), "MemTotal != the managed pages of the Memory: line")
            check(mi["MemTotal"] == mi["HighTotal"] + mi["LowTotal"], "MemTotal != High + Low: %r" % mi)
            check(mi["MemFree"] == mi["HighFree"] + mi["LowFree"], "MemFree != High + Low")
            want_high = {"2G": 1151, "3G": 2175}.get(mem, 256 if "highmem=256M" in args else 0)
            if "kernelcore" not in args:
                check(abs(mi["HighTotal"] // 1024 - want_high) <= 1, "HighTotal %d kB, expected ~%d MB" % (mi["HighTotal"], want_high))
            # Every free frame out and back: buddyinfo exactly as before.
            m.cmd("drain")
            before = m.cmd("buddyinfo")
            free_before = meminfo_values(m.cmd("meminfo"))["MemFree"]
            out = m.cmd("ktest mm::page_alloc", timeout=120)
            check("test result: ok." in out, "page allocator ktests failed:\n" + out[-2000:])
            m.cmd("drain")
            check(m.cmd("buddyinfo") == before, "buddyinfo changed after the workload")
            check(meminfo_values(m.cmd("meminfo"))["MemFree"] == free_before, "MemFree changed after the workload")
            if "kernelcore" in args:
                zi = m.cmd("zoneinfo")
                mv = re.search(r"zone  Movable\n  pages free\s+(\d+)", zi)
                check(mv and int(mv.group(1)) > 200000, "no populated Movable zone:\n" + zi[-800:])
            pic = m.cmd("memmap")
            check("one cell = one pageblock" in pic, "memmap lacks its legend")
            m.send("poweroff\n")
            check(m.wait_exit() == 0, "no clean power-off")
        finally:
            m.kill()
    return run


def bad_memory_options():
    m = Machine(args="mem=1M highmem=99G kernelcore=0 mobility_grouping=maybe mem=lots")
    try:
        log = m.boot()
        for w in ["mem=1M is too small (needs at least 16M); ignored",
                  "highmem=99G is more than the 2047M of RAM; clamped to 1983M (lowmem kept at 64M)",
                  "kernelcore=0 leaves no memory for the kernel; ignored (no ZONE_MOVABLE)",
                  'bad value "maybe" for mobility_grouping= (must be on or off); default kept',
                  'bad value "lots" for mem= (not a number); default kept']:
            check(w in log, "no warning %r:\n%s" % (w, log[-2000:]))
        mi = meminfo_values(m.cmd("meminfo"))
        check(mi["LowTotal"] < 64 * 1024 and mi["HighTotal"] > 1900 * 1024, "clamped highmem not applied: %r" % mi)
    finally:
        m.kill()


def ram_above_4g_is_reported():
    """At -m 3584M QEMU puts 512 MB above 4 GB: without PAE it is unusable; say so."""
    m = Machine(mem="3584M")
    try:
        log = m.boot()
        check("512MB of RAM above 4GB ignored: non-PAE kernel cannot address it" in log, "no note:\n" + log[-2500:])
        check("BIOS-e820: [mem 0x0000000100000000-0x000000011fffffff] usable" in log, "no map entry above 4 GB")
        mi = meminfo_values(m.cmd("meminfo"))
        check(mi["MemTotal"] < 3 * 1024 * 1024 + 512 * 1024, "RAM above 4 GB counted: %r" % mi)
    finally:
        m.kill()


def failslab_boot_still_works():
    """failslab= makes every kmalloc fail: callers see the failure, nothing crashes."""
    m = Machine(args="failslab=1,100,0,-1")
    try:
        log = m.boot()
        check("failslab: injecting slab allocation failures" in log, "no failslab line:\n" + log[-1500:])
        out = m.cmd("ktest mm::slab::kmalloc_sizes", timeout=60)
        check("FAILED: kmalloc(100)" in out, "kmalloc did not fail under failslab:\n" + out)
        check("slabinfo - version: 2.1" in m.cmd("slabinfo"), "the shell broke under failslab")
        m.send("poweroff\n")
        check(m.wait_exit() == 0, "no clean power-off")
    finally:
        m.kill()


def slab_debug_boot_checks_every_cache():
    m = Machine(args="slab_debug")
    try:
        log = m.boot()
        check("slab_debug: red zones and poisoning everywhere" in log, "no slab_debug line")
        out = m.cmd("ktest mm::slab", timeout=120)
        check("test result: ok." in out, out[-2000:])
        si = m.cmd("slabinfo")
        # Debug caches skip the per-CPU array: limit and batchcount read 0.
        check(re.search(r"^kmalloc-64 .* : tunables    0    0    0 :", si, re.M), "kmalloc-64 not in debug mode:\n" + si)
    finally:
        m.kill()


def vmalloc_option_sizes_the_area():
    m = Machine(args="vmalloc=400M")
    try:
        log = m.boot()
        check("    vmalloc : 0xe67fe000 - 0xff7fe000   ( 400 MB)" in log, "layout block:\n" + log[-2500:])
        check(meminfo_values(m.cmd("meminfo"))["VmallocTotal"] == 400 * 1024, "VmallocTotal")
        out = m.cmd("ktest mm::vmalloc::vmalloc_64m", timeout=60)
        check("test result: ok. 1 passed" in out, out)
    finally:
        m.kill()
    m = Machine(args="vmalloc=1000M vmalloc=big")
    try:
        log = m.boot()
        for w in ["vmalloc=1000M would leave less than 64M of lowmem; lowmem kept at 64M",
                  'bad value "big" for vmalloc= (not a number); default kept']:
            check(w in log, "no warning %r" % w)
    finally:
        m.kill()


def make_run_piped():
    """The README's contract: piped commands, unattended, exit 0."""
    # A session of its own, so a timeout kills make and QEMU together.
    p = subprocess.Popen("printf '\\nhelp\\npoweroff\\n' | make -s run", shell=True, cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        raw, _ = p.communicate(timeout=BOOT_TIMEOUT + 60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        p.communicate()
        raise AssertionError("make run did not finish in time")
    out = raw.decode("utf-8", "replace")
    check(p.returncode == 0, "make run exited %d:\n%s" % (p.returncode, out[-1000:]))
    check(PROMPT + "help" in out.replace("\r", "") and "poweroff" in out, "help did not run:\n" + out[-1000:])


def in_kernel_tests(only):
    """Boot with `ktest`: every in-kernel test, each counted on its own."""
    m = Machine(args="ktest")
    try:
        m.expect(r"running \d+ tests", BOOT_TIMEOUT)
        _, summary = m.expect(r"test result: \w+\. (\d+) passed; (\d+) failed", 120)
        code = m.wait_exit()
    finally:
        m.kill()
    seen = 0
    for mt in re.finditer(r"^test (\S+) \.\.\. (ok|FAILED.*)$", m.out, re.M):
        seen += 1
        name, verdict = "ktest::" + mt.group(1), mt.group(2)
        if only in name:
            results.append((name, verdict == "ok", verdict))
            print("test %s ... %s" % (name, "ok" if verdict == "ok" else verdict), flush=True)
    name = "qemu::ktest::all_ran_and_powered_off"
    ok = seen == int(summary.group(1)) + int(summary.group(2)) and seen > 0 and code == 0
    if only in name:
        results.append((name, ok, ""))
        print("test %s ... %s" % (name, "ok" if ok else "FAILED (exit %d, %d lines)" % (code, seen)), flush=True)


# --- object allocators (issue 8) ---

# (objperslab, pagesperslab) of every kmalloc class on i686, as the host test
# mm::slab::tests::kmalloc_classes_have_the_i686_kernels_layout computes them:
# from 512 bytes up the management is off the slab (Linux 2.6.24), so the big
# classes pack whole objects into order-0 slabs (order 1 for 8 KB).
KMALLOC_GEOMETRY = {
    "kmalloc-8": (406, 1), "kmalloc-16": (225, 1), "kmalloc-32": (119, 1), "kmalloc-64": (61, 1),
    "kmalloc-96": (41, 1), "kmalloc-128": (31, 1), "kmalloc-192": (20, 1), "kmalloc-256": (15, 1),
    "kmalloc-512": (8, 1), "kmalloc-1k": (4, 1), "kmalloc-2k": (2, 1), "kmalloc-4k": (1, 1), "kmalloc-8k": (1, 2),
}


def slabinfo_rows(text):
    rows = {}
    for mt in re.finditer(r"^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+) : tunables\s+\d+\s+\d+\s+\d+ : "
                          r"slabdata\s+(\d+)\s+(\d+)\s+\d+$", text, re.M):
        rows[mt.group(1)] = [int(mt.group(i)) for i in range(2, 9)]
    return rows


def kmalloc_classes_have_linux_geometry():
    """slabinfo's objects per slab and pages per slab, for every kmalloc class and its DMA twin."""
    m = Machine(mem="64M")
    try:
        m.boot()
        rows = slabinfo_rows(m.cmd("slabinfo"))
        for name, (objs, pages) in KMALLOC_GEOMETRY.items():
            for n in [name, "dma-" + name]:
                check(n in rows, "no slabinfo line for %s" % n)
                check((rows[n][3], rows[n][4]) == (objs, pages),
                      "%s: %d objects in %d pages, want %d in %d" % (n, rows[n][3], rows[n][4], objs, pages))
    finally:
        m.kill()


def reports_do_not_report_themselves():
    """slabinfo and kmalloc do not allocate their output: meminfo's Slab does not move
    around them, and slabinfo's own pages add up to meminfo's Slab."""
    m = Machine(mem="64M")
    try:
        m.boot()
        slab0 = meminfo_values(m.cmd("meminfo"))["Slab"]
        for _ in range(2):
            si = m.cmd("slabinfo")
            m.cmd("kmalloc")
            slab = meminfo_values(m.cmd("meminfo"))["Slab"]
            check(slab == slab0, "meminfo Slab: %d kB before slabinfo, %d kB after" % (slab0, slab))
            pages = sum(r[6] * r[4] for r in slabinfo_rows(si).values())
            check(pages * 4 == slab, "slabinfo counts %d kB of slabs, meminfo Slab: %d kB" % (pages * 4, slab))
    finally:
        m.kill()


def kmalloc_report_unused_classes_show_a_dash():
    """A class that never served a call has nothing used or wasted: '-', not 100%."""
    m = Machine(mem="64M")
    try:
        m.boot()
        km = m.cmd("kmalloc")
        check(re.search(r"^kmalloc-96\s+0\s+0\s+0\s+-$", km, re.M), "unused kmalloc-96:\n" + km)
        check(not re.search(r"^\S+\s+0\s+0\s+0\s+100%$", km, re.M), "an unused class reads 100%:\n" + km)
    finally:
        m.kill()


def one_injected_page_failure_does_not_panic():
    """fail_page_alloc=1,100,0,1: Rust's collections (__GFP_NOFAIL) never see the failure;
    the reports run and the kernel goes on. Needs the page allocator's NOFAIL skip too."""
    m = Machine(args="fail_page_alloc=1,100,0,1", mem="64M")
    try:
        m.boot()
        for c in ["slabinfo", "kmalloc", "meminfo", "slabinfo"]:
            out = m.cmd(c)
            check("Kernel panic" not in out, "%s panicked:\n%s" % (c, out[-1500:]))
        # Vec, String and Box grow through slabs and whole pages: the one
        # failure must not reach them.
        out = m.cmd("ktest mm::slab::rust_collections_live_in_kmalloc", timeout=60)
        check("test result: ok. 1 passed" in out, "Rust collections under fail_page_alloc:\n" + out[-1500:])
        m.send("poweroff\n")
        check(m.wait_exit() == 0, "no clean power-off")
    finally:
        m.kill()


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    shell_suite(only)
    for kind, pats in CRASHES.items():
        name = "qemu::crash::%s_reports_and_exits_failing" % kind
        if only in name:
            record(name, crash_test(kind, pats))
    for (mem, args), lines in ZONES.items():
        name = "qemu::mm::zones_at_%s%s" % (mem, ("_" + re.sub(r"\W+", "_", args)) if args else "")
        if only in name:
            record(name, zones_test(mem, args, lines))
    for name, fn in [("qemu::boot::bad_options_warn_and_boot_on", bad_boot_options),
                     ("qemu::mm::bad_memory_options_warn_and_boot_on", bad_memory_options),
                     ("qemu::mm::ram_above_4g_is_reported", ram_above_4g_is_reported),
                     ("qemu::slab::failslab_boot_still_works", failslab_boot_still_works),
                     ("qemu::vmalloc::vmalloc_option_sizes_the_area", vmalloc_option_sizes_the_area),
                     ("qemu::slab::slab_debug_boot_checks_every_cache", slab_debug_boot_checks_every_cache),
                     ("qemu::boot::memory_map_at_512m", small_memory_map),
                     ("qemu::make::run_piped_exits_zero", make_run_piped),
                     ("qemu::slab::kmalloc_classes_have_linux_geometry", kmalloc_classes_have_linux_geometry),
                     ("qemu::slab::reports_do_not_report_themselves", reports_do_not_report_themselves),
                     ("qemu::slab::kmalloc_report_unused_classes_show_a_dash",
                      kmalloc_report_unused_classes_show_a_dash),
                     ("qemu::slab::one_injected_page_failure_does_not_panic", one_injected_page_failure_does_not_panic)]:
        if only in name:
            record(name, fn)
    try:
        # A filter naming only qemu:: tests (other than the ktest boot) needs no ktest boot.
        if not (only.startswith("qemu::") and not only.startswith("qemu::ktest")):
            in_kernel_tests(only)
    except Exception as e:  # noqa: BLE001
        results.append(("qemu::ktest::boot", False, str(e)))
        print("test qemu::ktest::boot ... FAILED\n    %s" % e, flush=True)
    passed = sum(1 for r in results if r[1])
    failed = len(results) - passed
    print()
    print("qemu: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
