//! The slab allocator (Linux 2.6.24's `mm/slab.c`, after Bonwick's 1994 design).
//!
//! The buddy allocator deals in pages, but the kernel mostly wants many small
//! objects of a few kinds: VMAs, page descriptors for processes, 64-byte
//! buffers. A *cache* ([`KmemCache`]) serves one kind. It carves *slabs* of
//! 2^order pages into equal objects and keeps every slab on one of three
//! lists, `slabs_full`, `slabs_partial` and `slabs_free`. Allocation takes from
//! a partial slab first, so that few slabs stay half used. Then it takes from
//! an empty slab, and only then does it ask the page allocator for a new slab
//! (`grow`). When an empty slab would push the cache above `free_limit` free
//! objects, it goes straight back to the page allocator. [`KmemCache::shrink`]
//! gives back the rest: it is `kmem_cache_shrink`, and also what the reclaim
//! layer's shrinker calls after asking [`KmemCache::reclaimable_pages`].
//!
//! **One slab.** The page allocator returns blocks aligned to their size,
//! so the slab that holds an object starts at `obj & !(slab_bytes - 1)`.
//! Its management, a header and a `u16` `bufctl` array, sits at the start
//! of the slab for small objects (on-slab), so `free` finds it by masking:
//! ```text
//!  base = obj & !(slab_bytes - 1)
//!  | header | bufctl[num] | pad | colour | obj 0 | obj 1 | ... | obj num-1 | left |
//!                                        ^ s_mem
//! ```
//! For objects of `PAGE_SIZE / 8` and up it lives in a block of its own
//! (off-slab, from [`SlabPages::alloc_mgmt`]: kmalloc memory in the
//! kernel, as Linux's `slabp_cache`), so that a 1 KB..4 KB slab of order 0
//! holds 4, 2 or 1 whole objects and `kmalloc(4096)` is a page. Every page
//! of a slab records the cache and the management's address
//! ([`SlabPages::set_slab_owner`]: `PageFlags::SLAB`, `slab_cache`, and the
//! page's `private` word in the kernel, where Linux 2.6.24 uses
//! `page->lru`); `kfree` finds the cache of a pointer there, and an
//! off-slab cache finds the slab.
//!
//! The header holds a magic number, the cache's id, the list links (the
//! management addresses of its neighbours), `inuse`, and the first free
//! index. The `bufctl` array is the free list: `bufctl[i]` is the index of
//! the next free object, or [`BUFCTL_END`]. An object that is out of the
//! slab reads [`BUFCTL_ACTIVE`] while the caller has it and
//! [`BUFCTL_CACHED`] while it waits in the array cache; a bad object that
//! is never handed out again reads [`BUFCTL_QUARANTINE`]. `free` accepts
//! only `BUFCTL_ACTIVE`, which is how a double free is caught in O(1),
//! wherever the first free put the object.
//!
//! **Constructors** run when a slab is made, once for every object in it,
//! and never on allocation. Bonwick's point is that setting an object up
//! (locks, list heads) often costs more than allocating it. The caller frees
//! the object in its constructed state, and the next user gets it that way.
//!
//! **Colouring.** Objects at the same offset in every slab fall into the
//! same CPU cache sets. The bytes a slab cannot use (`left`) are therefore
//! spent on shifting where the objects start: by 0, `colour_off`,
//! 2·`colour_off`, ... (`colour_off` is the cache line, [`L1_CACHE_BYTES`]
//! = 64, the line size of every x86 since the Pentium 4), and the offset
//! wraps after `left / colour_off` steps.
//!
//! **Growing.** A cache grows with the allocating caller's GFP flags
//! ([`KmemCache::slab_gfp`], Linux's `cache_grow(flags)`): an atomic caller
//! may dip into the reserve, a sleeping one may reclaim, `__GFP_NOFAIL`
//! reaches the page allocator, and `__GFP_NOWARN` silences its report. A
//! caller that may sleep must not reclaim under the cache's lock (reclaim
//! shrinks the caches), so it can grow the cache in three steps, as Linux
//! drops the lock in `cache_grow`: [`KmemCache::alloc_nogrow`] answers
//! `MustGrow`, [`GrowSpec::alloc`](grow::GrowSpec::alloc) gets the memory
//! without the lock, and [`KmemCache::add_slab`] carves it under the lock
//! again.
//!
//! **The per-CPU array cache** (one CPU here) is the fast path: `alloc`
//! pops an object, `free` pushes one, and the slabs are touched only every
//! `batchcount` objects (`slab/array_cache.rs`). The kernel serves these
//! hits without the cache's lock, with interrupts off
//! ([`KmemCache::alloc_cached`], [`KmemCache::free_hit_check`] and
//! [`KmemCache::free_cached`]; see `slab_common.rs`).
//!
//! **Debugging** (red zones, poisoning, the double-free and foreign-pointer
//! findings, quarantine) is in `slab_debug.rs`.
//!
//! Memory comes through the [`SlabPages`] trait: the kernel's version uses
//! the buddy allocator and the direct map, and host tests use a `Vec`-like
//! arena. Objects are raw addresses, so this file reaches memory through raw
//! pointers only.
//!
//! **Files.** One type, [`KmemCache`], whose invariants (the lists, the
//! `bufctl` marks, the array cache) every part keeps, so the parts are child
//! modules of this one and share its private fields, as Linux's `mm/slab.c`
//! is one file: this file holds the cache and its API (create, alloc, free,
//! shrink, destroy); `slab/mgmt.rs` the slab management (header, `bufctl`
//! free list, the three lists, finding the slab of an object);
//! `slab/grow.rs` making and freeing slabs (`cache_grow`);
//! `slab/array_cache.rs` the per-CPU array; `slab/sizing.rs` the layout
//! arithmetic of `kmem_cache_create`; `slab/kernel_pages.rs` the kernel's
//! [`SlabPages`] (`kmem_getpages`); `slab_debug.rs` the debug checks. The
//! kernel's registry of caches is in `slab_common.rs`, kmalloc in
//! `slab_common/kmalloc.rs`. This overview, the map of all of them, is
//! what takes this file past 600 lines.

use super::gfp::Gfp;
use crate::layout::PAGE_SIZE;
use array_cache::ArrayCache;
use bitflags::bitflags;
use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};
use mgmt::{SlabList, SlabRef};
use sizing::{exact_index, CacheLayout, Geometry};
use slab_debug::{BugKind, Foreign, SlabBug};

mod array_cache;
pub mod grow;
#[cfg(target_os = "none")]
pub mod kernel_pages;
mod mgmt;
pub mod sizing;
// Next to this file, where a reader looks for it (mm/slab_debug.rs); a
// child module all the same, so that it sees the cache's private fields
// (Linux 2.6.24 keeps this code inside mm/slab.c, under CONFIG_DEBUG_SLAB).
#[path = "slab_debug.rs"]
pub mod slab_debug;

/// Largest slab: 2^5 pages = 128 KB (Linux's `KMALLOC_MAX_ORDER` for SLAB).
pub const MAX_SLAB_ORDER: usize = 5;
/// Cache line size used for HWCACHE_ALIGN and colouring.
pub const L1_CACHE_BYTES: usize = 64;
/// Objects of a per-CPU array cache at most (Linux's largest `limit`).
pub const AC_MAX: usize = 120;
/// End of a slab's free list.
pub const BUFCTL_END: u16 = 0xffff;
/// The object is allocated (or in the array cache).
pub const BUFCTL_ACTIVE: u16 = 0xfffe;
/// The object failed a debug check and is kept out of circulation.
pub const BUFCTL_QUARANTINE: u16 = 0xfffd;
/// The object is free, waiting in the per-CPU array cache: a second free
/// of it is a double free, caught in O(1) (see [`KmemCache::free`]).
pub const BUFCTL_CACHED: u16 = 0xfffc;
/// Most objects per slab, so that indices never reach the markers.
const SLAB_LIMIT: usize = 0xfffb;
const SLAB_MAGIC: u32 = 0x51ab_cace;

/// Bits of a cache id that its creator chooses ([`KmemCache::init_tagged`]):
/// the kernel's registry puts the cache's slot there, so that `kfree`
/// finds the slot from the page descriptor's id alone.
pub const CACHE_ID_TAG_BITS: u32 = 6;
/// Ids name caches in slab headers and page descriptors; 0 means "none".
/// Each creation takes the next multiple of 2^[`CACHE_ID_TAG_BITS`] and
/// ORs its tag in, so ids are unique per creation whatever the tags.
static NEXT_CACHE_ID: AtomicU32 = AtomicU32::new(1 << CACHE_ID_TAG_BITS);

bitflags! {
    /// Cache creation flags, with Linux's `SLAB_*` bit values.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct SlabFlags: u32 {
        /// A red zone word before and after every object, checked on alloc and free.
        const RED_ZONE = 0x0000_0400;
        /// Poison free objects and check the poison on the next allocation.
        const POISON = 0x0000_0800;
        /// Align objects to the cache line (halved while two objects still fit).
        const HWCACHE_ALIGN = 0x0000_2000;
        /// Ask for slab pages as reclaimable (they go to reclaimable pageblocks).
        const RECLAIM_ACCOUNT = 0x0002_0000;
        /// Panic if the cache cannot be created.
        const PANIC = 0x0004_0000;
        /// All debug checks.
        const DEBUG = Self::RED_ZONE.bits() | Self::POISON.bits();
    }
}

/// What a slab's pages record about it: the cache's id and where its
/// management structure (header and `bufctl` array) lives: at the start of
/// the slab, or elsewhere for an off-slab cache (Linux's `page_set_cache`
/// and `page_set_slab`, kept in the `struct page` of every page of the slab).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlabOwner {
    pub cache: u32,
    pub mgmt: usize,
}

/// Where the slab allocator gets its pages.
///
/// The kernel implements it on the buddy allocator and the direct map. Its
/// `set_slab_owner` marks each page of the slab `PageFlags::SLAB` with
/// `slab_cache` = the id and the management address (or clears them),
/// which is how `kfree` finds the cache of a pointer and an off-slab cache
/// finds the management of a slab. Host tests implement it on an aligned
/// arena. A cache must always be given the same provider.
///
/// # Safety
///
/// `kmem_getpages(order, _)` must return the address of `PAGE_SIZE << order`
/// bytes, aligned to that size and not at address 0 (so no object is ever
/// at 0: the hit path hands its address out as a `NonNull` untested), that
/// are valid for reads and writes and used by nothing else until they come
/// back through `kmem_freepages`.
/// `alloc_mgmt(size, _)` must return `size` bytes aligned to a word, valid
/// for reads and writes and used by nothing else until `free_mgmt`.
/// `readable(addr, len)` may return true only if those `len` bytes can be
/// read (for the kernel: they lie in the direct map). `slab_mgmt(addr)`
/// must return the `mgmt` of the last `set_slab_owner(Some(..))` of the
/// slab whose pages hold `addr`, and `None` once `set_slab_owner(None)`
/// cleared them or if no slab holds `addr`.
pub unsafe trait SlabPages {
    /// Pages for a slab; `gfp` is the allocating caller's flags, as Linux's
    /// `cache_grow(flags)` passes them on (see [`KmemCache::slab_gfp`]).
    fn kmem_getpages(&mut self, order: usize, gfp: Gfp) -> Option<usize>;
    fn kmem_freepages(&mut self, addr: usize, order: usize);
    fn readable(&self, addr: usize, len: usize) -> bool;
    /// Called with `Some` after a slab is made and with `None` before its
    /// pages are freed.
    fn set_slab_owner(&mut self, addr: usize, order: usize, owner: Option<SlabOwner>);
    /// The `mgmt` recorded for the slab page holding `addr`.
    fn slab_mgmt(&self, addr: usize) -> Option<usize>;
    /// Memory for an off-slab management structure (Linux takes it from
    /// the kmalloc cache `slabp_cache`).
    fn alloc_mgmt(&mut self, size: usize, gfp: Gfp) -> Option<usize>;
    fn free_mgmt(&mut self, addr: usize, size: usize);
}

/// Why a cache could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateError {
    ZeroSize { name: &'static str },
    TooBig { name: &'static str, size: usize },
    BadAlign { name: &'static str, align: usize },
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CreateError::ZeroSize { name } => write!(f, "kmem_cache_create({name}): size 0"),
            CreateError::TooBig { name, size } => write!(
                f,
                "kmem_cache_create({name}): size {size} does not fit a slab of order {MAX_SLAB_ORDER} ({} bytes)",
                PAGE_SIZE << MAX_SLAB_ORDER
            ),
            CreateError::BadAlign { name, align } => {
                write!(f, "kmem_cache_create({name}): align {align} is not a power of two up to {PAGE_SIZE}")
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocError {
    /// The page allocator had no slab to give.
    NoMemory,
    /// The object about to be handed out failed a debug check (it is quarantined).
    Bug(SlabBug),
    /// No free object, and [`KmemCache::alloc_nogrow`] may not grow the
    /// cache: the caller grows it without the lock ([`KmemCache::grow_spec`]).
    MustGrow,
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllocError::NoMemory => f.write_str("out of memory"),
            AllocError::Bug(bug) => bug.fmt(f),
            AllocError::MustGrow => f.write_str("no free object without growing the cache"),
        }
    }
}

/// `destroy` found objects still allocated; the cache is left intact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DestroyError {
    pub name: &'static str,
    pub live: usize,
}

impl fmt::Display for DestroyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "slab {}: cannot destroy: {} objects still allocated", self.name, self.live)
    }
}

/// One `/proc/slabinfo` 2.1 line's numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlabStats {
    pub active_objs: usize,
    pub num_objs: usize,
    /// Bytes per object including debug padding (Linux's `buffer_size`).
    pub objsize: usize,
    pub objperslab: usize,
    pub pagesperslab: usize,
    pub limit: usize,
    pub batchcount: usize,
    pub sharedfactor: usize,
    pub active_slabs: usize,
    pub num_slabs: usize,
    pub sharedavail: usize,
}

/// Write the two header lines of `/proc/slabinfo` version 2.1.
pub fn slabinfo_header(out: &mut impl fmt::Write) -> fmt::Result {
    out.write_str("slabinfo - version: 2.1\n")?;
    out.write_str(
        "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> \
         : tunables <limit> <batchcount> <sharedfactor> \
         : slabdata <active_slabs> <num_slabs> <sharedavail>\n",
    )
}

/// One `/proc/slabinfo` 2.1 line from a snapshot (format outside any lock).
pub fn write_slabinfo(out: &mut impl fmt::Write, name: &str, s: &SlabStats) -> fmt::Result {
    writeln!(
        out,
        "{:<17} {:>6} {:>6} {:>6} {:>4} {:>4} : tunables {:>4} {:>4} {:>4} : slabdata {:>6} {:>6} {:>6}",
        name,
        s.active_objs,
        s.num_objs,
        s.objsize,
        s.objperslab,
        s.pagesperslab,
        s.limit,
        s.batchcount,
        s.sharedfactor,
        s.active_slabs,
        s.num_slabs,
        s.sharedavail
    )
}

/// A cache of equal objects (Linux's `struct kmem_cache`).
///
/// [`KmemCache::empty`] is const, so a kernel can keep caches in statics and
/// [`init`](Self::init) them at boot. [`KmemCache::create`] does both at
/// once. The cache holds only addresses and counters, so it may be moved
/// freely, slabs and all.
pub struct KmemCache {
    name: &'static str,
    /// 0 until created and after destroy.
    id: u32,
    flags: SlabFlags,
    ctor: Option<fn(*mut u8)>,
    /// Bytes usable by the caller (`ksize`).
    usable: usize,
    /// Bytes per object in the slab, debug words included.
    buffer_size: usize,
    /// From the start of an object's buffer to the caller's pointer.
    obj_offset: usize,
    /// The division-free index test of `free` (`sizing::exact_index`):
    /// `(rel * index_mul).rotate_right(index_shift)` is below `num` only
    /// at the start of an object.
    index_mul: usize,
    index_shift: u32,
    /// `num * buffer_size`: offsets from `s_mem` below this are in an object.
    obj_span: usize,
    order: usize,
    num: usize,
    /// Header plus bufctl array: on the slab (aligned), where colour starts.
    mgmt_size: usize,
    /// The header and bufctl array live outside the slab, in memory from
    /// `SlabPages::alloc_mgmt`; the slab's pages record where.
    off_slab: bool,
    colour: usize,
    colour_off: usize,
    colour_next: usize,
    slabs_full: SlabList,
    slabs_partial: SlabList,
    slabs_free: SlabList,
    /// Free objects in slabs (not in the array cache).
    free_objects: usize,
    free_limit: usize,
    quarantined: usize,
    ac: ArrayCache,
}

impl KmemCache {
    /// A cache that is not created yet: using it panics until [`init`](Self::init).
    pub const fn empty() -> KmemCache {
        KmemCache {
            name: "",
            id: 0,
            flags: SlabFlags::empty(),
            ctor: None,
            usable: 0,
            buffer_size: 0,
            obj_offset: 0,
            index_mul: 0,
            index_shift: 0,
            obj_span: 0,
            order: 0,
            num: 0,
            mgmt_size: 0,
            off_slab: false,
            colour: 0,
            colour_off: 0,
            colour_next: 0,
            slabs_full: SlabList::EMPTY,
            slabs_partial: SlabList::EMPTY,
            slabs_free: SlabList::EMPTY,
            free_objects: 0,
            free_limit: 0,
            quarantined: 0,
            ac: ArrayCache::EMPTY,
        }
    }

    /// `kmem_cache_create`: a cache of `size`-byte objects aligned to `align`
    /// (0: no requirement beyond a word), with an optional constructor.
    pub fn create(
        name: &'static str,
        size: usize,
        align: usize,
        flags: SlabFlags,
        ctor: Option<fn(*mut u8)>,
    ) -> Result<KmemCache, CreateError> {
        let mut cache = KmemCache::empty();
        cache.init(name, size, align, flags, ctor)?;
        Ok(cache)
    }

    /// [`create`](Self::create) in place, for a cache held in a static.
    /// Panics if the cache has slabs (destroy it first), and on failure if
    /// `flags` has PANIC.
    pub fn init(
        &mut self,
        name: &'static str,
        size: usize,
        align: usize,
        flags: SlabFlags,
        ctor: Option<fn(*mut u8)>,
    ) -> Result<(), CreateError> {
        self.init_tagged(0, name, size, align, flags, ctor)
    }

    /// [`init`](Self::init) with an id whose low [`CACHE_ID_TAG_BITS`]
    /// bits are `tag` (panics if it does not fit).
    pub fn init_tagged(
        &mut self,
        tag: u32,
        name: &'static str,
        size: usize,
        align: usize,
        flags: SlabFlags,
        ctor: Option<fn(*mut u8)>,
    ) -> Result<(), CreateError> {
        assert!(self.num_slabs() == 0, "slab {}: init of a cache with slabs", self.name);
        assert!(tag < 1 << CACHE_ID_TAG_BITS, "slab {name}: id tag {tag} too wide");
        let r = self.setup(tag, name, size, align, flags, ctor);
        if let (Err(e), true) = (r, flags.contains(SlabFlags::PANIC)) {
            panic!("{e}");
        }
        r
    }

    fn setup(
        &mut self,
        tag: u32,
        name: &'static str,
        size: usize,
        align: usize,
        flags: SlabFlags,
        ctor: Option<fn(*mut u8)>,
    ) -> Result<(), CreateError> {
        let l = CacheLayout::compute(name, size, align, flags, Geometry::NATIVE)?;
        let colour_off = L1_CACHE_BYTES.max(l.align);
        let (index_mul, index_shift) = exact_index(l.buffer_size);
        *self = KmemCache {
            name,
            id: NEXT_CACHE_ID.fetch_add(1 << CACHE_ID_TAG_BITS, Ordering::Relaxed) | tag,
            flags,
            ctor,
            usable: l.usable,
            buffer_size: l.buffer_size,
            obj_offset: l.obj_offset,
            index_mul,
            index_shift,
            obj_span: l.num * l.buffer_size,
            order: l.order,
            num: l.num,
            mgmt_size: l.mgmt_size,
            off_slab: l.off_slab,
            colour: l.left_over / colour_off,
            colour_off,
            free_limit: 2 * l.limit.div_ceil(2) + l.num,
            ..KmemCache::empty()
        };
        // The array cache's indices rely on it (`ac_pop`, `free`).
        assert!(l.limit <= AC_MAX, "slab {name}: array cache limit {} above {AC_MAX}", l.limit);
        self.ac.limit = l.limit;
        self.ac.batchcount = l.limit.div_ceil(2);
        Ok(())
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The id stored in slab headers and page descriptors (0: not created).
    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn flags(&self) -> SlabFlags {
        self.flags
    }

    /// Bytes the caller may use in an object (`ksize`).
    pub fn object_size(&self) -> usize {
        self.usable
    }

    /// Slabs are 2^order pages, aligned to their size.
    pub fn slab_order(&self) -> usize {
        self.order
    }

    #[inline]
    fn slab_bytes(&self) -> usize {
        PAGE_SIZE << self.order
    }

    fn is_debug(&self) -> bool {
        self.flags.intersects(SlabFlags::DEBUG)
    }

    /// (full, partial, free) slab counts.
    pub fn slab_counts(&self) -> (usize, usize, usize) {
        (self.slabs_full.len, self.slabs_partial.len, self.slabs_free.len)
    }

    fn num_slabs(&self) -> usize {
        self.slabs_full.len + self.slabs_partial.len + self.slabs_free.len
    }

    /// Objects waiting in the per-CPU array (counted as active, as in Linux).
    pub fn cpu_cached(&self) -> usize {
        self.ac.avail
    }

    /// Objects kept out of circulation after a debug finding.
    pub fn quarantined(&self) -> usize {
        self.quarantined
    }

    /// Empty slabs, which a shrink would give back.
    pub fn nr_free_slabs(&self) -> usize {
        self.slabs_free.len
    }

    /// Pages a shrink would give back at least (more if draining the array
    /// cache empties further slabs): for the reclaim layer's shrinker.
    pub fn reclaimable_pages(&self) -> usize {
        self.slabs_free.len << self.order
    }

    pub fn stats(&self) -> SlabStats {
        let num_slabs = self.num_slabs();
        let num_objs = num_slabs * self.num;
        SlabStats {
            active_objs: num_objs - self.free_objects,
            num_objs,
            objsize: self.buffer_size,
            objperslab: self.num,
            pagesperslab: if self.id == 0 { 0 } else { 1 << self.order },
            limit: self.ac.limit,
            batchcount: self.ac.batchcount,
            sharedfactor: 0,
            active_slabs: self.slabs_full.len + self.slabs_partial.len,
            num_slabs,
            sharedavail: 0,
        }
    }

    /// This cache's `/proc/slabinfo` 2.1 line.
    pub fn slabinfo_line(&self, out: &mut impl fmt::Write) -> fmt::Result {
        write_slabinfo(out, self.name, &self.stats())
    }

    fn bug(&self, obj: usize, kind: BugKind) -> SlabBug {
        SlabBug { cache: self.name, obj, kind }
    }

    fn bug_foreign(&self, obj: usize, why: Foreign) -> SlabBug {
        self.bug(obj, BugKind::ForeignPointer(why))
    }

    /// Whether `obj` is the start of an object in one of this cache's slabs.
    pub fn owns(&self, pages: &impl SlabPages, obj: usize) -> bool {
        self.id != 0 && self.locate::<false>(pages, obj).is_ok()
    }

    // ---- the API -----------------------------------------------------

    /// `kmem_cache_alloc`: an object of [`object_size`](Self::object_size)
    /// bytes, aligned as asked, in its constructed state. Grows the cache
    /// with the caller's `gfp` (see [`slab_gfp`](Self::slab_gfp)) if no
    /// object is free.
    #[inline]
    pub fn alloc(&mut self, pages: &mut impl SlabPages, gfp: Gfp) -> Result<usize, AllocError> {
        // The hit path: a debug cache has `limit` 0, so its array stays empty
        // and it always takes the slow path.
        if self.ac.avail != 0 {
            return Ok(self.ac_pop());
        }
        self.alloc_slow(pages, Some(gfp))
    }

    /// [`alloc`](Self::alloc) that never grows the cache: `MustGrow` when no
    /// object is free, for a caller that will grow it without the lock.
    #[inline]
    pub fn alloc_nogrow(&mut self, pages: &mut impl SlabPages) -> Result<usize, AllocError> {
        if self.ac.avail != 0 {
            return Ok(self.ac_pop());
        }
        self.alloc_slow(pages, None)
    }

    /// The array cache is empty (always, for a debug cache). `grow`: the
    /// flags to grow with, or `None` to answer `MustGrow` instead.
    #[inline(never)]
    fn alloc_slow(&mut self, pages: &mut impl SlabPages, grow: Option<Gfp>) -> Result<usize, AllocError> {
        if self.is_debug() {
            return self.alloc_debug(pages, grow);
        }
        self.refill(pages, grow)?;
        Ok(self.ac_pop())
    }

    /// `kmem_cache_free`. A pointer that is not an allocated object of this
    /// cache is reported and left alone: that includes an object freed
    /// twice, whether the first free put it back in its slab or it still
    /// waits in the array cache (its `bufctl` reads [`BUFCTL_CACHED`]: one
    /// load, O(1)). An object whose red zones were overwritten is reported
    /// and quarantined.
    ///
    /// # Safety
    ///
    /// `obj` is an object this cache's `alloc` returned, and nothing uses it
    /// after this call. The checks above catch many violations, not all:
    /// a use after free, or an object page forged to look like a slab, is
    /// undefined behaviour.
    #[inline]
    pub unsafe fn free(&mut self, pages: &mut impl SlabPages, obj: usize) -> Result<(), SlabBug> {
        // SAFETY: the caller's contract.
        unsafe { self.free_in::<false>(pages, obj) }
    }

    /// [`free`](Self::free) for a caller that has read `obj`'s page
    /// descriptor and found it a slab page of this cache (Linux's kfree:
    /// `virt_to_cache`), so the slab's first page is mapped: the rest of
    /// the checks (header magic and id, object boundary, double free) run.
    ///
    /// # Safety
    ///
    /// As [`free`](Self::free), and every page of the slab that may hold
    /// `obj` is in the direct map (a page once marked as this cache's slab
    /// page always is: slabs come from lowmem).
    #[inline]
    pub unsafe fn free_in_slab_page(&mut self, pages: &mut impl SlabPages, obj: usize) -> Result<(), SlabBug> {
        // SAFETY: the caller's contract.
        unsafe { self.free_in::<true>(pages, obj) }
    }

    #[inline(always)]
    unsafe fn free_in<const IN_SLAB_PAGE: bool>(
        &mut self,
        pages: &mut impl SlabPages,
        obj: usize,
    ) -> Result<(), SlabBug> {
        let (s, i) = match self.locate::<IN_SLAB_PAGE>(pages, obj) {
            Ok(found) => found,
            Err(why) => return Err(self.bug_foreign(obj, why)),
        };
        let bufctl = s.bufctl_ptr_located(i);
        // SAFETY: `locate` found object i of a live slab: its bufctl entry
        // lies in the slab's management.
        if unsafe { bufctl.read() } != BUFCTL_ACTIVE {
            return Err(self.bug(obj, BugKind::DoubleFree));
        }
        // One compare for both slow cases, as `alloc` does: a debug cache's
        // array has `limit` 0, so it is always "full" here.
        if self.ac.avail == self.ac.limit {
            if self.is_debug() {
                return self.free_debug(pages, obj, s, i);
            }
            // Linux's `cache_flusharray`. Flushing moves other objects only:
            // this one's entry stays put.
            self.flush_array(pages, self.ac.batchcount);
        }
        // Linux's `__cache_free`: `ac->entry[ac->avail++] = objp`.
        let k = self.ac.avail;
        debug_assert!(k < self.ac.limit && self.ac.limit <= AC_MAX);
        // SAFETY: the bufctl entry as above; k < limit <= AC_MAX (a full
        // array was flushed just above, and `setup` checks the limit), so
        // the array writes are in bounds.
        unsafe {
            bufctl.write(BUFCTL_CACHED);
            *self.ac.entry.get_unchecked_mut(k) = obj;
            *self.ac.bufctl.get_unchecked_mut(k) = bufctl as usize;
        }
        self.ac.avail += 1;
        Ok(())
    }

    /// `kmem_cache_shrink`: drain the array cache and give every empty slab
    /// back. Returns the pages freed.
    pub fn shrink(&mut self, pages: &mut impl SlabPages) -> usize {
        let before = self.num_slabs();
        self.flush_array(pages, self.ac.avail);
        while self.slabs_free.head != 0 {
            // SAFETY: list heads are live slabs of this cache.
            let s = unsafe { SlabRef::new(self.slabs_free.head) };
            self.destroy_slab(pages, s);
        }
        (before - self.num_slabs()) << self.order
    }

    /// `kmem_cache_destroy`: shrink, then forget the cache if no object is
    /// still allocated. Slabs holding only quarantined objects are leaked on
    /// purpose. So no object of a destroyed cache ever reads
    /// [`BUFCTL_ACTIVE`], which kfree's hit relies on: an allocated object
    /// on a slab page means the cache the page names is alive.
    pub fn destroy(&mut self, pages: &mut impl SlabPages) -> Result<(), DestroyError> {
        self.shrink(pages);
        let live = self.stats().active_objs - self.quarantined;
        if live > 0 {
            return Err(DestroyError { name: self.name, live });
        }
        *self = KmemCache::empty();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
