//! print! and friends: formatted output on a file descriptor through
//! `write`. Each call formats into a buffer on the stack and writes it when
//! full and at the end, so a line of up to `BUF` bytes leaves in one
//! `write`: lines of processes writing at once do not interleave.
#![forbid(unsafe_code)]

use crate::errno::Errno;
use crate::sys;
use core::fmt;

pub const STDOUT: i32 = 1;
pub const STDERR: i32 = 2;
const BUF: usize = 512;

/// Write all of `bytes` to `fd`: `write` may take fewer bytes than it is
/// given (a pipe, a signal), so go on from where it stopped.
pub fn write_all(fd: i32, mut bytes: &[u8]) -> Result<(), Errno> {
    while !bytes.is_empty() {
        match sys::write(fd, bytes) {
            Ok(0) => return Err(Errno::EIO),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A buffered writer on a file descriptor; the first error is kept and
/// stops further writes.
pub struct FdWriter {
    fd: i32,
    buf: [u8; BUF],
    len: usize,
    error: Option<Errno>,
}

impl FdWriter {
    pub fn new(fd: i32) -> FdWriter {
        FdWriter { fd, buf: [0; BUF], len: 0, error: None }
    }

    pub fn write_bytes(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && self.error.is_none() {
            if self.len == BUF {
                let _ = self.flush();
            }
            let n = bytes.len().min(BUF - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
    }

    /// Write what is buffered; the first error of this writer, if any.
    pub fn flush(&mut self) -> Result<(), Errno> {
        if self.error.is_none() {
            if let Err(e) = write_all(self.fd, &self.buf[..self.len]) {
                self.error = Some(e);
            }
        }
        self.len = 0;
        self.error.map_or(Ok(()), Err)
    }
}

impl fmt::Write for FdWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        if self.error.is_some() {
            return Err(fmt::Error);
        }
        Ok(())
    }
}

/// What print! and eprint! call. Output errors are dropped, as C's printf
/// drops them unless asked: a program whose stdout is closed still runs.
#[doc(hidden)]
pub fn _print(fd: i32, args: fmt::Arguments) {
    let mut w = FdWriter::new(fd);
    let _ = fmt::Write::write_fmt(&mut w, args);
    let _ = w.flush();
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::io::_print($crate::io::STDOUT, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => {
        $crate::io::_print($crate::io::STDOUT, format_args!("{}\n", format_args!($($arg)*)))
    };
}

#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::io::_print($crate::io::STDERR, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! eprintln {
    () => { $crate::eprint!("\n") };
    ($($arg:tt)*) => {
        $crate::io::_print($crate::io::STDERR, format_args!("{}\n", format_args!($($arg)*)))
    };
}
