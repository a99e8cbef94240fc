//! Architecture code. Only i686 (32-bit x86, non-PAE) exists. Its files sit
//! in three layers (README, "Layout"; `tests/layers.rs` checks them):
//! `x86/*.rs` the machine, `x86/kernel/` core, `x86/mm/` and `x86/lib/` mm.
pub mod x86;
