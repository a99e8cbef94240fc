#!/usr/bin/env bash
# Refuse a MEM that cannot boot the kernel, before QEMU starts: GRUB needs
# 5 MB to load it (below that it says "out of memory" and the run exits 7),
# and below about 2 MB QEMU's firmware hangs without a word, so `make run
# MEM=1M` waited for ever. MEM is read as QEMU's -m reads it (a number,
# fractions allowed, with an optional k/M/G/T/P/E suffix; no suffix means
# MiB; 0 means QEMU's default of 128M). What this script cannot read is left
# to QEMU, which names its own errors.
set -uo pipefail
mem=$1
min_mb=5
if [[ $mem =~ ^([0-9]+(\.[0-9]+)?)([kKmMgGtTpPeE]?)$ ]]; then
    num=${BASH_REMATCH[1]}
    case ${BASH_REMATCH[3]} in
    k | K) shift_mb=-10 ;;
    "" | m | M) shift_mb=0 ;;
    g | G) shift_mb=10 ;;
    t | T) shift_mb=20 ;;
    p | P) shift_mb=30 ;;
    *) shift_mb=40 ;;
    esac
    # A whole number is judged by bash (no awk at every `make run`): in K
    # below min_mb MiB of KiB, in M below min_mb, in G and up never.
    if [[ $num =~ ^[0-9]{1,9}$ ]]; then
        n=$((10#$num))
        case $shift_mb in
        -10) below=$((n > 0 && n < min_mb * 1024)) ;;
        0) below=$((n > 0 && n < min_mb)) ;;
        *) below=0 ;;
        esac
    elif awk -v n="$num" -v s="$shift_mb" -v min="$min_mb" 'BEGIN { mb = n * 2 ^ s; exit !(mb > 0 && mb < min) }'; then
        below=1
    else
        below=0
    fi
    if [ "$below" = 1 ]; then
        echo "MEM=$mem is below ${min_mb}M: GRUB cannot load the kernel in less (and below 2M QEMU's firmware" >&2
        echo "hangs without a word); 16M and up are tested (see 'make help')" >&2
        exit 1
    fi
fi
exit 0
