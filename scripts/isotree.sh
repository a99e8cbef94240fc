#!/usr/bin/env bash
# The ISO's tree, kept up to date without remaking what did not change:
#   isotree.sh TREE KERNEL SYMS GRUBCFG   write TREE/boot/: the (stripped)
#       kernel as kernel.elf, its symbols, grub.cfg and the programs. A file
#       is written only when its content changed.
#   isotree.sh stale TREE ISO          exit 0 when ISO must be remade: it is
#       missing, or a file or folder of TREE is newer (a program added or
#       removed changes its folder's time).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1-}" = stale ]; then
    [ $# -eq 3 ] || { echo "isotree.sh stale TREE ISO" >&2; exit 2; }
    [ -f "$3" ] || exit 0
    [ -n "$(find "$2" -newer "$3" -print -quit)" ]
    exit
fi
[ $# -eq 4 ] || { echo "isotree.sh TREE KERNEL SYMS GRUBCFG" >&2; exit 2; }
tree=$1 kernel=$2 syms=$3 cfg=$4
put() { cmp -s -- "$1" "$2" || cp -- "$1" "$2"; }
mkdir -p "$tree/boot/grub"
put "$kernel" "$tree/boot/kernel.elf"
put "$syms" "$tree/boot/$(basename -- "$syms")"
put "$cfg" "$tree/boot/grub/grub.cfg"
bash scripts/progs.sh copy "$tree/boot/user"
