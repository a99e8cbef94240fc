"""The checks of the course labs (`make grade LAB=n`), in the shape of JOS's
gradelib: a lab's labs/NN-slug/grade.py declares checks with @check, each
worth points; scripts/grade.py runs them in order and prints one line per
check and `Score: N/M`.

A check boots the kernel with boot(), drives the shell (Machine.cmd), reads
memory state through the reports or through GDB at the kgdb stop (gdb()),
and fails with fail_unless(). The machines a check boots are killed when it
ends, however it ends; every boot and every GDB run has a timeout.

`handout=` says what the check does in the student tree `make handout
LAB=n` writes: "fail" (it grades the code the handout removes) or "pass"
(it holds with the stubs too). make test proves both, for every lab.
"""

import os
import re
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import qemu  # noqa: E402  (tests/qemu.py: Machine, gdb_at_kgdb)

CHECKS = []  # (name, points, handout, fn), in declaration order
_machines = []  # booted by the running check


class CheckFailed(Exception):
    pass


def check(name, points, handout):
    """Declare a check: `@check("what it proves", 20, handout="fail")`."""
    if handout not in ("fail", "pass"):
        raise ValueError("check %r: handout= must be \"fail\" or \"pass\", not %r" % (name, handout))
    if not isinstance(points, int) or points <= 0:
        raise ValueError("check %r: points must be a positive whole number, not %r" % (name, points))

    def register(fn):
        CHECKS.append((name, points, handout, fn))
        return fn
    return register


def fail_unless(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def boot(**kw):
    """A qemu.Machine booted to the shell prompt with a gdb stub (gdb=True);
    keyword arguments as qemu.Machine's (args, mem, ktest, swap)."""
    kw.setdefault("gdb", True)
    m = qemu.Machine(**kw)
    _machines.append(m)
    m.boot()
    return m


def gdb(m, commands, timeout=60):
    """GDB's output of `commands` run at the kgdb stop of machine `m`."""
    return qemu.gdb_at_kgdb(m, commands, timeout)


def ktest(filter, mem="2G", args="", swap=None, timeout=120):
    """Boot the test kernel, run the in-kernel tests whose names contain
    `filter` and return {name: verdict} ("ok", "FAILED ...", "ignored ...")."""
    m = boot(mem=mem, args=args, ktest=True, swap=swap, gdb=False)
    out = m.cmd("ktest " + filter, timeout)
    verdicts = {mt.group(1): mt.group(2) for mt in
                re.finditer(r"^test (\S+) \.\.\. (ok|ignored(?:, .*)?|FAILED.*)$", out, re.M)}
    fail_unless(verdicts, "no in-kernel test matched %r:\n%s" % (filter, out[-800:]))
    return verdicts


def run(lab_dir):
    """Run every check of the lab in `lab_dir`; print and return the results
    as a list of (name, points, got, handout, reason)."""
    results = []
    for name, points, handout, fn in CHECKS:
        start = time.time()
        reason = ""
        try:
            fn()
            got = points
        except Exception as e:  # noqa: BLE001 - every failure costs the check's points
            got = 0
            reason = str(e) or type(e).__name__
        finally:
            while _machines:
                _machines.pop().kill()
        verdict = "OK" if got == points else "FAIL"
        line = "%s: %s (%d/%d) %.1fs" % (name, verdict, got, points, time.time() - start)
        print(line if not reason else line + "\n    " + reason.strip().replace("\n", "\n    "), flush=True)
        results.append((name, points, got, handout, reason))
    return results


def show(m, line, timeout=60, keep=None):
    """Run shell command `line` on machine `m` and print it as the README
    shows a session (`himem# line`, then its output; with `keep`, only the
    lines that regex matches); return the output. For the labs' capture.py."""
    out = m.cmd(line, timeout)
    # A job's output can come between the prompt and the echo.
    out = "".join(l + "\n" for l in out.splitlines() if l != line)
    if keep:
        out = "".join(l + "\n" for l in out.splitlines() if re.search(keep, l))
    sys.stdout.write("himem# %s\n%s" % (line, out))
    return out
