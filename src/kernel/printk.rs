//! `printk`: the kernel log. Every message gets a level and a timestamp
//! (`[    0.001234]`, microseconds since the timer started, as Linux prints
//! them), goes into the ring buffer that `dmesg` reads, and reaches the
//! console when its level is below `console_loglevel`.
//!
//! Shell output is not log: it goes straight to the console with `print!`.
//!
//! **Locks (Linux's console_lock/console_unlock).** The ring is behind a
//! short interrupt-masking lock: appending a record or copying one out.
//! The UART is slow, so it is never written under that lock: whoever logs
//! a message tries to become the console owner (`CONSOLE_OWNER`, Linux's
//! `console_sem` taken by `console_trylock`); the owner copies the records
//! not yet printed out of the ring one at a time and writes them with
//! interrupts as its caller had them. A printk that finds the console owned
//! (an interrupt handler that interrupted the owner) only logs: the owner
//! prints its record before letting go, and looks once more after letting
//! go, so a record logged in between is not left behind.

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

/// The ring, and the position of the next record the console prints
/// (Linux's `log_buf` and `console_seq`, under `logbuf_lock`).
struct Log {
    buf: LogBuf<LOG_BUF_LEN>,
    console_pos: u64,
}

static LOG: IrqLock<Log> = IrqLock::new(Log { buf: LogBuf::new(), console_pos: 0 });
/// Held by the one context writing to the UART (Linux's `console_sem`).
static CONSOLE_OWNER: AtomicBool = AtomicBool::new(false);
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
    /// Append raw bytes, cut at the capacity.
    pub fn push_bytes(&mut self, b: &[u8]) {
        let n = b.len().min(N - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
    }
}

impl<const N: usize> Default for LineBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Write for LineBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_bytes(s.as_bytes());
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
    if OOPS_IN_PROGRESS.load(Ordering::Relaxed) {
        return emit_oops(level, ts, text);
    }
    LOG.lock().buf.push(level, ts, text);
    if console_trylock() {
        console_unlock();
    }
}

/// During an oops nothing is waited for: the record goes to the ring if its
/// lock is free and straight to the UART, whoever owns the console.
fn emit_oops(level: u8, ts: u64, text: &[u8]) {
    if let Some(mut log) = LOG.try_lock() {
        let printed_all = log.console_pos >= log.buf.end_pos();
        log.buf.push(level, ts, text);
        if printed_all {
            log.console_pos = log.buf.end_pos();
        }
    }
    let mut prefix = LineBuf::<24>::new();
    let _ = write!(prefix, "{} ", Timestamp(ts));
    serial::write_bytes(prefix.as_bytes());
    serial::write_bytes(text);
    serial::write_bytes(b"\n");
}

/// Become the console owner if nobody is (Linux's `console_trylock`).
fn console_trylock() -> bool {
    CONSOLE_OWNER.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
}

/// Print every record not yet printed, then stop owning the console
/// (Linux's `console_unlock`). Each record is copied out under the ring's
/// lock and written to the UART after it is dropped, so interrupts stay
/// masked for one copy at a time, not for the UART.
fn console_unlock() {
    loop {
        let mut line = LineBuf::<{ LINE_MAX + 24 }>::new();
        loop {
            line.clear();
            {
                let mut guard = LOG.lock();
                let Log { buf, console_pos } = &mut *guard;
                let Some((r, next)) = buf.read(*console_pos) else { break };
                *console_pos = next;
                if r.level >= CONSOLE_LOGLEVEL.load(Ordering::Relaxed) {
                    continue;
                }
                format_record(&mut line, &r);
            }
            serial::write_bytes(line.as_bytes());
            serial::write_bytes(b"\n");
        }
        CONSOLE_OWNER.store(false, Ordering::Release);
        // An interrupt may have logged a record after the last look and
        // found the console owned: print it now rather than at the next printk.
        let pending = {
            let log = LOG.lock();
            log.console_pos < log.buf.end_pos()
        };
        if !pending || !console_trylock() {
            return;
        }
    }
}

/// `[timestamp] text`, as the console and `dmesg` print a record.
fn format_record<const N: usize>(line: &mut LineBuf<N>, r: &super::logbuf::Record) {
    let _ = write!(line, "{} ", Timestamp(r.time_us));
    line.push_bytes(r.text.0);
    line.push_bytes(r.text.1);
}

/// Print the log to the console, as `dmesg` does: one record at a time
/// copied out under the ring's lock, written with it dropped.
pub fn dmesg(mut out: impl FnMut(&[u8])) {
    let mut pos = LOG.lock().buf.first_pos();
    let mut line = LineBuf::<{ LINE_MAX + 24 }>::new();
    loop {
        line.clear();
        {
            let log = LOG.lock();
            let Some((r, next)) = log.buf.read(pos) else { break };
            format_record(&mut line, &r);
            pos = next;
        }
        out(line.as_bytes());
        out(b"\n");
    }
}

/// Whether the log holds a record containing `needle` (for tests).
#[cfg(feature = "ktest")]
pub fn log_contains(needle: &[u8]) -> bool {
    let log = LOG.lock();
    log.buf.records().any(|r| {
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

/// Console output that is not log (the shell's replies): written as the
/// console owner, so it does not cut a log line in two, and followed by any
/// log records that waited meanwhile. A caller with interrupts masked that
/// finds the console owned could wait forever for an owner it interrupted,
/// so it writes at once (a line may then interleave).
pub fn console_write(bytes: &[u8]) {
    while !console_trylock() {
        if !crate::arch::x86::cpu::irqs_enabled() || OOPS_IN_PROGRESS.load(Ordering::Relaxed) {
            serial::write_bytes(bytes);
            return;
        }
        core::hint::spin_loop();
    }
    serial::write_bytes(bytes);
    console_unlock();
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
