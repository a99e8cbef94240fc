//! `peers.svg`: instructions per operation of every allocator on every
//! trace. One group of bars per trace, one bar per allocator (the median),
//! a whisker from the median up to the p99; himem (the kernel's own) first
//! in every group and in a colour of its own. When the figures span more
//! than a factor of 30 the y axis is logarithmic, or the kernel's bars
//! would be lost beside a slow peer's.

use super::*;
use crate::log::Peer;

/// The kernel's own allocator, as the bench names it.
const HIMEM: &str = "himem";
const HIMEM_COLOUR: RGBColor = RGBColor(214, 39, 40);
const PEER_COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
    RGBColor(188, 189, 34),
];

/// Where a value sits on the y axis: itself, or its logarithm.
struct Scale {
    log: bool,
}

impl Scale {
    fn y(&self, v: f64) -> f64 {
        if self.log {
            v.max(1.0).log10()
        } else {
            v
        }
    }

    fn label(&self, y: f64) -> String {
        number(if self.log { 10f64.powf(y).round() } else { y })
    }

    /// The axis from 0 (or 1, logarithmic) to a little above `hi`.
    fn axis(&self, lo: f64, hi: f64) -> Axis {
        if !self.log {
            return Axis { lo: 0.0, hi: hi * 1.1, keys: linear_ticks(hi * 1.1, 6) };
        }
        let (d0, d1) = (lo.max(1.0).log10().floor() as i32, (hi * 1.5).log10().ceil() as i32);
        let keys = (d0..=d1)
            .flat_map(|d| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(d)))
            .filter(|v| *v <= hi * 1.5)
            .map(f64::log10)
            .collect();
        Axis { lo: d0 as f64, hi: (hi * 1.5).log10(), keys }
    }
}

pub fn draw(peers: &[Peer]) -> Result<Vec<Svg>, Skip> {
    if peers.is_empty() {
        return Err(Skip::NoData("no `@plot peers` lines"));
    }
    let mut traces: Vec<&str> = Vec::new();
    let mut allocators: Vec<&str> = Vec::new();
    for p in peers {
        if !traces.contains(&p.trace.as_str()) {
            traces.push(&p.trace);
        }
        if !allocators.contains(&p.allocator.as_str()) {
            allocators.push(&p.allocator);
        }
    }
    if let Some(i) = allocators.iter().position(|a| *a == HIMEM) {
        let h = allocators.remove(i);
        allocators.insert(0, h);
    }
    // A later line for the same trace and allocator replaces an earlier one.
    let get = |t: &str, a: &str| peers.iter().rev().find(|p| p.trace == t && p.allocator == a);
    let colour = |j: usize| {
        if allocators[j] == HIMEM {
            HIMEM_COLOUR
        } else {
            // Peers are numbered from 0 after himem, which is first when present.
            PEER_COLOURS[(j - (allocators[0] == HIMEM) as usize) % PEER_COLOURS.len()]
        }
    };

    let lo = peers.iter().map(|p| p.median).fold(f64::INFINITY, f64::min);
    let hi = peers.iter().map(|p| p.p99).fold(0.0, f64::max).max(1.0);
    let scale = Scale { log: hi > 30.0 * lo.max(1.0) };
    let axis = scale.axis(lo, hi);
    let base = axis.lo;

    let (nt, na) = (traces.len(), allocators.len());
    let legend_w =
        allocators.iter().map(|a| text_width(a, 13)).max().unwrap_or(0).max(text_width("p99 (whisker)", 13)) + 40;
    let plot_w = (nt as u32 * (na as u32 * 34 + 40)).max(420);
    let (w, h) = (plot_w + 90 + legend_w, 540);
    let mut body = String::new();
    {
        let root = SVGBackend::with_string(&mut body, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let (left, right) = root.split_horizontally(w - legend_w);
        let y_desc = if scale.log {
            "instructions per op (median; whisker: p99), log scale"
        } else {
            "instructions per op (median; whisker: p99)"
        };
        let key_x: Vec<f64> = (0..nt).map(|t| t as f64 + 0.5).collect();
        let mut chart = ChartBuilder::on(&left)
            .caption("Allocators side by side: same boot, same fixed-seed traces", font(18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(Axis { lo: 0.0, hi: nt as f64, keys: key_x }, axis)?;
        let trace_name = |x: &f64| traces.get(*x as usize).map(|t| t.replace('_', " ")).unwrap_or_default();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&trace_name)
            .y_label_formatter(&|y| scale.label(*y))
            .label_style(font(13))
            .y_desc(y_desc)
            .x_desc("trace")
            .axis_desc_style(font(13))
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()?;

        let slot = 0.8 / na as f64;
        // Pixels per bar, to tell whether a number fits above each one.
        let bar_px = plot_w as f64 / nt as f64 * slot;
        for (t, trace) in traces.iter().enumerate() {
            for (j, a) in allocators.iter().enumerate() {
                let Some(p) = get(trace, a) else { continue };
                let x0 = t as f64 + 0.1 + j as f64 * slot;
                let (x1, xm) = (x0 + slot * 0.9, x0 + slot * 0.45);
                let (ym, y99) = (scale.y(p.median), scale.y(p.p99));
                let c = colour(j);
                chart.draw_series([Rectangle::new([(x0, base), (x1, ym)], c.filled())])?;
                if *a == HIMEM {
                    chart.draw_series([Rectangle::new([(x0, base), (x1, ym)], BLACK.stroke_width(2))])?;
                }
                let whisker = BLACK.stroke_width(1);
                let cap = slot * 0.2;
                chart.draw_series([
                    PathElement::new(vec![(xm, ym), (xm, y99)], whisker),
                    PathElement::new(vec![(xm - cap, y99), (xm + cap, y99)], whisker),
                ])?;
                if *a == HIMEM || bar_px >= 28.0 {
                    let label = EmptyElement::at((xm, y99)) + Text::new(number(p.median), (0, -8), font_centre(10));
                    chart.draw_series([label])?;
                }
            }
        }
        let entries: Vec<(RGBColor, String)> =
            allocators.iter().enumerate().map(|(j, a)| (colour(j), a.to_string())).collect();
        legend(&right, 60, "allocator", &entries)?;
        // The whisker's swatch: a line with a cap, as in the chart.
        let y = 60 + 22 + 20 * na as i32;
        right.draw(&PathElement::new(vec![(15, y - 6), (15, y + 6)], BLACK.stroke_width(1)))?;
        right.draw(&PathElement::new(vec![(11, y - 6), (19, y - 6)], BLACK.stroke_width(1)))?;
        right.draw(&Text::new("p99 (whisker)", (28, y), font_left(13)))?;
        let numbers = if bar_px >= 28.0 { "numbers: the medians" } else { "numbers: himem's medians" };
        if bar_px >= 28.0 || allocators[0] == HIMEM {
            right.draw(&Text::new(numbers, (8, y + 28), font_left(11)))?;
        }
        root.present()?;
    }
    Ok(vec![Svg { file: "peers.svg".into(), body }])
}

#[cfg(test)]
mod tests {
    use super::super::tests::{has_text, well_formed};
    use super::*;

    fn peer(trace: &str, allocator: &str, median: f64, p99: f64) -> Peer {
        Peer { trace: trace.into(), allocator: allocator.into(), median, p99 }
    }

    #[test]
    fn groups_by_trace_with_himem_first_and_highlighted() {
        let peers = [
            peer("kmalloc_churn", "talc", 140.0, 210.0),
            peer("kmalloc_churn", "himem", 95.0, 130.0),
            peer("kmalloc_churn", "dlmalloc", 180.0, 300.0),
            peer("pages", "buddy_system_allocator", 400.0, 520.0),
            peer("pages", "himem", 210.0, 260.0),
        ];
        let svg = draw(&peers).unwrap();
        assert_eq!(svg[0].file, "peers.svg");
        let body = &svg[0].body;
        well_formed(body).unwrap();
        for label in ["kmalloc churn", "pages", "himem", "talc", "dlmalloc", "buddy_system_allocator", "p99 (whisker)"]
        {
            assert!(has_text(body, label), "{label} missing");
        }
        assert!(has_text(body, "instructions per op (median; whisker: p99)"));
        // himem's red, and the black outline only it has.
        assert!(body.contains("fill=\"#D62728\""), "himem's colour");
        // Outlined boxes: himem's bar on each of 2 traces, and the 4 legend swatches.
        assert_eq!(body.matches("fill=\"none\" stroke=\"#000000\"").count(), 2 + 4, "himem's outline");
        // The legend lists himem before the peers.
        assert!(body.find(">\nhimem\n<").unwrap() < body.find(">\ntalc\n<").unwrap());
    }

    #[test]
    fn a_wide_spread_gets_a_log_axis() {
        let svg =
            draw(&[peer("t", "himem", 90.0, 120.0), peer("t", "linked_list_allocator", 9000.0, 40000.0)]).unwrap();
        well_formed(&svg[0].body).unwrap();
        assert!(has_text(&svg[0].body, "instructions per op (median; whisker: p99), log scale"));
        assert!(has_text(&svg[0].body, "10,000"), "a decade on the axis");
    }

    #[test]
    fn no_lines_is_no_chart() {
        assert!(matches!(draw(&[]), Err(Skip::NoData(_))));
    }
}
