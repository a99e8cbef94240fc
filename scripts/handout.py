#!/usr/bin/env python3
"""`make handout LAB=n DEST=dir`: write the student tree of lab n.

Every file git tracks (or would: untracked files not ignored) is copied to
DEST. In each, the blocks lab n marks

    // LAB n: BEGIN what the student writes here
    ...the solution...
    // LAB n: STUB
    // the stub, each line commented once
    // LAB n: END

lose the solution: the lines between BEGIN and END become the stub lines
with their first comment leader (after the indentation) removed. The BEGIN
and END lines stay, to show where to write. `#` marks blocks the same way in
Python, shell, make and assembly. Other labs' blocks are copied as they are.
"""

import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = re.compile(r"^(\s*)(//|#) LAB (\d+): (BEGIN|STUB|END)\b")


class MarkerError(Exception):
    pass


def cut(text, lab, where):
    """`text` with lab `lab`'s blocks replaced by their stubs, and the number
    of blocks; raises MarkerError naming `where` and the line for a block
    left open, an END or STUB without BEGIN, or a stub line without its
    comment leader."""
    out = []
    state = None  # None, "solution" or "stub": inside a block of `lab`
    blocks = 0
    open_line = 0
    for n, line in enumerate(text.splitlines(keepends=True), 1):
        m = MARK.match(line)
        if m and int(m.group(3)) == lab:
            kind = m.group(4)
            if kind == "BEGIN":
                if state:
                    raise MarkerError("%s:%d: LAB %d: BEGIN inside the block opened at line %d"
                                      % (where, n, lab, open_line))
                state, open_line = "solution", n
                blocks += 1
                out.append(line)
            elif kind == "STUB":
                if state != "solution":
                    raise MarkerError("%s:%d: LAB %d: STUB outside a BEGIN block" % (where, n, lab))
                state = "stub"
            else:
                if not state:
                    raise MarkerError("%s:%d: LAB %d: END without BEGIN" % (where, n, lab))
                state = None
                out.append(line)
            continue
        if state == "stub":
            s = re.match(r"^(\s*)(//|#) ?(.*)$", line, re.S)
            if not s:
                raise MarkerError("%s:%d: a LAB %d stub line must be commented (// or #): %r"
                                  % (where, n, lab, line.rstrip()))
            out.append(s.group(1) + s.group(3) if s.group(3).strip() else "\n")
        elif state != "solution":
            out.append(line)
    if state:
        raise MarkerError("%s:%d: LAB %d: BEGIN without END" % (where, open_line, lab))
    return "".join(out), blocks


def tracked_files():
    r = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                       stdout=subprocess.PIPE, check=True)
    return sorted({f for f in r.stdout.decode().split("\0") if f and os.path.lexists(os.path.join(ROOT, f))})


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: scripts/handout.py N DEST   (make handout LAB=N DEST=dir)")
    if not sys.argv[1].isdigit():
        sys.exit("make handout: LAB=%r is not a lab number (see labs/)" % sys.argv[1])
    lab, dest = int(sys.argv[1]), os.path.abspath(sys.argv[2])
    labs = os.path.join(ROOT, "labs")
    if not os.path.isdir(labs) or not [d for d in os.listdir(labs) if d[:2].isdigit() and int(d[:2]) == lab]:
        sys.exit("make handout: there is no lab %d (see labs/)" % lab)
    if os.path.exists(dest) and (not os.path.isdir(dest) or os.listdir(dest)):
        sys.exit("make handout: DEST=%s exists and is not an empty directory; nothing written" % sys.argv[2])
    if dest == ROOT or dest.startswith(ROOT + os.sep):
        sys.exit("make handout: DEST=%s is inside this tree; choose a directory outside it" % sys.argv[2])
    blocks, files = 0, []
    try:
        for f in tracked_files():
            src = os.path.join(ROOT, f)
            if os.path.islink(src) or not os.path.isfile(src):
                files.append((f, None, None))
                continue
            data = open(src, "rb").read()
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                files.append((f, data, None))
                continue
            new, n = cut(text, lab, f)
            blocks += n
            files.append((f, new.encode("utf-8"), n))
    except MarkerError as e:
        sys.exit("make handout: %s; nothing written" % e)
    if blocks == 0:
        sys.exit("make handout: no file marks lab %d (// LAB %d: BEGIN); nothing written" % (lab, lab))
    try:
        os.makedirs(dest, exist_ok=True)
    except OSError as e:
        sys.exit("make handout: cannot create DEST=%s: %s; nothing written" % (sys.argv[2], e.strerror))
    for f, data, n in files:
        src, dst = os.path.join(ROOT, f), os.path.join(dest, f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if data is None or not n:
            # Unchanged files keep their times too, so a build directory
            # copied from this tree (build/user) is still up to date there.
            shutil.copy2(src, dst, follow_symlinks=False)
        else:
            with open(dst, "wb") as out:
                out.write(data)
            shutil.copymode(src, dst)
    # A repository of its own, so the student's changes show in `git diff`.
    subprocess.run("git init -q && git add -A && git -c user.name=himem -c user.email=himem@localhost "
                   "commit -q -m 'Lab %d handout'" % lab, shell=True, cwd=dest, check=True)
    changed = sorted(f for f, _, n in files if n)
    print("make handout: lab %d written to %s: %d blocks in %s" % (lab, dest, blocks, ", ".join(changed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
