# Lab 2 checks: the buddy allocator's split (BuddyZone::expand) and merge
# (__free_one_page, is_free_buddy) in src/mm/buddy.rs, judged by memory
# state: the reports (buddyinfo, zoneinfo, meminfo) against each other, the
# page descriptors as GDB reads them at the kgdb stop (buddy_gdb.py), the
# in-kernel round trip of every free page, and the host tests.

import os
import re
import subprocess

from gradelib import ROOT, boot, check, fail_unless, gdb, ktest

TITLE = "The buddy allocator: split, merge, free lists"

MAX_ORDER = 11
# A small machine with all three zones: DMA, Normal and 128 MB of HighMem.
MEM, ARGS = "256M", "highmem=128M"


def buddyinfo(m):
    """{zone: [free blocks of order 0..10]} from the shell's buddyinfo."""
    out = m.cmd("buddyinfo")
    zones = {z: [int(c) for c in counts.split()]
             for z, counts in re.findall(r"^Node 0, zone\s+(\S+)((?:\s+\d+){%d})\s*$" % MAX_ORDER, out, re.M)}
    fail_unless(zones, "buddyinfo printed no zone line:\n" + out)
    return zones


def pages(counts):
    return sum(c << o for o, c in enumerate(counts))


def zoneinfo(m):
    """{zone: (nr_free_pages, pages on its pcp lists)} for populated zones."""
    out = m.cmd("zoneinfo")
    zones = {}
    for block in re.split(r"^(?=Node 0, zone)", out, flags=re.M):
        name = re.match(r"Node 0, zone\s+(\S+)", block)
        free = re.search(r"^\s+nr_free_pages (\d+)$", block, re.M)
        if name and free:
            pcp = sum(int(c) for c in re.findall(r"^\s+count:\s+(\d+)$", block, re.M))
            zones[name.group(1)] = (int(free.group(1)), pcp)
    fail_unless(zones, "zoneinfo printed no nr_free_pages:\n" + out[-1500:])
    return zones


def memfree_kb(m):
    out = m.cmd("meminfo")
    kb = re.search(r"^MemFree:\s+(\d+) kB$", out, re.M)
    fail_unless(kb, "meminfo printed no MemFree:\n" + out)
    return int(kb.group(1))


def labbuddy(m):
    """At one kgdb stop: the page descriptors' view (buddy_gdb.py's
    labbuddy), then GDB's buddyinfo and freelists (gdb/python/): ({zone:
    counts}, unmerged, misaligned, GDB's text)."""
    out = gdb(m, ["source labs/02-buddy/buddy_gdb.py", "labbuddy", "echo @@buddyinfo\\n", "buddyinfo",
                  "echo @@freelists\\n", "freelists", "echo @@end\\n"])
    zones = {z: [int(c) for c in counts.split()]
             for z, counts in re.findall(r"^labbuddy: zone\s+(\S+)((?:\s+\d+){%d})$" % MAX_ORDER, out, re.M)}
    bad = re.search(r"^labbuddy: unmerged (\d+)(.*)$", out, re.M)
    mis = re.search(r"^labbuddy: misaligned (\d+)(.*)$", out, re.M)
    fail_unless(zones and bad and mis, "GDB's labbuddy printed no result:\n" + out[-2000:])
    return zones, (int(bad.group(1)), bad.group(2)), (int(mis.group(1)), mis.group(2)), out


def gdb_section(out, name):
    """The output of one GDB command that labbuddy() ran."""
    i = out.index("@@%s\n" % name) + len(name) + 3
    return out[i:out.index("\n@@", i) + 1]


def freelists_problems(out):
    """The BAD lines of GDB's freelists, and whether every zone said its
    free lists are consistent."""
    text = gdb_section(out, "freelists")
    bad = [l.strip()[5:] for l in text.splitlines() if l.strip().startswith("BAD: ")]
    zones = re.findall(r"^Node 0, zone\s+\S+\s+free lists (consistent|BAD)", text, re.M)
    fail_unless(zones, "GDB's freelists printed no zone:\n" + text[-1500:])
    return bad, all(z == "consistent" for z in zones)


def workload(m):
    """Allocate and free through the main paths: vmalloc (order-0 pages
    through the per-CPU lists), an order-4 block, a user process's pages
    and page tables; then empty the per-CPU lists and the empty slabs."""
    out = m.cmd("vmalloc 2M")
    area = re.search(r"0x[0-9a-f]{8}", out)
    fail_unless(area, "vmalloc 2M printed no address:\n" + out)
    m.cmd("compact order 4")
    hog = m.cmd("run hog 3M touch", 60)
    fail_unless("touched 3M of 3M" in hog, "hog did not run:\n" + hog)
    m.cmd("vfree " + area.group(0))
    m.cmd("drain")
    m.cmd("shrink")


@check("the reports agree: buddyinfo totals equal zoneinfo's free pages and MemFree", 10, handout="pass")
def reports_agree():
    m = boot(mem=MEM, args=ARGS)
    m.cmd("drain")
    b, z = buddyinfo(m), zoneinfo(m)
    for zone, counts in b.items():
        fail_unless(zone in z, "buddyinfo has zone %s, zoneinfo does not" % zone)
        free, pcp = z[zone]
        fail_unless(pages(counts) + pcp == free, "zone %s: buddyinfo holds %d pages, pcp lists %d, but "
                    "zoneinfo's nr_free_pages is %d" % (zone, pages(counts), pcp, free))
    fail_unless(set(b) == {"DMA", "Normal", "HighMem"}, "zones %s, want DMA, Normal and HighMem" % sorted(b))
    total = sum(f for f, _ in z.values())
    fail_unless(memfree_kb(m) == total * 4, "MemFree %d kB, the zones' free pages %d (%d kB)"
                % (memfree_kb(m), total, total * 4))


@check("the page descriptors (GDB) hold the free blocks buddyinfo counts", 10, handout="pass")
def descriptors_match():
    m = boot(mem=MEM, args=ARGS)
    m.cmd("drain")
    shell = buddyinfo(m)
    text = m.cmd("buddyinfo")
    zones, _, (mis, which), out = labbuddy(m)
    fail_unless(zones == shell, "free blocks per order differ:\n  buddyinfo (the lists' counters): %s\n"
                "  page descriptors (GDB):          %s" % (shell, zones))
    fail_unless(mis == 0, "%d free blocks not aligned to their order:%s" % (mis, which))
    fail_unless(gdb_section(out, "buddyinfo") == text, "GDB's buddyinfo differs from the shell's:\n%s---\n%s"
                % (gdb_section(out, "buddyinfo"), text))
    # The lists themselves, walked by GDB: links, lengths, marks, counters.
    # Unmerged buddies are the next check's business.
    bad, _ = freelists_problems(out)
    other = [b for b in bad if "left unmerged" not in b and not b.startswith("...")]
    fail_unless(not other, "GDB's freelists finds the free lists broken:\n  " + "\n  ".join(other))


@check("a workload gives every page back: MemFree exactly as before", 10, handout="pass")
def no_leak():
    m = boot(mem=MEM, args=ARGS)
    workload(m)  # warm-up: slab caches and per-CPU lists reach their steady size
    before = memfree_kb(m)
    workload(m)
    after = memfree_kb(m)
    fail_unless(after == before, "MemFree %d kB before the workload, %d kB after: %+d pages"
                % (before, after, (after - before) // 4))


@check("no free buddies left unmerged, after boot and after a workload (GDB)", 25, handout="fail")
def all_merged():
    m = boot(mem=MEM, args=ARGS)
    m.cmd("drain")
    for when in ("after boot", "after the workload"):
        if when != "after boot":
            workload(m)
        _, (bad, which), (mis, where), out = labbuddy(m)
        fail_unless(mis == 0, "%s: %d free blocks not aligned to their order:%s" % (when, mis, where))
        fail_unless(bad == 0, "%s: %d pairs of free buddies of the same order left apart "
                    "(the first: pfn, buddy, order):%s" % (when, bad, which))
        problems, consistent = freelists_problems(out)
        fail_unless(consistent and not problems, "%s: GDB's freelists:\n  %s" % (when, "\n  ".join(problems[:8])))


@check("every free page, taken one by one and freed, merges back to the same buddyinfo (ktest)", 25,
       handout="fail")
def round_trip():
    name = "mm::page_alloc::every_free_page_round_trips"
    verdicts = ktest(name, mem="64M")
    fail_unless(verdicts.get(name) == "ok", "%s: %s" % (name, verdicts.get(name, "did not run")))


HOST_TESTS = ["split_and_merge_back", "ranges_freed_in_pieces_merge", "no_merge_across_zone_boundary",
              "exhaustion_returns_none_and_nothing_leaks"]


@check("host tests of split and merge (cargo test mm::buddy)", 20, handout="fail")
def host_tests():
    r = subprocess.run(["cargo", "test", "--lib", "mm::buddy::tests::"], cwd=ROOT, timeout=600,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ, CARGO_TERM_COLOR="never"))
    out = r.stdout.decode("utf-8", "replace")
    failed = [t for t in HOST_TESTS if not re.search(r"^test mm::buddy::tests::%s \.\.\. ok$" % t, out, re.M)]
    why = "".join("\n  %s: %s" % (t, _panic(out, t)) for t in failed)
    fail_unless(not failed, "host tests failed (cargo test --lib mm::buddy::tests::):" + why)
    fail_unless(r.returncode == 0, "cargo test mm::buddy failed:\n" + out[-1500:])


def _panic(out, test):
    """The panic message of `test` in libtest's output, or its verdict line."""
    m = re.search(r"^---- mm::buddy::tests::%s stdout ----\n(?:.*\n)*?.*panicked at .*\n((?:.+\n){1,4})" % test, out, re.M)
    if m:
        msg = m.group(1).replace("stack backtrace:", "").strip().replace("\n", " ")
        return msg if len(msg) < 300 else msg[:300] + " ..."
    v = re.search(r"^test mm::buddy::tests::%s \.\.\. (.*)$" % test, out, re.M)
    return v.group(1) if v else "did not run (does the crate build?)"
