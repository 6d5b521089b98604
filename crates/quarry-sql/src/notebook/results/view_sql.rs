//! The grid's view as SQL: the query behind a held result, narrowed to the
//! grid's filters and put in its sort order, as text a user reads in the
//! cell the grid's Chart, Profile and Export buttons insert.
//!
//! Column names are quoted and values are literals (quotes doubled, LIKE
//! wildcards escaped), so nothing typed into a filter becomes SQL. Numbers
//! are written bare only after they parse as numbers.

use datafusion::arrow::datatypes::SchemaRef;

use super::page::{Filter, FilterOp, PageRequest, ResultError, SortKey};
use crate::engine::SqlSession;

/// The SQL dialect the view is written in: the engine that ran the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewDialect {
    /// DataFusion: `"name"`, standard string literals.
    DataFusion,
    /// Spark SQL: `` `name` ``, and `\` escapes inside string literals.
    Spark,
}

impl ViewDialect {
    fn identifier(self, name: &str) -> String {
        match self {
            ViewDialect::DataFusion => format!("\"{}\"", name.replace('"', "\"\"")),
            ViewDialect::Spark => format!("`{}`", name.replace('`', "``")),
        }
    }

    fn string(self, text: &str) -> String {
        let text = match self {
            ViewDialect::DataFusion => text.to_string(),
            ViewDialect::Spark => text.replace('\\', "\\\\"),
        };
        format!("'{}'", text.replace('\'', "''"))
    }
}

impl SqlSession {
    /// `query` narrowed and ordered as the grid over held result `id` shows
    /// it (its filters and sort; paging is left out); `query` itself when
    /// the grid shows the whole result in its own order. Fails as a page
    /// request would: a result that is gone, a column it does not have.
    pub fn grid_view_sql(
        &self,
        id: &str,
        query: &str,
        view: &PageRequest,
        dialect: ViewDialect,
    ) -> Result<String, ResultError> {
        let held = self.results().get(id)?;
        view_sql(&held.schema, query, view, dialect)
    }
}

fn view_sql(
    schema: &SchemaRef,
    query: &str,
    view: &PageRequest,
    dialect: ViewDialect,
) -> Result<String, ResultError> {
    let query = query.trim().trim_end_matches(';').trim_end();
    if view.filters.is_empty() && view.sort.is_empty() {
        return Ok(query.to_string());
    }
    let mut sql = format!("SELECT * FROM (\n{query}\n) AS shown");
    let conditions = view
        .filters
        .iter()
        .map(|filter| condition(schema, filter, dialect))
        .collect::<Result<Vec<_>, _>>()?;
    if !conditions.is_empty() {
        sql.push_str("\nWHERE ");
        sql.push_str(&conditions.join("\n  AND "));
    }
    if !view.sort.is_empty() {
        let keys = view
            .sort
            .iter()
            .map(|key| sort_key(schema, key, dialect))
            .collect::<Result<Vec<_>, _>>()?;
        sql.push_str("\nORDER BY ");
        sql.push_str(&keys.join(", "));
    }
    Ok(sql)
}

fn known_column(schema: &SchemaRef, name: &str) -> Result<bool, ResultError> {
    match schema.fields().iter().find(|f| f.name() == name) {
        Some(field) => Ok(field.data_type().is_numeric()),
        None => Err(ResultError::Request(format!(
            "The result has no column '{name}'."
        ))),
    }
}

fn sort_key(
    schema: &SchemaRef,
    key: &SortKey,
    dialect: ViewDialect,
) -> Result<String, ResultError> {
    known_column(schema, &key.column)?;
    let order = if key.descending { "DESC" } else { "ASC" };
    // Missing values last either way, as the grid sorts them.
    Ok(format!(
        "{} {order} NULLS LAST",
        dialect.identifier(&key.column)
    ))
}

fn condition(
    schema: &SchemaRef,
    filter: &Filter,
    dialect: ViewDialect,
) -> Result<String, ResultError> {
    let numeric = known_column(schema, &filter.column)?;
    let column = dialect.identifier(&filter.column);
    let value = || {
        filter.value.as_deref().ok_or_else(|| {
            ResultError::Request(format!(
                "The filter on '{}' needs a value to compare with.",
                filter.column
            ))
        })
    };
    let literal = |text: &str| -> String {
        let text = text.trim();
        if numeric && text.parse::<f64>().is_ok_and(f64::is_finite) {
            text.to_string()
        } else {
            dialect.string(text)
        }
    };
    let compare = |op: &str| -> Result<String, ResultError> {
        Ok(format!("{column} {op} {}", literal(value()?)))
    };
    match filter.op {
        FilterOp::IsNull => Ok(format!("{column} IS NULL")),
        FilterOp::IsNotNull => Ok(format!("{column} IS NOT NULL")),
        FilterOp::Contains => Ok(format!(
            "CAST({column} AS STRING) ILIKE {}",
            dialect.string(&format!("%{}%", super::page::escape_like(value()?)))
        )),
        FilterOp::Eq => compare("="),
        FilterOp::NotEq => compare("<>"),
        FilterOp::Lt => compare("<"),
        FilterOp::LtEq => compare("<="),
        FilterOp::Gt => compare(">"),
        FilterOp::GtEq => compare(">="),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("site", DataType::Utf8, true),
            Field::new("temp \"c\"", DataType::Float64, true),
        ]))
    }

    fn filter(column: &str, op: FilterOp, value: Option<&str>) -> Filter {
        Filter {
            column: column.into(),
            op,
            value: value.map(Into::into),
        }
    }

    #[test]
    fn the_whole_result_is_the_query_itself() {
        let view = PageRequest::default();
        let sql = view_sql(&schema(), "SELECT 1;\n", &view, ViewDialect::DataFusion).unwrap();
        assert_eq!(sql, "SELECT 1");
    }

    #[test]
    fn filters_are_literals_and_names_are_quoted() {
        let view = PageRequest {
            filters: vec![
                filter("site", FilterOp::Eq, Some("x'; DROP TABLE t; --")),
                filter("temp \"c\"", FilterOp::Gt, Some("5")),
                filter("temp \"c\"", FilterOp::Lt, Some("1); DELETE")),
                filter("site", FilterOp::Contains, Some("50%_off")),
                filter("site", FilterOp::IsNotNull, None),
            ],
            sort: vec![SortKey {
                column: "temp \"c\"".into(),
                descending: true,
            }],
            ..PageRequest::default()
        };
        let sql = view_sql(&schema(), "SELECT * FROM t", &view, ViewDialect::DataFusion).unwrap();
        assert_eq!(
            sql,
            "SELECT * FROM (\nSELECT * FROM t\n) AS shown\nWHERE \"site\" = 'x''; DROP TABLE t; --'\n  AND \"temp \"\"c\"\"\" > 5\n  AND \"temp \"\"c\"\"\" < '1); DELETE'\n  AND CAST(\"site\" AS STRING) ILIKE '%50\\%\\_off%'\n  AND \"site\" IS NOT NULL\nORDER BY \"temp \"\"c\"\"\" DESC NULLS LAST"
        );
        let spark = view_sql(&schema(), "SELECT * FROM t", &view, ViewDialect::Spark).unwrap();
        assert!(
            spark.contains("`site` = 'x''; DROP TABLE t; --'"),
            "{spark}"
        );
        assert!(spark.contains("ILIKE '%50\\\\%\\\\_off%'"), "{spark}");
    }

    #[test]
    fn unknown_columns_are_refused() {
        let view = PageRequest {
            filters: vec![filter("nope", FilterOp::IsNull, None)],
            ..PageRequest::default()
        };
        let error = view_sql(&schema(), "SELECT 1", &view, ViewDialect::Spark).unwrap_err();
        assert_eq!(error.to_string(), "The result has no column 'nope'.");
    }
}
