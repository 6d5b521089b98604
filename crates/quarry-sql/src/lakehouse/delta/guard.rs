//! A Delta Lake folder defined as a Parquet (CSV, JSON) table gives wrong
//! answers.
//!
//! A Delta table's folder holds every Parquet file any version ever had;
//! its `_delta_log` says which are live. A listing table over the folder
//! counts the rows a DELETE, an UPDATE or an overwrite removed, silently,
//! so `CREATE EXTERNAL TABLE … STORED AS PARQUET` over such a folder is
//! refused in one sentence that names `STORED AS DELTATABLE`. (A query
//! naming the folder's URL reads it as Delta: see `url_tables`.)

use datafusion::error::DataFusionError;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};

use super::{DELTA_FILE_TYPE, DeltaLocation};
use crate::engine::SqlSession;

/// The S3 folder a non-Delta `CREATE EXTERNAL TABLE` defines a table over.
fn defined_folder(plan: &LogicalPlan) -> Option<&str> {
    let LogicalPlan::Ddl(DdlStatement::CreateExternalTable(create)) = plan else {
        return None;
    };
    if create.file_type.eq_ignore_ascii_case(DELTA_FILE_TYPE) {
        return None;
    }
    let [url] = create.locations.as_slice() else {
        return None;
    };
    let url = url.as_str();
    (url.starts_with("s3://") && url.ends_with('/')).then_some(url)
}

/// Refuses `plan` when it defines a listing table over a Delta folder.
/// One listing of at most one key; a folder S3 will not list is left to
/// the statement itself to report.
pub(crate) async fn refuse_delta_folders(
    session: &SqlSession,
    plan: &LogicalPlan,
) -> Result<(), DataFusionError> {
    let Some(url) = defined_folder(plan) else {
        return Ok(());
    };
    let Ok(location) = DeltaLocation::parse(url) else {
        return Ok(());
    };
    if location.has_log(&session.context().runtime_env()).await {
        return Err(DataFusionError::Plan(delta_refusal(url)));
    }
    Ok(())
}

fn delta_refusal(url: &str) -> String {
    format!(
        "The folder {url} is a Delta Lake table (it has a _delta_log folder): reading its files as plain files would count rows its log has deleted or replaced, so define it with STORED AS DELTATABLE instead"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::session::test_session;

    #[tokio::test]
    async fn the_folders_a_statement_reads_are_found() {
        let session = test_session();
        let plan = session
            .context()
            .state()
            .create_logical_plan(
                "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://data/delta/events/'",
            )
            .await
            .unwrap();
        assert_eq!(defined_folder(&plan), Some("s3://data/delta/events/"));
        let file = session
            .context()
            .state()
            .create_logical_plan(
                "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://data/one.parquet'",
            )
            .await
            .unwrap();
        assert!(defined_folder(&file).is_none());
        assert!(
            delta_refusal("s3://d/e/").starts_with("The folder s3://d/e/ is a Delta Lake table")
        );
    }
}
