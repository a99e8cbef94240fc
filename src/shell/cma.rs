//! `cma`: the Contiguous Memory Allocator's region, and a way to watch it
//! work: `cma alloc SIZE` takes a contiguous block (migrating what movable
//! users hold there), `cma free ADDR` gives it back, `cma dma SIZE` runs a
//! `dma_alloc_coherent` and frees it again. Errors print as `cma: MESSAGE`.

// A command's error is a fixed line buffer (see `commands`).
#![allow(clippy::result_large_err)]

use super::commands::CmdResult;
use crate::bail;
use crate::kernel::cmdline::{memparse, parse_u64};
use crate::kernel::mutex::Mutex;
use crate::kernel::printk::console_write;
use crate::layout::PAGE_SIZE;
use crate::mm::cma::{cma_alloc, cma_release, cma_usage, dma_align_order, CmaPages};
use crate::println;
use alloc::vec::Vec;

/// The blocks `cma alloc` took, until `cma free` gives them back.
static BLOCKS: Mutex<Vec<CmaPages>> = Mutex::new(Vec::new());

const USAGE: &str = "usage: cma [alloc SIZE | free ADDR | dma SIZE]";

pub fn cmd_cma(args: &[&str]) -> CmdResult {
    match args {
        [] => show(),
        ["alloc", size] => alloc(size),
        ["free", addr] => free(addr),
        ["dma", size] => dma(size),
        _ => bail!("{}", USAGE),
    }
}

fn show() -> CmdResult {
    let Some(usage) = cma_usage() else { bail!("no CMA area (boot with cma=SIZE[@START])") };
    let mut out = alloc::string::String::new();
    let _ = usage.write(&mut out);
    console_write(out.as_bytes());
    Ok(())
}

/// SIZE in bytes (K/M/G suffixes), as whole pages; 0 and garbage refused.
fn pages_of(size: &str) -> Result<usize, &'static str> {
    match memparse(size) {
        Ok(0) => Err("size 0"),
        Ok(b) if b > u32::MAX as u64 => Err("larger than 4 GB"),
        Ok(b) => Ok((b as usize).div_ceil(PAGE_SIZE)),
        Err(_) => Err("not a size (e.g. 32M)"),
    }
}

fn alloc(size: &str) -> CmdResult {
    let pages = match pages_of(size) {
        Ok(p) => p,
        Err(why) => bail!("alloc: bad SIZE '{}': {}; nothing allocated", size, why),
    };
    match cma_alloc(pages, dma_align_order(pages)) {
        Ok(block) => {
            let (phys, end) = (block.phys(), block.phys() + ((block.count() as u64) << 12) - 1);
            println!("cma: {} pages ({} kB) at [mem {:#010x}-{:#010x}]", block.count(), block.count() * 4, phys, end);
            BLOCKS.lock().push(block);
            Ok(())
        }
        Err(e) => bail!("alloc {}: {}", size, e),
    }
}

fn free(addr: &str) -> CmdResult {
    let Ok(phys) = parse_u64(addr) else { bail!("free: bad ADDR '{}': not a number (e.g. 0x33800000)", addr) };
    let mut blocks = BLOCKS.lock();
    let Some(i) = blocks.iter().position(|b| b.phys() == phys) else {
        bail!("free: no block of 'cma alloc' starts at {:#x}; nothing freed (see 'cma')", phys)
    };
    let block = blocks.swap_remove(i);
    let count = block.count();
    if !cma_release(block) {
        bail!("free: {:#x}: the CMA area does not know this block; nothing freed", phys);
    }
    println!("cma: freed {} pages at {:#010x}", count, phys);
    Ok(())
}

/// One `dma_alloc_coherent`: the bus address, the memory checked zeroed and
/// writable, and freed again at once.
fn dma(size: &str) -> CmdResult {
    let bytes = match pages_of(size) {
        Ok(p) => p * PAGE_SIZE,
        Err(why) => bail!("dma: bad SIZE '{}': {}; nothing allocated", size, why),
    };
    let Some((ptr, bus)) = crate::mm::dma::dma_alloc_coherent(bytes) else {
        bail!("dma: dma_alloc_coherent({}) failed", bytes)
    };
    // SAFETY: dma_alloc_coherent returned `bytes` bytes at `ptr`, ours
    // until freed below; no device uses them.
    let mem = unsafe { core::slice::from_raw_parts_mut(ptr.as_ptr(), bytes) };
    let zeroed = mem.iter().all(|&b| b == 0);
    mem.fill(0xa5);
    let from = if crate::mm::cma::cma_contains(bus >> 12) { "the CMA area" } else { "the page allocator" };
    // SAFETY: what dma_alloc_coherent returned above; `mem` is not used after.
    unsafe { crate::mm::dma::dma_free_coherent(ptr, bytes, bus) };
    if !zeroed {
        bail!("dma: the block at bus {:#010x} was not zeroed", bus);
    }
    println!("cma: dma_alloc_coherent({}) = bus {:#010x} from {}; zeroed; freed", bytes, bus, from);
    Ok(())
}
