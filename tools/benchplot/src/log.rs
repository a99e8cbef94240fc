//! The chart data in the console log of `make bench`: the lines that start
//! with `@plot ` (the kernel's `bench::plot`), fields separated by single
//! spaces. Everything else (GRUB's screen, the kernel's log, the table) is
//! ignored. The console comes from a serial port, so lines end in `\r\n`.
//!
//! ```text
//! @plot row NAME VALUE                     one hot-path row ('_' for spaces)
//! @plot peers TRACE ALLOCATOR MEDIAN P99   one allocator on one trace
//! @plot frag CONFIG STEP N0 N1 ... N10     free pages in blocks of each order
//! @plot fragphase CONFIG STEP PHASE        the phase of the run STEP starts
//! @plot memmap CONFIG PHASE LINE...        one line of the `memmap` picture
//! ```

/// Orders of the buddy allocator (`MAX_ORDER` in the kernel): 0..=10.
pub const ORDERS: usize = 11;

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// With spaces back in place of the '_'.
    pub name: String,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    pub trace: String,
    pub allocator: String,
    pub median: f64,
    pub p99: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Frag {
    pub config: String,
    pub step: u64,
    /// Free pages (not blocks) in free blocks of each order.
    pub free: [u64; ORDERS],
}

/// Names the phase of the fragmentation run (`fill`, `half-freed`,
/// `load-attempts`...) whose first snapshot is STEP.
#[derive(Debug, Clone, PartialEq)]
pub struct FragPhase {
    pub config: String,
    pub step: u64,
    pub phase: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemmapLine {
    pub config: String,
    pub phase: String,
    /// The rest of the line after PHASE, verbatim (may be empty).
    pub text: String,
}

/// A line that starts with `@plot ` but could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Malformed {
    /// 1-based, as an editor counts them.
    pub line: usize,
    pub why: String,
}

/// Everything the charts are drawn from, in the order of the log.
#[derive(Debug, Default, PartialEq)]
pub struct Log {
    pub rows: Vec<Row>,
    pub peers: Vec<Peer>,
    pub frag: Vec<Frag>,
    pub fragphase: Vec<FragPhase>,
    pub memmap: Vec<MemmapLine>,
    pub malformed: Vec<Malformed>,
}

/// Read the `@plot` lines of a whole console log.
pub fn parse(text: &str) -> Log {
    let mut log = Log::default();
    // A serial console ends lines in "\r\n" and sometimes starts one with a
    // bare '\r' (a carriage return GRUB or the kernel left).
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_matches('\r')).collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("@plot ") else {
            continue;
        };
        if let Err(why) = parse_plot(rest, &mut log) {
            log.malformed.push(Malformed { line: i + 1, why });
            continue;
        }
        if rest.starts_with("row ") {
            let row = log.rows.last_mut().expect("just pushed");
            if let Some(name) = table_name(&row.name, &lines[i + 1..]) {
                row.name = name;
            }
        }
    }
    log
}

/// The row's name as the table printed it. `@plot row` writes '_' for a
/// space, which cannot be told from a '_' of the name itself
/// (`page_alloc:`, `kmap_atomic`); the table line that `bench::row` prints
/// right after it has the name as it is, padded with spaces. Look for it in
/// the next few lines (a kernel message may come between) and take it only
/// if it encodes to exactly `encoded`; the caller falls back to '_' -> ' '.
fn table_name(encoded: &str, next: &[&str]) -> Option<String> {
    let encoded = encoded.replace(' ', "_");
    next.iter().filter(|l| !l.starts_with("@plot ")).take(3).find_map(|l| {
        let name = l.get(..encoded.len())?;
        let after = l[encoded.len()..].chars().next();
        (name.replace(' ', "_") == encoded && matches!(after, None | Some(' '))).then(|| name.to_string())
    })
}

fn parse_plot(rest: &str, log: &mut Log) -> Result<(), String> {
    let (chart, fields) = rest.split_once(' ').unwrap_or((rest, ""));
    // Trailing blanks are no field (a picture line keeps its own).
    let trimmed = fields.trim_end_matches([' ', '\t']);
    match chart {
        "row" => {
            let [name, value] = fields_n(trimmed, "row NAME VALUE")?;
            log.rows.push(Row { name: name.replace('_', " "), value: number(value, "VALUE")? });
        }
        "peers" => {
            let [trace, allocator, median, p99] = fields_n(trimmed, "peers TRACE ALLOCATOR MEDIAN P99")?;
            let (median, p99) = (number(median, "MEDIAN")?, number(p99, "P99")?);
            if p99 < median {
                return Err(format!("peers: P99 {p99} below MEDIAN {median}"));
            }
            log.peers.push(Peer { trace: trace.into(), allocator: allocator.into(), median, p99 });
        }
        "frag" => {
            let f: [&str; ORDERS + 2] = fields_n(trimmed, "frag CONFIG STEP N0 ... N10")?;
            let step = f[1].parse().map_err(|_| format!("frag: STEP {:?} is not a whole number", f[1]))?;
            let mut free = [0; ORDERS];
            for (o, (n, s)) in free.iter_mut().zip(&f[2..]).enumerate() {
                *n = s.parse().map_err(|_| format!("frag: N{o} {s:?} is not a whole number"))?;
            }
            log.frag.push(Frag { config: f[0].into(), step, free });
        }
        "fragphase" => {
            let [config, step, phase] = fields_n(trimmed, "fragphase CONFIG STEP PHASE")?;
            let step = step.parse().map_err(|_| format!("fragphase: STEP {step:?} is not a whole number"))?;
            log.fragphase.push(FragPhase { config: config.into(), step, phase: phase.into() });
        }
        "memmap" => {
            // The picture line itself may hold spaces: keep it whole.
            let mut it = fields.splitn(3, ' ');
            let (config, phase) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
            if config.is_empty() || phase.is_empty() {
                return Err("memmap: want `memmap CONFIG PHASE LINE...`".into());
            }
            let text = it.next().unwrap_or("").to_string();
            log.memmap.push(MemmapLine { config: config.into(), phase: phase.into(), text });
        }
        _ => return Err(format!("unknown chart {chart:?}")),
    }
    Ok(())
}

/// Exactly N non-empty fields separated by single spaces.
fn fields_n<'a, const N: usize>(fields: &'a str, want: &str) -> Result<[&'a str; N], String> {
    let v: Vec<&str> = if fields.is_empty() { Vec::new() } else { fields.split(' ').collect() };
    if v.iter().any(|f| f.is_empty()) {
        return Err(format!("empty field (two spaces in a row?); want `{want}`"));
    }
    <[&str; N]>::try_from(v.as_slice()).map_err(|_| format!("{} fields, want {N}: `{want}`", v.len()))
}

fn number(s: &str, what: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{what} {s:?} is not a number >= 0")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_chart_and_ignores_the_rest() {
        let log = parse(
            "  Booting `himem'\n\
             [    0.000000] himem version 0.1.0\n\
             kmalloc(8)+kfree pair      201   <=100   invlpg 0\n\
             @plot row kmalloc(8)+kfree_pair 201\n\
             @plot peers churn himem 95 140\n\
             @plot frag grouping-on_compaction-on 3 1 2 3 4 5 6 7 8 9 10 1024\n\
             @plot fragphase grouping-on_compaction-on 3 load-attempts\r\n\
             @plot memmap grouping-on_compaction-on before 0x00000000 MMMM|MMmm\n",
        );
        assert_eq!(log.malformed, vec![]);
        assert_eq!(log.rows, vec![Row { name: "kmalloc(8)+kfree pair".into(), value: 201.0 }]);
        assert_eq!(
            log.peers,
            vec![Peer { trace: "churn".into(), allocator: "himem".into(), median: 95.0, p99: 140.0 }]
        );
        assert_eq!(log.frag.len(), 1);
        assert_eq!(log.frag[0].step, 3);
        assert_eq!(log.frag[0].free, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1024]);
        assert_eq!(
            log.fragphase,
            vec![FragPhase { config: "grouping-on_compaction-on".into(), step: 3, phase: "load-attempts".into() }]
        );
        assert_eq!(log.memmap[0].phase, "before");
        assert_eq!(log.memmap[0].text, "0x00000000 MMMM|MMmm");
    }

    #[test]
    fn row_names_keep_their_own_underscores_from_the_table() {
        let log = parse(
            "@plot row page_alloc:_order-0_alloc+free_pair_(pcp) 216\r\n\
             page_alloc: order-0 alloc+free pair (pcp)     216   <=150   invlpg 0\r\n\
             @plot row kmap_atomic+kunmap_atomic_pair 60\r\n\
             [    1.000000] a kernel message in between\r\n\
             kmap_atomic+kunmap_atomic pair                 60    <=20   invlpg 2\r\n\
             @plot row no_table_line 7\r\n\
             no table line_but_longer 7\r\n\
             @plot row last_row 9\r\n",
        );
        let names: Vec<&str> = log.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "page_alloc: order-0 alloc+free pair (pcp)",
                "kmap_atomic+kunmap_atomic pair",
                "no table line",
                "last row"
            ]
        );
    }

    #[test]
    fn serial_line_endings_are_stripped() {
        let log = parse("\r[    0.0] x\r\n@plot row a_b 12 \r\n\r@plot row c 3\r\r\n@plot memmap c p 0x0_MM\r\n");
        assert_eq!(log.malformed, vec![]);
        assert_eq!(log.rows[0], Row { name: "a b".into(), value: 12.0 });
        assert_eq!(log.rows[1].value, 3.0);
        assert_eq!(log.memmap[0].text, "0x0_MM");
    }

    #[test]
    fn memmap_keeps_the_rest_of_the_line_verbatim() {
        let log = parse(
            "@plot memmap cfg after U unmovable  R reclaimable\n\
             @plot memmap cfg after \n\
             @plot memmap cfg after\n",
        );
        assert_eq!(log.malformed, vec![]);
        let texts: Vec<&str> = log.memmap.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["U unmovable  R reclaimable", "", ""]);
    }

    #[test]
    fn malformed_lines_are_reported_with_their_number_and_skipped() {
        let log = parse(
            "@plot row only_a_name\n\
             @plot row x 12 13\n\
             @plot row x twelve\n\
             @plot peers t a 10\n\
             @plot peers t a 10 5\n\
             @plot frag c 1 1 2 3\n\
             @plot frag c 1 1 2 3 4 5 6 7 8 9 10 -1\n\
             @plot frag c x 1 2 3 4 5 6 7 8 9 10 11\n\
             @plot memmap c\n\
             @plot row  x 1\n\
             @plot pie a 1\n\
             @plot\n\
             @plot row ok 7\n\
             @plot fragphase c 10\n\
             @plot fragphase c ten fill\n\
             @plot fragphase c 10 load attempts\n",
        );
        let lines: Vec<usize> = log.malformed.iter().map(|m| m.line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15, 16]);
        assert!(log.malformed[0].why.contains("want 2"), "{:?}", log.malformed[0]);
        assert!(log.malformed[4].why.contains("below MEDIAN"));
        assert!(log.malformed[6].why.contains("N10"));
        assert!(log.malformed[10].why.contains("unknown chart"));
        assert!(log.malformed[12].why.contains("STEP"));
        assert!(log.malformed[13].why.contains("want 3"), "a phase is one word: {:?}", log.malformed[13]);
        // "@plot" alone lacks the space after it: not a chart line at all.
        assert_eq!(log.rows, vec![Row { name: "ok".into(), value: 7.0 }]);
        assert!(log.peers.is_empty() && log.frag.is_empty() && log.fragphase.is_empty() && log.memmap.is_empty());
    }

    #[test]
    fn a_log_without_chart_data_gives_nothing() {
        assert_eq!(parse(""), Log::default());
        assert_eq!(parse("benchmark  instr/op\r\nbench: done\r\n"), Log::default());
    }
}
