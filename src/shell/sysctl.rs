//! `sysctl`, as procps-ng's (4.0) reads and writes `/proc/sys`, over the
//! knobs of `mm::sysctl`: `sysctl NAME...`, `-n` values only, `-N` names
//! only, `-w NAME=VALUE` (or `NAME=VALUE` alone), `-a` every knob, `-e`
//! quiet about unknown names, `-q` quiet about writes; names with `.` or
//! `/`; a directory name (`vm`) lists what is under it. The messages are
//! procps-ng's word for word, as this kernel runs everything as root.
//! Pure: it reads and writes a [`Node`] and prints to a `Write`, so the
//! host tests run it on a test node.

#![forbid(unsafe_code)]

use crate::mm::mmzone::Node;
use crate::mm::page::Page;
use crate::mm::sysctl::{find, Knob, KNOBS};
use core::fmt::{self, Write};

const USAGE: &str = "
Usage:
 sysctl [options] [variable[=value] ...]

Options:
  -a, --all            display all variables
  -A                   alias of -a
  -X                   alias of -a
  -b, --binary         print value without new line
  -e, --ignore         ignore unknown variables errors
  -N, --names          print variable names without values
  -n, --values         print only values of the given variable(s)
  -p, --load[=<file>]  read values from file
  -q, --quiet          do not echo variable set
  -w, --write          enable writing a value to variable
  -o                   does nothing
  -x                   does nothing
  -d                   alias of -h

 -h, --help     display this help and exit

For more details see sysctl(8).
";

#[derive(Default)]
struct Opts {
    all: bool,
    binary: bool,
    ignore: bool,
    names_only: bool,
    values_only: bool,
    quiet: bool,
    write: bool,
}

/// The directories the knobs live in (`vm`).
fn is_dir(name: &str) -> bool {
    name == "vm"
}

/// Run `sysctl ARGS` on `node`; the output (messages included, as the
/// console shows both) goes to `out`.
pub fn sysctl(args: &[&str], node: &Node, mem_map: &[Page], out: &mut impl Write) -> fmt::Result {
    let mut o = Opts::default();
    let mut names: [&str; 16] = [""; 16];
    let mut n = 0;
    for &a in args {
        if let Some(long) = a.strip_prefix("--") {
            match long {
                "all" => o.all = true,
                "binary" => o.binary = true,
                "ignore" => o.ignore = true,
                "names" => o.names_only = true,
                "values" => o.values_only = true,
                "quiet" => o.quiet = true,
                "write" => o.write = true,
                "help" => return out.write_str(USAGE),
                "load" => return load(out),
                _ => {
                    writeln!(out, "sysctl: unrecognized option '{}'", a)?;
                    return out.write_str(USAGE);
                }
            }
        } else if a.len() > 1 && a.starts_with('-') {
            for c in a[1..].chars() {
                match c {
                    'a' | 'A' | 'X' => o.all = true,
                    'b' => o.binary = true,
                    'e' => o.ignore = true,
                    'N' => o.names_only = true,
                    'n' => o.values_only = true,
                    'q' => o.quiet = true,
                    'w' => o.write = true,
                    'o' | 'x' => {}
                    'h' | 'd' => return out.write_str(USAGE),
                    'p' | 'f' => return load(out),
                    _ => {
                        writeln!(out, "sysctl: invalid option -- '{}'", c)?;
                        return out.write_str(USAGE);
                    }
                }
            }
        } else if n < names.len() {
            names[n] = a;
            n += 1;
        }
    }
    if o.all {
        for k in KNOBS.iter().filter(|k| k.readable()) {
            show(k, node, &o, out)?;
        }
        return Ok(());
    }
    if n == 0 {
        if args.is_empty() {
            return out.write_str(USAGE);
        }
        return out.write_str("sysctl: no variables specified\nTry `sysctl --help' for more information.\n");
    }
    for &arg in &names[..n] {
        match arg.split_once('=') {
            Some((name, value)) => write_one(name, value, node, mem_map, &o, out)?,
            None if o.write => writeln!(out, "sysctl: command line(0): invalid syntax, continuing...")?,
            None => read_one(arg, node, &o, out)?,
        }
    }
    Ok(())
}

/// `-p`: there is no `/etc/sysctl.conf` (no file system).
fn load(out: &mut impl Write) -> fmt::Result {
    writeln!(out, "sysctl: cannot open \"/etc/sysctl.conf\": No such file or directory")
}

fn show(k: &Knob, node: &Node, o: &Opts, out: &mut impl Write) -> fmt::Result {
    if o.names_only {
        return writeln!(out, "{}", k.name);
    }
    if !o.values_only && !o.binary {
        write!(out, "{} = ", k.name)?;
    }
    k.show(node, out)?;
    if o.binary {
        Ok(())
    } else {
        writeln!(out)
    }
}

/// procps' message for a name with no file: the path it looked for.
struct NoSuch<'a>(&'a str);

impl fmt::Display for NoSuch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sysctl: cannot stat /proc/sys/")?;
        for c in self.0.chars() {
            f.write_char(if c == '.' { '/' } else { c })?;
        }
        f.write_str(": No such file or directory")
    }
}

fn read_one(name: &str, node: &Node, o: &Opts, out: &mut impl Write) -> fmt::Result {
    let name = name.trim_matches('/');
    if is_dir(name) {
        let under = |k: &&Knob| k.name.starts_with(name) && k.name.as_bytes()[name.len()] == b'.' && k.readable();
        for k in KNOBS.iter().filter(under) {
            show(k, node, o, out)?;
        }
        return Ok(());
    }
    match find(name) {
        // procps: a file without the owner's read bit is passed over in
        // silence (its `ReadSetting` returns before opening it).
        Some(k) if !k.readable() => Ok(()),
        Some(k) => show(k, node, o, out),
        None if o.ignore => Ok(()),
        None => writeln!(out, "{}", NoSuch(name)),
    }
}

fn write_one(name: &str, value: &str, node: &Node, mem_map: &[Page], o: &Opts, out: &mut impl Write) -> fmt::Result {
    if name.is_empty() {
        return writeln!(out, "sysctl: Path is not under /proc/sys/: /proc/sys/");
    }
    let shown = DotName(name);
    if is_dir(name) {
        return writeln!(out, "sysctl: setting key \"{}\": Invalid argument", shown);
    }
    let Some(k) = find(name) else {
        return if o.ignore { Ok(()) } else { writeln!(out, "{}", NoSuch(name)) };
    };
    if let Err(e) = k.write(node, mem_map, value) {
        return writeln!(out, "sysctl: setting key \"{}\": {}", shown, e);
    }
    if o.quiet {
        return Ok(());
    }
    // procps echoes the value as given, not as read back.
    if o.names_only {
        writeln!(out, "{}", shown)
    } else if o.values_only || o.binary {
        write!(out, "{}{}", value, if o.binary { "" } else { "\n" })
    } else {
        writeln!(out, "{} = {}", shown, value)
    }
}

/// A name as procps shows it: slashes become dots.
struct DotName<'a>(&'a str);

impl fmt::Display for DotName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            f.write_char(if c == '/' { '.' } else { c })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::e820::{MemMap, MemType, Region};
    use crate::mm::zones::{size_zones, MemOptions};

    fn machine() -> (Node, Vec<Page>) {
        let map = MemMap::sanitize(&[
            Region::new(0, 0x9fc00, MemType::Usable),
            Region::new(0x100000, (128 << 20) - 0x100000, MemType::Usable),
        ]);
        let (layout, _) = size_zones(&map, &MemOptions { highmem: Some(32 << 20), ..MemOptions::default() });
        let mut node = Node::EMPTY;
        node.init(&layout, true);
        let mm = vec![Page::RESERVED; layout.max_pfn as usize];
        node.free_range(&mm, 0x100, layout.max_pfn as u32);
        node.setup_watermarks(Some(1024));
        (node, mm)
    }

    fn run(node: &Node, mm: &[Page], line: &str) -> String {
        let args: Vec<&str> = line.split_whitespace().collect();
        let mut s = String::new();
        sysctl(&args, node, mm, &mut s).unwrap();
        s
    }

    #[test]
    fn reads_as_procps() {
        let (node, mm) = machine();
        assert_eq!(run(&node, &mm, "vm.min_free_kbytes"), "vm.min_free_kbytes = 1024\n");
        assert_eq!(run(&node, &mm, "vm/min_free_kbytes"), "vm.min_free_kbytes = 1024\n");
        assert_eq!(run(&node, &mm, "-n vm.min_free_kbytes"), "1024\n");
        assert_eq!(run(&node, &mm, "-N vm.min_free_kbytes"), "vm.min_free_kbytes\n");
        assert_eq!(run(&node, &mm, "vm.lowmem_reserve_ratio"), "vm.lowmem_reserve_ratio = 256\t32\t32\n");
        let all = run(&node, &mm, "-a");
        let names: Vec<&str> = all.lines().map(|l| l.split(" = ").next().unwrap()).collect();
        assert_eq!(
            names,
            [
                "vm.compact_unevictable_allowed",
                "vm.extfrag_threshold",
                "vm.lowmem_reserve_ratio",
                "vm.min_free_kbytes",
                "vm.oom_kill_allocating_task",
                "vm.overcommit_memory",
                "vm.overcommit_ratio",
                "vm.page-cluster",
                "vm.panic_on_oom",
                "vm.swappiness"
            ]
        );
        assert_eq!(run(&node, &mm, "vm"), all, "a directory lists what is under it");
        assert_eq!(run(&node, &mm, "vm.extfrag_threshold"), "vm.extfrag_threshold = 500\n");
        // Mode 0200: procps reads nothing, says nothing, lists nothing.
        assert_eq!(run(&node, &mm, "vm.compact_memory"), "");
        assert_eq!(run(&node, &mm, "-N vm.compact_memory"), "");
        assert!(!all.contains("compact_memory"));
    }

    #[test]
    fn errors_are_procps_s() {
        let (node, mm) = machine();
        assert_eq!(
            run(&node, &mm, "vm.nosuch"),
            "sysctl: cannot stat /proc/sys/vm/nosuch: No such file or directory\n"
        );
        assert_eq!(run(&node, &mm, "nosuch"), "sysctl: cannot stat /proc/sys/nosuch: No such file or directory\n");
        assert_eq!(run(&node, &mm, "-e vm.nosuch vm.min_free_kbytes"), "vm.min_free_kbytes = 1024\n");
        assert_eq!(
            run(&node, &mm, "-w vm.swappiness=abc"),
            "sysctl: setting key \"vm.swappiness\": Invalid argument\n"
        );
        assert_eq!(
            run(&node, &mm, "-w vm.swappiness=300"),
            "sysctl: setting key \"vm.swappiness\": Invalid argument\n"
        );
        assert_eq!(
            run(&node, &mm, "-w vm/overcommit_memory=7"),
            "sysctl: setting key \"vm.overcommit_memory\": Invalid argument\n"
        );
        assert_eq!(run(&node, &mm, "-w vm.swappiness"), "sysctl: command line(0): invalid syntax, continuing...\n");
        assert_eq!(run(&node, &mm, "-w =1"), "sysctl: Path is not under /proc/sys/: /proc/sys/\n");
        assert_eq!(
            run(&node, &mm, "-w vm.nosuch=1"),
            "sysctl: cannot stat /proc/sys/vm/nosuch: No such file or directory\n"
        );
        assert_eq!(
            run(&node, &mm, "-n"),
            "sysctl: no variables specified\nTry `sysctl --help' for more information.\n"
        );
        assert!(run(&node, &mm, "").starts_with("\nUsage:\n sysctl [options] [variable[=value] ...]\n"));
        assert!(run(&node, &mm, "-Z").starts_with("sysctl: invalid option -- 'Z'\n\nUsage:"));
    }

    #[test]
    fn compact_memory_takes_only_1_as_linux_6_1() {
        let (node, mm) = machine();
        // The host has no migration: the write is checked, and the kernel's
        // own test shows what it does (tests/qemu.py).
        assert_eq!(run(&node, &mm, "-w vm.compact_memory=1"), "vm.compact_memory = 1\n");
        assert_eq!(
            run(&node, &mm, "-w vm.compact_memory=0"),
            "sysctl: setting key \"vm.compact_memory\": Invalid argument\n"
        );
    }

    #[test]
    fn writes_echo_the_value_given_and_apply_it() {
        let (node, mm) = machine();
        assert_eq!(run(&node, &mm, "-w vm.min_free_kbytes=2048"), "vm.min_free_kbytes = 2048\n");
        assert_eq!(node.min_free_kbytes(), 2048);
        assert_eq!(run(&node, &mm, "vm/min_free_kbytes=0x400"), "vm.min_free_kbytes = 0x400\n");
        assert_eq!(node.min_free_kbytes(), 1024);
        assert_eq!(run(&node, &mm, "-q vm.min_free_kbytes=1024"), "");
        assert_eq!(run(&node, &mm, "-n -w vm.min_free_kbytes=1024"), "1024\n");
    }
}
