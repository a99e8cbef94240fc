//! In-kernel tests of address spaces and of what the scheduler does with
//! them: `MmStruct`s made and dropped give every page back; two threads
//! with different address spaces see different pages at the same user
//! address across switches, on their own stacks (`TSS.esp0`); a hundred
//! threads sleep on one wait queue and all wake, and their stacks come back.
//!
//! Every test holds what it takes in guards that give it back on drop, and
//! compares the free page count (after `shrink` and `drain`) once they are
//! gone.

use super::memory::{counts_come_back, settled};
use super::TestResult;
use crate::arch::x86::cpu::read_cr3;
use crate::arch::x86::gdt;
use crate::arch::x86::mm::init::swapper_pg_dir_phys;
use crate::arch::x86::pgtable_types::PteFlags;
use crate::kernel::sched;
use crate::kernel::sync::SpinLock;
use crate::kernel::wait::WaitQueue;
use crate::layout::{phys_to_virt, KERNEL_PGD_FIRST, PAGE_SHIFT, PTRS_PER_PGD};
use crate::mm::gfp::GFP_KERNEL;
use crate::mm::mm_types::{mm_alloc, MmRef, MmStruct};
use crate::mm::page_alloc::{self, Pages};
use crate::mm::pgtable::{MapError, PageTables, Pfn, VirtAddr};
use crate::mm::vmalloc::DirectMapTables;
use crate::pr_info;
use ::alloc::sync::Arc;
use ::alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A lowmem frame the test owns; freed on drop.
struct Frame(Option<Pages>);

impl Frame {
    fn alloc(fill: u32) -> Result<Frame, &'static str> {
        let p = page_alloc::alloc_pages(GFP_KERNEL, 0).ok_or("no page")?;
        let f = Frame(Some(p));
        // SAFETY: a lowmem frame (GFP_KERNEL) just allocated for the test,
        // reached through the direct map.
        unsafe { (phys_to_virt((f.pfn() as usize) << PAGE_SHIFT) as *mut u32).write_volatile(fill) };
        Ok(f)
    }

    fn pfn(&self) -> u32 {
        self.0.as_ref().map_or(0, |p| p.pfn())
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            page_alloc::__free_pages(p);
        }
    }
}

/// `va` mapped in `mm` to `frame`; unmapped on drop (before the frame goes:
/// declare the frame first).
struct Mapping<'a> {
    mm: &'a MmStruct,
    va: VirtAddr,
}

impl<'a> Mapping<'a> {
    fn new(mm: &'a MmStruct, va: usize, frame: &Frame) -> Result<Mapping<'a>, &'static str> {
        let va = VirtAddr::new(va);
        // SAFETY: the frame is the test's and outlives the mapping (the
        // caller declares it before the Mapping, so it drops after).
        unsafe { mm.map_page(va, Pfn(frame.pfn()), PteFlags::RW) }.map_err(|_| "map_page failed")?;
        Ok(Mapping { mm, va })
    }
}

impl Drop for Mapping<'_> {
    fn drop(&mut self) {
        let _ = self.mm.unmap_page(self.va);
    }
}

const USER_VAS: [usize; 3] = [0x0804_8000, 0x0840_0000, 0xbfff_f000];

/// Address spaces made and dropped: each holds its directory and one page
/// table per 4 MB region it maps while alive (counted), shares the kernel
/// half with swapper_pg_dir, refuses to map over a present entry (naming
/// it), and gives every page back when dropped.
pub fn mm_struct_drop_frees_its_page_tables() -> TestResult {
    const MMS: usize = 8;
    counts_come_back(|| {
        let frames = [Frame::alloc(0x1111_1111)?, Frame::alloc(0x2222_2222)?, Frame::alloc(0x3333_3333)?];
        let before = settled();
        let mut mms: Vec<MmRef> = Vec::new();
        mms.try_reserve_exact(MMS).map_err(|_| "no memory for the list")?;
        for _ in 0..MMS {
            mms.push(mm_alloc().map_err(|_| "mm_alloc failed")?);
        }
        // SAFETY: swapper_pg_dir is the kernel's directory; only read.
        let (swapper, mem) = unsafe { (PageTables::from_phys(swapper_pg_dir_phys() as u32), DirectMapTables::new()) };
        for mm in &mms {
            if (KERNEL_PGD_FIRST..PTRS_PER_PGD).any(|i| mm.pde(i) != swapper.pde(&mem, i).0) {
                return Err("kernel half not copied from swapper_pg_dir");
            }
            if (0..KERNEL_PGD_FIRST).any(|i| mm.pde(i) != 0) {
                return Err("user half not empty");
            }
        }
        {
            let mut maps: Vec<Mapping<'_>> = Vec::new();
            maps.try_reserve_exact(MMS * USER_VAS.len()).map_err(|_| "no memory for the list")?;
            for mm in &mms {
                for (va, f) in USER_VAS.iter().zip(&frames) {
                    maps.push(Mapping::new(mm, *va, f)?);
                }
            }
            // A directory and three page tables each, plus the list.
            let used = before - settled();
            pr_info!("ktest: {} address spaces with {} user pages each: {} pages in use", MMS, USER_VAS.len(), used);
            if used < (MMS * (1 + USER_VAS.len())) as u64 {
                return Err("address spaces hold fewer pages than a directory and three tables each");
            }
            for mm in &mms {
                for (va, f) in USER_VAS.iter().zip(&frames) {
                    let got = mm.translate(VirtAddr::new(*va)).map(|(phys, _)| phys.pfn().0);
                    if got != Some(f.pfn()) {
                        return Err("a user page does not translate to its frame");
                    }
                }
            }
            if swapper.translate(&mem, VirtAddr::new(USER_VAS[0])).is_some() {
                return Err("a user mapping leaked into swapper_pg_dir");
            }
            let va = VirtAddr::new(USER_VAS[0]);
            // SAFETY: refused (the entry is present), so nothing is mapped.
            match unsafe { mms[0].map_page(va, Pfn(frames[1].pfn()), PteFlags::RW) } {
                Err(MapError::AlreadyMapped(at, old)) if at == va && old.pfn() == Pfn(frames[0].pfn()) => {}
                _ => return Err("map over a present entry not refused with its address and entry"),
            }
            if !kernel_va_refused(&mms[0]) {
                return Err("a kernel address was accepted as a user one");
            }
        }
        drop(mms);
        if settled() != before {
            return Err("dropped address spaces kept pages");
        }
        Ok(())
    })
}

/// Whether `map_page` refuses a kernel address, naming it.
fn kernel_va_refused(mm: &MmStruct) -> bool {
    let va = VirtAddr::new(crate::layout::PAGE_OFFSET);
    // SAFETY: refused before anything is mapped (a kernel address).
    matches!(unsafe { mm.map_page(va, Pfn(0), PteFlags::RW) }, Err(MapError::NotUser(a)) if a == va)
}

const SHARED_VA: usize = 0x1000_0000;
const ROUNDS: usize = 40;

/// What each of the two threads found, and their address spaces.
static MM_OF: SpinLock<[Option<MmRef>; 2]> = SpinLock::new([None, None]);
static ROUNDS_OK: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
static WRONG: AtomicUsize = AtomicUsize::new(0);

fn pattern(t: usize) -> u32 {
    0x5eed_0000 | t as u32
}

fn mm_user(t: usize) {
    let Some(mm) = MM_OF.lock()[t].clone() else { return };
    let pgd = mm.pgd_phys();
    crate::mm::mm_types::use_mm(&mm);
    for _ in 0..ROUNDS {
        // SAFETY: SHARED_VA is mapped in this thread's mm (to a frame the
        // test owns until both threads are waited for), and the scheduler
        // loads that mm's directory whenever this thread runs.
        let v = unsafe { (SHARED_VA as *const u32).read_volatile() };
        let (_, top) = sched::current_stack();
        let ok = v == pattern(t) && read_cr3() as usize & !0xfff == pgd && gdt::kernel_stack() as usize == top;
        if ok {
            ROUNDS_OK[t].fetch_add(1, Ordering::SeqCst);
        } else {
            WRONG.fetch_add(1, Ordering::SeqCst);
        }
        // Alternate yields and sleeps: both kinds of switch, and the other
        // thread runs in between.
        if ROUNDS_OK[t].load(Ordering::Relaxed).is_multiple_of(2) {
            sched::yield_now();
        } else {
            sched::msleep(1);
        }
    }
    sched::unuse_mm();
}

/// Two threads, two address spaces, one user address: each thread reads
/// its own page there, every round, across yields and sleeps; CR3 and
/// TSS.esp0 are its own each time it runs; the threads drop their
/// references when they leave.
pub fn switch_mm_gives_each_thread_its_own_user_pages() -> TestResult {
    counts_come_back(|| {
        let frames = [Frame::alloc(pattern(0))?, Frame::alloc(pattern(1))?];
        let mms = [mm_alloc().map_err(|_| "mm_alloc failed")?, mm_alloc().map_err(|_| "mm_alloc failed")?];
        let _maps = [Mapping::new(&mms[0], SHARED_VA, &frames[0])?, Mapping::new(&mms[1], SHARED_VA, &frames[1])?];
        WRONG.store(0, Ordering::SeqCst);
        for r in &ROUNDS_OK {
            r.store(0, Ordering::SeqCst);
        }
        *MM_OF.lock() = [Some(mms[0].clone()), Some(mms[1].clone())];
        let switches0 = sched::NR_MM_SWITCHES.load(Ordering::Relaxed);
        let a = crate::process::kthread::kthread_run("ktest-mm0", mm_user, 0);
        let b = crate::process::kthread::kthread_run("ktest-mm1", mm_user, 1);
        for pid in [&a, &b].into_iter().flatten() {
            crate::process::kthread::kthread_wait(*pid);
        }
        *MM_OF.lock() = [None, None];
        if a.is_err() || b.is_err() {
            return Err("no thread");
        }
        let switches = sched::NR_MM_SWITCHES.load(Ordering::Relaxed) - switches0;
        let ok = [ROUNDS_OK[0].load(Ordering::SeqCst), ROUNDS_OK[1].load(Ordering::SeqCst)];
        pr_info!("ktest: two address spaces at {:#x}: rounds ok {:?}, {} CR3 switches", SHARED_VA, ok, switches);
        if WRONG.load(Ordering::SeqCst) != 0 || ok != [ROUNDS; 2] {
            return Err("a thread saw another's page, CR3 or stack");
        }
        if switches < ROUNDS {
            return Err("fewer CR3 loads than the rounds need: the threads did not alternate");
        }
        if mms.iter().any(|mm| Arc::strong_count(mm) != 1) {
            return Err("an exited thread kept its mm reference");
        }
        Ok(())
    })
}

const SLEEPERS: usize = 100;
static WQ: WaitQueue = WaitQueue::new();
static GO: AtomicBool = AtomicBool::new(false);
static WOKEN: AtomicUsize = AtomicUsize::new(0);

fn sleeper(_: usize) {
    WQ.wait_event(|| GO.load(Ordering::SeqCst));
    WOKEN.fetch_add(1, Ordering::SeqCst);
}

/// Threads that are waited for on drop, whatever the test did.
struct Threads(Vec<u32>);

impl Drop for Threads {
    fn drop(&mut self) {
        GO.store(true, Ordering::SeqCst);
        WQ.wake_up_all();
        for &pid in &self.0 {
            crate::process::kthread::kthread_wait(pid);
        }
    }
}

/// One round: SLEEPERS threads asleep on WQ at once, all woken by one
/// wake_up_all, all exited.
fn hundred_sleepers_round() -> TestResult {
    GO.store(false, Ordering::SeqCst);
    WOKEN.store(0, Ordering::SeqCst);
    let mut threads = Threads(Vec::new());
    threads.0.try_reserve_exact(SLEEPERS).map_err(|_| "no memory for the list")?;
    for _ in 0..SLEEPERS {
        threads.0.push(
            crate::process::kthread::kthread_run("ktest-sleeper", sleeper, 0).map_err(|_| "no stack for a thread")?,
        );
    }
    let t0 = crate::arch::x86::pit::jiffies();
    while WQ.nr_sleepers() < SLEEPERS && crate::arch::x86::pit::jiffies() - t0 < 500 {
        sched::msleep(10);
    }
    let asleep = WQ.nr_sleepers();
    if WOKEN.load(Ordering::SeqCst) != 0 {
        return Err("a sleeper went on before the condition held");
    }
    if asleep != SLEEPERS {
        pr_info!("ktest: {} of {} threads asleep on the queue", asleep, SLEEPERS);
        return Err("not every thread got onto the wait queue");
    }
    if !crate::process::kthread::guard_pages_unmapped() {
        return Err("the page below a thread's stack is mapped");
    }
    drop(threads); // sets GO, wakes all, waits for every one
    if WOKEN.load(Ordering::SeqCst) != SLEEPERS {
        return Err("not every sleeper woke");
    }
    if WQ.has_sleepers() {
        return Err("woken sleepers left on the queue");
    }
    Ok(())
}

/// More threads than the old 32-bit waiter mask and 16-stack table could
/// hold sleep on one queue and all wake. The task table keeps the size its
/// busiest moment needed (its slots are reused), so a first round grows it
/// and the second, measured round must give back every page: 100 stacks
/// and everything else.
pub fn a_hundred_threads_sleep_on_one_queue_and_all_wake() -> TestResult {
    // Each sleeper's stack is THREAD_SIZE of lowmem: a tiny mem= (5M) less
    // the program modules GRUB loaded may not hold 100 at once.
    let needed = ((SLEEPERS * sched::THREAD_SIZE) >> PAGE_SHIFT) as u64 + 64;
    if settled() < needed {
        pr_info!("ktest: {} free pages, {} needed for {} thread stacks", settled(), needed, SLEEPERS);
        return Err(super::skip("not enough free memory for 100 thread stacks at once (a small mem=)"));
    }
    hundred_sleepers_round()?;
    counts_come_back(hundred_sleepers_round)
}
