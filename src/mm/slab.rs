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
//! **One slab.** The page allocator returns blocks aligned to their size, so
//! the header of the slab that holds an object is at `obj & !(slab_bytes - 1)`.
//! `free` needs no search.
//! ```text
//!  base = obj & !(slab_bytes - 1)
//!  | header | bufctl[num] | pad | colour | obj 0 | obj 1 | ... | obj num-1 | left |
//!                                        ^ s_mem
//! ```
//! The header holds a magic number, the cache's id, the list links (the slab
//! base addresses of its neighbours), `inuse`, and the first free index. The
//! `u16` `bufctl` array is the free list: `bufctl[i]` is the index of the
//! next free object, or [`BUFCTL_END`]. An object that is out of the slab
//! reads [`BUFCTL_ACTIVE`], and a bad object that is never handed out again
//! reads [`BUFCTL_QUARANTINE`]. That marker is how a free of an object that
//! is already free is caught. Linux 2.6.24 keeps the slab pointer in the
//! `struct page` instead. The kernel does that too, through
//! [`SlabPages::set_slab_owner`], so that `kfree` finds the cache of a
//! pointer from its page descriptor (`PageFlags::SLAB`, `slab_cache` = the
//! cache's [`id`](KmemCache::id)). It then calls `free` on that cache, which
//! finds the slab by masking.
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
//! object is allocated. A double free is reported at once if the object is
//! back in its slab. If the first free still sits in the array cache of a
//! non-debug cache, the second free goes unseen until the array is flushed,
//! as in Linux without DEBUG. The flush then drops the duplicate and keeps
//! the finding for [`KmemCache::take_deferred_bug`]. Each finding is a
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
/// Most objects per slab, so that indices never reach the markers.
const SLAB_LIMIT: usize = 0xfffc;
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
const WORD: usize = size_of::<usize>();
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

/// Where the slab allocator gets its pages.
///
/// The kernel implements it on the buddy allocator and the direct map. Its
/// `set_slab_owner` marks each page of the slab `PageFlags::SLAB` with
/// `slab_cache` = the id (or clears them), which is how `kfree` finds the
/// cache of a pointer. Host tests implement it on an aligned arena. A cache
/// must always be given the same provider.
///
/// # Safety
///
/// `alloc_pages(order, _)` must return the address of `PAGE_SIZE << order`
/// bytes, aligned to that size, that are valid for reads and writes and
/// used by nothing else until they come back through `free_pages`.
/// `readable(addr, len)` may return true only if those `len` bytes can be
/// read (for the kernel: they lie in the direct map).
pub unsafe trait SlabPages {
    fn alloc_pages(&mut self, order: usize, reclaimable: bool) -> Option<usize>;
    fn free_pages(&mut self, addr: usize, order: usize);
    fn readable(&self, addr: usize, len: usize) -> bool;
    /// Called with `Some(id)` after a slab is made and with `None` before its
    /// pages are freed.
    fn set_slab_owner(&mut self, _addr: usize, _order: usize, _cache: Option<u32>) {}
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
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllocError::NoMemory => f.write_str("out of memory"),
            AllocError::Bug(bug) => bug.fmt(f),
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

/// The per-CPU array of free objects (one CPU).
struct ArrayCache {
    avail: usize,
    limit: usize,
    batchcount: usize,
    entry: [usize; AC_MAX],
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
    /// Header plus bufctl array, aligned: where colour starts.
    mgmt_size: usize,
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
    deferred: Option<SlabBug>,
}

const fn align_up(x: usize, a: usize) -> usize {
    (x + a - 1) & !(a - 1)
}

/// How many objects fit a slab of `order`, the bytes left over and the
/// management size (Linux's `cache_estimate`, on-slab case).
fn cache_estimate(order: usize, buffer_size: usize, align: usize) -> (usize, usize, usize) {
    let bytes = PAGE_SIZE << order;
    let hdr = size_of::<Slab>();
    let mgmt = |n: usize| align_up(hdr + 2 * n, align);
    let mut num = ((bytes - hdr) / (buffer_size + 2)).min(SLAB_LIMIT);
    while num > 0 && mgmt(num) + num * buffer_size > bytes {
        num -= 1;
    }
    (num, bytes - mgmt(num) - num * buffer_size, mgmt(num))
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

/// The smallest order that wastes at most 1/8 of the slab (Linux's
/// `calculate_slab_order`); the largest fitting one if none does. A
/// RECLAIM_ACCOUNT cache takes the first order that fits, because
/// high-order pages are hard to find when memory is being reclaimed.
/// Returns (order, num, left over, mgmt size).
fn calculate_slab_order(buffer_size: usize, align: usize, flags: SlabFlags) -> Option<(usize, usize, usize, usize)> {
    let mut best = None;
    for order in 0..=MAX_SLAB_ORDER {
        let (num, left, mgmt) = cache_estimate(order, buffer_size, align);
        if num == 0 {
            continue;
        }
        best = Some((order, num, left, mgmt));
        if flags.contains(SlabFlags::RECLAIM_ACCOUNT) || left * 8 <= PAGE_SIZE << order {
            break;
        }
    }
    best
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
            colour: 0,
            colour_off: 0,
            colour_next: 0,
            slabs_full: SlabList::EMPTY,
            slabs_partial: SlabList::EMPTY,
            slabs_free: SlabList::EMPTY,
            free_objects: 0,
            free_limit: 0,
            quarantined: 0,
            ac: ArrayCache { avail: 0, limit: 0, batchcount: 0, entry: [0; AC_MAX] },
            deferred: None,
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
        let mut ralign = WORD;
        if flags.contains(SlabFlags::HWCACHE_ALIGN) {
            ralign = L1_CACHE_BYTES;
            while size <= ralign / 2 && ralign > WORD {
                ralign /= 2;
            }
        }
        ralign = ralign.max(align);
        let (obj_offset, usable, buffer_size) = if flags.contains(SlabFlags::RED_ZONE) {
            ralign = ralign.max(REDZONE);
            let usable = align_up(size, REDZONE);
            (ralign, usable, align_up(ralign + usable + REDZONE, ralign))
        } else {
            let b = align_up(size, ralign);
            (0, b, b)
        };
        let (order, num, left, mgmt) =
            calculate_slab_order(buffer_size, ralign, flags).ok_or(CreateError::TooBig { name, size })?;
        let limit: usize = match buffer_size {
            _ if flags.intersects(SlabFlags::DEBUG) => 0, // every free checked at once
            b if b > PAGE_SIZE => 8,
            b if b > 1024 => 24,
            b if b > 256 => 54,
            _ => 120,
        };
        let colour_off = L1_CACHE_BYTES.max(ralign);
        *self = KmemCache {
            name,
            id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            flags,
            ctor,
            usable,
            buffer_size,
            obj_offset,
            reciprocal: reciprocal_for(buffer_size, num * buffer_size),
            obj_span: num * buffer_size,
            order,
            num,
            mgmt_size: mgmt,
            colour: left / colour_off,
            colour_off,
            free_limit: 2 * limit.div_ceil(2) + num,
            ..KmemCache::empty()
        };
        self.ac.limit = limit;
        self.ac.batchcount = limit.div_ceil(2);
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

    /// A finding made while draining the array cache, where no caller could
    /// be told (a double free that went into the array twice). Taking it
    /// clears it.
    pub fn take_deferred_bug(&mut self) -> Option<SlabBug> {
        self.deferred.take()
    }

    /// Whether [`take_deferred_bug`](Self::take_deferred_bug) has a finding:
    /// a cheap test for every free, without moving the finding around.
    #[inline]
    pub fn has_deferred_bug(&self) -> bool {
        self.deferred.is_some()
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

    /// Make a new empty slab (Linux's `cache_grow`).
    fn grow(&mut self, pages: &mut impl SlabPages) -> Result<(), AllocError> {
        assert!(self.id != 0, "slab: use of a cache that was never created");
        let reclaimable = self.flags.contains(SlabFlags::RECLAIM_ACCOUNT);
        let base = pages.alloc_pages(self.order, reclaimable).ok_or(AllocError::NoMemory)?;
        assert!(base & (self.slab_bytes() - 1) == 0, "slab pages at {base:#x} not aligned");
        pages.set_slab_owner(base, self.order, Some(self.id));
        let colouroff = self.colour_next * self.colour_off;
        self.colour_next += 1;
        if self.colour_next >= self.colour {
            self.colour_next = 0;
        }
        let header = Slab {
            magic: SLAB_MAGIC,
            cache_id: self.id,
            prev: 0,
            next: 0,
            s_mem: base + self.mgmt_size + colouroff,
            colouroff: colouroff as u32,
            inuse: 0,
            free: 0,
            num: self.num as u16,
            list: FREE,
        };
        // SAFETY: the provider gave us these bytes, aligned to the slab size
        // (so to the header's alignment) and ours alone (`SlabPages`).
        unsafe { ptr::write(base as *mut Slab, header) };
        // SAFETY: the header was just written and the slab is live.
        let s = unsafe { SlabRef::new(base) };
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

    /// Give an empty slab back to the page allocator.
    fn destroy_slab(&mut self, pages: &mut impl SlabPages, s: SlabRef) {
        debug_assert_eq!(s.inuse(), 0);
        self.unlink(s);
        self.free_objects -= self.num;
        // A stale header must not make a later wild pointer look like ours.
        s.set_magic(0);
        pages.set_slab_owner(s.0, self.order, None);
        pages.free_pages(s.0, self.order);
    }

    /// Take the first free object of a slab (Linux's `slab_get_obj`).
    fn slab_get_obj(&mut self, s: SlabRef) -> usize {
        let i = s.free() as usize;
        s.set_free(s.bufctl(i));
        s.set_bufctl(i, BUFCTL_ACTIVE);
        s.set_inuse(s.inuse() + 1);
        self.free_objects -= 1;
        self.obj_addr(s, i)
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
    #[inline]
    fn locate(&self, pages: &impl SlabPages, obj: usize) -> Result<(SlabRef, usize), Foreign> {
        assert!(self.id != 0, "slab: use of a cache that was never created");
        let base = obj & !(self.slab_bytes() - 1);
        if !pages.readable(base, size_of::<Slab>()) {
            return Err(Foreign::Unmapped);
        }
        // SAFETY: the provider says these bytes are readable; base is page
        // aligned, so aligned for u32. Only plain integers are read.
        let (magic, id) = unsafe { ((base as *const u32).read(), (base as *const u32).add(1).read()) };
        if magic != SLAB_MAGIC {
            return Err(Foreign::NotASlab);
        }
        if id != self.id {
            return Err(Foreign::OtherCache(id));
        }
        // SAFETY: the magic and our id are there, and both are cleared when a
        // slab is destroyed: this is a live slab of this cache.
        let s = unsafe { SlabRef::new(base) };
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
        self.id != 0 && self.locate(pages, obj).is_ok()
    }

    // ---- the API -----------------------------------------------------

    /// `kmem_cache_alloc`: an object of [`object_size`](Self::object_size)
    /// bytes, aligned as asked, in its constructed state.
    #[inline]
    pub fn alloc(&mut self, pages: &mut impl SlabPages) -> Result<usize, AllocError> {
        // The hit path: a debug cache has `limit` 0, so its array stays empty
        // and it always takes the slow path.
        if self.ac.avail != 0 {
            self.ac.avail -= 1;
            return Ok(self.ac.entry[self.ac.avail]);
        }
        self.alloc_slow(pages)
    }

    /// The array cache is empty (always, for a debug cache).
    #[inline(never)]
    fn alloc_slow(&mut self, pages: &mut impl SlabPages) -> Result<usize, AllocError> {
        if self.is_debug() {
            return self.alloc_debug(pages);
        }
        self.refill(pages)?;
        self.ac.avail -= 1;
        Ok(self.ac.entry[self.ac.avail])
    }

    /// Fill the empty array cache with up to `batchcount` objects, from
    /// partial slabs first, growing a slab only if none has a free object
    /// (Linux's `cache_alloc_refill`).
    fn refill(&mut self, pages: &mut impl SlabPages) -> Result<(), AllocError> {
        loop {
            while self.ac.avail < self.ac.batchcount {
                let Some(s) = self.slab_with_free() else {
                    break;
                };
                while self.ac.avail < self.ac.batchcount && (s.inuse() as usize) < self.num {
                    self.ac.entry[self.ac.avail] = self.slab_get_obj(s);
                    self.ac.avail += 1;
                }
                self.relist(s, false);
            }
            if self.ac.avail > 0 {
                return Ok(());
            }
            self.grow(pages)?;
        }
    }

    fn alloc_debug(&mut self, pages: &mut impl SlabPages) -> Result<usize, AllocError> {
        let s = match self.slab_with_free() {
            Some(s) => s,
            None => {
                self.grow(pages)?;
                self.slab_with_free().expect("a grown slab has free objects")
            }
        };
        let obj = self.slab_get_obj(s);
        self.relist(s, false);
        if let Err(bug) = self.check_free_object(obj) {
            // Leave it ACTIVE-counted but never handed out: quarantine.
            s.set_bufctl(self.obj_index(s, obj), BUFCTL_QUARANTINE);
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
    /// cache is reported and left alone; an object whose red zones were
    /// overwritten is reported and quarantined.
    #[inline]
    pub fn free(&mut self, pages: &mut impl SlabPages, obj: usize) -> Result<(), SlabBug> {
        let (s, i) = match self.locate(pages, obj) {
            Ok(found) => found,
            Err(why) => return Err(self.bug_foreign(obj, why)),
        };
        if s.bufctl(i) != BUFCTL_ACTIVE {
            return Err(self.bug(obj, BugKind::DoubleFree));
        }
        if self.is_debug() {
            return self.free_debug(pages, obj, s, i);
        }
        if self.ac.avail == self.ac.limit {
            self.flush_array(pages, self.ac.batchcount);
        }
        self.ac.entry[self.ac.avail] = obj;
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

    /// Return the `n` oldest array entries to their slabs (Linux's
    /// `cache_flusharray` + `free_block`), then give back empty slabs while
    /// the cache has more than `free_limit` free objects. An entry whose
    /// object is free again is a double free that reached the array twice:
    /// it is dropped and kept as the deferred finding.
    fn flush_array(&mut self, pages: &mut impl SlabPages, n: usize) {
        let n = n.min(self.ac.avail);
        for k in 0..n {
            let obj = self.ac.entry[k];
            // SAFETY: `free` checked that obj is in a live slab of this cache,
            // and no slab is freed before the loop ends, so even a duplicate
            // entry still finds its slab alive.
            let s = unsafe { SlabRef::new(obj & !(self.slab_bytes() - 1)) };
            let i = self.obj_index(s, obj);
            if s.bufctl(i) == BUFCTL_ACTIVE {
                self.slab_put_obj(s, i);
            } else if self.deferred.is_none() {
                self.deferred = Some(self.bug(obj, BugKind::DoubleFree));
            }
        }
        self.ac.entry.copy_within(n..self.ac.avail, 0);
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
        let deferred = self.deferred.take();
        *self = KmemCache::empty();
        self.deferred = deferred;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
