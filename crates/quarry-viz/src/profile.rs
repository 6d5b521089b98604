//! `%profile`: what every column of a result holds, from two passes of
//! SQL in the engine that holds the data — one for counts, ranges,
//! moments and quartiles, one (grouping sets, a single scan) for every
//! column's histogram and most common values.

use arrow::record_batch::RecordBatch;

use crate::columns::{Column, Columns, Role};
use crate::draw::{DrawError, Engine};
use crate::plan::nice_step;
use crate::values::{numbers, single, texts};
use crate::{ChartError, Dialect};

/// Bins in a column's small histogram.
const SPARK_BINS: usize = 20;
/// Most common values shown per text column.
const TOP_VALUES: usize = 5;
/// Text columns with more values than this get no top values (they are
/// keys or free text; grouping them would cost more than it tells).
const MAX_GROUPED_VALUES: u64 = 10_000;
/// Columns profiled at most, so a very wide table stays one query.
pub const MAX_PROFILED_COLUMNS: usize = 64;

/// One column's profile.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct ColumnProfile {
    /// The column's name.
    pub name: String,
    /// Its Arrow type.
    pub data_type: String,
    /// Values that are not null.
    pub non_null: u64,
    /// Approximate number of different values (HyperLogLog).
    pub distinct: u64,
    /// The smallest and largest value, as the engine writes them.
    pub min: Option<String>,
    /// See `min`.
    pub max: Option<String>,
    /// Mean, standard deviation and approximate quartiles (numbers).
    pub mean: Option<f64>,
    /// See `mean`.
    pub std: Option<f64>,
    /// See `mean`.
    pub quartiles: Option<[f64; 3]>,
    /// Mean length (text).
    pub mean_length: Option<f64>,
    /// Most common values with their counts (text, booleans).
    pub top: Vec<(String, u64)>,
    /// `(start, end, count)` bins over the range (numbers; times in epoch seconds).
    pub histogram: Vec<(f64, f64, u64)>,
    /// "all null", "constant", "key?": what stands out.
    pub flags: Vec<&'static str>,
}

/// A result's profile.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Profile {
    /// Rows in the result.
    pub rows: u64,
    /// One profile per column, in order.
    pub columns: Vec<ColumnProfile>,
    /// Columns past [`MAX_PROFILED_COLUMNS`], not profiled.
    pub skipped: usize,
}

fn col(dialect: Dialect, column: &Column) -> String {
    format!("quarry_source.{}", dialect.quote(&column.name))
}

fn from(source: &str) -> String {
    format!(
        "FROM (\n{}\n) AS quarry_source",
        source.trim().trim_end_matches(';')
    )
}

fn as_number(dialect: Dialect, column: &Column) -> String {
    match column.role {
        Role::Time => {
            let ts = if column.is_date {
                format!("CAST({} AS TIMESTAMP)", col(dialect, column))
            } else {
                col(dialect, column)
            };
            dialect.epoch_seconds(&ts)
        }
        _ => format!("CAST({} AS DOUBLE)", col(dialect, column)),
    }
}

/// The first pass: per column count, distinct, range, moments, quartiles.
fn stats_sql(dialect: Dialect, source: &str, columns: &[Column]) -> String {
    let mut select = vec!["count(*) AS quarry_rows".to_string()];
    for (i, column) in columns.iter().enumerate() {
        let c = col(dialect, column);
        select.push(format!("count({c}) AS n_{i}"));
        if column.role == Role::Other {
            continue;
        }
        let distinct = match column.role {
            Role::Text if column.is_string => dialect.approx_distinct(&c),
            _ => dialect.approx_distinct(&format!("CAST({c} AS STRING)")),
        };
        select.push(format!("{distinct} AS d_{i}"));
        // A number's range comes from lo/hi below: DataFusion folds
        // `CAST(x AS DOUBLE)` of a double into `x`, and two `min(x)` in
        // one SELECT collide.
        if column.role != Role::Number {
            select.push(format!("CAST(min({c}) AS STRING) AS min_{i}"));
            select.push(format!("CAST(max({c}) AS STRING) AS max_{i}"));
        }
        match column.role {
            Role::Number => {
                let x = as_number(dialect, column);
                select.push(format!("min({x}) AS lo_{i}, max({x}) AS hi_{i}, avg({x}) AS mean_{i}, stddev({x}) AS std_{i}"));
                for (name, fraction) in [("p25", 0.25), ("p50", 0.5), ("p75", 0.75)] {
                    select.push(format!(
                        "{} AS {name}_{i}",
                        dialect.approx_percentile(&x, fraction)
                    ));
                }
            }
            Role::Time => {
                let x = as_number(dialect, column);
                select.push(format!("min({x}) AS lo_{i}, max({x}) AS hi_{i}"));
            }
            _ if column.is_string => {
                select.push(format!("avg(CAST(length({c}) AS DOUBLE)) AS len_{i}"))
            }
            _ => {}
        }
    }
    format!("SELECT {} {}", select.join(", "), from(source))
}

/// What the second pass groups for column `i`.
enum Grouping {
    Bins { step: f64 },
    Values,
}

fn groupings_sql(
    dialect: Dialect,
    source: &str,
    columns: &[Column],
    groups: &[(usize, Grouping)],
) -> String {
    let mut inner = Vec::new();
    let mut flags = Vec::new();
    let mut sets = Vec::new();
    for (i, grouping) in groups {
        let column = &columns[*i];
        let expr = match grouping {
            Grouping::Bins { step } => format!(
                "floor({} / {step:?}) * {step:?}",
                as_number(dialect, column)
            ),
            Grouping::Values => format!("CAST({} AS STRING)", col(dialect, column)),
        };
        inner.push(format!("{expr} AS g_{i}"));
        flags.push(format!("grouping(g_{i}) AS s_{i}"));
        sets.push(format!("(g_{i})"));
    }
    let keys: Vec<String> = groups.iter().map(|(i, _)| format!("g_{i}")).collect();
    format!(
        "SELECT {}, {}, count(*) AS quarry_n FROM (SELECT {} {}) AS quarry_groups GROUP BY GROUPING SETS ({})",
        flags.join(", "),
        keys.join(", "),
        inner.join(", "),
        from(source),
        sets.join(", ")
    )
}

/// Profiles the query `source` in `engine`.
pub async fn profile<E: Engine>(engine: &E, source: &str) -> Result<Profile, DrawError<E::Error>> {
    let dialect = engine.dialect();
    let (schema, _) = engine
        .query(&crate::sql::probe(source))
        .await
        .map_err(DrawError::Query)?;
    let all = Columns::from_schema(&schema);
    let columns: Vec<Column> = all.iter().take(MAX_PROFILED_COLUMNS).cloned().collect();
    if columns.is_empty() {
        return Err(ChartError::NothingToChart("the query returns no columns".into()).into());
    }
    let (_, batches) = engine
        .query(&stats_sql(dialect, source, &columns))
        .await
        .map_err(DrawError::Query)?;
    let mut profile = read_stats(&batches, &columns, &schema)?;
    profile.skipped = all.iter().count().saturating_sub(columns.len());
    let groups = plan_groupings(&profile, &columns, &batches)?;
    if !groups.is_empty() {
        let (_, grouped) = engine
            .query(&groupings_sql(dialect, source, &columns, &groups))
            .await
            .map_err(DrawError::Query)?;
        read_groupings(&mut profile, &groups, &grouped)?;
    }
    for (profiled, column) in profile.columns.iter_mut().zip(&columns) {
        // Measurements (floats, times) are unique per row without being keys.
        let keyable = column.is_integer || column.is_string;
        profiled.flags = flags(profiled, profile.rows, keyable);
    }
    Ok(profile)
}

fn read_stats(
    batches: &[RecordBatch],
    columns: &[Column],
    schema: &arrow::datatypes::Schema,
) -> Result<Profile, ChartError> {
    let number = |name: String| -> Result<Option<f64>, ChartError> {
        match batches.first().and_then(|b| b.column_by_name(&name)) {
            Some(_) => single(batches, &name),
            None => Ok(None),
        }
    };
    let text = |name: String| -> Result<Option<String>, ChartError> {
        match batches.first().and_then(|b| b.column_by_name(&name)) {
            Some(_) => Ok(texts(batches, &name)?.into_iter().next().flatten()),
            None => Ok(None),
        }
    };
    let rows = number("quarry_rows".into())?.unwrap_or_default() as u64;
    let mut profiles = Vec::new();
    for (i, column) in columns.iter().enumerate() {
        let quartiles = match (
            number(format!("p25_{i}"))?,
            number(format!("p50_{i}"))?,
            number(format!("p75_{i}"))?,
        ) {
            (Some(a), Some(b), Some(c)) => Some([a, b, c]),
            _ => None,
        };
        let range = |name: String| -> Result<Option<String>, ChartError> {
            Ok(match column.role {
                Role::Number => {
                    number(name.replace("min_", "lo_").replace("max_", "hi_"))?.map(|v| {
                        if column.is_integer {
                            format!("{}", v as i64)
                        } else {
                            format!("{v}")
                        }
                    })
                }
                _ => text(name)?,
            })
        };
        profiles.push(ColumnProfile {
            name: column.name.clone(),
            data_type: schema.field(i).data_type().to_string(),
            non_null: number(format!("n_{i}"))?.unwrap_or_default() as u64,
            distinct: number(format!("d_{i}"))?.unwrap_or_default() as u64,
            min: range(format!("min_{i}"))?,
            max: range(format!("max_{i}"))?,
            mean: number(format!("mean_{i}"))?,
            std: number(format!("std_{i}"))?,
            quartiles,
            mean_length: number(format!("len_{i}"))?,
            ..ColumnProfile::default()
        });
    }
    Ok(Profile {
        rows,
        columns: profiles,
        skipped: 0,
    })
}

fn plan_groupings(
    profile: &Profile,
    columns: &[Column],
    stats: &[RecordBatch],
) -> Result<Vec<(usize, Grouping)>, ChartError> {
    let mut groups = Vec::new();
    for (i, (column, profiled)) in columns.iter().zip(&profile.columns).enumerate() {
        if profiled.non_null == 0 {
            continue;
        }
        match column.role {
            Role::Number | Role::Time => {
                let lo = single(stats, &format!("lo_{i}"))?.unwrap_or_default();
                let hi = single(stats, &format!("hi_{i}"))?.unwrap_or_default();
                let integer = column.is_integer || column.role == Role::Time;
                groups.push((
                    i,
                    Grouping::Bins {
                        step: nice_step(hi - lo, SPARK_BINS, integer),
                    },
                ));
            }
            Role::Text if profiled.distinct <= MAX_GROUPED_VALUES => {
                groups.push((i, Grouping::Values))
            }
            _ => {}
        }
    }
    Ok(groups)
}

fn read_groupings(
    profile: &mut Profile,
    groups: &[(usize, Grouping)],
    batches: &[RecordBatch],
) -> Result<(), ChartError> {
    let counts = numbers(batches, "quarry_n")?;
    for (i, grouping) in groups {
        let member = numbers(batches, &format!("s_{i}"))?;
        let rows = member
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == Some(0.0))
            .map(|(r, _)| r);
        let target = &mut profile.columns[*i];
        match grouping {
            Grouping::Bins { step } => {
                let starts = numbers(batches, &format!("g_{i}"))?;
                let mut bins: Vec<(f64, f64, u64)> = rows
                    .filter_map(|r| {
                        starts[r].map(|s| (s, s + step, counts[r].unwrap_or_default() as u64))
                    })
                    .collect();
                bins.sort_by(|a, b| a.0.total_cmp(&b.0));
                target.histogram = bins;
            }
            Grouping::Values => {
                let values = texts(batches, &format!("g_{i}"))?;
                let mut top: Vec<(String, u64)> = rows
                    .filter_map(|r| {
                        values[r]
                            .clone()
                            .map(|v| (v, counts[r].unwrap_or_default() as u64))
                    })
                    .collect();
                top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                top.truncate(TOP_VALUES);
                target.top = top;
            }
        }
    }
    Ok(())
}

/// What stands out about a column: no values, one value, or (about) one
/// value per row — a key.
fn flags(column: &ColumnProfile, rows: u64, keyable: bool) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if rows > 0 && column.non_null == 0 {
        flags.push("all null");
    } else if column.distinct == 1 {
        flags.push("constant");
    } else if keyable
        && rows >= 100
        && column.non_null == rows
        && column.distinct as f64 >= 0.97 * rows as f64
    {
        flags.push("key?");
    }
    flags
}
