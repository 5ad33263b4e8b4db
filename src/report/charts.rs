//! The page's markup primitives: HTML escaping and the inline SVG charts (grouped
//! bars, trend lines), with their `data-` attributes.

use std::fmt::Write as _;

/// One bar: its series, its value on the chart's scale, and the text beside it.
pub(super) type Bar<'a> = (&'a str, f64, String);
/// A labelled group of bars, one per series.
pub(super) type Group<'a> = (String, Vec<Bar<'a>>);

const SERIES: [&str; 5] = ["#1f5fa8", "#7fb3e6", "#e07b39", "#c23b22", "#3a9d5d"];

/// Text for HTML content and attribute values.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

/// What a trend's values are.
#[derive(Clone, Copy)]
pub(super) enum Scale {
    /// Counts from zero to their largest value.
    Count,
    /// Percentages from 0 to 100, one decimal.
    Percent,
}

impl Scale {
    /// A value as its `data-` attribute writes it.
    fn data(self, v: f64) -> String {
        match self {
            Scale::Count => format!("{v:.0}"),
            Scale::Percent => format!("{v:.1}"),
        }
    }

    /// A value as the chart labels it.
    fn label(self, v: f64) -> String {
        match self {
            Scale::Count => format!("{v:.0}"),
            Scale::Percent => format!("{v:.1}%"),
        }
    }
}

/// The values of a trend for its `data-points` attribute; a sync without one is empty.
pub(super) fn points_data(points: &[(String, Option<f64>)], scale: Scale) -> Vec<String> {
    points
        .iter()
        .map(|(_, v)| v.map_or_else(String::new, |v| scale.data(v)))
        .collect()
}

/// A horizontal grouped bar chart: one group per label, one bar per series.
pub(super) fn bar_chart(id: &str, title: &str, series: &[&str], groups: &[Group], max: f64) -> String {
    const LABEL_W: f64 = 230.0;
    const BAR_AREA: f64 = 520.0;
    const BAR_H: f64 = 14.0;
    const GAP: f64 = 3.0;
    const GROUP_GAP: f64 = 12.0;
    const LEGEND_H: f64 = 24.0;
    let per_group = series.len() as f64 * (BAR_H + GAP) - GAP;
    let height = LEGEND_H + groups.len() as f64 * (per_group + GROUP_GAP);
    let width = LABEL_W + BAR_AREA + 120.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<figure><svg id=\"{}\" role=\"img\" viewBox=\"0 0 {width} {height}\" width=\"100%\" aria-label=\"{}\">\n<title>{}</title>\n",
        esc(id),
        esc(title),
        esc(title)
    );
    for (i, name) in series.iter().enumerate() {
        let x = LABEL_W + i as f64 * 130.0;
        let _ = writeln!(
            svg,
            "<rect x=\"{x}\" y=\"4\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"14\">{}</text>",
            SERIES[i % SERIES.len()],
            x + 16.0,
            esc(name)
        );
    }
    for (g, (label, bars)) in groups.iter().enumerate() {
        let top = LEGEND_H + g as f64 * (per_group + GROUP_GAP);
        let shown: String = if label.chars().count() > 34 {
            label.chars().take(33).chain(['…']).collect()
        } else {
            label.clone()
        };
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            LABEL_W - 8.0,
            top + per_group / 2.0 + 4.0,
            esc(&shown)
        );
        for (i, (name, value, text)) in bars.iter().enumerate() {
            let y = top + i as f64 * (BAR_H + GAP);
            let w = if max > 0.0 {
                (value / max).clamp(0.0, 1.0) * BAR_AREA
            } else {
                0.0
            };
            let _ = writeln!(
                svg,
                "<rect class=\"bar\" data-series=\"{}\" data-value=\"{value}\" x=\"{LABEL_W}\" y=\"{y}\" width=\"{w:.1}\" height=\"{BAR_H}\" fill=\"{}\"><title>{}: {} {}</title></rect>\
                 <text x=\"{:.1}\" y=\"{}\">{}</text>",
                esc(name),
                SERIES[i % SERIES.len()],
                esc(label),
                esc(name),
                esc(text),
                LABEL_W + w + 6.0,
                y + BAR_H - 3.0,
                esc(text)
            );
        }
    }
    svg.push_str("</svg></figure>\n");
    svg
}

/// A line chart of values over the recorded syncs; a sync without a value leaves a gap.
pub(super) fn line_chart(points: &[(String, Option<f64>)], scale: Scale) -> String {
    const W: f64 = 640.0;
    const H: f64 = 130.0;
    const LEFT: f64 = 44.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 18.0;
    const BOTTOM: f64 = 30.0;
    // Points stay clear of the axis and the right edge.
    const INSET: f64 = 24.0;
    let max = match scale {
        Scale::Count => points.iter().filter_map(|(_, v)| *v).fold(1.0, f64::max),
        Scale::Percent => 100.0,
    };
    let plot_w = W - LEFT - RIGHT - 2.0 * INSET;
    let plot_h = H - TOP - BOTTOM;
    let x = |i: usize| {
        if points.len() <= 1 {
            LEFT + INSET + plot_w / 2.0
        } else {
            LEFT + INSET + plot_w * i as f64 / (points.len() - 1) as f64
        }
    };
    let y = |v: f64| TOP + plot_h * (1.0 - v / max);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg class=\"trend\" role=\"img\" viewBox=\"0 0 {W} {H}\" width=\"100%\">\n\
         <line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{b}\" stroke=\"#8c959f\"/>\
         <line x1=\"{LEFT}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#8c959f\"/>\n\
         <text x=\"{lx}\" y=\"{}\" text-anchor=\"end\">{}</text><text x=\"{lx}\" y=\"{}\" text-anchor=\"end\">0</text>",
        TOP + 4.0,
        scale.label(max),
        H - BOTTOM + 4.0,
        b = H - BOTTOM,
        r = W - RIGHT,
        lx = LEFT - 6.0,
    );
    // Consecutive recorded counts form one line; a missing count breaks it.
    let mut segment: Vec<String> = Vec::new();
    let flush = |segment: &mut Vec<String>, svg: &mut String| {
        if segment.len() > 1 {
            let _ = writeln!(
                svg,
                "<polyline fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"2\" points=\"{}\"/>",
                segment.join(" ")
            );
        }
        segment.clear();
    };
    for (i, (_, v)) in points.iter().enumerate() {
        match v {
            Some(v) => segment.push(format!("{:.1},{:.1}", x(i), y(*v))),
            None => flush(&mut segment, &mut svg),
        }
    }
    flush(&mut segment, &mut svg);
    for (i, (when, v)) in points.iter().enumerate() {
        if let Some(v) = v {
            let (data, label) = (scale.data(*v), scale.label(*v));
            let _ = writeln!(
                svg,
                "<circle class=\"point\" data-value=\"{data}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#1f5fa8\"><title>{}: {label}</title></circle>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
                x(i),
                y(*v),
                esc(when),
                x(i),
                y(*v) - 7.0
            );
        }
    }
    let label = |i: usize, anchor: &str| {
        format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            x(i),
            H - BOTTOM + 18.0,
            esc(points[i].0.get(..10).unwrap_or(&points[i].0))
        )
    };
    if let Some(last) = points.len().checked_sub(1) {
        if last == 0 {
            svg.push_str(&label(0, "middle"));
        } else {
            svg.push_str(&label(0, "start"));
            svg.push_str(&label(last, "end"));
        }
    }
    svg.push_str("\n</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_breaks_where_a_sync_has_no_count() {
        let svg = line_chart(
            &[
                ("2024-01-01T00:00:00Z".into(), Some(2.0)),
                ("2024-01-02T00:00:00Z".into(), Some(4.0)),
                ("2024-01-03T00:00:00Z".into(), None),
                ("2024-01-04T00:00:00Z".into(), Some(1.0)),
            ],
            Scale::Count,
        );
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("class=\"point\"").count(), 3);
        assert!(svg.contains("points=\"68.0,59.0 245.3,18.0\""), "{svg}");
    }

    #[test]
    fn a_completion_trend_spans_zero_to_a_hundred_percent() {
        let svg = line_chart(
            &[
                ("2024-01-01T00:00:00Z".into(), Some(50.0)),
                ("2024-01-02T00:00:00Z".into(), Some(66.7)),
            ],
            Scale::Percent,
        );
        // 50% sits half way down the 82-unit plot that starts at 18.
        assert!(svg.contains("points=\"68.0,59.0 600.0,45.3\""), "{svg}");
        assert!(svg.contains("data-value=\"66.7\""), "{svg}");
        assert!(svg.contains(">66.7%</text>"), "{svg}");
        assert!(svg.contains(">100.0%</text>"), "{svg}");
    }
}
