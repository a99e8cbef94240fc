//! `memmap-CONFIG.svg`: the kernel's `memmap` pictures of one configuration
//! at each phase of the fragmentation run (before, load, rest, after), one
//! under another, one coloured cell per character. The picture (see
//! `memmap_print` in src/mm/vmstat.rs) is rows of `0xADDRESS CELLS`, a cell
//! per pageblock: the migrate type's letter, upper case when at least half
//! of the pageblock is free, lower case when more than half is in use, `.`
//! for reserved or no RAM, and `|` where a zone begins; then legend lines.
//! The meanings are taken from the legend lines when the log has them, else
//! from the kernel's own table.
//!
//! The helper that emits `@plot memmap` may write '_' for a space; a picture
//! row holds no space or '_' of its own, and legend text is read with '_'
//! taken as a space.

use super::*;
use crate::log::MemmapLine;

/// The kernel's legend (`memmap_print`), for a log whose lines lack it.
const BUILTIN: [(char, &str); 7] = [
    ('U', "unmovable"),
    ('R', "reclaimable"),
    ('M', "movable"),
    ('V', "reserve"),
    ('C', "CMA"),
    ('I', "isolated"),
    ('.', "reserved or no RAM"),
];

/// A colour per type letter: one hue each, full for a mostly used
/// pageblock (lower case) and light for a mostly free one (upper case).
fn hue(c: char) -> RGBColor {
    match c.to_ascii_uppercase() {
        'U' => RGBColor(214, 39, 40),
        'R' => RGBColor(255, 127, 14),
        'M' => RGBColor(44, 160, 44),
        'V' => RGBColor(148, 103, 189),
        'C' => RGBColor(31, 119, 180),
        'I' => RGBColor(127, 127, 127),
        '.' => RGBColor(235, 235, 235),
        // A letter no legend knows: still one colour per letter.
        other => {
            let h = other as u32;
            RGBColor((h * 67 % 200) as u8, (h * 131 % 200) as u8, (h * 29 % 200) as u8)
        }
    }
}

fn colour(c: char) -> RGBColor {
    if c.is_ascii_uppercase() {
        tint(hue(c), 0.6)
    } else {
        hue(c)
    }
}

/// One phase's picture: rows of (address, cells), and its text lines.
#[derive(Debug, Default)]
struct Picture<'a> {
    phase: &'a str,
    rows: Vec<(String, Vec<char>)>,
    text: Vec<String>,
}

/// What the legend lines say.
#[derive(Debug, Default, PartialEq)]
struct Legend {
    meaning: Vec<(char, String)>,
    /// What upper and lower case stand for, from "UPPER CASE: ... lower case: ...".
    upper: Option<String>,
    lower: Option<String>,
    boundary: Option<String>,
}

/// Drop terminal colour (`memmap` with colour on writes ESC [ ... m).
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\x1b' && it.peek() == Some(&'[') {
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// `0x00000000 MMMM|MMmm` (or with '_' for the space): the address and the cells.
fn picture_row(line: &str) -> Option<(String, Vec<char>)> {
    let hex = line.strip_prefix("0x")?;
    let end = hex.find(|c: char| !c.is_ascii_hexdigit())?;
    let (digits, rest) = hex.split_at(end);
    let cells = rest.strip_prefix([' ', '_'])?.trim_start_matches([' ', '_']).trim_end();
    if digits.is_empty() || cells.is_empty() || cells.contains([' ', '_']) {
        return None;
    }
    Some((format!("0x{digits}"), cells.chars().collect()))
}

fn read_legend(lines: &[String]) -> Legend {
    let mut l = Legend::default();
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        // "U unmovable  R reclaimable ...": a character, then its meaning.
        if words.len() >= 2 && words[0].chars().count() == 1 && words[1].chars().count() > 1 {
            for w in words {
                if w.chars().count() == 1 {
                    l.meaning.push((w.chars().next().unwrap(), String::new()));
                } else if let Some((_, m)) = l.meaning.last_mut() {
                    if !m.is_empty() {
                        m.push(' ');
                    }
                    m.push_str(w);
                }
            }
            continue;
        }
        // "UPPER CASE: at least half free   lower case: more than half in use   | zone boundary"
        let line = line.as_str();
        if let (Some(u), Some(lc)) = (line.find("UPPER CASE:"), line.find("lower case:")) {
            if u < lc {
                l.upper = Some(line[u + 11..lc].trim().to_string());
                let rest = &line[lc + 11..];
                let (lower, bar) = rest.split_once('|').unwrap_or((rest, ""));
                l.lower = Some(lower.trim().to_string());
                if !bar.trim().is_empty() {
                    l.boundary = Some(bar.trim().to_string());
                }
            }
        }
    }
    l
}

pub fn draw(lines: &[MemmapLine]) -> Result<Vec<Svg>, Skip> {
    let mut configs: Vec<(&str, Vec<Picture>)> = Vec::new();
    for m in lines {
        let ci = match configs.iter().position(|(c, _)| *c == m.config) {
            Some(i) => i,
            None => {
                configs.push((&m.config, Vec::new()));
                configs.len() - 1
            }
        };
        let pictures = &mut configs[ci].1;
        let pi = match pictures.iter().position(|p| p.phase == m.phase) {
            Some(i) => i,
            None => {
                pictures.push(Picture { phase: &m.phase, ..Picture::default() });
                pictures.len() - 1
            }
        };
        let text = strip_ansi(&m.text);
        match picture_row(&text) {
            Some(row) => pictures[pi].rows.push(row),
            None => pictures[pi].text.push(text.replace('_', " ").trim().to_string()),
        }
    }
    configs.retain(|(_, p)| p.iter().any(|p| !p.rows.is_empty()));
    if configs.is_empty() {
        return Err(Skip::NoData("no `@plot memmap` picture lines"));
    }
    configs.iter().map(|(config, pictures)| draw_config(config, pictures)).collect()
}

fn draw_config(config: &str, pictures: &[Picture]) -> Result<Svg, Skip> {
    let pictures: Vec<&Picture> = pictures.iter().filter(|p| !p.rows.is_empty()).collect();
    let text: Vec<String> = pictures.iter().flat_map(|p| p.text.iter().cloned()).collect();
    let legend = read_legend(&text);
    // Lines that are neither legend nor picture (the cell size, the zones),
    // once each.
    let mut notes: Vec<&str> = Vec::new();
    for t in &text {
        let is_legend = legend.meaning.iter().any(|(c, m)| t.starts_with(*c) && t.contains(m.as_str()))
            || t.contains("UPPER CASE:");
        if !t.is_empty() && !is_legend && !notes.contains(&t.as_str()) {
            notes.push(t);
        }
    }
    let meaning = |c: char| -> String {
        let up = c.to_ascii_uppercase();
        let m = legend
            .meaning
            .iter()
            .find(|(k, _)| *k == up)
            .map(|(_, m)| m.as_str())
            .or_else(|| BUILTIN.iter().find(|(k, _)| *k == up).map(|(_, m)| *m))
            .unwrap_or("(not in the legend)");
        if !c.is_ascii_alphabetic() {
            m.to_string()
        } else if c.is_ascii_uppercase() {
            format!("{m}, {}", legend.upper.as_deref().unwrap_or("upper case"))
        } else {
            format!("{m}, {}", legend.lower.as_deref().unwrap_or("lower case"))
        }
    };

    // Legend entries: every character the pictures use, in the legend's
    // order, upper case before lower.
    let mut used: Vec<char> = pictures.iter().flat_map(|p| p.rows.iter().flat_map(|r| r.1.iter().copied())).collect();
    let rank = |c: char| {
        let up = c.to_ascii_uppercase();
        let at = legend
            .meaning
            .iter()
            .position(|(k, _)| *k == up)
            .or_else(|| BUILTIN.iter().position(|(k, _)| *k == up).map(|i| i + 100))
            .unwrap_or(200 + up as usize);
        (at, c.is_ascii_lowercase())
    };
    used.sort_by_key(|c| rank(*c));
    used.dedup();
    let has_boundary = used.contains(&'|');
    used.retain(|c| *c != '|');

    // The phases one under another, each with its title, so that a picture
    // of a few long rows keeps its cells big enough to see at page width
    // (side by side, four of them made thin strips); the legend beside
    // them, the notes under everything.
    let cols = pictures.iter().flat_map(|p| p.rows.iter().map(|r| r.1.len())).max().unwrap_or(1);
    let cell = (760 / cols as u32).clamp(6, 16) as i32;
    // Digits are wider than the average letter `text_width` assumes.
    let addr_w = text_width("0x00000000", 11) as i32 + 18;
    let grid_w = addr_w + cell * cols as i32;
    let (phase_title_h, phase_gap) = (26, 18);
    let pictures_h: i32 = pictures.iter().map(|p| phase_title_h + cell * p.rows.len() as i32 + phase_gap).sum();

    let mut items: Vec<(Option<char>, String)> =
        used.iter().map(|c| (Some(*c), format!("{c}  {}", meaning(*c)))).collect();
    if has_boundary {
        items.push((None, format!("|  {}", legend.boundary.as_deref().unwrap_or("zone boundary"))));
    }
    let legend_x = 10 + grid_w + 30;
    let legend_w = items.iter().map(|(_, l)| 20 + text_width(l, 13) as i32).max().unwrap_or(0).max(100);
    let legend_h = 22 + 20 * items.len() as i32;
    let notes_h = 18 * notes.len() as i32;
    let notes_w = notes.iter().map(|n| text_width(n, 12) as i32).max().unwrap_or(0);
    let top = 50;
    let w = (legend_x + legend_w + 10).max(20 + notes_w).max(700);
    let h = top + pictures_h.max(legend_h + 10) + notes_h + 10;

    let mut body = String::new();
    {
        let root = SVGBackend::with_string(&mut body, (w as u32, h as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let title = format!("Physical memory, one cell per pageblock: {}", config.replace('_', ", ").replace('-', " "));
        root.draw(&Text::new(title, (w / 2, 22), font_centre(18)))?;
        let x0 = 10;
        let mut y0 = top;
        for p in &pictures {
            root.draw(&Text::new(p.phase.to_string(), (x0 + addr_w, y0 + 10), font_left(15)))?;
            y0 += phase_title_h;
            for (r, (addr, cells)) in p.rows.iter().enumerate() {
                let y = y0 + r as i32 * cell;
                root.draw(&Text::new(addr.clone(), (x0, y + cell / 2), font_left(11)))?;
                for (k, c) in cells.iter().enumerate() {
                    let x = x0 + addr_w + k as i32 * cell;
                    if *c == '|' {
                        let line = PathElement::new(
                            vec![(x + cell / 2, y - 1), (x + cell / 2, y + cell + 1)],
                            BLACK.stroke_width(2),
                        );
                        root.draw(&line)?;
                        continue;
                    }
                    root.draw(&Rectangle::new([(x, y), (x + cell - 1, y + cell - 1)], colour(*c).filled()))?;
                }
            }
            y0 += cell * p.rows.len() as i32 + phase_gap;
        }
        // The legend beside the pictures, a line per character: a type's
        // mostly free cells, then its mostly used ones.
        root.draw(&Text::new("cell colour", (legend_x, top + 10), font_left(13)))?;
        for (i, (c, label)) in items.iter().enumerate() {
            let (x, y) = (legend_x, top + 32 + 20 * i as i32);
            match c {
                Some(c) => {
                    root.draw(&Rectangle::new([(x, y - 6), (x + 12, y + 6)], colour(*c).filled()))?;
                    root.draw(&Rectangle::new([(x, y - 6), (x + 12, y + 6)], RGBColor(90, 90, 90).stroke_width(1)))?;
                }
                None => root.draw(&PathElement::new(vec![(x + 6, y - 7), (x + 6, y + 7)], BLACK.stroke_width(2)))?,
            }
            root.draw(&Text::new(label.clone(), (x + 20, y), font_left(13)))?;
        }
        let notes_y = top + pictures_h.max(legend_h + 10);
        for (i, n) in notes.iter().enumerate() {
            root.draw(&Text::new(n.to_string(), (10, notes_y + 6 + 18 * i as i32), font_left(12)))?;
        }
        root.present()?;
    }
    Ok(Svg { file: format!("memmap-{}.svg", file_part(config)), body })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{has_text, text_at, well_formed};
    use super::*;

    fn line(config: &str, phase: &str, text: &str) -> MemmapLine {
        MemmapLine { config: config.into(), phase: phase.into(), text: text.into() }
    }

    const LEGEND: [&str; 5] = [
        "",
        "one cell = one pageblock of 1024 pages (4 MB)",
        "U unmovable  R reclaimable  M movable  V reserve  C CMA  I isolated  . reserved or no RAM",
        "UPPER CASE: at least half free   lower case: more than half in use   | zone boundary",
        "zones: DMA [0x0-0x1000) Normal [0x1000-0x8000)",
    ];

    #[test]
    fn picture_rows_with_spaces_or_underscores() {
        assert_eq!(picture_row("0x00000000 .UM|m"), Some(("0x00000000".into(), vec!['.', 'U', 'M', '|', 'm'])));
        assert_eq!(picture_row("0x10000000_MM"), Some(("0x10000000".into(), vec!['M', 'M'])));
        assert_eq!(picture_row("one cell = one pageblock"), None);
        assert_eq!(picture_row("0x00000000"), None);
        assert_eq!(strip_ansi("\x1b[30;42mM\x1b[0m\x1b[30;43mm\x1b[0m"), "Mm");
    }

    #[test]
    fn the_legend_lines_give_the_meanings() {
        let lines: Vec<String> = LEGEND.iter().map(|s| s.to_string()).collect();
        let l = read_legend(&lines);
        assert_eq!(l.meaning[0], ('U', "unmovable".into()));
        assert_eq!(l.meaning[6], ('.', "reserved or no RAM".into()));
        assert_eq!(l.upper.as_deref(), Some("at least half free"));
        assert_eq!(l.lower.as_deref(), Some("more than half in use"));
        assert_eq!(l.boundary.as_deref(), Some("zone boundary"));
    }

    #[test]
    fn the_phases_one_under_another_one_file_per_config() {
        let mut lines = vec![
            line("grouping-on", "before", "0x00000000 .UMM|MMMMMMMM"),
            line("grouping-on", "before", "0x02000000 MMMMMMMM|MMMM"),
        ];
        lines.extend(LEGEND.iter().map(|t| line("grouping-on", "before", t)));
        lines.push(line("grouping-on", "load", "0x00000000 .umm|mmmmmmmm"));
        lines.push(line("grouping-on", "load", "0x02000000 mmmmmmmm|mmmm"));
        lines.push(line("grouping-on", "after", "0x00000000 .umm|MmMMmmmM"));
        lines.push(line("grouping-on", "after", "0x02000000 mmmmRrCI|mmmm"));
        lines.extend(LEGEND.iter().map(|t| line("grouping-on", "after", t)));
        // The second config with '_' for spaces and no legend at all.
        lines.push(line("grouping-off", "before", "0x00000000_.UUUUU|xM"));
        let svgs = draw(&lines).unwrap();
        let files: Vec<&str> = svgs.iter().map(|s| s.file.as_str()).collect();
        assert_eq!(files, ["memmap-grouping-on.svg", "memmap-grouping-off.svg"]);
        let body = &svgs[0].body;
        well_formed(body).unwrap();
        for t in [
            "before",
            "after",
            "0x02000000",
            "M  movable, at least half free",
            "m  movable, more than half in use",
            "C  CMA, at least half free",
            ".  reserved or no RAM",
            "|  zone boundary",
            "zones: DMA [0x0-0x1000) Normal [0x1000-0x8000)",
        ] {
            assert!(has_text(body, t), "{t} missing");
        }
        // One rectangle per cell that is not '|', plus 8 legend swatches
        // (filled and outlined).
        let cells = 3 * (12 + 12);
        let swatches = ['.', 'U', 'u', 'R', 'r', 'M', 'm', 'C', 'I'].len();
        assert_eq!(body.matches("<rect").count(), 1 + cells + 2 * swatches, "background, cells, swatches");
        // Stacked in the log's order: the titles share an x, each lower than
        // the last, and each picture's rows start under its own title.
        let at = |t: &str| text_at(body, t).unwrap_or_else(|| panic!("{t} missing"));
        let (before, load, after) = (at("before"), at("load"), at("after"));
        assert!(before.0 == load.0 && load.0 == after.0, "{before:?} {load:?} {after:?}");
        assert!(before.1 < load.1 && load.1 < after.1, "{before:?} {load:?} {after:?}");
        assert!(at("0x02000000").1 > before.1 && at("0x02000000").1 < load.1);
        // Cells of 64 columns stay big enough to see.
        let many: Vec<MemmapLine> =
            ["before", "after"].iter().map(|p| line("c", p, &format!("0x00000000 {}", "M".repeat(64)))).collect();
        let wide = &draw(&many).unwrap()[0].body;
        let cell = |x: i32| format!("<rect x=\"{x}\"");
        let (x0, _) = text_at(wide, "before").unwrap();
        assert!(wide.contains(&cell(x0)) && wide.contains(&cell(x0 + 11)), "cells 11 px apart");
        let off = &svgs[1].body;
        well_formed(off).unwrap();
        assert!(has_text(off, "U  unmovable, upper case"), "the kernel's table when the log has no legend");
        assert!(has_text(off, "x  (not in the legend), lower case"));
    }

    #[test]
    fn no_picture_is_no_chart() {
        assert!(matches!(draw(&[]), Err(Skip::NoData(_))));
        assert!(matches!(draw(&[line("c", "before", "zones: DMA")]), Err(Skip::NoData(_))));
    }
}
