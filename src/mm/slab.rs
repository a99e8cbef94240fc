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
//! `MustGrow`, [`GrowSpec::alloc`] gets the memory without the lock, and
//! [`KmemCache::add_slab`] carves it under the lock again.
//!
//! **The per-CPU array cache** (one CPU here) is the fast path. `alloc`
//! pops the top entry and `free` pushes one, so the slabs are touched only
//! every `batchcount` objects: a refill takes objects from the slabs when the
//! array is empty, and a flush returns the oldest entries when it is full.
//! `limit` comes from the object size as in Linux. As in Linux,
//! `/proc/slabinfo` counts objects that sit in the array as active.
//!
//! **Debugging** is chosen per cache. [`SlabFlags::RED_ZONE`] puts a 64-bit
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
//!
//! Memory comes through the [`SlabPages`] trait: the kernel's version uses
//! the buddy allocator and the direct map, and host tests use a `Vec`-like
//! arena. Objects are raw addresses, so this file reaches memory through raw
//! pointers only.

use super::gfp::Gfp;
use crate::layout::PAGE_SIZE;
use bitflags::bitflags;
use core::fmt;
use core::mem::size_of;
use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

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
const REDZONE: usize = size_of::<u64>();
const SLAB_MAGIC: u32 = 0x51ab_cace;

/// Ids name caches in slab headers and page descriptors; 0 means "none".
static NEXT_CACHE_ID: AtomicU32 = AtomicU32::new(1);

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
/// `alloc_pages(order, _)` must return the address of `PAGE_SIZE << order`
/// bytes, aligned to that size, that are valid for reads and writes and
/// used by nothing else until they come back through `free_pages`.
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
    fn alloc_pages(&mut self, order: usize, gfp: Gfp) -> Option<usize>;
    fn free_pages(&mut self, addr: usize, order: usize);
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

/// The header at the start of every slab.
#[repr(C)]
struct Slab {
    magic: u32,
    cache_id: u32,
    prev: usize,
    next: usize,
    /// Address of object 0's buffer.
    s_mem: usize,
    colouroff: u32,
    inuse: u16,
    free: u16,
    num: u16,
    list: u8,
}

const FULL: u8 = 0;
const PARTIAL: u8 = 1;
const FREE: u8 = 2;

/// A slab, by its base address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SlabRef(usize);

macro_rules! header_field {
    ($get:ident, $set:ident, $t:ty) => {
        #[allow(dead_code)]
        fn $get(self) -> $t {
            // SAFETY: a SlabRef names a live slab header (`SlabRef::new`).
            unsafe { (*self.hdr()).$get }
        }
        #[allow(dead_code)]
        fn $set(self, v: $t) {
            // SAFETY: as above; the header is reached only through raw
            // pointers, so this write aliases no reference.
            unsafe { (*self.hdr()).$get = v }
        }
    };
}

impl SlabRef {
    /// # Safety
    ///
    /// `base` must be the start of a slab whose header `KmemCache::grow`
    /// wrote and which has not been destroyed since.
    unsafe fn new(base: usize) -> SlabRef {
        SlabRef(base)
    }

    fn hdr(self) -> *mut Slab {
        self.0 as *mut Slab
    }

    header_field!(magic, set_magic, u32);
    header_field!(cache_id, set_cache_id, u32);
    header_field!(prev, set_prev, usize);
    header_field!(next, set_next, usize);
    header_field!(s_mem, set_s_mem, usize);
    header_field!(colouroff, set_colouroff, u32);
    header_field!(inuse, set_inuse, u16);
    header_field!(free, set_free, u16);
    header_field!(num, set_num, u16);
    header_field!(list, set_list, u8);

    fn bufctl_ptr(self, i: usize) -> *mut u16 {
        assert!(i < self.num() as usize, "bufctl index {i} out of range");
        (self.0 + size_of::<Slab>() + 2 * i) as *mut u16
    }

    fn bufctl(self, i: usize) -> u16 {
        // SAFETY: i < num, and `grow` reserved num entries after the header.
        unsafe { self.bufctl_ptr(i).read() }
    }

    fn set_bufctl(self, i: usize, v: u16) {
        // SAFETY: as in `bufctl`.
        unsafe { self.bufctl_ptr(i).write(v) }
    }
}

/// A doubly linked list of slabs, linked through their headers.
#[derive(Clone, Copy, Debug)]
struct SlabList {
    head: usize,
    tail: usize,
    len: usize,
}

impl SlabList {
    const EMPTY: SlabList = SlabList { head: 0, tail: 0, len: 0 };
}

/// The per-CPU array of free objects (one CPU). Each entry keeps, beside
/// the object, the address of its `bufctl` entry, which reads
/// [`BUFCTL_CACHED`] while the object waits here: `free` sees a second free
/// at once, and `alloc` marks the object allocated again with one store.
struct ArrayCache {
    avail: usize,
    limit: usize,
    batchcount: usize,
    entry: [usize; AC_MAX],
    bufctl: [usize; AC_MAX],
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
    /// ceil(2^32 / buffer_size) when that divides every offset in a slab
    /// exactly (see `reciprocal_for`); 0: divide.
    reciprocal: u32,
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

const fn align_up(x: usize, a: usize) -> usize {
    (x + a - 1) & !(a - 1)
}

/// The machine sizes a cache's layout depends on. The i686 kernel and a
/// 64-bit host differ in all but the red zone, so the layout is computed
/// from a `Geometry`: the kernel uses [`Geometry::NATIVE`], and host tests
/// also compute [`Geometry::I686`] layouts and check them against the
/// numbers `slabinfo` prints in QEMU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes of a word: the least alignment of an object (Linux's `BYTES_PER_WORD`).
    pub word: usize,
    /// Bytes of the slab header (`struct slab`), before the `bufctl` array.
    pub header: usize,
    /// Alignment of an object with red zones (they are 64-bit words).
    pub redzone_align: usize,
}

impl Geometry {
    /// This build's geometry.
    pub const NATIVE: Geometry =
        Geometry { word: size_of::<usize>(), header: size_of::<Slab>(), redzone_align: REDZONE };
    /// The i686 kernel's geometry: 4-byte words and pointers, a 32-byte header.
    pub const I686: Geometry = Geometry { word: 4, header: 32, redzone_align: 8 };
}

// The host tests' i686 numbers are the kernel's only if this holds.
#[cfg(target_pointer_width = "32")]
const _: () = assert!(
    Geometry::NATIVE.word == Geometry::I686.word
        && Geometry::NATIVE.header == Geometry::I686.header
        && Geometry::NATIVE.redzone_align == Geometry::I686.redzone_align,
    "Geometry::I686 does not describe this 32-bit build"
);

/// A cache's shape, computed from its parameters and a [`Geometry`]
/// (Linux's `kmem_cache_create` arithmetic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheLayout {
    /// Bytes usable by the caller (`ksize`).
    pub usable: usize,
    /// Bytes per object in the slab, debug words included.
    pub buffer_size: usize,
    /// From the start of an object's buffer to the caller's pointer.
    pub obj_offset: usize,
    /// The objects' alignment.
    pub align: usize,
    pub order: usize,
    /// Objects per slab.
    pub num: usize,
    /// Bytes of a slab that hold no object: spent on colouring.
    pub left_over: usize,
    /// Header plus `bufctl` array (aligned when on the slab).
    pub mgmt_size: usize,
    /// The management lives outside the slab (`CFLGS_OFF_SLAB`).
    pub off_slab: bool,
    /// The array cache's `limit`.
    pub limit: usize,
}

/// How many objects fit a slab of `order`, the bytes left over and the
/// management size (Linux's `cache_estimate`).
fn cache_estimate(
    order: usize,
    buffer_size: usize,
    align: usize,
    off_slab: bool,
    g: Geometry,
) -> (usize, usize, usize) {
    let bytes = PAGE_SIZE << order;
    if off_slab {
        let num = (bytes / buffer_size).min(SLAB_LIMIT);
        return (num, bytes - num * buffer_size, g.header + 2 * num);
    }
    let mgmt = |n: usize| align_up(g.header + 2 * n, align);
    let mut num = ((bytes - g.header) / (buffer_size + 2)).min(SLAB_LIMIT);
    while num > 0 && mgmt(num) + num * buffer_size > bytes {
        num -= 1;
    }
    (num, bytes - mgmt(num) - num * buffer_size, mgmt(num))
}

/// The smallest order that wastes at most 1/8 of the slab (Linux's
/// `calculate_slab_order`); the largest fitting one if none does. A
/// RECLAIM_ACCOUNT cache takes the first order that fits, because
/// high-order pages are hard to find when memory is being reclaimed.
///
/// An off-slab management structure comes from the kmalloc cache of its
/// size, so it must stay at most half the object (Linux bounds it by the
/// object, `offslab_limit`): then it is served by a strictly smaller cache,
/// and growing a cache never needs the cache itself.
/// Returns (order, num, left over, mgmt size).
fn calculate_slab_order(
    buffer_size: usize,
    align: usize,
    flags: SlabFlags,
    off_slab: bool,
    g: Geometry,
) -> Option<(usize, usize, usize, usize)> {
    let mut best = None;
    for order in 0..=MAX_SLAB_ORDER {
        let (num, left, mgmt) = cache_estimate(order, buffer_size, align, off_slab, g);
        if num == 0 {
            continue;
        }
        if off_slab && 2 * mgmt > buffer_size {
            break;
        }
        best = Some((order, num, left, mgmt));
        if flags.contains(SlabFlags::RECLAIM_ACCOUNT) || left * 8 <= PAGE_SIZE << order {
            break;
        }
    }
    best
}

impl CacheLayout {
    /// The layout of a cache of `size`-byte objects aligned to `align`
    /// (0: a word) on a machine of geometry `g`.
    pub fn compute(
        name: &'static str,
        size: usize,
        align: usize,
        flags: SlabFlags,
        g: Geometry,
    ) -> Result<CacheLayout, CreateError> {
        if size == 0 {
            return Err(CreateError::ZeroSize { name });
        }
        if size > PAGE_SIZE << MAX_SLAB_ORDER {
            return Err(CreateError::TooBig { name, size });
        }
        if align > PAGE_SIZE || (align != 0 && !align.is_power_of_two()) {
            return Err(CreateError::BadAlign { name, align });
        }
        // The alignment rules of 2.6.24's kmem_cache_create.
        let mut ralign = g.word;
        if flags.contains(SlabFlags::HWCACHE_ALIGN) {
            ralign = L1_CACHE_BYTES;
            while size <= ralign / 2 && ralign > g.word {
                ralign /= 2;
            }
        }
        ralign = ralign.max(align);
        let (obj_offset, usable, buffer_size) = if flags.contains(SlabFlags::RED_ZONE) {
            ralign = ralign.max(g.redzone_align);
            let usable = align_up(size, REDZONE);
            (ralign, usable, align_up(ralign + usable + REDZONE, ralign))
        } else {
            let b = align_up(size, ralign);
            (0, b, b)
        };
        // Linux: management off the slab for objects of PAGE_SIZE/8 and up,
        // so that 1 KB..4 KB objects pack order-0 slabs with no header in the
        // way; back on the slab if the left-over bytes hold it anyway.
        let mut off_slab = buffer_size >= PAGE_SIZE / 8;
        let (order, num, mut left, mut mgmt) = match calculate_slab_order(buffer_size, ralign, flags, off_slab, g) {
            Some(found) => found,
            None if off_slab => {
                off_slab = false;
                calculate_slab_order(buffer_size, ralign, flags, false, g).ok_or(CreateError::TooBig { name, size })?
            }
            None => return Err(CreateError::TooBig { name, size }),
        };
        if off_slab && left >= align_up(mgmt, ralign) {
            off_slab = false;
            mgmt = align_up(mgmt, ralign);
            left -= mgmt;
        }
        let limit = match buffer_size {
            _ if flags.intersects(SlabFlags::DEBUG) => 0, // every free checked at once
            b if b > PAGE_SIZE => 8,
            b if b > 1024 => 24,
            b if b > 256 => 54,
            _ => 120,
        };
        Ok(CacheLayout {
            usable,
            buffer_size,
            obj_offset,
            align: ralign,
            order,
            num,
            left_over: left,
            mgmt_size: mgmt,
            off_slab,
            limit,
        })
    }
}

/// Linux's `reciprocal_value`: r = ceil(2^32 / d), so that `(a * r) >> 32`
/// is `a / d` without a division. With r = (2^32 + e) / d, 0 <= e < d, the
/// product overshoots a / d by a·e / (d·2^32), which stays below the 1/d
/// gap to the next integer while a·e < 2^32: checked here for every offset
/// below `span`. Returns 0 where it does not hold (then `div_buffer_size`
/// divides).
fn reciprocal_for(d: usize, span: usize) -> u32 {
    let r = (1u64 << 32).div_ceil(d as u64);
    let e = r * d as u64 - (1u64 << 32);
    if r <= u32::MAX as u64 && (span as u64) * e < 1u64 << 32 {
        r as u32
    } else {
        0
    }
}

// ---- kmalloc's size classes ---------------------------------------------
// They belong to `mm::kmalloc`, but live here so that host tests can compute
// their exact i686 layouts.

/// Linux's kmalloc size classes on i386.
pub const KMALLOC_SIZES: [usize; 13] = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];

/// The alignment of a kmalloc class: a power of two is aligned to itself
/// (Linux guarantees it since 5.4, and Rust's aligned layouts rely on it),
/// up to a page, the most a cache can ask; kmalloc-8k is 8 KB aligned all
/// the same, because its one object starts its order-1 slab. 96 and 192
/// get 32 bytes.
pub const fn kmalloc_align(size: usize) -> usize {
    if !size.is_power_of_two() {
        32
    } else if size < PAGE_SIZE {
        size
    } else {
        PAGE_SIZE
    }
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
            reciprocal: 0,
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
            ac: ArrayCache { avail: 0, limit: 0, batchcount: 0, entry: [0; AC_MAX], bufctl: [0; AC_MAX] },
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
        assert!(self.num_slabs() == 0, "slab {}: init of a cache with slabs", self.name);
        let r = self.setup(name, size, align, flags, ctor);
        if let (Err(e), true) = (r, flags.contains(SlabFlags::PANIC)) {
            panic!("{e}");
        }
        r
    }

    fn setup(
        &mut self,
        name: &'static str,
        size: usize,
        align: usize,
        flags: SlabFlags,
        ctor: Option<fn(*mut u8)>,
    ) -> Result<(), CreateError> {
        let l = CacheLayout::compute(name, size, align, flags, Geometry::NATIVE)?;
        let colour_off = L1_CACHE_BYTES.max(l.align);
        *self = KmemCache {
            name,
            id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            flags,
            ctor,
            usable: l.usable,
            buffer_size: l.buffer_size,
            obj_offset: l.obj_offset,
            reciprocal: reciprocal_for(l.buffer_size, l.num * l.buffer_size),
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

    // ---- lists -------------------------------------------------------

    fn list_mut(&mut self, which: u8) -> &mut SlabList {
        match which {
            FULL => &mut self.slabs_full,
            PARTIAL => &mut self.slabs_partial,
            _ => &mut self.slabs_free,
        }
    }

    fn unlink(&mut self, s: SlabRef) {
        let (prev, next) = (s.prev(), s.next());
        let list = self.list_mut(s.list());
        if prev == 0 {
            list.head = next;
        }
        if next == 0 {
            list.tail = prev;
        }
        list.len -= 1;
        // SAFETY: list neighbours are live slabs of this cache.
        unsafe {
            if prev != 0 {
                SlabRef::new(prev).set_next(next);
            }
            if next != 0 {
                SlabRef::new(next).set_prev(prev);
            }
        }
    }

    fn link(&mut self, s: SlabRef, which: u8, at_tail: bool) {
        let list = self.list_mut(which);
        let (head, tail) = (list.head, list.tail);
        list.len += 1;
        if at_tail {
            list.tail = s.0;
            if head == 0 {
                list.head = s.0;
            }
        } else {
            list.head = s.0;
            if tail == 0 {
                list.tail = s.0;
            }
        }
        let (prev, next) = if at_tail { (tail, 0) } else { (0, head) };
        s.set_prev(prev);
        s.set_next(next);
        s.set_list(which);
        // SAFETY: list members are live slabs of this cache.
        unsafe {
            if prev != 0 {
                SlabRef::new(prev).set_next(s.0);
            }
            if next != 0 {
                SlabRef::new(next).set_prev(s.0);
            }
        }
    }

    /// Put a slab on the list its `inuse` calls for. After a free, a partial
    /// slab goes to the tail (Linux: more time for its other objects to be
    /// freed too); after an allocation, to the head, to be used first.
    fn relist(&mut self, s: SlabRef, freeing: bool) {
        let inuse = s.inuse() as usize;
        let which = match inuse {
            0 => FREE,
            n if n == self.num => FULL,
            _ => PARTIAL,
        };
        self.unlink(s);
        self.link(s, which, freeing && which == PARTIAL);
    }

    fn slab_with_free(&self) -> Option<SlabRef> {
        let base = if self.slabs_partial.head != 0 { self.slabs_partial.head } else { self.slabs_free.head };
        // SAFETY: list heads are live slabs of this cache.
        (base != 0).then(|| unsafe { SlabRef::new(base) })
    }

    // ---- objects -----------------------------------------------------
    // `obj` below is always the caller's address of object i of a live slab
    // of this cache: from `obj_addr`, or checked by `locate`.

    fn obj_addr(&self, s: SlabRef, i: usize) -> usize {
        s.s_mem() + i * self.buffer_size + self.obj_offset
    }

    #[cfg(test)]
    fn obj_index(&self, s: SlabRef, obj: usize) -> usize {
        self.div_buffer_size(obj - self.obj_offset - s.s_mem())
    }

    fn red_zones(&self, obj: usize) -> (u64, u64) {
        // SAFETY: a RED_ZONE object's buffer holds a word before it and one
        // after its usable bytes; unaligned reads need no alignment argument.
        unsafe {
            (((obj - REDZONE) as *const u64).read_unaligned(), ((obj + self.usable) as *const u64).read_unaligned())
        }
    }

    fn set_red_zones(&self, obj: usize, v: u64) {
        // SAFETY: as in `red_zones`; the words belong to the cache.
        unsafe {
            ((obj - REDZONE) as *mut u64).write_unaligned(v);
            ((obj + self.usable) as *mut u64).write_unaligned(v);
        }
    }

    fn poison(&self, obj: usize, byte: u8) {
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
    fn check_poison(&self, obj: usize) -> Option<(usize, u8)> {
        (0..self.usable).find_map(|k| {
            // SAFETY: k < usable: inside the object, which lies in its slab.
            let v = unsafe { ((obj + k) as *const u8).read() };
            let want = if k == self.usable - 1 { POISON_END } else { POISON_FREE };
            (v != want).then_some((k, v))
        })
    }

    // ---- slabs -------------------------------------------------------

    /// The flags to get a slab's pages with, from the allocating caller's
    /// (Linux's `cache_grow`: the caller's reclaim and zone constraints, the
    /// cache's own): never highmem or movable, since objects need an address
    /// and do not move; not zeroed (kmalloc zeroes the object it hands out);
    /// reclaimable pages for a RECLAIM_ACCOUNT cache.
    pub fn slab_gfp(&self, gfp: Gfp) -> Gfp {
        let mut g = gfp - Gfp::HIGHMEM - Gfp::MOVABLE - Gfp::ZERO;
        if self.flags.contains(SlabFlags::RECLAIM_ACCOUNT) {
            g |= Gfp::RECLAIMABLE;
        }
        g
    }

    /// What growing this cache needs, so that a caller that may sleep can
    /// get it without the cache's lock (Linux's `cache_grow` drops the lock
    /// around the page allocation): see [`GrowSpec::alloc`] and
    /// [`add_slab`](Self::add_slab).
    pub fn grow_spec(&self, gfp: Gfp) -> GrowSpec {
        assert!(self.id != 0, "slab: use of a cache that was never created");
        GrowSpec {
            cache: self.id,
            order: self.order,
            mgmt_size: self.off_slab.then_some(self.mgmt_size),
            gfp: self.slab_gfp(gfp),
        }
    }

    /// Make a new empty slab (Linux's `cache_grow`), under the caller's lock.
    fn grow(&mut self, pages: &mut impl SlabPages, gfp: Gfp) -> Result<(), AllocError> {
        let new = self.grow_spec(gfp).alloc(pages).ok_or(AllocError::NoMemory)?;
        self.add_slab(pages, new).map_err(|_| AllocError::NoMemory)
    }

    /// Carve pages got by [`GrowSpec::alloc`] into a new empty slab. They
    /// come back in `Err` if this is not the cache they were got for (it
    /// was destroyed meanwhile); give them back with [`NewSlab::release`].
    pub fn add_slab(&mut self, pages: &mut impl SlabPages, new: NewSlab) -> Result<(), NewSlab> {
        if new.cache != self.id || self.id == 0 {
            return Err(new);
        }
        let base = new.base;
        let hdr = new.mgmt.unwrap_or(base);
        assert!(base & (self.slab_bytes() - 1) == 0, "slab pages at {base:#x} not aligned");
        pages.set_slab_owner(base, self.order, Some(SlabOwner { cache: self.id, mgmt: hdr }));
        let colouroff = self.colour_next * self.colour_off;
        self.colour_next += 1;
        if self.colour_next >= self.colour {
            self.colour_next = 0;
        }
        let on_slab = if self.off_slab { 0 } else { self.mgmt_size };
        let header = Slab {
            magic: SLAB_MAGIC,
            cache_id: self.id,
            prev: 0,
            next: 0,
            s_mem: base + on_slab + colouroff,
            colouroff: colouroff as u32,
            inuse: 0,
            free: 0,
            num: self.num as u16,
            list: FREE,
        };
        // SAFETY: `hdr` is the start of the slab's pages or of the management
        // block: the provider gave us either, word aligned (so aligned for the
        // header, whose fields are at most words) and ours alone
        // (`SlabPages`), with room for the header and `num` bufctl entries.
        unsafe { ptr::write(hdr as *mut Slab, header) };
        // SAFETY: the header was just written and the slab is live.
        let s = unsafe { SlabRef::new(hdr) };
        for i in 0..self.num {
            s.set_bufctl(i, if i + 1 < self.num { (i + 1) as u16 } else { BUFCTL_END });
            let obj = self.obj_addr(s, i);
            if self.flags.contains(SlabFlags::RED_ZONE) {
                self.set_red_zones(obj, RED_INACTIVE);
            }
            if self.flags.contains(SlabFlags::POISON) {
                self.poison(obj, POISON_FREE);
            } else if let Some(ctor) = self.ctor {
                ctor(obj as *mut u8);
            }
        }
        self.link(s, FREE, false);
        self.free_objects += self.num;
        Ok(())
    }

    /// The address of the first page of a slab.
    fn slab_base(&self, s: SlabRef) -> usize {
        // Management and colour take less than the slab: object 0 starts in it.
        s.s_mem() & !(self.slab_bytes() - 1)
    }

    /// Give an empty slab back to the page allocator.
    fn destroy_slab(&mut self, pages: &mut impl SlabPages, s: SlabRef) {
        debug_assert_eq!(s.inuse(), 0);
        self.unlink(s);
        self.free_objects -= self.num;
        let base = self.slab_base(s);
        // A stale header must not make a later wild pointer look like ours.
        s.set_magic(0);
        pages.set_slab_owner(base, self.order, None);
        pages.free_pages(base, self.order);
        if self.off_slab {
            pages.free_mgmt(s.0, self.mgmt_size);
        }
    }

    /// Take the first free object of a slab (Linux's `slab_get_obj`):
    /// its index and address.
    fn slab_get_obj(&mut self, s: SlabRef) -> (usize, usize) {
        let i = s.free() as usize;
        s.set_free(s.bufctl(i));
        s.set_bufctl(i, BUFCTL_ACTIVE);
        s.set_inuse(s.inuse() + 1);
        self.free_objects -= 1;
        (i, self.obj_addr(s, i))
    }

    /// Put object `i` back on its slab's free list and relist the slab
    /// (Linux's `slab_put_obj`).
    fn slab_put_obj(&mut self, s: SlabRef, i: usize) {
        s.set_bufctl(i, s.free());
        s.set_free(i as u16);
        s.set_inuse(s.inuse() - 1);
        self.free_objects += 1;
        self.relist(s, true);
    }

    /// Find the slab and index of `obj`, or say why it is not one of ours.
    /// Every free runs this, so it does the minimum: two header words, one
    /// division (a `mul` by the precomputed reciprocal) and the remainder.
    /// An on-slab cache finds the header by masking; an off-slab cache asks
    /// the page (Linux's `virt_to_slab`).
    ///
    /// `IN_SLAB_PAGE`: the caller has seen `obj`'s page marked as a slab
    /// page of this cache (kfree's `virt_to_cache`), so the slab's first
    /// page is mapped and the `readable` checks are skipped.
    #[inline]
    fn locate<const IN_SLAB_PAGE: bool>(
        &self,
        pages: &impl SlabPages,
        obj: usize,
    ) -> Result<(SlabRef, usize), Foreign> {
        assert!(self.id != 0, "slab: use of a cache that was never created");
        let base = obj & !(self.slab_bytes() - 1);
        let hdr = if self.off_slab {
            if !IN_SLAB_PAGE && !pages.readable(base, 1) {
                return Err(Foreign::Unmapped);
            }
            pages.slab_mgmt(base).ok_or(Foreign::NotASlab)?
        } else {
            if !IN_SLAB_PAGE && !pages.readable(base, size_of::<Slab>()) {
                return Err(Foreign::Unmapped);
            }
            base
        };
        // SAFETY: on the slab, the provider says these bytes are readable
        // and `base` is page aligned, so aligned for u32; off the slab, the
        // pages recorded `hdr` as a live header (`SlabPages::slab_mgmt`).
        // Only plain integers are read.
        let (magic, id) = unsafe { ((hdr as *const u32).read(), (hdr as *const u32).add(1).read()) };
        if magic != SLAB_MAGIC {
            return Err(Foreign::NotASlab);
        }
        if id != self.id {
            return Err(Foreign::OtherCache(id));
        }
        // SAFETY: the magic and our id are there, and both are cleared when a
        // slab is destroyed: this is a live slab of this cache.
        let s = unsafe { SlabRef::new(hdr) };
        let rel = obj.wrapping_sub(s.s_mem());
        if obj < s.s_mem() || rel >= self.obj_span {
            return Err(Foreign::OutsideObjects);
        }
        let i = self.div_buffer_size(rel);
        let within = rel - i * self.buffer_size;
        if within != self.obj_offset {
            let offset = within as isize - self.obj_offset as isize;
            return Err(Foreign::MidObject { index: i, offset });
        }
        Ok((s, i))
    }

    /// `rel / buffer_size` for `rel` < `num * buffer_size` (inside a slab),
    /// as Linux's `reciprocal_divide`: exact there, see `reciprocal`.
    #[inline]
    fn div_buffer_size(&self, rel: usize) -> usize {
        if self.reciprocal == 0 {
            return rel / self.buffer_size;
        }
        let i = ((rel as u64 * self.reciprocal as u64) >> 32) as usize;
        debug_assert_eq!(i, rel / self.buffer_size);
        i
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

    /// The hit path alone (Linux's `____cache_alloc` finding `ac->avail`):
    /// the top of the array cache, or `None` when it is empty (always, for
    /// a debug cache); the caller then takes [`alloc`](Self::alloc) or
    /// [`alloc_nogrow`](Self::alloc_nogrow).
    #[inline(always)]
    pub fn alloc_cached(&mut self) -> Option<usize> {
        (self.ac.avail != 0).then(|| self.ac_pop())
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

    /// Take the top of the array cache, marking the object allocated.
    #[inline]
    fn ac_pop(&mut self) -> usize {
        self.ac.avail -= 1;
        let k = self.ac.avail;
        // SAFETY: `bufctl[k]` is the bufctl entry of `entry[k]`'s object
        // (`ac_push`), in a slab kept alive by it: an object in the array
        // counts in its slab's `inuse`, so the slab is not destroyed.
        unsafe { (self.ac.bufctl[k] as *mut u16).write(BUFCTL_ACTIVE) };
        self.ac.entry[k]
    }

    /// Put object `i` of slab `s` on the array cache (room is checked by
    /// the caller), marking it cached.
    #[inline]
    fn ac_push(&mut self, s: SlabRef, i: usize, obj: usize) {
        s.set_bufctl(i, BUFCTL_CACHED);
        let k = self.ac.avail;
        self.ac.entry[k] = obj;
        self.ac.bufctl[k] = s.bufctl_ptr(i) as usize;
        self.ac.avail += 1;
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

    /// Fill the empty array cache with up to `batchcount` objects, from
    /// partial slabs first, growing a slab only if none has a free object
    /// (Linux's `cache_alloc_refill`).
    fn refill(&mut self, pages: &mut impl SlabPages, grow: Option<Gfp>) -> Result<(), AllocError> {
        loop {
            while self.ac.avail < self.ac.batchcount {
                let Some(s) = self.slab_with_free() else {
                    break;
                };
                while self.ac.avail < self.ac.batchcount && (s.inuse() as usize) < self.num {
                    let (i, obj) = self.slab_get_obj(s);
                    self.ac_push(s, i, obj);
                }
                self.relist(s, false);
            }
            if self.ac.avail > 0 {
                return Ok(());
            }
            self.grow(pages, grow.ok_or(AllocError::MustGrow)?)?;
        }
    }

    fn alloc_debug(&mut self, pages: &mut impl SlabPages, grow: Option<Gfp>) -> Result<usize, AllocError> {
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
    fn check_red_zones(&self, obj: usize, want: u64) -> Result<(), SlabBug> {
        let (before, after) = self.red_zones(obj);
        for (after, value) in [(false, before), (true, after)] {
            if value != want {
                return Err(self.bug(obj, BugKind::RedZone { after, value }));
            }
        }
        Ok(())
    }

    /// The checks a free object must pass before it is handed out.
    fn check_free_object(&self, obj: usize) -> Result<(), SlabBug> {
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
        let bufctl = s.bufctl_ptr(i);
        // SAFETY: `locate` found object i of a live slab: its bufctl entry
        // lies in the slab's management.
        if unsafe { bufctl.read() } != BUFCTL_ACTIVE {
            return Err(self.bug(obj, BugKind::DoubleFree));
        }
        if self.is_debug() {
            return self.free_debug(pages, obj, s, i);
        }
        if self.ac.avail == self.ac.limit {
            // Flushing moves other objects only: this one's entry stays put.
            self.flush_array(pages, self.ac.batchcount);
        }
        // SAFETY: as above.
        unsafe { bufctl.write(BUFCTL_CACHED) };
        let k = self.ac.avail;
        self.ac.entry[k] = obj;
        self.ac.bufctl[k] = bufctl as usize;
        self.ac.avail += 1;
        Ok(())
    }

    /// The rest of `free` for a debug cache: `obj` is object `i` of slab `s`
    /// and allocated.
    #[inline(never)]
    fn free_debug(&mut self, pages: &mut impl SlabPages, obj: usize, s: SlabRef, i: usize) -> Result<(), SlabBug> {
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

    /// The slab of an array-cache entry, from its bufctl address.
    fn ac_slab(&self, pages: &impl SlabPages, k: usize) -> (SlabRef, usize) {
        let hdr = if self.off_slab {
            pages.slab_mgmt(self.ac.entry[k]).expect("array cache entry outside any slab")
        } else {
            self.ac.entry[k] & !(self.slab_bytes() - 1)
        };
        // SAFETY: an object in the array keeps its slab alive (it counts in
        // `inuse`), and `free` found its header at this address.
        let s = unsafe { SlabRef::new(hdr) };
        (s, (self.ac.bufctl[k] - s.bufctl_ptr(0) as usize) / 2)
    }

    /// Return the `n` oldest array entries to their slabs (Linux's
    /// `cache_flusharray` + `free_block`), then give back empty slabs while
    /// the cache has more than `free_limit` free objects.
    fn flush_array(&mut self, pages: &mut impl SlabPages, n: usize) {
        let n = n.min(self.ac.avail);
        for k in 0..n {
            let (s, i) = self.ac_slab(pages, k);
            debug_assert_eq!(s.bufctl(i), BUFCTL_CACHED);
            self.slab_put_obj(s, i);
        }
        self.ac.entry.copy_within(n..self.ac.avail, 0);
        self.ac.bufctl.copy_within(n..self.ac.avail, 0);
        self.ac.avail -= n;
        while self.free_objects > self.free_limit && self.slabs_free.head != 0 {
            // SAFETY: list heads are live slabs of this cache.
            let s = unsafe { SlabRef::new(self.slabs_free.head) };
            self.destroy_slab(pages, s);
        }
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
    /// purpose.
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

/// What one new slab of a cache needs: pages of `order` and, off the slab,
/// a management block (from [`KmemCache::grow_spec`]).
#[derive(Clone, Copy, Debug)]
pub struct GrowSpec {
    cache: u32,
    order: usize,
    mgmt_size: Option<usize>,
    gfp: Gfp,
}

impl GrowSpec {
    /// The flags the pages are asked with.
    pub fn gfp(&self) -> Gfp {
        self.gfp
    }

    pub fn order(&self) -> usize {
        self.order
    }

    /// Get the memory; needs no lock of the cache.
    pub fn alloc(&self, pages: &mut impl SlabPages) -> Option<NewSlab> {
        let base = pages.alloc_pages(self.order, self.gfp)?;
        let mgmt = match self.mgmt_size {
            None => None,
            Some(size) => match pages.alloc_mgmt(size, self.gfp) {
                Some(m) => Some(m),
                None => {
                    pages.free_pages(base, self.order);
                    return None;
                }
            },
        };
        Some(NewSlab { cache: self.cache, base, order: self.order, mgmt, mgmt_size: self.mgmt_size.unwrap_or(0) })
    }
}

/// The memory of a slab not made yet: pass it to [`KmemCache::add_slab`],
/// or give it back with [`release`](Self::release).
#[must_use = "a NewSlab holds pages: add it to its cache or release it"]
#[derive(Debug)]
pub struct NewSlab {
    cache: u32,
    base: usize,
    order: usize,
    mgmt: Option<usize>,
    mgmt_size: usize,
}

impl NewSlab {
    /// Give the memory back to the provider it came from.
    pub fn release(self, pages: &mut impl SlabPages) {
        pages.free_pages(self.base, self.order);
        if let Some(m) = self.mgmt {
            pages.free_mgmt(m, self.mgmt_size);
        }
    }
}

#[cfg(test)]
mod tests;
