//! Segmentation, set up once and then left alone: flat 4 GB code and data
//! segments for ring 0 and ring 3 (Linux's `__KERNEL_CS` etc.), the TSS that
//! will hold the ring-0 stack for user processes, and a second TSS that the
//! double-fault task gate switches to, so a kernel stack overflow still gets
//! a report instead of a triple fault.

use core::arch::asm;
use core::mem::size_of;
use core::ptr::addr_of;

pub const KERNEL_CS: u16 = 0x08;
pub const KERNEL_DS: u16 = 0x10;
pub const USER_CS: u16 = 0x18 | 3;
pub const USER_DS: u16 = 0x20 | 3;
pub const TSS_SEL: u16 = 0x28;
pub const DF_TSS_SEL: u16 = 0x30;

/// The 32-bit task-state segment, as the CPU reads it.
#[repr(C, packed)]
pub struct Tss {
    pub link: u32,
    pub esp0: u32,
    pub ss0: u32,
    pub esp1: u32,
    pub ss1: u32,
    pub esp2: u32,
    pub ss2: u32,
    pub cr3: u32,
    pub eip: u32,
    pub eflags: u32,
    pub eax: u32,
    pub ecx: u32,
    pub edx: u32,
    pub ebx: u32,
    pub esp: u32,
    pub ebp: u32,
    pub esi: u32,
    pub edi: u32,
    pub es: u32,
    pub cs: u32,
    pub ss: u32,
    pub ds: u32,
    pub fs: u32,
    pub gs: u32,
    pub ldt: u32,
    pub trap: u16,
    pub iomap_base: u16,
}

const _: () = assert!(size_of::<Tss>() == 104);

impl Tss {
    const fn zeroed() -> Self {
        Tss {
            link: 0,
            esp0: 0,
            ss0: 0,
            esp1: 0,
            ss1: 0,
            esp2: 0,
            ss2: 0,
            cr3: 0,
            eip: 0,
            eflags: 0,
            eax: 0,
            ecx: 0,
            edx: 0,
            ebx: 0,
            esp: 0,
            ebp: 0,
            esi: 0,
            edi: 0,
            es: 0,
            cs: 0,
            ss: 0,
            ds: 0,
            fs: 0,
            gs: 0,
            ldt: 0,
            trap: 0,
            iomap_base: size_of::<Tss>() as u16,
        }
    }
}

static mut TSS: Tss = Tss::zeroed();
static mut DF_TSS: Tss = Tss::zeroed();
static mut GDT: [u64; 7] = [0; 7];

#[repr(C, packed)]
struct DescriptorPtr {
    limit: u16,
    base: u32,
}

/// A segment descriptor: base, limit (in 4 KB units when `gran`), access byte.
const fn descriptor(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
    (limit as u64 & 0xffff)
        | ((base as u64 & 0xff_ffff) << 16)
        | ((access as u64) << 40)
        | (((limit as u64 >> 16) & 0xf) << 48)
        | (((flags as u64) & 0xf) << 52)
        | (((base as u64 >> 24) & 0xff) << 56)
}

extern "C" {
    static df_stack_top: u8;
    fn double_fault_task();
}

/// Load the GDT and the TSS, and reload every segment register.
pub fn init() {
    // SAFETY: runs once, on the boot CPU, before interrupts are enabled; no
    // other reference to GDT/TSS exists yet.
    unsafe {
        let tss = addr_of!(TSS) as u32;
        let df_tss = addr_of!(DF_TSS) as u32;
        let tss_limit = size_of::<Tss>() as u32 - 1;

        TSS.ss0 = KERNEL_DS as u32;
        TSS.esp0 = addr_of!(df_stack_top) as u32; // the scheduler sets the running thread's

        DF_TSS.cr3 = super::cpu::read_cr3();
        DF_TSS.eip = double_fault_task as *const () as usize as u32;
        DF_TSS.eflags = 0x2; // interrupts off
        DF_TSS.esp = addr_of!(df_stack_top) as u32;
        DF_TSS.cs = KERNEL_CS as u32;
        DF_TSS.ss = KERNEL_DS as u32;
        DF_TSS.ds = KERNEL_DS as u32;
        DF_TSS.es = KERNEL_DS as u32;
        DF_TSS.fs = KERNEL_DS as u32;
        DF_TSS.gs = KERNEL_DS as u32;

        GDT = [
            0,
            descriptor(0, 0xfffff, 0x9a, 0xc), // kernel code: present, ring 0, exec/read
            descriptor(0, 0xfffff, 0x92, 0xc), // kernel data: present, ring 0, read/write
            descriptor(0, 0xfffff, 0xfa, 0xc), // user code: ring 3
            descriptor(0, 0xfffff, 0xf2, 0xc), // user data: ring 3
            descriptor(tss, tss_limit, 0x89, 0x0), // available 32-bit TSS
            descriptor(df_tss, tss_limit, 0x89, 0x0),
        ];

        let ptr = DescriptorPtr { limit: (size_of::<[u64; 7]>() - 1) as u16, base: addr_of!(GDT) as u32 };
        asm!(
            "lgdt [{ptr}]",
            "mov ds, {ds:x}",
            "mov es, {ds:x}",
            "mov fs, {ds:x}",
            "mov gs, {ds:x}",
            "mov ss, {ds:x}",
            "push {cs}",
            "lea {tmp}, [2f]",
            "push {tmp}",
            "retf",
            "2:",
            "ltr {tss:x}",
            ptr = in(reg) &ptr,
            ds = in(reg) KERNEL_DS as u32,
            cs = const KERNEL_CS as u32,
            tss = in(reg) TSS_SEL as u32,
            tmp = out(reg) _,
        );
    }
}

/// Set the stack the CPU switches to on a trap from ring 3.
pub fn set_kernel_stack(esp0: u32) {
    // SAFETY: a single aligned word store; the CPU reads it only on a ring change.
    unsafe { core::ptr::addr_of_mut!(TSS.esp0).write_unaligned(esp0) }
}

/// The stack the CPU switches to on a trap from ring 3 (the running
/// thread's stack top; for tests).
#[cfg(feature = "ktest")]
pub fn kernel_stack() -> u32 {
    // SAFETY: a single aligned word load; only the scheduler writes it, on
    // this CPU.
    unsafe { core::ptr::addr_of!(TSS.esp0).read_unaligned() }
}

/// The main TSS, where the CPU saved the state of the task that took a double
/// fault before switching to the double-fault task.
///
/// # Safety
/// Only for the double-fault handler: nothing may write the TSS meanwhile.
pub unsafe fn interrupted_task_state() -> &'static Tss {
    // SAFETY: the caller guarantees no concurrent writer; TSS is 'static.
    unsafe { &*addr_of!(TSS) }
}
