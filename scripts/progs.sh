#!/usr/bin/env bash
# The programs the ISO carries: the project's own (user/, built by `make
# user` into build/user/), named in $USER_PROGS, and the files of `make run
# PROGS='path/a path/b'`, whose paths are in $PROGS (from the environment,
# as make took them, so no character in them reaches a shell). Usage:
#   progs.sh check      check them all, before anything is built; exit 1
#                       naming the first problem
#   progs.sh names      check, then print the modules, one a line: the
#                       file's name, then (cprogs) the other names it has
#   progs.sh copy DIR   check, then bring DIR to hold exactly the programs
#                       (built by then), each under its module name
#
# Each file of PROGS must be what the kernel can run: a static i386 ELF
# executable (ELF32, EM_386, ET_EXEC, no PT_INTERP). Every program becomes
# a GRUB module2 named by its file name, so the names must be unique, must
# not be `symbols` (the kernel's own module), must fit the kernel's module
# name buffer and need no quoting in grub.cfg; and all of them, with the
# symbols module, must fit the kernel's module table.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

refuse() {
    echo "PROGS: $1" >&2
    echo "PROGS: refused; nothing was built" >&2
    exit 1
}

# src/kernel/bootinfo.rs: the modules the kernel keeps, and the bytes of a
# module's name.
max_modules=$(sed -nE 's/^pub const MAX_MODULES: usize = ([0-9]+);/\1/p' src/kernel/bootinfo.rs)
max_name=$(sed -nE 's/^\s*name: \[u8; ([0-9]+)\],/\1/p' src/kernel/bootinfo.rs)
[[ $max_modules =~ ^[0-9]+$ && $max_name =~ ^[0-9]+$ ]] || refuse "cannot read MAX_MODULES and the name size from src/kernel/bootinfo.rs"

mode=${1-}
case $mode in
check | names) ;;
copy) [ $# -eq 2 ] || refuse "progs.sh copy wants the directory to copy to" ;;
*) refuse "progs.sh: unknown mode '$mode' (check, names, copy DIR)" ;;
esac

# Split PROGS at white space, as make splits words; no glob expands.
files=()
IFS=$' \t\n' read -r -d '' -a files <<<"${PROGS-}" || true
user=()
IFS=$' \t\n' read -r -d '' -a user <<<"${USER_PROGS-}" || true

# The C programs' multi-call binary, cprogs, is one module the kernel
# knows by each of these names too (each takes a slot of its table).
aliases=()
IFS=$' \t\n' read -r -d '' -a aliases <<<"${USER_ALIASES-}" || true
declare -A owner=([symbols]="the kernel's symbol table module")
for name in ${user[@]+"${user[@]}"}; do
    owner[$name]="build/user/$name"
done
for name in ${aliases[@]+"${aliases[@]}"}; do
    owner[$name]="build/user/$name (a C program in cprogs)"
done
count=$((${#owner[@]}))

for f in ${files[@]+"${files[@]}"}; do
    [ -e "$f" ] || refuse "$f: no such file"
    [ -f "$f" ] || refuse "$f: not a regular file"
    [ -r "$f" ] || refuse "$f: cannot be read"
    hdr=$(readelf -h "$f" 2>/dev/null) || refuse "$f: not an ELF file (a static i386 Linux executable is wanted)"
    class=$(sed -nE 's/^ *Class: *(.*)$/\1/p' <<<"$hdr")
    machine=$(sed -nE 's/^ *Machine: *(.*)$/\1/p' <<<"$hdr")
    type=$(sed -nE 's/^ *Type: *([A-Z]+).*$/\1/p' <<<"$hdr")
    [ "$class" = ELF32 ] && [ "$machine" = "Intel 80386" ] ||
        refuse "$f: an $class file for $machine, not an i386 (ELF32, Intel 80386) program"
    [ "$type" = EXEC ] ||
        refuse "$f: of ELF type $type, not EXEC: a static executable is wanted (gcc -m32 -static, no -pie)"
    interp=$(readelf -l "$f" 2>/dev/null | sed -nE 's/.*Requesting program interpreter: ([^]]*)\]/\1/p')
    [ -z "$interp" ] || refuse "$f: dynamically linked (it asks for $interp): build it with -static"
    name=$(basename -- "$f")
    [[ $name =~ ^[A-Za-z0-9._+-]+$ ]] ||
        refuse "$f: its name $name holds characters other than letters, digits and . _ + - (it names the module)"
    ((${#name} <= max_name)) || refuse "$f: its name $name is longer than the $max_name bytes the kernel keeps of a module's name"
    [ -z "${owner[$name]:-}" ] || refuse "$f: its name $name is taken by ${owner[$name]}: give the file another name"
    owner[$name]=$f
    count=$((count + 1))
done
((count <= max_modules)) ||
    refuse "$((count - 1)) programs and the symbols module are $count modules, more than the kernel's $max_modules (MAX_MODULES)"

case $mode in
names)
    for name in ${user[@]+"${user[@]}"}; do
        if [ "$name" = cprogs ]; then echo "$name ${aliases[*]}"; else echo "$name"; fi
    done
    for f in ${files[@]+"${files[@]}"}; do basename -- "$f"; done
    ;;
copy)
    # A file is written only when its content changed, and a program no
    # longer asked for leaves, so the ISO is remade only when the set changed
    # (scripts/isotree.sh).
    dir=$2
    mkdir -p -- "$dir"
    put() { cmp -s -- "$1" "$2" || cp -- "$1" "$2"; }
    keep=" "
    # make writes build/user/NAME only when it rebuilds it: a copy newer
    # than it is current (no cmp, which was most of a no-op make). A PROGS
    # file may be any file, older than the copy of another by its name.
    for name in ${user[@]+"${user[@]}"}; do
        [ "$dir/$name" -nt "build/user/$name" ] || put "build/user/$name" "$dir/$name"
        keep+="$name "
    done
    for f in ${files[@]+"${files[@]}"}; do
        name=$(basename -- "$f")
        put "$f" "$dir/$name"
        keep+="$name "
    done
    for f in "$dir"/* "$dir"/.[!.]* "$dir"/..?*; do
        [ -e "$f" ] || continue
        case $keep in *" ${f##*/} "*) ;; *) rm -rf -- "$f" ;; esac
    done
    ;;
esac
