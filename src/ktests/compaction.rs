//! In-kernel tests of the direct-compaction switch (`compaction=off`), which
//! only the running allocator shows: with it off, a failed high-order
//! allocation must not compact; with it on, the same call does.

use super::{skip, TestResult};
use crate::mm::buddy::MAX_ORDER;
use crate::mm::compaction::{alloc_pages_direct_compact, set_direct_compaction};
use crate::mm::gfp::GFP_HIGHUSER_MOVABLE;
use crate::mm::page_alloc::{self, Pages};
use crate::mm::vmstat::{vm_event, VmEvent};

/// Puts the switch back as it was, on every path out of the test.
struct Switch(bool);

impl Drop for Switch {
    fn drop(&mut self) {
        set_direct_compaction(self.0);
    }
}

/// Free a block direct compaction handed back.
fn give_back(pfn: u32, order: usize) {
    // SAFETY: direct compaction returns a block of `order` with a count of
    // 1, as alloc_pages does, and nothing else has a handle to it.
    page_alloc::__free_pages(unsafe { Pages::from_raw(pfn, order) });
}

/// `compaction=off` (the switch off): `alloc_pages_direct_compact` returns
/// nothing and counts no stall; switched on, the same request compacts (a
/// stall is counted) and here gets its block, since one is free at boot.
pub fn compaction_off_skips_direct_compaction() -> TestResult {
    let order = MAX_ORDER - 1;
    // Counted with the pcp lists empty on both sides, so the count must
    // come back exactly.
    page_alloc::drain_all_pages();
    let before = page_alloc::nr_free_pages();
    {
        let _restore = Switch(set_direct_compaction(false));
        let stalls = vm_event(VmEvent::CompactStall);
        if let Some(pfn) = alloc_pages_direct_compact(GFP_HIGHUSER_MOVABLE, order) {
            give_back(pfn, order);
            return Err("direct compaction ran while switched off");
        }
        if vm_event(VmEvent::CompactStall) != stalls {
            return Err("a compaction stall was counted while switched off");
        }
        set_direct_compaction(true);
        let Some(pfn) = alloc_pages_direct_compact(GFP_HIGHUSER_MOVABLE, order) else {
            return Err(skip("no zone where direct compaction would run for an order-10 block"));
        };
        give_back(pfn, order);
        if vm_event(VmEvent::CompactStall) != stalls + 1 {
            return Err("direct compaction switched on counted no stall");
        }
    }
    page_alloc::drain_all_pages();
    if page_alloc::nr_free_pages() != before {
        return Err("free pages not back where they were");
    }
    Ok(())
}
