//! `printk`: the kernel log. Every message gets a level and a timestamp
//! (`[    0.001234]`, microseconds since the timer started, as Linux prints
//! them), goes into the ring buffer that `dmesg` reads, and reaches the
//! console when its level is below `console_loglevel`.
//!
//! Shell output is not log: it goes straight to the console with `print!`.

use super::logbuf::LogBuf;
use super::sync::IrqLock;
use crate::arch::x86::{pit, serial};
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

pub const KERN_EMERG: u8 = 0;
pub const KERN_ALERT: u8 = 1;
pub const KERN_CRIT: u8 = 2;
pub const KERN_ERR: u8 = 3;
pub const KERN_WARNING: u8 = 4;
pub const KERN_NOTICE: u8 = 5;
pub const KERN_INFO: u8 = 6;
pub const KERN_DEBUG: u8 = 7;

/// 64 KB of log, like a small `CONFIG_LOG_BUF_SHIFT=16`.
pub const LOG_BUF_LEN: usize = 1 << 16;
/// A longer message is cut at this many bytes.
const LINE_MAX: usize = 512;

static LOG: IrqLock<LogBuf<LOG_BUF_LEN>> = IrqLock::new(LogBuf::new());
static CONSOLE: IrqLock<()> = IrqLock::new(());
static CONSOLE_LOGLEVEL: AtomicU8 = AtomicU8::new(super::cmdline::DEFAULT_CONSOLE_LOGLEVEL);
/// Set once the timer runs; before that timestamps read 0, as in Linux.
static TIME_READY: AtomicBool = AtomicBool::new(false);
/// While an oops is printed, locks are not waited for (the crash may have
/// happened while one was held).
static OOPS_IN_PROGRESS: AtomicBool = AtomicBool::new(false);

pub fn set_console_loglevel(level: u8) {
    CONSOLE_LOGLEVEL.store(level, Ordering::Relaxed);
}

pub fn timekeeping_ready() {
    TIME_READY.store(true, Ordering::Release);
}

pub fn local_clock_us() -> u64 {
    if TIME_READY.load(Ordering::Acquire) {
        pit::clock_us()
    } else {
        0
    }
}

/// A fixed buffer that formats and silently truncates.
pub struct LineBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> LineBuf<N> {
    pub const fn new() -> Self {
        LineBuf { buf: [0; N], len: 0 }
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl<const N: usize> Default for LineBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Write for LineBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(N - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// `[%5lu.%06lu] ` as Linux prints it.
pub struct Timestamp(pub u64);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:5}.{:06}]", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// Log one message (the macros call this). A message may hold several lines;
/// each becomes a record of its own.
pub fn vprintk(level: u8, args: fmt::Arguments) {
    let mut line = LineBuf::<LINE_MAX>::new();
    let _ = line.write_fmt(args);
    let text = line.as_bytes();
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    for l in text.split(|&b| b == b'\n') {
        emit(level, l);
    }
}

fn emit(level: u8, text: &[u8]) {
    let ts = local_clock_us();
    let oops = OOPS_IN_PROGRESS.load(Ordering::Relaxed);
    if oops {
        if let Some(mut log) = LOG.try_lock() {
            log.push(level, ts, text);
        }
    } else {
        LOG.lock().push(level, ts, text);
    }
    if level < CONSOLE_LOGLEVEL.load(Ordering::Relaxed) || oops {
        let mut prefix = LineBuf::<24>::new();
        let _ = write!(prefix, "{} ", Timestamp(ts));
        let _guard = if oops { None } else { Some(CONSOLE.lock()) };
        serial::write_bytes(prefix.as_bytes());
        serial::write_bytes(text);
        serial::write_bytes(b"\n");
    }
}

/// Print the log to the console, as `dmesg` does.
pub fn dmesg(mut out: impl FnMut(&[u8])) {
    let log = LOG.lock();
    for r in log.records() {
        let mut prefix = LineBuf::<24>::new();
        let _ = write!(prefix, "{} ", Timestamp(r.time_us));
        out(prefix.as_bytes());
        out(r.text.0);
        out(r.text.1);
        out(b"\n");
    }
}

/// Whether the log holds a record containing `needle` (for tests).
pub fn log_contains(needle: &[u8]) -> bool {
    let log = LOG.lock();
    log.records().any(|r| {
        let mut buf = [0u8; LINE_MAX];
        let (a, b) = r.text;
        let n = a.len() + b.len();
        if n > LINE_MAX {
            return false;
        }
        buf[..a.len()].copy_from_slice(a);
        buf[a.len()..n].copy_from_slice(b);
        buf[..n].windows(needle.len().max(1)).any(|w| w == needle)
    })
}

/// Console output that is not log (the shell's replies).
pub fn console_write(bytes: &[u8]) {
    let _guard = CONSOLE.lock();
    serial::write_bytes(bytes);
}

pub struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        console_write(s.as_bytes());
        Ok(())
    }
}

/// Start an oops: interrupts off for good, locks no longer waited for.
/// Lines written to the returned writer are logged at KERN_EMERG.
pub fn oops_begin() -> OopsWriter {
    crate::arch::x86::cpu::local_irq_disable();
    OOPS_IN_PROGRESS.store(true, Ordering::SeqCst);
    LogWriter { level: KERN_EMERG, line: LineBuf::new() }
}

/// A writer that logs each completed line as one record at `level`.
pub fn log_writer(level: u8) -> LogWriter {
    LogWriter { level, line: LineBuf::new() }
}

pub struct LogWriter {
    level: u8,
    line: LineBuf<LINE_MAX>,
}

pub type OopsWriter = LogWriter;

impl Write for LogWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for part in s.split_inclusive('\n') {
            match part.strip_suffix('\n') {
                Some(body) => {
                    let _ = self.line.write_str(body);
                    emit(self.level, self.line.as_bytes());
                    self.line.clear();
                }
                None => {
                    let _ = self.line.write_str(part);
                }
            }
        }
        Ok(())
    }
}

#[macro_export]
macro_rules! printk {
    ($level:expr, $($arg:tt)*) => {
        $crate::kernel::printk::vprintk($level, format_args!($($arg)*))
    };
}

#[macro_export]
macro_rules! pr_emerg { ($($arg:tt)*) => { $crate::printk!($crate::kernel::printk::KERN_EMERG, $($arg)*) }; }
#[macro_export]
macro_rules! pr_crit { ($($arg:tt)*) => { $crate::printk!($crate::kernel::printk::KERN_CRIT, $($arg)*) }; }
#[macro_export]
macro_rules! pr_err { ($($arg:tt)*) => { $crate::printk!($crate::kernel::printk::KERN_ERR, $($arg)*) }; }
#[macro_export]
macro_rules! pr_warn { ($($arg:tt)*) => { $crate::printk!($crate::kernel::printk::KERN_WARNING, $($arg)*) }; }
#[macro_export]
macro_rules! pr_notice { ($($arg:tt)*) => { $crate::printk!($crate::kernel::printk::KERN_NOTICE, $($arg)*) }; }
#[macro_export]
macro_rules! pr_info { ($($arg:tt)*) => { $crate::printk!($crate::kernel::printk::KERN_INFO, $($arg)*) }; }
#[macro_export]
macro_rules! pr_debug { ($($arg:tt)*) => { $crate::printk!($crate::kernel::printk::KERN_DEBUG, $($arg)*) }; }

/// Console output for the shell: `print!` and `println!` as in std.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = write!($crate::kernel::printk::Console, $($arg)*);
    }};
}

#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::kernel::printk::Console, $($arg)*);
    }};
}
