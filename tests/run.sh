#!/usr/bin/env bash
# `make test`: host unit tests (cargo test), then the in-QEMU tests
# (tests/qemu.py, which also runs the in-kernel tests). Ends with one line
# `N passed, N failed` over both; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
status=0

echo "== host tests (cargo test, and tools/benchplot's) =="
host_log=$(mktemp)
cargo test --color never 2>&1 | tee "$host_log"
host_rc=${PIPESTATUS[0]}
# The chart tool of `make bench` is a cargo package of its own.
cargo test --color never --manifest-path tools/benchplot/Cargo.toml 2>&1 | tee -a "$host_log"
[ "${PIPESTATUS[0]}" -eq 0 ] || host_rc=1
while read -r p f; do
    passed=$((passed + p))
    failed=$((failed + f))
done < <(sed -nE 's/^test result: [A-Za-z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' "$host_log")
if [ "$host_rc" -ne 0 ] && ! grep -q '^test result:' "$host_log"; then
    echo "host tests did not build or run"
    failed=$((failed + 1))
fi
[ "$host_rc" -eq 0 ] || status=1
rm -f "$host_log"

echo
echo "== kernel build (the normal kernel, then the test kernel: KTEST=1) =="
if make -s iso && make -s iso KTEST=1; then
    echo
    echo "== QEMU tests (tests/qemu.py) =="
    qemu_log=$(mktemp)
    python3 tests/qemu.py 2>&1 | tee "$qemu_log"
    qemu_rc=${PIPESTATUS[0]}
    if counts=$(sed -nE 's/^qemu: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$qemu_log") && [ -n "$counts" ]; then
        read -r p f <<<"$counts"
        passed=$((passed + p))
        failed=$((failed + f))
    else
        echo "the QEMU test harness did not finish"
        failed=$((failed + 1))
    fi
    [ "$qemu_rc" -eq 0 ] || status=1
    rm -f "$qemu_log"
else
    echo "kernel build failed"
    failed=$((failed + 1))
    status=1
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] || status=1
exit $status
