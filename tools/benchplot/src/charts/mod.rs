//! The charts, each drawn into an SVG string (the caller writes the files,
//! so an I/O error is told apart from a chart that has no data).
//!
//! Text sizes: plotters without its `ttf` feature estimates a string's width
//! as about 0.45 em per character and the SVG viewer draws the real font, so
//! label areas are sized here with a little more (`text_width`).

pub mod frag;
pub mod hotpaths;
pub mod memmap;
pub mod peers;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One SVG file to write.
#[derive(Debug)]
pub struct Svg {
    pub file: String,
    pub body: String,
}

/// Why a chart was not drawn.
#[derive(Debug)]
pub enum Skip {
    /// The log has no lines for it (a one-line note, not an error).
    NoData(&'static str),
    /// plotters refused (a bug here, reported and skipped).
    Draw(String),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for Skip {
    fn from(e: DrawingAreaErrorKind<E>) -> Skip {
        Skip::Draw(e.to_string())
    }
}

pub type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

pub const FONT: &str = "sans-serif";

/// Estimated width in pixels of `text` at `size` px in a sans-serif font.
pub fn text_width(text: &str, size: u32) -> u32 {
    (text.chars().count() as f64 * size as f64 * 0.56).ceil() as u32
}

/// A font of `size` pixels (plotters divides the size it is given by 1.24).
pub fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT, size as f64 * 1.24).into_font()).color(&BLACK)
}

/// `font` anchored at its left end, centred vertically.
pub fn font_left(size: u32) -> TextStyle<'static> {
    font(size).pos(Pos::new(HPos::Left, VPos::Center))
}

/// `font` anchored at its centre.
pub fn font_centre(size: u32) -> TextStyle<'static> {
    font(size).pos(Pos::new(HPos::Center, VPos::Center))
}

/// `c` mixed with white: `amount` 0 is `c`, 1 is white.
pub fn tint(c: RGBColor, amount: f64) -> RGBColor {
    let m = |v: u8| (v as f64 + (255.0 - v as f64) * amount).round() as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

/// A figure-wide legend in its own strip: one swatch and label per entry,
/// top to bottom, from `top` pixels down.
pub fn legend(area: &Area, top: i32, title: &str, entries: &[(RGBColor, String)]) -> Result<(), Skip> {
    let size = 13;
    let mut y = top;
    if !title.is_empty() {
        area.draw(&Text::new(title.to_string(), (8, y), font_left(size)))?;
        y += 22;
    }
    for (c, label) in entries {
        area.draw(&Rectangle::new([(8, y - 6), (22, y + 6)], c.filled()))?;
        area.draw(&Rectangle::new([(8, y - 6), (22, y + 6)], BLACK.stroke_width(1)))?;
        area.draw(&Text::new(label.clone(), (28, y), font_left(size)))?;
        y += 20;
    }
    Ok(())
}

/// An axis of f64 whose labels and grid lines sit at the values given
/// (plotters' own `with_key_points` loses the label formatter).
#[derive(Clone)]
pub struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub keys: Vec<f64>,
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let f = (v - self.lo) / (self.hi - self.lo);
        limit.0 + (f * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, _: H) -> Vec<f64> {
        self.keys.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Tick values for a linear axis over `0..=hi`: steps of 1, 2 or 5 times
/// a power of ten, about `n` of them.
pub fn linear_ticks(hi: f64, n: usize) -> Vec<f64> {
    if hi <= 0.0 {
        return vec![0.0];
    }
    let rough = hi / n.max(1) as f64;
    let p = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * p).find(|s| *s >= rough).unwrap_or(10.0 * p);
    (0..).map(|i| i as f64 * step).take_while(|v| *v <= hi * (1.0 + 1e-9)).collect()
}

/// A number as a person reads it: whole numbers with thousands separators,
/// others with one decimal.
pub fn number(v: f64) -> String {
    if v.fract() != 0.0 && v < 100.0 {
        return format!("{v:.1}");
    }
    let s = format!("{:.0}", v);
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A name made safe for a file name: letters, digits, '-', '_' and '.'.
pub fn file_part(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Whether `svg` is well-formed XML as far as an SVG needs: one root
    /// `<svg>` element, every tag closed in order, attributes quoted, text
    /// free of a bare '<' or '&'. (No XML crate: the tool has one dependency.)
    pub fn well_formed(svg: &str) -> Result<(), String> {
        let s = svg.trim_start();
        let s = match s.strip_prefix("<?xml") {
            Some(r) => r.split_once("?>").ok_or("unterminated <?xml")?.1.trim_start(),
            None => s,
        };
        if !s.starts_with("<svg") {
            return Err(format!("does not start with <svg: {:?}", &s[..s.len().min(40)]));
        }
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = s;
        let mut roots = 0;
        while let Some(lt) = rest.find('<') {
            check_text(&rest[..lt])?;
            if stack.is_empty() && !rest[..lt].trim().is_empty() {
                return Err("text outside the root element".into());
            }
            let gt = rest[lt..].find('>').ok_or("unterminated tag")? + lt;
            let tag = &rest[lt + 1..gt];
            rest = &rest[gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
                if open != name.trim() {
                    return Err(format!("<{open}> closed by </{name}>"));
                }
                continue;
            }
            if stack.is_empty() {
                roots += 1;
            }
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body.split_whitespace().next().ok_or("empty tag")?;
            check_attributes(&body[name.len()..])?;
            if !self_closing {
                stack.push(name);
            }
        }
        check_text(rest)?;
        if !stack.is_empty() {
            return Err(format!("unclosed <{}>", stack.join("> <")));
        }
        if roots != 1 {
            return Err(format!("{roots} root elements"));
        }
        Ok(())
    }

    fn check_text(t: &str) -> Result<(), String> {
        let mut rest = t;
        while let Some(a) = rest.find('&') {
            let semi = rest[a..].find(';').ok_or(format!("bare & in {t:?}"))?;
            let entity = &rest[a + 1..a + semi];
            if !(["lt", "gt", "amp", "quot", "apos"].contains(&entity) || entity.starts_with('#')) {
                return Err(format!("unknown entity &{entity};"));
            }
            rest = &rest[a + semi + 1..];
        }
        Ok(())
    }

    fn check_attributes(mut a: &str) -> Result<(), String> {
        loop {
            a = a.trim_start();
            if a.is_empty() {
                return Ok(());
            }
            let eq = a.find('=').ok_or(format!("attribute without value: {a:?}"))?;
            let v = &a[eq + 1..];
            let q = v.chars().next().filter(|c| *c == '"' || *c == '\'').ok_or(format!("unquoted attribute {a:?}"))?;
            let end = v[1..].find(q).ok_or("unterminated attribute")? + 1;
            check_text(&v[1..end])?;
            a = &v[end + 1..];
        }
    }

    /// Whether `svg` has a `<text>` element saying exactly `text` (escaped as
    /// the SVG backend escapes it).
    pub fn has_text(svg: &str, text: &str) -> bool {
        let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        svg.contains(&format!(">\n{escaped}\n</text>"))
    }

    /// Where the first `<text>` element saying exactly `text` is anchored:
    /// its x and y attributes.
    pub fn text_at(svg: &str, text: &str) -> Option<(i32, i32)> {
        let end = svg.find(&format!(">\n{text}\n</text>"))?;
        let tag = &svg[svg[..end].rfind("<text ")?..end];
        let attr = |name: &str| -> Option<i32> {
            let v = tag.split(&format!(" {name}=\"")).nth(1)?.split('"').next()?;
            v.parse().ok()
        };
        Some((attr("x")?, attr("y")?))
    }

    #[test]
    fn the_checker_tells_broken_svg() {
        assert!(well_formed("<svg a=\"1\"><g><text>x &amp; y</text></g><rect/></svg>").is_ok());
        assert!(well_formed("<svg><g></svg>").is_err());
        assert!(well_formed("<svg><text>a & b</text></svg>").is_err());
        assert!(well_formed("<svg a=1></svg>").is_err());
        assert!(well_formed("<svg></svg><svg></svg>").is_err());
        assert!(well_formed("<html></html>").is_err());
        let svg = "<svg><text x=\"10\" y=\"85\" dy=\"0.5ex\">\nbefore\n</text></svg>";
        assert_eq!(text_at(svg, "before"), Some((10, 85)));
        assert_eq!(text_at(svg, "after"), None);
    }

    #[test]
    fn ticks_and_numbers() {
        assert_eq!(linear_ticks(2082.0, 5), [0.0, 500.0, 1000.0, 1500.0, 2000.0]);
        assert_eq!(linear_ticks(9.0, 4), [0.0, 5.0]);
        assert_eq!(number(2082.0), "2,082");
        assert_eq!(number(1234567.0), "1,234,567");
        assert_eq!(number(216.0), "216");
        assert_eq!(number(9.5), "9.5");
        assert_eq!(file_part("grouping-on_compaction off/x"), "grouping-on_compaction_off_x");
    }
}
