# himem: a 32-bit i686 teaching kernel with real HIGHMEM.
# `make help` lists the targets.

MEM        ?= 2G
ARGS       ?=
QEMU_EXTRA ?=
PROFILE    ?= release
KTEST      ?=
BENCH      ?=
ISO        ?= $(KBUILD)/kernel.iso
GDB_PORT   ?= 1234
BENCH_ARGS ?=
PROGS      ?=
SWAP       ?= 256M
# Taken as typed (make must not expand a `$` in them), and read by the scripts
# from the environment, so no character in them can break a recipe.
override ARGS := $(value ARGS)
override BENCH_ARGS := $(value BENCH_ARGS)
override PROGS := $(value PROGS)
override SWAP := $(value SWAP)
export ARGS BENCH_ARGS PROGS

# A no-op `make run` must cost next to nothing (issue 13: within 1.5x of an
# empty kernel's boot), so make decides what is current by itself, starting
# no process: a setting that a file depends on (the cargo command, ARGS, the
# program list) is kept in a stamp file, compared by make ($(file <) reads
# it) and rewritten only when it changed; `$(call changed,FILE,TEXT)` is
# FORCE when FILE does not hold TEXT. The stamps end without a newline:
# make 4.3 does not always take it off.
# Nor does it search make's built-in rules (for every source file, a dozen
# ways to make it from RCS, SCCS, yacc...): 20 ms of each run.
MAKEFLAGS += --no-builtin-rules
.SUFFIXES:
same    = $(and $(findstring x$1,x$2),$(findstring x$2,x$1))
changed = $(if $(call same,$(file <$1),$2),,FORCE)

BUILD   := build
# KTEST=1 builds the test kernel: the same kernel with the in-kernel tests
# (src/ktests/, cargo feature `ktest`), which the normal kernel does not
# carry. Its ELF, ISO and grub.cfg live in build/ktest/, so neither kernel
# overwrites the other; cargo keeps both builds (one per feature set), so
# both rebuild incrementally.
# BENCH=1 (what `make bench` builds) is the same kernel with the peer
# allocators it measures itself against (cargo feature `peers`), in build/bench/.
ifeq ($(KTEST),1)
KBUILD   := $(BUILD)/ktest
FEATURES := --features ktest
else ifeq ($(BENCH),1)
KBUILD   := $(BUILD)/bench
FEATURES := --features peers
else ifeq ($(filter-out 0,$(KTEST)),)
KBUILD   := $(BUILD)
FEATURES :=
else
$(error KTEST=$(KTEST) is not understood: KTEST=1 builds the test kernel (with the in-kernel tests), KTEST unset or 0 the normal one; nothing done)
endif
ELF     := $(KBUILD)/kernel.elf
SYMS    := $(KBUILD)/kernel.sym
# cargo copies the kernel here as it finishes, under its build lock: a
# concurrent build of the other kernel cannot swap it before the copy below.
CARGO_OUT := $(KBUILD)/cargo
# Kernel-only cargo flags (a workspace-wide build-std would break host `cargo test`).
KERNEL_CARGO := cargo build --profile $(PROFILE) --target i686-target.json \
	-Zbuild-std=core,compiler_builtins,alloc -Zbuild-std-features=compiler-builtins-mem \
	-Zjson-target-spec -Zunstable-options --artifact-dir $(CARGO_OUT) $(FEATURES)

# The user programs (issue 10): static Linux i386 executables, each a GRUB
# module2 in the ISO named by its file name. user/NAME/ is a no_std Rust
# program on the runtime user/rt/ (a cargo workspace of its own, built for
# user/i686-user.json), user/c/NAME.c a C program against the 32-bit
# glibc; both land in build/user/NAME. PROGS='path/a path/b' adds other
# static i386 ELF files (scripts/progs.sh checks them, and every name,
# before anything is built).
UBUILD     := $(BUILD)/user
USER_RUST  := $(filter-out rt,$(patsubst user/%/Cargo.toml,%,$(wildcard user/*/Cargo.toml)))
USER_C     := $(patsubst user/c/%.c,%,$(wildcard user/c/*.c))
# The C programs are one multi-call binary, cprogs, as busybox is: each
# static glibc program is 750 KB, nearly all of it the same glibc, and GRUB
# reading 13 of them was most of a boot. cprogs runs the program its argv[0]
# names (or `cprogs NAME ARGS`); build/user/NAME is a link to it, and the
# ISO has cprogs once, as one module the kernel knows by every name.
# USER_C_SOLO names programs to keep as files of their own.
USER_C_SOLO  :=
USER_C_MULTI := $(filter-out $(USER_C_SOLO),$(USER_C))
USER_PROGS := $(USER_RUST) $(USER_C_SOLO) cprogs
# progs.sh and grubcfg.sh: cprogs's module carries these names.
USER_ALIASES := $(USER_C_MULTI)
ifneq ($(filter-out $(USER_C),$(USER_C_SOLO)),)
$(error USER_C_SOLO names $(filter-out $(USER_C),$(USER_C_SOLO)), which is no user/c/NAME.c; nothing done)
endif
ifneq ($(filter cprogs,$(USER_RUST) $(USER_C)),)
$(error the name cprogs is the C programs' multi-call binary: a user program cannot take it; nothing done)
endif
# A C identifier is what is left empty when its letters, digits and _ are
# taken off, and does not start with a digit (checked by make, no process).
DIGITS      := 0 1 2 3 4 5 6 7 8 9
IDENT_CHARS := a b c d e f g h i j k l m n o p q r s t u v w x y z \
	A B C D E F G H I J K L M N O P Q R S T U V W X Y Z _ $(DIGITS)
drop_chars  = $(if $2,$(call drop_chars,$(subst $(firstword $2),,$1),$(wordlist 2,$(words $2),$2)),$1)
NOT_IDENTS  := $(strip $(foreach n,$(USER_C_MULTI),$(if $(call drop_chars,$n,$(IDENT_CHARS))$(filter $(DIGITS:=%),$n),$n)))
ifneq ($(NOT_IDENTS),)
$(error C programs $(NOT_IDENTS) are not C identifiers: each names its main (NAME_main) in cprogs; nothing done)
endif
ifneq ($(filter $(USER_RUST),$(USER_C)),)
$(error user programs $(filter $(USER_RUST),$(USER_C)) are both a Rust crate user/NAME and a C file user/c/NAME.c: one name, one program; nothing done)
endif
USER_CARGO := cargo build --manifest-path user/Cargo.toml --release --target user/i686-user.json \
	-Zbuild-std=core,compiler_builtins -Zbuild-std-features=compiler-builtins-mem \
	-Zjson-target-spec -Zunstable-options --target-dir target/user --artifact-dir $(UBUILD)/cargo
USER_CC    := gcc -m32 -static -O2 -Wall -Wextra
# auxv reads esp before glibc runs: its entry point (see its header)
# records esp and jumps to glibc's _start, whichever program then runs.
$(UBUILD)/cprogs: USER_CC += $(if $(filter auxv,$(USER_C_MULTI)),-e auxv_start)
export USER_PROGS USER_ALIASES

# The swap disk (issue 11): a raw image made by the real mkswap, named by its
# size so SWAP=1G makes a new one beside the 256M one. It is the primary
# master (index 0: ata1.00, Linux's sda); -cdrom is the secondary master.
# SWAP=0 attaches no disk.
ifeq ($(SWAP),0)
SWAP_IMG  :=
QEMU_SWAP :=
else
SWAP_IMG  := $(BUILD)/swap-$(SWAP).img
QEMU_SWAP := -drive file=$(SWAP_IMG),format=raw,if=ide,index=0
endif

# The ISO is QEMU's -cdrom, the IDE secondary master: the machine the Linux
# reference outputs were made on. On an AHCI controller SeaBIOS and GRUB
# would read it by DMA (scripts/boottime.py times the empty kernel both ways:
# 0.06 s faster),
# but SeaBIOS then keeps a page of RAM for the controller and every memory
# map and zone range would differ from Linux's by that page.
QEMU_CD := -cdrom $(ISO) -boot d
QEMU := qemu-system-i386 -m $(MEM) $(QEMU_CD) -no-reboot -display none \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 $(QEMU_SWAP) $(QEMU_EXTRA)
# At a terminal: serial and monitor share stdio (Ctrl-A x quits QEMU, Ctrl-A c
# the monitor), and Ctrl-C goes to the kernel's shell. From a pipe: serial
# alone on stdio, so input written before boot is not lost (see the README).
SERIAL_TTY  := -chardev stdio,id=s0,mux=on,signal=off -serial chardev:s0 -mon chardev=s0,mode=readline
SERIAL_PIPE := -chardev stdio,id=s0,mux=off,signal=off -serial chardev:s0 -monitor none

.PHONY: all kernel user iso image run debug gdb test bench bench-run host-test qemu-test grade handout attach console clean help prereqs memcheck progscheck swap FORCE

all: iso

help:
	@echo "make run          build and boot in QEMU (MEM=$(MEM); 16M and up tested, below 5M refused; ARGS='boot options', QEMU_EXTRA=...)"
	@echo "make run KTEST=1 ARGS=ktest"
	@echo "                  boot the test kernel ($(BUILD)/ktest/) and run the in-kernel tests; the normal kernel has none"
	@echo "make gdb          boot stopped at the first instruction, GDB attached, breakpoint at kmain (GDB_PORT=$(GDB_PORT));"
	@echo "                  the serial console is $(BUILD)/serial.sock: 'make console' in another terminal types into it"
	@echo "                  (output also in $(BUILD)/serial.log); GDB helpers: vtop, ps, vmas, usersym, faultstop, ..."
	@echo "make console      the console of a running make gdb (socat; Ctrl-] quits)"
	@echo "make attach       GDB attached to a running make debug (breakpoint at kgdb_breakpoint: type kgdb in its shell)"
	@echo "make debug        boot stopped, waiting for a debugger on localhost:GDB_PORT (no GDB started: make attach)"
	@echo "make test         host unit tests and in-QEMU tests (the in-kernel ones on the test kernel); ends with 'N passed, N failed'"
	@echo "make bench        the benchmarks: hot paths, processes, peer allocators, fragmentation, under QEMU -icount"
	@echo "                  (BENCH_ARGS=...), and boot time on the host clock; writes bench/RESULTS.md and bench/*.svg;"
	@echo "                  exits non-zero if the kernel did not finish them (log: $(BUILD)/bench.log)"
	@echo "make bench-run    the benchmark boot alone (no boot timing, charts or RESULTS.md)"
	@echo "make grade LAB=n  run lab n's checks (labs/NN-*/grade.py) and print the points and 'Score: N/M'"
	@echo "make handout LAB=n DEST=dir"
	@echo "                  write lab n's student tree to dir: its marked code replaced by the stubs"
	@echo "make iso          build $(ISO) (a stripped kernel; $(ELF) keeps the symbols)"
	@echo "make kernel       build $(ELF) only"
	@echo "make swap         make the swap disk image $(if $(SWAP_IMG),$(SWAP_IMG),(none: SWAP=0)) with mkswap, unless it exists"
	@echo "SWAP=SIZE         make run/debug/gdb: attach a swap disk of SIZE (K/M/G; default 256M) as the first IDE disk"
	@echo "                  (Linux's sda), made once by mkswap as $(BUILD)/swap-SIZE.img; SWAP=0 attaches none"
	@echo "make user         build the user programs into $(UBUILD)/ (user/NAME: Rust; user/c/NAME.c: C, gcc -m32 -static);"
	@echo "                  they are static Linux i386 programs: they run on this host too"
	@echo "PROGS='a b'       make iso/run: add these static i386 ELF files to the ISO, each a module named by its file name"
	@echo "KTEST=1           build (and boot) the test kernel: the in-kernel tests, the shell's ktest, boot option ktest;"
	@echo "                  its files are in $(BUILD)/ktest/ (kernel.elf, kernel.iso)"
	@echo "make clean        remove build outputs"
	@echo "ARGS=             passed to the kernel as typed, except: no ' or \\, no control characters,"
	@echo "                  double quotes only as key=\"a b\" or \"a b\", at most 2048 bytes"
	@echo "PROFILE=dev       debug assertions and overflow checks, opt-level 1 (default: release, opt-level 3, with symbols)"
	@echo "GDB_PORT=N        the port of make gdb and make debug (default 1234; refused if already in use)"

# setup.sh runs when it changed since it last passed (build/setup.ok), or
# when a tool it installs is not found on PATH (looked up by make itself).
have = $(firstword $(wildcard $(addsuffix /$1,$(subst :, ,$(PATH)))))
SETUP_HAS := $(and $(call have,qemu-system-i386),$(call have,grub-mkrescue),$(wildcard /usr/lib/grub/i386-pc),\
	$(call have,xorriso),$(call have,mformat),$(call have,gdb),$(call have,socat),\
	$(or $(call have,mkswap),$(wildcard /usr/sbin/mkswap /sbin/mkswap)))
prereqs: $(BUILD)/setup.ok
$(BUILD)/setup.ok: scripts/setup.sh $(if $(SETUP_HAS),,FORCE)
	@bash scripts/setup.sh

# cargo is asked only when an input is newer than the kernel (a no-op cargo
# costs a quarter of a second at every `make run`). The inputs are every
# file under src/ and what cargo and the linker read besides, and the cargo
# command itself (kept in cargo.cmd, rewritten only when it changes), so a
# new PROFILE or feature set rebuilds too.
# Every file under a folder, found by make (no find process).
files_under = $(foreach f,$(wildcard $1/* $1/.[!.]*),$(if $(wildcard $f/.),$(call files_under,$f),$f))
KERNEL_INPUTS := $(call files_under,src) Cargo.toml Cargo.lock build.rs linker.ld i686-target.json rust-toolchain.toml

$(KBUILD)/cargo.cmd: $(call changed,$(KBUILD)/cargo.cmd,$(KERNEL_CARGO))
	@mkdir -p $(KBUILD)
	@printf '%s' '$(KERNEL_CARGO)' > $@

$(ELF): $(KERNEL_INPUTS) $(KBUILD)/cargo.cmd | prereqs
	@mkdir -p $(KBUILD)
	$(KERNEL_CARGO)
	@cp $(CARGO_OUT)/kernel $(ELF)

# The symbol table the kernel's backtraces read (loaded by GRUB as a module).
$(SYMS): $(ELF)
	@bash scripts/mksyms.sh $(ELF) $(SYMS)

kernel: prereqs $(ELF) $(SYMS)

# cargo rebuilds the Rust programs when their sources change; make, the C ones.
# The Rust programs, likewise, only when a file under user/ (but user/c/) is
# newer than the stamp.
USER_INPUTS := $(filter-out user/c/%,$(call files_under,user)) rust-toolchain.toml
user: prereqs $(UBUILD)/rust.stamp $(addprefix $(UBUILD)/,$(USER_C_SOLO) cprogs $(USER_C_MULTI))

$(UBUILD)/rust.stamp: $(USER_INPUTS) | prereqs
	@mkdir -p $(UBUILD)
	$(USER_CARGO)
	@for p in $(USER_RUST); do cp $(UBUILD)/cargo/$$p $(UBUILD)/$$p; done
	@touch $@

# prog.h: the helpers the C programs share.
$(addprefix $(UBUILD)/,$(USER_C_SOLO)): $(UBUILD)/%: user/c/%.c $(wildcard user/c/*.h) | prereqs
	@mkdir -p $(UBUILD)
	$(USER_CC) -o $@ $<

# Each program's main becomes NAME_main; cprogs.c (made here) picks one.
$(UBUILD)/c/%.o: user/c/%.c $(wildcard user/c/*.h) | prereqs
	@mkdir -p $(UBUILD)/c
	$(USER_CC) -Dmain=$*_main -c -o $@ $<

# Rewritten only when the list changes (a program added or removed).
$(UBUILD)/c/cprogs.list: $(call changed,$(UBUILD)/c/cprogs.list,$(USER_C_MULTI))
	@mkdir -p $(UBUILD)/c
	@printf '%s' '$(USER_C_MULTI)' > $@
$(UBUILD)/c/cprogs.c: $(UBUILD)/c/cprogs.list scripts/cprogs.sh | prereqs
	@bash scripts/cprogs.sh $(USER_C_MULTI) > $@.new && mv $@.new $@

$(UBUILD)/cprogs: $(UBUILD)/c/cprogs.c $(patsubst %,$(UBUILD)/c/%.o,$(USER_C_MULTI))
	$(USER_CC) -o $@ $^

# build/user/NAME runs NAME on this host too (argv[0] picks it).
$(addprefix $(UBUILD)/,$(USER_C_MULTI)): $(UBUILD)/cprogs
	@ln -sf cprogs $@

# What grub.cfg and the ISO's programs depend on besides files: ARGS, PROGS
# and the programs' names (a stamp per kernel build, as grub.cfg). PROGS
# files are checked and compared at every run (any of them may change);
# without them the check is made again only when the names or the kernel's
# limits (src/kernel/bootinfo.rs) changed.
GRUB_VARS := $(ARGS)|$(PROGS)|$(USER_PROGS)|$(USER_ALIASES)
$(KBUILD)/grub.vars: $(call changed,$(KBUILD)/grub.vars,$(GRUB_VARS))
	@mkdir -p $(KBUILD)
	@printf '%s' "$$ARGS|$$PROGS|$$USER_PROGS|$$USER_ALIASES" > $@

progscheck: $(if $(PROGS),,$(KBUILD)/progs.ok)
	$(if $(PROGS),@bash scripts/progs.sh check)

$(KBUILD)/progs.ok: $(KBUILD)/grub.vars src/kernel/bootinfo.rs scripts/progs.sh
	@bash scripts/progs.sh check
	@touch $@

# grub.cfg carries ARGS (quoted, or refused, by scripts/grubcfg.sh) and a
# module2 line per program; when remade with the same content it is only
# touched.
$(KBUILD)/grub.cfg: grub/grub.cfg.in scripts/grubcfg.sh scripts/progs.sh src/kernel/bootinfo.rs $(KBUILD)/grub.vars $(if $(PROGS),FORCE)
	@mkdir -p $(KBUILD)
	@modules=$$(bash scripts/progs.sh names) && MODULES=$$modules bash scripts/grubcfg.sh grub/grub.cfg.in > $@.new || { rm -f $@.new; exit 1; }
	@cmp -s $@.new $@ && { rm $@.new; touch $@; } || mv $@.new $@

# The ISO is a file target: with nothing newer than it, make does nothing.
# Else scripts/isotree.sh writes only the files whose content changed, and
# the ISO is remade only when a file in its tree is newer than it (or the
# tree lost a file): grub-mkrescue is half a second; otherwise it is touched.
# GRUB reads the whole kernel file, and with its debug information (~9 MB)
# it does not fit below 21 MB of RAM: the ISO gets it stripped. $(ELF) keeps
# the symbols for GDB and mksyms.sh.
$(KBUILD)/kernel.stripped: $(ELF)
	@strip --strip-all -o $@ $<

iso: progscheck kernel user $(ISO)

$(ISO): $(KBUILD)/grub.cfg $(KBUILD)/kernel.stripped $(SYMS) $(UBUILD)/rust.stamp \
		$(addprefix $(UBUILD)/,$(USER_C_SOLO) cprogs) $(if $(PROGS),FORCE)
	@bash scripts/isotree.sh $(KBUILD)/iso $(KBUILD)/kernel.stripped $(SYMS) $(KBUILD)/grub.cfg
	@if bash scripts/isotree.sh stale $(KBUILD)/iso $(ISO); then $(MAKE) -s image ISO_TREE=$(KBUILD)/iso; else touch $(ISO); fi

# An ISO from a prepared tree (tests build broken ones with it). iorw is
# built into GRUB's core image: its outb ends a failed boot (grub.cfg.in).
# No font, translation or theme: GRUB writes to the serial line in English
# (they were 6.8 MB of the ISO, read by nobody).
#
# The ISO's layout is a tenth of a boot (issue 13). GRUB reads the CD through
# the BIOS by IDE port I/O, about 0.1 ms per 2 KB sector under QEMU, through
# a cache that reads the 32 KB around any byte it wants. grub-mkrescue lays
# its 275 modules out in name order, so the 40 that GRUB loads at every boot
# (normal and what it needs, the partition maps it probes the CD with,
# multiboot2 and its own needs, the .lst files) cost 1.1 MB of reads; given
# the highest sort weight they lie together and cost 0.4 MB. The list is
# what QEMU's `-trace ide_atapi_cmd_read` showed GRUB reading (see
# scripts/boottime.py --reads): a module missing from it costs a 32 KB read,
# one GRUB does not load only its place. Only files this GRUB has are
# named (xorriso refuses a path that is not in the image).
GRUB_DIR := /usr/lib/grub/i386-pc
GRUB_BOOT_MODULES := normal extcmd crypto terminal gettext bufio datetime boot serial terminfo echo \
	gzio gcry_crc multiboot2 relocator mmap video vbe video_fb acpi lsapm net priority_queue linux verifiers fshelp
GRUB_BOOT_LISTS := command fs crypto terminal partmap parttool video moddep
GRUB_SORT = $(foreach f,$(wildcard $(GRUB_BOOT_MODULES:%=$(GRUB_DIR)/%.mod) $(GRUB_DIR)/part_*.mod $(GRUB_BOOT_LISTS:%=$(GRUB_DIR)/%.lst)),\
	--sort-weight 3 /boot/grub/i386-pc/$(notdir $f)) $(if $(wildcard $(ISO_TREE)/boot/grub/grub.cfg),--sort-weight 3 /boot/grub/grub.cfg)
ISO_TREE ?= $(KBUILD)/iso
image:
	@mkdir -p $(KBUILD)
	@grub-mkrescue --modules=iorw --fonts= --locales= --themes= -o $(ISO) $(ISO_TREE) $(GRUB_SORT) \
	    2>$(KBUILD)/grub-mkrescue.log || { cat $(KBUILD)/grub-mkrescue.log; exit 1; }

# A MEM too small to boot is refused before anything is built or started
# (below 2M QEMU's firmware hangs silently).
# A whole number of gigabytes (the default 2G) is never too small, and make
# sees it without starting the script (a few ms of every `make run`).
MEM_GIGS := $(and $(filter 1,$(words $(MEM))),$(filter %G,$(MEM)),$(patsubst %G,%,$(MEM)))
MEM_WHOLE_GIGS := $(and $(MEM_GIGS),$(if $(call drop_chars,$(MEM_GIGS),$(DIGITS)),,y))
memcheck:
	$(if $(MEM_WHOLE_GIGS),,@bash scripts/memcheck.sh '$(MEM)')

# The swap image is checked (SWAP= as typed) and made before anything else.
swap: export SWAP_IMG := $(SWAP_IMG)
swap: export SWAP := $(SWAP)
# An image that exists was made by swapimg.sh, for a SWAP it accepted.
swap:
	$(if $(call same,$(wildcard $(SWAP_IMG)),$(SWAP_IMG)),,@bash scripts/swapimg.sh)

# Piped input that ends is the end of the session: the shell then gets
# `poweroff`, as a login shell's end of input ends it, so a script that
# forgets it does not leave QEMU waiting for ever (the serial line has no
# end of file to tell the kernel).
run: memcheck swap progscheck iso
	@if [ -t 0 ]; then exec $(QEMU) $(SERIAL_TTY); else { cat; printf '\npoweroff\n'; } | $(QEMU) $(SERIAL_PIPE); fi

# QEMU cannot take a port that is in use and would go on without its GDB
# stub: GDB would then attach to whoever holds the port. Refuse instead.
GDB_PORT_FREE = bash scripts/portfree.sh $(GDB_PORT)

debug: memcheck swap progscheck iso
	@$(GDB_PORT_FREE)
	@echo "QEMU is waiting for a debugger on localhost:$(GDB_PORT): 'make attach$(if $(filter 1234,$(GDB_PORT)),, GDB_PORT=$(GDB_PORT))' in another terminal (gdb -iex 'set \$$gdb_port = $(GDB_PORT)' -iex 'set \$$attach = 1' -iex 'set \$$kernel_elf = \"$(ELF)\"' -x gdb/kernel.gdb)"
	@if [ -t 0 ]; then $(QEMU) -gdb tcp:localhost:$(GDB_PORT) -S $(SERIAL_TTY); else $(QEMU) -gdb tcp:localhost:$(GDB_PORT) -S $(SERIAL_PIPE); fi

# make gdb: GDB holds this terminal, so the serial console is a unix socket
# (`make console` in another terminal types into it, socat) and everything
# the kernel prints is also logged to build/serial.log, from the first byte
# (the socket drops what comes while no console is connected).
# SERIAL_SOCK and SERIAL_LOG may be set elsewhere (the tests do, so as not
# to meet a make gdb of yours).
SERIAL_SOCK ?= $(BUILD)/serial.sock
SERIAL_LOG  ?= $(BUILD)/serial.log
SERIAL_SOCKET := -chardev socket,id=s0,path=$(SERIAL_SOCK),server=on,wait=off,logfile=$(SERIAL_LOG) \
	-serial chardev:s0 -monitor none
# GDBFLAGS: more GDB options after gdb/kernel.gdb (the tests pass -batch and
# -ex commands), for make gdb and make attach.
GDBFLAGS ?=
KGDB := gdb -q -iex 'set $$gdb_port = $(GDB_PORT)' -iex 'set $$kernel_elf = "$(ELF)"'

gdb: memcheck swap progscheck iso
	@$(GDB_PORT_FREE)
	@echo "serial console: 'make console' in another terminal types into it (output also in $(SERIAL_LOG)); GDB stub on localhost:$(GDB_PORT)"
	@rm -f $(SERIAL_SOCK)
	@$(QEMU) -gdb tcp:localhost:$(GDB_PORT) -S $(SERIAL_SOCKET) & qemu=$$!; \
	    sleep 0.5; if ! kill -0 $$qemu 2>/dev/null; then echo "make gdb: QEMU did not start (see above)"; exit 1; fi; \
	    $(KGDB) -x gdb/kernel.gdb $(GDBFLAGS); kill $$qemu 2>/dev/null; wait $$qemu 2>/dev/null; rm -f $(SERIAL_SOCK); true

# The console of a running make gdb (its serial socket), in raw mode at a
# terminal: Ctrl-C goes to the kernel's shell, Ctrl-] quits.
console:
	@if [ ! -S $(SERIAL_SOCK) ]; then echo "make console: no $(SERIAL_SOCK): start make gdb first (in another terminal)"; exit 1; fi
	@if [ -t 0 ]; then echo "console of make gdb ($(SERIAL_SOCK)); Ctrl-] quits; earlier output is in $(SERIAL_LOG)"; \
	    socat -,raw,echo=0,escape=0x1d UNIX-CONNECT:$(SERIAL_SOCK); else socat -t 2 - UNIX-CONNECT:$(SERIAL_SOCK); fi

# GDB attached to a running make debug (or any QEMU with its stub on
# GDB_PORT): attaching stops the kernel; kernel.gdb breaks at kgdb_breakpoint
# ($$attach = 1), so 'continue' and the shell's kgdb command stop it where
# its state is consistent. Detach (or quit) and the kernel goes on.
attach:
	@$(KGDB) -iex 'set $$attach = 1' -x gdb/kernel.gdb $(GDBFLAGS)

test: prereqs
	@bash tests/run.sh

# Benchmarks: under -icount shift=0,sleep=off, rdtsc counts guest instructions,
# which the boot option bench_icount tells the kernel (it cannot see icount).
# The swap disk is attached for the swap rows.
# `make bench-run` is the kernel's boot alone (what the tests run); `make
# bench` adds the host's boot timing, the charts (tools/benchplot) and
# bench/RESULTS.md.
# The fragmentation study is four more boots (scripts/bench-frag.sh).
FRAG_CONFIGS := on-on on-off off-on off-off
bench: bench-run
	@rm -f $(BUILD)/bench-frag.log
	@bash scripts/bench-frag.sh $(BUILD)/bench-frag.log $(FRAG_CONFIGS)
	@python3 scripts/boottime.py 5 > $(BUILD)/boottime.md
	@cat $(BUILD)/boottime.md
	@cat $(BUILD)/bench.log $(BUILD)/bench-frag.log > $(BUILD)/bench-all.log
	@cargo run -q --release --manifest-path tools/benchplot/Cargo.toml -- $(BUILD)/bench-all.log bench
	@python3 scripts/results.py bench/RESULTS.md $(BUILD)/bench.log $(patsubst %,$(BUILD)/bench-frag-%.log,$(FRAG_CONFIGS)) \
	    --boot $(BUILD)/boottime.md --charts bench
	@echo "make bench: tables in bench/RESULTS.md, charts in bench/*.svg (commit them with the change they measure)"

bench-run: memcheck prereqs swap
	@$(MAKE) -s iso BENCH=1 ARGS="bench bench_icount loglevel=4 $$BENCH_ARGS" ISO=$(BUILD)/bench.iso
	@bash scripts/bench.sh $(BUILD)/bench.log timeout 600 qemu-system-i386 -m $(MEM) -cdrom $(BUILD)/bench.iso -boot d \
	    -no-reboot -display none $(QEMU_SWAP) \
	    -icount shift=0,sleep=off -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	    -chardev stdio,id=s0,mux=off,signal=off -serial chardev:s0 -monitor none $(QEMU_EXTRA)

# The course labs (labs/NN-slug/): `make grade LAB=n` runs lab n's checks
# (labs/NN-slug/grade.py, scripts/gradelib.py) and ends with `Score: N/M`;
# `make handout LAB=n DEST=dir` writes the student tree, lab n's marked
# blocks replaced by their stubs (scripts/handout.py).
# LAB and DEST reach the scripts through the environment, as typed.
override LAB := $(value LAB)
override DEST := $(value DEST)
export LAB DEST
grade: prereqs
	@if [ -z "$$LAB" ]; then echo "make grade: say which lab: make grade LAB=n (the labs are in labs/)"; exit 2; fi
	@python3 scripts/grade.py "$$LAB"

handout:
	@if [ -z "$$LAB" ] || [ -z "$$DEST" ]; then echo "make handout: say which lab and where: make handout LAB=n DEST=dir"; exit 2; fi
	@python3 scripts/handout.py "$$LAB" "$$DEST"

host-test:
	cargo test

qemu-test: iso
	python3 tests/qemu.py

clean:
	rm -rf $(BUILD) target
