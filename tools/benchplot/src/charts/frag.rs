//! The fragmentation run: free memory by order over the run, as stacked
//! areas (order 0 at the bottom, order 10 at the top), one panel per
//! configuration. `frag.svg` has every panel on one y scale, laid out so
//! that the first part of the configuration's name (`grouping-on`,
//! `grouping-off`) picks the column: mobility grouping on and off side by
//! side. `frag-CONFIG.svg` is each panel alone.

use super::*;
use crate::log::{Frag, ORDERS};

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

const PANEL: (u32, u32) = (520, 340);
const LEGEND_W: u32 = 190;

/// One configuration's run, by step.
struct Run<'a> {
    config: &'a str,
    /// Sorted by step; a later line for the same step replaces an earlier.
    samples: Vec<&'a Frag>,
}

fn runs(frag: &[Frag]) -> Vec<Run<'_>> {
    let mut runs: Vec<Run> = Vec::new();
    for f in frag {
        let run = match runs.iter_mut().position(|r| r.config == f.config) {
            Some(i) => &mut runs[i],
            None => {
                runs.push(Run { config: &f.config, samples: Vec::new() });
                runs.last_mut().unwrap()
            }
        };
        run.samples.retain(|s| s.step != f.step);
        run.samples.push(f);
    }
    for r in &mut runs {
        r.samples.sort_by_key(|s| s.step);
    }
    runs
}

fn split_config(c: &str) -> (&str, &str) {
    c.split_once('_').unwrap_or((c, ""))
}

fn total(f: &Frag) -> u64 {
    f.free.iter().sum()
}

pub fn draw(frag: &[Frag]) -> Result<Vec<Svg>, Skip> {
    let runs = runs(frag);
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
        for r in &runs {
            let (c, rest) = split_config(r.config);
            let i =
                rows.iter().position(|x| *x == rest).unwrap() * cols.len() + cols.iter().position(|x| *x == c).unwrap();
            panel(&panels[i], r, ymax)?;
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
            panel(&left, r, ymax)?;
            order_legend(&side)?;
            root.present()?;
        }
        out.push(Svg { file: format!("frag-{}.svg", file_part(r.config)), body });
    }
    Ok(out)
}

fn panel(area: &Area, run: &Run, ymax: f64) -> Result<(), Skip> {
    let first = run.samples[0].step as f64;
    let last = run.samples[run.samples.len() - 1].step as f64;
    // One step alone is drawn as a block one step wide.
    let (x0, x1) = if first == last { (first - 0.5, first + 0.5) } else { (first, last) };
    let points = |s: &Frag| if first == last { vec![x0, x1] } else { vec![s.step as f64] };
    let mut chart = ChartBuilder::on(area)
        .caption(run.config.replace('_', ", ").replace('-', " "), font(15))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(64)
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
        let svgs = draw(&lines).unwrap();
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
        let r = runs(&lines);
        assert_eq!(r.len(), 1);
        let got: Vec<(u64, u64)> = r[0].samples.iter().map(|s| (s.step, s.free[0])).collect();
        assert_eq!(got, [(0, 2), (10, 3)]);
    }

    #[test]
    fn a_single_step_still_draws() {
        let svgs = draw(&[frag("c", 3, [1; ORDERS])]).unwrap();
        well_formed(&svgs[0].body).unwrap();
        assert!(matches!(draw(&[]), Err(Skip::NoData(_))));
    }
}
