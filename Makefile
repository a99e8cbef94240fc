# himem: a 32-bit i686 teaching kernel with real HIGHMEM.
# `make help` lists the targets.

MEM        ?= 2G
ARGS       ?=
QEMU_EXTRA ?=
PROFILE    ?= release
ISO        ?= build/kernel.iso

BUILD   := build
ELF     := $(BUILD)/kernel.elf
SYMS    := $(BUILD)/kernel.sym
CARGO_OUT := target/i686-target/$(if $(filter dev,$(PROFILE)),debug,$(PROFILE))/kernel
# Kernel-only cargo flags (a workspace-wide build-std would break host `cargo test`).
KERNEL_CARGO := cargo build --profile $(PROFILE) --target i686-target.json \
	-Zbuild-std=core,compiler_builtins,alloc -Zbuild-std-features=compiler-builtins-mem \
	-Zjson-target-spec

QEMU := qemu-system-i386 -m $(MEM) -cdrom $(ISO) -boot d -no-reboot -display none \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 $(QEMU_EXTRA)
# At a terminal: serial and monitor share stdio (Ctrl-A x quits QEMU, Ctrl-A c
# the monitor), and Ctrl-C goes to the kernel's shell. From a pipe: serial
# alone on stdio, so input written before boot is not lost (see DESIGN.md).
SERIAL_TTY  := -chardev stdio,id=s0,mux=on,signal=off -serial chardev:s0 -mon chardev=s0,mode=readline
SERIAL_PIPE := -chardev stdio,id=s0,mux=off,signal=off -serial chardev:s0 -monitor none

.PHONY: all kernel iso run debug gdb test bench host-test qemu-test clean help prereqs FORCE

all: iso

help:
	@echo "make run          build and boot in QEMU (MEM=$(MEM), ARGS='boot options', QEMU_EXTRA=...)"
	@echo "make gdb          boot stopped at the first instruction, GDB attached, breakpoint at kmain"
	@echo "make debug        boot stopped, waiting for a debugger on :1234 (no GDB started)"
	@echo "make test         host unit tests and in-QEMU tests; ends with 'N passed, N failed'"
	@echo "make bench        instruction counts of the hot paths under QEMU -icount (BENCH_ARGS=...)"
	@echo "make iso          build $(ISO) (kernel ELF at $(ELF))"
	@echo "make kernel       build $(ELF) only"
	@echo "make clean        remove build outputs"
	@echo "PROFILE=dev       unoptimised kernel with debug assertions (default: release, with symbols)"

prereqs:
	@bash scripts/setup.sh

kernel: prereqs
	@mkdir -p $(BUILD)
	$(KERNEL_CARGO)
	@cp $(CARGO_OUT) $(ELF)
	@bash scripts/mksyms.sh $(ELF) $(SYMS)

# grub.cfg carries ARGS; it is rewritten only when it changes.
$(BUILD)/grub.cfg: FORCE
	@mkdir -p $(BUILD)
	@sed 's|@ARGS@|$(ARGS)|' grub/grub.cfg.in > $@.new
	@cmp -s $@.new $@ && rm $@.new || mv $@.new $@

iso: kernel $(BUILD)/grub.cfg
	@mkdir -p $(BUILD)/iso/boot/grub $(dir $(ISO))
	@cp $(ELF) $(SYMS) $(BUILD)/iso/boot/
	@cp $(BUILD)/grub.cfg $(BUILD)/iso/boot/grub/grub.cfg
	@grub-mkrescue -o $(ISO) $(BUILD)/iso 2>$(BUILD)/grub-mkrescue.log || { cat $(BUILD)/grub-mkrescue.log; exit 1; }

run: iso
	@if [ -t 0 ]; then $(QEMU) $(SERIAL_TTY); else $(QEMU) $(SERIAL_PIPE); fi

debug: iso
	@echo "QEMU is waiting for a debugger on localhost:1234 (gdb -x gdb/kernel.gdb)"
	@if [ -t 0 ]; then $(QEMU) -s -S $(SERIAL_TTY); else $(QEMU) -s -S $(SERIAL_PIPE); fi

gdb: iso
	@echo "serial console: $(BUILD)/serial.log (tail -f it in another terminal)"
	@$(QEMU) -s -S -serial file:$(BUILD)/serial.log -monitor none & qemu=$$!; \
	    gdb -q -x gdb/kernel.gdb; kill $$qemu 2>/dev/null; wait $$qemu 2>/dev/null; true

test: prereqs
	@bash tests/run.sh

# Benchmarks: under -icount shift=0,sleep=off, rdtsc counts guest instructions.
BENCH_ARGS ?=
bench: prereqs
	@$(MAKE) -s iso ARGS="bench loglevel=4 $(BENCH_ARGS)" ISO=$(BUILD)/bench.iso
	@timeout 600 qemu-system-i386 -m $(MEM) -cdrom $(BUILD)/bench.iso -boot d -no-reboot -display none \
	    -icount shift=0,sleep=off -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	    -chardev stdio,id=s0,mux=off,signal=off -serial chardev:s0 -monitor none $(QEMU_EXTRA) </dev/null \
	    | sed -n '/^benchmark/,/^bench: done/p'

host-test:
	cargo test

qemu-test: iso
	python3 tests/qemu.py

clean:
	rm -rf $(BUILD) target
