//! The console seen as a terminal (Linux's drivers/tty/tty_io.c,
//! tty_ioctl.c and n_tty.c): `ioctl` with `TCGETS` and `TIOCGWINSZ`, and
//! `read`.
//!
//! The terminal settings are those Linux gives a serial console before
//! anyone changes them: `tty_std_termios` with the 8250 driver's
//! `CS8 | CREAD | HUPCL | CLOCAL` at the port's 115200 baud. They are
//! what the settings say, not what the console does: the shell owns the
//! line editing, and nothing sets them (`TCSETS` is not built). The
//! window size is 0 rows by 0 columns, as on a serial line nobody has
//! told the size of.
//!
//! `read` on fds 0-2 returns 0, end of file, at once: the shell owns the
//! console's input and does not hand it to programs, so a program reads
//! as if started with `</dev/null`, or on a terminal where `^D` was typed
//! (tests/qemu.py's Linux run gives it that). A bad buffer is still
//! `EFAULT` (Linux's `access_ok` in `vfs_read`, before anything is read).

use super::{EBADF, ENOTTY};

pub const TCGETS: u32 = 0x5401;
pub const TIOCGWINSZ: u32 = 0x5413;

/// The kernel's `struct termios` (`TCGETS`): four flag words, the line
/// discipline, `NCCS` = 19 control characters; 36 bytes.
pub const TERMIOS_SIZE: usize = 36;

pub const ICRNL: u32 = 0o400;
pub const IXON: u32 = 0o2000;
pub const OPOST: u32 = 0o1;
pub const ONLCR: u32 = 0o4;
pub const B115200: u32 = 0o10002;
pub const CS8: u32 = 0o60;
pub const CREAD: u32 = 0o200;
pub const HUPCL: u32 = 0o2000;
pub const CLOCAL: u32 = 0o4000;
pub const ISIG: u32 = 0o1;
pub const ICANON: u32 = 0o2;
pub const ECHO: u32 = 0o10;
pub const ECHOE: u32 = 0o20;
pub const ECHOK: u32 = 0o40;
pub const ECHOCTL: u32 = 0o1000;
pub const ECHOKE: u32 = 0o4000;
pub const IEXTEN: u32 = 0o100000;

/// Linux's `INIT_C_CC`: ^C ^\ DEL ^U ^D, VTIME 0, VMIN 1, VSWTC 0, ^Q ^S
/// ^Z, VEOL 0, ^R ^O ^W ^V, VEOL2 0, and two unused.
pub const INIT_C_CC: [u8; 19] = [3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0];

/// What an `ioctl` on `fd` with `cmd` answers: the bytes to copy out, or
/// `EBADF` for an fd that is not open, `ENOTTY` for a request not built
/// (Linux's answer for one no driver knows; the generic ones such as
/// `FIONBIO` and the other terminal requests are among those not built).
pub fn console_ioctl(fd: i32, cmd: u32) -> Result<&'static [u8], i32> {
    if !super::is_console_fd(fd) {
        return Err(EBADF);
    }
    match cmd {
        TCGETS => Ok(&CONSOLE_TERMIOS),
        // struct winsize: rows, cols, xpixel, ypixel, all 0.
        TIOCGWINSZ => Ok(&[0u8; 8]),
        _ => Err(ENOTTY),
    }
}

static CONSOLE_TERMIOS: [u8; TERMIOS_SIZE] = console_termios();

/// The console's `struct termios` (c_line, byte 16, is N_TTY: 0).
pub const fn console_termios() -> [u8; TERMIOS_SIZE] {
    let mut b = [0u8; TERMIOS_SIZE];
    let flags = [
        ICRNL | IXON,
        OPOST | ONLCR,
        B115200 | CS8 | CREAD | HUPCL | CLOCAL,
        ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
    ];
    let mut i = 0;
    while i < 16 {
        b[i] = (flags[i / 4] >> (8 * (i % 4))) as u8;
        i += 1;
    }
    let mut j = 0;
    while j < 19 {
        b[17 + j] = INIT_C_CC[j];
        j += 1;
    }
    b
}

#[cfg(target_os = "none")]
pub use calls::TABLE;

#[cfg(target_os = "none")]
mod calls {
    use super::*;
    use crate::arch::x86::lib::uaccess::{access_ok, copy_to_user, EFAULT};
    use crate::process::sys::is_console_fd;
    use crate::process::syscalls::{Args, SysCall};

    pub const TABLE: &[(u32, SysCall)] = &[(3, sys_read), (54, sys_ioctl)];

    /// `read(fd, buf, count)`: end of file on the console (module doc).
    fn sys_read(a: &Args) -> i32 {
        if !is_console_fd(a[0] as i32) {
            return -EBADF;
        }
        if !access_ok(a[1] as usize, a[2] as usize) {
            return -EFAULT;
        }
        0
    }

    /// `ioctl(fd, cmd, arg)`.
    fn sys_ioctl(a: &Args) -> i32 {
        match console_ioctl(a[0] as i32, a[1]) {
            Ok(out) => match copy_to_user(a[2] as usize, out) {
                Ok(()) => 0,
                Err(e) => e.errno(),
            },
            Err(e) => -e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn termios_is_linux_serial_console_default() {
        let t = console_termios();
        let w = |i: usize| u32::from_le_bytes(t[i * 4..i * 4 + 4].try_into().unwrap());
        // What a Linux pseudo terminal shows too (tests/expected/sysmisc.txt).
        assert_eq!((w(0), w(1), w(3)), (0o2400, 0o5, 0o105073));
        assert_eq!(w(2), 0o16262, "B115200 CS8 CREAD HUPCL CLOCAL");
        assert_eq!(t[16], 0, "N_TTY");
        assert_eq!(&t[17..34], &[3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0]);
    }

    #[test]
    fn ioctl_answers() {
        assert_eq!(console_ioctl(0, TCGETS), Ok(&CONSOLE_TERMIOS[..]));
        assert_eq!(console_ioctl(2, TIOCGWINSZ), Ok(&[0u8; 8][..]));
        assert_eq!(console_ioctl(1, 0x1234_5678), Err(ENOTTY));
        assert_eq!(console_ioctl(3, TCGETS), Err(EBADF));
        assert_eq!(console_ioctl(-1, 0x1234_5678), Err(EBADF));
    }
}
