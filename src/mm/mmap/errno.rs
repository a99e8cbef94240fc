//! The errors of the address-space calls: Linux's errno values
//! (include/asm-generic/errno-base.h), which a system call returns negated.

use core::fmt;

/// The errors of these calls: Linux's errno values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Errno {
    EPERM = 1,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EFAULT = 14,
    EINVAL = 22,
    EOVERFLOW = 75,
}

impl Errno {
    /// What a system call returns: `-errno`.
    pub fn syscall_ret(self) -> isize {
        -(self as isize)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, what) = match self {
            Errno::EPERM => ("EPERM", "Operation not permitted"),
            Errno::EAGAIN => ("EAGAIN", "Resource temporarily unavailable"),
            Errno::ENOMEM => ("ENOMEM", "Cannot allocate memory"),
            Errno::EACCES => ("EACCES", "Permission denied"),
            Errno::EFAULT => ("EFAULT", "Bad address"),
            Errno::EINVAL => ("EINVAL", "Invalid argument"),
            Errno::EOVERFLOW => ("EOVERFLOW", "Value too large for defined data type"),
        };
        write!(f, "{} ({}): {}", name, *self as i32, what)
    }
}
