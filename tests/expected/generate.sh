#!/usr/bin/env bash
# Regenerate tests/expected/*.txt: what the user programs of issue 10 print
# on this x86 Linux host, which is the reference the QEMU tests compare
# himem's output with (tests/qemu.py, block "user programs against Linux").
# A file NAME-ARGS.txt holds the stdout of `NAME ARGS` (arguments joined by
# -); README.md says how each run ends and which lines differ by nature.
#
# Each program runs with argv[0] = NAME (as the shell's `run NAME` starts
# it), as an ordinary user (nobody: root's capabilities lift the
# RLIMIT_MEMLOCK that mlocktest and sysfuzz meet), under `setarch i386
# --3gb` (a 32-bit process on x86-64 Linux may map up to 4G; --3gb gives it
# i386's TASK_SIZE, 0xc0000000, so kernel addresses are refused as on
# i386) with no address randomization (-R: himem places nothing at random,
# so its stack ends at 0xc0000000 and badptr's 0xbffffffc is mapped on
# both), and with stdout a terminal (script(1)), as himem's console is:
# badptr's ioctl TCGETS reaches its pointer only on a terminal.
#
# OUT=DIR writes the files there instead (tests/qemu.py does, to check
# that the stored files are what the programs print now).
set -euo pipefail
cd "$(dirname "$0")/../.."
make -s user
out=${OUT:-tests/expected}
mkdir -p "$out"
# Root drops to nobody; an ordinary user is one already.
asuser=
[ "$(id -u)" -ne 0 ] || asuser="setpriv --reuid=65534 --regid=65534 --clear-groups"
work=$(mktemp -d)
chmod 777 "$work" # nobody writes stderr there
trap 'rm -rf "$work"' EXIT

# run FILE NAME ARGS...: the stdout of NAME ARGS into $out/FILE; its exit
# status (or 128 + signal) printed.
run() {
    local file=$1 name=$2
    shift 2
    cp "build/user/$name" "$work/$name"
    local cmd
    cmd=$(printf '%q ' "$@")
    set +e
    # script(1) runs the command with a terminal on stdin, stdout and
    # stderr; stderr is sent to a file of its own (via exec) so that the
    # .txt gets stdout alone. \r: the terminal's line discipline. script
    # starts the command through $SHELL -c; `exec` keeps that shell from
    # waiting for the program, since a shell that waits (dash, the usual
    # /bin/sh) writes "Segmentation fault" onto the terminal, into stdout.
    (cd "$work" && script -qec "exec $asuser setarch i386 --3gb -R \
        bash -c 'exec -a $name ./$name $cmd 2>$work/stderr'" /dev/null </dev/null) | tr -d '\r' >"$out/$file"
    local status=${PIPESTATUS[0]}
    set -e
    echo "$file: exit status $status$([ -s "$work/stderr" ] && echo ", stderr: $(head -c 200 "$work/stderr")")"
}

run forktest.txt forktest
run forktest-20.txt forktest 20
run cow-64M.txt cow 64M
run cow.txt cow
run mlocktest.txt mlocktest
for what in null text kread kjump stack; do
    run "segv-$what.txt" segv "$what"
done
run badptr.txt badptr
run zerocheck.txt zerocheck
run zerocheck-64M.txt zerocheck 64M
run dfcheck-5000.txt dfcheck 5000
run stress-8-16M.txt stress 8 16M
run stress-200-1M.txt stress 200 1M
run sysfuzz-10000-1.txt sysfuzz 10000 1
run sysfuzz-1000000-1.txt sysfuzz 1000000 1
run cfork.txt cfork
run oomadj.txt oomadj
