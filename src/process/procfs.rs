//! What `/proc/PID/status` and procps' `ps -o pid,ppid,stat,vsz,rss,comm`
//! print about a task, from plain counts the process table fills in
//! ([`TaskInfo`], [`MmCounters`]: the names are `mm_struct`'s).
//!
//! `status` follows Linux 6.1's `fs/proc/array.c` (`proc_pid_status`,
//! `task_state`) and `fs/proc/task_mmu.c` (`task_mem`), the kernel of the
//! project's reference outputs (../shared/linux-formats/): 2.6.24 had no
//! `RssAnon` or `VmSwap`, which the issue asks for. Of its lines this
//! prints those that mean something here, in Linux's order: Name, State,
//! Tgid, Pid, PPid, VmPeak, VmSize, VmLck, VmHWM, VmRSS, RssAnon, RssFile,
//! RssShmem, VmData, VmStk, VmExe, VmLib, VmPTE, VmSwap, Threads. Left out,
//! because the kernel has no such thing: Umask, TracerPid, Uid, Gid, FDSize,
//! Groups (no users, files or ptrace), Ngid and NStgid/NSpid/NSpgid/NSsid
//! (no namespaces), Kthread, VmPin (nothing pins pages), HugetlbPages,
//! CoreDumping, THP_enabled, untag_mask, the signal masks (default actions
//! only: nothing to block, ignore or catch), the capabilities, NoNewPrivs,
//! Seccomp, Speculation, Cpus/Mems_allowed (one CPU, one node), and the
//! context-switch counts. A kernel thread has no `mm`: Linux prints no Vm
//! lines for it, and neither does this.
//!
//! Pure and host-tested.

#![forbid(unsafe_code)]

use core::fmt;

/// Linux's `task_state_array`: the letter `ps` shows and the words
/// `/proc/PID/status` adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcState {
    Running,
    Sleeping,
    DiskSleep,
    Stopped,
    TracingStop,
    Dead,
    Zombie,
}

impl ProcState {
    pub fn letter(self) -> char {
        self.text().as_bytes()[0] as char
    }

    /// The state from its letter (`R`, `S`, `D`, `T`, `t`, `X`, `Z`).
    pub fn from_letter(c: char) -> Option<ProcState> {
        use ProcState::*;
        [Running, Sleeping, DiskSleep, Stopped, TracingStop, Dead, Zombie].into_iter().find(|s| s.letter() == c)
    }

    /// As `task_state_array` spells it: `R (running)`.
    pub fn text(self) -> &'static str {
        match self {
            ProcState::Running => "R (running)",
            ProcState::Sleeping => "S (sleeping)",
            ProcState::DiskSleep => "D (disk sleep)",
            ProcState::Stopped => "T (stopped)",
            ProcState::TracingStop => "t (tracing stop)",
            ProcState::Dead => "X (dead)",
            ProcState::Zombie => "Z (zombie)",
        }
    }
}

/// An address space's counts, as `mm_struct` keeps them: pages, but for
/// `start_code`/`end_code` (addresses) and `pgtables_bytes`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmCounters {
    /// Pages in all VMAs.
    pub total_vm: u64,
    /// The most `total_vm` has been (0 if not kept: `total_vm` is used).
    pub hiwater_vm: u64,
    /// Pages in `VM_LOCKED` VMAs.
    pub locked_vm: u64,
    /// The most resident pages there have been (0 if not kept).
    pub hiwater_rss: u64,
    /// Resident pages: `MM_ANONPAGES`, `MM_FILEPAGES`, `MM_SHMEMPAGES`.
    pub anon_rss: u64,
    pub file_rss: u64,
    pub shmem_rss: u64,
    /// Pages in private writable VMAs that are not stack (`data_vm`).
    pub data_vm: u64,
    /// Pages in the stack VMA (`stack_vm`).
    pub stack_vm: u64,
    /// Pages in executable VMAs (`exec_vm`): text, and libraries if any.
    pub exec_vm: u64,
    /// The program's text, as the ELF loader set it.
    pub start_code: u32,
    pub end_code: u32,
    /// Bytes of page tables (`mm_pgtables_bytes`: 4096 per page table; the
    /// page directory is not counted, as in Linux).
    pub pgtables_bytes: u64,
    /// Swapped-out pages (`MM_SWAPENTS`).
    pub swap_ents: u64,
}

const PAGE_SIZE: u64 = 4096;
const KB_PER_PAGE: u64 = PAGE_SIZE / 1024;

impl MmCounters {
    /// `get_mm_rss`: resident pages of every kind.
    pub fn rss(&self) -> u64 {
        self.anon_rss + self.file_rss + self.shmem_rss
    }

    /// `task_mem`'s split of `exec_vm` into text and libraries, in bytes.
    fn text_and_lib(&self) -> (u64, u64) {
        let end = (self.end_code as u64).div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let start = self.start_code as u64 & !(PAGE_SIZE - 1);
        let exec = self.exec_vm * PAGE_SIZE;
        let text = end.saturating_sub(start).min(exec);
        (text, exec - text)
    }
}

/// One task as the process table sees it; the input of [`TaskInfo::status`]
/// and [`Ps`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskInfo<'a> {
    /// `comm`: at most 15 bytes in Linux (`TASK_COMM_LEN`), printed as given.
    pub name: &'a str,
    pub state: ProcState,
    pub pid: u32,
    pub ppid: u32,
    /// `None` for a kernel thread, and for a zombie, whose `mm` is gone
    /// (Linux prints no Vm lines for either).
    pub mm: Option<MmCounters>,
}

impl<'a> TaskInfo<'a> {
    /// The text of `/proc/PID/status`, a newline after every line. For a
    /// process with 3 pages of text, 33 of data and a 132 kB stack (tabs
    /// shown as `\t`):
    ///
    /// ```text
    /// Name:\thog
    /// State:\tS (sleeping)
    /// Tgid:\t42
    /// Pid:\t42
    /// PPid:\t1
    /// VmPeak:\t     676 kB
    /// VmSize:\t     676 kB
    /// VmLck:\t       0 kB
    /// VmHWM:\t     152 kB
    /// VmRSS:\t     152 kB
    /// RssAnon:\t     140 kB
    /// RssFile:\t      12 kB
    /// RssShmem:\t       0 kB
    /// VmData:\t     132 kB
    /// VmStk:\t     132 kB
    /// VmExe:\t      12 kB
    /// VmLib:\t       0 kB
    /// VmPTE:\t       8 kB
    /// VmSwap:\t       0 kB
    /// Threads:\t1
    /// ```
    pub fn status(&self) -> Status<'_> {
        Status(self)
    }
}

/// `/proc/PID/status`: see [`TaskInfo::status`].
pub struct Status<'a>(&'a TaskInfo<'a>);

impl fmt::Display for Status<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        f.write_str("Name:\t")?;
        // task_name() (2.6.24) and proc_task_name() (6.1, escaping only
        // "\n\\"): a backslash doubled, a newline as \n.
        for c in t.name.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                c => fmt::Write::write_char(f, c)?,
            }
        }
        write!(f, "\nState:\t{}\nTgid:\t{}\nPid:\t{}\nPPid:\t{}\n", t.state.text(), t.pid, t.pid, t.ppid)?;
        if let Some(mm) = &t.mm {
            let rss = mm.rss();
            let (text, lib) = mm.text_and_lib();
            // SEQ_PUT_DEC: pages shifted to kB, at least 8 wide.
            let pages = [
                ("VmPeak", mm.hiwater_vm.max(mm.total_vm)),
                ("VmSize", mm.total_vm),
                ("VmLck", mm.locked_vm),
                ("VmHWM", mm.hiwater_rss.max(rss)),
                ("VmRSS", rss),
                ("RssAnon", mm.anon_rss),
                ("RssFile", mm.file_rss),
                ("RssShmem", mm.shmem_rss),
                ("VmData", mm.data_vm),
                ("VmStk", mm.stack_vm),
            ];
            for (name, n) in pages {
                writeln!(f, "{}:\t{:8} kB", name, n * KB_PER_PAGE)?;
            }
            let bytes = [("VmExe", text), ("VmLib", lib), ("VmPTE", mm.pgtables_bytes)];
            for (name, b) in bytes {
                writeln!(f, "{}:\t{:8} kB", name, b >> 10)?;
            }
            writeln!(f, "VmSwap:\t{:8} kB", mm.swap_ents * KB_PER_PAGE)?;
        }
        // One thread per process: there is no clone(CLONE_THREAD).
        writeln!(f, "Threads:\t1")
    }
}

/// `ps -o pid,ppid,stat,vsz,rss,comm` as procps-ng prints it, header first,
/// tasks in the slice's order (give them in pid order, as procps reads
/// /proc). A kernel thread shows VSZ and RSS 0 and its name without
/// brackets (`comm`, not `args`):
///
/// ```text
///   PID  PPID STAT    VSZ   RSS COMMAND
///     1     0 S         0     0 init
///    42     1 S       676   152 hog
///    43     1 RL   1536132 1536020 hog
/// ```
///
/// VSZ is `total_vm` and RSS `get_mm_rss` in kB. STAT is the state letter,
/// then `L` when pages are locked (procps' `pr_stat`; its `<`, `N`, `s`,
/// `l` and `+` need nice values, sessions, threads and process groups,
/// which the kernel does not have). A value wider than its column pushes
/// the rest of the line right, and the next right-aligned column's padding
/// takes the push back (procps' `show_one_proc`), as in the last line.
pub struct Ps<'a>(pub &'a [TaskInfo<'a>]);

/// The columns: header, width, right-aligned.
const PS_COLUMNS: [(&str, usize, bool); 6] = [
    ("PID", 5, true),
    ("PPID", 5, true),
    ("STAT", 4, false),
    ("VSZ", 6, true),
    ("RSS", 5, true),
    ("COMMAND", 0, false),
];

/// Writes one line of columns, keeping procps' count of where the line
/// should be (`correct`) and where it is (`actual`).
struct Row<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    col: usize,
    correct: usize,
    actual: usize,
}

impl Row<'_, '_> {
    /// A number or STAT: short ASCII, formatted first to be measured.
    fn cell_fmt(&mut self, v: &dyn fmt::Display) -> fmt::Result {
        let mut buf = CellBuf { buf: [0; 24], len: 0 };
        fmt::Write::write_fmt(&mut buf, format_args!("{}", v))?;
        self.cell(core::str::from_utf8(&buf.buf[..buf.len]).map_err(|_| fmt::Error)?)
    }

    fn cell(&mut self, s: &str) -> fmt::Result {
        let (_, width, right) = PS_COLUMNS[self.col];
        let last = self.col + 1 == PS_COLUMNS.len();
        let sep = if self.col == 0 { 0 } else { 1 };
        let len = s.chars().count();
        let leftpad = if right { width.saturating_sub(len) } else { 0 };
        // Behind (a column overflowed): pad less, but keep the separator.
        let space = (self.correct + sep + leftpad).saturating_sub(self.actual).max(sep);
        write!(self.f, "{:space$}", "")?;
        for c in s.chars() {
            // procps' escape_str: a control character shows as '?'.
            fmt::Write::write_char(self.f, if c.is_control() { '?' } else { c })?;
        }
        self.actual += space + len;
        self.correct += sep + width;
        self.col += 1;
        if last {
            self.f.write_str("\n")?;
        }
        Ok(())
    }
}

/// A number's or STAT's text (a u64 is at most 20 digits).
struct CellBuf {
    buf: [u8; 24],
    len: usize,
}

impl fmt::Write for CellBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.buf.get_mut(self.len..end).ok_or(fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// STAT: the state letter, `L` if locked.
struct Stat<'a>(&'a TaskInfo<'a>);

impl fmt::Display for Stat<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Write::write_char(f, self.0.state.letter())?;
        if self.0.mm.is_some_and(|mm| mm.locked_vm != 0) {
            f.write_str("L")?;
        }
        Ok(())
    }
}

impl fmt::Display for Ps<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut row = Row { f, col: 0, correct: 0, actual: 0 };
        for (name, _, _) in PS_COLUMNS {
            row.cell(name)?;
        }
        for t in self.0 {
            let mm = t.mm.unwrap_or_default();
            let mut row = Row { f: row.f, col: 0, correct: 0, actual: 0 };
            row.cell_fmt(&t.pid)?;
            row.cell_fmt(&t.ppid)?;
            row.cell_fmt(&Stat(t))?;
            row.cell_fmt(&(mm.total_vm * KB_PER_PAGE))?;
            row.cell_fmt(&(mm.rss() * KB_PER_PAGE))?;
            row.cell(t.name)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hog() -> MmCounters {
        MmCounters {
            total_vm: 169,
            locked_vm: 0,
            anon_rss: 35,
            file_rss: 3,
            data_vm: 33,
            stack_vm: 33,
            exec_vm: 3,
            start_code: 0x0804_8000,
            end_code: 0x0804_a123,
            pgtables_bytes: 8192,
            ..MmCounters::default()
        }
    }

    #[test]
    fn status_lines_are_linuxs() {
        let t = TaskInfo { name: "hog", state: ProcState::Sleeping, pid: 42, ppid: 1, mm: Some(hog()) };
        let expected = [
            "Name:\thog",
            "State:\tS (sleeping)",
            "Tgid:\t42",
            "Pid:\t42",
            "PPid:\t1",
            "VmPeak:\t     676 kB",
            "VmSize:\t     676 kB",
            "VmLck:\t       0 kB",
            "VmHWM:\t     152 kB",
            "VmRSS:\t     152 kB",
            "RssAnon:\t     140 kB",
            "RssFile:\t      12 kB",
            "RssShmem:\t       0 kB",
            "VmData:\t     132 kB",
            "VmStk:\t     132 kB",
            "VmExe:\t      12 kB",
            "VmLib:\t       0 kB",
            "VmPTE:\t       8 kB",
            "VmSwap:\t       0 kB",
            "Threads:\t1",
        ];
        assert_eq!(t.status().to_string(), expected.join("\n") + "\n");
    }

    #[test]
    fn status_peaks_never_below_current_and_wide_values_grow() {
        let mm = MmCounters { total_vm: 400_000, hiwater_vm: 10, hiwater_rss: 500_000, anon_rss: 300_000, ..hog() };
        let t = TaskInfo { name: "big", state: ProcState::Running, pid: 7, ppid: 1, mm: Some(mm) };
        let s = t.status().to_string();
        assert!(s.contains("\nVmPeak:\t 1600000 kB\nVmSize:\t 1600000 kB\n"), "{}", s);
        assert!(s.contains("\nVmHWM:\t 2000000 kB\nVmRSS:\t 1200012 kB\n"), "{}", s);
        let mm = MmCounters { total_vm: 2_600_000, ..hog() };
        let t = TaskInfo { mm: Some(mm), ..t };
        assert!(t.status().to_string().contains("\nVmSize:\t10400000 kB\n"));
    }

    /// `task_mem`: text is the page-aligned code range, capped by exec_vm;
    /// the rest of exec_vm is VmLib.
    #[test]
    fn vmexe_and_vmlib_split_exec_vm() {
        let mm = MmCounters { exec_vm: 5, ..hog() };
        assert_eq!(mm.text_and_lib(), (3 * 4096, 2 * 4096));
        let mm = MmCounters { exec_vm: 1, ..hog() };
        assert_eq!(mm.text_and_lib(), (4096, 0));
        assert_eq!(MmCounters::default().text_and_lib(), (0, 0));
    }

    #[test]
    fn kernel_thread_status_has_no_vm_lines_and_name_is_escaped() {
        let t = TaskInfo { name: "a\\b\nc", state: ProcState::Sleeping, pid: 2, ppid: 0, mm: None };
        assert_eq!(
            t.status().to_string(),
            "Name:\ta\\\\b\\nc\nState:\tS (sleeping)\nTgid:\t2\nPid:\t2\nPPid:\t0\nThreads:\t1\n"
        );
    }

    #[test]
    fn state_letters_are_task_state_arrays() {
        let all = [
            "R (running)",
            "S (sleeping)",
            "D (disk sleep)",
            "T (stopped)",
            "t (tracing stop)",
            "X (dead)",
            "Z (zombie)",
        ];
        for text in all {
            let c = text.chars().next().unwrap();
            let s = ProcState::from_letter(c).unwrap();
            assert_eq!((s.text(), s.letter()), (text, c));
        }
        assert_eq!(ProcState::from_letter('I'), None);
    }

    /// Lines checked against procps-ng 4.0.2's `ps -o pid,ppid,stat,vsz,rss,comm`
    /// on Linux, overflowing columns included (a 3 GB and a 100 GB mapping
    /// with 696 kB resident).
    #[test]
    fn ps_columns_are_procps() {
        let kthread = TaskInfo { name: "kthreadd", state: ProcState::Sleeping, pid: 2, ppid: 0, mm: None };
        let bash = MmCounters { total_vm: 4488 / 4, anon_rss: 1908 / 4, ..MmCounters::default() };
        let small = MmCounters { total_vm: 3072988 / 4, anon_rss: 696 / 4, ..MmCounters::default() };
        let huge = MmCounters { total_vm: 102400988 / 4, ..small };
        let tasks = [
            kthread,
            TaskInfo { name: "bash", state: ProcState::Sleeping, pid: 23484, ppid: 23483, mm: Some(bash) },
            TaskInfo { name: "big_a_very_long", state: ProcState::Sleeping, pid: 23551, ppid: 23550, mm: Some(small) },
            TaskInfo { name: "big_a_very_long", state: ProcState::Sleeping, pid: 23552, ppid: 23550, mm: Some(huge) },
        ];
        let expected = [
            "  PID  PPID STAT    VSZ   RSS COMMAND",
            "    2     0 S         0     0 kthreadd",
            "23484 23483 S      4488  1908 bash",
            "23551 23550 S    3072988  696 big_a_very_long",
            "23552 23550 S    102400988 696 big_a_very_long",
        ];
        assert_eq!(Ps(&tasks).to_string(), expected.join("\n") + "\n");
    }

    #[test]
    fn ps_stat_shows_locked_and_pushes_from_the_left_too() {
        let locked = MmCounters { total_vm: 300_000, locked_vm: 300_000, anon_rss: 300_000, ..MmCounters::default() };
        let tasks = [
            TaskInfo { name: "mlocktest", state: ProcState::Running, pid: 123456, ppid: 1, mm: Some(locked) },
            TaskInfo { name: "z\x01", state: ProcState::Zombie, pid: 5, ppid: 1, mm: None },
            TaskInfo { name: "héllo_a_long_name_of_30_bytes", state: ProcState::Stopped, pid: 6, ppid: 1, mm: None },
        ];
        let expected = [
            "  PID  PPID STAT    VSZ   RSS COMMAND",
            "123456    1 RL   1200000 1200000 mlocktest",
            "    5     1 Z         0     0 z?",
            "    6     1 T         0     0 héllo_a_long_name_of_30_bytes",
        ];
        assert_eq!(Ps(&tasks).to_string(), expected.join("\n") + "\n");
    }
}
