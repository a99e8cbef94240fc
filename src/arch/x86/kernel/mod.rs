//! The x86 code that belongs to the core kernel (layer 2, Linux's
//! arch/x86/kernel/): the trap entry stubs and the context switch
//! (`entry.S`), the IDT, the trap dispatcher and the oops report
//! (`traps`). It prints and asks the scheduler who runs, so it sits above
//! the machine layer (`arch::x86`), which imports only `layout`.

pub mod traps;

core::arch::global_asm!(include_str!("entry.S"), options(att_syntax));

extern "C" {
    /// Switch kernel stacks (entry.S). See `kernel::sched`.
    pub fn switch_to(prev_esp: *mut usize, next_esp: usize);
    pub fn kthread_trampoline();
    /// Where the double-fault task starts (entry.S): calls the #DF report.
    fn double_fault_task() -> !;
    /// Load `frame` and `iret` (entry.S).
    fn enter_user_mode(frame: *const traps::TrapFrame) -> !;
}

/// EFLAGS of a new user thread: IF set (interrupts on), and bit 1, which
/// is always 1.
const USER_EFLAGS: u32 = 0x202;

/// Start ring-3 code at `eip` with stack pointer `esp` on the current
/// address space (Linux's `start_thread`, and the return to user space that
/// follows `execve`): user code and data selectors with RPL 3, interrupts
/// on, every general register zero. Traps from there come back on this
/// thread's kernel stack from its top (`TSS.esp0`), so the caller's frames
/// are abandoned and their memory reused. Never returns: the thread leaves
/// through a system call (`exit`).
///
/// # Safety
/// No frame of the calling thread may hold a value that something else
/// can still reach (a pinned wait-queue entry, a borrow lent to another
/// thread): the memory is overwritten without its destructor running.
/// Owned values are merely leaked, so the caller hands on (to the
/// process's own state) whatever must be freed.
pub unsafe fn start_thread(eip: u32, esp: u32) -> ! {
    let frame = user_frame(eip, esp);
    // SAFETY: the frame is complete and lies on this thread's own stack,
    // which stays allocated while the thread lives (the frames below it
    // may be abandoned: the caller's contract); it returns only to
    // ring 3 (CS and SS with RPL 3, flat user segments), where paging alone
    // decides what the code can reach: user pages, never the kernel's.
    unsafe { enter_user_mode(&frame) }
}

/// The registers a program starts with (Linux's `start_thread`): `eip`
/// and `esp`, the user code and data selectors with RPL 3, interrupts on,
/// every general register zero.
pub fn user_frame(eip: u32, esp: u32) -> traps::TrapFrame {
    use crate::arch::x86::gdt::{USER_CS, USER_DS};
    let ds = u32::from(USER_DS);
    traps::TrapFrame {
        gs: ds,
        fs: ds,
        es: ds,
        ds,
        edi: 0,
        esi: 0,
        ebp: 0,
        esp_at_pusha: 0,
        ebx: 0,
        edx: 0,
        ecx: 0,
        eax: 0,
        vector: 0,
        error_code: 0,
        eip,
        cs: u32::from(USER_CS),
        eflags: USER_EFLAGS,
        user_esp: esp,
        user_ss: ds,
    }
}

/// Return to ring 3 with the registers of `frame` (a forked child starts
/// so, with its parent's registers and EAX 0: Linux's `ret_from_fork`).
/// The privileged parts are forced to what ring 3 may have: CS and SS the
/// user selectors, EFLAGS with interrupts on and IOPL 0 (so a frame that
/// was built wrong cannot enter ring 0 or keep interrupts off); segment
/// registers are loaded as they are, and the CPU refuses (#GP) one ring 3
/// may not use. Never returns.
///
/// # Safety
/// As for [`start_thread`]: nothing on the calling thread's stack may be
/// reachable from elsewhere.
pub unsafe fn resume_user(frame: &traps::TrapFrame) -> ! {
    use crate::arch::x86::gdt::{USER_CS, USER_DS};
    // CF PF AF ZF SF TF DF OF, and AC: what user code may set (Linux's
    // FLAG_MASK in ptrace); IF and bit 1 always on.
    const USER_FLAGS_MASK: u32 = 0x0004_0dd5;
    let mut f = *frame;
    f.cs = u32::from(USER_CS);
    f.user_ss = u32::from(USER_DS);
    f.eflags = (frame.eflags & USER_FLAGS_MASK) | USER_EFLAGS;
    // SAFETY: as start_thread's: a complete frame on this thread's stack
    // (`f`), returning only to ring 3.
    unsafe { enter_user_mode(&f) }
}

/// Bring up the CPU tables and devices, in dependency order (Linux's
/// `setup_arch` and `trap_init`); interrupts stay off. The boot identity
/// mapping is dropped by the caller next (`arch::x86::mm::init`, a layer
/// above this one).
pub fn setup_arch() {
    use crate::arch::x86::{gdt, pic, pit, serial};
    serial::init();
    gdt::init(double_fault_task);
    crate::arch::x86::cpu::fpu_init();
    traps::init();
    pic::init();
    pit::init();
}
