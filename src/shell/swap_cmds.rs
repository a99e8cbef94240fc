//! Swap commands: `swapon`, `swapoff` and `swaps` (`/proc/swaps`), after
//! util-linux's `swapon`/`swapoff` and the proc file. Errors print as
//! `swapon: MESSAGE`.

// A command's error is a fixed line buffer (see `commands`).
#![allow(clippy::result_large_err)]

use super::commands::CmdResult;
use crate::bail;
use crate::kernel::printk::console_write;
use crate::mm::swapfile;

/// `swapon [-p PRIO] DEVICE` activates the swap area on an ATA disk;
/// `swapon` alone (or `-s`) shows the areas, as `swapon --summary` does.
pub fn cmd_swapon(args: &[&str]) -> CmdResult {
    let mut prio = None;
    let mut dev = None;
    let mut it = args.iter();
    while let Some(&a) = it.next() {
        match a {
            "-s" | "--summary" => return cmd_swaps(&[]),
            "-p" | "--priority" => {
                let Some(v) = it.next() else { bail!("option requires an argument -- 'p'") };
                match v.parse::<i32>() {
                    Ok(p) if (-1..=32767).contains(&p) => prio = Some(p as i16),
                    _ => bail!("failed to parse priority: '{}'", v),
                }
            }
            _ if a.starts_with('-') => bail!("invalid option -- '{}'", a.trim_start_matches('-')),
            _ if dev.is_none() => dev = Some(a),
            _ => bail!("unexpected argument '{}'; usage: swapon [-p PRIORITY] DEVICE", a),
        }
    }
    let Some(dev) = dev else { return cmd_swaps(&[]) };
    if let Err(e) = crate::mm::page_io::swapon_device(dev, prio) {
        bail!("{}: {}", dev, e);
    }
    Ok(())
}

/// `swapoff DEVICE` (or `-a`: every area) brings every page back and
/// removes the area; when memory is short it fails and the area stays.
pub fn cmd_swapoff(args: &[&str]) -> CmdResult {
    let names: alloc::vec::Vec<alloc::string::String> = match args {
        ["-a"] => swapfile::swap_areas().into_iter().map(|a| a.name).collect(),
        [dev] if !dev.starts_with('-') => alloc::vec![(*dev).into()],
        _ => bail!("usage: swapoff DEVICE | -a"),
    };
    for name in names {
        if let Err(e) = swapfile::swapoff(&name) {
            bail!("{}: swapoff failed: {}", name, e);
        }
    }
    Ok(())
}

/// `swaps`: `/proc/swaps`.
pub fn cmd_swaps(args: &[&str]) -> CmdResult {
    if let Some(a) = args.first() {
        bail!("takes no arguments (got '{}'); nothing done", a);
    }
    let mut out = alloc::string::String::new();
    let _ = swapfile::proc_swaps(&mut out);
    console_write(out.as_bytes());
    Ok(())
}
