//! `hotpaths.svg`: one horizontal bar per hot-path row, in the table's
//! order, top to bottom. The boot and memory rows are not operations
//! (a cost per frame, a size) and stay out.

use super::*;
use crate::log::Row;

fn is_operation(r: &Row) -> bool {
    !["boot:", "boot ", "memory:", "memory "].iter().any(|p| r.name.starts_with(p))
}

pub fn draw(rows: &[Row]) -> Result<Vec<Svg>, Skip> {
    let rows: Vec<&Row> = rows.iter().filter(|r| is_operation(r)).collect();
    if rows.is_empty() {
        return Err(Skip::NoData("no `@plot row` lines (other than boot/memory rows)"));
    }
    let n = rows.len() as u32;
    let label_w = rows.iter().map(|r| text_width(&r.name, 13)).max().unwrap_or(0) + 16;
    let (w, h) = (label_w + 640, 90 + 26 * n + 50);
    let max = rows.iter().map(|r| r.value).fold(0.0, f64::max).max(1.0);
    // Row k from the top sits in segment n-1-k (segment 0 is at the bottom).
    let seg = |k: usize| n - 1 - k as u32;
    let mut body = String::new();
    {
        let root = SVGBackend::with_string(&mut body, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Hot paths: instructions per operation (make bench, QEMU -icount)", font(18))
            .margin(12)
            .margin_right(40)
            .x_label_area_size(44)
            .y_label_area_size(label_w)
            .build_cartesian_2d(
                Axis { lo: 0.0, hi: max * 1.12, keys: linear_ticks(max * 1.12, 6) },
                (0..n).into_segmented(),
            )?;
        let names = |v: &SegmentValue<u32>| match v {
            SegmentValue::CenterOf(i) if *i < n => rows[(n - 1 - i) as usize].name.clone(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n as usize)
            .y_label_formatter(&names)
            .x_label_formatter(&|v| number(*v))
            .label_style(font(13))
            .x_desc("instructions per operation (guest instructions under -icount; loop overhead subtracted)")
            .axis_desc_style(font(13))
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(220, 220, 220))
            .draw()?;
        let bar = RGBColor(31, 119, 180);
        chart.draw_series(rows.iter().enumerate().map(|(k, r)| {
            let mut b = Rectangle::new(
                [(0.0, SegmentValue::Exact(seg(k))), (r.value, SegmentValue::Exact(seg(k) + 1))],
                bar.filled(),
            );
            b.set_margin(4, 4, 0, 0);
            b
        }))?;
        chart.draw_series(rows.iter().enumerate().map(|(k, r)| {
            EmptyElement::at((r.value, SegmentValue::CenterOf(seg(k))))
                + Text::new(number(r.value), (5, 0), font_left(12))
        }))?;
        root.present()?;
    }
    Ok(vec![Svg { file: "hotpaths.svg".into(), body }])
}

#[cfg(test)]
mod tests {
    use super::super::tests::{has_text, well_formed};
    use super::*;

    #[test]
    fn draws_the_operations_and_leaves_out_boot_and_memory() {
        let row = |name: &str, value| Row { name: name.into(), value };
        let rows = [
            row("kmalloc(8)+kfree pair", 201.0),
            row("vmalloc(16K)+vfree pair", 2082.0),
            row("boot: page-descriptor setup, per frame", 11.0),
            row("memory: bytes of descriptor per frame", 32.0),
        ];
        let svg = draw(&rows).unwrap();
        assert_eq!(svg[0].file, "hotpaths.svg");
        let body = &svg[0].body;
        well_formed(body).unwrap();
        assert!(has_text(body, "kmalloc(8)+kfree pair") && has_text(body, "vmalloc(16K)+vfree pair"));
        assert!(has_text(body, "2,082"), "the bar's value is printed at its end");
        assert!(!body.contains("boot:") && !body.contains("memory:"));
    }

    #[test]
    fn no_rows_is_no_chart() {
        let boot = Row { name: "boot: x".into(), value: 1.0 };
        assert!(matches!(draw(&[]), Err(Skip::NoData(_))));
        assert!(matches!(draw(&[boot]), Err(Skip::NoData(_))));
    }
}
