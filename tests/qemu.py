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


def iso_for(args, ktest=False):
    """Build (once per ARGS) an ISO whose grub.cfg passes ARGS to the kernel:
    the test kernel (`make KTEST=1`, with the in-kernel tests) if `ktest`,
    else the normal one."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", args).strip("_") or "default"
    iso = os.path.join(BUILD, ("ktest-" if ktest else "") + name + ".iso")
    if iso not in iso_for.built:
        os.makedirs(BUILD, exist_ok=True)
        r = subprocess.run(["make", "-s", "-C", ROOT, "iso", "ARGS=" + args, "ISO=" + iso, "KTEST=" + ("1" if ktest else "")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise AssertionError("building the ISO failed:\n" + r.stderr.decode("utf-8", "replace")[-2000:])
        iso_for.built.add(iso)
    return iso


iso_for.built = set()


def swap_image(size):
    """A swap disk image of `size` ("64M"; K/M/G as make's SWAP=) made once
    by the real mkswap through the script `make swap` runs, in build/tests/
    (apart from make run's, which a running `make run` may hold)."""
    img = os.path.join(BUILD, "swap-%s.img" % size)
    if not os.path.exists(img):
        os.makedirs(BUILD, exist_ok=True)
        r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "swapimg.sh")],
                           env=dict(os.environ, SWAP=size, SWAP_IMG=img),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise AssertionError("making the swap image failed:\n" + r.stderr.decode("utf-8", "replace"))
    return img


def swap_drive(swap):
    """QEMU's arguments for Machine(swap=...): None, no disk; a size, a
    mkswap image of that size (swap_image); a path, that raw image. It is
    the primary master, as make run attaches it (ata1.00, the kernel's
    sda). snapshot=on: the boot's writes go to a temporary overlay, so every
    boot starts from the image as made and boots can share it."""
    if swap is None:
        return []
    img = swap if os.sep in swap else swap_image(swap)
    return ["-drive", "file=%s,format=raw,if=ide,index=0,snapshot=on" % img]


def cd_drive(iso, ide=True):
    """The ISO as the boot CD, as the Makefile attaches it: QEMU's -cdrom,
    the IDE secondary master (the machine the Linux reference outputs were
    made on); `ide=False`: on an AHCI controller, which SeaBIOS and GRUB
    read by DMA, but for which SeaBIOS keeps one more page of RAM."""
    if ide:
        return ["-cdrom", iso, "-boot", "d"]
    return ["-device", "ahci,id=ahci", "-drive", "id=cd,file=%s,media=cdrom,if=none,readonly=on" % iso,
            "-device", "ide-cd,drive=cd,bus=ahci.0,bootindex=1"]


def free_port():
    """A TCP port nothing listens on now (the kernel picks it; closed again
    at once, so QEMU can bind it)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Machine:
    """One QEMU boot with the serial console on a pipe; `ktest`: of the
    test kernel, which has the in-kernel tests (boot option and command);
    `ide_cd=False`: the CD on AHCI (see cd_drive)."""

    def __init__(self, args="", mem="2G", ktest=False, swap=None, ide_cd=True, gdb=False):
        self.iso = iso_for(args, ktest)
        self.ktest = ktest
        # gdb=True: a gdb stub on a free port (self.gdb_port), for gdb_at_kgdb.
        self.gdb_port = free_port() if gdb else None
        stub = ["-gdb", "tcp:localhost:%d" % self.gdb_port] if gdb else []
        cmd = ["qemu-system-i386", "-m", mem] + cd_drive(self.iso, ide_cd) + [
               "-no-reboot", "-display", "none",
               "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
               "-chardev", "stdio,id=s0,mux=off,signal=off", "-serial", "chardev:s0",
               "-monitor", "none"] + swap_drive(swap) + stub
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


def gdb_at_kgdb(m, commands, timeout=60):
    """Attach GDB (gdb/kernel.gdb with $attach = 1: a breakpoint at
    kgdb_breakpoint) to the running Machine `m` (made with gdb=True, at the
    shell prompt), type `kgdb` on its console, run GDB `commands` at the
    stop, detach (the kernel goes on) and wait for the shell prompt.
    Returns GDB's whole output; raises if GDB or the kernel does not get
    there within `timeout` seconds. Both are killed on every failure path."""
    check(m.gdb_port is not None, "gdb_at_kgdb needs Machine(gdb=True)")
    elf = os.path.join(ROOT, "build", "ktest" if m.ktest else "", "kernel.elf")
    argv = ["gdb", "-q", "-batch", "-nx", "-iex", "set $gdb_port = %d" % m.gdb_port,
            "-iex", "set $attach = 1", "-iex", 'set $kernel_elf = "%s"' % elf, "-x", "gdb/kernel.gdb",
            "-ex", "continue"]
    for c in commands:
        argv += ["-ex", c]
    argv += ["-ex", "detach"]
    g = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = ""
    try:
        deadline = time.time() + timeout
        # Wait until GDB has set its breakpoint (kernel.gdb says so): QEMU
        # is stopped from the attach until `continue`, so the kgdb typed now
        # reaches the kernel only after the breakpoint is in.
        while "Breakpoint set at kgdb_breakpoint" not in out:
            check(time.time() < deadline, "GDB did not attach within %ds:\n%s" % (timeout, out[-2000:]))
            r, _, _ = select.select([g.stdout], [], [], 0.2)
            if r:
                data = os.read(g.stdout.fileno(), 65536)
                check(data, "GDB ended before it went on:\n" + out[-2000:])
                out += data.decode("utf-8", "replace")
        m.cmd("kgdb", timeout)
        rest, _ = g.communicate(timeout=max(1, deadline - time.time()))
        out += rest.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        raise AssertionError("GDB did not finish within %ds:\n%s" % (timeout, out[-2000:]))
    finally:
        if g.poll() is None:
            g.kill()
            g.wait()
    check("kgdb_breakpoint" in out, "GDB did not stop at kgdb_breakpoint:\n" + out[-2000:])
    return out


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
    # The checks that run in-kernel tests: on the test kernel, booted when
    # the first of them runs.
    tk = []

    def test_kernel():
        if not tk:
            tk.append(Machine(ktest=True))
            tk[0].boot()
        return tk[0]

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
        check(out.splitlines()[0].strip() == "PID  PPID STAT    VSZ   RSS COMMAND", "ps header:\n" + out)
        check(re.search(r"^\s+0\s+0 [RS]\s+0\s+0 swapper$", out, re.M) and re.search(r"\bsh$", out, re.M),
              "ps output:\n" + out)

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
        out = test_kernel().cmd("ktest sched::threads", timeout=60)
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
        # Thread stacks are vmalloc areas too: count what this area adds.
        used0 = meminfo_values(m.cmd("meminfo"))["VmallocUsed"]
        addr = m.cmd("vmalloc 100K").strip()
        check(re.fullmatch(r"0x[0-9a-f]{8}", addr), "vmalloc printed %r" % addr)
        info = m.cmd("vmallocinfo")
        start = int(addr, 16)
        want = "%#010x-%#010x  106496 " % (start, start + 106496)
        check(want in info and "pages=25 vmalloc" in info, "vmallocinfo:\n" + info)
        mi = meminfo_values(m.cmd("meminfo"))
        check(mi["VmallocUsed"] - used0 == 100, "VmallocUsed %r, %r before" % (mi.get("VmallocUsed"), used0))
        m.cmd("vfree " + addr)
        check(want not in m.cmd("vmallocinfo"), "area still listed after vfree")
        check("vmalloc: bad size 'lots'" in m.cmd("vmalloc lots"), "bad size not reported")
        # A thread's kernel stack is a vmalloc area too, and not the shell's
        # to free: refused by name, the stack stays, the shell goes on.
        stack = re.search(r"^(0x[0-9a-f]{8})-0x[0-9a-f]{8}\s+20480 \S+ pages=4 vmalloc", m.cmd("vmallocinfo"), re.M)
        check(stack, "no kernel stack in vmallocinfo")
        out = m.cmd("vfree " + stack.group(1))
        check("is not an area this shell's vmalloc made" in out and "nothing freed" in out, out)
        check(stack.group(1) in m.cmd("vmallocinfo") and "himem" in m.cmd("echo himem"), "the stack was freed")
        check("nothing freed" in m.cmd("vfree " + addr), "a second vfree of the same area was not refused")

    @t("kmaps_shows_slots_after_kmap_workload")
    def _():
        out = test_kernel().cmd("ktest mm::highmem::kmap_costs", timeout=60)
        check("test result: ok. 1 passed" in out, out)
        km = test_kernel().cmd("kmaps")
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
        for k in tk:
            k.kill()


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
    # Threads' stacks are vmalloc areas too: the crash's area is not the first.
    "vmalloc-guard": [r"BUG: unable to handle page fault for address: f8[0-9a-f]{6}",
                      r"vmalloc: 0xf8[0-9a-f]{6} is the guard page of the area 0xf8[0-9a-f]{6}-0xf8[0-9a-f]{6} \(1 page\)",
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
    """QEMU's 512M map as the kernel prints it; with the CD on AHCI SeaBIOS
    keeps one more page at the top of RAM for the controller than with
    -cdrom (0x1ffdf000, and 0x7ffdf000 at 2G): why make run keeps -cdrom."""
    for ide, top in [(False, "1ffdefff"), (True, "1ffdffff")]:
        m = Machine(mem="512M", ide_cd=ide)
        try:
            log = m.boot()
            line = "BIOS-e820: [mem 0x0000000000100000-0x00000000%s] usable" % top
            check(line in log, "512M map (%s), no %r:\n%s" % ("-cdrom" if ide else "AHCI", line, log))
        finally:
            m.kill()


ZONES = {
    ("2G", ""): ["1151MB HIGHMEM available.", "896MB LOWMEM available.",
                 "  DMA      [mem 0x0000000000001000-0x0000000000ffffff]",
                 "  Normal   [mem 0x0000000001000000-0x0000000037ffffff]",
                 "  HighMem  [mem 0x0000000038000000-0x000000007ffdffff]",
                 "Built 1 zonelists in Zone order, mobility grouping on."],
    ("512M", "highmem=256M"): ["256MB HIGHMEM available.",
                               "  Normal   [mem 0x0000000001000000-0x000000000ffdffff]",
                               "  HighMem  [mem 0x000000000ffe0000-0x000000001ffdffff]"],
    ("512M", ""): ["  Normal   [mem 0x0000000001000000-0x000000001ffdffff]", "  HighMem  empty"],
    ("3G", ""): ["2175MB HIGHMEM available.",
                 "  HighMem  [mem 0x0000000038000000-0x00000000bffdffff]"],
    ("2G", "kernelcore=1G mobility_grouping=off"): [
        "Movable zone start for each node", "  Node 0: 0x0000000040400000",
        "Built 1 zonelists in Zone order, mobility grouping off."],
}


def meminfo_values(text):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^([\w()]+):\s+(\d+) kB$", text, re.M)}


def zones_test(mem, args, lines):
    def run():
        m = Machine(args=args, mem=mem, ktest=True)
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
        for w in ["mem=1M is too small (needs at least 5M); ignored",
                  "highmem=99G is more than the 2047M of RAM; clamped to 1983M (lowmem needs at least 64M)",
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
    m = Machine(args="failslab=1,100,0,-1", ktest=True)
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
    m = Machine(args="slab_debug", ktest=True)
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
    m = Machine(args="vmalloc=400M", ktest=True)
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


KTEST_RESULT = r"test result: (\w+)\. (\d+) passed; (\d+) failed; (\d+) ignored"
# QEMU's status after the `ktest` boot: 0 when every test passed or was
# ignored, (2 << 1) | 1 when one failed (ktest::EXIT_TESTS_FAILED), 3 on a crash.
KTEST_EXIT_FAILED = 5


def registered_ktests():
    """The expected in-kernel tests, read from the source: the names of the
    registration table in src/ktests/mod.rs, and the test functions of
    src/ktests/*.rs that the table does not run (a test never registered)."""
    ktests_dir = os.path.join(ROOT, "src", "ktests")
    src = open(os.path.join(ktests_dir, "mod.rs")).read()
    table = src[src.index("pub static TESTS"):]
    table = table[:table.index("\n];")]
    names = re.findall(r'name:\s*"([^"]+)"', table)
    runs = set(re.findall(r"run:\s*(\w+::\w+)", table))
    unregistered = []
    for f in sorted(os.listdir(ktests_dir)):
        if f.endswith(".rs") and f != "mod.rs":
            text = open(os.path.join(ktests_dir, f)).read()
            for fn in re.findall(r"^pub fn (\w+)\(\) -> TestResult", text, re.M):
                if "%s::%s" % (f[:-3], fn) not in runs:
                    unregistered.append("%s::%s" % (f[:-3], fn))
    return names, unregistered


# The swap disk of `ktest` boots: the ATA and swap tests need one (and are
# skipped, saying so, without it).
KTEST_SWAP = "16M"


def ktest_boot(args="ktest", mem="2G", timeout=120, swap=KTEST_SWAP):
    """Boot with `ktest` (and `args`) and a swap disk: the verdict lines,
    the summary, the number of tests the kernel says it has, QEMU's exit
    status."""
    m = Machine(args=args, mem=mem, ktest=True, swap=swap)
    try:
        _, reg = m.expect(r"ktest: (\d+) tests registered", BOOT_TIMEOUT)
        _, summary = m.expect(KTEST_RESULT, timeout)
        code = m.wait_exit()
    finally:
        m.kill()
    verdicts = [(mt.group(1), mt.group(2)) for mt in
                re.finditer(r"^test (\S+) \.\.\. (ok|ignored(?:, .*)?|FAILED.*)$", m.out, re.M)]
    return {"verdicts": verdicts, "summary": summary, "registered": int(reg.group(1)), "code": code, "out": m.out}


def ktest_run_problems(run):
    """What is wrong with a `ktest` boot as a run (not test by test): a test
    registered but not run, run twice, unknown, a count that disagrees, an
    exit status that does not match the verdicts."""
    names, unregistered = registered_ktests()
    ran = [n for n, _ in run["verdicts"]]
    s = run["summary"]
    passed, failed, ignored = int(s.group(2)), int(s.group(3)), int(s.group(4))
    problems = []
    if unregistered:
        problems.append("test functions not in the ktest table: " + ", ".join(unregistered))
    if run["registered"] != len(names):
        problems.append("kernel has %d tests, src/ktests/mod.rs registers %d" % (run["registered"], len(names)))
    missing = [n for n in names if n not in ran]
    if missing:
        problems.append("registered but not run: " + ", ".join(missing))
    unknown = sorted(set(ran) - set(names))
    if unknown:
        problems.append("run but not in the table: " + ", ".join(unknown))
    if len(ran) != len(set(ran)):
        problems.append("a test ran twice")
    if len(ran) != passed + failed + ignored:
        problems.append("%d verdict lines, the summary counts %d" % (len(ran), passed + failed + ignored))
    want = 0 if failed == 0 else KTEST_EXIT_FAILED
    if run["code"] != want:
        problems.append("QEMU exit status %d with %d failed (expected %d)" % (run["code"], failed, want))
    return problems


def in_kernel_tests(only):
    """Boot with `ktest`: every in-kernel test, each counted on its own."""
    run = ktest_boot()
    for test, verdict in run["verdicts"]:
        name = "ktest::" + test
        if only in name:
            ok = verdict == "ok" or verdict.startswith("ignored")
            results.append((name, ok, verdict))
            print("test %s ... %s" % (name, verdict), flush=True)
    name = "qemu::ktest::all_ran_and_powered_off"
    problems = ktest_run_problems(run)
    if only in name:
        results.append((name, not problems, "; ".join(problems)))
        print("test %s ... %s" % (name, "ok" if not problems else "FAILED\n    " + "\n    ".join(problems)), flush=True)


# --- shell, ktest runner, crash reports (issue 8) ---

def shell_commands():
    """The command names of the shell's table, read from src/shell/commands.rs."""
    src = open(os.path.join(ROOT, "src", "shell", "commands.rs")).read()
    table = src[src.index("pub static COMMANDS"):]
    return re.findall(r'Command\s*\{\s*name:\s*"([^"]+)"', table[:table.index("\n];")])


def call_trace_after(out, marker):
    """The symbol lines of the first `Call Trace:` after `marker`."""
    tail = out[out.index(marker):]
    tail = tail[tail.index("Call Trace:"):]
    return re.findall(r"^(?:\[[\s\d.]+\] )? (\S+\+0x[0-9a-f]+/0x[0-9a-f]+)$", tail.split("---[ end", 1)[0], re.M)


def program_modules_kb(m):
    """Memory the user programs' GRUB modules hold (memblock keeps them
    reserved), in kB of whole pages: the low-memory tests were measured
    without them and take them off their first vmalloc."""
    kb = 0
    seen = set()
    for start, end, name in re.findall(r"^module: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] (\S+)$", m.cmd("bootmap"), re.M):
        # cprogs is listed once per name, on the same bytes.
        if name != "symbols" and (start, end) not in seen:
            seen.add((start, end))
            kb += (int(end, 16) + 1 - int(start, 16) + 4095) // 4096 * 4
    return kb


def shell_survives_low_memory():
    """MEM=64M, lowmem nearly all vmalloc'ed: `ktest` says it is out of
    memory instead of panicking in a Rust collection, the reports still
    print, and with the memory back the same tests run and pass."""
    m = Machine(mem="64M", ktest=True)
    try:
        m.boot()
        a = m.cmd("vmalloc %dK" % (56 * 1024 - program_modules_kb(m))).strip()
        b = m.cmd("vmalloc 4M").strip()
        check(re.fullmatch(r"0x[0-9a-f]{8}", a) and re.fullmatch(r"0x[0-9a-f]{8}", b), "vmalloc: %r %r" % (a, b))
        out = m.cmd("ktest kmalloc", timeout=60)
        check("Kernel panic" not in out, "the kernel panicked:\n" + out[-1500:])
        n = re.search(r"^running (\d+) tests", out, re.M)
        check(n and int(n.group(1)) > 0, "no run:\n" + out)
        n = int(n.group(1))
        check(re.search(r"^ktest: out of memory: %d tests not run" % n, out, re.M), "no out-of-memory message:\n" + out)
        check(re.search(r"^test mm::slab::rust_collections_live_in_kmalloc \.\.\. ignored, out of memory: \d+ kB of lowmem free", out, re.M), out)
        check("test result: ok. 0 passed; 0 failed; %d ignored;" % n in out, out)
        for c in ["slabinfo", "kmalloc", "vmallocinfo", "meminfo", "buddyinfo", "zoneinfo", "kmaps", "ps", "dmesg"]:
            o = m.cmd(c)
            check("Kernel panic" not in o and len(o) > 10, "%s at low memory:\n%s" % (c, o[-800:]))
        check(m.cmd("echo alive").strip() == "alive", "shell dead")
        m.cmd("vfree " + b)
        m.cmd("vfree " + a)
        out = m.cmd("ktest kmalloc", timeout=60)
        check("test result: ok. %d passed; 0 failed; 0 ignored;" % n in out, "with memory back:\n" + out[-1500:])
        m.send("poweroff\n")
        check(m.wait_exit() == 0, "no clean power-off")
    finally:
        m.kill()


def ktest_command_checks():
    """`ktest` filters, `--list`, `help` and call-trace offsets, in one boot."""
    m = Machine(mem="256M", ktest=True)
    try:
        m.boot()
        names, _ = registered_ktests()
        out = m.cmd("ktest nosuchtest")
        check("ktest: no test name contains 'nosuchtest'; nothing run ('ktest --list' names all %d)" % len(names) in out, out)
        check("test result" not in out, "a run with no test reported a result:\n" + out)
        listed = re.findall(r"^(\S+): test$", m.cmd("ktest --list"), re.M)
        check(listed == names, "ktest --list %r != the table %r" % (listed, names))
        check("ktest: too many arguments 'a b'" in m.cmd("ktest a b"), "ktest a b")
        check("ps: takes no arguments (got 'x'); nothing done" in m.cmd("ps x"), "ps x")
        check("vfree: bad address 'zz'" in m.cmd("vfree zz"), "vfree zz")
        helped = m.cmd("help")
        for c in shell_commands():
            check(re.search(r"^  %s\b.*\S" % re.escape(c), helped, re.M), "help lacks %s:\n%s" % (c, helped))
        # WARN: the trace starts at warn's caller, at Linux's offset.
        out = m.cmd("ktest retired_memblock", timeout=60)
        trace = call_trace_after(out, "after the boot allocator was retired")
        check(trace and trace[0].startswith("kernel::mm::memblock::memblock_alloc+0x"), "WARN trace:\n" + out)
        check(not any("+0x0/" in t for t in trace), "a +0x0 return address:\n" + out)
        # Panic: the first line is where the handler is, not its start.
        m.send("crash panic\n")
        check(m.wait_exit() == 3, "crash panic did not exit 3")
        trace = call_trace_after(m.out, "Kernel panic - not syncing: crash command")
        check(re.match(r"__rustc::rust_begin_unwind\+0x[1-9a-f]", trace[0]), "panic trace:\n%s" % trace)
        check(any(t.startswith("kernel::shell::commands::cmd_crash+0x") for t in trace), "no cmd_crash frame: %s" % trace)
        for t in trace[1:]:
            off, size = re.search(r"\+0x([0-9a-f]+)/0x([0-9a-f]+)$", t).groups()
            check(0 < int(off, 16) <= int(size, 16), "return address offset out of its function: " + t)
    finally:
        m.kill()


def failed_ktest_fails_make_run():
    """`make run ARGS=ktest` with tests that fail (failslab makes kmalloc
    fail) ends with QEMU's status 5 and make failing, not 0."""
    iso = os.path.join(BUILD, "make_run_ktest_failslab.iso")
    os.makedirs(BUILD, exist_ok=True)
    p = subprocess.Popen(["make", "-s", "run", "KTEST=1", "ARGS=ktest failslab=1,100,0,-1", "ISO=" + iso],
                         cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        raw, _ = p.communicate(timeout=BOOT_TIMEOUT + 180)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        p.communicate()
        raise AssertionError("make run did not finish in time")
    out = raw.decode("utf-8", "replace").replace("\r", "")
    s = re.search(KTEST_RESULT, out)
    check(s and s.group(1) == "FAILED" and int(s.group(3)) > 0, "no failing run:\n" + out[-1500:])
    check(p.returncode != 0, "make run exited 0 after failed tests")
    check("Error %d" % KTEST_EXIT_FAILED in out, "QEMU status not %d:\n%s" % (KTEST_EXIT_FAILED, out[-500:]))
    check("Kernel panic" not in out, "panicked:\n" + out[-1500:])


# Boundary machines: lowmem ending off a 4 MB boundary, a tiny HighMem, an
# odd max_low_pfn, odd mem=. (mem, boot options)
KTEST_BOUNDARIES = [
    ("512M", ""),                 # no HighMem at all
    ("900M", ""),                 # a 4 MB HighMem
    ("2G", "highmem=4K"),         # one HighMem page, below its watermarks
    ("512M", "highmem=4K"),
    ("2G", "mem=899M"),           # lowmem not on a 4 MB boundary
    ("2G", "mem=123M"),           # odd mem=, no HighMem
    ("2G", "kernelcore=512M"),    # a ZONE_MOVABLE
]


def ktest_at_boundary(mem, args, expect=None, log=()):
    """Every in-kernel test passes or says why it is skipped on this machine,
    and the run is whole (see ktest_run_problems). `expect`: test -> the
    start of its verdict; `log`: lines the boot must print."""
    def run():
        r = ktest_boot("ktest " + args if args else "ktest", mem)
        for line in log:
            check(line in r["out"], "no %r in the boot log:\n%s" % (line, r["out"][:3000]))
        failed = ["%s (%s)" % (n, v) for n, v in r["verdicts"] if v.startswith("FAILED")]
        problems = ktest_run_problems(r)
        check(not failed and not problems, "\n".join(failed + problems))
        verdicts = dict(r["verdicts"])
        for test, start in (expect or {}).items():
            check(verdicts.get(test, "").startswith(start), "%s at %s: %r" % (test, mem, verdicts.get(test)))
    return run


# --- console (issue 8) ---

def _console_run(cmd, timeout, stdin_text=None):
    """Run a shell command in a session of its own (a timeout kills make and QEMU together)."""
    p = subprocess.Popen(cmd, shell=True, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        raw, _ = p.communicate(stdin_text.encode() if stdin_text is not None else b"", timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        p.communicate()
        raise AssertionError("%r did not finish within %ds" % (cmd, timeout))
    return p.returncode, raw.decode("utf-8", "replace").replace("\r", "")


def _console_qemu(iso, mem="64M", extra=(), timeout=BOOT_TIMEOUT, stdin_text=""):
    """Boot an ISO with this input; return (QEMU's exit status, console output)."""
    cmd = ["qemu-system-i386", "-m", mem] + cd_drive(iso) + ["-no-reboot", "-display", "none",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
           "-chardev", "stdio,id=s0,mux=off,signal=off", "-serial", "chardev:s0", "-monitor", "none"] + list(extra)
    try:
        r = subprocess.run(cmd, input=stdin_text.encode(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("QEMU did not exit within %ds (a menu waiting, or a hang)" % timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace").replace("\r", "")


def console_pipe_of_200_commands():
    """Input longer than the tty's 1 KiB ring is held back by the UART, not cut."""
    lines = "\n" + "".join("echo n%d\n" % i for i in range(1, 201)) + "poweroff\n"
    code, out = _console_run("make -s run MEM=64M", BOOT_TIMEOUT + 90, lines)
    check(code == 0, "make run exited %d:\n%s" % (code, out[-1500:]))
    seen = set(re.findall(r"^n(\d+)$", out, re.M))
    missing = [i for i in range(1, 201) if str(i) not in seen]
    check(not missing, "%d of 200 commands did not run (first missing: %s):\n%s" % (len(missing), missing[:5], out[-800:]))


def console_input_checks():
    """A 5000-character line, invalid UTF-8 and TAB, in one boot."""
    m = Machine(mem="64M")
    try:
        m.boot()
        m.send("echo " + "x" * 5000 + "\n")
        out, _ = m.expect(re.escape(PROMPT), 60)
        check("sh: line too long (at most 255 characters); ignored" in out, "no refusal:\n" + out[-300:])
        check(m.cmd("echo still alive").strip() == "still alive", "shell broken after the long line")
        m.proc.stdin.write(b"echo a\xff\xfeb\n")
        m.proc.stdin.flush()
        out, _ = m.expect(re.escape(PROMPT))
        check("sh: invalid UTF-8 at byte 6: 0xff; line ignored" in out, "invalid UTF-8 not reported:\n" + out)
        check(m.cmd("echo\ta\tb").strip() == "a b", "TAB did not separate words")
        m.send("poweroff\n")
        check(m.wait_exit() == 0, "no clean power-off")
    finally:
        m.kill()


def console_boots_at_16m():
    """The ISO's kernel is stripped: GRUB loads it at -m 16M (the 9 MB ELF needed 21M)."""
    m = Machine(mem="16M")
    try:
        m.boot()
        check(m.cmd("echo small").strip() == "small", "shell at 16M")
        m.send("poweroff\n")
        code = m.wait_exit()
        check(code == 0, "exit status %d at 16M" % code)
    finally:
        m.kill()


def console_grub_failure_exits_failing():
    """A grub.cfg naming a missing kernel: GRUB says so and QEMU exits 7, no waiting menu."""
    tree = os.path.join(BUILD, "nokernel-tree")
    iso = os.path.join(BUILD, "nokernel.iso")
    base = iso_for("")  # builds build/iso with the current grub.cfg
    check(os.path.exists(base), "no base ISO")
    subprocess.run(["rm", "-rf", tree], check=True)
    subprocess.run(["cp", "-r", os.path.join(ROOT, "build", "iso"), tree], check=True)
    os.remove(os.path.join(tree, "boot", "kernel.elf"))
    r = subprocess.run(["make", "-s", "-C", ROOT, "image", "ISO_TREE=" + tree, "ISO=" + iso],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(r.returncode == 0, "make image failed:\n" + r.stdout.decode("utf-8", "replace"))
    code, out = _console_qemu(iso, timeout=60)
    check(code == 7, "QEMU exit status %d, expected 7:\n%s" % (code, out[-1500:]))
    check("grub: could not boot /boot/kernel.elf" in out, "no GRUB message:\n" + out[-1500:])


def console_cpu_test(cpu, lacks):
    def run():
        code, out = _console_qemu(iso_for(""), extra=["-cpu", cpu], timeout=60)
        want = "himem: This kernel requires an i686 CPU with CPUID, PSE, TSC, CX8 and CMOV; this CPU lacks: " + lacks
        check(want in out, "no message %r:\n%s" % (want, out[-1500:]))
        check(code == 5, "QEMU exit status %d, expected 5 (debug-exit 2)" % code)
    return run


def console_bench_fails_on_panic():
    """make bench exits non-zero when the kernel panics (a pipe into sed used to hide it)."""
    code, out = _console_run("make -s bench MEM=64M BENCH_ARGS='fail_page_alloc=1,100,0,-1'", 300)
    check(code != 0, "make bench exited 0 after a panic:\n" + out[-1500:])
    check("Kernel panic - not syncing" in out and "make bench: FAILED (QEMU exit status 3)" in out,
          "panic or verdict not shown:\n" + out[-1500:])


def console_bench_without_icount_says_cycles():
    """ARGS=bench (no icount) labels TSC cycles; without HighMem the kmap rows say so."""
    m = Machine(args="bench", mem="512M")
    try:
        code = m.wait_exit(120)
        out = m.out
        check(code == 0, "exit status %d:\n%s" % (code, out[-1500:]))
        check(re.search(r"^benchmark\s+cycles/op\s+goal", out, re.M), "header does not say cycles:\n" + out[-2500:])
        check("bench: done (TSC cycles, not instructions: no bench_icount" in out, "footer:\n" + out[-500:])
        check(re.search(r"^kmap rows \(highmem\)\s+skipped .*no HighMem on this machine", out, re.M),
              "highmem rows not skipped:\n" + out[-2500:])
        check("(highmem)  " not in out.replace("kmap rows (highmem)", ""), "a highmem row was measured")
        check(re.search(r"^page_alloc: order-3 pair splitting order-10\s+\d+ .*split and merge seen", out, re.M),
              "no split/merge row:\n" + out[-2500:])
    finally:
        m.kill()


def console_args_pass_through():
    """ARGS with | & ; # $ and quotes reaches the kernel (quoted as GRUB writes it)."""
    args = 's=a|b&c;d#e $x msg="a b" q="1"'
    m = Machine(args=args, mem="64M")
    try:
        log = m.boot()
        check('unknown boot option "s=a|b&c;d#e" ignored' in log, "s= not passed:\n" + log[-1500:])
        check('unknown boot option "msg=a b" ignored' in log, "quoted value not parsed as next_arg:\n" + log[-1500:])
        got = m.cmd("cmdline").strip()
        check(got == 's=a|b&c;d#e $x "msg=a b" q=1', "cmdline %r" % got)
    finally:
        m.kill()


def console_args_refused():
    for args, why in [("it's", "contains ' or \\"), ('a="b', "unclosed double quote"),
                      ('a"b"c', "a double quote may only enclose"), ("x" * 2049, "COMMAND_LINE_SIZE, 2048 bytes")]:
        r = subprocess.run(["make", "-s", "-C", ROOT, "build/grub.cfg", "ARGS=" + args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = r.stdout.decode("utf-8", "replace")
        check(r.returncode != 0 and why in out and "ARGS: refused" in out, "ARGS=%r not refused:\n%s" % (args[:40], out))
    # Put build/grub.cfg back for the default ARGS.
    subprocess.run(["make", "-s", "-C", ROOT, "build/grub.cfg"], stdout=subprocess.DEVNULL, check=True)


def console_gdb_port_taken():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        code, out = _console_run("make -s gdb GDB_PORT=%d" % port, 120)
    finally:
        s.close()
    check(code != 0, "make gdb went on with port %d taken:\n%s" % (port, out[-800:]))
    check("port %d is already in use" % port in out and "GDB_PORT=N" in out, "no message:\n" + out[-800:])


def console_gdb_helpers_without_warning():
    """The helpers of gdb/kernel.gdb, stopped in Rust's kmain: no language warning."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    iso = iso_for("")
    q = subprocess.Popen(["qemu-system-i386", "-m", "64M"] + cd_drive(iso) + ["-no-reboot",
                          "-display", "none", "-gdb", "tcp:localhost:%d" % port, "-S",
                          "-serial", "null", "-monitor", "none"])
    try:
        time.sleep(1)
        r = subprocess.run(["gdb", "-q", "-batch", "-iex", "set $gdb_port = %d" % port, "-x", "gdb/kernel.gdb",
                            "-ex", "continue", "-ex", "kpte 0xc0100000", "-ex", "kpte 0xc1000000", "-ex", "kpte 0x08048000",
                            "-ex", "kstack"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode("utf-8", "replace")
    finally:
        q.kill()
        q.wait()
    check("Breakpoint 1, kernel::init::kmain" in out, "did not stop in kmain:\n" + out)
    check(re.search(r"va c0100000: pde\[768\] = [0-9a-f]{8}  pte\[256\] = [0-9a-f]{8}", out), "kpte:\n" + out)
    check("va c1000000: pde[772] = " in out and "(4 MB page)" in out, "kpte 4 MB:\n" + out)
    check("kpte: 0x08048000 is a user address; 'vtop 0x8048000 PID'" in out, "kpte of a user address:\n" + out)
    check("does not match this frame" not in out, "language warning printed:\n" + out)


def console_long_cmdline_is_reported():
    """2048 bytes (the kernel's buffer) pass whole; a longer line from GRUB is reported, not cut silently."""
    full = "k=" + "y" * 2046
    iso2048 = os.path.join(BUILD, "cmdline2048.iso")  # iso_for would name it by its 2048 bytes
    r = subprocess.run(["make", "-s", "-C", ROOT, "iso", "ARGS=" + full, "ISO=" + iso2048],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(r.returncode == 0, "make iso failed:\n" + r.stdout.decode("utf-8", "replace")[-1500:])
    code, out = _console_qemu(iso2048, timeout=60, stdin_text="\ncmdline\npoweroff\n")
    check(code == 0, "exit status %d:\n%s" % (code, out[-1500:]))
    check("COMMAND_LINE_SIZE" not in out, "2048 bytes reported as too long:\n" + out[-800:])
    check(re.search(r"^%s$" % re.escape(full), out, re.M), "2048-byte command line not passed whole")
    # make refuses more; GRUB itself takes more: a grub.cfg written by hand.
    tree = os.path.join(BUILD, "longcmd-tree")
    iso = os.path.join(BUILD, "longcmd.iso")
    iso_for("")
    subprocess.run(["rm", "-rf", tree], check=True)
    subprocess.run(["cp", "-r", os.path.join(ROOT, "build", "iso"), tree], check=True)
    cfg = os.path.join(tree, "boot", "grub", "grub.cfg")
    text = re.sub(r"multiboot2 /boot/kernel\.elf.*", "multiboot2 /boot/kernel.elf 'k=%s'" % ("z" * 2100), open(cfg).read())
    open(cfg, "w").write(text)
    r = subprocess.run(["make", "-s", "-C", ROOT, "image", "ISO_TREE=" + tree, "ISO=" + iso],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(r.returncode == 0, "make image failed:\n" + r.stdout.decode("utf-8", "replace"))
    code, out = _console_qemu(iso, timeout=60, stdin_text="\npoweroff\n")
    check(code == 0, "exit status %d:\n%s" % (code, out[-1500:]))
    check("Command line is 2102 bytes, more than COMMAND_LINE_SIZE (2048): only the first 2048 are used" in out,
          "no report of the cut:\n" + out[-1500:])


CONSOLE_TESTS = [
    ("qemu::console::pipe_of_200_commands_all_run", console_pipe_of_200_commands),
    ("qemu::console::long_line_bad_utf8_and_tab", console_input_checks),
    ("qemu::boot::boots_at_16m_and_powers_off", console_boots_at_16m),
    ("qemu::boot::grub_failure_exits_7", console_grub_failure_exits_failing),
    ("qemu::boot::cpu_pentium_refused_naming_cmov", console_cpu_test("pentium", "CMOV\n")),
    ("qemu::boot::cpu_486_refused_naming_tsc_cx8_cmov", console_cpu_test("486", "TSC CX8 CMOV\n")),
    ("qemu::boot::args_with_specials_pass_through", console_args_pass_through),
    ("qemu::make::args_that_cannot_pass_are_refused", console_args_refused),
    ("qemu::boot::long_command_line_is_reported", console_long_cmdline_is_reported),
    ("qemu::make::bench_fails_when_the_kernel_panics", console_bench_fails_on_panic),
    ("qemu::bench::without_icount_says_cycles_and_no_highmem", console_bench_without_icount_says_cycles),
    ("qemu::make::gdb_refuses_a_taken_port", console_gdb_port_taken),
    ("qemu::gdb::helpers_print_no_language_warning", console_gdb_helpers_without_warning),
]


# --- page allocator (issue 8) ---
# Configurations where some in-kernel test needs what the machine lacks:
# (mem, args, skip lines the run must print).
PAGE_ALLOC_CONFIGS = [
    ("512M", "", ["ignored, no highmem zone above its low mark"]),
    ("2G", "highmem=4K", ["ignored, HighMem is at or below its low mark", "ignored, no highmem zone above its low mark"]),
    ("2G", "kernelcore=512M", []),
]


def page_alloc_ktests_at(mem, args, skips):
    """The page allocator's in-kernel tests pass or skip with a reason, and
    a run leaves buddyinfo, pagetypeinfo and MemFree as it found them."""
    def run():
        m = Machine(args=args, mem=mem, ktest=True)
        try:
            m.boot()
            out = m.cmd("ktest mm::page_alloc", timeout=120)
            check(re.search(r"test result: ok\. \d+ passed; 0 failed", out) and "FAILED" not in out,
                  "page allocator ktests failed:\n" + out[-2500:])
            for skip in skips:
                check(skip in out, "no %r:\n%s" % (skip, out[-2500:]))
            # The first run may have retagged a pageblock Unmovable for good
            # (its order-9 kernel block, as Linux would); a second run must
            # leave every report exactly as it found it.
            def state():
                m.cmd("drain")
                return m.cmd("buddyinfo"), m.cmd("pagetypeinfo"), meminfo_values(m.cmd("meminfo"))["MemFree"]
            before = state()
            out = m.cmd("ktest mm::page_alloc", timeout=120)
            check("FAILED" not in out, "second run failed:\n" + out[-2500:])
            after = state()
            check(after[0] == before[0], "buddyinfo changed:\n%s\n%s" % (before[0], after[0]))
            check(after[1] == before[1], "pagetypeinfo changed:\n%s\n%s" % (before[1], after[1]))
            check(after[2] == before[2], "MemFree changed: %d -> %d kB" % (before[2], after[2]))
            m.send("poweroff\n")
            check(m.wait_exit() == 0, "no clean power-off")
        finally:
            m.kill()
    return run


def small_machine_groups_off_and_says_fault_settings():
    """mem=16M: grouping off as 2.6.24 decides it, with Linux's line; the
    fault-injection line in words; an out-of-range failslab= named; MemAvailable
    is MemFree less totalreserve_pages computed from zoneinfo."""
    m = Machine(args="mem=16M fail_page_alloc=1000000,1,0,1 failslab=1,100,0,18446744073709551615", mem="64M")
    try:
        log = m.boot()
        for w in ["Built 1 zonelists in Zone order, mobility grouping off.  Total pages: 3998",
                  "fail_page_alloc: injecting page allocation failures "
                  "(interval 1000000, probability 1%, space 0, times 1)",
                  'bad value "1,100,0,18446744073709551615" for failslab= '
                  "(times is out of range (-1, or 0 to 2147483647)); default kept"]:
            check(w in log, "boot log lacks %r:\n%s" % (w, log[-2500:]))
        check("FaultAttr" not in log, "a Rust struct in the boot log")
        pti = m.cmd("pagetypeinfo")
        blocks = re.findall(r"^Node 0, zone +(\w+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)", pti, re.M)
        check(blocks and all(b[2] == "0" and b[3] == "0" for b in blocks),
              "grouping off, yet Reclaimable or Movable pageblocks:\n" + pti)
        check_mem_available(m)
        m.send("poweroff\n")
        check(m.wait_exit() == 0, "no clean power-off")
    finally:
        m.kill()


def check_mem_available(m):
    """MemAvailable = MemFree - totalreserve_pages (per zone: max protection
    + high, at most managed), from one meminfo and zoneinfo."""
    zi = m.cmd("zoneinfo")
    reserve = 0
    for z in re.finditer(r"high\s+(\d+)\n.*?managed\s+(\d+)\n\s+protection: \(([\d, ]+)\)", zi, re.S):
        high, managed = int(z.group(1)), int(z.group(2))
        prot = max(int(x) for x in z.group(3).split(","))
        reserve += min(prot + high, managed)
    mi = meminfo_values(m.cmd("meminfo"))
    check(mi["MemAvailable"] == max(mi["MemFree"] - reserve * 4, 0),
          "MemAvailable %d kB != MemFree %d kB - %d reserved pages:\n%s" % (mi["MemAvailable"], mi["MemFree"], reserve, zi))


def mem_above_the_end_of_ram_is_reported():
    """-m 512M (no highmem): mem=1G cuts nothing and says so; the empty
    HighMem zone reserves nothing from MemAvailable."""
    m = Machine(args="mem=1G", mem="512M")
    try:
        log = m.boot()
        w = "mem=1G is not below the end of RAM at 511M: nothing to cut; ignored"
        check(w in log, "boot log lacks %r:\n%s" % (w, log[-2500:]))
        check_mem_available(m)
        m.send("poweroff\n")
        check(m.wait_exit() == 0, "no clean power-off")
    finally:
        m.kill()


PAGE_ALLOC_TESTS = [
    ("qemu::mm::small_machine_groups_off_and_says_fault_settings", small_machine_groups_off_and_says_fault_settings),
    ("qemu::mm::mem_above_the_end_of_ram_is_reported", mem_above_the_end_of_ram_is_reported),
] + [("qemu::mm::page_alloc_ktests_at_%s%s" % (mem, ("_" + re.sub(r"\W+", "_", args)) if args else ""),
      page_alloc_ktests_at(mem, args, skips)) for mem, args, skips in PAGE_ALLOC_CONFIGS]


# --- kernel virtual memory (issue 8) ---

def vmalloc_too_big_takes_nothing():
    """`vmalloc 200M` at 2G (the area is ~111 MB) is refused naming both
    sizes, before a single frame is taken: buddyinfo and pagetypeinfo after
    `drain` are as before."""
    m = Machine()
    try:
        m.boot()
        snap = lambda: (m.cmd("drain"), m.cmd("buddyinfo"), m.cmd("pagetypeinfo"), m.cmd("vmallocinfo"))
        # The reports' own first allocations happen here, and the shell's
        # list of its areas is made at its first vmalloc command (a kmalloc
        # that may take a slab page: no vmalloc kmallocs at boot any more).
        m.cmd("vmalloc 200M")
        snap()
        before = snap()
        out = m.cmd("vmalloc 200M")
        check("too big: 209715200 bytes (204800K) and a guard page exceed the whole vmalloc area of" in out,
              "no reason given:\n" + out)
        after = snap()
        check(before == after, "a refused vmalloc changed the free lists:\n%s\n---\n%s" % (before, after))
    finally:
        m.kill()


def vmalloc_out_of_memory_fails_cleanly():
    """At 64M, areas until memory runs out: the failure says why and gives
    everything back, and the kernel goes on."""
    m = Machine(mem="64M")
    try:
        m.boot()
        outs = [m.cmd("vmalloc 56M"), m.cmd("vmalloc 4M"), m.cmd("vmalloc 4M")]
        failed = [o for o in outs if "out of memory: no free page" in o]
        check(failed and all("all given back" in o for o in failed), "no clean failure:\n" + "\n".join(outs))
        check("alive" in m.cmd("echo alive"), "the kernel did not go on")
        check("Kernel panic" not in m.out, m.out[-1500:])
    finally:
        m.kill()


def ktest_after_shell_vmalloc():
    """`vmalloc 100M` in the shell leaves the vmalloc tests too little room:
    they skip saying so, and nothing fails."""
    m = Machine(ktest=True)
    try:
        m.boot()
        check(re.search(r"0x[0-9a-f]{8}", m.cmd("vmalloc 100M")), "vmalloc 100M failed")
        out = m.cmd("ktest", timeout=240)
        check("test result: ok." in out, out[-3000:])
        check("vmalloc_64m_fill_verify_free ... ignored, the vmalloc area has no room left" in out, out[-3000:])
    finally:
        m.kill()


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
    m = Machine(args="fail_page_alloc=1,100,0,1", mem="64M", ktest=True)
    try:
        m.boot()
        for c in ["slabinfo", "kmalloc", "meminfo", "slabinfo"]:
            out = m.cmd(c)
            check("Kernel panic" not in out, "%s panicked:\n%s" % (c, out[-1500:]))
        # Vec, String and Box grow through slabs and whole pages: the one
        # failure must not reach them.
        out = m.cmd("ktest mm::slab::rust_collections_live_in_kmalloc", timeout=60)
        check("test result: ok. 1 passed" in out, "Rust collections under fail_page_alloc:\n" + out[-1500:])
        # The one failure goes to the first allocation that can take it: a
        # vmalloc's frame. It is reported in Linux 2.6.24's words.
        out = m.cmd("vmalloc 64K")
        check(re.search(r"^(\[\s*\d+\.\d+\] )?sh: page allocation failure\. order:0, mode:0xd2$", out, re.M),
              "no Linux-shaped failure report:\n" + out[-1500:])
        check(re.fullmatch(r"0x[0-9a-f]{8}", m.cmd("vmalloc 64K").strip()), "the second vmalloc failed too")
        m.send("poweroff\n")
        check(m.wait_exit() == 0, "no clean power-off")
    finally:
        m.kill()


# --- fault path, user access, TLB, lock recursion (issue 9) ---

def lock_recursion_is_reported():
    """An IrqLock taken again under itself (interrupts off, one CPU: nobody
    can release it) is reported with the lock, the place and a call trace,
    then panics: the machine exits failing instead of hanging."""
    crash_test("lock-recursion", [
        r"BUG: spinlock recursion on CPU#0, \S+: IrqLock<u32> at 0x[0-9a-f]{8} taken again at src/arch/x86/kernel/traps\.rs:\d+",
        r"lock_recursion\+0x[0-9a-f]+/0x[0-9a-f]+",
        r"Kernel panic - not syncing: spinlock recursion: IrqLock<u32>"])()


FAULT_TESTS = [("qemu::crash::lock_recursion_is_reported_not_a_hang", lock_recursion_is_reported)]


# --- address spaces, kernel stacks, spinlocks (issue 9) ---

def boot_reports_no_sleeping_in_atomic():
    """The boot and the shell's first commands make no "sleeping function called
    from invalid context" report: the task table needs no allocation while
    interrupts are still off, and no spinlock holder allocates. ps lists the
    threads of the growable table, whose 16 KB stacks come from vmalloc."""
    m = Machine(mem="64M")
    try:
        log = m.boot()
        ps = m.cmd("ps")
        info = m.cmd("vmallocinfo")
        out = log + ps + info + m.cmd("meminfo")
        check("sleeping function called from invalid context" not in out, "might_sleep report:\n" + out[-3000:])
        check(re.search(r"\bswapper\b", ps) and re.search(r"\bsh\b", ps), "ps:\n" + ps)
        check(re.search(r"^0x[0-9a-f]{8}-0x[0-9a-f]{8}\s+20480 \S*kthread_run\S* pages=4 vmalloc$", info, re.M),
              "no 16 KB stack (4 pages and a guard page) from kthread_run in vmallocinfo:\n" + info)
    finally:
        m.kill()


# --- review of issue 8 (issue 8) ---

def review_ktest_out_of_memory_names_its_measure():
    """ktest's out-of-memory skip gives lowmem free *above the low watermark*
    and says so: the bare 'kB of lowmem free' read as a contradiction of
    meminfo's larger MemFree. The figure is zoneinfo's, summed over the
    lowmem zones."""
    m = Machine(mem="64M", ktest=True)
    try:
        m.boot()
        a = m.cmd("vmalloc %dK" % (56 * 1024 - program_modules_kb(m))).strip()
        b = m.cmd("vmalloc 4M").strip()
        out = m.cmd("ktest kmalloc", timeout=60)
        got = re.search(r"ignored, out of memory: (\d+) kB of lowmem free above the low watermark in the roomiest "
                        r"zone, the tests need (\d+) kB and a 128 kB block in one zone$", out, re.M)
        check(got, "no skip naming the low watermark:\n" + out)
        check(re.search(r"^ktest: out of memory: \d+ tests not run \(each needs %s kB of lowmem free above the "
                        r"low watermark in one zone; 'zoneinfo' shows both\)$" % got.group(2), out, re.M), out)
        # The figure is one zone's (the roomiest): a sum over DMA and Normal
        # read 1044 kB against a need of 1024 kB, and skipped all the same.
        room = 0
        for z in re.split(r"^Node 0, zone\s+", m.cmd("zoneinfo"), flags=re.M)[1:]:
            name = z.split()[0]
            if name in ("DMA", "Normal"):
                free = int(re.search(r"pages free\s+(\d+)", z).group(1))
                low = int(re.search(r"^\s+low\s+(\d+)", z, re.M).group(1))
                room = max(room, max(0, free - low) * 4)
        check(int(got.group(1)) == room, "ktest says %s kB, zoneinfo's roomiest zone %d kB" % (got.group(1), room))
        # Just under the need: a skip never names a figure at or above it
        # unless no zone holds a free 128 kB block (it read 1044 kB against
        # 1024 kB: a sum of two zones, and a need that left out the block).
        m.cmd("vfree " + b)
        b = m.cmd("vmalloc 3700K").strip()
        out = m.cmd("ktest kmalloc", timeout=60)
        blocks = re.findall(r"^Node 0, zone\s+(DMA|Normal)\s+((?:\d+\s+){11})", m.cmd("buddyinfo"), re.M)
        big = sum(int(n) for _, counts in blocks for n in counts.split()[5:])
        for fig, need in re.findall(r"ignored, out of memory: (\d+) kB .* the tests need (\d+) kB", out):
            check(int(fig) < int(need) or big == 0, "skipped with %s kB against a need of %s kB:\n%s" % (fig, need, out))
        # A failed vmalloc names the command once ('vmalloc: vmalloc 200M: ...' before).
        out = m.cmd("vmalloc 200M")
        check(re.search(r"^vmalloc: 200M: out of memory: no free page \(got \d+ of 51200 pages\) for 204800K; "
                        r"all given back$", out, re.M), "vmalloc 200M at 64M:\n" + out)
        m.cmd("vfree " + b)
        m.cmd("vfree " + a)
        m.send("poweroff\n")
        check(m.wait_exit() == 0, "no clean power-off")
    finally:
        m.kill()

def review_make_refuses_mem_below_5m():
    """`make run MEM=1M` waited for ever (QEMU's firmware hangs silently
    below 2M); below 5M GRUB cannot load the kernel anyway. make refuses
    before building or starting QEMU, and lets 5M and QEMU's own forms by."""
    for mem in ["1M", "1536K", "4.5M", "0.004G"]:
        code, out = _console_run("make -s run MEM=%s" % mem, 60, "\npoweroff\n")
        check(code != 0 and "MEM=%s is below 5M: GRUB cannot load the kernel" % mem in out,
              "MEM=%s not refused (exit %d):\n%s" % (mem, code, out[-800:]))
        check("Booting" not in out, "QEMU started for MEM=%s" % mem)
    for mem in ["5M", "5120K", "2g", "2048", "0"]:
        # --no-print-directory: under `make -C DIR test` the sub-make would
        # announce its directory, which is not a refusal.
        code, out = _console_run("make -s --no-print-directory memcheck MEM=%s" % mem, 30)
        check(code == 0 and not out.strip(), "MEM=%s refused:\n%s" % (mem, out))

def review_clippy_kernel_has_no_errors():
    """Clippy's deny-level lints (correctness) hold for the kernel target too
    (host `cargo clippy` does not compile the in-kernel tests): a test guard's
    `fn bytes(&self) -> &mut [u8]` handed out aliasing `&mut` from safe code
    (clippy::mut_from_ref). Both kernels: the in-kernel tests are only in
    the test kernel (feature ktest)."""
    for features in ["", " --features ktest"]:
        cmd = ("cargo clippy --profile release --target i686-target.json -Zbuild-std=core,compiler_builtins,alloc "
               "-Zbuild-std-features=compiler-builtins-mem -Zjson-target-spec" + features)
        code, out = _console_run(cmd, 600)
        errors = [l for l in out.splitlines() if l.startswith("error")]
        check(code == 0 and not errors, "clippy errors on the kernel target%s:\n%s" % (features, out[-3000:]))

def review_bench_too_small_says_so():
    """`make bench MEM=16M` panicked the kernel on an `expect` (the batch row
    holds 16 MB at once): it now says what it needs, measures nothing, and
    fails with QEMU status 5, no panic."""
    code, out = _console_run("make -s bench MEM=16M", 300)
    check(code != 0, "make bench exited 0 at 16M:\n" + out[-1500:])
    check("Kernel panic" not in out, "the kernel panicked:\n" + out[-1500:])
    check(re.search(r"^bench: this machine has \d+ kB free above the allocator's reserve; the rows need 20480 kB "
                    r"\(4096 pages held at once, and an order-10 block\): nothing measured$", out, re.M),
          "no reason given:\n" + out[-1500:])
    check("make bench: FAILED (QEMU exit status 5)" in out, "verdict:\n" + out[-800:])

def review_bench_tiny_highmem_rows_skip():
    """With a HighMem too small to serve (highmem=4K; highmem=8M for the
    2048-page row) GFP_HIGHUSER falls back to lowmem: the kmap rows measured
    lowmem pages under a '(highmem)' label (0 invlpg, 0 wraps). They are
    skipped, saying why."""
    for args, rows in [("bench highmem=4K", ["kmap rows (highmem)"]),
                       ("bench highmem=8M", ["kmap+kunmap cycling 2048 pages"])]:
        m = Machine(args=args, mem="512M")
        try:
            code = m.wait_exit(180)
            out = m.out
        finally:
            m.kill()
        check(code == 0 and "bench: done" in out, "%s: exit %d:\n%s" % (args, code, out[-1500:]))
        for r in rows:
            check(re.search(r"^%s\s+skipped\s+-\s+\S.*HighMem pages? above its watermarks" % re.escape(r), out, re.M),
                  "%s: row %r not skipped:\n%s" % (args, r, out[-2500:]))
        check(not re.search(r"^kmap.*\b0 wraps", out, re.M), "%s: a lowmem cycle measured:\n%s" % (args, out[-2500:]))
        if args.endswith("4K"):
            check("(highmem)  " not in out.replace("kmap rows (highmem)", ""), "a highmem row measured at highmem=4K")

REVIEW_TESTS = [
    # Small machines: at -m 64M and below the 64 MB vmalloc test failed with
    # 'vmalloc failed' (64 MB was never free); at 24M get_zeroed_page's test
    # failed because its 8 MB Normal zone has no pcp list (high 0) to hand the
    # dirtied page back; mem= under 16M was refused although -m 5M boots.
    ("qemu::ktest::at_16m_passes_or_skips_with_reason", ktest_at_boundary("16M", "", {
        "mm::vmalloc::vmalloc_64m_fill_verify_free": "ignored, not enough free memory"})),
    ("qemu::ktest::at_24m_passes_or_skips_with_reason", ktest_at_boundary("24M", "", {
        "mm::page_alloc::get_zeroed_page_clears_a_dirty_page": "ignored, the page's zone keeps no pcp list"})),
    # With mem=5M the 64M fill is skipped: for want of free memory, or, now
    # that the program modules take more of the 5 MB, by the runner's
    # lowmem check before it starts (both say why).
    ("qemu::ktest::at_2G_mem_5M_passes_or_skips_with_reason", ktest_at_boundary("2G", "mem=5M", {
        "mm::vmalloc::vmalloc_64m_fill_verify_free": "ignored, "},
        ["5MB LOWMEM available.", "0MB HIGHMEM available."])),
    ("qemu::shell::ktest_out_of_memory_names_the_low_watermark", review_ktest_out_of_memory_names_its_measure),
    ("qemu::make::mem_below_5m_is_refused", review_make_refuses_mem_below_5m),
    ("qemu::make::clippy_kernel_target_has_no_errors", review_clippy_kernel_has_no_errors),
    ("qemu::make::bench_on_a_small_machine_says_why_not_panics", review_bench_too_small_says_so),
    ("qemu::bench::tiny_highmem_skips_the_kmap_rows", review_bench_tiny_highmem_rows_skip),
]


# --- page allocator locks and interrupts (issue 9) ---
def allocator_stress_keeps_guest_time():
    """Allocator and slab stress for a few seconds of host time: the guest's
    uptime must keep pace (>= 70% of the host's clock), which it cannot if
    interrupts stay off for O(n) walks and timer ticks are lost."""
    m = Machine(mem="2G", ktest=True)
    try:
        m.boot()
        m.send("ktest allocator_stress_keeps_the_clock\n")
        _, start = m.expect(r"ktest: stress start, guest uptime (\d+) us", 60)
        host0 = time.time()
        _, end = m.expect(r"ktest: stress end, guest uptime (\d+) us", 300)
        host = time.time() - host0
        guest = (int(end.group(1)) - int(start.group(1))) / 1e6
        out, _ = m.expect(re.escape(PROMPT), 120)
        print("    guest uptime advanced %.2f s while %.2f s passed on the host (%.0f%%)"
              % (guest, host, 100 * guest / host))
        check("allocator_stress_keeps_the_clock ... ok" in out, "the stress test failed:\n" + out)
        check(host >= 1.0, "the stress ran only %.2f s of host time: too short to measure" % host)
        check(guest >= 0.7 * host, "guest uptime advanced %.2f s while %.2f s passed on the host: timer ticks lost"
              % (guest, host))
    finally:
        m.kill()


# --- in-kernel tests in the test kernel only (issue 9 layout) ---

NO_KTESTS_AT_BOOT = ("ktest: this kernel was built without the in-kernel tests; boot option ktest ignored, "
                     "starting the shell ('make run KTEST=1 ARGS=ktest' boots the test kernel and runs them)")
NO_KTESTS_COMMAND = ("ktest: this kernel was built without the in-kernel tests; nothing run "
                     "('make run KTEST=1' boots the test kernel)")


def ktest_functions():
    """`file::function` of every `pub fn NAME() -> TestResult` in src/ktests/."""
    d = os.path.join(ROOT, "src", "ktests")
    return ["%s::%s" % (f[:-3], fn) for f in sorted(os.listdir(d)) if f.endswith(".rs")
            for fn in re.findall(r"^pub fn (\w+)\(\) -> TestResult", open(os.path.join(d, f)).read(), re.M)]


def elf_function_symbols(path):
    """The demangled names (without Rust's hash) of an ELF's defined symbols."""
    out = subprocess.run(["nm", "--defined-only", "--demangle", path], stdout=subprocess.PIPE, check=True).stdout
    return [re.sub(r"::h[0-9a-f]{16}$", "", l.split(" ", 2)[2])
            for l in out.decode("utf-8", "replace").splitlines() if l.count(" ") >= 2]


def normal_kernel_carries_no_ktests():
    """build/kernel.elf (what `make run` boots) holds no in-kernel test: no
    symbol of src/ktests/, no test function, no registered test name in its
    bytes. build/ktest/kernel.elf (`make ... KTEST=1`) holds every registered
    name and the ktests symbols: the same look finds them where they are.
    Both are built here, one after the other: neither overwrites the other."""
    iso_for("")
    iso_for("", ktest=True)
    names, _ = registered_ktests()
    fns = ["::" + f.split("::")[1] for f in ktest_functions()]
    check(len(names) > 50 and len(fns) >= len(names), "read %d names, %d functions" % (len(names), len(fns)))
    normal = os.path.join(ROOT, "build", "kernel.elf")
    test = os.path.join(ROOT, "build", "ktest", "kernel.elf")
    syms = elf_function_symbols(normal)
    data = open(normal, "rb").read()
    check(syms, "no symbols read from " + normal)
    leaked = [x for x in syms if "::ktests::" in x or any(x.endswith(f) for f in fns)]
    check(not leaked, "the normal kernel carries in-kernel test code: " + ", ".join(leaked[:10]))
    named = [n for n in names if n.encode() in data]
    check(not named, "the normal kernel carries test names: " + ", ".join(named[:10]))
    check(b"tests registered" not in data, "the normal kernel carries the ktest runner's text")
    syms = elf_function_symbols(test)
    data = open(test, "rb").read()
    check(any("::ktests::" in x for x in syms), "no ktests symbol in the test kernel " + test)
    missing = [n for n in names if n.encode() not in data]
    check(not missing, "the test kernel lacks registered tests: " + ", ".join(missing[:10]))


def normal_kernel_says_how_to_get_ktests():
    """The normal kernel booted with `ktest` says it has no in-kernel tests
    and how to get them, and goes on to the shell; its `ktest` command says
    so and runs nothing; `help` says so; the machine powers off cleanly."""
    m = Machine(args="ktest", mem="64M")
    try:
        log = m.boot()
        check(NO_KTESTS_AT_BOOT in log, "no word that the tests are not built in:\n" + log[-1500:])
        check("tests registered" not in log and "test result" not in log, "tests ran:\n" + log[-1500:])
        for c in ["ktest", "ktest mm::page_alloc", "ktest --list"]:
            out = m.cmd(c)
            check(NO_KTESTS_COMMAND in out, "%s:\n%s" % (c, out))
            check("test result" not in out and not re.search(r": test$", out, re.M), "%s ran something:\n%s" % (c, out))
        helped = m.cmd("help")
        check(re.search(r"^  ktest \S*\s+not in this kernel: .*make run KTEST=1", helped, re.M), "help:\n" + helped)
        m.send("poweroff\n")
        check(m.wait_exit() == 0, "no clean power-off")
    finally:
        m.kill()


def test_kernel_runs_ktests_from_make_run():
    """`make run KTEST=1 ARGS=ktest` boots the test kernel, which runs the
    tests named by the filter-free boot option and powers off with status 0."""
    code, out = _console_run("make -s run KTEST=1 MEM=256M ARGS=ktest", BOOT_TIMEOUT + 240)
    s = re.search(KTEST_RESULT, out)
    names, _ = registered_ktests()
    check(s and s.group(1) == "ok", "no passing run:\n" + out[-1500:])
    check(sum(int(s.group(i)) for i in (2, 3, 4)) == len(names), "not every test ran:\n" + out[-1500:])
    check(code == 0, "make run exited %d:\n%s" % (code, out[-800:]))


def make_refuses_an_unknown_ktest_value():
    """KTEST=yes is refused naming the value, before anything is built."""
    code, out = _console_run("make -s kernel KTEST=yes", 30)
    check(code != 0 and "KTEST=yes is not understood: KTEST=1 builds the test kernel" in out, "exit %d:\n%s" % (code, out))
    check("Compiling" not in out and "Finished" not in out, "cargo ran:\n" + out)


def gdb_follows_ktest_1():
    """`make gdb KTEST=1` debugs the test kernel with its own symbols: the
    kmain breakpoint (set from the ELF GDB loads) is hit, which it is not
    when GDB reads build/kernel.elf, whose kmain is elsewhere."""
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    iso_for("", ktest=True)
    code, out = _console_run("make -s gdb KTEST=1 GDB_PORT=%d" % port, 60, "continue\ninfo symbol $pc\nquit\n")
    check("build/ktest/kernel.elf" in out, "GDB did not load the test kernel:\n" + out[-1500:])
    check("Breakpoint 1, kernel::init::kmain" in out and re.search(r"^\(gdb\) kmain( \+ \d+)? in section \.text", out, re.M),
          "did not stop in the test kernel's kmain:\n" + out[-1500:])


KTEST_LAYOUT_TESTS = [
    ("qemu::ktest::normal_kernel_carries_no_ktests", normal_kernel_carries_no_ktests),
    ("qemu::ktest::normal_kernel_says_how_to_get_them", normal_kernel_says_how_to_get_ktests),
    ("qemu::ktest::make_run_ktest_1_runs_them", test_kernel_runs_ktests_from_make_run),
    ("qemu::make::unknown_ktest_value_is_refused", make_refuses_an_unknown_ktest_value),
    ("qemu::gdb::make_gdb_ktest_1_reads_the_test_kernel", gdb_follows_ktest_1),
]


# --- user programs: build, ISO modules, PROGS (issue 10) ---

USER = os.path.join(ROOT, "build", "user")


def user_programs():
    """The names `make user` builds, by the Makefile's rule: user/NAME/ with
    a Cargo.toml (but the runtime rt) and user/c/NAME.c."""
    d = os.path.join(ROOT, "user")
    rust = [n for n in sorted(os.listdir(d)) if n != "rt" and os.path.isfile(os.path.join(d, n, "Cargo.toml"))]
    c = sorted(f[:-2] for f in os.listdir(os.path.join(d, "c")) if f.endswith(".c"))
    return rust + c


def built_user_programs():
    """Build the user programs (once: make's and cargo's own checks make a
    second `make user` a no-op) and return their names."""
    if not built_user_programs.done:
        r = subprocess.run(["make", "-s", "-C", ROOT, "user"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        check(r.returncode == 0, "make user failed:\n" + r.stdout.decode("utf-8", "replace")[-2000:])
        built_user_programs.done = True
    return user_programs()


built_user_programs.done = False


def elf_i386_static_exec(path):
    """Why `path` is not a static i386 ELF executable, or None if it is."""
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        return "not a 32-bit little-endian ELF file"
    e_type, e_machine = int.from_bytes(data[16:18], "little"), int.from_bytes(data[18:20], "little")
    if e_type != 2 or e_machine != 3:
        return "e_type %d, e_machine %d: not ET_EXEC (2) for EM_386 (3)" % (e_type, e_machine)
    phoff = int.from_bytes(data[28:32], "little")
    phentsize, phnum = int.from_bytes(data[42:44], "little"), int.from_bytes(data[44:46], "little")
    for i in range(phnum):
        if int.from_bytes(data[phoff + i * phentsize:phoff + i * phentsize + 4], "little") == 3:
            return "it has a PT_INTERP: dynamically linked"
    return None


def run_native(name, args=(), timeout=30):
    """Run build/user/NAME on this Linux host: (status, stdout, stderr)."""
    r = subprocess.run([os.path.join("build", "user", name)] + list(args), cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def hello_text(argv0, args):
    argv = [argv0] + list(args)
    return "Hello from user space!\nargc: %d\n" % len(argv) + "".join("argv[%d]: %s\n" % (i, a) for i, a in enumerate(argv))


def check_native(what, got, status, out, err=None):
    check(got[0] == status, "%s exited %d, not %d; stdout:\n%s\nstderr:\n%s" % (what, got[0], status, got[1], got[2]))
    check(re.fullmatch(out, got[1]), "%s printed:\n%s\nnot:\n%s" % (what, got[1], out))
    if err is not None:
        check(re.fullmatch(err, got[2]), "%s said on stderr:\n%s\nnot:\n%s" % (what, got[2], err))


def hog_lines(size, touch_steps, how="mmap2"):
    lines = [r"hog: %s at 0x[0-9a-f]{8} \(%s\)" % (size, how)]
    lines += [r"hog: touched %s of %s" % (s, size) for s in touch_steps]
    return lines


def user_programs_run_natively():
    """Every program `make user` builds is a static i386 ELF executable
    (ET_EXEC, EM_386, no interpreter) that this Linux host runs as it is:
    Linux is the reference. hello and chello (the Rust runtime and glibc)
    print the same greeting and argv and exit 0; hog maps, touches,
    verifies, holds and refuses bad arguments naming them; panic shows the
    runtime's panic handler (message on stderr, status 101)."""
    names = built_user_programs()
    for n in ["hello", "hog", "chello", "panic"]:
        check(n in names, "no %s among the user programs %r" % (n, names))
    for n in names:
        path = os.path.join(USER, n)
        check(os.path.isfile(path), "make user did not build " + path)
        why = elf_i386_static_exec(path)
        check(why is None, "build/user/%s: %s" % (n, why))
    args = ["a", "b c", ""]
    for n in ["hello", "chello"]:
        check_native(n, run_native(n, args), 0, re.escape(hello_text("build/user/" + n, args)), "")
    check_native("hog 8M touch verify", run_native("hog", ["8M", "touch", "verify"]), 0,
                 "\n".join(hog_lines("8M", ["8M"]) + ["hog: verified 8M", "hog: done", ""]), "")
    check_native("hog 130M touch", run_native("hog", ["130M", "touch"]), 0,
                 "\n".join(hog_lines("130M", ["64M", "128M", "130M"]) + ["hog: done", ""]), "")
    # Fresh memory reads zero: verify without touch checks for zero.
    check_native("hog 1M verify", run_native("hog", ["1M", "verify"]), 0,
                 "\n".join(hog_lines("1M", []) + ["hog: verified 1M", "hog: done", ""]), "")
    check_native("hog 3000K brk touch verify hold=1", run_native("hog", ["3000K", "brk", "touch", "verify", "hold=1"]), 0,
                 "\n".join(hog_lines("3000K", ["3000K"], "brk") + [
                     "hog: verified 3000K", r"hog: holding 3000K for 1s \(pid \d+\)", "hog: verified 3000K", "hog: done", ""]), "")
    for bad, says in [(["12X"], "hog: SIZE 12X is not a size"), (["0"], "hog: SIZE 0 is not a size"),
                      (["5G"], "hog: SIZE 5G is more than the address space holds; nothing mapped"),
                      (["1M", "tuoch"], "hog: option tuoch is not understood; nothing mapped"),
                      (["1M", "hold=x"], "hog: hold=x is not hold=SECONDS; nothing mapped"),
                      ([], "hog: no SIZE given; nothing mapped")]:
        got = run_native("hog", bad)
        check(got[0] == 2 and says in got[2] and got[1] == "", "hog %s: exit %d, stdout %r, stderr %r" % (" ".join(bad), *got))
    # Nearly all of a 32-bit address space, which holds the program and its stack too.
    check_native("hog 4095M", run_native("hog", ["4095M"]), 1, "", "hog: mmap2 of 4095M failed: ENOMEM\n")
    check_native("panic x", run_native("panic", ["x"]), 101, "panic: about to panic\n",
                 re.escape("build/user/panic: panicked at panic/src/main.rs:") + r"\d+:\d+:\non purpose, with 1 arguments\n")


def hog_hold_lives_until_killed():
    """`hog SIZE touch hold` keeps its memory until a signal ends it: still
    alive after its `holding` line, gone with SIGTERM's status."""
    built_user_programs()
    p = subprocess.Popen([os.path.join(USER, "hog"), "2M", "touch", "hold"], stdout=subprocess.PIPE)
    try:
        line = b""
        deadline = time.time() + 10
        while b"holding" not in line and time.time() < deadline:
            line += os.read(p.stdout.fileno(), 4096)
        check(re.search(rb"hog: holding 2M until killed \(pid %d\)" % p.pid, line), "no holding line: %r" % line)
        time.sleep(1.2)
        check(p.poll() is None, "hog ended while holding, status %r" % p.returncode)
        p.terminate()
        check(p.wait(timeout=10) == -15, "hog did not end by SIGTERM: %r" % p.returncode)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()


def bootmap_modules(text):
    """bootmap's module lines: {name: size in bytes}."""
    return {m.group(3): int(m.group(2), 16) - int(m.group(1), 16) + 1
            for m in re.finditer(r"^module: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] (\S+)$", text, re.M)}


def bootmap_lists_user_programs_and_progs():
    """An ISO built with PROGS (a glibc-static C program the test compiles)
    carries every user program and that file as modules named by their file
    names: `bootmap` lists each with exactly the file's size, beside the
    symbols module, and the shell goes on to a clean power-off. The file
    sits in a folder whose name holds $, ; and a quote: make passes PROGS
    to the scripts as typed, never through a shell."""
    import shlex
    names = built_user_programs()
    d = os.path.join(BUILD, "progs", "a$(b);c'd")
    os.makedirs(d, exist_ok=True)
    src, extra = os.path.join(d, "extra.c"), os.path.join(d, "extra-prog")
    with open(src, "w") as f:
        f.write('#include <stdio.h>\nint main(void) { puts("extra"); return 0; }\n')
    r = subprocess.run(["gcc", "-m32", "-static", "-O2", "-o", extra, src], stderr=subprocess.PIPE)
    check(r.returncode == 0, "gcc -m32 -static failed: " + r.stderr.decode("utf-8", "replace"))
    iso = os.path.join(BUILD, "progs.iso")
    code, out = _console_run("make -s iso ISO=%s PROGS=%s" % (iso, shlex.quote(extra)), 600)
    check(code == 0, "make iso PROGS=%s exited %d:\n%s" % (extra, code, out[-1500:]))
    code, out = _console_qemu(iso, stdin_text="\nbootmap\npoweroff\n")
    check(code == 0, "QEMU exited %d:\n%s" % (code, out[-1500:]))
    mods = bootmap_modules(out)
    # The C programs are names of one module, cprogs (their links in
    # build/user/ have its size), listed once per name.
    want = {n: os.path.getsize(os.path.join(USER, n)) for n in names + ["cprogs"]}
    want["extra-prog"] = os.path.getsize(extra)
    for n, size in want.items():
        check(mods.get(n) == size, "bootmap shows module %s as %r bytes, not %d:\n%s" % (n, mods.get(n), size, out[-2000:]))
    check("symbols" in mods and len(mods) == len(want) + 1, "modules %r, expected %r and symbols" % (sorted(mods), sorted(want)))


def make_refuses_bad_progs():
    """make run PROGS=... refuses, before building anything, a missing file,
    a file that is no ELF, an x86-64 program, a dynamically linked i386 one
    and a name taken by a user program, each message naming the file."""
    d = os.path.join(BUILD, "progs")
    os.makedirs(d, exist_ok=True)
    src = os.path.join(d, "extra.c")
    with open(src, "w") as f:
        f.write("int main(void) { return 0; }\n")
    dyn, hello = os.path.join(d, "dynamic"), os.path.join(d, "hello")
    for out, flags in [(dyn, ["-no-pie"]), (hello, ["-static"])]:
        r = subprocess.run(["gcc", "-m32"] + flags + ["-o", out, src], stderr=subprocess.PIPE)
        check(r.returncode == 0, "gcc failed: " + r.stderr.decode("utf-8", "replace"))
    x86_64 = os.path.realpath("/bin/true")
    for prog, says in [("/nonexistent/prog", "PROGS: /nonexistent/prog: no such file"),
                       (src, "PROGS: %s: not an ELF file" % src),
                       (x86_64, "PROGS: %s: an ELF64 file for Advanced Micro Devices X86-64, not an i386" % x86_64),
                       (dyn, "PROGS: %s: dynamically linked (it asks for /lib/ld-linux.so.2): build it with -static" % dyn),
                       (hello, "PROGS: %s: its name hello is taken by build/user/hello" % hello)]:
        code, out = _console_run("make -s run MEM=64M PROGS=%s" % prog, 60, "")
        check(code != 0 and says in out and "PROGS: refused; nothing was built" in out, "PROGS=%s: exit %d:\n%s" % (prog, code, out))
        # "himem version" is the boot banner (the tree's own path may hold "himem").
        check("Compiling" not in out and "Finished" not in out and "himem version" not in out,
              "PROGS=%s: built or booted:\n%s" % (prog, out))


USER_TESTS = [
    ("qemu::user::programs_run_natively_on_linux", user_programs_run_natively),
    ("qemu::user::hog_hold_lives_until_killed", hog_hold_lives_until_killed),
    ("qemu::user::bootmap_lists_programs_and_progs", bootmap_lists_user_programs_and_progs),
    ("qemu::make::bad_progs_are_refused", make_refuses_bad_progs),
]


# --- exec and system calls (issue 10) ---

def run_host_as(name, args):
    """build/user/NAME run on this Linux host with argv[0] = NAME, as the
    kernel's `run NAME ARGS` starts it: (status, stdout, stderr)."""
    r = subprocess.run([name] + list(args), executable=os.path.join(USER, name), cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def meminfo_kb(m, field):
    """`field` of meminfo (kB), after `drain` put the per-CPU lists back."""
    m.cmd("drain")
    out = m.cmd("meminfo")
    g = re.search(r"^%s:\s+(\d+) kB$" % re.escape(field), out, re.M)
    check(g, "no %s in meminfo:\n%s" % (field, out))
    return int(g.group(1))


def run_hello_prints_what_linux_prints():
    """`run hello a b` prints exactly what build/user/hello prints on this
    Linux host (started as `hello a b`): the program ran in ring 3, its
    argv and stack laid out as Linux lays them, its writes reaching the
    console through int $0x80; it exits 0, so the shell adds nothing, and
    goes on."""
    built_user_programs()
    status, want, _ = run_host_as("hello", ["a", "b"])
    check(status == 0, "hello exited %d on the host" % status)
    m = Machine()
    try:
        m.boot()
        got = m.cmd("run hello a b")
        check(got == want, "run hello a b printed:\n%r\nnot what Linux prints:\n%r" % (got, want))
        check(m.cmd("echo still here") == "still here\n", "the shell did not go on:\n" + m.out[-1500:])
    finally:
        m.kill()


def run_reports_exit_status_and_bad_programs():
    """`run panic x` prints the program's lines (stdout and stderr, as on
    Linux) and then `panic: exit status 101`; an unknown program is named
    and pointed to bootmap; a module that is no ELF file (the kernel's
    symbols) gets binfmt_elf's message; a missing PROG is said. Free pages
    come back after all of them (measured after a first run of hello, which
    gives the kmalloc caches it uses their first slabs: Slab grows by a few
    pages once, and stays)."""
    built_user_programs()
    status, out, err = run_host_as("panic", ["x"])
    check(status == 101, "panic exited %d on the host" % status)
    m = Machine()
    try:
        m.boot()
        m.cmd("run hello")
        before = meminfo_kb(m, "MemFree")
        got = m.cmd("run panic x")
        check(got == out + err + "panic: exit status 101\n",
              "run panic x printed:\n%r\nnot:\n%r" % (got, out + err + "panic: exit status 101\n"))
        got = m.cmd("run nonexistent")
        check(got == "run: no program 'nonexistent' (bootmap lists the modules)\n", "run nonexistent: %r" % got)
        got = m.cmd("run symbols")
        check(re.fullmatch(r"run: symbols: not an ELF file \(magic [0-9a-f ]+\)\n", got), "run symbols: %r" % got)
        got = m.cmd("run")
        check(got == "run: missing PROG (usage: run PROG [ARG...] [&]); nothing run\n", "run: %r" % got)
        after = meminfo_kb(m, "MemFree")
        check(before == after, "MemFree %d kB before, %d kB after" % (before, after))
    finally:
        m.kill()


def run_hello_20_times_leaks_no_page():
    """20 runs of hello at 2G (user frames from highmem) give back every
    page: MemFree, HighFree and Slab after `drain` are what they were
    before (after a first run, which gives the kmalloc caches it uses their
    first slabs)."""
    built_user_programs()
    m = Machine()
    try:
        m.boot()
        m.cmd("run hello")
        fields = ("MemFree", "HighFree", "Slab")
        before = tuple(meminfo_kb(m, f) for f in fields)
        for i in range(20):
            got = m.cmd("run hello %d" % i)
            check(got.startswith("Hello from user space!\n") and got.endswith("argv[1]: %d\n" % i), "run %d: %r" % (i, got))
        after = tuple(meminfo_kb(m, f) for f in fields)
        check(before == after, "%r: %r kB before 20 runs, %r after" % (fields, before, after))
    finally:
        m.kill()


def run_chello_prints_what_linux_prints():
    """`run chello a b` (glibc static: TLS through set_thread_area and %gs,
    SSE2 string functions, brk, mprotect of its RELRO, set_tid_address)
    prints what it prints on this Linux host. The first run logs each
    system call it makes that is not built (-ENOSYS: rseq, getrandom,
    statx...), once per number: a second run prints exactly Linux's text.
    Free pages come back."""
    built_user_programs()
    status, want, _ = run_host_as("chello", ["a", "b"])
    check(status == 0, "chello exited %d on the host" % status)
    m = Machine()
    try:
        m.boot()
        got = m.cmd("run chello a b")
        enosys = re.findall(r"^\[[ \d.]+\] chello\[\d+\]: system call (\d+) is not implemented; it returns -ENOSYS "
                            r"\(said once per number\)\n", got, re.M)
        rest = re.sub(r"^\[[ \d.]+\] .*\n", "", got, flags=re.M)
        check(rest == want, "run chello a b printed:\n%r\nnot what Linux prints:\n%r" % (got, want))
        check(enosys and len(set(enosys)) == len(enosys), "no ENOSYS line, or one twice: %r" % got)
        before = meminfo_kb(m, "MemFree")
        got = m.cmd("run chello a b")
        check(got == want, "second run chello a b printed:\n%r\nnot:\n%r" % (got, want))
        check(meminfo_kb(m, "MemFree") == before, "MemFree changed across a run of chello")
    finally:
        m.kill()


def run_hog_grows_the_break():
    """`run hog 3000K brk touch verify` grows the heap with brk, writes and
    re-reads every page, and prints what it prints on Linux (but for the
    address: Linux randomises the break); its pages come back (counted
    around a second run: the first gives the kmalloc caches of its page
    bookkeeping their first slabs)."""
    built_user_programs()
    m = Machine()
    try:
        m.boot()
        want = "\n".join(hog_lines("3000K", ["3000K"], "brk") + ["hog: verified 3000K", "hog: done", ""])
        for i in range(2):
            got = m.cmd("run hog 3000K brk touch verify")
            check(re.fullmatch(want, got), "run hog 3000K brk touch verify printed:\n%s" % got)
            if i == 0:
                before = meminfo_kb(m, "MemFree")
        check(meminfo_kb(m, "MemFree") == before, "MemFree changed across hog's brk run")
    finally:
        m.kill()


EXEC_TESTS = [
    ("qemu::exec::run_hog_grows_the_break", run_hog_grows_the_break),
    ("qemu::exec::run_chello_prints_what_linux_prints", run_chello_prints_what_linux_prints),
    ("qemu::exec::run_hello_prints_what_linux_prints", run_hello_prints_what_linux_prints),
    ("qemu::exec::run_reports_exit_status_and_bad_programs", run_reports_exit_status_and_bad_programs),
    ("qemu::exec::run_hello_20_times_leaks_no_page", run_hello_20_times_leaks_no_page),
]


# --- shell: sleep, kill -l (issue 10) ---

# bash 5.2's `kill -l` on Linux with glibc: 32 and 33 are glibc's, not listed.
BASH_KILL_L = (
    " 1) SIGHUP\t 2) SIGINT\t 3) SIGQUIT\t 4) SIGILL\t 5) SIGTRAP\n"
    " 6) SIGABRT\t 7) SIGBUS\t 8) SIGFPE\t 9) SIGKILL\t10) SIGUSR1\n"
    "11) SIGSEGV\t12) SIGUSR2\t13) SIGPIPE\t14) SIGALRM\t15) SIGTERM\n"
    "16) SIGSTKFLT\t17) SIGCHLD\t18) SIGCONT\t19) SIGSTOP\t20) SIGTSTP\n"
    "21) SIGTTIN\t22) SIGTTOU\t23) SIGURG\t24) SIGXCPU\t25) SIGXFSZ\n"
    "26) SIGVTALRM\t27) SIGPROF\t28) SIGWINCH\t29) SIGIO\t30) SIGPWR\n"
    "31) SIGSYS\t34) SIGRTMIN\t35) SIGRTMIN+1\t36) SIGRTMIN+2\t37) SIGRTMIN+3\n"
    "38) SIGRTMIN+4\t39) SIGRTMIN+5\t40) SIGRTMIN+6\t41) SIGRTMIN+7\t42) SIGRTMIN+8\n"
    "43) SIGRTMIN+9\t44) SIGRTMIN+10\t45) SIGRTMIN+11\t46) SIGRTMIN+12\t47) SIGRTMIN+13\n"
    "48) SIGRTMIN+14\t49) SIGRTMIN+15\t50) SIGRTMAX-14\t51) SIGRTMAX-13\t52) SIGRTMAX-12\n"
    "53) SIGRTMAX-11\t54) SIGRTMAX-10\t55) SIGRTMAX-9\t56) SIGRTMAX-8\t57) SIGRTMAX-7\n"
    "58) SIGRTMAX-6\t59) SIGRTMAX-5\t60) SIGRTMAX-4\t61) SIGRTMAX-3\t62) SIGRTMAX-2\n"
    "63) SIGRTMAX-1\t64) SIGRTMAX\t\n"
)


def kill_l_lists_signals_as_bash():
    m = Machine(mem="64M")
    try:
        m.boot()
        out = m.cmd("kill -l")
        check(out == BASH_KILL_L, "kill -l differs from bash's:\n%r" % out)
        out = m.cmd("kill -l 9 FOO 137 sigterm 32 0")
        want = "KILL\nkill: FOO: invalid signal specification\nKILL\n15\nEXIT\n"
        check(out == want, "kill -l WORDS: %r, want %r" % (out, want))
        check(m.cmd("kill").strip().startswith("kill: usage: kill [-s sigspec"), "kill without words")
        check(m.cmd("kill -s").strip() == "kill: -s: option requires an argument", "kill -s")
        check(m.cmd("kill -FOO 1").strip() == "kill: FOO: invalid signal specification", "kill -FOO 1")
        # pid 1 is the shell, a kernel thread: Linux's kernel threads ignore
        # signals, and kill(2) succeeds. A pid nobody has is ESRCH.
        check(m.cmd("kill -9 1").strip() == "", "kill -9 1 (a kernel thread)")
        check(m.cmd("kill 4242").strip() == "kill: (4242) - No such process", "kill 4242")
    finally:
        m.kill()


def guest_uptime(m):
    return float(m.cmd("uptime").split()[0])


def sleep_waits_keeps_input_and_ctrl_c_ends_it():
    m = Machine(mem="64M")
    try:
        m.boot()
        # Guest time: at least what was asked, one tick of slack at most
        # above it (plus the uptime commands themselves).
        for arg, secs in [("0.5", 0.5), ("1.2s", 1.2), ("0.01m", 0.6)]:
            a = guest_uptime(m)
            check(m.cmd("sleep " + arg, timeout=30) == "", "sleep %s printed something" % arg)
            took = guest_uptime(m) - a
            check(secs <= took < secs + 0.5, "sleep %s took %.2f s of guest time" % (arg, took))
        # Lines typed during the sleep wait in the tty and run after it.
        m.send("uptime\nsleep 1\nuptime\necho typed-ahead\n")
        outs = [m.expect(re.escape(PROMPT), 30)[0] for _ in range(4)]
        check(outs[1] == "sleep 1\n" and outs[3] == "echo typed-ahead\ntyped-ahead\n", "typed-ahead: %r" % outs)
        t0, t1 = (float(o.split("\n")[1].split()[0]) for o in (outs[0], outs[2]))
        check(1.0 <= t1 - t0 < 1.5, "the uptime typed during sleep 1 ran %.2f s later" % (t1 - t0))
        # Ctrl-C ends `sleep inf`; what was typed before it is flushed, as
        # n_tty's isig() flushes it; what follows it runs.
        m.send("sleep inf\n")
        m.expect("sleep inf\n")
        time.sleep(0.5)
        m.send("echo flushed\n\x03echo kept\n")
        out, _ = m.expect(re.escape(PROMPT), 10)
        check(out == "^C\n", "sleep inf + Ctrl-C printed %r" % out)
        out, _ = m.expect(re.escape(PROMPT), 10)
        check(out == "echo kept\nkept\n", "after Ctrl-C: %r" % out)
        check("flushed\n" not in m.out, "a line typed before Ctrl-C ran")
        for bad, msg in [("x", "sleep: invalid time interval 'x'"), ("", "sleep: missing operand"),
                         ("-1", "sleep: invalid option -- '1'"), ("1 y", "sleep: invalid time interval 'y'")]:
            out = m.cmd(("sleep " + bad).strip())
            check(out.strip() == msg, "sleep %s: %r" % (bad, out))
        m.send("poweroff\n")
        check(m.wait_exit() == 0, "no clean power-off")
    finally:
        m.kill()


SHELL_JOBS_TESTS = [
    ("qemu::shell::kill_l_lists_signals_as_bash", kill_l_lists_signals_as_bash),
    ("qemu::shell::sleep_waits_keeps_input_and_ctrl_c_ends_it", sleep_waits_keeps_input_and_ctrl_c_ends_it),
]


# --- small system calls (issue 10) ---

SYSMISC_EXPECTED = os.path.join(ROOT, "tests", "expected", "sysmisc.txt")


def sysmisc_on_linux():
    """build/user/sysmisc's output on this Linux host, run as the kernel
    runs it as far as Linux can: `setarch i686` (uname's machine is then
    i686, not the 64-bit host's), fds 0-2 on a pseudo terminal (the
    console is a terminal) that holds two ^D, so its reads of fd 0 get end
    of file as the kernel's console gives. (status, text)."""
    import pty
    built_user_programs()
    master, slave = pty.openpty()
    try:
        os.write(master, b"\x04\x04")
        p = subprocess.Popen(["setarch", "i686", os.path.join(USER, "sysmisc")], stdin=slave, stdout=slave,
                             stderr=slave, cwd=ROOT, close_fds=True)
        os.close(slave)
        slave = None
        out = b""
        deadline = time.time() + 30
        while time.time() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the program is gone and so is the slave side
                    break
                if not data:
                    break
                out += data
            elif p.poll() is not None:
                break
        status = p.wait(timeout=10)
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    return status, out.decode("utf-8", "replace").replace("\r\n", "\n")


def compared_lines(text):
    """The lines of sysmisc's output that are the same on any machine: all
    but those starting with '#' (times, uname's release, the terminal's
    device numbers and settings of speed, /proc/self/exe, the user ids:
    the host's test may run as anyone, the kernel's programs run as root)."""
    return [line for line in text.splitlines() if not line.startswith("#")]


def sysmisc_runs_natively_as_expected():
    """sysmisc on this Linux host prints tests/expected/sysmisc.txt (the
    lines that do not differ by nature): the expected file is Linux's
    answer, and stays so."""
    status, out = sysmisc_on_linux()
    check(status == 0, "sysmisc exited %d on the host:\n%s" % (status, out))
    want = compared_lines(open(SYSMISC_EXPECTED).read())
    got = compared_lines(out)
    diff = [(w, g) for w, g in zip(want, got) if w != g]
    check(len(want) == len(got) and not diff,
          "sysmisc on Linux differs from %s (%d lines, want %d); first differences: %r"
          % (SYSMISC_EXPECTED, len(got), len(want), diff[:5]))


def run_sysmisc_prints_what_linux_prints():
    """`run sysmisc` (uname, the clocks, sleeps, ids, set_robust_list, stat
    and ioctl of the console, readlink, read, set_thread_area and
    get_thread_area (a TLS entry emptied under %fs), each with good and bad
    arguments) prints Linux's lines (tests/expected/sysmisc.txt) but for
    those that differ by nature, which show the kernel's own values:
    release 2.6.24-himem; uid and gid 0; the console as /dev/console (crw------- 5:1,
    blksize 4096, 115200 baud); clock resolutions of 1 us (the PIT
    read in microseconds) and 10 ms (a tick: coarse and CPU clocks); no /proc (readlink ENOENT); no alarm
    clocks; REALTIME from the CMOS clock, which QEMU sets to the host's
    time. A second run prints the same (the first logs the ENOSYS of glibc's
    startup calls); free pages come back."""
    built_user_programs()
    want = compared_lines(open(SYSMISC_EXPECTED).read())
    m = Machine()
    try:
        m.boot()
        for i in range(2):
            got = m.cmd("run sysmisc", timeout=60)
            host_now = time.time()
            got = re.sub(r"^\[[ \d.]+\] .*\n", "", got, flags=re.M)
            lines = compared_lines(got)
            diff = [(w, g) for w, g in zip(want, lines) if w != g]
            check(len(want) == len(lines) and not diff,
                  "run sysmisc differs from Linux (%d lines, want %d); first differences: %r\n%s"
                  % (len(lines), len(want), diff[:5], got))
            own = [line for line in got.splitlines() if line.startswith("#")]
            for must in ["# uname: nodename (none) release 2.6.24-himem version #1 himem domainname (none)",
                         "# clock_gettime64(8) = -EINVAL", "# clock_gettime64(9) = -EINVAL",
                         "# gettimeofday: tz minuteswest 0 dsttime 0",
                         "# readlink(\"/proc/self/exe\") = -ENOENT",
                         "# getuid() = 0, geteuid() = 0, getgid() = 0, getegid() = 0",
                         "# 16-bit: getuid() = 0, geteuid() = 0, getgid() = 0, getegid() = 0",
                         "# set_thread_area: entry 8"] + [
                         "# clock_getres(%d): 0.000001000 s, time64 0.000001000 s" % c for c in (0, 1, 4, 7, 11)] + [
                         "# clock_getres(%d): 0.010000000 s, time64 0.010000000 s" % c for c in (2, 3, 5, 6)] + [
                         "# fstat64(%d): mode 20600 rdev 501 uid 0 gid 0 blksize 4096 nlink 1 size 0 blocks 0" % fd
                         for fd in range(3)] + ["# ioctl(%d, TCGETS): cflag 16262" % fd for fd in range(3)]:
                check(must in own, "run sysmisc did not print %r; its own lines:\n%s" % (must, "\n".join(own)))
            t = re.search(r"^# time\(NULL\) = (\d+)$", got, re.M)
            check(t and abs(int(t.group(1)) - host_now) < 120,
                  "time(NULL) %s is not the host's time %d (the CMOS clock QEMU sets)" % (t and t.group(1), host_now))
            if i == 0:
                before = meminfo_kb(m, "MemFree")
        check(meminfo_kb(m, "MemFree") == before, "MemFree changed across a run of sysmisc")
    finally:
        m.kill()


SYSMISC_TESTS = [
    ("qemu::user::sysmisc_runs_natively_as_expected", sysmisc_runs_natively_as_expected),
    ("qemu::exec::run_sysmisc_prints_what_linux_prints", run_sysmisc_prints_what_linux_prints),
]


# --- user programs against Linux (issue 10) ---
# Each test boots, runs a program of user/c/ with `run PROG ARGS`, compares
# what it prints with tests/expected/ (its output on Linux: see the README
# there), checks that the shell still serves and that the free page and
# slab counts come back. Not registered in main() yet: they need fork,
# demand paging, mmap2, signals and the shell's `&`, `status`, `kill`.

EXPECTED = os.path.join(ROOT, "tests", "expected")
# A kernel log line on the console: ENOSYS notes, segfault reports.
KLOG_LINE = re.compile(r"^\[[ \d.]+\] .*\n", re.M)
MEM_FIELDS = ("MemFree", "HighFree", "Slab")


def expected_output(name):
    """tests/expected/NAME.txt: what `run` must print (NAME-ARGS, see there)."""
    with open(os.path.join(EXPECTED, name + ".txt")) as f:
        return f.read()


def program_lines(out):
    """What a program printed, without the kernel's log lines."""
    return KLOG_LINE.sub("", out)


def mem_state(m):
    """The counts to compare, after `shrink` gave the empty slabs back (how
    many a cache keeps depends on how many processes were alive at once,
    which timing decides; Linux's tests drop caches the same way)."""
    m.cmd("shrink")
    return tuple(meminfo_kb(m, f) for f in MEM_FIELDS)


def check_mem_back(m, before, what):
    after = mem_state(m)
    check(before == after, "%s: %r kB before, %r after" % (what, dict(zip(MEM_FIELDS, before)),
                                                           dict(zip(MEM_FIELDS, after))))


def check_serves(m):
    check(m.cmd("echo still here") == "still here\n", "the shell did not go on:\n" + m.out[-1500:])


def prog_as_on_linux(cmd, expected, warmup=None, timeout=CMD_TIMEOUT, mem="2G"):
    """A test: `run CMD` prints tests/expected/EXPECTED.txt exactly (the
    kernel's log lines aside) and exits 0, the shell goes on, and the
    counts MEM_FIELDS are what they were before (measured after WARMUP, a
    first run that gives the caches the program uses their first slabs)."""
    def run():
        built_user_programs()
        want = expected_output(expected)
        m = Machine(mem=mem)
        try:
            m.boot()
            m.cmd("run " + (warmup or cmd), timeout)
            before = mem_state(m)
            got = program_lines(m.cmd("run " + cmd, timeout))
            check(got == want, "run %s printed:\n%s\nnot what Linux prints:\n%s" % (cmd, got, want))
            check_serves(m)
            check_mem_back(m, before, "run " + cmd)
        finally:
            m.kill()
    return run


def segv_ends_each_access_in_sigsegv():
    """`segv WHAT` for null, text, kread, kjump and stack: the program's one
    line (as on Linux), the kernel's `segv[PID]: segfault at ADDR ip IP sp
    SP error N` with the faulting address, the shell's `Segmentation
    fault`, never `still alive`; the shell goes on and every page comes
    back."""
    built_user_programs()
    addr = {"null": "0", "text": "80[0-9a-f]{5}", "kread": "c0000000", "kjump": "c0000000", "stack": "b[0-9a-f]{7}"}
    error = {"null": "6", "text": "7", "kread": "5", "kjump": "(5|15)", "stack": "6"}
    m = Machine()
    try:
        m.boot()
        m.cmd("run segv null")
        before = mem_state(m)
        for what in ["null", "text", "kread", "kjump", "stack"]:
            out = m.cmd("run segv " + what)
            want = expected_output("segv-" + what)
            check(program_lines(out).startswith(want), "run segv %s printed:\n%s\nnot first:\n%s" % (what, out, want))
            check("still alive" not in out, "segv %s did not fault:\n%s" % (what, out))
            rx = r"segv\[\d+\]: segfault at %s ip [0-9a-f]{8} sp [0-9a-f]{8} error %s\n" % (addr[what], error[what])
            check(re.search(rx, out), "no kernel line %r for segv %s:\n%s" % (rx, what, out))
            check("Segmentation fault" in out, "the shell did not say Segmentation fault for segv %s:\n%s" % (what, out))
            check_serves(m)
        check_mem_back(m, before, "five segv runs")
    finally:
        m.kill()


def mlocktest_shows_vmlck():
    """`run mlocktest` prints what it prints on Linux (every result as
    Linux's, for an unprivileged process); `run mlocktest hold &` then shows
    `VmLck: 64 kB` in `status $!`, and after `kill -9 $!` and `wait $!` the
    pages come back."""
    built_user_programs()
    want = expected_output("mlocktest")
    m = Machine()
    try:
        m.boot()
        m.cmd("run mlocktest")
        # A first background job and wait, as the warm-up: the shell's job
        # machinery gets its first slabs.
        m.cmd("run hello &")
        m.cmd("wait")
        before = mem_state(m)
        got = program_lines(m.cmd("run mlocktest"))
        check(got == want, "run mlocktest printed:\n%s\nnot what Linux prints:\n%s" % (got, want))
        out = m.cmd("run mlocktest hold &")
        check(re.search(r"\d+", out), "run mlocktest hold & printed no pid:\n" + out)
        m.cmd("sleep 2")
        status = m.cmd("status $!")
        check(re.search(r"^VmLck:\s+64 kB$", status, re.M), "status of mlocktest hold shows no VmLck: 64 kB:\n" + status)
        check(re.search(r"^Name:\s+mlocktest$", status, re.M), "status names no mlocktest:\n" + status)
        m.cmd("kill -9 $!")
        check("Killed" in m.cmd("wait $!"), "wait did not say Killed:\n" + m.out[-1500:])
        check_serves(m)
        check_mem_back(m, before, "mlocktest, and mlocktest hold killed")
    finally:
        m.kill()


def zerocheck_after_dirtying():
    """`hog 64M touch verify` dirties 64M and gives it back; `zerocheck 64M`
    after it finds every fresh page from brk and mmap2 zero (and prints
    what it prints on Linux); the pages come back."""
    built_user_programs()
    want = expected_output("zerocheck-64M")
    m = Machine()
    try:
        m.boot()
        m.cmd("run zerocheck 64M", 120)
        before = mem_state(m)
        for i in range(2):
            m.cmd("run hog 64M touch verify", 120)
            got = program_lines(m.cmd("run zerocheck 64M", 120))
            check(got == want, "run zerocheck 64M (round %d) printed:\n%s\nnot:\n%s" % (i, got, want))
        check_serves(m)
        check_mem_back(m, before, "hog and zerocheck")
    finally:
        m.kill()


def faults_with_the_direction_flag_set():
    """`dfcheck 5000`: user space sets the direction flag (`std`) and faults
    5,000 fresh pages in with it set. The kernel clears it on entry (as
    Linux's SAVE_ALL), so its `rep stosd` page clear runs upwards: every page
    reads zero (what Linux prints), nothing below them is zeroed (without
    the `cld` the first highmem clear oopsed in the fixmap slot below), and
    the pages come back."""
    built_user_programs()
    want = expected_output("dfcheck-5000")
    m = Machine()
    try:
        m.boot()
        m.cmd("run dfcheck 5000", 120)
        before = mem_state(m)
        got = program_lines(m.cmd("run dfcheck 5000", 120))
        check(got == want, "run dfcheck 5000 printed:\n%s\nnot:\n%s" % (got, want))
        check_serves(m)
        check_mem_back(m, before, "dfcheck")
    finally:
        m.kill()


def cow_child_copies_one_page():
    """`cow` (1G touched by the parent, one page written by the child)
    prints what it prints on Linux, and gives every page back. (When the
    kernel counts copy-on-write copies, this test should also check that
    the region's copy count is exactly 1.)"""
    return prog_as_on_linux("cow", "cow", warmup="cow 64M", timeout=600)()


def sysfuzz_runs_to_the_end():
    """`sysfuzz 1000000 SEED` for seeds 1, 2 and 3 runs to its end (every
    child ends as its draws say: none killed by the kernel), the shell
    still serves, and free page and slab counts come back."""
    built_user_programs()
    m = Machine()
    try:
        m.boot()
        m.cmd("run sysfuzz 10000 1", 300)
        before = mem_state(m)
        for seed in (1, 2, 3):
            out = program_lines(m.cmd("run sysfuzz 1000000 %d" % seed, 3600))
            last = out.rstrip("\n").split("\n")[-1]
            want = (r"sysfuzz: completed 1000000 calls in 100 batches \(seed %d\): every child ended as drawn "
                    r"\(\d+ by exit\(0\), \d+ by a drawn ending\)" % seed)
            check(re.fullmatch(want, last), "sysfuzz seed %d ended with:\n%s" % (seed, out[-3000:]))
            check_serves(m)
        check_mem_back(m, before, "three sysfuzz runs")
    finally:
        m.kill()


def expected_files_are_current():
    """tests/expected/ is what the programs print on this Linux host now:
    generate.sh, run into a scratch folder, makes the same files (for
    sysfuzz, whose per-batch counts vary with the host's ASLR, the first
    and last lines). Runs natively: registered in main() today."""
    built_user_programs()
    out = os.path.join(BUILD, "expected")
    os.makedirs(out, exist_ok=True)
    r = subprocess.run(["bash", os.path.join(EXPECTED, "generate.sh")], cwd=ROOT, env=dict(os.environ, OUT=out),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    log = r.stdout.decode("utf-8", "replace")
    check(r.returncode == 0, "generate.sh exited %d:\n%s" % (r.returncode, log[-2000:]))
    # sysmisc.txt is made and checked by its own test (sysmisc_on_linux).
    stored = sorted(f for f in os.listdir(EXPECTED) if f.endswith(".txt") and f != "sysmisc.txt")
    check(stored == sorted(f for f in os.listdir(out) if f.endswith(".txt")),
          "generate.sh made %r, tests/expected holds %r" % (sorted(os.listdir(out)), stored))
    for f in stored:
        want, got = expected_output(f[:-4]), open(os.path.join(out, f)).read()
        if f.startswith("sysfuzz"):
            want, got = [(t.split("\n")[0], t.rstrip("\n").split("\n")[-1]) for t in (want, got)]
        check(got == want, "%s: the program now prints:\n%s\nthe stored file says:\n%s" % (f, got, want))
    for line in log.splitlines():
        if line.startswith("segv-"):
            check(line.endswith("exit status 139"), "not a SIGSEGV end: " + line)
        elif re.match(r"\S+\.txt: ", line):
            check(line.endswith(": exit status 0"), "not exit status 0: " + line)


def hog_takes_highmem_before_lowmem():
    """User pages come from highmem first: `hog 1000M touch hold` takes
    HighFree down by its size and leaves LowFree alone (its page tables are
    in highmem too); `hog 1500M touch hold` takes highmem down to its
    reserve and only the rest from lowmem. Killed and waited for, each
    gives everything back."""
    built_user_programs()
    m = Machine(mem="2G")
    try:
        m.boot()
        # A first background job and wait: the shell's job list and the
        # process table get their first slabs.
        m.cmd("run hog 1M touch hold=1 &")
        m.cmd("wait")
        before = mem_state(m)
        low0, high0 = meminfo_kb(m, "LowFree"), meminfo_kb(m, "HighFree")
        for size, hold in (("1000M", 1000 << 10), ("1500M", 1500 << 10)):
            held = m.out.count("hog: holding")
            m.cmd("run hog %s touch hold=600 &" % size)
            deadline = time.time() + 120
            while m.out.count("hog: holding") == held and time.time() < deadline:
                m.cmd("sleep 1")
            check(m.out.count("hog: holding") > held, "hog %s never held its memory:\n%s" % (size, m.out[-2000:]))
            low, high = meminfo_kb(m, "LowFree"), meminfo_kb(m, "HighFree")
            taken_high, taken_low = high0 - high, low0 - low
            if size == "1000M":
                check(taken_high >= hold and taken_low < 4096,
                      "hog 1000M took %d kB of highmem and %d kB of lowmem" % (taken_high, taken_low))
            else:
                check(high < high0 // 20 and taken_low >= hold - taken_high - 4096,
                      "hog 1500M left %d kB of highmem free and took %d kB of lowmem" % (high, taken_low))
            m.cmd("kill -9 $!")
            check("Killed" in m.cmd("wait $!"), "wait did not say Killed")
            check_serves(m)
            check_mem_back(m, before, "hog %s killed" % size)
    finally:
        m.kill()


PROGS_TESTS = [
    ("qemu::progs::forktest_as_on_linux", prog_as_on_linux("forktest", "forktest")),
    ("qemu::progs::forktest_20_as_on_linux", prog_as_on_linux("forktest 20", "forktest-20")),
    ("qemu::progs::cow_64m_as_on_linux", prog_as_on_linux("cow 64M", "cow-64M")),
    ("qemu::progs::cow_child_copies_one_page", cow_child_copies_one_page),
    ("qemu::progs::mlocktest_as_on_linux_and_shows_vmlck", mlocktest_shows_vmlck),
    ("qemu::progs::segv_ends_each_access_in_sigsegv", segv_ends_each_access_in_sigsegv),
    ("qemu::progs::badptr_as_on_linux", prog_as_on_linux("badptr", "badptr")),
    ("qemu::progs::zerocheck_as_on_linux", prog_as_on_linux("zerocheck", "zerocheck")),
    ("qemu::progs::zerocheck_after_dirtying", zerocheck_after_dirtying),
    ("qemu::progs::faults_with_the_direction_flag_set", faults_with_the_direction_flag_set),
    ("qemu::progs::stress_8_16m_as_on_linux", prog_as_on_linux("stress 8 16M", "stress-8-16M", timeout=120)),
    ("qemu::progs::stress_200_1m_as_on_linux", prog_as_on_linux("stress 200 1M", "stress-200-1M", timeout=300)),
    ("qemu::progs::sysfuzz_runs_to_the_end", sysfuzz_runs_to_the_end),
    ("qemu::progs::cfork_prints_what_linux_prints", prog_as_on_linux("cfork", "cfork")),
    ("qemu::progs::hog_takes_highmem_before_lowmem", hog_takes_highmem_before_lowmem),
]


# --- HIGHPTE and meminfo counters (issue 10) ---

def highpte_tables_follow_the_option(args, where):
    """With `args` at boot the in-kernel HIGHPTE tests pass or say why they
    are skipped, the page table of a new mapping is in `where` (lowmem or
    highmem), and meminfo's PageTables reads 0 kB with no process alive,
    also after programs ran (their tables given back); KernelStack is a
    whole number of 16 kB stacks."""
    def run():
        m = Machine(args=args, ktest=True)
        try:
            log = m.boot()
            nohighpte = "nohighpte" in args.split()
            check(("nohighpte: user page tables come from lowmem" in log) == nohighpte,
                  "nohighpte line wrong for %r:\n%s" % (args, log[-1500:]))
            out = m.cmd("ktest mm::highpte", timeout=120)
            check("test result: ok." in out and "FAILED" not in out and "BUG" not in out, out[-3000:])
            check(re.search(r"user page table at pfn 0x[0-9a-f]+: %s \(highpte %s\)" % (where, "off" if nohighpte else "on"),
                            out), "the table is not in %s:\n%s" % (where, out[-2000:]))
            if nohighpte:
                check("ignored, nohighpte on this boot" in out, "highmem tests not skipped:\n" + out[-2000:])
            for _ in range(2):
                mi = meminfo_values(m.cmd("meminfo"))
                check(mi["PageTables"] == 0, "PageTables with no process alive: %r" % mi)
                check(mi["KernelStack"] > 0 and mi["KernelStack"] % 16 == 0, "KernelStack: %r" % mi)
                check(mi["AnonPages"] == 0 and mi["Mlocked"] == 0, "AnonPages/Mlocked: %r" % mi)
                check(m.cmd("run hello").startswith("Hello from user space!"), "run hello failed")
        finally:
            m.kill()
    return run


HIGHPTE_TESTS = [
    ("qemu::highpte::user_page_tables_in_highmem_by_default", highpte_tables_follow_the_option("", "highmem")),
    ("qemu::highpte::nohighpte_keeps_user_page_tables_in_lowmem",
     highpte_tables_follow_the_option("nohighpte", "lowmem")),
]


# --- swap device (issue 11) ---

def swap_disk_named_at_boot():
    """SWAP=64M: libata's lines for the disk (model, size, LBA48), its sd
    name and size as Linux prints them, the mkswap header read from it, and
    the CD-ROM named and left alone; the shell then runs and powers off."""
    m = Machine(mem="256M", swap="64M")
    try:
        log = m.boot()
        for line in ["ata1.00: ATA-7: QEMU HARDDISK, 2.5+, max UDMA/100",
                     "ata1.00: 131072 sectors, multi 16: LBA48",
                     "sd 0:0:0:0: [sda] 131072 512-byte logical blocks: (67.1 MB/64.0 MiB)",
                     "swap: sda: SWAPSPACE2 version 1, 16383 pages (65532k), 0 bad, UUID=",
                     "ata2.00: ATAPI: QEMU DVD-ROM, 2.5+, max UDMA/100"]:
            check(line in log, "missing %r in the boot log:\n%s" % (line, log[-2500:]))
        check("no ATA disk" not in log, "a disk was attached:\n" + log[-1500:])
        check(m.cmd("echo alive").strip() == "alive", "shell dead")
        m.send("poweroff\n")
        check(m.wait_exit() == 0, "no clean power-off")
    finally:
        m.kill()


# --- vm_area_struct cache (issue 10) ---

MAPS_LINE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{8} [r-][w-][x-][ps] ", re.M)


def vm_area_objects(m):
    """slabinfo's active vm_area_struct objects after `shrink` emptied the
    per-CPU arrays (whose free objects slabinfo counts as active, as Linux's
    does); 0 while the cache is not made."""
    m.cmd("shrink")
    row = slabinfo_rows(m.cmd("slabinfo")).get("vm_area_struct")
    return row[0] if row else 0


def vm_area_struct_objects_follow_the_processes_areas():
    """Every area of every process is one vm_area_struct object: slabinfo's
    active count is the number of `maps` lines of the live processes, rises
    by a new process's areas and comes back exactly when it ends; none is
    left with no process alive."""
    built_user_programs()
    m = Machine(mem="2G")
    try:
        m.boot()
        check(m.cmd("run hello").startswith("Hello from user space!"), "run hello failed")
        check(vm_area_objects(m) == 0, "vm_area_struct objects with no process alive:\n" + m.cmd("slabinfo"))
        pids = []
        for i in range(2):
            held = m.out.count("hog: holding")
            job = re.search(r"^\[\d+\] (\d+)$", m.cmd("run hog %dM touch hold &" % (i + 1)), re.M)
            check(job, "run ... & did not print the job and pid:\n" + m.out[-1000:])
            pids.append(job.group(1))
            deadline = time.time() + 60
            while m.out.count("hog: holding") == held and time.time() < deadline:
                m.cmd("sleep 1")
            check(m.out.count("hog: holding") > held, "hog never held its memory:\n" + m.out[-2000:])
            areas = [len(MAPS_LINE.findall(m.cmd("maps " + p))) for p in pids]
            check(all(areas), "a hog without areas in maps: %r" % areas)
            got = vm_area_objects(m)
            check(got == sum(areas), "%d hogs with %r areas, slabinfo shows %d vm_area_struct objects"
                  % (len(pids), areas, got))
        while pids:
            pid = pids.pop(0)
            m.cmd("kill -9 " + pid)
            check("Killed" in m.cmd("wait " + pid), "wait did not say Killed")
            areas = [len(MAPS_LINE.findall(m.cmd("maps " + p))) for p in pids]
            got = vm_area_objects(m)
            check(got == sum(areas), "a hog killed, %r areas left, slabinfo shows %d vm_area_struct objects"
                  % (areas, got))
        check_serves(m)
    finally:
        m.kill()


def disk_without_swap_signature_is_refused():
    """A zero-filled disk: found, and its page 0 refused with Linux's
    words, the bytes it found and the disk's name; the boot goes on."""
    img = os.path.join(BUILD, "zero-1M.img")
    os.makedirs(BUILD, exist_ok=True)
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    m = Machine(mem="256M", swap=img)
    try:
        log = m.boot()
        check("sd 0:0:0:0: [sda] 2048 512-byte logical blocks: (1.05 MB/1.00 MiB)" in log, log[-2500:])
        want = ("swap: sda: Unable to find swap-space signature (last 10 bytes of page 0: \"" + "\\x00" * 10 +
                "\", not SWAPSPACE2; run mkswap on it); not a swap area")
        check(want in log, "missing %r in:\n%s" % (want, log[-2500:]))
        check(m.cmd("echo alive").strip() == "alive", "shell dead")
        m.send("poweroff\n")
        check(m.wait_exit() == 0, "no clean power-off")
    finally:
        m.kill()


def no_disk_says_so():
    """No swap disk (tests' default, SWAP=0): one line says there is none."""
    m = Machine(mem="256M")
    try:
        log = m.boot()
        check("ata: no ATA disk, so no swap device (make run attaches one unless SWAP=0)" in log, log[-2500:])
        check("ata1.00" not in log and "[sda]" not in log, "a disk where none is attached:\n" + log[-2500:])
    finally:
        m.kill()


def make_run_swap_sizes():
    """make run: SWAP=0 attaches nothing, SWAP=1028K makes
    build/swap-1028K.img with mkswap (once; a size nobody else uses, as the
    test removes it) and attaches it; piped, both exit 0. A bad SWAP is
    refused before anything boots."""
    def run(swap):
        p = subprocess.Popen("printf '\\nmeminfo\\npoweroff\\n' | make -s run MEM=128M SWAP=%s" % swap, shell=True,
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            raw, _ = p.communicate(timeout=BOOT_TIMEOUT + 120)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.communicate()
            raise AssertionError("make run SWAP=%s did not finish in time" % swap)
        return p.returncode, raw.decode("utf-8", "replace").replace("\r", "")
    img = os.path.join(ROOT, "build", "swap-1028K.img")
    if os.path.exists(img):
        os.remove(img)
    code, out = run("0")
    check(code == 0 and "MemTotal:" in out, "make run SWAP=0 exited %d:\n%s" % (code, out[-1500:]))
    check("no ATA disk" in out and "[sda]" not in out, "SWAP=0 attached a disk:\n" + out[-1500:])
    code, out = run("1028K")
    check(code == 0 and "MemTotal:" in out, "make run SWAP=1028K exited %d:\n%s" % (code, out[-1500:]))
    check("swap image: build/swap-1028K.img: Setting up swapspace version 1, size = 1 MiB (1048576 bytes)" in out, out[-2500:])
    check("swap: sda: SWAPSPACE2 version 1, 256 pages (1024k), 0 bad" in out, out[-2500:])
    code, out = run("12X")
    check(code != 0 and "SWAP=12X is not a size" in out and "himem version" not in out,
          "SWAP=12X: exit %d:\n%s" % (code, out[-1500:]))
    os.remove(img)


SWAPDEV_TESTS = [("qemu::swap::disk_named_at_boot", swap_disk_named_at_boot),
                 ("qemu::swap::disk_without_signature_is_refused", disk_without_swap_signature_is_refused),
                 ("qemu::swap::no_disk_says_so", no_disk_says_so),
                 ("qemu::make::run_swap_sizes", make_run_swap_sizes)]

VMA_CACHE_TESTS = [
    ("qemu::slab::vm_area_struct_objects_follow_the_processes_areas",
     vm_area_struct_objects_follow_the_processes_areas),
]


# --- sysctl, vmstat, overcommit (issue 11) ---

SYSCTL_ALL = ["vm.compact_unevictable_allowed", "vm.extfrag_threshold", "vm.lowmem_reserve_ratio", "vm.min_free_kbytes", "vm.oom_kill_allocating_task", "vm.overcommit_memory",
              "vm.overcommit_ratio", "vm.page-cluster", "vm.panic_on_oom", "vm.swappiness"]


def zone_marks(text):
    """{zone: (min, low, high)} from zoneinfo."""
    marks = {}
    for m in re.finditer(r"^Node 0, zone\s+(\w+)\n  pages free\s+\d+\n\s+min\s+(\d+)\n\s+low\s+(\d+)\n\s+high\s+(\d+)$",
                         text, re.M):
        marks[m.group(1)] = tuple(int(m.group(i)) for i in (2, 3, 4))
    return marks


def sysctl_get_set_list_and_errors():
    """sysctl as procps-ng's: -a lists the knobs sorted with Linux's
    defaults, -n the value only, NAME=VALUE and -w set and echo, names with
    slashes, the messages for a bad name or value word for word;
    vm.min_free_kbytes recomputes zoneinfo's marks and puts them back."""
    m = Machine()
    try:
        m.boot()
        out = m.cmd("sysctl -a")
        names = [l.split(" = ")[0] for l in out.splitlines()]
        check(names == SYSCTL_ALL, "sysctl -a:\n" + out)
        for line in ["vm.lowmem_reserve_ratio = 256\t32\t32", "vm.overcommit_memory = 0", "vm.overcommit_ratio = 50",
                     "vm.page-cluster = 3", "vm.panic_on_oom = 0", "vm.swappiness = 60",
                     "vm.oom_kill_allocating_task = 0"]:
            check(line in out.splitlines(), "no %r in sysctl -a:\n%s" % (line, out))
        check(m.cmd("sysctl vm.swappiness") == "vm.swappiness = 60\n", "sysctl vm.swappiness")
        check(m.cmd("sysctl -n vm/swappiness") == "60\n", "sysctl -n vm/swappiness")
        check(m.cmd("sysctl -w vm.swappiness=10") == "vm.swappiness = 10\n", "sysctl -w")
        check(m.cmd("sysctl vm.swappiness=0x14") == "vm.swappiness = 0x14\n", "NAME=VALUE without -w")
        check(m.cmd("sysctl -n vm.swappiness") == "20\n", "the hex value was not applied")
        errors = {
            "sysctl vm.nosuch": "sysctl: cannot stat /proc/sys/vm/nosuch: No such file or directory\n",
            "sysctl -w vm.swappiness=abc": 'sysctl: setting key "vm.swappiness": Invalid argument\n',
            "sysctl -w vm.swappiness=300": 'sysctl: setting key "vm.swappiness": Invalid argument\n',
            "sysctl -w vm.overcommit_memory=7": 'sysctl: setting key "vm.overcommit_memory": Invalid argument\n',
            "sysctl -w vm.swappiness": "sysctl: command line(0): invalid syntax, continuing...\n",
            "sysctl -w vm.nosuch=1": "sysctl: cannot stat /proc/sys/vm/nosuch: No such file or directory\n",
            "sysctl -n": "sysctl: no variables specified\nTry `sysctl --help' for more information.\n",
        }
        for cmd, want in errors.items():
            got = m.cmd(cmd)
            check(got == want, "%s printed %r, not procps' %r" % (cmd, got, want))
        check(m.cmd("sysctl -n vm.swappiness") == "20\n", "a refused write changed the value")
        check(m.cmd("sysctl vm.swappiness=60") == "vm.swappiness = 60\n", "swappiness back")
        # min_free_kbytes: the lowmem zones' marks follow it, and come back.
        kb = int(m.cmd("sysctl -n vm.min_free_kbytes"))
        before = zone_marks(m.cmd("zoneinfo"))
        check(m.cmd("sysctl -w vm.min_free_kbytes=%d" % (kb * 4)) == "vm.min_free_kbytes = %d\n" % (kb * 4), "set")
        after = zone_marks(m.cmd("zoneinfo"))
        check(after["Normal"][0] > 3 * before["Normal"][0] and after["DMA"][0] > before["DMA"][0],
              "zoneinfo's min did not follow min_free_kbytes: %r -> %r" % (before, after))
        check(after["HighMem"][0] == before["HighMem"][0], "highmem's min moved: %r -> %r" % (before, after))
        check(sum(v[0] for k, v in after.items() if k in ("DMA", "Normal")) * 4 in range(kb * 4 - 8, kb * 4 + 1),
              "lowmem mins do not add up to min_free_kbytes: %r" % after)
        check(m.cmd("run hello").startswith("Hello from user space!"), "run hello with a high min")
        m.cmd("sysctl -w vm.min_free_kbytes=%d" % kb)
        check(zone_marks(m.cmd("zoneinfo")) == before, "marks not back with min_free_kbytes")
        # lowmem_reserve_ratio: zoneinfo's protection follows.
        prot = re.findall(r"protection: \((.*)\)", m.cmd("zoneinfo"))
        check(m.cmd('sysctl -w "vm.lowmem_reserve_ratio=128 16 32"') == "vm.lowmem_reserve_ratio = 128 16 32\n", "set ratio")
        check(m.cmd("sysctl -n vm.lowmem_reserve_ratio") == "128\t16\t32\n", "ratio read back")
        prot2 = re.findall(r"protection: \((.*)\)", m.cmd("zoneinfo"))
        d1, d2 = [int(x) for x in prot[0].split(", ")[1:3]], [int(x) for x in prot2[0].split(", ")[1:3]]
        check(abs(d2[0] - 2 * d1[0]) <= 1, "DMA's protection did not double: %r -> %r" % (prot, prot2))
        m.cmd('sysctl -w "vm.lowmem_reserve_ratio=256 32 32"')
        check(re.findall(r"protection: \((.*)\)", m.cmd("zoneinfo")) == prot, "protection not back")
        check("sysctl " in m.cmd("help"), "help lacks sysctl")
    finally:
        m.kill()


VMSTAT_NAMES = ["nr_free_pages", "nr_zone_inactive_anon", "nr_zone_active_anon", "nr_zone_unevictable", "nr_mlock",
                "nr_free_cma", "nr_inactive_anon", "nr_active_anon", "nr_unevictable", "nr_slab_reclaimable", "nr_slab_unreclaimable",
                "nr_anon_pages", "nr_kernel_stack", "nr_page_table_pages", "nr_swapcached", "pgpgin", "pgpgout",
                "pswpin", "pswpout", "allocstall", "pgactivate", "pgdeactivate", "pgfault", "pgmajfault",
                "pgsteal_kswapd", "pgsteal_direct", "pgscan_kswapd", "pgscan_direct", "pginodesteal",
                "slabs_scanned", "kswapd_inodesteal", "pageoutrun", "pgrotated", "oom_kill",
                "pgmigrate_success", "pgmigrate_fail", "compact_migrate_scanned", "compact_free_scanned",
                "compact_isolated", "compact_stall", "compact_fail", "compact_success", "cma_alloc_success",
                "cma_alloc_fail", "unevictable_pgs_culled", "unevictable_pgs_scanned", "unevictable_pgs_rescued",
                "unevictable_pgs_mlocked", "unevictable_pgs_munlocked"]

# Linux 6.1's meminfo order (../shared/linux-formats/proc.txt, i386).
LINUX_MEMINFO = ["MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapCached", "Active", "Inactive",
                 "Active(anon)", "Inactive(anon)", "Active(file)", "Inactive(file)", "Unevictable", "Mlocked",
                 "HighTotal", "HighFree", "LowTotal", "LowFree", "SwapTotal", "SwapFree", "Zswap", "Zswapped",
                 "Dirty", "Writeback", "AnonPages", "Mapped", "Shmem", "KReclaimable", "Slab", "SReclaimable",
                 "SUnreclaim", "KernelStack", "PageTables", "SecPageTables", "NFS_Unstable", "Bounce",
                 "WritebackTmp", "CommitLimit", "Committed_AS", "VmallocTotal", "VmallocUsed", "VmallocChunk",
                 "Percpu", "HardwareCorrupted", "AnonHugePages", "ShmemHugePages", "ShmemPmdMapped",
                 "FileHugePages", "FilePmdMapped", "CmaTotal", "CmaFree", "HugePages_Total", "HugePages_Free", "HugePages_Rsvd",
                 "HugePages_Surp", "Hugepagesize", "Hugetlb", "DirectMap4k", "DirectMap4M"]


def vmstat_and_meminfo_lines():
    """vmstat prints `name value` lines with Linux 6.1's names in its
    order; pgfault grows across `run hello`; nr_free_pages is MemFree in
    pages; meminfo has the swap, LRU and commit lines in Linux's order,
    CommitLimit as vm_commit_limit (half of RAM, no swap)."""
    m = Machine()
    try:
        m.boot()
        out = m.cmd("vmstat")
        rows = [l.split(" ") for l in out.splitlines()]
        check(all(len(r) == 2 and r[1].isdigit() for r in rows), "vmstat lines:\n" + out)
        check([r[0] for r in rows] == VMSTAT_NAMES, "vmstat names or order:\n" + out)
        v0 = {r[0]: int(r[1]) for r in rows}
        check(m.cmd("run hello").startswith("Hello from user space!"), "run hello failed")
        v1 = {r[0]: int(r[1]) for r in (l.split(" ") for l in m.cmd("vmstat").splitlines())}
        check(v1["pgfault"] > v0["pgfault"], "pgfault did not grow across run hello: %r -> %r" % (v0["pgfault"], v1["pgfault"]))
        mi_text = m.cmd("meminfo")
        names = [l.split(":")[0] for l in mi_text.splitlines()]
        check(names == [n for n in LINUX_MEMINFO if n in names], "meminfo out of Linux's order:\n" + mi_text)
        for n in ["SwapCached", "Active", "Inactive", "Active(anon)", "Inactive(anon)", "Unevictable", "SwapTotal",
                  "SwapFree", "CommitLimit", "Committed_AS"]:
            check(n in names, "meminfo lacks %s:\n%s" % (n, mi_text))
        mi = meminfo_values(mi_text)
        check(mi["CommitLimit"] == (mi["MemTotal"] // 4 * 50 // 100) * 4 + mi["SwapTotal"],
              "CommitLimit %d is not vm_commit_limit of MemTotal %d" % (mi["CommitLimit"], mi["MemTotal"]))
        check(mi["Committed_AS"] == 0, "Committed_AS with no process alive: %r" % mi)
        v2 = {r[0]: int(r[1]) for r in (l.split(" ") for l in m.cmd("vmstat").splitlines())}
        check(abs(v2["nr_free_pages"] * 4 - mi["MemFree"]) <= 64, "nr_free_pages %d vs MemFree %d kB" % (v2["nr_free_pages"], mi["MemFree"]))
        check(m.cmd("vmstat x").startswith("vmstat: takes no arguments"), "vmstat x not refused")
    finally:
        m.kill()


def committed_as_balances_and_strict_overcommit_refuses():
    """Committed_AS counts a holding hog's private writable memory and is
    exactly back after hog, forktest, stress, brk grow and shrink,
    mprotect, munmap (sysmisc, sysfuzz, mlocktest) and their exits; mode 2
    refuses an mmap2 beyond CommitLimit with the program's ENOMEM message
    (no kill), mode 1 takes more than RAM + swap, mode 0 refuses a single
    request bigger than RAM + swap and takes one below it; the shell
    serves throughout."""
    m = Machine()
    try:
        m.boot()
        base = meminfo_values(m.cmd("meminfo"))["Committed_AS"]
        m.cmd("run hog 64M brk hold=120 &")
        time.sleep(1)
        held = meminfo_values(m.cmd("meminfo"))["Committed_AS"]
        check(held >= base + 65536, "Committed_AS %d with a 64M hog holding (before %d)" % (held, base))
        for cmd, ok in [("run forktest", "all private: ok"), ("run stress 4 8M", "all verified"),
                        ("run hog 3000K brk touch verify", "hog: done"), ("run mlocktest", "as Linux: ok"),
                        ("run sysmisc", ""), ("run sysfuzz 20000 1", "sysfuzz: batch 0"), ("run cow", "")]:
            out = m.cmd(cmd, timeout=120)
            check(ok in out, "%s:\n%s" % (cmd, out[-1500:]))
            now = meminfo_values(m.cmd("meminfo"))["Committed_AS"]
            check(now == held, "Committed_AS %d after %s, %d before" % (now, cmd, held))
        m.cmd("kill $!")
        check("Terminated" in m.cmd("wait", timeout=30), "the hog did not end")
        check(meminfo_values(m.cmd("meminfo"))["Committed_AS"] == base, "Committed_AS not back after the hog went")
        # Strict: at 2G, CommitLimit is about 1 GB.
        check(m.cmd("sysctl -w vm.overcommit_memory=2") == "vm.overcommit_memory = 2\n", "mode 2")
        for size in ["1500M", "3000M"]:
            out = m.cmd("run hog %s" % size, timeout=60)
            check("hog: mmap2 of %s failed: ENOMEM" % size in out and "Killed" not in out,
                  "strict mode did not refuse hog %s:\n%s" % (size, out))
        check(m.cmd("run hello").startswith("Hello from user space!"), "a small program refused in mode 2")
        check(m.cmd("sysctl -w vm.overcommit_memory=1") == "vm.overcommit_memory = 1\n", "mode 1")
        out = m.cmd("run hog 2500M", timeout=60)
        check("hog: 2500M at 0x" in out and "hog: done" in out, "mode 1 refused an untouched hog 2500M:\n" + out)
        check(m.cmd("sysctl -w vm.overcommit_memory=0") == "vm.overcommit_memory = 0\n", "mode 0")
        # hog maps with MAP_NORESERVE, which mode 0 does not charge; its
        # heap (brk) is charged, and one request above RAM + swap refused.
        out = m.cmd("run hog 2500M brk", timeout=60)
        check("hog: brk of 2500M failed: ENOMEM" in out, "mode 0 took one request above RAM + swap:\n" + out)
        out = m.cmd("run hog 1500M", timeout=60)
        check("hog: done" in out, "mode 0 refused hog 1500M:\n" + out)
        check(meminfo_values(m.cmd("meminfo"))["Committed_AS"] == base, "Committed_AS not back at the end")
        check(m.cmd("echo still serving").strip() == "still serving", "the shell stopped serving")
    finally:
        m.kill()


SYSCTL_TESTS = [
    ("qemu::sysctl::get_set_list_and_errors_as_procps", sysctl_get_set_list_and_errors),
    ("qemu::sysctl::vmstat_and_meminfo_in_linux_order", vmstat_and_meminfo_lines),
    ("qemu::sysctl::committed_as_balances_and_strict_overcommit_refuses",
     committed_as_balances_and_strict_overcommit_refuses),
]


# --- OOM killer (issue 11) ---

OOM_MEM = "256M"


def oom_report_lines(victim, comm_pid, adj_rows):
    """The lines of one OOM report in Linux 6.1's order (oom.txt), as
    regexes: the allocating hog `comm_pid`, the table rows `adj_rows`
    (pid -> oom_score_adj) and the victim `victim`."""
    lines = [r"hog invoked oom-killer: gfp_mask=0x100dca\(GFP_HIGHUSER_MOVABLE\|__GFP_ZERO\), order=0, oom_score_adj=-?\d+",
             r"CPU: 0 PID: %d Comm: hog Not tainted 2\.6\.24-himem #1 himem" % comm_pid,
             r"Call Trace:",
             r"Mem-Info:",
             r"active_anon:\d+ inactive_anon:\d+ isolated_anon:0",
             r" active_file:0 inactive_file:0 isolated_file:0",
             r" unevictable:\d+ dirty:0 writeback:0",
             r" slab_reclaimable:\d+ slab_unreclaimable:\d+",
             r" mapped:0 shmem:0 pagetables:\d+",
             r" sec_pagetables:0 bounce:0",
             r" kernel_misc_reclaimable:0",
             r" free:\d+ free_pcp:\d+ free_cma:0",
             r"Node 0 active_anon:\d+kB inactive_anon:\d+kB active_file:0kB .* all_unreclaimable\? (yes|no)",
             r"DMA free:\d+kB boost:0kB min:\d+kB low:\d+kB high:\d+kB reserved_highatomic:0KB active_anon:\d+kB .*"
             r"present:\d+kB managed:\d+kB mlocked:\d+kB bounce:0kB free_pcp:\d+kB local_pcp:\d+kB free_cma:0kB",
             r"lowmem_reserve\[\]: 0 \d+ \d+ \d+",
             r"Normal free:\d+kB boost:0kB min:\d+kB .* free_cma:0kB",
             r"lowmem_reserve\[\]: 0 0 0 0",
             r"DMA: (\d+\*\d+kB (\([UMEHI]+\) )?){11}= \d+kB",
             r"Normal: (\d+\*\d+kB (\([UMEHI]+\) )?){11}= \d+kB",
             r"0 total pagecache pages",
             r"0 pages in swap cache",
             r"Free swap  = 0kB",
             r"Total swap = 0kB",
             r"\d+ pages RAM",
             r"0 pages HighMem/MovableOnly",
             r"\d+ pages reserved",
             r"Tasks state \(memory values in pages\):",
             re.escape("[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name")]
    # total_vm of a task inside a fault (the allocating one) reads "?":
    # its area list is locked, and the OOM killer does not wait for it.
    lines += [r"\[ *%d\]     0 +%d +(\d+|\?) +\d+ +\d+ +0 +%d hog" % (pid, pid, adj)
              for pid, adj in sorted(adj_rows.items())]
    lines += [r"oom-kill:constraint=CONSTRAINT_NONE,nodemask=\(null\),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,"
              r"task=hog,pid=%d,uid=0" % victim,
              r"Out of memory: Killed process %d \(hog\) total-vm:(\d+|\?)kB, anon-rss:\d+kB, file-rss:0kB, shmem-rss:0kB, "
              r"UID:0 pgtables:\d+kB oom_score_adj:%d" % (victim, adj_rows[victim])]
    return lines


def check_report(text, lines):
    """Each regex of `lines` matches a whole log line of `text`, in order."""
    log = [re.sub(r"^\[[ \d.]+\] ", "", l) for l in text.split("\n") if re.match(r"^\[[ \d.]+\] ", l)]
    i = 0
    for rx in lines:
        while i < len(log) and not re.fullmatch(rx, log[i]):
            i += 1
        check(i < len(log), "no line %r (in order) in the OOM report:\n%s" % (rx, "\n".join(log)[-4000:]))
        i += 1


def oom_boot():
    """A 256M machine with the warm-up done (hog and a background job, so
    the caches they use have their first slabs), and its counts."""
    built_user_programs()
    m = Machine(mem=OOM_MEM)
    m.boot()
    m.cmd("run hog 1M touch")
    m.cmd("run hog 1M touch &")
    m.cmd("wait")
    return m, mem_state(m)


def start_hog(m, prefix, size, rest):
    """`PREFIX hog SIZE touch REST &`; once it holds its memory, its pid."""
    out = m.cmd("%shog %s touch %s &" % (prefix, size, rest))
    pid = int(re.search(r"^\[\d+\] (\d+)$", out, re.M).group(1))
    m.expect(r"hog: holding %s (until killed|for \d+s) \(pid %d\)\n" % (size, pid), 60)
    return pid


def start_hog_oom(m, prefix, size, rest, victim_rx):
    """`start_hog` for the hog whose touching brings the OOM kill: its pid,
    once the log has a line matching `victim_rx` (with %d: that pid or
    the one given) and the hog holds its memory."""
    at = len(m.out)
    out = m.cmd("%shog %s touch %s &" % (prefix, size, rest))
    pid = int(re.search(r"^\[\d+\] (\d+)$", out, re.M).group(1))
    m.expect(r"hog: holding %s (until killed|for \d+s) \(pid %d\)\n" % (size, pid), 60)
    check(re.search(victim_rx, m.out[at:]), "no %r after starting hog %d:\n%s" % (victim_rx, pid, m.out[-3000:]))
    return pid


def wait_all(m, timeout=60):
    """`wait` for every job: {pid: status word}."""
    out = m.cmd("wait", timeout)
    return {int(p): w for p, w in re.findall(r"^ *(\d+) (\w+)", out, re.M)}


def oom_kills_the_biggest_sleeping_hog():
    """Two hogs whose total exceeds RAM (no swap): the one holding the most,
    asleep in its hold, is killed with Linux's report in Linux's order; the
    other finishes; the shell answers at once; every page comes back."""
    m, before = oom_boot()
    try:
        start = len(m.out)
        big = start_hog(m, "run ", "150M", "hold")
        small = start_hog_oom(m, "run ", "120M", "hold=2", r"Out of memory: Killed process %d \(hog\)" % big)
        check(m.cmd("echo alive") == "alive\n", "the shell did not answer after the kill")
        ends = wait_all(m)
        check(ends == {big: "Killed", small: "Done"}, "wait: %r (big %d, small %d)" % (ends, big, small))
        check_report(m.out[start:], oom_report_lines(big, small, {big: 0, small: 0}))
        check(m.out.count("invoked oom-killer") == 1, "more than one OOM kill:\n" + m.out[-3000:])
        check_mem_back(m, before, "a hog killed by the OOM killer")
    finally:
        m.kill()


def oom_kills_a_stopped_hog():
    """The victim is stopped (SIGSTOP): SIGKILL resumes it to die, its
    memory comes back and the allocating hog goes on."""
    m, before = oom_boot()
    try:
        big = start_hog(m, "run ", "150M", "hold")
        m.cmd("kill -STOP %d" % big)
        check(re.search(r"^ *%d +\d+ T " % big, m.cmd("ps"), re.M), "hog not stopped")
        small = start_hog_oom(m, "run ", "120M", "hold=1", r"Out of memory: Killed process %d \(hog\)" % big)
        ends = wait_all(m)
        check(ends == {big: "Killed", small: "Done"}, "wait: %r" % ends)
        check_mem_back(m, before, "a stopped hog killed by the OOM killer")
    finally:
        m.kill()


def oom_score_adj_1000_goes_first():
    """As on Linux (oom.txt): a small hog at oom_score_adj 1000 (set with
    choom) is killed before a bigger one at 0; choom and oom_score show the
    scores, and oom_score_adj sets and shows the value."""
    m, before = oom_boot()
    try:
        small = start_hog(m, "choom -n 1000 -- ", "30M", "hold")
        out = m.cmd("choom -p %d" % small)
        got = re.fullmatch(r"pid %d's current OOM score: (\d+)\npid %d's current OOM score adjust value: 1000\n"
                           % (small, small), out)
        check(got and 1300 < int(got.group(1)) <= 2000, "choom -p: %r" % out)
        check(m.cmd("oom_score %d" % small) == got.group(1) + "\n", "oom_score differs from choom's")
        check(m.cmd("choom -p %d -n 999" % small) ==
              "pid %d's OOM score adjust value changed from 1000 to 999\n" % small, "choom -p -n")
        check(m.cmd("oom_score_adj %d" % small) == "999\n", "oom_score_adj show")
        check(m.cmd("oom_score_adj %d 1000" % small) == "", "oom_score_adj set")
        check("'1001' is not an oom_score_adj" in m.cmd("oom_score_adj %d 1001" % small), "bad value accepted")
        check(m.cmd("oom_score_adj %d" % small) == "1000\n", "a bad value changed it")
        check(m.cmd("choom -p %d -n 1001" % small) == "choom: failed to set score adjust value: Invalid argument\n",
              "choom 1001")
        check(m.cmd("choom -p 999") == "choom: failed to read OOM score value: No such file or directory\n",
              "choom bad pid")
        start = len(m.out)
        big = start_hog_oom(m, "run ", "225M", "hold=1", r"Out of memory: Killed process %d \(hog\)" % small)
        check_report(m.out[start:], oom_report_lines(small, big, {small: 1000, big: 0}))
        ends = wait_all(m)
        check(ends == {small: "Killed", big: "Done"}, "wait: %r" % ends)
        check_mem_back(m, before, "choom'ed hog killed")
    finally:
        m.kill()


def oom_never_kills_minus_1000():
    """A bigger hog at -1000 is never chosen: the smaller one at 0 is."""
    m, before = oom_boot()
    try:
        safe = start_hog(m, "choom -n -1000 -- ", "150M", "hold=3")
        check(m.cmd("oom_score %d" % safe) == "0\n", "oom_score at -1000")
        at = len(m.out)
        out = m.cmd("run hog 120M touch hold &")
        other = int(re.search(r"^\[\d+\] (\d+)$", out, re.M).group(1))
        m.expect(r"Out of memory: Killed process %d \(hog\).*\n" % other, 60)
        check_report(m.out[at:], oom_report_lines(other, other, {safe: -1000, other: 0}))
        ends = wait_all(m)
        check(ends == {safe: "Done", other: "Killed"}, "wait: %r" % ends)
        check(re.search(r"\[ *%d\] .* -1000 hog" % safe, m.out), "the -1000 hog is not in the table")
        check_mem_back(m, before, "hog killed beside a -1000 one")
    finally:
        m.kill()


def oom_kernel_allocation_kills_too():
    """An allocation of the kernel's own (the shell's `vmalloc`, a kernel
    thread: oom_score_adj 0, GFP_KERNEL|__GFP_HIGHMEM in Linux 6.1's bits)
    that finds no memory kills the hog and then succeeds."""
    m, _ = oom_boot()
    try:
        # Warm-up: the kernel page tables of the vmalloc area stay once made.
        m.cmd("vfree " + m.cmd("vmalloc 150M", 60).strip())
        before = mem_state(m)
        hog = start_hog(m, "run ", "150M", "hold")
        at = len(m.out)
        addr = program_lines(m.cmd("vmalloc 150M", 60)).strip()
        check(re.fullmatch(r"0x[0-9a-f]{8}", addr), "vmalloc after the kill: %r\n%s" % (addr, m.out[-2000:]))
        log = m.out[at:]
        check(re.search(r"sh invoked oom-killer: gfp_mask=0xcc2\(GFP_KERNEL\|__GFP_HIGHMEM\), order=0, "
                        r"oom_score_adj=0\n", log), "no report for sh:\n" + log[-3000:])
        check(re.search(r"Out of memory: Killed process %d \(hog\)" % hog, log), "hog not killed:\n" + log[-3000:])
        m.cmd("vfree " + addr)
        check(wait_all(m) == {hog: "Killed"}, "hog not Killed")
        check_mem_back(m, before, "vmalloc after an OOM kill")
    finally:
        m.kill()


OOM_TESTS = [
    ("qemu::oom::kernel_allocation_kills_too", oom_kernel_allocation_kills_too),
    ("qemu::oom::kills_the_biggest_sleeping_hog", oom_kills_the_biggest_sleeping_hog),
    ("qemu::oom::kills_a_stopped_hog", oom_kills_a_stopped_hog),
    ("qemu::oom::oom_score_adj_1000_goes_first", oom_score_adj_1000_goes_first),
    ("qemu::oom::never_kills_minus_1000", oom_never_kills_minus_1000),
    ("qemu::oom::oomadj_as_on_linux", prog_as_on_linux("oomadj", "oomadj", mem=OOM_MEM)),
]


# --- reclaim and swap (issue 11) ---

def vmstat_values(m):
    return {r[0]: int(r[1]) for r in (l.split(" ") for l in m.cmd("vmstat").splitlines()) if len(r) == 2}


def swaps_used_kb(m):
    """The Used column of each /proc/swaps line, by name."""
    rows = [l.split() for l in m.cmd("swaps").splitlines()[1:] if l.strip()]
    return {r[0]: int(r[3]) for r in rows}


def wait_for_out(m, text, count, timeout):
    """Poll (with `sleep 1`) until `text` appears `count` times in the
    console output."""
    deadline = time.time() + timeout
    while m.out.count(text) < count and time.time() < deadline:
        m.cmd("sleep 1")
    check(m.out.count(text) >= count, "never saw %r %d times:\n%s" % (text, count, m.out[-2500:]))


def start_job(m, line):
    """`run ... &`: the pid the shell printed."""
    out = m.cmd(line)
    job = re.search(r"^\[\d+\] (\d+)$", out, re.M)
    check(job, "%r did not print its job and pid:\n%s" % (line, out + m.out[-1500:]))
    return job.group(1)


def vm_swap_kb(m, pid):
    st = m.cmd("status " + pid)
    v = re.search(r"VmSwap:\s+(\d+) kB", st)
    check(v, "no VmSwap line for %s:\n%s" % (pid, st))
    return int(v.group(1))


def settled_counts(m):
    m.cmd("shrink")
    mi = meminfo_values(m.cmd("meminfo"))
    return mi["MemFree"], mi["SwapFree"], mi["AnonPages"], mi["SwapCached"]


def two_hogs_beyond_ram_verify_after_swap_in():
    """-m 256M with highmem=128M (real highmem, at a size a test can swap
    through) and 512M of swap: two hogs of 160M each (more than RAM
    together, less than RAM + swap) touch and verify: pages go to swap
    (pswpout), come back on faults (pswpin, pgmajfault) and every page
    verifies; swap was activated at boot; after both end, MemFree,
    SwapFree, AnonPages and SwapCached are back where they were (after a
    warm-up run). Two hogs reading their memory in turn are LRU's worst
    case, every page missing every pass: the cost grows with their size,
    which is why they are not the size of a 2G machine (that took ten
    minutes)."""
    built_user_programs()
    m = Machine(mem="256M", swap="512M", args="highmem=128M")
    try:
        log = m.boot()
        check("Adding 524284k swap on /dev/sda.  Priority:-2" in log, "swap not on at boot:\n" + log[-2000:])
        check(meminfo_values(m.cmd("meminfo"))["HighTotal"] >= 120 * 1024, "no highmem:\n" + m.cmd("meminfo"))
        m.cmd("run hog 8M touch verify &")
        check("Done" in m.cmd("wait", timeout=60), "warm-up hog failed:\n" + m.out[-1500:])
        before = settled_counts(m)
        check(before[1] == 524284, "SwapFree %d before anything ran" % before[1])
        for _ in range(2):
            m.cmd("run hog 160M touch verify &")
        out = m.cmd("wait", timeout=600)
        check(out.count("Done") == 2, "a hog did not end well:\n" + out + m.out[-3000:])
        check(m.out.count("hog: verified 160M") >= 2, "not every verify passed:\n" + m.out[-3000:])
        check("memory lost its contents" not in m.out, "a page came back wrong:\n" + m.out[-3000:])
        v = vmstat_values(m)
        check(v["pswpout"] > 0 and v["pswpin"] > 0 and v["pgmajfault"] > 0,
              "no swap traffic: %r" % {k: v[k] for k in ("pswpout", "pswpin", "pgmajfault")})
        check(v["pgscan_kswapd"] + v["pgscan_direct"] > 0, "nothing scanned")
        # Readahead (vm.page-cluster 3): a fault reads its neighbours too.
        check(v["pswpin"] > 2 * v["pgmajfault"], "no swap readahead: %r" % {k: v[k] for k in ("pswpin", "pgmajfault")})
        after = settled_counts(m)
        orphans = after[3] - before[3]
        if after != before and orphans > 0 and after[0] == before[0] - orphans and after[1] == before[1] - orphans:
            # A page of the swap cache whose owner exited while reclaim held
            # it locked stays cached, its slot used, until reclaim looks at it
            # again (free_swap_and_cache skips a locked page, as Linux's does);
            # with the hogs gone nothing reclaims. Seen about one run in five.
            # swapoff takes such orphans out of the cache; then every count
            # must be exact (a leaked slot would make swapoff refuse).
            print("    note: %d swap-cache page(s) orphaned by an exit; swapoff takes them out" % orphans, flush=True)
            off = m.cmd("swapoff /dev/sda", timeout=120)
            check(off.strip() == "", "swapoff after the hogs: " + off)
            m.cmd("swapon /dev/sda")
            after = settled_counts(m)
        check(after == before, "MemFree, SwapFree, AnonPages, SwapCached %r before, %r after" % (before, after))
        check(swaps_used_kb(m) == {"/dev/sda": 0}, "swap still used:\n" + m.cmd("swaps"))
        check_serves(m)
    finally:
        m.kill()


def swapoff_brings_pages_back_or_refuses():
    """-m 256M with swap: a holding hog of 300M cannot come back into
    memory: swapoff refuses (Cannot allocate memory) and the area stays on;
    with a 200M hog pushed partly to swap by a second hog, swapoff brings
    every page back (swaps empty, VmSwap 0), the hog still verifies, and
    swapon turns the area on again."""
    built_user_programs()
    m = Machine(mem="256M", swap="256M")
    try:
        m.boot()
        m.cmd("run hog 300M touch hold=600 &")
        wait_for_out(m, "hog: holding 300M", 1, 120)
        check(swaps_used_kb(m)["/dev/sda"] > 0, "nothing on swap:\n" + m.cmd("swaps"))
        out = m.cmd("swapoff /dev/sda", timeout=120)
        check("swapoff: /dev/sda: swapoff failed: Cannot allocate memory" in out, "swapoff did not refuse:\n" + out)
        check("/dev/sda" in m.cmd("swaps"), "the area went away after a refused swapoff")
        m.cmd("kill -9 $!")
        m.cmd("wait", timeout=60)
        check(swaps_used_kb(m)["/dev/sda"] == 0, "swap used after the hog died:\n" + m.cmd("swaps"))
        pid = start_job(m, "run hog 180M touch verify hold=600 &")
        wait_for_out(m, "hog: holding 180M", 1, 120)
        check("hog: done" in m.cmd("run hog 120M touch", timeout=180), "the pushing hog failed")
        check(vm_swap_kb(m, pid) > 0, "the holding hog had nothing on swap")
        out = m.cmd("swapoff /dev/sda", timeout=180)
        check(out.strip() == "", "swapoff failed:\n" + out)
        check(swaps_used_kb(m) == {}, "an area left after swapoff:\n" + m.cmd("swaps"))
        check(vm_swap_kb(m, pid) == 0, "VmSwap not 0 after swapoff")
        mi = meminfo_values(m.cmd("meminfo"))
        check(mi["SwapTotal"] == 0 and mi["SwapFree"] == 0, "swap totals after swapoff: %r" % mi)
        # The holding hog re-checks its pages every second.
        m.cmd("sleep 3")
        check("memory lost its contents" not in m.out, "a page came back wrong:\n" + m.out[-2000:])
        check(re.search(r"State:\s+[RS]", m.cmd("status " + pid)), "the holding hog is gone")
        check(m.cmd("swapon /dev/sda").strip().startswith("["), "swapon did not say Adding")
        check(swaps_used_kb(m) == {"/dev/sda": 0}, "swapon did not bring the area back:\n" + m.cmd("swaps"))
        check(m.cmd("swapon /dev/sda").startswith("swapon: /dev/sda: Device or resource busy"), "second swapon")
        check(m.cmd("swapoff /dev/sdz").startswith("swapoff: /dev/sdz: swapoff failed: Invalid argument"),
              "swapoff of nothing")
        m.cmd("kill -9 " + pid)
        m.cmd("wait", timeout=60)
        check_serves(m)
    finally:
        m.kill()


def mlocked_hog_never_goes_to_swap():
    """A hog that mlocks its 40M keeps VmSwap 0 and VmLck 40960 kB while a
    second hog pushes memory to swap; its pages sit on the unevictable list."""
    built_user_programs()
    m = Machine(mem="128M", swap="256M", args="memlock=64M")
    try:
        m.boot()
        pid = start_job(m, "run hog 40M touch lock hold=600 &")
        wait_for_out(m, "hog: holding 40M", 1, 60)
        check("hog: done" in m.cmd("run hog 150M touch verify", timeout=180), "the pushing hog failed")
        st = m.cmd("status " + pid)
        lck = re.search(r"VmLck:\s+(\d+) kB", st)
        check(re.search(r"VmSwap:\s+0 kB", st) and lck and int(lck.group(1)) >= 40960, "locked hog:\n" + st)
        mi = meminfo_values(m.cmd("meminfo"))
        check(mi["Unevictable"] >= 40960 and mi["Mlocked"] >= 40960, "unevictable: %r" % mi)
        check(vmstat_values(m)["pswpout"] > 0, "nothing went to swap")
        m.cmd("kill -9 " + pid)
        m.cmd("wait", timeout=60)
        check_serves(m)
    finally:
        m.kill()


def kswapd_works_and_oom_comes_after_swap():
    """-m 256M, 64M of swap: a steady hog beyond RAM wakes kswapd, which
    reclaims (pgscan_kswapd, pgsteal_kswapd) and keeps every zone's free
    pages at or above min; a hog beyond RAM + swap is then killed by the OOM
    killer with the swap lines of the report, and swap comes back empty."""
    built_user_programs()
    m = Machine(mem="256M", swap="64M")
    try:
        m.boot()
        m.cmd("run hog 260M touch hold=600 &")
        wait_for_out(m, "hog: holding 260M", 1, 120)
        v = vmstat_values(m)
        check(v["pgscan_kswapd"] > 0 and v["pgsteal_kswapd"] > 0, "kswapd did not reclaim: %r" % v)
        for zone in m.cmd("zoneinfo").split("Node 0, zone")[1:]:
            val = lambda k: int(re.search(r"^\s+%s\s+(\d+)" % k, zone, re.M).group(1))
            if val("managed") > 0:
                check(val("pages free") >= val("min"), "a zone below min:\n" + zone)
        m.cmd("kill -9 $!")
        m.cmd("wait", timeout=60)
        out = m.cmd("run hog 400M touch", timeout=300)
        check("Killed" in out or "Killed" in m.cmd("echo"), "the hog beyond RAM + swap was not killed:\n" + out)
        check("invoked oom-killer" in m.out and "Total swap = 65532kB" in m.out, "no OOM report with swap")
        check(re.search(r"Out of memory: Killed process \d+ \(hog\)", m.out), "no Killed process line")
        check(swaps_used_kb(m) == {"/dev/sda": 0}, "swap used after the OOM kill:\n" + m.cmd("swaps"))
        check_serves(m)
    finally:
        m.kill()


def fork_storm_under_memory_pressure():
    """20 children of 8M each at -m 128M with swap: all verify; then with
    page allocations failing on purpose (fail_page_alloc) a hog beyond RAM
    ends (done or killed) and the shell and swap are whole after."""
    built_user_programs()
    m = Machine(mem="128M", swap="128M")
    try:
        m.boot()
        out = m.cmd("run stress 20 8M", timeout=300)
        check("all verified" in out, "the fork storm did not verify:\n" + out)
        check(swaps_used_kb(m) == {"/dev/sda": 0}, "swap used after the storm:\n" + m.cmd("swaps"))
        check_serves(m)
    finally:
        m.kill()
    m = Machine(mem="128M", swap="128M", args="fail_page_alloc=20,5,0,1000")
    try:
        m.boot()
        out = m.cmd("run hog 160M touch verify", timeout=300)
        check("hog: done" in out or "Killed" in out or "failed" in out or "ENOMEM" in out,
              "the hog under fault injection neither ended nor was refused:\n" + out)
        check("memory lost its contents" not in m.out, "a page came back wrong under fault injection")
        check("Kernel panic" not in m.out and "Oops" not in m.out, "the kernel broke:\n" + m.out[-2000:])
        check(swaps_used_kb(m) == {"/dev/sda": 0}, "swap used after the run:\n" + m.cmd("swaps"))
        check_serves(m)
    finally:
        m.kill()


def noswap_leaves_the_disk_off():
    """Boot option noswap: the disk is found, not turned on; swapon does."""
    m = Machine(mem="128M", swap="64M", args="noswap")
    try:
        log = m.boot()
        check("swap: sda: SWAPSPACE2" in log and "Adding" not in log, "noswap turned swap on:\n" + log[-1500:])
        check(swaps_used_kb(m) == {}, "an area with noswap")
        m.cmd("swapon -p 5 /dev/sda")
        check(re.search(r"^/dev/sda\s+partition\t65532\t\t0\t\t5$", m.cmd("swaps"), re.M), "swapon -p 5:\n" + m.out[-800:])
        check(m.cmd("swapon -p x /dev/sda").startswith("swapon: failed to parse priority: 'x'"), "bad priority")
        check_serves(m)
    finally:
        m.kill()


RECLAIM_TESTS = [
    ("qemu::swap::two_hogs_beyond_ram_verify_after_swap_in", two_hogs_beyond_ram_verify_after_swap_in),
    ("qemu::swap::swapoff_brings_pages_back_or_refuses", swapoff_brings_pages_back_or_refuses),
    ("qemu::swap::mlocked_hog_never_goes_to_swap", mlocked_hog_never_goes_to_swap),
    ("qemu::swap::kswapd_works_and_oom_comes_after_swap", kswapd_works_and_oom_comes_after_swap),
    ("qemu::swap::fork_storm_under_memory_pressure", fork_storm_under_memory_pressure),
    ("qemu::swap::noswap_leaves_the_disk_off", noswap_leaves_the_disk_off),
]


# --- page migration (issue 12) ---

def migrate_cmd(m, pid, timeout=180):
    """`migrate PID`: (moved, not moved, the output)."""
    out = m.cmd("migrate " + pid, timeout=timeout)
    g = re.search(r"migrate: pid %s: (\d+) pages moved, (\d+) not moved" % pid, out)
    check(g, "migrate printed:\n" + out + m.out[-1500:])
    return int(g.group(1)), int(g.group(2)), out


def migration_keeps_forked_views_and_leaves_no_stale_mapping():
    """A 64M hog touched and forked (the child rewrote the odd pages, so
    the even ones are shared by both and each has its own odd ones) holds,
    rewrites its odd pages and verifies every second (`churn`: writes
    while the pages move); `migrate` moves every page of the parent,
    then of the child, while they run; a third hog then writes over the
    frames the moves freed. Both views still verify (a stale mapping of
    an old frame would read the third hog's pattern), pgmigrate_success
    counts every move, and MemFree and AnonPages come back."""
    built_user_programs()
    m = Machine(mem="256M")
    try:
        m.boot()
        m.cmd("run hog 8M touch verify fork &")
        check(m.cmd("wait", timeout=60).count("Done") == 1, "warm-up hog failed:\n" + m.out[-1500:])
        before = settled_counts(m)
        v0 = vmstat_values(m)
        pid = start_job(m, "run hog 64M touch verify fork churn hold=40 &")
        wait_for_out(m, "rewrote the odd pages", 2, 90)
        child = re.findall(r"hog: child (\d+) rewrote the odd pages", m.out)[-1]
        moved_p, failed_p, out_p = migrate_cmd(m, pid)
        moved_c, failed_c, out_c = migrate_cmd(m, child)
        # 16384 pages of memory, and each process's program and stack.
        check(moved_p > 16384 and moved_c > 16384, "too few moved:\n" + out_p + out_c)
        check(failed_p == 0 and failed_c == 0, "pages not moved:\n" + out_p + out_c)
        m.cmd("run hog 64M touch verify &")
        out = m.cmd("wait", timeout=180)
        check(out.count("Done") == 2, "a hog did not end well:\n" + out + m.out[-3000:])
        check("memory lost its contents" not in m.out, "a page came back wrong:\n" + m.out[-3000:])
        check("ended badly" not in m.out, "the child failed:\n" + m.out[-3000:])
        v = vmstat_values(m)
        check(v["pgmigrate_success"] - v0["pgmigrate_success"] == moved_p + moved_c,
              "pgmigrate_success %d -> %d for %d moves" % (v0["pgmigrate_success"], v["pgmigrate_success"], moved_p + moved_c))
        check(settled_counts(m) == before, "MemFree, SwapFree, AnonPages, SwapCached %r before, %r after"
              % (before, settled_counts(m)))
        check_serves(m)
    finally:
        m.kill()


def migration_moves_mlocked_and_swap_cache_pages():
    """-m 96M with swap: a 120M hog goes partly to swap and comes back
    (pages in the swap cache), a 4M mlocked hog holds; `migrate` moves the
    big hog's resident pages, swap-cache ones included, and every page of
    the mlocked one (CMA's mode moves mlocked pages too), which stays
    mlocked (meminfo Mlocked unchanged); both verify; nothing is lost, a
    bad pid gets a message."""
    built_user_programs()
    m = Machine(mem="96M", swap="256M")
    try:
        m.boot()
        m.cmd("run hog 8M touch verify &")
        check(m.cmd("wait", timeout=60).count("Done") == 1, "warm-up hog failed:\n" + m.out[-1500:])
        before = settled_counts(m)
        locked = start_job(m, "run hog 4M touch verify lock hold=60 &")
        wait_for_out(m, "holding 4M", 1, 60)
        mlocked = meminfo_values(m.cmd("meminfo"))["Mlocked"]
        check(mlocked >= 4096, "Mlocked %d kB" % mlocked)
        big = start_job(m, "run hog 120M touch verify hold=60 &")
        wait_for_out(m, "holding 120M", 1, 240)
        cached = meminfo_values(m.cmd("meminfo"))["SwapCached"]
        moved_b, failed_b, out_b = migrate_cmd(m, big)
        moved_l, failed_l, out_l = migrate_cmd(m, locked)
        check(moved_b > 1000, "too few of the big hog moved:\n" + out_b)
        check(moved_l >= 1024 and failed_l == 0, "the mlocked hog's pages did not all move:\n" + out_l)
        check(meminfo_values(m.cmd("meminfo"))["Mlocked"] == mlocked, "Mlocked changed:\n" + m.cmd("meminfo"))
        check("not a pid" in m.cmd("migrate x") and "no process 999" in m.cmd("migrate 999"), "bad pids")
        m.cmd("kill %s %s" % (big, locked))
        m.cmd("wait", timeout=120)
        check("memory lost its contents" not in m.out, "a page came back wrong (swap cache %d kB):\n%s" % (cached, m.out[-3000:]))
        after = settled_counts(m)
        check(after == before, "MemFree, SwapFree, AnonPages, SwapCached %r before, %r after" % (before, after))
        check_serves(m)
    finally:
        m.kill()


MIGRATE_TESTS = [
    ("qemu::migrate::keeps_forked_views_and_leaves_no_stale_mapping", migration_keeps_forked_views_and_leaves_no_stale_mapping),
    ("qemu::migrate::moves_mlocked_and_swap_cache_pages", migration_moves_mlocked_and_swap_cache_pages),
]


# --- compaction (issue 12) ---

def order10_free(m):
    """Free order-10 blocks per zone, from buddyinfo."""
    return {z: int(c.split()[10]) for z, c in
            re.findall(r"^Node 0, zone\s+(\w+)\s+((?:\d+\s+){11})", m.cmd("buddyinfo"), re.M)}


def compact_lines(out):
    """`compact`'s per-zone lines: {zone: (moved, failed, skipped, line)}."""
    rows = {}
    for g in re.finditer(r"^Node 0, zone\s+(\w+): scanned \d+ pages \(migrate\) \d+ \(free\), moved (\d+), failed (\d+), "
                         r"skipped (\d+).*$", out, re.M):
        rows[g.group(1)] = (int(g.group(2)), int(g.group(3)), int(g.group(4)), g.group(0))
    return rows


def warm_up_frag_and_compact(m):
    """A first small round, so that the caches the workload uses have their
    first slabs before the counts are taken."""
    start_job(m, "run frag 1M hold=1 verify &")
    m.cmd("compact", timeout=60)
    check("Done" in m.cmd("wait", timeout=60), "warm-up frag failed:\n" + m.out[-1500:])


def compaction_after_frag_raises_free_order_10_blocks():
    """-m 128M: `frag 80M` touches 80M and gives back every other page, so
    Normal has half its pages free and almost no free 4M block; `compact`
    moves frag's pages together (its per-zone line says how many) and the
    free order-10 blocks in buddyinfo rise by at least 5 (20M); frag's pages
    verify afterwards; pgmigrate_success counts every move, and
    compact_migrate_scanned, compact_free_scanned and compact_isolated rise.
    Then the same through the write-only vm.compact_memory: writing 1 works
    (0 is refused), reading it prints nothing and `sysctl -a` does not list
    it (procps on a mode-0200 file). MemFree and AnonPages come back."""
    built_user_programs()
    m = Machine(mem="128M")
    try:
        m.boot()
        warm_up_frag_and_compact(m)
        before = settled_counts(m)
        for trigger in ["compact", "sysctl -w vm.compact_memory=1"]:
            v0 = vmstat_values(m)
            start_job(m, "run frag 80M hold=15 verify &")
            wait_for_out(m, "frag: touched 20480 pages", 1 if trigger == "compact" else 2, 60)
            free0 = order10_free(m)
            out = m.cmd(trigger, timeout=120)
            free1 = order10_free(m)
            v1 = vmstat_values(m)
            check(free1["Normal"] >= free0["Normal"] + 5,
                  "%s: free order-10 blocks %r before, %r after:\n%s" % (trigger, free0, free1, out))
            moved = v1["pgmigrate_success"] - v0["pgmigrate_success"]
            check(moved >= 2000 and v1["pgmigrate_fail"] == v0["pgmigrate_fail"], "%s: %d moved:\n%s" % (trigger, moved, out))
            for e in ["compact_migrate_scanned", "compact_free_scanned", "compact_isolated"]:
                check(v1[e] > v0[e], "%s: %s did not rise: %d -> %d" % (trigger, e, v0[e], v1[e]))
            check(v1["compact_stall"] == v0["compact_stall"], "compact_memory is not a stall")
            if trigger == "compact":
                rows = compact_lines(out)
                check(set(rows) == {"DMA", "Normal"} and rows["Normal"][0] == moved and rows["Normal"][1] == 0,
                      "compact's report (%d moved):\n%s" % (moved, out))
                check("compact: %d pages moved" % moved in out, "no total:\n" + out)
            else:
                check(out == "vm.compact_memory = 1\n", "sysctl -w vm.compact_memory=1 printed %r" % out)
            out = m.cmd("wait", timeout=60)
            check("Done" in out and m.out.count("frag: verified 10240 pages") == (1 if trigger == "compact" else 2),
                  "frag did not verify:\n" + out + m.out[-2000:])
        check(m.cmd("sysctl vm.compact_memory") == "", "reading a mode-0200 knob printed something")
        check("compact_memory" not in m.cmd("sysctl -a"), "sysctl -a lists vm.compact_memory")
        check(m.cmd("sysctl -w vm.compact_memory=0") == 'sysctl: setting key "vm.compact_memory": Invalid argument\n',
              "vm.compact_memory=0 taken")
        check("memory lost its contents" not in m.out, "a page came back wrong:\n" + m.out[-3000:])
        after = settled_counts(m)
        check(after[0] == before[0] and after[2] == before[2],
              "MemFree, SwapFree, AnonPages, SwapCached %r before, %r after" % (before, after))
        check_serves(m)
    finally:
        m.kill()


def compaction_leaves_mlocked_pages_when_told():
    """With vm.compact_unevictable_allowed=0, a 16M mlocked hog sitting
    below a fragmenting frag (started after it, so lower in memory) is
    passed over: `compact` reports its pages skipped as mlocked and
    pgmigrate_fail does not move; with 1 (Linux's default) the next
    `compact` moves them too. Both programs verify."""
    built_user_programs()
    m = Machine(mem="128M", args="memlock=64M")
    try:
        m.boot()
        warm_up_frag_and_compact(m)
        before = settled_counts(m)
        check(m.cmd("sysctl -w vm.compact_unevictable_allowed=0") == "vm.compact_unevictable_allowed = 0\n", "set 0")
        start_job(m, "run frag 80M hold=20 verify &")
        wait_for_out(m, "frag: touched 20480 pages", 1, 60)
        start_job(m, "run hog 16M touch lock verify hold=20 &")
        wait_for_out(m, "hog: holding 16M", 1, 60)
        v0 = vmstat_values(m)
        out = m.cmd("compact", timeout=120)
        normal = compact_lines(out).get("Normal")
        locked = re.search(r"\(mlocked (\d+)\)", normal[3] if normal else "")
        check(normal and locked and int(locked.group(1)) == normal[2] and normal[2] >= 1024,
              "no mlocked pages skipped:\n" + out)
        check(vmstat_values(m)["pgmigrate_fail"] == v0["pgmigrate_fail"], "skipped pages counted as failed moves")
        check(m.cmd("sysctl -w vm.compact_unevictable_allowed=1") == "vm.compact_unevictable_allowed = 1\n", "set 1")
        out = m.cmd("compact", timeout=120)
        normal = compact_lines(out).get("Normal")
        check(normal and normal[2] == 0 and normal[0] > 0, "mlocked pages still skipped:\n" + out)
        out = m.cmd("wait", timeout=60)
        check(out.count("Done") == 2 and "hog: verified 16M" in m.out and "frag: verified 10240 pages" in m.out,
              "a program did not verify:\n" + out + m.out[-2000:])
        after = settled_counts(m)
        check(after[0] == before[0] and after[2] == before[2], "counts %r before, %r after" % (before, after))
        check_serves(m)
    finally:
        m.kill()


def direct_compaction_serves_an_order_10_allocation():
    """-m 124M with swap: `frag 116M` leaves no free order-10 block in any
    zone (at 128M, since the programs take 8 MB less of ZONE_DMA, one
    stayed free there); `compact order 10` (one movable order-10 allocation through the
    page allocator's slow path) fails with vm.extfrag_threshold=1000, where
    direct compaction never runs (compact_stall unchanged), and succeeds
    with the default 500: compact_stall and compact_success rise by one.
    frag verifies after."""
    built_user_programs()
    m = Machine(mem="124M", swap="256M")
    try:
        m.boot()
        start_job(m, "run frag 116M hold=30 verify &")
        wait_for_out(m, "frag: touched 29696 pages", 1, 120)
        free = order10_free(m)
        check(sum(free.values()) == 0, "frag left free order-10 blocks: %r" % free)
        v0 = vmstat_values(m)
        check(m.cmd("sysctl -w vm.extfrag_threshold=1000") == "vm.extfrag_threshold = 1000\n", "set 1000")
        out = m.cmd("compact order 10", timeout=120)
        check("no free order-10 block (direct compaction: not run)" in out, "without compaction:\n" + out)
        v1 = vmstat_values(m)
        check(v1["compact_stall"] == v0["compact_stall"], "compaction ran at threshold 1000")
        check(m.cmd("sysctl -w vm.extfrag_threshold=500") == "vm.extfrag_threshold = 500\n", "set 500")
        out = m.cmd("compact order 10", timeout=120)
        check(re.search(r"order-10 block at pfn 0x[0-9a-f]+ \(direct compaction: ran, succeeded\); freed", out),
              "with compaction:\n" + out)
        v2 = vmstat_values(m)
        check(v2["compact_stall"] == v1["compact_stall"] + 1 and v2["compact_success"] == v1["compact_success"] + 1
              and v2["compact_fail"] == v1["compact_fail"], "compact_* %r -> %r" % (v1, v2))
        check(m.cmd("compact order 11") == "compact: order '11' is not 1..10; nothing done\n", "order 11 taken")
        out = m.cmd("wait", timeout=120)
        check("Done" in out and "frag: verified 14848 pages" in m.out, "frag did not verify:\n" + out + m.out[-2000:])
        check_serves(m)
    finally:
        m.kill()


def frag_runs_as_on_linux():
    """frag is a Linux program: on this host it maps, touches, gives back
    every other page, holds and verifies as on himem, and refuses bad
    arguments naming them."""
    built_user_programs()
    check_native("frag 8M hold=1 verify", run_native("frag", ["8M", "hold=1", "verify"]), 0,
                 r"frag: touched 2048 pages at 0x[0-9a-f]{8}, gave back every other one: 1024 kept \(pid \d+\)\n"
                 r"frag: verified 1024 pages\nfrag: done\n", "")
    for bad, says in [(["12X"], "frag: SIZE 12X is not a size of at least 8K"), (["4K"], "frag: SIZE 4K is not a size"),
                      (["1M", "hold=x"], "frag: option hold=x is not understood; nothing mapped"),
                      ([], "frag: no SIZE given; nothing mapped")]:
        got = run_native("frag", bad)
        check(got[0] == 2 and says in got[2] and got[1] == "", "frag %s: exit %d, stdout %r, stderr %r" % (" ".join(bad), *got))


COMPACTION_TESTS = [
    ("qemu::compaction::frag_runs_as_on_linux", frag_runs_as_on_linux),
    ("qemu::compaction::after_frag_raises_free_order_10_blocks", compaction_after_frag_raises_free_order_10_blocks),
    ("qemu::compaction::leaves_mlocked_pages_when_told", compaction_leaves_mlocked_pages_when_told),
    ("qemu::compaction::direct_serves_an_order_10_allocation", direct_compaction_serves_an_order_10_allocation),
]


# --- CMA (issue 12) ---

def cma_counts(m):
    """(MemFree, CmaFree) in kB with empty slabs given back and the pcp
    lists drained."""
    m.cmd("shrink")
    m.cmd("drain")
    mi = meminfo_values(m.cmd("meminfo"))
    return mi["MemFree"], mi["CmaFree"]


def cma_alloc_addr(m, size, timeout=CMD_TIMEOUT):
    out = m.cmd("cma alloc " + size, timeout=timeout)
    got = re.search(r"^cma: (\d+) pages \((\d+) kB\) at \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]$", out, re.M)
    check(got, "cma alloc %s failed:\n%s" % (size, out + m.out[-2000:]))
    return out, int(got.group(3), 16), int(got.group(4), 16)


def cma_region_idle_alloc_and_free():
    """cma=64M: the boot says `cma: Reserved 64 MiB at 0x...` (top of lowmem,
    pageblock-aligned) and 65536K cma-reserved; meminfo CmaTotal/CmaFree
    65536 kB; pagetypeinfo counts 16 CMA pageblocks; memmap shows them as
    C; `cma alloc 32M` takes 32 MB contiguous inside the region (MemFree and
    CmaFree drop by exactly 32768 kB, `cma` shows the allocation and 32
    cells of #), `cma free` gives it back and both counts return exactly;
    bad SIZE and ADDR are refused naming the value; cma_alloc_success and
    cma_alloc_fail count."""
    m = Machine(args="cma=64M NO_COLOR")
    try:
        log = m.boot()
        got = re.search(r"cma: Reserved 64 MiB at (0x[0-9a-f]{8})\n", log)
        check(got, "no cma: Reserved line:\n" + log[-2500:])
        base = int(got.group(1), 16)
        lowmem = int(re.search(r"low ram: 0 - ([0-9a-f]+)", log).group(1), 16)
        check(base % (4 << 20) == 0 and base + (64 << 20) <= lowmem < base + (68 << 20),
              "region at %#x not at the top of lowmem (%#x) on a pageblock" % (base, lowmem))
        check(re.search(r"K reserved, 65536K cma-reserved, ", log), "Memory: line lacks cma-reserved:\n" + log[-2500:])
        mi = meminfo_values(m.cmd("meminfo"))
        check(mi["CmaTotal"] == 65536 and mi["CmaFree"] == 65536, "CmaTotal/CmaFree %r" % mi)
        pti = m.cmd("pagetypeinfo")
        check("Reserve          CMA      Isolate" in pti, "pagetypeinfo lacks the CMA column:\n" + pti)
        normal = re.search(r"^Node 0, zone   Normal +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)", pti, re.M)
        check(normal and int(normal.group(5)) == 16, "not 16 CMA pageblocks in Normal:\n" + pti)
        pic = m.cmd("memmap")
        check(sum(l.count("C") for l in pic.splitlines() if l.startswith("0x")) == 16 and "C CMA" in pic,
              "memmap does not show 16 C cells:\n" + pic)
        # Warm-up: the first allocation grows the kernel's lists of them.
        _, warm, _ = cma_alloc_addr(m, "4M")
        check(m.cmd("cma free %#x" % warm).startswith("cma: freed 1024 pages"), "warm-up free failed")
        v0 = vmstat_values(m)
        before = cma_counts(m)
        out, start, end = cma_alloc_addr(m, "32M")
        check(end - start + 1 == 32 << 20 and base <= start and end < base + (64 << 20),
              "block [%#x-%#x] is not 32 MB inside the region:\n%s" % (start, end, out))
        held = cma_counts(m)
        check(held == (before[0] - 32768, before[1] - 32768), "counts %r with 32M taken, %r before" % (held, before))
        show = m.cmd("cma")
        cells = lambda text: "".join(l.split(" ", 1)[1] for l in text.splitlines() if l.startswith("0x"))
        check("allocated 8192 pages (32768 kB)" in show and cells(show) == "#" * 32 + "." * 32
              and "[mem %#010x-%#010x] 8192 pages (32768 kB)" % (start, end) in show, "cma report:\n" + show)
        for bad, words in [("cma alloc 0", "bad SIZE '0': size 0; nothing allocated"),
                           ("cma alloc lots", "bad SIZE 'lots': not a size"),
                           ("cma alloc 64M", "no run of 16384 pages left that earlier CMA allocations do not hold"),
                           ("cma alloc 1G", "262144 pages asked for; the CMA area has 16384"),
                           ("cma free 0x1234", "no block of 'cma alloc' starts at 0x1234; nothing freed"),
                           ("cma free here", "bad ADDR 'here': not a number"),
                           ("cma frob", "usage: cma")]:
            said = m.cmd(bad)
            check(said.startswith("cma: ") and words in said, "%s said:\n%s" % (bad, said))
        check(m.cmd("cma free %#x" % start) == "cma: freed 8192 pages at %#010x\n" % start, "cma free failed")
        check(cma_counts(m) == before, "counts %r after cma free, %r before" % (cma_counts(m), before))
        check(cells(m.cmd("cma")) == "." * 64, "the region still shows allocations")
        v1 = vmstat_values(m)
        check(v1["cma_alloc_success"] - v0["cma_alloc_success"] == 1 and v1["cma_alloc_fail"] - v0["cma_alloc_fail"] == 1,
              "cma_alloc_* %r -> %r" % (v0, v1))
        m.send("poweroff\n")
        check(m.wait_exit() == 0, "no clean power-off")
    finally:
        m.kill()


def cma_bad_values_warn_and_boot_on():
    """Bad cma= values each get a warning naming the value, and the kernel
    boots without a region (CmaTotal 0, `cma` says so, 0K cma-reserved)."""
    cases = [("cma=64Q cma=8M@0x100000",
              ['bad value "64Q" for cma= (not a number); default kept',
               "cma: Region at 0x00100000 must be aligned to 0x400000 bytes (a pageblock); booting without a CMA area"]),
             ("cma=1G", ["cma: 1024 MiB is more than half of lowmem (", "booting without a CMA area"]),
             ("cma=8M@0x40000000", ["cma: [mem 0x40000000-0x407fffff] is not below the lowmem limit 0x38000000 "
                                    "(dma_alloc_coherent needs a kernel address); booting without a CMA area"])]
    for args, warnings in cases:
        m = Machine(args=args)
        try:
            log = m.boot()
            for w in warnings:
                check(w in log, "%s: boot log lacks %r:\n%s" % (args, w, log[-2500:]))
            check("cma: Reserved" not in log and "K reserved, 0K cma-reserved" in log, "%s: a region was made" % args)
            check(meminfo_values(m.cmd("meminfo"))["CmaTotal"] == 0, "%s: CmaTotal not 0" % args)
            check(m.cmd("cma").startswith("cma: no CMA area"), "%s: cma did not say there is none" % args)
            check_serves(m)
        finally:
            m.kill()


def cma_dma_alloc_coherent_8m_needs_cma():
    """dma_alloc_coherent of 8 MB (order 11, beyond the buddy allocator's
    largest block): with cma=64M it comes from the region, zeroed, and
    MemFree/CmaFree are back after the free; without CMA it fails with the
    page allocator's order:11 failure report and takes nothing."""
    m = Machine(args="cma=64M")
    try:
        m.boot()
        check("from the CMA area" in m.cmd("cma dma 8M"), "warm-up dma_alloc_coherent failed")
        before = cma_counts(m)
        out = m.cmd("cma dma 8M")
        got = re.search(r"^cma: dma_alloc_coherent\(8388608\) = bus (0x[0-9a-f]+) from the CMA area; zeroed; freed$", out, re.M)
        check(got, "dma_alloc_coherent(8M) with CMA:\n" + out)
        check(cma_counts(m) == before, "counts %r after, %r before" % (cma_counts(m), before))
    finally:
        m.kill()
    m = Machine()
    try:
        m.boot()
        before = meminfo_values(m.cmd("meminfo"))["MemFree"]
        out = m.cmd("cma dma 8M")
        check("cma: dma: dma_alloc_coherent(8388608) failed\n" in out, "without CMA:\n" + out)
        check("page allocation failure. order:11" in m.out, "no order:11 failure report:\n" + m.out[-1500:])
        m.cmd("drain")
        check(meminfo_values(m.cmd("meminfo"))["MemFree"] == before, "MemFree changed")
        check_serves(m)
    finally:
        m.kill()


def cma_alloc_migrates_a_living_hog():
    """The issue's test: with cma=64M a hog fills memory, some of it in the
    CMA region (`cma` shows movable users there); a second hog that held
    64M outside the region ends, so there is room to move to; `cma alloc
    64M` then takes the whole region, migrating the hog's pages out
    (pgmigrate_success grows by at least the pages it held there), while
    the hog keeps re-checking its memory; it verifies every page after, and
    once both are freed MemFree and CmaFree are back exactly."""
    built_user_programs()
    m = Machine(args="cma=64M")
    try:
        m.boot()
        _, warm, _ = cma_alloc_addr(m, "4M")
        check(m.cmd("cma free %#x" % warm).startswith("cma: freed"), "warm-up free failed")
        # Warm-up of the job table: the first background job killed and
        # waited for keeps 4 kB (the shell's, not CMA's).
        m.cmd("run hog 8M touch hold=600 &")
        _, got = m.expect(r"hog: holding 8M for 600s \(pid (\d+)\)", 60)
        m.cmd("kill %s" % got.group(1))
        m.cmd("wait %s" % got.group(1), timeout=60)
        before = cma_counts(m)
        m.cmd("run hog 64M touch hold=600 &")
        _, got = m.expect(r"hog: holding 64M for 600s \(pid (\d+)\)", 60)
        small = got.group(1)
        # Less than all: a highmem-capable allocation leaves Normal's
        # lowmem_reserve (about 37 MB at 2G) alone.
        free_mb = meminfo_values(m.cmd("meminfo"))["MemFree"] // 1024
        big = free_mb - 80
        m.cmd("run hog %dM touch verify hold=60 &" % big)
        m.expect(r"hog: holding %dM for 60s" % big, 240)
        show = m.cmd("cma")
        held = int(re.search(r"movable users hold (\d+) pages", show).group(1))
        check(held > 1024, "the hog holds only %d pages of the region:\n%s" % (held, show))
        m.cmd("kill %s" % small)
        m.cmd("wait %s" % small, timeout=60)
        v0 = vmstat_values(m)
        out, start, end = cma_alloc_addr(m, "64M", timeout=240)
        check(end - start + 1 == 64 << 20, "not the whole region:\n" + out)
        v1 = vmstat_values(m)
        check(v1["pgmigrate_success"] - v0["pgmigrate_success"] >= held,
              "pgmigrate_success %d -> %d, the hog held %d pages there" % (v0["pgmigrate_success"], v1["pgmigrate_success"], held))
        show = m.cmd("cma")
        check("allocated 16384 pages" in show and "movable users hold 0 pages" in show, "after the alloc:\n" + show)
        verified = m.out.count("hog: verified %dM" % big)
        done = m.cmd("wait", timeout=300)
        check("Done" in done and "Exit" not in done, "the hog did not end well:\n" + done + m.out[-3000:])
        check(m.out.count("hog: verified %dM" % big) > verified, "the hog did not verify after the alloc")
        check("memory lost its contents" not in m.out, "a page came back wrong:\n" + m.out[-3000:])
        check(m.cmd("cma free %#x" % start).startswith("cma: freed 16384 pages"), "cma free failed")
        after = cma_counts(m)
        check(after == before, "MemFree, CmaFree %r before, %r after" % (before, after))
        check_serves(m)
    finally:
        m.kill()


def cma_busy_page_is_reported_and_skipped():
    """The in-kernel test mm::cma::busy_page_is_reported_and_skipped on a
    test kernel booted with cma=64M (it skips without a region): a kernel
    page at the region's first frame makes the first run busy; the console
    names the page and why, and the run after it is taken. Without cma= the
    test is skipped, saying why."""
    m = Machine(args="cma=64M", ktest=True)
    try:
        m.boot()
        out = m.cmd("ktest mm::cma::", timeout=120)
        check("test mm::cma::busy_page_is_reported_and_skipped ... ok" in out, "ktest:\n" + out)
        check(re.search(r"cma: pages \[0x34000-0x347ff\] busy: page at pfn 0x34000 \(phys 0x34000000\) cannot move: "
                        r"not a movable user page \(kernel memory, or in flight\); trying the next aligned position", out),
              "no busy report:\n" + out)
    finally:
        m.kill()
    m = Machine(ktest=True)
    try:
        m.boot()
        out = m.cmd("ktest mm::cma::", timeout=120)
        check("test mm::cma::busy_page_is_reported_and_skipped ... ignored, no CMA area: boot with cma=SIZE" in out,
              "without cma=:\n" + out)
    finally:
        m.kill()


CMA_TESTS = [
    ("qemu::cma::region_idle_alloc_and_free", cma_region_idle_alloc_and_free),
    ("qemu::cma::bad_values_warn_and_boot_on", cma_bad_values_warn_and_boot_on),
    ("qemu::cma::dma_alloc_coherent_8m_needs_cma", cma_dma_alloc_coherent_8m_needs_cma),
    ("qemu::cma::alloc_migrates_a_living_hog", cma_alloc_migrates_a_living_hog),
    ("qemu::cma::busy_page_is_reported_and_skipped", cma_busy_page_is_reported_and_skipped),
]


# --- peers in the bench (issue 13) ---

PEER_HEAPS = ["himem", "linked_list_allocator", "buddy_system_allocator", "talc", "dlmalloc"]
PEER_TRACES = {t: PEER_HEAPS for t in ["kmalloc8_pair", "kmalloc64_pair", "kmalloc256_pair", "kmalloc_churn"]}
PEER_TRACES.update({t: PEER_HEAPS + ["buddy_system_allocator_frame"] for t in ["page0_pair", "page3_pair", "page_churn"]})


def bench_peers_table_is_complete():
    """make bench: the peers table has every trace for ours and each peer, with non-zero figures and no
    failed allocation, the same rows as @plot peers lines, and nr_free back to its start (figures not judged)."""
    code, out = _console_run("make -s bench-run", 600)
    check(code == 0 and "bench: done" in out, "make bench exit %d:\n%s" % (code, out[-1500:]))
    rows = {(m.group(1), m.group(2)): (int(m.group(3)), int(m.group(4)), m.group(5))
            for m in re.finditer(r"^  (\w+)\s+(\w+)\s+(\d+)\s+(\d+)   (.*)$", out, re.M)}
    with open(os.path.join(ROOT, "build", "bench.log"), errors="replace") as f:
        plots = {(m.group(1), m.group(2)): (int(m.group(3)), int(m.group(4)))
                 for m in re.finditer(r"^@plot peers (\S+) (\S+) (\d+) (\d+)\r?$", f.read(), re.M)}
    want = {(t, a) for t, allocs in PEER_TRACES.items() for a in allocs}
    check(set(rows) == want, "table rows: missing %s, unexpected %s" % (sorted(want - set(rows)), sorted(set(rows) - want)))
    check(set(plots) == want, "@plot peers lines: missing %s, unexpected %s"
          % (sorted(want - set(plots)), sorted(set(plots) - want)))
    for key, (median, p99, rest) in rows.items():
        check(median > 0 and p99 >= median, "%s %s: median %d, p99 %d" % (key + (median, p99)))
        check(plots[key] == (median, p99), "%s %s: table %s, @plot %s" % (key + ((median, p99), plots[key])))
        check("FAILED" not in rest, "%s %s: %s" % (key + (rest,)))
        check(("(ours)" in rest) == (key[1] == "himem"), "%s %s: ahead? column %r" % (key + (rest,)))
        if key[0] == "kmalloc_churn":
            m = re.search(r"(\d+)% in use \((\d+) pages\)", rest)
            check(m and 0 < int(m.group(1)) <= 100 and int(m.group(2)) > 0, "%s %s: in use %r" % (key + (rest,)))
    m = re.search(r"^peers: ahead on (\d+) of (\d+) rows \(goal: all\); nr_free (\d+) at start, (\d+) at end", out, re.M)
    check(m and int(m.group(2)) == len(want) - len(PEER_TRACES), "closing line:\n" + out[-800:])
    check(m.group(3) == m.group(4), "nr_free not back to its start: " + m.group(0))


PEERS_TESTS = [("qemu::bench::peers_table_has_every_allocator_and_trace", bench_peers_table_is_complete)]

# --- fragmentation study (issue 13) ---

def bench_frag_rows_are_present_and_sane():
    """`bench bench_only=frag` at -m 128M with 32M of HighMem (no icount: the
    rows are percentages, not timings): only the study runs, its two rows
    are there with percentages in 0..100, the under-load row says how many
    of how many attempts succeeded, the free page count at the end is the
    one at the start, and the chart lines are well formed: `@plot frag`
    with 11 counts whose sum at step 0 is that free count, steps counting
    up, and `@plot memmap` rows for the four phases."""
    m = Machine(args="bench bench_only=frag highmem=32M", mem="128M")
    try:
        code = m.wait_exit(240)
        out = m.out
    finally:
        m.kill()
    check(code == 0, "exit status %d:\n%s" % (code, out[-2500:]))
    check("page_alloc: order-0" not in out, "bench_only=frag ran the hot rows too:\n" + out[-2500:])
    cfg = "grouping-on_compaction-on"
    load = re.search(r"^frag %s: under load %%\s+(\d+)\s+>=50 .*; (\d+) of (\d+) order-10 ok" % cfg, out, re.M)
    rest = re.search(r"^frag %s: at rest %%\s+(\d+)\s+>=75 .*; free pages (\d+) before, (\d+) after \(\+0\)"
                     % cfg, out, re.M)
    check(load and rest, "rows missing or malformed:\n" + out[-2500:])
    ok, attempts = int(load.group(2)), int(load.group(3))
    check(0 < attempts and ok <= attempts and int(load.group(1)) == ok * 100 // attempts,
          "under-load figures do not add up: " + load.group(0))
    check(0 <= int(rest.group(1)) <= 100 and rest.group(2) == rest.group(3), "at-rest row: " + rest.group(0))
    steps = [[int(x) for x in l.split()[3:]] for l in re.findall(r"^@plot frag %s .*$" % cfg, out, re.M)]
    check(len(steps) >= 8 and all(len(s) == 12 for s in steps), "@plot frag lines: %r" % steps[:3])
    check([s[0] for s in steps] == list(range(len(steps))), "steps do not count up: %r" % [s[0] for s in steps])
    check(sum(steps[0][1:]) == int(rest.group(2)), "step 0 sums to %d, not the free count %s"
          % (sum(steps[0][1:]), rest.group(2)))
    for phase in ["before", "load", "rest", "after"]:
        rows = re.findall(r"^@plot memmap %s %s 0x[0-9a-f]{8} \S+$" % (cfg, phase), out, re.M)
        check(len(rows) >= 1, "no memmap rows for phase %s" % phase)


FRAG_TESTS = [
    ("qemu::bench::frag_rows_are_present_and_sane", bench_frag_rows_are_present_and_sane),
]


# --- process rows of make bench (issue 13) ---

def _prow(out, name):
    """The event totals of bench row `name`: (per_op, ops, {event: count}, rest of the line)."""
    m = re.search(r"^%s\s+(\d+)\s+\S+\s+(\d+) ops: faults (-?\d+), invlpg (-?\d+), full flushes (-?\d+), "
                  r"CR3 loads (-?\d+), zeroed (-?\d+), disk I/Os (-?\d+)(.*)$" % re.escape(name), out, re.M)
    check(m, "no row %r:\n%s" % (name, out[-3000:]))
    ev = dict(zip(["faults", "invlpg", "flushes", "cr3", "zeroed", "disk"], map(int, m.groups()[2:8])))
    return int(m.group(1)), int(m.group(2)), ev, m.group(9)


def bench_process_rows_count_what_they_measure():
    """The process rows of the bench boot (user/c/benchfault stopping
    between phases, swap disk attached): each has a non-zero figure and the
    events its work implies, not timings. One fault and one zeroed page per
    demand-zero page, in highmem; one fault and no zeroed page per
    copy-on-write page; fork+exit+wait loads CR3 and faults; swap-out
    writes each page once and swap-in reads each back once, a fault per
    page; the OOM walk sees 100 processes and picks the designated victim;
    the free pages come back to where the measured run started."""
    m = Machine(args="bench", swap="256M")
    try:
        code = m.wait_exit(300)
        out = m.out
        check(code == 0 and "bench: done" in out, "exit status %d:\n%s" % (code, out[-2500:]))
        for name in ["process: one page clear (clear_highpage)", "process: one page copy (copy_highpage)"]:
            per, ops, ev, rest = _prow(out, name)
            check(per > 0 and ops == 1000 and ev["faults"] == 0 and ev["zeroed"] == 0, "%s: %d %r" % (name, per, ev))
        per, ops, ev, rest = _prow(out, "process: demand-zero fault (user write)")
        check(per > 0 and ops == 256 and ev["faults"] == 256 and ev["zeroed"] == 256 and ev["disk"] == 0,
              "demand-zero: %d %d %r" % (per, ops, ev))
        check(rest.startswith(", 256 of 256 pages in highmem"), "demand-zero pages not in highmem: " + rest)
        per, ops, ev, rest = _prow(out, "process: copy-on-write fault (user write)")
        check(per > 0 and ev["faults"] == 256 and ev["zeroed"] == 0 and ev["invlpg"] >= 256, "cow: %d %r" % (per, ev))
        per, ops, ev, rest = _prow(out, "process: fork+exit+wait, 1 MB touched")
        check(per > 0 and ops == 20 and ev["cr3"] >= 20 and ev["faults"] > 0 and ev["zeroed"] > 0 and ev["disk"] == 0,
              "fork: %d %r" % (per, ev))
        per, ops, ev, rest = _prow(out, "process: swap-out per page (reclaim_pages)")
        check(per > 0 and ev["disk"] == 256 and ev["faults"] == 0 and "256 of 256 pages freed" in rest,
              "swap-out: %d %r %s" % (per, ev, rest))
        per, ops, ev, rest = _prow(out, "process: swap-in fault per page (user read)")
        check(per > 0 and ev["faults"] == 256 and ev["disk"] == 256, "swap-in: %d %r" % (per, ev))
        maj = re.match(r", (\d+) of them major", rest)
        check(maj and 0 < int(maj.group(1)) < 256, "swap-in majors (readahead serves the rest): " + rest)
        per, ops, ev, rest = _prow(out, "process: OOM decision among live processes")
        check(per > 0 and ev["faults"] == 0 and ev["disk"] == 0, "oom: %d %r" % (per, ev))
        check("100 processes, chose the designated victim: yes (no kill)" in rest, "oom: " + rest)
        check(re.search(r"^process: free pages after the section\s+\d+\s+-\s+nr_free (\d+) -> \1 pages \(\+0;",
                        out, re.M), "free pages not back:\n" + out[-1500:])
        check("process rows:" not in out, "a process row gave up:\n" + out[-2500:])
    finally:
        m.kill()


PROCESS_BENCH_TESTS = [
    ("qemu::bench::process_rows_count_what_they_measure", bench_process_rows_count_what_they_measure),
]


# --- course labs and the kgdb stop (issue 14) ---

def kgdb_command_stops_in_gdb_and_goes_on():
    """`kgdb` with no debugger returns at once; with GDB attached it stops at
    kgdb_breakpoint, inside the shell's command, and the shell goes on after
    GDB detaches."""
    m = Machine(mem="64M", gdb=True)
    try:
        m.boot()
        out = m.cmd("kgdb")
        check(out.strip() == "", "kgdb without a debugger printed:\n" + out)
        g = gdb_at_kgdb(m, ["bt 3"])
        check(re.search(r"#1 .* in kernel::shell::commands::cmd_kgdb", g), "not stopped in the shell's kgdb:\n" + g)
        check(m.cmd("echo still here").strip() == "still here", "the shell did not go on")
    finally:
        m.kill()


def lab_numbers():
    d = os.path.join(ROOT, "labs")
    return sorted(int(n[:2]) for n in os.listdir(d) if re.match(r"\d\d-", n)) if os.path.isdir(d) else []


def grade_results(tree, lab, env=None, timeout=900):
    """Run `scripts/grade.py LAB` in `tree`; its per-check results (GRADE_JSON)
    and its output."""
    import json
    import tempfile
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        r = subprocess.run(["python3", "scripts/grade.py", str(lab)], cwd=tree, timeout=timeout,
                           env=dict(os.environ, GRADE_JSON=path, **(env or {})),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = r.stdout.decode("utf-8", "replace")
        check(os.path.getsize(path) > 0, "grade wrote no results (status %d):\n%s" % (r.returncode, out[-3000:]))
        return json.load(open(path)), out, r.returncode
    finally:
        os.unlink(path)


def lab_full_marks(lab):
    def run():
        res, out, code = grade_results(ROOT, lab)
        check(res and all(c["got"] == c["points"] for c in res) and code == 0,
              "lab %d is short of full marks on the full tree:\n%s" % (lab, out[-3000:]))
        check(re.search(r"^Score: (\d+)/\1$", out, re.M), "no full Score line:\n" + out[-500:])
    return run


def lab_handout_fails_the_removed_parts(lab):
    """The student tree of the lab builds and boots, and each check fails or
    passes there as its handout= says: the removed code is graded, the rest
    still holds."""
    def run():
        import shutil
        import tempfile
        dest = tempfile.mkdtemp(prefix="himem-lab%d-" % lab)
        try:
            r = subprocess.run(["python3", "scripts/handout.py", str(lab), dest], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
            check(r.returncode == 0, "make handout failed:\n" + r.stdout.decode("utf-8", "replace"))
            # One cargo build directory for every handout tree: core and alloc
            # (build-std) are built once, not once per lab. The user programs
            # (which no lab marks) come built from this tree, times kept, so
            # make finds them up to date.
            target = os.path.join(ROOT, "build", "tests", "handout-target")
            os.makedirs(os.path.join(dest, "build"), exist_ok=True)
            subprocess.run(["cp", "-a", os.path.join(ROOT, "build", "user"), os.path.join(dest, "build", "user")],
                           check=True)
            res, out, code = grade_results(dest, lab, env={"CARGO_TARGET_DIR": target})
            wrong = [c["name"] + (": passed" if c["got"] else ": failed (%s)" % c["reason"].strip()[:300])
                     for c in res if (c["got"] == c["points"]) != (c["handout"] == "pass")]
            check(not wrong, "in the handout tree, checks that did not do what handout= says:\n  "
                  + "\n  ".join(wrong) + "\n" + out[-1500:])
            check(code != 0 and sum(c["got"] for c in res) < sum(c["points"] for c in res),
                  "the handout tree scored full marks:\n" + out[-800:])
        finally:
            shutil.rmtree(dest, ignore_errors=True)
    return run


def handout_refuses_bad_markers():
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import handout
    for text, says in [("// LAB 1: BEGIN\n", "BEGIN without END"), ("x\n// LAB 1: END\n", "f:2: LAB 1: END without BEGIN"),
                       ("// LAB 1: BEGIN\n// LAB 1: STUB\nx\n// LAB 1: END\n", "must be commented"),
                       ("// LAB 1: BEGIN\n// LAB 1: BEGIN\n", "BEGIN inside")]:
        try:
            handout.cut(text, 1, "f")
            raise AssertionError("no error for %r" % text)
        except handout.MarkerError as e:
            check(says in str(e), "error for %r: %s" % (text, e))
    new, n = handout.cut("a\n  // LAB 1: BEGIN\n  real();\n  // LAB 1: STUB\n  // stub();\n  // LAB 1: END\n"
                         "  // LAB 2: BEGIN\n  kept();\n  // LAB 2: END\n", 1, "f")
    check(n == 1 and "real" not in new and "  stub();\n" in new and "kept();" in new, "cut:\n" + new)
    for argv, says in [(["grade.py", "42"], "there is no lab 42"), (["grade.py", "x"], "LAB='x' is not a lab number")]:
        r = subprocess.run(["python3", "scripts/" + argv[0]] + argv[1:], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode()
        check(r.returncode != 0 and says in out, "%s: %s" % (argv, out))


LABS_TESTS = [("qemu::gdb::kgdb_command_stops_in_gdb_and_goes_on", kgdb_command_stops_in_gdb_and_goes_on),
              ("qemu::labs::handout_refuses_bad_markers", handout_refuses_bad_markers)] + [
    t for n in lab_numbers() for t in
    [("qemu::labs::lab%02d_full_tree_scores_full_marks" % n, lab_full_marks(n)),
     ("qemu::labs::lab%02d_handout_builds_and_fails_the_removed_parts" % n, lab_handout_fails_the_removed_parts(n))]]


# --- GDB processes and address translation (issue 14) ---

def _gdb_proc_hog(m, size="8M"):
    """Start hog SIZE in the background and stop it (SIGSTOP: its state is
    T for certain, not S or R by chance); returns its pid."""
    out = m.cmd("run hog %s touch hold &" % size)
    pid = int(re.search(r"\[1\] (\d+)", out).group(1))
    m.expect(r"hog: holding", CMD_TIMEOUT)
    m.cmd("kill -STOP %d" % pid)
    deadline = time.time() + 10
    while not re.search(r"^\s+%d\s+\d+ T" % pid, m.cmd("ps"), re.M):
        check(time.time() < deadline, "hog %d did not stop" % pid)
        time.sleep(0.2)
    return pid


def _gdb_section(out, start, end=None):
    """GDB's output from the line starting with `start` up to (not
    including) the first line starting with `end`."""
    i = out.index(start)
    j = out.index(end, i) if end else len(out)
    return out[i:j]


def gdb_ps_and_vmas_match_the_shell():
    m = Machine(mem="2G", gdb=True)
    try:
        m.boot()
        pid = _gdb_proc_hog(m)
        ps = m.cmd("ps")
        maps = m.cmd("maps %d" % pid)
        g = gdb_at_kgdb(m, ["echo @@ps\\n", "ps", "echo @@vmas\\n", "vmas %d" % pid, "echo @@end\\n",
                            "print kernel::kernel::sched::RQ.inner.inner.data.value.idle",
                            "python print(find_process(%d))" % pid,
                            "python print(mm_vmas(proc_mm(find_process(%d)))[1][0])" % pid])
        gps = _gdb_section(g, "@@ps\n", "@@vmas")[len("@@ps\n"):]
        gvmas = _gdb_section(g, "@@vmas\n", "@@end")[len("@@vmas\n"):]
        # The shell runs `ps` and `kgdb` alike: sh is R in both.
        check(gps == ps, "GDB's ps differs from the shell's:\n%s\n---\n%s" % (gps, ps))
        check(gvmas == maps, "GDB's vmas differs from maps %d:\n%s\n---\n%s" % (pid, gvmas, maps))
        check(re.search(r"^\s+%d\s+\d+ T\s+\d+\s+\d+ hog$" % pid, gps, re.M), "hog not in GDB's ps:\n" + gps)
        # The pretty printers of the task, process and VMA types.
        first = re.match(r"([0-9a-f]{8})-([0-9a-f]{8}) r--p", maps)
        check(re.search(r"= Task pid 0 'swapper' R \(Run\w+\) esp 0x[0-9a-f]+ stack 0x0 runtime \d+ ticks\n", g),
              "no Task pretty printer:\n" + g)
        check(re.search(r"^Process pid %d ppid \d+ comm 'hog' live mm 0x[0-9a-f]+$" % pid, g, re.M),
              "no Process pretty printer:\n" + g)
        check(re.search(r"^Vma %s-%s r--p flags 0x[0-9a-f]+ pgoff 0x0 hog \(\d+ pages\)$" % first.groups(), g, re.M),
              "no Vma pretty printer:\n" + g)
        m.cmd("kill -KILL %d" % pid)
    finally:
        m.kill()


def gdb_vtop_walks_kernel_highpte_and_unmapped():
    m = Machine(mem="2G", gdb=True)
    try:
        m.boot()
        pid = _gdb_proc_hog(m)
        maps = m.cmd("maps %d" % pid)
        # hog's region: the anonymous 8M area (no name).
        region = int(re.search(r"^([0-9a-f]{8})-[0-9a-f]{8} rw-p 00000000 00:00 0 $", maps, re.M).group(1), 16)
        pages = [0, 1, 1000, 2047]
        cmds = ["vtop 0xc0100000", "vtop 0xc1000000", "vtop 0x00400000 %d" % pid, "vtop 0x08050000 %d" % pid]
        cmds += ["vtop %#x %d" % (region + i * 4096, pid) for i in pages]
        g = gdb_at_kgdb(m, cmds)
        # Kernel text: a page table of boot's first 8 MB, in DMA.
        check(re.search(r"vtop 0xc0100000 in swapper_pg_dir.*\n  PDE\[768\] .* P RW.*\n  page table at phys 0x[0-9a-f]+ \(DMA, "
                        r"direct map at 0xc[0-9a-f]+\)\n  PTE\[256\] .*= 0x00100\w\w\w  P RW.*\n  phys 0x00100000  pfn 0x100  zone DMA",
                        g), "vtop of kernel text:\n" + g)
        # The rest of lowmem: 4 MB pages.
        check(re.search(r"PDE\[772\] .*= 0x01000\w\w\w  P RW.* PS.*\n  4 MB page at phys 0x01000000\n"
                        r"  phys 0x01000000  pfn 0x1000  zone Normal", g), "vtop of a 4 MB page:\n" + g)
        check(re.search(r"vtop 0x00400000 in pid %d.*\n  PDE\[1\] .* = 0x00000000  -\n  unmapped: PDE not present" % pid, g),
              "vtop of an address no page table covers:\n" + g)
        check(re.search(r"vtop 0x08050000 in pid %d(.*\n){3}  PTE\[80\] .* = 0x00000000  -\n  unmapped: PTE not present \(empty\)"
                        % pid, g), "vtop of an empty PTE:\n" + g)
        phys = {}
        for i in pages:
            va = region + i * 4096
            mt = re.search(r"vtop %#010x in pid %d.*\n.*\n  page table at phys 0x[0-9a-f]+ \(HighMem, highmem: not in the direct map\)"
                           r"\n  PTE.* P RW US.*\n  phys (0x[0-9a-f]+)  pfn 0x[0-9a-f]+  zone (\w+)" % (va, pid), g)
            check(mt, "vtop %#x %d: no walk through a highmem page table:\n%s" % (va, pid, g))
            phys[i] = int(mt.group(1), 16)
        # The frames vtop names hold hog's pattern for those pages
        # (user/hog: first word seed ^ i * 0x9e3779b9, seed 0x5eed0000 ^ pid).
        cmds = ["maint packet Qqemu.PhyMemMode:1"] + ["x/wx %#x" % phys[i] for i in pages] + ["maint packet Qqemu.PhyMemMode:0"]
        g = gdb_at_kgdb(m, cmds)
        for i in pages:
            want = (0x5eed0000 ^ pid) ^ ((i * 0x9e3779b9) & 0xFFFFFFFF)
            got = re.search(r"^%#x:\s+(0x[0-9a-f]+)" % phys[i], g, re.M)
            check(got and int(got.group(1), 16) == want,
                  "page %d of hog at phys %#x holds %s, not %#010x:\n%s" % (i, phys[i], got and got.group(1), want, g))
        m.cmd("kill -KILL %d" % pid)
    finally:
        m.kill()


def gdb_vtop_names_swap_slots():
    """Under memory pressure (64M, a 64M swap disk, hog 72M), vtop on hog's
    pages finds swap entries: distinct slots inside the device, and as many
    as the sample's share of VmSwap roughly (at least one)."""
    m = Machine(mem="64M", swap="64M", gdb=True)
    try:
        m.boot()
        pid = _gdb_proc_hog(m, "72M")
        maps = m.cmd("maps %d" % pid)
        region = int(re.search(r"^([0-9a-f]{8})-[0-9a-f]{8} rw-p 00000000 00:00 0 $", maps, re.M).group(1), 16)
        size_kb = int(re.search(r"^/dev/sda\s+partition\s+(\d+)\s+(\d+)", m.cmd("swaps"), re.M).group(1))
        g = gdb_at_kgdb(m, ["vtop %#x %d" % (region + i * 4096, pid) for i in range(0, 72 * 256, 256)], timeout=120)
        slots = [int(s) for s in re.findall(r"unmapped: PTE not present: swap entry: swap area 0 \(type\), slot (\d+) "
                                            r"\(offset 0x[0-9a-f]+\)", g)]
        present = re.findall(r"phys 0x[0-9a-f]+  pfn 0x[0-9a-f]+  zone (DMA|Normal)", g)
        check(slots, "no swap entry among hog's pages:\n" + g[-3000:])
        check(len(slots) + len(present) == 72, "%d swapped + %d present of 72 pages sampled:\n%s"
              % (len(slots), len(present), g[-3000:]))
        check(len(set(slots)) == len(slots) and all(0 < s < size_kb // 4 for s in slots),
              "swap slots repeat or fall outside the %d kB device: %s" % (size_kb, slots))
        m.cmd("kill -KILL %d" % pid)
    finally:
        m.kill()


def _gdb_batch_bg(m, commands, started):
    """gdb -batch attached to running Machine `m` with kernel.gdb (in attach
    mode, its breakpoint deleted) and `commands`; returns (process, output so
    far) once GDB printed `started`."""
    argv = ["timeout", "90", "gdb", "-q", "-batch", "-nx", "-iex", "set $gdb_port = %d" % m.gdb_port,
            "-iex", "set $attach = 1", "-x", "gdb/kernel.gdb", "-ex", "delete"]
    for c in commands:
        argv += ["-ex", c]
    argv += ["-ex", "detach"]
    g = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = ""
    deadline = time.time() + 60
    try:
        while started not in out:
            check(time.time() < deadline, "GDB did not go on within 60s:\n" + out[-2000:])
            r, _, _ = select.select([g.stdout], [], [], 0.2)
            if r:
                data = os.read(g.stdout.fileno(), 65536)
                check(data, "GDB ended early:\n" + out[-2000:])
                out += data.decode("utf-8", "replace")
    except BaseException:
        g.kill()
        g.wait()
        raise
    return g, out


def _gdb_finish(g, out, timeout=60):
    try:
        rest, _ = g.communicate(timeout=timeout)
        return out + rest.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        raise AssertionError("GDB did not finish within %ds:\n%s" % (timeout, out[-2000:]))
    finally:
        if g.poll() is None:
            g.kill()
            g.wait()


def _elf_symbol(path, name):
    out = subprocess.run(["nm", path], capture_output=True, text=True).stdout
    return int(re.search(r"^([0-9a-f]+) \w %s$" % re.escape(name), out, re.M).group(1), 16)


def gdb_faultstop_and_usersym():
    cprogs = os.path.join(ROOT, "build", "user", "cprogs")
    entry = int(subprocess.run(["readelf", "-h", cprogs], capture_output=True, text=True).stdout
                .split("Entry point address:")[1].split()[0], 16)
    main = _elf_symbol(cprogs, "chello_main")
    m = Machine(mem="64M", gdb=True)
    try:
        m.boot()
        g, out = _gdb_batch_bg(m, ["usersym chello", "faultstop user", "continue", "faultstop off",
                                   "break chello_main", "continue", "info registers eip cs", "delete"],
                              "faultstop: stopping")
        # GDB's continue follows at once; what is typed meanwhile waits in
        # the UART for the kernel to run.
        time.sleep(1)
        m.send("run chello\n")
        out = _gdb_finish(g, out)
        # The program's first instruction faults its own page in: CR2 is
        # the entry point, a read (fetch) of a page not present, from ring 3.
        check(re.search(r"page fault: CR2 %#010x  error code 0x4: !P \(page not present\) !W \(read\) U \(user mode\)\n"
                        r"  trapped at eip %#010x \(user mode, cs 0x1b\)" % (entry, entry), out),
              "faultstop did not report the entry point's fault:\n" + out)
        check(re.search(r"^\s*0x%x <\w+>:\s+\w+" % entry, out, re.M), "no faulting instruction:\n" + out)
        check(re.search(r"usersym: chello symbols from build/user/cprogs \(.text at 0x[0-9a-f]+\); its main: chello_main at %#x"
                        % main, out), "usersym did not load cprogs:\n" + out)
        check(re.search(r"Breakpoint \d+, %#010x in chello_main \(\)" % main, out), "no stop in chello_main:\n" + out)
        check(re.search(r"^eip\s+%#x\s+%#x <chello_main>\ncs\s+0x1b" % (main, main), out, re.M), "not in chello_main in ring 3:\n" + out)
        m.expect("Hello from user space!", CMD_TIMEOUT)
        m.expect(re.escape(PROMPT), CMD_TIMEOUT)
        check(m.cmd("echo still here").strip() == "still here", "the shell did not go on")
    finally:
        m.kill()


def _make_bg(args, **kw):
    """`make -s ARGS` in a session of its own (QEMU is its child: killed with
    the group on every path by _kill_group)."""
    return subprocess.Popen(["make", "-s"] + args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, **kw)


def _kill_group(p):
    import signal
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.wait()


def _read_until(p, out, pattern, timeout):
    deadline = time.time() + timeout
    while not re.search(pattern, out):
        check(time.time() < deadline, "timed out waiting for %r:\n%s" % (pattern, out[-2000:]))
        r, _, _ = select.select([p.stdout], [], [], 0.2)
        if r:
            data = os.read(p.stdout.fileno(), 65536)
            check(data, "ended before %r:\n%s" % (pattern, out[-2000:]))
            out += data.decode("utf-8", "replace").replace("\r", "")
    return out


def gdb_hbreak_before_paging_and_make_attach():
    """make debug (QEMU stopped at the first instruction), make attach:
    hbreak on the boot code before paging (low half, CR0.PG clear), then on
    kmain (higher half, paging on); later a second make attach to the
    running kernel stops at the shell's kgdb."""
    port = free_port()
    kmain = _elf_symbol(os.path.join(ROOT, "build", "kernel.elf"), "kmain")
    start = _elf_symbol(os.path.join(ROOT, "build", "kernel.elf"), "_start")
    q = _make_bg(["debug", "GDB_PORT=%d" % port, "MEM=64M", "SWAP=0"])
    try:
        qout = _read_until(q, "", r"QEMU is waiting for a debugger", 120)
        flags = ("-batch -ex delete -ex 'hbreak _start' -ex continue -ex 'info registers eip cr0' "
                 "-ex delete -ex 'hbreak kmain' -ex continue -ex 'info registers eip cr0' -ex delete -ex detach")
        r = subprocess.run(["timeout", "90", "make", "-s", "attach", "GDB_PORT=%d" % port, "GDBFLAGS=" + flags],
                           cwd=ROOT, capture_output=True, text=True)
        out = r.stdout + r.stderr
        check(re.search(r"^eip\s+%#x\s+%#x <_start>\ncr0\s+0x\w*?[0-9a-f]\s+\[(?![^\]]*PG)" % (start, start), out, re.M),
              "hbreak _start did not stop at the boot code with paging off:\n" + out)
        # (after kmain's prologue: a breakpoint on a function's name)
        check(re.search(r"^eip\s+(0xc0\w+)\s+\1 <(kernel::init::)?kmain\+(\d+)>\ncr0\s+0x8\w+\s+\[ PG", out, re.M)
              and kmain <= int(re.search(r"^eip\s+(0xc0\w+)\s+\1 <(kernel::init::)?kmain", out, re.M).group(1), 16) < kmain + 64,
              "hbreak kmain did not stop in the higher half with paging on:\n" + out)
        q.stdin.write(b"\n")
        q.stdin.flush()
        qout = _read_until(q, qout, re.escape(PROMPT), BOOT_TIMEOUT)
        g = subprocess.Popen(["timeout", "90", "make", "-s", "attach", "GDB_PORT=%d" % port,
                              "GDBFLAGS=-batch -ex continue -ex 'bt 2' -ex detach"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            gout = _read_until(g, "", r"Breakpoint set at kgdb_breakpoint", 60)
            time.sleep(0.5)
            q.stdin.write(b"kgdb\n")
            q.stdin.flush()
            gout = _gdb_finish(g, gout)
        finally:
            if g.poll() is None:
                g.kill()
                g.wait()
        check(re.search(r"#1 .* in kernel::shell::commands::cmd_kgdb", gout), "make attach did not stop at kgdb:\n" + gout)
        q.stdin.write(b"echo back\n")
        q.stdin.flush()
        _read_until(q, qout, r"\nback\n", CMD_TIMEOUT)
    finally:
        _kill_group(q)


def gdb_make_gdb_with_make_console():
    """make gdb holds the terminal; make console types into the kernel's
    shell through the serial socket: ps there and GDB's ps at the kgdb stop
    agree, and build/serial.log has the boot."""
    port = free_port()
    os.makedirs(BUILD, exist_ok=True)
    sock = os.path.join(BUILD, "serial-%d.sock" % port)
    logf = os.path.join(BUILD, "serial-%d.log" % port)
    where = ["SERIAL_SOCK=" + sock, "SERIAL_LOG=" + logf]
    flags = "-batch -ex delete -ex 'break kgdb_breakpoint' -ex continue -ex 'echo @@ps\\n' -ex ps -ex 'echo @@end\\n' -ex detach"
    q = _make_bg(["gdb", "GDB_PORT=%d" % port, "MEM=64M", "SWAP=0", "GDBFLAGS=" + flags] + where)
    c = None
    try:
        deadline = time.time() + 120
        while not os.path.exists(sock):
            check(time.time() < deadline and q.poll() is None, "make gdb made no %s" % sock)
            time.sleep(0.2)
        c = subprocess.Popen(["make", "-s", "console"] + where, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
        cout = ""
        deadline = time.time() + BOOT_TIMEOUT
        while PROMPT not in cout:
            check(time.time() < deadline, "no prompt on make console:\n" + cout[-2000:])
            c.stdin.write(b"\n")
            c.stdin.flush()
            try:
                cout = _read_until(c, cout, re.escape(PROMPT), 2)
            except AssertionError:
                pass
        c.stdin.write(b"ps\n")
        c.stdin.flush()
        cout = _read_until(c, cout, re.escape(PROMPT) + r"ps\n(.*\n)*?" + re.escape(PROMPT), CMD_TIMEOUT)
        ps = re.search(re.escape(PROMPT) + r"ps\n((.*\n)*?)" + re.escape(PROMPT), cout).group(1)
        c.stdin.write(b"kgdb\n")
        c.stdin.flush()
        qout = _gdb_finish(q, "", 90)
        gps = _gdb_section(qout, "@@ps\n", "@@end")[len("@@ps\n"):]
        check(gps == ps, "GDB's ps differs from the console's:\n%s\n---\n%s" % (gps, ps))
        log = open(logf, errors="replace").read()
        check("Zone ranges:" in log and PROMPT + "ps" in log, "the serial log has not the whole console:\n" + log[:500])
    finally:
        if c is not None:
            _kill_group(c)
        _kill_group(q)
        for f in (sock, logf):
            if os.path.exists(f):
                os.unlink(f)


# Each GDB command given what a new user types: no argument, garbage, too
# many, a pid that is not there, exited, a zombie or a kernel thread, a zone
# that is empty, a pfn past the end; and each run where the kernel is not
# yet what it reads (the first instruction, paging off; kmain, no mm yet).
# (stop, command, what its output must match); every error names the value.
_GDB_BEFORE_MM = [
    ("vtop 0xc0100000", r"^vtop: paging is not on yet"),
    ("buddyinfo", r"^buddyinfo: .*paging is not on yet"),
    ("zoneinfo", r"^zoneinfo: .*paging is not on yet"),
    ("slabinfo", r"^slabinfo: .*paging is not on yet"),
    ("dmesg", r"^dmesg: .*paging is not on yet"),
    ("freelists", r"^freelists: .*paging is not on yet"),
    ("lru Normal", r"^lru: .*paging is not on yet"),
    ("swapinfo", r"^swapinfo: .*paging is not on yet"),
    ("kmaps", r"^kmaps: .*paging is not on yet"),
    ("page 0x100", r"^page: .*paging is not on yet"),
    ("ps", r"^ps: .*paging is not on yet"),
    ("vmas 1", r"^vmas: .*paging is not on yet"),
    ("faultinfo", r"^faultinfo: not stopped at do_page_fault"),
]
_GDB_AT_KMAIN = [
    ("buddyinfo", r"^buddyinfo: the memory node is not built yet \(stopped before mm_init\)"),
    ("zoneinfo", r"^zoneinfo: the memory node is not built yet"),
    ("freelists", r"^freelists: the memory node is not built yet"),
    ("lru Normal", r"^lru: the memory node is not built yet"),
    ("page 0x100", r"^page: mem_map is not built yet \(stopped before mm_init\)"),
    ("vtop 0xc0100000", r"^vtop 0xc0100000 in swapper_pg_dir"),
    ("vtop 0xc0100000 1", r"^vtop: no process 1"),
    ("slabinfo", r"^slabinfo - version: 2.1"),
    ("ps", r"PID"),
    ("kmaps", r"^(slot|kmaps: )"),
    ("swapinfo", r"^(Filename|swapinfo: )"),
    ("dmesg", r"^(\[|dmesg: |$)"),
]


def _gdb_at_kgdb_cases(reaped, zombie):
    return [
        ("vtop", r"^vtop: usage: vtop ADDR \[PID\] \(got ''\)"),
        ("vtop garbage", r"^vtop: ADDR 'garbage' is not a number or an expression"),
        ("vtop $esp", r"^vtop 0x[0-9a-f]{8} in swapper_pg_dir"),
        ("vtop 0xffffffff", r"^vtop 0xffffffff in swapper_pg_dir(.|\n)*  PDE\[1023\]"),
        ("vtop 0x1000 0x1000 0x1000", r"^vtop: usage: vtop ADDR \[PID\] \(got '0x1000 0x1000 0x1000'\)"),
        ("vtop 0x08048000 99999", r"^vtop: no process 99999 \(ps lists them\)"),
        ("vtop 0x08048000 %d" % reaped, r"^vtop: no process %d " % reaped),
        ("vtop 0x08048000 %d" % zombie, r"^vtop: process %d \(hello\) is a zombie: its address space is gone" % zombie),
        ("vtop 0x08048000 1", r"^vtop: pid 1 \(kswapd0\) is a kernel thread: it has no user address space"),
        ("vtop 0x08048000 x1", r"^vtop: PID 'x1' is not a number"),
        ("vmas", r"^vmas: usage: vmas PID \(got ''\)"),
        ("vmas 0", r"^vmas: pid 0 \(swapper\) is a kernel thread"),
        ("vmas 1", r"^vmas: pid 1 \(kswapd0\) is a kernel thread"),
        ("vmas garbage", r"^vmas: PID 'garbage' is not a number"),
        ("vmas %d" % zombie, r"^vmas: process %d \(hello\) is a zombie" % zombie),
        ("vmas %d" % reaped, r"^vmas: no process %d " % reaped),
        ("vmas 2 3", r"^vmas: usage: vmas PID \(got '2 3'\)"),
        ("lru", r"^lru: usage: lru ZONE \[N\]"),
        ("lru Bogus", r"^lru: no zone 'Bogus' \(one of DMA, Normal, HighMem, Movable, or its number 0-3\)"),
        ("lru 7", r"^lru: no zone '7'"),
        ("lru HighMem", r"^Node 0, zone  HighMem: LRU lists .*\n  \(empty zone\)"),
        ("lru Normal many", r"^lru: N 'many' is not a number"),
        ("lru Normal 2 3", r"^lru: usage: lru ZONE \[N\]"),
        ("page", r"^page: usage: page PFN \[OFFSET \[LEN\]\] \(got ''\)"),
        ("page 0x7fffffff", r"^page: pfn 0x7fffffff is beyond max_pfn \(0x[0-9a-f]+\): mem_map has no descriptor"),
        ("page nonsense", r"^page: PFN 'nonsense' is not a number or an expression"),
        ("page 0x100 0xffc 8", r"^page: OFFSET 0xffc \+ LEN 0x8 must stay in the page"),
        ("page 1 2 3 4", r"^page: usage: page PFN \[OFFSET \[LEN\]\] \(got '1 2 3 4'\)"),
        ("freelists Bogus", r"^freelists: no zone 'Bogus'"),
        ("freelists Normal x", r"^freelists: usage: freelists \[ZONE\] \(got 'Normal x'\)"),
        ("usersym", r"^usersym: usage: usersym NAME"),
        ("usersym nosuch", r"^usersym: no user program 'nosuch' in build/user/ \(there: .*hello"),
        ("usersym ../../Makefile", r"^usersym: no user program '../../Makefile' in build/user/"),
        ("usersym hello world", r"^usersym: usage: usersym NAME .*got 'hello world'"),
        ("faultstop off", r"^faultstop: off \(none was set\)"),
        ("faultstop", r"^faultstop: stopping at do_page_fault \(0x[0-9a-f]+\) on every page fault; 'continue'"),
        ("faultstop user", r"^faultstop: stopping at do_page_fault .* on page faults from user mode \(replaces the previous"),
        ("faultstop garbage", r"^faultstop: ADDR 'garbage' is not a number or an expression"),
        ("faultstop user extra", r"^faultstop: usage: faultstop \[user\|ADDR\|off\] \(got 'user extra'\)"),
        ("faultstop off", r"^faultstop: off\n"),
        ("faultinfo", r"^faultinfo: not stopped at do_page_fault's first instruction \(pc 0x[0-9a-f]{8}\)"),
        ("faultinfo now", r"^faultinfo: takes no arguments \(got 'now'\)"),
        ("ps aux", r"^ps: takes no arguments \(got 'aux'\)"),
        ("buddyinfo Normal", r"^buddyinfo: takes no arguments \(got 'Normal'\)"),
        ("zoneinfo 1", r"^zoneinfo: takes no arguments \(got '1'\)"),
        ("slabinfo -a", r"^slabinfo: takes no arguments \(got '-a'\)"),
        ("dmesg -c", r"^dmesg: takes no arguments \(got '-c'\)"),
        ("swapinfo x", r"^swapinfo: takes no arguments \(got 'x'\)"),
        ("kmaps x", r"^kmaps: takes no arguments \(got 'x'\)"),
        # GDB is still usable: the breakpoints are as they were, a report works.
        ("info breakpoints", r"kgdb_breakpoint"),
        ("buddyinfo", r"^Node 0, zone      DMA"),
    ]


def _gdb_case_outputs(out, stop, cases):
    """Check each case's output (between `echo @@STOP|CMD` marks) against
    its pattern; return the failures."""
    bad = []
    parts = re.split(r"^@@(.*)\n", out, flags=re.M)
    got = {}
    for i in range(1, len(parts) - 1, 2):
        got.setdefault(parts[i], []).append(parts[i + 1])
    seen = {}
    for cmd, pattern in cases:
        key = "%s|%s" % (stop, cmd)
        k = seen.get(key, 0)
        seen[key] = k + 1
        text = got.get(key, [None] * (k + 1))[k] if len(got.get(key, [])) > k else None
        if text is None:
            bad.append("%s: `%s` has no output" % (stop, cmd))
        elif "Traceback" in text or "Python Exception" in text or not re.search(pattern, text, re.M):
            bad.append("%s: `%s` printed:\n%s(expected /%s/)" % (stop, cmd, text, pattern))
    return bad


def _gdb_case_commands(stop, cases):
    argv = []
    for cmd, _ in cases:
        argv += ["echo @@%s|%s\\n" % (stop, cmd), cmd]
    return argv


def gdb_bad_arguments_are_named():
    """Every GDB helper given bad or odd arguments, and run too early
    (stopped at the first instruction with paging off; at kmain before
    mm_init), in one boot (make debug, MEM=512M: no HighMem): each prints a
    line starting with its name that names the bad value, with no Python
    traceback, and GDB goes on (a later report works)."""
    port = free_port()
    q = _make_bg(["debug", "GDB_PORT=%d" % port, "MEM=512M", "SWAP=0"])
    # The pids the shell's first two jobs get (after swapper, kswapd0 and
    # sh; checked below): GDB's commands are fixed when it starts, and a
    # script sourced at the stop would end at its first error.
    reaped, zombie = 3, 4
    kgdb_cases = _gdb_at_kgdb_cases(reaped, zombie)
    g = None
    try:
        qout = _read_until(q, "", r"QEMU is waiting for a debugger", 120)
        argv = ["timeout", "150", "gdb", "-q", "-batch", "-nx", "-iex", "set $gdb_port = %d" % port,
                "-x", "gdb/kernel.gdb"]
        for c in (_gdb_case_commands("reset", _GDB_BEFORE_MM) + ["continue"]
                  + _gdb_case_commands("kmain", _GDB_AT_KMAIN)
                  + ["delete", "break kgdb_breakpoint", "echo @@armed\\n", "continue"]
                  + _gdb_case_commands("kgdb", kgdb_cases) + ["detach"]):
            argv += ["-ex", c]
        g = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
        gout = _read_until(g, "", r"@@armed", 90)
        q.stdin.write(b"\n")
        q.stdin.flush()
        qout = _read_until(q, qout, re.escape(PROMPT), BOOT_TIMEOUT)

        def shell(line):
            """The output of shell command `line`, up to its prompt (read
            afresh: an earlier command's text cannot match)."""
            nonlocal qout
            q.stdin.write(line.encode() + b"\n")
            q.stdin.flush()
            text = _read_until(q, "", re.escape(line) + r"\n(.|\n)*" + re.escape(PROMPT), CMD_TIMEOUT)
            qout += text
            return text

        first = shell("run hello &")
        check(re.search(r"\[\d+\] %d\n" % reaped, first), "the first job is not pid %d:\n%s" % (reaped, first))
        shell("wait")
        second = shell("run hello &")
        check(re.search(r"\[\d+\] %d\n" % zombie, second), "the second job is not pid %d:\n%s" % (zombie, second))
        deadline = time.time() + 10
        while not re.search(r"^\s+%d\s+\d+ Z" % zombie, shell("ps"), re.M):
            check(time.time() < deadline, "hello %d did not become a zombie" % zombie)
            time.sleep(0.2)
        q.stdin.write(b"kgdb\n")
        q.stdin.flush()
        gout = _gdb_finish(g, gout, 120)
        _read_until(q, "", re.escape(PROMPT), CMD_TIMEOUT)
        bad = (_gdb_case_outputs(gout, "reset", _GDB_BEFORE_MM) + _gdb_case_outputs(gout, "kmain", _GDB_AT_KMAIN)
               + _gdb_case_outputs(gout, "kgdb", kgdb_cases))
        check(not bad, "%d of %d cases:\n%s" % (len(bad), len(_GDB_BEFORE_MM) + len(_GDB_AT_KMAIN) + len(kgdb_cases),
                                                "\n".join(bad)))
    finally:
        if g is not None:
            _kill_group(g)
        _kill_group(q)


GDB_PROC_TESTS = [("qemu::gdb::ps_and_vmas_match_the_shell", gdb_ps_and_vmas_match_the_shell),
                  ("qemu::gdb::bad_arguments_are_named", gdb_bad_arguments_are_named),
                  ("qemu::gdb::vtop_walks_kernel_highpte_and_unmapped", gdb_vtop_walks_kernel_highpte_and_unmapped),
                  ("qemu::gdb::vtop_names_swap_slots", gdb_vtop_names_swap_slots),
                  ("qemu::gdb::faultstop_and_usersym", gdb_faultstop_and_usersym),
                  ("qemu::gdb::hbreak_before_paging_and_make_attach", gdb_hbreak_before_paging_and_make_attach),
                  ("qemu::gdb::make_gdb_with_make_console", gdb_make_gdb_with_make_console)]


# --- GDB commands for memory state (issue 14) ---

def gdb_reports(m, commands, timeout=90):
    """Run GDB `commands` at one kgdb stop of `m` (gdb_at_kgdb) and return
    each command's output by command, split at `echo` marks put between
    them; a command that failed shows as its error text."""
    argv = []
    for c in commands:
        argv += ["echo @@%s\\n" % c, c]
    out = gdb_at_kgdb(m, argv, timeout)
    parts = re.split(r"^@@(.*)\n", out, flags=re.M)
    got = {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}
    for c in commands:
        check(c in got, "no output of GDB %r:\n%s" % (c, out[-3000:]))
        got[c] = re.sub(r"\[Inferior 1 \(process 1\) detached\]\n?$", "", got[c])
        check("Traceback" not in got[c] and "Python Exception" not in got[c] and "Error occurred" not in got[c],
              "GDB %r failed:\n%s" % (c, got[c]))
    return got


def same_text(what, shell, gdb):
    if shell != gdb:
        import difflib
        diff = "".join(difflib.unified_diff(shell.splitlines(True), gdb.splitlines(True), "shell", "gdb"))
        raise AssertionError("%s: GDB's report differs from the shell's:\n%s" % (what, diff[-3000:]))


def gdb_reports_match_the_shell():
    """After a workload (a 16M hog holding its highmem-first pages, a 3M
    vmalloc, a 1M hog that ends and leaves pages on the pcp lists; real
    highmem), GDB's buddyinfo,
    zoneinfo, slabinfo and dmesg, read from memory at the kgdb stop, are
    byte for byte the shell's reports taken just before it: typing `kgdb`
    allocates nothing and logs nothing, so nothing legitimately differs.
    GDB's freelists walks every free list: consistent, with the blocks per
    order buddyinfo counts; and it reports a free block whose order mark is
    broken on purpose (for one GDB command, then repaired)."""
    built_user_programs()
    m = Machine(mem="160M", args="highmem=64M", gdb=True)
    try:
        m.boot()
        m.cmd("run hog 16M touch hold &")
        wait_for_out(m, "hog: holding 16M", 1, 60)
        v = m.cmd("vmalloc 3M")
        check(re.search(r"0x[0-9a-f]{8}", v), "vmalloc printed no address:\n" + v)
        # A program that ends frees its pages to the pcp lists: zoneinfo's
        # free counts then include cached pages, which GDB must add too.
        check("hog: done" in m.cmd("run hog 1M touch"), "the short hog failed:\n" + m.out[-1500:])
        names = ["buddyinfo", "zoneinfo", "slabinfo", "dmesg"]
        shell = {c: m.cmd(c) for c in names}
        check(re.search(r"count: [1-9]", shell["zoneinfo"]), "no page on a pcp list:\n" + shell["zoneinfo"])
        got = gdb_reports(m, names + ["freelists"])
        for c in names:
            same_text(c, shell[c], got[c])
        check(shell["buddyinfo"].count("\n") == 3, "not three populated zones:\n" + shell["buddyinfo"])
        # freelists walks every list: consistent, and block for block what
        # buddyinfo counts.
        fl = got["freelists"]
        for line in shell["buddyinfo"].splitlines():
            zone, counts = line.split()[3], [int(n) for n in line.split()[4:]]
            part = re.search(r"zone +%s  free lists consistent: .*\n((?:  order.*\n)*)" % zone, fl)
            check(part, "freelists did not find zone %s consistent:\n%s" % (zone, fl))
            walked = [0] * 11
            for order, n in re.findall(r"order +(\d+): +(\d+) blocks", part.group(1)):
                walked[int(order)] = int(n)
            check(walked == counts, "zone %s: freelists walked %r, buddyinfo %r" % (zone, walked, counts))
        # And it catches a broken mark: the head of an order-10 block of
        # Normal made to say order 9 for one command, then put back.
        corrupt = ("python import himem_mm as h; pfn = int(h.zone_lock(h.zones()[1])['free_area'][10]['free_list'][2]"
                   "['head']); assert pfn != h.NIL; at = h.mem_map()[0] + 32 * pfn + 12; "
                   "gdb.selected_inferior().write_memory(at, (9).to_bytes(4, 'little'))")
        restore = "python gdb.selected_inferior().write_memory(at, (10).to_bytes(4, 'little'))"
        bad = gdb_reports(m, [corrupt, "freelists Normal", restore, "freelists"])
        check(re.search(r"free lists BAD.*\n(.*\n)*  BAD: pfn 0x[0-9a-f]+ on the order-10 Movable list: mapcount -128, "
                        r"order 9, type 2", bad["freelists Normal"]), "a broken mark was not found:\n" + bad["freelists Normal"])
        check(bad["freelists"] == fl, "not consistent again after the repair:\n" + bad["freelists"])
        same_text("buddyinfo after the GDB sessions", shell["buddyinfo"], m.cmd("buddyinfo"))
    finally:
        m.kill()


def lru_sums(got, zones, mi):
    """Check GDB's `lru ZONE` outputs (`got`, by command) for `zones`: no BAD
    line, each list's length equal to its counter, the pages shown carrying
    their list's flags, and the lists summed over the zones equal to meminfo
    `mi`'s Active(anon), Inactive(anon), Unevictable; return the sums."""
    sums = {"inactive_anon": 0, "active_anon": 0, "unevictable": 0}
    for z in zones:
        out = got["lru " + z]
        check("BAD" not in out, "lru %s found inconsistencies:\n%s" % (z, out))
        for name, n, counter in re.findall(r"^  (\w+) +(\d+) pages \(nr_lru (\d+)\)", out, re.M):
            check(n == counter, "lru %s: %s has %s pages, counter %s" % (z, name, n, counter))
            sums[name] += int(n)
        for name, body in re.findall(r"^  (\w+) +\d+ pages.*\n((?:      .*\n)*)", out, re.M):
            want = {"active_anon": "lru|active|", "unevictable": "unevictable"}.get(name, "lru|")
            for flags in re.findall(r"flags (\S+)", body):
                check(want in flags and (name == "active_anon") == ("active" in flags),
                      "lru %s: a page on %s has flags %s" % (z, name, flags))
    check(sums["active_anon"] * 4 == mi["Active(anon)"] and sums["inactive_anon"] * 4 == mi["Inactive(anon)"]
          and sums["unevictable"] * 4 == mi["Unevictable"],
          "GDB's lists %r, meminfo Active(anon) %d Inactive(anon) %d Unevictable %d kB"
          % (sums, mi["Active(anon)"], mi["Inactive(anon)"], mi["Unevictable"]))
    return sums


def lru_lists_agree_with_meminfo():
    """Two hogs hold memory, one of it mlocked: GDB's `lru ZONE` walks each
    zone's lists through mem_map; per list the pages walked, the list head's
    length and the zone's counter agree (no BAD line), their sums are
    meminfo's Active(anon), Inactive(anon) and Unevictable (in kB / 4), and
    the pages shown carry the flags of their list. `print $page(PFN)` of the
    first active highmem page shows the same flags, its contents read from
    physical memory are hog's pattern (first word w, last ~w), and `print
    $zone(1)` shows the free pages and watermarks zoneinfo prints for
    Normal."""
    built_user_programs()
    m = Machine(mem="160M", args="highmem=64M", gdb=True)
    try:
        m.boot()
        m.cmd("run hog 24M touch hold &")
        m.cmd("run hog 2M touch lock hold &")
        wait_for_out(m, "hog: holding", 2, 60)
        mi = meminfo_values(m.cmd("meminfo"))
        zi = m.cmd("zoneinfo")
        got = gdb_reports(m, ["lru DMA", "lru Normal", "lru HighMem 4", "print $zone(1)"])
        sums = lru_sums(got, ["DMA", "Normal", "HighMem 4"], mi)
        check(sums["active_anon"] >= 24 * 256 and sums["unevictable"] >= 2 * 256, "the hogs' pages are missing: %r" % sums)
        first_active = re.search(r"^  active_anon .*\n      pfn (0x[0-9a-f]+)", got["lru HighMem 4"], re.M)
        check(first_active, "no active highmem page shown:\n" + got["lru HighMem 4"])
        # The page's contents, from physical memory (a highmem frame has no
        # kernel address): hog writes w first and !w last in every page.
        pfn = "%#x" % int(first_active.group(1), 16)
        cmds = ["print $page(%s)" % pfn, "page %s 0 4" % pfn, "page %s 4092 4" % pfn]
        page = gdb_reports(m, cmds)
        check(re.search(r"page pfn %s \(HighMem, phys 0x[0-9a-f]+\), flags highmem\|lru\|active\|swapbacked, "
                        r"refcount 1, mapcount 1, anon" % pfn, page[cmds[0]]), "print $page:\n" + page[cmds[0]])
        first, last = (int(re.search(r"phys 0x[0-9a-f]+: (0x[0-9a-f]{8})", page[c]).group(1), 16) for c in cmds[1:])
        check(first != 0 and last == first ^ 0xFFFFFFFF, "hog's page %s reads %#x ... %#x" % (pfn, first, last))
        normal = zi.split("zone   Normal\n")[1]
        want = "free %s" % re.search(r"pages free +(\d+)", normal).group(1)
        marks = "min %s low %s high %s" % tuple(re.search(r"%s +(\d+)" % w, normal).group(1) for w in ("min", "low", "high"))
        check(want in got["print $zone(1)"] and marks in got["print $zone(1)"],
              "print $zone(1) against zoneinfo (%s; %s):\n%s" % (want, marks, got["print $zone(1)"]))
    finally:
        m.kill()


def swapinfo_matches_swaps():
    """-m 64M with 64M of swap and a 100M hog holding: GDB's swapinfo prints
    /proc/swaps exactly as the shell's swaps does (Used included), and the
    slots it finds in use in the swap_map agree with the area's counters and
    with meminfo's SwapFree (no BAD line); the LRU lists, which reclaim has
    aged (inactive pages), agree with meminfo as in lru_lists_agree_with_meminfo."""
    built_user_programs()
    m = Machine(mem="64M", swap="64M", gdb=True)
    try:
        m.boot()
        m.cmd("run hog 100M touch hold &")
        wait_for_out(m, "hog: holding 100M", 1, 120)
        swaps = m.cmd("swaps")
        mi = meminfo_values(m.cmd("meminfo"))
        got = gdb_reports(m, ["swapinfo", "lru DMA", "lru Normal"])
        sums = lru_sums(got, ["DMA", "Normal"], mi)
        check(sums["inactive_anon"] > 0, "reclaim left no inactive page: %r" % sums)
        out = got["swapinfo"]
        lines = out.splitlines(True)
        same_text("swapinfo (its /proc/swaps part)", swaps, "".join(lines[:2]))
        check("BAD" not in out, "swapinfo found inconsistencies:\n" + out)
        used = int(re.search(r"(\d+) in use, ", out).group(1))
        check(used > 0 and used * 4 == int(swaps.splitlines()[1].split()[3]), "slots in use %d:\n%s" % (used, out))
        free = int(re.search(r"nr_swap_pages (\d+)", out).group(1))
        check(free * 4 == mi["SwapFree"], "nr_swap_pages %d, SwapFree %d kB" % (free, mi["SwapFree"]))
    finally:
        m.kill()


def kmaps_match_the_shell():
    """On the test kernel with real highmem, after in-kernel tests that
    kmap highmem pages (leaving slots free but stale) GDB's kmaps prints
    the shell's kmaps report exactly, finds each slot's PTE mapping its
    page (no BAD line), and no kmap_atomic slot held at the kgdb stop (the
    shell holds none between commands)."""
    m = Machine(mem="128M", args="highmem=48M", ktest=True, gdb=True)
    try:
        m.boot()
        m.cmd("ktest mm::highmem::kmap_costs", timeout=120)
        shell = m.cmd("kmaps")
        check(re.search(r"^ +\d+ +1 +0x", shell, re.M), "the ktest left no stale slot to see:\n" + shell)
        out = gdb_reports(m, ["kmaps"])["kmaps"]
        same_text("kmaps", shell, out[:len(shell)])
        check("BAD" not in out, "kmaps found inconsistencies:\n" + out)
        check(out[len(shell):] == "kmap_atomic slots (fixmap, one per type): type, slot, address, pfn\n  none held\n",
              "kmap_atomic slots at the kgdb stop:\n" + out[len(shell):])
    finally:
        m.kill()


GDB_MM_TESTS = [("qemu::gdb::mm::reports_match_the_shell", gdb_reports_match_the_shell),
                ("qemu::gdb::mm::lru_lists_agree_with_meminfo", lru_lists_agree_with_meminfo),
                ("qemu::gdb::mm::swapinfo_matches_swaps", swapinfo_matches_swaps),
                ("qemu::gdb::mm::kmaps_match_the_shell", kmaps_match_the_shell)]




# --- seed= (issue 14) ---

SEED_FAULTS = "fail_page_alloc=1,30,0,5"


def seeded_run(args):
    """Boot 64M with ARGS, 12 `vmalloc 16K` (4 page allocations each, while
    fault injection fails 30% of them, 5 at most), then `run auxv` twice.
    Returns (the boot log, what each vmalloc got, the two AT_RANDOMs)."""
    built_user_programs()
    m = Machine(args=args, mem="64M")
    try:
        log = m.boot()
        got = []
        for _ in range(12):
            out = program_lines(m.cmd("vmalloc 16K"))
            fail = re.search(r"got (\d) of 4 pages", out)
            got.append("fail after %s" % fail.group(1) if fail else out.strip())
        randoms = []
        for _ in range(2):
            out = m.cmd("run auxv")
            r = re.search(r"^AT_RANDOM bytes:((?: [0-9a-f]{2}){16})$", out, re.M)
            check(r, "auxv printed no AT_RANDOM bytes:\n" + out[-1500:])
            randoms.append(r.group(1).strip())
        m.send("poweroff\n")
        check(m.wait_exit() == 0, "no clean power-off")
        return log, got, randoms
    finally:
        m.kill()


def seed_repeats_failures_and_at_random():
    """seed=12345 (and 0x3039, the same number) with fault injection: both
    boots say the seed, fail the same page allocations (some, not all) and
    give the n-th program the same AT_RANDOM (the 1st and 2nd differ);
    seed=12346 fails others and gives other bytes. A bad seed= beside it is
    named, and the boot goes on with the good one."""
    log_a, got_a, rnd_a = seeded_run("seed=12345 " + SEED_FAULTS)
    check("random: seed=12345 (0x3039): fault injection and AT_RANDOM repeat on every boot with it" in log_a,
          "no seed line:\n" + log_a[-2000:])
    fails = [g for g in got_a if g.startswith("fail")]
    check(0 < len(fails) < len(got_a), "fault injection failed %d of %d vmallocs: %r" % (len(fails), len(got_a), got_a))
    check(rnd_a[0] != rnd_a[1], "two programs got the same AT_RANDOM: %r" % rnd_a)
    _, got_b, rnd_b = seeded_run(SEED_FAULTS + " seed=0x3039")
    check(got_b == got_a, "same seed, other failures:\n%r\n%r" % (got_a, got_b))
    check(rnd_b == rnd_a, "same seed, other AT_RANDOM:\n%r\n%r" % (rnd_a, rnd_b))
    log_c, got_c, rnd_c = seeded_run("seed=0xZZ seed=12346 " + SEED_FAULTS)
    check('bad value "0xZZ" for seed= (not a number: give it in decimal or 0x hex); default kept' in log_c,
          "no warning naming 0xZZ:\n" + log_c[-2000:])
    check("random: seed=12346 (0x303a)" in log_c, "the good seed= after a bad one was not taken:\n" + log_c[-2000:])
    check(got_c != got_a, "seeds 12345 and 12346 failed the same calls: %r" % got_a)
    check(rnd_c[0] not in rnd_a and rnd_c[1] not in rnd_a, "seeds 12345 and 12346 gave the same AT_RANDOM")


def no_seed_keeps_at_random_from_the_clock():
    """Without seed= nothing is said, and AT_RANDOM differs from boot to
    boot (the time stamp counter, as before the option)."""
    log, _, rnd_a = seeded_run(SEED_FAULTS)
    check("random: seed=" not in log, "a seed line without seed=:\n" + log[-2000:])
    _, _, rnd_b = seeded_run(SEED_FAULTS)
    check(rnd_a[0] != rnd_b[0], "two boots without seed= gave the first program the same AT_RANDOM %r" % rnd_a[0])


SEED_TESTS = [
    ("qemu::seed::same_seed_same_failures_and_at_random", seed_repeats_failures_and_at_random),
    ("qemu::seed::no_seed_keeps_at_random_from_the_clock", no_seed_keeps_at_random_from_the_clock),
]


# --- labs 1 and 2: the vtop command (issue 14) ---

def vtop_refuses_bad_arguments():
    """`vtop` names what is wrong with its words and does nothing; the labs'
    checks cover the walk itself (labs/01-paging/grade.py)."""
    m = Machine(mem="64M")
    try:
        m.boot()
        for line, says in [("vtop", "vtop: usage: vtop ADDR [PID] (got ''); nothing done"),
                           ("vtop 1 2 3", "vtop: usage: vtop ADDR [PID] (got '1 2 3'); nothing done"),
                           ("vtop zz", "vtop: bad address 'zz' (a 32-bit number, decimal or 0x hex); nothing done"),
                           ("vtop 0x100000000", "vtop: bad address '0x100000000'"),
                           ("vtop 0xc0000000 x", "vtop: 'x' is not a pid; nothing done"),
                           ("vtop 0xc0000000 999", "vtop: no process 999 (ps lists them); nothing done")]:
            out = m.cmd(line)
            check(says in out, "%s printed:\n%s\nwant: %s" % (line, out, says))
        # Decimal works as well as hex: 3221225472 is PAGE_OFFSET.
        out = m.cmd("vtop 3221225472")
        check(out.startswith("0xc0000000: pgd ") and "phys 0x00000000" in out, "vtop in decimal:\n" + out)
    finally:
        m.kill()


LAB12_TESTS = [("qemu::shell::vtop_refuses_bad_arguments", vtop_refuses_bad_arguments)]


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
                     ("qemu::shell::low_memory_says_out_of_memory_and_goes_on", shell_survives_low_memory),
                     ("qemu::shell::ktest_filter_list_help_and_trace_offsets", ktest_command_checks),
                     ("qemu::ktest::failed_test_fails_make_run", failed_ktest_fails_make_run),
                     ("qemu::vmalloc::too_big_takes_nothing", vmalloc_too_big_takes_nothing),
                     ("qemu::vmalloc::out_of_memory_fails_cleanly_at_64m", vmalloc_out_of_memory_fails_cleanly),
                     ("qemu::vmalloc::ktest_after_shell_vmalloc_100m", ktest_after_shell_vmalloc),
                     ("qemu::slab::kmalloc_classes_have_linux_geometry", kmalloc_classes_have_linux_geometry),
                     ("qemu::slab::reports_do_not_report_themselves", reports_do_not_report_themselves),
                     ("qemu::slab::kmalloc_report_unused_classes_show_a_dash",
                      kmalloc_report_unused_classes_show_a_dash),
                     ("qemu::slab::one_injected_page_failure_does_not_panic", one_injected_page_failure_does_not_panic),
                     ("qemu::sched::boot_reports_no_sleeping_in_atomic", boot_reports_no_sleeping_in_atomic),
                     ("qemu::mm::allocator_stress_keeps_guest_time", allocator_stress_keeps_guest_time)] + CONSOLE_TESTS + PAGE_ALLOC_TESTS + FAULT_TESTS + REVIEW_TESTS + KTEST_LAYOUT_TESTS + USER_TESTS + EXEC_TESTS + SHELL_JOBS_TESTS + SYSMISC_TESTS + PROGS_TESTS + HIGHPTE_TESTS + SWAPDEV_TESTS + VMA_CACHE_TESTS + SYSCTL_TESTS + OOM_TESTS + RECLAIM_TESTS + MIGRATE_TESTS + COMPACTION_TESTS + CMA_TESTS + PEERS_TESTS + FRAG_TESTS + PROCESS_BENCH_TESTS + GDB_PROC_TESTS + GDB_MM_TESTS + SEED_TESTS + LABS_TESTS + LAB12_TESTS + [
                         ("qemu::user::expected_files_are_current", expected_files_are_current)]:
        if only in name:
            record(name, fn)
    for mem, args in KTEST_BOUNDARIES:
        name = "qemu::ktest::at_%s%s" % (mem, ("_" + re.sub(r"\W+", "_", args)) if args else "")
        if only in name:
            record(name, ktest_at_boundary(mem, args))
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
