//! Segmentation, set up once and then left alone: flat 4 GB code and data
//! segments for ring 0 and ring 3 (Linux's `__KERNEL_CS` etc.), the TSS that
//! will hold the ring-0 stack for user processes, and a second TSS that the
//! double-fault task gate switches to, so a kernel stack overflow still gets
//! a report instead of a triple fault.
//!
//! The descriptors, the TSS layout and the `lgdt`/`ltr`/segment loads are the
//! `x86` crate's (its 32-bit builders and `bits32::task::TaskStateSegment`).

use core::mem::size_of;
use core::ptr::{addr_of, addr_of_mut};
use x86::bits32::segmentation::load_cs;
use x86::dtables::{lgdt, DescriptorTablePointer};
use x86::segmentation::{
    load_ds, load_es, load_fs, load_gs, load_ss, BuildDescriptor, CodeSegmentType, DataSegmentType, Descriptor,
    DescriptorBuilder, GateDescriptorBuilder, SegmentDescriptorBuilder, SegmentSelector,
};
use x86::Ring;

pub const KERNEL_CS: u16 = 0x08;
pub const KERNEL_DS: u16 = 0x10;
pub const USER_CS: u16 = 0x18 | 3;
pub const USER_DS: u16 = 0x20 | 3;
pub const TSS_SEL: u16 = 0x28;
pub const DF_TSS_SEL: u16 = 0x30;

/// The 32-bit task-state segment, as the CPU reads it.
pub type Tss = x86::bits32::task::TaskStateSegment;

const _: () = assert!(size_of::<Tss>() == 104);

/// Entries of the GDT: null, kernel code/data, user code/data, two TSSs,
/// and the running thread's TLS descriptors (`set_thread_area`).
pub const GDT_ENTRIES: usize = 7 + TLS_ENTRIES;

use super::tls::{GDT_ENTRY_TLS_ENTRIES as TLS_ENTRIES, GDT_ENTRY_TLS_MIN};
const _: () = assert!(GDT_ENTRY_TLS_MIN == 7, "the TLS entries follow the two TSSs");

static mut TSS: Tss = Tss::new();
static mut DF_TSS: Tss = Tss::new();
static mut GDT: [Descriptor; GDT_ENTRIES] = [Descriptor::NULL; GDT_ENTRIES];

extern "C" {
    static df_stack_top: u8;
}

/// A flat 4 GB segment (limit 0xfffff in 4 KB units, 32-bit).
fn flat(b: DescriptorBuilder, dpl: Ring) -> Descriptor {
    b.present().dpl(dpl).db().limit_granularity_4kb().finish()
}

/// Load the GDT and the TSS, and reload every segment register.
/// `double_fault_entry` is where the double-fault task starts (the #DF
/// handler, a layer above: arch/x86/kernel/entry.S).
pub fn init(double_fault_entry: unsafe extern "C" fn() -> !) {
    let sel = SegmentSelector::from_raw;
    // SAFETY: runs once, on the boot CPU, before interrupts are enabled; no
    // other reference to GDT/TSS exists yet.
    unsafe {
        let tss = &mut *addr_of_mut!(TSS);
        let df_tss = &mut *addr_of_mut!(DF_TSS);
        let tss_limit = size_of::<Tss>() as u64 - 1;

        tss.ss0 = KERNEL_DS;
        tss.esp0 = addr_of!(df_stack_top) as u32; // the scheduler sets the running thread's

        df_tss.cr3 = super::cpu::read_cr3();
        df_tss.eip = double_fault_entry as usize as u32;
        df_tss.eflags = 0x2; // interrupts off
        df_tss.esp = addr_of!(df_stack_top) as u32;
        df_tss.cs = KERNEL_CS;
        df_tss.ss = KERNEL_DS;
        df_tss.ds = KERNEL_DS;
        df_tss.es = KERNEL_DS;
        df_tss.fs = KERNEL_DS;
        df_tss.gs = KERNEL_DS;

        let tss_desc = |base: *const Tss| {
            <DescriptorBuilder as GateDescriptorBuilder<u32>>::tss_descriptor(base as u64, tss_limit, true)
                .present()
                .finish()
        };
        let seg = |code: bool| {
            if code {
                DescriptorBuilder::code_descriptor(0, 0xfffff, CodeSegmentType::ExecuteRead)
            } else {
                DescriptorBuilder::data_descriptor(0, 0xfffff, DataSegmentType::ReadWrite)
            }
        };
        GDT = [
            Descriptor::NULL,
            flat(seg(true), Ring::Ring0),
            flat(seg(false), Ring::Ring0),
            flat(seg(true), Ring::Ring3),
            flat(seg(false), Ring::Ring3),
            tss_desc(addr_of!(TSS)), // available 32-bit TSS
            tss_desc(addr_of!(DF_TSS)),
            Descriptor::NULL,
            Descriptor::NULL,
            Descriptor::NULL,
        ];

        lgdt(&DescriptorTablePointer::new(&*addr_of!(GDT)));
        load_ds(sel(KERNEL_DS));
        load_es(sel(KERNEL_DS));
        load_fs(sel(KERNEL_DS));
        load_gs(sel(KERNEL_DS));
        load_ss(sel(KERNEL_DS));
        load_cs(sel(KERNEL_CS));
        x86::task::load_tr(sel(TSS_SEL));
    }
}

/// The GDT as loaded, one raw `u64` per descriptor (for the test that holds
/// it to the values Linux's i386 GDT has).
pub fn gdt_raw() -> [u64; GDT_ENTRIES] {
    // SAFETY: written once by `init`, before anyone can call this.
    let gdt = unsafe { &*addr_of!(GDT) };
    core::array::from_fn(|i| gdt[i].as_u64())
}

/// Load a thread's TLS descriptors into the GDT (Linux's `load_TLS`). A
/// segment register is read from the GDT when it is loaded, so a thread's
/// `%gs` picks its own up on its way back to ring 3 (`trap_common` pops
/// it). Call with interrupts off: the scheduler does, at every switch.
pub fn load_tls(tls: &[u64; TLS_ENTRIES]) {
    for (i, &d) in tls.iter().enumerate() {
        // SAFETY: one aligned 8-byte store per entry, of an entry no segment
        // register in ring 0 uses (the kernel loads only its own
        // selectors); the CPU reads it only when user code loads it.
        unsafe { addr_of_mut!(GDT[GDT_ENTRY_TLS_MIN as usize + i]).cast::<u64>().write(d) };
    }
}

/// Set the stack the CPU switches to on a trap from ring 3.
pub fn set_kernel_stack(esp0: u32) {
    // SAFETY: a single aligned word store; the CPU reads it only on a ring change.
    unsafe { addr_of_mut!(TSS.esp0).write_unaligned(esp0) }
}

/// The stack the CPU switches to on a trap from ring 3 (the running
/// thread's stack top; for tests).
#[cfg(feature = "ktest")]
pub fn kernel_stack() -> u32 {
    // SAFETY: a single aligned word load; only the scheduler writes it, on
    // this CPU.
    unsafe { addr_of!(TSS.esp0).read_unaligned() }
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
