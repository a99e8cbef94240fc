//! `compact`: Linux's `echo 1 > /proc/sys/vm/compact_memory`, with what it
//! did per zone; and `compact order N`, one allocation of 2^N frames
//! through the page allocator's whole slow path (direct compaction
//! included), given back at once: the way to watch a high-order
//! allocation fail on a fragmented machine and compaction rescue it.

// A command's error is a fixed buffer (`CmdError`): see commands.rs.
#![allow(clippy::result_large_err)]

use super::commands::CmdResult;
use crate::bail;
use crate::mm::buddy::MAX_ORDER;
use crate::mm::gfp::{Gfp, GFP_HIGHUSER_MOVABLE};
use crate::mm::mmzone::ZoneType;
use crate::mm::page_alloc;
use crate::mm::vmstat::{vm_event, VmEvent};
use crate::println;

pub fn cmd_compact(args: &[&str]) -> CmdResult {
    match args {
        [] => compact_all(),
        ["order", n] => match n.parse::<usize>() {
            Ok(order) if (1..MAX_ORDER).contains(&order) => alloc_order(order),
            _ => bail!("order '{}' is not 1..{}; nothing done", n, MAX_ORDER - 1),
        },
        _ => bail!("usage: compact [order N] (got '{}'); nothing done", super::commands::Words(args)),
    }
}

fn compact_all() -> CmdResult {
    let migrated = vm_event(VmEvent::PgMigrateSuccess);
    let stats = crate::mm::compaction::compact_memory();
    for (kind, s) in ZoneType::ALL.iter().zip(stats) {
        if let Some(s) = s {
            println!("Node 0, zone {:>8}: {}", kind.name(), s);
        }
    }
    println!("compact: {} pages moved", vm_event(VmEvent::PgMigrateSuccess) - migrated);
    Ok(())
}

/// One movable allocation of `order` (as a huge page would be), then freed.
fn alloc_order(order: usize) -> CmdResult {
    let events = [VmEvent::CompactStall, VmEvent::CompactSuccess, VmEvent::CompactFail];
    let before = events.map(vm_event);
    let got = page_alloc::alloc_pages(GFP_HIGHUSER_MOVABLE | Gfp::NOWARN, order);
    let [stall, success, fail] = core::array::from_fn(|i| vm_event(events[i]) - before[i]);
    let direct = match (stall, success, fail) {
        (0, _, _) => "not run",
        (_, 0, _) => "ran, failed",
        _ => "ran, succeeded",
    };
    let Some(p) = got else {
        bail!("no free order-{} block (direct compaction: {}); nothing allocated", order, direct)
    };
    println!("compact: order-{} block at pfn {:#x} (direct compaction: {}); freed", order, p.pfn(), direct);
    page_alloc::__free_pages(p);
    Ok(())
}
