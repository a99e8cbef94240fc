#!/usr/bin/env bash
# Exit 0 if nothing listens on localhost:$1, else say who (when ss can tell)
# and exit 1: `make gdb` must not attach GDB to somebody else's QEMU.
set -uo pipefail
port=$1
if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    echo "GDB_PORT=$port is not a TCP port number (1..65535)" >&2
    exit 1
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    who=$(ss -Hltnp "sport = :$port" 2>/dev/null | sed -nE 's/.*users:\(\("([^"]+)",pid=([0-9]+).*/ by \1 (pid \2)/p' | head -n 1)
    echo "port $port is already in use$who: GDB would attach to that instead; choose another with GDB_PORT=N" >&2
    exit 1
fi
exit 0
