#!/usr/bin/env bash
# `make bench`: run the benchmark boot (the command after LOG), keep its whole
# console output in LOG, show the kernel's warnings and the table, and exit
# non-zero unless the kernel finished the table and QEMU powered off cleanly
# (a pipe into sed used to hide both a panic and QEMU's status).
set -uo pipefail
log=$1
shift
"$@" </dev/null >"$log" 2>&1
rc=$?
# GRUB's part of the console ends where the kernel's log begins.
kernel=$(tr -d '\r' <"$log" | sed -n '/himem version\|^\[ *[0-9]*\.[0-9]*\]\|^benchmark/,$p')
# With loglevel=4, what the kernel prints before the table is warnings and worse.
printf '%s\n' "$kernel" | sed -n '/^benchmark/q;/\S/p'
# Lines that start with '@plot ' are chart data, not table rows.
printf '%s\n' "$kernel" | sed -n '/^benchmark/,/^bench: done/p' | grep -v '^@plot '
if [ "$rc" -ne 0 ] || ! grep -q '^bench: done' <<<"$kernel"; then
    echo
    why="QEMU exit status $rc"
    [ "$rc" -eq 124 ] && why="timed out after 600 s"
    [ "$rc" -eq 0 ] && why="the kernel stopped before 'bench: done'"
    if [ -z "$kernel" ]; then
        # Nothing from the kernel (GRUB failed, or a CPU it refuses): show the console.
        tr -d '\r' <"$log" | tail -n 25
    fi
    echo "make bench: FAILED ($why); the whole console is in $log"
    [ "$rc" -ne 0 ] && exit "$rc"
    exit 1
fi
