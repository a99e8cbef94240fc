//! In-kernel tests of the fault path and of kernel access to user memory:
//! a bad user pointer (unmapped, in the kernel, or a range that crosses
//! `PAGE_OFFSET`) gives `-EFAULT` and the machine goes on; a user page
//! mapped for the test in a page directory of its own is read and written
//! byte-exactly, also across its end into an unmapped page; the fault
//! handler turns interrupts back on when the faulting code had them on, and
//! `kmap_atomic` sends user faults straight to the fixup.
//!
//! Everything taken (the page, the page tables, the directory, CR3) is
//! held in guards that give it back on drop, and the free page count is
//! compared after every test.

use super::TestResult;
use crate::arch::x86::cpu::{self, load_cr3, local_irq_restore, local_irq_save};
use crate::arch::x86::lib::extable::FIXUPS;
use crate::arch::x86::lib::uaccess::{
    access_ok, copy_from_user, copy_to_user, get_user, pagefault_disabled, put_user, strncpy_from_user, Efault,
    PagefaultDisabled,
};
use crate::arch::x86::mm::fault::{FAULTS_IN_ATOMIC, FAULTS_WITH_IRQS_ON};
use crate::arch::x86::mm::highmem::{kmap_atomic, KmType};
use crate::arch::x86::mm::init::swapper_pg_dir_phys;
use crate::arch::x86::pgtable_types::PteFlags;
use crate::kernel::preempt::{preempt_disable, preempt_enable};
use crate::layout::{virt_to_phys, KERNEL_PGD_FIRST, PAGE_OFFSET, PAGE_SIZE};
use crate::mm::gfp::GFP_KERNEL;
use crate::mm::page_alloc::{drain_all_pages, free_pages, get_zeroed_page, nr_free_pages};
use crate::mm::pgtable::{PageTables, Pfn, VirtAddr};
use crate::mm::vmalloc::DirectMapTables;
use crate::pr_info;
use core::sync::atomic::{AtomicUsize, Ordering};

/// A user address nothing maps in the kernel's own directory (only the
/// kernel half is mapped there), and where the test maps its user page.
const USER_VA: usize = 0x4000_0000;

fn counts_come_back(body: impl FnOnce() -> TestResult) -> TestResult {
    drain_all_pages();
    let before = nr_free_pages();
    let r = body();
    drain_all_pages();
    let after = nr_free_pages();
    if after != before {
        pr_info!("ktest: free pages {} -> {}", before, after);
        return r.and(Err("free pages not back where they were"));
    }
    r
}

fn delta(counter: &AtomicUsize, f: impl FnOnce()) -> usize {
    let before = counter.load(Ordering::Relaxed);
    f();
    counter.load(Ordering::Relaxed) - before
}

/// A zeroed lowmem page, freed on drop.
struct KPage(usize);

impl KPage {
    fn new() -> Result<KPage, &'static str> {
        get_zeroed_page(GFP_KERNEL).map(KPage).ok_or("no page for the test")
    }
    fn pfn(&self) -> Pfn {
        Pfn((virt_to_phys(self.0) / PAGE_SIZE) as u32)
    }
    fn read(&self, off: usize, len: usize) -> &[u8] {
        assert!(off + len <= PAGE_SIZE);
        // SAFETY: the page is the test's own, in the direct map; the user
        // alias writes it only inside uaccess calls, never while this lives.
        unsafe { core::slice::from_raw_parts((self.0 + off) as *const u8, len) }
    }
    fn write(&self, off: usize, bytes: &[u8]) {
        assert!(off + bytes.len() <= PAGE_SIZE);
        // SAFETY: as above; no reference to the page's bytes is live.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), (self.0 + off) as *mut u8, bytes.len()) };
    }
}

impl Drop for KPage {
    fn drop(&mut self) {
        // SAFETY: get_zeroed_page gave this order-0 page; nothing maps it
        // any more (the test's directory is gone before this guard drops).
        unsafe { free_pages(self.0, 0) };
    }
}

/// A page directory of the test's own: the kernel half cloned, `page`
/// mapped at `USER_VA` as a user page, `USER_VA + PAGE_SIZE` unmapped.
/// Its page tables and the directory are freed on drop.
struct TestMm {
    pgd: Option<PageTables>,
    mem: DirectMapTables,
}

impl TestMm {
    fn new(page: &KPage) -> Result<TestMm, &'static str> {
        // SAFETY: the test only changes a directory of its own (and the
        // tables made under it) and reads the kernel's reference one.
        let mut mem = unsafe { DirectMapTables::new() };
        let pgd = PageTables::new(&mut mem).map_err(|_| "no page for a directory")?;
        // The guard owns the directory from here on, so an early return frees it.
        let mut mm = TestMm { pgd: Some(pgd), mem };
        // SAFETY: swapper_pg_dir is the kernel's directory; only read here.
        let reference = unsafe { PageTables::from_phys(swapper_pg_dir_phys() as u32) };
        let pgd = mm.pgd.as_ref().expect("test directory");
        pgd.clone_kernel_pdes(&mut mm.mem, &reference);
        let flags = PteFlags::PRESENT | PteFlags::RW | PteFlags::USER;
        pgd.map(&mut mm.mem, VirtAddr::new(USER_VA), page.pfn(), flags).map_err(|_| "cannot map the user page")?;
        Ok(mm)
    }
}

impl TestMm {
    fn pgd_phys(&self) -> usize {
        self.pgd.as_ref().expect("test directory").pgd_phys() as usize
    }

    /// Point `USER_VA` at `page` instead, with no TLB flush: the caller
    /// flushes (that is what the TLB tests check).
    fn remap(&mut self, page: &KPage) -> Result<(), &'static str> {
        let pgd = self.pgd.as_ref().expect("test directory");
        let va = VirtAddr::new(USER_VA);
        let flags = PteFlags::PRESENT | PteFlags::RW | PteFlags::USER;
        pgd.unmap(&mut self.mem, va)
            .and_then(|_| pgd.map(&mut self.mem, va, page.pfn(), flags))
            .map_err(|_| "cannot remap")
    }
}

impl Drop for TestMm {
    fn drop(&mut self) {
        if let Some(pgd) = self.pgd.take() {
            let _ = pgd.unmap(&mut self.mem, VirtAddr::new(USER_VA));
            pgd.free_page_tables(&mut self.mem, 0..KERNEL_PGD_FIRST);
            pgd.free_directory(&mut self.mem);
        }
    }
}

/// CR3 switched to the test's directory with preemption off (the scheduler
/// would switch away with this CR3) and so page faults disabled too (user
/// accesses must not sleep); the kernel's directory back on drop.
struct OnMm {
    _faults_off: PagefaultDisabled,
}

impl OnMm {
    fn enter(mm: &TestMm) -> OnMm {
        preempt_disable();
        let faults_off = PagefaultDisabled::new();
        let pgd = mm.pgd.as_ref().expect("test directory");
        // SAFETY: the directory carries every kernel PDE (cloned from the
        // reference one), so the running code, stacks and data stay mapped.
        unsafe { load_cr3(pgd.pgd_phys() as usize) };
        OnMm { _faults_off: faults_off }
    }
}

impl Drop for OnMm {
    fn drop(&mut self) {
        // SAFETY: back to the kernel's own directory.
        unsafe { load_cr3(swapper_pg_dir_phys()) };
        preempt_enable();
    }
}

/// Addresses in the kernel, and ranges that reach it, are refused before
/// any access (`access_ok`): nothing faults, nothing is read or written,
/// and `copy_from_user` zeroes the buffer it could not fill.
pub fn uaccess_refuses_kernel_addresses() -> TestResult {
    let mut victim: u32 = 0x1234_5678;
    let victim_addr = core::ptr::addr_of_mut!(victim) as usize;
    let mut buf = [0xaau8; 16];
    let mut results = [Ok(()); 6];
    let fixups = delta(&FIXUPS, || {
        results[0] = get_user::<u32>(victim_addr).map(|_| ());
        results[1] = put_user(0u32, victim_addr);
        results[2] = copy_to_user(victim_addr, &[0; 4]);
        // Starts in user space, ends in the kernel.
        results[3] = copy_from_user(&mut buf, PAGE_OFFSET - 8);
        results[4] = strncpy_from_user(&mut buf, PAGE_OFFSET).map(|_| ());
        results[5] = get_user::<u32>(PAGE_OFFSET - 2).map(|_| ());
    });
    // SAFETY: a local the test owns, read after the calls that must not
    // have written it.
    let now = unsafe { core::ptr::read_volatile(core::ptr::addr_of!(victim)) };
    if results.iter().any(|r| *r != Err(Efault)) {
        pr_info!("ktest: results {:?}", results);
        return Err("a kernel address was not refused with -EFAULT");
    }
    if now != 0x1234_5678 {
        return Err("a refused put_user/copy_to_user wrote kernel memory");
    }
    if buf != [0; 16] {
        return Err("a refused copy_from_user did not zero the buffer");
    }
    if fixups != 0 {
        return Err("a kernel address was accessed (it faulted) instead of refused up front");
    }
    if access_ok(usize::MAX - 1, 4) || access_ok(0, PAGE_OFFSET + 1) || !access_ok(PAGE_OFFSET - 4, 4) {
        return Err("access_ok is wrong at the edges");
    }
    Ok(())
}

/// Every kind of access to an unmapped user page faults and is turned into
/// `-EFAULT` by the exception table (one fixup each); the machine goes on.
pub fn uaccess_to_unmapped_user_memory_gives_efault() -> TestResult {
    let mut buf = [0xaau8; 64];
    let mut results = [Ok(()); 5];
    let fixups = delta(&FIXUPS, || {
        results[0] = get_user::<u8>(USER_VA + 3).map(|_| ());
        results[1] = put_user(7u16, USER_VA + 1);
        results[2] = copy_to_user(USER_VA, &[1; 64]);
        results[3] = copy_from_user(&mut buf, USER_VA + 5);
        results[4] = strncpy_from_user(&mut buf, USER_VA).map(|_| ());
    });
    pr_info!("ktest: 5 accesses to unmapped user memory: {:?}, {} fixups", results, fixups);
    if results.iter().any(|r| *r != Err(Efault)) {
        return Err("an access to unmapped user memory did not give -EFAULT");
    }
    if fixups != 5 {
        return Err("not exactly one exception-table fixup per faulting access");
    }
    if buf != [0; 64] {
        return Err("copy_from_user left stale bytes after a fault");
    }
    Ok(())
}

/// The page-fault handler turns interrupts on once CR2 is saved, when the
/// faulting code had them on, and leaves them off when it had them off
/// (the `iret` then restores the caller's flags either way).
pub fn page_fault_enables_interrupts_like_the_faulting_code() -> TestResult {
    if !cpu::irqs_enabled() {
        return Err("interrupts are off in the test thread");
    }
    let mut r = (Ok(0), Ok(0));
    let with_on = delta(&FAULTS_WITH_IRQS_ON, || r.0 = get_user::<u32>(USER_VA));
    let flags = local_irq_save();
    // Faults disabled: a user access with interrupts off may not sleep.
    let faults_off = PagefaultDisabled::new();
    let with_off = delta(&FAULTS_WITH_IRQS_ON, || r.1 = get_user::<u32>(USER_VA));
    drop(faults_off);
    let still_off = !cpu::irqs_enabled();
    local_irq_restore(flags);
    if r != (Err(Efault), Err(Efault)) {
        return Err("get_user on an unmapped page did not give -EFAULT");
    }
    if with_on != 1 {
        return Err("the fault handler did not enable interrupts for a caller that had them on");
    }
    if with_off != 0 || !still_off {
        return Err("the fault handler enabled interrupts for a caller that had them off");
    }
    Ok(())
}

/// Under `kmap_atomic` page faults are disabled: a user fault is not
/// handled (counted as atomic) but goes straight to the fixup; after the
/// guard drops they are enabled again.
pub fn kmap_atomic_disables_page_faults() -> TestResult {
    if crate::kernel::preempt::in_atomic() {
        return Err("the test thread runs in atomic context");
    }
    counts_come_back(|| {
        let page = KPage::new()?;
        let outside = delta(&FAULTS_IN_ATOMIC, || {
            let _ = get_user::<u32>(USER_VA);
        });
        let mut r = Ok(0);
        let mut disabled_inside = false;
        let inside = delta(&FAULTS_IN_ATOMIC, || {
            let _m = kmap_atomic(page.pfn().0, KmType::User0);
            disabled_inside = pagefault_disabled();
            r = get_user::<u32>(USER_VA);
        });
        pr_info!("ktest: user faults sent to the fixup as atomic: {} outside kmap_atomic, {} inside", outside, inside);
        if !disabled_inside || pagefault_disabled() {
            return Err("kmap_atomic did not disable page faults for its lifetime");
        }
        if r != Err(Efault) {
            return Err("a user fault under kmap_atomic did not give -EFAULT");
        }
        if outside != 0 || inside != 1 {
            return Err("the fault handler did not see pagefault_disable");
        }
        Ok(())
    })
}

/// A user page mapped for the test in a directory of its own: every
/// access moves the right bytes; copies that run off its end into the
/// unmapped next page move exactly the bytes before it and say -EFAULT.
pub fn uaccess_moves_the_right_bytes_through_a_user_mapping() -> TestResult {
    counts_come_back(|| {
        let page = KPage::new()?;
        let mm = TestMm::new(&page)?;
        let on = OnMm::enter(&mm);
        let r = user_mapping_checks(&page);
        drop(on);
        drop(mm);
        r
    })
}

fn user_mapping_checks(page: &KPage) -> TestResult {
    // Kernel to user and back.
    copy_to_user(USER_VA + 10, b"hello, user").map_err(|_| "copy_to_user to a mapped page failed")?;
    if page.read(10, 11) != b"hello, user" {
        return Err("copy_to_user wrote the wrong bytes");
    }
    let pattern: [u8; 61] = core::array::from_fn(|i| (i * 7 + 3) as u8);
    page.write(100, &pattern);
    let mut buf = [0u8; 61];
    copy_from_user(&mut buf, USER_VA + 100).map_err(|_| "copy_from_user from a mapped page failed")?;
    if buf != pattern {
        return Err("copy_from_user read the wrong bytes");
    }
    // get_user/put_user of each size.
    page.write(200, &0xdead_beefu32.to_le_bytes());
    if get_user::<u32>(USER_VA + 200) != Ok(0xdead_beef) || get_user::<u16>(USER_VA + 201) != Ok(0xadbe) {
        return Err("get_user read the wrong value");
    }
    if get_user::<u8>(USER_VA + 203) != Ok(0xde) || get_user::<i8>(USER_VA + 203) != Ok(-34) {
        return Err("get_user of a byte read the wrong value");
    }
    put_user(0x55u8, USER_VA + 300).map_err(|_| "put_user u8 failed")?;
    put_user(0x6677u16, USER_VA + 301).map_err(|_| "put_user u16 failed")?;
    put_user(0x8899_aabbu32, USER_VA + 303).map_err(|_| "put_user u32 failed")?;
    if page.read(300, 7) != [0x55, 0x77, 0x66, 0xbb, 0xaa, 0x99, 0x88] {
        return Err("put_user wrote the wrong bytes");
    }
    // Off the end of the page: 0xffa..0x1005, 11 bytes = 2 words + 3 bytes;
    // the second word crosses into the unmapped page, so 4 bytes arrive.
    page.write(0xffa, &[1, 2, 3, 4, 5, 6]);
    let mut tail = [0xaau8; 11];
    if copy_from_user(&mut tail, USER_VA + 0xffa) != Err(Efault) {
        return Err("copy_from_user across the end of the mapping did not give -EFAULT");
    }
    if tail != [1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0] {
        pr_info!("ktest: partial copy read {:?}", tail);
        return Err("copy_from_user across the end copied the wrong bytes or left stale ones");
    }
    // The byte loop: 0xffa..0x1001 is one word (mapped), then 3 bytes of
    // which the last is unmapped: 6 bytes arrive.
    let mut tail = [0xaau8; 7];
    if copy_from_user(&mut tail, USER_VA + 0xffa) != Err(Efault) || tail != [1, 2, 3, 4, 5, 6, 0] {
        return Err("the byte loop of copy_from_user is wrong across the end");
    }
    if copy_to_user(USER_VA + 0xffc, &[9; 8]) != Err(Efault) || page.read(0xffc, 4) != [9; 4] {
        return Err("copy_to_user across the end of the mapping is wrong");
    }
    // Strings.
    page.write(0x400, b"abc\0xyz");
    let mut s = [0xaau8; 8];
    if strncpy_from_user(&mut s, USER_VA + 0x400) != Ok(3) || &s[..4] != b"abc\0" {
        return Err("strncpy_from_user of a short string is wrong");
    }
    let mut s = [0xaau8; 2];
    if strncpy_from_user(&mut s, USER_VA + 0x400) != Ok(2) || s != *b"ab" {
        return Err("strncpy_from_user did not stop at the buffer's end");
    }
    page.write(0xffc, b"wxyz");
    let mut s = [0u8; 16];
    if strncpy_from_user(&mut s, USER_VA + 0xffc) != Err(Efault) {
        return Err("strncpy_from_user of a string running into an unmapped page did not give -EFAULT");
    }
    Ok(())
}

/// A user access where sleeping is not allowed is reported (it may fault,
/// and a handled fault will sleep), unless page faults are disabled.
pub fn user_access_in_atomic_context_is_reported() -> TestResult {
    use crate::kernel::preempt::MIGHT_SLEEP_BUGS;
    if crate::kernel::preempt::in_atomic() {
        return Err("the test thread runs in atomic context");
    }
    let mut r = [Ok(0); 3];
    let normal = delta(&MIGHT_SLEEP_BUGS, || r[0] = get_user::<u32>(USER_VA));
    preempt_disable();
    let atomic = delta(&MIGHT_SLEEP_BUGS, || r[1] = get_user::<u32>(USER_VA));
    let faults_off = PagefaultDisabled::new();
    let disabled = delta(&MIGHT_SLEEP_BUGS, || r[2] = get_user::<u32>(USER_VA));
    drop(faults_off);
    preempt_enable();
    if r.iter().any(|r| *r != Err(Efault)) {
        return Err("get_user on an unmapped page did not give -EFAULT");
    }
    if (normal, atomic, disabled) != (0, 1, 0) {
        pr_info!("ktest: might_fault reports: {} normal, {} atomic, {} faults disabled", normal, atomic, disabled);
        return Err("might_fault did not report exactly the access in atomic context");
    }
    Ok(())
}

/// Counters of a TLB operation, with interrupts off so that nothing else
/// flushes meanwhile: (pages flushed one by one, whole flushes, skipped as
/// not loaded) by the tlb.rs calls; (invlpg, full) at the CPU.
fn tlb_counts(f: impl FnOnce()) -> [usize; 5] {
    use crate::arch::x86::cpu::{TLB_FULL_FLUSHES, TLB_SINGLE_FLUSHES};
    use crate::arch::x86::mm::tlb::{NR_TLB_FLUSH_NOT_LOADED, NR_TLB_LOCAL_FLUSH_ALL, NR_TLB_LOCAL_FLUSH_ONE};
    let read = || {
        [
            NR_TLB_LOCAL_FLUSH_ONE.load(Ordering::Relaxed),
            NR_TLB_LOCAL_FLUSH_ALL.load(Ordering::Relaxed),
            NR_TLB_FLUSH_NOT_LOADED.load(Ordering::Relaxed),
            TLB_SINGLE_FLUSHES.load(Ordering::Relaxed) as usize,
            TLB_FULL_FLUSHES.load(Ordering::Relaxed) as usize,
        ]
    };
    let flags = local_irq_save();
    let before = read();
    f();
    let after = read();
    local_irq_restore(flags);
    core::array::from_fn(|i| after[i] - before[i])
}

/// Linux's rule for ranges: one `invlpg` per page up to
/// `tlb_single_page_flush_ceiling` (33) pages, one full flush beyond; an
/// address space that is not loaded costs nothing; a range that is not
/// user space is reported and flushed whole.
pub fn flush_tlb_range_follows_the_ceiling() -> TestResult {
    use crate::arch::x86::mm::tlb::{
        flush_tlb_kernel_range, flush_tlb_mm, flush_tlb_page, flush_tlb_range, NR_TLB_BAD_RANGES,
        TLB_SINGLE_PAGE_FLUSH_CEILING,
    };
    let ceiling = TLB_SINGLE_PAGE_FLUSH_CEILING.load(Ordering::Relaxed);
    if ceiling != 33 {
        return Err("tlb_single_page_flush_ceiling is not Linux's 33");
    }
    let cr3 = cpu::read_cr3() as usize & !(PAGE_SIZE - 1);
    // Any other page-aligned value names an address space not loaded.
    let other = cr3 ^ PAGE_SIZE;
    let checks: [(&str, [usize; 5], [usize; 5]); 9] = [
        ("33 pages", tlb_counts(|| flush_tlb_range(cr3, USER_VA, USER_VA + 33 * PAGE_SIZE)), [33, 0, 0, 33, 0]),
        ("34 pages", tlb_counts(|| flush_tlb_range(cr3, USER_VA, USER_VA + 34 * PAGE_SIZE)), [0, 1, 0, 0, 1]),
        (
            "unaligned 2 pages",
            tlb_counts(|| flush_tlb_range(cr3, USER_VA + 8, USER_VA + PAGE_SIZE + 1)),
            [2, 0, 0, 2, 0],
        ),
        ("empty range", tlb_counts(|| flush_tlb_range(cr3, USER_VA, USER_VA)), [0, 0, 0, 0, 0]),
        ("one page", tlb_counts(|| flush_tlb_page(cr3, USER_VA)), [1, 0, 0, 1, 0]),
        ("the mm", tlb_counts(|| flush_tlb_mm(cr3)), [0, 1, 0, 0, 1]),
        ("other mm's range", tlb_counts(|| flush_tlb_range(other, USER_VA, USER_VA + PAGE_SIZE)), [0, 0, 1, 0, 0]),
        (
            "other mm's page and mm",
            tlb_counts(|| (flush_tlb_page(other, USER_VA), flush_tlb_mm(other)).1),
            [0, 0, 2, 0, 0],
        ),
        (
            "kernel range of 34 pages",
            tlb_counts(|| flush_tlb_kernel_range(PAGE_OFFSET, PAGE_OFFSET + 34 * PAGE_SIZE)),
            [0, 1, 0, 0, 1],
        ),
    ];
    for (what, got, want) in checks {
        if got != want {
            pr_info!("ktest: {}: counts {:?}, expected {:?}", what, got, want);
            return Err("a TLB flush did not cost what Linux's rule says");
        }
    }
    let bugs0 = NR_TLB_BAD_RANGES.load(Ordering::Relaxed);
    let crossing = tlb_counts(|| flush_tlb_range(cr3, PAGE_OFFSET - PAGE_SIZE, PAGE_OFFSET + PAGE_SIZE));
    if NR_TLB_BAD_RANGES.load(Ordering::Relaxed) - bugs0 != 1 || crossing[4] != 1 {
        return Err("a user range reaching into the kernel was not reported and flushed whole");
    }
    Ok(())
}

/// The flushes make a changed user mapping visible: `USER_VA` is read
/// (so the TLB holds it), pointed at another page with no flush, then
/// flushed with each call in turn; every read after a flush must see the
/// new page.
pub fn tlb_flushes_make_a_remap_visible() -> TestResult {
    use crate::arch::x86::mm::tlb::{flush_tlb_mm, flush_tlb_page, flush_tlb_range};
    counts_come_back(|| {
        let (a, b) = (KPage::new()?, KPage::new()?);
        a.write(0, &0xaaaa_aaaau32.to_le_bytes());
        b.write(0, &0xbbbb_bbbbu32.to_le_bytes());
        let mut mm = TestMm::new(&a)?;
        let pgd = mm.pgd_phys();
        let on = OnMm::enter(&mm);
        let step = |mm: &mut TestMm, next: &KPage, flush: &dyn Fn()| -> Result<u32, &'static str> {
            mm.remap(next)?;
            flush();
            get_user::<u32>(USER_VA).map_err(|_| "the remapped page faulted")
        };
        let r = (|| -> Result<[u32; 4], &'static str> {
            Ok([
                get_user::<u32>(USER_VA).map_err(|_| "the user page faulted")?,
                step(&mut mm, &b, &|| flush_tlb_page(pgd, USER_VA))?,
                step(&mut mm, &a, &|| flush_tlb_range(pgd, USER_VA, USER_VA + PAGE_SIZE))?,
                step(&mut mm, &b, &|| flush_tlb_mm(pgd))?,
            ])
        })();
        drop(on);
        drop(mm);
        let seen = r?;
        pr_info!("ktest: reads through remaps: {:x?}", seen);
        if seen != [0xaaaa_aaaa, 0xbbbb_bbbb, 0xaaaa_aaaa, 0xbbbb_bbbb] {
            return Err("a flush left a stale translation");
        }
        Ok(())
    })
}

/// The table holds the user-access instructions, and a fault anywhere else
/// has no fixup (it stays an oops).
pub fn exception_table_lists_only_user_accesses() -> TestResult {
    use crate::arch::x86::lib::extable::{exception_table, search_exception_tables};
    let table = exception_table();
    pr_info!("ktest: {} exception-table entries", table.len());
    if table.len() < 3 {
        return Err("the exception table lacks the copy loops' entries");
    }
    if search_exception_tables(exception_table_lists_only_user_accesses as *const () as usize).is_some() {
        return Err("an ordinary function has a fixup");
    }
    if table.iter().any(|e| search_exception_tables(e.insn) != Some(e.fixup)) {
        return Err("an entry is not found by its own instruction");
    }
    Ok(())
}
