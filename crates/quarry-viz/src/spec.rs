//! The chart's marks as a Vega-Lite v5 spec, with what it summarises in
//! its subtitle.

use arrow::record_batch::RecordBatch;
use serde_json::{Map, Value, json};

use crate::columns::Role;
use crate::plan::{Dim, Shape};
use crate::values::{compact, numbers, texts};
use crate::{ChartError, ChartKind, VEGA_LITE_SCHEMA};

/// One mark's fields, in the names the spec's encodings use.
pub(crate) type Row = Map<String, Value>;

/// The chart query's answer as rows of `x`, `x_end`, `y`, `y_end`,
/// `color`, `facet`, `value`, `rank`.
pub(crate) fn rows(shape: &Shape, batches: &[RecordBatch]) -> Result<Vec<Row>, ChartError> {
    let length: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let mut rows = vec![Row::new(); length];
    put_dim(&mut rows, batches, "x", &shape.x)?;
    if let Some(y) = &shape.y {
        put_dim(&mut rows, batches, "y", y)?;
    }
    for alias in ["color", "facet"] {
        if shape.color.is_some() && alias == "color" || shape.facet.is_some() && alias == "facet" {
            put_labels(&mut rows, texts(batches, alias)?, alias);
        }
    }
    if shape.measure.is_some() {
        put_numbers(&mut rows, numbers(batches, "value")?, "value");
    }
    if let Dim::Category { top: Some(top), .. } = &shape.x {
        label_other(&mut rows, batches, *top)?;
    }
    Ok(rows)
}

fn put_dim(
    rows: &mut [Row],
    batches: &[RecordBatch],
    alias: &str,
    dim: &Dim,
) -> Result<(), ChartError> {
    match dim {
        Dim::Bins { step, .. } => {
            let starts = numbers(batches, alias)?;
            let ends: Vec<Option<f64>> = starts.iter().map(|s| s.map(|s| s + step)).collect();
            put_numbers(rows, starts, alias);
            put_numbers(rows, ends, &format!("{alias}_end"));
        }
        Dim::Raw { column } if column.role == Role::Number => {
            put_numbers(rows, numbers(batches, alias)?, alias)
        }
        Dim::Time { .. } => {
            for (row, value) in rows.iter_mut().zip(texts(batches, alias)?) {
                row.insert(alias.into(), value.map_or(Value::Null, Value::String));
            }
        }
        Dim::Category { .. } | Dim::Raw { .. } => put_labels(rows, texts(batches, alias)?, alias),
    }
    Ok(())
}

fn put_numbers(rows: &mut [Row], values: Vec<Option<f64>>, field: &str) {
    for (row, value) in rows.iter_mut().zip(values) {
        let value = value
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number);
        row.insert(field.into(), value);
    }
}

fn put_labels(rows: &mut [Row], values: Vec<Option<String>>, field: &str) {
    for (row, value) in rows.iter_mut().zip(values) {
        row.insert(
            field.into(),
            Value::String(value.unwrap_or_else(|| "(null)".into())),
        );
    }
}

/// The row ranked past `top` holds every other value: say how many.
fn label_other(rows: &mut [Row], batches: &[RecordBatch], top: usize) -> Result<(), ChartError> {
    let ranks = numbers(batches, "rank")?;
    let groups = numbers(batches, "groups")?;
    for ((row, rank), groups) in rows.iter_mut().zip(ranks).zip(groups) {
        let rank = rank.unwrap_or_default();
        row.insert("rank".into(), json!(rank));
        if rank > top as f64 {
            let others = groups.unwrap_or_default() as u64 - top as u64;
            row.insert("x".into(), json!(format!("other ({others} more)")));
        }
    }
    Ok(())
}

/// The title a chart gets when the user gives none: what is measured, by what.
pub(crate) fn default_title(shape: &Shape) -> String {
    let axis = |dim: &Dim| match dim {
        Dim::Time { column, unit } => format!("{} of {}", unit.name(), column.name),
        Dim::Bins { column, step } => format!("{} (bins of {})", column.name, trim_number(*step)),
        Dim::Category { column, .. } | Dim::Raw { column } => column.name.clone(),
    };
    let per = |dim: &Dim| {
        if matches!(dim, Dim::Time { .. }) {
            "per"
        } else {
            "by"
        }
    };
    let mut title = match (&shape.y, &shape.measure) {
        (Some(Dim::Raw { column }), _) => {
            format!("{} against {}", column.name, shape.x.column().name)
        }
        (Some(y), Some(measure)) => {
            format!(
                "{} by {} and {}",
                shape.measure_label().unwrap_or_else(|| measure.label()),
                axis(&shape.x),
                axis(y)
            )
        }
        (_, Some(measure)) => format!(
            "{} {} {}",
            shape.measure_label().unwrap_or_else(|| measure.label()),
            per(&shape.x),
            axis(&shape.x)
        ),
        _ => axis(&shape.x),
    };
    if let Some(color) = &shape.color {
        title.push_str(&format!(", by {}", color.name));
    }
    if let Some(facet) = &shape.facet {
        title.push_str(&format!(", one chart per {}", facet.name));
    }
    title
}

/// "8.0 M rows → 744 hours": what the marks summarise, never hiding that
/// rows were left out.
pub(crate) fn summary(shape: &Shape, marks: usize) -> String {
    let noun = match (&shape.kind, &shape.x, &shape.y) {
        (_, _, Some(Dim::Raw { .. })) => "points".to_string(),
        (ChartKind::Heatmap, ..) => "cells".into(),
        (ChartKind::Pie, ..) => "slices".into(),
        (_, Dim::Time { unit, .. }, _) if shape.color.is_none() && shape.facet.is_none() => {
            format!("{}s", unit.name())
        }
        (ChartKind::Bar | ChartKind::Hist, Dim::Bins { .. }, _) if shape.color.is_none() => {
            "bins".into()
        }
        (ChartKind::Bar, Dim::Category { .. }, _) if shape.color.is_none() => "bars".into(),
        _ => "points".into(),
    };
    let rows = shape.stats.rows;
    let mut text = format!(
        "{} row{} → {} {noun}",
        compact(rows),
        if rows == 1 { "" } else { "s" },
        quarry_text::numbers::group_thousands(marks as u64)
    );
    let left_out = rows.saturating_sub(shape.stats.drawable);
    if left_out > 0 {
        let mut axes = vec![shape.x.column().name.as_str()];
        axes.extend(shape.y.as_ref().map(|y| y.column().name.as_str()));
        text.push_str(&format!(
            " · {} row{} with no {} left out",
            compact(left_out),
            if left_out == 1 { "" } else { "s" },
            axes.join(" or ")
        ));
    }
    if shape.binned_points {
        text.push_str(" · too many points for a scatter, so counted in bins");
    }
    text
}

fn trim_number(value: f64) -> String {
    let text = format!("{value}");
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}

/// Whether the x labels read level: Vega-Lite turns a category axis's
/// labels 90° by default, which a few short names do not need.
fn labels_fit_level(rows: &[Row]) -> bool {
    const MAX_LEVEL_LABELS: usize = 12;
    const MAX_LEVEL_CHARS: usize = 12;
    let mut labels: Vec<&str> = rows
        .iter()
        .filter_map(|row| row.get("x").and_then(Value::as_str))
        .collect();
    labels.sort_unstable();
    labels.dedup();
    labels.len() <= MAX_LEVEL_LABELS
        && labels
            .iter()
            .all(|label| label.chars().count() <= MAX_LEVEL_CHARS)
}

/// The Vega-Lite spec for `shape` drawn from `rows`.
pub(crate) fn spec(shape: &Shape, rows: Vec<Row>, title: &str, summary: &str) -> Value {
    let marks = rows.len();
    let (width, height) = if shape.facet.is_some() {
        (220, 160)
    } else {
        (520, 300)
    };
    let mut encoding = Map::new();
    let mark = match shape.kind {
        ChartKind::Pie => {
            pie_encoding(shape, &mut encoding);
            json!({"type": "arc", "tooltip": true})
        }
        kind => {
            axis_encoding(shape, &mut encoding);
            if matches!(shape.x, Dim::Category { .. }) && labels_fit_level(&rows) {
                encoding["x"]["axis"]["labelAngle"] = json!(0);
            }
            match kind {
                ChartKind::Line => json!({"type": "line", "tooltip": true, "point": marks <= 80}),
                ChartKind::Area => json!({"type": "area", "tooltip": true}),
                ChartKind::Heatmap => json!({"type": "rect", "tooltip": true}),
                ChartKind::Point if shape.measure.is_none() => {
                    json!({"type": "point", "tooltip": true, "filled": true, "opacity": 0.6})
                }
                _ => json!({"type": "bar", "tooltip": true}),
            }
        }
    };
    if let Some(facet) = &shape.facet {
        encoding.insert(
            "facet".into(),
            json!({"field": "facet", "type": "nominal", "columns": 3, "title": facet.name}),
        );
    }
    json!({
        "$schema": VEGA_LITE_SCHEMA,
        "title": {"text": title, "subtitle": summary},
        "data": {"values": rows},
        "mark": mark,
        "encoding": encoding,
        "width": width,
        "height": height,
        "usermeta": {"quarry": {
            "kind": shape.kind.name(),
            "rows": shape.stats.rows,
            "drawable": shape.stats.drawable,
            "marks": marks,
        }},
    })
}

fn pie_encoding(shape: &Shape, encoding: &mut Map<String, Value>) {
    let label = shape.measure_label().unwrap_or_default();
    let order = json!({"field": "rank", "op": "min", "order": "ascending"});
    encoding.insert(
        "theta".into(),
        json!({"field": "value", "type": "quantitative", "stack": true, "title": label}),
    );
    encoding.insert(
        "color".into(),
        json!({"field": "x", "type": "nominal", "title": shape.x.column().name, "sort": order}),
    );
    encoding.insert(
        "order".into(),
        json!({"field": "rank", "type": "quantitative", "sort": "ascending"}),
    );
}

fn axis_encoding(shape: &Shape, encoding: &mut Map<String, Value>) {
    let is_bar = matches!(
        shape.kind,
        ChartKind::Bar | ChartKind::Hist | ChartKind::Heatmap
    );
    position(encoding, "x", &shape.x, is_bar);
    match (&shape.y, &shape.measure) {
        (Some(y), measure) => {
            position(encoding, "y", y, is_bar);
            if measure.is_some() {
                encoding.insert(
                    "color".into(),
                    json!({"field": "value", "type": "quantitative", "title": shape.measure_label()}),
                );
            }
        }
        (None, Some(_)) => {
            encoding.insert(
                "y".into(),
                json!({"field": "value", "type": "quantitative", "title": shape.measure_label()}),
            );
        }
        (None, None) => {}
    }
    if let Some(color) = &shape.color {
        encoding.insert(
            "color".into(),
            json!({"field": "color", "type": "nominal", "title": color.name}),
        );
    }
}

/// One positional channel (`x` or `y`) for `dim`; bars get bands (a bin's
/// two edges, a time unit's width).
fn position(encoding: &mut Map<String, Value>, channel: &str, dim: &Dim, is_bar: bool) {
    let title = dim.column().name.clone();
    let value = match dim {
        Dim::Bins { step, .. } if is_bar => {
            encoding.insert(
                format!("{channel}2"),
                json!({"field": format!("{channel}_end")}),
            );
            json!({"field": channel, "type": "quantitative", "bin": {"binned": true, "step": step}, "title": title})
        }
        Dim::Bins { .. } => json!({"field": channel, "type": "quantitative", "title": title}),
        Dim::Time { unit, .. } if is_bar => {
            json!({"field": channel, "type": "temporal", "timeUnit": unit.vega(), "title": title})
        }
        Dim::Time { .. } => json!({"field": channel, "type": "temporal", "title": title}),
        Dim::Category { top: Some(_), .. } => json!({
            "field": channel, "type": "nominal", "title": title, "axis": {"labelLimit": 200},
            "sort": {"field": "rank", "op": "min", "order": "ascending"},
        }),
        Dim::Category { .. } => {
            json!({"field": channel, "type": "nominal", "title": title, "axis": {"labelLimit": 200}})
        }
        Dim::Raw { .. } => {
            json!({"field": channel, "type": "quantitative", "title": title, "scale": {"zero": false}})
        }
    };
    encoding.insert(channel.into(), value);
}
