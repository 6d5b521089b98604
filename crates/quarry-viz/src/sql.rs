//! The SQL a chart runs, around the user's query as a subquery: one
//! statistics pass, then one aggregation whose rows are the marks.

use crate::Aggregate;
use crate::Dialect;
use crate::columns::{Column, Role};
use crate::plan::{Choice, Dim, Measure, Shape};

/// The user's query as a subquery. It goes on lines of its own so a
/// trailing `-- comment` cannot swallow the closing parenthesis.
fn from(source: &str) -> String {
    let source = source.trim().trim_end_matches(';');
    format!("FROM (\n{source}\n) AS quarry_source")
}

/// The result's columns without reading its rows.
pub(crate) fn probe(source: &str) -> String {
    format!("SELECT * {} LIMIT 0", from(source))
}

fn col(dialect: Dialect, column: &Column) -> String {
    format!("quarry_source.{}", dialect.quote(&column.name))
}

fn number(dialect: Dialect, column: &Column) -> String {
    format!("CAST({} AS DOUBLE)", col(dialect, column))
}

fn timestamp(dialect: Dialect, column: &Column) -> String {
    if column.is_date {
        format!("CAST({} AS TIMESTAMP)", col(dialect, column))
    } else {
        col(dialect, column)
    }
}

/// Rows, rows with every positional value, and per column the range
/// (numbers, times) or the approximate number of values (text): what
/// [`crate::plan::finish`] needs to pick bins and check colours.
pub(crate) fn stats(dialect: Dialect, source: &str, choice: &Choice) -> String {
    let mut select = vec!["count(*) AS rows".to_string()];
    let positional: Vec<String> = choice
        .positional()
        .iter()
        .map(|c| format!("{} IS NOT NULL", col(dialect, c)))
        .collect();
    select.push(if positional.is_empty() {
        "count(*) AS drawable".into()
    } else {
        format!(
            "sum(CASE WHEN {} THEN 1 ELSE 0 END) AS drawable",
            positional.join(" AND ")
        )
    });
    let groups: Vec<&str> = choice
        .color
        .iter()
        .map(|(c, _)| c)
        .chain(&choice.facet)
        .map(|c| c.name.as_str())
        .collect();
    for (index, column) in choice.columns().into_iter().enumerate() {
        let value = match column.role {
            Role::Time => dialect.epoch_seconds(&timestamp(dialect, column)),
            _ => number(dialect, column),
        };
        match column.role {
            Role::Number | Role::Time => {
                select.push(format!("min({value}) AS min_{index}"));
                select.push(format!("max({value}) AS max_{index}"));
            }
            _ => {
                select.push(format!("NULL AS min_{index}"));
                select.push(format!("NULL AS max_{index}"));
            }
        }
        // Distinct values matter only where values become groups; engines
        // count them for text and integers, so anything else goes as text.
        let distinct = match column.role {
            Role::Text => dialect.approx_distinct(&col(dialect, column)),
            _ if groups.contains(&column.name.as_str()) => {
                dialect.approx_distinct(&format!("CAST({} AS STRING)", col(dialect, column)))
            }
            _ => "0".into(),
        };
        select.push(format!("{distinct} AS distinct_{index}"));
    }
    format!("SELECT {} {}", select.join(", "), from(source))
}

fn dim_expr(dialect: Dialect, dim: &Dim) -> String {
    match dim {
        Dim::Bins { column, step } => {
            let step = format!("{step:?}");
            format!("floor({} / {step}) * {step}", number(dialect, column))
        }
        Dim::Time { column, unit } => {
            format!(
                "date_trunc('{}', {})",
                unit.name(),
                timestamp(dialect, column)
            )
        }
        Dim::Raw { column } if column.role == Role::Number => number(dialect, column),
        Dim::Category { column, .. } | Dim::Raw { column } => col(dialect, column),
    }
}

fn measure_expr(dialect: Dialect, measure: &Measure) -> String {
    match (&measure.column, measure.aggregate) {
        (None, _) => "count(*)".into(),
        (Some(column), Aggregate::Count) => format!("count({})", col(dialect, column)),
        (Some(column), aggregate) => format!("{}({})", aggregate.name(), number(dialect, column)),
    }
}

/// The named dimensions of `shape`: (alias, dimension), x first.
fn dims(shape: &Shape) -> Vec<(&'static str, Dim)> {
    let mut dims = vec![("x", shape.x.clone())];
    if let Some(y) = &shape.y {
        dims.push(("y", y.clone()));
    }
    if let Some(color) = &shape.color {
        dims.push((
            "color",
            Dim::Category {
                column: color.clone(),
                top: None,
            },
        ));
    }
    if let Some(facet) = &shape.facet {
        dims.push((
            "facet",
            Dim::Category {
                column: facet.clone(),
                top: None,
            },
        ));
    }
    dims
}

/// Rows without a value on a binned or time axis are left out (they have
/// no position); the summary counts them.
fn where_positional(dialect: Dialect, shape: &Shape) -> String {
    let conditions: Vec<String> = dims(shape)
        .iter()
        .filter(|(alias, dim)| matches!(alias, &"x" | &"y") && !matches!(dim, Dim::Category { .. }))
        .map(|(_, dim)| format!("{} IS NOT NULL", col(dialect, dim.column())))
        .collect();
    if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    }
}

/// The query whose rows are the chart's marks.
pub(crate) fn chart(dialect: Dialect, source: &str, shape: &Shape) -> String {
    let dims = dims(shape);
    let Some(measure) = &shape.measure else {
        let select: Vec<String> = dims
            .iter()
            .map(|(alias, dim)| format!("{} AS {alias}", dim_expr(dialect, dim)))
            .collect();
        return format!(
            "SELECT {} {}{}",
            select.join(", "),
            from(source),
            where_positional(dialect, shape)
        );
    };
    if let Dim::Category { top: Some(top), .. } = &shape.x {
        return top_n(dialect, source, shape, &dims, measure, *top);
    }
    let exprs: Vec<String> = dims.iter().map(|(_, dim)| dim_expr(dialect, dim)).collect();
    let select: Vec<String> = exprs
        .iter()
        .zip(&dims)
        .map(|(e, (alias, _))| format!("{e} AS {alias}"))
        .collect();
    format!(
        "SELECT {}, {} AS value {}{} GROUP BY {}",
        select.join(", "),
        measure_expr(dialect, measure),
        from(source),
        where_positional(dialect, shape),
        exprs.join(", ")
    )
}

/// Partial aggregates per group, how they combine across groups, and the
/// same combination as a window over each x value. Every aggregate a
/// chart offers decomposes this way, which is what makes an exact "other"
/// bar possible.
fn partials(dialect: Dialect, measure: &Measure) -> (String, String, String) {
    let value = measure.column.as_ref().map(|c| number(dialect, c));
    let over = "OVER (PARTITION BY x)";
    match (measure.aggregate, value) {
        (Aggregate::Count, _) => (
            format!("{} AS p_n", measure_expr(dialect, measure)),
            "sum(p_n)".into(),
            format!("sum(p_n) {over}"),
        ),
        (Aggregate::Avg, Some(value)) => (
            format!("sum({value}) AS p_s, count({value}) AS p_n"),
            "sum(p_s) / NULLIF(CAST(sum(p_n) AS DOUBLE), 0)".into(),
            format!("sum(p_s) {over} / NULLIF(CAST(sum(p_n) {over} AS DOUBLE), 0)"),
        ),
        (aggregate, value) => {
            let combine = match aggregate {
                Aggregate::Min => "min",
                Aggregate::Max => "max",
                _ => "sum",
            };
            (
                format!(
                    "{}({}) AS p_v",
                    aggregate.name(),
                    value.unwrap_or_else(|| "1".into())
                ),
                format!("{combine}(p_v)"),
                format!("{combine}(p_v) {over}"),
            )
        }
    }
}

/// Bars (or slices) for the `top` largest x values by the measure, and one
/// more for all the others together, with `rank` for the order and
/// `groups` (in the "other" row) for how many values it holds.
fn top_n(
    dialect: Dialect,
    source: &str,
    shape: &Shape,
    dims: &[(&str, Dim)],
    measure: &Measure,
    top: usize,
) -> String {
    let (partial, combine, window) = partials(dialect, measure);
    let exprs: Vec<String> = dims.iter().map(|(_, dim)| dim_expr(dialect, dim)).collect();
    let select: Vec<String> = exprs
        .iter()
        .zip(dims)
        .map(|(e, (alias, _))| format!("{e} AS {alias}"))
        .collect();
    let others: Vec<&str> = dims.iter().skip(1).map(|(alias, _)| *alias).collect();
    let label = format!("CASE WHEN rn <= {top} THEN x END");
    let rank = format!("CASE WHEN rn <= {top} THEN rn ELSE {} END", top + 1);
    let mut group_by = vec![label.clone(), rank.clone()];
    group_by.extend(others.iter().map(|o| o.to_string()));
    let others_select: String = others.iter().map(|o| format!(", {o}")).collect();
    format!(
        "WITH quarry_groups AS (SELECT {select}, {partial} {from}{filter} GROUP BY {exprs}), \
quarry_totals AS (SELECT quarry_groups.*, {window} AS x_total FROM quarry_groups), \
quarry_ranked AS (SELECT quarry_totals.*, dense_rank() OVER (ORDER BY x_total DESC NULLS LAST, x ASC NULLS LAST) AS rn FROM quarry_totals) \
SELECT {label} AS x, {rank} AS rank{others_select}, {combine} AS value, max(rn) AS groups FROM quarry_ranked GROUP BY {group_by}",
        select = select.join(", "),
        from = from(source),
        filter = where_positional(dialect, shape),
        exprs = exprs.join(", "),
        group_by = group_by.join(", "),
    )
}
