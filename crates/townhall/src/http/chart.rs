//! Charts drawn on the server as inline SVG, each with its numbers in a table, so a
//! page needs no script and a screen reader gets the same figures as the eye.
//!
//! # Using a chart
//!
//! Build a [`BarChart`] in the handler, with every word already taken from the
//! catalogue, and put it in the page's template struct in a field named `chart`;
//! the template includes `chart.html` where the chart goes:
//!
//! ```text
//! // handler
//! let mut chart = BarChart::new("weekly", t.get("public.chart.title"), vec![opened, answered]);
//! chart.description = t.get("public.chart.desc").to_owned();
//! chart.group_header = t.get("public.chart.week").to_owned();
//! chart.table_label = t.get("public.chart.table").to_owned();
//! for week in &weeks {
//!     chart.push(week.start.format("%m-%d").to_string(), &[week.opened as f64, week.answered as f64]);
//! }
//!
//! // template: one chart, or several as `{% for chart in charts %}…{% endfor %}`
//! {% include "chart.html" %}
//! ```
//!
//! `chart.html` renders a `<figure>`: an `<svg role="img">` labelled by its `<title>`
//! (the chart's title) and `<desc>` (its description), a legend naming each series,
//! and a `<details>` holding a `<table>` with one row per group and one column per
//! series — the same numbers the bars show. The `id` must be unique in the page: the
//! SVG's `aria-labelledby` ids derive from it. Bars carry the classes `bar s0`,
//! `bar s1`, … (one per series, coloured in `townhall.css`), so the page needs no
//! inline style; every text is escaped by askama.
//!
//! Scale: the value axis starts at 0 and ends at a round number (1, 2 or 5 × 10ⁿ
//! steps) at or above the largest value, with whole-number steps when every value is
//! whole; a chart whose values are all 0, or that has no group, still draws its axis.
//! Negative values are drawn as 0 (bars show counts and amounts) and listed as they
//! are in the table.

/// Width of the SVG's coordinate space; the SVG scales to its container.
pub const WIDTH: f64 = 640.0;
/// Height of the SVG's coordinate space.
pub const HEIGHT: f64 = 240.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
/// Share of a group's width its bars take; the rest separates groups.
const FILL: f64 = 0.8;

/// A grouped bar chart: for each group (e.g. a week) one bar per series (e.g.
/// "opened", "answered").
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Unique in the page; prefixes the ids of the SVG's title and description.
    pub id: String,
    /// What the chart shows, e.g. "Cases opened and answered per week".
    pub title: String,
    /// The chart in a sentence for screen readers (the SVG's `<desc>`); the title
    /// when empty.
    pub description: String,
    /// The table's header for the group column, e.g. "Week".
    pub group_header: String,
    /// The label that opens the table, e.g. "The numbers as a table".
    pub table_label: String,
    /// The series' names, in the order of each group's values.
    pub series: Vec<String>,
    /// The groups, left to right.
    pub groups: Vec<Group>,
}

/// One group of bars: its label on the axis and one value per series.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Shown under the group and in the table's first column.
    pub label: String,
    /// One value per series; a missing one counts as 0.
    pub values: Vec<f64>,
}

/// A bar, in the SVG's coordinates (already formatted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// Left edge.
    pub x: String,
    /// Top edge.
    pub y: String,
    /// Width.
    pub width: String,
    /// Height.
    pub height: String,
    /// The series' index, for its class `s{series}`.
    pub series: usize,
}

/// A label on an axis, in the SVG's coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Horizontal position.
    pub x: String,
    /// Vertical position.
    pub y: String,
    /// The text.
    pub text: String,
}

/// A table row: the group's label and its values as the table shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The group's label.
    pub label: String,
    /// One formatted value per series.
    pub cells: Vec<String>,
}

impl BarChart {
    /// An empty chart with these series; words not given here are empty until set.
    pub fn new(id: impl Into<String>, title: impl Into<String>, series: Vec<String>) -> BarChart {
        BarChart {
            id: id.into(),
            title: title.into(),
            description: String::new(),
            group_header: String::new(),
            table_label: String::new(),
            series,
            groups: Vec::new(),
        }
    }

    /// Adds a group on the right.
    pub fn push(&mut self, label: impl Into<String>, values: &[f64]) {
        self.groups.push(Group { label: label.into(), values: values.to_vec() });
    }

    /// The `<desc>`: the description, or the title when there is none.
    pub fn desc(&self) -> &str {
        if self.description.is_empty() { &self.title } else { &self.description }
    }

    /// The value of series `series` in `group`, 0 when missing.
    fn value(group: &Group, series: usize) -> f64 {
        group.values.get(series).copied().filter(|v| v.is_finite()).unwrap_or(0.0)
    }

    /// The top of the value axis and the step between its ticks.
    pub fn scale(&self) -> (f64, f64) {
        let max = self
            .groups
            .iter()
            .flat_map(|g| (0..self.series.len()).map(|s| BarChart::value(g, s)))
            .fold(0.0_f64, f64::max);
        let whole = self.groups.iter().all(|g| g.values.iter().all(|v| v.fract() == 0.0));
        let rough = if max > 0.0 { max / 4.0 } else { 0.25 };
        let magnitude = 10f64.powf(rough.log10().floor());
        let mut step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= rough).unwrap_or(rough);
        if whole {
            step = step.max(1.0).round();
        }
        let top = ((max / step).ceil() * step).max(step);
        (top, step)
    }

    fn plot_height() -> f64 {
        HEIGHT - TOP - BOTTOM
    }

    fn y_of(&self, value: f64) -> f64 {
        let (top, _) = self.scale();
        TOP + BarChart::plot_height() * (1.0 - value.max(0.0).min(top) / top)
    }

    fn group_width(&self) -> f64 {
        (WIDTH - LEFT - RIGHT) / self.groups.len().max(1) as f64
    }

    /// Every bar, group by group.
    pub fn bars(&self) -> Vec<Bar> {
        let group_width = self.group_width();
        let series = self.series.len().max(1);
        let bar_width = group_width * FILL / series as f64;
        let bottom = TOP + BarChart::plot_height();
        let mut bars = Vec::with_capacity(self.groups.len() * series);
        for (g, group) in self.groups.iter().enumerate() {
            let left = LEFT + g as f64 * group_width + group_width * (1.0 - FILL) / 2.0;
            for s in 0..self.series.len() {
                let y = self.y_of(BarChart::value(group, s));
                bars.push(Bar {
                    x: coordinate(left + s as f64 * bar_width),
                    y: coordinate(y),
                    width: coordinate(bar_width),
                    height: coordinate(bottom - y),
                    series: s,
                });
            }
        }
        bars
    }

    /// The value axis's labels, from 0 up, right-aligned left of the plot.
    pub fn ticks(&self) -> Vec<Label> {
        let (top, step) = self.scale();
        let count = (top / step).round() as usize;
        (0..=count)
            .map(|i| {
                let value = step * i as f64;
                Label { x: coordinate(LEFT - 6.0), y: coordinate(self.y_of(value) + 4.0), text: number(value) }
            })
            .collect()
    }

    /// The horizontal grid lines' heights, one per tick.
    pub fn grid(&self) -> Vec<String> {
        let (top, step) = self.scale();
        let count = (top / step).round() as usize;
        (0..=count).map(|i| coordinate(self.y_of(step * i as f64))).collect()
    }

    /// The groups' labels, centred under each group.
    pub fn labels(&self) -> Vec<Label> {
        let group_width = self.group_width();
        self.groups
            .iter()
            .enumerate()
            .map(|(g, group)| Label {
                x: coordinate(LEFT + (g as f64 + 0.5) * group_width),
                y: coordinate(HEIGHT - BOTTOM + 18.0),
                text: group.label.clone(),
            })
            .collect()
    }

    /// Where the plot starts and ends, for the axis lines: (left, right, bottom).
    pub fn frame(&self) -> (String, String, String) {
        (coordinate(LEFT), coordinate(WIDTH - RIGHT), coordinate(TOP + BarChart::plot_height()))
    }

    /// The table's rows: the same numbers the bars show.
    pub fn rows(&self) -> Vec<Row> {
        self.groups
            .iter()
            .map(|group| Row {
                label: group.label.clone(),
                cells: (0..self.series.len()).map(|s| number(group.values.get(s).copied().unwrap_or(0.0))).collect(),
            })
            .collect()
    }

    /// The SVG's `viewBox`.
    pub fn view_box(&self) -> String {
        format!("0 0 {} {}", coordinate(WIDTH), coordinate(HEIGHT))
    }
}

/// A coordinate with at most one decimal.
fn coordinate(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 { format!("{rounded:.0}") } else { format!("{rounded:.1}") }
}

/// A value as the table and axis show it: whole numbers without decimals, others
/// with one.
pub fn number(value: f64) -> String {
    if !value.is_finite() {
        return "—".to_owned();
    }
    if value.fract() == 0.0 { format!("{value:.0}") } else { format!("{value:.1}") }
}

#[cfg(test)]
mod tests {
    use askama::Template;

    use super::*;

    fn weekly(values: &[(f64, f64)]) -> BarChart {
        let mut chart = BarChart::new("c", "Cases per week", vec!["Opened".into(), "Answered".into()]);
        for (i, (opened, answered)) in values.iter().enumerate() {
            chart.push(format!("W{i}"), &[*opened, *answered]);
        }
        chart
    }

    #[test]
    fn bars_scale_to_a_round_top() {
        let chart = weekly(&[(10.0, 5.0), (37.0, 0.0)]);
        assert_eq!(chart.scale(), (40.0, 10.0));
        let bars = chart.bars();
        assert_eq!(bars.len(), 4);
        let height = |b: &Bar| b.height.parse::<f64>().unwrap();
        let plot = HEIGHT - TOP - BOTTOM;
        assert!((height(&bars[0]) - plot * 10.0 / 40.0).abs() < 0.1);
        assert!((height(&bars[2]) - plot * 37.0 / 40.0).abs() < 0.1);
        assert_eq!(height(&bars[3]), 0.0);
        // Bars sit on the axis, series alternate, groups go left to right.
        let bottom = TOP + plot;
        assert!(bars.iter().all(|b| (b.y.parse::<f64>().unwrap() + height(b) - bottom).abs() < 0.15));
        assert_eq!(bars.iter().map(|b| b.series).collect::<Vec<_>>(), [0, 1, 0, 1]);
        let x = |b: &Bar| b.x.parse::<f64>().unwrap();
        assert!(x(&bars[0]) < x(&bars[1]) && x(&bars[1]) < x(&bars[2]));
        assert!(bars.iter().all(|b| x(b) >= LEFT && x(b) + b.width.parse::<f64>().unwrap() <= WIDTH - RIGHT));
        let ticks: Vec<String> = chart.ticks().into_iter().map(|t| t.text).collect();
        assert_eq!(ticks, ["0", "10", "20", "30", "40"]);
    }

    #[test]
    fn small_and_fractional_values_get_fitting_steps() {
        assert_eq!(weekly(&[(1.0, 3.0)]).scale(), (3.0, 1.0), "whole numbers step by whole numbers");
        let (top, step) = weekly(&[(0.3, 0.1)]).scale();
        assert!((top - 0.3).abs() < 1e-9 && (step - 0.1).abs() < 1e-9, "{top} {step}");
        assert_eq!(weekly(&[(1234.0, 0.0)]).scale(), (1500.0, 500.0));
        let (top, step) = weekly(&[(-5.0, 2.0)]).scale();
        assert_eq!((top, step), (2.0, 1.0), "negative values draw as 0");
        assert_eq!(weekly(&[(-5.0, 2.0)]).bars()[0].height, "0");
    }

    #[test]
    fn an_empty_chart_still_has_an_axis_and_no_bars() {
        for chart in [weekly(&[]), weekly(&[(0.0, 0.0), (0.0, 0.0)])] {
            assert_eq!(chart.scale(), (1.0, 1.0));
            assert!(chart.bars().iter().all(|b| b.height == "0"));
            assert_eq!(chart.ticks().iter().map(|t| t.text.as_str()).collect::<Vec<_>>(), ["0", "1"]);
        }
        assert!(weekly(&[]).bars().is_empty());
        assert!(weekly(&[]).rows().is_empty());
        let mut no_series = BarChart::new("n", "Nothing", Vec::new());
        no_series.push("A", &[]);
        assert!(no_series.bars().is_empty());
        assert_eq!(no_series.rows()[0].cells.len(), 0);
    }

    #[derive(Template)]
    #[template(path = "chart.html")]
    struct Page<'a> {
        chart: &'a BarChart,
    }

    #[test]
    fn the_table_holds_the_same_numbers_as_the_bars() {
        let mut chart = weekly(&[(12.0, 9.0), (0.0, 0.0), (7.0, 2.5)]);
        chart.description = "Opened <and> answered".into();
        chart.group_header = "Week".into();
        chart.table_label = "As a table".into();
        let rows = chart.rows();
        assert_eq!(rows[0].cells, ["12", "9"]);
        assert_eq!(rows[2].cells, ["7", "2.5"]);
        let html = Page { chart: &chart }.render().unwrap();
        assert!(html.contains(r#"<svg role="img" aria-labelledby="c-title c-desc""#), "{html}");
        assert!(html.contains(r#"<title id="c-title">Cases per week</title>"#), "{html}");
        assert!(html.contains("Opened &#60;and&#62; answered") || html.contains("Opened &lt;and&gt; answered"));
        assert_eq!(html.matches("<rect class=\"bar s").count(), 6);
        let header = r#"<th scope="col">Week</th><th scope="col"><bdi>Opened</bdi></th><th scope="col"><bdi>Answered</bdi></th>"#;
        assert!(html.contains(header), "{html}");
        for (label, cells) in [("W0", ["12", "9"]), ("W1", ["0", "0"]), ("W2", ["7", "2.5"])] {
            let row = format!(
                r#"<tr><th scope="row"><bdi>{label}</bdi></th><td class="num">{}</td><td class="num">{}</td></tr>"#,
                cells[0], cells[1]
            );
            assert!(html.contains(&row), "{row} in {html}");
        }
        assert!(!html.contains("style="), "no inline style");
    }
}
