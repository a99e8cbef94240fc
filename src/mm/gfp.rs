//! GFP ("get free pages") flags: where an allocation may come from and what
//! the allocator may do to satisfy it (Linux's include/linux/gfp.h, 2.6.24).

#![forbid(unsafe_code)]

use super::buddy::MigrateType;
use super::zones::ZoneType;

bitflags::bitflags! {
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Gfp: u32 {
        /// Only ZONE_DMA (ISA DMA reaches the first 16 MB).
        const DMA = 1 << 0;
        /// HIGHMEM is fine: the caller will kmap the page, or map it to user space.
        const HIGHMEM = 1 << 1;
        /// The page can be moved or reclaimed (user pages): grouped apart.
        const MOVABLE = 1 << 3;
        /// Reclaimable kernel memory (shrinkable slab caches).
        const RECLAIMABLE = 1 << 4;
        /// May sleep and reclaim.
        const WAIT = 1 << 5;
        /// High priority: may dip into the emergency reserve below `min`.
        const HIGH = 1 << 6;
        const IO = 1 << 7;
        const FS = 1 << 8;
        /// Do not print the allocation-failure warning.
        const NOWARN = 1 << 9;
        /// The caller cannot handle a failure (Rust's collections, through the
        /// global allocator): fault injection leaves it alone, as Linux's
        /// `should_fail_alloc_page` skips `__GFP_NOFAIL`.
        const NOFAIL = 1 << 11;
        const HARDWALL = 1 << 17;
        /// Hand the memory out zeroed.
        const ZERO = 1 << 15;
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
}
