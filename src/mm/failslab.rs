//! `failslab=` (Linux's `mm/failslab.c`): slab allocations that fail on
//! purpose, with the attributes of `kernel/fault_inject.rs`, so that the
//! callers' failure paths are tested.

use super::gfp::Gfp;
use crate::kernel::fault_inject::FaultAttr;
use crate::kernel::sync::IrqLock;
use core::sync::atomic::{AtomicBool, Ordering};

/// `failslab=`: injected slab allocation failures.
static FAILSLAB: IrqLock<FaultAttr> = IrqLock::new(FaultAttr::DISABLED);
/// Whether failslab is on: the hot path reads this, not the lock.
static FAILSLAB_ON: AtomicBool = AtomicBool::new(false);

/// Set the `failslab` fault attributes; returns the previous ones.
pub fn set_failslab(attr: FaultAttr) -> FaultAttr {
    let mut f = FAILSLAB.lock();
    FAILSLAB_ON.store(attr.enabled(), Ordering::Relaxed);
    // The slab hit paths do not test FAILSLAB_ON: they are closed instead,
    // under FAILSLAB, so that the last call to get here leaves both as it
    // said (released first, a second call could set them in between and
    // see its gates set last the other way). Lock order FAILSLAB, then a
    // slot's lock: `should_failslab` is asked before any slot lock is taken.
    super::slab_common::slab_hit_paths(!attr.enabled());
    core::mem::replace(&mut *f, attr)
}

/// Whether to fail this slab allocation on purpose (Linux's
/// `should_failslab`). A caller that cannot handle a failure says so with
/// `__GFP_NOFAIL` (Rust's collections, through the global allocator) and
/// is left alone, as Linux leaves it alone.
#[inline]
pub(super) fn should_failslab(size: usize, gfp: Gfp) -> bool {
    FAILSLAB_ON.load(Ordering::Relaxed) && !gfp.contains(Gfp::NOFAIL) && failslab_decide(size)
}

/// Whether failslab is on at all: one load, so that a caller can skip
/// computing what `should_failslab` needs.
#[inline(always)]
pub(super) fn failslab_enabled() -> bool {
    FAILSLAB_ON.load(Ordering::Relaxed)
}

#[cold]
#[inline(never)]
fn failslab_decide(size: usize) -> bool {
    FAILSLAB.lock().should_fail(size as u64)
}
