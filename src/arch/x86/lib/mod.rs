//! i386 library routines that need the machine (Linux's arch/x86/lib/):
//! copies to and from user memory that survive a bad pointer.
pub mod extable;
pub mod uaccess;
