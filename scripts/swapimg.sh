#!/usr/bin/env bash
# The swap disk of `make run` (issue 11): `make swap` runs this with SWAP
# and SWAP_IMG in the environment (as typed: no quoting can break them). It
# makes SWAP_IMG, a raw disk image of SWAP bytes holding a swap area made by
# the real mkswap (util-linux), unless it exists already. SWAP is
# a whole number with an optional K, M or G suffix (no suffix means MiB, as
# QEMU's -m and MEM= read it); 0 means no swap disk and makes nothing.
# The image is sparse: only mkswap's header page takes room on the host.
set -euo pipefail
size=$SWAP
img=$SWAP_IMG
[ "$size" = 0 ] && exit 0
if ! [[ $size =~ ^([0-9]+)([kKmMgG]?)$ ]]; then
    echo "SWAP=$size is not a size: a whole number with an optional K, M or G suffix (SWAP=256M, SWAP=1G), or SWAP=0 for no swap disk; nothing done" >&2
    exit 1
fi
num=$((10#${BASH_REMATCH[1]}))
case ${BASH_REMATCH[2]} in
k | K) bytes=$((num << 10)) ;;
g | G) bytes=$((num << 30)) ;;
*) bytes=$((num << 20)) ;;
esac
# mkswap wants 10 pages at least (its "swap space needs to be at least
# 40 KiB"), and the kernel swaps whole 4 KiB pages.
if [ "$bytes" -lt $((40 << 10)) ]; then
    echo "SWAP=$size is below 40K, the least mkswap makes (10 pages); SWAP=0 attaches no swap disk; nothing done" >&2
    exit 1
fi
if [ $((bytes % 4096)) -ne 0 ]; then
    echo "SWAP=$size is not a whole number of 4K pages; nothing done" >&2
    exit 1
fi
[ -f "$img" ] && exit 0
mkswap=$(command -v mkswap || true)
for p in /usr/sbin/mkswap /sbin/mkswap; do
    [ -n "$mkswap" ] || { [ -x "$p" ] && mkswap=$p; } || true
done
if [ -z "$mkswap" ]; then
    echo "swap image: mkswap (util-linux) not found: scripts/setup.sh installs it; or SWAP=0 for no swap disk" >&2
    exit 1
fi
mkdir -p "$(dirname "$img")"
tmp="$img.tmp.$$"
trap 'rm -f "$tmp"' EXIT
truncate -s "$bytes" "$tmp"
chmod 600 "$tmp"
# mkswap warns that a sparse file "contains holes" (a swap *file* of a
# Linux host must not); this one is a disk image, where holes read as
# zeros: keep its words for a failure only.
if ! log=$("$mkswap" -f "$tmp" 2>&1); then
    echo "$log" >&2
    echo "swap image: mkswap failed on $tmp; nothing made" >&2
    exit 1
fi
mv "$tmp" "$img"
trap - EXIT
echo "swap image: $img: $(grep -m1 '^Setting up' <<<"$log" || echo "made by $mkswap")" >&2
