#!/usr/bin/env bash
# The fragmentation study's other configurations (src/bench/frag.rs): one boot
# of the bench kernel each, since mobility grouping and direct compaction are
# chosen at boot. `make bench` runs grouping on, compaction on in its own boot;
# this runs the rest (or the configurations named) and appends each boot's
# console to LOG, so that LOG holds every configuration's rows and @plot lines.
#
#   scripts/bench-frag.sh LOG [CONFIG...]     (MEM=2G by default, as make bench)
#
# CONFIG: on-on, on-off, off-on, off-off (grouping-compaction). Prints the rows;
# exits non-zero if a boot did not finish its rows.
set -uo pipefail
log=${1:?usage: scripts/bench-frag.sh LOG [on-on|on-off|off-on|off-off...]}
shift
configs=("$@")
[ ${#configs[@]} -eq 0 ] && configs=(on-off off-on off-off)
mem=${MEM:-2G}
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
