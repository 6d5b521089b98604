//! Running a cell: several statements, the last one's rows kept for display.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use futures::StreamExt;

use crate::engine::SqlSession;
use crate::engine::error::{ErrorContext, ErrorKind, SqlError};
use crate::engine::execution::Execution;
use crate::notebook::results::Held;

/// Live counters a cell updates while it runs, read by whoever shows
/// progress (the kernel polls it; nothing here knows about displays).
#[derive(Debug)]
pub struct CellProgress {
    started: Instant,
    rows: AtomicU64,
    statement: AtomicUsize,
    statements: AtomicUsize,
}

impl Default for CellProgress {
    fn default() -> Self {
        CellProgress {
            started: Instant::now(),
            rows: AtomicU64::new(0),
            statement: AtomicUsize::new(0),
            statements: AtomicUsize::new(0),
        }
    }
}

impl CellProgress {
    /// Time since the cell started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Rows produced so far by the statement now running.
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    /// `(current, total)` statement numbers, 1-based.
    pub fn statement(&self) -> (usize, usize) {
        (
            self.statement.load(Ordering::Relaxed),
            self.statements.load(Ordering::Relaxed),
        )
    }
}

/// The rows of one statement: the first `max_rows` kept, all counted.
#[derive(Debug, Clone)]
pub struct StatementResult {
    /// The statement's columns.
    pub schema: SchemaRef,
    /// The rows kept (at most `max_rows`).
    pub batches: Vec<RecordBatch>,
    /// Every row the statement produced, kept or not.
    pub total_rows: u64,
    /// Whether the result store holds every row (the last statement of a
    /// cell only), for the grid.
    pub held: Option<Held>,
}

/// What a cell produced.
#[derive(Debug, Clone)]
pub struct CellOutcome {
    /// The last statement's rows, or `None` when it returns no columns
    /// (DDL such as `CREATE EXTERNAL TABLE`).
    pub result: Option<StatementResult>,
    /// How many statements ran.
    pub statements: usize,
    /// How long they took together.
    pub elapsed: Duration,
    /// The last statement's text when it is a query, so it can run again
    /// inside another (a chart's aggregation of the whole result).
    pub query: Option<String>,
}

/// One statement of a cell, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementText {
    /// The statement, without its `;`.
    pub text: String,
    /// Whether it is a query (`SELECT`, `WITH`, `VALUES`…), which can be
    /// used as a subquery.
    pub is_query: bool,
}

fn is_query(statement: &datafusion::sql::parser::Statement) -> bool {
    use datafusion::sql::parser::Statement as DfStatement;
    use datafusion::sql::sqlparser::ast::Statement;
    matches!(statement, DfStatement::Statement(s) if matches!(**s, Statement::Query(_)))
}

impl SqlSession {
    /// Runs every `;`-separated statement of `sql` in order and keeps the
    /// last statement's first `max_rows` rows.
    ///
    /// Dropping the returned future cancels the query: DataFusion's streams
    /// stop their partitions when dropped.
    pub async fn run_cell(
        &self,
        sql: &str,
        max_rows: usize,
        progress: Arc<CellProgress>,
    ) -> Result<CellOutcome, SqlError> {
        self.run_statements(sql, max_rows, progress, false).await
    }

    /// [`SqlSession::run_cell`] for a cell a person ran: the last
    /// statement's rows are also kept in the [`ResultStore`](crate::notebook::ResultStore)
    /// for the grid. Quarry's own queries (the catalog, previews, charts)
    /// use `run_cell` so they never push a user's results out.
    pub async fn run_notebook_cell(
        &self,
        sql: &str,
        max_rows: usize,
        progress: Arc<CellProgress>,
    ) -> Result<CellOutcome, SqlError> {
        self.run_statements(sql, max_rows, progress, true).await
    }

    async fn run_statements(
        &self,
        sql: &str,
        max_rows: usize,
        progress: Arc<CellProgress>,
        hold: bool,
    ) -> Result<CellOutcome, SqlError> {
        let started = Instant::now();
        let statements = self.parse(sql)?;
        let count = statements.len();
        progress.statements.store(count, Ordering::Relaxed);
        let mut result = None;
        let mut query = None;
        for (index, statement) in statements.into_iter().enumerate() {
            progress.statement.store(index + 1, Ordering::Relaxed);
            progress.rows.store(0, Ordering::Relaxed);
            let text = statement.to_string();
            query = is_query(&statement).then(|| text.clone());
            let last = index + 1 == count;
            let keep = if last { max_rows } else { 0 };
            result = match self
                .run_statement(statement, keep, hold && last, &progress)
                .await
            {
                Ok(result) => result,
                Err(e) => return Err(self.explain_after_failure(&e, &text).await),
            };
        }
        Ok(CellOutcome {
            result,
            statements: count,
            elapsed: started.elapsed(),
            query,
        })
    }

    /// The statements of `sql` as text, parsed (and depth-checked) as
    /// [`SqlSession::run_cell`] would.
    pub fn statements(&self, sql: &str) -> Result<Vec<StatementText>, SqlError> {
        Ok(self
            .parse(sql)?
            .iter()
            .map(|statement| StatementText {
                text: statement.to_string(),
                is_query: is_query(statement),
            })
            .collect())
    }

    pub(crate) async fn run_statement(
        &self,
        mut statement: datafusion::sql::parser::Statement,
        keep_rows: usize,
        hold: bool,
        progress: &CellProgress,
    ) -> Result<Option<StatementResult>, DataFusionError> {
        let ctx = self.context();
        if let Some(create) = crate::lakehouse::delta::CreateAs::of(&statement) {
            return self.create_delta_as(create?, progress).await;
        }
        // Old versions of Delta tables the statement reads, registered
        // until it ends.
        let _pinned = crate::lakehouse::delta::TimeTravel::prepare(ctx, &mut statement).await?;
        let plan = ctx.state().statement_to_plan(statement).await?;
        let plan = self
            .parameters()
            .bind(plan)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        crate::lakehouse::delta::refuse_delta_folders(self, &plan).await?;
        let execution = Execution::of(&plan);
        let run = self.drain(ctx, plan, keep_rows, hold, progress);
        match execution {
            Execution::Plain => run.await,
            Execution::Catalog(change) => {
                crate::lakehouse::catalog::ddl::run_change(self, change, run).await
            }
            Execution::DeltaCommit => crate::lakehouse::delta::run_commit(self, run).await,
            Execution::Staged(destination) => {
                crate::engine::writes::run_staged(self, destination, run).await
            }
        }
    }

    /// Runs `plan` to its end, keeping the first `keep_rows` rows (and,
    /// with `hold`, all of them for the grid).
    async fn drain(
        &self,
        ctx: &datafusion::prelude::SessionContext,
        plan: datafusion::logical_expr::LogicalPlan,
        keep_rows: usize,
        hold: bool,
        progress: &CellProgress,
    ) -> Result<Option<StatementResult>, DataFusionError> {
        let frame = ctx.execute_logical_plan(plan).await?;
        let mut stream = frame.execute_stream().await?;
        let schema = stream.schema();
        let mut batches = Vec::new();
        let mut kept = 0usize;
        let mut total = 0u64;
        let mut holding = (hold && !schema.fields().is_empty()).then(|| self.results().start());
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            total += batch.num_rows() as u64;
            if let Some(holding) = holding.as_mut() {
                holding.push(&batch);
            }
            progress.rows.store(total, Ordering::Relaxed);
            if kept < keep_rows && batch.num_rows() > 0 {
                let take = (keep_rows - kept).min(batch.num_rows());
                batches.push(batch.slice(0, take));
                kept += take;
            }
        }
        if schema.fields().is_empty() {
            return Ok(None);
        }
        let held = holding.map(|holding| self.results().finish(Arc::clone(&schema), holding));
        Ok(Some(StatementResult {
            schema,
            batches,
            total_rows: total,
            held,
        }))
    }

    fn error_context<'a>(&self, statement: &'a str) -> ErrorContext<'a> {
        ErrorContext {
            statement,
            endpoint: self.s3().settings().endpoint_display(),
            memory_words: self.memory_in_words(),
        }
    }

    pub(crate) fn explain(&self, err: &DataFusionError, statement: &str) -> SqlError {
        SqlError::from_datafusion(err, &self.error_context(statement))
    }

    /// Like [`Self::explain`], but when DataFusion reports a missing table
    /// for a statement that names S3 files, asks S3 what is really wrong.
    /// A write that failed also says that nothing was written.
    async fn explain_after_failure(&self, err: &DataFusionError, statement: &str) -> SqlError {
        let (err, note) = crate::engine::writes::unpublished(err).unwrap_or((err, None));
        let explained = self.explain(err, statement);
        let ctx = self.error_context(statement);
        let copies = statement
            .trim_start()
            .get(..4)
            .is_some_and(|w| w.eq_ignore_ascii_case("COPY"));
        let reason = match explained.kind {
            ErrorKind::MissingTable { .. } => {
                crate::engine::diagnose::unreadable_url(self, &ctx).await
            }
            _ if crate::engine::error::failed_decoding_parquet(err) => {
                crate::engine::diagnose::mixed_formats(self, &ctx).await
            }
            // The query's own failure (a division by zero, a bad cast) is
            // the reason; only a failed write is worth asking S3 about.
            ErrorKind::Execution if copies && !crate::engine::error::failed_computing(err) => {
                crate::engine::diagnose::unwritable_destination(self, &ctx).await
            }
            _ => None,
        };
        let mut explained = reason.unwrap_or(explained);
        if let Some(note) = note {
            explained.message = format!("{} {note}", explained.message.trim_end());
        }
        explained
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{engine::ErrorKind, engine::MemoryBudget, engine::SessionOptions};
    use quarry_s3::{Env, S3Stores};

    fn session() -> SqlSession {
        session_with_memory("1g")
    }

    fn session_with_memory(limit: &str) -> SqlSession {
        let s3 = Arc::new(S3Stores::from_env(&Env::from_pairs([])));
        SqlSession::new(
            s3,
            &SessionOptions {
                memory: MemoryBudget::of(
                    quarry_text::numbers::parse_byte_size(limit).expect("a size"),
                ),
                target_partitions: Some(2),
                pod: None,
                spill: None,
                catalog: None,
            },
        )
        .unwrap()
    }

    #[tokio::test]
    async fn last_statement_wins_and_rows_are_capped_but_counted() {
        let s = session();
        let outcome = s
            .run_cell(
                "CREATE TABLE t AS SELECT * FROM generate_series(1, 1000) AS g(x); SELECT x FROM t ORDER BY x",
                10,
                Arc::default(),
            )
            .await
            .unwrap();
        assert_eq!(outcome.statements, 2);
        let result = outcome.result.unwrap();
        assert_eq!(result.total_rows, 1000);
        let shown: usize = result.batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(shown, 10);
        assert_eq!(s.table_names(), vec!["t".to_string()]);
    }

    #[test]
    fn statements_are_split_and_queries_told_apart() {
        let texts = session()
            .statements("CREATE VIEW v AS SELECT 1 AS one; SELECT one FROM v ;")
            .unwrap();
        assert_eq!(texts.len(), 2);
        assert!(!texts[0].is_query);
        assert!(texts[1].is_query);
        assert_eq!(texts[1].text, "SELECT one FROM v");
    }

    async fn one_value(s: &SqlSession, sql: &str) -> String {
        let outcome = s
            .run_cell(sql, 10, Arc::default())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {}", e.message));
        let result = outcome.result.unwrap();
        datafusion::arrow::util::display::array_value_to_string(result.batches[0].column(0), 0)
            .unwrap()
    }

    #[tokio::test]
    async fn parameters_are_bound_as_typed_values_never_as_sql() {
        let s = session();
        s.run_cell(
            "CREATE TABLE t AS SELECT * FROM (VALUES ('Lyon', DATE '2024-05-01', 3), ('x''; DROP TABLE t; --', DATE '2024-06-01', 4)) AS v(city, day, n)",
            0,
            Arc::default(),
        )
        .await
        .unwrap();
        let p = s.parameters();
        p.set("city", "\"x'; DROP TABLE t; --\"").unwrap();
        assert_eq!(
            one_value(&s, "SELECT count(*) FROM t WHERE city = $city").await,
            "1"
        );
        assert_eq!(
            s.table_names(),
            vec!["t".to_string()],
            "the table is still there"
        );
        // A date compares as a date (2024-05-15 < 2024-06-01 but > '2024-05-1…' as text would differ).
        p.set("since", "2024-05-15").unwrap();
        assert_eq!(
            one_value(&s, "SELECT min(day) FROM t WHERE day >= $since").await,
            "2024-06-01"
        );
        assert_eq!(one_value(&s, "SELECT arrow_typeof($since)").await, "Date32");
        p.set("n", "3").unwrap();
        assert_eq!(
            one_value(&s, "SELECT city FROM t WHERE n = $n").await,
            "Lyon"
        );
        p.set("cities", "['Lyon', 'Paris']").unwrap();
        assert_eq!(
            one_value(&s, "SELECT count(*) FROM t WHERE array_has($cities, city)").await,
            "1"
        );
        // Parameters work in CREATE TABLE … AS as well.
        s.run_cell(
            "CREATE TABLE u AS SELECT * FROM t WHERE n > $n",
            0,
            Arc::default(),
        )
        .await
        .unwrap();
        assert_eq!(one_value(&s, "SELECT count(*) FROM u").await, "1");
    }

    #[tokio::test]
    async fn an_unset_parameter_names_the_set_ones() {
        let s = session();
        s.parameters().set("city", "'Lyon'").unwrap();
        let err = s
            .run_cell("SELECT $town", 10, Arc::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Parameter);
        assert_eq!(
            err.message,
            "The query uses $town, which is not set; set: $city (%set name = value sets one)."
        );
        assert!(s.parameters().unset("city"));
        let err = s
            .run_cell("SELECT $1", 10, Arc::default())
            .await
            .unwrap_err();
        assert!(err.message.contains("positional $1"), "{}", err.message);
    }

    #[tokio::test]
    async fn ddl_produces_no_table() {
        let s = session();
        let outcome = s
            .run_cell("CREATE VIEW v AS SELECT 1 AS one", 10, Arc::default())
            .await
            .unwrap();
        assert!(outcome.result.is_none());
    }

    #[tokio::test]
    async fn syntax_errors_are_explained() {
        let err = session()
            .run_cell("SELEC 1", 10, Arc::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Syntax);
        assert!(err.message.starts_with("Syntax error"), "{}", err.message);
        assert!(!err.message.contains('\n'));
    }

    #[tokio::test]
    async fn unknown_columns_name_the_valid_ones() {
        let err = session()
            .run_cell("SELECT nope FROM (SELECT 1 AS one)", 10, Arc::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Plan);
        assert!(err.message.contains("nope"), "{}", err.message);
    }

    #[tokio::test]
    async fn a_query_larger_than_the_budget_fails_cleanly() {
        let s = session_with_memory("8m");
        let err = s
            .run_cell(
                "SELECT a.value, count(*) FROM generate_series(1, 3000000) a GROUP BY a.value ORDER BY 2 DESC",
                10,
                Arc::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Memory, "{}", err.message);
        assert!(err.message.contains("8.0 MiB"), "{}", err.message);
    }
}
