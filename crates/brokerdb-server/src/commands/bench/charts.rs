//! SVG charts of one operation against the number of callers, with `plotters`' SVG backend only
//! (text goes out as SVG `<text>`, laid out with plotters' built-in estimate: no font file, no
//! system font).
//!
//! The x axis is logarithmic in callers (1, 2, 4, … equally spaced, labelled at powers of 2). Latency is on a logarithmic y axis, so sub-millisecond medians and the budget lines
//! hundreds of milliseconds above them show on one chart.

use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::budgets::{Budget, Statistic};
use super::stats::Measurement;

const SIZE: (u32, u32) = (900, 560);
/// The x axis' label.
pub const X_LABEL: &str = "concurrent callers";
/// The throughput chart's y axis label.
pub const THROUGHPUT_LABEL: &str = "throughput (operations/s)";
/// The latency chart's y axis label.
pub const LATENCY_LABEL: &str = "latency (ms, log scale)";

/// One line: an implementation's (callers, value) points, in callers order.
struct Line<'a> {
    label: &'a str,
    points: Vec<(usize, &'a Measurement)>,
}

/// Groups `rows` (one operation's) by implementation, in first-seen order.
fn lines<'a>(rows: &[&'a Measurement]) -> Vec<Line<'a>> {
    let mut out: Vec<Line<'a>> = Vec::new();
    for m in rows {
        match out.iter_mut().find(|l| l.label == m.implementation) {
            Some(line) => line.points.push((m.callers, m)),
            None => out.push(Line {
                label: &m.implementation,
                points: vec![(m.callers, m)],
            }),
        }
    }
    for line in &mut out {
        line.points.sort_by_key(|(c, _)| *c);
    }
    out
}

fn x_of(callers: usize) -> f64 {
    (callers.max(1) as f64).log2()
}

/// The x range (log2 of callers, padded) and how many labels it wants (one per power of 2).
fn x_axis(rows: &[&Measurement]) -> (std::ops::Range<f64>, usize) {
    let xs = rows.iter().map(|m| x_of(m.callers));
    let (lo, hi) = xs.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let (lo, hi) = if lo > hi { (0.0, 0.0) } else { (lo, hi) };
    let labels = (hi - lo).round() as usize + 1;
    ((lo - 0.25)..(hi + 0.25), labels.max(2))
}

/// A tick at a power of 2 shows the callers count; ticks between them stay unlabelled.
fn callers_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("{}", 2f64.powf(x.round()))
    } else {
        String::new()
    }
}

fn color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 6] = [
        RGBColor(31, 119, 180),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(23, 190, 207),
    ];
    COLORS[i % COLORS.len()]
}

fn budget_color(b: &Budget) -> RGBColor {
    match (b.source.starts_with("seed"), b.statistic) {
        (true, Statistic::Median) => RGBColor(214, 39, 40),
        (true, Statistic::P95) => RGBColor(160, 20, 20),
        (false, Statistic::Median) => RGBColor(227, 119, 194),
        (false, Statistic::P95) => RGBColor(160, 60, 130),
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `100`, `2.5`, `0.1`: no trailing zeros.
fn ms_label(v: &f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("cannot draw the chart: {e}")
}

/// Throughput against callers, one line per implementation.
pub fn throughput(path: &Path, operation: &str, rows: &[&Measurement]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (x_range, x_labels) = x_axis(rows);
    let top = rows.iter().map(|m| m.throughput).fold(1.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{operation}: throughput"), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(x_range, 0.0..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(X_LABEL)
        .x_labels(x_labels)
        .light_line_style(TRANSPARENT)
        .y_desc(THROUGHPUT_LABEL)
        .x_label_formatter(&callers_label)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(err)?;
    for (i, line) in lines(rows).into_iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(
                LineSeries::new(
                    line.points
                        .iter()
                        .map(|(callers, m)| (x_of(*callers), m.throughput)),
                    c.stroke_width(2),
                )
                .point_size(3),
            )
            .map_err(err)?
            .label(line.label.to_owned())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// p50 (solid) and p99 (dashed) latency against callers, one colour per implementation, and
/// `budgets` as labelled horizontal lines.
pub fn latency(
    path: &Path,
    operation: &str,
    rows: &[&Measurement],
    budgets: &[Budget],
) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (x_range, x_labels) = x_axis(rows);
    let (x0, x1) = (x_range.start, x_range.end);
    let values = rows
        .iter()
        .flat_map(|m| [ms(m.p50), ms(m.p99)])
        .chain(budgets.iter().map(|b| b.ms));
    let (lo, hi) = values.fold((f64::MAX, 0.0_f64), |(lo, hi), v| {
        (if v > 0.0 { lo.min(v) } else { lo }, hi.max(v))
    });
    let lo = if lo == f64::MAX {
        0.01
    } else {
        (lo / 1.6).max(0.001)
    };
    // Headroom above the highest value for the legend (upper right).
    let hi = (hi * 5.0).max(lo * 10.0);
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{operation}: latency"), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(x_range, (lo..hi).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(X_LABEL)
        .x_labels(x_labels)
        .light_line_style(TRANSPARENT)
        .y_desc(LATENCY_LABEL)
        .x_label_formatter(&callers_label)
        .y_label_formatter(&ms_label)
        .draw()
        .map_err(err)?;
    for (i, line) in lines(rows).into_iter().enumerate() {
        let c = color(i);
        let p50 = line.points.iter().map(|(n, m)| (x_of(*n), ms(m.p50)));
        chart
            .draw_series(LineSeries::new(p50, c.stroke_width(2)).point_size(3))
            .map_err(err)?
            .label(format!("{} p50", line.label))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        let p99: Vec<(f64, f64)> = line
            .points
            .iter()
            .map(|(n, m)| (x_of(*n), ms(m.p99)))
            .collect();
        chart
            .draw_series(DashedLineSeries::new(p99, 6, 4, c.stroke_width(1)))
            .map_err(err)?
            .label(format!("{} p99", line.label))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 8, y)], c.stroke_width(1)));
    }
    for b in budgets {
        let c = budget_color(b);
        let label = b.label();
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, b.ms), (x1, b.ms)],
                10,
                3,
                c.stroke_width(2),
            ))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                label,
                (x0 + (x1 - x0) * 0.02, b.ms * 1.04),
                ("sans-serif", 12)
                    .into_font()
                    .color(&c)
                    .pos(Pos::new(HPos::Left, VPos::Bottom)),
            )))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
