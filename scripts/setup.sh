#!/usr/bin/env bash
# Install what building and booting the kernel needs on a Debian machine:
# QEMU for i386, GRUB's BIOS image and grub-mkrescue (with xorriso and mtools
# for the ISO), GDB and socat (make console), mkswap for the swap disk image (util-linux: Essential in
# Debian, but a trimmed image may lack it), and gcc-multilib for the user
# programs (user/c/, built with gcc -m32 -static against the 32-bit glibc). rust-src comes by itself
# through rust-toolchain.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
# The two slow checks (rustc's sysroot, a gcc -m32 -static link: 0.3 s of
# every `make run`) pass once and are remembered in build/setup.ok, until
# this script changes; `make clean` forgets them.
stamp=build/setup.ok
checked=0
[ -f "$stamp" ] && [ "$stamp" -nt "$0" ] && checked=1
# rust-toolchain.toml names rust-src, but not every rustup adds a missing
# component by itself: add it when the sysroot lacks it.
if [ "$checked" -eq 0 ] && [ ! -f "$(rustc --print sysroot)/lib/rustlib/src/rust/library/Cargo.lock" ]; then
    echo "setup: adding the rust-src component (rustup component add rust-src)" >&2
    rustup component add rust-src >&2
fi
need=()
command -v qemu-system-i386 >/dev/null || need+=(qemu-system-x86)
command -v grub-mkrescue >/dev/null || need+=(grub-common)
[ -d /usr/lib/grub/i386-pc ] || need+=(grub-pc-bin)
command -v xorriso >/dev/null || need+=(xorriso)
command -v mformat >/dev/null || need+=(mtools)
command -v gdb >/dev/null || need+=(gdb)
# socat: `make console`, the terminal of make gdb's serial socket.
command -v socat >/dev/null || need+=(socat)
# mkswap lives in /usr/sbin, which an unprivileged PATH may lack.
command -v mkswap >/dev/null || [ -x /usr/sbin/mkswap ] || [ -x /sbin/mkswap ] || need+=(util-linux)
# gcc -m32 -static needs the 32-bit crt files, libgcc and glibc: test that
# it links rather than which packages are there.
if [ "$checked" -eq 0 ] && ! echo 'int main(void){return 0;}' | gcc -m32 -static -x c -o /dev/null - 2>/dev/null; then
    need+=(gcc-multilib)
fi
if [ ${#need[@]} -eq 0 ]; then
    [ "$checked" -eq 1 ] || { mkdir -p build && : >"$stamp"; }
    exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing Debian packages: ${need[*]} (apt-get update, then apt-get install)" >&2
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${need[@]}" >&2
echo "setup: done" >&2
