#!/usr/bin/env bash
# The fragmentation study (src/bench/frag.rs): one boot of the bench kernel per
# configuration, since mobility grouping and direct compaction are chosen at
# boot (`bench_only=frag`, plus `mobility_grouping=off`, `compaction=off`).
# Runs all four (or those named) and appends each boot's console to LOG, so that
# LOG holds every configuration's rows and @plot lines.
#
# -m 1G by default: ZONE_HIGHMEM is then 1/8 of RAM, so the movable and the
# unmovable fill meet in lowmem, as on the machines of Gorman's tests (at 2G
# highmem takes half the movable fill and the slab clumps in lowmem whatever the
# allocator does); and the four boots take about 2.5 minutes (2G: about 4).
#
#   scripts/bench-frag.sh LOG [CONFIG...]     (FRAG_MEM=1G by default: see above)
#
# CONFIG: on-on, on-off, off-on, off-off (grouping-compaction). Prints the rows;
# exits non-zero if a boot did not finish its rows.
set -uo pipefail
log=${1:?usage: scripts/bench-frag.sh LOG [on-on|on-off|off-on|off-off...]}
shift
configs=("$@")
[ ${#configs[@]} -eq 0 ] && configs=(on-on on-off off-on off-off)
mem=${FRAG_MEM:-1G}
build=${BUILD:-build}
rc=0
for c in "${configs[@]}"; do
    case $c in
        on-on) args="" ;;
        on-off) args="compaction=off" ;;
        off-on) args="mobility_grouping=off" ;;
        off-off) args="mobility_grouping=off compaction=off" ;;
        *) echo "bench-frag: unknown configuration '$c' (on-on, on-off, off-on, off-off)"; exit 2 ;;
    esac
    iso=$build/bench-frag-$c.iso
    one=$build/bench-frag-$c.log
    # No swap disk: the study never reclaims (see frag.rs), so nothing would use it.
    make -s iso BENCH=1 ARGS="bench bench_icount loglevel=4 bench_only=frag $args" ISO="$iso" || exit 1
    echo "# bench-frag: $c ($args), -m $mem"
    bash scripts/bench.sh "$one" timeout 300 qemu-system-i386 -m "$mem" -cdrom "$iso" -boot d -no-reboot \
        -display none -icount shift=0,sleep=off -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -chardev stdio,id=s0,mux=off,signal=off -serial chardev:s0 -monitor none || rc=1
    tr -d '\r' <"$one" >>"$log"
done
exit $rc
