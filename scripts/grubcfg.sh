#!/usr/bin/env bash
# Write grub/grub.cfg.in to stdout with @ARGS@ replaced by the kernel command
# line in $ARGS, quoted for GRUB, or refuse (exit 1, naming what is wrong);
# and a line that is @MODULES@ alone by one `module2 /boot/user/NAME NAME
# [NAME...]` line for each line of $MODULES (the programs, checked by
# scripts/progs.sh; a module's string is every name the kernel knows it by).
#
# What the kernel receives is not what grub.cfg says: GRUB's script lexer
# takes the quoting off, and `multiboot2` joins the resulting words again
# (grub_create_loader_cmdline in GRUB 2.06), wrapping a word that holds a
# space in double quotes and putting a backslash before every ', " and \.
# So this script splits ARGS into words as the kernel will (Linux's
# next_arg: spaces outside double quotes separate), gives GRUB each word
# single-quoted (nothing is special inside GRUB's single quotes: | & ; # $
# pass as they are) and with its double quotes taken off, and lets GRUB put
# them back where it can:
#   mem=64M a|b&c;d#e   reaches the kernel unchanged;
#   msg="a b"           reaches it as "msg=a b" (the same key and value
#                       for next_arg, the form GRUB writes);
#   x="y"               reaches it as x=y.
# Refused: ' and \ (GRUB would add a backslash the kernel does not remove),
# control characters (a newline would end the grub.cfg line), a double quote
# anywhere but around a value (key="...") or a whole word ("..."), and a
# line longer than the kernel's COMMAND_LINE_SIZE buffer holds.
set -euo pipefail
export LC_ALL=C

template=$1
args=${ARGS-}
# src/kernel/bootinfo.rs: COMMAND_LINE_SIZE, the bytes the kernel keeps.
max=2048

refuse() {
    echo "ARGS: $1" >&2
    echo "ARGS: refused; nothing was built (see 'make help')" >&2
    exit 1
}

case $args in
*\'* | *\\*) refuse "contains ' or \\ , which GRUB passes to the kernel with a backslash added: $args" ;;
esac
if [[ $args =~ [[:cntrl:]] ]]; then
    refuse "contains a control character (tab, newline...): use spaces between options"
fi

# Split as next_arg does.
words=()
i=0
n=${#args}
while ((i < n)); do
    while ((i < n)) && [[ ${args:i:1} == " " ]]; do i=$((i + 1)); done
    ((i < n)) || break
    start=$i
    in_quote=0
    while ((i < n)); do
        c=${args:i:1}
        [[ $c == " " && $in_quote == 0 ]] && break
        [[ $c == '"' ]] && in_quote=$((1 - in_quote))
        i=$((i + 1))
    done
    word=${args:start:i-start}
    ((in_quote == 0)) || refuse "unclosed double quote in $word"
    words+=("$word")
done

grub=""  # the words as grub.cfg will carry them
kernel="" # the command line as the kernel will see it
for w in ${words[@]+"${words[@]}"}; do
    arg=$w
    if [[ $w == *'"'* ]]; then
        if [[ $w =~ ^\"([^\"]*)\"$ ]]; then
            arg=${BASH_REMATCH[1]}
        elif [[ $w =~ ^([^\"=]*)=\"([^\"]*)\"$ ]]; then
            arg=${BASH_REMATCH[1]}=${BASH_REMATCH[2]}
        else
            refuse "cannot pass $w: a double quote may only enclose a value (key=\"a b\") or a whole word (\"a b\")"
        fi
    fi
    seen=$arg
    [[ $arg == *" "* ]] && seen="\"$arg\""
    grub+="${grub:+ }'$arg'"
    kernel+="${kernel:+ }$seen"
done
if ((${#kernel} > max)); then
    refuse "the kernel would receive ${#kernel} bytes, more than its command line buffer holds (COMMAND_LINE_SIZE, $max bytes)"
fi

while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ ^([[:space:]]*)@MODULES@[[:space:]]*$ ]]; then
        while read -r name names; do
            [ -n "$name" ] || continue
            printf '%smodule2 /boot/user/%s %s\n' "${BASH_REMATCH[1]}" "$name" "$name${names:+ $names}"
        done <<<"${MODULES-}"
    elif [[ $line == *@ARGS@* ]]; then
        printf '%s%s%s\n' "${line%%@ARGS@*}" "$grub" "${line#*@ARGS@}"
    else
        printf '%s\n' "$line"
    fi
done <"$template"
