//! benchplot: the SVG charts of `make bench`, drawn on the host from the
//! `@plot` lines of the benchmark boot's console log.
//!
//! ```text
//! cargo run --release --manifest-path tools/benchplot/Cargo.toml -- build/bench.log bench/
//! ```
//!
//! A chart whose data is not in the log is skipped with a note; a malformed
//! `@plot` line is reported with its line number and skipped. The exit
//! status is non-zero only when the log cannot be read or a file cannot be
//! written.

mod charts;
mod log;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [log_path, out_dir] = args.as_slice() else {
        eprintln!("usage: benchplot LOG OUTDIR   (LOG: the console of `make bench`, build/bench.log)");
        return ExitCode::from(2);
    };
    match run(Path::new(log_path), Path::new(out_dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchplot: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(log_path: &Path, out_dir: &Path) -> Result<(), String> {
    let bytes = std::fs::read(log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    // A serial console may carry bytes that are not UTF-8 (GRUB's screen):
    // they are never in a chart line, so replacing them loses nothing.
    let log = log::parse(&String::from_utf8_lossy(&bytes));
    for m in &log.malformed {
        eprintln!("benchplot: {}:{}: {}; line skipped", log_path.display(), m.line, m.why);
    }
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let charts: [(&str, Result<Vec<charts::Svg>, charts::Skip>); 4] = [
        ("hotpaths", charts::hotpaths::draw(&log.rows)),
        ("peers", charts::peers::draw(&log.peers)),
        ("frag", charts::frag::draw(&log.frag)),
        ("memmap", charts::memmap::draw(&log.memmap)),
    ];
    for (name, chart) in charts {
        match chart {
            Ok(files) => {
                for svg in files {
                    let path: PathBuf = out_dir.join(&svg.file);
                    std::fs::write(&path, svg.body).map_err(|e| format!("{}: {e}", path.display()))?;
                    println!("benchplot: wrote {}", path.display());
                }
            }
            Err(charts::Skip::NoData(why)) => eprintln!("benchplot: {name} chart skipped: {why}"),
            Err(charts::Skip::Draw(why)) => eprintln!("benchplot: {name} chart skipped: drawing failed: {why}"),
        }
    }
    Ok(())
}
