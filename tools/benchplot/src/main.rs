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
        ("frag", charts::frag::draw(&log.frag, &log.fragphase)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::tests::{has_text, well_formed};

    /// A fresh directory under the system's temporary one, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let d = std::env::temp_dir().join(format!("benchplot-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            TempDir(d)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn svgs(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        v.sort();
        v
    }

    /// tests/sample.log: a console log written by hand in the `@plot`
    /// formats (rows as the kernel prints them today, peers, frag for four
    /// configurations, the phases of one of them, memmap pictures with and
    /// without '_' for spaces, one malformed line of each of two kinds),
    /// with '\r\n' endings.
    #[test]
    fn the_sample_log_gives_every_chart() {
        let tmp = TempDir::new("sample");
        let out = tmp.0.join("bench");
        let sample = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sample.log"));
        let malformed: Vec<String> =
            log::parse(&std::fs::read_to_string(sample).unwrap()).malformed.into_iter().map(|m| m.why).collect();
        assert_eq!(malformed.len(), 2, "{malformed:?}");
        run(sample, &out).unwrap();
        let files = svgs(&out);
        assert_eq!(
            files,
            [
                "frag-grouping-off_compaction-off.svg",
                "frag-grouping-off_compaction-on.svg",
                "frag-grouping-on_compaction-off.svg",
                "frag-grouping-on_compaction-on.svg",
                "frag.svg",
                "hotpaths.svg",
                "memmap-grouping-off_compaction-off.svg",
                "memmap-grouping-on_compaction-on.svg",
                "peers.svg",
            ]
        );
        let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
        for f in &files {
            let body = read(f);
            assert!(body.starts_with("<svg"), "{f}");
            well_formed(&body).unwrap_or_else(|e| panic!("{f}: {e}"));
        }
        let expect = [
            ("hotpaths.svg", &["page_alloc: order-0 alloc+free pair (pcp)", "vmalloc(16K)+vfree pair"][..]),
            ("peers.svg", &["himem", "linked_list_allocator", "talc", "dlmalloc", "kmalloc churn", "pages order0"]),
            ("frag.svg", &["grouping on, compaction on", "grouping off, compaction off", "order 10 (4096 kB)"]),
            ("frag-grouping-on_compaction-on.svg", &["start", "fill", "half-freed", "load-attempts", "rest", "end"]),
            ("memmap-grouping-on_compaction-on.svg", &["before", "after", "m  movable, more than half in use"]),
            ("memmap-grouping-off_compaction-off.svg", &["before", "after", "U  unmovable, at least half free"]),
        ];
        for (f, labels) in expect {
            let body = read(f);
            for l in labels {
                assert!(has_text(&body, l), "{f}: {l} missing");
            }
        }
    }

    #[test]
    fn missing_charts_are_skipped_not_failed() {
        let tmp = TempDir::new("rows");
        let log = tmp.0.join("bench.log");
        std::fs::write(&log, "@plot row kmalloc(8)+kfree_pair 201\r\n@plot peers broken\r\nbench: done\r\n").unwrap();
        run(&log, &tmp.0.join("out")).unwrap();
        assert_eq!(svgs(&tmp.0.join("out")), ["hotpaths.svg"]);
        std::fs::write(&log, "no chart data at all\n").unwrap();
        run(&log, &tmp.0.join("none")).unwrap();
        assert!(svgs(&tmp.0.join("none")).is_empty());
    }

    #[test]
    fn io_errors_fail() {
        let tmp = TempDir::new("io");
        assert!(run(&tmp.0.join("no-such.log"), &tmp.0.join("out")).is_err());
        let log = tmp.0.join("bench.log");
        std::fs::write(&log, "@plot row a 1\n").unwrap();
        // OUTDIR is a file: it cannot be made a directory.
        assert!(run(&log, &log).is_err());
    }
}
