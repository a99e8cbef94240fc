//! Host tests of binfmt_elf: images built here (valid, and broken one way
//! each), a real `gcc -m32 -static` program (tests/fixtures/hello-i386),
//! and the stack layout against what Linux gives (user/c/auxv.c).

use super::*;
use alloc::string::ToString;
use proptest::prelude::*;

const HELLO: &[u8] = include_bytes!("../../../tests/fixtures/hello-i386");

#[derive(Clone)]
struct Phdr {
    p_type: u32,
    offset: u32,
    vaddr: u32,
    filesz: u32,
    memsz: u32,
    flags: u32,
}

fn load(offset: u32, vaddr: u32, filesz: u32, memsz: u32, flags: u32) -> Phdr {
    Phdr { p_type: abi::PT_LOAD, offset, vaddr, filesz, memsz, flags }
}

/// An i386 ELF image, field by field, so that each test breaks one thing.
#[derive(Clone)]
struct Image {
    ident: [u8; 16],
    e_type: u16,
    machine: u16,
    entry: u32,
    phoff: u32,
    phentsize: u16,
    phnum: Option<u16>,
    phdrs: Vec<Phdr>,
    /// Bytes written at an offset (an interpreter path...).
    extra: Vec<(usize, Vec<u8>)>,
    len: usize,
}

const RX: u32 = abi::PF_R | abi::PF_X;
const RW: u32 = abi::PF_R | abi::PF_W;

impl Image {
    /// Text (R-X, with the headers) at 0x08048000, data and .bss (RW-) at
    /// 0x08049000, PT_GNU_STACK without X: what `ld` makes of a small program.
    fn new() -> Image {
        let mut ident = [0u8; 16];
        ident[..4].copy_from_slice(&abi::ELFMAGIC);
        ident[4] = abi::ELFCLASS32;
        ident[5] = abi::ELFDATA2LSB;
        ident[6] = abi::EV_CURRENT;
        Image {
            ident,
            e_type: abi::ET_EXEC,
            machine: abi::EM_386,
            entry: 0x0804_8100,
            phoff: 52,
            phentsize: 32,
            phnum: None,
            phdrs: vec![
                load(0, 0x0804_8000, 0x200, 0x200, RX),
                load(0x1000, 0x0804_9000, 0x100, 0x2345, RW),
                Phdr { p_type: abi::PT_GNU_STACK, offset: 0, vaddr: 0, filesz: 0, memsz: 0, flags: RW },
            ],
            extra: vec![],
            len: 0x1100,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; self.len.max(52 + 32 * self.phdrs.len() + self.phoff as usize)];
        let mut w = |at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
        w(0, &self.ident);
        w(16, &self.e_type.to_le_bytes());
        w(18, &self.machine.to_le_bytes());
        w(20, &1u32.to_le_bytes());
        w(24, &self.entry.to_le_bytes());
        w(28, &self.phoff.to_le_bytes());
        w(40, &52u16.to_le_bytes());
        w(42, &self.phentsize.to_le_bytes());
        w(44, &self.phnum.unwrap_or(self.phdrs.len() as u16).to_le_bytes());
        for (i, p) in self.phdrs.iter().enumerate() {
            let at = self.phoff as usize + 32 * i;
            for (k, v) in [p.p_type, p.offset, p.vaddr, p.vaddr, p.filesz, p.memsz, p.flags, 0x1000].iter().enumerate()
            {
                w(at + 4 * k, &v.to_le_bytes());
            }
        }
        for (at, v) in &self.extra {
            w(*at, v);
        }
        b.truncate(self.len);
        b
    }

    fn with(mut self, f: impl FnOnce(&mut Image)) -> Image {
        f(&mut self);
        self
    }
}

fn refused(img: &Image) -> String {
    parse(&img.bytes()).unwrap_err().to_string()
}

#[test]
fn small_image_plan() {
    let plan = parse(&Image::new().bytes()).unwrap();
    assert_eq!(
        plan,
        ElfPlan {
            segments: vec![
                LoadSegment {
                    vaddr: 0x0804_8000,
                    memsz: 0x200,
                    offset: 0,
                    filesz: 0x200,
                    flags: SegFlags::R | SegFlags::X
                },
                LoadSegment {
                    vaddr: 0x0804_9000,
                    memsz: 0x2345,
                    offset: 0x1000,
                    filesz: 0x100,
                    flags: SegFlags::R | SegFlags::W
                },
            ],
            entry: 0x0804_8100,
            phdr: 0x0804_8034,
            phent: 32,
            phnum: 3,
            start_code: 0x0804_8000,
            end_code: 0x0804_8200,
            start_data: 0x0804_9000,
            end_data: 0x0804_9100,
            brk: 0x0804_c000,
            exec_stack: false,
        }
    );
    assert_eq!(plan.segments[0].flags.to_string(), "R-X");
    assert_eq!(plan.segments[1].flags.to_string(), "RW-");
}

/// `readelf -lW tests/fixtures/hello-i386`, entry and brk included.
#[test]
fn real_gcc_static_program_plan() {
    let plan = parse(HELLO).unwrap();
    let segs: Vec<_> =
        plan.segments.iter().map(|s| (s.offset, s.vaddr, s.filesz, s.memsz, s.flags.to_string())).collect();
    assert_eq!(
        segs,
        vec![
            (0x0, 0x0804_8000, 0x118, 0x118, "R--".to_string()),
            (0x1000, 0x0804_9000, 0x34, 0x34, "R-X".to_string()),
            (0x2000, 0x0804_a000, 0x38, 0x38, "R--".to_string()),
            (0x3000, 0x0804_b000, 0x4, 0x13a8, "RW-".to_string()),
        ]
    );
    assert_eq!((plan.entry, plan.phdr, plan.phent, plan.phnum), (0x0804_9000, 0x0804_8034, 32, 6));
    assert_eq!(plan.brk, 0x0804_d000, "end of .bss 0x0804c3a8, page aligned");
    assert!(!plan.exec_stack);
    // AT_PHDR must point into a mapped segment: glibc finds PT_TLS there.
    assert!(plan.segments.iter().any(|s| (s.vaddr..s.vaddr + s.filesz).contains(&plan.phdr)));
}

#[test]
fn real_program_cut_short_is_truncated() {
    let err = parse(&HELLO[..0x3002]).unwrap_err();
    assert_eq!(err.to_string(), "truncated: segment 3 file bytes [0x3000-0x3004) past the end of the 0x3002-byte file");
    let err = parse(&HELLO[..100]).unwrap_err();
    assert_eq!(err.to_string(), "truncated: program headers [0x34-0xf4) past the end of the 0x64-byte file");
    assert_eq!(
        parse(&HELLO[..40]).unwrap_err().to_string(),
        "truncated: the 40-byte file is shorter than an ELF header (52 bytes)"
    );
}

#[test]
fn refuses_what_is_not_an_elf_file() {
    let img = Image::new().with(|i| i.ident[3] = b'G');
    assert_eq!(refused(&img), "not an ELF file (magic 7f 45 4c 47)");
    assert_eq!(parse(b"#!/bin/sh\n").unwrap_err().to_string(), "not an ELF file (magic 23 21 2f 62)");
    assert_eq!(parse(b"\x7fE").unwrap_err(), ElfError::ShortHeader { len: 2 });
}

#[test]
fn refuses_other_classes_byte_orders_and_versions() {
    assert_eq!(refused(&Image::new().with(|i| i.ident[4] = 2)), "ELFCLASS64: only 32-bit programs run here");
    assert_eq!(refused(&Image::new().with(|i| i.ident[4] = 7)), "EI_CLASS 7: only ELFCLASS32 (1)");
    assert_eq!(
        refused(&Image::new().with(|i| i.ident[5] = 2)),
        "ELFDATA2MSB (big-endian): only little-endian (ELFDATA2LSB) programs run here"
    );
    assert_eq!(refused(&Image::new().with(|i| i.ident[6] = 0)), "EI_VERSION 0: only EV_CURRENT (1)");
}

#[test]
fn refuses_other_machines_and_types() {
    assert_eq!(refused(&Image::new().with(|i| i.machine = 62)), "e_machine 62 (x86-64): only i386 (3)");
    assert_eq!(refused(&Image::new().with(|i| i.machine = 40)), "e_machine 40 (ARM): only i386 (3)");
    assert_eq!(refused(&Image::new().with(|i| i.e_type = abi::ET_DYN)), "ET_DYN: only static executables (ET_EXEC)");
    assert_eq!(refused(&Image::new().with(|i| i.e_type = abi::ET_REL)), "ET_REL: only static executables (ET_EXEC)");
    assert_eq!(refused(&Image::new().with(|i| i.e_type = 0xfe00)), "e_type 0xfe00: only static executables (ET_EXEC)");
    // Linux's elf_check_arch also takes the old EM_486.
    assert!(parse(&Image::new().with(|i| i.machine = 6).bytes()).is_ok());
}

#[test]
fn refuses_odd_program_header_tables() {
    assert_eq!(refused(&Image::new().with(|i| i.phentsize = 56)), "e_phentsize 56: an i386 program header is 32 bytes");
    assert_eq!(
        refused(&Image::new().with(|i| i.phnum = Some(0))),
        "e_phnum 0: a program has 1 to 2048 program headers"
    );
    assert_eq!(
        refused(&Image::new().with(|i| i.phnum = Some(2049))),
        "e_phnum 2049: a program has 1 to 2048 program headers"
    );
    assert_eq!(
        refused(&Image::new().with(|i| i.phoff = 0x10f0)),
        "truncated: program headers [0x10f0-0x1150) past the end of the 0x1100-byte file"
    );
}

#[test]
fn refuses_dynamically_linked_programs() {
    let img = Image::new().with(|i| {
        i.phdrs.insert(
            0,
            Phdr { p_type: abi::PT_INTERP, offset: 0x180, vaddr: 0x0804_8180, filesz: 19, memsz: 19, flags: abi::PF_R },
        );
        i.extra.push((0x180, b"/lib/ld-linux.so.2\0".to_vec()));
    });
    assert_eq!(refused(&img), "PT_INTERP /lib/ld-linux.so.2: dynamically linked");
    let img = img.with(|i| i.phdrs[0].offset = 0x10f8);
    assert_eq!(refused(&img), "truncated: PT_INTERP path [0x10f8-0x110b) past the end of the 0x1100-byte file");
}

#[test]
fn refuses_segments_in_kernel_space() {
    let img = Image::new().with(|i| i.phdrs.insert(2, load(0x1000, 0xbfff_0000, 0x100, 0x11000, RW)));
    assert_eq!(refused(&img), "segment 2 [0xbfff0000-0xc0001000) reaches kernel space (0xc0000000)");
    let img = Image::new().with(|i| i.phdrs[0].vaddr = 0xffff_f000);
    assert_eq!(refused(&img), "segment 0 [0xfffff000-0xfffff200) reaches kernel space (0xc0000000)");
    // Ending exactly at TASK_SIZE is allowed.
    let img = Image::new().with(|i| i.phdrs.insert(2, load(0x1000, 0xbfff_f000, 0x100, 0x1000, RW)));
    assert_eq!(parse(&img.bytes()).unwrap().brk, 0xc000_0000);
}

#[test]
fn refuses_truncated_segments() {
    let img = Image::new().with(|i| {
        i.phdrs[1].filesz = 0x8000;
        i.phdrs[1].memsz = 0x8000;
        i.len = 0x5000;
    });
    assert_eq!(refused(&img), "truncated: segment 1 file bytes [0x1000-0x9000) past the end of the 0x5000-byte file");
    let img = Image::new().with(|i| i.phdrs[1].offset = 0xffff_f000);
    assert_eq!(
        refused(&img),
        "truncated: segment 1 file bytes [0xfffff000-0xfffff100) past the end of the 0x1100-byte file"
    );
}

#[test]
fn refuses_bad_segment_geometry() {
    let img = Image::new().with(|i| i.phdrs[1].filesz = 0x3000);
    assert_eq!(refused(&img), "segment 1: p_filesz 0x3000 > p_memsz 0x2345");
    let img = Image::new().with(|i| i.phdrs[1].vaddr = 0x0804_9010);
    assert_eq!(refused(&img), "segment 1: p_vaddr 0x8049010 and p_offset 0x1000 differ modulo the page size (0x1000)");
    let img = Image::new().with(|i| i.phdrs[1].vaddr = 0x0804_8000);
    assert_eq!(refused(&img), "segments 0 [0x8048000-0x8048200) and 1 [0x8048000-0x804a345) overlap or share a page");
    // Disjoint bytes, but one page for both: refused too.
    let img = Image::new().with(|i| {
        i.phdrs[1].offset = 0x300;
        i.phdrs[1].vaddr = 0x0804_8300;
    });
    assert_eq!(refused(&img), "segments 0 [0x8048000-0x8048200) and 1 [0x8048300-0x804a645) overlap or share a page");
    // Out of order in the file: still found (sorted first).
    let img = Image::new().with(|i| {
        i.phdrs.swap(0, 1);
        i.phdrs[0].vaddr = 0x0804_7000;
    });
    assert_eq!(refused(&img), "segments 0 [0x8047000-0x8049345) and 1 [0x8048000-0x8048200) overlap or share a page");
    let img = Image::new().with(|i| {
        i.phdrs[0].vaddr = 0;
        i.entry = 0x100;
    });
    assert_eq!(refused(&img), "segment 0 at 0x0 maps below 0x1000: page 0 stays unmapped");
}

#[test]
fn refuses_programs_with_nothing_to_run() {
    let img = Image::new().with(|i| i.phdrs.retain(|p| p.p_type != abi::PT_LOAD));
    assert_eq!(refused(&img), "no PT_LOAD segment: nothing to run");
    assert_eq!(
        refused(&Image::new().with(|i| i.entry = 0x0804_9000)),
        "entry 0x8049000 is outside every executable segment"
    );
    assert_eq!(
        refused(&Image::new().with(|i| i.entry = 0x0804_8200)),
        "entry 0x8048200 is outside every executable segment"
    );
    assert!(parse(&Image::new().with(|i| i.entry = 0x0804_81ff).bytes()).is_ok());
}

#[test]
fn empty_segments_are_skipped_and_gnu_stack_read() {
    let img = Image::new().with(|i| {
        i.phdrs.push(load(0, 0x0900_0000, 0, 0, RW));
        i.phdrs[2].flags = RW | abi::PF_X;
    });
    let plan = parse(&img.bytes()).unwrap();
    assert_eq!(plan.segments.len(), 2);
    assert!(plan.exec_stack);
    let img = Image::new().with(|i| i.phdrs.truncate(2));
    assert!(parse(&img.bytes()).unwrap().exec_stack, "no PT_GNU_STACK: i386's default is an executable stack");
}

proptest! {
    /// Any byte flipped anywhere in a valid image: an answer, never a panic,
    /// and an accepted plan still keeps every promise.
    #[test]
    fn corrupted_images_never_panic(edits in proptest::collection::vec((0usize..0x1100, any::<u8>()), 1..8)) {
        for base in [Image::new().bytes(), HELLO.to_vec()] {
            let mut b = base.clone();
            for &(at, v) in &edits {
                let at = at % b.len();
                b[at] = v;
            }
            if let Ok(plan) = parse(&b) {
                check_plan(&plan, b.len());
            }
        }
    }

    /// Random layouts of page-disjoint segments are accepted, exactly.
    #[test]
    fn disjoint_segments_are_accepted(gaps in proptest::collection::vec((0u32..4, 1u32..0x3000, 0u32..0x800, 0u32..0x1000), 1..6)) {
        let mut img = Image::new();
        img.phdrs.clear();
        let (mut page, mut file) = (0x0804_8000u32, 0x1000u32);
        for (skip, memsz, filesz, off) in &gaps {
            let filesz = (*filesz).min(*memsz);
            let vaddr = page + skip * 0x1000 + off;
            img.phdrs.push(load(file + off, vaddr, filesz, *memsz, RX));
            page = (vaddr + memsz + 0xfff) & !0xfff;
            file += ((off + filesz) + 0xfff) & !0xfff;
        }
        img.entry = img.phdrs[0].vaddr;
        img.len = file as usize;
        let plan = parse(&img.bytes()).unwrap();
        prop_assert_eq!(plan.segments.len(), gaps.len());
        prop_assert_eq!(plan.brk, page);
        check_plan(&plan, img.len);
    }
}

fn check_plan(plan: &ElfPlan, len: usize) {
    assert!(!plan.segments.is_empty());
    for s in &plan.segments {
        assert!(s.filesz <= s.memsz && s.vaddr >= MMAP_MIN_ADDR);
        assert!(s.vaddr as u64 + s.memsz as u64 <= TASK_SIZE as u64);
        assert!(s.offset as usize + s.filesz as usize <= len);
        assert_eq!(s.vaddr % 4096, s.offset % 4096);
    }
    for w in plan.segments.windows(2) {
        assert!(w[0].page_end() <= w[1].page_start());
    }
    assert!(plan
        .segments
        .iter()
        .any(|s| s.flags.contains(SegFlags::X) && (s.vaddr..s.vaddr_end()).contains(&plan.entry)));
    assert_eq!(plan.brk % 4096, 0);
    assert!(plan.brk >= plan.segments.last().unwrap().vaddr_end());
}

// --- The initial stack ---

fn args<'a>(argv: &'a [&'a [u8]], envp: &'a [&'a [u8]], execfn: &'a [u8]) -> ExecArgs<'a> {
    ExecArgs { argv, envp, execfn, random: *b"0123456789abcdef", hwcap: 0x178b_fbff }
}

fn cstr(img: &StackImage, addr: u32) -> &[u8] {
    let at = (addr - img.esp) as usize;
    let n = img.bytes[at..].iter().position(|&b| b == 0).unwrap();
    &img.bytes[at..at + n]
}

/// The auxv of the image, as (type, value) pairs up to and with AT_NULL.
fn auxv(img: &StackImage, argc: usize, envc: usize) -> Vec<(u32, u32)> {
    let mut at = img.esp + 4 * (argc as u32 + envc as u32 + 3);
    let mut v = vec![];
    loop {
        let pair = (img.word(at), img.word(at + 4));
        v.push(pair);
        at += 8;
        if pair.0 == AT_NULL {
            return v;
        }
    }
}

/// The order Linux gives on the host (user/c/auxv.c under `setarch -R`),
/// without what a 64-bit host adds and this kernel has not: the vDSO
/// (AT_SYSINFO, AT_SYSINFO_EHDR), AT_MINSIGSTKSZ, AT_HWCAP2, the rseq pair.
const LINUX_AUXV_ORDER: [u32; 18] = [
    AT_HWCAP,
    AT_PAGESZ,
    AT_CLKTCK,
    AT_PHDR,
    AT_PHENT,
    AT_PHNUM,
    AT_BASE,
    AT_FLAGS,
    AT_ENTRY,
    AT_UID,
    AT_EUID,
    AT_GID,
    AT_EGID,
    AT_SECURE,
    AT_RANDOM,
    AT_EXECFN,
    AT_PLATFORM,
    AT_NULL,
];

/// `setarch -R env -i X=1 /tmp/auxv`, recomputed for a 32-bit kernel's
/// STACK_TOP. A 64-bit host ends the strings at 0xffffdff8 (below an 8-byte
/// end marker; here 0xbffffffc, below a 4-byte one) and has 24 auxv pairs;
/// the same steps give there argv[0] at esp+240, AT_PLATFORM at esp+235,
/// AT_RANDOM at esp+219, the auxv's end at esp+212 and AT_EXECFN at
/// esp+254, which is what user/c/auxv.c printed on the host.
#[test]
fn stack_of_one_argument_and_one_variable() {
    let plan = parse(HELLO).unwrap();
    let img = create_elf_tables(&plan, &args(&[b"/tmp/auxv"], &[b"X=1"], b"/tmp/auxv")).unwrap();
    // Strings: 0xbffffffc - 10 (file name) - 4 ("X=1") - 10 ("/tmp/auxv").
    assert_eq!((img.arg_start, img.env_start, img.env_end), (0xbfff_ffe4, 0xbfff_ffee, 0xbfff_fff2));
    // Platform below the 16-byte boundary, random below it, then 18 auxv
    // pairs and 5 words: (0xbfffffcb - 144 - 20) & ~15.
    assert_eq!(img.esp, 0xbfff_ff20);
    assert_eq!(img.bytes.len(), 0xe0);
    assert_eq!(img.word(img.esp), 1);
    assert_eq!(img.word(img.esp + 4), 0xbfff_ffe4);
    assert_eq!(img.word(img.esp + 8), 0);
    assert_eq!(img.word(img.esp + 12), 0xbfff_ffee);
    assert_eq!(img.word(img.esp + 16), 0);
    let aux = auxv(&img, 1, 1);
    assert_eq!(
        aux,
        vec![
            (AT_HWCAP, 0x178b_fbff),
            (AT_PAGESZ, 4096),
            (AT_CLKTCK, 100),
            (AT_PHDR, 0x0804_8034),
            (AT_PHENT, 32),
            (AT_PHNUM, 6),
            (AT_BASE, 0),
            (AT_FLAGS, 0),
            (AT_ENTRY, 0x0804_9000),
            (AT_UID, 0),
            (AT_EUID, 0),
            (AT_GID, 0),
            (AT_EGID, 0),
            (AT_SECURE, 0),
            (AT_RANDOM, 0xbfff_ffcb),
            (AT_EXECFN, 0xbfff_fff2),
            (AT_PLATFORM, 0xbfff_ffdb),
            (AT_NULL, 0),
        ]
    );
    // As on the host: 7 bytes between the auxv's end and AT_RANDOM.
    assert_eq!(0xbfff_ffcb - (img.esp + 20 + 144), 7);
    assert_eq!(&img.bytes[(0xbfff_ffcb - img.esp) as usize..][..16], b"0123456789abcdef");
    assert_eq!(cstr(&img, 0xbfff_ffdb), b"i686");
    assert_eq!(cstr(&img, 0xbfff_fff2), b"/tmp/auxv");
    assert_eq!(&img.bytes[img.bytes.len() - 4..], &[0, 0, 0, 0]);
}

#[test]
fn empty_argv_gets_an_empty_argv0() {
    let plan = parse(HELLO).unwrap();
    let img = create_elf_tables(&plan, &args(&[], &[], b"prog")).unwrap();
    assert_eq!(img.word(img.esp), 1);
    assert_eq!(cstr(&img, img.word(img.esp + 4)), b"");
    assert_eq!(img.word(img.esp + 8), 0);
}

#[test]
fn refuses_arguments_over_linux_limits() {
    let plan = parse(HELLO).unwrap();
    let long = vec![b'a'; MAX_ARG_STRLEN];
    let err = create_elf_tables(&plan, &args(&[b"p", &long], &[], b"p")).unwrap_err();
    assert_eq!(err.to_string(), "argv[1] is 131073 bytes with its NUL, more than MAX_ARG_STRLEN (131072 bytes): E2BIG");
    let fits = vec![b'a'; MAX_ARG_STRLEN - 1];
    let err = create_elf_tables(&plan, &args(&[b"p"], &[&fits], b"p")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "arguments and environment take 131084 bytes with their pointers, more than ARG_MAX (131072 bytes): E2BIG"
    );
    // Exactly at the cap: accepted (2 + 2 + 131064 + 8 for the pointers).
    let at_cap = vec![b'a'; ARG_MAX - 2 - 2 - 8 - 1];
    assert!(create_elf_tables(&plan, &args(&[b"p"], &[&at_cap], b"p")).is_ok());
    let err = create_elf_tables(&plan, &args(&[b"p"], &[b"A=1", b"B\0C"], b"p")).unwrap_err();
    assert_eq!(err.to_string(), "envp[1] holds a NUL at byte 1: a C string would end there");
}

fn arg_string() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(1u8..=255, 0..40)
}

proptest! {
    /// Any argv and envp: the layout keeps Linux's order and alignment.
    #[test]
    fn stack_layout_follows_linux(
        argv in proptest::collection::vec(arg_string(), 0..12),
        envp in proptest::collection::vec(arg_string(), 0..12),
        execfn in arg_string(),
        random in any::<[u8; 16]>(),
    ) {
        let plan = parse(HELLO).unwrap();
        let argv_s: Vec<&[u8]> = argv.iter().map(|s| &s[..]).collect();
        let envp_s: Vec<&[u8]> = envp.iter().map(|s| &s[..]).collect();
        let mut a = args(&argv_s, &envp_s, &execfn);
        a.random = random;
        let img = create_elf_tables(&plan, &a).unwrap();
        prop_assert_eq!(img.esp % 16, 0);
        prop_assert_eq!(img.esp as usize + img.bytes.len(), STACK_TOP as usize);
        let argc = argv.len().max(1);
        prop_assert_eq!(img.word(img.esp) as usize, argc);
        // Strings in order, back to back, from arg_start to the end marker.
        let mut next = img.arg_start;
        let want_argv: Vec<&[u8]> = if argv.is_empty() { vec![b""] } else { argv_s.clone() };
        for (i, s) in want_argv.iter().enumerate() {
            let p = img.word(img.esp + 4 + 4 * i as u32);
            prop_assert_eq!(p, next);
            prop_assert_eq!(cstr(&img, p), *s);
            next += s.len() as u32 + 1;
        }
        prop_assert_eq!(img.word(img.esp + 4 + 4 * argc as u32), 0);
        prop_assert_eq!((img.arg_end, img.env_start), (next, next));
        let envp_at = img.esp + 8 + 4 * argc as u32;
        for (i, s) in envp_s.iter().enumerate() {
            let p = img.word(envp_at + 4 * i as u32);
            prop_assert_eq!(p, next);
            prop_assert_eq!(cstr(&img, p), *s);
            next += s.len() as u32 + 1;
        }
        prop_assert_eq!(img.word(envp_at + 4 * envp.len() as u32), 0);
        prop_assert_eq!(img.env_end, next);
        let aux = auxv(&img, argc, envp.len());
        prop_assert_eq!(aux.iter().map(|p| p.0).collect::<Vec<_>>(), LINUX_AUXV_ORDER.to_vec());
        let get = |t| aux.iter().find(|p| p.0 == t).unwrap().1;
        prop_assert_eq!(get(AT_EXECFN), next);
        prop_assert_eq!(cstr(&img, next), &execfn[..]);
        prop_assert_eq!(next + execfn.len() as u32 + 1, STACK_TOP - 4);
        // Linux's create_elf_tables: platform ends at arg_start rounded
        // down to 16, random right below it, the auxv within 16 below that.
        let platform = get(AT_PLATFORM);
        prop_assert_eq!(platform + 5, img.arg_start & !0xf);
        prop_assert_eq!(cstr(&img, platform), b"i686");
        let rnd = get(AT_RANDOM);
        prop_assert_eq!(rnd + 16, platform);
        prop_assert_eq!(&img.bytes[(rnd - img.esp) as usize..][..16], &random[..]);
        let auxv_end = envp_at + 4 * (envp.len() as u32 + 1) + 8 * aux.len() as u32;
        prop_assert!(auxv_end <= rnd && rnd - auxv_end < 16, "gap {}", rnd - auxv_end);
    }
}
