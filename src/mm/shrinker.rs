//! Shrinkers (Linux's `register_shrinker`): caches that can give memory back
//! on request. The reclaim layer will call them under memory pressure; until
//! it exists, a sleeping allocation that fails runs them once and retries,
//! a minimal direct reclaim.

use crate::kernel::sync::IrqLock;

#[derive(Clone, Copy)]
pub struct Shrinker {
    pub name: &'static str,
    /// Pages that `scan` could free now.
    pub count: fn() -> usize,
    /// Free what can be freed; returns pages freed.
    pub scan: fn() -> usize,
}

const MAX_SHRINKERS: usize = 8;
static SHRINKERS: IrqLock<[Option<Shrinker>; MAX_SHRINKERS]> = IrqLock::new([None; MAX_SHRINKERS]);

/// Register a shrinker; false when the table is full (reported).
pub fn register_shrinker(s: Shrinker) -> bool {
    let mut t = SHRINKERS.lock();
    match t.iter_mut().find(|e| e.is_none()) {
        Some(slot) => {
            *slot = Some(s);
            true
        }
        None => {
            drop(t);
            crate::pr_err!("register_shrinker({}): all {} slots in use", s.name, MAX_SHRINKERS);
            false
        }
    }
}

/// Run every shrinker (Linux's `shrink_slab`); returns pages freed. Each
/// is scanned even when its count reads 0: a count is an estimate (the slab
/// one leaves out objects parked in per-CPU arrays, which scanning drains).
/// Shrinkers run without the table lock held: they take their own locks.
pub fn shrink_slab() -> usize {
    let table = *SHRINKERS.lock();
    table.iter().flatten().map(|s| (s.scan)()).sum()
}

/// What the shrinkers estimate they could free now.
pub fn shrinkable_pages() -> usize {
    let table = *SHRINKERS.lock();
    table.iter().flatten().map(|s| (s.count)()).sum()
}
