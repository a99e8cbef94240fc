//! Architecture code. Only i686 (32-bit x86, non-PAE) exists.
pub mod x86;
