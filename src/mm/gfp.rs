//! GFP ("get free pages") flags: where an allocation may come from and what
//! the allocator may do to satisfy it (Linux's include/linux/gfp.h, 2.6.24).

#![forbid(unsafe_code)]

use super::buddy::MigrateType;
use super::mmzone::ZoneType;

bitflags::bitflags! {
    /// The bit values are Linux 2.6.24's (`include/linux/gfp.h`), so the
    /// `mode:%#x` of an allocation-failure report reads as it would on Linux
    /// (GFP_KERNEL is 0xd0, GFP_HIGHUSER_MOVABLE 0x1200d2).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Gfp: u32 {
        /// Only ZONE_DMA (ISA DMA reaches the first 16 MB).
        const DMA = 0x01;
        /// HIGHMEM is fine: the caller will kmap the page, or map it to user space.
        const HIGHMEM = 0x02;
        /// May sleep and reclaim.
        const WAIT = 0x10;
        /// High priority: may dip into the emergency reserve below `min`.
        const HIGH = 0x20;
        const IO = 0x40;
        const FS = 0x80;
        /// Do not print the allocation-failure warning.
        const NOWARN = 0x200;
        /// Try hard: retry after reclaim even above `PAGE_ALLOC_COSTLY_ORDER`
        /// (but may still fail).
        const REPEAT = 0x400;
        /// The caller cannot handle a failure (Rust's collections, through the
        /// global allocator): fault injection leaves it alone, as Linux's
        /// `should_fail_alloc_page` skips `__GFP_NOFAIL`.
        /// The allocator retries after reclaim for as long as reclaim makes
        /// progress (Linux loops forever, calling the OOM killer when it
        /// does not; there is none here yet, so the caller can still see a
        /// failure, reported).
        const NOFAIL = 0x800;
        /// Reclaim once and try once more, never loop (Linux's
        /// `__GFP_NORETRY`): for callers with a cheaper fallback.
        const NORETRY = 0x1000;
        /// Hand the memory out zeroed.
        const ZERO = 0x8000;
        const HARDWALL = 0x20000;
        /// Reclaimable kernel memory (shrinkable slab caches).
        const RECLAIMABLE = 0x80000;
        /// The page can be moved or reclaimed (user pages): grouped apart.
        const MOVABLE = 0x100000;
    }
}

/// Atomic context: never sleeps, may use part of the reserve.
pub const GFP_ATOMIC: Gfp = Gfp::HIGH;
pub const GFP_NOIO: Gfp = Gfp::WAIT;
pub const GFP_KERNEL: Gfp = Gfp::WAIT.union(Gfp::IO).union(Gfp::FS);
pub const GFP_USER: Gfp = GFP_KERNEL.union(Gfp::HARDWALL);
pub const GFP_HIGHUSER: Gfp = GFP_USER.union(Gfp::HIGHMEM);
pub const GFP_HIGHUSER_MOVABLE: Gfp = GFP_HIGHUSER.union(Gfp::MOVABLE);
pub const GFP_DMA: Gfp = Gfp::DMA;

/// Orders above this do not retry after reclaim unless the caller asks
/// (`__GFP_REPEAT`/`__GFP_NOFAIL`): freeing that much contiguous memory is
/// unlikely (Linux's `PAGE_ALLOC_COSTLY_ORDER`).
pub const PAGE_ALLOC_COSTLY_ORDER: usize = 3;

impl Gfp {
    /// The highest zone the allocation may use; the zonelist falls back
    /// from there down to DMA (Linux's `gfp_zone`).
    #[inline]
    pub fn zone(self) -> ZoneType {
        if self.contains(Gfp::DMA) {
            ZoneType::Dma
        } else if self.contains(Gfp::HIGHMEM | Gfp::MOVABLE) {
            ZoneType::Movable
        } else if self.contains(Gfp::HIGHMEM) {
            ZoneType::HighMem
        } else {
            ZoneType::Normal
        }
    }

    /// Which free lists the allocation is grouped with (`allocflags_to_migratetype`).
    #[inline]
    pub fn migratetype(self) -> MigrateType {
        if self.contains(Gfp::MOVABLE) {
            MigrateType::Movable
        } else if self.contains(Gfp::RECLAIMABLE) {
            MigrateType::Reclaimable
        } else {
            MigrateType::Unmovable
        }
    }

    #[inline]
    pub fn may_sleep(self) -> bool {
        self.contains(Gfp::WAIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_and_types() {
        assert_eq!(GFP_KERNEL.zone(), ZoneType::Normal);
        assert_eq!(GFP_ATOMIC.zone(), ZoneType::Normal);
        assert_eq!(GFP_DMA.zone(), ZoneType::Dma);
        assert_eq!((GFP_KERNEL | Gfp::DMA).zone(), ZoneType::Dma);
        assert_eq!(GFP_HIGHUSER.zone(), ZoneType::HighMem);
        assert_eq!(GFP_HIGHUSER_MOVABLE.zone(), ZoneType::Movable);
        assert_eq!(GFP_KERNEL.migratetype(), MigrateType::Unmovable);
        assert_eq!(GFP_HIGHUSER_MOVABLE.migratetype(), MigrateType::Movable);
        assert_eq!((GFP_KERNEL | Gfp::RECLAIMABLE).migratetype(), MigrateType::Reclaimable);
        assert!(!GFP_ATOMIC.may_sleep() && GFP_KERNEL.may_sleep());
    }

    /// The values a Linux user reads in `mode:%#x` (2.6.24's gfp.h).
    #[test]
    fn values_are_linux_gfp_h() {
        assert_eq!(GFP_KERNEL.bits(), 0xd0);
        assert_eq!(GFP_ATOMIC.bits(), 0x20);
        assert_eq!(GFP_NOIO.bits(), 0x10);
        assert_eq!(GFP_USER.bits(), 0x200d0);
        assert_eq!(GFP_HIGHUSER.bits(), 0x200d2);
        assert_eq!(GFP_HIGHUSER_MOVABLE.bits(), 0x1200d2);
        assert_eq!(GFP_DMA.bits(), 0x01);
        assert_eq!((GFP_KERNEL | Gfp::RECLAIMABLE).bits(), 0x800d0);
        assert_eq!(Gfp::NOWARN.bits(), 0x200);
        assert_eq!(Gfp::NOFAIL.bits(), 0x800);
        assert_eq!(Gfp::REPEAT.bits(), 0x400);
        assert_eq!(Gfp::NORETRY.bits(), 0x1000);
        assert_eq!(PAGE_ALLOC_COSTLY_ORDER, 3);
        assert_eq!(Gfp::ZERO.bits(), 0x8000);
    }
}
