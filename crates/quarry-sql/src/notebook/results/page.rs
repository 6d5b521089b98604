//! One page of a held result: sorted, filtered and sliced by DataFusion
//! over the held batches, so only the rows asked for leave the kernel.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{Expr, SortExpr, cast, lit};
use serde::Deserialize;

use crate::engine::SqlSession;
use crate::engine::error::SqlError;

/// The most rows one page request may ask for.
pub const MAX_PAGE_ROWS: usize = 1000;

/// What a frontend asks of a held result.
#[derive(Debug, Clone, Deserialize, PartialEq, ts_rs::TS)]
#[serde(deny_unknown_fields)]
#[ts(rename = "PageQuery")]
pub struct PageRequest {
    /// Sort keys, most significant first.
    #[serde(default)]
    pub sort: Vec<SortKey>,
    /// Filters, all of which a row must pass.
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// The first row (0-based) of the page in the sorted, filtered order.
    #[serde(default)]
    #[ts(type = "number")]
    pub offset: usize,
    /// Rows in the page (at most [`MAX_PAGE_ROWS`]).
    #[serde(default = "default_limit")]
    #[ts(type = "number")]
    pub limit: usize,
}

fn default_limit() -> usize {
    100
}

impl Default for PageRequest {
    /// The first 100 rows in the result's own order.
    fn default() -> Self {
        PageRequest {
            sort: Vec::new(),
            filters: Vec::new(),
            offset: 0,
            limit: default_limit(),
        }
    }
}

/// One sort key.
#[derive(Debug, Clone, Deserialize, PartialEq, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct SortKey {
    /// The column's name as the result shows it.
    pub column: String,
    /// Largest first.
    #[serde(default)]
    pub descending: bool,
}

/// One filter on one column.
#[derive(Debug, Clone, Deserialize, PartialEq, ts_rs::TS)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// The column's name as the result shows it.
    pub column: String,
    /// The comparison.
    pub op: FilterOp,
    /// The value compared with, as typed (read as the column's type);
    /// not used by the null tests.
    #[serde(default)]
    #[ts(optional)]
    pub value: Option<String>,
}

/// The comparisons a grid filter offers.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, ts_rs::TS)]
pub enum FilterOp {
    /// Equal.
    #[serde(rename = "=")]
    Eq,
    /// Not equal.
    #[serde(rename = "!=")]
    NotEq,
    /// Less than.
    #[serde(rename = "<")]
    Lt,
    /// Less than or equal.
    #[serde(rename = "<=")]
    LtEq,
    /// Greater than.
    #[serde(rename = ">")]
    Gt,
    /// Greater than or equal.
    #[serde(rename = ">=")]
    GtEq,
    /// The value's text contains the given text, ignoring case.
    #[serde(rename = "contains")]
    Contains,
    /// No value.
    #[serde(rename = "is null")]
    IsNull,
    /// Any value.
    #[serde(rename = "is not null")]
    IsNotNull,
}

/// Rows of one page and how many rows the filters leave.
#[derive(Debug, Clone)]
pub struct Page {
    /// The result's columns.
    pub schema: SchemaRef,
    /// The page's rows.
    pub batches: Vec<RecordBatch>,
    /// The page's first row in the filtered, sorted order.
    pub offset: usize,
    /// Rows passing the filters (the whole result when there are none).
    pub matching_rows: u64,
    /// Rows of the whole result.
    pub total_rows: u64,
}

/// Why a page could not be given.
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    /// The kernel that made the result has restarted since.
    #[error(
        "This result is gone: the kernel restarted since it was computed. Run the cell again to explore it."
    )]
    Restarted,
    /// The store dropped it to make room for newer results.
    #[error(
        "This result is no longer kept: newer results needed its memory. Run the cell again to explore it."
    )]
    Dropped,
    /// The request names a column or value that does not fit the result.
    #[error("{0}")]
    Request(String),
    /// DataFusion failed to compute the page.
    #[error("{}", .0.message)]
    Query(#[source] SqlError),
}

impl ResultError {
    /// Whether the result itself is gone (the grid then stops asking).
    pub fn is_gone(&self) -> bool {
        matches!(self, ResultError::Restarted | ResultError::Dropped)
    }
}

/// The grid's sort keys as DataFusion's, missing values last either way
/// (as spreadsheets do).
fn sort_exprs(schema: &SchemaRef, keys: &[SortKey]) -> Result<Vec<SortExpr>, ResultError> {
    keys.iter()
        .map(|key| {
            column(schema, &key.column).map(|(expr, _)| SortExpr {
                expr,
                asc: !key.descending,
                nulls_first: false,
            })
        })
        .collect()
}

impl SqlSession {
    /// The page `request` asks of held result `id`.
    pub async fn result_page(&self, id: &str, request: &PageRequest) -> Result<Page, ResultError> {
        if request.limit > MAX_PAGE_ROWS {
            return Err(ResultError::Request(format!(
                "A page may hold at most {MAX_PAGE_ROWS} rows; {} were asked for.",
                request.limit
            )));
        }
        let held = self.results().get(id)?;
        let total_rows: u64 = held.batches.iter().map(|b| b.num_rows() as u64).sum();
        // Unsorted pages keep the result's own order, which only one lane
        // preserves: DataFusion would otherwise split the held batches
        // across partitions and interleave them. A sort may use every core.
        let session = if request.sort.is_empty() {
            self.in_one_lane()
        } else {
            self.clone()
        };
        let ctx = session.context();
        let lanes = ctx.state().config().target_partitions();
        let table = MemTable::try_new(Arc::clone(&held.schema), spread(&held.batches, lanes))
            .map_err(|e| ResultError::Query(self.explain(&e, "the held result")))?;
        let query_failed = |e| ResultError::Query(self.explain(&e, "the grid's page"));
        let mut frame = ctx.read_table(Arc::new(table)).map_err(query_failed)?;
        let mut matching_rows = total_rows;
        if !request.filters.is_empty() {
            for filter in &request.filters {
                frame = frame
                    .filter(filter_expr(&held.schema, filter)?)
                    .map_err(query_failed)?;
            }
            matching_rows = frame.clone().count().await.map_err(query_failed)? as u64;
        }
        if !request.sort.is_empty() {
            let keys = sort_exprs(&held.schema, &request.sort)?;
            frame = frame.sort(keys).map_err(query_failed)?;
        }
        let batches = frame
            .limit(request.offset, Some(request.limit))
            .map_err(query_failed)?
            .collect()
            .await
            .map_err(query_failed)?;
        Ok(Page {
            schema: held.schema,
            batches,
            offset: request.offset,
            matching_rows,
            total_rows,
        })
    }
}

/// The held batches dealt round-robin into `n` partitions, so sorting and
/// filtering use every core.
fn spread(batches: &[RecordBatch], n: usize) -> Vec<Vec<RecordBatch>> {
    let n = n.clamp(1, batches.len().max(1));
    let mut partitions = vec![Vec::new(); n];
    for (i, batch) in batches.iter().enumerate() {
        partitions[i % n].push(batch.clone());
    }
    partitions
}

fn column<'a>(schema: &'a SchemaRef, name: &str) -> Result<(Expr, &'a DataType), ResultError> {
    match schema.fields().iter().find(|f| f.name() == name) {
        Some(field) => Ok((
            Expr::Column(Column::new_unqualified(name)),
            field.data_type(),
        )),
        None => Err(ResultError::Request(format!(
            "The result has no column '{name}'; it has {}.",
            schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn filter_expr(schema: &SchemaRef, filter: &Filter) -> Result<Expr, ResultError> {
    let (column_expr, data_type) = column(schema, &filter.column)?;
    let value = || {
        filter.value.as_deref().ok_or_else(|| {
            ResultError::Request(format!(
                "The filter on '{}' needs a value to compare with.",
                filter.column
            ))
        })
    };
    let typed = |text: &str| -> Result<Expr, ResultError> {
        if data_type.is_nested() {
            return Err(ResultError::Request(format!(
                "'{}' holds nested values, which only 'contains', 'is null' and 'is not null' can filter.",
                filter.column
            )));
        }
        ScalarValue::try_from_string(text.to_string(), data_type)
            .map(lit)
            .map_err(|_| {
                ResultError::Request(format!(
                    "'{text}' is not a value of '{}', whose type is {data_type}.",
                    filter.column
                ))
            })
    };
    Ok(match filter.op {
        FilterOp::IsNull => column_expr.is_null(),
        FilterOp::IsNotNull => column_expr.is_not_null(),
        FilterOp::Contains => {
            let pattern = format!("%{}%", escape_like(value()?));
            cast(column_expr, DataType::Utf8).ilike(lit(pattern))
        }
        FilterOp::Eq => column_expr.eq(typed(value()?)?),
        FilterOp::NotEq => column_expr.not_eq(typed(value()?)?),
        FilterOp::Lt => column_expr.lt(typed(value()?)?),
        FilterOp::LtEq => column_expr.lt_eq(typed(value()?)?),
        FilterOp::Gt => column_expr.gt(typed(value()?)?),
        FilterOp::GtEq => column_expr.gt_eq(typed(value()?)?),
    })
}

/// `50%_off` → `50\%\_off`: the user's text matched literally.
pub(super) fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
