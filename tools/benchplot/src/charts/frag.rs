//! The fragmentation run: free memory by order over the run, as stacked
//! areas (order 0 at the bottom, order 10 at the top), one panel per
//! configuration. `frag.svg` has every panel on one y scale, laid out so
//! that the first part of the configuration's name (`grouping-on`,
//! `grouping-off`) picks the column: mobility grouping on and off side by
//! side. `frag-CONFIG.svg` is each panel alone.
//!
//! A thin vertical line marks the step where each phase of the run begins
//! (`@plot fragphase`: fill, half-freed, load-attempts, rest...), named in
//! a band of small labels above the plot, so that the areas can be read
//! against what the run was doing.

use super::*;
use crate::log::{Frag, FragPhase, ORDERS};

/// Order 0 (light, the dust) to order 10 (dark, what a huge page needs).
const ORDER_COLOURS: [RGBColor; ORDERS] = [
    RGBColor(255, 245, 190),
    RGBColor(254, 227, 145),
    RGBColor(254, 196, 79),
    RGBColor(254, 153, 41),
    RGBColor(236, 112, 20),
    RGBColor(204, 76, 2),
    RGBColor(153, 52, 4),
    RGBColor(158, 154, 200),
    RGBColor(117, 107, 177),
    RGBColor(84, 39, 143),
    RGBColor(37, 52, 148),
];

const PANEL: (u32, u32) = (520, 380);
const LEGEND_W: u32 = 190;
/// The panel's pixels left and right of the plot (`panel`'s margins and
/// y label area), for placing the phase labels before plotters draws.
const MARGIN: u32 = 10;
const Y_LABELS: u32 = 64;
const LABEL_SIZE: u32 = 11;
const LABEL_ROW: i32 = 14;

/// One configuration's run, by step.
struct Run<'a> {
    config: &'a str,
    /// Sorted by step; a later line for the same step replaces an earlier.
    samples: Vec<&'a Frag>,
    /// Likewise.
    phases: Vec<&'a FragPhase>,
}

fn runs<'a>(frag: &'a [Frag], phases: &'a [FragPhase]) -> Vec<Run<'a>> {
    let mut runs: Vec<Run> = Vec::new();
    for f in frag {
        let run = match runs.iter_mut().position(|r| r.config == f.config) {
            Some(i) => &mut runs[i],
            None => {
                runs.push(Run { config: &f.config, samples: Vec::new(), phases: Vec::new() });
                runs.last_mut().unwrap()
            }
        };
        run.samples.retain(|s| s.step != f.step);
        run.samples.push(f);
    }
    // A phase of a configuration without samples has no panel to mark.
    for p in phases {
        if let Some(run) = runs.iter_mut().find(|r| r.config == p.config) {
            run.phases.retain(|q| q.step != p.step);
            run.phases.push(p);
        }
    }
    for r in &mut runs {
        r.samples.sort_by_key(|s| s.step);
        r.phases.sort_by_key(|p| p.step);
    }
    runs
}

/// The x range of a run's plot: one step alone is drawn one step wide.
/// (A repeated step replaces the first, so one sample is one step.)
fn x_range(run: &Run) -> (f64, f64) {
    let first = run.samples[0].step as f64;
    let last = run.samples[run.samples.len() - 1].step as f64;
    if run.samples.len() == 1 {
        (first - 0.5, first + 0.5)
    } else {
        (first, last)
    }
}

/// A phase's label in the band above the plot: its marker's x in pixels
/// from the plot's left end, and its row in the band (0 at the top).
#[derive(Debug, PartialEq)]
struct Label<'a> {
    step: f64,
    x: i32,
    text: &'a str,
    row: i32,
}

/// The phase labels of a plot `width` pixels wide, and how far the last
/// ones reach past its right end. A label starts at its marker and runs
/// right; it takes the row under every earlier label it would touch, so
/// labels never overlap and no marker's line, which runs from its label
/// down to the axis, crosses another label.
fn labels<'a>(run: &Run<'a>, width: i32) -> (Vec<Label<'a>>, i32) {
    let (x0, x1) = x_range(run);
    let mut out: Vec<Label> = Vec::new();
    let mut ends: Vec<i32> = Vec::new();
    let mut overflow = 0;
    for p in &run.phases {
        let step = p.step as f64;
        if step < x0 || step > x1 {
            continue;
        }
        let x = ((step - x0) / (x1 - x0) * width as f64).round() as i32;
        let end = x + 3 + text_width(&p.phase, LABEL_SIZE) as i32;
        let row = out.iter().zip(&ends).filter(|(_, e)| **e + 4 > x).map(|(l, _)| l.row + 1).max().unwrap_or(0);
        out.push(Label { step, x, text: &p.phase, row });
        ends.push(end);
        overflow = overflow.max(end - width);
    }
    (out, overflow)
}

/// What every panel of a figure shares, so that their plots line up: the
/// rows of the label band, and the margin right of the plot, wide enough
/// for a label at the last step, which leaves the plot `width` pixels.
#[derive(Clone, Copy)]
struct Band {
    rows: i32,
    right: u32,
    width: i32,
}

fn band(runs: &[&Run]) -> Band {
    let width = |right: u32| (PANEL.0 - MARGIN - right - Y_LABELS) as i32;
    // A wider margin narrows the plot, which pushes the labels a little
    // further out: a few rounds settle it.
    let mut right = MARGIN;
    for _ in 0..4 {
        let need = runs.iter().map(|r| labels(r, width(right)).1 + 4).max().unwrap_or(0).max(MARGIN as i32) as u32;
        if need <= right {
            break;
        }
        right = need;
    }
    let rows = runs.iter().flat_map(|r| labels(r, width(right)).0).map(|l| l.row + 1).max().unwrap_or(0);
    Band { rows, right, width: width(right) }
}

fn split_config(c: &str) -> (&str, &str) {
    c.split_once('_').unwrap_or((c, ""))
}

fn total(f: &Frag) -> u64 {
    f.free.iter().sum()
}

pub fn draw(frag: &[Frag], phases: &[FragPhase]) -> Result<Vec<Svg>, Skip> {
    let runs = runs(frag, phases);
    if runs.is_empty() {
        return Err(Skip::NoData("no `@plot frag` lines"));
    }
    let ymax = runs.iter().flat_map(|r| r.samples.iter().map(|s| total(s))).max().unwrap_or(0).max(1) as f64 * 1.05;

    // Columns by the part of the name before the first '_', rows by the rest.
    let mut cols: Vec<&str> = Vec::new();
    let mut rows: Vec<&str> = Vec::new();
    for r in &runs {
        let (c, rest) = split_config(r.config);
        if !cols.contains(&c) {
            cols.push(c);
        }
        if !rows.contains(&rest) {
            rows.push(rest);
        }
    }

    let mut out = Vec::new();
    let (w, h) = (PANEL.0 * cols.len() as u32 + LEGEND_W, PANEL.1 * rows.len() as u32 + 50);
    let mut body = String::new();
    {
        let root = SVGBackend::with_string(&mut body, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled("Fragmentation run: free memory by order of the free block", font(18))?;
        let (grid, side) = root.split_horizontally(w - LEGEND_W);
        let panels = grid.split_evenly((rows.len(), cols.len()));
        let band = band(&runs.iter().collect::<Vec<_>>());
        for r in &runs {
            let (c, rest) = split_config(r.config);
            let i =
                rows.iter().position(|x| *x == rest).unwrap() * cols.len() + cols.iter().position(|x| *x == c).unwrap();
            panel(&panels[i], r, ymax, band)?;
        }
        order_legend(&side)?;
        root.present()?;
    }
    out.push(Svg { file: "frag.svg".into(), body });

    for r in &runs {
        let mut body = String::new();
        {
            let root = SVGBackend::with_string(&mut body, (PANEL.0 + LEGEND_W, PANEL.1 + 50)).into_drawing_area();
            root.fill(&WHITE)?;
            let root = root.titled("Fragmentation run: free memory by order of the free block", font(18))?;
            let (left, side) = root.split_horizontally(PANEL.0);
            panel(&left, r, ymax, band(&[r]))?;
            order_legend(&side)?;
            root.present()?;
        }
        out.push(Svg { file: format!("frag-{}.svg", file_part(r.config)), body });
    }
    Ok(out)
}

fn panel(area: &Area, run: &Run, ymax: f64, band: Band) -> Result<(), Skip> {
    let (x0, x1) = x_range(run);
    let points = |s: &Frag| if run.samples.len() == 1 { vec![x0, x1] } else { vec![s.step as f64] };
    // Caption, then the label band, then the plot.
    let body = area.titled(&run.config.replace('_', ", ").replace('-', " "), font(15))?;
    let (_, plot) = body.split_vertically(band.rows * LABEL_ROW);
    let mut chart = ChartBuilder::on(&plot)
        .margin(MARGIN)
        .margin_top(6)
        .margin_right(band.right)
        .x_label_area_size(36)
        .y_label_area_size(Y_LABELS)
        .build_cartesian_2d(
            Axis { lo: x0, hi: x1, keys: linear_ticks_from(x0, x1, 6) },
            Axis { lo: 0.0, hi: ymax, keys: linear_ticks(ymax, 5) },
        )?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| number(*x))
        .y_label_formatter(&|y| number(*y))
        .label_style(font(12))
        .x_desc("step")
        .y_desc("free pages")
        .axis_desc_style(font(12))
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(230, 230, 230))
        .draw()?;
    // Top band first: the area up to order k, then order k-1 over it, so
    // what shows of each is exactly its own pages.
    for k in (0..ORDERS).rev() {
        let upto = |s: &Frag| s.free[..=k].iter().sum::<u64>() as f64;
        let line: Vec<(f64, f64)> =
            run.samples.iter().flat_map(|s| points(s).into_iter().map(move |x| (x, upto(s)))).collect();
        chart.draw_series(AreaSeries::new(line, 0.0, ORDER_COLOURS[k].filled()).border_style(ORDER_COLOURS[k]))?;
    }

    // The markers, in pixels of `area`: from the label down to the axis.
    let (ax, ay) = area.get_base_pixel();
    let band_top = body.get_base_pixel().1 - ay;
    for l in labels(run, band.width).0 {
        let (x, bottom) = chart.backend_coord(&(l.step, 0.0));
        let (x, bottom) = (x - ax, bottom - ay);
        let y = band_top + l.row * LABEL_ROW + LABEL_ROW / 2;
        let line = vec![(x, y - LABEL_ROW / 2 + 2), (x, bottom)];
        // White under black: the line shows on the dark bands and the light.
        area.draw(&PathElement::new(line.clone(), WHITE.stroke_width(3)))?;
        area.draw(&PathElement::new(line, BLACK.stroke_width(1)))?;
        area.draw(&Text::new(l.text.to_string(), (x + 3, y), font_left(LABEL_SIZE)))?;
    }
    Ok(())
}

/// Ticks over `lo..=hi`, which need not start at 0.
fn linear_ticks_from(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let step = linear_ticks(hi - lo, n).get(1).copied().unwrap_or(1.0).max(1.0);
    let start = (lo / step).ceil() * step;
    (0..).map(|i| start + i as f64 * step).take_while(|v| *v <= hi + 1e-9).collect()
}

fn order_legend(area: &Area) -> Result<(), Skip> {
    let entries: Vec<(RGBColor, String)> =
        (0..ORDERS).rev().map(|o| (ORDER_COLOURS[o], format!("order {o} ({} kB)", 4 << o))).collect();
    legend(area, 50, "free blocks of", &entries)?;
    area.draw(&Text::new("pages, not blocks: the", (8, 50 + 22 + 20 * ORDERS as i32 + 10), font_left(11)))?;
    area.draw(&Text::new("band's height is the memory", (8, 50 + 22 + 20 * ORDERS as i32 + 25), font_left(11)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{has_text, well_formed};
    use super::*;

    fn frag(config: &str, step: u64, free: [u64; ORDERS]) -> Frag {
        Frag { config: config.into(), step, free }
    }

    fn phase(config: &str, step: u64, phase: &str) -> FragPhase {
        FragPhase { config: config.into(), step, phase: phase.into() }
    }

    #[test]
    fn one_panel_per_config_and_one_file_each() {
        let on = "grouping-on_compaction-on";
        let off = "grouping-off_compaction-on";
        let lines = [
            frag(on, 0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8192]),
            frag(on, 10, [100, 200, 400, 0, 0, 0, 0, 0, 0, 1024, 4096]),
            frag(off, 0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8192]),
            frag(off, 10, [900, 800, 400, 400, 256, 0, 0, 0, 0, 0, 1024]),
            frag(off, 5, [9, 8, 4, 4, 0, 0, 0, 0, 0, 0, 7168]),
        ];
        let svgs = draw(&lines, &[]).unwrap();
        let files: Vec<&str> = svgs.iter().map(|s| s.file.as_str()).collect();
        assert_eq!(files, ["frag.svg", "frag-grouping-on_compaction-on.svg", "frag-grouping-off_compaction-on.svg"]);
        for s in &svgs {
            well_formed(&s.body).unwrap();
            assert!(has_text(&s.body, "order 0 (4 kB)") && has_text(&s.body, "order 10 (4096 kB)"));
        }
        assert!(has_text(&svgs[0].body, "grouping on, compaction on"));
        assert!(has_text(&svgs[0].body, "grouping off, compaction on"));
        // 11 stacked areas per panel, one polygon each.
        assert_eq!(svgs[0].body.matches("<polygon").count(), 2 * ORDERS);
    }

    #[test]
    fn steps_are_sorted_and_a_repeated_step_replaces_the_first() {
        let lines = [frag("c", 10, [1; ORDERS]), frag("c", 0, [2; ORDERS]), frag("c", 10, [3; ORDERS])];
        let r = runs(&lines, &[]);
        assert_eq!(r.len(), 1);
        let got: Vec<(u64, u64)> = r[0].samples.iter().map(|s| (s.step, s.free[0])).collect();
        assert_eq!(got, [(0, 2), (10, 3)]);
    }

    #[test]
    fn a_single_step_still_draws() {
        let svgs = draw(&[frag("c", 3, [1; ORDERS])], &[]).unwrap();
        well_formed(&svgs[0].body).unwrap();
        assert!(matches!(draw(&[], &[]), Err(Skip::NoData(_))));
    }

    #[test]
    fn each_phase_is_labelled_in_every_file_with_its_panel() {
        let on = "grouping-on_compaction-on";
        let off = "grouping-off_compaction-on";
        let lines = [
            frag(on, 0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8192]),
            frag(on, 20, [100, 200, 400, 0, 0, 0, 0, 0, 0, 1024, 4096]),
            frag(off, 0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8192]),
            frag(off, 20, [900, 800, 400, 400, 256, 0, 0, 0, 0, 0, 1024]),
        ];
        let phases = [
            phase(on, 0, "start"),
            phase(on, 1, "fill"),
            phase(on, 10, "half-freed"),
            phase(on, 20, "end"),
            phase(off, 11, "load-attempts"),
            // Past the last sample: no marker.
            phase(off, 99, "later"),
            // No samples, no panel: nothing to mark, and no error.
            phase("grouping-on_compaction-off", 3, "rest"),
        ];
        let svgs = draw(&lines, &phases).unwrap();
        let [all, on_svg, off_svg] = &svgs[..] else { panic!("{} files", svgs.len()) };
        for s in &svgs {
            well_formed(&s.body).unwrap();
        }
        for t in ["start", "fill", "half-freed", "end", "load-attempts"] {
            assert!(has_text(&all.body, t), "frag.svg: {t}");
        }
        for t in ["start", "fill", "half-freed", "end"] {
            assert!(has_text(&on_svg.body, t) && !has_text(&off_svg.body, t), "{t}");
        }
        assert!(has_text(&off_svg.body, "load-attempts"));
        for s in &svgs {
            assert!(!has_text(&s.body, "later") && !has_text(&s.body, "rest"), "{}", s.file);
        }
        // Each marker is a white line under a black one.
        assert_eq!(on_svg.body.matches("stroke=\"#FFFFFF\" stroke-width=\"3\"").count(), 4);
    }

    #[test]
    fn labels_take_the_row_under_those_they_would_touch() {
        let samples = [frag("c", 0, [1; ORDERS]), frag("c", 10, [1; ORDERS])];
        let phases = [phase("c", 0, "start"), phase("c", 1, "fill"), phase("c", 5, "rest"), phase("c", 10, "end")];
        let runs = runs(&samples, &phases);
        // 10 px a step: "start" (about 31 px) reaches over step 1 but not 5.
        let (labels, overflow) = labels(&runs[0], 100);
        let got: Vec<(i32, &str, i32)> = labels.iter().map(|l| (l.x, l.text, l.row)).collect();
        assert_eq!(got, [(0, "start", 0), (10, "fill", 1), (50, "rest", 0), (100, "end", 0)]);
        assert_eq!(overflow, 3 + text_width("end", LABEL_SIZE) as i32, "the last label runs past the plot");
        // The band is laid out at the width the plot gets once the margin
        // right of it makes room for the last label.
        let b = band(&[&runs[0]]);
        let (at_width, overflow) = super::labels(&runs[0], b.width);
        assert_eq!(b.width, (PANEL.0 - MARGIN - b.right - Y_LABELS) as i32);
        assert!(b.right as i32 >= overflow);
        assert_eq!(b.rows, at_width.iter().map(|l| l.row + 1).max().unwrap());
    }
}
