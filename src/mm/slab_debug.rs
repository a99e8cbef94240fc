//! Slab debugging (Linux's `CONFIG_DEBUG_SLAB` parts of `mm/slab.c`:
//! `cache_alloc_debugcheck_after`, `cache_free_debugcheck`, `poison_obj`,
//! `check_poison_obj`). A child module of `slab`, declared there with
//! `#[path]` so that the file sits next to `slab.rs`.
//!
//! Debugging is chosen per cache. [`SlabFlags::RED_ZONE`] puts a 64-bit
//! word before and after every object. It reads [`RED_INACTIVE`] while the
//! object is free and [`RED_ACTIVE`] while it is allocated, and both words
//! are checked on allocation and on free. [`SlabFlags::POISON`] fills free
//! objects with `0x6b`, ending in `0xa5`, and checks the fill on the next
//! allocation, so a write after free is caught. Allocation fills the object
//! with `0x5a`. A poisoned object keeps no constructed state, so in a POISON
//! cache the constructor runs on every allocation, after the check (as in
//! 2.6.24). A debug cache bypasses the array cache, so every free is checked
//! at once. Every free checks that the pointer is the start of an object in
//! one of this cache's slabs (a foreign pointer is reported) and that the
//! object is allocated, in every cache: a second free is reported at once,
//! whether the first free put the object back in its slab or in the array
//! cache (Linux without DEBUG misses the latter). Each finding is a
//! [`SlabBug`] naming the cache, the object and the fault. A pointer that
//! is not ours is left alone. An object with a damaged red zone or poison
//! is quarantined: it is never handed out again, and its slab is never
//! freed. The `slab_debug=` boot option belongs to the kernel glue, which
//! adds [`SlabFlags::DEBUG`] when it creates caches.

use super::mgmt::SlabRef;
use super::{AllocError, KmemCache, SlabFlags, SlabPages, BUFCTL_QUARANTINE};
use crate::mm::gfp::Gfp;
use core::fmt;
use core::mem::size_of;
use core::ptr;

/// Red zone of a free object (Linux's values).
pub const RED_INACTIVE: u64 = 0x09f9_1102_9d74_e35b;
/// Red zone of an allocated object.
pub const RED_ACTIVE: u64 = 0xd841_56c5_6356_88c0;
/// Fill of a freshly allocated object in a POISON cache.
pub const POISON_INUSE: u8 = 0x5a;
/// Fill of a free object in a POISON cache...
pub const POISON_FREE: u8 = 0x6b;
/// ...whose last byte is this.
pub const POISON_END: u8 = 0xa5;
pub(super) const REDZONE: usize = size_of::<u64>();

/// Why a pointer given to `free` is not an object of the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Foreign {
    /// The slab header would lie outside readable memory.
    Unmapped,
    /// No slab header where the slab would start.
    NotASlab,
    /// In a slab of the cache with this id.
    OtherCache(u32),
    /// In a slab of this cache, but not inside any object (header, colour, tail).
    OutsideObjects,
    /// Inside object `index`, `offset` bytes from its start.
    MidObject { index: usize, offset: isize },
}

/// A debug finding: what was wrong with which object of which cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlabBug {
    pub cache: &'static str,
    pub obj: usize,
    pub kind: BugKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BugKind {
    /// The word before (`after` false) or after the object reads `value`.
    RedZone {
        after: bool,
        value: u64,
    },
    /// A free object's first byte that is not poison any more.
    Poison {
        offset: usize,
        value: u8,
    },
    /// The object is not allocated (already free, or quarantined).
    DoubleFree,
    ForeignPointer(Foreign),
}

impl fmt::Display for SlabBug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "slab {}: object {:#x}: ", self.cache, self.obj)?;
        match self.kind {
            BugKind::RedZone { after, value } => {
                let side = if after { "after" } else { "before" };
                write!(f, "red zone {side} the object overwritten ({value:#x})")
            }
            BugKind::Poison { offset, value } => {
                write!(f, "poison overwritten at offset {offset} ({value:#04x})")
            }
            BugKind::DoubleFree => f.write_str("double free"),
            BugKind::ForeignPointer(why) => match why {
                Foreign::Unmapped => f.write_str("foreign pointer (not in slab memory)"),
                Foreign::NotASlab => f.write_str("foreign pointer (not in a slab)"),
                Foreign::OtherCache(id) => write!(f, "foreign pointer (in a slab of cache #{id})"),
                Foreign::OutsideObjects => f.write_str("foreign pointer (in this cache's slab, outside its objects)"),
                Foreign::MidObject { index, offset } => {
                    write!(f, "foreign pointer (offset {offset} inside object {index}, not its start)")
                }
            },
        }
    }
}

impl KmemCache {
    pub(super) fn red_zones(&self, obj: usize) -> (u64, u64) {
        // SAFETY: a RED_ZONE object's buffer holds a word before it and one
        // after its usable bytes; unaligned reads need no alignment argument.
        unsafe {
            (((obj - REDZONE) as *const u64).read_unaligned(), ((obj + self.usable) as *const u64).read_unaligned())
        }
    }

    pub(super) fn set_red_zones(&self, obj: usize, v: u64) {
        // SAFETY: as in `red_zones`; the words belong to the cache.
        unsafe {
            ((obj - REDZONE) as *mut u64).write_unaligned(v);
            ((obj + self.usable) as *mut u64).write_unaligned(v);
        }
    }

    pub(super) fn poison(&self, obj: usize, byte: u8) {
        // SAFETY: the object's usable bytes lie in its slab, and the object
        // is not in the caller's hands (free, or about to be handed out).
        unsafe {
            ptr::write_bytes(obj as *mut u8, byte, self.usable);
            if byte == POISON_FREE {
                ((obj + self.usable - 1) as *mut u8).write(POISON_END);
            }
        }
    }

    /// The first byte of a free object that is not poison, if any.
    pub(super) fn check_poison(&self, obj: usize) -> Option<(usize, u8)> {
        (0..self.usable).find_map(|k| {
            // SAFETY: k < usable: inside the object, which lies in its slab.
            let v = unsafe { ((obj + k) as *const u8).read() };
            let want = if k == self.usable - 1 { POISON_END } else { POISON_FREE };
            (v != want).then_some((k, v))
        })
    }

    pub(super) fn alloc_debug(&mut self, pages: &mut impl SlabPages, grow: Option<Gfp>) -> Result<usize, AllocError> {
        let s = match self.slab_with_free() {
            Some(s) => s,
            None => {
                self.grow(pages, grow.ok_or(AllocError::MustGrow)?)?;
                self.slab_with_free().expect("a grown slab has free objects")
            }
        };
        let (i, obj) = self.slab_get_obj(s);
        self.relist(s, false);
        if let Err(bug) = self.check_free_object(obj) {
            // Leave it ACTIVE-counted but never handed out: quarantine.
            s.set_bufctl(i, BUFCTL_QUARANTINE);
            self.quarantined += 1;
            return Err(AllocError::Bug(bug));
        }
        if self.flags.contains(SlabFlags::RED_ZONE) {
            self.set_red_zones(obj, RED_ACTIVE);
        }
        if self.flags.contains(SlabFlags::POISON) {
            self.poison(obj, POISON_INUSE);
            if let Some(ctor) = self.ctor {
                ctor(obj as *mut u8);
            }
        }
        Ok(obj)
    }

    /// Both red zones of `obj` must read `want`; the one before is checked first.
    pub(super) fn check_red_zones(&self, obj: usize, want: u64) -> Result<(), SlabBug> {
        let (before, after) = self.red_zones(obj);
        for (after, value) in [(false, before), (true, after)] {
            if value != want {
                return Err(self.bug(obj, BugKind::RedZone { after, value }));
            }
        }
        Ok(())
    }

    /// The checks a free object must pass before it is handed out.
    pub(super) fn check_free_object(&self, obj: usize) -> Result<(), SlabBug> {
        if self.flags.contains(SlabFlags::RED_ZONE) {
            self.check_red_zones(obj, RED_INACTIVE)?;
        }
        if self.flags.contains(SlabFlags::POISON) {
            if let Some((offset, value)) = self.check_poison(obj) {
                return Err(self.bug(obj, BugKind::Poison { offset, value }));
            }
        }
        Ok(())
    }

    /// The rest of `free` for a debug cache: `obj` is object `i` of slab `s`
    /// and allocated.
    #[inline(never)]
    pub(super) fn free_debug(
        &mut self,
        pages: &mut impl SlabPages,
        obj: usize,
        s: SlabRef,
        i: usize,
    ) -> Result<(), SlabBug> {
        if self.flags.contains(SlabFlags::RED_ZONE) {
            if let Err(bug) = self.check_red_zones(obj, RED_ACTIVE) {
                s.set_bufctl(i, BUFCTL_QUARANTINE);
                self.quarantined += 1;
                return Err(bug);
            }
            self.set_red_zones(obj, RED_INACTIVE);
        }
        if self.flags.contains(SlabFlags::POISON) {
            self.poison(obj, POISON_FREE);
        }
        self.slab_put_obj(s, i);
        // Enough free objects already: the emptied slab goes back.
        if s.inuse() == 0 && self.free_objects > self.free_limit {
            self.destroy_slab(pages, s);
        }
        Ok(())
    }
}
