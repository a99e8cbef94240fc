#!/usr/bin/env bash
# Write the function symbols of a kernel ELF as `address size name` lines,
# sorted by address, names demangled and without Rust's hash suffix.
# GRUB loads the result as the `symbols` module (see src/kernel/ksyms.rs).
set -euo pipefail
elf=$1
out=$2
nm --defined-only --print-size --numeric-sort --demangle "$elf" |
    awk 'NF >= 4 && ($3 == "T" || $3 == "t") { name = $4; for (i = 5; i <= NF; i++) name = name " " $i; print $1, $2, name }' |
    sed -E 's/::h[0-9a-f]{16}$//' > "$out.tmp"
# Symbols without a size (assembly labels): give them size 0.
nm --defined-only --numeric-sort "$elf" |
    awk '($2 == "T" || $2 == "t") { print $1, "00000000", $3 }' > "$out.all"
sort -u -k1,1 "$out.tmp" "$out.all" | sort -k1,1 > "$out"
rm -f "$out.tmp" "$out.all"
