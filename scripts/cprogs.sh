#!/usr/bin/env bash
# cprogs.sh NAME...: the C source of cprogs, the C programs' multi-call
# binary (see the Makefile): main runs NAME_main for the NAME that argv[0]
# ends with, or, called as cprogs, for argv[1].
set -euo pipefail
cat <<'C'
/* Made by scripts/cprogs.sh: do not edit. */
#include <stdio.h>
#include <string.h>

C
for n in "$@"; do echo "int ${n}_main(int, char **, char **);"; done
echo
echo "static const struct { const char *name; int (*main)(int, char **, char **); } progs[] = {"
for n in "$@"; do echo "    { \"$n\", ${n}_main },"; done
cat <<'C'
};

int main(int argc, char **argv, char **envp)
{
    const char *name = argc > 0 ? argv[0] : "";
    const char *slash = strrchr(name, '/');
    if (slash)
        name = slash + 1;
    if (strcmp(name, "cprogs") == 0) {
        if (argc < 2) {
            fprintf(stderr, "cprogs: which program? usage: cprogs NAME [ARG...], NAME one of:");
            for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
                fprintf(stderr, " %s", progs[i].name);
            fprintf(stderr, "\n");
            return 2;
        }
        return main(argc - 1, argv + 1, envp);
    }
    for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
        if (strcmp(name, progs[i].name) == 0)
            return progs[i].main(argc, argv, envp);
    fprintf(stderr, "cprogs: no program '%s'; it runs:", name);
    for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
        fprintf(stderr, " %s", progs[i].name);
    fprintf(stderr, "\n");
    return 127;
}
C
