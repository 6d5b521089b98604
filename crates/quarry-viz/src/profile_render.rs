//! A profile as a table (text and HTML) and its histograms as one
//! Vega-Lite spec of small charts.

use std::fmt::Write as _;

use quarry_text::markup::escape_html;
use serde_json::{Value, json};

use crate::VEGA_LITE_SCHEMA;
use crate::profile::{ColumnProfile, Profile};
use crate::values::compact;

/// `3.14159` → `3.142`; large and small numbers keep 4 significant digits.
fn number(value: f64) -> String {
    if value == 0.0 || (1e-3..1e6).contains(&value.abs()) {
        let text = format!("{value:.3}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        text.to_string()
    } else {
        format!("{value:.3e}")
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "–".into();
    }
    let share = part as f64 / whole as f64 * 100.0;
    match share {
        0.0 => "0%".into(),
        s if s < 0.1 => "<0.1%".into(),
        s => format!("{s:.1}%"),
    }
}

/// A value as the engine wrote it, shortened when it is a long decimal.
fn value(text: &Option<String>) -> String {
    match text {
        Some(t) if t.contains('.') => t.parse::<f64>().map_or_else(|_| t.clone(), number),
        Some(t) => t.clone(),
        None => String::new(),
    }
}

/// One table row's cells, in [`HEADERS`] order.
fn cells(column: &ColumnProfile, rows: u64) -> Vec<String> {
    let opt = |v: Option<f64>| v.map(number).unwrap_or_default();
    let quartiles = column
        .quartiles
        .map(|q| format!("{} · {} · {}", number(q[0]), number(q[1]), number(q[2])))
        .unwrap_or_default();
    let top = column
        .top
        .iter()
        .map(|(value, count)| format!("{value} ({})", percent(*count, rows)))
        .collect::<Vec<_>>()
        .join(", ");
    // Text lengths have a column of their own: a mean of lengths is not a
    // mean of the values.
    let mean = column.mean.map(number).unwrap_or_default();
    let length = column.mean_length.map(number).unwrap_or_default();
    vec![
        column.name.clone(),
        column.data_type.clone(),
        percent(rows - column.non_null.min(rows), rows),
        format!("≈{}", compact(column.distinct)),
        value(&column.min),
        value(&column.max),
        mean,
        opt(column.std),
        length,
        quartiles,
        top,
        column.flags.join(", "),
    ]
}

const HEADERS: [&str; 12] = [
    "column",
    "type",
    "nulls",
    "distinct",
    "min",
    "max",
    "mean",
    "std",
    "mean length",
    "p25 · p50 · p75",
    "top values",
    "flags",
];

impl Profile {
    /// The first line of the profile: what it covers.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} rows · {} columns",
            quarry_text::numbers::group_thousands(self.rows),
            self.columns.len() + self.skipped
        );
        if self.skipped > 0 {
            let _ = write!(
                text,
                " ({} not profiled: at most {} are)",
                self.skipped,
                crate::MAX_PROFILED_COLUMNS
            );
        }
        text
    }

    /// The profile as text, one line per column.
    pub fn plain(&self) -> String {
        let mut text = format!("{}\n", self.summary());
        for column in &self.columns {
            let cells = cells(column, self.rows);
            let described: Vec<String> = HEADERS[1..]
                .iter()
                .zip(&cells[1..])
                .filter(|(_, v)| !v.is_empty())
                .map(|(h, v)| format!("{h}: {v}"))
                .collect();
            let _ = writeln!(text, "{} — {}", cells[0], described.join("; "));
        }
        text
    }

    /// The profile as an HTML table.
    pub fn html(&self) -> String {
        let mut html = format!(
            "<div class=\"quarry-profile\" style=\"overflow-x: auto\"><p>{}</p><table><thead><tr>",
            escape_html(&self.summary())
        );
        for header in HEADERS {
            let _ = write!(html, "<th>{}</th>", escape_html(header));
        }
        html.push_str("</tr></thead><tbody>");
        for column in &self.columns {
            html.push_str("<tr>");
            for cell in cells(column, self.rows) {
                // One line per column at ordinary widths: quartiles and top
                // values do not wrap (the table scrolls instead).
                let _ = write!(
                    html,
                    "<td style=\"white-space: nowrap\">{}</td>",
                    escape_html(&cell)
                );
            }
            html.push_str("</tr>");
        }
        html.push_str("</tbody></table></div>");
        html
    }

    /// Each number and time column's histogram as a small chart, all in
    /// one Vega-Lite spec (`None` when no column has one).
    pub fn histograms(&self) -> Option<Value> {
        let with_bins: Vec<&ColumnProfile> = self
            .columns
            .iter()
            .filter(|c| !c.histogram.is_empty())
            .collect();
        if with_bins.is_empty() {
            return None;
        }
        let mut values = Vec::new();
        let mut views = Vec::new();
        for column in &with_bins {
            let time =
                column.data_type.starts_with("Timestamp") || column.data_type.starts_with("Date");
            for (start, end, count) in &column.histogram {
                let (start, end) = if time {
                    (json!(start * 1000.0), json!(end * 1000.0))
                } else {
                    (json!(start), json!(end))
                };
                values.push(
                    json!({"column": column.name, "start": start, "end": end, "count": count}),
                );
            }
            let x_type = if time { "temporal" } else { "quantitative" };
            views.push(json!({
                "title": {"text": column.name, "fontSize": 11},
                "transform": [{"filter": {"field": "column", "equal": column.name}}],
                "mark": {"type": "bar", "tooltip": true},
                "encoding": {
                    "x": {"field": "start", "type": x_type, "bin": {"binned": true}, "title": null, "axis": {"labelFontSize": 9, "tickCount": 4}},
                    "x2": {"field": "end"},
                    "y": {"field": "count", "type": "quantitative", "title": null, "axis": {"labelFontSize": 9, "tickCount": 2}},
                },
                "width": 200,
                "height": 50,
            }));
        }
        Some(json!({
            "$schema": VEGA_LITE_SCHEMA,
            "title": {"text": "Histograms", "subtitle": format!("{} rows, every row binned", compact(self.rows))},
            "data": {"values": values},
            "concat": views,
            "columns": 3,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(1.23456), "1.235");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(12_345_678.0), "1.235e7");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(1, 100_000), "<0.1%");
    }
}
