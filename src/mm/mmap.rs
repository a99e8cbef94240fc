//! The VMA set of an address space: which user ranges are mapped, with which
//! rights and backing. Linux's `vm_area_struct` list and tree of
//! mm/mmap.c (2.6.24), pure and tested on the host; the page tables and the
//! fault handler sit on top of it and are not here.
//!
//! Every range is half-open and page-aligned, below `TASK_SIZE`. After every
//! operation the areas are sorted, never overlap, are never empty, and no two
//! neighbours could be merged (`can_merge`): as Linux's `vma_merge` keeps
//! them, so `/proc/PID/maps` reads as it would on Linux.
//!
//! Each area is an object of the `vm_area_struct` slab cache, as in Linux,
//! and the set keeps pointers to them in a vector sorted by address
//! (`mmap/vma_list.rs` says why not a tree). Every operation first works out
//! the replacement for the few areas it touches, then allocates the objects
//! and the room it needs, and only then changes the set: an allocation
//! failure is an `ENOMEM` that changes nothing (a `BTreeMap` insert cannot
//! fail, it aborts the kernel). `find_vma` is a binary search (Linux's
//! rbtree walk, O(log n)), and a neighbour is the next index (`vm_next`).
//! The set is generic over the allocator of its areas, as `Vec` is: the
//! kernel's default is the cache, the host tests' the heap, or one that
//! fails the n-th allocation.
//!
//! The layout is 2.6.24 i386's: top-down from `mmap_base` =
//! `TASK_SIZE - max(RLIMIT_STACK, 128 MB)` (what `arch_pick_mmap_layout`
//! picks for a finite stack limit, so the heap and the mappings share the
//! whole space between them), legacy bottom-up from 1 GB for an infinite
//! one. No randomisation: addresses are reproducible for the tests.
//!
//! An area's name (`[heap]`, `[stack]`) is not stored: as Linux's
//! `show_map` does, it is derived from `start_brk`, `brk` and
//! `start_stack`, so a heap merged with `.bss` still reads `[heap]`.
//!
//! Files: this one (the set, `find_vma`, `mmap`, `munmap`, `brk`,
//! `expand_stack`), `mmap/unmapped_area.rs` (`get_unmapped_area`), `mmap/mprotect.rs`,
//! `mmap/mlock.rs`, `mmap/mman.rs` (flags), `mmap/errno.rs`,
//! `mmap/vma_list.rs` (the areas' objects and their order),
//! `mmap/task_mmu.rs` (`/proc/PID/maps`); `mmap/tests.rs`, the model
//! test `mmap/proptests.rs` and the failing-allocator test
//! `mmap/enomem_tests.rs`.
//!
//! Deliberate differences from 2.6.24, each with its reason:
//! - an operation that fails for want of memory or of map count
//!   (`max_map_count`) fails before changing anything; Linux may leave a
//!   split behind. Otherwise partial results are Linux's: `mprotect` and
//!   `mlock` apply up to a hole or a refused area, then return the error.
//! - `brk` may not go below `start_brk` (Linux since 2.6.26; 2.6.24 let
//!   it unmap `.data` down to `end_code`); `RLIMIT_DATA` is not kept.
//! - the stack keeps a guard gap below it (`stack_guard_gap`, 256 pages as
//!   Linux since 4.12, "Stack Clash"): it does not grow into it, and
//!   `get_unmapped_area` places nothing in it (Linux's `vm_start_gap`).
//! - the top-down search has no `free_area_cache`: it returns the highest
//!   hole below `mmap_base` every time (Linux's cache goes on below the
//!   last mapping until a big enough hole above it is freed, so Linux may
//!   place a mapping lower than this does; either is a valid placement).
//! - shared anonymous mappings are refused (`EINVAL`): Linux backs them with
//!   a shmem file per mapping, which this kernel does not have.
//! - the `CAP_IPC_LOCK` bypass of the lock limits is the caller's: it passes
//!   `RLIM_INFINITY` as `Rlimits::memlock` for a capable task.

use crate::layout::{PAGE_SIZE, TASK_SIZE};
use alloc::vec::Vec;
use core::alloc::Allocator;

mod errno;
mod mlock;
mod mman;
mod mprotect;
mod task_mmu;
mod unmapped_area;
mod vma_list;

pub use errno::Errno;
pub use mlock::{MCL_CURRENT, MCL_FUTURE};
pub use mman::*;
use mman::{calc_vm_flag_bits, calc_vm_prot_bits};
pub use task_mmu::{Maps, MapsLine};
pub use unmapped_area::TASK_UNMAPPED_BASE;
use unmapped_area::{MAX_GAP, MIN_GAP};
#[cfg(target_os = "none")]
pub use vma_list::nr_vm_areas;
use vma_list::{vm_area_cachep, VmaList};
pub use vma_list::{VmAreaAlloc, VmaIter};

/// `RLIM_INFINITY` on i386 (`~0UL`).
pub const RLIM_INFINITY: usize = usize::MAX;
/// Linux's default `sysctl_max_map_count` (`DEFAULT_MAX_MAP_COUNT`).
pub const DEFAULT_MAX_MAP_COUNT: usize = 65530;
/// Linux's `vm.mmap_min_addr` default (`CONFIG_DEFAULT_MMAP_MIN_ADDR`):
/// nothing is mapped below it, so a NULL pointer (plus a small offset)
/// always faults. Only `CAP_SYS_RAWIO` may map lower, and processes here
/// have no capabilities.
pub const DEFAULT_MMAP_MIN_ADDR: usize = 4096;
/// Linux's `stack_guard_gap` default (256 pages, since 4.12).
pub const STACK_GUARD_GAP: usize = 256 * PAGE_SIZE;
const fn page_align_down(x: usize) -> usize {
    x & !(PAGE_SIZE - 1)
}

/// `PAGE_ALIGN` in 64-bit arithmetic, so a length near 4 GB rounds up past
/// 32 bits instead of wrapping to 0; the callers then refuse it with the
/// errno Linux's 32-bit wrap leads to.
fn page_align(x: usize) -> u64 {
    (x as u64).saturating_add(PAGE_SIZE as u64 - 1) & !(PAGE_SIZE as u64 - 1)
}

fn is_aligned(x: usize) -> bool {
    x.is_multiple_of(PAGE_SIZE)
}

/// A file a program maps: a GRUB module. Modules live as long as the
/// kernel, so a `&'static str` names them; two references are the same
/// file when their ids are equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRef {
    pub id: u32,
    /// The path `/proc/PID/maps` shows (`/hog`).
    pub name: &'static str,
    /// Opened for writing (`FMODE_WRITE`): a read-only file mapped shared
    /// loses `VM_MAYWRITE`.
    pub writable: bool,
}

/// What backs an area (`vm_file`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaKind {
    /// Demand-zero pages.
    Anonymous,
    /// Pages of a file, from page `pgoff` of it.
    File(FileRef),
}

/// One mapped range (Linux's `struct vm_area_struct`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma {
    pub start: usize,
    pub end: usize,
    pub flags: VmFlags,
    /// The file page mapped at `start`; for an anonymous private area
    /// `start >> PAGE_SHIFT`, as Linux sets it, so that the contiguity rule
    /// of merging is the same for both kinds. Modular, as Linux's unsigned
    /// `vm_pgoff`: a file mapped `MAP_GROWSDOWN` from offset 0 that grows
    /// wraps below 0 rather than overflowing.
    pub pgoff: usize,
    pub kind: VmaKind,
}

impl Vma {
    pub fn pages(&self) -> usize {
        (self.end - self.start) / PAGE_SIZE
    }

    pub fn contains(&self, addr: usize) -> bool {
        self.start <= addr && addr < self.end
    }

    /// The part `[from, to)` of this area, its file offset carried along
    /// (what `split_vma` leaves on each side).
    fn slice(&self, from: usize, to: usize) -> Vma {
        debug_assert!(self.start <= from && from < to && to <= self.end);
        Vma { start: from, end: to, pgoff: self.pgoff.wrapping_add((from - self.start) / PAGE_SIZE), ..*self }
    }

    /// Whether `next`, starting where this one ends, would be merged into
    /// it by `vma_merge`: same flags, same backing, contiguous offsets.
    pub fn can_merge(&self, next: &Vma) -> bool {
        self.end == next.start
            && self.flags == next.flags
            && !self.flags.intersects(VmFlags::SPECIAL)
            && self.kind == next.kind
            && self.pgoff.wrapping_add(self.pages()) == next.pgoff
    }

    /// Where the free space below this area must end (Linux's
    /// `vm_start_gap`): a stack keeps its guard gap free.
    fn start_gap(&self, guard: usize) -> usize {
        if self.flags.contains(VmFlags::GROWSDOWN) {
            self.start.saturating_sub(guard)
        } else {
            self.start
        }
    }
}

/// The resource limits these calls obey, in bytes (`RLIM_INFINITY` for none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimits {
    pub stack: usize,
    pub memlock: usize,
    /// `RLIMIT_AS`: all mapped bytes.
    pub as_: usize,
}

impl Rlimits {
    /// Linux's defaults: 8 MB of stack, 64 KB lockable, no address-space limit.
    pub const DEFAULT: Rlimits = Rlimits { stack: 8 << 20, memlock: 64 << 10, as_: RLIM_INFINITY };
    pub const INFINITE: Rlimits = Rlimits { stack: RLIM_INFINITY, memlock: RLIM_INFINITY, as_: RLIM_INFINITY };

    fn memlock_pages(&self) -> usize {
        self.memlock / PAGE_SIZE
    }
}

/// Which way `get_unmapped_area` searches (`arch_pick_mmap_layout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmapLayout {
    /// Down from `mmap_base`, just below the stack's room: the default.
    TopDown,
    /// Up from `TASK_UNMAPPED_BASE`: when the stack limit is infinite
    /// (its room below the stack would be unbounded).
    Legacy,
}

/// The address space's areas, with the `mm_struct` fields that belong to
/// them (`brk`, `start_stack`, `def_flags`, `mmap_base`). Its areas come
/// from `A`, the `vm_area_struct` cache unless said otherwise.
pub struct VmaSet<A: Allocator + Clone = VmAreaAlloc> {
    vmas: VmaList<A>,
    /// Where the heap starts (after `.bss`) and where it ends now; the
    /// heap area is the one holding both (`show_map`'s `[heap]`).
    pub start_brk: usize,
    pub brk: usize,
    /// The initial stack pointer; the area holding it is `[stack]`.
    pub start_stack: usize,
    /// Flags every new area gets: `VM_LOCKED` after `mlockall(MCL_FUTURE)`.
    pub def_flags: VmFlags,
    pub layout: MmapLayout,
    pub mmap_base: usize,
    pub max_map_count: usize,
    pub stack_guard_gap: usize,
    /// Lowest address a mapping may have (`vm.mmap_min_addr`).
    pub mmap_min_addr: usize,
}

impl VmaSet {
    /// An empty address space laid out for a stack limit of `rlim_stack`
    /// bytes, as `arch_pick_mmap_layout` (2.6.24 i386) does at exec:
    /// top-down below `TASK_SIZE - gap` (the gap being the stack limit,
    /// clamped to 128 MB .. 5/6 of user space, no randomisation, so the
    /// addresses are reproducible), or legacy bottom-up from 1 GB when the
    /// stack limit is infinite. Its areas will come from the
    /// `vm_area_struct` cache.
    pub fn new(rlim_stack: usize) -> VmaSet {
        VmaSet::new_in(rlim_stack, vm_area_cachep())
    }
}

impl<A: Allocator + Clone> VmaSet<A> {
    /// [`VmaSet::new`], its areas allocated from `alloc`.
    pub fn new_in(rlim_stack: usize, alloc: A) -> VmaSet<A> {
        let (layout, mmap_base) = if rlim_stack == RLIM_INFINITY {
            (MmapLayout::Legacy, TASK_UNMAPPED_BASE)
        } else {
            (MmapLayout::TopDown, page_align_down(TASK_SIZE - rlim_stack.clamp(MIN_GAP, MAX_GAP)))
        };
        VmaSet {
            vmas: VmaList::new_in(alloc),
            start_brk: 0,
            brk: 0,
            start_stack: 0,
            def_flags: VmFlags::empty(),
            layout,
            mmap_base,
            max_map_count: DEFAULT_MAX_MAP_COUNT,
            stack_guard_gap: STACK_GUARD_GAP,
            mmap_min_addr: DEFAULT_MMAP_MIN_ADDR,
        }
    }

    /// A copy for a forked child (`dup_mmap`), each area in an object of
    /// its own: `ENOMEM`, not an abort and nothing kept, when memory for
    /// one cannot be had.
    pub fn try_clone(&self) -> Result<VmaSet<A>, Errno> {
        Ok(VmaSet { vmas: self.vmas.try_clone()?, ..*self })
    }

    /// The areas, in address order.
    pub fn iter(&self) -> VmaIter<'_, A> {
        self.vmas.iter()
    }

    /// `mm->map_count`.
    pub fn len(&self) -> usize {
        self.vmas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vmas.is_empty()
    }

    /// Index of the first area ending above `addr`. The area found last
    /// is tried first (Linux's `mmap_cache`): when it holds `addr`, it is
    /// that area, as the areas are sorted and do not overlap.
    fn index_after(&self, addr: usize) -> usize {
        let last = self.vmas.last_found();
        if self.vmas.get(last).is_some_and(|v| v.contains(addr)) {
            return last;
        }
        let i = self.vmas.partition_point(|v| v.end <= addr);
        self.vmas.set_last_found(i);
        i
    }

    /// Linux's `find_vma`: the first area with `end > addr`, which holds
    /// `addr` or is the next one above it.
    pub fn find_vma(&self, addr: usize) -> Option<&Vma> {
        self.vmas.get(self.index_after(addr))
    }

    /// Linux's `find_vma_prev`: `find_vma` and the area before it.
    pub fn find_vma_prev(&self, addr: usize) -> (Option<&Vma>, Option<&Vma>) {
        let i = self.index_after(addr);
        (self.vmas.get(i), i.checked_sub(1).and_then(|p| self.vmas.get(p)))
    }

    /// Linux's `find_vma_intersection`: the first area overlapping
    /// `[start, end)`.
    pub fn find_vma_intersection(&self, start: usize, end: usize) -> Option<&Vma> {
        self.find_vma(start).filter(|v| v.start < end)
    }

    /// `mm->total_vm`: pages mapped (`VmSize`), a count the area list
    /// keeps as it changes (Linux's `vm_stat_account`), so that reading it
    /// is cheap enough for every page fault.
    pub fn total_vm(&self) -> usize {
        debug_assert_eq!(self.vmas.pages(), self.vmas.iter().map(Vma::pages).sum::<usize>());
        self.vmas.pages()
    }

    /// `mm->locked_vm`: pages in `VM_LOCKED` areas (`VmLck`).
    pub fn locked_vm(&self) -> usize {
        self.sum_pages(|v| v.flags.contains(VmFlags::LOCKED))
    }

    /// `mm->stack_vm` (`VmStk`), as `vm_stat_account` counts it.
    pub fn stack_vm(&self) -> usize {
        self.sum_pages(|v| v.kind == VmaKind::Anonymous && v.flags.contains(VmFlags::GROWSDOWN))
    }

    /// `mm->shared_vm`: file-backed pages (`VmData` is total - shared - stack).
    pub fn shared_vm(&self) -> usize {
        self.sum_pages(|v| matches!(v.kind, VmaKind::File(_)))
    }

    /// `mm->exec_vm`: file pages executable and not writable (text).
    pub fn exec_vm(&self) -> usize {
        self.sum_pages(|v| {
            matches!(v.kind, VmaKind::File(_)) && v.flags & (VmFlags::EXEC | VmFlags::WRITE) == VmFlags::EXEC
        })
    }

    fn sum_pages(&self, f: impl Fn(&Vma) -> bool) -> usize {
        self.vmas.iter().filter(|v| f(v)).map(Vma::pages).sum()
    }

    /// The one primitive every change goes through: what lies in
    /// `[start, end)` is replaced by `f` of each mapped piece (`None`
    /// unmaps it), `new` is put in the range if given, and the touched
    /// areas and their neighbours are merged where `vma_merge` would merge
    /// them. Fails with `ENOMEM`, changing nothing, if the result would
    /// exceed `max_map_count` or memory for it cannot be had.
    fn rewrite(
        &mut self,
        start: usize,
        end: usize,
        mut f: impl FnMut(&Vma) -> Option<Vma>,
        new: Option<Vma>,
    ) -> Result<(), Errno> {
        debug_assert!(is_aligned(start) && is_aligned(end) && start < end && end <= TASK_SIZE);
        // The window: every area touching [start, end), and the neighbours
        // ending at `start` or starting at `end` (candidates for merging).
        let lo = self.vmas.partition_point(|v| v.end < start);
        let hi = self.vmas.partition_point(|v| v.start <= end);
        let mut repl: Vec<Vma> = Vec::new();
        repl.try_reserve(2 * (hi - lo) + 1).map_err(|_| Errno::ENOMEM)?;
        for v in self.vmas.range(lo..hi) {
            if v.start < start {
                repl.push(v.slice(v.start, v.end.min(start)));
            }
            let (a, b) = (v.start.max(start), v.end.min(end));
            if a < b {
                if let Some(n) = f(&v.slice(a, b)) {
                    debug_assert!(n.start == a && n.end == b, "a rewrite keeps the piece's range");
                    repl.push(n);
                }
            }
            if v.end > end {
                repl.push(v.slice(v.start.max(end), v.end));
            }
        }
        if let Some(n) = new {
            debug_assert!(n.start == start && n.end == end && !repl.iter().any(|r| r.start < end && start < r.end));
            let at = repl.partition_point(|r| r.start < n.start);
            repl.insert(at, n);
        }
        // vma_merge: fold each piece into the one before it where it may.
        let mut kept = 0;
        for i in 0..repl.len() {
            if kept > 0 && repl[kept - 1].can_merge(&repl[i]) {
                repl[kept - 1].end = repl[i].end;
            } else {
                repl[kept] = repl[i];
                kept += 1;
            }
        }
        repl.truncate(kept);
        let new_len = self.vmas.len() - (hi - lo) + repl.len();
        if new_len > self.max_map_count {
            return Err(Errno::ENOMEM);
        }
        self.vmas.replace(lo..hi, &repl)
    }

    /// Linux's `do_munmap`: unmaps `[start, start + len)`, splitting the
    /// areas at both ends; holes in the range are fine.
    pub fn munmap(&mut self, start: usize, len: usize) -> Result<(), Errno> {
        if !is_aligned(start) || start > TASK_SIZE || len > TASK_SIZE - start {
            return Err(Errno::EINVAL);
        }
        let len = page_align(len) as usize;
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let end = start + len;
        if self.find_vma_intersection(start, end).is_none() {
            return Ok(());
        }
        self.rewrite(start, end, |_| None, None)
    }

    /// Linux's `insert_vm_struct`: puts a ready-made area in a free range
    /// (for what exec and special mappings build by hand), merging it with
    /// its neighbours where `vma_merge` would. `EINVAL` for an empty,
    /// unaligned or out-of-range area; `ENOMEM` if the range is not free.
    /// An anonymous area's `pgoff` should be `start >> PAGE_SHIFT`, as
    /// every other anonymous area's is, or it will not merge with them.
    pub fn insert_vma(&mut self, vma: Vma) -> Result<(), Errno> {
        if vma.start >= vma.end || !is_aligned(vma.start) || !is_aligned(vma.end) || vma.end > TASK_SIZE {
            return Err(Errno::EINVAL);
        }
        if self.find_vma_intersection(vma.start, vma.end).is_some() {
            return Err(Errno::ENOMEM);
        }
        self.rewrite(vma.start, vma.end, |_| None, Some(vma))
    }

    /// Linux's `do_mmap_pgoff` and `mmap_region` (what `mmap2` reaches):
    /// maps `len` bytes with `prot` and `flags`, of `file` from page
    /// `pgoff` or anonymous, and returns the address. A `MAP_FIXED`
    /// mapping replaces what was there. The caller faults in a
    /// `VM_LOCKED` result (`make_pages_present`).
    #[allow(clippy::too_many_arguments)] // mmap2's six registers, and the limits
    pub fn mmap(
        &mut self,
        addr: usize,
        len: usize,
        prot: u32,
        flags: u32,
        file: Option<FileRef>,
        pgoff: usize,
        rlim: &Rlimits,
    ) -> Result<usize, Errno> {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_align(len);
        if len > TASK_SIZE as u64 {
            return Err(Errno::ENOMEM);
        }
        let len = len as usize;
        if pgoff.checked_add(len / PAGE_SIZE).is_none_or(|e| e > u32::MAX as usize) {
            return Err(Errno::EOVERFLOW);
        }
        if flags & MAP_FIXED != 0 && addr < self.mmap_min_addr {
            // security_mmap_addr: below mmap_min_addr needs CAP_SYS_RAWIO.
            return Err(Errno::EPERM);
        }
        let addr = self.get_unmapped_area(addr, len, flags)?;
        let mut vm_flags = calc_vm_prot_bits(prot)
            | calc_vm_flag_bits(flags)
            | self.def_flags
            | VmFlags::MAYREAD
            | VmFlags::MAYWRITE
            | VmFlags::MAYEXEC;
        if flags & MAP_LOCKED != 0 {
            if rlim.memlock == 0 {
                return Err(Errno::EPERM); // !can_do_mlock()
            }
            vm_flags |= VmFlags::LOCKED;
        }
        if vm_flags.contains(VmFlags::LOCKED) && self.locked_vm() + len / PAGE_SIZE > rlim.memlock_pages() {
            return Err(Errno::EAGAIN);
        }
        let (kind, pgoff) = match (file, flags & MAP_TYPE) {
            (Some(f), MAP_SHARED) => {
                if prot & PROT_WRITE != 0 && !f.writable {
                    return Err(Errno::EACCES);
                }
                vm_flags |= VmFlags::SHARED | VmFlags::MAYSHARE;
                if !f.writable {
                    vm_flags -= VmFlags::MAYWRITE | VmFlags::SHARED;
                }
                (VmaKind::File(f), pgoff)
            }
            (Some(f), MAP_PRIVATE) => (VmaKind::File(f), pgoff),
            (None, MAP_PRIVATE) => (VmaKind::Anonymous, addr / PAGE_SIZE),
            // (None, MAP_SHARED) would need a shmem file; see the module docs.
            _ => return Err(Errno::EINVAL),
        };
        let end = addr + len;
        self.may_replace(addr, end, rlim)?;
        if flags & MAP_NORESERVE == 0 && vm_flags.intersects(VmFlags::SHARED | VmFlags::WRITE) {
            vm_flags |= VmFlags::ACCOUNT;
        }
        let vma = Vma { start: addr, end, flags: vm_flags, pgoff, kind };
        self.rewrite(addr, end, |_| None, Some(vma))?;
        Ok(addr)
    }

    /// Whether a new area may replace what is mapped in `[start, end)`
    /// within `RLIMIT_AS`. Linux unmaps the old areas first and only then
    /// checks the limit, so a refusal leaves a hole where they were; on
    /// success nothing is unmapped yet (the rewrite that puts the new area
    /// in replaces them, so a failure to allocate it leaves them whole).
    fn may_replace(&mut self, start: usize, end: usize, rlim: &Rlimits) -> Result<(), Errno> {
        let replaced: usize = self.iter().map(|v| v.end.min(end).saturating_sub(v.start.max(start)) / PAGE_SIZE).sum();
        if self.total_vm() - replaced + (end - start) / PAGE_SIZE > rlim.as_ / PAGE_SIZE {
            if replaced > 0 {
                self.munmap(start, end - start)?;
            }
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// Linux's `sys_brk`: moves the end of the heap to `newbrk` and returns
    /// the break now in force, the old one if the move is refused (below
    /// `start_brk`, into the page before the next mapping, past a limit).
    /// The heap grows as an anonymous `VM_DATA_DEFAULT_FLAGS` area merged
    /// with the one before it (`do_brk`); it shrinks by `do_munmap`.
    pub fn brk(&mut self, newbrk: usize, rlim: &Rlimits) -> usize {
        if newbrk < self.start_brk || newbrk > TASK_SIZE {
            return self.brk;
        }
        let (new_top, old_top) = (page_align(newbrk) as usize, page_align(self.brk) as usize);
        if new_top != old_top {
            let moved = if newbrk <= self.brk {
                self.munmap(new_top, old_top - new_top).is_ok()
            } else {
                // Keep a page free below the next mapping.
                self.find_vma_intersection(old_top, new_top + PAGE_SIZE).is_none()
                    && self.do_brk(old_top, new_top - old_top, rlim).is_ok()
            };
            if !moved {
                return self.brk;
            }
        }
        self.brk = newbrk;
        self.brk
    }

    /// Linux's `do_brk`: an anonymous heap mapping at `addr` (also what
    /// `binfmt_elf` uses for `.bss`).
    pub fn do_brk(&mut self, addr: usize, len: usize, rlim: &Rlimits) -> Result<usize, Errno> {
        let len = page_align(len) as usize;
        if len == 0 {
            return Ok(addr);
        }
        if !is_aligned(addr) || addr > TASK_SIZE || len > TASK_SIZE - addr {
            return Err(Errno::EINVAL);
        }
        let flags = VmFlags::DATA_DEFAULT | VmFlags::ACCOUNT | self.def_flags;
        if flags.contains(VmFlags::LOCKED) && self.locked_vm() + len / PAGE_SIZE > rlim.memlock_pages() {
            return Err(Errno::EAGAIN);
        }
        self.may_replace(addr, addr + len, rlim)?;
        let vma = Vma { start: addr, end: addr + len, flags, pgoff: addr / PAGE_SIZE, kind: VmaKind::Anonymous };
        self.rewrite(addr, addr + len, |_| None, Some(vma))?;
        Ok(addr)
    }

    /// Linux's `expand_stack` (`expand_downwards`): the stack area above
    /// `addr` grows down to cover it. `ENOMEM` if that breaks the stack or
    /// address-space limit, the lock limit of a locked stack, or comes
    /// within `stack_guard_gap` of the mapping below; `EFAULT` if no
    /// `VM_GROWSDOWN` area is above `addr` (the fault handler's `bad_area`).
    pub fn expand_stack(&mut self, addr: usize, rlim: &Rlimits) -> Result<(), Errno> {
        let addr = page_align_down(addr);
        if addr < self.mmap_min_addr {
            return Err(Errno::EPERM);
        }
        let i = self.index_after(addr);
        let v = *self.vmas.get(i).ok_or(Errno::EFAULT)?;
        if v.start <= addr {
            return Ok(());
        }
        if !v.flags.contains(VmFlags::GROWSDOWN) {
            return Err(Errno::EFAULT);
        }
        if let Some(prev) = i.checked_sub(1).map(|p| self.vmas[p]) {
            let guarded = !prev.flags.contains(VmFlags::GROWSDOWN) && prev.flags.intersects(VmFlags::RWX);
            if guarded && addr - prev.end < self.stack_guard_gap {
                return Err(Errno::ENOMEM);
            }
        }
        let grow = (v.start - addr) / PAGE_SIZE;
        if self.total_vm() + grow > rlim.as_ / PAGE_SIZE || v.end - addr > rlim.stack {
            return Err(Errno::ENOMEM);
        }
        if v.flags.contains(VmFlags::LOCKED) && self.locked_vm() + grow > rlim.memlock_pages() {
            return Err(Errno::ENOMEM);
        }
        // Only the start moves: nothing new can become adjacent (the gap,
        // or a stack below, which differs in nothing but could merge: let
        // the rewrite decide).
        let grown = Vma { start: addr, pgoff: v.pgoff.wrapping_sub(grow), ..v };
        self.rewrite(addr, v.end, |_| None, Some(grown))
    }

    /// Linux's `find_extend_vma`: the area holding `addr`, after growing
    /// the stack down to it if need be (what `get_user_pages` uses).
    pub fn find_extend_vma(&mut self, addr: usize, rlim: &Rlimits) -> Option<&Vma> {
        self.expand_stack(addr, rlim).ok()?;
        self.find_vma(addr).filter(|v| v.contains(addr))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod enomem_tests;
