//! Drawing a chart: three queries through an [`Engine`], then the spec.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use serde_json::Value;

use crate::columns::Columns;
use crate::plan::{self, ColumnStats, Stats};
use crate::values::{numbers, single};
use crate::{ChartError, ChartRequest, Dialect, sql};

/// Where a chart's queries run: the engine that holds the data.
#[async_trait]
pub trait Engine: Send + Sync {
    /// The engine's own failures (bad SQL, S3 errors, a stopped session).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Which SQL dialect to write.
    fn dialect(&self) -> Dialect;

    /// Runs `sql` and returns every row.
    async fn query(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), Self::Error>;
}

/// Why [`draw`] failed: the chart as asked, or the engine running it.
#[derive(Debug, thiserror::Error)]
pub enum DrawError<E: std::error::Error + 'static> {
    /// The chart cannot be drawn as asked.
    #[error(transparent)]
    Chart(#[from] ChartError),
    /// The engine failed to run one of the chart's queries (the user's
    /// query included: it runs as their subquery).
    #[error(transparent)]
    Query(E),
}

/// A drawn chart and its text stand-in for frontends without Vega-Lite.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The Vega-Lite v5 spec ([`crate::VEGA_LITE_MIME`]).
    pub spec: Value,
    /// The chart's title.
    pub title: String,
    /// What the chart summarises: "8.0 M rows → 744 hours".
    pub summary: String,
}

impl Chart {
    /// A text stand-in: what the chart shows and its first marks.
    pub fn plain(&self) -> String {
        let mut text = format!("{} — {}\n", self.title, self.summary);
        let values = self.values();
        for row in values.iter().take(12) {
            text.push_str(&format!("  {}\n", describe_row(row)));
        }
        if values.len() > 12 {
            text.push_str(&format!("  … {} more\n", values.len() - 12));
        }
        text
    }

    fn values(&self) -> &[Value] {
        self.spec["data"]["values"]
            .as_array()
            .map_or(&[], Vec::as_slice)
    }
}

fn describe_row(row: &Value) -> String {
    let Some(fields) = row.as_object() else {
        return String::new();
    };
    fields
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "rank" | "x_end" | "y_end"))
        .map(|(key, value)| match value {
            Value::String(s) => format!("{key}={s}"),
            other => format!("{key}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Charts the query `source` (SQL in `engine`'s dialect) as `request`
/// asks: binning and aggregation run in `engine` over every row.
pub async fn draw<E: Engine>(
    engine: &E,
    source: &str,
    request: &ChartRequest,
) -> Result<Chart, DrawError<E::Error>> {
    let dialect = engine.dialect();
    let (schema, _) = engine
        .query(&sql::probe(source))
        .await
        .map_err(DrawError::Query)?;
    let choice = plan::choose(request, &Columns::from_schema(&schema))?;
    let (_, batches) = engine
        .query(&sql::stats(dialect, source, &choice))
        .await
        .map_err(DrawError::Query)?;
    let stats = read_stats(&batches, choice.columns().len())?;
    let shape = plan::finish(choice, stats)?;
    let (_, batches) = engine
        .query(&sql::chart(dialect, source, &shape))
        .await
        .map_err(DrawError::Query)?;
    let rows = crate::spec::rows(&shape, &batches)?;
    let title = shape
        .title
        .clone()
        .unwrap_or_else(|| crate::spec::default_title(&shape));
    let summary = crate::spec::summary(&shape, rows.len());
    let spec = crate::spec::spec(&shape, rows, &title, &summary);
    Ok(Chart {
        spec,
        title,
        summary,
    })
}

fn read_stats(batches: &[RecordBatch], columns: usize) -> Result<Stats, ChartError> {
    let count = |name: &str| single(batches, name).map(|v| v.unwrap_or_default() as u64);
    let mut stats = Stats {
        rows: count("rows")?,
        drawable: count("drawable")?,
        columns: Vec::new(),
    };
    for index in 0..columns {
        stats.columns.push(ColumnStats {
            min: numbers(batches, &format!("min_{index}"))?
                .first()
                .copied()
                .flatten(),
            max: numbers(batches, &format!("max_{index}"))?
                .first()
                .copied()
                .flatten(),
            distinct: count(&format!("distinct_{index}"))?,
        });
    }
    Ok(stats)
}
