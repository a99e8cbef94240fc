//! How a cache is laid out (the arithmetic of Linux's `kmem_cache_create`,
//! `cache_estimate` and `calculate_slab_order` in `mm/slab.c`): object size
//! with alignment and red zones, slab order, objects per slab, where the
//! management goes, the colour left over and the array cache's `limit`.
//! Pure arithmetic on a [`Geometry`], so host tests compute the i686
//! kernel's layouts too.

use super::mgmt::Slab;
use super::slab_debug::REDZONE;
use super::{CreateError, SlabFlags, L1_CACHE_BYTES, MAX_SLAB_ORDER, SLAB_LIMIT};
use crate::layout::PAGE_SIZE;
use core::mem::size_of;

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

/// The object index of a free without a division or a remainder (what
/// Linux's `obj_to_index` computes with `reciprocal_divide`): for a
/// buffer size d = m·2^k with m odd, `mul` is the inverse of m modulo
/// 2^BITS and `shift` is k, and
/// `i = (rel * mul).rotate_right(shift)` (wrapping) is below `num` exactly
/// when `rel` is `i·d` with `i < num`, the start of object `i`.
///
/// Why: if rel = i·d, then rel·mul = i·2^k·(m·mul) = i·2^k (mod 2^BITS),
/// and rotating right by k gives back i. Multiplying by an odd number and
/// rotating are both one-to-one on machine words, so the `num` object
/// starts are the only words that land on 0..num: a pointer inside an
/// object, before the first or past the last lands far above. One
/// multiply, one rotate and one compare check the boundary and give the
/// index.
pub(super) const fn exact_index(d: usize) -> (usize, u32) {
    assert!(d > 0);
    let shift = d.trailing_zeros();
    let m = d >> shift;
    // Newton's iteration for the inverse modulo 2^BITS: m·m = 1 (mod 8)
    // for odd m, and each step doubles the bits that are right (3, 6, 12,
    // 24, 48, 96).
    let mut inv = m;
    let mut step = 0;
    while step < 5 {
        inv = inv.wrapping_mul(2usize.wrapping_sub(m.wrapping_mul(inv)));
        step += 1;
    }
    assert!(m.wrapping_mul(inv) == 1);
    (inv, shift)
}

/// The index of the object at offset `rel` from the first, with
/// [`exact_index`]'s factors: below `num` only at an object's start
/// (Linux's `obj_to_index`, which trusts `rel` and divides by reciprocal).
#[inline(always)]
pub(super) const fn obj_to_index(rel: usize, mul: usize, shift: u32) -> usize {
    rel.wrapping_mul(mul).rotate_right(shift)
}

// ---- kmalloc's size classes ---------------------------------------------
// Linux keeps them in `mm/slab_common.c`; the kernel's kmalloc is in
// `mm/slab_common.rs`, which only the kernel builds, so they live here,
// where host tests compute their exact i686 layouts.

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
