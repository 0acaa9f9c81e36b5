//! The SVG charts of `memalloc bench` and `memalloc replay`, drawn with plotters.

use std::error::Error;
use std::path::Path;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

/// Chart size in pixels.
const SIZE: (u32, u32) = (900, 540);

/// One line of a line chart: a name for the legend and its points.
pub struct Line {
    /// The legend entry (a policy name).
    pub name: String,
    /// The points, in ascending x.
    pub points: Vec<(f64, f64)>,
}

/// The colour of the `i`-th series.
fn color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    COLORS[i % COLORS.len()]
}

/// The `i`-th series colour as (red, green, blue).
pub fn rgb(i: usize) -> (u8, u8, u8) {
    let c = color(i);
    (c.0, c.1, c.2)
}

/// `text` escaped for SVG or HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A line chart with a logarithmic x axis: `lines` over `[x_min, x_max]`, y from 0.
pub fn log_x_lines(
    path: &Path,
    title: &str,
    (x_desc, y_desc): (&str, &str),
    lines: &[Line],
) -> Result<(), Box<dyn Error>> {
    let xs = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
    let (x_min, x_max) = xs.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let (x_min, x_max) = if x_min > x_max { (1.0, 10.0) } else { (x_min / 1.5, x_max * 1.5) };
    let y_max = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(0.0, f64::max) * 1.15;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d((x_min..x_max).log_scale(), 0.0..y_max.max(1e-9))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x| count_label(*x))
        .y_label_formatter(&|y| count_label(*y))
        .draw()?;
    draw_lines(&mut chart, lines)?;
    root.present()?;
    Ok(())
}

/// A line chart with linear axes, y in `[0, 1]` (fractions).
pub fn fraction_lines(
    path: &Path,
    title: &str,
    (x_desc, y_desc): (&str, &str),
    lines: &[Line],
) -> Result<(), Box<dyn Error>> {
    let x_max = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)).fold(1.0, f64::max);
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..x_max, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels((x_max as usize).clamp(2, 10))
        .x_label_formatter(&|x| count_label(*x))
        .draw()?;
    draw_lines(&mut chart, lines)?;
    root.present()?;
    Ok(())
}

/// Draws each line with its points and a legend.
fn draw_lines<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    lines: &[Line],
) -> Result<(), Box<dyn Error>>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, line) in lines.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), c.stroke_width(2)))?
            .label(line.name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        if line.points.len() <= 50 {
            chart.draw_series(line.points.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// A bar chart: one bar per `(name, value)`, y in `[0, 1]`, the value written above it.
pub fn fraction_bars(path: &Path, title: &str, y_desc: &str, bars: &[(String, f64)]) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    // A discrete range holds both its ends: `0..=last` makes one segment per bar.
    let last = bars.len().saturating_sub(1) as u32;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d((0..last).into_segmented(), 0.0..1.1)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(bars.len().max(1))
        .y_desc(y_desc)
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                bars.get(*i as usize).map_or_else(String::new, |b| b.0.clone())
            }
            SegmentValue::Last => String::new(),
        })
        .draw()?;
    chart.draw_series(bars.iter().enumerate().map(|(i, (_, value))| {
        let i = i as u32;
        let mut bar = Rectangle::new(
            [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *value)],
            color(i as usize).filled(),
        );
        bar.set_margin(0, 0, 24, 24);
        bar
    }))?;
    chart.draw_series(bars.iter().enumerate().map(|(i, (_, value))| {
        Text::new(format!("{value:.3}"), (SegmentValue::CenterOf(i as u32), value + 0.05), ("sans-serif", 16))
    }))?;
    root.present()?;
    Ok(())
}

/// `x` as a short count: 1000 -> "1k", 1e6 -> "1M"; fractions of a decade as plain numbers.
pub fn count_label(x: f64) -> String {
    let units = [(1e9, "G"), (1e6, "M"), (1e3, "k")];
    for (scale, unit) in units {
        if x >= scale {
            let v = x / scale;
            return if (v - v.round()).abs() < 1e-6 { format!("{}{unit}", v.round()) } else { format!("{v:.1}{unit}") };
        }
    }
    if (x - x.round()).abs() < 1e-6 { format!("{}", x.round()) } else { format!("{x:.1}") }
}

#[cfg(test)]
mod tests {
    use super::count_label;

    #[test]
    fn counts_are_short() {
        assert_eq!(count_label(1000.0), "1k");
        assert_eq!(count_label(1_000_000.0), "1M");
        assert_eq!(count_label(2500.0), "2.5k");
        assert_eq!(count_label(12.0), "12");
    }
}
