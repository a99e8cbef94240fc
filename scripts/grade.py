#!/usr/bin/env python3
"""`make grade LAB=n`: run lab n's checks (labs/NN-slug/grade.py) against
this tree and print `Score: N/M`. Exit status 0 only at full marks.
GRADE_JSON=FILE also writes the results there (make test reads them)."""

import glob
import importlib.util
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))


def lab_dir(arg):
    """labs/NN-slug for LAB=n, or an error naming the value and the labs there are."""
    labs = sorted(glob.glob(os.path.join(ROOT, "labs", "[0-9][0-9]-*")))
    names = ", ".join("%d (%s)" % (int(os.path.basename(d)[:2]), os.path.basename(d)[3:]) for d in labs)
    if not arg.isdigit():
        sys.exit("make grade: LAB=%r is not a lab number; the labs are %s" % (arg, names))
    found = [d for d in labs if int(os.path.basename(d)[:2]) == int(arg)]
    if not found:
        sys.exit("make grade: there is no lab %s; the labs are %s" % (arg, names))
    return found[0]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: scripts/grade.py N   (make grade LAB=N)")
    d = lab_dir(sys.argv[1])
    out = os.environ.get("GRADE_JSON")
    if out and not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        sys.exit("make grade: GRADE_JSON=%s: its directory does not exist; nothing graded" % out)
    import gradelib
    spec = importlib.util.spec_from_file_location("lab_grade", os.path.join(d, "grade.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    print("== Lab %d: %s ==" % (int(os.path.basename(d)[:2]), getattr(mod, "TITLE", os.path.basename(d)[3:])),
          flush=True)
    results = gradelib.run(d)
    got = sum(r[2] for r in results)
    total = sum(r[1] for r in results)
    print("Score: %d/%d" % (got, total))
    if out:
        with open(out, "w") as f:
            json.dump([{"name": n, "points": p, "got": g, "handout": h, "reason": r}
                       for n, p, g, h, r in results], f, indent=1)
    return 0 if results and got == total else 1


if __name__ == "__main__":
    sys.exit(main())
