//! Tasks that own memory (layer 6): kernel threads with their stacks today;
//! programs, fork and exec to come. The scheduler core below
//! (`kernel::sched`) switches between tasks; this layer makes and frees what
//! a task holds, with memory management's help.

pub mod kthread;
