//! Helpers shared by this crate's unit tests.

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;

/// Runs `sql` and prints its answer as a table.
pub(crate) async fn answer(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx
        .sql(sql)
        .await
        .expect("plans")
        .collect()
        .await
        .expect("runs");
    pretty_format_batches(&batches).expect("prints").to_string()
}
